"""The engine against its reference: :func:`pluralign.theory.leaky_elbo.leaky_em_logistic` (seed 000 App.
A, eq. 9-13, written out loop by loop in the theory layer) and :class:`pluralign.em.MixtureEM` run the
same problem (same data, same start, same exact Newton M-step) and must give the same numbers: the same
F_nu and marginal log-likelihood after every M-step, the same assignments and decoders. Also the PREC EM
preset and the engine's stopping rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.em import EMConfig, MixtureEM
from pluralign.theory import leaky_elbo as le


class LogisticDecoders:
    """K logistic decoders of seed 000's App. A instance as an engine adapter: log L_ik is
    :func:`le.logistic_user_log_lik`, the M-step is the reference's own exact Newton solve per k."""

    def __init__(self, X, y, theta0):
        self.X, self.y, self.theta0 = X, y, theta0
        self.n_users = X.shape[0]

    def init_params(self, n_components, rng):
        return self.theta0.copy()

    def log_likelihood(self, theta):
        return le.logistic_user_log_lik(theta, self.X, self.y)

    def m_step(self, theta, weights):
        return np.stack([le.fit_logistic_decoder(self.X, self.y, weights[:, k], theta[k])[0]
                         for k in range(theta.shape[0])])


def _both(seed: int, K: int, nu: float, n_iter: int):
    # few, noisy labels per user: assignments keep changing for several iterations, so a trace that used
    # the wrong z (or the wrong step order) would differ from the reference
    X, y, _ = le.make_logistic_instance(seed, N=24, K=K, S=8, d=3, flip=0.25)
    ref = le.leaky_em_logistic(X, y, K, nu, n_iter=n_iter, seed=seed)
    # the reference's start: theta0 ~ N(0, I) from default_rng(seed), z0 = argmax at theta0
    theta0 = np.random.default_rng(seed).normal(size=(K, 3))
    z0 = le.argmax_assignment(le.logistic_user_log_lik(theta0, X, y), np.full(K, 1.0 / K))
    em = MixtureEM(LogisticDecoders(X, y, theta0),
                   EMConfig(n_components=K, assignment="leaky", leak=nu, prior="fixed", init="given",
                            max_iter=n_iter - 1, tol=0.0, seed=seed))
    em.fit(responsibilities=le.leaky_weights(z0, K, nu) / le.leaky_weights(z0, K, nu).sum(1, keepdims=True))
    return ref, em, (X, y, theta0, z0)


@settings(max_examples=12)
@given(seed=st.integers(0, 10_000), K=st.integers(2, 3), nu=st.sampled_from([0.0, 0.05, 0.2]))
def test_engine_reproduces_the_reference_leaky_em(seed, K, nu):
    """Engine iteration t = the reference's (t + 2)-th M-step: the engine's first M-step is the reference's
    first (same start), then both alternate E and M on the same arithmetic."""
    n_iter = 6
    ref, em, _ = _both(seed, K, nu, n_iter)
    f_ref = [f for f, s in zip(ref.f_half, ref.steps) if s == "M"]
    l_ref = [v for v, s in zip(ref.marginal_ll, ref.steps) if s == "M"]
    f_eng = [t["leaky_elbo"] for t in em.trace_]
    l_eng = [t["marginal_ll"] for t in em.trace_]
    assert len(f_eng) == n_iter - 1
    np.testing.assert_allclose(f_eng, f_ref[1:], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(l_eng, l_ref[1:], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(em.params_, ref.theta, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(em.labels_, ref.z)


def test_a_broken_engine_step_is_caught():
    """The comparison can fail: an E-step that uses a wrong prior moves the trace off the reference."""
    K, nu = 2, 0.1
    ref, _, (X, y, theta0, z0) = _both(3, K, nu, 6)
    em = MixtureEM(LogisticDecoders(X, y, theta0),
                   EMConfig(n_components=K, assignment="leaky", leak=nu, prior="fixed", init="given",
                            max_iter=5, tol=0.0), rho0=np.array([0.9, 0.1]))
    em.fit(responsibilities=le.leaky_weights(z0, K, nu) / le.leaky_weights(z0, K, nu).sum(1, keepdims=True))
    f_ref = [f for f, s in zip(ref.f_half, ref.steps) if s == "M"]
    assert not np.allclose([t["leaky_elbo"] for t in em.trace_], f_ref[1:], rtol=1e-10, atol=1e-10)


class WorseningModel(LogisticDecoders):
    """An adapter whose M-step makes the fit worse after the first few calls (a broken M-step)."""

    calls = 0

    def m_step(self, theta, weights):
        self.calls += 1
        new = super().m_step(theta, weights)
        return new if self.calls <= 2 else new + 0.5 * self.calls


def test_a_decrease_of_the_objective_stops_the_run():
    """The stopping rule stops on a decrease, not only on a small change (an ``abs(obj - prev) < tol``
    rule would run on while the objective falls)."""
    X, y, _ = le.make_logistic_instance(1, N=10, K=2, S=20, d=3)
    model = WorseningModel(X, y, np.zeros((2, 3)))
    em = MixtureEM(model, EMConfig(n_components=2, assignment="leaky", leak=0.1, prior="fixed", max_iter=20,
                                   tol=1e-6, seed=0)).fit()
    obj = [t["objective"] for t in em.trace_]
    assert obj[-1] < obj[-2], "the last recorded iteration is the decrease that stopped the run"
    assert len(obj) == 2 and em.converged_


def test_best_restart_is_the_highest_objective():
    """Restarts keep the best final objective (a ``min`` would keep the worst)."""
    X, y, _ = le.make_logistic_instance(5, N=12, K=3, S=15, d=3)

    class RandomStart(LogisticDecoders):
        def init_params(self, n_components, rng):
            return 3.0 * rng.normal(size=(n_components, 3))

    em = MixtureEM(RandomStart(X, y, None), EMConfig(n_components=3, assignment="hard", prior="fixed",
                                                     n_restarts=6, max_iter=1, seed=2)).fit()
    objs = [r.objective for r in em.restarts_]
    assert len(set(np.round(objs, 9))) > 1, "the test problem must give different restarts"
    assert em.objective_ == max(objs) > min(objs)


def test_prec_preset_is_the_printed_leaky_em():
    """One preset for the twin and the pipeline: leaky eq. 12-13, fixed prior (Thm. A.5), k-means++ start."""
    from pluralign.prec.preset import PREC_EM, fixed_assignment_weights, prec_em_config

    cfg = prec_em_config(3, leak=0.1, n_restarts=2, max_iter=7, seed=4)
    assert (cfg.assignment, cfg.prior, cfg.init, cfg.leak, cfg.n_restarts, cfg.max_iter, cfg.seed) == (
        "leaky", "fixed", "kmeans++", 0.1, 2, 7, 4)
    assert PREC_EM["prior"] == "fixed"
    np.testing.assert_array_equal(fixed_assignment_weights(4, 4), np.eye(4))
    np.testing.assert_array_equal(fixed_assignment_weights(4, 1), np.ones((4, 1)))
    with pytest.raises(ValueError, match="K"):
        fixed_assignment_weights(4, 2)
