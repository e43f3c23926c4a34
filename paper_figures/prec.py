"""Figures of the MuJoCo PREC pipeline (``pluralign prec run``), drawn from its ``results.json``: a
Fig. 2-style panel (welfare vs K, seed 000) and the cluster pictures on the (f1, f2, f3) simplex
(App. B). Both read the results dict only (never a cell store, never a model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.paper_figures import style

__all__ = ["cluster_color", "cluster_grid", "cluster_pictures", "cluster_pictures_by_row", "fig2_panel",
           "reference_lines", "simplex_axes", "simplex_xy"]

MEASURES = (("utilitarian", "utilitarian (mean)"), ("egalitarian", "egalitarian (10th pct)"), ("nash", "Nash (geometric mean)"))


REFERENCE_STYLE = {
    "initial": ("untrained PPO (start)", "k", ":"),
    "random": ("random actions", "tab:gray", (0, (1, 3))),
    "true_mean_reward": ("PPO on true mean reward", "tab:green", "-."),
}
"""How the reference policies of a run (``results["references"]``) are drawn: label, colour, line style
(``env_reward`` is left out of the welfare panels: it optimises another objective)."""


def reference_lines(ax, results: dict, measure: str) -> None:
    """Horizontal lines at the reference policies' ``measure`` (mean over replicates) of a run, if it has
    them (runs made before the references were added have none)."""
    for name, (label, color, ls) in REFERENCE_STYLE.items():
        ref = results.get("references", {}).get(name)
        if ref is not None:
            ax.axhline(ref[measure]["mean"], color=color, linestyle=ls, lw=1.0, label=label)


def simplex_xy(w: np.ndarray) -> np.ndarray:
    """Barycentric (w1, w2, w3) -> 2-D point in the equilateral triangle with vertices f1, f2, f3."""
    w = np.asarray(w, dtype=float)
    return np.stack([w[:, 1] + 0.5 * w[:, 2], (np.sqrt(3) / 2) * w[:, 2]], axis=1)


def _seeds(results: dict) -> str:
    """How many replicates the error bars are over, and their base seed (for the caption)."""
    return f"{len(results.get('replicates', []))} (base seed {results.get('seed')})"


def fig2_panel(results: dict, path: Path) -> Path:
    """Welfare (three measures) and PPO training time against K, mean +- s.e.m. over replicates."""
    table = results["table"]
    Ks = [int(k) for k in table]
    x = np.arange(len(Ks))
    color = style.color_for(results["noise"])
    fig, axes = style.figure(4, 1)
    axes = axes[0]
    for ax, (m, title) in zip(axes, MEASURES):
        style.errorbar(ax, x, [table[str(K)][m] for K in Ks], color=color, label=results["noise"])
        reference_lines(ax, results, m)
        ax.set_xticks(x, [str(K) for K in Ks])
        ax.set_xlabel("K (clusters)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("welfare (App. C.2 utility, [0, 1])")
    axes[0].legend(fontsize=8)
    t = np.array([table[str(K)]["train_seconds"]["mean"] for K in Ks]) / 60.0
    te = np.array([table[str(K)]["train_seconds"]["sem"] for K in Ks]) / 60.0
    axes[3].bar(x, t, yerr=te, capsize=style.CAPSIZE, color=[style.color_for(K) for K in Ks])
    axes[3].set_xticks(x, [str(K) for K in Ks])
    axes[3].set_xlabel("K (clusters)")
    axes[3].set_title("PPO training time (wall-min, sum over policies)", fontsize=10)
    enc = "" if results.get("use_encoder", True) else ", no encoder"
    fig.suptitle(style.caption(f"PREC {results['env']} — teacher {results['noise']}{enc}", results["profile"],
                               _seeds(results)), fontsize=10)
    return style.save(fig, path)


def simplex_axes(ax, labels: bool = True) -> None:
    """The (f1, f2, f3) triangle on ``ax`` (equal aspect, no frame), vertices labelled."""
    tri = simplex_xy(np.eye(3))
    ax.plot(*np.vstack([tri, tri[:1]]).T, color="k", lw=0.8)
    if labels:
        for lab, (x, y) in zip(("f1", "f2", "f3"), tri):
            ax.annotate(lab, (x, y), textcoords="offset points", xytext=(0, -10 if y == 0 else 4), ha="center",
                        fontsize=8)
    ax.set_xlim(-0.08, 1.08)
    ax.set_ylim(-0.12, np.sqrt(3) / 2 + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")


def cluster_color(k: int, K: int):
    """The colour of cluster k of K (tab10 up to 10 clusters, a spectral map above)."""
    import matplotlib

    if K <= 10:
        return matplotlib.colormaps["tab10"](int(k) % 10)
    return matplotlib.colormaps["nipy_spectral"](int(k) / max(1, K - 1))


def cluster_grid(rows: dict, path: Path, title: str) -> Path:
    """A grid of simplex pictures: one row per label of ``rows`` (a teacher, a population), one column per K.

    ``rows[label][K] = {"weights": (N, 3), "labels": (N,), "title": str, "stars": {k: phi (3,)} or None}``:
    each user a point at its weights coloured by its cluster, each cluster policy's mean behaviour feature
    (normalized to the simplex) a star of the cluster's colour."""
    labels = list(rows)
    Ks = sorted({int(K) for r in rows.values() for K in r})
    fig, axes = style.figure(max(1, len(Ks)), max(1, len(labels)), figsize=(2.9 * max(1, len(Ks)), 2.9 * max(1, len(labels))))
    for i, lab in enumerate(labels):
        for j, K in enumerate(Ks):
            ax = axes[i, j]
            simplex_axes(ax)
            c = rows[lab].get(K)
            if c is None:
                ax.set_title(f"{lab}, K={K}: no cell", fontsize=8)
                continue
            xy = simplex_xy(np.asarray(c["weights"]))
            z = np.asarray(c["labels"], dtype=int)
            ax.scatter(xy[:, 0], xy[:, 1], c=[cluster_color(int(k), K) for k in z], s=18, edgecolors="k",
                       linewidths=0.3)
            for k, f in (c.get("stars") or {}).items():
                f = np.asarray(f, dtype=float)
                if f.sum() > 0:
                    ax.scatter(*simplex_xy((f / f.sum())[None])[0], marker="*", s=110, color=cluster_color(int(k), K),
                               edgecolors="k", linewidths=0.6)
            ax.set_title(f"{lab}: K={K}" + (f"\n{c['title']}" if c.get("title") else ""), fontsize=8)
    fig.suptitle(title, fontsize=9)
    return style.save(fig, path)


def _prec_row(results: dict) -> dict:
    """One row of :func:`cluster_grid` from a PREC results dict: replicate 0's cell of every K."""
    rep = min(results.get("replicates") or [0])
    cells = {int(c["K"]): c for c in results["cells"] if c["replicate"] == rep}
    return {K: {"weights": c["weights"], "labels": c["assignment"], "stars": c.get("policy_phi"),
                "title": f"ARI vs modes {c['ari_vs_modes']:.2f}"} for K, c in sorted(cells.items())
            if K in results["Ks"]}


def cluster_pictures(results: dict, path: Path) -> Path:
    """Users' weights on the (f1, f2, f3) simplex coloured by their leaky-EM cluster, one panel per K
    (replicate 0), with each cluster policy's mean behaviour feature (normalized to the simplex) as a star.
    Reads ``results["cells"]`` (weights, assignment, policy_phi of every cell)."""
    rep = min(results.get("replicates") or [0])
    return cluster_grid({results["noise"]: _prec_row(results)}, path,
                        f"Leaky-EM clusters of user weights — {results['env']}, {results['noise']}\n"
                        f"(profile {results['profile']}, base seed {results.get('seed')}, replicate {rep})")


def cluster_pictures_by_row(results: dict[str, dict], path: Path, title: str) -> Path:
    """Several PREC runs side by side (one row each: the teachers of Figs. 4-7, the populations of Figs.
    8-11), replicate 0, one column per K."""
    return cluster_grid({lab: _prec_row(res) for lab, res in results.items()}, path, title)
