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

import numpy as np
from scipy.special import expit

from pluralign.em import EMConfig
from pluralign.personalization import (
    ClusteredReward,
    IndividualReward,
    RewardModelConfig,
    SharedRepresentationReward,
    synthetic_low_rank,
)

MODELS = ("pooled", "individual", "shared", "clustered")


def _fit_models(train, cfg: dict, seed: int) -> dict:
    rc = RewardModelConfig(rep_dim=cfg["rank"], seed=seed)
    shared = SharedRepresentationReward(rc).fit(train)
    out = {
        "pooled": SharedRepresentationReward(rc, pooled=True).fit(train),
        "individual": IndividualReward(l2=cfg["l2_individual"]).fit(train),
        "shared": shared,
    }
    em = EMConfig(n_components=cfg["n_groups"], assignment="soft", n_restarts=cfg["em_restarts"],
                  max_iter=cfg["em_iter"], tol=1e-6, seed=seed)
    out["clustered"] = ClusteredReward(em, representation=shared, max_iter=50).fit(train)
    return out


def run_cell(cfg: dict, m: int, seed: int) -> dict:
    """All replicates at labels-per-user m; returns per-model bias^2, variance, mse, accuracy."""
    syn = synthetic_low_rank(cfg["n_users"], 1, dim=cfg["dim"], rank=cfg["rank"], n_groups=cfg["n_groups"],
                             spread=cfg["spread"], scale=cfg["scale"], seed=seed)
    test = syn.sample(cfg["test_per_user"], rng=seed + 10_000)
    Xd = test.features[:, 0] - test.features[:, 1]
    true_diff = syn.reward(Xd, test.user)
    p_true = expit(true_diff)
    preds = {k: [] for k in MODELS}
    for r in range(cfg["reps"]):
        train = syn.sample(m, rng=np.random.default_rng([seed, m, r]))
        fitted = _fit_models(train, cfg, seed=seed + r)
        for name, model in fitted.items():
            preds[name].append(model.reward(Xd, test.user))
    out = {}
    for name, diffs in preds.items():
        D = np.stack(diffs)  # reps x cells
        P = expit(D)
        mean_p = P.mean(axis=0)
        out[name] = {
            "bias2": float(np.mean((mean_p - p_true) ** 2)),
            "variance": float(np.mean(P.var(axis=0))),
            "mse": float(np.mean((P - p_true) ** 2)),
            "accuracy": float(np.mean(np.sign(D) == np.sign(true_diff))),
        }
    return out


def run(cfg: dict, seed: int, store, progress) -> dict:
    rows = []
    for m in progress(cfg["labels_per_user"], desc="personalization"):
        key = f"personalization_m={m}_seed={seed}"
        if not store.done(key):
            store.save(key, {"labels_per_user": m, **cfg}, run_cell(cfg, m, seed))
        rows.append({"labels_per_user": m, **store.load(key)["metrics"]})
    return {"config": cfg, "rows": rows}
