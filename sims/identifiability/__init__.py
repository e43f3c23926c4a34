"""Latent-class logit recovery with one choice per user, binary vs k-wise (seed 001, sec. 4).

The study is :mod:`pluralign.sims.identifiability.study`, the pymc posterior comparison
:mod:`pluralign.sims.identifiability.bayes`, the command ``pluralign sims identifiability`` and the figures
:mod:`pluralign.paper_figures.identifiability`.
"""

from pluralign.sims.identifiability.study import (
    PROFILES,
    TRUE_BETAS,
    TRUE_WEIGHTS,
    NewtonLatentClassLogit,
    StudySettings,
    cell_key,
    fit_cell,
    recovery_errors,
    run,
    simulate,
    summarize,
)

__all__ = ["PROFILES", "TRUE_BETAS", "TRUE_WEIGHTS", "NewtonLatentClassLogit", "StudySettings", "cell_key",
           "fit_cell", "recovery_errors", "run", "simulate", "summarize"]
