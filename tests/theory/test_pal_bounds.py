"""Seed 002 section 4.1 / Appendix C: PAL's statements with their printed constants, against exact
computations and Monte Carlo.  Every bound is called through its function (never re-typed inline), and
the golden values below are the printed formulas evaluated by hand at fixed arguments."""

from __future__ import annotations

import itertools
from math import log, pi, sqrt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.seeding import as_generator
from pluralign.theory import pal_bounds as pb

# ---------------------------------------------------------------- printed constants (golden values)


def test_printed_bounds_golden_values():
    # Thm 1 (sec. 4.1): 12L sqrt((zM^2 + (KN/D + K) zv^2)/(Nm)) log(N+D) + sqrt(2 log(2/delta)/(Nm))
    N, m, D, K, zM, zv, L, dl = 100, 50, 10, 3, 2.0, 0.5, 0.7, 0.1
    core = (zM**2 + (K * N / D + K) * zv**2) / (N * m)
    conf = sqrt(2 * log(2 / dl) / (N * m))
    assert pb.thm1_bound(N, m, D, K, zM, zv, L, dl) == pytest.approx(12 * L * sqrt(core) * log(N + D) + conf, rel=1e-13)
    assert pb.thm1_bound(N, m, D, K, zM, zv, L, dl, form="proof") == pytest.approx(
        12 * L * sqrt(core * log(N + D)) + conf, rel=1e-13)
    assert pb.thm1_bound(N, m, D, K, zM, zv, L, dl, B=3.0) == pytest.approx(
        12 * L * sqrt(core) * log(N + D) + 3 * conf, rel=1e-13)
    # Thm 2: 18L sqrt((zM^2 + K^2 zv^2)/N) + 3L sqrt(K zv^2/(Dm)) + sqrt(8 log(4/delta)/N)
    parts = pb.thm2_bound(N, m, D, K, zM, zv, L, dl, parts=True)
    assert parts["shared"] == pytest.approx(18 * L * sqrt((zM**2 + K**2 * zv**2) / N), rel=1e-13)
    assert parts["per_user"] == pytest.approx(3 * L * sqrt(K * zv**2 / (D * m)), rel=1e-13)
    assert parts["confidence"] == pytest.approx(sqrt(8 * log(4 / dl) / N), rel=1e-13)
    assert pb.thm2_bound(N, m, D, K, zM, zv, L, dl) == pytest.approx(
        parts["shared"] + parts["per_user"] + parts["confidence"], rel=1e-13)
    # Prop. C.4: 6L sqrt((zM^2 + zv^2 N)/(Nm)) + sqrt(2 log(2/delta)/(Nm))
    assert pb.prop_c4_bound(N, m, D, zeta_M=zM, zeta_v=zv, L=L, delta=dl) == pytest.approx(
        6 * L * sqrt((zM**2 + zv**2 * N) / (N * m)) + conf, rel=1e-13)
    # Lemma C.1, C.2, C.3, C.7, C.9, C.10
    assert pb.lemma_c1_bound(0.3, N, m, dl) == pytest.approx(0.6 + conf, rel=1e-13)
    assert pb.lemma_c2_bound(N, m, D) == pytest.approx(2 * sqrt((N * m / D + m) * log(N + D) + log(N + D)), rel=1e-13)
    assert pb.lemma_c3_bound(N, m, D) == pytest.approx(2 * (N * m / D + m), rel=1e-13)
    assert pb.lemma_c7_bound(N, K, zM, zv, L, dl) == pytest.approx(
        18 * L * sqrt((zM**2 + K**2 * zv**2) / N) + 3 * sqrt(log(4 / dl) / (2 * N)), rel=1e-13)
    assert pb.lemma_c9_bound(m, D, K, zv, L) == pytest.approx(3 * L * sqrt(K * zv**2 / (D * m)), rel=1e-13)
    assert pb.lemma_c10_bound(7.0, 2.0, 4, 9) == pytest.approx(sqrt(2 * 7 * log(13)) + 2 * log(13) / 3, rel=1e-13)
    # the displayed steps of Thm 1's proof (App. C.1.1)
    ch = pb.thm1_proof_chain(N, m, D, K, zM, zv, L)
    a = (K * N / D + K) * zv**2 / (N * m)
    lg = log(N + D)
    assert ch["term_i"] == pytest.approx(4 * L * sqrt(zM**2 / (N * m)), rel=1e-13)
    assert ch["term_ii_b"] == pytest.approx(2 * L / (N * m) * sqrt(K * N * zv**2) * pb.lemma_c2_bound(N, m, D), rel=1e-13)
    assert ch["term_ii_line3"] == pytest.approx(4 * L * sqrt(a * lg) + 2 * L * sqrt(K / (N * m) * zv**2 * lg), rel=1e-13)
    assert ch["term_ii_c"] == pytest.approx(6 * L * sqrt(2 * a * lg), rel=1e-13)
    assert ch["combined"] == pytest.approx(2 * L * (sqrt(4 * zM**2 / (N * m)) + sqrt(18 * a * lg)), rel=1e-13)
    assert ch["final_proof"] == pytest.approx(12 * L * sqrt((zM**2 / (N * m) + a) * lg), rel=1e-13)
    assert ch["eq9_printed"] == pytest.approx(12 * L * sqrt(zM**2 / (N * m) + a) * lg, rel=1e-13)


def test_rademacher_estimate_against_a_direct_computation():
    # N = m = 1: sup over M of sigma <A, M> is zeta_M sqrt(1 - (x^T x')^2) and over Q of sigma <d, Q w> is
    # zeta_v ||x - x'||, whatever the sign; a direct Monte Carlo of these (independent draws)
    est = pb.rademacher_pal_a(1, 1, 4, 1, zeta_M=0.7, zeta_v=1.3, n_draws=3000, seed=5)
    rng = np.random.default_rng(99)
    x, xp = pb.sample_sphere((20000,), 4, rng), pb.sample_sphere((20000,), 4, rng)
    ref = 0.7 * np.sqrt(1 - np.sum(x * xp, 1) ** 2) + 1.3 * np.linalg.norm(x - xp, axis=1)
    assert abs(est.mean - ref.mean()) <= 4 * (est.stderr + ref.std() / sqrt(ref.size))


def test_theorems_refuse_instances_outside_their_hypothesis():
    # K < min(N, D) (Thm 1 and Thm 2); Prop. C.4 has no such hypothesis
    for bad in [dict(N=3, D=5, K=3), dict(N=10, D=2, K=2)]:
        with pytest.raises(ValueError, match="K"):
            pb.thm1_bound(m=10, **bad)
        with pytest.raises(ValueError, match="K"):
            pb.thm2_bound(m=10, **bad)
    assert pb.prop_c4_bound(3, 10, 5, K=3) > 0


# ---------------------------------------------------------------- Thm 1: log placement (item 4)


@given(st.integers(2, 10**6), st.integers(2, 500), st.integers(1, 16), st.floats(0.01, 0.5))
def test_thm1_printed_log_placement_is_the_proof_bound_times_sqrt_log(N, D, K, delta):
    # K < min(N, D) forces N, D >= 2, so log(N + D) >= log 4 > 1: printed = proof * sqrt(log(N + D))
    if K >= min(N, D):
        K = min(N, D) - 1
    printed = pb.thm1_bound(N, 7, D, K, delta=delta, parts=True)["complexity"]
    proof = pb.thm1_bound(N, 7, D, K, delta=delta, form="proof", parts=True)["complexity"]
    assert printed / proof == pytest.approx(sqrt(log(N + D)), rel=1e-12)
    assert printed > proof


# ---------------------------------------------------------------- Thm 1 proof chain vs Monte Carlo


@settings(max_examples=6)
@given(st.integers(3, 9), st.integers(1, 6), st.integers(3, 6), st.integers(1, 2), st.integers(0, 1000))
def test_thm1_proof_steps_bound_the_exact_complexity(N, m, D, K, seed):
    zM, zv = 0.7, 1.3
    est = pb.rademacher_pal_a(N, m, D, K, zeta_M=zM, zeta_v=zv, n_draws=12, seed=seed)
    assert est.exact
    ch = pb.thm1_proof_chain(N, m, D, K, zM, zv, L=1.0)
    # (*) <= 2L R_lin (contraction) and the printed steps, each against its Monte Carlo counterpart
    assert 2 * est.metric_part <= ch["term_i"] + 3 * 2 * est.metric_stderr
    assert 2 * est.prototype_part <= ch["term_ii_b"] + 3 * 2 * est.prototype_stderr
    assert ch["term_ii_b"] <= ch["term_ii_c"] and ch["combined"] <= ch["final_proof"] <= ch["eq9_printed"]
    total = pb.thm1_bound(N, m, D, K, zM, zv, parts=True)["complexity"]
    assert 2 * est.mean <= total
    # the printed constants are not loose by orders of magnitude (measured 2-3x per step, ~12x in total):
    # a bound scaled down 10x fails here
    assert ch["term_i"] <= 6 * 2 * est.metric_part and ch["term_ii_b"] <= 8 * 2 * est.prototype_part
    assert total <= 40 * 2 * est.mean


@given(st.integers(2, 10**5), st.integers(1, 10**4), st.integers(2, 500), st.integers(1, 30))
def test_thm1_printed_steps_are_ordered(N, m, D, K):
    ch = pb.thm1_proof_chain(N, m, D, K)
    assert ch["term_ii_b"] <= ch["term_ii_line3"] * (1 + 1e-12) <= ch["term_ii_c"] * (1 + 1e-12)
    assert ch["combined"] <= ch["final_proof"] * (1 + 1e-12)


def test_doubled_one_over_nm_in_eq10_a_is_a_misprint():
    r = pb.doubled_normalization_counterexample(6, 4, 3, 2, n_draws=60, seed=1)
    # with the affine loss (*) = 2L E sup (1/(Nm)) sum sigma Phi: the printed (a) says (*) <= (*)/(Nm)
    assert r["star"] - 3 * r["star_se"] > r["printed_a_rhs"]
    assert r["printed_a_rhs"] == pytest.approx(r["star"] / 24)


# ---------------------------------------------------------------- exact inner sups


@st.composite
def symmetric_matrices(draw, d_max=5):
    D = draw(st.integers(1, d_max))
    A = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).normal(size=(D, D))
    return A + A.T


@settings(max_examples=15)
@given(symmetric_matrices(), st.floats(0.1, 5.0), st.integers(0, 10_000))
def test_psd_ball_support_is_the_exact_sup_over_m(S, zeta, seed):
    val = pb.psd_ball_support(S, zeta)
    assert val == pytest.approx(pb.psd_ball_support_sdp(S, zeta), abs=1e-6 * (1 + val))
    lam, U = np.linalg.eigh(S)
    Sp = (U * np.clip(lam, 0, None)) @ U.T
    if np.linalg.norm(Sp) > 0:
        assert np.sum(zeta * Sp / np.linalg.norm(Sp) * S) == pytest.approx(val, rel=1e-10)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        B = rng.normal(size=S.shape)
        M = B @ B.T
        M *= zeta * rng.uniform() / np.linalg.norm(M)
        assert np.sum(M * S) <= val + 1e-9


@given(st.integers(1, 7), st.integers(1, 4), st.integers(1, 4), st.integers(0, 10_000))
def test_max_partition_is_the_sup_over_prototypes_and_weights(N, K, D, seed):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(N, D))
    val, exact, upper, groups = pb.max_partition_norm(s, K)
    assert exact
    brute = max(sum(np.linalg.norm(s[np.array(a) == k].sum(axis=0)) for k in range(K))
                for a in itertools.product(range(K), repeat=N))
    assert val == pytest.approx(brute, rel=1e-12, abs=1e-12)
    assert sum(np.linalg.norm(s[groups == k].sum(axis=0)) for k in range(K)) == pytest.approx(val, rel=1e-12, abs=1e-12)
    assert val <= upper + 1e-12
    for _ in range(30):
        Q = rng.normal(size=(D, K))
        Q /= np.maximum(np.linalg.norm(Q, axis=0), 1.0)
        W = rng.dirichlet(np.ones(K), size=N)
        assert np.einsum("id,dk,ik->", s, Q, W) <= val + 1e-9
    ls, ls_exact, _, _ = pb.max_partition_norm(s, K, exact_limit=0, seed=seed)
    assert ls <= val + 1e-9
    assert ls_exact == (K >= N or K == 1)


# ---------------------------------------------------------------- Lemma C.2 / C.3 (and C.10's route)


@settings(max_examples=5)
@given(st.integers(2, 12), st.integers(1, 8), st.integers(2, 8), st.integers(0, 1000))
def test_lemma_c2_c3_by_simulation(N, m, D, seed):
    sim = pb.simulate_lemma_c2_c3(N, m, D, n_sims=600, seed=seed)
    assert sim["mean_norm"] <= sim["lemma_c2_bound"]  # Lemma C.2 as printed
    assert sim["lemma_c2_bound"] <= 3 * sim["mean_norm"]  # ... and not loose by an order of magnitude
    # Lemma C.3: the two variance norms are 2Nm/D and 2m (E[xi xi^T] = 2I/D), both below 2(Nm/D + m)
    e1, e2 = sim["iota_exact"]
    assert sim["iota_zzt_mc"] == pytest.approx(e1, rel=0.1) and sim["iota_ztz_mc"] == pytest.approx(e2, rel=0.1)
    assert max(e1, e2) <= sim["lemma_c3_bound"] == pytest.approx(e1 + e2)


def test_lemma_c2_does_not_follow_from_c10_and_c3_as_its_proof_says():
    # C.10 with iota = 2(Nm/D + m) and R = 2 exceeds the printed C.2 once (Nm/D + m) log(N+D) > ~2.25
    for N, m, D in [(100, 10, 10), (20, 5, 4), (8, 3, 3)]:
        lg = log(N + D)
        route = pb.lemma_c10_bound(pb.lemma_c3_bound(N, m, D), 2.0, D, N)
        assert route == pytest.approx(2 * sqrt((N * m / D + m) * lg) + 2 * lg / 3)
        assert route > pb.lemma_c2_bound(N, m, D)
    assert pb.lemma_c10_bound(pb.lemma_c3_bound(1, 1, 1), 2.0, 1, 1) < pb.lemma_c2_bound(1, 1, 1)


# ---------------------------------------------------------------- Lemma C.11, C.12, C.13


@given(st.integers(1, 8), st.integers(1, 3), st.integers(1, 3), st.integers(0, 10_000))
def test_lemma_c11_as_printed(n, p, q, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, p, q))
    B = np.linalg.norm(Z, axis=(1, 2)) * rng.uniform(1.0, 2.0, size=n)
    r = pb.lemma_c11_check(Z, B, n_mc=4000, seed=seed)
    # Rademacher, exactly: E ||sum sigma_i Z_i||_F^2 = sum ||Z_i||_F^2 (cross terms vanish) <= sum B_i^2
    direct = np.mean([np.sum(np.tensordot(np.array(s), Z, axes=1) ** 2)
                      for s in itertools.product([-1, 1], repeat=n)])
    assert r["lhs_rademacher"] == pytest.approx(direct, rel=1e-12)
    assert r["lhs_rademacher"] == pytest.approx(np.sum(Z**2), rel=1e-12)
    assert r["lhs_rademacher"] <= r["rhs"] + 1e-12 and r["rhs"] == pytest.approx(np.sum(B**2))
    # standard normal sigma: the same expectation, by Monte Carlo
    assert abs(r["lhs_gaussian"] - np.sum(Z**2)) <= 5 * r["lhs_gaussian_se"]


def test_sudakov_fernique_on_finite_index_sets():
    rng = np.random.default_rng(0)
    for T in (2, 5, 12):
        A = rng.normal(size=(T, T))
        CX = A @ A.T
        Bm = rng.normal(size=(T, 3))
        CY = CX + Bm @ Bm.T  # adds an independent process: every increment grows
        r = pb.sudakov_fernique_check(CX, CY, n_mc=40000, seed=T)
        assert r["increment_margin"] >= -1e-9
        assert r["E_sup_X"] <= r["E_sup_Y"] + 3 * (r["se_X"] + r["se_Y"])
        if T == 2:  # E max(X1, X2) = sqrt(E (X1 - X2)^2 / (2 pi)) for a centred pair
            for C, e, se in ((CX, r["E_sup_X"], r["se_X"]), (CY, r["E_sup_Y"], r["se_Y"])):
                assert abs(e - sqrt((C[0, 0] + C[1, 1] - 2 * C[0, 1]) / (2 * pi))) <= 4 * se
    # the conclusion fails when the hypothesis does: swap the processes
    assert pb.sudakov_fernique_check(CY, CX)["increment_margin"] < 0


def test_lemma_c13_printed_form_fails_and_corrected_form_holds_on_a_grid():
    # f(x; w) = sigmoid(w x) / 2 + c, g = f - 0.1, on a grid of w: printed LHS 0.1 > RHS 0.01
    w = np.linspace(-3, 3, 25)[:, None]
    x = np.linspace(-1, 1, 40)[None, :]
    G = 0.4 / (1 + np.exp(-w * x)) + 0.05
    F = G + 0.1
    assert pb.lemma_c13(F, G, "printed") == pytest.approx(0.01 - 0.1, abs=1e-12)
    assert pb.lemma_c13(F, G, "corrected") == pytest.approx(0.0, abs=1e-12)  # tight: 0.1^2 = 0.1^2
    # every small shift c: LHS c > RHS c^2
    for c in (0.3, 0.05, 1e-3):
        assert pb.lemma_c13(G + c, G, "printed") < 0 <= pb.lemma_c13(G + c, G, "corrected") + 1e-15


@given(st.integers(1, 12), st.integers(1, 15), st.integers(0, 10_000))
def test_lemma_c13_corrected_holds_on_random_grids(n_w, n, seed):
    rng = np.random.default_rng(seed)
    F, G = rng.uniform(size=(n_w, n)), rng.uniform(size=(n_w, n))
    assert pb.lemma_c13(F, G, "corrected") >= -1e-12
    assert pb.lemma_c13(G, F, "corrected") >= -1e-12


# ---------------------------------------------------------------- Lemma C.1, C.7, C.8, C.9 on instances


def test_lemma_c1_on_a_finite_class():
    rng = np.random.default_rng(3)
    N, Z, n_h = 4, 6, 30
    P = rng.dirichlet(np.ones(Z), size=N)
    base = rng.uniform(0.3, 0.7, size=(N, Z))
    H = np.clip(base[None] + 0.25 * rng.normal(size=(n_h, N, Z)), 0, 1)  # many near-equivalent hypotheses
    r = pb.lemma_c1_experiment(H, P, m=3, delta=0.1, n_trials=300, n_rademacher=300, seed=1)
    assert np.all(r["excess"] >= -1e-12)
    assert r["violation_rate"] <= 0.1
    assert np.quantile(r["excess"], 0.9) >= 0.05 * r["bound"]  # the instance is not trivially far below


def test_lemma_c7_on_instances():
    r = pb.lemma_c7_experiment(20, 5, 4, 2, n_trials=30, seed=0)
    assert r["violation_rate"] <= 0.025 and r["population_se"] < 0.05 * r["deviation"].max()


def test_lemma_c8_increments_and_conclusion():
    for seed, (N, m, D, K) in enumerate([(5, 4, 3, 2), (3, 6, 4, 3)]):
        r = pb.lemma_c8_check(N, m, D, K, seed=seed)
        assert r["increment_margin"] >= -1e-12  # eq. 18 summed over users, every pair of the finite set
        assert r["lhs"] <= r["rhs_proof"] + 3 * (r["lhs_se"] + r["rhs_proof_se"])
        assert r["rhs_printed"] == pytest.approx(r["rhs_proof"] * sqrt(N), rel=1e-9)


@settings(max_examples=6)
@given(st.integers(1, 30), st.integers(2, 8), st.integers(2, 4), st.integers(0, 1000))
def test_lemma_c9_against_monte_carlo(m, D, K, seed):
    if K > D:
        K = D
    r = pb.lemma_c9_gap(m, D, K, n_users=6000, seed=seed)
    assert r["gap"] <= r["bound"] + 3 * r["stderr"]
    assert r["bound"] <= 25 * max(r["gap"], 1e-12)  # measured ratio 4-11: a 0.1x bound fails


@pytest.mark.parametrize("theorem", ["thm1", "thm2", "prop_c4"])
def test_theorems_end_to_end_with_exact_erm(theorem):
    r = pb.affine_loss_experiment(theorem, 8, 10, 4, 2, delta=0.05, n_trials=25, seed=2)
    assert np.all(r["excess"] >= -3 * r.get("new_user_se", 0.0) - 1e-12)
    assert r["violation_rate"] <= 0.05
    assert r["excess"].max() > 0


def test_thm1_exact_erm_against_brute_force_on_a_tiny_instance():
    # K = 1: the ERM prototype is zeta_v * sum s_i / ||sum s_i||; no feasible Q does better empirically
    rng = np.random.default_rng(0)
    s = rng.normal(size=(5, 3))
    val, _, _, groups = pb.max_partition_norm(s, 1)
    q = s.sum(0) / np.linalg.norm(s.sum(0))
    assert val == pytest.approx(float(s.sum(0) @ q))
    for _ in range(200):
        v = pb.sample_sphere((), 3, rng)
        assert float(s.sum(0) @ v) <= val + 1e-12


# ---------------------------------------------------------------- Remark C.5 and sample complexity


def test_remark_c5_rate_reads_sqrt_d_over_m():
    for D in (4, 16, 64):
        for N in (D * D, 10 * D * D, 10**6):
            r = pb.remark_c5_rates(D, N, 10)
            assert 6 - 1e-12 <= r["ratio_to_corrected"] <= 6 * sqrt(2) + 1e-12
    # the printed sqrt(D/N): the ratio grows without bound in N and vanishes in m
    assert pb.remark_c5_rates(8, 10**8, 10)["ratio_to_printed"] > 100 * pb.remark_c5_rates(8, 64, 10)["ratio_to_printed"]
    assert pb.remark_c5_rates(8, 64, 10**8)["ratio_to_printed"] < 0.01


@given(st.sampled_from(["thm1", "c4", "c9"]), st.floats(0.05, 2.0), st.integers(1, 7), st.integers(8, 64))
def test_sample_complexity_is_the_smallest_m(which, eps, K, D):
    bound, params = {"thm1": (pb.thm1_bound, dict(N=5000, D=D, K=K)),
                     "c4": (pb.prop_c4_bound, dict(N=5000, D=D)),
                     "c9": (pb.lemma_c9_bound, dict(D=D, K=K))}[which]
    m = pb.sample_complexity(bound, eps, **params)
    assert m >= 1 and bound(m=m, **params) <= eps
    if m > 1:
        assert bound(m=m - 1, **params) > eps


def test_per_user_sample_complexity_k_for_pal_d_for_canal_at_the_papers_scale():
    # zeta_M = D, zeta_v = sqrt(D) (sec. 4.1), N >> D^2
    def m_star(bound, D, K=None, N=10**7, eps=0.5, **kw):
        kw = dict(N=N, D=D, zeta_M=D, zeta_v=np.sqrt(D), **kw)
        if K is not None:
            kw["K"] = K
        return pb.sample_complexity(bound, eps, **kw)

    mk = [m_star(pb.thm1_bound, 32, K) for K in (2, 4, 8, 16)]
    assert all(1.8 <= b / a <= 2.05 for a, b in zip(mk, mk[1:]))  # Thm 1: O~(K)
    md = [m_star(pb.thm1_bound, D, 2) for D in (8, 16, 32)]
    assert md[-1] / md[0] < 1.1  # ... only logarithmic in D while N >> D^2
    mc = [m_star(pb.prop_c4_bound, D) for D in (8, 16, 32, 64)]
    assert all(1.9 <= b / a <= 2.1 for a, b in zip(mc, mc[1:]))  # Prop. C.4: O(D)
    # Thm 2's per-user term (Lemma C.9) at zeta_v = sqrt(D): 3L sqrt(K/m), independent of D
    m9 = [pb.sample_complexity(pb.lemma_c9_bound, 0.1, D=D, K=4, zeta_v=np.sqrt(D)) for D in (8, 64)]
    assert abs(m9[0] - m9[1]) <= 1 and m9[0] == pytest.approx(4 * (3 / 0.1) ** 2, abs=1)
    # the whole of Thm 2 does not decay in m: at N = 100 it never reaches 0.5
    assert pb.sample_complexity(pb.thm2_bound, 0.5, N=100, D=8, K=2) == -1


def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="S"):
        pb.psd_ball_support(np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="K"):
        pb.max_partition_norm(np.ones((3, 2)), 0)
    with pytest.raises(ValueError, match="N"):
        pb.rademacher_pal_a(0, 2, 2, 2)
    with pytest.raises(ValueError, match="delta"):
        pb.thm1_bound(10, 10, 3, 2, delta=1.5)
    with pytest.raises(ValueError, match="form"):
        pb.thm1_bound(10, 10, 3, 2, form="inside")
    with pytest.raises(ValueError, match="zeta_v"):
        pb.prop_c4_bound(10, 10, 3, zeta_v=-1)
    with pytest.raises(ValueError, match="eps"):
        pb.sample_complexity(pb.thm2_bound, 0.0, N=1, D=2, K=2)
    with pytest.raises(ValueError, match="F"):
        pb.lemma_c13(np.full((2, 2), 2.0), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="F"):
        pb.lemma_c13(np.zeros((2, 2)), np.full((2, 2), 1.5))
    with pytest.raises(ValueError, match="G"):
        pb.lemma_c13(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="B"):
        pb.lemma_c11_check(np.ones((2, 2, 2)), B=[0.1, 0.1])
    with pytest.raises(ValueError, match="d1"):
        pb.lemma_c10_bound(1.0, 1.0, 0, 3)
    with pytest.raises(ValueError, match="theorem"):
        pb.affine_loss_experiment("thm3", 4, 2, 3, 2)
    with pytest.raises(ValueError, match="P"):
        pb.lemma_c1_experiment(np.zeros((2, 2, 3)), np.ones((2, 3)), m=2)
    with pytest.raises(ValueError, match="C_Y"):
        pb.sudakov_fernique_check(np.eye(2), np.eye(3))



@pytest.mark.parametrize("N, m", [(2, 1), (3, 4)])
def test_thm1_exact_excess_against_the_closed_form_with_one_type(N, m):
    # K = 1: every user has the one prototype p, the ERM prototype is Q^ = zeta_v S / ||S|| (S = sum_i s_i)
    # and the optimum zeta_v p, so by the true risk 1/2 - (1/(2cND)) sum_i u_i^T Q w_i the excess is
    # zeta_v (1 - p^T S / ||S||) / (2cD).  The draws are replayed in affine_loss_experiment's order.
    D, zeta_M, zeta_v, seed, n_trials = 3, 0.7, 1.3, 4, 6
    got = pb.affine_loss_experiment("thm1", N, m, D, 1, zeta_M=zeta_M, zeta_v=zeta_v, n_trials=n_trials,
                                    seed=seed)["excess"]
    c = sqrt(2) * zeta_M + 2 * zeta_v
    rng = as_generator(seed)  # = default_rng(seed), the experiment's generator
    want = []
    for _ in range(n_trials):
        p = pb.sample_sphere((1,), D, rng)[0]
        rng.integers(0, 1, size=N)
        x, xp = pb.sample_sphere((N, m), D, rng), pb.sample_sphere((N, m), D, rng)
        d = x - xp
        y = np.where(rng.uniform(size=(N, m)) < 0.5 + (d @ p) / 4, 1.0, -1.0)
        S = np.einsum("ij,ijd->d", y, d)
        want.append(zeta_v * (1 - p @ S / np.linalg.norm(S)) / (2 * c * D))
    assert np.all(got > 0)
    np.testing.assert_allclose(got, want, rtol=1e-10)
