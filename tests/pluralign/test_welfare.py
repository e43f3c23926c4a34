"""Welfare measures of seed 000, App. C.2."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.welfare import egalitarian_welfare, nash_welfare, utilitarian_welfare, welfare

pos = st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=40)


@settings(max_examples=50)
@given(pos)
def test_closed_forms_and_ordering(u):
    a = np.asarray(u)
    assert utilitarian_welfare(a) == pytest.approx(np.mean(a))
    assert nash_welfare(a) == pytest.approx(np.prod(a) ** (1 / a.size), rel=1e-9)
    # AM-GM and the 10th percentile lies between min and mean-ish bounds
    assert nash_welfare(a) <= utilitarian_welfare(a) * (1 + 1e-12)
    assert a.min() - 1e-12 <= egalitarian_welfare(a) <= a.max() + 1e-12
    w = welfare(a)
    assert set(w) == {"utilitarian", "egalitarian", "nash"}


def test_egalitarian_is_tenth_percentile():
    u = np.arange(1, 101, dtype=float)  # 1..100
    assert egalitarian_welfare(u) == pytest.approx(np.quantile(u, 0.1))
    assert egalitarian_welfare(u) == pytest.approx(10.9)


def test_one_vocabulary_egalitarian_is_the_quantile_maximin_the_minimum():
    """'egalitarian' is seed 000's Q_0.10 (App. C.2) everywhere; the minimum is the social-choice 'maximin'."""
    from pluralign.aggregation.social_choice import RULES, power_mean

    u = np.random.default_rng(0).uniform(1, 10, size=(5, 30))
    np.testing.assert_allclose(egalitarian_welfare(u, q=0.0), power_mean(u, "maximin", axis=-1), rtol=0)
    np.testing.assert_allclose(egalitarian_welfare(u), np.quantile(u, 0.1, axis=-1), rtol=0)
    assert np.all(egalitarian_welfare(u) > u.min(axis=-1))  # not the minimum
    assert "egalitarian" not in RULES and RULES["maximin"] == -np.inf
    with pytest.raises(ValueError, match="alpha"):
        power_mean(u, "egalitarian")


def test_nash_log_space_no_overflow_and_batched():
    u = np.full(1000, 1e300)
    assert nash_welfare(u) == pytest.approx(1e300)
    b = np.array([[1.0, 4.0], [2.0, 8.0]])
    np.testing.assert_allclose(nash_welfare(b), [2.0, 4.0])
    np.testing.assert_allclose(utilitarian_welfare(b), [2.5, 5.0])


def test_nash_non_positive_raises_unless_explicit_shift():
    with pytest.raises(ValueError, match="positive"):
        nash_welfare([1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        nash_welfare([1.0, -1.0], shift=1.0)
    assert nash_welfare([-1.0, 2.0], shift=2.0) == pytest.approx(2.0)  # GM(1, 4)
    for bad in ([], [np.nan], [1.0, np.inf]):
        with pytest.raises(ValueError, match="utilities"):
            utilitarian_welfare(bad)
    with pytest.raises(ValueError, match="q"):
        egalitarian_welfare([1.0], q=1.5)


def test_one_profile_gives_python_floats_a_batch_gives_arrays_along_the_last_axis():
    u = [1.0, 4.0, 16.0]
    for f in (utilitarian_welfare, egalitarian_welfare, nash_welfare):
        assert type(f(u)) is float
        out = f(np.array([u, u[::-1]]))
        assert isinstance(out, np.ndarray) and out.shape == (2,)
        np.testing.assert_allclose(out, f(u))
    assert welfare(u) == {"utilitarian": 7.0, "egalitarian": pytest.approx(1.6), "nash": pytest.approx(4.0)}
    assert welfare(u, q=0.5)["egalitarian"] == 4.0
    np.testing.assert_allclose(utilitarian_welfare(np.array([[1.0, 2.0], [3.0, 6.0]]), axis=0), [2.0, 4.0])


def test_quantile_level_is_checked_on_the_closed_unit_interval():
    u = [3.0, 1.0, 2.0]
    assert egalitarian_welfare(u, q=0.0) == 1.0 and egalitarian_welfare(u, q=1.0) == 3.0
    for q in (-0.01, 1.01, np.nan):
        with pytest.raises(ValueError, match="q: the quantile"):
            egalitarian_welfare(u, q=q)


def test_welfare_input_checks_name_the_problem():
    with pytest.raises(ValueError, match="scalar"):
        utilitarian_welfare(3.0)
    with pytest.raises(ValueError, match="no users"):
        egalitarian_welfare(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="shift: must be finite"):
        nash_welfare([1.0], shift=np.inf)
    with pytest.raises(ValueError, match=r"^u \+ shift: Nash welfare needs positive utilities, got min 0;"):
        nash_welfare([1.0, -1.0], shift=1.0)
    with pytest.raises(ValueError, match="^utilities: Nash welfare needs positive utilities, got min -2;"):
        nash_welfare([1.0, -2.0, 3.0])
    assert nash_welfare([1.0, 4.0], shift=0.0) == pytest.approx(2.0)
