"""Weighted k-wise DPO loss (seed 001, Chidambaram et al., "Direct Preference Optimization With
Unobserved Preference Heterogeneity", Algorithm 1 and eq. 17).

For a prompt x, a chosen response y_w and a set Y_r of rejected responses, DPO's implicit reward is
r_theta(x, y) = beta * log(pi_theta(y | x) / pi_ref(y | x)); the k-wise (Plackett-Luce top-1 /
multinomial-logit) choice probability is

    P_theta(y_w beats Y_r | x) = exp(r_theta(x, y_w)) / sum_{y in {y_w} + Y_r} exp(r_theta(x, y))    (eq. 17)

and the weighted loss is  - sum_i w_i log P_theta(y_w^i beats Y_r^i | x_i) / normalizer.  With one rejected
response (n = 2) it is the standard DPO loss -log sigma(beta [(log pi_w - log ref_w) - (log pi_l - log ref_l)])
(Rafailov et al. 2023), which ``tests/pluralign/test_dpo.py`` checks.  EM-DPO's M-step (seed 001 App. B)
is this loss with the E-step responsibilities gamma_ik as the per-example weights of type k.  The E-step's
likelihood of a record under type k is the same P_theta (eq. 17, with beta); Alg. 1 line 6 prints it as
exp(log pi_k / pi_SFT) / sum exp(log pi_k / pi_SFT), without beta: we follow eq. 17 in both steps.

The choice probability is :func:`pluralign.choice.choice_loglik` (the package's one multinomial logit),
computed in log space, so log-ratios of +-1e4 stay finite.
"""

from __future__ import annotations

import torch

from pluralign.choice import choice_loglik

__all__ = ["implicit_rewards", "kwise_dpo_logprobs", "weighted_kwise_dpo_loss", "dpo_loss_pairwise"]


def _check(name: str, t: torch.Tensor, ndim: int) -> None:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {tuple(t.shape)}")
    if not torch.isfinite(t.detach()).all():
        raise ValueError(f"{name}: contains NaN or inf")


def implicit_rewards(policy_logps: torch.Tensor, ref_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """beta * (log pi - log pi_ref), elementwise (DPO's implicit reward, seed 001 eq. 17)."""
    if not (float(beta) > 0):
        raise ValueError(f"beta: must be > 0, got {beta}")
    if policy_logps.shape != ref_logps.shape:
        raise ValueError(f"ref_logps: shape {tuple(ref_logps.shape)} != policy_logps {tuple(policy_logps.shape)}")
    return float(beta) * (policy_logps - ref_logps)


def kwise_dpo_logprobs(policy_logps, ref_logps, beta: float, chosen=None, mask=None) -> torch.Tensor:
    """log P(y_w beats Y_r | x) for each record (M,), eq. 17.

    ``policy_logps`` / ``ref_logps``: (M, n) log-probabilities of the n responses of each record under the
    policy and the reference.  ``chosen``: (M,) index of y_w in 0..n-1 (default 0: y_w first).
    ``mask``: optional (M, n) booleans, False marks padding (sets of different sizes; >= 2 real options).
    """
    _check("policy_logps", policy_logps, 2)
    _check("ref_logps", ref_logps, 2)
    M, n = policy_logps.shape
    if n < 2:
        raise ValueError(f"policy_logps: a comparison needs n >= 2 responses, got {n}")
    r = implicit_rewards(policy_logps, ref_logps, beta)
    if chosen is None:
        chosen = torch.zeros(M, dtype=torch.long, device=r.device)
    else:
        chosen = torch.as_tensor(chosen, device=r.device)
        if chosen.shape != (M,) or chosen.dtype.is_floating_point:
            raise ValueError(f"chosen: expected ({M},) integer indices, got shape {tuple(chosen.shape)}")
        if (chosen < 0).any() or (chosen >= n).any():
            raise ValueError(f"chosen: index out of range 0..{n - 1}")
        chosen = chosen.long()
    if mask is not None:
        mask = torch.as_tensor(mask, device=r.device)
        if mask.dtype != torch.bool or mask.shape != (M, n):
            raise ValueError(f"mask: expected a ({M}, {n}) boolean tensor")
        if (mask.sum(dim=1) < 2).any():
            raise ValueError("mask: every record needs at least 2 responses")
        if not mask.gather(1, chosen[:, None]).all():
            raise ValueError("chosen: points at a masked-out response")
    return choice_loglik(r, chosen, mask, validate=False)  # checked above


def weighted_kwise_dpo_loss(policy_logps, ref_logps, beta: float, chosen=None, weights=None, mask=None,
                            normalize: str = "sum_weights") -> torch.Tensor:
    """The weighted k-wise DPO loss  -sum_i w_i log P(y_w^i beats Y_r^i | x_i) / Z  (seed 001 eq. 17, Alg. 1).

    ``weights``: (M,) non-negative per-example weights (EM-DPO: the responsibilities gamma_ik of type k;
    default all ones).  ``normalize``: "sum_weights" (Z = sum_i w_i, a weighted mean; 0 when all weights
    are 0), "count" (Z = M, as a minibatch mean) or "none" (Z = 1).
    """
    logp = kwise_dpo_logprobs(policy_logps, ref_logps, beta, chosen=chosen, mask=mask)
    if weights is None:
        w = torch.ones_like(logp)
    else:
        w = torch.as_tensor(weights, dtype=logp.dtype, device=logp.device)
        if w.shape != logp.shape:
            raise ValueError(f"weights: expected shape {tuple(logp.shape)}, got {tuple(w.shape)}")
        if not torch.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights: must be finite and non-negative")
    total = -(w * logp).sum()
    if normalize == "sum_weights":
        s = w.sum()
        return total / s if float(s) > 0 else total * 0.0
    if normalize == "count":
        return total / logp.shape[0]
    if normalize == "none":
        return total
    raise ValueError(f"normalize: expected 'sum_weights', 'count' or 'none', got {normalize!r}")


def dpo_loss_pairwise(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta: float,
                      weights=None) -> torch.Tensor:
    """Standard pairwise DPO in trl's argument order (chosen, rejected, ref_chosen, ref_rejected): the
    n = 2 case of :func:`weighted_kwise_dpo_loss` (weighted mean over pairs)."""
    pol = torch.stack([chosen_logps, rejected_logps], dim=1)
    ref = torch.stack([ref_chosen_logps, ref_rejected_logps], dim=1)
    return weighted_kwise_dpo_loss(pol, ref, beta, weights=weights)
