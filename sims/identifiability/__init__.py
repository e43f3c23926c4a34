"""``pluralign sims identifiability``: latent-class logit recovery with one choice per user, binary vs
k-wise (seed 001, Chidambaram et al., sec. 4 and the issue's "synthetic binary-vs-ternary
identifiability study").

N users, each makes ONE choice among n in {2, 3, 4, 5} options with iid N(0, I_d) features; user types
k = 0..K-1 with taste vectors beta_k and weights eta_k, including a pair beta / -beta.  The mixture
(eta, beta) is estimated by EM on the shared engine (:class:`pluralign.em.LatentClassLogit` inside
:class:`pluralign.em.MixtureEM`, several restarts); the recovery error after optimal (Hungarian) matching
of components is reported against N and against n, together with the error along the directions
:func:`theory.identifiability.local_identifiability` calls unidentified at n = 2: for the pair
(beta_0, beta_1) = (b, -b) with equal weights these are the symmetric moves (v, -v, 0, ...), so the
"symmetric-part" error is |(b̂_0 - b̂_1)/2 - b| after matching.  With n = 2 that part is invisible in the
data (the binary probabilities see only the odd part of the type distribution), so its error does not
shrink with N; with n >= 3 it does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import typer
from tqdm import tqdm

from pluralign.runs import CellStore, Profile, prepare_run, write_json
from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail
from pluralign.data import Choices
from pluralign.em import EMConfig, LatentClassLogit, MixtureEM, match_components


@dataclass
class StudySettings:
    """Scale of the latent-class logit study."""

    Ns: list = field(default_factory=lambda: [300, 1000, 3000, 6000])
    """numbers of users (one choice each), swept for every n in ``ns_vs_N``"""
    ns_vs_N: list = field(default_factory=lambda: [2, 3])
    """choice-set sizes swept over N (the figure's curves)"""
    ns: list = field(default_factory=lambda: [2, 3, 4, 5])
    """choice-set sizes compared at the largest N"""
    n_seeds: int = 3
    """data sets per (N, n)"""
    n_restarts: int = 2
    """EM restarts"""
    max_iter: int = 80
    """EM iteration cap"""
    tol: float = 1e-6
    """EM relative tolerance"""
    bayes: bool = True
    """also run the pymc posterior comparison (sims.identifiability.bayes) for n = 2 vs n = 3"""
    bayes_N: int = 300
    """users in the pymc runs"""
    bayes_draws: int = 200
    """posterior draws (and tuning steps) per chain in the pymc runs"""

    def grid(self) -> list[tuple[int, int]]:
        """(N, n) cells: every N for n in ns_vs_N, plus every n at the largest N."""
        cells = [(N, n) for n in self.ns_vs_N for N in self.Ns] + [(max(self.Ns), n) for n in self.ns]
        return sorted(set(cells))


PROFILES = {
    "smoke": StudySettings(Ns=[100, 300], ns=[2, 3], n_seeds=1, n_restarts=1, max_iter=10, bayes=False),
    "quick": StudySettings(),
    "paper": StudySettings(Ns=[250, 500, 1000, 2000, 4000, 8000, 16000], ns_vs_N=[2, 3, 4, 5], n_seeds=10,
                           n_restarts=5, max_iter=500, tol=1e-8, bayes_N=2000, bayes_draws=1000),
}

# the population: a beta / -beta pair with equal weights and a third type (d = 3)
TRUE_BETAS = np.array([[2.0, 1.0, 0.0], [-2.0, -1.0, 0.0], [0.0, 0.5, 2.0]])
TRUE_WEIGHTS = np.array([0.3, 0.3, 0.4])


class NewtonLatentClassLogit(LatentClassLogit):
    """:class:`pluralign.em.LatentClassLogit` with a warm-started damped-Newton M-step (exact Hessian of the
    weighted multinomial-logit log-likelihood + ridge; backtracking on the objective).  Same objective and
    optimum as the base class's L-BFGS M-step (tested), several times fewer passes over the data, which
    is what the N x n grid needs on 2 CPUs."""

    def _fit_one(self, beta0: np.ndarray, rec_w: np.ndarray, max_newton: int = 50, gtol: float = 1e-8) -> np.ndarray:
        if rec_w.sum() <= 0:
            return beta0
        X, rows, chosen, mask = self.X, self._rows, self.chosen, self.mask
        Xm = np.where(mask[:, :, None], X, 0.0)
        xc = X[rows, chosen]

        def parts(b):
            u = np.where(mask, X @ b, -np.inf)
            umax = u.max(axis=1, keepdims=True)
            e = np.exp(u - umax)
            z = e.sum(axis=1)
            lse = umax[:, 0] + np.log(z)
            p = e / z[:, None]
            f = -np.sum(rec_w * (u[rows, chosen] - lse)) + 0.5 * self.l2 * b @ b
            mean = np.einsum("mn,mnd->md", p, Xm)
            g = -(rec_w @ (xc - mean)) + self.l2 * b
            return f, g, p, mean

        b = np.array(beta0, dtype=float)
        f, g, p, mean = parts(b)
        for _ in range(max_newton):
            if np.max(np.abs(g)) <= gtol * max(1.0, rec_w.sum()):
                break
            # Hessian: sum_m w_m (E_p[x x^T] - mean mean^T) + l2 I
            Z = Xm.reshape(-1, Xm.shape[2])
            wp = (rec_w[:, None] * p).reshape(-1)
            H = Z.T @ (Z * wp[:, None]) - mean.T @ (mean * rec_w[:, None])
            H += self.l2 * np.eye(len(b))
            step = np.linalg.solve(H + 1e-12 * np.eye(len(b)), g)
            t = 1.0
            while True:
                f_new, g_new, p_new, mean_new = parts(b - t * step)
                if f_new <= f - 1e-4 * t * (g @ step) or t < 1e-10:
                    break
                t *= 0.5
            b, f, g, p, mean = b - t * step, f_new, g_new, p_new, mean_new
        return b


def simulate(N: int, n: int, rng: np.random.Generator, betas=TRUE_BETAS, weights=TRUE_WEIGHTS):
    """One choice per user among n options with N(0, I) features; returns (Choices, true types)."""
    K, d = betas.shape
    types = rng.choice(K, size=N, p=weights)
    X = rng.standard_normal((N, n, d))
    u = np.einsum("mnd,md->mn", X, betas[types])
    p = np.exp(u - u.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    chosen = (rng.random(N)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, n - 1)
    return Choices(user=np.arange(N), features=X, chosen=chosen), types


def recovery_errors(betas_hat, w_hat, betas=TRUE_BETAS, weights=TRUE_WEIGHTS) -> dict:
    """Errors after the Hungarian matching of estimated to true components (cost |beta_k - beta_hat_j|)."""
    cost = np.linalg.norm(betas[:, None, :] - betas_hat[None, :, :], axis=2)
    m = match_components(cost)
    bh, wh = betas_hat[m], np.asarray(w_hat)[m]
    sym_true = (betas[0] - betas[1]) / 2
    sym_hat = (bh[0] - bh[1]) / 2
    return {
        "beta_error": float(np.mean(np.linalg.norm(bh - betas, axis=1))),
        "weight_error": float(np.abs(wh - weights).sum()),
        "pair_symmetric_error": float(np.linalg.norm(sym_hat - sym_true)),
        "pair_antisymmetric_error": float(np.linalg.norm((bh[0] + bh[1]) / 2 - (betas[0] + betas[1]) / 2)),
        "third_type_error": float(np.linalg.norm(bh[2] - betas[2])),
        "matched_betas": bh.tolist(),
        "matched_weights": wh.tolist(),
    }


def fit_cell(N: int, n: int, seed: int, s: StudySettings) -> dict:
    rng = np.random.default_rng([seed, N, n])
    ch, types = simulate(N, n, rng)
    K = TRUE_BETAS.shape[0]
    em = MixtureEM(NewtonLatentClassLogit(ch, l2=1e-3), EMConfig(n_components=K, init="random", n_restarts=s.n_restarts,
                                                            max_iter=s.max_iter, tol=s.tol, seed=seed)).fit()
    out = recovery_errors(np.asarray(em.params_), em.rho_)
    out["marginal_ll"] = em.trace_[-1]["marginal_ll"]
    out["n_iter"] = len(em.trace_)
    # the log-likelihood of the truth on the same data (is the truth's likelihood matched or beaten?)
    from pluralign.theory.leaky_elbo import marginal_log_likelihood

    out["true_marginal_ll"] = float(marginal_log_likelihood(LatentClassLogit(ch).log_likelihood(TRUE_BETAS), TRUE_WEIGHTS))
    return out


def summarize(cells: list[dict]) -> dict:
    out: dict = {}
    keys = ("beta_error", "weight_error", "pair_symmetric_error", "pair_antisymmetric_error", "third_type_error")
    for (N, n) in sorted({(c["config"]["N"], c["config"]["n"]) for c in cells}):
        cs = [c for c in cells if (c["config"]["N"], c["config"]["n"]) == (N, n)]
        row = {"n_seeds": len(cs)}
        for k in keys:
            v = np.array([c["metrics"][k] for c in cs])
            row[f"{k}_mean"] = float(v.mean())
            row[f"{k}_std"] = float(v.std(ddof=1)) if v.size > 1 else 0.0
        out[f"N={N}_n={n}"] = row
    return out


def plot(summary: dict, s: StudySettings, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for n in s.ns_vs_N:
        Ns = [N for N in s.Ns if f"N={N}_n={n}" in summary]
        for ax, key, title in ((axes[0], "beta_error", "mean |beta_k - beta_hat_k| (matched)"),
                               (axes[1], "pair_symmetric_error", "error along the n=2-unidentified directions")):
            m = [summary[f"N={N}_n={n}"][f"{key}_mean"] for N in Ns]
            sd = [summary[f"N={N}_n={n}"][f"{key}_std"] for N in Ns]
            ax.errorbar(Ns, m, yerr=sd, marker="o", capsize=3, label=f"n={n}", lw=2.5 if n in (2, 3) else 1,
                        alpha=1.0 if n in (2, 3) else 0.5)
            ax.set_xscale("log")
            ax.set_xticks(s.Ns, [str(N) for N in s.Ns])
            ax.minorticks_off()
            ax.set_xlabel("N users (one choice each)")
            ax.set_title(title, fontsize=9)
    Nmax = max(s.Ns)
    ns = [n for n in s.ns if f"N={Nmax}_n={n}" in summary]
    axes[2].errorbar(ns, [summary[f"N={Nmax}_n={n}"]["beta_error_mean"] for n in ns],
                     yerr=[summary[f"N={Nmax}_n={n}"]["beta_error_std"] for n in ns], marker="o", capsize=3)
    axes[2].set_xlabel("options per choice n")
    axes[2].set_title(f"recovery error vs n (N = {Nmax})", fontsize=9)
    axes[0].legend()
    fig.suptitle("Latent-class logit with a beta / -beta pair: binary vs k-wise choices (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_bayes(s: StudySettings, seed: int, out: Path) -> dict:
    """The pymc comparison (n = 2 vs n = 3), cached in out/bayes.json; a figure of the posterior of the
    pair's symmetric part."""
    import logging

    from pluralign.sims.identifiability.bayes import BayesSettings, compare

    path = out / "bayes.json"
    if path.exists():
        from pluralign.runs import read_json

        return read_json(path)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    bs = BayesSettings(N=s.bayes_N, draws=s.bayes_draws, tune=s.bayes_draws)
    res = compare(bs, seed=seed, keep_draws=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4))
    for key, color in (("n=2", "tab:orange"), ("n=3", "tab:blue")):
        d = np.asarray(res[key].pop("sym_draws"))
        ax.scatter(d[:, 0], d[:, 1], s=3, alpha=0.4, color=color, label=key)
    ax.scatter(*res["n=3"]["sym_true"], marker="*", s=150, color="k", label="true b")
    ax.set_xlabel("s_1 = (beta_1 - beta_0)_1 / 2")
    ax.set_ylabel("s_2")
    ax.set_title("posterior of the pair's symmetric part", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bayes_symmetric_part.png", dpi=120)
    plt.close(fig)
    write_json(path, res)
    return res


def cli(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    """Latent-class logit recovery vs N and n (seed 001 sec. 4): binary choices leave the beta / -beta pair
    unidentified, k-wise choices do not."""
    p = Profile(profile).value
    s = PROFILES[p]
    out = prepare_run("sims identifiability", out, p, seed,
                      {"settings": asdict(s), "true_betas": TRUE_BETAS, "true_weights": TRUE_WEIGHTS,
                       "features": "iid N(0, I_d) per option"})
    store = CellStore(out)
    grid = [(N, n, rep) for (N, n) in s.grid() for rep in range(s.n_seeds)]
    keys = []
    for N, n, rep in tqdm(grid, desc="sims identifiability", unit="cell"):
        key = f"N={N}_n={n}_seed={seed + rep}"
        keys.append(key)
        if store.done(key):
            continue
        try:
            metrics = fit_cell(N, n, seed + rep, s)
        except ValueError as exc:
            fail(str(exc))
            return
        store.save(key, {"N": N, "n": n, "seed": seed + rep}, metrics)
    cells = [c for c in store.all() if c["key"] in set(keys)]
    summary = summarize(cells)
    results = {"summary": summary, "cells": cells}
    if s.bayes:
        results["bayes"] = run_bayes(s, seed, out)
    write_json(out / "results.json", results)
    plot(summary, s, out / "recovery_vs_N.png")
    for k, row in summary.items():
        typer.echo(f"{k:16s} beta err {row['beta_error_mean']:.3f}±{row['beta_error_std']:.3f}  "
                   f"pair-symmetric err {row['pair_symmetric_error_mean']:.3f}  weight err {row['weight_error_mean']:.3f}")
    for k, r in results.get("bayes", {}).items():
        typer.echo(f"pymc {k}: posterior sd along n=2-unidentified directions {r['sd_along_unidentified']:.3f}, "
                   f"along identified {r['sd_along_identified']:.3f}, max r-hat {r['r_hat_max']:.2f}")
