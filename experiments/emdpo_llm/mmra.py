"""MMRA-AE on the language model (seed 001 Alg. 4, Table 3's layout) over the adapters of a finished
``pluralign emdpo run`` (command: ``pluralign emdpo mmra --run DIR``).

For every main cell (K = 3) of the run: the EM-DPO adapters are the K groups (their implicit rewards
beta log(pi_k / pi_SFT) score the samples), the candidates are those K adapters plus vanilla DPO's;
completions are sampled from each candidate on the first ``n_gen_prompts`` paraphrased prompts
(``n_per_prompt`` each, Table 5: 3,072 prompts x 1 completion), and :func:`pluralign.llm.mmra.mmra_ae_adapters`
solves eq. 39 on the estimated regret table.  Rows: MMRA-AE, uniform sampling over the K adapters,
vanilla DPO; regrets per learned group and their max (estimated, with the learned rewards).  Groups are
EM's components, so only the max is comparable across seeds (the summary's mean ± s.e.m.).

``method="lw"`` adds MMRA-LW (Alg. 2, :func:`pluralign.llm.mmra.mmra_lw_adapters`): one fresh adapter
on pi_SFT trained by weighted DPO on the run's training records, user i weighted by sum_k w_k gamma_ik
with gamma = EM-DPO's posterior (recomputed from the saved adapters and rho: the engine's final E-step),
against multiplicative weights w over the K groups (Table 5: 20 MWU iterations, eta = 0.01).  Its
policy pi^T is scored in the same table as the other rows (appended as the last candidate, so the other
rows' samples are those of an AE-only run): rows MMRA-LW, MMRA-AE (LP), uniform, vanilla DPO.

FINDINGS (2026-12-01, quick, ternary run of seed 0, 3 replicates, contended 2-CPU machine, 167-184 s CPU per
replicate): ``pluralign emdpo mmra --run R --profile quick --method lw`` gives estimated max regrets, mean ± s.e.m.
(replicates 0 / 1 / 2): MMRA-LW 4.42 ± 1.93 (1.73 / 3.37 / 8.15), MMRA-AE 1.26 ± 0.20 (1.35 / 1.56 / 0.88),
uniform 3.66 ± 1.14 (2.02 / 3.13 / 5.84), vanilla DPO 5.16 ± 1.86 (2.91 / 3.70 / 8.85); printed (MPI):
MMRA-LW 3.44, uniform 6.26, vanilla 4.14.  MMRA-LW is below vanilla DPO in every replicate, as printed, but
below uniform only in replicate 0 (printed: far below).  MMRA-AE is lowest in every replicate, but it is the
minimax mixture of the very table it is scored on (in-sample: its estimate is optimistic), the other rows
are not.  With Table 5's eta = 0.01 the MWU weights hardly move in replicates 0 and 1 (w^20 = .30 / .35 / .35
and .33 / .41 / .26 from 1/3 each; in-loop regrets ~1-3), so there MMRA-LW is close to DPO with the constant
weight 1/K, i.e. vanilla DPO, trained for 500 steps instead of vanilla's 125: its gain over vanilla DPO is
confounded with the 4x longer training.  In replicate 2 (larger regrets) they move to .17 / .20 / .64.

Seeds: the samples of cell (s, r) are drawn from ``torch_generator(s, r, "mmra")``; MMRA-LW's own
generators from ``derive_int(s, r, "mmra_lw")`` (:func:`pluralign.llm.mmra.mmra_lw_adapters`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from pluralign.em import assignment_weights
from pluralign.llm import AdapterPolicies, LMEMDPOModel, load_causal_lm
from pluralign.llm.mmra import mmra_ae_adapters, mmra_lw_adapters
from pluralign.runs import CellStore, Profile, mean_sem, read_json, run_cells, write_json
from pluralign.seeding import derive, derive_int, torch_generator

from pluralign.experiments.emdpo_llm.data import mpi_text
from pluralign.experiments.emdpo_llm.study import N_TYPES, EMDPOLLMSettings, _model_path, load_adapters

__all__ = ["DEVIATIONS", "MMRASettings", "PROFILES", "ROWS", "LW_ROWS", "rows", "run", "cell_policies", "em_posterior",
           "user_logliks"]

ROWS = ("mmra_ae", "uniform", "vanilla_dpo")
LW_ROWS = ("mmra_lw",) + ROWS
METHODS = ("lp", "optimistic_hedge", "lw")

DEVIATIONS = {
    "lw_batches": "quick / smoke: `lw_batches_per_iter` = 25 / 2 minibatches per MWU iteration (Table 5: 250; "
                  "quick's 20 x 25 x 16 records = 4 passes over the 2000 users, so a cell fits 2 CPUs). "
                  "Paper profile: 250.",
    "lw_dpo": "MMRA-LW's policy steps use the run's DPO settings (quick: RMSprop lr 1e-3, batch 16, 30 warmup "
              "steps, as the EM-DPO M-step; see the run's DEVIATIONS['lr']); paper: Table 5 (lr 5e-7, batch 32). "
              "One optimizer trajectory over the 20 iterations (warmup once).",
    "lw_mwu": "Alg. 2 line 9 prints w_k^t ∝ exp(R_k(pi) eta); read as the multiplicative-weights update "
              "w_k^t ∝ w_k^{t-1} exp(eta R_k(pi^t)) (sec. 3), eta = 0.01 (Table 5) on regrets in reward units "
              "(with beta).",
    "lw_regrets": "the in-loop regrets R_k(pi^t) (line 8) are estimated from `n_gen_prompts` x `n_per_prompt` "
                  "sampled completions scored by the K EM-DPO adapters (Table 5: 3,072 prompts x 1).",
    "lw_output": "the output is the last iterate pi^T (Alg. 2 prints no averaging; so does the tabular twin "
                 "`pluralign.mmra.mmra_lw`).",
}
"""Every way MMRA here departs from seed 001's printed setup (also written to results.json)."""


def rows(method: str) -> tuple:
    """Table 3's rows of a ``method``: MMRA-LW first when ``method == "lw"``."""
    return LW_ROWS if method == "lw" else ROWS


@dataclass
class MMRASettings:
    """MMRA-AE over a finished EM-DPO run's adapters (written to config.json)."""

    run_dir: str | None = None
    """Folder of a finished ``pluralign emdpo run`` (with adapters/)."""
    n_gen_prompts: int = 50
    """Prompts to sample completions on (the paraphrases; Table 5 uses 3,072 prompts)."""
    n_per_prompt: int = 8
    """Completions per prompt and candidate (Table 5: 1 on 3,072 prompts)."""
    max_new_tokens: int = 24
    """Longest completion in tokens."""
    method: str = "lp"
    """MMRA-AE's game solver: lp, or optimistic_hedge (the seed's dynamics); lw: MMRA-LW too (AE by lp)."""
    lw_iter: int = 20
    """MMRA-LW's MWU iterations (Table 5: 20)."""
    lw_batches_per_iter: int = 25
    """MMRA-LW's DPO minibatches per MWU iteration (Table 5: 250; see DEVIATIONS)."""
    lw_eta: float = 0.01
    """MMRA-LW's MWU learning rate eta (Table 5: 0.01)."""
    lw_lr: float | None = None
    """MMRA-LW's policy learning rate (None: the run's DPO lr; Table 5: 5e-7)."""
    lw_batch_size: int | None = None
    """MMRA-LW's records per minibatch (None: the run's; Table 5: 32)."""

    def __post_init__(self):
        for name in ("n_gen_prompts", "n_per_prompt", "max_new_tokens", "lw_iter", "lw_batches_per_iter"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
        if self.lw_batch_size is not None and (isinstance(self.lw_batch_size, bool) or int(self.lw_batch_size)
                                               != self.lw_batch_size or self.lw_batch_size < 1):
            raise ValueError(f"lw_batch_size: must be an integer >= 1, got {self.lw_batch_size!r}")
        if not (np.isfinite(self.lw_eta) and self.lw_eta >= 0):
            raise ValueError(f"lw_eta: must be a finite number >= 0, got {self.lw_eta!r}")
        if self.lw_lr is not None and not (np.isfinite(self.lw_lr) and self.lw_lr > 0):
            raise ValueError(f"lw_lr: must be > 0, got {self.lw_lr!r}")
        if self.method not in METHODS:
            raise ValueError(f"method: expected lp, optimistic_hedge or lw, got {self.method!r}")
        if self.run_dir is not None:
            self.run_dir = str(self.run_dir)


PROFILES = {
    Profile.smoke: MMRASettings(n_gen_prompts=2, n_per_prompt=2, max_new_tokens=12, lw_iter=2,
                                lw_batches_per_iter=2),
    Profile.quick: MMRASettings(),
    Profile.paper: MMRASettings(n_gen_prompts=50, n_per_prompt=62, max_new_tokens=256, lw_batches_per_iter=250,
                                lw_lr=5e-7, lw_batch_size=32),
}
"""paper: 50 x 62 = 3,100 completions per candidate (Table 5's 3,072 prompts x 1, on our 50 paraphrases);
MMRA-LW as Table 5 (20 iterations x 250 batches of 32, lr 5e-7, eta 0.01)."""


def _run_settings(run_dir: Path) -> EMDPOLLMSettings:
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise ValueError(f"run_dir: no config.json under {run_dir} (not a 'pluralign emdpo run' folder)")
    cfg = read_json(cfg_path)
    if cfg.get("command") != "emdpo run":
        raise ValueError(f"run_dir: {run_dir} holds a {cfg.get('command')!r} run, not 'emdpo run'")
    s = EMDPOLLMSettings(**cfg["config"])
    if s.dataset != "mpi":
        raise ValueError(f"run_dir: {run_dir} is a --dataset {s.dataset} run; MMRA over the LM's adapters reads "
                         "MPI runs only (Table 3's Global Opinions columns are not reproduced here)")
    return s


def cell_policies(s: EMDPOLLMSettings, cell: dict, n_adapters: int):
    """(policies, training sample, MPI text) of a finished cell of an MPI run with settings ``s``: the cell's
    training users rebuilt from its seeds exactly as the run drew them, and ``n_adapters`` fresh LoRA slots
    on the run's pi_SFT (loaded, or rebuilt from the cache key, through :func:`study._model_path`)."""
    c = cell["config"]
    seed, rep = c["seed"], c["rep"]
    mpi = mpi_text(s.inventory, s.data_dir, s.n_prompts, s.beta, s.ref_scale, seed)
    sample = mpi.testbed.sample(s.n_users, c["n_options"], derive(seed, rep, "sample", c["n_options"]))
    model, tok = load_causal_lm(_model_path(s, mpi, seed), device=s.torch_device(), dtype="auto")
    pol = AdapterPolicies(model, tok, mpi.records(sample), n_adapters, s.lora(), max_length=s.max_length,
                          max_prompt_length=s.max_prompt_length, batch_size=s.score_batch_size)
    return pol, sample, mpi


def _work(ms: MMRASettings, out: Path, cell: dict) -> None:
    torch.set_num_threads(1)
    run_dir = Path(ms.run_dir)
    s = _run_settings(run_dir)
    c = cell["config"]
    seed, rep = c["seed"], c["rep"]
    ad = load_adapters(run_dir, cell["key"])
    # MMRA-LW's E-step (LMEMDPOModel) scores group k in adapter slot k; everything else uses slot 0
    pol, _, mpi = cell_policies(s, cell, len(ad["em_dpo"]) if ms.method == "lw" else 1)
    prompts = mpi.prompts[: ms.n_gen_prompts]
    extra = {"vanilla_dpo": ad["vanilla_dpo"][0]}
    lw = None
    if ms.method == "lw":
        gamma = em_posterior(pol, ad["em_dpo"], cell["metrics"]["em_dpo"]["rho"], s.beta)
        dpo = replace(s.dpo(1), **{k: v for k, v in (("lr", ms.lw_lr), ("batch_size", ms.lw_batch_size))
                                   if v is not None})
        lw = mmra_lw_adapters(pol, ad["em_dpo"], gamma, prompts, dpo, derive_int(seed, rep, "mmra_lw"),
                              n_iter=ms.lw_iter, batches_per_iter=ms.lw_batches_per_iter, eta=ms.lw_eta,
                              n_per_prompt=ms.n_per_prompt, max_new_tokens=ms.max_new_tokens)
        extra["mmra_lw"] = lw["state"]  # last candidate: the other rows' samples are an AE-only run's
    res = mmra_ae_adapters(pol, ad["em_dpo"], prompts, s.beta, torch_generator(seed, rep, "mmra"),
                           n_per_prompt=ms.n_per_prompt, max_new_tokens=ms.max_new_tokens, extra_candidates=extra,
                           method="lp" if ms.method == "lw" else ms.method)
    res["matched_component"] = cell["metrics"]["em_dpo"].get("matched_component")
    if lw is not None:
        res["lw"] = {k: lw[k] for k in ("w", "regrets", "diag", "losses")}
    CellStore(out).save(cell["key"], c, _jsonable(res))


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    return x


def em_posterior(policies: AdapterPolicies, states, rho, beta: float) -> np.ndarray:
    """(N, K) EM-DPO's posterior gamma_ik at the saved adapters and rho (the engine's final E-step:
    :class:`pluralign.llm.LMEMDPOModel`'s likelihood and :func:`pluralign.em.assignment_weights`)."""
    rho = np.asarray(rho, dtype=float)
    if rho.shape != (len(states),):
        raise ValueError(f"rho: expected {len(states)} mixture weights, got shape {rho.shape}")
    return assignment_weights(user_logliks(policies, states, beta), rho, "soft")[0]


def user_logliks(policies: AdapterPolicies, states, beta: float) -> np.ndarray:
    """(N, K) per-user log-likelihoods of the training records under the adapter states (slot k scores
    state k): :class:`pluralign.llm.LMEMDPOModel`'s E-step likelihood, the one the EM engine uses."""
    from pluralign.llm import DPOSettings

    return LMEMDPOModel(policies, DPOSettings(beta=beta), seed=0).log_likelihood(states)


def run(settings: MMRASettings, seed: int, out: Path, progress: bool = True) -> dict:
    """MMRA-AE on every main cell of ``settings.run_dir`` (finished cells skipped), then ``out/results.json``
    (Table 3's rows per cell and the mean ± s.e.m. of each row's max regret). ``seed`` is the run's."""
    if settings.run_dir is None:
        raise ValueError("run_dir: MMRA needs a finished 'pluralign emdpo run' folder (--run)")
    run_dir = Path(settings.run_dir)
    s = _run_settings(run_dir)
    cells = [c for c in CellStore(run_dir).all() if c["config"]["K"] == N_TYPES and c["config"]["seed"] == seed]
    if not cells:
        raise ValueError(f"run_dir: no finished K = {N_TYPES} cells of seed {seed} under {run_dir / 'cells'}")
    out = Path(out)
    store = CellStore(out)
    run_cells(_work, [(settings, out, c) for c in cells if not store.done(c["key"])], n_jobs=1,
              desc="emdpo mmra", progress=progress)
    done = [store.load(c["key"]) for c in cells]
    summary = {}
    for row in rows(settings.method):
        ms = mean_sem([d["metrics"]["max_regret"][row] for d in done])
        summary[f"{row}_max_regret_mean"], summary[f"{row}_max_regret_sem"] = ms["mean"], ms["sem"]
    summary["n_seeds"] = len(done)
    results = {"source": f"language model ({Path(s.model).name if s.model else 'GPT-2 built here'}; run {run_dir})",
               "settings": asdict(settings), "seed": int(seed), "feedback": s.feedback,
               "deviations": DEVIATIONS, "summary": summary, "cells": done}
    write_json(out / "results.json", results)
    return results
