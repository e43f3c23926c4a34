"""The world of the bandit-PREC testbed: behaviours, observations, the frozen encoder, users, coverage.

See :mod:`pluralign.sims.prec_bandit.study` for the design and why it is an honest stand-in for seed 000's
pipeline. Everything is a deterministic function of (settings, seed, replicate): the world of replicate r of
base seed s is drawn from the one stream ``pluralign.seeding.derive(s, r, "world")``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, softmax

from pluralign.prec.labelers import DEFAULT_POPULATION, POPULATIONS, Population, dirichlet_population, step_scores, user_score_range
from pluralign.seeding import derive


@dataclass(frozen=True)
class WorldSettings:
    """Sizes and constants of one bandit world."""

    n_users: int = 30
    """N, the number of users."""
    n_labels: int = 50
    """M, segments labelled by each user."""
    horizon: int = 30
    """T, the length of a behaviour (one behaviour = one labelled segment)."""
    n_pool: int = 400
    """Behaviours in the shared pool that users label from."""
    n_candidates: int = 200
    """Fresh behaviours a cluster's policy chooses from."""
    style_sd: float = 1.5
    """Spread of the behaviours' mean latent style along the trade-off plane sum_c z_c = const."""
    quality_sd: float = 0.5
    """Spread of the common 'quality' q_b that shifts all three latent features together."""
    ar: float = 0.8
    """AR(1) coefficient of the per-step style fluctuation around c_b."""
    ar_sd: float = 0.5
    """Stationary sd of that fluctuation."""
    obs_dim: int = 8
    """Observation dimensions that carry the style (tanh(A z_t) + small noise)."""
    distractor_dim: int = 4
    """Extra observation dimensions of unpredictable (white) noise."""
    distractor_sd: float = 1.0
    """Sd of the distractor dimensions."""
    obs_noise: float = 0.05
    """Sd of the noise on the informative observation dimensions."""
    feature_dim: int = 6
    """d, the encoder's output dimension (the same for the random-feature ablation)."""
    coverage: float = 0.75
    """Width (in style units) of a user's coverage kernel around its coverage centre."""
    population: tuple[int, float] = POPULATIONS[DEFAULT_POPULATION]
    """(number of Dirichlet modes, concentration) of the user population (seed 000, Fig. 3); default the
    MuJoCo pipeline's, Fig. 2's uniform population (pluralign.prec.labelers.DEFAULT_POPULATION)."""


@dataclass
class World:
    """One sampled world: pool and candidate behaviours with their encoder / random features, users and
    the segments each user labels."""

    settings: WorldSettings
    pool_phi: np.ndarray  # (P, T, 3) true reward features in [0, 1]
    cand_phi: np.ndarray  # (Q, T, 3)
    pool_feat: dict  # name -> (P, T, d)
    cand_feat: dict  # name -> (Q, T, d)
    population: Population
    label_user: np.ndarray  # (N * M,) user of each labelled segment
    label_segment: np.ndarray  # (N * M,) pool index of each labelled segment
    coverage_center: np.ndarray  # (N, 3)

    def user_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of every user's 10-point scale over the pool's behaviours (the reference segments; the
        same reading of App. C.1 as the MuJoCo pipeline, :mod:`pluralign.prec.labelers`)."""
        return user_score_range(self.population.weights, self.pool_phi.mean(axis=1))

    def true_step_scores(self) -> np.ndarray:
        """(N * M, T) step scores of the labelled segments on each user's own 10-point scale."""
        return step_scores(self.population.weights, self.pool_phi[self.label_segment], self.label_user,
                           self.user_scale())

    def candidate_utilities(self) -> np.ndarray:
        """(N, Q) App. C.2's utility <w_i, f> in [0, 1] of every candidate for every user (f its mean phi)."""
        S = self.cand_phi.mean(axis=1)  # (Q, 3)
        return self.population.weights @ S.T


_PLANE = np.eye(3) - 1.0 / 3.0  # projection onto the sum-zero plane: the three features trade off


def _styles(rng, n, s: WorldSettings) -> np.ndarray:
    """Mean latent styles c_b = q_b 1 + style_sd P e_b: a trade-off direction plus a common quality."""
    return rng.normal(0.0, s.quality_sd, size=(n, 1)) + s.style_sd * rng.normal(size=(n, 3)) @ _PLANE


def _behaviours(rng, n, s: WorldSettings):
    c = _styles(rng, n, s)[:, None, :]
    eps = rng.normal(0.0, s.ar_sd * np.sqrt(1 - s.ar**2), size=(n, s.horizon, 3))
    f = np.empty_like(eps)
    f[:, 0] = rng.normal(0.0, s.ar_sd, size=(n, 3))
    for t in range(1, s.horizon):
        f[:, t] = s.ar * f[:, t - 1] + eps[:, t]
    return c[:, 0], c + f  # mean styles (n, 3), per-step latent z (n, T, 3)


def _observe(rng, z, A, s: WorldSettings):
    n, T, _ = z.shape
    info = np.tanh(z @ A) + rng.normal(0.0, s.obs_noise, size=(n, T, s.obs_dim))
    dist = rng.normal(0.0, s.distractor_sd, size=(n, T, s.distractor_dim))
    return np.concatenate([info, dist], axis=2)


def self_predictive_encoder(obs: np.ndarray, d: int, ridge: float = 1e-6):
    """A frozen, label-free, self-predictive linear encoder: the top-d canonical directions between
    consecutive observations s_t and s_{t+1} of the pool (the directions of the observation that best
    predict, and are best predicted by, the next one — a closed-form linear analogue of SPR's objective).
    Returns (mean, projection (D, d)); features are unit-variance on the pool."""
    X = obs[:, :-1].reshape(-1, obs.shape[2])
    Y = obs[:, 1:].reshape(-1, obs.shape[2])
    mx, my = X.mean(0), Y.mean(0)
    Xc, Yc = X - mx, Y - my
    n = X.shape[0]
    Cxx = Xc.T @ Xc / n + ridge * np.eye(X.shape[1])
    Cyy = Yc.T @ Yc / n + ridge * np.eye(X.shape[1])
    Cxy = Xc.T @ Yc / n

    def inv_sqrt(C):
        w, V = np.linalg.eigh(C)
        return V @ np.diag(w**-0.5) @ V.T

    Wx, Wy = inv_sqrt(Cxx), inv_sqrt(Cyy)
    U, _, _ = np.linalg.svd(Wx @ Cxy @ Wy)
    return mx, Wx @ U[:, :d]


def random_encoder(rng, obs: np.ndarray, d: int):
    """The ablation: an untrained linear encoder of the same shape (Gaussian weights), standardised on
    the pool so both feature sets have unit variance."""
    D = obs.shape[2]
    R = rng.normal(size=(D, d))
    flat = obs.reshape(-1, D)
    mu = flat.mean(0)
    sd = ((flat - mu) @ R).std(0)
    return mu, R / sd


def make_world(s: WorldSettings, seed: int, rep: int) -> World:
    """Sample the world of replicate ``rep`` of base ``seed`` (pool, candidates, encoders, users, labelled
    segments), all from the stream ``derive(seed, rep, "world")``."""
    rng = derive(seed, rep, "world")
    A = rng.normal(0.0, 1.0 / np.sqrt(3), size=(3, s.obs_dim))
    pool_c, pool_z = _behaviours(rng, s.n_pool, s)
    _, cand_z = _behaviours(rng, s.n_candidates, s)
    pool_obs, cand_obs = _observe(rng, pool_z, A, s), _observe(rng, cand_z, A, s)
    enc = self_predictive_encoder(pool_obs, s.feature_dim)
    rnd = random_encoder(rng, pool_obs, s.feature_dim)
    feats_pool = {name: (pool_obs - mu) @ P for name, (mu, P) in (("encoder", enc), ("random", rnd))}
    feats_cand = {name: (cand_obs - mu) @ P for name, (mu, P) in (("encoder", enc), ("random", rnd))}
    pop = dirichlet_population(s.n_users, s.population[0], s.population[1], rng)
    # user-skewed coverage: each user labels behaviours near its own coverage centre in style space,
    # drawn independently of its preferences
    centers = _styles(rng, s.n_users, s)
    users, segs = [], []
    for i in range(s.n_users):
        d2 = ((pool_c - centers[i]) ** 2).sum(1)
        p = softmax(-d2 / (2 * s.coverage**2))
        k = min(s.n_labels, int(np.count_nonzero(p)))
        segs.append(rng.choice(s.n_pool, size=s.n_labels, replace=k < s.n_labels, p=p))
        users.append(np.full(s.n_labels, i))
    return World(
        settings=s,
        pool_phi=expit(pool_z),
        cand_phi=expit(cand_z),
        pool_feat=feats_pool,
        cand_feat=feats_cand,
        population=pop,
        label_user=np.concatenate(users),
        label_segment=np.concatenate(segs),
        coverage_center=centers,
    )
