"""Active query selection for a new user's weights (beyond seed 002's App. D.3.1, which uses random
queries).

With the map and the prototypes frozen, a new user is a point w on the simplex Delta^{K-1}. We keep a
particle posterior over w: P particles drawn from Dirichlet(alpha * 1_K) plus the K vertices, prior
weights uniform, and the trained model's choice likelihood P(y | query, w) (multinomial logit on
``utilities_grid``). From a pool of candidate queries we pick, greedily, the query with the largest
**expected information about w**

    IG(q) = H(pi) - E_{y ~ p(y | q, pi)} H(pi | q, y) = I(Y_q; W)
          = H(sum_p pi_p P(. | q, w_p)) - sum_p pi_p H(P(. | q, w_p)),

i.e. the expected reduction in the entropy of the particle posterior (the BALD criterion; both forms
are equal, the second is what we compute). Its answer is then revealed (pool-based: the pool's
``chosen`` is the oracle), the posterior updated by Bayes' rule in log space, and the next query picked.
:func:`random_query_order` is the baseline. Either ordering feeds the same estimator
(:meth:`PALRewardModel.localize`) so that only the choice of queries differs.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import logsumexp

from pluralign.choice import choice_logprobs
from pluralign.data import Choices
from pluralign.pal.train import PALRewardModel, _Batch
from pluralign.seeding import as_generator

__all__ = ["weight_particles", "query_logprob_table", "expected_information_gain", "active_query_order",
           "random_query_order"]


def weight_particles(K: int, n_particles: int, rng, alpha: float = 1.0) -> np.ndarray:
    """(n_particles + K, K): Dirichlet(alpha) draws on the simplex plus its K vertices. ``rng``: a
    ``numpy.random.Generator`` or an integer seed (required; None raises ``ValueError``)."""
    if K < 1 or n_particles < 0 or alpha <= 0:
        raise ValueError("K/n_particles/alpha: need K >= 1, n_particles >= 0, alpha > 0")
    rng = as_generator(rng, "rng")
    return np.vstack([rng.dirichlet(np.full(K, alpha), size=n_particles), np.eye(K)])


def query_logprob_table(model: PALRewardModel, pool: Choices, particles: np.ndarray) -> np.ndarray:
    """log P(option j | query q, w_p) for every pool query, option and particle: (Q, n, P)."""
    model._check_fitted()
    batch = _Batch(pool, model.context_features)
    with torch.no_grad():
        U = model.model_.utilities_grid(batch.x, torch.as_tensor(particles, dtype=torch.float32), batch.ctx)
    U = U.numpy().astype(float)  # (Q, n, P)
    Q, n, P = U.shape
    lp = choice_logprobs(U.transpose(0, 2, 1).reshape(Q * P, n), np.repeat(pool.mask, P, axis=0))
    return lp.reshape(Q, P, n).transpose(0, 2, 1)


def _entropy(logp: np.ndarray, axis: int) -> np.ndarray:
    p = np.exp(logp)
    return -np.sum(np.where(p > 0, p * logp, 0.0), axis=axis)


def expected_information_gain(logp_table: np.ndarray, log_post: np.ndarray, *, _cache: dict | None = None) -> np.ndarray:
    """I(Y_q; W) under the particle posterior, for every query: (Q,).

    ``logp_table`` (Q, n, P) from :func:`query_logprob_table`; ``log_post`` (P,) normalized log weights.
    The predictive p(y | q) = sum_p pi_p P(y | q, w_p) is a convex combination of probabilities, so it
    is formed in probability space (a matrix-vector product) without loss of precision; the
    conditional entropies H(P(. | q, w_p)) do not depend on the posterior and are computed once when a
    ``_cache`` dict is passed.
    """
    cache = {} if _cache is None else _cache
    if "prob" not in cache:
        cache["prob"] = np.exp(logp_table)
        cache["h_cond"] = _entropy(logp_table, axis=1)  # (Q, P)
    post = np.exp(log_post)
    pred = cache["prob"] @ post  # (Q, n)
    h_pred = -np.sum(np.where(pred > 0, pred * np.log(np.where(pred > 0, pred, 1.0)), 0.0), axis=1)
    return h_pred - cache["h_cond"] @ post


def active_query_order(model: PALRewardModel, pool: Choices, m: int, *, n_particles: int = 1000,
                       alpha: float = 1.0, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Greedy information-maximizing order of m queries from one user's ``pool``.

    Returns (indices into the pool, posterior-mean weights after the m answers).
    """
    if pool.n_users != 1:
        raise ValueError(f"pool: expected the queries of one user, got {pool.n_users} users")
    if not 1 <= m <= len(pool):
        raise ValueError(f"m: must lie in 1..{len(pool)}, got {m}")
    particles = weight_particles(model.config.n_prototypes, n_particles, as_generator(seed, "seed"), alpha)
    table = query_logprob_table(model, pool, particles)
    log_post = np.full(len(particles), -np.log(len(particles)))
    available = np.ones(len(pool), dtype=bool)
    chosen_ix = []
    cache: dict = {}
    for _ in range(m):
        ig = expected_information_gain(table, log_post, _cache=cache)
        ig[~available] = -np.inf
        q = int(np.argmax(ig))
        chosen_ix.append(q)
        available[q] = False
        log_post = log_post + table[q, pool.chosen[q], :]
        log_post -= logsumexp(log_post)
    return np.asarray(chosen_ix), np.exp(log_post) @ particles


def random_query_order(pool: Choices, m: int, seed=0) -> np.ndarray:
    """m pool indices drawn uniformly without replacement (the seed's few-shot protocol). ``seed``: an
    integer or a ``numpy.random.Generator`` (None raises ``ValueError``)."""
    if not 1 <= m <= len(pool):
        raise ValueError(f"m: must lie in 1..{len(pool)}, got {m}")
    return as_generator(seed, "seed").permutation(len(pool))[:m]
