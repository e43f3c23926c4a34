"""`pluralign fit` on a planted two-group Polis export (issue 18 done-when)."""

import json

import numpy as np
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.testing._votes import write_planted_polis

runner = CliRunner()


def test_fit_on_a_polis_export_writes_report_and_figures(tmp_path):
    groups = write_planted_polis(tmp_path / "export", n_voters=60, n_items=40, seed=0)
    out = tmp_path / "out"
    res = runner.invoke(app, ["fit", str(tmp_path / "export"), "--k", "1..3", "--cv", "3", "--restarts", "2",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    for f in ("results.json", "report.md", "k_curve.png", "k_curve.pdf", "approval.png", "clusters.png"):
        assert (out / f).is_file(), f
    r = json.loads((out / "results.json").read_text())
    assert r["best_k"] == 2 and r["ari_vs_given_groups"] >= 0.9
    assert len(r["assignment"]) == len(groups) and np.asarray(r["approval"]).shape == (2, 40)
    assert "Chosen K = 2" in (out / "report.md").read_text()


def test_fit_bad_options_fail_cleanly(tmp_path):
    res = runner.invoke(app, ["fit", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "DATA" in res.output
    write_planted_polis(tmp_path / "e", n_voters=10, n_items=5)
    res = runner.invoke(app, ["fit", str(tmp_path / "e"), "--k", "0..2", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "--k" in res.output


TRANSIT = ["Build protected bike lanes downtown", "Run the buses every ten minutes", "Extend the tram line to the airport",
           "Make public transport free for students", "Add secure bicycle parking at stations",
           "Open a night bus service", "Turn the main street into a pedestrian zone", "Fund a regional rail link",
           "Lower the fares on the metro", "Plant trees along the cycling routes"]
TAXES = ["Cut the property tax this year", "Lower the sales tax on groceries", "Freeze the city payroll tax",
         "Give small businesses a tax break", "Reduce the fees for building permits", "Abolish the tourist tax",
         "Cap municipal tax increases at inflation", "Refund the parking tax to residents",
         "Stop the new tax on second homes", "Cut the business rates in the old town"]


def test_fit_with_text_features_recovers_groups_that_split_by_topic(tmp_path):
    """--features text: a type is a taste vector over the comments' MiniLM embeddings. Two groups that agree
    with opposite topics (transit vs tax cuts) are recovered from their votes through the texts."""
    import pandas as pd

    rng = np.random.default_rng(0)
    texts = TRANSIT + TAXES
    topic = np.r_[np.zeros(len(TRANSIT), int), np.ones(len(TAXES), int)]
    groups = np.arange(40) % 2
    rows, t = [], 0
    for v, g in enumerate(groups):
        for c in rng.choice(len(texts), size=12, replace=False):
            t += 1
            rows.append((t, v, c, 1 if (rng.random() < 0.85) == (topic[c] == g) else -1))
    exp = tmp_path / "export"
    exp.mkdir()
    pd.DataFrame(rows, columns=["timestamp", "voter-id", "comment-id", "vote"]).to_csv(exp / "votes.csv", index=False)
    pd.DataFrame({"comment-id": range(len(texts)), "comment-body": texts}).to_csv(exp / "comments.csv", index=False)
    pd.DataFrame({"participant": range(40), "group-id": groups}).to_csv(exp / "participants-votes.csv", index=False)
    out = tmp_path / "out"
    res = runner.invoke(app, ["fit", str(exp), "--k", "1..3", "--features", "text", "--text-dim", "4", "--cv", "3",
                              "--restarts", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    r = json.loads((out / "results.json").read_text())
    assert r["best_k"] == 2 and r["ari_vs_given_groups"] >= 0.9
    # items without texts: a clear error, not a traceback
    pd.DataFrame({"comment-id": range(len(texts)), "comment-body": [""] * len(texts)}).to_csv(exp / "comments.csv", index=False)
    res = runner.invoke(app, ["fit", str(exp), "--features", "text", "--out", str(tmp_path / "o2")])
    assert res.exit_code != 0 and "needs a text" in res.output
