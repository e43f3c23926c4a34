"""The one leaky-EM preset of PREC, shared by the bandit twin (:mod:`pluralign.sims.prec_bandit`) and the
MuJoCo pipeline (:mod:`pluralign.experiments.prec`), so that the twin runs exactly the pipeline's EM.

What seed 000 prints (sec. 3.3, eq. 9-13; App. A) and what it leaves open:

* Assignment: the E-step's hard assignment z_i = argmax_k gamma_ik (eq. 10) and the leaky M-step weights
  omega_ik = max(1[z_i = k], nu) (eq. 12-13) -> ``assignment="leaky"``, ``leak=nu``.
* Prior: eq. 9 uses "the current prior weight of cluster k" and prints no update rule for it; the
  convergence guarantee (Thm. A.5) holds "with rho_{1:K} held fixed", and Remark A.7 puts any rho
  update outside its scope -> ``prior="fixed"`` (uniform rho), the one setting the paper's theorem covers.
* Initialisation: not printed. We use k-means++ on per-user label features (:func:`user_label_features`:
  each user's logistic-regression coefficients of good vs bad on the mean frozen segment features),
  a data-driven start that is the same in the twin and the pipeline (a random hard assignment of 30
  users into K groups starts every cluster as a near-copy of the pooled model). Listed with the
  pipeline's other deviations in ``pluralign.experiments.prec.config.DEVIATIONS["em_init"]``.
* Stopping: "the prescribed stopping criterion" is not printed -> relative improvement of F_nu below
  ``tol`` = 1e-6, or ``max_iter``; restarts keep the best F_nu.

K = 1 (one pooled decoder) and K = N (one decoder per user on that user's labels alone, the "fully
individualized PbRL setting", sec. 4.2) are fixed assignments, not EM: :func:`fixed_assignment_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pluralign.em import EMConfig, MixtureEM
from pluralign.seeding import derive

__all__ = ["PREC_EM", "PrecFit", "prec_em_config", "user_label_features", "fit_prec", "fit_prec_clusters",
           "fixed_assignment_weights"]

PREC_EM = {"assignment": "leaky", "prior": "fixed", "init": "kmeans++", "tol": 1e-6}
"""The EM settings every PREC fit shares (see the module docstring for the source of each)."""


def prec_em_config(K: int, *, leak: float, n_restarts: int, max_iter: int, seed: int) -> EMConfig:
    """The :class:`pluralign.em.EMConfig` of PREC's leaky EM for K clusters (the :data:`PREC_EM` preset)."""
    return EMConfig(n_components=int(K), leak=float(leak), n_restarts=int(n_restarts), max_iter=int(max_iter),
                    seed=int(seed), **PREC_EM)


def user_label_features(ratings, segment_features: np.ndarray, seed: int = 0) -> np.ndarray:
    """Per-user features for the k-means++ start: the coefficients (and intercept) of a logistic regression
    of each user's good / bad labels on the time-mean of the frozen segment features (labels 1/2 and
    skipped labels left out). A user whose labels are all one class gets zero coefficients and an
    intercept of -3 (all bad) or +3 (all good); a user with no usable label gets zeros.

    ``segment_features`` is (S, T, d) indexed by ``ratings.segment``. Returns (n_users, d + 1)."""
    from sklearn.linear_model import LogisticRegression

    feats = np.asarray(segment_features, dtype=float)
    if feats.ndim != 3:
        raise ValueError(f"segment_features: expected an (S, T, d) array, got shape {feats.shape}")
    X = feats[ratings.segment].mean(axis=1)
    out = np.zeros((ratings.n_users, X.shape[1] + 1))
    for i, ix in enumerate(ratings.user_indices()):
        keep = ix[(ratings.weight[ix] > 0) & (ratings.label[ix] != 0.5)]
        y = ratings.label[keep]
        if keep.size and 0 < y.mean() < 1:
            lr = LogisticRegression(C=1.0, random_state=int(seed)).fit(X[keep], y)
            out[i] = np.r_[lr.coef_[0], lr.intercept_]
        elif keep.size:
            out[i, -1] = -3.0 if y.mean() == 0 else 3.0
    return out


def fit_prec_clusters(model, ratings, segment_features: np.ndarray, K: int, *, leak: float, n_restarts: int,
                      max_iter: int, seed: int) -> MixtureEM:
    """PREC's leaky EM over K cluster decoders with the shared preset: ``model`` is the
    :class:`pluralign.prec.DecoderMixture` built on ``ratings`` and ``segment_features``. Returns the
    fitted :class:`pluralign.em.MixtureEM`."""
    cfg = prec_em_config(K, leak=leak, n_restarts=n_restarts, max_iter=max_iter, seed=seed)
    feats = user_label_features(ratings, segment_features, seed=seed)
    return MixtureEM(model, cfg).fit(user_features=feats)


@dataclass
class PrecFit:
    """The K cluster decoders of one PREC fit and how users were assigned to them.

    ``em`` is the fitted :class:`pluralign.em.MixtureEM` for 1 < K < N, ``None`` at the fixed endpoints
    (K = 1, K = N), where ``objective`` is the fixed assignment's log-likelihood sum_i log L_{i, z_i}
    and ``trace`` is empty."""

    params: Any
    labels: np.ndarray
    objective: float
    n_iter: int
    rho: np.ndarray
    trace: list = field(default_factory=list)
    em: MixtureEM | None = None


def fit_prec(model, ratings, segment_features: np.ndarray, K: int, *, leak: float, n_restarts: int,
             max_iter: int, seed: int) -> PrecFit:
    """One PREC fit of K decoders on ``model`` (a :class:`pluralign.prec.DecoderMixture` on ``ratings``):

    * 1 < K < N: leaky EM with the :data:`PREC_EM` preset (:func:`fit_prec_clusters`);
    * K = 1 (pooled) and K = N (one decoder per user on that user's labels only, sec. 4.2): the fixed
      assignment of :func:`fixed_assignment_weights`, one M-step with the Adam budget of a whole EM run
      (``n_steps * (1 + max_iter)``), so the endpoints get as much training as the clustered fits."""
    N = int(ratings.n_users)
    if 1 < K < N:
        em = fit_prec_clusters(model, ratings, segment_features, K, leak=leak, n_restarts=n_restarts,
                               max_iter=max_iter, seed=seed)
        return PrecFit(em.params_, np.asarray(em.labels_), float(em.objective_), int(em.n_iter_), em.rho_,
                       em.trace_, em)
    W = fixed_assignment_weights(N, K)
    base = model.config
    model.config = replace(base, n_steps=base.n_steps * (1 + int(max_iter)))
    try:
        params = model.m_step(model.init_params(K, derive(seed, "fixed-assignment")), W)
    finally:
        model.config = base
    labels = np.arange(N) % K
    objective = float(np.asarray(model.log_likelihood(params))[np.arange(N), labels].sum())
    return PrecFit(params, labels, objective, 0, np.full(K, 1.0 / K))


def fixed_assignment_weights(n_users: int, K: int) -> np.ndarray:
    """The (N, K) weights of the two fixed endpoints: K = 1 puts every user in the pooled decoder, K = N
    gives user i decoder i alone (each decoder trained only on its user's labels, sec. 4.2)."""
    if K not in (1, n_users):
        raise ValueError(f"K: a fixed assignment is K = 1 (pooled) or K = n_users = {n_users}, got {K}")
    return np.eye(K)[np.arange(n_users) % K]
