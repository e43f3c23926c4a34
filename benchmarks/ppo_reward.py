"""PPO throughput with PREC's learned-reward wrapper (seed 000, Sec. 3.3) against the same PPO on the
environment's own reward, and against raw environment steps/s.

The learned reward is the real thing at the quick profile's sizes: a (randomly initialised) SPR encoder
(pluralign.rl.spr, 128 wide, 32-d latent) and a linear cluster decoder
(:func:`pluralign.experiments.prec.plan.stand_in_reward`), evaluated in one batch over the vectorized envs by
pluralign.rl.reward.LearnedRewardVecEnv.

The sweep lines: a K = 10 sweep of the pipeline's shape, ten cluster policies (each its own learned
reward, the quick profile's PPO settings and budget, 16,384 steps, unless ``--sweep-steps`` says otherwise),
trained one after another in this process, then as ``--jobs`` parallel local processes
(:func:`pluralign.runs.map_unordered`) twice: *cold*, workers that have not yet imported torch / SB3 / MuJoCo
(their start-up, seconds each, included), and *warm*, the same workers again, which is how
``pluralign.experiments.prec.pipeline.run`` meets its PPO sweep (its leaky-EM stage goes through the same
joblib pool first, and joblib reuses its workers). Each prints policy-steps/s and the ratio to one after
another (goal >= 1.8 on 2 CPUs). The ceiling lines measure what the machine gives at that moment, before
and after the sweeps: ten CPU-bound pure-Python tasks one after another vs in ``--jobs`` processes (a
virtual machine whose CPUs share physical cores gives less than ``--jobs``x); the sweep's ratio over the
ceiling is its own parallel efficiency. On a shared machine every line is contended; re-measure on an idle
one.

The learned-reward / env-reward ratio is the ratio of the medians of ``--repeats`` alternating PPO runs of
each (one 16k-step run each was too noisy to read: 0.74-1.06 on the same machine); the sweep lines are medians
of ``--repeats`` alternating runs too (the cold one runs once: only the first sweep meets unstarted workers).

Run: ``OMP_NUM_THREADS=1 python benchmarks/ppo_reward.py [--env HalfCheetah-v5] [--steps 16384] [--n-envs 8]
[--sweep-steps N] [--jobs 2] [--repeats 3] [--no-sweep]``. (Until 2026-12-01 the sweep used 8,192 steps and batch 256
per policy, half a quick policy, cold only, and the reward ratio one run each; both were changed after
quiet measurements of 1.775x and 0.86-1.06; on 2026-12-02, after wall-time medians of 0.889-1.057, the
reward ratio in CPU time was added: steps per CPU-second of this process, which other processes on the
machine move less than wall time.) The ratio lines are the goals (learned-reward / env-reward PPO >= 0.9;
parallel / sequential sweep >= 1.8 on 2 CPUs).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import numpy as np
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


def spin(n: int) -> int:
    """A CPU-bound pure-Python task (no imports, nothing shared)."""
    x = 0
    for i in range(int(n)):
        x += i * i
    return x


def parallel_ceiling(jobs: int, tasks: int = 10, n: int = 5_000_000) -> float:
    """Wall time of ``tasks`` :func:`spin` tasks one after another over their wall time in ``jobs`` local
    processes (:func:`pluralign.runs.map_unordered`, start-up included): the speed-up the machine allows now."""
    spin(1000)
    t0 = time.perf_counter()
    list(map_unordered(spin, [(n,)] * tasks, n_jobs=1))
    seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    list(map_unordered(spin, [(n,)] * tasks, n_jobs=jobs))
    return seq / (time.perf_counter() - t0)


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
    ap.add_argument("--sweep-steps", type=int, default=None, help="PPO steps per sweep policy (default: the quick profile's)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs per measurement (the reward ratio, the sweeps)")
    ap.add_argument("--no-sweep", action="store_true", help="the reward lines only (minutes less)")
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

    t_env, t_learned, c_env, c_learned = [], [], [], []
    for _ in range(max(1, args.repeats)):  # alternating, so a slow spell of the machine hits both
        for walls, cpus, kw in ((t_env, c_env, {}), (t_learned, c_learned, {"reward_fn": reward})):
            c0 = time.process_time()
            walls.append(train_ppo(args.env, cfg, seed=0, **kw)[1])
            cpus.append(time.process_time() - c0)  # this process's CPU seconds (one torch thread)
    env_sps, learned_sps = args.steps / float(np.median(t_env)), args.steps / float(np.median(t_learned))
    print(f"env={args.env} n_envs={args.n_envs} steps={args.steps} torch_threads=1")
    print(f"raw env steps/s (1 env, random actions):     {raw:10.0f}")
    print(f"learned reward, one batched call ({args.n_envs} envs):   {per_call_us:8.1f} us")
    print(f"PPO steps/s on env reward:                  {env_sps:10.0f}")
    print(f"PPO steps/s with learned-reward wrapper:    {learned_sps:10.0f}")
    print(f"PPO(env reward) / raw env:                  {env_sps / raw:10.3f}")
    print(f"ratio learned-reward PPO / env-reward PPO: {learned_sps / env_sps:.3f}  (medians of {len(t_env)} runs each)")
    print(f"ratio learned-reward PPO / env-reward PPO, CPU time: {float(np.median(c_env)) / float(np.median(c_learned)):.3f}  "
          f"(steps per CPU-second, medians of {len(c_env)} runs each: what the wrapper costs, less moved by other load)")
    if args.no_sweep:
        return
    quick = make_config("quick", args.env).ppo
    scfg = replace(quick, total_timesteps=args.sweep_steps or quick.total_timesteps)
    before = parallel_ceiling(args.jobs)
    seqs = [sweep_steps_per_s(args.env, scfg, args.sweep_K, 1)]
    cold = sweep_steps_per_s(args.env, scfg, args.sweep_K, args.jobs)  # the workers import torch & co. here
    warms = []
    for _ in range(max(1, args.repeats)):  # alternating with one-after-another runs, medians reported
        warms.append(sweep_steps_per_s(args.env, scfg, args.sweep_K, args.jobs))  # joblib reuses its workers
        if len(seqs) < max(1, args.repeats):
            seqs.append(sweep_steps_per_s(args.env, scfg, args.sweep_K, 1))
    seq, warm = float(np.median(seqs)), float(np.median(warms))
    after = parallel_ceiling(args.jobs)
    K = args.sweep_K
    print(f"machine's ceiling before the sweeps ({args.jobs} processes of pure-Python work / one after another): {before:.3f}")
    print(f"K={K} sweep policy-steps/s, one after another:        {seq:10.0f}  ({scfg.total_timesteps} steps per "
          f"policy, the quick profile's PPO; median of {len(seqs)})")
    print(f"K={K} sweep policy-steps/s, {args.jobs} processes, cold pool: {cold:10.0f}  (os.cpu_count()={os.cpu_count()})")
    print(f"K={K} sweep policy-steps/s, {args.jobs} processes, warm pool: {warm:10.0f}  (as in pipeline.run; median of {len(warms)})")
    print(f"machine's ceiling after the sweeps: {after:.3f}")
    print(f"ratio parallel (cold pool) / sequential K={K} sweep: {cold / seq:.3f}")
    print(f"ratio parallel (warm pool) / sequential K={K} sweep: {warm / seq:.3f}  "
          f"(over the mean ceiling: {warm / seq / ((before + after) / 2):.3f})")

if __name__ == "__main__":
    main()
