"""Bandit-PREC, the bandit twin of PREC (seed 000): welfare vs the number of clusters K (command:
``pluralign sims prec-bandit``).

What it tests. PREC (seed 000) learns K cluster reward decoders over a shared frozen encoder by leaky EM
over users and trains one policy per cluster. Its motivation is narrow, skewed per-user coverage: one
reward per user (K = N) sees too little of the behaviour space, one pooled reward (K = 1) averages away
genuine disagreement. This study puts the same reward side (decoders, leaky EM, labelers, teachers,
welfare: the code the MuJoCo pipeline uses) on a testbed whose optimum is computable, so the claim
"some intermediate K beats both K = 1 and K = N" can be checked cheaply and exactly.

The testbed (``sims/prec_bandit/world.py``):

* Behaviours. A behaviour is a trajectory of T = 30 steps of a latent style z_t in R^3: a per-behaviour
  mean c_b plus an AR(1) fluctuation. The true reward features are phi_t = sigmoid(z_t) in (0, 1)^3
  (C = 3, seed 000 sec. 4.1). The means trade the features off against each other — c_b lies near the
  plane sum_c z_c = const, plus a small common "quality" shift — as speed, effort and posture do in the
  MuJoCo tasks; without a trade-off one behaviour would be best for everybody and K would not matter.
* Observations and the frozen "encoder". A policy never sees phi: it sees observations s_t = tanh(A z_t)
  + noise (8 dims) plus 4 dims of unpredictable distractor noise. The stand-in for seed 000's frozen
  self-predictive (SPR) encoder is a linear encoder fitted WITHOUT labels on the pool's transitions: the
  top-d canonical directions between s_t and s_{t+1} (the most mutually predictable directions of
  consecutive observations — a closed-form linear analogue of SPR's objective), d = 6. It is frozen before
  any label is seen. The ablation replaces it with an untrained (random Gaussian) linear encoder of the
  same shape, standardised the same way ("random features"). Neither is tuned to the rewards.
* Users and labels. N = 30 users with weights on the simplex from the MuJoCo pipeline's population
  (:data:`pluralign.prec.labelers.DEFAULT_POPULATION`, Fig. 2's uniform one); scores on each user's own
  10-point scale (range over the pool's behaviours), good iff >= 7 (App. C.1's user-specific tau_i, the
  reading stated in :mod:`pluralign.prec.labelers` and shared with the pipeline), passed through
  the B-Pref teachers of :mod:`pluralign.bpref` (oracle, noise1, noise2 = mixed teachers at Table 1's two
  levels). Each user labels M = 50 whole behaviours (segment = behaviour) drawn from a user-skewed slice
  of a shared pool (300 behaviours in the quick profile, 400 in the paper profile): behaviours near a user-specific coverage centre in style space, drawn
  independently of the user's preferences (narrow, skewed coverage).
* Learning. K cluster decoders (MLP, one hidden layer of 16 (32 in the paper profile), on the frozen features; segment score eq. 6,
  leaky BCE eq. 13) fitted by leaky EM with the PREC preset the MuJoCo pipeline shares
  (:mod:`pluralign.prec.preset`: nu = 0.1, fixed uniform prior as in Thm. A.5, k-means++ init on per-user
  logistic-regression coefficients). K = 1 is the pooled decoder and K = N one decoder per user (fixed
  identity assignment: no EM), each trained with the same Adam budget as the full EM run.
* Policies and welfare. Cluster k's "policy" picks, from 200 fresh candidate behaviours, the one with
  the highest learned segment score; user i receives the behaviour of its cluster (EM's assignment) and
  its utility is App. C.2's r_i = <w_i, f> in (0, 1) of that behaviour (f its mean true features). Welfare
  (seed 000 App. C.2): utilitarian mean, egalitarian 10th percentile, Nash geometric mean (utilities are in
  (0, 1), so Nash needs no shift). For reference the results also hold the welfare of the ideal per-user choice and of the
  best single behaviour for all.

Seeds (:mod:`pluralign.seeding`): replicate r of base seed s has the world ``derive(s, r, "world")``, the
labels ``derive(s, r, "labels", noise)``, the decoders' torch seed ``derive_int(s, r, "decoders")``, the
fixed-assignment initialisation ``derive(s, r, "init")`` and the EM seed ``derive_int(s, r, "em")``.

Cells: one per (noise, K, features, replicate), computed by ``_work`` in a worker (local process or
Ray task, ``backend``) and written atomically by the driver under ``OUT/cells`` (re-runs skip finished
cells). Results: ``results.json`` (per-cell metrics, mean and s.e.m. over seeds, the done-when table); the
figure ``welfare_vs_K.png`` is drawn from it by :mod:`pluralign.paper_figures.prec_bandit`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pluralign.runs import CellStore, Profile, check_backend, mean_sem, run_cells, write_json
from pluralign.seeding import derive, derive_int
from pluralign.sims.prec_bandit.world import WorldSettings, make_world

__all__ = ["FEATURES", "MEASURES", "NOISES", "PROFILES", "StudySettings", "cell_key", "done_when", "paired",
           "run", "run_cell", "summarize"]

NOISES = ("oracle", "noise1", "noise2")
FEATURES = ("encoder", "random")
MEASURES = ("utilitarian", "egalitarian", "nash")


@dataclass
class StudySettings:
    """Everything a run of the study depends on (written to config.json)."""

    world: WorldSettings = field(default_factory=WorldSettings)
    """Sizes and constants of the testbed."""
    Ks: tuple[int, ...] = (1, 2, 3, 5, 10, 30)
    """Numbers of clusters (K = 1 pooled, K = n_users one per user); must contain 1 and n_users."""
    noises: tuple[str, ...] = NOISES
    """Teachers (oracle and Table 1's two mixed levels)."""
    features: tuple[str, ...] = FEATURES
    """Frozen encoder features and the random-feature ablation."""
    n_seeds: int = 5
    """Replicates (worlds) per cell; replicate r of base seed s is seeded by derive(s, r, ...)."""
    n_hidden: int = 16
    """Hidden width of each cluster decoder."""
    lr: float = 0.03
    """Adam learning rate."""
    weight_decay: float = 1e-3
    """Decoupled weight decay of the decoders (not in seed 000's eq. 13: an L2 term on top of the leaky
    M-step objective, so the M-step is not its exact maximiser; the MuJoCo pipeline's decoders use none)."""
    n_steps: int = 40
    """Adam steps per M-step (warm-started)."""
    max_iter: int = 4
    """EM iterations after the initial M-step."""
    leak: float = 0.1
    """nu of leaky EM."""
    n_restarts: int = 1
    """EM restarts (best leaky ELBO wins)."""
    n_jobs: int = 2
    """Local worker processes (backend local)."""
    backend: str = "local"
    """Sweep engine of pluralign.runs.run_cells: local (joblib processes) or ray (one Ray task per cell)."""
    address: str | None = None
    """Ray cluster address (None: a local Ray instance; "auto": the running cluster)."""

    def __post_init__(self):
        if 1 not in self.Ks or self.world.n_users not in self.Ks:
            raise ValueError("Ks: must contain 1 and n_users")
        for name, given, allowed in (("noises", self.noises, NOISES), ("features", self.features, FEATURES)):
            if not given or set(given) - set(allowed):
                raise ValueError(f"{name}: must be a non-empty subset of {allowed}, got {tuple(given)}")
        check_backend(self.backend)
        for name in ("n_seeds", "n_jobs", "n_restarts"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")


PROFILES = {
    Profile.smoke: StudySettings(
        world=WorldSettings(n_users=6, n_labels=12, n_pool=60, n_candidates=30),
        Ks=(1, 2, 6), noises=("oracle", "noise2"), n_seeds=1, n_steps=10, max_iter=2, n_jobs=1,
    ),
    Profile.quick: StudySettings(world=WorldSettings(n_pool=300)),
    Profile.paper: StudySettings(n_seeds=10, n_steps=200, max_iter=15, n_restarts=3, n_hidden=32, n_jobs=8),
}


# ---------------------------------------------------------------------------- one cell
def run_cell(st: StudySettings, noise: str, K: int, features: str, seed: int, rep: int) -> dict:
    """Fit K decoders for replicate ``rep`` of base ``seed`` (one world, one teacher, one feature set) and
    evaluate the welfare of their policies."""
    import torch

    from pluralign.bpref import make_teacher
    from pluralign.em import adjusted_rand_index
    from pluralign.prec.decoders import DecoderConfig, DecoderMixture
    from pluralign.prec.preset import fit_prec
    from pluralign.welfare import welfare

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    world = make_world(st.world, seed, rep)
    N = st.world.n_users
    ratings = make_teacher(noise).label(
        world.true_step_scores(), world.label_user, derive(seed, rep, "labels", noise),
        segment=world.label_segment, n_users=N,
    )
    feats = world.pool_feat[features]
    cfg = DecoderConfig(n_hidden=st.n_hidden, n_steps=st.n_steps, lr=st.lr, weight_decay=st.weight_decay)
    model = DecoderMixture(ratings, feats, cfg, seed=derive_int(seed, rep, "decoders"))
    # the one PREC preset the MuJoCo pipeline uses too (pluralign.prec.preset): leaky EM for 1 < K < N,
    # the fixed pooled / per-user endpoints at K = 1 and K = N with the Adam budget of a whole EM run
    fit = fit_prec(model, ratings, feats, K, leak=st.leak, n_restarts=st.n_restarts, max_iter=st.max_iter,
                   seed=derive_int(seed, rep, "em"))
    params, labels = fit.params, fit.labels
    em_info: dict = {}
    if fit.em is not None:
        em_info = {
            "n_iter": fit.n_iter,
            "leaky_elbo": [t["leaky_elbo"] for t in fit.trace],
            "marginal_ll": [t["marginal_ll"] for t in fit.trace],
            "rho": np.asarray(fit.rho).tolist(),
        }
    scores = model.score(params, world.cand_feat[features])  # (K, Q)
    pick = scores.argmax(axis=1)
    U = world.candidate_utilities()  # (N, Q) true utilities
    u = U[np.arange(N), pick[labels]]
    w = welfare(u)
    mode = world.population.mode
    return {
        **{m: float(w[m]) for m in MEASURES},
        "utilities": u.tolist(),
        "labels": np.asarray(labels).tolist(),
        "ari_vs_modes": float(adjusted_rand_index(mode, labels)) if 1 < K < N else None,
        "n_distinct_policies": int(np.unique(pick[np.unique(labels)]).size),
        "ideal_per_user": {m: float(v) for m, v in welfare(U.max(axis=1)).items()},
        "best_single": {m: float(v) for m, v in welfare(U[:, U.mean(axis=0).argmax()]).items()},
        "label_stats": {"good": float(np.mean(ratings.label == 1)), "equal": float(np.mean(ratings.label == 0.5)),
                        "skipped": float(np.mean(ratings.weight == 0))},
        **em_info,
        "seconds": time.perf_counter() - t0,
    }


def cell_key(noise: str, K: int, features: str, seed: int, rep: int) -> str:
    return f"noise={noise}_K={K}_features={features}_seed={seed}_rep={rep}"


def _work(st: StudySettings, noise: str, K: int, features: str, seed: int, rep: int) -> tuple[str, dict, dict]:
    """One cell as a sweep task: ``(key, config, metrics)``, written by the driver (:func:`pluralign.runs.run_cells`)."""
    key = cell_key(noise, K, features, seed, rep)
    metrics = run_cell(st, noise, K, features, seed, rep)
    return key, {"noise": noise, "K": K, "features": features, "seed": seed, "rep": rep}, metrics


# ---------------------------------------------------------------------------- aggregation
def summarize(cells: list[dict], st: StudySettings) -> dict:
    """Mean and s.e.m. over seeds of every (features, noise, K, measure), and the done-when check."""
    table: dict = {}
    for c in cells:
        cfg, m = c["config"], c["metrics"]
        slot = table.setdefault(cfg["features"], {}).setdefault(cfg["noise"], {}).setdefault(str(cfg["K"]), {})
        for meas in MEASURES:
            slot.setdefault(meas, []).append(m[meas])
    summary: dict = {}
    for f, by_noise in table.items():
        for n, by_k in by_noise.items():
            for k, vals in by_k.items():
                summary.setdefault(f, {}).setdefault(n, {})[k] = {meas: mean_sem(v) for meas, v in vals.items()}
    return {"summary": summary, "done_when": done_when(summary, st), "paired_noise2": paired(cells, st)}


def paired(cells: list[dict], st: StudySettings, noise: str = "noise2", features: str = "encoder") -> dict:
    """Per-replicate paired differences (mean, s.e.m.) of each K in {2, 3, 5, 10} against K = 1 and K = N —
    the same world, users and labels, so the replicate-to-replicate spread of the world cancels."""
    N = st.world.n_users
    by = {(c["config"]["K"], c["config"]["rep"]): c["metrics"] for c in cells
          if c["config"]["noise"] == noise and c["config"]["features"] == features}
    out: dict = {}
    for k in (2, 3, 5, 10):
        for base in (1, N):
            reps = sorted(r for (kk, r) in by if kk == k and (base, r) in by)
            if not reps:
                continue
            for m in MEASURES:
                out.setdefault(str(k), {}).setdefault(f"minus_K{base}", {})[m] = mean_sem(
                    by[(k, r)][m] - by[(base, r)][m] for r in reps)
    return out


def done_when(summary: dict, st: StudySettings) -> dict:
    """At noise level 2 with the encoder's features: is there a K in {2, 3, 5, 10} whose seed-averaged
    welfare beats both K = 1 and K = N on all three measures?"""
    N = st.world.n_users
    try:
        s = summary["encoder"]["noise2"]
    except KeyError:
        return {"checked": False}
    if "1" not in s or str(N) not in s:
        return {"checked": False}
    winners = []
    for k in (2, 3, 5, 10):
        if str(k) in s and all(
            s[str(k)][m]["mean"] > max(s["1"][m]["mean"], s[str(N)][m]["mean"]) for m in MEASURES
        ):
            winners.append(k)
    return {"checked": True, "winning_K": winners, "holds": bool(winners)}


# ---------------------------------------------------------------------------- the study
def run(settings: StudySettings, seed: int, out: Path, progress: bool = True) -> dict:
    """Every (replicate, features, noise, K) cell (finished cells are skipped), then ``out/results.json``:
    the settings, the base seed, the summary (mean +- s.e.m.), the done-when check, the paired differences
    and every cell."""
    out = Path(out)
    st = settings
    store = CellStore(out)
    grid = [(n, K, f, seed, r) for r in range(st.n_seeds) for f in st.features for n in st.noises for K in st.Ks]
    todo = [(st, *g) for g in grid if not store.done(cell_key(*g))]
    run_cells(_work, todo, n_jobs=st.n_jobs, desc="sims prec-bandit", progress=progress, store=store,
              backend=st.backend, address=st.address)
    keys = {cell_key(*g) for g in grid}
    cells = [c for c in store.all() if c["key"] in keys]
    res = {"settings": asdict(st), "seed": int(seed), **summarize(cells, st), "cells": cells}
    write_json(out / "results.json", res)
    return res
