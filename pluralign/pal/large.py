"""PAL-A-Large / PAL-B-Large: a transformers encoder fine-tuned end to end with PAL's 2-layer MLP
(seed 002, PAL, sec. 3: "In the *Large* strategy, f is a combination of the foundation model and a
two-layer MLP, with both components being learnable"; App. D.1 / D.3).

* :class:`TextEncoder` — ``AutoModel.from_pretrained`` on a folder (default: the packaged MiniLM,
  :func:`pluralign.pal.embed.minilm_path`, read offline) + its tokenizer, **mean pooling** over the
  attention mask and L2 normalisation (the all-MiniLM-L6-v2 sentence pipeline, so the frozen encoder
  gives the Tiny strategy's embeddings). Errors: a missing folder, a folder without a transformers config,
  a decoder-only or encoder-decoder model, or one without a tokenizer are each a ``ValueError`` naming
  ``model``.
* **Truncation rule.** The context is ``max_length`` tokens (default: the encoder's own context,
  min(tokenizer.model_max_length, config.max_position_embeddings), special tokens included; a larger
  ``max_length`` is refused). A text whose tokenization is longer is, with ``on_overflow="error"`` (the
  default), a ``ValueError`` naming the first such text and its token count; with
  ``on_overflow="truncate"`` its tokens past the context are dropped (the head of the text is kept, the
  tail cut), and :attr:`TextEncoder.n_truncated` counts the texts cut so far.
* :class:`PALLargeModel` — the encoder and a PAL head (a :class:`pluralign.pal.PALA` / :class:`PALB`
  built by :class:`pluralign.pal.PALRewardModel` from a :class:`pluralign.pal.PALConfig`, so the head is
  exactly the Tiny strategy's on the encoder's hidden size). ``save_pretrained(dir)`` writes the encoder
  and tokenizer (``encoder/``, transformers' own format), the head (``pal_head.safetensors``) and the
  configuration (``pal_large.json``); ``from_pretrained(dir)`` rebuilds the same model, so a saved and
  reloaded model gives identical rewards.
* :class:`PALLarge` — the estimator: ``fit(choices, texts)`` trains encoder, map, prototypes and user
  weights jointly by Adam with one learning rate per group (encoder, map, prototypes, weights; App. D.3,
  Table 4 prints 9.65e-6 for the foundation model), in mini-batches re-encoding the option texts at every
  step (the encoder is trained, without dropout: see :meth:`PALLarge.fit`). ``choices.options`` (M, n)
  index ``texts``. With ``freeze_encoder`` the
  fit is the Tiny strategy's fit on the frozen embeddings (same build, optimizer, batch order, loss).
  After a fit the encoder is frozen for unseen users (App. D.3.1: "keeping the LLM components and MLP
  projectors fixed"): :meth:`PALLarge.as_tiny` wraps the head as a fitted
  :class:`pluralign.pal.PALRewardModel` to be used on :meth:`PALLarge.embed` features (few-shot
  localization, active queries, accuracy).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pluralign.data import Choices
from pluralign.pal.models import PALA, PALB
from pluralign.pal.train import PALConfig, PALRewardModel, pal_loss

__all__ = ["TextEncoder", "load_encoder", "PALLargeModel", "PALLargeConfig", "PALLarge", "count_parameters",
           "OVERFLOW_RULES"]

OVERFLOW_RULES = ("error", "truncate")
"""What a text longer than the encoder's context gets: a ValueError, or its tail cut (see module doc)."""


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model")
"""A model folder must hold one of these (transformers would otherwise build an empty tokenizer silently)."""


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _model_dir(model: str | os.PathLike | None) -> Path:
    """The folder of ``model`` (None: the packaged MiniLM); ValueError if it is not a transformers folder."""
    if model is None:
        from pluralign.pal.embed import minilm_path

        return minilm_path()
    path = Path(model)
    if not path.exists():
        raise ValueError(f"model: no such folder {path} (pass a local transformers model folder; nothing is downloaded)")
    if not path.is_dir():
        raise ValueError(f"model: {path} is a file, expected a transformers model folder")
    if not (path / "config.json").exists():
        raise ValueError(f"model: {path} has no config.json; not a transformers model folder")
    return path


def load_encoder(model: str | os.PathLike | None = None):
    """``(AutoModel, AutoTokenizer, folder)`` of a local encoder folder (None: the packaged MiniLM),
    read offline. ValueError naming ``model`` for a missing folder, a folder that is not a transformers
    model, a decoder-only or encoder-decoder model (PAL-Large pools an encoder's hidden states), or a
    missing tokenizer."""
    _offline()
    path = _model_dir(model)
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_MASKED_LM_MAPPING_NAMES

    try:
        cfg = AutoConfig.from_pretrained(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"model: {path} has no readable transformers config ({exc})") from None
    mtype = getattr(cfg, "model_type", "")
    if getattr(cfg, "is_encoder_decoder", False):
        raise ValueError(f"model: {path} is an encoder-decoder model ({mtype}); PAL-Large needs an encoder")
    if getattr(cfg, "is_decoder", False) or (mtype in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
                                             and mtype not in MODEL_FOR_MASKED_LM_MAPPING_NAMES):
        raise ValueError(f"model: {path} is a decoder-only model ({mtype}); PAL-Large needs an encoder")
    if not isinstance(getattr(cfg, "hidden_size", None), int):
        raise ValueError(f"model: {path} ({mtype}) has no hidden_size; not a text encoder")
    files = [f for f in TOKENIZER_FILES if (path / f).exists()]
    if not files:
        raise ValueError(f"model: {path} has no tokenizer (none of {', '.join(TOKENIZER_FILES)})")
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"model: {path} has no tokenizer ({type(exc).__name__}: {str(exc)[:120]})") from None
    if tok is None or not callable(tok):
        raise ValueError(f"model: {path} has no tokenizer")
    vocab = getattr(cfg, "vocab_size", None)
    if len(tok) <= 16 or (isinstance(vocab, int) and len(tok) > vocab):
        raise ValueError(f"model: {path}: its tokenizer ({len(tok)} tokens) does not fit the model (vocab_size {vocab})")
    try:
        enc = AutoModel.from_pretrained(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"model: {path}: the weights could not be loaded ({str(exc)[:160]})") from None
    return enc, tok, path


class TextEncoder(nn.Module):
    """A transformers encoder + tokenizer -> unit-norm mean-pooled text embeddings (B, hidden_size)."""

    def __init__(self, model: str | os.PathLike | None = None, max_length: int | None = None,
                 on_overflow: str = "error", *, _loaded=None):
        super().__init__()
        if on_overflow not in OVERFLOW_RULES:
            raise ValueError(f"on_overflow: expected one of {OVERFLOW_RULES}, got {on_overflow!r}")
        self.model, self.tokenizer, self.path = _loaded if _loaded is not None else load_encoder(model)
        ctx = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)
        tmax = getattr(self.tokenizer, "model_max_length", None)
        limits = [v for v in (ctx, tmax) if isinstance(v, int) and 0 < v < 10**7]
        self.context_length = min(limits) if limits else None
        if max_length is None:
            if self.context_length is None:
                raise ValueError("max_length: the encoder states no context length; pass max_length")
            max_length = self.context_length
        if int(max_length) < 2:
            raise ValueError(f"max_length: must be >= 2, got {max_length}")
        if self.context_length is not None and int(max_length) > self.context_length:
            raise ValueError(f"max_length: {max_length} exceeds the encoder's context of {self.context_length} tokens")
        self.max_length = int(max_length)
        self.on_overflow = on_overflow
        self.n_truncated = 0
        self.train(self.model.training)  # from_pretrained gives eval mode (no dropout)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def token_lengths(self, texts: Sequence[str]) -> np.ndarray:
        """Token count of every text (special tokens included), before any truncation."""
        ids = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return np.asarray([len(i) for i in ids])

    def tokenize(self, texts: Sequence[str]):
        """Padded tensors of ``texts`` under the truncation rule (module doc)."""
        texts = list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts: need a non-empty list of strings")
        lengths = self.token_lengths(texts)
        over = np.flatnonzero(lengths > self.max_length)
        if over.size:
            if self.on_overflow == "error":
                i = int(over[0])
                raise ValueError(f"texts: text {i} has {lengths[i]} tokens, beyond the context of {self.max_length} "
                                 f"({over.size} text(s) too long; shorten them or use on_overflow='truncate', "
                                 "which keeps the first max_length tokens)")
            self.n_truncated += int(over.size)
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        batch = self.tokenize(texts)
        hidden = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            **({"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch else {})
                            ).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)
        return nn.functional.normalize(pooled, dim=-1)

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """(len(texts), hidden_size) float32 embeddings with the encoder as it is now (eval mode, no grad)."""
        texts = list(texts)
        was = self.training
        self.eval()
        try:
            out = [self(texts[s : s + batch_size]).numpy() for s in
                   tqdm(range(0, len(texts), batch_size), disable=not progress, desc="encode", leave=False)]
        finally:
            self.train(was)
        return np.concatenate(out).astype(np.float32)


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``module``."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only))


class PALLargeModel(nn.Module):
    """A text encoder and a PAL head: ``forward(texts, options, users)`` scores the (M, n) option texts
    ``texts[options]`` for the seen users ``users`` (M,); ``utilities_w`` takes explicit weights (M, K)."""

    def __init__(self, encoder: TextEncoder, head: PALA | PALB, pal: PALConfig):
        super().__init__()
        if not isinstance(head, (PALA, PALB)):
            raise ValueError(f"head: expected a PALA or PALB, got {type(head).__name__}")
        self.encoder = encoder
        self.head = head
        self.pal = pal

    def features(self, texts: Sequence[str], options: np.ndarray) -> torch.Tensor:
        """(M, n, hidden) embeddings of the option texts, each distinct text encoded once."""
        options = np.asarray(options)
        uniq, inv = np.unique(options, return_inverse=True)
        emb = self.encoder([texts[int(i)] for i in uniq])
        return emb[torch.as_tensor(inv.reshape(options.shape))]

    def forward(self, texts, options, users):
        return self.head(self.features(texts, options), torch.as_tensor(users, dtype=torch.long))

    def utilities_w(self, texts, options, w):
        return self.head.utilities_w(self.features(texts, options), torch.as_tensor(w, dtype=torch.float32))

    # ------------------------------------------------------------------ save / load
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the whole model under ``directory`` (encoder + tokenizer, head, configuration)."""
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.encoder.model.save_pretrained(str(d / "encoder"))
        self.encoder.tokenizer.save_pretrained(str(d / "encoder"))
        save_file({k: v.detach().contiguous() for k, v in self.head.state_dict().items()}, str(d / "pal_head.safetensors"))
        meta = {"pal": asdict(self.pal), "n_users": int(self.head.user_logits.shape[0]),
                "d_in": self.encoder.hidden_size, "max_length": self.encoder.max_length,
                "on_overflow": self.encoder.on_overflow, "pooling": "mean+l2"}
        (d / "pal_large.json").write_text(json.dumps(meta, indent=2) + "\n")
        return d

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> "PALLargeModel":
        """The model :meth:`save_pretrained` wrote; ValueError if ``directory`` holds none."""
        from safetensors.torch import load_file

        d = Path(directory)
        if not (d / "pal_large.json").exists() or not (d / "pal_head.safetensors").exists():
            raise ValueError(f"directory: {d} holds no saved PAL-Large model (pal_large.json, pal_head.safetensors)")
        meta = json.loads((d / "pal_large.json").read_text())
        pal = PALConfig(**meta["pal"])
        encoder = TextEncoder(d / "encoder", max_length=meta["max_length"], on_overflow=meta["on_overflow"])
        head = PALRewardModel(pal)._build(int(meta["d_in"]), int(meta["n_users"]), seed=pal.seed)
        head.load_state_dict(load_file(str(d / "pal_head.safetensors")))
        return cls(encoder, head, pal)


@dataclass
class PALLargeConfig:
    """Hyper-parameters of a PAL-Large fit (the head's are in ``pal``)."""

    pal: PALConfig = field(default_factory=PALConfig)
    """The PAL head (model A / B, K, MLP map, latent size, loss, learning rates of map / prototypes /
    weights, weight decay, epochs, batch size, seed); ``n_restarts`` must be 1 here."""
    model: str | None = None
    """Encoder folder (None: the packaged MiniLM)."""
    lr_encoder: float = 9.65e-6
    """Adam learning rate of the encoder (seed 002, App. D.3 / Table 4: 9.65e-6)."""
    weight_decay_encoder: float = 0.0
    """Weight decay of the encoder (Table 4: 0.0)."""
    max_length: int | None = None
    """Context in tokens (None: the encoder's own; see the truncation rule)."""
    on_overflow: str = "error"
    """'error' or 'truncate' for texts longer than the context."""
    freeze_encoder: bool = False
    """Keep the encoder fixed (then the fit is the Tiny strategy's on the frozen embeddings)."""

    def validate(self) -> "PALLargeConfig":
        self.pal.validate()
        if self.pal.n_restarts != 1:
            raise ValueError(f"pal.n_restarts: PAL-Large trains one start, got {self.pal.n_restarts}")
        if not self.lr_encoder > 0:
            raise ValueError(f"lr_encoder: must be > 0, got {self.lr_encoder}")
        if self.weight_decay_encoder < 0:
            raise ValueError(f"weight_decay_encoder: must be >= 0, got {self.weight_decay_encoder}")
        if self.on_overflow not in OVERFLOW_RULES:
            raise ValueError(f"on_overflow: expected one of {OVERFLOW_RULES}, got {self.on_overflow!r}")
        return self


class PALLarge:
    """The PAL-Large estimator: ``fit(choices, texts)`` -> self; learned ``model_`` (a
    :class:`PALLargeModel`), ``weights_`` (N, K), ``loss_history_`` (per epoch); see the module doc."""

    def __init__(self, config: PALLargeConfig | None = None, *, encoder: TextEncoder | None = None):
        self.config = (config if config is not None else PALLargeConfig()).validate()
        self._encoder = encoder

    def _make_encoder(self) -> TextEncoder:
        c = self.config
        if self._encoder is not None:
            return self._encoder
        return TextEncoder(c.model, max_length=c.max_length, on_overflow=c.on_overflow)

    @staticmethod
    def _check(choices: Choices, texts: Sequence[str]) -> None:
        if not isinstance(choices, Choices) or choices.options is None:
            raise ValueError("choices: PAL-Large needs a pluralign.data.Choices with options (M, n) indexing texts")
        if choices.options.min() < 0 or choices.options.max() >= len(texts):
            raise ValueError(f"choices: option ids must index texts (0..{len(texts) - 1})")

    def fit(self, choices: Choices, texts: Sequence[str], progress: bool = False) -> "PALLarge":
        c, p = self.config, self.config.pal
        texts = list(texts)
        self._check(choices, texts)
        encoder = self._make_encoder()
        est = PALRewardModel(p)  # the Tiny head: the same build, optimizer groups and loss
        head = est._build(encoder.hidden_size, int(choices.n_users), seed=PALRewardModel.restart_seed(p.seed, 0))
        model = PALLargeModel(encoder, head, p)
        for q in encoder.parameters():
            q.requires_grad_(not c.freeze_encoder)
        opt = est._optimizer(head.param_groups())
        if not c.freeze_encoder:
            opt.add_param_group({"params": list(encoder.parameters()), "lr": c.lr_encoder,
                                 "weight_decay": c.weight_decay_encoder, "name": "encoder"})
        gen = torch.Generator().manual_seed(PALRewardModel.restart_seed(p.seed, 0))
        M = len(choices)
        bs = M if p.batch_size in (0, None) or p.batch_size >= M else p.batch_size
        users = torch.as_tensor(choices.user, dtype=torch.long)
        chosen = torch.as_tensor(choices.chosen, dtype=torch.long)
        mask = torch.as_tensor(choices.mask, dtype=torch.bool)
        weight = torch.as_tensor(choices.weight, dtype=torch.float32)
        self.loss_history_ = []
        # the encoder runs without dropout (eval mode) also while it is fine-tuned: dropout would draw from
        # torch's global RNG (no seeded generator reaches it), and a frozen encoder must give the Tiny
        # embeddings; the head has no dropout (Table 4: "mlp-2layer-gelu-dropout0")
        model.eval()
        with tqdm(total=p.epochs * ((M + bs - 1) // bs), disable=not progress, desc=f"PAL-{p.model}-Large",
                  leave=False) as bar:
            for _ in range(p.epochs):
                order = torch.randperm(M, generator=gen) if bs < M else torch.arange(M)
                total = 0.0
                for s in range(0, M, bs):
                    ix = order[s : s + bs]
                    if c.freeze_encoder:
                        with torch.no_grad():
                            x = model.features(texts, choices.options[ix.numpy()])
                    else:
                        x = model.features(texts, choices.options[ix.numpy()])
                    u = head(x, users[ix])
                    loss = pal_loss(u, chosen[ix], mask[ix], weight[ix], p.loss, p.margin, validate=False)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(ix)
                    bar.update(1)
                self.loss_history_.append(total / M)
        for q in encoder.parameters():
            q.requires_grad_(False)  # fitted: the encoder stays fixed from here on (unseen users, D.3.1)
        model.eval()
        self.model_ = model
        self.n_users_ = int(choices.n_users)
        self.weights_ = head.weights().detach().numpy().astype(float)
        return self

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> "PALLarge":
        """A fitted estimator from a :meth:`PALLargeModel.save_pretrained` folder."""
        model = PALLargeModel.from_pretrained(directory)
        est = cls(PALLargeConfig(pal=model.pal, max_length=model.encoder.max_length,
                                 on_overflow=model.encoder.on_overflow), encoder=model.encoder)
        for q in model.encoder.parameters():
            q.requires_grad_(False)
        model.eval()
        est.model_, est.n_users_ = model, int(model.head.user_logits.shape[0])
        est.weights_ = model.head.weights().detach().numpy().astype(float)
        est.loss_history_ = []
        return est

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        self._check_fitted()
        return self.model_.save_pretrained(directory)

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise ValueError("PALLarge: model not fitted; call fit first")

    def embed(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """The fitted (now fixed) encoder's embeddings of ``texts``: the features of :meth:`as_tiny`."""
        self._check_fitted()
        return self.model_.encoder.encode(texts, batch_size=batch_size, progress=progress)

    def as_tiny(self) -> PALRewardModel:
        """The fitted head as a fitted :class:`PALRewardModel` on :meth:`embed` features (it shares the
        head's parameters): seen-user accuracy, few-shot ``localize`` and active queries with the encoder
        and map fixed."""
        self._check_fitted()
        return PALRewardModel.from_module(self.model_.head, self.config.pal)

    def rewards(self, choices: Choices, texts: Sequence[str], weights=None) -> np.ndarray:
        """(M, n) rewards of the option texts for the seen users (``weights`` None) or given weights
        ((N, K) per user or (K,) for all), end to end from the texts."""
        self._check_fitted()
        texts = list(texts)
        self._check(choices, texts)
        with torch.no_grad():
            if weights is None:
                u = self.model_(texts, choices.options, choices.user)
            else:
                W = np.asarray(weights, dtype=np.float32)
                W = np.broadcast_to(W, (int(choices.user.max()) + 1, W.shape[-1])) if W.ndim == 1 else W
                u = self.model_.utilities_w(texts, choices.options, W[choices.user])
        return u.masked_fill(~torch.as_tensor(choices.mask), -np.inf).numpy().astype(float)

    def trainable_parameters(self) -> int:
        """Parameters trained by :meth:`fit`: encoder (unless frozen) + head."""
        self._check_fitted()
        head = sum(q.numel() for q in self.model_.head.parameters())
        enc = 0 if self.config.freeze_encoder else sum(q.numel() for q in self.model_.encoder.parameters())
        return int(head + enc)
