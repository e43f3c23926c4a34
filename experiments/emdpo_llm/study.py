"""EM-DPO on a causal language model: binary vs ternary preferences on the MPI personalities (seed 001
sec. 5, Table 1; Fig. 2's choice of K), the language-model twin of :mod:`pluralign.sims.mpi`, and on
GlobalOpinionQA's country annotators (Table 2; data design in :mod:`pluralign.experiments.emdpo_llm.goqa`)
(command: ``pluralign emdpo run --dataset mpi|goqa``).

Pipeline of one cell (dataset, feedback, K, base seed, replicate):

1. pi_SFT: ``--model PATH`` (``AutoModelForCausalLM.from_pretrained``), or the small GPT-2 built by
   :func:`pluralign.llm.build_small_gpt2` on every prompt + item text (cached on disk, keyed by its config;
   loaded back through the same ``from_pretrained`` path);
2. data: the twin's users (:mod:`pluralign.experiments.emdpo_llm.data`: the same sample as the twin's
   cell), one preference each, two options (binary, Bradley-Terry) or three (ternary, eq. 17);
3. K LoRA adapters on the frozen pi_SFT (:class:`pluralign.llm.AdapterPolicies`, reference log-probs
   cached once); EM-DPO through :class:`pluralign.em.MixtureEM` (:func:`pluralign.llm.fit_em_dpo`:
   k-means++ init on MiniLM response embeddings, soft E-step eq. 36-37, weighted DPO M-step eq. 38, in
   pluralign's training loop or, ``trainer="trl"`` (binary only), in trl's through its weighted ``DPOTrainer``);
4. baselines in the main cell (K = 3): Cluster DPO (App. D.2: K = 2 k-means on each user's mean
   preferred-text embedding), vanilla DPO, True-label DPO;
5. metrics per personality (MPI) or country (GlobalOpinionQA, :func:`evaluate_goqa`), twin's definitions on the table of every (eval prompt, item) pair — the
   policy matched to the type by user overlap: pairwise ``accuracy`` and ``reward_margin`` over all item
   pairs strictly ranked by r_k and ``regret`` R_k (eq. 3) of the policy restricted to the items against
   pi_SFT restricted to the items — and the paper's: ``max_mean_margin`` (sec. 5.1: max over the K
   policies of the mean implicit-reward margin on the type's held-out users' pairs) and
   ``heldout_accuracy`` (the accuracy of that best policy on those pairs).  GlobalOpinionQA: the same
   Table 2 metrics on held-out users (binary pairs, as printed), and ``accuracy`` / ``reward_margin`` of
   the matched policy on every option pair its country's answer shares strictly rank (no regret: the
   options of a question are not a policy's whole support).

Seeds (:mod:`pluralign.seeding`): GlobalOpinionQA users ``derive(s, r, "goqa_sample", n)``, held-out
users ``derive(s, r, "goqa_heldout")``, the rest as MPI; MPI: testbed ``derive_int(s, "testbed")`` and data ``derive(s, r, "sample",
n)`` exactly as the twin; pi_SFT ``derive_int(s, "pi_sft")``; held-out users ``derive(s, r, "heldout")``;
EM-DPO ``derive_int(s, r, "em_dpo", K)``; Cluster DPO ``derive_int(s, r, "cluster_dpo")``; vanilla /
true-label DPO ``derive_int(s, r, "vanilla_dpo")`` / ``derive_int(s, r, "true_label_dpo")``.

Cells: one per (dataset, feedback, K, seed, replicate) under ``OUT/cells``; ``results.json`` holds the
settings, the deviations, ``"source"``, the summary (the twin's keys: ``summary["n=2" | "n=3"][method]
["{type}_{metric}_mean" / "_sem"]``, mean ± s.e.m. over replicates), Fig. 2's ``k_sweep`` and every cell.

FINDINGS (2026-12-01, quick profile, seed 0, 2000 users; a contended shared 2-CPU machine)

* Table 1, 3 replicates (mean +- s.e.; ``pluralign emdpo run --dataset mpi --feedback {ternary,binary}
  --profile quick --n-seeds 3``): EM-DPO ternary table accuracy P1 / P2 / P3 = .599 +- .017 / .530 +- .018 /
  .676 +- .012 (ARI .012 +- .002), binary .538 +- .012 / .491 +- .013 / .676 +- .026 (ARI .002); True-label
  ternary .722 / .709 / .754. Ternary beats binary on P1 and P2, the twin's direction, but does not
  separate them (twin ternary .973 / .965 / 1.0, binary .561 / .554 / .918). Seed 001 prints EM-DPO
  ternary .584 / .584 / .634 and True-label .760 / .773 / .710 on Mistral-7B: the LM's range, not the twin's.

* The quick M-step (one LoRA DPO epoch per M-step, lr 1e-3) is weak: True-label DPO, i.e. the M-step
  EM would run with a perfect E-step, checkpointed at 1 / 3 / 5 epochs of one RMSprop trajectory
  (``OMP_NUM_THREADS=1 python benchmarks/emdpo_llm_mstep.py --feedback ternary --epochs 1,3,5``), gives
  per-type table accuracy (the twin's metric) P1 / P2 / P3 = .783 / .674 / .787 (1 epoch), .838 / .837 /
  .910 (3), .898 / .854 / .918 (5), table reward margin +.52 / +.53 / +.36 -> +1.13 / +1.05 / +1.06 ->
  +1.49 / +1.40 / +1.38, max-mean margin on held-out users +.37 / +.42 / +.16 -> +.84 / +.82 / +.58 ->
  +1.14 / +1.10 / +.67 (15 adapter-epochs: 63 s CPU).  The twin's True-label DPO
  (``pluralign sims mpi --profile quick --n-seeds 3``) reaches accuracy 1.000 and margins 2.8 / 2.8 / 2.0:
  the LM approaches it with more epochs but has not reached it at 5.  Seed 001's own LM (Table 1) prints
  True-label accuracies .760 / .773 / .710 and margins .98 / 1.23 / .70, i.e. the LM's 1-3 epoch range,
  not the twin's.
* A stronger M-step alone does not make EM-DPO separate the types: the same ternary run with three DPO
  epochs per M-step (``pluralign emdpo run --dataset mpi --feedback ternary --profile quick --n-seeds 1
  --epochs 3``; 617 CPU-s) gives ARI .005 and table accuracy .584 / .514 / .644, no better than the
  one-epoch run (ARI .011, .604 / .522 / .700). So the weak M-step is not the whole reason. The E-step
  sees one preference per user. From the k-means++ start on MiniLM embedding differences, its final
  assignment is no closer to the types than chance (ARI about 0). EM's marginal log-likelihood moves only from -2098 to -2044,
  while a uniform choice gives -2197, and the monotone guard rejects every adapter's M-step at
  iterations 4-5. The twin starts from the same kind of embedding difference on psi, but its exact
  M-step gives margins of 2-3 at once. Not tested: an E-step with temperature or annealing, or a start
  from the twin's responsibilities; either is a change of method, not of scale.
* The likelihood does not prefer the truth (``python -m pluralign.experiments.emdpo_llm.diagnose --run R``
  on both quick runs; forward passes only): the marginal log-likelihood of the training records at EM-DPO's
  final adapters and rho (each run's recorded value, reproduced exactly) is -2044 / -2048 / -2045 ternary,
  -1278 / -1292 / -1278 binary; at the True-label adapters (one DPO epoch; EM's had up to six) with the true
  proportions it is lower in all 6 replicates, -2197 / -2165 / -2186 and -1369 / -1367 / -1408, within 32
  nats of K copies of pi_SFT (2000 log 1/3 = -2197, 2000 log 1/2 = -1386). So EM is not stuck below the
  truth: at this M-step strength it is a signal-strength limit.  A reading, not measured separately:
  with one record per user the marginal sees only the mixed choice probabilities, in which P1's and P2's
  adapters (P2 = -P1) largely cancel, so the truth's mixture sits near pi_SFT while EM's components fit
  the mixed choices better without separating the types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from pluralign.em import adjusted_rand_index
from pluralign.emdpo import TabularTestbed, match_types
from pluralign.emdpo.tabular import REGRET_DEFINITION, check_regret_definition
from pluralign.llm import (
    AdapterPolicies,
    DPOSettings,
    LoRASettings,
    SmallGPT2Config,
    build_small_gpt2,
    cluster_dpo,
    fit_em_dpo,
    load_causal_lm,
    true_label_dpo,
    user_preferred_features,
    user_response_features,
    vanilla_dpo,
)
from pluralign.llm.scoring import TextChoices
from pluralign.runs import CellStore, Profile, mean_sem, run_cells, write_json
from pluralign.seeding import derive, derive_int

from pluralign.experiments.emdpo_llm.data import eval_set, mpi_text, sft_texts
from pluralign.experiments.emdpo_llm.goqa import COUNTRY_CODES, DESIGN_DEVIATIONS, load_goqa_design

__all__ = ["DEVIATIONS", "METHODS", "METRICS", "PROFILES", "GOQA_PROFILES", "EMDPOLLMSettings", "cell_key", "run",
           "summarize", "FEEDBACK_OPTIONS", "TYPE_NAMES", "profiles_for"]

METHODS = ("em_dpo", "cluster_dpo", "vanilla_dpo", "true_label_dpo")
METRICS = ("accuracy", "reward_margin", "regret", "max_mean_margin", "heldout_accuracy")
FEEDBACK_OPTIONS = {"binary": 2, "ternary": 3}
N_TYPES = 3  # P1, P2, P3 (Table 1)
TYPE_NAMES = {"mpi": ("P1", "P2", "P3"), "goqa": COUNTRY_CODES}
"""The true groups of each dataset (Table 1's personalities; Table 2's countries BR, IN, MX, PK)."""

DEVIATIONS = {
    "policies": "K LoRA adapters (peft, r = 8, alpha = 16, all linear layers) on one frozen pi_SFT instead of "
                "K full copies of pi_SFT (Alg. 1 line 3): the issue's design; memory O(base + K adapters).",
    "lr": "quick / smoke: RMSprop lr 1e-3 with 30 warmup steps and batch 16 (Table 4: 5e-7, 150, batch 4 for "
          "full fine-tuning of Mistral-7B; 5e-7 does not move a LoRA on a small random GPT-2). lr chosen from "
          "True-label DPO's training loss only. Paper profile: Table 4 as printed.",
    "model": "quick / smoke: a 2-layer 128-wide GPT-2 (smoke: 1 x 32) built here as pi_SFT, for Mistral 7B v0.3.",
    "monotone_m_step": "an adapter's M-step is kept only if it does not decrease its weighted objective "
                       "Q_k (generalised EM, so the marginal likelihood never decreases); the seed runs plain SGD "
                       "(set monotone=False).",
    "em_iterations": "5 EM iterations (Table 4) after an initial M-step on the k-means++ assignment; EM stops "
                     "early when the marginal likelihood stops improving (the engine's rule, tol = 0).",
    "restarts": "1 EM start (the twin's quick profile uses 2).",
    "baseline_epochs": "baselines are one DPO run of `baseline_epochs` (Table 4: 1) epochs; EM-DPO's adapters get "
                       "one epoch per M-step (6 in all), so EM-DPO has seen more passes.",
    "evaluation": "the twin's metrics on the first `n_eval_prompts` (quick: 10 of 50) paraphrases x all items; "
                  "regret is that of the policy restricted to the items, against pi_SFT restricted to the items; "
                  "the paper's max-mean margin on held-out users' Bradley-Terry pairs on those prompts.",
    "cluster_dpo": "MiniLM (the packaged all-MiniLM-L6-v2) embeddings instead of RoBERTa-Large (App. D.2); "
                   "k-means K = 2 as printed (the twin clusters into 3 on psi).",
    "em_init": "k-means++ on per-user MiniLM embedding of the chosen response minus the mean of the rejected "
               "ones (the twin uses the same difference on psi).",
    "true_label_dpo": "True-label DPO is trained on the same users' data as every other method, split by their "
                      "true type (sec. 5: 'on large data from the original labels'): it isolates the clustering "
                      "error, not the data size.",
    "K_main": "the main cell fits K = the number of true types (MPI 3, GlobalOpinionQA 4); App. D.3.1 picks "
              "k = 4 by validation for both data sets (Fig. 2's sweep is `k_sweep`).",
    "eval_examples": "Table 4's 'No. of Evaluation Examples 256' has no counterpart: evaluation is the exact "
                     "twin metrics on `n_eval_prompts` prompts and every held-out user's pairs.",
    "e_step_beta": "the E-step likelihood uses beta log(pi_k / pi_SFT) (App. B eq. 17); Alg. 1 line 6 prints "
                   "exp(log pi_k / pi_SFT) without beta (pluralign.dpo, pluralign.emdpo.policy).",
}
"""Every way this study departs from seed 001's printed setup (also written to results.json)."""


@dataclass
class EMDPOLLMSettings:
    """Scale and hyperparameters of the language-model EM-DPO study (written to config.json)."""

    feedback: str = "ternary"
    """binary (two options, Bradley-Terry) or ternary (three options, eq. 17)."""
    dataset: str = "mpi"
    """Dataset: mpi (Table 1) or goqa (GlobalOpinionQA, Table 2)."""
    questions_per_user: int = 32
    """GlobalOpinionQA: distinct questions (preferences) per user (sec. 5: 32); MPI users give one each."""
    n_users: int = 2000
    """Training users, one preference each (as the twin)."""
    n_heldout: int = 600
    """Held-out users for the paper's per-group evaluation sets."""
    n_seeds: int = 1
    """Replicates per base seed (replicate r: the twin's data of derive(s, r, ...))."""
    K: int = 3
    """EM-DPO components (adapters) of the main cell."""
    k_sweep: tuple = ()
    """Extra K values for Fig. 2 (EM-DPO only), e.g. (1, 2, 4, 5, 6)."""
    max_iter: int = 5
    """EM iterations (Table 4)."""
    n_restarts: int = 1
    """EM restarts."""
    monotone: bool = True
    """Keep an adapter's previous weights when its M-step lowers its weighted objective."""
    beta: float = 0.1
    """DPO beta (Table 4)."""
    lr: float = 1e-3
    """Peak learning rate of every DPO run."""
    batch_size: int = 16
    """Records per optimizer step."""
    warmup_steps: int = 30
    """Linear warmup steps per DPO run."""
    epochs: int = 1
    """Epochs per M-step (Table 4)."""
    baseline_epochs: int = 1
    """Epochs of each baseline DPO run (Table 4: 1)."""
    max_grad_norm: float = 10.0
    """Gradient clip (Table 4)."""
    optimizer: str = "rmsprop"
    """rmsprop (Table 4) or adamw."""
    trainer: str = "pluralign"
    """Training loop of the M-steps and baseline DPO runs: pluralign, or trl (trl's DPOTrainer loop through
    pluralign.llm.trl.WeightedDPOTrainer, the same steps; binary feedback only)."""
    lora_r: int = 8
    """LoRA rank."""
    lora_alpha: float = 16.0
    """LoRA alpha."""
    cluster_k: int = 2
    """Clusters of Cluster DPO (App. D.2: 2)."""
    model: str | None = None
    """Folder of a causal LM (from_pretrained); None: build the small GPT-2."""
    gpt2: SmallGPT2Config = field(default_factory=SmallGPT2Config)
    """The small GPT-2 pi_SFT (used when model is None)."""
    n_prompts: int = 50
    """Paraphrased prompts (the twin's 50)."""
    n_eval_prompts: int = 10
    """Prompts of the evaluation table."""
    ref_scale: float = 0.5
    """Twin testbed's reference spread (seeds only; the LM's pi_SFT is the reference here)."""
    inventory: str = "120"
    """MPI item inventory: 120 or 1k."""
    data_dir: str | None = None
    """Folder with the MPI csv files / the GlobalOpinionQA json (None: the data folders of pluralign.datasets)."""
    max_length: int = 512
    """Longest prompt + response in tokens (Table 4; capped at the model's context)."""
    max_prompt_length: int = 256
    """Longest prompt in tokens (Table 4)."""
    score_batch_size: int = 128
    """Sequences per scoring forward pass (Table 4's evaluation batch is 16)."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    cache_dir: str | None = None
    """Cache root for the built model and the embeddings (None: $PLURALIGN_CACHE or ~/.cache/pluralign)."""
    regret: str = REGRET_DEFINITION
    """The regret the cells hold (:data:`pluralign.emdpo.tabular.REGRET_DEFINITION`; only "eq3")."""

    def __post_init__(self):
        check_regret_definition(self.regret)
        if self.feedback not in FEEDBACK_OPTIONS:
            raise ValueError(f"feedback: expected one of {sorted(FEEDBACK_OPTIONS)}, got {self.feedback!r}")
        if self.dataset not in TYPE_NAMES:
            raise ValueError(f"dataset: expected one of {sorted(TYPE_NAMES)}, got {self.dataset!r}")
        for name, lo in (("n_users", 10), ("questions_per_user", 1), ("n_heldout", 3), ("n_seeds", 1), ("K", 1), ("max_iter", 1),
                         ("n_restarts", 1), ("batch_size", 1), ("epochs", 1), ("baseline_epochs", 1),
                         ("lora_r", 1), ("cluster_k", 1), ("n_prompts", 1), ("n_eval_prompts", 1),
                         ("max_length", 2), ("max_prompt_length", 1), ("score_batch_size", 1),
                         ("warmup_steps", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name}: must be an integer >= {lo}, got {v!r}")
        if self.n_heldout < len(self.type_names):
            raise ValueError(f"n_heldout: needs >= {len(self.type_names)} (one per group), got {self.n_heldout}")
        self.k_sweep = tuple(int(k) for k in self.k_sweep)
        if any(k < 1 for k in self.k_sweep):
            raise ValueError(f"k_sweep: every K must be >= 1, got {self.k_sweep}")
        if self.n_eval_prompts > self.n_prompts:
            raise ValueError(f"n_eval_prompts: {self.n_eval_prompts} > n_prompts = {self.n_prompts}")
        if self.trainer == "trl" and self.n_options != 2:
            raise ValueError(f"trainer: 'trl' takes binary feedback only (trl's records have one chosen and one "
                             f"rejected completion), got feedback {self.feedback!r}; use trainer 'pluralign'")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device: expected auto, cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device: cuda asked for but torch sees no CUDA device")
        if isinstance(self.gpt2, dict):
            self.gpt2 = SmallGPT2Config(**self.gpt2)
        if self.model is not None:
            self.model = str(self.model)
        if self.data_dir is not None:
            self.data_dir = str(self.data_dir)
        if self.cache_dir is not None:
            self.cache_dir = str(self.cache_dir)
        self.dpo(1)  # validates the DPO hyperparameters
        self.lora()

    @property
    def n_options(self) -> int:
        return FEEDBACK_OPTIONS[self.feedback]

    @property
    def type_names(self) -> tuple:
        return TYPE_NAMES[self.dataset]

    def dpo(self, epochs: int) -> DPOSettings:
        return DPOSettings(beta=self.beta, lr=self.lr, batch_size=self.batch_size, epochs=epochs,
                           warmup_steps=self.warmup_steps, max_grad_norm=self.max_grad_norm, optimizer=self.optimizer,
                           trainer=self.trainer)

    def lora(self) -> LoRASettings:
        return LoRASettings(r=self.lora_r, alpha=self.lora_alpha)

    def torch_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device


PROFILES = {
    Profile.smoke: EMDPOLLMSettings(n_users=60, n_heldout=30, K=3, max_iter=2, n_prompts=4, n_eval_prompts=2,
                                    warmup_steps=2, gpt2=SmallGPT2Config(n_layer=1, n_embd=32, n_head=2,
                                                                         vocab_size=300, sft_epochs=1)),
    Profile.quick: EMDPOLLMSettings(),
    Profile.paper: EMDPOLLMSettings(n_users=10000, n_heldout=2000, n_seeds=3, k_sweep=(1, 2, 4, 5, 6),
                                    lr=5e-7, batch_size=4, warmup_steps=150, n_eval_prompts=50,
                                    score_batch_size=16),
}
"""smoke: seconds (a 1 x 32 GPT-2 on 4 prompts); quick: the twin's 2000 users on the 2 x 128 GPT-2;
paper: Table 4 (needs ``model``: e.g. a local Mistral-7B-v0.3 folder), the twin's paper scale of users."""


GOQA_PROFILES = {
    Profile.smoke: EMDPOLLMSettings(dataset="goqa", K=4, n_users=24, questions_per_user=3, n_heldout=12, max_iter=1,
                                    warmup_steps=2, gpt2=SmallGPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=160,
                                                                         vocab_size=2000, sft_epochs=1)),
    Profile.quick: EMDPOLLMSettings(dataset="goqa", K=4, n_users=150, questions_per_user=8, n_heldout=100,
                                    gpt2=SmallGPT2Config(n_positions=160, vocab_size=2000)),
    Profile.paper: EMDPOLLMSettings(dataset="goqa", K=4, n_users=1500, n_heldout=400, questions_per_user=32,
                                    n_seeds=3, k_sweep=(1, 2, 3, 5, 6), lr=5e-7, batch_size=4, warmup_steps=150,
                                    score_batch_size=16),
}
"""GlobalOpinionQA (K = 4 countries): smoke: seconds; quick: 150 users x 8 questions on the 2 x 128 GPT-2
(context 160 and a 2,000-token BPE vocabulary: the
questions are long, at most 125 tokens with it); paper: App. D.1's 1,500 training and 400 test users x 32 questions
(48,000 training pairs, sec. 5) with Table 4 (needs ``model``)."""


def profiles_for(dataset: str) -> dict:
    """The profiles of a dataset (``PROFILES`` for mpi, ``GOQA_PROFILES`` for goqa)."""
    if dataset not in TYPE_NAMES:
        raise ValueError(f"dataset: expected one of {sorted(TYPE_NAMES)}, got {dataset!r}")
    return GOQA_PROFILES if dataset == "goqa" else PROFILES


def cell_key(dataset: str, feedback: str, K: int, seed: int, rep: int) -> str:
    return f"dataset={dataset}_feedback={feedback}_K={K}_seed={seed}_rep={rep}"


def _model_path(s: EMDPOLLMSettings, mpi, seed: int, texts=None) -> Path:
    """``s.model``, or the small GPT-2 built on ``texts`` (default: every MPI prompt + item)."""
    if s.model is not None:
        return Path(s.model)
    texts = sft_texts(mpi.prompts, mpi.responses) if texts is None else texts
    return build_small_gpt2(texts, s.gpt2,
                            cache_dir=None if s.cache_dir is None else Path(s.cache_dir) / "models",
                            seed=derive_int(seed, "pi_sft"))


def _embeddings(s: EMDPOLLMSettings, texts) -> np.ndarray:
    from pluralign.pal.embed import embed_texts

    return embed_texts(texts, cache=s.cache_dir)


def _tables(pol: AdapterPolicies, fit, ev) -> np.ndarray:
    X, Y = ev.testbed.n_prompts, ev.testbed.n_responses
    out = []
    for st in fit.states:
        pol.load_state(0, st)
        out.append(pol.score_texts(0, ev.table).reshape(X, Y))
    return np.stack(out)


def evaluate(fit, tables: np.ndarray, ref_table: np.ndarray, ev, types, beta: float) -> dict:
    """Per type: the twin's metrics of the matched policy on the eval table and the paper's max-mean
    margin / accuracy on the held-out users; user-clustering ARI."""
    tb = ev.testbed
    lm_tb = TabularTestbed(tb.psi, ref_table, tb.betas, tb.type_probs, beta=beta, type_names=tb.type_names)
    m = match_types(types, fit.responsibilities, tb.K)
    margins, held_types = _heldout_margins(beta * (tables - ref_table[None]), ev.heldout)
    res: dict = {"matched_component": m.tolist(), "rho": np.asarray(fit.rho).tolist()}
    for k, name in enumerate(tb.type_names):
        res[name] = {**lm_tb.type_metrics(tables[m[k]], k), **max_mean_margin(margins[:, held_types == k])}
    res["max_regret_matched"] = max(res[n]["regret"] for n in tb.type_names)
    res["ari"] = adjusted_rand_index(types, fit.labels) if len(fit.states) > 1 else 0.0
    return res


def _agreement(d_hat: np.ndarray) -> np.ndarray:
    """1 where an implicit-reward margin ranks the pair as the data does, 0 where not, 1/2 at a tie."""
    return np.where(np.abs(d_hat) < 1e-12, 0.5, (d_hat > 0).astype(float))


def _heldout_margins(imp: np.ndarray, heldout) -> tuple[np.ndarray, np.ndarray]:
    """(J, M) implicit-reward margins r_j(y_w) - r_j(y_l) of the held-out users' binary pairs under each of
    the J policies (``imp``: (J, X, Y) implicit rewards), and the true type of each pair's user."""
    ch = heldout.choices
    rows = np.arange(len(ch.chosen))
    w, l = ch.options[rows, ch.chosen], ch.options[rows, 1 - ch.chosen]
    return imp[:, ch.context, w] - imp[:, ch.context, l], heldout.types[ch.user]


def max_mean_margin(margins: np.ndarray) -> dict:
    """Seed 001 sec. 5.1's metric on one group's evaluation pairs: ``margins`` (J policies, M pairs) of
    beta log(pi_j / pi_SFT)(y_w) - (same)(y_l); ``max_mean_margin`` = max_j mean margin, ``heldout_accuracy``
    = the accuracy of that best policy j, ``best_policy`` = j (NaN / 0 without pairs)."""
    M = margins.shape[1]
    if M == 0:
        return {"max_mean_margin": float("nan"), "heldout_accuracy": float("nan"), "best_policy": 0, "n_heldout": 0}
    mm = margins.mean(axis=1)
    best = int(np.nanargmax(mm))
    return {"max_mean_margin": float(mm[best]), "heldout_accuracy": float(_agreement(margins[best]).mean()),
            "best_policy": best, "n_heldout": int(M)}


def _goqa_table(design) -> TextChoices:
    """One record per question with all its options (masked to its count): its pairs are every
    (question, option) of the design."""
    from pluralign.data import Choices

    real = design.options >= 0
    opts = np.where(real, design.options, design.options[:, :1])
    ch = Choices(user=np.zeros(len(design.prompts), dtype=int), context=np.arange(len(design.prompts)),
                 options=opts, chosen=np.zeros(len(design.prompts), dtype=int), mask=None if real.all() else real)
    return TextChoices(ch, design.prompts, design.responses)


def evaluate_goqa(fit, tables: np.ndarray, ref_table: np.ndarray, design, heldout, types, beta: float) -> dict:
    """GlobalOpinionQA, per country: Table 2's max-mean margin and accuracy on its held-out users' pairs
    (:func:`max_mean_margin`), and the matched policy's ``accuracy`` / ``reward_margin`` on every option
    pair the country's answer shares strictly rank (:meth:`GOQADesign.ranked_pairs`; the twin's
    definitions); user-clustering ARI. ``tables``: (J, Q, R) log pi_j(response | question) (NaN off the
    design's pairs), ``ref_table`` the same for pi_SFT."""
    imp = beta * (tables - ref_table[None])
    margins, held_types = _heldout_margins(imp, heldout)
    m = match_types(types, fit.responsibilities, design.n_types)
    res: dict = {"matched_component": m.tolist(), "rho": np.asarray(fit.rho).tolist()}
    for k, name in enumerate(TYPE_NAMES["goqa"]):
        q, hi, lo = design.ranked_pairs(k)
        d_hat = imp[m[k], q, hi] - imp[m[k], q, lo]
        res[name] = {"accuracy": float(_agreement(d_hat).mean()), "reward_margin": float(d_hat.mean()),
                     **max_mean_margin(margins[:, held_types == k])}
    res["ari"] = adjusted_rand_index(types, fit.labels) if len(fit.states) > 1 else 0.0
    return res


def _goqa_tables(pol: AdapterPolicies, fits: dict, design) -> tuple[dict, np.ndarray]:
    """{method: (J, Q, R) log-probs of every design pair under each of its policies}, and pi_SFT's (Q, R)."""
    table = _goqa_table(design)
    pairs, _ = table.pairs()
    shape = (len(design.prompts), len(design.responses))

    def grid(v):
        g = np.full(shape, np.nan)
        g[pairs[:, 0], pairs[:, 1]] = v
        return g

    out = {}
    for name, fit in fits.items():
        out[name] = []
        for st in fit.states:
            pol.load_state(0, st)
            out[name].append(grid(pol.score_texts(0, table)))
        out[name] = np.stack(out[name])
    return out, grid(pol.score_texts(None, table))


class _Clock:
    """Wall and CPU seconds per phase of a cell (results' ``timings_s``: CPU time is what a shared machine
    does not distort)."""

    def __init__(self):
        import time

        self._time = time
        self.wall, self.cpu = {}, {}
        self._t = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        w, c = self._time.perf_counter(), self._time.process_time()
        self.wall[name], self.cpu[name] = w - self._t[0], c - self._t[1]
        self._t = (w, c)

    def as_dict(self) -> dict:
        return {"wall": self.wall, "cpu": self.cpu}


def _goqa_data(s: EMDPOLLMSettings, seed: int, rep: int):
    """(design, training users, held-out users: binary pairs as sec. 5's evaluation, countries in the
    printed proportions) of cell (seed, rep)."""
    design = load_goqa_design(s.data_dir)
    sample = design.sample(s.n_users, s.questions_per_user, s.n_options, derive(seed, rep, "goqa_sample", s.n_options))
    held = design.sample(s.n_heldout, s.questions_per_user, 2, derive(seed, rep, "goqa_heldout"),
                         types=design.stratified_types(s.n_heldout))
    return design, sample, held


def _work(s: EMDPOLLMSettings, out: Path, K: int, seed: int, rep: int) -> None:
    torch.set_num_threads(1)
    clock = _Clock()
    n = s.n_options
    if s.dataset == "goqa":
        design, sample, held = _goqa_data(s, seed, rep)
        path = _model_path(s, None, seed, texts=design.sft_texts())
        data, responses = design.records(sample), design.responses
    else:
        mpi = mpi_text(s.inventory, s.data_dir, s.n_prompts, s.beta, s.ref_scale, seed)
        path = _model_path(s, mpi, seed)
        sample = mpi.testbed.sample(s.n_users, n, derive(seed, rep, "sample", n))
        data, responses = mpi.records(sample), mpi.responses
        ev = eval_set(mpi, s.n_eval_prompts, s.n_heldout, seed, rep)
    n_types = len(s.type_names)
    main = K == n_types
    model, tok = load_causal_lm(path, device=s.torch_device(), dtype="auto")  # the checkpoint's dtype
    n_adapters = max(K, n_types, s.cluster_k) if main else K
    pol = AdapterPolicies(model, tok, data, n_adapters, s.lora(), max_length=s.max_length,
                          max_prompt_length=s.max_prompt_length, batch_size=s.score_batch_size)
    emb = _embeddings(s, responses)
    clock.lap("model_data_embeddings")
    fits = {"em_dpo": fit_em_dpo(pol, K, s.dpo(s.epochs), user_response_features(sample.choices, emb),
                                 max_iter=s.max_iter, n_restarts=s.n_restarts, tol=0.0,
                                 seed=derive_int(seed, rep, "em_dpo", K), monotone=s.monotone)}
    clock.lap("em_dpo")
    if main:
        bd = s.dpo(s.baseline_epochs)
        fits["cluster_dpo"] = cluster_dpo(pol, user_preferred_features(sample.choices, emb), bd, s.cluster_k,
                                          seed=derive_int(seed, rep, "cluster_dpo"))
        fits["vanilla_dpo"] = vanilla_dpo(pol, bd, seed=derive_int(seed, rep, "vanilla_dpo"))
        fits["true_label_dpo"] = true_label_dpo(pol, sample.types, n_types, bd,
                                                seed=derive_int(seed, rep, "true_label_dpo"))
        clock.lap("baselines")
    metrics = {}
    if s.dataset == "goqa":
        tables, ref_table = _goqa_tables(pol, fits, design)
        for name, fit in fits.items():
            metrics[name] = evaluate_goqa(fit, tables[name], ref_table, design, held, sample.types, s.beta)
    else:
        ref_table = pol.score_texts(None, ev.table).reshape(ev.testbed.n_prompts, ev.testbed.n_responses)
        for name, fit in fits.items():
            metrics[name] = evaluate(fit, _tables(pol, fit, ev), ref_table, ev, sample.types, s.beta)
    clock.lap("evaluation")
    metrics["timings_s"] = clock.as_dict()
    em = fits["em_dpo"].info
    metrics["em_dpo"].update(n_iter=em["n_iter"], marginal_ll=em["marginal_ll"],
                             trace=[{k: t[k] for k in ("iter", "marginal_ll", "n_empty")} for t in em["trace"]],
                             m_steps=em["m_steps"])
    for name in ("cluster_dpo", "vanilla_dpo", "true_label_dpo"):
        if name in fits:
            metrics[name]["train"] = fits[name].info["adapters"]
    _save_adapters(out, cell_key(s.dataset, s.feedback, K, seed, rep), {m: f.states for m, f in fits.items()})
    CellStore(out).save(cell_key(s.dataset, s.feedback, K, seed, rep),
                        {"dataset": s.dataset, "feedback": s.feedback, "n_options": n, "K": K, "seed": seed,
                         "rep": rep}, metrics)


def _save_adapters(out: Path, key: str, states: dict) -> Path:
    """The cell's learned adapters ({method: [K LoRA states]}) at ``out/adapters/<key>.pt`` (atomic), for
    ``pluralign emdpo mmra``; written before the cell itself, so a finished cell always has them."""
    import os
    import tempfile

    d = Path(out) / "adapters"
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{key}.", suffix=".tmp")
    os.close(fd)
    torch.save({m: [{k: v.cpu() for k, v in st.items()} for st in sts] for m, sts in states.items()}, tmp)
    os.replace(tmp, d / f"{key}.pt")
    return d / f"{key}.pt"


def load_adapters(run_dir: Path, key: str) -> dict:
    """{method: [K LoRA states]} saved by a cell of a run (``ValueError`` naming ``run`` when absent)."""
    path = Path(run_dir) / "adapters" / f"{key}.pt"
    if not path.is_file():
        raise ValueError(f"run: no saved adapters for cell {key} under {Path(run_dir) / 'adapters'}")
    return torch.load(path, weights_only=True)


def summarize(cells: list[dict], type_names=("P1", "P2", "P3")) -> dict:
    """The twin's summary keys (``summary["n=2"|"n=3"][method]["{type}_{metric}_mean"/"_sem"]``, ``ari``)
    over the main (K = number of true types) cells, and ``k_sweep["n=…"]["K=…"]`` (EM-DPO, every K) for Fig. 2."""
    out: dict = {"summary": {}, "k_sweep": {}}
    for n in sorted({c["config"]["n_options"] for c in cells}):
        cs = [c for c in cells if c["config"]["n_options"] == n]
        main = [c for c in cs if c["config"]["K"] == len(type_names)]
        out["summary"][f"n={n}"] = {}
        for m in METHODS:
            mc = [c for c in main if m in c["metrics"]]
            if not mc:
                continue
            out["summary"][f"n={n}"][m] = _rows(mc, m, type_names)
        out["k_sweep"][f"n={n}"] = {f"K={K}": _rows([c for c in cs if c["config"]["K"] == K], "em_dpo", type_names)
                                    for K in sorted({c["config"]["K"] for c in cs})}
    return out


def _rows(cs: list[dict], m: str, type_names) -> dict:
    row: dict = {"n_seeds": len(cs)}
    mets = [met for met in METRICS if cs and met in cs[0]["metrics"][m][type_names[0]]]  # goqa: no regret
    series = {f"{t}_{met}": [c["metrics"][m][t][met] for c in cs] for t in type_names for met in mets}
    series["ari"] = [c["metrics"][m]["ari"] for c in cs]
    if cs and "max_regret_matched" in cs[0]["metrics"][m]:
        series["max_regret_matched"] = [c["metrics"][m]["max_regret_matched"] for c in cs]
    for name, v in series.items():
        ms = mean_sem(v)
        row[f"{name}_mean"], row[f"{name}_sem"] = ms["mean"], ms["sem"]
    return row


def _source(s: EMDPOLLMSettings) -> str:
    if s.model is not None:
        return f"language model ({s.model})"
    g = s.gpt2
    return f"language model (GPT-2 {g.n_layer} layers x {g.n_embd} wide, built here as pi_SFT)"


def run(settings: EMDPOLLMSettings, seed: int, out: Path, progress: bool = True) -> dict:
    """Every (K in {K} + k_sweep, replicate) cell of one feedback (finished cells skipped), then
    ``out/results.json``. A missing model folder or MPI file is a ``ValueError`` naming it."""
    out = Path(out)
    s = settings
    if s.model is not None:
        p = Path(s.model)
        if not (p / "config.json").is_file():
            raise ValueError(f"model: no transformers model folder at {p}")
    extra: dict = {}
    if s.dataset == "goqa":  # fail early on bad data; the design's numbers go into results.json
        from pluralign.datasets import load_globalopinionqa
        from pluralign.experiments.emdpo_llm.goqa import goqa_design, shared_question_counts

        records = load_globalopinionqa(s.data_dir)
        design = goqa_design(records)
        design.sample(2, s.questions_per_user, s.n_options, derive(seed, "check"))  # validates questions_per_user
        extra = {"type_names": list(s.type_names), "data_deviations": DESIGN_DEVIATIONS,
                 "design": {"countries": list(design.countries), "probs": design.probs.tolist(),
                            "n_questions": len(design.prompts), "n_responses": len(design.responses),
                            "questions_per_country": dict(zip(design.countries, design.answered.sum(axis=1).tolist())),
                            "shared_questions": shared_question_counts(records)}}
    else:
        mpi_text(s.inventory, s.data_dir, s.n_prompts, s.beta, s.ref_scale, seed)  # fail early on bad data
    store = CellStore(out)
    Ks = [s.K] + [k for k in s.k_sweep if k != s.K]
    grid = [(K, seed, rep) for K in Ks for rep in range(s.n_seeds)]
    keys = {cell_key(s.dataset, s.feedback, *g) for g in grid}
    todo = [(s, out, *g) for g in grid if not store.done(cell_key(s.dataset, s.feedback, *g))]
    run_cells(_work, todo, n_jobs=1, desc=f"emdpo run {s.dataset} {s.feedback}", progress=progress)
    cells = [c for c in store.all() if c["key"] in keys]
    summ = summarize(cells, s.type_names)
    results = {
        "source": _source(s),
        "settings": asdict(s),
        "seed": int(seed),
        "deviations": {k: v for k, v in DEVIATIONS.items() if not (s.dataset == "goqa" and k == "evaluation")},
        **extra,
        "summary": summ["summary"],
        "k_sweep": summ["k_sweep"],
        "cells": cells,
    }
    write_json(out / "results.json", results)
    return results
