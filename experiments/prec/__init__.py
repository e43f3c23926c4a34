"""The MuJoCo PREC pipeline of seed 000 (pluralistic RL from clustered single-segment good / bad feedback).

:mod:`~pluralign.experiments.prec.config` (the settings :class:`PrecConfig`, the profile table
:func:`make_config` and :data:`PROFILES`), :mod:`~pluralign.experiments.prec.offline` (cached offline data,
PCA preference space, SPR encoder), :mod:`~pluralign.experiments.prec.pipeline` (``run(settings, seed,
out)``: users, labels, leaky EM, one PPO per cluster, evaluation, welfare, resumable cells; writes
``results.json``). Figures: :mod:`pluralign.paper_figures.prec`. Command: ``pluralign prec run``.
"""
