"""Smoke test of ``pluralign sims prec-bandit`` and checks of the bandit world."""

import json
from dataclasses import replace

import numpy as np
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.runs import Profile, settings_for
from pluralign.sims.prec_bandit import study
from pluralign.sims.prec_bandit.study import PROFILES, done_when, run_cell
from pluralign.sims.prec_bandit.world import WorldSettings, make_world
from pluralign.testing import check_study_resumes


def test_cli_smoke(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["sims", "prec-bandit", "--profile", "smoke", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["profile"] == "smoke" and cfg["seed"] == 3
    r = json.loads((out / "results.json").read_text())
    st = settings_for(PROFILES, Profile.smoke)
    n_cells = len(st.Ks) * len(st.noises) * len(st.features) * st.n_seeds
    assert len(r["cells"]) == n_cells == len(list((out / "cells").glob("*.json")))
    assert (out / "welfare_vs_K.png").stat().st_size > 1000 and (out / "welfare_vs_K.pdf").stat().st_size > 1000
    for c in r["cells"]:
        u = np.asarray(c["metrics"]["utilities"])
        assert np.all((u > 0) & (u < 1))  # App. C.2's r_i = <w_i, f> in [0, 1]
        assert c["metrics"]["utilitarian"] <= c["metrics"]["ideal_per_user"]["utilitarian"] + 1e-9
    # re-running skips finished cells and reproduces the same results
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    text = (out / "results.json").read_text()
    res = CliRunner().invoke(app, ["sims", "prec-bandit", "--profile", "smoke", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0
    assert mtimes == {p: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    assert (out / "results.json").read_text() == text


def test_run_resumes_and_same_seed_same_numbers(tmp_path, monkeypatch):
    st = replace(settings_for(PROFILES, Profile.smoke), noises=("noise2",), features=("encoder",), n_seeds=2)
    res, _ = check_study_resumes(study, st, 5, tmp_path)
    # replicates are distinct worlds (derive(seed, rep, ...)), each summarised as mean +- s.e.m.
    by_rep = {c["config"]["rep"]: c["metrics"]["utilities"] for c in res["cells"] if c["config"]["K"] == 1}
    assert sorted(by_rep) == [0, 1] and by_rep[0] != by_rep[1]
    assert res["summary"]["encoder"]["noise2"]["1"]["utilitarian"]["n_seeds"] == 2


def test_cell_is_deterministic():
    st = settings_for(PROFILES, Profile.smoke)
    a = run_cell(st, "noise2", 2, "encoder", 0, 0)
    b = run_cell(st, "noise2", 2, "encoder", 0, 0)
    assert a["utilities"] == b["utilities"] and a["labels"] == b["labels"]


def test_world_coverage_is_user_skewed_and_encoder_is_label_free():
    s = WorldSettings(n_users=10, n_labels=20, n_pool=200, n_candidates=20)
    w = make_world(s, 0, 0)
    assert w.label_segment.shape == (200,) and w.pool_phi.shape == (200, 30, 3)
    # user-skewed coverage: the users' labelled behaviours (mean features per user) spread far more than
    # those of users who labelled uniformly drawn pool behaviours (above the 99th percentile of 200 draws)
    c = w.pool_phi.mean(1)

    def spread(groups):
        m = np.array([c[g].mean(0) for g in groups])
        return np.linalg.norm(m - m.mean(0), axis=1).mean()

    rng = np.random.default_rng(0)
    uniform = [spread([rng.choice(200, 20) for _ in range(10)]) for _ in range(200)]
    assert spread([w.label_segment[w.label_user == i] for i in range(10)]) > np.quantile(uniform, 0.99)
    U = w.candidate_utilities()
    direct = np.einsum("ntc,uc->unt", w.cand_phi, w.population.weights).mean(2)
    np.testing.assert_allclose(U, direct)
    # labels: each user's own 10-point scale over the pool (0 at its worst pool behaviour, 10 at its best),
    # the same reading of App. C.1 as the MuJoCo pipeline
    R = np.einsum("ptc,uc->up", w.pool_phi, w.population.weights) / w.pool_phi.shape[1]  # (N, P) S / T
    S = w.true_step_scores().mean(1)
    lo, hi = R.min(1), R.max(1)
    np.testing.assert_allclose(S, 10 * (R[w.label_user, w.label_segment] - lo[w.label_user]) / (hi - lo)[w.label_user])
    assert S.min() >= -1e-9 and S.max() <= 10 + 1e-9
    # features do not depend on the users (same world seed, different population size)
    w2 = make_world(WorldSettings(n_users=7, n_labels=5, n_pool=200, n_candidates=20), 0, 0)
    np.testing.assert_array_equal(w.pool_feat["encoder"], w2.pool_feat["encoder"])


def test_done_when_logic():
    st = settings_for(PROFILES, Profile.quick)
    mk = lambda v: {m: {"mean": v, "sem": 0.0, "n_seeds": 5} for m in ("utilitarian", "egalitarian", "nash")}
    s = {"encoder": {"noise2": {"1": mk(5.0), "2": mk(5.5), "3": mk(4.0), "30": mk(5.2)}}}
    assert done_when(s, st) == {"checked": True, "winning_K": [2], "holds": True}
    s["encoder"]["noise2"]["2"]["nash"]["mean"] = 5.1
    assert done_when(s, st)["holds"] is False


def test_bad_settings_name_the_field():
    import pytest

    st = settings_for(PROFILES, Profile.smoke)
    with pytest.raises(ValueError, match="Ks"):
        replace(st, Ks=(2, 6))
    with pytest.raises(ValueError, match="noises"):
        replace(st, noises=("noise9",))


def test_population_sweep_resumes_and_changes_only_the_users(tmp_path):
    """The population sweep (seed 000 Fig. 3 / Figs. 8-11): resumable cells per (population, noise, K,
    replicate); each population's stored users are the world's; polarized users sit tighter around their
    mode centres than broad ones; pool and candidate behaviours are the same for every population."""
    from pluralign.prec.labelers import POPULATIONS
    from pluralign.sims.prec_bandit import populations

    s = settings_for(populations.PROFILES, Profile.smoke)
    res, _ = check_study_resumes(populations, s, 2, tmp_path)
    st = s.base
    assert len(res["cells"]) == len(s.populations) * len(s.noises) * len(st.Ks) * st.n_seeds
    spread = {}
    for p in s.populations:
        sp = s.for_population(p)
        assert sp.world.population == tuple(POPULATIONS[p]) and sp.features == ("encoder",)
        w = make_world(sp.world, 2, 0)
        u = res["populations"][p]["users"][0]
        assert np.allclose(u["weights"], w.population.weights) and u["mode"] == w.population.mode.tolist()
        spread[p] = float(np.mean(np.linalg.norm(w.population.weights - w.population.centers[w.population.mode], axis=1)))
        assert set(res["populations"][p]["summary"]) == set(s.noises)
    assert spread["polarized"] < spread["broad"]
    a, b = (make_world(s.for_population(p).world, 2, 0) for p in ("broad", "polarized"))
    assert np.array_equal(a.pool_phi, b.pool_phi) and np.array_equal(a.cand_phi, b.cand_phi)


def test_population_sweep_bad_settings_name_the_field():
    import pytest

    from pluralign.sims.prec_bandit.populations import PopulationSweepSettings

    for kw, field in (({"populations": ("nope",)}, "populations"), ({"populations": ()}, "populations"),
                      ({"noises": ("loud",)}, "noises")):
        with pytest.raises(ValueError, match=field):
            PopulationSweepSettings(**kw)
