"""``pluralign sims aggregation``: personalization and aggregation after Park et al. (seed 003) and the
centroid collapse of one Bradley-Terry reward on a mixture of opposed groups (seed 004).

Parts (each in its own helper module with its settings dataclass; every cell is kept in a
:class:`pluralign.runs.CellStore`, so an interrupted run resumes, and the cells are independent, run by
:func:`pluralign.runs.run_cells`):

1. ``personalization`` (:mod:`pluralign.sims.aggregation.personalization`) — bias^2 / variance / MSE of shared-
   representation personalized rewards vs individual, pooled and clustered models as labels per user shrink.
2-4. ``rules`` (:mod:`pluralign.sims.aggregation.rules`) — social-choice rules on a divided population, opinion-pool
   properties, and the misreport search against the VCG mechanisms (>= 500 instances at quick).
5. ``centroid`` (:mod:`pluralign.sims.aggregation.centroid`) — closed-form pooled BT centroid vs simulation, minority
   welfare vs split (50/50 .. 90/10, including 51/49), welfare vs labels per user.

:func:`run` writes ``results.json`` (numbers only) and ``cells/`` under ``out``; the command
(:mod:`pluralign.cli.sims`) adds ``config.json`` and the figure (:func:`pluralign.paper_figures.aggregation.plot`,
``aggregation.png`` + PDF). Seeds: every cell's streams are children of the one base seed
(:mod:`pluralign.seeding`), named after the part and the cell (e.g. ``derive(seed, rep, "labels", m)``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from pluralign.runs import CellStore, Profile, read_json, run_cells, write_json
from pluralign.sims.aggregation import centroid, personalization, rules
from pluralign.sims.aggregation.centroid import (CentroidSettings, ClosedFormSettings, LabelsSettings,
                                                 SplitSettings)
from pluralign.sims.aggregation.personalization import PersonalizationSettings
from pluralign.sims.aggregation.rules import (MechanismSettings, PoolingSettings, RulesSettings,
                                              SocialChoiceSettings)

__all__ = ["Settings", "PROFILES", "run", "PersonalizationSettings", "RulesSettings", "SocialChoiceSettings",
           "PoolingSettings", "MechanismSettings", "CentroidSettings", "ClosedFormSettings", "SplitSettings",
           "LabelsSettings"]

PARTS = (("rules", rules), ("centroid", centroid), ("personalization", personalization))
"""The parts in the order they run; each module has ``cells(cfg, seed)`` and ``summarize(cfg, seed, result)``."""


@dataclass
class Settings:
    """Everything a run of ``pluralign sims aggregation`` depends on (written to config.json)."""

    personalization: PersonalizationSettings = field(default_factory=PersonalizationSettings)
    """Part 1: bias / variance of personalized rewards."""
    rules: RulesSettings = field(default_factory=RulesSettings)
    """Parts 2-4: social choice, opinion pools, misreports against VCG."""
    centroid: CentroidSettings = field(default_factory=CentroidSettings)
    """Part 5: the pooled Bradley-Terry centroid and welfare (seed 004)."""
    n_jobs: int = 1
    """Worker processes for the cells (seeded per cell: the numbers do not depend on it)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """``ValueError`` naming the first field that cannot run (also run on construction)."""
        if int(self.n_jobs) < 1:
            raise ValueError(f"n_jobs: must be >= 1, got {self.n_jobs}")
        checks = {
            "personalization.reps": self.personalization.reps, "personalization.n_users": self.personalization.n_users,
            "centroid.labels.reps": self.centroid.labels.reps, "centroid.split.n_users": self.centroid.split.n_users,
            "rules.mechanism.instances_per_shape": self.rules.mechanism.instances_per_shape,
            "rules.pooling.n_profiles": self.rules.pooling.n_profiles,
        }
        for name, v in checks.items():
            if int(v) < 1:
                raise ValueError(f"{name}: must be >= 1, got {v}")
        for name, splits in (("rules.social_choice.splits", self.rules.social_choice.splits),
                             ("centroid.closed_form.splits", self.centroid.closed_form.splits),
                             ("centroid.split.splits", self.centroid.split.splits)):
            if not splits or not all(0.5 <= float(p) < 1.0 for p in splits):
                raise ValueError(f"{name}: majority shares must lie in [0.5, 1), got {list(splits)}")


_QUICK = Settings(n_jobs=2)

PROFILES: dict[Profile, Settings] = {
    Profile.smoke: Settings(
        personalization=replace(_QUICK.personalization, n_users=10, dim=6, rank=2, n_groups=2, labels_per_user=(5,),
                                reps=2, test_per_user=10, em_iter=5),
        rules=RulesSettings(
            social_choice=replace(_QUICK.rules.social_choice, splits=(0.5, 0.9), n_users=20, n_items=24),
            pooling=PoolingSettings(n_profiles=20),
            mechanism=replace(_QUICK.rules.mechanism, shapes=((2, 2), (3, 3)), instances_per_shape=10,
                              random_samples=32, grad_steps=20, grad_starts=2, grid_resolution=3)),
        centroid=CentroidSettings(
            closed_form=replace(_QUICK.centroid.closed_form, splits=(0.5, 0.9), n_large=10**7, n_records=1000),
            split=replace(_QUICK.centroid.split, splits=(0.5, 0.9), n_users=20, labels_per_user=10, n_items=24,
                          em_restarts=1, em_iter=5),
            labels=replace(_QUICK.centroid.labels, labels_per_user=(4,), reps=1, n_users=12, n_items=30,
                           em_restarts=1, em_iter=5)),
        n_jobs=1),
    Profile.quick: _QUICK,
    Profile.paper: Settings(
        personalization=replace(_QUICK.personalization, n_users=200, labels_per_user=(1, 2, 5, 10, 25, 50, 100),
                                reps=10, em_restarts=3, em_iter=50),
        rules=replace(_QUICK.rules, pooling=PoolingSettings(n_profiles=3000),
                      mechanism=replace(_QUICK.rules.mechanism, instances_per_shape=500)),
        centroid=CentroidSettings(
            closed_form=replace(_QUICK.centroid.closed_form, n_large=10**11, n_records=1_000_000),
            split=replace(_QUICK.centroid.split, n_users=400, em_restarts=5),
            labels=replace(_QUICK.centroid.labels, n_users=200, reps=10,
                           labels_per_user=(1, 2, 4, 8, 16, 32, 64, 128, 256))),
        n_jobs=4),
}
"""The profiles: quick is the default settings (minutes on 2 CPUs), smoke and paper rescale it."""


def _work(out: Path, key: str, config: dict, fn, args: tuple) -> None:
    """One cell: compute, then store its numbers and its compute time."""
    import torch

    torch.set_num_threads(1)
    t = time.perf_counter()
    result = fn(*args)
    CellStore(out).save(key, config, {"result": result, "seconds": round(time.perf_counter() - t, 3)})


def run(settings: Settings, seed: int, out: Path, progress: bool = True) -> dict:
    """Run (or resume) every cell of every part; write ``out/results.json`` and return its contents.

    ``timings_s`` are the cells' compute seconds summed per part (a resumed run reports the seconds the
    cells took when they ran, so a re-run writes the same file)."""
    settings.validate()
    out = Path(out)
    store = CellStore(out)
    tasks = [(out, key, {"part": name, **config}, fn, args)
             for name, mod in PARTS for key, config, fn, args in mod.cells(getattr(settings, name), seed)]
    run_cells(_work, [t for t in tasks if not store.done(t[1])], n_jobs=settings.n_jobs, desc="sims aggregation",
              progress=progress)
    results: dict = {"seed": int(seed)}
    timings = {}
    for name, mod in PARTS:
        cells = {key: store.load(key)["metrics"] for key, *_ in mod.cells(getattr(settings, name), seed)}
        results[name] = mod.summarize(getattr(settings, name), seed, lambda key: cells[key]["result"])
        timings[name] = round(sum(c["seconds"] for c in cells.values()), 2)
    results["timings_s"] = {**timings, "total": round(sum(timings.values()), 2)}
    return read_json(write_json(out / "results.json", results))  # exactly what the file holds
