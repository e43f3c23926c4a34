"""GlobalOpinionQA on the language-model EM-DPO pipeline (seed 001 Table 2): the loader, the country
design and sampler, and `pluralign emdpo run --dataset goqa` at smoke.  Every test but one runs on a tiny
invented fixture in the file's json schema (GlobalOpinionQA itself is never shipped or copied here); the
one that reads the real file skips when it is absent."""

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.datasets import GOQA_FILE, load_globalopinionqa
from pluralign.experiments.emdpo_llm import study
from pluralign.experiments.emdpo_llm.goqa import (COUNTRIES, DESIGN_DEVIATIONS, goqa_design,
                                                  shared_question_counts)
from pluralign.runs import Profile, settings_for
from pluralign.seeding import derive
from pluralign.testing import check_study_resumes

runner = CliRunner()
BR, IN, MX, PK = COUNTRIES

# invented questions and shares (the file's schema: question, options, attribute, gold_distribution, ...)
FIXTURE = [
    ("Is tea better than coffee?", ["Yes", "No", "Unsure"], {BR: [.7, .2, .1], IN: [.2, .7, .1], MX: [.1, .1, .8]}),
    ("Should parks open at night?", ["Agree", "Disagree"], {BR: [.9, .1], PK: [.2, .8]}),
    ("How often do you cook?", ["Daily", "Weekly", "Rarely", "Never"],
     {IN: [.5, .3, .2, 0.0], MX: [.1, .2, .3, .4], PK: [.4, .4, .1, .1]}),
    ("Do you like trains?", ["Very much", "Somewhat", "Not at all"], {BR: [.3, .3, .4], PK: [.6, .3, .1]}),
    ("Is the weather important?", ["Yes", "No"], {IN: [.8, .2], MX: [.3, .7], BR: [.5, .5]}),
    ("Should schools teach music?", ["Strongly agree", "Agree", "Disagree"],
     {MX: [.6, .3, .1], PK: [.1, .3, .6], IN: [.3, .3, .4]}),
    ("Only one country answers this?", ["A", "B"], {BR: [.5, .5]}),
    ("Another country's question?", ["Up", "Down"], {"Atlantis": [.5, .5], BR: [.4, .6]}),
]


def write_fixture(folder: Path, records=FIXTURE) -> Path:
    rows, i = [], 0
    for q, opts, by_c in records:
        text = f"Question: {q}\nOptions: " + " ".join(f"{'ABCDE'[j]}. {o}" for j, o in enumerate(opts)) + "\nAnswer:"
        for c, d in by_c.items():
            rows.append({"question": text, "options": opts, "attribute": c, "gold_distribution": d,
                         "pred_distribution": None, "id": i})
            i += 1
    folder.mkdir(parents=True, exist_ok=True)
    (folder / GOQA_FILE).write_text(json.dumps(rows))
    return folder


@pytest.fixture(scope="module")
def goqa_dir(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("goqa"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("goqa_cache")


def test_loader_reads_the_schema(goqa_dir):
    recs = load_globalopinionqa(goqa_dir)
    assert len(recs) == sum(len(r[2]) for r in FIXTURE)
    r = recs[0]
    assert r.country == BR and r.options == ("Yes", "No", "Unsure") and r.distribution == pytest.approx((.7, .2, .1))
    assert load_globalopinionqa(goqa_dir / GOQA_FILE) == recs  # the file itself works too


@pytest.mark.parametrize("edit, message", [
    (lambda r: r[0].update(gold_distribution=[.5, .2, .1]), "sums to"),
    (lambda r: r[0].update(gold_distribution=[.7, .3]), "gold_distribution"),
    (lambda r: r[0].update(options=["Yes", "yes", "No"]), "twice"),
    (lambda r: r[0].pop("attribute"), "expected keys"),
    (lambda r: r.append(dict(r[0])), "already given"),
])
def test_loader_rejects_bad_records(tmp_path, goqa_dir, edit, message):
    rows = json.loads((goqa_dir / GOQA_FILE).read_text())
    edit(rows)
    (tmp_path / GOQA_FILE).write_text(json.dumps(rows))
    with pytest.raises(ValueError, match=message):
        load_globalopinionqa(tmp_path)


def test_missing_file_names_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("PLURALIGN_GLOBALOPINIONQA_DIR", raising=False)
    monkeypatch.delenv("PLURALIGN_DATA", raising=False)
    with pytest.raises(ValueError, match="PLURALIGN_GLOBALOPINIONQA_DIR.*" + GOQA_FILE):
        load_globalopinionqa()
    with pytest.raises(ValueError, match=f"{GOQA_FILE} not found.*PLURALIGN_GLOBALOPINIONQA_DIR"):
        load_globalopinionqa(tmp_path)  # a folder without the file


def test_design_keeps_the_questions_two_of_the_countries_answered(goqa_dir):
    recs = load_globalopinionqa(goqa_dir)
    d = goqa_design(recs)
    assert len(d.prompts) == 6 and all("Only one" not in p and "Another" not in p for p in d.prompts)
    assert d.answered.sum(axis=1).tolist() == [4, 4, 4, 4]
    assert (d.answered.sum(axis=0) >= 2).all()
    np.testing.assert_allclose(d.dist.sum(axis=2)[d.answered], 1.0)
    assert shared_question_counts(recs)[f"{BR}+{IN}+{MX}+{PK}"] == 0
    assert shared_question_counts(recs)[f"{BR}+{IN}"] == 2
    assert d.responses.count("Yes") == 1  # one response id per distinct option text
    with pytest.raises(ValueError, match="countries"):
        goqa_design(recs, countries=(BR, "Narnia"), probs=(.5, .5))


def test_sampler_draws_the_printed_process(goqa_dir):
    """chosen ~ the country's shares, then the rejected uniform among the other options; so given the shown
    set S, P(a chosen | S) = p_a / sum_S p (the k-wise logit of log p), for binary and ternary."""
    d = goqa_design(load_globalopinionqa(goqa_dir))
    N = 20000
    for n in (2, 3):
        s = d.sample(N, 4, n, derive(0, "goqa-test", n))
        ch = s.choices
        user_types = s.types[ch.user]
        assert np.allclose(np.bincount(s.types, minlength=4) / N, d.probs, atol=0.015)
        for i in range(0, 40, 4):  # each user: distinct questions its country answered
            qs = ch.context[i:i + 4]
            assert len(set(qs.tolist())) == 4 and d.answered[s.types[i // 4], qs].all()
        assert (ch.mask.sum(axis=1) == np.minimum(d.n_options[ch.context], n)).all()
        win = ch.options[np.arange(len(ch.chosen)), ch.chosen]
        # marginal of the chosen option = the country's shares (Britain, question 0: .7 / .2 / .1)
        sel = (user_types == 0) & (ch.context == 0)
        freq = np.array([(win[sel] == d.options[0, j]).mean() for j in range(3)])
        np.testing.assert_allclose(freq, [.7, .2, .1], atol=4 * np.sqrt(.25 / sel.sum()))
        # a zero-share option is never chosen (Indonesia, question 2, "Never")
        never = d.options[2, 3]
        assert not (win[(user_types == 1) & (ch.context == 2)] == never).any()
        # the rejected options are uniform among the rest: Mexico, question 2 (4 options)
        sel = (user_types == 2) & (ch.context == 2)
        shown = np.stack([((ch.options[sel] == d.options[2, j]) & ch.mask[sel]).any(axis=1) for j in range(4)])
        p = d.dist[2, 2, :4]
        expect = p + (1 - p) * (n - 1) / 3  # shown = chosen, or among the n - 1 of the 3 others
        np.testing.assert_allclose(shown.mean(axis=1), expect, atol=4 * np.sqrt(.25 / sel.sum()))
    with pytest.raises(ValueError, match="per_user"):
        d.sample(5, 5, 2, derive(0, "x"))


def test_cli_goqa_smoke_runs_the_pipeline_and_resumes(tmp_path, goqa_dir, cache):
    out = tmp_path / "run"
    args = ["emdpo", "run", "--dataset", "goqa", "--feedback", "binary", "--profile", "smoke", "--seed", "1",
            "--out", str(out), "--cache-dir", str(cache), "--data-dir", str(goqa_dir)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "BR acc / margin / max-mean" in r.output
    res = json.loads((out / "results.json").read_text())
    assert res["type_names"] == ["BR", "IN", "MX", "PK"] and res["data_deviations"] == DESIGN_DEVIATIONS
    assert res["design"]["n_questions"] == 6 and res["design"]["probs"] == [.15, .2, .3, .35]
    row = res["summary"]["n=2"]
    assert set(row) == {"em_dpo", "cluster_dpo", "vanilla_dpo", "true_label_dpo"}
    for m in row.values():
        for t in ("BR", "IN", "MX", "PK"):
            for met in ("max_mean_margin", "heldout_accuracy", "accuracy", "reward_margin"):
                assert np.isfinite(m[f"{t}_{met}_mean"]) and m[f"{t}_{met}_sem"] == 0.0
            assert 0.0 <= m[f"{t}_heldout_accuracy_mean"] <= 1.0
        assert "BR_regret_mean" not in m
    cells = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert cells == ["dataset=goqa_feedback=binary_K=4_seed=1_rep=0.json"]
    cell = json.loads((out / "cells" / cells[0]).read_text())["metrics"]
    assert len(cell["em_dpo"]["rho"]) == 4 and len(cell["cluster_dpo"]["rho"]) == 2
    n_held = res["settings"]["n_heldout"] * res["settings"]["questions_per_user"]
    assert sum(cell["em_dpo"][t]["n_heldout"] for t in ("BR", "IN", "MX", "PK")) == n_held
    mtime = (out / "cells" / cells[0]).stat().st_mtime_ns
    r2 = runner.invoke(app, args)
    assert r2.exit_code == 0 and (out / "cells" / cells[0]).stat().st_mtime_ns == mtime  # cell skipped
    r3 = runner.invoke(app, ["emdpo", "mmra", "--run", str(out), "--profile", "smoke", "--seed", "1"])
    assert r3.exit_code != 0 and "MPI runs only" in r3.output and "Traceback" not in r3.output


def test_goqa_study_resumes(tmp_path, goqa_dir, cache):
    s = replace(settings_for(study.profiles_for("goqa"), Profile.smoke), n_users=12, questions_per_user=2,
                n_heldout=4, feedback="ternary", data_dir=str(goqa_dir), cache_dir=str(cache))
    res, _ = check_study_resumes(study, s, 2, tmp_path)
    assert [c["key"] for c in res["cells"]] == ["dataset=goqa_feedback=ternary_K=4_seed=2_rep=0"]
    assert "em_dpo" in res["summary"]["n=3"]


def test_goqa_bad_input_is_a_clean_error(tmp_path, goqa_dir, monkeypatch):
    monkeypatch.delenv("PLURALIGN_GLOBALOPINIONQA_DIR", raising=False)
    monkeypatch.delenv("PLURALIGN_DATA", raising=False)
    base = ["emdpo", "run", "--dataset", "goqa", "--profile", "smoke", "--out", str(tmp_path / "o")]
    r = runner.invoke(app, base)
    assert r.exit_code != 0 and "PLURALIGN_GLOBALOPINIONQA_DIR" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, [*base[:-1], str(tmp_path / "o2"), "--data-dir", str(tmp_path / "nowhere")])
    assert r.exit_code != 0 and GOQA_FILE in r.output and "Traceback" not in r.output
    with pytest.raises(ValueError, match="questions_per_user"):
        replace(settings_for(study.profiles_for("goqa"), Profile.smoke), questions_per_user=0)
    with pytest.raises(ValueError, match="n_heldout"):
        replace(settings_for(study.profiles_for("goqa"), Profile.smoke), n_heldout=3)
    with pytest.raises(ValueError, match="per_user"):  # more questions per user than a country answered
        study.run(replace(settings_for(study.profiles_for("goqa"), Profile.smoke), questions_per_user=5,
                          data_dir=str(goqa_dir)), 0, tmp_path / "o3", progress=False)


REAL = Path(os.environ.get("PLURALIGN_GLOBALOPINIONQA_DIR", "/work/shared/data/globalopinionqa")) / GOQA_FILE


@pytest.mark.skipif(not REAL.is_file(), reason="the GlobalOpinionQA subset is not on this machine (never shipped)")
def test_real_file_has_the_counts_the_design_states():
    recs = load_globalopinionqa(REAL)
    counts = shared_question_counts(recs)
    assert counts[f"{BR}+{IN}+{MX}+{PK}"] == 0  # why the design deviates
    assert [counts[k] for k in (f"{BR}+{IN}+{MX}", f"{IN}+{MX}+{PK}", f"{BR}+{IN}+{PK}", f"{BR}+{MX}+{PK}")] == [6, 3, 1, 0]
    d = goqa_design(recs)
    assert len(d.prompts) == 75 and d.answered.sum(axis=1).tolist() == [37, 45, 42, 36]
    assert min(d.answered.sum(axis=1)) >= 32  # the printed 32 questions per user fit
    for text in ("75 questions", "Britain 37", "Indonesia 45", "Mexico 42", "Pakistan 36"):
        assert text in DESIGN_DEVIATIONS["questions"]
