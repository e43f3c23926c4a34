"""`pluralign fit` on a planted two-group Polis export (issue 18 done-when)."""

import json

import numpy as np
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.testing._votes import write_planted_polis

runner = CliRunner()


def test_fit_on_a_polis_export_writes_report_and_figures(tmp_path):
    groups = write_planted_polis(tmp_path / "export", n_voters=60, n_items=40, seed=0)
    out = tmp_path / "out"
    res = runner.invoke(app, ["fit", str(tmp_path / "export"), "--k", "1..3", "--cv", "3", "--restarts", "2",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    for f in ("results.json", "report.md", "k_curve.png", "k_curve.pdf", "approval.png", "clusters.png"):
        assert (out / f).is_file(), f
    r = json.loads((out / "results.json").read_text())
    assert r["best_k"] == 2 and r["ari_vs_given_groups"] >= 0.9
    assert len(r["assignment"]) == len(groups) and np.asarray(r["approval"]).shape == (2, 40)
    assert "Chosen K = 2" in (out / "report.md").read_text()


def test_fit_bad_options_fail_cleanly(tmp_path):
    res = runner.invoke(app, ["fit", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "DATA" in res.output
    write_planted_polis(tmp_path / "e", n_voters=10, n_items=5)
    res = runner.invoke(app, ["fit", str(tmp_path / "e"), "--k", "0..2", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "--k" in res.output
