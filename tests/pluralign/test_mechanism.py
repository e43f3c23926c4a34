"""VCG mechanisms for strategic labelers (seed 003; pluralign.aggregation.mechanism): the outcome rule
maximizes reported welfare, payments are the externality, truthful reporting is a dominant strategy
(on >= 500 instances, random + gradient misreport searches for the quadratic mechanism and random ones
for the finite one find no gain above 1e-9, the misreporting labeler rotating over the indices), while
without payments profitable misreports exist."""

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from pluralign.aggregation.mechanism import (
    FiniteVCG,
    QuadraticVCG,
    gradient_misreport_search,
    project_simplex,
    random_misreport_search,
    simplex_grid,
)

SHAPES = [(2, 2), (2, 4), (3, 3), (4, 2), (5, 5), (6, 3)]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _instances(n, d, B, seed):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(d) * rng.choice([0.3, 1.0, 3.0]), size=(B, n)), rng.uniform(0.5, 2.0, size=n)


# --------------------------------------------------------------------------- the outcome rule
def test_quadratic_outcome_is_the_welfare_maximizer():
    T, w = _instances(4, 3, 1, 0)
    mech = QuadraticVCG(4, weights=w)
    o = mech.outcome(T[0])
    res = minimize(lambda x: mech.costs(x, T[0]).sum(), np.full(3, 1 / 3), method="BFGS", options={"gtol": 1e-12})
    np.testing.assert_allclose(o, res.x, atol=1e-7)
    np.testing.assert_allclose(o, w @ T[0] / w.sum(), rtol=1e-13)


def test_finite_outcome_and_payments_by_enumeration():
    rng = np.random.default_rng(1)
    O = simplex_grid(3, 4)
    assert O.shape == (comb(4 + 2, 2), 3)
    R = rng.dirichlet(np.ones(3), size=3)
    w = np.array([1.0, 2.0, 0.5])
    mech = FiniteVCG(O, 3, distance="l1", weights=w)
    cost = [sum(w[j] * np.abs(o - R[j]).sum() for j in range(3)) for o in O]
    k = int(np.argmin(cost))
    np.testing.assert_array_equal(mech.outcome(R), O[k])
    others = [1, 2]
    h = min(sum(w[j] * np.abs(o - R[j]).sum() for j in others) for o in O)
    pay = (h - sum(w[j] * np.abs(O[k] - R[j]).sum() for j in others)) / w[0]
    assert mech.payment(R, 0) == pytest.approx(pay, abs=1e-13)


@settings(max_examples=25)
@given(st.sampled_from(SHAPES), st.integers(0, 10**6))
def test_payments_nonpositive_and_individually_rational(shape, seed):
    n, d = shape
    T, w = _instances(n, d, 8, seed)
    for mech in (QuadraticVCG(n, weights=w), FiniteVCG(simplex_grid(d, 3), n, "l2", weights=w)):
        for i in range(n):
            pay = mech.payment(T, i)
            assert np.all(pay <= 1e-12)
            u = mech.utility(T[:, i], T, i)
            if isinstance(mech, QuadraticVCG):
                o_minus = mech.outcome_without(T, i)
                u_out = -((o_minus - T[:, i]) ** 2).sum(-1)
            else:
                o_minus = mech.O[mech.outcome_index(T, exclude=i)]
                u_out = -np.sqrt(((o_minus - T[:, i]) ** 2).sum(-1))
            assert np.all(u >= u_out - 1e-12)


# --------------------------------------------------------------------------- truthfulness
def test_no_profitable_misreport_under_vcg_on_500_instances():
    """The done-when criterion: random and gradient searches over >= 500 random instances (the misreporting
    labeler i = s mod n of shape s, the others arbitrary) find no misreport improving utility by more than
    1e-9; without payments they do."""
    gains_pay, gains_free, n_inst = [], [], 0
    for s, (n, d) in enumerate(SHAPES):
        T, w = _instances(n, d, 90, s)
        mech = QuadraticVCG(n, weights=w)
        for pay, sink in ((True, gains_pay), (False, gains_free)):
            g_r, _ = random_misreport_search(mech, T, s % n, n_samples=128, rng=s, payments=pay)
            g_g, _ = gradient_misreport_search(mech, T, s % n, n_starts=2, steps=60, seed=s, payments=pay)
            sink.append(np.maximum(g_r, g_g))
        n_inst += T.shape[0]
    gains_pay, gains_free = np.concatenate(gains_pay), np.concatenate(gains_free)
    assert n_inst >= 500
    assert gains_pay.max() <= 1e-9
    frac = float(np.mean(gains_free > 1e-9))
    print(f"quadratic VCG: max gain with payments {gains_pay.max():.2e}; profitable without: {frac:.3f}")
    assert frac > 0.5


def test_finite_mechanism_truthful_on_500_instances():
    gains_pay, gains_free = [], []
    for s, (n, d) in enumerate(SHAPES):
        T, w = _instances(n, d, 90, 100 + s)
        mech = FiniteVCG(simplex_grid(d, 3), n, distance="l1", weights=w)
        gains_pay.append(random_misreport_search(mech, T, s % n, n_samples=64, rng=s)[0])
        gains_free.append(random_misreport_search(mech, T, s % n, n_samples=64, rng=s, payments=False)[0])
    gains_pay, gains_free = np.concatenate(gains_pay), np.concatenate(gains_free)
    assert gains_pay.size >= 500 and gains_pay.max() <= 1e-9
    assert 0.0 < np.mean(gains_free > 1e-9) < 1.0


def test_gradient_search_finds_the_exact_best_misreport_without_payments():
    """Without payments the best report is the simplex projection of (W t_i - sum_{j!=i} w_j r_j) / w_i;
    the gradient search reaches its gain and never beats it."""
    T, w = _instances(3, 4, 40, 7)
    mech = QuadraticVCG(3, weights=w)
    br = mech.best_response_no_payment(T, 0)
    prof = T.copy()
    prof[:, 0] = br
    g_exact = mech.utility(T[:, 0], prof, 0, payments=False) - mech.utility(T[:, 0], T, 0, payments=False)
    g_grad, _ = gradient_misreport_search(mech, T, 0, n_starts=4, steps=300, seed=0, payments=False)
    assert np.all(g_grad <= g_exact + 1e-9)
    assert np.all(g_grad >= g_exact - 1e-3)
    # unconstrained reports: the best response moves the outcome exactly onto the true opinion
    mech_r = QuadraticVCG(3, weights=w, simplex=False)
    prof = T.copy()
    prof[:, 0] = mech_r.best_response_no_payment(T, 0)
    np.testing.assert_allclose(mech_r.outcome(prof), T[:, 0], atol=1e-12)


def test_searches_are_deterministic():
    T, w = _instances(3, 3, 10, 3)
    mech = QuadraticVCG(3, weights=w)
    a = random_misreport_search(mech, T, 1, rng=5, payments=False)[0]
    b = random_misreport_search(mech, T, 1, rng=5, payments=False)[0]
    np.testing.assert_array_equal(a, b)
    a = gradient_misreport_search(mech, T, 1, steps=20, seed=2, payments=False)[0]
    b = gradient_misreport_search(mech, T, 1, steps=20, seed=2, payments=False)[0]
    np.testing.assert_array_equal(a, b)


def test_random_search_needs_an_explicit_rng():
    """No implicit seed: rng is required, None raises a ValueError naming it; a Generator is used as is."""
    from pluralign.seeding import derive

    T, w = _instances(3, 3, 4, 3)
    mech = QuadraticVCG(3, weights=w)
    with pytest.raises(TypeError):
        random_misreport_search(mech, T, 1)
    with pytest.raises(ValueError, match="rng"):
        random_misreport_search(mech, T, 1, rng=None)
    np.testing.assert_array_equal(random_misreport_search(mech, T, 1, rng=derive(5), payments=False)[0],
                                  random_misreport_search(mech, T, 1, rng=5, payments=False)[0])


# --------------------------------------------------------------------------- helpers and validation
@settings(max_examples=25)
@given(st.integers(1, 6), st.integers(0, 10**6))
def test_project_simplex_is_the_euclidean_projection(d, seed):
    v = np.random.default_rng(seed).normal(scale=2.0, size=d)
    p = project_simplex(v)
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-12)
    # optimality: no simplex point is closer (check against random simplex points and vertices)
    cand = np.vstack([np.random.default_rng(seed + 1).dirichlet(np.ones(d), size=200), np.eye(d)])
    assert np.all(((cand - v) ** 2).sum(1) >= ((p - v) ** 2).sum() - 1e-12)


def test_validation():
    with pytest.raises(ValueError, match="n_labelers"):
        QuadraticVCG(1)
    with pytest.raises(ValueError, match="weights"):
        QuadraticVCG(2, weights=[1.0, 0.0])
    with pytest.raises(ValueError, match="reports"):
        QuadraticVCG(2).outcome(np.array([[0.5, 0.6], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="reports"):
        QuadraticVCG(3).outcome(np.array([[0.5, 0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="distance"):
        FiniteVCG(simplex_grid(2, 2), 2, distance="kl")
    with pytest.raises(ValueError, match="outcomes"):
        FiniteVCG(np.array([np.nan, 1.0]), 2)
    with pytest.raises(ValueError, match="i"):
        QuadraticVCG(2).payment(np.full((2, 2), 0.5), 5)
