"""Loaders of user data (long tables, Polis vote exports, trl-style records with a user column) and the
ratings -> choices conversion; each malformed input gets a ValueError naming the file / column."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.choice import choice_loglik, rating_loglik
from pluralign.data import Ratings
from pluralign.loaders import load_polis, load_preference_records, load_ratings, ratings_to_choices


def _polis(tmp_path, votes, comments=True, participants=True):
    pd.DataFrame(votes, columns=["timestamp", "voter-id", "comment-id", "vote"]).to_csv(tmp_path / "votes.csv", index=False)
    if comments:
        pd.DataFrame({"comment-id": [10, 11, 12], "comment-body": ["parks", "taxes", "buses"]}).to_csv(
            tmp_path / "comments.csv", index=False)
    if participants:
        pd.DataFrame({"participant": [7, 8, 9], "group-id": [0, 1, np.nan]}).to_csv(
            tmp_path / "participants-votes.csv", index=False)
    return tmp_path


VOTES = [(1, 7, 10, 1), (2, 7, 11, -1), (3, 8, 10, -1), (4, 8, 12, 0), (5, 9, 11, 1), (6, 7, 11, 1)]


def test_polis_export_keeps_names_texts_groups_and_last_vote_wins(tmp_path):
    t = load_polis(_polis(tmp_path, VOTES))
    r = t.ratings
    assert list(r.user_names) == [7, 8, 9] and list(t.item_names) == [10, 11, 12]
    assert t.item_texts == ["parks", "taxes", "buses"]
    assert list(t.groups) == [0.0, 1.0, None]
    M = t.vote_matrix()
    assert M[0, 1] == 1.0, "voter 7 changed its vote on comment 11 to agree (timestamp 6): the last vote wins"
    assert np.isnan(M[1, 2]), "a pass is kept as a weight-0 record by default (skip), not a vote"
    assert len(r) == 5 and r.weight.sum() == 4


@pytest.mark.parametrize("policy, n, total_weight, label_of_pass", [("skip", 5, 4, 0.5), ("equal", 5, 5, 0.5),
                                                                    ("drop", 4, 4, None)])
def test_polis_pass_policies(tmp_path, policy, n, total_weight, label_of_pass):
    r = load_polis(_polis(tmp_path, VOTES), pass_vote=policy).ratings
    assert len(r) == n and r.weight.sum() == total_weight
    is_pass = (r.user_names[r.user] == 8) & (r.segment == 2)
    assert (label_of_pass is None and not is_pass.any()) or r.label[is_pass][0] == label_of_pass


def test_polis_bad_inputs_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        load_polis(_polis(tmp_path, VOTES), duplicates="error")
    with pytest.raises(ValueError, match="'vote' has values"):
        load_polis(_polis(tmp_path, VOTES + [(7, 9, 12, 2)]))
    pd.DataFrame({"voter-id": [1], "vote": [1]}).to_csv(tmp_path / "votes.csv", index=False)
    with pytest.raises(ValueError, match="no column 'comment-id'"):
        load_polis(tmp_path)
    with pytest.raises(ValueError, match="pass_vote"):
        load_polis(tmp_path, pass_vote="abstain")
    with pytest.raises(ValueError, match="no such file"):
        load_polis(tmp_path / "missing.csv")


def test_long_table_formats_label_map_and_duplicates(tmp_path):
    df = pd.DataFrame({"who": ["ann", "bob", "ann", "cy", "ann"], "what": ["a", "a", "b", "b", "a"],
                       "y": ["agree", "disagree", "agree", "agree", "disagree"]})
    for path in (tmp_path / "t.csv", tmp_path / "t.parquet", tmp_path / "t.jsonl"):
        {".csv": lambda p: df.to_csv(p, index=False), ".parquet": df.to_parquet,
         ".jsonl": lambda p: df.to_json(p, orient="records", lines=True)}[path.suffix](path)
        t = load_ratings(path, user="who", item="what", label="y", label_map={"agree": 1, "disagree": 0})
        assert list(t.ratings.user_names) == ["ann", "bob", "cy"] and list(t.item_names) == ["a", "b"]
        assert t.vote_matrix()[0, 0] == 0.0, "ann's last vote on 'a' (disagree) wins"
    kept = load_ratings(df, user="who", item="what", label="y", label_map={"agree": 1, "disagree": 0},
                        duplicates="keep").ratings
    assert len(kept) == 5
    with pytest.raises(ValueError, match="duplicate"):
        load_ratings(df, user="who", item="what", label="y", label_map={"agree": 1, "disagree": 0},
                     duplicates="error")


@pytest.mark.parametrize("frame, kwargs, match", [
    ({"user": [0, 1], "item": [0, 0], "label": [1, 2]}, {}, "outside"),
    ({"user": [0, 1], "item": [0, 0], "label": ["x", 1]}, {}, "non-numeric"),
    ({"user": [0, None], "item": [0, 0], "label": [1, 0]}, {}, "missing values"),
    ({"user": [0, 1], "item": [0, 0]}, {}, "no column 'label'"),
    ({"user": [0, 1], "item": [0, 0], "label": [1, 0], "w": [1, -1]}, {"weight": "w"}, "negative weights"),
    ({"user": [0, 1], "item": [0, 0], "label": [1, 0]}, {"duplicates": "first"}, "duplicates"),
    ({"user": [0, 1], "item": [0, 0], "label": ["a", "b"]}, {"label_map": {"a": 1}}, "does not map"),
])
def test_long_table_bad_inputs(frame, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_ratings(pd.DataFrame(frame), **kwargs)


def test_long_table_bad_files(tmp_path):
    with pytest.raises(ValueError, match="unknown file type"):
        (tmp_path / "x.xls").write_text("nope")
        load_ratings(tmp_path / "x.xls")
    with pytest.raises(ValueError, match="not a readable"):
        (tmp_path / "x.parquet").write_text("not parquet")
        load_ratings(tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="expected a file path"):
        load_ratings(42)


def _recs():
    return [
        {"prompt": "p1", "chosen": " a", "rejected": " b", "user": "u1"},
        {"prompt": "p1", "chosen": " b", "rejected": [" a", " c"], "user": "u2"},
        {"prompt": "p2", "chosen": " c", "rejected": " a", "user": "u1"},
    ]


def test_preference_records_from_list_dataframe_jsonl_and_datasets(tmp_path):
    import datasets

    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _recs()))
    for src in (_recs(), pd.DataFrame(_recs()), path, datasets.Dataset.from_list(
            [{**r, "rejected": [r["rejected"]] if isinstance(r["rejected"], str) else r["rejected"]} for r in _recs()])):
        ch, prompts, responses = load_preference_records(src)
        assert list(ch.user_names) == ["u1", "u2"] and ch.n_options == 3
        assert prompts == ["p1", "p2"] and responses[:3] == [" a", " b", " c"]
        assert ch.mask.sum(axis=1).tolist() == [2, 3, 2]


@pytest.mark.parametrize("bad, match", [
    ({"prompt": "p", "chosen": " a", "rejected": " a", "user": 1}, "appears twice"),
    ({"prompt": "p", "chosen": "  ", "rejected": " a", "user": 1}, "empty response"),
    ({"prompt": "p", "chosen": " a", "rejected": " b"}, "missing user"),
    ({"prompt": "p", "chosen": " a", "user": 1}, "missing field 'rejected'"),
    ({"prompt": "p", "chosen": 3, "rejected": " b", "user": 1}, "must be strings"),
])
def test_preference_records_bad_inputs(bad, match):
    with pytest.raises(ValueError, match=match):
        load_preference_records(_recs() + [bad])


def test_preference_record_duplicates_policy():
    recs = _recs() + [dict(_recs()[0])]
    assert len(load_preference_records(recs)[0]) == 4
    assert len(load_preference_records(recs, duplicates="last")[0]) == 3
    with pytest.raises(ValueError, match="duplicates records"):
        load_preference_records(recs, duplicates="error")


@settings(max_examples=40)
@given(seed=st.integers(0, 10_000), tau=st.floats(-3, 3))
def test_ratings_as_choices_against_an_outside_option_have_the_same_likelihood(seed, tau):
    """sigma(R - tau) is Bradley-Terry against an outside option of utility tau: per user, the weighted
    log-likelihood of the ratings equals that of the converted choices (labels 1/2 and weight 0 too)."""
    rng = np.random.default_rng(seed)
    M, n_items, N = 30, 6, 4
    r = Ratings(user=np.r_[np.arange(N), rng.integers(0, N, M - N)], segment=rng.integers(0, n_items, M),
                label=rng.choice([0.0, 0.5, 1.0], M), weight=rng.choice([0.0, 0.5, 1.0, 2.0], M),
                allow_duplicates=True)
    R = rng.normal(size=n_items) * 2
    ch = ratings_to_choices(r, n_items=n_items)
    u = np.r_[R, tau][ch.options]
    ll_choice = np.bincount(ch.user, ch.weight * choice_loglik(u, ch.chosen), minlength=N)
    ll_rating = np.bincount(r.user, rating_loglik(R[r.segment], r.label, tau, r.weight), minlength=N)
    np.testing.assert_allclose(ll_choice, ll_rating, rtol=1e-12, atol=1e-12)


def test_ratings_as_choices_with_item_features_are_a_logit_over_the_features():
    """With item features x_j the converted choices' utility difference is theta[:d] . x_j + theta[d]: their
    log-likelihood under theta equals the ratings' under R_j - tau = that value."""
    rng = np.random.default_rng(3)
    M, n_items, N, d = 40, 7, 5, 3
    r = Ratings(user=np.r_[np.arange(N), rng.integers(0, N, M - N)], segment=rng.integers(0, n_items, M),
                label=rng.choice([0.0, 0.5, 1.0], M), allow_duplicates=True)
    X = rng.normal(size=(n_items, d))
    theta = rng.normal(size=d + 1)
    ch = ratings_to_choices(r, n_items, item_features=X)
    ll_choice = (ch.weight * choice_loglik(ch.features @ theta, ch.chosen)).sum()
    ll_rating = rating_loglik(X[r.segment] @ theta[:d] + theta[d], r.label, 0.0, r.weight).sum()
    np.testing.assert_allclose(ll_choice, ll_rating, rtol=1e-12)
    with pytest.raises(ValueError, match="item_features"):
        ratings_to_choices(r, n_items, item_features=X[:3])


def test_time_column_orders_duplicates_by_number_or_date_and_refuses_garbage():
    df = pd.DataFrame({"user": [0, 0, 1], "item": [0, 0, 1], "label": [1.0, 0.0, 1.0],
                       "t": ["2024-01-02", "2024-01-01", "2024-01-03"]})
    # (user 0, item 0) twice: "last" is the later date (label 1), not the later row (label 0)
    np.testing.assert_array_equal(load_ratings(df, time="t").ratings.label, [1.0, 1.0])
    np.testing.assert_array_equal(load_ratings(df.assign(t=[2, 1, 3]), time="t").ratings.label, [1.0, 1.0])
    with pytest.raises(ValueError, match="'t' has values \\['x'\\]"):
        load_ratings(df.assign(t=["x", "2024-01-01", "2024-01-03"]), time="t")
