"""The PAL persona experiment (seed 002: Chen et al. 2024, PAL, App. D.4) on real statements.

Data: the Anthropic persona statements (Perez et al. 2022; ``anthropic-persona/*.jsonl``, one file per
behaviour dimension, here 6 "interest-in-X" files of 1000 statements, each with
``answer_matching_behavior`` " Yes" / " No"). Read at run time from ``--data-dir`` (default
``$PLURALIGN_ANTHROPIC_PERSONA_DIR`` or ``anthropic-persona`` under the data root of :mod:`pluralign.datasets`).

Users and answers (our precise reading of the seed's construction):

* a persona is a binary vector v in {0, 1}^6 — the subset of behaviour dimensions it has; K* distinct
  personas are drawn uniformly from the 2^6 subsets;
* every user has one of the K* personas (balanced groups);
* asked "Is the following statement something you would say?" about statement s of dimension j, a user
  with persona v answers ``answer_matching_behavior(s)`` if v_j = 1 and ``answer_not_matching_behavior(s)``
  if v_j = 0 (noiselessly). Each file has 500 statements of each answer, so the Yes share is ~1/2 for
  every persona; the measured balance is reported.

A query is a binary choice between the options Yes and No with the statement as context. Inputs follow
the Tiny strategy: frozen MiniLM embeddings e(s) (cached on disk) and 2-layer MLP maps.
Answering Yes to s is encoded as the option feature +e(s) and No as -e(s) (saying No is saying the
opposite); e is a frozen PCA of the MiniLM embedding (``pca_dim``, fit on training statements only), so a
persona's Yes/No rule is close to linear in e (a linear probe on MiniLM recovers dimension x answer of
a held-out statement with ~98% accuracy). PAL-A scores the options; PAL-B also gets the context
x_c = e(s): f([x_c, +-e(s)]) and g_k(x_c) on the sphere. PAL-A's map is trained with L2 weight decay
(:data:`MAP_WEIGHT_DECAY`, chosen on a validation split of the training statements) and longer
(:data:`EPOCHS_FACTOR`) from the better of two starts (:data:`RESTARTS`); without the weight decay
PAL-A overfits the training statements. Statements are split 80/20 into train and test statements,
so held-out accuracy is on statements never seen in training. Seen users: ``n_train`` training and
``n_test`` test queries each; unseen users: a pool of ``n_pool`` training-statement queries (few-shot,
map and prototypes frozen, only w fitted on m of them) and ``n_test`` test queries.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from pluralign.runs import CellStore, Profile, run_cells, write_json
from pluralign.data import Choices
from pluralign.datasets import dataset_dir
from pluralign.pal import PALConfig, PALRewardModel
from pluralign.pal.embed import embed_texts

__all__ = ["PersonaData", "load_persona", "default_data_dir", "make_population", "PersonaConfig", "PROFILES",
           "run_cell", "run"]


def default_data_dir() -> Path:
    """``$PLURALIGN_ANTHROPIC_PERSONA_DIR``, else ``anthropic-persona`` under the data root
    (:func:`pluralign.datasets.dataset_dir`)."""
    return dataset_dir("anthropic-persona")


@dataclass
class PersonaData:
    statements: list[str]
    dim: np.ndarray  # (S,) behaviour dimension index
    matching_yes: np.ndarray  # (S,) 1 if answer_matching_behavior is Yes
    dim_names: list[str]


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


def make_population(data: PersonaData, emb: np.ndarray, cfg: PersonaConfig, seed) -> dict:
    """Personas, users and their Yes/No choice records (see the module doc), for PAL-A and PAL-B."""
    rng = np.random.default_rng(seed)
    J = int(data.dim.max()) + 1
    if not 1 <= cfg.n_personas_true <= 2**J:
        raise ValueError(f"n_personas_true: must lie in 1..{2**J}")
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


MAP_WEIGHT_DECAY = {"A": 1e-2, "B": 0.0}
"""L2 weight decay on the map f per model. PAL-A without it overfits the persona data (K* = 4, K = 4:
train 0.95, held-out 0.76): its MLP map is not odd, so besides the user term 2 <f(e) - f(-e), f(a_i)>
the score difference Yes - No carries a user-independent, statement-level term ||f(-e)||^2 - ||f(e)||^2
of the same size, and both grow with the map's norm and fit the training statements. 1e-2 was chosen
on validation splits of the *training* statements (:func:`validation_sweep`, K* = 4, seed-0 population,
grid {0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1}: best at 400 epochs on both splits tried; 3e-2 and above
collapse the map to 0), never on the test statements."""

EPOCHS_FACTOR = {"A": 4.0, "B": 1.0}
"""PAL-A trains this many times the profile's epochs (600 in quick). With weight decay its training sits
on a plateau (fit and validation accuracy ~0.84) before a late jump whose timing depends on the data:
validation accuracy (wd 1e-2, K* = 4, seed-0 population) 0.977 at 400 and 600 epochs on one split of
the training statements, 0.886 at 400 and 0.936 at 600 on another (:func:`validation_sweep`). In the
quick grid one PAL-A cell of 30 (K* = 5, K = 5) still ends on the plateau (training accuracy 0.86):
an optimization stall visible on the training data, left as measured."""


RESTARTS = {"A": 2, "B": 1}
"""Initializations per PAL fit (best probe training loss kept, :class:`pluralign.pal.PALConfig`). One
PAL-A start in the quick grid (K* = 3, K = 4, seed 0) stalls at a stationary point from epoch 100 on
(training loss 0.636, *training* accuracy 0.64, where seeds 1 and 2 reach 0.04-0.07 and 0.98): an
optimization failure visible on the training data, so a second start, chosen by training loss."""


def pal_config(model: str, K: int, epochs: int, seed: int) -> PALConfig:
    """Tiny strategy: 2-layer MLP (hidden 64) into R^16 on frozen MiniLM embeddings; ``epochs`` is the
    profile's base count (PAL-A trains ``EPOCHS_FACTOR['A']`` times longer, with map weight decay)."""
    return PALConfig(model=model, map="mlp", hidden=64, d_latent=16, n_prototypes=K,
                     epochs=max(1, int(round(epochs * EPOCHS_FACTOR[model]))), lr_map=1e-2, lr_prototypes=1e-2,
                     lr_weights=5e-2, weight_decay=MAP_WEIGHT_DECAY[model], n_restarts=RESTARTS[model],
                     restart_epochs=max(1, min(100, int(round(epochs * EPOCHS_FACTOR[model] / 4)))), seed=seed)


def split_by_statement(choices: Choices, frac: float, seed) -> tuple[Choices, Choices]:
    """(fit, validation) records of ``choices``: the validation part holds every record whose statement
    (``choices.context``) falls in a random ``frac`` of its distinct statements (held-out statements,
    as the test split)."""
    if not 0 < frac < 1:
        raise ValueError(f"frac: must lie in (0, 1), got {frac}")
    st = np.unique(choices.context)
    val_st = np.random.default_rng(seed).choice(st, size=max(1, int(round(frac * len(st)))), replace=False)
    is_val = np.isin(choices.context, val_st)
    return (choices.subset(np.flatnonzero(~is_val), reindex_users=False),
            choices.subset(np.flatnonzero(is_val), reindex_users=False))


def validation_sweep(pop: dict, model: str, K: int, weight_decays, epochs: int, every: int = 50,
                     seed: int = 0, frac: float = 0.2) -> dict:
    """Model selection without the test statements: fit PAL-<model> on the training records minus a
    validation ``frac`` of the training statements, for each map weight decay, and record (epoch,
    fit accuracy, validation accuracy) every ``every`` epochs. Returns {weight_decay: [rows]}."""
    fit, val = split_by_statement(pop["train"][model], frac, seed)
    ctx = pop["context_features"] if model == "B" else None
    out = {}
    for wd in weight_decays:
        rows = []
        for ep in range(every, epochs + 1, every):  # one fit per checkpoint: same seed, nested trajectories
            cfg = replace(pal_config(model, K, 1, seed), epochs=ep, weight_decay=float(wd), n_restarts=1)
            m = PALRewardModel(cfg, context_features=ctx).fit(fit)
            rows.append({"epoch": ep, "fit_acc": m.accuracy(fit), "val_acc": m.accuracy(val)})
        out[float(wd)] = rows
    return out


PROFILES: dict[str, dict] = {
    "smoke": dict(pop=dict(n_seen=8, n_unseen=4, n_train=20, n_test=10, n_pool=10, pca_dim=8), seeds=[0],
                  grid={"A": {2: [1, 2]}, "B": {2: [1, 2]}}, m_grid=[2, 5], epochs=20, max_statements=300),
    # quick: PAL-A and PAL-B over the full K* x K grid
    "quick": dict(pop={}, seeds=[0], grid={m: {Kt: [1, 2, 3, 4, 5, 6] for Kt in (2, 3, 4, 5, 6)} for m in ("B", "A")},
                  m_grid=[1, 2, 5, 10, 20, 40], epochs=150, max_statements=None),
    "paper": dict(pop=dict(n_seen=100, n_unseen=50), seeds=[0, 1, 2],
                  grid={m: {Kt: [1, 2, 3, 4, 5, 6, 8] for Kt in (2, 3, 4, 5, 6)} for m in ("A", "B")},
                  m_grid=[1, 2, 5, 10, 20, 40], epochs=400, max_statements=None),
}


def run_cell(pop: dict, model: str, K: int, seed: int, epochs: int, emb: np.ndarray, ms=()) -> dict:
    """Fit PAL-<model> with K prototypes on one population; seen / unseen / zero-shot accuracy."""
    ctx = pop["context_features"] if model == "B" else None
    m = PALRewardModel(pal_config(model, K, epochs, seed), context_features=ctx).fit(pop["train"][model])
    out = {"train_acc": m.accuracy(pop["train"][model]), "seen_acc": m.accuracy(pop["test"][model]),
           "final_loss": m.loss_history_[-1],
           "zero_shot_acc": m.accuracy(pop["unseen_test"][model], weights=m.population_weights())}
    if ms:
        pool = pop["pool"][model]
        per_user = pool.user_indices()
        rng = np.random.default_rng(seed + 7)
        orders = [ix[rng.permutation(len(ix))] for ix in per_user]
        out["fewshot_m"], out["fewshot_acc"] = list(ms), []
        for mm in ms:
            sub = pool.subset(np.sort(np.concatenate([o[:mm] for o in orders])), reindex_users=False)
            out["fewshot_acc"].append(m.accuracy(pop["unseen_test"][model], weights=m.localize(sub)))
    return out


def _cell(out: Path, key: str, config: dict, pop: dict, seed: int, epochs: int, emb: np.ndarray, ms) -> None:
    """One (model, K*, K, seed) cell, saved to the run's CellStore (runs in a worker process)."""
    torch.set_num_threads(1)
    metrics = run_cell(pop, config["model"], config["K"], seed, epochs, emb, ms=ms)
    metrics["personas"] = pop["personas"].tolist()
    CellStore(out).save(key, config, metrics)


def run(profile: Profile | str, seed: int, out: Path, data_dir: Path | None = None,
        cache: Path | None = None, n_jobs: int = 2) -> dict:
    """Run (or resume) the sweep over models x K* x K x seeds; write ``pal_persona.json`` and the PNG."""
    profile = Profile(profile).value
    p = PROFILES[profile]
    data = load_persona(data_dir)
    torch.set_num_threads(1)
    emb = embed_texts(data.statements, cache=cache, progress=True)  # the whole set: one cache entry
    if p["max_statements"] and p["max_statements"] < len(data.statements):
        keep = np.sort(np.random.default_rng(seed).permutation(len(data.statements))[: p["max_statements"]])
        data = PersonaData([data.statements[i] for i in keep], data.dim[keep], data.matching_yes[keep], data.dim_names)
        emb = emb[keep]
    base = replace(PersonaConfig(), **p["pop"])
    store = CellStore(out)
    cells = [(s, Kt, model, K) for s in p["seeds"] for model, rows in p["grid"].items()
             for Kt, Ks in rows.items() for K in Ks]
    pops: dict = {}
    balance = {}
    todo = []
    for s, Kt, model, K in cells:
        key = f"Kstar={Kt}_model={model}_K={K}_seed={s}"
        if (s, Kt) not in pops:
            pops[(s, Kt)] = make_population(data, emb, replace(base, n_personas_true=Kt), seed * 1000 + s * 10 + Kt)
            pp = pops[(s, Kt)]
            balance[f"Kstar={Kt}_seed={s}"] = {k: pp[k]["yes_share"] for k in ("train", "test", "pool", "unseen_test")}
        if not store.done(key):
            todo.append((out, key, {"K_true": Kt, "model": model, "K": K, "seed": s, "base_seed": seed, "pop": asdict(base)},
                         pops[(s, Kt)], seed * 1000 + s, p["epochs"], emb, p["m_grid"] if K == Kt else ()))
    # cells are independent and seeded: the same numbers in any order and any number of processes
    run_cells(_cell, todo, n_jobs=n_jobs, desc="pal persona cells")
    all_cells = [c for c in store.all() if c["config"].get("base_seed") == seed]
    summary = summarize(all_cells, balance)
    res = {"profile": profile, "seed": seed, "data": {"n_statements": len(data.statements), "dims": data.dim_names,
           "matching_yes_share": float(data.matching_yes.mean())}, "population": asdict(base),
           "pal": {m: asdict(pal_config(m, 4, p["epochs"], seed)) for m in p["grid"]},
           "summary": summary, "cells": all_cells}
    write_json(out / "pal_persona.json", res)
    _plot(summary, out / "pal_persona.png")
    return res


def summarize(cells: list[dict], balance: dict) -> dict:
    """Tables seen / unseen accuracy by (model, K*, K) (mean over seeds), the Yes balance, the checks."""
    tab: dict = {}
    for c in cells:
        cf, m = c["config"], c["metrics"]
        tab.setdefault(cf["model"], {}).setdefault(cf["K_true"], {}).setdefault(cf["K"], []).append(m)
    table = {model: {Kt: {K: {"seen_acc": float(np.mean([m["seen_acc"] for m in ms])),
                              "train_acc": float(np.mean([m["train_acc"] for m in ms])),
                              "zero_shot_acc": float(np.mean([m["zero_shot_acc"] for m in ms])),
                              **({"fewshot_m": ms[0]["fewshot_m"],
                                  "fewshot_acc": np.mean([m["fewshot_acc"] for m in ms], 0).tolist()}
                                 if "fewshot_acc" in ms[0] else {}),
                              "n_seeds": len(ms)} for K, ms in sorted(byK.items())}
                     for Kt, byK in sorted(byKt.items())} for model, byKt in tab.items()}
    checks = {}
    for model, t in table.items():
        if 4 in t and 4 in t[4] and 1 in t[4]:
            a4, a1 = t[4][4]["seen_acc"], t[4][1]["seen_acc"]
            checks[f"PAL-{model}: K*=4, seen acc at K=4 >= 0.95"] = {"value": a4, "pass": a4 >= 0.95}
            checks[f"PAL-{model}: K*=4, seen acc at K=4 minus K=1 (points)"] = {"value": 100 * (a4 - a1), "pass": a4 - a1 >= 0.05}
    return {"table": table, "yes_share": balance, "checks": checks}


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted(summary["table"])
    fig, axes = plt.subplots(1, 2 * len(models), figsize=(6 * len(models) * 2 * 0.75, 4))
    axes = np.atleast_1d(axes)
    for i, model in enumerate(models):
        ax = axes[2 * i]
        for Kt, byK in summary["table"][model].items():
            Ks = sorted(byK, key=int)
            ax.plot([int(k) for k in Ks], [byK[k]["seen_acc"] for k in Ks], marker="o", label=f"K*={Kt}")
        ax.set_title(f"PAL-{model}: seen users, held-out statements")
        ax.set_xlabel("K (prototypes)")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=7)
        ax = axes[2 * i + 1]
        for Kt, byK in summary["table"][model].items():
            r = byK.get(Kt) if Kt in byK else byK.get(str(Kt))
            if r and "fewshot_acc" in r:
                ax.plot(r["fewshot_m"], r["fewshot_acc"], marker="o", label=f"K*={Kt} (seen {r['seen_acc']:.3f})")
        ax.set_xscale("log")
        ax.set_title(f"PAL-{model}: unseen users at K = K*")
        ax.set_xlabel("few-shot samples m")
        ax.legend(fontsize=7)
    fig.suptitle("PAL persona experiment (seed 002, App. D.4), Anthropic persona statements + MiniLM")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
