"""Reward aggregation by social choice: the power-mean (alpha) family, leximin and Borda (seed 003).

Seed 003 (a summary of Park et al. 2024, "RLHF from heterogeneous feedback via personalization and
preference aggregation") says only that the aggregation-based framework "uses social choice theory to
aggregate individual reward" models and that the result should "satisfy important axioms" ("six pivotal
axioms", not named there); it prints no rule. This module aggregates N users' rewards r_1(x), ..., r_N(x)
of a response x into one reward with the classical power mean

    M_alpha(r(x)) = ( sum_i w_i r_i(x)^alpha )^(1 / alpha),       w_i >= 0, sum_i w_i = 1,

whose members are the classical welfare functions:

* alpha = 1       utilitarian   (the weighted mean; any real rewards);
* alpha -> 0      Nash          (the weighted geometric mean prod_i r_i^w_i, computed in log space);
* alpha -> -inf   maximin       (the minimum: Rawls' maximin criterion; refined lexicographically by
                                 *leximin*);
* alpha -> +inf   the maximum.

Vocabulary: the package says "egalitarian" only for seed 000's welfare measure, the 10th percentile
W_egal = Q_0.10(r) of App. C.2 (:func:`pluralign.welfare.egalitarian_welfare`). The alpha -> -inf member
here is the minimum and is called ``"maximin"``; the seed 003 summary on file names neither.

For alpha != 1 rewards must be non-negative: they are utilities above a disagreement point (shift them
with ``baseline``; the shift is part of the rule and must be reported). The family is the one singled out
by the classical characterization of welfare orderings (anonymity, Pareto, continuity, independence of
unconcerned users / separability and invariance to a *common* rescaling: Roberts 1980; Moulin 1988,
"Axioms of cooperative decision making", ch. 2). Whether these are the paper's six axioms cannot be
checked from the summary on file, so the citations here are to the classical sources.

What each member satisfies (each line is a test in ``tests/pluralign/test_social_choice.py``; "x" marks
a counterexample test):

=========================  ==========  ====  ===========  =======  =======
axiom                      util (1)    Nash  alpha in     maximin  leximin
                                       (0)   (-inf,1)\\{0}
=========================  ==========  ====  ===========  =======  =======
anonymity                  yes         yes   yes          yes      yes
unanimity (M(c,...,c)=c)   yes         yes   yes          yes      --
strong Pareto              yes         yes*  yes*         x        yes
monotonicity (weak)        yes         yes   yes          yes      yes
common-scale invariance    yes         yes   yes          yes      yes
per-user scale invariance  x           yes   x            x        x
per-user shift invariance  yes         x     x            x        x
independence of            yes         yes*  yes*         x        yes
unconcerned users
Pigou-Dalton transfers     indiff.     yes   yes          weak     yes
=========================  ==========  ====  ===========  =======  =======

(* for strictly positive rewards; with a zero reward Nash and alpha < 0 collapse to 0.)
Borda is anonymous and Pareto but fails independence of irrelevant alternatives (each tested, the last by
a counterexample).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from pluralign.theory.validation import as_finite_array

__all__ = [
    "RULES",
    "power_mean",
    "log_power_mean",
    "aggregate_rewards",
    "leximin_order",
    "leximin_compare",
    "borda_scores",
    "social_argmax",
]

RULES = {"utilitarian": 1.0, "nash": 0.0, "maximin": -np.inf, "max": np.inf}
"""Named members of the family and their alpha ("maximin" = the minimum, alpha -> -inf)."""


def _alpha(alpha) -> float:
    if isinstance(alpha, str):
        if alpha not in RULES:
            raise ValueError(f"alpha: unknown rule {alpha!r}; use a number or one of {sorted(RULES)}")
        return RULES[alpha]
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha: expected a number or a rule name, got {alpha!r}") from None
    if np.isnan(a):
        raise ValueError("alpha: is NaN")
    return a


def _prepare(u, weights, axis: int, alpha: float, baseline):
    a = as_finite_array(u, "rewards")
    if a.ndim == 0:
        raise ValueError("rewards: expected an array with a users axis, got a scalar")
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    if n == 0:
        raise ValueError("rewards: no users")
    if baseline is not None:
        b = np.asarray(baseline, dtype=float)
        if not np.all(np.isfinite(b)):
            raise ValueError("baseline: contains NaN or inf")
        a = a - b
    if weights is None:
        w = np.full(n, 1.0 / n)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (n,):
            raise ValueError(f"weights: expected shape ({n},), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights: must be finite, non-negative and not all zero")
        if abs(w.sum() - 1.0) > 1e-9:  # one policy with the opinion pools: never renormalized silently
            raise ValueError(f"weights: must sum to 1, got {w.sum():.12g} (pass weights / weights.sum())")
    if alpha != 1.0 and np.any(a[..., w > 0] < 0):
        raise ValueError(
            f"rewards: the power mean with alpha={alpha} needs non-negative rewards (utilities above a "
            "disagreement point); pass baseline= to shift them, or use alpha=1"
        )
    return a, w


def log_power_mean(u, alpha, weights=None, axis: int = -1, baseline=None) -> np.ndarray:
    """log M_alpha over ``axis`` (users), computed in log space: finite for utilities whose product
    under- or overflows. alpha = 1 needs a positive mean (its log)."""
    al = _alpha(alpha)
    a, w = _prepare(u, weights, axis, al, baseline)
    act = w > 0
    a, w = a[..., act], w[act]
    with np.errstate(divide="ignore"):
        la = np.log(a)  # -inf at zero utilities
    lw = np.log(w)
    if al == -np.inf:
        return la.min(axis=-1)
    if al == np.inf:
        return la.max(axis=-1)
    if al == 0.0:
        return np.sum(w * la, axis=-1)  # weights > 0 here, so 0 * -inf never occurs
    if al < 0:
        # a zero utility sends u^alpha to +inf and the mean to 0
        zero = np.isneginf(la).any(axis=-1)
        safe = np.where(np.isfinite(la), la, 0.0)
        out = logsumexp(al * safe + lw, axis=-1) / al
        return np.where(zero, -np.inf, out)
    with np.errstate(divide="ignore"):
        return logsumexp(al * la + lw, axis=-1) / al


def power_mean(u, alpha, weights=None, axis: int = -1, baseline=None) -> np.ndarray | float:
    """The weighted power mean M_alpha of the rewards along ``axis`` (the users axis).

    ``alpha``: a number in [-inf, inf] or a name in :data:`RULES`. ``weights``: non-negative and summing
    to 1 (default uniform; users with weight 0 are ignored); weights that do not sum to 1 raise a
    ``ValueError`` naming ``weights``, as in the opinion pools (:mod:`pluralign.aggregation.pooling`) —
    relative weights (e.g. counts) are never renormalized silently. ``baseline``: subtracted first (the
    disagreement point). alpha = 1 accepts any real rewards; other alphas need rewards >= 0.
    """
    al = _alpha(alpha)
    if al == 1.0:
        a, w = _prepare(u, weights, axis, al, baseline)
        out = a @ w
    elif np.isinf(al):
        a, w = _prepare(u, weights, axis, al, baseline)
        a = a[..., w > 0]
        out = a.min(axis=-1) if al < 0 else a.max(axis=-1)
    else:
        out = np.exp(log_power_mean(u, al, weights, axis, baseline))
    return float(out) if np.ndim(out) == 0 else out


def _check_users_axis(R: np.ndarray, n_users, n_items) -> None:
    for val, ax, what in ((n_users, 0, "n_users"), (n_items, 1, "n_items")):
        if val is not None and R.shape[ax] != int(val):
            raise ValueError(f"R: expected (n_users, n_items) = ({n_users}, {n_items}), got shape {R.shape} "
                             f"(axis {ax} has {R.shape[ax]} != {what}; transposed?)")


def aggregate_rewards(R, alpha, weights=None, baseline=None, *, n_users=None, n_items=None) -> np.ndarray:
    """The aggregate reward of each item: ``R`` is (n_users, n_items) — users on axis 0 — and the result
    is (n_items,). Pass ``n_users`` (and / or ``n_items``) to have the shape checked: a transposed matrix
    then raises a ``ValueError`` naming ``R`` instead of being aggregated over the wrong axis. ``weights``
    (n_users,) must sum to 1 (see :func:`power_mean`)."""
    R = np.asarray(R, dtype=float)
    if R.ndim != 2:
        raise ValueError(f"R: expected (n_users, n_items), got shape {R.shape}")
    _check_users_axis(R, n_users, n_items)
    b = None if baseline is None else np.broadcast_to(np.asarray(baseline, dtype=float).reshape(-1, 1), R.shape)
    return np.atleast_1d(power_mean(R, alpha, weights=weights, axis=0, baseline=b))


def leximin_compare(u, v) -> int:
    """+1 if utility profile u is leximin-better than v, -1 if worse, 0 if equally good: compare the
    sorted (ascending) profiles lexicographically (the worst-off first, then the second worst, ...)."""
    su, sv = np.sort(np.asarray(u, dtype=float)), np.sort(np.asarray(v, dtype=float))
    if su.shape != sv.shape or su.ndim != 1:
        raise ValueError(f"v: profiles must be 1-d of the same length, got {su.shape} and {sv.shape}")
    diff = np.flatnonzero(su != sv)
    if diff.size == 0:
        return 0
    return 1 if su[diff[0]] > sv[diff[0]] else -1


def leximin_order(R) -> np.ndarray:
    """Items ordered from leximin-best to leximin-worst. ``R`` is (n_users, n_items). Ties keep the
    lower index first."""
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or not np.all(np.isfinite(R)):
        raise ValueError(f"R: expected a finite (n_users, n_items) array, got shape {R.shape}")
    S = np.sort(R, axis=0)  # column j: item j's profile, worst-off first
    # np.lexsort sorts by the LAST key first; we want the worst-off (row 0) to be the primary key,
    # larger is better -> sort by -S; the item index is the final tie-break.
    keys = [np.arange(R.shape[1])] + [-S[k] for k in range(S.shape[0] - 1, -1, -1)]
    return np.lexsort(keys)


def borda_scores(R) -> np.ndarray:
    """Borda count of each item: for each user, the number of items it strictly prefers the item to, plus
    half the number of ties (excluding itself); summed over users. ``R`` is (n_users, n_items)."""
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or not np.all(np.isfinite(R)):
        raise ValueError(f"R: expected a finite (n_users, n_items) array, got shape {R.shape}")
    below = (R[:, :, None] > R[:, None, :]).sum(axis=2)
    ties = (R[:, :, None] == R[:, None, :]).sum(axis=2) - 1
    return (below + 0.5 * ties).sum(axis=0).astype(float)


def social_argmax(R, rule, weights=None, baseline=None, *, n_users=None) -> int:
    """The item a rule picks: ``rule`` is an alpha / name in :data:`RULES`, ``"leximin"`` or ``"borda"``.
    Ties go to the lowest index."""
    if isinstance(rule, str) and rule == "leximin":
        return int(leximin_order(R)[0])
    if isinstance(rule, str) and rule == "borda":
        return int(np.argmax(borda_scores(R)))
    R = np.asarray(R, dtype=float)
    if R.ndim == 2:
        _check_users_axis(R, n_users, None)
    return int(np.argmax(aggregate_rewards(R, rule, weights=weights, baseline=baseline)))
