"""The figure of the MPI study (seed 001, sec. 5, Table 1): pairwise accuracy of each method's policy
matched to each personality, binary (n = 2) vs ternary (n = 3) preferences, drawn from its results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.paper_figures.style import CAPSIZE, caption, color_for, figure, save
from pluralign.sims.mpi.study import METHODS

__all__ = ["accuracy", "draw"]

FEEDBACK = {2: "binary", 3: "ternary"}


def accuracy(results: dict, path: str | Path, profile: str | None = None) -> Path:
    """One panel per personality: pairwise accuracy of every (method, n), mean ± s.e.m. over seeds."""
    summary = results["summary"]
    types = sorted({k[: -len("_accuracy_mean")] for row in summary.values() for r in row.values() for k in r
                    if k.endswith("_accuracy_mean")})
    fig, axes = figure(len(types), 1, sharey=True)
    labels = [f"{m}\nn={n}" for m in METHODS for n in FEEDBACK]
    for ax, t in zip(axes[0], types):
        means, sems, colors = [], [], []
        for m in METHODS:
            for n, kind in FEEDBACK.items():
                row = summary.get(f"n={n}", {}).get(m)
                means.append(row[f"{t}_accuracy_mean"] if row else np.nan)
                sems.append(row[f"{t}_accuracy_sem"] if row else 0.0)
                colors.append(color_for(kind))
        ax.bar(range(len(labels)), means, yerr=sems, color=colors, capsize=CAPSIZE)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.axhline(0.5, color="gray", lw=0.8, ls="--")
        ax.set_title(f"{t}: pairwise accuracy")
        ax.set_ylim(0, 1.05)
    n_seeds = results["settings"]["n_seeds"]
    fig.suptitle(caption("MPI testbed: binary (orange) vs ternary (blue) preferences", profile,
                         f"base {results['seed']}, replicates 0..{n_seeds - 1}"), fontsize=9)
    return save(fig, path)


def draw(results: dict, out: str | Path, profile: str | None = None) -> list[Path]:
    """Every figure of the study under ``out`` (``accuracy.png`` + ``.pdf``)."""
    return [accuracy(results, Path(out) / "accuracy.png", profile)]
