"""The PAL length-preference experiment (seed 002: PAL, sec. 3.1, App. D.3) on real persona text.

* :mod:`~pluralign.experiments.pal_length.data` — the responses, users and their length preferences;
* :mod:`~pluralign.experiments.pal_length.baseline` — the per-user-embedding reward model;
* :mod:`~pluralign.experiments.pal_length.study` — PAL-A / PAL-B, Tiny and Large, K = 1, the baseline;
  :class:`LengthSettings`, :data:`PROFILES`, ``run(settings, seed, out)`` (resumable cells, results.json).

The figures are :mod:`pluralign.paper_figures.pal_length`; the command ``pluralign pal length``.
"""

from pluralign.experiments.pal_length.data import LengthConfig, LengthTask, load_statements, make_task
from pluralign.experiments.pal_length.study import DEVIATIONS, METHODS, PROFILES, LengthSettings, run, summarize

__all__ = ["DEVIATIONS", "METHODS", "PROFILES", "LengthConfig", "LengthSettings", "LengthTask", "load_statements",
           "make_task", "run", "summarize"]
