"""Where the real data lives: read at run time from a folder, never copied into the package.

``PLURALIGN_DATA`` names the folder; otherwise the first of ``./shared/data``, ``../shared/data`` (from the
working directory and from the repository root) that exists. One data set's folder can also be named
directly with ``PLURALIGN_<NAME>_DIR`` (e.g. ``PLURALIGN_MPI_DIR``, ``PLURALIGN_ANTHROPIC_PERSONA_DIR``). Each data set keeps its own sub-folder with
a ``SOURCE.txt`` naming its origin and licence: ``anthropic-persona`` (CC BY 4.0), ``mpi`` (MIT).
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The data folder; ``ValueError`` naming PLURALIGN_DATA when none is found."""
    env = os.environ.get("PLURALIGN_DATA")
    if env:
        p = Path(env)
        if not p.is_dir():
            raise ValueError(f"PLURALIGN_DATA: {p} is not a folder")
        return p
    for base in (Path.cwd(), _REPO):
        for cand in (base / "shared" / "data", base.parent / "shared" / "data"):
            if cand.is_dir():
                return cand
    raise ValueError("PLURALIGN_DATA: no data folder found; set PLURALIGN_DATA to the folder holding mpi/ etc.")


def dataset_env_var(name: str) -> str:
    """The environment variable that names one data set's folder directly."""
    return "PLURALIGN_" + "".join(c if c.isalnum() else "_" for c in name).upper() + "_DIR"


def dataset_dir(name: str) -> Path:
    """The folder of one data set (e.g. ``"mpi"``), with a clear error when it is missing."""
    env = os.environ.get(dataset_env_var(name))
    if env:
        if not Path(env).is_dir():
            raise ValueError(f"{dataset_env_var(name)}: {env} is not a folder")
        return Path(env)
    p = data_root() / name
    if not p.is_dir():
        raise ValueError(f"{name}: data set not found under {p.parent} (set PLURALIGN_DATA)")
    return p
