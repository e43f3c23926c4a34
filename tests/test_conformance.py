"""The conformance suite (pluralign.testing) over every registered implementation, one test id per
(implementation, check); an exempted check is run and must fail (strict xfail, its reason in the id's
mark). Then every check is shown to be able to fail: each runs on a deliberately broken toy defined
here and must raise AssertionError with a message saying what broke. Finally the registry itself: every
EM adapter, estimator and aggregation entry point of the covered modules is registered or listed in
NOT_COVERED with a reason, and ``python -m pluralign.testing --list`` prints the count."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.aggregation import QuadraticVCG
from pluralign.data import Choices
from pluralign.seeding import derive
from pluralign.testing import (
    AXIOMS,
    IMPLEMENTATIONS,
    MIXTURE_CHECKS,
    NOT_COVERED,
    REWARD_CHECKS,
    AggregatorCase,
    Call,
    MixtureCase,
    RewardCase,
    all_checks,
    bad_choices,
    bad_floats,
    bad_ids,
    check_aggregator,
    check_mixture_model,
    check_reward_model,
    counts,
    minimax_regret_axiom,
    run_axiom,
    run_check,
    sample_distributions,
    sample_rewards,
    sample_utilities,
)
from pluralign.testing.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_torch_thread():
    torch.set_num_threads(1)  # tests/conftest.py restores the thread count after every test


# =========================================================================== the registry, one id per check
def _params():
    for impl, check in all_checks():
        marks = ()
        if check in impl.exempt:
            marks = (pytest.mark.xfail(reason=impl.exempt[check], raises=AssertionError, strict=True),)
        yield pytest.param(impl, check, id=f"{impl.kind}-{impl.name}-{check}", marks=marks)


@pytest.mark.parametrize("impl, check", list(_params()))
def test_conformance(impl, check):
    run_check(impl, check, seed=0)


# =========================================================================== EM adapters: broken toys
class Bernoulli:
    """Latent classes of good / bad counts: log L_ik = sum_j n1_ij log p_kj + n0_ij log(1 - p_kj); the
    exact M-step is the weighted frequency (clipped to [0.01, 0.99])."""

    def __init__(self, seed: int = 0, N: int = 12, J: int = 4):
        rng = derive(seed, "bernoulli")
        p = rng.uniform(0.1, 0.9, size=(2, J))
        n = rng.integers(1, 6, size=(N, J))
        self.n1 = rng.binomial(n, p[np.arange(N) % 2]).astype(float)
        self.n0 = n - self.n1
        self.n_users = N

    def init_params(self, K, rng):
        return rng.uniform(0.2, 0.8, size=(K, self.n1.shape[1]))

    def log_likelihood(self, p):
        return self.n1 @ np.log(p).T + self.n0 @ np.log1p(-p).T

    def m_step(self, p, w):
        num, den = w.T @ self.n1, w.T @ (self.n1 + self.n0)
        out = p.copy()
        ok = den > 0
        out[ok] = np.clip(num[ok] / den[ok], 0.01, 0.99)
        return out


class AntiMStep(Bernoulli):
    """Moves every component away from its weighted frequency: the objective falls."""

    def m_step(self, p, w):
        return np.clip(1.0 - super().m_step(p, w), 0.01, 0.99)


class FavoursComponentZero(Bernoulli):
    """Treats component 0 specially (shrinks it toward 1/2): relabelling the start changes the fit."""

    def m_step(self, p, w):
        out = super().m_step(p, w)
        out[0] = 0.5 + 0.5 * (out[0] - 0.5)
        return out


class HiddenCounter(Bernoulli):
    """Keeps state across fits: the second fit of the same adapter differs from the first."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def init_params(self, K, rng):
        self.calls += 1
        return super().init_params(K, rng)

    def m_step(self, p, w):
        return np.clip(super().m_step(p, w) + 1e-3 * self.calls, 0.01, 0.99)


class NaNWhenEmpty(Bernoulli):
    """The weighted frequency without a guard: 0 / 0 = NaN for a component without users."""

    def m_step(self, p, w):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w.T @ self.n1) / (w.T @ (self.n1 + self.n0))


class ResetsEmpty(Bernoulli):
    """Re-seeds a component without users (silently moves its parameters)."""

    def m_step(self, p, w):
        out = super().m_step(p, w)
        out[w.sum(axis=0) == 0] = 0.5
        return out


def test_a_correct_adapter_passes_every_mixture_check():
    check_mixture_model(MixtureCase(make=Bernoulli, n_components=3))
    check_mixture_model(Bernoulli)  # a bare factory: the MixtureCase defaults


@pytest.mark.parametrize(
    "check, broken, match",
    [
        ("monotone", AntiMStep, "fell from"),
        ("label_switching", FavoursComponentZero, "label switching"),
        ("determinism", HiddenCounter, "the same adapter fitted again"),
        ("empty_component", NaNWhenEmpty, "NaN"),
        ("empty_component", ResetsEmpty, "parameters changed"),
    ],
)
def test_every_mixture_check_can_fail(check, broken, match):
    with pytest.raises(AssertionError, match=match):
        MIXTURE_CHECKS[check](MixtureCase(make=broken, n_components=3), 0)
    with pytest.raises(AssertionError, match=match):
        check_mixture_model(MixtureCase(make=broken, n_components=3), checks=[check])


def test_gradient_m_steps_are_registered_as_weakened():
    for impl in IMPLEMENTATIONS:
        if impl.kind == "mixture":
            assert (impl.build().m_step == "gradient") == ("monotone" in impl.weakened), impl.name


def test_a_gradient_m_step_is_held_to_its_stated_tolerance():
    """What the monotone check checks instead for a gradient M-step: falls up to the stated tolerance."""
    case = MixtureCase(make=AntiMStep, n_components=3, m_step="gradient", tolerance=1e-3)
    with pytest.raises(AssertionError, match="may fall by at most"):
        MIXTURE_CHECKS["monotone"](case, 0)
    MIXTURE_CHECKS["monotone"](dataclasses.replace(case, tolerance=10.0), 0)


# =========================================================================== reward models: broken toys
def _toy_data():
    rng = derive(0, "toy-reward")
    user = np.repeat(np.arange(4), 5)
    X = rng.normal(size=(20, 2, 3))
    return Choices(user=user, features=X, chosen=(rng.random(20) < 0.5).astype(int))


_FITS = itertools.count()


class ToyReward:
    """A correct reward model: per-user linear reward, one least-squares solve (no randomness)."""

    def __init__(self, l2: float = 1.0):
        self.l2 = l2

    def fit(self, choices):
        if not isinstance(choices, Choices) or choices.features is None:
            raise ValueError("choices: expected a Choices with option features")
        diff = choices.features[:, 0] - choices.features[:, 1]
        y = np.where(choices.chosen == 0, 1.0, -1.0)
        d = diff.shape[1]
        self.W_ = np.stack([np.linalg.solve(diff[choices.user == u].T @ diff[choices.user == u] + self.l2 * np.eye(d),
                                            diff[choices.user == u].T @ y[choices.user == u])
                            for u in range(choices.n_users)])
        return self

    def reward(self, features, user):
        if not hasattr(self, "W_"):
            raise ValueError(f"{type(self).__name__}: not fitted")
        X = np.asarray(features, dtype=float) if np.asarray(features).dtype.kind in "fiu" else None
        if X is None or not np.all(np.isfinite(X)) or X.shape[-1] != self.W_.shape[1]:
            raise ValueError("features: expected finite (..., d) floats")
        u = np.asarray(user)
        if u.dtype.kind not in "iu" or np.any(u < 0) or np.any(u >= len(self.W_)):
            raise ValueError("user: expected ids in range")
        return np.einsum("...d,...d->...", X, self.W_[u])


class FitReturnsNone(ToyReward):
    def fit(self, choices):
        super().fit(choices)


class LearnedAttributeWithoutUnderscore(ToyReward):
    def fit(self, choices):
        super().fit(choices)
        self.weights = self.W_
        return self


class NoNotFittedCheck(ToyReward):
    def reward(self, features, user):
        return np.einsum("...d,...d->...", np.asarray(features, dtype=float), self.W_[np.asarray(user)])


class WrongShape(ToyReward):
    def reward(self, features, user):
        return super().reward(features, user)[:, None]


class NoValidation(ToyReward):
    def reward(self, features, user):
        if not hasattr(self, "W_"):
            raise ValueError(f"{type(self).__name__}: not fitted")
        return np.einsum("...d,...d->...", np.asarray(features, dtype=float), self.W_[np.asarray(user) % 4])


class GlobalState(ToyReward):
    """Each fit differs from the last (a process-wide counter): same seed, different numbers."""

    def fit(self, choices):
        super().fit(choices)
        self.W_ = self.W_ + 1e-3 * next(_FITS)
        return self


def _toy_case(cls):
    ch = _toy_data()
    X, user = derive(1, "q").normal(size=(6, 3)), np.arange(6) % 4
    return RewardCase(make=lambda seed: cls(), fit=Call({"choices": ch}, bad_choices("choices", ch)),
                      query=Call({"features": X, "user": user}, bad_floats("features", X) + bad_ids("user", user, 4)),
                      output_shape=(6,))


def test_a_correct_reward_model_passes_every_reward_check():
    check_reward_model(_toy_case(ToyReward))


@pytest.mark.parametrize(
    "check, broken, match",
    [
        ("fit_returns_self", FitReturnsNone, "returned NoneType"),
        ("learned_attributes", LearnedAttributeWithoutUnderscore, r"do not end in '_': \['weights'\]"),
        ("not_fitted", NoNotFittedCheck, "AttributeError"),
        ("output_shape", WrongShape, r"shape \(6, 1\), expected \(6,\)"),
        ("bad_input", NoValidation, r"query\(features=<NaN>\): accepted silently"),
        ("determinism", GlobalState, "two fresh estimators"),
    ],
)
def test_every_reward_check_can_fail(check, broken, match):
    with pytest.raises(AssertionError, match=match):
        REWARD_CHECKS[check](_toy_case(broken), 0)
    with pytest.raises(AssertionError, match=match):
        check_reward_model(_toy_case(broken), checks=[check])


def test_learned_attributes_before_fit_are_caught():
    class EarlyCoef(ToyReward):
        def __init__(self):
            super().__init__()
            self.coef_ = None

    with pytest.raises(AssertionError, match="exist before fit"):
        REWARD_CHECKS["learned_attributes"](_toy_case(EarlyCoef), 0)


# =========================================================================== aggregators: broken toys
def _scores(fn):
    return AggregatorCase(aggregate=fn, sample=sample_rewards, outcome="scores")


def _normalized(q):
    return q / q.sum()


class NoPayments(QuadraticVCG):
    """The linear pool without VCG payments: manipulable."""

    def payment(self, reports, i):
        return 0.0 * self.outcome(reports).sum(-1)


class Bonus(QuadraticVCG):
    def payment(self, reports, i):
        return super().payment(reports, i) + 1.0


class Fee(QuadraticVCG):
    def payment(self, reports, i):
        return super().payment(reports, i) - 10.0


def _mechanism(mech):
    return AggregatorCase(aggregate=mech.outcome, sample=lambda rng: rng.dirichlet(np.ones(3), size=3),
                          outcome="distribution", mechanism=mech,
                          distance=lambda o, t: ((np.asarray(o) - t) ** 2).sum(-1), n_instances=6)


def _logpis(rng):
    from scipy.special import log_softmax

    return log_softmax(1.5 * rng.normal(size=(3, 2, 3)), axis=2)


def _mean_minus_spread(R):
    return R.mean(0) - 3.0 * R.std(0)


# each toy is unanimous and anonymous (so check_aggregator reaches the claimed axiom) and breaks one axiom
BROKEN_RULES = {
    "unanimity": (_scores(lambda R: np.zeros(R.shape[1])), "all voters agree"),
    "anonymity": (_scores(lambda R: R[0].copy()), "relabelling the voters"),
    "neutrality": (_scores(lambda R: np.r_[R[:, 0].min(), R[:, 1:].mean(0)]), "relabelling the items"),
    "pareto": (_scores(lambda R: R.min(0)), "Pareto-dominates"),
    "weak_pareto": (_scores(_mean_minus_spread), "Pareto-dominates"),
    "monotonicity": (_scores(_mean_minus_spread), "worsens item"),
    "scale_invariance": (_scores(lambda R: R.mean(0) + (R.mean(0) - R.min(0)) ** 2), "common scale"),
    "translation_invariance": (_scores(lambda R: np.exp(np.log(R).mean(0))), "common shift"),
    "per_user_scale_invariance": (_scores(lambda R: R.mean(0)), "different factors"),
    "per_user_shift_invariance": (_scores(lambda R: np.exp(np.log(R).mean(0))), "different amounts"),
    "ordinal_invariance": (_scores(lambda R: R.mean(0)), "increasing transform"),
    "separability": (_scores(lambda R: np.median(R, axis=0)), "flips their order"),
    "pigou_dalton": (AggregatorCase(aggregate=lambda u: float(np.max(u)), sample=sample_utilities, outcome="scalar"),
                     "worse-off voter"),
    "external_bayesianity": (AggregatorCase(aggregate=lambda P: P.mean(0), sample=sample_distributions, outcome="distribution"),
                             "update-then-pool"),
    "marginalization": (AggregatorCase(aggregate=lambda P: _normalized(np.exp(np.log(P).mean(0))), sample=sample_distributions,
                                       outcome="distribution"), "coarsen-then-pool"),
    "zero_preservation": (AggregatorCase(aggregate=lambda P: P.mean(0), sample=sample_distributions, outcome="distribution"),
                          "rules out answer"),
    "truthfulness": (_mechanism(NoPayments(3)), "gains"),
    "no_deficit": (_mechanism(Bonus(3)), "is paid"),
    "individual_rationality": (_mechanism(Fee(3)), "outcome chosen without it"),
}


def test_every_generic_axiom_has_a_broken_toy():
    assert set(BROKEN_RULES) == set(AXIOMS)


@pytest.mark.parametrize("axiom", sorted(BROKEN_RULES))
def test_every_aggregator_check_can_fail(axiom):
    case, match = BROKEN_RULES[axiom]
    with pytest.raises(AssertionError, match=match):
        run_axiom(case, axiom, seed=0)
    with pytest.raises(AssertionError, match=match):
        check_aggregator(case, claims=() if axiom in ("unanimity", "anonymity") else (axiom,))


def test_the_custom_minimax_regret_axiom_can_fail():
    """MMRA-AE's claim on a rule that always mixes uniformly (not min-max-regret optimal)."""
    case = AggregatorCase(aggregate=lambda P: P[0], sample=_logpis, outcome="policy",
                          custom={"minimax_regret": minimax_regret_axiom(lambda P: np.full(3, 1 / 3), np.zeros((2, 3)), 0.5)})
    with pytest.raises(AssertionError, match="minimax_regret: the mixture's max regret"):
        run_axiom(case, "minimax_regret", seed=0)


_CHEAP = [i for i in IMPLEMENTATIONS
          if i.kind == "aggregator" and not i.name.startswith(("mmra", "QuadraticVCG", "FiniteVCG"))]


@settings(max_examples=5)
@given(seed=st.integers(0, 2**32 - 1))
def test_cheap_aggregators_hold_their_claims_for_any_seed(seed):
    """The numpy rules' claims on instances drawn from Hypothesis-chosen base seeds (derandomized by
    the 'ci' profile), five instances per axiom and rule."""
    for impl in _CHEAP:
        check_aggregator(dataclasses.replace(impl.build(), n_instances=5), claims=impl.claims, seed=seed)


def test_unknown_claims_and_kinds_are_value_errors():
    with pytest.raises(ValueError, match="claims"):
        check_aggregator(_scores(lambda R: R.mean(0)), claims=("telepathy",))
    with pytest.raises(ValueError, match="claims"):
        check_aggregator(AggregatorCase(aggregate=lambda u: float(np.mean(u)), sample=sample_utilities, outcome="scalar"),
                         claims=("neutrality",))
    with pytest.raises(ValueError, match="checks"):
        check_mixture_model(Bernoulli, checks=["nope"])
    with pytest.raises(ValueError, match="factory"):
        check_reward_model(ToyReward)


# =========================================================================== the registry covers the package
def _resolve(dotted: str):
    mod, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(mod), name)


def test_every_target_resolves_and_names_are_unique():
    names = [i.name for i in IMPLEMENTATIONS]
    assert len(names) == len(set(names))
    for i in IMPLEMENTATIONS:
        assert callable(_resolve(i.target)), i.target
    for target in NOT_COVERED:
        _resolve(target)


def _core_classes():
    """(dotted name, method names) of every class in the package core (not cli, not testing)."""
    for path in sorted((ROOT / "pluralign").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        mod = ".".join(parts)
        if mod.startswith(("pluralign.cli", "pluralign.testing")):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and not any(getattr(b, "id", "") == "Protocol" for b in node.bases):
                yield f"{mod}.{node.name}", {n.name for n in node.body if isinstance(n, ast.FunctionDef)}


def test_every_em_adapter_and_estimator_of_the_core_is_registered_or_says_why_not():
    registered = {i.target: i.kind for i in IMPLEMENTATIONS}
    resolved = {_resolve(t) for t in registered}
    missing = []
    for name, methods in _core_classes():
        kind = "mixture" if {"init_params", "log_likelihood", "m_step"} <= methods else "reward" if "fit" in methods else None
        if kind is None or name in NOT_COVERED:
            continue
        if _resolve(name) not in resolved:
            missing.append(f"{name} ({kind})")
    assert not missing, f"register these in pluralign.testing (or list them in NOT_COVERED with a reason): {missing}"


@pytest.mark.parametrize("module", ["pluralign.aggregation.social_choice", "pluralign.aggregation.pooling",
                                    "pluralign.aggregation.mechanism", "pluralign.welfare", "pluralign.mmra"])
def test_every_public_aggregation_entry_point_is_registered_or_says_why_not(module):
    m = importlib.import_module(module)
    resolved = {id(_resolve(i.target)) for i in IMPLEMENTATIONS}
    missing = [n for n in m.__all__ if id(getattr(m, n)) not in resolved and f"{module}.{n}" not in NOT_COVERED]
    assert not missing, f"{module}: register {missing} in pluralign.testing or list them in NOT_COVERED"


def test_list_prints_every_implementation_and_the_count(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for impl in IMPLEMENTATIONS:
        assert impl.name in out
    n = counts()
    assert sum(n.values()) == len(IMPLEMENTATIONS) and all(n.values())
    assert f"{len(IMPLEMENTATIONS)} implementations covered (mixture: {n['mixture']}, reward: {n['reward']}" in out
    assert "exempt unanimity" in out and "weakened monotone" in out
