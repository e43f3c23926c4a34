"""EM-DPO (seed 001, Algorithm 1 and App. B) on the shared engine, and its baselines.

The E-step is the engine's: gamma_ik ∝ eta_k prod_{records of user i} P_k(chosen | options, x), computed in
log space from the N x K matrix of per-user sums of k-wise choice log-likelihoods under each type's implicit
reward beta log(pi_k / pi_ref) (App. B, eq. 36-38); the prior update eta_k = mean_i gamma_ik is eq. 37 / 25
(``EMConfig.prior="estimate"``).  The M-step runs weighted DPO (eq. 17) per type with the responsibilities
as per-example weights.  Initialisation: k-means++ on per-user response embeddings (as the seed suggests)
or random hard assignments — both are the engine's ``init`` modes.

Baselines (seed 001 sec. 5): vanilla DPO (K = 1), Cluster DPO (k-means on the users' response features,
then DPO per cluster), True-label DPO (DPO per true type).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from pluralign.data import Choices
from pluralign.em import EMConfig, MixtureEM, match_components
from pluralign.emdpo.policy import LogLinearPolicy

__all__ = ["EMDPOModel", "EMDPO", "PolicyFit", "vanilla_dpo", "cluster_dpo", "true_label_dpo", "match_types",
           "user_preferred_features"]


class EMDPOModel:
    """:class:`pluralign.em.MixtureModel` adapter: params = (K, p) thetas of a :class:`LogLinearPolicy`."""

    def __init__(self, policy: LogLinearPolicy, choices, init_scale: float = 0.01):
        if not isinstance(choices, Choices) or choices.options is None:
            raise ValueError("choices: expected a pluralign.data.Choices with option ids (options)")
        X, Y = policy.log_ref.shape
        if choices.context.max() >= X or choices.options.max() >= Y:
            raise ValueError(f"choices: context / option ids beyond the policy's {X} prompts x {Y} responses")
        self.policy, self.choices = policy, choices
        self.n_users = choices.n_users
        self.init_scale = float(init_scale)

    def init_params(self, n_components: int, rng: np.random.Generator) -> np.ndarray:
        return self.init_scale * rng.standard_normal((n_components, self.policy.n_params))

    def log_likelihood(self, params) -> np.ndarray:
        rec = self.policy.choice_logliks(params, self.choices) * self.choices.weight[:, None]
        out = np.zeros((self.n_users, rec.shape[1]))
        np.add.at(out, self.choices.user, rec)
        return out

    def m_step(self, params, weights) -> np.ndarray:
        rec_w = np.asarray(weights)[self.choices.user]
        return np.stack([self.policy.fit(self.choices, rec_w[:, k], params[k]) for k in range(params.shape[0])])


@dataclass
class PolicyFit:
    """K learned policies and how users were assigned to them."""

    thetas: np.ndarray
    """(K, p) policy parameters."""
    labels: np.ndarray
    """(N,) hard assignment of each user (all 0 for vanilla DPO)."""
    responsibilities: np.ndarray
    """(N, K) soft assignment (one-hot for the hard baselines)."""
    rho: np.ndarray
    """(K,) estimated type proportions."""


class EMDPO:
    """EM-DPO (seed 001 Algorithm 1).  ``fit(choices, user_features)`` returns self; learned attributes:
    ``thetas_`` (K, p), ``rho_`` (eta), ``responsibilities_`` (gamma), ``labels_``, ``trace_``, ``em_``.

    init: "kmeans++" (k-means on ``user_features``, the seed's suggestion) or "random".
    """

    def __init__(self, policy: LogLinearPolicy, n_types: int, init: str = "kmeans++", n_restarts: int = 3,
                 max_iter: int = 100, tol: float = 1e-7, seed: int = 0):
        if init not in ("kmeans++", "random"):
            raise ValueError(f"init: expected 'kmeans++' or 'random', got {init!r}")
        self.policy = policy
        self.config = EMConfig(n_components=int(n_types), assignment="soft", prior="estimate", init=init,
                               n_restarts=n_restarts, max_iter=max_iter, tol=tol, seed=seed)

    def fit(self, choices, user_features=None) -> EMDPO:
        if self.config.init == "kmeans++" and user_features is None:
            raise ValueError("user_features: init='kmeans++' needs per-user response embeddings")
        self.em_ = MixtureEM(EMDPOModel(self.policy, choices), self.config).fit(user_features=user_features)
        self.thetas_ = self.em_.params_
        self.rho_ = self.em_.rho_
        self.responsibilities_ = self.em_.responsibilities_
        self.labels_ = self.em_.labels_
        self.trace_ = self.em_.trace_
        return self

    def as_fit(self) -> PolicyFit:
        if not hasattr(self, "thetas_"):
            raise ValueError(f"{type(self).__name__}: not fitted; call fit first")
        return PolicyFit(self.thetas_, self.labels_, self.responsibilities_, self.rho_)


def _hard_fit(policy: LogLinearPolicy, choices, labels: np.ndarray, K: int) -> PolicyFit:
    labels = np.asarray(labels)
    onehot = np.eye(K)[labels]
    thetas = np.stack([policy.fit(choices, onehot[choices.user, k]) for k in range(K)])
    return PolicyFit(thetas, labels, onehot, onehot.mean(axis=0))


def vanilla_dpo(policy: LogLinearPolicy, choices) -> PolicyFit:
    """One policy for everyone (K = 1)."""
    return _hard_fit(policy, choices, np.zeros(choices.n_users, dtype=int), 1)


def user_preferred_features(choices, response_emb) -> np.ndarray:
    """(N, d) per user: the mean embedding of the user's preferred (chosen) responses, Cluster DPO's
    feature (seed 001 App. D.2: "k-means clustering on the average embedding of all the preferred texts
    of that user").  ``response_emb``: (n_responses, d), one embedding per option id (the LM path's text
    embeddings), or (X, Y, d), one per (prompt, response) (the tabular psi; indexed by ``choices.context``).
    A user without records gets zeros."""
    E = np.asarray(response_emb, dtype=float)
    picked = choices.options[np.arange(len(choices.chosen)), choices.chosen]
    if E.ndim == 2:
        rows = E[picked]
    elif E.ndim == 3:
        rows = E[choices.context, picked]
    else:
        raise ValueError(f"response_emb: expected (n_responses, d) or (X, Y, d) embeddings, got shape {E.shape}")
    out = np.zeros((choices.n_users, rows.shape[1]))
    cnt = np.zeros(choices.n_users)
    np.add.at(out, choices.user, rows)
    np.add.at(cnt, choices.user, 1.0)
    return out / np.maximum(cnt, 1.0)[:, None]


def cluster_dpo(policy: LogLinearPolicy, choices, user_features, n_clusters: int, seed: int = 0) -> PolicyFit:
    """k-means (k-means++, 10 inits) on per-user features, then DPO per cluster; App. D.2's feature is
    :func:`user_preferred_features` (:meth:`TabularTestbed.preferred_features` on the testbed)."""
    X = np.asarray(user_features, dtype=float)
    if X.shape[0] != choices.n_users:
        raise ValueError(f"user_features: expected {choices.n_users} rows, got {X.shape[0]}")
    labels = KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(X)
    return _hard_fit(policy, choices, labels, n_clusters)


def true_label_dpo(policy: LogLinearPolicy, choices, types, n_types: int) -> PolicyFit:
    """DPO per true type (the oracle that knows every user's type)."""
    return _hard_fit(policy, choices, types, n_types)


def match_types(true_types, responsibilities, n_types: int) -> np.ndarray:
    """For each true type, the learned component whose users overlap it most (Hungarian on the soft
    confusion sum_i 1[t_i = k] gamma_ij); with fewer components than types, the best component."""
    R = np.asarray(responsibilities)
    conf = np.zeros((n_types, R.shape[1]))
    np.add.at(conf, np.asarray(true_types), R)
    if R.shape[1] < n_types:
        return conf.argmax(axis=1)
    return match_components(-conf)
