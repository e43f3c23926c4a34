"""trl interop: preference records both ways, vanilla DPO through trl's own ``DPOTrainer``, and
:class:`WeightedDPOTrainer`, a ``DPOTrainer`` that honours a per-example ``weight`` column so that
EM-DPO's M-step (seed 001 sec. 3.1 and App. B: a DPO loss with the responsibilities gamma_ik as weights)
runs inside trl's training loop.

Records
-------
trl's preference format is one record per comparison, ``{"prompt", "chosen", "rejected"}`` with strings.
The package's k-wise extension (the one :func:`pluralign.data.to_trl_records` writes and
:func:`pluralign.loaders.load_preference_records` reads) keeps ``chosen`` a string and makes ``rejected``
the *list* of the other responses of the set Y_r (eq. 17: y_w beats every y in Y_r). Records also carry
``user``, ``id`` and, here, ``weight``. :func:`preference_dataset` writes them as a ``datasets.Dataset``
(``rejected`` a string when every record is binary, else a list in every record, a binary one being a
one-element list: one Arrow type per column); :func:`choices_from_dataset` reads them back through
``load_preference_records`` (its validation: an empty or repeated response is a ``ValueError`` naming the
record) and restores the weights.

Tokenisation (byte-level BPE): trl tokenises ``prompt`` and ``prompt + chosen`` and takes the completion
where the two diverge; a trailing space on the prompt merges into the next token (trl warns that the
prompt is not a prefix). Write prompts without a trailing space and completions with a leading one, and
give the tokenizer its own pad token.

DPO through trl
---------------
:func:`cpu_dpo_config` is a ``DPOConfig`` for a CPU run (no bf16, no gradient checkpointing, no reporting,
no checkpoints, one torch thread). :func:`dpo_trainer` is trl's ``DPOTrainer`` with the reference checked
first, because of two facts of trl 1.16:

* with ``ref_model=None`` and neither PEFT nor ``precompute_ref_log_probs=True``, trl reloads the reference
  from ``model.config._name_or_path``, which is empty for a model built from a config (save it with
  ``save_pretrained`` and reload it, pass ``ref_model``, or precompute the reference log-probs);
* with a ``PeftModel`` and ``ref_model=None``, trl trains the adapter named ``"default"`` and adds a frozen
  copy of it named ``"ref"`` as the reference: pi_SFT only while ``"default"`` is freshly initialised (LoRA's
  B = 0). EM-DPO's reference is always pi_SFT: :class:`WeightedDPOTrainer` uses the base model with the
  adapters disabled instead (``sft_reference=True``), and keeps reference log-probs already in the dataset
  (computed once, e.g. by :func:`reference_logps`, put there by :func:`with_reference_logps`) as they are,
  every EM iteration.

trl's ``DPOTrainer`` drops a ``weight`` column silently (a run with every weight 0 trains as if they were
1); :func:`dpo_trainer` refuses a dataset whose ``weight`` column is not all ones.

The weighted trainer
--------------------
trl builds its per-example losses inside ``DPOTrainer._compute_loss`` and returns only their mean, so
:class:`WeightedDPOTrainer` overrides, and documents, exactly these points:

1. ``_set_signature_columns_if_needed``: keeps the ``weight`` column (trl's list would remove it);
2. the collator: :class:`WeightCollator` wraps trl's and adds ``batch["weight"]``;
3. ``compute_loss``: the policy's summed completion log-probs from the same fused forward trl runs, the
   reference log-probs from the batch (precomputed) or from trl's own ``compute_ref_log_probs``, and the
   loss :func:`pluralign.dpo.weighted_kwise_dpo_loss` on them -- the package's one DPO loss, the one the
   EM-DPO M-step minimises;
4. ``_precompute_ref_logps``: a dataset that already has ``ref_chosen_logps`` / ``ref_rejected_logps`` keeps
   them (trl would recompute them whenever the dataset's fingerprint changes, i.e. at every new set of
   weights);
5. ``compute_ref_log_probs`` (PEFT only): with a ``PeftModel`` and no ``ref_model`` the reference is the base
   model with the adapters disabled, pi_SFT (``sft_reference=True``, the default), not trl's "ref" copy;
6. ``_prepare_dataset``: a dataset that is already tokenised (``TOKEN_COLUMNS``: ``prompt_ids``, ``chosen_ids``,
   ``rejected_ids``) is used as it is, so the sequences trained are exactly the caller's (EM-DPO: the ones the
   E-step scores, :class:`pluralign.llm.scoring.SequenceScorer`'s BOS / leading-space / EOS rule); trl would
   tokenise prompt and prompt + completion itself, without the BOS the scorer puts first;
7. ``_get_train_sampler`` (``order_generator``): each epoch's order of the training examples is
   ``torch.randperm(n, generator=order_generator)``, the order :func:`pluralign.llm.train_weighted_dpo` draws,
   instead of trl's seeded random sampler.

EM-DPO's M-step in trl's loop
-----------------------------
:func:`train_weighted_dpo_trl` is :func:`pluralign.llm.train_weighted_dpo` run by :class:`WeightedDPOTrainer`
(``DPOSettings(trainer="trl")``): adapter k of an :class:`pluralign.llm.AdapterPolicies` trained on its one
frozen base, on :func:`adapter_dataset`'s records (tokenised once by the policies' scorer, pi_SFT's cached
log-probs as the reference columns, built once per fit) with the responsibilities as the ``weight`` column and
``weight_normalize="count"``; records of weight 0 are left out, as there. The optimizer and warmup schedule
(:func:`pluralign.llm.emdpo.dpo_optimizer`) are passed to the trainer, the clip is ``max_grad_norm`` and the
minibatches come from the same generator, so both loops take the same steps (``tests/llm``). trl trains
the base module itself (``get_base_model()``: its LoRA layers run the active adapter k; a ``PeftModel``
would make trl look for an adapter named "default"). Binary feedback only.

Normalisation (``weight_normalize``): ``"sum_weights"`` (default, as ``pluralign.dpo``'s default) gives each
batch the loss sum_i w_i l_i / sum_i w_i, and 0 (no gradient) for a batch whose weights are all 0;
``"count"`` gives sum_i w_i l_i / B, an unbiased minibatch estimate of (1/N) sum_i w_i l_i, the seed's
M-step objective (App. B eq. 21: sum_ij gamma_ik log P) up to the constant 1/N. With every weight 1 both
are trl's loss (the mean over the batch). Under data parallelism each process normalises its own batch, as
trl does. Only trl's standard DPO loss is supported: ``loss_type=["sigmoid"]``, ``f_divergence_type=
"reverse_kl"``, no ``ld_alpha``, no ``use_weighting`` (WPO) and no MoE auxiliary loss; anything else is a
``ValueError`` at construction.

k-wise records are not trained inside trl: trl's collator and tokenisation know one chosen and one
rejected completion. A k-wise (ternary, ...) M-step goes through :func:`pluralign.dpo.weighted_kwise_dpo_loss`
on the (M, n) sequence log-probs directly; :func:`preference_dataset` still writes and reads such records.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from accelerate.utils import is_peft_model
from datasets import Dataset, IterableDataset
from trl import DPOConfig, DPOTrainer
from trl.trainer.utils import get_config_model_id

from pluralign.data import Choices, to_trl_records
from pluralign.dpo import weighted_kwise_dpo_loss
from pluralign.loaders import load_preference_records

__all__ = [
    "WEIGHT",
    "REF_COLUMNS",
    "TOKEN_COLUMNS",
    "preference_dataset",
    "choices_from_dataset",
    "with_weights",
    "with_reference_logps",
    "reference_logps",
    "cpu_dpo_config",
    "dpo_trainer",
    "WeightCollator",
    "WeightedDPOTrainer",
    "adapter_dataset",
    "train_weighted_dpo_trl",
]

WEIGHT = "weight"
"""The per-example weight column :class:`WeightedDPOTrainer` reads."""

REF_COLUMNS = ("ref_chosen_logps", "ref_rejected_logps")
"""trl's columns of precomputed reference log-probs (summed over the completion tokens)."""

TOKEN_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")
"""trl's tokenised record columns (completions without the prompt)."""

WEIGHT_NORMALIZE = ("sum_weights", "count")


# --------------------------------------------------------------------------- records
def _check_weights(w, n: int, name: str) -> np.ndarray:
    """(n,) finite non-negative floats, or a ValueError naming ``name`` and the first bad record."""
    try:
        a = np.asarray([np.nan if v is None else v for v in w] if not isinstance(w, np.ndarray) else w, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: weights must be numbers") from None
    if a.shape != (n,):
        raise ValueError(f"{name}: expected {n} weights, got shape {a.shape}")
    bad = np.flatnonzero(~np.isfinite(a) | (a < 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: weight of record {i} is {a[i]!r} (weights must be finite and >= 0; "
                         f"{bad.size} bad record(s))")
    return a


def preference_dataset(choices: Choices, prompts, responses, weights=None) -> Dataset:
    """``choices`` as a ``datasets.Dataset`` of trl preference records with a ``weight`` column.

    ``prompts[context]`` / ``responses[option]`` give the texts (as :func:`pluralign.data.to_trl_records`);
    ``weights`` (M,) per record (default ``choices.weight``; EM-DPO's M-step for type k:
    ``gamma[choices.user, k]``). Every record is checked as :func:`pluralign.loaders.load_preference_records`
    checks it (an empty or repeated response is a ``ValueError`` naming the record). Binary records keep
    trl's string ``rejected``; when any record is k-wise, ``rejected`` is a list in every record."""
    if not isinstance(choices, Choices):
        raise ValueError(f"choices: expected a pluralign.data.Choices, got {type(choices).__name__}")
    records = to_trl_records(choices, prompts, responses)
    load_preference_records(records)  # the package's one record validation
    w = _check_weights(choices.weight if weights is None else weights, len(records), "weights")
    kwise = any(not isinstance(r["rejected"], str) for r in records)
    for r, wi in zip(records, w):
        if kwise and isinstance(r["rejected"], str):
            r["rejected"] = [r["rejected"]]
        r[WEIGHT] = float(wi)
    return Dataset.from_list(records)


def choices_from_dataset(source, *, user: str = "user", weight: str | None = WEIGHT, duplicates: str = "keep"):
    """(choices, prompts, responses) from trl preference records, the inverse of :func:`preference_dataset`.

    ``source``: anything :func:`pluralign.loaders.load_preference_records` reads (a ``datasets.Dataset``, a
    list of dicts, a DataFrame or a file), read and validated by it. ``weight``: the column that becomes
    ``choices.weight`` (``None``: all ones; a record without it, or with a negative / NaN / inf weight, is a
    ``ValueError``); it needs ``duplicates`` "keep" or "error" (with "last" the dropped duplicates' weights
    would be ambiguous)."""
    if isinstance(source, (Dataset, Sequence)) and not isinstance(source, (str, bytes)):
        rows = source
    else:  # a table or a file: read once, here, so the weights and the records come from the same rows
        from pluralign.loaders import read_table

        rows = read_table(source, "records").to_dict(orient="records")
    choices, prompts, responses = load_preference_records(rows, user=user, duplicates=duplicates)
    if weight is None:
        return choices, prompts, responses
    if duplicates == "last":
        raise ValueError("duplicates: 'last' drops records, so their weights are ambiguous; use 'keep' or 'error'")
    if isinstance(rows, Dataset):
        if weight not in rows.column_names:
            raise ValueError(f"records: no {weight!r} column (columns: {rows.column_names}); pass weight=None for all ones")
        w = rows[weight]
    else:
        missing = [i for i, r in enumerate(rows) if weight not in r]
        if missing:
            raise ValueError(f"records[{missing[0]}]: no {weight!r} field; pass weight=None for all ones")
        w = [r[weight] for r in rows]
    w = _check_weights(w, len(choices), f"records column {weight!r}")
    return dataclasses.replace(choices, weight=w), prompts, responses


def with_weights(dataset: Dataset, weights) -> Dataset:
    """``dataset`` with its ``weight`` column set to ``weights`` (M,), checked finite and >= 0 (the M-step of
    each EM iteration: the same records, new responsibilities)."""
    w = _check_weights(weights, len(dataset), "weights")
    if WEIGHT in dataset.column_names:
        dataset = dataset.remove_columns(WEIGHT)
    return dataset.add_column(WEIGHT, w.tolist())


def with_reference_logps(dataset: Dataset, ref_chosen_logps, ref_rejected_logps) -> Dataset:
    """``dataset`` with trl's reference columns (``REF_COLUMNS``: summed completion log-probs under pi_SFT,
    one per record), which :class:`WeightedDPOTrainer` then uses instead of recomputing them."""
    cols = {}
    for name, v in zip(REF_COLUMNS, (ref_chosen_logps, ref_rejected_logps)):
        a = np.asarray(v.detach().cpu().double() if isinstance(v, torch.Tensor) else v, dtype=float)
        if a.shape != (len(dataset),) or not np.all(np.isfinite(a)) or np.any(a > 1e-6):
            raise ValueError(f"{name}: expected {len(dataset)} finite log-probabilities (<= 0), got shape {a.shape}")
        cols[name] = a.tolist()
    dataset = dataset.remove_columns([c for c in REF_COLUMNS if c in dataset.column_names])
    for name, v in cols.items():
        dataset = dataset.add_column(name, v)
    return dataset


def reference_logps(model, processing_class, dataset: Dataset, args: DPOConfig) -> tuple[np.ndarray, np.ndarray]:
    """pi_SFT's summed log-probs of each record's chosen and rejected completion, tokenised exactly as trl
    tokenises them (``model`` is the SFT model itself: a plain causal LM, not a ``PeftModel``; like every
    ``DPOTrainer``, this patches its ``forward`` with trl's fused LM head and calls ``set_seed``). Computed once,
    they go into the dataset with :func:`with_reference_logps` for every later M-step. ``args`` needs
    ``precompute_ref_log_probs=True`` (:func:`cpu_dpo_config` sets it)."""
    if is_peft_model(model):
        raise ValueError("model: pass the SFT model itself (a PeftModel's reference is its 'ref' adapter in trl)")
    if not args.precompute_ref_log_probs:
        raise ValueError("args: reference_logps needs precompute_ref_log_probs=True")
    cols = [c for c in dataset.column_names if c in REF_COLUMNS or c == WEIGHT]
    trainer = DPOTrainer(model=model, args=args, train_dataset=dataset.remove_columns(cols),
                         processing_class=processing_class)
    ds = trainer.train_dataset
    return np.asarray(ds[REF_COLUMNS[0]], dtype=float), np.asarray(ds[REF_COLUMNS[1]], dtype=float)


# --------------------------------------------------------------------------- vanilla DPO
def cpu_dpo_config(output_dir: str, *, beta: float = 0.1, learning_rate: float = 1e-6,
                   per_device_train_batch_size: int = 8, num_train_epochs: float = 1.0, max_steps: int = -1,
                   seed: int = 0, precompute_ref_log_probs: bool = True, max_length: int | None = 1024,
                   torch_threads: int | None = 1, **overrides: Any) -> DPOConfig:
    """A ``DPOConfig`` for a CPU run: fp32 (``bf16=False``, trl defaults to bf16), ``use_cpu=True``, no
    activation (gradient) checkpointing (trl's default is on; on a tiny CPU model it only costs time), ``report_to=[]``,
    no checkpoints, no progress bar, ``precompute_ref_log_probs=True`` (no reference model is reloaded: it
    works offline and for a config-built model). ``beta``, ``learning_rate`` (trl's defaults 0.1, 1e-6),
    batch size, epochs / steps, seed and ``max_length`` are trl's; ``overrides`` go to ``DPOConfig`` as they
    are. ``torch_threads`` (default 1) is applied process-wide with ``torch.set_num_threads`` (one thread per
    process: on a shared CPU two threads can make a pass 25x slower); ``None`` leaves it alone."""
    if torch_threads is not None:
        if int(torch_threads) < 1:
            raise ValueError(f"torch_threads: must be >= 1 or None, got {torch_threads}")
        torch.set_num_threads(int(torch_threads))
    kw = dict(bf16=False, fp16=False, use_cpu=True, activation_checkpointing=False, report_to=[],
              save_strategy="no", disable_tqdm=True, logging_steps=10, dataloader_num_workers=0)
    kw.update(overrides)
    return DPOConfig(output_dir, beta=beta, learning_rate=learning_rate,
                     per_device_train_batch_size=per_device_train_batch_size, num_train_epochs=num_train_epochs,
                     max_steps=max_steps, seed=seed, precompute_ref_log_probs=precompute_ref_log_probs,
                     max_length=max_length, **kw)


def _check_reference(model, ref_model, args: DPOConfig | None) -> None:
    """Refuse the setups in which trl 1.16 would build a wrong or unloadable reference (module docstring)."""
    if isinstance(model, str) or ref_model is not None:
        return
    precompute = args is not None and args.precompute_ref_log_probs
    if is_peft_model(model):
        if "default" not in model.peft_config:
            raise ValueError(f"model: trl trains the PEFT adapter named 'default'; this model has "
                             f"{sorted(model.peft_config)} (name the adapter to train 'default', or pass ref_model)")
        return
    if not precompute and not get_config_model_id(model.config):
        raise ValueError("ref_model: None makes trl reload the reference from model.config._name_or_path, which "
                         "is empty for a model built from a config; save it with save_pretrained and reload it, "
                         "pass ref_model=, or set precompute_ref_log_probs=True")


def _datasets(train_dataset, eval_dataset) -> list[tuple[str, Any]]:
    out = [("train_dataset", train_dataset)]
    if isinstance(eval_dataset, Mapping):
        out += [(f"eval_dataset[{k!r}]", d) for k, d in eval_dataset.items()]
    elif eval_dataset is not None:
        out.append(("eval_dataset", eval_dataset))
    return out


def _check_pairwise(name: str, ds) -> None:
    if isinstance(ds, Dataset) and "rejected" in ds.column_names:
        for i, r in enumerate(ds["rejected"]):
            if not isinstance(r, str):
                raise ValueError(f"{name}[{i}]: 'rejected' is a list (a k-wise record); trl trains pairs only, "
                                 "train k-wise M-steps with pluralign.dpo.weighted_kwise_dpo_loss")


def dpo_trainer(model, processing_class, train_dataset, args: DPOConfig, *, ref_model=None, eval_dataset=None,
                **kwargs: Any) -> DPOTrainer:
    """trl's own ``DPOTrainer`` (vanilla DPO), after the reference checks of the module docstring; a dataset
    with a ``weight`` column that is not all ones is refused (trl would ignore it: use
    :class:`WeightedDPOTrainer`)."""
    _check_reference(model, ref_model, args)
    for name, ds in _datasets(train_dataset, eval_dataset):
        _check_pairwise(name, ds)
        if isinstance(ds, Dataset) and WEIGHT in ds.column_names:
            w = _check_weights(ds[WEIGHT], len(ds), f"{name} column {WEIGHT!r}")
            if np.any(w != 1.0):
                raise ValueError(f"{name}: has a {WEIGHT!r} column that is not all 1, which trl's DPOTrainer "
                                 "ignores silently; use WeightedDPOTrainer")
    return DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=train_dataset,
                      eval_dataset=eval_dataset, processing_class=processing_class, **kwargs)


# --------------------------------------------------------------------------- the weighted trainer
@dataclasses.dataclass
class WeightCollator:
    """Wraps a preference collator (trl's ``DataCollatorForPreference`` by default): removes each example's
    ``weight``, collates the rest with ``collator`` and adds ``batch["weight"]``, a float32 (B,) tensor.
    An example without a weight, or with a negative / NaN / inf one, is a ``ValueError``."""

    collator: Any
    column: str = WEIGHT

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        weights, rest = [], []
        for i, ex in enumerate(examples):
            ex = dict(ex)
            w = ex.pop(self.column, None)
            if w is None or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ValueError(f"batch example {i}: {self.column!r} is {w!r} (needs a finite weight >= 0)")
            weights.append(float(w))
            rest.append(ex)
        batch = self.collator(rest)
        batch[self.column] = torch.tensor(weights, dtype=torch.float32)
        return batch


class _GeneratorPermutation(torch.utils.data.Sampler):
    """A fresh ``torch.randperm(n, generator=generator)`` every time it is iterated (once per epoch)."""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = int(n), generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


class WeightedDPOTrainer(DPOTrainer):
    """trl's ``DPOTrainer`` with a per-example ``weight`` column: the loss of a batch is
    :func:`pluralign.dpo.weighted_kwise_dpo_loss` (n = 2) with those weights, normalised by
    ``weight_normalize`` ("sum_weights": sum_i w_i l_i / sum_i w_i; "count": / B). Takes ``DPOTrainer``'s
    arguments; every dataset needs a ``weight`` column of finite weights >= 0 and pairwise records. With all
    weights 1 its loss and gradients are trl's (``tests/llm/test_trl.py``). See the module docstring for the
    override points and the reference (pi_SFT) setups.

    ``sft_reference`` (default True) matters only for a ``PeftModel`` passed without ``ref_model``: its
    reference is then the base model with the adapters disabled (pi_SFT, as EM-DPO's eq. 17 needs at every
    EM iteration), where trl would use a frozen copy of the adapter "default" as it is when training starts
    (which is pi_SFT only for a fresh adapter); trl's copy, named "ref", is removed again after ``__init__``.
    ``sft_reference=False`` keeps trl's behaviour.

    ``order_generator``: draw each epoch's order of the training examples with ``torch.randperm`` from this
    generator (override point 7); None: trl's sampler. An already tokenised dataset (``TOKEN_COLUMNS``) is
    used as given (override point 6)."""

    def __init__(self, model, ref_model=None, args: DPOConfig | None = None, data_collator=None,
                 train_dataset=None, eval_dataset=None, processing_class=None, *,
                 weight_normalize: str = "sum_weights", sft_reference: bool = True,
                 order_generator: torch.Generator | None = None, **kwargs: Any):
        if weight_normalize not in WEIGHT_NORMALIZE:
            raise ValueError(f"weight_normalize: expected one of {WEIGHT_NORMALIZE}, got {weight_normalize!r}")
        if args is not None:
            unsupported = {
                "loss_type": (list(args.loss_type), ["sigmoid"]),
                "f_divergence_type": (str(args.f_divergence_type), "reverse_kl"),
                "ld_alpha": (args.ld_alpha, None),
                "use_weighting": (args.use_weighting, False),
            }
            for field, (got, want) in unsupported.items():
                if got != want:
                    raise ValueError(f"args.{field}: WeightedDPOTrainer implements trl's standard DPO loss "
                                     f"({field}={want!r}), got {got!r}")
        _check_reference(model, ref_model, args)
        for name, ds in _datasets(train_dataset, eval_dataset):
            _check_pairwise(name, ds)
            if isinstance(ds, IterableDataset):
                continue  # checked batch by batch by the collator
            if ds is None or WEIGHT not in ds.column_names:
                cols = None if ds is None else ds.column_names
                raise ValueError(f"{name}: needs a {WEIGHT!r} column of per-example weights (columns: {cols})")
            _check_weights(ds[WEIGHT], len(ds), f"{name} column {WEIGHT!r}")
        self.weight_normalize = weight_normalize
        if order_generator is not None and not isinstance(order_generator, torch.Generator):
            raise ValueError(f"order_generator: expected a torch.Generator, got {type(order_generator).__name__}")
        self.order_generator = order_generator
        # read by compute_ref_log_probs, which trl's __init__ already calls (precompute_ref_log_probs=True)
        self.sft_reference = bool(sft_reference) and ref_model is None and is_peft_model(model)
        had_ref_adapter = is_peft_model(model) and "ref" in model.peft_config
        super().__init__(model=model, ref_model=ref_model, args=args, data_collator=data_collator,
                         train_dataset=train_dataset, eval_dataset=eval_dataset,
                         processing_class=processing_class, **kwargs)
        if self.aux_loss_enabled:
            raise ValueError("model: a Mixture-of-Experts auxiliary loss is not supported by WeightedDPOTrainer "
                             "(set router_aux_loss_coef=0)")
        if self.sft_reference and not had_ref_adapter and "ref" in self.model.peft_config:
            self.model.delete_adapter("ref")  # trl's frozen copy of "default": not pi_SFT, and unused here
        # override point 2: the collator adds the weights (trl's precompute above ran with trl's own collator,
        # which ignores the column)
        self.data_collator = WeightCollator(self.data_collator)

    # override point 1
    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if WEIGHT not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, WEIGHT]

    # override point 6
    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        if isinstance(dataset, Dataset) and all(c in dataset.column_names for c in TOKEN_COLUMNS):
            return dataset  # tokenised by the caller: trained exactly as given
        return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

    # override point 7
    def _get_train_sampler(self, train_dataset=None):
        if getattr(self, "order_generator", None) is None:
            return super()._get_train_sampler(train_dataset)
        ds = self.train_dataset if train_dataset is None else train_dataset
        return _GeneratorPermutation(len(ds), self.order_generator)

    # override point 4
    def _precompute_ref_logps(self, dataset, name, batch_size):
        if isinstance(dataset, Dataset) and all(c in dataset.column_names for c in REF_COLUMNS):
            for c in REF_COLUMNS:
                v = np.asarray(dataset[c], dtype=float)
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"{name} dataset: column {c!r} has NaN or inf")
            return dataset
        return super()._precompute_ref_logps(dataset, name, batch_size)

    # override point 5 (PEFT only)
    def compute_ref_log_probs(self, model, inputs):
        """trl's reference log-probs, except for a ``PeftModel`` with ``sft_reference=True``: the base model
        with every adapter disabled (pi_SFT), not trl's "ref" copy of the "default" adapter."""
        if getattr(self, "sft_reference", False):
            with torch.no_grad(), self.accelerator.unwrap_model(self.model).disable_adapter():
                return self.sequence_logps(self.model, inputs)
        return super().compute_ref_log_probs(model, inputs)

    def sequence_logps(self, model, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """The policy's log-probs of the chosen and the rejected completions of a collated batch, summed over
        the completion tokens: the fused forward ``DPOTrainer._compute_loss`` runs (ld_alpha = None)."""
        model_kwargs = {k: v for k, v in inputs.items() if k not in ("completion_mask", WEIGHT, *REF_COLUMNS)}
        model_kwargs["use_cache"] = False
        completion_mask = inputs["completion_mask"]
        labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
        outputs = model(**model_kwargs, labels=labels, fused_lm_head=True)
        seq_len = completion_mask.size(1) - 1
        logps = outputs.log_probs[:, -seq_len:].sum(dim=1)  # prompt-learning PEFT prepends virtual tokens
        chosen, rejected = logps.chunk(2, dim=0)  # the batch is [chosen, rejected]
        return chosen, rejected

    # override point 3
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The weighted DPO loss of a collated batch (class docstring). Reference log-probs in the batch
        (``REF_COLUMNS``, precomputed or given with the dataset) are used whenever present, also with
        ``precompute_ref_log_probs=False``; otherwise trl's ``compute_ref_log_probs`` computes them."""
        mode = "train" if self.model.training else "eval"
        if WEIGHT not in inputs:
            raise ValueError(f"inputs: the batch has no {WEIGHT!r} (collate with WeightCollator)")
        inputs = dict(inputs)
        weights = inputs.pop(WEIGHT)
        chosen, rejected = self.sequence_logps(model, inputs)
        if all(c in inputs for c in REF_COLUMNS):
            ref_chosen, ref_rejected = inputs[REF_COLUMNS[0]], inputs[REF_COLUMNS[1]]
        else:
            ref_chosen, ref_rejected = self.compute_ref_log_probs(self.ref_model if self.ref_model is not None
                                                                  else model, inputs)
        policy = torch.stack([chosen, rejected], dim=1)
        ref = torch.stack([ref_chosen, ref_rejected], dim=1).to(policy)
        loss = weighted_kwise_dpo_loss(policy, ref, self.beta, weights=weights, normalize=self.weight_normalize)
        loss = loss * self.loss_weights[0]

        with torch.no_grad():
            r_c = self.beta * (chosen - ref[:, 0]).detach()
            r_r = self.beta * (rejected - ref[:, 1]).detach()
            gather = self.accelerator.gather
            m = self._metrics[mode]
            m["rewards/chosen"].append(gather(r_c).mean().item())
            m["rewards/rejected"].append(gather(r_r).mean().item())
            m["rewards/accuracies"].append(gather((r_c > r_r).float()).mean().item())
            m["rewards/margins"].append(gather(r_c - r_r).mean().item())
            m["logps/chosen"].append(gather(chosen.detach()).mean().item())
            m["logps/rejected"].append(gather(rejected.detach()).mean().item())
            m["weights/mean"].append(gather(weights.detach()).mean().item())
        if return_outputs:  # trl's deprecated eval path: logits from an extra forward, as DPOTrainer does
            with torch.no_grad():
                kw = {k: v for k, v in inputs.items() if k not in ("completion_mask", *REF_COLUMNS)}
                return loss, model(**kw, use_cache=False)
        return loss


# --------------------------------------------------------------------------- EM-DPO's M-step through trl
def adapter_dataset(policies) -> Dataset:
    """The training records of an :class:`pluralign.llm.AdapterPolicies` as a tokenised trl dataset: one row
    per record with ``TOKEN_COLUMNS`` from the policies' own encodings (the sequences the E-step scores),
    ``REF_COLUMNS`` = pi_SFT's log-probs from the policies' cache (scored once per policies object, never
    again here) and ``weight`` = the records' weights. A record with more than two options is a ``ValueError``
    (trl's trainer takes binary feedback only). Build it once per fit; :func:`with_weights` sets each M-step's
    responsibilities."""
    ch = policies.data.choices
    n_real = ch.mask.sum(axis=1)
    bad = np.flatnonzero(n_real != 2)
    if bad.size:
        m = int(bad[0])
        raise ValueError(f"records: trainer 'trl' takes binary feedback only (one chosen and one rejected "
                         f"completion per record, trl's format); record {m} has {int(n_real[m])} options "
                         f"({bad.size} such record(s)); use trainer 'pluralign' for k-wise (ternary) feedback")
    rows = np.arange(len(ch.chosen))
    other = np.where(ch.mask, np.arange(ch.mask.shape[1])[None, :], -1)
    other[rows, ch.chosen] = -1
    rejected = other.max(axis=1)  # the one real option that is not the chosen one
    pc, pr = policies.index[rows, ch.chosen], policies.index[rows, rejected]
    ref = policies.ref_logprobs().double().numpy()
    cols: dict[str, list] = {c: [] for c in TOKEN_COLUMNS}
    for a, b in zip(pc.tolist(), pr.tolist()):
        (ids_c, n_c), (ids_r, n_r) = policies.encoded[a], policies.encoded[b]
        if n_c != n_r or ids_c[:n_c] != ids_r[:n_r]:  # pragma: no cover - one record, one prompt
            raise ValueError("records: a record's chosen and rejected completions have different prompts")
        cols["prompt_ids"].append(list(ids_c[:n_c]))
        cols["chosen_ids"].append(list(ids_c[n_c:]))
        cols["rejected_ids"].append(list(ids_r[n_r:]))
    cols[REF_COLUMNS[0]], cols[REF_COLUMNS[1]] = ref[pc].tolist(), ref[pr].tolist()
    cols[WEIGHT] = _check_weights(ch.weight, len(rows), "records' weights").tolist()
    return Dataset.from_dict(cols)


def train_weighted_dpo_trl(policies, k: int, weights, s, generator: torch.Generator,
                           dataset: Dataset | None = None) -> dict:
    """:func:`pluralign.llm.train_weighted_dpo` (``s.epochs`` passes of weighted DPO on adapter k, in place)
    run by :class:`WeightedDPOTrainer` (module docstring, "EM-DPO's M-step in trl's loop"): the same
    objective sum_i w_i l_i / B (``weight_normalize="count"``, records of weight 0 left out), optimizer,
    warmup, batch size, clip and minibatch order (drawn from ``generator``). ``dataset``: the policies'
    :func:`adapter_dataset`, built once per fit (None: built here). Returns {"steps", "mean_loss"}."""
    import tempfile

    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from pluralign.llm.emdpo import dpo_optimizer, kept_records

    if s.trainer != "trl":
        raise ValueError(f"s: train_weighted_dpo_trl runs trainer 'trl', got DPOSettings(trainer={s.trainer!r})")
    data = adapter_dataset(policies) if dataset is None else dataset
    if len(data) != len(policies.data.choices.chosen):
        raise ValueError(f"dataset: {len(data)} records, the policies have {len(policies.data.choices.chosen)}")
    w, keep = kept_records(policies, weights)
    if keep.numel() == 0:
        return {"steps": 0, "mean_loss": float("nan")}
    ds = with_weights(data.select(keep.tolist()), w[keep].double().numpy())
    policies.use(k)
    params = list(policies.adapter_params(k).values())
    for p in policies.model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt, sched, _ = dpo_optimizer(params, s)
    base = policies.model.get_base_model()  # its LoRA layers run adapter k; the rest is the frozen pi_SFT
    forward, training = base.__dict__.get("forward"), base.training
    try:
        with tempfile.TemporaryDirectory(prefix="pluralign_trl_") as tmp:
            args = cpu_dpo_config(tmp, beta=s.beta, learning_rate=s.lr, per_device_train_batch_size=s.batch_size,
                                  num_train_epochs=float(s.epochs), max_grad_norm=s.max_grad_norm,
                                  max_length=policies.scorer.max_length, torch_threads=None,
                                  use_cpu=policies.device.type == "cpu", logging_strategy="no",
                                  lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0)
            trainer = WeightedDPOTrainer(model=base, args=args, train_dataset=ds,
                                         processing_class=policies.scorer.tok, weight_normalize="count",
                                         optimizers=(opt, sched), order_generator=generator)
            for cb in (PrinterCallback, ProgressCallback):
                trainer.remove_callback(cb)
            out = trainer.train()
    finally:  # undo trl's patches of the shared base: its fused-head forward and train mode
        if forward is None:
            base.__dict__.pop("forward", None)
        else:
            base.forward = forward
        base.train(training)
        for p in params:
            p.requires_grad_(False)
    return {"steps": int(out.global_step), "mean_loss": float(out.training_loss)}
