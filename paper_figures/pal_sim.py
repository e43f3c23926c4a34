"""Figures of the PAL simulation (seed 002, sec. 4.2, Fig. 5 b-d; App. D.1 / D.2), drawn from the study's
results (:func:`pluralign.sims.pal_sim.run`) in the package style (:mod:`pluralign.paper_figures.style`).

:func:`fewshot_panel` (unseen users' accuracy against few-shot samples m) is shared with the persona
experiment's figure (:mod:`pluralign.paper_figures.pal_persona`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from pluralign.paper_figures.style import PANEL, caption, errorbar, figure, legend_below, save

__all__ = ["plot", "d2_pictures", "fewshot_panel"]


def fewshot_panel(ax, curves, title: str, hlines=(), xlabel: str = "few-shot samples m",
                  ylabel: str = "held-out accuracy") -> None:
    """Unseen users' held-out accuracy against their number of few-shot samples m, on a log m axis.

    ``curves``: (label, ms, values, linestyle[, color]) per curve, the values plain accuracies or
    :func:`pluralign.runs.mean_sem` dicts (then drawn with s.e.m. error bars). ``hlines``: (y, linestyle)
    reference levels (e.g. the seen users' accuracy, the zero-shot accuracy), y a number or a mean_sem dict.
    """
    for label, ms, values, ls, *color in curves:
        errorbar(ax, ms, values, ls=ls, label=label, **({"color": color[0]} if color else {}))
    for y, ls in hlines:
        ax.axhline(float(y["mean"]) if isinstance(y, dict) else float(y), color="0.5", lw=0.8, ls=ls)
    ax.set_xscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    legend_below(ax)


def plot(results: dict, path: Path, profile: str | None = None) -> Path:
    """Fig. 5 (b) seen users vs the true number of groups K* (K = 1 dashed, K = K* solid), (c) vs comparisons
    per seen user (K = K*), (d) unseen users vs few-shot samples m (random and active queries), one curve per
    population and d (App. D.2: d in {2, 16}), mean +- s.e.m. over replicates; PNG + PDF at ``path``."""
    summary = results["summary"]
    fig, axes = figure(3, 1, figsize=(PANEL[0] * 3, PANEL[1] * 1.5))  # room for the legends under the panels
    axes = axes[0]
    colors = {}

    def color(setting, d):
        return colors.setdefault((setting, d), f"C{len(colors)}")

    for setting, by_d in summary["b"].items():
        for d, rows in by_d.items():
            for which, ls in (("1", "--"), ("K*", "-")):
                sel = [r for r in rows if (r["K"] == 1 if which == "1" else r["K"] == r["Kstar"])]
                if sel:
                    errorbar(axes[0], [r["Kstar"] for r in sel], [r["seen_acc"] for r in sel], ls=ls,
                             color=color(setting, d), label=f"{setting}, d={d}, K={which}")
    axes[0].set_title("(b) seen users vs K* (dashed: K = 1)", fontsize=10)
    axes[0].set_xlabel("K* (true groups)")
    for setting, by_d in summary["c"].items():
        for d, rows in by_d.items():
            errorbar(axes[1], [r["n_train"] for r in rows], [r["seen_acc"] for r in rows], color=color(setting, d),
                     label=f"{setting}, d={d}")
    axes[1].set_title("(c) seen users vs comparisons per user (K = K*)", fontsize=10)
    axes[1].set_xlabel("n (comparisons per seen user)")
    axes[1].set_xscale("log")
    for ax in axes[:2]:
        ax.set_ylabel("held-out accuracy")
        legend_below(ax)
    curves, hlines = [], []
    for setting, by_d in summary["d"].items():
        for d_val, d in by_d.items():
            curves += [(f"{setting}, d={d_val}, {name}", d["m"], d[name], ls, color(setting, d_val))
                       for name, ls in (("random", "-"), ("active", "--")) if name in d]
            hlines += [(d["seen_acc"], ":")]
    fewshot_panel(axes[2], curves, "(d) unseen users vs few-shot samples m\n(dotted: seen accuracy)", hlines,
                  xlabel="m")
    n = max((r["n_seeds"] for by_d in summary["b"].values() for rows in by_d.values() for r in rows), default=None)
    seeds = None if n is None else f"derive({results.get('seed')}, r) for r < {n}"
    fig.suptitle(textwrap.fill(caption("PAL-A simulation (seed 002, sec. 4.2, Fig. 5; App. D.2 settings)", profile,
                                       seeds), 130), fontsize=10)
    return save(fig, path)


def d2_pictures(results: dict, path: Path, profile: str | None = None) -> Path:
    """App. D.1 / D.2 at d = 2 (Fig. D.1: K* = 3, K = 1, 2, 3, partition and mixture): true vs learned
    prototypes and ideal points of the seen users, and the unseen users localized from a few samples, one
    row per population and one panel per K; PNG + PDF at ``path``."""
    d2 = results["d2"]
    ncols = max(len(byK) for byK in d2.values())
    fig, axes = figure(ncols, len(d2), figsize=(4.5 * ncols, 4.5 * len(d2)))
    for row, (setting, byK) in zip(axes, sorted(d2.items(), key=lambda kv: kv[0] != "partition")):
        for ax, (K, r) in zip(row, sorted(byK.items(), key=lambda kv: int(kv[0]))):
            p = r["points"]
            a_true, a_hat = p["ideal_seen_true"], p["ideal_seen_learned"]
            for t, h in zip(a_true, a_hat):
                ax.plot([t[0], h[0]], [t[1], h[1]], color="0.8", lw=0.7, zorder=1)
            ax.scatter(*zip(*a_true), s=12, c="tab:blue", label="true ideal points (seen)", zorder=2)
            ax.scatter(*zip(*a_hat), s=12, c="tab:orange", label="learned ideal points (seen)", zorder=2)
            ax.scatter(*zip(*p["ideal_unseen_true"]), s=40, facecolors="none", edgecolors="tab:green",
                       label="true (unseen)")
            ax.scatter(*zip(*p["ideal_unseen_localized"]), s=40, marker="+", c="tab:green",
                       label=f"localized (unseen, m={r['m_shown']})")
            ax.scatter(*zip(*p["prototypes_true"]), s=220, marker="*", c="k", label="true prototypes")
            ax.scatter(*zip(*p["prototypes_learned"]), s=120, marker="X", c="tab:red", label="learned prototypes")
            ax.set_title(f"{setting}, K = {K}: seen acc {r['seen_acc']:.3f}, proto dist/sep "
                         f"{r['prototypes']['max_dist_over_min_sep']:.2f}", fontsize=8)
            ax.set_aspect("equal")
        for ax in row[len(byK):]:
            ax.axis("off")
    axes[0][0].legend(fontsize=6, loc="best")
    where = "" if profile is None else f" (profile {profile}, base seed {results.get('seed')})"
    fig.suptitle(f"PAL-A at d = 2 (seed 002, App. D.1 / D.2, Fig. D.1): one population per setting{where}",
                 fontsize=10)
    return save(fig, path)
