"""The figure of ``pluralign sims aggregation`` (seeds 003, 004): six panels drawn from the study's results
(:func:`pluralign.sims.aggregation.run`), in the package style (:mod:`pluralign.paper_figures.style`)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from pluralign.paper_figures.style import CAPSIZE, caption, color_for, figure, save

__all__ = ["plot", "draw"]


def _value(v) -> tuple[float, float]:
    """(mean, s.e.m.) of a :func:`pluralign.runs.mean_sem` dict; a plain number has no error bar."""
    if isinstance(v, dict):
        return float(v["mean"]), float(v["sem"])
    return float(v), 0.0


def _vs_labels(ax, rows: list[dict], models, solid: str, dashed: tuple[str, ...], get=lambda r: r) -> None:
    """Curves against labels per user (log axis, one tick per grid value): one colour per model, key
    ``solid`` as a solid line with markers (and error bars when the values carry an s.e.m.), the keys of
    ``dashed`` as thinner dashed / dotted lines."""
    ms = [r["labels_per_user"] for r in rows]
    for model in models:
        c = color_for(model)
        y = np.array([_value(get(r)[model][solid]) for r in rows])
        ax.errorbar(ms, y[:, 0], yerr=y[:, 1] if y[:, 1].any() else None, fmt="-o", color=c, capsize=CAPSIZE,
                    label=f"{model}: {solid}")
        for key, ls in zip(dashed, ("--", ":")):
            ax.plot(ms, [_value(get(r)[model][key])[0] for r in rows], ls, color=c, alpha=0.7)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(ms, [str(m) for m in ms])
    ax.set_xlabel("labels per user")
    ax.legend(fontsize=8)


def plot(results: dict, path: Path, profile: str | None = None, seed: int | None = None) -> Path:
    """The six panels (personalization bias / variance, the pooled centroid, minority welfare vs split,
    welfare vs labels per user, social-choice rules, misreport search) to ``path`` (PNG + PDF)."""
    fig, ax = figure(3, 2)

    # 1. personalization bias / variance
    a = ax[0, 0]
    _vs_labels(a, results["personalization"]["rows"], ("pooled", "individual", "shared", "clustered"),
               "mse", ("bias2", "variance"))
    a.set_ylabel("error of P(a > b)  (solid MSE, -- bias², : variance)")
    a.set_title("1. personalized rewards: bias / variance (seed 003)")

    # 2. pooled BT centroid: closed form vs simulation
    a = ax[0, 1]
    cf = results["centroid"]["closed_form"]
    pis = [r["pi"] for r in cf]
    a.plot(pis, [r["closed_form"][0] for r in cf], "-", color="C0", label="closed form logit(Σπσ(β))")
    a.plot(pis, [r["simulated_large_N"][0] for r in cf], "o", color="C3", label=f"simulated MLE, N={cf[0]['N_large']:.0e}")
    a.plot(pis, [r["simulated_records"][0] for r in cf], "x", color="C1", label=f"per-record MLE, N={cf[0]['N_records']:.0e}")
    a.plot(pis, [r["average_of_betas"][0] for r in cf], "--", color="gray", label="average of betas (not the MLE)")
    a.set_xlabel("majority share π")
    a.set_ylabel("pooled θ on the contested axis")
    a.set_title("5a. one BT model on opposed groups (seed 004)")
    a.legend(fontsize=8)

    # 3. minority welfare vs split
    a = ax[0, 2]
    sp = results["centroid"]["splits"]
    pis = [r["pi"] for r in sp]
    for model in ("pooled_population", "pooled", "clustered", "oracle"):
        st = "--" if model == "pooled_population" else "-o"
        a.plot(pis, [r["kl"][model]["minority"] for r in sp], st, color=color_for(model), label=f"{model}: minority")
    a.plot(pis, [r["kl"]["pooled"]["majority"] for r in sp], ":", color=color_for("pooled"), label="pooled: majority")
    a.set_ylim(0, 1.05)
    a.set_xlabel("majority share π")
    a.set_ylabel("normalized welfare (KL-regularized policy)")
    a.set_title("5b. minority welfare: pooled vs K = 2")
    a.legend(fontsize=8)

    # 4. welfare vs labels per user (mean +- s.e.m. over replicates)
    a = ax[1, 0]
    _vs_labels(a, results["centroid"]["labels"], ("pooled", "clustered", "individual", "oracle"),
               "utilitarian", ("minority",), get=lambda r: r["kl"])
    a.set_ylabel("normalized welfare (solid mean, -- minority)")
    a.set_title("5c. welfare vs labels per user")

    # 5. social choice rules
    a = ax[1, 1]
    sc = results["rules"]["social_choice"]
    pis = [r["pi"] for r in sc]
    for k, name in enumerate(["utilitarian", "nash", "alpha=-1", "maximin", "leximin", "borda"]):
        a.plot(pis, [r[name]["minority"] for r in sc], "-o", color=f"C{k}", label=name)
    a.set_ylim(0, 1.05)
    a.set_xlabel("majority share π")
    a.set_ylabel("minority welfare of the chosen item")
    a.set_title("2. social-choice aggregation of user rewards")
    a.legend(fontsize=8)

    # 6. mechanism
    a = ax[1, 2]
    mech = results["rules"]["mechanism"]
    names = list(mech)
    fr = [mech[n]["fraction_profitable_without_payments(>1e-9)"] for n in names]
    a.bar(range(len(names)), fr, color="C3")
    a.set_xticks(range(len(names)), [f"{n}\n(n={mech[n]['n_instances']})" for n in names])
    for k, n in enumerate(names):
        a.text(k, fr[k] + 0.02, f"max gain w/ VCG:\n{mech[n]['max_gain_with_payments']:.1e}", ha="center", fontsize=8)
    a.set_ylim(0, 1.2)
    a.set_ylabel("fraction of instances with a profitable misreport (no payments)")
    a.set_title("4. misreport search: VCG payments vs none")

    for a in ax.flat:
        a.yaxis.label.set_fontsize(8)
    reps = results["centroid"]["labels"][0]["kl"]["oracle"]["utilitarian"]["n_seeds"] if results["centroid"]["labels"] else 0
    seeds = None if seed is None else f"derive({seed}, r) for r < {reps} in panel 5c"
    text = "Personalization and aggregation (seeds 003, 004)"
    fig.suptitle(textwrap.fill(caption(text, profile, seeds), 150), fontsize=10)
    return save(fig, path)


def draw(results: dict, out: Path, profile: str | None = None) -> list[Path]:
    """Every figure of the study into ``out`` (the command's output folder)."""
    return [plot(results, Path(out) / "aggregation.png", profile=profile, seed=results.get("seed"))]
