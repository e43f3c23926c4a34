"""`pluralign sims identifiability` at --profile smoke; recovery metrics; the Newton M-step."""

import json

import numpy as np
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.em import LatentClassLogit
from pluralign.sims.identifiability import TRUE_BETAS, TRUE_WEIGHTS, NewtonLatentClassLogit, recovery_errors, simulate


def test_cli_smoke(tmp_path):
    out = tmp_path / "ident"
    r = CliRunner().invoke(app, ["sims", "identifiability", "--profile", "smoke", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert (out / "recovery_vs_N.png").stat().st_size > 0
    assert {"N=100_n=2", "N=300_n=3"} <= set(res["summary"])


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
    b = LatentClassLogit(ch, l2=1e-3).m_step(p0, W)
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
