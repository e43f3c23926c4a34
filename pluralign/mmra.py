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
* ``mmra_lw`` (Algorithm 2 as printed, loss weighting): multiplicative weights w over groups, the policy
  step weighted DPO on the preference data with user i weighted by gamma_i = sum_k w_k gamma_ik (line 4),
  Table 5's 20 iterations and eta = 0.01; the output is the last policy.

In ``mmra_original`` the update p_k ∝ p_k exp(eta R̂_k) with eta = eta0 / max(R̂) and the averaged output
are our reading (Algorithm 3 prints no step size for the exact-expectation variant).

What AE does and does not guarantee (tested in ``tests/pluralign/test_mmra.py``):

* with the exact regret table T[k, j] = R_k(pi_j), AE's max regret is <= that of every mixture of the
  candidates, the uniform one included (LP optimality);
* with an estimated table T̂ and eps = max_kj |T̂[k, j] - T[k, j]|, the true max regret of AE(T̂) is at
  most min_w max_k (T w)_k + 2 eps (:func:`ae_regret_bound`; for any w, |((T̂ - T) w)_k| <= eps);
* AE is NOT guaranteed to beat vanilla DPO, which is not a mixture of the candidates: J_k is concave in
  the policy, so a single compromise policy can have a smaller max regret than every mixture of the
  type optima (counterexample: ``test_vanilla_dpo_can_beat_every_mixture_of_type_optima``).  Passing
  vanilla DPO's policy as an extra candidate (``candidates=``) restores the comparison up to 2 eps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_softmax, logsumexp

from pluralign.theory.validation import as_finite_array
from pluralign.theory.zero_sum import ZeroSumSolution, min_max_regret

__all__ = ["estimated_regrets", "estimated_value_matrix", "estimated_regret_table", "MMRAResult", "mmra_ae",
           "mmra_original", "mmra_lw", "mixture_regrets", "mixture_logpolicy", "ae_regret_bound", "mwu_update"]


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
    return -estimated_regret_table(logpis, beta)


def estimated_regret_table(logpis, beta: float, candidates=None) -> np.ndarray:
    """T̂[k, j] = R̂_k(c_j) = beta E_x KL(c_j || pi_k): the estimated regret of group k (policy pi_k) for
    candidate c_j; the candidates default to the K policies themselves (then T̂ is K x K, zero diagonal)."""
    lps = _check_logpis(logpis)
    cands = lps if candidates is None else _check_logpis(candidates)
    if cands.shape[1:] != lps.shape[1:]:
        raise ValueError(f"candidates: expected (J, {lps.shape[1]}, {lps.shape[2]}) tables, got {cands.shape}")
    return np.stack([estimated_regrets(c, lps, beta) for c in cands], axis=1)


def mixture_regrets(regret_table, w, *, n_groups: int | None = None) -> np.ndarray:
    """(K,) regrets of the randomised mixture sum_j w_j pi_j, given regret_table[k, j] = R_k(pi_j): groups
    on axis 0, candidate policies on axis 1. ``w`` is a distribution over the candidates. Pass
    ``n_groups`` to have the axis checked: a transposed table then raises a ``ValueError`` naming
    ``regret_table`` (a square table cannot be told apart otherwise)."""
    T = as_finite_array(regret_table, "regret_table")
    if T.ndim != 2:
        raise ValueError(f"regret_table: expected (n_groups, n_candidates), got shape {T.shape}")
    if n_groups is not None and T.shape[0] != int(n_groups):
        raise ValueError(f"regret_table: expected {n_groups} groups on axis 0, got shape {T.shape} (transposed?)")
    w = as_finite_array(w, "w")
    if w.shape != (T.shape[1],):
        raise ValueError(f"w: expected ({T.shape[1]},) weights over the candidates of regret_table {T.shape}, "
                         f"got shape {w.shape}")
    if np.any(w < -1e-12) or abs(w.sum() - 1.0) > 1e-6:
        raise ValueError(f"w: must be non-negative and sum to 1, got sum {w.sum():.12g}")
    return T @ w


def mixture_logpolicy(logpis, w) -> np.ndarray:
    """(X, Y) log of the mixture policy pi_w(y | x) = sum_j w_j pi_j(y | x).

    Drawing the policy j ~ w per prompt and then y ~ pi_j(. | x) generates exactly pi_w, and because
    KL(. || pi_ref) is convex, J_k(pi_w) >= sum_j w_j J_k(pi_j): the linear :func:`mixture_regrets` (the
    game AE solves) is an upper bound on the regret of the policy actually deployed."""
    lps = _check_logpis(logpis)
    w = np.asarray(w, dtype=float)
    if w.shape != (lps.shape[0],) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"w: expected {lps.shape[0]} non-negative weights summing to 1")
    with np.errstate(divide="ignore"):
        return logsumexp(lps + np.log(w)[:, None, None], axis=0)


def ae_regret_bound(T_hat, T) -> dict:
    """The guarantee AE keeps when its regret table is estimated (a standard perturbation argument; ours,
    not the seed's): with eps = max_kj |T̂ - T|, for w_AE = argmin_w max_k (T̂ w)_k and every mixture w,

        max_k (T w_AE)_k <= max_k (T̂ w_AE)_k + eps <= max_k (T̂ w)_k + eps <= max_k (T w)_k + 2 eps.

    Returns eps, the best true mixture value min_w max_k (T w)_k (LP), AE's true value and the bound."""
    T_hat, T = np.asarray(T_hat, dtype=float), np.asarray(T, dtype=float)
    if T_hat.shape != T.shape or T.ndim != 2 or not (np.all(np.isfinite(T)) and np.all(np.isfinite(T_hat))):
        raise ValueError(f"T_hat, T: expected two finite arrays of one (K, J) shape, got {T_hat.shape}, {T.shape}")
    zero = np.zeros((1, T.shape[1]))
    w_ae = min_max_regret(np.vstack([zero, T_hat]), method="lp").w
    best = min_max_regret(np.vstack([zero, T]), method="lp")
    eps = float(np.max(np.abs(T_hat - T)))
    ae_true = float(max(0.0, np.max(T @ w_ae)))
    return {"eps": eps, "best_mixture_true": float(best.value), "ae_true": ae_true,
            "bound": float(best.value) + 2 * eps, "holds": bool(ae_true <= float(best.value) + 2 * eps + 1e-12)}


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


def mmra_ae(logpis, beta: float, method: str = "lp", tol: float = 1e-9, candidates=None, **kwargs) -> MMRAResult:
    """MMRA-AE (seed 001 Algorithm 4): min over mixtures w of max_k R̂_k (eq. 39) via the theory layer.

    ``candidates`` (J, X, Y): the policies to mix (default: the K group policies, the seed's ensemble);
    the groups and their estimated rewards always come from ``logpis``.  ``w`` then has J entries."""
    # rows: the null row z0, then group k's estimated regret of candidate j; without candidates this is
    # regret_matrix(estimated_value_matrix(logpis, beta)) (tested)
    T_hat = estimated_regret_table(logpis, beta, candidates)
    R = np.vstack([np.zeros((1, T_hat.shape[1])), T_hat])
    sol = min_max_regret(R, method=method, tol=tol, **kwargs)
    p = sol.p[1:]
    p = p / p.sum() if p.sum() > 0 else np.full_like(p, 1.0 / p.size)
    return MMRAResult("ae", w=sol.w, p=p, estimated_max_regret=float(np.max(R[1:] @ sol.w)), solution=sol)


def mwu_update(p, regrets, eta: float) -> np.ndarray:
    """One multiplicative-weights step of the adversary over the K groups (Algorithms 2 and 3):
    p_k <- p_k exp(eta R_k) / Z, computed in log space (``p`` on the simplex, ``eta >= 0``; eta = 0 keeps p)."""
    p = as_finite_array(p, "p")
    reg = as_finite_array(regrets, "regrets")
    if p.ndim != 1 or reg.shape != p.shape:
        raise ValueError(f"regrets: expected shape {p.shape} (one per group), got {reg.shape}")
    if np.any(p < 0) or abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"p: must be non-negative and sum to 1, got sum {p.sum():.12g}")
    if not (np.isfinite(eta) and float(eta) >= 0):
        raise ValueError(f"eta: must be a finite number >= 0, got {eta}")
    with np.errstate(divide="ignore"):
        logp = np.log(p) + float(eta) * reg
    return np.exp(logp - logsumexp(logp))


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
        p = mwu_update(p, reg, eta0 / scale)
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


def check_responsibilities(responsibilities, n_users: int, K: int) -> np.ndarray:
    """EM-DPO's posterior gamma as an (n_users, K) float array with rows on the simplex (MMRA-LW's input);
    ValueError naming it otherwise."""
    G = np.asarray(responsibilities, dtype=float)
    if G.shape != (n_users, K) or not np.all(np.isfinite(G)) or np.any(G < 0) \
            or not np.allclose(G.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(f"responsibilities: expected a finite ({n_users}, {K}) array with rows on the simplex, "
                         f"got shape {G.shape}")
    return G


LW_ITER = 20
"""MMRA-LW's MWU iterations, seed 001 Table 5 ("No. of MWU Iterations 20")."""
LW_ETA = 0.01
"""MMRA-LW's MWU learning rate, seed 001 Table 5 ("MWU Learning Rate (eta) 0.01")."""


def mmra_lw(logpis, policy, choices, responsibilities, beta: float, n_iter: int = LW_ITER,
            eta: float = LW_ETA) -> MMRAResult:
    """MMRA-LW (seed 001 Algorithm 2) as printed, in the exact tabular setting.

    Algorithm 2: "2: Initialize: weights (w_1^0, ..., w_K^0) = (1/K, ..., 1/K); current policy pi^0 =
    pi_SFT ... 4: Compute weights as gamma_i = sum_k w_k^{t-1} gamma_{i,k}; 5-7: for a few batches in D
    perform weighted DPO as in Algorithm 1 to get pi^t; 8: Compute regrets R_k(pi^t) as per 4; 9: Update
    weights w_k^t ∝ exp(R_k(pi) x eta)", with Table 5's 20 MWU iterations and eta = 0.01 (the defaults).
    Here: user i's example weight is gamma_i = sum_k w_k gamma_ik (``responsibilities`` = EM-DPO's (N, K)
    posterior, rows on the simplex); the policy step is the weighted k-wise DPO fit of ``policy`` (a
    :class:`pluralign.emdpo.LogLinearPolicy`, solved to convergence, warm-started at pi^{t-1}, pi^0 =
    pi_SFT: "a few batches" of an SGD run is what an LLM can afford); R_k is the estimated regret of eq. 4
    with the EM-DPO policies (:func:`estimated_regrets`); line 9 is read as the multiplicative-weights step
    w^t ∝ w^{t-1} exp(eta R(pi^t)) (sec. 3.2: "the maximizing player using multiplicative weights
    updates"; :func:`mwu_update`), as in :func:`pluralign.llm.mmra.mmra_lw_adapters`. The output is the
    last policy pi^T (Alg. 2 prints no averaging); ``p`` is the last weights w^T and ``history`` the max
    estimated regret of every pi^t. With uniform w every user weighs 1/K: the first step is vanilla DPO."""
    if int(n_iter) < 1:
        raise ValueError(f"n_iter: must be >= 1, got {n_iter}")
    if not (np.isfinite(eta) and float(eta) >= 0):
        raise ValueError(f"eta: must be a finite number >= 0, got {eta}")
    lps = _check_logpis(logpis)
    K = lps.shape[0]
    G = check_responsibilities(responsibilities, choices.n_users, K)
    w, theta, hist = np.full(K, 1.0 / K), None, []
    for _ in range(int(n_iter)):
        gamma = G @ w  # line 4
        theta = policy.fit(choices, gamma[choices.user], theta)  # lines 5-7
        lp = policy.logprobs(theta)
        reg = estimated_regrets(lp, lps, beta)  # line 8
        hist.append(float(reg.max()))
        w = mwu_update(w, reg, eta)  # line 9
    return MMRAResult("lw", logpi=lp, p=w, history=hist, estimated_max_regret=hist[-1])
