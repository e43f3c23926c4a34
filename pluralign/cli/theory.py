"""``pluralign theory ...``: the verifiable routines of :mod:`theory`, checked on random instances.

``pluralign theory check`` runs :func:`theory.check.run_checks` (one row per statement of seeds 000, 001
and 002 that the theory layer implements), prints a table, writes ``config.json`` and ``results.json``
under ``--out`` and exits non-zero if a statement that should hold failed (or a statement known to be
false -- a misprint, an out-of-scope probe -- unexpectedly held).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from pluralign.runs import Profile, write_json
from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, start_run

app = typer.Typer(help="Verifiable routines: identifiability, leaky ELBO, PAL bounds, MMRA-AE game.",
                  no_args_is_help=True)



@app.callback()
def _group() -> None:
    """Verifiable routines: identifiability, leaky ELBO, PAL bounds, MMRA-AE game."""


@app.command("check")
def check(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    """Check every statement on random instances; exit 1 if one that should hold fails."""
    from pluralign.theory.check import PROFILE_INSTANCES, check_report

    # instances per statement for each profile (expensive statements use a fraction of it)
    n_instances = PROFILE_INSTANCES[Profile(profile).value]
    out_dir = start_run("theory check", out, profile, seed, {"n_instances": n_instances})
    res = check_report(seed=seed, n_instances=n_instances, progress=True)

    table = Table(title=f"theory check (profile {Profile(profile).value}, seed {seed}, {res['seconds']:.0f}s)",
                  show_lines=False)
    table.add_column("statement", overflow="fold", ratio=3)
    table.add_column("source", overflow="fold", ratio=2)
    table.add_column("inst.", justify="right")
    table.add_column("result")
    table.add_column("worst margin", justify="right")
    table.add_column("detail", overflow="fold", ratio=4)
    unexpected = []
    for r in res["rows"]:
        if r["holds"] == r["expected_to_hold"]:
            result = "[green]holds[/green]" if r["holds"] else "[yellow]fails (expected)[/yellow]"
        else:
            result = "[red]FAILS[/red]" if not r["holds"] else "[red]holds (unexpected)[/red]"
            unexpected.append(r)
        table.add_row(r["statement"], r["source"], str(r["instances"]), result, f"{r['worst_margin']:.3g}",
                      r["detail"])
    console = Console(width=max(Console().width, 160))
    console.print(table)

    write_json(out_dir / "results.json", res)
    if unexpected:
        for r in unexpected:
            typer.secho(f"unexpected: {r['statement']} ({r['source']}): {r['detail']}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"all {len(res['rows'])} statements behaved as expected; results in {out_dir}")
