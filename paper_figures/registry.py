"""The registry of seed figures and tables: what each reproduces, the study it needs, how it is drawn.

One :class:`Entry` per seed figure or table (:data:`ENTRIES`), named after what it reproduces
(``seed000_fig2_welfare_vs_K``, ``seed001_table1_mpi``, ...), with the seed's caption quoted as printed,
the study (or studies) whose results it reads, the drawing function (the per-study modules of
:mod:`pluralign.paper_figures`) and our setup's deviations from the printed one, one line each. Tables put
the paper's printed numbers beside ours (copied from the seed text; the table / section is cited).

What cannot be reproduced here is listed in :data:`NOT_REPRODUCED` with the reason, never dropped.

Studies (:data:`STUDIES`) write ``results/<command>/<profile>/`` (``pluralign.runs.default_out``, the same
folder the study's own command writes); :func:`ensure_results` runs a study only when its results file is
missing (through the study's resumable ``run``), :func:`load_results` only reads. Drawing reads results
files only and never trains anything.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from pluralign.paper_figures import style
from pluralign.prec.labelers import DEFAULT_POPULATION
from pluralign.runs import Profile, prepare_run, read_json, settings_for, write_json

__all__ = ["ENTRIES", "NOT_REPRODUCED", "STUDIES", "Entry", "NotReproduced", "Study", "Table", "by_name",
           "ensure_results", "load_results", "results_dir", "run_theory_check"]

RL_MODULES = ("gymnasium", "mujoco", "stable_baselines3")


# --------------------------------------------------------------------------------------------- studies
STUDY_PROFILES = tuple(p.value for p in Profile)
"""The profiles every study has (:class:`pluralign.runs.Profile`)."""
FIGURE_PROFILES = ("smoke", "quick", "medium", "paper")
"""What ``figures make --profile`` takes: :data:`STUDY_PROFILES` and the MuJoCo PREC pipeline's ``medium``
(at ``medium`` only the entries drawn from PREC runs are drawn; the others are skipped, naming why)."""


def figure_profile(profile) -> str:
    """The name of a figures profile (:data:`FIGURE_PROFILES`); ValueError naming the choices otherwise."""
    name = profile.value if isinstance(profile, Profile) else str(profile)
    if name not in FIGURE_PROFILES:
        raise ValueError(f"profile: must be one of {', '.join(FIGURE_PROFILES)}, got {profile!r}")
    return name


@dataclass(frozen=True)
class Study:
    """One study the figures read: its module, the command whose default folder holds its results."""

    key: str
    """Short name (``mpi``, ``prec:HalfCheetah-v5:noise2``)."""
    module: str
    """Import path of the study (``PROFILES`` + ``run``)."""
    command: str
    """The command that runs it alone (its results folder is ``<root>/<command with ->/<profile>``)."""
    results_file: str = "results.json"
    """The file ``run`` writes (and returns)."""
    needs: tuple[str, ...] = ()
    """Modules of an optional extra the study imports (missing -> listed as not reproducible here)."""
    prec: tuple | None = None
    """(env, teacher, use_encoder[, population]) for a MuJoCo PREC run (settings from ``make_config``)."""
    folder_name: str | None = None
    """Results folder under the root for a study without a command of its own (``figures make`` runs it)."""
    runs_here: bool = True
    """False: results are only read, never run by ``figures make`` (made by a run the lead starts, or by
    a pipeline that has not landed); when they are missing the entry is skipped with :attr:`made_by`."""
    made_by: str = ""
    """How results of a :attr:`runs_here` = False study are made (the skip reason when missing)."""

    def folder(self, root: Path, profile: str) -> Path:
        if self.prec is not None:  # the folder `pluralign prec run` writes (populations: the --out we name)
            env, teacher, enc, *pop = self.prec
            tail = f"_pop-{pop[0]}" if pop and pop[0] != PREC_DEFAULT_POPULATION else ""
            return Path(root) / "prec" / profile / f"{env}_{teacher}{'' if enc else '_noenc'}{tail}"
        if self.folder_name is not None:
            return Path(root) / self.folder_name / profile
        return Path(root) / self.command.split(" --")[0].replace(" ", "-") / profile

    def command_at(self, profile: str) -> str:
        """The command line that makes this study's results at ``profile``."""
        return f"pluralign {self.command.format(profile=profile)} --profile {profile}"

    def has_profile(self, profile: str) -> bool:
        """Whether this study can run at ``profile`` (the MuJoCo PREC pipeline also has ``medium``)."""
        from pluralign.experiments.prec.config import PREC_PROFILES

        return profile in (PREC_PROFILES if self.prec is not None else STUDY_PROFILES)

    def missing_profile(self, profile: str) -> str | None:
        """Why this study cannot run at ``profile`` (None when it can)."""
        return None if self.has_profile(profile) else \
            f"{self.key} has no {profile} profile (only the MuJoCo PREC pipeline has one)"

    def missing_extra(self) -> str | None:
        """The first module of :attr:`needs` that is not installed (None when all are)."""
        for m in self.needs:
            if importlib.util.find_spec(m) is None:
                return m
        return None

    def settings(self, profile: str, root: Path):
        if self.prec is not None:
            from pluralign.experiments.prec.config import make_config

            env, teacher, enc, *pop = self.prec
            cfg = replace(make_config(profile, env), noise=teacher, use_encoder=enc, n_jobs=1,
                          cache_dir=str(Path(root) / "prec" / "cache"))
            return (replace(cfg, population=pop[0]) if pop else cfg).validate()
        mod = importlib.import_module(self.module)
        s = settings_for(mod.PROFILES, profile)
        if hasattr(s, "validate"):
            s.validate()
        return s


PREC_DEFAULT_POPULATION = DEFAULT_POPULATION
"""The population of a `pluralign prec run` without --population (PrecConfig.population)."""
RUN_FIRST = "; run it first, and this command then draws the figure from its results"
"""Tail of the skip message of a study this command does not run itself (a long or data-gated run)."""

PREC_POPULATIONS = ("broad", "bimodal", "trimodal", "polarized")
"""Fig. 3's populations, broadly mixed (left) to polarized (right) (pluralign.prec.labelers.POPULATIONS)."""
PREC_POPULATION_TEACHER = "oracle"
"""The teacher of the MuJoCo Fig. 3 / Figs. 8-11 runs (seed 000 does not name it)."""


def _prec(env: str, teacher: str, enc: bool = True) -> Study:
    flag = "" if enc else " --no-encoder"
    return Study(f"prec:{env}:{teacher}{'' if enc else ':noenc'}", "pluralign.experiments.prec.pipeline",
                 f"prec run --env {env} --noise {teacher}{flag}", needs=RL_MODULES, prec=(env, teacher, enc))


def _prec_pop(env: str, pop: str, teacher: str = PREC_POPULATION_TEACHER) -> Study:
    """A MuJoCo run of one Fig. 3 population: only read here (each is a 15-30 min run at quick)."""
    out = f" --out results/prec/{{profile}}/{env}_{teacher}_pop-{pop}" if pop != PREC_DEFAULT_POPULATION else ""
    cmd = f"prec run --env {env} --noise {teacher} --population {pop}{out}"
    return Study(f"prec:{env}:{teacher}:pop={pop}", "pluralign.experiments.prec.pipeline", cmd, needs=RL_MODULES,
                 prec=(env, teacher, True, pop), runs_here=False,
                 made_by=f"needs the MuJoCo run `pluralign {cmd} --profile {{profile}}` (15-30 min at quick)" + RUN_FIRST)


STUDIES: dict[str, Study] = {s.key: s for s in [
    Study("prec_bandit", "pluralign.sims.prec_bandit", "sims prec-bandit"),
    Study("mpi", "pluralign.sims.mpi", "sims mpi"),
    Study("mmra", "pluralign.sims.mmra", "sims mmra"),
    Study("identifiability", "pluralign.sims.identifiability", "sims identifiability"),
    Study("aggregation", "pluralign.sims.aggregation", "sims aggregation"),
    Study("pal_sim", "pluralign.sims.pal_sim", "pal sim"),
    Study("pal_bounds", "pluralign.sims.pal_bounds", "pal bounds"),
    Study("pal_persona", "pluralign.experiments.pal_persona", "pal persona"),
    *[_prec(env, t) for env in ("HalfCheetah-v5", "Ant-v5", "Hopper-v5", "Walker2d-v5")
      for t in ("oracle", "noise1", "noise2")],
    *[_prec(env, "noise2", enc=False) for env in ("HalfCheetah-v5", "Ant-v5")],
    *[_prec_pop(env, pop) for env in ("HalfCheetah-v5", "Ant-v5", "Hopper-v5", "Walker2d-v5") for pop in PREC_POPULATIONS],
    Study("prec_bandit_populations", "pluralign.sims.prec_bandit.populations",
          "figures make seed000_fig3_populations_bandit", folder_name="sims-prec-bandit-populations"),
    Study("mpi_k_sweep", "pluralign.sims.mpi.k_sweep", "figures make seed001_fig2_margin_vs_K",
          folder_name="sims-mpi-k-sweep"),
    Study("emdpo_llm_k_sweep", "pluralign.experiments.emdpo_llm", "emdpo run --dataset mpi (K sweep)",
          folder_name="emdpo-k-sweep", runs_here=False,
          made_by="a language-model K sweep (minutes to hours on CPU): `pluralign emdpo run --dataset mpi "
                  "--feedback ternary --k-sweep 1,2,4,5,6 --profile {profile} --out results/emdpo-k-sweep/{profile}`"),
    *[Study(f"emdpo_goqa_{fb}", "pluralign.experiments.emdpo_llm", f"emdpo run --dataset goqa --feedback {fb}",
            folder_name=f"emdpo-goqa-{fb}", runs_here=False,
            made_by=f"needs the language-model GlobalOpinionQA run `pluralign emdpo run --dataset goqa --feedback {fb} "
                    f"--profile {{profile}} --out results/emdpo-goqa-{fb}/{{profile}}` (about 15-30 min at quick on 2 "
                    "CPUs; the GlobalOpinionQA json, never shipped, in $PLURALIGN_GLOBALOPINIONQA_DIR)" + RUN_FIRST)
      for fb in ("binary", "ternary")],
    *[Study(f"emdpo_llm_mpi_{fb}", "pluralign.experiments.emdpo_llm", f"emdpo run --dataset mpi --feedback {fb} --n-seeds 3 --out results/emdpo-mpi-{fb}/{{profile}}",
            folder_name=f"emdpo-mpi-{fb}", runs_here=False,
            made_by=f"needs the language-model MPI run `pluralign emdpo run --dataset mpi --feedback {fb} --n-seeds 3 "
                    f"--profile {{profile}} --out results/emdpo-mpi-{fb}/{{profile}}` (about 5 CPU-min per replicate "
                    "at quick)" + RUN_FIRST)
      for fb in ("binary", "ternary")],
    Study("emdpo_llm_mmra", "pluralign.experiments.emdpo_llm.mmra", "emdpo mmra --run results/emdpo-mpi-ternary/{profile} --method lw --out results/emdpo-mmra/{profile}",
          folder_name="emdpo-mmra", runs_here=False,
          made_by="needs MMRA over the ternary LM run: `pluralign emdpo mmra --run results/emdpo-mpi-ternary/{profile} "
                  "--method lw --profile {profile} --out results/emdpo-mmra/{profile}` (about 3 CPU-min per replicate "
                  "at quick)" + RUN_FIRST),
    Study("pal_length", "pluralign.experiments.pal_length", "pal length"),
]}
"""Every study a figure reads, by key."""

PREC_ENVS = {"smoke": ("HalfCheetah-v5",), "quick": ("HalfCheetah-v5",), "medium": (),
             "paper": ("HalfCheetah-v5", "Ant-v5", "Hopper-v5", "Walker2d-v5")}
"""MuJoCo environments run per profile (smoke / quick cover HalfCheetah only: each env x teacher is a
separate 15-30 min run at quick; medium runs none itself: each run is hours)."""
PREC_OPTIONAL_ENVS = {"smoke": (), "quick": ("Ant-v5", "Hopper-v5", "Walker2d-v5"),
                      "medium": ("HalfCheetah-v5", "Ant-v5", "Hopper-v5", "Walker2d-v5"), "paper": ()}
"""Environments drawn too when their runs exist, never run by ``figures make`` (quick: the other three envs,
each teacher a separate `pluralign prec run --env ENV --noise T --profile quick`; medium: every run that
exists, e.g. HalfCheetah noise2 alone)."""
PREC_ABLATION_ENVS = {"smoke": ("HalfCheetah-v5",), "quick": ("HalfCheetah-v5",), "medium": (),
                      "paper": ("HalfCheetah-v5", "Ant-v5")}
"""Environments of Fig. 12's encoder ablation per profile."""
PREC_OPTIONAL_ABLATION_ENVS = {"smoke": (), "quick": ("Ant-v5",), "medium": ("HalfCheetah-v5", "Ant-v5"), "paper": ()}
"""Fig. 12's environments drawn too when their runs exist (never run by ``figures make``)."""
TEACHERS = ("oracle", "noise1", "noise2")


def results_dir(study: Study, profile: str, root: Path = Path("results")) -> Path:
    return study.folder(Path(root), figure_profile(profile))


def load_results(study: Study, profile: str, root: Path = Path("results")) -> dict | None:
    """The study's results at ``profile`` under ``root`` (None when missing). Reads only."""
    path = results_dir(study, profile, root) / study.results_file
    return read_json(path) if path.exists() else None


def run_info(study: Study, profile: str, root: Path) -> dict:
    """Profile, base seed and replicate count of a finished run (from its ``config.json``)."""
    path = results_dir(study, profile, root) / "config.json"
    info = {"profile": figure_profile(profile), "seed": None, "n_seeds": None}
    if path.exists():
        cfg = read_json(path)
        info["seed"] = cfg.get("seed")
        c = cfg.get("config") or {}
        for k in ("n_seeds", "n_replicates", "replicates"):
            if k in c:
                v = c[k]
                info["n_seeds"] = len(v) if isinstance(v, list) else v
                break
    return info


def ensure_results(study: Study, profile: str, root: Path = Path("results"), seed: int = 0,
                   progress: bool = True) -> dict:
    """The study's results, running it first when the results file is missing (resumable: finished cells
    of an interrupted run are kept). Raises ``RuntimeError`` naming the extra when one is missing."""
    res = load_results(study, profile, root)
    if res is not None:
        return res
    if not study.runs_here:
        raise RuntimeError((study.made_by or f"{study.key}: results missing and not made here").format(profile=profile))
    profile = figure_profile(profile)
    if study.missing_profile(profile):
        raise RuntimeError(study.missing_profile(profile))
    missing = study.missing_extra()
    if missing is not None:
        raise RuntimeError(f"{study.key} needs {missing} (pip install 'pluralign[rl]')")
    settings = study.settings(profile, Path(root))
    config = settings.to_dict() if hasattr(settings, "to_dict") else (asdict(settings) if is_dataclass(settings) else settings)
    out = prepare_run(study.command.split(" --")[0] if study.prec is None else "prec run",
                      results_dir(study, profile, root), profile, seed, config)
    mod = importlib.import_module(study.module)
    mod.run(settings, seed, out, progress=progress)
    return read_json(out / study.results_file)


def run_theory_check(profile: str, root: Path = Path("results"), seed: int = 0, progress: bool = True) -> dict | None:
    """The theory check table at ``profile`` (``results/theory-check/<profile>/results.json``, the folder
    ``pluralign theory check`` writes): read when present, else computed with ``check_report`` and written;
    None at a profile the check does not have (``medium``)."""
    from pluralign.theory.check import PROFILE_INSTANCES, check_report

    profile = figure_profile(profile)
    if profile not in PROFILE_INSTANCES:
        return None
    folder = Path(root) / "theory-check" / profile
    path = folder / "results.json"
    if path.exists():
        return read_json(path)
    n = PROFILE_INSTANCES[profile]
    folder = prepare_run("theory check", folder, profile, seed, {"n_instances": n})
    write_json(path, check_report(seed=seed, n_instances=n, progress=progress))
    return read_json(path)


# --------------------------------------------------------------------------------------------- tables
@dataclass
class Table:
    """A table with the paper's printed numbers beside ours: header, rows (strings), notes."""

    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
        lines = ["| " + " | ".join(map(esc, self.columns)) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(map(esc, r)) + " |" for r in self.rows]
        return "\n".join(lines + [""] + [f"- {n}" for n in self.notes])

    def html(self) -> str:
        import html

        h = "<table><thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns) + "</tr></thead><tbody>"
        h += "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in self.rows)
        h += "</tbody></table>"
        if self.notes:
            h += "<ul class='notes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>"
        return h


def read_config(study: Study, profile: str, root: Path) -> dict:
    """The run's ``config.json`` (empty when missing)."""
    path = results_dir(study, profile, root) / "config.json"
    return read_json(path) if path.exists() else {}


def _ms(mean, sem=None, digits: int = 3, n=None) -> str:
    """"mean ± s.e.m." (the error bar of every table); the mean alone when ``sem`` is None or the number of
    seeds ``n`` (when known) is below 2, so that one seed never reads as an s.e.m. of 0."""
    if mean is None:
        return "—"
    show = sem is not None and (n is None or int(n) >= 2)
    return f"{float(mean):.{digits}f}" + (f" ± {float(sem):.{digits}f}" if show else "")


# --------------------------------------------------------------------------------------------- entries
@dataclass(frozen=True)
class Entry:
    """One seed figure or table."""

    name: str
    seed_paper: str
    """'000' .. '004'."""
    source: str
    """Where it is printed (``Fig. 2``, ``Table 1, sec. 5``)."""
    caption: str
    """The seed's caption, quoted as printed (or the issue's description where the seed has no caption)."""
    studies: Callable[[str], tuple[str, ...]]
    """Study keys needed at a profile."""
    draw: Callable
    """``draw(ctx) -> list[Path]`` for a figure, ``-> Table`` for a table."""
    kind: str = "figure"
    deviations: tuple[str, ...] = ()
    optional: Callable[[str], tuple[str, ...]] = lambda profile: ()
    """Study keys drawn too when their results exist (never run here: the LM pipeline's K sweep)."""

    def study_keys(self, profile: str) -> tuple[str, ...]:
        return tuple(self.studies(figure_profile(profile)))

    def optional_keys(self, profile: str) -> tuple[str, ...]:
        return tuple(self.optional(figure_profile(profile)))


@dataclass(frozen=True)
class NotReproduced:
    seed_paper: str
    source: str
    what: str
    reason: str


class NothingToDraw(Exception):
    """Raised by a drawing function whose results hold no complete panel; the report skips the entry with
    this message (not an error)."""


@dataclass
class Ctx:
    """What a drawing function gets: the results of its studies, the output folder, profile, names."""

    name: str
    results: dict
    out: Path
    profile: str
    configs: dict = field(default_factory=dict)
    """``config.json`` of each study run (command, profile, seed, config), by study key."""

    def path(self, suffix: str = "") -> Path:
        return self.out / f"{self.name}{suffix}.png"


def _fixed(*keys):
    return lambda profile: keys


# --- seed 000 ---
def _welfare_grid(ctx: Ctx, rows: dict, title: str, with_time: bool) -> Path:
    """One row per environment, one column per welfare measure (+ training time), one line per run."""
    from pluralign.paper_figures.prec import MEASURES, reference_lines

    ncols = len(MEASURES) + int(with_time)
    fig, axes = style.figure(ncols, len(rows))
    for i, (env, runs) in enumerate(rows.items()):
        # the reference policies depend on the users and PPO only, so one run of the row draws them
        with_refs = next((res for res in runs.values() if res.get("references")), None)
        if with_refs is not None:
            for j, (m, _) in enumerate(MEASURES):
                reference_lines(axes[i, j], with_refs, m)
        for label, res in runs.items():
            table = res["table"]
            Ks = [int(k) for k in table]
            x = np.arange(len(Ks))
            color = {"SPR encoder": "tab:blue", "no encoder": "tab:gray"}.get(label) or style.color_for(label)
            cols = [m for m, _ in MEASURES] + (["train_seconds"] if with_time else [])
            for j, m in enumerate(cols):
                ax = axes[i, j]
                vals = [table[str(K)][m] for K in Ks]
                if m == "train_seconds":
                    vals = [{"mean": v["mean"] / 60.0, "sem": v["sem"] / 60.0} for v in vals]
                style.errorbar(ax, x, vals, color=color, label=label,
                               linestyle="--" if "no encoder" in label else "-")
                ax.set_xticks(x, [str(K) for K in Ks])
                ax.set_xlabel("K (clusters)")
                ax.set_title(f"{env}: " + (dict(MEASURES).get(m) or "PPO training time (wall-min, sum over policies)"), fontsize=9)
                ax.grid(alpha=0.3)
        axes[i, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return style.save(fig, ctx.path())


def _prec_seeds(results: dict) -> str:
    r = next(iter(results.values()))
    return f"{len(r.get('replicates', []))} replicates, base seed {r.get('seed')}"


def _fig2(ctx: Ctx) -> list[Path]:
    rows: dict = {}
    for key, res in ctx.results.items():
        _, env, teacher = key.split(":")[:3]
        rows.setdefault(env, {})[teacher] = res
    return [_welfare_grid(ctx, rows, style.caption("PREC welfare and PPO training time vs K, per environment and "
                                                   "teacher; horizontal lines: reference policies every user gets "
                                                   "(untrained PPO, random actions, PPO on the users' true mean reward)",
                                                   ctx.profile, _prec_seeds(ctx.results)), True)]


def _fig12(ctx: Ctx) -> list[Path]:
    """Fig. 12: one row per environment whose two runs (with and without the encoder) both exist."""
    rows: dict = {}
    for key, res in ctx.results.items():
        parts = key.split(":")
        rows.setdefault(parts[1], {})["SPR encoder" if len(parts) == 3 else "no encoder"] = res
    rows = {env: r for env, r in rows.items() if len(r) == 2}
    if not rows:
        raise NothingToDraw(f"no environment has both runs at profile {ctx.profile} (with and without the encoder: "
                            f"`pluralign prec run --env ENV --noise 2 [--no-encoder] --profile {ctx.profile}`)")
    return [_welfare_grid(ctx, rows, style.caption("PREC with vs without the SPR encoder (teacher noise2)",
                                                   ctx.profile, _prec_seeds(ctx.results)), False)]


def _clusters(ctx: Ctx) -> list[Path]:
    """Figs. 4-7: one picture per env, the teachers (oracle, noise1, noise2) as rows, K as columns."""
    from pluralign.paper_figures.prec import cluster_pictures_by_row

    by_env: dict = {}
    for key, res in ctx.results.items():
        by_env.setdefault(key.split(":")[1], {})[key.split(":")[2]] = res
    return [cluster_pictures_by_row(runs, ctx.out / f"{ctx.name}_{env}.png",
                                    f"PREC leaky-EM clusters of user weights — {env}, one row per teacher (profile "
                                    f"{ctx.profile}, base seed {next(iter(runs.values())).get('seed')}, replicate 0)")
            for env, runs in by_env.items()]


def _by_env_population(ctx: Ctx) -> dict:
    """{(env, population): results} of the MuJoCo population runs (keys ``prec:<env>:<teacher>:pop=<p>``)."""
    return {(key.split(":")[1], key.split("pop=")[1]): res for key, res in ctx.results.items()}


def _populations_prec(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.populations import population_welfare, prec_fig3, prec_fig3_baselines

    users, rows = prec_fig3(_by_env_population(ctx))
    return [population_welfare(users, rows, ctx.path(), style.caption(
        f"PREC welfare vs K per user population (teacher {PREC_POPULATION_TEACHER}); top row: replicate 0's users "
        "coloured by Dirichlet mode; dotted: the untrained PPO policy", ctx.profile, _prec_seeds(ctx.results)),
        baselines=prec_fig3_baselines(_by_env_population(ctx)))]


def _populations_prec_clusters(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.populations import prec_clusters

    by_env: dict = {}
    for (env, pop), res in _by_env_population(ctx).items():
        by_env.setdefault(env, {})[pop] = res
    return [prec_clusters(runs, ctx.out / f"{ctx.name}_{env}.png", env, ctx.profile) for env, runs in by_env.items()]


def _populations_bandit(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.populations import bandit_fig3

    return [bandit_fig3(ctx.results["prec_bandit_populations"], ctx.path(), ctx.profile)]


def _populations_bandit_clusters(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.populations import bandit_clusters

    return [bandit_clusters(ctx.results["prec_bandit_populations"], ctx.path(), ctx.profile)]


def _bandit(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.prec_bandit import welfare_vs_K

    return [welfare_vs_K(ctx.results["prec_bandit"], ctx.path(), ctx.profile)]


SEED000_TABLE1 = {"noise1": (1.00, 0.90, 0.10, 0.10, 0.10), "noise2": (0.50, 0.85, 0.20, 0.25, 0.20)}
"""Seed 000, App. C.1 Table 1, as printed: stochastic beta, myopic gamma, mistake eps, skip p, equal delta."""


def _table1_noise(ctx: Ctx) -> Table:
    from pluralign.bpref import LEVELS

    names = ("stochastic β", "myopic γ", "mistake ε", "skip p_skip", "equal δ")
    rows = []
    for lvl, key in ((1, "noise1"), (2, "noise2")):
        ours = LEVELS[lvl]
        mine = (ours.beta, ours.gamma, ours.eps, ours.p_skip, ours.delta)
        for n, p, o in zip(names, SEED000_TABLE1[key], mine):
            rows.append([f"noise condition {lvl}", n, f"{p:.2f}", f"{o:.2f}", "same" if abs(p - o) < 1e-12 else "DIFFERS"])
    return Table(["teacher", "parameter", "printed (Table 1)", "ours (pluralign.bpref.LEVELS)", ""], rows,
                 ["pluralign.bpref.LEVELS holds the printed Table 1; a row saying DIFFERS would mean the noisy "
                  "teachers of this report did not use the printed values."])


SEED000_TABLE2 = {"total_timesteps": "1.5M", "n_steps": "2048", "batch_size": "64", "n_epochs": "10",
                  "learning_rate": "3e-4 (constant)", "gamma": "0.99", "gae_lambda": "0.95"}
"""Seed 000, App. C.3 Table 2, as printed (optimizer Adam)."""


def _table2_ppo(ctx: Ctx) -> Table:
    cfg = next(iter(ctx.configs.values()), None) or {}
    ppo = (cfg.get("config") or {}).get("ppo", {})
    rows = [[k, v, str(ppo.get(k, "—"))] for k, v in SEED000_TABLE2.items()]
    rows.append(["n_envs (parallel environments)", "not printed", str(ppo.get("n_envs", "—"))])
    return Table(["PPO setting", "printed (Table 2)", f"ours ({ctx.profile})"], rows,
                 ["ours: the PPOConfig of the HalfCheetah noise2 run at this profile (smoke / quick are far below "
                  "the printed 1.5M steps; paper uses PPOConfig.paper)."])


# --- seed 001 ---
SEED001_TABLE1 = {  # method -> (margins P1, P2, P3, accuracies P1, P2, P3), seed 001 Table 1 (sec. 5)
    ("true_label_dpo", None): (0.977, 1.226, 0.696, 0.760, 0.773, 0.710),
    ("em_dpo", 3): (0.152, 0.423, 0.729, 0.584, 0.584, 0.634),
    ("em_dpo", 2): (0.116, 0.134, 0.585, 0.515, 0.550, 0.651),
    ("cluster_dpo", 3): (0.246, 0.257, 0.688, 0.560, 0.562, 0.591),
    ("cluster_dpo", 2): (0.222, 0.223, 0.546, 0.544, 0.547, 0.584),
    ("vanilla_dpo", None): (0.031, 0.020, 0.228, 0.532, 0.512, 0.666),
}
"""Seed 001 Table 1 as printed (MPI, reward margins and accuracies per personality)."""


def _table1_mpi(ctx: Ctx) -> Table:
    return Table(*_table1_rows(ctx.results["mpi"]["summary"]),
                 ["printed: seed 001 Table 1 (sec. 5, an LLM fine-tuned with DPO); ours: the tabular "
                  "EM-DPO testbed (exact pi* ∝ pi_ref exp(r/beta)), mean ± s.e.m. over seeds; methods "
                  "without a feedback type are shown at ternary (n = 3) data."])


def _table1_mpi_llm(ctx: Ctx) -> Table:
    """Table 1 on the language model: EM-DPO binary from the binary run, everything else from the ternary run
    (the twin's metrics on the LM's (eval prompt, item) table)."""
    tern, bina = ctx.results["emdpo_llm_mpi_ternary"], ctx.results["emdpo_llm_mpi_binary"]
    summary = {"n=3": tern["summary"].get("n=3", {}), "n=2": bina["summary"].get("n=2", {})}
    n_seeds = summary["n=3"].get("em_dpo", {}).get("n_seeds")
    return Table(*_table1_rows(summary),
                 [f"printed: seed 001 Table 1 (Mistral-7B v0.3); ours: {tern.get('source')}, mean ± s.e.m. over "
                  f"{n_seeds} replicate(s); the twin's metrics (pairwise accuracy and mean reward margin of the "
                  "policy matched to each personality, over every item pair its reward strictly ranks, on the "
                  "evaluation prompts); methods without a feedback type from the ternary run."])


def _table1_rows(s: dict) -> tuple[list, list]:
    rows = []
    label = {"true_label_dpo": "True Label DPO", "em_dpo": "EMDPO", "cluster_dpo": "Cluster DPO", "vanilla_dpo": "Vanilla DPO"}
    for (m, n), printed in SEED001_TABLE1.items():
        ours_n = n or 3
        r = s.get(f"n={ours_n}", {}).get(m, {})
        name = label[m] + ("" if n is None else (" Ternary" if n == 3 else " Binary"))
        for i, metric in enumerate(("reward_margin", "accuracy")):
            row = [name if i == 0 else "", metric.replace("_", " ")]
            for j, P in enumerate(("P1", "P2", "P3")):
                row += [f"{printed[3 * i + j]:.3f}", _ms(r.get(f"{P}_{metric}_mean"), r.get(f"{P}_{metric}_sem"), n=r.get("n_seeds"))]
            rows.append(row)
    cols = ["method", "metric"] + [f"{P} {w}" for P in ("P1", "P2", "P3") for w in ("printed", "ours")]
    return cols, rows


SEED001_TABLE2 = {  # method -> (margins BR, IN, MX, PK, accuracies BR, IN, MX, PK), seed 001 Table 2 (sec. 5)
    "true_label_dpo": (0.733, 1.302, 1.233, 1.183, 0.703, 0.740, 0.738, 0.779),
    "em_dpo": (0.853, 1.474, 1.558, 1.617, 0.710, 0.715, 0.747, 0.767),
    "cluster_dpo": (0.750, 1.228, 1.307, 1.163, 0.702, 0.718, 0.747, 0.765),
    "vanilla_dpo": (0.613, 1.139, 1.187, 1.187, 0.681, 0.732, 0.754, 0.754),
}
"""Seed 001 Table 2 as printed (GlobalOpinionQA, max mean reward margins and accuracies per country;
binary feedback, sec. 5)."""
GOQA_COUNTRIES = ("BR", "IN", "MX", "PK")


def _table2_goqa(ctx: Ctx) -> Table:
    """Table 2 beside ours: the binary run (as printed), and the ternary run's rows when its results exist."""
    label = {"true_label_dpo": "True Label DPO", "em_dpo": "EMDPO", "cluster_dpo": "Cluster DPO", "vanilla_dpo": "Vanilla DPO"}
    rows = []
    runs = [("binary", 2, ctx.results["emdpo_goqa_binary"])]
    if "emdpo_goqa_ternary" in ctx.results:
        runs.append(("ternary", 3, ctx.results["emdpo_goqa_ternary"]))
    for fb, n, res in runs:
        summ = res["summary"].get(f"n={n}", {})
        for m, printed in SEED001_TABLE2.items():
            r = summ.get(m, {})
            for i, (metric, what) in enumerate((("max_mean_margin", "max mean reward margin"),
                                                ("heldout_accuracy", "accuracy"))):
                row = [f"{label[m]} ({fb})" if i == 0 else "", what]
                for j, c in enumerate(GOQA_COUNTRIES):
                    row += [f"{printed[4 * i + j]:.3f}" if fb == "binary" else "—",
                            _ms(r.get(f"{c}_{metric}_mean"), r.get(f"{c}_{metric}_sem"), n=r.get("n_seeds"))]
                rows.append(row)
    cols = ["method", "metric"] + [f"{c} {w}" for c in GOQA_COUNTRIES for w in ("printed", "ours")]
    res = runs[0][2]
    n_seeds = next(iter(res["summary"].get("n=2", {}).values()), {}).get("n_seeds")
    return Table(cols, rows, [f"printed: seed 001 Table 2 (Mistral-7B, binary feedback); ours: {res.get('source')}, "
                              f"mean ± s.e.m. over {n_seeds} seed(s) (the mean alone with one seed), K = 4; the paper "
                              "prints no ternary GlobalOpinionQA run (ternary rows: ours only)."])


SEED001_TABLE3_MPI = {"mmra_lw": (0, 3.44, 0, 1.74, 3.44), "uniform_mixture": (5.98, 6.26, 4.44, 4.80, 6.26),
                      "vanilla_dpo": (0, 4.14, 0, 1.46, 4.14)}
SEED001_TABLE3_GOQA = {"mmra_lw": (0, 0, 1.73, 0, 1.73), "uniform_mixture": (2.84, 2.61, 3.54, 0, 3.54),
                       "vanilla_dpo": (0.78, 0, 3.18, 0, 3.18)}
"""Seed 001 Table 3 as printed (regret per latent sub-group 1-4 and max; MPI and Global Opinions)."""


def _table3_regrets(ctx: Ctx) -> Table:
    res = ctx.results["mmra"]
    per: dict[str, list] = {}
    for c in res.get("cells", []):
        for row, m in c["metrics"].items():
            if isinstance(m, dict) and "regrets" in m:
                per.setdefault(row, []).append(m["regrets"])
    label = {"mmra_lw": "MMRA-LW", "uniform_mixture": "Uniform Sampling", "vanilla_dpo": "Vanilla DPO",
             "mmra_original": "MMRA (original, Alg. 3)", "mmra_ae": "MMRA-AE", "best_mixture": "best mixture"}
    rows = []
    for row in ("mmra_lw", "uniform_mixture", "vanilla_dpo", "mmra_original", "mmra_ae", "best_mixture"):
        printed = SEED001_TABLE3_MPI.get(row)
        g = np.asarray(per.get(row, []), dtype=float)
        ours = [] if g.size == 0 else [_ms(g[:, k].mean(), g[:, k].std(ddof=1) / np.sqrt(len(g)) if len(g) > 1 else None, 2)
                                       for k in range(g.shape[1])]
        mx = res["summary"].get(row, {})
        rows.append([label[row], " / ".join(f"{v:g}" for v in printed[:4]) if printed else "—",
                     f"{printed[4]:g}" if printed else "—", " / ".join(ours) or "—",
                     _ms(mx.get("max_regret_mean"), mx.get("max_regret_sem"), 2, n=mx.get("n_seeds")),
                     f"{SEED001_TABLE3_GOQA[row][4]:g}" if row in SEED001_TABLE3_GOQA else "—"])
    return Table(["algorithm", "printed MPI groups 1-4", "printed MPI max", "ours per group", "ours max",
                  "printed Global Opinions max (not run)"], rows,
                 ["printed: seed 001 Table 3 (an LLM, K = 4 clusters); ours: the tabular MPI testbed with its "
                  "true personalities as sub-groups (so 3 groups, not 4), true regrets R_k (eq. 3), mean ± s.e.m. "
                  "over seeds; Global Opinions needs the LLM pipeline and GlobalOpinionQA (not here)."])


def _table3_regrets_llm(ctx: Ctx) -> Table:
    """Table 3 on the language model: max estimated regret of each aggregation over EM-DPO's K = 3 adapters
    (`pluralign emdpo mmra --method lw`); its groups are EM's components, so only the max is comparable."""
    res = ctx.results["emdpo_llm_mmra"]
    summ = res["summary"]
    label = {"mmra_lw": "MMRA-LW", "mmra_ae": "MMRA-AE", "uniform": "Uniform Sampling", "vanilla_dpo": "Vanilla DPO"}
    printed = {"mmra_lw": "mmra_lw", "uniform": "uniform_mixture", "vanilla_dpo": "vanilla_dpo"}
    rows = []
    for row in ("mmra_lw", "mmra_ae", "uniform", "vanilla_dpo"):
        if f"{row}_max_regret_mean" not in summ:
            continue
        per = [c["metrics"]["max_regret"][row] for c in res.get("cells", [])]
        rows.append([label[row], f"{SEED001_TABLE3_MPI[printed[row]][4]:g}" if row in printed else "—",
                     _ms(summ[f"{row}_max_regret_mean"], summ[f"{row}_max_regret_sem"], 2, n=summ.get("n_seeds")),
                     " / ".join(f"{v:.2f}" for v in per)])
    return Table(["algorithm", "printed MPI max", "ours max", "ours per replicate"], rows,
                 [f"printed: seed 001 Table 3 (Mistral-7B, K = 4 clusters); ours: {res.get('source')}, K = 3 EM-DPO "
                  f"adapters as the groups, regrets estimated from sampled completions scored by the learned implicit "
                  f"rewards, mean ± s.e.m. over {summ.get('n_seeds')} replicate(s). Per-group regrets are not shown: "
                  "the groups are EM's components, which are not matched across replicates."])


def _mpi_fig(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.mpi import accuracy

    return [accuracy(ctx.results["mpi"], ctx.path(), ctx.profile)]


def _mmra_fig(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.mmra import max_regret

    return [max_regret(ctx.results["mmra"], ctx.path(), ctx.profile)]


def _margin_vs_K(ctx: Ctx) -> list[Path]:
    """Seed 001 Fig. 2 from every source present: the tabular twin, and the LM pipeline's K sweep when its
    results exist (each figure names its source)."""
    from pluralign.paper_figures.mpi_k_sweep import margin_vs_K

    out = [margin_vs_K(ctx.results["mpi_k_sweep"], ctx.path(), ctx.profile)]
    if "emdpo_llm_k_sweep" in ctx.results:
        out.append(margin_vs_K(ctx.results["emdpo_llm_k_sweep"], ctx.path("_llm"), ctx.profile))
    return out


def _ident_fig(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures import identifiability

    return identifiability.draw(ctx.results["identifiability"], ctx.out / ctx.name, ctx.profile)


# --- seed 002 ---
def _pal_sim(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.pal_sim import plot

    return [plot(ctx.results["pal_sim"], ctx.path(), profile=ctx.profile)]


def _pal_d2(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.pal_sim import d2_pictures

    return [d2_pictures(ctx.results["pal_sim"], ctx.path(), profile=ctx.profile)]


def _pal_persona(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.pal_persona import plot

    return [plot(ctx.results["pal_persona"], ctx.path())]


def _pal_length_params(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.pal_length import plot_params

    return [plot_params(ctx.results["pal_length"], ctx.path())]


def _pal_length_fewshot(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.pal_length import plot_fewshot

    return [plot_fewshot(ctx.results["pal_length"], ctx.path())]


def _pal_length_table(ctx: Ctx) -> Table:
    from pluralign.paper_figures.pal_length import table_rows

    rows = table_rows(ctx.results["pal_length"])
    ms = sorted({int(k[len("unseen_m"):]) for r in rows for k in r
                 if k.startswith("unseen_m") and not k.endswith("_printed")})
    fmt = lambda v: "-" if v is None else str(v)  # noqa: E731
    body = [[r["method"], f"{r['trainable_params']:,}", r["seen"], fmt(r.get("seen_printed")),
             *[f"{r.get(f'unseen_m{m}', '-')} (printed {fmt(r.get(f'unseen_m{m}_printed'))})" for m in ms],
             fmt(r.get("m_within_2pts"))] for r in rows]
    return Table(["method", "trainable params", "seen acc. (%)", "printed seen (TL;DR)",
                  *[f"unseen m={m} (%)" for m in ms], "m within 2 pts of seen (random / active)"], body,
                 ["printed values: seed 002 Tables 1 / 3 / 5 on Reddit TL;DR; ours: D.3's construction on the "
                  "shipped persona statements (no TL;DR here), MiniLM as the encoder of both Tiny and Large",
                  *[f"{k}: {v}" for k, v in ctx.results["pal_length"].get("deviations", {}).items()]])


def _pal_bounds(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.pal_bounds import plot

    return [plot(ctx.results["pal_bounds"], ctx.path(), profile=ctx.profile)]


# --- seeds 003 / 004 ---
def _aggregation(ctx: Ctx) -> list[Path]:
    from pluralign.paper_figures.aggregation import plot

    return [plot(ctx.results["aggregation"], ctx.path(), profile=ctx.profile, seed=ctx.results["aggregation"].get("seed"))]


def _mechanism_table(ctx: Ctx) -> Table:
    mech = ctx.results["aggregation"]["rules"]["mechanism"]
    rows = [[name, str(m["n_instances"]), f"{m['max_gain_with_payments']:.1e}", str(m["n_profitable_with_payments(>1e-9)"]),
             f"{m['fraction_profitable_without_payments(>1e-9)']:.2f}", f"{m['median_gain_without_payments']:.3g}",
             f"{m['max_gain_without_payments']:.3g}"] for name, m in mech.items()]
    return Table(["utility", "instances", "max misreport gain with VCG payments", "profitable with payments",
                  "fraction profitable without payments", "median gain without", "max gain without"], rows,
                 ["seed 003 (a summary of Park et al.) prints no numbers: its claim is that truthful reporting is a "
                  "dominant strategy under the VCG-like costs; 'printed' = gain 0 with payments, > 0 without."])


# --- the registry ---
def _prec_keys(envs, teachers=TEACHERS, enc=True):
    return lambda profile: tuple(f"prec:{e}:{t}" + ("" if enc else ":noenc") for e in envs[profile] for t in teachers)


def _ablation_keys(envs):
    """Fig. 12's runs: teacher noise2 with and without the SPR encoder in each of ``envs[profile]``."""
    return lambda profile: _prec_keys(envs, ("noise2",))(profile) + _prec_keys(envs, ("noise2",), False)(profile)


def _prec_pop_keys(envs):
    return lambda profile: tuple(f"prec:{e}:{PREC_POPULATION_TEACHER}:pop={p}" for e in envs[profile]
                                 for p in PREC_POPULATIONS)


SEED000_FIG3 = ("Social welfare under different population preference distributions. Top-row simplex plots show "
                "the preference distributions of 30 users over three PCA-derived behavior features (f_1, f_2, f_3), "
                "from broadly mixed (left) to highly polarized (right) populations. The remaining plots show "
                "utilitarian, Nash, and egalitarian welfare across four MuJoCo environments as the number of "
                "deployed policies K varies.")
SEED000_FIG8 = ("Each point denotes one user in the (f_1, f_2, f_3) preference simplex, and points with the same color "
                "belong to the same PREC cluster under different preference distributions in HalfCheetah (Fig. 8; "
                "Ant, Hopper, Walker2d: Figs. 9-11).")
POPULATION_DEVIATIONS = (
    "populations: pluralign.prec.labelers.POPULATIONS broad / bimodal / trimodal / polarized (the printed "
    "mode centres and concentrations of Fig. 3 are not in the seed text; ours are stated in MODE_CENTERS)",
    f"teacher {PREC_POPULATION_TEACHER} (seed 000 does not name the teacher of Fig. 3 / Figs. 8-11)")


LM_DEVIATIONS = ("a small GPT-2 built here (quick: 2 layers x 128) as pi_SFT with K LoRA adapters, for Mistral-7B "
                 "v0.3 (Table 4); quick: RMSprop lr 1e-3, batch 16, 30 warmup steps (printed 5e-7, 4, 150)",
                 "quick: 2,000 training users with one preference each on 50 written paraphrases of the instruction; "
                 "evaluation on 10 of them")
"""Deviations of the quick language-model runs from seed 001 Table 4 (experiments/emdpo_llm/study.py
DEVIATIONS states each one)."""


ENTRIES: tuple[Entry, ...] = (
    Entry("seed000_fig2_welfare_vs_K", "000", "Fig. 2",
          "Social welfare and training time under noisy preference labels. Across four MuJoCo environments, the "
          "plots show utilitarian, egalitarian, and Nash welfare under oracle labels and two noisy-label conditions "
          "as the number of deployed policies K varies. The bottom row reports training time for each K.",
          _prec_keys(PREC_ENVS), _fig2, optional=_prec_keys(PREC_OPTIONAL_ENVS),
          deviations=("smoke runs HalfCheetah only; quick runs HalfCheetah and draws Ant, Hopper, Walker2d when their "
                      "runs exist (paper runs all four)",
                      "quick: 16k PPO steps per policy (about 1% of Table 2's 1.5M), 3 evaluation episodes",
                      "noisy teachers use pluralign.bpref.LEVELS, the printed Table 1 (see below)")),
    Entry("seed000_fig2_bandit_twin", "000", "Fig. 2 (bandit twin)",
          "Fig. 2's welfare vs K on the bandit twin of PREC (known optimum): same leaky-EM preset and teachers, "
          "no MuJoCo.", _fixed("prec_bandit"), _bandit,
          deviations=("a contextual-bandit world with exact feature vectors replaces MuJoCo + PPO",)),
    Entry("seed000_fig3_populations", "000", "Fig. 3", SEED000_FIG3, _prec_pop_keys(PREC_ENVS), _populations_prec,
          optional=_prec_pop_keys(PREC_OPTIONAL_ENVS),
          deviations=POPULATION_DEVIATIONS + (
              "smoke / quick: HalfCheetah (other envs drawn at quick when their runs exist; all four at paper); "
              "results only read here: each "
              f"population is one `pluralign prec run --population` (the default one, {PREC_DEFAULT_POPULATION}, is "
              "Fig. 2's oracle run)",)),
    Entry("seed000_fig3_populations_bandit", "000", "Fig. 3 (bandit twin)",
          "Fig. 3 on the bandit twin of PREC (known optimum): the same populations, leaky-EM preset and teachers, "
          "welfare vs K per population. " + SEED000_FIG3, _fixed("prec_bandit_populations"), _populations_bandit,
          deviations=POPULATION_DEVIATIONS[:1] + (
              "teacher oracle at smoke / quick, oracle and noise2 at paper (seed 000 does not name Fig. 3's)",
              "a contextual-bandit world with exact feature vectors replaces MuJoCo + PPO; one row per teacher "
              "instead of one per environment")),
    Entry("seed000_fig4_clusters", "000", "Figs. 4-7",
          "Each point denotes one user in the (f_1, f_2, f_3) preference simplex, and points with the same color "
          "belong to the same PREC cluster under oracle and noisy-label settings in HalfCheetah (Fig. 4; Ant, "
          "Hopper, Walker2d: Figs. 5-7).", _prec_keys(PREC_ENVS), _clusters, optional=_prec_keys(PREC_OPTIONAL_ENVS),
          deviations=("one picture per env: the teachers (oracle, noise1, noise2) as rows, K as columns, replicate 0",
                      "smoke: HalfCheetah only (Fig. 4); quick: Figs. 5-7 too when the Ant / Hopper / Walker2d runs "
                      "exist; all four at paper")),
    Entry("seed000_fig8_clusters_populations", "000", "Figs. 8-11", SEED000_FIG8, _prec_pop_keys(PREC_ENVS),
          _populations_prec_clusters, optional=_prec_pop_keys(PREC_OPTIONAL_ENVS),
          deviations=POPULATION_DEVIATIONS + ("one picture per env, one row per population, one column per K "
                                              "(replicate 0); smoke / quick: HalfCheetah only (Fig. 8)",)),
    Entry("seed000_fig8_clusters_populations_bandit", "000", "Figs. 8-11 (bandit twin)",
          "Figs. 8-11 on the bandit twin: each point one user on the (f_1, f_2, f_3) simplex coloured by its "
          "leaky-EM cluster, one row per population, one column per 1 < K < N (replicate 0).",
          _fixed("prec_bandit_populations"), _populations_bandit_clusters, deviations=POPULATION_DEVIATIONS[:1]),
    Entry("seed000_fig12_encoder_ablation", "000", "Fig. 12",
          "Ablation of the SPR-based population-level encoder in the HalfCheetah and Ant environments. We compare "
          "PREC with the SPR encoder and PREC without the SPR encoder across different numbers of representative "
          "policies.",
          _ablation_keys(PREC_ABLATION_ENVS), _fig12, optional=_ablation_keys(PREC_OPTIONAL_ABLATION_ENVS),
          deviations=("teacher noise2 (the seed does not name the teacher of Fig. 12)",
                      "smoke: HalfCheetah only; quick: Ant too when its two runs exist; both at paper")),
    Entry("seed000_table1_noise_levels", "000", "Table 1 (App. C.1)",
          "B-Pref-style label-noise levels used in our binary-feedback setting.", _fixed(), _table1_noise, kind="table"),
    Entry("seed000_table2_ppo", "000", "Table 2 (App. C.3)",
          "PPO hyperparameters used for policy optimization with learned reward models.",
          lambda p: ("prec:HalfCheetah-v5:noise2",), _table2_ppo, kind="table"),
    Entry("seed001_table1_mpi", "001", "Table 1 (sec. 5)",
          "Mean Reward Margins and Accuracies for Different Algorithms and User Types for MPI Dataset",
          _fixed("mpi"), _table1_mpi, kind="table",
          deviations=("tabular testbed with exact optimal policies instead of DPO fine-tuning of an LLM",
                      "each personality's row is the policy matched to it by user overlap (sec. 5 'Metrics': the "
                      "policy with the highest average reward margin on the group's evaluation data)",
                      "Cluster DPO with K = 3 k-means clusters (App. D.2: 2 sub-groups)",
                      "the 120-item MPI inventory (sec. 5: 990 phrases; EMDPOSettings(inventory='1k') reads the "
                      "1k file)")),
    Entry("seed001_table1_mpi_llm", "001", "Table 1 (sec. 5), on a language model",
          "Mean Reward Margins and Accuracies for Different Algorithms and User Types for MPI Dataset",
          _fixed("emdpo_llm_mpi_ternary", "emdpo_llm_mpi_binary"), _table1_mpi_llm, kind="table",
          deviations=LM_DEVIATIONS),
    Entry("seed001_table1_mpi_accuracy", "001", "Table 1 (sec. 5), as a figure",
          "Table 1's accuracies per personality (P1, P2, P3) for every method at binary and ternary feedback.",
          _fixed("mpi"), _mpi_fig),
    Entry("seed001_table2_goqa", "001", "Table 2 (sec. 5)",
          "Max Mean Reward Margins and Accuracies for Different Clustering Algorithms and User Types for Global "
          "Opinions Dataset", _fixed("emdpo_goqa_binary"), _table2_goqa, kind="table",
          optional=_fixed("emdpo_goqa_ternary"),
          deviations=("a small GPT-2 built here (quick: 2 layers x 128, a 2,000-token BPE) with K LoRA adapters, for "
                      "Mistral-7B v0.3 (Table 4); quick: RMSprop lr 1e-3 (printed 5e-7)",
                      "no question of the GlobalOpinionQA subset here is answered by all four countries: the paper's "
                      "four countries over the 75 questions at least two of them answered (each country 36-45)",
                      "one variant per question (the 10 GPT-4 rephrasings do not exist here): held-out users answer "
                      "the same question texts",
                      "quick: 150 training users x 8 questions and 100 held-out users (printed 1,500 x 32 and 400)",
                      "accuracy read as that of the max-mean-margin policy on the country's held-out pairs")),
    Entry("seed001_table3_regrets", "001", "Table 3 (sec. 5)", "Regret Values for Each Latent Sub-group Across Datasets",
          _fixed("mmra"), _table3_regrets, kind="table",
          deviations=("MPI only; 3 sub-groups (the true personalities) instead of K = 4 clusters",)),
    Entry("seed001_table3_regrets_llm", "001", "Table 3 (sec. 5), on a language model",
          "Regret Values for Each Latent Sub-group Across Datasets", _fixed("emdpo_llm_mmra"), _table3_regrets_llm,
          kind="table", deviations=LM_DEVIATIONS + (
              "MPI only; the K = 3 EM-DPO adapters of the ternary run are the sub-groups (printed: K = 4 clusters)",
              "quick: 25 DPO batches per MWU iteration (Table 5: 250); MWU eta 0.01 and 20 iterations as printed")),
    Entry("seed001_table3_max_regret", "001", "Table 3 (sec. 5), as a figure",
          "Table 3's max regret of every aggregation (MMRA-LW, original, AE; uniform; vanilla DPO).",
          _fixed("mmra"), _mmra_fig),
    Entry("seed001_sec4_identifiability", "001", "sec. 4 (Thms. on binary vs ternary identifiability)",
          "Latent-class logit recovery vs N for n = 2 and 3 options (the paper profile: n = 2..5), and for n = "
          "2..5 at the largest N: with binary comparisons the pair-symmetric part is not identified; with n >= 3 "
          "it is (seed 001 sec. 4; no printed figure).",
          _fixed("identifiability"), _ident_fig),
    Entry("seed001_fig2_margin_vs_K", "001", "Fig. 2 (App. D.3.1)",
          "Hyper-parameter Tuning Results. [D.3.1:] the reward margins either peak at k = 4 or increase only "
          "marginally for k > 4 across validation data from any of the component sub-groups for both datasets.",
          _fixed("mpi_k_sweep"), _margin_vs_K, optional=_fixed("emdpo_llm_k_sweep"),
          deviations=("tabular MPI testbed (exact optimal policies, 3 true groups) instead of Mistral-7B; MPI only "
                      "(GlobalOpinionQA needs the LM pipeline)",
                      "validation data of each group = every item pair strictly ranked by that group's reward on "
                      "every prompt (exact), not a sampled validation set",
                      "quick: 3 seeds, 2000 users; binary and ternary feedback side by side (the seed's figure "
                      "does not say which feedback its MPI curve used)",
                      "the language-model source is drawn beside the twin when results/emdpo-k-sweep/PROFILE/ "
                      "results.json exists")),
    Entry("seed002_fig5_simulation", "002", "Fig. 5 (b-d)",
          "(b) illustrates the performance of PAL on diverse preference datasets. (c) empirically highlights the "
          "importance of the number of samples per seen user and the number of prototypes in PAL. (d) demonstrates "
          "the sample efficiency of the PAL framework on unseen users. With as few as 40 samples, we can still "
          "achieve performance comparable to that of seen users.", _fixed("pal_sim"), _pal_sim,
          deviations=("quick: N / 5 seen users in (b)-(d) and 2 repeats (App. D.2 runs 'multiple trials', no number "
                      "printed; the paper profile's 5 is ours); epochs, grids and learning rates as printed; smoke "
                      "shrinks everything (the study's DEVIATIONS)",)),
    Entry("seed002_figD1_D2_ideal_points", "002", "Fig. 5 (a), Figs. D.1 / D.2",
          "In synthetic dataset experiments (Section 4.2), we model user ideal points in two distinct ways: the "
          "partition model and the mixture model. [...] we set d = 2, K^* = 3, K = {1, 2, 3} and N = 100.",
          _fixed("pal_sim"), _pal_d2,
          deviations=("Fig. D.2's items are not drawn (the pictures show ideal points and prototypes; the items are "
                      "drawn N(0, I/d))",)),
    Entry("seed002_d5_persona", "002", "Figs. D.5 / D.6 (App. D.4)",
          "Seen accuracy and unseen accuracy evaluated on the heterogeneous persona dataset across the number of "
          "prototypes K used in PAL-A-Tiny (D.5) / PAL-B-Tiny (D.6).", _fixed("pal_persona"), _pal_persona,
          deviations=("MiniLM (all-MiniLM-L6-v2) sentence embeddings of the shipped persona statements",
                      "quick: N = 1 seen and 1 unseen user per persona group (App. D.4: 10,000) and 2 repeats "
                      "(five); every grid as printed; smoke: a subset of K*, n_p and seeds")),
    Entry("seed002_fig2_length_params", "002", "Fig. 2 (sec. 3.1), on the length task",
          "On Reddit TL;DR, PAL is accuracy-compute optimal and shows state-of-the-art (SoTA) performance.",
          _fixed("pal_length"), _pal_length_params,
          deviations=("Reddit TL;DR is not on these machines: App. D.3's construction (majority prefers the longer "
                      "response, minority the shorter; unseen users 70 / 30) on the shipped persona statements",
                      "MiniLM for both Tiny (frozen, cached) and Large (fine-tuned) instead of the paper's encoders",
                      "quick: 40 pairs per seen user (printed >= 1,000), 2 epochs at 10x Table 4's rates")),
    Entry("seed002_fig3_length_unseen", "002", "Fig. 3 (sec. 3.1), on the length task",
          "On Reddit TL;DR, PAL generalizes well to unseen data using just 20 samples per unseen user (few-shot).",
          _fixed("pal_length"), _pal_length_fewshot,
          deviations=("persona-statement length task for TL;DR (see Fig. 2's entry)",
                      "unseen users' weights start uniform (printed: a random draw) and are fitted to convergence")),
    Entry("seed002_tables135_length", "002", "Tables 1, 3, 5 (sec. 3.1), on the length task",
          "Seen and unseen accuracy and trainable parameters of PAL and the baselines on the length-preference "
          "task (printed: Reddit TL;DR).", _fixed("pal_length"), _pal_length_table, kind="table"),
    Entry("seed002_bounds", "002", "sec. 4.1 / App. C (Thm. 2 vs Prop. C.4)",
          "The empirical per-user sample size to a target excess risk of PAL (shared prototypes, fit w) against "
          "free ideal points, as D and K grow, beside the bounds' scaling (no printed figure).",
          _fixed("pal_bounds"), _pal_bounds,
          deviations=("the shared part is known (the many-seen-users limit); the bound curves are Thm. 2's per-user "
                      "term (Lemma C.9) and the whole Prop. C.4 at N = 100, both at zeta_M = D, zeta_v = sqrt(D) "
                      "(sec. 4.1)",)),
    Entry("seed004_centroid", "004", "the centroid note; seed 003 personalization / aggregation",
          "A single reward model trained on everyone's combined preferences ends up serving no one well when users "
          "genuinely disagree: the centroid (minority / majority welfare vs split), with per-user vs clustered "
          "models as labels grow (seed 003: 'More personalized models reduce bias but increase variance'), "
          "social-choice rules and the misreport search.",
          _fixed("aggregation"), _aggregation),
    Entry("seed003_mechanism_table", "003", "Park et al. (summary): mechanism design",
          "Mechanism design approach ensures truthful preference reporting even when users are strategic.",
          _fixed("aggregation"), _mechanism_table, kind="table"),
)
"""Every seed figure and table reproduced here, in report order."""


NOT_REPRODUCED: tuple[NotReproduced, ...] = (
    NotReproduced("000", "Figs. 2, 3 and 4-11 (Ant, Hopper, Walker2d), Fig. 12 (Ant) at smoke / quick",
                  "the other MuJoCo envs",
                  "figures make runs them only at paper; at quick they are drawn when their runs exist (each env x "
                  "teacher or population is a separate 15-30 min `pluralign prec run --env ENV`), at smoke never"),
    NotReproduced("000", "Fig. 3 and Figs. 8-11 at smoke / quick (HalfCheetah)", "the MuJoCo population runs",
                  "drawn only when the MuJoCo run of each population exists (`pluralign prec run --population ...`, "
                  "15-30 min each at quick); figures make only reads them (the bandit twin is drawn meanwhile)"),
    NotReproduced("000", "Fig. 1", "PREC overview diagram", "a diagram, not a result"),
    NotReproduced("001", "Table 3, Global Opinions columns", "MMRA regrets on GlobalOpinionQA",
                  "`pluralign emdpo mmra` reads MPI runs only; Table 2 (seed001_table2_goqa) is drawn from the "
                  "GlobalOpinionQA language-model runs"),
    NotReproduced("001", "Fig. 2 on a language model (and on GlobalOpinionQA)", "reward margin vs K on Mistral-7B",
                  "Mistral-7B is not here; seed001_fig2_margin_vs_K draws the small LM beside the twin once "
                  "results/emdpo-k-sweep/PROFILE/results.json exists"),
    NotReproduced("001", "Tables 4-5", "EM-DPO / MMRA-LW hyperparameters of the LLM runs",
                  "settings of the LM pipeline, issue 16 (no tabular counterpart)"),
    NotReproduced("002", "Figs. 2, 3, D.3; Tables 1, 3-6 on Reddit TL;DR", "Reddit TL;DR",
                  "no Reddit TL;DR data on these machines: Figs. 2-3 and Tables 1/3/5 are drawn on App. D.3's "
                  "length construction over the shipped persona statements instead (seed002_fig2_length_params, "
                  "seed002_fig3_length_unseen, seed002_tables135_length); Fig. D.3, Tables 4 and 6 are not"),
    NotReproduced("002", "Table 2", "Pick-a-Pic v2", "no Pick-a-Pic data on these machines"),
    NotReproduced("002", "Fig. 4, Table 8, Fig. D.7", "Pick-a-Filter", "no Pick-a-Pic / Pick-a-Filter data on these machines"),
    NotReproduced("002", "Table 7, Figs. 1, A.1, A.2, D.4", "persona list, diagrams, an example query",
                  "not results (the personas ship with the persona study)"),
)


def by_name(name: str) -> Entry:
    for e in ENTRIES:
        if e.name == name:
            return e
    raise ValueError(f"figure: no figure named {name!r}; one of {', '.join(e.name for e in ENTRIES)} or 'all'")
