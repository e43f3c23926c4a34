"""The personalized baseline of the length task: a reward model with a learned per-user embedding.

r(x, i) = MLP([e(x); v_i]) with a free vector v_i per user (the "individual" user model of the
P-RLHF / P-DPO family, Li et al. 2024, that seed 002 compares to), the 2-layer GELU MLP on the frozen
embedding e(x) concatenated with v_i, trained with the Bradley-Terry loss (:func:`pluralign.pal.pal_loss`).
There is no shared low-dimensional structure over users: a new user is a new free vector, fitted on its
m samples with the MLP fixed (:meth:`UserEmbeddingReward.localize`, from the mean seen vector, with a
Gaussian prior towards it), the analogue of PAL's few-shot localization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pluralign.data import Choices
from pluralign.pal import pal_loss
from pluralign.torch_init import build, init_parameters_

__all__ = ["UserEmbeddingConfig", "UserEmbeddingReward"]


@dataclass
class UserEmbeddingConfig:
    """Hyper-parameters of the per-user-embedding reward model."""

    d_user: int = 16
    """Dimension of a user's vector v_i."""
    hidden: int = 384
    """Hidden width of the MLP."""
    lr_map: float = 1e-4
    """Adam learning rate of the MLP."""
    lr_users: float = 5e-3
    """Adam learning rate of the user vectors."""
    weight_decay: float = 0.01
    """Weight decay of the MLP."""
    epochs: int = 1
    """Passes over the data."""
    batch_size: int = 4
    """Mini-batch size in records."""
    seed: int = 0
    """Seed of the initialization and the batch order."""


class _Net(nn.Module):
    def __init__(self, d_in: int, n_users: int, c: UserEmbeddingConfig, gen: torch.Generator):
        super().__init__()
        self.mlp = init_parameters_(build(lambda: nn.Sequential(nn.Linear(d_in + c.d_user, c.hidden), nn.GELU(),
                                                                nn.Linear(c.hidden, 1))), gen)
        self.users = nn.Parameter(torch.randn(n_users, c.d_user, generator=gen) * 0.1)

    def score(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """x (M, n, d), v (M, d_user) -> (M, n)."""
        return self.mlp(torch.cat([x, v[:, None, :].expand(-1, x.shape[1], -1)], -1)).squeeze(-1)


class UserEmbeddingReward:
    """``fit(choices)`` (option features) -> self; ``accuracy``, few-shot ``localize``."""

    def __init__(self, config: UserEmbeddingConfig | None = None):
        self.config = config if config is not None else UserEmbeddingConfig()
        c = self.config
        for name in ("d_user", "hidden", "epochs", "batch_size"):
            if int(getattr(c, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(c, name)}")
        if not (c.lr_map > 0 and c.lr_users > 0 and c.weight_decay >= 0):
            raise ValueError("lr_map/lr_users/weight_decay: need lr > 0 and weight_decay >= 0")

    @staticmethod
    def _tensors(choices: Choices):
        if not isinstance(choices, Choices) or choices.features is None:
            raise ValueError("choices: need a pluralign.data.Choices with option features")
        return (torch.as_tensor(np.asarray(choices.features, dtype=np.float32)),
                torch.as_tensor(choices.user, dtype=torch.long), torch.as_tensor(choices.chosen, dtype=torch.long),
                torch.as_tensor(choices.mask), torch.as_tensor(choices.weight, dtype=torch.float32))

    def fit(self, choices: Choices) -> "UserEmbeddingReward":
        c = self.config
        x, u, ch, mask, w = self._tensors(choices)
        gen = torch.Generator().manual_seed(int(c.seed))
        self.net_ = _Net(x.shape[-1], choices.n_users, c, gen)
        opt = torch.optim.Adam([{"params": self.net_.mlp.parameters(), "lr": c.lr_map, "weight_decay": c.weight_decay},
                                {"params": [self.net_.users], "lr": c.lr_users}])
        M, bs = len(choices), min(c.batch_size, len(choices))
        self.loss_history_ = []
        for _ in range(c.epochs):
            order, total = torch.randperm(M, generator=gen), 0.0
            for s in range(0, M, bs):
                ix = order[s : s + bs]
                loss = pal_loss(self.net_.score(x[ix], self.net_.users[u[ix]]), ch[ix], mask[ix], w[ix], validate=False)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(ix)
            self.loss_history_.append(total / M)
        self.user_vectors_ = self.net_.users.detach().numpy().copy()
        return self

    def accuracy(self, choices: Choices, vectors: np.ndarray | None = None) -> float:
        """Share of records whose chosen option scores highest (ties half); ``vectors`` (n_users, d_user)
        for users other than the fitted ones."""
        if not hasattr(self, "net_"):
            raise ValueError("UserEmbeddingReward: not fitted")
        x, u, ch, mask, _ = self._tensors(choices)
        V = self.net_.users if vectors is None else torch.as_tensor(np.array(vectors, dtype=np.float32))
        with torch.no_grad():
            s = self.net_.score(x, V[u]).masked_fill(~mask, -np.inf).numpy()
        top = s == s.max(1, keepdims=True)
        return float(np.mean(top[np.arange(len(s)), choices.chosen] / top.sum(1)))

    def localize(self, choices: Choices, *, epochs: int = 300, lr: float = 0.1, l2: float = 1e-2) -> np.ndarray:
        """New users' vectors (n_users of ``choices``, d_user), the MLP fixed, from the mean seen vector with
        the prior l2 * ||v - mean||^2 / records (as :meth:`pluralign.pal.PALRewardModel.localize`)."""
        x, u, ch, mask, w = self._tensors(choices)
        mean = torch.as_tensor(self.user_vectors_.mean(0), dtype=torch.float32)
        V = mean.repeat(choices.n_users, 1).requires_grad_(True)
        counts = torch.bincount(u, minlength=choices.n_users).clamp_min(1).float()
        opt = torch.optim.Adam([V], lr=lr)
        for p in self.net_.parameters():
            p.requires_grad_(False)
        try:
            from pluralign.choice import choice_loglik

            for _ in range(epochs):
                nll = -choice_loglik(self.net_.score(x, V[u]), ch, mask, validate=False) * w
                per = torch.zeros(choices.n_users).index_add(0, u, nll)
                loss = (per / counts).sum() + l2 * (((V - mean) ** 2).sum(1) / counts).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
        finally:
            for p in self.net_.parameters():
                p.requires_grad_(True)
        return V.detach().numpy()

    def n_parameters(self) -> int:
        return int(sum(p.numel() for p in self.net_.parameters()))
