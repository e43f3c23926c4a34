"""Speed of the latent-class logit fitted by EM (``pluralign.em.LatentClassLogit``): the default
(``EMConfig()``: Newton M-step and ``accelerate="auto"``, a Newton step on the marginal log-likelihood
whenever it ascends), and plain EM (``accelerate="none"``) with the Newton or the L-BFGS M-step, against a
direct scipy maximum-likelihood fit of the mixture (L-BFGS-B on the marginal log-likelihood over all K
taste vectors and the K - 1 prior logits at once, analytic gradient).

All maximize the same objective, the marginal log-likelihood minus the same ridge l2 / 2 sum_k |beta_k|^2,
from the same start: EM's own (random taste vectors, the first M-step on random hard assignments); the
direct fit starts from that first M-step's result with a uniform prior, and its time includes that M-step
(EM's time includes it too). The fits are compared at equal log-likelihood: the script asserts that every
fit's penalized log-likelihood is within 1e-6 (relative) of the best and that the default EM's parameters
equal the direct fit's to 1e-6, and prints the parameter differences of all.  Timing: the
methods run ``--repeats`` times interleaved (order alternating), median reported, so load on a shared
machine hits all alike.  Data: N users x r choices among n options, d features, K types.

Run: ``python benchmarks/latent_class.py [--N 400] [--per 5] [--K 2] [--d 3] [--n 3] [--seed 0] [--repeats 7]``.
The last lines print the ratios (time direct scipy / time EM); > 1 means EM is faster. Shared-machine
timings are inflated by contention: compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp

from _timing import interleaved  # benchmarks/_timing.py
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
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    ch = simulate(args.N, args.per, args.K, args.d, args.n, args.seed)
    models = {m: LatentClassLogit(ch, l2=args.l2, m_step=m) for m in ("newton", "lbfgs")}
    cfg = dict(n_components=args.K, seed=args.seed, tol=1e-10, max_iter=5000)

    def em(m_step, accelerate=None):  # None: EMConfig's default
        kw = {} if accelerate is None else {"accelerate": accelerate}
        fit = MixtureEM(models[m_step], EMConfig(**cfg, **kw)).fit()
        return fit.params_, fit.rho_

    def start():
        # the direct fit starts where EM starts: the first M-step on EM's initial responsibilities
        model = models["newton"]
        rng = derive(args.seed, 0)
        w0 = MixtureEM(model, EMConfig(n_components=args.K, seed=args.seed))._initial_weights(rng, None, None)
        return model.m_step(model.init_params(args.K, rng), w0)

    beta0 = start()

    fns = {"EM, default": lambda: em("newton"),
           "plain EM, Newton M-step": lambda: em("newton", "none"),
           "plain EM, L-BFGS M-step": lambda: em("lbfgs", "none"),
           "direct scipy": lambda: direct_fit(models["newton"], start(), np.full(args.K, 1.0 / args.K), args.l2),
           "direct scipy, start given": lambda: direct_fit(models["newton"], beta0, np.full(args.K, 1.0 / args.K),
                                                           args.l2)}
    t, res = interleaved(fns, args.repeats)
    model = models["newton"]
    ll = {k: penalized_ll(model, *res[k], args.l2) for k in fns}
    best = max(ll.values())
    ref = res["direct scipy"][0]
    for k in fns:
        B = res[k][0]
        dpar = float(np.max(np.abs(B[_order(B, ref)] - ref)))
        print(f"{k:>24}: {t[k]:.3f} s   penalized log-likelihood {ll[k]:.10f} (best - this: {best - ll[k]:.1e}), "
              f"max |beta - beta_scipy| {dpar:.1e}")
        assert best - ll[k] <= 1e-6 * max(1.0, abs(best)), f"{k}: not at the same optimum"
        if k == "EM, default":
            assert dpar <= 1e-6, f"{k}: parameters differ from the direct fit by {dpar:.1e}"
    print("same optimum: every penalized log-likelihood within 1e-6 (relative) of the best; the default EM's "
          "parameters equal the direct fit's to 1e-6")
    print(f"plain EM, L-BFGS M-step vs scipy: {t['direct scipy'] / t['plain EM, L-BFGS M-step']:.2f}x")
    print(f"plain EM, Newton M-step vs scipy: {t['direct scipy'] / t['plain EM, Newton M-step']:.2f}x")
    print(f"ratio (direct scipy MLE time / EM default time; goal >= 1): {t['direct scipy'] / t['EM, default']:.2f}x")
    print(f"  (the direct fit without the first M-step that gives it EM's start, which EM's time includes: "
          f"{t['direct scipy, start given'] / t['EM, default']:.2f}x default, "
          f"{t['direct scipy, start given'] / t['plain EM, Newton M-step']:.2f}x plain EM Newton M-step)")


def _order(B: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The permutation of B's components closest to ref's (labels are arbitrary in a mixture)."""
    from itertools import permutations

    K = B.shape[0]
    return np.array(min(permutations(range(K)), key=lambda pm: float(np.abs(B[list(pm)] - ref).sum())))


if __name__ == "__main__":
    main()
