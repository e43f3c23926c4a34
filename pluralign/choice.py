"""Choice models: log-likelihoods of feedback given utilities (DESIGN.md, "One representation").

* ratings  — threshold-logistic: P(good | R) = sigma(R - tau); a label y in {0, 1/2, 1} scores
  y log sigma(R - tau) + (1 - y) log sigma(tau - R) (label 1/2 is B-Pref's "equal").
* choices  — multinomial logit: P(j | u) = exp(u_j) / sum_l exp(u_l) over the options of the set;
  Bradley-Terry-Luce is its n = 2 case, P(a > b) = sigma(u_a - u_b).
* rankings — Plackett-Luce: P(o_1 > ... > o_k) = prod_{t <= k} exp(u_{o_t}) / sum_{l not in o_<t} exp(u_l)
  (full when k >= n - 1, top-k otherwise).

Samplers draw from the same models with an explicit ``numpy.random.Generator`` (:mod:`pluralign.seeding`):
:func:`sample_rating`, :func:`sample_choice` (multinomial logit, one uniform per record, inverse CDF),
:func:`sample_btl` (Bradley-Terry, one uniform per record) and :func:`sample_plackett_luce` (Gumbel-max).
This module is the one home of these formulas: every likelihood and every draw in the package calls it
(numpy here; torch through the same functions, which dispatch on the argument type).

Every function takes numpy arrays or torch tensors and returns the same kind (torch keeps gradients);
everything is batched over the leading record axis and computed in log space, so utilities up to
+-1e4 give finite log-likelihoods. Bad input raises ``ValueError`` naming the argument.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit, logsumexp

__all__ = [
    "rating_loglik",
    "rating_prob",
    "choice_logprobs",
    "choice_probs",
    "choice_loglik",
    "btl_loglik",
    "plackett_luce_loglik",
    "log_sigmoid",
    "sample_rating",
    "sample_choice",
    "sample_btl",
    "sample_plackett_luce",
]


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


class _Numpy:
    @staticmethod
    def asarray(x, like=None):
        return np.asarray(x, dtype=float)

    logsumexp = staticmethod(lambda x, axis: logsumexp(x, axis=axis))
    log_sigmoid = staticmethod(log_expit)
    sigmoid = staticmethod(expit)

    @staticmethod
    def where(c, a, b):
        return np.where(c, a, b)

    @staticmethod
    def take(x, idx):
        return np.take_along_axis(x, idx, axis=1)

    @staticmethod
    def isfinite_all(x) -> bool:
        return bool(np.all(np.isfinite(x)))

    @staticmethod
    def cumsum(x):
        return np.cumsum(x, axis=1)


class _Torch:
    def __init__(self):
        import torch

        self.torch = torch

    def asarray(self, x, like=None):
        t = self.torch
        if isinstance(x, t.Tensor):
            return x
        dtype = like.dtype if like is not None and like.is_floating_point() else t.float64
        return t.as_tensor(np.asarray(x, dtype=float), dtype=dtype, device=like.device if like is not None else None)

    def logsumexp(self, x, axis):
        return self.torch.logsumexp(x, dim=axis)

    def log_sigmoid(self, x):
        # F.logsigmoid computes min(x, 0) - log1p(exp(-|x|)): in float64 it matches scipy's log_expit to
        # 1e-15 (relative) over [-700, 700], value and gradient (tests/pluralign/test_choice_users.py).
        # -softplus(-x) does not: softplus turns linear above its threshold 20, an error of up to 1e-10
        # (relative) in log sigma(x) and 2e-9 in its gradient for x in (-37, -20).
        return self.torch.nn.functional.logsigmoid(x)

    def sigmoid(self, x):
        return self.torch.sigmoid(x)

    def where(self, c, a, b):
        return self.torch.where(c, a, b)

    def take(self, x, idx):
        return self.torch.gather(x, 1, idx)

    def isfinite_all(self, x) -> bool:
        return bool(self.torch.isfinite(x.detach()).all())

    def cumsum(self, x):
        return self.torch.cumsum(x, dim=1)


_TORCH: _Torch | None = None


def _backend(*xs):
    global _TORCH
    if any(_is_torch(x) for x in xs):
        if _TORCH is None:
            _TORCH = _Torch()
        return _TORCH
    return _Numpy


def _float(xp, x, name: str, like=None):
    try:
        a = xp.asarray(x, like=like)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot be read as a numeric array ({exc})") from None
    if not xp.isfinite_all(a):
        raise ValueError(f"{name}: contains NaN or inf")
    return a


def _index(x, name: str, shape: tuple, upper: int):
    a = x.detach().cpu().numpy() if _is_torch(x) else np.asarray(x)
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise ValueError(f"{name}: expected integer indices, got dtype {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{name}: shape mismatch, expected {shape}, got {a.shape}")
    if np.any(a < 0) or np.any(a >= upper):
        raise ValueError(f"{name}: index out of range 0..{upper - 1}")
    return a.astype(np.int64)


def _mask(xp, mask, shape, like):
    """A boolean (M, n) mask as the backend's array (all True when None)."""
    if mask is None:
        m = np.ones(shape, dtype=bool)
    else:
        m = mask.detach().cpu().numpy() if _is_torch(mask) else np.asarray(mask)
        if m.dtype != bool:
            raise ValueError(f"mask: expected booleans, got dtype {m.dtype}")
        if m.shape != shape:
            raise ValueError(f"mask: shape mismatch, expected {shape}, got {m.shape}")
        if np.any(m.sum(axis=1) < 2):
            raise ValueError("mask: every choice set needs at least 2 options")
    if xp is _Numpy:
        return m
    return xp.torch.as_tensor(m, device=like.device)


def _utilities(xp, u):
    u = _float(xp, u, "utilities")
    if u.ndim != 2:
        raise ValueError(f"utilities: expected shape (records, options), got {tuple(u.shape)}")
    if u.shape[1] < 2:
        raise ValueError(f"utilities: a choice set needs n >= 2 options, got {u.shape[1]}")
    return u


def _to_index(xp, a, like):
    return a if xp is _Numpy else xp.torch.as_tensor(a, device=like.device)


# --------------------------------------------------------------------------- ratings
def _rating_terms(xp, s, y):
    """y log sigma(s) + (1 - y) log sigma(-s) with s = R - tau: the threshold-logistic formula, once."""
    return y * xp.log_sigmoid(s) + (1.0 - y) * xp.log_sigmoid(-s)


def rating_loglik(reward, label, tau=0.0, weight=None, *, validate: bool = True):
    """Per-rating weighted log-likelihood w * [y log sigma(R - tau) + (1 - y) log sigma(tau - R)].

    ``reward`` (M,) segment scores, ``label`` (M,) in {0, 1/2, 1}, ``tau`` a threshold (scalar or (M,)),
    ``weight`` (M,) >= 0 (0 = skipped).

    ``validate=False`` skips the input checks (each costs a device sync in torch), for an optimizer's
    inner loop over data validated once before it. The arguments must then be arrays / tensors of one
    backend; they broadcast (e.g. (K, M) scores of K models against (M,) labels), and a label may be any
    number in [0, 1] (a soft label: the cross-entropy against a probability).
    """
    if not validate:
        ll = _rating_terms(_backend(reward), reward - tau, label)
        return ll if weight is None else weight * ll
    xp = _backend(reward, label, tau, weight)
    R = _float(xp, reward, "reward")
    if R.ndim != 1:
        raise ValueError(f"reward: expected a 1-d array, got shape {tuple(R.shape)}")
    y = _float(xp, label, "label", like=R)
    if tuple(y.shape) != tuple(R.shape):
        raise ValueError(f"label: shape mismatch, expected {tuple(R.shape)}, got {tuple(y.shape)}")
    y_np = y.detach().cpu().numpy() if _is_torch(y) else y
    if not np.all(np.isin(y_np, (0.0, 0.5, 1.0))):
        raise ValueError("label: label outside {0, 1/2, 1}")
    t = _float(xp, tau, "tau", like=R)
    ll = _rating_terms(xp, R - t, y)
    if weight is not None:
        w = _float(xp, weight, "weight", like=R)
        if tuple(w.shape) != tuple(R.shape):
            raise ValueError(f"weight: shape mismatch, expected {tuple(R.shape)}, got {tuple(w.shape)}")
        if (w.detach().cpu().numpy() if _is_torch(w) else w).min() < 0:
            raise ValueError("weight: negative weight")
        ll = w * ll
    return ll


def rating_prob(reward, tau=0.0):
    """P(good | R) = sigma(R - tau), elementwise (any shape; numpy: ``scipy.special.expit``, torch:
    ``torch.sigmoid``, both exact to an ulp). Also the Bradley-Terry win probability sigma(u_a - u_b)."""
    xp = _backend(reward, tau)
    R = _float(xp, reward, "reward")
    return xp.sigmoid(R - _float(xp, tau, "tau", like=R))


# --------------------------------------------------------------------------- choices (MNL)
def choice_logprobs(utilities, mask=None, *, validate: bool = True):
    """log P(j | set) for every option j of every set (M, n): log-softmax over the unmasked options;
    masked options get -inf.

    ``validate=False`` skips the input checks (see :func:`choice_loglik`); ``mask`` must then be None or
    a boolean array / tensor of the backend of ``utilities``.
    """
    if validate:
        xp = _backend(utilities, mask)
        u = _utilities(xp, utilities)
        m = _mask(xp, mask, tuple(u.shape), u)
    else:
        xp, u, m = _backend(utilities), utilities, mask
    if m is not None:
        neg_inf = -np.inf if xp is _Numpy else xp.torch.tensor(-np.inf, dtype=u.dtype, device=u.device)
        u = xp.where(m, u, neg_inf)
    return u - xp.logsumexp(u, axis=1)[:, None]


def choice_probs(utilities, mask=None):
    """Multinomial-logit choice probabilities (M, n); each row sums to 1 over its unmasked options."""
    lp = choice_logprobs(utilities, mask)
    return np.exp(lp) if isinstance(lp, np.ndarray) else lp.exp()


def _choice_loglik_unchecked(u, chosen, mask):
    """The arithmetic of :func:`choice_loglik` alone, for inputs already validated."""
    if _is_torch(u):
        import torch

        um = u if mask is None else torch.where(mask, u, torch.tensor(-torch.inf, dtype=u.dtype, device=u.device))
        return um.gather(1, chosen[:, None])[:, 0] - torch.logsumexp(um, dim=1)
    um = u if mask is None else np.where(mask, u, -np.inf)
    return np.take_along_axis(um, np.asarray(chosen)[:, None], axis=1)[:, 0] - logsumexp(um, axis=1)


def choice_loglik(utilities, chosen, mask=None, *, validate: bool = True):
    """log P(chosen | set) under the multinomial logit, one value per record (M,).

    ``validate=False`` skips the input checks (each costs a device sync in torch): for an optimizer's inner
    loop over data validated once before it (e.g. a :class:`pluralign.data.Choices`). Then ``chosen`` must
    be an integer index array / tensor and ``mask`` boolean, of the backend of ``utilities``.
    """
    if not validate:
        return _choice_loglik_unchecked(utilities, chosen, mask)
    xp = _backend(utilities, chosen, mask)
    u = _utilities(xp, utilities)
    c = _index(chosen, "chosen", (u.shape[0],), u.shape[1])
    if mask is not None:
        mm = mask.detach().cpu().numpy() if _is_torch(mask) else np.asarray(mask)
        if mm.shape == tuple(u.shape) and not np.all(mm[np.arange(len(c)), c]):
            raise ValueError("chosen: chosen index points at a masked-out option")
    lp = choice_logprobs(u, mask)
    return xp.take(lp, _to_index(xp, c[:, None], u))[:, 0]


def btl_loglik(u_a, u_b, a_wins):
    """Bradley-Terry-Luce: log P(outcome) with P(a > b) = sigma(u_a - u_b); ``a_wins`` in {0, 1}.

    Equals :func:`choice_loglik` on the stacked utilities [u_a, u_b] with chosen = 1 - a_wins.
    """
    xp = _backend(u_a, u_b, a_wins)
    a = _float(xp, u_a, "u_a")
    b = _float(xp, u_b, "u_b", like=a if xp is not _Numpy else None)
    if a.ndim != 1 or tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"u_b: shape mismatch, u_a {tuple(a.shape)} vs u_b {tuple(b.shape)} (1-d, equal)")
    y = _index(a_wins, "a_wins", (a.shape[0],), 2)
    sign = _to_index(xp, 2.0 * y - 1.0, a)
    if xp is not _Numpy:
        sign = sign.to(a.dtype)
    return xp.log_sigmoid(sign * (a - b))


# --------------------------------------------------------------------------- rankings (Plackett-Luce)
def plackett_luce_loglik(utilities, order, mask=None):
    """log P(order) under Plackett-Luce, one value per record (M,).

    ``order`` (M, k) lists option indices from best to worst. With k = n (or n - 1) this is a full
    ranking; with k < n - 1 a top-k ranking: the unranked options only appear in the denominators.
    Its first factor is the multinomial logit of the top option.
    """
    xp = _backend(utilities, order, mask)
    u = _utilities(xp, utilities)
    M, n = u.shape
    o_np = order.detach().cpu().numpy() if _is_torch(order) else np.asarray(order)
    if o_np.ndim != 2:
        raise ValueError(f"order: expected shape (records, k), got {o_np.shape}")
    o = _index(order, "order", (M, o_np.shape[1]), n)
    k = o.shape[1]
    if k < 1:
        raise ValueError("order: must rank at least one option")
    if np.any(np.diff(np.sort(o, axis=1), axis=1) == 0):
        raise ValueError("order: an option appears twice in one ranking")
    m_np = np.ones((M, n), dtype=bool) if mask is None else np.asarray(_mask(_Numpy, mask, (M, n), None))
    if not np.all(np.take_along_axis(m_np, o, axis=1)):
        raise ValueError("order: ranks a masked-out option")
    # stage t: the options still available are the valid ones not ranked before t.
    ranked_before = np.zeros((M, k, n), dtype=bool)
    for t in range(1, k):
        ranked_before[:, t] = ranked_before[:, t - 1]
        ranked_before[np.arange(M), t, o[:, t - 1]] = True
    avail = m_np[:, None, :] & ~ranked_before
    neg_inf = -np.inf if xp is _Numpy else xp.torch.tensor(-np.inf, dtype=u.dtype, device=u.device)
    avail_b = avail if xp is _Numpy else xp.torch.as_tensor(avail, device=u.device)
    denom = xp.logsumexp(xp.where(avail_b, u[:, None, :], neg_inf), axis=2)  # (M, k)
    num = xp.take(u, _to_index(xp, o, u))  # (M, k)
    terms = num - denom
    return terms.sum(axis=1) if xp is _Numpy else terms.sum(dim=1)


# --------------------------------------------------------------------------- shared pieces
def log_sigmoid(x):
    """log sigma(x), elementwise, exact to 1e-15 (relative) for every finite x (numpy:
    ``scipy.special.log_expit``; torch: ``F.logsigmoid``, min(x, 0) - log1p(exp(-|x|)); not
    ``-softplus(-x)``, whose linear branch above softplus' threshold 20 is off by up to 1e-10 relative for
    x in (-37, -20)). The one place the log-sigmoid is written: hot torch loops call this (or
    :func:`rating_loglik` with ``validate=False``) rather than a formula of their own."""
    return _backend(x).log_sigmoid(x)


# --------------------------------------------------------------------------- samplers
def _generator(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator (see pluralign.seeding), got {type(rng).__name__}")
    return rng


def _np(x, name: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if _is_torch(x) else x
    return _float(_Numpy, a, name)


def sample_rating(reward, rng, tau=0.0) -> np.ndarray:
    """Good/bad labels (M,) in {0., 1.} from the threshold-logistic model: label = 1 iff U < sigma(R - tau),
    one uniform U per rating."""
    rng = _generator(rng)
    R = _np(reward, "reward")
    if R.ndim != 1:
        raise ValueError(f"reward: expected a 1-d array, got shape {R.shape}")
    p = rating_prob(R, _np(tau, "tau"))
    return (rng.random(R.shape[0]) < p).astype(float)


def sample_choice(utilities, rng, mask=None) -> np.ndarray:
    """Chosen indices (M,) from the multinomial logit: one uniform U per record, chosen = the number of
    cumulative probabilities below U (inverse CDF; masked options are never chosen)."""
    rng = _generator(rng)
    u = _np(utilities, "utilities")
    p = choice_probs(u, mask)
    n = p.shape[1]
    c = (rng.random(p.shape[0])[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, n - 1)
    if mask is not None:  # a rounding-level overshoot may land on a trailing masked option
        m = np.asarray(mask, dtype=bool)
        last = n - 1 - np.argmax(m[:, ::-1], axis=1)
        c = np.minimum(c, last)
    return c.astype(np.int64)


def sample_btl(u_a, u_b, rng) -> np.ndarray:
    """Bradley-Terry outcomes (M,) in {0, 1} (1 = a wins): a wins iff U < sigma(u_a - u_b), one uniform U
    per comparison (the n = 2 case of :func:`sample_choice`, with chosen = 1 - a_wins)."""
    rng = _generator(rng)
    a, b = _np(u_a, "u_a"), _np(u_b, "u_b")
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"u_b: shape mismatch, u_a {a.shape} vs u_b {b.shape} (1-d, equal)")
    return (rng.random(a.shape[0]) < rating_prob(a - b)).astype(np.int64)


def sample_plackett_luce(utilities, rng, k: int | None = None, mask=None) -> np.ndarray:
    """Rankings (M, k) from Plackett-Luce, best first: the order of u + Gumbel noise (the Gumbel-max
    construction of sequential MNL draws without replacement). ``k`` = ranking length (default: all
    unmasked options; every set needs at least k of them)."""
    rng = _generator(rng)
    u = _utilities(_Numpy, _np(utilities, "utilities"))
    M, n = u.shape
    m = _mask(_Numpy, mask, (M, n), None)
    k = int(m.sum(axis=1).min()) if k is None else int(k)
    if not 1 <= k <= int(m.sum(axis=1).min()):
        raise ValueError(f"k: must be between 1 and the smallest number of unmasked options, got {k}")
    g = np.where(m, u + rng.gumbel(size=(M, n)), -np.inf)
    return np.argsort(-g, axis=1, kind="stable")[:, :k].astype(np.int64)
