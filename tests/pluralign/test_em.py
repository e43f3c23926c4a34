"""The mixture-EM engine: monotonicity of leaky EM (seed 000 Thm. A.5), soft EM's marginal likelihood,
empty components, initialisations, restarts, determinism, label-switching-free evaluation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.em import (
    EMConfig,
    LatentClassLogit,
    MixtureEM,
    adjusted_rand_index,
    assignment_weights,
    match_components,
    matched_accuracy,
)
from pluralign.theory import leaky_elbo as le

EPS = 1e-4


class BernoulliMixture:
    """Latent-class model of good / bad ratings: user i of class k rates item j good with prob p_kj.

    log L_ik = sum_j n1_ij log p_kj + n0_ij log(1 - p_kj). The M-step is the EXACT maximiser over
    p in [EPS, 1 - EPS]^(K x J): the weighted frequency, projected onto the box (each coordinate's
    objective is concave, so projection of the unconstrained maximiser is the constrained maximiser).
    """

    def __init__(self, n1, n0):
        self.n1, self.n0 = np.asarray(n1, float), np.asarray(n0, float)
        self.n_users = self.n1.shape[0]

    def init_params(self, K, rng):
        return rng.uniform(0.2, 0.8, size=(K, self.n1.shape[1]))

    def log_likelihood(self, p):
        return self.n1 @ np.log(p).T + self.n0 @ np.log1p(-p).T

    def m_step(self, p, w):
        num = w.T @ self.n1
        den = w.T @ (self.n1 + self.n0)
        out = p.copy()
        ok = den > 0
        out[ok] = np.clip(num[ok] / den[ok], EPS, 1 - EPS)
        return out


def _problem(seed, N, J, K_true):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, size=(K_true, J))
    cls = rng.integers(0, K_true, size=N)
    n = rng.integers(0, 6, size=(N, J))
    n1 = rng.binomial(n, p[cls])
    return BernoulliMixture(n1, n - n1), cls


def _nondecreasing(values, rtol=1e-9):
    v = np.asarray(values, dtype=float)
    for a, b in zip(v[:-1], v[1:]):
        assert b >= a - rtol * max(1.0, abs(a)), (a, b, v)


# ---------------------------------------------------------------------------- Thm. A.5 (done-when)
def _check_leaky_monotone(seed, N, J, K, nu, fixed_rho, init):
    model, _ = _problem(seed, N, J, 2)
    rng = np.random.default_rng(seed + 1)
    rho0 = rng.dirichlet(np.ones(K)) if fixed_rho else None
    if init == "kmeans++" and N < K:
        with pytest.raises(ValueError, match="n_components"):
            MixtureEM(model, EMConfig(n_components=K, init=init)).fit(user_features=np.ones((N, 2)))
        init = "random"
    cfg = EMConfig(
        n_components=K,
        assignment="leaky",
        leak=nu,
        prior="fixed" if fixed_rho else "estimate",
        init=init,
        max_iter=25,
        tol=1e-13,
        seed=seed,
    )
    feats = np.hstack([model.n1, model.n0])
    em = MixtureEM(model, cfg, rho0=rho0).fit(user_features=feats if init == "kmeans++" else None)
    f = [t["leaky_elbo"] for t in em.trace_]
    _nondecreasing(f)
    last = em.trace_[-1]  # F_nu is a lower bound of l (Remark A.2)
    assert last["leaky_elbo"] <= last["marginal_ll"] + 1e-9 * max(1.0, abs(last["marginal_ll"]))
    if fixed_rho:
        np.testing.assert_allclose(em.rho_, rho0)
    return f


@settings(max_examples=220)
@given(
    seed=st.integers(0, 10**6),
    N=st.integers(2, 40),
    J=st.integers(1, 6),
    K=st.integers(1, 4),
    nu=st.one_of(st.just(0.0), st.floats(0.0, 0.6)),
    init=st.sampled_from(["random", "kmeans++"]),
)
def test_leaky_elbo_never_decreases_with_exact_m_step_and_fixed_priors(seed, N, J, K, nu, init):
    """Seed 000 Thm. A.5 (done-when): with an exact M-step and FIXED priors (random, Dirichlet-drawn),
    F_nu(z_t, theta_t) never decreases, checked at every iteration (relative tolerance 1e-9) on 220
    generated problems (nu = 0 is hard EM)."""
    _check_leaky_monotone(seed, N, J, K, nu, True, init)


def test_leaky_elbo_checks_see_em_move():
    """The monotonicity checks above are not vacuous: on 60 fixed problems of their size (N 10-40 users,
    K 2-4) F_nu never decreases and, in at least a third of them, strictly increases at least twice
    (tiny problems are often a fixed point of the first M-step, where the check has nothing to compare)."""
    moving = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        N, J, K, nu = int(rng.integers(10, 41)), int(rng.integers(2, 7)), int(rng.integers(2, 5)), float(rng.uniform(0, 0.6))
        f = _check_leaky_monotone(seed, N, J, K, nu, True, "random")
        moving += sum(b > a + 1e-12 * abs(a) for a, b in zip(f, f[1:])) >= 2
    assert moving >= 20, moving


@settings(max_examples=40)
@given(seed=st.integers(0, 10**6), N=st.integers(2, 40), K=st.integers(1, 4), nu=st.floats(0.0, 0.6))
def test_leaky_elbo_never_decreases_with_reestimated_priors(seed, N, K, nu):
    """Also with re-estimated priors: rho = mean_i q_i maximises F_nu over rho for fixed q."""
    _check_leaky_monotone(seed, N, 4, K, nu, False, "random")


@settings(max_examples=40)
@given(seed=st.integers(0, 10**6), N=st.integers(2, 10), K=st.integers(1, 4))
def test_soft_em_marginal_likelihood_never_decreases(seed, N, K):
    """Classical EM (seed 001 eq. 36-38, re-estimated priors eq. 25): l(theta_t) is non-decreasing."""
    model, _ = _problem(seed, N, 4, 3)
    em = MixtureEM(model, EMConfig(n_components=K, assignment="soft", max_iter=30, tol=0.0, seed=seed)).fit()
    _nondecreasing([t["marginal_ll"] for t in em.trace_])
    np.testing.assert_allclose(em.rho_.sum(), 1.0)
    np.testing.assert_allclose(em.responsibilities_.sum(axis=1), 1.0)


def test_leaky_elbo_monotone_with_prec_linear_decoders_lbfgs():
    """The real PREC adapter with the convex linear decoder and the full-batch float64 L-BFGS M-step
    (warm-started, so never worse than the previous decoders): F_nu is non-decreasing."""
    torch = pytest.importorskip("torch")
    from pluralign.data import Ratings
    from pluralign.prec.decoders import DecoderConfig, DecoderMixture

    torch.set_num_threads(1)
    for seed in range(2):
        rng = np.random.default_rng(seed)
        N, per, T, d = 8, 6, 5, 3
        user = np.repeat(np.arange(N), per)
        x = rng.normal(size=(N * per, T, d))
        a = rng.normal(size=(2, d))[np.arange(N) % 2][user]
        lab = (rng.random(N * per) < 1 / (1 + np.exp(-(x.mean(1) * a).sum(1) * 2))).astype(float)
        lab[::7] = 0.5
        w = np.ones(N * per)
        w[::5] = 0.0
        r = Ratings(user=user, features=x, label=lab, weight=w)
        cfg = DecoderConfig(n_hidden=0, optimizer="lbfgs", n_steps=40, dtype="float64")
        em_cfg = EMConfig(n_components=2, assignment="leaky", leak=0.2, prior="fixed", max_iter=6, tol=0.0, seed=seed)
        em = MixtureEM(DecoderMixture(r, config=cfg, seed=seed), em_cfg).fit()
        _nondecreasing([t["leaky_elbo"] for t in em.trace_])


# ---------------------------------------------------------------------------- engine behaviour
def test_e_step_matches_theory_layer():
    rng = np.random.default_rng(0)
    L = -rng.exponential(3.0, size=(7, 3))
    rho = np.array([0.2, 0.5, 0.3])
    w, q, z = assignment_weights(L, rho, "leaky", 0.25)
    np.testing.assert_array_equal(z, np.argmax(L + np.log(rho), axis=1))
    np.testing.assert_allclose(w[np.arange(7), z], 1.0)
    assert np.all(np.isclose(w, 1.0) | np.isclose(w, 0.25))
    np.testing.assert_allclose(q, w / (1 + 2 * 0.25))
    w, q, _ = assignment_weights(L, rho, "soft")
    np.testing.assert_allclose(q, le.posterior(L, rho))
    w, q, z = assignment_weights(L, rho, "hard")
    np.testing.assert_array_equal(w, np.eye(3)[z])


def test_empty_component_is_kept_with_zero_prior():
    """Hard assignment + re-estimated prior: a component that wins nobody gets rho_k = 0 exactly, stays
    empty, its parameters are left unchanged, and it is reported (documented behaviour)."""
    class BadStart(BernoulliMixture):
        def init_params(self, K, rng):  # components 1, 2 start at p = EPS: nobody will want them
            return np.vstack([np.full((1, 4), 0.9), np.full((K - 1, 4), EPS)])

    base, _ = _problem(3, 10, 4, 1)
    model = BadStart(base.n1 + 3, base.n0)
    resp = np.zeros((10, 3))
    resp[:, 0] = 1.0  # components 1 and 2 start empty
    cfg = EMConfig(n_components=3, assignment="hard", prior="estimate", init="given", max_iter=5, seed=0)
    em = MixtureEM(model, cfg).fit(responsibilities=resp)
    np.testing.assert_array_equal(em.rho_, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(em.empty_components_, [1, 2])
    assert em.trace_[-1]["n_empty"] == 2
    assert np.all(em.labels_ == 0)
    # leaky with nu > 0 cannot empty: rho_k >= nu / (1 + (K - 1) nu)
    nu = 0.1
    em = MixtureEM(model, EMConfig(n_components=3, assignment="leaky", leak=nu, init="given", max_iter=5)).fit(
        responsibilities=resp
    )
    assert np.all(em.rho_ >= nu / (1 + 2 * nu) - 1e-12)
    assert em.empty_components_.size == 0


def test_recovers_separated_clusters_and_is_deterministic():
    rng = np.random.default_rng(0)
    N, J = 40, 10
    p = np.array([[0.9] * 5 + [0.1] * 5, [0.1] * 5 + [0.9] * 5])
    cls = np.arange(N) % 2
    n = np.full((N, J), 6)
    n1 = rng.binomial(n, p[cls])
    model = BernoulliMixture(n1, n - n1)
    for mode, nu in (("soft", 0.0), ("hard", 0.0), ("leaky", 0.1)):
        cfg = EMConfig(n_components=2, assignment=mode, leak=nu, n_restarts=3, seed=5)
        a = MixtureEM(model, cfg).fit()
        b = MixtureEM(model, cfg).fit()
        assert matched_accuracy(cls, a.labels_) == 1.0
        assert adjusted_rand_index(cls, a.labels_) == 1.0
        np.testing.assert_array_equal(a.params_, b.params_)
        assert a.objective_ == max(r.objective for r in a.restarts_)
        assert a.converged_


def test_restart_r_draws_from_derive_seed_r():
    """Restart r's stream is pluralign.seeding.derive(seed, r) (= the SeedSequence(seed).spawn children)."""
    from pluralign.seeding import derive

    class Spy(BernoulliMixture):
        def init_params(self, K, rng):
            self.draws.append(rng.random())
            return super().init_params(K, rng)

    model, _ = _problem(3, 12, 4, 2)
    spy = Spy(model.n1, model.n0)
    spy.draws = []
    MixtureEM(spy, EMConfig(n_components=2, n_restarts=3, max_iter=2, seed=9)).fit()
    want = []
    for r in range(3):
        g = derive(9, r)
        g.permutation(np.arange(12) % 2)  # the random initial assignment comes first
        want.append(g.random())
    assert spy.draws == want
    old = [np.random.default_rng(s) for s in np.random.SeedSequence(9).spawn(3)]
    assert all(g.random() == derive(9, r).random() for r, g in enumerate(old))


def test_kmeans_init_and_given_init():
    model, cls = _problem(11, 30, 8, 3)
    feats = np.eye(3)[cls] + 0.01 * np.random.default_rng(0).normal(size=(30, 3))
    em = MixtureEM(model, EMConfig(n_components=3, init="kmeans++", max_iter=1, seed=0)).fit(user_features=feats)
    assert em.n_iter_ == 1
    with pytest.raises(ValueError, match="user_features"):
        MixtureEM(model, EMConfig(n_components=3, init="kmeans++")).fit()
    with pytest.raises(ValueError, match="responsibilities"):
        MixtureEM(model, EMConfig(n_components=3, init="given")).fit()
    with pytest.raises(ValueError, match="responsibilities"):
        MixtureEM(model, EMConfig(n_components=3, init="given")).fit(responsibilities=np.ones((30, 3)))


def test_bad_inputs_raise_value_errors():
    for kw, field in (
        ({"n_components": 0}, "n_components"),
        ({"n_components": 2, "assignment": "fuzzy"}, "assignment"),
        ({"n_components": 2, "leak": 1.0}, "leak"),
        ({"n_components": 2, "prior": "flat"}, "prior"),
        ({"n_components": 2, "init": "pca"}, "init"),
    ):
        with pytest.raises(ValueError, match=field):
            EMConfig(**kw)

    class Broken(BernoulliMixture):
        def log_likelihood(self, p):
            return super().log_likelihood(p)[:, :1]

    model, _ = _problem(0, 5, 3, 2)
    with pytest.raises(ValueError, match="log_likelihood"):
        MixtureEM(Broken(model.n1, model.n0), EMConfig(n_components=2)).fit()
    with pytest.raises(ValueError, match="rho"):
        MixtureEM(model, EMConfig(n_components=2), rho0=np.array([0.7, 0.7]))


def test_latent_class_logit_still_works():
    from pluralign.data import Choices

    rng = np.random.default_rng(1)
    N, per, n, d = 20, 15, 3, 2
    beta = np.array([[3.0, 0.0], [-3.0, 0.0]])
    cls = np.arange(N) % 2
    user = np.repeat(np.arange(N), per)
    X = rng.normal(size=(N * per, n, d))
    u = np.einsum("mnd,md->mn", X, beta[cls[user]])
    g = -np.log(-np.log(rng.random(u.shape)))
    ch = Choices(user=user, features=X, chosen=np.argmax(u + g, axis=1))
    em = MixtureEM(LatentClassLogit(ch), EMConfig(n_components=2, n_restarts=2, seed=0)).fit()
    assert matched_accuracy(cls, em.labels_) >= 0.95


# ---------------------------------------------------------------------------- evaluation
@settings(max_examples=40)
@given(st.lists(st.integers(0, 3), min_size=2, max_size=25), st.permutations(range(4)), st.integers(0, 10**6))
def test_matched_accuracy_is_label_switching_free_and_brute_force_optimal(true, perm, seed):
    t = np.asarray(true)
    rng = np.random.default_rng(seed)
    pred = np.where(rng.random(t.size) < 0.7, t, rng.integers(0, 4, t.size))
    relabelled = np.asarray(perm)[pred]
    acc = matched_accuracy(t, pred)
    assert acc == pytest.approx(matched_accuracy(t, relabelled))
    assert adjusted_rand_index(t, pred) == pytest.approx(adjusted_rand_index(t, relabelled))
    kt, kp = t.max() + 1, pred.max() + 1
    best = 0
    for sigma in itertools.permutations(range(max(kt, kp))):
        best = max(best, np.mean(np.asarray(sigma)[pred] == t))
    assert acc == pytest.approx(best)


def test_match_components_hungarian():
    cost = np.array([[5.0, 1.0, 9.0], [1.0, 7.0, 8.0], [4.0, 6.0, 0.5]])
    np.testing.assert_array_equal(match_components(cost), [1, 0, 2])


def test_latent_class_newton_and_lbfgs_m_steps_reach_the_same_optimum():
    from pluralign.choice import sample_choice
    from pluralign.data import Choices

    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 3, 4))
    chosen = sample_choice(X @ np.array([1.0, -1.0, 0.5, 0.0]), rng)
    ch = Choices(user=np.arange(300) % 30, features=X, chosen=chosen)
    W = rng.dirichlet(np.ones(2), size=30)
    p0 = rng.standard_normal((2, 4))
    a = LatentClassLogit(ch, l2=1e-2, m_step="newton")
    b = LatentClassLogit(ch, l2=1e-2, m_step="lbfgs")
    pa, pb = a.m_step(p0, W), b.m_step(p0, W)
    np.testing.assert_allclose(pa, pb, atol=1e-4)
    rec_w = W[ch.user]
    for k in range(2):  # Newton's optimum is at least as good as L-BFGS's (to rounding)
        fa, ga, _, _ = a._parts(pa[k], rec_w[:, k])
        fb, _, _, _ = a._parts(pb[k], rec_w[:, k])
        assert fa <= fb + 1e-9 and np.max(np.abs(ga)) < 1e-6
    with pytest.raises(ValueError, match="m_step"):
        LatentClassLogit(ch, m_step="adam")


# ---------------------------------------------------------------------------- latent-class logit: speed paths
def _lcl_data(seed, N=80, per=6, K=2, d=3, n=3):
    from pluralign.choice import sample_choice
    from pluralign.data import Choices

    rng = np.random.default_rng(seed)
    betas = 2.0 * rng.standard_normal((K, d))
    types = rng.integers(K, size=N)
    user = np.repeat(np.arange(N), per)
    X = rng.standard_normal((N * per, n, d))
    return Choices(user=user, features=X, chosen=sample_choice(np.einsum("mnd,md->mn", X, betas[types[user]]), rng))


def test_latent_class_m_step_on_all_components_equals_one_at_a_time():
    # the K Newton runs share likelihood passes but must be K independent exact M-steps; a component with
    # no weight keeps its parameters (the engine's contract)
    ch = _lcl_data(0)
    model = LatentClassLogit(ch, l2=1e-2)
    rng = np.random.default_rng(1)
    W = rng.dirichlet(np.ones(3), size=ch.n_users)
    W[:, 2] = 0.0
    p0 = rng.standard_normal((3, 3))
    together = model.m_step(p0, W)
    for k in range(3):
        alone = model._fit_one(p0[k], W[ch.user, k])
        np.testing.assert_allclose(together[k], alone, atol=1e-10)
    np.testing.assert_array_equal(together[2], p0[2])
    for k in range(2):  # each an optimum of its own weighted objective
        _, g, _, _ = model._parts(together[k], W[ch.user, k])
        assert np.max(np.abs(g)) <= 1e-6


def test_latent_class_log_likelihood_memo_never_serves_stale_values():
    ch = _lcl_data(2)
    model, fresh = LatentClassLogit(ch), LatentClassLogit(ch)
    B1, B2 = np.random.default_rng(3).standard_normal((2, 2, 3))
    L1 = model.log_likelihood(B1)
    model.log_likelihood(B2)
    np.testing.assert_array_equal(model.log_likelihood(B1), L1)
    B = B1.copy()
    model.log_likelihood(B)
    B[0, 0] += 0.5  # mutated in place after the call: the memo holds a copy, so this is a new point
    np.testing.assert_array_equal(model.log_likelihood(B), fresh.log_likelihood(B))


def _direct_optimum(model, B0, rho0):
    """The penalized marginal log-likelihood maximized directly (L-BFGS-B, analytic gradient), by the
    benchmark's own direct fit (benchmarks/latent_class.py)."""
    import importlib.util
    import pathlib
    import sys

    bench = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
    spec = importlib.util.spec_from_file_location("_lc_bench", bench / "latent_class.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(bench))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(bench))
    return mod.direct_fit(model, B0, rho0, model.l2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_accelerated_em_is_monotone_and_reaches_the_direct_optimum(seed):
    ch = _lcl_data(seed, N=120)
    model = LatentClassLogit(ch, l2=1e-2)
    calls = []
    orig = model.marginal_newton_step

    def spy(*a):
        out = orig(*a)
        calls.append(out is not None)
        return out

    model.marginal_newton_step = spy
    em = MixtureEM(model, EMConfig(n_components=2, seed=seed, tol=1e-12, max_iter=500, accelerate="newton")).fit()
    assert sum(calls) >= 3  # Newton steps were taken
    pen = [le.marginal_log_likelihood(model.log_likelihood(em.params_), em.rho_) - 0.5 * model.l2 * np.sum(em.params_**2)]
    B, rho = _direct_optimum(model, em.params_ + 0.05, np.full(2, 0.5))
    direct = le.marginal_log_likelihood(model.log_likelihood(B), rho) - 0.5 * model.l2 * np.sum(B**2)
    assert pen[0] >= direct - 1e-9 * abs(direct)
    np.testing.assert_allclose(em.params_, B, atol=1e-5)
    np.testing.assert_allclose(em.rho_, rho, atol=1e-6)
    assert em.converged_
    # without a ridge the objective is the traced marginal log-likelihood itself: it never decreases
    em0 = MixtureEM(LatentClassLogit(ch, l2=0.0), EMConfig(n_components=2, seed=seed, tol=1e-12, max_iter=500,
                                                            accelerate="newton")).fit()
    ml = [t["marginal_ll"] for t in em0.trace_]
    assert all(b >= a - 1e-12 * abs(a) for a, b in zip(ml, ml[1:]))


def test_default_em_on_the_latent_class_logit_is_the_accelerated_fit_and_plain_em_reaches_the_same_optimum():
    # issue 18: the fastest exact fit is the default; accelerate="none" is plain EM (no Newton step taken)
    assert EMConfig(n_components=2).accelerate == "auto"
    ch = _lcl_data(3, N=120)
    fits = {}
    for acc in ("auto", "none"):
        model = LatentClassLogit(ch, l2=1e-2)
        calls = []
        orig = model.marginal_newton_step
        model.marginal_newton_step = lambda *a, orig=orig, calls=calls: calls.append(1) or orig(*a)
        kw = {} if acc == "auto" else {"accelerate": "none"}
        em = MixtureEM(model, EMConfig(n_components=2, seed=3, tol=1e-13, max_iter=5000, **kw)).fit()
        fits[acc] = (em, len(calls))
    (fast, n_fast), (plain, n_plain) = fits["auto"], fits["none"]
    assert n_fast >= 3 and n_plain == 0
    assert fast.n_iter_ < plain.n_iter_
    perm = np.argsort(fast.params_[:, 0]), np.argsort(plain.params_[:, 0])
    np.testing.assert_allclose(fast.params_[perm[0]], plain.params_[perm[1]], atol=1e-4)
    np.testing.assert_allclose(fast.rho_[perm[0]], plain.rho_[perm[1]], atol=1e-5)


def test_marginal_newton_step_converges_quadratically():
    # a wrong entry of the analytic gradient or Hessian (any block: beta-beta, beta-prior, prior-prior)
    # leaves at best a linear rate; Newton's from near the optimum squares the error
    ch = _lcl_data(5, N=150, K=3)
    model = LatentClassLogit(ch, l2=1e-2)
    em = MixtureEM(model, EMConfig(n_components=3, seed=0, tol=1e-14, max_iter=2000, accelerate="newton")).fit()
    B_star, rho_star = em.params_, em.rho_
    rng = np.random.default_rng(0)
    B = B_star + 1e-2 * rng.standard_normal(B_star.shape)
    rho = rho_star * np.exp(1e-2 * rng.standard_normal(3))
    rho /= rho.sum()
    errs = []
    for _ in range(3):
        errs.append(max(np.max(np.abs(B - B_star)), np.max(np.abs(np.log(rho / rho_star)))))
        B, rho = model.marginal_newton_step(B, rho, model.log_likelihood(B))
    errs.append(max(np.max(np.abs(B - B_star)), np.max(np.abs(np.log(rho / rho_star)))))
    assert errs[1] <= 20 * errs[0] ** 2 and errs[2] <= max(20 * errs[1] ** 2, 1e-9), errs


def test_accelerate_option_is_checked_and_only_used_where_it_applies():
    with pytest.raises(ValueError, match="accelerate"):
        EMConfig(n_components=2, accelerate="squarem")
    ch = _lcl_data(7, N=40)
    model = LatentClassLogit(ch)
    model.marginal_newton_step = lambda *a: pytest.fail("Newton step taken outside soft EM with an estimated prior")
    for kw in (dict(assignment="hard"), dict(assignment="leaky", leak=0.1), dict(prior="fixed"), dict()):
        cfg = EMConfig(n_components=2, seed=0, max_iter=5, accelerate="newton" if kw else "none", **kw)
        MixtureEM(model, cfg).fit()


class _Worsening(BernoulliMixture):
    """An M-step that is exact on its first two calls (the initial M-step and iteration 0), then shrinks
    the fitted probabilities toward 1/2 by a factor 2 more on every call: the objective falls from
    iteration 1 on (a bad M-step, e.g. a too-large gradient step of an inexact one)."""

    def m_step(self, p, w):
        self.calls = getattr(self, "calls", 0) + 1
        exact = super().m_step(p, w)
        if self.calls <= 2:
            return exact
        return 0.5 + (exact - 0.5) * 0.5 ** (self.calls - 2)


@pytest.mark.parametrize("mode", ["soft", "hard", "leaky"])
def test_a_decrease_of_the_objective_stops_the_run(mode):
    """The stopping rule is 'the objective improved by less than tol (1 + |objective|)', so a DEcrease stops
    the run at once (module docstring: 'a decrease also stops'); |change| < tol would run on to max_iter."""
    model, _ = _problem(4, 40, 8, 2)
    m = _Worsening(model.n1, model.n0)
    em = MixtureEM(m, EMConfig(n_components=2, assignment=mode, leak=0.1 if mode == "leaky" else 0.0,
                               max_iter=50, seed=1)).fit()
    obj = [t["objective"] for t in em.trace_]
    assert em.n_iter_ == len(obj) == 2 and em.converged_
    assert obj[1] < obj[0] - 1e-3 * (1 + abs(obj[0]))  # the second iteration really did lower it
    assert em.objective_ == obj[1]
    assert m.calls == 3  # initial M-step + 2 iterations: no third iteration ran

