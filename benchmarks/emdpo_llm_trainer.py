"""Speed of :class:`pluralign.llm.trl.WeightedDPOTrainer` (every weight 1) against trl's own ``DPOTrainer``:
training steps per second of trl's training loop (``trainer.train()``: max_steps / its ``train_runtime``) on
the same tiny GPT-2 and the same preference records, in the same process, alternating A / B over the
repeats (fresh trainers each time; building them is not timed). Goal (issue 16): ratio >= 0.95.

The model defaults to the size of issue 16's CPU probe (a 2-layer, 128-wide GPT-2) with a word-level
tokenizer; records are random word strings (prompts of 6-12 words, completions of 2-8). ``--ref
precomputed`` (default: the EM-DPO setup, reference log-probs computed once) or ``--ref model`` (a
reference forward every step).

A second measure times one ``compute_loss`` + ``backward`` on the same batch, the two trainers interleaved
(``--step-reps`` times; the median), which contention disturbs less than whole runs.

Run: ``python benchmarks/emdpo_llm_trainer.py [--steps 40] [--repeats 5] [--step-reps 50]
[--ref precomputed|model] [--layers 2] [--width 128] [--batch 8] [--records 256] [--threads 1]``. The last
line prints the ratio (weighted steps/s / trl steps/s); timings on a shared machine are inflated by
contention: compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    PrinterCallback,
)
from transformers.utils import logging as hf_logging  # noqa: E402
from trl import DPOTrainer  # noqa: E402

from pluralign.llm.trl import WeightedDPOTrainer, cpu_dpo_config  # noqa: E402
from pluralign.seeding import derive, torch_generator  # noqa: E402


def build(root: str, n_layer: int, width: int, n_words: int = 200) -> tuple[str, str, list[str]]:
    """A word-level tokenizer and two GPT-2s (policy, reference) saved under ``root``; returns their paths."""
    words = [f"w{i}" for i in range(n_words)]
    vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "</s>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>")
    cfg = GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=width, n_layer=n_layer, n_head=4,
                     pad_token_id=1, bos_token_id=2, eos_token_id=2, tie_word_embeddings=False)
    paths = []
    for name in ("policy", "ref"):
        with torch.device("meta"):
            model = GPT2LMHeadModel(cfg)
        model = model.to_empty(device="cpu")
        g = torch_generator(0, "benchmark", name)
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.02, generator=g)
        path = os.path.join(root, name)
        model.save_pretrained(path)
        fast.save_pretrained(path)
        paths.append(path)
    return paths[0], paths[1], words


def records(words: list[str], n: int) -> list[dict]:
    rng = derive(0, "benchmark", "records")

    def text(lo, hi):
        return " ".join(rng.choice(words, size=int(rng.integers(lo, hi + 1))))

    out = []
    for i in range(n):
        chosen, rejected = " " + text(2, 8), " " + text(2, 8)
        while rejected == chosen:
            rejected = " " + text(2, 8)
        out.append({"prompt": text(6, 12), "chosen": chosen, "rejected": rejected, "weight": 1.0})
    return out


def steps_per_second(cls, policy: str, ref: str, data: list[dict], a, out: str) -> float:
    model = AutoModelForCausalLM.from_pretrained(policy)
    ref_model = AutoModelForCausalLM.from_pretrained(ref)
    tok = AutoTokenizer.from_pretrained(policy)
    args = cpu_dpo_config(out, per_device_train_batch_size=a.batch, max_steps=a.steps, learning_rate=1e-4,
                          logging_steps=10**6, precompute_ref_log_probs=a.ref == "precomputed",
                          torch_threads=a.threads)
    trainer = cls(model=model, ref_model=ref_model, args=args, train_dataset=Dataset.from_list(data),
                  processing_class=tok)
    trainer.remove_callback(PrinterCallback)
    result = trainer.train()
    assert result.global_step == a.steps
    return a.steps / result.metrics["train_runtime"]


def step_seconds(policy: str, ref: str, data: list[dict], a, root: str, reps: int) -> dict[str, float]:
    """Median seconds of one ``compute_loss`` + ``backward`` on the same collated batch, the two trainers
    interleaved (less exposed to contention than whole runs)."""
    trainers = {}
    for name, cls in (("trl", DPOTrainer), ("weighted", WeightedDPOTrainer)):
        args = cpu_dpo_config(os.path.join(root, f"step_{name}"), per_device_train_batch_size=a.batch,
                              precompute_ref_log_probs=a.ref == "precomputed", torch_threads=a.threads)
        tr = cls(model=AutoModelForCausalLM.from_pretrained(policy),
                 ref_model=AutoModelForCausalLM.from_pretrained(ref), args=args,
                 train_dataset=Dataset.from_list(data), processing_class=AutoTokenizer.from_pretrained(policy))
        trainers[name] = (tr, [dict(tr.train_dataset[i]) for i in range(a.batch)])
    times = {k: [] for k in trainers}
    for _ in range(reps):
        for name, (tr, examples) in trainers.items():
            t0 = time.perf_counter()
            batch = tr.data_collator(examples)
            tr.model.zero_grad()
            tr.compute_loss(tr.model, batch).backward()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--step-reps", type=int, default=50)
    ap.add_argument("--ref", choices=("precomputed", "model"), default="precomputed")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--records", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    hf_logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as root:
        policy, ref, words = build(root, a.layers, a.width)
        data = records(words, a.records)
        steps_per_second(WeightedDPOTrainer, policy, ref, data, a, os.path.join(root, "warm"))  # warm-up
        rates = {"trl": [], "weighted": []}
        for r in range(a.repeats):
            for name, cls in (("trl", DPOTrainer), ("weighted", WeightedDPOTrainer)):
                rates[name].append(steps_per_second(cls, policy, ref, data, a, os.path.join(root, f"{name}{r}")))
        step = step_seconds(policy, ref, data, a, root, reps=a.step_reps)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"model: GPT-2 {a.layers} layers x {a.width}, batch {a.batch}, {a.steps} steps, reference {a.ref}, "
          f"{a.threads} torch thread(s)")
    for k in ("trl", "weighted"):
        print(f"{k:>9} DPOTrainer: {med[k]:.2f} steps/s (median of {a.repeats}: "
              + ", ".join(f"{x:.2f}" for x in rates[k]) + ")")
    print(f"one batch, compute_loss + backward (median of {a.step_reps}, interleaved): trl "
          f"{1e3 * step['trl']:.1f} ms, weighted {1e3 * step['weighted']:.1f} ms, "
          f"ratio trl / weighted time {step['trl'] / step['weighted']:.3f}")
    print(f"ratio weighted / trl steps/s: {med['weighted'] / med['trl']:.3f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
