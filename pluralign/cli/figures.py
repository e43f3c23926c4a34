"""``pluralign figures ...``: regenerate the seed papers' figures and tables from written results.

* ``list`` — every registered figure / table, the studies and profile it needs, whether their results exist,
  and what is not reproduced here (with the reason);
* ``make NAME|all --profile P`` — runs the studies whose results are missing (resumable cells, progress
  bar), then draws into ``--out`` (default ``results/figures/<profile>``) with the report ``index.html`` +
  ``report.md``. With results present it only draws; ``--no-run`` runs nothing and skips (naming the command)
  what has no results.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli.common import SeedOpt, fail

app = typer.Typer(help="Regenerate the seed papers' figures from written results.", no_args_is_help=True)

FigureProfileOpt = Annotated[
    str,
    typer.Option("--profile", help="smoke: seconds (CI); quick: minutes on 2 CPUs; medium: the MuJoCo PREC runs' "
                 "medium profile only (other entries skipped); paper: the seeds' scale."),
]
ResultsOpt = Annotated[Path, typer.Option("--results", help="Root of the studies' results folders "
                                          "(<root>/<command>/<profile>, as each study's own command writes).")]


@app.command("list")
def list_(profile: FigureProfileOpt = "quick", results: ResultsOpt = Path("results")) -> None:
    """Each figure, its studies at ``--profile`` and whether their results exist; then what is not reproduced."""
    from pluralign.paper_figures import registry as reg

    name = _profile(reg, profile)
    for e in reg.ENTRIES:
        keys = e.study_keys(name)
        have = [reg.load_results(reg.STUDIES[k], name, results) is not None for k in keys]
        state = "ready" if all(have) else f"missing {sum(not h for h in have)}/{len(keys)}"
        extra = {reg.STUDIES[k].missing_extra() for k in keys} - {None}
        if extra:
            state += f" (needs {', '.join(sorted(extra))})"
        if any(not h and not reg.STUDIES[k].runs_here for k, h in zip(keys, have)):
            state += " (read only: made elsewhere)"
        if any(not reg.STUDIES[k].has_profile(name) for k in keys):
            state = f"no {name} profile"
        elif not keys and e.optional_keys(name):
            n = sum(reg.load_results(reg.STUDIES[k], name, results) is not None for k in e.optional_keys(name))
            state = f"{n} optional run(s) present" if n else "no runs yet (all optional)"
        typer.echo(f"{e.name:42s} {e.kind:6s} seed {e.seed_paper}  {name:6s} {state:40s} "
                   f"{', '.join(keys) or _optional(e.optional_keys(name))}")
    typer.echo("\nnot reproduced here:")
    for n in reg.NOT_REPRODUCED:
        typer.echo(f"  seed {n.seed_paper} {n.source} ({n.what}): {n.reason}")


@app.command("make")
def make(
    name: Annotated[str, typer.Argument(help="A figure name from `pluralign figures list`, or 'all'.")] = "all",
    profile: FigureProfileOpt = "quick",
    seed: SeedOpt = 0,
    out: Annotated[Path | None, typer.Option("--out", help="Figures + report folder (default results/figures/<profile>).")] = None,
    results: ResultsOpt = Path("results"),
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bars of study runs.")] = True,
    run: Annotated[bool, typer.Option("--run/--no-run", help="--no-run: run no study; draw what has results and "
                                      "list the rest as skipped (with the command that makes them).")] = True,
) -> None:
    """Run missing studies (resumable), draw the figures and write index.html + report.md. Opens nothing."""
    from pluralign.paper_figures import registry as reg
    from pluralign.paper_figures.report import make as make_all

    pname = _profile(reg, profile)
    try:
        names = None if name == "all" else [reg.by_name(name).name]
    except ValueError as exc:
        fail(str(exc))
    out = Path(out) if out is not None else Path("results") / "figures" / pname
    t0 = time.perf_counter()
    manifest = make_all(names, pname, out, results, seed, progress, log=typer.echo, run=run)
    drawn = sum("files" in r for r in manifest["entries"].values())
    bad = [n for n, r in manifest["entries"].items() if "error" in r]
    skipped = [n for n, r in manifest["entries"].items() if "skipped" in r]
    typer.echo(f"drew {drawn}/{len(manifest['entries'])} entries into {out} in {time.perf_counter() - t0:.1f} s "
               f"(report: {out / 'index.html'}, {out / 'report.md'})")
    for n in skipped:
        typer.echo(f"  skipped {n}: {manifest['entries'][n]['skipped']}")
    if bad:
        fail("could not draw: " + ", ".join(f"{n} ({manifest['entries'][n]['error']})" for n in bad), code=1)


def _profile(reg, profile: str) -> str:
    try:
        return reg.figure_profile(profile)
    except ValueError as exc:
        fail(str(exc))


def _optional(keys: tuple[str, ...]) -> str:
    """The studies column of an entry without required studies."""
    if not keys:
        return "(package constants)"
    return f"optional: {', '.join(keys[:2])}" + (f" (+{len(keys) - 2} more)" if len(keys) > 2 else "")
