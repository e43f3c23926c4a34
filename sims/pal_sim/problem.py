"""The PAL simulation's ground truth (seed 002, PAL, sec. 4.2 and App. D.2).

Items x ~ N(0, I/d); a linear map f*(x) = A* x with A* ~ N(0, 1/d) entries (d x d); K* prototypes
p_1..p_K* in the item space, drawn from N(0, I/d) by rejection until every pair is at least
``min_separation`` apart; a user i has weights w_i on the simplex and the ideal point a_i = sum_k w_ik p_k.

* ``mixture``   — users lie inside the prototypes' simplex: w_i = softmax(z_i), z_i ~ N(0, I_K*) (``weights``
  = 'softmax_normal', sec. 4.2: "the user weight W ~ N(0, I)", mapped to the simplex by the softmax the
  model uses, App. D.1), or w_i ~ Dirichlet(alpha 1_K*) (``weights`` = 'dirichlet');
* ``partition`` — w_i = e_{z_i}, the K* groups of (almost) equal size: every user is one prototype.

A choice among n options (n = 2: a comparison) goes to the option nearest the ideal point in f*'s image,
``argmin_j ||f*(x_j) - f*(a_i)||^2`` — noiseless when ``beta`` is None (our reading of the seed's
generator), else drawn from the multinomial logit with utilities -beta ||f*(x_j) - f*(a_i)||^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralign.choice import sample_choice
from pluralign.data import Choices
from pluralign.seeding import derive

__all__ = ["PALSimConfig", "PALProblem", "make_problem", "ideal_point_utilities", "require_counts"]


def require_counts(obj, counts=(), grids=()) -> None:
    """``ValueError`` naming the first field of ``obj`` among ``counts`` that is not an integer >= 1, or
    among ``grids`` (tuples of integers) that is empty or holds a value < 1."""
    for name in counts:
        if int(getattr(obj, name)) < 1:
            raise ValueError(f"{name}: must be >= 1, got {getattr(obj, name)}")
    for name in grids:
        grid = getattr(obj, name)
        if not grid or min(int(v) for v in grid) < 1:
            raise ValueError(f"{name}: needs at least one value, all >= 1, got {list(grid)}")


@dataclass
class PALSimConfig:
    """Ground truth and data sizes of one simulated population."""

    d: int = 16
    """Item dimension (f* is d x d)."""
    n_prototypes_true: int = 3
    """K*, the number of true prototypes."""
    setting: str = "mixture"
    """'mixture' (Dirichlet weights) or 'partition' (each user is one prototype)."""
    weights: str = "dirichlet"
    """Mixture-setting user weights: 'softmax_normal' (softmax of N(0, I), sec. 4.2; what ``pal sim`` uses) or
    'dirichlet' (the default, kept so that ``pal bounds``' populations are unchanged)."""
    dirichlet_alpha: float = 1.0
    """Concentration of the mixture setting's Dirichlet (``weights`` = 'dirichlet')."""
    min_separation: float = 1.0
    """Minimum distance between two true prototypes in the item space."""
    n_seen: int = 100
    """N, seen users."""
    n_unseen: int = 50
    """Unseen (few-shot) users."""
    n_train: int = 100
    """Training comparisons per seen user."""
    n_test: int = 50
    """Held-out comparisons per user (seen and unseen)."""
    n_pool: int = 100
    """Candidate few-shot queries per unseen user (random or active picks among them)."""
    n_options: int = 2
    """Options per choice set (2 = pairwise)."""
    beta: float | None = None
    """Inverse temperature of the logit noise; None = noiseless ideal-point choices."""

    def validate(self) -> None:
        if self.setting not in ("mixture", "partition"):
            raise ValueError(f"setting: expected 'mixture' or 'partition', got {self.setting!r}")
        if self.weights not in ("softmax_normal", "dirichlet"):
            raise ValueError(f"weights: expected 'softmax_normal' or 'dirichlet', got {self.weights!r}")
        require_counts(self, ("d", "n_prototypes_true", "n_seen", "n_unseen", "n_train", "n_test", "n_pool"))
        if self.n_options < 2:
            raise ValueError(f"n_options: must be >= 2, got {self.n_options}")
        if self.min_separation < 0 or self.dirichlet_alpha <= 0:
            raise ValueError("min_separation/dirichlet_alpha: need >= 0 and > 0")
        if self.beta is not None and self.beta <= 0:
            raise ValueError(f"beta: must be > 0 or None, got {self.beta}")


@dataclass
class PALProblem:
    """A sampled ground truth and its data."""

    config: PALSimConfig
    A: np.ndarray  # (d, d) the true linear map
    prototypes: np.ndarray  # (K*, d)
    w_seen: np.ndarray  # (N, K*)
    w_unseen: np.ndarray  # (N_u, K*)
    train: Choices  # seen users' training comparisons
    test: Choices  # seen users' held-out comparisons
    unseen_pool: Choices  # unseen users' candidate few-shot queries (answers = the oracle)
    unseen_test: Choices  # unseen users' held-out comparisons

    @property
    def ideal_seen(self) -> np.ndarray:
        return self.w_seen @ self.prototypes

    @property
    def ideal_unseen(self) -> np.ndarray:
        return self.w_unseen @ self.prototypes

    def true_utilities(self, choices: Choices, ideal: np.ndarray) -> np.ndarray:
        """-||f*(x_j) - f*(a_i)||^2 for every option of every record."""
        return ideal_point_utilities(choices, self.A, ideal)


def ideal_point_utilities(choices: Choices, A: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    """Ideal-point utilities -||A x_j - A a_i||^2 (records, options) of the options x_j of every record of
    ``choices`` for its user i, whose ideal point is ``ideal[i]``; A (d, d) is the map."""
    fx = choices.features @ A.T
    fa = ideal[choices.user] @ A.T
    return -((fx - fa[:, None, :]) ** 2).sum(-1)


def _prototypes(K: int, d: int, sep: float, rng: np.random.Generator, max_tries: int = 10_000) -> np.ndarray:
    for _ in range(max_tries):
        P = rng.normal(0.0, 1.0 / np.sqrt(d), size=(K, d))
        D = np.linalg.norm(P[:, None] - P[None], axis=-1) + np.eye(K) * 1e9
        if D.min() >= sep:
            return P
    raise ValueError(f"min_separation: could not place {K} prototypes {sep} apart in d={d} (N(0, I/d) draws)")


def _choices(users: np.ndarray, ideal: np.ndarray, A: np.ndarray, n_opt: int, beta, rng, d: int) -> Choices:
    X = rng.normal(0.0, 1.0 / np.sqrt(d), size=(len(users), n_opt, d))
    dist = (((X - ideal[users][:, None, :]) @ A.T) ** 2).sum(-1)
    if beta is None:
        chosen = dist.argmin(axis=1)
    else:
        chosen = sample_choice(-beta * dist, rng)  # multinomial logit, one uniform per record
    return Choices(user=users, features=X, chosen=chosen, n_users=ideal.shape[0])


def make_problem(config: PALSimConfig, seed) -> PALProblem:
    """Sample a ground truth and its seen / held-out / few-shot data from ``seed`` (an integer, or a
    Generator such as ``pluralign.seeding.derive(seed, rep, "problem")``, used as is). The map, the
    prototypes and the users' weights are drawn before the comparisons, so configs that differ only in
    the numbers of comparisons share them."""
    c = config
    c.validate()
    rng = derive(seed, name="seed")
    K, d = c.n_prototypes_true, c.d
    A = rng.normal(0.0, 1.0 / np.sqrt(d), size=(d, d))
    P = _prototypes(K, d, c.min_separation, rng)

    def weights(n):
        if c.setting == "mixture" and c.weights == "dirichlet":
            return rng.dirichlet(np.full(K, c.dirichlet_alpha), size=n)
        if c.setting == "mixture":
            z = rng.normal(size=(n, K))
            e = np.exp(z - z.max(1, keepdims=True))
            return e / e.sum(1, keepdims=True)
        return np.eye(K)[rng.permutation(np.arange(n) % K)]

    w_seen, w_unseen = weights(c.n_seen), weights(c.n_unseen)
    a_seen, a_unseen = w_seen @ P, w_unseen @ P

    def data(n_users, per_user, ideal):
        return _choices(np.repeat(np.arange(n_users), per_user), ideal, A, c.n_options, c.beta, rng, d)

    return PALProblem(
        config=c, A=A, prototypes=P, w_seen=w_seen, w_unseen=w_unseen,
        train=data(c.n_seen, c.n_train, a_seen), test=data(c.n_seen, c.n_test, a_seen),
        unseen_pool=data(c.n_unseen, c.n_pool, a_unseen), unseen_test=data(c.n_unseen, c.n_test, a_unseen),
    )
