"""Checks every study of sims/ must pass (the one study shape, pluralign.runs): a re-run over finished cells
computes nothing and rewrites the same results.json; the same seed gives the same numbers."""

from __future__ import annotations

from pluralign.runs import read_json


def _numbers(obj):
    """The results without wall-clock timings (the only field allowed to differ between two runs)."""
    if isinstance(obj, dict):
        return {k: _numbers(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [_numbers(v) for v in obj]
    return obj


def check_resumes_and_reproduces(study, settings, seed: int, tmp_path, monkeypatch) -> dict:
    """``study`` is the module holding ``run`` and the per-cell worker ``_work``. Returns the results."""
    a, b = tmp_path / "a", tmp_path / "b"
    res = study.run(settings, seed, a, progress=False)
    text = (a / "results.json").read_bytes()
    cells = {p.name: p.stat().st_mtime_ns for p in (a / "cells").glob("*.json")}
    assert cells and len(res["cells"]) == len(cells)

    def recomputed(*args, **kwargs):
        raise AssertionError(f"a finished cell was computed again: {args[-4:]}")

    with monkeypatch.context() as m:
        m.setattr(study, "_work", recomputed)
        study.run(settings, seed, a, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in (a / "cells").glob("*.json")} == cells
    assert (a / "results.json").read_bytes() == text
    study.run(settings, seed, b, progress=False)  # same seed, fresh folder: the same numbers
    assert _numbers(read_json(b / "results.json")) == _numbers(read_json(a / "results.json"))
    return res
