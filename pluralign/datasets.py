"""Where the real data lives.

The open data sets ship inside the package (``pluralign/_data/<name>/``, each with its ``SOURCE.txt`` and
``LICENSE``): ``mpi`` (MPI personality items, MIT) and ``anthropic-persona`` (Anthropic persona
statements, CC BY 4.0). A data set that may not be redistributed (``globalopinionqa``) is never shipped:
put it in a folder and name it with ``PLURALIGN_<NAME>_DIR`` or ``PLURALIGN_DATA`` (a folder holding one
sub-folder per set).

Lookup order for a set ``name``: ``PLURALIGN_<NAME>_DIR`` (e.g. ``PLURALIGN_MPI_DIR``), then
``$PLURALIGN_DATA/<name>``, then the shipped copy. Nothing is discovered from folders beside the
checkout, so a fresh clone, an installed wheel and CI see the same data.
"""

from __future__ import annotations

import os
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "_data"
"""The folder of the data sets that ship with the package."""

EXTERNAL = {
    "globalopinionqa": "GlobalOpinionQA (Durmus et al.): its licence does not allow shipping it here",
}
"""Data sets the package reads but never ships, with the reason."""


def dataset_env_var(name: str) -> str:
    """The environment variable that names one data set's folder directly."""
    return "PLURALIGN_" + "".join(c if c.isalnum() else "_" for c in name).upper() + "_DIR"


def shipped_datasets() -> list[str]:
    """The names of the data sets shipped with the package."""
    return sorted(p.name for p in SHIPPED.iterdir() if p.is_dir()) if SHIPPED.is_dir() else []


def dataset_dir(name: str) -> Path:
    """The folder of one data set (e.g. ``"mpi"``), with a clear error naming where to put it."""
    var = dataset_env_var(name)
    env = os.environ.get(var)
    if env:
        if not Path(env).is_dir():
            raise ValueError(f"{var}: {env} is not a folder")
        return Path(env)
    root = os.environ.get("PLURALIGN_DATA")
    if root:
        if not Path(root).is_dir():
            raise ValueError(f"PLURALIGN_DATA: {root} is not a folder")
        if (Path(root) / name).is_dir():
            return Path(root) / name
    if (SHIPPED / name).is_dir():
        return SHIPPED / name
    why = f" ({EXTERNAL[name]})" if name in EXTERNAL else ""
    raise ValueError(
        f"{name}: data set not found{why}; put its files in a folder and set {var} to it, or set "
        f"PLURALIGN_DATA to a folder holding {name}/ (shipped sets: {', '.join(shipped_datasets())})"
    )
