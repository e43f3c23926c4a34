"""pluralign.runs' local sweep engine: map_unordered / run_cells in this process and in joblib processes,
with the driver writing cells (``store``) or the worker writing its own (the older form)."""

from __future__ import annotations

import pytest

from pluralign.runs import CellStore, check_backend, map_unordered, profile_name, run_cells


def _cell(i: int, scale: float) -> tuple[str, dict, dict]:
    return f"i={i}", {"i": i}, {"value": i * scale}


def _self_saving(root: str, i: int) -> None:
    CellStore(root).save(f"i={i}", {"i": i}, {"value": 2.0 * i})


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_map_unordered_local_yields_each_index_once(n_jobs):
    got = list(map_unordered(_cell, [(i, 2.0) for i in range(5)], n_jobs=n_jobs))
    assert sorted(i for i, _ in got) == list(range(5))
    assert all(res == _cell(i, 2.0) for i, res in got)
    assert list(map_unordered(_cell, [])) == []


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_run_cells_driver_writes_cells_and_old_form_still_works(tmp_path, n_jobs):
    store = CellStore(tmp_path / "driver")
    run_cells(_cell, [(i, 2.0) for i in range(4)], n_jobs=n_jobs, progress=False, store=store)
    want = [{"key": f"i={i}", "config": {"i": i}, "metrics": {"value": 2.0 * i}} for i in range(4)]
    assert store.all() == want
    run_cells(_self_saving, [(str(tmp_path / "self"), i) for i in range(4)], n_jobs=n_jobs, progress=False)
    assert CellStore(tmp_path / "self").all() == want


def test_bad_backend_and_profile_names():
    with pytest.raises(ValueError, match="backend"):
        check_backend("loky")
    with pytest.raises(ValueError, match="backend"):
        run_cells(_cell, [(1, 1.0)], backend="dask", progress=False)
    assert profile_name("medium") == "medium"
    with pytest.raises(ValueError, match="profile"):
        profile_name("../x")
