"""EM-DPO's number of groups K as a hyper-parameter on the MPI testbed (seed 001, App. D.3.1, Fig. 2).

Seed 001 D.3.1: "We don't know the exact number of latent sub-groups apriori, so we treat this as a
hyper-parameter and tune it using a validation dataset [...] we generate dataset from each of the preference
group. We then use the same accuracy and reward margins metrics from the experiment section. [...] the
reward margins either peak at k = 4 or increase only marginally for k > 4".

The same data as :mod:`pluralign.sims.mpi.study` (three personalities P1, P2 = -P1, P3 with probabilities
.3 / .3 / .4, one preference per user, binary n = 2 or ternary n = 3, replicate r of base seed s sampled
from ``derive(s, r, "sample", n)``), EM-DPO fitted with each K in ``Ks`` (seed ``derive_int(s, r, "em_dpo",
K)``). Metrics per true personality k' (sec. 5, "Metrics"): the max-mean reward margin
max_i E_{D_k'}[beta log(pi_i(y_w)/pi_ref(y_w)) - beta log(pi_i(y_l)/pi_ref(y_l))] over the K learned
policies, and the pairwise accuracy of that (margin-best) policy. The "validation dataset of each group" is
the exact one of the tabular testbed: every item pair strictly ranked by r_k' on every prompt.

Cells: one per (n, K, replicate) under ``OUT/cells``. ``results.json``: ``source`` ("tabular twin"), the
settings, the base seed, ``summary["n=<n>"]["K=<K>"]`` with ``{type}_reward_margin_mean`` / ``_sem``,
``{type}_accuracy_mean`` / ``_sem`` (mean +- s.e.m. over seeds, the keys of the mpi study's summary),
``n_seeds`` and ``seconds`` (EM wall time, mean +- s.e.m.), and every cell. No command of its own: ``pluralign figures make
seed001_fig2_margin_vs_K`` runs it (results under ``results/sims-mpi-k-sweep/<profile>``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pluralign.emdpo import EMDPO, LogLinearPolicy
from pluralign.runs import CellStore, Profile, mean_sem, run_cells, write_json
from pluralign.seeding import derive, derive_int
from pluralign.sims.emdpo_common import PROFILES as EMDPO_PROFILES
from pluralign.sims.emdpo_common import EMDPOSettings
from pluralign.sims.mpi.study import testbed_and_policy

__all__ = ["PROFILES", "SOURCE", "KSweepSettings", "cell_key", "run", "summarize"]

SOURCE = "tabular twin"
"""What produced these numbers (the language-model pipeline writes its own ``source``)."""


@dataclass
class KSweepSettings(EMDPOSettings):
    """The EM-DPO scale of the mpi study plus the K sweep (written to config.json)."""

    Ks: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    """Numbers of groups K fitted by EM-DPO (seed 001 Fig. 2: 1..6)."""
    n_options: tuple[int, ...] = (2, 3)
    """Feedback: 2 = binary, 3 = ternary."""

    def __post_init__(self):
        super().__post_init__()
        if not self.Ks or any(int(K) < 1 for K in self.Ks) or len(set(self.Ks)) != len(self.Ks):
            raise ValueError(f"Ks: must be distinct integers >= 1, got {tuple(self.Ks)}")
        if not self.n_options or set(self.n_options) - {2, 3}:
            raise ValueError(f"n_options: must be a non-empty subset of (2, 3), got {tuple(self.n_options)}")
        self.Ks, self.n_options = tuple(int(K) for K in self.Ks), tuple(int(n) for n in self.n_options)


def _from(base: EMDPOSettings, **kw) -> KSweepSettings:
    return KSweepSettings(**{**asdict(base), **kw})


PROFILES = {
    Profile.smoke: _from(EMDPO_PROFILES[Profile.smoke], Ks=(1, 2, 3)),
    Profile.quick: _from(EMDPO_PROFILES[Profile.quick], n_seeds=3, n_restarts=1),
    Profile.paper: _from(EMDPO_PROFILES[Profile.paper]),
}
"""The mpi study's scale per profile (quick: 3 seeds and 1 EM restart instead of 5 and 2 -- EM at K = 6 costs
about twice K = 3; smoke: K in 1..3)."""


def cell_key(n: int, K: int, seed: int, rep: int) -> str:
    return f"n={n}_K={K}_seed={seed}_rep={rep}"


def evaluate_max_mean(tb, policy: LogLinearPolicy, thetas) -> dict:
    """Per true type k': the max-mean reward margin over the learned policies (seed 001 sec. 5, Metrics),
    the accuracy of the margin-best policy and which policy it is."""
    logpis = [policy.logprobs(th) for th in np.atleast_2d(thetas)]
    out = {}
    for k, name in enumerate(tb.type_names):
        margins = [tb.reward_margin(lp, k) for lp in logpis]
        best = int(np.argmax(margins))
        out[name] = {"reward_margin": float(margins[best]), "accuracy": tb.accuracy(logpis[best], k), "best": best}
    return out


def _work(tb, policy, s: KSweepSettings, out: Path, n: int, K: int, seed: int, rep: int) -> None:
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    sample = tb.sample(s.n_users, n, derive(seed, rep, "sample", n))
    ch = sample.choices
    feats = tb.user_features(ch) if s.init == "kmeans++" else None
    em = EMDPO(policy, K, init=s.init, n_restarts=s.n_restarts, max_iter=s.max_iter, tol=s.tol,
               seed=derive_int(seed, rep, "em_dpo", K)).fit(ch, feats)
    fit = em.as_fit()
    metrics = evaluate_max_mean(tb, policy, fit.thetas)
    metrics.update({"rho": np.asarray(fit.rho).tolist(), "n_iter": len(em.trace_),
                    "marginal_ll": float(em.trace_[-1]["marginal_ll"]), "seconds": time.perf_counter() - t0})
    CellStore(out).save(cell_key(n, K, seed, rep), {"n_options": n, "K": K, "seed": seed, "rep": rep}, metrics)


def summarize(cells: list[dict], type_names) -> dict:
    """Mean and s.e.m. over seeds per (n, K): ``{type}_{reward_margin|accuracy}_mean`` / ``_sem``,
    ``marginal_ll_mean`` / ``_sem``, ``n_seeds`` and the EM wall time ``seconds`` (a mean_sem dict)."""
    out: dict = {}
    for n in sorted({c["config"]["n_options"] for c in cells}):
        out[f"n={n}"] = {}
        for K in sorted({c["config"]["K"] for c in cells if c["config"]["n_options"] == n}):
            cs = [c["metrics"] for c in cells if c["config"]["n_options"] == n and c["config"]["K"] == K]
            series = {f"{t}_{m}": [c[t][m] for c in cs] for t in type_names for m in ("reward_margin", "accuracy")}
            series["marginal_ll"] = [c["marginal_ll"] for c in cs]
            row: dict = {"n_seeds": len(cs), "seconds": mean_sem(c["seconds"] for c in cs)}
            for name, v in series.items():
                ms = mean_sem(v)
                row[f"{name}_mean"], row[f"{name}_sem"] = ms["mean"], ms["sem"]
            out[f"n={n}"][f"K={K}"] = row
    return out


def run(settings: KSweepSettings, seed: int, out: Path, progress: bool = True) -> dict:
    """Every (n, K, replicate) cell (finished cells are skipped), then ``out/results.json``."""
    out = Path(out)
    s = settings
    _, tb, policy = testbed_and_policy(s, seed)
    store = CellStore(out)
    grid = [(n, K, seed, rep) for rep in range(s.n_seeds) for n in s.n_options for K in s.Ks]
    todo = [(tb, policy, s, out, *g) for g in grid if not store.done(cell_key(*g))]
    run_cells(_work, todo, n_jobs=1, desc="sims mpi K sweep", progress=progress)
    keys = {cell_key(*g) for g in grid}
    cells = [c for c in store.all() if c["key"] in keys]
    results = {"source": SOURCE, "settings": asdict(s), "seed": int(seed), "type_names": list(tb.type_names),
               "summary": summarize(cells, tb.type_names), "cells": cells}
    write_json(out / "results.json", results)
    return results
