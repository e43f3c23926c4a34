"""The PAL persona experiment (seed 002: PAL, App. D.4) on real Anthropic persona statements.

* :mod:`~pluralign.experiments.pal_persona.data` — the statements, Table 7's personas, users and their Yes /
  No answers (:func:`load_persona`, :class:`PersonaConfig`, :func:`make_population`, :func:`answers_yes`);
* :mod:`~pluralign.experiments.pal_persona.study` — PAL-A-Tiny (hinge, residual) / PAL-B-Tiny (logistic) on
  MiniLM embeddings, sweeps (a)-(d), the settings :class:`PersonaSettings` and :data:`PROFILES`,
  ``run(settings, seed, out)`` (resumable cells, writes ``results.json``).

The figure is :func:`pluralign.paper_figures.pal_persona.plot`; the command ``pluralign pal persona``.
"""

from pluralign.experiments.pal_persona.data import (TABLE7_PERSONAS, PersonaConfig, PersonaData, Queries, answers_yes,
                                                    default_data_dir, first_queries, load_persona, make_population,
                                                    split_by_statement, to_choices)
from pluralign.experiments.pal_persona.study import (DEVIATIONS, MODELS, PROFILES, PersonaSettings, fits, pal_config,
                                                     run, run_cell, summarize)

__all__ = ["DEVIATIONS", "MODELS", "PROFILES", "TABLE7_PERSONAS", "PersonaConfig", "PersonaData", "PersonaSettings",
           "Queries", "answers_yes", "default_data_dir", "first_queries", "fits", "load_persona", "make_population",
           "pal_config", "run", "run_cell", "split_by_statement", "summarize", "to_choices"]
