"""Input checks shared by the theory routines and the package (a ValueError naming the field, never a deep
traceback). ``pluralign`` reads numeric input through :func:`as_finite_array` too."""

from __future__ import annotations

import numpy as np


def as_finite_array(x, name: str, ndim: int | None = None, dtype=float) -> np.ndarray:
    """Return ``x`` as a numpy array, raising ``ValueError`` naming ``name`` if it is not finite or of the
    wrong dimension."""
    try:
        a = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot be read as a numeric array ({exc})") from None
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {a.shape}")
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: contains NaN or inf")
    return a


def as_probability_vector(p, name: str, size: int | None = None, atol: float = 1e-8) -> np.ndarray:
    """A 1-d non-negative vector summing to one (within ``atol``)."""
    a = as_finite_array(p, name, ndim=1)
    if size is not None and a.shape[0] != size:
        raise ValueError(f"{name}: expected length {size}, got {a.shape[0]}")
    if np.any(a < 0):
        raise ValueError(f"{name}: has negative entries")
    if abs(a.sum() - 1.0) > atol:
        raise ValueError(f"{name}: must sum to 1, sums to {a.sum():.6g}")
    return a
