"""The figures of ``pluralign pal length`` (seed 002, sec. 3.1 / App. D.3), drawn from its ``results.json``:

* :func:`plot_params` — Fig. 2's layout: seen-user test accuracy against the number of trainable
  parameters (log axis), Tiny and Large per PAL model, with the homogeneous K = 1 models and the
  per-user-embedding baseline;
* :func:`plot_fewshot` — Fig. 3: unseen users' test accuracy against the number of samples per unseen
  user, random (solid) and active (dashed) queries, the seen accuracy as a reference line;
* :func:`plot` — both side by side;
* :func:`table_rows` — Tables 1 / 3 / 5's rows (seen accuracy, unseen accuracy at m samples) beside the
  values seed 002 prints for its TL;DR counterparts (:data:`SEED002_PRINTED`).

Mean +- s.e.m. over replicates (:func:`pluralign.runs.mean_sem`).
"""

from __future__ import annotations

from pathlib import Path

from pluralign.paper_figures import style
from pluralign.paper_figures.pal_sim import fewshot_panel

__all__ = ["plot", "plot_params", "plot_fewshot", "table_rows", "SEED002_PRINTED"]

SEED002_PRINTED = {
    "PAL-A-Tiny": {"seen": 52.91, "unseen": {10: 50.12, 20: 50.55, 50: 50.49, 100: 50.40}},
    "PAL-B-Tiny": {"seen": 79.54, "unseen": {10: 74.88, 20: 77.37, 50: 76.19, 100: 77.80}},
    "PAL-A-Large": {"seen": 90.00, "unseen": {10: 73.39, 20: 74.04, 50: 72.33, 100: 74.39}},
    "PAL-B-Large": {"seen": 92.82, "unseen": {10: 91.63, 20: 91.72, 50: 92.02, 100: 91.97}},
    "PAL-A-Tiny-K1": {"seen": 49.99}, "PAL-B-Tiny-K1": {"seen": 51.51}, "PAL-B-Large-K1": {"seen": 59.96},
}
"""Seed 002's Reddit TL;DR numbers (%, mean +- s.d. over 5 seeds there): Table 3 (seen, K = 2 and K = 1;
OPT-350M for Large) and Table 5 (unseen, K = 2, N = 10 / 20 / 50 / 100 samples per unseen user)."""

MARKERS = {"tiny": "o", "large": "s", "user_embedding": "^"}


def _family(method: str) -> str:
    return "PAL-A" if method.startswith("PAL-A") else "PAL-B" if method.startswith("PAL-B") else "user_embedding"


def _caption(results: dict, text: str) -> str:
    seeds = f"{len(results.get('replicates', []))} (base seed {results.get('seed')})"
    return style.caption(text, results.get("profile"), seeds)


def params_panel(ax, table: dict) -> None:
    """Seen accuracy vs trainable parameters (one point per method)."""
    for method, row in table.items():
        strategy = "large" if "Large" in method else "tiny"
        marker = MARKERS["user_embedding"] if method.startswith("UserEmb") else MARKERS[strategy]
        face = "none" if method.endswith("K1") else None
        style.errorbar(ax, [row["trainable_params"]], [row["seen_acc"]], fmt=marker, color=style.color_for(_family(method)),
                       label=method, **({"mfc": face} if face else {}))
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("seen users: test accuracy")
    ax.set_title("Fig. 2 layout: accuracy vs trainable parameters", fontsize=10)
    ax.legend(fontsize=7)


def plot_params(results: dict, path: Path) -> Path:
    fig, axes = style.figure(1, 1)
    params_panel(axes[0][0], results["summary"]["table"])
    fig.suptitle(_caption(results, "Length task (seed 002, Fig. 2 layout)"), fontsize=9)
    return style.save(fig, path)


def fewshot_curves_panel(ax, table: dict, methods=None) -> None:
    """Unseen accuracy vs samples per unseen user, random (solid) and active (dashed), seen accuracy dotted."""
    methods = [m for m in (methods or table) if m in table]
    curves, hlines = [], []
    for i, method in enumerate(methods):
        row = table[method]
        color = f"C{i}"
        curves.append((f"{method} random", row["fewshot_m"], row["fewshot_random"], "-", color))
        if "fewshot_active" in row:
            curves.append((f"{method} active", row["fewshot_m"], row["fewshot_active"], "--", color))
        hlines.append((row["seen_acc"], ":"))
    fewshot_panel(ax, curves, "Fig. 3: unseen users (dotted: seen accuracy)", hlines=hlines,
                  xlabel="samples per unseen user", ylabel="unseen users: test accuracy")
    ms = sorted({m for _, x, *_ in curves for m in x})
    ax.minorticks_off()
    ax.set_xticks(ms, [str(m) for m in ms])


def plot_fewshot(results: dict, path: Path, methods=None) -> Path:
    fig, axes = style.figure(1, 1, figsize=(style.PANEL[0] * 1.5, style.PANEL[1] * 1.7))  # legend under the panel
    fewshot_curves_panel(axes[0][0], results["summary"]["table"], methods)
    fig.suptitle(_caption(results, "Length task (seed 002, Fig. 3)"), fontsize=9)
    return style.save(fig, path)


def plot(results: dict, path: Path) -> Path:
    """Fig. 2's layout (left) and Fig. 3 (right, the PAL-B models and the per-user baseline); PNG + PDF."""
    table = results["summary"]["table"]
    fig, axes = style.figure(2, 1, figsize=(style.PANEL[0] * 2, style.PANEL[1] * 1.5))  # legend under the right panel
    params_panel(axes[0][0], table)
    focus = [m for m in ("PAL-B-Large", "PAL-B-Tiny", "PAL-A-Large", "UserEmb-Tiny") if m in table] or None
    fewshot_curves_panel(axes[0][1], table, focus)
    fig.suptitle(_caption(results, "PAL length task (seed 002, sec. 3.1 / D.3) on persona text, MiniLM"), fontsize=9)
    return style.save(fig, path)


def table_rows(results: dict) -> list[dict]:
    """One row per method: trainable parameters, seen accuracy and unseen accuracy (random queries) at every
    few-shot m, in % as mean +- s.e.m. over replicates, with the printed TL;DR value of the same row."""
    rows = []
    for method, row in results["summary"]["table"].items():
        printed = SEED002_PRINTED.get(method, {})
        r = {"method": method, "trainable_params": row["trainable_params"],
             "seen": f"{100 * row['seen_acc']['mean']:.2f} ± {100 * row['seen_acc']['sem']:.2f}",
             "seen_printed": printed.get("seen")}
        for m, a in zip(row["fewshot_m"], row["fewshot_random"]):
            r[f"unseen_m{m}"] = f"{100 * a['mean']:.2f} ± {100 * a['sem']:.2f}"
            if m in printed.get("unseen", {}):
                r[f"unseen_m{m}_printed"] = printed["unseen"][m]
        r["m_within_2pts"] = row["unseen_within_2pts_of_seen"]
        rows.append(r)
    return rows
