"""Evaluation helpers of the PAL simulation (seed 002, sec. 4.2, App. D.2 / D.3.1): prototype recovery
after alignment, few-shot curves for random and active queries, and the active/random sample ratio."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from pluralign.data import Choices
from pluralign.pal import PALRewardModel, active_query_order, random_query_order

__all__ = ["prototype_recovery", "fewshot_curves", "samples_to_reach", "active_ratio"]


def prototype_recovery(learned: np.ndarray, true: np.ndarray, metric: np.ndarray | None = None) -> dict:
    """Hungarian matching of learned to true prototypes by distance in the item space, measured through
    the true map: ||A*(p_hat - p)|| (``metric`` = A*; plain Euclidean when None).

    Alignment: PAL-A's ideal points live in the item space, where comparisons identify them: the score
    -||A(x - a)||^2 = -x'Mx + 2x'Ma + const (M = A'A) determines M up to scale and then M a, whatever
    orthogonal / scale ambiguity the learned map has -- so no Procrustes step is needed, only the
    permutation of the prototypes. What comparisons pin down is a *through M*: directions the true map
    nearly annihilates (a random Gaussian A* has small singular values) barely affect any choice and are
    barely identified, so distances are measured in the true metric, ||A*(.)||, and reported relative to
    the true prototypes' minimum separation in the same metric. With K != K* the min(K, K*) best pairs
    are matched.
    """
    learned, true = np.atleast_2d(learned), np.atleast_2d(true)
    if learned.shape[1] != true.shape[1]:
        raise ValueError(f"learned: dimension {learned.shape[1]} vs true {true.shape[1]}")
    if metric is not None:
        metric = np.asarray(metric, float)
        learned, true = learned @ metric.T, true @ metric.T
    D = np.linalg.norm(learned[:, None] - true[None], axis=-1)
    r, c = linear_sum_assignment(D)
    sep = np.linalg.norm(true[:, None] - true[None], axis=-1)
    min_sep = float(sep[~np.eye(len(true), dtype=bool)].min()) if len(true) > 1 else float("nan")
    d = D[r, c]
    return {"matched_dist": d.tolist(), "max_dist": float(d.max()), "mean_dist": float(d.mean()),
            "min_true_separation": min_sep, "max_dist_over_min_sep": float(d.max() / min_sep),
            "assignment": c.tolist()}


def _subset_by_user(pool: Choices, picks: list[np.ndarray], m: int) -> Choices:
    idx = np.concatenate([ix[:m] for ix in picks])
    return pool.subset(np.sort(idx), reindex_users=False)


def fewshot_curves(model: PALRewardModel, pool: Choices, test: Choices, ms: list[int], *, seed: int,
                   active: bool = True, n_particles: int = 1000, localize_epochs: int = 300) -> dict:
    """Unseen-user accuracy on ``test`` after localizing w on the first m pool queries of each user,
    the queries picked at random or actively (nested orders, so larger m extends smaller m), plus the
    zero-shot accuracy with the population-average weights."""
    ms = sorted(int(m) for m in ms)
    per_user = pool.user_indices()
    if ms and ms[-1] > min(len(ix) for ix in per_user):
        raise ValueError(f"ms: m = {ms[-1]} exceeds the smallest per-user pool")
    rng = np.random.default_rng(seed)
    out = {"m": ms, "zero_shot": model.accuracy(test, weights=model.population_weights())}
    orders = {"random": [ix[random_query_order(pool.subset(ix), ms[-1], rng)] for ix in per_user]}
    if active:
        orders["active"] = [ix[active_query_order(model, pool.subset(ix), ms[-1], n_particles=n_particles,
                                                  seed=rng)[0]] for ix in per_user]
    for name, picks in orders.items():
        accs = []
        for m in ms:
            W = model.localize(_subset_by_user(pool, picks, m), epochs=localize_epochs)
            accs.append(model.accuracy(test, weights=W))
        out[name] = accs
    return out


def samples_to_reach(ms, accs, target: float) -> float:
    """Smallest m (linear interpolation between grid points) with accuracy >= target; inf if never."""
    ms, accs = np.asarray(ms, float), np.asarray(accs, float)
    if accs[0] >= target:
        return float(ms[0])
    for j in range(1, len(ms)):
        if accs[j] >= target:
            a0, a1 = accs[j - 1], accs[j]
            return float(ms[j - 1] + (target - a0) / (a1 - a0) * (ms[j] - ms[j - 1]))
    return float("inf")


def active_ratio(ms, acc_random, acc_active) -> list[dict]:
    """For every grid m: the m the active curve needs to match random's accuracy at m, and the ratio."""
    rows = []
    for m, a in zip(ms, acc_random):
        m_act = samples_to_reach(ms, acc_active, a)
        rows.append({"m_random": int(m), "acc_random": float(a), "m_active": m_act, "ratio": m_act / m})
    return rows
