"""Min-max regret aggregation on the exact tabular MPI testbed (seed 001, Table 3 analogue; Algorithms 2, 3,
4; command: ``pluralign sims mmra``).

Per seed: ternary preferences from the three MPI personalities (one per user by default, as for Table 1;
``--prefs-per-user`` for annotators who label several items), EM-DPO (K = 3) and vanilla DPO; then the K
EM-DPO policies are aggregated by MMRA-AE (the zero-sum game of App. C eq. 39 on the *estimated* regret
table, solved by :mod:`theory.zero_sum` by LP and by optimistic Hedge's certified last iterate), MMRA
original (Alg. 3, exact expectations), MMRA-LW (Alg. 2) and the uniform mixture, all on eq. 4's estimated
regret R̂_k (r̂_k = beta log(pi_k / pi_ref), :mod:`pluralign.mmra`).  Every output is scored by its TRUE
regrets, eq. 3 "R_k(pi) := E_{pi_k^*}[r^*] - E_pi[r^*]" with the true r_k (unregularised, exact here:
:meth:`TabularTestbed.regrets`; can be negative), and by sec. 5's max_k R_k.  Rows beyond the seed:

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
Mixtures are scored as in the game (linear in w) and, in ``deployed_mixture``, as the policy sum_j w_j pi_j
itself; with the printed (unregularised) regret the two agree up to rounding (kept as a check).

Seeds (:mod:`pluralign.seeding`): the MPI testbed of base seed s is the one of :mod:`pluralign.sims.mpi`
(``derive_int(s, "testbed")``), the random testbed of replicate r is seeded by ``derive_int(s, r, "testbed")``;
on either, the data of replicate r come from ``derive(s, r, "sample", n_options, prefs_per_user)`` and EM-DPO
is seeded by ``derive_int(s, r, "em_dpo")``.

Cells: one per replicate under ``OUT/cells``; ``results.json`` holds the summary (mean ± s.e.m. over seeds)
and every cell; the figure ``max_regret.png`` is drawn from it by :mod:`pluralign.paper_figures.mmra`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pluralign.emdpo import LogLinearPolicy, TabularTestbed, load_mpi_items, match_types, vanilla_dpo
from pluralign.mmra import (
    LW_ETA,
    LW_ITER,
    ae_regret_bound,
    estimated_regret_table,
    mixture_logpolicy,
    mixture_regrets,
    mmra_ae,
    mmra_lw,
    mmra_original,
)
from pluralign.runs import CellStore, Profile, mean_sem, run_cells, write_json
from pluralign.seeding import derive, derive_int
from pluralign.sims.emdpo_common import PROFILES as EMDPO_PROFILES
from pluralign.sims.emdpo_common import EMDPOSettings, fit_em_dpo, make_mpi_testbed
from pluralign.theory.zero_sum import min_max_regret, optimal_weight_ranges, regret_matrix

__all__ = ["PROFILES", "ROWS", "MMRASettings", "cell_key", "one_seed", "run", "summarize"]

ROWS = ("vanilla_dpo", "uniform_mixture", "mmra_lw", "mmra_original", "mmra_ae", "mmra_ae_with_vanilla",
        "best_mixture", "oracle_ae")
TESTBEDS = ("mpi", "random")


@dataclass
class MMRASettings(EMDPOSettings):
    """The EM-DPO scale (:class:`pluralign.sims.emdpo_common.EMDPOSettings`) plus the MMRA study's own knobs."""

    testbed: str = "mpi"
    """'mpi' (the MPI personalities) or 'random' (one random linear-reward instance per replicate)."""
    n_options: int = 3
    """Options per preference (2 = Bradley-Terry, 3 = ternary)."""
    prefs_per_user: int = 1
    """Preferences per user (1 = seed 001's Table 1 data; more = annotators who label several items)."""
    lw_iter: int = LW_ITER
    """Iterations of MMRA-LW (Alg. 2; seed 001 Table 5: 20)."""
    lw_eta: float = LW_ETA
    """MMRA-LW's MWU learning rate (seed 001 Table 5: 0.01)."""
    orig_iter: int = 200
    """Iterations of MMRA original (Alg. 3)."""
    hedge_tol: float = 1e-10
    """Certified duality gap at which optimistic Hedge (Alg. 4) stops; its last iterate is compared with the LP."""
    hedge_max_iter: int = 300_000
    """Iteration cap of optimistic Hedge."""

    def __post_init__(self):
        super().__post_init__()
        if self.testbed not in TESTBEDS:
            raise ValueError(f"testbed: expected 'mpi' or 'random', got {self.testbed!r}")
        if self.n_options not in (2, 3):
            raise ValueError(f"n_options: expected 2 or 3, got {self.n_options}")
        if int(self.prefs_per_user) != self.prefs_per_user or self.prefs_per_user < 1:
            raise ValueError(f"prefs_per_user: must be >= 1, got {self.prefs_per_user}")
        if not (np.isfinite(self.lw_eta) and self.lw_eta >= 0):
            raise ValueError(f"lw_eta: must be a finite number >= 0, got {self.lw_eta!r}")


# optimistic Hedge is run to a certified duality gap of its last iterate; its weights are compared with the
# LP's (meaningful where the LP optimum is unique, which is reported)
_MMRA_SCALE = {
    Profile.smoke: dict(lw_iter=3, orig_iter=20, hedge_tol=1e-6, hedge_max_iter=20_000),
    Profile.quick: dict(lw_iter=20, orig_iter=200, hedge_tol=1e-10, hedge_max_iter=300_000),
    Profile.paper: dict(lw_iter=LW_ITER, orig_iter=1000, hedge_tol=1e-11, hedge_max_iter=2_000_000),
}
PROFILES = {p: MMRASettings(**asdict(EMDPO_PROFILES[p]), **_MMRA_SCALE[p]) for p in Profile}


def one_seed(tb, policy, s: MMRASettings, seed: int, rep: int) -> dict:
    """Replicate ``rep`` of base ``seed``: sample the data, fit EM-DPO and vanilla DPO, aggregate and score
    every row by its true regrets."""
    torch.set_num_threads(1)
    sample = tb.sample(s.n_users, s.n_options, derive(seed, rep, "sample", s.n_options, s.prefs_per_user),
                       per_user=s.prefs_per_user)
    ch = sample.choices
    em = fit_em_dpo(tb, policy, ch, s, seed, rep)
    logpis = np.stack([policy.logprobs(t) for t in em.thetas_])
    van = policy.logprobs(vanilla_dpo(policy, ch).thetas[0])
    cands = np.concatenate([logpis, van[None]])
    T = np.stack([tb.regrets(lp) for lp in cands], axis=1)  # T[k, j] = true R_k(candidate j), type k
    T_hat = estimated_regret_table(logpis, tb.log_ref, tb.beta, cands)  # rows = learned components
    match = match_types(sample.types, em.responsibilities_, tb.K)  # true type k <-> component match[k]
    K = tb.K
    ae_lp = mmra_ae(logpis, tb.log_ref, tb.beta, method="lp")
    ae_oh = mmra_ae(logpis, tb.log_ref, tb.beta, method="optimistic_hedge", tol=s.hedge_tol, max_iter=s.hedge_max_iter,
                    iterate="last")
    ae_v = mmra_ae(logpis, tb.log_ref, tb.beta, method="lp", candidates=cands)
    orig = mmra_original(logpis, tb.log_ref, tb.beta, n_iter=s.orig_iter)
    lw = mmra_lw(logpis, tb.log_ref, policy, ch, em.responsibilities_, tb.beta, n_iter=s.lw_iter, eta=s.lw_eta)
    best = min_max_regret(np.vstack([np.zeros((1, K)), T[:, :K]]), method="lp")
    # oracle: the exact optima and the true-reward game (L[k, j] = E_{pi_j^*} r_k)
    opt = tb.optimal_logpolicies()
    oracle = min_max_regret(regret_matrix(tb.reward_matrix(opt)), method="lp")
    T_opt = np.stack([tb.regrets(lp) for lp in opt], axis=1)
    u = np.full(K, 1.0 / K)
    regrets = {
        "vanilla_dpo": T[:, K],
        "uniform_mixture": mixture_regrets(T[:, :K], u, n_groups=tb.K),
        "mmra_lw": tb.regrets(lw.logpi),
        "mmra_original": tb.regrets(orig.logpi),
        "mmra_ae": mixture_regrets(T[:, :K], ae_lp.w, n_groups=tb.K),
        "mmra_ae_with_vanilla": mixture_regrets(T, ae_v.w, n_groups=tb.K),
        "best_mixture": mixture_regrets(T[:, :K], best.w, n_groups=tb.K),
        "oracle_ae": mixture_regrets(T_opt, oracle.w, n_groups=tb.K),
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
    out["lw"] = {"w_last": lw.p.tolist(), "estimated_max_regret_per_iteration": lw.history}
    out["oracle_w"] = oracle.w.tolist()
    out["em_rho"] = np.asarray(em.rho_).tolist()
    for name, ref in (("uniform", "uniform_mixture"), ("vanilla", "vanilla_dpo")):
        out[f"ae_le_{name}"] = bool(out["mmra_ae"]["max_regret"] <= out[ref]["max_regret"] + 1e-12)
        out[f"ae_le_{name}_estimated"] = bool(out["estimated_max_regret"]["mmra_ae"]
                                              <= out["estimated_max_regret"][ref] + 1e-12)
    out["ae_with_vanilla_le_vanilla"] = bool(out["mmra_ae_with_vanilla"]["max_regret"]
                                             <= out["vanilla_dpo"]["max_regret"] + 1e-12)
    return out


def _mean_sem(values) -> dict:
    ms = mean_sem(values)
    return {"max_regret_mean": ms["mean"], "max_regret_sem": ms["sem"]}


def summarize(cells: list[dict]) -> dict:
    """Mean and s.e.m. over seeds (:func:`pluralign.runs.mean_sem`) of every row's true max regret
    (``max_regret_mean`` / ``max_regret_sem``), and the per-seed checks counted over seeds."""
    summ = {}
    for r in ROWS:
        summ[r] = _mean_sem(c["metrics"][r]["max_regret"] for c in cells)
    for r in cells[0]["metrics"]["deployed_mixture"]:
        summ[f"deployed_{r}"] = _mean_sem(c["metrics"]["deployed_mixture"][r] for c in cells)
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


def cell_key(s: MMRASettings, seed: int, rep: int) -> str:
    return f"{s.testbed}_n={s.n_options}_m={s.prefs_per_user}_seed={seed}_rep={rep}"


def _work(items, s: MMRASettings, out: Path, seed: int, rep: int) -> None:
    if s.testbed == "mpi":
        tb = make_mpi_testbed(items, s, seed)
    else:
        tb = TabularTestbed.random(beta=s.beta, ref_scale=s.ref_scale, seed=derive_int(seed, rep, "testbed"))
    policy = LogLinearPolicy(tb.psi, tb.log_ref, tb.beta)
    config = {"testbed": s.testbed, "n_options": s.n_options, "prefs_per_user": s.prefs_per_user, "seed": seed,
              "rep": rep}
    CellStore(out).save(cell_key(s, seed, rep), config, one_seed(tb, policy, s, seed, rep))


def run(settings: MMRASettings, seed: int, out: Path, progress: bool = True) -> dict:
    """One cell per replicate (finished cells are skipped), then ``out/results.json``: the settings, the base
    seed, the summary and every cell. A missing MPI file is a ``ValueError`` naming ``data_dir``."""
    out = Path(out)
    s = settings
    items = load_mpi_items(s.inventory, s.data_dir) if s.testbed == "mpi" else None
    store = CellStore(out)
    todo = [(items, s, out, seed, rep) for rep in range(s.n_seeds) if not store.done(cell_key(s, seed, rep))]
    run_cells(_work, todo, n_jobs=1, desc="sims mmra", progress=progress)
    keys = {cell_key(s, seed, rep) for rep in range(s.n_seeds)}
    cells = [c for c in store.all() if c["key"] in keys]
    summary = summarize(cells)
    summary["testbed"] = s.testbed
    results = {"settings": asdict(s), "seed": int(seed), "summary": summary, "cells": cells}
    write_json(out / "results.json", results)
    return results
