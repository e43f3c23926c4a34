"""PAL-Large (seed 002, sec. 3: the encoder fine-tuned end to end with the 2-layer MLP): the packaged MiniLM
through transformers, the truncation rule, the --model errors, save/reload, and frozen-encoder = Tiny."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pluralign.data import Choices
from pluralign.pal import PALConfig, PALRewardModel
from pluralign.pal.large import PALLarge, PALLargeConfig, PALLargeModel, TextEncoder, load_encoder

TEXTS = ["I enjoy going to art museums.", "I love reading novels on quiet evenings, and I reread the classics.",
         "Math puzzles relax me.", "I listen to music every day, on my way to work and back home again.",
         "Science explains the world.", "I play football on weekends with friends from my neighbourhood team.",
         "Short.", "A much longer answer that goes on and on about many different things in some detail."]


@pytest.fixture(scope="module")
def encoder():
    torch.set_num_threads(1)
    return load_encoder()  # the packaged MiniLM (model, tokenizer, folder), loaded once


def _choices(n_users=2, M=12, seed=0):
    rng = np.random.default_rng(seed)  # test data only
    opts = np.stack([rng.choice(len(TEXTS), 2, replace=False) for _ in range(M)])
    return Choices(user=np.arange(M) % n_users, options=opts, chosen=rng.integers(0, 2, M), n_users=n_users)


def _enc(loaded, **kw):
    return TextEncoder(_loaded=loaded, **kw)


def test_mean_pooled_encoder_is_the_sentence_embedding(encoder):
    """The frozen encoder's embedding is the packaged all-MiniLM-L6-v2 sentence embedding (mean + L2)."""
    from pluralign.pal.embed import embed_texts

    e = _enc(encoder).encode(TEXTS)
    ref = embed_texts(TEXTS, cache=False)
    assert e.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(e, ref, atol=1e-5)


def test_model_path_errors(tmp_path, encoder):
    with pytest.raises(ValueError, match="model: no such folder"):
        load_encoder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        load_encoder(tmp_path / "empty")
    f = tmp_path / "file.bin"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        load_encoder(f)
    from transformers import GPT2Config, T5Config

    for name, cfg, msg in (("gpt2", GPT2Config(n_layer=1, n_embd=8, n_head=2), "decoder-only"),
                           ("t5", T5Config(num_layers=1, d_model=8, d_ff=8, num_heads=2, d_kv=4), "encoder-decoder")):
        cfg.save_pretrained(tmp_path / name)
        with pytest.raises(ValueError, match=msg):
            load_encoder(tmp_path / name)
    # an encoder's weights without a tokenizer
    model, _, _ = encoder
    model.save_pretrained(tmp_path / "no_tok")
    with pytest.raises(ValueError, match="no tokenizer"):
        load_encoder(tmp_path / "no_tok")
    bad = tmp_path / "garbled"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="model: "):
        load_encoder(bad)


def test_truncation_rule(encoder):
    long = " ".join(["word"] * 40)
    enc = _enc(encoder, max_length=16)
    with pytest.raises(ValueError, match="text 1 has .* tokens, beyond the context of 16"):
        enc.encode(["short", long])
    cut = _enc(encoder, max_length=16, on_overflow="truncate")
    e = cut.encode(["short", long])
    assert cut.n_truncated == 1
    # the kept head: the first 16 tokens (CLS + 14 words + SEP) give the same embedding as the cut text
    np.testing.assert_allclose(e[1], _enc(encoder).encode([" ".join(["word"] * 14)])[0], atol=1e-5)
    assert _enc(encoder).max_length == 512  # MiniLM's context (max_position_embeddings)
    with pytest.raises(ValueError, match="max_length: 1000 exceeds the encoder's context of 512"):
        _enc(encoder, max_length=1000)
    with pytest.raises(ValueError, match="on_overflow"):
        _enc(encoder, on_overflow="drop")


@pytest.mark.parametrize("model", ["A", "B"])
def test_frozen_encoder_equals_tiny(encoder, model):
    """PAL-Large with the encoder frozen = PAL-Tiny (PALRewardModel) on the same embeddings: same head, same
    optimizer, same batches, so the same trained rewards."""
    ch = _choices()
    pal = PALConfig(model=model, n_prototypes=2, hidden=8, d_latent=4, epochs=3, batch_size=4, seed=3)
    large = PALLarge(PALLargeConfig(pal=pal, freeze_encoder=True), encoder=_enc(encoder)).fit(ch, TEXTS)
    emb = _enc(encoder).encode(TEXTS)
    tiny_ch = Choices(user=ch.user, options=ch.options, features=emb[ch.options], chosen=ch.chosen, n_users=ch.n_users)
    tiny = PALRewardModel(PALConfig(**{**pal.__dict__})).fit(tiny_ch)
    np.testing.assert_allclose(large.loss_history_, tiny.loss_history_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(large.rewards(ch, TEXTS), tiny.utilities(tiny_ch), rtol=0, atol=1e-6)
    np.testing.assert_allclose(large.weights_, tiny.weights_, atol=1e-6)
    assert large.trainable_parameters() == sum(p.numel() for p in tiny.model_.parameters())


def test_large_trains_the_encoder_and_reloads_identically(tmp_path, encoder):
    ch = _choices(M=8)
    pal = PALConfig(model="B", n_prototypes=2, hidden=8, d_latent=4, epochs=1, batch_size=4, seed=0)
    before = _enc(encoder).encode(TEXTS)
    import copy

    loaded = (copy.deepcopy(encoder[0]), encoder[1], encoder[2])
    large = PALLarge(PALLargeConfig(pal=pal, lr_encoder=1e-3), encoder=_enc(loaded)).fit(ch, TEXTS)
    after = large.embed(TEXTS)
    assert np.abs(after - before).max() > 1e-4  # the encoder was fine-tuned
    assert large.trainable_parameters() > 22_000_000
    r = large.rewards(ch, TEXTS)
    large.save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "pal_large.json").read_text())["pal"]["model"] == "B"
    again = PALLarge.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(again.rewards(ch, TEXTS), r)
    np.testing.assert_array_equal(again.rewards(ch, TEXTS, weights=[0.3, 0.7]), large.rewards(ch, TEXTS, weights=[0.3, 0.7]))
    # the fitted head on the fitted encoder's embeddings is a fitted PALRewardModel (unseen users, D.3.1)
    emb = again.embed(TEXTS)
    tiny_ch = Choices(user=ch.user, options=ch.options, features=emb[ch.options], chosen=ch.chosen, n_users=ch.n_users)
    np.testing.assert_allclose(again.as_tiny().utilities(tiny_ch), r, atol=1e-5)
    with pytest.raises(ValueError, match="holds no saved PAL-Large"):
        PALLargeModel.from_pretrained(tmp_path / "nothing")


def test_bad_inputs(encoder):
    with pytest.raises(ValueError, match="n_restarts"):
        PALLargeConfig(pal=PALConfig(n_restarts=2)).validate()
    with pytest.raises(ValueError, match="lr_encoder"):
        PALLargeConfig(lr_encoder=0).validate()
    ch = _choices()
    with pytest.raises(ValueError, match="option ids must index texts"):
        PALLarge(PALLargeConfig(pal=PALConfig(epochs=1)), encoder=_enc(encoder)).fit(ch, TEXTS[:3])
    with pytest.raises(ValueError, match="not fitted"):
        PALLarge(encoder=_enc(encoder)).rewards(ch, TEXTS)
