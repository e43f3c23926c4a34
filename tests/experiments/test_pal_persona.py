"""The PAL persona experiment (seed 002, App. D.4): Table 7's personas, the answer rule (yes iff the
statement is in S(rho_j)), the loader's errors, the settings' errors, resume, and the CLI command at smoke
size (no model load: the embedding cache is pre-filled). The Thm. 1 vs Prop. C.4 check is tested in
tests/sims/test_pal_bounds.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.experiments import pal_persona
from pluralign.experiments.pal_persona import (PROFILES, TABLE7_PERSONAS, PersonaConfig, PersonaSettings, answers_yes,
                                               first_queries, fits, load_persona, make_population, pal_config,
                                               split_by_statement, to_choices)
from pluralign.pal.embed import cache_dir, texts_key
from pluralign.testing import check_study_resumes

FILES = ("interest-in-art", "interest-in-literature", "interest-in-math")
SHARED = "I like art and books alike"
"""A statement that agrees with two personas (in both S(art) and S(literature))."""


def _fake_persona(root, n=40, dims=FILES):
    """Persona files named as Table 7's personas: statement i of a file agrees with it iff i is even;
    ``SHARED`` agrees with both art and literature."""
    root.mkdir(parents=True, exist_ok=True)
    texts = []
    for j, name in enumerate(dims):
        with open(root / f"{name}.jsonl", "w") as fh:
            rows = [(f"statement {i} about {name}", " Yes" if i % 2 == 0 else " No") for i in range(n)]
            if name in ("interest-in-art", "interest-in-literature"):
                rows.append((SHARED, " Yes"))
            for st, yes in rows:
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


def test_table7_is_transcribed_as_printed():
    assert sorted(TABLE7_PERSONAS) == [2, 3, 4, 5, 6]
    assert TABLE7_PERSONAS[6] == ("interest in art", "interest in literature", "interest in math", "interest in music",
                                  "interest in science", "interest in sports")
    for K in range(2, 7):  # each row is the first K* of the K* = 6 row
        assert TABLE7_PERSONAS[K] == TABLE7_PERSONAS[6][:K]


def test_answers_are_yes_iff_the_statement_is_in_the_users_persona_set(tmp_path):
    _fake_persona(tmp_path / "d")
    data = load_persona(tmp_path / "d")
    assert data.dim_names == list(FILES)
    art, lit, math = 0, 1, 2
    idx = {t: i for i, t in enumerate(data.statements)}  # last occurrence of SHARED
    s_art_yes, s_art_no = idx["statement 0 about interest-in-art"], idx["statement 1 about interest-in-art"]
    s_math_yes = idx["statement 2 about interest-in-math"]
    Y = answers_yes(data, np.array([art, lit, math]), np.array([s_art_yes, s_art_no, s_math_yes, idx[SHARED]]))
    np.testing.assert_array_equal(Y, [[True, False, False, True],    # art: its agreeing statements, and SHARED
                                      [False, False, False, True],   # literature: only SHARED
                                      [False, False, True, False]])  # math: its agreeing statement only
    emb = np.random.default_rng(0).normal(size=(len(data.statements), 16)).astype(np.float32)
    cfg = PersonaConfig(n_personas_true=3, n_per_group=3, n_train=12, n_test=5, n_pool=6)
    pop = make_population(data, emb, cfg, seed=1)
    assert pop["personas"] == list(TABLE7_PERSONAS[3]) and np.bincount(pop["group"]).tolist() == [3, 3, 3]
    agree = {(t, j) for t, j, y in zip(data.statements, data.dim, data.matching_yes) if y}
    for split in ("train", "test", "pool", "unseen_test"):
        q = pop[split]["queries"]
        assert set(data.dim[q.statement]) <= {art, lit, math}
        expected = [(data.statements[s], pop["persona_dims"][pop["group"][u]]) in agree
                    for u, s in zip(q.user, q.statement)]
        np.testing.assert_array_equal(q.yes, expected)  # yes iff s in S(rho_j), by text
        ch = to_choices(q, emb)
        np.testing.assert_array_equal(ch.chosen == 0, q.yes)  # option 0 = Yes
        np.testing.assert_allclose(ch.features[:, 0], -ch.features[:, 1])  # Yes = +e, No = -e
    assert not set(pop["train"]["queries"].statement) & set(pop["test"]["queries"].statement)  # held-out statements
    # n_p prefixes: a smaller n_p is the first queries of the larger draw
    q = pop["train"]["queries"]
    q4 = first_queries(q, 4)
    assert np.bincount(q4.user).tolist() == [4] * 9
    np.testing.assert_array_equal(q4.statement, q.statement.reshape(9, 12)[:, :4].ravel())
    with pytest.raises(ValueError, match="n_personas_true"):
        make_population(data, emb, PersonaConfig(n_personas_true=7, n_per_group=1, n_train=2, n_test=1, n_pool=1), 0)
    with pytest.raises(ValueError, match="n_train"):  # more queries per user than statements
        make_population(data, emb, PersonaConfig(n_personas_true=2, n_per_group=1, n_train=500, n_test=1, n_pool=1), 0)


def test_models_are_pal_a_tiny_hinge_residual_and_pal_b_tiny_logistic():
    st = PROFILES["quick"]
    a, b = pal_config("A", 4, 384, 16, st, 0), pal_config("B", 4, 384, 16, st, 0)
    assert (a.model, a.loss, a.residual, a.d_latent, a.map) == ("A", "hinge", True, 384, "mlp")
    assert (b.model, b.loss, b.residual, b.d_latent, b.map) == ("B", "logistic", False, 16, "mlp")
    # every printed grid in the quick and paper profiles (App. D.4 (a)-(d))
    for name in ("quick", "paper"):
        s = PROFILES[name]
        assert s.Kstar_grid == (2, 3, 4, 5, 6) and s.K_grid == tuple(range(1, 9)) and s.K_grid_small == (1, 2, 3, 4, 5)
        assert s.np_grid == (75, 100, 200, 500, 1000) and s.d_grid == (4, 8, 16, 32, 64)
        assert s.unseen_grid == (1, 10, 20, 50, 100, 200, 500, 1000) and s.population.n_train == 1000
        assert s.Kstar_fixed == 4 and s.d == 16
    assert PROFILES["paper"].population.n_per_group == 10_000 and PROFILES["paper"].n_seeds == 5
    f = fits(PROFILES["quick"])
    assert not any(x["model"] == "A" and "c" in x["panels"] for x in f)  # PAL-A's d is the embedding width
    shared = [x for x in f if x["model"] == "B" and x["K_true"] == 4 and x["n_p"] == 1000 and x["d"] == 16]
    assert all(set(x["panels"]) == {"a", "b", "c", "d"} and x["fewshot"] for x in shared if x["K"] <= 5)
    assert len({(x["model"], x["K_true"], x["K"], x["n_p"], x["d"]) for x in f}) == len(f) == 140


def test_validation_split_holds_out_statements(tmp_path):
    _fake_persona(tmp_path / "d", n=30)
    data = load_persona(tmp_path / "d")
    emb = np.random.default_rng(0).normal(size=(len(data.statements), 16))
    pop = make_population(data, emb, PersonaConfig(n_personas_true=2, n_per_group=2, n_train=20, n_test=5, n_pool=5), 2)
    tr = to_choices(pop["train"]["queries"], pop["context_features"])
    fit, val = split_by_statement(tr, 0.25, seed=0)
    assert len(fit.user) + len(val.user) == len(tr.user) and len(val.user) > 0
    assert not set(fit.context) & set(val.context)
    with pytest.raises(ValueError, match="frac"):
        split_by_statement(tr, 1.0, seed=0)


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
    r = json.loads((out / "results.json").read_text())
    assert set(r["summary"]["a"]) == {"A", "B"} and set(r["summary"]["c"]) == {"B"}
    assert (out / "pal_persona.png").exists() and (out / "pal_persona.pdf").exists()
    row = r["summary"]["a"]["A"]["2"]["2"]  # mean +- s.e.m. over repeats
    assert set(row["seen_acc"]) == {"mean", "sem", "n_seeds"}
    curve = r["summary"]["d"]["A"]["2"]
    assert curve["m"] == [2, 10] and len(curve["unseen_acc"]) == 2
    assert "quick profile" in r["deviations"]
    # the default runs cells in 2 processes; one process gives the same numbers
    out1 = tmp_path / "persona_serial"
    res = runner.invoke(app, ["pal", "persona", "--profile", "smoke", "--out", str(out1), "--jobs", "1",
                              "--data-dir", str(tmp_path / "data"), "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    assert json.loads((out1 / "results.json").read_text())["summary"] == r["summary"]
    res = runner.invoke(app, ["pal", "persona", "--profile", "smoke", "--out", str(tmp_path / "j"), "--jobs", "0",
                              "--data-dir", str(tmp_path / "data"), "--cache-dir", str(cache)])
    assert res.exit_code != 0 and "jobs" in res.output
    res = runner.invoke(app, ["pal", "persona", "--profile", "smoke", "--out", str(tmp_path / "x"),
                              "--data-dir", str(tmp_path / "nowhere")])
    assert res.exit_code != 0 and "not found" in res.output


def _tiny_settings(tmp_path, **kw):
    texts = _fake_persona(tmp_path / "data", n=30)
    _fake_cache(texts, tmp_path / "cache")
    base = dict(population=PersonaConfig(n_per_group=1, n_train=10, n_test=5, n_pool=6), Kstar_grid=(2,),
                K_grid=(1, 2), K_grid_small=(1, 2), Kstar_fixed=2, np_grid=(5, 10), d_grid=(4,), unseen_grid=(2, 6),
                d=4, hidden=8, epochs=2, batch_size=16, localize_epochs=5, n_seeds=2,
                data_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"), n_jobs=1)
    return PersonaSettings(**{**base, **kw})


def test_study_resumes(tmp_path):
    st = _tiny_settings(tmp_path)
    first, _ = check_study_resumes(pal_persona.study, st, 3, tmp_path / "runs")
    assert len(first["cells"]) == 2 * len(fits(st))


def test_a_missing_table7_file_fails_before_any_work(tmp_path):
    st = _tiny_settings(tmp_path, Kstar_grid=(2, 3))
    (tmp_path / "data" / "interest-in-math.jsonl").unlink()
    with pytest.raises(ValueError, match="interest-in-math"):
        pal_persona.run(st, 0, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "cells").exists()


def test_settings_profiles_and_errors():
    assert set(PROFILES) == {"smoke", "quick", "paper"}
    for st in PROFILES.values():
        assert st.validate() is st
    for kw, field in ((dict(unseen_grid=(2000,)), "unseen_grid"), (dict(np_grid=(1001,)), "np_grid"),
                      (dict(models=("C",)), "models"), (dict(n_jobs=0), "n_jobs"), (dict(Kstar_grid=(7,)), "Kstar_grid"),
                      (dict(K_grid=()), "K_grid"), (dict(epochs=0), "epochs"),
                      (dict(population=PersonaConfig(n_per_group=0)), "population.n_per_group"),
                      (dict(population=PersonaConfig(test_frac=1.0)), "population.test_frac")):
        with pytest.raises(ValueError, match=field):
            PersonaSettings(**kw)


def test_study_modules_import_no_plotting():
    """The persona study imports neither matplotlib nor pluralign.paper_figures (fresh interpreter)."""
    import subprocess
    import sys

    code = ("import sys, pluralign.experiments.pal_persona; "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'matplotlib' or m.startswith('pluralign.paper_figures')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
