"""Simulated teachers of B-Pref (Lee et al. 2021), for single-segment good / bad labels (seed 000,
App. C.1) and for the original pairwise comparisons.

Single-segment good / bad teachers (seed 000, App. C.1)
--------------------------------------------------------
A labeler scores every step of a segment of length T on a 10-point scale (``step_scores``, shape (M, T),
see :mod:`pluralign.prec.labelers`). The rational ("oracle") teacher averages the step scores into the
segment score S = (1/T) sum_t s_t and says "good" (label 1) iff S >= tau (tau = 7, seed 000 sec. 4.1).
Each irrational teacher changes that rule in one way:

* ``stochastic`` (beta)  — label ~ Bernoulli(sigma(beta (S - tau)))  (the Bradley-Terry rule of B-Pref,
  with the threshold playing the other segment);
* ``myopic`` (gamma)     — S is replaced by sum_t w_t s_t with w_t = gamma^(T-1-t) / sum_u gamma^(T-1-u):
  the weights sum to 1 (so the score stays on the 10-point scale) and favour the late steps;
* ``mistake`` (eps)      — the rational label is flipped with probability eps;
* ``skip`` (p_skip)      — the label is skipped (``weight`` 0) with probability p_skip;
* ``equal`` (delta)      — the label is 1/2 ("equally good and bad") exactly when |S - tau| < delta;
* ``mixed``              — for every label one of the five types above is drawn uniformly at random and
  applied with its parameter; this is the teacher seed 000 applies to all users.

Table 1 of seed 000 ("B-Pref-style label-noise levels used in our binary-feedback setting") prints the
two noise levels; :data:`LEVELS` holds them as printed (beta, gamma, eps, p_skip, delta): condition 1
(1.00, 0.90, 0.10, 0.10, 0.10), condition 2 (0.50, 0.85, 0.20, 0.25, 0.20). The named presets are ``"oracle"``, ``"noise1"`` (mixed at level 1) and ``"noise2"`` (mixed at
level 2); :func:`make_teacher` also builds any single type at either level (``make_teacher("skip", 2)``).
Teachers return :class:`pluralign.data.Ratings` (label 1/2 for "equal", weight 0 for "skip").

Pairwise teachers (Lee et al. 2021, B-Pref)
-------------------------------------------
For two segments with per-step rewards r0, r1 (M, H): skip the query when max(sum r0, sum r1) <
thres_skip; call it equal when |sum r0 - sum r1| < thres_equal (both on the undiscounted returns, each
threshold applied once); otherwise compare the myopic returns sum_t gamma^(H-1-t) r_t with a
Bradley-Terry coin of temperature beta (rational when beta = inf), then flip with probability
eps_mistake. The thresholds are eps_skip * margin and eps_equal * margin where ``margin`` is the average
return of a segment of length H (B-Pref sets it from the agent's recent returns; here the caller passes it,
by default H times the mean absolute per-step reward of the queried segments). Presets
:data:`PAIRWISE_PRESETS`: oracle, stoc (beta = 1), mistake (eps = 0.1), skip (eps_skip = 0.1), equal
(eps_equal = 0.1), myopic (gamma = 0.9) — B-Pref's six teachers. They return
:class:`pluralign.data.Choices` with two options; an "equal" query becomes two records (chosen 0 and
chosen 1) of weight 1/2 each, so its log-likelihood is B-Pref's uniform-target cross-entropy; a skipped
query keeps one record of weight 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pluralign.choice import rating_prob, sample_btl
from pluralign.data import Choices, Ratings

__all__ = [
    "SINGLE_TYPES",
    "TEACHER_KINDS",
    "TeacherLevel",
    "LEVELS",
    "PRESETS",
    "GoodBadTeacher",
    "make_teacher",
    "myopic_weights",
    "PairwiseTeacher",
    "PAIRWISE_PRESETS",
]

SINGLE_TYPES = ("stochastic", "myopic", "mistake", "skip", "equal")
"""The five irrational single-segment teacher types (drawn uniformly per label by ``mixed``)."""
TEACHER_KINDS = ("oracle",) + SINGLE_TYPES + ("mixed",)
"""Every ``kind`` a :class:`GoodBadTeacher` accepts."""


@dataclass(frozen=True)
class TeacherLevel:
    """One noise level of seed 000's Table 1 (scores on the 10-point scale)."""

    beta: float
    """Stochastic teacher: inverse temperature of sigma(beta (S - tau)), per score point."""
    gamma: float
    """Myopic teacher: discount of earlier steps."""
    eps: float
    """Mistake teacher: probability of flipping the rational label."""
    p_skip: float
    """Skip teacher: probability of skipping (weight 0)."""
    delta: float
    """Equal teacher: half-width of the band |S - tau| < delta labelled 1/2."""


LEVELS: dict[int, TeacherLevel] = {
    1: TeacherLevel(beta=1.00, gamma=0.90, eps=0.10, p_skip=0.10, delta=0.10),
    2: TeacherLevel(beta=0.50, gamma=0.85, eps=0.20, p_skip=0.25, delta=0.20),
}
"""The two noise conditions of seed 000 App. C.1, Table 1, as printed."""

PRESETS = ("oracle", "noise1", "noise2")
"""Named teachers: rational, and the mixed teacher at level 1 and level 2."""


def _prob(x, name: str) -> float:
    x = float(x)
    if not (0.0 <= x <= 1.0):
        raise ValueError(f"{name}: must lie in [0, 1], got {x}")
    return x


def myopic_weights(T: int, gamma: float) -> np.ndarray:
    """w_t = gamma^(T-1-t) / sum_u gamma^(T-1-u), t = 0..T-1: sums to 1, non-decreasing in t (gamma <= 1)."""
    T = int(T)
    if T < 1:
        raise ValueError(f"T: segment length must be >= 1, got {T}")
    g = float(gamma)
    if not (0.0 < g <= 1.0):
        raise ValueError(f"gamma: must lie in (0, 1], got {gamma}")
    logw = (T - 1 - np.arange(T)) * math.log(g)
    w = np.exp(logw - logw.max())
    return w / w.sum()


@dataclass(frozen=True)
class GoodBadTeacher:
    """A B-Pref teacher adapted to single-segment good / bad labels (seed 000, App. C.1).

    ``kind`` picks the rule (see the module docstring); only the parameter of that rule is used
    (``mixed`` uses all five).
    """

    kind: str = "oracle"
    """oracle, stochastic, myopic, mistake, skip, equal or mixed."""
    beta: float = 1.0
    """Stochastic: inverse temperature (per score point)."""
    gamma: float = 0.9
    """Myopic: discount of earlier steps."""
    eps: float = 0.1
    """Mistake: flip probability."""
    p_skip: float = 0.1
    """Skip: skip probability."""
    delta: float = 0.1
    """Equal: half-width of the 'equal' band around tau (default: Table 1's noise condition 1)."""
    tau: float = 7.0
    """Threshold of 'good' on the 10-point score."""

    def __post_init__(self) -> None:
        if self.kind not in TEACHER_KINDS:
            raise ValueError(f"kind: must be one of {TEACHER_KINDS}, got {self.kind!r}")
        if not (float(self.beta) > 0):
            raise ValueError(f"beta: must be > 0, got {self.beta}")
        if not (0.0 < float(self.gamma) <= 1.0):
            raise ValueError(f"gamma: must lie in (0, 1], got {self.gamma}")
        _prob(self.eps, "eps")
        _prob(self.p_skip, "p_skip")
        if not (float(self.delta) >= 0):
            raise ValueError(f"delta: must be >= 0, got {self.delta}")
        if not np.isfinite(float(self.tau)):
            raise ValueError(f"tau: must be finite, got {self.tau}")

    # ---- the core: labels and weights from step scores
    def label_arrays(self, step_scores, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label (M,) in {0, 1/2, 1}, weight (M,) in {0, 1}, kind (M,) the type applied to each label).

        ``step_scores`` (M, T): the labeler's per-step scores of each segment.
        """
        s = np.asarray(step_scores, dtype=float)
        if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
            raise ValueError(f"step_scores: expected a non-empty (segments, T) array, got shape {s.shape}")
        if not np.all(np.isfinite(s)):
            raise ValueError("step_scores: contains NaN or inf")
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng: expected a numpy.random.Generator")
        M, T = s.shape
        S = s.mean(axis=1)
        rational = (S >= self.tau).astype(float)
        if self.kind == "mixed":
            kinds = np.asarray(SINGLE_TYPES, dtype=object)[rng.integers(0, len(SINGLE_TYPES), size=M)]
        else:
            kinds = np.full(M, self.kind, dtype=object)
        # One uniform per label, read by whichever random rule applies to it (stochastic, mistake or skip;
        # a label has one type). sample_rating draws uniforms of its own, so the stochastic rule makes its
        # draw (1 iff U < sigma(beta (S - tau))) on this shared U; for kind="stochastic" the labels equal
        # sample_rating(beta (S - tau), rng) on the same rng (tests/pluralign/test_bpref.py).
        u = rng.random(M)
        label, weight = rational.copy(), np.ones(M)
        m = kinds == "stochastic"
        label[m] = (u[m] < rating_prob(self.beta * (S[m] - self.tau))).astype(float)
        m = kinds == "myopic"
        if m.any():
            label[m] = (s[m] @ myopic_weights(T, self.gamma) >= self.tau).astype(float)
        m = (kinds == "mistake") & (u < self.eps)
        label[m] = 1.0 - label[m]
        m = (kinds == "skip") & (u < self.p_skip)
        weight[m] = 0.0
        m = (kinds == "equal") & (np.abs(S - self.tau) < self.delta)
        label[m] = 0.5
        return label, weight, kinds.astype(str)

    def label(
        self,
        step_scores,
        user,
        rng: np.random.Generator,
        *,
        segment=None,
        features=None,
        n_users: int | None = None,
    ) -> Ratings:
        """Ratings of M segments by their users. ``user`` (M,) user index of each segment; ``segment``
        (M,) segment ids and / or ``features`` (M, T, d) or (M, d) segment features (one is required,
        as for :class:`Ratings`; default ``segment = arange(M)``). A segment id may repeat for one user:
        each query is labelled independently (``allow_duplicates=True``)."""
        label, weight, _ = self.label_arrays(step_scores, rng)
        if segment is None and features is None:
            segment = np.arange(label.shape[0])
        return Ratings(
            user=user, segment=segment, features=features, label=label, weight=weight, n_users=n_users,
            allow_duplicates=True,  # a segment queried twice gets two independent labels
        )


def make_teacher(name: str, level: int = 1, tau: float = 7.0) -> GoodBadTeacher:
    """A named teacher: ``"oracle"``, ``"noise1"`` / ``"noise2"`` (mixed at Table 1's levels), or a single
    type (``"stochastic"``, ``"myopic"``, ``"mistake"``, ``"skip"``, ``"equal"``, ``"mixed"``) at ``level``."""
    if name in ("noise1", "noise2"):
        level, name = int(name[-1]), "mixed"
    if name not in TEACHER_KINDS:
        raise ValueError(f"name: must be one of {PRESETS + TEACHER_KINDS}, got {name!r}")
    if level not in LEVELS:
        raise ValueError(f"level: must be one of {sorted(LEVELS)}, got {level}")
    p = LEVELS[level]
    return GoodBadTeacher(
        kind=name, beta=p.beta, gamma=p.gamma, eps=p.eps, p_skip=p.p_skip, delta=p.delta, tau=tau
    )


# --------------------------------------------------------------------------- pairwise (Lee et al. 2021)
@dataclass(frozen=True)
class PairwiseTeacher:
    """B-Pref's simulated teacher for pairwise comparisons of two segments (Lee et al. 2021)."""

    beta: float = math.inf
    """Bradley-Terry inverse temperature; inf = rational (argmax)."""
    gamma: float = 1.0
    """Myopic discount of earlier steps (1 = not myopic)."""
    eps_mistake: float = 0.0
    """Probability of flipping the label."""
    eps_skip: float = 0.0
    """Skip queries whose better return is below eps_skip * margin (0 = never skip)."""
    eps_equal: float = 0.0
    """Call queries equal when the returns differ by less than eps_equal * margin (0 = never)."""

    def __post_init__(self) -> None:
        if not (float(self.beta) > 0):
            raise ValueError(f"beta: must be > 0 (inf = rational), got {self.beta}")
        if not (0.0 < float(self.gamma) <= 1.0):
            raise ValueError(f"gamma: must lie in (0, 1], got {self.gamma}")
        _prob(self.eps_mistake, "eps_mistake")
        if not (float(self.eps_skip) >= 0) or not (float(self.eps_equal) >= 0):
            raise ValueError("eps_skip / eps_equal: must be >= 0")

    def label_arrays(self, r0, r1, rng: np.random.Generator, margin: float | None = None):
        """(preferred (M,) in {0, 1}, equal (M,) bool, skip (M,) bool) for per-step rewards r0, r1 (M, H)."""
        a = np.asarray(r0, dtype=float)
        b = np.asarray(r1, dtype=float)
        if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
            raise ValueError(f"r0: expected a non-empty (queries, H) array, got shape {a.shape}")
        if b.shape != a.shape:
            raise ValueError(f"r1: shape mismatch, expected {a.shape}, got {b.shape}")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            raise ValueError("r0 / r1: contain NaN or inf")
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng: expected a numpy.random.Generator")
        M, H = a.shape
        if margin is None:
            margin = H * float(np.mean(np.abs(np.concatenate([a, b]))))
        margin = float(margin)
        if not np.isfinite(margin) or margin < 0:
            raise ValueError(f"margin: must be finite and >= 0, got {margin}")
        R0, R1 = a.sum(axis=1), b.sum(axis=1)
        skip = (np.maximum(R0, R1) < self.eps_skip * margin) if self.eps_skip > 0 else np.zeros(M, bool)
        equal = (np.abs(R0 - R1) < self.eps_equal * margin) if self.eps_equal > 0 else np.zeros(M, bool)
        w = float(self.gamma) ** (H - 1 - np.arange(H))  # B-Pref's myopic discount gamma^(H-1-t)
        D0, D1 = a @ w, b @ w
        if math.isinf(self.beta):
            pref = (D1 > D0).astype(int)
            u = rng.random(M)
        else:
            pref = sample_btl(self.beta * D1, self.beta * D0, rng)  # 1 = segment 1 wins, one uniform each
            u = rng.random(M)
        flip = u < self.eps_mistake
        pref[flip] = 1 - pref[flip]
        return pref, equal & ~skip, skip

    def label(self, r0, r1, user, rng: np.random.Generator, *, margin=None, options=None, n_users=None) -> Choices:
        """Choices of M queries (two options each); see the module docstring for equal / skip records.
        ``options`` (M, 2) segment ids (default [2q, 2q + 1]); ``context`` is the query index."""
        pref, equal, skip = self.label_arrays(r0, r1, rng, margin)
        M = pref.shape[0]
        user = np.asarray(user)
        if user.shape != (M,):
            raise ValueError(f"user: expected shape ({M},), got {user.shape}")
        opts = np.stack([2 * np.arange(M), 2 * np.arange(M) + 1], axis=1) if options is None else np.asarray(options)
        if opts.shape != (M, 2):
            raise ValueError(f"options: expected shape ({M}, 2), got {opts.shape}")
        q = np.concatenate([np.arange(M), np.flatnonzero(equal)])
        chosen = np.concatenate([pref, np.zeros(int(equal.sum()), dtype=int)])
        weight = np.where(skip, 0.0, 1.0)[q]
        first_eq = np.flatnonzero(equal)
        chosen[first_eq] = 1
        weight[first_eq] = 0.5
        weight[M:] = 0.5
        return Choices(
            user=user[q], context=q, options=opts[q], chosen=chosen, weight=weight, n_users=n_users
        )


PAIRWISE_PRESETS: dict[str, PairwiseTeacher] = {
    "oracle": PairwiseTeacher(),
    "stoc": PairwiseTeacher(beta=1.0),
    "mistake": PairwiseTeacher(eps_mistake=0.1),
    "skip": PairwiseTeacher(eps_skip=0.1),
    "equal": PairwiseTeacher(eps_equal=0.1),
    "myopic": PairwiseTeacher(gamma=0.9),
}
"""B-Pref's six teachers with the parameters of Lee et al. (2021)."""
