"""Reward and opinion aggregation across people who disagree (seed 003, Park et al. 2024).

* :mod:`pluralign.aggregation.social_choice` — the power-mean (alpha) family of welfare functions over
  user rewards (utilitarian alpha = 1, Nash alpha -> 0, maximin alpha -> -inf), leximin and Borda.
* :mod:`pluralign.aggregation.pooling` — probabilistic opinion pools: linear, logarithmic and the
  power-pool family between them.
* :mod:`pluralign.aggregation.mechanism` — VCG (Clarke pivot) payments that make truthful reporting a
  dominant strategy for labelers with quasi-linear utilities, and searches for profitable misreports.
"""

from pluralign.aggregation.mechanism import FiniteVCG, QuadraticVCG
from pluralign.aggregation.pooling import linear_pool, log_pool, power_pool, validate_distributions
from pluralign.aggregation.social_choice import (
    aggregate_rewards,
    borda_scores,
    leximin_order,
    log_power_mean,
    power_mean,
)

__all__ = [
    "power_mean",
    "log_power_mean",
    "aggregate_rewards",
    "leximin_order",
    "borda_scores",
    "linear_pool",
    "log_pool",
    "power_pool",
    "validate_distributions",
    "QuadraticVCG",
    "FiniteVCG",
]
