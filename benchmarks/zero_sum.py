"""Speed of the MMRA game solver (seed 001 App. C, Algorithm 4) against the seed's own loop.

The seed runs optimistic Hedge for a fixed T = 1e5 rounds with eta = 5 / sqrt(T). ``theory.zero_sum``
runs the same algorithm with a larger constant step and stops as soon as the certified duality gap of
the averaged iterates reaches a tolerance. Here the tolerance is set to the gap the seed's loop ends
with (equal accuracy); both run in this process on the same matrices. The last printed line is the
speed ratio (seed seconds / ours), the geometric mean over the instances.

    python benchmarks/zero_sum.py [--instances 3] [--K 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pluralign.theory.zero_sum import optimistic_hedge, regret_matrix, seed_fixed_length_optimistic_hedge, solve_lp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--K", type=int, default=8)
    ap.add_argument("--T", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    ratios = []
    for i in range(args.instances):
        R = regret_matrix(rng.normal(size=(args.K, args.K)))
        exact = solve_lp(R).value
        t0 = time.perf_counter()
        seed_sol = seed_fixed_length_optimistic_hedge(R, T=args.T, eta=5.0 / np.sqrt(args.T))
        t_seed = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = optimistic_hedge(R, tol=seed_sol.gap, max_iter=10 * args.T)
        t_ours = time.perf_counter() - t0
        assert ours.gap <= seed_sol.gap, "did not reach the seed's accuracy"
        ratios.append(t_seed / t_ours)
        print(
            f"instance {i}: K={args.K} value={exact:.6f} | seed loop T={args.T}: gap={seed_sol.gap:.3e}, "
            f"|value err|={abs(seed_sol.value - exact):.2e}, {t_seed:.2f}s | ours: {ours.iterations} rounds, "
            f"gap={ours.gap:.3e}, |value err|={abs(ours.value - exact):.2e}, {t_ours:.3f}s | "
            f"ratio {t_seed / t_ours:.1f}x"
        )
    print(f"{float(np.exp(np.mean(np.log(ratios)))):.1f}")


if __name__ == "__main__":
    main()
