"""The model path (from_pretrained round trip, the cached small GPT-2), sequence log-probabilities, LoRA
adapters on one base, and the bad inputs that must be clear errors."""

import json

import numpy as np
import pytest
import torch

from pluralign.data import Choices
from pluralign.llm import AdapterPolicies, SequenceScorer, TextChoices, build_small_gpt2, load_causal_lm
from pluralign.llm.model import model_cache_key

from tests.llm.conftest import PROMPTS, RESPONSES, TINY


def _records(n_options=3, n_users=6, seed=0):
    rng = np.random.default_rng(seed)  # test data only
    M = n_users
    opts = np.stack([rng.choice(len(RESPONSES), n_options, replace=False) for _ in range(M)])
    return TextChoices(Choices(user=np.arange(M), context=rng.integers(0, len(PROMPTS), M), options=opts,
                               chosen=rng.integers(0, n_options, M)), PROMPTS, RESPONSES)


def _manual_logprob(model, tok, prompt, response):
    ids = [tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
    n = len(ids)
    ids = ids + tok(" " + response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], -1)
    return float(sum(logp[t - 1, ids[t]] for t in range(n, len(ids))))


def test_save_pretrained_round_trip_gives_identical_logprobs(tiny_model_path, tmp_path):
    model, tok = load_causal_lm(tiny_model_path)
    data = _records()
    sc = SequenceScorer(tok, 32)
    pairs, _ = data.pairs()
    enc = sc.encode(data, pairs)
    lp = sc.logprobs(model, enc, batch_size=3)  # padded batches
    model.save_pretrained(tmp_path / "copy")
    tok.save_pretrained(tmp_path / "copy")
    model2, tok2 = load_causal_lm(tmp_path / "copy")
    sc2 = SequenceScorer(tok2, 32)
    assert sc2.encode(data, pairs) == enc
    assert torch.equal(sc2.logprobs(model2, enc, batch_size=3), lp)  # identical, bit for bit
    assert torch.allclose(sc2.logprobs(model2, enc, batch_size=5), lp, atol=1e-4)  # other padding
    # batching / padding does not change a sequence's log-probability, which is the manual sum over the
    # response tokens and EOS
    x, y = pairs[0]
    assert lp[0].item() == pytest.approx(_manual_logprob(model, tok, PROMPTS[x], RESPONSES[y]), abs=1e-5)
    assert torch.all(lp < 0)


def test_small_gpt2_is_cached_by_config_and_seeded(tiny_model_path, tmp_path):
    texts = [f"{p} {r}" for p in PROMPTS for r in RESPONSES]
    assert build_small_gpt2(texts, TINY, cache_dir=tiny_model_path.parent, seed=0) == tiny_model_path
    assert model_cache_key(texts, TINY, 1) != model_cache_key(texts, TINY, 0)
    assert model_cache_key(texts[:-1], TINY, 0) != model_cache_key(texts, TINY, 0)
    other = build_small_gpt2(texts, TINY, cache_dir=tmp_path, seed=0)  # rebuilt elsewhere: same weights
    m1, _ = load_causal_lm(tiny_model_path)
    m2, tok = load_causal_lm(other)
    for (n, a), (_, b) in zip(m1.named_parameters(), m2.named_parameters()):
        assert torch.equal(a, b), n
    assert tok.pad_token == "<|pad|>" and tok.pad_token_id != tok.eos_token_id


def test_adapters_switch_and_reference_is_cached(tiny_model_path):
    model, tok = load_causal_lm(tiny_model_path)
    data = _records()
    pol = AdapterPolicies(model, tok, data, 2)
    ref = pol.ref_logprobs()
    assert torch.allclose(pol.pair_logprobs(0), ref) and torch.allclose(pol.pair_logprobs(1), ref)  # B = 0
    st = pol.state(1)
    st = {k: v + 0.3 if "lora_B" in k else v for k, v in st.items()}
    pol.load_state(1, st)
    assert torch.allclose(pol.pair_logprobs(0), ref)  # adapter 0 untouched
    assert not torch.allclose(pol.pair_logprobs(1), ref)
    assert torch.equal(pol.ref_logprobs(), ref) and pol.n_ref_passes == 1  # cached, never recomputed
    with pol.model.disable_adapter():
        base = pol._score(pol.encoded)
    assert torch.allclose(base, ref)
    assert all(not p.requires_grad for n, p in pol.model.named_parameters() if "lora_" not in n)  # frozen base


def test_missing_model_not_causal_and_no_tokenizer_are_clear_errors(tiny_model_path, tmp_path):
    with pytest.raises(ValueError, match="model: no model folder"):
        load_causal_lm(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="model: .*no config.json"):
        load_causal_lm(tmp_path / "empty")
    from transformers import ViTConfig, ViTModel

    ViTModel(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8,
                       image_size=4, patch_size=2)).save_pretrained(tmp_path / "vit")
    with pytest.raises(ValueError, match="model: .*not a causal language model"):
        load_causal_lm(tmp_path / "vit")
    model, _ = load_causal_lm(tiny_model_path)
    model.save_pretrained(tmp_path / "notok")
    with pytest.raises(ValueError, match="model: .*no tokenizer"):
        load_causal_lm(tmp_path / "notok")
    (tmp_path / "badcfg").mkdir()
    (tmp_path / "badcfg" / "config.json").write_text(json.dumps({"model_type": "no-such-model"}))
    with pytest.raises(ValueError, match="model: "):
        load_causal_lm(tmp_path / "badcfg")


def test_bad_records_are_rejected_naming_the_record(tiny_model_path):
    _, tok = load_causal_lm(tiny_model_path)
    ch = Choices(user=[0, 1], context=[0, 1], options=[[0, 1], [2, 2]], chosen=[0, 1])
    with pytest.raises(ValueError, match="record 1: the same response appears twice"):
        TextChoices(ch, PROMPTS, RESPONSES)
    with pytest.raises(ValueError, match="record 0: the same response appears twice"):
        TextChoices(Choices(user=[0], context=[0], options=[[0, 1]], chosen=[0]), PROMPTS, ["Same text", "same  TEXT"])
    with pytest.raises(ValueError, match="record 0: empty response"):
        TextChoices(Choices(user=[0], context=[0], options=[[0, 1]], chosen=[0]), PROMPTS, ["  ", "b"])
    with pytest.raises(ValueError, match="record 0: empty prompt"):
        TextChoices(Choices(user=[0], context=[0], options=[[0, 1]], chosen=[0]), [" "], RESPONSES)
    with pytest.raises(ValueError, match="option ids beyond"):
        TextChoices(Choices(user=[0], context=[0], options=[[0, 9]], chosen=[0]), PROMPTS, RESPONSES)
    long = TextChoices(Choices(user=[0, 1], context=[0, 0], options=[[0, 1], [1, 2]], chosen=[0, 0]), PROMPTS,
                       ["a", "b", "word " * 40])
    sc = SequenceScorer(tok, 32)
    with pytest.raises(ValueError, match=r"record 1: prompt \+ response is \d+ tokens, over the context of 32"):
        sc.encode(long, long.pairs()[0])
    with pytest.raises(ValueError, match="record 0: prompt is"):
        SequenceScorer(tok, 32, max_prompt_length=2).encode(long, long.pairs()[0])


def test_trailing_prompt_space_is_stripped(tiny_model_path):
    _, tok = load_causal_lm(tiny_model_path)
    ch = Choices(user=[0], context=[0], options=[[0, 1]], chosen=[0])
    a = TextChoices(ch, ["Describe yourself. "], RESPONSES)
    b = TextChoices(ch, ["Describe yourself."], RESPONSES)
    sc = SequenceScorer(tok, 32)
    assert sc.encode(a, a.pairs()[0]) == sc.encode(b, b.pairs()[0])
