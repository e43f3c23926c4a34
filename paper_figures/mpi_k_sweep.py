"""Seed 001, App. D.3.1, Fig. 2 ("Hyper-parameter Tuning Results"): EM-DPO's max-mean reward margin and
accuracy per sub-group against the number of groups K, from a K-sweep results file.

Seed 001 D.3.1: "While the accuracy metric doesn't observe any trends, we observe that the reward margins
either peak at k = 4 or increase only marginally for k > 4 across validation data from any of the component
sub-groups for both datasets."

Reads either source, whichever results.json it is given: the tabular twin
(:mod:`pluralign.sims.mpi.k_sweep`, ``"source": "tabular twin"``) or the language-model pipeline's K sweep
(its ``source``); both hold ``summary["n=<n>"]["K=<K>"]`` with ``{type}_reward_margin_mean`` / ``_sem`` and
``{type}_accuracy_mean`` / ``_sem`` (the mpi study's keys). The source is named in the figure's title.
"""

from __future__ import annotations

from pathlib import Path

from pluralign.paper_figures.style import caption, color_for, errorbar, figure, save

__all__ = ["FEEDBACK", "margin_vs_K", "source_of", "sweep_rows", "title"]

FEEDBACK = {"n=2": "binary", "n=3": "ternary"}


def source_of(results: dict) -> str:
    """What produced a K-sweep results dict ("tabular twin" when it does not say)."""
    return str(results.get("source") or "tabular twin")


def _types(rows: dict) -> list[str]:
    return sorted({k[: -len("_reward_margin_mean")] for r in rows.values() for k in r if k.endswith("_reward_margin_mean")})


def sweep_rows(results: dict) -> dict:
    """``{"n=<n>": {"K=<K>": row}}`` of a K-sweep results dict, with the drawn metrics under
    ``{type}_reward_margin_*`` and ``{type}_accuracy_*``. The twin keeps them so in ``summary``; the LM pipeline
    (pluralign.experiments.emdpo_llm) keeps the sweep in ``k_sweep``, the printed metric (seed 001 sec. 5:
    the max-mean margin on held-out users) as ``{type}_max_mean_margin_*`` and the accuracy of that
    margin-best policy as ``{type}_heldout_accuracy_*`` (its ``{type}_accuracy_*`` belongs to the policy
    matched by user overlap, another policy), so those two are drawn for it."""
    summary = results.get("k_sweep") or results.get("summary") or {}
    printed = {"_max_mean_margin_": "_reward_margin_", "_heldout_accuracy_": "_accuracy_"}

    def as_drawn(r):
        if not isinstance(r, dict) or not any("_max_mean_margin_" in k for k in r):
            return r
        out = dict(r)
        for k, v in r.items():
            for src, dst in printed.items():
                if src in k:
                    out[k.replace(src, dst)] = v
        return out

    return {n: ({K: as_drawn(r) for K, r in rows.items()} if isinstance(rows, dict) else rows)
            for n, rows in summary.items()}


def margin_vs_K(results: dict, path: str | Path, profile: str | None = None, true_K: int | None = 3) -> Path:
    """One column per feedback type, rows: max-mean reward margin and accuracy of the margin-best policy
    per true sub-group against K (mean ± s.e.m. over seeds); a dotted line at the true number of groups."""
    summary = sweep_rows(results)
    cols = [n for n in FEEDBACK if n in summary]
    bad = [n for n in cols if not all(str(k).startswith("K=") for k in summary[n])]
    if not cols or bad:
        raise ValueError("results: no K sweep (summary['n=<n>']['K=<K>']) in this results file")
    fig, axes = figure(len(cols), 2, sharex=True)
    for j, n in enumerate(cols):
        rows = summary[n]
        Ks = sorted(int(k[2:]) for k in rows)
        for t in _types(rows):
            for i, metric in enumerate(("reward_margin", "accuracy")):
                stats = [{"mean": rows[f"K={K}"][f"{t}_{metric}_mean"], "sem": rows[f"K={K}"][f"{t}_{metric}_sem"]}
                         for K in Ks]
                errorbar(axes[i, j], Ks, stats, color=color_for(t), label=t, ms=4)
        for i, ylab in enumerate(("max-mean reward margin", "accuracy (margin-best policy)")):
            ax = axes[i, j]
            if true_K is not None:
                ax.axvline(true_K, color="gray", ls=":", lw=1)
            ax.set_xticks(Ks)
            ax.set_title(f"{FEEDBACK[n]} feedback ({n}): {ylab}", fontsize=9)
            ax.set_ylabel(ylab)
            ax.grid(alpha=0.3)
        axes[1, j].set_xlabel("K (number of groups fitted by EM-DPO)")
        axes[1, j].axhline(0.5, color="gray", lw=0.8, ls="--")
    axes[0, 0].legend(fontsize=8, title="sub-group", title_fontsize=8)
    fig.suptitle(title(results, profile, true_K), fontsize=9)
    return save(fig, path)


def title(results: dict, profile: str | None = None, true_K: int | None = 3) -> str:
    """The figure's caption: the source first, the profile and seeds last."""
    st = results.get("settings", {})
    seeds = f"base {results.get('seed')}, replicates 0..{st.get('n_seeds', 1) - 1}" if "n_seeds" in st else None
    dotted = "" if true_K is None else f" (dotted: the true {true_K} groups)"
    return caption(f"Source: {source_of(results)}. EM-DPO max-mean reward margin / accuracy per sub-group vs K{dotted}",
                   profile, seeds)
