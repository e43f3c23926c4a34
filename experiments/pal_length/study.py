"""The length-preference experiment of seed 002 (PAL, sec. 3.1, App. D.3, Figs. 2-3, Tables 1, 3, 5) on
real persona text (:mod:`pluralign.experiments.pal_length.data`): PAL-A / PAL-B, Tiny and Large, a
homogeneous K = 1 reward model and a personalized baseline with a learned per-user embedding.

Methods (:data:`METHODS`):

* ``PAL-{A,B}-Tiny`` (K = 2): the 2-layer GELU MLP on the frozen encoder's embeddings
  (:class:`pluralign.pal.PALRewardModel`); ``PAL-{A,B}-Tiny-K1``: the same with K = 1, i.e. one reward
  model for everyone (the homogeneous baseline, Table 3's K = 1 rows);
* ``PAL-{A,B}-Large`` (K = 2) and ``PAL-B-Large-K1``: the encoder fine-tuned end to end with the MLP
  (:class:`pluralign.pal.large.PALLarge`);
* ``UserEmb-Tiny``: :class:`pluralign.experiments.pal_length.baseline.UserEmbeddingReward` on the frozen
  embeddings.

Every cell (method x replicate) reports seen-user test accuracy, training accuracy, the unseen users'
zero-shot accuracy (population-mean weights) and their few-shot accuracy after fitting only their weights
on m pool pairs (D.3.1: encoder and MLP fixed; with K = 1 there is nothing to fit and the curve is the
zero-shot accuracy), the m pairs picked at random and, for PAL with K >= 2, actively (:func:`pluralign.pal.evaluation.fewshot_curves`, information-maximizing queries); plus the
number of trainable parameters (Fig. 2's x axis) and wall time.

Printed settings (App. D.3, Table 4) used in every profile: K = 2; batch size 4; Adam learning rates
9.65e-6 (encoder), 1e-4 (MLP "projectors", weight decay 0.01), 5e-3 (user weights); encoder weight decay
0; dimension of the preference embedding 512; 2-layer GELU MLP without dropout; logistic loss.
What differs is listed in :data:`DEVIATIONS` (the one place).

Seeds (:mod:`pluralign.seeding`): replicate r of base seed s draws its task from
``derive_int(s, r, "task")``, its fits from ``derive_int(s, r, "fit")`` (the same for every method: common
random numbers) and its few-shot orders / particles from ``derive(s, r, "fewshot")``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from pluralign.data import Choices
from pluralign.experiments.pal_length.baseline import UserEmbeddingConfig, UserEmbeddingReward
from pluralign.experiments.pal_length.data import LengthConfig, LengthTask, load_statements, make_task
from pluralign.pal import PALConfig, PALRewardModel, random_query_order
from pluralign.pal.evaluation import fewshot_curves, samples_to_reach
from pluralign.pal.large import PALLarge, PALLargeConfig, TextEncoder
from pluralign.runs import CellStore, Profile, mean_sem, read_json, run_cells, write_json
from pluralign.seeding import derive, derive_int

__all__ = ["METHODS", "DEVIATIONS", "PROFILES", "LengthSettings", "run", "run_cell", "summarize", "cell_key"]

METHODS: dict[str, dict] = {
    "PAL-A-Tiny": {"kind": "pal", "model": "A", "K": 2, "strategy": "tiny"},
    "PAL-B-Tiny": {"kind": "pal", "model": "B", "K": 2, "strategy": "tiny"},
    "PAL-A-Tiny-K1": {"kind": "pal", "model": "A", "K": 1, "strategy": "tiny"},
    "PAL-B-Tiny-K1": {"kind": "pal", "model": "B", "K": 1, "strategy": "tiny"},
    "UserEmb-Tiny": {"kind": "user_embedding", "strategy": "tiny"},
    "PAL-A-Large": {"kind": "pal", "model": "A", "K": 2, "strategy": "large"},
    "PAL-B-Large": {"kind": "pal", "model": "B", "K": 2, "strategy": "large"},
    "PAL-B-Large-K1": {"kind": "pal", "model": "B", "K": 1, "strategy": "large"},
}
"""Method name -> kind (PAL or the per-user-embedding baseline), PAL model, K and strategy."""

DEVIATIONS = {
    "data": "Reddit TL;DR (Li et al. 2024's length variant) is not on these machines: pairs of responses built "
            "from the shipped Anthropic persona statements, length (word count) the preference axis "
            "(experiments/pal_length/data.py).",
    "seen_split": "D.3 says the ten seen users are 'divided into a majority and minority group' without the "
                  "sizes; we use 7 longer / 3 shorter (the 70 / 30 of the unseen users).",
    "encoder": "The packaged all-MiniLM-L6-v2 (22.7M parameters, 384-d, mean pooling) for both Tiny and Large, "
               "not OPT-350M / DistilBERT / BGE-M3 / gte-Qwen2 (not on these machines; any local encoder "
               "folder can be passed as model). Fig. 2's parameter axis therefore has two points per model.",
    "loss": "The Bradley-Terry loss on the mean-pooled response reward; Table 4's 'cumulative' per-token "
            "weighting applies to a decoder's per-token rewards and has no counterpart for a pooled encoder.",
    "context": "The prompt is not encoded (shared by both responses of a pair); PAL-B uses free prototypes "
               "(no prompt-conditioned g_k) in both strategies.",
    "max_length": "Table 4's maximum sequence length 600 exceeds MiniLM's 512-token context; the responses "
                  "here are < 80 tokens and a longer text is an error (no truncation).",
    "hidden": "The MLP's hidden width is not printed; we use the input dimension (384), with which Table 3's "
              "parameter counts (e.g. 1.6M for OPT-350M's 1024-d input into 512) are consistent.",
    "prototype_lr": "PAL's prototypes' learning rate is not printed for D.3; 5e-3 (D.2's rate for prototypes).",
    "dropout": "The encoder is fine-tuned without dropout (eval mode): its dropout would draw from torch's "
               "global RNG, which no seeded generator reaches; Table 4 prints dropout 0 for the projectors and "
               "nothing for the foundation model.",
    "unseen_init": "Unseen users' weights start uniform (softmax of zero logits) with a small Gaussian prior "
                   "on the logits (PALRewardModel.localize), not at a random draw (D.3.1).",
    "seen_init": "Seen users' softmax logits start N(0, 1) (LengthSettings.weight_init_std); App. D.1 prints "
                 "'random weights for all of our experiments, including the prototypical weight for each user' "
                 "without the law (as in the sim and persona studies). Runs before 2026-12-02 started them "
                 "uniform (weight_init_std = 0, still accepted).",
    "PAL-B scale": "PAL-B's cosine score carries a learnable scale s = exp(log_scale), initial 10 (eq. 6 prints "
                   "<f(x), z(x_c)>), trained with the projector's learning rate and weight decay.",
    "baseline": "sec. 3.1 compares with P-DPO (Li et al., 2024) and vanilla DPO; here the per-user-embedding "
                "reward model UserEmb-Tiny (the users' own learned vectors, P-DPO's idea on a reward model) and "
                "the K = 1 PAL models (a shared reward, vanilla DPO's reward model) stand in; P-DPO itself is "
                "not run.",
    "table3_rows": "Table 3's PAL-A-Large (K = 1) row is not run (METHODS has no PAL-A-Large-K1).",
    "sizes": "quick: 10 seen users x 40 training pairs (not >= 1,000), 31 unseen users x (40 pool + 40 test) "
             "pairs, responses of 1-3 statements, 3 replicates, PAL-A-Large and PAL-B-Large-K1 left to the paper "
             "profile, so that fine-tuning MiniLM fits 2 CPUs. With 200 steps instead of D.3's ~5,200 (1 epoch "
             "of 20,969 pairs at batch 4), quick trains Tiny and Large alike for 2 epochs with Table 4's "
             "learning rates x 10 (encoder 9.65e-5, MLP 1e-3, user weights and prototypes 5e-2); paper keeps "
             "Table 4's rates and 1 epoch.",
}
"""Every difference from seed 002's printed D.3 setting (the one place)."""


@dataclass
class LengthSettings:
    """Everything a run of the length experiment depends on (written to config.json)."""

    profile: str = "custom"
    """Name of the profile these settings came from."""
    task: LengthConfig = field(default_factory=LengthConfig)
    """Sizes of the drawn task (users, pairs, corpus)."""
    methods: tuple[str, ...] = tuple(METHODS)
    """Methods to run (keys of METHODS)."""
    n_seeds: int = 3
    """Replicates (task draw and fits) per method."""
    m_grid: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100)
    """Few-shot samples per unseen user (Fig. 3's x axis; Table 5: 10, 20, 50, 100)."""
    model: str | None = None
    """Encoder folder (None: the packaged MiniLM)."""
    max_length: int | None = None
    """Encoder context in tokens (None: the encoder's own); longer texts are an error."""
    hidden: int = 384
    """Hidden width of the 2-layer MLP (not printed; the input dimension)."""
    d_latent: int = 512
    """Dimension of the preference embedding (Table 4: 512)."""
    batch_size: int = 4
    """Mini-batch size (Table 4: 4)."""
    lr_encoder: float = 9.65e-6
    """Encoder learning rate (Table 4: 9.65e-6)."""
    lr_map: float = 1e-4
    """MLP learning rate (Table 4: 1e-4)."""
    weight_decay_map: float = 0.01
    """MLP weight decay (Table 4: 0.01)."""
    lr_weights: float = 5e-3
    """User-weight learning rate (Table 4: 5e-3)."""
    lr_prototypes: float = 5e-3
    """Prototype learning rate (not printed for D.3; D.2's 5e-3)."""
    weight_init_std: float = 1.0
    """Std of the seen users' initial softmax logits (App. D.1: random; 0 = uniform, DEVIATIONS['seen_init'])."""
    epochs_tiny: int = 1
    """Epochs of a Tiny fit (Table 4: 1)."""
    epochs_large: int = 1
    """Epochs of a Large fit (Table 4: 1)."""
    n_particles: int = 500
    """Particles of the active-query posterior over a new user's weights."""
    localize_epochs: int = 300
    """Adam steps of a new user's weight fit."""
    data_dir: str | None = None
    """Folder of the persona *.jsonl files (None: the shipped copy or $PLURALIGN_ANTHROPIC_PERSONA_DIR)."""
    cache_dir: str | None = None
    """Root of the frozen-embedding cache (None: $PLURALIGN_CACHE or ~/.cache/pluralign)."""
    n_jobs: int = 2
    """Worker processes; cells are independent and seeded, so the numbers do not depend on it."""

    def validate(self) -> "LengthSettings":
        """``self``; ValueError naming the field for a bad value."""
        self.task.validate()
        if not self.methods or any(m not in METHODS for m in self.methods):
            raise ValueError(f"methods: must be a non-empty subset of {list(METHODS)}, got {list(self.methods)}")
        for name in ("n_seeds", "hidden", "d_latent", "batch_size", "epochs_tiny", "epochs_large", "n_particles",
                     "localize_epochs", "n_jobs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("lr_encoder", "lr_map", "lr_weights", "lr_prototypes"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if not float(self.weight_init_std) >= 0:
            raise ValueError(f"weight_init_std: must be >= 0, got {self.weight_init_std}")
        if self.weight_decay_map < 0:
            raise ValueError(f"weight_decay_map: must be >= 0, got {self.weight_decay_map}")
        if not self.m_grid or any(int(m) < 1 or int(m) > self.task.n_pool for m in self.m_grid):
            raise ValueError(f"m_grid: every m must lie in 1..task.n_pool = {self.task.n_pool}, got {list(self.m_grid)}")
        if self.max_length is not None and int(self.max_length) < 2:
            raise ValueError(f"max_length: must be None or >= 2, got {self.max_length}")
        return self


PROFILES: dict[Profile, LengthSettings] = {
    Profile.smoke: LengthSettings(
        profile="smoke", n_seeds=1, methods=("PAL-B-Tiny", "PAL-B-Tiny-K1", "UserEmb-Tiny", "PAL-B-Large"),
        task=LengthConfig(n_seen=4, seen_longer=3, n_unseen=4, n_train=6, n_test=4, n_pool=4, max_statements=2,
                          n_train_responses=24, n_test_responses=12),
        m_grid=(1, 4), epochs_tiny=2, epochs_large=1, n_particles=20, localize_epochs=20),
    Profile.quick: LengthSettings(
        profile="quick", n_seeds=3,
        methods=("PAL-A-Tiny", "PAL-B-Tiny", "PAL-A-Tiny-K1", "PAL-B-Tiny-K1", "UserEmb-Tiny", "PAL-B-Large"),
        task=LengthConfig(n_train=40, n_test=40, n_pool=40, max_statements=3, n_train_responses=300,
                          n_test_responses=150),
        m_grid=(1, 2, 5, 10, 20, 40), epochs_tiny=2, epochs_large=2, lr_encoder=9.65e-5, lr_map=1e-3,
        lr_weights=5e-2, lr_prototypes=5e-2, n_particles=200, localize_epochs=150),
    Profile.paper: LengthSettings(
        profile="paper", n_seeds=5,
        task=LengthConfig(n_train=2000, n_test=500, n_pool=100, max_statements=4, n_train_responses=6000,
                          n_test_responses=1500)),
}
"""smoke: seconds (CI); quick: 2 CPUs (see DEVIATIONS['sizes']); paper: D.3's scale (10 x ~2,000 training
pairs, 5 seeds, 1 epoch) — hours of fine-tuning on CPU, minutes on a GPU."""


def _pal_config(settings: LengthSettings, method: str, epochs: int, seed: int) -> PALConfig:
    spec = METHODS[method]
    return PALConfig(model=spec["model"], n_prototypes=spec["K"], map="mlp", hidden=settings.hidden,
                     d_latent=settings.d_latent, loss="logistic", lr_map=settings.lr_map,
                     lr_prototypes=settings.lr_prototypes, lr_weights=settings.lr_weights,
                     weight_decay=settings.weight_decay_map, epochs=epochs, batch_size=settings.batch_size,
                     weight_init_std=settings.weight_init_std, seed=seed)


def _with_features(ch: Choices, emb: np.ndarray) -> Choices:
    return Choices(user=ch.user, options=ch.options, features=emb[ch.options], chosen=ch.chosen, mask=ch.mask,
                   weight=ch.weight, n_users=ch.n_users)


def _frozen_embeddings(task: LengthTask, settings: LengthSettings) -> np.ndarray:
    """The frozen encoder's embeddings of the corpus (the Tiny inputs), cached on disk by texts and encoder."""
    from pluralign.pal.embed import cache_dir, texts_key

    enc = TextEncoder(settings.model, max_length=settings.max_length, on_overflow="error")
    name = f"{Path(str(enc.path)).name}-len{enc.max_length}-meanpool"
    path = cache_dir(settings.cache_dir) / f"{texts_key(task.texts, name)}.npy"
    if path.exists():
        emb = np.load(path)
        if emb.shape[0] == len(task.texts):
            return emb
    emb = enc.encode(task.texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, emb)
    os.replace(tmp, path)
    return emb


def _task(settings: LengthSettings, seed: int, replicate: int) -> LengthTask:
    return make_task(load_statements(settings.data_dir), settings.task, derive_int(seed, replicate, "task"))


def run_cell(settings: LengthSettings, method: str, seed: int, replicate: int) -> dict:
    """Fit one method on replicate ``replicate``'s task and measure it (module doc)."""
    t0 = time.time()
    torch.set_num_threads(1)
    spec = METHODS[method]
    task = _task(settings, seed, replicate)
    fit_seed = derive_int(seed, replicate, "fit")
    ms = [int(m) for m in settings.m_grid]
    out: dict = {"method": method, **spec}
    if spec["strategy"] == "large":
        cfg = PALLargeConfig(pal=_pal_config(settings, method, settings.epochs_large, fit_seed), model=settings.model,
                             lr_encoder=settings.lr_encoder, max_length=settings.max_length, on_overflow="error")
        large = PALLarge(cfg).fit(task.train, task.texts)
        emb = large.embed(task.texts)  # the fine-tuned encoder, fixed from here on (D.3.1)
        model = large.as_tiny()
        out["trainable_params"] = large.trainable_parameters()
        out["final_loss"] = large.loss_history_[-1]
    else:
        emb = _frozen_embeddings(task, settings)
        train = _with_features(task.train, emb)
        if spec["kind"] == "user_embedding":
            model = UserEmbeddingReward(UserEmbeddingConfig(hidden=settings.hidden, lr_map=settings.lr_map,
                                                            lr_users=settings.lr_weights,
                                                            weight_decay=settings.weight_decay_map,
                                                            epochs=settings.epochs_tiny,
                                                            batch_size=settings.batch_size, seed=fit_seed)).fit(train)
            out["trainable_params"] = model.n_parameters()
        else:
            model = PALRewardModel(_pal_config(settings, method, settings.epochs_tiny, fit_seed)).fit(train)
            out["trainable_params"] = int(sum(p.numel() for p in model.model_.parameters()))
        out["final_loss"] = model.loss_history_[-1]
    train, test = _with_features(task.train, emb), _with_features(task.test, emb)
    pool, unseen_test = _with_features(task.pool, emb), _with_features(task.unseen_test, emb)
    rng = derive(seed, replicate, "fewshot")
    out["train_acc"], out["seen_acc"] = model.accuracy(train), model.accuracy(test)
    if spec["kind"] == "user_embedding":
        orders = [ix[random_query_order(pool.subset(ix), ms[-1], rng)] for ix in pool.user_indices()]
        mean_v = np.broadcast_to(model.user_vectors_.mean(0), (pool.n_users, model.config.d_user))
        out["zero_shot_acc"] = model.accuracy(unseen_test, vectors=mean_v)
        out["fewshot_m"], out["fewshot_random"] = ms, []
        for m in ms:
            sub = pool.subset(np.sort(np.concatenate([o[:m] for o in orders])), reindex_users=False)
            out["fewshot_random"].append(model.accuracy(unseen_test, vectors=model.localize(
                sub, epochs=settings.localize_epochs)))
    elif spec["K"] == 1:  # one prototype: w = (1,) for every user, nothing to localize at any m
        out["zero_shot_acc"] = model.accuracy(unseen_test, weights=model.population_weights())
        out["fewshot_m"], out["fewshot_random"] = ms, [out["zero_shot_acc"]] * len(ms)
        out["seen_weights"] = np.round(model.weights_, 4).tolist()
    else:
        curves = fewshot_curves(model, pool, unseen_test, ms, seed=rng, active=spec["K"] >= 2,
                                n_particles=settings.n_particles, localize_epochs=settings.localize_epochs)
        out["zero_shot_acc"] = float(curves["zero_shot"])
        out["fewshot_m"], out["fewshot_random"] = ms, [float(a) for a in curves["random"]]
        if "active" in curves:
            out["fewshot_active"] = [float(a) for a in curves["active"]]
        out["seen_weights"] = np.round(model.weights_, 4).tolist()
    out["seen_prefers_longer"] = task.seen_prefers_longer.tolist()
    out["task"] = task.summary()
    out["seconds"] = time.time() - t0
    return out


def cell_key(seed: int, replicate: int, method: str) -> str:
    """The CellStore key of one cell."""
    return f"method={method}_seed={seed}_rep={replicate}"


def _work(out: Path, key: str, config: dict, settings: LengthSettings, seed: int, replicate: int) -> None:
    """One (method, replicate) cell, saved to the run's CellStore (runs in a worker process)."""
    metrics = run_cell(settings, config["method"], seed, replicate)
    CellStore(out).save(key, config, metrics)


def run(settings: LengthSettings, seed: int, out: Path, progress: bool = True) -> dict:
    """Run (or resume) methods x replicates; writes ``out/results.json`` and returns it (read back).
    Finished cells are read, never recomputed."""
    settings = settings.validate()
    out = Path(out)
    load_statements(settings.data_dir)  # a bad data folder fails before any cell
    store = CellStore(out)
    cells = [(r, m) for r in range(settings.n_seeds) for m in settings.methods]
    # Large cells first: the longest tasks start first in the worker pool
    cells.sort(key=lambda c: (METHODS[c[1]]["strategy"] != "large", c[0]))
    todo = [(out, cell_key(seed, r, m), {"method": m, "seed": seed, "replicate": r}, settings, seed, r)
            for r, m in cells if not store.done(cell_key(seed, r, m))]
    run_cells(_work, todo, n_jobs=settings.n_jobs, desc="pal length cells", progress=progress)
    wanted = {cell_key(seed, r, m) for r, m in cells}
    all_cells = [c for c in store.all() if c["key"] in wanted]
    res = {"profile": settings.profile, "seed": seed, "replicates": list(range(settings.n_seeds)),
           "settings": asdict(settings), "deviations": DEVIATIONS,
           "summary": summarize(all_cells), "cells": all_cells}
    return read_json(write_json(out / "results.json", res))


def summarize(cells: list[dict]) -> dict:
    """Per method: seen / train / zero-shot accuracy and the few-shot curves as mean +- s.e.m. over
    replicates, trainable parameters, and the number of unseen samples at which the mean unseen accuracy
    comes within 2 points of the mean seen accuracy, for random and active queries (empty for K = 1, whose
    unseen users have nothing to fit)."""
    by: dict = {}
    for c in cells:
        by.setdefault(c["config"]["method"], []).append(c["metrics"])
    table = {}
    for method in [m for m in METHODS if m in by]:
        ms = by[method]
        row = {k: mean_sem(m[k] for m in ms) for k in ("seen_acc", "train_acc", "zero_shot_acc")}
        row["trainable_params"] = int(ms[0]["trainable_params"])
        row["fewshot_m"] = list(ms[0]["fewshot_m"])
        for curve in ("fewshot_random", "fewshot_active"):
            if curve in ms[0]:
                row[curve] = [mean_sem(m[curve][i] for m in ms) for i in range(len(row["fewshot_m"]))]
        target = row["seen_acc"]["mean"] - 0.02
        row["unseen_within_2pts_of_seen"] = {} if ms[0].get("K") == 1 else {  # K = 1: nothing is localized
            curve.replace("fewshot_", ""): samples_to_reach(row["fewshot_m"], [a["mean"] for a in row[curve]], target)
            for curve in ("fewshot_random", "fewshot_active") if curve in row}
        row["n_seeds"] = len(ms)
        row["seconds"] = float(sum(m["seconds"] for m in ms))
        table[method] = row
    return {"table": table}
