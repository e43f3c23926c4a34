"""Causal language models for EM-DPO on text (seed 001 sec. 5, App. D.4): the one loading path, and the
small GPT-2-style pi_SFT the quick and smoke profiles build.

A user's model goes through :func:`load_causal_lm` (``AutoModelForCausalLM`` / ``AutoTokenizer``
``.from_pretrained(PATH)``, offline, nothing downloaded). The quick profile's model is built here by
:func:`build_small_gpt2`: a byte-level BPE tokenizer trained with ``tokenizers`` on the study's texts (its
own ``<|pad|>`` token; ``<|endoftext|>`` is BOS and EOS), a ``GPT2Config`` model whose every parameter is
drawn from an explicit ``torch.Generator`` (GPT-2's own scheme: N(0, initializer_range), residual
projections scaled by 1 / sqrt(2 n_layer), LayerNorm 1 / 0), supervised-fine-tuned as pi_SFT on the
prompt + response texts, written with ``save_pretrained`` and read back through :func:`load_causal_lm`
(the same path as ``--model``). It is cached on disk under ``cache_dir`` keyed by the SHA-256 of its
config, its SFT settings, its seed and its texts. Dropout is 0 everywhere, so a model is a function of
its seed alone and no global RNG is touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from pluralign.seeding import torch_generator

__all__ = ["SmallGPT2Config", "load_causal_lm", "build_small_gpt2", "model_cache_key", "default_cache_dir",
           "BOS", "PAD"]

BOS = "<|endoftext|>"
"""BOS and EOS token of the tokenizers built here."""
PAD = "<|pad|>"
"""Padding token of the tokenizers built here (its own token, never EOS)."""
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer_config.json")
"""Files one of which a model folder's tokenizer needs (transformers 5 builds an empty tokenizer without)."""


def default_cache_dir() -> Path:
    """``$PLURALIGN_CACHE`` (default ``~/.cache/pluralign``) ``/models``."""
    return Path(os.environ.get("PLURALIGN_CACHE", Path.home() / ".cache" / "pluralign")) / "models"


@dataclass
class SmallGPT2Config:
    """The small GPT-2 pi_SFT of the quick / smoke profiles (written into its cache key)."""

    n_layer: int = 2
    """Transformer blocks."""
    n_embd: int = 128
    """Width."""
    n_head: int = 4
    """Attention heads."""
    n_positions: int = 64
    """Context length in tokens (prompt + response + BOS / EOS must fit)."""
    vocab_size: int = 1000
    """Target BPE vocabulary size (the trained tokenizer may be smaller on a small corpus)."""
    sft_epochs: int = 3
    """Supervised fine-tuning passes over the prompt + response texts."""
    sft_lr: float = 3e-3
    """AdamW learning rate of the SFT."""
    sft_batch_size: int = 32
    """SFT minibatch size."""

    def __post_init__(self):
        for name in ("n_layer", "n_embd", "n_head", "n_positions", "vocab_size", "sft_epochs", "sft_batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or int(v) < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_head: must divide n_embd = {self.n_embd}, got {self.n_head}")
        if self.vocab_size < 260:
            raise ValueError(f"vocab_size: byte-level BPE needs >= 260 (256 bytes + specials), got {self.vocab_size}")
        if not float(self.sft_lr) > 0:
            raise ValueError(f"sft_lr: must be > 0, got {self.sft_lr}")


def load_causal_lm(path, device: str | torch.device = "cpu", dtype: torch.dtype | str | None = None):
    """(model, tokenizer) from a local folder via ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``.

    Offline (``local_files_only``); ``dtype``: as ``from_pretrained`` (None: float32, "auto": the
    checkpoint's, e.g. bf16 for Mistral-7B). ``ValueError`` naming ``model`` when the folder is missing, holds no
    causal LM, or has no tokenizer. A tokenizer without a pad token gets its EOS as pad (real models'
    convention; padding positions are masked out of every log-probability anyway)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    p = Path(path)
    if not p.is_dir():
        raise ValueError(f"model: no model folder at {p}")
    if not (p / "config.json").is_file():
        raise ValueError(f"model: {p} has no config.json (not a transformers model folder)")
    try:
        config = AutoConfig.from_pretrained(p, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds
        raise ValueError(f"model: {p}/config.json cannot be read as a transformers config ({exc})") from None
    try:
        model = AutoModelForCausalLM.from_pretrained(p, local_files_only=True, dtype=dtype)
    except ValueError as exc:
        raise ValueError(f"model: {p} is not a causal language model ({type(config).__name__}; {exc})") from None
    except OSError as exc:
        raise ValueError(f"model: {p} has no readable weights ({exc})") from None
    tok_files = [f for f in TOKENIZER_FILES if (p / f).is_file()]
    if not tok_files:
        raise ValueError(f"model: {p} has no tokenizer (none of {', '.join(TOKENIZER_FILES)})")
    try:
        tok = AutoTokenizer.from_pretrained(p, local_files_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"model: {p} has no tokenizer ({type(exc).__name__}: {exc})") from None
    if tok is None or not hasattr(tok, "convert_tokens_to_ids") or len(tok) < 2:
        raise ValueError(f"model: {p} has no usable tokenizer (read from {', '.join(tok_files)})")
    if tok.pad_token_id is None:
        if tok.eos_token_id is None:
            raise ValueError(f"model: the tokenizer at {p} has neither a pad nor an EOS token")
        tok.pad_token = tok.eos_token
    model.to(device)
    model.eval()
    return model, tok


def model_cache_key(texts, config: SmallGPT2Config, seed: int) -> str:
    """SHA-256 over the config (with its SFT settings), the seed and the texts (length-prefixed)."""
    h = hashlib.sha256(json.dumps({"config": asdict(config), "seed": int(seed), "v": 1}, sort_keys=True).encode())
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return f"gpt2-{config.n_layer}x{config.n_embd}-{h.hexdigest()[:20]}"


def _train_tokenizer(texts, config: SmallGPT2Config):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(list(texts), vocab_size=config.vocab_size, min_frequency=1,
                            special_tokens=[BOS, PAD], show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token=BOS, eos_token=BOS, pad_token=PAD,
                                   model_max_length=config.n_positions)


def _init_gpt2_(model, n_layer: int, std: float, generator: torch.Generator) -> None:
    """GPT-2's initialisation (transformers' ``GPT2PreTrainedModel._init_weights``), drawn from ``generator``."""
    import math

    for name, p in model.named_parameters():
        with torch.no_grad():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            elif name.endswith("c_proj.weight"):
                p.normal_(0.0, std / math.sqrt(2 * n_layer), generator=generator)
            else:
                p.normal_(0.0, std, generator=generator)


def _sft(model, tok, texts, config: SmallGPT2Config, seed: int) -> None:
    """Next-token cross-entropy on BOS + text + EOS, AdamW, shuffled by a seeded generator."""
    enc = [[tok.bos_token_id] + tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]
    too_long = [i for i, e in enumerate(enc) if len(e) > config.n_positions]
    if too_long:
        raise ValueError(f"texts: text {too_long[0]} ({texts[too_long[0]][:60]!r}) is {len(enc[too_long[0]])} tokens, "
                         f"over n_positions = {config.n_positions}")
    g = torch_generator(seed, "sft_order")
    opt = torch.optim.AdamW(model.parameters(), lr=config.sft_lr, weight_decay=0.0)
    model.train()
    for _ in range(config.sft_epochs):
        order = torch.randperm(len(enc), generator=g).tolist()
        for b in range(0, len(order), config.sft_batch_size):
            batch = [enc[i] for i in order[b: b + config.sft_batch_size]]
            L = max(map(len, batch))
            ids = torch.full((len(batch), L), tok.pad_token_id, dtype=torch.long)
            att = torch.zeros((len(batch), L), dtype=torch.long)
            for r, e in enumerate(batch):
                ids[r, : len(e)] = torch.tensor(e)
                att[r, : len(e)] = 1
            labels = ids.masked_fill(att == 0, -100)
            loss = model(input_ids=ids, attention_mask=att, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def build_small_gpt2(texts, config: SmallGPT2Config | None = None, cache_dir=None, seed: int = 0) -> Path:
    """Build (or find in the cache) the small GPT-2 pi_SFT for ``texts`` (prompt + response strings, e.g.
    ``"Describe yourself. Worry about things"``) and return its folder; load it with :func:`load_causal_lm`.

    Cached under ``cache_dir`` (default :func:`default_cache_dir`) as ``<model_cache_key>/``, written
    atomically (a temporary folder renamed into place)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = config or SmallGPT2Config()
    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("texts: empty; the tokenizer and the SFT need the study's texts")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / model_cache_key(texts, config, seed)
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path
    tok = _train_tokenizer(texts, config)
    gcfg = GPT2Config(vocab_size=len(tok), n_positions=config.n_positions, n_embd=config.n_embd,
                      n_layer=config.n_layer, n_head=config.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                      attn_pdrop=0.0, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = GPT2LMHeadModel(gcfg)  # its constructor's random draws are all overwritten below
    _init_gpt2_(model, config.n_layer, gcfg.initializer_range, torch_generator(seed, "gpt2_init"))
    _sft(model, tok, texts, config, seed)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{path.name}."))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if path.exists():  # a concurrent build finished first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
