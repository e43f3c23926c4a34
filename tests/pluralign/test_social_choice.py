"""Axioms of the power-mean family, leximin and Borda (seed 003; pluralign.aggregation.social_choice):
property tests where a member satisfies an axiom, explicit counterexamples where it fails."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import gmean, hmean

from pluralign.aggregation.social_choice import (
    aggregate_rewards,
    borda_scores,
    leximin_compare,
    leximin_order,
    log_power_mean,
    power_mean,
    social_argmax,
)

FINITE_ALPHAS = [1.0, 2.0, 0.5, 0.0, -0.5, -1.0, -3.0]
ALL_ALPHAS = FINITE_ALPHAS + [-np.inf, np.inf]

pos = st.floats(0.1, 10.0, allow_nan=False, allow_infinity=False)
profiles = st.integers(2, 6).flatmap(lambda n: arrays(float, n, elements=pos))
matrices = st.tuples(st.integers(2, 5), st.integers(2, 5)).flatmap(lambda s: arrays(float, s, elements=pos))


# --------------------------------------------------------------------------- closed forms and limits
def test_named_members_are_the_classical_means():
    u = np.array([1.0, 2.0, 4.0, 8.0])
    assert power_mean(u, "utilitarian") == pytest.approx(u.mean(), rel=1e-14)
    assert power_mean(u, "nash") == pytest.approx(gmean(u), rel=1e-14)
    assert power_mean(u, -1.0) == pytest.approx(hmean(u), rel=1e-14)
    assert power_mean(u, 2.0) == pytest.approx(np.sqrt(np.mean(u**2)), rel=1e-14)
    assert power_mean(u, "maximin") == 1.0 and power_mean(u, np.inf) == 8.0


def test_nash_agrees_with_the_welfare_module():
    from pluralign.welfare import nash_welfare

    u = np.random.default_rng(0).uniform(0.1, 3, size=(4, 7))
    np.testing.assert_allclose(power_mean(u, 0.0), nash_welfare(u), rtol=1e-13)


@settings(max_examples=15)
@given(profiles)
def test_limits_alpha_to_zero_and_minus_infinity(u):
    assert power_mean(u, 1e-9) == pytest.approx(gmean(u), rel=1e-6)
    n = u.size
    m = power_mean(u, -1000.0)
    # (sum w u^a)^(1/a) <= (w_min u_min^a)^(1/a) = w_min^(1/a) u_min for a < 0
    assert u.min() - 1e-12 <= m <= u.min() * n ** (1 / 1000) * (1 + 1e-12)


@settings(max_examples=15)
@given(profiles)
def test_power_mean_inequality_monotone_in_alpha(u):
    vals = [power_mean(u, a) for a in [-np.inf, -3, -1, -0.5, 0, 0.5, 1, 2, np.inf]]
    assert np.all(np.diff(vals) >= -1e-12 * max(vals))


def test_nash_in_log_space_survives_underflow():
    u = np.full(5000, 1e-200)  # the product underflows to 0 in float64
    assert np.prod(u) == 0.0
    assert power_mean(u, 0.0) == pytest.approx(1e-200, rel=1e-10)
    assert log_power_mean(u, -2.0) == pytest.approx(np.log(1e-200), rel=1e-12)


def test_zero_utility_collapses_nash_and_negative_alpha():
    u = np.array([0.0, 2.0, 3.0])
    assert power_mean(u, 0.0) == 0.0 and power_mean(u, -1.0) == 0.0
    assert power_mean(u, 1.0) == pytest.approx(5 / 3)
    assert power_mean(u, 2.0) == pytest.approx(np.sqrt(13 / 3))


@settings(max_examples=15)
@given(profiles, st.sampled_from(FINITE_ALPHAS))
def test_integer_weights_equal_replicated_users(u, alpha):
    k = np.arange(1, u.size + 1)
    assert power_mean(u, alpha, weights=k / k.sum()) == pytest.approx(power_mean(np.repeat(u, k), alpha), rel=1e-10)


# --------------------------------------------------------------------------- axioms
@settings(max_examples=15)
@given(matrices, st.randoms(use_true_random=False))
def test_anonymity(R, rnd):
    perm = np.array(rnd.sample(range(R.shape[0]), R.shape[0]))
    for a in ALL_ALPHAS:
        np.testing.assert_allclose(aggregate_rewards(R[perm], a), aggregate_rewards(R, a), rtol=1e-12)
    np.testing.assert_array_equal(leximin_order(R[perm]), leximin_order(R))
    np.testing.assert_array_equal(borda_scores(R[perm]), borda_scores(R))


@settings(max_examples=15)
@given(pos, st.integers(1, 6))
def test_unanimity(c, n):
    for a in ALL_ALPHAS:
        assert power_mean(np.full(n, c), a) == pytest.approx(c, rel=1e-12)


@settings(max_examples=15)
@given(profiles, st.data())
def test_strong_pareto_finite_alpha_and_leximin(v, data):
    k = data.draw(st.integers(0, v.size - 1))
    up = data.draw(arrays(float, v.size, elements=st.floats(0.0, 2.0)))
    up[k] = max(up[k], 1e-3)  # a strict improvement for user k, weak for everyone else
    u = v + up
    for a in FINITE_ALPHAS:
        assert power_mean(u, a) > power_mean(v, a)
    assert leximin_compare(u, v) == 1
    assert power_mean(u, -np.inf) >= power_mean(v, -np.inf)  # only weak Pareto for the minimum


def test_maximin_fails_strong_pareto_counterexample():
    u, v = np.array([1.0, 5.0]), np.array([1.0, 3.0])  # u Pareto-dominates v strictly for user 1
    assert power_mean(u, "maximin") == power_mean(v, "maximin")
    assert leximin_compare(u, v) == 1  # leximin repairs it


@settings(max_examples=15)
@given(profiles, st.data())
def test_weak_monotonicity(u, data):
    k = data.draw(st.integers(0, u.size - 1))
    w = u.copy()
    w[k] += data.draw(st.floats(0.0, 5.0))
    for a in ALL_ALPHAS:
        assert power_mean(w, a) >= power_mean(u, a) * (1 - 1e-12)


@settings(max_examples=15)
@given(profiles, st.floats(0.01, 100.0))
def test_common_scale_invariance_homogeneity(u, c):
    for a in ALL_ALPHAS:
        assert power_mean(c * u, a) == pytest.approx(c * power_mean(u, a), rel=1e-10)


@settings(max_examples=15)
@given(matrices, st.data())
def test_nash_ordering_invariant_to_per_user_rescaling(R, data):
    D = data.draw(arrays(float, R.shape[0], elements=st.floats(0.01, 100.0)))
    s, sD = aggregate_rewards(R, 0.0), aggregate_rewards(D[:, None] * R, 0.0)
    # every item's Nash value is multiplied by the same constant gmean(D): the ordering is unchanged
    np.testing.assert_allclose(sD / s, gmean(D), rtol=1e-10)


def test_utilitarian_and_maximin_fail_per_user_rescaling_counterexamples():
    R = np.array([[1.0, 0.0], [0.0, 2.0]])  # users x items
    D = np.array([[10.0], [1.0]])
    assert social_argmax(R, "utilitarian") == 1 and social_argmax(D * R, "utilitarian") == 0
    R = np.array([[1.0, 2.0], [3.0, 2.0]])
    D = np.array([[3.0], [1.0]])
    assert social_argmax(R, "maximin") == 1 and social_argmax(D * R, "maximin") == 0


@settings(max_examples=15)
@given(matrices, st.data())
def test_utilitarian_invariant_to_per_user_shifts(R, data):
    c = data.draw(arrays(float, R.shape[0], elements=st.floats(-5.0, 5.0)))
    s, sc = aggregate_rewards(R, 1.0), aggregate_rewards(R + c[:, None], 1.0)
    np.testing.assert_allclose(sc - s, c.mean(), atol=1e-12)


def test_nash_fails_per_user_shift_counterexample():
    R = np.array([[1.0, 4.0], [9.0, 2.0]])  # Nash: sqrt(9) = 3 > sqrt(8)
    assert social_argmax(R, "nash") == 0
    assert social_argmax(R + np.array([[0.0], [10.0]]), "nash") == 1  # sqrt(19) < sqrt(48)


@settings(max_examples=15)
@given(matrices, st.data())
def test_independence_of_unconcerned_users(R, data):
    """A user indifferent between items a and b does not affect how a and b compare, whatever its level
    (finite alpha and leximin)."""
    k = data.draw(st.integers(0, R.shape[0] - 1))
    level = data.draw(pos)
    R = R.copy()
    R[k, 1] = R[k, 0]
    R2 = R.copy()
    R2[k, :2] = level
    for a in FINITE_ALPHAS:
        d1 = aggregate_rewards(R[:, :2], a)
        d2 = aggregate_rewards(R2[:, :2], a)
        if abs(d1[0] - d1[1]) > 1e-9 * d1.max():
            assert np.sign(d2[0] - d2[1]) == np.sign(d1[0] - d1[1])
    assert leximin_compare(R[:, 0], R[:, 1]) == leximin_compare(R2[:, 0], R2[:, 1])


def test_maximin_fails_independence_of_unconcerned_users_counterexample():
    R = np.array([[2.0, 3.0], [1.0, 1.0]])  # user 1 is indifferent between the two items
    s = aggregate_rewards(R, "maximin")
    assert s[0] == s[1]  # tie, decided by the unconcerned user
    R2 = R.copy()
    R2[1] = 5.0
    s2 = aggregate_rewards(R2, "maximin")
    assert s2[1] > s2[0]


@settings(max_examples=15)
@given(profiles, st.data())
def test_pigou_dalton_transfers(u, data):
    i, j = int(np.argmin(u)), int(np.argmax(u))
    assume(u[j] - u[i] >= 1e-6)  # a transfer needs a richer and a poorer user
    delta = data.draw(st.floats(0.01, 0.49)) * (u[j] - u[i])
    v = u.copy()
    v[i] += delta
    v[j] -= delta
    for a in [0.5, 0.0, -1.0, -3.0]:
        assert power_mean(v, a) > power_mean(u, a)
    assert power_mean(v, 1.0) == pytest.approx(power_mean(u, 1.0), rel=1e-12)
    assert power_mean(v, 2.0) < power_mean(u, 2.0)  # alpha > 1 fails the principle
    # maximin only weakly: the minimum never falls, and a transfer between two users above it (6 -> 2)
    # leaves it unchanged
    assert power_mean(v, "maximin") >= power_mean(u, "maximin")
    assert power_mean(np.array([1.0, 3.0, 5.0]), "maximin") == power_mean(np.array([1.0, 2.0, 6.0]), "maximin")
    assert leximin_compare(v, u) == 1


# --------------------------------------------------------------------------- leximin and Borda
@settings(max_examples=15)
@given(st.tuples(st.integers(1, 4), st.integers(2, 6)).flatmap(
    lambda s: arrays(float, s, elements=st.sampled_from([0.0, 1.0, 2.0, 3.0]))))
def test_leximin_order_agrees_with_pairwise_comparisons(R):
    order = leximin_order(R)
    assert sorted(order) == list(range(R.shape[1]))
    for x, y in zip(order[:-1], order[1:]):
        c = leximin_compare(R[:, x], R[:, y])
        assert c == 1 or (c == 0 and x < y)


def test_borda_fails_independence_of_irrelevant_alternatives_counterexample():
    # 3 users a > b > c, 2 users b > c > a (utilities are the rank points)
    R = np.array([[2, 1, 0]] * 3 + [[0, 2, 1]] * 2, dtype=float)
    s = borda_scores(R)
    assert s[1] > s[0]  # with c on the ballot, b beats a (7 vs 6)
    s2 = borda_scores(R[:, :2])
    assert s2[0] > s2[1]  # without c, a beats b (3 vs 2)
    # the cardinal power means score each item on its own column: unaffected by removing c
    for a in FINITE_ALPHAS:
        np.testing.assert_allclose(aggregate_rewards(R[:, :2] + 1, a), aggregate_rewards(R + 1, a)[:2])


def test_borda_counts_with_ties():
    R = np.array([[1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(borda_scores(R), [1.5, 1.5, 0.0])


# --------------------------------------------------------------------------- validation
def test_bad_input_raises_value_error_naming_the_field():
    with pytest.raises(ValueError, match="rewards"):
        power_mean([-1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match="rewards"):
        power_mean([np.nan, 2.0], 1.0)
    with pytest.raises(ValueError, match="alpha"):
        power_mean([1.0, 2.0], float("nan"))
    with pytest.raises(ValueError, match="alpha"):
        power_mean([1.0, 2.0], "dictator")
    with pytest.raises(ValueError, match="weights"):
        power_mean([1.0, 2.0], 1.0, weights=[1.0])
    with pytest.raises(ValueError, match="weights"):
        power_mean([1.0, 2.0], 1.0, weights=[-1.0, 2.0])
    with pytest.raises(ValueError, match="R"):
        aggregate_rewards([1.0, 2.0], 1.0)
    assert power_mean([-1.0, 2.0], 1.0) == 0.5  # utilitarian takes any real rewards
    assert power_mean([-1.0, 2.0], 0.0, baseline=-2.0) == pytest.approx(2.0)  # gmean(1, 4)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 5)])
def test_log_power_mean_at_infinite_alpha_is_the_log_max_and_min_over_the_users_axis(shape):
    u = np.random.default_rng(1).uniform(0.5, 4.0, size=shape)
    np.testing.assert_allclose(log_power_mean(u, np.inf), np.log(u.max(axis=-1)), rtol=1e-13)
    np.testing.assert_allclose(log_power_mean(u, -np.inf), np.log(u.min(axis=-1)), rtol=1e-13)
    np.testing.assert_allclose(log_power_mean(u, "maximin"), np.log(u.min(axis=-1)), rtol=1e-13)
    np.testing.assert_allclose(log_power_mean(np.moveaxis(u, -1, 0), np.inf, axis=0), np.log(u.max(axis=-1)),
                               rtol=1e-13)


# --------------------------------------------------------------------------- the table's remaining cells
def _prefers_first(R, rule) -> int:
    """+1 / -1: ``rule`` strictly ranks item 0 above / below item 1 of the (users, 2) matrix R (0: a tie)."""
    if rule == "leximin":
        return leximin_compare(R[:, 0], R[:, 1])
    s = aggregate_rewards(R, rule)
    return 0 if abs(s[0] - s[1]) < 1e-9 * max(abs(s).max(), 1.0) else int(np.sign(s[0] - s[1]))


@pytest.mark.parametrize("rule, R, D", [
    (0.5, [[5.0, 3.0], [2.0, 5.0]], [3.0, 1.0]),
    (-1.0, [[1.0, 3.0], [2.0, 1.0]], [4.0, 1.0]),
    ("leximin", [[4.0, 1.0], [2.0, 4.0]], [4.0, 1.0]),
])
def test_per_user_rescaling_counterexamples_power_means_and_leximin(rule, R, D):
    """The 'x' of per-user scale invariance for alpha in (-inf, 1) \\ {0} and leximin: rescaling one user's
    utilities reverses a strict choice."""
    R = np.asarray(R)
    before, after = _prefers_first(R, rule), _prefers_first(np.asarray(D)[:, None] * R, rule)
    assert before != 0 and after == -before


@pytest.mark.parametrize("rule, R, c", [
    (0.5, [[4.0, 5.0], [4.0, 3.0]], [0.0, 5.0]),
    (-1.0, [[6.0, 3.0], [2.0, 5.0]], [0.0, 2.0]),
    ("maximin", [[3.0, 4.0], [4.0, 2.0]], [0.0, 5.0]),
    ("leximin", [[3.0, 5.0], [2.0, 1.0]], [0.0, 8.0]),
])
def test_per_user_shift_counterexamples(rule, R, c):
    """The 'x' of per-user shift invariance for alpha in (-inf, 1) \\ {0}, maximin and leximin."""
    R = np.asarray(R)
    before, after = _prefers_first(R, rule), _prefers_first(R + np.asarray(c)[:, None], rule)
    assert before != 0 and after == -before


@settings(max_examples=15)
@given(profiles, profiles, st.floats(0.01, 100.0), st.data())
def test_leximin_common_scale_invariance_and_weak_monotonicity(u, v, c, data):
    n = min(u.size, v.size)
    u, v = u[:n], v[:n]
    assert leximin_compare(c * u, c * v) == leximin_compare(u, v)
    k = data.draw(st.integers(0, n - 1))
    w = u.copy()
    w[k] += data.draw(st.floats(0.0, 5.0))
    assert leximin_compare(w, u) >= 0  # raising one user's utility never makes the profile worse


@settings(max_examples=15)
@given(matrices, st.data())
def test_borda_is_pareto(R, data):
    """If every user strictly prefers item a to item b, Borda ranks a strictly above b."""
    a, b = 0, 1
    R = R.copy()
    R[:, a] = np.maximum(R[:, a], R[:, b]) + data.draw(st.floats(0.01, 1.0))
    s = borda_scores(R)
    assert s[a] > s[b]
