"""The zero-sum min-max-regret game behind MMRA (seed 001, Appendix C, eq. 39 and Algorithm 4).

Seed 001 (Chidambaram et al., "Direct Preference Optimization With Unobserved Preference
Heterogeneity") aggregates K type-specific policies pi_1..pi_K into one mixture sum_j w_j pi_j whose
worst regret over the K sub-populations is smallest (min-max regret aggregation, MMRA). With the regret
linear in the mixture weights this is a finite zero-sum game

    min_{w in Delta_K}  max_{p in Delta_{K+1}}  p^T R w                                   (eq. 39)

between the aggregator (w over the K policies = columns) and an adversary (p over the K groups plus a
null row z0 whose regret is identically zero = rows). The seed solves it with optimistic Hedge against
optimistic Hedge for a fixed number of rounds T (Algorithm 4; T = 1e5, eta = 5 / sqrt(T) in its code).

This module gives:

* ``regret_matrix(L)`` -- R from the K x K matrix of expected rewards (see its docstring for the exact
  convention);
* ``solve_lp(R)`` -- the exact solution by linear programming (HiGHS), both strategies, with a
  duality-gap certificate;
* ``optimistic_hedge(R)`` -- Algorithm 4 with averaged iterates, stopped as soon as the *certified*
  duality gap of the averages is <= tol (instead of after a fixed T);
* ``hedge(R)`` -- plain Hedge against plain Hedge, for comparison;
* ``min_max_regret(R, method=...)`` -- dispatcher; ``duality_gap`` and ``convergence_curve`` helpers.

The printed form of eq. 39 is reproduced from memory of the seed (the paper is not in this repository):
the row z0 = 0 and the regret convention below are what the seed's game needs to be well posed
(value >= 0 even when estimated rewards make some regrets negative); this is stated again in
theory/README.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

from pluralign.theory.validation import as_finite_array

__all__ = [
    "ZeroSumSolution",
    "regret_matrix",
    "duality_gap",
    "solve_lp",
    "optimistic_hedge",
    "hedge",
    "min_max_regret",
    "convergence_curve",
    "seed_fixed_length_optimistic_hedge",
    "optimal_weight_ranges",
]


@dataclass
class ZeroSumSolution:
    """A solution of min_w max_p p^T R w.

    ``value`` is the worst-case loss max_i (R w)_i of the returned mixture ``w`` (what the aggregator is
    guaranteed); ``gap`` = max_i (R w)_i - min_j (R^T p)_j >= 0 certifies that ``value`` is within ``gap``
    of the game's value and that ``w``, ``p`` are ``gap``-optimal strategies.
    """

    w: np.ndarray  #: the aggregator's mixture over the K policies (columns of R)
    p: np.ndarray  #: the adversary's distribution over the rows of R (row 0 = z0 for regret_matrix)
    value: float  #: max_i (R w)_i, an upper bound on the game value within ``gap`` of it
    gap: float  #: certified duality gap max_i (R w)_i - min_j (R^T p)_j
    iterations: int  #: iterations used (1 for the LP)
    method: str  #: "lp", "optimistic_hedge" or "hedge"
    lower: float = field(default=float("nan"))  #: min_j (R^T p)_j, a lower bound on the value
    seconds: float = field(default=float("nan"))  #: wall time of the solve
    converged: bool = True  #: False when an iterative solver hit max_iter before gap <= tol


def regret_matrix(L) -> np.ndarray:
    """The regret matrix R of seed 001's zero-sum game (App. C, eq. 39).

    ``L`` is K x K with ``L[k, j]`` the expected reward of group k under policy j,
        L[k, j] = E_{x ~ D, y ~ pi_j(.|x)} [ beta log( pi_k(y|x) / pi_ref(y|x) ) ],
    i.e. the expected log-ratio (implicit DPO reward) of group k's policy pi_k, evaluated on responses of
    policy j.  Group k's regret for policy j is measured against its own policy:

        R[0, j]     = 0                         (the null row z0: the adversary may pick no group)
        R[1 + k, j] = L[k, k] - L[k, j]         (k = 0..K-1)

    so R is (K+1) x K, row 1 + k belongs to group k and column j to policy j; the diagonal R[1+k, k] is 0.
    Because of row z0 the value of the game is >= 0 even when estimation noise makes some
    L[k, j] > L[k, k].
    """
    L = as_finite_array(L, "L", ndim=2)
    K = L.shape[0]
    if K == 0 or L.shape != (K, K):
        raise ValueError(f"L: expected a non-empty square K x K matrix, got shape {L.shape}")
    R = np.zeros((K + 1, K))
    R[1:, :] = np.diag(L)[:, None] - L
    return R


def _check_R(R) -> np.ndarray:
    R = as_finite_array(R, "R", ndim=2)
    if R.shape[0] == 0 or R.shape[1] == 0:
        raise ValueError(f"R: needs at least one row and one column, got shape {R.shape}")
    return R


def _check_tol(tol: float) -> float:
    tol = float(tol)
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol: must be a positive finite number, got {tol}")
    return tol


def _check_max_iter(max_iter: int) -> int:
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter: must be a positive integer, got {max_iter}")
    return int(max_iter)


def duality_gap(R, w, p) -> tuple[float, float, float]:
    """(gap, upper, lower) with upper = max_i (R w)_i, lower = min_j (R^T p)_j and gap = upper - lower.

    For any mixed strategies lower <= value(R) <= upper, so ``gap`` certifies both strategies."""
    R = _check_R(R)
    w = as_finite_array(w, "w", ndim=1)
    p = as_finite_array(p, "p", ndim=1)
    if w.shape[0] != R.shape[1]:
        raise ValueError(f"w: expected length {R.shape[1]}, got {w.shape[0]}")
    if p.shape[0] != R.shape[0]:
        raise ValueError(f"p: expected length {R.shape[0]}, got {p.shape[0]}")
    upper = float(np.max(R @ w))
    lower = float(np.min(R.T @ p))
    return upper - lower, upper, lower


def _project_simplex_clean(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, None)
    s = x.sum()
    return x / s if s > 0 else np.full_like(x, 1.0 / x.size)


def solve_lp(R) -> ZeroSumSolution:
    """Exact solution of min_w max_p p^T R w (seed 001 eq. 39) by linear programming (HiGHS).

    Primal: min t s.t. R w <= t 1, 1^T w = 1, w >= 0.  The adversary's strategy p is read from the duals of
    the inequality rows; if the resulting duality gap exceeds 1e-9 the dual LP
    max s s.t. R^T p >= s 1, 1^T p = 1, p >= 0 is solved explicitly.  The reported ``gap`` is the
    certificate max_i (R w)_i - min_j (R^T p)_j computed from the returned strategies."""
    R = _check_R(R)
    t0 = time.perf_counter()
    m, K = R.shape
    # variables (w_1..w_K, t)
    c = np.zeros(K + 1)
    c[-1] = 1.0
    A_ub = np.hstack([R, -np.ones((m, 1))])
    A_eq = np.zeros((1, K + 1))
    A_eq[0, :K] = 1.0
    bounds = [(0, None)] * K + [(None, None)]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(m), A_eq=A_eq, b_eq=[1.0], bounds=bounds, method="highs")
    if res.status != 0:  # pragma: no cover - a finite game always has a solution
        raise RuntimeError(f"linprog failed on the primal: {res.message}")
    w = _project_simplex_clean(res.x[:K])
    p = _project_simplex_clean(-np.asarray(res.ineqlin.marginals))
    gap, upper, lower = duality_gap(R, w, p)
    if gap > 1e-9:
        cd = np.zeros(m + 1)
        cd[-1] = -1.0
        A_ub_d = np.hstack([-R.T, np.ones((K, 1))])
        A_eq_d = np.zeros((1, m + 1))
        A_eq_d[0, :m] = 1.0
        resd = linprog(cd, A_ub=A_ub_d, b_ub=np.zeros(K), A_eq=A_eq_d, b_eq=[1.0],
                       bounds=[(0, None)] * m + [(None, None)], method="highs")
        if resd.status == 0:
            p = _project_simplex_clean(resd.x[:m])
            gap, upper, lower = duality_gap(R, w, p)
    return ZeroSumSolution(w=w, p=p, value=upper, gap=max(gap, 0.0), iterations=1, method="lp",
                           lower=lower, seconds=time.perf_counter() - t0)


def optimal_weight_ranges(R, slack: float = 1e-9) -> np.ndarray:
    """(K, 2) the smallest and largest weight each policy j gets over the whole optimal set
    {w in Delta_K : max_i (R w)_i <= value + slack} of min_w max_p p^T R w (2K LPs, HiGHS).

    The optimal mixture is unique iff every range has (numerically) zero width.  It matters in two places:
    an iterative solver can only be compared weight-by-weight with the LP when the optimum is unique, and
    a wide range means the game is flat along a direction, so small errors in an *estimated* regret
    table can move the chosen weights far (see ``sims.mmra``)."""
    R = _check_R(R)
    if not np.isfinite(slack) or slack < 0:
        raise ValueError(f"slack: must be a finite number >= 0, got {slack}")
    m, K = R.shape
    value = solve_lp(R).value
    out = np.zeros((K, 2))
    for j in range(K):
        for col, sign in ((0, 1.0), (1, -1.0)):
            c = np.zeros(K)
            c[j] = sign
            res = linprog(c, A_ub=R, b_ub=np.full(m, value + slack), A_eq=np.ones((1, K)), b_eq=[1.0],
                          bounds=[(0, None)] * K, method="highs")
            if res.status != 0:  # pragma: no cover - the LP optimum is feasible by construction
                raise RuntimeError(f"linprog failed on weight range {j}: {res.message}")
            out[j, col] = float(np.clip(res.x[j], 0.0, 1.0))
    return out


def _default_eta_optimistic(R: np.ndarray) -> float:
    # The averaged gap of optimistic Hedge decays like C / (eta T) (Rakhlin & Sridharan 2013; Syrgkanis et
    # al. 2015).  On random regret matrices (K = 2..12) the rounds needed for a gap of 1e-3 max|R| scaled as
    # 1 / eta up to eta ~ 3 / max|R| and flattened beyond; 2 / max|R| is the default, a little inside that.
    scale = float(np.max(np.abs(R)))
    return 2.0 / scale if scale > 0 else 1.0


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


def optimistic_hedge(R, tol: float = 1e-6, max_iter: int = 1_000_000, eta: float | None = None,
                     check_every: int = 10, iterate: str = "average") -> ZeroSumSolution:
    """Optimistic Hedge against optimistic Hedge with averaged iterates (seed 001 App. C, Algorithm 4).

    Both players start uniform.  At round t the aggregator plays w_t, the adversary p_t; with loss
    vectors l_t = R^T p_t (aggregator, minimizing) and g_t = R w_t (adversary, maximizing)

        w_{t+1} ∝ exp(-eta (sum_{s<=t} l_s + l_t)),     p_{t+1} ∝ exp(eta (sum_{s<=t} g_s + g_t)),

    i.e. Hedge on the cumulative loss plus one extra copy of the last loss as the optimistic prediction.
    The averages w̄_T, p̄_T are returned.  Unlike the seed's fixed T, the loop stops as soon as the certified
    duality gap max(R w̄) - min(R^T p̄) <= ``tol`` (checked every ``check_every`` rounds), or at
    ``max_iter`` (then ``converged`` is False).  ``eta`` defaults to 2 / max|R| (a constant step, for which
    optimistic Hedge's averages converge at rate O(1/T) instead of plain Hedge's O(1/sqrt T)).

    Cost: the gap after T rounds is about 1.3 max|R| / T with the default step, so ``tol`` = 1e-6 takes
    ~1e6 rounds or more; use ``solve_lp`` when an exact answer is wanted.

    ``iterate="last"`` returns the last iterate (w_T, p_T) instead, stopped when *its* certified gap is <=
    ``tol``; ``eta`` then defaults to 1 / max|R|.  Beyond the seed: optimistic Hedge's last iterate
    converges to the equilibrium when it is unique, at a linear rate for a small enough constant step
    (Daskalakis & Panageas, ITCS 2019; Wei, Lee, Zhang & Luo, ICLR 2021), where the average only converges
    as O(1/T). Measured on the MMRA tables: gap 1e-10 in 1e3-1e5 rounds with eta = 1 / max|R| (with
    eta = 2 / max|R| the last iterate cycles). When the equilibrium is not unique there is no rate
    guarantee; the certificate still tells (``converged``)."""
    if iterate not in ("average", "last"):
        raise ValueError(f"iterate: expected 'average' or 'last', got {iterate!r}")
    return _play(R, tol, max_iter, eta, check_every, optimistic=True, last=iterate == "last")


def hedge(R, tol: float = 1e-6, max_iter: int = 1_000_000, eta: float | None = None,
          check_every: int = 10) -> ZeroSumSolution:
    """Plain Hedge against plain Hedge with averaged iterates, for comparison with Algorithm 4.

    w_{t+1} ∝ exp(-eta_t sum_{s<=t} R^T p_s), p_{t+1} ∝ exp(eta_t sum_{s<=t} R w_s) with the anytime step
    eta_t = eta / sqrt(t) (``eta`` defaults to sqrt(log(max(K+1, 2))) / max|R|); the averages converge at
    rate O(1/sqrt T).  Stops when the certified gap <= ``tol`` or at ``max_iter``."""
    return _play(R, tol, max_iter, eta, check_every, optimistic=False)


def _play(R, tol, max_iter, eta, check_every, optimistic: bool, last: bool = False) -> ZeroSumSolution:
    """Both no-regret dynamics from uniform starts, averaged (or last) iterates, certified stopping.

    Optimistic (Algorithm 4): constant step, the last loss counted twice. Plain: anytime step eta / sqrt(t).
    R (sum_w / t) = cum_g / t and R^T (sum_p / t) = cum_l / t, so the in-loop certificate of the averages is
    free; the last iterate's is max(R w_t) - min(R^T p_t) from the next round's losses."""
    R = _check_R(R)
    tol = _check_tol(tol)
    max_iter = _check_max_iter(max_iter)
    m, K = R.shape
    if eta is None:
        if optimistic and last:
            scale = float(np.max(np.abs(R)))
            eta = 1.0 / scale if scale > 0 else 1.0
        elif optimistic:
            eta = _default_eta_optimistic(R)
        else:
            scale = float(np.max(np.abs(R)))
            eta = np.sqrt(np.log(max(m, K, 2))) / scale if scale > 0 else 1.0
    eta = float(eta)
    if not np.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta: must be a positive finite number, got {eta}")
    check_every = _check_max_iter(check_every)
    t0 = time.perf_counter()
    RT = np.ascontiguousarray(R.T)
    w = np.full(K, 1.0 / K)
    p = np.full(m, 1.0 / m)
    cum_l = np.zeros(K)  # sum of aggregator losses R^T p_s
    cum_g = np.zeros(m)  # sum of adversary gains R w_s
    sum_w = np.zeros(K)
    sum_p = np.zeros(m)
    t = 0
    while t < max_iter:
        t += 1
        sum_w += w
        sum_p += p
        l_t = RT @ p
        g_t = R @ w
        if last and (t % check_every == 0 or t == max_iter) and float(g_t.max() - l_t.min()) <= tol:
            break  # (w, p) = (w_t, p_t) is certified; it is what is returned
        cum_l += l_t
        cum_g += g_t
        if optimistic:
            w = _softmax(-eta * (cum_l + l_t))
            p = _softmax(eta * (cum_g + g_t))
        else:
            eta_t = eta / np.sqrt(t)
            w = _softmax(-eta_t * cum_l)
            p = _softmax(eta_t * cum_g)
        if (t % check_every == 0 or t == max_iter) and float(cum_g.max() - cum_l.min()) / t <= tol:
            break
    w_out, p_out = (w, p) if last else (sum_w / t, sum_p / t)
    gap, upper, lower = duality_gap(R, w_out, p_out)
    return ZeroSumSolution(w=w_out, p=p_out, value=upper, gap=max(gap, 0.0), iterations=t,
                           method="optimistic_hedge" if optimistic else "hedge", lower=lower,
                           seconds=time.perf_counter() - t0, converged=bool(gap <= tol + 1e-12))


def min_max_regret(R, method: str = "lp", tol: float = 1e-6, **kwargs) -> ZeroSumSolution:
    """Solve seed 001's MMRA game min_w max_p p^T R w (App. C eq. 39) with ``method`` in
    {"lp", "optimistic_hedge", "hedge"}; extra keyword arguments go to the iterative solvers."""
    if method == "lp":
        if kwargs:
            raise ValueError(f"kwargs: the LP takes no extra options, got {sorted(kwargs)}")
        _check_tol(tol)
        return solve_lp(R)
    if method == "optimistic_hedge":
        return optimistic_hedge(R, tol=tol, **kwargs)
    if method == "hedge":
        return hedge(R, tol=tol, **kwargs)
    raise ValueError(f"method: expected 'lp', 'optimistic_hedge' or 'hedge', got {method!r}")


def convergence_curve(R, Ts, method: str = "optimistic_hedge", eta: float | None = None) -> np.ndarray:
    """Certified duality gap of the averaged iterates after exactly T rounds, for each T in ``Ts``
    (measured convergence against T for Algorithm 4 and for plain Hedge)."""
    R = _check_R(R)
    Ts = np.asarray(Ts)
    if Ts.ndim != 1 or Ts.size == 0 or np.any(Ts < 1) or not np.issubdtype(Ts.dtype, np.integer):
        raise ValueError("Ts: expected a non-empty 1-d array of positive integers")
    solver = {"optimistic_hedge": optimistic_hedge, "hedge": hedge}.get(method)
    if solver is None:
        raise ValueError(f"method: expected 'optimistic_hedge' or 'hedge', got {method!r}")
    # tol tiny so that the loop runs exactly T rounds
    return np.array([solver(R, tol=1e-300, max_iter=int(T), eta=eta).gap for T in Ts])


def seed_fixed_length_optimistic_hedge(R, T: int = 100_000, eta: float | None = None) -> ZeroSumSolution:
    """The seed's own loop (seed 001 Algorithm 4 as run in its code): optimistic Hedge for a fixed number
    of rounds T with eta = 5 / sqrt(T), averaged iterates, no stopping rule.  Kept as the reference that
    ``benchmarks/zero_sum.py`` times ``optimistic_hedge`` against; it uses the same numpy primitives per
    round, so the measured speed-up comes from the step size and the stopping rule only."""
    R = _check_R(R)
    T = _check_max_iter(T)
    if eta is None:
        eta = 5.0 / np.sqrt(T)
    t0 = time.perf_counter()
    m, K = R.shape
    cum_l = np.zeros(K)
    cum_g = np.zeros(m)
    last_l = np.zeros(K)
    last_g = np.zeros(m)
    sum_w = np.zeros(K)
    sum_p = np.zeros(m)
    RT = np.ascontiguousarray(R.T)
    for _ in range(T):
        w = _softmax(-eta * (cum_l + last_l))
        p = _softmax(eta * (cum_g + last_g))
        sum_w += w
        sum_p += p
        last_l = RT @ p
        last_g = R @ w
        cum_l += last_l
        cum_g += last_g
    w_bar = sum_w / T
    p_bar = sum_p / T
    gap, upper, lower = duality_gap(R, w_bar, p_bar)
    return ZeroSumSolution(w=w_bar, p=p_bar, value=upper, gap=max(gap, 0.0), iterations=T,
                           method="seed_fixed_length", lower=lower, seconds=time.perf_counter() - t0)
