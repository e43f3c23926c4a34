"""Parts 2-4 of ``pluralign sims aggregation`` (seed 003): social-choice aggregation of user rewards,
opinion pools, and the misreport search against the VCG mechanisms.

* social choice — a population of two opposed groups (split pi) plus individual spread, items on a
  circle; each rule of the power-mean family (rewards normalized per user to [0, 1], i.e. measured from
  each user's worst item, the disagreement point), leximin and Borda picks one item; reported: the
  minority's and the majority's mean welfare and the worst-off user's welfare.
* pooling — on random profiles: the largest violation of unanimity (every member of the family), of
  external Bayesianity (log pool vs linear pool) and of the marginalization property (linear vs log).
* mechanism — random instances (n labelers, d answers, true opinions Dirichlet); random and gradient
  searches for labeler 0's best misreport, with and without the VCG payments, for the quadratic
  (linear-pool) mechanism and for a finite-outcome (simplex grid, L1) mechanism.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from pluralign.aggregation.mechanism import (
    FiniteVCG,
    QuadraticVCG,
    gradient_misreport_search,
    random_misreport_search,
    simplex_grid,
)
from pluralign.aggregation.pooling import bayes_update, coarsen, linear_pool, log_pool, power_pool
from pluralign.aggregation.social_choice import social_argmax
from pluralign.seeding import derive, derive_int

RULE_LIST = [("utilitarian", 1.0), ("alpha=0.5", 0.5), ("nash", 0.0), ("alpha=-1", -1.0), ("alpha=-5", -5.0),
             ("maximin", -np.inf), ("leximin", "leximin"), ("borda", "borda")]

SPLITS = (0.5, 0.51, 0.6, 0.7, 0.8, 0.9)
"""Majority shares pi of the divided populations (50/50 .. 90/10, including 51/49)."""


@dataclass
class SocialChoiceSettings:
    """Part 2: a population of two opposed groups, items on a circle, one item picked per rule."""

    splits: tuple[float, ...] = SPLITS
    """Majority shares pi (one cell each)."""
    n_users: int = 100
    """Users of the population."""
    n_items: int = 72
    """Items, evenly spaced on the unit circle."""
    b: float = 2.0
    """Contested axis: the groups' tastes are (b, c) and (-b, c)."""
    c: float = 0.5
    """Shared axis, on which both groups mildly agree."""
    within_sd: float = 0.3
    """Individual spread of the tastes around their group's."""


@dataclass
class PoolingSettings:
    """Part 3: opinion-pool properties on random profiles."""

    n_profiles: int = 300
    """Random profiles (2-5 members, 3-6 answers)."""


@dataclass
class MechanismSettings:
    """Part 4: misreport searches against the VCG mechanisms."""

    shapes: tuple[tuple[int, int], ...] = ((2, 2), (2, 4), (3, 3), (4, 2), (4, 5), (6, 3))
    """(labelers n, answers d) of the instances (one cell each)."""
    instances_per_shape: int = 90
    """Random instances per shape."""
    random_weights: bool = True
    """Labelers' weights drawn from U(0.5, 2) (else equal)."""
    grid_resolution: int = 6
    """Resolution of the finite-outcome mechanism's simplex grid."""
    random_samples: int = 256
    """Candidate misreports of the random search."""
    grad_starts: int = 4
    """Starts of the gradient search."""
    grad_steps: int = 150
    """Steps of each gradient search."""


@dataclass
class RulesSettings:
    """Parts 2-4."""

    social_choice: SocialChoiceSettings = field(default_factory=SocialChoiceSettings)
    """Social-choice rules on a divided population."""
    pooling: PoolingSettings = field(default_factory=PoolingSettings)
    """Opinion-pool properties."""
    mechanism: MechanismSettings = field(default_factory=MechanismSettings)
    """Misreport searches against VCG."""


def social_choice(cfg: SocialChoiceSettings, pi: float, seed: int) -> dict:
    """Every rule's pick at majority share ``pi`` (population from ``derive(seed, "social_choice", pi)``)."""
    rng = derive(seed, "social_choice", f"pi={pi}")
    a = np.linspace(0, 2 * np.pi, cfg.n_items, endpoint=False)
    items = np.stack([np.cos(a), np.sin(a)], axis=1)
    n = cfg.n_users
    n_maj = int(round(pi * n))
    grp = np.r_[np.zeros(n_maj, dtype=int), np.ones(n - n_maj, dtype=int)]
    B = np.array([[cfg.b, cfg.c], [-cfg.b, cfg.c]])
    W = B[grp] + cfg.within_sd * rng.standard_normal((n, 2))
    R = W @ items.T
    U = (R - R.min(axis=1, keepdims=True)) / (R.max(axis=1, keepdims=True) - R.min(axis=1, keepdims=True))
    row = {"pi": pi}
    for name, rule in RULE_LIST:
        j = social_argmax(U, rule)
        row[name] = {"majority": float(U[grp == 0, j].mean()), "minority": float(U[grp == 1, j].mean()),
                     "worst_user": float(U[:, j].min()), "item_angle_deg": float(np.degrees(a[j]))}
    return row


def pooling(cfg: PoolingSettings, seed: int) -> dict:
    """Largest violations of unanimity, external Bayesianity and marginalization over random profiles."""
    rng = derive(seed, "pooling")
    alphas = [1.0, 0.5, 0.0, -1.0, -np.inf]
    out = {"unanimity_max_dev": 0.0, "log_pool_eb_max_dev": 0.0, "linear_pool_eb_max_dev": 0.0,
           "linear_pool_marginal_max_dev": 0.0, "log_pool_marginal_max_dev": 0.0, "n_profiles": cfg.n_profiles}
    for _ in range(cfg.n_profiles):
        n, K = int(rng.integers(2, 6)), int(rng.integers(3, 7))
        P = rng.dirichlet(np.ones(K), size=n)
        w = rng.dirichlet(np.ones(n))
        p = rng.dirichlet(np.ones(K))
        for al in alphas:
            out["unanimity_max_dev"] = max(out["unanimity_max_dev"], float(np.abs(power_pool(np.tile(p, (n, 1)), al, w) - p).max()))
        lik = rng.uniform(0.05, 1.0, size=K)
        for name, pool in (("log_pool", log_pool), ("linear_pool", linear_pool)):
            a_ = pool(bayes_update(P, lik), w)
            b_ = bayes_update(pool(P, w), lik)[0]
            out[f"{name}_eb_max_dev"] = max(out[f"{name}_eb_max_dev"], float(np.abs(a_ - b_).max()))
        groups = np.r_[0, np.arange(K - 1)]  # merge answers 0 and 1
        for name, pool in (("linear_pool", linear_pool), ("log_pool", log_pool)):
            a_ = coarsen(pool(P, w), groups)
            b_ = pool(coarsen(P, groups), w)
            out[f"{name}_marginal_max_dev"] = max(out[f"{name}_marginal_max_dev"], float(np.abs(a_ - b_).max()))
    return out


def mechanism_gains(cfg: MechanismSettings, n: int, d: int, seed: int) -> dict:
    """Labeler 0's best misreport gains on ``instances_per_shape`` instances with n labelers and d answers
    (instances from ``derive(seed, "mechanism", (n, d))``, the gradient searches from ``derive_int``)."""
    shape = f"n={n}_d={d}"
    rng = derive(seed, "mechanism", shape)
    res = {"quadratic": {}, "finite_l1": {}}
    T = rng.dirichlet(np.ones(d), size=(cfg.instances_per_shape, n))
    w = rng.uniform(0.5, 2.0, size=n) if cfg.random_weights else None
    quad = QuadraticVCG(n, weights=w)
    fin = FiniteVCG(simplex_grid(d, cfg.grid_resolution), n, distance="l1", weights=w)
    for pay in (True, False):
        key = "with_payments" if pay else "without_payments"
        g_r, _ = random_misreport_search(quad, T, 0, n_samples=cfg.random_samples, rng=rng, payments=pay)
        g_g, _ = gradient_misreport_search(quad, T, 0, n_starts=cfg.grad_starts, steps=cfg.grad_steps,
                                           seed=derive_int(seed, "mechanism", shape, "gradient", key), payments=pay)
        res["quadratic"][key] = np.maximum(g_r, g_g).tolist()
        g_f, _ = random_misreport_search(fin, T, 0, n_samples=cfg.random_samples, rng=rng, payments=pay)
        res["finite_l1"][key] = np.asarray(g_f).tolist()
    return res


def mechanism_summary(per_shape: list[dict]) -> dict:
    """Gains pooled over every shape's instances."""
    out = {}
    for mech in ("quadratic", "finite_l1"):
        wp = np.concatenate([np.asarray(g[mech]["with_payments"], float) for g in per_shape])
        wo = np.concatenate([np.asarray(g[mech]["without_payments"], float) for g in per_shape])
        out[mech] = {
            "n_instances": int(wp.size),
            "max_gain_with_payments": float(wp.max()),
            "n_profitable_with_payments(>1e-9)": int((wp > 1e-9).sum()),
            "fraction_profitable_without_payments(>1e-9)": float((wo > 1e-9).mean()),
            "median_gain_without_payments": float(np.median(wo)),
            "max_gain_without_payments": float(wo.max()),
        }
    return out


def cells(cfg: RulesSettings, seed: int) -> list[tuple[str, dict, object, tuple]]:
    """(key, config, function, arguments) of every cell: one per split, one for the pools, one per shape."""
    sc, mc = cfg.social_choice, cfg.mechanism
    return ([(f"rules_social_choice_pi={pi}_seed={seed}", {**asdict(sc), "pi": pi}, social_choice, (sc, pi, seed))
             for pi in sc.splits]
            + [(f"rules_pooling_seed={seed}", asdict(cfg.pooling), pooling, (cfg.pooling, seed))]
            + [(f"rules_mechanism_n={n}_d={d}_seed={seed}", {**asdict(mc), "n": n, "d": d}, mechanism_gains,
                (mc, n, d, seed)) for n, d in mc.shapes])


def summarize(cfg: RulesSettings, seed: int, result) -> dict:
    """The parts' results from their finished cells (``result(key)`` reads one cell's numbers)."""
    res = [result(key) for key, *_ in cells(cfg, seed)]  # in the order of cells(): splits, pools, shapes
    n = len(cfg.social_choice.splits)
    return {"social_choice": res[:n], "pooling": res[n], "mechanism": mechanism_summary(res[n + 1:])}
