"""Shared pieces of the EM-DPO studies (:mod:`pluralign.sims.mpi`, :mod:`pluralign.sims.mmra`): their settings
and profiles, the MPI testbed of a run, fitting every method on one sampled data set, per-type metrics on
the exact tabular testbed.

Seeds (:mod:`pluralign.seeding`): the MPI testbed of base seed s (its random reference policy) is seeded by
``derive_int(s, "testbed")`` and shared by every replicate and by both studies; EM-DPO of replicate r by
``derive_int(s, r, "em_dpo")``, Cluster DPO's k-means by ``derive_int(s, r, "cluster_dpo")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    mpi_testbed,
    true_label_dpo,
    vanilla_dpo,
)
from pluralign.emdpo.tabular import REGRET_DEFINITION, check_regret_definition
from pluralign.runs import Profile
from pluralign.seeding import derive_int


@dataclass
class EMDPOSettings:
    """Scale of one EM-DPO study on the tabular MPI testbed (written to config.json)."""

    n_users: int = 2000
    """Users, one preference each (at least 10)."""
    n_seeds: int = 5
    """Independent data sets / fits per cell (replicate r of base seed s is seeded by derive(s, r, ...))."""
    n_restarts: int = 2
    """EM restarts (best marginal likelihood wins)."""
    max_iter: int = 60
    """EM iteration cap."""
    tol: float = 1e-7
    """EM relative tolerance."""
    beta: float = 0.1
    """DPO / KL temperature."""
    n_prompts: int = 50
    """Paraphrased prompts."""
    ref_scale: float = 0.5
    """Spread of the random reference policy's logits."""
    init: str = "kmeans++"
    """EM-DPO initialisation: kmeans++ on response embeddings, or random."""
    inventory: str = "120"
    """MPI item inventory: 120 (mpi_120.csv) or 1k (mpi_1k.csv, de-duplicated)."""
    data_dir: Path | None = None
    """Folder with the MPI csv files (None: $PLURALIGN_MPI_DIR, else mpi/ under $PLURALIGN_DATA, else shipped)."""
    regret: str = REGRET_DEFINITION
    """The regret the cells hold (:data:`pluralign.emdpo.tabular.REGRET_DEFINITION`; only "eq3")."""

    def __post_init__(self):
        check_regret_definition(self.regret)
        if int(self.n_users) < 10:
            raise ValueError(f"n_users: need >= 10 users, got {self.n_users}")
        if int(self.n_seeds) < 1:
            raise ValueError(f"n_seeds: must be >= 1, got {self.n_seeds}")
        if self.init not in ("kmeans++", "random"):
            raise ValueError(f"init: expected 'kmeans++' or 'random', got {self.init!r}")
        if self.inventory not in ("120", "1k"):
            raise ValueError(f"inventory: expected '120' or '1k', got {self.inventory!r}")
        if self.data_dir is not None:
            self.data_dir = Path(self.data_dir)


PROFILES = {
    Profile.smoke: EMDPOSettings(n_users=200, n_seeds=1, n_restarts=1, max_iter=3),
    Profile.quick: EMDPOSettings(n_users=2000, n_seeds=5, n_restarts=2, max_iter=50),
    Profile.paper: EMDPOSettings(n_users=10000, n_seeds=10, n_restarts=5, max_iter=300, tol=1e-8),
}
"""The EM-DPO scale of each profile (the MMRA study extends these settings)."""


def make_mpi_testbed(items, s: EMDPOSettings, seed: int) -> TabularTestbed:
    """The MPI testbed of base ``seed`` (reference policy seeded by ``derive_int(seed, "testbed")``)."""
    return mpi_testbed(items, n_prompts=s.n_prompts, beta=s.beta, ref_scale=s.ref_scale,
                       seed=derive_int(seed, "testbed"))


def fit_em_dpo(tb: TabularTestbed, policy: LogLinearPolicy, choices, s: EMDPOSettings, seed: int, rep: int,
               feats=None) -> EMDPO:
    """EM-DPO with K = the testbed's number of types on one data set (replicate ``rep`` of base ``seed``)."""
    torch.set_num_threads(1)
    if s.init != "kmeans++":
        feats = None
    elif feats is None:
        feats = tb.user_features(choices)
    return EMDPO(policy, tb.K, init=s.init, n_restarts=s.n_restarts, max_iter=s.max_iter, tol=s.tol,
                 seed=derive_int(seed, rep, "em_dpo")).fit(choices, feats)


def fit_all_methods(tb: TabularTestbed, policy: LogLinearPolicy, sample, s: EMDPOSettings, seed: int,
                    rep: int) -> dict[str, PolicyFit]:
    """EM-DPO, Cluster DPO, vanilla DPO and True-label DPO on one data set (replicate ``rep`` of ``seed``)."""
    ch = sample.choices
    em = fit_em_dpo(tb, policy, ch, s, seed, rep, tb.user_features(ch))
    # Cluster DPO (App. D.2): k-means on each user's mean psi of the preferred responses; K = tb.K here
    # (the seed prints 2 sub-groups; the figure registry names the difference)
    out = {
        "em_dpo": em.as_fit(),
        "cluster_dpo": cluster_dpo(policy, ch, tb.preferred_features(ch), tb.K,
                                   seed=derive_int(seed, rep, "cluster_dpo")),
        "vanilla_dpo": vanilla_dpo(policy, ch),
        "true_label_dpo": true_label_dpo(policy, ch, sample.types, tb.K),
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
        res[name] = tb.type_metrics(logpis[m[k]], k)
    res["max_regret_matched"] = max(res[n]["regret"] for n in tb.type_names)
    res["ari"] = adjusted_rand_index(true_types, fit.labels) if fit.thetas.shape[0] > 1 else 0.0
    return res
