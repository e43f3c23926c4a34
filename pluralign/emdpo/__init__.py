"""EM-DPO (seed 001, Chidambaram et al., Algorithm 1 / App. B) on the exact tabular testbed.

Re-exports: :class:`TabularTestbed` (closed-form optimum, regret, accuracy), :class:`LogLinearPolicy`
(policies pi_theta ∝ pi_ref exp(theta . phi), weighted k-wise DPO fit), :class:`EMDPO` (on the shared
engine :class:`pluralign.em.MixtureEM`), baselines ``vanilla_dpo``, ``cluster_dpo``, ``true_label_dpo`` and
the MPI item loader.
"""

from pluralign.emdpo.model import (
    EMDPO,
    EMDPOModel,
    PolicyFit,
    cluster_dpo,
    match_types,
    true_label_dpo,
    user_preferred_features,
    vanilla_dpo,
)
from pluralign.emdpo.mpi import load_mpi_items, mpi_testbed, paraphrase_prompts
from pluralign.emdpo.policy import LogLinearPolicy
from pluralign.emdpo.tabular import SampledChoices, TabularTestbed

__all__ = [
    "EMDPO",
    "EMDPOModel",
    "PolicyFit",
    "cluster_dpo",
    "match_types",
    "true_label_dpo",
    "user_preferred_features",
    "vanilla_dpo",
    "LogLinearPolicy",
    "SampledChoices",
    "TabularTestbed",
    "load_mpi_items",
    "mpi_testbed",
    "paraphrase_prompts",
]
