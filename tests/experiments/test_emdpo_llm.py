"""`pluralign emdpo run` at --profile smoke (the whole pipeline: pi_SFT built, EM-DPO over LoRA adapters,
baselines, metrics), resumability, and its clean errors."""

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.experiments.emdpo_llm import PROFILES, study
from pluralign.runs import Profile, settings_for
from pluralign.testing import check_study_resumes

runner = CliRunner()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("emdpo_cache")


def test_cli_smoke_runs_the_pipeline_and_resumes(tmp_path, cache):
    out = tmp_path / "run"
    args = ["emdpo", "run", "--dataset", "mpi", "--feedback", "binary", "--profile", "smoke", "--seed", "1",
            "--out", str(out), "--cache-dir", str(cache)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert res["source"].startswith("language model (GPT-2 1 layers x 32 wide")
    row = res["summary"]["n=2"]
    assert set(row) == {"em_dpo", "cluster_dpo", "vanilla_dpo", "true_label_dpo"}
    for m in row.values():
        for t in ("P1", "P2", "P3"):
            assert 0.0 <= m[f"{t}_accuracy_mean"] <= 1.0 and m[f"{t}_accuracy_sem"] == 0.0
            assert f"{t}_max_mean_margin_mean" in m and f"{t}_reward_margin_mean" in m
    assert set(res["k_sweep"]["n=2"]) == {"K=3"}
    cells = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert cells == ["dataset=mpi_feedback=binary_K=3_seed=1_rep=0.json"]
    cell = json.loads((out / "cells" / cells[0]).read_text())
    ml = [t["marginal_ll"] for t in cell["metrics"]["em_dpo"]["trace"]]
    assert all(b >= a - 1e-9 for a, b in zip(ml, ml[1:]))  # the monotone M-step
    mtime = (out / "cells" / cells[0]).stat().st_mtime_ns
    r2 = runner.invoke(app, args)
    assert r2.exit_code == 0 and (out / "cells" / cells[0]).stat().st_mtime_ns == mtime  # cell skipped


def test_study_resumes_and_same_seed_same_numbers(tmp_path, cache):
    s = replace(settings_for(PROFILES, Profile.smoke), n_users=20, n_heldout=9, max_iter=1, n_prompts=2,
                n_eval_prompts=1, k_sweep=(1,), feedback="ternary", cache_dir=str(cache))
    res, _ = check_study_resumes(study, s, 2, tmp_path)
    assert sorted(c["key"] for c in res["cells"]) == [f"dataset=mpi_feedback=ternary_K={k}_seed=2_rep=0" for k in (1, 3)]
    assert set(res["k_sweep"]["n=3"]) == {"K=1", "K=3"} and "em_dpo" in res["summary"]["n=3"]


@pytest.mark.parametrize("args, field", [
    (["--feedback", "quaternary"], "feedback"),
    (["--dataset", "nope"], "dataset"),
    (["--n-users", "3"], "n_users"),
    (["--k-sweep", "1,x"], "k_sweep"),
    (["--model", "/no/such/model"], "model"),
    (["--epochs", "0"], "epochs"),
    (["--trainer", "nope"], "trainer"),
    (["--feedback", "ternary", "--trainer", "trl"], "binary feedback only"),
])
def test_bad_options_are_clean_errors(tmp_path, args, field):
    r = runner.invoke(app, ["emdpo", "run", "--profile", "smoke", "--out", str(tmp_path / "o"), *args])
    assert r.exit_code != 0 and field in r.output and "Traceback" not in r.output


def test_regret_setting_admits_only_the_printed_regret():
    s = settings_for(PROFILES, Profile.smoke)
    assert s.regret == "eq3"
    with pytest.raises(ValueError, match="regret"):
        replace(s, regret="kl_gap")


def test_cli_smoke_with_the_trl_m_step(tmp_path, cache):
    """``--trainer trl``: the M-steps and baselines run in trl's loop (WeightedDPOTrainer), end to end."""
    out = tmp_path / "run"
    r = runner.invoke(app, ["emdpo", "run", "--feedback", "binary", "--profile", "smoke", "--seed", "1",
                            "--n-users", "20", "--trainer", "trl", "--out", str(out), "--cache-dir", str(cache)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert res["settings"]["trainer"] == "trl"
    cell = res["cells"][0]["metrics"]
    steps = [a["steps"] for m in cell["em_dpo"]["m_steps"] for a in m["adapters"]]
    assert sum(steps) > 0 and all(t["steps"] > 0 for t in cell["true_label_dpo"]["train"])


def test_paper_profile_needs_a_model(tmp_path):
    r = runner.invoke(app, ["emdpo", "run", "--profile", "paper", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "model" in r.output and "Traceback" not in r.output


@pytest.fixture(scope="module")
def ternary_run(tmp_path_factory, cache):
    """A finished ternary smoke run (20 users, seed 4) with its adapters."""
    run = tmp_path_factory.mktemp("ternary") / "run"
    r = runner.invoke(app, ["emdpo", "run", "--feedback", "ternary", "--n-users", "20", "--profile", "smoke",
                            "--seed", "4", "--out", str(run), "--cache-dir", str(cache)])
    assert r.exit_code == 0, r.output
    return run


def test_cli_mmra_over_a_finished_run(tmp_path, ternary_run):
    run = ternary_run
    base = ["--profile", "smoke", "--seed", "4"]
    assert (run / "adapters" / "dataset=mpi_feedback=ternary_K=3_seed=4_rep=0.pt").is_file()
    r = runner.invoke(app, ["emdpo", "mmra", "--run", str(run), *base])
    assert r.exit_code == 0, r.output
    res = json.loads((run / "mmra" / "results.json").read_text())
    s = res["summary"]
    assert s["n_seeds"] == 1 and s["mmra_ae_max_regret_mean"] <= s["uniform_max_regret_mean"] + 1e-9
    assert set(res["cells"][0]["metrics"]["regrets"]) == {"mmra_ae", "uniform", "vanilla_dpo"}
    bad = runner.invoke(app, ["emdpo", "mmra", "--run", str(tmp_path / "nothing"), *base,
                              "--out", str(tmp_path / "m")])
    assert bad.exit_code != 0 and "run_dir" in bad.output and "Traceback" not in bad.output
    # MMRA-LW (Alg. 2) end to end, scored in the same table: the AE / uniform / vanilla rows are the AE-only run's
    r = runner.invoke(app, ["emdpo", "mmra", "--run", str(run), *base, "--method", "lw"])
    assert r.exit_code == 0, r.output
    lw = json.loads((run / "mmra_lw" / "results.json").read_text())
    cell = lw["cells"][0]["metrics"]
    assert set(cell["regrets"]) == {"mmra_lw", "mmra_ae", "uniform", "vanilla_dpo"}
    for row in ("mmra_ae", "uniform", "vanilla_dpo"):
        assert cell["regrets"][row] == res["cells"][0]["metrics"]["regrets"][row]
    W = cell["lw"]["w"]
    assert len(W) == 3 and all(abs(sum(w) - 1) < 1e-9 and min(w) >= 0 for w in W)  # smoke: 2 MWU iterations
    assert lw["summary"]["mmra_lw_max_regret_mean"] == max(cell["regrets"]["mmra_lw"])
    assert "lw_batches" in lw["deviations"]
    bad = runner.invoke(app, ["emdpo", "mmra", "--run", str(run), *base, "--method", "nope",
                              "--out", str(tmp_path / "m2")])
    assert bad.exit_code != 0 and "method" in bad.output and "Traceback" not in bad.output


def test_diagnose_marginal_likelihoods_of_a_finished_run(ternary_run, capsys):
    """(i) EM-DPO's final adapters and rho reproduce the marginal log-likelihood the run's EM trace recorded;
    (iii) K copies of pi_SFT give the uniform choice, 20 users x log(1/3); every number is finite."""
    import math

    from pluralign.experiments.emdpo_llm.diagnose import loglik_report, main

    res = loglik_report(ternary_run)
    assert json.loads((ternary_run / "diagnose.json").read_text()) == json.loads(json.dumps(res))
    (c,) = res["cells"]
    cell = json.loads((ternary_run / "cells" / f"{c['key']}.json").read_text())
    assert c["em_dpo_recorded"] == cell["metrics"]["em_dpo"]["marginal_ll"]
    assert c["em_dpo"] == pytest.approx(c["em_dpo_recorded"], abs=1e-6)
    assert abs(c["sft_floor"] - 20 * math.log(1 / 3)) < 1e-6
    for k in ("em_dpo", "em_dpo_assignment", "true_label", "true_assignment", "sft_floor"):
        assert math.isfinite(c[k]) and c[k] < 0, k
    assert c["em_dpo_assignment"] >= c["em_dpo"] - 1e-9  # log sum_k rho_k P_k <= max_k log P_k
    assert c["true_minus_em"] == pytest.approx(c["true_label"] - c["em_dpo"])
    assert sum(t["n_users"] for t in c["by_type"].values()) == 20
    assert sum(t["em_dpo"] for t in c["by_type"].values()) == pytest.approx(c["em_dpo"])
    assert sum(t["true_label"] for t in c["by_type"].values()) == pytest.approx(c["true_label"])
    main(["--run", str(ternary_run)])
    assert c["key"] in capsys.readouterr().out
    with pytest.raises(SystemExit, match="run_dir"):
        main(["--run", str(ternary_run / "nothing")])
