"""EM-DPO's M-step inside trl's training loop (``DPOSettings(trainer="trl")``): one M-step takes the same
steps as pluralign's loop, a whole EM fit runs, is deterministic and scores pi_SFT once, and k-wise records
are refused before any training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("trl")

import torch  # noqa: E402

from pluralign.llm import (  # noqa: E402
    DPOSettings,
    fit_em_dpo,
    train_weighted_dpo,
)
from pluralign.seeding import derive, torch_generator  # noqa: E402

from tests.llm.conftest import adapter_policies, two_types  # noqa: E402

pytestmark = pytest.mark.llm


def _data(n_users=10, n_options=2, seed=0):
    return two_types(n_users, n_options, seed, key="trl-toy")



def _start(pol):
    """A trained-looking adapter start (B != 0), so the first step's gradients reach every LoRA matrix."""
    g = torch_generator(1, "start")
    st = pol.init_state(g)
    return {k: v + 0.05 * torch.randn(v.shape, generator=g) if "lora_B" in k else v for k, v in st.items()}


def _max_diff(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.parametrize("optimizer, lr, atol, loss_tol", [("adamw", 1e-2, 2e-6, 5e-6), ("rmsprop", 1e-3, 1e-5, 5e-6)])
def test_one_m_step_takes_the_same_steps_in_trl_and_pluralign(tiny_model_path, monkeypatch, optimizer, lr, atol,
                                                              loss_tol):
    """The same records (weights non-uniform, one 0), adapter start, minibatches (order drawn from the same
    generator: 3 + 3 + 3 per epoch, 2 epochs), optimizer, warmup (3 steps) and clip (0.5, active): every
    minibatch loss agrees to ``loss_tol`` and the adapters to ``atol`` (measured: 1.2e-7 with AdamW, 1.1e-6
    with RMSprop at lr 1e-3, the quick profile's).  The two loops differ only by float32 rounding (trl's
    chunked fused LM head vs log_softmax); a large RMSprop step (lr 1e-2: about 10 x lr per coordinate at
    the first step) amplifies it to 9e-3 in these 6 steps, so RMSprop is checked at lr 1e-3."""
    import pluralign.llm.emdpo as emdpo_mod
    import pluralign.llm.trl as trl_mod

    data, _ = _data(10)
    a, b = adapter_policies(tiny_model_path, data, 2), adapter_policies(tiny_model_path, data, 2)
    st = _start(a)
    a.load_state(1, st)
    b.load_state(1, st)
    w = np.linspace(0.0, 2.0, 10)
    w[3] = 0.0
    kw = dict(beta=0.5, lr=lr, batch_size=3, epochs=2, warmup_steps=3, max_grad_norm=0.5, optimizer=optimizer)
    losses = {"pluralign": [], "trl": []}  # every minibatch loss, from the one loss both loops call

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            loss = fn(*args, **kwargs)
            losses[name].append(float(loss.detach()))
            return loss
        return wrapped

    monkeypatch.setattr(emdpo_mod, "weighted_kwise_dpo_loss", spy("pluralign", emdpo_mod.weighted_kwise_dpo_loss))
    monkeypatch.setattr(trl_mod, "weighted_kwise_dpo_loss", spy("trl", trl_mod.weighted_kwise_dpo_loss))
    ra = train_weighted_dpo(a, 1, w, DPOSettings(**kw), torch_generator(0, "order"))
    rb = trl_mod.train_weighted_dpo_trl(b, 1, w, DPOSettings(**kw, trainer="trl"), torch_generator(0, "order"))
    assert ra["steps"] == rb["steps"] == 2 * 3  # 9 weighted records, batch 3, 2 epochs
    np.testing.assert_allclose(losses["trl"], losses["pluralign"], atol=loss_tol)
    moved = _max_diff(b.state(1), st)
    assert moved > 100 * atol  # it trained
    assert _max_diff(a.state(1), b.state(1)) < atol
    assert _max_diff(a.state(0), b.state(0)) == 0.0  # the other adapter is untouched
    # the shared base is left as it was: plain forward, eval mode, nothing trainable
    base = b.model.get_base_model()
    assert "forward" not in base.__dict__ and not base.training
    assert not any(p.requires_grad for p in b.model.parameters())
    assert a.n_ref_passes == b.n_ref_passes == 1
    torch.testing.assert_close(a.pair_logprobs(1), b.pair_logprobs(1), atol=50 * atol, rtol=0)


def test_zero_weights_leave_the_adapter_bit_identical(tiny_model_path):
    from pluralign.llm.trl import train_weighted_dpo_trl

    data, _ = _data(6)
    pol = adapter_policies(tiny_model_path, data, 1)
    pol.load_state(0, _start(pol))
    before = pol.state(0)
    s = DPOSettings(beta=0.5, lr=1e-2, batch_size=2, warmup_steps=0, trainer="trl")
    assert train_weighted_dpo_trl(pol, 0, np.zeros(6), s, torch_generator(0))["steps"] == 0
    assert all(torch.equal(before[k], v) for k, v in pol.state(0).items())
    w = np.zeros(6)
    w[:3] = 1.0
    assert train_weighted_dpo_trl(pol, 0, w, s, torch_generator(0))["steps"] == 2  # only the 3 weighted records
    assert _max_diff(pol.state(0), before) > 1e-4
    with pytest.raises(ValueError, match="weights"):
        train_weighted_dpo_trl(pol, 0, -np.ones(6), s, torch_generator(0))
    with pytest.raises(ValueError, match="trainer"):
        train_weighted_dpo_trl(pol, 0, w, DPOSettings(), torch_generator(0))


def test_em_dpo_with_the_trl_m_step_is_deterministic_and_scores_the_reference_once(tiny_model_path, monkeypatch):
    """A whole EM-DPO fit with trl's loop: deterministic for a seed; pi_SFT is scored once per fit (one
    reference pass, the trl dataset built once, trl's own reference precompute never run); and with AdamW
    it follows pluralign's loop (the same marginal log-likelihoods)."""
    import trl

    import pluralign.llm.trl as trl_mod

    built, trl_precompute = [], []
    real_dataset = trl_mod.adapter_dataset
    monkeypatch.setattr(trl_mod, "adapter_dataset", lambda pol: built.append(1) or real_dataset(pol))
    real_pre = trl.DPOTrainer._precompute_ref_logps
    monkeypatch.setattr(trl.DPOTrainer, "_precompute_ref_logps",
                        lambda self, *a, **k: trl_precompute.append(1) or real_pre(self, *a, **k))

    data, types = _data(16)
    feats = np.eye(2)[types] + 0.8 * derive(0, "features").standard_normal((16, 2))
    s = DPOSettings(beta=0.5, lr=2e-2, batch_size=8, epochs=1, warmup_steps=0, optimizer="adamw", trainer="trl")
    fits = []
    for _ in range(2):
        pol = adapter_policies(tiny_model_path, data, 2)
        fits.append(fit_em_dpo(pol, 2, s, feats, max_iter=2, seed=0))
        assert pol.n_ref_passes == 1
    assert len(built) == 2 and not trl_precompute  # once per fit; trl never recomputed the reference
    f1, f2 = fits
    steps = [a["steps"] for m in f1.info["m_steps"] for a in m["adapters"]]
    assert len(steps) == 2 * 3 and sum(steps) > 0  # initial M-step + 2 iterations, 2 adapters each
    assert all(_max_diff(x, y) == 0.0 for x, y in zip(f1.states, f2.states))
    assert [t["marginal_ll"] for t in f1.info["trace"]] == [t["marginal_ll"] for t in f2.info["trace"]]
    np.testing.assert_array_equal(f1.responsibilities, f2.responsibilities)

    ours = fit_em_dpo(adapter_policies(tiny_model_path, data, 2), 2, dataclasses.replace(s, trainer="pluralign"),
                      feats, max_iter=2, seed=0)
    np.testing.assert_allclose([t["marginal_ll"] for t in f1.info["trace"]],
                               [t["marginal_ll"] for t in ours.info["trace"]], atol=1e-4)
    assert f1.info["marginal_ll"] > 16 * np.log(1 / 2)  # it learned: beats pi_SFT's uniform choice


def test_trl_trainer_with_ternary_records_is_a_value_error_before_training(tiny_model_path, monkeypatch):
    import pluralign.llm.trl as trl_mod
    from pluralign.experiments.emdpo_llm.study import EMDPOLLMSettings

    def no_training(*a, **k):
        raise AssertionError("trained before refusing k-wise records")

    monkeypatch.setattr(trl_mod, "train_weighted_dpo_trl", no_training)
    data, types = _data(8, n_options=3)
    pol = adapter_policies(tiny_model_path, data, 2)
    s = DPOSettings(beta=0.5, lr=1e-2, batch_size=4, warmup_steps=0, trainer="trl")
    with pytest.raises(ValueError, match="binary feedback only"):
        fit_em_dpo(pol, 2, s, np.eye(2)[types], max_iter=1, seed=0)
    with pytest.raises(ValueError, match="binary feedback only"):
        trl_mod.adapter_dataset(pol)
    with pytest.raises(ValueError, match="trainer.*binary feedback only"):
        EMDPOLLMSettings(feedback="ternary", trainer="trl")
    with pytest.raises(ValueError, match="trainer"):
        DPOSettings(trainer="accelerate")
    assert EMDPOLLMSettings(feedback="binary", trainer="trl").dpo(2).trainer == "trl"
