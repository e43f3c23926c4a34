"""The figures of the identifiability study (seed 001, sec. 4), drawn from its results: recovery error of
the latent-class logit vs N and vs n, and the pymc posterior of the beta / -beta pair's symmetric part."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.paper_figures.style import CAPSIZE, caption, color_for, figure, save

__all__ = ["bayes_symmetric_part", "draw", "recovery_vs_N"]

FEEDBACK = {2: "binary", 3: "ternary"}


def recovery_vs_N(results: dict, path: str | Path, profile: str | None = None) -> Path:
    """Mean |beta_k - beta_hat_k| and the error along the n = 2-unidentified directions vs N (one curve per n),
    and the recovery error vs n at the largest N; mean ± s.e.m. over seeds."""
    s, summary = results["settings"], results["summary"]
    fig, axes = figure(3, 1)
    axes = axes[0]
    for n in s["ns_vs_N"]:
        Ns = [N for N in s["Ns"] if f"N={N}_n={n}" in summary]
        for ax, key, title in ((axes[0], "beta_error", "mean |beta_k - beta_hat_k| (matched)"),
                               (axes[1], "pair_symmetric_error", "error along the n=2-unidentified directions")):
            ax.errorbar(Ns, [summary[f"N={N}_n={n}"][f"{key}_mean"] for N in Ns],
                        yerr=[summary[f"N={N}_n={n}"][f"{key}_sem"] for N in Ns], marker="o", capsize=CAPSIZE,
                        label=f"n={n}", lw=2.5 if n in (2, 3) else 1, alpha=1.0 if n in (2, 3) else 0.5,
                        color=color_for(FEEDBACK[n]) if n in FEEDBACK else None)
            ax.set_xscale("log")
            ax.set_xticks(s["Ns"], [str(N) for N in s["Ns"]])
            ax.minorticks_off()
            ax.set_xlabel("N users (one choice each)")
            ax.set_title(title, fontsize=9)
    Nmax = max(s["Ns"])
    ns = [n for n in s["ns"] if f"N={Nmax}_n={n}" in summary]
    axes[2].errorbar(ns, [summary[f"N={Nmax}_n={n}"]["beta_error_mean"] for n in ns],
                     yerr=[summary[f"N={Nmax}_n={n}"]["beta_error_sem"] for n in ns], marker="o", capsize=CAPSIZE)
    axes[2].set_xticks(ns)
    axes[2].set_xlabel("options per choice n")
    axes[2].set_title(f"recovery error vs n (N = {Nmax})", fontsize=9)
    axes[0].legend()
    fig.suptitle(caption("Latent-class logit with a beta / -beta pair: binary vs k-wise choices", profile,
                         f"base {results['seed']}, replicates 0..{s['n_seeds'] - 1}"), fontsize=9)
    return save(fig, path)


def bayes_symmetric_part(results: dict, path: str | Path, profile: str | None = None) -> Path:
    """Posterior draws of s = (beta_1 - beta_0) / 2 at n = 2 and n = 3, with the true b."""
    bayes = results["bayes"]
    fig, axes = figure(1, 1)
    ax = axes[0][0]
    for n, kind in FEEDBACK.items():
        d = np.asarray(bayes[f"n={n}"]["sym_draws"])
        ax.scatter(d[:, 0], d[:, 1], s=3, alpha=0.4, color=color_for(kind), label=f"n={n}")
    ax.scatter(*bayes["n=3"]["sym_true"], marker="*", s=150, color="k", label="true b")
    ax.set_xlabel("s_1 = (beta_1 - beta_0)_1 / 2")
    ax.set_ylabel("s_2")
    ax.set_title("posterior of the pair's symmetric part"
                 + ("" if profile is None else f" (profile {profile}, seed {results['seed']})"), fontsize=9)
    ax.legend()
    return save(fig, path)


def draw(results: dict, out: str | Path, profile: str | None = None) -> list[Path]:
    """Every figure of the study under ``out``: ``recovery_vs_N.png`` and, when the pymc comparison ran,
    ``bayes_symmetric_part.png`` (each + ``.pdf``)."""
    out = Path(out)
    paths = [recovery_vs_N(results, out / "recovery_vs_N.png", profile)]
    if "bayes" in results:
        paths.append(bayes_symmetric_part(results, out / "bayes_symmetric_part.png", profile))
    return paths
