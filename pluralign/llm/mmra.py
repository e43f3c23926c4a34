"""MMRA-AE (seed 001 Algorithm 4, App. C eq. 39) over LoRA adapters, with regrets estimated from samples.

For adapters (candidate policies) pi_j and the K learned groups' implicit rewards
r̂_k(x, y) = beta log(pi_k(y | x) / pi_SFT(y | x)) (the EM-DPO adapters), Algorithm 4's discrepancies are

    L[k, j] = E_{x ~ D, y ~ pi_j(. | x)} [ r̂_k(x, y) ],

estimated by sampling ``n_per_prompt`` completions of every prompt from every candidate (ancestral
sampling from an explicit ``torch.Generator``, until EOS or ``max_new_tokens``) and scoring the sampled
token sequences — exactly the tokens drawn, not a re-tokenisation of their text — under each group's
adapter and pi_SFT.  The estimated regret table is T[k, j] = L[k, k] - L[k, j] (group k's own adapter is
its estimated optimum), the game is min_w max_p p^T [0; T] w (the null row z0 of eq. 39), solved by
:func:`pluralign.theory.zero_sum.min_max_regret` (the LP; ``method="optimistic_hedge"`` is the seed's
dynamics).  Extra candidates (e.g. vanilla DPO's adapter) are scored by the same K rewards, giving
Table 3's layout: regret per group and max for MMRA-AE, uniform sampling over the K adapters and vanilla
DPO.  The regrets are the estimated ones (the K learned rewards), as the seed evaluates them.

Beta scales T by a positive constant (Alg. 4 prints L without beta; the argmin is the same); regrets
here are in reward units (with beta).
"""

from __future__ import annotations

import numpy as np
import torch

from pluralign.llm.adapters import AdapterPolicies

__all__ = ["sample_completions", "discrepancy_matrix", "mmra_ae_adapters"]


@torch.no_grad()
def sample_completions(policies: AdapterPolicies, k: int | None, prompts, n_per_prompt: int, max_new_tokens: int,
                       generator: torch.Generator, temperature: float = 1.0) -> list[tuple[list[int], int]]:
    """``n_per_prompt`` sampled completions of every prompt from adapter k (None: pi_SFT), as encoded
    sequences (token ids of BOS + prompt + completion + EOS, prompt length) ready for scoring."""
    if int(n_per_prompt) < 1 or int(max_new_tokens) < 1:
        raise ValueError("n_per_prompt, max_new_tokens: must be >= 1")
    if not float(temperature) > 0:
        raise ValueError(f"temperature: must be > 0, got {temperature}")
    tok, model, dev = policies.scorer.tok, policies.model, policies.device
    eos = tok.eos_token_id
    if eos is None:
        raise ValueError("tokenizer: sampling needs an EOS token")
    bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
    out = []
    ctx = model.disable_adapter() if k is None else _active(policies, k)
    with ctx:
        for prompt in prompts:
            p_ids = bos + tok(str(prompt).rstrip(), add_special_tokens=False)["input_ids"]
            if len(p_ids) + int(max_new_tokens) > policies.scorer.max_length:
                raise ValueError(f"max_new_tokens: prompt {prompt!r} ({len(p_ids)} tokens) + {max_new_tokens} "
                                 f"exceeds the context of {policies.scorer.max_length}")
            n = int(n_per_prompt)
            ids = torch.tensor([p_ids] * n, device=dev)
            res = model(input_ids=ids, use_cache=True)
            past, logits = res.past_key_values, res.logits[:, -1]
            gen = torch.full((n, 0), eos, dtype=torch.long)
            done = torch.zeros(n, dtype=torch.bool)
            for _ in range(int(max_new_tokens)):
                probs = torch.softmax(logits.float().cpu() / float(temperature), dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                nxt = torch.where(done, torch.full_like(nxt, eos), nxt)
                gen = torch.cat([gen, nxt[:, None]], dim=1)
                done |= nxt == eos
                if bool(done.all()):
                    break
                res = model(input_ids=nxt[:, None].to(dev), past_key_values=past, use_cache=True)
                past, logits = res.past_key_values, res.logits[:, -1]
            for row in gen.tolist():
                comp = row[: row.index(eos) + 1] if eos in row else row  # truncated at max_new_tokens
                out.append((p_ids + comp, len(p_ids)))
    return out


class _active:
    def __init__(self, policies: AdapterPolicies, k: int):
        self.policies, self.k = policies, int(k)

    def __enter__(self):
        self.policies.use(self.k)

    def __exit__(self, *exc):
        return False


def _score(policies: AdapterPolicies, k: int | None, encoded) -> torch.Tensor:
    if k is None:
        with policies.model.disable_adapter():
            return policies._score(encoded)
    policies.use(k)
    return policies._score(encoded)


def discrepancy_matrix(policies: AdapterPolicies, group_states, candidate_states, prompts, n_per_prompt: int,
                       max_new_tokens: int, beta: float, generator: torch.Generator) -> np.ndarray:
    """(K groups, J candidates) L[k, j] = mean over samples y ~ pi_j of beta log(pi_k / pi_SFT)(y | x)."""
    K, J = len(group_states), len(candidate_states)
    L = np.zeros((K, J))
    for j, st in enumerate(candidate_states):
        policies.load_state(0, st)
        enc = sample_completions(policies, 0, prompts, n_per_prompt, max_new_tokens, generator)
        ref = _score(policies, None, enc)
        for k, gst in enumerate(group_states):
            policies.load_state(0, gst)
            L[k, j] = float((beta * (_score(policies, 0, enc) - ref)).mean())
    return L


def mmra_ae_adapters(policies: AdapterPolicies, group_states, prompts, beta: float, generator: torch.Generator,
                     n_per_prompt: int = 1, max_new_tokens: int = 32, extra_candidates: dict | None = None,
                     method: str = "lp") -> dict:
    """MMRA-AE over the K group adapters (Alg. 4), with Table 3's comparison rows.

    Returns {"L", "T" (K x J estimated regrets), "w" (AE weights over the K adapters), "regrets": {row:
    per-group regrets}, "max_regret": {row: max}} for rows "mmra_ae", "uniform" and each extra candidate."""
    from pluralign.theory.zero_sum import min_max_regret

    extra = dict(extra_candidates or {})
    cands = list(group_states) + list(extra.values())
    L = discrepancy_matrix(policies, group_states, cands, prompts, n_per_prompt, max_new_tokens, beta, generator)
    K = len(group_states)
    T = np.diag(L)[:K, None] - L  # T[k, j] = L[k, k] - L[k, j]
    R = np.vstack([np.zeros((1, K)), T[:, :K]])
    sol = min_max_regret(R, method=method)
    w = np.asarray(sol.w, dtype=float)
    rows = {"mmra_ae": T[:, :K] @ w, "uniform": T[:, :K].mean(axis=1)}
    for i, name in enumerate(extra):
        rows[name] = T[:, K + i]
    return {"L": L, "T": T, "w": w, "regrets": {k: v.tolist() for k, v in rows.items()},
            "max_regret": {k: float(np.max(v)) for k, v in rows.items()}}
