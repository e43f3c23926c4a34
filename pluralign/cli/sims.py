"""``pluralign sims ...``: fast synthetic studies with a known ground truth.

One command per study, each the same few steps: build the study's settings from its profile
(:func:`pluralign.runs.settings_for`) plus the command's overrides (a bad value is a clean error), write
``config.json`` (:func:`pluralign.runs.prepare_run`), call the study's ``run(settings, seed, out)`` (numbers
only, resumable cells), draw its figures with :mod:`pluralign.paper_figures` and print the summary. The
studies live in ``sims/<study>/``; nothing below this module imports it.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli.common import AddressOpt, BackendOpt, OutOpt, ProfileOpt, SeedOpt, fail, start_run
from pluralign.runs import Profile, settings_for

app = typer.Typer(help="Fast synthetic studies with a known ground truth.", no_args_is_help=True)

DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Folder with the MPI csv files (mpi_120.csv / mpi_1k.csv; default $PLURALIGN_MPI_DIR, else mpi/ under $PLURALIGN_DATA, else the shipped copy).")]


def _run_study(command: str, study, figures, profile, seed: int, out, **overrides) -> tuple[Path, dict]:
    """Settings (the profile's, with the given overrides; ``None`` keeps the profile's value) -> config.json ->
    ``study.run`` -> ``figures.draw`` into the output folder. A bad value exits with a clean error naming the
    field. Returns (output folder, results)."""
    try:
        s = replace(settings_for(study.PROFILES, profile), **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        fail(str(exc))
    out = start_run(command, out, profile, seed, asdict(s))
    try:
        res = study.run(s, seed, out)
    except ValueError as exc:
        fail(str(exc))
    figures.draw(res, out, Profile(profile).value)
    return out, res


@app.command("prec-bandit", help="Bandit-PREC: leaky EM over users, welfare vs K (seed 000).")
def prec_bandit(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None,
                backend: BackendOpt = "local", address: AddressOpt = None) -> None:
    from rich.console import Console
    from rich.table import Table

    from pluralign.paper_figures import prec_bandit as figures
    from pluralign.sims import prec_bandit as study

    out, res = _run_study("sims prec-bandit", study, figures, profile, seed, out, backend=backend, address=address)
    s = res["summary"].get("encoder", {}).get("noise2", {})
    tab = Table(title="noise2, encoder features: welfare (mean ± s.e.m. over seeds)")
    tab.add_column("K")
    for m in study.MEASURES:
        tab.add_column(m)
    for k in sorted(s, key=int):
        tab.add_row(k, *[f"{s[k][m]['mean']:.3f} ± {s[k][m]['sem']:.3f}" for m in study.MEASURES])
    Console().print(tab)
    print(f"done-when (some K in 2,3,5,10 beats K=1 and K=N on all three): {res['done_when']}")
    print(f"wrote {out / 'results.json'} and {out / 'welfare_vs_K.png'}")


@app.command("mpi", help="EM-DPO binary vs ternary on the MPI personality items (seed 001, Table 1).")
def mpi(
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    data_dir: DataDirOpt = None,
    inventory: Annotated[str, typer.Option("--inventory", help="120 (mpi_120.csv) or 1k (mpi_1k.csv, de-duplicated).")] = "120",
    n_users: Annotated[int | None, typer.Option("--n-users", help="Override the profile's number of users.")] = None,
    n_seeds: Annotated[int | None, typer.Option("--n-seeds", help="Override the profile's number of seeds.")] = None,
) -> None:
    from pluralign.paper_figures import mpi as figures
    from pluralign.sims import mpi as study

    _, res = _run_study("sims mpi", study, figures, profile, seed, out, data_dir=data_dir, inventory=inventory,
                        n_users=n_users, n_seeds=n_seeds)
    for n in (2, 3):
        row = res["summary"][f"n={n}"]
        for m in study.METHODS:
            r = row[m]
            typer.echo(f"n={n} {m:15s} " + "  ".join(
                f"{t} acc {r[f'{t}_accuracy_mean']:.3f}±{r[f'{t}_accuracy_sem']:.3f}" for t in ("P1", "P2", "P3")))


@app.command("identifiability", help="Latent-class logit recovery vs N for n = 2..5 (seed 001, sec. 4).")
def identifiability(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    from pluralign.paper_figures import identifiability as figures
    from pluralign.sims import identifiability as study

    _, res = _run_study("sims identifiability", study, figures, profile, seed, out)
    for k, row in res["summary"].items():
        typer.echo(f"{k:16s} beta err {row['beta_error_mean']:.3f}±{row['beta_error_sem']:.3f}  "
                   f"pair-symmetric err {row['pair_symmetric_error_mean']:.3f}  weight err {row['weight_error_mean']:.3f}")
    for k, r in res.get("bayes", {}).items():
        typer.echo(f"pymc {k}: posterior sd along n=2-unidentified directions {r['sd_along_unidentified']:.3f}, "
                   f"along identified {r['sd_along_identified']:.3f}, max r-hat {r['r_hat_max']:.2f}")


@app.command("mmra", help="MMRA (LW, original, AE) max regret on the tabular testbed (seed 001, Table 3).")
def mmra(
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    data_dir: DataDirOpt = None,
    n_options: Annotated[int, typer.Option("--n-options", help="Options per preference (2 = Bradley-Terry, 3 = ternary).")] = 3,
    prefs_per_user: Annotated[int, typer.Option("--prefs-per-user", help="Preferences per user (1 = seed 001's Table 1 data; more = annotators who label several items).")] = 1,
    testbed: Annotated[str, typer.Option("--testbed", help="'mpi' (the MPI personalities) or 'random' (one random linear-reward instance per seed).")] = "mpi",
) -> None:
    from pluralign.paper_figures import mmra as figures
    from pluralign.sims import mmra as study

    _, res = _run_study("sims mmra", study, figures, profile, seed, out, data_dir=data_dir, n_options=n_options,
                        prefs_per_user=prefs_per_user, testbed=testbed)
    summary = res["summary"]
    for r in study.ROWS:
        typer.echo(f"{r:22s} max regret {summary[r]['max_regret_mean']:.4f} ± {summary[r]['max_regret_sem']:.4f}")
    n = summary["n_seeds"]
    typer.echo(f"true regrets: AE <= uniform in {summary['ae_le_uniform_seeds']}/{n} seeds, AE <= vanilla in "
               f"{summary['ae_le_vanilla_seeds']}/{n}; estimated (what AE optimises): "
               f"{summary['ae_le_uniform_estimated_seeds']}/{n}, {summary['ae_le_vanilla_estimated_seeds']}/{n}")
    typer.echo(f"table error eps = {summary['estimated_table_eps_mean']:.3f} (mean); AE within 2 eps of the best "
               f"mixture in all seeds: {summary['ae_bound_holds_all_seeds']}; LP optimum unique in "
               f"{summary['ae_lp_optimum_unique_seeds']}/{n} seeds; |last-iterate Hedge - LP|_inf = "
               f"{summary['ae_weights_max_abs_diff_hedge_vs_lp']:.1e} (unique optima: "
               f"{summary['ae_weights_max_abs_diff_hedge_vs_lp_unique_optimum']:.1e})")


# --- aggregation (seeds 003/004) ---
@app.command("aggregation", help="Centroid collapse, social choice, pooling, mechanisms (seeds 003, 004).")
def aggregation(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    from pluralign.paper_figures import aggregation as figures
    from pluralign.sims import aggregation as study

    root, res = _run_study("sims aggregation", study, figures, profile, seed, out)
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
    typer.echo(f"wrote {root / 'results.json'} and {root / 'aggregation.png'} ({res['timings_s']['total']:.0f} s of cells)")
