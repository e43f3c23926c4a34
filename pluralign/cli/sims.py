"""``pluralign sims ...``: fast synthetic studies with a known ground truth.

Each study lives in its own module under ``sims/`` and exposes ``cli``: a function whose typer
signature takes at least ``--profile``, ``--seed`` and ``--out`` (see :mod:`pluralign.cli.common`).
A study whose module has not landed is listed, says so and exits non-zero.
"""

from __future__ import annotations

import functools
import importlib

import typer

from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail
from pluralign.runs import Profile, prepare_run, settings_for


# command name -> (module, one-line help)
STUDIES: dict[str, tuple[str, str]] = {
    "prec-bandit": ("pluralign.sims.prec_bandit", "Bandit-PREC: leaky EM over users, welfare vs K (seed 000)."),
    "mpi": ("pluralign.sims.mpi", "EM-DPO binary vs ternary on the MPI personality items (seed 001, Table 1)."),
    "identifiability": ("pluralign.sims.identifiability", "Latent-class logit recovery vs N for n = 2..5 (seed 001, sec. 4)."),
    "mmra": ("pluralign.sims.mmra", "MMRA (LW, original, AE) max regret on the tabular testbed (seed 001, Table 3)."),
    "aggregation": ("pluralign.cli.sims:aggregation", "Centroid collapse, social choice, pooling, mechanisms (seeds 003, 004)."),
}


def _register(app: typer.Typer, name: str, module: str, help_text: str) -> None:
    module, _, attr = module.partition(":")  # "module:function" names a command defined in that module
    try:
        fn = getattr(importlib.import_module(module), attr or "cli")
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


# --- aggregation (seeds 003/004) ---
def aggregation(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    """Centroid collapse, social choice, pooling, mechanisms (seeds 003, 004)."""
    from pluralign.paper_figures.aggregation import plot
    from pluralign.sims import aggregation as study

    try:
        settings = settings_for(study.PROFILES, profile)
        settings.validate()
    except ValueError as exc:
        fail(str(exc))
    root = prepare_run("sims aggregation", out, profile, seed, settings)
    res = study.run(settings, seed, root)
    png = plot(res, root / "aggregation.png", profile=Profile(profile).value, seed=seed)
    typer.echo("closed-form centroid vs simulated pooled MLE (max |error|):")
    for r in res["centroid"]["closed_form"]:
        typer.echo(f"  pi = {r['pi']:<5} large N {r['abs_err_large_N']:.1e}   per-record {r['abs_err_records']:.1e}")
    typer.echo("minority welfare (KL policy):   pooled   clustered   oracle")
    for r in res["centroid"]["splits"]:
        kl = r["kl"]
        typer.echo(f"  pi = {r['pi']:<5}                   {kl['pooled']['minority']:.3f}    "
                   f"{kl['clustered']['minority']:.3f}       {kl['oracle']['minority']:.3f}")
    for name, m in res["rules"]["mechanism"].items():
        typer.echo(f"misreports, {name}: max gain with VCG {m['max_gain_with_payments']:.1e}, profitable without "
                   f"payments {m['fraction_profitable_without_payments(>1e-9)']:.2f} of {m['n_instances']}")
    typer.echo(f"wrote {root / 'results.json'} and {png} ({res['timings_s']['total']:.0f} s of cells)")
