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


_P = torch.zeros(3, 2)
_NAN1 = torch.tensor([[0.0, 0.0], [0.0, float("nan")], [0.0, 0.0]])
DPO_BAD = {
    "not a tensor": (lambda: weighted_kwise_dpo_loss(np.zeros((3, 2)), _P, 1.0), "policy_logps: expected a torch.Tensor"),
    "1-d logps": (lambda: weighted_kwise_dpo_loss(torch.zeros(3), _P, 1.0), "policy_logps: expected 2 dimensions"),
    "one NaN": (lambda: weighted_kwise_dpo_loss(_NAN1, _P, 1.0), "policy_logps: contains NaN"),
    "one NaN in the reference": (lambda: weighted_kwise_dpo_loss(_P, _NAN1, 1.0), "ref_logps: contains NaN"),
    "NaN beta": (lambda: weighted_kwise_dpo_loss(_P, _P, float("nan")), "beta: must be > 0"),
    "float chosen": (lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, chosen=torch.tensor([0.0, 1.0, 0.0])),
                     "chosen: expected \\(3,\\) integer"),
    "chosen of the wrong length": (lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, chosen=torch.tensor([0, 1])),
                                   "chosen: expected \\(3,\\) integer"),
    "negative chosen": (lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, chosen=torch.tensor([0, -1, 0])),
                        "chosen: index out of range 0..1"),
    "integer mask": (lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, mask=torch.ones(3, 2, dtype=torch.long)), "mask"),
    "mask of the wrong shape": (lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, mask=torch.ones(3, 3, dtype=torch.bool)),
                                "mask: expected a \\(3, 2\\)"),
    "one record with one response": (
        lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, mask=torch.tensor([[True, True], [True, False], [True, True]])),
        "at least 2 responses"),
    "chosen masked out": (
        lambda: weighted_kwise_dpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), 1.0, chosen=torch.tensor([2, 0]),
                                        mask=torch.tensor([[True, True, False], [True, True, True]])),
        "masked-out"),
    "weights of the wrong shape": (lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, weights=torch.ones(2)), "weights: expected shape"),
    "one NaN weight": (lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, weights=torch.tensor([1.0, float("nan"), 1.0])),
                       "weights: must be finite"),
    "unknown normalize": (lambda: weighted_kwise_dpo_loss(_P, _P, 1.0, normalize="mean"), "normalize"),
}


@pytest.mark.parametrize("case", sorted(DPO_BAD))
def test_each_dpo_input_check_alone_raises_value_error_naming_the_problem(case):
    call, msg = DPO_BAD[case]
    with pytest.raises(ValueError, match=msg):
        call()


def test_dpo_normalizations_and_zero_weights():
    pol = torch.tensor([[0.0, -1.0], [-2.0, 0.0], [-1.0, -1.0]], dtype=torch.float64)
    ref = torch.zeros_like(pol)
    w = torch.tensor([1.0, 3.0, 0.0], dtype=torch.float64)
    total = -(w * kwise_dpo_logprobs(pol, ref, 0.5)).sum()
    assert float(weighted_kwise_dpo_loss(pol, ref, 0.5, weights=w)) == pytest.approx(float(total) / 4.0, rel=1e-12)
    assert float(weighted_kwise_dpo_loss(pol, ref, 0.5, weights=w, normalize="count")) == pytest.approx(
        float(total) / 3.0, rel=1e-12)
    assert float(weighted_kwise_dpo_loss(pol, ref, 0.5, weights=w, normalize="none")) == pytest.approx(
        float(total), rel=1e-12)
    zero = weighted_kwise_dpo_loss(pol, ref, 0.5, weights=torch.zeros(3, dtype=torch.float64))
    assert float(zero) == 0.0 and torch.isfinite(zero)
    # a masked padding response changes nothing for the records that have it masked
    pol3 = torch.cat([pol, torch.full((3, 1), 5.0, dtype=torch.float64)], dim=1)
    mask = torch.tensor([[True, True, False]] * 3)
    torch.testing.assert_close(kwise_dpo_logprobs(pol3, torch.zeros_like(pol3), 0.5, mask=mask),
                               kwise_dpo_logprobs(pol, ref, 0.5))
