"""The PAL simulation (seed 002, sec. 4.2, App. D.2): ground truth generator, alignment, curves, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.runs import Profile, settings_for
from pluralign.sims import pal_sim
from pluralign.testing import check_study_resumes
from pluralign.pal.evaluation import (active_ratio, anchored_prototypes, oracle_map_group_points, prototype_recovery,
                            samples_to_reach)
from pluralign.sims.pal_sim.problem import PALSimConfig, make_problem


@settings(max_examples=15)
@given(st.integers(0, 10_000), st.sampled_from(["mixture", "partition"]), st.integers(2, 4))
def test_problem_matches_its_ground_truth(seed, setting, K):
    cfg = PALSimConfig(d=5, n_prototypes_true=K, setting=setting, n_seen=8, n_unseen=4, n_train=6, n_test=3,
                       n_pool=5, min_separation=0.8)
    pr = make_problem(cfg, seed)
    sep = np.linalg.norm(pr.prototypes[:, None] - pr.prototypes[None], axis=-1)[~np.eye(K, dtype=bool)]
    assert sep.min() >= 0.8
    np.testing.assert_allclose(pr.w_seen.sum(1), 1.0)
    if setting == "partition":
        assert set(np.unique(pr.w_seen)) <= {0.0, 1.0}
        counts = pr.w_seen.sum(0)
        assert counts.max() - counts.min() <= 1
    for data, ideal in ((pr.train, pr.ideal_seen), (pr.test, pr.ideal_seen), (pr.unseen_pool, pr.ideal_unseen)):
        np.testing.assert_array_equal(pr.true_utilities(data, ideal).argmax(1), data.chosen)  # noiseless rule
    assert pr.train.counts_per_user().tolist() == [6] * 8
    again = make_problem(cfg, seed)
    np.testing.assert_array_equal(again.train.features, pr.train.features)


def test_noisy_choices_follow_the_logit():
    cfg = PALSimConfig(d=2, n_prototypes_true=2, n_seen=1, n_train=20_000, n_unseen=1, n_test=1, n_pool=1, beta=2.0,
                       min_separation=0.5)
    pr = make_problem(cfg, 0)
    u = 2.0 * pr.true_utilities(pr.train, pr.ideal_seen)
    p0 = 1 / (1 + np.exp(u[:, 1] - u[:, 0]))
    bins = np.digitize(p0, [0.25, 0.5, 0.75])
    for b in range(4):
        sel = bins == b
        assert abs(np.mean(pr.train.chosen[sel] == 0) - p0[sel].mean()) < 0.03


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="setting"):
        make_problem(PALSimConfig(setting="clusters"), 0)
    with pytest.raises(ValueError, match="min_separation"):
        make_problem(PALSimConfig(d=1, n_prototypes_true=6, min_separation=3.0), 0)


@settings(max_examples=30)
@given(st.integers(0, 10_000), st.integers(2, 5))
def test_prototype_recovery_undoes_permutations(seed, K):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(K, 4))
    perm = rng.permutation(K)
    noise = rng.normal(scale=1e-3, size=(K, 4))
    r = prototype_recovery(P[perm] + noise, P)
    assert r["assignment"] == perm.tolist()
    np.testing.assert_allclose(r["matched_dist"], np.linalg.norm(noise, axis=1), rtol=1e-9)
    r2 = prototype_recovery(P[perm][:-1], P)  # K - 1 learned prototypes: best partial matching
    assert r2["max_dist"] == pytest.approx(0.0, abs=1e-12)


def _inward_population(rng, K, d, n_per, noise):
    """A partition population as PAL-A learns it: weights pushed inward (dominant ~0.8) and prototypes
    pushed outward so that a dominant-weight user's ideal point is its true prototype, plus noise."""
    P = 2.0 * np.linalg.qr(rng.normal(size=(d, d)))[0][:K]  # K <= d orthogonal points, separation 2 sqrt 2
    W0 = np.full((K, K), 0.2 / (K - 1)) + np.eye(K) * (0.8 - 0.2 / (K - 1))
    P_hat = np.linalg.solve(W0, P)  # W0 @ P_hat = P
    z = np.repeat(np.arange(K), n_per)
    W = W0[z] + rng.normal(scale=0.01, size=(len(z), K))
    W = np.clip(W, 1e-3, None)
    W /= W.sum(1, keepdims=True)
    ideal = W0[z] @ P_hat + rng.normal(scale=noise, size=(len(z), d))
    return P, W, ideal, z


@settings(max_examples=25)
@given(st.integers(0, 10_000), st.integers(2, 5), st.integers(0, 3))
def test_group_mean_anchors_recover_known_prototypes(seed, K, extra_d):
    rng = np.random.default_rng(seed)
    d = K + extra_d
    n_per, noise = 200, 0.2
    P, W, ideal, z = _inward_population(rng, K, d, n_per, noise)
    g = anchored_prototypes(W, ideal, "group_mean")
    assert g["group_size"] == [n_per] * K and g["fallback"] == []
    r = prototype_recovery(g["points"], P)
    assert r["assignment"] == list(range(K))
    # group mean of n_per noisy points: error ~ noise * sqrt(d / n_per); 5 x that is a loose bound
    bound = 5 * noise * np.sqrt(d / n_per)
    assert r["max_dist"] < bound
    # the single purest user keeps its full noise (~ noise * sqrt(d)): the group estimate is far better
    pure = prototype_recovery(anchored_prototypes(W, ideal, "purest")["points"], P)
    assert r["max_dist"] < pure["max_dist"]
    # the raw (outward) prototypes are not the answer, and a wrong truth is not matched
    raw = np.linalg.solve(np.full((K, K), 0.2 / (K - 1)) + np.eye(K) * (0.8 - 0.2 / (K - 1)), P)
    assert prototype_recovery(raw, P)["max_dist"] > 2 * bound
    wrong = P + 0.5 * np.linalg.qr(rng.normal(size=(d, d)))[0][:K]  # every prototype moved by 0.5
    assert prototype_recovery(g["points"], wrong)["max_dist"] > 2 * bound


def test_group_mean_anchors_with_wrong_groups_and_fallback():
    rng = np.random.default_rng(3)
    P, W, ideal, z = _inward_population(rng, 3, 4, 100, 0.1)
    shuffled = W[rng.permutation(len(W))]  # weights no longer belong to their users: groups are mixed
    g = anchored_prototypes(shuffled, ideal, "group_mean")
    sep = np.linalg.norm(P[:, None] - P[None], axis=-1)[~np.eye(3, dtype=bool)].min()
    assert prototype_recovery(g["points"], P)["max_dist"] > 0.25 * sep
    W2 = W.copy()
    W2[:, 2] = 0.0  # prototype 2 dominates nobody: falls back to its purest user
    g2 = anchored_prototypes(W2, ideal, "group_mean")
    assert g2["fallback"] == [2] and g2["group_size"][2] == 1
    with pytest.raises(ValueError, match="estimator"):
        anchored_prototypes(W, ideal, "median")
    with pytest.raises(ValueError, match="weights/ideal"):
        anchored_prototypes(W[:-1], ideal)


@settings(max_examples=15)
@given(st.integers(0, 10_000), st.integers(2, 4))
def test_cluster_mean_anchors_do_not_trust_misleading_weights(seed, K):
    """Groups whose learned weights sit at an edge midpoint (argmax merges or splits them): the K-means
    grouping of the ideal points still recovers every prototype, the dominant-weight grouping does not."""
    rng = np.random.default_rng(seed)
    d, n_per, noise = K + 2, 150, 0.2
    P, W, ideal, z = _inward_population(rng, K, d, n_per, noise)
    W = W.copy()
    W[z == K - 1] = 0.0  # the last group looks like an even mix of the first two
    W[z == K - 1, 0], W[z == K - 1, 1] = 0.5 + 0.01, 0.5 - 0.01
    sep = np.linalg.norm(P[:, None] - P[None], axis=-1)[~np.eye(K, dtype=bool)].min()
    emb = 3.0 * ideal @ np.linalg.qr(rng.normal(size=(d, d)))[0]  # clustering through a (scaled rotation) map
    c = anchored_prototypes(W, ideal, "cluster_mean", embedded=emb, seed=0)
    r = prototype_recovery(c["points"], P)
    assert r["max_dist"] < 5 * noise * np.sqrt(d / n_per) and sorted(c["group_size"]) == [n_per] * K
    assert prototype_recovery(anchored_prototypes(W, ideal, "group_mean")["points"], P)["max_dist"] > 0.25 * sep
    again = anchored_prototypes(W, ideal, "cluster_mean", embedded=emb, seed=0)
    np.testing.assert_array_equal(again["points"], c["points"])
    with pytest.raises(ValueError, match="embedded"):
        anchored_prototypes(W, ideal, "cluster_mean", embedded=emb[:-1])


def test_oracle_map_floor_recovers_group_points():
    cfg = PALSimConfig(d=3, n_prototypes_true=2, setting="partition", n_seen=4, n_train=400, n_unseen=1,
                       n_test=1, n_pool=1, min_separation=0.8)
    pr = make_problem(cfg, 5)
    groups = pr.w_seen.argmax(1)
    pts = oracle_map_group_points(pr.train, groups, pr.A, 2)
    r = prototype_recovery(pts, pr.prototypes, metric=pr.A)
    assert r["assignment"] == [0, 1] and r["max_dist_over_min_sep"] < 0.05


def test_samples_to_reach_and_active_ratio():
    ms, acc = [1, 2, 4, 8], [0.6, 0.7, 0.8, 0.9]
    assert samples_to_reach(ms, acc, 0.75) == pytest.approx(3.0)
    assert samples_to_reach(ms, acc, 0.5) == 1.0
    assert samples_to_reach(ms, acc, 0.95) == float("inf")
    rows = active_ratio(ms, acc, [0.7, 0.8, 0.9, 0.95])  # active is one grid step ahead
    assert [r["m_active"] for r in rows] == [1.0, 1.0, 2.0, 4.0]
    assert rows[-1]["ratio"] == pytest.approx(0.5)


def test_cli_sim_smoke(tmp_path):
    out = tmp_path / "sim"
    res = CliRunner().invoke(app, ["pal", "sim", "--profile", "smoke", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for f in ("config.json", "results.json", "pal_sim.png", "pal_sim_d2.png", "pal_sim.pdf", "pal_sim_d2.pdf"):
        assert (out / f).exists()
    r = json.loads((out / "results.json").read_text())
    assert {"b", "c", "d", "checks"} <= set(r["summary"])
    d = r["summary"]["d"]["mixture"]["3"]  # setting -> d -> curves
    assert len(d["random"]) == len(d["active"]) == len(d["m"])
    # b: K* = 2 with K = 1, 2; c: n = 10; d: one; r: recovery; d = 2 pictures: 2 settings x K = 1, 2
    assert len(list((out / "cells").glob("*.json"))) == 2 + 1 + 1 + 1 + 4
    assert [(row["Kstar"], row["K"]) for row in r["summary"]["b"]["mixture"]["3"]] == [(2, 1), (2, 2)]
    assert set(r["d2"]) == {"mixture", "partition"} and set(r["d2"]["partition"]) == {"1", "2"}
    assert "quick profile" in r["deviations"]
    assert r["summary"]["r"]["mixture"]["anchors"]["mean"] >= 0
    assert r["summary"]["r"]["mixture"]["anchors_group"]["mean"] >= 0
    assert r["summary"]["r"]["mixture"]["anchors_cluster"]["mean"] >= 0
    assert r["summary"]["r"]["mixture"]["anchors_cluster_utility"]["mean"] >= 0
    assert r["recovery_metric"].startswith("utility")
    binding = [c for c in r["summary"]["checks"].values() if c.get("binding")]
    assert all("per_seed" in c for c in binding)
    assert r["anchor_estimator"].startswith("cluster_mean") and r["prototype_tolerance"] == 0.25


@settings(max_examples=10)
@given(st.integers(0, 10_000), st.integers(2, 8))
def test_utility_metric_is_the_rms_utility_difference(seed, d):
    """The binding recovery metric ||M*(p_hat - p)||, M* = A*'A*, equals sqrt(d/4) times the rms (over items
    x ~ N(0, I/d)) difference of the choice-relevant utilities 2 x'M* p of the two points: the constant
    -p'M*p cancels in every choice."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) / np.sqrt(d)
    M = A.T @ A
    p, p_hat = rng.normal(size=(2, d))
    x = rng.normal(size=(200_000, d)) / np.sqrt(d)
    rms = np.sqrt(np.mean((2 * x @ M @ (p_hat - p)) ** 2))
    r = prototype_recovery(p_hat[None], np.stack([p, p + 1e3]), metric=M)  # the far one is never matched
    assert r["matched_dist"][0] == pytest.approx(np.sqrt(d / 4) * rms, rel=0.02)


def test_rerun_recomputes_nothing_and_same_seed_same_numbers(tmp_path, monkeypatch):
    first, _ = check_study_resumes(pal_sim.study, settings_for(pal_sim.PROFILES, Profile.smoke), 2, tmp_path)
    assert set(first["d2"]) == {"mixture", "partition"}
    assert {"ideal_seen_true", "ideal_unseen_localized", "prototypes_learned"} <= set(first["d2"]["partition"]["2"]["points"])
    # Fig. D.1: one population per setting, shared by every K
    assert first["d2"]["partition"]["1"]["points"]["ideal_seen_true"] == first["d2"]["partition"]["2"]["points"]["ideal_seen_true"]


def test_summary_error_bars_are_mean_sem_over_replicates():
    cells = [{"config": {"panel": "b", "setting": "mixture", "d": 2, "Kstar": 2, "K": 2, "n_train": 50},
              "metrics": {"seen_acc": a, "train_acc": a, "oracle_seen_acc": 1.0, "ideal_point_rmse": 0.1,
                          "ideal_point_spread": 1.0,
                          **{k: {"max_dist_over_min_sep": 0.1} for k in ("prototypes", "anchors", "anchors_group",
                                                                         "anchors_cluster", "anchors_cluster_utility")}}}
             for a in (0.7, 0.8, 0.9)]
    row = pal_sim.summarize(cells, K_true=2)["b"]["mixture"]["2"][0]
    assert (row["Kstar"], row["K"]) == (2, 2)
    assert row["seen_acc"] == {"mean": pytest.approx(0.8), "sem": pytest.approx(0.1 / np.sqrt(3)), "n_seeds": 3}


def test_paper_and_quick_profiles_use_app_d2_settings():
    """App. D.2: lr 5e-4 (f, weight decay 1e-3), 5e-3 (prototypes, user weights), 1000 epochs, the Fig. 5 grids;
    sec. 4.2: user weights softmax(N(0, I)); Fig. D.1: d = 2, K* = 3, K = 1, 2, 3, N = 100, both settings."""
    cfg = pal_sim.pal_config(3, 1000, 0)
    assert (cfg.map, cfg.lr_map, cfg.weight_decay, cfg.lr_prototypes, cfg.lr_weights, cfg.epochs) == (
        "linear", 5e-4, 1e-3, 5e-3, 5e-3, 1000)
    for name in (Profile.quick, Profile.paper):
        st = settings_for(pal_sim.PROFILES, name)
        assert (st.sim.d, st.sim.n_prototypes_true, st.sim.n_seen, st.sim.n_train, st.sim.n_test) == (16, 3, 100, 100, 50)
        assert st.sim.min_separation == 1.0 and st.sim.weights == "softmax_normal" and st.epochs == 1000
        assert st.d_grid == (2, 16) and st.Kstar_grid == (2, 3, 4, 5, 6) and st.b_n_train == 50
        assert st.Kstar_cd == 5
        assert st.n_grid == (20, 40, 60, 80, 100, 400, 800, 1000) and st.m_grid == (5, 10, 20, 30, 40, 50, 100)
        assert st.d_n_train == 50 and st.d2.K_grid == (1, 2, 3) and (st.d2.n_seen, st.d2.n_train) == (100, 100)
        assert set(st.setups) == {"mixture", "partition"}
    paper = settings_for(pal_sim.PROFILES, Profile.paper)
    assert paper.n_seeds == 5 and (paper.b_users_per_group, paper.c_n_seen, paper.d_n_seen) == (50, 250, 250)
    # panel b's population: N = 50 K*, n = 50
    st = settings_for(pal_sim.PROFILES, Profile.paper)
    sim = pal_sim.study._panel_sim(st, {"panel": "b", "setting": "mixture", "d": 2, "Kstar": 4})
    assert (sim.d, sim.n_prototypes_true, sim.n_seen, sim.n_train) == (2, 4, 200, 50)


def test_mixture_weights_are_softmax_of_standard_normals():
    cfg = PALSimConfig(d=4, n_prototypes_true=3, n_seen=4000, n_unseen=1, n_train=1, n_test=1, n_pool=1,
                       min_separation=0.2, weights="softmax_normal")
    W = make_problem(cfg, 0).w_seen
    Z = np.log(W)
    Z = Z - Z.mean(1, keepdims=True)  # softmax logits up to a per-user constant
    # for z ~ N(0, I_3): z_k - mean(z) has variance 1 - 1/3 and the centred logits of two coordinates covary -1/3
    cov = np.cov(Z.T)
    np.testing.assert_allclose(np.diag(cov), 2 / 3, atol=0.05)
    np.testing.assert_allclose(cov[0, 1], -1 / 3, atol=0.05)
    with pytest.raises(ValueError, match="weights"):
        make_problem(PALSimConfig(weights="uniform"), 0)
    dirich = make_problem(PALSimConfig(d=4, n_prototypes_true=3, n_seen=50, weights="dirichlet", min_separation=0.2), 0)
    assert np.allclose(dirich.w_seen.sum(1), 1)


def test_bad_settings_name_the_field():
    from dataclasses import replace

    st = settings_for(pal_sim.PROFILES, Profile.smoke)
    for changes, field in (({"n_seeds": 0}, "n_seeds"), ({"m_grid": (2, 99)}, "m_grid"), ({"d_grid": ()}, "d_grid"),
                           ({"Kstar_grid": (0, 2)}, "Kstar_grid"), ({"c_n_seen": 0}, "c_n_seen"),
                           ({"d2": replace(st.d2, K_grid=())}, "d2.K_grid"),
                           ({"setups": ("clusters",)}, "setups"), ({"d2": replace(st.d2, n_shown=99)}, "d2.n_shown")):
        with pytest.raises(ValueError, match=field):  # settings validate on construction
            replace(st, **changes)
