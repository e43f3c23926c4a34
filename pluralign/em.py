"""One mixture-EM engine for PREC, EM-DPO and the latent-class logit (DESIGN.md, "One engine").

The engine only sees an N users x K components matrix of per-user log-likelihoods, a prior ``rho`` over
components, an assignment rule and a weighted M-step:

* soft   — responsibilities gamma_ik = posterior (seed 001 eq. 36-38; seed 000 eq. 9);
* hard   — one-hot at argmax_k (log rho_k + log L_ik);
* leaky  — weights max(1[z_i = k], nu) at the argmax assignment z (seed 000 eq. 10-13).

Priors are ``"fixed"`` (the setting of seed 000 Thm. A.5) or ``"estimate"`` (rho_k = mean_i q_ik,
seed 001 eq. 25). Every iteration records the marginal log-likelihood l (seed 000 eq. 15) and the leaky
ELBO F_nu (eq. 18), computed by :mod:`theory.leaky_elbo`.

A model plugs in through :class:`MixtureModel`: ``init_params``, ``log_likelihood`` (N x K) and a weighted
``m_step``. :class:`LatentClassLogit` is the built-in example (one multinomial-logit taste vector per
latent type, exact convex M-step); :class:`pluralign.prec.decoders.DecoderMixture` is PREC's.

One iteration t (after an initial M-step on the initial weights):

1. E-step: z_t = argmax_k (log rho_k + log L_ik(theta_{t-1})) (this z maximises F_nu over [K]^N for
   every nu, seed 000 Prop. A.3) and the weights of the assignment rule; with ``prior="estimate"``
   rho_t = mean_i q_i (which maximises F over rho for fixed q);
2. M-step: theta_t = argmax sum_ik w_ik log L_ik(theta) (warm-started at theta_{t-1});
3. trace: marginal log-likelihood l(theta_t, rho_t) and F_nu(z_t, rho_t, theta_t) after the M-step.

Acceleration (soft assignment, estimated prior): each iteration first asks the model for an ascent step
on the marginal log-likelihood (``marginal_newton_step``; :class:`LatentClassLogit` has one: Newton with
the exact Hessian over all parameters and the prior) and takes the EM step above only when the model has
none or it does not ascend; the fixed points are EM's, the trace stays monotone, and the linear rate of
EM becomes quadratic near a maximum. This is the default (``accelerate="auto"``, the same as "newton"):
the fastest exact fit of the latent-class logit (``benchmarks/latent_class.py``). ``accelerate="none"``
is plain EM, the algorithm the seeds print (what the theory checks of the EM iteration itself use). Models
without the step (or hard / leaky assignment, or a fixed prior) always run plain EM.

With an exact (or monotone, warm-started) M-step and fixed priors the traced F_nu never decreases
(seed 000 Thm. A.5); ``tests/pluralign/test_em.py`` checks it at every iteration on 200+ generated
problems. The objective used for stopping and for picking the best restart is l for soft assignment and
F_nu for hard / leaky assignment. Stopping rule: the objective improved by less than
tol * (1 + |objective|) (a decrease also stops), or ``max_iter``.

Empty components (a documented choice). With hard assignment (or leak nu = 0) and re-estimated priors a
component that wins no user gets rho_k = mean_i q_ik = 0; it then can never win a user again
(log rho_k = -inf), which is a fixed point of EM, not a bug. The engine keeps K fixed (callers rely on
the (N, K) shapes), stores rho_k = 0 exactly, records the emptied components in ``empty_components_``
and in the trace (``n_empty``), and gives the model all-zero weights for it (a model's ``m_step`` must
then leave that component's parameters unchanged; :class:`LatentClassLogit` and PREC's decoders do). No
silent re-seeding: re-seeding would break the monotonicity of F_nu; use restarts or ``kmeans++`` init to
avoid poor starts. Leaky assignment with nu > 0 cannot empty a component: every q_ik >= nu / (1 + (K-1)
nu), so rho_k is bounded below by that. Soft assignment keeps rho_k > 0 (it may still become tiny).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment, minimize

from pluralign.choice import choice_logprobs
from pluralign.data import _int_array
from pluralign.seeding import spawn
from pluralign.theory import leaky_elbo as le

__all__ = [
    "MixtureModel",
    "EMConfig",
    "EMResult",
    "MixtureEM",
    "assignment_weights",
    "LatentClassLogit",
    "matched_accuracy",
    "match_components",
    "adjusted_rand_index",
]

Assignment = Literal["soft", "hard", "leaky"]


class MixtureModel(Protocol):
    """What a model gives the engine. ``params`` is any object the model understands."""

    n_users: int

    def init_params(self, n_components: int, rng: np.random.Generator) -> Any:
        """Starting parameters for K components (the first M-step refines them)."""

    def log_likelihood(self, params: Any) -> np.ndarray:
        """The N x K matrix log L_ik = log p(data of user i | component k); entries <= 0."""

    def m_step(self, params: Any, weights: np.ndarray) -> Any:
        """Maximize sum_i sum_k weights_ik log L_ik(params) over params (warm-started at ``params``)."""


def _check_int(value, name: str, minimum: int) -> int:
    """An integer setting: a Python / numpy integer (not a bool, a float or a string) >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return int(value)


def _check_real(value, name: str) -> float:
    """A finite real setting (a Python / numpy number, not a bool or a string)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: must be a number, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value):
        raise ValueError(f"{name}: must be finite, got {value}")
    return float(value)


@dataclass
class EMConfig:
    """Settings of one EM fit."""

    n_components: int
    """K, the number of components (clusters / annotator types / latent classes)."""
    assignment: Assignment = "soft"
    """soft posterior, hard argmax, or leaky max(1[z = k], nu)."""
    leak: float = 0.0
    """nu in [0, 1): the leak of the leaky assignment (also the nu of the traced F_nu)."""
    prior: Literal["fixed", "estimate"] = "estimate"
    """Keep rho fixed (seed 000 Thm. A.5) or re-estimate it each iteration (seed 001 eq. 25)."""
    init: Literal["random", "kmeans++", "given"] = "random"
    """Random hard assignments, k-means++ on per-user features, or given responsibilities."""
    n_restarts: int = 1
    """Independent starts; the one with the best final objective wins."""
    max_iter: int = 100
    """Iteration cap per start."""
    tol: float = 1e-8
    """Stop when the objective improves by less than tol * (1 + |objective|)."""
    seed: int = 0
    """Seed of every random choice the engine makes: restart r draws from ``pluralign.seeding.derive(seed, r)``."""
    accelerate: Literal["auto", "newton", "none"] = "auto"
    """Acceleration: "auto" / "newton" with soft assignment and an estimated prior: each iteration first tries the model's ``marginal_newton_step`` (kept only when it ascends), else the EM step (models without one run plain EM); "none" is plain EM."""

    def __post_init__(self) -> None:
        self.n_components = _check_int(self.n_components, "n_components", 1)
        self.n_restarts = _check_int(self.n_restarts, "n_restarts", 1)
        self.max_iter = _check_int(self.max_iter, "max_iter", 1)
        self.leak = _check_real(self.leak, "leak")
        self.tol = _check_real(self.tol, "tol")
        if self.tol < 0:
            raise ValueError(f"tol: must be >= 0, got {self.tol}")
        if self.assignment not in ("soft", "hard", "leaky"):
            raise ValueError(f"assignment: must be soft, hard or leaky, got {self.assignment!r}")
        if not (0.0 <= float(self.leak) < 1.0):
            raise ValueError(f"leak: must lie in [0, 1), got {self.leak}")
        if self.prior not in ("fixed", "estimate"):
            raise ValueError(f"prior: must be fixed or estimate, got {self.prior!r}")
        if self.init not in ("random", "kmeans++", "given"):
            raise ValueError(f"init: must be random, kmeans++ or given, got {self.init!r}")
        if self.accelerate not in ("auto", "newton", "none"):
            raise ValueError(f"accelerate: must be auto, newton or none, got {self.accelerate!r}")


@dataclass
class EMResult:
    params: Any
    rho: np.ndarray
    responsibilities: np.ndarray
    assignment: np.ndarray
    trace: list[dict] = field(default_factory=list)
    objective: float = -np.inf
    converged: bool = False
    restart: int = 0


def assignment_weights(log_lik: np.ndarray, rho: np.ndarray, mode: Assignment, leak: float = 0.0):
    """The E-step: (weights for the M-step, normalized q_i, argmax assignment z)."""
    z = le.argmax_assignment(log_lik, rho)
    K = log_lik.shape[1]
    if mode == "soft":
        q = le.posterior(log_lik, rho)
        return q, q, z
    nu = leak if mode == "leaky" else 0.0
    return le.leaky_weights(z, K, nu), le.leaky_q(z, K, nu), z


class MixtureEM:
    """EM over N users x K components. ``fit`` returns self; learned attributes end in ``_``.

    Example::

        em = MixtureEM(LatentClassLogit(choices), EMConfig(n_components=3, seed=0)).fit()
        em.rho_, em.params_, em.trace_[-1]["marginal_ll"]
    """

    def __init__(self, model: MixtureModel, config: EMConfig, rho0: np.ndarray | None = None):
        self.model = model
        self.config = config
        K = config.n_components
        self.rho0 = np.full(K, 1.0 / K) if rho0 is None else le.check_inputs(np.zeros((1, K)), rho0)[1]

    # ---- initial responsibilities
    def _initial_weights(self, rng, user_features, responsibilities) -> np.ndarray:
        cfg, N, K = self.config, self.model.n_users, self.config.n_components
        if cfg.init == "given":
            if responsibilities is None:
                raise ValueError("responsibilities: init='given' needs an N x K responsibilities array")
            r = np.asarray(responsibilities, dtype=float)
            if r.shape != (N, K) or not np.all(np.isfinite(r)) or np.any(r < 0):
                raise ValueError(f"responsibilities: expected a finite non-negative {(N, K)} array")
            if not np.allclose(r.sum(axis=1), 1.0, atol=1e-6):
                raise ValueError("responsibilities: rows must sum to 1")
            return r
        if cfg.init == "kmeans++":
            if user_features is None:
                raise ValueError("user_features: init='kmeans++' needs an N x d array of per-user features")
            X = np.asarray(user_features, dtype=float)
            if X.ndim != 2 or X.shape[0] != N or not np.all(np.isfinite(X)):
                raise ValueError(f"user_features: expected a finite ({N}, d) array, got shape {X.shape}")
            if N < K:
                raise ValueError(f"n_components: init='kmeans++' needs at least K = {K} users, got {N}")
            import warnings

            from sklearn.cluster import KMeans
            from sklearn.exceptions import ConvergenceWarning

            with warnings.catch_warnings():  # duplicate users -> fewer distinct clusters: fine, EM goes on
                warnings.simplefilter("ignore", ConvergenceWarning)
                km = KMeans(K, init="k-means++", n_init=1, random_state=int(rng.integers(2**31)))
                labels = km.fit_predict(X)
        else:
            labels = rng.permutation(np.arange(N) % K) if N >= K else rng.integers(0, K, size=N)
        return np.eye(K)[labels]

    def _log_lik(self, params) -> np.ndarray:
        """The model's N x K log-likelihoods, checked (shape, finite, <= 0) with a clear error."""
        N, K = self.model.n_users, self.config.n_components
        try:
            L = np.asarray(self.model.log_likelihood(params), dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"log_likelihood: the model returned something that is not numeric ({exc})") from None
        if L.shape != (N, K):
            raise ValueError(f"log_likelihood: the model returned shape {L.shape}, expected (n_users, K) = {(N, K)}")
        if not np.all(np.isfinite(L)):
            raise ValueError("log_likelihood: the model returned NaN or inf")
        if np.any(L > 1e-9):
            raise ValueError("log_likelihood: the model returned a positive log-likelihood")
        return np.minimum(L, 0.0)

    def _objective(self, marginal_ll: float, f_nu: float) -> float:
        return marginal_ll if self.config.assignment == "soft" else f_nu

    def _run(self, rng, user_features, responsibilities, restart: int) -> EMResult:
        cfg, K = self.config, self.config.n_components
        rho = self.rho0.copy()
        w0 = self._initial_weights(rng, user_features, responsibilities)
        if cfg.assignment != "soft" and cfg.init != "given":
            w0 = np.maximum(w0, cfg.leak if cfg.assignment == "leaky" else 0.0)
        params = self.model.m_step(self.model.init_params(K, rng), w0)
        trace: list[dict] = []
        prev, converged = -np.inf, False
        L = self._log_lik(params)  # at the current params; refreshed once after each M-step
        newton = getattr(self.model, "marginal_newton_step", None)
        if not (cfg.accelerate != "none" and callable(newton) and cfg.assignment == "soft" and cfg.prior == "estimate"):
            newton = None
        for it in range(cfg.max_iter):
            step = newton(params, rho, L) if newton is not None else None
            if step is None:  # the EM step
                weights, q, z = assignment_weights(L, rho, cfg.assignment, cfg.leak)
                if cfg.prior == "estimate":
                    rho = q.mean(axis=0)
                    rho = rho / rho.sum()
                params = self.model.m_step(params, weights)
            else:  # an ascent step of the model's own on the marginal log-likelihood (accelerate "auto" or "newton")
                z = le.argmax_assignment(L, rho)
                params, rho = step
            L = self._log_lik(params)
            ml = le.marginal_log_likelihood(L, rho)
            f_nu = le.leaky_elbo(L, rho, z, cfg.leak if cfg.assignment == "leaky" else 0.0)
            obj = self._objective(ml, f_nu)
            n_empty = int(np.sum(rho == 0.0))
            trace.append(
                {"iter": it, "marginal_ll": ml, "leaky_elbo": f_nu, "objective": obj, "n_empty": n_empty}
            )
            if np.isfinite(prev) and obj - prev < cfg.tol * (1.0 + abs(obj)):
                converged = True
                break
            prev = obj
        return EMResult(
            params=params,
            rho=rho,
            responsibilities=le.posterior(L, rho),
            assignment=le.argmax_assignment(L, rho),
            trace=trace,
            objective=trace[-1]["objective"],
            converged=converged,
            restart=restart,
        )

    def fit(self, user_features=None, responsibilities=None) -> MixtureEM:
        """Run ``n_restarts`` independent EM runs and keep the best (highest objective); returns self.

        Learned attributes: ``params_``, ``rho_``, ``responsibilities_`` (posterior at the end),
        ``labels_`` (argmax assignment), ``trace_`` (per-iteration dicts: iter, marginal_ll, leaky_elbo,
        objective, n_empty), ``objective_``, ``converged_``, ``n_iter_``, ``empty_components_``,
        ``result_`` (the best :class:`EMResult`) and ``restarts_`` (all of them).
        """
        rngs = spawn(self.config.seed, self.config.n_restarts, name="seed")  # restart r: derive(seed, r)
        runs = [self._run(rng, user_features, responsibilities, r) for r, rng in enumerate(rngs)]
        best = max(runs, key=lambda r: r.objective)
        self.result_ = best
        self.restarts_ = runs
        self.params_, self.rho_ = best.params, best.rho
        self.responsibilities_, self.labels_ = best.responsibilities, best.assignment
        self.trace_ = best.trace
        self.objective_ = best.objective
        self.converged_ = best.converged
        self.n_iter_ = len(best.trace)
        self.empty_components_ = np.flatnonzero(best.rho == 0.0)
        return self


# --------------------------------------------------------------------------- latent-class logit
class LatentClassLogit:
    """A finite mixture of multinomial logits: user i has a latent type k with taste vector beta_k;
    P(chosen | set) = softmax_j(beta_k . x_j). The M-step is an exact weighted MLE per type (convex)
    with a ridge ``l2`` on every M-step (default 1e-2: a type whose users all pick the same option keeps
    finite tastes).

    ``m_step``: ``"newton"`` (default; warm-started damped Newton with the exact Hessian of the weighted
    multinomial-logit log-likelihood + ridge, backtracking on the objective, so every M-step is monotone
    and converges in a handful of passes; the K components are solved together, one likelihood pass per
    Newton step for all of them) or ``"lbfgs"`` (L-BFGS with the analytic gradient). Both reach the same
    optimum (``tests/pluralign/test_em.py``). ``marginal_newton_step`` is the Newton step on the marginal
    likelihood that EM takes by default (``EMConfig(accelerate="auto")``). ``benchmarks/latent_class.py`` times EM with
    each against a direct scipy maximum-likelihood fit of the mixture.

    ``choices`` is a :class:`pluralign.data.Choices` with option ``features`` (M, n, d).
    ``params`` is a (K, d) array of taste vectors.
    """

    M_STEPS = ("newton", "lbfgs")

    def __init__(self, choices, l2: float = 1e-2, init_scale: float = 1.0, m_step: str = "newton"):
        if choices.features is None:
            raise ValueError("choices: LatentClassLogit needs option features (M, n, d)")
        l2 = _check_real(l2, "l2")
        if l2 < 0:
            raise ValueError(f"l2: must be >= 0, got {l2}")
        if m_step not in self.M_STEPS:
            raise ValueError(f"m_step: must be one of {self.M_STEPS}, got {m_step!r}")
        self.X = choices.features
        self.chosen = choices.chosen
        self.mask = choices.mask
        self.user = choices.user
        self.record_weight = choices.weight
        self.n_users = choices.n_users
        self.d = self.X.shape[2]
        self.l2 = float(l2)
        self.init_scale = _check_real(init_scale, "init_scale")
        self.m_step_method = m_step
        self._rows = np.arange(len(self.chosen))
        self._Xm = np.where(self.mask[:, :, None], self.X, 0.0)
        self._xc = self.X[self._rows, self.chosen]
        self._Xflat = self.X.reshape(-1, self.d)
        Z = self._Xm.reshape(-1, self.d)
        # x x^T per option, for the Hessians (one matmul); kept only while small (<= 4e6 numbers)
        self._XX = (Z[:, :, None] * Z[:, None, :]).reshape(len(Z), -1) if Z.size * self.d <= 4_000_000 else None
        # user-aggregation: log_likelihood = _by_user @ (record log-likelihoods), weights on the records
        self._by_user = sparse.csr_matrix((self.record_weight, (self.user, self._rows)),
                                          shape=(self.n_users, len(self.chosen)))
        self._log_n_options = np.log(self.mask.sum(axis=1))  # -log P(choice) at beta = 0
        self._mask_k = None
        self._memo = None
        self._newton_memo = None

    def init_params(self, n_components: int, rng: np.random.Generator) -> np.ndarray:
        return self.init_scale * rng.standard_normal((n_components, self.d))

    def _logp(self, beta: np.ndarray) -> np.ndarray:
        """(M, K, n) log P(option | set) under each taste vector (-inf on masked options), memoized for the
        last ``beta`` seen: EM evaluates the log-likelihood at the parameters its M-step has just returned,
        where the M-step's last Newton pass computed exactly this array (same function, same input, so the
        same bits; the memo holds a copy of ``beta`` and is used only on exact equality)."""
        beta = np.asarray(beta, dtype=float)
        last = self._memo
        if last is not None and last[0].shape == beta.shape and np.array_equal(last[0], beta):
            return last[1]
        M, n, _ = self.X.shape
        K = beta.shape[0]
        if self._mask_k is None or self._mask_k.shape[0] != M * K:
            self._mask_k = np.repeat(self.mask, K, axis=0)
        u = (self._Xflat @ beta.T).reshape(M, n, K).transpose(0, 2, 1).reshape(M * K, n)
        logp = choice_logprobs(u, self._mask_k, validate=False).reshape(M, K, n)
        self._memo = (beta.copy(), logp)
        return logp

    def _record_loglik(self, beta: np.ndarray) -> np.ndarray:
        """(M, K) log-probability of each record's choice under each taste vector."""
        return self._logp(np.atleast_2d(beta))[self._rows, :, self.chosen]

    def log_likelihood(self, params: np.ndarray) -> np.ndarray:
        return self._by_user @ self._record_loglik(params)

    def _parts_all(self, B: np.ndarray, W: np.ndarray):
        """Per component k: objective f_k (weighted NLL + ridge), gradient g_k, option probabilities and
        mean features at B (K, d), for record weights W (M, K). The K objectives are separable."""
        logp = self._logp(B)  # (M, K, n)
        p = np.exp(logp)
        f = -(W * logp[self._rows, :, self.chosen]).sum(axis=0) + 0.5 * self.l2 * np.sum(B * B, axis=1)
        mean = p @ self._Xm  # (M, K, d)
        g = -(W[:, :, None] * (self._xc[:, None, :] - mean)).sum(axis=0) + self.l2 * B
        return f, g, p, mean

    def _parts(self, b: np.ndarray, rec_w: np.ndarray):
        """Objective (weighted NLL + ridge), gradient, option probabilities and mean features at b."""
        f, g, p, mean = self._parts_all(np.asarray(b, dtype=float)[None], np.asarray(rec_w, dtype=float)[:, None])
        return f[0], g[0], p[:, 0], mean[:, 0]

    def _fit_newton(self, B0: np.ndarray, W: np.ndarray, max_newton: int = 50, gtol: float = 1e-9) -> np.ndarray:
        """Damped Newton on all K components at once (their objectives are separable, so this is K
        independent Newton runs sharing each likelihood pass): exact Hessian
        sum_m w_mk (E_p[x x^T] - mean mean^T) + l2 I, a backtracking (Armijo) line search per component, a
        component stops when max|g_k| <= gtol max(1, sum_m w_mk) or when no descent is left (so each
        component's M-step objective never increases). A component whose start is worse than beta = 0
        starts from 0. Components with zero total weight keep B0."""
        B = np.array(B0, dtype=float)
        K, d = B.shape
        wsum = W.sum(axis=0)
        live = wsum > 0
        scale = np.maximum(1.0, wsum)
        f, g, p, mean = self._parts_all(B, W)
        # a component whose objective is worse than at beta = 0 (uniform choice: f = sum_m w_m log n_m, no
        # likelihood pass needed) starts from 0 instead, e.g. the first M-step from random parameters
        zero = live & (W.T @ self._log_n_options < f)
        if zero.any():
            B[zero] = 0.0
            f, g, p, mean = self._parts_all(B, W)
        eye = np.eye(d)
        for _ in range(max_newton):
            live &= np.max(np.abs(g), axis=1) > gtol * scale
            if not live.any():
                break
            H = self._m_hessian(W, p, mean) + 1e-12 * eye
            step = np.where(live[:, None], np.linalg.solve(H, g[..., None])[..., 0], 0.0)
            dec = np.sum(g * step, axis=1)  # the Newton decrement squared (>= 0: H is positive definite)
            # below rounding of f (dec <= 1e-12 (1 + |f|)) Armijo cannot tell: there the full step is taken
            # when it shrinks the gradient (Newton's quadratic phase), which is what reaches gtol
            flat = dec <= 1e-12 * (1.0 + np.abs(f))
            t = np.ones(K)
            todo = live.copy()
            f_new, g_new, p_new, mean_new = f, g, p, mean
            by_grad = np.zeros(K, bool)
            while todo.any():
                fc, gc, pc, mc = self._parts_all(B - t[:, None] * step, W)
                f_new = np.where(todo, fc, f_new)
                g_new = np.where(todo[:, None], gc, g_new)
                p_new = np.where(todo[None, :, None], pc, p_new)
                mean_new = np.where(todo[None, :, None], mc, mean_new)
                shrink = todo & flat & (np.max(np.abs(gc), axis=1) < np.max(np.abs(g), axis=1))
                by_grad |= shrink
                ok = (fc <= f - 1e-4 * t * dec) | (t < 1e-10) | shrink
                todo &= ~ok
                t = np.where(todo, 0.5 * t, t)
            moved = live & ((f_new <= f) | by_grad)  # no descent left at machine precision: stay
            live &= moved
            B = np.where(moved[:, None], B - t[:, None] * step, B)
            f = np.where(moved, f_new, f)
            g = np.where(moved[:, None], g_new, g)
            p = np.where(moved[None, :, None], p_new, p)
            mean = np.where(moved[None, :, None], mean_new, mean)
        return B

    def _penalized_marginal(self, B: np.ndarray, rho: np.ndarray, L: np.ndarray | None = None):
        """(l(B, rho) - l2 / 2 sum_k |beta_k|^2, posterior q): the objective soft EM with this ridge ascends,
        l = sum_i log sum_k rho_k exp(L_ik) (seed 000 eq. 15) by one max-shifted log-sum-exp per user."""
        L = self.log_likelihood(B) if L is None else L
        J = L + np.log(rho)
        mx = J.max(axis=1, keepdims=True)
        e = np.exp(J - mx)
        tot = e.sum(axis=1, keepdims=True)
        ml = float(np.sum(mx + np.log(tot)))
        return ml - 0.5 * self.l2 * float(np.sum(B * B)), e / tot

    def marginal_newton_step(self, params: np.ndarray, rho: np.ndarray, log_lik: np.ndarray):
        """One damped Newton step on the penalized marginal log-likelihood
        l(B, a) - l2 / 2 sum_k |beta_k|^2, l = sum_i log sum_k rho_k exp(L_ik), rho = softmax(0, a_1..a_{K-1}),
        over all taste vectors and prior logits at once, with the exact gradient and Hessian
        (q = posterior, s_ik = dL_ik / d beta_k, C = the q-weighted choice covariances of the M-step):

            d/d beta_k = sum_i q_ik s_ik - l2 beta_k,      d/d a_k = sum_i q_ik - N rho_k,
            d2/d beta_k d beta_l = delta_kl (sum_i q_ik s_ik s_ik^T - C_k - l2 I) - sum_i q_ik q_il s_ik s_il^T,
            d2/d beta_k d a_l = sum_i q_ik (delta_kl - q_il) s_ik,
            d2/d a_k d a_l = sum_i q_ik (delta_kl - q_il) - N rho_k (delta_kl - rho_l).

        The step solves with -H's eigenvalues replaced by their absolute values floored at 1e-3 of the
        largest (exactly Newton's step near a maximum, where -H is positive definite; an ascent direction
        at a saddle, such as a start where two components nearly coincide). Returns (B, rho) after a
        backtracking (Armijo) line search, or None (the caller then takes the EM step) when no step ascends.
        Used by :class:`MixtureEM` by default (``EMConfig(accelerate="auto")``): EM's linear convergence becomes
        quadratic near the optimum, at the same fixed points (EM's with this ridge)."""
        B = np.asarray(params, dtype=float)
        K, d = B.shape
        rho = np.asarray(rho, dtype=float)
        if np.any(rho <= 0):
            return None
        N = self.n_users
        last = self._newton_memo  # the objective and posterior at the point the last step returned
        if last is not None and np.array_equal(last[0], B) and np.array_equal(last[1], rho):
            obj, q = last[2], last[3]
        else:
            obj, q = self._penalized_marginal(B, rho, log_lik)
        Wq = q[self.user] * self.record_weight[:, None]
        _, g, p, mean = self._parts_all(B, Wq)
        Hm = self._m_hessian(Wq, p, mean)  # (K, d, d): C_k + l2 I
        S = (self._by_user @ (self._xc[:, None, :] - mean).reshape(len(self.chosen), K * d)).reshape(N, K, d)
        QS = (q[:, :, None] * S).reshape(N, K * d)
        H = -(QS.T @ QS)  # - sum_i q_ik q_il s_ik s_il^T, all (k, l) blocks
        diag = np.einsum("ik,ika,ikb->kab", q, S, S) - Hm
        for k in range(K):
            H[k * d:(k + 1) * d, k * d:(k + 1) * d] += diag[k]
        Hba = (QS.T @ -q)  # (K d, K): - sum_i q_ik q_il s_ik
        qs_sum = QS.sum(axis=0).reshape(K, d)
        for k in range(K):
            Hba[k * d:(k + 1) * d, k] += qs_sum[k]
        Haa = np.diag(q.sum(axis=0)) - q.T @ q - N * (np.diag(rho) - np.outer(rho, rho))
        n_b = K * d
        full = np.zeros((n_b + K - 1, n_b + K - 1))
        full[:n_b, :n_b] = H
        full[:n_b, n_b:] = Hba[:, 1:]
        full[n_b:, :n_b] = Hba[:, 1:].T
        full[n_b:, n_b:] = Haa[1:, 1:]
        grad = np.concatenate([-g.ravel(), q.sum(axis=0)[1:] - N * rho[1:]])
        ev, V = np.linalg.eigh(-full)
        if not ev[-1] > 0:
            return None
        # away from a maximum (-H not positive definite) the step uses |eigenvalues| floored at 1e-3 of the
        # largest (a saddle-free Newton direction, still an ascent direction); at a maximum it is Newton's
        ev = np.maximum(np.abs(ev), 1e-3 * ev[-1])
        step = V @ ((V.T @ grad) / ev)
        dec = float(grad @ step)
        a = np.log(rho) - np.log(rho[0])
        t = 1.0
        for _ in range(30):
            B_new = B + t * step[:n_b].reshape(K, d)
            a_new = a + t * np.r_[0.0, step[n_b:]]
            rho_new = np.exp(a_new - a_new.max())
            rho_new /= rho_new.sum()
            obj_new, q_new = self._penalized_marginal(B_new, rho_new)
            if obj_new >= obj + 1e-4 * t * dec or (dec <= 1e-12 * (1.0 + abs(obj)) and obj_new >= obj):
                self._newton_memo = (B_new.copy(), rho_new.copy(), obj_new, q_new)
                return B_new, rho_new
            t *= 0.5
        return None

    def _m_hessian(self, W: np.ndarray, p: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """(K, d, d) Hessians of the K weighted M-step objectives: sum_m w_mk Cov_mk(x) + l2 I, from the
        option probabilities p (M, K, n) and mean features (M, K, d) of ``_parts_all``."""
        K, d = W.shape[1], self.d
        wp = (W[:, :, None] * p).transpose(1, 0, 2).reshape(K, -1)  # (K, M n)
        mt = mean.transpose(1, 0, 2)  # (K, M, d)
        if self._XX is not None:
            Exx = (wp @ self._XX).reshape(K, d, d)
        else:
            Z = self._Xm.reshape(-1, d)
            Exx = (Z.T[None] * wp[:, None, :]) @ Z
        H = Exx - (W.T[:, :, None] * mt).transpose(0, 2, 1) @ mt
        return H + self.l2 * np.eye(d)

    def _fit_lbfgs(self, beta0: np.ndarray, rec_w: np.ndarray) -> np.ndarray:
        def fg(b):
            f, g, _, _ = self._parts(b, rec_w)
            return f, g

        return minimize(fg, beta0, jac=True, method="L-BFGS-B", options={"maxiter": 500, "gtol": 1e-10}).x

    def _fit_one(self, beta0: np.ndarray, rec_w: np.ndarray) -> np.ndarray:
        """One component's M-step (record weights ``rec_w`` (M,)) by the configured method."""
        if rec_w.sum() <= 0:
            return beta0
        if self.m_step_method == "newton":
            return self._fit_newton(np.asarray(beta0, dtype=float)[None], np.asarray(rec_w, dtype=float)[:, None])[0]
        return self._fit_lbfgs(beta0, rec_w)

    def m_step(self, params: np.ndarray, weights: np.ndarray) -> np.ndarray:
        W = np.asarray(weights, dtype=float)[self.user] * self.record_weight[:, None]
        params = np.asarray(params, dtype=float)
        if self.m_step_method == "newton":
            return self._fit_newton(params, W)
        return np.stack([self._fit_one(params[k], W[:, k]) for k in range(params.shape[0])])


# --------------------------------------------------------------------------- label-switching-free evaluation
def _group_labels(x, name: str) -> np.ndarray:
    """Cluster / group labels as a 1-d array of non-negative integer ids (strings are factorized).

    Floats are accepted only when every value is a whole number (a group column that held NaN turns into
    floats: drop the users without a group first); negative ids (e.g. -1 for "no group") are rejected,
    never used as wrapped indices."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array of labels, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: no labels")
    if a.dtype.kind in "USO":
        if a.dtype.kind == "O" and any(isinstance(v, float) and v != v for v in a):
            raise ValueError(f"{name}: contains NaN (drop the users without a group first)")
        try:
            return np.unique(a.astype(str), return_inverse=True)[1].reshape(-1)
        except Exception as exc:  # pragma: no cover - exotic objects
            raise ValueError(f"{name}: labels cannot be read ({exc})") from None
    try:
        a = _int_array(a, name, 1)  # the package's one integer-id check (pluralign.data)
    except ValueError as exc:
        raise ValueError(f"{exc} (group ids; drop the users without a group first)") from None
    if np.any(a < 0):
        raise ValueError(f"{name}: negative group id {int(a.min())} (ids must be >= 0; drop 'no group' users)")
    return a


def _two_labelings(true_labels, pred_labels) -> tuple[np.ndarray, np.ndarray]:
    t, p = _group_labels(true_labels, "true_labels"), _group_labels(pred_labels, "pred_labels")
    if t.shape != p.shape:
        raise ValueError(f"pred_labels: shape mismatch {p.shape} vs true_labels {t.shape}")
    return t, p


def match_components(cost: np.ndarray) -> np.ndarray:
    """For a (K_true x K_est) cost matrix, the estimated component matched to each true one (Hungarian).
    Entries of -1 mark true components left unmatched (K_true > K_est)."""
    try:
        cost = np.asarray(cost, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("cost: must be a numeric (K_true, K_est) matrix") from None
    if cost.ndim != 2 or cost.size == 0:
        raise ValueError(f"cost: expected a non-empty (K_true, K_est) matrix, got shape {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost: contains NaN or inf")
    rows, cols = linear_sum_assignment(cost)
    out = np.full(cost.shape[0], -1)
    out[rows] = cols
    return out


def matched_accuracy(true_labels, pred_labels) -> float:
    """Accuracy of predicted cluster labels after the best one-to-one relabelling (Hungarian).

    Labels are non-negative integer ids (any, not necessarily contiguous) or strings; NaN, non-integer
    floats and negative ids ("no group") raise a ``ValueError`` naming the argument."""
    t, p = _two_labelings(true_labels, pred_labels)
    _, t = np.unique(t, return_inverse=True)
    _, p = np.unique(p, return_inverse=True)
    conf = np.zeros((t.max() + 1, p.max() + 1))
    np.add.at(conf, (t, p), 1)
    r, c = linear_sum_assignment(-conf)
    return float(conf[r, c].sum() / t.size)


def adjusted_rand_index(true_labels, pred_labels) -> float:
    """Adjusted Rand index (invariant to relabelling); labels validated as in :func:`matched_accuracy`."""
    from sklearn.metrics import adjusted_rand_score

    t, p = _two_labelings(true_labels, pred_labels)
    return float(adjusted_rand_score(t, p))
