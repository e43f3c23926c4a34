"""The figure of the bandit-PREC study (seed 000, cf. Fig. 2): welfare vs K, drawn from its results.

``welfare_vs_K(results, path)`` reads the dict that :func:`pluralign.sims.prec_bandit.run` returns (and
writes as ``results.json``): one panel per welfare measure, one curve per (teacher, features), mean ±
s.e.m. over seeds.
"""

from __future__ import annotations

from pathlib import Path

from pluralign.paper_figures.style import caption, color_for, errorbar, figure, save
from pluralign.sims.prec_bandit.study import MEASURES

__all__ = ["draw", "welfare_vs_K"]


def welfare_vs_K(results: dict, path: str | Path, profile: str | None = None) -> Path:
    """Utilitarian, egalitarian and Nash welfare of the cluster policies against K."""
    st, summary = results["settings"], results["summary"]
    Ks = list(st["Ks"])
    fig, axes = figure(3, 1)
    for ax, meas in zip(axes[0], MEASURES):
        curves = [(f, fmt, n) for f, fmt in (("encoder", "-o"), ("random", "--s")) for n in st["noises"]]
        for q, (f, fmt, n) in enumerate(curves):
            s = summary.get(f, {}).get(n)
            if not s:
                continue
            ks = sorted(int(k) for k in s)
            dodge = 10 ** (0.012 * (q - (len(curves) - 1) / 2))  # side by side on the log axis: bars apart
            errorbar(ax, [k * dodge for k in ks], [s[str(k)][meas] for k in ks], fmt=fmt, color=color_for(n), ms=4,
                     label=f"{n}, {f}", alpha=1.0 if f == "encoder" else 0.6)
        ax.set_xscale("log")
        ax.set_xticks(Ks)
        ax.set_xticklabels([str(k) for k in Ks])
        ax.minorticks_off()
        ax.set_xlabel("K (number of cluster decoders)")
        ax.set_title(f"{meas} welfare")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("true utility (App. C.2, [0, 1])")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), title="teacher, features",
                       title_fontsize=7)  # outside the panels: never over a curve
    w = st["world"]
    fig.suptitle(caption(f"bandit-PREC: N = {w['n_users']}, M = {w['n_labels']}, T = {w['horizon']}", profile,
                         f"base {results['seed']}, replicates 0..{st['n_seeds'] - 1}"), fontsize=9)
    return save(fig, path)


def draw(results: dict, out: str | Path, profile: str | None = None) -> list[Path]:
    """Every figure of the study under ``out`` (``welfare_vs_K.png`` + ``.pdf``)."""
    return [welfare_vs_K(results, Path(out) / "welfare_vs_K.png", profile)]
