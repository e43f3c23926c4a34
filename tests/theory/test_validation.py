"""The shared input checks of ``theory/validation.py``: a ValueError naming the field, never a deep traceback."""

from __future__ import annotations

import numpy as np
import pytest

from pluralign.theory.validation import as_finite_array, as_probability_vector


def test_as_finite_array_reads_checks_dimension_and_finiteness():
    a = as_finite_array([[1, 2], [3, 4]], "A", ndim=2)
    assert a.dtype == float and a.shape == (2, 2)
    assert as_finite_array(3, "x").shape == ()  # ndim=None: any dimension
    with pytest.raises(ValueError, match="A: expected a 1-d array, got shape \\(2, 2\\)"):
        as_finite_array([[1, 2], [3, 4]], "A", ndim=1)
    with pytest.raises(ValueError, match="A: contains NaN or inf"):
        as_finite_array([1.0, np.inf], "A")
    with pytest.raises(ValueError, match="A: cannot be read as a numeric array"):
        as_finite_array(["a", "b"], "A")


def test_as_probability_vector_with_and_without_a_length():
    p = [0.25, 0.75]
    np.testing.assert_array_equal(as_probability_vector(p, "p"), p)  # size=None: any length
    np.testing.assert_array_equal(as_probability_vector(p, "p", size=2), p)
    with pytest.raises(ValueError, match="p: expected length 3, got 2"):
        as_probability_vector(p, "p", size=3)
    with pytest.raises(ValueError, match="p: has negative entries"):
        as_probability_vector([1.5, -0.5], "p")
    with pytest.raises(ValueError, match="p: must sum to 1"):
        as_probability_vector([0.5, 0.6], "p")
    assert as_probability_vector([0.5, 0.5 + 1e-9], "p").sum() == pytest.approx(1.0)  # within atol 1e-8
