"""A measured PPO learning curve on an environment's own (true) reward, from which a profile's PPO budget
is chosen (not guessed): ``python -m pluralign.experiments.prec.learning_curve --env HalfCheetah-v5
--steps 262144 --out results/prec/curves/HalfCheetah-v5.json``.

Every ``eval_every`` environment steps the callback records the steps so far, the wall and process CPU
seconds, the mean return and length of the training (stochastic) episodes finished since the last
record (SB3's Monitor, the env's own reward), and the mean return and forward velocity of
``eval_episodes`` deterministic evaluation episodes (:func:`pluralign.rl.ppo.evaluate_policy_episodes`,
seeded by the child ``("curve-eval", steps)`` of the run's seed). A random policy's return is recorded
as the step-0 reference. One torch thread (the machine is shared); the numbers are a function of the
seed and the settings, the seconds are not.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from pluralign.rl.ppo import PPOConfig, evaluate_policy_episodes, train_ppo
from pluralign.runs import write_json
from pluralign.seeding import derive, derive_int

__all__ = ["learning_curve"]


def _random_reference(env_id: str, n_episodes: int, seed: int, max_episode_steps=None) -> dict:
    from pluralign.rl.envs import collect_episodes, make_env

    env = make_env(env_id)
    low, high = env.action_space.low, env.action_space.high
    rng = derive(seed, "curve-random")
    ep = collect_episodes(lambda o: rng.uniform(low, high, size=(len(o), len(low))), env_id, n_episodes,
                          derive_int(seed, "curve-random-episodes"), max_episode_steps)
    E = int(ep["episode"].max()) + 1
    ret = np.bincount(ep["episode"], weights=ep["env_reward"], minlength=E)
    vel = np.bincount(ep["episode"], weights=ep["x_velocity"], minlength=E) / np.bincount(ep["episode"], minlength=E)
    return {"steps": 0, "eval_return": float(ret.mean()), "eval_x_velocity": float(vel.mean())}


def learning_curve(env_id: str, config: PPOConfig, seed: int, eval_every: int, eval_episodes: int = 2,
                   max_episode_steps: int | None = None, on_row=None) -> list[dict]:
    """Train PPO on ``env_id``'s own reward for ``config.total_timesteps`` steps and return one row per
    ``eval_every`` steps (see the module docstring); ``on_row(rows)`` is called after each row."""
    from stable_baselines3.common.callbacks import BaseCallback

    if int(eval_every) < 1:
        raise ValueError(f"eval_every: must be >= 1, got {eval_every}")
    rows = [_random_reference(env_id, eval_episodes, seed, max_episode_steps)]
    t0, c0 = time.perf_counter(), time.process_time()

    class Recorder(BaseCallback):
        def __init__(self):
            super().__init__()
            self.next = int(eval_every)
            self.seen = 0

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            if self.num_timesteps < self.next:
                return
            self.next += int(eval_every)
            eps = list(self.model.ep_info_buffer)[-max(1, len(self.model.ep_info_buffer)):]
            ep = evaluate_policy_episodes(self.model, env_id, eval_episodes,
                                          seed=derive_int(seed, "curve-eval", self.num_timesteps),
                                          max_episode_steps=max_episode_steps)
            E = int(ep["episode"].max()) + 1
            ret = np.bincount(ep["episode"], weights=ep["env_reward"], minlength=E)
            vel = np.bincount(ep["episode"], weights=ep["x_velocity"], minlength=E) / np.bincount(ep["episode"], minlength=E)
            rows.append({
                "steps": int(self.num_timesteps),
                "wall_seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - c0,
                "train_return": float(np.mean([e["r"] for e in eps])) if eps else None,
                "eval_return": float(ret.mean()),
                "eval_x_velocity": float(vel.mean()),
            })
            if on_row is not None:
                on_row(rows)

    train_ppo(env_id, config, seed, max_episode_steps=max_episode_steps, callback=Recorder())
    return rows


def main() -> None:  # pragma: no cover - a measurement script
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="HalfCheetah-v5")
    ap.add_argument("--steps", type=int, default=262_144)
    ap.add_argument("--eval-every", type=int, default=16_384)
    ap.add_argument("--eval-episodes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="quick", help="whose PPO settings (smoke, quick, paper) to use")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from pluralign.experiments.prec.config import make_config
    from pluralign.rl.envs import physics_version

    cfg = replace(make_config(args.profile, args.env).ppo, total_timesteps=int(args.steps), torch_threads=1)
    meta = {"env": args.env, "seed": args.seed, "ppo": cfg.to_dict(), "profile_ppo": args.profile,
            "eval_episodes": args.eval_episodes, "physics": physics_version(),
            "note": "env's own reward; 1 torch thread; shared machine"}

    def save(rows):
        write_json(args.out, {**meta, "rows": rows})

    save(learning_curve(args.env, cfg, args.seed, args.eval_every, args.eval_episodes, on_row=save))


if __name__ == "__main__":  # pragma: no cover
    main()
