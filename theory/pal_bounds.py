"""Generalization bounds of PAL (seed 002 section 4.1 and Appendix C), checked by simulation.

Seed 002 (Chen et al. 2024, "PAL: Pluralistic Alignment Framework for Learning from Heterogeneous
Preferences") learns an ideal-point model: user i prefers item x to x' when x is closer to the user's
ideal point in a learned metric.  With a linear embedding the score of a comparison is

    g_i(x, x') = ||x - a_i||_M^2 - ||x' - a_i||_M^2 = <M, x x^T - x' x'^T> - 2 (x - x')^T V w_i,

where M is PSD (||M||_F <= zeta_M), the columns v_1..v_K of V are the K prototypes seen through the
metric (||v_k|| <= zeta_v) and w_i is user i's mixture over prototypes (PAL-A).  Each of N users answers
m comparisons; the loss is L-Lipschitz (logistic: L = 1, loss(0) = log 2) with range B: by default
B = loss(0) + L sup|g| (which grows like sqrt(D) at x_norm = sqrt(D)); passing ``B`` states a clipped
loss bounded by B (clipping keeps the Lipschitz constant), which is how the O~(K) vs O~(D) comparison of
per-user sample complexities is made without the worst-case range swamping it.  The class analysed here treats
M and V as independent parameters -- the relaxation the proof bounds.

Items: i.i.d. uniform on the sphere of radius ``x_norm`` in R^D.  The default x_norm = sqrt(D) gives
coordinates of unit variance (the scale of learned embeddings); it is the normalization in which the
per-user sample complexity reads O~(K) for PAL-A and O~(D) for per-user ideal points (Canal et al.).

What is implemented (all bounds are *reconstructed*: the printed constants of seed 002 are not in this
repository, so every bound below is derived here, from the same ingredients as the seed's proof --
symmetrization, matrix Bernstein, Massart -- and is checked against Monte Carlo; theory/README.md says so):

* ``rademacher_pal_a``: Monte Carlo user-averaged Rademacher complexity (Lemma C.1) with the exact inner
  sup: sup over M = zeta_M ||S_+||_F; sup over (V, W) = 2 zeta_v max over partitions of the users into K
  groups of sum_k ||sum_{i in G_k} s_i|| (enumeration for small N, local search = certified lower bound
  beyond), together with the proof's data-conditional bounds (eq. 9: matrix Bernstein on the D x N matrix
  [s_1 .. s_N], dimension N + D; eq. 10: Jensen on ||S||_F);
* ``thm1_bound`` (PAL-A, seen users), ``thm2_bound`` (a new user with learned prototypes),
  ``prop_c4_bound`` (Canal et al.: one free ideal point per user) and ``sample_complexity``;
* ``matrix_bernstein_tail`` / ``matrix_bernstein_expectation`` (Lemma C.2 / C.3) with simulations;
* ``psd_ball_support`` (Lemma C.11: sup_{M PSD, ||M||_F <= z} <M, S> = z ||S_+||_F) and an SDP check;
* ``lemma_c13_gap`` (Lemma C.13: logistic excess risk controls the *squared* logit distance) in the
  printed (no square) and corrected forms.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from pluralign.theory.validation import as_finite_array

__all__ = [
    "sample_sphere",
    "psd_ball_support",
    "psd_ball_support_sdp",
    "max_partition_norm",
    "RademacherEstimate",
    "rademacher_pal_a",
    "rademacher_new_user",
    "rademacher_per_user_ideal_points",
    "expected_v_bound",
    "rademacher_bound_pal_a",
    "thm1_bound",
    "thm2_bound",
    "prop_c4_bound",
    "sample_complexity",
    "matrix_bernstein_tail",
    "matrix_bernstein_expectation",
    "simulate_matrix_bernstein",
    "logistic_excess_risk",
    "lemma_c13_gap",
]


def _pos_int(v, name: str, minimum: int = 1) -> int:
    if isinstance(v, bool) or int(v) != v or v < minimum:
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {v}")
    return int(v)


def _pos(v, name: str, allow_zero: bool = False) -> float:
    v = float(v)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name}: must be a {'non-negative' if allow_zero else 'positive'} finite number, got {v}")
    return v


def _x_norm(D: int, x_norm) -> float:
    return float(np.sqrt(D)) if x_norm is None else _pos(x_norm, "x_norm")


def sample_sphere(shape, D: int, rng: np.random.Generator, radius: float = 1.0) -> np.ndarray:
    """i.i.d. points uniform on the sphere of ``radius`` in R^D, of shape ``shape + (D,)``."""
    D = _pos_int(D, "D")
    x = rng.normal(size=tuple(shape) + (D,))
    return radius * x / np.linalg.norm(x, axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------
# Lemma C.11 and the two inner sups of the Rademacher complexity
# ---------------------------------------------------------------------------------------------------------


def psd_ball_support(S, zeta_M: float = 1.0) -> float:
    """Lemma C.11 (seed 002, App. C; as reconstructed here): for symmetric S,
    sup { <M, S> : M PSD, ||M||_F <= zeta_M } = zeta_M ||S_+||_F, where S_+ keeps the positive eigenvalues.
    (The maximizer is zeta_M S_+ / ||S_+||_F; by von Neumann's trace inequality nothing does better.)"""
    S = as_finite_array(S, "S", ndim=2)
    if S.shape[0] != S.shape[1] or not np.allclose(S, S.T, atol=1e-10 * (1 + np.abs(S).max())):
        raise ValueError("S: must be a symmetric square matrix")
    zeta_M = _pos(zeta_M, "zeta_M", allow_zero=True)
    lam = np.linalg.eigvalsh((S + S.T) / 2)
    return zeta_M * float(np.sqrt(np.sum(np.clip(lam, 0, None) ** 2)))


def psd_ball_support_sdp(S, zeta_M: float = 1.0) -> float:
    """The same sup solved as a semidefinite program with cvxpy (the independent check of Lemma C.11)."""
    import cvxpy as cp

    S = as_finite_array(S, "S", ndim=2)
    if S.shape[0] != S.shape[1]:
        raise ValueError("S: must be a square matrix")
    zeta_M = _pos(zeta_M, "zeta_M", allow_zero=True)
    D = S.shape[0]
    M = cp.Variable((D, D), PSD=True)
    prob = cp.Problem(cp.Maximize(cp.trace(M @ ((S + S.T) / 2))), [cp.norm(M, "fro") <= zeta_M])
    prob.solve(solver=cp.CLARABEL)
    return float(prob.value)


def max_partition_norm(s, K: int, exact_limit: int = 200_000, restarts: int = 8, seed: int = 0):
    """max over partitions of the rows of ``s`` (N x D) into K groups (some may be empty) of
    sum_k ||sum_{i in G_k} s_i||  -- the sup over prototypes V (||v_k|| <= 1) and simplex weights W of
    sum_i s_i^T V w_i (the best w_i is a vertex, then each v_k aligns with its group's sum).

    Returns (value, exact, upper): exact enumeration when K^N <= ``exact_limit`` (up to relabelling the
    groups), else the best of ``restarts`` local searches -- a certified *lower* bound -- and ``upper`` =
    sum_i ||s_i|| (triangle inequality), so value <= true max <= upper."""
    s = as_finite_array(s, "s", ndim=2)
    K = _pos_int(K, "K")
    N = s.shape[0]
    upper = float(np.linalg.norm(s, axis=1).sum())
    if K >= N:
        return upper, True, upper
    if K == 1:
        v = float(np.linalg.norm(s.sum(axis=0)))
        return v, True, upper
    if K ** (N - 1) <= exact_limit:
        best = 0.0
        # user 0 in group 0 without loss of generality; enumerate the rest in chunks
        rest = np.array(list(itertools.product(range(K), repeat=N - 1)), dtype=np.int8)
        for start in range(0, rest.shape[0], 4096):
            a = np.concatenate([np.zeros((min(4096, rest.shape[0] - start), 1), np.int8),
                                rest[start:start + 4096]], axis=1)
            onehot = (a[:, :, None] == np.arange(K)[None, None, :]).astype(float)  # (A, N, K)
            sums = np.einsum("ank,nd->akd", onehot, s)
            best = max(best, float(np.linalg.norm(sums, axis=2).sum(axis=1).max()))
        return best, True, upper
    rng = np.random.default_rng(seed)
    best = 0.0
    for r in range(restarts):
        # start: group users by the direction of a random K-subset of the s_i, then greedy moves
        centers = s[rng.choice(N, size=K, replace=False)]
        z = np.argmax(s @ centers.T, axis=1)
        sums = np.stack([s[z == k].sum(axis=0) for k in range(K)])
        improved = True
        while improved:
            improved = False
            for i in rng.permutation(N):
                k0 = z[i]
                base = np.linalg.norm(sums, axis=1)
                without = sums.copy()
                without[k0] -= s[i]
                gains = np.linalg.norm(without + s[i], axis=1) - np.linalg.norm(without, axis=1)
                cur = np.linalg.norm(sums[k0]) - np.linalg.norm(without[k0])
                k1 = int(np.argmax(gains))
                if gains[k1] > cur + 1e-12 * (1 + base.sum()):
                    sums = without
                    sums[k1] += s[i]
                    z[i] = k1
                    improved = True
        best = max(best, float(np.linalg.norm(sums, axis=1).sum()))
    return best, False, upper


# ---------------------------------------------------------------------------------------------------------
# Monte Carlo Rademacher complexities (Lemma C.1) and the proof's bounds (eq. 9-10)
# ---------------------------------------------------------------------------------------------------------


@dataclass
class RademacherEstimate:
    """A Monte Carlo estimate of a user-averaged Rademacher complexity and the bounds it is compared with."""

    mean: float  #: the estimate (mean over draws of the exact -- or certified-lower -- inner sup / (N m))
    stderr: float  #: its standard error over the draws
    metric_part: float  #: mean of zeta_M ||S_+||_F / (N m)
    prototype_part: float  #: mean of 2 zeta_v max-partition / (N m)
    exact: bool  #: whether every inner sup was exact (else ``mean`` is a certified lower estimate)
    eq10_bound: float  #: mean of the proof's data-conditional metric bound zeta_M sqrt(sum ||A_ij||_F^2) / (N m)
    eq9_bound: float  #: mean of the proof's data-conditional prototype bound (matrix Bernstein, log inside)
    eq9_printed: float  #: the same with log(N + D) outside the square root (Thm. 1 as printed)
    sqrt_kn_op_holds: bool  #: sum_k ||S 1_{G_k}|| <= sqrt(K N) ||S||_op held on every draw
    draws: int  #: number of Monte Carlo draws


def _draw(N, m, D, rng, radius):
    x = sample_sphere((N, m), D, rng, radius)
    xp = sample_sphere((N, m), D, rng, radius)
    sig = rng.choice([-1.0, 1.0], size=(N, m))
    return x, xp, sig


def _eq9_terms(dmat, sig, N, D):
    """Data-conditional matrix-Bernstein ingredients for S = sum_ij sig_ij d_ij e_i^T (D x N)."""
    dd = dmat.reshape(-1, D)
    v1 = float(np.linalg.eigvalsh(dd.T @ dd)[-1])  # || sum d d^T ||
    v2 = float((dmat ** 2).sum(axis=(1, 2)).max())  # max_i sum_j ||d_ij||^2
    r = float(np.linalg.norm(dd, axis=1).max())
    return max(v1, v2), r


def rademacher_pal_a(N: int, m: int, D: int, K: int, zeta_M: float = 1.0, zeta_v: float = 1.0,
                     n_draws: int = 50, seed: int = 0, x_norm: float | None = None,
                     exact_limit: int = 200_000) -> RademacherEstimate:
    """Monte Carlo estimate of the user-averaged Rademacher complexity (seed 002 Lemma C.1)

        R_{N,m} = E sup_{M, V, W} (1/(N m)) sum_i sum_j sigma_ij g_i(x_ij, x'_ij)

    of the linear PAL-A class, with the inner sup computed exactly:
    zeta_M ||S_+||_F (Lemma C.11, S = sum sigma_ij (x x^T - x' x'^T)) plus 2 zeta_v times the max-partition
    value of s_i = sum_j sigma_ij (x_ij - x'_ij) (``max_partition_norm``).  Alongside it, the proof's
    data-conditional bounds: eq. 10 (metric) zeta_M sqrt(sum ||x x^T - x' x'^T||_F^2) / (N m) and eq. 9
    (prototypes) 2 zeta_v sqrt(K N) (sqrt(2 v log(N + D)) + r log(N + D) / 3) / (N m), the matrix
    Bernstein bound (Lemma C.3) on E||[s_1 .. s_N]||_op."""
    N, m, D, K = (_pos_int(v, n) for v, n in ((N, "N"), (m, "m"), (D, "D"), (K, "K")))
    zeta_M, zeta_v = _pos(zeta_M, "zeta_M", True), _pos(zeta_v, "zeta_v", True)
    n_draws = _pos_int(n_draws, "n_draws", 2)
    R = _x_norm(D, x_norm)
    rng = np.random.default_rng(seed)
    vals, metric, proto, b10, b9, b9p = [], [], [], [], [], []
    exact_all, op_ok = True, True
    lg = np.log(N + D)
    for t in range(n_draws):
        x, xp, sig = _draw(N, m, D, rng, R)
        A = np.einsum("ijd,ije->ijde", x, x) - np.einsum("ijd,ije->ijde", xp, xp)
        S = np.einsum("ij,ijde->de", sig, A)
        dmat = x - xp
        s = np.einsum("ij,ijd->id", sig, dmat)
        mp, exact, _ = max_partition_norm(s, K, exact_limit=exact_limit, seed=seed + t)
        exact_all &= exact
        op = float(np.linalg.norm(s, 2)) if min(s.shape) > 0 else 0.0
        op_ok &= bool(mp <= np.sqrt(K * N) * op * (1 + 1e-12) + 1e-12)
        a = psd_ball_support(S, zeta_M) / (N * m)
        b = 2 * zeta_v * mp / (N * m)
        metric.append(a)
        proto.append(b)
        vals.append(a + b)
        b10.append(zeta_M * np.sqrt(np.sum(A ** 2)) / (N * m))
        v, r = _eq9_terms(dmat, sig, N, D)
        b9.append(2 * zeta_v * np.sqrt(K * N) * (np.sqrt(2 * v * lg) + r * lg / 3) / (N * m))
        b9p.append(2 * zeta_v * np.sqrt(K * N) * (np.sqrt(2 * v) * lg + r * lg / 3) / (N * m))
    vals = np.asarray(vals)
    return RademacherEstimate(
        mean=float(vals.mean()), stderr=float(vals.std(ddof=1) / np.sqrt(n_draws)),
        metric_part=float(np.mean(metric)), prototype_part=float(np.mean(proto)), exact=bool(exact_all),
        eq10_bound=float(np.mean(b10)), eq9_bound=float(np.mean(b9)), eq9_printed=float(np.mean(b9p)),
        sqrt_kn_op_holds=bool(op_ok), draws=n_draws,
    )


def rademacher_new_user(m: int, D: int, K: int, zeta_v: float = 1.0, n_draws: int = 200, seed: int = 0,
                        x_norm: float | None = None) -> tuple[float, float]:
    """Monte Carlo Rademacher complexity of one *new* user's class {(x, x') -> -2 (x - x')^T V w : w in
    Delta_K} with the prototypes V fixed (random, ||v_k|| = zeta_v) -- the class of seed 002 Thm. 2 (as
    reconstructed here).  The sup over the simplex is the max over its K vertices.  Returns (mean, stderr)."""
    m, D, K = _pos_int(m, "m"), _pos_int(D, "D"), _pos_int(K, "K")
    zeta_v = _pos(zeta_v, "zeta_v", True)
    n_draws = _pos_int(n_draws, "n_draws", 2)
    R = _x_norm(D, x_norm)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_draws):
        V = sample_sphere((K,), D, rng, zeta_v)  # K x D
        x, xp, sig = _draw(1, m, D, rng, R)
        a = 2 * (x[0] - xp[0]) @ V.T  # (m, K)
        vals.append(float(np.max(sig[0] @ a)) / m)
    vals = np.asarray(vals)
    return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(n_draws))


def rademacher_per_user_ideal_points(N: int, m: int, D: int, zeta_M: float = 1.0, zeta_v: float = 1.0,
                                     n_draws: int = 50, seed: int = 0,
                                     x_norm: float | None = None) -> tuple[float, float]:
    """Monte Carlo Rademacher complexity of the class of Canal et al. (seed 002 Prop. C.4): a shared metric
    and one free ideal point per user, sup = zeta_M ||S_+||_F + 2 zeta_v sum_i ||s_i||.  (mean, stderr)."""
    N, m, D = _pos_int(N, "N"), _pos_int(m, "m"), _pos_int(D, "D")
    zeta_M, zeta_v = _pos(zeta_M, "zeta_M", True), _pos(zeta_v, "zeta_v", True)
    n_draws = _pos_int(n_draws, "n_draws", 2)
    R = _x_norm(D, x_norm)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_draws):
        x, xp, sig = _draw(N, m, D, rng, R)
        S = np.einsum("ij,ijd,ije->de", sig, x, x) - np.einsum("ij,ijd,ije->de", sig, xp, xp)
        s = np.einsum("ij,ijd->id", sig, x - xp)
        vals.append((psd_ball_support(S, zeta_M) + 2 * zeta_v * np.linalg.norm(s, axis=1).sum()) / (N * m))
    vals = np.asarray(vals)
    return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(n_draws))


# ---------------------------------------------------------------------------------------------------------
# distribution-level bounds (Thm. 1, Thm. 2, Prop. C.4) and sample complexities
# ---------------------------------------------------------------------------------------------------------


def expected_v_bound(N: int, m: int, D: int, x_norm: float | None = None) -> float:
    """An upper bound on E v, the matrix-Bernstein variance of S = [s_1 .. s_N] for isotropic items:
    v = max(||sum_ij d d^T||, max_i sum_j ||d_ij||^2) <= (e - 1) 2 R^2 N m / D + 4 R^2 log D + 4 R^2 m
    (matrix Chernoff with theta = 1 for the first term, ||d|| <= 2R for the second)."""
    R = _x_norm(D, x_norm)
    return R**2 * ((np.e - 1) * 2 * N * m / D + 4 * np.log(D) + 4 * m)


def rademacher_bound_pal_a(N, m, D, K, zeta_M=1.0, zeta_v=1.0, x_norm=None, log_inside: bool = True) -> float:
    """The distribution-level bound on the user-averaged Rademacher complexity of linear PAL-A:
    eq. 10 zeta_M R^2 sqrt(2 / (N m)) plus eq. 9 2 zeta_v sqrt(K N) (sqrt(2 E v log(N+D)) + 2R log(N+D) / 3)
    / (N m).  ``log_inside=False`` puts log(N + D) outside the square root, as Thm. 1 is printed."""
    R = _x_norm(D, x_norm)
    lg = np.log(N + D)
    ev = expected_v_bound(N, m, D, x_norm)
    main = np.sqrt(2 * ev * lg) if log_inside else np.sqrt(2 * ev) * lg
    return zeta_M * R**2 * np.sqrt(2.0 / (N * m)) + 2 * zeta_v * np.sqrt(K * N) * (main + 2 * R * lg / 3) / (N * m)


def _validate_bound_args(N, m, D, K, zeta_M, zeta_v, L, delta):
    _pos_int(N, "N"), _pos_int(m, "m"), _pos_int(D, "D"), _pos_int(K, "K")
    _pos(zeta_M, "zeta_M", True), _pos(zeta_v, "zeta_v", True), _pos(L, "L")
    delta = float(delta)
    if not (0 < delta < 1):
        raise ValueError(f"delta: must lie in (0, 1), got {delta}")


def _loss_range(D, zeta_M, zeta_v, L, x_norm, loss_at_zero, metric: bool = True, B=None):
    if B is not None:
        return _pos(B, "B")
    R = _x_norm(D, x_norm)
    gmax = (np.sqrt(2) * zeta_M * R**2 if metric else 0.0) + 4 * zeta_v * R
    return loss_at_zero + L * gmax


def thm1_bound(N, m, D, K, zeta_M=1.0, zeta_v=1.0, L=1.0, delta=0.05, x_norm=None, log_inside=True,
               loss_at_zero=np.log(2), B=None) -> float:
    """Seed 002 Thm. 1 (PAL-A, the N training users; reconstructed): with probability >= 1 - delta the ERM's
    excess risk is at most 4 L R_{N,m} + B sqrt(2 log(2 / delta) / (N m)), with R_{N,m} bounded by
    ``rademacher_bound_pal_a`` and B = loss(0) + L sup|g| the range of the loss.  For N >= D the prototype
    term is ~ zeta_v R sqrt(K log(N + D) / (m D)): per-user sample complexity O~(K) at R = sqrt(D).
    ``log_inside=False`` is the printed form (log(N + D) outside the square root)."""
    _validate_bound_args(N, m, D, K, zeta_M, zeta_v, L, delta)
    B = _loss_range(D, zeta_M, zeta_v, L, x_norm, loss_at_zero, B=B)
    rad = rademacher_bound_pal_a(N, m, D, K, zeta_M, zeta_v, x_norm, log_inside)
    return float(4 * L * rad + B * np.sqrt(2 * np.log(2 / delta) / (N * m)))


def thm2_bound(N, m, D, K, zeta_M=1.0, zeta_v=1.0, L=1.0, delta=0.05, x_norm=None,
               loss_at_zero=np.log(2), B=None) -> float:
    """Seed 002 Thm. 2 (a new user, prototypes and metric learned; reconstructed): the user's weights w on
    the simplex are fit from m comparisons; by Massart's lemma over the K vertices and isotropy
    (E (d^T v)^2 = 2 R^2 ||v||^2 / D)  R_new <= 4 zeta_v (R / sqrt(D)) sqrt(K log K / m), so with
    probability >= 1 - delta the excess risk is at most 4 L R_new + B sqrt(2 log(2/delta) / m):
    O~(K) comparisons per new user, independent of D and N (N is accepted for a uniform signature)."""
    _validate_bound_args(N, m, D, K, zeta_M, zeta_v, L, delta)
    R = _x_norm(D, x_norm)
    B = _loss_range(D, zeta_M, zeta_v, L, x_norm, loss_at_zero, metric=False, B=B)
    rad = 4 * zeta_v * (R / np.sqrt(D)) * np.sqrt(K * np.log(K) / m) if K > 1 else 0.0
    return float(4 * L * rad + B * np.sqrt(2 * np.log(2 / delta) / m))


def prop_c4_bound(N, m, D, K=1, zeta_M=1.0, zeta_v=1.0, L=1.0, delta=0.05, x_norm=None,
                  loss_at_zero=np.log(2), B=None) -> float:
    """Seed 002 Prop. C.4 (Canal et al.: a shared metric and one free ideal point per user; reconstructed in
    the same normalization): R <= zeta_M R^2 sqrt(2/(N m)) + 2 zeta_v R sqrt(2 / m) (each user's term is
    2 zeta_v E||s_i|| / m <= 2 zeta_v sqrt(2 m R^2) / m), so the excess risk is at most
    4 L R + B sqrt(2 log(2/delta) / (N m)): per-user sample complexity O(D) at R = sqrt(D).  K is ignored."""
    _validate_bound_args(N, m, D, K, zeta_M, zeta_v, L, delta)
    R = _x_norm(D, x_norm)
    B = _loss_range(D, zeta_M, zeta_v, L, x_norm, loss_at_zero, B=B)
    rad = zeta_M * R**2 * np.sqrt(2.0 / (N * m)) + 2 * zeta_v * R * np.sqrt(2.0 / m)
    return float(4 * L * rad + B * np.sqrt(2 * np.log(2 / delta) / (N * m)))


def sample_complexity(bound, eps: float, m_max: int = 10**15, **params) -> int:
    """The smallest number m of comparisons per user with bound(m=m, **params) <= eps (the bounds above
    decrease in m); exponential search then bisection.  Returns -1 if not reached by ``m_max``."""
    eps = _pos(eps, "eps")
    if not callable(bound):
        raise ValueError("bound: must be one of the bound functions")
    lo, hi = 0, 1
    while bound(m=hi, **params) > eps:
        lo, hi = hi, hi * 2
        if hi > m_max:
            return -1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bound(m=mid, **params) <= eps:
            hi = mid
        else:
            lo = mid
    return hi


# ---------------------------------------------------------------------------------------------------------
# Lemma C.2 / C.3: matrix Bernstein
# ---------------------------------------------------------------------------------------------------------


def matrix_bernstein_tail(t, v: float, r: float, d1: int, d2: int):
    """Lemma C.2 (seed 002, after Tropp 2012 Thm. 1.6): for independent centred d1 x d2 matrices Z_k with
    ||Z_k|| <= r and v = max(||sum E Z Z^T||, ||sum E Z^T Z||),
    P(||sum Z_k|| >= t) <= (d1 + d2) exp(-t^2 / 2 / (v + r t / 3))."""
    t = as_finite_array(t, "t")
    v, r = _pos(v, "v"), _pos(r, "r", True)
    d1, d2 = _pos_int(d1, "d1"), _pos_int(d2, "d2")
    return np.minimum(1.0, (d1 + d2) * np.exp(-(t**2) / 2 / (v + r * t / 3)))


def matrix_bernstein_expectation(v: float, r: float, d1: int, d2: int) -> float:
    """Lemma C.3 (seed 002, after Tropp 2015 Thm. 6.1.1): E||sum Z_k|| <= sqrt(2 v log(d1 + d2)) +
    r log(d1 + d2) / 3 under the assumptions of Lemma C.2."""
    v, r = _pos(v, "v", True), _pos(r, "r", True)
    d1, d2 = _pos_int(d1, "d1"), _pos_int(d2, "d2")
    lg = np.log(d1 + d2)
    return float(np.sqrt(2 * v * lg) + r * lg / 3)


def simulate_matrix_bernstein(N: int = 8, m: int = 6, D: int = 5, n_sims: int = 2000, seed: int = 0,
                              x_norm: float | None = None) -> dict:
    """Simulate S = sum_ij sigma_ij d_ij e_i^T (D x N; the matrix of eq. 9) for fixed items and fresh
    signs: returns the empirical mean of ||S||_op, the Lemma C.3 bound, and the worst ratio of the
    empirical tail P(||S|| >= t) to the Lemma C.2 bound over a grid of t (<= 1 when the lemma holds)."""
    N, m, D = _pos_int(N, "N"), _pos_int(m, "m"), _pos_int(D, "D")
    n_sims = _pos_int(n_sims, "n_sims", 10)
    rng = np.random.default_rng(seed)
    R = _x_norm(D, x_norm)
    x, xp, _ = _draw(N, m, D, rng, R)
    dmat = x - xp
    v, r = _eq9_terms(dmat, None, N, D)
    sig = rng.choice([-1.0, 1.0], size=(n_sims, N, m))
    S = np.einsum("tij,ijd->tdi", sig, dmat)
    norms = np.linalg.norm(S, ord=2, axis=(1, 2))
    ts = np.quantile(norms, np.linspace(0.5, 0.999, 30))
    emp = np.array([(norms >= t).mean() for t in ts])
    bnd = matrix_bernstein_tail(ts, v, r, D, N)
    return {
        "mean_norm": float(norms.mean()),
        "expectation_bound": matrix_bernstein_expectation(v, r, D, N),
        "worst_tail_ratio": float(np.max(emp / bnd)),
        "v": v,
        "r": r,
    }


# ---------------------------------------------------------------------------------------------------------
# Lemma C.13: logistic excess risk and squared logit distance
# ---------------------------------------------------------------------------------------------------------


def logistic_excess_risk(f, g, px=None) -> float:
    """R(f) - R(g) for the logistic loss when P(y = +1 | x) = sigma(g(x)): the expected KL divergence
    E_x KL(Ber(sigma(g)) || Ber(sigma(f))) = E_x [psi(f) - psi(g) - sigma(g) (f - g)], psi(t) = log(1 + e^t),
    over a finite x-distribution ``px`` (uniform by default); exact, in log space."""
    f = as_finite_array(f, "f", ndim=1)
    g = as_finite_array(g, "g", ndim=1)
    if f.shape != g.shape:
        raise ValueError(f"g: expected shape {f.shape}, got {g.shape}")
    px = np.full(f.shape[0], 1.0 / f.shape[0]) if px is None else as_finite_array(px, "px", ndim=1)
    if px.shape != f.shape or np.any(px < 0) or abs(px.sum() - 1) > 1e-9:
        raise ValueError("px: must be a probability vector over the same points as f")
    sg = 1.0 / (1.0 + np.exp(-g))
    kl = np.logaddexp(0, f) - np.logaddexp(0, g) - sg * (f - g)
    return float(px @ np.clip(kl, 0, None))


def lemma_c13_gap(f, g, B: float, px=None, printed: bool = False) -> float:
    """Lemma C.13 (seed 002 App. C; reconstructed): for logits |f|, |g| <= B with g the true logit,

        E_x (f - g)^2 <= (2 / sigma'(B)) (R(f) - R(g)),   sigma'(B) = sigma(B)(1 - sigma(B)),

    because R(f) - R(g) is the Bregman divergence of psi = log(1 + e^t), whose curvature sigma' is >=
    sigma'(B) on [-B, B].  ``printed=True`` uses the printed left-hand side E_x |f - g| (no square).
    Returns RHS - LHS (>= 0 when the inequality holds on this instance)."""
    f = as_finite_array(f, "f", ndim=1)
    g = as_finite_array(g, "g", ndim=1)
    B = _pos(B, "B")
    if np.any(np.abs(f) > B + 1e-12) or np.any(np.abs(g) > B + 1e-12):
        raise ValueError("B: must bound |f| and |g|")
    px = np.full(f.shape[0], 1.0 / f.shape[0]) if px is None else as_finite_array(px, "px", ndim=1)
    c = 1.0 / (1.0 + np.exp(-B))
    rhs = 2.0 / (c * (1 - c)) * logistic_excess_risk(f, g, px)
    lhs = float(px @ np.abs(f - g)) if printed else float(px @ (f - g) ** 2)
    return rhs - lhs
