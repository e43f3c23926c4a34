"""Learned-reward wrapper for stable-baselines3 (seed 000, Sec. 3.3: one PPO policy per cluster).

:class:`LearnedRewardVecEnv` replaces the reward of every sub-environment of a VecEnv by a learned reward
r(s_t, a_t) of the *pre-step* observation and the action taken, computed in one batch over all
sub-environments per step. The environment's own reward is kept in ``info["env_reward"]``. Auto-reset is
handled: the pre-step observation of an env that has just reset is its reset observation.

:class:`EncoderDecoderReward` is PREC's reward of cluster k: the frozen encoder's latent z = e(s, a)
(or the standardized raw state-action in the no-encoder ablation, Fig. 12) read by the cluster's decoder.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

__all__ = ["LearnedRewardVecEnv", "EncoderDecoderReward", "StandardizeFeatures", "numpy_mlp"]


def numpy_mlp(module: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray] | None:
    """A numpy copy of a frozen feed-forward torch module (nested Sequential of Linear / ReLU / Tanh /
    LeakyReLU / LayerNorm / Identity), or None when it contains anything else. For the tiny batches of a
    VecEnv step (8 rows) numpy is several times faster than torch's per-op dispatch."""
    ops: list[Callable[[np.ndarray], np.ndarray]] = []

    def add(m: torch.nn.Module) -> bool:
        if isinstance(m, torch.nn.Sequential):
            return all(add(c) for c in m)
        if isinstance(m, torch.nn.Linear):
            W = m.weight.detach().numpy().T.astype(np.float32).copy()
            b = None if m.bias is None else m.bias.detach().numpy().astype(np.float32).copy()
            ops.append((lambda x, W=W, b=b: x @ W + b) if b is not None else (lambda x, W=W: x @ W))
        elif isinstance(m, torch.nn.ReLU):
            ops.append(lambda x: np.maximum(x, 0.0))
        elif isinstance(m, torch.nn.Tanh):
            ops.append(np.tanh)
        elif isinstance(m, torch.nn.LeakyReLU):
            ops.append(lambda x, s=m.negative_slope: np.where(x > 0, x, s * x))
        elif isinstance(m, torch.nn.LayerNorm):
            if len(m.normalized_shape) != 1:
                return False
            g = None if m.weight is None else m.weight.detach().numpy().astype(np.float32).copy()
            b = None if m.bias is None else m.bias.detach().numpy().astype(np.float32).copy()

            def ln(x, g=g, b=b, eps=m.eps):
                mu = x.mean(-1, keepdims=True)
                var = ((x - mu) ** 2).mean(-1, keepdims=True)
                y = (x - mu) / np.sqrt(var + eps)
                return y * g + b if g is not None else y

            ops.append(ln)
        elif isinstance(m, torch.nn.Identity):
            pass
        else:
            return False
        return True

    if not add(module):
        return None

    def f(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        for op in ops:
            x = op(x)
        return x

    return f


class LearnedRewardVecEnv(VecEnvWrapper):
    """VecEnv whose reward is ``reward_fn(obs_before_step, action)``, batched over the n envs."""

    def __init__(self, venv: VecEnv, reward_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]):
        super().__init__(venv)
        if not callable(reward_fn):
            raise ValueError("reward_fn: must be callable (obs, actions) -> rewards")
        self.reward_fn = reward_fn
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None

    def reset(self):
        self._obs = self.venv.reset()
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self):
        if self._obs is None:
            raise RuntimeError("step before reset")
        obs, env_rew, dones, infos = self.venv.step_wait()
        rew = np.asarray(self.reward_fn(self._obs, self._actions), dtype=np.float32).reshape(self.num_envs)
        for info, r in zip(infos, env_rew):
            info["env_reward"] = float(r)
        self._obs = obs
        return obs, rew, dones, infos


class StandardizeFeatures(torch.nn.Module):
    """The no-encoder ablation's features: the standardized raw state-action (fixed mean / std)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, obs_dim: int):
        super().__init__()
        self.obs_dim = int(obs_dim)
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.asarray(std), dtype=torch.float32))

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return (torch.cat([obs, act], dim=-1) - self.mean) / self.std

    @torch.inference_mode()
    def encode(self, obs: np.ndarray, act: np.ndarray) -> np.ndarray:
        return self(torch.as_tensor(np.asarray(obs, np.float32)), torch.as_tensor(np.asarray(act, np.float32))).numpy()


class EncoderDecoderReward:
    """r_k(s, a) = scale * decoder(features(s, a)); ``features`` is the frozen encoder (a torch module
    taking (obs, act) tensors, with ``mean`` / ``std`` buffers and an ``encoder`` body, or
    :class:`StandardizeFeatures`) and ``decoder`` maps a (n, d) feature tensor to (n,) per-step rewards.

    With ``fast=True`` the encoder body and the decoder are copied to numpy when they are plain
    feed-forward stacks (:func:`numpy_mlp`); the result is the same up to float32 rounding (tested)."""

    def __init__(self, features: torch.nn.Module, decoder: Callable[[torch.Tensor], torch.Tensor], scale: float = 1.0, fast: bool = True):
        self.features, self.decoder, self.scale = features, decoder, float(scale)
        self._np = None
        if fast:
            body = getattr(features, "encoder", torch.nn.Identity())
            enc_np = numpy_mlp(body)
            dec_np = numpy_mlp(decoder) if isinstance(decoder, torch.nn.Module) else None
            if enc_np is not None and dec_np is not None:
                mean = features.mean.detach().numpy().astype(np.float32)
                inv = (1.0 / features.std.detach().numpy()).astype(np.float32)
                self._np = (mean, inv, enc_np, dec_np)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_np"] = None
        state["_fast_on_load"] = self._np is not None
        return state

    def __setstate__(self, state):
        fast = state.pop("_fast_on_load", False)
        self.__dict__.update(state)
        if fast:
            self.__init__(self.features, self.decoder, self.scale, fast=True)

    def __call__(self, obs: np.ndarray, act: np.ndarray) -> np.ndarray:
        if self._np is not None:
            mean, inv, enc_np, dec_np = self._np
            x = (np.concatenate([np.asarray(obs, np.float32), np.asarray(act, np.float32)], axis=-1) - mean) * inv
            return (self.scale * dec_np(enc_np(x))).reshape(-1).astype(np.float32)
        with torch.inference_mode():
            o = torch.as_tensor(np.asarray(obs, dtype=np.float32))
            a = torch.as_tensor(np.asarray(act, dtype=np.float32))
            return (self.scale * self.decoder(self.features(o, a))).reshape(-1).numpy()
