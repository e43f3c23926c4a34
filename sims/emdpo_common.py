"""Shared pieces of the EM-DPO studies (``sims.mpi``, ``sims.mmra``): profiles, fitting every method on one
sampled data set, per-type metrics on the exact tabular testbed."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from pluralign.em import adjusted_rand_index
from pluralign.emdpo import (
    EMDPO,
    LogLinearPolicy,
    PolicyFit,
    TabularTestbed,
    cluster_dpo,
    match_types,
    true_label_dpo,
    vanilla_dpo,
)


@dataclass
class EMDPOSettings:
    """Scale of one EM-DPO study."""

    n_users: int = 2000
    """users, one preference each"""
    n_seeds: int = 5
    """independent data sets / fits per cell"""
    n_restarts: int = 2
    """EM restarts (best marginal likelihood wins)"""
    max_iter: int = 60
    """EM iteration cap"""
    tol: float = 1e-7
    """EM relative tolerance"""
    beta: float = 0.1
    """DPO / KL temperature"""
    n_prompts: int = 50
    """paraphrased prompts"""
    ref_scale: float = 0.5
    """spread of the random reference policy's logits"""
    init: str = "kmeans++"
    """EM-DPO initialisation: kmeans++ on response embeddings, or random"""


PROFILES = {
    "smoke": EMDPOSettings(n_users=200, n_seeds=1, n_restarts=1, max_iter=3),
    "quick": EMDPOSettings(n_users=2000, n_seeds=5, n_restarts=2, max_iter=50),
    "paper": EMDPOSettings(n_users=10000, n_seeds=10, n_restarts=5, max_iter=300, tol=1e-8),
}


def settings_for(profile: str) -> EMDPOSettings:
    return PROFILES[profile]


def settings_dict(s: EMDPOSettings) -> dict:
    return asdict(s)


def fit_all_methods(tb: TabularTestbed, policy: LogLinearPolicy, sample, n_types: int, s: EMDPOSettings,
                    seed: int) -> dict[str, PolicyFit]:
    """EM-DPO, Cluster DPO, vanilla DPO and True-label DPO on one data set."""
    torch.set_num_threads(1)
    ch = sample.choices
    feats = tb.user_features(ch)
    em = EMDPO(policy, n_types, init=s.init, n_restarts=s.n_restarts, max_iter=s.max_iter, tol=s.tol,
               seed=seed).fit(ch, feats if s.init == "kmeans++" else None)
    out = {
        "em_dpo": em.as_fit(),
        "cluster_dpo": cluster_dpo(policy, ch, feats, n_types, seed=seed),
        "vanilla_dpo": vanilla_dpo(policy, ch),
        "true_label_dpo": true_label_dpo(policy, ch, sample.types, n_types),
    }
    out["em_dpo"].n_iter = len(em.trace_)
    out["em_dpo"].marginal_ll = em.trace_[-1]["marginal_ll"]
    return out


def evaluate(tb: TabularTestbed, policy: LogLinearPolicy, fit: PolicyFit, true_types) -> dict:
    """Per true type: the matched policy's accuracy, reward margin and regret (eq. 3); user-clustering ARI."""
    K = tb.K
    m = match_types(true_types, fit.responsibilities, K)
    logpis = np.stack([policy.logprobs(th) for th in fit.thetas])
    res: dict = {"matched_component": m.tolist(), "rho": np.asarray(fit.rho).tolist()}
    for k, name in enumerate(tb.type_names):
        lp = logpis[m[k]]
        res[name] = {
            "accuracy": tb.accuracy(lp, k),
            "reward_margin": tb.reward_margin(lp, k),
            "regret": float(tb.regrets(lp)[k]),
        }
    res["max_regret_matched"] = max(res[n]["regret"] for n in tb.type_names)
    res["ari"] = adjusted_rand_index(true_types, fit.labels) if fit.thetas.shape[0] > 1 else 0.0
    return res
