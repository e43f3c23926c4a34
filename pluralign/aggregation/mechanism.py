"""Truthful aggregation for strategic labelers: VCG / Clarke-pivot payments (seed 003, mechanism design).

Park et al. 2024 (seed 003) model labelers who may misreport their opinion to pull the aggregate toward
their own, with quasi-linear utilities

    U_i(report) = -dist(o(report), t_i) + pay_i(report),

t_i the labeler's true opinion and o the aggregate. The Vickrey-Clarke-Groves construction makes truthful
reporting a dominant strategy whenever the outcome rule *exactly* maximizes the (weighted) sum of the
reported valuations v_j(o) = -dist(o, r_j). Two outcome spaces are provided for which that maximization is
exact, so truthfulness holds exactly (not up to an optimizer's tolerance):

* :class:`QuadraticVCG` — outcome space: a convex set containing the reports (the probability simplex when
  reports are distributions, or R^d); dist = squared Euclidean distance. The welfare-maximizing outcome
  argmin_o sum_j w_j ||o - r_j||^2 is the weighted mean, i.e. the *linear opinion pool*, in closed form.
* :class:`FiniteVCG` — outcome space: a finite set of candidate aggregates (a grid on the simplex, a menu
  of reward models or policies); any distance (L1, L2, squared L2, total variation, ...). The maximizer is
  found by enumeration (ties: lowest index).

Payments (weighted: an *affine maximizer*, Roberts 1979; with equal weights the Clarke pivot rule):

    pay_i = (1 / w_i) [ min_o sum_{j != i} w_j d(o, r_j)  -  sum_{j != i} w_j d(o*, r_j) ]   <= 0,

so w_i U_i = h_i - [ w_i d(o*, t_i) + sum_{j != i} w_j d(o*, r_j) ] with h_i independent of r_i. The
bracket is the reported social cost with i's *true* opinion in place of its report, and o* computed from
the truthful report minimizes it over the outcome space: no report can do better (Clarke 1971; Groves
1973). Labeler i pays its externality (payments are never positive: no deficit), and participation is
individually rational: U_i(truth) >= -d(o_{-i}, t_i), the utility of the outcome chosen without i.

Without payments the rule is manipulable: under :class:`QuadraticVCG` a labeler gains by exaggerating away
from the others' mean (the best misreport is the projection of n t_i - sum_{j != i} r_j onto the report
set, :meth:`QuadraticVCG.best_response_no_payment`). :func:`random_misreport_search` and
:func:`gradient_misreport_search` (torch autograd through the closed-form mechanism) look for profitable
misreports; ``tests/pluralign/test_mechanism.py`` runs them on >= 500 random instances.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pluralign.seeding import as_generator
from pluralign.theory.validation import as_finite_array

__all__ = [
    "QuadraticVCG",
    "FiniteVCG",
    "project_simplex",
    "simplex_grid",
    "random_misreport_search",
    "gradient_misreport_search",
]


# --------------------------------------------------------------------------- helpers
def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of v (..., d) onto the probability simplex (sort-based,
    Held et al. 1974 / Duchi et al. 2008)."""
    v = np.asarray(v, dtype=float)
    d = v.shape[-1]
    u = -np.sort(-v, axis=-1)
    css = np.cumsum(u, axis=-1) - 1.0
    idx = np.arange(1, d + 1)
    cond = u - css / idx > 0
    rho = d - 1 - np.argmax(cond[..., ::-1], axis=-1)
    theta = np.take_along_axis(css, rho[..., None], axis=-1) / (rho[..., None] + 1.0)
    return np.maximum(v - theta, 0.0)


def simplex_grid(d: int, resolution: int) -> np.ndarray:
    """All distributions over d answers whose entries are multiples of 1/resolution (m x d)."""
    if d < 1 or resolution < 1:
        raise ValueError(f"resolution: need d >= 1 and resolution >= 1, got d={d}, resolution={resolution}")

    def rec(d_left, total):
        if d_left == 1:
            return [[total]]
        return [[k] + rest for k in range(total + 1) for rest in rec(d_left - 1, total - k)]

    return np.asarray(rec(d, resolution), dtype=float) / resolution


def _check_reports(reports, name: str, simplex: bool, atol: float = 1e-8) -> np.ndarray:
    r = as_finite_array(reports, name)
    if r.ndim < 2:
        raise ValueError(f"{name}: expected (..., labelers, d), got shape {r.shape}")
    if r.shape[-2] < 2:
        raise ValueError(f"{name}: a mechanism needs at least 2 labelers, got {r.shape[-2]}")
    if simplex and (np.any(r < -atol) or np.any(np.abs(r.sum(-1) - 1.0) > atol)):
        raise ValueError(f"{name}: every opinion must be a distribution (non-negative, sums to 1)")
    return r


def _check_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"weights: expected {n} finite positive weights, got {weights!r}")
    return w


# --------------------------------------------------------------------------- quadratic (linear pool)
class QuadraticVCG:
    """Outcome = the weighted mean of the reports (the linear pool); disutility = squared L2 distance.

    ``weights`` (n,) > 0 (default 1); ``simplex``: reports must be distributions (the outcome then is one).
    Every method is batched over leading axes: ``reports`` is (..., n, d); numpy or torch arrays (torch
    keeps gradients, for :func:`gradient_misreport_search`).
    """

    def __init__(self, n_labelers: int, weights=None, simplex: bool = True):
        if int(n_labelers) < 2:
            raise ValueError(f"n_labelers: need >= 2, got {n_labelers}")
        self.n = int(n_labelers)
        self.w = _check_weights(weights, self.n)
        self.simplex = bool(simplex)

    def check(self, reports, name: str = "reports"):
        if type(reports).__module__.startswith("torch"):
            return reports
        r = _check_reports(reports, name, self.simplex)
        if r.shape[-2] != self.n:
            raise ValueError(f"{name}: expected {self.n} labelers, got {r.shape[-2]}")
        return r

    @staticmethod
    def _like(x, like):
        """``x`` as an array of the same kind (numpy / torch) and dtype as ``like``."""
        if type(like).__module__.startswith("torch"):
            import torch

            return torch.as_tensor(x, dtype=like.dtype)
        return np.asarray(x, dtype=float)

    def _mean(self, r, w):
        w = self._like(w, r)
        return (w[:, None] * r).sum(-2) / w.sum()

    def outcome(self, reports):
        """argmin_o sum_j w_j ||o - r_j||^2 = sum_j w_j r_j / sum_j w_j, shape (..., d)."""
        r = self.check(reports)
        return self._mean(r, self.w)

    def _others(self, i: int) -> np.ndarray:
        if not 0 <= int(i) < self.n:
            raise ValueError(f"i: labeler index out of range 0..{self.n - 1}, got {i}")
        m = np.ones(self.n)
        m[int(i)] = 0.0
        return m

    def outcome_without(self, reports, i: int):
        """The outcome chosen when labeler i is left out (the others' weighted mean)."""
        r = self.check(reports)
        return self._mean(r, self.w * self._others(i))

    def costs(self, outcome, reports):
        """w_j ||o - r_j||^2 for each labeler j, shape (..., n)."""
        r = self.check(reports)
        diff = r - outcome[..., None, :]
        return self._like(self.w, r) * (diff**2).sum(-1)

    def payment(self, reports, i: int):
        """Labeler i's Clarke-pivot / affine-maximizer payment (<= 0), shape (...)."""
        r = self.check(reports)
        others = self._like(self._others(i), r)
        c_star = (self.costs(self.outcome(r), r) * others).sum(-1)
        c_without = (self.costs(self.outcome_without(r, i), r) * others).sum(-1)
        return (c_without - c_star) / self.w[i]

    def utility(self, truth_i, reports, i: int, payments: bool = True):
        """U_i = -||o(reports) - t_i||^2 (+ pay_i): ``truth_i`` (..., d) is labeler i's true opinion."""
        o = self.outcome(reports)
        u = -((o - truth_i) ** 2).sum(-1)
        return u + self.payment(reports, i) if payments else u

    def best_response_no_payment(self, reports, i: int) -> np.ndarray:
        """Labeler i's exact best report WITHOUT payments, given the others' reports and its true opinion
        ``reports[..., i, :]``: the outcome is affine in r_i, so the best r_i is the projection of
        (W t_i - sum_{j != i} w_j r_j) / w_i onto the report set (the simplex, or R^d)."""
        r = self.check(reports)
        others = self._others(i) > 0
        target = (self.w.sum() * r[..., i, :] - (self.w[others, None] * r[..., others, :]).sum(-2)) / self.w[i]
        return project_simplex(target) if self.simplex else target


# --------------------------------------------------------------------------- finite outcome set
_DISTANCES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "l1": lambda diff: np.abs(diff).sum(-1),
    "tv": lambda diff: 0.5 * np.abs(diff).sum(-1),
    "l2": lambda diff: np.sqrt((diff**2).sum(-1)),
    "sq_l2": lambda diff: (diff**2).sum(-1),
    "linf": lambda diff: np.abs(diff).max(-1),
}


class FiniteVCG:
    """Outcome = the candidate in a finite set ``outcomes`` (m, d) that minimizes the weighted sum of the
    reported distances; ``distance`` one of l1, tv, l2, sq_l2, linf. Batched over leading axes."""

    def __init__(self, outcomes, n_labelers: int, distance: str = "l1", weights=None):
        O = np.asarray(outcomes, dtype=float)
        if O.ndim != 2 or O.shape[0] < 1 or not np.all(np.isfinite(O)):
            raise ValueError(f"outcomes: expected a finite (m, d) array, got shape {O.shape}")
        if distance not in _DISTANCES:
            raise ValueError(f"distance: unknown {distance!r}; use one of {sorted(_DISTANCES)}")
        if int(n_labelers) < 2:
            raise ValueError(f"n_labelers: need >= 2, got {n_labelers}")
        self.O, self.n, self.distance = O, int(n_labelers), distance
        self._d = _DISTANCES[distance]
        self.w = _check_weights(weights, self.n)

    def check(self, reports, name: str = "reports") -> np.ndarray:
        r = _check_reports(reports, name, simplex=False)
        if r.shape[-2:] != (self.n, self.O.shape[1]):
            raise ValueError(f"{name}: expected (..., {self.n}, {self.O.shape[1]}), got {r.shape}")
        return r

    def dist(self, reports) -> np.ndarray:
        """d(o_k, r_j) for every labeler j and candidate k, shape (..., n, m)."""
        return self._d(self.O - reports[..., :, None, :])

    def outcome_index(self, reports, exclude: int | None = None) -> np.ndarray:
        """Index of the chosen candidate (lowest index among ties); ``exclude`` leaves a labeler out."""
        r = self.check(reports)
        w = self.w.copy()
        if exclude is not None:
            w[exclude] = 0.0
        cost = np.einsum("j,...jm->...m", w, self.dist(r))
        return np.argmin(cost, axis=-1)

    def outcome(self, reports) -> np.ndarray:
        return self.O[self.outcome_index(reports)]

    def _evaluate(self, reports, i: int):
        """(chosen index, labeler i's payment) from one distance table."""
        if not 0 <= int(i) < self.n:
            raise ValueError(f"i: labeler index out of range 0..{self.n - 1}, got {i}")
        D = self.dist(self.check(reports))  # (..., n, m)
        cost = np.einsum("j,...jm->...m", self.w, D)
        k_star = np.argmin(cost, axis=-1)
        cost_others = cost - self.w[i] * D[..., i, :]
        at_star = np.take_along_axis(cost_others, k_star[..., None], axis=-1)[..., 0]
        return k_star, (cost_others.min(axis=-1) - at_star) / self.w[i]

    def payment(self, reports, i: int) -> np.ndarray:
        """Labeler i's Clarke-pivot / affine-maximizer payment (<= 0)."""
        return self._evaluate(reports, i)[1]

    def utility(self, truth_i, reports, i: int, payments: bool = True) -> np.ndarray:
        """U_i = -d(o(reports), t_i) (+ pay_i)."""
        k_star, pay = self._evaluate(reports, i)
        u = -self._d(self.O[k_star] - np.asarray(truth_i, dtype=float))
        return u + pay if payments else u


# --------------------------------------------------------------------------- misreport searches
def _with_report(truths: np.ndarray, i: int, cand: np.ndarray) -> np.ndarray:
    """Profiles (B, S, n, d): the truthful profile with labeler i's report replaced by each candidate."""
    B, n, d = truths.shape
    prof = np.broadcast_to(truths[:, None], (B, cand.shape[1], n, d)).copy()
    prof[:, :, i, :] = cand
    return prof


def random_misreport_search(mech, truths, i: int, n_samples: int = 256, *, rng, payments: bool = True):
    """The largest gain U_i(misreport) - U_i(truth) over random candidate reports, per instance.

    ``rng``: a ``numpy.random.Generator`` or an integer seed (required; None raises ``ValueError``).

    ``truths`` (B, n, d) are the true opinions (all others report truthfully: truthfulness as a dominant
    strategy is checked against arbitrary others by drawing arbitrary truths). Candidates: Dirichlet
    draws with random concentration, the simplex vertices, every outcome of a :class:`FiniteVCG`, and
    exaggerations t_i + c (t_i - o_{-i}) projected on the simplex. Returns (gains (B,), best reports
    (B, d)).
    """
    rng = as_generator(rng, "rng")
    truths = mech.check(truths, "truths")
    B, n, d = truths.shape
    conc = np.exp(rng.uniform(np.log(0.05), np.log(5.0), size=(B, n_samples, 1)))
    cand = [rng.gamma(np.broadcast_to(conc, (B, n_samples, d)))]
    cand[0] = cand[0] / np.maximum(cand[0].sum(-1, keepdims=True), 1e-300)
    cand.append(np.broadcast_to(np.eye(d), (B, d, d)))
    if isinstance(mech, FiniteVCG):
        cand.append(np.broadcast_to(mech.O, (B,) + mech.O.shape))
        o_minus = mech.O[mech.outcome_index(truths, exclude=i)]
    else:
        o_minus = mech.outcome_without(truths, i)
    t = truths[:, i, :]
    scales = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    cand.append(project_simplex(t[:, None, :] + scales[None, :, None] * (t - o_minus)[:, None, :]))
    cand = np.concatenate(cand, axis=1)
    cand = np.where(cand < 0, 0.0, cand)
    cand = cand / cand.sum(-1, keepdims=True)
    prof = _with_report(truths, i, cand)
    u_mis = mech.utility(t[:, None, :], prof, i, payments=payments)
    u_true = mech.utility(t, truths, i, payments=payments)
    best = np.argmax(u_mis, axis=1)
    gain = u_mis[np.arange(B), best] - u_true
    return gain, cand[np.arange(B), best]


def gradient_misreport_search(
    mech: QuadraticVCG,
    truths,
    i: int,
    n_starts: int = 8,
    steps: int = 200,
    lr: float = 0.1,
    seed: int = 0,
    payments: bool = True,
):
    """Gradient ascent (torch autograd through the closed-form mechanism, Adam) on labeler i's utility
    over reports on the simplex (softmax parametrization; unconstrained when ``mech.simplex`` is False),
    from ``n_starts`` random starts plus the truthful report. Returns (gains (B,), best reports (B, d))
    with the gain evaluated exactly in numpy at the final reports."""
    import torch

    if not isinstance(mech, QuadraticVCG):
        raise ValueError("mech: gradient search needs the differentiable QuadraticVCG")
    truths = mech.check(truths, "truths")
    B, n, d = truths.shape
    g = torch.Generator().manual_seed(int(seed))
    T = torch.as_tensor(truths, dtype=torch.float64)
    t = T[:, i, :]
    start = torch.randn(B, n_starts, d, generator=g, dtype=torch.float64)
    if mech.simplex:
        start = torch.cat([start, torch.log(t.clamp_min(1e-12))[:, None, :]], dim=1)
    else:
        start = torch.cat([start, t[:, None, :]], dim=1)
    z = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    others = torch.ones(n, dtype=torch.bool)
    others[i] = False

    def profile(z):
        rep = torch.softmax(z, dim=-1) if mech.simplex else z
        prof = T[:, None].expand(B, z.shape[1], n, d).clone()
        prof[:, :, i, :] = rep
        return rep, prof

    # Near the truthful optimum the gradients and Adam's second moments become subnormal floats, which
    # are ~100x slower on x86: flush them to zero during the search (restored to torch's default after).
    torch.set_flush_denormal(True)
    try:
        for _ in range(steps):
            opt.zero_grad()
            _, prof = profile(z)
            loss = -mech.utility(t[:, None, :], prof, i, payments=payments).sum()
            loss.backward()
            opt.step()
    finally:
        torch.set_flush_denormal(False)
    with torch.no_grad():
        rep, _ = profile(z)
    cand = rep.detach().numpy()
    if mech.simplex:
        cand = cand / cand.sum(-1, keepdims=True)
    prof = _with_report(truths, i, cand)
    u_mis = mech.utility(truths[:, i, None, :], prof, i, payments=payments)
    u_true = mech.utility(truths[:, i, :], truths, i, payments=payments)
    best = np.argmax(u_mis, axis=1)
    return u_mis[np.arange(B), best] - u_true, cand[np.arange(B), best]
