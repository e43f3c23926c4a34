"""`pluralign sims mpi` at --profile smoke, and the binary-invisible check (seed 001 sec. 5)."""

import json

import numpy as np
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.emdpo import load_mpi_items, mpi_testbed
from pluralign.runs import Profile, settings_for
from pluralign.sims.mpi import PROFILES, binary_invisible_check, study
from pluralign.testing import check_study_resumes


def test_cli_smoke_writes_json_png_and_resumes(tmp_path):
    out = tmp_path / "mpi"
    r = CliRunner().invoke(app, ["sims", "mpi", "--profile", "smoke", "--seed", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert (out / "accuracy.png").stat().st_size > 0 and (out / "config.json").exists()
    assert (out / "accuracy.pdf").stat().st_size > 0
    for n in (2, 3):
        row = res["summary"][f"n={n}"]
        assert set(row) == {"em_dpo", "cluster_dpo", "vanilla_dpo", "true_label_dpo"}
        for t in ("P1", "P2", "P3"):
            assert 0.0 <= row["em_dpo"][f"{t}_accuracy_mean"] <= 1.0
            assert row["em_dpo"][f"{t}_accuracy_sem"] == 0.0  # one seed: s.e.m. 0 (pluralign.runs.mean_sem)
    cells = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert cells == ["n=2_seed=3_rep=0.json", "n=3_seed=3_rep=0.json"]
    mtime = (out / "cells" / cells[0]).stat().st_mtime_ns
    r2 = CliRunner().invoke(app, ["sims", "mpi", "--profile", "smoke", "--seed", "3", "--out", str(out)])
    assert r2.exit_code == 0 and (out / "cells" / cells[0]).stat().st_mtime_ns == mtime  # cell skipped
    assert json.loads((out / "results.json").read_text())["summary"] == res["summary"]


def test_run_resumes_and_same_seed_same_numbers(tmp_path, monkeypatch):
    from dataclasses import replace

    s = replace(settings_for(PROFILES, Profile.smoke), n_seeds=2, n_users=60)
    res, _ = check_study_resumes(study, s, 1, tmp_path)
    assert sorted(c["key"] for c in res["cells"]) == [f"n={n}_seed=1_rep={r}" for n in (2, 3) for r in (0, 1)]
    row = res["summary"]["n=3"]["em_dpo"]
    assert row["n_seeds"] == 2 and row["P3_accuracy_sem"] > 0 and "P3_accuracy_std" not in row


def test_bad_overrides_are_clean_errors(tmp_path):
    for args, field in ((["--n-users", "5"], "n_users"), (["--n-seeds", "0"], "n_seeds"),
                        (["--inventory", "7"], "inventory")):
        r = CliRunner().invoke(app, ["sims", "mpi", "--profile", "smoke", "--out", str(tmp_path / "o"), *args])
        assert r.exit_code != 0 and field in r.output and "Traceback" not in r.output


def test_cli_missing_data_is_a_clean_error(tmp_path):
    r = CliRunner().invoke(app, ["sims", "mpi", "--profile", "smoke", "--out", str(tmp_path / "o"),
                                 "--data-dir", str(tmp_path)])
    assert r.exit_code != 0 and "data_dir" in r.output and "Traceback" not in r.output


def test_binary_invisible_check():
    chk = binary_invisible_check(mpi_testbed(load_mpi_items("120"), seed=0), seed=0)
    assert chk["binary_max_abs_diff"] < 1e-12  # P1/P2 = -P1 at equal weights == indifferent users, n = 2
    assert chk["ternary_max_abs_diff"] > 0.05  # ... but not at n = 3
    assert chk["local_rank_n2"] == "12/17" and chk["local_rank_n3"] == "17/17"
    N = np.array(chk["null_space_n2"])  # rows: the 5 unidentified directions (v, -v, 0)
    assert np.allclose(N[:, :5], -N[:, 5:10], atol=1e-6) and np.allclose(N[:, 10:], 0, atol=1e-6)


def test_k_sweep_resumes_and_K1_is_vanilla_dpo(tmp_path):
    """The K sweep (seed 001 Fig. 2): resumable cells, the mpi study's summary keys per K, and at K = 1 the
    one EM-DPO policy is vanilla DPO on the same data (same margins per personality)."""
    from dataclasses import replace

    from pluralign.emdpo import LogLinearPolicy, vanilla_dpo
    from pluralign.seeding import derive
    from pluralign.sims.emdpo_common import make_mpi_testbed
    from pluralign.sims.mpi import k_sweep

    s = replace(settings_for(k_sweep.PROFILES, Profile.smoke), n_users=60, Ks=(1, 2), n_options=(3,), n_seeds=2)
    res, _ = check_study_resumes(k_sweep, s, 1, tmp_path)
    assert res["source"] == "tabular twin"
    assert sorted(c["key"] for c in res["cells"]) == [f"n=3_K={K}_seed=1_rep={r}" for K in (1, 2) for r in (0, 1)]
    row = res["summary"]["n=3"]["K=2"]
    assert row["n_seeds"] == 2 and {f"P{i}_reward_margin_sem" for i in (1, 2, 3)} <= set(row)
    tb = make_mpi_testbed(load_mpi_items("120"), s, 1)
    policy = LogLinearPolicy(tb.psi, tb.log_ref, tb.beta)
    fit = vanilla_dpo(policy, tb.sample(s.n_users, 3, derive(1, 0, "sample", 3)).choices)
    cell = next(c for c in res["cells"] if c["key"] == "n=3_K=1_seed=1_rep=0")["metrics"]
    for k, t in enumerate(tb.type_names):
        assert abs(cell[t]["reward_margin"] - tb.reward_margin(policy.logprobs(fit.thetas[0]), k)) < 1e-4


def test_k_sweep_bad_settings_name_the_field():
    import pytest

    from pluralign.sims.mpi.k_sweep import KSweepSettings

    for kw, field in (({"Ks": ()}, "Ks"), ({"Ks": (0, 1)}, "Ks"), ({"n_options": (4,)}, "n_options"),
                      ({"n_users": 3}, "n_users")):
        with pytest.raises(ValueError, match=field):
            KSweepSettings(**kw)


def test_a_folder_of_the_old_regret_is_refused_not_mixed(tmp_path):
    """Cells written before the regret became seed 001 eq. 3's (config.json without ``regret``) are never
    resumed into a run of this version: the CLI names the setting; another definition is a clean error."""
    from dataclasses import replace

    import pytest

    out = tmp_path / "mpi"
    r = CliRunner().invoke(app, ["sims", "mpi", "--profile", "smoke", "--out", str(out)])
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "config.json").read_text())
    del cfg["config"]["regret"]  # as an older version wrote it
    (out / "config.json").write_text(json.dumps(cfg))
    r = CliRunner().invoke(app, ["sims", "mpi", "--profile", "smoke", "--out", str(out)])
    assert r.exit_code != 0 and "regret" in r.output and "Traceback" not in r.output
    with pytest.raises(ValueError, match="regret"):
        replace(settings_for(PROFILES, Profile.smoke), regret="kl_gap")
