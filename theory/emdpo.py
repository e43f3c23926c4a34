"""The EM steps of EM-DPO that have closed forms (seed 001, Appendix B.1): the prior update of the M-step
(eq. 22-25) and the E-step's cancellation of the prompt density (eq. 31-35).

Notation (seed 001 App. B.1): n users, K latent types z_1..z_K, user i's m comparisons V_i1..V_im with
prompts X_ij; ``log_P[i, j, k]`` = log P_phi(z_k, V_ij), the type-k (DPO-implied) likelihood of comparison
j of user i; ``gamma[i, k]`` = p(z_k | V_i; theta_t); ``eta`` the prior over types.  A user with fewer
comparisons is padded with ``log_P = 0`` (a factor 1) -- or pass ``mask``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from pluralign.theory.validation import as_finite_array

__all__ = ["eta_objective", "eta_update", "eta_kkt_residual", "posterior", "posterior_with_prompt_density"]


def _gamma(gamma) -> np.ndarray:
    g = as_finite_array(gamma, "gamma", ndim=2)
    if g.shape[0] == 0 or g.shape[1] == 0 or np.any(g < 0) or not np.allclose(g.sum(axis=1), 1.0, atol=1e-9):
        raise ValueError("gamma: must be an n x K matrix of posterior rows (non-negative, each summing to 1)")
    return g


def eta_objective(eta, gamma) -> float:
    """Seed 001 eq. 22-23: E_{Z ~ p(.|V, theta_t)}[sum_i log(sum_k eta_k 1{Z_i = z_k})]
    = sum_i sum_k p(z_k | V_i; theta_t) log(eta_k) = sum_k w_{k,t} log(eta_k), w_{k,t} = sum_i gamma_ik
    (-inf when some eta_k = 0 carries posterior mass)."""
    g = _gamma(gamma)
    e = as_finite_array(eta, "eta", ndim=1)
    if e.shape[0] != g.shape[1] or np.any(e < 0):
        raise ValueError(f"eta: expected {g.shape[1]} non-negative entries")
    w = g.sum(axis=0)
    pos = w > 0
    if np.any(e[pos] == 0):
        return float("-inf")
    return float(np.sum(w[pos] * np.log(e[pos])))


def eta_update(gamma) -> np.ndarray:
    """Seed 001 eq. 24-25, as printed: "The KKT condition is: w_{k,t} / eta_{k,t+1} = lambda =>
    eta_{k,t+1} ∝ w_{k,t} => eta_{k,t+1} = w_{k,t} / sum_k w_{k,t}" and, "since sum_k p(z_k | V_i; theta_t) = 1,
    we have sum_k w_{k,t} = n": eta_{k,t+1} = (1/n) sum_i p(z_k | V_i; theta_t) -- the maximizer of eq. 23
    over the simplex."""
    g = _gamma(gamma)
    return g.sum(axis=0) / g.shape[0]


def eta_kkt_residual(eta, gamma) -> float:
    """max_k |w_{k,t} / eta_k - lambda| with lambda = n over the types with w_k > 0 (eq. 24's condition),
    plus n * max_k eta_k over the types with w_k = 0 (there the maximizer puts no mass).  0 at the
    maximizer of eq. 23."""
    g = _gamma(gamma)
    e = as_finite_array(eta, "eta", ndim=1)
    w = g.sum(axis=0)
    n = g.shape[0]
    pos = w > 0
    with np.errstate(divide="ignore"):
        r = np.max(np.abs(w[pos] / e[pos] - n)) if pos.any() else 0.0
    return float(max(r, n * float(np.max(e[~pos], initial=0.0))))


def _log_inputs(log_P, mask):
    lp = as_finite_array(log_P, "log_P", ndim=3)
    if mask is None:
        return lp
    mk = np.asarray(mask, dtype=bool)
    if mk.shape != lp.shape[:2]:
        raise ValueError(f"mask: expected shape {lp.shape[:2]}, got {mk.shape}")
    return np.where(mk[:, :, None], lp, 0.0)


def posterior(log_P, log_eta, mask=None) -> np.ndarray:
    """Seed 001 eq. 35 (= eq. 36): p(z_k | V_i; theta) = eta_k prod_j P_phi(z_k, V_ij) /
    sum_l eta_l prod_j P_phi(z_l, V_ij), in log space."""
    lp = _log_inputs(log_P, mask)
    le = as_finite_array(log_eta, "log_eta", ndim=1)
    if le.shape[0] != lp.shape[2]:
        raise ValueError(f"log_eta: expected length {lp.shape[2]}, got {le.shape[0]}")
    a = le[None, :] + lp.sum(axis=1)
    return np.exp(a - logsumexp(a, axis=1, keepdims=True))


def posterior_with_prompt_density(log_P, log_pX, log_eta, mask=None) -> np.ndarray:
    """Seed 001 eq. 30: p(z_k | V_i; theta) = prod_j P_phi(z_k, V_ij) p(X_ij | z_k) eta_k /
    sum_l prod_j P_phi(z_l, V_ij) p(X_ij | z_l) eta_l, with ``log_pX`` (n, m, K) = log p(X_ij | z_k), or
    (n, m) when the prompt density does not depend on the type -- eq. 31 under Assumption 2
    ("p(X_ij | Z_i = z_k; theta) = p(X_ij | Z_i = z_l; theta) := rho(X_ij)").  Then prod_j rho(X_ij)
    factors out of the sum over l (eq. 32-34) and cancels, which is eq. 35: the result equals
    ``posterior``.  With a type-dependent p(X | z) it does not."""
    lp = _log_inputs(log_P, mask)
    lx = as_finite_array(log_pX, "log_pX")
    if lx.ndim == 2:
        lx = lx[:, :, None]
    if lx.ndim != 3 or lx.shape[:2] != lp.shape[:2] or lx.shape[2] not in (1, lp.shape[2]):
        raise ValueError(f"log_pX: expected shape {lp.shape[:2]} or {lp.shape}, got {lx.shape}")
    if mask is not None:
        lx = np.where(np.asarray(mask, bool)[:, :, None], lx, 0.0)
    le = as_finite_array(log_eta, "log_eta", ndim=1)
    if le.shape[0] != lp.shape[2]:
        raise ValueError(f"log_eta: expected length {lp.shape[2]}, got {le.shape[0]}")
    a = (lp + lx).sum(axis=1) + le[None, :]  # log of the numerator of eq. 30 / 31, kept unnormalized
    return np.exp(a - logsumexp(a, axis=1, keepdims=True))
