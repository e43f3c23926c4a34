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

__all__ = ["sample_completions", "expected_rewards", "discrepancy_matrix", "mmra_ae_adapters", "mmra_lw_adapters"]


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


def expected_rewards(policies: AdapterPolicies, group_states, candidate_state, prompts, n_per_prompt: int,
                     max_new_tokens: int, beta: float, generator: torch.Generator) -> np.ndarray:
    """(K,) column of Algorithm 4's L: mean over samples y ~ pi_cand of beta log(pi_k / pi_SFT)(y | x)
    for every group k (adapter slot 0 is loaded with each state in turn)."""
    policies.load_state(0, candidate_state)
    enc = sample_completions(policies, 0, prompts, n_per_prompt, max_new_tokens, generator)
    ref = _score(policies, None, enc)
    col = np.zeros(len(group_states))
    for k, gst in enumerate(group_states):
        policies.load_state(0, gst)
        col[k] = float((beta * (_score(policies, 0, enc) - ref)).mean())
    return col


def discrepancy_matrix(policies: AdapterPolicies, group_states, candidate_states, prompts, n_per_prompt: int,
                       max_new_tokens: int, beta: float, generator: torch.Generator) -> np.ndarray:
    """(K groups, J candidates) L[k, j] = mean over samples y ~ pi_j of beta log(pi_k / pi_SFT)(y | x)."""
    cols = [expected_rewards(policies, group_states, st, prompts, n_per_prompt, max_new_tokens, beta, generator)
            for st in candidate_states]
    return np.stack(cols, axis=1) if cols else np.zeros((len(group_states), 0))


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


def mmra_lw_adapters(policies: AdapterPolicies, group_states, responsibilities, prompts, dpo, seed: int,
                     n_iter: int = 20, batches_per_iter: int = 250, eta: float = 0.01, n_per_prompt: int = 1,
                     max_new_tokens: int = 32) -> dict:
    """MMRA-LW (seed 001 Algorithm 2) on adapter slot 0: one policy against multiplicative weights over
    the K groups.

    Alg. 2 as printed: w^0 = 1/K, pi^0 = pi_SFT (line 2: a fresh adapter, B = 0); for each of the
    ``n_iter`` MWU iterations (Table 5: 20) every user i gets the weight gamma_i = sum_k w_k gamma_ik
    (line 4, ``responsibilities`` = EM-DPO's posterior gamma, rows on the simplex); ``batches_per_iter``
    minibatches (Table 5: 250) of weighted DPO as in Algorithm 1 (:func:`pluralign.llm.train_weighted_dpo`,
    the k-wise loss of eq. 17 with the records' users' gamma_i as weights; one optimizer trajectory over
    all iterations) give pi^t (lines 5-7); the regrets of eq. 4,
    R_k(pi^t) = E_{pi_k^*}[r̂_k] - E_{pi^t}[r̂_k] with r̂_k = beta log(pi_k^* / pi_SFT), are estimated
    from samples (:func:`expected_rewards`; E_{pi_k^*}[r̂_k] once at the start) (line 8); and the weights
    move by :func:`pluralign.mmra.mwu_update` with step ``eta`` (Table 5: 0.01) (line 9).  Line 9 prints
    w_k^t ∝ exp(R_k(pi) eta); we read it as the multiplicative-weights update w_k^t ∝ w_k^{t-1}
    exp(eta R_k(pi^t)) (sec. 3: "the maximizing player using multiplicative weights updates"), the same
    step as the tabular :func:`pluralign.mmra.mmra_lw`.  The output is the last policy pi^T (Alg. 2 prints
    no averaging).  With eta = 0 the weights stay uniform, gamma_i = 1/K for every user, and this is
    weighted DPO with the constant weight 1/K (tested).

    ``dpo``: :class:`pluralign.llm.DPOSettings` (lr, batch size, warmup over the whole trajectory);
    generators: ``torch_generator(seed, "mmra_lw", "lora_init" | "order" | "sample")``.  Returns {"state"
    (pi^T's LoRA state), "w" ((T + 1, K) weights, w^0 first), "regrets" ((T, K) in-loop estimates),
    "diag" ((K,) E_{pi_k^*} r̂_k), "losses" (mean weighted DPO loss per iteration)}."""
    from pluralign.llm.emdpo import train_weighted_dpo
    from pluralign.mmra import check_responsibilities, mwu_update
    from pluralign.seeding import torch_generator

    K = len(group_states)
    if K < 1:
        raise ValueError("group_states: MMRA-LW needs at least one group adapter")
    G = check_responsibilities(responsibilities, policies.data.choices.n_users, K)
    for name, v in (("n_iter", n_iter), ("batches_per_iter", batches_per_iter)):
        if isinstance(v, bool) or int(v) != v or int(v) < 1:
            raise ValueError(f"{name}: must be a positive integer, got {v!r}")
    if not (np.isfinite(eta) and float(eta) >= 0):
        raise ValueError(f"eta: must be a finite number >= 0, got {eta}")
    g_order = torch_generator(seed, "mmra_lw", "order")
    g_sample = torch_generator(seed, "mmra_lw", "sample")
    beta = float(dpo.beta)
    diag = np.array([expected_rewards(policies, [st], st, prompts, n_per_prompt, max_new_tokens, beta,
                                      g_sample)[0] for st in group_states])
    state = policies.init_state(torch_generator(seed, "mmra_lw", "lora_init"))  # B = 0: pi^0 = pi_SFT
    user = policies.data.choices.user
    w = np.full(K, 1.0 / K)
    ws, regs, losses, resume = [w], [], [], {}
    for _ in range(int(n_iter)):
        gamma = G @ w  # line 4
        policies.load_state(0, state)
        st = train_weighted_dpo(policies, 0, gamma[user], dpo, g_order, max_steps=int(batches_per_iter),
                                resume=resume)  # lines 5-7
        resume = st["resume"]
        state = policies.state(0)
        R = diag - expected_rewards(policies, group_states, state, prompts, n_per_prompt, max_new_tokens, beta,
                                    g_sample)  # line 8
        w = mwu_update(w, R, eta)  # line 9
        ws.append(w)
        regs.append(R)
        losses.append(st["mean_loss"])
    policies.load_state(0, state)
    return {"state": state, "w": np.stack(ws), "regrets": np.stack(regs), "diag": diag, "losses": losses}
