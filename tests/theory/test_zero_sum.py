"""Seed 001 App. C (eq. 39, Algorithm 4): the MMRA zero-sum game, LP vs optimistic Hedge."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.theory.zero_sum import (
    ZeroSumSolution,
    convergence_curve,
    duality_gap,
    hedge,
    min_max_regret,
    optimal_weight_ranges,
    optimistic_hedge,
    alg4_gap_bound,
    regret_matrix,
    solve_games,
    solve_lp,
)


@st.composite
def reward_matrices(draw, k_min=2, k_max=12):
    K = draw(st.integers(k_min, k_max))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]))
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=(K, K))


def _is_simplex(x, atol=1e-9):
    return np.all(x >= -atol) and abs(x.sum() - 1) <= atol


def _value_two_columns(R):
    """Exact min over w in [0,1] of max_i (w R[i,0] + (1-w) R[i,1]): the max of lines is convex and
    piecewise linear, so its minimum sits at an endpoint or at a crossing of two lines."""
    a, b = R[:, 0], R[:, 1]
    cand = [0.0, 1.0]
    for i, j in itertools.combinations(range(R.shape[0]), 2):
        den = (a[i] - b[i]) - (a[j] - b[j])
        if den != 0:
            t = (b[j] - b[i]) / den
            if 0 <= t <= 1:
                cand.append(t)
    return min(float(np.max(t * a + (1 - t) * b)) for t in cand)


def test_regret_matrix_layout():
    L = np.array([[1.0, 0.5], [0.2, 2.0]])
    R = regret_matrix(L)
    assert R.shape == (3, 2)
    np.testing.assert_array_equal(R[0], 0.0)
    np.testing.assert_allclose(R[1:], [[0.0, 0.5], [1.8, 0.0]])


@given(reward_matrices(), st.integers(0, 2**32 - 1))
def test_regret_matrix_ignores_per_group_reward_shifts(L, seed):
    # rewards are identified only up to a per-group constant (log-partition); regrets must not see it
    c = np.random.default_rng(seed).normal(size=L.shape[0]) * 5
    np.testing.assert_allclose(regret_matrix(L + c[:, None]), regret_matrix(L), atol=1e-9)


@given(reward_matrices())
def test_lp_certificate_is_an_optimality_proof(L):
    R = regret_matrix(L)
    sol = solve_lp(R)
    assert isinstance(sol, ZeroSumSolution) and sol.method == "lp"
    assert _is_simplex(sol.w) and _is_simplex(sol.p)
    gap, upper, lower = duality_gap(R, sol.w, sol.p)
    # lower <= value <= upper for any strategies, so a zero gap proves optimality of both
    assert gap <= 1e-8 * max(1.0, np.abs(R).max())
    assert sol.value == pytest.approx(upper, abs=1e-12)


@given(st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_lp_matches_exact_two_policy_value(seed, m):
    R = np.random.default_rng(seed).normal(size=(m, 2))
    assert solve_lp(R).value == pytest.approx(_value_two_columns(R), abs=1e-9)


@given(reward_matrices())
def test_value_bounds_zero_row_and_pure_strategies(L):
    R = regret_matrix(L)
    v = solve_lp(R).value
    assert v >= -1e-12  # the adversary can always pick the null row z0
    assert v <= np.min(np.max(R, axis=0)) + 1e-9  # no worse than the best pure policy
    assert v >= np.max(np.min(R, axis=1)) - 1e-9  # no better than the adversary's best pure row


@settings(max_examples=25)
@given(reward_matrices())
def test_optimistic_hedge_agrees_with_lp(L):
    R = regret_matrix(L)
    tol = 1e-3 * max(np.abs(R).max(), 1e-12)
    oh = optimistic_hedge(R, tol=tol)
    lp = solve_lp(R)
    assert oh.converged and oh.gap <= tol
    assert _is_simplex(oh.w) and _is_simplex(oh.p)
    assert lp.value - 1e-9 <= oh.value <= lp.value + tol + 1e-9
    assert oh.lower <= lp.value + 1e-9


@given(reward_matrices(), st.integers(0, 2**32 - 1))
def test_invariance_to_permuting_groups_and_policies(L, seed):
    rng = np.random.default_rng(seed)
    K = L.shape[0]
    sig = rng.permutation(K)  # relabel types: the same permutation on groups and their policies
    R = regret_matrix(L)
    base = solve_lp(R)
    # permuting groups (rows 1..K) only
    rows = np.concatenate([[0], 1 + rng.permutation(K)])
    R_rows = R[rows]
    sol_rows = solve_lp(R_rows)
    assert sol_rows.value == pytest.approx(base.value, abs=1e-9)
    assert duality_gap(R_rows, base.w, base.p[rows])[0] <= 1e-8
    # permuting policies (columns) only
    cols = rng.permutation(K)
    R_cols = R[:, cols]
    assert solve_lp(R_cols).value == pytest.approx(base.value, abs=1e-9)
    assert duality_gap(R_cols, base.w[cols], base.p)[0] <= 1e-8
    # relabelling the types in L
    L_sig = L[np.ix_(sig, sig)]
    assert solve_lp(regret_matrix(L_sig)).value == pytest.approx(base.value, abs=1e-9)


@settings(max_examples=25)
@given(reward_matrices(k_min=3), st.integers(0, 2**32 - 1))
def test_dominated_policy_gets_zero_weight(L, seed):
    rng = np.random.default_rng(seed)
    R = regret_matrix(L)
    K = R.shape[1]
    j, jp = rng.choice(K, size=2, replace=False)
    delta = rng.uniform(0.5, 1.5, size=K) * max(np.abs(R).max(), 1.0)
    R[1:, j] = R[1:, jp] + delta  # policy j has strictly larger regret than jp for every group
    R[1:, :] += 1e-3 * max(np.abs(R).max(), 1.0) - np.min(R[1:, :])  # all regrets > 0: value > 0
    lp = solve_lp(R)
    assert lp.value > 0
    assert lp.w[j] <= 1e-9
    tol = 1e-3 * np.abs(R).max()
    oh = optimistic_hedge(R, tol=tol)
    # any mixture with weight a on j loses at least a * min(delta) against the optimum
    assert oh.w[j] <= oh.gap / delta.min() + 1e-12


def _alg4_literal(R, T, eta):
    """Seed 001 Algorithm 4, written out as printed: w_t ∝ w_{t-1} exp{-eta (2 R^T p_{t-1} - R^T p_{t-2})},
    p_t ∝ p_{t-1} exp{eta (2 R w_{t-1} - R w_{t-2})}, uniform w_0, p_0, terms with index -1 taken as 0,
    and the returned average (1/T) sum_{t=1}^T w_t (and p)."""
    m, K = R.shape
    w, p = [np.ones(K) / K], [np.ones(m) / m]
    for t in range(1, T + 1):
        l1, l2 = R.T @ p[t - 1], (R.T @ p[t - 2] if t >= 2 else np.zeros(K))
        g1, g2 = R @ w[t - 1], (R @ w[t - 2] if t >= 2 else np.zeros(m))
        wn = w[t - 1] * np.exp(-eta * (2 * l1 - l2))
        pn = p[t - 1] * np.exp(eta * (2 * g1 - g2))
        w.append(wn / wn.sum())
        p.append(pn / pn.sum())
    return np.mean(w[1:], axis=0), np.mean(p[1:], axis=0)


@pytest.mark.parametrize("seed,K,eta,T", [(3, 5, 0.05, 400), (4, 2, 0.5, 37), (5, 8, 0.01, 250)])
def test_optimistic_hedge_is_algorithm_4_as_printed(seed, K, eta, T):
    R = regret_matrix(np.random.default_rng(seed).normal(size=(K, K)))
    w_ref, p_ref = _alg4_literal(R, T, eta)
    ours = optimistic_hedge(R, tol=1e-300, max_iter=T, eta=eta)
    assert ours.iterations == T and not ours.converged
    np.testing.assert_allclose(ours.w, w_ref, atol=1e-12)
    np.testing.assert_allclose(ours.p, p_ref, atol=1e-12)
    assert ours.gap == pytest.approx(duality_gap(R, w_ref, p_ref)[0], abs=1e-12)


@settings(max_examples=15)
@given(reward_matrices(), st.sampled_from([1.0, 0.5, 0.1]), st.floats(-3, 3))
def test_alg4_rate_bound_holds_and_is_not_loose(L, frac, log_scale):
    R = regret_matrix(L * 10.0**log_scale)
    eta = frac * 0.5 / np.abs(R).max()
    ratios = []
    for T in (1, 10, 100, 1000):
        gap = optimistic_hedge(R, tol=1e-300, max_iter=T, eta=eta).gap
        bound = alg4_gap_bound(R, T, eta)
        assert gap <= bound
        ratios.append(gap / bound)
    assert max(ratios) >= 0.02  # measured up to 0.59: a bound 50x too large is caught
    with pytest.raises(ValueError, match="eta"):
        alg4_gap_bound(R, 10, 1.01 / np.abs(R).max())


# ---------------------------------------------------------------- scale invariance and certification (item 11)


@settings(max_examples=40)
@given(reward_matrices(k_max=8), st.floats(-12, 12))
def test_lp_value_and_exploitability_are_scale_invariant(L, log_c):
    R = regret_matrix(L)
    c = 10.0**log_c
    base, scaled = solve_lp(R), solve_lp(c * R)
    s = np.abs(R).max()
    assert base.converged and scaled.converged
    assert abs(scaled.value / c - base.value) <= 1e-9 * s
    # exploitability of the returned mixture, measured on the unscaled game
    expl = np.max(R @ scaled.w) - base.value
    assert -1e-9 * s <= expl <= 1e-9 * s
    assert scaled.gap <= 1e-9 * c * s and base.gap <= 1e-9 * s


@settings(max_examples=25)
@given(st.integers(0, 2**32 - 1), st.lists(st.floats(-12, 12), min_size=1, max_size=4))
def test_solve_games_value_and_exploitability_are_scale_invariant(seed, log_cs):
    # the batched solver, on one game at several scales in one batch (plus unit-scale games of other
    # sizes, so the scaled copies share padded groups with different games)
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 9))
    R = regret_matrix(rng.normal(size=(K, K))) if seed % 2 else rng.normal(size=(int(rng.integers(2, 12)), K))
    cs = [10.0**c for c in log_cs]
    others = [rng.normal(size=(int(rng.integers(2, 12)), int(rng.integers(2, 12)))) for _ in range(3)]
    sols = solve_games([R] + [c * R for c in cs] + others)
    base, s = sols[0], np.abs(R).max()
    assert base.converged and base.gap <= 1e-9 * s
    v = solve_lp(R).value
    for c, sol in zip(cs, sols[1:]):
        assert sol.converged and sol.gap <= 1e-9 * c * s
        assert abs(sol.value / c - v) <= 1e-9 * s
        expl = np.max(R @ sol.w) - v  # exploitability of the returned mixture on the unscaled game
        assert -1e-9 * s <= expl <= 1e-9 * s
    with pytest.raises(ValueError, match="tol"):
        solve_games([R], tol=0)


def test_solve_games_crossover_returns_exact_vertices():
    # generic games (unique, non-degenerate optimum): the crossover lands on the exact vertex, so the
    # certified gap is at rounding level, far below the 1e-9 the interior-point iterate alone stops at
    rng = np.random.default_rng(5)
    games = [rng.normal(size=(int(rng.integers(2, 15)), int(rng.integers(2, 15)))) for _ in range(60)]
    sols = solve_games(games)
    exact = [sol.gap <= 1e-13 * np.abs(R).max() for R, sol in zip(games, sols)]
    assert all(sol.method == "ipm" for sol in sols)
    assert np.mean(exact) >= 0.9
    # and the IPM stops early because of it: fewer than 9 iterations on average (measured 6-7)
    assert np.mean([sol.iterations for sol in sols]) < 9
    # wide games (fewer rows than columns) are solved through -R^T: strategies come back the right way round
    for R, sol in zip(games, sols):
        assert sol.w.shape == (R.shape[1],) and sol.p.shape == (R.shape[0],)


def test_tiny_regret_tables_are_solved_as_well_as_unit_ones():
    # issue 14 item 11: the same game at scales 1, 1e-8, 1e-9 (MMRA tables of nearly identical policies)
    R = regret_matrix(np.random.default_rng(11).normal(size=(6, 6)))
    v = solve_lp(R).value
    for c in (1e-8, 1e-9, 1e-12):
        sol = solve_lp(c * R)
        assert sol.converged and abs(sol.value / c - v) <= 1e-12 * np.abs(R).max()
        assert (np.max(R @ sol.w) - v) / np.abs(R).max() <= 1e-12


def test_an_uncertified_game_reports_converged_false(monkeypatch):
    R = regret_matrix(np.random.default_rng(2).normal(size=(5, 5)))
    # a certificate no solver can meet
    sol = solve_lp(R, tol=1e-300)
    assert not sol.converged and sol.gap >= 0
    # a solver that returns a poor answer (HiGHS stand-in): the certificate catches it
    import pluralign.theory.zero_sum as zmod

    # pure strategies (the first column and row) as HiGHS's "optimum"
    monkeypatch.setattr(zmod, "_highs_max_sum", lambda A: (np.eye(A.shape[1])[0], np.eye(A.shape[0])[0]))
    monkeypatch.setattr(zmod, "_polish", lambda R, w, p: None)
    sol = zmod.solve_lp(R)
    assert not sol.converged and sol.gap > 1e-9 * np.abs(R).max()
    assert solve_games([R], max_iter=1)[0].converged is False  # not certified by 1 IPM step, LP fallback bad


@pytest.mark.parametrize("game", ["gaussian", "positive", "regret_matrix"])
def test_a_poor_adversary_from_the_primal_lp_is_recovered_by_the_adversarys_lp(monkeypatch, game):
    # HiGHS's duals of the first LP replaced by a pure row: the certificate fails, and the adversary's
    # own LP (the game -R^T) must restore a certified p (the support polish is switched off), whatever the
    # game's offset: a game with negative entries, one with only positive entries and seed 001's regret
    # matrix (eq. 39; each group's own policy best for it, so the value is > 0), whose row z_0 = 0 makes the
    # pure first row an adversary of value exactly 0
    import pluralign.theory.zero_sum as zmod

    rng = np.random.default_rng(4)
    R = {"gaussian": rng.normal(size=(6, 5)), "positive": 3.0 + rng.normal(size=(6, 5)),
         "regret_matrix": regret_matrix(rng.normal(size=(5, 5)) + 3.0 * np.eye(5))}[game]
    real = zmod._highs_max_sum
    calls = []

    def first_bad(A):
        x, y = real(A)
        calls.append(A.shape)
        return (x, np.eye(A.shape[0])[0]) if len(calls) == 1 else (x, y)

    monkeypatch.setattr(zmod, "_highs_max_sum", first_bad)
    monkeypatch.setattr(zmod, "_polish", lambda R, w, p: None)
    sol = zmod.solve_lp(R)
    assert calls == [(6, 5), (5, 6)]  # the second LP is the adversary's, on -R^T
    assert sol.converged and sol.gap <= 1e-9 * np.abs(R).max()
    assert sol.value == pytest.approx(solve_lp(R).value, abs=1e-9 * np.abs(R).max())


def test_highs_through_highspy_and_through_linprog_agree(monkeypatch):
    # solve_lp calls HiGHS through highspy when installed, else through scipy's linprog: same answers
    import pluralign.theory.zero_sum as zmod

    rng = np.random.default_rng(12)
    games = [rng.normal(size=(int(rng.integers(2, 9)), int(rng.integers(2, 9)))) for _ in range(10)]
    games += [regret_matrix(rng.normal(size=(5, 5))) * 1e-9]
    direct = [solve_lp(R) for R in games]
    monkeypatch.setattr(zmod, "_HighsSolver", None)
    via_linprog = [zmod.solve_lp(R) for R in games]
    for R, a, b in zip(games, direct, via_linprog):
        s = np.abs(R).max()
        assert a.converged and b.converged
        assert abs(a.value - b.value) <= 1e-12 * s and a.gap <= 1e-9 * s and b.gap <= 1e-9 * s


def test_lp_polishes_the_highs_vertex_to_machine_precision():
    # games whose entries span six orders of magnitude: HiGHS's vertex (feasibility tolerances 1e-10)
    # then certifies only to ~1e-13 max|R| on some of them; solve_lp re-solves the equalizing system on its
    # supports (the polish), which must bring those to rounding level, and no game may end above 1e-13
    import pluralign.theory.zero_sum as zmod

    rng = np.random.default_rng(7)
    games = [rng.normal(size=(m, K)) * 10.0 ** rng.uniform(-6, 0, size=(m, K))
             for m, K in rng.integers(2, 15, size=(300, 2))]
    raw = []
    for R in games:  # the certificate of HiGHS's own answer, before the polish
        s = np.abs(R).max()
        raw.append(zmod._certificate(R, *zmod._highs_max_sum(zmod._positive_game(R / s)))[2] / s)
    rough = np.flatnonzero(np.array(raw) > 1e-13)
    assert rough.size >= 1  # the polish has work to do here (2 of the 300 measured)
    gaps = np.array([solve_lp(R).gap / np.abs(R).max() for R in games])
    assert np.all(gaps[rough] <= 1e-15)
    assert np.all(gaps <= 1e-13)


def test_polish_solves_the_equalizing_system_on_the_supports():
    # the vertex on given supports: R[sp, sw] w = v 1, 1^T w = 1, and the same for p; both are optimal
    # when the supports are the equilibrium's. Unequal support sizes or a negative solution: None
    import pluralign.theory.zero_sum as zmod

    R = np.array([[3.0, -1.0, 0.5], [-2.0, 2.0, 0.0], [0.0, 0.0, -5.0]])
    sol = solve_lp(R)
    rough_w = sol.w + 1e-7 * (sol.w > 1e-9)  # same supports, off the vertex
    rough_p = sol.p + 1e-7 * (sol.p > 1e-9)
    w, p = zmod._polish(R, rough_w / rough_w.sum(), rough_p / rough_p.sum())
    gap = duality_gap(R, w, p)[0]
    assert abs(gap) <= 1e-15 * np.abs(R).max()
    np.testing.assert_allclose(w, sol.w, atol=1e-12)
    np.testing.assert_allclose(p, sol.p, atol=1e-12)
    assert zmod._polish(R, np.array([0.5, 0.5, 0.0]), np.array([1.0, 0.0, 0.0])) is None


def test_zero_game_is_solved_at_once_with_a_true_timing():
    # R = 0 (every policy equally good for every group): uniform strategies, value 0, certified; ``seconds``
    # is the solve's own wall time
    for R in (np.zeros((4, 3)), np.zeros((2, 5))):
        t0 = time.perf_counter()
        sol = solve_lp(R)
        elapsed = time.perf_counter() - t0
        assert sol.converged and sol.gap == 0.0 and sol.value == 0.0
        np.testing.assert_array_equal(sol.w, np.full(R.shape[1], 1.0 / R.shape[1]))
        np.testing.assert_array_equal(sol.p, np.full(R.shape[0], 1.0 / R.shape[0]))
        assert 0.0 <= sol.seconds <= elapsed
        assert solve_games([R])[0].value == 0.0


def test_convergence_curve_takes_one_or_more_horizons_and_rejects_an_empty_list():
    R = regret_matrix(np.random.default_rng(3).normal(size=(4, 4)))
    one = convergence_curve(R, [7])
    assert one.shape == (1,) and one[0] == optimistic_hedge(R, tol=1e-300, max_iter=7).gap
    two = convergence_curve(R, np.array([7, 20]))
    np.testing.assert_array_equal(two, [one[0], optimistic_hedge(R, tol=1e-300, max_iter=20).gap])
    for empty in ([], np.array([], dtype=int)):
        with pytest.raises(ValueError, match="Ts"):
            convergence_curve(R, empty)


def test_solve_games_agrees_with_the_lp_on_mixed_sizes():
    rng = np.random.default_rng(0)
    games = [rng.normal(size=(int(rng.integers(3, 21)), int(rng.integers(3, 31)))) for _ in range(40)]
    games += [regret_matrix(rng.normal(size=(k, k)) * 10.0 ** rng.uniform(-9, 3)) for k in (3, 7, 12)]
    sols = solve_games(games)
    assert len(sols) == len(games)
    for R, sol in zip(games, sols):
        s = np.abs(R).max()
        assert sol.converged and sol.gap <= 1e-9 * s and _is_simplex(sol.w) and _is_simplex(sol.p)
        assert sol.gap == pytest.approx(duality_gap(R, sol.w, sol.p)[0], abs=1e-15 * s)
        assert abs(sol.value - solve_lp(R).value) <= 1e-9 * s
    assert sum(s.method == "ipm" for s in sols) >= 0.9 * len(games)
    with pytest.raises(ValueError, match="Rs"):
        solve_games([])


def test_optimistic_hedge_converges_faster_than_hedge():
    rng = np.random.default_rng(7)
    Ts = np.array([100, 1000, 10000])
    for _ in range(2):
        R = regret_matrix(rng.normal(size=(6, 6)))
        g_opt = convergence_curve(R, Ts, "optimistic_hedge")
        g_h = convergence_curve(R, Ts, "hedge")
        assert g_opt[-1] < g_h[-1]
        assert g_h[-1] < g_h[0] and g_h[-1] <= 0.05 * np.abs(R).max()  # plain Hedge does converge
        # O(1/T): a 100x longer run shrinks the gap at least 20x; plain Hedge's O(1/sqrt T) does not
        assert g_opt[-1] <= g_opt[0] / 20
        assert g_h[-1] > g_h[0] / 50


def test_dispatcher_and_bad_inputs():
    R = regret_matrix(np.eye(3))
    for m in ("lp", "optimistic_hedge", "hedge"):
        assert min_max_regret(R, method=m, tol=1e-2).method == m
    with pytest.raises(ValueError, match="method"):
        min_max_regret(R, method="simplex")
    with pytest.raises(ValueError, match="L"):
        regret_matrix(np.ones((2, 3)))
    with pytest.raises(ValueError, match="L"):
        regret_matrix([[np.nan]])
    with pytest.raises(ValueError, match="R"):
        solve_lp(np.ones(3))
    with pytest.raises(ValueError, match="tol"):
        optimistic_hedge(R, tol=0)
    with pytest.raises(ValueError, match="eta"):
        optimistic_hedge(R, eta=-1)
    with pytest.raises(ValueError, match="max_iter"):
        hedge(R, max_iter=0)
    with pytest.raises(ValueError, match="w"):
        duality_gap(R, np.ones(2), np.ones(4) / 4)
    with pytest.raises(ValueError, match="Ts"):
        convergence_curve(R, [0])


# ---------------------------------------------------------------- last iterate of optimistic Hedge (beyond the seed)


@settings(max_examples=30)
@given(reward_matrices(k_max=6))
def test_last_iterate_certificate_is_honest(L):
    # whatever happens within the budget, the returned pair's reported gap is a true certificate
    R = regret_matrix(L)
    oh = optimistic_hedge(R, tol=1e-9, max_iter=5_000, iterate="last")
    v = solve_lp(R).value
    gap, upper, lower = duality_gap(R, oh.w, oh.p)
    assert _is_simplex(oh.w) and _is_simplex(oh.p)
    assert oh.gap == pytest.approx(max(gap, 0.0), abs=1e-12) and oh.value == pytest.approx(upper, abs=1e-12)
    assert lower - 1e-9 <= v <= upper + 1e-9
    assert oh.converged == (oh.gap <= 1e-9 + 1e-12)


def test_last_iterate_matches_unique_lp_weights():
    # generic games with a unique optimal mixture: the last iterate is certified to 1e-10 and its weights
    # equal the LP's to 1e-6 (measured 1e-8 or better); games with a flat optimal set are only checked
    # for the certificate, since any optimal w is then a correct answer
    n_unique = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        K = int(rng.integers(2, 7))
        R = regret_matrix(rng.normal(size=(K, K)))
        lp = solve_lp(R)
        oh = optimistic_hedge(R, tol=1e-10, max_iter=300_000, iterate="last")
        assert oh.converged and oh.gap <= 1e-10 and oh.value <= lp.value + 1e-10
        ranges = optimal_weight_ranges(R)
        assert np.all(ranges[:, 0] <= lp.w + 1e-7) and np.all(lp.w <= ranges[:, 1] + 1e-7)
        if np.all(ranges[:, 1] - ranges[:, 0] < 1e-7):
            n_unique += 1
            assert np.max(np.abs(oh.w - lp.w)) <= 1e-6
    assert n_unique >= 7  # 8 of these 10 seeded games have a unique optimum


def test_optimal_weight_ranges_flat_and_unique():
    # two identical policies: any split between them is optimal
    R = regret_matrix(np.array([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [-1.0, -1.0, 0.0]]))
    r = optimal_weight_ranges(R)
    assert r[0, 0] == pytest.approx(0.0, abs=1e-9) and r[0, 1] > 0.4
    # matching pennies: the unique optimum is (1/2, 1/2)
    r = optimal_weight_ranges(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    np.testing.assert_allclose(r, [[0.5, 0.5], [0.5, 0.5]], atol=1e-9)
    with pytest.raises(ValueError, match="slack"):
        optimal_weight_ranges(R, slack=-1)
    with pytest.raises(ValueError, match="iterate"):
        optimistic_hedge(R, iterate="best")
