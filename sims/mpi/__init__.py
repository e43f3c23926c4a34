"""EM-DPO with binary vs ternary preferences on the MPI personality items (seed 001, sec. 5, Table 1).

The study is :mod:`pluralign.sims.mpi.study`, the command ``pluralign sims mpi`` and the figure
:mod:`pluralign.paper_figures.mpi`.
"""

from pluralign.sims.mpi.study import (
    METHODS,
    METRICS,
    PROFILES,
    EMDPOSettings,
    binary_invisible_check,
    cell_key,
    run,
    summarize,
)

__all__ = ["METHODS", "METRICS", "PROFILES", "EMDPOSettings", "binary_invisible_check", "cell_key", "run",
           "summarize"]
