"""One representation of preference feedback (DESIGN.md, "One representation of feedback").

* :class:`Ratings`  — (user, segment or its features, label in {0, 1/2, 1}, weight >= 0). Covers PREC's
  good / bad labels, B-Pref's "equal" (label 1/2) and "skip" (weight 0).
* :class:`Choices`  — (user, context, n >= 2 options, chosen index). Binary comparisons (n = 2),
  ternary (n = 3) and k-wise; options of different sizes in one set via ``mask``.
* :class:`Rankings` — (user, context, n options, an ordering of the top k of them): Plackett-Luce data.

Every record set stores its per-record fields as arrays whose first axis is the record axis, users as
integers ``0..n_users-1`` (with the original names in ``user_names``) and unique record ``ids``. Input is
validated where it enters: a ``ValueError`` names the field and the problem (NaN / inf, shape mismatch,
chosen index out of range, label outside {0, 1/2, 1}, negative weight, a user without data, duplicate ids).

Splits: :func:`split_users` (seen / unseen users) and :func:`split_within_users` (train / test records of
each user). Conversion to and from trl-style records (``prompt`` / ``chosen`` / ``rejected``), extended to
k-wise records whose ``rejected`` is a list: :func:`to_trl_records`, :func:`from_trl_records`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from pluralign.seeding import as_generator
from pluralign.theory.validation import as_finite_array

__all__ = [
    "Ratings",
    "Choices",
    "Rankings",
    "LABELS",
    "split_users",
    "split_within_users",
    "to_trl_records",
    "from_trl_records",
]

LABELS = (0.0, 0.5, 1.0)
"""The admissible rating labels: bad, equal (B-Pref's 'equal'), good."""

T = TypeVar("T", bound="_Feedback")


# --------------------------------------------------------------------------- validation helpers
def _int_array(x, name: str, ndim: int) -> np.ndarray:
    try:
        a = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy raises many types here
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {a.shape}")
    if a.size == 0:
        return a.astype(np.int64)
    if a.dtype.kind == "b":
        raise ValueError(f"{name}: expected integers, got booleans")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: contains NaN or inf")
        if not np.all(a == np.round(a)):
            raise ValueError(f"{name}: expected integers, got non-integer values")
        if np.any(np.abs(a) > 2**53):
            raise ValueError(f"{name}: integer values too large")
    elif a.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def _float_array(x, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    a = as_finite_array(x, name)
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if a.ndim not in ndims:
        raise ValueError(f"{name}: expected {' or '.join(map(str, ndims))} dimensions, got shape {a.shape}")
    return a


def _check_len(a: np.ndarray, name: str, n: int) -> None:
    if a.shape[0] != n:
        raise ValueError(f"{name}: shape mismatch, has {a.shape[0]} rows but there are {n} records")


# --------------------------------------------------------------------------- base class
@dataclass(frozen=True, eq=False)
class _Feedback:
    """Fields shared by every kind of feedback; subclasses add their per-record arrays."""

    user: np.ndarray
    weight: np.ndarray | None = None
    ids: np.ndarray | None = None
    n_users: int | None = None
    user_names: np.ndarray | None = None

    # names of the per-record array fields (first axis = records); extended by subclasses
    _record_fields: ClassVar[tuple[str, ...]] = ("user", "weight", "ids")
    _optional_fields: ClassVar[tuple[str, ...]] = ()

    # ---- construction / validation
    def __post_init__(self) -> None:
        user = _int_array(self.user, "user", 1)
        n = user.shape[0]
        if n == 0:
            raise ValueError("user: no records")
        if np.any(user < 0):
            raise ValueError("user: user indices must be >= 0")
        n_users = int(user.max()) + 1 if self.n_users is None else int(self.n_users)
        if np.any(user >= n_users):
            raise ValueError(f"user: user index {int(user.max())} out of range for n_users={n_users}")
        missing = np.setdiff1d(np.arange(n_users), user)
        if missing.size:
            raise ValueError(
                f"user: user without data: {missing[:5].tolist()}{' ...' if missing.size > 5 else ''} "
                f"(every user in 0..{n_users - 1} needs at least one record)"
            )
        weight = np.ones(n) if self.weight is None else _float_array(self.weight, "weight", 1)
        _check_len(weight, "weight", n)
        if np.any(weight < 0):
            raise ValueError("weight: negative weight")
        ids = np.arange(n) if self.ids is None else np.asarray(self.ids)
        if ids.ndim != 1:
            raise ValueError(f"ids: expected a 1-d array, got shape {ids.shape}")
        _check_len(ids, "ids", n)
        uniq, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"ids: duplicate ids {uniq[counts > 1][:5].tolist()}")
        names = np.arange(n_users) if self.user_names is None else np.asarray(self.user_names)
        if names.shape != (n_users,):
            raise ValueError(f"user_names: expected {n_users} names, got shape {names.shape}")
        object.__setattr__(self, "user", user)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "n_users", n_users)
        object.__setattr__(self, "user_names", names)
        self._validate()

    def _validate(self) -> None:  # overridden
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(records={len(self)}, users={self.n_users})"

    # ---- generic record operations
    def __len__(self) -> int:
        return int(self.user.shape[0])

    def subset(self: T, idx, *, reindex_users: bool = True) -> T:
        """The records ``idx`` (indices or a boolean mask). With ``reindex_users`` the users present are
        renumbered 0..n-1 and ``user_names`` keeps their original names."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"idx: boolean mask of shape {idx.shape} for {len(self)} records")
            idx = np.flatnonzero(idx)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in self._record_fields and v is not None:
                kwargs[f.name] = np.asarray(v)[idx]
            else:
                kwargs[f.name] = v
        if reindex_users:
            present, new_user = np.unique(kwargs["user"], return_inverse=True)
            kwargs["user"] = new_user
            kwargs["n_users"] = present.shape[0]
            kwargs["user_names"] = self.user_names[present]
        return type(self)(**kwargs)

    def user_indices(self) -> list[np.ndarray]:
        """For each user 0..n_users-1, the indices of its records (in record order)."""
        order = np.argsort(self.user, kind="stable")
        bounds = np.searchsorted(self.user[order], np.arange(self.n_users + 1))
        return [order[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    def by_user(self: T) -> dict[Any, T]:
        """One record set per user, keyed by the user's original name."""
        return {_py(self.user_names[u]): self.subset(ix) for u, ix in enumerate(self.user_indices())}

    def counts_per_user(self) -> np.ndarray:
        return np.bincount(self.user, minlength=self.n_users)


# --------------------------------------------------------------------------- ratings
@dataclass(frozen=True, eq=False, repr=False)
class Ratings(_Feedback):
    """Single-segment ratings: ``label`` in {0, 1/2, 1} of ``segment`` (an id) or its ``features``.

    ``weight`` 0 is B-Pref's "skip"; label 1/2 is its "equal".

    Duplicates (a stated policy). Two records of the same user for the same ``segment`` id are rejected
    with a ``ValueError`` naming ``segment`` unless ``allow_duplicates=True``, which declares them
    independent labels of one segment (what a teacher re-queried on the same segment gives: B-Pref
    teachers, the PREC bandit twin, ``load_ratings(..., duplicates="keep")``). To keep one vote per pair,
    deduplicate before building (the loaders' ``duplicates="last"``). Ratings given by ``features`` only
    carry no segment ids and are not checked.
    """

    segment: np.ndarray | None = None
    features: np.ndarray | None = None
    label: np.ndarray | None = None
    allow_duplicates: bool = False
    """Accept repeated (user, segment) records as independent labels (default: reject them)."""

    _record_fields: ClassVar[tuple[str, ...]] = _Feedback._record_fields + ("segment", "features", "label")

    def _validate(self) -> None:
        n = len(self)
        if self.label is None:
            raise ValueError("label: required")
        label = _float_array(self.label, "label", 1)
        _check_len(label, "label", n)
        bad = ~np.isin(label, LABELS)
        if np.any(bad):
            raise ValueError(f"label: label outside {{0, 1/2, 1}}: {np.unique(label[bad])[:5].tolist()}")
        if self.segment is None and self.features is None:
            raise ValueError("segment: a rating needs a segment id or segment features")
        if self.segment is not None:
            seg = _int_array(self.segment, "segment", 1)
            _check_len(seg, "segment", n)
            if not isinstance(self.allow_duplicates, (bool, np.bool_)):
                raise ValueError(f"allow_duplicates: must be True or False, got {self.allow_duplicates!r}")
            if not self.allow_duplicates:
                pairs = np.stack([self.user, seg], axis=1)
                uniq, counts = np.unique(pairs, axis=0, return_counts=True)
                if np.any(counts > 1):
                    dup = [tuple(map(int, r)) for r in uniq[counts > 1][:5]]
                    raise ValueError(
                        f"segment: duplicate (user, segment) records, e.g. {dup}; pass allow_duplicates=True "
                        "to keep them as independent labels, or keep one vote per pair"
                    )
            object.__setattr__(self, "segment", seg)
        if self.features is not None:
            feats = _float_array(self.features, "features", (2, 3))
            _check_len(feats, "features", n)
            object.__setattr__(self, "features", feats)
        object.__setattr__(self, "label", label)


# --------------------------------------------------------------------------- choices
@dataclass(frozen=True, eq=False, repr=False)
class Choices(_Feedback):
    """One choice among n >= 2 options per record.

    ``context`` (M,) prompt / state ids; ``options`` (M, n) option ids, and / or ``features``
    (M, n, d) option features; ``chosen`` (M,) the chosen option's index in 0..n-1. ``mask`` (M, n)
    marks which options exist when sets have different sizes (each set keeps >= 2).
    Binary comparisons are n = 2 (Bradley-Terry-Luce), ternary n = 3.
    """

    context: np.ndarray | None = None
    options: np.ndarray | None = None
    features: np.ndarray | None = None
    chosen: np.ndarray | None = None
    mask: np.ndarray | None = None

    _record_fields: ClassVar[tuple[str, ...]] = _Feedback._record_fields + (
        "context",
        "options",
        "features",
        "chosen",
        "mask",
    )

    @property
    def n_options(self) -> int:
        return int(self.mask.shape[1])

    def _validate_options(self) -> int:
        n = len(self)
        n_opt = None
        if self.options is None and self.features is None:
            raise ValueError("options: a choice needs option ids or option features")
        if self.options is not None:
            opts = _int_array(self.options, "options", 2)
            _check_len(opts, "options", n)
            n_opt = opts.shape[1]
            object.__setattr__(self, "options", opts)
        if self.features is not None:
            feats = _float_array(self.features, "features", 3)
            _check_len(feats, "features", n)
            if n_opt is not None and feats.shape[1] != n_opt:
                raise ValueError(f"features: shape mismatch, {feats.shape[1]} options vs options' {n_opt}")
            n_opt = feats.shape[1]
            object.__setattr__(self, "features", feats)
        if n_opt < 2:
            raise ValueError(f"options: a choice needs n >= 2 options, got {n_opt}")
        context = np.zeros(n, dtype=np.int64) if self.context is None else _int_array(self.context, "context", 1)
        _check_len(context, "context", n)
        object.__setattr__(self, "context", context)
        if self.mask is None:
            mask = np.ones((n, n_opt), dtype=bool)
        else:
            mask = np.asarray(self.mask)
            if mask.dtype != bool:
                raise ValueError(f"mask: expected booleans, got dtype {mask.dtype}")
            if mask.shape != (n, n_opt):
                raise ValueError(f"mask: shape mismatch, expected {(n, n_opt)}, got {mask.shape}")
            if np.any(mask.sum(axis=1) < 2):
                raise ValueError("mask: every choice set needs at least 2 options")
        object.__setattr__(self, "mask", mask)
        return n_opt

    def _validate(self) -> None:
        n_opt = self._validate_options()
        if self.chosen is None:
            raise ValueError("chosen: required")
        chosen = _int_array(self.chosen, "chosen", 1)
        _check_len(chosen, "chosen", len(self))
        if np.any(chosen < 0) or np.any(chosen >= n_opt):
            raise ValueError(f"chosen: chosen index out of range 0..{n_opt - 1}")
        if not np.all(self.mask[np.arange(len(self)), chosen]):
            raise ValueError("chosen: chosen index points at a masked-out option")
        object.__setattr__(self, "chosen", chosen)


# --------------------------------------------------------------------------- rankings
@dataclass(frozen=True, eq=False, repr=False)
class Rankings(Choices):
    """An ordering of the top k of n options per record (k = n - 1 or n is a full ranking).

    ``order`` (M, k): option indices from most to least preferred, distinct and unmasked. ``chosen`` is
    derived: the top option, so a ranking is a choice too (its first Plackett-Luce factor).
    """

    order: np.ndarray | None = None

    _record_fields: ClassVar[tuple[str, ...]] = Choices._record_fields + ("order",)

    def _validate(self) -> None:
        n_opt = self._validate_options()
        if self.order is None:
            raise ValueError("order: required")
        order = _int_array(self.order, "order", 2)
        _check_len(order, "order", len(self))
        k = order.shape[1]
        if k < 1 or k > n_opt:
            raise ValueError(f"order: ranks 1..{n_opt} options, got {k}")
        if np.any(order < 0) or np.any(order >= n_opt):
            raise ValueError(f"order: option index out of range 0..{n_opt - 1}")
        if np.any(np.diff(np.sort(order, axis=1), axis=1) == 0):
            raise ValueError("order: an option appears twice in one ranking")
        if not np.all(np.take_along_axis(self.mask, order, axis=1)):
            raise ValueError("order: ranks a masked-out option")
        if np.any(k > self.mask.sum(axis=1)):
            raise ValueError("order: ranks more options than the set has")
        chosen = order[:, 0]
        if self.chosen is not None and not np.array_equal(_int_array(self.chosen, "chosen", 1), chosen):
            raise ValueError("chosen: must equal the top of order")
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "chosen", chosen)


# --------------------------------------------------------------------------- splits
def split_users(data: T, frac_unseen: float, seed) -> tuple[T, T]:
    """Split by user: a ``frac_unseen`` share of users (at least one, at most all but one) is held out.

    Returns (seen, unseen); each renumbers its users 0..n-1 and keeps the original ``user_names``.
    """
    if not 0.0 < float(frac_unseen) < 1.0:
        raise ValueError(f"frac_unseen: must lie in (0, 1), got {frac_unseen}")
    if data.n_users < 2:
        raise ValueError("data: need at least 2 users to split by user")
    n_unseen = int(np.clip(round(frac_unseen * data.n_users), 1, data.n_users - 1))
    unseen_users = as_generator(seed).permutation(data.n_users)[:n_unseen]
    is_unseen = np.isin(data.user, unseen_users)
    return data.subset(~is_unseen), data.subset(is_unseen)


def split_within_users(data: T, frac_test: float, seed) -> tuple[T, T]:
    """Split each user's records into train / test; a user with r records keeps max(1, ...) for training
    and gives round(frac_test * r) (at most r - 1) to test. Users with a single record stay in train only,
    so the test set may have fewer users (its ``user_names`` tell which)."""
    if not 0.0 < float(frac_test) < 1.0:
        raise ValueError(f"frac_test: must lie in (0, 1), got {frac_test}")
    rng = as_generator(seed)
    test = np.zeros(len(data), dtype=bool)
    for ix in data.user_indices():
        n_test = min(int(round(frac_test * len(ix))), len(ix) - 1)
        if n_test > 0:
            test[rng.choice(ix, size=n_test, replace=False)] = True
    if not test.any():
        raise ValueError("frac_test: too small, no user gives any record to the test split")
    return data.subset(~test, reindex_users=False), data.subset(test, reindex_users=True)


# --------------------------------------------------------------------------- trl-style records
def to_trl_records(
    choices: Choices, prompts: Sequence[str] | Mapping[int, str], responses: Sequence[str] | Mapping[int, str]
) -> list[dict]:
    """trl-style preference records, one per choice.

    A binary choice gives ``{"prompt", "chosen", "rejected"}`` with ``rejected`` a string (trl's format);
    a k-wise choice gives ``rejected`` as the list of the other options (in set order). Every record also
    carries ``"user"`` (the original user name) and ``"id"``. ``prompts[context]`` and
    ``responses[option]`` give the texts.
    """
    if choices.options is None:
        raise ValueError("choices: to_trl_records needs option ids (options), not only features")
    records = []
    for r in range(len(choices)):
        valid = np.flatnonzero(choices.mask[r])
        try:
            prompt = prompts[int(choices.context[r])]
            texts = [responses[int(choices.options[r, j])] for j in valid]
        except (IndexError, KeyError) as exc:
            raise ValueError(f"prompts/responses: no text for id {exc}") from None
        pos = int(np.flatnonzero(valid == choices.chosen[r])[0])
        rejected = texts[:pos] + texts[pos + 1 :]
        records.append(
            {
                "prompt": prompt,
                "chosen": texts[pos],
                "rejected": rejected[0] if len(rejected) == 1 else rejected,
                "user": _py(choices.user_names[choices.user[r]]),
                "id": _py(choices.ids[r]),
            }
        )
    return records


def _py(x):
    return x.item() if isinstance(x, np.generic) else x


def from_trl_records(records: Sequence[Mapping[str, Any]]) -> tuple[Choices, list[str], list[str]]:
    """Build :class:`Choices` from trl-style records (``rejected`` a string or a list of strings).

    Returns (choices, prompts, responses): ``choices.context`` indexes ``prompts`` and
    ``choices.options`` indexes ``responses``. The chosen response is option 0 of its set. A record's
    ``"user"`` (default: one user for all) and ``"id"`` (default: its position) are kept. Sets of
    different sizes are padded and masked.
    """
    if len(records) == 0:
        raise ValueError("records: empty")
    prompt_ix: dict[str, int] = {}
    resp_ix: dict[str, int] = {}
    user_ix: dict[Any, int] = {}
    rows, contexts, users, ids = [], [], [], []
    for i, rec in enumerate(records):
        for key in ("prompt", "chosen", "rejected"):
            if key not in rec:
                raise ValueError(f"records[{i}]: missing field '{key}'")
        rejected = rec["rejected"]
        if not isinstance(rejected, (str, list, tuple)):
            raise ValueError(f"records[{i}]: 'rejected' must be a string or a list of strings, "
                             f"got {type(rejected).__name__}")
        rejected = [rejected] if isinstance(rejected, str) else list(rejected)
        if len(rejected) == 0:
            raise ValueError(f"records[{i}]: 'rejected' is empty")
        texts = [rec["chosen"], *rejected]
        if not all(isinstance(t, str) for t in texts) or not isinstance(rec["prompt"], str):
            raise ValueError(f"records[{i}]: prompt, chosen and rejected must be strings")
        contexts.append(prompt_ix.setdefault(rec["prompt"], len(prompt_ix)))
        rows.append([resp_ix.setdefault(t, len(resp_ix)) for t in texts])
        users.append(user_ix.setdefault(rec.get("user", 0), len(user_ix)))
        ids.append(rec.get("id", i))
    n_opt = max(len(r) for r in rows)
    options = np.zeros((len(rows), n_opt), dtype=np.int64)
    mask = np.zeros((len(rows), n_opt), dtype=bool)
    for i, r in enumerate(rows):
        options[i, : len(r)] = r
        mask[i, : len(r)] = True
    choices = Choices(
        user=np.asarray(users),
        context=np.asarray(contexts),
        options=options,
        chosen=np.zeros(len(rows), dtype=np.int64),
        mask=mask,
        ids=np.asarray(ids),
        user_names=np.asarray(list(user_ix), dtype=object),
    )
    return choices, list(prompt_ix), list(resp_ix)
