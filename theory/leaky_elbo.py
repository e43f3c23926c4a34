"""The leaky evidence lower bound of PREC's leaky EM (seed 000, Appendix A).

Notation (seed 000, App. A): N users, K components (cluster reward decoders). ``log_lik[i, k]`` is
log L_ik, the log-likelihood of user i's labels under decoder k; ``rho`` the prior over components;
``z`` an assignment in [K]^N; ``nu`` in [0, 1) the leak.

* posterior gamma_ik = rho_k L_ik / sum_j rho_j L_ij                                   (eq. 9)
* marginal log-likelihood l = sum_i log sum_k rho_k L_ik                              (eq. 15)
* leaky weights w_ik = max(1[z_i = k], nu) used by the M-step                          (eq. 10-13)
* leaky variational distribution q_ik = w_ik / (1 + (K - 1) nu)                        (eq. 16)
* leaky ELBO F_nu = sum_i sum_k q_ik (log rho_k + log L_ik - log q_ik)                 (eq. 18)

All computations are in log space (``scipy.special.logsumexp``) and stay finite for log-likelihoods of
magnitude up to 1e4 and beyond.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from pluralign.theory.validation import as_finite_array, as_probability_vector

__all__ = [
    "check_inputs",
    "log_joint",
    "posterior",
    "marginal_log_likelihood",
    "leaky_weights",
    "leaky_q",
    "elbo",
    "leaky_elbo",
    "elbo_slack",
    "argmax_assignment",
]


def _log_prior(rho: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(rho)


def check_inputs(log_lik, rho) -> tuple[np.ndarray, np.ndarray]:
    """Validate an N x K log-likelihood matrix and a prior of length K; return them as arrays."""
    L = as_finite_array(log_lik, "log_lik", ndim=2)
    if L.shape[0] == 0 or L.shape[1] == 0:
        raise ValueError(f"log_lik: needs at least one user and one component, got shape {L.shape}")
    if np.any(L > 1e-9):
        raise ValueError("log_lik: log-likelihoods of discrete labels must be <= 0")
    r = as_probability_vector(rho, "rho", size=L.shape[1])
    return L, r


def _check_z(z, N: int, K: int) -> np.ndarray:
    z = np.asarray(z)
    if z.shape != (N,):
        raise ValueError(f"z: expected shape ({N},), got {z.shape}")
    if not np.issubdtype(z.dtype, np.integer):
        raise ValueError("z: assignments must be integers")
    if np.any(z < 0) or np.any(z >= K):
        raise ValueError(f"z: assignments must lie in 0..{K - 1}")
    return z


def _check_nu(nu: float) -> float:
    nu = float(nu)
    if not (0.0 <= nu < 1.0) or not np.isfinite(nu):
        raise ValueError(f"nu: the leak must lie in [0, 1), got {nu}")
    return nu


def log_joint(log_lik, rho) -> np.ndarray:
    """log rho_k + log L_ik, the N x K matrix every quantity below is built from."""
    L, r = check_inputs(log_lik, rho)
    return L + _log_prior(r)[None, :]


def posterior(log_lik, rho) -> np.ndarray:
    """The posterior responsibilities gamma_ik (seed 000 eq. 9; seed 001 eq. 36)."""
    J = log_joint(log_lik, rho)
    return np.exp(J - logsumexp(J, axis=1, keepdims=True))


def marginal_log_likelihood(log_lik, rho) -> float:
    """l = sum_i log sum_k rho_k L_ik (seed 000 eq. 15)."""
    return float(logsumexp(log_joint(log_lik, rho), axis=1).sum())


def leaky_weights(z, K: int, nu: float) -> np.ndarray:
    """The leaky assignment weights max(1[z_i = k], nu) of the M-step (seed 000 eq. 10-13)."""
    nu = _check_nu(nu)
    z = np.asarray(z)
    w = np.full((z.shape[0], K), nu)
    w[np.arange(z.shape[0]), z] = 1.0
    return w


def leaky_q(z, K: int, nu: float) -> np.ndarray:
    """The leaky variational distribution q_i (seed 000 eq. 16): the leaky weights normalized per user."""
    w = leaky_weights(z, K, nu)
    return w / (1.0 + (K - 1) * float(nu))


def elbo(log_lik, rho, q) -> float:
    """sum_i sum_k q_ik (log rho_k + log L_ik - log q_ik) for any row-stochastic q (0 log 0 = 0)."""
    J = log_joint(log_lik, rho)
    q = as_finite_array(q, "q", ndim=2)
    if q.shape != J.shape:
        raise ValueError(f"q: expected shape {J.shape}, got {q.shape}")
    if np.any(q < 0) or not np.allclose(q.sum(axis=1), 1.0, atol=1e-9):
        raise ValueError("q: rows must be probability vectors")
    pos = q > 0
    if np.any(np.isneginf(J[pos])):
        return float("-inf")
    return float(np.sum(q[pos] * (J[pos] - np.log(q[pos]))))


def leaky_elbo(log_lik, rho, z, nu: float) -> float:
    """F_nu(z, rho, decoders) of seed 000 eq. 18; with nu = 0 the hard ELBO sum_i log rho_{z_i} L_{i z_i}
    (Cor. A.6)."""
    L, r = check_inputs(log_lik, rho)
    N, K = L.shape
    z = _check_z(z, N, K)
    return elbo(L, r, leaky_q(z, K, nu))


def elbo_slack(log_lik, rho, q) -> np.ndarray:
    """Per-user KL(q_i || gamma_i); Remark A.2 says sum_i of it equals l - F (seed 000 App. A)."""
    J = log_joint(log_lik, rho)
    log_gamma = J - logsumexp(J, axis=1, keepdims=True)  # in log space: gamma itself may underflow to 0
    q = as_finite_array(q, "q", ndim=2)
    if q.shape != J.shape:
        raise ValueError(f"q: expected shape {J.shape}, got {q.shape}")
    pos = q > 0
    with np.errstate(invalid="ignore"):  # q_ik > 0 where gamma_ik = 0 (rho_k = 0) gives KL = +inf
        terms = np.where(pos, q * (np.log(np.where(pos, q, 1.0)) - log_gamma), 0.0)
    return terms.sum(axis=1)


def argmax_assignment(log_lik, rho) -> np.ndarray:
    """z_i = argmax_k (log rho_k + log L_ik): the assignment that maximizes F_nu over [K]^N for every
    nu in [0, 1) (seed 000 Prop. A.3)."""
    return np.argmax(log_joint(log_lik, rho), axis=1)


# ---------------------------------------------------------------------------------------------------------
# Checks of the statements of seed 000, Appendix A.
# Each ``check_*`` returns a *margin*: a number that is >= 0 (up to rounding) exactly when the statement
# holds on the given instance, so that ``theory.check`` can report the worst margin over many instances.
# ---------------------------------------------------------------------------------------------------------

__all__ += [
    "check_lemma_a1",
    "check_remark_a2",
    "brute_force_best_assignment",
    "check_prop_a3",
    "check_cor_a6",
    "logistic_user_log_lik",
    "fit_logistic_decoder",
    "leaky_m_step_logistic",
    "check_prop_a4",
    "logistic_smoothness",
    "LeakyEMRun",
    "leaky_em_logistic",
    "check_thm_a5",
    "make_logistic_instance",
    "probe_f_nu_decrease",
]


def check_lemma_a1(log_lik, rho, z, nu: float) -> float:
    """Seed 000 Lemma A.1 (ELBO property), as printed: "For every z in [K]^N, nu in [0, 1), and Theta,
    F_nu(z, Theta) <= l(Theta)."  Returns the margin l - F_nu (>= 0 when the lemma holds)."""
    return marginal_log_likelihood(log_lik, rho) - leaky_elbo(log_lik, rho, z, nu)


def check_remark_a2(log_lik, rho, z, nu: float) -> float:
    """Seed 000 Remark A.2 (Slack interpretation), as printed: "The slack in Lemma A.1 is
    l(Theta) - F_nu(z, Theta) = sum_i KL(q_i^(z_i, nu) || gamma_i(Theta)), where gamma_i(Theta) is the true
    posterior from the E-step."  Returns the relative discrepancy
    |(l - F_nu) - sum_i KL| / max(1, |l|) (the remark holds when this is ~1e-12; the checks use 1e-9)."""
    L, r = check_inputs(log_lik, rho)
    N, K = L.shape
    z = _check_z(z, N, K)
    q = leaky_q(z, K, nu)
    l = marginal_log_likelihood(L, r)
    f = elbo(L, r, q)
    kl = float(elbo_slack(L, r, q).sum())
    return abs((l - f) - kl) / max(1.0, abs(l))


def brute_force_best_assignment(log_lik, rho, nu: float, max_assignments: int = 200_000):
    """Enumerate all of [K]^N and return (best F_nu, one maximizing z) -- the independent reference for
    Prop. A.3 of seed 000.  Refuses instances with more than ``max_assignments`` assignments."""
    L, r = check_inputs(log_lik, rho)
    nu = _check_nu(nu)
    N, K = L.shape
    if K**N > max_assignments:
        raise ValueError(f"log_lik: K^N = {K}^{N} exceeds max_assignments = {max_assignments}")
    best, best_z = -np.inf, None
    for flat in range(K**N):
        z = np.array(np.unravel_index(flat, (K,) * N), dtype=int).reshape(N) if N > 0 else np.zeros(0, int)
        f = leaky_elbo(L, r, z, nu)
        if f > best or best_z is None:
            best, best_z = f, z
    return best, best_z


def check_prop_a3(log_lik, rho, nu: float) -> float:
    """Seed 000 Prop. A.3 (E-step maximizes F_nu in z), as printed: "For any fixed Theta,
    z^_i = argmax_k gamma_ik(Theta) = argmax_k F_ik(Theta) for all i in [N] is a maximizer of F_nu(., Theta)
    over z in [K]^N" (F_ik = log rho_k + log L_ik).  Returns F_nu(argmax) - max_z F_nu(z) found by brute force (0 when the proposition holds)."""
    best, _ = brute_force_best_assignment(log_lik, rho, nu)
    return leaky_elbo(log_lik, rho, argmax_assignment(log_lik, rho), nu) - best


def check_cor_a6(log_lik, rho, z) -> float:
    """Seed 000 Cor. A.6 (Hard EM as the nu = 0 case), as printed: "At nu = 0, q_ik^(z_i, 0) = 1[z_i = k]",
    and F_0 is "the standard hard-assignment ELBO": with nu = 0, F_0 is the hard ELBO sum_i (log rho_{z_i} + log L_{i z_i}) and
    q_i is one-hot.  Returns minus the absolute difference (0 when the corollary holds)."""
    L, r = check_inputs(log_lik, rho)
    N, K = L.shape
    z = _check_z(z, N, K)
    hard = float(np.sum(_log_prior(r)[z] + L[np.arange(N), z]))
    q = leaky_q(z, K, 0.0)
    onehot_err = float(np.abs(q - np.eye(K)[z]).max())
    return -(abs(leaky_elbo(L, r, z, 0.0) - hard) + onehot_err)


# --- a convex decoder: logistic regression on fixed features ---------------------------------------------
#
# User i has S rated segments with features X[i, s] (d-dim) and labels y[i, s] in [0, 1] (good = 1,
# bad = 0, "equal" = 1/2).  Decoder k has a weight vector theta_k and
#     log L_ik(theta_k) = sum_s  y log sigma(x theta_k) + (1 - y) log sigma(-x theta_k),
# which is concave in theta_k, so the weighted M-step (seed 000 eq. 10-13) is a convex problem that
# Newton's method solves to machine precision.


def _log_sigmoid(t):
    return -np.logaddexp(0.0, -t)


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = as_finite_array(X, "X", ndim=3)
    y = as_finite_array(y, "y", ndim=2)
    if y.shape != X.shape[:2]:
        raise ValueError(f"y: expected shape {X.shape[:2]} (users x segments), got {y.shape}")
    if np.any(y < 0) or np.any(y > 1):
        raise ValueError("y: labels must lie in [0, 1]")
    return X, y


def logistic_user_log_lik(theta, X, y) -> np.ndarray:
    """The N x K matrix log L_ik of the logistic decoders ``theta`` (K x d) on features X (N x S x d) and
    labels y (N x S)."""
    X, y = _check_xy(X, y)
    theta = as_finite_array(theta, "theta", ndim=2)
    if theta.shape[1] != X.shape[2]:
        raise ValueError(f"theta: expected K x {X.shape[2]}, got {theta.shape}")
    a = np.einsum("isd,kd->isk", X, theta)
    ll = y[:, :, None] * _log_sigmoid(a) + (1.0 - y[:, :, None]) * _log_sigmoid(-a)
    return ll.sum(axis=1)


def _weighted_obj_grad_hess(theta, Xf, yf, wf):
    a = Xf @ theta
    f = float(np.sum(wf * (yf * _log_sigmoid(a) + (1 - yf) * _log_sigmoid(-a))))
    s = np.exp(_log_sigmoid(a))
    g = Xf.T @ (wf * (yf - s))
    H = -(Xf * (wf * s * (1 - s))[:, None]).T @ Xf
    return f, g, H


def fit_logistic_decoder(X, y, weights, theta0=None, tol: float = 1e-11, max_iter: int = 200):
    """argmax_theta sum_i weights_i log L_i(theta) for one logistic decoder, by damped Newton.

    Returns (theta, objective).  Raises RuntimeError if the weighted data are (numerically) separable, in
    which case no maximizer exists."""
    X, y = _check_xy(X, y)
    w = as_finite_array(weights, "weights", ndim=1)
    if w.shape[0] != X.shape[0] or np.any(w < 0):
        raise ValueError(f"weights: expected {X.shape[0]} non-negative user weights")
    N, S, d = X.shape
    Xf = X.reshape(N * S, d)
    yf = y.reshape(N * S)
    wf = np.repeat(w, S)
    theta = np.zeros(d) if theta0 is None else as_finite_array(theta0, "theta0", ndim=1).copy()
    if w.sum() == 0:
        return theta, 0.0
    f, g, H = _weighted_obj_grad_hess(theta, Xf, yf, wf)
    scale = 1.0 + float(wf.sum())
    for _ in range(max_iter):
        if np.linalg.norm(g) <= tol * scale:
            return theta, f
        try:
            step = np.linalg.solve(H - 1e-14 * scale * np.eye(d), -g)
        except np.linalg.LinAlgError:
            step = g / scale
        t = 1.0
        while True:
            cand = theta + t * step
            fc, gc, Hc = _weighted_obj_grad_hess(cand, Xf, yf, wf)
            if fc >= f + 1e-4 * t * float(g @ step) or t < 1e-12:
                break
            t *= 0.5
        if fc < f:  # no ascent possible: converged to rounding
            return theta, f
        theta, f, g, H = cand, fc, gc, Hc
        if np.linalg.norm(theta) > 1e4:
            break
    if np.linalg.norm(g) <= 1e-7 * scale:
        return theta, f
    raise RuntimeError("fit_logistic_decoder: no maximizer (weighted data separable or ill-conditioned)")


def leaky_m_step_logistic(X, y, z, K: int, nu: float, theta0=None) -> np.ndarray:
    """The leaky M-step of seed 000 (eq. 10-13) for logistic decoders: theta_k = argmax sum_i
    max(1[z_i = k], nu) log L_ik(theta), solved exactly (Newton).  Returns theta (K x d)."""
    X, y = _check_xy(X, y)
    N, _, d = X.shape
    z = _check_z(z, N, K)
    W = leaky_weights(z, K, nu)
    th0 = np.zeros((K, d)) if theta0 is None else as_finite_array(theta0, "theta0", ndim=2)
    return np.stack([fit_logistic_decoder(X, y, W[:, k], th0[k])[0] for k in range(K)])


def logistic_smoothness(X) -> float:
    """An upper bound on the smoothness constant of theta -> (sum_i w_i log L_i(theta)) / (S sum_i w_i) for
    any weights w >= 0: max_i lambda_max(X_i^T X_i / S) / 4.  A gradient M-step with ``lr`` <= 1 / this
    bound cannot decrease F_nu (descent lemma), so the probe's decreases need larger steps."""
    X = as_finite_array(X, "X", ndim=3)
    S = X.shape[1]
    return float(max(np.linalg.eigvalsh(Xi.T @ Xi / S)[-1] for Xi in X) / 4.0)


def check_prop_a4(X, y, z, rho, nu: float, seed: int = 0, n_perturb: int = 20) -> float:
    """Seed 000 Prop. A.4 (Leaky M-step and F_nu), as printed: "For any fixed z in [K]^N and fixed
    rho_{1:K}, the leaky decoder update in Eq. (13) is the argmax of F_nu(z, Theta) over psi^dec_{1:K} when
    solved exactly."  Compares F_nu at the Newton M-step with (a) an independent solve of max_theta F_nu by
    L-BFGS on F_nu itself (not on the weighted likelihood), started away from the M-step, and (b) random
    perturbations of the M-step.  Returns F(M-step) - max(other candidates) (>= -rounding when it holds)."""
    from scipy.optimize import minimize

    X, y = _check_xy(X, y)
    N, _, d = X.shape
    K = len(rho)
    z = _check_z(z, N, K)
    rng = np.random.default_rng(seed)
    theta = leaky_m_step_logistic(X, y, z, K, nu)

    def F(th):
        return leaky_elbo(logistic_user_log_lik(th.reshape(K, d), X, y), rho, z, nu)

    f_star = F(theta)
    res = minimize(lambda v: -F(v), rng.normal(size=K * d), method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
    others = [-float(res.fun)]
    step = 0.1 * (1.0 + np.abs(theta).max())
    for _ in range(n_perturb):
        others.append(F(theta + step * rng.normal(size=theta.shape) * rng.uniform(1e-4, 1)))
    return f_star - max(others)


def make_logistic_instance(seed: int, N: int = 8, K: int = 2, S: int = 25, d: int = 3,
                           flip: float = 0.15):
    """A random PREC-like instance: K true decoders, N users each assigned to one, S segments per user with
    Gaussian features and labels from the true decoder with a fraction ``flip`` of labels flipped (so the
    data are not separable).  Returns (X, y, true_z)."""
    rng = np.random.default_rng(seed)
    theta_true = 2.0 * rng.normal(size=(K, d))
    z_true = rng.integers(0, K, size=N)
    X = rng.normal(size=(N, S, d))
    p = 1.0 / (1.0 + np.exp(-np.einsum("isd,id->is", X, theta_true[z_true])))
    y = (rng.uniform(size=(N, S)) < p).astype(float)
    flips = rng.uniform(size=(N, S)) < flip
    y[flips] = 1.0 - y[flips]
    return X, y, z_true


@dataclass
class LeakyEMRun:
    """Trace of a leaky-EM run with logistic decoders (seed 000 App. A).

    ``f_half`` holds F_nu after every half step (M-step, then E-step, ...), ``marginal_ll`` the marginal
    log-likelihood l at the same points."""

    f_half: list = field(default_factory=list)
    marginal_ll: list = field(default_factory=list)
    steps: list = field(default_factory=list)  #: "init", "M", "rho", "E" for each entry
    theta: np.ndarray | None = None
    rho: np.ndarray | None = None
    z: np.ndarray | None = None


def leaky_em_logistic(X, y, K: int, nu: float, rho=None, n_iter: int = 10, seed: int = 0,
                      rho_update: str = "fixed", m_step: str = "exact", lr: float = 1.0,
                      grad_steps: int = 1) -> LeakyEMRun:
    """Leaky EM (seed 000 App. A, eq. 9-13) with logistic decoders, tracing F_nu after every half step.

    * ``rho_update``: "fixed" (the setting of Thm. A.5), "leaky" (rho_k = mean_i q_ik, the maximizer of
      F_nu over rho), or "hard" (rho_k = #{i: z_i = k} / N, the hard-count re-estimate; outside Thm. A.5).
    * ``m_step``: "exact" (Newton to machine precision; Prop. A.4) or "gradient" (``grad_steps`` steps of
      gradient ascent with step ``lr`` on the per-segment mean weighted log-likelihood, with no check
      that F_nu increased; outside Thm. A.5).
    """
    X, y = _check_xy(X, y)
    nu = _check_nu(nu)
    if rho_update not in ("fixed", "leaky", "hard"):
        raise ValueError(f"rho_update: expected 'fixed', 'leaky' or 'hard', got {rho_update!r}")
    if m_step not in ("exact", "gradient"):
        raise ValueError(f"m_step: expected 'exact' or 'gradient', got {m_step!r}")
    if int(K) != K or K < 1:
        raise ValueError(f"K: must be a positive integer, got {K}")
    N, S, d = X.shape
    rho = np.full(K, 1.0 / K) if rho is None else as_probability_vector(rho, "rho", size=K)
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(K, d))
    run = LeakyEMRun()

    def record(step):
        Lm = logistic_user_log_lik(theta, X, y)
        run.f_half.append(leaky_elbo(Lm, rho, z, nu))
        run.marginal_ll.append(marginal_log_likelihood(Lm, rho))
        run.steps.append(step)

    z = argmax_assignment(logistic_user_log_lik(theta, X, y), rho)
    record("init")
    for _ in range(n_iter):
        if rho_update != "fixed":
            q = leaky_q(z, K, nu)
            if rho_update == "leaky":
                rho = q.mean(axis=0)
            else:
                rho = np.bincount(z, minlength=K) / N
            record("rho")
        W = leaky_weights(z, K, nu)
        if m_step == "exact":
            theta = np.stack([fit_logistic_decoder(X, y, W[:, k], theta[k])[0] for k in range(K)])
        else:
            Xf = X.reshape(N * S, d)
            yf = y.reshape(N * S)
            for _ in range(grad_steps):
                new = theta.copy()
                for k in range(K):
                    wf = np.repeat(W[:, k], S)
                    _, g, _ = _weighted_obj_grad_hess(theta[k], Xf, yf, wf)
                    new[k] = theta[k] + lr * g / max(wf.sum(), 1e-300)
                theta = new
        record("M")
        z = argmax_assignment(logistic_user_log_lik(theta, X, y), rho)
        record("E")
    run.theta, run.rho, run.z = theta, rho, z
    return run


def check_thm_a5(run: LeakyEMRun) -> float:
    """Seed 000 Thm. A.5 (Monotone improvement of the leaky ELBO), as printed: "Let (z^(t), Theta^(t))
    denote the iterates produced by alternating (i) an E-step that maximizes F_nu(z, Theta^(t)) over z, and
    (ii) a leaky decoder update with leak coefficient nu in [0, 1) that increases F_nu(z^(t+1), Theta) over
    the decoder parameters, with rho_{1:K} held fixed. Then the sequence {F_nu(z^(t), Theta^(t))} is
    monotonically non-decreasing and converges to a finite limit."  Along a leaky-EM run with fixed rho and exact M-steps F_nu never decreases
    and stays below l <= 0.  Returns the worst margin: min over half steps of (F_{t+1} - F_t), of (l - F_t)
    and of (-l_t), each relative to max(1, |F|); >= -1e-9 when the theorem holds."""
    if not isinstance(run, LeakyEMRun):
        raise ValueError(f"run: expected a LeakyEMRun, got {type(run).__name__}")
    f = np.asarray(run.f_half, dtype=float)
    l = np.asarray(run.marginal_ll, dtype=float)
    if f.size == 0:
        raise ValueError("run: empty trace")
    scale = max(1.0, float(np.max(np.abs(f[np.isfinite(f)]))) if np.any(np.isfinite(f)) else 1.0)
    margins = [np.min(l - f) / scale, np.min(-l) / scale]
    if f.size > 1:
        margins.append(float(np.min(np.diff(f))) / scale)
    return float(min(margins))


def probe_f_nu_decrease(seed: int = 0, n_instances: int = 12, lrs=(0.5, 8.0, 32.0),
                        nu: float = 0.3, K: int = 3, N: int = 9, n_iter: int = 6) -> dict:
    """Outside the scope of Thm. A.5 (seed 000 Remark A.7: "Theorem A.5 concerns the decoder parameters
    ... under the assumption that the cluster priors rho_{1:K} are held fixed at each iteration. Any
    additional stabilizer that modifies rho_k ... falls outside this fixed-prior scope"): search random instances for a leaky-EM step at which F_nu
    decreases, for each variant

    * "rho_leaky": rho re-estimated as mean_i q_ik (the maximizer of F_nu over rho), exact M-step;
    * "rho_hard":  rho re-estimated by hard counts #{z_i = k} / N, exact M-step;
    * "grad_lr=<lr>": fixed rho, M-step replaced by one gradient step of size lr, no increase check.

    Returns {variant: {"instances", "decreases", "to_minus_inf", "worst_drop", "example"}}, where
    ``worst_drop`` is the most negative finite change of F_nu between consecutive half steps and
    ``example`` the (instance seed, half-step index, F before, F after) of that drop (None if none)."""
    out = {}
    variants = [("rho_leaky", dict(rho_update="leaky")), ("rho_hard", dict(rho_update="hard"))]
    variants += [(f"grad_lr={lr:g}", dict(m_step="gradient", lr=float(lr))) for lr in lrs]
    for name, kw in variants:
        rec = {"instances": 0, "decreases": 0, "to_minus_inf": 0, "worst_drop": 0.0, "example": None}
        for i in range(n_instances):
            inst = seed * 100_003 + i
            X, y, _ = make_logistic_instance(inst, N=N, K=K)
            try:
                run = leaky_em_logistic(X, y, K, nu, n_iter=n_iter, seed=inst, **kw)
            except RuntimeError:
                continue  # separable weighted data: the exact M-step has no maximizer
            rec["instances"] += 1
            f = np.asarray(run.f_half)
            found = False
            for t in range(1, f.size):
                if np.isfinite(f[t - 1]) and f[t] == -np.inf:
                    rec["to_minus_inf"] += 1
                    found = True
                elif np.isfinite(f[t]) and np.isfinite(f[t - 1]):
                    drop = f[t] - f[t - 1]
                    if drop < -1e-9 * max(1.0, abs(f[t - 1])):
                        found = True
                        if drop < rec["worst_drop"]:
                            rec["worst_drop"] = float(drop)
                            rec["example"] = (inst, t, float(f[t - 1]), float(f[t]))
            rec["decreases"] += int(found)
        out[name] = rec
    return out
