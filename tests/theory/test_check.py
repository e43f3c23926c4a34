"""``theory.check.run_checks`` and the ``pluralign theory check`` command (smoke scale)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pluralign.cli.theory import app
from pluralign.theory import check as chk

runner = CliRunner()


def test_cli_check_smoke_writes_results_and_every_row_behaves_as_expected(tmp_path):
    out = tmp_path / "theory"
    res = runner.invoke(app, ["check", "--profile", "smoke", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "statement" in res.output and "worst margin" in res.output
    config = json.loads((out / "config.json").read_text())
    assert config["profile"] == "smoke" and config["seed"] == 1
    results = json.loads((out / "results.json").read_text())
    rows = results["rows"]
    assert results["all_as_expected"] and len(rows) == len(chk.CHECKS)
    assert all(r["holds"] == r["expected_to_hold"] for r in rows)
    assert all(r["form"] in ("printed", "corrected", "outside scope", "ours") for r in rows)
    assert all(r["source"].endswith(f"[{r['form']}]") for r in rows)
    by = {(r["source"], r["statement"]): r for r in rows}
    mpi = next(r for r in rows if "MPI" in r["source"])
    assert "rank 12/17 at n=2" in mpi["detail"] and "rank 17/17 at n=3" in mpi["detail"]
    # the misprints: printed forms are false (expected), their corrected forms hold
    c13 = [r for r in rows if r["source"].startswith("seed 002 Lemma C.13")]
    assert {r["form"]: r["holds"] for r in c13} == {"printed": False, "corrected": True}
    c5 = [r for r in rows if r["source"].startswith("seed 002 Remark C.5")]
    assert {r["form"]: r["holds"] for r in c5} == {"printed": False, "corrected": True}
    assert all(not r["expected_to_hold"] for r in rows if not r["holds"])  # only expected falsehoods fail
    # Thm A.5 with hard-count rho is outside the theorem's scope (Remark A.7): reported as a finding, not FAILS
    hard = next(r for r in rows if "hard counts" in r["statement"])
    assert hard["form"] == "outside scope" and hard["holds"] and hard["expected_to_hold"]
    assert len(by) == len(rows)
    # every statement named in theory/README.md has a row
    sources = " ".join(r["source"] for r in rows)
    for name in ["Lemma A.1", "Remark A.2", "Prop. A.3", "Prop. A.4", "Thm. A.5", "Cor. A.6", "Lemma 4.1",
                 "Lemma 4.3", "Thm 4.2", "eq. 22-25", "eq. 31-35", "Lemma C.1", "Lemma C.2", "Lemma C.3",
                 "Lemma C.7", "Lemma C.8", "Lemma C.9", "Lemma C.10", "Lemma C.11", "Lemma C.12", "Lemma C.13",
                 "Remark C.5", "Thm 1", "Thm 2", "Prop. C.4", "eq. 39", "Alg. 4"]:
        assert name in sources, name


def test_cli_check_exits_nonzero_when_a_statement_that_should_hold_fails(tmp_path, monkeypatch):
    fake = [chk.CheckRow("a statement", "seed 000 Lemma A.1 [printed]", 3, False, -1.0, True, "broken on purpose"),
            chk.CheckRow("a misprint", "seed 002 Lemma C.13 [printed]", 3, False, -0.1, False, "fails as expected")]
    monkeypatch.setattr(chk, "run_checks", lambda **kw: fake)
    res = runner.invoke(app, ["check", "--profile", "smoke", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert not json.loads((tmp_path / "o" / "results.json").read_text())["all_as_expected"]
    # a misprint that unexpectedly holds is also reported
    fake2 = [chk.CheckRow("a misprint", "seed 002 Lemma C.13 [printed]", 3, True, 0.1, False, "held")]
    monkeypatch.setattr(chk, "run_checks", lambda **kw: fake2)
    assert runner.invoke(app, ["check", "--profile", "smoke", "--out", str(tmp_path / "p")]).exit_code == 1


def test_run_checks_bad_inputs():
    with pytest.raises(ValueError, match="n_instances"):
        chk.run_checks(n_instances=0)
    with pytest.raises(ValueError, match="seed"):
        chk.run_checks(seed=1.5)
