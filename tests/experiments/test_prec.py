"""Tests of the MuJoCo PREC pipeline (experiments.prec): preference space, decoder slices, utilities,
determinism, the CLI smoke run, and resuming after an interruption."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

import pluralign.experiments.prec.pipeline as pipeline  # noqa: E402
from pluralign.experiments.prec.config import make_config  # noqa: E402
from pluralign.experiments.prec.offline import PreferenceSpace, load_or_build  # noqa: E402
from pluralign.experiments.prec.status import finished_table, status  # noqa: E402
from pluralign.runs import prepare_run  # noqa: E402
from pluralign.cli import app  # noqa: E402
from pluralign.prec.decoders import ClusterDecoders  # noqa: E402

pytestmark = pytest.mark.rl
ENV = "HalfCheetah-v5"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One smoke-scale offline bundle shared by the tests of this module."""
    d = tmp_path_factory.mktemp("prec_cache")
    load_or_build(ENV, make_config("smoke", ENV), 0, d, n_jobs=1, progress=False)
    return d


@pytest.fixture(scope="module")
def bundle(cache):
    return load_or_build(ENV, make_config("smoke", ENV), 0, cache, n_jobs=1, progress=False)


# --------------------------------------------------------------------------- units
@settings(max_examples=20)
@given(st.integers(1, 4), st.integers(1, 6), st.sampled_from([0, 3]), st.integers(0, 2**16))
def test_cluster_decoder_slice_equals_batched(K, d, h, seed):
    g = torch.Generator().manual_seed(seed)
    dec = ClusterDecoders(K, d, h, generator=g, dtype=torch.float64)
    with torch.no_grad():
        dec.b2.normal_(generator=g)
    x = torch.randn(2, 5, d, generator=g, dtype=torch.float64)
    want = dec.step_rewards(x).detach().numpy()  # (K, 2, 5)
    for k in range(K):
        mod = pipeline.cluster_decoder(dec, k)
        got = mod(x.float().reshape(-1, d)).detach().numpy().reshape(2, 5)
        np.testing.assert_allclose(got, want[k], rtol=1e-4, atol=1e-5)


def test_preference_space_matches_svd_and_scales_to_unit_box():
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5))
    act = rng.uniform(-1, 1, (300, 2))
    sp = PreferenceSpace.fit(obs, act)
    x = np.concatenate([obs, act], 1)
    xs = (x - x.mean(0)) / (x.std(0) + 1e-8)
    _, s, vt = np.linalg.svd(xs, full_matrices=False)
    for c in range(3):  # same principal directions up to sign
        assert abs(abs(sp.components[c] @ vt[c]) - 1.0) < 1e-8
    np.testing.assert_allclose(sp.explained_variance_ratio, (s**2 / (s**2).sum())[:3], rtol=1e-8)
    phi = sp(obs, act)
    assert phi.shape == (300, 3) and phi.min() >= 0 and phi.max() <= 1
    np.testing.assert_allclose(phi.min(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(phi.max(0), 1.0, atol=1e-8)
    ep, t = np.repeat(np.arange(3), 100), np.tile(np.arange(100), 3)
    sw = PreferenceSpace.fit(obs, act, ep, t, window=10)
    np.testing.assert_allclose(sw.components, sp.components)
    raw = sp.raw(obs, act)
    means = np.array([raw[e * 100 + s : e * 100 + s + 10].mean(0) for e in range(3) for s in range(91)])
    np.testing.assert_allclose(sw.low, means.min(0), atol=1e-10)  # range of the window means (brute force)
    np.testing.assert_allclose(sw.high, means.max(0), atol=1e-10)
    with pytest.raises(ValueError, match="episode"):
        PreferenceSpace.fit(obs, act, window=10)
    far = sp(obs[:2] * 100, act[:2])  # outside the offline range: clipped, never outside [0, 1]
    assert far.min() >= 0 and far.max() <= 1


def test_user_utilities_closed_form():
    w = np.array([[1.0, 0, 0], [0.2, 0.3, 0.5], [0, 0, 1.0]])
    z = np.array([1, 0, 1])
    phi = {0: np.array([[0.5, 0.5, 0.5], [0.7, 0.1, 0.3]]), 1: np.array([[0.9, 0.0, 0.2]])}
    u = pipeline.user_utilities(w, z, phi)
    np.testing.assert_allclose(u, [0.9, np.mean([0.5, 0.2 * 0.7 + 0.03 + 0.15]), 0.2])  # App. C.2: in [0, 1]


def test_parse_noise():
    assert [pipeline.parse_noise(x) for x in ("0", "oracle", 1, "2", "noise2")] == ["oracle", "oracle", "noise1", "noise2", "noise2"]
    with pytest.raises(ValueError, match="noise"):
        pipeline.parse_noise("3")


def test_problem_and_em_same_seed_same_numbers(bundle):
    cfg = make_config("smoke", ENV)
    feats = pipeline.feature_module(bundle, True)
    p1, p2 = (pipeline.make_problem(bundle, replace(cfg, noise="noise2"), 5, feats) for _ in range(2))
    np.testing.assert_array_equal(p1.ratings.label, p2.ratings.label)
    np.testing.assert_array_equal(p1.segment_features, p2.segment_features)
    o = pipeline.make_problem(bundle, replace(cfg, noise="oracle"), 5, feats)  # paired: same users and segments
    np.testing.assert_array_equal(o.weights, p1.weights)
    np.testing.assert_array_equal(o.segment_phi, p1.segment_phi)
    # App. C.1: S = sum_t <w_i, phi_t> against tau_i = 7 on user i's 10-point scale, i.e. its range of S / T
    # over every T-step window of the offline data (brute force here)
    T = cfg.segment_len
    S = np.einsum("mtc,mc->m", o.segment_phi, o.weights[o.ratings.user])
    data = bundle.data
    phi_all = bundle.space(data["obs"], data["act"])
    wins = [s for s in range(len(data["t"]) - T + 1)
            if data["episode"][s] == data["episode"][s + T - 1] and data["t"][s + T - 1] - data["t"][s] == T - 1]
    means = np.array([phi_all[s:s + T].mean(0) for s in wins]) @ o.weights.T  # (windows, N)
    tau = T * (means.min(0) + 0.7 * (means.max(0) - means.min(0)))
    np.testing.assert_allclose(o.tau, tau, rtol=1e-9)
    assert np.unique(np.round(tau, 9)).size == cfg.n_users  # user-specific thresholds
    assert 0 < o.ratings.label.mean() < 1  # the threshold is reachable: both labels occur
    np.testing.assert_array_equal(o.ratings.label, (S >= o.tau[o.ratings.user] - 1e-9).astype(float))  # oracle
    e1, _ = pipeline.fit_clusters(p1, cfg, 2, 5)
    e2, _ = pipeline.fit_clusters(p2, cfg, 2, 5)
    np.testing.assert_array_equal(e1.labels, e2.labels)
    torch.testing.assert_close(e1.params.W2, e2.params.W2)
    nf = pipeline.feature_module(bundle, False)  # Fig. 12 ablation: standardized raw state-action
    assert pipeline.make_problem(bundle, replace(cfg, noise="oracle"), 5, nf).segment_features.shape[2] == 17 + 6


def test_offline_agents_resume_after_interrupt(tmp_path, cache, monkeypatch):
    """A build killed after its first agent keeps that agent; the resumed build trains only the others and
    writes the same offline data as an uninterrupted build (the module's cache, same settings and seed)."""
    import pluralign.experiments.prec.offline as offline

    cfg = make_config("smoke", ENV)
    real, trained = offline._agent_episodes, []

    def dies_on_second(env_id, ocfg, i, seed):
        if i == 1:
            raise KeyboardInterrupt
        trained.append(i)
        return real(env_id, ocfg, i, seed)

    monkeypatch.setattr(offline, "_agent_episodes", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        load_or_build(ENV, cfg, 0, tmp_path, n_jobs=1, progress=False)
    d = tmp_path / offline.cache_key(ENV, cfg, 0)
    assert trained == [0] and sorted(p.name for p in (d / "agents").iterdir()) == ["agent0.json", "agent0.npz"]
    assert not (d / "offline.npz").exists()
    first = json.loads((d / "agents" / "agent0.json").read_text())

    def counting(env_id, ocfg, i, seed):
        trained.append(i)
        return real(env_id, ocfg, i, seed)

    trained.clear()
    monkeypatch.setattr(offline, "_agent_episodes", counting)
    load_or_build(ENV, cfg, 0, tmp_path, n_jobs=1, progress=False)
    assert trained == list(range(1, len(cfg.offline.target_velocities)))
    assert not (d / "agents").exists()  # folded into offline.npz
    build = json.loads((d / "build.json").read_text())["offline"]  # the first sitting's agent is still counted
    assert build["agents"][0] == first and all(a["cpu_seconds"] > 0 for a in build["agents"])
    assert build["cpu_seconds"] >= sum(a["cpu_seconds"] for a in build["agents"])
    got, want = np.load(d / "offline.npz"), np.load(cache / offline.cache_key(ENV, cfg, 0) / "offline.npz")
    assert sorted(got.files) == sorted(want.files)
    for k in want.files:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


# --------------------------------------------------------------------------- end to end
def test_cli_smoke_whole_pipeline(tmp_path, cache):
    from typer.testing import CliRunner

    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        ["prec", "run", "--env", ENV, "--noise", "2", "--profile", "smoke", "--out", str(out), "--cache-dir", str(cache),
         "--jobs", "1", "--n-seeds", "2"],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "results.json").read_text())
    assert summary["n_cells"] == summary["n_cells_expected"] == 4
    assert set(summary["table"]) == {"1", "2"}
    for row in summary["table"].values():
        assert row["n_seeds"] == 2
        mean = {m: row[m]["mean"] for m in ("egalitarian", "nash", "utilitarian")}
        assert 0 <= mean["egalitarian"] <= mean["nash"] + 1e-9 <= mean["utilitarian"] + 2e-9 <= 1 + 2e-9
        assert all(row[m]["n_seeds"] == 2 for m in mean)
    for K, row in summary["table"].items():  # mean +- s.e.m. over the two replicates' cells
        for m in ("egalitarian", "nash", "utilitarian"):
            x = np.array([c[m] for c in summary["cells"] if str(c["K"]) == K])
            assert len(x) == 2 and row[m]["mean"] == pytest.approx(x.mean())
            assert row[m]["sem"] == pytest.approx(x.std(ddof=1) / np.sqrt(2), abs=1e-12)
    for c in summary["cells"]:  # per-user utilities r_i (App. C.2) kept, consistent with the cell's policies
        phi = {int(k): np.asarray(v)[None] for k, v in c["policy_phi"].items()}
        u = pipeline.user_utilities(np.asarray(c["weights"]), np.asarray(c["assignment"]), phi)
        np.testing.assert_allclose(c["utilities"], u, rtol=1e-9)
        assert c["utilitarian"] == pytest.approx(float(np.mean(u)))
    assert (out / f"fig2_{ENV}_noise2.png").stat().st_size > 1000
    assert (out / f"clusters_{ENV}_noise2.png").stat().st_size > 1000
    assert (out / f"fig2_{ENV}_noise2.pdf").exists() and (out / f"clusters_{ENV}_noise2.pdf").exists()
    assert json.loads((out / "config.json").read_text())["config"]["profile"] == "smoke"
    st = CliRunner().invoke(app, ["prec", "status", "--run", str(out)])
    assert st.exit_code == 0 and "cells:              4/4" in st.output and "left:               nothing" in st.output, st.output
    # the finished table is the one results.json holds (K rows and references, each over its n seeds)
    lines = st.output.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("finished cells (4/4 cells"))
    for K, r in summary["table"].items():
        assert lines[head + 2 + list(summary["table"]).index(K)].split()[:3] == [
            K, "2", f"{r['utilitarian']['mean']:.3f}±{r['utilitarian']['sem']:.3f}"]
    assert sum(ln.split()[0] in summary["references"] for ln in lines[head:]) == len(summary["references"])
    bad = CliRunner().invoke(app, ["prec", "status", "--run", str(tmp_path)])
    assert bad.exit_code != 0 and "has no config.json" in bad.output
    bad = CliRunner().invoke(app, ["prec", "run", "--env", "CartPole-v1", "--profile", "smoke", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "env" in bad.output
    bad = CliRunner().invoke(app, ["prec", "run", "--noise", "7", "--profile", "smoke", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "noise" in bad.output


def test_cli_default_out_of_a_population_run_is_the_folder_figures_read(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pluralign.paper_figures import registry as reg

    def stop(*args, **kwargs):
        raise ValueError("stopped before any work")

    monkeypatch.setattr(pipeline, "run", stop)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["prec", "run", "--profile", "smoke", "--noise", "0", "--population", "bimodal"])
    assert res.exit_code != 0 and "stopped before any work" in res.output
    want = reg.results_dir(reg.STUDIES[f"prec:{ENV}:oracle:pop=bimodal"], "smoke", tmp_path / "results")
    assert want.name == f"{ENV}_oracle_pop-bimodal" and (want / "config.json").exists()
    assert json.loads((want / "config.json").read_text())["config"]["population"] == "bimodal"


def test_reference_policies_scored_for_the_users_and_shared_by_teachers(tmp_path, monkeypatch):
    from pluralign.prec.labelers import make_population
    from pluralign.seeding import derive

    cfg = replace(make_config("smoke", ENV), noise="2", n_jobs=1, cache_dir=str(tmp_path / "cache"))
    calls = []
    real = pipeline.reference_task

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(pipeline, "reference_task", counting)
    from pluralign.cli.common import start_run

    s = pipeline.run(cfg, 0, start_run("prec run", tmp_path / "a", "smoke", 0, cfg.to_dict()), progress=False)
    assert sorted(calls) == sorted(pipeline.REFERENCES)  # one replicate: each reference once
    refs = s["references"]
    assert set(refs) == set(pipeline.REFERENCES) and all(r["n_seeds"] == 1 for r in refs.values())
    assert refs["initial"]["train_seconds"]["mean"] == refs["random"]["train_seconds"]["mean"] == 0.0
    assert refs["true_mean_reward"]["train_seconds"]["mean"] > 0 and refs["env_reward"]["train_seconds"]["mean"] > 0
    # every user gets the reference: utilitarian = mean_i <w_i, mean_e phi_e>; true_mean_return = sum_t <w_bar, phi_t>
    W = make_population(cfg.population, cfg.n_users, derive(0, 0, "users")).weights
    for row in s["reference_cells"]:
        assert row["utilitarian"] == pytest.approx(float(np.mean(W @ np.asarray(row["phi"]))), abs=1e-9)
        assert row["true_mean_return"] == pytest.approx(row["episode_len"] * float(W.mean(0) @ np.asarray(row["phi"])), rel=1e-6)
    # another teacher (same users and PPO) reads the stored references: none is run again, numbers equal
    calls.clear()
    s2 = pipeline.run(replace(cfg, noise="oracle"), 0, tmp_path / "b", progress=False)
    assert calls == [] and s2["references"] == refs
    with pytest.raises(ValueError, match="reference"):
        real("nothing", ENV, cfg.ppo, 0, None, W.mean(0), 1, None)

    from pluralign.experiments.prec.diagnose import diagnose, main

    d = diagnose(tmp_path / "a")
    assert set(d["learned_reward"]) == {"1", "2"} and d["learned_reward"]["1"]["n_policies"] == 1
    assert d["references"]["initial"]["utilitarian"] == refs["initial"]["utilitarian"]["mean"]
    (sep,) = d["separability"]
    assert sep["users"] == cfg.n_users and 0 <= sep["users_separable"] <= cfg.n_users
    assert sep["labels_per_user"] + sep["equal_labels"] / cfg.n_users <= cfg.n_segments
    with pytest.raises(SystemExit, match="config.json"):
        main(["--run", str(tmp_path / "nothing")])
    from pluralign.experiments.prec.diagnose import start_sign

    sign = diagnose(tmp_path / "a", with_separability=False, with_start_sign=True)["start_sign"]["by_K"]
    assert set(sign) == {"1", "2"} and sign["1"]["clusters"] == 1 and 1 <= sign["2"]["clusters"] <= 2
    for r in sign.values():
        assert r["share_negative"] in {0.0, 0.5, 1.0} and 0.0 <= r["true_reward_per_step"] <= 1.0
        assert r["episode_len"] == cfg.offline.max_episode_steps  # smoke episodes are capped
    # the K = 1 decoder read at the initial reference's episodes: their true reward is the reference's
    init = [c for c in s["reference_cells"] if c["name"] == "initial"][0]
    assert sign["1"]["true_reward_per_step"] == pytest.approx(init["true_mean_return"] / init["episode_len"], rel=1e-6)
    with pytest.raises(ValueError, match="grid"):
        start_sign(cfg, 0, 0, Ks=[7])
    with pytest.raises(ValueError, match="replicate"):
        start_sign(cfg, 0, 3)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(2, 40), st.integers(0, 2**16))
def test_linearly_separable_finds_a_planted_hyperplane_and_rejects_interleaved_labels(d, n, seed):
    from pluralign.experiments.prec.diagnose import linearly_separable

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    a = rng.normal(size=d)
    y = (X @ a > 0).astype(int)
    assert linearly_separable(X + 0.0, y)  # labels of a hyperplane through the data
    # on a line, labels 0, 1, 0 at increasing x cannot be split by one threshold (in any direction of R^d)
    t = np.sort(rng.uniform(-1, 1, size=3)) + np.array([0.0, 1e-3, 2e-3])
    Z = t[:, None] * a[None, :]
    assert not linearly_separable(Z, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="labels"):
        linearly_separable(X, np.full(n, 2))


def test_true_reward_is_the_users_score(bundle):
    w = np.array([0.2, 0.5, 0.3])
    obs, act = bundle.data["obs"][:7], bundle.data["act"][:7]
    np.testing.assert_allclose(pipeline.TrueReward(bundle.space, w)(obs, act), bundle.space(obs, act) @ w)


def test_cli_normalize_reward_reaches_ppo(tmp_path, cache, monkeypatch):
    from typer.testing import CliRunner

    from pluralign.rl import ppo as ppo_mod

    seen = []
    real = ppo_mod.make_ppo

    def spy(venv, config, seed):
        seen.append((config.normalize_reward, type(venv).__name__))
        return real(venv, config, seed)

    monkeypatch.setattr(ppo_mod, "make_ppo", spy)
    monkeypatch.chdir(tmp_path)  # the default out folder is relative
    res = CliRunner().invoke(app, ["prec", "run", "--profile", "smoke", "--cache-dir", str(cache), "--jobs", "1",
                                   "--normalize-reward"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "results" / "prec" / "smoke" / f"{ENV}_noise2_normrew"
    assert json.loads((out / "config.json").read_text())["config"]["ppo"]["normalize_reward"] is True
    trained = [v for flag, v in seen if flag]
    assert trained and all(v == "VecNormalize" for v in trained)  # every trained policy saw the scaled reward


def test_segment_score_is_the_printed_sum_and_mean_reruns_the_old_reading(tmp_path, cache, monkeypatch):
    """Seed 000 eq. 4 / eq. 6 in every profile; ``--segment-score mean`` reaches the decoders' M-step
    and gets its own folder; a bad value is refused, naming the option's field."""
    from typer.testing import CliRunner

    from pluralign.experiments.prec.config import PREC_PROFILES
    from pluralign.prec import decoders as dec_mod

    assert all(make_config(p, ENV).decoder.aggregate == "sum" for p in PREC_PROFILES)
    seen = []
    real = dec_mod.fit_decoders

    def spy(*args, **kwargs):
        seen.append(args[5].aggregate)  # the DecoderConfig of this M-step
        return real(*args, **kwargs)

    monkeypatch.setattr(dec_mod, "fit_decoders", spy)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["prec", "run", "--profile", "smoke", "--cache-dir", str(cache), "--jobs", "1",
                                   "--segment-score", "mean"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "results" / "prec" / "smoke" / f"{ENV}_noise2_score-mean"
    assert json.loads((out / "config.json").read_text())["config"]["decoder"]["aggregate"] == "mean"
    assert seen and set(seen) == {"mean"}
    bad = CliRunner().invoke(app, ["prec", "run", "--profile", "smoke", "--cache-dir", str(cache),
                                   "--segment-score", "median"])
    assert bad.exit_code != 0 and "aggregate" in bad.output and "Traceback" not in bad.output


def test_resume_after_interrupt_skips_finished_cells(tmp_path, cache, monkeypatch):
    cfg = replace(make_config("smoke", ENV), n_seeds=2, noise="1", n_jobs=1, cache_dir=str(cache))
    calls = []
    real = pipeline.policy_task

    def counting(*args, **kwargs):
        calls.append(args[2])  # the policy's PPO seed
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "policy_task", counting)
    out = prepare_run("prec run", tmp_path / "run", "smoke", 0, cfg.to_dict())
    with pytest.raises(pipeline.SimulatedInterrupt):
        pipeline.run(cfg, 0, out, progress=False, stop_after_cells=2)
    cells = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert len(cells) == 2
    # policies run K-major: the first whole cells are both replicates of the smallest K
    assert cells == sorted(f"{pipeline.cell_key(ENV, 'noise1', min(cfg.Ks), 0, r, True)}.json" for r in range(2))
    # `prec status` between the sittings: what is stored, and at most sum(K) - stored policies left
    st = status(out)
    pols = list((out / "policies" / "cells").glob("*.json"))
    assert st["cells"] == {"done": 2, "expected": 4} and st["policies"]["done"] == len(pols)
    unfinished = [k for k in (pipeline.cell_key(ENV, "noise1", K, 0, r, True) for K in cfg.Ks for r in range(2))
                  if not (out / "cells" / f"{k}.json").exists()]
    left = sum(int(k.split("_K=")[1].split("_")[0]) - len(list((out / "policies" / "cells").glob(f"{k}_k=*.json")))
               for k in unfinished)
    assert st["policies"]["left_at_most"] == left and st["references"] == {"done": 8, "expected": 8}
    assert st["ppo_steps_left_at_most"] == left * cfg.ppo.total_timesteps and st["untimed_records"] == 0
    assert st["cpu_seconds"]["cells"] == pytest.approx(
        sum(json.loads((out / "cells" / c).read_text())["metrics"]["cpu_seconds"] for c in cells)
        + sum(json.loads(p.read_text())["metrics"]["cpu_seconds"] for p in pols
              if any(p.name.startswith(k + "_k=") for k in unfinished)))
    assert st["cpu_hours_left_at_most"] == pytest.approx(left * cfg.ppo.total_timesteps * st["cpu_seconds_per_ppo_step"] / 3600)
    part = finished_table(out)  # the interim table: the two finished cells, every reference
    assert part["n_cells"] == 2 and list(part["table"]) == [str(min(cfg.Ks))]
    assert part["table"][str(min(cfg.Ks))]["n_seeds"] == 2 and len(part["references"]) == len(pipeline.REFERENCES)
    first = {p.name: p.read_bytes() for p in (out / "cells").glob("*.json")}
    trained = list(calls)
    calls.clear()
    s = pipeline.run(cfg, 0, out, progress=False)
    assert s["n_cells"] == 4
    assert not set(calls) & set(trained)  # nothing finished was trained again
    st = status(out)
    assert st["cells"]["done"] == 4 and st["ppo_steps_left_at_most"] == 0 and st["cpu_hours_left_at_most"] == 0
    whole = finished_table(out)
    assert whole["table"] == s["table"] and whole["references"] == s["references"]
    assert st["cpu_seconds"]["cells"] == pytest.approx(s["compute"]["cells_cpu_seconds"])
    assert st["cpu_seconds"]["references"] == pytest.approx(s["compute"]["references_cpu_seconds"])
    for name, content in first.items():  # finished cells untouched
        assert (out / "cells" / name).read_bytes() == content

    # CPU seconds of both sittings add up: every cell's EM + its policies, every reference, the cache
    pol = {p.stem: json.loads(p.read_text())["metrics"]["cpu_seconds"] for p in (out / "policies" / "cells").glob("*.json")}
    for c in s["cells"]:
        em = json.loads((out / "cells" / f"{c['key']}.json").read_text())["metrics"]["em_cpu_seconds"]
        assert c["cpu_seconds"] == pytest.approx(em + sum(v for k, v in pol.items() if k.startswith(c["key"] + "_k=")))
    comp = s["compute"]
    assert comp["cells_cpu_seconds"] == pytest.approx(sum(c["cpu_seconds"] for c in s["cells"]))
    assert comp["references_cpu_seconds"] == pytest.approx(sum(r["cpu_seconds"] for r in s["reference_cells"]))
    assert comp["unknown"]["cells"] == comp["unknown"]["references"] == 0 and comp["references_cpu_seconds"] > 0
    assert comp["total_cpu_hours"] * 3600 >= comp["cells_cpu_seconds"] + comp["references_cpu_seconds"]

    # a deleted cell whose policies are stored is rebuilt from them without training
    victim = out / "cells" / cells[0]
    before = json.loads(victim.read_text())["metrics"]
    victim.unlink()
    calls.clear()
    pipeline.run(cfg, 0, out, progress=False)
    assert calls == []
    assert json.loads(victim.read_text())["metrics"]["utilitarian"] == before["utilitarian"]

    # deleting a cell and its policies retrains exactly those policies
    victim.unlink()
    key = victim.stem
    pols = list((out / "policies" / "cells").glob(f"{key}_k=*.json"))
    for p in pols:
        p.unlink()
    calls.clear()
    s2 = pipeline.run(cfg, 0, out, progress=False)
    assert len(calls) == len(pols) and s2["n_cells"] == 4
    # same seed, same numbers: the retrained cell reproduces its welfare
    assert json.loads(victim.read_text())["metrics"]["utilitarian"] == pytest.approx(before["utilitarian"], rel=1e-9)

    # a K = 2 cell that lost one of its two policies: status counts the one left to train
    k2 = next(p for p in sorted((out / "cells").glob("*_K=2_*.json"))
              if len(list((out / "policies" / "cells").glob(f"{p.stem}_k=*.json"))) == 2)
    k2.unlink()
    sorted((out / "policies" / "cells").glob(f"{k2.stem}_k=*.json"))[0].unlink()
    st = status(out)
    assert st["cells"]["done"] == 3 and st["policies"]["left_at_most"] == 1


# --------------------------------------------------------------------------- studies write numbers only
def test_pipeline_imports_no_plotting():
    """The study modules import neither matplotlib nor pluralign.paper_figures (lazy imports included):
    checked in a fresh interpreter and on the source."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    mods = ["pluralign.experiments.prec.pipeline", "pluralign.experiments.prec.offline", "pluralign.experiments.prec.config"]
    code = "import sys; " + "; ".join(f"import {m}" for m in mods) + (
        "; bad = [m for m in sys.modules if m.split('.')[0] == 'matplotlib' or m.startswith('pluralign.paper_figures')]"
        "; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    for path in Path(pipeline.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.startswith(("matplotlib", "pluralign.paper_figures"))], (path, names)


def test_figures_draw_from_the_results_file_only(tmp_path):
    """cluster_pictures / fig2_panel need nothing but results.json (no cell store, no model)."""
    from pluralign.paper_figures import prec as figures

    cells = [{"key": f"K={K}", "K": K, "replicate": 0, "weights": [[1, 0, 0], [0, 1, 0], [0.2, 0.3, 0.5]],
              "assignment": [0, K - 1, 0], "policy_phi": {str(k): [0.5, 0.2, 0.3] for k in range(K)},
              "ari_vs_modes": 0.5} for K in (1, 2)]
    stat = {"mean": 5.0, "sem": 0.1, "n_seeds": 2}
    table = {str(K): {"n_seeds": 2, **{m: stat for m in pipeline.MEASURES}} for K in (1, 2)}
    results = {"env": ENV, "noise": "noise2", "profile": "smoke", "seed": 0, "replicates": [0, 1], "Ks": [1, 2],
               "use_encoder": True, "table": table, "cells": cells}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    loaded = json.loads(path.read_text())
    for fn, name in ((figures.fig2_panel, "fig2.png"), (figures.cluster_pictures, "clusters.png")):
        png = fn(loaded, tmp_path / name)
        assert png.stat().st_size > 1000 and png.with_suffix(".pdf").exists()


# --------------------------------------------------------------------------- settings as printed, plan
def test_settings_as_printed_and_deviations_named():
    from pluralign.experiments.prec.config import DEVIATIONS, PROFILES
    from pluralign.prec.labelers import DEFAULT_POPULATION, make_population
    from pluralign.runs import Profile
    from pluralign.sims.prec_bandit.world import WorldSettings

    paper = PROFILES[Profile.paper]
    assert (paper.n_users, paper.n_segments, paper.segment_len, tuple(paper.Ks)) == (30, 50, 30, (1, 2, 3, 5, 10, 30))
    ppo = paper.ppo  # Table 2 as printed
    assert (ppo.total_timesteps, ppo.n_steps, ppo.batch_size, ppo.n_epochs, ppo.learning_rate, ppo.gamma, ppo.gae_lambda) == (
        1_500_000, 2048, 64, 10, 3e-4, 0.99, 0.95)
    # Fig. 2's "approximately uniform" population (sec. 4.3) everywhere, the bandit twin included
    assert all(p.population == DEFAULT_POPULATION == "broad" for p in PROFILES.values())
    from pluralign.prec.labelers import POPULATIONS

    assert WorldSettings().population == POPULATIONS[DEFAULT_POPULATION] == (1, 3.0)  # Dirichlet(1, 1, 1)
    w = make_population(DEFAULT_POPULATION, 3000, 0).weights
    np.testing.assert_allclose(w.mean(0), 1 / 3, atol=0.02)  # uniform on the simplex: E w_c = 1/3,
    np.testing.assert_allclose(w.var(0), 1 / 18, atol=0.005)  # Var w_c = 2 / (9 * 4) = 1/18
    assert {"scoring", "population_modes", "em_init", "ppo_unprinted", "ppo_budget_small_profiles"} <= set(DEVIATIONS)
    assert all(isinstance(v, str) and len(v) > 40 for v in DEVIATIONS.values())
    with pytest.raises(ValueError, match="backend"):
        replace(paper, backend="loky").validate()
    with pytest.raises(ValueError, match="good_threshold"):
        replace(paper, good_threshold=10.5).validate()


def test_plan_arithmetic():
    from pluralign.experiments.prec.plan import plan

    cfg = make_config("paper", ENV)
    p = plan(cfg, steps_per_cpu_s=1000.0, machines=2, cpus_per_machine=16, runs=12)
    assert p["cells_per_run"] == 6 * 3 and p["cells"] == 12 * 18
    assert p["policies_per_run"] == (1 + 2 + 3 + 5 + 10 + 30) * 3 == 153
    assert p["policy_ppo_steps"] == 12 * 153 * 1_500_000
    assert p["offline_ppo_steps"] == 4 * 1_000_000
    assert p["reference_policies"] == 12 * 2 * 3 and p["reference_ppo_steps"] == 12 * 6 * 1_500_000
    total = 12 * (153 + 6) * 1_500_000 + 12 * (153 + 12) * 10 * 1000 + 4_000_000
    assert p["total_steps"] == total and p["cpu_hours"] == pytest.approx(total / 1000 / 3600)
    assert p["slots"] == 32 and p["policy_waves"] == -(-12 * (153 + 6) // 32)
    assert p["wall_hours"] == pytest.approx((1 * 1e6 + p["policy_waves"] * 1.5e6) / 1000 / 3600)
    with pytest.raises(ValueError, match="machines"):
        plan(cfg, 1000.0, machines=0)
    with pytest.raises(ValueError, match="steps_per_cpu_s"):
        plan(cfg, 0.0)


def test_cli_plan(tmp_path):
    from typer.testing import CliRunner

    res = CliRunner().invoke(app, ["prec", "plan", "--profile", "paper", "--machines", "4", "--cpus-per-machine", "16",
                                   "--steps-per-cpu-s", "500"])
    assert res.exit_code == 0, res.output
    assert "cells:" in res.output and "18" in res.output and "229,500,000" in res.output
    assert "wall time on 4 machine(s) x 16 CPUs" in res.output
    res = CliRunner().invoke(app, ["prec", "plan", "--profile", "smoke", "--rollouts", "1"])  # measured on the spot
    assert res.exit_code == 0, res.output
    assert "measured now" in res.output
    bad = CliRunner().invoke(app, ["prec", "plan", "--machines", "0", "--steps-per-cpu-s", "5"])
    assert bad.exit_code != 0 and "machines" in bad.output


def test_medium_budget_read_from_the_measured_curve():
    from pluralign.experiments.prec.config import MEDIUM_CURVE, PROFILES, budget_from_curve

    curve = [(0, -100.0), (10, 0.0), (20, 70.0), (30, 100.0), (40, 60.0)]
    assert [budget_from_curve(curve, f) for f in (0.5, 0.8, 0.9)] == [10, 20, 30]  # goals 0, 60, 80
    with pytest.raises(ValueError, match="curve"):
        budget_from_curve(curve[1:])
    med = PROFILES["medium"]
    assert med.ppo.total_timesteps == budget_from_curve(MEDIUM_CURVE) and MEDIUM_CURVE[0][0] == 0
    assert med.ppo.total_timesteps % (med.ppo.n_steps * med.ppo.n_envs) == 0  # whole rollouts
    paper = PROFILES["paper"].ppo  # Table 2's PPO but the budget
    assert replace(med.ppo, total_timesteps=paper.total_timesteps) == paper
    assert (med.n_users, med.n_segments, med.segment_len, tuple(med.Ks), med.n_seeds) == (30, 50, 30, (1, 2, 3, 5, 10, 30), 3)
    quick = PROFILES["quick"].ppo.total_timesteps
    assert quick < med.ppo.total_timesteps < paper.total_timesteps
    with pytest.raises(ValueError, match="profile"):
        make_config("large")


def test_learning_curve_rows():
    from pluralign.experiments.prec.learning_curve import learning_curve

    ppo = make_config("smoke", ENV).ppo  # 256 steps, 2 envs x 64-step rollouts
    rows = learning_curve(ENV, ppo, seed=0, eval_every=128, eval_episodes=1, max_episode_steps=30)
    assert rows[0]["steps"] == 0 and "wall_seconds" not in rows[0]  # the random policy's reference
    assert [r["steps"] for r in rows[1:]] == [128, 256]
    assert all(np.isfinite(r["eval_return"]) and np.isfinite(r["eval_x_velocity"]) for r in rows)
    again = learning_curve(ENV, ppo, seed=0, eval_every=128, eval_episodes=1, max_episode_steps=30)
    assert [r["eval_return"] for r in again] == [r["eval_return"] for r in rows]  # same seed, same curve
    with pytest.raises(ValueError, match="eval_every"):
        learning_curve(ENV, ppo, seed=0, eval_every=0)


def test_a_run_of_another_physics_is_refused_where_it_would_resimulate(tmp_path):
    """config.json records the simulator: resuming it, or diagnosing it (which re-rolls episodes), under
    another MuJoCo is refused naming ``physics``; ``prec status`` (files only) reads it under its own; the
    options a run may carry (segment score, reward normalization) are rebuilt, not refused."""
    from pluralign.experiments.prec.diagnose import run_config
    from pluralign.runs import CellStore

    cfg = replace(make_config("smoke", ENV), physics="mujoco 0.0 (planted), gymnasium 0.0")
    cfg = replace(cfg, decoder=replace(cfg.decoder, aggregate="mean"), ppo=replace(cfg.ppo, normalize_reward=True))
    out = prepare_run("prec run", tmp_path / "run", "smoke", 0, cfg.to_dict())
    with pytest.raises(ValueError, match="physics"):
        run_config(out)
    got, seed = run_config(out, same_physics=False)
    assert (got.physics, got.decoder.aggregate, got.ppo.normalize_reward, seed) == (cfg.physics, "mean", True, 0)
    CellStore(out).save("K=1", {"K": 1}, {})
    with pytest.raises(ValueError, match="config.physics"):
        prepare_run("prec run", out, "smoke", 0, make_config("smoke", ENV).to_dict())


def test_a_run_grows_by_more_seeds_and_another_K(tmp_path, cache, monkeypatch):
    """n_seeds and Ks may change on resume (pipeline.RESUME_FREE): the finished cells are kept byte for byte,
    only the new (K, replicate) cells train, and the result equals a fresh run of the larger grid; another
    setting is still refused."""
    from typer.testing import CliRunner

    small = replace(make_config("smoke", ENV), n_seeds=1, Ks=(1,), n_jobs=1, cache_dir=str(cache))
    big = replace(small, n_seeds=2, Ks=(1, 2))
    seeds = []
    real = pipeline.policy_task
    monkeypatch.setattr(pipeline, "policy_task", lambda *a, **k: (seeds.append(a[2]), real(*a, **k))[1])
    out = prepare_run("prec run", tmp_path / "run", "smoke", 0, small.to_dict(), pipeline.RESUME_FREE)
    pipeline.run(small, 0, out, progress=False)
    first = {p.name: p.read_bytes() for p in (out / "cells").glob("*.json")}
    n_small = len(seeds)
    prepare_run("prec run", out, "smoke", 0, big.to_dict(), pipeline.RESUME_FREE)
    grown = pipeline.run(big, 0, out, progress=False)
    assert all((out / "cells" / n).read_bytes() == b for n, b in first.items())
    assert grown["n_cells"] == 4 and len(seeds) - n_small == 1 + 2 + 2  # K=2 r=0, K=1 r=1, K=2 r=1
    fresh_out = prepare_run("prec run", tmp_path / "fresh", "smoke", 0, big.to_dict())
    fresh = pipeline.run(big, 0, fresh_out, progress=False)
    numbers = lambda t: {K: {m: r[m] for m in ("utilitarian", "egalitarian", "nash", "env_return", "x_velocity")}  # noqa: E731
                         for K, r in t.items()}  # (the seconds differ from run to run)
    assert numbers(grown["table"]) == numbers(fresh["table"]) and set(grown["table"]) == {"1", "2"}
    with pytest.raises(ValueError, match="config.leak"):
        prepare_run("prec run", out, "smoke", 0, replace(big, leak=0.2).to_dict(), pipeline.RESUME_FREE)
    with pytest.raises(ValueError, match="config.n_seeds"):  # other commands keep n_seeds fixed
        prepare_run("prec run", out, "smoke", 0, replace(big, n_seeds=3).to_dict())
    monkeypatch.chdir(tmp_path)  # and the CLI passes the free settings: a third seed into the same folder
    res = CliRunner().invoke(app, ["prec", "run", "--profile", "smoke", "--cache-dir", str(cache), "--jobs", "1",
                                   "--n-seeds", "3", "--out", str(fresh_out)])
    assert res.exit_code == 0, res.output
