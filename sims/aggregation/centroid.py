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

from dataclasses import asdict, dataclass, field

import numpy as np

from pluralign.choice import choice_probs, log_sigmoid, sample_btl
from pluralign.data import Choices
from pluralign.em import EMConfig, LatentClassLogit, MixtureEM
from pluralign.personalization import IndividualReward, pooled_bt_saturated
from pluralign.runs import mean_sem
from pluralign.seeding import derive, derive_int
from pluralign.welfare import egalitarian_welfare, nash_welfare, utilitarian_welfare

SPLITS = (0.5, 0.51, 0.6, 0.7, 0.8, 0.9)
"""Majority shares pi (50/50 .. 90/10, including 51/49)."""


@dataclass
class ClosedFormSettings:
    """(a): the closed-form pooled centroid against simulated pooled MLEs."""

    b: float = 2.0
    """Contested axis: beta_A = (b, c), beta_B = (-b, c)."""
    c: float = 0.5
    """Shared axis, on which both groups mildly agree."""
    splits: tuple[float, ...] = SPLITS
    """Majority shares pi (one cell each)."""
    n_large: int = 10**9
    """Labels of the large-N simulation (counts per comparison, fitted on weighted records)."""
    n_records: int = 50_000
    """Labels of the literal per-record fit."""


@dataclass
class SplitSettings:
    """(b): minority welfare against the split."""

    b: float = 2.0
    """Contested axis: beta_A = (b, c), beta_B = (-b, c)."""
    c: float = 0.5
    """Shared axis, on which both groups mildly agree."""
    splits: tuple[float, ...] = SPLITS
    """Majority shares pi (one cell each)."""
    n_users: int = 100
    """Users (a share pi of them in the majority)."""
    labels_per_user: int = 20
    """Comparisons per user."""
    n_items: int = 72
    """Items of the deployment menu, evenly spaced on the unit circle."""
    tau: float = 0.2
    """Temperature of the KL-regularized policy pi propto exp(r / tau)."""
    l2: float = 0.1
    """Ridge penalty of the fitted logits."""
    em_restarts: int = 3
    """EM restarts of the K = 2 clustering."""
    em_iter: int = 50
    """EM iterations of the K = 2 clustering."""


@dataclass
class LabelsSettings:
    """(c): welfare against labels per user, tastes scattered in d dimensions."""

    b: float = 2.0
    """Contested axis: beta_A = (b, c, 0, ...), beta_B = (-b, c, 0, ...)."""
    c: float = 0.5
    """Shared axis, on which both groups mildly agree."""
    dim: int = 6
    """Dimension d of the tastes and items."""
    pi: float = 0.7
    """Majority share."""
    n_users: int = 60
    """Users."""
    within_sd: float = 0.5
    """Individual spread of the tastes around their group's beta."""
    n_items: int = 200
    """Items of the deployment menu (random directions on the unit sphere)."""
    tau: float = 0.2
    """Temperature of the KL-regularized policy pi propto exp(r / tau)."""
    l2: float = 1.0
    """Ridge penalty of the fitted logits (pooled, clustered and individual)."""
    em_restarts: int = 2
    """EM restarts of the K = 2 clustering."""
    em_iter: int = 30
    """EM iterations of the K = 2 clustering."""
    nash_shift: float = 0.01
    """Shift of the Nash welfare, prod (u + shift): argmax-policy welfare can be exactly 0."""
    labels_per_user: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    """Comparisons per user (one cell per value and replicate)."""
    reps: int = 2
    """Replicates (seeds) per labels-per-user; error bars are mean +- s.e.m. over them."""


@dataclass
class CentroidSettings:
    """Part 5 (seed 004)."""

    closed_form: ClosedFormSettings = field(default_factory=ClosedFormSettings)
    """(a) closed form vs simulation."""
    split: SplitSettings = field(default_factory=SplitSettings)
    """(b) minority welfare vs split."""
    labels: LabelsSettings = field(default_factory=LabelsSettings)
    """(c) welfare vs labels per user."""


def group_betas(cfg, d: int = 2) -> np.ndarray:
    """The groups' linear rewards (2, d): (b, c, 0, ...) and (-b, c, 0, ...) from ``cfg.b``, ``cfg.c``."""
    B = np.zeros((2, d))
    B[:, 0] = [cfg.b, -cfg.b]
    B[:, 1] = cfg.c
    return B


def fit_pooled(choices: Choices, l2: float = 0.0) -> np.ndarray:
    """The pooled Bradley-Terry MLE: the EM engine's latent-class logit with one class (a convex fit: the
    engine's initialization seed does not change the optimum)."""
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


def simulate_saturated(cfg, pi: float, N: int, rng: np.random.Generator) -> np.ndarray:
    """Pooled MLE on N simulated labels (counts per comparison x group, then Bradley-Terry wins: the
    number of wins of a (comparison, group) cell is Binomial(count, sigma(beta_gj)), N is up to 1e11)."""
    B, d = group_betas(cfg), 2
    p_group = np.exp(log_sigmoid(B))  # (groups, d): P(first wins | e_j, group) = sigma(beta_gj - 0)
    n_jg = rng.multinomial(N, np.outer(np.full(d, 1.0 / d), [pi, 1 - pi]).reshape(-1)).reshape(d, 2)
    wins = rng.binomial(n_jg, p_group.T).sum(axis=1)
    return fit_pooled(_saturated_records(n_jg.sum(axis=1), wins, d))


def simulate_records(cfg, pi: float, N: int, rng: np.random.Generator) -> np.ndarray:
    """The literal version: N individual records (labeler group, comparison, label), unweighted fit."""
    B, d = group_betas(cfg), 2
    g = (rng.random(N) >= pi).astype(int)
    j = rng.integers(0, d, size=N)
    X = np.zeros((N, 2, d))
    X[np.arange(N), 0, j] = 1.0
    first = sample_btl(B[g, j], np.zeros(N), rng)  # first item e_j (reward beta_gj) vs 0
    return fit_pooled(Choices(user=np.zeros(N, dtype=int), features=X, chosen=1 - first))


def closed_form_row(cfg: ClosedFormSettings, pi: float, seed: int) -> dict:
    """(a) at split pi: closed form, average of betas, and both simulated MLEs (``derive(seed,
    "closed_form", pi)``)."""
    rng = derive(seed, "closed_form", f"pi={pi}")
    B = group_betas(cfg)
    w = np.array([pi, 1 - pi])
    theta = pooled_bt_saturated(np.eye(2), B, w)
    sim = simulate_saturated(cfg, pi, int(cfg.n_large), rng)
    rec = simulate_records(cfg, pi, int(cfg.n_records), rng)
    return {
        "pi": pi,
        "closed_form": theta.tolist(),
        "average_of_betas": (w @ B).tolist(),
        "simulated_large_N": sim.tolist(),
        "abs_err_large_N": float(np.max(np.abs(sim - theta))),
        "N_large": int(cfg.n_large),
        "simulated_records": rec.tolist(),
        "abs_err_records": float(np.max(np.abs(rec - theta))),
        "N_records": int(cfg.n_records),
    }


# --------------------------------------------------------------------------- welfare helpers
def policy(rewards: np.ndarray, tau: float | None) -> np.ndarray:
    """KL-regularized optimum against a uniform reference, pi propto exp(r / tau), over the last axis (the
    multinomial logit of :func:`pluralign.choice.choice_probs` with utilities r / tau); tau None = argmax
    (ties split evenly)."""
    r = np.asarray(rewards, dtype=float)
    if tau is None:
        top = np.isclose(r, r.max(axis=-1, keepdims=True), rtol=0, atol=1e-12)
        return top / top.sum(axis=-1, keepdims=True)
    return choice_probs(r.reshape(-1, r.shape[-1]) / tau).reshape(r.shape)


def normalized_welfare(pol: np.ndarray, true_r: np.ndarray) -> np.ndarray:
    """(E_pi r - min r) / (max r - min r), per user (rows)."""
    lo, hi = true_r.min(axis=-1), true_r.max(axis=-1)
    return ((pol * true_r).sum(axis=-1) - lo) / (hi - lo)


def circle_items(n: int) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _cluster(choices: Choices, cfg, seed: int, l2: float):
    em = MixtureEM(LatentClassLogit(choices, l2=l2),
                   EMConfig(n_components=2, assignment="soft", n_restarts=cfg.em_restarts, max_iter=cfg.em_iter,
                            tol=1e-6, seed=seed)).fit()
    return em.params_, em.labels_


def _btl_choices(user: np.ndarray, X: np.ndarray, W: np.ndarray, n_users: int, rng) -> Choices:
    """Bradley-Terry labels of comparisons X (M, 2, d) by users with linear rewards W (n_users, d)."""
    first = sample_btl(np.einsum("md,md->m", X[:, 0], W[user]), np.einsum("md,md->m", X[:, 1], W[user]), rng)
    return Choices(user=user, features=X, chosen=1 - first, n_users=n_users)


def split_welfare(cfg: SplitSettings, pi: float, seed: int) -> dict:
    """(b): minority / majority welfare under pooled, K = 2 clustered and oracle rewards at split pi (data
    from ``derive(seed, "split", pi)``, the clustering from ``derive_int(seed, "split", pi, "em")``)."""
    rng = derive(seed, "split", f"pi={pi}")
    B, d = group_betas(cfg), 2
    n, m = cfg.n_users, cfg.labels_per_user
    n_maj = int(round(pi * n))
    grp = np.r_[np.zeros(n_maj, dtype=int), np.ones(n - n_maj, dtype=int)]
    user = np.repeat(np.arange(n), m)
    j = rng.integers(0, d, size=user.size)
    X = np.zeros((user.size, 2, d))
    X[np.arange(user.size), 0, j] = 1.0
    data = _btl_choices(user, X, B[grp], n, rng)
    items = circle_items(cfg.n_items)
    true_r = items @ B.T  # (items, groups)
    theta_pop = pooled_bt_saturated(np.eye(2), B, np.array([pi, 1 - pi]))
    theta_fit = fit_pooled(data, l2=cfg.l2)
    params, labels = _cluster(data, cfg, derive_int(seed, "split", f"pi={pi}", "em"), cfg.l2)
    out = {"pi": pi, "theta_pooled_population": theta_pop.tolist(), "theta_pooled_fit": theta_fit.tolist(),
           "cluster_params": params.tolist()}
    for tau_name, tau in (("kl", cfg.tau), ("argmax", None)):
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


def labels_welfare(cfg: LabelsSettings, m: int, rep: int, seed: int) -> dict:
    """(c): welfare of pooled / clustered / individual models with m labels per user (d dimensions), in
    replicate ``rep`` (data from ``derive(seed, rep, "labels", m)``)."""
    rng = derive(seed, rep, "labels", m)
    d, n = cfg.dim, cfg.n_users
    B = group_betas(cfg, d)
    n_maj = int(round(cfg.pi * n))
    grp = np.r_[np.zeros(n_maj, dtype=int), np.ones(n - n_maj, dtype=int)]
    W = B[grp] + cfg.within_sd * rng.standard_normal((n, d))
    user = np.repeat(np.arange(n), m)
    X = rng.standard_normal((user.size, 2, d))
    data = _btl_choices(user, X, W, n, rng)
    items = rng.standard_normal((cfg.n_items, d))
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    true_r = W @ items.T  # (n, items)
    params, labels = _cluster(data, cfg, derive_int(seed, rep, "labels", m, "em"), cfg.l2)
    est = {
        "pooled": np.broadcast_to(fit_pooled(data, l2=cfg.l2), (n, d)),
        "clustered": params[labels],
        "individual": IndividualReward(l2=cfg.l2).fit(data).W_,
        "oracle": W,
    }
    out = {}
    for tau_name, tau in (("kl", cfg.tau), ("argmax", None)):
        out[tau_name] = {}
        for model, w_user in est.items():
            wel = normalized_welfare(policy(w_user @ items.T, tau), true_r)
            out[tau_name][model] = {
                "utilitarian": utilitarian_welfare(wel),
                "egalitarian": egalitarian_welfare(wel),
                # normalized welfare can be exactly 0 under the argmax policy: Nash of (u + shift)
                "nash": nash_welfare(wel, shift=cfg.nash_shift),
                "minority": float(wel[grp == 1].mean()),
            }
    return out


# --------------------------------------------------------------------------- cells
def cells(cfg: CentroidSettings, seed: int) -> list[tuple[str, dict, object, tuple]]:
    """(key, config, function, arguments) of every cell: (a) and (b) one per split, (c) one per
    (labels per user, replicate)."""
    cf, sp, lab = cfg.closed_form, cfg.split, cfg.labels
    return ([(f"centroid_closed_form_pi={pi}_seed={seed}", {**asdict(cf), "pi": pi}, closed_form_row, (cf, pi, seed))
             for pi in cf.splits]
            + [(f"centroid_split_pi={pi}_seed={seed}", {**asdict(sp), "pi": pi}, split_welfare, (sp, pi, seed))
               for pi in sp.splits]
            + [(f"centroid_labels_m={m}_rep={r}_seed={seed}", {**asdict(lab), "m": m, "rep": r}, labels_welfare,
                (lab, m, r, seed)) for m in lab.labels_per_user for r in range(lab.reps)])


def summarize(cfg: CentroidSettings, seed: int, result) -> dict:
    """The part's results from its finished cells (``result(key)`` reads one cell's numbers); (c) as mean
    +- s.e.m. over the replicates (:func:`pluralign.runs.mean_sem`)."""
    res = [result(key) for key, *_ in cells(cfg, seed)]  # in the order of cells()
    n_cf, n_sp, reps = len(cfg.closed_form.splits), len(cfg.split.splits), cfg.labels.reps
    per_m = []
    for i, m in enumerate(cfg.labels.labels_per_user):
        rs = res[n_cf + n_sp + i * reps: n_cf + n_sp + (i + 1) * reps]
        row = {"labels_per_user": m}
        for tau_name in ("kl", "argmax"):
            row[tau_name] = {model: {k: mean_sem([rp[tau_name][model][k] for rp in rs]) for k in v}
                             for model, v in rs[0][tau_name].items()}
        per_m.append(row)
    return {"closed_form": res[:n_cf], "splits": res[n_cf:n_cf + n_sp], "labels": per_m}
