"""PREC's reward side (seed 000): cluster reward decoders over frozen encoder features, fitted by leaky EM
through :class:`pluralign.em.MixtureEM`, and synthetic labelers / populations.

* :mod:`pluralign.prec.decoders`  — :class:`ClusterDecoders` (all K in one batched computation), the
  leaky-weighted BCE of eq. 13 on the segment scores of eq. 6, and :class:`DecoderMixture`, the
  :class:`pluralign.em.MixtureModel` adapter.
* :mod:`pluralign.prec.labelers`  — user weights on the simplex, scores on each user's 10-point scale, good iff >= 7
  (App. C.1's user-specific tau_i), and the
  Dirichlet-mixture populations of Fig. 3.

Teachers live in :mod:`pluralign.bpref`, welfare in :mod:`pluralign.welfare`.
"""

from pluralign.prec.decoders import ClusterDecoders, DecoderConfig, DecoderMixture, fit_decoders, leaky_bce_loss
from pluralign.prec.labelers import (
    DEFAULT_POPULATION,
    GOOD_THRESHOLD,
    POPULATIONS,
    Population,
    dirichlet_population,
    make_population,
    normalize_features,
    rational_labels,
    segment_scores,
    step_scores,
    user_score_range,
    user_thresholds,
)

__all__ = [
    "ClusterDecoders",
    "DecoderConfig",
    "DecoderMixture",
    "fit_decoders",
    "leaky_bce_loss",
    "DEFAULT_POPULATION",
    "GOOD_THRESHOLD",
    "POPULATIONS",
    "Population",
    "dirichlet_population",
    "make_population",
    "normalize_features",
    "rational_labels",
    "segment_scores",
    "step_scores",
    "user_score_range",
    "user_thresholds",
]
