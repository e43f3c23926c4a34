"""``pluralign sims aggregation``: personalization and aggregation after Park et al. (seed 003) and the
centroid collapse of one Bradley-Terry reward on a mixture of opposed groups (seed 004).

The study is :mod:`pluralign.sims.aggregation.study`, the command ``pluralign sims aggregation`` and the figure
:mod:`pluralign.paper_figures.aggregation`.
"""

from pluralign.sims.aggregation import study
from pluralign.sims.aggregation.study import (
    Settings, PROFILES, run, PersonalizationSettings, RulesSettings, SocialChoiceSettings, PoolingSettings,
    MechanismSettings, CentroidSettings, ClosedFormSettings, SplitSettings, LabelsSettings,
)

__all__ = [
    "study", "Settings", "PROFILES", "run", "PersonalizationSettings", "RulesSettings", "SocialChoiceSettings",
    "PoolingSettings", "MechanismSettings", "CentroidSettings", "ClosedFormSettings", "SplitSettings",
    "LabelsSettings",
]
