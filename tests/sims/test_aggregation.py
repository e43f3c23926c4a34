"""`pluralign sims aggregation`: CLI smoke run (JSON + PNG, resume), and the seed-004 done-when
criterion: the simulated pooled Bradley-Terry MLE matches the closed-form centroid within 1e-3."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.personalization import pooled_bt_saturated
from pluralign.sims.aggregation import centroid
from pluralign.sims.aggregation import PROFILES


def test_cli_smoke_writes_json_png_and_resumes(tmp_path):
    out = tmp_path / "agg"
    runner = CliRunner()
    res = runner.invoke(app, ["sims", "aggregation", "--profile", "smoke", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("config.json", "results.json", "aggregation.png"):
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
    cfg = PROFILES["quick"]["centroid"]["closed_form"]
    B = centroid.group_betas(cfg)
    for pi in (0.5, 0.51, 0.9):
        theta = pooled_bt_saturated(np.eye(2), B, np.array([pi, 1 - pi]))
        sim = centroid.simulate_saturated(cfg, pi, 10**9, np.random.default_rng(int(pi * 100)))
        assert np.max(np.abs(sim - theta)) < 1e-3
    assert abs(pooled_bt_saturated(np.eye(2), B, np.array([0.5, 0.5]))[0]) < 1e-15  # the centroid


def test_split_welfare_pooled_fails_minority_clustering_serves_it():
    cfg = dict(PROFILES["quick"]["centroid"]["split"], n_users=40, em_restarts=2, em_iter=30)
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
