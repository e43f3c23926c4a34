"""Tests of pluralign.rl: the learned-reward VecEnv wrapper, the numpy fast path, the SPR encoder, the
target-velocity reward and trajectory collection."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from pluralign.rl.envs import check_env_id, collect_episodes, env_fns, make_env  # noqa: E402
from pluralign.rl.ppo import PPOConfig  # noqa: E402
from pluralign.rl.reward import EncoderDecoderReward, LearnedRewardVecEnv, StandardizeFeatures, numpy_mlp  # noqa: E402
from pluralign.rl.spr import SPRConfig, SPREncoder, fit_spr, spr_windows  # noqa: E402
from pluralign.torch_init import build, init_parameters_  # noqa: E402

pytestmark = pytest.mark.rl


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, obs, act):
        self.calls.append((obs.copy(), act.copy()))
        return obs[:, 0] * 2.0 + act.sum(axis=1)


def test_wrapper_reward_uses_pre_step_obs_across_auto_reset():
    n, H = 2, 4
    rec = Recorder()
    venv = LearnedRewardVecEnv(DummyVecEnv(env_fns("HalfCheetah-v5", n, max_episode_steps=H)), rec)
    ref = DummyVecEnv(env_fns("HalfCheetah-v5", n, max_episode_steps=H))
    venv.seed(3)
    ref.seed(3)
    obs, obs_ref = venv.reset(), ref.reset()
    np.testing.assert_array_equal(obs, obs_ref)
    rng = np.random.default_rng(0)
    saw_done = False
    for _ in range(3 * H):
        a = rng.uniform(-1, 1, (n, 6)).astype(np.float32)
        prev = obs.copy()
        obs, rew, done, infos = venv.step(a)
        obs_ref, rew_ref, done_ref, _ = ref.step(a)
        o_used, a_used = rec.calls[-1]
        np.testing.assert_array_equal(o_used, prev)  # reward of (s_t, a_t), s_t = pre-step observation
        np.testing.assert_allclose(rew, prev[:, 0] * 2.0 + a.sum(axis=1), rtol=1e-6)
        np.testing.assert_allclose([i["env_reward"] for i in infos], rew_ref, rtol=1e-12)
        np.testing.assert_array_equal(obs, obs_ref)
        np.testing.assert_array_equal(done, done_ref)
        saw_done |= bool(done.any())
    assert saw_done  # the auto-reset path was exercised: next pre-step obs is the reset observation


def test_wrapper_rejects_non_callable():
    with pytest.raises(ValueError, match="reward_fn"):
        LearnedRewardVecEnv(DummyVecEnv(env_fns("HalfCheetah-v5", 1)), reward_fn=3)


@settings(max_examples=15)
@given(st.integers(1, 5), st.integers(2, 9), st.integers(1, 12), st.integers(0, 2**16))
def test_numpy_mlp_matches_torch(n, d, h, seed):
    mod = init_parameters_(build(lambda: torch.nn.Sequential(
        torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.LeakyReLU(0.05), torch.nn.Linear(h, h), torch.nn.Tanh()),
        torch.nn.Linear(h, 4),
        torch.nn.LayerNorm(4),
        torch.nn.ReLU(),
        torch.nn.Identity(),
        torch.nn.Linear(4, 1),
    )), torch.Generator().manual_seed(seed))
    f = numpy_mlp(mod)
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    with torch.no_grad():
        want = mod(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(f(x), want, rtol=1e-4, atol=1e-5)


def test_numpy_mlp_refuses_unknown_modules():
    assert numpy_mlp(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))) is None


def test_encoder_decoder_reward_fast_path_and_pickle():
    g = torch.Generator().manual_seed(0)
    enc = SPREncoder(17, 6, SPRConfig(latent_dim=8, hidden=16, proj_dim=8), g).eval().requires_grad_(False)
    with torch.no_grad():
        enc.mean.normal_(generator=g)
        enc.std.uniform_(0.5, 2.0, generator=g)
    dec = init_parameters_(build(lambda: torch.nn.Sequential(torch.nn.Linear(8, 5), torch.nn.LeakyReLU(0.01),
                                                             torch.nn.Linear(5, 1))), g).requires_grad_(False)
    o = np.random.default_rng(1).standard_normal((8, 17))
    a = np.random.default_rng(2).uniform(-1, 1, (8, 6))
    fast, slow = EncoderDecoderReward(enc, dec, scale=2.0), EncoderDecoderReward(enc, dec, scale=2.0, fast=False)
    assert fast._np is not None and slow._np is None
    np.testing.assert_allclose(fast(o, a), slow(o, a), rtol=1e-4, atol=1e-5)
    back = pickle.loads(pickle.dumps(fast))
    assert back._np is not None
    np.testing.assert_allclose(back(o, a), slow(o, a), rtol=1e-4, atol=1e-5)
    std = StandardizeFeatures(np.ones(23), np.full(23, 2.0), 17)
    r = EncoderDecoderReward(std, init_parameters_(build(lambda: torch.nn.Sequential(torch.nn.Linear(23, 1))), g))
    want = r.decoder(torch.as_tensor((np.concatenate([o, a], 1) - 1.0) / 2.0, dtype=torch.float32)).detach().numpy().ravel()
    np.testing.assert_allclose(r(o, a), want, rtol=1e-5, atol=1e-6)


@settings(max_examples=60)
@given(st.lists(st.integers(1, 8), min_size=1, max_size=6), st.integers(0, 4))
def test_spr_windows_brute_force(lengths, horizon):
    episode = np.concatenate([np.full(L, i) for i, L in enumerate(lengths)])
    t = np.concatenate([np.arange(L) for L in lengths])
    got = spr_windows(episode, t, horizon)
    want = [i for i in range(len(t)) if i + horizon < len(t) and all(episode[i + j] == episode[i] for j in range(horizon + 1))]
    assert got.tolist() == want


def _toy_sequences(seed=0, n_ep=4, L=40):
    rng = np.random.default_rng(seed)
    obs, act, ep, t = [], [], [], []
    for e in range(n_ep):
        s = rng.standard_normal(5)
        for k in range(L):
            a = rng.uniform(-1, 1, 2)
            obs.append(s.copy())
            act.append(a)
            ep.append(e)
            t.append(k)
            s = 0.9 * s + 0.3 * np.r_[a, a[:1], a]  # linear dynamics driven by the action
    return np.array(obs), np.array(act), np.array(ep), np.array(t)


def test_spr_learns_and_is_deterministic():
    obs, act, ep, t = _toy_sequences()
    cfg = SPRConfig(latent_dim=8, hidden=32, proj_dim=16, horizon=3, batch_size=64, n_updates=300, seed=4)
    enc1, hist1 = fit_spr(obs, act, ep, t, cfg)
    enc2, hist2 = fit_spr(obs, act, ep, t, cfg)
    assert hist1 == hist2
    np.testing.assert_array_equal(enc1.encode(obs, act), enc2.encode(obs, act))
    assert hist1[-1] < hist1[0] - 0.05  # negative cosine loss goes down
    assert hist1[-1] >= -1.0 - 1e-6  # bounded below by -1
    z = enc1.encode(obs.reshape(4, 40, 5), act.reshape(4, 40, 2))
    assert z.shape == (4, 40, 8)
    back = SPREncoder.from_state(pickle.loads(pickle.dumps(enc1.state())))
    np.testing.assert_array_equal(back.encode(obs, act), enc1.encode(obs, act))
    with pytest.raises(ValueError, match="episode"):
        fit_spr(obs[:3], act[:3], ep[:3], t[:3], cfg)
    with pytest.raises(ValueError, match="n_updates"):
        SPRConfig(n_updates=0)


def test_target_velocity_reward_formula():
    for env_id in ("HalfCheetah-v5", "Hopper-v5"):
        env = make_env(env_id, target_velocity=1.5)
        env.reset(seed=0)
        env.action_space.seed(0)
        for _ in range(5):
            _, r, term, trunc, info = env.step(env.action_space.sample())
            want = -abs(info["x_velocity"] - 1.5) + info.get("reward_ctrl", 0.0) + info.get("reward_survive", 0.0)
            assert r == pytest.approx(want)
            if term or trunc:
                break


def test_collect_episodes_shapes_and_order():
    d = collect_episodes(lambda o: np.zeros((len(o), 6)), "HalfCheetah-v5", 3, seed=1, max_episode_steps=7)
    assert d["obs"].shape == (21, 17) and d["act"].shape == (21, 6)
    assert d["episode"].tolist() == [e for e in range(3) for _ in range(7)]
    assert d["t"].tolist() == list(range(7)) * 3
    d2 = collect_episodes(lambda o: np.zeros((len(o), 6)), "HalfCheetah-v5", 3, seed=1, max_episode_steps=7)
    np.testing.assert_array_equal(d["obs"], d2["obs"])
    with pytest.raises(ValueError, match="env"):
        check_env_id("CartPole-v1")
    with pytest.raises(ValueError, match="n_episodes"):
        collect_episodes(lambda o: o, "HalfCheetah-v5", 0, seed=0)


def test_ppo_config_validation():
    assert PPOConfig.paper().total_timesteps == 1_500_000
    with pytest.raises(ValueError, match="batch_size"):
        PPOConfig(n_envs=1, n_steps=32, batch_size=64)
    with pytest.raises(ValueError, match="n_envs"):
        PPOConfig(n_envs=0)


def test_mujoco_warnings_go_through_python_warnings_once(monkeypatch):
    """MuJoCo's own warnings (3.17 and 4.0 warn at every load of gymnasium's HalfCheetah model) become one
    MujocoWarning per distinct message under Python's default filter; a user's own handler is kept."""
    import warnings

    import mujoco

    from pluralign.rl.envs import MujocoWarning, route_mujoco_warnings

    old = mujoco.get_mju_user_warning()
    try:
        mujoco.set_mju_user_warning(None)
        route_mujoco_warnings()
        handler = mujoco.get_mju_user_warning()
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("default")
            for _ in range(5):
                handler("a planted warning\n")
        assert [(w.category, str(w.message)) for w in got] == [(MujocoWarning, "a planted warning")]
        mine = []
        mujoco.set_mju_user_warning(mine.append)
        route_mujoco_warnings()  # leaves the user's handler alone
        mujoco.get_mju_user_warning()("x")
        assert mine == ["x"]
    finally:
        mujoco.set_mju_user_warning(old)


# Return of 300 seeded uniform-random actions (numpy default_rng(0)) from reset(seed=0), without early
# termination (terminate_when_unhealthy=False), under MuJoCo 3.17.0 / gymnasium 1.4.0; other MuJoCo releases
# give other ones (pluralign.rl.envs.PHYSICS_NOTE: e.g. 4.0.0 HalfCheetah -71.724396, Ant -117.599687).
PHYSICS_FINGERPRINT = {"HalfCheetah-v5": -101.891964, "Hopper-v5": 270.509545, "Walker2d-v5": 140.190994,
                       "Ant-v5": -92.697750}


@pytest.mark.parametrize("env_id", sorted(PHYSICS_FINGERPRINT))
def test_physics_is_the_one_the_numbers_were_measured_in(env_id):
    """The installed simulator reproduces the trajectories every PREC number was measured on (a MuJoCo that
    changes them, as 4.0.0 does for HalfCheetah and Ant, fails here rather than silently moving results)."""
    import gymnasium as gym

    env = gym.make(env_id, **({} if env_id == "HalfCheetah-v5" else {"terminate_when_unhealthy": False}))
    env.reset(seed=0)
    rng, total, n = np.random.default_rng(0), 0.0, 0
    for _ in range(300):
        _, r, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        total, n = total + r, n + 1
        assert not (term or trunc)
    assert total == pytest.approx(PHYSICS_FINGERPRINT[env_id], abs=1e-5), (env_id, total)


def test_physics_keys_the_prec_cache_and_is_recorded():
    from dataclasses import replace

    from pluralign.experiments.prec.config import make_config
    from pluralign.experiments.prec.offline import cache_key
    from pluralign.rl.envs import physics_version

    cfg = make_config("smoke")
    assert cfg.physics == physics_version() and cfg.to_dict()["physics"].startswith("mujoco ")
    assert cache_key(cfg.env, cfg, 0) != cache_key(cfg.env, replace(cfg, physics="mujoco 0.0 (planted), gymnasium 0.0"), 0)
