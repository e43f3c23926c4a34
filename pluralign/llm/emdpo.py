"""EM-DPO (seed 001 Algorithm 1, App. B) over K LoRA adapters on one frozen pi_SFT, and its baselines.

:class:`LMEMDPOModel` is a :class:`pluralign.em.MixtureModel` for the package's one engine
(:class:`pluralign.em.MixtureEM`):

* ``log_likelihood``: the N x K matrix of per-user sums of log P_k(chosen | options, x) under adapter k's
  implicit reward beta log(pi_k / pi_SFT): Bradley-Terry for two options, the k-wise multinomial logit of
  eq. 17 for three or more (:func:`pluralign.dpo.kwise_dpo_logprobs`); pi_SFT's log-probabilities come
  from the cache of :class:`pluralign.llm.adapters.AdapterPolicies` (computed once per pair);
* ``m_step``: weighted DPO per adapter (:func:`pluralign.dpo.weighted_kwise_dpo_loss`) with the
  responsibilities gamma_ik as per-record weights, ``epochs`` passes of minibatch RMSprop (Table 4),
  warm-started at the previous adapter.  Records of weight exactly 0 are skipped (with hard assignments
  that is DPO on the component's own users).  ``DPOSettings.trainer`` picks the loop: "pluralign"
  (:func:`train_weighted_dpo`) or "trl" (:func:`pluralign.llm.trl.train_weighted_dpo_trl`, trl's
  ``DPOTrainer`` loop through :class:`pluralign.llm.trl.WeightedDPOTrainer`; the same steps, binary
  feedback only).

Monotonicity.  EM's marginal likelihood cannot decrease when each M-step does not decrease its weighted
objective Q_k = sum_i gamma_ik log P_k (a generalised EM).  Minibatch SGD on DPO's loss does not promise
that (a step can overshoot, and the objective is non-convex in the adapter), so ``monotone=True`` (the
default) evaluates Q_k on all records after each adapter's M-step and keeps the previous adapter when Q_k
went down; with it EM over adapters never decreases the marginal likelihood (``tests/llm``).  Seed 001
runs plain SGD (``monotone=False`` reproduces that).

Initialisation: k-means++ on per-user response embeddings (the engine's ``init="kmeans++"``), as the seed
suggests; :func:`user_response_features` gives mean(embedding of the chosen response - mean embedding of
the rejected ones) per user from MiniLM embeddings (:mod:`pluralign.pal.embed`).

Baselines (sec. 5.1, App. D.2): :func:`vanilla_dpo` (one adapter, all records), :func:`cluster_dpo`
(k-means with K = 2 on the mean embedding of each user's preferred texts, then DPO per cluster),
:func:`true_label_dpo` (DPO per true type).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import torch

from pluralign.dpo import kwise_dpo_logprobs, weighted_kwise_dpo_loss
from pluralign.em import EMConfig, MixtureEM
from pluralign.emdpo.model import user_preferred_features  # Cluster DPO's App. D.2 feature, shared with the tabular path
from pluralign.llm.adapters import AdapterPolicies
from pluralign.seeding import derive_int, torch_generator

__all__ = ["DPOSettings", "LMEMDPOModel", "LMFit", "train_weighted_dpo", "fit_em_dpo", "vanilla_dpo",
           "cluster_dpo", "true_label_dpo", "user_response_features", "user_preferred_features"]


TRAINERS = ("pluralign", "trl")
"""The weighted-DPO training loops (``DPOSettings.trainer``)."""


@dataclass
class DPOSettings:
    """One weighted DPO run (an M-step or a baseline fit); defaults from seed 001 Table 4 except lr."""

    beta: float = 0.1
    """DPO beta (Table 4)."""
    lr: float = 5e-7
    """Peak learning rate (Table 4: 5e-7 for full fine-tuning of Mistral-7B)."""
    batch_size: int = 4
    """Records per optimizer step (Table 4)."""
    epochs: int = 1
    """Passes over the records per M-step (Table 4)."""
    warmup_steps: int = 150
    """Linear learning-rate warmup steps (Table 4), restarted with every M-step."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip (Table 4)."""
    optimizer: str = "rmsprop"
    """rmsprop (Table 4) or adamw."""
    trainer: str = "pluralign"
    """Training loop of each weighted DPO run (EM-DPO's M-steps and the baselines): "pluralign"
    (:func:`train_weighted_dpo`) or "trl" (:func:`pluralign.llm.trl.train_weighted_dpo_trl`: one
    ``WeightedDPOTrainer`` run per adapter, the same objective, minibatches, optimizer, schedule and clip;
    binary feedback only). MMRA-LW's ``max_steps`` / ``resume`` runs always use pluralign's loop."""

    def __post_init__(self):
        if not float(self.beta) > 0:
            raise ValueError(f"beta: must be > 0, got {self.beta}")
        if not float(self.lr) > 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        for name in ("batch_size", "epochs"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or int(v) < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v!r}")
        if int(self.warmup_steps) < 0:
            raise ValueError(f"warmup_steps: must be >= 0, got {self.warmup_steps}")
        if not float(self.max_grad_norm) > 0:
            raise ValueError(f"max_grad_norm: must be > 0, got {self.max_grad_norm}")
        if self.optimizer not in ("rmsprop", "adamw"):
            raise ValueError(f"optimizer: expected 'rmsprop' or 'adamw', got {self.optimizer!r}")
        if self.trainer not in TRAINERS:
            raise ValueError(f"trainer: expected one of {TRAINERS}, got {self.trainer!r}")


def _record_arrays(policies: AdapterPolicies):
    ch = policies.data.choices
    return torch.as_tensor(policies.index), torch.as_tensor(ch.chosen), torch.as_tensor(ch.mask)


def record_logliks(policies: AdapterPolicies, pair_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """(M,) log P(chosen | options, x) of every record under a policy whose pair log-probs are given."""
    idx, chosen, mask = _record_arrays(policies)
    ref = policies.ref_logprobs()
    return kwise_dpo_logprobs(pair_logps[idx].double(), ref[idx].double(), beta, chosen=chosen, mask=mask)


def dpo_optimizer(params, s: DPOSettings, resume: dict | None = None):
    """(optimizer, scheduler, start step) of one weighted DPO run: RMSprop (Table 4) or AdamW (no weight
    decay) at ``s.lr`` with a linear warmup over ``s.warmup_steps`` steps; ``resume`` (a previous run's
    ``"resume"``) continues its optimizer state and step count. Both training loops use it."""
    if s.optimizer == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=s.lr)
    else:
        opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=0.0)
    start = 0
    if resume:
        opt.load_state_dict(resume["optimizer"])
        start = int(resume["step"])
    warm = max(int(s.warmup_steps), 0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: min(1.0, (start + t + 1) / warm) if warm else 1.0)
    return opt, sched, start


def kept_records(policies: AdapterPolicies, weights) -> tuple[torch.Tensor, torch.Tensor]:
    """((M,) float32 weights ``weights`` x the records' own weights, indices of the records of weight > 0);
    ``ValueError`` naming ``weights`` unless they are (M,) finite and >= 0."""
    rec_w = torch.as_tensor(policies.data.choices.weight, dtype=torch.float32)
    w = torch.as_tensor(np.asarray(weights, dtype=float), dtype=torch.float32) * rec_w
    if w.shape != rec_w.shape or not torch.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights: expected ({len(rec_w)},) finite non-negative weights")
    return w, torch.nonzero(w > 0).flatten()


def train_weighted_dpo(policies: AdapterPolicies, k: int, weights, s: DPOSettings,
                       generator: torch.Generator, max_steps: int | None = None, resume: dict | None = None) -> dict:
    """``s.epochs`` passes of minibatch weighted k-wise DPO on adapter k, in place.

    The minibatch loss is sum_{i in batch} w_i loss_i / batch_size (``normalize="count"``: an unbiased
    estimate of the weighted objective per record), records of weight 0 skipped; returns
    {"steps", "mean_loss"}.

    ``max_steps``: run exactly that many minibatches instead (reshuffling after each pass; "a few batches
    in D", Alg. 2 line 5).  ``resume``: None (a fresh optimizer); ``{}`` (fresh, and the optimizer state
    and global step come back as ``"resume"``); or a previous call's ``"resume"`` on the same adapter, so
    that several calls with changing weights are one optimizer trajectory with one warmup (MMRA-LW's
    gradient-descent player)."""
    idx, chosen, mask = _record_arrays(policies)
    w, keep = kept_records(policies, weights)
    if max_steps is not None and (isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 1):
        raise ValueError(f"max_steps: must be a positive integer, got {max_steps!r}")
    if keep.numel() == 0:
        return {"steps": 0, "mean_loss": float("nan"), **({"resume": resume} if resume is not None else {})}
    policies.use(k)
    params = [p for p in policies.adapter_params(k).values()]
    for p in params:
        p.requires_grad_(True)
    opt, sched, start = dpo_optimizer(params, s, resume)
    n_opt = idx.shape[1]
    steps, total = 0, 0.0

    def batches():
        for _ in range(s.epochs) if max_steps is None else itertools.count():  # passes until max_steps
            order = keep[torch.randperm(keep.numel(), generator=generator)]
            for b in range(0, order.numel(), s.batch_size):
                yield order[b: b + s.batch_size]

    for rows in batches():
        m = mask[rows]
        pair_ids = idx[rows][m]  # real options only
        lp_real = policies.policy_logprobs(k, pair_ids.tolist(), grad=True)
        lp = torch.zeros((rows.numel(), n_opt), dtype=lp_real.dtype, device=lp_real.device)
        lp = lp.masked_scatter(m.to(lp.device), lp_real)
        ref = policies.ref_logprobs(idx[rows].reshape(-1).tolist()).reshape(rows.numel(), n_opt).to(lp)
        loss = weighted_kwise_dpo_loss(lp, ref, s.beta, chosen=chosen[rows].to(lp.device),
                                       weights=w[rows].to(lp), mask=m.to(lp.device), normalize="count")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, s.max_grad_norm)
        opt.step()
        sched.step()
        steps += 1
        total += float(loss.detach())
        if max_steps is not None and steps >= max_steps:  # before the next pass draws its order
            break
    for p in params:
        p.requires_grad_(False)
    out = {"steps": steps, "mean_loss": total / max(steps, 1)}
    if resume is not None:
        out["resume"] = {"optimizer": opt.state_dict(), "step": start + steps}
    return out


def _trl_records(policies: AdapterPolicies, s: DPOSettings):
    """The trl dataset of ``policies`` when ``s.trainer == "trl"`` (a ``ValueError`` for k-wise records,
    before any training), else None."""
    if s.trainer != "trl":
        return None
    from pluralign.llm import trl as _trl

    return _trl.adapter_dataset(policies)


def _weighted_dpo(policies: AdapterPolicies, k: int, weights, s: DPOSettings, generator: torch.Generator,
                  trl_records=None) -> dict:
    """One weighted DPO run on adapter k by the loop ``s.trainer`` names."""
    if s.trainer == "trl":
        from pluralign.llm import trl as _trl

        return _trl.train_weighted_dpo_trl(policies, k, weights, s, generator, trl_records)
    return train_weighted_dpo(policies, k, weights, s, generator)


class LMEMDPOModel:
    """:class:`pluralign.em.MixtureModel` over the K adapters of ``policies``; params = K adapter states."""

    def __init__(self, policies: AdapterPolicies, dpo: DPOSettings, seed: int, monotone: bool = True):
        self.policies, self.dpo, self.monotone = policies, dpo, bool(monotone)
        self.user = torch.as_tensor(policies.data.choices.user)
        self.n_users = policies.data.choices.n_users
        self.rec_weight = torch.as_tensor(policies.data.choices.weight, dtype=torch.float64)
        self._gen = torch_generator(seed, "dpo_order")
        self._cache: tuple[int, torch.Tensor] | None = None  # (id of params, (M, K) record log-liks)
        self.history: list[dict] = []
        self._trl_records = _trl_records(policies, dpo)  # once per fit (trainer "trl": binary records only)

    def init_params(self, n_components: int, rng: np.random.Generator) -> list:
        if n_components > self.policies.K:
            raise ValueError(f"n_components: {n_components} > the {self.policies.K} adapters")
        g = torch_generator(int(rng.integers(2**31)), "lora_init")
        return [self.policies.init_state(g) for _ in range(n_components)]

    def _record_ll(self, k: int, state) -> torch.Tensor:
        return record_logliks(self.policies, self.policies.pair_logprobs(k, state), self.dpo.beta)

    def _records(self, params) -> torch.Tensor:
        if self._cache is not None and self._cache[0] == id(params):
            return self._cache[1]
        rec = torch.stack([self._record_ll(k, st) for k, st in enumerate(params)], dim=1)
        self._cache = (id(params), rec)
        return rec

    def log_likelihood(self, params) -> np.ndarray:
        rec = self._records(params) * self.rec_weight[:, None]
        out = torch.zeros((self.n_users, rec.shape[1]), dtype=torch.float64)
        out.index_add_(0, self.user, rec)
        return out.numpy()

    def m_step(self, params, weights) -> list:
        weights = np.asarray(weights, dtype=float)
        rec_w = weights[self.user.numpy()]
        old = self._records(params) if self.monotone else None
        new_params, new_rec, info = [], [], []
        for k, st in enumerate(params):
            wk = rec_w[:, k]
            if wk.sum() <= 0:  # an empty component keeps its adapter (the engine's contract)
                new_params.append(st)
                if old is not None:
                    new_rec.append(old[:, k])
                info.append({"k": k, "steps": 0, "kept_previous": True})
                continue
            self.policies.load_state(k, st)
            stats = _weighted_dpo(self.policies, k, wk, self.dpo, self._gen, self._trl_records)
            cand = self.policies.state(k)
            kept = False
            if old is not None:
                ll = self._record_ll(k, cand)
                wt = torch.as_tensor(wk * self.policies.data.choices.weight)
                q_new, q_old = float((wt * ll).sum()), float((wt * old[:, k]).sum())
                stats.update(q_old=q_old, q_new=q_new)
                if q_new < q_old:
                    cand, ll, kept = st, old[:, k], True
                new_rec.append(ll)
            new_params.append(cand)
            info.append({"k": k, **stats, "kept_previous": kept})
        self.history.append({"m_step": len(self.history), "adapters": info})
        if old is not None:
            self._cache = (id(new_params), torch.stack(new_rec, dim=1))
        return new_params


@dataclass
class LMFit:
    """K learned adapters (states) and how users were assigned to them."""

    states: list
    """K adapter states (load into ``AdapterPolicies`` to score)."""
    labels: np.ndarray
    """(N,) hard assignment of each user."""
    responsibilities: np.ndarray
    """(N, K) soft assignment (one-hot for the hard baselines)."""
    rho: np.ndarray
    """(K,) estimated type proportions."""
    info: dict = field(default_factory=dict)
    """Training record (EM trace, M-step statistics)."""


def fit_em_dpo(policies: AdapterPolicies, n_types: int, dpo: DPOSettings, user_features, max_iter: int = 5,
               n_restarts: int = 1, tol: float = 0.0, seed: int = 0, monotone: bool = True,
               init: str = "kmeans++") -> LMFit:
    """EM-DPO with K = ``n_types`` adapters through :class:`pluralign.em.MixtureEM` (soft assignment,
    estimated prior, eq. 36-38); ``max_iter`` E/M iterations after the initial M-step on the k-means
    assignment (Table 4: 5 EM iterations)."""
    model = LMEMDPOModel(policies, dpo, seed=derive_int(seed, "model"), monotone=monotone)
    cfg = EMConfig(n_components=int(n_types), assignment="soft", prior="estimate", init=init,
                   n_restarts=int(n_restarts), max_iter=int(max_iter), tol=float(tol), seed=int(seed))
    em = MixtureEM(model, cfg).fit(user_features=user_features if init == "kmeans++" else None)
    return LMFit(list(em.params_), em.labels_, em.responsibilities_, em.rho_,
                 {"trace": em.trace_, "m_steps": model.history, "n_iter": em.n_iter_,
                  "marginal_ll": em.trace_[-1]["marginal_ll"]})


def _hard_fit(policies: AdapterPolicies, labels, K: int, dpo: DPOSettings, seed: int, init_seed: int) -> LMFit:
    labels = np.asarray(labels, dtype=int)
    onehot = np.eye(K)[labels]
    user = policies.data.choices.user
    g = torch_generator(seed, "dpo_order")
    gi = torch_generator(init_seed, "lora_init")
    records = _trl_records(policies, dpo)
    states, info = [], []
    for k in range(K):
        policies.load_state(k, policies.init_state(gi))
        info.append(_weighted_dpo(policies, k, onehot[user, k], dpo, g, records))
        states.append(policies.state(k))
    return LMFit(states, labels, onehot, onehot.mean(axis=0), {"adapters": info})


def vanilla_dpo(policies: AdapterPolicies, dpo: DPOSettings, seed: int = 0) -> LMFit:
    """One adapter trained on every record (K = 1)."""
    return _hard_fit(policies, np.zeros(policies.data.choices.n_users, dtype=int), 1, dpo, seed, seed)


def true_label_dpo(policies: AdapterPolicies, types, n_types: int, dpo: DPOSettings, seed: int = 0) -> LMFit:
    """DPO per true type (the oracle that knows every user's type)."""
    return _hard_fit(policies, types, n_types, dpo, seed, seed)


def cluster_dpo(policies: AdapterPolicies, user_features, dpo: DPOSettings, n_clusters: int = 2,
                seed: int = 0) -> LMFit:
    """App. D.2: k-means (K = 2 by default, 10 inits) on each user's mean preferred-text embedding, then
    DPO per cluster."""
    from sklearn.cluster import KMeans

    X = np.asarray(user_features, dtype=float)
    if X.shape[0] != policies.data.choices.n_users:
        raise ValueError(f"user_features: expected {policies.data.choices.n_users} rows, got {X.shape[0]}")
    labels = KMeans(int(n_clusters), n_init=10, random_state=derive_int(seed, "kmeans") % 2**31).fit_predict(X)
    return _hard_fit(policies, labels, int(n_clusters), dpo, seed, seed)


def _per_user_mean(rows: np.ndarray, user: np.ndarray, n_users: int) -> np.ndarray:
    out = np.zeros((n_users, rows.shape[1]))
    cnt = np.zeros(n_users)
    np.add.at(out, user, rows)
    np.add.at(cnt, user, 1.0)
    return out / np.maximum(cnt, 1.0)[:, None]


def user_response_features(choices, response_emb) -> np.ndarray:
    """(N, d) per user: mean over records of emb(chosen) - mean emb(the other options) (EM's k-means init)."""
    E = np.asarray(response_emb, dtype=float)[choices.options]  # (M, n, d)
    rows = np.arange(len(choices.chosen))
    ch = E[rows, choices.chosen]
    m = choices.mask.astype(float)
    rest = ((E * m[:, :, None]).sum(axis=1) - ch) / np.maximum(m.sum(axis=1) - 1, 1)[:, None]
    return _per_user_mean(ch - rest, choices.user, choices.n_users)
