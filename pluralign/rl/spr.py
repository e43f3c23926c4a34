"""The self-predictive state-action encoder of PREC (seed 000, Sec. 3.2; SPR, Schwarzer et al. 2020).

An online encoder maps a standardized state-action pair x_t = (s_t, a_t) to a latent z_t. A latent
transition model rolls z forward with the next actions, ẑ_{t+k} = h(ẑ_{t+k-1}, a_{t+k}), for k = 1..H.
As in SPR, an online projection g and prediction head q map each ẑ_{t+k} to y_hat = q(g(ẑ_{t+k})), the
target is y = g'(e'(x_{t+k})) from an exponential-moving-average copy (e', g') of encoder and projection,
and the loss is the negative cosine similarity summed over the H future steps. PREC pretrains it on all
offline state-action data without labels and freezes it; the cluster decoders read z_t.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pluralign.seeding import as_generator
from pluralign.torch_init import build, init_parameters_

__all__ = ["SPRConfig", "SPREncoder", "fit_spr", "spr_windows"]


@dataclass
class SPRConfig:
    """Settings of SPR pretraining."""

    latent_dim: int = 32
    """Dimension of the latent z_t the decoders read."""
    hidden: int = 256
    """Width of the encoder / transition MLPs."""
    proj_dim: int = 64
    """Dimension of the projection g(z)."""
    horizon: int = 5
    """H, the number of future latents predicted from each start."""
    ema: float = 0.99
    """tau of the target encoder: theta' <- tau theta' + (1 - tau) theta."""
    lr: float = 3e-4
    """Adam learning rate."""
    batch_size: int = 256
    """Start positions per gradient step."""
    n_updates: int = 5000
    """Gradient steps."""
    seed: int = 0
    """Seed of initialisation and mini-batch sampling."""

    def __post_init__(self) -> None:
        for name in ("latent_dim", "hidden", "proj_dim", "horizon", "batch_size", "n_updates"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema: must lie in [0, 1), got {self.ema}")
        if self.lr <= 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")


def _mlp(i: int, h: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, o))


class SPREncoder(nn.Module):
    """Encoder e(s, a) -> z (with its input standardization), latent transition h, projection g, head q.

    The weights are drawn from ``generator`` (default ``torch.Generator().manual_seed(config.seed)``) with
    torch's default initialisation (:mod:`pluralign.torch_init`); torch's global RNG is not used.
    """

    def __init__(self, obs_dim: int, act_dim: int, config: SPRConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.obs_dim, self.act_dim, self.config = int(obs_dim), int(act_dim), config
        d, h, p = config.latent_dim, config.hidden, config.proj_dim
        self.encoder = build(lambda: nn.Sequential(_mlp(obs_dim + act_dim, h, d), nn.LayerNorm(d)))
        self.transition = build(lambda: nn.Sequential(_mlp(d + act_dim, h, d), nn.LayerNorm(d)))
        self.projection = build(lambda: nn.Sequential(nn.Linear(d, p), nn.ReLU(), nn.Linear(p, p)))
        self.prediction = build(lambda: nn.Linear(p, p))
        init_parameters_(self, generator if generator is not None else torch.Generator().manual_seed(int(config.seed)))
        self.register_buffer("mean", torch.zeros(obs_dim + act_dim))
        self.register_buffer("std", torch.ones(obs_dim + act_dim))

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """z = e((x - mean) / std) for a batch of state-action pairs (..., obs_dim), (..., act_dim)."""
        x = (torch.cat([obs, act], dim=-1) - self.mean) / self.std
        return self.encoder(x)

    @torch.inference_mode()
    def encode(self, obs: np.ndarray, act: np.ndarray, batch: int = 65536) -> np.ndarray:
        """Latents of numpy state-action arrays (any leading shape), as float32 numpy."""
        obs, act = np.asarray(obs, np.float32), np.asarray(act, np.float32)
        lead = obs.shape[:-1]
        o, a = obs.reshape(-1, self.obs_dim), act.reshape(-1, self.act_dim)
        out = [self(torch.from_numpy(o[i : i + batch]), torch.from_numpy(a[i : i + batch])) for i in range(0, len(o), batch)]
        z = torch.cat(out).numpy() if out else np.zeros((0, self.config.latent_dim), np.float32)
        return z.reshape(*lead, self.config.latent_dim)

    def state(self) -> dict:
        """Picklable description: constructor arguments and weights."""
        return {"obs_dim": self.obs_dim, "act_dim": self.act_dim, "config": asdict(self.config), "state_dict": self.state_dict()}

    @classmethod
    def from_state(cls, state: dict) -> SPREncoder:
        enc = cls(state["obs_dim"], state["act_dim"], SPRConfig(**state["config"]))
        enc.load_state_dict(state["state_dict"])
        return enc.eval()


def spr_windows(episode: np.ndarray, t: np.ndarray, horizon: int) -> np.ndarray:
    """Flat indices i such that rows i..i+horizon are consecutive steps of one episode."""
    episode, t = np.asarray(episode), np.asarray(t)
    n = len(episode)
    if n <= horizon:
        return np.zeros(0, dtype=int)
    i = np.arange(n - horizon)
    ok = (episode[i + horizon] == episode[i]) & (t[i + horizon] == t[i] + horizon)
    return i[ok]


def fit_spr(obs, act, episode, t, config: SPRConfig, progress: bool = False) -> tuple[SPREncoder, list[float]]:
    """Pretrain the SPR encoder on offline (obs, act) sequences; returns the frozen encoder and the loss
    history (mean over 100-step blocks). Rows must be episode-major and time-ordered."""
    obs, act = np.asarray(obs, np.float32), np.asarray(act, np.float32)
    if obs.ndim != 2 or act.ndim != 2 or len(obs) != len(act):
        raise ValueError(f"obs/act: expected (n, obs_dim) and (n, act_dim) arrays, got {obs.shape}, {act.shape}")
    starts = spr_windows(episode, t, config.horizon)
    if len(starts) == 0:
        raise ValueError(f"episode: no run of {config.horizon + 1} consecutive steps to train SPR on")
    # initialisation: torch.Generator seeded with config.seed (the numbers torch.manual_seed(seed) gave);
    # mini-batches: the numpy Generator of config.seed
    enc = SPREncoder(obs.shape[1], act.shape[1], config, torch.Generator().manual_seed(int(config.seed)))
    rng = as_generator(config.seed, "seed")
    x = np.concatenate([obs, act], axis=1)
    enc.mean.copy_(torch.from_numpy(x.mean(0)))
    enc.std.copy_(torch.from_numpy(x.std(0) + 1e-6))
    target_enc = copy.deepcopy(enc.encoder).requires_grad_(False)
    target_proj = copy.deepcopy(enc.projection).requires_grad_(False)
    params = [p for m in (enc.encoder, enc.transition, enc.projection, enc.prediction) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=config.lr)
    O, A = torch.from_numpy(obs), torch.from_numpy(act)
    H = config.horizon
    offs = torch.arange(H + 1)
    history, block = [], []
    it = range(config.n_updates)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="SPR", leave=False)
    for _ in it:
        b = torch.from_numpy(rng.choice(starts, size=config.batch_size))
        idx = b[:, None] + offs[None, :]  # (B, H+1)
        xo, xa = O[idx], A[idx]
        z = enc(xo[:, 0], xa[:, 0])
        loss = 0.0
        with torch.no_grad():
            xt = (torch.cat([xo[:, 1:], xa[:, 1:]], dim=-1) - enc.mean) / enc.std
            y = F.normalize(target_proj(target_enc(xt)), dim=-1)  # (B, H, p)
        for k in range(1, H + 1):
            z = enc.transition(torch.cat([z, xa[:, k]], dim=-1))
            y_hat = F.normalize(enc.prediction(enc.projection(z)), dim=-1)
            loss = loss - (y_hat * y[:, k - 1]).sum(-1).mean()
        loss = loss / H
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for tgt, src in ((target_enc, enc.encoder), (target_proj, enc.projection)):
                for pt, ps in zip(tgt.parameters(), src.parameters()):
                    pt.mul_(config.ema).add_(ps.detach(), alpha=1.0 - config.ema)
        block.append(float(loss.detach()))
        if len(block) == 100:
            history.append(float(np.mean(block)))
            block = []
    if block:
        history.append(float(np.mean(block)))
    enc.requires_grad_(False)
    return enc.eval(), history
