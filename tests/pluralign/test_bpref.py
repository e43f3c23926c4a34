"""B-Pref teachers: each teacher, alone, changes labels exactly as seed 000 App. C.1 / Lee et al. 2021 say."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from pluralign.bpref import (
    LEVELS,
    PAIRWISE_PRESETS,
    GoodBadTeacher,
    PairwiseTeacher,
    make_teacher,
    myopic_weights,
)
from pluralign.choice import btl_loglik, choice_loglik
from pluralign.data import Choices, Ratings

M, T = 20000, 30


def _scores(seed=0, m=M):
    rng = np.random.default_rng(seed)
    level = rng.uniform(3, 10, size=(m, 1))
    return np.clip(level + rng.normal(0, 1.0, size=(m, T)), 0, 10)


def test_oracle_is_the_threshold_rule():
    s = _scores()
    lab, w, _ = make_teacher("oracle").label_arrays(s, np.random.default_rng(0))
    np.testing.assert_array_equal(lab, (s.mean(1) >= 7).astype(float))
    np.testing.assert_array_equal(w, 1.0)


@pytest.mark.parametrize("eps", [0.05, 0.2])
def test_mistake_flips_about_eps(eps):
    s = _scores(1)
    oracle = (s.mean(1) >= 7).astype(float)
    lab, w, _ = GoodBadTeacher("mistake", eps=eps).label_arrays(s, np.random.default_rng(1))
    flipped = lab != oracle
    assert np.all(lab[flipped] == 1 - oracle[flipped])
    assert abs(flipped.mean() - eps) < 4 * np.sqrt(eps * (1 - eps) / M)
    np.testing.assert_array_equal(w, 1.0)


@pytest.mark.parametrize("p", [0.1, 0.3])
def test_skip_zeroes_about_p_skip_and_keeps_labels(p):
    s = _scores(2)
    lab, w, _ = GoodBadTeacher("skip", p_skip=p).label_arrays(s, np.random.default_rng(2))
    assert set(np.unique(w)) <= {0.0, 1.0}
    assert abs((w == 0).mean() - p) < 4 * np.sqrt(p * (1 - p) / M)
    np.testing.assert_array_equal(lab, (s.mean(1) >= 7).astype(float))


@settings(max_examples=25)
@given(delta=st.floats(0.01, 3.0), seed=st.integers(0, 1000))
def test_equal_sets_exactly_half_inside_the_band(delta, seed):
    s = _scores(seed, 2000)
    S = s.mean(1)
    lab, _, _ = GoodBadTeacher("equal", delta=delta).label_arrays(s, np.random.default_rng(seed))
    inside = np.abs(S - 7) < delta
    assert np.all(lab[inside] == 0.5)
    np.testing.assert_array_equal(lab[~inside], (S[~inside] >= 7).astype(float))


@settings(max_examples=40)
@given(T_=st.integers(1, 200), gamma=st.floats(0.01, 1.0))
def test_myopic_weights_sum_to_one_and_favour_late_steps(T_, gamma):
    w = myopic_weights(T_, gamma)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(np.diff(w) >= -1e-15)
    if T_ > 1 and w[0] > 1e-250:
        np.testing.assert_allclose(w[:-1] / w[1:], gamma, rtol=1e-9)


def test_myopic_teacher_uses_late_steps():
    # early half bad, late half good: a myopic teacher says good, the oracle bad
    s = np.hstack([np.full((5, 15), 2.0), np.full((5, 15), 9.0)])
    lab, _, _ = GoodBadTeacher("myopic", gamma=0.8).label_arrays(s, np.random.default_rng(0))
    np.testing.assert_array_equal(lab, 1.0)
    lab, _, _ = make_teacher("oracle").label_arrays(s, np.random.default_rng(0))
    np.testing.assert_array_equal(lab, 0.0)
    w = myopic_weights(30, 0.9)
    s = _scores(3, 500)
    lab, _, _ = GoodBadTeacher("myopic", gamma=0.9).label_arrays(s, np.random.default_rng(0))
    np.testing.assert_array_equal(lab, (s @ w >= 7).astype(float))


def test_stochastic_matches_logistic_probability():
    S = np.repeat(np.array([5.0, 6.5, 7.0, 8.0]), 20000)
    s = np.repeat(S[:, None], 4, axis=1)
    lab, _, _ = GoodBadTeacher("stochastic", beta=1.5).label_arrays(s, np.random.default_rng(4))
    for v in (5.0, 6.5, 7.0, 8.0):
        p = expit(1.5 * (v - 7))
        assert abs(lab[S == v].mean() - p) < 4 * np.sqrt(p * (1 - p) / 20000) + 1e-3


def test_mixed_draws_types_uniformly_and_presets():
    s = _scores(5)
    t = make_teacher("noise2")
    assert t.kind == "mixed" and t.eps == LEVELS[2].eps
    lab, w, kinds = t.label_arrays(s, np.random.default_rng(5))
    counts = {k: (kinds == k).mean() for k in np.unique(kinds)}
    assert set(counts) == {"stochastic", "myopic", "mistake", "skip", "equal"}
    assert all(abs(c - 0.2) < 0.02 for c in counts.values())
    assert np.all(w[kinds != "skip"] == 1.0)
    assert np.all(lab[kinds == "equal"][np.abs(s.mean(1)[kinds == "equal"] - 7) < LEVELS[2].delta] == 0.5)
    # level 2 is noisier than level 1: more disagreement with the oracle
    oracle = (s.mean(1) >= 7).astype(float)
    dis = []
    for name in ("noise1", "noise2"):
        lab, w, _ = make_teacher(name).label_arrays(s, np.random.default_rng(6))
        dis.append(np.mean((lab != oracle) & (w > 0)))
    assert 0 < dis[0] < dis[1]
    r = t.label(s[:50], np.arange(50) % 5, np.random.default_rng(0))
    assert isinstance(r, Ratings) and r.n_users == 5
    a = t.label_arrays(s, np.random.default_rng(9))
    b = t.label_arrays(s, np.random.default_rng(9))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_bad_inputs():
    with pytest.raises(ValueError, match="kind"):
        GoodBadTeacher("lazy")
    with pytest.raises(ValueError, match="eps"):
        GoodBadTeacher("mistake", eps=1.5)
    with pytest.raises(ValueError, match="step_scores"):
        make_teacher("oracle").label_arrays(np.zeros(5), np.random.default_rng(0))
    with pytest.raises(ValueError, match="name"):
        make_teacher("noise3")
    with pytest.raises(ValueError, match="gamma"):
        myopic_weights(5, 0.0)


# ---------------------------------------------------------------------------- pairwise (Lee et al. 2021)
def _pairs(seed, m=4000, H=10):
    rng = np.random.default_rng(seed)
    return rng.normal(0.5, 1.0, size=(m, H)), rng.normal(0.5, 1.0, size=(m, H))


def test_pairwise_oracle_and_mistake():
    r0, r1 = _pairs(0)
    pref, eq, skip = PAIRWISE_PRESETS["oracle"].label_arrays(r0, r1, np.random.default_rng(0))
    np.testing.assert_array_equal(pref, (r1.sum(1) > r0.sum(1)).astype(int))
    assert not eq.any() and not skip.any()
    pm, _, _ = PAIRWISE_PRESETS["mistake"].label_arrays(r0, r1, np.random.default_rng(0))
    assert abs((pm != pref).mean() - 0.1) < 0.02


def test_pairwise_thresholds_applied_once_on_undiscounted_returns():
    r0, r1 = _pairs(1)
    margin = 7.0
    t = PairwiseTeacher(gamma=0.5, eps_skip=0.3, eps_equal=0.2)
    pref, eq, skip = t.label_arrays(r0, r1, np.random.default_rng(1), margin=margin)
    R0, R1 = r0.sum(1), r1.sum(1)
    np.testing.assert_array_equal(skip, np.maximum(R0, R1) < 0.3 * margin)
    np.testing.assert_array_equal(eq, (np.abs(R0 - R1) < 0.2 * margin) & ~skip)
    w = 0.5 ** (9 - np.arange(10))
    np.testing.assert_array_equal(pref, (r1 @ w > r0 @ w).astype(int))


def test_pairwise_stochastic_is_bradley_terry_and_choices_loglik():
    r0 = np.zeros((40000, 2))
    r1 = np.tile([[0.5, 0.5]], (40000, 1))
    pref, _, _ = PAIRWISE_PRESETS["stoc"].label_arrays(r0, r1, np.random.default_rng(2))
    assert abs(pref.mean() - expit(1.0)) < 0.01
    # choices: equal queries become two half-weight records -> uniform-target cross-entropy
    r0, r1 = _pairs(3, 300)
    ch = PairwiseTeacher(eps_equal=0.3, eps_skip=0.2).label(r0, r1, np.arange(300) % 3, np.random.default_rng(3))
    assert isinstance(ch, Choices)
    per_query = np.bincount(ch.context, weights=ch.weight, minlength=300)
    _, eq, skip = PairwiseTeacher(eps_equal=0.3, eps_skip=0.2).label_arrays(r0, r1, np.random.default_rng(3))
    np.testing.assert_allclose(per_query, np.where(skip, 0.0, 1.0))
    u = np.stack([r0.sum(1), r1.sum(1)], axis=1)[ch.context]
    ll = ch.weight * choice_loglik(u, ch.chosen)
    q = np.flatnonzero(eq)[0]
    d = u[ch.context == q][0]
    expect = 0.5 * btl_loglik(d[:1], d[1:], [1])[0] + 0.5 * btl_loglik(d[:1], d[1:], [0])[0]
    assert ll[ch.context == q].sum() == pytest.approx(expect)


def test_levels_are_table_1_as_printed():
    """Seed 000 App. C.1, Table 1: (beta, gamma, eps, p_skip, delta) of noise conditions 1 and 2."""
    printed = {1: (1.00, 0.90, 0.10, 0.10, 0.10), 2: (0.50, 0.85, 0.20, 0.25, 0.20)}
    for lvl, vals in printed.items():
        L = LEVELS[lvl]
        assert (L.beta, L.gamma, L.eps, L.p_skip, L.delta) == vals


def test_oracle_says_good_at_a_score_exactly_at_tau():
    """'good' iff S >= tau (seed 000 sec. 4.1): a segment whose mean score equals tau exactly is good,
    one a hair below is bad; also at a non-default tau."""
    s = np.array([[7.0, 7.0, 7.0], [6.0, 8.0, 7.0], [7.0, 7.0, 7.0 - 3e-9], [5.0, 9.0, 7.0]])
    assert s.mean(1)[0] == 7.0 and s.mean(1)[1] == 7.0 and s.mean(1)[2] < 7.0
    lab, w, kinds = make_teacher("oracle").label_arrays(s, np.random.default_rng(0))
    np.testing.assert_array_equal(lab, [1.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(w, 1.0)
    assert list(kinds) == ["oracle"] * 4
    lab, _, _ = make_teacher("oracle", tau=5.0).label_arrays(np.full((2, 4), 5.0) - [[0.0], [1e-9]],
                                                             np.random.default_rng(0))
    np.testing.assert_array_equal(lab, [1.0, 0.0])


def test_teachers_are_frozen_and_gamma_is_checked_on_zero_one():
    import dataclasses

    for t in (make_teacher("noise1"), PAIRWISE_PRESETS["myopic"]):
        with pytest.raises(dataclasses.FrozenInstanceError):
            t.gamma = 0.5
    for cls in (GoodBadTeacher, PairwiseTeacher):
        assert cls(gamma=1.0).gamma == 1.0
        for g in (0.0, 1.5, -0.5):
            with pytest.raises(ValueError, match="gamma"):
                cls(gamma=g)


@pytest.mark.parametrize("H", [1, 3])
def test_pairwise_myopic_discount_is_gamma_to_the_steps_left(H):
    """B-Pref's myopic weights gamma^(H-1-t): the last step has weight 1, so with a Bradley-Terry teacher
    (beta = 1) a reward of 2 on the last step alone wins with probability sigma(2) for every gamma."""
    n = 40000
    r0 = np.zeros((n, H))
    r1 = np.zeros((n, H))
    r1[:, -1] = 2.0
    pref, _, _ = PairwiseTeacher(beta=1.0, gamma=0.5).label_arrays(r0, r1, np.random.default_rng(4))
    assert abs(pref.mean() - expit(2.0)) < 0.01
    if H > 1:  # and a reward on the first step is discounted by gamma^(H-1)
        r1 = np.zeros((n, H))
        r1[:, 0] = 2.0
        pref, _, _ = PairwiseTeacher(beta=1.0, gamma=0.5).label_arrays(r0, r1, np.random.default_rng(5))
        assert abs(pref.mean() - expit(2.0 * 0.5 ** (H - 1))) < 0.01


def test_pairwise_label_default_options_are_two_fresh_segment_ids_per_query():
    r0, r1 = _pairs(6, 5)
    ch = PAIRWISE_PRESETS["oracle"].label(r0, r1, np.zeros(5, dtype=int), np.random.default_rng(0))
    np.testing.assert_array_equal(ch.options, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])
    np.testing.assert_array_equal(ch.context, np.arange(5))
