"""The figure of ``pluralign pal persona`` (seed 002, App. D.4), drawn from ``pal_persona.json``: per model,
seen users' held-out accuracy against K for every K*, and unseen users' few-shot accuracy against m at
K = K*; mean +- s.e.m. over replicates."""

from __future__ import annotations

from pathlib import Path

from pluralign.paper_figures import style
from pluralign.paper_figures.pal_sim import fewshot_panel

__all__ = ["plot"]


def plot(results: dict, path: Path) -> Path:
    """Two panels per PAL model (seen users vs K; unseen users vs few-shot m at K = K*); PNG + PDF."""
    table = results["summary"]["table"]
    models = sorted(table)
    fig, axes = style.figure(2 * len(models), 1)
    axes = axes[0]
    for i, model in enumerate(models):
        ax = axes[2 * i]
        Ks_all: set[int] = set()
        for Kt, byK in table[model].items():
            Ks = sorted(byK, key=int)
            Ks_all |= {int(k) for k in Ks}
            style.errorbar(ax, [int(k) for k in Ks], [byK[k]["seen_acc"] for k in Ks], label=f"K*={Kt}",
                           color=style.color_for(int(Kt)))
        ax.set_xticks(sorted(Ks_all), [str(t) for t in sorted(Ks_all)])
        ax.set_title(f"PAL-{model}: seen users, held-out statements", fontsize=10)
        ax.set_xlabel("K (prototypes)")
        ax.set_ylabel("held-out accuracy")
        ax.legend(fontsize=7)
        ax = axes[2 * i + 1]
        curves = [(f"K*={Kt} (seen {r['seen_acc']['mean']:.3f})", r["fewshot_m"], r["fewshot_acc"], "-",
                   style.color_for(int(Kt)))
                  for Kt, byK in table[model].items() if (r := byK.get(str(Kt))) and "fewshot_acc" in r]
        fewshot_panel(ax, curves, f"PAL-{model}: unseen users at K = K*")
        ms = sorted({m for _, x, *_ in curves for m in x})
        ax.minorticks_off()
        ax.set_xticks(ms, [str(m) for m in ms])
    seeds = f"{len(results.get('replicates', []))} (base seed {results.get('seed')})"
    fig.suptitle(style.caption("PAL persona experiment (seed 002, App. D.4), Anthropic persona statements + MiniLM",
                               results.get("profile"), seeds), fontsize=10)
    return style.save(fig, path)
