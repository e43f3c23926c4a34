"""PREC's K cluster reward decoders over frozen encoder features (seed 000, sec. 3.2-3.3).

Each cluster k has a reward decoder r_k that maps the frozen encoder feature e_t of a step (the shared
self-predictive encoder of seed 000 is trained without labels and then frozen) to a per-step reward.
A segment sigma = (e_1, ..., e_T) gets the segment score

    S_k(sigma) = sum_t r_k(e_t)              (``aggregate="sum"``, the default: eq. 4 / eq. 6 as printed),

("R_psi_k(tau_i,m) = sum_{t=1}^T r_psi_k(s_t, a_t)", sec. 3.3 eq. 6; eq. 4 the same for one decoder).
``aggregate="mean"`` scores (1/T) sum_t r_k instead: the same label model, whose per-step reward is T times
the printed one for the same fit (every MuJoCo PREC run before 2026-12-02 used it; kept for reruns of
those).

and the probability that a user of cluster k calls it good is sigma(S_k - tau) (threshold-logistic, the
rating model of :func:`pluralign.choice.rating_loglik`; tau is fixed, the decoder's bias absorbs it).
The decoders are fitted with the leaky-weighted binary cross-entropy of eq. 13,

    L(theta) = - sum_k  sum_i w_ik sum_{j in D_i} c_j [ y_j log s(S_k(sigma_j) - tau) + (1 - y_j) log s(tau - S_k(sigma_j)) ]
                        / sum_i w_ik |D_i|_c ,

where w_ik = max(1[z_i = k], nu) are the leaky EM weights (any N x K weights work: soft posteriors, hard
one-hot), y_j in {0, 1/2, 1} the label (1/2 = B-Pref "equal") and c_j >= 0 the record weight
(0 = "skip"). Each cluster's term is normalised by its total weight, which rescales each cluster's
(separate) objective by a positive constant and so leaves its minimiser unchanged.

All K decoders are evaluated in ONE batched tensor computation, never a Python loop over clusters: the
hidden weights of all clusters, a (K, d_in, d_hidden) tensor, are stacked into one (d_in, K * d_hidden)
matrix and applied to all steps of all segments in a single GEMM; the output layer is an einsum over the
(K, d_hidden) output weights. Because the output layer is linear, the sum over the T steps of eq. 6 is
taken on the hidden activations first (exactly equal, T times fewer output products). When most
(record, cluster) weights are zero (hard assignment, one decoder per user) the M-step instead evaluates
only the weighted pairs with one ``torch.bmm``. ``benchmarks/decoders.py`` measures the gain over
training the K decoders one after another.

:class:`DecoderMixture` adapts the decoders to the :class:`pluralign.em.MixtureModel` protocol so that
:class:`pluralign.em.MixtureEM` runs PREC's leaky EM (``EMConfig(assignment="leaky", leak=nu)``). Its
M-step is torch (Adam, or full-batch L-BFGS in float64 for an exact convex M-step with the linear
decoder ``n_hidden=0``), seeded through an explicit ``torch.Generator``. Nothing here depends on gym or
SB3: features come in as arrays.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from pluralign.choice import rating_loglik
from pluralign.data import Ratings

__all__ = ["DecoderConfig", "ClusterDecoders", "leaky_bce_loss", "fit_decoders", "DecoderMixture"]


@dataclass
class DecoderConfig:
    """Architecture and M-step of the cluster decoders."""

    n_hidden: int = 32
    """Width of the hidden layer; 0 = a linear (convex) decoder r_k(e) = a_k . e + b_k."""
    aggregate: Literal["mean", "sum"] = "sum"
    """Segment score: sum (default; eq. 4 / eq. 6 as printed) or mean of the per-step rewards."""
    tau: float = 0.0
    """Threshold of P(good) = sigma(S - tau)."""
    optimizer: Literal["adam", "lbfgs"] = "adam"
    """adam: n_steps Adam steps (mini-batch if batch_size); lbfgs: full-batch L-BFGS to tolerance."""
    n_steps: int = 200
    """Adam steps per M-step, or the L-BFGS iteration cap."""
    lr: float = 1e-2
    """Adam learning rate (L-BFGS uses lr = 1 with a strong-Wolfe line search)."""
    weight_decay: float = 0.0
    """L2 penalty on the decoder weights (Adam's decoupled form); keep 0 for an exact leaky-ELBO M-step."""
    batch_size: int | None = None
    """Records per Adam step (None = full batch); batches drawn with the decoders' torch.Generator."""
    tol: float = 1e-12
    """L-BFGS gradient / change tolerance."""
    dtype: Literal["float32", "float64"] = "float32"
    """Tensor dtype (float64 for exact M-steps)."""

    def __post_init__(self) -> None:
        if int(self.n_hidden) < 0:
            raise ValueError(f"n_hidden: must be >= 0, got {self.n_hidden}")
        if self.aggregate not in ("mean", "sum"):
            raise ValueError(f"aggregate: must be mean or sum, got {self.aggregate!r}")
        if self.optimizer not in ("adam", "lbfgs"):
            raise ValueError(f"optimizer: must be adam or lbfgs, got {self.optimizer!r}")
        if int(self.n_steps) < 1:
            raise ValueError(f"n_steps: must be >= 1, got {self.n_steps}")
        if not (float(self.lr) > 0) or float(self.weight_decay) < 0 or not (float(self.tol) > 0):
            raise ValueError("lr / weight_decay / tol: lr and tol must be > 0, weight_decay >= 0")
        if self.batch_size is not None and int(self.batch_size) < 1:
            raise ValueError(f"batch_size: must be >= 1 or None, got {self.batch_size}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype: must be float32 or float64, got {self.dtype!r}")
        if not np.isfinite(float(self.tau)):
            raise ValueError(f"tau: must be finite, got {self.tau}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


def _uniform(shape, bound: float, generator: torch.Generator, dtype) -> torch.Tensor:
    return (torch.rand(shape, generator=generator, dtype=dtype) * 2.0 - 1.0) * bound


class ClusterDecoders(torch.nn.Module):
    """K per-step reward decoders evaluated together.

    Hidden decoder: r_k(e) = W2_k . leaky_relu(e W1_k + b1_k, 0.01) + b2_k; linear decoder
    (``n_hidden=0``): r_k(e) = e . W2_k + b2_k. The parameter layout is public and stable (the MuJoCo
    pipeline slices cluster k out of it): ``W1`` (K, d_in, h), ``b1`` (K, 1, h), ``W2`` (K, h, 1) or
    (K, d_in, 1) when linear, ``b2`` (K, 1, 1). Initialised uniformly in +-1/sqrt(fan_in) with
    ``generator``; ``b2`` starts at 0.
    """

    def __init__(
        self,
        n_clusters: int,
        d_in: int,
        n_hidden: int = 32,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        K, d, h = int(n_clusters), int(d_in), int(n_hidden)
        if K < 1 or d < 1 or h < 0:
            raise ValueError(f"n_clusters / d_in / n_hidden: need K >= 1, d_in >= 1, n_hidden >= 0; got {K}, {d}, {h}")
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        self.n_clusters, self.d_in, self.n_hidden = K, d, h
        if h > 0:
            self.W1 = torch.nn.Parameter(_uniform((K, d, h), d**-0.5, g, dtype))
            self.b1 = torch.nn.Parameter(_uniform((K, 1, h), d**-0.5, g, dtype))
            self.W2 = torch.nn.Parameter(_uniform((K, h, 1), h**-0.5, g, dtype))
        else:
            self.W2 = torch.nn.Parameter(_uniform((K, d, 1), d**-0.5, g, dtype))
        self.b2 = torch.nn.Parameter(torch.zeros((K, 1, 1), dtype=dtype))

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden pre-activations (M, T, K * h) of every cluster: ONE GEMM with the stacked (d_in, K * h)
        weights (no loop over clusters)."""
        M, T, d = x.shape
        K, h = self.n_clusters, self.n_hidden
        W = self.W1.permute(1, 0, 2).reshape(d, K * h)
        return torch.addmm(self.b1.reshape(1, K * h), x.reshape(M * T, d), W).view(M, T, K * h)

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations (M, T, K, h)."""
        M, T, _ = x.shape
        return F.leaky_relu(self._pre(x), 0.01).view(M, T, self.n_clusters, self.n_hidden)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[2] != self.d_in:
            raise ValueError(f"features: expected (M, T, {self.d_in}), got {tuple(x.shape)}")

    def step_rewards(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step rewards (K, M, T) of features x (M, T, d_in), all clusters in one batched computation."""
        self._check(x)
        a = self.W2[:, :, 0]  # (K, h) or (K, d)
        if self.n_hidden > 0:
            r = torch.einsum("mtkh,kh->kmt", self._hidden(x), a)
        else:
            r = torch.einsum("mtd,kd->kmt", x, a)
        return r + self.b2

    def segment_scores(self, x: torch.Tensor, aggregate: str = "sum") -> torch.Tensor:
        """Segment scores S_k (K, M) of eq. 6 (the sum over the T steps; ``"mean"``: the mean).

        The output layer is linear, so the mean over steps is taken on the hidden activations first
        (exactly equal, T times cheaper); the sum is T times that mean.
        """
        self._check(x)
        T = x.shape[1]
        a = self.W2[:, :, 0]
        if self.n_hidden > 0:
            hm = F.leaky_relu(self._pre(x), 0.01).sum(dim=1).view(x.shape[0], self.n_clusters, self.n_hidden) / T
        else:
            hm = x.mean(dim=1)[:, None, :].expand(-1, self.n_clusters, -1)
        s = torch.einsum("mkh,kh->km", hm, a) + self.b2[:, :, 0]
        return s if aggregate == "mean" else T * s

    def pair_scores(self, x: torch.Tensor, cluster: torch.Tensor, aggregate: str = "sum") -> torch.Tensor:
        """Scores (P,) of segment x[p] (P, T, d_in) under decoder cluster[p] — one batched GEMM (bmm);
        used when most (record, cluster) weights are zero (hard assignment, one decoder per user)."""
        self._check(x)
        T = x.shape[1]
        a = self.W2[cluster, :, 0]  # (P, h)
        if self.n_hidden > 0:
            hid = F.leaky_relu(torch.bmm(x, self.W1[cluster]) + self.b1[cluster], 0.01)  # (P, T, h)
            s = (hid.mean(dim=1) * a).sum(dim=1)
        else:
            s = (x.mean(dim=1) * a).sum(dim=1)
        s = s + self.b2[cluster, 0, 0]
        return s if aggregate == "mean" else T * s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.segment_scores(x)


def leaky_bce_loss(scores, label, record_weight, cluster_weight, tau: float = 0.0) -> torch.Tensor:
    """Leaky-weighted BCE of eq. 13 (seed 000), each cluster's term normalised by its total weight.

    ``scores`` (K, M) segment scores; ``label`` (M,) in {0, 1/2, 1}; ``record_weight`` (M,) >= 0;
    ``cluster_weight`` (M, K): the EM weight of record m's user for cluster k. Clusters with zero total
    weight contribute nothing.
    """
    nll = -rating_loglik(scores, label[None, :], tau, validate=False)  # (K, M)
    W = cluster_weight.T * record_weight[None, :]  # (K, M)
    tot = W.sum(dim=1)
    per_k = (W * nll).sum(dim=1) / torch.clamp(tot, min=torch.finfo(W.dtype).tiny)
    return torch.where(tot > 0, per_k, torch.zeros_like(per_k)).sum()


def fit_decoders(
    decoders: ClusterDecoders,
    features: torch.Tensor,
    label: torch.Tensor,
    record_weight: torch.Tensor,
    cluster_weight: torch.Tensor,
    config: DecoderConfig,
    generator: torch.Generator,
    segment_index: torch.Tensor | None = None,
) -> list[float]:
    """Train all K decoders together on the leaky-weighted BCE (eq. 13). Returns the loss history.

    ``features`` (S, T, d_in) segment features; record m uses ``features[segment_index[m]]`` (default:
    record m uses segment m). Warm-started at the current decoder weights, so an L-BFGS M-step never
    increases the loss.
    """
    idx = segment_index if segment_index is not None else torch.arange(features.shape[0])
    history: list[float] = []
    params = [p for p in decoders.parameters()]
    K = decoders.n_clusters
    W = cluster_weight * record_weight[:, None]  # (M, K)
    rec_nz, k_nz = torch.nonzero(W > 0, as_tuple=True)
    sparse = K > 1 and rec_nz.numel() < 0.5 * W.numel()
    if sparse:  # evaluate only the (record, cluster) pairs that carry weight, in one bmm
        x_p, y_p, w_p = features[idx[rec_nz]], label[rec_nz], W[rec_nz, k_nz]
        tot = torch.zeros(K, dtype=W.dtype).index_add_(0, k_nz, w_p)

    def full_loss() -> torch.Tensor:
        if sparse:
            nll = -rating_loglik(decoders.pair_scores(x_p, k_nz, config.aggregate), y_p, config.tau, validate=False)
            per_k = torch.zeros(K, dtype=nll.dtype).index_add(0, k_nz, w_p * nll)
            return (per_k[tot > 0] / tot[tot > 0]).sum()
        sc = decoders.segment_scores(features, config.aggregate)[:, idx]
        return leaky_bce_loss(sc, label, record_weight, cluster_weight, config.tau)

    if config.optimizer == "lbfgs":
        opt = torch.optim.LBFGS(
            params,
            lr=1.0,
            max_iter=int(config.n_steps),
            tolerance_grad=config.tol,
            tolerance_change=config.tol,
            history_size=20,
            line_search_fn="strong_wolfe",
        )

        def closure():
            opt.zero_grad()
            loss = full_loss()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            history.append(float(full_loss()))
        return history

    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    M = idx.shape[0]
    bs = config.batch_size
    for _ in range(int(config.n_steps)):
        if bs is None or bs >= M:
            loss = full_loss()
        else:
            b = torch.randperm(M, generator=generator)[:bs]
            used, inv = torch.unique(idx[b], return_inverse=True)
            sc = decoders.segment_scores(features[used], config.aggregate)[:, inv]
            loss = leaky_bce_loss(sc, label[b], record_weight[b], cluster_weight[b], config.tau)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    return history


class DecoderMixture:
    """PREC's cluster decoders as a :class:`pluralign.em.MixtureModel` (leaky EM, seed 000 eq. 10-13).

    ``ratings``: good / bad labels (label 1/2 and weight 0 allowed). Segment features come from
    ``segment_features`` (S, T, d_in) indexed by ``ratings.segment`` (shared segments are evaluated once)
    or, when it is None, from ``ratings.features`` (M, T, d_in). ``params`` are :class:`ClusterDecoders`.

    log L_ik = sum_{j in D_i} c_j log P(y_j | S_k(sigma_j)) (threshold-logistic; label 1/2 scores
    (1/2) log s + (1/2) log (1 - s)); the M-step runs :func:`fit_decoders` with the EM weights, warm-started.
    ``seed`` seeds the torch.Generator; ``init_params`` reseeds it from the engine's rng, so every restart
    is reproducible.
    """

    def __init__(self, ratings: Ratings, segment_features=None, config: DecoderConfig | None = None, seed: int = 0):
        if not isinstance(ratings, Ratings):
            raise ValueError("ratings: expected a pluralign.data.Ratings")
        self.config = config if config is not None else DecoderConfig()
        dt = self.config.torch_dtype
        if segment_features is not None:
            feats = np.asarray(segment_features, dtype=float)
            if feats.ndim != 3 or not np.all(np.isfinite(feats)):
                raise ValueError(f"segment_features: expected a finite (S, T, d) array, got shape {feats.shape}")
            if ratings.segment is None:
                raise ValueError("ratings: segment ids are needed to index segment_features")
            if ratings.segment.min() < 0 or ratings.segment.max() >= feats.shape[0]:
                raise ValueError(f"ratings: segment id out of range 0..{feats.shape[0] - 1}")
            used, inv = np.unique(ratings.segment, return_inverse=True)
            self.features = torch.as_tensor(feats[used], dtype=dt)
            self.segment_index = torch.as_tensor(inv, dtype=torch.long)
        else:
            if ratings.features is None or ratings.features.ndim != 3:
                raise ValueError("ratings: needs per-step features (M, T, d) or pass segment_features")
            self.features = torch.as_tensor(ratings.features, dtype=dt)
            self.segment_index = torch.arange(len(ratings))
        self.label = torch.as_tensor(ratings.label, dtype=dt)
        self.record_weight = torch.as_tensor(ratings.weight, dtype=dt)
        self.user = torch.as_tensor(ratings.user, dtype=torch.long)
        self.n_users = int(ratings.n_users)
        self.d_in = int(self.features.shape[2])
        self.generator = torch.Generator().manual_seed(int(seed))
        self.history_: list[list[float]] = []

    # ---- MixtureModel protocol
    def init_params(self, n_components: int, rng: np.random.Generator) -> ClusterDecoders:
        self.generator.manual_seed(int(rng.integers(2**62)))
        return ClusterDecoders(n_components, self.d_in, self.config.n_hidden, self.generator, self.config.torch_dtype)

    @torch.no_grad()
    def record_loglik(self, params: ClusterDecoders) -> torch.Tensor:
        """(K, M) weighted log-likelihood of every record under every cluster decoder."""
        s = params.segment_scores(self.features, self.config.aggregate)[:, self.segment_index]
        return rating_loglik(s, self.label[None, :], self.config.tau, self.record_weight[None, :], validate=False)

    def log_likelihood(self, params: ClusterDecoders) -> np.ndarray:
        rec = self.record_loglik(params).to(torch.float64)
        out = torch.zeros((rec.shape[0], self.n_users), dtype=torch.float64)
        out.index_add_(1, self.user, rec)
        return np.minimum(out.T.numpy(), 0.0)

    def m_step(self, params: ClusterDecoders, weights: np.ndarray) -> ClusterDecoders:
        w = np.asarray(weights, dtype=float)
        if w.shape != (self.n_users, params.n_clusters):
            raise ValueError(f"weights: expected shape {(self.n_users, params.n_clusters)}, got {w.shape}")
        cw = torch.as_tensor(w, dtype=self.label.dtype)[self.user]
        self.history_.append(
            fit_decoders(
                params, self.features, self.label, self.record_weight, cw, self.config, self.generator, self.segment_index
            )
        )
        return params

    # ---- helpers
    @staticmethod
    def copy_params(params: ClusterDecoders) -> ClusterDecoders:
        return copy.deepcopy(params)

    @torch.no_grad()
    def score(self, params: ClusterDecoders, segment_features) -> np.ndarray:
        """(K, S) learned segment scores of new segments (S, T, d_in) — what a cluster's policy maximises."""
        x = torch.as_tensor(np.asarray(segment_features, dtype=float), dtype=self.config.torch_dtype)
        return params.segment_scores(x, self.config.aggregate).to(torch.float64).numpy()
