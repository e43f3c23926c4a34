"""Property tests of the preference-data model (issue 2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pluralign.choice import choice_loglik, plackett_luce_loglik
from pluralign.data import (
    Choices,
    Rankings,
    Ratings,
    from_trl_records,
    split_users,
    split_within_users,
    to_trl_records,
)


@st.composite
def choice_data(draw, max_users=6, max_n=4):
    n_users = draw(st.integers(2, max_users))
    per_user = [draw(st.integers(1, 5)) for _ in range(n_users)]
    user = np.repeat(np.arange(n_users), per_user)
    user = user[np.array(draw(st.permutations(range(len(user)))))]
    m = len(user)
    n = draw(st.integers(2, max_n))
    options = np.array([draw(st.permutations(range(n + 3)))[:n] for _ in range(m)])
    chosen = np.array([draw(st.integers(0, n - 1)) for _ in range(m)])
    context = np.array([draw(st.integers(0, 3)) for _ in range(m)])
    return Choices(user=user, context=context, options=options, chosen=chosen, ids=np.arange(m) * 7 + 1)


def _texts(prefix, k):
    return [f"{prefix} {i}" for i in range(k)]


@given(choice_data())
def test_trl_round_trip_preserves_every_preference(c):
    prompts, responses = _texts("prompt", 4), _texts("response", 8)
    records = to_trl_records(c, prompts, responses)
    c2, prompts2, responses2 = from_trl_records(records)
    assert len(c2) == len(c)
    assert to_trl_records(c2, prompts2, responses2) == [
        {**r, "rejected": r["rejected"]} for r in records
    ]
    for r, rec in enumerate(records):
        assert rec["chosen"] == responses[c.options[r, c.chosen[r]]]
        rejected = rec["rejected"] if isinstance(rec["rejected"], list) else [rec["rejected"]]
        assert sorted(rejected + [rec["chosen"]]) == sorted(responses[j] for j in c.options[r])
        assert rec["user"] == c.user_names[c.user[r]] and rec["id"] == c.ids[r]
        assert isinstance(rec["rejected"], str) == (c.n_options == 2)


def test_trl_kwise_records_with_mixed_sizes_are_masked():
    recs = [
        {"prompt": "p", "chosen": "a", "rejected": "b", "user": "u1"},
        {"prompt": "q", "chosen": "c", "rejected": ["a", "b"], "user": "u2"},
    ]
    c, prompts, responses = from_trl_records(recs)
    assert c.n_options == 3 and c.mask.tolist() == [[True, True, False], [True, True, True]]
    assert list(c.user_names) == ["u1", "u2"] and prompts == ["p", "q"]
    u = np.array([[0.0, 1.0, 99.0], [2.0, 0.0, 1.0]])
    # the padded option never counts
    np.testing.assert_allclose(choice_loglik(u, c.chosen, c.mask)[0], -np.log1p(np.e))
    assert to_trl_records(c, prompts, responses) == [{**recs[0], "id": 0}, {**recs[1], "id": 1}]


@given(choice_data(), st.floats(0.05, 0.95), st.integers(0, 1000))
def test_split_users_partitions_users_and_records(c, frac, seed):
    seen, unseen = split_users(c, frac, seed)
    assert len(seen) + len(unseen) == len(c)
    assert set(seen.ids) | set(unseen.ids) == set(c.ids) and not set(seen.ids) & set(unseen.ids)
    assert not set(seen.user_names) & set(unseen.user_names)
    assert seen.n_users + unseen.n_users == c.n_users and seen.n_users >= 1 and unseen.n_users >= 1
    # each record keeps its original user and payload
    pos = {i: r for r, i in enumerate(c.ids)}
    for part in (seen, unseen):
        for r, i in enumerate(part.ids):
            assert part.user_names[part.user[r]] == c.user_names[c.user[pos[i]]]
            assert np.array_equal(part.options[r], c.options[pos[i]]) and part.chosen[r] == c.chosen[pos[i]]
    # same seed, same split
    again = split_users(c, frac, seed)
    assert np.array_equal(again[0].ids, seen.ids)


@given(choice_data(), st.floats(0.1, 0.9), st.integers(0, 1000))
def test_split_within_users_keeps_every_user_in_train(c, frac, seed):
    try:
        train, test = split_within_users(c, frac, seed)
    except ValueError as e:
        assert "frac_test" in str(e)
        return
    assert train.n_users == c.n_users and np.all(train.counts_per_user() >= 1)
    assert set(train.ids) | set(test.ids) == set(c.ids) and not set(train.ids) & set(test.ids)
    assert set(test.user_names) <= set(train.user_names)


@given(choice_data())
def test_by_user_groups_every_record_once(c):
    groups = c.by_user()
    assert sorted(groups) == sorted(c.user_names.tolist())
    assert sum(len(g) for g in groups.values()) == len(c)
    for name, g in groups.items():
        assert g.n_users == 1 and g.user_names[0] == name
        assert set(g.ids) == set(c.ids[c.user_names[c.user] == name])
    assert np.array_equal(c.counts_per_user(), [len(ix) for ix in c.user_indices()])


@given(st.integers(3, 5), st.data())
def test_ranking_top_is_its_choice_and_first_factor(n, data):
    m = 4
    order = np.array([data.draw(st.permutations(range(n))) for _ in range(m)])
    k = data.draw(st.integers(1, n))
    r = Rankings(user=np.arange(m), options=np.tile(np.arange(n), (m, 1)), order=order[:, :k])
    assert np.array_equal(r.chosen, order[:, 0])
    u = np.linspace(-1, 1, m * n).reshape(m, n)
    np.testing.assert_allclose(plackett_luce_loglik(u, r.order[:, :1]), choice_loglik(u, r.chosen))


def test_ratings_cover_equal_and_skip():
    r = Ratings(user=[0, 0, 1], segment=[3, 4, 3], label=[1.0, 0.5, 0.0], weight=[1.0, 1.0, 0.0])
    assert r.label.tolist() == [1.0, 0.5, 0.0] and r.weight.tolist() == [1.0, 1.0, 0.0]
    f = Ratings(user=[0, 1], features=np.zeros((2, 30, 3)), label=[1, 0])
    assert f.features.shape == (2, 30, 3)


# --------------------------------------------------------------------------------- validation
def _choices(**kw):
    base = dict(user=[0, 1], options=[[0, 1], [1, 2]], chosen=[0, 1])
    base.update(kw)
    return Choices(**base)


BAD = {
    "NaN features": (lambda: _choices(features=np.full((2, 2, 3), np.nan)), "features"),
    "inf weight": (lambda: _choices(weight=[1.0, np.inf]), "weight"),
    "negative weight": (lambda: _choices(weight=[1.0, -0.1]), "weight"),
    "shape mismatch": (lambda: _choices(chosen=[0, 1, 1]), "chosen"),
    "feature/option mismatch": (lambda: _choices(features=np.zeros((2, 3, 1))), "features"),
    "chosen out of range": (lambda: _choices(chosen=[0, 2]), "chosen"),
    "one option": (lambda: _choices(options=[[0], [1]], chosen=[0, 0]), "options"),
    "user without data": (lambda: _choices(user=[0, 2]), "user without data"),
    "declared user without data": (lambda: _choices(n_users=3), "user without data"),
    "duplicate ids": (lambda: _choices(ids=["a", "a"]), "duplicate ids"),
    "non-integer user": (lambda: _choices(user=[0.5, 1]), "user"),
    "no records": (lambda: Choices(user=[], options=np.zeros((0, 2)), chosen=[]), "user"),
    "label outside": (lambda: Ratings(user=[0], segment=[0], label=[0.3]), "label"),
    "label NaN": (lambda: Ratings(user=[0], segment=[0], label=[np.nan]), "label"),
    "rating without segment": (lambda: Ratings(user=[0], label=[1.0]), "segment"),
    "mask with one option": (lambda: _choices(options=[[0, 1, 2]] * 2, mask=[[True, False, False]] * 2), "mask"),
    "chosen masked out": (lambda: _choices(options=[[0, 1, 2]] * 2, chosen=[0, 2],
                                           mask=[[True, True, False]] * 2), "chosen: chosen index points at a masked"),
    "ranking repeats": (lambda: Rankings(user=[0], options=[[0, 1, 2]], order=[[1, 1]]), "order"),
    "ranking range": (lambda: Rankings(user=[0], options=[[0, 1, 2]], order=[[3]]), "order"),
    "trl missing field": (lambda: from_trl_records([{"prompt": "p", "chosen": "a"}]), "rejected"),
    "trl empty rejected": (lambda: from_trl_records([{"prompt": "p", "chosen": "a", "rejected": []}]), "rejected"),
    "split fraction": (lambda: split_users(_choices(), 1.5, 0), "frac_unseen"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_value_error_naming_the_problem(case):
    call, field = BAD[case]
    with pytest.raises(ValueError, match=field):
        call()


@given(
    st.lists(st.one_of(st.integers(-2, 3), st.floats(allow_nan=True)), min_size=0, max_size=4),
    st.lists(st.lists(st.integers(-1, 4), min_size=0, max_size=3), min_size=0, max_size=4),
    st.lists(st.one_of(st.integers(-1, 3), st.floats(allow_nan=True, allow_infinity=True)), max_size=4),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
)
def test_fuzzed_choices_raise_only_value_error(user, options, chosen, weight):
    try:
        c = Choices(user=user, options=options, chosen=chosen, weight=weight if weight else None)
    except ValueError:
        return
    # if it was accepted it is consistent
    assert len(c) == len(c.chosen) == c.options.shape[0] and np.all(c.weight >= 0)
    assert np.all((c.chosen >= 0) & (c.chosen < c.n_options))


@st.composite
def _valid_choice_records(draw):
    m, n = draw(st.integers(1, 5)), draw(st.integers(2, 4))
    raw = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    user = np.unique(raw, return_inverse=True)[1].tolist()  # users 0..U-1, each with a record
    options = [draw(st.lists(st.integers(0, 9), min_size=n, max_size=n, unique=True)) for _ in range(m)]
    chosen = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    weight = draw(st.one_of(st.none(), st.lists(st.floats(0.0, 5.0), min_size=m, max_size=m)))
    return user, options, chosen, weight


@given(_valid_choice_records())
def test_valid_fuzzed_choices_are_accepted_as_given(rec):
    """The other side of the fuzz above (whose draws are almost never valid): consistent records are
    accepted and kept as given."""
    user, options, chosen, weight = rec
    c = Choices(user=user, options=options, chosen=chosen, weight=weight)
    assert len(c) == len(user) and c.n_options == len(options[0])
    np.testing.assert_array_equal(c.options, options)
    np.testing.assert_array_equal(c.chosen, chosen)
    np.testing.assert_allclose(c.weight, 1.0 if weight is None else weight)


def test_chosen_may_be_any_unmasked_option_but_no_masked_one():
    """A record's chosen option must exist: with mask row [T, F, T], chosen 0 and 2 are fine, 1 is not."""
    mask = [[True, False, True], [True, True, False]]
    c = _choices(options=[[0, 1, 2], [3, 4, 5]], chosen=[2, 1], mask=mask)
    np.testing.assert_array_equal(c.chosen, [2, 1])
    np.testing.assert_array_equal(c.mask, mask)
    for chosen in ([1, 1], [0, 2]):
        with pytest.raises(ValueError, match="masked-out"):
            _choices(options=[[0, 1, 2], [3, 4, 5]], chosen=chosen, mask=mask)


def test_split_fraction_is_an_open_interval_and_rankings_accept_their_own_top_as_chosen():
    c = _choices(user=[0, 1, 2, 3], options=[[0, 1]] * 4, chosen=[0, 1, 0, 1])
    for frac in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="frac_unseen"):
            split_users(c, frac, 0)
    seen, unseen = split_users(c, 0.5, 0)
    assert seen.n_users + unseen.n_users == 4 and seen.n_users >= 1 and unseen.n_users >= 1
    r = Rankings(user=[0, 1], options=[[0, 1, 2]] * 2, order=[[2, 0], [1, 2]], chosen=[2, 1])
    np.testing.assert_array_equal(r.chosen, [2, 1])
    with pytest.raises(ValueError, match="top of order"):
        Rankings(user=[0, 1], options=[[0, 1, 2]] * 2, order=[[2, 0], [1, 2]], chosen=[0, 1])
