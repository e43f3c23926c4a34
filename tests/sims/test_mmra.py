"""`pluralign sims mmra` at --profile smoke."""

import json

from typer.testing import CliRunner

from pluralign.cli import app


def test_cli_smoke(tmp_path):
    out = tmp_path / "mmra"
    r = CliRunner().invoke(app, ["sims", "mmra", "--profile", "smoke", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert (out / "max_regret.png").stat().st_size > 0
    cell = res["cells"][0]["metrics"]
    for row in ("vanilla_dpo", "uniform_mixture", "mmra_lw", "mmra_original", "mmra_ae", "oracle_ae"):
        assert cell[row]["max_regret"] >= -1e-9
    assert cell["ae"]["estimated_max_regret_lp"] <= cell["ae"]["estimated_max_regret_hedge"] + 1e-9
    assert abs(sum(cell["ae"]["w_lp"]) - 1) < 1e-9
    for row in ("vanilla_dpo", "uniform_mixture", "mmra_ae", "oracle_ae"):
        assert len(cell[row]["regrets"]) == 3 and cell[row]["max_regret"] == max(cell[row]["regrets"])


def test_cli_rejects_bad_n_options(tmp_path):
    r = CliRunner().invoke(app, ["sims", "mmra", "--profile", "smoke", "--out", str(tmp_path), "--n-options", "7"])
    assert r.exit_code != 0 and "n_options" in r.output
