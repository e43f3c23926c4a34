"""The MuJoCo PREC pipeline of seed 000, end to end, with resumable cells.

For one environment and one teacher (oracle / noise 1 / noise 2), ``run(settings, seed, out)``:

1. Offline data, PCA preference space and frozen SPR encoder (:mod:`pluralign.experiments.prec.offline`,
   cached).
2. Per replicate r: N users with simplex weights (:mod:`pluralign.prec.labelers`; default the uniform
   population of Fig. 2, sec. 4.3), each labelling M segments of T steps drawn from the offline data;
   App. C.1's score S = sum_t <w_i, phi_t> against the user-specific tau_i that is 7 on the user's own
   10-point scale (its range over all T-step windows of the offline data; the reading is stated in
   :mod:`pluralign.prec.labelers`), perturbed by the B-Pref teacher (:mod:`pluralign.bpref`).
3. Per K in the grid: leaky EM over K cluster decoders reading the frozen encoder's latents
   (:class:`pluralign.prec.decoders.DecoderMixture`) with the PREC preset the bandit twin shares
   (:func:`pluralign.prec.preset.fit_prec`: EM for 1 < K < N, the fixed pooled / per-user endpoints at
   K = 1 and K = N).
4. One PPO policy per (non-empty) cluster on its learned reward r_k(s, a) = decoder_k(e(s, a)) through
   :class:`pluralign.rl.reward.LearnedRewardVecEnv`; policies of all pending cells train in parallel
   (:func:`pluralign.runs.map_unordered`: local joblib processes, or with ``backend="ray"`` one Ray task per
   policy declaring ``ppo.torch_threads`` CPUs, retried when its worker dies).
5. Evaluation (App. C.2): E episodes of each policy; user i's utility is App. C.2's
   r_i = mean_e <w_i, phi(episode e)> in [0, 1] of the policy of their cluster; the three welfare
   measures of :mod:`pluralign.welfare`; training time per K. Per K: mean +- s.e.m. over replicates
   (:func:`pluralign.runs.mean_sem`).
6. Reference policies per replicate (:data:`REFERENCES`): a uniformly random policy, the untrained PPO
   policy every cluster policy starts from, and PPO at the same budget on the users' true mean reward and
   on the environment's own reward, each scored for the same users (``results.json["references"]``): a
   cluster policy has learned something for its users only where it beats the untrained policy.

Every (env, noise, K, seed, replicate) cell is written atomically with :class:`pluralign.runs.CellStore`
and skipped when re-run; finished policies are stored too (``<out>/policies/cells``), so an interrupted
cell resumes from its finished policies. The study writes numbers only (``results.json``); the figures
are drawn by :mod:`pluralign.paper_figures.prec`.

Seeds (:mod:`pluralign.seeding`): replicate r of base seed s draws its users from ``derive(s, r,
"users")``, its segments from ``(s, r, "segments")`` and its teacher's randomness from ``(s, r,
"teacher")`` (the same under every teacher: teachers are compared on paired data); cell K's decoders and
EM are seeded by ``derive_int(s, r, "decoders", K)`` / ``(s, r, "em", K)`` and cluster k's PPO by
``(s, r, "ppo", K, k)``, whose evaluation episodes use the child ``"evaluation"`` of the PPO seed; reference
policy ``name`` of replicate r is seeded by ``(s, r, "reference", name)`` (evaluation: its child
``"evaluation"``).

FINDINGS (2026-12-01, quick profile, 3 replicates, base seed 0, a shared 2-CPU machine; tables in the
closing note of that day and in ``results/prec/quick/*/results.json``).  Every number in these bullets but
the last was measured with the decoders scoring a segment by the mean (1/T) sum_t r, not eq. 4 / eq. 6's
printed sum (``prec run --segment-score mean`` reruns that reading; config DEVIATIONS
"segment_score_before_20261202"), and under a MuJoCo version nobody recorded (the medium bullet's: 4.0.0;
pluralign.rl.envs.PHYSICS_NOTE).  The last bullet holds the reruns under the printed sum and the pinned MuJoCo:

* HalfCheetah (oracle, noise 1, noise 2; populations broad / bimodal / trimodal / polarized): utilitarian
  welfare is flat in K = 1..10 within the error bars (.683-.692; bimodal .718-.723) and lowest at K = 30
  (.676-.681); the SPR-encoder ablation (noise 2) is not lower without the encoder (.676-.693), opposite
  to Fig. 12 but within the error bars.  The quick policies (16k PPO steps) barely move: behaviour
  features phi of all cluster policies of a cell spread by < .01 (Figs. 8-11: every cluster's policy sits
  at the centroid), although leaky EM recovers the population's modes (ARI vs modes up to 1.0 bimodal,
  .81 polarized).  At quick, no K effect on HalfCheetah can show.
* Hopper (all three teachers) and Walker2d (oracle, noise 1): welfare rises with K and is highest at the
  per-user K = 30 (Hopper oracle .280 at K = 1 to .409 at K = 30, noise 2 .241 to .380), the opposite of
  "intermediate K wins"; under noise 2 Walker2d's K = 30 is its lowest (.375 against .419 at K = 1, within
  the error bars), the direction of the paper's data-scarcity argument.  The K = 30
  policies fall less: mean env return 76 / 66 and x-velocity -0.07 / -0.21 (Hopper / Walker2d, oracle)
  against returns < 10 and x-velocities -0.6 to -1.5 for K <= 10, whose policies learn to fall backward
  at once (diagnosis in the last bullet).
* Ant: oracle .598 at K = 1 to .702 at K = 10; noise 1 peaks at K = 3 (.789 +- .025 against .689 +- .120
  at K = 1 and .690 +- .021 at K = 30) and noise 2 at K = 5 (.808 +- .032 against .768 +- .113 at K = 1 and
  .717 +- .041 at K = 30), the paper's shape, but with error bars of +-.03-.12 and (next bullet) within
  reach of the untrained policy.
* Reference policies (second sitting of 2026-12-01; :data:`REFERENCES`, added after the results above
  were seen, and ``python -m pluralign.experiments.prec.diagnose --run DIR [--start-sign]``).  Utilitarian
  welfare when every user gets the untrained PPO policy (near-zero action) / PPO at the same 16k steps on
  the users' true mean reward, oracle runs: HalfCheetah .676 / .682, Hopper .418 / .610, Walker2d .478 /
  .501, Ant .689 / .755 (the references do not depend on the teacher).  In the oracle runs no PREC K
  beats the untrained policy by more than .013 (HalfCheetah K <= 10 .683-.685, Ant K = 10 .702), and on
  Hopper and Walker2d every K <= 10 is below it (.280-.332 and .389-.408; Hopper K = 1 is below the random
  policy's .322); only Ant under noise 1 / 2 clears it (.789 at K = 3, .808 at K = 5).  So the quick budget can improve welfare on
  Hopper and Ant (PPO on the true reward gains .19 and .07), but PREC's learned rewards do not, and on
  HalfCheetah 16k steps move no policy.  Two mechanisms, both measured:
  (a) Termination bias.  A good/bad decoder's zero is the rating threshold, and most segments are rated
  bad (18-25% good on Hopper / Walker2d), so the learned reward is negative on the untrained policy's
  (standing) states: replicate 0, refitted decoders, per-step mean -1.5 to -4.4 for K = 1..10 on Hopper
  and Walker2d (negative in 67-100% of the clusters; positive, +2.5 to +3.5, on HalfCheetah, whose episodes
  never end early).  Where falling ends the episode, ending it early pays: the K = 1 policies fall within
  8-20 steps in all 6 Hopper / Walker2d replicates, and in 5 of them the falling states are themselves
  rewarded (+3 to +9 per step).  PPO on the true reward (in [0, 1], never negative) stays up 36 / 171
  steps (Hopper / Walker2d).  A survival-neutral reading of the decoder (e.g. a sigmoid of its output) is not printed in seed
  000 and was not tried.
  (b) K = 30 does not learn at all.  Every per-user label set is linearly separable in the decoders' 32
  features (90/90 users, oracle, all four envs; under noise 2, whose 'equal' labels are left out, 89/90
  on HalfCheetah, 68-70/90 on Hopper and Walker2d), so a per-user logistic decoder has no maximum-likelihood fit: L-BFGS stops at its budget with
  per-step rewards of 10^3-10^4 (median |r| on its own episodes: Hopper 4.9e3, HalfCheetah 7.7e3; 2-9 for
  K <= 10).  PPO does not move on a reward of that scale: the true mean reward x 1e4 leaves the mean
  |action| at .01 against .18 unscaled (Hopper, 16k steps, 2 seeds each).  The K = 30 policies are the
  untrained policy (Hopper .409 vs .418 untrained), which on Hopper and Walker2d falls later than any
  policy that learned (a): that is the whole of K = 30's "win" there, not per-user alignment.
  What-if, run to test (b) (``pluralign prec run --env Hopper-v5 --noise oracle --normalize-reward``:
  PPO on the learned reward over a running std of the return, not in Table 2 and in no profile; 1263
  CPU-s): K = 30 falls from .409 to .356 +- .009 (its policies now move: x-velocity -0.38, env return 6.8),
  inside the K <= 10 range (.272-.351, unchanged within the error bars), and every K stays below the
  untrained policy's .418, as (a) predicts (the scaling keeps the reward's sign); PPO on the true mean
  reward reaches .626 with it.
* Fig. 3 populations on Hopper and Walker2d (bimodal, trimodal, polarized; oracle): the same picture in
  every population: K = 30 is highest and equals the untrained policy within the error bars (Hopper .380 /
  .415 / .418 against .379 / .416 / .413; Walker2d .341 / .432 / .440 against .394 / .467 / .468, there
  below it), every K <= 10 lower (Hopper .244-.363, Walker2d .182-.376), PPO on the true mean reward far
  above (.57-.61, .54-.56).  No population makes an intermediate K win at quick.
* Fig. 3 populations on Ant (bimodal, trimodal, polarized; oracle; 2026-12-02): every K <= 10 is above
  the untrained policy (.810 / .687 / .686) and the best is an endpoint or next to it: bimodal K = 1
  .965 +- .001 (K = 2..10 .853-.927), polarized K = 1 .925 +- .013 (K = 2..10 .758-.844), trimodal K = 2
  .884 +- .016 (K = 1 .738 +- .168).  Leaky EM recovers the modes (ARI vs modes .72-.77 bimodal, .45-.52
  trimodal, .54-.88 polarized for K >= 2), yet the pooled policy serves the bimodal and polarized users
  best.  K = 30 equals the untrained policy again (.802 / .703 / .700, mechanism (b)).  No Ant policy
  moves (x-velocity within +-.03; env return 830-990 of the 1000 the standing untrained policy earns):
  they differ in posture only.  The best K also beats PPO on the users' true mean reward with the same
  budget (.793 / .702 / .653).  Not explained: reward scale is not it (bimodal, `diagnose`: the K = 1
  decoder's |r| is 1.1 per step, the smallest of K <= 10 (1.1-5.2), against <w_bar, phi> ~ .8), and the
  true-mean-reward PPO's s.e.m. (.02-.15) says its 16k steps are themselves noisy.
* medium, HalfCheetah noise 2, the first references (2026-12-02, replicates 0 and 1): PPO on the users' true
  mean reward <w_bar, phi> reaches phi = (1.000, 1.000, 1.000) at every step of every evaluation episode
  (true mean return 999.9 of 1000), so every user's utility is 1 and all three welfare measures are
  1.000.  The three PCA features are linear in (s, a) and can be pushed past the offline data's window
  range together, where the [0, 1] scaling clips them (App. C.2 prints f in [0, 1]^C; min-max plus
  clipping is our reading, DEVIATIONS offline_data).  The env return of that policy is about -600 and
  its x-velocity 0, against 1,265-1,722 and 1.6-2.1 m/s for PPO on the env reward (utilitarian
  .41-.48; untrained .64-.65; random .57-.62).  So in this preference space one behaviour is best for
  every user at once: a learned reward that finds it serves every user fully with K = 1, and welfare
  cannot favour an intermediate K.  The run goes on unchanged (the cluster policies' numbers are what
  they are); a space in which the features trade off is a change of the testbed, to be decided and
  named before it is run, not after.
* Reruns of 2026-12-02 (printed segment sum, MuJoCo 3.17.0, quick, 3 replicates; tables in that day's
  closing note).  Hopper oracle, whose physics and references are unchanged (untrained .418, true mean
  reward .613 against .418 / .610): K <= 10 .248-.297 (was .280-.332), still below the untrained policy
  (mechanism (a) is sign, not scale); K = 30 .366 +- .016 (was .409, the untrained policy), its policies now
  move (x-velocity -0.28, env return 10.3): under the printed sum the per-user separable fits stop at
  smaller per-step rewards (``diagnose`` median |r| on the policies' own episodes, K = 30: Hopper 36,
  HalfCheetah 1.9, Walker2d 17.8, Ant 982, against 4.9e3 / 7.7e3 under the mean; K <= 10: .06-.24, about
  1/30 of the mean's 2-9), the same effect as the --normalize-reward what-if (.356, -0.38).
  HalfCheetah noise 2: flat in K = 1..10 (.663-.678), lowest at K = 30 (.653 +- .010), untrained .643,
  true mean reward .655 (earlier, under an unrecorded setup: .676 / .682; under MuJoCo 4.0.0 the same code
  gives .478 / .486 and K = 1..30 .476-.500).  Without the encoder (Fig. 12): K = 1..10 .677-.682, K = 30
  .645, not below the encoder's (as before).  With ``--segment-score mean`` (same physics, cache and
  labels): K = 1..10 .655-.661, K = 30 .649, median |r| per step 1.0-2.1 (K <= 10) and 157 (K = 30).
  Ant noise 2: K = 3 .808 +- .033, K = 2 .804, K = 1 .784, K = 30 .763, all within the error bars of the
  untrained policy (.768 +- .044); PPO on the true mean reward .584 at 16k steps.  Walker2d noise 2: K = 10
  .762 +- .011 highest, K = 30 .682 +- .021 lowest, K <= 10 between the untrained policy (.711 +- .049) and
  PPO on the true mean reward (.765), the K <= 10 policies still falling within 51-58 steps; its references differ
  from the earlier ones (.478 / .501) though its physics is the same under every MuJoCo tried (cause not
  found; PHYSICS_NOTE).  The picture of the bullets above holds under the printed sum: at quick no K is
  separated from the untrained policy on HalfCheetah and Ant, and no intermediate K wins.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pluralign.bpref import make_teacher
from pluralign.data import Ratings
from pluralign.em import adjusted_rand_index
from pluralign.experiments.prec.config import DEVIATIONS, NOISE_NAMES, PrecConfig, parse_noise
from pluralign.experiments.prec.offline import OfflineBundle, PreferenceSpace, load_or_build
from pluralign.prec.decoders import ClusterDecoders, DecoderMixture
from pluralign.prec.preset import PrecFit, fit_prec
from pluralign.prec.labelers import make_population, step_scores, user_score_range, user_thresholds
from pluralign.rl.envs import collect_episodes, env_fns, make_env
from pluralign.rl.ppo import PPOConfig, evaluate_policy_episodes, make_ppo, train_ppo
from pluralign.rl.reward import EncoderDecoderReward, StandardizeFeatures
from pluralign.rl.spr import spr_windows
from pluralign.runs import CellStore, map_unordered, mean_sem, read_json, tqdm_bar, write_json
from pluralign.seeding import derive, derive_int
from pluralign.welfare import welfare

__all__ = ["NOISE_NAMES", "MEASURES", "REFERENCES", "TrueReward", "parse_noise", "make_problem", "fit_clusters",
           "cluster_decoder", "reference_episodes", "reference_seed", "reference_task", "replicate_users", "run",
           "summarize", "SimulatedInterrupt"]

MEASURES = ("utilitarian", "egalitarian", "nash", "train_seconds", "ari_vs_modes", "n_policies")
"""Per-cell numbers summarized per K (mean +- s.e.m. over replicates)."""

POLICY_MEASURES = ("env_return", "x_velocity")
"""Per-policy numbers (the environment's own return and the mean forward velocity of its evaluation
episodes), averaged over a cell's policies, then summarized per K as :data:`MEASURES`."""


REFERENCES = ("random", "initial", "true_mean_reward", "env_reward")
TRAINED_REFERENCES = ("true_mean_reward", "env_reward")
"""The references that train PPO (the other two are evaluated only)."""
"""The reference policies evaluated beside every run, once per replicate (:func:`reference_task`):

* ``random``: uniformly random actions;
* ``initial``: the untrained PPO policy (the profile's PPO settings, no update), evaluated deterministically
  as the cluster policies are: where every cluster policy starts from (its mean action is near 0: SB3
  initialises the action layer with gain 0.01);
* ``true_mean_reward``: PPO at the profile's budget on the users' true reward averaged over the
  replicate's users, r(s, a) = <w_bar, phi(s, a)> (:class:`TrueReward`): the pooled K = 1 policy with a
  perfectly learned reward;
* ``env_reward``: PPO at the profile's budget on the environment's own reward (running forward).

They depend on the users, the preference space and the PPO settings, not on the teacher or the encoder, so
they are stored once per offline cache (``<cache>/references``) and shared by the runs that use it."""


class SimulatedInterrupt(RuntimeError):
    """Raised by ``run(..., stop_after_cells=n)`` after n new cells (used to test resuming)."""


def feature_module(bundle: OfflineBundle, use_encoder: bool) -> torch.nn.Module:
    """The decoders' input features: the frozen SPR encoder, or (Fig. 12 ablation) the standardized raw
    state-action vector."""
    if use_encoder:
        return bundle.encoder
    x = np.concatenate([bundle.data["obs"], bundle.data["act"]], axis=1)
    return StandardizeFeatures(x.mean(0), x.std(0) + 1e-6, bundle.data["obs"].shape[1]).eval()


@dataclass
class Problem:
    """One replicate's users, segments and labels."""

    weights: np.ndarray  # (N, 3) user weights on the simplex
    mode: np.ndarray  # (N,) population mode of each user (ground-truth group)
    ratings: Ratings  # N*M good/bad labels (segment ids 0..S-1)
    segment_features: np.ndarray  # (S, T, d) decoder inputs
    segment_phi: np.ndarray  # (S, T, 3) behaviour features
    label_kinds: np.ndarray  # (S,) teacher type applied to each label
    scale: tuple[np.ndarray, np.ndarray]  # (lo, hi) (N,) each: the users' 10-point scales (labelers.user_score_range)
    tau: np.ndarray  # (N,) App. C.1's thresholds on S = sum_t <w_i, phi_t> (labelers.user_thresholds)


RESUME_FREE = ("n_seeds", "Ks")
"""Settings a resumed ``prec run`` may change (pluralign.runs.prepare_run ``resume_free``): a cell (K,
replicate) and a reference (replicate, name) are seeded by their own indices, never by the replicate count or
the K grid, and :func:`summarize` / :func:`reference_summary` read only the cells of the current grid; so a
run grows by more seeds or another K, and a smaller grid reports its subset."""


def replicate_users(config: PrecConfig, seed: int, replicate: int):
    """Replicate ``replicate``'s N users (:func:`pluralign.prec.labelers.make_population` seeded by
    ``derive(seed, replicate, "users")``: the same under every teacher and K)."""
    return make_population(config.population, config.n_users, derive(seed, replicate, "users"))


def make_problem(bundle: OfflineBundle, config: PrecConfig, seed: int, features: torch.nn.Module,
                 replicate: int = 0) -> Problem:
    """Replicate ``replicate``'s users, their M segments each and their labels under ``config.noise`` (same
    seed and replicate -> same users and segments under every teacher, so teachers are compared on paired
    data)."""
    N, M, T = config.n_users, config.n_segments, config.segment_len
    pop = replicate_users(config, seed, replicate)
    data = bundle.data
    starts = spr_windows(data["episode"], data["t"], T - 1)
    if len(starts) == 0:
        raise ValueError(f"segment_len: no offline episode has {T} consecutive steps")
    start = derive(seed, replicate, "segments").choice(starts, size=N * M)
    user = np.repeat(np.arange(N), M)
    idx = start[:, None] + np.arange(T)[None, :]
    obs, act = data["obs"][idx], data["act"][idx]
    phi = bundle.space(obs, act)
    scale = user_score_range(pop.weights, window_mean_phi(bundle, starts, T))
    scores = step_scores(pop.weights, phi, user, scale)
    label, weight, kinds = make_teacher(parse_noise(config.noise), tau=config.good_threshold).label_arrays(scores, derive(seed, replicate, "teacher"))
    ratings = Ratings(user=user, segment=np.arange(N * M), label=label, weight=weight, n_users=N)
    feats = features.encode(obs, act).astype(np.float64)
    if config.decoder.n_hidden == 0 and config.decoder.aggregate == "mean":
        # a linear decoder's segment score is the decoder of the mean feature (exact); T-fold less work
        feats = feats.mean(axis=1, keepdims=True)
    return Problem(pop.weights, pop.mode, ratings, feats, phi, kinds, scale, user_thresholds(scale, T))


def window_mean_phi(bundle: OfflineBundle, starts: np.ndarray, T: int) -> np.ndarray:
    """(len(starts), 3) time-mean behaviour features of the offline T-step windows starting at ``starts``
    (the reference segments of the users' 10-point scales)."""
    phi = bundle.space(bundle.data["obs"], bundle.data["act"])
    c = np.vstack([np.zeros((1, phi.shape[1])), np.cumsum(phi, axis=0)])
    return (c[starts + T] - c[starts]) / T


def fit_clusters(problem: Problem, config: PrecConfig, K: int, seed: int, replicate: int = 0) -> tuple[PrecFit, DecoderMixture]:
    """Leaky EM (seed 000 eq. 10-13) over K cluster decoders with the shared PREC preset
    (:func:`pluralign.prec.preset.fit_prec`: EM for 1 < K < N, the fixed pooled / per-user endpoints at
    K = 1 and K = N)."""
    model = DecoderMixture(problem.ratings, segment_features=problem.segment_features, config=config.decoder,
                           seed=derive_int(seed, replicate, "decoders", K))
    fit = fit_prec(model, problem.ratings, problem.segment_features, K, leak=config.leak,
                   n_restarts=config.em_restarts, max_iter=config.em_max_iter,
                   seed=derive_int(seed, replicate, "em", K))
    return fit, model


def _em_task(problem: Problem, config: PrecConfig, K: int, seed: int, replicate: int):
    """Leaky EM of one (replicate, K) cell in a worker: (assignment, decoders, objective, iterations, wall
    seconds, CPU seconds)."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    t0, c0 = time.perf_counter(), time.process_time()
    em, _ = fit_clusters(problem, config, K, seed, replicate)
    return (np.asarray(em.labels), em.params, float(em.objective), len(em.trace), time.perf_counter() - t0,
            time.process_time() - c0)


def cluster_decoder(decoders: ClusterDecoders, k: int) -> torch.nn.Module:
    """Cluster k's per-step reward decoder as a plain float32 feed-forward module (so the reward wrapper
    can run it in numpy); equal to ``decoders.step_rewards(x)[k]`` (tested)."""
    with torch.no_grad():
        if decoders.n_hidden > 0:
            l1 = torch.nn.Linear(decoders.d_in, decoders.n_hidden)
            l1.weight.copy_(decoders.W1[k].T)
            l1.bias.copy_(decoders.b1[k, 0])
            l2 = torch.nn.Linear(decoders.n_hidden, 1)
            l2.weight.copy_(decoders.W2[k].T)
            l2.bias.copy_(decoders.b2[k, 0])
            mod = torch.nn.Sequential(l1, torch.nn.LeakyReLU(0.01), l2)
        else:
            lin = torch.nn.Linear(decoders.d_in, 1)
            lin.weight.copy_(decoders.W2[k].T)
            lin.bias.copy_(decoders.b2[k, 0])
            mod = torch.nn.Sequential(lin)
    return mod.float().eval().requires_grad_(False)


def _episode_metrics(ep: dict, space: PreferenceSpace, seconds: float, reward=None) -> dict:
    """Per-episode numbers of evaluation episodes ``ep`` (:func:`pluralign.rl.envs.collect_episodes`): mean
    behaviour features (E, 3), env return, length, mean x-velocity, and the return under ``reward``."""
    phi = space(ep["obs"], ep["act"])
    E = int(ep["episode"].max()) + 1
    cnt = np.bincount(ep["episode"], minlength=E)

    def per_ep(x):
        return np.bincount(ep["episode"], weights=x, minlength=E) / cnt

    out = {
        "train_seconds": float(seconds),
        "episode_phi": np.stack([per_ep(phi[:, c]) for c in range(phi.shape[1])], axis=1),  # (E, 3)
        "env_return": np.bincount(ep["episode"], weights=ep["env_reward"], minlength=E),
        "episode_len": cnt,
        "x_velocity": per_ep(ep["x_velocity"]),
    }
    if reward is not None:
        out["learned_return"] = np.bincount(ep["episode"], weights=reward(ep["obs"], ep["act"]), minlength=E)
    return out


def policy_task(env_id: str, ppo: PPOConfig, seed: int, reward: EncoderDecoderReward, space: PreferenceSpace,
                eval_episodes: int, max_episode_steps: int | None) -> dict:
    """Train one cluster policy (PPO seed ``seed``) on its learned reward and evaluate it (runs in a worker
    process)."""
    model, seconds = train_ppo(env_id, ppo, seed, reward_fn=reward, max_episode_steps=max_episode_steps)
    ep = evaluate_policy_episodes(model, env_id, eval_episodes, seed=derive_int(seed, "evaluation"),
                                  max_episode_steps=max_episode_steps)
    return _episode_metrics(ep, space, seconds, reward)


class TrueReward:
    """The users' true per-step reward r(s, a) = <w, phi(s, a)> on the preference space (App. C.1's score of
    a user with weights w, per step); picklable, so PPO workers can run it."""

    def __init__(self, space: PreferenceSpace, w):
        self.space, self.w = space, np.asarray(w, dtype=np.float64)

    def __call__(self, obs: np.ndarray, act: np.ndarray) -> np.ndarray:
        return self.space(obs, act) @ self.w


def reference_seed(seed: int, replicate: int, name: str) -> int:
    """The PPO seed of reference policy ``name`` of one replicate (its evaluation: the child ``"evaluation"``)."""
    return derive_int(seed, replicate, "reference", name)


def reference_episodes(name: str, env_id: str, ppo: PPOConfig, seed: int, eval_episodes: int,
                       max_episode_steps: int | None, reward=None) -> tuple[dict, float]:
    """(evaluation episodes, PPO seconds) of reference policy ``name`` (:data:`REFERENCES`; PPO seed ``seed``,
    evaluation episodes seeded by its child ``"evaluation"``, as the cluster policies); ``reward`` is the
    true mean reward ``true_mean_reward`` trains on."""
    if name not in REFERENCES:
        raise ValueError(f"reference: must be one of {', '.join(REFERENCES)}, got {name!r}")
    eval_seed = derive_int(seed, "evaluation")
    if name == "random":
        space_a = make_env(env_id, max_episode_steps=max_episode_steps).action_space
        rng = derive(seed, "actions")
        return collect_episodes(lambda o: rng.uniform(space_a.low, space_a.high, size=(len(o), space_a.shape[0])),
                                env_id, eval_episodes, eval_seed, max_episode_steps), 0.0
    seconds = 0.0
    if name == "initial":
        from stable_baselines3.common.vec_env import DummyVecEnv

        torch.set_num_threads(int(ppo.torch_threads))
        model = make_ppo(DummyVecEnv(env_fns(env_id, 1, None, max_episode_steps)), ppo, seed)
    else:
        if name == "true_mean_reward" and reward is None:
            raise ValueError("reward: true_mean_reward needs the users' true mean reward")
        model, seconds = train_ppo(env_id, ppo, seed, reward_fn=reward if name == "true_mean_reward" else None,
                                   max_episode_steps=max_episode_steps)
    return evaluate_policy_episodes(model, env_id, eval_episodes, seed=eval_seed,
                                    max_episode_steps=max_episode_steps), seconds


def reference_task(name: str, env_id: str, ppo: PPOConfig, seed: int, space: PreferenceSpace, w_bar,
                   eval_episodes: int, max_episode_steps: int | None) -> dict:
    """Evaluate reference policy ``name`` (:func:`reference_episodes`); ``w_bar`` is the users' mean weight.
    The returned ``true_mean_return`` is each episode's return under :class:`TrueReward` (w_bar)."""
    true = TrueReward(space, w_bar)
    ep, seconds = reference_episodes(name, env_id, ppo, seed, eval_episodes, max_episode_steps, true)
    out = _episode_metrics(ep, space, seconds, true)
    out["true_mean_return"] = out.pop("learned_return")
    return out


def cell_key(env_id: str, noise: str, K: int, seed: int, replicate: int, use_encoder: bool) -> str:
    """The CellStore key of one (env, teacher, K, base seed, replicate) cell."""
    return f"env={env_id}_noise={noise}_K={K}_seed={seed}_rep={replicate}" + ("" if use_encoder else "_noenc")


def user_utilities(weights: np.ndarray, assignment: np.ndarray, policy_phi: dict[int, np.ndarray]) -> np.ndarray:
    """App. C.2's r_i = (1/E) sum_e <w_i, f(episode e)> in [0, 1] of the policy of user i's cluster."""
    return np.array([np.mean(policy_phi[int(z)] @ w) for w, z in zip(weights, assignment)])


def _welfare_of(u: np.ndarray) -> dict:
    """The three welfare measures of utilities ``u`` (Nash shifted by 1 - min u when some u <= 0), the shift
    and ``u``."""
    shift = None if np.all(u > 0) else float(1.0 - u.min())
    return {**{m: float(v) for m, v in welfare(u, shift=shift).items()}, "nash_shift": shift, "utilities": u}


def _reference_metrics(weights: np.ndarray, res: dict) -> dict:
    """A reference policy's numbers when every user (``weights``) gets it."""
    phi = np.asarray(res["episode_phi"])
    u = user_utilities(weights, np.zeros(len(weights), dtype=int), {0: phi})
    return {**_welfare_of(u), **res}


REFERENCE_MEASURES = ("utilitarian", "egalitarian", "nash", "env_return", "x_velocity", "episode_len",
                      "true_mean_return", "train_seconds")
REFERENCE_ROW_EXTRAS = ("cpu_seconds",)
"""Kept per (replicate, reference) row only (absent from references stored before they were kept)."""
"""Per reference policy, summarized over replicates (episode numbers: the mean over its evaluation episodes)."""


def reference_store(bundle: OfflineBundle) -> CellStore:
    """Where the reference policies of runs on ``bundle`` are kept (shared by its teachers and encoders)."""
    return CellStore(Path(bundle.cache_dir) / "references")


def reference_key(config: PrecConfig, seed: int, replicate: int, name: str) -> str:
    """The store key of reference ``name`` of one replicate: the users (population, N, seed, replicate) and
    everything the policy depends on besides the offline cache (PPO, evaluation, the space's window)."""
    from pluralign.experiments.prec.config import config_hash

    tag = config_hash({"ppo": config.ppo, "eval_episodes": config.eval_episodes, "segment_len": config.segment_len,
                       "max_episode_steps": config.offline.max_episode_steps})
    return f"pop={config.population}_N={config.n_users}_seed={seed}_rep={replicate}_ref={name}_{tag}"


def reference_summary(rstore: CellStore, config: PrecConfig, seed: int) -> tuple[dict, list[dict]]:
    """Per reference name: :data:`REFERENCE_MEASURES` as mean +- s.e.m. over the finished replicates; and one
    row per finished (replicate, reference)."""
    table, rows = {}, []
    for name in REFERENCES:
        ms = []
        for r in range(config.n_seeds):
            key = reference_key(config, seed, r, name)
            if rstore.done(key):
                m = rstore.load(key)["metrics"]
                ms.append(m)
                rows.append({"name": name, "replicate": r, "phi": np.mean(np.asarray(m["episode_phi"]), axis=0),
                             **{k: float(np.mean(m[k])) for k in REFERENCE_MEASURES},
                             **{k: m.get(k) for k in REFERENCE_ROW_EXTRAS}})
        if ms:
            table[name] = {"n_seeds": len(ms), **{k: mean_sem(float(np.mean(x[k])) for x in ms) for k in REFERENCE_MEASURES}}
    return table, rows


def _cpu_total(parts) -> float | None:
    """The sum of CPU seconds ``parts``; None when one is unknown (a record written before they were kept)."""
    parts = list(parts)
    return None if any(p is None for p in parts) else float(sum(parts))


def _finalize(info: dict, results: dict[int, dict]) -> dict:
    """The metrics of one cell from its EM summary and its policies' evaluation."""
    phi = {k: np.asarray(r["episode_phi"]) for k, r in results.items()}
    u = user_utilities(info["weights"], info["assignment"], phi)
    return {
        **_welfare_of(u),
        "train_seconds": float(sum(r["train_seconds"] for r in results.values())),
        "cpu_seconds": _cpu_total([info.get("em_cpu_seconds"), *(r.get("cpu_seconds") for r in results.values())]),
        "n_policies": len(results),
        "policy_env_return": {k: float(np.mean(r["env_return"])) for k, r in results.items()},
        "policy_x_velocity": {k: float(np.mean(r["x_velocity"])) for k, r in results.items()},
        "policy_phi": {k: np.mean(v, axis=0) for k, v in phi.items()},
        **{k: v for k, v in info.items() if k not in ("tasks",)},
    }


def run(settings: PrecConfig, seed: int, out: Path, progress: bool = True, *,
        stop_after_cells: int | None = None) -> dict:
    """Run (or resume) every (K, replicate) cell of ``settings.env`` and ``settings.noise``; returns the
    summary that is also written to ``out/results.json`` (read back, so it equals the file)."""
    config = settings.validate()
    env_id, teacher = config.env, config.noise
    out = Path(out)
    t_start = time.perf_counter()
    backend, address, n_jobs = config.backend, config.address, config.n_jobs
    sweep = {"n_jobs": n_jobs, "backend": backend, "address": address}  # pluralign.runs.map_unordered
    bundle = load_or_build(env_id, config, seed, Path(config.cache_dir), n_jobs, progress)
    features = feature_module(bundle, config.use_encoder)
    store, pstore = CellStore(out), CellStore(out / "policies")
    replicates = list(range(config.n_seeds))
    max_steps = config.offline.max_episode_steps

    def key_of(K: int, r: int) -> str:
        return cell_key(env_id, teacher, K, seed, r, config.use_encoder)

    pending: dict[str, dict] = {}
    tasks: list[tuple[str, int, object]] = []
    em_jobs = []
    problems: dict[int, Problem] = {}
    for r in replicates:
        todo = [K for K in config.Ks if not store.done(key_of(K, r))]
        if todo:
            problems[r] = make_problem(bundle, config, seed, features, r)
            em_jobs += [(r, K) for K in todo]
    fits: list = [None] * len(em_jobs)
    with tqdm_bar(len(em_jobs), f"leaky EM {env_id} {teacher}", progress) as bar:
        for i, fit in map_unordered(_em_task, [(problems[r], config, K, seed, r) for r, K in em_jobs], **sweep):
            fits[i] = fit
            bar.update(1)
    for (r, K), (z, params, objective, n_iter, seconds, cpu) in zip(em_jobs, fits):
        problem = problems[r]
        key = key_of(K, r)
        clusters = sorted(set(z.tolist()))
        info = {
            "env": env_id, "noise": teacher, "K": int(K), "seed": int(seed), "replicate": int(r),
            "use_encoder": config.use_encoder,
            "weights": problem.weights, "mode": problem.mode, "assignment": z,
            "cluster_sizes": np.bincount(z, minlength=K), "ari_vs_modes": adjusted_rand_index(problem.mode, z),
            "em_objective": objective, "em_iterations": n_iter,
            "em_seconds": seconds, "em_cpu_seconds": cpu, "positive_label_rate": float(np.mean(problem.ratings.label == 1.0)),
            "tau": problem.tau,
            "clusters": clusters,
        }
        pending[key] = info
        for k in clusters:
            pkey = f"{key}_k={k}"
            if pstore.done(pkey):
                continue
            reward = EncoderDecoderReward(features, cluster_decoder(params, k))
            tasks.append((key, k, (env_id, config.ppo, derive_int(seed, r, "ppo", K, k), reward, bundle.space,
                                   config.eval_episodes, max_steps)))

    rstore = reference_store(bundle)
    ref_tasks = []
    for r in replicates:
        W = replicate_users(config, seed, r).weights
        for name in REFERENCES:
            rkey = reference_key(config, seed, r, name)
            if not rstore.done(rkey):
                ref_tasks.append((rkey, name, r, W, (name, env_id, config.ppo, reference_seed(seed, r, name),
                                                      bundle.space, W.mean(axis=0), config.eval_episodes, max_steps)))

    def policy_results(key: str) -> dict[int, dict] | None:
        info = pending[key]
        if not all(pstore.done(f"{key}_k={k}") for k in info["clusters"]):
            return None
        return {k: pstore.load(f"{key}_k={k}")["metrics"] for k in info["clusters"]}

    new_cells = 0

    def maybe_finish(key: str) -> None:
        nonlocal new_cells
        res = policy_results(key)
        if res is None or store.done(key):
            return
        info = pending[key]
        store.save(key, {"env": env_id, "noise": teacher, "K": info["K"], "seed": info["seed"],
                         "replicate": info["replicate"], "profile": config.profile, "use_encoder": config.use_encoder},
                   _finalize(info, res))
        new_cells += 1
        if stop_after_cells is not None and new_cells >= stop_after_cells:
            raise SimulatedInterrupt(f"stopped after {new_cells} new cells")

    for key in list(pending):  # cells whose policies all finished before an interruption
        maybe_finish(key)
    # K-major order (every replicate of K = 1, then K = 2, ..., the per-user K = 30 last): a run that spans
    # sittings has multi-seed cells for the small K early; each policy's seed is fixed by its cell, so the
    # order changes when results arrive, not what they are
    tasks.sort(key=lambda t: (pending[t[0]]["K"], pending[t[0]]["replicate"], t[1]))
    jobs = [("reference", t[4]) for t in ref_tasks] + [("policy", t[2]) for t in tasks]
    with tqdm_bar(len(jobs), f"PPO {env_id} {teacher}", progress, unit="policy") as bar:
        # results come back in order of completion; the driver writes each policy, then its cell once whole
        # (a lost Ray worker's task is retried; a killed driver loses only unfinished policies); the
        # reference policies go first, so an interrupted run already has its yardsticks
        for i, res in map_unordered(_sweep_worker, jobs, num_cpus=config.ppo.torch_threads, **sweep):
            if i < len(ref_tasks):
                rkey, name, r, W, _ = ref_tasks[i]
                rstore.save(rkey, {"env": env_id, "reference": name, "seed": int(seed), "replicate": int(r),
                                   "population": config.population, "profile": config.profile},
                            _reference_metrics(W, res))
            else:
                key, k = tasks[i - len(ref_tasks)][0], tasks[i - len(ref_tasks)][1]
                pstore.save(f"{key}_k={k}", {"cell": key, "k": k}, res)
                maybe_finish(key)
            bar.update(1)
    summary = summarize(store, config, seed)
    summary["references"], summary["reference_cells"] = reference_summary(rstore, config, seed)
    summary["wall_seconds_this_invocation"] = time.perf_counter() - t_start
    summary["compute"] = compute_summary(summary, summary["reference_cells"], bundle.build)
    summary["cache_dir"] = str(bundle.cache_dir)
    summary["pca_explained_variance_ratio"] = bundle.space.explained_variance_ratio
    return read_json(write_json(out / "results.json", summary))


def _policy_worker(*args):
    """:func:`policy_task` looked up at call time (so a test may replace it)."""
    return policy_task(*args)


def _sweep_worker(kind: str, args: tuple):
    """One task of the PPO sweep: a cluster policy (``"policy"``) or a reference policy (``"reference"``),
    with the CPU seconds it took in its worker (``cpu_seconds``: training and evaluation)."""
    c0 = time.process_time()
    res = _policy_worker(*args) if kind == "policy" else reference_task(*args)
    return {**res, "cpu_seconds": time.process_time() - c0}


def summarize(store: CellStore, config: PrecConfig, seed: int) -> dict:
    """Per K, every measure of :data:`MEASURES` as mean +- s.e.m. over replicates (:func:`pluralign.runs.mean_sem`),
    and every cell's numbers (with the users' weights, the assignment and the policies' mean features, from
    which :func:`pluralign.paper_figures.prec.cluster_pictures` draws)."""
    replicates = list(range(config.n_seeds))
    cells = [c for c in store.all() if c["config"]["env"] == config.env and c["config"]["noise"] == config.noise
             and c["config"]["seed"] == seed and c["config"].get("replicate") in replicates
             and c["config"].get("use_encoder", True) == config.use_encoder and c["config"]["K"] in config.Ks]
    table = {}
    for K in config.Ks:
        ms = [c["metrics"] for c in cells if c["config"]["K"] == K]
        if ms:
            table[str(K)] = {"n_seeds": len(ms), **{m: mean_sem(x[m] for x in ms) for m in MEASURES},
                             **{m: mean_sem(float(np.mean(list(x[f"policy_{m}"].values()))) for x in ms)
                                for m in POLICY_MEASURES}}
    keep = ("utilitarian", "egalitarian", "nash", "train_seconds", "cpu_seconds", "cluster_sizes", "ari_vs_modes", "policy_env_return",
            "policy_x_velocity", "positive_label_rate", "weights", "assignment", "policy_phi", "utilities")
    return {
        "env": config.env, "noise": config.noise, "profile": config.profile, "seed": int(seed), "replicates": replicates,
        "Ks": list(config.Ks), "use_encoder": config.use_encoder, "population": config.population, "table": table,
        "deviations": DEVIATIONS,
        "n_cells": len(cells), "n_cells_expected": len(config.Ks) * len(replicates),
        "cells": [{"key": c["key"], "K": c["config"]["K"], "replicate": c["config"]["replicate"],
                   **{k: c["metrics"].get(k) for k in keep}} for c in cells],
    }


def compute_summary(summary: dict, reference_rows: list[dict], build: dict) -> dict:
    """The CPU seconds behind a run's results, summed over every sitting that made them (each task measured
    in the process that ran it, so interruptions and resumes add up): ``cells`` (leaky EM + the cluster
    policies' PPO and evaluation of the finished cells), ``references`` (its finished reference policies;
    shared with the runs of the same env, population and seed), ``offline`` and ``spr`` (the offline cache's
    build; shared by every run of the env, profile and seed). ``unknown`` counts the records written before
    CPU time was kept (their seconds are missing from the sums); ``total_cpu_hours`` adds what is known."""
    cells = [c.get("cpu_seconds") for c in summary["cells"]]
    refs = [r.get("cpu_seconds") for r in reference_rows]
    off, spr = (build.get("offline") or {}).get("cpu_seconds"), (build.get("spr") or {}).get("cpu_seconds")
    agents = (build.get("offline") or {}).get("agents") or []
    known = lambda xs: float(sum(x for x in xs if x is not None))  # noqa: E731
    out = {"cells_cpu_seconds": known(cells), "references_cpu_seconds": known(refs),
           "offline_cpu_seconds": off, "spr_cpu_seconds": spr,
           "unknown": {"cells": sum(x is None for x in cells), "references": sum(x is None for x in refs),
                       "offline": int(off is None) + sum(a is None for a in agents), "spr": int(spr is None)}}
    out["total_cpu_hours"] = (out["cells_cpu_seconds"] + out["references_cpu_seconds"] + (off or 0.0) + (spr or 0.0)) / 3600
    return out
