"""``pluralign sims mmra``: min-max regret aggregation on the exact tabular MPI testbed (seed 001, Table 3
analogue; Algorithms 2, 3, 4).

Per seed: ternary preferences from the three MPI personalities (one per user by default, as for Table 1;
``--prefs-per-user`` for annotators who label several items), EM-DPO (K = 3) and vanilla DPO; then the K
EM-DPO policies are aggregated by MMRA-AE (the zero-sum game of App. C eq. 39 on the *estimated* regret
table, solved by :mod:`theory.zero_sum` by LP and by optimistic Hedge's certified last iterate), MMRA
original (Alg. 3, exact expectations), MMRA-LW (Alg. 2) and the uniform mixture.  Every output is scored by
its TRUE regrets R_k (eq. 3, closed form here).  Rows beyond the seed:

* ``mmra_ae_with_vanilla`` — AE with vanilla DPO's policy as a fourth candidate;
* ``best_mixture`` — the best mixture of the learned policies under the TRUE regret table (what AE would
  pick with a perfect table);
* ``oracle_ae`` — AE on the exact optima pi_k^* with the true game.

``--testbed random`` replaces the MPI personalities by one :meth:`TabularTestbed.random` instance per seed
(20 prompts, 12 responses, d = 6, group sizes .5 / .3 / .2, no opposed pair), to show what depends on
MPI's structure.

What the numbers can and cannot show (see :mod:`pluralign.mmra`): AE is optimal over mixtures only for
the table it is given, so its true max regret is within 2 eps of ``best_mixture`` (eps = the largest
entry error of the estimated table, :func:`pluralign.mmra.ae_regret_bound`), and it is not guaranteed to
beat vanilla DPO at all.  On MPI, P2 = -P1 makes the game flat: every mixture with equal weight on P1's
and P2's policies has P1 / P2 regret ~3, so the optimal weights are far from unique
(:func:`theory.zero_sum.optimal_weight_ranges`, reported) and table errors move AE's weights freely.
Mixtures are scored as in the game (linear in w, the policy drawn once per prompt and KL paid per
policy) and, in ``deployed_mixture``, as the policy sum_j w_j pi_j itself (its KL is smaller).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer
from tqdm import tqdm

from pluralign.runs import CellStore, Profile, prepare_run, write_json
from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail
from pluralign.emdpo import EMDPO, LogLinearPolicy, TabularTestbed, load_mpi_items, match_types, mpi_testbed, vanilla_dpo
from pluralign.mmra import (
    ae_regret_bound,
    estimated_regret_table,
    mixture_logpolicy,
    mixture_regrets,
    mmra_ae,
    mmra_lw,
    mmra_original,
)
from pluralign.sims.emdpo_common import settings_dict, settings_for
from pluralign.theory.zero_sum import min_max_regret, optimal_weight_ranges, regret_matrix

ROWS = ("vanilla_dpo", "uniform_mixture", "mmra_lw", "mmra_original", "mmra_ae", "mmra_ae_with_vanilla",
        "best_mixture", "oracle_ae")


def one_seed(tb, policy, s, n_options: int, seed: int, rep: int, lw_iter: int, orig_iter: int,
             hedge_tol: float = 1e-10, hedge_max_iter: int = 300_000, per_user: int = 1) -> dict:
    torch.set_num_threads(1)
    rng = np.random.default_rng([seed, rep, n_options, 7] + ([per_user] if per_user > 1 else []))
    sample = tb.sample(s.n_users, n_options, rng, per_user=per_user)
    ch = sample.choices
    em = EMDPO(policy, tb.K, init=s.init, n_restarts=s.n_restarts, max_iter=s.max_iter, tol=s.tol,
               seed=seed + rep).fit(ch, tb.user_features(ch))
    logpis = np.stack([policy.logprobs(t) for t in em.thetas_])
    van = policy.logprobs(vanilla_dpo(policy, ch).thetas[0])
    cands = np.concatenate([logpis, van[None]])
    T = np.stack([tb.regrets(lp) for lp in cands], axis=1)  # T[k, j] = true R_k(candidate j), type k
    T_hat = estimated_regret_table(logpis, tb.beta, cands)  # rows = learned components
    match = match_types(sample.types, em.responsibilities_, tb.K)  # true type k <-> component match[k]
    K = tb.K
    ae_lp = mmra_ae(logpis, tb.beta, method="lp")
    ae_oh = mmra_ae(logpis, tb.beta, method="optimistic_hedge", tol=hedge_tol, max_iter=hedge_max_iter,
                    iterate="last")
    ae_v = mmra_ae(logpis, tb.beta, method="lp", candidates=cands)
    orig = mmra_original(logpis, tb.log_ref, tb.beta, n_iter=orig_iter)
    lw = mmra_lw(logpis, policy, ch, em.responsibilities_, tb.beta, n_iter=lw_iter)
    best = min_max_regret(np.vstack([np.zeros((1, K)), T[:, :K]]), method="lp")
    # oracle: the exact optima and the true-reward game (L[k, j] = J_k(pi_j^*))
    opt = tb.optimal_logpolicies()
    oracle = min_max_regret(regret_matrix(tb.value_matrix(opt)), method="lp")
    T_opt = np.stack([tb.regrets(lp) for lp in opt], axis=1)
    u = np.full(K, 1.0 / K)
    regrets = {
        "vanilla_dpo": T[:, K],
        "uniform_mixture": mixture_regrets(T[:, :K], u),
        "mmra_lw": tb.regrets(lw.logpi),
        "mmra_original": tb.regrets(orig.logpi),
        "mmra_ae": mixture_regrets(T[:, :K], ae_lp.w),
        "mmra_ae_with_vanilla": mixture_regrets(T, ae_v.w),
        "best_mixture": mixture_regrets(T[:, :K], best.w),
        "oracle_ae": mixture_regrets(T_opt, oracle.w),
    }
    out = {r: {"max_regret": float(np.max(v)), "regrets": np.asarray(v).tolist()} for r, v in regrets.items()}
    out["deployed_mixture"] = {
        "uniform_mixture": float(tb.regrets(mixture_logpolicy(logpis, u)).max()),
        "mmra_ae": float(tb.regrets(mixture_logpolicy(logpis, ae_lp.w)).max()),
        "mmra_ae_with_vanilla": float(tb.regrets(mixture_logpolicy(cands, ae_v.w)).max()),
        "oracle_ae": float(tb.regrets(mixture_logpolicy(opt, oracle.w)).max()),
    }
    ranges = optimal_weight_ranges(np.vstack([np.zeros((1, K)), T_hat[:, :K]]))
    out["ae"] = {
        "w_lp": ae_lp.w.tolist(),
        "w_optimistic_hedge_last": ae_oh.w.tolist(),
        "w_max_abs_diff": float(np.max(np.abs(ae_lp.w - ae_oh.w))),
        "hedge_iterations": int(ae_oh.solution.iterations),
        "hedge_gap": float(ae_oh.solution.gap),
        "hedge_converged": bool(ae_oh.solution.converged),
        "lp_weight_ranges": ranges.tolist(),
        "lp_optimum_unique": bool(np.all(ranges[:, 1] - ranges[:, 0] < 1e-7)),
        "w_with_vanilla": ae_v.w.tolist(),
    }
    # the estimated table against the true one, rows aligned by the type <-> component matching
    bound = ae_regret_bound(T_hat[match][:, :K], T[:, :K])
    out["estimated_table"] = {"eps": bound["eps"], "bound_on_ae": bound["bound"], "bound_holds": bound["holds"],
                              "true": T.tolist(), "estimated_matched": T_hat[match].tolist(),
                              "match": match.tolist()}
    out["estimated_max_regret"] = {
        "vanilla_dpo": float(T_hat[:, K].max()),
        "uniform_mixture": float(np.max(T_hat[:, :K] @ u)),
        "mmra_lw": lw.estimated_max_regret,
        "mmra_original": orig.estimated_max_regret,
        "mmra_ae": ae_lp.estimated_max_regret,
        "mmra_ae_with_vanilla": ae_v.estimated_max_regret,
    }
    out["oracle_w"] = oracle.w.tolist()
    out["em_rho"] = np.asarray(em.rho_).tolist()
    for name, ref in (("uniform", "uniform_mixture"), ("vanilla", "vanilla_dpo")):
        out[f"ae_le_{name}"] = bool(out["mmra_ae"]["max_regret"] <= out[ref]["max_regret"] + 1e-12)
        out[f"ae_le_{name}_estimated"] = bool(out["estimated_max_regret"]["mmra_ae"]
                                              <= out["estimated_max_regret"][ref] + 1e-12)
    out["ae_with_vanilla_le_vanilla"] = bool(out["mmra_ae_with_vanilla"]["max_regret"]
                                             <= out["vanilla_dpo"]["max_regret"] + 1e-12)
    return out


def summarize(cells: list[dict]) -> dict:
    summ = {}
    for r in ROWS:
        v = np.array([c["metrics"][r]["max_regret"] for c in cells])
        summ[r] = {"max_regret_mean": float(v.mean()), "max_regret_std": float(v.std(ddof=1)) if v.size > 1 else 0.0}
    for r in cells[0]["metrics"]["deployed_mixture"]:
        v = np.array([c["metrics"]["deployed_mixture"][r] for c in cells])
        summ[f"deployed_{r}"] = {"max_regret_mean": float(v.mean()),
                                 "max_regret_std": float(v.std(ddof=1)) if v.size > 1 else 0.0}
    summ["ae_weights_max_abs_diff_hedge_vs_lp"] = float(max(c["metrics"]["ae"]["w_max_abs_diff"] for c in cells))
    summ["ae_weights_max_abs_diff_hedge_vs_lp_unique_optimum"] = float(max(
        [c["metrics"]["ae"]["w_max_abs_diff"] for c in cells if c["metrics"]["ae"]["lp_optimum_unique"]],
        default=float("nan")))
    summ["ae_lp_optimum_unique_seeds"] = sum(c["metrics"]["ae"]["lp_optimum_unique"] for c in cells)
    summ["hedge_converged_all_seeds"] = all(c["metrics"]["ae"]["hedge_converged"] for c in cells)
    summ["estimated_table_eps_mean"] = float(np.mean([c["metrics"]["estimated_table"]["eps"] for c in cells]))
    summ["ae_bound_holds_all_seeds"] = all(c["metrics"]["estimated_table"]["bound_holds"] for c in cells)
    for key in ("ae_le_uniform", "ae_le_vanilla", "ae_le_uniform_estimated", "ae_le_vanilla_estimated",
                "ae_with_vanilla_le_vanilla"):
        summ[f"{key}_seeds"] = sum(c["metrics"][key] for c in cells)
    summ["n_seeds"] = len(cells)
    return summ


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    m = [summary[r]["max_regret_mean"] for r in ROWS]
    sd = [summary[r]["max_regret_std"] for r in ROWS]
    ax.bar(range(len(ROWS)), m, yerr=sd, capsize=3, color="tab:blue", label="as in the game (linear in w)")
    dep = [(i, summary[f"deployed_{r}"]) for i, r in enumerate(ROWS) if f"deployed_{r}" in summary]
    ax.scatter([i for i, _ in dep], [d["max_regret_mean"] for _, d in dep], marker="_", s=300, c="tab:red", zorder=3,
               label="deployed mixture policy sum_j w_j pi_j")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_xticks(range(len(ROWS)), ROWS, rotation=30, fontsize=8)
    ax.set_ylabel("true max_k R_k (eq. 3)")
    ax.set_title(f"MMRA on the tabular {summary.get('testbed', 'mpi')} testbed (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cli(
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Folder with the MPI csv files (default $PLURALIGN_MPI_DIR, else mpi/ under $PLURALIGN_DATA, else the shipped copy).")] = None,
    n_options: Annotated[int, typer.Option("--n-options", help="Options per preference (2 = Bradley-Terry, 3 = ternary).")] = 3,
    prefs_per_user: Annotated[int, typer.Option("--prefs-per-user", help="Preferences per user (1 = seed 001's Table 1 data; more = annotators who label several items).")] = 1,
    testbed: Annotated[str, typer.Option("--testbed", help="'mpi' (the MPI personalities) or 'random' (one random linear-reward instance per seed).")] = "mpi",
) -> None:
    """MMRA (LW, original, AE) max regret vs the uniform mixture and vanilla DPO (seed 001, Table 3)."""
    p = Profile(profile).value
    s = settings_for(p)
    lw_iter, orig_iter = {"smoke": (3, 20), "quick": (20, 200), "paper": (50, 1000)}[p]
    # optimistic Hedge (Alg. 4) is run to a certified duality gap of its last iterate; its weights are
    # compared with the LP's (meaningful where the LP optimum is unique, which is reported)
    hedge_tol, hedge_max_iter = {"smoke": (1e-6, 20_000), "quick": (1e-10, 300_000), "paper": (1e-11, 2_000_000)}[p]
    try:
        if testbed not in ("mpi", "random"):
            raise ValueError(f"testbed: expected 'mpi' or 'random', got {testbed!r}")
        items = load_mpi_items("120", data_dir) if testbed == "mpi" else None
        if n_options not in (2, 3):
            raise ValueError(f"n_options: expected 2 or 3, got {n_options}")
        if prefs_per_user < 1:
            raise ValueError(f"prefs_per_user: must be >= 1, got {prefs_per_user}")
    except ValueError as exc:
        fail(str(exc))
        return
    cfg = {"settings": settings_dict(s), "testbed": testbed, "n_options": n_options, "prefs_per_user": prefs_per_user,
           "lw_iter": lw_iter, "orig_iter": orig_iter, "hedge_tol": hedge_tol, "hedge_max_iter": hedge_max_iter,
           "hedge_iterate": "last"}
    out = prepare_run("sims mmra", out, p, seed, cfg)
    store = CellStore(out)
    keys = []
    for rep in tqdm(range(s.n_seeds), desc="sims mmra", unit="seed"):
        key = f"{testbed}_n={n_options}_m={prefs_per_user}_seed={seed + rep}"
        keys.append(key)
        if not store.done(key):
            if testbed == "mpi":
                tb = mpi_testbed(items, n_prompts=s.n_prompts, beta=s.beta, ref_scale=s.ref_scale, seed=seed)
            else:
                tb = TabularTestbed.random(beta=s.beta, ref_scale=s.ref_scale, seed=seed + rep)
            policy = LogLinearPolicy(tb.psi, tb.log_ref, tb.beta)
            store.save(key, {"testbed": testbed, "n_options": n_options, "prefs_per_user": prefs_per_user,
                             "seed": seed + rep},
                       one_seed(tb, policy, s, n_options, seed, rep, lw_iter, orig_iter, hedge_tol, hedge_max_iter,
                                per_user=prefs_per_user))
    cells = [c for c in store.all() if c["key"] in keys]
    summary = summarize(cells)
    summary["testbed"] = testbed
    write_json(out / "results.json", {"summary": summary, "cells": cells})
    plot(summary, out / "max_regret.png")
    for r in ROWS:
        typer.echo(f"{r:22s} max regret {summary[r]['max_regret_mean']:.4f} ± {summary[r]['max_regret_std']:.4f}")
    n = summary["n_seeds"]
    typer.echo(f"true regrets: AE <= uniform in {summary['ae_le_uniform_seeds']}/{n} seeds, AE <= vanilla in "
               f"{summary['ae_le_vanilla_seeds']}/{n}; estimated (what AE optimises): "
               f"{summary['ae_le_uniform_estimated_seeds']}/{n}, {summary['ae_le_vanilla_estimated_seeds']}/{n}")
    typer.echo(f"table error eps = {summary['estimated_table_eps_mean']:.3f} (mean); AE within 2 eps of the best "
               f"mixture in all seeds: {summary['ae_bound_holds_all_seeds']}; LP optimum unique in "
               f"{summary['ae_lp_optimum_unique_seeds']}/{n} seeds; |last-iterate Hedge - LP|_inf = "
               f"{summary['ae_weights_max_abs_diff_hedge_vs_lp']:.1e} (unique optima: "
               f"{summary['ae_weights_max_abs_diff_hedge_vs_lp_unique_optimum']:.1e})")
