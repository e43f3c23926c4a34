"""Regression tests of issue 18 item 5: each bad input raises a ValueError naming the argument (or is
handled by a stated policy)."""

import numpy as np
import pytest

from pluralign.aggregation import aggregate_rewards, linear_pool, power_mean
from pluralign.data import Ratings
from pluralign.em import EMConfig, adjusted_rand_index, match_components, matched_accuracy
from pluralign.mmra import mixture_regrets


@pytest.mark.parametrize("field", ["n_components", "n_restarts", "max_iter"])
@pytest.mark.parametrize("bad", ["3", 2.7, 3.0, True, 0, -2, None])
def test_emconfig_int_fields_reject_non_integers(field, bad):
    kwargs = {"n_components": 2, field: bad}
    with pytest.raises(ValueError, match=field):
        EMConfig(**kwargs)


def test_emconfig_accepts_numpy_integers():
    cfg = EMConfig(n_components=np.int64(3), n_restarts=np.int32(2))
    assert cfg.n_components == 3 and type(cfg.n_components) is int and cfg.n_restarts == 2


@pytest.mark.parametrize("field,bad", [("leak", "0.1"), ("leak", True), ("tol", float("nan")), ("tol", -1.0)])
def test_emconfig_real_fields(field, bad):
    with pytest.raises(ValueError, match=field):
        EMConfig(n_components=2, **{field: bad})


def test_matched_accuracy_rejects_nan_groups():
    groups = np.array([0, 1, np.nan, 1.0])  # what a NaN-holding group column becomes
    with pytest.raises(ValueError, match="true_labels"):
        matched_accuracy(groups, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="pred_labels"):
        matched_accuracy([0, 1, 0, 1], groups)


def test_matched_accuracy_rejects_minus_one_no_group():
    # before: -1 wrapped around to the last group and the accuracy came out as 1.0
    with pytest.raises(ValueError, match="true_labels"):
        matched_accuracy([0, 1, -1, 1], [0, 1, 0, 1])


def test_matched_accuracy_integer_floats_and_non_contiguous_ids():
    assert matched_accuracy(np.array([0.0, 5.0, 5.0]), [7, 2, 2]) == 1.0
    assert matched_accuracy(["a", "b", "b"], [1, 0, 0]) == 1.0


def test_match_components_rejects_nan_cost():
    with pytest.raises(ValueError, match="cost"):
        match_components(np.array([[0.0, np.nan], [1.0, 0.0]]))


def test_adjusted_rand_index_names_the_argument_on_nan():
    with pytest.raises(ValueError, match="pred_labels"):
        adjusted_rand_index([0, 1, 1], [0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="true_labels"):
        adjusted_rand_index([0, -1, 1], [0, 1, 1])


def test_ratings_reject_duplicate_user_segment_pairs_unless_allowed():
    with pytest.raises(ValueError, match="segment"):
        Ratings(user=[0, 0, 1], segment=[3, 3, 3], label=[1.0, 0.0, 1.0])
    r = Ratings(user=[0, 0, 1], segment=[3, 3, 3], label=[1.0, 0.0, 1.0], allow_duplicates=True)
    assert len(r) == 3 and len(r.subset([0, 1])) == 2
    with pytest.raises(ValueError, match="allow_duplicates"):
        Ratings(user=[0], segment=[3], label=[1.0], allow_duplicates="yes")


def test_bpref_teacher_repeats_stay_allowed():
    from pluralign.bpref import make_teacher

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4, 5))
    r = make_teacher("oracle").label(scores, np.array([0, 0, 1, 1]), rng, segment=np.array([2, 2, 1, 1]))
    assert len(r) == 4


def test_weights_one_policy_reject_unnormalized():
    R = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(ValueError, match="weights"):
        aggregate_rewards(R, 1.0, weights=[1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="weights"):
        power_mean([1.0, 2.0], 0.0, weights=[2.0, 2.0])
    with pytest.raises(ValueError, match="weights"):
        linear_pool(np.full((2, 2), 0.5), weights=[2.0, 2.0])
    np.testing.assert_allclose(aggregate_rewards(R, 1.0, weights=[0.25, 0.25, 0.5]), [3.5, 4.5])


def test_transposed_reward_matrix_is_caught_with_n_users():
    R = np.arange(6.0).reshape(3, 2) + 1  # 3 users, 2 items
    assert aggregate_rewards(R, 1.0, n_users=3).shape == (2,)
    with pytest.raises(ValueError, match="R"):
        aggregate_rewards(R.T, 1.0, n_users=3)
    with pytest.raises(ValueError, match="R"):
        aggregate_rewards(R.T, 1.0, n_items=2)


def test_transposed_regret_table_is_caught():
    T = np.arange(6.0).reshape(2, 3)  # 2 groups, 3 candidates
    assert mixture_regrets(T, np.full(3, 1 / 3), n_groups=2).shape == (2,)
    with pytest.raises(ValueError, match="regret_table"):
        mixture_regrets(T.T, np.full(2, 0.5), n_groups=2)
    with pytest.raises(ValueError, match="w"):
        mixture_regrets(T.T, np.full(3, 1 / 3))
