"""The one plotting style of the package: backend, sizes, colours, the error-bar convention, saving.

Every figure of :mod:`pluralign.paper_figures` is drawn through this module:

* ``figure(ncols, nrows)`` — a figure on the non-interactive Agg backend, panel size :data:`PANEL`;
* ``color_for(key)`` — one colour per method, teacher or K everywhere (:data:`COLORS`, :func:`k_color`);
* :data:`ERRORBARS` — the error-bar convention, "mean ± s.e.m. over seeds" (:func:`pluralign.runs.mean_sem`),
  stated in every caption through :func:`caption`; :func:`errorbar` draws a line of ``mean_sem`` dicts;
* ``save(fig, path)`` — PNG (:data:`DPI`) and a vector PDF beside it; returns the PNG path.

Figures read results files only and never train anything.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display, no window: figures are files
import matplotlib.pyplot as plt  # noqa: E402

DPI = 130
"""Resolution of every PNG."""
PANEL = (4.4, 3.4)
"""Width and height of one panel, in inches."""
ERRORBARS = "mean ± s.e.m. over seeds"
"""The error-bar convention of every figure and table (pluralign.runs.mean_sem)."""
CAPSIZE = 3

COLORS: dict[str, str] = {
    # teachers (B-Pref, seed 000 Table 1)
    "oracle": "tab:green", "noise1": "tab:orange", "noise2": "tab:red",
    # methods
    "em_dpo": "tab:blue", "cluster_dpo": "tab:purple", "vanilla_dpo": "tab:gray", "true_label_dpo": "k",
    "mmra_lw": "tab:olive", "mmra_original": "tab:cyan", "mmra_ae": "tab:blue", "mmra_ae_with_vanilla": "navy",
    "uniform_mixture": "tab:brown", "best_mixture": "tab:pink",
    "pooled": "C0", "pooled_population": "C0", "individual": "C1", "shared": "C2", "clustered": "C3",
    "oracle_reward": "k", "PAL-A": "tab:blue", "PAL-B": "tab:orange",
    # feedback
    "binary": "tab:orange", "ternary": "tab:blue",
    # seed 001's MPI personalities
    "P1": "tab:red", "P2": "tab:blue", "P3": "tab:green",
    # seed 000's user populations (pluralign.prec.labelers.POPULATIONS), broad -> polarized
    "broad": "#4daf4a", "bimodal": "#377eb8", "trimodal": "#984ea3", "polarized": "#e41a1c", "four": "#ff7f00",
}
"""One colour per named method / teacher / feedback type, the same in every figure."""


def k_color(K: int) -> tuple:
    """The colour of K clusters (K = 1 .. 30 on one sequential map, the same in every figure)."""
    import numpy as np

    return plt.get_cmap("viridis")(float(np.clip(np.log(max(int(K), 1)) / np.log(30.0), 0.0, 1.0)))


def color_for(key) -> object:
    """The colour of a method / teacher name, or of a number of clusters K."""
    if isinstance(key, (int,)) and not isinstance(key, bool):
        return k_color(key)
    return COLORS.get(str(key), "k")


def errorbar(ax, x, stats, **kw):
    """A line with error bars from :func:`pluralign.runs.mean_sem` dicts (``{"mean", "sem"}``) at ``x``; plain
    numbers are drawn without error bars. Markers and cap size default to the package's."""
    means = [float(v["mean"]) if isinstance(v, dict) else float(v) for v in stats]
    sems = [float(v["sem"]) if isinstance(v, dict) else None for v in stats]
    if "fmt" not in kw:
        kw.setdefault("marker", "o")
    kw.setdefault("capsize", CAPSIZE)
    return ax.errorbar(list(x), means, yerr=None if any(e is None for e in sems) else sems, **kw)


def legend_below(ax, ncol: int = 2, fontsize: float = 6):
    """The axes' legend under its x label (for panels with many curves, where a legend inside covers data)."""
    return ax.legend(fontsize=fontsize, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)


def figure(ncols: int = 1, nrows: int = 1, **kw):
    """``plt.subplots`` with the package's panel size; returns (fig, axes)."""
    kw.setdefault("figsize", (PANEL[0] * ncols, PANEL[1] * nrows))
    kw.setdefault("squeeze", False)
    return plt.subplots(nrows, ncols, **kw)


def caption(text: str, profile: str | None = None, seeds=None, errorbars: str = ERRORBARS) -> str:
    """A caption that states the error-bar convention (``errorbars``: a figure without error bars says
    why) and, when given, the profile and seeds the figure came from (so a smoke-scale picture is never
    mistaken for a result)."""
    parts = [text.rstrip(".") + f"; error bars: {errorbars}"]
    if profile is not None:
        parts.append(f"profile {profile}")
    if seeds is not None:
        parts.append(f"seeds {seeds}")
    return ". ".join(parts[:1]) + ("" if len(parts) == 1 else " (" + ", ".join(parts[1:]) + ")")


def wrap_suptitle(fig) -> None:
    """Re-wrap the figure's title (a caption can be long) to the figure's width, so none is cut off."""
    import textwrap

    t = fig._suptitle  # noqa: SLF001 - matplotlib keeps the suptitle Text here (no public getter of the artist)
    if t is None or not t.get_text():
        return
    chars = max(20, int(fig.get_figwidth() * 72 / (0.56 * t.get_fontsize())))
    lines = [textwrap.fill(line, chars) for line in t.get_text().split("\n")]
    t.set_text("\n".join(lines))


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG at :data:`DPI` and as a vector PDF beside it (the title wrapped to the figure's
    width); close it; return the PNG path."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    wrap_suptitle(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path
