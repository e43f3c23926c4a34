"""EM-DPO over LoRA adapters on the one EM engine: the E-step likelihood is eq. 17 on the adapters'
implicit rewards, the (generalised) M-step never lowers the marginal likelihood, weights 0 drop records,
and the baselines fit the adapters they should."""

import numpy as np
import pytest
import torch

from pluralign.dpo import kwise_dpo_logprobs
from pluralign.llm import (
    DPOSettings,
    LMEMDPOModel,
    cluster_dpo,
    fit_em_dpo,
    train_weighted_dpo,
    true_label_dpo,
    user_preferred_features,
    user_response_features,
    vanilla_dpo,
)
from pluralign.seeding import derive, torch_generator

from tests.llm.conftest import RESPONSES, adapter_policies, two_types

FAST = DPOSettings(beta=0.5, lr=2e-2, batch_size=8, epochs=2, warmup_steps=0, optimizer="adamw")


def test_log_likelihood_is_eq17_on_the_adapters_implicit_rewards(tiny_model_path):
    data, _ = two_types(8)
    pol = adapter_policies(tiny_model_path, data, 2)
    mm = LMEMDPOModel(pol, FAST, seed=0)
    params = mm.init_params(2, derive(0, "init"))
    params[1] = {k: v + 0.2 if "lora_B" in k else v for k, v in params[1].items()}
    L = mm.log_likelihood(params)
    ch = data.choices
    for k in range(2):
        lp = pol.pair_logprobs(k, params[k])[torch.as_tensor(pol.index)]
        ref = pol.ref_logprobs()[torch.as_tensor(pol.index)]
        want = kwise_dpo_logprobs(lp.double(), ref.double(), FAST.beta, chosen=torch.as_tensor(ch.chosen))
        np.testing.assert_allclose(L[:, k], want.numpy(), rtol=1e-6)  # one record per user
    np.testing.assert_allclose(L[:, 0], np.log(1 / 3), atol=1e-6)  # fresh adapter = pi_SFT: uniform choice
    assert pol.n_ref_passes == 1


def test_em_over_adapters_never_decreases_the_marginal_likelihood(tiny_model_path):
    """With the generalised-EM guard (an adapter's M-step is kept only if its weighted objective Q_k did
    not go down) the marginal likelihood is monotone.  Plain minibatch DPO cannot promise it: on this very
    problem, with the guard switched off, the second iteration's marginal likelihood fell from -34.4 to
    -37.7 (checked once by disabling the guard)."""
    data, types = two_types(32)
    pol = adapter_policies(tiny_model_path, data, 2)
    rng = derive(0, "features")
    feats = np.eye(2)[types] + 0.8 * rng.standard_normal((32, 2))  # a noisy start
    fit = fit_em_dpo(pol, 2, FAST, feats, max_iter=4, seed=0, monotone=True)
    ml = [t["marginal_ll"] for t in fit.info["trace"]]
    assert all(b >= a - 1e-9 for a, b in zip(ml, ml[1:])), ml
    for m in fit.info["m_steps"]:  # every kept M-step raised (or kept) its weighted objective Q_k
        for a in m["adapters"]:
            if "q_new" in a and not a["kept_previous"]:
                assert a["q_new"] >= a["q_old"]
    assert pol.n_ref_passes == 1  # the reference was scored once for the whole fit
    # it learned something: the final likelihood beats pi_SFT's (every adapter = pi_SFT gives log 1/3)
    assert ml[-1] > 32 * np.log(1 / 3) + 1.0


def test_zero_weights_drop_records_and_leave_the_adapter(tiny_model_path):
    data, _ = two_types(8)
    pol = adapter_policies(tiny_model_path, data, 1)
    before = pol.state(0)
    assert train_weighted_dpo(pol, 0, np.zeros(8), FAST, torch_generator(0))["steps"] == 0
    assert all(torch.equal(before[k], v) for k, v in pol.state(0).items())
    w = np.zeros(8)
    w[:3] = 1.0
    st = train_weighted_dpo(pol, 0, w, DPOSettings(beta=0.5, lr=1e-2, batch_size=2, epochs=1, warmup_steps=0),
                            torch_generator(0))
    assert st["steps"] == 2  # ceil(3 / 2): only the 3 weighted records are visited
    with pytest.raises(ValueError, match="weights"):
        train_weighted_dpo(pol, 0, -np.ones(8), FAST, torch_generator(0))


def test_uncached_reference_gives_the_same_numbers(tiny_model_path):
    data, _ = two_types(8)
    a = adapter_policies(tiny_model_path, data, 1)
    b = adapter_policies(tiny_model_path, data, 1, cache_ref=False)
    sa = train_weighted_dpo(a, 0, np.ones(8), FAST, torch_generator(0))
    sb = train_weighted_dpo(b, 0, np.ones(8), FAST, torch_generator(0))
    assert sa["mean_loss"] == pytest.approx(sb["mean_loss"], rel=1e-6)
    assert a.n_ref_passes == 1 and b.n_ref_passes > 1


def test_baselines_fit_one_adapter_per_group(tiny_model_path):
    data, types = two_types(16)
    pol = adapter_policies(tiny_model_path, data, 3)
    emb = derive(0, "emb").standard_normal((len(RESPONSES), 4))
    assert user_response_features(data.choices, emb).shape == (16, 4)
    pref = user_preferred_features(data.choices, emb)
    np.testing.assert_allclose(pref[0], emb[data.choices.options[0, data.choices.chosen[0]]])
    v = vanilla_dpo(pol, FAST)
    t = true_label_dpo(pol, types, 2, FAST)
    c = cluster_dpo(pol, pref, FAST, 2)
    assert len(v.states) == 1 and len(t.states) == 2 and len(c.states) == 2
    np.testing.assert_array_equal(t.labels, types)
    assert v.info["adapters"][0]["steps"] == 2 * 2  # 16 records, batch 8, 2 epochs
    # the true-label adapters disagree where the types do
    lp0 = pol.pair_logprobs(0, t.states[0]) - pol.ref_logprobs()
    lp1 = pol.pair_logprobs(1, t.states[1]) - pol.ref_logprobs()
    first = torch.as_tensor(pol.pairs[:, 1] < 3)
    assert (lp0[first].mean() - lp0[~first].mean()) > 0 > (lp1[first].mean() - lp1[~first].mean())


def test_cluster_dpo_feature_is_shared_with_the_tabular_path():
    """App. D.2's feature (mean embedding of the user's preferred texts) is one function for both paths."""
    from pluralign.emdpo import user_preferred_features as tabular_pref

    assert user_preferred_features is tabular_pref
