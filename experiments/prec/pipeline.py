"""The MuJoCo PREC pipeline of seed 000, end to end, with resumable cells.

For one environment and one teacher (oracle / noise 1 / noise 2):

1. Offline data, PCA preference space and frozen SPR encoder (:mod:`experiments.prec.offline`, cached).
2. Per replicate seed: N users with simplex weights (:mod:`pluralign.prec.labelers`, a Fig. 3 population),
   each labelling M segments of T steps drawn from the offline data; 10-point step scores 10 w_i . phi_t,
   "good" iff the segment score >= 7, perturbed by the B-Pref teacher (:mod:`pluralign.bpref`).
3. Per K in the grid: leaky EM (:class:`pluralign.em.MixtureEM`, ``assignment="leaky"``) over K cluster
   decoders reading the frozen encoder's latents (:class:`pluralign.prec.decoders.DecoderMixture`).
4. One PPO policy per (non-empty) cluster on its learned reward r_k(s, a) = decoder_k(e(s, a)) through
   :class:`pluralign.rl.reward.LearnedRewardVecEnv`; policies of all pending cells train in parallel
   processes (joblib; ``backend="ray"`` runs the same tasks on a Ray cluster when ray is installed).
5. Evaluation (App. C.2): E episodes of each policy; user i's utility r_i is their 10-point score of the
   episodes of the policy of their cluster, r_i = mean_e 10 w_i . phi(episode e); the three welfare
   measures of :mod:`pluralign.welfare`; training time per K.

Every (env, noise, K, seed) cell is written atomically with :class:`pluralign.cli.common.CellStore` and
skipped when re-run; finished policies are stored too (``<out>/policies/cells``), so an interrupted cell
resumes from its finished policies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed

from pluralign.experiments.prec.config import PrecConfig
from pluralign.experiments.prec.offline import OfflineBundle, PreferenceSpace, load_or_build
from pluralign.bpref import make_teacher
from pluralign.runs import CellStore, write_json
from pluralign.data import Ratings
from pluralign.em import EMConfig, MixtureEM, adjusted_rand_index
from pluralign.prec.decoders import ClusterDecoders, DecoderMixture
from pluralign.prec.labelers import make_population, step_scores
from pluralign.rl.ppo import PPOConfig, evaluate_policy_episodes, train_ppo
from pluralign.rl.reward import EncoderDecoderReward, StandardizeFeatures
from pluralign.rl.spr import spr_windows
from pluralign.welfare import welfare

__all__ = ["NOISE_NAMES", "parse_noise", "make_problem", "fit_clusters", "cluster_decoder", "run_prec", "SimulatedInterrupt"]

NOISE_NAMES = {"0": "oracle", "oracle": "oracle", "1": "noise1", "noise1": "noise1", "2": "noise2", "noise2": "noise2"}
"""Accepted spellings of the teacher: 0 / oracle, 1 / noise1, 2 / noise2."""


class SimulatedInterrupt(RuntimeError):
    """Raised by ``run_prec(..., stop_after_cells=n)`` after n new cells (used to test resuming)."""


def parse_noise(noise) -> str:
    key = str(noise).strip().lower()
    if key not in NOISE_NAMES:
        raise ValueError(f"noise: must be 0/oracle, 1/noise1 or 2/noise2, got {noise!r}")
    return NOISE_NAMES[key]


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] % (2**31 - 1))


def feature_module(bundle: OfflineBundle, use_encoder: bool) -> torch.nn.Module:
    """The decoders' input features: the frozen SPR encoder, or (Fig. 12 ablation) the standardized raw
    state-action vector."""
    if use_encoder:
        return bundle.encoder
    x = np.concatenate([bundle.data["obs"], bundle.data["act"]], axis=1)
    return StandardizeFeatures(x.mean(0), x.std(0) + 1e-6, bundle.data["obs"].shape[1]).eval()


@dataclass
class Problem:
    """One replicate's users, segments and labels."""

    weights: np.ndarray  # (N, 3) user weights on the simplex
    mode: np.ndarray  # (N,) population mode of each user (ground-truth group)
    ratings: Ratings  # N*M good/bad labels (segment ids 0..S-1)
    segment_features: np.ndarray  # (S, T, d) decoder inputs
    segment_phi: np.ndarray  # (S, T, 3) behaviour features
    label_kinds: np.ndarray  # (S,) teacher type applied to each label


def make_problem(bundle: OfflineBundle, config: PrecConfig, teacher: str, seed: int, features: torch.nn.Module) -> Problem:
    """Users, their M segments each and their labels under ``teacher`` (same seed -> same users and
    segments under every teacher, so teachers are compared on paired data)."""
    N, M, T = config.n_users, config.n_segments, config.segment_len
    pop = make_population(config.population, N, np.random.default_rng(_seed(seed, 1)))
    data = bundle.data
    starts = spr_windows(data["episode"], data["t"], T - 1)
    if len(starts) == 0:
        raise ValueError(f"segment_len: no offline episode has {T} consecutive steps")
    rng = np.random.default_rng(_seed(seed, 2))
    start = rng.choice(starts, size=N * M)
    user = np.repeat(np.arange(N), M)
    idx = start[:, None] + np.arange(T)[None, :]
    obs, act = data["obs"][idx], data["act"][idx]
    phi = bundle.space(obs, act)
    scores = step_scores(pop.weights, phi, user)
    label, weight, kinds = make_teacher(teacher).label_arrays(scores, np.random.default_rng(_seed(seed, 3)))
    ratings = Ratings(user=user, segment=np.arange(N * M), label=label, weight=weight, n_users=N)
    feats = features.encode(obs, act).astype(np.float64)
    if config.decoder.n_hidden == 0 and config.decoder.aggregate == "mean":
        # a linear decoder's segment score is the decoder of the mean feature (exact); T-fold less work
        feats = feats.mean(axis=1, keepdims=True)
    return Problem(pop.weights, pop.mode, ratings, feats, phi, kinds)


def fit_clusters(problem: Problem, config: PrecConfig, K: int, seed: int) -> tuple[MixtureEM, DecoderMixture]:
    """Leaky EM (seed 000 eq. 10-13) over K cluster decoders."""
    model = DecoderMixture(problem.ratings, segment_features=problem.segment_features, config=config.decoder, seed=_seed(seed, K, 4))
    em_cfg = EMConfig(
        n_components=int(K),
        assignment="leaky",
        leak=config.leak,
        prior="fixed",
        init="random",
        n_restarts=config.em_restarts,
        max_iter=config.em_max_iter,
        tol=1e-6,
        seed=_seed(seed, K, 5),
    )
    return MixtureEM(model, em_cfg).fit(), model


def _em_task(problem: Problem, config: PrecConfig, K: int, seed: int):
    """Leaky EM of one (seed, K) cell in a worker: (assignment, decoders, objective, iterations, seconds)."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    t0 = time.perf_counter()
    em, _ = fit_clusters(problem, config, K, seed)
    return np.asarray(em.labels_), em.params_, float(em.result_.objective), len(em.trace_), time.perf_counter() - t0


def cluster_decoder(decoders: ClusterDecoders, k: int) -> torch.nn.Module:
    """Cluster k's per-step reward decoder as a plain float32 feed-forward module (so the reward wrapper
    can run it in numpy); equal to ``decoders.step_rewards(x)[k]`` (tested)."""
    with torch.no_grad():
        if decoders.n_hidden > 0:
            l1 = torch.nn.Linear(decoders.d_in, decoders.n_hidden)
            l1.weight.copy_(decoders.W1[k].T)
            l1.bias.copy_(decoders.b1[k, 0])
            l2 = torch.nn.Linear(decoders.n_hidden, 1)
            l2.weight.copy_(decoders.W2[k].T)
            l2.bias.copy_(decoders.b2[k, 0])
            mod = torch.nn.Sequential(l1, torch.nn.LeakyReLU(0.01), l2)
        else:
            lin = torch.nn.Linear(decoders.d_in, 1)
            lin.weight.copy_(decoders.W2[k].T)
            lin.bias.copy_(decoders.b2[k, 0])
            mod = torch.nn.Sequential(lin)
    return mod.float().eval().requires_grad_(False)


def policy_task(env_id: str, ppo: PPOConfig, seed: int, reward: EncoderDecoderReward, space: PreferenceSpace,
                eval_episodes: int, max_episode_steps: int | None) -> dict:
    """Train one cluster policy on its learned reward and evaluate it (runs in a worker process)."""
    model, seconds = train_ppo(env_id, ppo, seed, reward_fn=reward, max_episode_steps=max_episode_steps)
    ep = evaluate_policy_episodes(model, env_id, eval_episodes, seed=_seed(seed, 99), max_episode_steps=max_episode_steps)
    phi = space(ep["obs"], ep["act"])
    learned = reward(ep["obs"], ep["act"])
    E = int(ep["episode"].max()) + 1
    cnt = np.bincount(ep["episode"], minlength=E)

    def per_ep(x):
        return np.bincount(ep["episode"], weights=x, minlength=E) / cnt

    return {
        "train_seconds": seconds,
        "episode_phi": np.stack([per_ep(phi[:, c]) for c in range(phi.shape[1])], axis=1),  # (E, 3)
        "env_return": np.bincount(ep["episode"], weights=ep["env_reward"], minlength=E),
        "learned_return": np.bincount(ep["episode"], weights=learned, minlength=E),
        "episode_len": cnt,
        "x_velocity": per_ep(ep["x_velocity"]),
    }


def cell_key(env_id: str, noise: str, K: int, seed: int, use_encoder: bool) -> str:
    return f"env={env_id}_noise={noise}_K={K}_seed={seed}" + ("" if use_encoder else "_noenc")


def user_utilities(weights: np.ndarray, assignment: np.ndarray, policy_phi: dict[int, np.ndarray]) -> np.ndarray:
    """r_i = mean over the E evaluation episodes of user i's 10-point score 10 w_i . phi(episode) of the
    policy of user i's cluster (App. C.2)."""
    return np.array([10.0 * np.mean(policy_phi[int(z)] @ w) for w, z in zip(weights, assignment)])


def _finalize(info: dict, results: dict[int, dict]) -> dict:
    """The metrics of one cell from its EM summary and its policies' evaluation."""
    phi = {k: np.asarray(r["episode_phi"]) for k, r in results.items()}
    u = user_utilities(info["weights"], info["assignment"], phi)
    shift = None if np.all(u > 0) else float(1.0 - u.min())
    w = welfare(u, shift=shift)
    return {
        **{m: float(v) for m, v in w.items()},
        "nash_shift": shift,
        "utilities": u,
        "train_seconds": float(sum(r["train_seconds"] for r in results.values())),
        "n_policies": len(results),
        "policy_env_return": {k: float(np.mean(r["env_return"])) for k, r in results.items()},
        "policy_x_velocity": {k: float(np.mean(r["x_velocity"])) for k, r in results.items()},
        "policy_phi": {k: np.mean(v, axis=0) for k, v in phi.items()},
        **{k: v for k, v in info.items() if k not in ("tasks",)},
    }


def run_prec(
    env_id: str,
    noise: str,
    config: PrecConfig,
    out: Path,
    seed: int = 0,
    n_jobs: int = 1,
    cache_dir: Path | None = None,
    backend: str = "loky",
    progress: bool = True,
    stop_after_cells: int | None = None,
) -> dict:
    """Run (or resume) every (K, seed) cell of one environment and teacher; returns the summary dict that
    is also written to ``out/results.json``."""
    teacher = parse_noise(noise)
    out = Path(out)
    cache_dir = Path(cache_dir) if cache_dir is not None else Path("results/prec/cache")
    t_start = time.perf_counter()
    if backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError:
            raise ValueError("backend: 'ray' needs the optional extra pluralign[ray] (ray is not installed)") from None
        register_ray()
    elif backend != "loky":
        raise ValueError(f"backend: must be loky or ray, got {backend!r}")

    bundle = load_or_build(env_id, config, seed, cache_dir, n_jobs, progress)
    features = feature_module(bundle, config.use_encoder)
    store, pstore = CellStore(out), CellStore(out / "policies")
    seeds = [seed + i for i in range(config.n_seeds)]
    max_steps = config.offline.max_episode_steps

    pending: dict[str, dict] = {}
    tasks: list[tuple[str, int, object]] = []
    em_jobs = []
    problems: dict[int, Problem] = {}
    for s in seeds:
        todo = [K for K in config.Ks if not store.done(cell_key(env_id, teacher, K, s, config.use_encoder))]
        if todo:
            problems[s] = make_problem(bundle, config, teacher, s, features)
            em_jobs += [(s, K) for K in todo]
    if em_jobs and progress:
        print(f"[prec] leaky EM for {len(em_jobs)} (seed, K) cells with {n_jobs} worker(s)", flush=True)
    fits = Parallel(n_jobs=n_jobs, backend=None if backend == "loky" else "ray")(
        delayed(_em_task)(problems[s], config, K, s) for s, K in em_jobs
    )
    for (s, K), (z, params, objective, n_iter, seconds) in zip(em_jobs, fits):
        problem = problems[s]
        key = cell_key(env_id, teacher, K, s, config.use_encoder)
        clusters = sorted(set(z.tolist()))
        info = {
            "env": env_id, "noise": teacher, "K": int(K), "seed": int(s), "use_encoder": config.use_encoder,
            "weights": problem.weights, "mode": problem.mode, "assignment": z,
            "cluster_sizes": np.bincount(z, minlength=K), "ari_vs_modes": adjusted_rand_index(problem.mode, z),
            "em_objective": objective, "em_iterations": n_iter,
            "em_seconds": seconds, "positive_label_rate": float(np.mean(problem.ratings.label == 1.0)),
            "clusters": clusters,
        }
        pending[key] = info
        for k in clusters:
            pkey = f"{key}_k={k}"
            if pstore.done(pkey):
                continue
            reward = EncoderDecoderReward(features, cluster_decoder(params, k))
            tasks.append((key, k, delayed(policy_task)(env_id, config.ppo, _seed(s, K, k, 6), reward, bundle.space, config.eval_episodes, max_steps)))

    def policy_results(key: str) -> dict[int, dict] | None:
        info = pending[key]
        if not all(pstore.done(f"{key}_k={k}") for k in info["clusters"]):
            return None
        return {k: pstore.load(f"{key}_k={k}")["metrics"] for k in info["clusters"]}

    new_cells = 0

    def maybe_finish(key: str) -> None:
        nonlocal new_cells
        res = policy_results(key)
        if res is None or store.done(key):
            return
        info = pending[key]
        store.save(key, {"env": env_id, "noise": teacher, "K": info["K"], "seed": info["seed"], "profile": config.profile,
                         "use_encoder": config.use_encoder}, _finalize(info, res))
        new_cells += 1
        if stop_after_cells is not None and new_cells >= stop_after_cells:
            raise SimulatedInterrupt(f"stopped after {new_cells} new cells")

    for key in list(pending):  # cells whose policies all finished before an interruption
        maybe_finish(key)
    if tasks:
        if progress:
            print(f"[prec] {len(tasks)} cluster policies to train ({len(pending)} cells) with {n_jobs} worker(s)", flush=True)
        par = Parallel(n_jobs=n_jobs, backend=None if backend == "loky" else "ray", return_as="generator_unordered")
        it = _tagged(par, tasks)  # results come back tagged (cell, cluster) in order of completion
        if progress:
            from tqdm import tqdm

            it = tqdm(it, total=len(tasks), desc=f"PPO {env_id} {teacher}")
        for key, k, res in it:
            pstore.save(f"{key}_k={k}", {"cell": key, "k": k}, res)
            maybe_finish(key)
    summary = summarize(store, env_id, teacher, config, seeds)
    summary["wall_seconds_this_invocation"] = time.perf_counter() - t_start
    summary["offline_seconds"] = bundle.seconds
    summary["cache_dir"] = str(bundle.cache_dir)
    summary["pca_explained_variance_ratio"] = bundle.space.explained_variance_ratio
    write_json(out / "results.json", summary)
    from pluralign.paper_figures.prec import cluster_pictures, fig2_panel

    fig2_panel(summary, out / f"fig2_{env_id}_{teacher}.png")
    cluster_pictures(store, summary, out / f"clusters_{env_id}_{teacher}.png")
    return summary


def _run_tagged(key: str, k: int, fn, args, kwargs):
    return key, k, fn(*args, **kwargs)


def _tagged(par: Parallel, tasks):
    return par(delayed(_run_tagged)(key, k, d[0], d[1], d[2]) for key, k, d in tasks)


def summarize(store: CellStore, env_id: str, teacher: str, config: PrecConfig, seeds: list[int]) -> dict:
    """Welfare per K (mean and standard error over seeds), training time per K, and every cell's metrics."""
    cells = [c for c in store.all() if c["config"]["env"] == env_id and c["config"]["noise"] == teacher
             and c["config"]["seed"] in seeds and c["config"].get("use_encoder", True) == config.use_encoder]
    table = {}
    for K in config.Ks:
        ms = [c["metrics"] for c in cells if c["config"]["K"] == K]
        if not ms:
            continue
        row = {"n_seeds": len(ms)}
        for m in ("utilitarian", "egalitarian", "nash", "train_seconds", "ari_vs_modes", "n_policies"):
            v = np.array([x[m] for x in ms], dtype=float)
            row[m] = float(v.mean())
            row[f"{m}_se"] = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
        table[str(K)] = row
    return {
        "env": env_id, "noise": teacher, "profile": config.profile, "seeds": seeds, "Ks": list(config.Ks),
        "use_encoder": config.use_encoder, "population": config.population, "table": table,
        "n_cells": len(cells), "n_cells_expected": len(config.Ks) * len(seeds),
        "cells": [{"key": c["key"], **{k: c["metrics"][k] for k in ("utilitarian", "egalitarian", "nash", "train_seconds",
                                                                    "cluster_sizes", "ari_vs_modes", "policy_env_return",
                                                                    "policy_x_velocity", "positive_label_rate")}} for c in cells],
    }
