"""Figures of the MuJoCo PREC pipeline: a Fig. 2-style panel (welfare vs K, seed 000) and the cluster
pictures on the (f1, f2, f3) simplex (App. B)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["fig2_panel", "cluster_pictures", "simplex_xy"]

MEASURES = (("utilitarian", "utilitarian (mean)"), ("egalitarian", "egalitarian (10th pct)"), ("nash", "Nash (geometric mean)"))


def simplex_xy(w: np.ndarray) -> np.ndarray:
    """Barycentric (w1, w2, w3) -> 2-D point in the equilateral triangle with vertices f1, f2, f3."""
    w = np.asarray(w, dtype=float)
    return np.stack([w[:, 1] + 0.5 * w[:, 2], (np.sqrt(3) / 2) * w[:, 2]], axis=1)


def fig2_panel(summary: dict, path: Path) -> Path:
    """Welfare (three measures) and training time against K, mean +- s.e. over seeds."""
    table = summary["table"]
    Ks = [int(k) for k in table]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for ax, (m, title) in zip(axes, MEASURES):
        y = np.array([table[str(K)][m] for K in Ks])
        e = np.array([table[str(K)][f"{m}_se"] for K in Ks])
        ax.errorbar(range(len(Ks)), y, yerr=e, marker="o", capsize=3)
        ax.set_xticks(range(len(Ks)), [str(K) for K in Ks])
        ax.set_xlabel("K (clusters)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("welfare (10-point score)")
    t = np.array([table[str(K)]["train_seconds"] for K in Ks])
    axes[3].bar(range(len(Ks)), t / 60.0)
    axes[3].set_xticks(range(len(Ks)), [str(K) for K in Ks])
    axes[3].set_xlabel("K (clusters)")
    axes[3].set_title("PPO training time (CPU-min, sum over policies)", fontsize=10)
    n = min(r["n_seeds"] for r in table.values()) if table else 0
    enc = "" if summary.get("use_encoder", True) else ", no encoder"
    fig.suptitle(f"PREC {summary['env']} — teacher {summary['noise']} ({summary['profile']} profile, {n} seeds{enc})", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cluster_pictures(store, summary: dict, path: Path) -> Path:
    """Users' weights on the (f1, f2, f3) simplex coloured by their leaky-EM cluster, one panel per K
    (first seed), with each cluster policy's mean behaviour feature (normalized to the simplex) as a star."""
    seed = summary["seeds"][0]
    cells = {c["config"]["K"]: c["metrics"] for c in store.all()
             if c["config"]["seed"] == seed and c["config"]["noise"] == summary["noise"] and c["config"]["env"] == summary["env"]
             and c["config"].get("use_encoder", True) == summary.get("use_encoder", True)}
    Ks = [K for K in summary["Ks"] if K in cells]
    fig, axes = plt.subplots(1, max(1, len(Ks)), figsize=(3.2 * max(1, len(Ks)), 3.2), squeeze=False)
    tri = simplex_xy(np.eye(3))
    cmap = plt.get_cmap("tab10" if max(Ks or [1]) <= 10 else "nipy_spectral")
    for ax, K in zip(axes[0], Ks):
        m = cells[K]
        xy = simplex_xy(np.asarray(m["weights"]))
        z = np.asarray(m["assignment"])
        colors = cmap((z % 10) / 9.0 if K <= 10 else z / max(1, K - 1))
        ax.plot(*np.vstack([tri, tri[:1]]).T, color="k", lw=0.8)
        ax.scatter(xy[:, 0], xy[:, 1], c=colors, s=22, edgecolors="k", linewidths=0.3)
        for k, f in m.get("policy_phi", {}).items():
            f = np.asarray(f, dtype=float)
            if f.sum() > 0:
                p = simplex_xy((f / f.sum())[None])[0]
                c = cmap((int(k) % 10) / 9.0 if K <= 10 else int(k) / max(1, K - 1))
                ax.scatter(*p, marker="*", s=120, color=c, edgecolors="k", linewidths=0.6)
        for lab, (x, y) in zip(("f1", "f2", "f3"), tri):
            ax.annotate(lab, (x, y), textcoords="offset points", xytext=(0, -10 if y == 0 else 4), ha="center", fontsize=8)
        ax.set_title(f"K={K}  ARI vs modes {m['ari_vs_modes']:.2f}", fontsize=9)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(f"Leaky-EM clusters of user weights — {summary['env']}, {summary['noise']}, seed {seed}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
