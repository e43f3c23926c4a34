"""Speed of the latent-class logit fitted by EM (``pluralign.em.LatentClassLogit``, Newton M-step by
default, L-BFGS selectable) against a direct scipy maximum-likelihood fit of the mixture (L-BFGS-B on the
marginal log-likelihood over all K taste vectors and the K - 1 prior logits at once, analytic gradient).

Both maximize the same objective, the marginal log-likelihood minus the same ridge l2 / 2 sum_k |beta_k|^2,
from the same start (one EM restart, its initial responsibilities' first M-step is EM's own). The fits are
compared at equal log-likelihood: the script checks both reach the same optimum (|difference| <= 1e-6
relative) and prints the seconds of each. Data: N users x r choices among n options, d features, K types.

Run: ``python benchmarks/latent_class.py [--N 400] [--per 5] [--K 2] [--d 3] [--n 3] [--seed 0]``. The last
line prints the ratio (time direct scipy / time EM); > 1 means EM is faster. Shared-machine timings are
inflated by contention: compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp

from pluralign.choice import sample_choice
from pluralign.data import Choices
from pluralign.em import EMConfig, LatentClassLogit, MixtureEM
from pluralign.seeding import derive


def simulate(N, per, K, d, n, seed):
    rng = derive(seed, "latent-class-bench")
    betas = 2.0 * rng.standard_normal((K, d))
    types = rng.integers(K, size=N)
    user = np.repeat(np.arange(N), per)
    X = rng.standard_normal((N * per, n, d))
    chosen = sample_choice(np.einsum("mnd,md->mn", X, betas[types[user]]), rng)
    return Choices(user=user, features=X, chosen=chosen)


def penalized_ll(model, beta, rho, l2):
    L = model.log_likelihood(beta)
    return float(logsumexp(L + np.log(rho), axis=1).sum() - 0.5 * l2 * np.sum(beta**2))


def direct_fit(model, beta0, rho0, l2):
    K, d = beta0.shape
    X, chosen, user, rows = model.X, model.chosen, model.user, model._rows

    def f(theta):
        beta, a = theta[: K * d].reshape(K, d), np.r_[0.0, theta[K * d:]]
        lrho = a - logsumexp(a)
        lp = log_softmax(np.einsum("mnd,kd->kmn", X, beta), axis=2)  # (K, M, n)
        rec = lp[:, rows, chosen]  # (K, M)
        L = np.zeros((model.n_users, K))
        np.add.at(L, user, rec.T)
        A = L + lrho
        tot = logsumexp(A, axis=1)
        q = np.exp(A - tot[:, None])  # (N, K)
        qr = q[user]  # (M, K)
        p = np.exp(lp)
        mean = np.einsum("kmn,mnd->kmd", p, X)
        g_beta = np.einsum("mk,kmd->kd", qr, X[rows, chosen][None] - mean) - l2 * beta
        g_a = (q.sum(0) - model.n_users * np.exp(lrho))[1:]
        val = tot.sum() - 0.5 * l2 * np.sum(beta**2)
        return -val, -np.r_[g_beta.ravel(), g_a]

    a0 = np.log(rho0) - np.log(rho0[0])
    res = minimize(f, np.r_[beta0.ravel(), a0[1:]], jac=True, method="L-BFGS-B",
                   options={"maxiter": 10_000, "gtol": 1e-9, "ftol": 1e-15})
    beta, a = res.x[: K * d].reshape(K, d), np.r_[0.0, res.x[K * d:]]
    return beta, np.exp(a - logsumexp(a))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=400)
    ap.add_argument("--per", type=int, default=5)
    ap.add_argument("--K", type=int, default=2)
    ap.add_argument("--d", type=int, default=3)
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--l2", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ch = simulate(args.N, args.per, args.K, args.d, args.n, args.seed)
    times, lls = {}, {}
    for m_step in ("newton", "lbfgs"):
        model = LatentClassLogit(ch, l2=args.l2, m_step=m_step)
        cfg = EMConfig(n_components=args.K, seed=args.seed, tol=1e-10, max_iter=5000)
        best = np.inf
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            em = MixtureEM(model, cfg).fit()
            best = min(best, time.perf_counter() - t0)
        times[m_step], lls[m_step] = best, penalized_ll(model, em.params_, em.rho_, args.l2)
    # the direct fit starts where EM starts: the first M-step on EM's initial responsibilities
    model = LatentClassLogit(ch, l2=args.l2)
    rng = derive(args.seed, 0)
    em0 = MixtureEM(model, EMConfig(n_components=args.K, seed=args.seed))
    w0 = em0._initial_weights(rng, None, None)
    beta0 = model.m_step(model.init_params(args.K, rng), w0)
    rho0 = np.full(args.K, 1.0 / args.K)
    best = np.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        beta, rho = direct_fit(model, beta0, rho0, args.l2)
        best = min(best, time.perf_counter() - t0)
    times["scipy"], lls["scipy"] = best, penalized_ll(model, beta, rho, args.l2)
    for k in ("newton", "lbfgs", "scipy"):
        print(f"{k:>8}: {times[k]:.3f} s   penalized log-likelihood {lls[k]:.10f}")
    gap = abs(lls["newton"] - lls["scipy"]) / max(1.0, abs(lls["scipy"]))
    print(f"same optimum (Newton EM vs scipy): relative gap {gap:.2e} ({'ok' if gap <= 1e-6 else 'DIFFERENT'})")
    print(f"EM L-BFGS M-step vs scipy: {times['scipy'] / times['lbfgs']:.2f}x")
    print(f"ratio (direct scipy MLE time / EM Newton time): {times['scipy'] / times['newton']:.2f}x")


if __name__ == "__main__":
    main()
