"""The length-preference task of seed 002 (PAL, sec. 3.1 / App. D.3) on real text available here.

Reddit TL;DR (Stiennon et al. 2020, in Li et al. 2024's length variant) is not on these machines. What
D.3 builds is kept: a prompt, two responses of different length, and users who prefer the longer or the
shorter one, so that **length is the preference axis** and the content is real text:

* **Text.** The Anthropic persona statements shipped in ``pluralign/_data/anthropic-persona/`` (Perez et
  al. 2022): 6 topics ("interest-in-art", ..., "interest-in-sports") of 1000 first-person statements each.
  We keep a topic's ~500 statements whose ``answer_matching_behavior`` is Yes (the persona's own voice),
  so a response made of several of them reads as one coherent first-person answer about the topic
  ("I enjoy ... . I often ... ."). Why these and not the MPI items (``_data/mpi``): MPI items are short
  trait fragments ("Act wild and crazy", 120 / 1k items) that do not form answers to a prompt; the
  persona files give 3,000 full sentences on 6 prompts, enough for disjoint train / test texts.
* **Prompts and responses.** A topic's prompt is "Tell me about your interest in <topic>." A response is
  1 .. ``max_statements`` distinct statements of that topic, joined as sentences. Statements are split
  80 / 20 into train and test statements; a corpus of ``n_train_responses`` responses is built from the
  train statements and ``n_test_responses`` from the test statements (the number of statements uniform
  on 1 .. max_statements). A pair is two responses of one topic with different word counts.
* **Users** (D.3): ``n_seen`` = 10 seen users, the majority (``seen_longer`` of them) preferring the
  longer response and the others the shorter; 31 unseen users of whom round(70%) prefer longer, the
  rest shorter ("We randomly assigned 70% of these users to prefer longer summaries"). A user's label is
  deterministic (D.3 "re-labeled" the pairs by the assigned preference). Seen users have ``n_train``
  training pairs (train corpus) and ``n_test`` test pairs (test corpus); unseen users a pool of
  ``n_pool`` pairs (train corpus; the few-shot samples) and ``n_test`` test pairs (test corpus).

Length is the number of words. The prompt is the same for both responses of a pair and is not part of
the scored text (the reward of a response is computed from the response alone).
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

__all__ = ["LengthConfig", "LengthTask", "load_statements", "make_task", "default_data_dir"]


def default_data_dir() -> Path:
    """``$PLURALIGN_ANTHROPIC_PERSONA_DIR``, else ``anthropic-persona`` under the data root (shipped copy)."""
    return dataset_dir("anthropic-persona")


def load_statements(data_dir: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Topic -> its statements whose answer_matching_behavior is Yes, from the persona ``*.jsonl`` files
    (sorted by name); ValueError naming ``data_dir`` if missing or malformed."""
    d = Path(data_dir) if data_dir is not None else default_data_dir()
    if not d.is_dir():
        raise ValueError(f"data_dir: persona data folder not found: {d}")
    paths = sorted(d.glob("*.jsonl"))
    if not paths:
        raise ValueError(f"data_dir: no *.jsonl files in {d}")
    out: dict[str, list[str]] = {}
    for p in paths:
        rows = []
        for ln, line in enumerate(p.read_text().splitlines()):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                yes, st = rec["answer_matching_behavior"].strip() == "Yes", str(rec["statement"]).strip()
            except (json.JSONDecodeError, KeyError, AttributeError) as exc:
                raise ValueError(f"data_dir: {p.name} line {ln + 1} is not a persona record ({exc})") from None
            if yes and st:
                rows.append(st.rstrip("."))
        out[p.stem] = rows
    return out


@dataclass
class LengthConfig:
    """Sizes of one length-preference task."""

    n_seen: int = 10
    """Seen users (D.3: the ten workers with the most feedback)."""
    seen_longer: int = 7
    """Seen users preferring the longer response (the majority; D.3 does not print the split, see DEVIATIONS)."""
    n_unseen: int = 31
    """Unseen users (D.3: 31)."""
    unseen_longer_frac: float = 0.7
    """Share of unseen users assigned "longer" (D.3: 70%)."""
    n_train: int = 1000
    """Training pairs per seen user (D.3: at least 1,000 samples each)."""
    n_test: int = 100
    """Test pairs per user (seen and unseen)."""
    n_pool: int = 100
    """Few-shot pool pairs per unseen user (D.3: users with at least 100 pairs)."""
    max_statements: int = 4
    """A response is 1 .. max_statements statements."""
    n_train_responses: int = 2000
    """Responses built from the train statements (the texts of training and pool pairs)."""
    n_test_responses: int = 600
    """Responses built from the test statements (the texts of test pairs)."""
    test_frac: float = 0.2
    """Share of statements held out for the test responses."""

    def validate(self) -> "LengthConfig":
        for name in ("n_seen", "n_unseen", "n_train", "n_test", "n_pool", "n_train_responses", "n_test_responses"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"task.{name}: must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.seen_longer <= self.n_seen:
            raise ValueError(f"task.seen_longer: must lie in 0..n_seen = {self.n_seen}, got {self.seen_longer}")
        if not 0 <= self.unseen_longer_frac <= 1:
            raise ValueError(f"task.unseen_longer_frac: must lie in [0, 1], got {self.unseen_longer_frac}")
        if self.max_statements < 2:
            raise ValueError(f"task.max_statements: must be >= 2 (pairs differ in length), got {self.max_statements}")
        if not 0 < self.test_frac < 1:
            raise ValueError(f"task.test_frac: must lie in (0, 1), got {self.test_frac}")
        return self


@dataclass
class LengthTask:
    """One drawn task: the response texts and the users' choice records (option ids index ``texts``)."""

    texts: list[str]
    """All responses (train corpus first, then test corpus)."""
    topic: np.ndarray
    """(len(texts),) topic index of every response."""
    n_words: np.ndarray
    """(len(texts),) word count of every response (the preference axis)."""
    topics: list[str]
    """Topic names (file stems)."""
    prompts: list[str]
    """The prompt of every topic."""
    seen_prefers_longer: np.ndarray
    """(n_seen,) 1 if the seen user prefers longer."""
    unseen_prefers_longer: np.ndarray
    """(n_unseen,) 1 if the unseen user prefers longer."""
    train: Choices
    test: Choices
    pool: Choices
    unseen_test: Choices

    def summary(self) -> dict:
        """Corpus and label statistics (for results.json)."""
        def share_longer_chosen(ch):
            w = self.n_words[ch.options]
            return float(np.mean(w[np.arange(len(ch)), ch.chosen] > w[np.arange(len(ch)), 1 - ch.chosen]))

        return {"n_texts": len(self.texts), "words_mean": float(self.n_words.mean()), "words_max": int(self.n_words.max()),
                "seen_longer": int(self.seen_prefers_longer.sum()), "unseen_longer": int(self.unseen_prefers_longer.sum()),
                "n_records": {k: len(getattr(self, k)) for k in ("train", "test", "pool", "unseen_test")},
                "share_longer_chosen": {k: share_longer_chosen(getattr(self, k)) for k in ("train", "test", "pool", "unseen_test")}}


def _topic_name(stem: str) -> str:
    return stem.replace("interest-in-", "").replace("-", " ")


def make_task(statements: dict[str, list[str]], cfg: LengthConfig, seed: int) -> LengthTask:
    """Draw the corpus, the users and their pairs (module doc) from ``derive(seed, "length_task", ...)``."""
    cfg.validate()
    topics = sorted(statements)
    if not topics or any(len(statements[t]) < 2 * cfg.max_statements for t in topics):
        raise ValueError(f"statements: every topic needs >= {2 * cfg.max_statements} statements")
    rng = derive(seed, "length_task", "corpus")
    split = {}
    for t in topics:
        perm = rng.permutation(len(statements[t]))
        n_te = max(cfg.max_statements, int(round(cfg.test_frac * len(perm))))
        split[t] = (perm[n_te:], perm[:n_te])

    texts, topic_of = [], []

    def corpus(n, part):
        for _ in range(n):
            j = int(rng.integers(len(topics)))
            pool = split[topics[j]][part]
            k = int(rng.integers(1, cfg.max_statements + 1))
            picked = rng.choice(pool, size=k, replace=False)
            texts.append(" ".join(statements[topics[j]][i] + "." for i in picked))
            topic_of.append(j)

    corpus(cfg.n_train_responses, 0)
    corpus(cfg.n_test_responses, 1)
    topic_of = np.asarray(topic_of)
    n_words = np.asarray([len(t.split()) for t in texts])
    ids_train = np.arange(cfg.n_train_responses)
    ids_test = np.arange(cfg.n_train_responses, len(texts))

    def pairs(ids, n, r):
        """n pairs of one topic with different word counts, from the responses ``ids``."""
        by_topic = [ids[topic_of[ids] == j] for j in range(len(topics))]
        by_topic = [b for b in by_topic if len(b) >= 2 and len(np.unique(n_words[b])) >= 2]
        if not by_topic:
            raise ValueError("task: no topic has two responses of different lengths; enlarge the corpus")
        out = np.empty((n, 2), dtype=np.int64)
        for i in range(n):
            while True:
                b = by_topic[int(r.integers(len(by_topic)))]
                a, c = r.choice(b, size=2, replace=False)
                if n_words[a] != n_words[c]:
                    out[i] = (a, c)
                    break
        return out

    def records(prefers_longer, per_user, ids, name):
        r = derive(seed, "length_task", name)
        U = len(prefers_longer)
        opts = pairs(ids, U * per_user, r)
        users = np.repeat(np.arange(U), per_user)
        longer = (n_words[opts[:, 1]] > n_words[opts[:, 0]]).astype(int)  # index of the longer option
        chosen = np.where(prefers_longer[users] == 1, longer, 1 - longer)
        return Choices(user=users, options=opts, chosen=chosen, n_users=U)

    r_users = derive(seed, "length_task", "users")
    seen = np.zeros(cfg.n_seen, dtype=int)
    seen[r_users.choice(cfg.n_seen, size=cfg.seen_longer, replace=False)] = 1
    unseen = np.zeros(cfg.n_unseen, dtype=int)
    unseen[r_users.choice(cfg.n_unseen, size=int(round(cfg.unseen_longer_frac * cfg.n_unseen)), replace=False)] = 1
    return LengthTask(texts=texts, topic=topic_of, n_words=n_words, topics=topics,
                      prompts=[f"Tell me about your interest in {_topic_name(t)}." for t in topics],
                      seen_prefers_longer=seen, unseen_prefers_longer=unseen,
                      train=records(seen, cfg.n_train, ids_train, "train"),
                      test=records(seen, cfg.n_test, ids_test, "test"),
                      pool=records(unseen, cfg.n_pool, ids_train, "pool"),
                      unseen_test=records(unseen, cfg.n_test, ids_test, "unseen_test"))
