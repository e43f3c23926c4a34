"""EM-DPO's M-step in pluralign's loop vs trl's (``DPOSettings.trainer``): seconds of one weighted-DPO epoch
on one adapter (soft responsibilities as weights), the two loops from the same adapter start with the same
minibatch order, interleaved over ``--repeats`` (medians), and how far apart the two trained adapters end.
trl's time includes building its ``WeightedDPOTrainer`` (one per adapter per M-step, as EM runs it).

The control: pluralign's loop again from the same start plus N(0, (1e-7)^2) noise on the LoRA B matrices. RMSprop's
trajectory is sensitive (measured at 2000 users, 125 steps: the control ends 2.5e-2 from the unperturbed
run, trl's loop 9.6e-3, their losses agreeing to 1e-7 for 30 steps and drifting apart gradually after), so
a trl / pluralign gap at or below the control's is float32 rounding, not a difference of the loops.

Run (one torch thread; timings on a shared machine are contended, re-measure uncontended):

    OMP_NUM_THREADS=1 python benchmarks/emdpo_llm_trl_mstep.py --n-users 300 --repeats 3

It builds (or reuses from the cache) the quick profile's 2-layer, 128-wide GPT-2 on the MPI texts; the users
are the quick profile's binary sample (seed 0, replicate 0); DPO settings as the quick profile (RMSprop,
lr 1e-3, batch 16, 30 warmup steps).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import interleaved  # noqa: E402

from pluralign.experiments.emdpo_llm.data import mpi_text, sft_texts  # noqa: E402
from pluralign.llm import (AdapterPolicies, DPOSettings, SmallGPT2Config, build_small_gpt2,  # noqa: E402
                           load_causal_lm, train_weighted_dpo)
from pluralign.llm.trl import adapter_dataset, train_weighted_dpo_trl  # noqa: E402
from pluralign.seeding import derive, derive_int, torch_generator  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-users", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache-dir", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    mpi = mpi_text("120", None, 50, 0.1, 0.5, seed=0)
    path = build_small_gpt2(sft_texts(mpi.prompts, mpi.responses), SmallGPT2Config(), cache_dir=a.cache_dir,
                            seed=derive_int(0, "pi_sft"))
    data = mpi.records(mpi.testbed.sample(a.n_users, 2, derive(0, 0, "sample", 2)))
    w = derive(0, "weights").dirichlet(np.ones(3), size=a.n_users)[:, 0]
    pols, start, out = {}, None, {}
    for name in ("pluralign", "trl"):
        model, tok = load_causal_lm(path)
        pols[name] = AdapterPolicies(model, tok, data, 1)
        start = pols[name].state(0) if start is None else start
        pols[name].ref_logprobs()  # the one reference pass, outside the timing
    records = adapter_dataset(pols["trl"])  # built once per fit in EM, outside the timing

    def step(name):
        def fn():
            pol = pols[name]
            pol.load_state(0, start)
            s = DPOSettings(beta=0.1, lr=1e-3, batch_size=16, warmup_steps=30, trainer=name)
            if name == "trl":
                st = train_weighted_dpo_trl(pol, 0, w, s, torch_generator(0, "bench_order"), records)
            else:
                st = train_weighted_dpo(pol, 0, w, s, torch_generator(0, "bench_order"))
            out[name] = pol.state(0)
            return st
        return fn

    t, res = interleaved({n: step(n) for n in pols}, a.repeats)

    def gap(x):
        return max(float((out["pluralign"][k] - x[k]).abs().max()) for k in start)

    diff, moved = gap(out["trl"]), gap(start)
    g = torch_generator(0, "bench_perturbation")
    pol = pols["pluralign"]
    pol.load_state(0, {k: v + 1e-7 * torch.randn(v.shape, generator=g) if "lora_B" in k else v
                       for k, v in start.items()})
    train_weighted_dpo(pol, 0, w, DPOSettings(beta=0.1, lr=1e-3, batch_size=16, warmup_steps=30),
                       torch_generator(0, "bench_order"))
    control = gap(pol.state(0))
    print(f"one M-step epoch, {a.n_users} binary users, {res['trl']['steps']} steps: pluralign {t['pluralign']:.2f} s, "
          f"trl {t['trl']:.2f} s (ratio trl / pluralign {t['trl'] / t['pluralign']:.2f}); adapters differ by "
          f"{diff:.2e} (control, a 1e-7 perturbed start: {control:.2e}; max |change| {moved:.2e}); mean loss "
          f"{res['pluralign']['mean_loss']:.6f} vs {res['trl']['mean_loss']:.6f}")


if __name__ == "__main__":
    main()
