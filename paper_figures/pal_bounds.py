"""The figure of ``pluralign pal bounds`` (seed 002, sec. 4.1, Thm. 2 vs Prop. C.4): per-user samples
m*(eps) against D (K fixed) and against K (D fixed), each curve divided by its value at the smallest grid
point, drawn from the study's results (:func:`pluralign.sims.pal_bounds.run`) in the package style."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from pluralign.paper_figures.style import caption, color_for, figure, save

__all__ = ["plot"]


def plot(results: dict, path: Path, profile: str | None = None) -> Path:
    """Two panels (vs D, vs K): the empirical m* of PAL (fit w) and of free ideal points (fit a) and the
    shapes of the Thm. 2 and Prop. C.4 bounds; PNG + PDF at ``path``."""
    g, th = results["grids"], results["theory"]
    fig, axes = figure(2, 1)
    for ax, vary, grid, fixed in ((axes[0][0], "D", g["D_grid"], ("K", g["K"])),
                                  (axes[0][1], "K", g["K_grid"], ("D", g["K_D"]))):
        rows = sorted((r for r in results["rows"] if r[fixed[0]] == fixed[1] and r[vary] in grid), key=lambda r: r[vary])
        x = np.array([r[vary] for r in rows], float)
        for key, lab, col in (("m_star_pal", "PAL: fit w (empirical)", color_for("PAL-A")),
                              ("m_star_free", "free ideal point: fit a (empirical)", "tab:red")):
            y = np.array([r[key] for r in rows], float)
            ok = np.isfinite(y)
            if ok.any():
                ax.plot(x[ok], y[ok] / y[ok][0], "o-", color=col, label=lab)
        for key, lab, col in ((f"thm2_vs_{vary}", "Thm. 2 per-user term (Lemma C.9; shape)", color_for("PAL-A")),
                              (f"prop_c4_vs_{vary}", "Prop. C.4 bound, N = 100 (shape)", "tab:red")):
            if key in th:
                y = np.array(th[key], float)
                ax.plot(np.array(grid, float), y / y[0], "--", color=col, alpha=0.6, label=lab)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel(vary)
        ax.set_ylabel(f"m* (excess 0-1 risk <= {results['eps']}), / value at smallest {vary}", fontsize=8)
        ax.set_title(f"samples per user vs {vary} ({fixed[0]} = {fixed[1]})", fontsize=10)
        ax.legend(fontsize=7)
    n = max((r["n_seeds"] for r in results["rows"]), default=None)
    seeds = None if n is None else f"derive({results.get('seed')}, r) for r < {n}"
    text = ("PAL Thm. 2 vs Prop. C.4 (seed 002, sec. 4.1; bounds at zeta_M = D, zeta_v = sqrt(D)): per-user sample "
            "complexity, m* from the mean excess-risk curve")
    bars = f"none (each m* is read off the excess-risk curve averaged over {n} seed(s))"
    fig.suptitle(textwrap.fill(caption(text, profile, seeds, errorbars=bars), 110), fontsize=9)
    return save(fig, path)
