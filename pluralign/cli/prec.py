"""``pluralign prec``: the MuJoCo PREC pipeline of seed 000 (see :mod:`pluralign.experiments.prec.pipeline`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli.common import AddressOpt, BackendOpt, OutOpt, SeedOpt, fail, start_run

PrecProfileOpt = Annotated[
    str,
    typer.Option("--profile", help="smoke: seconds (CI); quick: minutes on 2 CPUs; medium: policies that learn (hours on 2 CPUs); paper: seed 000's scale."),
]

def _hours(seconds: float | None) -> str:
    """CPU seconds as hours for the tables ("?" when not timed)."""
    return "?" if seconds is None else f"{seconds / 3600:.2f}"


def _echo_table(summary: dict) -> None:
    """The welfare table of a run's summary: one row per K, then the reference policies (``n``: the seeds
    behind the row)."""
    typer.echo(f"{'K':>16} {'n':>2} {'utilitarian':>14} {'egalitarian':>14} {'nash':>14} {'env return':>10} "
               f"{'x-velocity':>10} {'PPO wall-s':>10}")

    def row(label: str, r: dict) -> str:
        cols = " ".join(f"{r[m]['mean']:8.3f}±{r[m]['sem']:.3f}" for m in ("utilitarian", "egalitarian", "nash"))
        return (f"{label:>16} {r['n_seeds']:>2} {cols} {r['env_return']['mean']:10.1f} {r['x_velocity']['mean']:10.2f} "
                f"{r['train_seconds']['mean']:10.1f}")

    for K, r in summary["table"].items():
        typer.echo(row(K, r))
    typer.echo("reference policies (every user gets the same one; the cluster policies start from 'initial'):")
    for name, r in summary["references"].items():
        typer.echo(row(name, r))


app = typer.Typer(help="The MuJoCo PREC pipeline (encoder, leaky EM, one PPO policy per cluster).", no_args_is_help=True)


@app.command("run")
def run(
    env: Annotated[str, typer.Option("--env", help="HalfCheetah-v5, Ant-v5, Hopper-v5 or Walker2d-v5.")] = "HalfCheetah-v5",
    noise: Annotated[str, typer.Option("--noise", help="Teacher: 0/oracle, 1/noise1 or 2/noise2 (B-Pref mixed).")] = "2",
    profile: PrecProfileOpt = "quick",
    seed: SeedOpt = 0,
    out: OutOpt = None,
    n_seeds: Annotated[int | None, typer.Option("--n-seeds", help="Replicate seeds (default: the profile's).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Parallel PPO worker processes.")] = 2,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="Shared cache of offline data + encoder.")] = Path("results/prec/cache"),
    encoder: Annotated[bool, typer.Option("--encoder/--no-encoder", help="--no-encoder: Fig. 12 ablation.")] = True,
    population: Annotated[str | None, typer.Option("--population", help="User population (labelers.POPULATIONS).")] = None,
    normalize_reward: Annotated[bool, typer.Option("--normalize-reward", help="PPO on the learned reward scaled by a running std of the return (SB3 VecNormalize, reward only; not in Table 2, off in every profile): a what-if for rewards whose scale stalls PPO (see pluralign.experiments.prec.diagnose).")] = False,
    segment_score: Annotated[str, typer.Option("--segment-score", help="sum (eq. 4 / eq. 6 as printed, every profile) or mean ((1/T) sum_t r: the reading of every run before 2026-12-02, whose numbers pipeline.FINDINGS holds).")] = "sum",
    backend: BackendOpt = "local",
    address: AddressOpt = None,
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
        if normalize_reward:
            settings = replace(settings, ppo=replace(settings.ppo, normalize_reward=True))
        settings = replace(settings, decoder=replace(settings.decoder, aggregate=segment_score)).validate()
    except ValueError as exc:
        fail(str(exc))
    env, teacher = settings.env, settings.noise
    from pluralign.prec.labelers import DEFAULT_POPULATION

    suffix = (("" if settings.use_encoder else "_noenc") + ("_normrew" if settings.ppo.normalize_reward else "")
              + ("" if settings.decoder.aggregate == "sum" else f"_score-{settings.decoder.aggregate}")
              + ("" if settings.population == DEFAULT_POPULATION else f"_pop-{settings.population}"))
    if out is None:
        out = Path("results/prec") / settings.profile / f"{env}_{teacher}{suffix}"
    out = start_run("prec run", out, profile, seed, settings.to_dict(), resume_free=pipeline.RESUME_FREE)
    try:
        summary = pipeline.run(settings, seed, out)
    except ValueError as exc:
        fail(str(exc))
    fig2 = figures.fig2_panel(summary, out / f"fig2_{env}_{teacher}.png")
    clusters = figures.cluster_pictures(summary, out / f"clusters_{env}_{teacher}.png")
    typer.echo(f"{env} {teacher} ({summary['n_cells']}/{summary['n_cells_expected']} cells; mean ± s.e.m. over seeds)")
    _echo_table(summary)
    c = summary["compute"]
    missing = {k: v for k, v in c["unknown"].items() if v}
    typer.echo(f"compute, every sitting together: {c['total_cpu_hours']:.2f} CPU-h (cells {_hours(c['cells_cpu_seconds'])}, "
               f"references {_hours(c['references_cpu_seconds'])}, offline data {_hours(c['offline_cpu_seconds'])}, "
               f"SPR {_hours(c['spr_cpu_seconds'])})" + (f"; not timed: {missing}" if missing else ""))
    typer.echo(f"wrote {out / 'results.json'}, {fig2.name}, {clusters.name} (+ PDF)")


@app.command("plan")
def plan_cmd(
    profile: PrecProfileOpt = "paper",
    env: Annotated[str, typer.Option("--env", help="HalfCheetah-v5, Ant-v5, Hopper-v5 or Walker2d-v5.")] = "HalfCheetah-v5",
    n_seeds: Annotated[int | None, typer.Option("--n-seeds", help="Replicate seeds (default: the profile's).")] = None,
    runs: Annotated[int, typer.Option("--runs", help="(env, teacher) runs of this size (seed 000's Fig. 2 is 4 envs x 3 teachers = 12; Fig. 3 adds 4 envs x 5 populations, Fig. 12 two no-encoder runs).")] = 1,
    machines: Annotated[int, typer.Option("--machines", help="Machines of the Ray cluster.")] = 1,
    cpus_per_machine: Annotated[int, typer.Option("--cpus-per-machine", help="CPUs per machine.")] = 2,
    steps_per_cpu_s: Annotated[float | None, typer.Option("--steps-per-cpu-s", help="A stored PPO throughput (steps per CPU-second of the profile's PPO on a learned reward); default: measure it now.")] = None,
    rollouts: Annotated[int, typer.Option("--rollouts", help="PPO rollouts of the on-the-spot measurement.")] = 2,
) -> None:
    """Cells, PPO steps, CPU-hours and wall time on N machines of a ``prec run`` (nothing is written)."""
    try:
        from pluralign.experiments.prec.config import make_config
        from pluralign.experiments.prec.plan import measure_ppo, plan
    except ModuleNotFoundError as exc:
        fail(f"the prec pipeline needs the rl extra (pip install 'pluralign[rl]'): {exc}")
    try:
        settings = make_config(profile, env)
        if n_seeds is not None:
            settings = replace(settings, n_seeds=int(n_seeds))
        settings = settings.validate()
        if steps_per_cpu_s is None:
            m = measure_ppo(settings, env, rollouts=rollouts)
            rate, source = m["steps_per_cpu_s"], (
                f"measured now: {m['steps']} steps of the {settings.profile} profile's PPO on a learned reward of its sizes, "
                f"{m['cpu_seconds']:.1f} CPU-s / {m['wall_seconds']:.1f} wall-s, 1 torch thread")
        else:
            rate, source = float(steps_per_cpu_s), "given by --steps-per-cpu-s"
        p = plan(settings, rate, machines=machines, cpus_per_machine=cpus_per_machine, runs=runs)
    except ValueError as exc:
        fail(str(exc))
    Ks = ", ".join(map(str, settings.Ks))
    typer.echo(f"prec plan: profile {p['profile']}, {env}, {p['runs']} run(s) of {settings.n_seeds} replicates x K in ({Ks})")
    typer.echo(f"cells:                      {p['cells']:>14,d}  ({p['cells_per_run']} per run)")
    typer.echo(f"policies (at most):         {p['policies']:>14,d}  (sum of K per replicate; empty clusters train none)")
    typer.echo(f"PPO steps, policies:        {p['policy_ppo_steps']:>14,d}  ({p['ppo_steps_per_policy']:,d} each)")
    typer.echo(f"PPO steps, references:      {p['reference_ppo_steps']:>14,d}  ({p['reference_policies']} trained reference policies, at most: shared by the runs of one env, population and seed)")
    typer.echo(f"PPO steps, offline agents:  {p['offline_ppo_steps']:>14,d}  ({p['offline_agents']} agents, cached per env and seed)")
    typer.echo(f"evaluation steps:           {p['evaluation_steps']:>14,d}")
    typer.echo(f"PPO steps per CPU-second:   {p['steps_per_cpu_s']:>14,.0f}  ({source})")
    typer.echo(f"CPU-hours:                  {p['cpu_hours']:>14,.1f}")
    typer.echo(f"wall time on {p['machines']} machine(s) x {p['cpus_per_machine']} CPUs: {p['wall_hours']:,.1f} h "
               f"({p['policy_waves']} wave(s) of {p['slots']} single-CPU policies; SPR pretraining and EM not counted)")


@app.command("status")
def status_cmd(
    run_dir: Annotated[Path, typer.Option("--run", help="A `pluralign prec run` output folder.")],
    cpus: Annotated[int, typer.Option("--cpus", help="CPUs the wall-time estimate assumes.")] = 2,
) -> None:
    """What a (long, resumable) run has finished and what is left: offline cache, reference policies, cells,
    policies, CPU-hours spent over every sitting and an estimate of those left. Reads only."""
    try:
        from pluralign.experiments.prec.status import finished_table, status
    except ModuleNotFoundError as exc:
        fail(f"the prec pipeline needs the rl extra (pip install 'pluralign[rl]'): {exc}")
    try:
        s = status(run_dir, cpus=cpus)
        done = finished_table(run_dir)
    except ValueError as exc:
        fail(str(exc))
    o, c = s["offline"], s["cpu_seconds"]
    typer.echo(f"prec status: {s['run']} ({s['env']} {s['noise']}, profile {s['profile']}, base seed {s['seed']})")
    typer.echo(f"offline cache:      agents {o['agents_done']}/{o['agents']}, data {'built' if o['data_built'] else 'not built'}, "
               f"encoder {'built' if o['encoder_built'] else 'not built'}")
    typer.echo(f"reference policies: {s['references']['done']}/{s['references']['expected']}")
    typer.echo(f"cells:              {s['cells']['done']}/{s['cells']['expected']}")
    typer.echo(f"cluster policies:   {s['policies']['done']} stored, at most {s['policies']['left_at_most']} left")
    typer.echo(f"CPU-hours spent:    {s['cpu_hours_spent']:.2f} (offline {_hours(c['offline'])}, SPR {_hours(c['spr'])}, "
               f"references {_hours(c['references'])}, cells {_hours(c['cells'])}"
               + (f"; {s['untimed_records']} records of an older version not timed, their PPO took "
                  f"{s['untimed_ppo_wall_hours']:.2f} wall-h" if s["untimed_records"] else "") + ")")
    if s["ppo_steps_left_at_most"] == 0:
        typer.echo("left:               no PPO (re-run `pluralign prec run` with the same options to write results.json)"
                   if s["cells"]["done"] < s["cells"]["expected"] else "left:               nothing")
    elif s["cpu_hours_left_at_most"] is None:
        typer.echo(f"left:               {s['ppo_steps_left_at_most']:,d} PPO steps at most (no PPO task of this run has "
                   f"finished yet: `pluralign prec plan --profile {s['profile']}` estimates their cost)")
    else:
        typer.echo(f"left:               {s['ppo_steps_left_at_most']:,d} PPO steps at most, about "
                   f"{s['cpu_hours_left_at_most']:.1f} CPU-h ({s['wall_hours_left_at_most']:.1f} h on {s['cpus']} CPUs) at "
                   f"this run's {1 / s['cpu_seconds_per_ppo_step']:,.0f} PPO steps per "
                   + ("CPU-second" if s["rate_from"] == "cpu" else "wall-second (its older records kept no CPU time)"))
    if done["table"] or done["references"]:
        whole = done["n_cells"] == done["n_cells_expected"]
        typer.echo(f"finished {'cells' if whole else 'so far'} ({done['n_cells']}/{done['n_cells_expected']} cells; "
                   "mean ± s.e.m. over the n seeds finished" + ("" if whole else "; `prec run` writes results.json "
                                                                "once every cell is done") + "):")
        _echo_table(done)
