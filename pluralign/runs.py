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


def profile_name(profile: Profile | str) -> str:
    """The name of a profile: a :class:`Profile` member's value, or a study's own profile name (e.g. the
    MuJoCo PREC pipeline's ``medium``; the study validates it)."""
    name = profile.value if isinstance(profile, Profile) else str(profile)
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"profile: expected a profile name, got {profile!r}")
    return name


def default_out(command: str, profile: Profile | str) -> Path:
    return RESULTS_ROOT / command.replace(" ", "-") / profile_name(profile)


RESUME_FREE = frozenset({"n_jobs", "jobs", "backend", "address", "cache_dir", "progress"})
"""Settings that change how a run is executed, not its numbers: a resume may change them."""


def _differences(old, new, prefix: str = "", free: frozenset = RESUME_FREE) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            if k in free:
                continue
            out += _differences(old.get(k), new.get(k), f"{prefix}{k}.", free)
        return out
    return [] if old == new else [prefix.rstrip(".") or "config"]


RECORDED_PACKAGES = ("pluralign", "numpy", "scipy", "torch", "mujoco", "gymnasium", "stable-baselines3",
                     "transformers", "peft", "trl", "sentence-transformers", "cvxpy", "pymc")
"""Packages whose installed versions every run records (``config.json["versions"]``): the same seed gives the
same numbers only under the same versions (a new MuJoCo can move every PREC number)."""


def package_versions() -> dict[str, str]:
    """Python's and the installed :data:`RECORDED_PACKAGES`' versions (packages not installed are left out)."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def prepare_run(command: str, out: Path | None, profile: Profile | str, seed: int, config: dict,
                resume_free: Iterable[str] = ()) -> Path:
    """Create the output folder of a run and write ``config.json`` (command, profile, seed, config and the
    :func:`package_versions` it runs under).

    A folder that already holds finished cells of a run with other settings (command, seed or any
    setting but the execution-only :data:`RESUME_FREE` ones) is refused with a ``ValueError`` naming
    ``out`` and the settings that differ: resuming must never mix cells of two different runs.
    ``resume_free`` adds settings of this command that may change too (a study whose cells do not depend on
    them and whose summary reads only the cells they select, e.g. PREC's replicate count and K grid). A resume
    under other package versions is allowed, and kept on record: ``versions`` stays the first sitting's and
    ``resumed_under`` lists each later set of versions that differed, with a warning naming the packages."""
    out = Path(out) if out is not None else default_out(command, profile)
    record = _to_jsonable({"command": command, "profile": profile_name(profile), "seed": int(seed),
                           "config": config, "versions": package_versions()})
    old_path = out / "config.json"
    if old_path.exists() and any((out / "cells").glob("*.json")):
        try:
            old = read_json(old_path)
        except (OSError, ValueError):
            old = None
        diff = ["config.json (unreadable)"] if old is None else _differences(
            {k: old.get(k) for k in ("command", "seed", "config")},
            {k: record[k] for k in ("command", "seed", "config")}, free=RESUME_FREE | frozenset(resume_free))
        if diff:
            raise ValueError(f"out: {out} holds finished cells of a run with other settings (differs in: "
                             f"{', '.join(diff[:6])}); use another --out folder or delete this one")
        if old.get("versions") is not None:
            record["resumed_under"] = list(old.get("resumed_under", []))
            changed = _differences(old["versions"], record["versions"], free=frozenset())
            if changed:
                import warnings

                warnings.warn(f"{out}: resuming cells made under other package versions ("
                              + ", ".join(f"{k} {old['versions'].get(k)} -> {record['versions'].get(k)}"
                                          for k in changed) + ")", RuntimeWarning, stacklevel=2)
                record["resumed_under"].append(record["versions"])
            record["versions"] = old["versions"]
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


BACKENDS = ("local", "ray")
"""Sweep engines of :func:`run_cells` / :func:`map_unordered`: ``local`` (joblib processes on this machine)
and ``ray`` (Ray tasks on a cluster; the optional extra pluralign[ray])."""


def check_backend(backend: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS`; ValueError naming it otherwise."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def ray_init(address: str | None = None):
    """The ``ray`` module, connected: an already initialised Ray session is used as it is; otherwise
    ``ray.init(address)`` (None starts a local instance with this machine's CPUs; "auto" joins the running
    cluster; "ray://host:10001" a remote one). ValueError when ray is not installed."""
    try:
        import ray
    except ImportError:
        raise ValueError("backend: 'ray' needs the optional extra pluralign[ray] (ray is not installed)") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    return ray


def _indexed(fn, i, args):
    return i, fn(*args)


def map_unordered(fn, tasks: list[tuple], *, n_jobs: int = 1, backend: str = "local", address: str | None = None,
                  num_cpus: float = 1, max_retries: int = 3):
    """Yield ``(i, fn(*tasks[i]))`` for every task, in order of completion.

    * ``backend="local"``: in this process (``n_jobs`` = 1) or in up to ``n_jobs`` joblib (loky) processes.
    * ``backend="ray"``: every task is one Ray task declaring ``num_cpus`` CPUs (Ray runs as many at once as
      the cluster's CPUs allow; ``n_jobs`` is not used) and retried up to ``max_retries`` times when its
      worker process or node dies; results come back to this process (the driver) through ``ray.wait``.
      ``address`` as in :func:`ray_init`.

    An exception raised by ``fn`` propagates (Ray: as ``ray.exceptions.RayTaskError``); the caller keeps
    whatever it stored from the results already yielded."""
    check_backend(backend)
    if not tasks:
        return
    if backend == "ray":
        ray = ray_init(address)
        remote = ray.remote(num_cpus=num_cpus, max_retries=int(max_retries))(fn)
        refs = {remote.remote(*t): i for i, t in enumerate(tasks)}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                yield refs.pop(ref), ray.get(ref)
        return
    n_jobs = max(1, min(int(n_jobs), os.cpu_count() or 1, len(tasks)))
    if n_jobs == 1:
        for i, t in enumerate(tasks):
            yield i, fn(*t)
        return
    from joblib import Parallel, delayed

    yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_indexed)(fn, i, t) for i, t in enumerate(tasks))


def run_cells(work, tasks: list[tuple], n_jobs: int = 1, desc: str = "cells", progress: bool = True, *,
              store: CellStore | None = None, backend: str = "local", address: str | None = None,
              num_cpus: float = 1, max_retries: int = 3) -> None:
    """Call ``work(*task)`` for every task (:func:`map_unordered`: local processes or Ray tasks), with a tqdm
    bar over finished tasks; pass only unfinished tasks.

    With ``store``, ``work`` returns ``(key, config, metrics)`` and this process (the driver) writes the cell
    atomically (:meth:`CellStore.save`) the moment it arrives: a lost worker (Ray retries its task) or a
    killed driver loses only the cells not yet finished, and a re-run skips the finished ones. This is the
    form a multi-machine Ray cluster needs (workers need not share the driver's disk). Without ``store``,
    ``work`` saves its own cell (one machine only)."""
    with tqdm_bar(len(tasks), desc, progress) as bar:
        for i, res in map_unordered(work, tasks, n_jobs=n_jobs, backend=backend, address=address,
                                    num_cpus=num_cpus, max_retries=max_retries):
            if store is not None:
                key, config, metrics = res
                store.save(key, config, metrics)
            bar.update(1)


def tqdm_bar(total: int, desc: str, progress: bool = True, unit: str = "cell", initial: int = 0):
    """The package's progress bar over finished tasks (tqdm; off when ``progress`` is False); ``initial``:
    tasks already finished (resumed)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress, initial=initial)


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
