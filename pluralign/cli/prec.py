"""``pluralign prec``: the MuJoCo PREC pipeline of seed 000 (see :mod:`pluralign.experiments.prec.pipeline`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail, start_run
from pluralign.runs import Profile

app = typer.Typer(help="The MuJoCo PREC pipeline (encoder, leaky EM, one PPO policy per cluster).", no_args_is_help=True)


@app.command("run")
def run(
    env: Annotated[str, typer.Option("--env", help="HalfCheetah-v5, Ant-v5, Hopper-v5 or Walker2d-v5.")] = "HalfCheetah-v5",
    noise: Annotated[str, typer.Option("--noise", help="Teacher: 0/oracle, 1/noise1 or 2/noise2 (B-Pref mixed).")] = "2",
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    n_seeds: Annotated[int | None, typer.Option("--n-seeds", help="Replicate seeds (default: the profile's).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Parallel PPO worker processes.")] = 2,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="Shared cache of offline data + encoder.")] = Path("results/prec/cache"),
    encoder: Annotated[bool, typer.Option("--encoder/--no-encoder", help="--no-encoder: Fig. 12 ablation.")] = True,
    population: Annotated[str | None, typer.Option("--population", help="User population (labelers.POPULATIONS).")] = None,
    backend: Annotated[str, typer.Option("--backend", help="local (processes on this machine) or ray (one Ray task per policy; pluralign[ray]).")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster address ('auto', 'ray://host:10001'); default: a local Ray instance.")] = None,
) -> None:
    """Offline data -> PCA preference space -> SPR encoder -> users' labels -> leaky EM for every K ->
    one PPO per cluster -> evaluation and welfare. Resumes from finished cells."""
    try:
        from pluralign.experiments.prec import pipeline
        from pluralign.experiments.prec.config import make_config
        from pluralign.paper_figures import prec as figures
    except ModuleNotFoundError as exc:  # gymnasium / mujoco / SB3 are the optional extra pluralign[rl]
        fail(f"the prec pipeline needs the rl extra (pip install 'pluralign[rl]'): {exc}")
    try:
        settings = replace(make_config(profile, env), noise=noise, n_jobs=jobs, cache_dir=str(cache_dir),
                           use_encoder=bool(encoder), backend=backend, address=address)
        if n_seeds is not None:
            settings = replace(settings, n_seeds=int(n_seeds))
        if population is not None:
            settings = replace(settings, population=population)
        settings = settings.validate()
    except ValueError as exc:
        fail(str(exc))
    env, teacher = settings.env, settings.noise
    suffix = "" if settings.use_encoder else "_noenc"
    if out is None:
        out = Path("results/prec") / Profile(profile).value / f"{env}_{teacher}{suffix}"
    out = start_run("prec run", out, profile, seed, settings.to_dict())
    try:
        summary = pipeline.run(settings, seed, out)
    except ValueError as exc:
        fail(str(exc))
    fig2 = figures.fig2_panel(summary, out / f"fig2_{env}_{teacher}.png")
    clusters = figures.cluster_pictures(summary, out / f"clusters_{env}_{teacher}.png")
    typer.echo(f"{env} {teacher} ({summary['n_cells']}/{summary['n_cells_expected']} cells; mean ± s.e.m. over seeds)")
    typer.echo(f"{'K':>4} {'utilitarian':>14} {'egalitarian':>14} {'nash':>14} {'PPO CPU-s':>10}")
    for K, r in summary["table"].items():
        cols = " ".join(f"{r[m]['mean']:8.3f}±{r[m]['sem']:.3f}" for m in ("utilitarian", "egalitarian", "nash"))
        typer.echo(f"{K:>4} {cols} {r['train_seconds']['mean']:10.1f}")
    typer.echo(f"wrote {out / 'results.json'}, {fig2.name}, {clusters.name} (+ PDF)")
