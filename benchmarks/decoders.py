"""Speed of training PREC's K cluster decoders together (one batched computation, seed 000 sec. 3.2-3.3)
against training them one after another (K separate single decoders, a Python loop over clusters).

Both do the same work: the same number of Adam steps on the same leaky-weighted BCE (eq. 13) for every
cluster, on the same frozen features (S segments x T steps x d) and the same EM weights. Sizes default to
the bandit study's quick profile (K = 10, S = 400, T = 30, d = 6, 1500 ratings, hidden 16).

Run: ``python benchmarks/decoders.py [--K 10] [--steps 100] [--hidden 16] [--threads 1]``. The last line
prints the ratio (time one after another / time together); > 1 means batching is faster. Timings on a
shared machine are inflated by contention: compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pluralign.prec.decoders import ClusterDecoders, DecoderConfig, fit_decoders


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--K", type=int, default=10)
    ap.add_argument("--segments", type=int, default=400)
    ap.add_argument("--T", type=int, default=30)
    ap.add_argument("--d", type=int, default=6)
    ap.add_argument("--records", type=int, default=1500)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--leak", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(a.segments, a.T, a.d)), dtype=torch.float32)
    idx = torch.as_tensor(rng.integers(0, a.segments, a.records))
    label = torch.as_tensor(rng.choice([0.0, 0.5, 1.0], size=a.records, p=[0.6, 0.05, 0.35]), dtype=torch.float32)
    rw = torch.as_tensor(rng.random(a.records) > 0.05, dtype=torch.float32)
    z = rng.integers(0, a.K, a.records)
    cw = np.full((a.records, a.K), a.leak)
    cw[np.arange(a.records), z] = 1.0
    cw = torch.as_tensor(cw, dtype=torch.float32)
    cfg = DecoderConfig(n_hidden=a.hidden, n_steps=a.steps, lr=0.01)

    def together() -> float:
        g = torch.Generator().manual_seed(0)
        dec = ClusterDecoders(a.K, a.d, a.hidden, g)
        t0 = time.perf_counter()
        fit_decoders(dec, x, label, rw, cw, cfg, g, idx)
        return time.perf_counter() - t0

    def one_by_one() -> float:
        g = torch.Generator().manual_seed(0)
        decs = [ClusterDecoders(1, a.d, a.hidden, g) for _ in range(a.K)]
        t0 = time.perf_counter()
        for k, dec in enumerate(decs):
            fit_decoders(dec, x, label, rw, cw[:, k : k + 1], cfg, g, idx)
        return time.perf_counter() - t0

    together()  # warm-up (first optimizer construction imports torch internals)
    t_tog = min(together() for _ in range(a.repeats))
    t_seq = min(one_by_one() for _ in range(a.repeats))
    print(f"K={a.K} S={a.segments} T={a.T} d={a.d} records={a.records} hidden={a.hidden} steps={a.steps} threads={a.threads}")
    print(f"together (batched): {t_tog:.3f} s   one after another: {t_seq:.3f} s")
    print(f"{t_seq / t_tog:.2f}")


if __name__ == "__main__":
    main()
