"""Empirical check of seed 002's Thm. 2 against Prop. C.4 (PAL, sec. 4.1,
App. C; Prop. C.4 after Canal et al.): how many comparisons a user needs as the item dimension D grows
with the number of prototypes K fixed.

The study is :mod:`pluralign.sims.pal_bounds.study`, the command ``pluralign pal bounds`` and the figure
:mod:`pluralign.paper_figures.pal_bounds`.
"""

from pluralign.sims.pal_bounds import study
from pluralign.sims.pal_bounds.study import (PROFILES, THEORY_NORMS, Settings, fit_free_ideal_points, oracle_pal, run,
                                             run_cell, theory_curves)

__all__ = ["study", "Settings", "PROFILES", "THEORY_NORMS", "oracle_pal", "fit_free_ideal_points", "run_cell", "run",
           "theory_curves"]
