"""PAL: pluralistic alignment with a shared map and K prototypes (seed 002, "PAL: Sample-Efficient Personalized
Reward Modeling for Pluralistic Alignment", anonymous authors).

* :mod:`~pluralign.pal.models` — PAL-A (eq. 4-5) and PAL-B (eq. 6-7) torch modules, the shared map.
* :mod:`~pluralign.pal.train` — the estimator (logistic / hinge, per-group learning rates, few-shot
  localization of unseen users, zero-shot population weights).
* :mod:`~pluralign.pal.active` — information-maximizing query selection for new users.
* :mod:`~pluralign.pal.embed` — offline MiniLM embeddings with a disk cache (the Tiny strategy's inputs).
"""

from pluralign.pal.active import (
    active_query_order,
    expected_information_gain,
    query_logprob_table,
    random_query_order,
    weight_particles,
)
from pluralign.pal.models import PALA, PALB, make_map
from pluralign.pal.train import PALConfig, PALRewardModel, pal_loss

__all__ = [
    "PALA",
    "PALB",
    "make_map",
    "PALConfig",
    "PALRewardModel",
    "pal_loss",
    "weight_particles",
    "query_logprob_table",
    "expected_information_gain",
    "active_query_order",
    "random_query_order",
]
