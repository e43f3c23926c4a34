"""``pluralign fit DATA --k 1..6 --out DIR``: bring your own preference data (issue 18).

DATA is a long table (CSV / Parquet: user, item, label columns) or a Polis export folder / votes.csv.
Runs :func:`pluralign.mixture.select_k` and writes ``results.json``, the K curve, per-group item approval,
a cluster picture and ``report.md`` under DIR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from pluralign.cli.common import OutOpt, SeedOpt, fail, start_run


def _parse_ks(text: str) -> list[int]:
    try:
        if ".." in text:
            a, b = text.split("..")
            ks = list(range(int(a), int(b) + 1))
        else:
            ks = [int(x) for x in text.split(",")]
    except ValueError:
        fail(f"--k: expected a range like 1..6 or a list like 1,2,4, got {text!r}")
    if not ks or min(ks) < 1:
        fail(f"--k: every K must be >= 1, got {text!r}")
    return ks


def _load(data: Path):
    from pluralign.loaders import load_polis, load_ratings

    if data.is_dir() or data.name == "votes.csv":
        return load_polis(data)
    return load_ratings(data)


def _text_choices(table, dim: int, seed: int):
    """The ratings as choices against an outside option whose item features are the items' MiniLM text
    embeddings, reduced by PCA to ``dim`` dimensions (at most n_items - 1) and scaled to unit variance."""
    from sklearn.decomposition import PCA

    from pluralign.loaders import ratings_to_choices
    from pluralign.pal.embed import embed_texts
    from pluralign.seeding import derive_int

    texts = table.item_texts
    if texts is None or not all(t.strip() for t in texts):
        raise ValueError("--features text: every item needs a text (a Polis export with comments.csv)")
    emb = embed_texts(texts, progress=True)
    d = max(1, min(int(dim), emb.shape[0] - 1, emb.shape[1]))
    Z = PCA(d, random_state=derive_int(seed, "text-pca")).fit_transform(emb.astype(float))
    Z = Z / np.maximum(Z.std(axis=0), 1e-12)
    return ratings_to_choices(table.ratings, table.n_items, item_features=Z)


def fit(
    data: Annotated[Path, typer.Argument(help="A long table (user, item, label) or a Polis export folder.")],
    k: Annotated[str, typer.Option("--k", help="The K to try: 1..6 or 1,2,3.")] = "1..6",
    features: Annotated[str, typer.Option("--features", help="onehot (one utility per item and type) or text "
                        "(a taste vector per type over the items' MiniLM text embeddings, PCA to --text-dim).")] = "onehot",
    text_dim: Annotated[int, typer.Option("--text-dim", min=1, help="PCA dimension of the text embeddings.")] = 16,
    cv: Annotated[int, typer.Option("--cv", min=2, help="Folds of the cross-validation within users.")] = 5,
    restarts: Annotated[int, typer.Option("--restarts", min=1, help="EM restarts per fit.")] = 5,
    ridge: Annotated[float, typer.Option("--ridge", help="Ridge of every M-step.")] = 0.1,
    seed: SeedOpt = 0,
    out: OutOpt = None,
) -> None:
    """Fit mixtures of K user types to your rating / vote data and pick K."""
    from pluralign.em import adjusted_rand_index
    from pluralign.mixture import select_k
    from pluralign.runs import write_json

    if features not in ("onehot", "text"):
        fail(f"--features: must be onehot or text, got {features!r}")
    if not data.exists():
        fail(f"DATA: {data} does not exist")
    ks = _parse_ks(k)
    try:
        table = _load(data)
    except ValueError as exc:
        fail(str(exc))
    config = {"data": str(data), "k": ks, "features": features, "cv": cv, "restarts": restarts, "ridge": ridge}
    if features == "text":
        config["text_dim"] = text_dim
    out_dir = start_run("fit", out if out is not None else Path("results/fit"), "quick", seed, config)
    try:
        fit_data, kind = (table, "ratings") if features == "onehot" else (_text_choices(table, text_dim, seed), "choices")
        sel = select_k(fit_data, ks, cv=cv, seed=seed, n_restarts=restarts, ridge=ridge, progress=True, kind=kind)
    except ValueError as exc:
        fail(str(exc))
    from pluralign.paper_figures import fit as figs

    pm = sel.fits[sel.best_k]
    r = table.ratings
    V = table.vote_matrix()
    labels = pm.labels_
    appr = np.full((pm.n_components, table.n_items), np.nan)
    for g in range(pm.n_components):
        with np.errstate(invalid="ignore"):
            appr[g] = np.nanmean(np.where(np.isnan(V[labels == g]), np.nan, V[labels == g] == 1.0), axis=0) \
                if np.any(labels == g) else np.nan
    result = {
        "table": sel.rows, "best_k": sel.best_k, "best_k_bic": sel.best_k_bic,
        "n_users": int(r.n_users), "n_items": int(table.n_items), "n_records": len(r),
        "assignment": {str(n): int(z) for n, z in zip(r.user_names, labels)},
        "rho": pm.rho_.tolist(), "approval": np.where(np.isnan(appr), None, appr).tolist(),
        "item_names": [str(x) for x in table.item_names],
    }
    if table.groups is not None and all(g is not None for g in table.groups):
        try:
            result["ari_vs_given_groups"] = adjusted_rand_index(np.asarray(table.groups).astype(str), labels)
        except ValueError:
            pass
    write_json(out_dir / "results.json", result)
    figs.k_curve(sel.rows, out_dir / "k_curve", sel.best_k)
    figs.approval(np.nan_to_num(appr, nan=0.5), out_dir / "approval")
    figs.clusters(V, labels, out_dir / "clusters")
    lines = [f"# pluralign fit: {data}", "",
             f"{r.n_users} users, {table.n_items} items, {len(r)} records. Chosen K = {sel.best_k} "
             f"(held-out log-likelihood, one-s.e. rule); BIC picks K = {sel.best_k_bic}.", "",
             "| K | held-out LL / record | s.e. | BIC | stability (ARI) |", "|---|---|---|---|---|"]
    lines += [f"| {row['k']} | {row['heldout_ll']:.4f} | {row['heldout_sem']:.4f} | {row['bic']:.1f} | "
              f"{row['stability']:.3f} |" for row in sel.rows]
    lines += ["", f"Group sizes: {np.bincount(labels, minlength=pm.n_components).tolist()}"]
    if "ari_vs_given_groups" in result:
        lines.append(f"ARI against the export's own groups: {result['ari_vs_given_groups']:.3f}")
    lines += ["", "Figures: k_curve.png, approval.png, clusters.png"]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    typer.echo(f"K = {sel.best_k}; wrote {out_dir}")
