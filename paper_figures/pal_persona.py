"""Figs. D.5 / D.6 of seed 002 (App. D.4, the persona experiment), drawn from ``pluralign pal persona``'s
``results.json``: one row per model, PAL-A-Tiny (D.5) and PAL-B-Tiny (D.6). Panels: (a) seen accuracy vs
K for every K*; (b) vs K for every n_p (K* = 4); (c) vs K for every latent d (PAL-B only: PAL-A's
residual map fixes d); (d) unseen accuracy vs n_p,unseen for every K (the fixed K*, 4). Mean +- s.e.m. over repeats."""

from __future__ import annotations

from pathlib import Path

from pluralign.paper_figures import style
from pluralign.paper_figures.pal_sim import fewshot_panel

__all__ = ["plot"]


def _seen_vs_K(ax, table: dict, label: str, title: str) -> None:
    """Seen users' held-out accuracy vs K, one curve per key of ``table`` (key -> K -> row)."""
    Ks_all: set[int] = set()
    for i, (key, byK) in enumerate(table.items()):
        Ks = sorted(byK, key=int)
        Ks_all |= {int(k) for k in Ks}
        style.errorbar(ax, [int(k) for k in Ks], [byK[k]["seen_acc"] for k in Ks], label=f"{label}={key}",
                       color=style.color_for(i + 2))
    ax.set_xticks(sorted(Ks_all), [str(t) for t in sorted(Ks_all)])
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("K (prototypes)")
    ax.set_ylabel("seen accuracy (held-out statements)")
    ax.legend(fontsize=7)


def plot(results: dict, path: Path) -> Path:
    """Two rows (PAL-A-Tiny, PAL-B-Tiny) of panels (a)-(d); PNG + PDF."""
    s = results["summary"]
    models = sorted(s["a"])
    kf = results.get("Kstar_fixed", 4)
    fig, axes = style.figure(4, len(models))
    for row, model in zip(axes, models):
        name = f"PAL-{model}-Tiny" + (" (hinge)" if model == "A" else " (logistic)")
        _seen_vs_K(row[0], s["a"][model], "K*", f"{name} (a): vs K*")
        _seen_vs_K(row[1], s["b"][model], "n_p", f"{name} (b): vs n_p, K*={kf}")
        if model in s["c"]:
            _seen_vs_K(row[2], s["c"][model], "d", f"{name} (c): vs latent d, K*={kf}")
        else:
            row[2].axis("off")
            row[2].text(0.5, 0.5, "residual map: latent d = embedding width\n(not varied, as in Fig. D.5)",
                        ha="center", va="center", fontsize=8, transform=row[2].transAxes)
        curves = [(f"K={K} (seen {c['seen_acc']['mean']:.3f})", c["m"], c["unseen_acc"], "-", style.color_for(int(K)))
                  for K, c in sorted(s["d"][model].items(), key=lambda kv: int(kv[0]))]
        fewshot_panel(row[3], curves, f"{name} (d): unseen users, K*={kf}", xlabel="n_p,unseen",
                      ylabel="unseen accuracy")
    seeds = f"derive({results.get('seed')}, r) for r < {len(results.get('replicates', []))}"
    fig.suptitle(style.caption("Seed 002 Figs. D.5 / D.6: persona experiment (App. D.4), Table 7 personas, "
                               "MiniLM embeddings", results.get("profile"), seeds), fontsize=10)
    return style.save(fig, path)
