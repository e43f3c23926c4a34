"""The one way randomness enters pluralign: an explicit seed, and children derived from it.

One scheme, everywhere. A run has one base seed (``--seed``). Every random stream of the run is a child
of it, named by a tuple of keys, and derived by :class:`numpy.random.SeedSequence` spawning::

    derive(seed, k1, k2, ...)  ==  default_rng(SeedSequence(seed).spawn(k1 + 1)[k1].spawn(k2 + 1)[k2] ...)

that is ``SeedSequence(entropy=seed, spawn_key=(k1, k2, ...))``: the same child that NumPy's own
``spawn`` hands out, so streams with different keys are independent and a stream never depends on how
many others were drawn before it. A key is a non-negative integer or a string (a string is mapped to
an integer by CRC-32, stable across processes, machines and Python versions). Torch generators and the
integer seeds that other libraries want (scikit-learn, stable-baselines3) come from the same child
(:func:`torch_generator`, :func:`derive_int`). Nothing in the package touches a global RNG, and ``None``
is refused: results must be reproducible from the arguments alone.

This module is the only place in the package that calls ``numpy.random.default_rng``.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["as_generator", "derive", "derive_int", "seed_sequence", "spawn", "torch_generator"]


def _key(k, name: str) -> int:
    if isinstance(k, str):
        return zlib.crc32(k.encode("utf-8"))
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and int(k) >= 0:
        return int(k)
    raise ValueError(f"{name}: a seed key must be a non-negative integer or a string, got {k!r}")


def _base(seed, name: str) -> int:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if int(seed) < 0:
            raise ValueError(f"{name}: a seed must be a non-negative integer, got {seed!r}")
        return int(seed)
    raise ValueError(f"{name}: expected a non-negative integer seed, got {seed!r}")


def seed_sequence(seed, *keys, name: str = "seed") -> np.random.SeedSequence:
    """The :class:`numpy.random.SeedSequence` of the child ``keys`` of base ``seed`` (no keys: the base).

    ``seed`` may also be a :class:`~numpy.random.SeedSequence`, whose spawn key is extended by ``keys``.
    """
    ks = tuple(_key(k, name) for k in keys)
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + ks,
                                      pool_size=seed.pool_size)
    return np.random.SeedSequence(_base(seed, name), spawn_key=ks)


def as_generator(seed, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from an integer seed, a ``SeedSequence``, or a Generator (used as is).

    ``None`` is refused. ``as_generator(s)`` for an integer ``s`` is ``default_rng(s)``.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(_base(seed, name))
    raise ValueError(f"{name}: expected a numpy.random.Generator or an integer seed, got {seed!r}")


def derive(seed, *keys, name: str = "seed") -> np.random.Generator:
    """The Generator of child ``keys`` of base ``seed`` (see the module docstring).

    If ``seed`` is already a Generator it is returned as is and ``keys`` are ignored: a caller that hands
    in its own stream keeps control of it.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed_sequence(seed, *keys, name=name))


def spawn(seed, n: int, name: str = "seed") -> list[np.random.Generator]:
    """``n`` independent Generators: the children ``0 .. n-1`` of ``seed`` (``derive(seed, i)``)."""
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(int(n)))
    return [derive(seed, i, name=name) for i in range(int(n))]


def derive_int(seed, *keys, name: str = "seed") -> int:
    """A 32-bit integer seed for child ``keys`` of ``seed``, for libraries that take an integer
    (scikit-learn's ``random_state``, stable-baselines3, gymnasium's ``reset(seed=)``). A Generator draws it."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**31 - 1))
    return int(seed_sequence(seed, *keys, name=name).generate_state(1, np.uint32)[0] >> 1)


def torch_generator(seed, *keys, device: str = "cpu", name: str = "seed"):
    """A ``torch.Generator`` seeded from child ``keys`` of ``seed`` (never torch's global generator)."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(derive_int(seed, *keys, name=name))
    return g
