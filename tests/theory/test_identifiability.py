"""Seed 001 section 4: identifiability of the random-coefficient logit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import dblquad, quad
from scipy.stats import norm

from pluralign.theory import identifiability as idf


@st.composite
def finite_mixings(draw, d_max=4, m_max=4):
    d = draw(st.integers(1, d_max))
    M = draw(st.integers(1, m_max))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return idf.finite_mixing(2 * rng.normal(size=(M, d)), rng.dirichlet(np.ones(M)))


@st.composite
def gaussian_mixings(draw, d_max=3, m_max=3):
    d = draw(st.integers(1, d_max))
    M = draw(st.integers(1, m_max))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    covs = []
    for _ in range(M):
        A = rng.normal(size=(d, d)) * 0.5
        covs.append(A @ A.T + 0.05 * np.eye(d))
    return idf.gaussian_mixing(rng.normal(size=(M, d)), np.stack(covs), rng.dirichlet(np.ones(M)))


def _direct_finite(f, X):
    out = np.zeros(X.shape[:2])
    for w, b in zip(f.weights, f.means):
        for s in range(X.shape[0]):
            u = X[s] @ b
            e = np.exp(u - u.max())
            out[s] += w * e / e.sum()
    return out


@given(finite_mixings(), st.integers(2, 5), st.integers(0, 10_000))
def test_eq5_finite_mixture_exact(f, n, seed):
    X = idf.random_design(n, f.d, 7, seed=seed, scale=1.5)
    P = idf.choice_probabilities(f, X)
    np.testing.assert_allclose(P, _direct_finite(f, X), atol=1e-13)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-13)
    # a common shift of every item's features changes nothing only for beta-orthogonal shifts in general,
    # but permuting items permutes the probabilities
    perm = np.random.default_rng(seed).permutation(n)
    np.testing.assert_allclose(idf.choice_probabilities(f, X[:, perm]), P[:, perm], atol=1e-13)


@settings(max_examples=10)
@given(gaussian_mixings(), st.integers(0, 10_000))
def test_eq5_gaussian_binary_against_quadrature(f, seed):
    U = idf.random_design(2, f.d, 3, seed=seed)[:, 0, :]
    P, err = idf.choice_probabilities(f, np.stack([U, 0 * U], axis=1), order=40, return_error=True)
    P = P[:, 0]
    assert err < 1e-4
    for s in range(3):
        ref = 0.0
        for w, mu, C in zip(f.weights, f.means, f.covs):
            m, sd = U[s] @ mu, np.sqrt(U[s] @ C @ U[s])
            ref += w * quad(lambda t: norm.pdf(t, m, sd) / (1 + np.exp(-t)), m - 12 * sd, m + 12 * sd,
                            epsabs=1e-12, epsrel=1e-12, limit=200)[0]
        assert abs(P[s] - ref) <= max(err, 1e-10)  # within the stated error estimate


def test_eq5_gaussian_ternary_against_2d_quadrature_and_error_estimates():
    f = idf.gaussian_mixing(np.array([[0.7, -0.3]]), np.array([[[0.6, 0.2], [0.2, 0.4]]]), [1.0])
    X = idf.random_design(3, 2, 2, seed=4, scale=1.0)
    P, err = idf.choice_probabilities(f, X, method="gh", order=24, return_error=True)
    Pq, errq = idf.choice_probabilities(f, X, method="qmc", n_qmc=2048, return_error=True, seed=1)
    for s in range(2):
        D = X[s, 1:] - X[s, :1]
        mu, C = D @ f.means[0], D @ f.covs[0] @ D.T
        Ci, det = np.linalg.inv(C), np.linalg.det(C)

        def p0(b, a):
            v = np.array([a, b]) - mu
            return np.exp(-0.5 * v @ Ci @ v) / (2 * np.pi * np.sqrt(det)) / (1 + np.exp(a) + np.exp(b))

        sd = np.sqrt(np.diag(C))
        ref = dblquad(p0, mu[0] - 9 * sd[0], mu[0] + 9 * sd[0], mu[1] - 9 * sd[1], mu[1] + 9 * sd[1],
                      epsabs=1e-10, epsrel=1e-10)[0]
        assert abs(P[s, 0] - ref) <= max(err, 1e-9) and abs(P[s, 0] - ref) < 1e-4
        assert abs(Pq[s, 0] - ref) <= max(errq, 1e-6)
    assert err < 1e-3 and errq < 1e-3


@given(st.one_of(finite_mixings(), gaussian_mixings()), st.integers(0, 10_000))
def test_binary_probabilities_depend_only_on_odd_part(f, seed):
    U = idf.random_design(2, f.d, 25, seed=seed, scale=1.0)[:, 0, :]
    direct = idf.binary_probabilities(f, U, order=40)
    via_odd = idf.binary_probabilities_via_odd_part(f, U, order=40)
    np.testing.assert_allclose(direct, via_odd, atol=1e-10)
    # and a symmetric distribution has no odd part: all binary probabilities are 1/2 (Lemma 4.1)
    np.testing.assert_allclose(idf.binary_probabilities(idf.symmetrize(f), U, order=40), 0.5, atol=1e-12)


@settings(max_examples=12)
@given(finite_mixings(d_max=3), st.integers(0, 10_000))
def test_symmetric_vs_point_mass_witness(f, seed):
    sym, delta0 = idf.symmetric_vs_point_mass(f)
    assert idf.witness_search(sym, delta0, 2, n_sets=400, seed=seed, refine=0).max_diff <= 1e-12
    # at n = 3 a witness exists whenever f is not the point mass at 0
    if np.abs(f.means).max() > 0.1:
        w3 = idf.witness_search(sym, delta0, 3, n_sets=400, seed=seed, refine=1, max_evals=150)
        assert w3.max_diff > 1e-3
        np.testing.assert_allclose(np.abs(w3.p_f - w3.p_g).max(), w3.max_diff)


@settings(max_examples=12)
@given(finite_mixings(d_max=3), st.floats(0.1, 1.0), st.integers(0, 10_000))
def test_even_perturbation_is_binary_equivalent(f, t, seed):
    # give f a symmetric part to move, then perturb it
    base = idf.Mixing(weights=np.concatenate([0.5 * f.weights, 0.25 * f.weights, 0.25 * f.weights]),
                      means=np.concatenate([f.means, f.means, -f.means]),
                      covs=np.concatenate([f.covs] * 3))
    g = idf.even_perturbation(base, t=t, seed=seed)
    assert np.all(g.weights >= 0) and g.weights.sum() == pytest.approx(1.0)
    # the perturbation is even with zero mass: its odd part vanishes, so binary probabilities agree
    U = idf.random_design(2, f.d, 300, seed=seed, scale=2.0)[:, 0, :]
    np.testing.assert_allclose(idf.binary_probabilities(g, U), idf.binary_probabilities(base, U), atol=1e-12)
    assert idf.witness_search(base, g, 2, n_sets=300, seed=seed, refine=0).max_diff <= 1e-12
    assert idf.witness_search(base, g, 3, n_sets=300, seed=seed, refine=0).max_diff > 1e-4


def test_even_perturbation_of_gaussian_pair_and_failure_without_symmetric_part():
    f = idf.gaussian_mixing(np.array([[1.0, 0.0], [-1.0, 0.0], [0.3, 0.8]]),
                            np.stack([np.eye(2) * 0.3] * 3), [0.3, 0.3, 0.4])
    g = idf.even_perturbation(f, t=1.0, to=[0.0, 2.0])
    assert idf.witness_search(f, g, 2, n_sets=400, refine=0).max_diff <= 1e-12
    assert idf.witness_search(f, g, 3, n_sets=400, refine=0).max_diff > 1e-3
    with pytest.raises(ValueError, match="f"):
        idf.even_perturbation(idf.finite_mixing([[1.0, 0.0]], [1.0]))


def test_mpi_example_ranks():
    f = idf.mpi_example()
    # seed 001 App. D.1: "P1 = (3, 0, 2, 0, -2.5), P2 = (-3, 0, -2, 0, 2.5), and P3 = (0, 2, 0, 2, 0).
    # sampled with probabilities 0.3, 0.3, and 0.4"
    np.testing.assert_array_equal(f.means, [[3, 0, 2, 0, -2.5], [-3, 0, -2, 0, 2.5], [0, 2, 0, 2, 0]])
    np.testing.assert_array_equal(f.weights, [0.3, 0.3, 0.4])
    r2 = idf.local_identifiability(f.means, f.weights, n=2)
    r3 = idf.local_identifiability(f.means, f.weights, n=3)
    assert r2.n_params == 17 and r3.n_params == 17
    assert r2.rank == 12 and not r2.full_rank
    assert r3.rank == 17 and r3.full_rank
    assert r2.smallest_singular_value < 1e-12 * r2.singular_values[0]
    assert r3.smallest_singular_value > 1e-3 * r3.singular_values[0]
    assert abs(r2.fisher_min_eig) < 1e-12 and r3.fisher_min_eig > 0
    # the unidentified directions at n = 2 are exactly the symmetric moves of the pair (P1, P2 = -P1):
    # (delta P1, delta P2) = (v, -v), nothing else
    d = 5
    V = np.zeros((17, d))
    for i in range(d):
        V[i, i] = 1.0
        V[d + i, i] = -1.0
    V /= np.sqrt(2)
    proj = r2.null_space @ (r2.null_space.T @ V)
    np.testing.assert_allclose(proj, V, atol=1e-8)


@settings(max_examples=25)
@given(finite_mixings(), st.integers(2, 4), st.integers(0, 10_000))
def test_jacobian_and_fisher_against_finite_differences(f, n, seed):
    X = idf.random_design(n, f.d, 6, seed=seed)
    J = idf.choice_jacobian(f.means, f.weights, X)
    M, d = f.means.shape
    theta = np.concatenate([f.means.ravel(), f.weights[:-1]])

    def probs(th):
        A = th[: M * d].reshape(M, d)
        w = np.append(th[M * d:], 1 - th[M * d:].sum())
        return _direct_finite(idf.Mixing(w, A, np.zeros((M, d, d)), signed=True), X).ravel()

    h = 1e-6
    J_fd = np.stack([(probs(theta + h * e) - probs(theta - h * e)) / (2 * h) for e in np.eye(theta.size)], axis=1)
    np.testing.assert_allclose(J, J_fd, atol=1e-7)
    # Fisher information = E_s sum_j p_j (d log p_j)(d log p_j)^T
    P = probs(theta).reshape(X.shape[0], n)
    G = J_fd.reshape(X.shape[0], n, -1) / P[..., None]
    I_ref = np.einsum("sn,sna,snb->ab", P, G, G) / X.shape[0]
    np.testing.assert_allclose(idf.fisher_information(f.means, f.weights, X), I_ref, atol=1e-6)


@given(st.integers(1, 6), st.integers(0, 10_000), st.booleans())
def test_lemma_4_3_recovery(d, seed, deficient):
    rng = np.random.default_rng(seed)
    beta = rng.normal(size=d)
    R = d + 3
    U = rng.normal(size=(R, d))
    if deficient and d > 1:
        U[:, -1] = U[:, 0]  # the last feature duplicates the first: beta_0 and beta_last confounded
    p = 1 / (1 + np.exp(-U @ beta))
    b_hat, null = idf.recover_beta_from_binary(U, p)
    if deficient and d > 1:
        assert null.shape == (d, 1)
        resid = beta - b_hat
        np.testing.assert_allclose(null @ (null.T @ resid), resid, atol=1e-8)
        # moving along the null space changes no probability
        np.testing.assert_allclose(1 / (1 + np.exp(-U @ (beta + 3 * null[:, 0]))), p, atol=1e-12)
    else:
        assert null.shape == (d, 0)
        np.testing.assert_allclose(b_hat, beta, atol=1e-9)


# integrands of E|X|^l (the lognormal in y = log x) and their ranges
_MOMENT_INTEGRAND = {
    "normal": lambda p, l: (lambda x: abs(x) ** l * norm.pdf(x, 0, p["sigma"]), -40 * p["sigma"], 40 * p["sigma"]),
    "uniform": lambda p, l: (lambda x: abs(x) ** l / (p["b"] - p["a"]), p["a"], p["b"]),
    "exponential": lambda p, l: (lambda x: x**l * p["rate"] * np.exp(-p["rate"] * x), 0.0, 200 / p["rate"]),
    "lognormal": lambda p, l: (lambda y: np.exp(l * y) * norm.pdf(y, p["mu"], p["sigma"]),
                               p["mu"] - 40 * p["sigma"], p["mu"] + 40 * p["sigma"] + 2 * l * p["sigma"] ** 2),
}


@settings(max_examples=25)
@given(st.sampled_from(["normal", "uniform", "exponential", "lognormal"]), st.floats(0.3, 2.5), st.floats(-1.5, 1.0))
def test_carleman_on_absolute_moments_from_the_parameters(family, scale, shift):
    params = {"normal": {"sigma": scale}, "uniform": {"a": shift, "b": shift + scale},
              "exponential": {"rate": scale}, "lognormal": {"mu": shift / 2, "sigma": scale / 2}}[family]
    lm = idf.log_absolute_moments(family, 200, **params)
    # closed-form moments against numerical integration of |x|^l
    for l in (1, 2, 3, 5):
        g, lo, hi = _MOMENT_INTEGRAND[family](params, l)
        ref = quad(g, lo, hi, limit=400, epsrel=1e-11, points=[0.0] if lo < 0 < hi else None)[0]
        assert np.exp(lm[l - 1]) == pytest.approx(ref, rel=1e-6)
    cf = idf.carleman_closed_form(family, **params)
    roots = np.exp(lm / np.arange(1, 201))
    if cf["holds"]:  # the comparison series bounds m_l^(1/l) from above, and sum 1/bound diverges
        assert np.all(roots <= cf["root_bound"] * (1 + 1e-9))
    else:  # lognormal: exact roots, and the series converges to the closed-form sum
        np.testing.assert_allclose(roots, cf["root_bound"], rtol=1e-9)
        r = np.exp(-params["sigma"] ** 2 / 2)  # a geometric series: its partial sums approach series_sum
        assert np.sum(1 / roots) == pytest.approx(cf["series_sum"] * (1 - r**200), rel=1e-6)
    if family != "lognormal" or params["sigma"] >= 0.5:  # a slow geometric decay needs more than 60 moments
        assert idf.carleman_diagnostic(lm[:60])["holds"] == cf["holds"]


def test_logit_line_derivatives_n2_odd_only_n3_n4_all_moments():
    g2, g3, g4 = (idf.logit_line_derivatives(n, 30) for n in (2, 3, 4))
    assert [k for k in range(31) if g2[k] == 0] == list(range(2, 31, 2))  # n = 2: only odd moments
    assert all(v != 0 for v in g3) and all(v != 0 for v in g4)  # n = 3, 4: every moment (exact fractions)
    # against finite differences of 1 / (1 + (n - 1) e^s)
    h = 1e-3
    for n, g in ((2, g2), (4, g4)):
        fn = lambda s: 1 / (1 + (n - 1) * np.exp(s))
        assert float(g[1]) == pytest.approx((fn(h) - fn(-h)) / (2 * h), rel=1e-5)
        assert float(g[2]) == pytest.approx((fn(h) - 2 * fn(0) + fn(-h)) / h**2, abs=1e-5)


def _numeric_taylor(f, u, n, deg=10, h=0.3):
    """Chebyshev least-squares fit of s -> p_f(y_1 | 0, s u, ..., s u) from choice_probabilities."""
    s = h * np.cos(np.pi * (np.arange(60) + 0.5) / 60)
    X = np.zeros((s.size, n, u.size))
    X[:, 1:, :] = s[:, None, None] * u[None, None, :]
    p = idf.choice_probabilities(f, X, method="gh", order=40)[:, 0] if not f.is_finite else idf.choice_probabilities(f, X)[:, 0]
    return np.polynomial.polynomial.polyfit(s, p, deg)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_theorem_4_2_argument_on_instances(n):
    # a symmetric f and delta_0 share every odd moment; their second moments differ
    rng = np.random.default_rng(n)
    f = idf.finite_mixing(rng.normal(size=(3, 2)), [0.2, 0.3, 0.5])
    sym, d0 = idf.symmetric_vs_point_mass(f)
    fg = idf.gaussian_mixing(rng.normal(size=(2, 2)), np.stack([0.3 * np.eye(2)] * 2), [0.4, 0.6])
    u = rng.normal(size=2)
    for mix in (sym, d0, fg):
        pred = idf.taylor_coefficients_at_zero(mix, u, n, 5)
        num = _numeric_taylor(mix, u, n)[:6]
        np.testing.assert_allclose(num, pred, atol=2e-5)
    a_sym, a_d0 = idf.taylor_coefficients_at_zero(sym, u, n, 6), idf.taylor_coefficients_at_zero(d0, u, n, 6)
    if n == 2:
        np.testing.assert_allclose(a_sym, a_d0, atol=1e-14)  # every Taylor coefficient agrees
    else:
        assert abs(a_sym[2] - a_d0[2]) > 1e-3 and abs(a_sym[4] - a_d0[4]) > 1e-4  # even moments are seen
    # and the projection moments are the exact moments of u^T beta
    m = idf.projection_moments(fg, u, 4)
    draws = fg.sample(200_000, np.random.default_rng(0)) @ u
    for k in range(1, 5):
        assert m[k] == pytest.approx(np.mean(draws**k), rel=0.03, abs=0.02)


@settings(max_examples=8)
@given(gaussian_mixings(), st.integers(0, 10_000))
def test_theorem_4_2_checkable_conditions(f, seed):
    X3 = idf.random_design(3, f.d, 400, seed=seed, scale=1.0)
    cond = idf.theorem_4_2_conditions(3, f, X3, independent=True)
    assert cond["n_ge_3"] and cond["carleman"] and cond["open_set"] and cond["independent"] and cond["all"]
    assert not idf.theorem_4_2_conditions(2, f, X3)["all"]
    assert not idf.theorem_4_2_conditions(3, f, X3, independent=False)["all"]
    # a two-set design (or any fewer than n d + 1 sets) has no open set; nor does a design shifted off 0
    assert not idf.open_set_at_zero(X3[:2])["interior"]
    assert not idf.open_set_at_zero(X3 + 10.0)["interior"]
    # the absolute moments of ||beta||: exact for atoms, an upper bound for Gaussian components
    fa = idf.finite_mixing(f.means, f.weights)
    lm, exact = idf.mixing_absolute_moments(fa, 5)
    assert exact
    np.testing.assert_allclose(np.exp(lm), [np.sum(f.weights * np.linalg.norm(f.means, axis=1) ** l)
                                            for l in range(1, 6)], rtol=1e-10)
    lg, exact = idf.mixing_absolute_moments(f, 4)
    norms = np.linalg.norm(f.sample(100_000, np.random.default_rng(seed)), axis=1)
    assert not exact and np.all(np.exp(lg) >= [np.mean(norms**l) * 0.97 for l in range(1, 5)])
    # the lognormal-like growth of a heavy mixture component is flagged
    heavy = idf.log_absolute_moments("lognormal", 60, sigma=1.0)
    assert not idf.carleman_diagnostic(heavy)["holds"]


def test_inradius_at_zero():
    cube = np.array(np.meshgrid(*[[-1.0, 1.0]] * 3)).reshape(3, -1).T
    assert idf.inradius_at_zero(cube) == pytest.approx(1.0)
    assert idf.inradius_at_zero(cube + 2.0) == 0.0
    ball = np.random.default_rng(0).normal(size=(4000, 2))
    ball /= np.linalg.norm(ball, axis=1, keepdims=True)
    assert idf.inradius_at_zero(0.5 * ball) == pytest.approx(0.5, rel=1e-3)


def test_bad_inputs_name_the_field():
    f = idf.mpi_example()
    with pytest.raises(ValueError, match="X"):
        idf.choice_probabilities(f, np.zeros((3, 1, 5)))
    with pytest.raises(ValueError, match="X"):
        idf.choice_probabilities(f, np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match="method"):
        idf.choice_probabilities(f, np.zeros((3, 2, 5)), method="mc")
    with pytest.raises(ValueError, match="weights"):
        idf.finite_mixing([[0.0], [1.0]], [0.5, 0.6])
    with pytest.raises(ValueError, match="covs"):
        idf.gaussian_mixing([[0.0]], [[[-1.0]]], [1.0])
    with pytest.raises(ValueError, match="probs"):
        idf.recover_beta_from_binary(np.eye(2), [0.5, 1.0])
    with pytest.raises(ValueError, match="family"):
        idf.carleman_closed_form("cauchy")
    with pytest.raises(ValueError, match="log_moments"):
        idf.carleman_diagnostic([1.0, 2.0])
    with pytest.raises(ValueError, match="b"):
        idf.log_absolute_moments("uniform", 3, a=1.0, b=0.0)
    with pytest.raises(ValueError, match="scale"):
        idf.carleman_closed_form("normal", scale=1.0)
    with pytest.raises(ValueError, match="n"):
        idf.logit_line_derivatives(1, 3)
    with pytest.raises(ValueError, match="n"):
        idf.theorem_4_2_conditions(1)
    with pytest.raises(ValueError, match="f"):
        idf.witness_search("not a mixing", f, 2)
    with pytest.raises(ValueError, match="t"):
        idf.even_perturbation(f, t=0.0)
    with pytest.raises(ValueError, match="atoms"):
        idf.local_identifiability(np.zeros((0, 2)), [], 3)


def test_witness_search_without_refinement_returns_the_best_screened_set():
    # refine=0: "random screening ... then Nelder-Mead refinement ... of the ``refine`` best sets", i.e.
    # none: the witness is exactly the best of the screened sets, recomputed here independently
    f = idf.finite_mixing([[1.0, -0.5], [-0.3, 0.8]], [0.4, 0.6])
    g = idf.finite_mixing([[0.2, 0.1]], [1.0])
    scales = (0.3, 1.0)
    w = idf.witness_search(f, g, 3, n_sets=40, seed=5, scales=scales, refine=0)
    X = np.concatenate([idf.random_design(3, 2, 20, seed=5 + i, scale=s) for i, s in enumerate(scales)])
    diff = np.abs(idf.choice_probabilities(f, X) - idf.choice_probabilities(g, X)).max(axis=1)
    assert w.n_sets == 40
    np.testing.assert_array_equal(w.X, X[int(np.argmax(diff))])
    assert w.max_diff == pytest.approx(float(diff.max()), rel=1e-12)
    # with refinement, Nelder-Mead strictly improves on the screened maximum here
    assert idf.witness_search(f, g, 3, n_sets=40, seed=5, scales=scales, refine=1).max_diff > diff.max() + 1e-6


def test_local_identifiability_rank_does_not_depend_on_the_jacobian_scale():
    # a design of tiny features: every probability is ~1/n, so every singular value of the Jacobian is
    # far below 1; the rank (relative to the largest singular value) is still the full one
    atoms, weights = np.array([[1.0, -0.5], [-0.3, 0.8]]), np.array([0.4, 0.6])
    X = idf.random_design(3, 2, 60, seed=1, scale=0.5)
    big = idf.local_identifiability(atoms, weights, 3, X=X)
    small = idf.local_identifiability(atoms, weights, 3, X=1e-2 * X)
    assert small.singular_values[0] < 1e-1
    assert big.full_rank and small.full_rank and small.rank == big.rank == small.n_params


def test_local_identifiability_null_space_of_a_design_with_fewer_rows_than_parameters():
    # two 3-item sets for the 17 parameters of seed 001's App. D.1 mixture: the Jacobian is 6 x 17 and, as
    # each set's probabilities sum to 1, of rank 2 * (3 - 1) = 4. The null space is then the 13 directions
    # the design cannot see, and the result must return all of them (an orthonormal basis of ker J), not
    # only the ones a thin SVD of a wide matrix reaches
    f = idf.mpi_example()
    X = idf.random_design(3, 5, 2, seed=3, scale=0.5)
    r = idf.local_identifiability(f.means, f.weights, 3, X=X)
    J = idf.choice_jacobian(f.means, f.weights, X)
    assert J.shape == (6, 17) and r.rank == 4 and not r.full_rank
    N = r.null_space
    assert N.shape == (17, 17 - r.rank)
    np.testing.assert_allclose(N.T @ N, np.eye(17 - r.rank), atol=1e-12)
    assert np.abs(J @ N).max() <= 1e-12 * np.abs(J).max()
