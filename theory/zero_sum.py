"""The zero-sum min-max-regret game behind MMRA (seed 001, Appendix C, eq. 39 and Algorithm 4).

Seed 001 (Chidambaram et al., "Direct Preference Optimization With Unobserved Preference
Heterogeneity") aggregates K type-specific policies pi_1..pi_K into one mixture sum_j w_j pi_j whose
worst regret over the K sub-populations is smallest (min-max regret aggregation, MMRA). With the regret
linear in the mixture weights this is a finite zero-sum game

    min_{w in Delta_K}  max_{p in Delta_{K+1}}  p^T R w                                   (eq. 39)

between the aggregator (w over the K policies = columns) and an adversary (p over the K groups plus a
null row z0 whose regret is identically zero = rows). Seed 001 App. C prints eq. 39 as
"min_{w in Delta(K)} max_{p in Delta(K+1)} p^T R w", with "R_{k,k'} := L_{z_k,z_k} - L_{z_k,z_k'}" and
"L_{z,z'} := 0 if z = z_0, E_{x ~ D, y ~ pi*_{z'}(.|x)} [log(pi*_z(y|x) / pi_SFT(y|x))] otherwise", and
solves it with Algorithm 4 (optimistic Hedge vs optimistic Hedge, "a sufficiently small, albeit constant,
independent of T, step-size eta", averaged iterates), which it says "constitutes a
O(log(K) log(T) T^{-1})-approximate solution".

This module gives:

* ``regret_matrix(L)`` -- R from the K x K matrix of expected rewards, as eq. 39 prints it;
* ``solve_lp(R)`` -- the exact solution by linear programming (HiGHS on R / max|R|, so the answer does
  not depend on the scale of R), both strategies, a duality-gap certificate relative to max|R| and
  ``converged`` False when the certificate is not met;
* ``solve_games(Rs)`` -- many games at once: a batched primal-dual interior-point method (numpy) with a
  batched crossover to the exact vertex, each game certified by its own duality gap, HiGHS for any game
  it does not certify;
* ``optimistic_hedge(R)`` -- Algorithm 4 exactly as printed (constant step, the average of w_1..w_T),
  stopped as soon as the certified duality gap is <= tol (instead of after a fixed T); ``alg4_gap_bound``
  is an explicit O(log K / T) bound on its gap;
* ``hedge(R)`` -- plain Hedge against plain Hedge, for comparison;
* ``min_max_regret(R, method=...)`` -- dispatcher; ``duality_gap`` and ``convergence_curve`` helpers.
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
    "alg4_gap_bound",
    "solve_games",
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
    """The regret matrix R of seed 001's zero-sum game (App. C, eq. 39; Alg. 4 step 5: "R_{k,k'} :=
    L_{z_k,z_k} - L_{z_k,z_k'}" with "the convention that L_{z_0,z_0} = L_{z_0,z_k} = 0").

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


def _check_cert_tol(tol: float) -> float:
    tol = float(tol)
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol: must be a positive finite number, got {tol}")
    return tol


def _certificate(R, w, p):
    """(gap, upper, lower) on the original R with the strategies cleaned onto the simplex."""
    w, p = _project_simplex_clean(w), _project_simplex_clean(p)
    gap, upper, lower = duality_gap(R, w, p)
    return w, p, max(gap, 0.0), upper, lower


def _polish(R, w, p):
    """Re-solve the equalizing linear system on the supports of (w, p) (square when the game is
    non-degenerate): the vertex HiGHS found, computed to machine precision.  Returns (w, p) or None."""
    sw = np.flatnonzero(w > 1e-9)
    sp = np.flatnonzero(p > 1e-9)
    if sw.size != sp.size or sw.size == 0:
        return None
    k = sw.size
    A = np.zeros((k + 1, k + 1))
    A[:k, :k] = R[np.ix_(sp, sw)]
    A[:k, k] = -1.0
    A[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    At = A.copy()
    At[:k, :k] = R[np.ix_(sp, sw)].T
    try:
        xw = np.linalg.solve(A, rhs)
        xp = np.linalg.solve(At, rhs)
    except np.linalg.LinAlgError:
        return None
    if np.any(xw[:k] < 0) or np.any(xp[:k] < 0):
        return None
    w2 = np.zeros_like(w)
    p2 = np.zeros_like(p)
    w2[sw], p2[sp] = xw[:k], xp[:k]
    return w2, p2


_HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}

try:  # the HiGHS solver itself (highspy, a dependency of cvxpy); the Python subclass highspy.Highs prints a
    # banner on construction and sets up callbacks, neither of which a single small LP needs
    from highspy import HighsModelStatus as _HighsStatus
    from highspy._core import _Highs as _HighsSolver
except ImportError:  # pragma: no cover - highspy missing: scipy's linprog (the same HiGHS) is used
    _HighsSolver = None


def _positive_game(Rn: np.ndarray) -> np.ndarray:
    """A = Rn - min(Rn) + 1 >= 1: the game of A has the strategies of Rn (its value is shifted by
    1 - min(Rn)), and its LP max 1^T x s.t. A x <= 1, x >= 0 is bounded and feasible at 0."""
    return Rn + (1.0 - float(Rn.min()))


def _highs_max_sum(A: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """x, y of max 1^T x s.t. A x <= 1, x >= 0 (A > 0) and of its dual min 1^T y s.t. A^T y >= 1, y >= 0,
    by HiGHS (simplex, feasibility tolerances 1e-10). w = x / 1^T x and p = y / 1^T y are the optimal
    strategies of the game A (value 1 / 1^T x). None when HiGHS does not report an optimum."""
    m, K = A.shape
    if _HighsSolver is not None:
        try:
            h = _HighsSolver()
            h.setOptionValue("output_flag", False)
            for k, v in _HIGHS_OPTIONS.items():
                h.setOptionValue(k, v)
            # column-wise dense matrix (column j holds A[:, j]), all variables continuous
            h.passModel(K, m, m * K, 1, 1, 0.0, np.full(K, -1.0), np.zeros(K), np.full(K, np.inf),
                        np.full(m, -np.inf), np.ones(m), np.arange(0, m * K + 1, m, dtype=np.int32),
                        np.tile(np.arange(m, dtype=np.int32), K), np.ascontiguousarray(A.T).ravel(),
                        np.zeros(K, dtype=np.int32))
            h.run()
            if h.getModelStatus() != _HighsStatus.kOptimal:
                return None
            sol = h.getSolution()
            return np.asarray(sol.col_value), -np.asarray(sol.row_dual)
        except (TypeError, AttributeError):  # pragma: no cover - a highspy whose private API differs
            pass
    res = linprog(-np.ones(K), A_ub=A, b_ub=np.ones(m), bounds=[(0, None)] * K, method="highs",
                  options=_HIGHS_OPTIONS)
    if res.status != 0:
        return None
    return np.asarray(res.x), -np.asarray(res.ineqlin.marginals)


def solve_lp(R, tol: float = 1e-9) -> ZeroSumSolution:
    """Exact solution of min_w max_p p^T R w (seed 001 eq. 39) by linear programming (HiGHS).

    Scale-invariant: HiGHS solves the game R / max|R| (the solution of cR is that of R for every c > 0),
    shifted to positive entries A = R / max|R| - min + 1, as max 1^T x s.t. A x <= 1, x >= 0 (w = x / 1^T x;
    the adversary's p is the normalized dual), with feasibility tolerances 1e-10; every tolerance below
    is relative to max|R|.  If the certified gap max_i (R w)_i - min_j (R^T p)_j exceeds ``tol`` max|R|,
    the adversary's LP (the same form on the game -R^T) is solved explicitly for p; then the equalizing
    system on the supports is re-solved to machine precision when the gap exceeds 1e-13 max|R| (kept when
    it certifies a smaller gap).  ``gap`` is the certificate on the original R; ``converged`` is False when
    gap > ``tol`` max|R|, i.e. when the strategies returned are not certified (they are still the best
    found).  HiGHS is called through highspy when it is installed (it comes with cvxpy), else through
    ``scipy.optimize.linprog``."""
    R = _check_R(R)
    tol = _check_cert_tol(tol)
    t0 = time.perf_counter()
    m, K = R.shape
    scale = float(np.max(np.abs(R)))
    if scale == 0.0:
        w, p = np.full(K, 1.0 / K), np.full(m, 1.0 / m)
        return ZeroSumSolution(w=w, p=p, value=0.0, gap=0.0, iterations=1, method="lp", lower=0.0,
                               seconds=time.perf_counter() - t0, converged=True)
    Rn = R / scale
    xy = _highs_max_sum(_positive_game(Rn))
    if xy is None:
        raise RuntimeError("HiGHS did not solve the game's LP")
    w, p, gap, upper, lower = _certificate(R, *xy)
    if gap > tol * scale:
        xy_d = _highs_max_sum(_positive_game(-Rn.T))  # the adversary's LP: its x is p
        if xy_d is not None:
            cand = _certificate(R, w, xy_d[0])
            if cand[2] < gap:
                w, p, gap, upper, lower = cand
    pol = _polish(R, w, p) if gap > 1e-13 * scale else None
    if pol is not None:
        cand = _certificate(R, *pol)
        if cand[2] < gap:
            w, p, gap, upper, lower = cand
    return ZeroSumSolution(w=w, p=p, value=upper, gap=gap, iterations=1, method="lp", lower=lower,
                           seconds=time.perf_counter() - t0, converged=bool(gap <= tol * scale))


def _mv(A, x):
    return (A @ x[:, :, None])[:, :, 0]


def _vm(y, A):
    return (y[:, None, :] @ A)[:, 0, :]


def _crossover(Rn, rm, cm, sw, sp):
    """Exact strategies from guessed supports, for a batch of padded games Rn (B, m, K) with row / column
    masks rm, cm and supports sw (B, K), sp (B, m) of equal sizes k: the equalizing systems
    R[sp, sw] w = v 1, 1^T w = 1 and R[sp, sw]^T p = v 1, 1^T p = 1 (w = 0 off sw, p = 0 off sp), solved
    for all games at once on the k x k support blocks (gathered to the front, padded with the identity to
    the largest k).  Returns (w, p), both cleaned onto the simplex (NaN rows where a system is singular);
    the caller certifies them."""
    B, m, K = Rn.shape
    k = sw.sum(axis=1)
    n = int(k.max())
    cols = np.argsort(~sw, axis=1, kind="stable")[:, :n]  # support columns first, in order
    rows = np.argsort(~sp, axis=1, kind="stable")[:, :n]
    sub = np.take_along_axis(np.take_along_axis(Rn, rows[:, :, None], axis=1), cols[:, None, :], axis=2)
    inside = np.arange(n)[None, :] < k[:, None]  # (B, n): position t is a support index
    block = inside[:, :, None] & inside[:, None, :]
    eye = np.eye(n)[None]
    S = np.zeros((2, B, n + 1, n + 1))
    S[0, :, :n, :n] = np.where(block, sub, eye)
    S[1, :, :n, :n] = np.where(block, np.swapaxes(sub, 1, 2), eye)
    S[:, :, :n, n] = np.where(inside, -1.0, 0.0)
    S[:, :, n, :n] = inside
    rhs = np.zeros((2, B, n + 1, 1))
    rhs[:, :, n, 0] = 1.0
    try:
        sol = np.linalg.solve(S, rhs)[..., :n, 0]
    except np.linalg.LinAlgError:  # some system is singular: solve one by one
        sol = np.full((2, B, n), np.nan)
        for i, b in np.ndindex(2, B):
            try:
                sol[i, b] = np.linalg.solve(S[i, b], rhs[i, b])[:n, 0]
            except np.linalg.LinAlgError:
                pass
    with np.errstate(invalid="ignore", divide="ignore"):
        sol = np.where(inside[None], np.clip(sol, 0.0, None), 0.0)
        w, p = np.zeros((B, K)), np.zeros((B, m))
        np.put_along_axis(w, cols, sol[0], axis=1)  # positions past k hold 0 (or NaN from a singular system)
        np.put_along_axis(p, rows, sol[1], axis=1)
        w *= cm
        p *= rm
        return w / w.sum(axis=1, keepdims=True), p / p.sum(axis=1, keepdims=True)


def _certify(Rn, rm, cm, w, p):
    """Batched certificate on padded games: max over real rows of Rn w minus min over real columns of
    Rn^T p (NaN strategies give +inf)."""
    upper = np.where(rm > 0, _mv(Rn, w), -np.inf).max(axis=1)
    lower = np.where(cm > 0, _vm(p, Rn), np.inf).min(axis=1)
    gap = upper - lower
    return np.where(np.isfinite(gap), gap, np.inf)


_CROSSOVER_GAP = 1e-2  # try the exact vertex once the iterate is this close (relative to max|R|; measured:
# 1e-2 fastest of 1e-3, 1e-2, 1e-1, 1 on the benchmark's 1000 games)


def _ipm_bucket(Rn: np.ndarray, rm: np.ndarray, cm: np.ndarray, tol: float, max_iter: int):
    """Mehrotra predictor-corrector on max 1^T x s.t. A x <= 1, x >= 0 (and its dual) for a batch of
    padded games Rn (B, m, K) scaled to max|R| = 1, A = Rn - min + 1 on the real entries; after each
    iteration, games whose certified gap is below _CROSSOVER_GAP try a crossover to the exact vertex of the
    current supports (x_j > z_j, y_i > s_i).  Returns (w, p, iterations, certified) per game."""
    B, m, K = Rn.shape
    rmb, cmb = rm.astype(float), cm.astype(float)
    mins = np.where(rm[:, :, None] & cm[:, None, :], Rn, np.inf).min(axis=(1, 2))
    A = (Rn - mins[:, None, None] + 1.0) * (rmb[:, :, None] * cmb[:, None, :])
    x, z, y, s = np.ones((B, K)), np.ones((B, K)), np.ones((B, m)), np.ones((B, m))
    W, P = np.zeros((B, K)), np.zeros((B, m))
    its = np.zeros(B, int)
    done = np.zeros(B, bool)
    n_act = rmb.sum(1) + cmb.sum(1)
    eye = np.eye(K)[None]

    def max_step(v, dv, mask):
        neg = (dv < 0) & (mask > 0)
        ratio = np.where(neg, -v / np.where(neg, dv, -1.0), np.inf)
        return np.minimum(1.0, ratio.min(axis=1))

    for it in range(1, max_iter + 1):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        Ab, xb, zb, yb, sb, rma, cma = A[act], x[act], z[act], y[act], s[act], rmb[act], cmb[act]
        rp = (1.0 - _mv(Ab, xb) - sb) * rma  # primal: A x + s = 1
        rd = (1.0 - _vm(yb, Ab) + zb) * cma  # dual: A^T y - z = 1
        mu = ((xb * zb * cma).sum(1) + (sb * yb * rma).sum(1)) / n_act[act]
        Mmat = np.swapaxes(Ab * (yb / sb)[:, :, None], 1, 2) @ Ab + (zb / xb)[:, :, None] * eye
        Mmat += 1e-15 * np.trace(Mmat, axis1=1, axis2=2)[:, None, None] * eye  # keeps it numerically SPD

        def newton(rxz, rsy):
            rhs = rd - _vm((rsy - yb * rp) / sb, Ab) + rxz / xb
            try:
                dx = np.linalg.solve(Mmat, (rhs * cma)[..., None])[..., 0] * cma
            except np.linalg.LinAlgError:  # a singular system: these games go to the LP
                dx = np.full_like(rhs, np.nan)
            dy = (yb * _mv(Ab, dx) + rsy - yb * rp) / sb * rma
            return dx, dy, (rxz - zb * dx) / xb * cma, (rsy - sb * dy) / yb * rma

        dx, dy, dz, ds = newton(-xb * zb * cma, -sb * yb * rma)  # predictor (affine scaling)
        ap = np.minimum(max_step(xb, dx, cma), max_step(sb, ds, rma))
        ad = np.minimum(max_step(zb, dz, cma), max_step(yb, dy, rma))
        mu_aff = (((xb + ap[:, None] * dx) * (zb + ad[:, None] * dz) * cma).sum(1)
                  + ((sb + ap[:, None] * ds) * (yb + ad[:, None] * dy) * rma).sum(1)) / n_act[act]
        smu = ((mu_aff / np.maximum(mu, 1e-300)) ** 3 * mu)[:, None]  # Mehrotra's centring sigma mu
        dx, dy, dz, ds = newton((smu - xb * zb - dx * dz) * cma, (smu - sb * yb - ds * dy) * rma)  # corrector
        ap = np.minimum(1.0, 0.995 * np.minimum(max_step(xb, dx, cma), max_step(sb, ds, rma)))
        ad = np.minimum(1.0, 0.995 * np.minimum(max_step(zb, dz, cma), max_step(yb, dy, rma)))
        xb, sb = xb + ap[:, None] * dx, sb + ap[:, None] * ds
        zb, yb = zb + ad[:, None] * dz, yb + ad[:, None] * dy
        bad = ~(np.isfinite(xb).all(1) & np.isfinite(yb).all(1) & np.isfinite(zb).all(1) & np.isfinite(sb).all(1))
        if bad.any():  # numerical breakdown: stop iterating these games, the LP solves them
            done[act[bad]] = True
            xb, zb, yb, sb = (np.where(bad[:, None], 1.0, v) for v in (xb, zb, yb, sb))
        x[act], z[act], y[act], s[act] = xb, zb, yb, sb
        its[act] = it
        # certify the current iterate of each active game, all at once
        with np.errstate(invalid="ignore", divide="ignore"):
            wv = xb * cma / (xb * cma).sum(1, keepdims=True)
            pv = yb * rma / (yb * rma).sum(1, keepdims=True)
        Rb, rmk, cmk = Rn[act], rm[act], cm[act]
        gap = _certify(Rb, rmk, cmk, wv, pv)
        ok = (gap <= tol) & ~bad
        # crossover on near-optimal games: the exact vertex of the current supports
        near = np.flatnonzero(~ok & ~bad & (gap <= _CROSSOVER_GAP))
        if near.size:
            sw, sp = (xb[near] > zb[near]) & cmk[near], (yb[near] > sb[near]) & rmk[near]
            same = sw.sum(1) == sp.sum(1)
            near, sw, sp = near[same], sw[same], sp[same]
            if near.size:
                wc, pc = _crossover(Rb[near], rmk[near], cmk[near], sw, sp)
                gc = _certify(Rb[near], rmk[near], cmk[near], wc, pc)
                good = gc <= np.minimum(gap[near], tol)
                wv[near[good]], pv[near[good]] = wc[good], pc[good]
                ok[near[good]] = True
        fin = act[ok]
        W[fin], P[fin] = wv[ok], pv[ok]
        done[fin] = True
        done[act[bad]] = True
    certified = np.isfinite(W.sum(1)) & (W.sum(1) > 0)
    return W, P, its, certified


def solve_games(Rs, tol: float = 1e-9, max_iter: int = 60) -> list[ZeroSumSolution]:
    """Solve many games min_w max_p p^T R w at once (e.g. a bootstrap of MMRA-AE's regret table).

    ``Rs``: a list of matrices (any sizes) or an array (B, m, K).  Each game is scaled by its max|R|;
    a game with fewer rows than columns is solved as the game -R^T (whose strategies are R's swapped), so
    the linear systems have the size min(m, K); games are grouped by that size and each group is padded
    to its largest shape with masked rows and columns.  In each group the pair of LPs
    max 1^T x s.t. A x <= 1, x >= 0 / min 1^T y s.t. A^T y >= 1, y >= 0 on the positive shift
    A = R / max|R| - min + 1 (w = x / 1^T x, p = y / 1^T y) is solved for all games together by Mehrotra's
    predictor-corrector interior-point method (numpy, batched solves), and a game whose iterate is within
    1e-2 max|R| of optimal tries a crossover: the equalizing linear systems on the supports the iterate
    points at, solved exactly (batched).  A game is finished when the duality gap of its (w, p),
    computed on its own R, is <= ``tol`` max|R|; games not certified within ``max_iter`` iterations are
    solved by ``solve_lp``.  Returns one ``ZeroSumSolution`` per game (method "ipm" or "lp");
    ``iterations`` counts interior-point iterations."""
    games = [_check_R(R) for R in (list(Rs) if not isinstance(Rs, np.ndarray) or Rs.ndim == 3 else [Rs])]
    if not games:
        raise ValueError("Rs: needs at least one game")
    tol = _check_cert_tol(tol)
    max_iter = _check_max_iter(max_iter)
    t0 = time.perf_counter()
    B = len(games)
    out: list = [None] * B
    scales = np.array([float(np.max(np.abs(R))) for R in games])
    flip = np.array([R.shape[0] < R.shape[1] for R in games])
    G = [(-R.T if f else R) / (sc if sc > 0 else 1.0) for R, f, sc in zip(games, flip, scales)]
    n_sys = np.array([g.shape[1] for g in G])
    order = [b for b in np.lexsort((np.array([g.shape[0] for g in G]), n_sys)) if scales[b] > 0]
    for b in np.flatnonzero(scales == 0):
        out[b] = solve_lp(games[b], tol=tol)
    # groups of similar system size: a group grows while its size stays within 1.3x its smallest + 1
    groups, cur = [], []
    for b in order:
        if cur and n_sys[b] > 1.3 * n_sys[cur[0]] + 1:
            groups.append(cur)
            cur = []
        cur.append(b)
    if cur:
        groups.append(cur)
    for grp in groups:
        m = max(G[b].shape[0] for b in grp)
        K = max(G[b].shape[1] for b in grp)
        Rn = np.zeros((len(grp), m, K))
        Ru = np.zeros((len(grp), m, K))  # the same games unscaled, for the final certificates
        rm = np.zeros((len(grp), m), bool)
        cm = np.zeros((len(grp), K), bool)
        for i, b in enumerate(grp):
            mb, Kb = G[b].shape
            Rn[i, :mb, :Kb] = G[b]
            Ru[i, :mb, :Kb] = -games[b].T if flip[b] else games[b]
            rm[i, :mb] = True
            cm[i, :Kb] = True
        W, P, its, certified = _ipm_bucket(Rn, rm, cm, tol, max_iter)
        # certificates on each game's own R, all at once: for a flipped game (solved as -R^T) R's upper
        # bound is minus the lower bound of -R^T and vice versa (negation is exact), the gap the same
        up = np.where(rm, _mv(Ru, W), -np.inf).max(axis=1)
        lo = np.where(cm, _vm(P, Ru), np.inf).min(axis=1)
        for i, b in enumerate(grp):
            gap = max(float(up[i] - lo[i]), 0.0)
            if not (certified[i] and gap <= tol * scales[b]):
                continue
            mb, Kb = G[b].shape
            if flip[b]:
                w, p, upper, lower = P[i, :mb].copy(), W[i, :Kb].copy(), -float(lo[i]), -float(up[i])
            else:
                w, p, upper, lower = W[i, :Kb].copy(), P[i, :mb].copy(), float(up[i]), float(lo[i])
            out[b] = ZeroSumSolution(w=w, p=p, value=upper, gap=gap, iterations=int(its[i]), method="ipm",
                                     lower=lower, converged=True)
    for b in range(B):
        if out[b] is None:
            out[b] = solve_lp(games[b], tol=tol)
    elapsed = time.perf_counter() - t0
    for sol in out:
        sol.seconds = elapsed / B
    return out


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
    """Seed 001 App. C, Algorithm 4 (MMRA-AE), optimistic Hedge vs optimistic Hedge, as printed:

        "6: Initialize w_0 = (1/K, ..., 1/K) and p_0 = (1/(K+1), ..., 1/(K+1))
         7: for t in {0, ..., T} do
              w_t ∝ w_{t-1} exp{-eta (2 R^T p_{t-1} - R^T p_{t-2})}
              p_t ∝ p_{t-1} exp{eta (2 R w_{t-1} - R w_{t-2})}
         9: Return: ... w* = (1/T) sum_{t=1}^T w_t"

    with "a sufficiently small, albeit constant, independent of T, step-size eta".  The printed loop
    starts at t = 0 although w_0, p_0 are initialized and w_{-1}, p_{-2} are undefined; the updates are run
    for t = 1..T with R^T p_{-1} := 0 and R w_{-1} := 0 (optimistic FTRL's first prediction M_0 = 0, which
    makes w_t ∝ exp(-eta (sum_{s<t} R^T p_s + R^T p_{t-1}))), and the returned pair is the printed average
    (w_1 + ... + w_T)/T and likewise for p.  Instead of a fixed T the loop stops as soon as the certified
    duality gap max(R w*) - min(R^T p*) of the averages is <= ``tol`` (checked every ``check_every``
    rounds), or at ``max_iter`` (then ``converged`` is False); ``tol=0``-like values (1e-300) with
    ``max_iter=T`` run exactly T rounds.  ``eta`` defaults to 2 / max|R| (measured fastest on regret
    matrices; the explicit bound ``alg4_gap_bound`` needs eta <= 1/(2 max|R|)).

    Cost: the gap after T rounds is about 1.3 max|R| / T with the default step, so ``tol`` = 1e-6 takes
    ~1e6 rounds or more; use ``solve_lp`` when an exact answer is wanted.

    ``iterate="last"`` returns the last iterate (w_T, p_T) instead, stopped when *its* certified gap is <=
    ``tol``; ``eta`` then defaults to 1 / max|R|.  Beyond the seed: optimistic Hedge's last iterate
    converges to the equilibrium when it is unique, at a linear rate for a small enough constant step
    (Daskalakis & Panageas, ITCS 2019; Wei, Lee, Zhang & Luo, ICLR 2021), where the average only converges
    as O(1/T). When the equilibrium is not unique there is no rate guarantee; the certificate still tells
    (``converged``)."""
    if iterate not in ("average", "last"):
        raise ValueError(f"iterate: expected 'average' or 'last', got {iterate!r}")
    if iterate == "last":
        return _play(R, tol, max_iter, eta, check_every, optimistic=True, last=True)
    return _alg4(R, tol, max_iter, eta, check_every)


def _alg4(R, tol, max_iter, eta, check_every) -> ZeroSumSolution:
    """Algorithm 4 in log space: log w_t = log w_{t-1} - eta (2 l_{t-1} - l_{t-2}), l_s = R^T p_s.
    The averages of w_1..w_t are certified through sums of R w_s and R^T p_s: the played losses of
    rounds 0..t-1 are computed anyway, so sum_{s=1}^t R w_s = sum_{s=0}^{t-1} R w_s - R w_0 + R w_t costs one
    extra product per check."""
    R = _check_R(R)
    tol = _check_tol(tol)
    max_iter = _check_max_iter(max_iter)
    check_every = _check_max_iter(check_every)
    m, K = R.shape
    if eta is None:
        eta = _default_eta_optimistic(R)
    eta = float(eta)
    if not np.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta: must be a positive finite number, got {eta}")
    t0 = time.perf_counter()
    RT = np.ascontiguousarray(R.T)
    logw, logp = np.full(K, -np.log(K)), np.full(m, -np.log(m))
    w, p = np.full(K, 1.0 / K), np.full(m, 1.0 / m)
    l_prev, g_prev = np.zeros(K), np.zeros(m)  # R^T p_{-1} := 0, R w_{-1} := 0
    l0, g0 = RT @ p, R @ w
    cum_l, cum_g = np.zeros(K), np.zeros(m)  # sums over the played rounds 0..t-1
    sum_w, sum_p = np.zeros(K), np.zeros(m)  # sums of w_1..w_t, p_1..p_t
    t = 0
    gap = np.inf
    while t < max_iter:
        t += 1
        l_t, g_t = (l0, g0) if t == 1 else (RT @ p, R @ w)  # losses of (w_{t-1}, p_{t-1})
        cum_l += l_t
        cum_g += g_t
        logw = logw - eta * (2 * l_t - l_prev)
        logp = logp + eta * (2 * g_t - g_prev)
        logw -= logw.max()
        logp -= logp.max()
        w = np.exp(logw)
        w /= w.sum()
        p = np.exp(logp)
        p /= p.sum()
        l_prev, g_prev = l_t, g_t
        sum_w += w
        sum_p += p
        if t % check_every == 0 or t == max_iter:
            upper = float(np.max((cum_g - g0 + R @ w) / t))
            lower = float(np.min((cum_l - l0 + RT @ p) / t))
            gap = upper - lower
            if gap <= tol:
                break
    w_out, p_out = sum_w / t, sum_p / t
    gap, upper, lower = duality_gap(R, w_out, p_out)
    return ZeroSumSolution(w=w_out, p=p_out, value=upper, gap=max(gap, 0.0), iterations=t,
                           method="optimistic_hedge", lower=lower, seconds=time.perf_counter() - t0,
                           converged=bool(gap <= tol + 1e-12))


def alg4_gap_bound(R, T: int, eta: float) -> float:
    """An explicit bound on the certified duality gap of Algorithm 4's averages after T rounds (ours; the
    seed states only the order "O(log(K) log(T) T^{-1})", citing Rakhlin and Sridharan 2013):

        gap(w*_T, p*_T) <= ( (log K + log(K+1)) / eta + 2 eta max|R|^2 + 4 max|R| ) / T    for eta <= 1/(2 max|R|),

    with K columns and K+1 rows (in general log(#columns) + log(#rows)).  Derivation: the gap of the
    averages is the sum of the two players' regrets divided by T; optimistic Hedge is optimistic FTRL with
    the entropy (1-strongly convex in l1), whose regret over rounds 0..T is at most
    log(n)/eta + eta sum_t ||l_t - l_{t-1}||_inf^2 - (1/(4 eta)) sum_t ||w_t - w_{t-1}||_1^2
    (Syrgkanis, Agarwal, Luo & Schapire 2015, the RVU property); since ||R^T (p_t - p_{t-1})||_inf <=
    max|R| ||p_t - p_{t-1}||_1, the two players' last terms cancel when eta <= 1/(2 max|R|); the first
    prediction M_0 = 0 adds eta max|R|^2 per player and dropping round 0 from the printed average adds at
    most 2 max|R| per player.  So the rate is O(log K / T): the seed's log T factor is not needed.
    Raises ValueError for eta > 1/(2 max|R|)."""
    R = _check_R(R)
    T = _check_max_iter(T)
    eta = float(eta)
    scale = float(np.max(np.abs(R)))
    if not np.isfinite(eta) or eta <= 0 or (scale > 0 and eta > 0.5 / scale * (1 + 1e-12)):
        raise ValueError(f"eta: the bound needs 0 < eta <= 1/(2 max|R|) = {0.5 / scale if scale else np.inf:.3g}, got {eta}")
    m, K = R.shape
    return float(((np.log(K) + np.log(m)) / eta + 2 * eta * scale**2 + 4 * scale) / T)


def hedge(R, tol: float = 1e-6, max_iter: int = 1_000_000, eta: float | None = None,
          check_every: int = 10) -> ZeroSumSolution:
    """Plain Hedge against plain Hedge with averaged iterates, for comparison with Algorithm 4.

    w_{t+1} ∝ exp(-eta_t sum_{s<=t} R^T p_s), p_{t+1} ∝ exp(eta_t sum_{s<=t} R w_s) with the anytime step
    eta_t = eta / sqrt(t) (``eta`` defaults to sqrt(log(max(K+1, 2))) / max|R|); the averages converge at
    rate O(1/sqrt T).  Stops when the certified gap <= ``tol`` or at ``max_iter``."""
    return _play(R, tol, max_iter, eta, check_every, optimistic=False)


def _play(R, tol, max_iter, eta, check_every, optimistic: bool, last: bool = False) -> ZeroSumSolution:
    """Plain Hedge (averaged iterates) and optimistic Hedge's last iterate, certified stopping.

    Optimistic: constant step, the last loss counted twice. Plain: anytime step eta / sqrt(t).
    R (sum_w / t) = cum_g / t and R^T (sum_p / t) = cum_l / t, so the in-loop certificate of the averages is
    free; the last iterate's is max(R w_t) - min(R^T p_t) from the next round's losses."""
    R = _check_R(R)
    tol = _check_tol(tol)
    max_iter = _check_max_iter(max_iter)
    m, K = R.shape
    if eta is None:
        if optimistic:  # only the last iterate goes through here (the average is ``_alg4``)
            scale = float(np.max(np.abs(R)))
            eta = 1.0 / scale if scale > 0 else 1.0
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
        return solve_lp(R)  # certified to 1e-9 max|R| (``tol`` is for the iterative solvers)
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
