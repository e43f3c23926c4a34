"""PREC cluster decoders (seed 000 eq. 6, 13) and their MixtureModel adapter."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.choice import rating_loglik
from pluralign.data import Ratings
from pluralign.em import EMConfig, MixtureEM, matched_accuracy
from pluralign.prec.decoders import ClusterDecoders, DecoderConfig, DecoderMixture, fit_decoders, leaky_bce_loss

torch.set_num_threads(1)


def _single(dec, k):
    one = ClusterDecoders(1, dec.d_in, dec.n_hidden, dtype=torch.float64)
    with torch.no_grad():
        for name, p in one.named_parameters():
            p.copy_(getattr(dec, name)[k : k + 1])
    return one


@settings(max_examples=20)
@given(K=st.integers(1, 5), h=st.sampled_from([0, 1, 7]), M=st.integers(1, 9), T=st.integers(1, 6), seed=st.integers(0, 99))
def test_batched_equals_one_decoder_at_a_time(K, h, M, T, seed):
    g = torch.Generator().manual_seed(seed)
    dec = ClusterDecoders(K, 3, h, g, torch.float64)
    x = torch.randn(M, T, 3, generator=g, dtype=torch.float64)
    S = dec.segment_scores(x)  # the default: eq. 6's sum
    R = dec.step_rewards(x)
    torch.testing.assert_close(R.sum(2), S)
    torch.testing.assert_close(dec.segment_scores(x, "mean"), R.mean(2))
    for k in range(K):
        torch.testing.assert_close(_single(dec, k).segment_scores(x)[0], S[k])
    c = torch.randint(0, K, (M,), generator=g)
    torch.testing.assert_close(dec.pair_scores(x, c), S[c, torch.arange(M)])
    torch.testing.assert_close(dec.pair_scores(x, c, "mean"), R.mean(2)[c, torch.arange(M)])


def test_decoder_config_default_is_the_printed_sum():
    """Seed 000 eq. 4 / eq. 6: the segment score is sum_t r(s_t, a_t)."""
    assert DecoderConfig().aggregate == "sum"


def _data(seed=0, M=30, K=3):
    rng = np.random.default_rng(seed)
    scores = torch.tensor(rng.normal(0, 2, size=(K, M)))
    label = torch.tensor(rng.choice([0.0, 0.5, 1.0], size=M))
    rw = torch.tensor(rng.choice([0.0, 1.0, 2.0], size=M))
    cw = torch.tensor(rng.uniform(0, 1, size=(M, K)))
    return scores, label, rw, cw


def test_leaky_bce_matches_rating_loglik_brute_force():
    scores, label, rw, cw = _data()
    tau = 0.3
    loss = leaky_bce_loss(scores, label, rw, cw, tau)
    expect = 0.0
    for k in range(3):
        ll = rating_loglik(scores[k].numpy(), label.numpy(), tau, rw.numpy() * cw[:, k].numpy())
        expect += -ll.sum() / (rw.numpy() * cw[:, k].numpy()).sum()
    assert float(loss) == pytest.approx(expect, rel=1e-12)
    # label 1/2: the loss of an 'equal' segment is -(log s + log(1 - s)) / 2, minimised at S = tau
    s = torch.tensor([[0.3]], requires_grad=True)
    l_eq = leaky_bce_loss(s, torch.tensor([0.5]), torch.ones(1), torch.ones(1, 1), tau)
    l_eq.backward()
    assert abs(float(s.grad)) < 1e-12


def test_skipped_records_and_other_clusters_do_not_move_a_decoder():
    g = torch.Generator().manual_seed(0)
    dec = ClusterDecoders(2, 3, 4, g, torch.float64)
    x = torch.randn(10, 5, 3, generator=g, dtype=torch.float64)
    label = torch.ones(10)
    rw = torch.ones(10, dtype=torch.float64)
    rw[:5] = 0.0
    cw = torch.zeros(10, 2, dtype=torch.float64)
    cw[:, 0] = 1.0
    leaky_bce_loss(dec.segment_scores(x), label.double(), rw, cw).backward()
    assert torch.all(dec.W1.grad[1] == 0) and torch.all(dec.W2.grad[1] == 0)
    # changing skipped records' labels changes nothing
    with torch.no_grad():
        l1 = leaky_bce_loss(dec.segment_scores(x), label.double(), rw, cw)
        lab2 = label.double().clone()
        lab2[:5] = 0.0
        assert float(l1) == pytest.approx(float(leaky_bce_loss(dec.segment_scores(x), lab2, rw, cw)))


def _ratings(seed=0, N=12, per=20, T=6, d=3, equal=True):
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(N), per)
    cls = np.arange(N) % 2
    a = np.array([[2.0, -2.0, 0.0], [-2.0, 2.0, 0.0]])
    seg = rng.normal(size=(N * per // 2, T, d))
    sid = rng.integers(0, seg.shape[0], size=N * per)
    S = (seg[sid].mean(1) * a[cls[user]]).sum(1) * 3
    lab = (rng.random(N * per) < 1 / (1 + np.exp(-S))).astype(float)
    w = np.ones(N * per)
    if equal:
        lab[::9] = 0.5
        w[::11] = 0.0
    return Ratings(user=user, segment=sid, label=lab, weight=w, allow_duplicates=True), seg, cls


def test_adapter_log_likelihood_is_per_user_sum_of_rating_logliks():
    r, seg, _ = _ratings()
    m = DecoderMixture(r, seg, DecoderConfig(n_hidden=5, dtype="float64"))
    params = m.init_params(3, np.random.default_rng(0))
    L = m.log_likelihood(params)
    S = m.score(params, seg)  # (K, S)
    for k in range(3):
        ll = rating_loglik(S[k, r.segment], r.label, 0.0, r.weight)
        np.testing.assert_allclose(L[:, k], np.bincount(r.user, weights=ll), rtol=1e-10)


def test_leaky_em_recovers_two_clusters_and_is_reproducible():
    r, seg, cls = _ratings(1)
    cfg = DecoderConfig(n_hidden=8, n_steps=60, lr=0.05)
    em_cfg = EMConfig(n_components=2, assignment="leaky", leak=0.1, max_iter=5, seed=3)
    a = MixtureEM(DecoderMixture(r, seg, cfg, seed=1), em_cfg).fit()
    b = MixtureEM(DecoderMixture(r, seg, cfg, seed=1), em_cfg).fit()
    assert matched_accuracy(cls, a.labels_) >= 0.9
    for p, q in zip(a.params_.parameters(), b.params_.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_sparse_and_dense_m_step_agree():
    """Hard one-hot weights take the pair (bmm) path; it must give the same loss as the dense path."""
    r, seg, _ = _ratings(2, equal=True)
    m = DecoderMixture(r, seg, DecoderConfig(n_hidden=4, dtype="float64", n_steps=1, lr=1e-12))
    params = m.init_params(4, np.random.default_rng(0))
    w = np.eye(4)[np.arange(r.n_users) % 4]
    cw = torch.as_tensor(w, dtype=torch.float64)[m.user]
    dense = leaky_bce_loss(params.segment_scores(m.features)[:, m.segment_index], m.label, m.record_weight, cw)
    hist = fit_decoders(params, m.features, m.label, m.record_weight, cw, m.config, m.generator, m.segment_index)
    assert hist[0] == pytest.approx(float(dense.detach()), rel=1e-10)


def test_minibatch_adam_is_seeded():
    r, seg, _ = _ratings(3)
    cfg = DecoderConfig(n_hidden=4, n_steps=5, batch_size=16)
    outs = []
    for _ in range(2):
        m = DecoderMixture(r, seg, cfg, seed=7)
        p = m.init_params(2, np.random.default_rng(0))
        m.m_step(p, np.full((r.n_users, 2), 0.5))
        outs.append(p.W1.detach().clone())
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def test_validation():
    r, seg, _ = _ratings()
    with pytest.raises(ValueError, match="n_hidden"):
        DecoderConfig(n_hidden=-1)
    with pytest.raises(ValueError, match="optimizer"):
        DecoderConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="segment"):
        DecoderMixture(r, seg[:3])
    with pytest.raises(ValueError, match="ratings"):
        DecoderMixture("not ratings", seg)
    m = DecoderMixture(r, seg)
    with pytest.raises(ValueError, match="weights"):
        m.m_step(m.init_params(2, np.random.default_rng(0)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="features"):
        ClusterDecoders(2, 3, 4).segment_scores(torch.zeros(2, 3, 5))


@pytest.mark.parametrize("hard", [False, True])
def test_mean_reading_is_the_printed_sum_times_T_at_the_optimum(hard):
    """The label model is the same under both segment scores, so on non-separable labels the converged
    linear decoders agree in score and the mean reading's per-step reward is T times eq. 6's (dense path;
    ``hard``: one decoder per user, the (record, cluster)-pair path)."""
    rng = np.random.default_rng(4)
    M, T, d, K = 240, 6, 3, 3
    x = torch.tensor(rng.normal(size=(M, T, d)))
    z = rng.integers(0, K, size=M)
    w_true = rng.normal(size=(K, d))
    p = 1.0 / (1.0 + np.exp(-(x.numpy().sum(1) * w_true[z]).sum(1) / 3.0))
    y = torch.tensor((rng.random(M) < p).astype(float))  # noisy labels: a finite maximum-likelihood fit
    rw = torch.ones(M, dtype=torch.float64)
    cw = torch.tensor(np.eye(K)[z] if hard else np.full((M, K), 1.0 / K) + np.eye(K)[z])
    rewards = {}
    for agg in ("sum", "mean"):
        dec = ClusterDecoders(K, d, 0, torch.Generator().manual_seed(1), torch.float64)
        cfg = DecoderConfig(n_hidden=0, optimizer="lbfgs", n_steps=500, dtype="float64", aggregate=agg)
        fit_decoders(dec, x, y, rw, cw, cfg, torch.Generator().manual_seed(0))
        with torch.no_grad():
            rewards[agg] = (dec.step_rewards(x).numpy(), dec.segment_scores(x, agg).numpy())
    np.testing.assert_allclose(rewards["mean"][0], T * rewards["sum"][0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rewards["mean"][1], rewards["sum"][1], rtol=1e-4, atol=1e-4)
