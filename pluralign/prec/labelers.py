"""Synthetic labelers and populations for PREC (seed 000, sec. 4.1, App. C.1 and Fig. 3).

A labeler i has preference weights w_i on the simplex over C reward features (C = 3 in seed 000: the top
three PCA features f1, f2, f3 of the MuJoCo state-action data; in the bandit testbed any three features
in [0, 1]). Raw features are mapped to [0, 1] with :func:`normalize_features` (fixed per-feature ranges,
clipped), so a step's features are phi_t in [0, 1]^C.

Scoring (the reading of seed 000 this package implements). App. C.1 prints the segment score as the sum
S_{i,m} = sum_t r_i(s_t, a_t) of a user-specific per-step reward and the label y = 1{S_{i,m} >= tau_i}
with a *user-specific* threshold tau_i; sec. 4.1 prints "trajectories receiving a score of 7 or higher
(on a 10-point scale) are labeled as good". Neither prints r_i or tau_i. We read them as follows:

* r_i(s, a) = <w_i, phi(s, a)>, the per-step version of App. C.2's individual reward <w_i, f>, so
  S_{i,m} = sum_t <w_i, phi_t> in [0, T];
* "a 10-point scale" is the user's own scale: user i's score of a segment is
  10 (S/T - lo_i) / (hi_i - lo_i), where [lo_i, hi_i] is the range of S/T over the reference segments
  (all T-step windows of the offline data in the MuJoCo pipeline, the pool's behaviours in the bandit
  twin): the user's worst segment of the data scores 0 and its best 10 (:func:`user_score_range`);
* so tau_i = T (lo_i + 0.7 (hi_i - lo_i)) (:func:`user_thresholds`): "score >= 7" and
  "S_{i,m} >= tau_i" are the same rule, and tau_i is user-specific because users' ranges differ.

Why this reading: it is the only one we found under which both printed statements hold at once with a
genuinely user-specific tau_i. A fixed threshold of 7 on 10 <w_i, phi> (the package's earlier reading)
makes tau_i the same for every user and leaves users whose favoured feature is rarely high with almost no
"good" label. The B-Pref parameters of Table 1 (beta per score point, delta in score points) act on the
10-point score, and App. C.1's myopic score sum_t w_t r_i with weights summing to 1 is a weighted mean,
which is on the same scale only if S is read per step: the teachers of :mod:`pluralign.bpref` therefore
take the (M, T) per-step 10-point scores of :func:`step_scores` and average them. The per-step score
s_t = 10 (<w_i, phi_t> - lo_i) / (hi_i - lo_i) may leave [0, 10] for a single step; segment scores of the
reference segments lie in [0, 10]. Without ``scale`` :func:`step_scores` is 10 <w_i, phi_t> (the scale
[0, 1] for every user).

Populations (seed 000, Fig. 3): user weights are drawn from a mixture of 1-4 Dirichlet modes. Mode m has
a centre c_m on the simplex; a user of mode m draws w ~ Dirichlet(concentration * c_m), so a small
``concentration`` spreads users broadly over the simplex and a large one packs them tightly around the
mode centres (polarized). :data:`POPULATIONS` names the settings we use, from "broad" (one mode at the
barycentre, Dirichlet(1, 1, 1) = uniform on the simplex; :data:`DEFAULT_POPULATION`, sec. 4.3's
"approximately uniform preference distributions" of Fig. 2) to "polarized" (three tight modes near the
vertices). The printed mode centres of Fig. 3 were not on file; ours are stated in :data:`MODE_CENTERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralign.seeding import as_generator

__all__ = [
    "N_FEATURES",
    "GOOD_THRESHOLD",
    "DEFAULT_POPULATION",
    "MODE_CENTERS",
    "POPULATIONS",
    "Population",
    "dirichlet_population",
    "make_population",
    "normalize_features",
    "step_scores",
    "segment_scores",
    "user_score_range",
    "user_thresholds",
    "rational_labels",
]

N_FEATURES = 3
"""C, the number of reward features (seed 000, sec. 4.1)."""
GOOD_THRESHOLD = 7.0
"""A segment is good iff its score on the user's 10-point scale is >= 7 (seed 000, sec. 4.1)."""

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

DEFAULT_POPULATION = "broad"
"""The population of Fig. 2 (sec. 4.3: "approximately uniform preference distributions"): Dirichlet(1, 1, 1),
uniform on the simplex. The default of the MuJoCo pipeline and of its bandit twin."""


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


def _check_scale(scale, n_users: int):
    lo, hi = (np.asarray(x, dtype=float) for x in scale)
    if lo.shape != (n_users,) or hi.shape != (n_users,):
        raise ValueError(f"scale: expected (lo, hi) with one entry per user ({n_users}), got {lo.shape}, {hi.shape}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or np.any(hi <= lo):
        raise ValueError("scale: every user's hi must be finite and exceed its lo")
    return lo, hi


def step_scores(weights, features, user, scale=None) -> np.ndarray:
    """(M, T) 10-point step scores of segment m rated by ``user[m]``: s_t = 10 (w_u . phi_t - lo_u) /
    (hi_u - lo_u) with ``scale = (lo, hi)`` from :func:`user_score_range` (each user's own 10-point
    scale, the reading of App. C.1 in the module docstring), or s_t = 10 w_u . phi_t without ``scale``."""
    w, f, u = _weights_features(weights, features, user)
    r = np.einsum("mtc,mc->mt", f, w[u])
    if scale is None:
        return 10.0 * r
    lo, hi = _check_scale(scale, w.shape[0])
    return 10.0 * (r - lo[u, None]) / (hi[u] - lo[u])[:, None]


def segment_scores(weights, features, user, scale=None) -> np.ndarray:
    """(M,) the segment score S = mean_t s_t on the 10-point scale (see :func:`step_scores`)."""
    return step_scores(weights, features, user, scale).mean(axis=1)


def rational_labels(weights, features, user, threshold: float = GOOD_THRESHOLD, scale=None) -> np.ndarray:
    """(M,) 1.0 iff S >= threshold (the oracle teacher's label)."""
    return (segment_scores(weights, features, user, scale) >= float(threshold)).astype(float)


def user_score_range(weights, reference_phi) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi), each (N,): the range of user i's mean per-step reward (1/T) sum_t <w_i, phi_t> over the
    reference segments, given as their (S, C) time-mean features ``reference_phi`` (the user's own
    10-point scale: 0 at its worst reference segment, 10 at its best). A user for whom every reference
    segment is equally good gets hi = lo + 1e-12 (every segment then scores 0)."""
    w = np.asarray(weights, dtype=float)
    ref = np.asarray(reference_phi, dtype=float)
    if w.ndim != 2 or np.any(w < -1e-12) or not np.allclose(w.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("weights: expected (N, C) rows on the simplex")
    if ref.ndim != 2 or ref.shape[1] != w.shape[1] or ref.shape[0] < 1:
        raise ValueError(f"reference_phi: expected (S, {w.shape[1]}) segment-mean features, got shape {ref.shape}")
    if not np.all(np.isfinite(ref)):
        raise ValueError("reference_phi: contains NaN or inf")
    r = ref @ w.T  # (S, N)
    lo, hi = r.min(axis=0), r.max(axis=0)
    return lo, np.maximum(hi, lo + 1e-12)


def user_thresholds(scale, segment_len: int, threshold: float = GOOD_THRESHOLD) -> np.ndarray:
    """(N,) App. C.1's user-specific thresholds tau_i on the cumulative score S = sum_t <w_i, phi_t>:
    tau_i = T (lo_i + threshold / 10 (hi_i - lo_i)), so that S >= tau_i iff the 10-point score >= threshold."""
    lo, hi = (np.asarray(x, dtype=float) for x in scale)
    if int(segment_len) < 1:
        raise ValueError(f"segment_len: must be >= 1, got {segment_len}")
    return int(segment_len) * (lo + float(threshold) / 10.0 * (hi - lo))
