"""The command line: every group is listed; groups and studies that have not landed say so and exit
non-zero; the shared output conventions hold."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from pluralign.cli import GROUPS, app
from pluralign.runs import CellStore, Profile, prepare_run, write_json

runner = CliRunner()


def test_help_lists_every_group():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for name in GROUPS:
        assert name in res.output


def test_console_script_runs():
    res = subprocess.run([sys.executable, "-m", "pluralign", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "theory" in res.stdout


def test_groups_that_have_not_landed_exit_nonzero(monkeypatch):
    """Every group has landed, so plant one whose module does not exist: it is listed, says so and exits 3."""
    import pluralign.cli as cli

    monkeypatch.setitem(cli.GROUPS, "ghost", ("pluralign.cli.no_such_group", "A group that has not landed."))
    cli.build_app.cache_clear()
    try:
        built = cli.build_app()
        assert "ghost" in runner.invoke(built, ["--help"]).output
        res = runner.invoke(built, ["ghost"])
        assert res.exit_code == 3 and "not landed" in res.output, res.output
    finally:
        monkeypatch.undo()
        cli.build_app.cache_clear()


def test_prepare_run_writes_config(tmp_path):
    out = prepare_run("sims demo", tmp_path / "run", Profile.smoke, 7, {"K": [1, 2]})
    cfg = json.loads((out / "config.json").read_text())
    versions = cfg.pop("versions")
    assert cfg == {"command": "sims demo", "profile": "smoke", "seed": 7, "config": {"K": [1, 2]}}
    import numpy as np
    import torch

    assert versions["numpy"] == np.__version__ and versions["torch"] == torch.__version__ and "pluralign" in versions


def test_resume_under_other_package_versions_is_kept_on_record(tmp_path, monkeypatch):
    """A resume may run under other versions; the folder keeps the first sitting's and lists the later
    ones, and a warning names what changed (a new MuJoCo can move every number of a PREC run)."""
    import pytest

    from pluralign import runs

    out = prepare_run("sims demo", tmp_path / "run", Profile.smoke, 7, {"K": [1]})
    first = json.loads((out / "config.json").read_text())["versions"]
    CellStore(out).save("K=1_seed=7", {"K": 1}, {"w": 1.0})
    prepare_run("sims demo", out, Profile.smoke, 7, {"K": [1]})  # same versions: nothing to say
    assert json.loads((out / "config.json").read_text())["resumed_under"] == []
    monkeypatch.setattr(runs, "package_versions", lambda: {**first, "mujoco": "99.0"})
    with pytest.warns(RuntimeWarning, match="mujoco .* -> 99.0"):
        prepare_run("sims demo", out, Profile.smoke, 7, {"K": [1]})
    rec = json.loads((out / "config.json").read_text())
    assert rec["versions"] == first and rec["resumed_under"] == [{**first, "mujoco": "99.0"}]


def test_cell_store_skips_finished_cells_and_writes_atomically(tmp_path):
    store = CellStore(tmp_path)
    assert not store.done("K=2_seed=0")
    store.save("K=2_seed=0", {"K": 2}, {"welfare": 0.5})
    assert store.done("K=2_seed=0") and store.load("K=2_seed=0")["metrics"] == {"welfare": 0.5}
    assert [c["key"] for c in store.all()] == ["K=2_seed=0"]
    assert not list((tmp_path / "cells").glob("*.tmp"))


def test_write_json_handles_numpy_and_non_finite(tmp_path):
    import numpy as np

    p = write_json(tmp_path / "r.json", {"a": np.arange(3), "b": np.float64(np.inf), "c": np.int64(2)})
    assert json.loads(p.read_text()) == {"a": [0, 1, 2], "b": "inf", "c": 2}


def test_prepare_run_refuses_to_mix_cells_of_another_run(tmp_path):
    """Resuming into a folder whose finished cells came from other settings is refused (naming what
    differs); execution-only settings (jobs) may change, and a folder without cells is simply reused."""
    import pytest

    out = prepare_run("sims demo", tmp_path / "run", Profile.smoke, 7, {"K": [1, 2], "n_jobs": 1})
    prepare_run("sims demo", out, Profile.smoke, 8, {"K": [1, 2]})  # no cells yet: fine
    prepare_run("sims demo", out, Profile.smoke, 7, {"K": [1, 2], "n_jobs": 1})
    CellStore(out).save("K=1_seed=7", {"K": 1}, {"w": 1.0})
    prepare_run("sims demo", out, Profile.smoke, 7, {"K": [1, 2], "n_jobs": 2})  # jobs may change
    with pytest.raises(ValueError, match="out: .*differs in: config.K"):
        prepare_run("sims demo", out, Profile.smoke, 7, {"K": [1, 3], "n_jobs": 2})
    with pytest.raises(ValueError, match="differs in: seed"):
        prepare_run("sims demo", out, Profile.smoke, 8, {"K": [1, 2]})
    res = runner.invoke(app, ["theory", "check", "--profile", "smoke", "--seed", "3", "--out", str(out)])
    assert res.exit_code != 0 and "holds finished cells" in res.output and "Traceback" not in res.output
