"""The PAL persona experiment (seed 002: Chen et al. 2024, PAL, App. D.4) on real Anthropic persona statements.

* :mod:`~pluralign.experiments.pal_persona.data` — the statements, personas, users and their Yes / No
  answers (:func:`load_persona`, :class:`PersonaConfig`, :func:`make_population`);
* :mod:`~pluralign.experiments.pal_persona.study` — PAL-A / PAL-B on MiniLM embeddings, the settings
  :class:`PersonaSettings` and :data:`PROFILES`, ``run(settings, seed, out)`` (resumable cells, writes
  ``pal_persona.json``).

The figure is :func:`pluralign.paper_figures.pal_persona.plot`; the command ``pluralign pal persona``.
"""

from pluralign.experiments.pal_persona.data import (PersonaConfig, PersonaData, default_data_dir, load_persona,
                                                    make_population, split_by_statement)
from pluralign.experiments.pal_persona.study import (EPOCHS_FACTOR, MAP_WEIGHT_DECAY, MODELS, PROFILES, RESTARTS,
                                                     PersonaSettings, pal_config, run, run_cell, summarize,
                                                     validation_sweep)

__all__ = ["EPOCHS_FACTOR", "MAP_WEIGHT_DECAY", "MODELS", "PROFILES", "RESTARTS", "PersonaConfig", "PersonaData",
           "PersonaSettings", "default_data_dir", "load_persona", "make_population", "pal_config", "run", "run_cell",
           "split_by_statement", "summarize", "validation_sweep"]
