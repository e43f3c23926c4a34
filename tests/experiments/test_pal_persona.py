"""The PAL persona experiment (seed 002, App. D.4): the answer rule, the loader's errors and the CLI
command at smoke size (no model load: the embedding cache is pre-filled). The Thm. 1 vs Prop. C.4 check
is tested in tests/sims/test_pal_bounds.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pluralign.experiments import pal_persona
from pluralign.experiments.pal_persona import (MAP_WEIGHT_DECAY, PROFILES, PersonaConfig, PersonaSettings, load_persona,
                                               make_population, pal_config, split_by_statement, validation_sweep)
from pluralign.cli import app
from pluralign.data import Choices
from pluralign.pal.embed import cache_dir, texts_key


def _fake_persona(root, n=40, dims=("interest-in-a", "interest-in-b")):
    root.mkdir(parents=True, exist_ok=True)
    texts = []
    for j, name in enumerate(dims):
        with open(root / f"{name}.jsonl", "w") as fh:
            for i in range(n):
                st = f"statement {i} about {name}"
                yes = " Yes" if i % 2 == 0 else " No"
                fh.write(json.dumps({"statement": st, "answer_matching_behavior": yes,
                                     "answer_not_matching_behavior": " No" if yes == " Yes" else " Yes"}) + "\n")
                texts.append(st)
    return texts


def test_loader_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="data_dir: persona data folder not found"):
        load_persona(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no \\*.jsonl"):
        load_persona(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.jsonl").write_text(json.dumps({"statement": "s", "answer_matching_behavior": " Maybe"}) + "\n")
    with pytest.raises(ValueError, match="not Yes/No"):
        load_persona(bad)


def test_answers_follow_the_persona_rule(tmp_path):
    _fake_persona(tmp_path / "d")
    data = load_persona(tmp_path / "d")
    assert data.dim_names == ["interest-in-a", "interest-in-b"] and data.matching_yes.mean() == 0.5
    emb = np.random.default_rng(0).normal(size=(len(data.statements), 16))
    cfg = PersonaConfig(n_personas_true=3, n_seen=9, n_unseen=3, n_train=10, n_test=5, n_pool=5, pca_dim=4)
    pop = make_population(data, emb, cfg, seed=1)
    V = pop["personas"]
    assert len({tuple(v) for v in V}) == 3  # distinct personas
    assert np.bincount(pop["g_seen"]).tolist() == [3, 3, 3]
    for split, groups in (("train", pop["g_seen"]), ("test", pop["g_seen"]), ("pool", pop["g_unseen"])):
        ch: Choices = pop[split]["A"]
        st = ch.context
        says_yes = ch.chosen == 0
        has = V[groups[ch.user], data.dim[st]] == 1
        np.testing.assert_array_equal(says_yes, has == (data.matching_yes[st] == 1))
        np.testing.assert_allclose(ch.features[:, 0], -ch.features[:, 1])  # Yes = +e, No = -e
    assert not set(pop["train"]["A"].context) & set(pop["test"]["A"].context)  # held-out statements


def test_validation_split_holds_out_statements_and_sweep_runs(tmp_path):
    _fake_persona(tmp_path / "d", n=30)
    data = load_persona(tmp_path / "d")
    emb = np.random.default_rng(0).normal(size=(len(data.statements), 16))
    cfg = PersonaConfig(n_personas_true=2, n_seen=4, n_unseen=2, n_train=20, n_test=5, n_pool=5, pca_dim=4)
    pop = make_population(data, emb, cfg, seed=2)
    tr = pop["train"]["A"]
    fit, val = split_by_statement(tr, 0.25, seed=0)
    assert len(fit.user) + len(val.user) == len(tr.user) and len(val.user) > 0
    assert not set(fit.context) & set(val.context)  # validation statements are unseen in the fit part
    np.testing.assert_array_equal(np.sort(np.concatenate([fit.context, val.context])), np.sort(tr.context))
    again = split_by_statement(tr, 0.25, seed=0)[1]
    np.testing.assert_array_equal(again.context, val.context)
    with pytest.raises(ValueError, match="frac"):
        split_by_statement(tr, 1.0, seed=0)
    sweep = validation_sweep(pop, "A", 2, [0.0, 1e-2], epochs=4, every=2)
    assert set(sweep) == {0.0, 0.01} and [r["epoch"] for r in sweep[0.01]] == [2, 4]
    assert all(0 <= r["val_acc"] <= 1 and 0 <= r["fit_acc"] <= 1 for rows in sweep.values() for r in rows)
    # the profile config carries the selected map weight decay (PAL-A) and none for PAL-B
    assert pal_config("A", 4, 150, 0).weight_decay == MAP_WEIGHT_DECAY["A"] > 0
    assert pal_config("B", 4, 150, 0).weight_decay == 0.0 and pal_config("A", 4, 150, 0).epochs == 600
    assert pal_config("A", 4, 150, 0).n_restarts == 2 and pal_config("A", 4, 150, 0).restart_epochs == 100


def _fake_cache(texts, cache):
    """Pre-fill the embedding cache for ``texts`` (no model load)."""
    path = cache_dir(cache) / f"{texts_key(texts)}.npy"
    path.parent.mkdir(parents=True)
    e = np.random.default_rng(0).normal(size=(len(texts), 384)).astype(np.float32)
    np.save(path, e / np.linalg.norm(e, axis=1, keepdims=True))


def test_cli_persona_smoke(tmp_path):
    texts = _fake_persona(tmp_path / "data")
    cache = tmp_path / "cache"
    _fake_cache(texts, cache)
    out = tmp_path / "persona"
    runner = CliRunner()
    res = runner.invoke(app, ["pal", "persona", "--profile", "smoke", "--out", str(out),
                              "--data-dir", str(tmp_path / "data"), "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    r = json.loads((out / "pal_persona.json").read_text())
    assert set(r["summary"]["table"]) == {"A", "B"} and (out / "pal_persona.png").exists()
    assert (out / "pal_persona.pdf").exists()
    assert "yes_share" in r["summary"]
    row = r["summary"]["table"]["A"]["2"]["2"]  # mean +- s.e.m. over replicates
    assert set(row["seen_acc"]) == {"mean", "sem", "n_seeds"} and len(row["fewshot_acc"]) == len(row["fewshot_m"])
    # the default runs cells in 2 processes; one process gives the same numbers
    out1 = tmp_path / "persona_serial"
    res = runner.invoke(app, ["pal", "persona", "--profile", "smoke", "--out", str(out1), "--jobs", "1",
                              "--data-dir", str(tmp_path / "data"), "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    r1 = json.loads((out1 / "pal_persona.json").read_text())
    assert r1["summary"]["table"] == r["summary"]["table"]
    res = runner.invoke(app, ["pal", "persona", "--profile", "smoke", "--out", str(tmp_path / "j"), "--jobs", "0",
                              "--data-dir", str(tmp_path / "data"), "--cache-dir", str(cache)])
    assert res.exit_code != 0 and "jobs" in res.output
    res = runner.invoke(app, ["pal", "persona", "--profile", "smoke", "--out", str(tmp_path / "x"),
                              "--data-dir", str(tmp_path / "nowhere")])
    assert res.exit_code != 0 and "not found" in res.output



def test_rerun_with_cells_present_recomputes_nothing(tmp_path, monkeypatch):
    texts = _fake_persona(tmp_path / "data", n=30)
    _fake_cache(texts, tmp_path / "cache")
    settings = PersonaSettings(
        population=PersonaConfig(n_seen=4, n_unseen=2, n_train=10, n_test=5, n_pool=6, pca_dim=4),
        grid={"A": {2: (1, 2)}, "B": {2: (2,)}}, m_grid=(2,), epochs=3, n_seeds=2,
        data_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"), n_jobs=1)
    out = tmp_path / "run"
    first = pal_persona.run(settings, 3, out, progress=False)
    cells = {p.name: p.read_bytes() for p in (out / "cells").glob("*.json")}
    assert len(cells) == 6 and len(first["cells"]) == 6

    def boom(*args, **kwargs):
        raise AssertionError("a finished cell was recomputed")

    monkeypatch.setattr(pal_persona.study, "run_cell", boom)
    monkeypatch.setattr(pal_persona.study, "make_population", boom)  # not even the populations are rebuilt
    again = pal_persona.run(settings, 3, out, progress=False)
    assert again["summary"] == first["summary"] and again["cells"] == first["cells"]
    assert {p.name: p.read_bytes() for p in (out / "cells").glob("*.json")} == cells
    assert set(again["summary"]["yes_share"]) == {"Kstar=2_rep=0", "Kstar=2_rep=1"}
    # a deleted cell is recomputed alone, with the same numbers (same seed, same numbers)
    monkeypatch.undo()
    victim = sorted((out / "cells").glob("*.json"))[0]
    before = json.loads(victim.read_text())["metrics"]
    victim.unlink()
    pal_persona.run(settings, 3, out, progress=False)
    assert json.loads(victim.read_text())["metrics"] == before


def test_settings_profiles_and_errors():
    assert set(PROFILES) == {"smoke", "quick", "paper"}
    for st in PROFILES.values():
        assert st.validate() is st
    with pytest.raises(ValueError, match="m_grid"):
        PersonaSettings(m_grid=(100,)).validate()
    with pytest.raises(ValueError, match="grid"):
        PersonaSettings(grid={"C": {2: (1,)}}).validate()
    with pytest.raises(ValueError, match="n_jobs"):
        PersonaSettings(n_jobs=0).validate()


def test_study_modules_import_no_plotting():
    """The persona study imports neither matplotlib nor pluralign.paper_figures (fresh interpreter)."""
    import subprocess
    import sys

    code = ("import sys, pluralign.experiments.pal_persona; "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'matplotlib' or m.startswith('pluralign.paper_figures')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
