"""Min-max regret aggregation (MMRA) of K type-specific policies (seed 001, Chidambaram et al.,
Algorithms 2, 3 and 4; App. C eq. 39), in the exact tabular setting.

Inputs are the EM-DPO policies pi_1..pi_K (as (X, Y) log-probability tables) and their implicit rewards
r̂_k = beta log(pi_k / pi_ref) (+ a per-prompt constant that cancels in every regret).  With prompts uniform,
group k's KL-regularised value of a policy pi is J_k(pi) = E_x[E_pi r̂_k - beta KL(pi || pi_ref)], which
equals -beta E_x KL(pi || pi_k) up to a constant, so the estimated regret (eq. 3 with r̂_k) is exactly

    R̂_k(pi) = J_k(pi_k) - J_k(pi) = beta E_x KL(pi(.|x) || pi_k(.|x)).

* ``mmra_ae`` (Algorithm 4): the aggregate is a randomised mixture sum_j w_j pi_j; with
  L[k, j] = J_k(pi_j) the regret is linear in w and min_w max_k is the zero-sum game of eq. 39, solved by
  :func:`theory.zero_sum.min_max_regret` (LP via HiGHS, or optimistic Hedge as in the seed).
* ``mmra_original`` (Algorithm 3, exact expectations): multiplicative weights p over groups against the
  exact best response argmax_pi sum_k p_k J_k(pi) = pi_ref exp(sum_k p_k r̂_k / beta) / Z (a geometric
  mixture of the pi_k); the output is the average of the iterates (regret is convex in pi).
* ``mmra_lw`` (Algorithm 2, loss weighting): the same multiplicative weights, but the policy step is
  weighted DPO on the preference data, user i weighted by sum_k p_k gamma_ik / sum_i' gamma_i'k (the
  p-weighted sum of the per-group mean DPO losses); the output is the DPO policy at the averaged weights.

The update p_k ∝ p_k exp(eta R̂_k) with eta = eta0 / max(R̂) is our reading of the seed's multiplicative
weights (step size and averaging are not fixed by the issue text).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_softmax, logsumexp

from theory.zero_sum import ZeroSumSolution, min_max_regret, regret_matrix

__all__ = ["estimated_regrets", "estimated_value_matrix", "MMRAResult", "mmra_ae", "mmra_original", "mmra_lw",
           "mixture_regrets"]


def _check_logpis(logpis, log_ref=None) -> np.ndarray:
    lp = np.asarray(logpis, dtype=float)
    if lp.ndim != 3 or lp.shape[0] < 1 or not np.all(np.isfinite(lp)):
        raise ValueError(f"logpis: expected a finite (K, X, Y) array of log-probabilities, got shape {lp.shape}")
    if log_ref is not None and np.shape(log_ref) != lp.shape[1:]:
        raise ValueError(f"log_ref: expected shape {lp.shape[1:]}, got {np.shape(log_ref)}")
    return log_softmax(lp, axis=2)


def _kl(lp_a: np.ndarray, lp_b: np.ndarray) -> float:
    """E_x KL(a(.|x) || b(.|x)) for (X, Y) log tables."""
    return float(np.mean(np.sum(np.exp(lp_a) * (lp_a - lp_b), axis=1)))


def estimated_regrets(logpi, logpis, beta: float) -> np.ndarray:
    """(K,) R̂_k(pi) = beta E_x KL(pi || pi_k): the regret of pi for group k under r̂_k (exact, tabular)."""
    lps = _check_logpis(logpis)
    lp = log_softmax(np.asarray(logpi, dtype=float), axis=1)
    return np.array([float(beta) * _kl(lp, lk) for lk in lps])


def estimated_value_matrix(logpis, beta: float) -> np.ndarray:
    """L[k, j] = J_k(pi_j) = -beta E_x KL(pi_j || pi_k) (up to a per-k constant), the input of
    :func:`theory.zero_sum.regret_matrix`; its regrets L[k, k] - L[k, j] = beta E_x KL(pi_j || pi_k)."""
    lps = _check_logpis(logpis)
    K = lps.shape[0]
    return np.array([[-float(beta) * _kl(lps[j], lps[k]) for j in range(K)] for k in range(K)])


def mixture_regrets(regret_table, w) -> np.ndarray:
    """(K,) regrets of the randomised mixture sum_j w_j pi_j, given regret_table[k, j] = R_k(pi_j)."""
    return np.asarray(regret_table, dtype=float) @ np.asarray(w, dtype=float)


@dataclass
class MMRAResult:
    """The output of one MMRA variant."""

    method: str
    """"ae", "original" or "lw"."""
    logpi: np.ndarray | None = None
    """(X, Y) the aggregated policy (original, LW); None for AE's randomised mixture."""
    w: np.ndarray | None = None
    """(K,) AE's mixture weights over the K policies."""
    p: np.ndarray | None = None
    """(K,) averaged adversarial group weights (original, LW) or the adversary's strategy without z0 (AE)."""
    estimated_max_regret: float = float("nan")
    """max_k R̂_k of the output under the estimated rewards."""
    history: list = field(default_factory=list)
    """per-iteration estimated max regret (original, LW)."""
    solution: ZeroSumSolution | None = None
    """the zero-sum solution (AE)."""


def mmra_ae(logpis, beta: float, method: str = "lp", tol: float = 1e-9, **kwargs) -> MMRAResult:
    """MMRA-AE (seed 001 Algorithm 4): min over mixtures w of max_k R̂_k (eq. 39) via the theory layer."""
    L = estimated_value_matrix(logpis, beta)
    R = regret_matrix(L)
    sol = min_max_regret(R, method=method, tol=tol, **kwargs)
    p = sol.p[1:]
    p = p / p.sum() if p.sum() > 0 else np.full_like(p, 1.0 / p.size)
    return MMRAResult("ae", w=sol.w, p=p, estimated_max_regret=float(np.max(R[1:] @ sol.w)), solution=sol)


def _mw(best_response, regrets_of, K: int, n_iter: int, eta0: float):
    p = np.full(K, 1.0 / K)
    p_sum = np.zeros(K)
    iterates, hist = [], []
    for _ in range(int(n_iter)):
        lp = best_response(p)
        reg = regrets_of(lp)
        iterates.append(lp)
        p_sum += p
        hist.append(float(reg.max()))
        scale = max(float(reg.max()), 1e-12)
        logp = np.log(p) + eta0 * reg / scale
        p = np.exp(logp - logsumexp(logp))
    return iterates, p_sum / n_iter, hist


def mmra_original(logpis, log_ref, beta: float, n_iter: int = 200, eta0: float = 0.5) -> MMRAResult:
    """MMRA original (seed 001 Algorithm 3) with exact expectations: multiplicative weights over groups vs
    the exact best response pi_p ∝ pi_ref exp(sum_k p_k r̂_k / beta); output = average of the iterates."""
    if int(n_iter) < 1:
        raise ValueError(f"n_iter: must be >= 1, got {n_iter}")
    lps = _check_logpis(logpis, log_ref)
    lref = log_softmax(np.asarray(log_ref, dtype=float), axis=1)
    rhat = lps - lref[None]  # r̂_k / beta up to per-prompt constants

    def best_response(p):
        return log_softmax(lref + np.tensordot(p, rhat, axes=1), axis=1)

    iterates, p_bar, hist = _mw(best_response, lambda lp: estimated_regrets(lp, lps, beta), lps.shape[0],
                                n_iter, eta0)
    avg = np.log(np.mean(np.exp(np.stack(iterates)), axis=0))
    return MMRAResult("original", logpi=avg, p=p_bar, history=hist,
                      estimated_max_regret=float(estimated_regrets(avg, lps, beta).max()))


def mmra_lw(logpis, policy, choices, responsibilities, beta: float, n_iter: int = 30, eta0: float = 0.5) -> MMRAResult:
    """MMRA-LW (seed 001 Algorithm 2): multiplicative weights over groups around weighted DPO.

    ``policy`` is a :class:`pluralign.emdpo.LogLinearPolicy`, ``choices`` the preference records and
    ``responsibilities`` the (N, K) EM-DPO posteriors gamma; example i of user u gets weight
    sum_k p_k gamma_uk / sum_u' gamma_u'k."""
    if int(n_iter) < 1:
        raise ValueError(f"n_iter: must be >= 1, got {n_iter}")
    lps = _check_logpis(logpis)
    G = np.asarray(responsibilities, dtype=float)
    if G.shape != (choices.n_users, lps.shape[0]):
        raise ValueError(f"responsibilities: expected shape {(choices.n_users, lps.shape[0])}, got {G.shape}")
    Gn = G / np.clip(G.sum(axis=0, keepdims=True), 1e-300, None)
    theta = {"t": None}

    def fit(p):
        w = (Gn @ p)[choices.user]
        theta["t"] = policy.fit(choices, w / w.sum() * len(w), theta["t"])
        return policy.logprobs(theta["t"])

    _, p_bar, hist = _mw(fit, lambda lp: estimated_regrets(lp, lps, beta), lps.shape[0], n_iter, eta0)
    lp = fit(p_bar)
    return MMRAResult("lw", logpi=lp, p=p_bar, history=hist,
                      estimated_max_regret=float(estimated_regrets(lp, lps, beta).max()))
