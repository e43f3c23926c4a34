"""Is the LM's DPO M-step strong enough for EM-DPO's E-step? (seed 001 Alg. 1 on the quick profile's GPT-2)

True-label DPO (one adapter per true MPI personality, trained on that type's users only: the M-step EM
would run if its E-step were perfect) checkpointed after each of ``--epochs`` (default 1, 3, 5) of one
RMSprop trajectory per adapter (:func:`pluralign.llm.train_weighted_dpo` with ``resume``: the checkpoint
after e epochs is the e-epoch run), evaluated exactly as ``pluralign emdpo run`` evaluates its methods
(:func:`pluralign.experiments.emdpo_llm.study.evaluate`): per type the table accuracy / reward margin of
the matched adapter and the paper's max-mean margin / held-out accuracy.  The twin's numbers to compare
with come from ``pluralign sims mpi``.

Run (one torch thread; timings on a shared machine are contended, re-measure uncontended):

    OMP_NUM_THREADS=1 python benchmarks/emdpo_llm_mstep.py --feedback ternary --epochs 1,3,5 --json out.json

Data, pi_SFT and evaluation set are those of ``pluralign emdpo run --profile quick --seed 0`` (replicate
0); the adapters' initial A matrices and data order are seeded by ``derive_int(seed, 0, "mstep_diagnosis")``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import torch

from pluralign.experiments.emdpo_llm import study
from pluralign.experiments.emdpo_llm.data import eval_set, mpi_text
from pluralign.llm import AdapterPolicies, LMFit, load_causal_lm, train_weighted_dpo
from pluralign.runs import Profile, settings_for
from pluralign.seeding import derive, derive_int, torch_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feedback", default="ternary")
    ap.add_argument("--epochs", default="1,3,5", help="checkpoints, comma-separated epochs")
    ap.add_argument("--lr", type=float, default=None, help="override the quick profile's lr")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="quick", help="the emdpo run profile whose data / model to use")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    checkpoints = sorted({int(e) for e in args.epochs.split(",")})
    s = replace(settings_for(study.PROFILES, Profile(args.profile)), feedback=args.feedback,
                **({"lr": args.lr} if args.lr is not None else {}))
    seed, rep, n = args.seed, 0, s.n_options
    mpi = mpi_text(s.inventory, s.data_dir, s.n_prompts, s.beta, s.ref_scale, seed)
    sample = mpi.testbed.sample(s.n_users, n, derive(seed, rep, "sample", n))
    ev = eval_set(mpi, s.n_eval_prompts, s.n_heldout, seed, rep)
    model, tok = load_causal_lm(study._model_path(s, mpi, seed), device=s.torch_device(), dtype="auto")
    K = study.N_TYPES
    pol = AdapterPolicies(model, tok, mpi.records(sample), K, s.lora(), max_length=s.max_length,
                          max_prompt_length=s.max_prompt_length, batch_size=s.score_batch_size)
    ref_table = pol.score_texts(None, ev.table).reshape(ev.testbed.n_prompts, ev.testbed.n_responses)
    types = sample.types
    onehot = np.eye(K)[types]
    user = pol.data.choices.user
    dseed = derive_int(seed, rep, "mstep_diagnosis")
    gi, g = torch_generator(dseed, "lora_init"), torch_generator(dseed, "dpo_order")
    one = s.dpo(1)
    states = {e: [] for e in checkpoints}
    losses = {e: [] for e in checkpoints}
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(K):
        pol.load_state(k, pol.init_state(gi))
        resume, done = {}, 0
        for e in checkpoints:
            while done < e:
                st = train_weighted_dpo(pol, k, onehot[user, k], one, g, resume=resume)
                resume, done = st["resume"], done + 1
            states[e].append(pol.state(k))
            losses[e].append(st["mean_loss"])
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = {}
    for e in checkpoints:
        fit = LMFit(states[e], types, onehot, onehot.mean(axis=0))
        m = study.evaluate(fit, study._tables(pol, fit, ev), ref_table, ev, types, s.beta)
        rows[e] = {"last_epoch_mean_loss": losses[e], **{t: m[t] for t in ("P1", "P2", "P3")}}
    out = {"feedback": s.feedback, "lr": s.lr, "batch_size": s.batch_size, "n_users": s.n_users, "seed": seed,
           "train_wall_s": train_wall, "train_cpu_s": train_cpu, "epochs": rows}
    print(f"True-label DPO, {s.feedback}, lr {s.lr:g}, batch {s.batch_size}, {s.n_users} users "
          f"(train: {train_wall:.0f} s wall, {train_cpu:.0f} s CPU, contended)")
    print("epochs  " + "   ".join(f"{t} acc / margin / max-mean / heldout acc" for t in ("P1", "P2", "P3")))
    for e, r in rows.items():
        print(f"{e:6d}  " + "   ".join(f"{r[t]['accuracy']:.3f} / {r[t]['reward_margin']:+.3f} / "
                                      f"{r[t]['max_mean_margin']:+.3f} / {r[t]['heldout_accuracy']:.3f}"
                                      for t in ("P1", "P2", "P3")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
