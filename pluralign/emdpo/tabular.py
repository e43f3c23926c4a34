"""The exact tabular testbed of EM-DPO and MMRA (seed 001; DESIGN.md "Testbeds with a known optimum").

Prompts x = 0..X-1, each with the same finite response set y = 0..Y-1; features psi(x, y) in R^d; a
reference policy pi_ref(y | x); latent annotator types k = 0..K-1 with prior probabilities and linear
rewards r_k(x, y) = beta_k^T psi(x, y).  A type-k annotator shown a prompt and n responses picks one by the
multinomial logit on r_k (Bradley-Terry for n = 2).  Everything the seed evaluates has a closed form here:

* the KL-regularised optimum pi_k^*(y | x) ∝ pi_ref(y | x) exp(r_k(x, y) / beta)   (the DPO target; seed
  001 sec. 3.2: "pi_k^* = argmax_pi E_pi[r^*(y, x; z_k)] - beta D_KL(pi || pi_SFT)");
* the TRUE regret of seed 001 eq. 3 (sec. 3.2), "R_k(pi) := E_{pi_k^*}[r^*(y, x; z_k)] -
  E_pi[r^*(y, x; z_k)]", with r^* = r_k and prompts uniform:
  R_k(pi) = E_x [ E_{y ~ pi_k^*} r_k(x, y) - E_{y ~ pi} r_k(x, y) ]  (:meth:`TabularTestbed.regrets`),
  the shortfall in UNREGULARISED expected reward.  R_k(pi_k^*) = 0, but R_k can be negative: a policy
  greedier than pi_k^* (e.g. argmax_y r_k) earns more raw reward.  The max regret is sec. 5's "Max-regret
  = max_k R_k(pi)" (no [.]^+).  R_k is linear in the policy, so a randomised mixture's regret is the
  w-average of its components' (:meth:`TabularTestbed.reward_matrix` is the L of
  :func:`theory.zero_sum.regret_matrix` with the true rewards).  The gap in the KL-regularised value
  J_k(pi) = E_x[E_pi r_k - beta KL(pi || pi_ref)], beta E_x KL(pi || pi_k^*) >= 0, is NOT the printed
  regret: R_k(pi) = beta E_x [KL(pi || pi_k^*) + KL(pi_k^* || pi_ref) - KL(pi || pi_ref)];
* pairwise accuracy and reward margin of a policy's implicit reward beta log(pi / pi_ref) on all response
  pairs that type k strictly ranks (the seed's accuracy; the margin is trl's ``rewards/margins``).

Policies are passed around as (X, Y) tables of log-probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from pluralign.choice import sample_choice
from pluralign.data import Choices
from pluralign.seeding import as_generator

__all__ = ["REGRET_DEFINITION", "TabularTestbed", "SampledChoices", "check_regret_definition"]

REGRET_DEFINITION = "eq3"
"""Which regret a study's stored cells hold (a setting of every study that records it, so config.json says
it): "eq3", seed 001 eq. 3's unregularised shortfall (:meth:`TabularTestbed.regrets`, since 2026-12-02).
Folders written before hold the KL-regularised gap and have no such setting: resuming one is refused
(pluralign.runs.prepare_run names the setting), so cells of the two never mix."""


def check_regret_definition(value) -> str:
    """``value`` if it is :data:`REGRET_DEFINITION` (the only regret this version computes), else ValueError."""
    if value != REGRET_DEFINITION:
        raise ValueError(f"regret: this version computes only {REGRET_DEFINITION!r} (seed 001 eq. 3), got {value!r}")
    return value


@dataclass
class SampledChoices:
    """Preferences drawn from a testbed: the records and the (hidden) true type of every user."""

    choices: Choices
    """One record per user: context = prompt, options = response ids, chosen = index of the pick."""
    types: np.ndarray
    """(N,) true type of each user."""


class TabularTestbed:
    """A finite prompt x response testbed with linear type rewards (see the module docstring).

    psi: (X, Y, d) response features; log_ref: (X, Y) reference log-probabilities (rows normalised here);
    betas: (K, d) type reward vectors; type_probs: (K,) type prior; beta: the DPO / KL temperature.
    """

    def __init__(self, psi, log_ref, betas, type_probs, beta: float = 0.1, type_names=None):
        psi = np.asarray(psi, dtype=float)
        if psi.ndim != 3 or not np.all(np.isfinite(psi)):
            raise ValueError(f"psi: expected a finite (X, Y, d) array, got shape {psi.shape}")
        X, Y, d = psi.shape
        if Y < 2:
            raise ValueError(f"psi: needs >= 2 responses per prompt, got {Y}")
        log_ref = np.asarray(log_ref, dtype=float)
        if log_ref.shape != (X, Y) or not np.all(np.isfinite(log_ref)):
            raise ValueError(f"log_ref: expected a finite ({X}, {Y}) array, got shape {log_ref.shape}")
        betas = np.atleast_2d(np.asarray(betas, dtype=float))
        if betas.shape[1] != d or not np.all(np.isfinite(betas)):
            raise ValueError(f"betas: expected a finite (K, {d}) array, got shape {betas.shape}")
        probs = np.asarray(type_probs, dtype=float)
        if probs.shape != (betas.shape[0],) or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
            raise ValueError(f"type_probs: expected {betas.shape[0]} non-negative numbers summing to 1")
        if not float(beta) > 0:
            raise ValueError(f"beta: must be > 0, got {beta}")
        self.psi, self.betas, self.type_probs, self.beta = psi, betas, probs, float(beta)
        self.log_ref = log_softmax(log_ref, axis=1)
        self.n_prompts, self.n_responses, self.d = X, Y, d
        self.K = betas.shape[0]
        self.type_names = list(type_names) if type_names is not None else [f"type{k}" for k in range(self.K)]

    @classmethod
    def random(cls, n_prompts: int = 20, n_responses: int = 12, d: int = 6, type_probs=(0.5, 0.3, 0.2),
               reward_scale: float = 2.0, beta: float = 0.1, ref_scale: float = 0.5, seed: int = 0) -> TabularTestbed:
        """A random instance (seeded): psi(x, y) ~ N(0, I_d), type vectors beta_k ~ N(0, reward_scale^2 I_d /
        d) (so each r_k(x, y) ~ N(0, reward_scale^2)), log pi_ref ~ ref_scale N(0, 1) per (x, y).  Unlike
        the MPI personalities there is no exactly opposed pair, so groups share some good responses."""
        for name, v in (("n_prompts", n_prompts), ("n_responses", n_responses), ("d", d)):
            if int(v) != v or int(v) < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v}")
        if not float(reward_scale) > 0:
            raise ValueError(f"reward_scale: must be > 0, got {reward_scale}")
        probs = np.asarray(type_probs, dtype=float)
        rng = as_generator(seed)
        psi = rng.standard_normal((int(n_prompts), int(n_responses), int(d)))
        betas = rng.standard_normal((probs.size, int(d))) * float(reward_scale) / np.sqrt(d)
        log_ref = float(ref_scale) * rng.standard_normal((int(n_prompts), int(n_responses)))
        return cls(psi, log_ref, betas, probs, beta=beta)

    # ------------------------------------------------------------------ ground truth
    def rewards(self) -> np.ndarray:
        """(K, X, Y) true rewards r_k(x, y) = beta_k^T psi(x, y)."""
        return np.einsum("xyd,kd->kxy", self.psi, self.betas)

    def optimal_logpolicies(self) -> np.ndarray:
        """(K, X, Y) log pi_k^*: pi_ref exp(r_k / beta), normalised per prompt."""
        return log_softmax(self.log_ref[None] + self.rewards() / self.beta, axis=2)

    def optimal_expected_rewards(self) -> np.ndarray:
        """(K,) E_x E_{y ~ pi_k^*} r_k: type k's expected true reward under its own optimum (eq. 3's first term)."""
        opt = self.optimal_logpolicies()
        return np.einsum("kxy,kxy->k", np.exp(opt), self.rewards()) / self.n_prompts

    # ------------------------------------------------------------------ data
    def sample(self, n_users: int, n_options: int, rng: np.random.Generator, choice_scale: float = 1.0,
               per_user: int = 1) -> SampledChoices:
        """``per_user`` preferences per user (one by default, as in seed 001 sec. 5): type ~ type_probs per
        user; per record a uniform prompt, n distinct uniform responses and a pick ~ softmax(choice_scale *
        r_k) over them (Bradley-Terry when n = 2).  per_user = 1 draws exactly what it always drew."""
        if int(n_users) < 1:
            raise ValueError(f"n_users: must be >= 1, got {n_users}")
        if not 2 <= int(n_options) <= self.n_responses:
            raise ValueError(f"n_options: must lie in 2..{self.n_responses}, got {n_options}")
        if int(per_user) != per_user or int(per_user) < 1:
            raise ValueError(f"per_user: must be a positive integer, got {per_user}")
        N, n, m = int(n_users), int(n_options), int(per_user)
        types = rng.choice(self.K, size=N, p=self.type_probs)
        user = np.repeat(np.arange(N), m)
        M = N * m
        ctx = rng.integers(0, self.n_prompts, size=M)
        opts = np.argsort(rng.random((M, self.n_responses)), axis=1)[:, :n]
        r = self.rewards()[types[user][:, None], ctx[:, None], opts] * float(choice_scale)
        chosen = sample_choice(r, rng)
        return SampledChoices(Choices(user=user, context=ctx, options=opts, chosen=chosen), types)

    # ------------------------------------------------------------------ metrics
    def _check_policy(self, logpi) -> np.ndarray:
        logpi = np.asarray(logpi, dtype=float)
        if logpi.shape != (self.n_prompts, self.n_responses):
            raise ValueError(f"logpi: expected shape {(self.n_prompts, self.n_responses)}, got {logpi.shape}")
        return log_softmax(logpi, axis=1)

    def expected_rewards(self, logpi) -> np.ndarray:
        """(K,) E_x E_{y ~ pi} r_k for every type (eq. 3's second term)."""
        pi = np.exp(self._check_policy(logpi))
        return np.einsum("xy,kxy->k", pi, self.rewards()) / self.n_prompts

    def regrets(self, logpi) -> np.ndarray:
        """(K,) the true regret of seed 001 eq. 3, R_k(pi) = E_x[E_{pi_k^*} r_k - E_pi r_k] (unregularised;
        0 at pi_k^*, negative for a policy that earns more raw reward than pi_k^*)."""
        return self.optimal_expected_rewards() - self.expected_rewards(logpi)

    def reward_matrix(self, logpis) -> np.ndarray:
        """(K, J) E_x E_{pi_j} r_k for a stack of J policies: the L of :func:`theory.zero_sum.regret_matrix`
        with the true rewards (for the J = K optima, regret_matrix(L)[1 + k, j] = R_k(pi_j^*))."""
        return np.stack([self.expected_rewards(lp) for lp in np.asarray(logpis)], axis=1)

    def _pairs(self, k: int):
        r = self.rewards()[k]
        i, j = np.triu_indices(self.n_responses, 1)
        diff = r[:, i] - r[:, j]  # (X, P)
        return i, j, diff

    def accuracy(self, logpi, k: int) -> float:
        """Fraction of response pairs (over prompts) strictly ranked by r_k whose implicit-reward order
        beta log(pi / pi_ref) agrees (implicit-reward ties count 1/2)."""
        imp = self.beta * (self._check_policy(logpi) - self.log_ref)
        i, j, diff = self._pairs(k)
        d_hat = imp[:, i] - imp[:, j]
        sel = diff != 0
        if not sel.any():
            return float("nan")
        agree = np.where(np.abs(d_hat) < 1e-12, 0.5, (np.sign(d_hat) == np.sign(diff)).astype(float))
        return float(agree[sel].mean())

    def reward_margin(self, logpi, k: int) -> float:
        """Mean implicit-reward margin r̂(y_w) - r̂(y_l) over pairs strictly ranked by r_k (y_w = r_k-better)."""
        imp = self.beta * (self._check_policy(logpi) - self.log_ref)
        i, j, diff = self._pairs(k)
        d_hat = imp[:, i] - imp[:, j]
        sel = diff != 0
        return float((np.sign(diff) * d_hat)[sel].mean()) if sel.any() else float("nan")

    def type_metrics(self, logpi, k: int) -> dict:
        """Type k's metrics of one policy: ``accuracy``, ``reward_margin`` and the true ``regret`` R_k
        (eq. 3, unregularised: can be negative)."""
        return {"accuracy": self.accuracy(logpi, k), "reward_margin": self.reward_margin(logpi, k),
                "regret": float(self.regrets(logpi)[k])}

    def preferred_features(self, choices: Choices) -> np.ndarray:
        """(N, d) Cluster DPO's per-user feature (seed 001 App. D.2, "the average embedding of all the
        preferred texts of that user"): the mean psi of the user's chosen responses
        (:func:`pluralign.emdpo.user_preferred_features` with psi as the embedding)."""
        from pluralign.emdpo.model import user_preferred_features

        return user_preferred_features(choices, self.psi)

    def user_features(self, choices: Choices) -> np.ndarray:
        """(N, d) EM-DPO's k-means++ initialisation feature: mean over the user's records of
        psi(chosen) - mean psi(other options) (the LM path's ``user_response_features``); not Cluster
        DPO's App. D.2 feature, which is :meth:`preferred_features`."""
        F = self.psi[choices.context[:, None], choices.options]  # (M, n, d)
        n = F.shape[1]
        rows = np.arange(len(choices.chosen))
        ch = F[rows, choices.chosen]
        rest = (F.sum(axis=1) - ch) / (n - 1)
        rec = ch - rest
        out = np.zeros((choices.n_users, self.d))
        cnt = np.zeros(choices.n_users)
        np.add.at(out, choices.user, rec)
        np.add.at(cnt, choices.user, 1.0)
        return out / cnt[:, None]
