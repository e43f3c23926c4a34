"""The one way randomness enters pluralign: an explicit seed or ``numpy.random.Generator``."""

from __future__ import annotations

import numpy as np


def as_generator(seed, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from an integer seed (or the Generator itself, used as is).

    ``None`` is refused: results must be reproducible from the arguments alone.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise ValueError(f"{name}: expected a numpy.random.Generator or an integer seed, got {seed!r}")
