"""Synthetic labelers and Dirichlet-mixture populations (seed 000, sec. 4.1, Fig. 3)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.prec.labelers import (
    POPULATIONS,
    dirichlet_population,
    make_population,
    normalize_features,
    rational_labels,
    segment_scores,
    step_scores,
)


@settings(max_examples=30)
@given(n=st.integers(1, 60), modes=st.integers(1, 4), conc=st.floats(0.5, 500), seed=st.integers(0, 999))
def test_population_on_simplex_and_balanced(n, modes, conc, seed):
    p = dirichlet_population(n, modes, conc, seed)
    assert p.weights.shape == (n, 3)
    assert np.all(p.weights > 0)
    np.testing.assert_allclose(p.weights.sum(1), 1.0)
    counts = np.bincount(p.mode, minlength=modes)
    assert counts.max() - counts.min() <= 1  # balanced shares
    q = dirichlet_population(n, modes, conc, seed)
    np.testing.assert_array_equal(p.weights, q.weights)


def test_concentration_knob_polarizes():
    """Larger concentration packs users around their mode centre (Fig. 3: broad -> polarized)."""
    spread = []
    for conc in (2.0, 20.0, 200.0):
        p = dirichlet_population(600, 3, conc, 0)
        spread.append(np.mean(np.linalg.norm(p.weights - p.centers[p.mode], axis=1)))
    assert spread[0] > spread[1] > spread[2]
    broad = make_population("broad", 2000, 1).weights
    np.testing.assert_allclose(broad.mean(0), 1 / 3, atol=0.02)
    assert set(POPULATIONS) >= {"broad", "polarized"}


def test_scores_and_threshold():
    w = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    f = np.zeros((2, 4, 3))
    f[0, :, 0] = [0.6, 0.7, 0.8, 0.9]  # mean 0.75 -> 7.5
    f[1] = [0.5, 1.0, 0.7]  # 10 * (0.1 + 0.3 + 0.35) = 7.5 each step
    np.testing.assert_allclose(step_scores(w, f, np.array([0, 1])), [[6, 7, 8, 9], [7.5] * 4])
    np.testing.assert_allclose(segment_scores(w, f, np.array([0, 1])), [7.5, 7.5])
    np.testing.assert_array_equal(rational_labels(w, f, np.array([0, 1]), threshold=7.6), [0.0, 0.0])
    np.testing.assert_array_equal(rational_labels(w, f, np.array([0, 1])), [1.0, 1.0])


def test_normalize_and_validation():
    x = normalize_features([[-1.0, 5.0, 20.0]], [0, 0, 0], [2, 10, 10])
    np.testing.assert_allclose(x, [[0.0, 0.5, 1.0]])
    with pytest.raises(ValueError, match="high"):
        normalize_features([[1.0]], [1.0], [1.0])
    with pytest.raises(ValueError, match="features"):
        step_scores(np.eye(3), np.full((1, 2, 3), 2.0), np.array([0]))
    with pytest.raises(ValueError, match="weights"):
        step_scores(np.ones((1, 3)), np.zeros((1, 2, 3)), np.array([0]))
    with pytest.raises(ValueError, match="user"):
        step_scores(np.eye(3), np.zeros((1, 2, 3)), np.array([3]))
    with pytest.raises(ValueError, match="n_modes"):
        dirichlet_population(5, 5)
    with pytest.raises(ValueError, match="concentration"):
        dirichlet_population(5, 2, -1.0)


def test_user_scale_reading_of_app_c1():
    """App. C.1's S = sum_t <w_i, phi_t> >= tau_i and sec. 4.1's 'a score of 7 or higher on a 10-point scale'
    are one rule: tau_i is 7 on user i's own scale (its range over the reference segments)."""
    from pluralign.prec.labelers import user_score_range, user_thresholds

    rng = np.random.default_rng(3)
    w = rng.dirichlet(np.ones(3), size=5)
    ref = rng.uniform(size=(40, 6, 3))  # 40 reference segments of T = 6 steps
    lo, hi = user_score_range(w, ref.mean(1))
    r = np.einsum("stc,nc->ns", ref, w) / 6  # (N, S) S / T brute force
    np.testing.assert_allclose(lo, r.min(1))
    np.testing.assert_allclose(hi, r.max(1))
    assert np.all(hi - lo > 0.01)  # users' ranges differ: thresholds are user-specific
    tau = user_thresholds((lo, hi), 6)
    assert np.unique(np.round(tau, 9)).size == 5
    user = np.repeat(np.arange(5), 40)
    feats = np.tile(ref, (5, 1, 1))
    S10 = segment_scores(w, feats, user, scale=(lo, hi))
    np.testing.assert_allclose(S10.min(), 0.0, atol=1e-9)  # worst reference segment of each user is 0, best 10
    np.testing.assert_allclose([S10[user == i].max() for i in range(5)], 10.0)
    cum = np.einsum("stc,sc->s", feats, w[user])  # App. C.1's cumulative score
    np.testing.assert_array_equal(rational_labels(w, feats, user, scale=(lo, hi)), (cum >= tau[user] - 1e-12).astype(float))
    with pytest.raises(ValueError, match="scale"):
        step_scores(w, feats, user, scale=(lo[:3], hi[:3]))
    with pytest.raises(ValueError, match="reference_phi"):
        user_score_range(w, ref)


def test_rational_label_is_good_at_a_score_exactly_at_the_threshold():
    """S >= 7 is good (seed 000 sec. 4.1): 10 * 0.7 = 7.0 exactly is good, the next float below is bad."""
    w = np.array([[1.0, 0.0, 0.0]])
    f = np.zeros((2, 2, 3))
    f[0, :, 0] = 0.7
    f[1, :, 0] = np.nextafter(0.7, 0.0)
    assert segment_scores(w, f, np.array([0, 0]))[0] == 7.0
    np.testing.assert_array_equal(rational_labels(w, f, np.array([0, 0])), [1.0, 0.0])
    np.testing.assert_array_equal(rational_labels(w, f, np.array([0, 0]), threshold=7.0), [1.0, 0.0])
