"""Seed 000, sec. 4.3: Fig. 3 (the populations on the (f1, f2, f3) simplex on the top row, welfare vs K below)
and Figs. 8-11 (the leaky-EM clusters under each population), from the bandit twin
(:mod:`pluralign.sims.prec_bandit.populations`) or from MuJoCo PREC runs (``pluralign prec run --population``).

Seed 000, Fig. 3: "Social welfare under different population preference distributions. Top-row simplex plots
show the preference distributions of 30 users over three PCA-derived behavior features (f_1, f_2, f_3), from
broadly mixed (left) to highly polarized (right) populations. The remaining plots show utilitarian, Nash, and
egalitarian welfare across four MuJoCo environments as the number of deployed policies K varies."
Figs. 8-11: "Each point denotes one user in the (f_1, f_2, f_3) preference simplex, and points with the same
color belong to the same PREC cluster under different preference distributions in HalfCheetah [Ant, Hopper,
Walker2d]."

Layout of :func:`population_welfare`: the top row one simplex per population (replicate 0's users, coloured
by their Dirichlet mode); below it one row per environment (MuJoCo) or teacher (bandit) with the three
welfare measures against K, one line per population (mean ± s.e.m. over seeds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.paper_figures import style
from pluralign.paper_figures.prec import MEASURES, cluster_color, cluster_grid, simplex_axes, simplex_xy

__all__ = ["bandit_clusters", "bandit_fig3", "population_welfare", "prec_clusters", "prec_fig3", "prec_fig3_baselines"]


def population_welfare(users: dict, rows: dict, path: Path, title: str, baselines: dict | None = None) -> Path:
    """``users[pop] = {"weights": (N, 3), "mode": (N,)}``; ``rows[label][pop] = {K: {measure: mean_sem}}``;
    ``baselines[label][pop] = {measure: mean_sem}`` (optional) is drawn as a dotted line in the population's
    colour (the MuJoCo runs: the untrained PPO policy every cluster policy starts from)."""
    pops = list(users)
    ncols = max(len(pops), len(MEASURES))
    fig, axes = style.figure(ncols, 1 + len(rows), figsize=(3.4 * ncols, 3.0 * (1 + len(rows))))
    for j in range(ncols):
        ax = axes[0, j]
        if j >= len(pops):
            ax.axis("off")
            continue
        u = users[pops[j]]
        xy = simplex_xy(np.asarray(u["weights"]))
        mode = np.asarray(u["mode"], dtype=int)
        simplex_axes(ax)
        ax.scatter(xy[:, 0], xy[:, 1], c=[cluster_color(m, 10) for m in mode], s=14, edgecolors="k", linewidths=0.3)
        ax.set_title(f"population '{pops[j]}' (N = {len(mode)})", fontsize=9)
    allK = sorted({int(K) for r in rows.values() for t in r.values() for K in t})
    for i, (label, by_pop) in enumerate(rows.items(), start=1):
        for j in range(ncols):
            ax = axes[i, j]
            if j >= len(MEASURES):
                ax.axis("off")
                continue
            m, mtitle = MEASURES[j]
            for q, pop in enumerate(pops):
                t = by_pop.get(pop)
                if not t:
                    continue
                ks = sorted(int(K) for K in t)
                dodge = 10 ** (0.018 * (q - (len(pops) - 1) / 2))  # side by side on the log axis: bars apart
                style.errorbar(ax, [K * dodge for K in ks], [t[str(K)][m] for K in ks], color=style.color_for(pop),
                               ms=4, label=pop)
                base = ((baselines or {}).get(label) or {}).get(pop)
                if base is not None:
                    ax.axhline(base[m]["mean"], color=style.color_for(pop), linestyle=":", lw=1.0,
                               label=f"{pop}: untrained PPO" if j == 0 else None)
            ax.set_xscale("log")
            ax.set_xticks(allK, [str(K) for K in allK])
            ax.minorticks_off()
            ax.set_xlabel("K (deployed policies)")
            ax.set_title(f"{label}: {mtitle}", fontsize=9)
            ax.grid(alpha=0.3)
        axes[i, 0].set_ylabel("welfare (App. C.2 utility, [0, 1])")
        handles, labs = axes[i, 0].get_legend_handles_labels()
        spare = axes[i, len(MEASURES)] if ncols > len(MEASURES) else None
        (spare or axes[i, 0]).legend(handles, labs, fontsize=8 if spare else 7, title="population", title_fontsize=8,
                                     loc="center" if spare else "best")
    fig.suptitle(title, fontsize=9)
    return style.save(fig, path)


def _bandit_seeds(results: dict) -> str:
    n = results["settings"]["base"]["n_seeds"]
    return f"base {results['seed']}, replicates 0..{n - 1}"


def bandit_fig3(results: dict, path: Path, profile: str | None = None) -> Path:
    """Fig. 3 from the bandit twin's population sweep: one welfare row per teacher."""
    per = results["populations"]
    users = {p: {"weights": d["users"][0]["weights"], "mode": d["users"][0]["mode"]} for p, d in per.items()}
    rows = {f"bandit, {n}": {p: d["summary"][n] for p, d in per.items() if n in d["summary"]}
            for n in results["settings"]["noises"]}
    w = results["settings"]["base"]["world"]
    return population_welfare(users, rows, path, style.caption(
        f"Bandit-PREC (twin of seed 000 Fig. 3): welfare vs K per user population, N = {w['n_users']}, "
        f"M = {w['n_labels']}; top row: replicate 0's users coloured by Dirichlet mode", profile,
        _bandit_seeds(results)))


def bandit_clusters(results: dict, path: Path, profile: str | None = None) -> Path:
    """Figs. 8-11 from the bandit twin: one row per population, one column per 1 < K < N (replicate 0,
    the first teacher)."""
    st = results["settings"]
    noise, N = st["noises"][0], st["base"]["world"]["n_users"]
    rows: dict = {}
    for p, d in results["populations"].items():
        w = d["users"][0]["weights"]
        for c in results["cells"]:
            cfg = c["config"]
            if cfg["population"] == p and cfg["noise"] == noise and cfg["rep"] == 0 and 1 < cfg["K"] < N:
                ari = c["metrics"].get("ari_vs_modes")
                rows.setdefault(p, {})[int(cfg["K"])] = {
                    "weights": w, "labels": c["metrics"]["labels"],
                    "title": None if ari is None else f"ARI vs modes {ari:.2f}"}
    return cluster_grid(rows, path, f"Bandit-PREC leaky-EM clusters per population (twin of seed 000 Figs. 8-11), "
                                    f"teacher {noise} (profile {profile}, base seed {results['seed']}, replicate 0)")


def _check_population(res: dict, pop: str, key: str) -> None:
    if res.get("population", pop) != pop:
        raise ValueError(f"{key}: results of population {res.get('population')!r}, expected {pop!r}")


def prec_fig3(results: dict) -> tuple[dict, dict]:
    """(users, rows) of Fig. 3 from MuJoCo runs ``results[(env, pop)]`` (one welfare row per env)."""
    users: dict = {}
    rows: dict = {}
    for (env, pop), res in results.items():
        _check_population(res, pop, f"{env} {pop}")
        if pop not in users:
            c = min(res["cells"], key=lambda c: (c["replicate"], c["K"]))
            users[pop] = {"weights": c["weights"], "mode": _modes(pop, c["weights"], res.get("seed"), c["replicate"])}
        rows.setdefault(env, {})[pop] = res["table"]
    return users, rows


def prec_fig3_baselines(results: dict) -> dict:
    """``{env: {pop: welfare of the untrained PPO policy}}`` of the MuJoCo runs ``results[(env, pop)]`` that have
    reference policies (:data:`pluralign.experiments.prec.pipeline.REFERENCES`)."""
    out: dict = {}
    for (env, pop), res in results.items():
        ref = res.get("references", {}).get("initial")
        if ref is not None:
            out.setdefault(env, {})[pop] = ref
    return out


def _modes(pop: str, weights, seed, replicate: int) -> list[int]:
    """The users' Dirichlet modes (a PREC results file holds the weights, not the modes): the population
    redrawn as the pipeline draws it (``make_population(pop, N, derive(seed, r, "users"))``) when its weights
    are the file's; else all 0 (one colour)."""
    from pluralign.prec.labelers import make_population
    from pluralign.seeding import derive

    w = np.asarray(weights, dtype=float)
    if seed is not None:
        p = make_population(pop, w.shape[0], derive(int(seed), int(replicate), "users"))
        if p.weights.shape == w.shape and np.allclose(p.weights, w, atol=1e-9):
            return p.mode.tolist()
    return [0] * w.shape[0]


def prec_clusters(results: dict, path: Path, env: str, profile: str) -> Path:
    """Figs. 8-11 for one env from MuJoCo runs ``results[pop]``."""
    from pluralign.paper_figures.prec import _prec_row

    for pop, res in results.items():
        _check_population(res, pop, f"{env} {pop}")
    return cluster_grid({pop: _prec_row(res) for pop, res in results.items()}, path,
                        f"PREC leaky-EM clusters per population — {env} (profile {profile}, replicate 0)")
