"""Seed 001 App. B.1: EM-DPO's closed-form prior update (eq. 22-25) and the prompt-density cancellation
(eq. 31-35)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from pluralign.theory import emdpo


@st.composite
def posteriors(draw):
    n, K = draw(st.integers(1, 30)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    g = rng.dirichlet(np.full(K, draw(st.sampled_from([0.1, 1.0, 10.0]))), size=n)
    if K > 1 and draw(st.booleans()):  # a type no user is assigned to
        g[:, -1] = 0.0
        g /= g.sum(axis=1, keepdims=True)
    return g


@settings(max_examples=40)
@given(posteriors())
def test_eta_update_is_the_kkt_maximizer_of_eq_23(g):
    eta = emdpo.eta_update(g)
    n, K = g.shape
    assert eta.sum() == pytest.approx(1.0) and np.all(eta >= 0)
    np.testing.assert_allclose(eta, g.sum(0) / g.sum(), atol=1e-15)  # eq. 24 and eq. 25 agree
    assert emdpo.eta_kkt_residual(eta, g) <= 1e-9 * n
    # eq. 22 = eq. 23: the expectation over Z ~ gamma, by enumeration of each user's type
    e = np.random.default_rng(0).dirichlet(np.ones(K))
    direct = sum(g[i, k] * np.log(e[k]) for i in range(n) for k in range(K) if g[i, k] > 0)
    assert emdpo.eta_objective(e, g) == pytest.approx(direct, rel=1e-12, abs=1e-12)
    # a generic constrained solver on the simplex does no better
    x0 = np.full(K, 1.0 / K)
    res = minimize(lambda x: -emdpo.eta_objective(np.clip(x, 1e-300, None), g), x0, method="SLSQP",
                   bounds=[(1e-12, 1)] * K, constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}])
    assert emdpo.eta_objective(eta, g) >= -res.fun - 1e-7 * n
    assert emdpo.eta_kkt_residual(x0, g) > 1e-6 or np.allclose(eta, x0)


@settings(max_examples=30)
@given(st.integers(1, 8), st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_prompt_density_cancels_under_assumption_2(n, m, K, seed):
    rng = np.random.default_rng(seed)
    log_P = -rng.exponential(size=(n, m, K)) * rng.choice([0.1, 10.0, 300.0])
    log_eta = np.log(rng.dirichlet(np.ones(K)))
    mask = rng.uniform(size=(n, m)) < 0.8
    rho = -rng.exponential(size=(n, m)) * 50  # log rho(X_ij): any prompt density
    g35 = emdpo.posterior(log_P, log_eta, mask)
    g31 = emdpo.posterior_with_prompt_density(log_P, rho, log_eta, mask)
    np.testing.assert_allclose(g31, g35, atol=1e-12)
    # eq. 35 from its definition, in plain arithmetic on a well-scaled copy
    lp = np.where(mask[:, :, None], log_P, 0.0)
    num = np.exp(log_eta)[None, :] * np.exp(lp - lp.max(axis=2, keepdims=True)).prod(axis=1)
    ref = num / num.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(g35, ref, atol=1e-9)


def test_a_type_dependent_prompt_density_does_not_cancel():
    rng = np.random.default_rng(1)
    log_P = -rng.exponential(size=(4, 3, 2))
    log_eta = np.log([0.5, 0.5])
    log_pX = np.stack([np.zeros((4, 3)), np.full((4, 3), -1.0)], axis=2)  # type 2 sees these prompts less
    g30 = emdpo.posterior_with_prompt_density(log_P, log_pX, log_eta)
    assert np.max(np.abs(g30 - emdpo.posterior(log_P, log_eta))) > 0.1


def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="gamma"):
        emdpo.eta_update([[0.5, 0.6]])
    with pytest.raises(ValueError, match="eta"):
        emdpo.eta_objective([1.0], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="log_eta"):
        emdpo.posterior(np.zeros((2, 2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="log_pX"):
        emdpo.posterior_with_prompt_density(np.zeros((2, 2, 3)), np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="mask"):
        emdpo.posterior(np.zeros((2, 2, 3)), np.zeros(3), mask=np.ones((2, 3), bool))
