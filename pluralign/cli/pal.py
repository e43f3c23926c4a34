"""``pluralign pal ...``: the PAL reward models' studies (seed 002, PAL).

* ``sim``     — the simulation of sec. 4.2 / App. D.2 (Fig. 5 b-d, d = 2 pictures, active queries);
* ``persona`` — the persona experiment of App. D.4 on real Anthropic persona statements (MiniLM);
* ``bounds``  — the empirical check of Thm. 1 against Prop. C.4 (per-user samples vs D at fixed K);
* ``length``  — the length-preference task of sec. 3.1 / App. D.3 (Tiny vs Large, Figs. 2-3) on persona text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pluralign.runs import Profile, settings_for
from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail, start_run

app = typer.Typer(help="PAL-A / PAL-B personalized reward models (seed 002).", no_args_is_help=True)


JobsOpt = Annotated[int, typer.Option("--jobs", help="Worker processes; cells are independent and seeded, so "
                                     "the numbers do not depend on it.")]
CacheDirOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Sentence-embedding cache root "
                                                  "(default: $PLURALIGN_CACHE or ~/.cache/pluralign).")]


def _settings(profiles: dict, profile: Profile, precheck=None, **fields):
    """A study's settings for ``profile`` with ``fields`` set, validated, then ``precheck(settings)`` (an
    input that would fail later, checked before any cell); a bad value is a clean error naming the field."""
    try:
        settings = settings_for(profiles, profile)
        for name, value in fields.items():
            setattr(settings, name, value)
        settings.validate()
        if precheck is not None:
            precheck(settings)
    except ValueError as exc:
        fail(str(exc))
    return settings


def _run(command: str, study, settings, out, profile: Profile, seed: int):
    """Start the run folder (config.json; refuses cells of other settings) and run the study in it; a
    ValueError from the study is a clean error. Returns (folder, results)."""
    from dataclasses import asdict

    out_dir = start_run(command, out, profile, seed, asdict(settings))
    try:
        return out_dir, study.run(settings, seed, out_dir)
    except ValueError as exc:
        fail(str(exc))


@app.command("sim")
def sim(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    """The PAL simulation: accuracy vs K, vs samples per seen / unseen user, random vs active queries."""
    from pluralign.paper_figures.pal_sim import d2_pictures, plot
    from pluralign.sims import pal_sim

    settings = _settings(pal_sim.PROFILES, profile)
    out_dir = start_run("pal sim", out, profile, seed, settings)
    res = pal_sim.run(settings, seed, out_dir)
    name = Profile(profile).value
    figs = [plot(res, out_dir / "pal_sim.png", profile=name), d2_pictures(res, out_dir / "pal_sim_d2.png", profile=name)]
    for check, chk in res["summary"]["checks"].items():
        typer.echo(f"{'PASS' if chk['pass'] else 'FAIL'}  {check}")
    typer.echo(f"wrote {out_dir / 'results.json'}, {', '.join(map(str, figs))}")


@app.command("persona")
def persona(
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Folder of the persona *.jsonl files "
                        "(default: $PLURALIGN_ANTHROPIC_PERSONA_DIR, else anthropic-persona/ under $PLURALIGN_DATA, else the shipped copy).")] = None,
    cache_dir: CacheDirOpt = None,
    jobs: JobsOpt = 2,
) -> None:
    """The persona experiment (App. D.4): Table 7's personas, PAL-A-Tiny (hinge) / PAL-B-Tiny, sweeps (a)-(d)."""
    from pluralign.experiments import pal_persona
    from pluralign.paper_figures import pal_persona as figure

    settings = _settings(pal_persona.PROFILES, profile, lambda s: pal_persona.load_persona(s.data_dir),
                         data_dir=None if data_dir is None else str(data_dir),
                         cache_dir=None if cache_dir is None else str(cache_dir), n_jobs=jobs)
    out_dir, res = _run("pal persona", pal_persona, settings, out, profile, seed)
    png = figure.plot(res, out_dir / "pal_persona.png")
    for name, chk in res["summary"]["checks"].items():
        v = chk["value"]
        typer.echo(f"{'PASS' if chk['pass'] else 'FAIL'}  {name}: {f'{v:.4f}' if isinstance(v, float) else v}")
    typer.echo(f"wrote {out_dir / 'results.json'}, {png} (+ PDF)")


@app.command("bounds")
def bounds(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    """Thm. 1/2 vs Prop. C.4: per-user samples to a target excess risk as D grows (K fixed) and as K grows."""
    from pluralign.paper_figures.pal_bounds import plot
    from pluralign.sims import pal_bounds

    settings = _settings(pal_bounds.PROFILES, profile)
    out_dir = start_run("pal bounds", out, profile, seed, settings)
    res = pal_bounds.run(settings, seed, out_dir)
    png = plot(res, out_dir / "pal_bounds.png", profile=Profile(profile).value)
    for r in res["rows"]:
        typer.echo(f"D={r['D']:>4} K={r['K']:>2}  m*(PAL, fit w) = {float(r['m_star_pal']):8.1f}   "
                   f"m*(free ideal point) = {float(r['m_star_free']):8.1f}")  # JSON writes inf as "inf"
    typer.echo(f"wrote {out_dir / 'results.json'}, {png}")


@app.command("length")
def length(
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    model: Annotated[Path | None, typer.Option("--model", help="Local transformers encoder folder for Tiny and "
                     "Large (default: the packaged all-MiniLM-L6-v2); nothing is downloaded.")] = None,
    cache_dir: CacheDirOpt = None,
    jobs: JobsOpt = 2,
) -> None:
    """The length task (sec. 3.1 / D.3): PAL-A / PAL-B Tiny and Large, K = 1 and a per-user-embedding baseline."""
    from pluralign.experiments.pal_length import study
    from pluralign.pal.large import load_encoder
    from pluralign.paper_figures import pal_length as figure

    # a bad --model fails in the precheck, before any cell
    settings = _settings(study.PROFILES, profile, lambda s: load_encoder(s.model),
                         model=None if model is None else str(model),
                         cache_dir=None if cache_dir is None else str(cache_dir), n_jobs=jobs)
    out_dir, res = _run("pal length", study, settings, out, profile, seed)
    png = figure.plot(res, out_dir / "pal_length.png")
    for method, row in res["summary"]["table"].items():
        s, u = row["seen_acc"], row["fewshot_random"][-1]
        typer.echo(f"{method:<15} params {row['trainable_params']:>10,}  seen {s['mean']:.3f} +- {s['sem']:.3f}  "
                   f"unseen (m={row['fewshot_m'][-1]}) {u['mean']:.3f} +- {u['sem']:.3f}")
    typer.echo(f"wrote {out_dir / 'results.json'}, {png} (+ PDF)")
