"""Generalization bounds of PAL (seed 002, section 4.1 and Appendix C), as printed, checked on instances.

Setting, exactly as seed 002 sec. 4.1 prints it (this module's default everywhere; nothing is rescaled):

* items x_l, x_r drawn i.i.d. from Unif(S^{D-1}), the *unit* sphere;
* the score of a comparison for a user with weights w is (sec. 4.1, App. C "Additional notation")
      Phi(x; M, Q, w) = <x_l x_l^T - x_r x_r^T, M> + <x_l - x_r, Q w>,
  "M in {M in R^{D x D} : ||M||_F <= zeta_M, M >= 0}, Q in {Q in R^{D x K} : ||Q_k||_2 <= zeta_v for all k},
  and w^(i) in Delta^{K-1}" (Q = -2 M P: the prototypes seen through the metric);
* "l : R -> [0, 1] be an L-Lipschitz loss function".

Every bound below is the seed's printed formula with the printed constants, quoted in its docstring with
its number. Where the printed text is wrong, both forms are implemented and the docstring says which is
which (``form="printed"`` / ``form="corrected"``). One extension, stated where it is used: ``B`` (the
range [0, B] of the loss, default 1 = the seed's) scales the confidence terms, which is what the seed's
proofs give for a loss with range [0, B] (apply them to l / B).

What is computed here (besides the closed-form bounds):

* ``rademacher_pal_a``: a Monte Carlo estimate of the user-averaged Rademacher complexity of the linear
  score class, with the inner sup computed *exactly*: the sup over M is zeta_M ||S_+||_F
  (``psd_ball_support``), the sup over (Q, W) is zeta_v times the max over partitions of the users into K
  groups of sum_k ||sum_{i in G_k} s_i|| (``max_partition_norm``);
* ``affine_loss_experiment``: Thm 1, Thm 2 and Prop. C.4 end to end. With the loss
  l(z) = 1/2 - z / (2c) (affine on the whole range |z| <= c of the scores, so it maps into [0, 1] and is
  L = 1/(2c)-Lipschitz), the empirical risk minimizer is computed exactly and the true risks are known in
  closed form, so the excess risk of each theorem is exact for every draw;
* Lemmas C.1, C.2, C.3, C.7, C.8, C.9, C.11, C.12, C.13 on instances (see each function);
* Remark C.5 and the doubled 1/(Nm) of Thm 1's proof (eq. 10 (a)) as misprints with counterexamples.
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
    "rademacher_per_user_ideal_points",
    "thm1_bound",
    "thm1_proof_chain",
    "thm2_bound",
    "prop_c4_bound",
    "lemma_c1_bound",
    "lemma_c1_experiment",
    "lemma_c2_bound",
    "lemma_c3_bound",
    "lemma_c10_bound",
    "simulate_lemma_c2_c3",
    "lemma_c7_bound",
    "lemma_c7_experiment",
    "lemma_c9_bound",
    "lemma_c9_gap",
    "lemma_c8_check",
    "lemma_c11_check",
    "sudakov_fernique_check",
    "lemma_c13",
    "affine_loss_experiment",
    "remark_c5_rates",
    "doubled_normalization_counterexample",
    "sample_complexity",
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


def _delta(delta) -> float:
    delta = float(delta)
    if not (0 < delta < 1):
        raise ValueError(f"delta: must lie in (0, 1), got {delta}")
    return delta


def sample_sphere(shape, D: int, rng: np.random.Generator, radius: float = 1.0) -> np.ndarray:
    """i.i.d. points uniform on the sphere of ``radius`` (default 1: the seed's Unif(S^{D-1})) in R^D, of
    shape ``shape + (D,)``."""
    D = _pos_int(D, "D")
    x = rng.normal(size=tuple(shape) + (D,))
    return radius * x / np.linalg.norm(x, axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------
# the exact inner sups (ours: the seed bounds them with Cauchy-Schwarz, Hoelder and Lemma C.11 / C.2)
# ---------------------------------------------------------------------------------------------------------


def psd_ball_support(S, zeta_M: float = 1.0) -> float:
    """sup { <M, S> : M PSD, ||M||_F <= zeta_M } = zeta_M ||S_+||_F for symmetric S (S_+ keeps the positive
    eigenvalues; the maximizer is zeta_M S_+ / ||S_+||_F, and von Neumann's trace inequality shows nothing
    does better).  Not a statement of seed 002: it is the exact value of the sup over M that the proof of
    Thm 1 bounds by zeta_M ||S||_F (Cauchy-Schwarz); Monte Carlo estimates here use it."""
    S = as_finite_array(S, "S", ndim=2)
    if S.shape[0] != S.shape[1] or not np.allclose(S, S.T, atol=1e-10 * (1 + np.abs(S).max())):
        raise ValueError("S: must be a symmetric square matrix")
    zeta_M = _pos(zeta_M, "zeta_M", allow_zero=True)
    lam = np.linalg.eigvalsh((S + S.T) / 2)
    return zeta_M * float(np.sqrt(np.sum(np.clip(lam, 0, None) ** 2)))


def psd_ball_support_sdp(S, zeta_M: float = 1.0) -> float:
    """The same sup solved as a semidefinite program with cvxpy (the independent check of
    ``psd_ball_support``)."""
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


def _partition_sums(s, z, K):
    return np.stack([s[z == k].sum(axis=0) for k in range(K)])


def max_partition_norm(s, K: int, exact_limit: int = 200_000, restarts: int = 8, seed: int = 0):
    """max over partitions of the rows of ``s`` (N x D) into K groups (some may be empty) of
    sum_k ||sum_{i in G_k} s_i|| -- the sup over prototypes Q (||Q_k|| <= 1) and simplex weights W of
    sum_i s_i^T Q w_i (the best w_i is a vertex, then each Q_k aligns with its group's sum).

    Returns (value, exact, upper, groups): exact enumeration when K^(N-1) <= ``exact_limit``, else the best
    of ``restarts`` local searches -- a certified *lower* bound -- and ``upper`` = sum_i ||s_i||
    (triangle inequality), so value <= true max <= upper; ``groups`` is the maximizing assignment."""
    s = as_finite_array(s, "s", ndim=2)
    K = _pos_int(K, "K")
    N = s.shape[0]
    upper = float(np.linalg.norm(s, axis=1).sum())
    if K >= N:
        return upper, True, upper, np.arange(N)
    if K == 1:
        return float(np.linalg.norm(s.sum(axis=0))), True, upper, np.zeros(N, dtype=int)
    if K ** (N - 1) <= exact_limit:
        best, best_a = -1.0, None
        # user 0 in group 0 without loss of generality; enumerate the rest in chunks
        rest = np.array(list(itertools.product(range(K), repeat=N - 1)), dtype=np.int8)
        for start in range(0, rest.shape[0], 4096):
            a = np.concatenate([np.zeros((min(4096, rest.shape[0] - start), 1), np.int8),
                                rest[start:start + 4096]], axis=1)
            onehot = (a[:, :, None] == np.arange(K)[None, None, :]).astype(float)  # (A, N, K)
            vals = np.linalg.norm(np.einsum("ank,nd->akd", onehot, s), axis=2).sum(axis=1)
            j = int(np.argmax(vals))
            if vals[j] > best:
                best, best_a = float(vals[j]), a[j].astype(int)
        return best, True, upper, best_a
    rng = np.random.default_rng(seed)
    best, best_z = -1.0, None
    for _ in range(restarts):
        centers = s[rng.choice(N, size=K, replace=False)]
        z = np.argmax(s @ centers.T, axis=1)
        sums = _partition_sums(s, z, K)
        improved = True
        while improved:
            improved = False
            for i in rng.permutation(N):
                k0 = z[i]
                without = sums.copy()
                without[k0] -= s[i]
                gains = np.linalg.norm(without + s[i], axis=1) - np.linalg.norm(without, axis=1)
                k1 = int(np.argmax(gains))
                if gains[k1] > gains[k0] + 1e-12 * (1 + np.linalg.norm(sums, axis=1).sum()):
                    sums = without
                    sums[k1] += s[i]
                    z[i] = k1
                    improved = True
        val = float(np.linalg.norm(sums, axis=1).sum())
        if val > best:
            best, best_z = val, z.copy()
    return best, False, upper, best_z


# ---------------------------------------------------------------------------------------------------------
# Monte Carlo Rademacher complexities
# ---------------------------------------------------------------------------------------------------------


@dataclass
class RademacherEstimate:
    """Monte Carlo estimate of E sup (1/(N m)) sum_ij sigma_ij Phi_ij over the linear score class."""

    mean: float  #: the estimate (exact inner sups; a certified lower estimate if ``exact`` is False)
    stderr: float  #: its standard error over the draws
    metric_part: float  #: mean of sup_M sum sigma <A, M> / (N m) = zeta_M ||S_+||_F / (N m)
    metric_stderr: float  #: its standard error
    prototype_part: float  #: mean of sup_{Q, W} sum sigma <d, Q w_i> / (N m) = zeta_v max-partition / (N m)
    prototype_stderr: float  #: its standard error
    spectral_norm: float  #: mean of ||sum_ij sigma_ij X_ij||_2 (the quantity of Lemma C.2)
    exact: bool  #: whether every inner sup was exact
    draws: int  #: number of Monte Carlo draws


def _draw(N, m, D, rng):
    return sample_sphere((N, m), D, rng), sample_sphere((N, m), D, rng), rng.choice([-1.0, 1.0], size=(N, m))


def _se(v):
    v = np.asarray(v, dtype=float)
    return float(v.std(ddof=1) / np.sqrt(v.size))


def rademacher_pal_a(N: int, m: int, D: int, K: int, zeta_M: float = 1.0, zeta_v: float = 1.0,
                     n_draws: int = 50, seed: int = 0, exact_limit: int = 200_000) -> RademacherEstimate:
    """Monte Carlo estimate of E_{S, sigma} sup_{M, Q, W} (1/(N m)) sum_ij sigma_ij Phi(x_ij; M, Q, W_i), the
    user-averaged Rademacher complexity (seed 002 Lemma C.1's R_{N,m}) of the *linear* PAL-A score class of
    sec. 4.1 (items on the unit sphere), with both inner sups exact (see the module docstring).  By the
    contraction step (a) of eq. 10, the seed's quantity (*) of Thm 1's proof is at most 2 L times it, with
    equality for the affine loss of ``affine_loss_experiment``."""
    N, m, D, K = (_pos_int(v, n) for v, n in ((N, "N"), (m, "m"), (D, "D"), (K, "K")))
    zeta_M, zeta_v = _pos(zeta_M, "zeta_M", True), _pos(zeta_v, "zeta_v", True)
    n_draws = _pos_int(n_draws, "n_draws", 2)
    rng = np.random.default_rng(seed)
    metric, proto, spec = [], [], []
    exact_all = True
    for t in range(n_draws):
        x, xp, sig = _draw(N, m, D, rng)
        S = np.einsum("ij,ijd,ije->de", sig, x, x) - np.einsum("ij,ijd,ije->de", sig, xp, xp)
        s = np.einsum("ij,ijd->id", sig, x - xp)  # column i of sum_ij sigma_ij X_ij
        mp, exact, _, _ = max_partition_norm(s, K, exact_limit=exact_limit, seed=seed + t)
        exact_all &= exact
        metric.append(psd_ball_support(S, zeta_M) / (N * m))
        proto.append(zeta_v * mp / (N * m))
        spec.append(float(np.linalg.norm(s, 2)))
    vals = np.asarray(metric) + np.asarray(proto)
    return RademacherEstimate(
        mean=float(vals.mean()), stderr=_se(vals), metric_part=float(np.mean(metric)), metric_stderr=_se(metric),
        prototype_part=float(np.mean(proto)), prototype_stderr=_se(proto), spectral_norm=float(np.mean(spec)),
        exact=bool(exact_all), draws=n_draws)


def rademacher_per_user_ideal_points(N: int, m: int, D: int, zeta_M: float = 1.0, zeta_v: float = 1.0,
                                     n_draws: int = 50, seed: int = 0) -> tuple[float, float]:
    """Monte Carlo estimate of the user-averaged Rademacher complexity of the class of seed 002 App. C.1.3
    (Canal et al.: a shared metric, ||M||_F <= zeta_M, M PSD, and one free reparametrized ideal point V_i
    per user, ||V_i|| <= zeta_v): the exact sup is zeta_M ||S_+||_F + zeta_v sum_i ||s_i||.
    Returns (mean, stderr)."""
    N, m, D = _pos_int(N, "N"), _pos_int(m, "m"), _pos_int(D, "D")
    zeta_M, zeta_v = _pos(zeta_M, "zeta_M", True), _pos(zeta_v, "zeta_v", True)
    n_draws = _pos_int(n_draws, "n_draws", 2)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_draws):
        x, xp, sig = _draw(N, m, D, rng)
        S = np.einsum("ij,ijd,ije->de", sig, x, x) - np.einsum("ij,ijd,ije->de", sig, xp, xp)
        s = np.einsum("ij,ijd->id", sig, x - xp)
        vals.append((psd_ball_support(S, zeta_M) + zeta_v * np.linalg.norm(s, axis=1).sum()) / (N * m))
    return float(np.mean(vals)), _se(vals)


# ---------------------------------------------------------------------------------------------------------
# Thm 1, Thm 2, Prop. C.4 as printed
# ---------------------------------------------------------------------------------------------------------


def _common(N, m, D, K, zeta_M, zeta_v, L, delta, B, theorem):
    N, m, D, K = (_pos_int(v, n) for v, n in ((N, "N"), (m, "m"), (D, "D"), (K, "K")))
    zeta_M, zeta_v, L, B = _pos(zeta_M, "zeta_M", True), _pos(zeta_v, "zeta_v", True), _pos(L, "L"), _pos(B, "B")
    delta = _delta(delta)
    if theorem and K >= min(N, D):
        raise ValueError(f"K: {theorem} assumes K < min(N, D), got K={K}, N={N}, D={D}")
    return N, m, D, K, zeta_M, zeta_v, L, delta, B


def thm1_bound(N, m, D, K, zeta_M=1.0, zeta_v=1.0, L=1.0, delta=0.05, form="printed", B=1.0,
               parts=False):
    """Seed 002 Thm 1 (Seen user generalization), sec. 4.1 and App. C.1.1, as printed:

        "Suppose K < min(N, D), and for each comparison, the user is asked to compare two items drawn i.i.d.
        from the uniform distribution on the unit sphere, Unif(S^{D-1}). Then, with probability at least
        1 - delta,
          E_S[R_S(M^, Q^, {w^(i)})] - E_S[R_S(M*, Q*, {w*(i)})]
              <= 12L sqrt( (zeta_M^2 + (KN/D + K) zeta_v^2) / (Nm) ) log(N + D) + sqrt( 2 log(2/delta) / (Nm) )."

    ``form="printed"``: log(N + D) outside the square root, as in the statement and in eq. 9.
    ``form="proof"``: log(N + D) inside it, as the last display of the proof derives
    (12L sqrt((zeta_M^2 + (KN/D + K) zeta_v^2) / (Nm) log(N + D))).  Under the hypothesis K < min(N, D)
    we have N, D >= 2, so log(N + D) >= log 4 > 1 and the proof's form is the smaller one by the factor
    sqrt(log(N + D)): the printed statement is implied by its proof (looser, not false).
    ``B`` (ours) is the range [0, B] of the loss; it multiplies the confidence term (B = 1 as printed).
    Raises ValueError when K >= min(N, D) (outside the theorem).  ``parts=True`` returns
    {"complexity", "confidence", "total"}."""
    N, m, D, K, zeta_M, zeta_v, L, delta, B = _common(N, m, D, K, zeta_M, zeta_v, L, delta, B, "Thm 1")
    if form not in ("printed", "proof"):
        raise ValueError(f"form: expected 'printed' or 'proof', got {form!r}")
    lg = np.log(N + D)
    core = (zeta_M**2 + (K * N / D + K) * zeta_v**2) / (N * m)
    comp = 12 * L * (np.sqrt(core) * lg if form == "printed" else np.sqrt(core * lg))
    conf = B * np.sqrt(2 * np.log(2 / delta) / (N * m))
    out = {"complexity": float(comp), "confidence": float(conf), "total": float(comp + conf)}
    return out if parts else out["total"]


def thm1_proof_chain(N, m, D, K, zeta_M=1.0, zeta_v=1.0, L=1.0) -> dict:
    """The displayed steps of the proof of Thm 1 (seed 002 App. C.1.1), each as printed, for a comparison
    with Monte Carlo (``rademacher_pal_a``: term (i) <= 2L metric part, term (ii) <= 2L prototype part):

    * ``term_i``: "(i) <= ... <= 4L sqrt(zeta_M^2 / (Nm))";
    * ``term_ii_b``: step (b), "(2L/(Nm)) sqrt(KN zeta_v^2) (2 sqrt((Nm/D + Nm/N) log(N+D) + log(N+D)))";
    * ``term_ii_line3``: the next line, "4L sqrt((KN/D + K) zeta_v^2 / (Nm) log(N+D)) +
      2L sqrt(K/(Nm) zeta_v^2 log(N+D))" (it is >= ``term_ii_b`` for every m: squaring, the reverse
      would need sqrt(N/D + 1) < 1/m - 1/4);
    * ``term_ii_c``: step (c), "6L sqrt(2 (KN/D + K) zeta_v^2 / (Nm) log(N+D))";
    * ``combined``: "2L (sqrt(4 zeta_M^2/(Nm)) + sqrt(18 (KN/D + K) zeta_v^2 / (Nm) log(N+D)))";
    * ``final_proof``: the last display, 12L sqrt((zeta_M^2 + (KN/D + K) zeta_v^2)/(Nm) log(N+D));
    * ``eq9_printed``: eq. 9 and the statement, with log(N + D) outside the square root."""
    N, m, D, K, zeta_M, zeta_v, L, _, _ = _common(N, m, D, K, zeta_M, zeta_v, L, 0.5, 1.0, None)
    lg = np.log(N + D)
    a = (K * N / D + K) * zeta_v**2 / (N * m)
    return {
        "term_i": float(4 * L * np.sqrt(zeta_M**2 / (N * m))),
        "term_ii_b": float(2 * L / (N * m) * np.sqrt(K * N * zeta_v**2) * lemma_c2_bound(N, m, D)),
        "term_ii_line3": float(4 * L * np.sqrt(a * lg) + 2 * L * np.sqrt(K / (N * m) * zeta_v**2 * lg)),
        "term_ii_c": float(6 * L * np.sqrt(2 * a * lg)),
        "combined": float(2 * L * (np.sqrt(4 * zeta_M**2 / (N * m)) + np.sqrt(18 * a * lg))),
        "final_proof": float(12 * L * np.sqrt((zeta_M**2 / (N * m) + a) * lg)),
        "eq9_printed": float(12 * L * np.sqrt(zeta_M**2 / (N * m) + a) * lg),
    }


def thm2_bound(N, m, D, K, zeta_M=1.0, zeta_v=1.0, L=1.0, delta=0.05, B=1.0, parts=False):
    """Seed 002 Thm 2 (Unseen user generalization), sec. 4.1 and App. C.2, as printed:

        "Suppose K < min(N, d), and for each comparison, the user is asked to compare two items that are
        drawn i.i.d. from the uniform distribution on the unit sphere, Unif(S^{D-1}). Then, with
        probability at least 1 - delta over S_1, ..., S_N,
          L_user^unseen(M^, Q^) - L_user^unseen(M*, Q*)
              <= 18L sqrt((zeta_M^2 + K^2 zeta_v^2) / N) + 3L sqrt(K zeta_v^2 / (D m)) + sqrt(8 log(4/delta) / N)."

    The first term (Lemma C.7, shared metric and prototypes learned from N users) does not decay in m; the
    second (Lemma C.9, few-shot localization of a new user) is the O~(K) per-user part.  ``B`` (ours)
    multiplies the confidence term.  Raises ValueError when K >= min(N, D).  ``parts=True`` returns
    {"shared", "per_user", "confidence", "total"}."""
    N, m, D, K, zeta_M, zeta_v, L, delta, B = _common(N, m, D, K, zeta_M, zeta_v, L, delta, B, "Thm 2")
    shared = 18 * L * np.sqrt((zeta_M**2 + K**2 * zeta_v**2) / N)
    per_user = lemma_c9_bound(m, D, K, zeta_v, L)
    conf = B * np.sqrt(8 * np.log(4 / delta) / N)
    out = {"shared": float(shared), "per_user": float(per_user), "confidence": float(conf),
           "total": float(shared + per_user + conf)}
    return out if parts else out["total"]


def prop_c4_bound(N, m, D, K=None, zeta_M=1.0, zeta_v=1.0, L=1.0, delta=0.05, B=1.0, parts=False):
    """Seed 002 Prop. C.4 (Canal et al. 2022, Theorem 3.1), App. C.1.3, as printed:

        "Suppose that for each comparison, the user is asked to compare two items drawn i.i.d. from
        Unif(S^{D-1}). Then, with probability at least 1 - delta,
          E_S[J_S(M~, V~)] - E_S[J_S(M*, V*)] <= 6L sqrt((zeta_M^2 + zeta_v^2 N) / (Nm)) + sqrt(2 log(2/delta) / (Nm))"

    for the class of a shared metric (||M||_F <= zeta_M, M PSD) and one reparametrized ideal point
    V_i = -2 M a^(i) per user (||V_i||_2 <= zeta_v).  ``K`` is accepted for a signature uniform with the
    other bounds and ignored (this class has no prototypes).  ``B`` (ours) multiplies the confidence term."""
    N, m, D, _, zeta_M, zeta_v, L, delta, B = _common(N, m, D, 1, zeta_M, zeta_v, L, delta, B, None)
    comp = 6 * L * np.sqrt((zeta_M**2 + zeta_v**2 * N) / (N * m))
    conf = B * np.sqrt(2 * np.log(2 / delta) / (N * m))
    out = {"complexity": float(comp), "confidence": float(conf), "total": float(comp + conf)}
    return out if parts else out["total"]


def remark_c5_rates(D: int, N: int, m: int, L: float = 1.0) -> dict:
    """Remark C.5 (seed 002 App. C.1.3) as printed: "Setting zeta_M = d and zeta_v = sqrt(d), the above
    excess risk bound becomes O~(sqrt((D^2 + DN)/(Nm))) ... When N >= Omega(D^2), the bound becomes
    O~(sqrt(D/N)), which suggests a per-user sample complexity of O~(D)."

    The complexity term of Prop. C.4 at zeta_M = D, zeta_v = sqrt(D) is 6L sqrt(D/m) sqrt(D/N + 1): for
    N >= D it lies between 6L sqrt(D/m) and 6L sqrt(2D/m), so the printed sqrt(D/N) is a misprint for
    sqrt(D/m) (only sqrt(D/m) gives the per-user sample complexity O~(D) the remark concludes).  Returns
    the term and its ratios to the printed and to the corrected rate; the counterexample is that the ratio
    to sqrt(D/N) is unbounded (N -> infinity at fixed m) and tends to 0 (m -> infinity at fixed N)."""
    D, N, m = _pos_int(D, "D"), _pos_int(N, "N"), _pos_int(m, "m")
    term = prop_c4_bound(N, m, D, zeta_M=D, zeta_v=np.sqrt(D), L=L, parts=True)["complexity"]
    return {"complexity": term, "ratio_to_printed": term / np.sqrt(D / N), "ratio_to_corrected": term / np.sqrt(D / m)}


# ---------------------------------------------------------------------------------------------------------
# Lemma C.1 (user-averaged Rademacher bound on the excess risk), on finite classes
# ---------------------------------------------------------------------------------------------------------


def lemma_c1_bound(rademacher: float, N: int, m: int, delta: float = 0.05) -> float:
    """Seed 002 Lemma C.1, as printed: "Let H subset {h : [N] x Z -> [0, 1]} ... Then, with probability at
    least 1 - delta over S,  (1/N) sum_i E[h^(i, z)] - (1/N) sum_i E[h*(i, z)] <= 2 R_{N,m}(H) +
    sqrt(2 log(2/delta) / (Nm))", with R_{N,m}(H) the user-averaged Rademacher complexity."""
    N, m = _pos_int(N, "N"), _pos_int(m, "m")
    return float(2 * _pos(rademacher, "rademacher", True) + np.sqrt(2 * np.log(2 / _delta(delta)) / (N * m)))


def lemma_c1_experiment(H, P, m: int, delta: float = 0.05, n_trials: int = 200, n_rademacher: int = 400,
                        seed: int = 0) -> dict:
    """Lemma C.1 on a finite instance: ``H`` (n_h, N, Z) in [0, 1] is a finite class of functions of
    (user, point) on a finite space Z, ``P`` (N, Z) the users' distributions.  Each trial draws m i.i.d.
    points per user, takes the empirical risk minimizer h^ and computes its exact excess true risk over the
    true-risk minimizer h*.  R_{N,m}(H) is estimated by Monte Carlo with the exact max over the class (its
    mean plus 3 standard errors is used in the bound).  Returns the excess risks, the bound, and the
    fraction of trials above it (<= delta, up to binomial noise, when the lemma holds)."""
    H = as_finite_array(H, "H", ndim=3)
    P = as_finite_array(P, "P", ndim=2)
    if np.any(H < 0) or np.any(H > 1):
        raise ValueError("H: functions must take values in [0, 1]")
    n_h, N, Z = H.shape
    if P.shape != (N, Z) or np.any(P < 0) or not np.allclose(P.sum(axis=1), 1):
        raise ValueError(f"P: expected {N} probability vectors over {Z} points")
    m = _pos_int(m, "m")
    rng = np.random.default_rng(seed)
    true_risk = np.einsum("hnz,nz->h", H, P) / N
    best = true_risk.min()

    def sample():
        return np.stack([rng.choice(Z, size=m, p=P[i]) for i in range(N)])  # (N, m)

    rad = []
    for _ in range(_pos_int(n_rademacher, "n_rademacher", 2)):
        idx = sample()
        sig = rng.choice([-1.0, 1.0], size=(N, m))
        vals = H[:, np.arange(N)[:, None], idx]  # (n_h, N, m)
        rad.append(float(np.max(np.einsum("hnm,nm->h", vals, sig))) / (N * m))
    r_hat = float(np.mean(rad) + 3 * _se(rad))
    bound = lemma_c1_bound(r_hat, N, m, delta)
    excess = []
    for _ in range(_pos_int(n_trials, "n_trials")):
        idx = sample()
        emp = H[:, np.arange(N)[:, None], idx].mean(axis=(1, 2))
        excess.append(float(true_risk[int(np.argmin(emp))] - best))
    excess = np.asarray(excess)
    return {"excess": excess, "bound": bound, "rademacher": r_hat, "violation_rate": float(np.mean(excess > bound))}


# ---------------------------------------------------------------------------------------------------------
# Lemma C.2, C.3, C.10: matrix Bernstein for the D x N matrix sum_ij sigma_ij X_ij
# ---------------------------------------------------------------------------------------------------------


def lemma_c2_bound(N: int, m: int, D: int) -> float:
    """Seed 002 Lemma C.2, as printed: for Z_ij = sigma_ij D_ij, D_ij in R^{D x N} with xi_ij = z_ij - z'_ij
    (z, z' ~ Unif(S^{D-1}) independent) in its i-th column,
        E || sum_ij Z_ij ||_2 <= 2 sqrt((Nm/D + Nm/N) log(N+D) + log(N+D)).

    Its proof ("follows straightforwardly from the Matrix Bernstein inequality ... (Lemma C.10) and Lemma
    C.3") does not give this: Lemma C.10 with iota <= 2(Nm/D + m) (Lemma C.3) and R = 2 gives
    2 sqrt((Nm/D + m) log(N+D)) + (2/3) log(N+D) (``lemma_c10_bound``), which is *larger* than the printed
    bound as soon as (Nm/D + m) log(N+D) exceeds about 2.25.  The statement itself held on every instance
    simulated (``simulate_lemma_c2_c3``)."""
    N, m, D = _pos_int(N, "N"), _pos_int(m, "m"), _pos_int(D, "D")
    lg = np.log(N + D)
    return float(2 * np.sqrt((N * m / D + N * m / N) * lg + lg))


def lemma_c3_bound(N: int, m: int, D: int) -> float:
    """Seed 002 Lemma C.3, as printed: "max{ ||sum_ij E[Z_ij Z_ij^T]||_2, ||sum_ij E[Z_ij^T Z_ij]||_2 }
    <= 2 (Nm/D + Nm/N)".  The proof computes the two norms exactly: 2Nm/D (from E[xi xi^T] = 2I/D) and
    2m (the N x N matrix 2m I).  (Its second display repeats Z Z^T where the N x N matrix Z^T Z is meant.)"""
    N, m, D = _pos_int(N, "N"), _pos_int(m, "m"), _pos_int(D, "D")
    return float(2 * (N * m / D + N * m / N))


def lemma_c10_bound(iota: float, R: float, d1: int, d2: int) -> float:
    """Seed 002 Lemma C.10 (Matrix Bernstein, Tropp et al. 2015), as printed: for independent centred
    d1 x d2 matrices with ||X_i|| <= R and iota = max{||sum E X X^T||, ||sum E X^T X||},
        E || sum X_i || <= sqrt(2 iota log(d1 + d2)) + (1/3) R log(d1 + d2)."""
    iota, R = _pos(iota, "iota", True), _pos(R, "R", True)
    d1, d2 = _pos_int(d1, "d1"), _pos_int(d2, "d2")
    lg = np.log(d1 + d2)
    return float(np.sqrt(2 * iota * lg) + R * lg / 3)


def simulate_lemma_c2_c3(N: int, m: int, D: int, n_sims: int = 2000, seed: int = 0) -> dict:
    """Simulate the random matrix of Lemma C.2 (fresh items and signs every draw, as its expectation is over
    both): the mean of ||sum_ij Z_ij||_2 with its standard error, Lemma C.2's printed bound, Lemma C.10's
    bound with Lemma C.3's iota and R = 2 (the route the proof names), and for Lemma C.3 the Monte Carlo
    estimates of ||sum E Z Z^T|| and ||sum E Z^T Z|| (exact values 2Nm/D and 2m) and its printed bound."""
    N, m, D = _pos_int(N, "N"), _pos_int(m, "m"), _pos_int(D, "D")
    n_sims = _pos_int(n_sims, "n_sims", 10)
    rng = np.random.default_rng(seed)
    norms = np.empty(n_sims)
    xx = np.zeros((D, D))
    sq = np.zeros(N)
    for t in range(n_sims):
        xi = sample_sphere((N, m), D, rng) - sample_sphere((N, m), D, rng)
        sig = rng.choice([-1.0, 1.0], size=(N, m))
        norms[t] = np.linalg.norm(np.einsum("ij,ijd->di", sig, xi), 2)
        xx += np.einsum("ijd,ije->de", xi, xi)
        sq += (xi**2).sum(axis=(1, 2))
    iota_zzt = float(np.linalg.eigvalsh(xx / n_sims)[-1])  # || sum_ij E[Z Z^T] ||, exact 2Nm/D
    iota_ztz = float((sq / n_sims).max())  # || sum_ij E[Z^T Z] || (diagonal N x N), exact 2m
    lg = np.log(N + D)
    return {
        "mean_norm": float(norms.mean()), "stderr": _se(norms),
        "lemma_c2_bound": lemma_c2_bound(N, m, D),
        "c10_route_bound": float(np.sqrt(2 * lemma_c3_bound(N, m, D) * lg) + 2 * lg / 3),
        "iota_zzt_mc": iota_zzt, "iota_ztz_mc": iota_ztz, "iota_exact": (2 * N * m / D, 2.0 * m),
        "lemma_c3_bound": lemma_c3_bound(N, m, D),
    }


# ---------------------------------------------------------------------------------------------------------
# Lemma C.11, C.12 (Sudakov-Fernique), C.13
# ---------------------------------------------------------------------------------------------------------


def lemma_c11_check(Z, B=None, n_mc: int = 0, seed: int = 0) -> dict:
    """Seed 002 Lemma C.11, as printed: "Let Z = (Z_1, ..., Z_n) be an array of matrices such that
    ||Z_i||_F <= B_i, and sigma = (sigma_1, ..., sigma_n) be an array of independent random variables such
    that E[sigma_i] = 0 and E[sigma_i^2] = 1 for all i. Then, E_sigma ||sum_i sigma_i Z_i||_F^2 <= sum_i B_i^2."

    For ``Z`` (n, p, q): the left side for Rademacher signs, *exactly* by enumerating the 2^n sign vectors
    (n <= 16), which equals sum_i ||Z_i||_F^2 (the proof's computation), and -- with ``n_mc`` > 0 -- a
    Monte Carlo estimate for standard normal sigma.  ``B`` defaults to ||Z_i||_F (the lemma is then an
    equality).  Returns the sides."""
    Z = as_finite_array(Z, "Z", ndim=3)
    n = Z.shape[0]
    if not 1 <= n <= 16:
        raise ValueError(f"Z: exact enumeration needs 1 <= n <= 16 matrices, got {n}")
    fro2 = np.sum(Z**2, axis=(1, 2))
    Bv = np.sqrt(fro2) if B is None else as_finite_array(B, "B", ndim=1)
    if Bv.shape != (n,) or np.any(Bv < np.sqrt(fro2) * (1 - 1e-12)):
        raise ValueError("B: must have one entry per matrix, each >= ||Z_i||_F")
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=n)))
    lhs = float(np.mean(np.sum(np.einsum("sn,npq->spq", signs, Z) ** 2, axis=(1, 2))))
    out = {"lhs_rademacher": lhs, "sum_fro2": float(fro2.sum()), "rhs": float(np.sum(Bv**2))}
    if n_mc:
        g = np.random.default_rng(seed).normal(size=(int(n_mc), n))
        v = np.sum(np.einsum("sn,npq->spq", g, Z) ** 2, axis=(1, 2))
        out["lhs_gaussian"], out["lhs_gaussian_se"] = float(v.mean()), _se(v)
    return out


def sudakov_fernique_check(C_X, C_Y, n_mc: int = 20000, seed: int = 0) -> dict:
    """Seed 002 Lemma C.12 (Sudakov-Fernique inequality), as printed: "Let X and Y be two centered, almost
    surely bounded Gaussian processes indexed by t in T such that, for all t, s in T,
    E[(X_t - X_s)^2] <= E[(Y_t - Y_s)^2]. Then, E[sup_t X_t] <= E[sup_t Y_t]."

    On a finite index set with covariance matrices ``C_X``, ``C_Y`` (|T| x |T|): the smallest increment
    margin min_{t,s} (E(Y_t - Y_s)^2 - E(X_t - X_s)^2) (>= 0: the hypothesis holds) and Monte Carlo
    estimates of E max X, E max Y with standard errors."""
    CX = as_finite_array(C_X, "C_X", ndim=2)
    CY = as_finite_array(C_Y, "C_Y", ndim=2)
    if CX.shape != CY.shape or CX.shape[0] != CX.shape[1]:
        raise ValueError("C_Y: must be square and of the same shape as C_X")

    def incr(C):
        d = np.diag(C)
        return d[:, None] + d[None, :] - 2 * C

    rng = np.random.default_rng(seed)

    def emax(C):
        vals, vecs = np.linalg.eigh((C + C.T) / 2)
        if vals.min() < -1e-9 * max(1.0, vals.max()):
            raise ValueError("C_X: covariance matrices must be positive semi-definite")
        A = vecs * np.sqrt(np.clip(vals, 0, None))
        mx = (rng.normal(size=(int(n_mc), C.shape[0])) @ A.T).max(axis=1)
        return float(mx.mean()), _se(mx)

    ex, sx = emax(CX)
    ey, sy = emax(CY)
    return {"increment_margin": float(np.min(incr(CY) - incr(CX))), "E_sup_X": ex, "se_X": sx, "E_sup_Y": ey, "se_Y": sy}


def lemma_c13(F, G, form: str = "printed") -> float:
    """Seed 002 Lemma C.13 on a finite parameter grid.  As printed: "Let f and g be functions from X to
    [0, 1] that are parameterized by w in W. Given x_1, ..., x_n in X, we have
        ( min_w (1/n) sum_i f(x_i; w) - min_w (1/n) sum_i g(x_i; w) ) <= sup_w ( (1/n) sum_i f(x_i; w) - g(x_i; w) )^2."

    The left side lacks its square: its proof bounds (min f - min g)^2, and the lemma is used in that form
    (eq. 18, step (a)).  ``F``, ``G`` are (n_w, n) arrays of f(x_i; w), g(x_i; w) over the grid of w.
    ``form="printed"`` returns RHS - LHS as printed; ``form="corrected"`` returns RHS - LHS^2.  >= 0 means
    the inequality holds on the instance.  Counterexample to the printed form: f = g + 0.1 (LHS 0.1,
    RHS 0.01)."""
    F = as_finite_array(F, "F", ndim=2)
    G = as_finite_array(G, "G", ndim=2)
    if F.shape != G.shape or F.size == 0:
        raise ValueError(f"G: expected the non-empty shape of F {F.shape}, got {G.shape}")
    if np.any(F < 0) or np.any(F > 1) or np.any(G < 0) or np.any(G > 1):
        raise ValueError("F: f and g must take values in [0, 1]")
    if form not in ("printed", "corrected"):
        raise ValueError(f"form: expected 'printed' or 'corrected', got {form!r}")
    lhs = float(F.mean(axis=1).min() - G.mean(axis=1).min())
    rhs = float(np.max((F - G).mean(axis=1) ** 2))
    return rhs - (lhs if form == "printed" else lhs**2)


# ---------------------------------------------------------------------------------------------------------
# Thm 1 / Thm 2 / Prop. C.4 end to end, and Lemmas C.7-C.9, with the affine loss
# ---------------------------------------------------------------------------------------------------------


def _affine_c(zeta_M, zeta_v):
    # |<x x^T - x' x'^T, M>| <= ||x x^T - x' x'^T||_F zeta_M <= sqrt(2) zeta_M and |<x - x', Q w>| <= 2 zeta_v
    return np.sqrt(2) * zeta_M + 2 * zeta_v


def _labels(d, u, rng):
    """y = +1 with probability 1/2 + d^T u / 4 (|d^T u| <= 2): E[y | x, x'] = d^T u / 2, so E[y d] = u / D
    and E[y (x x^T - x' x'^T)] = 0 on the sphere (odd moments vanish)."""
    p = 0.5 + np.einsum("...d,...d->...", d, u) / 4
    return np.where(rng.uniform(size=p.shape) < p, 1.0, -1.0)


def affine_loss_experiment(theorem: str, N: int, m: int, D: int, K: int, zeta_M: float = 1.0,
                           zeta_v: float = 1.0, delta: float = 0.05, n_trials: int = 50, n_new_users: int = 400,
                           seed: int = 0) -> dict:
    """Thm 1, Thm 2 or Prop. C.4 of seed 002 end to end, with the exact excess risk of the exact ERM.

    Loss: l(z) = 1/2 - z/(2c) with c = sqrt(2) zeta_M + 2 zeta_v >= |Phi|, so l maps the scores into [0, 1]
    and is L = 1/(2c)-Lipschitz, as the theorems require.  Users: K prototype directions p_k (random unit
    vectors); user i has direction u_i = p_{z_i} and answers y = +1 with probability 1/2 + (x_l - x_r)^T u_i / 4.
    Then the true risk of (M, Q, W) is 1/2 - (1/(2cND)) sum_i u_i^T Q w_i, and the ERM maximizes
    <sum y A, M> + sum_i <s_i, Q w_i> (s_i = sum_j y_ij d_ij): M^ = zeta_M S_+/||S_+||_F, (Q^, W^) from
    ``max_partition_norm`` (exact for K^(N-1) <= 2e5).

    * ``"thm1"``: excess = (1/(2cND)) (zeta_v maxpart(u) - sum_i u_i^T Q^ w^_i);
    * ``"prop_c4"``: per-user V_i, excess = (zeta_v/(2cND)) sum_i (1 - u_i^T s_i/||s_i||);
    * ``"thm2"``: (M^, Q^) from the N seen users, then L_unseen by ``n_new_users`` new users (direction
      drawn from the prototypes, m comparisons, w~ the best vertex); L_unseen(M*, Q*) = 1/2 - zeta_v/(2cD)
      (Q*_k = zeta_v p_k).  The new-user average is Monte Carlo (its standard error is returned).

    Returns the excess risks per trial, the printed bound (with L = 1/(2c)) and the violation rate
    (fraction of trials above the bound; <= delta when the theorem holds)."""
    if theorem not in ("thm1", "thm2", "prop_c4"):
        raise ValueError(f"theorem: expected 'thm1', 'thm2' or 'prop_c4', got {theorem!r}")
    N, m, D, K = (_pos_int(v, n) for v, n in ((N, "N"), (m, "m"), (D, "D"), (K, "K")))
    zeta_M, zeta_v = _pos(zeta_M, "zeta_M"), _pos(zeta_v, "zeta_v")
    c = _affine_c(zeta_M, zeta_v)
    L = 1 / (2 * c)
    if theorem == "thm1":
        bound = thm1_bound(N, m, D, K, zeta_M, zeta_v, L, delta)
    elif theorem == "thm2":
        bound = thm2_bound(N, m, D, K, zeta_M, zeta_v, L, delta)
    else:
        bound = prop_c4_bound(N, m, D, zeta_M=zeta_M, zeta_v=zeta_v, L=L, delta=delta)
    rng = np.random.default_rng(seed)
    excess, ses = [], []
    for _ in range(_pos_int(n_trials, "n_trials")):
        P = sample_sphere((K,), D, rng)
        z = rng.integers(0, K, size=N)
        u = P[z]
        x, xp = sample_sphere((N, m), D, rng), sample_sphere((N, m), D, rng)
        d = x - xp
        y = _labels(d, u[:, None, :], rng)
        s = np.einsum("ij,ijd->id", y, d)
        if theorem == "prop_c4":
            cos = np.einsum("id,id->i", u, s) / np.maximum(np.linalg.norm(s, axis=1), 1e-300)
            excess.append(float(zeta_v * np.sum(1 - cos) / (2 * c * N * D)))
            continue
        _, exact, _, groups = max_partition_norm(s, K)
        if not exact:
            raise ValueError("N: the exact ERM needs K^(N-1) <= 2e5 (lower N or K)")
        sums = _partition_sums(s, groups, K)
        Qh = zeta_v * sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-300)  # rows = Q_k
        if theorem == "thm1":
            opt = zeta_v * max_partition_norm(u, K)[0]
            got = float(np.einsum("id,id->", u, Qh[groups]))
            excess.append(float((opt - got) / (2 * c * N * D)))
            continue
        # Thm 2: new users, few-shot weights = the best vertex on their m comparisons
        zn = rng.integers(0, K, size=n_new_users)
        un = P[zn]
        xn, xpn = sample_sphere((n_new_users, m), D, rng), sample_sphere((n_new_users, m), D, rng)
        dn = xn - xpn
        yn = _labels(dn, un[:, None, :], rng)
        kh = np.argmax(np.einsum("uj,ujd,kd->uk", yn, dn, Qh), axis=1)
        gain = np.einsum("ud,ud->u", un, Qh[kh])
        excess.append(float((zeta_v - gain.mean()) / (2 * c * D)))
        ses.append(float(gain.std(ddof=1) / np.sqrt(n_new_users) / (2 * c * D)))
    excess = np.asarray(excess)
    out = {"excess": excess, "bound": float(bound), "L": float(L),
           "violation_rate": float(np.mean(excess > bound))}
    if ses:
        out["new_user_se"] = float(np.max(ses))
    return out


def lemma_c7_bound(N: int, K: int, zeta_M: float = 1.0, zeta_v: float = 1.0, L: float = 1.0,
                   delta: float = 0.05) -> float:
    """Seed 002 Lemma C.7, as printed: "With probability at least 1 - delta/2,
        sup_{M,Q} E_u[E_{S~P_u^m}[rho(S; M, Q)]] - (1/N) sum_i rho(S_i; M, Q)
            <= 18L sqrt((zeta_M^2 + K^2 zeta_v^2) / N) + 3 sqrt(log(4/delta) / (2N))",
    rho(S; M, Q) = min_{w in Delta^{K-1}} (1/m) sum_j l(y_j Phi(x_j; M, Q, w)).  (Its proof gives the
    constant 4 sqrt(2 pi) ~ 10.03 in place of 18.)"""
    N, K = _pos_int(N, "N"), _pos_int(K, "K")
    zeta_M, zeta_v, L = _pos(zeta_M, "zeta_M", True), _pos(zeta_v, "zeta_v", True), _pos(L, "L")
    return float(18 * L * np.sqrt((zeta_M**2 + K**2 * zeta_v**2) / N) + 3 * np.sqrt(np.log(4 / _delta(delta)) / (2 * N)))


def _affine_rho(y, am, qd, c):
    """rho(S_i; M_p, Q_p) for the affine loss: 1/2 - (1/(2c)) [mean_j y <A, M> + max_k mean_j y (Q^T d)_k]
    (the loss is affine in w, so the min over the simplex is attained at a vertex)."""
    return 0.5 - (y[None] * am).mean(axis=2) / (2 * c) - (y[None, :, :, None] * qd).mean(axis=2).max(axis=2) / (2 * c)


def _random_params(rng, n_params, D, K, zeta_M, zeta_v):
    Ms, Qs = [], []
    for _ in range(n_params):
        Bm = rng.normal(size=(D, D))
        M = Bm @ Bm.T
        Ms.append(zeta_M * rng.uniform(0.2, 1) * M / np.linalg.norm(M))
        Qs.append(sample_sphere((K,), D, rng, zeta_v) * rng.uniform(0.2, 1, size=(K, 1)))  # rows = Q_k
    return np.stack(Ms), np.stack(Qs)


def _users(rng, n, m, D, P):
    u = P[rng.integers(0, P.shape[0], size=n)]
    x, xp = sample_sphere((n, m), D, rng), sample_sphere((n, m), D, rng)
    d = x - xp
    A = np.einsum("ijd,ije->ijde", x, x) - np.einsum("ijd,ije->ijde", xp, xp)
    return A, d, _labels(d, u[:, None, :], rng)


def lemma_c7_experiment(N: int, m: int, D: int, K: int, n_params: int = 10, zeta_M: float = 1.0,
                        zeta_v: float = 1.0, delta: float = 0.05, n_trials: int = 40, n_pop: int = 20000,
                        seed: int = 0) -> dict:
    """Lemma C.7 on instances, with the affine loss (L = 1/(2c)) and the sup over a finite set of
    ``n_params`` (M, Q) (a sub-family of the lemma's, so its left side can only be smaller): users'
    directions are drawn from K random prototypes (the distribution eta), E_u E_S rho(S; M, Q) is estimated
    once from ``n_pop`` users, and each trial draws N users and takes the largest deviation
    E rho - (1/N) sum_i rho(S_i).  Returns the deviations, the printed bound and the violation rate
    (<= delta/2 when the lemma holds), and the population estimate's largest standard error."""
    N, m, D, K = (_pos_int(v, n) for v, n in ((N, "N"), (m, "m"), (D, "D"), (K, "K")))
    c = _affine_c(_pos(zeta_M, "zeta_M"), _pos(zeta_v, "zeta_v"))
    rng = np.random.default_rng(seed)
    P = sample_sphere((K,), D, rng)
    Ms, Qs = _random_params(rng, _pos_int(n_params, "n_params"), D, K, zeta_M, zeta_v)

    def rho(n):
        A, d, y = _users(rng, n, m, D, P)
        return _affine_rho(y, np.einsum("ijde,pde->pij", A, Ms), np.einsum("ijd,pkd->pijk", d, Qs), c)  # (p, n)

    pop = np.concatenate([rho(min(2000, n_pop - i)) for i in range(0, n_pop, 2000)], axis=1)
    Erho, se = pop.mean(axis=1), pop.std(axis=1, ddof=1) / np.sqrt(pop.shape[1])
    dev = np.array([float(np.max(Erho - rho(N).mean(axis=1))) for _ in range(_pos_int(n_trials, "n_trials"))])
    bound = lemma_c7_bound(N, K, zeta_M, zeta_v, 1 / (2 * c), delta)
    return {"deviation": dev, "bound": bound, "violation_rate": float(np.mean(dev > bound)),
            "population_se": float(se.max())}


def lemma_c9_bound(m: int, D: int, K: int, zeta_v: float = 1.0, L: float = 1.0) -> float:
    """Seed 002 Lemma C.9, as printed: "Suppose for any user, when drawing a sample, m pairs of items are
    independently drawn from Unif(S^{D-1}). Then,
        sup_{M,Q} E_u[E_{S~P_u^m}[E_{(x_l,x_r,y)~P_u}[l(y Phi(x; M, Q, w~_{S;M,Q}))] - rho(S; M, Q)]]
            <= 3L sqrt(K zeta_v^2 / (D m))."
    (Its proof gives 2 sqrt(2) L ~ 2.83 L; a Massart bound over the K vertices, which the seed does not use,
    would give the smaller 2 sqrt(2) L zeta_v sqrt(2 log K / (D m)).)"""
    m, D, K = _pos_int(m, "m"), _pos_int(D, "D"), _pos_int(K, "K")
    return float(3 * _pos(L, "L") * np.sqrt(K * _pos(zeta_v, "zeta_v", True) ** 2 / (D * m)))


def lemma_c9_gap(m: int, D: int, K: int, zeta_v: float = 1.0, zeta_M: float = 1.0, n_users: int = 20000,
                 n_Q: int = 4, seed: int = 0) -> dict:
    """The left side of Lemma C.9 on instances, with the affine loss of ``affine_loss_experiment``
    (L = 1/(2c)): for fixed (M, Q) the expected gap E_{u,S}[true risk of w~_S - rho(S)] equals
    (1/(2c)) E[max_k (1/m) sum_j y_j d_j^T Q_k - u^T Q_{k^}/D] (the metric part cancels in expectation),
    estimated over ``n_users`` users.  The sup over (M, Q) is taken over ``n_Q`` prototype matrices: K
    orthonormal columns of norm zeta_v (the worst case for a max over K coordinates) and random ones.
    Users' directions u are uniform on the sphere.  Returns the largest gap, its standard error and the
    printed bound with L = 1/(2c)."""
    m, D, K = _pos_int(m, "m"), _pos_int(D, "D"), _pos_int(K, "K")
    if K > D:
        raise ValueError(f"K: orthonormal prototypes need K <= D, got K={K}, D={D}")
    c = _affine_c(_pos(zeta_M, "zeta_M"), _pos(zeta_v, "zeta_v"))
    rng = np.random.default_rng(seed)
    best, best_se = -np.inf, 0.0
    for q in range(_pos_int(n_Q, "n_Q")):
        if q == 0:
            Q = zeta_v * np.linalg.qr(rng.normal(size=(D, K)))[0].T  # rows = Q_k
        else:
            Q = sample_sphere((K,), D, rng, zeta_v)
        u = sample_sphere((n_users,), D, rng)
        d = sample_sphere((n_users, m), D, rng) - sample_sphere((n_users, m), D, rng)
        y = _labels(d, u[:, None, :], rng)
        emp = np.einsum("uj,ujd,kd->uk", y, d, Q) / m
        kh = np.argmax(emp, axis=1)
        g = (emp[np.arange(n_users), kh] - np.einsum("ud,ud->u", u, Q[kh]) / D) / (2 * c)
        if g.mean() > best:
            best, best_se = float(g.mean()), _se(g)
    return {"gap": best, "stderr": best_se, "bound": lemma_c9_bound(m, D, K, zeta_v, 1 / (2 * c))}


def lemma_c8_check(N: int, m: int, D: int, K: int, n_params: int = 12, zeta_M: float = 1.0,
                   zeta_v: float = 1.0, n_mc: int = 4000, seed: int = 0) -> dict:
    """Seed 002 Lemma C.8 (via Sudakov-Fernique, Lemma C.12) on a finite set of (M, Q), with the affine loss
    (L = 1/(2c)).  As printed: "Given S_1, ..., S_N,
        E_eps[sup_{M,Q} (1/N) sum_i eps_i rho(S_i; M, Q)]
            <= (sqrt(2) L / sqrt(mN)) E_{gamma,sigma}[sup_{M,Q} (sum_ij gamma_ij <A_ij, M> + sum_ijk sigma_ijk (Q^T d_ij)_k)]"
    (eps, gamma, sigma standard normal).  The proof (Sudakov-Fernique, then eq. 17) gives the smaller
    factor sqrt(2) L / (sqrt(m) N) (``rhs_proof``); the printed sqrt(2) L / sqrt(mN) (``rhs_printed``) is
    larger by sqrt(N), so the statement is implied by its proof.  The proof's key step is the increment comparison eq. 18, summed
    over users: sum_i (rho_i - rho'_i)^2 <= (2L^2/m) sum_ij (<A_ij, M - M'>^2 + ||(Q - Q')^T d_ij||^2), which
    is checked *exactly* over all pairs of the finite set (``increment_margin`` >= 0); both expectations are
    Monte Carlo over ``n_mc`` draws with the exact max over the finite set."""
    N, m, D, K = (_pos_int(v, n) for v, n in ((N, "N"), (m, "m"), (D, "D"), (K, "K")))
    c = _affine_c(_pos(zeta_M, "zeta_M"), _pos(zeta_v, "zeta_v"))
    L = 1 / (2 * c)
    rng = np.random.default_rng(seed)
    x, xp = sample_sphere((N, m), D, rng), sample_sphere((N, m), D, rng)
    A = np.einsum("ijd,ije->ijde", x, x) - np.einsum("ijd,ije->ijde", xp, xp)
    d = x - xp
    y = _labels(d, sample_sphere((N,), D, rng)[:, None, :], rng)
    Ms, Qs = _random_params(rng, _pos_int(n_params, "n_params", 2), D, K, zeta_M, zeta_v)
    am = np.einsum("ijde,pde->pij", A, Ms)  # <A_ij, M_p>
    qd = np.einsum("ijd,pkd->pijk", d, Qs)  # (Q_p^T d_ij)_k
    # rho(S_i; M, Q) = min over the simplex = min over vertices (the loss is affine in w)
    rho = _affine_rho(y, am, qd, c)
    inc_y = ((rho[:, None] - rho[None, :]) ** 2).sum(axis=2)
    inc_w = (2 * L**2 / m) * (((am[:, None] - am[None, :]) ** 2).sum(axis=(2, 3))
                              + ((qd[:, None] - qd[None, :]) ** 2).sum(axis=(2, 3, 4)))
    eps = rng.normal(size=(n_mc, N))
    lhs = (eps @ rho.T).max(axis=1) / N
    gam = rng.normal(size=(n_mc, N * m))
    sg = rng.normal(size=(n_mc, N * m * K))
    wproc = gam @ am.reshape(am.shape[0], -1).T + sg @ qd.reshape(qd.shape[0], -1).T
    # Sudakov-Fernique gives E sup Y <= E sup W with W = (sqrt(2) L / sqrt(m)) (...), i.e. the factor
    # sqrt(2) L / (sqrt(m) N) after the 1/N of the lemma (also eq. 17); the statement prints
    # sqrt(2) L / sqrt(mN), larger by sqrt(N): the printed lemma is implied by its proof (looser)
    rhs = (np.sqrt(2) * L / (np.sqrt(m) * N)) * wproc.max(axis=1)
    return {"increment_margin": float(np.min(inc_w - inc_y)), "lhs": float(lhs.mean()), "lhs_se": _se(lhs),
            "rhs_proof": float(rhs.mean()), "rhs_proof_se": _se(rhs),
            "rhs_printed": float((np.sqrt(2) * L / np.sqrt(m * N)) * wproc.max(axis=1).mean())}


def doubled_normalization_counterexample(N: int, m: int, D: int, K: int, n_draws: int = 200, seed: int = 0) -> dict:
    """The proof of Thm 1 (eq. 10, step (a)) prints
        (*) <= (2L/(Nm)) E[ sup (1/(Nm)) sum_ij sigma_ij (<A_ij, M> + <d_ij, Q W_i>) ],
    with 1/(Nm) twice; the following line (b) and the rest of the proof use it once.  With the affine loss
    (L = 1/(2c)) the contraction is an equality, (*) = 2L E sup (1/(Nm)) sum sigma Phi, so the printed (a)
    reads (*) <= (*) / (Nm): false whenever Nm > 1.  Returns (*) by Monte Carlo (exact inner sup) and the
    printed right side of (a)."""
    est = rademacher_pal_a(N, m, D, K, n_draws=n_draws, seed=seed)
    L = 1 / (2 * _affine_c(1.0, 1.0))
    star = 2 * L * est.mean
    return {"star": star, "star_se": 2 * L * est.stderr, "printed_a_rhs": star / (N * m), "once_rhs": star}


# ---------------------------------------------------------------------------------------------------------
# sample complexity
# ---------------------------------------------------------------------------------------------------------


def sample_complexity(bound, eps: float, m_max: int = 10**15, **params) -> int:
    """The smallest number m of comparisons per user with bound(m=m, **params) <= eps (the bounds above are
    non-increasing in m); exponential search then bisection.  Returns -1 if not reached by ``m_max`` (e.g.
    Thm 2, whose first and last terms do not decay in m)."""
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
