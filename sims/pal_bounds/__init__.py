"""Empirical check of seed 002's Thm. 1 / Thm. 2 against Prop. C.4 (Chen et al. 2024, PAL, sec. 4.1,
App. C; Prop. C.4 after Canal et al.): how many comparisons a user needs as the item dimension D grows
with the number of prototypes K fixed.

Set-up (the simulation's ground truth, :mod:`pluralign.sims.pal_sim.problem`, mixture setting, logit choices with
inverse temperature ``beta``, so that the fitted models are correctly specified -- with noiseless choices
a fixed-scale logistic fit of w or a is biased, since pushing the ideal point away inflates margins): the
shared part (the metric f* and the K prototypes) is taken as known — the limit of many seen users, where
Thm. 2's new-user term is what remains — so that only the per-user part is estimated:

* **PAL** (Thm. 1 / 2): the user's weights w on the simplex Delta^{K-1} are fitted on m comparisons
  (:meth:`PALRewardModel.localize`, map and prototypes frozen): K - 1 free numbers;
* **free ideal point** (Prop. C.4, Canal et al.): the user's ideal point a in R^D is fitted on the same m
  comparisons by regularized logistic regression — the score difference is linear in a,
  s = 2 (x_l - x_r)' M a + x_r' M x_r - x_l' M x_l with M = A*'A* — with the population prior
  a ~ N(0, I/D) as a ridge term (D / 2) ||a||^2 (the MLE diverges on separable data).

Excess risk = expected held-out 0-1 error minus the Bayes error, both computed under the true choice
probabilities (no sampling noise in the evaluation). For each D (and
K) we record the accuracy curve over m and interpolate m*(eps), the smallest m with mean excess risk
<= eps. Theory: ``theory.pal_bounds.sample_complexity`` of ``thm2_bound`` (a new user under PAL: O~(K))
and ``prop_c4_bound`` (free ideal points: O(D)), whose constants are loose; the figure therefore
compares shapes: every curve is divided by its value at the smallest D.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.special import log_expit
from tqdm.auto import tqdm

from pluralign.runs import CellStore, Profile, write_json
from pluralign.data import Choices
from pluralign.pal import PALA, PALConfig, PALRewardModel, make_map
from pluralign.pal.evaluation import samples_to_reach
from pluralign.sims.pal_sim.problem import PALSimConfig, make_problem

__all__ = ["PROFILES", "oracle_pal", "fit_free_ideal_points", "run_cell", "run"]

PROFILES: dict[str, dict] = {
    "smoke": dict(D_grid=[3], K=2, K_grid=[2], K_D=3, m_grid=[2, 8], n_users=3, n_test=30, seeds=[0],
                  eps=0.05, localize_epochs=30),
    "quick": dict(D_grid=[4, 8, 16, 32], K=3, K_grid=[2, 6], K_D=32, m_grid=[2, 4, 8, 16, 32, 64, 128, 256],
                  n_users=25, n_test=200, seeds=[0], eps=0.03, localize_epochs=200),
    "paper": dict(D_grid=[4, 8, 16, 32, 64], K=3, K_grid=[2, 4, 6, 8], K_D=64,
                  m_grid=[2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], n_users=100, n_test=400, seeds=[0, 1, 2],
                  eps=0.03, localize_epochs=300),
}


def oracle_pal(A: np.ndarray, P: np.ndarray) -> PALRewardModel:
    """PAL-A set to the ground truth: linear map A (D x D) and prototypes P (K x D) (pass sqrt(beta) A
    for data with inverse temperature beta)."""
    K, D = P.shape
    cfg = PALConfig(model="A", map="linear", n_prototypes=K, d_latent=D)
    mod = PALA(make_map(D, D, "linear"), D, 0, K)
    with torch.no_grad():
        mod.f.weight.copy_(torch.as_tensor(A, dtype=torch.float32))
        mod.prototypes.copy_(torch.as_tensor(P, dtype=torch.float32))
    return PALRewardModel.from_module(mod, cfg)


def fit_free_ideal_points(data: Choices, A: np.ndarray, ridge: float | None = None) -> np.ndarray:
    """Prop. C.4's per-user ideal points: for each user, argmin_a sum -log sigma(y s(a)) + ridge/2 ||a||^2
    with s(a) = -||A(x_chosen - a)||^2 + ||A(x_other - a)||^2 (pairwise data); ridge defaults to D."""
    if data.n_options != 2:
        raise ValueError("data: the free-ideal-point baseline takes pairwise choices")
    D = data.features.shape[-1]
    ridge = float(D) if ridge is None else float(ridge)
    M = A.T @ A
    rows = np.arange(len(data))
    xc, xo = data.features[rows, data.chosen], data.features[rows, 1 - data.chosen]
    lin = 2.0 * (xc - xo) @ M  # s = lin . a + off
    off = np.einsum("md,de,me->m", xo, M, xo) - np.einsum("md,de,me->m", xc, M, xc)
    out = np.zeros((data.n_users, D))
    for u, ix in enumerate(data.user_indices()):
        L, o = lin[ix], off[ix]

        def obj(a, L=L, o=o):
            s = L @ a + o
            p = np.exp(log_expit(-s))  # sigma(-s)
            return -log_expit(s).sum() + 0.5 * ridge * a @ a, -(L.T @ p) + ridge * a

        out[u] = minimize(obj, np.zeros(D), jac=True, method="L-BFGS-B").x
    return out


def _ideal_utilities(data: Choices, A: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    fx = data.features @ A.T
    fa = ideal[data.user] @ A.T
    return -((fx - fa[:, None]) ** 2).sum(-1)


def expected_accuracy(u_hat: np.ndarray, p_true: np.ndarray) -> float:
    """Mean over records of the true probability of the option the model ranks first."""
    return float(np.mean(p_true[np.arange(len(u_hat)), u_hat.argmax(1)]))


def run_cell(D: int, K: int, m_grid, n_users: int, n_test: int, seed: int, beta: float = 10.0,
             localize_epochs: int = 200) -> dict:
    """Expected-accuracy curves over m for PAL (fit w) and free ideal points (fit a) at one (D, K, seed),
    and the Bayes accuracy."""
    sim = PALSimConfig(d=D, n_prototypes_true=K, setting="mixture", n_seen=1, n_train=1, n_unseen=n_users,
                       n_pool=max(m_grid), n_test=n_test, min_separation=min(1.0, 0.8 * np.sqrt(2)), beta=beta)
    prob = make_problem(sim, seed)
    A = np.sqrt(beta) * prob.A  # the logit scale folded into the metric
    est = oracle_pal(A, prob.prototypes)
    test = prob.unseen_test
    u_true = _ideal_utilities(test, A, prob.ideal_unseen)
    p_true = np.exp(u_true - u_true.max(1, keepdims=True))
    p_true /= p_true.sum(1, keepdims=True)
    per_user = prob.unseen_pool.user_indices()
    res = {"m": list(m_grid), "bayes_acc": expected_accuracy(u_true, p_true), "pal": [], "free": []}
    for m in m_grid:
        sub = prob.unseen_pool.subset(np.sort(np.concatenate([ix[:m] for ix in per_user])), reindex_users=False)
        W = est.localize(sub, epochs=localize_epochs, l2=0.0)
        res["pal"].append(expected_accuracy(est.utilities(test, weights=W), p_true))
        a_hat = fit_free_ideal_points(sub, A)
        res["free"].append(expected_accuracy(_ideal_utilities(test, A, a_hat), p_true))
    return res


def _theory(D_grid, K, K_grid, K_D, eps_theory=0.5) -> dict:
    try:
        from pluralign.theory.pal_bounds import prop_c4_bound, sample_complexity, thm2_bound
    except ImportError:  # pragma: no cover - the theory layer ships with the package
        return {}
    kw = dict(N=100, B=1.0)
    return {"eps": eps_theory, "note": "clipped loss range B = 1; N = 100 (Thm. 2 and Prop. C.4's per-user parts)",
            "thm2_vs_D": [sample_complexity(thm2_bound, eps_theory, D=D, K=K, **kw) for D in D_grid],
            "prop_c4_vs_D": [sample_complexity(prop_c4_bound, eps_theory, D=D, K=K, **kw) for D in D_grid],
            "thm2_vs_K": [sample_complexity(thm2_bound, eps_theory, D=K_D, K=k, **kw) for k in K_grid],
            "prop_c4_vs_K": [sample_complexity(prop_c4_bound, eps_theory, D=K_D, K=k, **kw) for k in K_grid]}


def run(profile: Profile | str, seed: int, out: Path) -> dict:
    profile = Profile(profile).value
    p = PROFILES[profile]
    torch.set_num_threads(1)
    store = CellStore(out)
    specs = [(D, p["K"]) for D in p["D_grid"]] + [(p["K_D"], k) for k in p["K_grid"] if k != p["K"] or p["K_D"] not in p["D_grid"]]
    cells = [(D, K, s) for D, K in specs for s in p["seeds"]]
    for D, K, s in tqdm(cells, desc="pal bounds cells"):
        key = f"D={D}_K={K}_seed={s}_base={seed}"
        if not store.done(key):
            store.save(key, {"D": D, "K": K, "seed": s, "base_seed": seed},
                       run_cell(D, K, p["m_grid"], p["n_users"], p["n_test"], seed * 1000 + s,
                                localize_epochs=p["localize_epochs"]))
    allc = [c for c in store.all() if c["config"]["base_seed"] == seed]
    curves = {}
    for c in allc:
        curves.setdefault((c["config"]["D"], c["config"]["K"]), []).append(c["metrics"])
    eps = p["eps"]
    rows = []
    for (D, K), ms in sorted(curves.items()):
        pal = np.mean([np.array(m["pal"]) - m["bayes_acc"] for m in ms], 0)  # minus excess risk
        free = np.mean([np.array(m["free"]) - m["bayes_acc"] for m in ms], 0)
        rows.append({"D": D, "K": K, "m": p["m_grid"], "bayes_acc": float(np.mean([m["bayes_acc"] for m in ms])),
                     "pal_excess": (-pal).tolist(), "free_excess": (-free).tolist(),
                     "m_star_pal": samples_to_reach(p["m_grid"], pal, -eps),
                     "m_star_free": samples_to_reach(p["m_grid"], free, -eps), "n_seeds": len(ms)})
    res = {"profile": profile, "seed": seed, "eps": eps, "rows": rows,
           "theory": _theory(p["D_grid"], p["K"], p["K_grid"], p["K_D"])}
    write_json(out / "pal_bounds.json", res)
    _plot(res, p, out / "pal_bounds.png")
    return res


def _plot(res: dict, p: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    th = res["theory"]
    for ax, vary, grid, fixed in ((axes[0], "D", p["D_grid"], ("K", p["K"])), (axes[1], "K", p["K_grid"], ("D", p["K_D"]))):
        rows = [r for r in res["rows"] if r[fixed[0]] == fixed[1] and r[vary] in grid]
        rows.sort(key=lambda r: r[vary])
        x = np.array([r[vary] for r in rows], float)
        for key, lab, col in (("m_star_pal", "PAL: fit w (empirical)", "tab:blue"),
                              ("m_star_free", "free ideal point: fit a (empirical)", "tab:red")):
            y = np.array([r[key] for r in rows], float)
            ok = np.isfinite(y)
            if ok.any():
                ax.plot(x[ok], y[ok] / y[ok][0], "o-", color=col, label=lab)
        if th:
            for key, lab, col in ((f"thm2_vs_{vary}", "Thm. 2 bound (shape)", "tab:blue"),
                                  (f"prop_c4_vs_{vary}", "Prop. C.4 bound (shape)", "tab:red")):
                y = np.array(th[key], float)
                xs = np.array(grid, float)
                ax.plot(xs, y / y[0], "--", color=col, alpha=0.6, label=lab)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel(vary)
        ax.set_ylabel(f"m* (excess 0-1 risk <= {res['eps']}), / value at smallest {vary}")
        ax.set_title(f"samples per user vs {vary} ({fixed[0]} = {fixed[1]})")
        ax.legend(fontsize=7)
    fig.suptitle("PAL Thm. 1/2 vs Prop. C.4 (seed 002, sec. 4.1): per-user sample complexity")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
