"""The Ray sweep engine of pluralign.runs (issue 15): cells are Ray tasks with declared CPUs, the driver writes
each finished cell atomically, and a worker process killed mid-sweep costs only a retry of its task.

The test starts a local Ray instance with two worker CPUs (loopback only, no dashboard), runs a sweep of
cheap cells of the bandit twin (its smoke world and the B-Pref teacher's labels: numpy only, so that the
workers need not import torch) through ``run_cells(..., backend="ray", store=...)`` and SIGKILLs the
worker process of the first cell while it runs; Ray retries the task (``max_retries``) and the sweep
completes with every cell identical to the same sweep run locally in this process."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from pluralign.runs import CellStore, map_unordered, run_cells
from pluralign.sims.prec_bandit import study

ray = pytest.importorskip("ray")


def world_cell(st, noise: str, seed: int, rep: int) -> tuple[str, dict, dict]:
    """A cheap cell of the bandit twin: replicate ``rep``'s world and its users' labels under ``noise``
    (the first half of :func:`pluralign.sims.prec_bandit.study.run_cell`), as ``(key, config, metrics)``."""
    from pluralign.bpref import make_teacher
    from pluralign.seeding import derive
    from pluralign.sims.prec_bandit.world import make_world
    from pluralign.welfare import welfare

    world = make_world(st.world, seed, rep)
    ratings = make_teacher(noise).label(world.true_step_scores(), world.label_user, derive(seed, rep, "labels", noise),
                                        segment=world.label_segment, n_users=st.world.n_users)
    U = world.candidate_utilities()
    return (f"noise={noise}_seed={seed}_rep={rep}", {"noise": noise, "seed": seed, "rep": rep},
            {"label": ratings.label.tolist(), "weight": ratings.weight.tolist(),
             "ideal_per_user": welfare(U.max(axis=1)), "best_single": welfare(U[:, U.mean(axis=0).argmax()])})


def slow_cell(pid_dir: str, target: str, *args):
    """:func:`world_cell`, announcing its worker process first (``<pid_dir>/<key>.<pid>``); the first attempt
    of cell ``target`` then waits (up to 300 s) to be killed, so the kill lands while that cell runs."""
    key = f"noise={args[1]}_seed={args[2]}_rep={args[3]}"
    first = not any(p.name.startswith(key + ".") for p in Path(pid_dir).iterdir())
    Path(pid_dir, f"{key}.{os.getpid()}").touch()
    if key == target and first:
        time.sleep(300.0)
    return world_cell(*args)


def _square(x: int) -> int:
    return x * x


@pytest.fixture(scope="module")
def local_ray():
    # workers import this test module by name: put the repository root on their path
    root = str(Path(__file__).resolve().parents[2])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([root, *sys.path]),
                                       "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}})
    yield ray
    ray.shutdown()


def test_killed_worker_mid_sweep_loses_nothing(tmp_path, local_ray):
    st = study.PROFILES[study.Profile.smoke]
    grid = [(noise, 0, r) for r in range(3) for noise in st.noises]  # 6 cells

    local = CellStore(tmp_path / "local")
    run_cells(world_cell, [(st, *g) for g in grid], store=local, progress=False)

    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    killed: list[tuple[str, int]] = []

    target = world_cell(st, *grid[0])[0]

    stop = threading.Event()

    def killer():  # kill the worker of cell ``target`` once, while that cell runs
        while not stop.is_set():
            files = [p for p in pid_dir.iterdir() if p.name.startswith(target + ".")]
            if files:
                pid = int(files[0].name.rsplit(".", 1)[1])
                os.kill(pid, signal.SIGKILL)
                killed.append((target, pid))
                return
            time.sleep(0.05)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    remote = CellStore(tmp_path / "ray")
    run_cells(slow_cell, [(str(pid_dir), target, st, *g) for g in grid], store=remote, progress=False, backend="ray",
              num_cpus=1, max_retries=3)
    stop.set()
    th.join(5)
    assert len(killed) == 1, "the killer thread found no running cell"
    key, pid = killed[0]
    attempts = [p.name for p in pid_dir.iterdir() if p.name.rsplit(".", 1)[0] == key]
    assert len(attempts) >= 2 and f"{key}.{pid}" in attempts  # the killed cell ran again on another worker
    assert remote.all() == local.all()  # every cell, identical to the local run
    assert len(remote.all()) == len(grid)


def test_map_unordered_ray_yields_every_index_once(local_ray):
    got = list(map_unordered(_square, [(i,) for i in range(7)], backend="ray"))
    assert sorted(i for i, _ in got) == list(range(7)) and dict(got) == {i: i * i for i in range(7)}
    with pytest.raises(ValueError, match="backend"):
        list(map_unordered(_square, [(1,)], backend="dask"))
