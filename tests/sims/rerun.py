"""The resume check every study's tests run: a re-run over a folder whose cells are all present computes
no cell (the study's ``_work`` is never called), leaves every cell file byte-for-byte as it was and writes
the same results.json; the same seed in a fresh folder gives the same cells and results."""

from __future__ import annotations

from pathlib import Path


def cell_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((Path(out) / "cells").glob("*.json"))}


def check_rerun(study, settings, seed: int, tmp_path: Path, monkeypatch, same_cells: bool = True) -> tuple[dict, dict]:
    """Run ``study.run(settings, seed, ...)`` three times (fresh, resumed, fresh elsewhere) and check the
    above; returns (first run's results, fresh run's results). ``same_cells=False``: cells hold compute times, so a fresh run's
    cell files differ (the results are then compared by the caller)."""
    out = tmp_path / "first"
    first = study.run(settings, seed, out, progress=False)
    cells, results = cell_files(out), (out / "results.json").read_bytes()
    assert cells

    def recompute(*args, **kw):
        raise AssertionError("a finished cell was recomputed")

    with monkeypatch.context() as m:
        m.setattr(study, "_work", recompute)
        again = study.run(settings, seed, out, progress=False)
    assert cell_files(out) == cells and (out / "results.json").read_bytes() == results
    assert again == first
    fresh = study.run(settings, seed, tmp_path / "fresh", progress=False)
    if same_cells:
        assert cell_files(tmp_path / "fresh") == cells and fresh == first
    return first, fresh
