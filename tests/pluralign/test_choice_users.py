"""Every likelihood and draw of the package is pluralign.choice's (issue 12: one choice formula per backend).

Each test computes a module's likelihood (or draw) and the same quantity through the validated numpy
functions of :mod:`pluralign.choice` (scipy's ``log_expit`` / ``logsumexp``, exact to an ulp), in float64 and
to 1e-12, on random inputs that include the regime x in (-37, -20) where a log-sigmoid written as
``-softplus(-x)`` is off by up to 1e-10. A module that wrote its own formula again, or a backend that
lost precision, fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit, log_expit

from pluralign.bpref import PAIRWISE_PRESETS, GoodBadTeacher
from pluralign.choice import choice_loglik, log_sigmoid, rating_loglik, rating_prob, sample_btl, sample_rating
from pluralign.data import Choices, Ratings
from pluralign.dpo import kwise_dpo_logprobs
from pluralign.em import LatentClassLogit
from pluralign.emdpo.tabular import TabularTestbed
from pluralign.personalization import ClusterRewardModel, mixture_win_prob, pooled_bt_population_mle
from pluralign.prec.decoders import ClusterDecoders, DecoderConfig, DecoderMixture, fit_decoders, leaky_bce_loss
from pluralign.seeding import derive

CLOSE = dict(rtol=1e-12, atol=1e-300)


def mnl_close(u) -> dict:
    """log P = u_c - logsumexp(u) cancels where P ~ 1: compare to 1e-12 relative or 1e-14 of the utilities'
    scale (two backends' logsumexp differ by an ulp of the large terms)."""
    return dict(rtol=1e-12, atol=1e-14 * (1.0 + float(np.max(np.abs(u)))))


def _wide(rng, shape):
    """Scores spread over the whole range, with a third in the (-37, -20) / (20, 37) bands."""
    x = rng.normal(0.0, 3.0, size=shape)
    band = rng.random(shape) < 1 / 3
    return np.where(band, rng.choice([-1.0, 1.0], size=shape) * rng.uniform(20.0, 37.0, size=shape), x)


# --------------------------------------------------------------------------- the torch backend itself
def test_torch_log_sigmoid_is_exact_value_and_gradient():
    x = np.concatenate([np.linspace(-700, 700, 20_001), np.linspace(-40, -18, 5_001), np.linspace(-1, 1, 2_001)])
    t = torch.tensor(x, requires_grad=True)
    v = log_sigmoid(t)
    v.sum().backward()
    np.testing.assert_allclose(v.detach().numpy(), log_expit(x), rtol=1e-15, atol=0)
    np.testing.assert_allclose(t.grad.numpy(), expit(-x), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(rating_prob(torch.tensor(x)).numpy(), expit(x), rtol=1e-15, atol=0)


def test_torch_rating_loglik_equals_numpy_on_wide_scores():
    rng = np.random.default_rng(0)
    R, y, w = _wide(rng, 4000), rng.choice([0.0, 0.5, 1.0], size=4000), rng.uniform(0, 2, size=4000)
    want = rating_loglik(R, y, 0.25, w)
    got = rating_loglik(torch.tensor(R), torch.tensor(y), 0.25, torch.tensor(w))
    np.testing.assert_allclose(got.numpy(), want, **CLOSE)
    fast = rating_loglik(torch.tensor(R), torch.tensor(y), 0.25, torch.tensor(w), validate=False)
    np.testing.assert_allclose(fast.numpy(), want, **CLOSE)


# --------------------------------------------------------------------------- PREC decoders (seed 000 eq. 13)
def _decoder_problem(seed=0, M=400, K=3):
    rng = np.random.default_rng(seed)
    scores = _wide(rng, (K, M))
    label = rng.choice([0.0, 0.5, 1.0], size=M)
    rw = rng.choice([0.0, 1.0, 2.0], size=M)
    cw = rng.uniform(0, 1, size=(M, K))
    return scores, label, rw, cw


def test_leaky_bce_loss_is_rating_loglik_to_1e12():
    scores, label, rw, cw = _decoder_problem()
    tau = 0.3
    loss = leaky_bce_loss(torch.tensor(scores), torch.tensor(label), torch.tensor(rw), torch.tensor(cw), tau)
    want = sum(-rating_loglik(scores[k], label, tau, rw * cw[:, k]).sum() / (rw * cw[:, k]).sum() for k in range(3))
    np.testing.assert_allclose(float(loss), want, **CLOSE)


def test_decoder_mixture_record_loglik_is_rating_loglik_to_1e12():
    rng = np.random.default_rng(1)
    M, T, d, K = 60, 4, 3, 3
    feats = rng.normal(size=(M, T, d))
    ratings = Ratings(user=np.arange(M) % 6, features=feats, label=rng.choice([0.0, 0.5, 1.0], size=M),
                      weight=rng.choice([0.0, 1.0, 3.0], size=M))
    cfg = DecoderConfig(n_hidden=0, dtype="float64", tau=0.7)
    mix = DecoderMixture(ratings, config=cfg)
    dec = ClusterDecoders(K, d, 0, torch.Generator().manual_seed(0), torch.float64)
    with torch.no_grad():  # big weights: scores in the +-(20..37) bands too
        dec.W2.mul_(40.0)
    S = dec.segment_scores(torch.tensor(feats)).detach().numpy()
    got = mix.record_loglik(dec).numpy()
    for k in range(K):
        np.testing.assert_allclose(got[k], rating_loglik(S[k], ratings.label, 0.7, ratings.weight), **CLOSE)


def test_fit_decoders_sparse_path_loss_is_rating_loglik():
    """Hard one-hot weights take the (record, cluster)-pair path; its loss is the same formula."""
    rng = np.random.default_rng(2)
    M, T, d, K = 40, 3, 2, 4
    x = torch.tensor(rng.normal(size=(M, T, d)) * 10.0)
    y = torch.tensor(rng.choice([0.0, 1.0], size=M))
    rw = torch.ones(M, dtype=torch.float64)
    z = rng.integers(0, K, size=M)
    cw = torch.tensor(np.eye(K)[z])
    dec = ClusterDecoders(K, d, 0, torch.Generator().manual_seed(1), torch.float64)
    S = dec.segment_scores(x).detach().numpy()
    cfg = DecoderConfig(n_hidden=0, dtype="float64", optimizer="adam", n_steps=1, lr=1e-12)
    hist = fit_decoders(dec, x, y, rw, cw, cfg, torch.Generator().manual_seed(0))
    want = sum(-rating_loglik(S[k, z == k], y.numpy()[z == k]).sum() / (z == k).sum()
               for k in range(K) if (z == k).any())
    np.testing.assert_allclose(hist[0], want, **CLOSE)


# --------------------------------------------------------------------------- DPO (seed 001 eq. 17)
def test_kwise_dpo_logprobs_is_choice_loglik():
    rng = np.random.default_rng(3)
    M, n, beta = 300, 4, 0.7
    pol, ref = rng.normal(size=(M, n)) * 30, rng.normal(size=(M, n)) * 30
    chosen = rng.integers(0, 2, size=M)
    mask = rng.random((M, n)) < 0.7
    mask[:, :2] = True
    got = kwise_dpo_logprobs(torch.tensor(pol), torch.tensor(ref), beta, chosen=chosen, mask=torch.tensor(mask))
    u = beta * (pol - ref)
    np.testing.assert_allclose(got.numpy(), choice_loglik(u, chosen, mask), **mnl_close(u))


# --------------------------------------------------------------------------- latent-class logit / personalization
def _choices(seed, M=120, n=3, d=2, n_users=10):
    rng = np.random.default_rng(seed)
    mask = rng.random((M, n)) < 0.8
    mask[:, :2] = True
    return Choices(user=np.arange(M) % n_users, features=rng.normal(size=(M, n, d)) * 8.0,
                   chosen=rng.integers(0, 2, size=M), mask=mask, n_users=n_users)


def test_latent_class_logit_record_loglik_is_choice_loglik():
    ch = _choices(4)
    beta = np.random.default_rng(5).normal(size=(3, 2)) * 3.0
    lcl = LatentClassLogit(ch)
    got = lcl._record_loglik(beta)
    for k in range(3):
        u = ch.features @ beta[k]
        np.testing.assert_allclose(got[:, k], choice_loglik(u, ch.chosen, ch.mask), **mnl_close(u))


def test_latent_class_logit_gradient_matches_finite_differences():
    """The M-step's analytic gradient (built on choice_logprobs) is the gradient of its objective."""
    from scipy.optimize import check_grad

    ch = _choices(6, M=60)
    lcl = LatentClassLogit(ch, l2=0.3, m_step="lbfgs")  # spies on the L-BFGS path; Newton shares _parts
    rec_w = np.random.default_rng(7).uniform(0, 1, size=60)
    seen = {}

    def spy(fun, x0, jac, method, options):
        seen["f"] = fun
        return type("R", (), {"x": x0})()

    import pluralign.em as em

    orig = em.minimize
    em.minimize = spy
    try:
        lcl._fit_one(np.zeros(2), rec_w)
    finally:
        em.minimize = orig
    f = seen["f"]
    for b in (np.zeros(2), np.array([0.3, -0.2]), np.array([2.0, 1.0])):
        assert check_grad(lambda v: f(v)[0], lambda v: f(v)[1], b) < 1e-5 * (1 + np.abs(f(b)[1]).max())


def test_cluster_reward_model_record_ll_is_choice_loglik():
    ch = _choices(8)
    model = ClusterRewardModel(ch)
    theta = np.random.default_rng(9).normal(size=(2, 2)) * 3.0
    got = model._record_ll(torch.tensor(theta), model._Z).numpy()
    for k in range(2):
        u = ch.features @ theta[k]
        np.testing.assert_allclose(got[:, k], choice_loglik(u, ch.chosen, ch.mask), **mnl_close(u))


def test_pooled_bt_objective_is_the_soft_label_rating_loglik():
    rng = np.random.default_rng(10)
    X, B, pi = rng.normal(size=(50, 3)) * 5, rng.normal(size=(2, 3)), np.array([0.3, 0.7])
    P = mixture_win_prob(X, B, pi)
    np.testing.assert_allclose(P, expit(X @ B.T) @ pi, rtol=1e-15)
    th = pooled_bt_population_mle(X, B, pi, l2=1e-3)
    # the score equation of the soft-label log-likelihood sum_j [P_j log s(x_j th) + (1 - P_j) log s(-x_j th)]
    grad = -((P - expit(X @ th)) @ X) / 50 + 1e-3 * th
    assert np.abs(grad).max() < 1e-8
    soft = rating_loglik(X @ th, P, validate=False)
    np.testing.assert_allclose(soft, P * log_expit(X @ th) + (1 - P) * log_expit(-X @ th), **CLOSE)


# --------------------------------------------------------------------------- draws
def test_tabular_testbed_draws_through_sample_choice():
    tb = TabularTestbed.random(n_prompts=5, n_responses=6, d=3, seed=0)
    a = tb.sample(300, 4, derive(0, "s"), choice_scale=2.0)
    # replay the same stream: types, prompts, option sets, then the MNL draw
    rng = derive(0, "s")
    types = rng.choice(tb.K, size=300, p=tb.type_probs)
    ctx = rng.integers(0, tb.n_prompts, size=300)
    opts = np.argsort(rng.random((300, tb.n_responses)), axis=1)[:, :4]
    from pluralign.choice import sample_choice

    want = sample_choice(tb.rewards()[types[:, None], ctx[:, None], opts] * 2.0, rng)
    np.testing.assert_array_equal(a.choices.chosen, want)
    np.testing.assert_array_equal(a.types, types)


def test_stochastic_good_bad_teacher_is_sample_rating_on_the_same_stream():
    s = np.random.default_rng(11).uniform(0, 10, size=(500, 5))
    t = GoodBadTeacher(kind="stochastic", beta=1.5, tau=7.0)
    label, weight, _ = t.label_arrays(s, derive(3, "t"))
    np.testing.assert_array_equal(label, sample_rating(1.5 * (s.mean(1) - 7.0), derive(3, "t")))
    assert np.all(weight == 1.0)


def test_stochastic_pairwise_teacher_is_sample_btl_on_the_same_stream():
    rng = np.random.default_rng(12)
    r0, r1 = rng.normal(size=(500, 4)), rng.normal(size=(500, 4))
    pref, _, _ = PAIRWISE_PRESETS["stoc"].label_arrays(r0, r1, derive(4, "p"))
    np.testing.assert_array_equal(pref, sample_btl(r1.sum(1), r0.sum(1), derive(4, "p")))


@pytest.mark.parametrize("bad", [None, [1, 2]])
def test_synthetic_sampling_refuses_an_implicit_seed(bad):
    from pluralign.personalization import synthetic_low_rank

    syn = synthetic_low_rank(3, 2, dim=3, rank=2, seed=0)
    with pytest.raises(ValueError, match="rng"):
        syn.sample(2, rng=bad)
    np.testing.assert_array_equal(syn.sample(2, rng=5).chosen, syn.sample(2, rng=derive(5)).chosen)
