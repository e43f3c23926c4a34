"""Min-max regret aggregation (MMRA-LW, original, AE) on the exact tabular testbed (seed 001, Table 3).

The study is :mod:`pluralign.sims.mmra.study`, the command ``pluralign sims mmra`` and the figure
:mod:`pluralign.paper_figures.mmra`.
"""

from pluralign.sims.mmra.study import PROFILES, ROWS, MMRASettings, cell_key, one_seed, run, summarize

__all__ = ["PROFILES", "ROWS", "MMRASettings", "cell_key", "one_seed", "run", "summarize"]
