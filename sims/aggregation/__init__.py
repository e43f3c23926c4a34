"""``pluralign sims aggregation``: personalization and aggregation after Park et al. (seed 003) and the
centroid collapse of one Bradley-Terry reward on a mixture of opposed groups (seed 004).

Parts (each in its own helper module, each cell stored by :class:`pluralign.cli.common.CellStore` so an
interrupted run resumes):

1. ``personalization`` (:mod:`pluralign.sims.aggregation.personalization`) — bias^2 / variance / MSE of shared-
   representation personalized rewards vs individual, pooled and clustered models as labels per user shrink.
2-4. ``rules`` (:mod:`pluralign.sims.aggregation.rules`) — social-choice rules on a divided population, opinion-pool
   properties, and the misreport search against the VCG mechanisms (>= 500 instances at quick).
5. ``centroid`` (:mod:`pluralign.sims.aggregation.centroid`) — closed-form pooled BT centroid vs simulation, minority
   welfare vs split (50/50 .. 90/10, including 51/49), welfare vs labels per user.

Writes ``config.json``, ``results.json`` and ``aggregation.png`` under ``--out``.
"""

from __future__ import annotations

import copy
import time

from pluralign.runs import CellStore, Profile, prepare_run, write_json
from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt

_SPLITS = [0.5, 0.51, 0.6, 0.7, 0.8, 0.9]

PROFILES: dict[str, dict] = {
    "quick": {
        "personalization": {
            "n_users": 60, "dim": 20, "rank": 3, "n_groups": 3, "spread": 0.3, "scale": 2.0,
            "labels_per_user": [2, 5, 10, 25, 50], "reps": 3, "test_per_user": 50, "l2_individual": 1.0,
            "em_restarts": 1, "em_iter": 20,
        },
        "rules": {
            "social_choice": {"splits": _SPLITS, "n_users": 100, "n_items": 72, "b": 2.0, "c": 0.5, "within_sd": 0.3},
            "pooling": {"n_profiles": 300},
            "mechanism": {
                "shapes": [[2, 2], [2, 4], [3, 3], [4, 2], [4, 5], [6, 3]], "instances_per_shape": 90,
                "random_weights": True, "grid_resolution": 6, "random_samples": 256, "grad_starts": 4,
                "grad_steps": 150,
            },
        },
        "centroid": {
            "closed_form": {"b": 2.0, "c": 0.5, "splits": _SPLITS, "n_large": 10**9, "n_records": 50_000},
            "split": {"b": 2.0, "c": 0.5, "splits": _SPLITS, "n_users": 100, "labels_per_user": 20, "n_items": 72,
                      "tau": 0.2, "l2": 0.1, "em_restarts": 3, "em_iter": 50},
            "labels": {"b": 2.0, "c": 0.5, "dim": 6, "pi": 0.7, "n_users": 60, "within_sd": 0.5, "n_items": 200,
                       "tau": 0.2, "l2": 1.0, "em_restarts": 2, "em_iter": 30, "nash_shift": 0.01,
                       "labels_per_user": [1, 2, 4, 8, 16, 32, 64], "reps": 2},
        },
    },
}


def _smoke() -> dict:
    c = copy.deepcopy(PROFILES["quick"])
    c["personalization"].update(n_users=10, dim=6, rank=2, n_groups=2, labels_per_user=[5], reps=2,
                                test_per_user=10, em_iter=5)
    c["rules"]["social_choice"].update(splits=[0.5, 0.9], n_users=20, n_items=24)
    c["rules"]["pooling"]["n_profiles"] = 20
    c["rules"]["mechanism"].update(shapes=[[2, 2], [3, 3]], instances_per_shape=10, random_samples=32, grad_steps=20,
                                   grad_starts=2, grid_resolution=3)
    c["centroid"]["closed_form"].update(splits=[0.5, 0.9], n_large=10**7, n_records=1000)
    c["centroid"]["split"].update(splits=[0.5, 0.9], n_users=20, labels_per_user=10, n_items=24, em_restarts=1, em_iter=5)
    c["centroid"]["labels"].update(labels_per_user=[4], reps=1, n_users=12, n_items=30, em_restarts=1, em_iter=5)
    return c


def _paper() -> dict:
    c = copy.deepcopy(PROFILES["quick"])
    c["personalization"].update(n_users=200, labels_per_user=[1, 2, 5, 10, 25, 50, 100], reps=10, em_restarts=3, em_iter=50)
    c["rules"]["mechanism"]["instances_per_shape"] = 500
    c["rules"]["pooling"]["n_profiles"] = 3000
    c["centroid"]["closed_form"].update(n_large=10**11, n_records=1_000_000)
    c["centroid"]["split"].update(n_users=400, em_restarts=5)
    c["centroid"]["labels"].update(n_users=200, reps=10, labels_per_user=[1, 2, 4, 8, 16, 32, 64, 128, 256])
    return c


PROFILES["smoke"] = _smoke()
PROFILES["paper"] = _paper()


def cli(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    """Centroid collapse, social choice, pooling, mechanisms (seeds 003, 004)."""
    import torch
    from tqdm.auto import tqdm

    from pluralign.sims.aggregation import centroid as _aggregation_centroid, personalization as _aggregation_personalization, rules as _aggregation_rules
    from pluralign.paper_figures.aggregation import plot

    torch.set_num_threads(1)
    cfg = PROFILES[Profile(profile).value]
    root = prepare_run("sims aggregation", out, profile, seed, cfg)
    store = CellStore(root)

    def progress(it, desc):
        return tqdm(list(it), desc=desc, leave=False)

    t0 = time.time()
    results = {}
    timings = {}
    for name, mod in (("rules", _aggregation_rules), ("centroid", _aggregation_centroid),
                      ("personalization", _aggregation_personalization)):
        t = time.time()
        results[name] = mod.run(cfg[name], seed, store, progress)
        timings[name] = round(time.time() - t, 2)
    results["timings_s"] = {**timings, "total": round(time.time() - t0, 2)}
    write_json(root / "results.json", results)
    plot(results, root / "aggregation.png")
    print(f"wrote {root / 'results.json'} and {root / 'aggregation.png'} ({results['timings_s']['total']:.0f} s)")
