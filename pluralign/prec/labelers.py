"""Synthetic labelers and populations for PREC (seed 000, sec. 4.1 and Fig. 3).

A labeler i has preference weights w_i on the simplex over C reward features (C = 3 in seed 000: in the
MuJoCo tasks e.g. forward speed, control effort, posture; in the bandit testbed any three features in
[0, 1]). Given per-step features phi_t in [0, 1]^C of a segment of length T, the labeler scores each step
on a 10-point scale, s_t = 10 * w_i . phi_t, and calls the segment "good" iff its segment score
S = (1/T) sum_t s_t >= 7 (the rational rule; the B-Pref teachers of :mod:`pluralign.bpref` perturb it).
Raw features are mapped to [0, 1] with :func:`normalize_features` (fixed per-feature ranges, clipped).

Populations (seed 000, Fig. 3): user weights are drawn from a mixture of 1-4 Dirichlet modes. Mode m has
a centre c_m on the simplex; a user of mode m draws w ~ Dirichlet(concentration * c_m), so a small
``concentration`` spreads users broadly over the simplex and a large one packs them tightly around the
mode centres (polarized). :data:`POPULATIONS` names the settings we use, from "broad" (one mode at the
barycentre, Dirichlet(1, 1, 1) = uniform on the simplex) to "polarized" (three tight modes near the
vertices). The printed mode centres of Fig. 3 were not on file; ours are stated in :data:`MODE_CENTERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralign.seeding import as_generator

__all__ = [
    "N_FEATURES",
    "GOOD_THRESHOLD",
    "MODE_CENTERS",
    "POPULATIONS",
    "Population",
    "dirichlet_population",
    "make_population",
    "normalize_features",
    "step_scores",
    "segment_scores",
    "rational_labels",
]

N_FEATURES = 3
"""C, the number of reward features (seed 000, sec. 4.1)."""
GOOD_THRESHOLD = 7.0
"""A segment is good iff its 10-point score is >= 7 (seed 000, sec. 4.1)."""

MODE_CENTERS: dict[int, np.ndarray] = {
    1: np.array([[1 / 3, 1 / 3, 1 / 3]]),
    2: np.array([[0.7, 0.15, 0.15], [0.15, 0.15, 0.7]]),
    3: np.array([[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7]]),
    4: np.array([[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7], [1 / 3, 1 / 3, 1 / 3]]),
}
"""Centres of the 1-4 Dirichlet modes (rows on the simplex, C = 3)."""

POPULATIONS: dict[str, tuple[int, float]] = {
    "broad": (1, 3.0),
    "bimodal": (2, 20.0),
    "trimodal": (3, 20.0),
    "polarized": (3, 100.0),
    "four": (4, 20.0),
}
"""Named populations: name -> (number of modes, concentration), from broadly mixed to polarized."""


@dataclass(frozen=True)
class Population:
    """A population of synthetic labelers."""

    weights: np.ndarray
    """(N, C) user weights, rows on the simplex."""
    mode: np.ndarray
    """(N,) the mixture mode each user was drawn from (the ground-truth cluster)."""
    centers: np.ndarray
    """(n_modes, C) the mode centres."""
    concentration: float
    """The Dirichlet concentration of every mode."""

    @property
    def n_users(self) -> int:
        return int(self.weights.shape[0])


def dirichlet_population(
    n_users: int, n_modes: int = 3, concentration: float = 20.0, rng=0, *, centers=None, mode_probs=None
) -> Population:
    """Draw N users from a mixture of Dirichlet modes (seed 000, Fig. 3).

    ``centers`` (n_modes, C) overrides :data:`MODE_CENTERS`; ``mode_probs`` (n_modes,) the mode shares
    (default equal). Every mode gets at least one user when N >= n_modes (modes are assigned by a shuffled
    balanced draw), so the cluster structure exists in small populations too.
    """
    n_users = int(n_users)
    if n_users < 1:
        raise ValueError(f"n_users: must be >= 1, got {n_users}")
    if centers is None:
        if int(n_modes) not in MODE_CENTERS:
            raise ValueError(f"n_modes: must be one of {sorted(MODE_CENTERS)}, got {n_modes}")
        c = MODE_CENTERS[int(n_modes)]
    else:
        c = np.asarray(centers, dtype=float)
        if c.ndim != 2 or c.shape[0] < 1 or np.any(c <= 0) or not np.allclose(c.sum(axis=1), 1.0):
            raise ValueError("centers: expected (n_modes, C) rows with positive entries summing to 1")
    conc = float(concentration)
    if not (conc > 0) or not np.isfinite(conc):
        raise ValueError(f"concentration: must be > 0, got {concentration}")
    n_m = c.shape[0]
    if mode_probs is None:
        p = np.full(n_m, 1.0 / n_m)
    else:
        p = np.asarray(mode_probs, dtype=float)
        if p.shape != (n_m,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
            raise ValueError(f"mode_probs: expected {n_m} non-negative shares summing to 1")
    g = as_generator(rng, "rng")
    counts = np.floor(p * n_users).astype(int)
    rest = n_users - counts.sum()
    if rest:
        counts += np.bincount(g.choice(n_m, size=rest, replace=False if rest <= n_m else True, p=p), minlength=n_m)
    mode = g.permutation(np.repeat(np.arange(n_m), counts))
    w = np.stack([g.dirichlet(conc * c[m]) for m in mode])
    w = np.clip(w, 1e-12, None)
    return Population(weights=w / w.sum(axis=1, keepdims=True), mode=mode, centers=c, concentration=conc)


def make_population(name: str, n_users: int, rng=0) -> Population:
    """A named population of :data:`POPULATIONS`."""
    if name not in POPULATIONS:
        raise ValueError(f"name: must be one of {sorted(POPULATIONS)}, got {name!r}")
    n_modes, conc = POPULATIONS[name]
    return dirichlet_population(n_users, n_modes, conc, rng)


def normalize_features(raw, low, high) -> np.ndarray:
    """Map raw features (..., C) to [0, 1] per feature with fixed ranges [low_c, high_c] (clipped)."""
    x = np.asarray(raw, dtype=float)
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    if x.ndim < 1 or lo.shape != (x.shape[-1],) or hi.shape != lo.shape:
        raise ValueError(f"low/high: expected one bound per feature ({x.shape[-1:]}), got {lo.shape}, {hi.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("raw: contains NaN or inf")
    if np.any(hi <= lo):
        raise ValueError("high: every upper bound must exceed its lower bound")
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _weights_features(weights, features, user):
    w = np.asarray(weights, dtype=float)
    f = np.asarray(features, dtype=float)
    if w.ndim != 2 or np.any(w < -1e-12) or not np.allclose(w.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("weights: expected (N, C) rows on the simplex")
    if f.ndim != 3 or f.shape[2] != w.shape[1]:
        raise ValueError(f"features: expected (M, T, {w.shape[1]}) per-step features, got shape {f.shape}")
    if not np.all(np.isfinite(f)) or f.min() < -1e-12 or f.max() > 1 + 1e-12:
        raise ValueError("features: per-step features must be finite and lie in [0, 1] (see normalize_features)")
    u = np.asarray(user)
    if u.shape != (f.shape[0],) or u.dtype.kind not in "iu" or u.min() < 0 or u.max() >= w.shape[0]:
        raise ValueError(f"user: expected ({f.shape[0]},) integer indices in 0..{w.shape[0] - 1}")
    return w, f, u


def step_scores(weights, features, user) -> np.ndarray:
    """(M, T) 10-point step scores s_t = 10 * w_user . phi_t of segment m rated by ``user[m]``."""
    w, f, u = _weights_features(weights, features, user)
    return 10.0 * np.einsum("mtc,mc->mt", f, w[u])


def segment_scores(weights, features, user) -> np.ndarray:
    """(M,) the segment score S = mean_t s_t on the 10-point scale."""
    return step_scores(weights, features, user).mean(axis=1)


def rational_labels(weights, features, user, threshold: float = GOOD_THRESHOLD) -> np.ndarray:
    """(M,) 1.0 iff S >= threshold (the oracle teacher's label)."""
    return (segment_scores(weights, features, user) >= float(threshold)).astype(float)
