"""K policies as K LoRA adapters (peft) on one frozen base model, switched per type.

:class:`AdapterPolicies` wraps a causal LM (the frozen pi_SFT) in a ``peft`` model with adapters
``type0 .. type{K-1}``; ``use(k)`` switches the active adapter (``set_adapter``), and the base model's own
log-probabilities (adapters disabled: ``disable_adapter()``) are the reference pi_SFT.  The reference
log-probability of every distinct (prompt, response) pair of the records is computed once and cached
(``cache_ref=True``); with ``cache_ref=False`` it is recomputed on every use (what
``benchmarks/emdpo_llm.py`` compares against).

Adapter weights are passed around as states (dicts of cloned LoRA tensors), so EM restarts and
baselines never share weights by accident.  Every LoRA ``A`` matrix is drawn from an explicit
``torch.Generator`` (peft's kaiming-uniform scheme, a = sqrt(5)); ``B`` starts at 0, so a fresh adapter
is exactly pi_SFT.  LoRA dropout is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from pluralign.seeding import torch_generator
from pluralign.llm.scoring import SequenceScorer, TextChoices, model_context_length

__all__ = ["LoRASettings", "AdapterPolicies"]


@dataclass
class LoRASettings:
    """LoRA adapters of the K policies (seed 001 trains K full copies; see DEVIATIONS in the study)."""

    r: int = 8
    """LoRA rank."""
    alpha: float = 16.0
    """LoRA scaling numerator (scale = alpha / r)."""
    target_modules: str | tuple = "all-linear"
    """peft target modules ("all-linear": every linear / Conv1D layer except the output head)."""

    def __post_init__(self):
        if isinstance(self.r, bool) or int(self.r) != self.r or int(self.r) < 1:
            raise ValueError(f"r: must be a positive integer, got {self.r!r}")
        if not float(self.alpha) > 0:
            raise ValueError(f"alpha: must be > 0, got {self.alpha}")


def _adapter_name(k: int) -> str:
    return f"type{k}"


class AdapterPolicies:
    """K LoRA policies on one frozen base, scored on the distinct (prompt, response) pairs of ``data``.

    ``model`` is modified (wrapped by peft); pass a fresh copy per fit.  ``batch_size``: sequences per
    forward pass when scoring; ``seed``: the adapters' initial A matrices (``torch_generator(seed, "adapters")``)."""

    def __init__(self, model, tokenizer, data: TextChoices, n_adapters: int, lora: LoRASettings | None = None,
                 max_length: int | None = None, max_prompt_length: int | None = None, batch_size: int = 128,
                 cache_ref: bool = True, seed: int = 0):
        from peft import LoraConfig, get_peft_model

        if isinstance(n_adapters, bool) or int(n_adapters) != n_adapters or int(n_adapters) < 1:
            raise ValueError(f"n_adapters: must be a positive integer, got {n_adapters!r}")
        lora = lora or LoRASettings()
        ctx = model_context_length(model)
        max_length = int(max_length) if max_length is not None else ctx
        if max_length is None:
            raise ValueError("max_length: the model does not state its context length; pass max_length")
        if ctx is not None:
            max_length = min(max_length, ctx)
        self.data, self.K = data, int(n_adapters)
        self.scorer = SequenceScorer(tokenizer, max_length, max_prompt_length)
        self.pairs, self.index = data.pairs()
        self.encoded = self.scorer.encode(data, self.pairs)
        self.batch_size = int(batch_size)
        self.cache_ref = bool(cache_ref)
        cfg = LoraConfig(r=int(lora.r), lora_alpha=float(lora.alpha), lora_dropout=0.0,
                         target_modules=lora.target_modules if isinstance(lora.target_modules, str)
                         else list(lora.target_modules), bias="none", task_type="CAUSAL_LM")
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = get_peft_model(model, cfg, adapter_name=_adapter_name(0))
        for k in range(1, self.K):
            self.model.add_adapter(_adapter_name(k), cfg)
        self.device = next(self.model.parameters()).device
        self._ref = None
        self.n_ref_passes = 0
        g = torch_generator(seed, "adapters")
        for k in range(self.K):  # peft drew A from torch's global RNG: redraw from the seeded generator
            self.load_state(k, self.init_state(g))
        self.use(0)

    # ---------------------------------------------------------------- adapters
    def use(self, k: int) -> None:
        """Make adapter k the active (and only trainable) one."""
        self.model.set_adapter(_adapter_name(int(k)))

    def adapter_params(self, k: int) -> dict[str, torch.nn.Parameter]:
        tag = f".{_adapter_name(int(k))}."
        return {n: p for n, p in self.model.named_parameters() if "lora_" in n and tag in n}

    def state(self, k: int) -> dict[str, torch.Tensor]:
        """A detached copy of adapter k's LoRA tensors (keys without the adapter name)."""
        name = _adapter_name(int(k))
        return {n.replace(f".{name}.", "."): p.detach().clone() for n, p in self.adapter_params(k).items()}

    def load_state(self, k: int, state: dict[str, torch.Tensor]) -> None:
        name = _adapter_name(int(k))
        params = self.adapter_params(k)
        if len(params) != len(state):
            raise ValueError(f"state: {len(state)} tensors for adapter {name}, which has {len(params)}")
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(state[n.replace(f".{name}.", ".")])

    def init_state(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A fresh adapter state: A ~ kaiming-uniform(a = sqrt(5)) from ``generator``, B = 0 (= pi_SFT)."""
        out = {}
        for n, p in self.adapter_params(0).items():
            key = n.replace(f".{_adapter_name(0)}.", ".")
            if "lora_A" in n:
                fan_in = p.shape[1]
                bound = math.sqrt(6.0 / ((1 + 5.0) * fan_in))  # kaiming_uniform_(a=sqrt(5))
                out[key] = (torch.rand(p.shape, generator=generator, dtype=torch.float32) * 2 - 1).mul_(bound).to(p)
            else:
                out[key] = torch.zeros_like(p)
        return out

    # ---------------------------------------------------------------- log-probabilities
    def _score(self, encoded, grad: bool = False) -> torch.Tensor:
        return self.scorer.logprobs(self.model, encoded, self.batch_size, grad=grad, device=self.device)

    def ref_logprobs(self, pair_ids=None) -> torch.Tensor:
        """log pi_SFT of the pairs (all, or ``pair_ids``): the base with adapters disabled; cached once."""
        if self.cache_ref:
            if self._ref is None:
                with self.model.disable_adapter():
                    self._ref = self._score(self.encoded).cpu()
                self.n_ref_passes += 1
            return self._ref if pair_ids is None else self._ref[torch.as_tensor(pair_ids)]
        enc = self.encoded if pair_ids is None else [self.encoded[int(i)] for i in pair_ids]
        with self.model.disable_adapter():
            out = self._score(enc).cpu()
        self.n_ref_passes += 1
        return out

    def pair_logprobs(self, k: int, state=None) -> torch.Tensor:
        """(P,) log pi_k of every distinct pair (adapter k, or adapter k loaded with ``state``)."""
        if state is not None:
            self.load_state(k, state)
        self.use(k)
        return self._score(self.encoded).cpu()

    def policy_logprobs(self, k: int, pair_ids, grad: bool = True) -> torch.Tensor:
        """log pi_k of the given pairs, with gradients into adapter k (for training)."""
        self.use(k)
        return self._score([self.encoded[int(i)] for i in pair_ids], grad=grad)

    def record_table(self, pair_values: torch.Tensor) -> torch.Tensor:
        """(M, n) values of each record's options from a (P,) pair vector (masked options get pair 0's)."""
        return pair_values[torch.as_tensor(self.index)]

    def memory_bytes(self) -> dict:
        """Bytes of the frozen base and of the K adapters' parameters."""
        seen, base, adapters = set(), 0, 0
        for n, p in self.model.named_parameters():
            if p.data_ptr() in seen:
                continue
            seen.add(p.data_ptr())
            b = p.numel() * p.element_size()
            if "lora_" in n:
                adapters += b
            else:
                base += b
        return {"base": base, "adapters": adapters, "total": base + adapters}

    def score_texts(self, k: int | None, data: TextChoices) -> np.ndarray:
        """(P,) log-probabilities of ``data``'s distinct pairs under adapter k (None: pi_SFT); for
        evaluation on records other than the training ones (same tokenisation rules)."""
        pairs, _ = data.pairs()
        enc = self.scorer.encode(data, pairs)
        if k is None:
            with self.model.disable_adapter():
                return self._score(enc).cpu().numpy()
        self.use(k)
        return self._score(enc).cpu().numpy()
