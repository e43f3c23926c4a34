"""Evaluation helpers of the PAL simulation (seed 002, sec. 4.2, App. D.2 / D.3.1): prototype recovery
after alignment, anchored prototype estimates, few-shot curves for random and active queries, and the
active/random sample ratio."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from pluralign.choice import choice_loglik
from pluralign.data import Choices
from pluralign.pal import PALRewardModel, active_query_order, random_query_order
from pluralign.seeding import as_generator

__all__ = ["prototype_recovery", "anchored_prototypes", "oracle_map_group_points", "fewshot_curves",
           "samples_to_reach", "active_ratio"]


def prototype_recovery(learned: np.ndarray, true: np.ndarray, metric: np.ndarray | None = None) -> dict:
    """Hungarian matching of learned to true prototypes by the distance ||metric (p_hat - p)|| in the item
    space (plain Euclidean when ``metric`` is None), reported relative to the true prototypes' minimum
    separation in the same metric.

    Alignment: PAL-A's ideal points live in the item space, where comparisons identify them: the score
    -||A(x - a)||^2 = -x'Mx + 2x'Ma + const (M = A'A) determines M up to scale and then M a, whatever
    orthogonal / scale ambiguity the learned map has -- so no Procrustes step is needed, only the
    permutation of the prototypes. What comparisons pin down is a *through M*, so ``pluralign.sims.pal_sim`` binds
    on ``metric`` = M* = A*'A* (the utility metric: distances are the rms differences of the utilities the
    prototypes induce, up to sqrt(d/4)) and also reports ``metric`` = A*, which under-weights the
    directions the data inform best relative to the weak ones. With K != K* the min(K, K*) best pairs are
    matched.
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


def anchored_prototypes(weights: np.ndarray, ideal: np.ndarray, estimator: str = "group_mean",
                        embedded: np.ndarray | None = None, seed: int = 0) -> dict:
    """Anchored prototype estimates from a fitted PAL-A's user weights (N, K) and learned ideal points
    (N, d) -- what choices identify when PAL-A's raw prototypes are not (see :mod:`pluralign.sims.pal_sim`).

    * ``purest``     -- for each learned prototype k, the ideal point of the single user with the largest
      weight on k (one user's estimate: its full per-user noise);
    * ``group_mean`` -- for each k, the mean learned ideal point of the users whose *dominant* weight is
      k (argmax_k w_ik), i.e. a group estimate whose per-user noise shrinks as 1/sqrt(group size); a k
      that dominates no user falls back to its purest user (listed in ``fallback``);
    * ``cluster_mean`` -- the users grouped by K-means (K clusters, k-means++ with 10 starts, integer
      ``seed``, e.g. from ``pluralign.seeding.derive_int``)
      of their ideal points as the model sees them, ``embedded`` (N, D) = f(a_i) (default: the ideal
      points themselves), and each cluster's mean learned ideal point. Unlike the dominant weight it
      does not assume the learner put each group near a vertex: the learned simplex can hold a group at
      an edge midpoint (weights such as (0.47, 0.49, 0.04)), which splits or merges argmax groups.

    Under the anchor condition (partition setting: every true prototype is a group of users sitting on
    it) both estimate the true prototypes; in the mixture setting the group mean is pulled toward the
    centre of its region of the simplex. Returns ``{"points": (K, d), "group_size": [...], "fallback": [...],
    "labels": (N,) the users' groups (dominant weight or cluster)}``.
    """
    W, I = np.asarray(weights, float), np.asarray(ideal, float)
    if W.ndim != 2 or I.ndim != 2 or W.shape[0] != I.shape[0]:
        raise ValueError(f"weights/ideal: need (N, K) and (N, d) with the same N, got {W.shape}, {I.shape}")
    if estimator not in ("purest", "group_mean", "cluster_mean"):
        raise ValueError(f"estimator: expected 'purest', 'group_mean' or 'cluster_mean', got {estimator!r}")
    K = W.shape[1]
    purest = W.argmax(0)
    dominant = W.argmax(1)
    if estimator == "cluster_mean":
        from sklearn.cluster import KMeans

        Z = I if embedded is None else np.asarray(embedded, float)
        if Z.ndim != 2 or Z.shape[0] != I.shape[0]:
            raise ValueError(f"embedded: need (N, D) with N = {I.shape[0]}, got {Z.shape}")
        if len(Z) < K:
            raise ValueError(f"weights: need at least K = {K} users to form K clusters, got {len(Z)}")
        dominant = KMeans(K, n_init=10, random_state=seed).fit(Z).labels_
        estimator = "group_mean"  # each cluster's mean (clusters are never empty)
    points, sizes, fallback = [], [], []
    for k in range(K):
        members = np.flatnonzero(dominant == k)
        if estimator == "purest" or len(members) == 0:
            points.append(I[purest[k]])
            sizes.append(1)
            if estimator == "group_mean":
                fallback.append(k)
        else:
            points.append(I[members].mean(0))
            sizes.append(int(len(members)))
    return {"points": np.stack(points), "group_size": sizes, "fallback": fallback, "labels": np.asarray(dominant)}


def oracle_map_group_points(choices: Choices, groups: np.ndarray, A: np.ndarray, n_groups: int) -> np.ndarray:
    """Diagnostic floor (uses the truth): each group's ideal point fitted by the multinomial logit with
    utilities -c ||A*(x - a)||^2, the TRUE map A* known and only a and the scale c free (float64 L-BFGS),
    on the pooled comparisons of the users in the group (``groups[user]``). It shows how well the data
    pin the group's ideal point when the map is not the error source. Returns (n_groups, d); a group
    without comparisons gets NaN."""
    X = torch.as_tensor(np.asarray(choices.features, float))
    chosen = torch.as_tensor(choices.chosen, dtype=torch.long)
    At = torch.as_tensor(np.asarray(A, float))
    g = np.asarray(groups)[choices.user]
    out = np.full((n_groups, X.shape[-1]), np.nan)
    fx_all = X @ At.T
    for k in range(n_groups):
        sel = torch.as_tensor(g == k)
        if not bool(sel.any()):
            continue
        fx, ch = fx_all[sel], chosen[sel]
        a = torch.zeros(X.shape[-1], dtype=torch.float64, requires_grad=True)
        log_c = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([a, log_c], max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            u = -log_c.exp() * ((fx - a @ At.T) ** 2).sum(-1)
            loss = -choice_loglik(u, ch, validate=False).mean()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        out[k] = a.detach().numpy()
    return out


def _subset_by_user(pool: Choices, picks: list[np.ndarray], m: int) -> Choices:
    idx = np.concatenate([ix[:m] for ix in picks])
    return pool.subset(np.sort(idx), reindex_users=False)


def fewshot_curves(model: PALRewardModel, pool: Choices, test: Choices, ms: list[int], *, seed: int,
                   active: bool = True, n_particles: int = 1000, localize_epochs: int = 300) -> dict:
    """Unseen-user accuracy on ``test`` after localizing w on the first m pool queries of each user,
    the queries picked at random or actively (nested orders, so larger m extends smaller m), plus the
    zero-shot accuracy with the population-average weights. ``seed``: an integer or a Generator (e.g.
    ``pluralign.seeding.derive(seed, rep, "fewshot")``), which draws the random orders and the active
    search's particles."""
    ms = sorted(int(m) for m in ms)
    per_user = pool.user_indices()
    if ms and ms[-1] > min(len(ix) for ix in per_user):
        raise ValueError(f"ms: m = {ms[-1]} exceeds the smallest per-user pool")
    rng = as_generator(seed)
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
