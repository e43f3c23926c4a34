"""The Thm. 1 vs Prop. C.4 check (seed 002, sec. 4.1): the free-ideal-point baseline, the oracle PAL twin,
the study's resumable cells, and the ``pluralign pal bounds`` command at smoke size."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.runs import Profile, settings_for
from pluralign.sims import pal_bounds
from pluralign.sims.pal_bounds import fit_free_ideal_points, oracle_pal
from pluralign.sims.pal_sim.problem import PALSimConfig, make_problem
from pluralign.testing import check_study_resumes


def test_free_ideal_points_are_consistent():
    errs = []
    for n in (300, 20_000):
        cfg = PALSimConfig(d=3, n_prototypes_true=2, n_seen=1, n_train=1, n_unseen=2, n_pool=n, n_test=1, beta=5.0,
                           min_separation=0.5)
        pr = make_problem(cfg, 0)
        A = np.sqrt(5.0) * pr.A
        a_hat = fit_free_ideal_points(pr.unseen_pool, A, ridge=1e-6)
        errs.append(np.linalg.norm((a_hat - pr.ideal_unseen) @ A.T, axis=1))  # error in the metric
    assert np.all(errs[1] < errs[0]) and errs[1].max() < 0.1
    est = oracle_pal(A, pr.prototypes)  # the exact twin scores like the ground truth
    np.testing.assert_allclose(est.utilities(pr.unseen_pool, weights=pr.w_unseen)[:50],
                               5.0 * pr.true_utilities(pr.unseen_pool, pr.ideal_unseen)[:50], rtol=1e-3, atol=1e-3)


def test_theory_curves_read_the_bounds_at_the_papers_norms():
    """Sec. 4.1 reads Thm. 2 and Prop. C.4 at zeta_M = D, zeta_v = sqrt(D): a new PAL user needs O~(K)
    comparisons, a free ideal point O~(D) (Remark C.5)."""
    th = pal_bounds.theory_curves((4, 8, 16, 32), 3, (2, 6), 32)
    # Thm. 2's per-user term there is 3L sqrt(K / m) <= eps = 1/2  <=>  m >= 36 K: flat in D, linear in K
    assert th["thm2_vs_D"] == [108] * 4 and th["thm2_vs_K"] == [72, 216]
    # Prop. C.4 there is 6L sqrt((D^2 + DN) / (Nm)) + conf: at least doubling per doubling of D, free of K
    c = np.array(th["prop_c4_vs_D"], float)
    assert np.all(c[1:] / c[:-1] >= 2.0) and th["prop_c4_vs_K"][0] == th["prop_c4_vs_K"][1] == c[-1]


def test_cli_bounds_smoke(tmp_path, monkeypatch):
    res = CliRunner().invoke(app, ["pal", "bounds", "--profile", "smoke", "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert b["rows"] and "thm2_vs_D" in b["theory"] and (tmp_path / "b" / "pal_bounds.png").exists()
    assert (tmp_path / "b" / "pal_bounds.pdf").exists() and (tmp_path / "b" / "config.json").exists()
    from pluralign.paper_figures import pal_bounds as fig_mod

    titles = []
    monkeypatch.setattr(fig_mod, "save", lambda fig, path: titles.append(fig._suptitle.get_text()) or path)
    fig_mod.plot(b, tmp_path / "again.png")
    # the figure draws no error bars, and its caption says so (not the house convention)
    assert "error bars: none" in titles[0] and "s.e.m." not in titles[0]


def test_rerun_recomputes_nothing_and_same_seed_same_numbers(tmp_path, monkeypatch):
    st = replace(settings_for(pal_bounds.PROFILES, Profile.smoke), n_seeds=2)
    first, _ = check_study_resumes(pal_bounds.study, st, 1, tmp_path)
    row = first["rows"][0]
    assert row["n_seeds"] == 2 and len(row["pal_excess_sem"]) == len(row["m"])
    # the s.e.m. is that of the two replicates' excess risks (pluralign.runs.mean_sem: sd(ddof=1) / sqrt(n))
    from pluralign.runs import CellStore

    store = CellStore(tmp_path / "first")
    mine = [store.load(f"D={row['D']}_K={row['K']}_rep={r}_seed=1")["metrics"] for r in (0, 1)]
    ex = np.array([np.array(m["bayes_acc"]) - np.array(m["pal"]) for m in mine])
    np.testing.assert_allclose(row["pal_excess_sem"], ex.std(axis=0, ddof=1) / np.sqrt(2), rtol=1e-9, atol=1e-12)


def test_bad_settings_name_the_field():
    st = settings_for(pal_bounds.PROFILES, Profile.smoke)
    for changes, field in (({"n_seeds": 0}, "n_seeds"), ({"m_grid": ()}, "m_grid"), ({"eps": 1.5}, "eps"),
                           ({"beta": 0.0}, "beta")):
        with pytest.raises(ValueError, match=field):  # settings validate on construction
            replace(st, **changes)
