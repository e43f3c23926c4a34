"""MMRA-AE over adapters (seed 001 Alg. 4) with regrets estimated from sampled completions."""

from dataclasses import replace

import numpy as np
import pytest

from pluralign.llm import load_causal_lm, true_label_dpo, vanilla_dpo
from pluralign.llm.adapters import AdapterPolicies
from pluralign.llm.mmra import mmra_ae_adapters, sample_completions
from pluralign.seeding import torch_generator

from tests.llm.conftest import PROMPTS, two_types
from tests.llm.test_llm_emdpo import FAST


def test_mmra_ae_over_adapters_beats_uniform_on_its_estimated_table(tiny_model_path):
    data, types = two_types(16)
    model, tok = load_causal_lm(tiny_model_path)
    pol = AdapterPolicies(model, tok, data, 2)
    groups = true_label_dpo(pol, types, 2, FAST).states
    van = vanilla_dpo(pol, FAST).states[0]
    res = mmra_ae_adapters(pol, groups, PROMPTS, FAST.beta, torch_generator(0, "mmra"), n_per_prompt=6,
                           max_new_tokens=10, extra_candidates={"vanilla_dpo": van})
    T = res["T"]
    assert T.shape == (2, 3) and np.allclose(np.diag(T[:, :2]), 0.0)
    assert res["w"].shape == (2,) and res["w"].min() >= -1e-12 and res["w"].sum() == pytest.approx(1.0)
    assert res["max_regret"]["mmra_ae"] <= res["max_regret"]["uniform"] + 1e-9  # LP optimality
    assert set(res["regrets"]) == {"mmra_ae", "uniform", "vanilla_dpo"}
    again = mmra_ae_adapters(pol, groups, PROMPTS, FAST.beta, torch_generator(0, "mmra"), n_per_prompt=6,
                             max_new_tokens=10, extra_candidates={"vanilla_dpo": van})
    np.testing.assert_array_equal(again["L"], res["L"])  # seeded sampling


def test_samples_are_scored_as_drawn_and_too_long_is_an_error(tiny_model_path):
    data, _ = two_types(4)
    model, tok = load_causal_lm(tiny_model_path)
    pol = AdapterPolicies(model, tok, data, 1)
    enc = sample_completions(pol, None, PROMPTS[:1], 3, 8, torch_generator(1))
    assert len(enc) == 3
    for ids, n_prompt in enc:
        assert 1 <= len(ids) - n_prompt <= 8
    # scored as drawn: the score of each sample is the sum of its completion tokens' log-probs under pi_SFT,
    # from the token ids generated (no re-tokenising), computed here with a plain forward
    import torch

    from pluralign.llm.mmra import _score

    with torch.no_grad():
        scores = _score(pol, None, enc)
        with pol.model.disable_adapter():
            for (ids, n_prompt), got in zip(enc, scores):
                lp = torch.log_softmax(pol.model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
                want = sum(float(lp[t - 1, ids[t]]) for t in range(n_prompt, len(ids)))
                assert abs(float(got) - want) < 1e-4, (float(got), want)
    with pytest.raises(ValueError, match="max_new_tokens"):
        sample_completions(pol, None, PROMPTS[:1], 1, 1000, torch_generator(1))


def _lw_setup(n_users=16):
    data, types = two_types(n_users)
    return data, types, np.eye(2)[types] * 0.9 + 0.05  # soft posteriors, rows on the simplex


def test_mmra_lw_with_eta_0_is_dpo_with_the_constant_weight_1_over_K(tiny_model_path):
    import torch

    from pluralign.llm import train_weighted_dpo
    from pluralign.llm.mmra import mmra_lw_adapters

    data, types, G = _lw_setup(16)
    model, tok = load_causal_lm(tiny_model_path)
    pol = AdapterPolicies(model, tok, data, 2)
    groups = true_label_dpo(pol, types, 2, FAST).states
    # 2 batches of 8 = one pass over the 16 records per MWU iteration
    res = mmra_lw_adapters(pol, groups, G, PROMPTS, FAST, seed=3, n_iter=2, batches_per_iter=2, eta=0.0,
                           n_per_prompt=2, max_new_tokens=6)
    assert np.allclose(res["w"], 0.5) and res["w"].shape == (3, 2)
    pol.load_state(0, pol.init_state(torch_generator(3, "mmra_lw", "lora_init")))
    st = train_weighted_dpo(pol, 0, np.full(16, 0.5), replace(FAST, epochs=2), torch_generator(3, "mmra_lw", "order"))
    assert st["steps"] == 4
    want = pol.state(0)
    for k, v in res["state"].items():
        torch.testing.assert_close(v, want[k], rtol=0, atol=0)
    assert any(float(v.abs().max()) > 0 for k, v in want.items() if "lora_B" in k)  # it trained


def test_mmra_lw_weights_stay_on_the_simplex_and_move_toward_the_largest_regret(tiny_model_path):
    from pluralign.llm.mmra import mmra_lw_adapters

    data, types, G = _lw_setup(16)
    model, tok = load_causal_lm(tiny_model_path)
    pol = AdapterPolicies(model, tok, data, 2)
    groups = true_label_dpo(pol, types, 2, FAST).states
    eta = 3.0
    res = mmra_lw_adapters(pol, groups, G, PROMPTS, FAST, seed=1, n_iter=3, batches_per_iter=1, eta=eta,
                           n_per_prompt=3, max_new_tokens=6)
    W, R = res["w"], res["regrets"]
    assert W.shape == (4, 2) and R.shape == (3, 2) and np.allclose(W[0], 0.5)
    assert np.all(W >= 0) and np.allclose(W.sum(axis=1), 1.0)
    for t in range(3):
        want = W[t] * np.exp(eta * R[t])
        np.testing.assert_allclose(W[t + 1], want / want.sum(), rtol=1e-12)
        if abs(R[t, 0] - R[t, 1]) > 1e-9:  # the group with the larger regret gains weight
            k = int(np.argmax(R[t]))
            assert W[t + 1, k] > W[t, k]
    assert len(res["losses"]) == 3 and np.all(np.isfinite(res["diag"]))


def test_mmra_lw_bad_input_names_it(tiny_model_path):
    from pluralign.llm.mmra import mmra_lw_adapters

    data, types, G = _lw_setup(8)
    model, tok = load_causal_lm(tiny_model_path)
    pol = AdapterPolicies(model, tok, data, 1)
    groups = [pol.state(0), pol.state(0)]
    kw = dict(n_iter=1, batches_per_iter=1, n_per_prompt=1, max_new_tokens=4)
    with pytest.raises(ValueError, match="responsibilities"):
        mmra_lw_adapters(pol, groups, G[:, :1], PROMPTS, FAST, 0, **kw)
    with pytest.raises(ValueError, match="responsibilities"):
        mmra_lw_adapters(pol, groups, G * 2, PROMPTS, FAST, 0, **kw)
    with pytest.raises(ValueError, match="eta"):
        mmra_lw_adapters(pol, groups, G, PROMPTS, FAST, 0, eta=-0.1, **kw)
    with pytest.raises(ValueError, match="batches_per_iter"):
        mmra_lw_adapters(pol, groups, G, PROMPTS, FAST, 0, **{**kw, "batches_per_iter": 0})
