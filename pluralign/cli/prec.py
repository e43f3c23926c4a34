"""``pluralign prec``: the MuJoCo PREC pipeline of seed 000 (see :mod:`experiments.prec.pipeline`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from pluralign.runs import Profile, prepare_run
from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail

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
    backend: Annotated[str, typer.Option("--backend", help="loky (local processes) or ray (needs pluralign[ray]).")] = "loky",
) -> None:
    """Offline data -> PCA preference space -> SPR encoder -> users' labels -> leaky EM for every K ->
    one PPO per cluster -> evaluation and welfare. Resumes from finished cells."""
    try:
        from pluralign.experiments.prec.config import make_config
        from pluralign.experiments.prec.pipeline import parse_noise, run_prec
        from pluralign.prec.labelers import POPULATIONS
        from pluralign.rl.envs import check_env_id
    except ModuleNotFoundError as exc:  # gymnasium / mujoco / SB3 are the optional extra pluralign[rl]
        fail(f"the prec pipeline needs the rl extra (pip install 'pluralign[rl]'): {exc}")
    try:
        check_env_id(env)
        teacher = parse_noise(noise)
        if jobs < 1:
            raise ValueError(f"jobs: must be >= 1, got {jobs}")
        cfg = make_config(Profile(profile).value, env)
        if n_seeds is not None:
            if n_seeds < 1:
                raise ValueError(f"n_seeds: must be >= 1, got {n_seeds}")
            cfg = replace(cfg, n_seeds=int(n_seeds))
        if population is not None:
            if population not in POPULATIONS:
                raise ValueError(f"population: must be one of {sorted(POPULATIONS)}, got {population!r}")
            cfg = replace(cfg, population=population)
        cfg = replace(cfg, use_encoder=bool(encoder))
    except ValueError as exc:
        fail(str(exc))
    suffix = "" if encoder else "_noenc"
    if out is None:
        out = Path("results/prec") / Profile(profile).value / f"{env}_{teacher}{suffix}"
    out = prepare_run("prec run", out, profile, seed, {"env": env, "noise": teacher, "jobs": jobs, "backend": backend,
                                                       "cache_dir": str(cache_dir), **cfg.to_dict()})
    try:
        summary = run_prec(env, teacher, cfg, out, seed=seed, n_jobs=jobs, cache_dir=cache_dir, backend=backend)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"{env} {teacher} ({summary['n_cells']}/{summary['n_cells_expected']} cells)")
    typer.echo(f"{'K':>4} {'utilitarian':>14} {'egalitarian':>14} {'nash':>14} {'PPO CPU-s':>10}")
    for K, r in summary["table"].items():
        typer.echo(
            f"{K:>4} {r['utilitarian']:8.3f}±{r['utilitarian_se']:.3f} {r['egalitarian']:8.3f}±{r['egalitarian_se']:.3f} "
            f"{r['nash']:8.3f}±{r['nash_se']:.3f} {r['train_seconds']:10.1f}"
        )
    typer.echo(f"wrote {out}/results.json and figures")
