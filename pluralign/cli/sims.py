"""``pluralign sims ...``: fast synthetic studies with a known ground truth.

Each study lives in its own module under ``sims/`` and exposes ``cli``: a function whose typer
signature takes at least ``--profile``, ``--seed`` and ``--out`` (see :mod:`pluralign.cli.common`).
A study whose module has not landed is listed, says so and exits non-zero.
"""

from __future__ import annotations

import functools
import importlib

import typer

from pluralign.cli.common import fail


# command name -> (module, one-line help)
STUDIES: dict[str, tuple[str, str]] = {
    "prec-bandit": ("pluralign.sims.prec_bandit", "Bandit-PREC: leaky EM over users, welfare vs K (seed 000)."),
    "mpi": ("pluralign.sims.mpi", "EM-DPO binary vs ternary on the MPI personality items (seed 001, Table 1)."),
    "identifiability": ("pluralign.sims.identifiability", "Latent-class logit recovery vs N for n = 2..5 (seed 001, sec. 4)."),
    "mmra": ("pluralign.sims.mmra", "MMRA (LW, original, AE) max regret on the tabular testbed (seed 001, Table 3)."),
    "aggregation": ("pluralign.sims.aggregation", "Centroid collapse, social choice, pooling, mechanisms (seeds 003, 004)."),
}


def _register(app: typer.Typer, name: str, module: str, help_text: str) -> None:
    try:
        fn = importlib.import_module(module).cli
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise

        def fn() -> None:
            fail(f"the study '{name}' ({module}) has not landed yet; nothing was run.", code=3)

        help_text = f"{help_text} [not implemented yet]"
    app.command(name, help=help_text)(fn)


@functools.cache
def build_app() -> typer.Typer:
    """The ``sims`` group with every study registered (built on first use, see pluralign.cli)."""
    app = typer.Typer(help="Fast synthetic studies with a known ground truth.", no_args_is_help=True)
    for name, (module, help_text) in STUDIES.items():
        _register(app, name, module, help_text)
    return app


def __getattr__(name: str):
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
