"""Personalized reward models with a shared representation, clustered reward models, and the individual
and pooled baselines (seed 003, Park et al. 2024, the personalization part; seed 004 for the pooled limit).

Seed 003 models user i's reward as r_i(x) = theta_i^T psi_omega(x): a representation psi_omega shared by
everyone and learned on the pooled data of all users, and a low-dimensional taste vector theta_i per user.
Each user then pays for k = dim(theta_i) parameters rather than for a whole reward model, while the
representation is paid for once by everybody; this is the bias / variance trade-off between

* :class:`IndividualReward` — one unrestricted (linear, d-dimensional) model per user: unbiased, but its
  variance grows like d / (labels per user), and with very few labels it overfits;
* :class:`SharedRepresentationReward` — theta_i^T psi_omega(x), jointly fitted by maximum likelihood over
  all users (the penalty lambda (||theta||^2 + ||omega||^2) on a linear psi is the factorized form of a
  nuclear-norm penalty on the user x feature taste matrix);
* :class:`ClusteredReward` — K reward models theta_k^T psi(x) and a latent cluster per user, fitted with
  the shared EM engine (:class:`pluralign.em.MixtureEM`) through the :class:`ClusterRewardModel` adapter;
* the pooled model — one reward for everybody (``SharedRepresentationReward(pooled=True)``, or the
  K = 1 clustered model): low variance, biased when people differ.

Comparisons are :class:`pluralign.data.Choices` with option features (M, n, d); the likelihood is the
multinomial logit of :mod:`pluralign.choice` (Bradley-Terry for n = 2).

Seed 004's pooled limit: :func:`pooled_bt_population_mle` solves the population score equation
E[(P_mix(x) - sigma(theta^T x)) x] = 0 of one Bradley-Terry model fitted to a mixture of groups, and
:func:`pooled_bt_saturated` gives its closed form on a saturated comparison design.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logit

from pluralign.choice import choice_loglik, rating_loglik, rating_prob, sample_btl
from pluralign.data import Choices
from pluralign.em import EMConfig, MixtureEM
from pluralign.seeding import as_generator
from pluralign.theory.validation import as_finite_array

__all__ = [
    "SyntheticPreferences",
    "synthetic_low_rank",
    "RewardModelConfig",
    "SharedRepresentationReward",
    "IndividualReward",
    "ClusterRewardModel",
    "ClusteredReward",
    "pooled_bt_population_mle",
    "pooled_bt_saturated",
    "mixture_win_prob",
]


def _torch():
    import torch

    return torch


def _check_choices(choices) -> Choices:
    if not isinstance(choices, Choices):
        raise ValueError(f"choices: expected a pluralign.data.Choices, got {type(choices).__name__}")
    if choices.features is None:
        raise ValueError("choices: reward models need option features (M, n, d)")
    return choices


def _check_fitted(model, attribute: str) -> None:
    if not hasattr(model, attribute):
        raise ValueError(f"{type(model).__name__}: not fitted; call fit first")


def _check_query(features, user, d: int, n_users: int):
    """A reward query, validated: features (..., d) finite floats, user ids in 0..n_users-1."""
    X = as_finite_array(features, "features")
    if X.ndim < 1 or X.shape[-1] != d:
        raise ValueError(f"features: expected (..., {d}), got shape {X.shape}")
    u = np.asarray(user)
    if u.dtype.kind not in "iu" or np.any(u < 0) or np.any(u >= n_users):
        raise ValueError(f"user: expected integer ids in 0..{n_users - 1}")
    return X, u


# --------------------------------------------------------------------------- synthetic data
@dataclass
class SyntheticPreferences:
    """Pairwise comparisons from users with low-rank linear rewards r_i(x) = theta_i^T A x."""

    choices: Choices
    """The comparisons: features (M, 2, d), chosen index 0/1 drawn from Bradley-Terry."""
    A: np.ndarray
    """(k, d) the true representation (orthonormal rows)."""
    theta: np.ndarray
    """(n_users, k) the true taste vectors."""
    group: np.ndarray
    """(n_users,) the group each user's taste was drawn around."""

    def reward(self, features, user) -> np.ndarray:
        """True rewards of ``features`` (..., d) for ``user`` (int or array broadcast to features[..., 0])."""
        w = self.theta @ self.A  # (n_users, d)
        return np.einsum("...d,...d->...", np.asarray(features, dtype=float), w[np.asarray(user)])

    def sample(self, labels_per_user: int, rng) -> Choices:
        """New comparisons from the same users (fresh features and labels). ``rng``: a
        ``numpy.random.Generator`` or an integer seed (None or a list raises ``ValueError``)."""
        return _sample_pairs(self.theta @ self.A, labels_per_user, as_generator(rng, "rng"))


def _sample_pairs(W: np.ndarray, m: int, rng: np.random.Generator) -> Choices:
    n_users, d = W.shape
    user = np.repeat(np.arange(n_users), m)
    X = rng.standard_normal((user.size, 2, d))
    diff = np.einsum("md,md->m", X[:, 0] - X[:, 1], W[user])  # r(x_0) - r(x_1)
    first_wins = sample_btl(diff, np.zeros_like(diff), rng)
    return Choices(user=user, features=X, chosen=1 - first_wins, n_users=n_users)


def synthetic_low_rank(
    n_users: int,
    labels_per_user: int,
    dim: int = 20,
    rank: int = 3,
    n_groups: int = 3,
    spread: float = 0.3,
    scale: float = 2.0,
    seed: int = 0,
) -> SyntheticPreferences:
    """Users in ``n_groups`` taste groups: theta_i = c_g + spread * scale * noise / sqrt(k), centers
    c_g ~ scale * N(0, I_k) / sqrt(k); A has orthonormal rows; comparisons of two N(0, I_d) items.
    ``scale`` sets the typical size of ||A^T theta_i|| (how deterministic the labels are)."""
    for name, v, lo in (("n_users", n_users, 1), ("labels_per_user", labels_per_user, 1), ("dim", dim, 1), ("rank", rank, 1), ("n_groups", n_groups, 1)):
        if int(v) < lo:
            raise ValueError(f"{name}: must be >= {lo}, got {v}")
    if rank > dim:
        raise ValueError(f"rank: must be <= dim={dim}, got {rank}")
    if spread < 0 or scale <= 0:
        raise ValueError("spread / scale: spread must be >= 0 and scale > 0")
    rng = as_generator(seed)
    A = np.linalg.qr(rng.standard_normal((dim, rank)))[0].T
    centers = scale * rng.standard_normal((n_groups, rank)) / np.sqrt(rank)
    group = np.arange(n_users) % n_groups
    theta = centers[group] + spread * scale * rng.standard_normal((n_users, rank)) / np.sqrt(rank)
    choices = _sample_pairs(theta @ A, labels_per_user, rng)
    return SyntheticPreferences(choices=choices, A=A, theta=theta, group=group)


# --------------------------------------------------------------------------- shared representation
@dataclass
class RewardModelConfig:
    """Settings of the torch reward models (shared representation and clustered)."""

    rep_dim: int = 3
    """k: the dimension of psi_omega(x) and of each theta_i."""
    hidden: int = 0
    """Width of the tanh hidden layer of psi; 0 makes psi linear (psi(x) = A x)."""
    l2_theta: float = 1.0
    """Ridge on the taste vectors theta (a Gaussian prior, in units of the summed log-likelihood)."""
    l2_omega: float = 1.0
    """Ridge on the representation's weights omega."""
    max_iter: int = 200
    """L-BFGS iterations (full batch)."""
    init_scale: float = 0.1
    """Standard deviation of the initial theta."""
    seed: int = 0
    """Seed of the initialization (torch.Generator)."""

    def __post_init__(self) -> None:
        if int(self.rep_dim) < 1 or int(self.hidden) < 0 or int(self.max_iter) < 1:
            raise ValueError("rep_dim / hidden / max_iter: rep_dim >= 1, hidden >= 0, max_iter >= 1")
        if self.l2_theta < 0 or self.l2_omega < 0 or self.init_scale <= 0:
            raise ValueError("l2_theta / l2_omega / init_scale: penalties >= 0 and init_scale > 0")


def _make_psi(d: int, cfg: RewardModelConfig, gen):
    torch = _torch()
    from pluralign.torch_init import build

    if cfg.hidden:
        psi = build(lambda: torch.nn.Sequential(
            torch.nn.Linear(d, cfg.hidden), torch.nn.Tanh(), torch.nn.Linear(cfg.hidden, cfg.rep_dim)
        ))
    else:
        psi = build(lambda: torch.nn.Linear(d, cfg.rep_dim, bias=False))
    psi = psi.double()
    with torch.no_grad():  # every parameter drawn from gen (build left them uninitialised)
        for p in psi.parameters():
            fan_in = p.shape[-1] if p.ndim == 2 else 1
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) / np.sqrt(fan_in))
    return psi


def _lbfgs(params, closure_loss, max_iter: int) -> float:
    torch = _torch()
    opt = torch.optim.LBFGS(
        params, lr=1.0, max_iter=max_iter, history_size=20, tolerance_grad=1e-9, tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = closure_loss()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(closure_loss())


def _mnl_loglik(u, chosen, mask):
    """log P(chosen) under the multinomial logit without per-call input validation (done once in
    :class:`_Data`; inside an optimizer loop it costs ~4x the arithmetic)."""
    return choice_loglik(u, chosen, mask, validate=False)


class _Data:
    """Torch views of a Choices set (validated once: Choices checked its fields, and
    :func:`pluralign.choice.choice_loglik` checks them again here on the first call)."""

    def __init__(self, choices: Choices):
        torch = _torch()
        self.X = torch.as_tensor(choices.features, dtype=torch.float64)
        self.chosen = torch.as_tensor(choices.chosen)
        self.mask = torch.as_tensor(choices.mask)
        self.user = torch.as_tensor(choices.user)
        self.w = torch.as_tensor(choices.weight, dtype=torch.float64)
        self.n_users = choices.n_users
        u0 = torch.zeros(self.mask.shape, dtype=torch.float64)
        choice_loglik(u0, self.chosen, self.mask)  # validation of chosen / mask, once


class SharedRepresentationReward:
    """r_i(x) = theta_i^T psi_omega(x), fitted jointly on all users' comparisons by penalized maximum
    likelihood (seed 003's personalized reward with a shared representation). With ``pooled=True`` every
    user shares one theta: the pooled baseline (one reward model for everybody).

    ``fit`` returns self; learned: ``psi_`` (torch module), ``theta_`` ((n_users or 1) x k numpy),
    ``loss_`` (the final penalized mean negative log-likelihood).
    """

    def __init__(self, config: RewardModelConfig | None = None, pooled: bool = False):
        self.config = config or RewardModelConfig()
        self.pooled = bool(pooled)

    def fit(self, choices: Choices) -> SharedRepresentationReward:
        torch = _torch()
        choices = _check_choices(choices)
        cfg, data = self.config, _Data(choices)
        gen = torch.Generator().manual_seed(int(cfg.seed))
        psi = _make_psi(choices.features.shape[2], cfg, gen)
        n_theta = 1 if self.pooled else data.n_users
        theta = (cfg.init_scale * torch.randn(n_theta, cfg.rep_dim, generator=gen, dtype=torch.float64)).requires_grad_(True)
        user = torch.zeros_like(data.user) if self.pooled else data.user
        W = data.w.sum()

        def loss():
            u = (psi(data.X) * theta[user][:, None, :]).sum(-1)
            nll = -(data.w * _mnl_loglik(u, data.chosen, data.mask)).sum()
            pen = cfg.l2_theta * (theta**2).sum() + cfg.l2_omega * sum((p**2).sum() for p in psi.parameters())
            return (nll + pen) / W

        self.loss_ = _lbfgs([theta, *psi.parameters()], loss, cfg.max_iter)
        self.psi_ = psi
        self.theta_ = theta.detach().numpy().copy()
        self.n_users_ = data.n_users
        self.d_ = int(choices.features.shape[2])
        return self

    def represent(self, features) -> np.ndarray:
        """psi_omega(x) for ``features`` (..., d)."""
        torch = _torch()
        _check_fitted(self, "psi_")
        with torch.no_grad():
            return self.psi_(torch.as_tensor(as_finite_array(features, "features"))).numpy()

    def reward(self, features, user) -> np.ndarray:
        """r_user(x) for ``features`` (..., d); ``user`` int or array broadcast to features[..., 0]."""
        _check_fitted(self, "psi_")
        X, user = _check_query(features, user, self.d_, self.n_users_)
        th = self.theta_[np.zeros_like(user) if self.pooled else user]
        return np.einsum("...k,...k->...", self.represent(X), th)


# --------------------------------------------------------------------------- individual baseline
class IndividualReward:
    """One linear Bradley-Terry / multinomial-logit reward per user on the raw features, fitted on that
    user's data alone by ridge-penalized maximum likelihood: minimize
    -sum_{records of i} log P(chosen) + l2 ||w_i||^2 for each user i. The objective is separable across
    users, so all users are solved in one full-batch L-BFGS (torch); the per-user optimum equals
    :class:`pluralign.em.LatentClassLogit`'s exact M-step on that user's data (tested).
    ``fit`` returns self; learned ``W_`` (n_users x d)."""

    def __init__(self, l2: float = 1.0, max_iter: int = 300):
        if l2 < 0 or int(max_iter) < 1:
            raise ValueError(f"l2 / max_iter: need l2 >= 0 and max_iter >= 1, got {l2}, {max_iter}")
        self.l2, self.max_iter = float(l2), int(max_iter)

    def fit(self, choices: Choices) -> IndividualReward:
        torch = _torch()
        choices = _check_choices(choices)
        data = _Data(choices)
        W = torch.zeros(data.n_users, data.X.shape[2], dtype=torch.float64, requires_grad=True)

        def loss():
            u = (data.X * W[data.user][:, None, :]).sum(-1)
            return -(data.w * _mnl_loglik(u, data.chosen, data.mask)).sum() + self.l2 * (W**2).sum()

        self.loss_ = _lbfgs([W], loss, self.max_iter)
        self.W_ = W.detach().numpy().copy()
        return self

    def reward(self, features, user) -> np.ndarray:
        _check_fitted(self, "W_")
        X, user = _check_query(features, user, self.W_.shape[1], self.W_.shape[0])
        return np.einsum("...d,...d->...", X, self.W_[user])


# --------------------------------------------------------------------------- clustered (EM engine)
class ClusterRewardModel:
    """:class:`pluralign.em.MixtureModel` adapter: K reward models r_k(x) = theta_k^T psi(x).

    ``psi`` is a frozen representation (a torch module, e.g. the ``psi_`` of a fitted
    :class:`SharedRepresentationReward` learned on the pooled data) or None for the raw features
    (then this is the latent-class logit). With ``learn_representation`` the M-step also updates psi's
    weights, shared by the K components. ``params`` = {"theta": (K, k) array, "omega": state or None}.
    """

    def __init__(self, choices: Choices, psi=None, learn_representation: bool = False, l2: float = 1.0,
                 l2_omega: float = 1.0, max_iter: int = 100, init_scale: float = 0.5):
        torch = _torch()
        choices = _check_choices(choices)
        if learn_representation and psi is None:
            raise ValueError("psi: learn_representation needs a representation module to start from")
        if l2 < 0 or l2_omega < 0 or int(max_iter) < 1 or init_scale <= 0:
            raise ValueError("l2 / l2_omega / max_iter / init_scale: out of range")
        self.data = _Data(choices)
        self.n_users = choices.n_users
        self.psi = copy.deepcopy(psi) if psi is not None else None
        self.learn = bool(learn_representation)
        self._omega0 = copy.deepcopy(self.psi.state_dict()) if self.learn else None  # every start's psi
        self.l2, self.l2_omega, self.max_iter, self.init_scale = float(l2), float(l2_omega), int(max_iter), float(init_scale)
        with torch.no_grad():
            self._Z = self.data.X if psi is None else self.psi(self.data.X)
        self.k = int(self._Z.shape[-1])

    def _features(self, omega):
        if not self.learn:
            return self._Z
        self.psi.load_state_dict(omega)
        return self.psi(self.data.X)

    def _record_ll(self, theta, Z):
        """(M, K) log P(chosen) of every record under every component."""
        torch = _torch()
        M, n, _ = Z.shape
        K = theta.shape[0]
        u = torch.einsum("mnk,ck->mcn", Z, theta).reshape(M * K, n)
        ch = self.data.chosen.repeat_interleave(K)
        mask = self.data.mask.repeat_interleave(K, dim=0)
        return _mnl_loglik(u, ch, mask).reshape(M, K)

    def init_params(self, n_components: int, rng: np.random.Generator) -> dict:
        omega = copy.deepcopy(self._omega0) if self.learn else None
        return {"theta": self.init_scale * rng.standard_normal((n_components, self.k)), "omega": omega}

    def log_likelihood(self, params: dict) -> np.ndarray:
        torch = _torch()
        with torch.no_grad():
            Z = self._features(params["omega"])
            rec = self._record_ll(torch.as_tensor(params["theta"]), Z) * self.data.w[:, None]
            out = torch.zeros(self.n_users, rec.shape[1], dtype=torch.float64).index_add_(0, self.data.user, rec)
        return out.numpy()

    def m_step(self, params: dict, weights: np.ndarray) -> dict:
        torch = _torch()
        rec_w = torch.as_tensor(weights, dtype=torch.float64)[self.data.user] * self.data.w[:, None]
        theta = torch.as_tensor(params["theta"], dtype=torch.float64).clone().requires_grad_(True)
        variables = [theta]
        if self.learn:
            self.psi.load_state_dict(params["omega"])
            variables += list(self.psi.parameters())
        total = rec_w.sum().clamp_min(1e-12)
        active = rec_w.sum(0) > 0  # a component without weight keeps its theta (the engine's contract)

        def loss():
            Z = self.psi(self.data.X) if self.learn else self._Z
            nll = -(rec_w * self._record_ll(theta, Z)).sum()
            pen = self.l2 * (theta[active] ** 2).sum()
            if self.learn:
                pen = pen + self.l2_omega * sum((p**2).sum() for p in self.psi.parameters())
            return (nll + pen) / total

        _lbfgs(variables, loss, self.max_iter)
        omega = copy.deepcopy(self.psi.state_dict()) if self.learn else None
        return {"theta": theta.detach().numpy().copy(), "omega": omega}

    def component_reward(self, params: dict, features) -> np.ndarray:
        """(..., K) rewards of ``features`` (..., d) under each component."""
        torch = _torch()
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(features, dtype=float))
            if self.psi is not None:
                if self.learn:
                    self.psi.load_state_dict(params["omega"])
                x = self.psi(x)
            return (x @ torch.as_tensor(params["theta"]).T).numpy()


class ClusteredReward:
    """K reward models and a latent cluster per user, fitted by the shared EM engine.

    ``representation``: None (raw features), or a fitted :class:`SharedRepresentationReward` whose psi
    (learned on the pooled data) is reused; ``learn_representation`` refits psi in every M-step.
    ``em``: the :class:`pluralign.em.EMConfig` (its ``n_components`` is K). ``fit`` returns self; learned
    ``em_`` (the fitted :class:`MixtureEM`), ``params_``, ``labels_``, ``responsibilities_``, ``rho_``.
    """

    def __init__(self, em: EMConfig, representation: SharedRepresentationReward | None = None,
                 learn_representation: bool = False, l2: float = 1.0, max_iter: int = 100):
        if not isinstance(em, EMConfig):
            raise ValueError("em: expected a pluralign.em.EMConfig")
        self.em = em
        self.representation = representation
        self.learn_representation = learn_representation
        self.l2, self.max_iter = l2, max_iter

    def fit(self, choices: Choices) -> ClusteredReward:
        psi = None if self.representation is None else self.representation.psi_
        self.model_ = ClusterRewardModel(choices, psi=psi, learn_representation=self.learn_representation,
                                         l2=self.l2, max_iter=self.max_iter)
        self.em_ = MixtureEM(self.model_, self.em).fit()
        self.params_, self.labels_ = self.em_.params_, self.em_.labels_
        self.responsibilities_, self.rho_ = self.em_.responsibilities_, self.em_.rho_
        self.d_ = int(choices.features.shape[2])
        return self

    def reward(self, features, user, soft: bool = False) -> np.ndarray:
        """r of ``user``'s cluster (hard) or the responsibility-weighted mix of the K rewards (soft)."""
        _check_fitted(self, "model_")
        X, user = _check_query(features, user, self.d_, self.labels_.shape[0])
        R = self.model_.component_reward(self.params_, X)  # (..., K)
        if soft:
            return np.einsum("...k,...k->...", R, self.responsibilities_[user])
        lab = np.broadcast_to(self.labels_[user], R.shape[:-1])
        return np.take_along_axis(R, lab[..., None], axis=-1)[..., 0]


# --------------------------------------------------------------------------- seed 004: pooled limit
def _check_mixture(X, group_betas, group_weights):
    X = np.asarray(X, dtype=float)
    B = np.asarray(group_betas, dtype=float)
    pi = np.asarray(group_weights, dtype=float)
    if X.ndim != 2 or B.ndim != 2 or B.shape[1] != X.shape[1]:
        raise ValueError(f"group_betas: expected (G, {X.shape[-1]}) for design X (m, d); got {B.shape}, X {X.shape}")
    if pi.shape != (B.shape[0],) or np.any(pi < 0) or abs(pi.sum() - 1) > 1e-9:
        raise ValueError("group_weights: expected G non-negative weights summing to 1")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(B))):
        raise ValueError("X / group_betas: contain NaN or inf")
    return X, B, pi


def mixture_win_prob(X, group_betas, group_weights) -> np.ndarray:
    """P_mix(first wins | x_j) = sum_g pi_g sigma(beta_g^T x_j) for each comparison x_j (m,)."""
    X, B, pi = _check_mixture(X, group_betas, group_weights)
    return rating_prob(X @ B.T) @ pi


def pooled_bt_population_mle(X, group_betas, group_weights, q=None, l2: float = 0.0) -> np.ndarray:
    """The population MLE of ONE linear Bradley-Terry model fitted to a mixture of groups (seed 004).

    Comparison j has feature difference x_j (row of X, (m, d)) and is asked with probability q_j; a labeler
    of group g (probability pi_g) prefers the first item with probability sigma(beta_g^T x_j). The expected
    log-likelihood sum_j q_j [P_j log sigma(theta^T x_j) + (1 - P_j) log sigma(-theta^T x_j)],
    P_j = sum_g pi_g sigma(beta_g^T x_j), is concave; its maximizer solves the score equation
    sum_j q_j (P_j - sigma(theta^T x_j)) x_j = 0 — in general NOT the average sum_g pi_g beta_g.
    Solved to machine precision with L-BFGS (an optional ridge ``l2`` keeps it finite when P_j is 0/1).
    """
    X, B, pi = _check_mixture(X, group_betas, group_weights)
    m = X.shape[0]
    q = np.full(m, 1.0 / m) if q is None else np.asarray(q, dtype=float)
    if q.shape != (m,) or np.any(q < 0) or q.sum() <= 0:
        raise ValueError(f"q: expected {m} non-negative design probabilities")
    q = q / q.sum()
    P = rating_prob(X @ B.T) @ pi

    def f(th):
        s = X @ th
        val = -(q * rating_loglik(s, P, validate=False)).sum() + 0.5 * l2 * th @ th  # soft label P
        grad = -(q * (P - rating_prob(s))) @ X + l2 * th
        return val, grad

    res = minimize(f, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B", options={"gtol": 1e-14, "ftol": 1e-16, "maxiter": 10_000})
    return res.x


def pooled_bt_saturated(X, group_betas, group_weights) -> np.ndarray:
    """Closed form of the pooled BT population MLE on a *saturated* design (seed 004, linear rewards):
    when the d comparison differences x_1..x_d (rows of a square invertible X) are each asked with
    positive probability, the score equation forces sigma(theta^T x_j) = P_mix(x_j) for every j, so

        theta = X^{-1} logit( sum_g pi_g sigma(beta_g^T x_j) )_j ,

    whatever the design probabilities. For two opposed groups (beta_2 = -beta_1) with X = I this is
    theta_j = logit(pi sigma(b_j) + (1 - pi) sigma(-b_j)): exactly 0 (the centroid) at 50/50 and, at
    51/49, a near-indifferent reward with the majority's sign."""
    X, B, pi = _check_mixture(X, group_betas, group_weights)
    if X.shape[0] != X.shape[1] or np.linalg.matrix_rank(X) < X.shape[0]:
        raise ValueError(f"X: a saturated design needs a square invertible matrix, got shape {X.shape}")
    return np.linalg.solve(X, logit(rating_prob(X @ B.T) @ pi))
