"""Figures of ``pluralign fit``: the K curve of :func:`pluralign.mixture.select_k`, per-group item
approval and a cluster picture of the users. Reads numbers; fits nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pluralign.paper_figures.style import caption, errorbar, figure, save


def k_curve(rows: list[dict], path, best_k: int | None = None) -> Path:
    """Held-out log-likelihood per record (mean +- s.e. over folds) and BIC against K."""
    fig, ax = figure(2)
    ks = [r["k"] for r in rows]
    errorbar(ax[0, 0], ks, [{"mean": r["heldout_ll"], "sem": r["heldout_sem"]} for r in rows])
    ax[0, 0].set(xlabel="K", ylabel="held-out log-likelihood / record")
    ax[0, 1].plot(ks, [r["bic"] for r in rows], marker="o")
    ax[0, 1].set(xlabel="K", ylabel="BIC")
    if best_k is not None:
        for a in ax[0]:
            a.axvline(best_k, color="0.6", ls="--")
    fig.suptitle(caption("Choosing K: cross-validation within users and BIC"), fontsize=7)
    return save(fig, path)


def approval(approval_matrix: np.ndarray, path, item_labels=None) -> Path:
    """(K, n_items) share of agree votes per group and item, as a heat map."""
    A = np.asarray(approval_matrix, dtype=float)
    fig, ax = figure(1, figsize=(max(4.0, 0.12 * A.shape[1]), 1.0 + 0.4 * A.shape[0]))
    im = ax[0, 0].imshow(A, aspect="auto", vmin=0, vmax=1, cmap="RdBu")
    ax[0, 0].set(xlabel="item", ylabel="group", yticks=range(A.shape[0]))
    fig.colorbar(im, ax=ax[0, 0], label="approval")
    return save(fig, path)


def clusters(vote_matrix: np.ndarray, labels: np.ndarray, path) -> Path:
    """Users on the first two principal components of their votes (unrated = 1/2), coloured by cluster."""
    V = np.nan_to_num(np.asarray(vote_matrix, dtype=float), nan=0.5) - 0.5
    V = V - V.mean(axis=0)
    U, S, _ = np.linalg.svd(V, full_matrices=False)
    xy = U[:, :2] * S[:2] if U.shape[1] >= 2 else np.c_[U[:, 0] * S[0], np.zeros(len(U))]
    fig, ax = figure(1)
    for k in np.unique(labels):
        m = labels == k
        ax[0, 0].scatter(xy[m, 0], xy[m, 1], s=10, label=f"group {k}")
    ax[0, 0].set(xlabel="PC 1", ylabel="PC 2")
    ax[0, 0].legend(fontsize=6)
    return save(fig, path)
