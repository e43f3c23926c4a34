"""``check_mixture_model``: what every :class:`pluralign.em.MixtureModel` adapter must satisfy.

The adapter is run through the one engine, :class:`pluralign.em.MixtureEM`, on a tiny problem, as plain EM
(``accelerate="none"``: the checks are of the adapter's own E- and M-steps, not of a model's Newton
acceleration, which the default soft EM takes where a model has one); each check is one function that
raises ``AssertionError`` with a message naming what went wrong:

* ``monotone`` — soft EM's marginal log-likelihood l (seed 000 eq. 15) and leaky EM's F_nu with a fixed
  prior (eq. 18, seed 000 Thm. A.5) never decrease over the engine's trace, F_nu <= l at every iteration,
  and the last traced l is :func:`pluralign.theory.leaky_elbo.marginal_log_likelihood` of the adapter's
  own log-likelihoods at the returned fit (the trace describes the fit, the adapter has no hidden state).
  This holds for an exact M-step (``m_step="exact"``) and for a warm-started one that never lowers the
  weighted log-likelihood (``"monotone"``, a generalized EM), up to the solver's ``tolerance``. For a
  gradient M-step (``"gradient"``: a fixed number of optimizer steps, no ascent guarantee) the check
  states what it checks instead: no iteration lowers the objective by more than ``tolerance`` (relative).
* ``label_switching`` — relabelling the components of the start (initial parameters, responsibilities,
  prior) by a permutation gives the permuted fit: the same objective and trace, rho, responsibilities and
  log-likelihood columns permuted.
* ``determinism`` — the same seed gives the same numbers, bit for bit, from a fresh adapter and from the
  same adapter fitted twice.
* ``empty_component`` — a component that wins nobody (hard EM, re-estimated prior) is reported:
  rho_k = 0 exactly, ``empty_components_`` and the trace's ``n_empty`` name it, every number stays finite
  (never a silent NaN), and the adapter leaves its parameters unchanged (the engine's contract for
  all-zero weights).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np

from pluralign.em import EMConfig, MixtureEM
from pluralign.seeding import derive
from pluralign.theory import leaky_elbo as le

__all__ = ["MixtureCase", "MIXTURE_CHECKS", "check_mixture_model", "permute_components"]

MStep = Literal["exact", "monotone", "gradient"]


@dataclass(frozen=True)
class MixtureCase:
    """An EM adapter on a tiny problem, and what its M-step promises."""

    make: Callable[[], Any]
    """A fresh adapter (a MixtureModel) on a tiny problem; two calls give equal adapters."""
    n_components: int = 3
    """K of every fit (>= 2: the empty-component and label-switching checks need two components)."""
    m_step: MStep = "exact"
    """exact: maximizes sum_ik w_ik log L_ik; monotone: warm-started, never lowers it; gradient: neither."""
    tolerance: float = 1e-7
    """Relative slack of the monotone check per iteration (the solver's tolerance; for a gradient M-step
    the stated bound that is checked instead of monotonicity)."""
    switch_tolerance: float = 1e-6
    """Relative tolerance of the label-switching comparison (summation order changes with the labels)."""
    permute: Callable[[Any, np.ndarray], Any] | None = None
    """Relabel the components of ``params`` (new component j = old perm[j]); None: permute_components."""
    component: Callable[[Any, int], Any] | None = None
    """Component k's own parameters, for adapters with parameters shared by all components (whose
    log-likelihood column moves with the shared ones); None: the empty-component check compares the
    component's log-likelihood column instead."""
    max_iter: int = 6
    """EM iterations of each fit (tol = 0: every iteration is traced unless the objective falls)."""
    leak: float = 0.3
    """nu of the leaky fits."""


def permute_components(params, perm):
    """Relabel the components of ``params``: a (K, ...) array, a dict of them, or a torch module whose
    parameters all have K rows (e.g. PREC's ClusterDecoders). Other layouts need their own ``permute``."""
    perm = np.asarray(perm)
    K = perm.size
    if isinstance(params, np.ndarray):
        return params[perm].copy()
    if isinstance(params, dict):
        return {k: permute_components(v, perm) if _has_k_rows(v, K) else copy.deepcopy(v) for k, v in params.items()}
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(params, torch.nn.Module):
        out = copy.deepcopy(params)
        with torch.no_grad():
            for p in list(out.parameters()) + list(out.buffers()):
                if p.ndim == 0 or p.shape[0] != K:
                    raise ValueError(f"params: a tensor of shape {tuple(p.shape)} has no K = {K} rows; pass permute=")
                p.copy_(p[torch.as_tensor(perm)])
        return out
    raise ValueError(f"params: cannot relabel components of a {type(params).__name__}; pass permute=")


def _has_k_rows(v, K: int) -> bool:
    return isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == K


class _FixedStart:
    """An adapter whose ``init_params`` returns a given start (a fresh copy each time)."""

    def __init__(self, model, params0):
        self.model, self.params0, self.n_users = model, params0, model.n_users

    def init_params(self, n_components, rng):
        return copy.deepcopy(self.params0)

    def log_likelihood(self, params):
        return self.model.log_likelihood(params)

    def m_step(self, params, weights):
        return self.model.m_step(params, weights)


def _prior(K: int) -> np.ndarray:
    """A fixed, non-uniform prior (so that relabelling it matters)."""
    r = np.arange(K, 0, -1, dtype=float) + 1.0
    return r / r.sum()


def _fit(model, cfg: EMConfig, rho0=None, what: str = "", **kw) -> MixtureEM:
    try:
        return MixtureEM(model, cfg, rho0=rho0).fit(**kw)
    except ValueError as exc:
        raise AssertionError(f"{what}: the engine rejected the adapter's output: {exc}") from exc


def _loglik(model, params) -> np.ndarray:
    return np.asarray(model.log_likelihood(copy.deepcopy(params)), dtype=float)


def _assert_nondecreasing(values, what: str, rtol: float, kind: MStep) -> None:
    v = np.asarray(values, dtype=float)
    for t in range(1, v.size):
        slack = rtol * max(1.0, abs(v[t - 1]))
        if not v[t] >= v[t - 1] - slack:
            promise = "may fall by at most" if kind == "gradient" else "must not decrease (slack"
            raise AssertionError(
                f"{what} fell from {v[t - 1]:.12g} to {v[t]:.12g} at iteration {t} "
                f"({kind} M-step: it {promise} {slack:.3g}{')' if kind != 'gradient' else ''}); trace {v.tolist()}"
            )


def check_monotone(case: MixtureCase, seed: int = 0) -> None:
    """Soft EM's l and fixed-prior leaky EM's F_nu never decrease (module docstring)."""
    K = case.n_components
    model = case.make()
    cfg = EMConfig(n_components=K, accelerate="none", assignment="soft", prior="estimate", max_iter=case.max_iter,
                   tol=0.0, seed=seed)
    em = _fit(model, cfg, what="soft EM")
    _assert_nondecreasing([t["marginal_ll"] for t in em.trace_], "soft EM: the marginal log-likelihood",
                          case.tolerance, case.m_step)
    L = _loglik(model, em.params_)
    l_end = le.marginal_log_likelihood(L, em.rho_)
    if not np.isclose(l_end, em.trace_[-1]["marginal_ll"], rtol=1e-9, atol=1e-9):
        raise AssertionError(
            f"soft EM: the traced marginal log-likelihood {em.trace_[-1]['marginal_ll']:.12g} is not "
            f"l = {l_end:.12g} of the adapter's log_likelihood at the returned params (hidden state?)"
        )
    if not np.allclose(em.responsibilities_, le.posterior(L, em.rho_), atol=1e-9):
        raise AssertionError("soft EM: responsibilities_ are not the posterior of the adapter's log-likelihoods")
    cfg = EMConfig(n_components=K, assignment="leaky", leak=case.leak, prior="fixed", max_iter=case.max_iter,
                   tol=0.0, seed=seed)
    em = _fit(case.make(), cfg, rho0=_prior(K), what="leaky EM")
    trace = em.trace_
    _assert_nondecreasing([t["leaky_elbo"] for t in trace], f"leaky EM (nu = {case.leak}, fixed prior): F_nu",
                          case.tolerance, case.m_step)
    for t in trace:
        if not t["leaky_elbo"] <= t["marginal_ll"] + 1e-9 * max(1.0, abs(t["marginal_ll"])):
            raise AssertionError(f"leaky EM: F_nu = {t['leaky_elbo']:.12g} exceeds l = {t['marginal_ll']:.12g} "
                                 f"at iteration {t['iter']} (F_nu <= l, seed 000 Remark A.2)")


def check_label_switching(case: MixtureCase, seed: int = 0) -> None:
    """Relabelling the start relabels the fit (module docstring)."""
    K = case.n_components
    perm = derive(seed, "perm").permutation(K)
    if np.array_equal(perm, np.arange(K)):
        perm = np.roll(perm, 1)
    relabel = case.permute or permute_components
    base = case.make()
    N = base.n_users
    params0 = base.init_params(K, derive(seed, "init"))
    R = derive(seed, "responsibilities").dirichlet(np.ones(K), size=N)
    rho0 = _prior(K)
    cfg = EMConfig(n_components=K, accelerate="none", assignment="soft", prior="estimate", init="given",
                   max_iter=case.max_iter, tol=0.0, seed=seed)
    a = _fit(_FixedStart(base, params0), cfg, rho0=rho0, what="label switching", responsibilities=R)
    other = case.make()
    b = _fit(_FixedStart(other, relabel(params0, perm)), cfg, rho0=rho0[perm], what="label switching (relabelled)",
             responsibilities=R[:, perm])
    tol = dict(rtol=case.switch_tolerance, atol=case.switch_tolerance)
    head = f"label switching (components relabelled by {perm.tolist()})"
    ta = np.array([[t["marginal_ll"], t["leaky_elbo"]] for t in a.trace_])
    tb = np.array([[t["marginal_ll"], t["leaky_elbo"]] for t in b.trace_])
    if ta.shape != tb.shape or not np.allclose(ta, tb, **tol):
        raise AssertionError(f"{head}: the traces differ: {ta[:, 0].tolist()} vs {tb[:, 0].tolist()}")
    if not np.allclose(b.rho_, a.rho_[perm], **tol):
        raise AssertionError(f"{head}: rho {b.rho_.tolist()} is not the relabelled {a.rho_[perm].tolist()}")
    if not np.allclose(b.responsibilities_, a.responsibilities_[:, perm], **tol):
        raise AssertionError(f"{head}: the responsibilities are not the relabelled ones")
    La, Lb = _loglik(base, a.params_), _loglik(other, b.params_)
    if not np.allclose(Lb, La[:, perm], **tol):
        err = float(np.max(np.abs(Lb - La[:, perm])))
        raise AssertionError(f"{head}: the fitted log-likelihood columns are not the relabelled ones (max diff {err:.3g})")


def _fingerprint(model, em: MixtureEM):
    return ([(t["marginal_ll"], t["leaky_elbo"], t["n_empty"]) for t in em.trace_], _loglik(model, em.params_),
            em.rho_.copy(), em.labels_.copy())


def check_determinism(case: MixtureCase, seed: int = 0) -> None:
    """Same seed, same numbers: a fresh adapter, and the same adapter fitted again (module docstring)."""
    cfg = EMConfig(n_components=case.n_components, assignment="leaky", leak=case.leak, prior="estimate",
                   init="random", n_restarts=2, max_iter=min(case.max_iter, 3), tol=0.0, seed=seed)
    m1 = case.make()
    first = _fingerprint(m1, _fit(m1, cfg, what="determinism"))
    m2 = case.make()
    runs = {"a fresh adapter": _fingerprint(m2, _fit(m2, cfg, what="determinism")),
            "the same adapter fitted again": _fingerprint(m1, _fit(m1, cfg, what="determinism"))}
    names = ("trace", "log-likelihoods at the fit", "rho", "labels")
    for how, other in runs.items():
        for name, x, y in zip(names, first, other):
            if not np.array_equal(np.asarray(x), np.asarray(y)):
                raise AssertionError(f"determinism: same seed {seed}, {how}: the {name} differ")


def check_empty_component(case: MixtureCase, seed: int = 0) -> None:
    """A component that wins nobody is reported, stays finite and keeps its parameters (module docstring)."""
    K = case.n_components
    model = case.make()
    N = model.n_users
    params0 = model.init_params(K, derive(seed, "init"))
    L0 = _loglik(model, params0)
    resp = np.eye(K)[np.arange(N) % (K - 1)]  # nobody starts in component K - 1 ...
    rho0 = np.r_[np.full(K - 1, 1.0 / (K - 1)), 0.0]  # ... and its prior is 0
    cfg = EMConfig(n_components=K, accelerate="none", assignment="hard", prior="estimate", init="given", max_iter=3,
                   tol=0.0, seed=seed)
    em = _fit(_FixedStart(model, params0), cfg, rho0=rho0, what="empty component", responsibilities=resp)
    k = K - 1
    head = f"empty component {k} (hard EM, re-estimated prior)"
    numbers = [em.rho_, em.responsibilities_] + [[t["marginal_ll"], t["leaky_elbo"]] for t in em.trace_]
    if not all(np.all(np.isfinite(np.asarray(x, dtype=float))) for x in numbers):
        raise AssertionError(f"{head}: a NaN or inf in rho, the responsibilities or the trace")
    if em.rho_[k] != 0.0:
        raise AssertionError(f"{head}: rho_{k} = {em.rho_[k]!r}, expected exactly 0")
    if k not in set(np.asarray(em.empty_components_).tolist()):
        raise AssertionError(f"{head}: not reported in empty_components_ = {em.empty_components_!r}")
    if not all(t["n_empty"] >= 1 for t in em.trace_):
        raise AssertionError(f"{head}: the trace's n_empty does not count it: {[t['n_empty'] for t in em.trace_]}")
    L = _loglik(model, em.params_)
    if not np.all(np.isfinite(L)):
        raise AssertionError(f"{head}: the adapter's log-likelihoods at the fit contain NaN or inf")
    if case.component is not None:
        before, after = np.asarray(case.component(params0, k)), np.asarray(case.component(em.params_, k))
        if not np.array_equal(before, after):
            raise AssertionError(f"{head}: its parameters changed ({before.ravel()[:4]} -> {after.ravel()[:4]}); "
                                 "an M-step must leave a component with all-zero weights unchanged")
    elif not np.allclose(L[:, k], L0[:, k], rtol=1e-9, atol=1e-9):
        err = float(np.max(np.abs(L[:, k] - L0[:, k])))
        raise AssertionError(f"{head}: its parameters changed (log-likelihood column moved by {err:.3g}); an "
                             "M-step must leave a component with all-zero weights unchanged")


MIXTURE_CHECKS: dict[str, Callable[[MixtureCase, int], None]] = {
    "monotone": check_monotone,
    "label_switching": check_label_switching,
    "determinism": check_determinism,
    "empty_component": check_empty_component,
}
"""The checks of an EM adapter, by name."""


def check_mixture_model(adapter_factory, seed: int = 0, checks=None) -> None:
    """Run every check (or those named in ``checks``) on an EM adapter; raises ``AssertionError``.

    ``adapter_factory``: a :class:`MixtureCase`, or a callable returning a fresh adapter (then the
    defaults of :class:`MixtureCase` apply: K = 3, an exact M-step)."""
    case = adapter_factory if isinstance(adapter_factory, MixtureCase) else MixtureCase(make=adapter_factory)
    if case.n_components < 2:
        raise ValueError(f"n_components: the checks need K >= 2, got {case.n_components}")
    for name in checks or MIXTURE_CHECKS:
        if name not in MIXTURE_CHECKS:
            raise ValueError(f"checks: unknown mixture check {name!r}; known: {sorted(MIXTURE_CHECKS)}")
        MIXTURE_CHECKS[name](case, seed)
