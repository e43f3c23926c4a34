"""Bring your own preference data: loaders from the formats researchers have into the package's one
representation (:mod:`pluralign.data`), keeping the original ids as names.

* :func:`load_ratings` — a long table (CSV / Parquet / JSON lines file, or a pandas DataFrame) with one
  row per (user, item, label): good / bad / "equal" ratings, optional weight and time columns.
* :func:`load_polis` — a vote export of the Polis deliberation platform: ``votes.csv`` (``voter-id``,
  ``comment-id``, ``vote`` in {-1, 0, 1}, optional ``timestamp``), optional ``comments.csv``
  (``comment-id``, ``comment-body``) and ``participants-votes.csv`` (``participant``, ``group-id``).
* :func:`load_preference_records` — preference records in trl's ``prompt`` / ``chosen`` / ``rejected``
  format with a user column (``rejected`` a list for k-wise records), from a list of dicts, a JSON / JSON
  lines / CSV / Parquet file, a DataFrame or a Hugging Face ``datasets.Dataset``.
* :func:`ratings_to_choices` — a rating as a binary choice between the item and an outside option.

Documented policies (each loader's arguments):

* Duplicates — the same user rating the same item twice: ``duplicates="last"`` (default: the last vote
  wins, by the time column when there is one, else by file order; what Polis itself does with a changed
  vote), ``"error"`` (reject, naming the first duplicated pairs) or ``"keep"`` (independent records).
* Polis "pass" (vote 0) — ``pass_vote="skip"`` (default: kept as a record of weight 0 and label 1/2,
  B-Pref's "skip": it carries no information but is counted), ``"equal"`` (label 1/2 with full weight,
  B-Pref's "equal": the user finds the comment neither good nor bad) or ``"drop"`` (removed).
* Vote signs — 1 = agree (label 1), -1 = disagree (label 0), 0 = pass: the convention of the Polis data
  export's ``votes.csv``.

Every malformed input raises a ``ValueError`` that names the file or column and the problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pluralign.data import LABELS, Choices, Ratings, from_trl_records

__all__ = [
    "RatingTable",
    "read_table",
    "load_ratings",
    "load_polis",
    "load_preference_records",
    "ratings_to_choices",
]

DUPLICATES = ("last", "error", "keep")
PASS_VOTES = ("skip", "equal", "drop")


@dataclass(frozen=True, eq=False)
class RatingTable:
    """Ratings with the names behind their indices.

    ``ratings.segment`` indexes ``item_names`` (the original item ids), ``ratings.user_names`` holds the
    original user ids; ``item_texts`` (optional) the items' texts; ``groups`` (optional) one group id per
    user (e.g. the platform's own opinion groups), ``None`` where a user has none."""

    ratings: Ratings
    item_names: np.ndarray
    item_texts: list[str] | None = None
    groups: np.ndarray | None = None
    source: str = ""

    @property
    def n_items(self) -> int:
        return int(len(self.item_names))

    def vote_matrix(self) -> np.ndarray:
        """(n_users, n_items) labels in {0, 1/2, 1}, NaN where a user did not rate an item (weight-0
        records count as not rated)."""
        r = self.ratings
        M = np.full((r.n_users, self.n_items), np.nan)
        keep = r.weight > 0
        M[r.user[keep], r.segment[keep]] = r.label[keep]
        return M


# --------------------------------------------------------------------------- tables
def _pandas():
    try:
        import pandas as pd
    except ModuleNotFoundError:  # pragma: no cover - pandas is a dependency
        raise ValueError("source: reading tables needs pandas (pip install pandas)") from None
    return pd


def read_table(source, name: str = "source"):
    """A pandas DataFrame from a DataFrame, a mapping of columns, or a ``.csv`` / ``.tsv`` / ``.parquet`` /
    ``.json`` / ``.jsonl`` file. ``name`` is used in error messages."""
    pd = _pandas()
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if isinstance(source, Mapping):
        try:
            return pd.DataFrame(dict(source))
        except ValueError as exc:
            raise ValueError(f"{name}: cannot be read as a table ({exc})") from None
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"{name}: expected a file path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"{name}: no such file {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True)
        if suffix == ".json":
            return pd.read_json(path)
    except ImportError as exc:
        raise ValueError(f"{name}: reading {suffix} files needs an extra package ({exc})") from None
    except Exception as exc:  # pandas raises many parser error types
        raise ValueError(f"{name}: {path} is not a readable {suffix[1:]} table ({type(exc).__name__}: {exc})") from None
    raise ValueError(f"{name}: unknown file type {suffix!r} (expected .csv, .tsv, .parquet, .json or .jsonl)")


def _column(df, col: str, name: str):
    if col not in df.columns:
        raise ValueError(f"{name}: no column {col!r} (columns: {list(map(str, df.columns))[:12]})")
    s = df[col]
    if s.isna().any():
        rows = np.flatnonzero(s.isna().to_numpy())[:5].tolist()
        raise ValueError(f"{name}: column {col!r} has missing values (rows {rows})")
    return s


def _numeric(s, col: str, name: str) -> np.ndarray:
    pd = _pandas()
    v = pd.to_numeric(s, errors="coerce")
    if v.isna().any():
        bad = s[v.isna()].astype(str).unique()[:5].tolist()
        raise ValueError(f"{name}: column {col!r} has non-numeric values {bad}")
    a = v.to_numpy(dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: column {col!r} has inf values")
    return a


def _times(df, col: str, name: str):
    """The time column ``col`` as sort keys: numbers (e.g. Polis' epoch milliseconds), else datetimes or
    date strings (ISO 8601 and the like, parsed by pandas); ValueError naming the column when some value
    is neither, or missing (duplicates resolved by garbage times would be silent garbage)."""
    pd = _pandas()
    t = df[col]
    if not pd.api.types.is_datetime64_any_dtype(t):
        num = pd.to_numeric(t, errors="coerce")
        if not num.isna().any():
            return _numeric(t, col, name)  # finite numbers (inf refused there)
        try:
            t = pd.to_datetime(t, errors="coerce", format="mixed")
        except (TypeError, ValueError):
            t = pd.Series(pd.NaT, index=t.index)
    if t.isna().any():
        bad = df[col][t.isna()].astype(str).unique()[:5].tolist()
        raise ValueError(f"{name}: column {col!r} has values {bad} that are neither numbers nor dates")
    return t


def _factorize(values) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..n-1 in sorted order of the original ids (first appearance when ids of mixed types do not
    sort), and the original ids."""
    pd = _pandas()
    try:
        codes, uniques = pd.factorize(pd.Series(values), sort=True)
    except TypeError:
        codes, uniques = pd.factorize(pd.Series(values), sort=False)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _apply_duplicates(df, keys: list[str], duplicates: str, time: str | None, name: str):
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates: must be one of {DUPLICATES}, got {duplicates!r}")
    dup = df.duplicated(keys, keep=False)
    if not dup.any() or duplicates == "keep":
        return df
    if duplicates == "error":
        pairs = df.loc[dup, keys].drop_duplicates().head(5).to_numpy().tolist()
        raise ValueError(f"{name}: duplicate ({', '.join(keys)}) records, e.g. {pairs} "
                         "(pass duplicates='last' to keep the last, or 'keep' to keep all)")
    order = df.sort_values(time, kind="stable") if time is not None else df
    return order.drop_duplicates(keys, keep="last").sort_index()


def _ratings_from_frame(df, user: str, item: str, label_values: np.ndarray, weight: np.ndarray,
                        item_texts: Mapping | None, groups: Mapping | None, source: str) -> RatingTable:
    if len(df) == 0:
        raise ValueError(f"{source}: no records left to load")
    u, user_names = _factorize(df[user].to_numpy())
    s, item_names = _factorize(df[item].to_numpy())
    # after _apply_duplicates only duplicates="keep" leaves repeated pairs: independent records by request
    ratings = Ratings(user=u, segment=s, label=label_values, weight=weight, user_names=user_names,
                      allow_duplicates=True)
    texts = None
    if item_texts is not None:
        texts = [str(item_texts.get(k, "")) for k in item_names]
    grp = None
    if groups is not None:
        grp = np.asarray([groups.get(k) for k in user_names], dtype=object)
    return RatingTable(ratings=ratings, item_names=item_names, item_texts=texts, groups=grp, source=source)


def load_ratings(source, *, user: str = "user", item: str = "item", label: str = "label",
                 weight: str | None = None, time: str | None = None, label_map: Mapping | None = None,
                 duplicates: str = "last") -> RatingTable:
    """Ratings from a long table, one row per (user, item, label).

    ``label`` values must be 0 (bad), 1/2 (equal) or 1 (good), or be mapped there by ``label_map`` (e.g.
    ``{"agree": 1, "disagree": 0}`` or ``{-1: 0, 1: 1}``); ``weight`` (optional column) >= 0, 0 = skip;
    ``time`` (optional column) orders duplicates for ``duplicates="last"``. Users and items keep their
    original ids as names (:class:`RatingTable`)."""
    df = read_table(source, "source")
    name = str(source) if isinstance(source, (str, os.PathLike)) else "source"
    for col in (user, item, label):
        _column(df, col, name)
    if time is not None:
        _column(df, time, name)
        df = df.assign(_time=_times(df, time, name))
    raw = df[label]
    if label_map is not None:
        mapped = raw.map(dict(label_map))
        if mapped.isna().any():
            bad = raw[mapped.isna()].astype(str).unique()[:5].tolist()
            raise ValueError(f"{name}: column {label!r} has values {bad} that label_map does not map")
        raw = mapped
    y = _numeric(raw, label, name)
    bad = ~np.isin(y, LABELS)
    if bad.any():
        raise ValueError(f"{name}: column {label!r} has labels {np.unique(y[bad])[:5].tolist()} outside "
                         "{0, 1/2, 1} (map them with label_map)")
    df = df.assign(_label=y)
    if weight is not None:
        w = _numeric(_column(df, weight, name), weight, name)
        if np.any(w < 0):
            raise ValueError(f"{name}: column {weight!r} has negative weights")
        df = df.assign(_weight=w)
    else:
        df = df.assign(_weight=1.0)
    df = _apply_duplicates(df, [user, item], duplicates, None if time is None else "_time", name)
    return _ratings_from_frame(df, user, item, df["_label"].to_numpy(float), df["_weight"].to_numpy(float),
                               None, None, name)


def _side_table(source, folder: Path | None, default: str, columns: tuple[str, ...], name: str):
    """A companion table of an export: ``source`` if given, else ``folder/default`` if it exists, else None;
    it must have ``columns``."""
    if source is None and folder is not None and (folder / default).is_file():
        source = folder / default
    if source is None:
        return None
    df = read_table(source, name)
    for col in columns:
        if col not in df.columns:
            raise ValueError(f"{name}: no column {col!r} (columns: {list(map(str, df.columns))[:12]})")
    return df


def load_polis(votes, comments=None, participants=None, *, duplicates: str = "last",
               pass_vote: str = "skip") -> RatingTable:
    """Ratings from a Polis vote export.

    ``votes`` is the export's ``votes.csv`` (or its folder, or a DataFrame) with ``voter-id``,
    ``comment-id`` and ``vote`` (1 agree, -1 disagree, 0 pass) and optionally ``timestamp``;
    ``comments`` (default: ``comments.csv`` beside it, if present) gives ``comment-body`` per
    ``comment-id``; ``participants`` (default: ``participants-votes.csv`` beside it, if present) gives
    ``group-id`` per ``participant``. See the module docstring for the duplicate and pass policies."""
    if pass_vote not in PASS_VOTES:
        raise ValueError(f"pass_vote: must be one of {PASS_VOTES}, got {pass_vote!r}")
    folder = None
    if isinstance(votes, (str, os.PathLike)) and Path(votes).is_dir():
        folder = Path(votes)
        votes = folder / "votes.csv"
    elif isinstance(votes, (str, os.PathLike)):
        folder = Path(votes).parent
    df = read_table(votes, "votes")
    name = str(votes) if isinstance(votes, (str, os.PathLike)) else "votes"
    for col in ("voter-id", "comment-id", "vote"):
        _column(df, col, name)
    v = _numeric(df["vote"], "vote", name)
    bad = ~np.isin(v, (-1.0, 0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name}: column 'vote' has values {np.unique(v[bad])[:5].tolist()} outside {{-1, 0, 1}}")
    time = None
    if "timestamp" in df.columns:
        df, time = df.assign(_time=_times(df, "timestamp", name)), "_time"
    df = df.assign(_vote=v)
    df = _apply_duplicates(df, ["voter-id", "comment-id"], duplicates, time, name)
    if pass_vote == "drop":
        df = df[df["_vote"] != 0]
    v = df["_vote"].to_numpy(float)
    label = np.where(v > 0, 1.0, np.where(v < 0, 0.0, 0.5))
    weight = np.where((v == 0) & (pass_vote == "skip"), 0.0, 1.0)

    texts = groups = None
    cdf = _side_table(comments, folder, "comments.csv", ("comment-id", "comment-body"), "comments")
    if cdf is not None:
        texts = dict(zip(cdf["comment-id"], cdf["comment-body"].fillna("").astype(str)))
    pdf = _side_table(participants, folder, "participants-votes.csv", ("participant", "group-id"), "participants")
    if pdf is not None:
        groups = {k: (None if (g is None or (isinstance(g, float) and np.isnan(g))) else g)
                  for k, g in zip(pdf["participant"], pdf["group-id"])}
    return _ratings_from_frame(df, "voter-id", "comment-id", label, weight, texts, groups, name)


# --------------------------------------------------------------------------- preference records
def _records(source, user: str) -> list[dict]:
    if hasattr(source, "to_list") and hasattr(source, "column_names"):  # datasets.Dataset
        return [dict(r) for r in source]
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        if not all(isinstance(r, Mapping) for r in source):
            raise ValueError("records: every record must be a mapping with prompt / chosen / rejected")
        return [dict(r) for r in source]
    df = read_table(source, "records")
    return df.to_dict(orient="records")


def load_preference_records(source, *, user: str = "user", duplicates: str = "keep"):
    """Choices from trl-style preference records with a user column.

    ``source``: a list of dicts, a DataFrame, a Hugging Face ``datasets.Dataset`` or a JSON / JSON lines /
    CSV / Parquet file; each record has ``prompt``, ``chosen``, ``rejected`` (a string, or a list of
    strings for a k-wise record) and ``user``. A record whose responses are empty or repeat one another
    is rejected. ``duplicates``: the same user giving the same (prompt, set of responses) twice is kept
    (``"keep"``, default: repeated judgements are data), reduced to the last (``"last"``) or rejected
    (``"error"``). Returns (choices, prompts, responses) as :func:`pluralign.data.from_trl_records`."""
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates: must be one of {DUPLICATES}, got {duplicates!r}")
    recs = _records(source, user)
    if not recs:
        raise ValueError("records: empty")
    seen: dict[tuple, int] = {}
    keep = []
    for i, r in enumerate(recs):
        if user not in r or r[user] is None or (isinstance(r[user], float) and np.isnan(r[user])):
            raise ValueError(f"records[{i}]: missing user column {user!r}")
        for key in ("prompt", "chosen", "rejected"):
            if key not in r:
                raise ValueError(f"records[{i}]: missing field {key!r}")
        rej = r["rejected"]
        if isinstance(rej, np.ndarray):
            rej = rej.tolist()
        if not isinstance(rej, (str, list, tuple)):
            raise ValueError(f"records[{i}]: 'rejected' must be a string or a list of strings, got {type(rej).__name__}")
        rej = [rej] if isinstance(rej, str) else list(rej)
        if not rej:
            raise ValueError(f"records[{i}]: 'rejected' is empty")
        texts = [r["chosen"], *rej]
        if not all(isinstance(t, str) for t in texts) or not isinstance(r["prompt"], str):
            raise ValueError(f"records[{i}]: prompt, chosen and rejected must be strings")
        if any(not t.strip() for t in texts):
            raise ValueError(f"records[{i}]: an empty response")
        if len(set(texts)) < len(texts):
            raise ValueError(f"records[{i}]: a response appears twice in one record")
        key = (r[user], r["prompt"], frozenset(texts))
        if key in seen and duplicates == "error":
            raise ValueError(f"records[{i}]: duplicates records[{seen[key]}] (same user, prompt and responses)")
        if key in seen and duplicates == "last":
            keep[seen[key]] = None
        seen[key] = len(keep)
        keep.append({"prompt": r["prompt"], "chosen": r["chosen"], "rejected": rej, "user": r[user],
                     "id": r.get("id", i)})
    return from_trl_records([r for r in keep if r is not None])


# --------------------------------------------------------------------------- conversions
def ratings_to_choices(ratings: Ratings, n_items: int | None = None, item_features=None) -> Choices:
    """Each rating as a binary choice between its item and an outside option (option id ``n_items``).

    Threshold-logistic ratings are exactly Bradley-Terry comparisons against the outside option:
    P(good | R_j) = sigma(R_j - tau) = P(item j beats the outside option) when the outside option's
    utility is tau. Label 1 chooses the item, label 0 the outside option, and label 1/2 becomes two
    records of half the weight, one each way (their log-likelihood is (1/2) log sigma + (1/2) log(1 -
    sigma), the rating's). Weight-0 ratings stay weight 0. Users keep their names; ``context`` is 0.

    ``item_features`` (n_items, d), optional: the choices then carry option features, the item's
    features plus a constant 1 and all zeros for the outside option, so a taste vector theta gives the
    rating utility R_j - tau = theta[:d] . x_j + theta[d] (a latent-class logit over item features)."""
    if not isinstance(ratings, Ratings):
        raise ValueError(f"ratings: expected a pluralign.data.Ratings, got {type(ratings).__name__}")
    if ratings.segment is None:
        raise ValueError("ratings: needs item (segment) ids to be turned into choices")
    n_items = int(ratings.segment.max()) + 1 if n_items is None else int(n_items)
    if ratings.segment.max() >= n_items:
        raise ValueError(f"n_items: item id {int(ratings.segment.max())} out of range for n_items={n_items}")
    y, w = ratings.label, ratings.weight
    half = y == 0.5
    idx = np.r_[np.arange(len(ratings)), np.flatnonzero(half)]
    chosen = np.r_[np.where(y == 1.0, 0, 1), np.zeros(int(half.sum()), dtype=np.int64)]
    chosen[np.flatnonzero(half)] = 1
    weight = w[idx] * np.where(np.r_[half, np.ones(int(half.sum()), bool)], 0.5, 1.0)
    options = np.stack([ratings.segment[idx], np.full(idx.size, n_items)], axis=1)
    features = None
    if item_features is not None:
        F = np.asarray(item_features, dtype=float)
        if F.ndim != 2 or F.shape[0] != n_items or not np.all(np.isfinite(F)):
            raise ValueError(f"item_features: expected a finite ({n_items}, d) array, got shape {F.shape}")
        Fx = np.hstack([F, np.ones((n_items, 1))])
        features = np.zeros((idx.size, 2, Fx.shape[1]))
        features[:, 0] = Fx[ratings.segment[idx]]
    return Choices(user=ratings.user[idx], options=options, features=features, chosen=chosen, weight=weight,
                   n_users=ratings.n_users, user_names=ratings.user_names, ids=np.arange(idx.size))
