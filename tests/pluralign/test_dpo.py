"""Weighted k-wise DPO (seed 001 eq. 17).

Reference for n = 2: trl 1.16.0's ``DPOTrainer`` has no standalone ``dpo_loss`` any more: its "sigmoid"
loss is computed inline in ``DPOTrainer._compute_loss`` from a model forward pass
(``per_sequence_loss = -F.logsigmoid(self.beta * delta_score)`` with
``delta_score = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)``), which needs a
model, tokenized batches and an accelerator.  Calling it on bare log-probabilities is impractical, so the
test below reproduces exactly that closed form on the same log-probabilities.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pluralign.choice import choice_logprobs
from pluralign.dpo import dpo_loss_pairwise, kwise_dpo_logprobs, weighted_kwise_dpo_loss



@pytest.fixture(autouse=True, scope="module")
def _float64_default():
    """These tests compare at 1e-12: float64 for this module only (restored afterwards)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _trl_sigmoid_dpo(c, r, rc, rr, beta):
    delta = (c - rc) - (r - rr)
    return (-torch.nn.functional.logsigmoid(beta * delta)).mean()


@settings(max_examples=40)
@given(st.integers(1, 20), st.floats(0.01, 5.0), st.integers(0, 2**31 - 1))
def test_pairwise_equals_trl_sigmoid_loss(M, beta, seed):
    g = torch.Generator().manual_seed(seed)
    c, r, rc, rr = (torch.randn(M, generator=g) * 5 for _ in range(4))
    ours = dpo_loss_pairwise(c, r, rc, rr, beta)
    assert torch.allclose(ours, _trl_sigmoid_dpo(c, r, rc, rr, beta), atol=1e-12)
    # the k-wise form with y_w in another column gives the same
    pol = torch.stack([r, c], 1)
    ref = torch.stack([rr, rc], 1)
    kw = weighted_kwise_dpo_loss(pol, ref, beta, chosen=torch.ones(M, dtype=torch.long))
    assert torch.allclose(kw, ours, atol=1e-12)


@settings(max_examples=40)
@given(st.integers(1, 10), st.integers(2, 6), st.floats(0.05, 3.0), st.integers(0, 2**31 - 1))
def test_kwise_is_multinomial_logit_on_implicit_rewards(M, n, beta, seed):
    g = torch.Generator().manual_seed(seed)
    pol, ref = torch.randn(M, n, generator=g) * 3, torch.randn(M, n, generator=g) * 3
    chosen = torch.randint(0, n, (M,), generator=g)
    ours = kwise_dpo_logprobs(pol, ref, beta, chosen=chosen)
    lp = choice_logprobs(beta * (pol - ref).numpy())
    assert np.allclose(ours.numpy(), lp[np.arange(M), chosen.numpy()], atol=1e-12)
    # invariant to permuting the rejected set (permute all columns, move the chosen index along)
    perm = torch.randperm(n, generator=g)
    inv = torch.argsort(perm)
    ours_p = kwise_dpo_logprobs(pol[:, perm], ref[:, perm], beta, chosen=inv[chosen])
    assert torch.allclose(ours, ours_p, atol=1e-12)


def test_weights_and_masks():
    g = torch.Generator().manual_seed(0)
    pol, ref = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    w = torch.tensor([1.0, 0.0, 2.0, 0.0, 0.5, 1.0])
    full = weighted_kwise_dpo_loss(pol, ref, 0.3, weights=w)
    keep = w > 0
    sub = weighted_kwise_dpo_loss(pol[keep], ref[keep], 0.3, weights=w[keep])
    assert torch.allclose(full, sub)
    # integer weight 2 == duplicating the example
    dup = weighted_kwise_dpo_loss(torch.cat([pol, pol[2:3]]), torch.cat([ref, ref[2:3]]), 0.3,
                                  weights=torch.cat([w, torch.tensor([0.0])]) + torch.tensor([0, 0, -1.0, 0, 0, 0, 1.0]))
    assert torch.allclose(full, dup)
    # masking a column == dropping it
    mask = torch.ones(6, 3, dtype=torch.bool)
    mask[:, 2] = False
    assert torch.allclose(weighted_kwise_dpo_loss(pol, ref, 0.3, mask=mask),
                          weighted_kwise_dpo_loss(pol[:, :2], ref[:, :2], 0.3))
    assert float(weighted_kwise_dpo_loss(pol, ref, 0.3, weights=torch.zeros(6))) == 0.0


def test_gradient_matches_finite_differences_and_large_logits_finite():
    g = torch.Generator().manual_seed(1)
    pol = torch.randn(5, 4, generator=g, requires_grad=True)
    ref = torch.randn(5, 4, generator=g)
    w = torch.rand(5, generator=g)
    assert torch.autograd.gradcheck(lambda p: weighted_kwise_dpo_loss(p, ref, 0.7, weights=w), (pol,))
    big = torch.tensor([[1e4, -1e4, 0.0]])
    out = weighted_kwise_dpo_loss(big, torch.zeros(1, 3), 1.0, chosen=torch.tensor([1]))
    assert torch.isfinite(out) and float(out) == pytest.approx(2e4)


def test_bad_input():
    p = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="beta"):
        weighted_kwise_dpo_loss(p, p, 0.0)
    with pytest.raises(ValueError, match="weights"):
        weighted_kwise_dpo_loss(p, p, 1.0, weights=torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="chosen"):
        weighted_kwise_dpo_loss(p, p, 1.0, chosen=torch.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match="policy_logps"):
        weighted_kwise_dpo_loss(torch.zeros(3, 1), torch.zeros(3, 1), 1.0)
    with pytest.raises(ValueError, match="ref_logps"):
        weighted_kwise_dpo_loss(p, torch.zeros(3, 3), 1.0)
