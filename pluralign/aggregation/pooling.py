"""Probabilistic opinion pooling (seed 003, the opinion-pooling part of preference aggregation).

Each of n labelers reports a distribution p_i over K answers (e.g. over which of K responses is best);
a pool maps the profile (p_1, ..., p_n) and weights w (w_i >= 0, sum 1) to one distribution:

* linear pool       q = sum_i w_i p_i                                   (Stone 1961)
* logarithmic pool  q  propto  prod_i p_i^w_i                            (Winkler 1968; Genest 1984)
* power pool        q  propto  (sum_i w_i p_i^alpha)^(1/alpha)           (the family between them:
  alpha = 1 is linear, alpha -> 0 the log pool, alpha -> -inf the normalized minimum; it is the
  power-mean welfare of :mod:`~pluralign.aggregation.social_choice` applied answer by answer, then
  normalized, and is computed with it in log space).

Properties implemented as tests (``tests/pluralign/test_pooling.py``):

* unanimity — every member of the family returns p when all labelers report p;
* external Bayesianity of the log pool (Madansky 1964; Genest 1984): updating every p_i on a common
  likelihood l and pooling equals pooling and updating, when sum_i w_i = 1; the linear pool fails it;
* the marginalization property of the linear pool (McConway 1981): pooling then coarsening answers into
  groups equals coarsening then pooling; the log pool fails it;
* zero preservation of the log pool: an answer some labeler (with w_i > 0) rules out gets 0;
* variational forms: the linear pool minimizes sum_i w_i KL(p_i || q), the log pool minimizes
  sum_i w_i KL(q || p_i) over the simplex (Abbas 2009), checked against a numerical optimizer.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from pluralign.aggregation.social_choice import log_power_mean
from pluralign.theory.validation import as_finite_array

__all__ = [
    "validate_distributions",
    "linear_pool",
    "log_pool",
    "power_pool",
    "coarsen",
    "bayes_update",
    "kl_divergence",
]


def validate_distributions(P, name: str = "distributions", atol: float = 1e-8) -> np.ndarray:
    """An (n, K) array of distributions (a single (K,) distribution becomes (1, K)): finite,
    non-negative, rows summing to 1 within ``atol`` (then renormalized exactly). ValueError otherwise."""
    a = as_finite_array(P, name)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] < 1:
        raise ValueError(f"{name}: expected (labelers, answers), got shape {a.shape}")
    if np.any(a < 0):
        raise ValueError(f"{name}: negative probability")
    s = a.sum(axis=1)
    if np.any(np.abs(s - 1.0) > atol):
        bad = int(np.argmax(np.abs(s - 1.0)))
        raise ValueError(f"{name}: row {bad} sums to {s[bad]:.12g}, not 1")
    return a / s[:, None]


def _weights(weights, n: int, sum_to_one: bool = True) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"weights: expected shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights: must be finite, non-negative and not all zero")
    if sum_to_one and abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"weights: must sum to 1, got {w.sum():.12g}")
    return w


def _normalize_log(lq: np.ndarray) -> np.ndarray:
    if np.all(np.isneginf(lq)):
        raise ValueError(
            "distributions: the pool is undefined: every answer is ruled out by some labeler (disjoint supports)"
        )
    return np.exp(lq - logsumexp(lq))


def linear_pool(P, weights=None) -> np.ndarray:
    """q = sum_i w_i p_i (weights sum to 1; default uniform)."""
    P = validate_distributions(P)
    return _weights(weights, P.shape[0]) @ P


def log_pool(P, weights=None) -> np.ndarray:
    """q propto prod_i p_i^w_i, in log space. Weights need only be non-negative (a 'generalized' log
    pool); the pool is externally Bayesian exactly when they sum to 1."""
    P = validate_distributions(P)
    w = _weights(weights, P.shape[0], sum_to_one=False)
    act = w > 0
    with np.errstate(divide="ignore"):
        lp = np.log(P[act])
    return _normalize_log(w[act] @ lp if np.all(np.isfinite(lp)) else _wsum_log(w[act], lp))


def _wsum_log(w: np.ndarray, lp: np.ndarray) -> np.ndarray:
    out = (w[:, None] * np.where(np.isfinite(lp), lp, 0.0)).sum(axis=0)
    return np.where(np.isneginf(lp).any(axis=0), -np.inf, out)


def power_pool(P, alpha, weights=None) -> np.ndarray:
    """q propto (sum_i w_i p_i^alpha)^(1/alpha): alpha = 1 linear, 0 logarithmic, -inf normalized min,
    +inf normalized max (weights sum to 1)."""
    P = validate_distributions(P)
    w = _weights(weights, P.shape[0])
    return _normalize_log(np.atleast_1d(log_power_mean(P, alpha, weights=w, axis=0)))


def coarsen(p, groups) -> np.ndarray:
    """The marginal of distribution(s) ``p`` (..., K) on a partition of the K answers: ``groups`` is a
    length-K array of group labels 0..G-1 (every label used)."""
    p = np.asarray(p, dtype=float)
    g = np.asarray(groups)
    if g.shape != (p.shape[-1],) or g.dtype.kind not in "iu" or g.min() < 0:
        raise ValueError(f"groups: expected {p.shape[-1]} non-negative integer labels, got {g!r}")
    G = int(g.max()) + 1
    if np.setdiff1d(np.arange(G), g).size:
        raise ValueError("groups: labels must be 0..G-1 with every label used")
    return p @ np.eye(G)[g]


def bayes_update(P, likelihood) -> np.ndarray:
    """Each row of P updated on a common likelihood l >= 0 (K,): p(k) l(k) / sum_j p(j) l(j)."""
    P = validate_distributions(P)
    lik = np.asarray(likelihood, dtype=float)
    if lik.shape != (P.shape[1],) or not np.all(np.isfinite(lik)) or np.any(lik < 0):
        raise ValueError(f"likelihood: expected {P.shape[1]} finite non-negative values")
    Q = P * lik
    s = Q.sum(axis=1, keepdims=True)
    if np.any(s <= 0):
        raise ValueError("likelihood: a labeler gives the observation probability 0")
    return Q / s


def kl_divergence(p, q) -> float:
    """KL(p || q) with 0 log 0 = 0 (inf where q = 0 < p)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    m = p > 0
    if np.any(q[m] <= 0):
        return float("inf")
    return float(np.sum(p[m] * (np.log(p[m]) - np.log(q[m]))))
