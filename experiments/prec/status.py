"""Where a long PREC run stands (``pluralign prec status --run DIR``): read-only, from its files.

A ``medium`` or ``paper`` run takes many sittings (``pluralign prec plan``); between them this says what is
finished and what is left:

* the offline cache: agents stored (of ``len(target_velocities)``), data set and encoder built;
* the reference policies (:data:`pipeline.REFERENCES`) finished, of ``len(REFERENCES) * n_seeds``;
* cells finished, of ``len(Ks) * n_seeds``, and the cluster policies stored (a cell's policies are stored
  one by one as they finish, the cell once all are; an unfinished cell counts K policies, an upper bound:
  empty clusters train none);
* the CPU seconds spent so far, every sitting together (each task's own ``cpu_seconds``, as
  :func:`pipeline.compute_summary` adds them), and an estimate of what is left: the PPO steps left times
  the CPU seconds per PPO step measured on this run's finished PPO tasks (their median; tasks stored by an
  older version kept only wall seconds, which then stand in, ``rate_from = "wall"``: an over-estimate on a
  loaded machine; None before a PPO task has finished: ``pluralign prec plan`` estimates from a short
  measurement). Evaluation, leaky EM and SPR pretraining of what is left are not counted.

:func:`finished_table` is the welfare table of what is finished: the numbers the finished run's
``results.json`` will hold for those cells and references (:func:`pipeline.summarize`,
:func:`pipeline.reference_summary` over the stored ones), each row over the seeds finished so far.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.runs import CellStore, read_json

__all__ = ["finished_table", "status"]


def _store(root: Path) -> CellStore | None:
    """The CellStore under ``root`` when it exists (never created here: status only reads)."""
    return CellStore(root) if (Path(root) / "cells").is_dir() else None


def _run(run_dir: Path):
    """``(config, base seed, offline cache folder)`` of the run in ``run_dir``; the config validated, so it
    carries the names the pipeline keys its cells by (noise '2' -> 'noise2')."""
    from pluralign.experiments.prec.diagnose import run_config
    from pluralign.experiments.prec.offline import cache_key

    config, seed = run_config(Path(run_dir), same_physics=False)  # status reads files only
    config = config.validate()
    return config, seed, Path(config.cache_dir) / cache_key(config.env, config, seed)


def status(run_dir: Path, cpus: int = 2) -> dict:
    """What is finished in the run folder ``run_dir`` and what is left (module docstring); ``cpus``: the
    CPUs the wall-time estimate assumes (one PPO task per CPU)."""
    from pluralign.experiments.prec.pipeline import REFERENCES, TRAINED_REFERENCES, cell_key, reference_key

    if int(cpus) < 1:
        raise ValueError(f"cpus: must be >= 1, got {cpus}")
    run_dir = Path(run_dir)
    config, seed, cache = _run(run_dir)
    env, teacher = config.env, config.noise
    steps = config.ppo.total_timesteps
    n_agents = len(config.offline.target_velocities)
    build = read_json(cache / "build.json") if (cache / "build.json").exists() else {}
    data_built = (cache / "offline.npz").exists()
    agents_done = n_agents if data_built else len(list((cache / "agents").glob("agent*.npz")))
    cpu = {"offline": (build.get("offline") or {}).get("cpu_seconds"), "spr": (build.get("spr") or {}).get("cpu_seconds")}
    if not data_built and (cache / "agents").is_dir():  # agents of an unfinished build
        cpu["offline"] = sum(read_json(p)["cpu_seconds"] for p in (cache / "agents").glob("agent*.json"))

    per_step: list[float] = []  # CPU seconds per PPO step of this run's finished PPO tasks
    wall_per_step: list[float] = []  # PPO wall seconds per step (the fallback for records without CPU seconds)
    untimed, untimed_wall = 0, 0.0  # records written before CPU seconds were kept, and their PPO wall seconds

    def sample(metrics: dict) -> None:
        """This run's seconds per PPO step, from one finished PPO task."""
        c, w = metrics.get("cpu_seconds"), float(metrics.get("train_seconds", 0.0))
        if w > 0:
            wall_per_step.append(w / steps)
            if c is not None:
                per_step.append(float(c) / steps)

    def account(metrics: dict) -> float:
        """:func:`sample` and the task's CPU seconds (0 for an untimed record, counted as such)."""
        nonlocal untimed, untimed_wall
        sample(metrics)
        if metrics.get("cpu_seconds") is None:
            untimed += 1
            untimed_wall += float(metrics.get("train_seconds", 0.0))
            return 0.0
        return float(metrics["cpu_seconds"])

    rstore = _store(cache / "references")
    refs_done, refs_trained_left, cpu["references"] = 0, 0, 0.0
    for r in range(config.n_seeds):
        for name in REFERENCES:
            key = reference_key(config, seed, r, name)
            if rstore is not None and rstore.done(key):
                refs_done += 1
                cpu["references"] += account(rstore.load(key)["metrics"])
            elif name in TRAINED_REFERENCES:
                refs_trained_left += 1

    store, pstore = _store(run_dir), _store(run_dir / "policies")
    cells_done, policies_done, policies_left, cpu["cells"] = 0, 0, 0, 0.0
    for r in range(config.n_seeds):
        for K in config.Ks:
            key = cell_key(env, teacher, K, seed, r, config.use_encoder)
            if store is not None and store.done(key):
                m = store.load(key)["metrics"]
                cells_done += 1
                policies_done += int(m["n_policies"])
                if m.get("cpu_seconds") is None:
                    untimed += 1
                    untimed_wall += float(m.get("train_seconds", 0.0))
                cpu["cells"] += float(m.get("cpu_seconds") or 0.0)
                for k in m.get("clusters", []) if pstore is not None else []:  # its CPU is in the cell's
                    if pstore.done(f"{key}_k={k}"):
                        sample(pstore.load(f"{key}_k={k}")["metrics"])
                continue
            stored = sorted((run_dir / "policies" / "cells").glob(f"{key}_k=*.json"))
            policies_done += len(stored)
            policies_left += max(0, int(K) - len(stored))
            cpu["cells"] += sum(account(read_json(p)["metrics"]) for p in stored)

    rate, rate_from = ((float(np.median(per_step)), "cpu") if per_step else
                       (float(np.median(wall_per_step)), "wall") if wall_per_step else (None, None))
    steps_left = ((policies_left + refs_trained_left) * steps
                  + (n_agents - agents_done) * config.offline.ppo.total_timesteps)
    left_cpu = None if rate is None else steps_left * rate
    spent = sum(v for v in cpu.values() if v is not None)
    return {
        "run": str(run_dir), "env": env, "noise": teacher, "profile": config.profile, "seed": seed,
        "offline": {"agents_done": agents_done, "agents": n_agents, "data_built": data_built,
                    "encoder_built": (cache / "encoder.pt").exists(), "cache_dir": str(cache)},
        "references": {"done": refs_done, "expected": len(REFERENCES) * config.n_seeds},
        "cells": {"done": cells_done, "expected": len(config.Ks) * config.n_seeds},
        "policies": {"done": policies_done, "left_at_most": policies_left},
        "cpu_seconds": cpu, "cpu_hours_spent": spent / 3600, "untimed_records": untimed,
        "untimed_ppo_wall_hours": untimed_wall / 3600,
        "ppo_steps_left_at_most": steps_left, "cpu_seconds_per_ppo_step": rate, "rate_from": rate_from,
        "cpu_hours_left_at_most": None if left_cpu is None else left_cpu / 3600,
        "wall_hours_left_at_most": None if left_cpu is None else left_cpu / 3600 / int(cpus), "cpus": int(cpus),
    }


def finished_table(run_dir: Path) -> dict:
    """Per K and per reference policy, the measures over the replicates finished so far in ``run_dir``
    (``table``, ``references``: :func:`pipeline.summarize` and :func:`pipeline.reference_summary` of the
    stored cells, each row with its ``n_seeds``), and ``n_cells`` / ``n_cells_expected``. Reads only."""
    from pluralign.experiments.prec.pipeline import reference_summary, summarize

    config, seed, cache = _run(run_dir)
    store, rstore = _store(Path(run_dir)), _store(cache / "references")
    summary = summarize(store, config, seed) if store is not None else {
        "table": {}, "n_cells": 0, "n_cells_expected": len(config.Ks) * config.n_seeds}
    refs = reference_summary(rstore, config, seed)[0] if rstore is not None else {}
    return {"table": summary["table"], "references": refs, "n_cells": summary["n_cells"],
            "n_cells_expected": summary["n_cells_expected"]}
