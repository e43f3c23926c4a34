"""Timing on a shared machine for the benchmarks: each method is run ``repeats`` times, interleaved (the
order alternates between repeats), and the median is kept, so that load hits all methods alike."""

from __future__ import annotations

import time

import numpy as np


def interleaved(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Median seconds of each callable over ``repeats`` interleaved runs, and its last result."""
    times, out, names = {k: [] for k in fns}, {}, list(fns)
    for r in range(repeats):
        for k in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            out[k] = fns[k]()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}, out
