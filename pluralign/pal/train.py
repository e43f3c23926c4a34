"""Training PAL-A / PAL-B on pairwise or k-wise choices (seed 002, PAL, sec. 2, eq. 4-7; App. D).

:class:`PALRewardModel` is the estimator: ``fit(choices)`` learns the shared map, the K prototypes and the
seen users' simplex weights jointly, with one learning rate per parameter group (map, prototypes,
weights), by Adam (optionally from the best of ``n_restarts`` initializations after a short probe, by
training loss) on

* ``logistic`` — the multinomial-logit negative log-likelihood (Bradley-Terry-Luce for n = 2), through
  :func:`pluralign.choice.choice_loglik`, masked options excluded; or
* ``hinge`` — sum over the other options j of max(0, margin - (u_chosen - u_j)) (the usual margin loss
  for n = 2, Weston-Watkins for k-wise sets).

(seed 002, App. D.4: PAL-A-Tiny is trained "with hinge loss", PAL-B-Tiny "with logistic loss"; the margin
is not printed, ours is ``margin`` = 1). The map may carry a residual connection, f(x) = x + MLP(x)
(``residual``, App. D.4), and the users' softmax logits may start random (``weight_init_std``; App. D.1:
"We initialize our models with random weights [...], including the prototypical weight for each user").

Unseen users (App. D.1 / D.3.1): :meth:`PALRewardModel.localize` freezes the map and the prototypes and
fits only each new user's weights on its m samples (a Gaussian prior on the logits, ``l2``, keeps m = 1
finite); :meth:`PALRewardModel.population_weights` is the zero-shot guess (mean of the seen users' w).

Option features come from ``choices.features`` (M, n, d); a per-record context vector (PAL-B's x_c)
comes from ``context_features[choices.context]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from pluralign.choice import choice_loglik
from pluralign.data import Choices
from pluralign.pal.models import PALA, PALB, make_map
from pluralign.seeding import derive_int
from pluralign.theory.validation import as_finite_array

__all__ = ["PALConfig", "PALRewardModel", "pal_loss", "record_losses"]


@dataclass
class PALConfig:
    """Hyper-parameters of a PAL reward model."""

    model: str = "A"
    """'A' (ideal points, eq. 4-5) or 'B' (preference directions on the sphere, eq. 6-7)."""
    n_prototypes: int = 3
    """K, the number of prototypes."""
    map: str = "mlp"
    """Shared map f: 'linear' or 'mlp' (the Tiny strategy: 2-layer MLP on frozen embeddings)."""
    hidden: int = 128
    """Hidden width of the MLP map."""
    d_latent: int = 16
    """Output dimension D of f (and of PAL-B's prototype mappings)."""
    loss: str = "logistic"
    """'logistic' (multinomial logit / BTL) or 'hinge'."""
    margin: float = 1.0
    """Margin of the hinge loss."""
    residual: bool = False
    """f(x) = x + map(x) (App. D.4's PAL-A-Tiny); needs ``d_latent`` equal to the input width."""
    weight_init_std: float = 0.0
    """Users' softmax logits start at N(0, std^2) (drawn from the fit's seed); 0 = all zero (uniform w)."""
    lr_map: float = 1e-2
    """Adam learning rate of f (and of PAL-B's scale)."""
    lr_prototypes: float = 1e-2
    """Adam learning rate of the prototypes (PAL-A) or prototype mappings g_k (PAL-B)."""
    lr_weights: float = 5e-2
    """Adam learning rate of the users' softmax logits."""
    weight_decay: float = 0.0
    """Weight decay on the map's parameters."""
    epochs: int = 300
    """Passes over the data."""
    batch_size: int = 0
    """Mini-batch size in records; 0 = full batch."""
    init_scale: float = 10.0
    """PAL-B: initial cosine-score scale s."""
    map_reads_context: bool = False
    """PAL-B with a context: False, f reads the item alone, f(x) (eq. 6, Alg. 2, as printed); True, f reads
    the concatenation [x_c, x] (the package's earlier reading)."""
    prototype_scale: float = 1.0
    """PAL-A: prototypes are initialized as N(0, scale^2 I / d)."""
    n_restarts: int = 1
    """Independent initializations (seeds seed, seed + 1, ...), each trained for ``restart_epochs``; the one
    with the lowest training loss then finishes the remaining epochs (guards against a start that stalls
    at a poor stationary point; selection uses the training loss only)."""
    restart_epochs: int = 100
    """Probe length of every restart when ``n_restarts`` > 1 (counted in ``epochs``)."""
    seed: int = 0
    """Seed of the initialization and of the mini-batch order."""
    progress: bool = False
    """Show a progress bar over epochs."""

    def validate(self) -> None:
        if self.model not in ("A", "B"):
            raise ValueError(f"model: expected 'A' or 'B', got {self.model!r}")
        if self.loss not in ("logistic", "hinge"):
            raise ValueError(f"loss: expected 'logistic' or 'hinge', got {self.loss!r}")
        if self.map not in ("linear", "mlp"):
            raise ValueError(f"map: expected 'linear' or 'mlp', got {self.map!r}")
        for name in ("n_prototypes", "d_latent", "epochs", "hidden", "n_restarts", "restart_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("lr_map", "lr_prototypes", "lr_weights", "init_scale", "prototype_scale"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.batch_size < 0:
            raise ValueError(f"batch_size: must be >= 0, got {self.batch_size}")
        if self.margin < 0 or self.weight_decay < 0:
            raise ValueError("margin/weight_decay: must be >= 0")
        if not float(self.weight_init_std) >= 0:
            raise ValueError(f"weight_init_std: must be >= 0, got {self.weight_init_std}")


def pal_loss(utilities: torch.Tensor, chosen: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor,
             kind: str = "logistic", margin: float = 1.0, validate: bool = True) -> torch.Tensor:
    """Weighted mean loss over records: logistic (-log MNL probability) or hinge (see module doc).
    ``validate=False`` for batches of a :class:`pluralign.data.Choices` already validated (training loops)."""
    per = record_losses(utilities, chosen, mask, kind, margin, validate)
    return (per * weight).sum() / weight.sum().clamp_min(1e-12)


def record_losses(utilities: torch.Tensor, chosen: torch.Tensor, mask: torch.Tensor, kind: str = "logistic",
                  margin: float = 1.0, validate: bool = True) -> torch.Tensor:
    """(M,) per-record losses of :func:`pal_loss` (unweighted)."""
    if kind == "logistic":
        per = -choice_loglik(utilities, chosen, mask, validate=validate)
    elif kind == "hinge":
        u_c = utilities.gather(1, chosen[:, None])
        viol = torch.clamp(margin - (u_c - utilities), min=0.0)
        others = mask.clone()
        others[torch.arange(len(chosen)), chosen] = False
        per = (viol * others).sum(1)
    else:
        raise ValueError(f"loss: expected 'logistic' or 'hinge', got {kind!r}")
    return per


class _Batch:
    """Torch views of a :class:`Choices` record set (features, context features, users, chosen, mask)."""

    def __init__(self, choices: Choices, context_features: np.ndarray | None):
        if not isinstance(choices, Choices):
            raise ValueError(f"choices: expected a pluralign.data.Choices, got {type(choices).__name__}")
        if choices.features is None:
            raise ValueError("choices: PAL needs option features (choices.features)")
        # a fresh float32 copy: the features may be a read-only (joblib-memmapped) array in a worker
        self.x = torch.from_numpy(np.array(choices.features, dtype=np.float32))
        self.users = torch.as_tensor(choices.user, dtype=torch.long)
        self.chosen = torch.as_tensor(choices.chosen, dtype=torch.long)
        self.mask = torch.as_tensor(choices.mask, dtype=torch.bool)
        self.weight = torch.as_tensor(choices.weight, dtype=torch.float32)
        if context_features is not None:
            cf = np.asarray(context_features, dtype=np.float32)
            if cf.ndim != 2 or choices.context.max() >= cf.shape[0]:
                raise ValueError("context_features: need a (n_contexts, d_c) table covering every choices.context")
            self.ctx = torch.as_tensor(cf[choices.context])
        else:
            self.ctx = None

    def __len__(self):
        return int(self.x.shape[0])

    def take(self, idx):
        b = object.__new__(_Batch)
        for k in ("x", "users", "chosen", "mask", "weight"):
            setattr(b, k, getattr(self, k)[idx])
        b.ctx = None if self.ctx is None else self.ctx[idx]
        return b


class PALRewardModel:
    """A PAL-A / PAL-B reward model: ``fit(choices)`` -> self; learned ``model_``, ``weights_`` (N, K),
    ``loss_history_`` (of the kept restart), ``restart_losses_`` (each restart's training loss after the
    probe) and ``restart_chosen_``; scoring via :meth:`utilities`, :meth:`accuracy`; few-shot :meth:`localize`."""

    def __init__(self, config: PALConfig | None = None, context_features: np.ndarray | None = None):
        self.config = config if config is not None else PALConfig()
        self.config.validate()
        self.context_features = context_features

    # ------------------------------------------------------------------ building and fitting
    @staticmethod
    def restart_seed(seed: int, r: int) -> int:
        """The integer seed of restart r (initialisation and batch order): ``seed`` itself for r = 0 (the
        run a single-restart fit makes), the SeedSequence child ``derive_int(seed, r, "restart")`` for
        r >= 1 (:mod:`pluralign.seeding`), so the restarts of base seeds s and s + 1 never share a stream."""
        return int(seed) if int(r) == 0 else derive_int(seed, int(r), "restart")

    def _build(self, d_in: int, n_users: int, seed: int):
        c = self.config
        d_ctx = 0 if self.context_features is None else int(np.asarray(self.context_features).shape[1])
        gen = torch.Generator().manual_seed(int(seed))  # f, then g, then the prototypes, in this order
        if c.model == "A":
            f = make_map(d_in, c.d_latent, c.map, c.hidden, generator=gen, residual=c.residual)
            model = PALA(f, d_in, n_users, c.n_prototypes, c.prototype_scale, generator=gen)
        else:
            joint = bool(c.map_reads_context) and d_ctx > 0
            f = make_map(d_in + (d_ctx if joint else 0), c.d_latent, c.map, c.hidden, generator=gen, residual=c.residual)
            g = make_map(d_ctx, c.n_prototypes * c.d_latent, c.map, c.hidden, generator=gen) if d_ctx else None
            model = PALB(f, n_users, c.n_prototypes, c.d_latent, g=g, d_context=d_ctx, init_scale=c.init_scale,
                         generator=gen, f_reads_context=joint)
        if c.weight_init_std > 0:  # drawn last: a zero std leaves every other number as before
            with torch.no_grad():
                model.user_logits.normal_(0.0, float(c.weight_init_std), generator=gen)
        return model

    def _optimizer(self, groups: dict[str, list], which=("map", "prototypes", "weights")):
        c = self.config
        lrs = {"map": c.lr_map, "prototypes": c.lr_prototypes, "weights": c.lr_weights}
        pg = []
        for name in which:
            pg.append({"params": groups[name], "lr": lrs[name],
                       "weight_decay": c.weight_decay if name == "map" else 0.0, "name": name})
        return torch.optim.Adam(pg)

    def _epochs(self, run: dict, batch: _Batch, n: int, bar) -> None:
        """Train ``run`` (model, optimizer, generator, history) for ``n`` more epochs."""
        c = self.config
        bs = len(batch) if c.batch_size in (0, None) or c.batch_size >= len(batch) else c.batch_size
        model, opt = run["model"], run["opt"]
        for _ in range(n):
            order = torch.randperm(len(batch), generator=run["gen"]) if bs < len(batch) else None
            total = 0.0
            for start in range(0, len(batch), bs):
                b = batch if order is None else batch.take(order[start : start + bs])
                u = model(b.x, b.users, b.ctx)
                loss = pal_loss(u, b.chosen, b.mask, b.weight, c.loss, c.margin, validate=False)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
            run["history"].append(total / len(batch))
            bar.update(1)

    def fit(self, choices: Choices) -> "PALRewardModel":
        c = self.config
        batch = _Batch(choices, self.context_features)
        self.n_users_ = int(choices.n_users)
        self.d_in_ = int(batch.x.shape[-1])
        probe = min(c.restart_epochs, c.epochs) if c.n_restarts > 1 else c.epochs
        runs = []
        with tqdm(total=probe * c.n_restarts + c.epochs - probe, disable=not c.progress,
                  desc=f"PAL-{c.model} K={c.n_prototypes}", leave=False) as bar:
            for r in range(c.n_restarts):
                seed_r = self.restart_seed(c.seed, r)
                model = self._build(self.d_in_, self.n_users_, seed=seed_r)
                run = {"model": model, "opt": self._optimizer(model.param_groups()),
                       "gen": torch.Generator().manual_seed(seed_r), "history": []}
                self._epochs(run, batch, probe, bar)
                runs.append(run)
            best = min(range(len(runs)), key=lambda r: runs[r]["history"][-1])
            self._epochs(runs[best], batch, c.epochs - probe, bar)
        self.restart_losses_ = [run["history"][probe - 1] for run in runs]
        self.restart_chosen_ = int(best)
        self.model_ = runs[best]["model"]
        self.loss_history_ = runs[best]["history"]
        self.weights_ = self.model_.weights().detach().numpy().astype(float)
        return self

    @classmethod
    def from_module(cls, module, config: PALConfig, context_features: np.ndarray | None = None) -> "PALRewardModel":
        """Wrap an already built :class:`PALA` / :class:`PALB` (e.g. one set to a known ground truth, the
        exact twin of a simulation) as a fitted estimator."""
        if not isinstance(module, (PALA, PALB)):
            raise ValueError(f"module: expected a PALA or PALB, got {type(module).__name__}")
        if module.n_prototypes != config.n_prototypes:
            raise ValueError(f"config: n_prototypes {config.n_prototypes} vs the module's {module.n_prototypes}")
        est = cls(config, context_features)
        est.model_ = module
        est.n_users_ = int(module.user_logits.shape[0])
        est.weights_ = module.weights().detach().numpy().astype(float)
        est.loss_history_ = []
        return est

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise ValueError(f"{type(self).__name__}: model not fitted; call fit first")

    def _query(self, choices: Choices) -> _Batch:
        """The batch of a query on the fitted model (option features of the fitted width)."""
        self._check_fitted()
        batch = _Batch(choices, self.context_features)
        d_in = getattr(self, "d_in_", None)
        if d_in is not None and batch.x.shape[-1] != d_in:
            raise ValueError(f"choices: option features have width {batch.x.shape[-1]}, the model was fitted on {d_in}")
        return batch

    # ------------------------------------------------------------------ scoring
    def _weights_tensor(self, batch: _Batch, weights) -> torch.Tensor:
        if weights is None:
            if int(batch.users.max()) >= self.n_users_:
                raise ValueError("choices: user index beyond the fitted users; pass weights for new users")
            return self.model_.weights()[batch.users]
        W = torch.as_tensor(as_finite_array(weights, "weights").astype(np.float32))
        K = self.config.n_prototypes
        if W.ndim == 1:
            W = W[None].expand(int(batch.users.max()) + 1, -1)
        if W.ndim != 2 or W.shape[1] != K:
            raise ValueError(f"weights: expected (n_users, {K}) or ({K},), got {tuple(W.shape)}")
        if int(batch.users.max()) >= W.shape[0]:
            raise ValueError("weights: fewer rows than users in choices")
        return W[batch.users]

    def utilities(self, choices: Choices, weights=None) -> np.ndarray:
        """(M, n) scores; ``weights`` None = the seen users' own, (N, K) per user, or (K,) for all."""
        batch = self._query(choices)
        with torch.no_grad():
            u = self.model_.utilities_w(batch.x, self._weights_tensor(batch, weights), batch.ctx)
            u = u.masked_fill(~batch.mask, -np.inf)
        return u.numpy().astype(float)

    def accuracy(self, choices: Choices, weights=None, per_user: bool = False):
        """Share of records whose chosen option has the highest score (ties count half)."""
        u = self.utilities(choices, weights)
        best = u.max(axis=1, keepdims=True)
        top = u == best
        hit = top[np.arange(len(u)), choices.chosen] / top.sum(axis=1)
        if per_user:
            return np.bincount(choices.user, hit, choices.n_users) / np.bincount(choices.user, minlength=choices.n_users)
        return float(np.mean(hit))

    # ------------------------------------------------------------------ unseen users
    def population_weights(self) -> np.ndarray:
        """Zero-shot weights for a new user: the average of the seen users' weights (K,)."""
        self._check_fitted()
        return self.weights_.mean(axis=0)

    def localize(self, choices: Choices, *, epochs: int = 300, lr: float = 0.1, l2: float = 1e-2,
                 init: np.ndarray | None = None) -> np.ndarray:
        """Few-shot weights (n_users of ``choices``, K) for new users: map and prototypes frozen, only the
        softmax logits fitted (Adam, full batch) on ``choices`` with the model's own training loss
        (``config.loss``: logistic or hinge); ``l2`` * ||logits||^2 / records is a Gaussian prior that
        keeps tiny samples finite. ``init``: starting weights (default: uniform)."""
        self._check_fitted()
        if epochs < 1 or lr <= 0 or l2 < 0:
            raise ValueError("epochs/lr/l2: need epochs >= 1, lr > 0, l2 >= 0")
        batch = self._query(choices)
        n_new, K = choices.n_users, self.config.n_prototypes
        logits0 = np.zeros((n_new, K)) if init is None else np.log(np.clip(np.broadcast_to(init, (n_new, K)), 1e-6, None))
        logits = torch.tensor(logits0, dtype=torch.float32, requires_grad=True)
        for p in self.model_.parameters():
            p.requires_grad_(False)
        try:
            opt = torch.optim.Adam([logits], lr=lr)
            counts = torch.bincount(batch.users, minlength=n_new).clamp_min(1).float()
            score = self._frozen_scorer(batch)
            for _ in range(epochs):
                u = score(torch.softmax(logits, -1))
                per = record_losses(u, batch.chosen, batch.mask, self.config.loss, self.config.margin, validate=False)
                per_user = torch.zeros(n_new).index_add(0, batch.users, per * batch.weight)
                loss = (per_user / counts).sum() + l2 * ((logits - logits.mean(1, keepdim=True)) ** 2).sum(1).div(counts).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
        finally:
            for p in self.model_.parameters():
                p.requires_grad_(True)
        return torch.softmax(logits, -1).detach().numpy().astype(float)

    def _frozen_scorer(self, batch: _Batch):
        """W (n_users, K) -> utilities (M, n) of ``batch`` (record r scored under W[user r]) with the map and
        prototypes frozen and the w-free parts computed once: PAL-B's scores are linear in w (the K
        prototype scores, :meth:`PALB.utilities_grid` at the vertices); PAL-A's f(x) of the options is
        fixed and f(w P) is needed once per user. The same numbers as ``utilities_w`` (any other module:
        ``utilities_w`` itself)."""
        m, users = self.model_, batch.users
        if type(m) is PALB:
            with torch.no_grad():
                per_k = m.utilities_grid(batch.x, torch.eye(m.n_prototypes), batch.ctx)  # (M, n, K)
            return lambda W: torch.einsum("mnk,mk->mn", per_k, W[users])
        if type(m) is PALA:
            with torch.no_grad():
                fx = m.f(batch.x)  # (M, n, D)
            return lambda W: -((fx - m.f(m.ideal_points(W))[users][:, None, :]) ** 2).sum(-1)
        return lambda W: m.utilities_w(batch.x, W[users], batch.ctx)

    def get_config(self) -> dict:
        return asdict(self.config)
