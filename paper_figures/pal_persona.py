"""The figure of ``pluralign pal persona`` (seed 002, App. D.4), drawn from ``pal_persona.json``: per model,
seen users' held-out accuracy against K for every K*, and unseen users' few-shot accuracy against m at
K = K*; mean +- s.e.m. over replicates."""

from __future__ import annotations

from pathlib import Path

from pluralign.paper_figures import style

__all__ = ["accuracy_axes", "mean_sem_line", "plot"]


def mean_sem_line(ax, x, stats: list[dict], **kw) -> None:
    """A line with error bars through ``{"mean", "sem"}`` dicts (:func:`pluralign.runs.mean_sem`) at ``x``."""
    ax.errorbar(list(x), [s["mean"] for s in stats], yerr=[s["sem"] for s in stats], marker="o",
                capsize=style.CAPSIZE, **kw)


def accuracy_axes(ax, title: str, xlabel: str, log_x: bool = False, ylabel: str | None = "held-out accuracy",
                  ticks=None) -> None:
    """Title, labels, optional log x-axis (and x ticks at ``ticks``) and a small legend of an accuracy panel
    (PAL figures)."""
    if log_x:
        ax.set_xscale("log")
    if ticks is not None:
        ax.minorticks_off()
        ax.set_xticks(list(ticks), [str(t) for t in ticks])
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


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
            mean_sem_line(ax, [int(k) for k in Ks], [byK[k]["seen_acc"] for k in Ks], label=f"K*={Kt}",
                          color=style.color_for(int(Kt)))
        accuracy_axes(ax, f"PAL-{model}: seen users, held-out statements", "K (prototypes)", ticks=sorted(Ks_all))
        ax = axes[2 * i + 1]
        ms: set[int] = set()
        for Kt, byK in table[model].items():
            r = byK.get(str(Kt))
            if r and "fewshot_acc" in r:
                ms |= set(r["fewshot_m"])
                mean_sem_line(ax, r["fewshot_m"], r["fewshot_acc"], color=style.color_for(int(Kt)),
                              label=f"K*={Kt} (seen {r['seen_acc']['mean']:.3f})")
        accuracy_axes(ax, f"PAL-{model}: unseen users at K = K*", "few-shot samples m", log_x=True, ticks=sorted(ms))
    seeds = f"{len(results.get('replicates', []))} (base seed {results.get('seed')})"
    fig.suptitle(style.caption("PAL persona experiment (seed 002, App. D.4), Anthropic persona statements + MiniLM",
                               results.get("profile"), seeds), fontsize=10)
    return style.save(fig, path)
