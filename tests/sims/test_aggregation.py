"""`pluralign sims aggregation`: CLI smoke run (JSON + PNG, resume), and the seed-004 done-when
criterion: the simulated pooled Bradley-Terry MLE matches the closed-form centroid within 1e-3."""

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.personalization import pooled_bt_saturated
from pluralign.runs import Profile, settings_for
from pluralign.sims import aggregation
from pluralign.sims.aggregation import centroid
from pluralign.sims.aggregation import PROFILES
from pluralign.testing import check_study_resumes


def test_cli_smoke_writes_json_png_and_resumes(tmp_path):
    out = tmp_path / "agg"
    runner = CliRunner()
    res = runner.invoke(app, ["sims", "aggregation", "--profile", "smoke", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("config.json", "results.json", "aggregation.png", "aggregation.pdf"):
        assert (out / name).stat().st_size > 0
    r = json.loads((out / "results.json").read_text())
    assert set(r) >= {"personalization", "rules", "centroid", "timings_s"}
    mech = r["rules"]["mechanism"]["quadratic"]
    assert mech["max_gain_with_payments"] <= 1e-9 and mech["fraction_profitable_without_payments(>1e-9)"] > 0
    for row in r["centroid"]["closed_form"]:
        assert row["abs_err_large_N"] < 5e-3  # smoke N = 1e7
    # a second run reuses every finished cell and reproduces the numbers
    n_cells = len(list((out / "cells").glob("*.json")))
    res = runner.invoke(app, ["sims", "aggregation", "--profile", "smoke", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert len(list((out / "cells").glob("*.json"))) == n_cells
    r2 = json.loads((out / "results.json").read_text())
    assert r2["centroid"] == r["centroid"] and r2["rules"] == r["rules"]


def test_pooled_bt_matches_closed_form_centroid_for_large_n():
    cfg = PROFILES[Profile.quick].centroid.closed_form
    B = centroid.group_betas(cfg)
    for pi in (0.5, 0.51, 0.9):
        theta = pooled_bt_saturated(np.eye(2), B, np.array([pi, 1 - pi]))
        sim = centroid.simulate_saturated(cfg, pi, 10**9, np.random.default_rng(int(pi * 100)))
        assert np.max(np.abs(sim - theta)) < 1e-3
    assert abs(pooled_bt_saturated(np.eye(2), B, np.array([0.5, 0.5]))[0]) < 1e-15  # the centroid


def test_split_welfare_pooled_fails_minority_clustering_serves_it():
    cfg = replace(PROFILES[Profile.quick].centroid.split, n_users=40, em_restarts=2, em_iter=30)
    out = centroid.split_welfare(cfg, 0.8, seed=0)  # 8 minority users
    kl = out["kl"]
    assert kl["pooled_population"]["minority"] < 0.2 < 0.9 < kl["oracle"]["minority"]
    assert kl["pooled"]["minority"] < 0.3
    assert kl["clustered"]["minority"] > 0.9
    # 50/50: the centroid serves nobody well (both groups far below their own optimum)
    half = centroid.split_welfare(cfg, 0.5, seed=0)["kl"]["pooled_population"]
    assert max(half["majority"], half["minority"]) < 0.7
    assert half["majority"] == pytest.approx(half["minority"], abs=1e-12)


def test_policy_and_welfare_helpers():
    r = np.array([[0.0, 1.0, 1.0]])
    np.testing.assert_allclose(centroid.policy(r, None), [[0, 0.5, 0.5]])
    p = centroid.policy(np.array([[0.0, np.log(3.0)]]), 1.0)
    np.testing.assert_allclose(p, [[0.25, 0.75]])
    np.testing.assert_allclose(centroid.normalized_welfare(p, np.array([[0.0, 2.0]])), [0.75])


def test_rerun_recomputes_nothing_and_same_seed_same_numbers(tmp_path, monkeypatch):
    # cells keep their compute seconds, so a fresh run's cell files differ; its numbers do not
    first, fresh = check_study_resumes(aggregation.study, settings_for(PROFILES, "smoke"), 3, tmp_path)
    for part in ("personalization", "rules", "centroid"):
        assert fresh[part] == first[part]
    other = aggregation.run(settings_for(PROFILES, "smoke"), 4, tmp_path / "other", progress=False)
    assert other["centroid"]["closed_form"] != first["centroid"]["closed_form"]


def test_labels_rows_are_mean_and_sem_over_replicates():
    cfg = settings_for(PROFILES, "smoke").centroid
    cfg = replace(cfg, labels=replace(cfg.labels, reps=3))

    def result(key):  # replicate r's cell reports welfare r
        if "_labels_" not in key:
            return {"cell": key}
        r = float(key.split("rep=")[1].split("_")[0])
        return {t: {"oracle": {"utilitarian": r}} for t in ("kl", "argmax")}

    row = centroid.summarize(cfg, 0, result)["labels"][0]["kl"]["oracle"]["utilitarian"]
    assert row == {"mean": 1.0, "sem": pytest.approx(1 / np.sqrt(3)), "n_seeds": 3}


def test_bad_settings_name_the_field():
    s = settings_for(PROFILES, "smoke")
    with pytest.raises(ValueError, match="n_jobs"):
        replace(s, n_jobs=0)
    with pytest.raises(ValueError, match="centroid.split.splits"):
        replace(s, centroid=replace(s.centroid, split=replace(s.centroid.split, splits=(0.2,))))
