"""Settings of the MuJoCo PREC pipeline (seed 000) and its three profiles.

:func:`make_config` is the profile table (one :class:`PrecConfig` per :class:`pluralign.runs.Profile`
and environment: the offline agents' target velocities are per environment); :data:`PROFILES` holds the
profiles for :data:`DEFAULT_ENV`, the study shape's ``settings_for(PROFILES, profile)``.

* ``paper``  — the seed's scale: N = 30 users x M = 50 segments of T = 30 steps, K in {1, 2, 3, 5, 10, 30},
  one PPO per cluster at Table 2's 1.5M steps (:meth:`pluralign.rl.PPOConfig.paper`), E = 10 evaluation
  episodes, a larger SPR encoder and MLP cluster decoders. Not run here (days of CPU).
* ``quick``  — the same pipeline and the same N, M, T and K grid, sized for about 15-30 minutes on 2 CPUs:
  16k PPO steps per cluster policy (8 envs), 3 evaluation episodes, a small SPR encoder, linear cluster
  decoders over the SPR latent (exact convex L-BFGS M-step) and 3 seeds. 16k PPO steps is about 1% of
  Table 2: the policies are early-training policies, so the quick profile exercises the whole pipeline and
  shows how the learned rewards steer early learning, not converged behaviour.
* ``smoke``  — toy scale for CI (seconds): short episodes, a tiny encoder, K in {1, 2}, a few hundred PPO steps.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from pluralign.prec.decoders import DecoderConfig
from pluralign.rl.ppo import PPOConfig
from pluralign.rl.spr import SPRConfig
from pluralign.runs import Profile

__all__ = ["DEFAULT_ENV", "NOISE_NAMES", "OfflineConfig", "PROFILES", "PrecConfig", "TARGET_VELOCITIES", "config_hash",
           "make_config", "parse_noise"]

DEFAULT_ENV = "HalfCheetah-v5"
"""The environment of :data:`PROFILES` (and of ``pluralign prec run`` without ``--env``)."""

NOISE_NAMES = {"0": "oracle", "oracle": "oracle", "1": "noise1", "noise1": "noise1", "2": "noise2", "noise2": "noise2"}
"""Accepted spellings of the teacher: 0 / oracle, 1 / noise1, 2 / noise2."""


def parse_noise(noise) -> str:
    """The teacher's name (oracle, noise1 or noise2) from any accepted spelling; ValueError otherwise."""
    key = str(noise).strip().lower()
    if key not in NOISE_NAMES:
        raise ValueError(f"noise: must be 0/oracle, 1/noise1 or 2/noise2, got {noise!r}")
    return NOISE_NAMES[key]

TARGET_VELOCITIES: dict[str, tuple[float, ...]] = {
    "HalfCheetah-v5": (0.5, 2.0, 4.0, 6.0),
    "Ant-v5": (0.25, 1.0, 2.0, 3.0),
    "Hopper-v5": (0.25, 1.0, 2.0, 3.0),
    "Walker2d-v5": (0.25, 1.0, 2.0, 3.0),
}
"""Target forward velocities of the offline PPO agents (paper profile uses all, quick the first three)."""


@dataclass
class OfflineConfig:
    """How the offline state-action data are made: PPO agents towards several target velocities, rolled
    out at several training stages (plus a uniformly random policy as stage 0)."""

    target_velocities: tuple[float, ...] = (0.5, 2.0, 4.0)
    """Target forward velocities, one PPO agent each."""
    ppo: PPOConfig = field(default_factory=lambda: PPOConfig(total_timesteps=48_000, n_envs=8, n_steps=256, batch_size=512, n_epochs=5))
    """PPO of each offline agent (total_timesteps is its whole budget)."""
    n_stages: int = 3
    """Training stages rolled out: after 1/n, 2/n, ..., n/n of the budget."""
    episodes_per_stage: int = 2
    """Stochastic-policy episodes collected at each stage of each agent."""
    random_episodes: int = 2
    """Episodes of the uniformly random policy (stage 0)."""
    max_episode_steps: int | None = None
    """Episode cap (None = the environment's 1000)."""


@dataclass
class PrecConfig:
    """The whole PREC run for one environment and one teacher (everything ``run`` depends on; written to
    config.json)."""

    profile: str
    """smoke, quick or paper."""
    offline: OfflineConfig
    """Offline data collection."""
    spr: SPRConfig
    """SPR encoder pretraining."""
    decoder: DecoderConfig
    """Cluster decoders and their M-step."""
    ppo: PPOConfig
    """PPO of each cluster policy."""
    n_users: int = 30
    """N synthetic users."""
    n_segments: int = 50
    """M segments labelled by each user."""
    segment_len: int = 30
    """T steps per segment."""
    population: str = "trimodal"
    """Named user population of pluralign.prec.labelers.POPULATIONS."""
    Ks: tuple[int, ...] = (1, 2, 3, 5, 10, 30)
    """Numbers of clusters compared."""
    leak: float = 0.1
    """nu of leaky EM."""
    em_restarts: int = 3
    """Restarts of leaky EM (best leaky ELBO wins)."""
    em_max_iter: int = 30
    """Iteration cap of leaky EM."""
    eval_episodes: int = 3
    """E evaluation episodes of each cluster policy (App. C.2)."""
    n_seeds: int = 3
    """Seeds (replicates of users, labels, EM and PPO); offline data and encoder are shared by them."""
    use_encoder: bool = True
    """False = the Fig. 12 ablation: decoders read the standardized raw state-action."""
    env: str = DEFAULT_ENV
    """MuJoCo environment (one of :data:`TARGET_VELOCITIES`)."""
    noise: str = "noise2"
    """B-Pref teacher of the labels: oracle, noise1 or noise2 (Table 1's mixed levels)."""
    n_jobs: int = 1
    """Worker processes for the offline agents, leaky EM and PPO (the numbers do not depend on it)."""
    backend: str = "loky"
    """loky (local processes) or ray (the same tasks on a Ray cluster; needs pluralign[ray])."""
    cache_dir: str = "results/prec/cache"
    """Shared cache of offline data, preference space and encoder (keyed by env, profile, seed and config)."""

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "PrecConfig":
        """``self`` with the teacher's name normalized; ValueError naming the field for bad values."""
        from pluralign.prec.labelers import POPULATIONS

        if self.env not in TARGET_VELOCITIES:
            raise ValueError(f"env: must be one of {', '.join(TARGET_VELOCITIES)}, got {self.env!r}")
        if self.population not in POPULATIONS:
            raise ValueError(f"population: must be one of {sorted(POPULATIONS)}, got {self.population!r}")
        for name in ("n_users", "n_segments", "segment_len", "n_seeds", "n_jobs", "em_restarts", "em_max_iter",
                     "eval_episodes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not self.Ks or any(int(K) < 1 or int(K) > self.n_users for K in self.Ks):
            raise ValueError(f"Ks: every K must lie in 1..n_users = {self.n_users}, got {tuple(self.Ks)}")
        if not 0.0 <= self.leak < 1.0:
            raise ValueError(f"leak: must lie in [0, 1), got {self.leak}")
        if self.backend not in ("loky", "ray"):
            raise ValueError(f"backend: must be loky or ray, got {self.backend!r}")
        return replace(self, noise=parse_noise(self.noise))


def make_config(profile: Profile | str, env_id: str = DEFAULT_ENV) -> PrecConfig:
    """The settings of ``profile`` for ``env_id`` (the profile table of the pipeline)."""
    try:
        profile = Profile(profile).value
    except ValueError:
        raise ValueError(f"profile: must be smoke, quick or paper, got {profile!r}") from None
    if env_id not in TARGET_VELOCITIES:
        raise ValueError(f"env: must be one of {', '.join(TARGET_VELOCITIES)}, got {env_id!r}")
    vels = TARGET_VELOCITIES[env_id]
    if profile == "smoke":
        return PrecConfig(
            profile="smoke",
            env=env_id,
            offline=OfflineConfig(
                target_velocities=vels[:2],
                ppo=PPOConfig(total_timesteps=256, n_envs=2, n_steps=64, batch_size=64, n_epochs=1, net_arch=[16]),
                n_stages=2,
                episodes_per_stage=2,
                random_episodes=1,
                max_episode_steps=60,
            ),
            spr=SPRConfig(latent_dim=8, hidden=32, proj_dim=16, horizon=3, batch_size=64, n_updates=30),
            decoder=DecoderConfig(n_hidden=0, optimizer="lbfgs", n_steps=50, dtype="float64"),
            ppo=PPOConfig(total_timesteps=256, n_envs=2, n_steps=64, batch_size=64, n_epochs=1, net_arch=[16]),
            n_users=6,
            n_segments=10,
            segment_len=10,
            Ks=(1, 2),
            em_restarts=1,
            em_max_iter=5,
            eval_episodes=2,
            n_seeds=1,
        )
    if profile == "quick":
        return PrecConfig(
            profile="quick",
            env=env_id,
            offline=OfflineConfig(target_velocities=vels[:3]),
            spr=SPRConfig(latent_dim=32, hidden=128, proj_dim=64, horizon=5, batch_size=256, n_updates=1500),
            decoder=DecoderConfig(n_hidden=0, optimizer="lbfgs", n_steps=25, dtype="float64"),
            em_restarts=2,
            em_max_iter=20,
            ppo=PPOConfig(total_timesteps=16_384, n_envs=8, n_steps=256, batch_size=512, n_epochs=5, net_arch=[64, 64]),
        )
    if profile == "paper":
        return PrecConfig(
            profile="paper",
            env=env_id,
            offline=OfflineConfig(
                target_velocities=vels,
                ppo=PPOConfig(total_timesteps=1_000_000, n_envs=8, n_steps=256, batch_size=256, n_epochs=10),
                n_stages=5,
                episodes_per_stage=5,
                random_episodes=5,
            ),
            spr=SPRConfig(latent_dim=64, hidden=256, proj_dim=128, horizon=5, batch_size=256, n_updates=20_000),
            decoder=DecoderConfig(n_hidden=32, optimizer="adam", n_steps=200, lr=1e-2),
            ppo=PPOConfig.paper(),
            eval_episodes=10,
            n_seeds=3,
            em_restarts=5,
            em_max_iter=50,
        )
    raise AssertionError(profile)  # unreachable: Profile has three members


PROFILES: dict[Profile, PrecConfig] = {p: make_config(p, DEFAULT_ENV) for p in Profile}
"""The profiles for :data:`DEFAULT_ENV`; another environment: ``make_config(profile, env_id)``."""


def config_hash(obj) -> str:
    """Short stable hash of a (dataclass) configuration, used in cache keys."""
    d = asdict(obj) if hasattr(obj, "__dataclass_fields__") else obj
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:10]
