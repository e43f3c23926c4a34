"""`pluralign figures`: every registered figure and table is made at the smoke profile, the report is
written, a re-run only draws, and (marker ``browser``) the page loads in headless Chromium."""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.paper_figures import registry as reg
from pluralign.paper_figures.report import SEED_TITLES

runner = CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """`figures make all --profile smoke` into a temporary folder (studies run once per module)."""
    root = tmp_path_factory.mktemp("figs")
    res = runner.invoke(app, ["figures", "make", "all", "--profile", "smoke", "--results", str(root / "results"),
                              "--out", str(root / "figures"), "--no-progress"])
    assert res.exit_code == 0, res.output
    return root, res.output


def test_registry_names_are_unique_and_cover_every_seed():
    names = [e.name for e in reg.ENTRIES]
    assert len(names) == len(set(names))
    assert {e.seed_paper for e in reg.ENTRIES} == set(SEED_TITLES)
    for e in reg.ENTRIES:
        assert e.name.startswith(f"seed{e.seed_paper}_") and e.caption and e.source
        for k in e.study_keys("smoke"):
            assert k in reg.STUDIES
    whys = " ".join(n.what + n.reason for n in reg.NOT_REPRODUCED)
    for dataset in ("Reddit TL;DR", "Pick-a-Pic", "Pick-a-Filter", "GlobalOpinionQA"):
        assert dataset in whys


def test_make_all_smoke_writes_every_figure_and_the_report(made):
    import matplotlib.image as mpimg

    root, _ = made
    out = root / "figures"
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["entries"]) == {e.name for e in reg.ENTRIES}
    for name, rec in manifest["entries"].items():
        assert "error" not in rec, (name, rec.get("error"))
        if "skipped" in rec:  # a missing optional extra, or results made elsewhere, and then said so
            assert "pip install" in rec["skipped"] or reg.RUN_FIRST in rec["skipped"], (name, rec["skipped"])
            continue
        assert rec["files"], name
        for f in rec["files"]:
            p = out / f
            assert p.exists() and p.stat().st_size > 0, p
            if rec["kind"] == "figure":
                img = mpimg.imread(p)
                assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50, p
                assert p.with_suffix(".pdf").stat().st_size > 0
    page = (out / "index.html").read_text()
    md = (out / "report.md").read_text()
    assert "http" not in page.replace("http-equiv", "")  # no network
    for text in (page, md):
        assert "Theory check" in text and "profile smoke" in text
        assert text.index("Theory check") < text.index(SEED_TITLES["000"])
        for title in SEED_TITLES.values():
            assert title in text
        for n in reg.NOT_REPRODUCED:
            assert (n.reason if text is md else html.escape(n.reason)) in text
    # the printed numbers beside ours
    assert "0.977" in md and "3.44" in md and "1.5M" in md


def test_rerun_only_draws(made):
    root, _ = made
    before = {p: p.stat().st_mtime_ns for p in (root / "results").rglob("results.json")}
    res = runner.invoke(app, ["figures", "make", "all", "--profile", "smoke", "--results", str(root / "results"),
                              "--out", str(root / "figures"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "running " not in res.output
    assert before == {p: p.stat().st_mtime_ns for p in (root / "results").rglob("results.json")}


def test_list_and_bad_name(made):
    root, _ = made
    res = runner.invoke(app, ["figures", "list", "--profile", "smoke", "--results", str(root / "results")])
    assert res.exit_code == 0, res.output
    for e in reg.ENTRIES:
        assert e.name in res.output
    assert "not reproduced here" in res.output and "Reddit TL;DR" in res.output
    res = runner.invoke(app, ["figures", "make", "nope", "--profile", "smoke", "--results", str(root / "results")])
    assert res.exit_code != 0 and "no figure named 'nope'" in res.output


CHROMIUM = os.environ.get("PLURALIGN_CHROMIUM", "/usr/bin/chromium")

_CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.getAttribute('src'); });
  var out = document.createElement('pre'); out.id = 'check';
  out.textContent = JSON.stringify({images: imgs.length, broken: bad, seeds: document.querySelectorAll('section.seed').length});
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.browser
def test_report_loads_in_headless_chromium(made, tmp_path):
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (.ci/run does)")
    root, _ = made
    out = root / "figures"
    # a copy of the page with a check script beside the real one (the report itself carries no script)
    probe = out / "_probe.html"
    probe.write_text((out / "index.html").read_text().replace("</body>", _CHECK + "</body>"))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]
    try:
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    finally:
        probe.unlink()
    start = dom.index('<pre id="check">') + len('<pre id="check">')
    check = json.loads(dom[start:dom.index("</pre>", start)].replace("&quot;", '"'))
    n_figs = sum(len(r.get("files", [])) for r in json.loads((out / "manifest.json").read_text())["entries"].values()
                 if r["kind"] == "figure")
    assert check["images"] == n_figs > 0
    assert check["broken"] == []
    assert check["seeds"] == len(SEED_TITLES)


def test_population_runs_are_read_not_run(made):
    """The MuJoCo Fig. 3 / Figs. 8-11 runs are never started by `figures make`: skipped, naming the command."""
    root, _ = made
    manifest = json.loads((root / "figures" / "manifest.json").read_text())
    for name in ("seed000_fig3_populations", "seed000_fig8_clusters_populations"):
        why = manifest["entries"][name]["skipped"]
        assert "pluralign prec run --env HalfCheetah-v5 --noise oracle --population bimodal" in why
        assert "--out results/prec/smoke/HalfCheetah-v5_oracle_pop-bimodal" in why and "{profile}" not in why
    assert not list((root / "results").glob("prec/smoke/*_pop-*"))


def _fake_prec_results(env: str, pop: str, seed: int = 0, N: int = 12) -> dict:
    """A PREC results.json (the keys pluralign.experiments.prec.pipeline.summarize writes) for one population,
    with the users the pipeline would draw (make_population(pop, N, derive(seed, r, "users")))."""
    from pluralign.prec.labelers import make_population
    from pluralign.seeding import derive

    pop_ = make_population(pop, N, derive(seed, 0, "users"))
    stat = {"mean": 5.0, "sem": 0.2, "n_seeds": 2}
    Ks = [1, 2, 3]
    cells = [{"key": f"K={K}", "K": K, "replicate": 0, "weights": pop_.weights.tolist(),
              "assignment": (pop_.mode % K).tolist(), "policy_phi": {str(k): [0.5, 0.2, 0.3] for k in range(K)},
              "ari_vs_modes": 0.5} for K in Ks]
    return {"env": env, "noise": "oracle", "profile": "smoke", "seed": seed, "replicates": [0, 1], "Ks": Ks,
            "use_encoder": True, "population": pop, "cells": cells,
            "table": {str(K): {m: stat for m in ("utilitarian", "egalitarian", "nash", "train_seconds")} for K in Ks}}


def _with_references(res: dict, level: float = 0.25) -> dict:
    """``res`` with reference policies (pluralign.experiments.prec.pipeline.REFERENCES) at welfare ``level`` +
    0, 0.1, 0.2, 0.3."""
    keys = ("utilitarian", "egalitarian", "nash", "env_return", "x_velocity", "episode_len", "true_mean_return",
            "train_seconds")
    names = ("initial", "random", "true_mean_reward", "env_reward")
    return {**res, "references": {n: {k: {"mean": level + 0.1 * i, "sem": 0.0, "n_seeds": 2} for k in keys}
                                  for i, n in enumerate(names)}}


def test_reference_lines_draw_the_runs_reference_policies():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pluralign.paper_figures.populations import prec_fig3_baselines
    from pluralign.paper_figures.prec import reference_lines

    env = "Hopper-v5"
    with_refs, without = _with_references(_fake_prec_results(env, "polarized")), _fake_prec_results(env, "broad")
    fig, (a, b) = plt.subplots(1, 2)
    reference_lines(a, with_refs, "nash")
    reference_lines(b, without, "nash")
    # initial, random and the true-mean-reward PPO; not the env-reward PPO (another objective)
    assert sorted(round(float(line.get_ydata()[0]), 6) for line in a.lines) == [0.25, 0.35, 0.45]
    assert len(b.lines) == 0
    plt.close(fig)
    assert prec_fig3_baselines({(env, "polarized"): with_refs, (env, "broad"): without}) == {
        env: {"polarized": with_refs["references"]["initial"]}}


def test_mujoco_population_figures_draw_from_results_files_only(tmp_path):
    """Results written where the registry reads them (results/prec/<profile>/<env>_oracle[_pop-<p>]) are drawn
    by `figures make ... --no-run` (Fig. 3: the top row coloured by the redrawn Dirichlet modes)."""
    from pluralign.paper_figures.populations import prec_fig3
    from pluralign.runs import write_json

    root = tmp_path / "results"
    env = "HalfCheetah-v5"
    for pop in reg.PREC_POPULATIONS:
        study = reg.STUDIES[f"prec:{env}:oracle:pop={pop}"]
        write_json(reg.results_dir(study, "smoke", root) / "results.json", _with_references(_fake_prec_results(env, pop)))
    assert (root / "prec" / "smoke" / f"{env}_oracle" / "results.json").exists()  # trimodal = Fig. 2's oracle run
    for name in ("seed000_fig3_populations", "seed000_fig8_clusters_populations"):
        res = runner.invoke(app, ["figures", "make", name, "--profile", "smoke", "--results", str(root), "--no-run",
                                  "--out", str(tmp_path / "figs"), "--no-progress"])
        assert res.exit_code == 0 and "drew 1/1" in res.output, res.output
    assert (tmp_path / "figs" / "seed000_fig3_populations.png").stat().st_size > 1000
    assert (tmp_path / "figs" / f"seed000_fig8_clusters_populations_{env}.png").stat().st_size > 1000
    users, rows = prec_fig3({(env, p): _fake_prec_results(env, p) for p in reg.PREC_POPULATIONS})
    assert list(rows) == [env] and list(rows[env]) == list(reg.PREC_POPULATIONS)
    assert len(set(users["polarized"]["mode"])) == 3 and set(users["broad"]["mode"]) == {0}
    wrong = _fake_prec_results(env, "polarized")
    wrong["cells"][0]["weights"][0] = [1 / 3, 1 / 3, 1 / 3]  # not the pipeline's draw: no modes claimed
    assert set(prec_fig3({(env, "polarized"): wrong})[0]["polarized"]["mode"]) == {0}
    with pytest.raises(ValueError, match="population 'broad', expected 'polarized'"):
        prec_fig3({(env, "polarized"): _fake_prec_results(env, "broad")})


def test_no_run_skips_missing_results_naming_the_command(tmp_path):
    res = runner.invoke(app, ["figures", "make", "seed001_fig2_margin_vs_K", "--profile", "smoke", "--no-run",
                              "--results", str(tmp_path / "r"), "--out", str(tmp_path / "f"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "skipped seed001_fig2_margin_vs_K" in res.output
    assert "pluralign figures make seed001_fig2_margin_vs_K --profile smoke" in res.output
    assert not (tmp_path / "r" / "sims-mpi-k-sweep").exists()


def test_margin_vs_K_names_its_source(tmp_path, made):
    """Seed 001 Fig. 2: one script for the tabular twin and the LM pipeline; the source is in the title, and
    the LM pipeline's K sweep (results/emdpo-k-sweep/<profile>) is drawn beside the twin when present."""
    from pluralign.paper_figures import mpi_k_sweep
    from pluralign.runs import read_json, write_json

    root, _ = made
    twin = read_json(root / "results" / "sims-mpi-k-sweep" / "smoke" / "results.json")
    assert mpi_k_sweep.source_of(twin) == "tabular twin"
    assert "Source: tabular twin" in mpi_k_sweep.title(twin, "smoke")
    lm = dict(twin, source="language model (GPT-2 stand-in)")
    assert "Source: language model (GPT-2 stand-in)" in mpi_k_sweep.title(lm, "smoke")
    with pytest.raises(ValueError, match="no K sweep"):
        mpi_k_sweep.margin_vs_K({"summary": {"n=3": {"em_dpo": {}}}}, tmp_path / "x.png")
    # the LM sweep is drawn with its printed metric and the accuracy of that same margin-best policy
    row = {"P1_max_mean_margin_mean": 0.3, "P1_max_mean_margin_sem": 0.01, "P1_heldout_accuracy_mean": 0.7,
           "P1_heldout_accuracy_sem": 0.02, "P1_reward_margin_mean": 0.1, "P1_reward_margin_sem": 0.0,
           "P1_accuracy_mean": 0.4, "P1_accuracy_sem": 0.0}
    drawn = mpi_k_sweep.sweep_rows({"k_sweep": {"n=3": {"K=1": row}}})["n=3"]["K=1"]
    assert (drawn["P1_reward_margin_mean"], drawn["P1_accuracy_mean"], drawn["P1_accuracy_sem"]) == (0.3, 0.7, 0.02)
    assert mpi_k_sweep.sweep_rows(twin) == twin["summary"]  # the twin's rows are drawn as they are
    results = tmp_path / "results"
    shutil.copytree(root / "results", results)
    write_json(reg.results_dir(reg.STUDIES["emdpo_llm_k_sweep"], "smoke", results) / "results.json", lm)
    res = runner.invoke(app, ["figures", "make", "seed001_fig2_margin_vs_K", "--profile", "smoke", "--no-run",
                              "--results", str(results), "--out", str(tmp_path / "f"), "--no-progress"])
    assert res.exit_code == 0 and "drew 1/1" in res.output, res.output
    rec = json.loads((tmp_path / "f" / "manifest.json").read_text())["entries"]["seed001_fig2_margin_vs_K"]
    assert rec["files"] == ["seed001_fig2_margin_vs_K.png", "seed001_fig2_margin_vs_K_llm.png"]
    assert "emdpo_llm_k_sweep" in rec["studies"]


def _fake_goqa_results(n: int, source: str = "language model (GPT-2 stand-in)") -> dict:
    """A GlobalOpinionQA results.json whose summary is written by the study's own summarize (so its keys are
    the study's), one K = 4 cell with invented metrics."""
    from pluralign.experiments.emdpo_llm import study

    names = study.TYPE_NAMES["goqa"]
    metrics = {m: {"ari": 0.5, **{t: {"accuracy": 0.6, "reward_margin": 0.1, "max_mean_margin": 0.25 + 0.01 * i,
                                      "heldout_accuracy": 0.625} for i, t in enumerate(names)}}
               for m in study.METHODS}
    cells = [{"key": "k", "config": {"n_options": n, "K": 4}, "metrics": metrics}]
    return {"source": source, **study.summarize(cells, names)}


def test_table2_goqa_is_read_not_run_and_drawn_beside_the_printed_table(tmp_path, made):
    """Seed 001 Table 2: skipped (naming the LM command) without the GlobalOpinionQA run's results; drawn with
    the printed numbers beside ours from results/emdpo-goqa-binary/<profile> (ternary rows when present)."""
    from pluralign.runs import write_json

    root, _ = made
    rec = json.loads((root / "figures" / "manifest.json").read_text())["entries"]["seed001_table2_goqa"]
    assert "pluralign emdpo run --dataset goqa --feedback binary --profile smoke" in rec["skipped"]
    assert "--out results/emdpo-goqa-binary/smoke" in rec["skipped"] and "{profile}" not in rec["skipped"]
    assert not (root / "results" / "emdpo-goqa-binary").exists()
    results = tmp_path / "results"
    write_json(reg.results_dir(reg.STUDIES["emdpo_goqa_binary"], "smoke", results) / "results.json",
               _fake_goqa_results(2))
    args = ["figures", "make", "seed001_table2_goqa", "--profile", "smoke", "--no-run", "--results", str(results),
            "--no-progress"]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "f")])
    assert res.exit_code == 0 and "drew 1/1" in res.output, res.output
    md = (tmp_path / "f" / "seed001_table2_goqa.md").read_text()
    for printed in ("0.853", "1.617", "0.779", "0.613"):  # Table 2 as printed
        assert printed in md
    assert "| 0.280 |" in md and "| 0.625 |" in md and "(ternary)" not in md  # ours: PK margin, accuracy
    assert "± 0.000" not in md  # one seed: the mean alone, never an s.e.m. of 0
    write_json(reg.results_dir(reg.STUDIES["emdpo_goqa_ternary"], "smoke", results) / "results.json",
               _fake_goqa_results(3))
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "g" / "seed001_table2_goqa.md").read_text()
    assert md.count("(ternary)") == 4 and md.count("(binary)") == 4


def _fake_mpi_lm_results(n: int, reps: int = 2, acc: float = 0.5) -> dict:
    """An MPI language-model results.json (the study's own summarize) with ``reps`` replicates of one K = 3 cell
    (replicate r's accuracies ``acc + 0.1 r``)."""
    from pluralign.experiments.emdpo_llm import study

    names = study.TYPE_NAMES["mpi"]
    cells = [{"key": f"r{r}", "config": {"n_options": n, "K": 3},
              "metrics": {m: {"ari": 0.1, **{t: {"accuracy": acc + 0.1 * r, "reward_margin": 0.2, "regret": 1.0,
                                                 "max_mean_margin": 0.3, "heldout_accuracy": 0.6} for t in names}}
                          for m in study.METHODS}} for r in range(reps)]
    return {"source": "language model (GPT-2 stand-in)", **study.summarize(cells, names)}


def test_lm_tables_1_and_3_are_read_not_run_and_drawn_beside_the_printed_tables(tmp_path, made):
    """Seed 001 Tables 1 and 3 on the language model: skipped (naming the LM commands) without its runs; drawn
    from results/emdpo-mpi-{ternary,binary}/<profile> and results/emdpo-mmra/<profile> beside the printed values."""
    from pluralign.runs import mean_sem, write_json

    root, _ = made
    entries = json.loads((root / "figures" / "manifest.json").read_text())["entries"]
    assert "pluralign emdpo run --dataset mpi --feedback ternary --n-seeds 3 --profile smoke" in entries["seed001_table1_mpi_llm"]["skipped"]
    assert "pluralign emdpo mmra --run results/emdpo-mpi-ternary/smoke" in entries["seed001_table3_regrets_llm"]["skipped"]
    assert not (root / "results" / "emdpo-mpi-ternary").exists() and not (root / "results" / "emdpo-mmra").exists()
    results = tmp_path / "results"
    for fb, n, acc in (("ternary", 3, 0.5), ("binary", 2, 0.3)):
        write_json(reg.results_dir(reg.STUDIES[f"emdpo_llm_mpi_{fb}"], "smoke", results) / "results.json",
                   _fake_mpi_lm_results(n, acc=acc))
    maxes = {"mmra_lw": [1.7, 1.9], "mmra_ae": [1.3, 1.5], "uniform": [2.0, 2.2], "vanilla_dpo": [2.9, 3.1]}
    summary = {"n_seeds": 2}
    for row, v in maxes.items():
        ms = mean_sem(v)
        summary[f"{row}_max_regret_mean"], summary[f"{row}_max_regret_sem"] = ms["mean"], ms["sem"]
    write_json(reg.results_dir(reg.STUDIES["emdpo_llm_mmra"], "smoke", results) / "results.json",
               {"source": "language model (GPT-2 stand-in)", "summary": summary,
                "cells": [{"metrics": {"max_regret": {row: v[r] for row, v in maxes.items()}}} for r in range(2)]})
    res = runner.invoke(app, ["figures", "make", "seed001_table1_mpi_llm", "--profile", "smoke", "--no-run",
                              "--results", str(results), "--out", str(tmp_path / "f"), "--no-progress"])
    assert res.exit_code == 0 and "drew 1/1" in res.output, res.output
    md = (tmp_path / "f" / "seed001_table1_mpi_llm.md").read_text()
    for printed in ("0.977", "0.584", "0.515", "0.666"):  # Table 1 as printed
        assert printed in md
    assert "0.550 ± 0.050" in md and "GPT-2 stand-in" in md  # mean ± s.e.m. of accuracies .5 / .6
    lines = md.splitlines()
    acc = {name: lines[i + 1] for i, line in enumerate(lines) for name in ("EMDPO Ternary", "EMDPO Binary")
           if line.startswith(f"| {name} |")}  # each method's accuracy row follows its margin row
    assert acc["EMDPO Ternary"].count("0.550 ± 0.050") == 3  # P1-P3 from the ternary run
    assert acc["EMDPO Binary"].count("0.350 ± 0.050") == 3  # from the binary run, not the ternary one
    res = runner.invoke(app, ["figures", "make", "seed001_table3_regrets_llm", "--profile", "smoke", "--no-run",
                              "--results", str(results), "--out", str(tmp_path / "f"), "--no-progress"])
    assert res.exit_code == 0 and "drew 1/1" in res.output, res.output
    md = (tmp_path / "f" / "seed001_table3_regrets_llm.md").read_text()
    assert "| MMRA-LW | 3.44 | 1.80 ± 0.10 | 1.70 / 1.90 |" in md
    assert "| MMRA-AE | — | 1.40 ± 0.10 | 1.30 / 1.50 |" in md and "| Vanilla DPO | 4.14 |" in md


def test_medium_profile_draws_the_prec_runs_that_exist_and_skips_the_rest(tmp_path):
    """`figures make all --profile medium`: the MuJoCo PREC entries draw whatever medium runs exist (here
    HalfCheetah noise2 alone), the others are skipped naming why, and nothing is run."""
    from pluralign.runs import write_json

    root, out, env = tmp_path / "results", tmp_path / "figs", "HalfCheetah-v5"
    study = reg.STUDIES[f"prec:{env}:noise2"]
    fake = {**_with_references(_fake_prec_results(env, reg.PREC_DEFAULT_POPULATION)), "noise": "noise2",
            "profile": "medium"}
    write_json(reg.results_dir(study, "medium", root) / "results.json", fake)
    res = runner.invoke(app, ["figures", "make", "all", "--profile", "medium", "--results", str(root), "--no-run",
                              "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    entries = json.loads((out / "manifest.json").read_text())["entries"]
    for name in ("seed000_fig2_welfare_vs_K", "seed000_fig4_clusters"):
        assert entries[name]["studies"] == [f"prec:{env}:noise2"] and entries[name]["files"], (name, entries[name])
    assert "no medium profile" in entries["seed001_table1_mpi"]["skipped"]
    why = entries["seed000_fig3_populations"]["skipped"]
    assert "no results at profile medium" in why and "--profile medium" in why
    why = entries["seed000_fig12_encoder_ablation"]["skipped"]  # the encoder run alone is no ablation
    assert "no environment has both runs at profile medium" in why
    assert "has no medium profile" in (out / "report.md").read_text()  # the theory check
    assert sorted(p.name for p in root.iterdir()) == ["prec"]  # nothing was run
    listed = runner.invoke(app, ["figures", "list", "--profile", "medium", "--results", str(root)])
    assert listed.exit_code == 0 and "1 optional run(s) present" in listed.output, listed.output
    bad = runner.invoke(app, ["figures", "list", "--profile", "huge"])
    assert bad.exit_code != 0 and "must be one of smoke, quick, medium, paper" in bad.output
