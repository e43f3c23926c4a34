"""Figures of the MuJoCo PREC pipeline (``pluralign prec run``), drawn from its ``results.json``: a
Fig. 2-style panel (welfare vs K, seed 000) and the cluster pictures on the (f1, f2, f3) simplex
(App. B). Both read the results dict only (never a cell store, never a model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.paper_figures import style

__all__ = ["fig2_panel", "cluster_pictures", "simplex_xy"]

MEASURES = (("utilitarian", "utilitarian (mean)"), ("egalitarian", "egalitarian (10th pct)"), ("nash", "Nash (geometric mean)"))


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
        ax.set_xticks(x, [str(K) for K in Ks])
        ax.set_xlabel("K (clusters)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("welfare (10-point score)")
    axes[0].legend(fontsize=8)
    t = np.array([table[str(K)]["train_seconds"]["mean"] for K in Ks]) / 60.0
    te = np.array([table[str(K)]["train_seconds"]["sem"] for K in Ks]) / 60.0
    axes[3].bar(x, t, yerr=te, capsize=style.CAPSIZE, color=[style.color_for(K) for K in Ks])
    axes[3].set_xticks(x, [str(K) for K in Ks])
    axes[3].set_xlabel("K (clusters)")
    axes[3].set_title("PPO training time (CPU-min, sum over policies)", fontsize=10)
    enc = "" if results.get("use_encoder", True) else ", no encoder"
    fig.suptitle(style.caption(f"PREC {results['env']} — teacher {results['noise']}{enc}", results["profile"],
                               _seeds(results)), fontsize=10)
    return style.save(fig, path)


def cluster_pictures(results: dict, path: Path) -> Path:
    """Users' weights on the (f1, f2, f3) simplex coloured by their leaky-EM cluster, one panel per K
    (replicate 0), with each cluster policy's mean behaviour feature (normalized to the simplex) as a star.
    Reads ``results["cells"]`` (weights, assignment, policy_phi of every cell)."""
    import matplotlib

    rep = min(results.get("replicates") or [0])
    cells = {int(c["K"]): c for c in results["cells"] if c["replicate"] == rep}
    Ks = [K for K in results["Ks"] if K in cells]
    fig, axes = style.figure(max(1, len(Ks)), 1, figsize=(3.2 * max(1, len(Ks)), 3.4))
    tri = simplex_xy(np.eye(3))
    cmap = matplotlib.colormaps["tab10" if max(Ks or [1]) <= 10 else "nipy_spectral"]

    def cluster_color(k: int, K: int):
        return cmap((k % 10) / 9.0 if K <= 10 else k / max(1, K - 1))

    for ax, K in zip(axes[0], Ks):
        c = cells[K]
        xy = simplex_xy(np.asarray(c["weights"]))
        z = np.asarray(c["assignment"], dtype=int)
        ax.plot(*np.vstack([tri, tri[:1]]).T, color="k", lw=0.8)
        ax.scatter(xy[:, 0], xy[:, 1], c=[cluster_color(int(k), K) for k in z], s=22, edgecolors="k", linewidths=0.3)
        for k, f in c.get("policy_phi", {}).items():
            f = np.asarray(f, dtype=float)
            if f.sum() > 0:
                p = simplex_xy((f / f.sum())[None])[0]
                ax.scatter(*p, marker="*", s=120, color=cluster_color(int(k), K), edgecolors="k", linewidths=0.6)
        for lab, (x, y) in zip(("f1", "f2", "f3"), tri):
            ax.annotate(lab, (x, y), textcoords="offset points", xytext=(0, -10 if y == 0 else 4), ha="center", fontsize=8)
        ax.set_title(f"K={K}  ARI vs modes {c['ari_vs_modes']:.2f}", fontsize=9)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(f"Leaky-EM clusters of user weights — {results['env']}, {results['noise']}\n"
                 f"(profile {results['profile']}, base seed {results.get('seed')}, replicate {rep})", fontsize=9)
    return style.save(fig, path)
