"""Reinforcement-learning glue for the MuJoCo PREC pipeline (seed 000): gymnasium / stable-baselines3.

* :mod:`pluralign.rl.envs` — environment construction, the target-velocity reward used to make diverse
  offline behaviour, and batched trajectory collection from a policy.
* :mod:`pluralign.rl.spr` — the self-predictive (SPR, Schwarzer et al. 2020) state-action encoder that
  PREC pretrains on all offline data without labels and then freezes.
* :mod:`pluralign.rl.reward` — a :class:`~stable_baselines3.common.vec_env.VecEnvWrapper` that replaces the
  environment's reward with a learned one, evaluated in one batch over the vectorized envs.
* :mod:`pluralign.rl.ppo` — the PPO configuration (seed 000, Table 2) and a trainer on a given reward.
"""

from pluralign.rl.envs import TargetVelocity, check_env_id, collect_episodes, make_env
from pluralign.rl.ppo import PPOConfig, train_ppo
from pluralign.rl.reward import EncoderDecoderReward, LearnedRewardVecEnv
from pluralign.rl.spr import SPRConfig, SPREncoder, fit_spr

__all__ = [
    "TargetVelocity",
    "check_env_id",
    "collect_episodes",
    "make_env",
    "PPOConfig",
    "train_ppo",
    "EncoderDecoderReward",
    "LearnedRewardVecEnv",
    "SPRConfig",
    "SPREncoder",
    "fit_spr",
]
