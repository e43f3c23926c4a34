"""The MPI personality testbed of seed 001 sec. 5 (Table 1), as an exact tabular testbed.

Items come from the Machine Personality Inventory (Jiang et al., NeurIPS 2023; IPIP items), read at run
time from ``$PLURALIGN_MPI_DIR`` (default: ``mpi`` under the data root of :mod:`pluralign.datasets`): ``mpi_120.csv`` (120 items, 24 per
OCEAN trait) or ``mpi_1k.csv`` de-duplicated.  Conventions:

* psi(x, y) = key(y) * one-hot(trait(y)) in the order (O, C, E, A, N): a positively keyed
  Extraversion item has psi = (0, 0, 1, 0, 0), a reverse-keyed one (0, 0, -1, 0, 0);
* personalities P1 = (3, 0, 2, 0, -2.5), P2 = -P1, P3 = (0, 2, 0, 2, 0), probabilities .3 / .3 / .4,
  rewards r_k(x, y) = P_k . psi(x, y) (seed 001 sec. 5);
* 50 prompts = 50 distinct deterministic paraphrases of the instruction (template products); in the
  tabular testbed they are prompt identities, each with the whole item list as its response set.

``mpi_1k.csv`` quirks (see SOURCE.txt there) are handled explicitly: the row with key 0 is dropped;
texts that occur more than once (after whitespace / case normalisation) are kept once when every copy has
the same (trait, key) and dropped entirely when the copies conflict.
"""

from __future__ import annotations

import csv
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pluralign.datasets import dataset_dir, dataset_env_var

from pluralign.emdpo.tabular import TabularTestbed
from pluralign.seeding import as_generator

__all__ = ["TRAITS", "PERSONALITIES", "PERSONALITY_PROBS", "MPIItems", "load_mpi_items", "paraphrase_prompts",
           "mpi_testbed", "default_mpi_dir"]

TRAITS = ("O", "C", "E", "A", "N")
PERSONALITIES = np.array([[3.0, 0.0, 2.0, 0.0, -2.5], [-3.0, 0.0, -2.0, 0.0, 2.5], [0.0, 2.0, 0.0, 2.0, 0.0]])
PERSONALITY_PROBS = np.array([0.3, 0.3, 0.4])
ENV_VAR = dataset_env_var("mpi")  # PLURALIGN_MPI_DIR


def default_mpi_dir() -> Path:
    """``$PLURALIGN_MPI_DIR``, else ``mpi`` under the data root (:func:`pluralign.datasets.dataset_dir`)."""
    return dataset_dir("mpi")


@dataclass
class MPIItems:
    """De-duplicated MPI items and what was dropped on the way."""

    texts: list[str]
    """item phrases"""
    traits: np.ndarray
    """(Y,) trait index into TRAITS"""
    keys: np.ndarray
    """(Y,) +1 / -1"""
    source: str
    """file read"""
    dropped: dict = field(default_factory=dict)
    """counts of rows dropped per reason"""

    @property
    def psi(self) -> np.ndarray:
        """(Y, 5) trait-score vectors key * one-hot(trait)."""
        out = np.zeros((len(self.texts), len(TRAITS)))
        out[np.arange(len(self.texts)), self.traits] = self.keys
        return out


def load_mpi_items(inventory: str = "120", data_dir: str | os.PathLike | None = None) -> MPIItems:
    """Read ``mpi_120.csv`` (inventory "120") or ``mpi_1k.csv`` (inventory "1k", de-duplicated)."""
    if inventory not in ("120", "1k"):
        raise ValueError(f"inventory: expected '120' or '1k', got {inventory!r}")
    d = Path(data_dir) if data_dir is not None else default_mpi_dir()
    path = d / f"mpi_{inventory}.csv"
    if not path.is_file():
        raise ValueError(f"data_dir: MPI file not found at {path} (set --data-dir or ${ENV_VAR})")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"text", "label_ocean", "key"}
    if not rows or not need <= set(rows[0]):
        raise ValueError(f"data_dir: {path} lacks columns {sorted(need)}")
    dropped = {"key_not_pm1": 0, "unknown_trait": 0, "duplicate_consistent": 0, "duplicate_conflicting_texts": 0}
    groups: dict[str, list[tuple[int, int, str]]] = {}
    order: list[str] = []
    for r in rows:
        key = int(float(r["key"]))
        if key not in (1, -1):
            dropped["key_not_pm1"] += 1
            continue
        trait = r["label_ocean"].strip().upper()
        if trait not in TRAITS:
            dropped["unknown_trait"] += 1
            continue
        text = " ".join(r["text"].split())
        norm = text.lower()
        if norm not in groups:
            groups[norm] = []
            order.append(norm)
        groups[norm].append((TRAITS.index(trait), key, text))
    texts, traits, keys = [], [], []
    for norm in order:
        g = groups[norm]
        if len({(t, k) for t, k, _ in g}) > 1:
            dropped["duplicate_conflicting_texts"] += 1
            continue
        dropped["duplicate_consistent"] += len(g) - 1
        t, k, text = g[0]
        texts.append(text)
        traits.append(t)
        keys.append(k)
    return MPIItems(texts, np.array(traits), np.array(keys), str(path), dropped)


_OPENERS = ["Describe", "Tell me about", "Share", "Write a sentence about", "Explain", "State briefly",
            "Give a short account of", "Say something about", "In one phrase, describe", "Tell us"]
_OBJECTS = ["your personality", "what kind of person you are", "your character", "yourself",
            "how you usually behave"]


def paraphrase_prompts(n: int = 50) -> list[str]:
    """``n`` distinct deterministic paraphrases of the instruction (opener x object templates)."""
    pool = [f"{a} {b}." for a, b in itertools.product(_OPENERS, _OBJECTS)]
    if not 1 <= int(n) <= len(pool):
        raise ValueError(f"n: expected 1..{len(pool)} prompts, got {n}")
    return pool[: int(n)]


def mpi_testbed(items: MPIItems, n_prompts: int = 50, beta: float = 0.1, ref_scale: float = 0.5,
                seed: int = 0) -> TabularTestbed:
    """Tabular MPI testbed: every prompt offers every item; psi(x, y) = psi(y); a random reference
    policy log pi_ref(. | x) = log_softmax(ref_scale * N(0, 1)) per prompt (seeded)."""
    prompts = paraphrase_prompts(n_prompts)
    X, Y = len(prompts), len(items.texts)
    psi = np.broadcast_to(items.psi[None], (X, Y, len(TRAITS))).copy()
    rng = as_generator(seed)
    log_ref = float(ref_scale) * rng.standard_normal((X, Y))
    tb = TabularTestbed(psi, log_ref, PERSONALITIES, PERSONALITY_PROBS, beta=beta, type_names=["P1", "P2", "P3"])
    tb.prompts = prompts
    tb.items = items
    return tb
