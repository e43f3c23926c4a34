"""The bandit-PREC study (cells, aggregation, figure); the command is :func:`sims.prec_bandit.cli`, whose
module docstring describes the design."""


from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pluralign.runs import CellStore, Profile, run_cells, write_json
from pluralign.sims.prec_bandit.world import WorldSettings, make_world

NOISES = ("oracle", "noise1", "noise2")
FEATURES = ("encoder", "random")
MEASURES = ("utilitarian", "egalitarian", "nash")


@dataclass
class StudySettings:
    """Everything a run of the study depends on (written to config.json)."""

    world: WorldSettings = field(default_factory=WorldSettings)
    """Sizes and constants of the testbed."""
    Ks: tuple[int, ...] = (1, 2, 3, 5, 10, 30)
    """Numbers of clusters (K = 1 pooled, K = n_users one per user)."""
    noises: tuple[str, ...] = NOISES
    """Teachers (oracle and Table 1's two mixed levels)."""
    features: tuple[str, ...] = FEATURES
    """Frozen encoder features and the random-feature ablation."""
    n_seeds: int = 5
    """Seeds (worlds) per cell; seeds are seed, seed + 1, ..."""
    n_hidden: int = 16
    """Hidden width of each cluster decoder."""
    lr: float = 0.03
    """Adam learning rate."""
    weight_decay: float = 1e-3
    """Decoupled weight decay of the decoders."""
    n_steps: int = 40
    """Adam steps per M-step (warm-started)."""
    max_iter: int = 4
    """EM iterations after the initial M-step."""
    leak: float = 0.1
    """nu of leaky EM."""
    n_restarts: int = 1
    """EM restarts (best leaky ELBO wins)."""
    n_jobs: int = 2
    """Worker processes."""


def settings_for(profile: Profile) -> StudySettings:
    profile = Profile(profile)
    if profile == Profile.smoke:
        w = WorldSettings(n_users=6, n_labels=12, n_pool=60, n_candidates=30)
        return StudySettings(
            world=w, Ks=(1, 2, 6), noises=("oracle", "noise2"), n_seeds=1, n_steps=10, max_iter=2, n_jobs=1
        )
    if profile == Profile.quick:
        return StudySettings(world=WorldSettings(n_pool=300))
    return StudySettings(n_seeds=10, n_steps=200, max_iter=15, n_restarts=3, n_hidden=32, n_jobs=8)


# ---------------------------------------------------------------------------- one cell
def _user_features(ratings, feats: np.ndarray) -> np.ndarray:
    """Per-user logistic-regression coefficients of good vs bad on the mean frozen features (for the
    k-means++ initialisation); zeros for a user whose labels are all one class."""
    from sklearn.linear_model import LogisticRegression

    X = feats[ratings.segment].mean(axis=1)
    out = np.zeros((ratings.n_users, X.shape[1] + 1))
    for i, ix in enumerate(ratings.user_indices()):
        keep = ix[(ratings.weight[ix] > 0) & (ratings.label[ix] != 0.5)]
        y = ratings.label[keep]
        if keep.size and 0 < y.mean() < 1:
            lr = LogisticRegression(C=1.0).fit(X[keep], y)
            out[i] = np.r_[lr.coef_[0], lr.intercept_]
        elif keep.size:
            out[i, -1] = -3.0 if y.mean() == 0 else 3.0
    return out


def run_cell(st: StudySettings, noise: str, K: int, features: str, seed: int) -> dict:
    """Fit K decoders for one (noise, features, seed) world and evaluate the welfare of their policies."""
    import torch

    from pluralign.bpref import make_teacher
    from pluralign.em import EMConfig, MixtureEM, adjusted_rand_index
    from pluralign.prec.decoders import DecoderConfig, DecoderMixture
    from pluralign.welfare import welfare

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    world = make_world(st.world, seed)
    N = st.world.n_users
    label_rng = np.random.default_rng(np.random.SeedSequence([int(seed), NOISES.index(noise), 29]))
    ratings = make_teacher(noise).label(
        world.true_step_scores(), world.label_user, label_rng, segment=world.label_segment, n_users=N
    )
    feats = world.pool_feat[features]
    cfg = DecoderConfig(n_hidden=st.n_hidden, n_steps=st.n_steps, lr=st.lr, weight_decay=st.weight_decay)
    model = DecoderMixture(ratings, feats, cfg, seed=seed)
    em_info: dict = {}
    if K == 1 or K == N:  # pooled / one decoder per user: a fixed assignment, no EM
        budget = replace(cfg, n_steps=st.n_steps * (1 + st.max_iter))
        model.config = budget
        params = model.m_step(model.init_params(K, np.random.default_rng(seed)), np.eye(K)[np.arange(N) % K])
        labels = np.arange(N) % K
    else:
        em_cfg = EMConfig(
            n_components=K,
            assignment="leaky",
            leak=st.leak,
            prior="estimate",
            init="kmeans++",
            n_restarts=st.n_restarts,
            max_iter=st.max_iter,
            tol=1e-6,
            seed=seed,
        )
        em = MixtureEM(model, em_cfg).fit(user_features=_user_features(ratings, feats))
        params, labels = em.params_, em.labels_
        em_info = {
            "n_iter": em.n_iter_,
            "leaky_elbo": [t["leaky_elbo"] for t in em.trace_],
            "marginal_ll": [t["marginal_ll"] for t in em.trace_],
            "rho": em.rho_.tolist(),
        }
    scores = model.score(params, world.cand_feat[features])  # (K, Q)
    pick = scores.argmax(axis=1)
    U = world.candidate_utilities()  # (N, Q) true utilities
    u = U[np.arange(N), pick[labels]]
    w = welfare(u)
    mode = world.population.mode
    return {
        **{m: float(w[m]) for m in MEASURES},
        "utilities": u.tolist(),
        "labels": np.asarray(labels).tolist(),
        "ari_vs_modes": float(adjusted_rand_index(mode, labels)) if 1 < K < N else None,
        "n_distinct_policies": int(np.unique(pick[np.unique(labels)]).size),
        "ideal_per_user": {m: float(v) for m, v in welfare(U.max(axis=1)).items()},
        "best_single": {m: float(v) for m, v in welfare(U[:, U.mean(axis=0).argmax()]).items()},
        "label_stats": {"good": float(np.mean(ratings.label == 1)), "equal": float(np.mean(ratings.label == 0.5)),
                        "skipped": float(np.mean(ratings.weight == 0))},
        **em_info,
        "seconds": time.perf_counter() - t0,
    }


def cell_key(noise: str, K: int, features: str, seed: int) -> str:
    return f"noise={noise}_K={K}_features={features}_seed={seed}"


def _work(st: StudySettings, out: Path, noise: str, K: int, features: str, seed: int) -> str:
    key = cell_key(noise, K, features, seed)
    metrics = run_cell(st, noise, K, features, seed)
    CellStore(out).save(key, {"noise": noise, "K": K, "features": features, "seed": seed}, metrics)
    return key


# ---------------------------------------------------------------------------- aggregation
def summarize(cells: list[dict], st: StudySettings) -> dict:
    """Mean and s.e.m. over seeds of every (features, noise, K, measure), and the done-when check."""
    table: dict = {}
    for c in cells:
        cfg, m = c["config"], c["metrics"]
        slot = table.setdefault(cfg["features"], {}).setdefault(cfg["noise"], {}).setdefault(str(cfg["K"]), {})
        for meas in MEASURES:
            slot.setdefault(meas, []).append(m[meas])
    summary: dict = {}
    for f, by_noise in table.items():
        for n, by_k in by_noise.items():
            for k, vals in by_k.items():
                for meas, v in vals.items():
                    v = np.asarray(v, dtype=float)
                    sem = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
                    summary.setdefault(f, {}).setdefault(n, {}).setdefault(k, {})[meas] = {
                        "mean": float(v.mean()), "sem": sem, "n_seeds": int(v.size)
                    }
    return {"summary": summary, "done_when": done_when(summary, st), "paired_noise2": paired(cells, st)}


def paired(cells: list[dict], st: StudySettings, noise: str = "noise2", features: str = "encoder") -> dict:
    """Per-seed paired differences (mean, s.e.m.) of each K in {2, 3, 5, 10} against K = 1 and K = N —
    the same world, users and labels, so the seed-to-seed spread of the world cancels."""
    N = st.world.n_users
    by = {(c["config"]["K"], c["config"]["seed"]): c["metrics"] for c in cells
          if c["config"]["noise"] == noise and c["config"]["features"] == features}
    out: dict = {}
    for k in (2, 3, 5, 10):
        for base in (1, N):
            seeds = sorted(sd for (kk, sd) in by if kk == k and (base, sd) in by)
            if not seeds:
                continue
            for m in MEASURES:
                d = np.array([by[(k, sd)][m] - by[(base, sd)][m] for sd in seeds])
                sem = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0
                out.setdefault(str(k), {}).setdefault(f"minus_K{base}", {})[m] = {
                    "mean": float(d.mean()), "sem": sem, "n_seeds": int(d.size)
                }
    return out


def done_when(summary: dict, st: StudySettings) -> dict:
    """At noise level 2 with the encoder's features: is there a K in {2, 3, 5, 10} whose seed-averaged
    welfare beats both K = 1 and K = N on all three measures?"""
    N = st.world.n_users
    try:
        s = summary["encoder"]["noise2"]
    except KeyError:
        return {"checked": False}
    if "1" not in s or str(N) not in s:
        return {"checked": False}
    winners = []
    for k in (2, 3, 5, 10):
        if str(k) in s and all(
            s[str(k)][m]["mean"] > max(s["1"][m]["mean"], s[str(N)][m]["mean"]) for m in MEASURES
        ):
            winners.append(k)
    return {"checked": True, "winning_K": winners, "holds": bool(winners)}


def plot(summary: dict, st: StudySettings, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    colors = {"oracle": "tab:green", "noise1": "tab:orange", "noise2": "tab:red"}
    for ax, meas in zip(axes, MEASURES):
        for f, style in (("encoder", "-o"), ("random", "--s")):
            for n in st.noises:
                s = summary.get(f, {}).get(n)
                if not s:
                    continue
                ks = sorted(int(k) for k in s)
                mu = [s[str(k)][meas]["mean"] for k in ks]
                se = [s[str(k)][meas]["sem"] for k in ks]
                ax.errorbar(ks, mu, yerr=se, fmt=style, color=colors.get(n, "k"), capsize=3, ms=4,
                            label=f"{n}, {f}", alpha=1.0 if f == "encoder" else 0.6)
        ax.set_xscale("log")
        ax.set_xticks(list(st.Ks))
        ax.set_xticklabels([str(k) for k in st.Ks])
        ax.set_xlabel("K (number of cluster decoders)")
        ax.set_title(f"{meas} welfare")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("true 10-point score (mean ± s.e.m.)")
    axes[-1].legend(fontsize=7, loc="best")
    fig.suptitle(f"bandit-PREC: N = {st.world.n_users}, M = {st.world.n_labels}, T = {st.world.horizon}, "
                 f"{st.n_seeds} seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------- command
def run(st: StudySettings, out: Path, seed: int, progress: bool = True) -> dict:
    store = CellStore(out)
    seeds = [seed + r for r in range(st.n_seeds)]
    todo = [
        (st, out, n, K, f, s)
        for s in seeds
        for f in st.features
        for n in st.noises
        for K in st.Ks
        if not store.done(cell_key(n, K, f, s))
    ]
    run_cells(_work, todo, n_jobs=st.n_jobs, desc="sims prec-bandit", progress=progress)
    keys = {cell_key(n, K, f, s) for s in seeds for f in st.features for n in st.noises for K in st.Ks}
    cells = [c for c in store.all() if c["key"] in keys]
    res = summarize(cells, st)
    res["cells"] = cells
    write_json(out / "results.json", res)
    plot(res["summary"], st, out / "welfare_vs_K.png")
    return res
