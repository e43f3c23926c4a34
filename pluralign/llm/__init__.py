"""EM-DPO and MMRA on causal language models (seed 001 sec. 3, 5; App. B, C, D): the model path
(``from_pretrained``, the small GPT-2 pi_SFT built for the quick profile), K LoRA adapters on one frozen
base, sequence log-probabilities of text records, EM-DPO over adapters through :mod:`pluralign.em` and
its baselines.  The trl interop (a weighted ``DPOTrainer``) lives in :mod:`pluralign.llm.trl`.
"""

from pluralign.llm.adapters import AdapterPolicies, LoRASettings
from pluralign.llm.emdpo import (
    DPOSettings,
    LMEMDPOModel,
    LMFit,
    cluster_dpo,
    fit_em_dpo,
    train_weighted_dpo,
    true_label_dpo,
    user_preferred_features,
    user_response_features,
    vanilla_dpo,
)
from pluralign.llm.model import SmallGPT2Config, build_small_gpt2, load_causal_lm
from pluralign.llm.scoring import SequenceScorer, TextChoices

__all__ = [
    "AdapterPolicies",
    "LoRASettings",
    "DPOSettings",
    "LMEMDPOModel",
    "LMFit",
    "cluster_dpo",
    "fit_em_dpo",
    "train_weighted_dpo",
    "true_label_dpo",
    "user_preferred_features",
    "user_response_features",
    "vanilla_dpo",
    "SmallGPT2Config",
    "build_small_gpt2",
    "load_causal_lm",
    "SequenceScorer",
    "TextChoices",
]
