"""MMRA-AE on the language model (seed 001 Alg. 4, Table 3's layout) over the adapters of a finished
``pluralign emdpo run`` (command: ``pluralign emdpo mmra --run DIR``).

For every main cell (K = 3) of the run: the EM-DPO adapters are the K groups (their implicit rewards
beta log(pi_k / pi_SFT) score the samples), the candidates are those K adapters plus vanilla DPO's;
completions are sampled from each candidate on the first ``n_gen_prompts`` paraphrased prompts
(``n_per_prompt`` each, Table 5: 3,072 prompts x 1 completion), and :func:`pluralign.llm.mmra.mmra_ae_adapters`
solves eq. 39 on the estimated regret table.  Rows: MMRA-AE, uniform sampling over the K adapters,
vanilla DPO; regrets per learned group and their max (estimated, with the learned rewards).  Groups are
EM's components, so only the max is comparable across seeds (the summary's mean ± s.e.m.).

Seeds: the samples of cell (s, r) are drawn from ``torch_generator(s, r, "mmra")``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pluralign.llm import AdapterPolicies, load_causal_lm
from pluralign.llm.mmra import mmra_ae_adapters
from pluralign.runs import CellStore, Profile, mean_sem, read_json, run_cells, write_json
from pluralign.seeding import derive, torch_generator

from pluralign.experiments.emdpo_llm.data import mpi_text
from pluralign.experiments.emdpo_llm.study import N_TYPES, EMDPOLLMSettings, _model_path, load_adapters

__all__ = ["MMRASettings", "PROFILES", "ROWS", "run"]

ROWS = ("mmra_ae", "uniform", "vanilla_dpo")


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
    """Game solver: lp, or optimistic_hedge (the seed's dynamics)."""

    def __post_init__(self):
        for name in ("n_gen_prompts", "n_per_prompt", "max_new_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
        if self.method not in ("lp", "optimistic_hedge"):
            raise ValueError(f"method: expected lp or optimistic_hedge, got {self.method!r}")
        if self.run_dir is not None:
            self.run_dir = str(self.run_dir)


PROFILES = {
    Profile.smoke: MMRASettings(n_gen_prompts=2, n_per_prompt=2, max_new_tokens=12),
    Profile.quick: MMRASettings(),
    Profile.paper: MMRASettings(n_gen_prompts=50, n_per_prompt=62, max_new_tokens=256),
}
"""paper: 50 x 62 = 3,100 completions per candidate (Table 5's 3,072 prompts x 1, on our 50 paraphrases)."""


def _run_settings(run_dir: Path) -> EMDPOLLMSettings:
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise ValueError(f"run_dir: no config.json under {run_dir} (not a 'pluralign emdpo run' folder)")
    cfg = read_json(cfg_path)
    if cfg.get("command") != "emdpo run":
        raise ValueError(f"run_dir: {run_dir} holds a {cfg.get('command')!r} run, not 'emdpo run'")
    return EMDPOLLMSettings(**cfg["config"])


def _work(ms: MMRASettings, out: Path, cell: dict) -> None:
    torch.set_num_threads(1)
    run_dir = Path(ms.run_dir)
    s = _run_settings(run_dir)
    c = cell["config"]
    seed, rep = c["seed"], c["rep"]
    mpi = mpi_text(s.inventory, s.data_dir, s.n_prompts, s.beta, s.ref_scale, seed)
    sample = mpi.testbed.sample(s.n_users, c["n_options"], derive(seed, rep, "sample", c["n_options"]))
    model, tok = load_causal_lm(_model_path(s, mpi, seed), device=s.torch_device(), dtype="auto")
    pol = AdapterPolicies(model, tok, mpi.records(sample), 1, s.lora(), max_length=s.max_length,
                          max_prompt_length=s.max_prompt_length, batch_size=s.score_batch_size)
    ad = load_adapters(run_dir, cell["key"])
    res = mmra_ae_adapters(pol, ad["em_dpo"], mpi.prompts[: ms.n_gen_prompts], s.beta,
                           torch_generator(seed, rep, "mmra"), n_per_prompt=ms.n_per_prompt,
                           max_new_tokens=ms.max_new_tokens, extra_candidates={"vanilla_dpo": ad["vanilla_dpo"][0]},
                           method=ms.method)
    CellStore(out).save(cell["key"], c, {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in res.items()})


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
    for row in ROWS:
        ms = mean_sem([d["metrics"]["max_regret"][row] for d in done])
        summary[f"{row}_max_regret_mean"], summary[f"{row}_max_regret_sem"] = ms["mean"], ms["sem"]
    summary["n_seeds"] = len(done)
    results = {"source": f"language model ({Path(s.model).name if s.model else 'GPT-2 built here'}; run {run_dir})",
               "settings": asdict(settings), "seed": int(seed), "feedback": s.feedback, "summary": summary,
               "cells": done}
    write_json(out / "results.json", results)
    return results
