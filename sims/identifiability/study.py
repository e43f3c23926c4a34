"""Latent-class logit recovery with one choice per user, binary vs k-wise (seed 001, Chidambaram et al.,
sec. 4 and the issue's "synthetic binary-vs-ternary identifiability study"; command:
``pluralign sims identifiability``).

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

Choices are drawn by :func:`pluralign.choice.sample_choice` (one uniform per user, inverse CDF). Seeds
(:mod:`pluralign.seeding`): the data of replicate r of base seed s at (N, n) come from
``derive(s, r, "data", N, n)``, EM is seeded by ``derive_int(s, r, "em", N, n)``; the pymc comparison
(:mod:`pluralign.sims.identifiability.bayes`) derives its own streams from s.

Cells: one per (N, n, replicate) and one for the pymc comparison, under ``OUT/cells``; ``results.json``
holds the summary (mean ± s.e.m. over seeds), the pymc posteriors and every cell; the figures
``recovery_vs_N.png`` and ``bayes_symmetric_part.png`` are drawn from it by
:mod:`pluralign.paper_figures.identifiability`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pluralign.choice import sample_choice
from pluralign.data import Choices
from pluralign.em import EMConfig, LatentClassLogit, MixtureEM, match_components
from pluralign.runs import CellStore, Profile, mean_sem, run_cells, write_json
from pluralign.seeding import derive, derive_int

__all__ = ["PROFILES", "TRUE_BETAS", "TRUE_WEIGHTS", "NewtonLatentClassLogit", "StudySettings", "cell_key",
           "fit_cell", "recovery_errors", "run", "simulate", "summarize"]


@dataclass
class StudySettings:
    """Scale of the latent-class logit study (written to config.json)."""

    Ns: list = field(default_factory=lambda: [300, 1000, 3000, 6000])
    """Numbers of users (one choice each), swept for every n in ``ns_vs_N``."""
    ns_vs_N: list = field(default_factory=lambda: [2, 3])
    """Choice-set sizes swept over N (the figure's curves)."""
    ns: list = field(default_factory=lambda: [2, 3, 4, 5])
    """Choice-set sizes compared at the largest N."""
    n_seeds: int = 3
    """Data sets per (N, n); replicate r of base seed s is seeded by derive(s, r, ...)."""
    n_restarts: int = 2
    """EM restarts."""
    max_iter: int = 80
    """EM iteration cap."""
    tol: float = 1e-6
    """EM relative tolerance."""
    bayes: bool = True
    """Also run the pymc posterior comparison (sims.identifiability.bayes) for n = 2 vs n = 3."""
    bayes_N: int = 300
    """Users in the pymc runs."""
    bayes_draws: int = 200
    """Posterior draws (and tuning steps) per chain in the pymc runs."""

    def __post_init__(self):
        if not self.Ns or any(int(N) < 1 for N in self.Ns):
            raise ValueError(f"Ns: need positive numbers of users, got {self.Ns}")
        for name in ("ns_vs_N", "ns"):
            if any(int(n) < 2 for n in getattr(self, name)):
                raise ValueError(f"{name}: a choice set needs n >= 2 options, got {getattr(self, name)}")
        for name in ("n_seeds", "n_restarts", "max_iter", "bayes_N", "bayes_draws"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")

    def grid(self) -> list[tuple[int, int]]:
        """(N, n) cells: every N for n in ns_vs_N, plus every n at the largest N."""
        cells = [(N, n) for n in self.ns_vs_N for N in self.Ns] + [(max(self.Ns), n) for n in self.ns]
        return sorted(set(cells))


PROFILES = {
    Profile.smoke: StudySettings(Ns=[100, 300], ns=[2, 3], n_seeds=1, n_restarts=1, max_iter=10, bayes=False),
    Profile.quick: StudySettings(),
    Profile.paper: StudySettings(Ns=[250, 500, 1000, 2000, 4000, 8000, 16000], ns_vs_N=[2, 3, 4, 5], n_seeds=10,
                                 n_restarts=5, max_iter=500, tol=1e-8, bayes_N=2000, bayes_draws=1000),
}

# the population: a beta / -beta pair with equal weights and a third type (d = 3)
TRUE_BETAS = np.array([[2.0, 1.0, 0.0], [-2.0, -1.0, 0.0], [0.0, 0.5, 2.0]])
TRUE_WEIGHTS = np.array([0.3, 0.3, 0.4])


class NewtonLatentClassLogit(LatentClassLogit):
    """Kept for callers of the old name: the core :class:`pluralign.em.LatentClassLogit`, whose default
    M-step is now this study's damped Newton (moved into the core, issue 18)."""

    def __init__(self, choices, l2: float = 1e-2, init_scale: float = 1.0):
        super().__init__(choices, l2=l2, init_scale=init_scale, m_step="newton")


def simulate(N: int, n: int, rng: np.random.Generator, betas=TRUE_BETAS, weights=TRUE_WEIGHTS):
    """One choice per user among n options with N(0, I) features (multinomial logit,
    :func:`pluralign.choice.sample_choice`); returns (Choices, true types)."""
    K, d = betas.shape
    types = rng.choice(K, size=N, p=weights)
    X = rng.standard_normal((N, n, d))
    chosen = sample_choice(np.einsum("mnd,md->mn", X, betas[types]), rng)
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


def fit_cell(N: int, n: int, seed: int, rep: int, s: StudySettings) -> dict:
    """Simulate replicate ``rep`` of base ``seed`` at (N, n), fit the mixture by EM, report recovery errors."""
    ch, types = simulate(N, n, derive(seed, rep, "data", N, n))
    K = TRUE_BETAS.shape[0]
    em = MixtureEM(LatentClassLogit(ch, l2=1e-3, m_step="newton"),
                   EMConfig(n_components=K, init="random", n_restarts=s.n_restarts, max_iter=s.max_iter, tol=s.tol,
                            seed=derive_int(seed, rep, "em", N, n))).fit()
    out = recovery_errors(np.asarray(em.params_), em.rho_)
    out["marginal_ll"] = em.trace_[-1]["marginal_ll"]
    out["n_iter"] = len(em.trace_)
    # the log-likelihood of the truth on the same data (is the truth's likelihood matched or beaten?)
    from pluralign.theory.leaky_elbo import marginal_log_likelihood

    truth_ll = LatentClassLogit(ch).log_likelihood(TRUE_BETAS)
    out["true_marginal_ll"] = float(marginal_log_likelihood(truth_ll, TRUE_WEIGHTS))
    return out


ERROR_KEYS = ("beta_error", "weight_error", "pair_symmetric_error", "pair_antisymmetric_error", "third_type_error")


def summarize(cells: list[dict]) -> dict:
    """Mean and s.e.m. over seeds (:func:`pluralign.runs.mean_sem`) of every recovery error per (N, n):
    keys ``{error}_mean`` / ``{error}_sem``."""
    out: dict = {}
    for (N, n) in sorted({(c["config"]["N"], c["config"]["n"]) for c in cells}):
        cs = [c for c in cells if (c["config"]["N"], c["config"]["n"]) == (N, n)]
        row = {"n_seeds": len(cs)}
        for k in ERROR_KEYS:
            ms = mean_sem(c["metrics"][k] for c in cs)
            row[f"{k}_mean"], row[f"{k}_sem"] = ms["mean"], ms["sem"]
        out[f"N={N}_n={n}"] = row
    return out


def cell_key(N: int, n: int, seed: int, rep: int) -> str:
    return f"N={N}_n={n}_seed={seed}_rep={rep}"


def _work(s: StudySettings, out: Path, N: int, n: int, seed: int, rep: int) -> None:
    CellStore(out).save(cell_key(N, n, seed, rep), {"N": N, "n": n, "seed": seed, "rep": rep},
                        fit_cell(N, n, seed, rep, s))


def _bayes(s: StudySettings, seed: int, store: CellStore) -> dict:
    """The pymc comparison (n = 2 vs n = 3) as one cell, posterior draws of the pair's symmetric part kept
    for the figure."""
    key = f"bayes_seed={seed}"
    if not store.done(key):
        import logging

        from pluralign.sims.identifiability.bayes import BayesSettings, compare

        logging.getLogger("pymc").setLevel(logging.ERROR)
        bs = BayesSettings(N=s.bayes_N, draws=s.bayes_draws, tune=s.bayes_draws)
        store.save(key, {"bayes": asdict(bs), "seed": seed}, compare(bs, seed=seed, keep_draws=True))
    return store.load(key)["metrics"]


def run(settings: StudySettings, seed: int, out: Path, progress: bool = True) -> dict:
    """Every (N, n, replicate) cell and, with ``settings.bayes``, the pymc cell (finished cells are skipped),
    then ``out/results.json``: the settings, the base seed, the truth, the summary, the pymc posteriors and
    every cell."""
    out = Path(out)
    s = settings
    store = CellStore(out)
    grid = [(N, n, seed, rep) for (N, n) in s.grid() for rep in range(s.n_seeds)]
    todo = [(s, out, *g) for g in grid if not store.done(cell_key(*g))]
    run_cells(_work, todo, n_jobs=1, desc="sims identifiability", progress=progress)
    keys = {cell_key(*g) for g in grid}
    cells = [c for c in store.all() if c["key"] in keys]
    results = {"settings": asdict(s), "seed": int(seed), "true_betas": TRUE_BETAS, "true_weights": TRUE_WEIGHTS,
               "summary": summarize(cells), "cells": cells}
    if s.bayes:
        results["bayes"] = _bayes(s, seed, store)
    write_json(out / "results.json", results)
    return results
