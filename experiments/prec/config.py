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

What is as printed and what is not: every setting seed 000 prints is used as printed (N = 30, M = 50,
T = 30, K in {1, 2, 3, 5, 10, 30}, good iff a score of 7 or higher on a 10-point scale, Table 1's noise
levels in :mod:`pluralign.bpref`, Table 2's PPO in the paper profile, App. C.2's welfare of
r_i = mean_e <w_i, f>, Fig. 2's uniform population); :data:`DEVIATIONS` is the one list of every place
where this pipeline (and its bandit twin, :mod:`pluralign.sims.prec_bandit`, which runs the same
labelers, teachers and EM preset) reads an unprinted detail or departs from the print.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from pluralign.prec.decoders import DecoderConfig
from pluralign.prec.labelers import DEFAULT_POPULATION
from pluralign.rl.envs import physics_version
from pluralign.rl.ppo import PPOConfig
from pluralign.rl.spr import SPRConfig
from pluralign.runs import Profile

__all__ = ["DEFAULT_ENV", "DEVIATIONS", "MEDIUM_CURVE", "NOISE_NAMES", "OfflineConfig", "PREC_PROFILES", "PROFILES",
           "PrecConfig", "TARGET_VELOCITIES", "budget_from_curve", "config_hash", "make_config", "parse_noise"]

DEFAULT_ENV = "HalfCheetah-v5"
"""The environment of :data:`PROFILES` (and of ``pluralign prec run`` without ``--env``)."""

NOISE_NAMES = {"0": "oracle", "oracle": "oracle", "1": "noise1", "noise1": "noise1", "2": "noise2", "noise2": "noise2"}
"""Accepted spellings of the teacher: 0 / oracle, 1 / noise1, 2 / noise2."""


DEVIATIONS: dict[str, str] = {
    "scoring": (
        "App. C.1 prints S = sum_t r_i(s_t, a_t) >= tau_i with a user-specific tau_i, sec. 4.1 'a score of 7 or "
        "higher (on a 10-point scale)'; neither prints r_i or tau_i. Reading: r_i = <w_i, phi_t>, the 10 points "
        "span user i's range of S / T over all T-step windows of the offline data, tau_i = T (lo_i + 0.7 (hi_i - "
        "lo_i)) (pluralign.prec.labelers: user_score_range, user_thresholds; why there). The B-Pref rules act on "
        "that 10-point score (beta per point, delta in points; the myopic weights sum to 1 as printed)."),
    "population_modes": (
        "Fig. 3's populations are drawn, not specified: the mode centres and concentrations of "
        "pluralign.prec.labelers.POPULATIONS are ours; Fig. 2's 'approximately uniform' population is read as "
        "Dirichlet(1, 1, 1) ('broad', the default)."),
    "em_init": (
        "Leaky-EM initialisation, prior update and stopping rule are not printed: k-means++ on per-user "
        "logistic-regression coefficients, fixed uniform prior (the setting of Thm. A.5), relative F_nu "
        "change < 1e-6 or max_iter; restarts keep the best F_nu (pluralign.prec.preset)."),
    "endpoints_budget": (
        "K = 1 (pooled) and K = 30 (one decoder per user on that user's labels, sec. 4.2) are fixed "
        "assignments trained with the optimiser budget of a whole EM run, n_steps * (1 + em_max_iter): Adam "
        "steps (paper profile) or an L-BFGS iteration cap (smoke, quick, medium: 25 x 21 = 525), the cap "
        "that bounds the K = 30 rewards on separable label sets (pipeline FINDINGS (b))."),
    "segment_score_before_20261202": (
        "Not a deviation now: the decoders score a segment by eq. 4 / eq. 6's sum R = sum_t r(s_t, a_t) "
        "(pluralign.prec.decoders, aggregate='sum', every profile). Every run before 2026-12-02, and so every "
        "number in pipeline.FINDINGS, used the mean (1/T) sum_t r: the same label model, a per-step reward T = "
        "30 times the printed one for the same fit. `prec run --segment-score mean` reruns that reading."),
    "leak": "The leak coefficient's value is not printed (sec. 3.3: 'nu in [0, 1)'); every profile uses 0.1.",
    "no_encoder_ablation": (
        "Fig. 12's 'PREC without the SPR encoder' does not say what replaces it: the pipeline reads the "
        "decoders on the standardized raw state-action (s, a) (pluralign.rl.reward.StandardizeFeatures); "
        "the bandit twin on an untrained random linear encoder (pluralign.sims.prec_bandit.world)."),
    "nash_shift": (
        "App. C.2's Nash welfare (prod_i r_i)^(1/N) is 0 as soon as one utility is 0; when some r_i <= 0 "
        "the pipeline reports it on r + (1 - min r) and records the shift (`nash_shift`)."),
    "offline_data": (
        "The offline data's target velocities (TARGET_VELOCITIES), training stages, episodes per stage and "
        "the random-policy share are not printed; neither is the PCA features' [0, 1] scaling (min-max over "
        "T-step window means, offline.PreferenceSpace)."),
    "encoder_decoder_sizes": (
        "SPR encoder sizes and updates, the decoders' width and optimiser, and E (evaluation episodes) are not "
        "printed; the paper profile's values are ours. Quick and smoke use linear decoders (exact convex "
        "L-BFGS M-step) and a smaller encoder."),
    "ppo_unprinted": (
        "Table 2 prints steps, rollout 2048 per env, mini-batch 64, 10 epochs, Adam 3e-4 constant, gamma 0.99, "
        "lambda 0.95; not printed and taken from SB3's defaults: clip 0.2, no entropy bonus, [64, 64] "
        "networks, one environment per policy."),
    "ppo_budget_small_profiles": (
        "quick (16k steps, 8 envs x 256-step rollouts, mini-batch 512, 5 epochs) and smoke are far below "
        "Table 2's 1.5M steps: early-training policies. medium uses Table 2's PPO at a budget read from a "
        "measured learning curve (MEDIUM_CURVE, budget_from_curve: 442,368 steps), with quick's number of "
        "offline agents (3 target velocities), each trained by Table 2's PPO for twice that budget, and "
        "quick's encoder sizes with 3,000 SPR updates (quick: 1,500); only the paper profile uses Table "
        "2's 1.5M (its offline agents: 1M steps, 8 envs x 256-step rollouts, not printed)."),
    "sizes_smoke": "smoke shrinks N, M, T, the K grid and every budget (CI only; its numbers mean nothing).",
    "reference_policies": (
        "Not in seed 000: every run also scores a random policy, the untrained PPO policy and PPO on the users' "
        "true mean reward / on the env reward for the same users (pipeline.REFERENCES), the yardsticks of "
        "'the policies learned'."),
    "normalize_reward_option": (
        "`prec run --normalize-reward` (off in every profile; ppo.normalize_reward in config.json) trains PPO "
        "on the learned reward over a running std of the return (SB3 VecNormalize), which Table 2 does not "
        "print: a what-if for decoders whose reward scale stalls PPO (pipeline FINDINGS)."),
}
"""Every deviation from seed 000's printed setup, or reading of an unprinted detail, in one place
(name -> what and why); copied into every run's results.json."""


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
    """smoke, quick, medium or paper (PREC_PROFILES)."""
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
    population: str = DEFAULT_POPULATION
    """Named user population of pluralign.prec.labelers.POPULATIONS (default: Fig. 2's uniform one, sec. 4.3)."""
    good_threshold: float = 7.0
    """A segment is good iff its score on the user's 10-point scale is >= this (sec. 4.1; DEVIATIONS["scoring"])."""
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
    """Local worker processes for the offline agents, leaky EM and PPO (the numbers do not depend on it)."""
    backend: str = "local"
    """local (joblib processes on this machine) or ray (the same tasks on a Ray cluster; pluralign[ray])."""
    address: str | None = None
    """Ray cluster address (None: start a local Ray instance; "auto": the running cluster)."""
    cache_dir: str = "results/prec/cache"
    """Shared cache of offline data, preference space and encoder (keyed by env, profile, seed, config and physics)."""
    physics: str = field(default_factory=physics_version)
    """The simulator of this run (pluralign.rl.envs.physics_version, the installed one): recorded in config.json,
    so that a resume under another MuJoCo is refused, and part of the offline cache's key (PHYSICS_NOTE)."""

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
        from pluralign.runs import BACKENDS

        if self.backend not in BACKENDS:
            raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not 0.0 < float(self.good_threshold) < 10.0:
            raise ValueError(f"good_threshold: must lie in (0, 10), got {self.good_threshold}")
        return replace(self, noise=parse_noise(self.noise))


PREC_PROFILES = ("smoke", "quick", "medium", "paper")
"""The pipeline's profiles: the package's three (:class:`pluralign.runs.Profile`) and ``medium``."""

MEDIUM_CURVE: tuple[tuple[int, float], ...] = ((0, -229.7), (49152, 330.7), (98304, 602.0), (147456, 818.9), (196608, 984.8), (245760, 1177.8), (294912, 1198.2), (344064, 1283.8), (393216, 1230.1), (442368, 1330.7), (491520, 1417.5), (540672, 1453.3), (589824, 1441.0), (638976, 1468.3), (688128, 1451.1), (737280, 1544.5), (786432, 1472.3), (835584, 1571.7), (884736, 1602.1), (933888, 1665.9), (983040, 1654.8), (1032192, 1640.4), (1081344, 1660.6), (1130496, 1198.0), (1179648, 1658.3))
"""The measured learning curve the medium profile's PPO budget is read from: (PPO steps, mean return of 3
deterministic evaluation episodes) of Table 2's PPO (:meth:`pluralign.rl.ppo.PPOConfig.paper`) on
HalfCheetah-v5's own reward, seed 0, one torch thread, MuJoCo 3.17.0 (the pin); step 0 is the uniformly
random policy. Measured 2026-12-02 by ``python -m pluralign.experiments.prec.learning_curve --env
HalfCheetah-v5 --profile paper --steps 1179648 --eval-every 49152 --eval-episodes 3 --out curve.json`` on
the shared 2-CPU machine (1,349 CPU-s, about 870 PPO steps per CPU-second with the evaluations; flat from
about 0.9M steps, with one evaluation dip at 1.13M). The medium budget it gives (0.8 of the way from random
to the best measured return) is 442,368 steps, about 0.3 of Table 2's 1.5M. The curve of 2026-12-01 (MuJoCo
4.0.0: random -296.5, best 1648.2; pluralign.rl.envs.PHYSICS_NOTE) gave 491,520."""

MEDIUM_FRACTION = 0.8
"""The medium budget is the first measured step count whose return reaches this fraction of the way from the
random policy's return to the best return of :data:`MEDIUM_CURVE` (:func:`budget_from_curve`)."""


def budget_from_curve(curve, fraction: float = MEDIUM_FRACTION) -> int:
    """The smallest step count of ``curve`` ((steps, return) rows, the first the random policy at step 0)
    whose return is >= random + fraction * (best - random)."""
    rows = [(int(a), float(b)) for a, b in curve]
    if len(rows) < 2 or rows[0][0] != 0:
        raise ValueError("curve: expected (steps, return) rows starting with the random policy at step 0")
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction: must lie in (0, 1], got {fraction}")
    base, best = rows[0][1], max(r for _, r in rows[1:])
    goal = base + float(fraction) * (best - base)
    return next(n for n, r in rows[1:] if r >= goal)


def make_config(profile: Profile | str, env_id: str = DEFAULT_ENV) -> PrecConfig:
    """The settings of ``profile`` (one of :data:`PREC_PROFILES`) for ``env_id`` (the profile table of the
    pipeline)."""
    profile = profile.value if isinstance(profile, Profile) else str(profile)
    if profile not in PREC_PROFILES:
        raise ValueError(f"profile: must be one of {', '.join(PREC_PROFILES)}, got {profile!r}")
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
    if profile == "medium":
        budget = budget_from_curve(MEDIUM_CURVE)
        table2 = replace(PPOConfig.paper(), total_timesteps=budget)
        return PrecConfig(
            profile="medium",
            env=env_id,
            offline=OfflineConfig(target_velocities=vels[:3], ppo=replace(table2, total_timesteps=2 * budget)),
            spr=SPRConfig(latent_dim=32, hidden=128, proj_dim=64, horizon=5, batch_size=256, n_updates=3000),
            decoder=DecoderConfig(n_hidden=0, optimizer="lbfgs", n_steps=25, dtype="float64"),
            em_restarts=2,
            em_max_iter=20,
            ppo=table2,
            eval_episodes=3,
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
    raise AssertionError(profile)  # unreachable: PREC_PROFILES has four names


PROFILES: dict[str, PrecConfig] = {p: make_config(p, DEFAULT_ENV) for p in PREC_PROFILES}
"""The profiles for :data:`DEFAULT_ENV` by name (a :class:`pluralign.runs.Profile` member finds its entry
too: it is a str); another environment: ``make_config(profile, env_id)``."""


def config_hash(obj) -> str:
    """Short stable hash of a (dataclass) configuration, used in cache keys."""
    d = asdict(obj) if hasattr(obj, "__dataclass_fields__") else obj
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:10]
