"""PPO throughput with PREC's learned-reward wrapper (seed 000, Sec. 3.3) against the same PPO on the
environment's own reward, and against raw environment steps/s.

The learned reward is the real thing at the quick profile's sizes: a (randomly initialised) SPR encoder
(pluralign.rl.spr, 128 wide, 32-d latent) and a linear cluster decoder
(:func:`pluralign.experiments.prec.plan.stand_in_reward`), evaluated in one batch over the vectorized envs by
pluralign.rl.reward.LearnedRewardVecEnv.

The sweep line: a K = 10 sweep of the pipeline's shape, ten cluster policies (each its own learned reward,
``--sweep-steps`` PPO steps on ``--n-envs`` vectorized envs), trained one after another in this process and
then as parallel processes (:func:`pluralign.runs.map_unordered`, ``--jobs`` local processes, worker start-up
included); it prints the policy-steps/s of both and their ratio (goal >= 1.8 on 2 CPUs). On a shared
machine both lines are contended; re-measure on an idle one.

Run: ``OMP_NUM_THREADS=1 python benchmarks/ppo_reward.py [--env HalfCheetah-v5] [--steps 16384] [--n-envs 8]
[--sweep-steps 8192] [--jobs 2]``. The ratio lines are the goals (learned-reward / env-reward PPO >= 0.9;
parallel / sequential sweep >= 1.8 on 2 CPUs).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from pluralign.experiments.prec.config import make_config
from pluralign.experiments.prec.plan import stand_in_reward
from pluralign.rl.envs import make_env
from pluralign.rl.ppo import PPOConfig, train_ppo
from pluralign.runs import map_unordered
from pluralign.seeding import derive


def raw_env_steps_per_s(env_id: str, n: int, seed: int = 0) -> float:
    env = make_env(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    acts = [env.action_space.sample() for _ in range(n)]
    t0 = time.perf_counter()
    for a in acts:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    return n / (time.perf_counter() - t0)


def sweep_policy(env_id: str, cfg: PPOConfig, k: int) -> float:
    """One cluster policy of the benchmark sweep: PPO on cluster k's stand-in learned reward (runs in a
    worker); returns its PPO seconds."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    reward = stand_in_reward(make_config("quick", env_id), env_id, seed=k)
    return train_ppo(env_id, cfg, seed=k, reward_fn=reward)[1]


def sweep_steps_per_s(env_id: str, cfg: PPOConfig, K: int, jobs: int) -> float:
    """Policy-steps/s of a K-policy sweep: K * steps / wall seconds of the whole sweep (``jobs`` = 1: one after
    another in this process; > 1: that many local processes, start-up included)."""
    t0 = time.perf_counter()
    list(map_unordered(sweep_policy, [(env_id, cfg, k) for k in range(K)], n_jobs=jobs))
    return K * cfg.total_timesteps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="HalfCheetah-v5")
    ap.add_argument("--steps", type=int, default=16384)
    ap.add_argument("--n-envs", type=int, default=8)
    ap.add_argument("--sweep-K", type=int, default=10)
    ap.add_argument("--sweep-steps", type=int, default=8192)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    cfg = PPOConfig(total_timesteps=args.steps, n_envs=args.n_envs, n_steps=256, batch_size=256, n_epochs=5)

    raw = raw_env_steps_per_s(args.env, args.steps)
    env = make_env(args.env)
    od, ad = env.observation_space.shape[0], env.action_space.shape[0]
    # the quick profile's sizes: SPR encoder 128 wide, 32-d latent, a linear cluster decoder
    reward = stand_in_reward(make_config("quick", args.env), args.env, seed=0)
    g = derive(0, "benchmark")
    o = g.standard_normal((args.n_envs, od))
    a = g.uniform(-1, 1, (args.n_envs, ad))
    t0 = time.perf_counter()
    for _ in range(1000):
        reward(o, a)
    per_call_us = (time.perf_counter() - t0) / 1000 * 1e6

    _, t_env = train_ppo(args.env, cfg, seed=0)
    _, t_learned = train_ppo(args.env, cfg, seed=0, reward_fn=reward)
    env_sps, learned_sps = args.steps / t_env, args.steps / t_learned
    print(f"env={args.env} n_envs={args.n_envs} steps={args.steps} torch_threads=1")
    print(f"raw env steps/s (1 env, random actions):     {raw:10.0f}")
    print(f"learned reward, one batched call ({args.n_envs} envs):   {per_call_us:8.1f} us")
    print(f"PPO steps/s on env reward:                  {env_sps:10.0f}")
    print(f"PPO steps/s with learned-reward wrapper:    {learned_sps:10.0f}")
    print(f"PPO(env reward) / raw env:                  {env_sps / raw:10.3f}")
    print(f"ratio learned-reward PPO / env-reward PPO: {learned_sps / env_sps:.3f}")
    scfg = PPOConfig(total_timesteps=args.sweep_steps, n_envs=args.n_envs, n_steps=256, batch_size=256, n_epochs=5)
    seq = sweep_steps_per_s(args.env, scfg, args.sweep_K, 1)
    par = sweep_steps_per_s(args.env, scfg, args.sweep_K, args.jobs)
    print(f"K={args.sweep_K} sweep policy-steps/s, one after another:  {seq:10.0f}  ({args.sweep_steps} steps per policy)")
    print(f"K={args.sweep_K} sweep policy-steps/s, {args.jobs} processes:       {par:10.0f}  (os.cpu_count()={os.cpu_count()})")
    print(f"ratio parallel / sequential K={args.sweep_K} sweep: {par / seq:.3f}")


if __name__ == "__main__":
    main()
