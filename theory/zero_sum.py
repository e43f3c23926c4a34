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
* ``solve_games(Rs)`` -- many games at once: a batched primal-dual interior-point method (numpy), each
  game certified by its own duality gap, HiGHS for any game it does not certify;
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


def solve_lp(R, tol: float = 1e-9) -> ZeroSumSolution:
    """Exact solution of min_w max_p p^T R w (seed 001 eq. 39) by linear programming (HiGHS).

    Scale-invariant: HiGHS solves the game R / max|R| (the solution of cR is that of R for every c > 0),
    with feasibility tolerances 1e-10, and every tolerance below is relative to max|R|.  Primal:
    min t s.t. R w <= t 1, 1^T w = 1, w >= 0; the adversary's p is read from the duals of the inequality
    rows; if the certified gap max_i (R w)_i - min_j (R^T p)_j exceeds ``tol`` max|R|, the dual LP
    max s s.t. R^T p >= s 1, 1^T p = 1, p >= 0 is solved explicitly; then the equalizing system on the
    supports is re-solved to machine precision when the gap exceeds 1e-13 max|R| (kept when it certifies a
    smaller gap).  ``gap`` is the
    certificate on the original R; ``converged`` is False when gap > ``tol`` max|R|, i.e. when the
    strategies returned are not certified (they are still the best found)."""
    R = _check_R(R)
    tol = _check_cert_tol(tol)
    t0 = time.perf_counter()
    m, K = R.shape
    scale = float(np.max(np.abs(R)))
    if scale == 0.0:
        w, p = np.full(K, 1.0 / K), np.full(m, 1.0 / m)
        return ZeroSumSolution(w=w, p=p, value=0.0, gap=0.0, iterations=1, method="lp", lower=0.0,
                               seconds=time.perf_counter() - t0, converged=True)
    Rs = R / scale
    c = np.zeros(K + 1)
    c[-1] = 1.0
    A_ub = np.hstack([Rs, -np.ones((m, 1))])
    A_eq = np.zeros((1, K + 1))
    A_eq[0, :K] = 1.0
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(m), A_eq=A_eq, b_eq=[1.0], bounds=[(0, None)] * K + [(None, None)],
                  method="highs", options=_HIGHS_OPTIONS)
    if res.status != 0:
        raise RuntimeError(f"linprog failed on the primal: {res.message}")
    w, p, gap, upper, lower = _certificate(R, res.x[:K], -np.asarray(res.ineqlin.marginals))
    if gap > tol * scale:
        cd = np.zeros(m + 1)
        cd[-1] = -1.0
        A_ub_d = np.hstack([-Rs.T, np.ones((K, 1))])
        A_eq_d = np.zeros((1, m + 1))
        A_eq_d[0, :m] = 1.0
        resd = linprog(cd, A_ub=A_ub_d, b_ub=np.zeros(K), A_eq=A_eq_d, b_eq=[1.0],
                       bounds=[(0, None)] * m + [(None, None)], method="highs", options=_HIGHS_OPTIONS)
        if resd.status == 0:
            cand = _certificate(R, w, resd.x[:m])
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


def solve_games(Rs, tol: float = 1e-9, max_iter: int = 60) -> list[ZeroSumSolution]:
    """Solve many games min_w max_p p^T R w at once (e.g. a bootstrap of MMRA-AE's regret table).

    ``Rs``: a list of matrices (any sizes) or an array (B, m, K).  Each game is scaled by its max|R| and
    shifted to positive entries A = R / max|R| - min + 1, and the pair of LPs max 1^T x s.t. A x <= 1,
    x >= 0 / min 1^T y s.t. A^T y >= 1, y >= 0 (value 1 / 1^T x, w = x / 1^T x, p = y / 1^T y) is solved for
    all games together by Mehrotra's predictor-corrector interior-point method, padded to the largest
    shape with masked rows and columns (numpy, one batched K x K solve per iteration).  A game is
    finished when the duality gap of its current (w, p), computed on its own R, is <= ``tol`` max|R|;
    games not certified within ``max_iter`` iterations are solved by ``solve_lp``.  Returns one
    ``ZeroSumSolution`` per game (method "ipm" or "lp")."""
    games = [_check_R(R) for R in (list(Rs) if not isinstance(Rs, np.ndarray) or Rs.ndim == 3 else [Rs])]
    if not games:
        raise ValueError("Rs: needs at least one game")
    tol = _check_cert_tol(tol)
    max_iter = _check_max_iter(max_iter)
    t0 = time.perf_counter()
    B = len(games)
    m = max(R.shape[0] for R in games)
    K = max(R.shape[1] for R in games)
    A = np.zeros((B, m, K))
    Rpad = np.zeros((B, m, K))
    rmask = np.zeros((B, m), bool)
    cmask = np.zeros((B, K), bool)
    scales = np.empty(B)
    for b, R in enumerate(games):
        sc = float(np.max(np.abs(R))) or 1.0
        scales[b] = sc
        Rn = R / sc
        A[b, :R.shape[0], :R.shape[1]] = Rn - Rn.min() + 1.0
        Rpad[b, :R.shape[0], :R.shape[1]] = R
        rmask[b, :R.shape[0]] = True
        cmask[b, :R.shape[1]] = True
    rm, cm = rmask.astype(float), cmask.astype(float)
    # infeasible start at all-ones; padded entries stay at 1 and never move (their residuals are masked)
    x, z, y, s = np.ones((B, K)), np.ones((B, K)), np.ones((B, m)), np.ones((B, m))
    done = np.zeros(B, bool)
    failed = np.zeros(B, bool)
    out: list = [None] * B
    n_act = rm.sum(1) + cm.sum(1)
    eye = np.eye(K)[None]

    def max_step(v, dv, mask):
        neg = (dv < 0) & (mask > 0)
        ratio = np.where(neg, -v / np.where(neg, dv, -1.0), np.inf)
        return np.minimum(1.0, ratio.min(axis=1))

    it = 0
    for it in range(1, max_iter + 1):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        Ab, xb, zb, yb, sb, rmb, cmb = A[act], x[act], z[act], y[act], s[act], rm[act], cm[act]
        rp = (1.0 - _mv(Ab, xb) - sb) * rmb  # primal: A x + s = 1
        rd = (1.0 - _vm(yb, Ab) + zb) * cmb  # dual: A^T y - z = 1
        mu = ((xb * zb * cmb).sum(1) + (sb * yb * rmb).sum(1)) / n_act[act]
        Mmat = np.swapaxes(Ab * (yb / sb)[:, :, None], 1, 2) @ Ab + (zb / xb)[:, :, None] * eye
        Mmat += 1e-15 * np.trace(Mmat, axis1=1, axis2=2)[:, None, None] * eye  # keeps it numerically SPD

        def newton(rxz, rsy):
            rhs = rd - _vm((rsy - yb * rp) / sb, Ab) + rxz / xb
            try:
                dx = np.linalg.solve(Mmat, (rhs * cmb)[..., None])[..., 0] * cmb
            except np.linalg.LinAlgError:  # a singular system: these games go to the LP
                dx = np.full_like(rhs, np.nan)
            dy = (yb * _mv(Ab, dx) + rsy - yb * rp) / sb * rmb
            return dx, dy, (rxz - zb * dx) / xb * cmb, (rsy - sb * dy) / yb * rmb

        dx, dy, dz, ds = newton(-xb * zb * cmb, -sb * yb * rmb)  # predictor (affine scaling)
        ap = np.minimum(max_step(xb, dx, cmb), max_step(sb, ds, rmb))
        ad = np.minimum(max_step(zb, dz, cmb), max_step(yb, dy, rmb))
        mu_aff = (((xb + ap[:, None] * dx) * (zb + ad[:, None] * dz) * cmb).sum(1)
                  + ((sb + ap[:, None] * ds) * (yb + ad[:, None] * dy) * rmb).sum(1)) / n_act[act]
        smu = ((mu_aff / np.maximum(mu, 1e-300)) ** 3 * mu)[:, None]  # Mehrotra's centring sigma mu
        dx, dy, dz, ds = newton((smu - xb * zb - dx * dz) * cmb, (smu - sb * yb - ds * dy) * rmb)  # corrector
        ap = np.minimum(1.0, 0.995 * np.minimum(max_step(xb, dx, cmb), max_step(sb, ds, rmb)))
        ad = np.minimum(1.0, 0.995 * np.minimum(max_step(zb, dz, cmb), max_step(yb, dy, rmb)))
        xb, sb = xb + ap[:, None] * dx, sb + ap[:, None] * ds
        zb, yb = zb + ad[:, None] * dz, yb + ad[:, None] * dy
        bad = ~(np.isfinite(xb).all(1) & np.isfinite(yb).all(1) & np.isfinite(zb).all(1) & np.isfinite(sb).all(1))
        if bad.any():  # numerical breakdown: stop iterating these games, the LP solves them below
            failed[act[bad]] = True
            done[act[bad]] = True
            xb, zb, yb, sb = (np.where(bad[:, None], 1.0, v) for v in (xb, zb, yb, sb))
        x[act], z[act], y[act], s[act] = xb, zb, yb, sb
        # certify each active game on its own (unscaled, unshifted) R, all at once
        wv, pv = xb * cmb, yb * rmb
        wv /= np.maximum(wv.sum(1, keepdims=True), 1e-300)
        pv /= np.maximum(pv.sum(1, keepdims=True), 1e-300)
        Rb = Rpad[act]
        upper = np.where(rmb > 0, _mv(Rb, wv), -np.inf).max(axis=1)
        lower = np.where(cmb > 0, _vm(pv, Rb), np.inf).min(axis=1)
        ok = (upper - lower <= tol * scales[act]) & (wv.sum(1) > 0) & (pv.sum(1) > 0) & ~failed[act]
        for j in np.flatnonzero(ok):
            b = act[j]
            mb, Kb = games[b].shape
            w, p, gap, up, lo = _certificate(games[b], wv[j, :Kb], pv[j, :mb])
            if gap <= tol * scales[b]:
                done[b] = True
                out[b] = ZeroSumSolution(w=w, p=p, value=up, gap=gap, iterations=it, method="ipm", lower=lo,
                                         converged=True)
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
