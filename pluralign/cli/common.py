"""Options and errors shared by every command (the run machinery itself is :mod:`pluralign.runs`).

Every command that produces results takes ``--profile {smoke,quick,paper}``, ``--seed`` and ``--out DIR``;
it writes the config it ran with (``config.json``), its results as JSON and its figures (PNG + PDF)
under DIR. A long run writes each finished cell atomically under ``DIR/cells/`` and skips finished cells
when re-run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pluralign.runs import Profile

ProfileOpt = Annotated[
    Profile,
    typer.Option("--profile", help="smoke: seconds (CI); quick: minutes on 2 CPUs; paper: the seeds' scale."),
]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Base random seed; the same seed gives the same numbers.")]
BackendOpt = Annotated[
    str,
    typer.Option("--backend", help="Sweep engine: local (processes on this machine) or ray (one Ray task per cell; pluralign[ray])."),
]
AddressOpt = Annotated[
    str | None,
    typer.Option("--address", help="Ray cluster address ('auto', 'ray://host:10001'); default: a local Ray instance."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Output folder (default: results/<command>/<profile>)."),
]


def fail(message: str, code: int = 2) -> None:
    """Print a clear error (no traceback) and exit non-zero."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def start_run(command: str, out: Path | None, profile, seed: int, config, resume_free=()) -> Path:
    """:func:`pluralign.runs.prepare_run` with its refusals (e.g. an ``--out`` folder holding cells of a
    run with other settings) turned into a clean error."""
    from pluralign.runs import prepare_run

    try:
        return prepare_run(command, out, profile, seed, config, resume_free)
    except ValueError as exc:
        fail(str(exc))
