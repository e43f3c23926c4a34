"""Does the language model's mixture likelihood prefer the true partition?  A diagnostic of the LM / twin
disagreement in :mod:`pluralign.experiments.emdpo_llm.study`'s FINDINGS (forward passes only: no training).

For every finished cell of a ``pluralign emdpo run`` on MPI, the training records are rebuilt from the cell's
seeds (:func:`pluralign.experiments.emdpo_llm.mmra.cell_policies`) and scored with the likelihood the EM
engine uses (:class:`pluralign.llm.LMEMDPOModel`'s per-user log P(record | adapter k), eq. 17 / Bradley-Terry
on the implicit reward beta log(pi_k / pi_SFT)); the marginal log-likelihood
sum_i log sum_k rho_k P(record_i | adapter_k) (:func:`pluralign.theory.leaky_elbo.marginal_log_likelihood`)
is reported at

(i)   ``em_dpo``: EM-DPO's final adapters and rho (the cell's saved ones; ``em_dpo_recorded`` is the value
      the run's EM trace recorded for its last iteration, ``em_dpo_assignment`` the best single adapter per
      user, sum_i max_k log P(record_i | adapter_k): an upper bound on (i) for every rho, not EM's posterior
      assignment);
(ii)  ``true_label``: the True-label DPO adapters (adapter k trained on type k's users) with rho = the true
      type proportions of the training users, and ``true_assignment``: sum_i log P(record_i | adapter_{t_i})
      with t_i the true type of user i;
(iii) ``sft_floor``: K copies of pi_SFT (fresh adapters, B = 0: every implicit reward 0), which is
      sum_i n_records_i log(1 / n_options) for every rho.

If (ii) > (i), EM ends in a worse basin than the truth (an optimisation / initialisation failure); if
(ii) <= (i), at this M-step strength the likelihood does not prefer the true partition (a signal-strength
limit).  ``by_type``: the per-user marginal of (i) and (ii) summed over each true type's users.

``python -m pluralign.experiments.emdpo_llm.diagnose --run DIR`` writes ``DIR/diagnose.json`` and prints one
line per cell; :func:`loglik_report` is the function (no printing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.special import logsumexp

from pluralign.runs import CellStore, write_json
from pluralign.seeding import torch_generator
from pluralign.theory.leaky_elbo import log_joint, marginal_log_likelihood

from pluralign.experiments.emdpo_llm.mmra import _run_settings, cell_policies, user_logliks
from pluralign.experiments.emdpo_llm.study import load_adapters

__all__ = ["cell_report", "loglik_report", "main"]


def cell_report(s, run_dir: Path, cell: dict) -> dict:
    """The diagnostic numbers of one finished cell (module docstring) of a run with settings ``s``."""
    ad = load_adapters(run_dir, cell["key"])
    em = cell["metrics"]["em_dpo"]
    K = len(ad["em_dpo"])
    true_states = ad.get("true_label_dpo")
    n_slots = max(K, len(true_states) if true_states else 0)
    pol, sample, _ = cell_policies(s, cell, n_slots)
    rho = np.asarray(em["rho"], dtype=float)
    L_em = user_logliks(pol, ad["em_dpo"], s.beta)
    fresh = pol.init_state(torch_generator(0, "diagnose_sft"))  # B = 0: exactly pi_SFT
    L_sft = np.repeat(user_logliks(pol, [fresh], s.beta), K, axis=1)  # K identical copies: scored once
    n_rec = np.bincount(pol.data.choices.user, minlength=pol.data.choices.n_users)
    out = {
        "key": cell["key"],
        "K": K,
        "n_users": int(len(n_rec)),
        "n_records": int(n_rec.sum()),
        "n_options": int(cell["config"]["n_options"]),
        "em_dpo": marginal_log_likelihood(L_em, rho),
        "em_dpo_recorded": em.get("marginal_ll"),
        "em_dpo_assignment": float(L_em.max(axis=1).sum()),
        "em_rho": rho.tolist(),
        "sft_floor": marginal_log_likelihood(L_sft, rho),
        "uniform_choice": float(n_rec.sum() * np.log(1.0 / cell["config"]["n_options"])),
    }
    types = np.asarray(sample.types)
    per_em = _per_user_marginal(L_em, rho)
    by_type = {}
    if true_states is not None:
        T = len(true_states)
        L_true = user_logliks(pol, true_states, s.beta)
        rho_true = np.bincount(types, minlength=T) / len(types)
        out.update(true_label=marginal_log_likelihood(L_true, rho_true),
                   true_assignment=float(L_true[np.arange(len(types)), types].sum()),
                   true_rho=rho_true.tolist())
        out["true_minus_em"] = out["true_label"] - out["em_dpo"]
        per_true = _per_user_marginal(L_true, rho_true)
    names = s.type_names
    for k, name in enumerate(names):
        sel = types == k
        by_type[name] = {"n_users": int(sel.sum()), "em_dpo": float(per_em[sel].sum())}
        if true_states is not None:
            by_type[name]["true_label"] = float(per_true[sel].sum())
    out["by_type"] = by_type
    return out


def _per_user_marginal(L: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """(N,) log sum_k rho_k exp(L_ik): the terms of the marginal log-likelihood."""
    return logsumexp(log_joint(L, rho), axis=1)


def loglik_report(run_dir) -> dict:
    """:func:`cell_report` for every finished cell of ``run_dir`` (an MPI ``pluralign emdpo run`` folder with
    its adapters), written to ``run_dir/diagnose.json`` and returned."""
    run_dir = Path(run_dir)
    s = _run_settings(run_dir)
    cells = CellStore(run_dir).all()
    if not cells:
        raise ValueError(f"run: no finished cells under {run_dir / 'cells'}")
    reports = [cell_report(s, run_dir, c) for c in sorted(cells, key=lambda c: c["key"])]
    res = {"run_dir": str(run_dir), "feedback": s.feedback, "beta": s.beta, "cells": reports}
    main = [r for r in reports if "true_label" in r]
    if main:
        res["n_true_above_em"] = int(sum(r["true_label"] > r["em_dpo"] for r in main))
        res["n_cells"] = len(main)
    write_json(run_dir / "diagnose.json", res)
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pluralign.experiments.emdpo_llm.diagnose",
                                 description="Marginal log-likelihood of EM-DPO vs the true partition vs pi_SFT.")
    ap.add_argument("--run", required=True, help="Folder of a finished 'pluralign emdpo run' (MPI).")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        res = loglik_report(a.run)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"{res['feedback']} run {res['run_dir']}: marginal log-likelihood of the training records")
    print("cell                                        (i) EM-DPO (recorded)   (ii) true-label  true assign.  "
          "best adapter  (iii) SFT")
    for r in res["cells"]:
        rec = r["em_dpo_recorded"]
        print(f"{r['key']:44s} {r['em_dpo']:10.2f} ({rec if rec is None else f'{rec:.2f}'})  "
              f"{r.get('true_label', float('nan')):12.2f}  {r.get('true_assignment', float('nan')):12.2f}  "
              f"{r['em_dpo_assignment']:10.2f}  {r['sft_floor']:9.2f}")
    print(f"wrote {Path(a.run) / 'diagnose.json'}")


if __name__ == "__main__":
    main()
