"""The registry: every implementation the conformance suite covers, each with a small factory.

An :class:`Implementation` names what is covered (``target``), its kind (``mixture``: an EM adapter of
:class:`pluralign.em.MixtureEM`; ``reward``: a reward model / estimator; ``aggregator``: a rule that
turns many voters into one outcome), builds its case on a tiny problem lazily (``build``, so listing the
registry imports no torch), the axioms it claims (aggregators), and its exemptions: check -> the reason
it does not hold. An exemption is never a silent skip: ``tests/test_conformance.py`` runs an exempted
check and expects it to fail (strict xfail), so an exemption that stops being needed is noticed.

Implementations outside the package core (e.g. ``pluralign.sims``' Newton latent-class logit) cannot be
registered here (this layer imports the core and the theory layer only); their own tests can call the
check functions directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np

from pluralign.seeding import derive
from pluralign.testing._aggregator import (
    BASE_AXIOMS,
    AggregatorCase,
    minimax_regret_axiom,
    sample_distributions,
    sample_rewards,
    sample_utilities,
)
from pluralign.testing._mixture import MIXTURE_CHECKS, MixtureCase
from pluralign.testing._reward import REWARD_CHECKS, Call, RewardCase, bad_choices, bad_floats, bad_ids

__all__ = ["Implementation", "IMPLEMENTATIONS", "KINDS", "NOT_COVERED", "get"]

KINDS = ("mixture", "reward", "aggregator")


@dataclass(frozen=True)
class Implementation:
    """One covered implementation."""

    kind: str
    """mixture, reward or aggregator."""
    name: str
    """A unique name (the test ids use it)."""
    target: str
    """What is covered: the dotted path of the class or function."""
    build: Callable[[], Any]
    """-> the :class:`MixtureCase` / :class:`RewardCase` / :class:`AggregatorCase` on a tiny problem."""
    claims: tuple = ()
    """Aggregators: the axioms the rule claims, beyond unanimity and anonymity."""
    exempt: Mapping[str, str] = field(default_factory=dict)
    """check -> why it does not hold (the check is run and expected to fail)."""
    weakened: Mapping[str, str] = field(default_factory=dict)
    """check -> what it checks instead, and why (e.g. a gradient M-step: monotone up to a stated slack)."""
    note: str = ""
    """How the case is set up (what the M-step promises, which settings)."""

    @property
    def checks(self) -> tuple:
        """Every check of this implementation, exempted ones included."""
        if self.kind == "mixture":
            return tuple(MIXTURE_CHECKS)
        if self.kind == "reward":
            return tuple(REWARD_CHECKS)
        return tuple(dict.fromkeys(BASE_AXIOMS + tuple(self.claims)))


# =========================================================================== tiny problems
@lru_cache(maxsize=None)
def _pairs():
    """8 users in 2 taste groups, 6 Bradley-Terry comparisons each, d = 3 (pluralign.personalization)."""
    from pluralign.personalization import synthetic_low_rank

    return synthetic_low_rank(n_users=8, labels_per_user=6, dim=3, rank=2, n_groups=2, seed=0).choices


@lru_cache(maxsize=None)
def _ratings():
    """PREC-style good / bad / equal / skipped ratings of 8 users, segments of T = 4 steps, d = 3."""
    from pluralign.choice import sample_rating
    from pluralign.data import Ratings

    rng = derive(0, "conformance", "ratings")
    N, per, T, d = 8, 6, 4, 3
    user = np.repeat(np.arange(N), per)
    x = rng.normal(size=(N * per, T, d))
    a = 2.0 * rng.normal(size=(2, d))[np.arange(N) % 2][user]
    label = sample_rating((x.mean(1) * a).sum(1), rng, 0.0).astype(float)
    label[::7] = 0.5
    weight = np.ones(N * per)
    weight[::5] = 0.0
    return Ratings(user=user, features=x, label=label, weight=weight)


@lru_cache(maxsize=None)
def _tabular():
    """An EM-DPO tabular testbed (3 prompts x 4 responses, d = 2, two types) and 12 users x 4 ternary
    choices drawn from it."""
    from pluralign.emdpo import TabularTestbed

    tb = TabularTestbed.random(n_prompts=3, n_responses=4, d=2, type_probs=(0.5, 0.5), seed=0)
    return tb, tb.sample(12, 3, derive(0, "conformance", "tabular"), per_user=4).choices


def _policy(l2: float = 0.0):
    from pluralign.emdpo import LogLinearPolicy

    tb, _ = _tabular()
    return LogLinearPolicy(tb.psi, tb.log_ref, tb.beta, l2=l2, max_iter=100, tol=1e-10)


# =========================================================================== EM adapters
def _theta_only(params, perm):
    return {**params, "theta": np.asarray(params["theta"])[perm].copy()}


def _latent_class_logit(m_step: str = "newton"):
    from pluralign.em import LatentClassLogit

    return MixtureCase(make=lambda: LatentClassLogit(_pairs(), l2=0.0, m_step=m_step), n_components=3)


@lru_cache(maxsize=None)
def _item_ratings():
    """Good / bad / equal / skipped ratings of 10 items by 9 users in 3 opinion groups (item ids)."""
    from pluralign.choice import sample_rating
    from pluralign.data import Ratings

    rng = derive(0, "conformance", "item-ratings")
    N, n_items = 9, 10
    user = np.repeat(np.arange(N), n_items)
    item = np.tile(np.arange(n_items), N)
    u = 2.0 * rng.normal(size=(3, n_items))[np.arange(N) % 3][user, item]
    label = sample_rating(u, rng, 0.0).astype(float)
    label[::7] = 0.5
    weight = np.ones(N * n_items)
    weight[::5] = 0.0
    return Ratings(user=user, segment=item, label=label, weight=weight)


def _preference_mixture():
    from pluralign.mixture import PreferenceMixture

    r = _item_ratings()
    bad = (("data", "an array, not Ratings", np.zeros((9, 10)), ("data",)),
           ("data", "Ratings without item ids", _ratings(), ("data",)))
    return RewardCase(make=lambda seed: PreferenceMixture(2, "ratings", n_restarts=2, max_iter=20, seed=seed),
                      fit=Call({"data": r}, bad), query=Call({"data": r}, bad[:1]), method="predict_proba",
                      output_shape=(r.n_users, 2))


def _rating_mixture():
    from pluralign.mixture import RatingMixture

    return MixtureCase(make=lambda: RatingMixture(_item_ratings(), ridge=0.1), n_components=3)


def _emdpo_model():
    from pluralign.emdpo import EMDPOModel

    return MixtureCase(make=lambda: EMDPOModel(_policy(), _tabular()[1]), n_components=2, tolerance=1e-7)


def _cluster_reward_model(learn: bool):
    from pluralign.personalization import ClusterRewardModel, RewardModelConfig, SharedRepresentationReward

    psi = None
    if learn:
        psi = SharedRepresentationReward(RewardModelConfig(rep_dim=2, max_iter=20, seed=0)).fit(_pairs()).psi_

    ridge = 1e-2 if learn else 0.0  # without it the joint refit of psi runs off to a separable fit

    def make():
        return ClusterRewardModel(_pairs(), psi=psi, learn_representation=learn, l2=ridge, l2_omega=ridge, max_iter=50)

    return MixtureCase(make=make, n_components=2, m_step="monotone" if learn else "exact", tolerance=1e-7,
                       permute=_theta_only, component=lambda p, k: np.asarray(p["theta"])[k], max_iter=4)


def _decoder_mixture(exact: bool):
    from pluralign.prec.decoders import DecoderConfig, DecoderMixture

    if exact:
        cfg = DecoderConfig(n_hidden=0, optimizer="lbfgs", n_steps=50, dtype="float64")
        return MixtureCase(make=lambda: DecoderMixture(_ratings(), config=cfg, seed=0), n_components=2,
                           tolerance=1e-7, max_iter=5)
    cfg = DecoderConfig(n_hidden=8, optimizer="adam", n_steps=20, lr=1e-2, dtype="float64")
    return MixtureCase(make=lambda: DecoderMixture(_ratings(), config=cfg, seed=0), n_components=2, m_step="gradient",
                       tolerance=1e-2, max_iter=5)


# =========================================================================== reward models
def _query_features(n: int = 5, d: int = 3):
    return derive(0, "conformance", "query").normal(size=(n, d))


def _feature_reward_case(make):
    ch = _pairs()
    X, user = _query_features(), np.arange(5) % ch.n_users
    return RewardCase(
        make=make,
        fit=Call({"choices": ch}, bad_choices("choices", ch)),
        query=Call({"features": X, "user": user}, bad_floats("features", X) + bad_ids("user", user, ch.n_users)),
        method="reward",
        output_shape=(5,),
    )


def _shared(pooled: bool):
    from pluralign.personalization import RewardModelConfig, SharedRepresentationReward

    return _feature_reward_case(
        lambda seed: SharedRepresentationReward(RewardModelConfig(rep_dim=2, max_iter=20, seed=seed), pooled=pooled))


def _individual():
    from pluralign.personalization import IndividualReward

    return _feature_reward_case(lambda seed: IndividualReward(l2=1.0, max_iter=30))


def _clustered():
    from pluralign.em import EMConfig
    from pluralign.personalization import ClusteredReward

    return _feature_reward_case(
        lambda seed: ClusteredReward(EMConfig(n_components=2, max_iter=3, seed=seed), max_iter=20))


def _pal(model: str):
    from pluralign.pal import PALConfig, PALRewardModel

    ch = _pairs()
    K = 2
    w = np.full(K, 1.0 / K)
    return RewardCase(
        make=lambda seed: PALRewardModel(PALConfig(model=model, n_prototypes=K, map="linear", d_latent=2, epochs=15,
                                                   seed=seed)),
        fit=Call({"choices": ch}, bad_choices("choices", ch)),
        query=Call({"choices": ch}, bad_choices("choices", ch, users=ch.n_users) + bad_floats("weights", w)),
        method="utilities",
        output_shape=(len(ch), 2),
    )


def _emdpo():
    from pluralign.data import Choices
    from pluralign.emdpo import EMDPO

    tb, ch = _tabular()
    opts = ch.options.copy()
    opts[0, 0] = tb.n_responses
    ctx = ch.context.copy()
    ctx[0] = tb.n_prompts
    bad = bad_choices("choices", ch, features=False) + (
        ("choices", "an option id beyond the policy's responses",
         Choices(user=ch.user, context=ch.context, options=opts, chosen=ch.chosen), ("choices", "options")),
        ("choices", "a context id beyond the policy's prompts",
         Choices(user=ch.user, context=ctx, options=ch.options, chosen=ch.chosen), ("choices", "context")),
    )
    return RewardCase(
        make=lambda seed: EMDPO(_policy(l2=1e-4), n_types=2, init="random", n_restarts=1, max_iter=3, seed=seed),
        fit=Call({"choices": ch}, bad),
        query=Call({}),
        method=lambda est: est.as_fit().thetas,
        output_shape=(2, 2),
    )


# =========================================================================== aggregators
def _power_mean(alpha):
    from pluralign.aggregation import aggregate_rewards

    return lambda: AggregatorCase(aggregate=lambda R: aggregate_rewards(R, alpha), sample=sample_rewards, outcome="scores")


def _leximin():
    from pluralign.aggregation import leximin_order

    return AggregatorCase(aggregate=leximin_order, sample=sample_rewards, outcome="ranking")


def _borda():
    from pluralign.aggregation import borda_scores

    def unanimous(rng):  # all voters rank the items alike: item j scores n * #(items below j)
        R = np.tile(sample_rewards(rng)[:1], (5, 1))
        return R, 5.0 * np.argsort(np.argsort(R[0]))

    return AggregatorCase(aggregate=borda_scores, sample=sample_rewards, outcome="scores", unanimous=unanimous)


def _welfare(measure: str):
    from pluralign import welfare

    fn = {"utilitarian": welfare.utilitarian_welfare, "egalitarian": welfare.egalitarian_welfare,
          "nash": welfare.nash_welfare}[measure]
    return lambda: AggregatorCase(aggregate=fn, sample=sample_utilities, outcome="scalar")


def _pool(name: str, alpha=None):
    from pluralign.aggregation import linear_pool, log_pool, power_pool

    fn = {"linear": linear_pool, "log": log_pool}.get(name) or (lambda P: power_pool(P, alpha))
    return lambda: AggregatorCase(aggregate=fn, sample=sample_distributions, outcome="distribution", atol=1e-10)


def _quadratic_vcg():
    from pluralign.aggregation import QuadraticVCG

    mech = QuadraticVCG(3)
    return AggregatorCase(aggregate=mech.outcome, sample=lambda rng: rng.dirichlet(np.ones(3), size=3),
                          outcome="distribution", mechanism=mech,
                          distance=lambda o, t: ((np.asarray(o) - t) ** 2).sum(-1), n_instances=8)


def _finite_vcg():
    from pluralign.aggregation import FiniteVCG
    from pluralign.aggregation.mechanism import simplex_grid

    grid = simplex_grid(3, 4)
    mech = FiniteVCG(grid, 3, distance="l1")

    def unanimous(rng):
        r = grid[rng.integers(len(grid))]
        return np.tile(r, (3, 1)), r

    return AggregatorCase(aggregate=mech.outcome, sample=lambda rng: rng.dirichlet(np.ones(3), size=3),
                          outcome="distribution", unanimous=unanimous, mechanism=mech,
                          distance=lambda o, t: np.abs(np.asarray(o) - t).sum(-1), n_instances=8)


_BETA = 0.5


def _logpis(rng, K: int = 3, X: int = 2, Y: int = 3):
    from scipy.special import log_softmax

    return log_softmax(1.5 * rng.normal(size=(K, X, Y)), axis=2)


def _mmra(method: str):
    from scipy.special import logsumexp

    from pluralign import mmra

    if method == "ae":
        log_ref = np.log(np.full((2, 3), 1.0 / 3))  # uniform pi_SFT: relabelling the items leaves it alone

        def agg(P):
            return mmra.mixture_logpolicy(P, mmra.mmra_ae(P, log_ref, _BETA).w)

        return AggregatorCase(aggregate=agg, sample=_logpis, outcome="policy", atol=1e-7, n_instances=8,
                              custom={"minimax_regret": minimax_regret_axiom(
                                  lambda P: mmra.mmra_ae(P, log_ref, _BETA).w, log_ref, _BETA)})
    if method == "original":
        log_ref = np.log(np.full((2, 3), 1.0 / 3))
        return AggregatorCase(aggregate=lambda P: mmra.mmra_original(P, log_ref, _BETA, n_iter=30).logpi,
                              sample=_logpis, outcome="policy", atol=1e-7, n_instances=8)
    tb, ch = _tabular()
    policy = _policy(l2=1e-4)

    def sample(rng):
        P = _logpis(rng, K=2, X=tb.n_prompts, Y=tb.n_responses)
        return P, rng.dirichlet(np.ones(2), size=ch.n_users)

    def agg(profile):
        P, G = profile
        lp = mmra.mmra_lw(P, tb.log_ref, policy, ch, G, _BETA, n_iter=4).logpi
        return lp - logsumexp(lp, axis=1, keepdims=True)

    return AggregatorCase(aggregate=agg, sample=sample, outcome="policy", atol=1e-6, n_instances=3,
                          permute_voters=lambda prof, perm: (prof[0][perm], prof[1][:, perm]),
                          unanimous=lambda rng: _unanimous_groups(sample(rng)))


def _unanimous_groups(profile):
    P, G = profile
    P = np.repeat(P[:1], P.shape[0], axis=0)
    return (P, G), P[0]


# =========================================================================== the registry
_CARDINAL = ("neutrality", "monotonicity", "scale_invariance")

IMPLEMENTATIONS: tuple[Implementation, ...] = (
    # ---- EM adapters of pluralign.em.MixtureEM
    Implementation("mixture", "LatentClassLogit", "pluralign.em.LatentClassLogit", _latent_class_logit,
                   note="l2 = 0, m_step='newton' (the default): the exact weighted MLE by damped Newton; K = 3"),
    Implementation("mixture", "LatentClassLogit[lbfgs]", "pluralign.em.LatentClassLogit",
                   lambda: _latent_class_logit("lbfgs"),
                   note="l2 = 0, m_step='lbfgs': the exact weighted MLE (L-BFGS-B, gtol 1e-10); K = 3"),
    Implementation("mixture", "RatingMixture", "pluralign.mixture.RatingMixture", _rating_mixture,
                   note="item utilities per component, ridge 0.1: exact per-(component, item) Newton M-step "
                        "(the adapter of pluralign.mixture.PreferenceMixture(kind='ratings')); K = 3"),
    Implementation("mixture", "EMDPOModel", "pluralign.emdpo.EMDPOModel", _emdpo_model,
                   note="log-linear policy, l2 = 0: exact weighted k-wise DPO (convex, L-BFGS tol 1e-10); K = 2"),
    Implementation("mixture", "ClusterRewardModel", "pluralign.personalization.ClusterRewardModel",
                   lambda: _cluster_reward_model(False),
                   note="raw features, l2 = 0: exact weighted MNL MLE (torch L-BFGS); K = 2"),
    Implementation("mixture", "ClusterRewardModel[learn_representation]",
                   "pluralign.personalization.ClusterRewardModel", lambda: _cluster_reward_model(True),
                   note="psi refitted in every M-step (non-convex, warm-started L-BFGS: a generalized EM, "
                        "m_step='monotone'); ridge l2 = l2_omega = 1e-2 keeps it bounded (l monotone up to "
                        "O(l2); holds at tolerance 1e-7 here); the empty component's theta must stay put"),
    Implementation("mixture", "DecoderMixture[linear,lbfgs]", "pluralign.prec.decoders.DecoderMixture",
                   lambda: _decoder_mixture(True),
                   note="linear decoders, float64 full-batch L-BFGS: the exact convex M-step of eq. 13"),
    Implementation("mixture", "DecoderMixture[mlp,adam]", "pluralign.prec.decoders.DecoderMixture",
                   lambda: _decoder_mixture(False), note="hidden layer (8 units), 20 full-batch Adam steps per M-step",
                   weakened={"monotone": "a gradient M-step has no ascent guarantee: checked instead that no "
                                         "iteration lowers l or F_nu by more than 1e-2 (relative)"}),
    # ---- reward models
    Implementation("reward", "SharedRepresentationReward", "pluralign.personalization.SharedRepresentationReward",
                   lambda: _shared(False)),
    Implementation("reward", "SharedRepresentationReward[pooled]",
                   "pluralign.personalization.SharedRepresentationReward", lambda: _shared(True)),
    Implementation("reward", "PreferenceMixture[ratings]", "pluralign.mixture.PreferenceMixture",
                   _preference_mixture, note="the per-user posterior (predict_proba) is the query"),
    Implementation("reward", "IndividualReward", "pluralign.personalization.IndividualReward", _individual),
    Implementation("reward", "ClusteredReward", "pluralign.personalization.ClusteredReward", _clustered),
    Implementation("reward", "PALRewardModel[A]", "pluralign.pal.PALRewardModel", lambda: _pal("A")),
    Implementation("reward", "PALRewardModel[B]", "pluralign.pal.PALRewardModel", lambda: _pal("B")),
    Implementation("reward", "EMDPO", "pluralign.emdpo.EMDPO", _emdpo,
                   note="the query is as_fit().thetas, the K policies' parameters"),
    # ---- social choice (pluralign.aggregation.social_choice; claims: the module docstring's table)
    Implementation("aggregator", "power_mean[utilitarian]", "pluralign.aggregation.aggregate_rewards",
                   _power_mean("utilitarian"),
                   claims=_CARDINAL + ("pareto", "translation_invariance", "per_user_shift_invariance",
                                       "separability", "pigou_dalton")),
    Implementation("aggregator", "power_mean[nash]", "pluralign.aggregation.aggregate_rewards", _power_mean("nash"),
                   claims=_CARDINAL + ("pareto", "per_user_scale_invariance", "separability", "pigou_dalton")),
    Implementation("aggregator", "power_mean[alpha=-1]", "pluralign.aggregation.aggregate_rewards", _power_mean(-1.0),
                   claims=_CARDINAL + ("pareto", "separability", "pigou_dalton")),
    Implementation("aggregator", "power_mean[alpha=0.5]", "pluralign.aggregation.aggregate_rewards", _power_mean(0.5),
                   claims=_CARDINAL + ("pareto", "separability", "pigou_dalton")),
    Implementation("aggregator", "power_mean[maximin]", "pluralign.aggregation.aggregate_rewards",
                   _power_mean("maximin"),
                   claims=_CARDINAL + ("weak_pareto", "translation_invariance", "pigou_dalton")),
    Implementation("aggregator", "power_mean[max]", "pluralign.aggregation.aggregate_rewards", _power_mean("max"),
                   claims=_CARDINAL + ("weak_pareto", "translation_invariance")),
    Implementation("aggregator", "leximin", "pluralign.aggregation.leximin_order", _leximin,
                   claims=("neutrality", "pareto", "monotonicity", "scale_invariance", "translation_invariance",
                           "separability")),
    Implementation("aggregator", "borda", "pluralign.aggregation.borda_scores", _borda,
                   claims=("neutrality", "pareto", "monotonicity", "ordinal_invariance", "separability")),
    # ---- welfare measures (pluralign.welfare)
    Implementation("aggregator", "welfare.utilitarian", "pluralign.welfare.utilitarian_welfare",
                   _welfare("utilitarian"),
                   claims=("pareto", "monotonicity", "scale_invariance", "translation_invariance",
                           "per_user_shift_invariance", "pigou_dalton")),
    Implementation("aggregator", "welfare.egalitarian", "pluralign.welfare.egalitarian_welfare",
                   _welfare("egalitarian"),
                   claims=("weak_pareto", "monotonicity", "scale_invariance", "translation_invariance")),
    Implementation("aggregator", "welfare.nash", "pluralign.welfare.nash_welfare", _welfare("nash"),
                   claims=("pareto", "monotonicity", "scale_invariance", "per_user_scale_invariance",
                           "pigou_dalton")),
    # ---- opinion pools (pluralign.aggregation.pooling)
    Implementation("aggregator", "linear_pool", "pluralign.aggregation.linear_pool", _pool("linear"),
                   claims=("neutrality", "marginalization")),
    Implementation("aggregator", "log_pool", "pluralign.aggregation.log_pool", _pool("log"),
                   claims=("neutrality", "external_bayesianity", "zero_preservation")),
    Implementation("aggregator", "power_pool[alpha=0.5]", "pluralign.aggregation.power_pool", _pool("power", 0.5),
                   claims=("neutrality",)),
    Implementation("aggregator", "power_pool[alpha=-1]", "pluralign.aggregation.power_pool", _pool("power", -1.0),
                   claims=("neutrality", "zero_preservation")),
    # ---- truthful mechanisms (pluralign.aggregation.mechanism)
    Implementation("aggregator", "QuadraticVCG", "pluralign.aggregation.QuadraticVCG", _quadratic_vcg,
                   claims=("neutrality", "truthfulness", "no_deficit", "individual_rationality")),
    Implementation("aggregator", "FiniteVCG[l1]", "pluralign.aggregation.FiniteVCG", _finite_vcg,
                   claims=("truthfulness", "no_deficit", "individual_rationality")),
    # ---- min-max-regret aggregation of K policies (pluralign.mmra; voters = the groups)
    Implementation("aggregator", "mmra_ae", "pluralign.mmra.mmra_ae", lambda: _mmra("ae"),
                   claims=("neutrality", "minimax_regret")),
    Implementation("aggregator", "mmra_original", "pluralign.mmra.mmra_original", lambda: _mmra("original")),
    Implementation("aggregator", "mmra_lw", "pluralign.mmra.mmra_lw", lambda: _mmra("lw"),
                   exempt={"unanimity": "MMRA-LW refits one policy by weighted DPO on the preference data; when "
                                        "all groups' policies agree its output is that DPO fit, not their policy"}),
)
"""Every implementation the suite covers (``python -m pluralign.testing --list``)."""


_HELPER = "a helper of the registered rules, not an aggregator"
NOT_COVERED: dict[str, str] = {
    "pluralign.em.MixtureEM": "the engine itself: every registered EM adapter is checked through it",
    "pluralign.llm.emdpo.LMEMDPOModel": "EM-DPO over LoRA adapters on a causal LM: each conformance check would "
                                        "build and train a transformer (minutes); its own tests check the "
                                        "engine's contract on a tiny GPT-2 (eq. 17 E-step, monotone marginal "
                                        "likelihood, zero weights drop records: tests/llm/test_llm_emdpo.py); "
                                        "its tabular twin EMDPOModel is registered",
    "pluralign.pal.large.PALLarge": "PAL with a fine-tuned transformers encoder: with the encoder frozen it equals "
                                    "the registered PAL-A / PAL-B Tiny on the same embeddings (tested to 1e-6 in "
                                    "tests/pluralign/test_pal_large.py); a fine-tuning run per check is minutes",
    "pluralign.emdpo.policy.LogLinearPolicy": "fit is the convex solver returning theta (not an estimator): "
                                              "EMDPOModel's M-step, covered there",
    "pluralign.rl.reward.EncoderDecoderReward": "no fit: a frozen encoder and PREC's fitted decoders (covered as "
                                                "DecoderMixture) wrapped for the RL environment",
    "pluralign.aggregation.social_choice.RULES": "the named alphas of the registered power means",
    "pluralign.aggregation.social_choice.power_mean": "the per-profile form of aggregate_rewards (registered), "
                                                      "which calls it",
    "pluralign.aggregation.social_choice.log_power_mean": "log of power_mean (its log-space numerics)",
    "pluralign.aggregation.social_choice.leximin_compare": "the pairwise comparison leximin_order sorts by",
    "pluralign.aggregation.social_choice.social_argmax": "the argmax of a registered rule's scores / order",
    "pluralign.aggregation.pooling.validate_distributions": "an input check",
    "pluralign.aggregation.pooling.coarsen": _HELPER + " (defines the marginalization axiom)",
    "pluralign.aggregation.pooling.bayes_update": _HELPER + " (defines the external-Bayesianity axiom)",
    "pluralign.aggregation.pooling.kl_divergence": _HELPER,
    "pluralign.aggregation.mechanism.project_simplex": _HELPER,
    "pluralign.aggregation.mechanism.simplex_grid": _HELPER + " (the FiniteVCG outcome grid)",
    "pluralign.aggregation.mechanism.random_misreport_search": "run by the truthfulness check",
    "pluralign.aggregation.mechanism.gradient_misreport_search": "run by the truthfulness check (QuadraticVCG)",
    "pluralign.welfare.welfare": "the three registered welfare measures in one dict",
    "pluralign.welfare.WELFARE_MEASURES": "the names of the registered welfare measures",
    "pluralign.mmra.estimated_regrets": "MMRA's regret arithmetic (used by the minimax_regret axiom)",
    "pluralign.mmra.estimated_value_matrix": "MMRA's regret arithmetic",
    "pluralign.mmra.estimated_regret_table": "MMRA's regret arithmetic (used by the minimax_regret axiom)",
    "pluralign.mmra.mixture_regrets": "MMRA's regret arithmetic (used by the minimax_regret axiom)",
    "pluralign.mmra.mixture_logpolicy": "the policy of mmra_ae's mixture (the registered outcome)",
    "pluralign.mmra.ae_regret_bound": "a perturbation bound on AE's regret, not an aggregator",
    "pluralign.mmra.mwu_update": "one multiplicative-weights step over the groups (inside mmra_lw, mmra_original "
                                 "and the LM's MMRA-LW), not an aggregator",
    "pluralign.mmra.MMRAResult": "the result record of the registered MMRA rules",
}
"""Public numeric entry points of the covered modules that are not registered, and why."""


def get(name: str) -> Implementation:
    """The registered implementation called ``name``."""
    for impl in IMPLEMENTATIONS:
        if impl.name == name:
            return impl
    raise ValueError(f"name: no registered implementation {name!r}")


def _unique() -> None:
    names = [i.name for i in IMPLEMENTATIONS]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RuntimeError(f"duplicate implementation names {dup}")
    for i in IMPLEMENTATIONS:
        if i.kind not in KINDS:
            raise RuntimeError(f"{i.name}: unknown kind {i.kind!r}")
        unknown = (set(i.exempt) | set(i.weakened)) - set(i.checks)
        if unknown:
            raise RuntimeError(f"{i.name}: exemptions / weakenings of checks it does not have: {sorted(unknown)}")


_unique()
