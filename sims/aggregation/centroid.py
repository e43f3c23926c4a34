"""Part 5 of ``pluralign sims aggregation`` (seed 004): one Bradley-Terry model fitted by maximum
likelihood to a mixture of opposed groups lands on a centroid that serves nobody; K = 2 clustering
serves both groups; with very few labels per user, per-user models overfit.

Groups A (share pi) and B have linear rewards beta_A = (b, c, 0, ...), beta_B = (-b, c, 0, ...): opposed
on a contested axis, mildly agreeing on a second one.

(a) Closed form vs simulation. Comparisons are asked on the saturated design x in {e_1, e_2} (each with
    probability 1/2), where the pooled population MLE is exactly
    theta_j = logit(pi sigma(beta_Aj) + (1 - pi) sigma(beta_Bj))  (:func:`pooled_bt_saturated`).
    N labels are simulated (group of each labeler, then its Bradley-Terry label); the pooled MLE is fitted
    with the EM engine's latent-class logit at K = 1 (a generic L-BFGS MLE) on records weighted by their
    counts — the same maximizer as on the N individual records. A literal per-record fit at moderate N is
    reported too.
(b) Minority welfare vs split pi in [0.5, 0.9]: the deployment menu is a circle of items phi(y) in R^2;
    each model's policy is the KL-regularized optimum pi(y) propto exp(r_hat(y) / tau) against a uniform
    reference (and the argmax policy); a user's welfare is the normalized expected true reward
    (E_pi r - min r) / (max r - min r) in [0, 1]. Pooled (population closed form, and fitted) vs K = 2
    clustering fitted by :class:`pluralign.em.MixtureEM` vs each group's own reward (oracle).
(c) Welfare against labels per user: users' tastes scatter around their group's beta in d dimensions,
    comparisons of random items; pooled, K = 2 clustered and individual models; welfare of every user
    aggregated with :mod:`pluralign.welfare` (utilitarian / 10th percentile / Nash of welfare + shift,
    the shift in the config because argmax welfare can be exactly 0) and the minority mean.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logsumexp

from pluralign.data import Choices
from pluralign.em import EMConfig, LatentClassLogit, MixtureEM
from pluralign.personalization import IndividualReward, pooled_bt_saturated
from pluralign.welfare import egalitarian_welfare, nash_welfare, utilitarian_welfare


def group_betas(cfg: dict, d: int = 2) -> np.ndarray:
    B = np.zeros((2, d))
    B[:, 0] = [cfg["b"], -cfg["b"]]
    B[:, 1] = cfg["c"]
    return B


def fit_pooled(choices: Choices, l2: float = 0.0) -> np.ndarray:
    """The pooled Bradley-Terry MLE: the EM engine's latent-class logit with one class."""
    model = LatentClassLogit(choices, l2=l2)
    return MixtureEM(model, EMConfig(n_components=1, max_iter=2, seed=0)).fit().params_[0]


def _saturated_records(counts: np.ndarray, wins: np.ndarray, d: int) -> Choices:
    """Weighted records: comparison j in {e_1..e_d} with 'first wins' / 'second wins' weights."""
    X = np.zeros((2 * d, 2, d))
    for j in range(d):
        X[2 * j, 0, j] = X[2 * j + 1, 0, j] = 1.0  # first item = +e_j, second = 0
    chosen = np.tile([0, 1], d)
    w = np.stack([wins, counts - wins], axis=1).reshape(-1).astype(float)
    keep = w > 0
    return Choices(user=np.zeros(int(keep.sum()), dtype=int), features=X[keep], chosen=chosen[keep],
                   weight=w[keep] / w.sum())


def simulate_saturated(cfg: dict, pi: float, N: int, rng: np.random.Generator) -> np.ndarray:
    """Pooled MLE on N simulated labels (counts per comparison x group, then Bradley-Terry wins)."""
    B, d = group_betas(cfg), 2
    p_group = expit(B)  # (groups, d): P(first wins | e_j, group)
    n_jg = rng.multinomial(N, np.outer(np.full(d, 1.0 / d), [pi, 1 - pi]).reshape(-1)).reshape(d, 2)
    wins = rng.binomial(n_jg, p_group.T).sum(axis=1)
    return fit_pooled(_saturated_records(n_jg.sum(axis=1), wins, d))


def simulate_records(cfg: dict, pi: float, N: int, rng: np.random.Generator) -> np.ndarray:
    """The literal version: N individual records (labeler group, comparison, label), unweighted fit."""
    B, d = group_betas(cfg), 2
    g = (rng.random(N) >= pi).astype(int)
    j = rng.integers(0, d, size=N)
    X = np.zeros((N, 2, d))
    X[np.arange(N), 0, j] = 1.0
    first = rng.random(N) < expit(B[g, j])
    return fit_pooled(Choices(user=np.zeros(N, dtype=int), features=X, chosen=np.where(first, 0, 1)))


def closed_form_table(cfg: dict, seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 5])
    rows = []
    B = group_betas(cfg)
    for pi in cfg["splits"]:
        w = np.array([pi, 1 - pi])
        theta = pooled_bt_saturated(np.eye(2), B, w)
        sim = simulate_saturated(cfg, pi, int(cfg["n_large"]), rng)
        rec = simulate_records(cfg, pi, int(cfg["n_records"]), rng)
        rows.append({
            "pi": pi,
            "closed_form": theta.tolist(),
            "average_of_betas": (w @ B).tolist(),
            "simulated_large_N": sim.tolist(),
            "abs_err_large_N": float(np.max(np.abs(sim - theta))),
            "N_large": int(cfg["n_large"]),
            "simulated_records": rec.tolist(),
            "abs_err_records": float(np.max(np.abs(rec - theta))),
            "N_records": int(cfg["n_records"]),
        })
    return rows


# --------------------------------------------------------------------------- welfare helpers
def policy(rewards: np.ndarray, tau: float | None) -> np.ndarray:
    """KL-regularized optimum against a uniform reference, pi propto exp(r / tau), over the last axis;
    tau None = argmax (ties split evenly)."""
    r = np.asarray(rewards, dtype=float)
    if tau is None:
        top = np.isclose(r, r.max(axis=-1, keepdims=True), rtol=0, atol=1e-12)
        return top / top.sum(axis=-1, keepdims=True)
    return np.exp(r / tau - logsumexp(r / tau, axis=-1, keepdims=True))


def normalized_welfare(pol: np.ndarray, true_r: np.ndarray) -> np.ndarray:
    """(E_pi r - min r) / (max r - min r), per user (rows)."""
    lo, hi = true_r.min(axis=-1), true_r.max(axis=-1)
    return ((pol * true_r).sum(axis=-1) - lo) / (hi - lo)


def circle_items(n: int) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _cluster(choices: Choices, cfg: dict, seed: int, l2: float):
    em = MixtureEM(LatentClassLogit(choices, l2=l2),
                   EMConfig(n_components=2, assignment="soft", n_restarts=cfg["em_restarts"], max_iter=cfg["em_iter"],
                            tol=1e-6, seed=seed)).fit()
    return em.params_, em.labels_


def split_welfare(cfg: dict, pi: float, seed: int) -> dict:
    """(b): minority / majority welfare under pooled, K = 2 clustered and oracle rewards at split pi."""
    rng = np.random.default_rng([seed, int(round(pi * 1000))])
    B, d = group_betas(cfg), 2
    n, m = cfg["n_users"], cfg["labels_per_user"]
    n_maj = int(round(pi * n))
    grp = np.r_[np.zeros(n_maj, dtype=int), np.ones(n - n_maj, dtype=int)]
    user = np.repeat(np.arange(n), m)
    j = rng.integers(0, d, size=user.size)
    X = np.zeros((user.size, 2, d))
    X[np.arange(user.size), 0, j] = 1.0
    first = rng.random(user.size) < expit(B[grp[user], j])
    data = Choices(user=user, features=X, chosen=np.where(first, 0, 1), n_users=n)
    items = circle_items(cfg["n_items"])
    true_r = items @ B.T  # (items, groups)
    theta_pop = pooled_bt_saturated(np.eye(2), B, np.array([pi, 1 - pi]))
    theta_fit = fit_pooled(data, l2=cfg["l2"])
    params, labels = _cluster(data, cfg, seed, cfg["l2"])
    out = {"pi": pi, "theta_pooled_population": theta_pop.tolist(), "theta_pooled_fit": theta_fit.tolist(),
           "cluster_params": params.tolist()}
    for tau_name, tau in (("kl", cfg["tau"]), ("argmax", None)):
        res = {}
        for model, w_user in (
            ("pooled_population", np.broadcast_to(theta_pop, (n, d))),
            ("pooled", np.broadcast_to(theta_fit, (n, d))),
            ("clustered", params[labels]),
            ("oracle", B[grp]),
        ):
            pol = policy(w_user @ items.T, tau)  # (n, items)
            wel = normalized_welfare(pol, true_r[:, grp].T)
            res[model] = {"majority": float(wel[grp == 0].mean()) if n_maj else None,
                          "minority": float(wel[grp == 1].mean()) if n_maj < n else None}
        out[tau_name] = res
    return out


def labels_welfare(cfg: dict, m: int, rep: int, seed: int) -> dict:
    """(c): welfare of pooled / clustered / individual models with m labels per user (d dimensions)."""
    rng = np.random.default_rng([seed, m, rep, 7])
    d, n = cfg["dim"], cfg["n_users"]
    B = group_betas(cfg, d)
    n_maj = int(round(cfg["pi"] * n))
    grp = np.r_[np.zeros(n_maj, dtype=int), np.ones(n - n_maj, dtype=int)]
    W = B[grp] + cfg["within_sd"] * rng.standard_normal((n, d))
    user = np.repeat(np.arange(n), m)
    X = rng.standard_normal((user.size, 2, d))
    first = rng.random(user.size) < expit(np.einsum("md,md->m", X[:, 0] - X[:, 1], W[user]))
    data = Choices(user=user, features=X, chosen=np.where(first, 0, 1), n_users=n)
    items = rng.standard_normal((cfg["n_items"], d))
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    true_r = W @ items.T  # (n, items)
    params, labels = _cluster(data, cfg, seed + rep, cfg["l2"])
    est = {
        "pooled": np.broadcast_to(fit_pooled(data, l2=cfg["l2"]), (n, d)),
        "clustered": params[labels],
        "individual": IndividualReward(l2=cfg["l2"]).fit(data).W_,
        "oracle": W,
    }
    out = {}
    for tau_name, tau in (("kl", cfg["tau"]), ("argmax", None)):
        out[tau_name] = {}
        for model, w_user in est.items():
            wel = normalized_welfare(policy(w_user @ items.T, tau), true_r)
            out[tau_name][model] = {
                "utilitarian": utilitarian_welfare(wel),
                "egalitarian": egalitarian_welfare(wel),
                # normalized welfare can be exactly 0 under the argmax policy: Nash of (u + shift)
                "nash": nash_welfare(wel, shift=cfg["nash_shift"]),
                "minority": float(wel[grp == 1].mean()),
            }
    return out


def run(cfg: dict, seed: int, store, progress) -> dict:
    key = f"centroid_closed_form_seed={seed}"
    if not store.done(key):
        store.save(key, cfg["closed_form"], {"rows": closed_form_table(cfg["closed_form"], seed)})
    closed = store.load(key)["metrics"]["rows"]
    splits = []
    for pi in progress(cfg["split"]["splits"], desc="centroid: splits"):
        key = f"centroid_split_pi={pi}_seed={seed}"
        if not store.done(key):
            store.save(key, cfg["split"], split_welfare(cfg["split"], pi, seed))
        splits.append(store.load(key)["metrics"])
    lab = cfg["labels"]
    per_m = []
    cells = [(m, r) for m in lab["labels_per_user"] for r in range(lab["reps"])]
    for m, r in progress(cells, desc="centroid: labels per user"):
        key = f"centroid_labels_m={m}_rep={r}_seed={seed}"
        if not store.done(key):
            store.save(key, lab, labels_welfare(lab, m, r, seed))
    for m in lab["labels_per_user"]:
        reps = [store.load(f"centroid_labels_m={m}_rep={r}_seed={seed}")["metrics"] for r in range(lab["reps"])]
        row = {"labels_per_user": m}
        for tau_name in ("kl", "argmax"):
            row[tau_name] = {
                model: {k: float(np.mean([rp[tau_name][model][k] for rp in reps])) for k in reps[0][tau_name][model]}
                for model in reps[0][tau_name]
            }
        per_m.append(row)
    return {"closed_form": closed, "splits": splits, "labels": per_m}
