"""``pluralign sims mpi``: EM-DPO with binary vs ternary preferences on the MPI personality items
(seed 001, Chidambaram et al., sec. 5, Table 1), on the exact tabular testbed.

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
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from tqdm import tqdm

from pluralign.runs import CellStore, Profile, prepare_run, write_json
from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail
from pluralign.emdpo import LogLinearPolicy, load_mpi_items, mpi_testbed
from pluralign.sims.emdpo_common import evaluate, fit_all_methods, settings_dict, settings_for

METHODS = ("em_dpo", "cluster_dpo", "vanilla_dpo", "true_label_dpo")
METRICS = ("accuracy", "reward_margin", "regret")


def binary_invisible_check(tb, n_triples: int = 2000, seed: int = 0) -> dict:
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
    rng = np.random.default_rng(seed)
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
        li = local_identifiability(tb.betas, tb.type_probs, n=n, seed=seed)
        out[f"local_rank_n{n}"] = f"{li.rank}/{li.n_params}"
        if n == 2:
            out["null_space_n2"] = np.round(li.null_space.T, 6).tolist()
    return out


def summarize(cells: list[dict], type_names) -> dict:
    """mean / std over seeds of every (n, method, type, metric)."""
    out: dict = {}
    for n in sorted({c["config"]["n_options"] for c in cells}):
        cs = [c for c in cells if c["config"]["n_options"] == n]
        out[f"n={n}"] = {}
        for m in METHODS:
            row: dict = {"n_seeds": len(cs)}
            for t in type_names:
                for met in METRICS:
                    v = np.array([c["metrics"][m][t][met] for c in cs], dtype=float)
                    row[f"{t}_{met}_mean"] = float(v.mean())
                    row[f"{t}_{met}_std"] = float(v.std(ddof=1)) if v.size > 1 else 0.0
            v = np.array([c["metrics"][m]["ari"] for c in cs], dtype=float)
            row["ari_mean"], row["ari_std"] = float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
            out[f"n={n}"][m] = row
    return out


def plot(summary: dict, type_names, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(type_names), figsize=(4 * len(type_names), 3.4), sharey=True)
    labels = [f"{m}\nn={n}" for m in METHODS for n in (2, 3)]
    for ax, t in zip(np.atleast_1d(axes), type_names):
        means, stds, colors = [], [], []
        for m in METHODS:
            for n in (2, 3):
                row = summary.get(f"n={n}", {}).get(m)
                means.append(row[f"{t}_accuracy_mean"] if row else np.nan)
                stds.append(row[f"{t}_accuracy_std"] if row else 0.0)
                colors.append("tab:orange" if n == 2 else "tab:blue")
        ax.bar(range(len(labels)), means, yerr=stds, color=colors, capsize=3)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.axhline(0.5, color="gray", lw=0.8, ls="--")
        ax.set_title(f"{t}: pairwise accuracy")
        ax.set_ylim(0, 1.05)
    fig.suptitle("MPI testbed: binary (orange) vs ternary (blue) preferences, mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(profile: str, seed: int, out: Path | None, data_dir: Path | None = None, inventory: str = "120",
        n_users: int | None = None, n_seeds: int | None = None) -> dict:
    s = settings_for(profile)
    if n_users is not None:
        s.n_users = int(n_users)
    if n_seeds is not None:
        s.n_seeds = int(n_seeds)
    if s.n_users < 10 or s.n_seeds < 1:
        raise ValueError("n_users: need >= 10 users and n_seeds >= 1")
    items = load_mpi_items(inventory, data_dir)
    config = {"settings": settings_dict(s), "inventory": inventory, "items_source": items.source,
              "n_items": len(items.texts), "dropped": items.dropped, "psi": "key * one-hot(trait), order O,C,E,A,N"}
    out = prepare_run("sims mpi", out, profile, seed, config)
    tb = mpi_testbed(items, n_prompts=s.n_prompts, beta=s.beta, ref_scale=s.ref_scale, seed=seed)
    policy = LogLinearPolicy(tb.psi, tb.log_ref, tb.beta)
    store = CellStore(out)
    cells = list(itertools.product((2, 3), range(s.n_seeds)))
    for n, rep in tqdm(cells, desc="sims mpi", unit="cell"):
        key = f"n={n}_seed={seed + rep}"
        if store.done(key):
            continue
        rng = np.random.default_rng([seed, rep, n])
        sample = tb.sample(s.n_users, n, rng)
        fits = fit_all_methods(tb, policy, sample, tb.K, s, seed=seed + rep)
        metrics = {m: evaluate(tb, policy, fits[m], sample.types) for m in METHODS}
        metrics["em_dpo"]["n_iter"] = fits["em_dpo"].n_iter
        metrics["em_dpo"]["marginal_ll"] = fits["em_dpo"].marginal_ll
        store.save(key, {"n_options": n, "seed": seed + rep}, metrics)
    all_cells = [c for c in store.all() if c["key"] in {f"n={n}_seed={seed + r}" for n, r in cells}]
    summary = summarize(all_cells, tb.type_names)
    results = {"summary": summary, "binary_invisible_check": binary_invisible_check(tb, seed=seed),
               "cells": all_cells}
    write_json(out / "results.json", results)
    plot(summary, tb.type_names, out / "accuracy.png")
    return results


def cli(
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Folder with mpi_120.csv / mpi_1k.csv (default $PLURALIGN_MPI_DIR, else mpi/ under $PLURALIGN_DATA, else the shipped copy).")] = None,
    inventory: Annotated[str, typer.Option("--inventory", help="120 (mpi_120.csv) or 1k (mpi_1k.csv, de-duplicated).")] = "120",
    n_users: Annotated[int | None, typer.Option("--n-users", help="Override the profile's number of users.")] = None,
    n_seeds: Annotated[int | None, typer.Option("--n-seeds", help="Override the profile's number of seeds.")] = None,
) -> None:
    """EM-DPO binary vs ternary on the MPI items (seed 001, Table 1)."""
    try:
        res = run(Profile(profile).value, seed, out, data_dir, inventory, n_users, n_seeds)
    except ValueError as exc:
        fail(str(exc))
        return
    for n in (2, 3):
        row = res["summary"][f"n={n}"]
        for m in METHODS:
            r = row[m]
            typer.echo(f"n={n} {m:15s} " + "  ".join(
                f"{t} acc {r[f'{t}_accuracy_mean']:.3f}±{r[f'{t}_accuracy_std']:.3f}" for t in ("P1", "P2", "P3")))
