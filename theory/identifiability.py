"""Identifiability of the random-coefficient logit (seed 001, section 4; Fox et al. 2012).

Seed 001 (Chidambaram et al., "Direct Preference Optimization With Unobserved Preference Heterogeneity")
models a population of users with taste vectors beta ~ f on R^d.  A choice set is n items with features
x_1..x_n in R^d; a user with taste beta picks item j with the logit probability softmax(X beta)_j, so the
population's aggregate choice probabilities are (eq. 5)

    p_f(y_j | x_1..x_n) = int softmax(X beta)_j f(beta) d beta.

What this module computes and checks:

* mixing distributions: finite mixtures of atoms and Gaussian mixtures, one class ``Mixing`` (an atom is a
  Gaussian component with zero covariance), integrated exactly (atoms) or by tensor Gauss-Hermite /
  randomized quasi-Monte Carlo with an error estimate (``choice_probabilities``);
* binary non-identifiability (Lemma 4.1 and beyond): with n = 2, p_f depends on f only through its odd part
  (f(beta) - f(-beta)) / 2 (``binary_probabilities_via_odd_part``), hence the constructors
  ``symmetric_vs_point_mass`` and ``even_perturbation`` of distinct distributions with identical binary
  probabilities, and ``witness_search`` for choice sets that tell two distributions apart;
* local identifiability of (atoms, weights): Jacobian rank, smallest singular value and Fisher
  information of one-choice-per-user data (``local_identifiability``), on the seed's MPI example;
* Lemma 4.3 (``recover_beta_from_binary``), the checkable hypotheses of Theorem 4.2
  (``theorem_4_2_conditions``: Carleman on the absolute moments of ||beta||, the open set as an interior
  point of the joint design, n >= 3; independence is the caller's statement) and the theorem's argument on
  instances (``logit_line_derivatives``, ``taylor_coefficients_at_zero``: at n = 2 the Taylor coefficients
  of p_f at 0 carry only the odd moments of f, at n >= 3 all of them).

Statements are quoted from seed 001 section 4 in the docstrings that implement them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import log_expit, logsumexp

from pluralign.theory.validation import as_finite_array, as_probability_vector

__all__ = [
    "Mixing",
    "finite_mixing",
    "gaussian_mixing",
    "point_mass",
    "mpi_example",
    "choice_probabilities",
    "binary_probabilities",
    "binary_probabilities_via_odd_part",
    "symmetrize",
    "symmetric_vs_point_mass",
    "even_perturbation",
    "random_design",
    "Witness",
    "witness_search",
    "choice_jacobian",
    "fisher_information",
    "LocalIdentifiability",
    "local_identifiability",
    "recover_beta_from_binary",
    "log_absolute_moments",
    "carleman_closed_form",
    "carleman_diagnostic",
    "mixing_absolute_moments",
    "open_set_at_zero",
    "inradius_at_zero",
    "logit_line_derivatives",
    "projection_moments",
    "taylor_coefficients_at_zero",
    "theorem_4_2_conditions",
]


# ---------------------------------------------------------------------------------------------------------
# mixing distributions
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mixing:
    """A finite mixture sum_m weights_m N(means_m, covs_m) on R^d; a zero covariance is an atom.

    ``signed=True`` allows negative weights (a signed measure such as an odd part); only integrals, not
    probabilities, are meaningful for it."""

    weights: np.ndarray  #: (M,) mixture weights (a probability vector unless signed)
    means: np.ndarray  #: (M, d) component means / atoms
    covs: np.ndarray  #: (M, d, d) component covariances (zeros for atoms)
    signed: bool = False  #: whether negative weights are allowed

    @property
    def d(self) -> int:
        return int(self.means.shape[1])

    @property
    def M(self) -> int:
        return int(self.means.shape[0])

    @property
    def is_finite(self) -> bool:
        """True when every component is an atom (zero covariance)."""
        return bool(np.all(self.covs == 0))

    def reflect(self) -> "Mixing":
        """The reflected distribution f^R(beta) = f(-beta)."""
        return replace(self, means=-self.means)

    def odd_part(self) -> "Mixing":
        """The signed measure (f - f^R) / 2."""
        return _combine([self, self.reflect()], [0.5, -0.5], signed=True)

    def even_part(self) -> "Mixing":
        """The symmetric distribution (f + f^R) / 2."""
        return _combine([self, self.reflect()], [0.5, 0.5], signed=self.signed)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` draws of beta (size x d)."""
        if self.signed:
            raise ValueError("self: cannot sample from a signed measure")
        comp = rng.choice(self.M, size=size, p=self.weights)
        z = rng.normal(size=(size, self.d))
        L = np.stack([_psd_sqrt(c) for c in self.covs])
        return self.means[comp] + np.einsum("sij,sj->si", L[comp], z)


def _combine(parts, coefs, signed: bool) -> Mixing:
    return Mixing(
        weights=np.concatenate([c * p.weights for p, c in zip(parts, coefs)]),
        means=np.concatenate([p.means for p in parts]),
        covs=np.concatenate([p.covs for p in parts]),
        signed=signed,
    )


def _psd_sqrt(C: np.ndarray) -> np.ndarray:
    """A matrix A with A A^T = C for a symmetric PSD C (eigendecomposition; handles singular C)."""
    if not np.any(C):
        return np.zeros_like(C)
    vals, vecs = np.linalg.eigh((C + C.T) / 2)
    return vecs * np.sqrt(np.clip(vals, 0, None))


def finite_mixing(atoms, weights) -> Mixing:
    """A finite mixture of point masses: beta = atoms[m] with probability weights[m]."""
    A = as_finite_array(atoms, "atoms", ndim=2)
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"atoms: need at least one atom of dimension >= 1, got shape {A.shape}")
    w = as_probability_vector(weights, "weights", size=A.shape[0])
    return Mixing(weights=w, means=A, covs=np.zeros((A.shape[0], A.shape[1], A.shape[1])))


def gaussian_mixing(means, covs, weights) -> Mixing:
    """A Gaussian mixture sum_m weights_m N(means_m, covs_m) (covariances PSD; zero = atom)."""
    mu = as_finite_array(means, "means", ndim=2)
    if mu.shape[0] == 0 or mu.shape[1] == 0:
        raise ValueError(f"means: need at least one component of dimension >= 1, got shape {mu.shape}")
    M, d = mu.shape
    C = as_finite_array(covs, "covs", ndim=3)
    if C.shape != (M, d, d):
        raise ValueError(f"covs: expected shape {(M, d, d)}, got {C.shape}")
    if not np.allclose(C, np.swapaxes(C, 1, 2), atol=1e-12):
        raise ValueError("covs: must be symmetric")
    if np.any(np.linalg.eigvalsh((C + np.swapaxes(C, 1, 2)) / 2) < -1e-10):
        raise ValueError("covs: must be positive semi-definite")
    w = as_probability_vector(weights, "weights", size=M)
    return Mixing(weights=w, means=mu, covs=C)


def point_mass(d: int, at=None) -> Mixing:
    """The point mass at ``at`` (default 0) in R^d."""
    if int(d) != d or d < 1:
        raise ValueError(f"d: must be a positive integer, got {d}")
    a = np.zeros((1, int(d))) if at is None else as_finite_array(at, "at", ndim=1).reshape(1, -1)
    if a.shape[1] != d:
        raise ValueError(f"at: expected length {d}, got {a.shape[1]}")
    return finite_mixing(a, [1.0])


def mpi_example() -> Mixing:
    """The MPI example of seed 001 (section 4): atoms P1 = (3, 0, 2, 0, -2.5), P2 = -P1, P3 = (0, 2, 0, 2, 0)
    with weights 0.3 / 0.3 / 0.4."""
    P1 = np.array([3.0, 0.0, 2.0, 0.0, -2.5])
    P3 = np.array([0.0, 2.0, 0.0, 2.0, 0.0])
    return finite_mixing(np.stack([P1, -P1, P3]), [0.3, 0.3, 0.4])


def _check_mixing(f, name: str) -> Mixing:
    if not isinstance(f, Mixing):
        raise ValueError(f"{name}: expected a theory.identifiability.Mixing, got {type(f).__name__}")
    return f


# ---------------------------------------------------------------------------------------------------------
# aggregate choice probabilities (eq. 5)
# ---------------------------------------------------------------------------------------------------------


def _check_sets(X, d: int, name: str = "X") -> np.ndarray:
    X = as_finite_array(X, name, ndim=3)
    S, n, dd = X.shape
    if S == 0:
        raise ValueError(f"{name}: needs at least one choice set")
    if n < 2:
        raise ValueError(f"{name}: a choice set needs n >= 2 items, got n = {n}")
    if dd != d:
        raise ValueError(f"{name}: items have {dd} features, the mixing distribution has d = {d}")
    return X


def _gh_nodes(order: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss-Hermite rule for E[g(Z)], Z ~ N(0, I_dim): nodes (Q, dim), weights (Q,)."""
    x, w = np.polynomial.hermite.hermgauss(order)
    x = x * np.sqrt(2.0)
    w = w / np.sqrt(np.pi)
    grids = np.meshgrid(*([x] * dim), indexing="ij")
    wgrids = np.meshgrid(*([w] * dim), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)
    return nodes, weights


def _qmc_normal(n_points: int, dim: int, seed: int) -> np.ndarray:
    from scipy.stats import norm, qmc

    u = qmc.Sobol(d=dim, scramble=True, seed=seed).random(n_points)
    return norm.ppf(np.clip(u, 1e-16, 1 - 1e-16))


def _log_softmax(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax along ``axis`` (numpy only: scipy's logsumexp costs ~1 ms a call in the hot loops)."""
    mx = np.max(a, axis=axis, keepdims=True)
    sh = a - mx
    return sh - np.log(np.sum(np.exp(sh), axis=axis, keepdims=True))


def _probs_given_normal_nodes(f: Mixing, X: np.ndarray, Z: np.ndarray, wz: np.ndarray) -> np.ndarray:
    """sum_m w_m sum_q wz_q softmax(delta_{m,q}) where delta = D(mu_m + A_m z_q) over item differences.

    Z: (Q, n-1) standard-normal nodes in the space of utility differences.  Atoms (zero covariance) are
    handled together and exactly."""
    S, n, d = X.shape
    out = np.zeros((S, n))
    atom = ~np.any(f.covs.reshape(f.M, -1) != 0, axis=1)
    if np.any(atom):
        U = np.einsum("snd,md->smn", X, f.means[atom])  # (S, M_atoms, n)
        out += np.einsum("m,smn->sn", f.weights[atom], np.exp(_log_softmax(U, axis=2)))
    if np.all(atom):
        return out
    D = X[:, 1:, :] - X[:, :1, :]  # (S, n-1, d) utility differences relative to item 0
    for m in np.flatnonzero(~atom):
        mean = D @ f.means[m]  # (S, n-1)
        cov = np.einsum("sid,de,sje->sij", D, f.covs[m], D)  # (S, n-1, n-1)
        vals, vecs = np.linalg.eigh(cov)
        A = vecs * np.sqrt(np.clip(vals, 0, None))[:, None, :]  # A A^T = cov
        delta = mean[:, None, :] + np.einsum("sij,qj->sqi", A, Z)  # (S, Q, n-1)
        full = np.concatenate([np.zeros(delta.shape[:2] + (1,)), delta], axis=2)  # (S, Q, n)
        out += f.weights[m] * np.einsum("q,sqn->sn", wz, np.exp(_log_softmax(full, axis=2)))
    return out


def choice_probabilities(f: Mixing, X, method: str = "auto", order: int = 20, n_qmc: int = 4096,
                         n_randomizations: int = 8, seed: int = 0, return_error: bool = False,
                         chunk: int = 512):
    """Aggregate choice probabilities p_f(y_j | X_s) of seed 001 eq. 5 for S choice sets at once.

    ``X`` is (S, n, d): S choice sets of n >= 2 items with d features; the result is (S, n).

    Integration: atoms are exact.  For Gaussian components the utility differences relative to item 0 are
    Gaussian in n - 1 dimensions, integrated by

    * "gh": tensor Gauss-Hermite with ``order`` nodes per dimension (order^(n-1) nodes).  The integrand is
      analytic in a strip, so the rule converges geometrically -- but slowly and not monotonically when
      the utility differences are spread widely.  The error estimate is the larger difference to the
      rules of orders ``order - order // 4`` and ``order // 2`` (a heuristic: on 150 random Gaussian
      mixtures it was never below the actual error, and 1.7x to 20x above it);
    * "qmc": scrambled Sobol' points (``n_qmc`` per randomization, ``n_randomizations`` independent
      scramblings); the estimate is the mean and the error estimate 3 standard errors across scramblings;
    * "auto": exact for finite mixtures, "gh" for n <= 4, else "qmc".

    With ``return_error`` returns (probabilities, error_estimate) where the estimate bounds the max
    absolute error over all sets and items (0 for exact integration)."""
    f = _check_mixing(f, "f")
    X = _check_sets(X, f.d)
    S, n, d = X.shape
    if method not in ("auto", "gh", "qmc"):
        raise ValueError(f"method: expected 'auto', 'gh' or 'qmc', got {method!r}")
    if int(order) != order or order < 2:
        raise ValueError(f"order: must be an integer >= 2, got {order}")
    if method == "auto":
        method = "exact" if f.is_finite else ("gh" if n <= 4 else "qmc")
    if f.is_finite:
        method = "exact"
    k = n - 1

    def run(Z, wz):
        return np.concatenate([_probs_given_normal_nodes(f, X[i:i + chunk], Z, wz)
                               for i in range(0, S, chunk)])

    if method == "exact":
        P = run(np.zeros((1, k)), np.ones(1))
        err = 0.0
    elif method == "gh":
        Z, wz = _gh_nodes(int(order), k)
        P = run(Z, wz)
        err = 0.0
        if return_error:
            for low in sorted({max(2, int(order) - int(order) // 4), max(2, int(order) // 2)}):
                Z2, wz2 = _gh_nodes(low, k)
                err = max(err, float(np.max(np.abs(P - run(Z2, wz2)))))
    else:
        if int(n_qmc) != n_qmc or n_qmc < 2 or int(n_randomizations) < 2:
            raise ValueError("n_qmc: need n_qmc >= 2 points and n_randomizations >= 2")
        reps = [run(_qmc_normal(int(n_qmc), k, seed + r), np.full(int(n_qmc), 1.0 / n_qmc))
                for r in range(int(n_randomizations))]
        R = np.stack(reps)
        P = R.mean(axis=0)
        err = float(3.0 * np.max(R.std(axis=0, ddof=1)) / np.sqrt(len(reps)))
    return (P, err) if return_error else P


def binary_probabilities(f: Mixing, U, **kwargs) -> np.ndarray:
    """P(item 1 preferred to item 2) = int sigma(u^T beta) f(beta) d beta for rows u = x_1 - x_2 of ``U``
    (S x d): the n = 2 case of eq. 5 (seed 001)."""
    f = _check_mixing(f, "f")
    U = as_finite_array(U, "U", ndim=2)
    if U.shape[1] != f.d:
        raise ValueError(f"U: rows need d = {f.d} entries, got {U.shape[1]}")
    X = np.stack([U, np.zeros_like(U)], axis=1)
    return choice_probabilities(f, X, **kwargs)[:, 0]


def binary_probabilities_via_odd_part(f: Mixing, U, order: int = 40) -> np.ndarray:
    """1/2 + int (sigma(u^T beta) - 1/2) f_odd(beta) d beta with f_odd = (f - f^R)/2 (seed 001 Lemma 4.1 and
    its generalization): an independent route to the binary probabilities that uses only the odd part
    of f, integrated component-wise with 1-d Gauss-Hermite (exact for atoms)."""
    f = _check_mixing(f, "f")
    U = as_finite_array(U, "U", ndim=2)
    if U.shape[1] != f.d:
        raise ValueError(f"U: rows need d = {f.d} entries, got {U.shape[1]}")
    g = f.odd_part()
    x, w = np.polynomial.hermite.hermgauss(order)
    x, w = x * np.sqrt(2.0), w / np.sqrt(np.pi)
    out = np.full(U.shape[0], 0.5)
    for m in range(g.M):
        mean = U @ g.means[m]
        sd = np.sqrt(np.clip(np.einsum("sd,de,se->s", U, g.covs[m], U), 0, None))
        t = mean[:, None] + sd[:, None] * x[None, :]
        out += g.weights[m] * ((np.exp(log_expit(t)) - 0.5) @ w)
    return out


# ---------------------------------------------------------------------------------------------------------
# distinct distributions with identical binary probabilities
# ---------------------------------------------------------------------------------------------------------


def symmetrize(f: Mixing) -> Mixing:
    """(f + f^R)/2: a symmetric distribution; all its binary probabilities are 1/2 (seed 001 Lemma 4.1)."""
    return _check_mixing(f, "f").even_part()


def symmetric_vs_point_mass(f: Mixing) -> tuple[Mixing, Mixing]:
    """A binary-equivalent pair (seed 001 Lemma 4.1): the symmetrization of ``f`` and the point mass at 0.
    Both give every binary comparison probability 1/2, yet they differ (for f != delta_0) at n = 3."""
    f = _check_mixing(f, "f")
    return symmetrize(f), point_mass(f.d)


def _symmetric_submeasure(f: Mixing, atol: float = 1e-12) -> np.ndarray:
    """Per-component weights s_m of the largest symmetric sub-mixture of f: a component (mu, Sigma) keeps
    min(total weight at (mu, Sigma), total weight at (-mu, Sigma)), split over its copies."""
    s = np.zeros(f.M)
    for m in range(f.M):
        same = [j for j in range(f.M)
                if np.allclose(f.means[j], f.means[m], atol=atol) and np.allclose(f.covs[j], f.covs[m], atol=atol)]
        mirror = [j for j in range(f.M)
                  if np.allclose(f.means[j], -f.means[m], atol=atol) and np.allclose(f.covs[j], f.covs[m], atol=atol)]
        w_same = f.weights[same].sum()
        w_mirror = f.weights[mirror].sum()
        s[m] = min(w_same, w_mirror) * f.weights[m] / w_same if w_same > 0 else 0.0
    return s


def even_perturbation(f: Mixing, t: float = 0.5, to=None, to_cov=None, seed: int = 0) -> Mixing:
    """f + g with g even, of zero total mass and f + g >= 0: same binary probabilities as f (seed 001
    section 4: binary probabilities see only the odd part).

    g = t * (m_s * (N(c, C) + N(-c, C)) / 2 - s), where s is the largest symmetric sub-mixture of ``f``
    (pairs of components (mu, Sigma), (-mu, Sigma), and components at mu = 0) of mass m_s; 0 < t <= 1 keeps
    f + g >= 0.  ``to`` = c (default: a random point of norm 1 + max|mean|) and ``to_cov`` = C (default: that
    of the first symmetric component).  Raises ValueError if f has no symmetric sub-mixture (then no even
    zero-mass perturbation inside the family keeps f non-negative); mix f with any symmetric
    distribution first, e.g. ``_combine([f, symmetrize(f)], [.5, .5], False)``."""
    f = _check_mixing(f, "f")
    t = float(t)
    if not (0 < t <= 1):
        raise ValueError(f"t: must lie in (0, 1], got {t}")
    s = _symmetric_submeasure(f)
    ms = float(s.sum())
    if ms <= 1e-12:
        raise ValueError("f: has no symmetric sub-mixture, so no even zero-mass perturbation keeps it non-negative")
    rng = np.random.default_rng(seed)
    if to is None:
        c = rng.normal(size=f.d)
        c *= (1.0 + np.abs(f.means).max()) / np.linalg.norm(c)
    else:
        c = as_finite_array(to, "to", ndim=1)
        if c.shape[0] != f.d:
            raise ValueError(f"to: expected length {f.d}, got {c.shape[0]}")
    C = f.covs[int(np.argmax(s > 0))] if to_cov is None else as_finite_array(to_cov, "to_cov", ndim=2)
    if C.shape != (f.d, f.d):
        raise ValueError(f"to_cov: expected shape {(f.d, f.d)}, got {C.shape}")
    w = np.concatenate([f.weights - t * s, [t * ms / 2, t * ms / 2]])
    means = np.concatenate([f.means, c[None], -c[None]])
    covs = np.concatenate([f.covs, C[None], C[None]])
    keep = w > 1e-15
    w = np.clip(w[keep], 0, None)
    return Mixing(weights=w / w.sum(), means=means[keep], covs=covs[keep])


# ---------------------------------------------------------------------------------------------------------
# witness search
# ---------------------------------------------------------------------------------------------------------


def random_design(n: int, d: int, n_sets: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """``n_sets`` choice sets of ``n`` items with iid N(0, scale^2) features: an (n_sets, n, d) array."""
    for name, v in (("n", n), ("d", d), ("n_sets", n_sets)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name}: must be a positive integer, got {v}")
    if n < 2:
        raise ValueError(f"n: a choice set needs n >= 2 items, got {n}")
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale: must be positive, got {scale}")
    return scale * np.random.default_rng(seed).normal(size=(int(n_sets), int(n), int(d)))


@dataclass
class Witness:
    """The choice set on which two mixing distributions' eq. 5 probabilities differ most."""

    max_diff: float  #: max_j |p_f(y_j | X) - p_g(y_j | X)| at the best set
    X: np.ndarray  #: (n, d) the best choice set found
    p_f: np.ndarray  #: (n,) probabilities under f there
    p_g: np.ndarray  #: (n,) probabilities under g there
    n_sets: int  #: random sets screened (before local refinement)
    integration_error: float  #: error estimate of the integration (0 for finite mixtures)


def witness_search(f: Mixing, g: Mixing, n: int, n_sets: int = 2000, seed: int = 0,
                   scales=(0.1, 0.3, 1.0, 3.0), refine: int = 2, order: int = 16,
                   max_evals: int = 400) -> Witness:
    """Search choice sets of size ``n`` for the largest difference between the aggregate probabilities
    (eq. 5, seed 001) under ``f`` and ``g``: random screening at several feature scales, then Nelder-Mead
    refinement (at most ``max_evals`` evaluations each) of the ``refine`` best sets.  For a binary-equivalent pair the result is ~0 (<= 1e-12) at
    n = 2 and clearly positive at n = 3 (seed 001 section 4)."""
    from scipy.optimize import minimize

    f = _check_mixing(f, "f")
    g = _check_mixing(g, "g")
    if f.d != g.d:
        raise ValueError(f"g: dimension {g.d} differs from f's {f.d}")
    scales = np.atleast_1d(np.asarray(scales, dtype=float))
    if scales.size == 0 or np.any(scales <= 0):
        raise ValueError("scales: need at least one positive feature scale")
    per = max(1, int(n_sets) // scales.size)
    X = np.concatenate([random_design(n, f.d, per, seed=seed + i, scale=s) for i, s in enumerate(scales)])
    Pf, ef = choice_probabilities(f, X, order=order, return_error=True)
    Pg, eg = choice_probabilities(g, X, order=order, return_error=True)
    diff = np.abs(Pf - Pg).max(axis=1)
    best = np.argsort(diff)[::-1][: max(int(refine), 1)]
    bestX, bestd = X[best[0]], float(diff[best[0]])

    def neg(v):
        Xs = v.reshape(1, n, f.d)
        return -float(np.abs(choice_probabilities(f, Xs, order=order)
                             - choice_probabilities(g, Xs, order=order)).max())

    if refine > 0 and bestd > 1e-9:
        for i in best:
            res = minimize(neg, X[i].ravel(), method="Nelder-Mead",
                           options={"maxfev": int(max_evals), "xatol": 1e-6, "fatol": 1e-12})
            if -res.fun > bestd:
                bestd, bestX = float(-res.fun), res.x.reshape(n, f.d)
    pf = choice_probabilities(f, bestX[None], order=order)[0]
    pg = choice_probabilities(g, bestX[None], order=order)[0]
    return Witness(max_diff=float(np.abs(pf - pg).max()), X=bestX, p_f=pf, p_g=pg, n_sets=int(X.shape[0]),
                   integration_error=float(ef + eg))


# ---------------------------------------------------------------------------------------------------------
# local identifiability of (atoms, weights)
# ---------------------------------------------------------------------------------------------------------


def _check_atoms_weights(atoms, weights):
    A = as_finite_array(atoms, "atoms", ndim=2)
    if A.shape[0] == 0:
        raise ValueError("atoms: need at least one atom")
    w = as_probability_vector(weights, "weights", size=A.shape[0])
    return A, w


def choice_jacobian(atoms, weights, X) -> np.ndarray:
    """Jacobian of theta -> (p(y_j | X_s))_{s, j} for a finite mixture (eq. 5, seed 001), with
    theta = (atoms.ravel(), w_1..w_{M-1}) and w_M = 1 - sum of the others (the simplex's free
    coordinates).  Rows: S * n (set-major); columns: M * d + M - 1.

    d softmax_j(X b) / d b = s_j (x_j - sum_l s_l x_l)."""
    A, w = _check_atoms_weights(atoms, weights)
    M, d = A.shape
    X = _check_sets(X, d)
    S, n, _ = X.shape
    U = np.einsum("snd,md->smn", X, A)
    P = np.exp(_log_softmax(U, axis=2))  # (S, M, n)
    xbar = np.einsum("smn,snd->smd", P, X)
    dA = w[None, :, None, None] * P[..., None] * (X[:, None, :, :] - xbar[:, :, None, :])  # (S, M, n, d)
    J_atoms = np.transpose(dA, (0, 2, 1, 3)).reshape(S * n, M * d)
    J_w = (P[:, :M - 1, :] - P[:, M - 1:, :]).transpose(0, 2, 1).reshape(S * n, M - 1)
    return np.hstack([J_atoms, J_w])


def fisher_information(atoms, weights, X) -> np.ndarray:
    """Per-user Fisher information of theta = (atoms, free weights) when each user answers one choice
    set drawn uniformly from the design ``X`` once (seed 001 section 4: only the aggregate probabilities
    of eq. 5 are identified from such data):  I = mean_s sum_j grad p_sj grad p_sj^T / p_sj."""
    A, w = _check_atoms_weights(atoms, weights)
    X = _check_sets(X, A.shape[1])
    S, n, _ = X.shape
    J = choice_jacobian(A, w, X)
    U = np.einsum("snd,md->smn", X, A)
    P = np.einsum("m,smn->sn", w, np.exp(_log_softmax(U, axis=2))).reshape(S * n)
    return (J / P[:, None]).T @ J / S


@dataclass
class LocalIdentifiability:
    """Rank diagnostics of the Jacobian of (atoms, weights) -> eq. 5 probabilities over a design."""

    n: int  #: choice-set size
    n_params: int  #: M * d + M - 1
    rank: int  #: numerical rank (singular values > rtol * largest)
    singular_values: np.ndarray  #: all singular values, descending
    smallest_singular_value: float  #: the smallest one (0 up to rounding when rank-deficient)
    fisher_min_eig: float  #: smallest eigenvalue of the per-user Fisher information
    null_space: np.ndarray  #: (n_params, n_params - rank) orthonormal basis of the unidentified directions

    @property
    def full_rank(self) -> bool:
        return self.rank == self.n_params


def local_identifiability(atoms, weights, n: int, n_sets: int = 400, seed: int = 0, scale: float = 0.5,
                          rtol: float = 1e-8, X=None) -> LocalIdentifiability:
    """Local identifiability of a finite mixture's (atoms, weights) from set-size-``n`` aggregate choice
    probabilities (seed 001 section 4; the parametric counterpart of Lemma 4.1 / Thm. 4.2).

    With n = 2 the probabilities depend on f only through its odd part, so e.g. a symmetric pair of atoms
    (beta, -beta) with equal weights contributes nothing and moving the pair symmetrically,
    (beta, -beta) -> (beta + v, -beta - v), leaves every binary probability unchanged: the Jacobian has
    those d directions in its null space.  With n >= 3 they are seen.  The design is ``X`` or
    ``n_sets`` random sets (``random_design``) of feature scale ``scale``."""
    A, w = _check_atoms_weights(atoms, weights)
    M, d = A.shape
    if X is None:
        X = random_design(n, d, n_sets, seed=seed, scale=scale)
    X = _check_sets(X, d)
    if X.shape[1] != n:
        raise ValueError(f"X: choice sets have {X.shape[1]} items, n = {n}")
    J = choice_jacobian(A, w, X)
    _, sv, Vt = np.linalg.svd(J, full_matrices=True)
    sv_full = np.zeros(J.shape[1])
    sv_full[: sv.size] = sv
    rank = int(np.sum(sv_full > rtol * sv_full[0])) if sv_full[0] > 0 else 0
    I = fisher_information(A, w, X)
    return LocalIdentifiability(
        n=int(n), n_params=J.shape[1], rank=rank, singular_values=sv_full,
        smallest_singular_value=float(sv_full[-1]), fisher_min_eig=float(np.linalg.eigvalsh(I)[0]),
        null_space=Vt[rank:].T,
    )


# ---------------------------------------------------------------------------------------------------------
# Lemma 4.3
# ---------------------------------------------------------------------------------------------------------


def recover_beta_from_binary(U, probs, rtol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Seed 001 Lemma 4.3: one user's taste beta from noise-free binary comparison probabilities.

    Each row u_r of ``U`` is a comparison (x_{r,1} - x_{r,2}) and probs_r = sigma(u_r^T beta), so
    logit(probs) = U beta.  If U has full column rank, beta = U^+ logit(probs) exactly; otherwise beta is
    determined only up to the null space of U.  Returns (beta_hat, null_basis) where beta_hat is the
    minimum-norm solution and null_basis (d x (d - rank)) spans the unidentified directions (empty when
    U has full column rank)."""
    U = as_finite_array(U, "U", ndim=2)
    p = as_finite_array(probs, "probs", ndim=1)
    if p.shape[0] != U.shape[0]:
        raise ValueError(f"probs: expected {U.shape[0]} probabilities (one per row of U), got {p.shape[0]}")
    if np.any(p <= 0) or np.any(p >= 1):
        raise ValueError("probs: noise-free logit probabilities lie strictly in (0, 1)")
    y = np.log(p) - np.log1p(-p)
    _, sv, Vt = np.linalg.svd(U, full_matrices=True)
    rank = int(np.sum(sv > rtol * sv[0])) if sv.size and sv[0] > 0 else 0
    beta = np.linalg.lstsq(U, y, rcond=rtol)[0]
    return beta, Vt[rank:].T


# ---------------------------------------------------------------------------------------------------------
# Theorem 4.2's conditions
# ---------------------------------------------------------------------------------------------------------

_FAMILIES = ("normal", "uniform", "exponential", "lognormal")


def _family_params(family: str, params: dict) -> dict:
    if family not in _FAMILIES:
        raise ValueError(f"family: expected one of {_FAMILIES}, got {family!r}")
    allowed = {"normal": {"sigma"}, "uniform": {"a", "b"}, "exponential": {"rate"}, "lognormal": {"mu", "sigma"}}[family]
    extra = set(params) - allowed
    if extra:
        raise ValueError(f"{sorted(extra)[0]}: not a parameter of the {family} family ({sorted(allowed)})")
    if family == "normal":
        out = {"sigma": float(params.get("sigma", 1.0))}
    elif family == "uniform":
        out = {"a": float(params.get("a", -1.0)), "b": float(params.get("b", 1.0))}
        if not out["b"] > out["a"]:
            raise ValueError("b: need b > a")
        return out
    elif family == "exponential":
        out = {"rate": float(params.get("rate", 1.0))}
    else:
        out = {"mu": float(params.get("mu", 0.0)), "sigma": float(params.get("sigma", 1.0))}
    for k in ("sigma", "rate"):
        if k in out and not out[k] > 0:
            raise ValueError(f"{k}: must be positive")
    return out


def log_absolute_moments(family: str, lmax: int, **params) -> np.ndarray:
    """log m_l = log E|X|^l, l = 1..lmax, in closed form for X ~ normal(sigma) (centred:
    sigma^l 2^(l/2) Gamma((l+1)/2) / sqrt(pi)), uniform(a, b) (int_a^b |x|^l dx / (b - a)),
    exponential(rate) (l! / rate^l) and lognormal(mu, sigma) (exp(l mu + l^2 sigma^2 / 2)): the absolute
    moments that Thm 4.2's Carleman condition is stated in."""
    from scipy.special import gammaln

    pr = _family_params(family, params)
    if int(lmax) != lmax or lmax < 1:
        raise ValueError(f"lmax: must be a positive integer, got {lmax}")
    l = np.arange(1, int(lmax) + 1, dtype=float)
    if family == "normal":
        return l * np.log(pr["sigma"]) + (l / 2) * np.log(2) + gammaln((l + 1) / 2) - 0.5 * np.log(np.pi)
    if family == "uniform":
        a, b = pr["a"], pr["b"]
        with np.errstate(divide="ignore"):
            la, lb = np.log(abs(a)), np.log(abs(b))
        if a >= 0 or b <= 0:  # one-signed support: (|hi|^(l+1) - |lo|^(l+1)) / ((l+1)(b-a))
            hi, lo = (lb, la) if a >= 0 else (la, lb)
            with np.errstate(divide="ignore"):
                top = (l + 1) * hi + np.log1p(-np.exp((l + 1) * (lo - hi)))
        else:
            top = np.logaddexp((l + 1) * lb, (l + 1) * la)
        return top - np.log(l + 1) - np.log(b - a)
    if family == "exponential":
        return gammaln(l + 1) - l * np.log(pr["rate"])
    return l * pr["mu"] + l**2 * pr["sigma"] ** 2 / 2


def carleman_closed_form(family: str, lmax: int = 200, **params) -> dict:
    """Carleman's condition of seed 001 Thm 4.2, "sum_{l >= 1} m_l^{-1/l} = infinity" for the absolute
    moments m_l, decided in closed form by a comparison series computed from the parameters:

    * normal(sigma): m_l^(1/l) <= sigma sqrt(l + 1), so the terms are >= 1 / (sigma sqrt(l + 1)): diverges;
    * uniform(a, b): m_l^(1/l) <= max(|a|, |b|): the terms are bounded below: diverges;
    * exponential(rate): m_l^(1/l) <= l / rate (l! <= l^l): terms >= rate / l, harmonic: diverges;
    * lognormal(mu, sigma): m_l^(1/l) = exp(mu + l sigma^2 / 2) exactly: a geometric series with sum
      exp(-mu - sigma^2/2) / (1 - exp(-sigma^2/2)) < infinity: Carleman FAILS (and the lognormal is indeed
      not determined by its moments, Heyde 1963).

    Returns {"holds", "root_bound" (the comparison value of m_l^(1/l), l = 1..lmax: an upper bound, exact
    for the lognormal), "series_sum" (the lognormal's finite sum, inf otherwise)}."""
    pr = _family_params(family, params)
    l = np.arange(1, int(lmax) + 1, dtype=float)
    if family == "normal":
        return {"holds": True, "root_bound": pr["sigma"] * np.sqrt(l + 1), "series_sum": np.inf}
    if family == "uniform":
        return {"holds": True, "root_bound": np.full(l.shape, max(abs(pr["a"]), abs(pr["b"]))), "series_sum": np.inf}
    if family == "exponential":
        return {"holds": True, "root_bound": l / pr["rate"], "series_sum": np.inf}
    r = np.exp(-pr["sigma"] ** 2 / 2)
    return {"holds": False, "root_bound": np.exp(pr["mu"] + l * pr["sigma"] ** 2 / 2),
            "series_sum": float(np.exp(-pr["mu"]) * r / (1 - r))}


def carleman_diagnostic(log_moments, tail: float = 0.5) -> dict:
    """A numeric diagnostic of Carleman's condition from finitely many absolute moments.

    ``log_moments[l-1]`` = log m_l, l = 1..L.  The terms t_l = m_l^(-1/l) are computed in log space; the
    tail exponent a = -slope of log t_l against log l over the last ``tail`` fraction of l estimates
    t_l ~ l^(-a).  Verdict "diverges" (Carleman holds) if a <= 1.05, "converges" (fails) otherwise.  A
    heuristic: a finite moment sequence never decides the question (e.g. t_l = 1/(l log^2 l) converges with
    a -> 1); on 60 moments it separates the closed-form families above, except the lognormal with
    sigma < 0.5, whose geometric decay exp(-l sigma^2 / 2) is too slow to show (``carleman_closed_form``
    decides that case)."""
    lm = as_finite_array(log_moments, "log_moments", ndim=1)
    L = lm.shape[0]
    if L < 8:
        raise ValueError(f"log_moments: need at least 8 moments, got {L}")
    l = np.arange(1, L + 1, dtype=float)
    log_t = -lm / l
    start = int(L * (1 - tail))
    a = float(-np.polyfit(np.log(l[start:]), log_t[start:], 1)[0])
    return {"tail_exponent": a, "partial_sum": float(np.exp(logsumexp(log_t))), "last_term": float(np.exp(log_t[-1])),
            "holds": bool(a <= 1.05)}


def mixing_absolute_moments(f: Mixing, lmax: int) -> tuple[np.ndarray, bool]:
    """log of the absolute moments m_l = E||beta||^l, l = 1..lmax, of a (non-signed) mixing distribution, as
    Thm 4.2 states Carleman's condition: exact for atoms (sum_k w_k ||beta_k||^l); for a Gaussian component
    N(mu, C) the Minkowski upper bound (E||beta||^l)^(1/l) <= ||mu|| + sqrt(lambda_max(C)) (E||z||^l)^(1/l),
    E||z||^l = 2^(l/2) Gamma((d + l)/2) / Gamma(d/2) -- an upper bound on m_l, which is the direction that
    certifies divergence of sum m_l^(-1/l).  Returns (log m_l or its upper bound, exact)."""
    from scipy.special import gammaln

    f = _check_mixing(f, "f")
    if f.signed:
        raise ValueError("f: moments of a signed measure are not a moment sequence")
    if int(lmax) != lmax or lmax < 1:
        raise ValueError(f"lmax: must be a positive integer, got {lmax}")
    l = np.arange(1, int(lmax) + 1, dtype=float)
    d = f.d
    comps = []
    for w, mu, C in zip(f.weights, f.means, f.covs):
        if w == 0:
            continue
        lam = float(np.linalg.eigvalsh((C + C.T) / 2)[-1]) if np.any(C) else 0.0
        nz = (l / 2) * np.log(2) + gammaln((d + l) / 2) - gammaln(d / 2)
        root = np.linalg.norm(mu) + np.sqrt(max(lam, 0.0)) * np.exp(nz / l)
        with np.errstate(divide="ignore"):
            comps.append(np.log(w) + l * np.log(root))
    return logsumexp(np.stack(comps), axis=0), bool(f.is_finite)


def open_set_at_zero(design) -> dict:
    """Thm 4.2's "The feature vectors psi(x, y_i) for each alternative i in {1, ..., n} take on support in
    an open set containing psi(x, y_i) = 0 for all i", on a finite design (S, n, d): each choice set is one
    point (x_1, ..., x_n) of R^(n d), and the finite-sample proxy is that 0 is an *interior* point of the
    convex hull of these S points -- the design spans R^(n d) affinely and 0 is a strictly positive convex
    combination of them (an LP: max t s.t. sum_s lambda_s P_s = 0, sum lambda = 1, lambda >= t).  A support
    containing a ball around 0 passes for large S; a design of fewer than n d + 1 sets never does.  Returns
    {"interior", "margin" (the LP's t), "affine_rank", "dimension"}."""
    from scipy.optimize import linprog

    X = as_finite_array(design, "design", ndim=3)
    S, n, d = X.shape
    P = X.reshape(S, n * d)
    dim = n * d
    rank = int(np.linalg.matrix_rank(P - P.mean(axis=0))) if S > 1 else 0
    margin = 0.0
    if rank == dim:
        c = np.zeros(S + 1)
        c[-1] = -1.0
        A_eq = np.zeros((dim + 1, S + 1))
        A_eq[:dim, :S] = P.T
        A_eq[dim, :S] = 1.0
        b_eq = np.zeros(dim + 1)
        b_eq[dim] = 1.0
        A_ub = np.hstack([-np.eye(S), np.ones((S, 1))])  # t - lambda_s <= 0
        res = linprog(c, A_ub=A_ub, b_ub=np.zeros(S), A_eq=A_eq, b_eq=b_eq,
                      bounds=[(0, None)] * S + [(None, None)], method="highs")
        margin = float(res.x[-1]) if res.status == 0 else 0.0
    return {"interior": bool(rank == dim and margin > 1e-12), "margin": margin, "affine_rank": rank, "dimension": dim}


def inradius_at_zero(points) -> float:
    """The largest r such that the ball B(0, r) lies in the convex hull of ``points`` (P x d); 0 if 0 is
    not interior (Qhull facets)."""
    from scipy.spatial import ConvexHull, QhullError

    P = as_finite_array(points, "points", ndim=2)
    if P.shape[0] <= P.shape[1]:
        return 0.0
    if P.shape[1] == 1:
        return float(max(0.0, min(P.max(), -P.min())))
    try:
        hull = ConvexHull(P)
    except QhullError:
        return 0.0  # degenerate (lower-dimensional) point cloud: no open set
    return float(max(0.0, np.min(-hull.equations[:, -1])))


def logit_line_derivatives(n: int, kmax: int) -> list:
    """The exact derivatives g_k = d^k/ds^k [1 / (1 + (n - 1) e^s)] at s = 0, k = 0..kmax, as fractions.

    They carry Thm 4.2's argument for n >= 3 (Fox et al. 2012), on instances: put x_1 = 0 and
    x_2 = ... = x_n = s u; then p_f(y_1 | x) = E_f[1 / (1 + (n - 1) e^(s u^T beta))] and, differentiating
    under the integral (the derivatives of the integrand are bounded), the k-th derivative at s = 0 is
    g_k E_f[(u^T beta)^k].  So the k-th moments of every projection u^T beta -- hence, by polarization,
    all moments of f -- are determined by p_f near 0 whenever g_k != 0.  For n = 2, g(s) = 1 - sigma(s)
    and sigma - 1/2 is odd: g_k = 0 for every even k >= 2, only the odd moments are seen (which is why a
    symmetric f and delta_0 agree, Lemma 4.1).  For n = 3, 4, ... g_k != 0 for every k checked.
    Computed with u = sigma(s + log(n - 1)), u' = u (1 - u): d^k u / ds^k = P_k(u), P_{k+1} = P_k' u (1 - u)."""
    from fractions import Fraction

    if int(n) != n or n < 2:
        raise ValueError(f"n: a choice set needs n >= 2 items, got {n}")
    if int(kmax) != kmax or kmax < 0:
        raise ValueError(f"kmax: must be an integer >= 0, got {kmax}")
    c = int(n) - 1
    u0 = Fraction(c, 1 + c)
    poly = [Fraction(0), Fraction(1)]  # P_0(u) = u, coefficients in increasing powers
    out = []
    for k in range(int(kmax) + 1):
        val = sum(coef * u0**i for i, coef in enumerate(poly))
        out.append((1 - val) if k == 0 else -val)
        dp = [i * poly[i] for i in range(1, len(poly))]  # P_k'
        nxt = [Fraction(0)] * (len(dp) + 2)
        for i, coef in enumerate(dp):  # times u - u^2
            nxt[i + 1] += coef
            nxt[i + 2] -= coef
        poly = nxt
    return out


def projection_moments(f: Mixing, u, kmax: int) -> np.ndarray:
    """E_f[(u^T beta)^k], k = 0..kmax, exactly: u^T beta is a mixture of normals N(u^T mu, u^T C u) (atoms
    when C = 0), whose raw moments are sum_{i even} C(k, i) mean^(k - i) var^(i/2) (i - 1)!!."""
    from math import comb

    f = _check_mixing(f, "f")
    u = as_finite_array(u, "u", ndim=1)
    if u.shape[0] != f.d:
        raise ValueError(f"u: expected length {f.d}, got {u.shape[0]}")
    mean = f.means @ u
    var = np.einsum("d,mde,e->m", u, f.covs, u)
    out = np.zeros(int(kmax) + 1)
    for k in range(int(kmax) + 1):
        tot = np.zeros_like(mean)
        for i in range(0, k + 1, 2):
            dfact = float(np.prod(np.arange(i - 1, 0, -2))) if i > 0 else 1.0
            tot = tot + comb(k, i) * mean ** (k - i) * var ** (i / 2) * dfact
        out[k] = float(f.weights @ tot)
    return out


def taylor_coefficients_at_zero(f: Mixing, u, n: int, kmax: int) -> np.ndarray:
    """The Taylor coefficients a_k = g_k E_f[(u^T beta)^k] / k!, k = 0..kmax, of
    s -> p_f(y_1 | x_1 = 0, x_2 = ... = x_n = s u) (``logit_line_derivatives``)."""
    from math import factorial

    g = logit_line_derivatives(n, kmax)
    mom = projection_moments(f, u, kmax)
    return np.array([float(g[k]) * mom[k] / factorial(k) for k in range(int(kmax) + 1)])


def theorem_4_2_conditions(n: int, f: Mixing | None = None, design=None, independent: bool | None = None,
                           lmax: int = 60) -> dict:
    """What of seed 001 Thm 4.2's hypotheses can be checked, checked. The theorem as printed:

        "If the following conditions hold: - The absolute moments of f, given by m_l = int ||beta||^l
        f(beta) dbeta, are finite for l >= 1 and satisfy the Carleman condition: sum_{l>=1} m_l^{-1/l} =
        infinity. - The feature vectors psi(x, y_i) for each alternative i in {1, ..., n} take on support
        in an open set containing psi(x, y_i) = 0 for all i. - beta is independent of the features
        psi(x, y_i). - n >= 3 (at least 3 alternatives in the choice set). Then the density f(beta) is
        nonparametrically identified in the random coefficients logit model from equation (5)."

    * ``n_ge_3``: n >= 3;
    * ``carleman`` (with ``f``): ``carleman_diagnostic`` on ``mixing_absolute_moments`` (absolute moments of
      ||beta||, exact for atoms, an upper bound for Gaussian components); for finite and Gaussian mixtures
      it always passes, and that is correct (their m_l^(1/l) grow at most like sqrt(l));
    * ``open_set`` (with ``design``): ``open_set_at_zero`` -- 0 interior to the hull of the joint feature
      vectors (x_1..x_n) in R^(n d); a finite design is only a proxy for a support;
    * ``independent``: cannot be read off (f, design); it is the caller's statement (None: not stated,
      and then not counted in ``all``).

    The conclusion itself is not "checked" here; its argument is, on instances: see
    ``logit_line_derivatives`` and ``taylor_coefficients_at_zero`` (n = 2 sees only odd moments, n >= 3
    all of them)."""
    if int(n) != n or n < 2:
        raise ValueError(f"n: a choice set needs n >= 2 items, got {n}")
    out: dict = {"n_ge_3": bool(n >= 3)}
    if f is not None:
        lm, exact = mixing_absolute_moments(f, lmax)
        dg = carleman_diagnostic(lm)
        out["carleman"] = dg["holds"]
        out["carleman_tail_exponent"] = dg["tail_exponent"]
        out["moments_exact"] = exact
    if design is not None:
        op = open_set_at_zero(design)
        out["open_set"] = op["interior"]
        out["open_set_margin"] = op["margin"]
    if independent is not None:
        out["independent"] = bool(independent)
    out["all"] = bool(all(v for k, v in out.items() if isinstance(v, bool) and k != "moments_exact"))
    return out
