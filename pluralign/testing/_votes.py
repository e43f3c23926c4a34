"""A vote table with planted opinion groups, written as a Polis-format export (issue 18's done-when)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.seeding import derive

__all__ = ["write_planted_polis"]


def write_planted_polis(folder, n_voters: int = 60, n_items: int = 40, n_groups: int = 2, *, seed: int = 0,
                        agree: float = 0.85, vote_rate: float = 0.8, pass_rate: float = 0.05) -> np.ndarray:
    """Write ``votes.csv``, ``comments.csv`` and ``participants-votes.csv`` under ``folder``.

    Voters are dealt round-robin to ``n_groups`` planted groups; each group has its own side (agree /
    disagree) on every comment, drawn at random, and a voter votes with its group's side with
    probability ``agree``. Each voter votes on a random ``vote_rate`` share of comments; ``pass_rate`` of
    its votes are passes (0). Voter ids are strings ``"v<i>"``, comment ids integers from 100.
    Returns the planted group of each voter in voter order (index i = ``"v<i>"``)."""
    import pandas as pd

    rng = derive(seed, "planted-polis")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups = np.arange(n_voters) % n_groups
    side = rng.choice([-1, 1], size=(n_groups, n_items))
    rows = []
    for i in range(n_voters):
        items = np.flatnonzero(rng.random(n_items) < vote_rate)
        if items.size == 0:
            items = rng.integers(n_items, size=1)
        for j in items:
            v = side[groups[i], j] if rng.random() < agree else -side[groups[i], j]
            if rng.random() < pass_rate:
                v = 0
            rows.append((int(len(rows)), f"v{i}", 100 + int(j), int(v)))
    pd.DataFrame(rows, columns=["timestamp", "voter-id", "comment-id", "vote"]).to_csv(folder / "votes.csv",
                                                                                      index=False)
    pd.DataFrame({"comment-id": 100 + np.arange(n_items),
                  "comment-body": [f"comment {j}" for j in range(n_items)]}).to_csv(folder / "comments.csv",
                                                                                    index=False)
    pd.DataFrame({"participant": [f"v{i}" for i in range(n_voters)], "group-id": groups}).to_csv(
        folder / "participants-votes.csv", index=False)
    return groups
