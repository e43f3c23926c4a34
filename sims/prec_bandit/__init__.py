"""Bandit-PREC (seed 000): the bandit twin of the MuJoCo PREC pipeline, welfare vs the number of clusters K.

The study (design, testbed, seeds, cells) is :mod:`pluralign.sims.prec_bandit.study`, the testbed
:mod:`pluralign.sims.prec_bandit.world`, the command ``pluralign sims prec-bandit`` and the figure
:mod:`pluralign.paper_figures.prec_bandit`.
"""

from pluralign.sims.prec_bandit.study import (
    FEATURES,
    MEASURES,
    NOISES,
    PROFILES,
    StudySettings,
    done_when,
    paired,
    run,
    run_cell,
    summarize,
)
from pluralign.sims.prec_bandit.world import WorldSettings, make_world

__all__ = ["FEATURES", "MEASURES", "NOISES", "PROFILES", "StudySettings", "WorldSettings", "done_when",
           "make_world", "paired", "run", "run_cell", "summarize"]
