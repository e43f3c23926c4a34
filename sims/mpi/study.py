"""EM-DPO with binary vs ternary preferences on the MPI personality items (seed 001, Chidambaram et al.,
sec. 5, Table 1), on the exact tabular testbed (command: ``pluralign sims mpi``).

Users of three personalities P1 = (3, 0, 2, 0, -2.5), P2 = -P1, P3 = (0, 2, 0, 2, 0) (probabilities
.3 / .3 / .4; rewards r_k(y) = P_k . psi(y) with psi = key * one-hot(OCEAN trait)) each give ONE preference
on a random paraphrased prompt: Bradley-Terry over two items (n = 2) or a choice of one among three
(n = 3).  Methods: EM-DPO (K = 3), Cluster DPO, vanilla DPO, True-label DPO; policies are log-linear in psi
(the class contains every optimum pi_k^*), so each DPO fit is exact.  Metrics per personality (the
policy matched to it by user overlap): pairwise accuracy on all item pairs, implicit reward margin and
regret R_k (eq. 3).

Why n = 2 cannot work for P1 / P2 ("binary-invisible part"): with sigma(t) = 1/2 + o(t), o odd, the binary
choice probability of a population is  P(a > b) = 1/2 + sum_k eta_k o(r_k(a) - r_k(b)), which depends on
the type distribution only through its odd part.  A pair beta / -beta with equal weights has odd part
zero, so .3 P1 + .3 P2 + .4 P3 gives exactly the same binary data as .6 x (indifferent users, beta = 0)
+ .4 P3, or as any symmetric pair .3 (c b) + .3 (-c b) for any direction b and scale c.  The results
record this check with :mod:`theory.identifiability` (``binary_invisible_check``: identical binary
probabilities, different ternary ones; Jacobian rank 12/17 at n = 2 with null space (v, -v, 0) — moving the
pair symmetrically — and 17/17 at n = 3).

Seeds (:mod:`pluralign.seeding`): the testbed of base seed s is seeded by ``derive_int(s, "testbed")`` (see
:mod:`pluralign.sims.emdpo_common`), the data of replicate r with n options by ``derive(s, r, "sample", n)``,
the fits by ``derive_int(s, r, "em_dpo")`` / ``derive_int(s, r, "cluster_dpo")`` (shared by n = 2 and n = 3), the
binary-invisible check by ``derive(s, "triples")`` and ``derive_int(s, "local_identifiability")``.

Cells: one per (n, replicate) under ``OUT/cells``; ``results.json`` holds the summary (mean ± s.e.m. over
seeds), the check and every cell; the figure ``accuracy.png`` is drawn from it by
:mod:`pluralign.paper_figures.mpi`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from pluralign.emdpo import LogLinearPolicy, load_mpi_items
from pluralign.runs import CellStore, mean_sem, run_cells, write_json
from pluralign.seeding import derive, derive_int
from pluralign.sims.emdpo_common import PROFILES, EMDPOSettings, evaluate, fit_all_methods, make_mpi_testbed

__all__ = ["METHODS", "METRICS", "PROFILES", "EMDPOSettings", "binary_invisible_check", "cell_key", "run",
           "summarize"]

METHODS = ("em_dpo", "cluster_dpo", "vanilla_dpo", "true_label_dpo")
METRICS = ("accuracy", "reward_margin", "regret")


def binary_invisible_check(tb, seed: int, n_triples: int = 2000) -> dict:
    """The binary-invisible part, checked with :mod:`theory.identifiability` on the testbed's own items.

    f = the true population (atoms P1, P2, P3; weights .3 / .3 / .4); g = P1, P2 replaced by indifferent
    users (beta = 0, weight .6).  Reports the max |p_f - p_g| of the aggregate choice probabilities (seed 001
    eq. 5) over all item pairs (n = 2) and over random item triples (n = 3), the odd part of f, and the local
    identifiability (Jacobian rank of (atoms, weights) -> choice probabilities) at n = 2 and n = 3 with the
    null-space directions at n = 2."""
    from pluralign.theory.identifiability import choice_probabilities, finite_mixing, local_identifiability

    psi = tb.psi[0]  # psi does not depend on the prompt
    f = finite_mixing(tb.betas, tb.type_probs)
    atoms0 = tb.betas.copy()
    atoms0[:2] = 0.0
    g = finite_mixing(atoms0, tb.type_probs)
    i, j = np.triu_indices(psi.shape[0], 1)
    X2 = np.stack([psi[i], psi[j]], axis=1)
    rng = derive(seed, "triples")
    tri = np.stack([rng.choice(psi.shape[0], 3, replace=False) for _ in range(n_triples)])
    X3 = psi[tri]
    odd = f.odd_part()
    out = {
        "binary_max_abs_diff": float(np.abs(choice_probabilities(f, X2) - choice_probabilities(g, X2)).max()),
        "ternary_max_abs_diff": float(np.abs(choice_probabilities(f, X3) - choice_probabilities(g, X3)).max()),
    }
    net: dict = {}
    for a, w in zip(odd.means, odd.weights):  # merge equal atoms: the net odd part
        key = tuple(np.round(a, 12) + 0.0)
        net[key] = net.get(key, 0.0) + float(w)
    out["odd_part_net"] = [{"atom": list(k), "weight": w} for k, w in net.items() if abs(w) > 1e-12]
    for n in (2, 3):
        li = local_identifiability(tb.betas, tb.type_probs, n=n, seed=derive_int(seed, "local_identifiability"))
        out[f"local_rank_n{n}"] = f"{li.rank}/{li.n_params}"
        if n == 2:
            out["null_space_n2"] = np.round(li.null_space.T, 6).tolist()
    return out


def summarize(cells: list[dict], type_names) -> dict:
    """Mean and s.e.m. over seeds (:func:`pluralign.runs.mean_sem`) of every (n, method, type, metric) and of
    the clustering ARI: keys ``{type}_{metric}_mean`` / ``_sem``, ``ari_mean`` / ``ari_sem``."""
    out: dict = {}
    for n in sorted({c["config"]["n_options"] for c in cells}):
        cs = [c for c in cells if c["config"]["n_options"] == n]
        out[f"n={n}"] = {}
        for m in METHODS:
            row: dict = {"n_seeds": len(cs)}
            series = {f"{t}_{met}": [c["metrics"][m][t][met] for c in cs] for t in type_names for met in METRICS}
            series["ari"] = [c["metrics"][m]["ari"] for c in cs]
            for name, v in series.items():
                ms = mean_sem(v)
                row[f"{name}_mean"], row[f"{name}_sem"] = ms["mean"], ms["sem"]
            out[f"n={n}"][m] = row
    return out


def cell_key(n: int, seed: int, rep: int) -> str:
    return f"n={n}_seed={seed}_rep={rep}"


def _work(tb, policy, s: EMDPOSettings, out: Path, n: int, seed: int, rep: int) -> None:
    sample = tb.sample(s.n_users, n, derive(seed, rep, "sample", n))
    fits = fit_all_methods(tb, policy, sample, s, seed, rep)
    metrics = {m: evaluate(tb, policy, fits[m], sample.types) for m in METHODS}
    metrics["em_dpo"]["n_iter"] = fits["em_dpo"].n_iter
    metrics["em_dpo"]["marginal_ll"] = fits["em_dpo"].marginal_ll
    CellStore(out).save(cell_key(n, seed, rep), {"n_options": n, "seed": seed, "rep": rep}, metrics)


def testbed_and_policy(s: EMDPOSettings, seed: int):
    """(MPI items, the testbed of base ``seed``, the log-linear policy class over it) -- shared by this study
    and the K sweep (:mod:`pluralign.sims.mpi.k_sweep`)."""
    items = load_mpi_items(s.inventory, s.data_dir)
    tb = make_mpi_testbed(items, s, seed)
    return items, tb, LogLinearPolicy(tb.psi, tb.log_ref, tb.beta)


def run(settings: EMDPOSettings, seed: int, out: Path, progress: bool = True) -> dict:
    """Every (n in {2, 3}, replicate) cell (finished cells are skipped), then ``out/results.json``: the
    settings, the base seed, the items used, the summary, the binary-invisible check and every cell.
    A missing or malformed MPI file is a ``ValueError`` naming ``data_dir`` (or ``inventory``)."""
    out = Path(out)
    s = settings
    items, tb, policy = testbed_and_policy(s, seed)
    store = CellStore(out)
    grid = [(n, seed, rep) for n in (2, 3) for rep in range(s.n_seeds)]
    todo = [(tb, policy, s, out, *g) for g in grid if not store.done(cell_key(*g))]
    run_cells(_work, todo, n_jobs=1, desc="sims mpi", progress=progress)
    keys = {cell_key(*g) for g in grid}
    cells = [c for c in store.all() if c["key"] in keys]
    results = {
        "settings": asdict(s),
        "seed": int(seed),
        "items": {"source": items.source, "n_items": len(items.texts), "dropped": items.dropped,
                  "psi": "key * one-hot(trait), order O,C,E,A,N"},
        "summary": summarize(cells, tb.type_names),
        "binary_invisible_check": binary_invisible_check(tb, seed),
        "cells": cells,
    }
    write_json(out / "results.json", results)
    return results
