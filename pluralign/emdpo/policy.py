"""Log-linear policies on a tabular testbed and their weighted (k-wise) DPO fit.

pi_theta(y | x) ∝ pi_ref(y | x) exp(theta^T phi(x, y)).  With phi = one-hot(x, y) this is "free logits per
(x, y)"; with phi = the reward features psi it is a small linear model whose class contains every
KL-regularised optimum pi_k^* (theta = beta_k / beta).  DPO's implicit reward is
beta log(pi_theta / pi_ref) = beta theta^T phi - beta log Z_theta(x), so the weighted DPO objective of
seed 001 eq. 17 is a weighted multinomial logit in theta: convex, and L-BFGS converges to its optimum —
the M-step of EM-DPO is exact up to the optimiser's tolerance.  The fit goes through
:func:`pluralign.dpo.weighted_kwise_dpo_loss` on the policy's log-probabilities (the same loss an LLM run uses).
"""

from __future__ import annotations

import numpy as np
import torch

from pluralign.dpo import kwise_dpo_logprobs, weighted_kwise_dpo_loss

__all__ = ["LogLinearPolicy"]


class LogLinearPolicy:
    """The policy class pi_theta ∝ pi_ref exp(theta . phi).

    phi: (X, Y, p) policy features; log_ref: (X, Y) reference log-probabilities; beta: DPO temperature;
    l2: Gaussian-prior precision on theta: the fit minimises  sum_i w_i loss_i + l2/2 |theta|^2  (a MAP
    ridge on the *total* weighted loss, so it is negligible next to the data as N grows and EM's
    marginal likelihood stays monotone up to O(l2); it keeps free logits and separable data finite).
    """

    def __init__(self, phi, log_ref, beta: float, l2: float = 1e-4, max_iter: int = 100, tol: float = 1e-7):
        log_ref = np.asarray(log_ref, dtype=float)
        if log_ref.ndim != 2 or not np.all(np.isfinite(log_ref)):
            raise ValueError(f"log_ref: expected a finite (X, Y) array, got shape {log_ref.shape}")
        if phi is None:  # free logits: phi = one-hot(x, y), stored implicitly
            self.phi = None
            n_params = log_ref.size
        else:
            phi = np.asarray(phi, dtype=float)
            if phi.ndim != 3 or not np.all(np.isfinite(phi)):
                raise ValueError(f"phi: expected a finite (X, Y, p) array, got shape {phi.shape}")
            if log_ref.shape != phi.shape[:2]:
                raise ValueError(f"log_ref: expected shape {phi.shape[:2]}, got {log_ref.shape}")
            self.phi = torch.as_tensor(phi, dtype=torch.float64)
            n_params = phi.shape[2]
        if not float(beta) > 0:
            raise ValueError(f"beta: must be > 0, got {beta}")
        if float(l2) < 0:
            raise ValueError(f"l2: must be >= 0, got {l2}")
        self.log_ref = torch.log_softmax(torch.as_tensor(log_ref, dtype=torch.float64), dim=1)
        self.beta, self.l2 = float(beta), float(l2)
        self.max_iter, self.tol = int(max_iter), float(tol)
        self.n_params = int(n_params)

    @classmethod
    def free_logits(cls, log_ref, beta: float, **kw) -> LogLinearPolicy:
        """Free logits per (x, y): phi = one-hot of (x, y) (kept implicit; theta has X * Y entries)."""
        return cls(None, log_ref, beta, **kw)

    def logprobs_t(self, theta: torch.Tensor) -> torch.Tensor:
        score = theta.reshape(self.log_ref.shape) if self.phi is None else self.phi @ theta
        logits = self.log_ref + score
        return logits - torch.logsumexp(logits, dim=1, keepdim=True)

    def logprobs(self, theta) -> np.ndarray:
        """(X, Y) log pi_theta."""
        with torch.no_grad():
            return self.logprobs_t(torch.as_tensor(np.asarray(theta, dtype=float))).numpy()

    def choice_logliks(self, thetas, choices) -> np.ndarray:
        """(M, K) log P(chosen | options, prompt) under each theta_k's implicit reward (eq. 17)."""
        thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
        ctx = torch.as_tensor(choices.context)[:, None]
        opt = torch.as_tensor(choices.options)
        chosen = torch.as_tensor(choices.chosen)
        mask = torch.as_tensor(choices.mask)
        ref = self.log_ref[ctx, opt]
        out = []
        with torch.no_grad():
            for th in thetas:
                lp = self.logprobs_t(torch.as_tensor(th))[ctx, opt]
                out.append(kwise_dpo_logprobs(lp, ref, self.beta, chosen=chosen, mask=mask).numpy())
        return np.stack(out, axis=1)

    def fit(self, choices, weights=None, theta0=None) -> np.ndarray:
        """argmin_theta weighted k-wise DPO loss + l2/2 |theta|^2 (L-BFGS, strong Wolfe), warm-started at
        theta0.  Returns theta (p,).  All-zero weights return theta0 unchanged."""
        M = len(choices.chosen)
        w = np.ones(M) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (M,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"weights: expected ({M},) finite non-negative weights")
        theta0 = np.zeros(self.n_params) if theta0 is None else np.asarray(theta0, dtype=float)
        if w.sum() <= 0:
            return theta0.copy()
        w = w * choices.weight
        keep = w > 0
        ctx_np, opt_np = choices.context[keep], choices.options[keep]
        ctx = torch.as_tensor(ctx_np)
        chosen = torch.as_tensor(choices.chosen[keep])
        mask = torch.as_tensor(choices.mask[keep])
        wt = torch.as_tensor(w[keep])
        ridge = 0.5 * self.l2 / float(wt.sum())
        ref = self.log_ref[ctx[:, None], torch.as_tensor(opt_np)]
        # log pi_theta at the options = log_ref + theta . phi - log Z_theta(x): gather the option features
        # once; only the (X,) log-partition needs the whole table.
        if self.phi is None:
            flat = torch.as_tensor(ctx_np[:, None] * self.log_ref.shape[1] + opt_np)
        else:
            feats = self.phi[ctx[:, None], torch.as_tensor(opt_np)]  # (M, n, p)
        theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
        opt_ = torch.optim.LBFGS([theta], lr=1.0, max_iter=self.max_iter, tolerance_grad=self.tol,
                                 tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

        def closure():
            opt_.zero_grad()
            if self.phi is None:
                log_z = torch.logsumexp(self.log_ref + theta.reshape(self.log_ref.shape), dim=1)
                score = theta[flat]
            else:
                log_z = torch.logsumexp(self.log_ref + self.phi @ theta, dim=1)
                score = feats @ theta
            lp = ref + score - log_z[ctx][:, None]
            loss = weighted_kwise_dpo_loss(lp, ref, self.beta, chosen=chosen, weights=wt, mask=mask)
            loss = loss + ridge * (theta * theta).sum()
            loss.backward()
            return loss

        opt_.step(closure)
        return theta.detach().numpy().copy()
