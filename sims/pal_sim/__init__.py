"""The PAL simulation (seed 002: PAL, sec. 4.2, Fig. 5, App. D.1 / D.2 / D.3.1).

The study is :mod:`pluralign.sims.pal_sim.study`, the command ``pluralign pal sim`` and the figure
:mod:`pluralign.paper_figures.pal_sim`.
"""

from pluralign.sims.pal_sim import study
from pluralign.sims.pal_sim.study import Settings, D2Settings, PROFILES, pal_config, run_cell, d2_cell, run, summarize

__all__ = ["study", "Settings", "D2Settings", "PROFILES", "pal_config", "run_cell", "d2_cell", "run", "summarize"]
