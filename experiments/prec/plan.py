"""What a PREC run costs before it is started (``pluralign prec plan``): cells, PPO steps, CPU-hours from
a measured PPO throughput, and the wall time on N machines.

* Cells: one per (K, replicate) of one (env, teacher) run: ``len(Ks) * n_seeds``.
* Policies: at most ``sum(Ks)`` per replicate (empty clusters train none; K = 30 trains 30).
* PPO steps: ``policies * ppo.total_timesteps`` for the cluster policies, plus the offline agents'
  ``len(target_velocities) * offline.ppo.total_timesteps`` (cached: shared by every teacher and replicate
  of one env, profile and seed) and ``eval_episodes`` episodes of each policy (1000 steps each, or the
  smoke cap; counted at the PPO rate, an upper bound: evaluation does no gradient step).
* Throughput: :func:`measure_ppo` trains the profile's PPO on a learned reward of the profile's sizes (an
  untrained SPR encoder of ``config.spr`` and one cluster decoder of ``config.decoder``, through the real
  :class:`pluralign.rl.reward.LearnedRewardVecEnv`) for a few rollouts in this process, one torch thread,
  and divides the steps by the process CPU time (and, for reference, by the wall time). CPU time is
  the right measure on a shared machine (another job's load lengthens the wall time but not this
  process's CPU seconds); a stored measurement can be passed instead (``steps_per_cpu_s``).
* Wall time: every policy is one single-CPU task (:func:`pluralign.runs.map_unordered`, Ray tasks declare
  ``num_cpus = ppo.torch_threads``); with ``slots = machines * cpus_per_machine // num_cpus`` the tasks of
  equal length finish in ``ceil(tasks / slots)`` waves (offline agents first, then the policies).
  SPR pretraining and leaky EM (minutes) are not counted.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

__all__ = ["measure_ppo", "plan", "stand_in_reward"]


def stand_in_reward(config, env_id: str, seed: int = 0):
    """A learned reward of ``config``'s sizes (untrained SPR encoder + one cluster decoder, weights from
    ``pluralign.seeding.torch_generator(seed, "plan", ...)``): what a cluster policy's PPO evaluates
    every step, for measuring throughput."""
    from pluralign.experiments.prec.pipeline import cluster_decoder
    from pluralign.prec.decoders import ClusterDecoders
    from pluralign.rl.envs import make_env
    from pluralign.rl.reward import EncoderDecoderReward
    from pluralign.rl.spr import SPREncoder
    from pluralign.seeding import torch_generator

    env = make_env(env_id)
    od, ad = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    enc = SPREncoder(od, ad, config.spr, generator=torch_generator(seed, "plan", "encoder")).eval().requires_grad_(False)
    dec = ClusterDecoders(1, config.spr.latent_dim, config.decoder.n_hidden, generator=torch_generator(seed, "plan", "decoder"))
    return EncoderDecoderReward(enc, cluster_decoder(dec, 0))


def measure_ppo(config, env_id: str, rollouts: int = 2, seed: int = 0) -> dict:
    """Train ``config.ppo`` on :func:`stand_in_reward` for ``rollouts`` rollouts (``rollouts * n_steps *
    n_envs`` steps) in this process; returns steps, CPU and wall seconds and steps per CPU-second."""
    ppo = replace(config.ppo, total_timesteps=int(rollouts) * config.ppo.n_steps * config.ppo.n_envs)
    from pluralign.rl.ppo import train_ppo

    reward = stand_in_reward(config, env_id, seed)
    c0 = time.process_time()
    _, wall = train_ppo(env_id, ppo, seed, reward_fn=reward, max_episode_steps=config.offline.max_episode_steps)
    cpu = time.process_time() - c0
    return {"steps": ppo.total_timesteps, "cpu_seconds": cpu, "wall_seconds": wall,
            "steps_per_cpu_s": ppo.total_timesteps / cpu, "steps_per_wall_s": ppo.total_timesteps / wall}


def plan(config, steps_per_cpu_s: float, machines: int = 1, cpus_per_machine: int = 2, runs: int = 1) -> dict:
    """The cost of ``runs`` runs of ``config`` (each one env and one teacher) at ``steps_per_cpu_s`` PPO
    steps per CPU-second, and their wall time on ``machines`` machines of ``cpus_per_machine`` CPUs."""
    for name, v in (("machines", machines), ("cpus_per_machine", cpus_per_machine), ("runs", runs)):
        if int(v) < 1:
            raise ValueError(f"{name}: must be >= 1, got {v}")
    if not (float(steps_per_cpu_s) > 0) or not math.isfinite(float(steps_per_cpu_s)):
        raise ValueError(f"steps_per_cpu_s: must be a positive number, got {steps_per_cpu_s}")
    runs = int(runs)
    ep_len = config.offline.max_episode_steps or 1000
    cells = len(config.Ks) * config.n_seeds
    policies = sum(int(K) for K in config.Ks) * config.n_seeds
    # the reference policies (pipeline.REFERENCES): two trained (true mean reward, env reward) and two
    # evaluated only, per replicate; counted per run, an upper bound (runs of one env, population and seed share them)
    from pluralign.experiments.prec.pipeline import REFERENCES, TRAINED_REFERENCES

    refs = len(TRAINED_REFERENCES) * config.n_seeds
    policy_steps = policies * config.ppo.total_timesteps
    ref_steps = refs * config.ppo.total_timesteps
    eval_steps = (policies + len(REFERENCES) * config.n_seeds) * config.eval_episodes * ep_len
    agents = len(config.offline.target_velocities)
    offline_steps = agents * config.offline.ppo.total_timesteps
    cpus_per_task = max(1, int(config.ppo.torch_threads))
    slots = max(1, int(machines) * int(cpus_per_machine) // cpus_per_task)
    policy_hours = config.ppo.total_timesteps / float(steps_per_cpu_s) / 3600
    agent_hours = config.offline.ppo.total_timesteps / float(steps_per_cpu_s) / 3600
    total_steps = runs * (policy_steps + ref_steps + eval_steps) + offline_steps  # one offline cache per env and seed
    waves = math.ceil(runs * (policies + refs) / slots)
    agent_waves = math.ceil(agents / slots)
    return {
        "profile": config.profile, "env": config.env, "runs": runs, "cells_per_run": cells, "cells": runs * cells,
        "policies_per_run": policies, "policies": runs * policies, "ppo_steps_per_policy": config.ppo.total_timesteps,
        "policy_ppo_steps": runs * policy_steps, "evaluation_steps": runs * eval_steps,
        "reference_policies": runs * refs, "reference_ppo_steps": runs * ref_steps,
        "offline_agents": agents, "offline_ppo_steps": offline_steps, "total_steps": total_steps,
        "steps_per_cpu_s": float(steps_per_cpu_s),
        "cpu_hours": total_steps / float(steps_per_cpu_s) / 3600,
        "machines": int(machines), "cpus_per_machine": int(cpus_per_machine), "slots": slots,
        "wall_hours": agent_waves * agent_hours + waves * policy_hours, "policy_waves": waves,
    }
