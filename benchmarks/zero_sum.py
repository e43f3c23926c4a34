"""Speed of the MMRA-AE game solvers (seed 001 App. C, eq. 39 and Algorithm 4) against what a user would
use instead: an exact LP (scipy's HiGHS, ``linprog(method="highs")``) and nashpy's linear program, at
equal accuracy (every reported value within 1e-9 max|R| of the certified LP value), per game and batched
over many games of sizes 3x3 .. 20x30 (what a bootstrap of AE's regret table needs); and Algorithm 4 as
printed (constant step), which cannot reach 1e-9 in reasonable time and is timed to a certified 1e-6.

Prints one line per comparison ending in a speed ratio (theirs / ours, > 1 means ours is faster).
Times depend on the machine's load; the ratios are what to read.  No asserts on time.

    python benchmarks/zero_sum.py [--games 1000] [--per-game 60] [--nashpy-games 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import linprog

from pluralign.theory.zero_sum import optimistic_hedge, regret_matrix, solve_games, solve_lp

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


def nashpy_value(R: np.ndarray) -> float:
    """nashpy's linear program for the zero-sum game whose row player (the adversary) receives R."""
    import nashpy

    p, w = nashpy.Game(R).linear_program()
    return float(np.max(R @ (np.asarray(w) / np.sum(w))))


def _timed(fn, games):
    t0 = time.perf_counter()
    vals = [fn(R) for R in games]
    return time.perf_counter() - t0, vals


def _acc(vals, ref, games):
    return max(abs(v - r) / np.abs(R).max() for v, r, R in zip(vals, ref, games))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=1000, help="games in the batched comparison")
    ap.add_argument("--per-game", type=int, default=60, help="games timed one at a time")
    ap.add_argument("--nashpy-games", type=int, default=200, help="games nashpy solves (it is slow)")
    ap.add_argument("--alg4-games", type=int, default=5, help="games Algorithm 4 is timed on")
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
    t_ours, v_ours = _timed(lambda R: solve_lp(R).value, games)
    t_ipm, v_ipm = _timed(lambda R: solve_games([R])[0].value, games)
    t_highs, v_highs = _timed(highs_value, games)
    t_hs, v_hs = _timed(lambda R: highs_value(R, scaled=True), games)
    print(f"per game ({len(games)} games, 3x3..20x30):")
    print(f"  solve_lp          {1e3 * t_ours / len(games):7.2f} ms/game, max value error {_acc(v_ours, refv, games):.1e}")
    print(f"  solve_games([R])  {1e3 * t_ipm / len(games):7.2f} ms/game, max value error {_acc(v_ipm, refv, games):.1e}")
    print(f"  HiGHS (linprog)   {1e3 * t_highs / len(games):7.2f} ms/game, max value error {_acc(v_highs, refv, games):.1e}")
    print(f"  HiGHS on R/max|R| {1e3 * t_hs / len(games):7.2f} ms/game, max value error {_acc(v_hs, refv, games):.1e}")
    print(f"  ratio HiGHS / solve_lp {t_highs / t_ours:.2f}x ; HiGHS(R/max|R|) / solve_lp {t_hs / t_ours:.2f}x ; "
          f"HiGHS / solve_games([R]) {t_highs / t_ipm:.2f}x")
    if have_nashpy:
        t_n, v_n = _timed(nashpy_value, games)
        print(f"  nashpy            {1e3 * t_n / len(games):7.2f} ms/game, max value error {_acc(v_n, refv, games):.1e}")
        print(f"  ratio nashpy / solve_lp {t_n / t_ours:.2f}x")

    # ---- batched
    games = random_games(args.games, rng)
    t_b0 = time.perf_counter()
    sols = solve_games(games)
    t_batch = time.perf_counter() - t_b0
    t_lp, v_lp = _timed(lambda R: highs_value(R, scaled=True), games)
    ref = [solve_lp(R).value for R in games]
    err_b = _acc([s.value for s in sols], ref, games)
    n_ipm = sum(s.method == "ipm" for s in sols)
    print(f"batched ({len(games)} games): solve_games {t_batch:.2f}s ({n_ipm} certified by the IPM, the rest by "
          f"HiGHS; max value error {err_b:.1e}, all certified: {all(s.converged for s in sols)})")
    print(f"  {len(games)} separate HiGHS calls on R/max|R| {t_lp:.2f}s (max value error {_acc(v_lp, ref, games):.1e})")
    print(f"  ratio HiGHS x{len(games)} / solve_games {t_lp / t_batch:.1f}x")
    if have_nashpy:
        sub = games[:args.nashpy_games]
        t_n, v_n = _timed(nashpy_value, sub)
        print(f"  nashpy on {len(sub)} of them {t_n:.2f}s (max value error {_acc(v_n, ref[:len(sub)], sub):.1e}); "
              f"ratio nashpy (scaled to {len(games)}) / solve_games {t_n * len(games) / len(sub) / t_batch:.1f}x")
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
