"""The figure of ``pluralign sims aggregation`` (six panels, matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"pooled": "C0", "pooled_population": "C0", "individual": "C1", "shared": "C2", "clustered": "C3", "oracle": "k"}


def _log_ticks(a, ms) -> None:
    a.set_xscale("log")
    a.minorticks_off()
    a.set_xticks(ms, [str(m) for m in ms])


def plot(results: dict, path: Path) -> Path:
    fig, ax = plt.subplots(2, 3, figsize=(16, 9))

    # 1. personalization bias / variance
    a = ax[0, 0]
    rows = results["personalization"]["rows"]
    ms = [r["labels_per_user"] for r in rows]
    for model in ("pooled", "individual", "shared", "clustered"):
        c = COLORS[model]
        a.plot(ms, [r[model]["mse"] for r in rows], "-o", color=c, label=f"{model} MSE")
        a.plot(ms, [r[model]["bias2"] for r in rows], "--", color=c, alpha=0.7)
        a.plot(ms, [r[model]["variance"] for r in rows], ":", color=c, alpha=0.7)
    _log_ticks(a, ms)
    a.set_xlabel("labels per user")
    a.set_ylabel("error of P(a > b)  (solid MSE, -- bias², : variance)")
    a.set_title("1. personalized rewards: bias / variance (seed 003)")
    a.legend(fontsize=8)

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
        a.plot(pis, [r["kl"][model]["minority"] for r in sp], st, color=COLORS[model], label=f"{model}: minority")
    a.plot(pis, [r["kl"]["pooled"]["majority"] for r in sp], ":", color="C0", label="pooled: majority")
    a.set_ylim(0, 1.05)
    a.set_xlabel("majority share π")
    a.set_ylabel("normalized welfare (KL-regularized policy)")
    a.set_title("5b. minority welfare: pooled vs K = 2")
    a.legend(fontsize=8)

    # 4. welfare vs labels per user
    a = ax[1, 0]
    lab = results["centroid"]["labels"]
    ms = [r["labels_per_user"] for r in lab]
    for model in ("pooled", "clustered", "individual", "oracle"):
        a.plot(ms, [r["kl"][model]["utilitarian"] for r in lab], "-o", color=COLORS[model], label=f"{model}: mean")
        a.plot(ms, [r["kl"][model]["minority"] for r in lab], "--", color=COLORS[model], alpha=0.7)
    _log_ticks(a, ms)
    a.set_xlabel("labels per user")
    a.set_ylabel("normalized welfare (solid mean, -- minority)")
    a.set_title("5c. welfare vs labels per user")
    a.legend(fontsize=8)

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

    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
