"""The MuJoCo PREC pipeline of seed 000 (pluralistic RL from clustered single-segment good / bad feedback).

:mod:`experiments.prec.config` (profiles), :mod:`experiments.prec.offline` (cached offline data, PCA
preference space, SPR encoder), :mod:`experiments.prec.pipeline` (users, labels, leaky EM, one PPO per
cluster, evaluation, welfare, resumable cells), :mod:`pluralign.paper_figures.prec` (Fig. 2-style panel,
cluster pictures). Command: ``pluralign prec run``.
"""
