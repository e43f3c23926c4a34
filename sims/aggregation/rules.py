"""Parts 2-4 of ``pluralign sims aggregation`` (seed 003): social-choice aggregation of user rewards,
opinion pools, and the misreport search against the VCG mechanisms.

* social choice — a population of two opposed groups (split pi) plus individual spread, items on a
  circle; each rule of the power-mean family (rewards normalized per user to [0, 1], i.e. measured from
  each user's worst item, the disagreement point), leximin and Borda picks one item; reported: the
  minority's and the majority's mean welfare and the worst-off user's welfare.
* pooling — on random profiles: the largest violation of unanimity (every member of the family), of
  external Bayesianity (log pool vs linear pool) and of the marginalization property (linear vs log).
* mechanism — random instances (n labelers, d answers, true opinions Dirichlet); random and gradient
  searches for labeler 0's best misreport, with and without the VCG payments, for the quadratic
  (linear-pool) mechanism and for a finite-outcome (simplex grid, L1) mechanism.
"""

from __future__ import annotations

import numpy as np

from pluralign.aggregation.mechanism import (
    FiniteVCG,
    QuadraticVCG,
    gradient_misreport_search,
    random_misreport_search,
    simplex_grid,
)
from pluralign.aggregation.pooling import bayes_update, coarsen, linear_pool, log_pool, power_pool
from pluralign.aggregation.social_choice import social_argmax

RULE_LIST = [("utilitarian", 1.0), ("alpha=0.5", 0.5), ("nash", 0.0), ("alpha=-1", -1.0), ("alpha=-5", -5.0),
             ("maximin", -np.inf), ("leximin", "leximin"), ("borda", "borda")]


def social_choice(cfg: dict, seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 2])
    rows = []
    a = np.linspace(0, 2 * np.pi, cfg["n_items"], endpoint=False)
    items = np.stack([np.cos(a), np.sin(a)], axis=1)
    for pi in cfg["splits"]:
        n = cfg["n_users"]
        n_maj = int(round(pi * n))
        grp = np.r_[np.zeros(n_maj, dtype=int), np.ones(n - n_maj, dtype=int)]
        B = np.array([[cfg["b"], cfg["c"]], [-cfg["b"], cfg["c"]]])
        W = B[grp] + cfg["within_sd"] * rng.standard_normal((n, 2))
        R = W @ items.T
        U = (R - R.min(axis=1, keepdims=True)) / (R.max(axis=1, keepdims=True) - R.min(axis=1, keepdims=True))
        row = {"pi": pi}
        for name, rule in RULE_LIST:
            j = social_argmax(U, rule)
            row[name] = {"majority": float(U[grp == 0, j].mean()), "minority": float(U[grp == 1, j].mean()),
                         "worst_user": float(U[:, j].min()), "item_angle_deg": float(np.degrees(a[j]))}
        rows.append(row)
    return rows


def pooling(cfg: dict, seed: int) -> dict:
    rng = np.random.default_rng([seed, 3])
    alphas = [1.0, 0.5, 0.0, -1.0, -np.inf]
    out = {"unanimity_max_dev": 0.0, "log_pool_eb_max_dev": 0.0, "linear_pool_eb_max_dev": 0.0,
           "linear_pool_marginal_max_dev": 0.0, "log_pool_marginal_max_dev": 0.0, "n_profiles": cfg["n_profiles"]}
    for _ in range(cfg["n_profiles"]):
        n, K = int(rng.integers(2, 6)), int(rng.integers(3, 7))
        P = rng.dirichlet(np.ones(K), size=n)
        w = rng.dirichlet(np.ones(n))
        p = rng.dirichlet(np.ones(K))
        for al in alphas:
            out["unanimity_max_dev"] = max(out["unanimity_max_dev"], float(np.abs(power_pool(np.tile(p, (n, 1)), al, w) - p).max()))
        lik = rng.uniform(0.05, 1.0, size=K)
        for name, pool in (("log_pool", log_pool), ("linear_pool", linear_pool)):
            a_ = pool(bayes_update(P, lik), w)
            b_ = bayes_update(pool(P, w), lik)[0]
            out[f"{name}_eb_max_dev"] = max(out[f"{name}_eb_max_dev"], float(np.abs(a_ - b_).max()))
        groups = np.r_[0, np.arange(K - 1)]  # merge answers 0 and 1
        for name, pool in (("linear_pool", linear_pool), ("log_pool", log_pool)):
            a_ = coarsen(pool(P, w), groups)
            b_ = pool(coarsen(P, groups), w)
            out[f"{name}_marginal_max_dev"] = max(out[f"{name}_marginal_max_dev"], float(np.abs(a_ - b_).max()))
    return out


def mechanism(cfg: dict, seed: int) -> dict:
    """Misreport searches on cfg['instances_per_shape'] instances for every (n, d) in cfg['shapes']."""
    rng = np.random.default_rng([seed, 4])
    res = {"quadratic": {"with_payments": [], "without_payments": []}, "finite_l1": {"with_payments": [], "without_payments": []}}
    for n, d in cfg["shapes"]:
        B = cfg["instances_per_shape"]
        T = rng.dirichlet(np.ones(d), size=(B, n))
        w = rng.uniform(0.5, 2.0, size=n) if cfg["random_weights"] else None
        quad = QuadraticVCG(n, weights=w)
        fin = FiniteVCG(simplex_grid(d, cfg["grid_resolution"]), n, distance="l1", weights=w)
        for pay in (True, False):
            key = "with_payments" if pay else "without_payments"
            g_r, _ = random_misreport_search(quad, T, 0, n_samples=cfg["random_samples"], rng=rng, payments=pay)
            g_g, _ = gradient_misreport_search(quad, T, 0, n_starts=cfg["grad_starts"], steps=cfg["grad_steps"],
                                               seed=int(rng.integers(2**31)), payments=pay)
            res["quadratic"][key].append(np.maximum(g_r, g_g))
            g_f, _ = random_misreport_search(fin, T, 0, n_samples=cfg["random_samples"], rng=rng, payments=pay)
            res["finite_l1"][key].append(g_f)
    out = {}
    for mech, d_ in res.items():
        wp, wo = np.concatenate(d_["with_payments"]), np.concatenate(d_["without_payments"])
        out[mech] = {
            "n_instances": int(wp.size),
            "max_gain_with_payments": float(wp.max()),
            "n_profitable_with_payments(>1e-9)": int((wp > 1e-9).sum()),
            "fraction_profitable_without_payments(>1e-9)": float((wo > 1e-9).mean()),
            "median_gain_without_payments": float(np.median(wo)),
            "max_gain_without_payments": float(wo.max()),
        }
    return out


def run(cfg: dict, seed: int, store, progress) -> dict:
    out = {}
    for part, fn in progress([("social_choice", social_choice), ("pooling", pooling), ("mechanism", mechanism)], desc="rules"):
        key = f"rules_{part}_seed={seed}"
        if not store.done(key):
            store.save(key, cfg[part], {"result": fn(cfg[part], seed)})
        out[part] = store.load(key)["metrics"]["result"]
    return out
