"""PAL-A / PAL-B (seed 002, eq. 4-7): scores against brute force, losses against closed forms, the
estimator on an exact twin, few-shot localization and the information-gain criterion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from pluralign.data import Choices
from pluralign.pal import (
    PALA,
    PALB,
    PALConfig,
    PALRewardModel,
    active_query_order,
    expected_information_gain,
    make_map,
    pal_loss,
    query_logprob_table,
    random_query_order,
    weight_particles,
)

torch.set_num_threads(1)


def _ideal_point_data(seed, n_users=20, per_user=40, d=4, K=2, partition=True, kind="A"):
    """Noiseless comparisons with f* = identity and K well-separated prototypes: ideal points (kind A,
    nearest option wins) or preference directions (kind B, largest cosine wins)."""
    rng = np.random.default_rng(seed)
    P = np.eye(d)[:K] * 1.2
    W = np.eye(K)[np.arange(n_users) % K] if partition else rng.dirichlet(np.ones(K), n_users)
    users = np.repeat(np.arange(n_users), per_user)
    X = rng.normal(0, 1 / np.sqrt(d), size=(len(users), 2, d))
    if kind == "A":
        chosen = ((X - (W @ P)[users][:, None]) ** 2).sum(-1).argmin(1)
    else:
        chosen = ((X / np.linalg.norm(X, axis=-1, keepdims=True)) * (W @ P)[users][:, None]).sum(-1).argmax(1)
    return Choices(user=users, features=X, chosen=chosen), P, W


@settings(max_examples=25)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(2, 4))
def test_pal_a_scores_match_brute_force(seed, K, n_opt):
    g = torch.Generator().manual_seed(seed)
    d, D, M = 3, 2, 5
    f = make_map(d, D, "linear")
    m = PALA(f, d, n_users=2, n_prototypes=K)
    with torch.no_grad():
        f.weight.copy_(torch.randn(D, d, generator=g))
        m.prototypes.copy_(torch.randn(K, d, generator=g))
    x = torch.randn(M, n_opt, d, generator=g)
    w = torch.softmax(torch.randn(M, K, generator=g), -1)
    A, P = f.weight.detach().numpy().astype(float), m.prototypes.detach().numpy().astype(float)
    xn, wn = x.numpy().astype(float), w.numpy().astype(float)
    brute = np.array([[-np.sum((A @ xn[i, j] - A @ (wn[i] @ P)) ** 2) for j in range(n_opt)] for i in range(M)])
    with torch.no_grad():
        u = m.utilities_w(x, w).numpy()
        ug = m.utilities_grid(x, w).numpy()  # every record under every row of w
    np.testing.assert_allclose(u, brute, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ug[np.arange(M), :, np.arange(M)], brute, rtol=1e-4, atol=1e-4)


@settings(max_examples=25)
@given(st.integers(0, 10_000), st.integers(1, 4), st.booleans(), st.integers(1, 2), st.booleans())
def test_pal_b_scores_are_scaled_cosines_linear_in_w(seed, K, with_context, dc, joint):
    """s <f(x), G(x_c) w> (eq. 6; f on [x_c, x] when ``f_reads_context``). (dc = 1 included: one context
    feature is a context; the mutant `d_context > 1` survived without it.)"""
    g = torch.Generator().manual_seed(seed)
    d, D, M = 3, 4, 6
    joint = joint and with_context
    if with_context:
        m = PALB(make_map(d + dc * joint, D, "mlp", 8, generator=g), 3, K, D,
                 g=make_map(dc, K * D, "mlp", 8, generator=g), d_context=dc, init_scale=3.0, generator=g,
                 f_reads_context=joint)
        ctx = torch.randn(M, dc, generator=g)
    else:
        m = PALB(make_map(d, D, "linear", generator=g), 3, K, D, init_scale=3.0, generator=g)
        ctx = None
    x = torch.randn(M, 2, d, generator=g)
    w1, w2 = torch.softmax(torch.randn(2, M, K, generator=g), -1)
    lam = 0.3
    with torch.no_grad():
        u1, u2 = m.utilities_w(x, w1, ctx), m.utilities_w(x, w2, ctx)
        umix = m.utilities_w(x, lam * w1 + (1 - lam) * w2, ctx)
        ug = m.utilities_grid(x, w1, ctx)
        # brute force: s <f / |f|, sum_k w_k g_k / |g_k|>
        fin = torch.cat([ctx[:, None].expand(-1, 2, -1), x], -1) if joint else x
        fx = m.f(fin)
        fx = fx / fx.norm(dim=-1, keepdim=True)
        G = m.prototype_matrix(ctx, M)
        brute = 3.0 * torch.einsum("mnd,md->mn", fx, torch.einsum("mk,mkd->md", w1, G))
    np.testing.assert_allclose(u1.numpy(), brute.numpy(), atol=1e-5)
    np.testing.assert_allclose(umix.numpy(), (lam * u1 + (1 - lam) * u2).numpy(), atol=1e-5)
    np.testing.assert_allclose(ug[torch.arange(M), :, torch.arange(M)].numpy(), u1.numpy(), atol=1e-5)
    assert float(u1.abs().max()) <= 3.0 + 1e-5
    np.testing.assert_allclose(G.norm(dim=-1).numpy(), 1.0, atol=1e-5)


@settings(max_examples=30)
@given(st.integers(0, 10_000), st.integers(2, 4), st.floats(0.1, 3.0))
def test_losses_match_closed_forms(seed, n, margin):
    rng = np.random.default_rng(seed)
    M = 7
    u = rng.normal(0, 3, size=(M, n))
    c = rng.integers(0, n, M)
    wt = rng.uniform(0.1, 2, M)
    mask = np.ones((M, n), bool)
    T = lambda a, dt=torch.float64: torch.as_tensor(a, dtype=dt)  # noqa: E731
    log = pal_loss(T(u), T(c, torch.long), T(mask, torch.bool), T(wt), "logistic")
    hinge = pal_loss(T(u), T(c, torch.long), T(mask, torch.bool), T(wt), "hinge", margin)
    nll = -(u[np.arange(M), c] - logsumexp(u, axis=1))
    hin = np.array([sum(max(0.0, margin - (u[i, c[i]] - u[i, j])) for j in range(n) if j != c[i]) for i in range(M)])
    np.testing.assert_allclose(float(log), np.sum(wt * nll) / wt.sum(), rtol=1e-10)
    np.testing.assert_allclose(float(hinge), np.sum(wt * hin) / wt.sum(), rtol=1e-10)
    if n == 2:  # logistic = Bradley-Terry-Luce
        np.testing.assert_allclose(nll, np.logaddexp(0, -(u[np.arange(M), c] - u[np.arange(M), 1 - c])), rtol=1e-10)


@pytest.mark.parametrize("model,loss", [("A", "logistic"), ("A", "hinge"), ("B", "logistic")])
def test_fit_learns_heterogeneous_preferences(model, loss):
    train, P, _ = _ideal_point_data(0, kind=model)
    test, _, _ = _ideal_point_data(1, kind=model)
    accs = {}
    for K in (1, 2):
        cfg = PALConfig(model=model, map="linear", n_prototypes=K, d_latent=4, epochs=100, loss=loss, seed=3)
        est = PALRewardModel(cfg)
        assert est.fit(train) is est
        accs[K] = est.accuracy(test)
        assert np.allclose(est.weights_.sum(1), 1.0) and np.all(est.weights_ >= 0)
        assert est.loss_history_[-1] < est.loss_history_[0]
    assert accs[2] >= 0.85, accs
    assert accs[2] - accs[1] >= 0.1, accs  # one prototype cannot serve both groups


def test_same_seed_same_numbers_and_param_groups():
    data, _, _ = _ideal_point_data(2, n_users=6, per_user=10)
    cfg = PALConfig(model="A", map="mlp", hidden=8, n_prototypes=2, epochs=5, batch_size=16, seed=7)
    a = PALRewardModel(cfg).fit(data)
    b = PALRewardModel(PALConfig(**{**cfg.__dict__})).fit(data)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert a.loss_history_ == b.loss_history_
    opt = a._optimizer(a.model_.param_groups())
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == {"map": cfg.lr_map, "prototypes": cfg.lr_prototypes, "weights": cfg.lr_weights}


@pytest.mark.parametrize("batch_size", [0, 16])
def test_restarts_keep_the_lowest_probe_loss_and_continue_it(batch_size):
    data, _, _ = _ideal_point_data(4, n_users=6, per_user=10)
    cfg = PALConfig(model="A", map="mlp", hidden=8, n_prototypes=2, epochs=12, batch_size=batch_size, seed=3,
                    n_restarts=3, restart_epochs=5)
    est = PALRewardModel(cfg).fit(data)
    assert len(est.restart_losses_) == 3 and est.restart_chosen_ == int(np.argmin(est.restart_losses_))
    assert len(est.loss_history_) == cfg.epochs
    for r in range(3):  # each probe loss is that seed's own 5-epoch training loss
        probe = PALRewardModel(PALConfig(**{**cfg.__dict__, "n_restarts": 1, "epochs": 5,
                                           "seed": PALRewardModel.restart_seed(3, r)})).fit(data)
        assert probe.loss_history_[-1] == pytest.approx(est.restart_losses_[r], rel=1e-6)
    # the kept restart continues where its probe stopped (optimizer state kept): same as one long run
    single = PALRewardModel(PALConfig(**{**cfg.__dict__, "n_restarts": 1,
                                              "seed": PALRewardModel.restart_seed(3, est.restart_chosen_)})).fit(data)
    np.testing.assert_allclose(est.weights_, single.weights_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.loss_history_, single.loss_history_, rtol=1e-5)
    with pytest.raises(ValueError, match="n_restarts"):
        PALRewardModel(PALConfig(n_restarts=0))


def test_kwise_choices_and_masks():
    rng = np.random.default_rng(0)
    M, n, d = 60, 3, 3
    X = rng.normal(size=(M, n, d))
    mask = np.ones((M, n), bool)
    mask[::4, 2] = False
    u = -((X - 0.5) ** 2).sum(-1)
    u[~mask] = -np.inf
    data = Choices(user=np.arange(M) % 3, features=X, chosen=u.argmax(1), mask=mask)
    est = PALRewardModel(PALConfig(model="A", map="linear", n_prototypes=1, d_latent=3, epochs=200, seed=0)).fit(data)
    ut = est.utilities(data)
    assert ut.shape == (M, n) and np.all(np.isneginf(ut[~mask])) and np.all(np.isfinite(ut[mask]))
    assert est.accuracy(data) > 0.85


def _twin(P, d):
    """A PAL-A estimator whose map and prototypes are set to the truth (identity map)."""
    data, _, _ = _ideal_point_data(0, n_users=2, per_user=5, d=d, K=len(P))
    est = PALRewardModel(PALConfig(model="A", map="linear", n_prototypes=len(P), d_latent=d, epochs=1)).fit(data)
    with torch.no_grad():
        est.model_.f.weight.copy_(torch.eye(d) * 3.0)
        est.model_.prototypes.copy_(torch.as_tensor(P, dtype=torch.float32))
    return est


def test_localize_recovers_the_group_of_new_users_and_zero_shot_is_the_mean():
    new, P, W = _ideal_point_data(5, n_users=6, per_user=30, K=3)
    est = _twin(P, 4)
    before = [p.detach().clone() for p in est.model_.parameters()]
    W_hat = est.localize(new, epochs=200)
    assert np.all(W_hat.argmax(1) == W.argmax(1))
    assert all(torch.equal(a, b) for a, b in zip(before, est.model_.parameters()))  # map/prototypes frozen
    np.testing.assert_allclose(est.population_weights(), est.weights_.mean(0))
    with pytest.raises(ValueError, match="user index beyond"):
        est.utilities(new)  # new users need weights


@settings(max_examples=40)
@given(st.integers(0, 10_000), st.integers(2, 3))
def test_information_gain_is_expected_entropy_reduction(seed, n):
    rng = np.random.default_rng(seed)
    Q, P = 4, 7
    table = np.log(rng.dirichlet(np.ones(n), size=(Q, P)).transpose(0, 2, 1))  # (Q, n, P)
    log_post = np.log(rng.dirichlet(np.ones(P)))
    ig = expected_information_gain(table, log_post)
    post = np.exp(log_post)
    H = lambda p: -np.sum(p[p > 0] * np.log(p[p > 0]))  # noqa: E731
    for q in range(Q):
        exp_h = 0.0
        for y in range(n):
            joint = post * np.exp(table[q, y])
            py = joint.sum()
            exp_h += py * H(joint / py)
        assert ig[q] == pytest.approx(H(post) - exp_h, abs=1e-10)
        assert ig[q] >= -1e-12
    flat = np.zeros((1, n, P)) - np.log(n)  # an answer that does not depend on w carries no information
    assert expected_information_gain(flat, log_post)[0] == pytest.approx(0.0, abs=1e-12)


def test_active_queries_pick_informative_ones_and_track_w():
    P = np.eye(4)[:3] * 1.2
    est = _twin(P, 4)
    pool, _, W = _ideal_point_data(9, n_users=1, per_user=80, K=3, partition=True)
    # pad the pool with uninformative queries: two identical options
    Xu = np.repeat(np.random.default_rng(1).normal(0, 0.5, size=(40, 1, 4)), 2, axis=1)
    both = Choices(user=np.zeros(120, int), features=np.concatenate([pool.features, Xu]),
                   chosen=np.concatenate([pool.chosen, np.zeros(40, int)]))
    table = query_logprob_table(est, both, weight_particles(3, 50, 0))
    assert table.shape == (120, 2, 53)
    idx, w_mean = active_query_order(est, both, 15, n_particles=300, seed=0)
    assert len(set(idx.tolist())) == 15 and np.all(idx < 80)  # never asks an uninformative query
    assert w_mean.argmax() == W[0].argmax() and w_mean[W[0].argmax()] > 0.6
    r = random_query_order(both, 15, seed=0)
    np.testing.assert_array_equal(r, random_query_order(both, 15, seed=0))


def test_query_orders_refuse_an_implicit_seed():
    pool = Choices(user=np.zeros(5, int), features=np.zeros((5, 2, 2)), chosen=np.zeros(5, int))
    with pytest.raises(ValueError, match="rng"):
        weight_particles(3, 10, None)
    with pytest.raises(ValueError, match="seed"):
        random_query_order(pool, 2, seed=None)
    np.testing.assert_array_equal(weight_particles(3, 10, 4), weight_particles(3, 10, np.random.default_rng(4)))


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="model"):
        PALConfig(model="C").validate()
    with pytest.raises(ValueError, match="loss"):
        PALRewardModel(PALConfig(loss="square"))
    with pytest.raises(ValueError, match="n_prototypes"):
        PALRewardModel(PALConfig(n_prototypes=0))
    with pytest.raises(ValueError, match="choices"):
        PALRewardModel().fit(Choices(user=[0, 0], options=[[0, 1], [1, 0]], chosen=[0, 1]))
    with pytest.raises(ValueError, match="not fitted"):
        PALRewardModel().population_weights()
    with pytest.raises(ValueError, match="map"):
        make_map(3, 2, "cnn")


def test_restart_seeds_of_neighbouring_base_seeds_never_collide():
    """Restart r >= 1 draws from a SeedSequence child of the base seed, not base + r (which made restart 1
    of seed s the same stream as restart 0 of seed s + 1)."""
    seeds = {s: [PALRewardModel.restart_seed(s, r) for r in range(4)] for s in range(20)}
    assert all(seeds[s][0] == s for s in seeds)
    flat = [x for v in seeds.values() for x in v]
    assert len(set(flat)) == len(flat)


def test_residual_map_is_x_plus_mlp_by_hand():
    f = make_map(3, 3, "mlp", hidden=2, residual=True)
    with torch.no_grad():
        f.body[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 2.0]]))
        f.body[0].bias.copy_(torch.tensor([0.0, 1.0]))
        f.body[2].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        f.body[2].bias.copy_(torch.tensor([0.5, 0.0, -1.0]))
        y = f(torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float32)).double().numpy()[0]
    # hidden pre-activations: (1, -1 + 0 + 1) = (1, 0); GELU(1) = 1 * Phi(1) = 0.841345, GELU(0) = 0
    g1 = 0.8413447460685429
    np.testing.assert_allclose(y, [1 + g1 + 0.5, 1 + 0.0, 0 + g1 - 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="d_latent"):
        make_map(3, 4, "mlp", residual=True)
    # the estimator: residual needs d_latent = the input width (App. D.4: latent = embedding dim)
    data, _, _ = _ideal_point_data(0, n_users=4, per_user=5, d=4)
    with pytest.raises(ValueError, match="d_latent"):
        PALRewardModel(PALConfig(map="mlp", residual=True, d_latent=3, epochs=1)).fit(data)
    est = PALRewardModel(PALConfig(map="mlp", hidden=4, residual=True, d_latent=4, epochs=1)).fit(data)
    assert type(est.model_.f).__name__ == "Residual"


def test_hinge_loss_of_pal_a_by_hand():
    """PAL-A with f = identity, one prototype at the origin: u(x) = -||x||^2; hinge = max(0, 1 - (u_c - u_o))."""
    f = make_map(2, 2, "linear")
    m = PALA(f, 2, n_users=1, n_prototypes=1)
    with torch.no_grad():
        f.weight.copy_(torch.eye(2))
        m.prototypes.zero_()
    x = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]], [[0.5, 0.0], [2.0, 0.0]]])
    u = m(x, torch.zeros(3, dtype=torch.long)).detach()  # rows: (-1, 0), (-1, 0), (-0.25, -4)
    np.testing.assert_allclose(u.detach().numpy(), [[-1, 0], [-1, 0], [-0.25, -4]])
    chosen = torch.tensor([0, 1, 0])
    mask, wt = torch.ones(3, 2, dtype=torch.bool), torch.ones(3)
    # by hand: max(0, 1 - (-1 - 0)) = 2; max(0, 1 - (0 + 1)) = 0; max(0, 1 - (-0.25 + 4)) = 0
    from pluralign.pal.train import record_losses
    np.testing.assert_allclose(record_losses(u, chosen, mask, "hinge").detach().numpy(), [2.0, 0.0, 0.0])
    np.testing.assert_allclose(float(pal_loss(u, chosen, mask, torch.tensor([1.0, 1.0, 2.0]), "hinge")), 2.0 / 4)
    np.testing.assert_allclose(float(pal_loss(u, chosen, mask, wt, "hinge", margin=3.0)),
                               (4.0 + 2.0 + 0.0) / 3)  # margin 3: 3 + 1, 3 - 1, max(0, 3 - 3.75)
    with pytest.raises(ValueError, match="loss"):
        pal_loss(u, chosen, mask, wt, "squared")


@pytest.mark.parametrize("model", ["A", "B"])
def test_localize_uses_the_models_loss_and_frozen_scores_match(model):
    data, _, _ = _ideal_point_data(5, n_users=6, per_user=20, kind=model)
    for loss in ("hinge", "logistic"):
        cfg = PALConfig(model=model, map="mlp", hidden=8, d_latent=4, n_prototypes=2, epochs=30, loss=loss, seed=1,
                        weight_init_std=1.0)
        est = PALRewardModel(cfg).fit(data)
        batch = est._query(data)
        W = torch.softmax(torch.randn(6, 2, generator=torch.Generator().manual_seed(0)), -1)
        with torch.no_grad():
            fast = est._frozen_scorer(batch)(W)
            slow = est.model_.utilities_w(batch.x, W[batch.users], batch.ctx)
        np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=1e-5, atol=1e-5)
        Wl = est.localize(data, epochs=20, lr=0.1, l2=1e-2)
        # reference: the same Adam loop written out on utilities_w and the model's own loss
        from pluralign.pal.train import record_losses
        logits = torch.zeros(6, 2, requires_grad=True)
        opt = torch.optim.Adam([logits], lr=0.1)
        counts = torch.bincount(batch.users, minlength=6).float()
        for _ in range(20):
            u = est.model_.utilities_w(batch.x, torch.softmax(logits, -1)[batch.users], batch.ctx)
            per = torch.zeros(6).index_add(0, batch.users, record_losses(u, batch.chosen, batch.mask, loss))
            obj = (per / counts).sum() + 1e-2 * ((logits - logits.mean(1, keepdim=True)) ** 2).sum(1).div(counts).sum()
            opt.zero_grad()
            obj.backward()
            opt.step()
        np.testing.assert_allclose(Wl, torch.softmax(logits, -1).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_weight_init_std_draws_random_logits_and_is_validated():
    data, _, _ = _ideal_point_data(2, n_users=5, per_user=4)
    zero = PALRewardModel(PALConfig(epochs=1, lr_weights=1e-9)).fit(data)
    rand = PALRewardModel(PALConfig(epochs=1, lr_weights=1e-9, weight_init_std=1.0)).fit(data)
    np.testing.assert_allclose(zero.weights_, 1 / 3, atol=1e-6)  # uniform start (default)
    assert rand.weights_.std() > 0.05  # softmax of N(0, 1) logits
    again = PALRewardModel(PALConfig(epochs=1, lr_weights=1e-9, weight_init_std=1.0)).fit(data)
    np.testing.assert_array_equal(rand.weights_, again.weights_)
    with pytest.raises(ValueError, match="weight_init_std"):
        PALRewardModel(PALConfig(weight_init_std=-1.0))


def test_pal_constructors_check_their_sizes_on_the_boundaries():
    assert make_map(1, 1, "linear").weight.shape == (1, 1)
    assert make_map(2, 3, "mlp", hidden=1)[0].weight.shape == (1, 2)
    for args, kw in (((0, 2), {}), ((2, 0), {}), ((2, 2), {"hidden": 0})):
        with pytest.raises(ValueError, match="d_in/d_out|hidden"):
            make_map(*args, **kw)
    # the default generator is a fresh one seeded 0 (reproducible, never torch's global RNG)
    a, b = make_map(3, 2, "linear"), make_map(3, 2, "linear", generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a.weight, b.weight)
    torch.testing.assert_close(PALA(make_map(3, 2, "linear"), 3, n_users=0, n_prototypes=2).prototypes,
                               torch.randn(2, 3, generator=torch.Generator().manual_seed(0)) / np.sqrt(3))
    assert PALA(make_map(3, 2, "linear"), 3, n_users=0, n_prototypes=2).user_logits.shape == (0, 2)
    with pytest.raises(ValueError, match="n_users"):
        PALA(make_map(3, 2, "linear"), 3, n_users=-1, n_prototypes=2)
    with pytest.raises(ValueError, match="init_scale"):
        PALB(make_map(3, 2, "linear"), n_users=1, n_prototypes=2, d_latent=2, init_scale=0.0)
    with pytest.raises(ValueError, match="g: PAL-B with a context"):
        PALB(make_map(4, 2, "linear"), n_users=1, n_prototypes=2, d_latent=2, d_context=1)


def test_pal_query_checks_weights_users_and_feature_width():
    ch, _, _ = _ideal_point_data(0, n_users=4, per_user=10, d=3)
    rm = PALRewardModel(PALConfig(n_prototypes=2, map="linear", d_latent=2, epochs=2, seed=0)).fit(ch)
    u = rm.utilities(ch)
    assert u.shape == (len(ch), 2) and np.all(np.isfinite(u))
    np.testing.assert_allclose(rm.utilities(ch, weights=rm.weights_), u, rtol=1e-6)
    np.testing.assert_allclose(rm.utilities(ch, weights=np.array([1.0, 0.0])),
                               rm.utilities(ch, weights=np.tile([1.0, 0.0], (4, 1))), rtol=1e-6)
    with pytest.raises(ValueError, match="weights: expected"):
        rm.utilities(ch, weights=np.ones((4, 3)) / 3)
    with pytest.raises(ValueError, match="weights: expected"):
        rm.utilities(ch, weights=np.ones((4, 2, 1)))
    with pytest.raises(ValueError, match="fewer rows"):
        rm.utilities(ch, weights=np.ones((3, 2)) / 2)
    wide = Choices(user=ch.user, features=np.concatenate([ch.features, ch.features], -1), chosen=ch.chosen)
    with pytest.raises(ValueError, match="width 6"):
        rm.utilities(wide)
    users = ch.user.copy()
    users[-1] = 4  # one record of a fifth, unseen user
    with pytest.raises(ValueError, match="beyond the fitted users"):
        rm.utilities(Choices(user=users, features=ch.features, chosen=ch.chosen))


def test_pal_context_features_must_be_a_table_covering_every_context():
    ch, _, _ = _ideal_point_data(1, n_users=2, per_user=4, d=3)
    cfg = PALConfig(model="B", n_prototypes=2, map="linear", d_latent=2, epochs=1, seed=0)
    for cf in (np.zeros(3), np.zeros((0, 2))):  # 1-d; 2-d without a row for context 0
        with pytest.raises(ValueError, match="context_features"):
            PALRewardModel(cfg, context_features=cf).fit(ch)


def test_pal_b_map_reads_the_item_as_printed_unless_asked():
    """Eq. 6 / Alg. 2: f(x), the item alone; PALConfig(map_reads_context=True) gives f on [x_c, x]."""
    rng = np.random.default_rng(0)
    ctx_feats = rng.normal(size=(5, 3)).astype(np.float32)
    for joint, width in ((False, 4), (True, 7)):
        est = PALRewardModel(PALConfig(model="B", n_prototypes=2, d_latent=3, map="linear",
                                       map_reads_context=joint), context_features=ctx_feats)
        model = est._build(4, 2, 0)
        assert model.f_reads_context is joint
        assert next(model.f.parameters()).shape[-1] == width  # the first layer's input width
