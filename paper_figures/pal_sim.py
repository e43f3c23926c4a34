"""Figures of the PAL simulation (seed 002, sec. 4.2, Fig. 5 b-d; App. D.1 / D.2), drawn from the study's
results (:func:`pluralign.sims.pal_sim.run`) in the package style (:mod:`pluralign.paper_figures.style`).

:func:`fewshot_panel` (unseen users' accuracy against few-shot samples m) is shared with the persona
experiment's figure (:mod:`pluralign.paper_figures.pal_persona`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from pluralign.paper_figures.style import caption, errorbar, figure, save

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
    ax.legend(fontsize=7)


def plot(results: dict, path: Path, profile: str | None = None) -> Path:
    """Fig. 5 (b) seen users vs K, (c) vs comparisons per user, (d) unseen users vs few-shot samples m
    (random and active queries), mean +- s.e.m. over replicates; PNG + PDF at ``path``."""
    summary = results["summary"]
    fig, axes = figure(3, 1)
    axes = axes[0]
    for panel, ax, xkey, title in (("b", axes[0], "K", "(b) seen users vs K"),
                                   ("c", axes[1], "n_train", "(c) seen users vs comparisons per user")):
        for setting, rows in summary[panel].items():
            errorbar(ax, [r[xkey] for r in rows], [r["seen_acc"] for r in rows], label=setting)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xkey)
        ax.set_ylabel("held-out accuracy")
        ax.legend(fontsize=7)
    axes[1].set_xscale("log")
    curves, hlines = [], []
    for setting, d in summary["d"].items():
        curves += [(f"{setting}, {name}", d["m"], d[name], ls) for name, ls in (("random", "-"), ("active", "--"))
                   if name in d]
        hlines += [(d["seen_acc"], ":"), (d["zero_shot"], "-.")]
    fewshot_panel(axes[2], curves, "(d) unseen users vs few-shot samples m\n(dotted: seen acc; dash-dot: zero-shot)",
                  hlines, xlabel="m")
    n = max((r["n_seeds"] for rows in summary["b"].values() for r in rows), default=None)
    seeds = None if n is None else f"derive({results.get('seed')}, r) for r < {n}"
    fig.suptitle(textwrap.fill(caption("PAL-A simulation (seed 002, sec. 4.2, Fig. 5)", profile, seeds), 130),
                 fontsize=10)
    return save(fig, path)


def d2_pictures(results: dict, path: Path, profile: str | None = None) -> Path:
    """App. D.1 / D.2 at d = 2: true vs learned prototypes and ideal points of the seen users, and the
    unseen users localized from a few samples, one panel per population; PNG + PDF at ``path``."""
    d2 = results["d2"]
    fig, axes = figure(len(d2), 1, figsize=(5.5 * len(d2), 5))
    for ax, (setting, r) in zip(axes[0], d2.items()):
        p = r["points"]
        a_true, a_hat = p["ideal_seen_true"], p["ideal_seen_learned"]
        for t, h in zip(a_true, a_hat):
            ax.plot([t[0], h[0]], [t[1], h[1]], color="0.8", lw=0.7, zorder=1)
        ax.scatter(*zip(*a_true), s=12, c="tab:blue", label="true ideal points (seen)", zorder=2)
        ax.scatter(*zip(*a_hat), s=12, c="tab:orange", label="learned ideal points (seen)", zorder=2)
        ax.scatter(*zip(*p["ideal_unseen_true"]), s=40, facecolors="none", edgecolors="tab:green", label="true (unseen)")
        ax.scatter(*zip(*p["ideal_unseen_localized"]), s=40, marker="+", c="tab:green",
                   label=f"localized (unseen, m={r['m_shown']})")
        ax.scatter(*zip(*p["prototypes_true"]), s=220, marker="*", c="k", label="true prototypes")
        ax.scatter(*zip(*p["prototypes_learned"]), s=120, marker="X", c="tab:red", label="learned prototypes")
        ax.set_title(f"d = 2, {setting}: seen acc {r['seen_acc']:.3f}, proto dist/sep "
                     f"{r['prototypes']['max_dist_over_min_sep']:.2f}", fontsize=9)
        ax.set_aspect("equal")
    axes[0][0].legend(fontsize=7, loc="best")
    where = "" if profile is None else f" (profile {profile}, base seed {results.get('seed')})"
    fig.suptitle(f"PAL-A at d = 2 (seed 002, App. D.1 / D.2): one population each{where}", fontsize=10)
    return save(fig, path)
