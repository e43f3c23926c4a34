"""The PAL length-preference experiment (seed 002, sec. 3.1 / App. D.3) on persona text: the construction
(seen majority / minority, unseen 70 / 30, held-out texts), the per-user baseline, resume, and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.data import Choices
from pluralign.experiments.pal_length import study
from pluralign.experiments.pal_length.baseline import UserEmbeddingConfig, UserEmbeddingReward
from pluralign.experiments.pal_length.data import LengthConfig, load_statements, make_task
from pluralign.testing import check_study_resumes

CFG = LengthConfig(n_seen=10, seen_longer=7, n_unseen=31, n_train=20, n_test=10, n_pool=12, max_statements=3,
                   n_train_responses=120, n_test_responses=60)


@pytest.fixture(scope="module")
def statements():
    return load_statements()  # the shipped persona statements


def test_construction_follows_d3(statements):
    task = make_task(statements, CFG, seed=4)
    assert task.seen_prefers_longer.sum() == 7 and len(task.seen_prefers_longer) == 10
    assert task.unseen_prefers_longer.sum() == 22 and len(task.unseen_prefers_longer) == 31  # round(70% of 31)
    n_tr = CFG.n_train_responses
    for name, prefers, from_test in (("train", task.seen_prefers_longer, False), ("test", task.seen_prefers_longer, True),
                                     ("pool", task.unseen_prefers_longer, False),
                                     ("unseen_test", task.unseen_prefers_longer, True)):
        ch: Choices = getattr(task, name)
        w = task.n_words[ch.options]
        assert np.all(w[:, 0] != w[:, 1])  # the two responses differ in length
        assert np.all(task.topic[ch.options[:, 0]] == task.topic[ch.options[:, 1]])  # one prompt per pair
        chose_longer = w[np.arange(len(ch)), ch.chosen] > w[np.arange(len(ch)), 1 - ch.chosen]
        np.testing.assert_array_equal(chose_longer, prefers[ch.user] == 1)  # the user's rule, noiseless
        assert np.all((ch.options >= n_tr) == from_test)  # test pairs use held-out responses only
    # held-out responses are made of held-out statements
    sents = lambda ids: {s for i in ids for s in task.texts[i].split(". ")}  # noqa: E731
    assert not sents(range(n_tr)) & sents(range(n_tr, len(task.texts)))
    again = make_task(statements, CFG, seed=4)
    assert again.texts == task.texts and np.array_equal(again.train.chosen, task.train.chosen)
    assert make_task(statements, CFG, seed=5).texts != task.texts


def test_bad_settings_name_the_field(statements, tmp_path):
    with pytest.raises(ValueError, match="task.seen_longer"):
        replace(CFG, seen_longer=11).validate()
    with pytest.raises(ValueError, match="task.max_statements"):
        replace(CFG, max_statements=1).validate()
    with pytest.raises(ValueError, match="methods"):
        study.LengthSettings(methods=("PAL-C",)).validate()
    with pytest.raises(ValueError, match="m_grid"):
        study.LengthSettings(task=CFG, m_grid=(1, 50)).validate()
    with pytest.raises(ValueError, match="data_dir: persona data folder not found"):
        load_statements(tmp_path / "missing")
    with pytest.raises(ValueError, match="weight_init_std"):
        study.LengthSettings(weight_init_std=-1.0).validate()


def test_seen_users_start_at_random_weights():
    """App. D.1: 'random weights [...] including the prototypical weight for each user': every profile
    draws the seen users' logits (std 1), and the setting reaches the model."""
    assert all(s.weight_init_std == 1.0 for s in study.PROFILES.values())
    cfg = study._pal_config(study.PROFILES[study.Profile.smoke], "PAL-B-Tiny", 1, seed=0)
    assert cfg.weight_init_std == 1.0
    uniform = study._pal_config(replace(study.PROFILES[study.Profile.smoke], weight_init_std=0.0), "PAL-B-Tiny", 1, 0)
    assert uniform.weight_init_std == 0.0


def test_user_embedding_baseline_learns_two_groups():
    rng = np.random.default_rng(0)  # test data only: length = feature 0
    U, M = 6, 600
    x = rng.normal(size=(M, 2, 8)).astype(np.float32)
    users = np.arange(M) % U
    longer = (x[:, 1, 0] > x[:, 0, 0]).astype(int)
    prefers = np.array([1, 1, 1, 1, 0, 0])
    ch = Choices(user=users, features=x, chosen=np.where(prefers[users] == 1, longer, 1 - longer), n_users=U)
    m = UserEmbeddingReward(UserEmbeddingConfig(d_user=4, hidden=16, lr_map=1e-2, lr_users=5e-2, epochs=30,
                                                batch_size=16)).fit(ch)
    assert m.accuracy(ch) > 0.9
    new = ch.subset(np.flatnonzero(users >= 4))  # the two "shorter" users, as new users
    V = m.localize(new, epochs=200)
    assert V.shape == (2, 4)
    # localization finds them: from the seen users' mean vector (the majority's "longer") to their own
    mean = np.repeat(m.user_vectors_.mean(0, keepdims=True), 2, axis=0)
    assert m.accuracy(new, vectors=V) > 0.9 > m.accuracy(new, vectors=mean) + 0.3


SETTINGS = study.LengthSettings(
    profile="test", n_seeds=1, methods=("PAL-B-Tiny", "UserEmb-Tiny", "PAL-B-Large"),
    task=LengthConfig(n_seen=3, seen_longer=2, n_unseen=3, n_train=4, n_test=3, n_pool=3, max_statements=2,
                      n_train_responses=16, n_test_responses=8),
    m_grid=(1, 3), epochs_tiny=2, epochs_large=1, n_particles=10, localize_epochs=10, n_jobs=1)


def test_study_resumes(tmp_path):
    settings = replace(SETTINGS, cache_dir=str(tmp_path / "cache"))
    first, _ = check_study_resumes(study, settings, 3, tmp_path)
    table = first["summary"]["table"]
    assert set(table) == set(SETTINGS.methods)
    # Large trains the whole MiniLM (22,713,216 parameters) besides the same head
    assert table["PAL-B-Large"]["trainable_params"] - table["PAL-B-Tiny"]["trainable_params"] == 22_713_216
    assert "fewshot_active" in table["PAL-B-Tiny"] and "fewshot_active" not in table["UserEmb-Tiny"]
    assert first["deviations"] == study.DEVIATIONS


def test_cli_smoke_and_model_errors(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(app, ["pal", "length", "--profile", "smoke", "--out", str(out), "--jobs", "1",
                              "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    r = json.loads((out / "results.json").read_text())
    assert set(r["summary"]["table"]) == set(study.PROFILES["smoke"].methods)
    assert (out / "pal_length.png").exists() and (out / "pal_length.pdf").exists()
    from pluralign.paper_figures import pal_length as figure

    assert figure.plot_params(r, tmp_path / "f2.png").exists() and figure.plot_fewshot(r, tmp_path / "f3.png").exists()
    rows = {row["method"]: row for row in figure.table_rows(r)}
    assert rows["PAL-B-Tiny"]["seen_printed"] == 79.54 and "unseen_m4" in rows["PAL-B-Large"]
    for bad, msg in ((tmp_path / "nowhere", "no such folder"), (tmp_path, "no config.json")):
        res = runner.invoke(app, ["pal", "length", "--profile", "smoke", "--out", str(tmp_path / "x"), "--model", str(bad)])
        assert res.exit_code != 0 and msg in res.output, res.output
