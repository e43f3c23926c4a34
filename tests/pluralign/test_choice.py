"""Property tests of the choice models (issue 2): each compares against an independent computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pluralign.choice import (
    btl_loglik,
    choice_loglik,
    choice_logprobs,
    choice_probs,
    plackett_luce_loglik,
    rating_loglik,
    rating_prob,
)

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


@st.composite
def utility_sets(draw, min_n=2, max_n=5, max_m=6, elements=finite):
    m = draw(st.integers(1, max_m))
    n = draw(st.integers(min_n, max_n))
    return draw(arrays(np.float64, (m, n), elements=elements))


@st.composite
def masked_sets(draw):
    u = draw(utility_sets(min_n=3))
    m, n = u.shape
    mask = np.ones((m, n), dtype=bool)
    for r in range(m):
        k = draw(st.integers(2, n))
        keep = draw(st.permutations(range(n)))[:k]
        mask[r] = False
        mask[r, keep] = True
    return u, mask


def _brute_probs(u):
    e = np.exp(u - u.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@given(masked_sets())
def test_probabilities_sum_to_one_and_vanish_on_masked(um):
    u, mask = um
    p = choice_probs(u, mask)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(p[~mask] == 0.0)


@given(utility_sets())
def test_mnl_matches_softmax_formula(u):
    np.testing.assert_allclose(choice_probs(u), _brute_probs(u), rtol=1e-10, atol=1e-300)


@given(utility_sets(), arrays(np.float64, 6, elements=st.floats(-1e3, 1e3)))
def test_adding_a_constant_changes_nothing(u, c):
    shifted = u + c[: u.shape[0], None]
    np.testing.assert_allclose(choice_logprobs(shifted), choice_logprobs(u), atol=1e-9)
    order = np.tile(np.arange(u.shape[1])[::-1], (u.shape[0], 1))
    np.testing.assert_allclose(plackett_luce_loglik(shifted, order), plackett_luce_loglik(u, order), atol=1e-8)


@given(masked_sets())
def test_masking_equals_dropping_the_options(um):
    u, mask = um
    lp = choice_logprobs(u, mask)
    for r in range(u.shape[0]):
        keep = np.flatnonzero(mask[r])
        np.testing.assert_allclose(lp[r, keep], choice_logprobs(u[r : r + 1, keep])[0], rtol=1e-12, atol=1e-12)


@given(arrays(np.float64, (7,), elements=finite), arrays(np.float64, (7,), elements=finite), st.data())
def test_btl_is_mnl_with_two_options(a, b, data):
    wins = np.array(data.draw(st.lists(st.integers(0, 1), min_size=7, max_size=7)))
    stacked = np.stack([a, b], axis=1)
    np.testing.assert_allclose(btl_loglik(a, b, wins), choice_loglik(stacked, 1 - wins), rtol=1e-12, atol=1e-12)
    # and the closed form log sigma(+-(a - b))
    s = np.where(wins == 1, a - b, b - a)
    np.testing.assert_allclose(btl_loglik(a, b, wins), -np.log1p(np.exp(-s)), rtol=1e-9, atol=1e-12)


@given(utility_sets(), st.data())
def test_first_plackett_luce_factor_is_mnl(u, data):
    m, n = u.shape
    top = np.array([data.draw(st.integers(0, n - 1)) for _ in range(m)])
    np.testing.assert_allclose(plackett_luce_loglik(u, top[:, None]), choice_loglik(u, top), rtol=1e-12, atol=1e-12)


@settings(max_examples=30)
@given(utility_sets(min_n=2, max_n=4, max_m=2, elements=st.floats(-5, 5)), st.data())
def test_plackett_luce_top_k_is_a_distribution(u, data):
    """Summing P(order) over every ordered top-k tuple gives 1 (brute force over permutations)."""
    m, n = u.shape
    k = data.draw(st.integers(1, n))
    tuples = np.array(list(itertools.permutations(range(n), k)))
    for r in range(m):
        ll = plackett_luce_loglik(np.repeat(u[r : r + 1], len(tuples), axis=0), tuples)
        np.testing.assert_allclose(np.exp(ll).sum(), 1.0, rtol=1e-10)


@given(utility_sets(min_n=2, max_n=5))
def test_full_ranking_of_n_equals_ranking_of_n_minus_1(u):
    order = np.argsort(-u, axis=1)
    np.testing.assert_allclose(plackett_luce_loglik(u, order), plackett_luce_loglik(u, order[:, :-1]), atol=1e-12)


@given(masked_sets(), st.data())
def test_plackett_luce_with_mask_equals_dropping_options(um, data):
    u, mask = um
    for r in range(u.shape[0]):
        keep = np.flatnonzero(mask[r])
        perm = np.array(data.draw(st.permutations(range(len(keep)))))
        full = plackett_luce_loglik(u[r : r + 1], keep[perm][None, :], mask[r : r + 1])
        dropped = plackett_luce_loglik(u[r : r + 1, keep], perm[None, :])
        np.testing.assert_allclose(full, dropped, rtol=1e-12, atol=1e-12)


@given(arrays(np.float64, 8, elements=finite), arrays(np.float64, 8, elements=finite))
def test_rating_loglik_is_threshold_logistic(R, tau):
    one = rating_loglik(R, np.ones(8), tau)
    zero = rating_loglik(R, np.zeros(8), tau)
    half = rating_loglik(R, np.full(8, 0.5), tau)
    np.testing.assert_allclose(np.exp(one), rating_prob(R, tau), rtol=1e-10)
    np.testing.assert_allclose(np.exp(one) + np.exp(zero), 1.0, rtol=1e-10)
    np.testing.assert_allclose(half, 0.5 * (one + zero), rtol=1e-12, atol=1e-12)
    # depends on R and tau only through R - tau
    np.testing.assert_allclose(rating_loglik(R - tau, np.ones(8)), one, rtol=1e-12, atol=1e-12)


@given(arrays(np.float64, 5, elements=finite), arrays(np.float64, 5, elements=st.floats(0, 10)))
def test_rating_weight_scales_and_zero_weight_skips(R, w):
    y = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(rating_loglik(R, y, 0.0, w), w * rating_loglik(R, y), rtol=1e-12, atol=1e-300)
    assert np.all(rating_loglik(R, y, 0.0, np.zeros(5)) == 0.0)


def test_extreme_utilities_stay_finite_and_exact():
    u = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    ll = choice_loglik(u, [1, 2])
    np.testing.assert_allclose(ll, [-2e4, -np.log(3)], rtol=1e-12)
    pl = plackett_luce_loglik(u, [[1, 2, 0], [0, 1, 2]])
    np.testing.assert_allclose(pl, [-2e4 - 1e4, -np.log(3) - np.log(2)], rtol=1e-12)
    r = rating_loglik(np.array([1e4, -1e4]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(r, [-1e4, -1e4], rtol=1e-12)
    ut = torch.tensor(u, requires_grad=True)
    choice_loglik(ut, torch.tensor([1, 2])).sum().backward()
    assert torch.isfinite(ut.grad).all()


@given(masked_sets(), st.data())
def test_numpy_equals_torch(um, data):
    u, mask = um
    m, n = u.shape
    chosen = np.array([data.draw(st.sampled_from(np.flatnonzero(mask[r]).tolist())) for r in range(m)])
    order = np.stack([np.flatnonzero(mask[r])[:2] for r in range(m)])
    ut, mt = torch.tensor(u), torch.tensor(mask)
    close = dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(choice_loglik(ut, torch.tensor(chosen), mt).numpy(), choice_loglik(u, chosen, mask), **close)
    np.testing.assert_allclose(
        plackett_luce_loglik(ut, torch.tensor(order), mt).numpy(), plackett_luce_loglik(u, order, mask), **close
    )
    y = np.array([data.draw(st.sampled_from([0.0, 0.5, 1.0])) for _ in range(m)])
    np.testing.assert_allclose(rating_loglik(ut[:, 0], torch.tensor(y), 0.3).numpy(), rating_loglik(u[:, 0], y, 0.3), **close)
    np.testing.assert_allclose(
        btl_loglik(ut[:, 0], ut[:, 1], torch.tensor(chosen % 2)).numpy(), btl_loglik(u[:, 0], u[:, 1], chosen % 2), **close
    )


@settings(max_examples=15)
@given(utility_sets(min_n=2, max_n=4, max_m=3, elements=st.floats(-5, 5)), st.data())
def test_torch_gradients_match_finite_differences(u, data):
    m, n = u.shape
    chosen = torch.tensor([data.draw(st.integers(0, n - 1)) for _ in range(m)])
    order = torch.tensor(np.argsort(u, axis=1)[:, : max(1, n - 1)].copy())
    y = torch.tensor([data.draw(st.sampled_from([0.0, 0.5, 1.0])) for _ in range(m)], dtype=torch.float64)
    x = torch.tensor(u, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: choice_loglik(t, chosen), (x,))
    assert torch.autograd.gradcheck(lambda t: plackett_luce_loglik(t, order), (x,))
    assert torch.autograd.gradcheck(lambda t: rating_loglik(t[:, 0], y, t[:, 1]), (x,))


# ---------------------------------------------------------------------------------------- bad input
BAD_CALLS = {
    "utilities NaN": (lambda: choice_loglik(np.array([[np.nan, 0.0]]), [0]), "utilities"),
    "utilities inf": (lambda: choice_probs(np.array([[np.inf, 0.0]])), "utilities"),
    "utilities 1-d": (lambda: choice_probs(np.array([1.0, 2.0])), "utilities"),
    "one option": (lambda: choice_probs(np.array([[1.0]])), "utilities"),
    "chosen out of range": (lambda: choice_loglik(np.zeros((2, 3)), [0, 3]), "chosen"),
    "chosen negative": (lambda: choice_loglik(np.zeros((2, 3)), [-1, 0]), "chosen"),
    "chosen shape": (lambda: choice_loglik(np.zeros((2, 3)), [0, 1, 2]), "chosen"),
    "chosen float": (lambda: choice_loglik(np.zeros((1, 3)), [0.5]), "chosen"),
    "chosen masked": (lambda: choice_loglik(np.zeros((1, 3)), [2], np.array([[True, True, False]])), "chosen"),
    "mask shape": (lambda: choice_probs(np.zeros((1, 3)), np.ones((1, 2), bool)), "mask"),
    "mask too small": (lambda: choice_probs(np.zeros((1, 3)), np.array([[True, False, False]])), "mask"),
    "order repeat": (lambda: plackett_luce_loglik(np.zeros((1, 3)), [[1, 1]]), "order"),
    "order range": (lambda: plackett_luce_loglik(np.zeros((1, 3)), [[0, 5]]), "order"),
    "order 1-d": (lambda: plackett_luce_loglik(np.zeros((1, 3)), [0, 1]), "order"),
    "label outside": (lambda: rating_loglik(np.zeros(2), [0.0, 0.7]), "label"),
    "label shape": (lambda: rating_loglik(np.zeros(2), [0.0]), "label"),
    "reward NaN": (lambda: rating_loglik(np.array([np.nan]), [1.0]), "reward"),
    "weight negative": (lambda: rating_loglik(np.zeros(2), [0.0, 1.0], 0.0, [1.0, -1.0]), "weight"),
    "btl shapes": (lambda: btl_loglik(np.zeros(2), np.zeros(3), [0, 1]), "u_b"),
    "btl outcome": (lambda: btl_loglik(np.zeros(2), np.zeros(2), [0, 2]), "a_wins"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_input_raises_value_error_naming_the_field(case):
    call, field = BAD_CALLS[case]
    with pytest.raises(ValueError, match=field):
        call()


@given(
    arrays(np.float64, st.tuples(st.integers(0, 3), st.integers(0, 4)), elements=st.floats(allow_nan=True, allow_infinity=True)),
    st.lists(st.integers(-3, 6), max_size=4),
)
def test_fuzzed_input_gives_value_error_or_a_valid_answer(u, chosen):
    """Whatever arrives, the only exception is ValueError; a returned value is finite and <= 0."""
    try:
        out = choice_loglik(u, chosen)
    except ValueError:
        return
    assert np.all(np.isfinite(out)) and np.all(out <= 1e-12)


@given(masked_sets(), st.data())
def test_unchecked_fast_path_equals_checked(um, data):
    """choice_loglik(validate=False), for optimizer loops over validated data, computes the same numbers."""
    u, mask = um
    chosen = np.array([data.draw(st.sampled_from(np.flatnonzero(mask[r]).tolist())) for r in range(u.shape[0])])
    np.testing.assert_array_equal(choice_loglik(u, chosen, mask, validate=False), choice_loglik(u, chosen, mask))
    ut = torch.tensor(u)
    fast = choice_loglik(ut, torch.tensor(chosen), torch.tensor(mask), validate=False)
    np.testing.assert_allclose(fast.numpy(), choice_loglik(u, chosen, mask), rtol=1e-12, atol=1e-12)
