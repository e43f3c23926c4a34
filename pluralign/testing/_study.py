"""The check every study passes (the one study shape of :mod:`pluralign.runs`): a re-run over a folder whose
cells are all finished computes no cell and rewrites the same ``results.json``; the same seed in a fresh
folder gives the same numbers."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from pluralign.runs import read_json

__all__ = ["check_study_resumes", "without_timings"]

TIMING_KEYS = frozenset({"seconds", "timings_s", "wall_seconds"})
"""Result fields that hold wall-clock time, the only ones allowed to differ between two runs."""


def without_timings(obj):
    """``obj`` (a results dict) without its wall-clock fields (:data:`TIMING_KEYS`)."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def _cells(out: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted((Path(out) / "cells").glob("*.json"))}


def check_study_resumes(study, settings, seed: int, workdir, worker: str = "_work") -> tuple[dict, dict]:
    """Run ``study.run(settings, seed, out, progress=False)`` fresh, again over the finished cells (with the
    per-cell ``study.<worker>`` replaced by a function that fails if called), and fresh in another folder.

    Asserts: the resumed run calls no worker, leaves every cell file byte-for-byte and time-stamp as it
    was, writes a byte-identical results.json and returns the same dict; the fresh run gives the same
    numbers (timings aside). Returns (first results, fresh results)."""
    workdir = Path(workdir)
    out = workdir / "first"
    first = study.run(settings, seed, out, progress=False)
    cells, text = _cells(out), (out / "results.json").read_bytes()
    assert cells, f"{study.__name__}: the run wrote no cell under {out / 'cells'}"

    def recomputed(*args, **kwargs):
        raise AssertionError(f"{study.__name__}: a finished cell was computed again")

    with mock.patch.object(study, worker, recomputed):
        again = study.run(settings, seed, out, progress=False)
    assert _cells(out) == cells, f"{study.__name__}: a resumed run rewrote finished cells"
    assert (out / "results.json").read_bytes() == text, f"{study.__name__}: a resumed run changed results.json"
    assert again == first
    fresh = study.run(settings, seed, workdir / "fresh", progress=False)
    assert without_timings(read_json(workdir / "fresh" / "results.json")) == without_timings(read_json(out / "results.json")), (
        f"{study.__name__}: the same seed gave other numbers")
    return first, fresh
