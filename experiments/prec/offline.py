"""Offline data, preference space and frozen encoder of the MuJoCo PREC pipeline (seed 000), cached on disk.

1. Offline data: PPO agents trained towards several target forward velocities
   (:class:`pluralign.rl.envs.TargetVelocity`), each rolled out (stochastic policy) after 1/n, ..., n/n of
   its budget, plus a uniformly random policy. Agents train in parallel (local processes or Ray tasks).
2. Preference space: PCA of the standardized per-step state-action vectors; the top three components,
   min-max scaled to [0, 1] (range: the offline data's T-step window means; clipped outside), are the
   behaviour features phi_t = (f1, f2, f3) of a step; a segment's / episode's feature vector is the mean
   over its steps (see :class:`PreferenceSpace` for why the range is taken over windows).
3. The SPR encoder (:mod:`pluralign.rl.spr`) pretrained on all offline state-action data, then frozen.

Everything is cached under ``cache_dir/<env>_<profile>_seed<seed>_<hash>/`` (npz + torch file, written
atomically) and shared by every run (all teachers, all replicates) of that env, profile and seed; each
agent is stored as it finishes (``agents/``, until the data set is whole), and ``build.json`` keeps the
CPU seconds the cache cost.

Seeds (:mod:`pluralign.seeding`): every stream is a child of the run's base seed under the key
``"offline"``: ``("offline", "random_policy")`` draws the random policy's actions,
``("offline", "random_episodes")`` seeds its environments, ``("offline", "agent", i)`` trains agent i
and ``("offline", "agent", i, "stage", j)`` seeds its stage-j rollouts; ``("offline", "spr")`` seeds
the encoder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from pluralign.experiments.prec.config import OfflineConfig, PrecConfig, config_hash
from pluralign.prec.labelers import normalize_features
from pluralign.rl.envs import collect_episodes, make_env
from pluralign.rl.ppo import train_ppo
from pluralign.rl.spr import SPREncoder, fit_spr
from pluralign.runs import read_json, write_json
from pluralign.seeding import derive, derive_int

__all__ = ["CACHE_VERSION", "PreferenceSpace", "collect_offline", "load_or_build", "OfflineBundle"]

CACHE_VERSION = 3
"""Part of every cache key; bumped whenever the same settings and seed give other cached data
(2: the offline streams are derived by :mod:`pluralign.seeding`; 3: so are the episodes' reset and
action-space seeds in :func:`pluralign.rl.envs.collect_episodes`), so a stale cache is never read."""


def _atomic_save(path: Path, save_fn) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_fn(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _savez(path, arrays: dict, compressed: bool = False) -> None:
    with open(path, "wb") as fh:
        (np.savez_compressed if compressed else np.savez)(fh, **arrays)


def _agent_episodes(env_id: str, cfg: OfflineConfig, v_index: int, seed: int) -> dict:
    """Train target-velocity agent ``v_index`` of base ``seed`` and roll it out at every stage (runs in a
    worker)."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    v = cfg.target_velocities[v_index]
    stage_cfg = type(cfg.ppo)(**{**cfg.ppo.to_dict(), "total_timesteps": max(1, cfg.ppo.total_timesteps // cfg.n_stages)})
    model, _ = train_ppo(env_id, stage_cfg, derive_int(seed, "offline", "agent", v_index), target_velocity=v,
                         max_episode_steps=cfg.max_episode_steps)
    parts = []
    for stage in range(1, cfg.n_stages + 1):
        if stage > 1:
            model.learn(total_timesteps=stage_cfg.total_timesteps, reset_num_timesteps=False)
        ep = collect_episodes(
            lambda o: model.predict(o, deterministic=False)[0],
            env_id,
            cfg.episodes_per_stage,
            seed=derive_int(seed, "offline", "agent", v_index, "stage", stage),
            max_episode_steps=cfg.max_episode_steps,
        )
        ep["stage"] = np.full(len(ep["t"]), stage)
        ep["target"] = np.full(len(ep["t"]), v)
        parts.append(ep)
    return _concat(parts)


def _timed_agent(env_id: str, cfg: OfflineConfig, v_index: int, seed: int) -> tuple[dict, dict]:
    """:func:`_agent_episodes` (looked up at call time, so a test may replace it) and its CPU / wall seconds
    in the worker."""
    t0, c0 = time.perf_counter(), time.process_time()
    ep = _agent_episodes(env_id, cfg, v_index, seed)
    return ep, {"cpu_seconds": time.process_time() - c0, "wall_seconds": time.perf_counter() - t0}


def _concat(parts: list[dict]) -> dict:
    out, offset = {}, 0
    eps = []
    for p in parts:
        eps.append(p["episode"] + offset)
        offset += int(p["episode"].max()) + 1
    for k in parts[0]:
        out[k] = np.concatenate([p[k] for p in parts])
    out["episode"] = np.concatenate(eps)
    return out


def collect_offline(env_id: str, cfg: OfflineConfig, seed: int, n_jobs: int = 1, progress: bool = True, *,
                    backend: str = "local", address: str | None = None,
                    agents_dir: Path | None = None) -> tuple[dict, dict]:
    """The offline data set (flat per-step arrays obs, act, episode, t, stage, target, x_velocity,
    env_reward) and its compute: ``{"cpu_seconds", "agents": [{"cpu_seconds", "wall_seconds"} | None per
    agent]}`` (CPU of the random rollouts and of every agent, each measured where it ran; None: an agent
    stored by a build that did not time it). The agents train as parallel tasks
    (:func:`pluralign.runs.map_unordered`, ``backend`` local or ray).

    With ``agents_dir``, the driver writes each agent's episodes there (``agent<i>.npz``, atomically) as soon
    as that agent finishes, and trains only the agents not found there: an interrupted build (the medium
    profile's agents take about half an hour each) loses only its unfinished agents. The caller keys
    ``agents_dir`` by the settings and seed (:func:`load_or_build` uses the cache folder)."""
    from pluralign.runs import map_unordered, tqdm_bar

    c0 = time.process_time()
    rng = derive(seed, "offline", "random_policy")
    env = make_env(env_id, max_episode_steps=cfg.max_episode_steps)
    low, high = env.action_space.low, env.action_space.high
    rand = collect_episodes(
        lambda o: rng.uniform(low, high, size=(len(o), len(low))), env_id, cfg.random_episodes,
        derive_int(seed, "offline", "random_episodes"), cfg.max_episode_steps
    )
    rand["stage"] = np.zeros(len(rand["t"]), dtype=int)
    rand["target"] = np.full(len(rand["t"]), np.nan)
    random_cpu = time.process_time() - c0
    n = len(cfg.target_velocities)
    agents: list = [None] * n
    timing: list = [None] * n
    stored = (lambda i, ext: Path(agents_dir) / f"agent{i}.{ext}") if agents_dir is not None else None
    for i in range(n):
        if stored is not None and stored(i, "npz").exists():  # the npz, written last, marks a finished agent
            agents[i] = dict(np.load(stored(i, "npz")))
            timing[i] = read_json(stored(i, "json")) if stored(i, "json").exists() else None
    todo = [i for i in range(n) if agents[i] is None]
    with tqdm_bar(n, f"offline PPO agents {env_id}", progress, unit="agent", initial=n - len(todo)) as bar:
        for j, (ep, t) in map_unordered(_timed_agent, [(env_id, cfg, i, seed) for i in todo], n_jobs=n_jobs,
                                        backend=backend, address=address, num_cpus=cfg.ppo.torch_threads):
            i = todo[j]
            agents[i], timing[i] = ep, t  # kept in agent order
            if stored is not None:
                write_json(stored(i, "json"), t)
                _atomic_save(stored(i, "npz"), lambda p: _savez(p, ep))
            bar.update(1)
    data = _concat([rand, *agents])
    data["obs"] = data["obs"].astype(np.float32)
    data["act"] = data["act"].astype(np.float32)
    return data, {"cpu_seconds": random_cpu + sum(t["cpu_seconds"] for t in timing if t is not None),
                  "agents": timing}


@dataclass
class PreferenceSpace:
    """PCA preference space: phi_t = clip((P^T ((x_t - mean) / std) - low) / (high - low), 0, 1), P the
    top three principal directions of the standardized state-action vectors x_t = (s_t, a_t).

    ``low`` / ``high`` are the min / max over the offline data of the projections averaged over windows of
    ``window`` consecutive steps (T, the segment length): behaviour features describe segments and
    episodes, whose means vary far less than single steps (the first PCs of a gait oscillate step to
    step), so a per-step min-max range would squeeze every segment score towards the middle of the scale
    and a user would never reach "good" (score >= 7). ``window=1`` is the per-step min-max scaling.
    """

    mean: np.ndarray
    std: np.ndarray
    components: np.ndarray  # (3, D)
    low: np.ndarray
    high: np.ndarray
    explained_variance_ratio: np.ndarray

    @classmethod
    def fit(cls, obs: np.ndarray, act: np.ndarray, episode=None, t=None, window: int = 1, n_components: int = 3) -> PreferenceSpace:
        from sklearn.decomposition import PCA

        from pluralign.rl.spr import spr_windows

        x = np.concatenate([obs, act], axis=1).astype(np.float64)
        mean, std = x.mean(0), x.std(0) + 1e-8
        pca = PCA(n_components=n_components, svd_solver="full").fit((x - mean) / std)
        proj = ((x - mean) / std) @ pca.components_.T
        if int(window) > 1:
            if episode is None or t is None:
                raise ValueError("episode: window > 1 needs the episode and t arrays")
            starts = spr_windows(episode, t, int(window) - 1)
            if len(starts) == 0:
                raise ValueError(f"window: no run of {window} consecutive steps in the data")
            c = np.vstack([np.zeros((1, proj.shape[1])), np.cumsum(proj, axis=0)])
            proj = (c[starts + int(window)] - c[starts]) / int(window)  # window means
        lo, hi = proj.min(0), proj.max(0)
        return cls(mean, std, pca.components_, lo, np.maximum(hi, lo + 1e-8), pca.explained_variance_ratio_)

    def raw(self, obs, act) -> np.ndarray:
        x = np.concatenate([np.asarray(obs, np.float64), np.asarray(act, np.float64)], axis=-1)
        return ((x - self.mean) / self.std) @ self.components.T

    def __call__(self, obs, act) -> np.ndarray:
        """Per-step behaviour features in [0, 1]^3 (any leading shape)."""
        return normalize_features(self.raw(obs, act), self.low, self.high)

    def to_npz(self) -> dict:
        return {k: getattr(self, k) for k in ("mean", "std", "components", "low", "high", "explained_variance_ratio")}


@dataclass
class OfflineBundle:
    """What every run of one (env, profile, seed) shares."""

    data: dict
    space: PreferenceSpace
    encoder: SPREncoder
    spr_history: list
    cache_dir: Path
    build: dict
    """The cache's compute (``build.json``): ``offline`` (:func:`collect_offline`'s, plus the wall seconds of
    the build that finished it) and ``spr`` (CPU / wall seconds); a part is absent when an older version of
    the package built it."""


def cache_key(env_id: str, config: PrecConfig, seed: int) -> str:
    """``<env>_<profile>_seed<seed>_<hash of the offline and SPR settings, the physics and CACHE_VERSION>``."""
    h = config_hash({"offline": config.offline, "spr": config.spr, "physics": config.physics, "version": CACHE_VERSION})
    return f"{env_id}_{config.profile}_seed{seed}_{h}"


def load_or_build(env_id: str, config: PrecConfig, seed: int, cache_root: Path, n_jobs: int = 1, progress: bool = True) -> OfflineBundle:
    """Load the cached offline data, preference space and SPR encoder, building whatever is missing (the
    offline agents on ``config.backend``; the driver writes the cache)."""
    d = Path(cache_root) / cache_key(env_id, config, seed)
    d.mkdir(parents=True, exist_ok=True)
    f_build = d / "build.json"
    build = read_json(f_build) if f_build.exists() else {}
    f_data, f_space, f_enc = d / "offline.npz", d / f"pca_window{config.segment_len}.npz", d / "encoder.pt"
    if f_data.exists():
        data = dict(np.load(f_data))
    else:
        t0 = time.perf_counter()
        data, compute = collect_offline(env_id, config.offline, seed, n_jobs, progress, backend=config.backend,
                                        address=config.address, agents_dir=d / "agents")
        build["offline"] = {**compute, "wall_seconds_last_build": time.perf_counter() - t0}
        write_json(f_build, build)
        _atomic_save(f_data, lambda p: _savez(p, data, compressed=True))
        shutil.rmtree(d / "agents", ignore_errors=True)  # now inside offline.npz
    if f_space.exists():
        z = np.load(f_space)
        space = PreferenceSpace(**{k: z[k] for k in z.files})
    else:
        space = PreferenceSpace.fit(data["obs"], data["act"], data["episode"], data["t"], window=config.segment_len)
        _atomic_save(f_space, lambda p: _savez(p, space.to_npz()))
    if f_enc.exists():
        state = torch.load(f_enc, weights_only=False)
        encoder, history = SPREncoder.from_state(state["encoder"]), state["history"]
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        torch.set_num_threads(1)  # tiny MLPs: more threads only add spin-wait under contention
        spr_cfg = replace(config.spr, seed=derive_int(seed, "offline", "spr"))
        encoder, history = fit_spr(data["obs"], data["act"], data["episode"], data["t"], spr_cfg, progress=progress)
        build["spr"] = {"cpu_seconds": time.process_time() - c0, "wall_seconds": time.perf_counter() - t0}
        write_json(f_build, build)
        _atomic_save(f_enc, lambda p: torch.save({"encoder": encoder.state(), "history": history}, p))
    return OfflineBundle(data, space, encoder, history, d, build)
