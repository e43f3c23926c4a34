"""The ``pluralign`` command line: one typer group per part of the package.

A group whose code has not landed yet says so and exits non-zero; nothing pretends to work.

The app is built on first use (``pluralign.cli.app`` through a module ``__getattr__``), so that a study
module can import :mod:`pluralign.cli.common` without importing every other group first.
"""

from __future__ import annotations

import functools
import importlib

import typer

from pluralign.cli.common import fail

# group name -> (module exposing a typer ``app``, help text)
GROUPS: dict[str, tuple[str, str]] = {
    "theory": ("pluralign.cli.theory", "Verifiable routines: identifiability, leaky ELBO, PAL bounds, MMRA-AE game."),
    "sims": ("pluralign.cli.sims", "Fast synthetic studies with a known ground truth."),
    "prec": ("pluralign.cli.prec", "The MuJoCo PREC pipeline (encoder, leaky EM, one PPO policy per cluster)."),
    "emdpo": ("pluralign.cli.emdpo", "EM-DPO and MMRA aggregation on language models."),
    "pal": ("pluralign.cli.pal", "PAL-A / PAL-B personalized reward models."),
    "figures": ("pluralign.cli.figures", "Regenerate the seed papers' figures from written results."),
}


def _not_landed(name: str, help_text: str) -> typer.Typer:
    sub = typer.Typer(help=f"{help_text} [not implemented yet]", invoke_without_command=True)

    @sub.callback()
    def _missing(ctx: typer.Context) -> None:
        fail(f"the '{name}' group has not landed yet; nothing was run.", code=3)

    return sub


@functools.cache
def build_app() -> typer.Typer:
    """The full command line with every group registered (built once)."""
    app = typer.Typer(
        name="pluralign",
        help="Pluralistic alignment: theory checks, synthetic studies and experiments.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name, (module, help_text) in GROUPS.items():
        try:
            sub = importlib.import_module(module).app
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            sub = _not_landed(name, help_text)
        app.add_typer(sub, name=name, help=help_text)
    from pluralign.cli.fit import fit

    app.command("fit")(fit)
    return app


def __getattr__(name: str):
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    build_app()()
