"""`pluralign sims identifiability` at --profile smoke; recovery metrics; the Newton M-step."""

import json

import numpy as np
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.em import LatentClassLogit
from pluralign.runs import Profile, settings_for
from pluralign.sims.identifiability import (PROFILES, TRUE_BETAS, TRUE_WEIGHTS, NewtonLatentClassLogit, recovery_errors,
                                            simulate, study)
from pluralign.testing import check_study_resumes


def test_cli_smoke(tmp_path):
    out = tmp_path / "ident"
    r = CliRunner().invoke(app, ["sims", "identifiability", "--profile", "smoke", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert (out / "recovery_vs_N.png").stat().st_size > 0 and (out / "recovery_vs_N.pdf").stat().st_size > 0
    assert {"N=100_n=2", "N=300_n=3"} <= set(res["summary"])
    assert res["summary"]["N=100_n=2"]["beta_error_sem"] == 0.0 and "beta_error_std" not in res["summary"]["N=100_n=2"]


def test_run_resumes_and_same_seed_same_numbers(tmp_path, monkeypatch):
    from dataclasses import replace

    s = replace(settings_for(PROFILES, Profile.smoke), n_seeds=2)
    res, _ = check_study_resumes(study, s, 4, tmp_path)
    assert len(res["cells"]) == len(s.grid()) * 2
    row = res["summary"]["N=300_n=3"]
    assert row["n_seeds"] == 2 and row["beta_error_sem"] > 0


def test_sampler_is_the_choice_module_draw():
    """The data's choices are pluralign.choice.sample_choice's inverse-CDF draw (one uniform per user)."""
    from pluralign.choice import choice_probs
    from pluralign.seeding import derive

    ch, types = simulate(400, 3, derive(0, "t"))
    rng = derive(0, "t")
    assert np.array_equal(types, rng.choice(3, size=400, p=TRUE_WEIGHTS))
    X = rng.standard_normal((400, 3, 3))
    p = choice_probs(np.einsum("mnd,md->mn", X, TRUE_BETAS[types]))
    expect = (rng.random(400)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, 2)
    assert np.array_equal(ch.chosen, expect)


def test_recovery_errors_invariant_to_relabelling():
    perm = [2, 0, 1]
    e = recovery_errors(TRUE_BETAS[perm], TRUE_WEIGHTS[perm])
    assert e["beta_error"] == 0 and e["weight_error"] == 0 and e["pair_symmetric_error"] == 0
    # collapsing the pair to 0 (what binary data cannot rule out) costs exactly |b| on the symmetric part
    est = TRUE_BETAS.copy()
    est[:2] = 0.0
    e2 = recovery_errors(est, TRUE_WEIGHTS)
    assert np.isclose(e2["pair_symmetric_error"], np.linalg.norm(TRUE_BETAS[0]))
    assert np.isclose(e2["pair_antisymmetric_error"], 0.0)


def test_newton_m_step_matches_engine_lbfgs():
    ch, _ = simulate(800, 3, np.random.default_rng(0))
    W = np.random.default_rng(1).dirichlet(np.ones(3), size=800)
    p0 = np.random.default_rng(2).standard_normal((3, 3))
    a = NewtonLatentClassLogit(ch, l2=1e-3).m_step(p0, W)
    b = LatentClassLogit(ch, l2=1e-3, m_step="lbfgs").m_step(p0, W)
    assert np.allclose(a, b, atol=1e-4)


def test_simulation_seeded_and_binary_pair_is_invisible():
    a, ta = simulate(500, 2, np.random.default_rng(5))
    b, tb = simulate(500, 2, np.random.default_rng(5))
    assert np.array_equal(a.chosen, b.chosen) and np.array_equal(ta, tb)
    # per user, .3 sigma(b.D) + .3 sigma(-b.D) = .3 = .3/2 + .3/2: the likelihood of binary data is
    # EXACTLY that of the pair collapsed to indifferent users; with three options it is not
    from pluralign.theory.leaky_elbo import marginal_log_likelihood

    collapsed = TRUE_BETAS.copy()
    collapsed[:2] = 0.0
    for n, equal in ((2, True), (3, False)):
        ch, _ = simulate(500, n, np.random.default_rng(6))
        lcl = LatentClassLogit(ch)
        l_true = marginal_log_likelihood(lcl.log_likelihood(TRUE_BETAS), TRUE_WEIGHTS)
        l_coll = marginal_log_likelihood(lcl.log_likelihood(collapsed), TRUE_WEIGHTS)
        assert np.isclose(l_true, l_coll, rtol=1e-12, atol=1e-9) == equal


def test_study_keeps_the_pymc_comparison_as_a_cell_and_draws_it(tmp_path, monkeypatch):
    """The plumbing of the pymc cell (the posterior itself: test_identifiability_bayes): computed once, kept
    with its draws in results.json, drawn by paper_figures, never sampled again."""
    from dataclasses import replace

    from pluralign.paper_figures.identifiability import draw
    from pluralign.sims.identifiability import bayes

    calls = []

    def fake_compare(bs, seed, keep_draws=False):
        calls.append((bs, seed, keep_draws))
        return {f"n={n}": {"sym_draws": [[1.0 + n, 0.5], [1.5, 1.0]], "sym_true": [1.5, 1.0], "sd_along_unidentified": 1.0,
                           "sd_along_identified": 0.1, "r_hat_max": 1.0} for n in (2, 3)}

    monkeypatch.setattr(bayes, "compare", fake_compare)
    s = replace(settings_for(PROFILES, Profile.smoke), Ns=[100], ns=[2], bayes=True, bayes_N=60, bayes_draws=30)
    res = study.run(s, 7, tmp_path, progress=False)
    assert len(calls) == 1 and calls[0][0].N == 60 and calls[0][0].draws == calls[0][0].tune == 30
    assert calls[0][1:] == (7, True) and (tmp_path / "cells" / "bayes_seed=7.json").exists()
    assert study.run(s, 7, tmp_path, progress=False)["bayes"] == res["bayes"] and len(calls) == 1
    paths = draw(res, tmp_path, "smoke")
    assert [p.name for p in paths] == ["recovery_vs_N.png", "bayes_symmetric_part.png"]
    assert all(p.stat().st_size > 0 and p.with_suffix(".pdf").exists() for p in paths)
