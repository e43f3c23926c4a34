"""The run core below every study: profiles, result files, resumable cells, error bars.

Every study has one shape: a settings dataclass (a one-line docstring per field), ``PROFILES`` mapping
each :class:`Profile` to its settings, and ``run(settings, seed, out) -> dict`` that writes
``results.json`` under ``out`` and keeps each finished (config x seed) cell in a :class:`CellStore`, so an
interrupted run resumes where it stopped. Studies write numbers; pictures are drawn from results files
by :mod:`pluralign.paper_figures`. Seeds: :mod:`pluralign.seeding` (one base seed, SeedSequence children).
Error bars: :func:`mean_sem` (mean +- standard error over seeds), everywhere.

Nothing here imports the command line (:mod:`pluralign.cli` sits on top and only parses and dispatches).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_ROOT = Path("results")


class Profile(str, Enum):
    """How big a run is: smoke (seconds, for CI), quick (minutes on 2 CPUs), paper (the seeds' scale)."""

    smoke = "smoke"
    quick = "quick"
    paper = "paper"


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return _to_jsonable(asdict(obj))
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(_to_jsonable(obj), fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as fh:
        return json.load(fh)


def default_out(command: str, profile: Profile | str) -> Path:
    profile = Profile(profile).value
    return RESULTS_ROOT / command.replace(" ", "-") / profile


RESUME_FREE = frozenset({"n_jobs", "jobs", "backend", "address", "cache_dir", "progress"})
"""Settings that change how a run is executed, not its numbers: a resume may change them."""


def _differences(old, new, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            if k in RESUME_FREE:
                continue
            out += _differences(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [prefix.rstrip(".") or "config"]


def prepare_run(command: str, out: Path | None, profile: Profile | str, seed: int, config: dict) -> Path:
    """Create the output folder of a run and write ``config.json`` (command, profile, seed, config).

    A folder that already holds finished cells of a run with other settings (command, seed or any
    setting but the execution-only :data:`RESUME_FREE` ones) is refused with a ``ValueError`` naming
    ``out`` and the settings that differ: resuming must never mix cells of two different runs."""
    out = Path(out) if out is not None else default_out(command, profile)
    record = _to_jsonable({"command": command, "profile": Profile(profile).value, "seed": int(seed),
                           "config": config})
    old_path = out / "config.json"
    if old_path.exists() and any((out / "cells").glob("*.json")):
        try:
            old = read_json(old_path)
        except (OSError, ValueError):
            old = None
        diff = ["config.json (unreadable)"] if old is None else _differences(
            {k: old.get(k) for k in ("command", "seed", "config")},
            {k: record[k] for k in ("command", "seed", "config")})
        if diff:
            raise ValueError(f"out: {out} holds finished cells of a run with other settings (differs in: "
                             f"{', '.join(diff[:6])}); use another --out folder or delete this one")
    out.mkdir(parents=True, exist_ok=True)
    write_json(old_path, record)
    return out


class CellStore:
    """Finished cells of a long run, one JSON file each under ``root/cells``; re-running skips them.

    A cell is one (config x seed); its key is a short string such as ``"K=3_noise=2_seed=1"``.
    Writing is atomic, so an interrupted run never leaves a half-written cell behind.
    """

    def __init__(self, root: str | os.PathLike):
        self.dir = Path(root) / "cells"
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        safe = "".join(c if (c.isalnum() or c in "=_-.,") else "_" for c in key)
        return self.dir / f"{safe}.json"

    def done(self, key: str) -> bool:
        return self._path(key).exists()

    def load(self, key: str) -> dict:
        return read_json(self._path(key))

    def save(self, key: str, config: dict, metrics: dict) -> Path:
        return write_json(self._path(key), {"key": key, "config": config, "metrics": metrics})

    def all(self) -> list[dict]:
        return [read_json(p) for p in sorted(self.dir.glob("*.json"))]


def run_cells(work, tasks: list[tuple], n_jobs: int = 1, desc: str = "cells", progress: bool = True) -> None:
    """Call ``work(*task)`` for every task, in up to ``n_jobs`` processes (joblib, results unordered), with a
    tqdm bar over finished tasks.  ``work`` must save its own result (one :class:`CellStore` cell), so an
    interrupted run keeps every finished cell and a re-run skips them; pass only unfinished tasks."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    n_jobs = max(1, min(int(n_jobs), os.cpu_count() or 1, len(tasks) or 1))
    with tqdm(total=len(tasks), desc=desc, unit="cell", disable=not progress) as bar:
        if n_jobs > 1:
            for _ in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(delayed(work)(*t) for t in tasks):
                bar.update(1)
        else:
            for t in tasks:
                work(*t)
                bar.update(1)


def mean_sem(values: Iterable[float]) -> dict:
    """Mean and standard error of the mean over seeds: ``{"mean", "sem", "n_seeds"}``.

    The error-bar convention of the whole package (every table and figure): s.e.m. = sample standard
    deviation (ddof = 1) / sqrt(n); 0.0 for a single seed. Non-finite values are refused."""
    v = np.asarray(list(values), dtype=float).ravel()
    if v.size == 0:
        raise ValueError("values: mean_sem needs at least one value")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"values: mean_sem got non-finite values {v[~np.isfinite(v)][:3].tolist()}")
    sem = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
    return {"mean": float(v.mean()), "sem": sem, "n_seeds": int(v.size)}


def settings_for(profiles: dict, profile: "Profile | str"):
    """A copy of ``profiles[profile]`` (a study's settings for one profile), with a clear error for an
    unknown profile name."""
    import copy

    try:
        key = Profile(profile)
    except ValueError:
        raise ValueError(f"profile: must be one of {[p.value for p in Profile]}, got {profile!r}") from None
    for k in (key, key.value):
        if k in profiles:
            return copy.deepcopy(profiles[k])
    raise ValueError(f"profile: this study has no {key.value!r} profile (has {sorted(map(str, profiles))})")
