"""``pluralign emdpo ...``: EM-DPO on a causal language model (seed 001 sec. 5, Tables 1 and 2, Fig. 2).

* ``run`` — EM-DPO over K LoRA adapters on one frozen pi_SFT, with Cluster / vanilla / True-label DPO
  (:mod:`pluralign.experiments.emdpo_llm`), resumable per (dataset, feedback, K, seed) cell; ``--dataset
  goqa`` runs GlobalOpinionQA's countries (Table 2; the json is never shipped: ``PLURALIGN_GLOBALOPINIONQA_DIR``
  or ``--data-dir`` names its folder);
* ``mmra`` — MMRA-AE (Alg. 4) over a finished run's adapters, regrets from sampled completions scored by
  the K learned rewards (Table 3's rows: MMRA-AE, uniform, vanilla DPO); ``--method lw`` adds MMRA-LW
  (Alg. 2: one adapter by weighted DPO against multiplicative weights over the groups), scored in the same
  table.

Several GPUs: cells are independent and seeded, so run one process per GPU, e.g.
``CUDA_VISIBLE_DEVICES=0 pluralign emdpo run --profile paper --model PATH --feedback ternary --seed 0 --out R0 &``
and ``CUDA_VISIBLE_DEVICES=1 ... --seed 1 --out R1 &``. The training loop here is single-process: an
``accelerate launch`` of it would run the same cell on every process, not shard it; data-parallel M-steps
go through trl's trainer (the weighted ``DPOTrainer`` of :mod:`pluralign.llm.trl`), which
``accelerate launch --num_processes N`` runs as trl documents.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer

from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail, start_run
from pluralign.runs import Profile, settings_for

app = typer.Typer(help="EM-DPO and MMRA aggregation on language models (seed 001).", no_args_is_help=True)


@app.command("run", help="EM-DPO over LoRA adapters on a causal LM, binary or ternary (seed 001 Tables 1-2, Fig. 2).")
def run(
    dataset: Annotated[str, typer.Option("--dataset", help="mpi (Table 1) or goqa (GlobalOpinionQA, Table 2).")] = "mpi",
    feedback: Annotated[str, typer.Option("--feedback", help="binary (2 options) or ternary (3 options).")] = "ternary",
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    model: Annotated[Path | None, typer.Option("--model", help="Local causal-LM folder (from_pretrained); default: build the small GPT-2.")] = None,
    n_users: Annotated[int | None, typer.Option("--n-users", help="Override the profile's number of users.")] = None,
    n_seeds: Annotated[int | None, typer.Option("--n-seeds", help="Override the profile's replicates.")] = None,
    k_sweep: Annotated[str | None, typer.Option("--k-sweep", help="Extra K values for Fig. 2, comma-separated (e.g. 1,2,4,5,6).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Override the DPO learning rate.")] = None,
    baseline_epochs: Annotated[int | None, typer.Option("--baseline-epochs", help="Override the baselines' epochs.")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Override the epochs per EM-DPO M-step.")] = None,
    trainer: Annotated[str | None, typer.Option("--trainer", help="DPO training loop: pluralign, or trl (trl's DPOTrainer loop via WeightedDPOTrainer; binary feedback only).")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto (CUDA when present), cpu or cuda.")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Folder with the MPI csv files or the GlobalOpinionQA json.")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Cache root for the built model and embeddings.")] = None,
) -> None:
    import torch

    from pluralign.experiments.emdpo_llm import study

    torch.set_num_threads(1)
    over = {"dataset": dataset, "feedback": feedback, "model": model, "n_users": n_users, "n_seeds": n_seeds,
            "lr": lr, "baseline_epochs": baseline_epochs, "epochs": epochs, "trainer": trainer, "device": device, "data_dir": data_dir,
            "cache_dir": cache_dir}
    try:
        if k_sweep is not None:
            try:
                over["k_sweep"] = tuple(int(k) for k in k_sweep.split(",") if k.strip())
            except ValueError:
                raise ValueError(f"k_sweep: expected comma-separated integers, got {k_sweep!r}") from None
        s = replace(settings_for(study.profiles_for(dataset), profile), **{k: v for k, v in over.items() if v is not None})
        if Profile(profile) == Profile.paper and s.model is None:
            raise ValueError("model: the paper profile needs --model (a local folder, e.g. Mistral-7B-v0.3)")
    except ValueError as exc:
        fail(str(exc))
    out_dir = start_run("emdpo run", out, profile, seed, asdict(s))
    try:
        res = study.run(s, seed, out_dir)
    except ValueError as exc:
        fail(str(exc))
    n = study.FEEDBACK_OPTIONS[s.feedback]
    typer.echo(f"source: {res['source']}   feedback: {s.feedback} (n = {n})")
    types = s.type_names
    typer.echo("method           " + "  ".join(f"{t} acc / margin / max-mean" for t in types))
    for m, row in res["summary"][f"n={n}"].items():
        cols = [f"{row[f'{t}_accuracy_mean']:.3f} / {row[f'{t}_reward_margin_mean']:+.3f} / "
                f"{row[f'{t}_max_mean_margin_mean']:+.3f}" for t in types]
        typer.echo(f"{m:16s} " + "   ".join(cols))
    typer.echo(f"wrote {out_dir / 'results.json'}")


@app.command("mmra", help="MMRA-AE (Alg. 4; --method lw: and MMRA-LW, Alg. 2) over a finished run's adapters, regrets from sampled completions (seed 001 Table 3).")
def mmra(
    run_dir: Annotated[Path, typer.Option("--run", help="Folder of a finished 'pluralign emdpo run'.")],
    profile: ProfileOpt = Profile.quick,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    method: Annotated[str | None, typer.Option("--method", help="MMRA-AE's solver lp or optimistic_hedge; lw: MMRA-LW (Alg. 2) too, AE by lp.")] = None,
) -> None:
    import torch

    from pluralign.experiments.emdpo_llm import mmra as study

    torch.set_num_threads(1)
    try:
        over = {"run_dir": str(run_dir), "method": method}
        s = replace(settings_for(study.PROFILES, profile), **{k: v for k, v in over.items() if v is not None})
    except ValueError as exc:
        fail(str(exc))
    default_out = Path(run_dir) / ("mmra_lw" if s.method == "lw" else "mmra")
    out_dir = start_run("emdpo mmra", out if out is not None else default_out, profile, seed, asdict(s))
    try:
        res = study.run(s, seed, out_dir)
    except ValueError as exc:
        fail(str(exc))
    rows = study.rows(s.method)
    for row in rows:
        sm = res["summary"]
        typer.echo(f"{row:12s} max regret {sm[f'{row}_max_regret_mean']:.4f} ± {sm[f'{row}_max_regret_sem']:.4f}")
    for c in res["cells"]:
        regs = c["metrics"]["regrets"]
        typer.echo(c["key"] + ": " + "; ".join(f"{r} " + " ".join(f"{v:.3f}" for v in regs[r]) for r in rows))
    typer.echo(f"wrote {out_dir / 'results.json'}")
