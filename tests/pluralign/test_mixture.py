"""PreferenceMixture / select_k (issue 18 items 3, 5 and the done-when)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pluralign.data import Choices, Ratings
from pluralign.em import adjusted_rand_index
from pluralign.loaders import load_polis, load_preference_records, load_ratings
from pluralign.mixture import PreferenceMixture, select_k
from pluralign.testing._votes import write_planted_polis


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    write_planted_polis(folder, n_voters=60, n_items=40, seed=0)
    return load_polis(folder)


def test_select_k_picks_two_and_recovers_the_planted_groups(planted):
    sel = select_k(planted, [1, 2, 3], cv=3, seed=0, n_restarts=2)
    assert sel.best_k == 2 and sel.best_k_bic == 2
    truth = np.asarray(planted.groups, dtype=int)
    assert adjusted_rand_index(truth, sel.fits[2].labels_) >= 0.9
    assert {"heldout_ll", "bic", "aic", "stability", "n_params"} <= set(sel.rows[0])


def test_estimator_api(planted):
    r = planted.ratings
    pm = PreferenceMixture(2, "ratings", seed=0, n_restarts=2).fit(planted)
    P = pm.predict_proba(planted)
    assert P.shape == (r.n_users, 2) and np.allclose(P.sum(1), 1)
    assert pm.n_params_ == 2 * 40 + 1
    assert np.isfinite(pm.score(r)) and pm.score(r) < 0
    assert pm.bic(r) > pm.aic(r) > 0
    one = r.subset(r.user == 0)
    np.testing.assert_allclose(pm.posterior(one), P[0], atol=1e-12)


def test_choices_kind_with_onehot_options():
    rng = np.random.default_rng(0)
    N, per = 20, 8
    user = np.repeat(np.arange(N), per)
    opts = np.stack([rng.permutation(5)[:2] for _ in range(N * per)])
    util = np.where((np.arange(N) % 2)[user][:, None] == 0, opts, 4 - opts).astype(float)
    chosen = (util[:, 1] > util[:, 0]).astype(int)
    ch = Choices(user=user, options=opts, chosen=chosen)
    pm = PreferenceMixture(2, "choices", seed=0, n_restarts=2).fit(ch)
    assert adjusted_rand_index(np.arange(N) % 2, pm.labels_) == 1.0
    assert pm.predict_proba(ch).shape == (N, 2)


# --------------------------------------------------------------------------- bad input, property test
def _accepts_only_named_value_errors(call, names):
    try:
        call()
    except ValueError as exc:
        msg = str(exc)
        assert any(n in msg for n in names), f"ValueError without an argument name: {msg!r}"
    # any other exception type propagates and fails the test


bad_values = st.one_of(
    st.just(np.nan), st.just(-1), st.just(2.5), st.just("x"), st.just(None), st.just(10**6), st.just(True))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(["user", "item", "label"]), bad=bad_values, pos=st.integers(0, 5),
       dup=st.booleans(), drop_user=st.booleans())
def test_load_ratings_and_estimator_reject_bad_input_with_named_value_errors(field, bad, pos, dup, drop_user):
    import pandas as pd

    df = pd.DataFrame({"user": [0, 0, 1, 1, 2, 2], "item": [0, 1, 0, 1, 0, 1],
                       "label": [1.0, 0.0, 1.0, 0.5, 0.0, 1.0]}, dtype=object)
    df.loc[pos, field] = bad
    if dup:
        df = pd.concat([df, df.iloc[:1]])
    names = ("user", "item", "label", "source", "duplicates", "data", "segment", "weight")
    _accepts_only_named_value_errors(lambda: load_ratings(df, duplicates="error" if dup else "last"), names)
    if field == "label" and not isinstance(bad, bool):  # not a label under any reading (True counts as 1)
        with pytest.raises(ValueError, match="label"):
            load_ratings(df, duplicates="keep")
    # the Ratings constructor and the estimator on raw arrays
    user = np.array([0, 0, 1, 1, 2, 2], dtype=object)
    seg = np.array([0, 1, 0, 1, 0, 1], dtype=object)
    lab = np.array([1.0, 0.0, 1.0, 0.5, 0.0, 1.0], dtype=object)
    arr = {"user": user, "item": seg, "label": lab}[field]
    arr[pos] = bad
    if drop_user:
        user = np.where(user == 1, 3, user) if field != "user" else user

    def build_and_fit():
        r = Ratings(user=user, segment=seg, label=lab)
        PreferenceMixture(2, "ratings", n_restarts=1, max_iter=5).fit(r)

    _accepts_only_named_value_errors(build_and_fit, names)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(["voter-id", "comment-id", "vote", "timestamp"]), bad=bad_values,
       pos=st.integers(0, 5), dup=st.booleans())
def test_load_polis_rejects_bad_votes_with_named_value_errors(field, bad, pos, dup):
    import pandas as pd

    df = pd.DataFrame({"timestamp": [1, 2, 3, 4, 5, 6], "voter-id": [7, 7, 8, 8, 9, 9],
                       "comment-id": [1, 2, 1, 2, 1, 2], "vote": [1, -1, 0, 1, -1, 1]}, dtype=object)
    df.loc[pos, field] = bad
    if dup:
        df = pd.concat([df, df.iloc[:1]])
    names = ("votes", "vote", "voter-id", "comment-id", "duplicates", "segment", "user", "timestamp")
    _accepts_only_named_value_errors(lambda: load_polis(df, duplicates="error" if dup else "last"), names)
    # values no reading makes valid are refused, not loaded (ids may be any label; True counts as 1)
    garbage = (field == "vote" and not isinstance(bad, bool) and bad not in (-1,)) or (
        field == "timestamp" and (bad is None or isinstance(bad, str) or (isinstance(bad, float) and np.isnan(bad))))
    if garbage:
        with pytest.raises(ValueError, match=field):
            load_polis(df, duplicates="keep")


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(["prompt", "chosen", "rejected", "user"]),
       bad=st.one_of(bad_values, st.just(""), st.just([]), st.just(["a", "a"]), st.just(" b")),
       pos=st.integers(0, 2), drop=st.booleans())
def test_load_preference_records_rejects_bad_records_with_named_value_errors(field, bad, pos, drop):
    recs = [{"prompt": "p", "chosen": " a", "rejected": " b", "user": "u1"},
            {"prompt": "p", "chosen": " b", "rejected": [" a", " c"], "user": "u2"},
            {"prompt": "q", "chosen": " c", "rejected": " a", "user": "u1"}]
    if drop:
        del recs[pos][field]
    else:
        recs[pos][field] = bad
    names = ("records", "user", "prompt", "chosen", "rejected", "response", "duplicates")
    _accepts_only_named_value_errors(lambda: load_preference_records(recs), names)


@pytest.mark.parametrize("kwargs", [{"n_components": "2"}, {"n_components": 2.5}, {"kind": "votes"},
                                    {"ridge": 0.0}, {"ridge": np.nan}, {"n_restarts": 0}])
def test_estimator_settings_are_validated(kwargs):
    args = {"n_components": 2, **kwargs}
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        PreferenceMixture(**args)


def test_estimator_rejects_transposed_or_wrong_data(planted):
    pm = PreferenceMixture(2, seed=0, n_restarts=1).fit(planted)
    with pytest.raises(ValueError, match="data"):
        pm.predict_proba(planted.vote_matrix().T)
    with pytest.raises(ValueError, match="data"):
        pm.score(Ratings(user=[0], segment=[99], label=[1.0]))
    with pytest.raises(ValueError, match="PreferenceMixture"):
        PreferenceMixture(2).predict_proba(planted)
