"""PPO throughput with PREC's learned-reward wrapper (seed 000, Sec. 3.3) against the same PPO on the
environment's own reward, and against raw environment steps/s.

The learned reward is the real thing at the quick profile's sizes: a (randomly initialised) SPR encoder
(pluralign.rl.spr, 128 wide, 32-d latent) and a linear cluster decoder, evaluated in one batch over the vectorized envs by
pluralign.rl.reward.LearnedRewardVecEnv. Run: ``python benchmarks/ppo_reward.py [--env HalfCheetah-v5]
[--steps 16384] [--n-envs 8]``. The last line prints the ratio (wrapper / env reward).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pluralign.rl.envs import make_env
from pluralign.rl.ppo import PPOConfig, train_ppo
from pluralign.rl.reward import EncoderDecoderReward
from pluralign.rl.spr import SPRConfig, SPREncoder


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="HalfCheetah-v5")
    ap.add_argument("--steps", type=int, default=16384)
    ap.add_argument("--n-envs", type=int, default=8)
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    cfg = PPOConfig(total_timesteps=args.steps, n_envs=args.n_envs, n_steps=256, batch_size=256, n_epochs=5)

    raw = raw_env_steps_per_s(args.env, args.steps)
    env = make_env(args.env)
    od, ad = env.observation_space.shape[0], env.action_space.shape[0]
    torch.manual_seed(0)
    # the quick profile's sizes: SPR encoder 128 wide, 32-d latent, a linear cluster decoder
    enc = SPREncoder(od, ad, SPRConfig(latent_dim=32, hidden=128)).eval().requires_grad_(False)
    dec = torch.nn.Sequential(torch.nn.Linear(32, 1)).requires_grad_(False)
    reward = EncoderDecoderReward(enc, dec)
    o = np.random.default_rng(0).standard_normal((args.n_envs, od))
    a = np.random.default_rng(1).uniform(-1, 1, (args.n_envs, ad))
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


if __name__ == "__main__":
    main()
