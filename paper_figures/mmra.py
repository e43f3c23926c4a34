"""The figure of the MMRA study (seed 001, Table 3 analogue): the true max regret of every aggregation,
as in the game (linear in the mixture weights) and as the deployed mixture policy, drawn from its results."""

from __future__ import annotations

from pathlib import Path

from pluralign.paper_figures.style import CAPSIZE, PANEL, caption, color_for, figure, save
from pluralign.sims.mmra.study import ROWS

__all__ = ["draw", "max_regret"]


def max_regret(results: dict, path: str | Path, profile: str | None = None) -> Path:
    """Bars: true max_k R_k (eq. 3) of every row, mean ± s.e.m. over seeds; ticks: the deployed mixture."""
    summary = results["summary"]
    fig, axes = figure(1, 1, figsize=(2 * PANEL[0], PANEL[1]))  # eight bars: a double-width panel
    ax = axes[0][0]
    ax.bar(range(len(ROWS)), [summary[r]["max_regret_mean"] for r in ROWS],
           yerr=[summary[r]["max_regret_sem"] for r in ROWS], capsize=CAPSIZE,
           color=[color_for(r) for r in ROWS], label="as in the game (linear in w)")
    dep = [(i, summary[f"deployed_{r}"]) for i, r in enumerate(ROWS) if f"deployed_{r}" in summary]
    ax.scatter([i for i, _ in dep], [d["max_regret_mean"] for _, d in dep], marker="_", s=300, c="tab:red", zorder=3,
               label="deployed mixture policy sum_j w_j pi_j")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the bars
    ax.set_xticks(range(len(ROWS)), ROWS, rotation=30, fontsize=8)
    ax.set_ylabel("true max_k R_k (eq. 3)")
    n_seeds = results["settings"]["n_seeds"]
    ax.set_title(caption(f"MMRA on the tabular {summary.get('testbed', 'mpi')} testbed", profile,
                         f"base {results['seed']}, replicates 0..{n_seeds - 1}"), fontsize=8)
    return save(fig, path)


def draw(results: dict, out: str | Path, profile: str | None = None) -> list[Path]:
    """Every figure of the study under ``out`` (``max_regret.png`` + ``.pdf``)."""
    return [max_regret(results, Path(out) / "max_regret.png", profile)]
