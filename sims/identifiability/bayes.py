"""Bayesian latent-class logit (pymc): the posterior along the directions that binary data leave
unidentified (seed 001, Chidambaram et al., sec. 4; the issue's item 7).

Population: two types with taste vectors b and -b (equal weights), d = 2; N users make ONE choice each
among n options with N(0, I) features.  Model (the latent class marginalised with a logsumexp potential):

    w ~ Dirichlet(2, 2);  beta_k ~ N(0, prior_sd^2 I)  with beta_{0,1} < beta_{1,1} (``ordered`` transform
    on the first coordinates, against label switching);
    log p(data) = sum_i logsumexp_k [ log w_k + log softmax(X_i beta_k)[chosen_i] ]      (pm.Potential)

:func:`theory.identifiability.local_identifiability` gives, at the truth, the null space of the Jacobian of
(atoms, weights) -> choice probabilities: at n = 2 it is the symmetric moves (v, -v) of the pair (d
directions), at n = 3 it is empty.  We project posterior deviations (beta_0 - b_0, beta_1 - b_1, w_0 - 1/2)
onto that null space (computed at n = 2) and onto its orthogonal complement and report the posterior
standard deviations, plus ArviZ summaries (mean, sd, r-hat) of the pair's symmetric part
s = (beta_1 - beta_0) / 2 (true value b).  Expectation: at n = 2, s is as wide as the prior allows
(and chains may disagree: r-hat > 1), at n = 3 it concentrates around b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralign.choice import sample_choice
from pluralign.seeding import derive, derive_int

TRUE_B = np.array([1.5, 1.0])


@dataclass
class BayesSettings:
    """Size of the pymc runs."""

    N: int = 400
    """users (one choice each)"""
    draws: int = 300
    """posterior draws per chain"""
    tune: int = 300
    """tuning steps per chain"""
    chains: int = 2
    """chains (run sequentially, cores = 1)"""
    prior_sd: float = 3.0
    """prior scale of every taste coordinate"""


def simulate(N: int, n: int, rng: np.random.Generator, b=TRUE_B):
    """One choice per user among n options with N(0, I) features, types b / -b with equal probability
    (multinomial logit, :func:`pluralign.choice.sample_choice`); returns (X, chosen, betas)."""
    betas = np.stack([-np.asarray(b, float), np.asarray(b, float)])  # ordered by first coordinate
    types = rng.integers(0, 2, size=N)
    X = rng.standard_normal((N, n, betas.shape[1]))
    chosen = sample_choice(np.einsum("mnd,md->mn", X, betas[types]), rng)
    return X, chosen, betas


def build_model(X: np.ndarray, chosen: np.ndarray, prior_sd: float = 3.0, n_max: int | None = None):
    """The marginalised latent-class logit in pymc (K = 2, ordered first coordinates).

    Choice sets are padded to ``n_max`` options (padding gets utility -1e9, i.e. probability 0) and the
    data enter as ``pm.Data``, so one compiled graph serves every n <= n_max (``pm.set_data``)."""
    import pymc as pm
    import pytensor.tensor as pt

    Xp, mask = pad_sets(X, n_max)
    N, n, d = Xp.shape
    with pm.Model() as model:
        Xd = pm.Data("X", Xp)
        Md = pm.Data("mask", mask.astype(float))
        Cd = pm.Data("chosen", np.asarray(chosen, dtype="int64"))
        w = pm.Dirichlet("w", a=np.full(2, 2.0))
        first = pm.Normal("beta_first", 0.0, prior_sd, shape=2, transform=pm.distributions.transforms.ordered,
                          initval=np.array([-0.5, 0.5]))
        rest = pm.Normal("beta_rest", 0.0, prior_sd, shape=(2, d - 1))
        beta = pm.Deterministic("beta", pt.concatenate([first[:, None], rest], axis=1))
        u = pt.tensordot(Xd, beta, axes=[[2], [1]]) + (Md[:, :, None] - 1.0) * 1e9  # (N, n, K)
        logp = u - pm.math.logsumexp(u, axis=1, keepdims=True)
        ll = logp[pt.arange(N), Cd, :]  # (N, K)
        pm.Potential("lik", pm.math.logsumexp(pt.log(w)[None, :] + ll, axis=1).sum())
        pm.Deterministic("sym", (beta[1] - beta[0]) / 2)
    return model


def pad_sets(X: np.ndarray, n_max: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pad (N, n, d) choice sets with zero-feature dummy options up to n_max; returns (X, mask)."""
    N, n, d = X.shape
    n_max = n if n_max is None else int(n_max)
    if n_max < n:
        raise ValueError(f"n_max: must be >= n = {n}")
    Xp = np.zeros((N, n_max, d))
    Xp[:, :n] = X
    mask = np.zeros((N, n_max), dtype=bool)
    mask[:, :n] = True
    return Xp, mask


def null_space_n2(b=TRUE_B, seed: int = 0) -> np.ndarray:
    """Orthonormal basis (P, r) of the n = 2 unidentified directions at the truth, from the theory layer
    (``seed``: the integer seed of :func:`theory.identifiability.local_identifiability`'s random choice sets).

    Parameter order (atoms row-major, then the first M - 1 weights) is the one
    :func:`theory.identifiability.choice_jacobian` uses."""
    from pluralign.theory.identifiability import local_identifiability

    atoms = np.stack([-np.asarray(b, float), np.asarray(b, float)])
    li = local_identifiability(atoms, [0.5, 0.5], n=2, seed=seed)
    return li.null_space


def _posterior_summary(idata, betas: np.ndarray, n: int, N: int, seed: int) -> dict:
    import arviz as az

    post = idata.posterior
    d = betas.shape[1]
    B = post["beta"].values.reshape(-1, 2, d)
    W = post["w"].values.reshape(-1, 2)
    theta = np.concatenate([B.reshape(len(B), -1), W[:, :1]], axis=1)
    theta0 = np.concatenate([betas.reshape(-1), [0.5]])
    dev = theta - theta0
    Q, _ = np.linalg.qr(null_space_n2(seed=derive_int(seed, "null_space")))
    comp = np.linalg.svd(np.eye(len(theta0)) - Q @ Q.T)[0][:, : len(theta0) - Q.shape[1]]
    summ = az.summary(idata, var_names=["sym", "w"], kind="all")
    sym = post["sym"].values.reshape(-1, d)
    return {
        "n": n,
        "N": N,
        "sym_mean": sym.mean(axis=0).tolist(),
        "sym_sd": sym.std(axis=0).tolist(),
        "sym_true": betas[1].tolist(),
        "sd_along_unidentified": float(np.sqrt(np.mean(np.var(dev @ Q, axis=0)))),
        "sd_along_identified": float(np.sqrt(np.mean(np.var(dev @ comp, axis=0)))),
        "r_hat_max": float(np.nanmax(summ["r_hat"].values)),
        "ess_bulk_min": float(np.nanmin(summ["ess_bulk"].values)),
        "summary": {idx: {c: float(summ.loc[idx, c]) for c in ("mean", "sd", "hdi_3%", "hdi_97%", "r_hat")}
                    for idx in summ.index},
    }


def compare(s: BayesSettings, seed: int, ns=(2, 3), mode: str = "NUMBA", keep_draws: bool = False) -> dict:
    """Posteriors for each n in ``ns`` (same users' count, fresh data), from ONE compiled model: the data are
    swapped with ``pm.set_data``.  ``mode`` is the PyTensor backend ("NUMBA": no C compiler needed, and the
    compile is paid once).  Seeds: the data of n come from ``derive(seed, "data", n)``, the sampler of n is
    seeded by ``derive_int(seed, "mcmc", n)``, the null space by ``derive_int(seed, "null_space")``."""
    import pymc as pm

    n_max = max(ns)
    data = {n: simulate(s.N, n, derive(seed, "data", n)) for n in ns}
    X0, c0, _ = data[ns[0]]
    model = build_model(X0, c0, s.prior_sd, n_max=n_max)
    out = {}
    for n in ns:
        X, chosen, betas = data[n]
        Xp, mask = pad_sets(X, n_max)
        with model:
            pm.set_data({"X": Xp, "mask": mask.astype(float), "chosen": chosen.astype("int64")})
            idata = pm.sample(draws=s.draws, tune=s.tune, chains=s.chains, cores=1, progressbar=False,
                              random_seed=derive_int(seed, "mcmc", n), compute_convergence_checks=False,
                              compile_kwargs={"mode": mode})
        out[f"n={n}"] = _posterior_summary(idata, betas, n, s.N, seed)
        if keep_draws:
            out[f"n={n}"]["sym_draws"] = idata.posterior["sym"].values.reshape(-1, betas.shape[1]).tolist()
    return out

