"""The data of the PAL persona experiment (seed 002, App. D.4): statements, personas, users, answers.

Data: the Anthropic persona statements (Perez et al. 2022; ``anthropic-persona/*.jsonl``, one file per
behaviour dimension, here 6 "interest-in-X" files of 1000 statements, each with
``answer_matching_behavior`` " Yes" / " No"). Read at run time from ``data_dir`` (default
``$PLURALIGN_ANTHROPIC_PERSONA_DIR`` or ``anthropic-persona`` under the data root of :mod:`pluralign.datasets`).

Users and answers (our precise reading of the seed's construction):

* a persona is a binary vector v in {0, 1}^6 — the subset of behaviour dimensions it has; K* distinct
  personas are drawn uniformly from the 2^6 subsets;
* every user has one of the K* personas (balanced groups);
* asked "Is the following statement something you would say?" about statement s of dimension j, a user
  with persona v answers ``answer_matching_behavior(s)`` if v_j = 1 and ``answer_not_matching_behavior(s)``
  if v_j = 0 (noiselessly). Each file has 500 statements of each answer, so the Yes share is ~1/2 for
  every persona; the measured balance is reported.

A query is a binary choice between the options Yes and No with the statement as context; answering Yes
to s is the option feature +e(s) and No is -e(s) (saying No is saying the opposite), e a frozen PCA of
the MiniLM embedding (``pca_dim``, fit on training statements only). Statements are split 80/20 into
train and test statements, so held-out accuracy is on statements never seen in training.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pluralign.data import Choices
from pluralign.datasets import dataset_dir
from pluralign.seeding import derive

__all__ = ["PersonaData", "PersonaConfig", "default_data_dir", "load_persona", "make_population", "split_by_statement"]


def default_data_dir() -> Path:
    """``$PLURALIGN_ANTHROPIC_PERSONA_DIR``, else ``anthropic-persona`` under the data root
    (:func:`pluralign.datasets.dataset_dir`)."""
    return dataset_dir("anthropic-persona")


@dataclass
class PersonaData:
    """The persona statements of the behaviour dimensions read."""

    statements: list[str]
    """S statements."""
    dim: np.ndarray
    """(S,) behaviour dimension index of each statement."""
    matching_yes: np.ndarray
    """(S,) 1 if the statement's answer_matching_behavior is Yes."""
    dim_names: list[str]
    """Name of each dimension (the file's stem)."""


def load_persona(data_dir: str | os.PathLike | None = None, files: list[str] | None = None) -> PersonaData:
    """Read the persona ``*.jsonl`` files (sorted by name) from ``data_dir``; ValueError if missing."""
    d = Path(data_dir) if data_dir is not None else default_data_dir()
    if not d.is_dir():
        raise ValueError(f"data_dir: persona data folder not found: {d} (pass --data-dir or set PLURALIGN_ANTHROPIC_PERSONA_DIR)")
    paths = sorted(d.glob("*.jsonl")) if files is None else [d / f for f in files]
    if not paths:
        raise ValueError(f"data_dir: no *.jsonl files in {d}")
    statements, dims, yes, names = [], [], [], []
    for j, p in enumerate(paths):
        if not p.exists():
            raise ValueError(f"data_dir: missing file {p}")
        names.append(p.stem)
        for ln, line in enumerate(p.read_text().splitlines()):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                ans = rec["answer_matching_behavior"].strip()
                st = rec["statement"]
            except (json.JSONDecodeError, KeyError) as exc:
                raise ValueError(f"data_dir: {p.name} line {ln + 1} is not a persona record ({exc})") from None
            if ans not in ("Yes", "No"):
                raise ValueError(f"data_dir: {p.name} line {ln + 1}: answer_matching_behavior {ans!r} not Yes/No")
            statements.append(st)
            dims.append(j)
            yes.append(ans == "Yes")
    return PersonaData(statements, np.asarray(dims), np.asarray(yes, dtype=int), names)


@dataclass
class PersonaConfig:
    """One persona population and its data sizes."""

    n_personas_true: int = 4
    """K*, distinct personas (subsets of the behaviour dimensions)."""
    n_seen: int = 60
    """Seen users."""
    n_unseen: int = 30
    """Unseen (few-shot) users."""
    n_train: int = 100
    """Training queries per seen user."""
    n_test: int = 50
    """Held-out queries per user (test statements)."""
    n_pool: int = 60
    """Few-shot candidate queries per unseen user."""
    test_frac: float = 0.2
    """Share of statements held out as test statements."""
    pca_dim: int = 32
    """Frozen PCA of the MiniLM embeddings (fit on training statements, scaled by the top component's
    standard deviation) to this many dimensions; 0 = the raw 384."""


def make_population(data: PersonaData, emb: np.ndarray, cfg: PersonaConfig, seed: int, replicate: int = 0) -> dict:
    """Personas, users and their Yes/No choice records (see the module doc), for PAL-A and PAL-B: replicate
    ``replicate`` of base ``seed``, drawn from ``derive(seed, replicate, "population", K*)``."""
    J = int(data.dim.max()) + 1
    if not 1 <= cfg.n_personas_true <= 2**J:
        raise ValueError(f"n_personas_true: must lie in 1..{2**J}")
    rng = derive(seed, replicate, "population", cfg.n_personas_true)
    codes = rng.choice(2**J, size=cfg.n_personas_true, replace=False)
    personas = ((codes[:, None] >> np.arange(J)) & 1).astype(int)  # (K*, J)
    S = len(data.statements)
    perm = rng.permutation(S)
    n_test_st = int(round(cfg.test_frac * S))
    test_st, train_st = perm[:n_test_st], perm[n_test_st:]
    if cfg.pca_dim:
        from sklearn.decomposition import PCA

        pca = PCA(cfg.pca_dim, random_state=0).fit(emb[train_st])
        emb = pca.transform(emb) / np.sqrt(pca.explained_variance_[0])

    def groups(n):
        return rng.permutation(np.arange(n) % cfg.n_personas_true)

    g_seen, g_unseen = groups(cfg.n_seen), groups(cfg.n_unseen)

    def records(group, per_user, pool):
        users = np.repeat(np.arange(len(group)), per_user)
        st = np.concatenate([rng.choice(pool, size=per_user, replace=False) for _ in group])
        says_yes = np.where(personas[group[users], data.dim[st]] == 1, data.matching_yes[st], 1 - data.matching_yes[st])
        sign = np.array([1.0, -1.0])  # option 0 = Yes, option 1 = No
        feats = sign[None, :, None] * emb[st][:, None, :]  # Yes = +e(s), No = -e(s)
        chosen = 1 - says_yes
        ch = Choices(user=users, context=st, chosen=chosen, n_users=len(group), features=feats)
        return {"A": ch, "B": ch, "yes_share": float(says_yes.mean())}

    return {"personas": personas, "context_features": emb, "g_seen": g_seen, "g_unseen": g_unseen,
            "train": records(g_seen, cfg.n_train, train_st), "test": records(g_seen, cfg.n_test, test_st),
            "pool": records(g_unseen, cfg.n_pool, train_st), "unseen_test": records(g_unseen, cfg.n_test, test_st)}


def split_by_statement(choices: Choices, frac: float, seed: int) -> tuple[Choices, Choices]:
    """(fit, validation) records of ``choices``: the validation part holds every record whose statement
    (``choices.context``) falls in a random ``frac`` of its distinct statements (held-out statements,
    as the test split), drawn from ``derive(seed, "validation_split")``."""
    if not 0 < frac < 1:
        raise ValueError(f"frac: must lie in (0, 1), got {frac}")
    st = np.unique(choices.context)
    val_st = derive(seed, "validation_split").choice(st, size=max(1, int(round(frac * len(st)))), replace=False)
    is_val = np.isin(choices.context, val_st)
    return (choices.subset(np.flatnonzero(~is_val), reindex_users=False),
            choices.subset(np.flatnonzero(is_val), reindex_users=False))
