"""Part 1 of ``pluralign sims aggregation``: the bias / variance trade-off of personalized rewards with a
shared representation (seed 003) against individual, pooled and clustered reward models, as the number
of labels per user shrinks.

Ground truth: users with low-rank linear rewards r_i(x) = theta_i^T A x (:func:`synthetic_low_rank`,
tastes in a few groups plus individual spread). For each labels-per-user m, ``reps`` training sets are
drawn from the SAME users (fresh comparisons and labels); every model predicts the probability
p_hat = sigma(r_hat_i(a) - r_hat_i(b)) on a fixed set of test comparisons per user, and

    MSE = bias^2 + variance,  bias^2 = mean_c (E_r p_hat_c - p*_c)^2,  variance = mean_c Var_r p_hat_c

over test cells c (user x comparison) and replicates r (exact decomposition, ddof = 0). Also reported:
agreement of sign(r_hat difference) with the true preference (accuracy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pluralign.choice import log_sigmoid
from pluralign.em import EMConfig
from pluralign.personalization import (
    ClusteredReward,
    IndividualReward,
    RewardModelConfig,
    SharedRepresentationReward,
    synthetic_low_rank,
)
from pluralign.seeding import derive, derive_int

MODELS = ("pooled", "individual", "shared", "clustered")


@dataclass
class PersonalizationSettings:
    """Part 1: the users' ground truth, the labels-per-user grid and the fitted models."""

    n_users: int = 60
    """Users, each with a low-rank linear reward."""
    dim: int = 20
    """Dimension of the comparison features."""
    rank: int = 3
    """Rank of the true and of the fitted shared representation."""
    n_groups: int = 3
    """Taste groups of the ground truth (and components of the clustered model)."""
    spread: float = 0.3
    """Individual spread of the tastes around their group's centre (relative to ``scale``)."""
    scale: float = 2.0
    """Scale of the true rewards."""
    labels_per_user: tuple[int, ...] = (2, 5, 10, 25, 50)
    """Training comparisons per user (one cell each)."""
    reps: int = 3
    """Training sets drawn per labels-per-user (the replicates of the bias / variance decomposition)."""
    test_per_user: int = 50
    """Held-out comparisons per user."""
    l2_individual: float = 1.0
    """Ridge penalty of the individual (one model per user) rewards."""
    em_restarts: int = 1
    """EM restarts of the clustered reward."""
    em_iter: int = 20
    """EM iterations of the clustered reward."""


def _fit_models(train, cfg: PersonalizationSettings, seed: int) -> dict:
    rc = RewardModelConfig(rep_dim=cfg.rank, seed=seed)
    shared = SharedRepresentationReward(rc).fit(train)
    out = {
        "pooled": SharedRepresentationReward(rc, pooled=True).fit(train),
        "individual": IndividualReward(l2=cfg.l2_individual).fit(train),
        "shared": shared,
    }
    em = EMConfig(n_components=cfg.n_groups, assignment="soft", n_restarts=cfg.em_restarts,
                  max_iter=cfg.em_iter, tol=1e-6, seed=seed)
    out["clustered"] = ClusteredReward(em, representation=shared, max_iter=50).fit(train)
    return out


def run_cell(cfg: PersonalizationSettings, m: int, seed: int) -> dict:
    """All replicates at labels-per-user m; returns per-model bias^2, variance, mse, accuracy.

    Streams (:mod:`pluralign.seeding`): the users and the test set are the same for every m
    (``derive(seed, "personalization", ...)``); replicate r's training set is ``derive(seed, r,
    "personalization", "train", m)`` and its models are fitted from ``derive_int(seed, r, "personalization",
    "fit")``."""
    syn = synthetic_low_rank(cfg.n_users, 1, dim=cfg.dim, rank=cfg.rank, n_groups=cfg.n_groups,
                             spread=cfg.spread, scale=cfg.scale, seed=derive_int(seed, "personalization", "truth"))
    test = syn.sample(cfg.test_per_user, rng=derive(seed, "personalization", "test"))
    Xd = test.features[:, 0] - test.features[:, 1]
    true_diff = syn.reward(Xd, test.user)
    p_true = np.exp(log_sigmoid(true_diff))  # P(a > b) = sigma(r(a) - r(b))
    preds = {k: [] for k in MODELS}
    for r in range(cfg.reps):
        train = syn.sample(m, rng=derive(seed, r, "personalization", "train", m))
        fitted = _fit_models(train, cfg, seed=derive_int(seed, r, "personalization", "fit"))
        for name, model in fitted.items():
            preds[name].append(model.reward(Xd, test.user))
    out = {}
    for name, diffs in preds.items():
        D = np.stack(diffs)  # reps x cells
        P = np.exp(log_sigmoid(D))
        mean_p = P.mean(axis=0)
        out[name] = {
            "bias2": float(np.mean((mean_p - p_true) ** 2)),
            "variance": float(np.mean(P.var(axis=0))),
            "mse": float(np.mean((P - p_true) ** 2)),
            "accuracy": float(np.mean(np.sign(D) == np.sign(true_diff))),
        }
    return out


def cells(cfg: PersonalizationSettings, seed: int) -> list[tuple[str, dict, object, tuple]]:
    """(key, config, function, arguments) of every cell: one per labels-per-user."""
    return [(f"personalization_m={m}_seed={seed}", {"labels_per_user": m}, run_cell, (cfg, m, seed))
            for m in cfg.labels_per_user]


def summarize(cfg: PersonalizationSettings, seed: int, result) -> dict:
    """The part's results from its finished cells (``result(key)`` reads one cell's numbers)."""
    rows = [{"labels_per_user": c["labels_per_user"], **result(k)} for k, c, _, _ in cells(cfg, seed)]
    return {"config": asdict(cfg), "rows": rows}
