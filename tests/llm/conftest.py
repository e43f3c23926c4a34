"""A tiny GPT-2 pi_SFT (1 layer, 16 wide) built once per test session on a few prompts x responses."""

import numpy as np
import pytest
import torch

from pluralign.data import Choices
from pluralign.llm import AdapterPolicies, SmallGPT2Config, TextChoices, build_small_gpt2, load_causal_lm
from pluralign.seeding import derive

PROMPTS = ["Describe yourself.", "Tell me about your character."]
RESPONSES = ["Worry about things", "Make friends easily", "Love large parties", "Keep my room tidy",
             "Am relaxed most of the time", "Enjoy hearing new ideas"]
TINY = SmallGPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=32, vocab_size=300, sft_epochs=2,
                       sft_batch_size=4)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    torch.set_num_threads(1)
    texts = [f"{p} {r}" for p in PROMPTS for r in RESPONSES]
    return build_small_gpt2(texts, TINY, cache_dir=tmp_path_factory.mktemp("models"), seed=0)


def two_types(n_users=32, n_options=3, seed=0, key="toy"):
    """Type 0 prefers responses 0-2, type 1 responses 3-5 (one record of ``n_options`` per user):
    (TextChoices, types)."""
    rng = derive(seed, key)
    types = np.arange(n_users) % 2
    opts = np.stack([rng.choice(len(RESPONSES), n_options, replace=False) for _ in range(n_users)])
    good = np.where(types[:, None] == 0, opts < 3, opts >= 3)
    chosen = np.where(good.any(axis=1), good.argmax(axis=1), 0)
    ch = Choices(user=np.arange(n_users), context=rng.integers(0, len(PROMPTS), n_users), options=opts,
                 chosen=chosen)
    return TextChoices(ch, PROMPTS, RESPONSES), types


def adapter_policies(path, data, K, **kw):
    """K fresh adapters on the model saved at ``path``."""
    model, tok = load_causal_lm(path)
    return AdapterPolicies(model, tok, data, K, **kw)
