"""Bandit-PREC under different user populations (seed 000, sec. 4.3, Fig. 3 and Figs. 8-11): welfare vs K and
the leaky-EM clusters as the population goes from broadly mixed to polarized.

The same testbed, learner and cells as :mod:`pluralign.sims.prec_bandit.study` (``run_cell``), with the
world's user population replaced by each named population of :data:`pluralign.prec.labelers.POPULATIONS`
(the populations the MuJoCo pipeline's ``--population`` takes): ``broad`` (one mode at the barycentre,
Dirichlet(1, 1, 1)), ``bimodal``, ``trimodal``, ``polarized`` (three tight
modes). The pool, the candidates and the encoder of a replicate are drawn before the users from the same
stream, so every population is compared on the same behaviours; the coverage centres and labelled segments
are drawn after the users and so differ between populations.

Seed 000 does not name the teacher of Fig. 3 / Figs. 8-11; the quick profile uses the oracle teacher only
(sec. 4.3 studies heterogeneity, sec. 4.2 the noise), the paper profile oracle and noise2.

Seeds: as the main study (replicate r of base seed s: world ``derive(s, r, "world")``, ...). Cells: one per
(population, noise, K, replicate) under ``OUT/cells``; ``results.json`` holds the summary per population
(mean +- s.e.m. over seeds), every population's user weights and modes per replicate (for the simplex
pictures) and every cell. No command of its own: ``pluralign figures make seed000_fig3_populations_bandit``
runs it (results under ``results/sims-prec-bandit-populations/<profile>``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from pluralign.runs import CellStore, Profile, run_cells, write_json
from pluralign.sims.prec_bandit.study import NOISES, StudySettings, paired, run_cell, summarize
from pluralign.sims.prec_bandit.study import PROFILES as STUDY_PROFILES
from pluralign.sims.prec_bandit.world import make_world

__all__ = ["POPULATION_ORDER", "PROFILES", "PopulationSweepSettings", "cell_key", "run"]

POPULATION_ORDER = ("broad", "bimodal", "trimodal", "polarized")
"""Fig. 3's columns, from broadly mixed (left) to highly polarized (right)."""


@dataclass
class PopulationSweepSettings:
    """The main study's settings plus the populations swept (written to config.json)."""

    base: StudySettings = field(default_factory=StudySettings)
    """Testbed and learner of every cell (its ``features`` are ignored: encoder features only)."""
    populations: tuple[str, ...] = POPULATION_ORDER
    """Named populations of pluralign.prec.labelers.POPULATIONS, in the order drawn."""
    noises: tuple[str, ...] = ("oracle",)
    """Teachers (seed 000 does not name Fig. 3's)."""

    def __post_init__(self):
        from pluralign.prec.labelers import POPULATIONS

        if not self.populations or set(self.populations) - set(POPULATIONS):
            raise ValueError(f"populations: must be a non-empty subset of {sorted(POPULATIONS)}, got {tuple(self.populations)}")
        if not self.noises or set(self.noises) - set(NOISES):
            raise ValueError(f"noises: must be a non-empty subset of {NOISES}, got {tuple(self.noises)}")

    def for_population(self, name: str) -> StudySettings:
        """The main study's settings with the world's population set to ``name``."""
        from pluralign.prec.labelers import POPULATIONS

        st = self.base
        return replace(st, world=replace(st.world, population=tuple(POPULATIONS[name])), noises=tuple(self.noises),
                       features=("encoder",))


PROFILES = {
    Profile.smoke: PopulationSweepSettings(base=STUDY_PROFILES[Profile.smoke], populations=("broad", "polarized")),
    Profile.quick: PopulationSweepSettings(base=replace(STUDY_PROFILES[Profile.quick], n_jobs=1)),
    Profile.paper: PopulationSweepSettings(base=STUDY_PROFILES[Profile.paper], noises=("oracle", "noise2")),
}


def cell_key(population: str, noise: str, K: int, seed: int, rep: int) -> str:
    return f"population={population}_noise={noise}_K={K}_seed={seed}_rep={rep}"


def _work(s: PopulationSweepSettings, out: Path, population: str, noise: str, K: int, seed: int, rep: int) -> str:
    key = cell_key(population, noise, K, seed, rep)
    metrics = run_cell(s.for_population(population), noise, K, "encoder", seed, rep)
    CellStore(out).save(key, {"population": population, "noise": noise, "K": K, "features": "encoder",
                              "seed": seed, "rep": rep}, metrics)
    return key


def run(settings: PopulationSweepSettings, seed: int, out: Path, progress: bool = True) -> dict:
    """Every (population, noise, K, replicate) cell (finished cells are skipped), then ``out/results.json``:
    settings, base seed, per population the summary (mean +- s.e.m.), the paired differences at the first
    teacher, the users (weights, modes) of every replicate, and every cell."""
    out = Path(out)
    s = settings
    st = s.base
    store = CellStore(out)
    grid = [(p, n, K, seed, r) for r in range(st.n_seeds) for p in s.populations for n in s.noises for K in st.Ks]
    todo = [(s, out, *g) for g in grid if not store.done(cell_key(*g))]
    run_cells(_work, todo, n_jobs=st.n_jobs, desc="sims prec-bandit populations", progress=progress)
    keys = {cell_key(*g) for g in grid}
    cells = [c for c in store.all() if c["key"] in keys]
    per: dict = {}
    for p in s.populations:
        sp = s.for_population(p)
        cp = [c for c in cells if c["config"]["population"] == p]
        summ = summarize(cp, sp)
        users = []
        for r in range(st.n_seeds):
            pop = make_world(sp.world, seed, r).population
            users.append({"rep": r, "weights": pop.weights.tolist(), "mode": pop.mode.tolist()})
        per[p] = {"population": list(sp.world.population), "summary": summ["summary"]["encoder"],
                  "paired": paired(cp, sp, noise=s.noises[0]), "users": users}
    res = {"settings": asdict(s), "seed": int(seed), "populations": per, "cells": cells}
    write_json(out / "results.json", res)
    return res
