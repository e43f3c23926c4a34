"""Empirical check of seed 002's Thm. 2 against Prop. C.4 (PAL, sec. 4.1,
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
<= eps. Theory (:func:`theory_curves`, at the paper's norms zeta_M = D, zeta_v = sqrt(D)): ``theory.pal_bounds.sample_complexity`` of
``thm2_bound``'s per-user term (Lemma C.9; a new user under PAL: O~(K)) and ``prop_c4_bound`` (free
ideal points: O~(D)), whose constants are loose; the figure therefore compares shapes: every curve is
divided by its value at the smallest D.

Each (D, K, replicate) is one :class:`pluralign.runs.CellStore` cell (independent, run through
:func:`pluralign.runs.run_cells`); replicate r of base seed s draws its population from ``derive(s, r,
"problem")``. :func:`run` writes ``results.json``; the figure is :func:`pluralign.paper_figures.pal_bounds.plot`
(``pluralign pal bounds`` draws ``pal_bounds.png``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from pluralign.choice import choice_probs, log_sigmoid
from pluralign.data import Choices
from pluralign.pal import PALA, PALConfig, PALRewardModel, make_map
from pluralign.pal.evaluation import samples_to_reach
from pluralign.runs import CellStore, Profile, mean_sem, read_json, run_cells, write_json
from pluralign.seeding import derive
from pluralign.sims.pal_sim.problem import PALSimConfig, ideal_point_utilities, make_problem, require_counts
from pluralign.theory.pal_bounds import prop_c4_bound, sample_complexity, thm2_bound

__all__ = ["Settings", "PROFILES", "THEORY_NORMS", "oracle_pal", "fit_free_ideal_points", "run_cell", "run", "theory_curves"]


@dataclass
class Settings:
    """Everything a run of ``pluralign pal bounds`` depends on (written to config.json)."""

    D_grid: tuple[int, ...] = (4, 8, 16, 32)
    """Item dimensions D swept at K = ``K``."""
    K: int = 3
    """Number of prototypes while D is swept."""
    K_grid: tuple[int, ...] = (2, 6)
    """Numbers of prototypes swept at D = ``K_D``."""
    K_D: int = 32
    """Item dimension while K is swept."""
    m_grid: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256)
    """Comparisons per user m of the accuracy curves."""
    n_users: int = 25
    """New users per cell (each fitted on its own m comparisons)."""
    n_test: int = 200
    """Held-out comparisons per user."""
    n_seeds: int = 1
    """Replicates (populations) per (D, K): replicate r of base seed s draws from ``derive(s, r, ...)``."""
    eps: float = 0.03
    """Target excess 0-1 risk of m*(eps)."""
    beta: float = 10.0
    """Inverse temperature of the logit choices (the fitted models are correctly specified)."""
    localize_epochs: int = 200
    """Adam epochs of PAL's per-user weights."""
    n_jobs: int = 1
    """Worker processes for the cells (seeded per cell: the numbers do not depend on it)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """``ValueError`` naming the first field that cannot run (also run on construction)."""
        require_counts(self, ("K", "K_D", "n_users", "n_test", "n_seeds", "localize_epochs", "n_jobs"),
                       ("D_grid", "K_grid", "m_grid"))
        if not 0 < self.eps < 1:
            raise ValueError(f"eps: must lie in (0, 1), got {self.eps}")
        if self.beta <= 0:
            raise ValueError(f"beta: must be > 0, got {self.beta}")


PROFILES: dict[Profile, Settings] = {
    Profile.smoke: Settings(D_grid=(3,), K=2, K_grid=(2,), K_D=3, m_grid=(2, 8), n_users=3, n_test=30, eps=0.05,
                            localize_epochs=30),
    Profile.quick: Settings(n_jobs=2),
    Profile.paper: Settings(D_grid=(4, 8, 16, 32, 64), K_grid=(2, 4, 6, 8), K_D=64,
                            m_grid=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), n_users=100, n_test=400, n_seeds=3,
                            localize_epochs=300, n_jobs=4),
}


def oracle_pal(A: np.ndarray, P: np.ndarray) -> PALRewardModel:
    """PAL-A set to the ground truth: linear map A (D x D) and prototypes P (K x D) (pass sqrt(beta) A
    for data with inverse temperature beta)."""
    import torch

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
            p = np.exp(log_sigmoid(-s))  # sigma(-s)
            return -log_sigmoid(s).sum() + 0.5 * ridge * a @ a, -(L.T @ p) + ridge * a

        out[u] = minimize(obj, np.zeros(D), jac=True, method="L-BFGS-B").x
    return out


def expected_accuracy(u_hat: np.ndarray, p_true: np.ndarray) -> float:
    """Mean over records of the true probability of the option the model ranks first."""
    return float(np.mean(p_true[np.arange(len(u_hat)), u_hat.argmax(1)]))


def run_cell(D: int, K: int, m_grid, n_users: int, n_test: int, seed: int, rep: int, beta: float = 10.0,
             localize_epochs: int = 200) -> dict:
    """Expected-accuracy curves over m for PAL (fit w) and free ideal points (fit a) at one (D, K) in
    replicate ``rep`` of base ``seed`` (population from ``derive(seed, rep, "problem")``), and the Bayes
    accuracy."""
    sim = PALSimConfig(d=D, n_prototypes_true=K, setting="mixture", n_seen=1, n_train=1, n_unseen=n_users,
                       n_pool=max(m_grid), n_test=n_test, min_separation=min(1.0, 0.8 * np.sqrt(2)), beta=beta)
    prob = make_problem(sim, derive(seed, rep, "problem"))
    A = np.sqrt(beta) * prob.A  # the logit scale folded into the metric
    est = oracle_pal(A, prob.prototypes)
    test = prob.unseen_test
    u_true = ideal_point_utilities(test, A, prob.ideal_unseen)
    p_true = choice_probs(u_true)
    per_user = prob.unseen_pool.user_indices()
    res = {"m": list(m_grid), "bayes_acc": expected_accuracy(u_true, p_true), "pal": [], "free": []}
    for m in m_grid:
        sub = prob.unseen_pool.subset(np.sort(np.concatenate([ix[:m] for ix in per_user])), reindex_users=False)
        W = est.localize(sub, epochs=localize_epochs, l2=0.0)
        res["pal"].append(expected_accuracy(est.utilities(test, weights=W), p_true))
        a_hat = fit_free_ideal_points(sub, A)
        res["free"].append(expected_accuracy(ideal_point_utilities(test, A, a_hat), p_true))
    return res


def _thm2_per_user(N, m, D, K, **kw) -> float:
    """The per-user term of Thm. 2 as printed (Lemma C.9, 3L sqrt(K zeta_v^2 / (D m))): its shared term
    18L sqrt((zeta_M^2 + K^2 zeta_v^2) / N) and confidence term do not decay in m, so the whole bound gives
    no per-user sample complexity."""
    return thm2_bound(N, m, D, K, parts=True, **kw)["per_user"]


THEORY_NORMS = ("zeta_M = D, zeta_v = sqrt(D): seed 002 sec. 4.1 after Thm. 1 and after Thm. 2 ('let us set "
                "zeta_M = D and zeta_v = sqrt(D)', 'as done in (Canal et al., 2022)') and Remark C.5")
"""The norm bounds of the theory curves, as the paper sets them to read its bounds against D. (Until
2026-12-02 the curves used zeta_M = zeta_v = 1, which made Prop. C.4 flat in D and Thm. 2's per-user term
fall with D, the opposite of the rates the paper reads off, O~(K) and O~(D); changed after that figure
was seen.)"""


def theory_curves(D_grid, K, K_grid, K_D, eps_theory=0.5) -> dict:
    """Per-user sample complexities m*(eps_theory) of the bounds at the paper's norms (:data:`THEORY_NORMS`,
    N = 100 seen users): Thm. 2's per-user term (Lemma C.9, 3L sqrt(K / m) there: flat in D, linear in K)
    and the whole Prop. C.4 bound (6L sqrt((D^2 + DN) / (Nm)) + its confidence term: growing in D, free
    of K), over ``D_grid`` at K = ``K`` and over ``K_grid`` at D = ``K_D``."""
    def kw(D):
        return dict(N=100, B=1.0, zeta_M=float(D), zeta_v=float(np.sqrt(D)))

    return {"eps": eps_theory, "norms": THEORY_NORMS,
            "note": "paper's setting (unit sphere, loss in [0, 1]); N = 100; Thm. 2: its per-user term (Lemma C.9), "
                    "the only one that decays in m; Prop. C.4: the whole bound",
            "thm2_vs_D": [sample_complexity(_thm2_per_user, eps_theory, D=D, K=K, **kw(D)) for D in D_grid],
            "prop_c4_vs_D": [sample_complexity(prop_c4_bound, eps_theory, D=D, K=K, **kw(D)) for D in D_grid],
            "thm2_vs_K": [sample_complexity(_thm2_per_user, eps_theory, D=K_D, K=k, **kw(K_D)) for k in K_grid],
            "prop_c4_vs_K": [sample_complexity(prop_c4_bound, eps_theory, D=K_D, K=k, **kw(K_D)) for k in K_grid]}


def _cells(st: Settings, seed: int) -> list[tuple[str, int, int, int]]:
    """(key, D, K, replicate) for every cell (base seed ``seed`` in every key)."""
    specs = [(D, st.K) for D in st.D_grid] + [(st.K_D, k) for k in st.K_grid if k != st.K or st.K_D not in st.D_grid]
    return [(f"D={D}_K={K}_rep={r}_seed={seed}", D, K, r) for D, K in specs for r in range(st.n_seeds)]


def _work(out: Path, key: str, D: int, K: int, rep: int, st: Settings, seed: int) -> None:
    """One cell: compute and store it."""
    import torch

    torch.set_num_threads(1)
    CellStore(out).save(key, {"D": D, "K": K, "rep": rep, "base_seed": seed},
                        run_cell(D, K, st.m_grid, st.n_users, st.n_test, seed, rep, beta=st.beta,
                                 localize_epochs=st.localize_epochs))


def run(settings: Settings, seed: int, out: Path, progress: bool = True) -> dict:
    """Run (or resume) every cell; write ``out/results.json`` (m*(eps) per (D, K), the excess-risk curves as
    mean +- s.e.m. over replicates, the theory's sample complexities) and return its contents."""
    settings.validate()
    out = Path(out)
    store = CellStore(out)
    cells = _cells(settings, seed)
    run_cells(_work, [(out, key, D, K, r, settings, seed) for key, D, K, r in cells if not store.done(key)],
              n_jobs=settings.n_jobs, desc="pal bounds cells", progress=progress)
    curves: dict = {}
    for key, D, K, _ in cells:
        curves.setdefault((D, K), []).append(store.load(key)["metrics"])
    eps, m_grid = settings.eps, list(settings.m_grid)
    rows = []
    for (D, K), ms in sorted(curves.items()):
        row = {"D": D, "K": K, "m": m_grid, "bayes_acc": mean_sem([m["bayes_acc"] for m in ms])["mean"]}
        for name in ("pal", "free"):
            excess = np.array([m["bayes_acc"] - np.array(m[name]) for m in ms])  # (replicates, m)
            stats = [mean_sem(excess[:, j]) for j in range(len(m_grid))]
            row[f"{name}_excess"] = [s["mean"] for s in stats]
            row[f"{name}_excess_sem"] = [s["sem"] for s in stats]
            row[f"m_star_{name}"] = samples_to_reach(m_grid, -np.array(row[f"{name}_excess"]), -eps)
        row["n_seeds"] = len(ms)
        rows.append(row)
    res = {"seed": seed, "eps": eps, "rows": rows,
           "grids": {"D_grid": list(settings.D_grid), "K": settings.K, "K_grid": list(settings.K_grid),
                     "K_D": settings.K_D},
           "theory": theory_curves(settings.D_grid, settings.K, settings.K_grid, settings.K_D)}
    return read_json(write_json(out / "results.json", res))  # exactly what the file holds
