"""Preference records as text, and the sequence log-probabilities log pi(y | x) that DPO needs.

:class:`TextChoices` is the package's :class:`pluralign.data.Choices` (user, context = prompt id, options =
response ids, chosen index, optional mask) plus the prompt and response strings the ids point at, so a
response shared by many records is scored once per policy (the "pair table" of distinct (prompt id,
response id) pairs).

Tokenisation rule (byte-level BPE would merge a prompt's trailing space into the next token): a prompt
is stripped of trailing whitespace, a response gets exactly one leading space, and the sequence is
``[BOS] + ids(prompt) + ids(" " + response) + [EOS]`` with BOS / EOS included only where the tokenizer
has them; log pi(y | x) is the sum of the log-probabilities of the response tokens and of EOS (the
response is a complete sequence, so a prefix of a response is not scored as the response).

Record validation (``ValueError`` naming the record): an empty response, the same response twice in
one record (by id or by text), and a prompt + response longer than the context are rejected, never
truncated (a truncated response would be scored as a different response).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pluralign.data import Choices

__all__ = ["TextChoices", "SequenceScorer", "model_context_length"]


@dataclass
class TextChoices:
    """Text preference records: ``choices.context`` indexes ``prompts``, ``choices.options`` ``responses``."""

    choices: Choices
    """The records (one or more per user)."""
    prompts: list[str]
    """Prompt strings."""
    responses: list[str]
    """Response strings."""

    def __post_init__(self):
        ch = self.choices
        if not isinstance(ch, Choices) or ch.options is None:
            raise ValueError("choices: expected a pluralign.data.Choices with option ids (options)")
        self.prompts = [str(p).rstrip() for p in self.prompts]
        self.responses = [" ".join(str(r).split()) for r in self.responses]
        if ch.context.max() >= len(self.prompts) or ch.context.min() < 0:
            raise ValueError(f"choices: context ids beyond the {len(self.prompts)} prompts")
        if ch.options.max() >= len(self.responses) or ch.options.min() < 0:
            raise ValueError(f"choices: option ids beyond the {len(self.responses)} responses")
        for i, p in enumerate(self.prompts):
            if not p:
                bad = np.flatnonzero(ch.context == i)
                if bad.size:
                    raise ValueError(f"record {int(bad[0])}: empty prompt (prompt id {i})")
        norm = [r.lower() for r in self.responses]
        for m in range(len(ch.chosen)):
            ids = ch.options[m][ch.mask[m]]
            texts = [self.responses[j] for j in ids]
            if any(not t for t in texts):
                raise ValueError(f"record {m}: empty response")
            if len(set(ids.tolist())) < len(ids) or len({norm[j] for j in ids}) < len(ids):
                raise ValueError(f"record {m}: the same response appears twice ({texts})")

    @property
    def n_records(self) -> int:
        return len(self.choices.chosen)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(unique (prompt id, response id) pairs (P, 2), (M, n) index of each record option into them;
        masked-out options point at pair 0)."""
        ch = self.choices
        ctx = np.broadcast_to(ch.context[:, None], ch.options.shape)
        keys = np.stack([ctx[ch.mask], ch.options[ch.mask]], axis=1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        index = np.zeros(ch.options.shape, dtype=np.int64)
        index[ch.mask] = inv.reshape(-1)
        return uniq, index


def model_context_length(model) -> int | None:
    """The model's context in tokens (``n_positions`` / ``max_position_embeddings``), None if unknown."""
    cfg = getattr(model, "config", None)
    for name in ("n_positions", "max_position_embeddings", "n_ctx"):
        v = getattr(cfg, name, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


class SequenceScorer:
    """Encodes (prompt, response) pairs once and computes batched sequence log-probabilities.

    ``max_length``: the longest prompt + response accepted (default: the model's context; Table 4's 512
    in the paper profile); ``max_prompt_length``: the longest prompt (Table 4: 256), both in tokens."""

    def __init__(self, tokenizer, max_length: int, max_prompt_length: int | None = None):
        if int(max_length) < 2:
            raise ValueError(f"max_length: must be >= 2, got {max_length}")
        self.tok = tokenizer
        self.max_length = int(max_length)
        self.max_prompt_length = None if max_prompt_length is None else int(max_prompt_length)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if self.pad_id is None:
            raise ValueError("tokenizer: has neither a pad nor an EOS token")

    def encode(self, data: TextChoices, pairs: np.ndarray) -> list[tuple[list[int], int]]:
        """Token ids and prompt length (tokens before the response) of every pair; ``ValueError`` naming
        the first record whose prompt or prompt + response is too long."""
        tok = self.tok
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
        p_ids = {int(i): bos + tok(data.prompts[int(i)], add_special_tokens=False)["input_ids"]
                 for i in np.unique(pairs[:, 0])}
        r_ids = {int(j): tok(" " + data.responses[int(j)], add_special_tokens=False)["input_ids"] + eos
                 for j in np.unique(pairs[:, 1])}
        out = []
        for x, y in pairs:
            p, r = p_ids[int(x)], r_ids[int(y)]
            too_long_prompt = self.max_prompt_length is not None and len(p) > self.max_prompt_length
            if too_long_prompt or len(p) + len(r) > self.max_length:
                ch = data.choices
                m = int(np.flatnonzero((ch.context == x) & (ch.options == y).any(axis=1))[0])
                what = (f"prompt is {len(p)} tokens, over max_prompt_length = {self.max_prompt_length}"
                        if too_long_prompt else
                        f"prompt + response is {len(p) + len(r)} tokens, over the context of {self.max_length}")
                raise ValueError(f"record {m}: {what} (rejected, not truncated)")
            out.append((p + r, len(p)))
        return out

    def logprobs(self, model, encoded, batch_size: int = 64, grad: bool = False, device=None) -> torch.Tensor:
        """(len(encoded),) sum of response-token log-probabilities; without ``grad`` under no_grad."""
        device = device if device is not None else next(model.parameters()).device
        outs = []
        ctx = torch.enable_grad() if grad else torch.no_grad()
        with ctx:
            for b in range(0, len(encoded), batch_size):
                outs.append(self._batch(model, encoded[b: b + batch_size], device))
        if not outs:
            return torch.zeros(0)
        return torch.cat(outs)

    def _batch(self, model, batch, device) -> torch.Tensor:
        L = max(len(ids) for ids, _ in batch)
        B = len(batch)
        ids = torch.full((B, L), self.pad_id, dtype=torch.long)
        att = torch.zeros((B, L), dtype=torch.long)
        resp = torch.zeros((B, L), dtype=torch.bool)
        for r, (e, n_prompt) in enumerate(batch):
            ids[r, : len(e)] = torch.tensor(e)
            att[r, : len(e)] = 1
            resp[r, n_prompt: len(e)] = True
        ids, att, resp = ids.to(device), att.to(device), resp.to(device)
        logits = model(input_ids=ids, attention_mask=att).logits[:, :-1].float()
        logp = torch.log_softmax(logits, dim=-1).gather(2, ids[:, 1:, None]).squeeze(2)
        return (logp * resp[:, 1:]).sum(dim=1)
