"""``check_reward_model``: the estimator conventions every reward model must keep (scikit-learn's).

A :class:`RewardCase` says how to build the estimator, fit it and query it on a tiny problem. The checks
(each raises ``AssertionError`` with a message naming what went wrong):

* ``fit_returns_self`` — ``fit(...)`` returns the estimator itself;
* ``learned_attributes`` — no public attribute ending in ``_`` exists before ``fit``; every public attribute
  that ``fit`` adds ends in ``_`` (at least one); ``fit`` does not replace a constructor attribute;
* ``not_fitted`` — the query before ``fit`` raises ``ValueError`` (scikit-learn's ``NotFittedError`` is one)
  whose message names the estimator's class, never an ``AttributeError`` or a silent answer;
* ``output_shape`` — the query returns a finite float array of the stated shape;
* ``bad_input`` — each bad input of ``fit`` and of the query (NaN, inf, wrong shape, wrong dtype,
  out-of-range ids, a wrong type) raises ``ValueError`` whose message names the field;
* ``determinism`` — the same seed gives the same numbers: two fresh estimators, and one fitted twice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

__all__ = [
    "Call",
    "RewardCase",
    "REWARD_CHECKS",
    "check_reward_model",
    "bad_floats",
    "bad_ids",
    "bad_choices",
]


@dataclass(frozen=True)
class Call:
    """One way of calling the estimator: valid keyword arguments and bad variants of them."""

    kwargs: Mapping[str, Any]
    """Valid keyword arguments."""
    bad: tuple = ()
    """(argument, what is wrong, bad value, names the message may use) tuples; each replaces one argument."""


@dataclass(frozen=True)
class RewardCase:
    """A reward model on a tiny problem."""

    make: Callable[[int], Any]
    """seed -> a fresh, unfitted estimator (the seed is its only source of randomness)."""
    fit: Call
    """The arguments of ``fit`` (and its bad inputs)."""
    query: Call
    """The arguments of the query (and its bad inputs)."""
    method: str | Callable = "reward"
    """The query: a method name, or a function (estimator, **kwargs) -> array."""
    output_shape: tuple = ()
    """The shape of the query's answer."""

    def ask(self, est, **kwargs):
        if callable(self.method):
            return self.method(est, **kwargs)
        return getattr(est, self.method)(**kwargs)


# --------------------------------------------------------------------------- bad inputs
def bad_floats(name: str, value) -> tuple:
    """NaN, inf, a wrong trailing dimension and a wrong dtype of a float array argument."""
    v = np.array(value, dtype=float)
    nan, inf = v.copy(), v.copy()
    nan.flat[0] = np.nan
    inf.flat[-1] = np.inf
    wide = np.concatenate([v, v[..., :1]], axis=-1)
    return ((name, "NaN", nan, (name,)), (name, "inf", inf, (name,)), (name, "wrong shape", wide, (name,)),
            (name, "wrong dtype (strings)", np.full(v.shape, "x"), (name,)))


def bad_ids(name: str, value, n: int) -> tuple:
    """Ids out of range (n and -1), non-integer and of a wrong dtype for an id argument in 0..n-1."""
    v = np.array(value)
    return ((name, f"out of range (= {n})", np.full(v.shape, n), (name,)),
            (name, "negative", np.full(v.shape, -1), (name,)),
            (name, "non-integer", v + 0.5, (name,)),
            (name, "wrong dtype (strings)", np.full(v.shape, "x"), (name,)))


def bad_choices(name: str, choices, *, features: bool = True, users: int | None = None) -> tuple:
    """Bad :class:`pluralign.data.Choices` arguments: not a Choices; for a feature-based model a Choices
    without option features; for a query (``users``: the fitted users) option features of a wrong width
    and a user id beyond the fitted users."""
    from pluralign.data import Choices

    out = [(name, "not a Choices (an array)", np.asarray(choices.chosen), (name,))]
    X = choices.features
    if features and users is not None:
        out.append((name, "option features of a wrong width",
                    dataclasses.replace(choices, features=np.concatenate([X, X[..., :1]], axis=-1)), (name, "features")))
    if features:
        ids = np.arange(X.shape[0] * X.shape[1]).reshape(X.shape[:2])
        out.append((name, "no option features (ids only)",
                    Choices(user=choices.user, options=ids, chosen=choices.chosen), (name, "features")))
    if users is not None:
        user = choices.user.copy()
        user[-1] = users
        out.append((name, f"a user id ({users}) beyond the fitted users",
                    dataclasses.replace(choices, user=user, n_users=None, user_names=None, ids=None), (name, "user")))
    return tuple(out)


# --------------------------------------------------------------------------- checks
def _name(est) -> str:
    return type(est).__name__


def _fitted(case: RewardCase, seed: int):
    est = case.make(seed)
    return est, est.fit(**case.fit.kwargs)


def check_fit_returns_self(case: RewardCase, seed: int = 0) -> None:
    est, out = _fitted(case, seed)
    if out is not est:
        raise AssertionError(f"{_name(est)}.fit returned {type(out).__name__} {out!r:.60}, not the estimator itself")


def _public(est) -> dict:
    return {k: v for k, v in vars(est).items() if not k.startswith("_")}


def check_learned_attributes(case: RewardCase, seed: int = 0) -> None:
    est = case.make(seed)
    before = _public(est)
    early = sorted(k for k in before if k.endswith("_"))
    if early:
        raise AssertionError(f"{_name(est)}: attributes ending in '_' exist before fit: {early}")
    est.fit(**case.fit.kwargs)
    after = _public(est)
    new = sorted(set(after) - set(before))
    wrong = [k for k in new if not k.endswith("_")]
    if wrong:
        raise AssertionError(f"{_name(est)}: fit sets attributes that do not end in '_': {wrong}")
    if not new:
        raise AssertionError(f"{_name(est)}: fit sets no learned attribute (name ending in '_')")
    replaced = sorted(k for k in before if after.get(k, None) is not before[k])
    if replaced:
        raise AssertionError(f"{_name(est)}: fit replaced or removed constructor attributes {replaced}")


def check_not_fitted(case: RewardCase, seed: int = 0) -> None:
    est = case.make(seed)
    name = _name(est)
    try:
        case.ask(est, **case.query.kwargs)
    except ValueError as exc:
        if name not in str(exc):
            raise AssertionError(f"{name}: the query before fit raises ValueError({str(exc)!r}), which does not "
                                 f"name the model {name!r}") from exc
        return
    except Exception as exc:
        raise AssertionError(f"{name}: the query before fit raises {type(exc).__name__}({exc}), not a ValueError "
                             "(or NotFittedError) naming the model") from exc
    raise AssertionError(f"{name}: the query before fit returned an answer instead of raising a not-fitted error")


def _answer(case: RewardCase, est) -> np.ndarray:
    out = case.ask(est, **case.query.kwargs)
    return np.asarray(out)


def check_output_shape(case: RewardCase, seed: int = 0) -> None:
    est, _ = _fitted(case, seed)
    out = _answer(case, est)
    if out.shape != tuple(case.output_shape):
        raise AssertionError(f"{_name(est)}: the query returned shape {out.shape}, expected {tuple(case.output_shape)}")
    if out.dtype.kind != "f":
        raise AssertionError(f"{_name(est)}: the query returned dtype {out.dtype}, expected floats")
    if not np.all(np.isfinite(out)):
        raise AssertionError(f"{_name(est)}: the query returned NaN or inf on valid input")


def _expect_value_error(label: str, fn, names) -> str | None:
    try:
        fn()
    except ValueError as exc:
        msg = str(exc)
        if not any(n in msg for n in names):
            return f"{label}: ValueError({msg!r}) does not name the field ({' or '.join(names)})"
        return None
    except Exception as exc:  # noqa: BLE001 - reported, not swallowed
        return f"{label}: raises {type(exc).__name__}({str(exc)[:120]!r}), not a ValueError naming the field"
    return f"{label}: accepted silently"


def check_bad_input(case: RewardCase, seed: int = 0) -> None:
    problems = []
    for arg, what, value, names in case.fit.bad:
        kwargs = {**case.fit.kwargs, arg: value}
        est = case.make(seed)
        p = _expect_value_error(f"fit({arg}=<{what}>)", lambda: est.fit(**kwargs), names)
        if p:
            problems.append(p)
    est, _ = _fitted(case, seed)
    for arg, what, value, names in case.query.bad:
        kwargs = {**case.query.kwargs, arg: value}
        p = _expect_value_error(f"query({arg}=<{what}>)", lambda: case.ask(est, **kwargs), names)
        if p:
            problems.append(p)
    if problems:
        raise AssertionError(f"{_name(est)}: bad input not rejected with a ValueError naming the field:\n  "
                             + "\n  ".join(problems))


def check_determinism(case: RewardCase, seed: int = 0) -> None:
    a, _ = _fitted(case, seed)
    b, _ = _fitted(case, seed)
    ya, yb = _answer(case, a), _answer(case, b)
    if not np.array_equal(ya, yb):
        raise AssertionError(f"{_name(a)}: same seed {seed}, two fresh estimators: answers differ by up to "
                             f"{float(np.max(np.abs(ya - yb))):.3g}")
    a.fit(**case.fit.kwargs)
    yc = _answer(case, a)
    if not np.array_equal(ya, yc):
        raise AssertionError(f"{_name(a)}: same seed {seed}, the same estimator fitted again: answers differ by up "
                             f"to {float(np.max(np.abs(ya - yc))):.3g}")


REWARD_CHECKS: dict[str, Callable[[RewardCase, int], None]] = {
    "fit_returns_self": check_fit_returns_self,
    "learned_attributes": check_learned_attributes,
    "not_fitted": check_not_fitted,
    "output_shape": check_output_shape,
    "bad_input": check_bad_input,
    "determinism": check_determinism,
}
"""The checks of a reward model, by name."""


def check_reward_model(factory, seed: int = 0, checks=None) -> None:
    """Run every check (or those named in ``checks``) on a reward model; raises ``AssertionError``.

    ``factory``: a :class:`RewardCase` (how to build, fit and query the estimator)."""
    if not isinstance(factory, RewardCase):
        raise ValueError(f"factory: expected a RewardCase, got {type(factory).__name__}")
    for name in checks or REWARD_CHECKS:
        if name not in REWARD_CHECKS:
            raise ValueError(f"checks: unknown reward-model check {name!r}; known: {sorted(REWARD_CHECKS)}")
        REWARD_CHECKS[name](factory, seed)
