"""Opinion pools (seed 003; pluralign.aggregation.pooling): unanimity, external Bayesianity, the
marginalization property, zero preservation and the variational forms, with counterexamples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import softmax

from pluralign.aggregation.pooling import (
    bayes_update,
    coarsen,
    kl_divergence,
    linear_pool,
    log_pool,
    power_pool,
    validate_distributions,
)

ALPHAS = [1.0, 0.5, 0.0, -1.0, -np.inf, np.inf]


@st.composite
def profiles(draw, min_k=2):
    n = draw(st.integers(2, 5))
    k = draw(st.integers(min_k, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(k) * draw(st.sampled_from([0.3, 1.0, 5.0])), size=n)
    P = np.maximum(P, 1e-12)
    P /= P.sum(axis=1, keepdims=True)
    return P, rng.dirichlet(np.ones(n)), rng


@settings(max_examples=25)
@given(profiles())
def test_unanimity_every_member(arg):
    P, w, rng = arg
    p = P[0]
    for a in ALPHAS:
        np.testing.assert_allclose(power_pool(np.tile(p, (P.shape[0], 1)), a, w), p, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(linear_pool(np.tile(p, (3, 1))), p, rtol=1e-12)
    np.testing.assert_allclose(log_pool(np.tile(p, (3, 1)), weights=[0.2, 0.3, 0.5]), p, rtol=1e-10)


@settings(max_examples=25)
@given(profiles())
def test_members_match_closed_forms(arg):
    P, w, _ = arg
    np.testing.assert_allclose(power_pool(P, 1.0, w), w @ P, rtol=1e-12)
    g = np.exp(w @ np.log(P))
    np.testing.assert_allclose(power_pool(P, 0.0, w), g / g.sum(), rtol=1e-10)
    np.testing.assert_allclose(log_pool(P, w), g / g.sum(), rtol=1e-10)
    np.testing.assert_allclose(power_pool(P, 1e-7, w), log_pool(P, w), rtol=1e-5)  # continuity at 0
    mn = P.min(axis=0)
    np.testing.assert_allclose(power_pool(P, -np.inf, w), mn / mn.sum(), rtol=1e-12)


@settings(max_examples=25)
@given(profiles())
def test_log_pool_is_externally_bayesian(arg):
    P, w, rng = arg
    lik = rng.uniform(0.01, 1.0, size=P.shape[1])
    np.testing.assert_allclose(log_pool(bayes_update(P, lik), w), bayes_update(log_pool(P, w), lik)[0], rtol=1e-9)


def test_linear_pool_is_not_externally_bayesian_counterexample():
    P = np.array([[0.9, 0.1], [0.1, 0.9]])
    lik = np.array([1.0, 0.1])
    a = linear_pool(bayes_update(P, lik))  # update then pool
    b = bayes_update(linear_pool(P), lik)[0]  # pool then update
    assert abs(a[0] - b[0]) > 0.05
    # and the generalized log pool is externally Bayesian only when the weights sum to 1
    w = np.array([0.7, 0.7])
    a = log_pool(bayes_update(P, lik), w)
    b = bayes_update(log_pool(P, w), lik)[0]
    assert abs(a[0] - b[0]) > 1e-3


@settings(max_examples=25)
@given(profiles(min_k=3), st.data())
def test_linear_pool_marginalization_property(arg, data):
    P, w, _ = arg
    k = P.shape[1]
    groups = np.asarray(data.draw(st.lists(st.integers(0, k - 2), min_size=k, max_size=k)))
    groups = np.unique(groups, return_inverse=True)[1]
    np.testing.assert_allclose(coarsen(linear_pool(P, w), groups), linear_pool(coarsen(P, groups), w), rtol=1e-12)


def test_log_pool_fails_marginalization_counterexample():
    P = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    groups = np.array([0, 0, 1])
    a = coarsen(log_pool(P), groups)
    b = log_pool(coarsen(P, groups))
    assert abs(a[0] - b[0]) > 0.01


def test_zero_preservation():
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    assert log_pool(P)[2] == 0.0
    assert power_pool(P, -1.0)[2] == 0.0
    assert linear_pool(P)[2] == pytest.approx(0.25)  # the linear pool keeps any labeler's mass
    assert log_pool(P, weights=[0.0, 1.0])[2] == pytest.approx(0.5)  # weight-0 labelers are ignored
    with pytest.raises(ValueError, match="disjoint supports"):
        log_pool(np.array([[1.0, 0.0], [0.0, 1.0]]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_variational_characterizations(seed):
    """Linear pool = argmin_q sum w KL(p_i || q); log pool = argmin_q sum w KL(q || p_i) (Abbas 2009)."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(4), size=3)
    w = rng.dirichlet(np.ones(3))
    obj_lin = lambda z: sum(wi * kl_divergence(p, softmax(z)) for wi, p in zip(w, P))  # noqa: E731
    obj_log = lambda z: sum(wi * kl_divergence(softmax(z), p) for wi, p in zip(w, P))  # noqa: E731
    for obj, pool in ((obj_lin, linear_pool), (obj_log, log_pool)):
        z = minimize(obj, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
        np.testing.assert_allclose(softmax(z), pool(P, w), atol=1e-5)


def test_validation():
    with pytest.raises(ValueError, match="distributions"):
        validate_distributions([[0.5, 0.6]])
    with pytest.raises(ValueError, match="distributions"):
        validate_distributions([[-0.1, 1.1]])
    with pytest.raises(ValueError, match="distributions"):
        validate_distributions([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="weights"):
        linear_pool([[0.5, 0.5], [0.2, 0.8]], weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="weights"):
        log_pool([[0.5, 0.5], [0.2, 0.8]], weights=[-1.0, 2.0])
    with pytest.raises(ValueError, match="groups"):
        coarsen([0.5, 0.5], [0, 2])
    with pytest.raises(ValueError, match="likelihood"):
        bayes_update([[1.0, 0.0]], [0.0, 1.0])
    np.testing.assert_allclose(validate_distributions([0.25, 0.75]), [[0.25, 0.75]])


GOOD2 = [[0.5, 0.5], [0.2, 0.8]]
POOL_BAD = {
    "3-d profile": (lambda: validate_distributions(np.full((1, 2, 2), 0.5)), "expected \\(labelers, answers\\)"),
    "no labelers": (lambda: validate_distributions(np.zeros((0, 2))), "expected \\(labelers, answers\\)"),
    "no answers": (lambda: validate_distributions(np.zeros((2, 0))), "expected \\(labelers, answers\\)"),
    "the bad row is named": (lambda: validate_distributions([[0.5, 0.5], [0.5, 0.6], [0.3, 0.7]]), "row 1 sums to 1.1"),
    "weights of the wrong length": (lambda: linear_pool(GOOD2, weights=[1.0]), "expected shape \\(2,\\)"),
    "weights with a NaN": (lambda: log_pool(GOOD2, weights=[np.nan, 1.0]), "not all zero"),
    "all-zero weights (log pool)": (lambda: log_pool(GOOD2, weights=[0.0, 0.0]), "not all zero"),
    "negative weight (log pool)": (lambda: log_pool(GOOD2, weights=[-0.5, 1.5]), "not all zero"),
    "groups of the wrong length": (lambda: coarsen([0.5, 0.5], [0, 1, 1]), "groups"),
    "float groups": (lambda: coarsen([0.5, 0.5], [0.0, 1.0]), "groups"),
    "negative group": (lambda: coarsen([0.5, 0.5], [-1, 0]), "groups"),
    "likelihood of the wrong length": (lambda: bayes_update(GOOD2, [1.0]), "likelihood"),
    "NaN likelihood": (lambda: bayes_update(GOOD2, [np.nan, 1.0]), "likelihood"),
    "negative likelihood": (lambda: bayes_update(GOOD2, [-1.0, 1.0]), "likelihood"),
    "one labeler rules the observation out": (
        lambda: bayes_update([[1.0, 0.0], [0.5, 0.5]], [0.0, 1.0]), "observation probability 0"),
}


@pytest.mark.parametrize("case", sorted(POOL_BAD))
def test_each_check_alone_raises_value_error_naming_the_problem(case):
    """Every clause of every input check, alone (the others satisfied), raises a ValueError saying which."""
    call, msg = POOL_BAD[case]
    with pytest.raises(ValueError, match=msg):
        call()


def test_inputs_on_the_boundary_of_the_checks_are_accepted():
    """Zero probabilities, one answer, a zero weight among positive ones and zero likelihood on an answer
    every labeler can still explain are all valid."""
    np.testing.assert_array_equal(validate_distributions([[1.0, 0.0]]), [[1.0, 0.0]])
    np.testing.assert_array_equal(validate_distributions([[1.0], [1.0]]), [[1.0], [1.0]])
    np.testing.assert_allclose(linear_pool(GOOD2, weights=[0.0, 1.0]), [0.2, 0.8])
    np.testing.assert_allclose(bayes_update(GOOD2, [0.0, 2.0]), [[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(coarsen(np.array([0.2, 0.3, 0.5]), [1, 0, 1]), [0.3, 0.7])


def test_log_pool_with_a_ruled_out_answer_is_the_weighted_geometric_pool_of_the_rest():
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    for w in ([0.5, 0.5], [0.25, 0.75]):
        q = np.prod(P[:, :2] ** np.asarray(w)[:, None], axis=0)
        np.testing.assert_allclose(log_pool(P, w), np.append(q / q.sum(), 0.0), rtol=1e-12)
