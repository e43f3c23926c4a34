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

import numpy as np
from scipy.special import logsumexp

from theory._validate import as_finite_array, as_probability_vector

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
    gamma = posterior(log_lik, rho)
    q = np.asarray(q, dtype=float)
    pos = q > 0
    with np.errstate(divide="ignore"):
        terms = np.where(pos, q * (np.log(np.where(pos, q, 1.0)) - np.log(gamma)), 0.0)
    return terms.sum(axis=1)


def argmax_assignment(log_lik, rho) -> np.ndarray:
    """z_i = argmax_k (log rho_k + log L_ik): the assignment that maximizes F_nu over [K]^N for every
    nu in [0, 1) (seed 000 Prop. A.3)."""
    return np.argmax(log_joint(log_lik, rho), axis=1)
