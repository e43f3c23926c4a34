"""PPO configuration and training on a given (learned) reward (seed 000, Sec. 3.3 and Table 2).

``PPOConfig.paper()`` is seed 000 App. C.3 Table 2 as printed: "Total environment steps 1.5M; Rollout
length 2048 steps per environment; Mini-batch size 64; PPO update epochs 10; Optimizer Adam; Learning rate
3x10^-4, constant schedule; Discount factor gamma 0.99; GAE parameter lambda 0.95" (checked against
``../shared/seeds/000``). Table 2 does not print the clip range, entropy bonus, network or number of
parallel environments: those are Stable-Baselines3's PPO defaults (clip 0.2, no entropy bonus, two hidden
layers of 64, one environment), named in ``experiments/prec/config.py`` DEVIATIONS (``ppo_unprinted``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from pluralign.rl.envs import env_fns
from pluralign.rl.reward import LearnedRewardVecEnv

__all__ = ["PPOConfig", "train_ppo", "evaluate_policy_episodes"]


@dataclass
class PPOConfig:
    """Settings of one PPO run (stable-baselines3)."""

    total_timesteps: int = 1_500_000
    """Environment steps per policy (Table 2: 1.5M)."""
    n_envs: int = 1
    """Parallel environments in the DummyVecEnv."""
    n_steps: int = 2048
    """Rollout length per environment between updates."""
    batch_size: int = 64
    """Mini-batch size."""
    n_epochs: int = 10
    """Epochs per update."""
    learning_rate: float = 3e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO clip."""
    ent_coef: float = 0.0
    """Entropy bonus."""
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden layers of policy and value networks."""
    normalize_reward: bool = False
    """Scale learned rewards by a running std (VecNormalize, reward only)."""
    torch_threads: int = 1
    """torch threads inside one PPO worker."""

    def __post_init__(self) -> None:
        for name in ("total_timesteps", "n_envs", "n_steps", "batch_size", "n_epochs", "torch_threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.batch_size > self.n_envs * self.n_steps:
            raise ValueError(f"batch_size: must not exceed n_envs * n_steps = {self.n_envs * self.n_steps}")

    @classmethod
    def paper(cls) -> PPOConfig:
        """Table 2 of seed 000 (1.5M steps; other values: SB3 MuJoCo defaults, see module docstring)."""
        return cls()

    def to_dict(self) -> dict:
        return asdict(self)


def make_ppo(venv, config: PPOConfig, seed: int) -> PPO:
    return PPO(
        "MlpPolicy",
        venv,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        learning_rate=config.learning_rate,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        policy_kwargs={"net_arch": list(config.net_arch)},
        seed=int(seed),
        device="cpu",
        verbose=0,
    )


def train_ppo(
    env_id: str,
    config: PPOConfig,
    seed: int,
    reward_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    target_velocity: float | None = None,
    max_episode_steps: int | None = None,
    callback=None,
) -> tuple[PPO, float]:
    """Train PPO on ``reward_fn`` (learned reward wrapper), or on the target-velocity / env reward when
    ``reward_fn`` is None. Returns the model and the wall time in seconds."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(int(config.torch_threads))
    threadpool_limits(int(config.torch_threads))  # numpy BLAS inside the learned reward
    venv = DummyVecEnv(env_fns(env_id, config.n_envs, target_velocity, max_episode_steps))
    venv.seed(int(seed))
    if reward_fn is not None:
        venv = LearnedRewardVecEnv(venv, reward_fn)
    if config.normalize_reward:
        from stable_baselines3.common.vec_env import VecNormalize

        venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=config.gamma)
    model = make_ppo(venv, config, seed)
    t0 = time.perf_counter()
    model.learn(total_timesteps=int(config.total_timesteps), callback=callback)
    return model, time.perf_counter() - t0


def evaluate_policy_episodes(model: PPO, env_id: str, n_episodes: int, seed: int, max_episode_steps=None, deterministic=True):
    """Roll out ``n_episodes`` episodes of a trained policy (one per parallel env copy); see
    :func:`pluralign.rl.envs.collect_episodes` for the returned arrays."""
    from pluralign.rl.envs import collect_episodes

    def act(obs):
        return model.predict(obs, deterministic=deterministic)[0]

    return collect_episodes(act, env_id, n_episodes, seed, max_episode_steps)
