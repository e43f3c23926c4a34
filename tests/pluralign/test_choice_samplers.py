"""The samplers of pluralign.choice draw from the models whose log-likelihoods the module computes.

Each frequency test draws many records with a fixed seed and compares the empirical frequencies with the
probabilities of the matching log-likelihood, within 5 standard errors: a sampler that drew from another
model (a sign flip, a wrong cumulative sum, a temperature) fails it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pluralign.choice import (
    btl_loglik,
    choice_probs,
    plackett_luce_loglik,
    rating_prob,
    sample_btl,
    sample_choice,
    sample_plackett_luce,
    sample_rating,
)
from pluralign.seeding import derive

DRAWS = 40_000


def _within(freq: np.ndarray, p: np.ndarray, n: int) -> None:
    se = np.sqrt(p * (1.0 - p) / n)
    assert np.all(np.abs(freq - p) <= 5.0 * se + 1e-12), np.max(np.abs(freq - p) / np.maximum(se, 1e-300))


def test_sample_choice_frequencies_match_choice_probs_with_and_without_mask():
    u = np.array([[0.3, -1.2, 2.0, 0.0], [5.0, 4.0, -3.0, 1.0]])
    mask = np.array([[True, True, True, True], [True, False, True, True]])
    for m in (None, mask):
        U = np.repeat(u, DRAWS, axis=0)
        M = None if m is None else np.repeat(m, DRAWS, axis=0)
        c = sample_choice(U, derive(0, "choice"), M).reshape(2, DRAWS)
        for r in range(2):
            freq = np.bincount(c[r], minlength=4) / DRAWS
            _within(freq, choice_probs(u[r : r + 1], None if m is None else m[r : r + 1])[0], DRAWS)
        if m is not None:
            assert not np.any(c[1] == 1)  # a masked option is never chosen


def test_sample_choice_is_the_documented_inverse_cdf_draw():
    u = derive(1, "u").standard_normal((500, 5)) * 3.0
    p = choice_probs(u)
    want = (derive(1, "draw").random(500)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, 4)
    np.testing.assert_array_equal(sample_choice(u, derive(1, "draw")), want)


def test_sample_btl_frequencies_match_btl_loglik():
    a = np.array([0.0, 1.5, -2.0, 4.0])
    b = np.array([0.0, 0.5, 1.0, -1.0])
    wins = sample_btl(np.repeat(a, DRAWS), np.repeat(b, DRAWS), derive(0, "btl")).reshape(4, DRAWS)
    _within(wins.mean(axis=1), np.exp(btl_loglik(a, b, np.ones(4, dtype=int))), DRAWS)


def test_sample_btl_is_sample_choice_with_two_options():
    a, b = derive(2, "a").standard_normal(1000), derive(2, "b").standard_normal(1000)
    wins = sample_btl(a, b, derive(2, "draw"))
    chosen = sample_choice(np.stack([a, b], axis=1), derive(2, "draw"))
    assert np.mean(wins == 1 - chosen) > 0.999  # the same uniforms (ties only at rounding level)


def test_sample_rating_frequencies_match_rating_prob():
    R = np.array([-3.0, 0.0, 0.7, 6.0])
    tau = 0.5
    y = sample_rating(np.repeat(R, DRAWS), derive(0, "rating"), tau).reshape(4, DRAWS)
    assert set(np.unique(y)) <= {0.0, 1.0}
    _within(y.mean(axis=1), rating_prob(R, tau), DRAWS)


def test_plackett_luce_first_choice_frequencies_are_mnl_and_orders_match_loglik():
    u = np.array([[1.0, 0.0, -0.5, 2.0]])
    U = np.repeat(u, DRAWS, axis=0)
    order = sample_plackett_luce(U, derive(0, "pl"), k=2)
    _within(np.bincount(order[:, 0], minlength=4) / DRAWS, choice_probs(u)[0], DRAWS)
    pairs = list(itertools.permutations(range(4), 2))
    freq = np.array([np.mean((order[:, 0] == i) & (order[:, 1] == j)) for i, j in pairs])
    p = np.exp(plackett_luce_loglik(np.repeat(u, len(pairs), axis=0), np.array(pairs)))
    _within(freq, p, DRAWS)


def test_plackett_luce_with_mask_never_ranks_a_masked_option():
    u = np.zeros((200, 4))
    mask = np.tile([True, False, True, True], (200, 1))
    order = sample_plackett_luce(u, derive(0, "plm"), mask=mask)
    assert order.shape == (200, 3) and not np.any(order == 1)


SAMPLERS = {
    "rating": lambda rng: sample_rating(np.linspace(-2, 2, 50), rng),
    "choice": lambda rng: sample_choice(np.linspace(-2, 2, 150).reshape(50, 3), rng),
    "btl": lambda rng: sample_btl(np.linspace(-2, 2, 50), np.zeros(50), rng),
    "plackett_luce": lambda rng: sample_plackett_luce(np.linspace(-2, 2, 150).reshape(50, 3), rng),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_seed_same_draws_and_seeds_differ(name):
    draw = SAMPLERS[name]
    np.testing.assert_array_equal(draw(derive(7, name)), draw(derive(7, name)))
    assert not np.array_equal(draw(derive(7, name)), draw(derive(8, name)))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_refuse_anything_but_a_generator(name):
    for bad in (None, 0):
        with pytest.raises(ValueError, match="rng"):
            SAMPLERS[name](bad)


def test_sample_choice_reaches_the_last_unmasked_option_and_never_a_masked_one():
    """The clamp against a rounding-level overshoot stops at the LAST unmasked option, not before it."""
    M = 4000
    mask = np.tile([True, True, False, True, False], (M, 1))
    mask[::2] = [True, False, True, True, False]
    u = np.tile([0.0, 0.5, 9.0, 1.0, 9.0], (M, 1))
    c = sample_choice(u, derive(0, "last"), mask=mask)
    assert np.all(mask[np.arange(M), c])
    p = choice_probs(u, mask)
    for j in range(5):
        assert abs(np.mean(c == j) - p[:, j].mean()) < 0.03
    certain = np.tile([-30.0, 30.0, 0.0], (5, 1))  # option 1, the last unmasked one, is (nearly) certain
    np.testing.assert_array_equal(sample_choice(certain, derive(1, "last"), mask=np.tile([True, True, False], (5, 1))),
                                  1)
