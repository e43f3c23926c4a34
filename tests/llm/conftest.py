"""A tiny GPT-2 pi_SFT (1 layer, 16 wide) built once per test session on a few prompts x responses."""

import pytest
import torch

from pluralign.llm import SmallGPT2Config, build_small_gpt2

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
