"""pluralign.testing: one conformance suite every implementation passes or says why not.

In the spirit of scikit-learn's ``check_estimator`` / ``parametrize_with_checks``: three check functions,
one per kind of implementation, and a registry of every implementation the package ships, each with a
small factory on a tiny problem.

* :func:`check_mixture_model` — an EM adapter of :class:`pluralign.em.MixtureEM` (:class:`MixtureCase`):
  l / F_nu monotone with an exact (or monotone) M-step, label-switching invariance, same seed same
  numbers, empty components reported (:mod:`pluralign.testing._mixture`).
* :func:`check_reward_model` — a reward model (:class:`RewardCase`): fit returns self, learned attributes
  end in ``_``, a query before fit raises a clear error, output shapes, bad input raises ``ValueError``
  naming the field, same seed same numbers (:mod:`pluralign.testing._reward`).
* :func:`check_aggregator` — an aggregation rule (:class:`AggregatorCase`): unanimity, anonymity and each
  axiom it claims, on random instances from explicit seeds (:mod:`pluralign.testing._aggregator`).
* :func:`check_study_resumes` — a study of ``sims/`` or ``experiments/``: a re-run over finished cells
  computes nothing, the same seed gives the same numbers (:mod:`pluralign.testing._study`).
* :data:`IMPLEMENTATIONS` — the registry (:mod:`pluralign.testing._registry`); an exemption names the
  check and its reason. :func:`all_checks` yields one (implementation, check) pair per test, which
  ``tests/test_conformance.py`` parametrizes over.

``python -m pluralign.testing --list`` prints the registry and the count of implementations covered;
``python -m pluralign.testing`` runs every check. Layer: this package imports the core and
``pluralign.theory`` only; nothing in the core imports it.

A new implementation: write a small factory returning its case, add an :class:`Implementation` to
``_registry.IMPLEMENTATIONS``, run ``python -m pluralign.testing --name <it>``; where a check cannot
hold, add it to ``exempt`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from pluralign.testing._aggregator import (
    AXIOMS,
    BASE_AXIOMS,
    AggregatorCase,
    check_aggregator,
    minimax_regret_axiom,
    run_axiom,
    sample_distributions,
    sample_rewards,
    sample_utilities,
)
from pluralign.testing._mixture import MIXTURE_CHECKS, MixtureCase, check_mixture_model, permute_components
from pluralign.testing._study import check_study_resumes, without_timings
from pluralign.testing._registry import IMPLEMENTATIONS, KINDS, NOT_COVERED, Implementation, get
from pluralign.testing._reward import (
    REWARD_CHECKS,
    Call,
    RewardCase,
    bad_choices,
    bad_floats,
    bad_ids,
    check_reward_model,
)

__all__ = [
    "check_study_resumes",
    "without_timings",
    "check_mixture_model",
    "check_reward_model",
    "check_aggregator",
    "MixtureCase",
    "RewardCase",
    "Call",
    "AggregatorCase",
    "Implementation",
    "IMPLEMENTATIONS",
    "NOT_COVERED",
    "KINDS",
    "MIXTURE_CHECKS",
    "REWARD_CHECKS",
    "AXIOMS",
    "BASE_AXIOMS",
    "minimax_regret_axiom",
    "run_axiom",
    "sample_rewards",
    "sample_utilities",
    "sample_distributions",
    "permute_components",
    "bad_floats",
    "bad_ids",
    "bad_choices",
    "get",
    "run_check",
    "all_checks",
    "counts",
]


def run_check(impl: Implementation, check: str, seed: int = 0) -> None:
    """Run one check of a registered implementation (exempt or not); raises ``AssertionError`` on failure."""
    if check not in impl.checks:
        raise ValueError(f"check: {impl.name} has no check {check!r}; its checks: {list(impl.checks)}")
    case = impl.build()
    if impl.kind == "mixture":
        MIXTURE_CHECKS[check](case, seed)
    elif impl.kind == "reward":
        REWARD_CHECKS[check](case, seed)
    else:
        run_axiom(case, check, seed)


def all_checks(kind: str | None = None) -> Iterator[tuple[Implementation, str]]:
    """Every (implementation, check) pair of the registry, exempted ones included (``impl.exempt``)."""
    for impl in IMPLEMENTATIONS:
        if kind is None or impl.kind == kind:
            for check in impl.checks:
                yield impl, check


def counts() -> dict[str, int]:
    """Implementations covered, per kind."""
    return {k: sum(i.kind == k for i in IMPLEMENTATIONS) for k in KINDS}
