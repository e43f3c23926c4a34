"""One estimator for rating and choice mixtures on the shared EM engine, scikit-learn style (issue 18).

:class:`PreferenceMixture` fits K latent user types by :class:`pluralign.em.MixtureEM`:

* ``kind="ratings"`` — :class:`RatingMixture`: component k has one utility per item, u_kj, and a
  rating (label y in {0, 1/2, 1}, weight w) has log-likelihood w [y log sigma(u_kj) + (1-y) log sigma(-u_kj)]
  (the threshold-logistic model of :func:`pluralign.choice.rating_loglik`, threshold 0 absorbed in u).
  The M-step is exact: per (component, item) a 1-d concave problem with a ridge, solved by a vectorized
  safeguarded Newton iteration.
* ``kind="choices"`` — :class:`pluralign.em.LatentClassLogit` (one taste vector per type; option
  features, or one-hot option ids when the choices have none), Newton M-step with the same ridge.

``fit(data)`` returns self; ``predict_proba(data)`` is the per-user posterior over components,
``score(data)`` the log-likelihood per record (held-out data), ``posterior(records)`` the posterior of
one unseen user, ``n_params_``, ``bic(data)`` / ``aic(data)``. :func:`select_k` compares K by
cross-validation over records within users, BIC and the stability of the restarts (mean pairwise ARI).

The ridge (``ridge``, default 0.1) is on every M-step: without it an item every member of a cluster
agrees with has its utility run off to +-infinity (the +-25 of issue 18) and K >= 3 overfits.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_expit, logsumexp

from pluralign.data import Choices, Ratings
from pluralign.em import EMConfig, LatentClassLogit, MixtureEM, _check_int, _check_real, adjusted_rand_index
from pluralign.seeding import derive

__all__ = ["RatingMixture", "PreferenceMixture", "KSelection", "select_k", "cv_folds"]

KINDS = ("ratings", "choices")


def _unwrap(data):
    """A :class:`pluralign.loaders.RatingTable` (anything with ``.ratings``) -> its Ratings."""
    if not isinstance(data, (Ratings, Choices)) and hasattr(data, "ratings"):
        return data.ratings, getattr(data, "n_items", None)
    return data, None


# --------------------------------------------------------------------------- rating mixture adapter
class RatingMixture:
    """EM adapter: K components of item utilities (K, n_items) for ratings of item ids (``segment``)."""

    def __init__(self, ratings: Ratings, n_items: int | None = None, ridge: float = 0.1, init_scale: float = 0.1):
        if not isinstance(ratings, Ratings):
            raise ValueError(f"ratings: expected pluralign.data.Ratings, got {type(ratings).__name__}")
        if ratings.segment is None:
            raise ValueError("ratings: RatingMixture needs item ids (segment), not only features")
        ridge = _check_real(ridge, "ridge")
        if ridge <= 0:
            raise ValueError(f"ridge: must be > 0 (a ridge on every M-step), got {ridge}")
        n_items = int(ratings.segment.max()) + 1 if n_items is None else _check_int(n_items, "n_items", 1)
        if ratings.segment.min() < 0 or ratings.segment.max() >= n_items:
            raise ValueError(f"ratings: item ids (segment) must lie in 0..{n_items - 1}")
        self.ratings = ratings
        self.n_users, self.n_items = ratings.n_users, n_items
        self.ridge, self.init_scale = ridge, float(init_scale)
        self.user, self.item = ratings.user, ratings.segment
        self.y, self.w = ratings.label, ratings.weight

    def init_params(self, n_components: int, rng: np.random.Generator) -> np.ndarray:
        return self.init_scale * rng.standard_normal((n_components, self.n_items))

    @staticmethod
    def record_loglik(params: np.ndarray, item: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(M, K) weighted log-likelihood of each rating under each component."""
        u = np.atleast_2d(params)[:, item].T  # (M, K)
        return w[:, None] * (y[:, None] * log_expit(u) + (1.0 - y[:, None]) * log_expit(-u))

    def log_likelihood(self, params: np.ndarray) -> np.ndarray:
        rec = self.record_loglik(params, self.item, self.y, self.w)
        out = np.zeros((self.n_users, rec.shape[1]))
        np.add.at(out, self.user, rec)
        return out

    def m_step(self, params: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Exact: maximize A log sigma(u) + (B - A) log sigma(-u) - ridge u^2 / 2 per (component, item),
        A = sum of w y, B = sum of w over the item's ratings (weighted by the responsibilities)."""
        K = params.shape[0]
        rw = weights[self.user] * self.w[:, None]  # (M, K)
        A = np.zeros((K, self.n_items))
        B = np.zeros((K, self.n_items))
        np.add.at(A.T, self.item, rw * self.y[:, None])
        np.add.at(B.T, self.item, rw)
        lam = self.ridge

        def obj(u):
            return A * log_expit(u) + (B - A) * log_expit(-u) - 0.5 * lam * u * u

        u = np.array(params, dtype=float)
        f = obj(u)
        for _ in range(100):
            s = np.exp(log_expit(u))
            g = A - B * s - lam * u
            h = B * s * (1.0 - s) + lam  # minus the second derivative, > 0
            step = g / h
            if np.max(np.abs(step)) <= 1e-11:
                break
            t = np.ones_like(u)
            for _ in range(40):  # elementwise backtracking: never lower the (concave) objective
                f_new = obj(u + t * step)
                bad = f_new < f - 1e-13 * (1.0 + np.abs(f))
                if not bad.any():
                    break
                t = np.where(bad, 0.5 * t, t)
            u_new = u + t * step
            f_new = obj(u_new)
            ok = f_new >= f
            u, f = np.where(ok, u_new, u), np.where(ok, f_new, f)
        empty = weights.sum(axis=0) <= 0  # an emptied component keeps its parameters (engine contract)
        u[empty] = params[empty]
        return u


# --------------------------------------------------------------------------- the estimator
def _onehot_choices(ch: Choices, n_items: int) -> Choices:
    """Choices over option ids -> the same choices with one-hot option features (M, n, n_items)."""
    feats = np.zeros(ch.options.shape + (n_items,))
    np.put_along_axis(feats, ch.options[:, :, None], 1.0, axis=2)
    return _raw_copy(ch, features=feats)


class PreferenceMixture:
    """A mixture of K user types over ratings or choices, fitted by EM (soft assignment, rho estimated).

    Example::

        table = pluralign.loaders.load_polis("export/")
        pm = PreferenceMixture(2, kind="ratings", seed=0).fit(table)
        pm.predict_proba(table)           # (n_users, 2) posterior of each user
        pm.score(test_ratings)            # log-likelihood per record
        pm.posterior(new_user_ratings)    # (2,) posterior of one unseen user
        pm.bic(table), pm.n_params_

    Learned attributes: ``params_`` ((K, n_items) utilities or (K, d) tastes), ``rho_``, ``labels_``,
    ``responsibilities_``, ``em_`` (the :class:`MixtureEM`), ``n_params_`` (K p + K - 1), ``n_items_``
    (ratings) / ``n_features_`` (choices), ``restart_labels_`` (the argmax assignment of every restart).
    """

    def __init__(self, n_components: int = 2, kind: str = "ratings", *, ridge: float = 0.1, n_restarts: int = 5,
                 max_iter: int = 200, tol: float = 1e-8, seed: int = 0, m_step: str = "newton",
                 n_items: int | None = None):
        self.n_components = _check_int(n_components, "n_components", 1)
        if kind not in KINDS:
            raise ValueError(f"kind: must be one of {KINDS}, got {kind!r}")
        self.kind = kind
        self.ridge = _check_real(ridge, "ridge")
        if self.ridge <= 0:
            raise ValueError(f"ridge: must be > 0, got {ridge}")
        self.n_restarts = _check_int(n_restarts, "n_restarts", 1)
        self.max_iter = _check_int(max_iter, "max_iter", 1)
        self.tol = _check_real(tol, "tol")
        self.seed = seed
        self.m_step = m_step
        self.n_items = None if n_items is None else _check_int(n_items, "n_items", 1)

    # ---- data checks
    def _check_data(self, data, fitted: bool):
        data, table_items = _unwrap(data)
        if self.kind == "ratings":
            if not isinstance(data, Ratings):
                raise ValueError(f"data: kind='ratings' needs Ratings or a RatingTable, got {type(data).__name__}")
            if data.segment is None:
                raise ValueError("data: kind='ratings' needs item ids (Ratings.segment)")
            if fitted and data.segment.max() >= self.n_items_:
                raise ValueError(f"data: item id {int(data.segment.max())} was not seen in fit "
                                 f"(n_items_={self.n_items_})")
        else:
            if not isinstance(data, Choices):
                raise ValueError(f"data: kind='choices' needs Choices, got {type(data).__name__}")
            if data.features is None:
                if data.options is None:
                    raise ValueError("data: choices need option features or option ids")
                n = self.n_features_ if fitted else int(data.options.max()) + 1
                if data.options.max() >= n:
                    raise ValueError(f"data: option id {int(data.options.max())} was not seen in fit")
                data = _onehot_choices(data, n)
            elif fitted and data.features.shape[2] != self.n_features_:
                raise ValueError(f"data: features have d={data.features.shape[2]}, fitted on {self.n_features_}")
        return data, table_items

    def _model(self, data, n_items=None):
        if self.kind == "ratings":
            return RatingMixture(data, n_items=n_items, ridge=self.ridge)
        return LatentClassLogit(data, l2=self.ridge, m_step=self.m_step)

    # ---- fit
    def fit(self, data) -> PreferenceMixture:
        data, table_items = self._check_data(data, fitted=False)
        n_items = self.n_items if self.n_items is not None else table_items
        model = self._model(data, n_items)
        cfg = EMConfig(n_components=self.n_components, n_restarts=self.n_restarts, max_iter=self.max_iter,
                       tol=self.tol, seed=self.seed)
        em = MixtureEM(model, cfg).fit()
        self.em_, self.model_ = em, model
        self.params_, self.rho_ = em.params_, em.rho_
        self.labels_, self.responsibilities_ = em.labels_, em.responsibilities_
        self.restart_labels_ = [r.assignment for r in em.restarts_]
        if self.kind == "ratings":
            self.n_items_ = model.n_items
            p = model.n_items
        else:
            self.n_features_ = model.d
            p = model.d
        self.n_params_ = int(self.n_components * p + self.n_components - 1)
        self.log_likelihood_ = float(em.trace_[-1]["marginal_ll"])
        return self

    def _check_fitted(self):
        if not hasattr(self, "params_"):
            raise ValueError(f"{type(self).__name__}: not fitted yet; call fit(data) first")

    # ---- per-user likelihoods of new data
    def _user_loglik(self, data, n_users: int | None = None) -> tuple[np.ndarray, float]:
        """(n_users, K) log-likelihood of each user's records, and the records' total weight."""
        data, _ = self._check_data(data, fitted=True)
        if self.kind == "ratings":
            rec = RatingMixture.record_loglik(self.params_, data.segment, data.label, data.weight)
        else:
            rec = LatentClassLogit(data, l2=self.ridge)._record_loglik(self.params_) * data.weight[:, None]
        N = data.n_users if n_users is None else n_users
        out = np.zeros((N, self.n_components))
        np.add.at(out, data.user, rec)
        return out, float(data.weight.sum())

    def _log_rho(self):
        with np.errstate(divide="ignore"):
            return np.log(self.rho_)

    def predict_proba(self, data) -> np.ndarray:
        """(n_users, K): each user's posterior over the components given its records in ``data``."""
        self._check_fitted()
        L, _ = self._user_loglik(data)
        a = L + self._log_rho()
        return np.exp(a - logsumexp(a, axis=1, keepdims=True))

    def predict(self, data) -> np.ndarray:
        """(n_users,) the most probable component of each user."""
        return np.argmax(self.predict_proba(data), axis=1)

    def posterior(self, new_user_records) -> np.ndarray:
        """(K,): the posterior of ONE unseen user given its records (all records are taken as that user's)."""
        self._check_fitted()
        data, _ = _unwrap(new_user_records)
        if not isinstance(data, (Ratings, Choices)):
            raise ValueError(f"new_user_records: expected Ratings or Choices, got {type(data).__name__}")
        one = _raw_copy(data, user=np.zeros(len(data), dtype=np.int64), n_users=1)
        L, _ = self._user_loglik(one, n_users=1)
        a = L[0] + self._log_rho()
        return np.exp(a - logsumexp(a))

    def score(self, data, condition_on=None) -> float:
        """Log-likelihood per record (per unit of record weight) of ``data``.

        Without ``condition_on`` each user of ``data`` is a new draw from the mixture (marginal over the
        components with the prior ``rho_``). With ``condition_on`` (records of the same users, e.g. the
        training split of :func:`cv_folds`) each user's components are weighted by its posterior given
        those records: the held-out predictive log-likelihood of new records of known users."""
        self._check_fitted()
        data, _ = _unwrap(data)
        if condition_on is None:
            L, tot = self._user_loglik(data)
            prior = np.broadcast_to(self._log_rho(), L.shape)
        else:
            cond, _ = _unwrap(condition_on)
            N = max(data.n_users, cond.n_users)
            L, tot = self._user_loglik(data, n_users=N)
            Lc, _ = self._user_loglik(cond, n_users=N)
            a = Lc + self._log_rho()
            prior = a - logsumexp(a, axis=1, keepdims=True)
        if tot <= 0:
            raise ValueError("data: all records have weight 0")
        return float(logsumexp(L + prior, axis=1).sum() / tot)

    def log_likelihood(self, data) -> float:
        """The marginal log-likelihood sum_i log sum_k rho_k L_ik of ``data``."""
        self._check_fitted()
        L, _ = self._user_loglik(data)
        return float(logsumexp(L + self._log_rho(), axis=1).sum())

    def bic(self, data) -> float:
        """-2 log-likelihood + n_params log(n_users) (users are the mixture's independent units)."""
        data, _ = _unwrap(data)
        return -2.0 * self.log_likelihood(data) + self.n_params_ * np.log(data.n_users)

    def aic(self, data) -> float:
        """-2 log-likelihood + 2 n_params."""
        return -2.0 * self.log_likelihood(data) + 2.0 * self.n_params_

    def stability(self) -> float:
        """Mean pairwise ARI between the restarts' assignments (1: every restart found the same clusters)."""
        self._check_fitted()
        labs = self.restart_labels_
        if len(labs) < 2:
            return float("nan")
        return float(np.mean([adjusted_rand_index(a, b) for a, b in itertools.combinations(labs, 2)]))


# --------------------------------------------------------------------------- choosing K
def cv_folds(data, cv: int, seed) -> list[np.ndarray]:
    """``cv`` boolean test masks over the records: each user's records are dealt round-robin (in a
    random order) to the folds, and a user never gives its only record, nor all its records, to a fold."""
    data, _ = _unwrap(data)
    cv = _check_int(cv, "cv", 2)
    rng = derive(seed, "cv")
    fold = np.full(len(data), -1)
    for ix in data.user_indices():
        if len(ix) < 2:
            continue
        perm = rng.permutation(ix)
        start = int(rng.integers(cv))
        fold[perm] = (start + np.arange(len(ix))) % cv  # >= 2 records over >= 2 folds: never all in one
    return [fold == f for f in range(cv)]


@dataclass
class KSelection:
    """The table of :func:`select_k`: one row per K."""

    rows: list[dict]
    """Per K: k, heldout_ll (mean over folds, per record), heldout_sem, bic, aic, train_ll, n_params,
    stability (mean pairwise ARI of the restarts)."""
    best_k: int
    """The smallest K whose held-out log-likelihood is within one s.e. of the best (the one-s.e. rule)."""
    best_k_bic: int
    """The K of the smallest BIC."""
    fits: dict = field(default_factory=dict, repr=False)
    """K -> the PreferenceMixture fitted on all data."""

    def column(self, name: str) -> np.ndarray:
        return np.asarray([r[name] for r in self.rows], dtype=float)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


def select_k(data, ks=range(1, 7), *, cv: int = 5, seed: int = 0, kind: str = "ratings", ridge: float = 0.1,
             n_restarts: int = 5, max_iter: int = 200, progress: bool = False, **kwargs) -> KSelection:
    """Fit K = each of ``ks`` and tabulate held-out log-likelihood (``cv``-fold over records within
    users: fit on the other folds, score the fold conditioned on each user's training records), BIC / AIC
    on all data and the stability of the restarts. ``progress`` shows a tqdm bar over (K, fold) fits."""
    data_r, table_items = _unwrap(data)
    if kind == "ratings" and "n_items" not in kwargs and isinstance(data_r, Ratings) and data_r.segment is not None:
        kwargs["n_items"] = table_items or int(data_r.segment.max()) + 1  # every fold knows every item
    ks = [int(_check_int(k, "ks", 1)) for k in ks]
    if not ks:
        raise ValueError("ks: no K to try")
    folds = cv_folds(data_r, cv, seed)
    if not any(f.any() for f in folds):
        raise ValueError("data: no user has two records, cross-validation needs some")
    jobs = [(k, f) for k in ks for f in [None, *range(cv)]]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="select_k", unit="fit")
    rows, fits = [], {}
    for k in ks:
        def make(k=k):
            return PreferenceMixture(k, kind, ridge=ridge, n_restarts=n_restarts, max_iter=max_iter,
                                     seed=int(derive(seed, "select_k", k).integers(2**31)), **kwargs)
        full = make().fit(data)
        fits[k] = full
        if bar is not None:
            bar.update(1)
        scores = []
        for test in folds:
            if not test.any():
                continue
            train = data_r.subset(~test, reindex_users=False)
            held = _raw_copy(data_r, test)
            m = make().fit(train)
            scores.append(m.score(held, condition_on=train))
            if bar is not None:
                bar.update(1)
        scores = np.asarray(scores)
        rows.append({
            "k": k,
            "heldout_ll": float(scores.mean()),
            "heldout_sem": float(scores.std(ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else 0.0,
            "bic": float(full.bic(data)),
            "aic": float(full.aic(data)),
            "train_ll": float(full.log_likelihood(data)),
            "n_params": int(full.n_params_),
            "stability": float(full.stability()) if k > 1 else 1.0,
        })
    if bar is not None:
        bar.close()
    ll = np.asarray([r["heldout_ll"] for r in rows])
    se = np.asarray([r["heldout_sem"] for r in rows])
    best = int(np.argmax(ll))
    ok = [i for i in range(len(ks)) if ll[i] >= ll[best] - se[best]]
    best_k = min(ks[i] for i in ok)
    best_k_bic = ks[int(np.argmin([r["bic"] for r in rows]))]
    return KSelection(rows=rows, best_k=best_k, best_k_bic=best_k_bic, fits=fits)


def _raw_copy(data, mask=None, **changes):
    """A copy of a record set restricted to ``mask`` that keeps the user numbering (``n_users``) even
    where some users have no record left: internal, for per-user sums only (no re-validation)."""
    import dataclasses

    new = object.__new__(type(data))
    for f in dataclasses.fields(data):
        v = getattr(data, f.name)
        if mask is not None and f.name in data._record_fields and v is not None:
            v = np.asarray(v)[mask]
        object.__setattr__(new, f.name, v)
    for name, v in changes.items():
        object.__setattr__(new, name, v)
    return new
