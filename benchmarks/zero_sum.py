"""Speed of the MMRA-AE game solvers (seed 001 App. C, eq. 39 and Algorithm 4) against what a user would
use instead: an exact LP (scipy's HiGHS, ``linprog(method="highs")``; also HiGHS called through highspy
directly, without linprog's per-call overhead) and nashpy's linear program, at equal accuracy (every
reported value within 1e-9 max|R| of the certified LP value), per game and batched over many games of
sizes 3x3 .. 20x30 (what a bootstrap of AE's regret table needs); and Algorithm 4 as printed (constant
step), which cannot reach 1e-9 in reasonable time and is timed to a certified 1e-5.

Timing: every method is run on the same games ``--repeats`` times, interleaved (the order alternates
between repeats), and the median is reported, so that load on a shared machine hits all methods alike.
Prints one line per comparison ending in a speed ratio (theirs / ours, > 1 means ours is faster); the
ratios are what to read.  Asserts equal accuracy, never a time.

    python benchmarks/zero_sum.py [--games 1000] [--per-game 60] [--nashpy-games 200] [--repeats 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import linprog

from _timing import interleaved  # benchmarks/_timing.py
from pluralign.theory.zero_sum import _highs_max_sum, optimistic_hedge, regret_matrix, solve_games, solve_lp

ACC = 1e-9  # equal accuracy: |value - certified LP value| <= ACC * max|R|


def random_games(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Half random Gaussian games, half regret matrices of eq. 39 at scales 1e-9 .. 1e3, sizes 3x3 .. 20x30."""
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(rng.normal(size=(int(rng.integers(3, 21)), int(rng.integers(3, 31)))))
        else:
            K = int(rng.integers(2, 20))
            out.append(regret_matrix(rng.normal(size=(K, K)) * 10.0 ** rng.uniform(-9, 3)))
    return out


def highs_value(R: np.ndarray, scaled: bool = False) -> float:
    """The plain LP a user would write: min t s.t. R w <= t 1, sum w = 1, w >= 0 (HiGHS, default options);
    ``scaled``: the same on R / max|R| (what equal accuracy needs on tiny regret tables)."""
    R0 = R
    if scaled:
        R = R / np.abs(R).max()
    m, K = R.shape
    c = np.zeros(K + 1)
    c[-1] = 1.0
    res = linprog(c, A_ub=np.hstack([R, -np.ones((m, 1))]), b_ub=np.zeros(m),
                  A_eq=np.r_[np.ones(K), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * K + [(None, None)],
                  method="highs")
    return float(np.max(R0 @ res.x[:K]))


def highspy_value(R: np.ndarray) -> float:
    """One HiGHS solve through highspy, no certificate: the LP max 1^T x s.t. A x <= 1, x >= 0 on
    A = R / max|R| - min + 1 (the fastest plain HiGHS call we know; ``solve_lp`` adds its certificate)."""
    Rn = R / np.abs(R).max()
    x, _ = _highs_max_sum(Rn - Rn.min() + 1.0)
    return float(np.max(R @ (x / x.sum())))


def nashpy_value(R: np.ndarray) -> float:
    """nashpy's linear program for the zero-sum game whose row player (the adversary) receives R, on
    R / max|R| (unscaled, its answers on regret tables at 1e-9 are off by up to 0.5 max|R|)."""
    import nashpy

    p, w = nashpy.Game(R / np.abs(R).max()).linear_program()
    return float(np.max(R @ (np.asarray(w) / np.sum(w))))


def _acc(vals, ref, games):
    return max(abs(v - r) / np.abs(R).max() for v, r, R in zip(vals, ref, games))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=1000, help="games in the batched comparison")
    ap.add_argument("--per-game", type=int, default=60, help="games timed one at a time")
    ap.add_argument("--nashpy-games", type=int, default=200, help="games nashpy solves in the batch (it is slow)")
    ap.add_argument("--alg4-games", type=int, default=5, help="games Algorithm 4 is timed on")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    try:
        import nashpy  # noqa: F401
        have_nashpy = True
    except ImportError:
        have_nashpy = False
        print("nashpy not installed (pip install nashpy, or the dev extra): its rows are skipped")

    # ---- per game
    games = random_games(args.per_game, rng)
    ref = [solve_lp(R) for R in games]
    assert all(s.converged for s in ref)
    refv = [s.value for s in ref]
    fns = {
        "solve_lp": lambda: [solve_lp(R).value for R in games],
        "solve_games([R])": lambda: [solve_games([R])[0].value for R in games],
        "HiGHS (linprog)": lambda: [highs_value(R) for R in games],
        "HiGHS on R/max|R|": lambda: [highs_value(R, scaled=True) for R in games],
        "HiGHS via highspy": lambda: [highspy_value(R) for R in games],
    }
    if have_nashpy:
        fns["nashpy"] = lambda: [nashpy_value(R) for R in games]
    t, vals = interleaved(fns, args.repeats)
    print(f"per game ({len(games)} games, 3x3..20x30; median of {args.repeats} interleaved repeats):")
    for k in fns:
        print(f"  {k:18s} {1e3 * t[k] / len(games):7.3f} ms/game, max value error {_acc(vals[k], refv, games):.1e}")
    print(f"  ratio HiGHS (linprog) / solve_lp {t['HiGHS (linprog)'] / t['solve_lp']:.2f}x ; "
          f"HiGHS(R/max|R|) / solve_lp {t['HiGHS on R/max|R|'] / t['solve_lp']:.2f}x ; "
          f"HiGHS via highspy / solve_lp {t['HiGHS via highspy'] / t['solve_lp']:.2f}x")
    if have_nashpy:
        print(f"  ratio nashpy / solve_lp {t['nashpy'] / t['solve_lp']:.2f}x")
    assert _acc(vals["solve_lp"], refv, games) <= ACC and _acc(vals["HiGHS on R/max|R|"], refv, games) <= ACC

    # ---- batched
    games = random_games(args.games, rng)
    ref = [solve_lp(R).value for R in games]
    sub = games[:args.nashpy_games]
    fns = {
        "solve_games": lambda: solve_games(games),
        "HiGHS (linprog) on R/max|R|": lambda: [highs_value(R, scaled=True) for R in games],
        "HiGHS via highspy": lambda: [highspy_value(R) for R in games],
    }
    if have_nashpy:
        fns["nashpy"] = lambda: [nashpy_value(R) for R in sub]
    t, vals = interleaved(fns, max(1, args.repeats // 2))
    sols = vals["solve_games"]
    err_b = _acc([s.value for s in sols], ref, games)
    n_ipm = sum(s.method == "ipm" for s in sols)
    n_exact = sum(s.gap <= 1e-13 * np.abs(R).max() for s, R in zip(sols, games))
    print(f"batched ({len(games)} games, median of {max(1, args.repeats // 2)} interleaved repeats): solve_games "
          f"{t['solve_games']:.3f}s ({n_ipm} certified by the IPM, {n_exact} of them at a crossover vertex (gap <= "
          f"1e-13 max|R|), the rest by solve_lp (HiGHS); max value error {err_b:.1e}, all certified: {all(s.converged for s in sols)})")
    for k in ("HiGHS (linprog) on R/max|R|", "HiGHS via highspy"):
        print(f"  {len(games)} separate {k} calls {t[k]:.3f}s (max value error {_acc(vals[k], ref, games):.1e})")
    print(f"  ratio HiGHS (linprog) x{len(games)} / solve_games {t['HiGHS (linprog) on R/max|R|'] / t['solve_games']:.1f}x ; "
          f"HiGHS via highspy x{len(games)} / solve_games {t['HiGHS via highspy'] / t['solve_games']:.1f}x")
    if have_nashpy:
        print(f"  nashpy on {len(sub)} of them {t['nashpy']:.2f}s (max value error {_acc(vals['nashpy'], ref[:len(sub)], sub):.1e}); "
              f"ratio nashpy (scaled to {len(games)}) / solve_games {t['nashpy'] * len(games) / len(sub) / t['solve_games']:.1f}x")
    bad = [i for i, (a, b, R) in enumerate(zip([s.value for s in sols], ref, games)) if abs(a - b) > ACC * np.abs(R).max()]
    assert not bad, f"solve_games missed equal accuracy on games {bad[:5]}"

    # ---- Algorithm 4 as printed (constant step), certified to 1e-5 (1e-9 is out of reach: gap ~ 1.3 max|R| / T)
    sub = [R for R in games[:args.alg4_games]]
    t0 = time.perf_counter()
    rounds = [optimistic_hedge(R, tol=1e-5 * np.abs(R).max(), max_iter=1_000_000).iterations for R in sub]
    t_alg4 = time.perf_counter() - t0
    t0 = time.perf_counter()
    for R in sub:
        solve_lp(R)
    t_lp20 = time.perf_counter() - t0
    print(f"Algorithm 4 as printed (eta = 2/max|R|, certified gap 1e-5 max|R|) on {len(sub)} games: {t_alg4:.2f}s, "
          f"rounds {min(rounds)}..{max(rounds)} (1e-9 would need ~1e4 x more); ratio Alg. 4 (1e-5) / solve_lp (1e-9) "
          f"{t_alg4 / t_lp20:.0f}x")


if __name__ == "__main__":
    main()
