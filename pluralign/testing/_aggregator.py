"""``check_aggregator``: unanimity, anonymity and every axiom a rule claims, on random instances.

A rule maps a *profile* (voters on axis 0: users' rewards (n, m) of m items, labelers' distributions
(n, K), reports (n, d), utilities (n,), groups' policies (K, X, Y)) to an *outcome* of one kind:

* ``scores``       — one number per item (m,);      ``choice``  — the chosen item's index;
* ``ranking``      — the items, best first (m,);    ``distribution`` — a distribution over the last axis;
* ``scalar``       — one number;                    ``policy``  — an (X, Y) table of log-probabilities.

Every rule is checked for **unanimity** (all voters agree -> that outcome) and **anonymity** (permuting
the voters changes nothing), and for each axiom it claims (the registry's ``claims``), each on
``n_instances`` random instances drawn from an explicit seed (:func:`pluralign.seeding.derive`). Random
continuous profiles have no ties, so the rules' tie-breaks (lowest index) never decide a check. The
axioms (the items axis is the profile's last axis):

* ``neutrality`` — permuting the items permutes the outcome;
* ``pareto`` (strong) — if every voter values a at least as much as b and one strictly more, a's outcome
  is strictly better; ``weak_pareto`` — the same when every voter strictly prefers a;
* ``monotonicity`` — raising one voter's value of a never worsens a against any other item;
* ``scale_invariance`` / ``translation_invariance`` — a common rescaling c x / shift x + c of all values
  rescales / shifts a cardinal outcome (scores, scalar) by the same c and leaves an ordinal one unchanged;
* ``per_user_scale_invariance`` / ``per_user_shift_invariance`` — voter-specific c_i x / x + c_i change a
  cardinal outcome by a factor / an amount that does not depend on the item (or on the profile);
* ``ordinal_invariance`` — any voter-specific increasing transform leaves the outcome unchanged;
* ``separability`` — a voter who values a and b equally cannot change the order of a and b by changing
  that common value (independence of unconcerned voters);
* ``pigou_dalton`` — a transfer from a better-off to a worse-off voter (keeping their order) never lowers
  the outcome (weak form);
* ``external_bayesianity`` — pooling commutes with a common Bayes update (log pool);
* ``marginalization`` — pooling commutes with coarsening the answers (linear pool);
* ``zero_preservation`` — an answer some labeler rules out gets probability 0;
* ``truthfulness`` — no labeler gains by misreporting (the mechanism module's random and gradient
  misreport searches); ``no_deficit`` — payments are never positive; ``individual_rationality`` —
  truthful participation is at least as good as the outcome chosen without the labeler;
* rule-specific claims (``AggregatorCase.custom``), e.g. MMRA-AE's min-max-regret optimality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

import numpy as np

from pluralign.seeding import derive

__all__ = ["AggregatorCase", "AXIOMS", "BASE_AXIOMS", "check_aggregator", "minimax_regret_axiom", "run_axiom",
           "sample_rewards", "sample_utilities", "sample_distributions"]

Outcome = Literal["scores", "choice", "ranking", "distribution", "scalar", "policy"]


@dataclass(frozen=True)
class AggregatorCase:
    """A rule, how to draw its profiles, and what kind of outcome it returns."""

    aggregate: Callable[[Any], Any]
    """profile -> outcome."""
    sample: Callable[[np.random.Generator], Any]
    """A random valid profile (voters on axis 0, items on the last axis)."""
    outcome: Outcome
    """The kind of outcome (module docstring)."""
    unanimous: Callable[[np.random.Generator], tuple] | None = None
    """rng -> (a profile on which all voters agree, the outcome they agree on); None: repeat one voter."""
    permute_voters: Callable[[Any, np.ndarray], Any] | None = None
    """Relabel the voters of a profile; None: profile[perm]."""
    mechanism: Any = None
    """For truthfulness / no_deficit / individual_rationality: the mechanism object."""
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    """The mechanism's disutility d(outcome, opinion) (batched over leading axes)."""
    custom: Mapping[str, Callable[["AggregatorCase", np.random.Generator], None]] = field(default_factory=dict)
    """Rule-specific axioms: name -> check(case, rng)."""
    atol: float = 1e-9
    """Absolute tolerance of every comparison (relative for large values)."""
    n_instances: int = 20
    """Random instances per axiom."""

    def voters(self, profile, perm):
        return self.permute_voters(profile, perm) if self.permute_voters else np.asarray(profile)[perm]


# --------------------------------------------------------------------------- profile samplers
def sample_rewards(rng, n_users: int = 5, n_items: int = 4) -> np.ndarray:
    """Users' strictly positive rewards (n_users, n_items), uniform in [0.1, 2]."""
    return rng.uniform(0.1, 2.0, size=(n_users, n_items))


def sample_utilities(rng, n_users: int = 7) -> np.ndarray:
    """Users' strictly positive utilities (n_users,), uniform in [0.1, 2]."""
    return rng.uniform(0.1, 2.0, size=n_users)


def sample_distributions(rng, n_labelers: int = 4, n_answers: int = 4) -> np.ndarray:
    """Labelers' distributions (n_labelers, n_answers), uniform on the simplex (no exact zeros)."""
    return rng.dirichlet(np.ones(n_answers), size=n_labelers)


def _close(a, b, atol) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "iub" and b.dtype.kind in "iub":
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=max(atol, 1e-12), atol=atol))


def _fail(axiom: str, msg: str, profile) -> None:
    parts = profile if isinstance(profile, tuple) else (profile,)
    shown = " | ".join(np.array2string(np.asarray(p), precision=4, threshold=60) for p in parts)
    raise AssertionError(f"{axiom}: {msg}\n  profile: {shown}")


def _perm(rng, n: int) -> np.ndarray:
    p = rng.permutation(n)
    return np.roll(p, 1) if n > 1 and np.array_equal(p, np.arange(n)) else p


def _default_unanimous(case: AggregatorCase, rng):
    P = np.asarray(case.sample(rng), dtype=float)
    n = P.shape[0]
    if case.outcome == "scalar":
        return np.full(n, P[0]), P[0]
    row = P[0]
    same = np.broadcast_to(row, P.shape).copy()
    expected = {"scores": row, "distribution": row, "policy": row, "choice": int(np.argmax(row)),
                "ranking": np.argsort(-row, kind="stable")}[case.outcome]
    return same, expected


# --------------------------------------------------------------------------- the two axioms every rule has
def unanimity(case: AggregatorCase, rng) -> None:
    for _ in range(case.n_instances):
        P, expected = case.unanimous(rng) if case.unanimous else _default_unanimous(case, rng)
        out = case.aggregate(P)
        if not _close(out, expected, case.atol):
            _fail("unanimity", f"all voters agree on {np.round(expected, 6)!r:.200}, the rule returns "
                  f"{np.round(np.asarray(out, dtype=float), 6)!r:.200}", P)


def anonymity(case: AggregatorCase, rng) -> None:
    for _ in range(case.n_instances):
        P = case.sample(rng)
        n = len(P[0]) if isinstance(P, tuple) else np.shape(P)[0]
        perm = _perm(rng, n)
        a, b = case.aggregate(P), case.aggregate(case.voters(P, perm))
        if not _close(a, b, case.atol):
            _fail("anonymity", f"relabelling the voters by {perm.tolist()} changes the outcome from "
                  f"{np.asarray(a)!r:.200} to {np.asarray(b)!r:.200}", P)


# --------------------------------------------------------------------------- helpers for item-wise axioms
_ITEM_KINDS = ("scores", "choice", "ranking")


def _need(case: AggregatorCase, axiom: str, kinds) -> None:
    if case.outcome not in kinds:
        raise ValueError(f"claims: {axiom} is defined for outcomes {kinds}, not {case.outcome!r}")


def _rank_of(order, item) -> int:
    return int(np.flatnonzero(np.asarray(order) == item)[0])


def _better(case: AggregatorCase, out, a: int, b: int) -> bool:
    """Is item a strictly better than item b in the outcome?"""
    if case.outcome == "scores":
        return bool(out[a] > out[b] + case.atol * max(1.0, abs(out[b])))
    if case.outcome == "ranking":
        return _rank_of(out, a) < _rank_of(out, b)
    return int(out) != b  # choice: b is not chosen


def _sample(case, rng) -> np.ndarray:
    return np.array(case.sample(rng), dtype=float)


def neutrality(case: AggregatorCase, rng) -> None:
    _need(case, "neutrality", ("scores", "choice", "ranking", "distribution", "policy"))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        perm = _perm(rng, P.shape[-1])
        out, new = case.aggregate(P), case.aggregate(P[..., perm])
        inv = np.argsort(perm)
        expected = inv[np.asarray(out)] if case.outcome in ("choice", "ranking") else np.asarray(out)[..., perm]
        if not _close(new, expected, case.atol):
            _fail("neutrality", f"relabelling the items by {perm.tolist()} gives {np.asarray(new)!r:.200}, "
                  f"expected the relabelled outcome {expected!r:.200}", P)


def _pareto(case: AggregatorCase, rng, strict_all: bool, axiom: str) -> None:
    _need(case, axiom, _ITEM_KINDS + ("scalar",))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        n = P.shape[0]
        gain = rng.uniform(0.05, 1.0, size=n)
        if not strict_all:
            gain = gain * (rng.random(n) < 0.5)
            gain[rng.integers(n)] = rng.uniform(0.05, 1.0)
        if case.outcome == "scalar":
            Q = P + gain
            w0, w1 = case.aggregate(P), case.aggregate(Q)
            if not w1 > w0 + case.atol * max(1.0, abs(w0)):
                _fail(axiom, f"raising utilities by {np.round(gain, 4).tolist()} moves the outcome from {w0!r} "
                      f"to {w1!r}, not strictly up", P)
            continue
        a, b = rng.choice(P.shape[1], size=2, replace=False)
        P[:, a] = P[:, b] + gain
        out = case.aggregate(P)
        if not _better(case, out, a, b):
            _fail(axiom, f"item {a} Pareto-dominates item {b} (gains {np.round(gain, 4).tolist()}), but the outcome "
                  f"{np.asarray(out)!r:.200} does not put it strictly ahead", P)


def pareto(case, rng):
    _pareto(case, rng, strict_all=False, axiom="pareto")


def weak_pareto(case, rng):
    _pareto(case, rng, strict_all=True, axiom="weak_pareto")


def monotonicity(case: AggregatorCase, rng) -> None:
    _need(case, "monotonicity", _ITEM_KINDS + ("scalar",))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        i = rng.integers(P.shape[0])
        c = rng.uniform(0.05, 1.0)
        out = case.aggregate(P)
        Q = P.copy()
        if case.outcome == "scalar":
            Q[i] += c
            new = case.aggregate(Q)
            if new < out - case.atol * max(1.0, abs(out)):
                _fail("monotonicity", f"raising voter {i}'s utility by {c:.4g} lowers the outcome {out!r} -> {new!r}", P)
            continue
        a = int(out) if case.outcome == "choice" else int(rng.integers(P.shape[1]))
        Q[i, a] += c
        new = case.aggregate(Q)
        if case.outcome == "choice":
            ok = int(new) == a
        elif case.outcome == "ranking":
            ok = _rank_of(new, a) <= _rank_of(out, a)
        else:
            d0, d1 = out[a] - np.asarray(out), new[a] - np.asarray(new)
            ok = bool(np.all(d1 >= d0 - case.atol * np.maximum(1.0, np.abs(d0))))
        if not ok:
            _fail("monotonicity", f"raising voter {i}'s value of item {a} by {c:.4g} worsens item {a}: "
                  f"{np.asarray(out)!r:.200} -> {np.asarray(new)!r:.200}", P)


def _invariance(case: AggregatorCase, rng, axiom: str, common: bool, kind: str) -> None:
    """scale / translation invariance, common (one c) or per voter (c_i)."""
    _need(case, axiom, _ITEM_KINDS + ("scalar",))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        n = P.shape[0]
        c = np.full(n, rng.uniform(0.2, 5.0)) if common else rng.uniform(0.2, 5.0, size=n)
        if kind == "shift":
            c = c - 0.19  # keep positive profiles positive
        shape = (n,) + (1,) * (P.ndim - 1)
        Q = P * c.reshape(shape) if kind == "scale" else P + c.reshape(shape)
        out, new = case.aggregate(P), case.aggregate(Q)
        if case.outcome in ("choice", "ranking"):
            if not _close(new, out, case.atol):
                _fail(axiom, f"c = {np.round(c, 4).tolist()} changes the outcome {np.asarray(out)!r:.200} -> "
                      f"{np.asarray(new)!r:.200}", P)
            continue
        out, new = np.asarray(out, dtype=float), np.asarray(new, dtype=float)
        if common:
            expected = out * c[0] if kind == "scale" else out + c[0]
            if not _close(new, expected, case.atol):
                _fail(axiom, f"a common {kind} by {c[0]:.4g} gives {new!r:.200}, expected {expected!r:.200}", P)
            continue
        if case.outcome == "scalar":  # the factor / amount must not depend on the profile
            P2 = _sample(case, rng)
            Q2 = P2 * c if kind == "scale" else P2 + c
            o2, n2 = float(case.aggregate(P2)), float(case.aggregate(Q2))
            f1, f2 = (new / out, n2 / o2) if kind == "scale" else (new - out, n2 - o2)
            if not _close(f1, f2, case.atol):
                _fail(axiom, f"voter-specific {kind}s {np.round(c, 4).tolist()} change two profiles' outcomes "
                      f"by different {'factors' if kind == 'scale' else 'amounts'} {float(f1):.6g} and {float(f2):.6g}", P)
            continue
        f = new / out if kind == "scale" else new - out
        if not _close(f, np.full_like(f, f[0]), case.atol):
            _fail(axiom, f"voter-specific {kind}s {np.round(c, 4).tolist()} change the items' scores by different "
                  f"{'factors' if kind == 'scale' else 'amounts'} {np.round(f, 6).tolist()}", P)


def scale_invariance(case, rng):
    _invariance(case, rng, "scale_invariance", True, "scale")


def translation_invariance(case, rng):
    _invariance(case, rng, "translation_invariance", True, "shift")


def per_user_scale_invariance(case, rng):
    _invariance(case, rng, "per_user_scale_invariance", False, "scale")


def per_user_shift_invariance(case, rng):
    _invariance(case, rng, "per_user_shift_invariance", False, "shift")


def ordinal_invariance(case: AggregatorCase, rng) -> None:
    _need(case, "ordinal_invariance", _ITEM_KINDS)
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        a = rng.uniform(0.3, 3.0, size=(P.shape[0], 1))
        b = rng.uniform(0.0, 2.0, size=(P.shape[0], 1))
        Q = np.exp(a * P) + b  # increasing in P, a different map per voter
        out, new = case.aggregate(P), case.aggregate(Q)
        if not _close(new, out, case.atol):
            _fail("ordinal_invariance", f"an increasing transform per voter changes the outcome "
                  f"{np.asarray(out)!r:.200} -> {np.asarray(new)!r:.200}", P)


def separability(case: AggregatorCase, rng) -> None:
    _need(case, "separability", ("scores", "ranking"))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        i = rng.integers(P.shape[0])
        a, b = rng.choice(P.shape[1], size=2, replace=False)
        P[i, b] = P[i, a]
        Q = P.copy()
        Q[i, a] = Q[i, b] = rng.uniform(0.1, 3.0)
        out, new = case.aggregate(P), case.aggregate(Q)
        if case.outcome == "ranking":
            ok = (_rank_of(out, a) < _rank_of(out, b)) == (_rank_of(new, a) < _rank_of(new, b))
        else:
            d0, d1 = out[a] - out[b], new[a] - new[b]
            tiny = case.atol * max(1.0, abs(out[a]), abs(out[b]))
            ok = abs(d0) <= tiny or abs(d1) <= tiny or np.sign(d0) == np.sign(d1)
        if not ok:
            _fail("separability", f"voter {i} values items {a} and {b} equally; changing that common value flips "
                  f"their order: {np.asarray(out)!r:.200} -> {np.asarray(new)!r:.200}", P)


def pigou_dalton(case: AggregatorCase, rng) -> None:
    _need(case, "pigou_dalton", ("scores", "scalar"))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        j = None if case.outcome == "scalar" else int(rng.integers(P.shape[1]))
        col = P if j is None else P[:, j]
        lo, hi = int(np.argmin(col)), int(np.argmax(col))
        t = rng.uniform(0.0, 0.5) * (col[hi] - col[lo])
        Q = P.copy()
        at = (lambda i: i) if j is None else (lambda i: (i, j))
        Q[at(lo)] += t
        Q[at(hi)] -= t
        out, new = np.asarray(case.aggregate(P), float), np.asarray(case.aggregate(Q), float)
        o, w = (float(out), float(new)) if j is None else (out[j], new[j])
        if w < o - case.atol * max(1.0, abs(o)):
            _fail("pigou_dalton", f"a transfer of {t:.4g} from voter {hi} to the worse-off voter {lo} lowers the "
                  f"outcome {o:.10g} -> {w:.10g}", P)


def external_bayesianity(case: AggregatorCase, rng) -> None:
    from pluralign.aggregation.pooling import bayes_update

    _need(case, "external_bayesianity", ("distribution",))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        lik = rng.uniform(0.05, 2.0, size=P.shape[-1])
        pooled_then = bayes_update(np.asarray(case.aggregate(P))[None], lik)[0]
        updated_then = case.aggregate(bayes_update(P, lik))
        if not _close(updated_then, pooled_then, case.atol):
            _fail("external_bayesianity", f"update-then-pool {np.round(updated_then, 6).tolist()} != pool-then-update "
                  f"{np.round(pooled_then, 6).tolist()} (likelihood {np.round(lik, 4).tolist()})", P)


def marginalization(case: AggregatorCase, rng) -> None:
    from pluralign.aggregation.pooling import coarsen

    _need(case, "marginalization", ("distribution",))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        K = P.shape[-1]
        G = int(rng.integers(1, K))
        groups = np.r_[np.arange(G), rng.integers(0, G, size=K - G)]
        rng.shuffle(groups)
        a = case.aggregate(coarsen(P, groups))
        b = coarsen(np.asarray(case.aggregate(P)), groups)
        if not _close(a, b, case.atol):
            _fail("marginalization", f"coarsen-then-pool {np.round(a, 6).tolist()} != pool-then-coarsen "
                  f"{np.round(b, 6).tolist()} (groups {groups.tolist()})", P)


def zero_preservation(case: AggregatorCase, rng) -> None:
    _need(case, "zero_preservation", ("distribution",))
    for _ in range(case.n_instances):
        P = _sample(case, rng)
        i, a = rng.integers(P.shape[0]), rng.integers(P.shape[-1])
        P[i, a] = 0.0
        P[i] /= P[i].sum()
        out = np.asarray(case.aggregate(P))
        if out[a] != 0.0:
            _fail("zero_preservation", f"labeler {i} rules out answer {a}, the pool gives it {out[a]!r}", P)


# --------------------------------------------------------------------------- mechanisms
def _truths(case: AggregatorCase, rng) -> np.ndarray:
    return np.stack([_sample(case, rng) for _ in range(case.n_instances)])


def _need_mechanism(case: AggregatorCase, axiom: str) -> None:
    if case.mechanism is None:
        raise ValueError(f"claims: {axiom} needs the case's mechanism")


def truthfulness(case: AggregatorCase, rng) -> None:
    from pluralign.aggregation.mechanism import QuadraticVCG, gradient_misreport_search, random_misreport_search

    _need_mechanism(case, "truthfulness")
    mech = case.mechanism
    T = _truths(case, rng)
    for i in range(T.shape[1]):
        searches = [("random search", random_misreport_search(mech, T, i, n_samples=64, rng=rng))]
        if isinstance(mech, QuadraticVCG):
            searches.append(("gradient search", gradient_misreport_search(mech, T, i, n_starts=2, steps=40,
                                                                          seed=int(rng.integers(2**31)))))
        for how, (gain, report) in searches:
            b = int(np.argmax(gain))
            if gain[b] > 1e-9:
                _fail("truthfulness", f"labeler {i} gains {gain[b]:.3g} by reporting {np.round(report[b], 4).tolist()} "
                      f"instead of its opinion {np.round(T[b, i], 4).tolist()} ({how})", T[b])


def no_deficit(case: AggregatorCase, rng) -> None:
    _need_mechanism(case, "no_deficit")
    T = _truths(case, rng)
    for i in range(T.shape[1]):
        pay = np.asarray(case.mechanism.payment(T, i))
        b = int(np.argmax(pay))
        if pay[b] > case.atol:
            _fail("no_deficit", f"labeler {i} is paid {pay[b]:.3g} > 0", T[b])


def individual_rationality(case: AggregatorCase, rng) -> None:
    _need_mechanism(case, "individual_rationality")
    if case.distance is None:
        raise ValueError("distance: individual_rationality needs the mechanism's disutility")
    mech = case.mechanism
    T = _truths(case, rng)
    for i in range(T.shape[1]):
        if hasattr(mech, "outcome_without"):
            o_minus = mech.outcome_without(T, i)
        else:
            o_minus = mech.O[mech.outcome_index(T, exclude=i)]
        outside = -case.distance(o_minus, T[:, i])
        inside = mech.utility(T[:, i], T, i)
        b = int(np.argmin(inside - outside))
        if inside[b] < outside[b] - case.atol:
            _fail("individual_rationality", f"labeler {i}'s truthful utility {inside[b]:.6g} is below "
                  f"{outside[b]:.6g}, its utility of the outcome chosen without it", T[b])


def minimax_regret_axiom(weights_of: Callable[[np.ndarray], np.ndarray], log_ref, beta: float):
    """The claim of MMRA-AE (seed 001 Alg. 4, eq. 39) as a custom axiom: on random (K, X, Y) policy
    profiles, the max regret [max_k R̂_k]^+ (eq. 4's regret against the reference ``log_ref``, (X, Y);
    the [.]^+ is eq. 39's null row z0) of the mixture ``weights_of(profile)`` is <= that of every
    candidate policy, of the uniform mixture and of random mixtures (LP optimality on the exact table)."""
    from pluralign.mmra import estimated_regret_table, mixture_regrets

    def check(case: AggregatorCase, rng) -> None:
        for _ in range(case.n_instances):
            P = _sample(case, rng)
            T = estimated_regret_table(P, log_ref, beta)
            mine = max(0.0, float(np.max(mixture_regrets(T, weights_of(P)))))
            K = P.shape[0]
            others = np.vstack([np.eye(K), np.full((1, K), 1.0 / K), rng.dirichlet(np.ones(K), size=8)])
            best = min(max(0.0, float(np.max(mixture_regrets(T, w)))) for w in others)
            if mine > best + 1e-7:
                _fail("minimax_regret", f"the mixture's max regret {mine:.9g} exceeds another mixture's {best:.9g}", P)

    return check


BASE_AXIOMS = ("unanimity", "anonymity")
"""What every aggregator is checked for."""

AXIOMS: dict[str, Callable[[AggregatorCase, np.random.Generator], None]] = {
    "unanimity": unanimity,
    "anonymity": anonymity,
    "neutrality": neutrality,
    "pareto": pareto,
    "weak_pareto": weak_pareto,
    "monotonicity": monotonicity,
    "scale_invariance": scale_invariance,
    "translation_invariance": translation_invariance,
    "per_user_scale_invariance": per_user_scale_invariance,
    "per_user_shift_invariance": per_user_shift_invariance,
    "ordinal_invariance": ordinal_invariance,
    "separability": separability,
    "pigou_dalton": pigou_dalton,
    "external_bayesianity": external_bayesianity,
    "marginalization": marginalization,
    "zero_preservation": zero_preservation,
    "truthfulness": truthfulness,
    "no_deficit": no_deficit,
    "individual_rationality": individual_rationality,
}
"""The generic axioms, by name (a case's ``custom`` adds rule-specific ones)."""


def run_axiom(case: AggregatorCase, axiom: str, seed: int = 0) -> None:
    """One axiom on ``case.n_instances`` instances drawn from ``derive(seed, axiom)``."""
    fn = case.custom.get(axiom) or AXIOMS.get(axiom)
    if fn is None:
        raise ValueError(f"claims: unknown axiom {axiom!r}; known: {sorted(AXIOMS)} and the case's {sorted(case.custom)}")
    fn(case, derive(seed, axiom))


def check_aggregator(rule, claims=(), seed: int = 0) -> None:
    """Unanimity, anonymity and every axiom in ``claims`` for ``rule`` (an :class:`AggregatorCase`);
    raises ``AssertionError`` naming the first axiom that fails and the instance."""
    if not isinstance(rule, AggregatorCase):
        raise ValueError(f"rule: expected an AggregatorCase, got {type(rule).__name__}")
    for axiom in dict.fromkeys(BASE_AXIOMS + tuple(claims)):
        run_axiom(rule, axiom, seed)
