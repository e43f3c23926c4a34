"""Torch modules initialised from an explicit generator (pluralign.torch_init), and no library fit touching
torch's global RNG (issue 12: no global RNG anywhere)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pluralign.torch_init import build, init_parameters_


def _net():
    return nn.Sequential(nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3, bias=False)), nn.LayerNorm(3),
                         nn.Linear(3, 2))


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_generator_init_equals_torch_default_init_after_manual_seed(seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        want = _net()
    state = torch.random.get_rng_state().clone()
    got = init_parameters_(build(_net), torch.Generator().manual_seed(seed))
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator was not drawn from
    for (n1, a), (n2, b) in zip(want.named_parameters(), got.named_parameters()):
        assert n1 == n2 and torch.equal(a, b), n1


def test_same_generator_seed_same_module_and_unknown_modules_refused():
    a = init_parameters_(build(_net), torch.Generator().manual_seed(3))
    b = init_parameters_(build(_net), torch.Generator().manual_seed(3))
    c = init_parameters_(build(_net), torch.Generator().manual_seed(4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0][0].weight, c[0][0].weight)
    with pytest.raises(ValueError, match="module"):
        init_parameters_(build(lambda: nn.Conv1d(2, 2, 3)), torch.Generator())
    with pytest.raises(ValueError, match="generator"):
        init_parameters_(build(_net), 0)


def _untouched(fn):
    state = torch.random.get_rng_state().clone()
    out = fn()
    assert torch.equal(state, torch.random.get_rng_state()), "torch's global RNG was used"
    return out


def test_pal_fit_does_not_touch_the_global_rng():
    from pluralign.data import Choices
    from pluralign.pal import PALConfig, PALRewardModel

    rng = np.random.default_rng(0)
    ch = Choices(user=np.arange(40) % 4, features=rng.normal(size=(40, 2, 3)), chosen=rng.integers(0, 2, 40))
    for model in ("A", "B"):
        cfg = PALConfig(model=model, n_prototypes=2, d_latent=2, hidden=4, epochs=3, batch_size=16, seed=1)
        w1 = _untouched(lambda: PALRewardModel(cfg).fit(ch)).weights_
        w2 = PALRewardModel(cfg).fit(ch).weights_
        np.testing.assert_array_equal(w1, w2)


def test_spr_fit_does_not_touch_the_global_rng():
    pytest.importorskip("gymnasium")
    from pluralign.rl.spr import SPRConfig, fit_spr

    rng = np.random.default_rng(1)
    obs, act = rng.normal(size=(60, 3)).astype(np.float32), rng.uniform(-1, 1, size=(60, 2)).astype(np.float32)
    ep, t = np.repeat(np.arange(3), 20), np.tile(np.arange(20), 3)
    scfg = SPRConfig(latent_dim=4, hidden=8, proj_dim=4, horizon=2, batch_size=8, n_updates=5, seed=2)
    _, h1 = _untouched(lambda: fit_spr(obs, act, ep, t, scfg))
    _, h2 = fit_spr(obs, act, ep, t, scfg)
    assert h1 == h2


def test_shared_representation_fit_does_not_touch_the_global_rng():
    from pluralign.personalization import RewardModelConfig, SharedRepresentationReward, synthetic_low_rank

    syn = synthetic_low_rank(4, 10, dim=3, rank=2, seed=0)
    cfg = RewardModelConfig(rep_dim=2, hidden=3, max_iter=5, seed=1)
    a = _untouched(lambda: SharedRepresentationReward(cfg).fit(syn.choices))
    b = SharedRepresentationReward(cfg).fit(syn.choices)
    np.testing.assert_array_equal(a.theta_, b.theta_)
