"""Seed 000 (PREC), Appendix A: the leaky ELBO and its statements (Lemma A.1 ... Cor. A.6)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pluralign.theory import leaky_elbo as le


@st.composite
def instances(draw, n_max=7, k_max=4):
    N = draw(st.integers(1, n_max))
    K = draw(st.integers(1, k_max))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.1, 3.0, 300.0]))
    rng = np.random.default_rng(seed)
    log_lik = -scale * rng.exponential(size=(N, K))
    rho = rng.dirichlet(np.ones(K))
    z = rng.integers(0, K, size=N)
    nu = draw(st.sampled_from([0.0, 1e-6, 0.05, 0.3, 0.9]))
    return log_lik, rho, z, nu


def _entropy_of_leaky_q(K, nu):
    c = 1 + (K - 1) * nu
    h = np.log(c)  # the mass 1/c on z_i
    if nu > 0:
        h -= (K - 1) * nu / c * np.log(nu)
    return h


@given(instances())
def test_leaky_elbo_closed_form(inst):
    # eq. 18 with q of eq. 16 written out: F = sum_i [(1-nu) J_{i z_i} + nu sum_k J_ik] / c + N H(q)
    log_lik, rho, z, nu = inst
    N, K = log_lik.shape
    J = log_lik + np.log(rho)
    c = 1 + (K - 1) * nu
    expected = np.sum(((1 - nu) * J[np.arange(N), z] + nu * J.sum(axis=1)) / c) + N * _entropy_of_leaky_q(K, nu)
    assert le.leaky_elbo(log_lik, rho, z, nu) == pytest.approx(expected, rel=1e-10, abs=1e-10)


@given(instances())
def test_lemma_a1_elbo_below_marginal_likelihood(inst):
    log_lik, rho, z, nu = inst
    margin = le.check_lemma_a1(log_lik, rho, z, nu)
    assert margin >= -1e-9 * max(1.0, abs(le.marginal_log_likelihood(log_lik, rho)))
    # tight exactly when q_i = gamma_i: for K = 1 both are the point mass
    if log_lik.shape[1] == 1:
        assert abs(margin) <= 1e-9 * max(1.0, abs(log_lik).sum())


@given(instances())
def test_remark_a2_slack_is_kl_to_posterior(inst):
    log_lik, rho, z, nu = inst
    assert le.check_remark_a2(log_lik, rho, z, nu) <= 1e-9
    # independent computation of the KL with plain (not log-space) probabilities on a rescaled copy
    N, K = log_lik.shape
    shifted = log_lik - log_lik.max(axis=1, keepdims=True)
    assume(np.all(shifted > -600))
    num = rho * np.exp(shifted)
    gamma = num / num.sum(axis=1, keepdims=True)
    q = le.leaky_q(z, K, nu)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(q > 0, q * np.log(q / gamma), 0.0).sum()
    l_minus_f = le.marginal_log_likelihood(log_lik, rho) - le.leaky_elbo(log_lik, rho, z, nu)
    assert l_minus_f == pytest.approx(kl, rel=1e-7, abs=1e-7)


@settings(max_examples=40)
@given(instances(n_max=5, k_max=3))
def test_prop_a3_argmax_assignment_is_optimal_by_brute_force(inst):
    log_lik, rho, _, nu = inst
    best, best_z = le.brute_force_best_assignment(log_lik, rho, nu)
    assert le.check_prop_a3(log_lik, rho, nu) >= -1e-9 * max(1.0, abs(best))
    # and the brute force itself finds a z at least as good as every single-user change of the argmax
    z = le.argmax_assignment(log_lik, rho)
    for i in range(len(z)):
        for k in range(log_lik.shape[1]):
            z2 = z.copy()
            z2[i] = k
            assert le.leaky_elbo(log_lik, rho, z2, nu) <= best + 1e-9 * max(1.0, abs(best))


@given(instances())
def test_cor_a6_nu_zero_is_hard_elbo(inst):
    log_lik, rho, z, _ = inst
    assert le.check_cor_a6(log_lik, rho, z) >= -1e-9 * max(1.0, np.abs(log_lik).sum())
    # and F_nu is continuous at nu = 0
    f0 = le.leaky_elbo(log_lik, rho, z, 0.0)
    assert le.leaky_elbo(log_lik, rho, z, 1e-12) == pytest.approx(f0, rel=1e-8, abs=1e-8)


def _fd_grad(f, x, h=1e-5):
    g = np.zeros_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e.flat[j] = h
        g.flat[j] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@settings(max_examples=12)
@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.1, 0.5]), st.integers(1, 3))
def test_prop_a4_leaky_m_step_maximizes_f_nu(seed, nu, K):
    X, y, z_true = le.make_logistic_instance(seed, N=6, K=K, S=20)
    z = np.random.default_rng(seed).integers(0, K, size=6)
    rho = np.full(K, 1.0 / K)
    try:
        theta = le.leaky_m_step_logistic(X, y, z, K, nu)
    except RuntimeError:
        assume(False)
    d = X.shape[2]

    def F(v):
        return le.leaky_elbo(le.logistic_user_log_lik(v.reshape(K, d), X, y), rho, z, nu)

    # stationarity of F_nu itself (finite differences, independent of the Newton code)
    g = _fd_grad(F, theta.ravel())
    assert np.abs(g).max() <= 1e-4 * max(1.0, abs(F(theta.ravel())))
    # and global optimality against an independent L-BFGS solve and perturbations
    assert le.check_prop_a4(X, y, z, rho, nu, seed=seed) >= -1e-7


@settings(max_examples=10)
@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.1, 0.4]), st.integers(2, 3))
def test_thm_a5_fixed_rho_leaky_em_is_monotone(seed, nu, K):
    X, y, _ = le.make_logistic_instance(seed, N=8, K=K, S=20)
    rho = np.random.default_rng(seed).dirichlet(np.ones(K) * 2)
    try:
        run = le.leaky_em_logistic(X, y, K, nu, rho=rho, n_iter=5, seed=seed)
    except RuntimeError:
        assume(False)
    f = np.asarray(run.f_half)
    assert np.all(np.diff(f) >= -1e-9 * np.abs(f[:-1]).max())
    assert np.all(np.asarray(run.marginal_ll) <= 0)
    assert np.all(f <= np.asarray(run.marginal_ll) + 1e-9)
    assert le.check_thm_a5(run) >= -1e-9


def test_probe_outside_thm_a5_scope():
    """What the search found (recorded, whichever way it went): re-estimating rho by hard counts and a
    gradient M-step with a step far above 1/smoothness both make F_nu decrease; rho re-estimated by the
    leaky counts (the maximizer of F_nu over rho, as pluralign.em does) and small gradient steps never do."""
    res = le.probe_f_nu_decrease(seed=0, n_instances=6, lrs=(0.5, 32.0), nu=0.3, K=3, N=9, n_iter=5)
    assert res["rho_leaky"]["instances"] > 0 and res["rho_leaky"]["decreases"] == 0
    assert res["grad_lr=0.5"]["decreases"] == 0
    assert res["grad_lr=32"]["decreases"] > 0 and res["grad_lr=32"]["worst_drop"] < -1.0
    assert res["rho_hard"]["decreases"] > 0  # finite drops and/or an emptied cluster (rho_k = 0: F = -inf)


def test_rho_hard_counts_decrease_example():
    # a finite decrease at a rho half-step, found by probe_f_nu_decrease(nu=0.3, K=2, N=5)
    X, y, _ = le.make_logistic_instance(100042, N=5, K=2)
    run = le.leaky_em_logistic(X, y, 2, 0.3, n_iter=6, seed=100042, rho_update="hard")
    f = np.asarray(run.f_half)
    d = np.diff(f)
    t = int(np.argmin(d))
    assert d[t] < -0.1 and run.steps[t + 1] == "rho" and np.isfinite(f[t + 1])


def test_small_gradient_steps_cannot_decrease():
    X, y, _ = le.make_logistic_instance(5, N=9, K=3)
    lr = 1.0 / le.logistic_smoothness(X)
    for seed in range(3):
        run = le.leaky_em_logistic(X, y, 3, 0.3, n_iter=5, seed=seed, m_step="gradient", lr=lr)
        assert le.check_thm_a5(run) >= -1e-9


def test_elbo_rejects_q_that_is_not_row_stochastic():
    L = -np.ones((2, 2))
    with pytest.raises(ValueError, match="q"):
        le.elbo(L, [0.5, 0.5], [[1.5, -0.5], [0.5, 0.5]])  # rows sum to 1 but an entry is negative
    with pytest.raises(ValueError, match="q"):
        le.elbo(L, [0.5, 0.5], [[0.7, 0.7], [0.5, 0.5]])  # non-negative but a row sums to 1.4


def test_bad_inputs_name_the_field():
    L = -np.ones((3, 2))
    rho = np.array([0.5, 0.5])
    z = np.array([0, 1, 0])
    with pytest.raises(ValueError, match="log_lik"):
        le.check_lemma_a1(np.ones((3, 2)), rho, z, 0.1)
    with pytest.raises(ValueError, match="rho"):
        le.check_remark_a2(L, [0.7, 0.7], z, 0.1)
    with pytest.raises(ValueError, match="rho: expected length 2, got 3"):  # one prior weight per component
        le.leaky_elbo(L, np.ones(3) / 3, z, 0.1)
    with pytest.raises(ValueError, match="nu"):
        le.check_prop_a3(L, rho, 1.0)
    with pytest.raises(ValueError, match="z"):
        le.check_cor_a6(L, rho, np.array([0, 2, 0]))
    with pytest.raises(ValueError, match="log_lik"):
        le.brute_force_best_assignment(-np.ones((30, 3)), np.ones(3) / 3, 0.1)
    X, y, _ = le.make_logistic_instance(0, N=4, K=2)
    with pytest.raises(ValueError, match="y"):
        le.leaky_em_logistic(X, y * 2, 2, 0.1)
    with pytest.raises(ValueError, match="rho_update"):
        le.leaky_em_logistic(X, y, 2, 0.1, rho_update="soft")
    with pytest.raises(ValueError, match="m_step"):
        le.leaky_em_logistic(X, y, 2, 0.1, m_step="adam")
    with pytest.raises(ValueError, match="theta"):
        le.logistic_user_log_lik(np.ones((2, 5)), X, y)
    with pytest.raises(ValueError, match="weights"):
        le.fit_logistic_decoder(X, y, -np.ones(4))
    with pytest.raises(ValueError, match="run"):
        le.check_thm_a5([0.0, 1.0])


def test_fit_logistic_decoder_with_all_zero_weights():
    # no user carries weight: the objective sum_i 0 * log L_i is identically 0 and every theta maximizes
    # it; the fit returns the start (theta0, or 0) without iterating, even on separable data
    X = np.array([[[1.0, 0.0], [0.0, 1.0]], [[2.0, 1.0], [1.0, -1.0]]])
    y = np.array([[1.0, 1.0], [1.0, 0.0]])  # separable: theta = (1, 2) classifies every segment
    theta, obj = le.fit_logistic_decoder(X, y, np.zeros(2), theta0=np.array([0.3, -0.7]))
    np.testing.assert_array_equal(theta, [0.3, -0.7])
    assert obj == 0.0
    theta, obj = le.fit_logistic_decoder(X, y, np.zeros(2))
    np.testing.assert_array_equal(theta, [0.0, 0.0])
    assert obj == 0.0


def test_fit_logistic_decoder_with_unit_total_weight_is_the_maximizer():
    X, y, _ = le.make_logistic_instance(3, N=6, K=2)
    w = np.zeros(6)
    w[[0, 2]] = 0.5  # weights summing to exactly 1
    theta, obj = le.fit_logistic_decoder(X, y, w)
    ll = lambda th: float(w @ le.logistic_user_log_lik(th[None], X, y)[:, 0])
    assert obj == pytest.approx(ll(theta), rel=1e-12)
    grad = [(ll(theta + h) - ll(theta - h)) / 2e-6 for h in 1e-6 * np.eye(X.shape[2])]
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)


def test_logistic_smoothness_is_the_attained_curvature_bound():
    # the normalized objective theta -> sum_i w_i log L_i(theta) / (S sum_i w_i) has Hessian
    # -(1 / (S sum w)) sum_i w_i X_i^T diag(s (1 - s)) X_i; at theta = 0 (s = 1/2) with all weight on one
    # user its curvature is lambda_max(X_i^T X_i) / (4 S): the bound is attained.  Independent check by a
    # finite-difference Hessian of log L_i.
    X, y, _ = le.make_logistic_instance(7, N=4, K=2)
    N, S, d = X.shape
    assert S > 1
    h = 1e-4
    E = h * np.eye(d)
    curv = []
    for i in range(N):
        Xi, yi = X[i:i + 1], y[i:i + 1]
        ll = lambda th: float(le.logistic_user_log_lik(th[None], Xi, yi)[0, 0])
        H = np.array([[(ll(E[a] + E[b]) - ll(E[a] - E[b]) - ll(E[b] - E[a]) + ll(-E[a] - E[b])) / (4 * h * h)
                       for b in range(d)] for a in range(d)])
        curv.append(np.linalg.eigvalsh(-H / S)[-1])
    assert le.logistic_smoothness(X) == pytest.approx(max(curv), rel=1e-5)


def test_probe_counts_emptied_clusters_and_finite_drops():
    # rho re-estimated by hard counts can empty a cluster (rho_k = 0, F_nu = -inf); the probe's counts are
    # recomputed here from the traces of the same runs
    kw = dict(seed=0, n_instances=6, lrs=(), nu=0.3, K=3, N=9, n_iter=5)
    rec = le.probe_f_nu_decrease(**kw)["rho_hard"]
    n_inst = n_inf = n_dec = 0
    worst = 0.0
    for i in range(kw["n_instances"]):
        X, y, _ = le.make_logistic_instance(i, N=9, K=3)
        try:
            run = le.leaky_em_logistic(X, y, 3, 0.3, n_iter=5, seed=i, rho_update="hard")
        except RuntimeError:
            continue
        n_inst += 1
        f = np.asarray(run.f_half)
        prev, cur = f[:-1], f[1:]
        inf = np.isfinite(prev) & np.isneginf(cur)
        fin = np.isfinite(prev) & np.isfinite(cur)
        drop = np.where(fin, np.where(fin, cur, 0.0) - np.where(fin, prev, 0.0), 0.0)
        dec = fin & (drop < -1e-9 * np.maximum(1.0, np.abs(np.where(fin, prev, 0.0))))
        n_inf += int(inf.sum())
        n_dec += int(inf.any() or dec.any())
        worst = min(worst, float(drop[dec].min()) if dec.any() else 0.0)
    assert rec["instances"] == n_inst > 0
    assert rec["to_minus_inf"] == n_inf > 0
    assert rec["decreases"] == n_dec
    assert rec["worst_drop"] == pytest.approx(worst, rel=1e-12)
