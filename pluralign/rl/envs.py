"""Environments and trajectory collection for the MuJoCo PREC pipeline (seed 000, Sec. 4 / App. C).

PREC's offline data are trajectories of PPO agents trained towards several target velocities and saved
at several training stages, so that the state-action data cover many gaits and speeds. The
:class:`TargetVelocity` wrapper gives that training signal: ``-|v_x - v*|`` plus the environment's own
control cost and (for Hopper / Walker2d / Ant) its survival bonus.
"""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np

from pluralign.seeding import derive_int

SUPPORTED_ENVS = ("HalfCheetah-v5", "Ant-v5", "Hopper-v5", "Walker2d-v5")

__all__ = ["PHYSICS_NOTE", "SUPPORTED_ENVS", "MujocoWarning", "TargetVelocity", "check_env_id", "collect_episodes",
           "make_env", "physics_version", "route_mujoco_warnings"]


def check_env_id(env_id: str) -> str:
    """Validate an environment name (one of the four MuJoCo tasks of seed 000)."""
    if env_id not in SUPPORTED_ENVS:
        raise ValueError(f"env: must be one of {', '.join(SUPPORTED_ENVS)}, got {env_id!r}")
    return env_id


class TargetVelocity(gym.Wrapper):
    """Reward ``-|x_velocity - target| + reward_ctrl + reward_survive`` (the latter two as the env defines
    them; absent terms count 0). The environment's own reward is kept in ``info["env_reward"]``."""

    def __init__(self, env: gym.Env, target: float):
        super().__init__(env)
        self.target = float(target)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info["env_reward"] = float(reward)
        r = -abs(float(info["x_velocity"]) - self.target)
        r += float(info.get("reward_ctrl", 0.0)) + float(info.get("reward_survive", 0.0))
        return obs, r, terminated, truncated, info


PHYSICS_NOTE = (
    "The environments are gymnasium's v5 models simulated by MuJoCo, and MuJoCo releases change them. Measured "
    "2026-12-02 (gymnasium 1.4.0): the return of 300 seeded uniform-random actions from reset(seed=0), without "
    "early termination, is for HalfCheetah-v5 -89.33 under MuJoCo 3.3.7 and 3.8.0, -101.89 under 3.17.0 and "
    "-71.72 under 4.0.0; for Ant-v5 -66.52 / -88.72 / -92.70 / -117.60 (3.3.7 / 3.8.0 / 3.17.0 / 4.0.0); for "
    "Hopper-v5 267.08 under 3.3.7 and 270.51 under the other three; Walker2d-v5 140.19 under all four. The model "
    "parameters (masses, inertias, solver options) are the same under 3.17.0 and 4.0.0; the simulation "
    "differs. The rl extra pins mujoco == 3.17.0, a test checks these trajectories, and every PREC run and "
    "cache records and keys on "
    "physics_version(). Runs before 2026-12-02 recorded no version: the medium learning curve of 2026-12-01 "
    "reproduces under 4.0.0 only; the quick HalfCheetah references of pipeline.FINDINGS reproduce under neither "
    "3.17.0 nor 4.0.0, and the Walker2d ones (whose physics is the same under every version tried) do not "
    "reproduce either, so something besides the simulator moved those.")
"""Why the rl extra pins MuJoCo exactly (pyproject.toml) and why :func:`physics_version` keys PREC's caches."""


def physics_version() -> str:
    """The simulator the numbers come from: ``"mujoco X, gymnasium Y"`` (:data:`PHYSICS_NOTE`)."""
    import mujoco

    return f"mujoco {mujoco.__version__}, gymnasium {gym.__version__}"


class MujocoWarning(UserWarning):
    """A warning MuJoCo printed (e.g. "compiler attribute 'settotalmass' is deprecated", which gymnasium's
    HalfCheetah-v5 model triggers at every load under MuJoCo 3.17 and 4.0), routed through Python's warnings."""


def _mujoco_warning(message: str) -> None:
    import warnings

    warnings.warn(str(message).strip(), MujocoWarning, stacklevel=2)


def route_mujoco_warnings() -> None:
    """Send MuJoCo's own warnings to :class:`MujocoWarning` (Python's filters then show each distinct one once
    per process, instead of MuJoCo printing it at every environment made: hundreds of lines per PPO sweep).
    A handler the user installed (``mujoco.set_mju_user_warning``) is left alone."""
    import mujoco

    if mujoco.get_mju_user_warning() is None:
        mujoco.set_mju_user_warning(_mujoco_warning)


def make_env(env_id: str, target_velocity: float | None = None, max_episode_steps: int | None = None) -> gym.Env:
    """One environment; optional target-velocity reward and a shorter time limit (used by smoke runs).
    MuJoCo's warnings go through Python's warnings (:func:`route_mujoco_warnings`)."""
    check_env_id(env_id)
    route_mujoco_warnings()
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": int(max_episode_steps)}
    env = gym.make(env_id, **kwargs)
    if target_velocity is not None:
        env = TargetVelocity(env, target_velocity)
    return env


def env_fns(env_id: str, n: int, target_velocity=None, max_episode_steps=None) -> list[Callable[[], gym.Env]]:
    return [lambda: make_env(env_id, target_velocity, max_episode_steps) for _ in range(int(n))]


def collect_episodes(
    act_fn: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    n_episodes: int,
    seed: int,
    max_episode_steps: int | None = None,
    info_keys: tuple[str, ...] = ("x_velocity",),
) -> dict[str, np.ndarray]:
    """Run exactly one episode in each of ``n_episodes`` parallel copies of the environment.

    ``act_fn`` maps a batch of observations (n, obs_dim) to actions (n, act_dim) (already within the action
    bounds or clipped here). Returns flat arrays over all steps: ``obs`` (pre-step observation), ``act``,
    ``episode`` (0..n_episodes-1), ``t`` (step within episode), ``env_reward`` and one array per info key.
    """
    if int(n_episodes) < 1:
        raise ValueError(f"n_episodes: must be >= 1, got {n_episodes}")
    envs = [make_env(env_id, None, max_episode_steps) for _ in range(int(n_episodes))]
    low, high = envs[0].action_space.low, envs[0].action_space.high
    # episode i: its own SeedSequence children of ``seed`` (pluralign.seeding) for the reset and the
    # action space, so collections with neighbouring seeds never share episodes
    obs = np.stack([e.reset(seed=derive_int(seed, i, "reset"))[0] for i, e in enumerate(envs)])
    for i, e in enumerate(envs):
        e.action_space.seed(derive_int(seed, i, "actions"))
    alive = np.ones(len(envs), dtype=bool)
    rec: dict[str, list] = {k: [] for k in ("obs", "act", "episode", "t", "env_reward", *info_keys)}
    t = 0
    while alive.any():
        idx = np.flatnonzero(alive)
        act = np.clip(np.asarray(act_fn(obs[idx]), dtype=np.float64), low, high)
        for j, i in enumerate(idx):
            o2, r, term, trunc, info = envs[i].step(act[j])
            rec["obs"].append(obs[i].copy())
            rec["act"].append(act[j])
            rec["episode"].append(i)
            rec["t"].append(t)
            rec["env_reward"].append(float(r))
            for k in info_keys:
                rec[k].append(float(info.get(k, np.nan)))
            obs[i] = o2
            if term or trunc:
                alive[i] = False
        t += 1
    for e in envs:
        e.close()
    out = {k: np.asarray(v) for k, v in rec.items()}
    order = np.lexsort((out["t"], out["episode"]))  # episode-major, time-ordered
    return {k: v[order] for k, v in out.items()}
