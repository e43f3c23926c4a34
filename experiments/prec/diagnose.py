"""What did the cluster policies of a PREC run learn?  A diagnostic of a finished (or partial)
``pluralign prec run`` (no training; reads the run folder and, for (iii), its offline cache).

For the run in DIR, per K:

(i)   the learned reward the cluster policies were trained on, measured on their own evaluation episodes
      (stored with every policy: its learned return over the episode length): the median over policies of
      |mean per-step learned reward| and the share of policies whose mean per-step reward is positive, with
      the episodes' mean length, env return and x-velocity;
(ii)  the welfare of the run's reference policies (:data:`pluralign.experiments.prec.pipeline.REFERENCES`,
      from ``results.json``; runs made before they existed have none: re-run ``pluralign prec run`` with
      the same arguments to add them, nothing else is recomputed);
(iii) per replicate, how many users' good/bad label sets are linearly separable in the decoders' input
      features (the segment-mean features a linear decoder scores; an LP feasibility problem, exists (a, b)
      with s_j (a . x_j + b) >= 1 for every good / bad label s_j = +-1, solved by scipy's HiGHS; B-Pref's
      skipped queries carry no label and its "equal" labels (1/2, counted) are soft, so both are left out),
      and whether the pooled label set is.  On a separable set the maximum-likelihood linear decoder does not exist: the
      unregularized logistic loss keeps falling as the weights grow, so the fitted decoder of a per-user
      (K = N) cell stops wherever the optimiser's budget ends, with a per-step reward of that size.

(iv)  with ``--start-sign``: the sign of each cluster's learned reward where its policy starts.  The cell's
      decoders are refitted from the run's seeds (:func:`pluralign.experiments.prec.pipeline.fit_clusters`,
      replicate 0 by default) and read on the evaluation episodes of the untrained PPO policy (the
      ``initial`` reference: the robot standing, falling slowly).  A good/bad decoder's zero is the rating
      threshold, so where most segments are rated bad, the learned reward is negative on ordinary states;
      in an environment that ends the episode when the robot falls (Hopper, Walker2d, Ant), a negative
      per-step reward makes ending the episode early pay (termination bias).  Reported per K: the mean
      per-step learned reward there, the share of clusters where it is negative, and the true per-step
      reward <w_bar_k, phi> of the cluster's users there (positive by construction).

``python -m pluralign.experiments.prec.diagnose --run DIR`` writes ``DIR/diagnose.json`` and prints the
tables; :func:`diagnose` is the function (no printing).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from pluralign.runs import CellStore, read_json, write_json

__all__ = ["diagnose", "learned_reward_table", "linearly_separable", "main", "run_config", "separability", "start_sign"]


def run_config(run_dir: Path, same_physics: bool = True):
    """``(PrecConfig, base seed)`` of the run in ``run_dir``, rebuilt from its ``config.json`` (its profile's
    settings with the run's options); ValueError when the rebuilt settings differ from the stored ones (a
    run of an older version of the profile, or, with ``same_physics``, of another MuJoCo: what re-simulates
    must run under the run's own; ``same_physics=False`` takes the run's, for what only reads its files)."""
    from pluralign.experiments.prec.config import make_config

    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise ValueError(f"run: {run_dir} has no config.json (not a prec run folder)")
    d = read_json(path)
    c = d.get("config", {})
    if d.get("command") != "prec run":
        raise ValueError(f"run: {path} is not a prec run's config (command {d.get('command')!r})")
    opts = ("noise", "population", "use_encoder", "n_seeds", "cache_dir", "n_jobs", "backend", "address")
    cfg = replace(make_config(d["profile"], c["env"]), **{k: c[k] for k in opts})
    cfg = replace(cfg, decoder=replace(cfg.decoder, aggregate=c.get("decoder", {}).get("aggregate", "mean")),
                  ppo=replace(cfg.ppo, normalize_reward=bool(c.get("ppo", {}).get("normalize_reward", False))))
    if not same_physics:
        cfg = replace(cfg, physics=c.get("physics", cfg.physics))
    now = json.loads(json.dumps(cfg.to_dict(), default=str))
    diff = sorted(k for k in set(now) | set(c) if now.get(k) != c.get(k))
    if diff:
        raise ValueError(f"run: {path} differs from the {d['profile']} profile of this version in {', '.join(diff)}")
    return cfg, int(d["seed"])


def learned_reward_table(run_dir: Path) -> dict:
    """(i) of the module docstring, per K (from the run's stored policies)."""
    rows: dict[int, list] = {}
    for p in CellStore(Path(run_dir) / "policies").all():
        m = p["metrics"]
        K = int(str(p["config"]["cell"]).split("_K=")[1].split("_")[0])
        length = np.asarray(m["episode_len"], dtype=float)
        per_step = float(np.mean(np.asarray(m["learned_return"], dtype=float) / length))
        rows.setdefault(K, []).append((per_step, length.mean(), float(np.mean(m["env_return"])),
                                       float(np.mean(m["x_velocity"]))))
    out = {}
    for K in sorted(rows):
        a = np.array(rows[K])
        out[str(K)] = {"n_policies": len(a), "median_abs_learned_reward_per_step": float(np.median(np.abs(a[:, 0]))),
                       "share_positive": float(np.mean(a[:, 0] > 0)), "episode_len": float(a[:, 1].mean()),
                       "env_return": float(a[:, 2].mean()), "x_velocity": float(a[:, 3].mean())}
    return out


def linearly_separable(X: np.ndarray, y: np.ndarray) -> bool:
    """Whether labels ``y`` in {0, 1} of the rows of ``X`` are strictly separable by a hyperplane: the LP
    feasibility problem s_j (a . x_j + b) >= 1 (s = 2y - 1), scipy.optimize.linprog with HiGHS. A set with one
    label only counts as separable (its likelihood also has no maximiser: the bias runs off)."""
    from scipy.optimize import linprog

    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X, y: expected (n, d) and (n,), got {X.shape} and {y.shape}")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("y: labels must be 0 or 1")
    if len(np.unique(y)) < 2:
        return True
    s = 2.0 * y - 1.0
    A = -s[:, None] * np.hstack([X, np.ones((len(X), 1))])
    res = linprog(np.zeros(A.shape[1]), A_ub=A, b_ub=-np.ones(len(X)), bounds=[(None, None)] * A.shape[1],
                  method="highs")
    if res.status not in (0, 2):  # 0 feasible, 2 infeasible; anything else is a solver failure
        raise RuntimeError(f"linprog: {res.message}")
    return res.status == 0


def separability(config, seed: int) -> list[dict]:
    """(iii) of the module docstring, per replicate (rebuilds the users' labels from the offline cache)."""
    from pluralign.experiments.prec.offline import load_or_build
    from pluralign.experiments.prec.pipeline import feature_module, make_problem

    bundle = load_or_build(config.env, config, seed, Path(config.cache_dir), 1, progress=False)
    features = feature_module(bundle, config.use_encoder)
    out = []
    for r in range(config.n_seeds):
        pr = make_problem(bundle, config, seed, features, r)
        X = pr.segment_features.mean(axis=1)  # (S, d): a linear decoder's score, sum or mean, is affine in it
        R = pr.ratings
        keep = (R.weight > 0) & (R.label != 0.5)  # skipped queries carry no label; "equal" (1/2) is soft
        y = (R.label == 1.0).astype(int)
        per_user = [linearly_separable(X[R.segment[keep & (R.user == i)]], y[keep & (R.user == i)])
                    for i in range(R.n_users)]
        out.append({"replicate": r, "users": R.n_users, "users_separable": int(np.sum(per_user)),
                    "pooled_separable": linearly_separable(X[R.segment[keep]], y[keep]),
                    "labels_per_user": float(np.mean(np.bincount(R.user[keep], minlength=R.n_users))),
                    "equal_labels": int(np.sum((R.weight > 0) & (R.label == 0.5))),
                    "feature_dim": int(X.shape[1])})
    return out


def start_sign(config, seed: int, replicate: int = 0, Ks=None) -> dict:
    """(iv) of the module docstring: per K (default the run's grid), the cell's refitted cluster rewards on
    the untrained PPO policy's evaluation episodes (the ``initial`` reference's policy and episodes)."""
    from pluralign.experiments.prec.offline import load_or_build
    from pluralign.experiments.prec.pipeline import (TrueReward, cluster_decoder, feature_module, fit_clusters,
                                                     make_problem, reference_episodes, reference_seed)
    from pluralign.rl.reward import EncoderDecoderReward

    if not 0 <= int(replicate) < config.n_seeds:
        raise ValueError(f"replicate: must lie in 0..{config.n_seeds - 1}, got {replicate}")
    Ks = list(config.Ks if Ks is None else Ks)
    bad = [K for K in Ks if int(K) not in config.Ks]
    if bad:
        raise ValueError(f"Ks: {bad} not in the run's grid {tuple(config.Ks)}")
    bundle = load_or_build(config.env, config, seed, Path(config.cache_dir), 1, progress=False)
    features = feature_module(bundle, config.use_encoder)
    problem = make_problem(bundle, config, seed, features, replicate)
    ep, _ = reference_episodes("initial", config.env, config.ppo, reference_seed(seed, replicate, "initial"),
                               config.eval_episodes, config.offline.max_episode_steps)
    out = {}
    for K in Ks:
        em, _ = fit_clusters(problem, config, int(K), seed, replicate)
        z = np.asarray(em.labels)
        learned, true = [], []
        for k in sorted(set(z.tolist())):
            reward = EncoderDecoderReward(features, cluster_decoder(em.params, k))
            learned.append(float(np.mean(reward(ep["obs"], ep["act"]))))
            true.append(float(np.mean(TrueReward(bundle.space, problem.weights[z == k].mean(axis=0))(ep["obs"], ep["act"]))))
        out[str(K)] = {"clusters": len(learned), "learned_reward_per_step": float(np.mean(learned)),
                       "share_negative": float(np.mean(np.asarray(learned) < 0)),
                       "true_reward_per_step": float(np.mean(true)), "episode_len": len(ep["t"]) / config.eval_episodes}
    return out


def diagnose(run_dir: Path, with_separability: bool = True, with_start_sign: bool = False, replicate: int = 0) -> dict:
    """(i)-(iii) of the module docstring for the run in ``run_dir``, and (iv) with ``with_start_sign``."""
    run_dir = Path(run_dir)
    config, seed = run_config(run_dir)
    res = read_json(run_dir / "results.json") if (run_dir / "results.json").exists() else {}
    welfare = {K: {m: r[m]["mean"] for m in ("utilitarian", "egalitarian", "nash")} for K, r in res.get("table", {}).items()}
    refs = {n: {m: r[m]["mean"] for m in ("utilitarian", "egalitarian", "nash", "env_return", "x_velocity", "episode_len")}
            for n, r in res.get("references", {}).items()}
    return {"run": str(run_dir), "env": config.env, "noise": config.noise, "profile": config.profile,
            "welfare": welfare, "learned_reward": learned_reward_table(run_dir), "references": refs,
            "separability": separability(config, seed) if with_separability else None,
            "start_sign": {"replicate": int(replicate), "by_K": start_sign(config, seed, replicate)} if with_start_sign else None}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, type=Path, help="a pluralign prec run folder")
    ap.add_argument("--no-separability", action="store_true", help="skip (iii) (needs the run's offline cache)")
    ap.add_argument("--start-sign", action="store_true", help="add (iv): refits every K's decoders (minutes at quick)")
    ap.add_argument("--replicate", type=int, default=0, help="the replicate of (iv)")
    a = ap.parse_args(argv)
    try:
        d = diagnose(a.run, with_separability=not a.no_separability, with_start_sign=a.start_sign,
                     replicate=a.replicate)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    write_json(a.run / "diagnose.json", d)
    print(f"{d['env']} {d['noise']} ({d['profile']})")
    print(f"{'K':>16} {'utilitarian':>11} {'|r|/step':>10} {'r>0':>5} {'ep len':>7} {'env ret':>8} {'x-vel':>6}")
    for K, r in d["learned_reward"].items():
        u = d["welfare"].get(K, {}).get("utilitarian", float("nan"))
        print(f"{K:>16} {u:11.3f} {r['median_abs_learned_reward_per_step']:10.3g} {r['share_positive']:5.2f} "
              f"{r['episode_len']:7.1f} {r['env_return']:8.1f} {r['x_velocity']:6.2f}")
    for n, r in d["references"].items():
        print(f"{n:>16} {r['utilitarian']:11.3f} {'':>10} {'':>5} {r['episode_len']:7.1f} {r['env_return']:8.1f} "
              f"{r['x_velocity']:6.2f}")
    for s in d["separability"] or []:
        print(f"replicate {s['replicate']}: {s['users_separable']}/{s['users']} users' label sets linearly separable "
              f"({s['labels_per_user']:.0f} good/bad labels each, {s['equal_labels']} 'equal' left out, {s['feature_dim']} features); pooled separable: {s['pooled_separable']}")
    if d["start_sign"]:
        print(f"learned reward on the untrained policy's episodes (replicate {d['start_sign']['replicate']}, decoders refitted):")
        for K, r in d["start_sign"]["by_K"].items():
            print(f"  K={K:>3}: {r['learned_reward_per_step']:+10.3g} per step, negative in {r['share_negative']:.0%} of "
                  f"{r['clusters']} clusters (true reward {r['true_reward_per_step']:.3f} per step, {r['episode_len']:.0f}-step episodes)")
    print(f"wrote {a.run / 'diagnose.json'}")
    return d


if __name__ == "__main__":
    main()
