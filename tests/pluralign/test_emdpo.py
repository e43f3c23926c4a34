"""EM-DPO (seed 001 Alg. 1 / App. B) and the exact tabular testbed."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax

from pluralign.choice import choice_loglik
from pluralign.data import Choices
from pluralign.em import LatentClassLogit
from pluralign.emdpo import (
    EMDPO,
    EMDPOModel,
    LogLinearPolicy,
    TabularTestbed,
    cluster_dpo,
    load_mpi_items,
    match_types,
    mpi_testbed,
    paraphrase_prompts,
    true_label_dpo,
    vanilla_dpo,
)

torch.set_num_threads(1)


def _testbed(seed, X=3, Y=5, d=2, K=2, beta=0.5):
    rng = np.random.default_rng(seed)
    return TabularTestbed(rng.standard_normal((X, Y, d)), rng.standard_normal((X, Y)),
                          rng.standard_normal((K, d)) * 2, rng.dirichlet(np.ones(K)), beta=beta)


@settings(max_examples=30)
@given(st.integers(0, 10_000), st.floats(0.05, 3.0))
def test_true_regret_is_the_printed_unregularised_shortfall(seed, beta):
    """Seed 001 eq. 3: R_k(pi) = E_{pi_k^*}[r_k] - E_pi[r_k] (prompts uniform), pi_k^* ∝ pi_ref exp(r_k / beta);
    computed here by loops from the tables.  R_k(pi_k^*) = 0; it is not the KL-regularised gap
    beta E_x KL(pi || pi_k^*) but that plus beta E_x [KL(pi_k^* || pi_ref) - KL(pi || pi_ref)]."""
    tb = _testbed(seed, beta=beta)
    r = tb.rewards()
    X, Y = tb.n_prompts, tb.n_responses
    opt = tb.optimal_logpolicies()
    ref = np.exp(tb.log_ref)
    for k in range(tb.K):
        for x in range(X):
            w = ref[x] * np.exp(r[k, x] / beta)
            np.testing.assert_allclose(np.exp(opt[k, x]), w / w.sum(), rtol=1e-10)
    assert np.allclose([tb.regrets(opt[k])[k] for k in range(tb.K)], 0.0, atol=1e-10)

    def direct(lp):
        p = np.exp(lp)
        return np.array([np.mean([sum((np.exp(opt[k, x, y]) - p[x, y]) * r[k, x, y] for y in range(Y))
                                  for x in range(X)]) for k in range(tb.K)])

    def kl(a, b):
        return np.mean(np.sum(np.exp(a) * (a - b), axis=1))

    rng = np.random.default_rng(seed + 1)
    for _ in range(5):
        lp = log_softmax(rng.standard_normal((X, Y)) * 3, axis=1)
        reg = tb.regrets(lp)
        np.testing.assert_allclose(reg, direct(lp), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(tb.expected_rewards(lp), np.einsum("xy,kxy->k", np.exp(lp), r) / X, rtol=1e-10)
        decomposed = [beta * (kl(lp, opt[k]) + kl(opt[k], tb.log_ref) - kl(lp, tb.log_ref)) for k in range(tb.K)]
        np.testing.assert_allclose(reg, decomposed, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(tb.reward_matrix(opt), np.stack([tb.expected_rewards(o) for o in opt], axis=1))


def test_true_regret_can_be_negative():
    """A policy greedier than pi_k^* (here argmax_y r_k, nearly deterministic) earns more raw reward than
    the KL-regularised optimum: negative regret (eq. 3 has no KL term), and the printed max regret
    max_k R_k of a one-type testbed is then negative."""
    tb = _testbed(7, K=1, beta=1.0)
    greedy = log_softmax(tb.rewards()[0] * 1e3, axis=1)
    reg = tb.regrets(greedy)
    assert reg[0] < -0.05
    assert tb.type_metrics(greedy, 0)["regret"] == pytest.approx(reg[0])
    # and the regularised-gap reading (beta E_x KL(pi || pi_k^*) >= 0) would have called it positive
    opt = tb.optimal_logpolicies()[0]
    assert tb.beta * np.mean(np.sum(np.exp(greedy) * (greedy - opt), axis=1)) > 0.05


def test_accuracy_and_margin_of_optimum():
    tb = _testbed(3)
    opt = tb.optimal_logpolicies()
    for k in range(tb.K):
        assert tb.accuracy(opt[k], k) == 1.0
        # implicit reward of pi_k^* is r_k minus a per-prompt constant -> margin = mean |r difference|
        r = tb.rewards()[k]
        i, j = np.triu_indices(tb.n_responses, 1)
        assert tb.reward_margin(opt[k], k) == pytest.approx(np.mean(np.abs(r[:, i] - r[:, j])))
        assert tb.accuracy(tb.log_ref, k) == 0.5  # pi = pi_ref: zero implicit reward, all ties


def test_sampling_is_seeded_and_follows_the_logit():
    tb = _testbed(4, X=1, Y=3, K=1)
    a = tb.sample(20000, 3, np.random.default_rng(0))
    b = tb.sample(20000, 3, np.random.default_rng(0))
    assert np.array_equal(a.choices.chosen, b.choices.chosen)
    r = tb.rewards()[0, 0]
    picked = a.choices.options[np.arange(20000), a.choices.chosen]
    freq = np.bincount(picked, minlength=3) / 20000
    # every option appears in every set (n = Y = 3) -> frequencies = softmax(r)
    assert np.allclose(freq, np.exp(r - np.logaddexp.reduce(r)), atol=0.015)


def test_several_preferences_per_user_share_the_users_type():
    tb = _testbed(4, X=3, Y=5, K=2)
    one = tb.sample(300, 3, np.random.default_rng(2))
    again = tb.sample(300, 3, np.random.default_rng(2), per_user=1)
    assert np.array_equal(one.choices.chosen, again.choices.chosen) and np.array_equal(one.types, again.types)
    s = tb.sample(300, 3, np.random.default_rng(2), per_user=4)
    assert s.choices.n_users == 300 and len(s.choices.chosen) == 1200
    assert np.array_equal(np.bincount(s.choices.user), np.full(300, 4))
    assert np.array_equal(s.types, one.types)  # types are drawn first, per user
    with pytest.raises(ValueError, match="per_user"):
        tb.sample(10, 3, np.random.default_rng(0), per_user=0)


def test_random_testbed_is_seeded_and_scaled():
    a = TabularTestbed.random(n_prompts=30, n_responses=10, d=4, type_probs=[0.6, 0.4], reward_scale=3.0, seed=5)
    b = TabularTestbed.random(n_prompts=30, n_responses=10, d=4, type_probs=[0.6, 0.4], reward_scale=3.0, seed=5)
    assert np.array_equal(a.psi, b.psi) and np.array_equal(a.betas, b.betas) and a.K == 2
    assert not np.array_equal(a.psi, TabularTestbed.random(seed=6, n_prompts=30, n_responses=10, d=4).psi)
    big = TabularTestbed.random(n_prompts=200, n_responses=50, d=4, type_probs=[1.0], reward_scale=3.0, seed=0)
    # r = beta . psi with psi ~ N(0, I): std |beta|, and |beta|^2 ~ 9 chi2_4 / 4
    assert np.std(big.rewards()) == pytest.approx(np.linalg.norm(big.betas[0]), rel=0.05)
    with pytest.raises(ValueError, match="reward_scale"):
        TabularTestbed.random(reward_scale=0)
    with pytest.raises(ValueError, match="type_probs"):
        TabularTestbed.random(type_probs=[0.5, 0.6])


def test_dpo_fit_equals_multinomial_logit_mle():
    """With pi_theta ∝ pi_ref exp(theta . psi), weighted DPO = a weighted MNL on beta * psi: compare the
    torch/L-BFGS DPO fit with the engine's scipy latent-class-logit M-step on the same data."""
    tb = _testbed(5, X=4, Y=6, d=3, K=1, beta=0.3)
    s = tb.sample(600, 3, np.random.default_rng(1))
    w = np.random.default_rng(2).random(600)
    pol = LogLinearPolicy(tb.psi, tb.log_ref, tb.beta, l2=1e-8, tol=1e-10, max_iter=500)
    theta = pol.fit(s.choices, w)
    ch = s.choices
    feats = tb.beta * tb.psi[ch.context[:, None], ch.options]
    lcl = LatentClassLogit(Choices(user=ch.user, features=feats, chosen=ch.chosen), l2=1e-8 * tb.beta**-2)
    b = lcl.m_step(np.zeros((1, 3)), w[:, None])[0]
    assert np.allclose(theta, b, atol=1e-4)


def test_free_logits_fit_orders_rewards():
    tb = _testbed(6, X=2, Y=4, K=1, beta=1.0)
    s = tb.sample(4000, 2, np.random.default_rng(0))
    pol = LogLinearPolicy.free_logits(tb.log_ref, tb.beta, l2=1e-3)
    lp = pol.logprobs(pol.fit(s.choices))
    assert tb.accuracy(lp, 0) > 0.9


def test_emdpo_loglik_is_per_user_sum_of_choice_logliks():
    tb = _testbed(7, K=2)
    s = tb.sample(50, 3, np.random.default_rng(0))
    # two records per user: re-index users
    ch = s.choices
    ch2 = Choices(user=np.arange(50) // 2, context=ch.context, options=ch.options, chosen=ch.chosen)
    pol = LogLinearPolicy(tb.psi, tb.log_ref, tb.beta)
    thetas = np.random.default_rng(1).standard_normal((2, tb.d))
    L = EMDPOModel(pol, ch2).log_likelihood(thetas)
    for k in range(2):
        util = tb.beta * (pol.logprobs(thetas[k]) - tb.log_ref)[ch.context[:, None], ch.options]
        rec = choice_loglik(util, ch.chosen)
        assert np.allclose(L[:, k], rec.reshape(25, 2).sum(axis=1))


@pytest.fixture(scope="module")
def mpi_tb():
    return mpi_testbed(load_mpi_items("120"), beta=0.1, seed=0)


def test_emdpo_monotone_seeded_and_recovers_ternary(mpi_tb):
    s = mpi_tb.sample(600, 3, np.random.default_rng(0))
    pol = LogLinearPolicy(mpi_tb.psi, mpi_tb.log_ref, mpi_tb.beta)
    feats = mpi_tb.user_features(s.choices)
    em = EMDPO(pol, 3, n_restarts=1, max_iter=25, seed=0).fit(s.choices, feats)
    ll = np.array([t["marginal_ll"] for t in em.trace_])
    assert np.all(np.diff(ll) >= -1e-6 * (1 + np.abs(ll[1:])))  # EM ascent (up to the tiny ridge)
    em2 = EMDPO(pol, 3, n_restarts=1, max_iter=25, seed=0).fit(s.choices, feats)
    assert np.array_equal(em.thetas_, em2.thetas_)
    assert np.isclose(em.rho_.sum(), 1.0)
    m = match_types(s.types, em.responsibilities_, 3)
    accs = [mpi_tb.accuracy(pol.logprobs(em.thetas_[m[k]]), k) for k in range(3)]
    van = vanilla_dpo(pol, s.choices)
    van_acc = [mpi_tb.accuracy(pol.logprobs(van.thetas[0]), k) for k in range(3)]
    # a single policy cannot serve the opposed pair P1 / P2 = -P1 (its two accuracies sum to ~1);
    # EM-DPO's matched policies do clearly better on average
    assert van_acc[0] + van_acc[1] == pytest.approx(1.0, abs=0.02)
    assert np.mean(accs[:2]) > 0.65 and accs[2] > 0.8
    tl = true_label_dpo(pol, s.choices, s.types, 3)
    assert all(mpi_tb.accuracy(pol.logprobs(tl.thetas[k]), k) > 0.9 for k in range(3))
    cl = cluster_dpo(pol, s.choices, feats, 3, seed=0)
    assert cl.thetas.shape == (3, 5) and set(np.unique(cl.labels)) <= {0, 1, 2}


def test_mpi_loader(tmp_path):
    it = load_mpi_items("120")
    assert len(it.texts) == 120 and np.all(np.bincount(it.traits) == 24)
    assert set(np.unique(it.keys)) == {-1, 1}
    assert np.array_equal(np.abs(it.psi).sum(axis=1), np.ones(120))
    big = load_mpi_items("1k")
    assert big.dropped["key_not_pm1"] == 1 and big.dropped["duplicate_conflicting_texts"] > 0
    assert len(set(t.lower() for t in big.texts)) == len(big.texts)
    with pytest.raises(ValueError, match="data_dir"):
        load_mpi_items("120", tmp_path)
    with pytest.raises(ValueError, match="inventory"):
        load_mpi_items("2k")
    p = paraphrase_prompts(50)
    assert len(set(p)) == 50 and p == paraphrase_prompts(50)


def test_bad_input():
    tb = _testbed(0)
    with pytest.raises(ValueError, match="n_options"):
        tb.sample(10, 9, np.random.default_rng(0))
    with pytest.raises(ValueError, match="logpi"):
        tb.regrets(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="beta"):
        LogLinearPolicy(tb.psi, tb.log_ref, 0.0)
    with pytest.raises(ValueError, match="init"):
        EMDPO(LogLinearPolicy(tb.psi, tb.log_ref, 1.0), 2, init="spectral")
    with pytest.raises(ValueError, match="type_probs"):
        TabularTestbed(tb.psi, tb.log_ref, tb.betas, [0.5, 0.6])


def test_cluster_dpo_feature_is_the_mean_psi_of_the_users_preferred_responses():
    """Seed 001 App. D.2: "k-means clustering on the average embedding of all the preferred texts of that
    user": per user, the mean of psi(x, chosen) over the user's records (loops here); not the EM-init
    contrast psi(chosen) - mean psi(rejected)."""
    from pluralign.emdpo import user_preferred_features

    tb = _testbed(5, X=4, Y=6, d=3, K=2)
    ch = tb.sample(30, 3, np.random.default_rng(0), per_user=3).choices
    want = np.zeros((ch.n_users, tb.d))
    for i in range(ch.n_users):
        recs = np.flatnonzero(ch.user == i)
        want[i] = np.mean([tb.psi[ch.context[r], ch.options[r, ch.chosen[r]]] for r in recs], axis=0)
    np.testing.assert_allclose(tb.preferred_features(ch), want, rtol=1e-12)
    assert not np.allclose(tb.user_features(ch), want, atol=1e-3)  # the old (contrast) feature differs
    # the LM path's form: one embedding per option id (context-free), as for text embeddings
    emb = np.random.default_rng(1).standard_normal((tb.n_responses, 2))
    want2 = np.array([np.mean([emb[ch.options[r, ch.chosen[r]]] for r in np.flatnonzero(ch.user == i)], axis=0)
                      for i in range(ch.n_users)])
    np.testing.assert_allclose(user_preferred_features(ch, emb), want2, rtol=1e-12)
    with pytest.raises(ValueError, match="response_emb"):
        user_preferred_features(ch, np.zeros(3))


def test_the_sims_cluster_dpo_baseline_clusters_on_the_preferred_feature(monkeypatch):
    """`fit_all_methods` (sims mpi / mmra) hands Cluster DPO the App. D.2 feature, EM-DPO the EM-init one."""
    from types import SimpleNamespace

    from pluralign.sims import emdpo_common as ec

    tb = _testbed(6, X=3, Y=5, d=2, K=2)
    sample = tb.sample(40, 3, np.random.default_rng(2))
    seen = {}

    def fake_em(tb_, policy, ch, s, seed, rep, feats=None):
        seen["em"] = feats
        return SimpleNamespace(as_fit=lambda: SimpleNamespace(), trace_=[{"marginal_ll": 0.0}])

    def fake_cluster(policy, ch, feats, k, seed=0):
        seen["cluster"] = feats
        raise RuntimeError("stop")

    monkeypatch.setattr(ec, "fit_em_dpo", fake_em)
    monkeypatch.setattr(ec, "cluster_dpo", fake_cluster)
    with pytest.raises(RuntimeError, match="stop"):
        ec.fit_all_methods(tb, None, sample, ec.EMDPOSettings(), 0, 0)
    np.testing.assert_allclose(seen["cluster"], tb.preferred_features(sample.choices))
    np.testing.assert_allclose(seen["em"], tb.user_features(sample.choices))
