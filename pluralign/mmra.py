"""Min-max regret aggregation (MMRA) of K type-specific policies (seed 001, Chidambaram et al.,
Algorithms 2, 3 and 4; App. C eq. 39), in the exact tabular setting.

Inputs are the EM-DPO policies pi_1..pi_K and the reference pi_ref = pi_SFT, as (X, Y) log-probability
tables (prompts uniform; every expectation below is exact over the tables).  Group k's estimated reward is
the implicit reward r̂_k = beta log(pi_k / pi_ref).  The regret is the one the seed prints:

* eq. 3 (sec. 3.2): "R_k(pi) := E_{pi_k^*}[r^*(y, x; z_k)] - E_pi[r^*(y, x; z_k)]", the shortfall in
  UNREGULARISED expected reward; eq. 4 writes it with the implicit reward, "R_k(pi) =
  E_{pi_k^*}[beta log pi_k^*/pi_SFT] - E_pi[beta log pi_k^*/pi_SFT]", and keeps beta KL(pi || pi_SFT) as
  a separate term of the objective "min_pi max_w sum_k w_k ([R_k(pi)]^+ + beta KL(pi || pi_SFT))".  Here

      R̂_k(pi) = beta E_x [ E_{y ~ pi_k} log(pi_k / pi_ref) - E_{y ~ pi} log(pi_k / pi_ref) ]

  (:func:`estimated_regrets`).  It is 0 at pi = pi_k and can be negative: a policy greedier than pi_k
  on r̂_k earns more of it.  (It is NOT beta KL(pi || pi_k): that is the regret in the KL-regularised
  objective E_pi r̂_k - beta KL(pi || pi_ref), and R̂_k(pi) = beta KL(pi || pi_k)
  + beta [KL(pi_k || pi_ref) - KL(pi || pi_ref)].)
* App. C / Alg. 4 step 4: "L_{z,z'} := E_{x, y ~ pi_{z'}^*}[log(pi_z^*(y|x) / pi_SFT(y|x))]", step 5:
  "R_{k,k'} := L_{z_k,z_k} - L_{z_k,z_{k'}}" with a null row z0 of zeros, and eq. 39 "min_w max_p
  p^T R w".  :func:`estimated_value_matrix` is beta L (groups on rows, candidates on columns) and
  :func:`estimated_regret_table` is T̂[k, j] = R̂_k(c_j), so that for the K group policies
  [0; T̂] = :func:`theory.zero_sum.regret_matrix` (beta L) (tested).

* ``mmra_ae`` (Algorithm 4): the aggregate is the mixture policy pi_w = sum_j w_j c_j.  Expectations are
  linear in the policy, so R̂_k(pi_w) = (T̂ w)_k exactly, and min_w max_{p in Delta(K+1)} p^T [0; T̂] w =
  min_w [max_k R̂_k(pi_w)]^+ (the z0 row is eq. 4's [.]^+) is solved by
  :func:`theory.zero_sum.min_max_regret` (LP via HiGHS, or optimistic Hedge as in the seed).
* ``mmra_original`` (Algorithm 3, exact expectations): multiplicative weights p over the groups against
  the exact best response to eq. 4's objective with the [.]^+ dropped,
  argmin_pi sum_k p_k R̂_k(pi) + beta KL(pi || pi_ref) = pi_ref exp(sum_k p_k r̂_k / beta) / Z (a geometric
  mixture of the pi_k); the MW step uses the raw R̂_k (the KL term is common to every k and cancels in
  the normalisation; the [.]^+ is dropped there too); the output is the average of the iterates.
* ``mmra_lw`` (Algorithm 2 as printed, loss weighting): multiplicative weights w over groups, the policy
  step weighted DPO on the preference data with user i weighted by gamma_i = sum_k w_k gamma_ik (line 4),
  line 8's "Compute regrets R_k(pi^t) as per 4" = :func:`estimated_regrets`, Table 5's 20 iterations and
  eta = 0.01; the output is the last policy.

In ``mmra_original`` the update p_k ∝ p_k exp(eta R̂_k) with eta = eta0 / max_k |R̂_k| and the averaged
output are our reading (Algorithm 3 prints no step size for the exact-expectation variant).

Where this departs from the print: every reported "max regret" (``estimated_max_regret``,
:func:`mixture_regrets`) is max_k R̂_k itself, without eq. 4's [.]^+ (sec. 5's metric "Max-regret =
max_k R_k(pi)" has none), so it can be negative; only AE's game carries the [.]^+, as the z0 row.

What AE does and does not guarantee (tested in ``tests/pluralign/test_mmra.py``); [a]^+ = max(a, 0):

* with the exact regret table T[k, j] = R_k(c_j), AE's [max_k R_k]^+ is <= that of every mixture of
  the candidates, the uniform one and every candidate included (LP optimality; R_k(pi_w) = (T w)_k);
* with an estimated table T̂ and eps = max_kj |T̂[k, j] - T[k, j]|, the true [max_k R_k]^+ of AE(T̂) is
  at most min_w [max_k (T w)_k]^+ + 2 eps (:func:`ae_regret_bound`; for any w, |((T̂ - T) w)_k| <= eps
  and [.]^+ is monotone and 1-Lipschitz); with the printed regret this bounds the deployed mixture policy
  itself, not only a linear surrogate;
* AE is NOT guaranteed to beat vanilla DPO, which is not a mixture of the candidates: a compromise
  response that no type optimum favours can serve every group better than any mixture of the optima
  (``test_vanilla_dpo_can_beat_every_mixture_of_type_optima``); passing vanilla DPO's policy as an extra
  candidate (``candidates=``) restores the comparison up to 2 eps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_softmax, logsumexp

from pluralign.theory.validation import as_finite_array
from pluralign.theory.zero_sum import ZeroSumSolution, min_max_regret

__all__ = ["estimated_regrets", "estimated_value_matrix", "estimated_regret_table", "MMRAResult", "mmra_ae",
           "mmra_original", "mmra_lw", "mixture_regrets", "mixture_logpolicy", "ae_regret_bound", "mwu_update"]


def _check_logpis(logpis, name: str = "logpis") -> np.ndarray:
    lp = np.asarray(logpis, dtype=float)
    if lp.ndim != 3 or lp.shape[0] < 1 or not np.all(np.isfinite(lp)):
        what = "(K, X, Y)" if name == "logpis" else "(J, X, Y)"
        raise ValueError(f"{name}: expected a finite {what} array of log-probabilities, got shape {lp.shape}")
    return log_softmax(lp, axis=2)


def _check_ref(log_ref, shape) -> np.ndarray:
    lr = np.asarray(log_ref, dtype=float)
    if lr.shape != tuple(shape) or not np.all(np.isfinite(lr)):
        raise ValueError(f"log_ref: expected a finite {tuple(shape)} array of reference log-probabilities "
                         f"(pi_SFT, one row per prompt), got shape {lr.shape}")
    return log_softmax(lr, axis=1)


def _check_beta(beta) -> float:
    if not (np.isfinite(beta) and float(beta) > 0):
        raise ValueError(f"beta: must be a finite number > 0, got {beta}")
    return float(beta)


def _inputs(logpis, log_ref, beta, candidates=None):
    lps = _check_logpis(logpis)
    lref = _check_ref(log_ref, lps.shape[1:])
    cands = lps if candidates is None else _check_logpis(candidates, "candidates")
    if cands.shape[1:] != lps.shape[1:]:
        raise ValueError(f"candidates: expected (J, {lps.shape[1]}, {lps.shape[2]}) tables, got {cands.shape}")
    return lps, lref, cands, _check_beta(beta)


def _value_matrix(lps, lref, cands, beta) -> np.ndarray:
    """beta E_x E_{y ~ c_j}[log(pi_k / pi_ref)] for normalised tables: (K, J)."""
    rhat = beta * (lps - lref[None])  # r̂_k, (K, X, Y)
    return np.einsum("jxy,kxy->kj", np.exp(cands), rhat) / lps.shape[1]


def estimated_value_matrix(logpis, log_ref, beta: float, candidates=None) -> np.ndarray:
    """(K, J) L[k, j] = beta E_x E_{y ~ c_j}[log(pi_k / pi_ref)]: group k's expected estimated reward
    r̂_k under candidate c_j (seed 001 Alg. 4 step 4's L_{z_k, c_j}, times beta).  The candidates default
    to the K group policies; then :func:`theory.zero_sum.regret_matrix` of L is Alg. 4's R."""
    return _value_matrix(*_inputs(logpis, log_ref, beta, candidates))


def estimated_regret_table(logpis, log_ref, beta: float, candidates=None) -> np.ndarray:
    """(K, J) T̂[k, j] = R̂_k(c_j) = L[k, k] - L[k, j], with L[k, k] = beta E_{pi_k}[log(pi_k / pi_ref)]
    (eq. 4's regret, Alg. 4 step 5 without the z0 row): group k's estimated regret for candidate c_j.
    The candidates default to the K group policies (then T̂ is K x K with a zero diagonal)."""
    lps, lref, cands, beta = _inputs(logpis, log_ref, beta, candidates)
    own = np.diag(_value_matrix(lps, lref, lps, beta))
    return own[:, None] - _value_matrix(lps, lref, cands, beta)


def estimated_regrets(logpi, logpis, log_ref, beta: float) -> np.ndarray:
    """(K,) R̂_k(pi) = beta (E_{pi_k}[log pi_k / pi_ref] - E_pi[log pi_k / pi_ref]) (seed 001 eq. 4's R_k,
    exact over the tables): the regret of pi for group k under r̂_k; 0 at pi_k, negative where pi earns
    more r̂_k than pi_k."""
    lp = np.asarray(logpi, dtype=float)
    if lp.ndim != 2:
        raise ValueError(f"logpi: expected an (X, Y) table of log-probabilities, got shape {lp.shape}")
    return estimated_regret_table(logpis, log_ref, beta, lp[None])[:, 0]


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

    Drawing the policy j ~ w per prompt and then y ~ pi_j(. | x) generates exactly pi_w, and every
    expectation is linear in the policy, E_{pi_w} f = sum_j w_j E_{pi_j} f: the regret of eq. 3 / eq. 4
    of the deployed pi_w is exactly the linear :func:`mixture_regrets` (the game AE solves)."""
    lps = _check_logpis(logpis)
    w = np.asarray(w, dtype=float)
    if w.shape != (lps.shape[0],) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"w: expected {lps.shape[0]} non-negative weights summing to 1")
    with np.errstate(divide="ignore"):
        return logsumexp(lps + np.log(w)[:, None, None], axis=0)


def ae_regret_bound(T_hat, T) -> dict:
    """The guarantee AE keeps when its regret table is estimated (a standard perturbation argument; ours,
    not the seed's): with eps = max_kj |T̂ - T|, m(v) = [max_k v_k]^+ (the value with the z0 row),
    w_AE = argmin_w m(T̂ w) and every mixture w,

        m(T w_AE) <= m(T̂ w_AE) + eps <= m(T̂ w) + eps <= m(T w) + 2 eps

    ([.]^+ is monotone and 1-Lipschitz, |((T̂ - T) w)_k| <= eps).  With the printed regret the mixture
    policy's regret is exactly T w (:func:`mixture_logpolicy`).
    Returns eps, the best true mixture value min_w m(T w) (LP), AE's true value m(T w_AE) and the bound."""
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
    """max_k R̂_k of the output under the estimated rewards (no [.]^+: can be negative)."""
    history: list = field(default_factory=list)
    """per-iteration estimated max regret (original, LW)."""
    solution: ZeroSumSolution | None = None
    """the zero-sum solution (AE)."""


def mmra_ae(logpis, log_ref, beta: float, method: str = "lp", tol: float = 1e-9, candidates=None,
            **kwargs) -> MMRAResult:
    """MMRA-AE (seed 001 Algorithm 4): min over mixtures w of [max_k R̂_k]^+ (eq. 39) via the theory layer.

    ``log_ref`` (X, Y): pi_SFT, the reference of the implicit rewards r̂_k = beta log(pi_k / pi_ref).
    ``candidates`` (J, X, Y): the policies to mix (default: the K group policies, the seed's ensemble);
    the groups and their estimated rewards always come from ``logpis``.  ``w`` then has J entries."""
    # rows: the null row z0, then group k's estimated regret of candidate j; without candidates this is
    # regret_matrix(estimated_value_matrix(logpis, log_ref, beta)) (tested)
    T_hat = estimated_regret_table(logpis, log_ref, beta, candidates)
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
        scale = max(float(np.abs(reg).max()), 1e-12)
        p = mwu_update(p, reg, eta0 / scale)
    return iterates, p_sum / n_iter, hist


def mmra_original(logpis, log_ref, beta: float, n_iter: int = 200, eta0: float = 0.5) -> MMRAResult:
    """MMRA original (seed 001 Algorithm 3) with exact expectations: multiplicative weights over groups vs
    the exact best response to eq. 4's objective with the [.]^+ dropped, argmin_pi sum_k p_k R̂_k(pi) +
    beta KL(pi || pi_ref) = pi_ref exp(sum_k p_k r̂_k / beta) / Z; the MW step p_k ∝ p_k exp(eta R̂_k)
    also uses the raw R̂_k (no [.]^+), eta = eta0 / max_k |R̂_k|; output = average of the iterates."""
    if int(n_iter) < 1:
        raise ValueError(f"n_iter: must be >= 1, got {n_iter}")
    lps, lref, _, beta = _inputs(logpis, log_ref, beta)
    rhat = lps - lref[None]  # r̂_k / beta

    def best_response(p):
        return log_softmax(lref + np.tensordot(p, rhat, axes=1), axis=1)

    iterates, p_bar, hist = _mw(best_response, lambda lp: estimated_regrets(lp, lps, lref, beta), lps.shape[0],
                                n_iter, eta0)
    avg = np.log(np.mean(np.exp(np.stack(iterates)), axis=0))
    return MMRAResult("original", logpi=avg, p=p_bar, history=hist,
                      estimated_max_regret=float(estimated_regrets(avg, lps, lref, beta).max()))


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


def mmra_lw(logpis, log_ref, policy, choices, responsibilities, beta: float, n_iter: int = LW_ITER,
            eta: float = LW_ETA) -> MMRAResult:
    """MMRA-LW (seed 001 Algorithm 2) as printed, in the exact tabular setting.

    Algorithm 2: "2: Initialize: weights (w_1^0, ..., w_K^0) = (1/K, ..., 1/K); current policy pi^0 =
    pi_SFT ... 4: Compute weights as gamma_i = sum_k w_k^{t-1} gamma_{i,k}; 5-7: for a few batches in D
    perform weighted DPO as in Algorithm 1 to get pi^t; 8: Compute regrets R_k(pi^t) as per 4; 9: Update
    weights w_k^t ∝ exp(R_k(pi) x eta)", with Table 5's 20 MWU iterations and eta = 0.01 (the defaults).
    Here: user i's example weight is gamma_i = sum_k w_k gamma_ik (``responsibilities`` = EM-DPO's (N, K)
    posterior, rows on the simplex); the policy step is the weighted k-wise DPO fit of ``policy`` (a
    :class:`pluralign.emdpo.LogLinearPolicy`, solved to convergence, warm-started at pi^{t-1}, pi^0 =
    pi_SFT: "a few batches" of an SGD run is what an LLM can afford); R_k is the estimated regret of eq. 4,
    R̂_k(pi^t) = beta (E_{pi_k}[log pi_k / pi_ref] - E_{pi^t}[log pi_k / pi_ref]) with the EM-DPO policies
    and ``log_ref`` = pi_SFT (:func:`estimated_regrets`; the policy's own reference, normally); line 9 is read as the multiplicative-weights step
    w^t ∝ w^{t-1} exp(eta R(pi^t)) (sec. 3.2: "the maximizing player using multiplicative weights
    updates"; :func:`mwu_update`), as in :func:`pluralign.llm.mmra.mmra_lw_adapters`. The output is the
    last policy pi^T (Alg. 2 prints no averaging); ``p`` is the last weights w^T and ``history`` the max
    estimated regret of every pi^t. With uniform w every user weighs 1/K: the first step is vanilla DPO."""
    if int(n_iter) < 1:
        raise ValueError(f"n_iter: must be >= 1, got {n_iter}")
    if not (np.isfinite(eta) and float(eta) >= 0):
        raise ValueError(f"eta: must be a finite number >= 0, got {eta}")
    lps, lref, _, beta = _inputs(logpis, log_ref, beta)
    K = lps.shape[0]
    G = check_responsibilities(responsibilities, choices.n_users, K)
    w, theta, hist = np.full(K, 1.0 / K), None, []
    for _ in range(int(n_iter)):
        gamma = G @ w  # line 4
        theta = policy.fit(choices, gamma[choices.user], theta)  # lines 5-7
        lp = policy.logprobs(theta)
        reg = estimated_regrets(lp, lps, lref, beta)  # line 8
        hist.append(float(reg.max()))
        w = mwu_update(w, reg, eta)  # line 9
    return MMRAResult("lw", logpi=lp, p=w, history=hist, estimated_max_regret=hist[-1])
