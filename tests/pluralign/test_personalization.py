"""Personalized rewards with a shared representation, clustered rewards through the EM engine, the
individual / pooled baselines (seed 003) and the pooled Bradley-Terry limit on a mixture (seed 004)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit

from pluralign.choice import choice_loglik
from pluralign.data import Choices
from pluralign.em import EMConfig, LatentClassLogit, adjusted_rand_index
from pluralign.personalization import (
    ClusteredReward,
    ClusterRewardModel,
    IndividualReward,
    RewardModelConfig,
    SharedRepresentationReward,
    _mnl_loglik,
    mixture_win_prob,
    pooled_bt_population_mle,
    pooled_bt_saturated,
    synthetic_low_rank,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _test_metrics(syn, model, m=40, seed=99):
    test = syn.sample(m, rng=seed)
    Xd = test.features[:, 0] - test.features[:, 1]
    true, est = syn.reward(Xd, test.user), model.reward(Xd, test.user)
    return float(np.mean(np.sign(est) == np.sign(true))), float(np.mean((expit(est) - expit(true)) ** 2))


# --------------------------------------------------------------------------- building blocks
def test_fast_mnl_loglik_equals_choice_loglik():
    rng = np.random.default_rng(0)
    u = torch.as_tensor(rng.normal(size=(50, 3)) * 3)
    mask = torch.as_tensor(rng.random((50, 3)) < 0.8)
    mask[:, :2] = True
    chosen = torch.as_tensor(rng.integers(0, 2, size=50))
    torch.testing.assert_close(_mnl_loglik(u, chosen, mask), choice_loglik(u, chosen, mask))


def test_individual_reward_equals_per_user_latent_class_mstep():
    syn = synthetic_low_rank(4, 15, dim=3, rank=2, seed=1)
    ind = IndividualReward(l2=0.5).fit(syn.choices)
    for u, idx in enumerate(syn.choices.user_indices()):
        # LatentClassLogit's ridge is (l2 / 2) ||b||^2: l2 = 1.0 there is 0.5 here
        ref = LatentClassLogit(syn.choices.subset(idx), l2=1.0).m_step(np.zeros((1, 3)), np.ones((1, 1)))[0]
        np.testing.assert_allclose(ind.W_[u], ref, atol=1e-5)


def test_shared_representation_recovers_low_rank_rewards_and_beats_baselines():
    syn = synthetic_low_rank(30, 40, dim=10, rank=2, n_groups=3, spread=0.3, seed=2)
    cfg = RewardModelConfig(rep_dim=2, seed=0)
    shared = SharedRepresentationReward(cfg).fit(syn.choices)
    acc_s, mse_s = _test_metrics(syn, shared)
    acc_p, mse_p = _test_metrics(syn, SharedRepresentationReward(cfg, pooled=True).fit(syn.choices))
    acc_i, mse_i = _test_metrics(syn, IndividualReward().fit(syn.choices))
    assert acc_s > 0.85
    assert mse_s < mse_i and mse_s < mse_p  # the variance of individual, the bias of pooled
    # the learned representation spans the true one: principal angles near 0
    Z = shared.psi_.weight.detach().numpy()  # (k, d), psi linear
    q1, q2 = np.linalg.qr(Z.T)[0], np.linalg.qr(syn.A.T)[0]
    assert np.linalg.svd(q1.T @ q2, compute_uv=False).min() > 0.9


def test_pooled_model_is_one_reward_and_fits_are_deterministic():
    syn = synthetic_low_rank(6, 10, dim=4, rank=2, seed=3)
    x = np.random.default_rng(0).normal(size=(5, 4))
    pooled = SharedRepresentationReward(RewardModelConfig(rep_dim=2, seed=4), pooled=True).fit(syn.choices)
    r = np.stack([pooled.reward(x, np.full(5, u)) for u in range(6)])
    np.testing.assert_allclose(r, np.broadcast_to(r[0], r.shape))
    a = SharedRepresentationReward(RewardModelConfig(rep_dim=2, seed=4)).fit(syn.choices)
    b = SharedRepresentationReward(RewardModelConfig(rep_dim=2, seed=4)).fit(syn.choices)
    np.testing.assert_array_equal(a.theta_, b.theta_)
    with pytest.raises(ValueError, match="user"):
        a.reward(x, 6)


def test_nonlinear_representation_fits():
    syn = synthetic_low_rank(10, 30, dim=5, rank=2, seed=5)
    m = SharedRepresentationReward(RewardModelConfig(rep_dim=2, hidden=8, max_iter=100)).fit(syn.choices)
    assert np.isfinite(m.loss_) and m.represent(np.zeros((3, 5))).shape == (3, 2)
    assert _test_metrics(syn, m)[0] > 0.7


# --------------------------------------------------------------------------- clustered (EM adapter)
def test_cluster_model_obeys_the_mixture_model_protocol():
    syn = synthetic_low_rank(8, 12, dim=3, rank=3, n_groups=2, seed=6)
    model = ClusterRewardModel(syn.choices)
    params = model.init_params(2, np.random.default_rng(0))
    L = model.log_likelihood(params)
    assert L.shape == (8, 2) and np.all(L <= 0)
    w = np.random.default_rng(1).dirichlet(np.ones(2), size=8)
    new = model.m_step(params, w)
    # the M-step does not decrease the weighted objective (it maximizes it, up to the ridge)
    assert (w * model.log_likelihood(new)).sum() >= (w * L).sum() - 1e-9
    # with the raw features it is the latent-class logit: same log-likelihood matrix
    lcl = LatentClassLogit(syn.choices)
    np.testing.assert_allclose(model.log_likelihood(new), lcl.log_likelihood(new["theta"]), rtol=1e-10)


def test_clustered_reward_recovers_groups_via_the_em_engine():
    syn = synthetic_low_rank(24, 30, dim=4, rank=4, n_groups=2, spread=0.05, scale=4.0, seed=7)
    em = EMConfig(n_components=2, assignment="soft", n_restarts=2, max_iter=30, seed=0)
    clus = ClusteredReward(em).fit(syn.choices)
    assert adjusted_rand_index(syn.group, clus.labels_) == 1.0
    ml = [t["marginal_ll"] for t in clus.em_.trace_]
    assert np.all(np.diff(ml) >= -1e-6 * np.abs(ml[:-1]))  # soft EM ascends the marginal likelihood
    acc, _ = _test_metrics(syn, clus)
    assert acc > 0.85
    x = np.zeros((2, 4))
    assert clus.reward(x, [0, 1], soft=True).shape == (2,)


def test_clustered_on_a_shared_representation_with_joint_refit():
    syn = synthetic_low_rank(16, 20, dim=8, rank=2, n_groups=2, spread=0.05, scale=4.0, seed=8)
    shared = SharedRepresentationReward(RewardModelConfig(rep_dim=2)).fit(syn.choices)
    em = EMConfig(n_components=2, n_restarts=1, max_iter=10, seed=0)
    clus = ClusteredReward(em, representation=shared, learn_representation=True, max_iter=30).fit(syn.choices)
    assert adjusted_rand_index(syn.group, clus.labels_) > 0.8
    with pytest.raises(ValueError, match="psi"):
        ClusterRewardModel(syn.choices, learn_representation=True)


# --------------------------------------------------------------------------- seed 004: the pooled limit
@settings(max_examples=12)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 10**6))
def test_saturated_closed_form_solves_the_population_score_equation(d, G, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(d, d)) + 2 * np.eye(d)
    B = rng.normal(scale=1.5, size=(G, d))
    pi = rng.dirichlet(np.ones(G))
    q = rng.dirichlet(np.ones(d))
    theta = pooled_bt_saturated(X, B, pi)
    np.testing.assert_allclose(expit(X @ theta), mixture_win_prob(X, B, pi), rtol=1e-10)
    np.testing.assert_allclose(pooled_bt_population_mle(X, B, pi, q=q), theta, atol=1e-6)


@pytest.mark.parametrize("symmetric", [True, False])
def test_opposed_groups_at_50_50_land_on_the_centroid_for_any_design(symmetric):
    """Every comparison is won with probability 1/2 by the pooled population, so theta = 0 solves the score
    equation whatever the design (a symmetric one and a skewed, shifted one)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    X = np.vstack([X, -X]) if symmetric else rng.exponential(size=(400, 3)) + np.array([1.0, -0.5, 0.2])
    b = np.array([2.0, -1.0, 0.5])
    theta = pooled_bt_population_mle(X, np.stack([b, -b]), np.array([0.5, 0.5]))
    np.testing.assert_allclose(theta, 0.0, atol=1e-7)


def test_pooled_mle_is_not_the_average_of_the_betas():
    """theta_1 = logit(0.9 sigma(2) + 0.1 sigma(-2)) = 1.4155..., not 0.9 * 2 - 0.1 * 2 = 1.6."""
    B = np.array([[2.0, 0.5], [-2.0, 0.5]])
    theta = pooled_bt_saturated(np.eye(2), B, np.array([0.9, 0.1]))
    assert theta[0] == pytest.approx(logit(0.9 * expit(2.0) + 0.1 * expit(-2.0)), rel=1e-12)
    assert theta[0] == pytest.approx(1.41553609, abs=1e-7)
    assert theta[1] == pytest.approx(0.5, rel=1e-12)  # where the groups agree, they are both served
    assert abs(theta[0] - 1.6) > 0.15


def test_validation():
    syn = synthetic_low_rank(3, 4, dim=2, rank=1, seed=0)
    with pytest.raises(ValueError, match="choices"):
        SharedRepresentationReward().fit("not data")
    no_feat = Choices(user=[0, 0], options=[[0, 1], [1, 0]], chosen=[0, 1])
    with pytest.raises(ValueError, match="features"):
        IndividualReward().fit(no_feat)
    with pytest.raises(ValueError, match="rep_dim"):
        RewardModelConfig(rep_dim=0)
    with pytest.raises(ValueError, match="rank"):
        synthetic_low_rank(3, 4, dim=2, rank=3)
    with pytest.raises(ValueError, match="group_weights"):
        pooled_bt_saturated(np.eye(2), np.ones((2, 2)), np.array([0.7, 0.7]))
    with pytest.raises(ValueError, match="X"):
        pooled_bt_saturated(np.ones((2, 2)), np.ones((1, 2)), np.array([1.0]))
    with pytest.raises(ValueError, match="em"):
        ClusteredReward(em=None)
    assert syn.choices.n_users == 3
