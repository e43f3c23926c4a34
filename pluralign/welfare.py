"""Social welfare of a population's utilities (seed 000, App. C.2).

Given one utility per user (e.g. user i's true return under the policy of the cluster it is assigned
to), three aggregates are reported, as seed 000 App. C.2 prints them
(W_util = (1/N) sum_i r_i, W_egal = Q_0.10(r), W_nash = (prod_i r_i)^(1/N)):

* utilitarian  — the mean utility;
* egalitarian  — the 10th percentile of the utilities, Q_0.10 ("the bottom 10th percentile of the
  individual reward distribution", seed 000 sec. 4.1 and App. C.2); the quantile is the parameter ``q``,
  the paper's 0.1 by default;
* Nash         — the geometric mean, computed in log space as exp(mean_i log u_i).

"Egalitarian" means this quantile everywhere in the package. The minimum utility (the alpha -> -inf
power mean of the social-choice rules) is a different measure and is called ``"maximin"``
(:data:`pluralign.aggregation.social_choice.RULES`); ``egalitarian_welfare(u, q=0)`` equals it.

Nash welfare is only defined for positive utilities. Non-positive values are NOT silently clipped:
:func:`nash_welfare` raises ``ValueError`` unless the caller passes an explicit ``shift`` c, in which case
it returns GM(u + c), the geometric mean of the shifted utilities (every u_i + c must be > 0; the shift
is not subtracted back, because GM(u + c) - c is not a Nash welfare). The shift is part of the definition
the caller chose (say, c = 1 - min return for returns that can be negative): report c with the number.

Every function accepts an array of shape (..., N) and aggregates over the last axis (``axis`` to change
it), so a (seeds x users) array gives one value per seed.
"""

from __future__ import annotations

import numpy as np

from pluralign.theory.validation import as_finite_array

__all__ = ["utilitarian_welfare", "egalitarian_welfare", "nash_welfare", "welfare", "WELFARE_MEASURES"]

WELFARE_MEASURES = ("utilitarian", "egalitarian", "nash")
"""The names of the three measures, in the order :func:`welfare` reports them."""


def _utilities(u, axis: int) -> np.ndarray:
    a = as_finite_array(u, "utilities")
    if a.ndim == 0:
        raise ValueError("utilities: expected an array of per-user utilities, got a scalar")
    if a.shape[axis] == 0:
        raise ValueError("utilities: no users")
    return a


def utilitarian_welfare(u, axis: int = -1) -> np.ndarray | float:
    """The mean utility over users (seed 000, App. C.2)."""
    a = _utilities(u, axis)
    out = a.mean(axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def egalitarian_welfare(u, q: float = 0.1, axis: int = -1) -> np.ndarray | float:
    """W_egal = Q_q(u), the q-quantile of the utilities (default q = 0.1, the 10th percentile printed in
    seed 000, App. C.2). ``q=0`` is the minimum (the ``"maximin"`` rule of the social-choice module).

    Uses numpy's default ('linear') interpolation between order statistics.
    """
    if not 0.0 <= float(q) <= 1.0:
        raise ValueError(f"q: the quantile must lie in [0, 1], got {q}")
    a = _utilities(u, axis)
    out = np.quantile(a, float(q), axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def nash_welfare(u, shift: float | None = None, axis: int = -1) -> np.ndarray | float:
    """The geometric mean exp(mean_i log u_i) in log space (seed 000, App. C.2).

    Utilities must be > 0. With ``shift=c`` the geometric mean of u + c is returned instead (every
    u_i + c must be > 0); without it, any u_i <= 0 raises ``ValueError``. Nothing is clipped silently.
    """
    a = _utilities(u, axis)
    if shift is not None:
        if not np.isfinite(float(shift)):
            raise ValueError(f"shift: must be finite, got {shift}")
        a = a + float(shift)
    if np.any(a <= 0):
        where = "u + shift" if shift is not None else "utilities"
        raise ValueError(
            f"{where}: Nash welfare needs positive utilities, got min {a.min():.6g}; "
            "pass an explicit shift (and report it) for utilities that can be <= 0"
        )
    out = np.exp(np.log(a).mean(axis=axis))
    return float(out) if np.ndim(out) == 0 else out


def welfare(u, q: float = 0.1, shift: float | None = None, axis: int = -1) -> dict:
    """All three measures as ``{"utilitarian", "egalitarian", "nash"}`` (see the module docstring)."""
    return {
        "utilitarian": utilitarian_welfare(u, axis=axis),
        "egalitarian": egalitarian_welfare(u, q=q, axis=axis),
        "nash": nash_welfare(u, shift=shift, axis=axis),
    }
