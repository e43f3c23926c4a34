"""The data of the PAL persona experiment (seed 002, App. D.4): statements, Table 7's personas, users, answers.

Data: the Anthropic persona statements (Perez et al. 2022; ``anthropic-persona/*.jsonl``, one file per
persona, here the six "interest-in-X" files of 1000 statements: 500 that agree with the persona,
``answer_matching_behavior`` " Yes", and 500 that do not). Read at run time from ``data_dir`` (default
``$PLURALIGN_ANTHROPIC_PERSONA_DIR`` or ``anthropic-persona`` under the data root of :mod:`pluralign.datasets`).

Users and answers, as App. D.4 prints them:

* the personas of a population with K* "true" groups are Table 7's row for K* (:data:`TABLE7_PERSONAS`);
* S(rho) is the set of statements that agree with persona rho ("each corresponding with 500 statements
  that agree with the persona and 500 statements that do not. We denote the set of statements that
  agrees with a persona rho as S(rho)");
* "For each rho_j in rho, we generate N synthetic seen and unseen users" (``n_per_group``), and "If the
  statement aligns with the persona rho_j of the user, i.e. the statement belongs to S(rho_j), then the
  user answers yes, otherwise no" (:func:`answers_yes`, membership by statement text);
* the statements asked are those of the K* personas' files (:data:`DEVIATIONS`).

A query is a binary choice between the options Yes and No with the statement as context; answering Yes
to s is the option feature +e(s) and No is -e(s) (saying No is saying the opposite), e the frozen MiniLM
embedding (optionally a frozen PCA of it, ``pca_dim``, fit on training statements only). Statements are
split into train and test statements (``test_frac``), so held-out accuracy is on statements never seen in
training. A population is stored compactly (statement indices and answers, :class:`Queries`); option
features are built from the embedding table when a fit needs them (:func:`to_choices`).
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

__all__ = ["DEVIATIONS", "TABLE7_PERSONAS", "PersonaData", "PersonaConfig", "Queries", "answers_yes",
           "default_data_dir", "load_persona", "make_population", "to_choices", "first_queries",
           "split_by_statement"]

TABLE7_PERSONAS: dict[int, tuple[str, ...]] = {
    2: ("interest in art", "interest in literature"),
    3: ("interest in art", "interest in literature", "interest in math"),
    4: ("interest in art", "interest in literature", "interest in math", "interest in music"),
    5: ("interest in art", "interest in literature", "interest in math", "interest in music", "interest in science"),
    6: ("interest in art", "interest in literature", "interest in math", "interest in music", "interest in science",
        "interest in sports"),
}
"""Seed 002, App. D.4, Table 7 ("Personas used across various 'true' number of user groups K*"), as printed.
The persona "interest in X" is the file ``interest-in-X.jsonl``."""

DEVIATIONS = {
    "statements asked": "App. D.4 says a query asks about 'a given statement from the persona dataset'; we ask "
                        "about the statements of the K* personas' own files (500 agreeing + 500 not, each).",
    "query embedding": "not printed; option Yes = +e(s), No = -e(s) with e the frozen MiniLM embedding "
                       "(the packaged all-MiniLM-L6-v2, 384 dims; the paper's embedding has 768).",
    "held-out queries": "not printed; seen users' held-out queries are on held-out statements (test_frac of "
                        "the statements), n_test per user; unseen users localize on training statements and "
                        "are scored on held-out statements.",
}
"""Where the data construction departs from, or fills in, what App. D.4 prints (the study adds its own)."""


def persona_file(name: str) -> str:
    """The file stem of a Table 7 persona: 'interest in art' -> 'interest-in-art'."""
    return name.replace(" ", "-")


def default_data_dir() -> Path:
    """``$PLURALIGN_ANTHROPIC_PERSONA_DIR``, else ``anthropic-persona`` under the data root
    (:func:`pluralign.datasets.dataset_dir`)."""
    return dataset_dir("anthropic-persona")


@dataclass
class PersonaData:
    """The persona statements of the files read."""

    statements: list[str]
    """S statements."""
    dim: np.ndarray
    """(S,) index of the persona file each statement comes from."""
    matching_yes: np.ndarray
    """(S,) 1 if the statement agrees with its file's persona (answer_matching_behavior Yes)."""
    dim_names: list[str]
    """Name of each file (its stem, e.g. 'interest-in-art')."""


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
            except (json.JSONDecodeError, KeyError, AttributeError) as exc:
                raise ValueError(f"data_dir: {p.name} line {ln + 1} is not a persona record ({exc})") from None
            if ans not in ("Yes", "No"):
                raise ValueError(f"data_dir: {p.name} line {ln + 1}: answer_matching_behavior {ans!r} not Yes/No")
            statements.append(st)
            dims.append(j)
            yes.append(ans == "Yes")
    return PersonaData(statements, np.asarray(dims), np.asarray(yes, dtype=int), names)


def persona_dims(data: PersonaData, K_true: int) -> np.ndarray:
    """Indices (into ``data.dim_names``) of Table 7's personas for K*; ValueError naming a missing file."""
    if K_true not in TABLE7_PERSONAS:
        raise ValueError(f"n_personas_true: Table 7 lists K* in {sorted(TABLE7_PERSONAS)}, got {K_true}")
    out = []
    for name in TABLE7_PERSONAS[K_true]:
        stem = persona_file(name)
        if stem not in data.dim_names:
            raise ValueError(f"data_dir: Table 7's persona {name!r} needs {stem}.jsonl, not among {data.dim_names}")
        out.append(data.dim_names.index(stem))
    return np.asarray(out)


def answers_yes(data: PersonaData, personas: np.ndarray, statements: np.ndarray) -> np.ndarray:
    """(len(personas), len(statements)) bool: a user of persona ``personas[j]`` (an index into
    ``data.dim_names``) says yes to statement s iff s is in S(rho_j), the statements that agree with the
    persona (App. D.4). Membership is by statement text, so a text that agrees with two personas is in both."""
    agree: dict[str, set[int]] = {}
    for t, j, y in zip(data.statements, data.dim, data.matching_yes):
        if y:
            agree.setdefault(t, set()).add(int(j))
    return np.array([[int(p) in agree.get(data.statements[s], ()) for s in statements] for p in personas], dtype=bool)


@dataclass
class PersonaConfig:
    """One persona population and its data sizes (App. D.4)."""

    n_personas_true: int = 4
    """K*, the number of Table 7 personas (true groups)."""
    n_per_group: int = 10_000
    """N, seen users per persona, and as many unseen users per persona (App. D.4: N = 10,000)."""
    n_train: int = 1000
    """n_p, training queries per seen user (App. D.4: n_p = 1000; panel (b) takes prefixes of these)."""
    n_test: int = 100
    """Held-out queries per user, on test statements (not printed)."""
    n_pool: int = 1000
    """Few-shot candidate queries per unseen user (training statements): the largest n_p,unseen."""
    test_frac: float = 0.2
    """Share of statements held out as test statements (not printed)."""
    pca_dim: int = 0
    """Frozen PCA of the MiniLM embeddings (fit on training statements) to this many dimensions; 0 = the
    raw 384 (App. D.4 uses the raw embedding: PAL-A's latent is the embedding dimension)."""

    def validate(self) -> "PersonaConfig":
        for name in ("n_per_group", "n_train", "n_test", "n_pool"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"population.{name}: must be >= 1, got {getattr(self, name)}")
        if not 0 < self.test_frac < 1:
            raise ValueError(f"population.test_frac: must lie in (0, 1), got {self.test_frac}")
        if self.pca_dim < 0:
            raise ValueError(f"population.pca_dim: must be >= 0, got {self.pca_dim}")
        if self.n_personas_true not in TABLE7_PERSONAS:
            raise ValueError(f"population.n_personas_true: Table 7 lists K* in {sorted(TABLE7_PERSONAS)}, "
                             f"got {self.n_personas_true}")
        return self


@dataclass
class Queries:
    """Yes/No queries of a set of users, compactly: record r is user ``user[r]`` asked statement
    ``statement[r]``, answering yes iff ``yes[r]``; each user's records are contiguous, in the order drawn."""

    user: np.ndarray
    statement: np.ndarray
    yes: np.ndarray
    n_users: int

    def subset(self, idx: np.ndarray) -> "Queries":
        return Queries(self.user[idx], self.statement[idx], self.yes[idx], self.n_users)


def first_queries(q: Queries, n: int) -> Queries:
    """Each user's first ``n`` queries (the draws are nested: a smaller n_p is a prefix of a larger)."""
    rank = np.arange(len(q.user)) - np.searchsorted(q.user, q.user)  # position within the user's block
    return q.subset(np.flatnonzero(rank < n))


def to_choices(q: Queries, emb: np.ndarray) -> Choices:
    """The queries as pairwise choices for PAL: option 0 = Yes (+e(s)), option 1 = No (-e(s)), the
    statement index as the context (PAL-B's x_c = e(s))."""
    e = np.asarray(emb, dtype=np.float32)[q.statement]
    feats = np.stack([e, -e], axis=1)
    return Choices(user=q.user, context=q.statement, chosen=(~q.yes).astype(int), n_users=q.n_users, features=feats)


def make_population(data: PersonaData, emb: np.ndarray, cfg: PersonaConfig, seed: int, replicate: int = 0) -> dict:
    """Table 7's personas for K* = ``cfg.n_personas_true``, N seen and N unseen users per persona and their
    Yes/No queries (see the module doc): replicate ``replicate`` of base ``seed``, drawn from
    ``derive(seed, replicate, "population", K*)``. Returns the personas, the (possibly PCA'd) embedding
    table ``context_features``, each user's persona, and the compact :class:`Queries` ``train`` / ``test``
    (seen users) and ``pool`` / ``unseen_test`` (unseen users), with their Yes shares."""
    cfg.validate()
    dims = persona_dims(data, cfg.n_personas_true)
    rng = derive(seed, replicate, "population", cfg.n_personas_true)
    asked = np.flatnonzero(np.isin(data.dim, dims))
    perm = rng.permutation(asked)
    n_test_st = int(round(cfg.test_frac * len(asked)))
    test_st, train_st = np.sort(perm[:n_test_st]), np.sort(perm[n_test_st:])
    for name, need, have in (("n_train", cfg.n_train, len(train_st)), ("n_pool", cfg.n_pool, len(train_st)),
                             ("n_test", cfg.n_test, len(test_st))):
        if need > have:
            raise ValueError(f"population.{name}: {need} queries per user without repeats, but K* = "
                             f"{cfg.n_personas_true} has only {have} statements in that split")
    emb = np.asarray(emb, dtype=np.float32)
    if cfg.pca_dim:
        from sklearn.decomposition import PCA

        pca = PCA(cfg.pca_dim, random_state=0).fit(emb[train_st])
        emb = (pca.transform(emb) / np.sqrt(pca.explained_variance_[0])).astype(np.float32)
    says = answers_yes(data, dims, np.arange(len(data.statements)))  # (K*, S)
    group = np.repeat(np.arange(cfg.n_personas_true), cfg.n_per_group)  # persona index of each user

    def queries(per_user: int, pool: np.ndarray) -> dict:
        users = np.repeat(np.arange(len(group)), per_user)
        st = np.concatenate([rng.choice(pool, size=per_user, replace=False) for _ in group])
        yes = says[group[users], st]
        return {"queries": Queries(users, st, yes, len(group)), "yes_share": float(yes.mean())}

    return {"personas": list(TABLE7_PERSONAS[cfg.n_personas_true]), "persona_dims": dims.tolist(),
            "context_features": emb, "group": group, "train": queries(cfg.n_train, train_st),
            "test": queries(cfg.n_test, test_st), "pool": queries(cfg.n_pool, train_st),
            "unseen_test": queries(cfg.n_test, test_st)}


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
