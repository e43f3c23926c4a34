"""Where the real data lives.

The open data sets ship inside the package (``pluralign/_data/<name>/``, each with its ``SOURCE.txt`` and
``LICENSE``): ``mpi`` (MPI personality items, MIT) and ``anthropic-persona`` (Anthropic persona
statements, CC BY 4.0). A data set that may not be redistributed (``globalopinionqa``) is never shipped:
put it in a folder and name it with ``PLURALIGN_<NAME>_DIR`` or ``PLURALIGN_DATA`` (a folder holding one
sub-folder per set).

Lookup order for a set ``name``: ``PLURALIGN_<NAME>_DIR`` (e.g. ``PLURALIGN_MPI_DIR``), then
``$PLURALIGN_DATA/<name>``, then the shipped copy. Nothing is discovered from folders beside the
checkout, so a fresh clone, an installed wheel and CI see the same data.

:func:`load_globalopinionqa` reads the GlobalOpinionQA subset (one record per (question, country), the
schema of ``distributional_test_globalopinionqa_small.json``) from the ``globalopinionqa`` folder.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
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


GOQA_FILE = "distributional_test_globalopinionqa_small.json"
"""The GlobalOpinionQA subset's file name inside its folder (a derived subset of Durmus et al. 2023 with
one record per (question, country); see the folder's SOURCE.txt for where it comes from)."""


@dataclass(frozen=True)
class OpinionRecord:
    """One GlobalOpinionQA record: a country's answer distribution over one question's options."""

    question: str
    """The prompt text (``Question: ... Options: A. ... Answer:``)."""
    options: tuple[str, ...]
    """The answer options, in the order of ``distribution``."""
    country: str
    """The country (the file's ``attribute``)."""
    distribution: tuple[float, ...]
    """The country's share answering each option (non-negative, sums to 1)."""
    id: int
    """The record's id in the file."""


def globalopinionqa_path(path: str | os.PathLike | None = None) -> Path:
    """The GlobalOpinionQA json: ``path`` (the file, or a folder holding :data:`GOQA_FILE`), else
    :data:`GOQA_FILE` in :func:`dataset_dir` ``("globalopinionqa")``; ``ValueError`` naming where to put it."""
    var = dataset_env_var("globalopinionqa")
    if path is None:
        try:
            folder = dataset_dir("globalopinionqa")
        except ValueError as exc:
            raise ValueError(f"{exc}; the file needed there is {GOQA_FILE}") from None
        p = folder / GOQA_FILE
    else:
        p = Path(path)
        if p.is_dir():
            p = p / GOQA_FILE
    if not p.is_file():
        raise ValueError(f"globalopinionqa: {GOQA_FILE} not found at {p} ({EXTERNAL['globalopinionqa']}); put the "
                         f"file in a folder and set {var} to it (or PLURALIGN_DATA to a folder holding "
                         f"globalopinionqa/), or pass its path")
    return p


def load_globalopinionqa(path: str | os.PathLike | None = None) -> list[OpinionRecord]:
    """The records of the GlobalOpinionQA json (see :func:`globalopinionqa_path`), validated: every
    record has a non-empty question, >= 2 distinct options, a country and a distribution of the options'
    length, non-negative and summing to 1 (within 1e-3; renormalised); a (question, country) pair
    appears once. ``ValueError`` naming the record otherwise."""
    p = globalopinionqa_path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"globalopinionqa: {p} is not readable json ({exc})") from None
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"globalopinionqa: {p} should hold a non-empty json list of records")
    out, seen = [], set()
    for i, r in enumerate(raw):
        where = f"globalopinionqa: record {i} of {p.name}"
        if not isinstance(r, dict) or not {"question", "options", "attribute", "gold_distribution"} <= set(r):
            raise ValueError(f"{where}: expected keys question, options, attribute, gold_distribution")
        q, opts, c, dist = str(r["question"]).strip(), r["options"], str(r["attribute"]).strip(), r["gold_distribution"]
        if not q or not c:
            raise ValueError(f"{where}: empty question or attribute (country)")
        if not isinstance(opts, list) or len(opts) < 2 or any(not str(o).strip() for o in opts):
            raise ValueError(f"{where}: options must be a list of >= 2 non-empty strings")
        opts = tuple(" ".join(str(o).split()) for o in opts)
        if len({o.lower() for o in opts}) < len(opts):
            raise ValueError(f"{where}: the same option appears twice ({list(opts)})")
        try:
            d = [float(v) for v in dist]
        except (TypeError, ValueError):
            raise ValueError(f"{where}: gold_distribution must be a list of numbers") from None
        if len(d) != len(opts) or any(not math.isfinite(v) or v < 0 for v in d):
            raise ValueError(f"{where}: gold_distribution must hold {len(opts)} finite non-negative numbers, got {dist}")
        total = sum(d)
        if abs(total - 1.0) > 1e-3:
            raise ValueError(f"{where}: gold_distribution sums to {total:.4f}, not 1")
        if (q, c) in seen:
            raise ValueError(f"{where}: question already given for {c}")
        seen.add((q, c))
        out.append(OpinionRecord(q, opts, c, tuple(v / total for v in d), int(r.get("id", i))))
    return out
