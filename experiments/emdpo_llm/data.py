"""Data of the language-model EM-DPO study: the MPI personality preferences of seed 001 sec. 5 / Table 1
as text records, drawn exactly as the tabular twin (:mod:`pluralign.sims.mpi`) draws them.

The twin's testbed (:func:`pluralign.emdpo.mpi_testbed`: the 120 MPI items, the 50 paraphrased prompts of
:func:`pluralign.emdpo.paraphrase_prompts`, personalities P1 = (3, 0, 2, 0, -2.5), P2 = -P1,
P3 = (0, 2, 0, 2, 0) with probabilities .3 / .3 / .4) samples the users: replicate r of base seed s with
n options is ``tb.sample(n_users, n, derive(s, r, "sample", n))`` — the same users, prompts, items and
choices as the twin's cell (n, s, r).  Here a record's prompt id is a paraphrase string and its options
are item phrases, scored by the language model.

Evaluation (:class:`EvalSet`): the first ``n_eval_prompts`` paraphrases x every item (the twin's metrics
on all item pairs strictly ranked by r_k, computed on this table) and held-out users drawn from the same
population (Bradley-Terry pairs on those prompts: the paper's per-group evaluation sets D_k').
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralign.data import Choices
from pluralign.emdpo import TabularTestbed, load_mpi_items, mpi_testbed
from pluralign.emdpo.tabular import SampledChoices
from pluralign.llm.scoring import TextChoices
from pluralign.seeding import derive, derive_int

__all__ = ["MPIText", "EvalSet", "mpi_text", "sft_texts", "full_table_records"]


@dataclass
class MPIText:
    """The MPI testbed of a run and the texts its language model is built on."""

    testbed: TabularTestbed
    """The twin's testbed (rewards, prompts, items; its random reference policy is not used here)."""
    prompts: list[str]
    """The paraphrased prompts."""
    responses: list[str]
    """The MPI item phrases."""
    items: object
    """The :class:`pluralign.emdpo.mpi.MPIItems` read."""

    def records(self, sample: SampledChoices) -> TextChoices:
        return TextChoices(sample.choices, self.prompts, self.responses)


def mpi_text(inventory: str, data_dir, n_prompts: int, beta: float, ref_scale: float, seed: int) -> MPIText:
    """The twin's MPI testbed of base ``seed`` (``derive_int(seed, "testbed")``, as :mod:`pluralign.sims.mpi`)."""
    items = load_mpi_items(inventory, data_dir)
    tb = mpi_testbed(items, n_prompts=n_prompts, beta=beta, ref_scale=ref_scale, seed=derive_int(seed, "testbed"))
    return MPIText(tb, list(tb.prompts), list(items.texts), items)


def sft_texts(prompts, responses) -> list[str]:
    """pi_SFT's training texts: every prompt followed by every candidate response (one space between)."""
    return [f"{p.rstrip()} {r}" for p in prompts for r in responses]


def full_table_records(n_prompts: int, n_responses: int, prompts, responses) -> TextChoices:
    """Records whose distinct pairs are every (prompt < n_prompts, response): one per pair, options
    (y, y + 1 mod Y); their :meth:`TextChoices.pairs` come out in (prompt, response) order."""
    X, Y = int(n_prompts), int(n_responses)
    x = np.repeat(np.arange(X), Y)
    y = np.tile(np.arange(Y), X)
    ch = Choices(user=np.zeros(X * Y, dtype=int), context=x, options=np.stack([y, (y + 1) % Y], axis=1),
                 chosen=np.zeros(X * Y, dtype=int))
    return TextChoices(ch, list(prompts), list(responses))


@dataclass
class EvalSet:
    """Held-out evaluation data of one replicate."""

    table: TextChoices
    """Every (eval prompt, item) pair."""
    heldout: SampledChoices
    """Held-out users (one Bradley-Terry pair each, prompts among the eval prompts)."""
    testbed: TabularTestbed
    """The twin's testbed restricted to the eval prompts (for the rewards)."""


def eval_set(mpi: MPIText, n_eval_prompts: int, n_heldout: int, seed: int, rep: int) -> EvalSet:
    """The eval table and ``n_heldout`` held-out users drawn with ``derive(seed, rep, "heldout")``."""
    tb = mpi.testbed
    X = int(n_eval_prompts)
    if not 1 <= X <= tb.n_prompts:
        raise ValueError(f"n_eval_prompts: expected 1..{tb.n_prompts}, got {n_eval_prompts}")
    sub = TabularTestbed(tb.psi[:X], tb.log_ref[:X], tb.betas, tb.type_probs, beta=tb.beta, type_names=tb.type_names)
    held = sub.sample(int(n_heldout), 2, derive(seed, rep, "heldout"))
    return EvalSet(full_table_records(X, tb.n_responses, mpi.prompts, mpi.responses), held, sub)
