"""The PAL persona experiment (seed 002: PAL, App. D.4, Figs. D.5 / D.6) on real statements.

The data, Table 7's personas and the users are :mod:`pluralign.experiments.pal_persona.data` (a user
answers yes iff the statement is in S(rho_j)). Models, as App. D.4 prints them: "PAL-A-Tiny with hinge
loss and model PAL-B-Tiny with logistic loss [...]. Both model utilize a 2-layer MLP as the f function",
on frozen embeddings (the Tiny strategy), and "PAL-A utilizes a residual connection. Therefore, the
latent dimension is fixed to [...] the dimension of the input embedding" (:func:`pal_config`).

Sweeps (App. D.4, each "with a fixed number of users per group N"):

* (a) K* in {2..6} x K in {1..8}, n_p = 1000, d = 16 (``Kstar_grid`` x ``K_grid``);
* (b) n_p in {75, 100, 200, 500, 1000} x K in {1..5}, K* = 4, d = 16 (``np_grid`` x ``K_grid_small``);
* (c) d in {4, 8, 16, 32, 64} x K in {1..5}, K* = 4, n_p = 1000 -- PAL-B only: "Since we used a
  residual connection in the PAL-A-Tiny, we could not vary the size of the latent dimension" (Fig. D.5);
* (d) n_p,unseen in {1, 10, 20, 50, 100, 200, 500, 1000} x K in {1..5}, K* = 4, n_p = 1000, d = 16:
  unseen users localized on their first n_p,unseen queries, map and prototypes frozen (sec. 2.2, D.3.1).

A fit is identified by (model, K*, K, n_p, d, replicate) and shared by the panels that need it (the
(K* = 4, n_p = 1000, d = 16) fits serve (a), (b), (c) and (d)); each fit is one
:class:`pluralign.runs.CellStore` cell, run through :func:`pluralign.runs.run_cells`. ``run`` writes
``results.json`` (numbers only; the figure is :func:`pluralign.paper_figures.pal_persona.plot`), tables
as mean +- s.e.m. over replicates (:func:`pluralign.runs.mean_sem`). Every departure from App. D.4 is in
:data:`DEVIATIONS` (with the data's, :data:`pluralign.experiments.pal_persona.data.DEVIATIONS`).

Seeds (:mod:`pluralign.seeding`): replicate r's population with K* personas is ``derive(seed, r,
"population", K*)`` (the same for every n_p: smaller n_p are prefixes), its fits are seeded by
``derive_int(seed, r, "fit")`` (common random numbers across cells).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from pluralign.experiments.pal_persona import data as persona_data
from pluralign.experiments.pal_persona.data import (TABLE7_PERSONAS, PersonaConfig, PersonaData, first_queries,
                                                    load_persona, make_population, to_choices)
from pluralign.pal import PALConfig, PALRewardModel
from pluralign.pal.embed import embed_texts
from pluralign.runs import CellStore, Profile, mean_sem, read_json, run_cells, write_json
from pluralign.seeding import derive_int

__all__ = ["DEVIATIONS", "MODELS", "PROFILES", "PersonaSettings", "pal_config", "fits", "run", "run_cell",
           "summarize"]

MODELS = ("A", "B")
"""PAL-A-Tiny (hinge loss, residual map) and PAL-B-Tiny (logistic loss, the statement as context)."""

DEVIATIONS = {
    **persona_data.DEVIATIONS,
    "optimizer": "App. D.4 prints no learning rate, epochs, batch size or hidden width; ours: Adam, mini-batches "
                 "of batch_size records, lr 1e-3 for f (and PAL-B's g_k), 1e-2 for PAL-A's prototypes, 5e-2 "
                 "for the users' logits, no weight decay, hidden width `hidden`, `epochs` passes; user logits "
                 "start N(0, 1) (App. D.1: 'random weights [...] including the prototypical weight').",
    "hinge margin": "not printed; 1.",
    "PAL-B scale": "PAL-B's cosine score is multiplied by a learnable scale s = exp(log_scale), initial 10 (eq. 6 "
                   "prints <f(x), z(x_c)> in [-1, 1]; read as part of the unknown link h of eq. 3).",
    "quick profile": "N = 1 seen and 1 unseen user per group (App. D.4: 10,000) and 2 repeats (App. D.4: five), "
                     "to fit 2 shared CPUs; every grid, n_p = 1000, d = 16, K* and K as printed. Users of one "
                     "persona answer identically (noiseless), so N only changes how many statement draws a "
                     "group contributes (and how many unseen users the curve of (d) averages).",
    "unseen users": "N unseen users per persona, localized by the training loss (hinge / logistic) on their "
                    "first n_p,unseen queries from uniform weights (D.3.1 starts from random weights).",
}
"""Every place where this study departs from, or fills in, App. D.4 (written to results.json)."""


def pal_config(model: str, K: int, d_in: int, d: int, settings: "PersonaSettings", seed: int) -> PALConfig:
    """PAL-A-Tiny: 2-layer GELU MLP with a residual connection, latent = the embedding width ``d_in``, hinge
    loss. PAL-B-Tiny: 2-layer GELU MLP into R^d on the answer x (eq. 6's f(x); on [x_c, x] with
    ``settings.palb_map_reads_context``), prototype maps g_k(x_c), logistic loss."""
    common = dict(map="mlp", hidden=settings.hidden, n_prototypes=K, epochs=settings.epochs,
                  batch_size=settings.batch_size, lr_map=1e-3, lr_weights=5e-2, weight_init_std=1.0, seed=seed)
    if model == "A":
        return PALConfig(model="A", d_latent=d_in, residual=True, loss="hinge", margin=1.0, lr_prototypes=1e-2,
                         **common)
    return PALConfig(model="B", d_latent=d, loss="logistic", lr_prototypes=1e-3,
                     map_reads_context=settings.palb_map_reads_context, **common)


@dataclass
class PersonaSettings:
    """Everything a run of the persona experiment depends on (written to config.json)."""

    profile: str = "custom"
    """Name of the profile these settings came from (recorded in the results and the figure)."""
    population: PersonaConfig = field(default_factory=PersonaConfig)
    """Users per group N, n_p (the largest), held-out queries, unseen pool; its K* is set per fit."""
    palb_map_reads_context: bool = False
    """PAL-B's f reads the answer alone (False: eq. 6's f(x), as printed; results before 2026-12-02 were made
    with True, f on [x_c, x], and their folders are refused on resume, config.json lacking this setting)."""
    models: tuple[str, ...] = MODELS
    """Models run: 'A' (PAL-A-Tiny) and / or 'B' (PAL-B-Tiny)."""
    Kstar_grid: tuple[int, ...] = (2, 3, 4, 5, 6)
    """(a): true numbers of personas K* (Table 7's rows)."""
    K_grid: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    """(a): numbers of prototypes K fitted."""
    K_grid_small: tuple[int, ...] = (1, 2, 3, 4, 5)
    """(b), (c), (d): numbers of prototypes K fitted."""
    Kstar_fixed: int = 4
    """(b), (c), (d): the fixed K*."""
    np_grid: tuple[int, ...] = (75, 100, 200, 500, 1000)
    """(b): queries per seen user n_p (prefixes of the population's n_train)."""
    d: int = 16
    """PAL-B's latent dimension d in (a), (b), (d) (PAL-A's is the embedding width)."""
    d_grid: tuple[int, ...] = (4, 8, 16, 32, 64)
    """(c): PAL-B's latent dimensions d."""
    unseen_grid: tuple[int, ...] = (1, 10, 20, 50, 100, 200, 500, 1000)
    """(d): queries n_p,unseen per unseen user used to learn its weights."""
    hidden: int = 128
    """Hidden width of the 2-layer MLPs (not printed)."""
    epochs: int = 10
    """Passes over the training queries per fit (not printed)."""
    batch_size: int = 256
    """Records per Adam step (not printed)."""
    localize_epochs: int = 300
    """Adam steps (full batch) of an unseen user's weights."""
    n_seeds: int = 5
    """Repeats (population and fits); repeat r of base seed s is derive(s, r, ...). App. D.4: five."""
    data_dir: str | None = None
    """Folder of the persona *.jsonl files (None: $PLURALIGN_ANTHROPIC_PERSONA_DIR, else the data root's)."""
    cache_dir: str | None = None
    """Embedding cache root (None: $PLURALIGN_CACHE or ~/.cache/pluralign)."""
    n_jobs: int = 2
    """Worker processes; cells are independent and seeded, so the numbers do not depend on it."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> "PersonaSettings":
        """``self``; ValueError naming the field for a bad value."""
        pop = self.population
        pop.validate()
        for name in ("hidden", "epochs", "batch_size", "localize_epochs", "n_seeds", "n_jobs", "d", "Kstar_fixed"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not self.models or set(self.models) - set(MODELS):
            raise ValueError(f"models: each must be one of {list(MODELS)}, got {list(self.models)}")
        for name in ("Kstar_grid", "K_grid", "K_grid_small", "np_grid", "d_grid", "unseen_grid"):
            grid = getattr(self, name)
            if not grid or min(int(v) for v in grid) < 1:
                raise ValueError(f"{name}: needs at least one value, all >= 1, got {list(grid)}")
        for Kt in (*self.Kstar_grid, self.Kstar_fixed):
            if int(Kt) not in TABLE7_PERSONAS:
                raise ValueError(f"Kstar_grid: Table 7 lists K* in {sorted(TABLE7_PERSONAS)}, got {Kt}")
        if max(self.np_grid) > pop.n_train:
            raise ValueError(f"np_grid: n_p = {max(self.np_grid)} exceeds population.n_train = {pop.n_train}")
        if max(self.unseen_grid) > pop.n_pool:
            raise ValueError(f"unseen_grid: {max(self.unseen_grid)} exceeds population.n_pool = {pop.n_pool}")
        return self


PROFILES: dict[Profile, PersonaSettings] = {
    Profile.smoke: PersonaSettings(
        profile="smoke", population=PersonaConfig(n_per_group=2, n_train=20, n_test=10, n_pool=10),
        Kstar_grid=(2,), K_grid=(1, 2), K_grid_small=(1, 2), Kstar_fixed=2, np_grid=(10, 20), d_grid=(4,),
        unseen_grid=(2, 10), hidden=16, epochs=3, batch_size=64, localize_epochs=20, n_seeds=1, d=4, n_jobs=1),
    # quick: every printed grid at N = 1 user per group and 2 repeats (DEVIATIONS["quick profile"])
    Profile.quick: PersonaSettings(profile="quick", population=PersonaConfig(n_per_group=1), n_seeds=2),
    # paper: App. D.4 as printed (N = 10,000 per group, n_p = 1000, five repeats)
    Profile.paper: PersonaSettings(profile="paper"),
}
"""The three profiles (smoke: seconds; quick: every printed grid on 2 CPUs; paper: App. D.4's scale)."""


def fits(st: PersonaSettings) -> list[dict]:
    """Every distinct fit (model, K*, K, n_p, d) the panels need, each with the panels it serves and
    whether it runs the unseen-user curve (d)."""
    n_full = st.population.n_train
    specs: dict[tuple, dict] = {}

    def add(model, Kt, K, n_p, d, panel):
        key = (model, int(Kt), int(K), int(n_p), int(d) if model == "B" else 0)
        specs.setdefault(key, {"model": model, "K_true": int(Kt), "K": int(K), "n_p": int(n_p),
                               "d": key[4], "panels": []})["panels"].append(panel)

    for model in st.models:
        for Kt in st.Kstar_grid:
            for K in st.K_grid:
                add(model, Kt, K, n_full, st.d, "a")
        for K in st.K_grid_small:
            for n_p in st.np_grid:
                add(model, st.Kstar_fixed, K, n_p, st.d, "b")
            if model == "B":
                for d in st.d_grid:
                    add(model, st.Kstar_fixed, K, n_full, d, "c")
            add(model, st.Kstar_fixed, K, n_full, st.d, "d")
    out = list(specs.values())
    for s in out:
        s["fewshot"] = "d" in s["panels"]
    return out


def cell_key(seed: int, rep: int, spec: dict) -> str:
    """The CellStore key of one fit."""
    return (f"model={spec['model']}_Kstar={spec['K_true']}_K={spec['K']}_np={spec['n_p']}_d={spec['d']}"
            f"_seed={seed}_rep={rep}")


def run_cell(pop: dict, spec: dict, st: PersonaSettings, seed: int, rep: int) -> dict:
    """Fit one model on repeat ``rep``'s population (first ``n_p`` queries per seen user); seen users'
    train / held-out accuracy, the unseen users' zero-shot accuracy (mean seen weights) and, for a (d)
    fit, their held-out accuracy after localizing on their first n_p,unseen queries."""
    emb = pop["context_features"]
    model = spec["model"]
    cfg = pal_config(model, spec["K"], emb.shape[1], spec["d"], st, derive_int(seed, rep, "fit"))
    train = to_choices(first_queries(pop["train"]["queries"], spec["n_p"]), emb)
    test = to_choices(pop["test"]["queries"], emb)
    unseen_test = to_choices(pop["unseen_test"]["queries"], emb)
    m = PALRewardModel(cfg, context_features=emb if model == "B" else None).fit(train)
    out = {"train_acc": m.accuracy(train), "seen_acc": m.accuracy(test), "final_loss": m.loss_history_[-1],
           "zero_shot_acc": m.accuracy(unseen_test, weights=m.population_weights()),
           "weights_by_persona": [m.weights_[pop["group"] == j].mean(0).tolist() for j in range(spec["K_true"])]}
    if spec["fewshot"]:
        out["unseen_m"], out["unseen_acc"] = list(st.unseen_grid), []
        for n in st.unseen_grid:
            W = m.localize(to_choices(first_queries(pop["pool"]["queries"], n), emb), epochs=st.localize_epochs)
            out["unseen_acc"].append(m.accuracy(unseen_test, weights=W))
    return out


def _work(out: Path, key: str, spec: dict, st: PersonaSettings, seed: int, rep: int, data: PersonaData,
          emb: np.ndarray) -> None:
    """One fit (in a worker process): build its population, fit, save the cell."""
    torch.set_num_threads(1)
    pop = make_population(data, emb, replace(st.population, n_personas_true=spec["K_true"]), seed, rep)
    metrics = run_cell(pop, spec, st, seed, rep)
    metrics["personas"] = pop["personas"]
    metrics["yes_share"] = {k: pop[k]["yes_share"] for k in ("train", "test", "pool", "unseen_test")}
    CellStore(out).save(key, {**spec, "seed": seed, "replicate": rep}, metrics)


def run(settings: PersonaSettings, seed: int, out: Path, progress: bool = True) -> dict:
    """Run (or resume) every fit of panels (a)-(d) x repeats; writes ``out/results.json`` and returns it
    (read back from the file). Finished cells are read, never recomputed."""
    settings = settings.validate()
    out = Path(out)
    data = load_persona(settings.data_dir)
    for Kt in (*settings.Kstar_grid, settings.Kstar_fixed):
        persona_data.persona_dims(data, int(Kt))  # a missing Table 7 file fails before any work
    torch.set_num_threads(1)
    emb = embed_texts(data.statements, cache=settings.cache_dir, progress=progress)  # one cache entry
    store = CellStore(out)
    cells = [(cell_key(seed, r, s), s, r) for r in range(settings.n_seeds) for s in fits(settings)]
    todo = [(out, key, s, settings, seed, r, data, emb) for key, s, r in cells if not store.done(key)]
    run_cells(_work, todo, n_jobs=settings.n_jobs, desc="pal persona fits", progress=progress)
    done = [store.load(key) for key, _, _ in cells]
    res = {"profile": settings.profile, "seed": seed, "replicates": list(range(settings.n_seeds)),
           "Kstar_fixed": settings.Kstar_fixed,
           "data": {"n_statements": len(data.statements), "files": data.dim_names,
                    "table7_personas": {str(k): list(v) for k, v in TABLE7_PERSONAS.items()}},
           "population": asdict(settings.population), "deviations": DEVIATIONS,
           "pal": {m: asdict(pal_config(m, settings.Kstar_fixed, int(emb.shape[1]), settings.d, settings,
                                        derive_int(seed, 0, "fit"))) for m in settings.models},
           "summary": summarize(done, settings), "cells": done}
    return read_json(write_json(out / "results.json", res))


def _samples_within(ms, accs, target: float):
    """Smallest n_p,unseen whose unseen accuracy is >= target (None if none)."""
    hit = [m for m, a in zip(ms, accs) if a >= target]
    return min(hit) if hit else None


def summarize(cells: list[dict], st: PersonaSettings) -> dict:
    """Panels (a)-(d) as mean +- s.e.m. over repeats, per model, and the checks against App. D.4's
    statements (seen accuracy -> 100% as K -> K*; more unseen samples needed as K grows)."""
    by: dict[tuple, list[dict]] = {}
    for c in cells:
        cf = c["config"]
        by.setdefault((cf["model"], cf["K_true"], cf["K"], cf["n_p"], cf["d"]), []).append(c["metrics"])
    n_full, Kf = st.population.n_train, st.Kstar_fixed

    def row(ms: list[dict]) -> dict:
        r = {k: mean_sem(m[k] for m in ms) for k in ("seen_acc", "train_acc", "zero_shot_acc")}
        r["n_seeds"] = len(ms)
        return r

    s: dict = {"a": {}, "b": {}, "c": {}, "d": {}, "checks": {}}
    for model in st.models:
        dm = st.d if model == "B" else 0
        s["a"][model] = {str(Kt): {str(K): row(by[(model, Kt, K, n_full, dm)]) for K in st.K_grid}
                         for Kt in st.Kstar_grid}
        s["b"][model] = {str(n): {str(K): row(by[(model, Kf, K, n, dm)]) for K in st.K_grid_small}
                         for n in st.np_grid}
        if model == "B":
            s["c"][model] = {str(d): {str(K): row(by[(model, Kf, K, n_full, d)]) for K in st.K_grid_small}
                             for d in st.d_grid}
        curves = {}
        for K in st.K_grid_small:
            ms = by[(model, Kf, K, n_full, dm)]
            acc = np.array([m["unseen_acc"] for m in ms])
            seen = row(ms)["seen_acc"]
            curve = [mean_sem(acc[:, j]) for j in range(acc.shape[1])]
            curves[str(K)] = {"m": list(st.unseen_grid), "unseen_acc": curve, "seen_acc": seen,
                              "zero_shot_acc": row(ms)["zero_shot_acc"],
                              "m_within_2_points_of_seen": _samples_within(
                                  st.unseen_grid, [a["mean"] for a in curve], seen["mean"] - 0.02)}
        s["d"][model] = curves
        a = s["a"][model].get(str(Kf))
        if a and str(Kf) in a and "1" in a:
            acc_K = {int(K): r["seen_acc"]["mean"] for K, r in a.items()}
            s["checks"][f"PAL-{model}: K*={Kf}, seen acc at K=K* >= 0.99 (App. D.4: -> 100%)"] = {
                "value": acc_K[Kf], "pass": acc_K[Kf] >= 0.99}
            s["checks"][f"PAL-{model}: K*={Kf}, seen acc non-decreasing in K up to K* (0.5-point slack)"] = {
                "value": [acc_K[K] for K in sorted(acc_K) if K <= Kf],
                "pass": all(acc_K[K + 1] >= acc_K[K] - 0.005 for K in sorted(acc_K) if K + 1 <= Kf)}
        need = [(int(K), c["m_within_2_points_of_seen"]) for K, c in curves.items() if int(K) >= 2]
        ok = [n if n is not None else float("inf") for _, n in sorted(need)]
        s["checks"][f"PAL-{model}: K*={Kf}, unseen samples to come within 2 points of seen, non-decreasing "
                    f"in K >= 2 (App. D.4: more needed as K grows)"] = {
            "value": {str(K): n for K, n in sorted(need)},
            "pass": bool(ok) and all(ok[i + 1] >= ok[i] for i in range(len(ok) - 1))}
    return s
