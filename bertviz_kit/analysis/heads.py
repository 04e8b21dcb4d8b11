"""The tutorial's custom model: a pretrained encoder plus a linear projection head."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .._validation import (
    PATH,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Texts,
    Unchecked,
    validate_params,
)
from ..encoder import Encoder
from ..vectors.pooling import pool_tokens

__all__ = ["EncoderWithHead"]

logger = logging.getLogger(__name__)

_TEXTS = Texts()
_LABELS = Instance(list, tuple, label="a sequence of labels, one per text")


class EncoderWithHead(nn.Module):
    """Encoder + linear head, as the tutorial's ``MyModel`` (BERT 768 -> 300).

    ``forward`` returns ``(projected, last_hidden, all_hidden)``:

    - ``projected``: ``[batch, tokens, out_features]``, the head applied to every token;
    - ``last_hidden``: ``[batch, tokens, dim]``, the encoder's last layer;
    - ``all_hidden``: tuple of ``n_layers + 1`` tensors ``[batch, tokens, dim]``.

    Create it with :meth:`from_pretrained` (which reports, as the tutorial's
    log did, which weights are new and which pretrained weights went unused)
    or from an already loaded :class:`~bertviz_kit.Encoder`.

    Parameters
    ----------
    encoder : Encoder or transformers.PreTrainedModel
        The encoder to wrap (shared, not copied).
    out_features : int, default 300
    freeze_encoder : bool, default False
        Turn off gradients for the encoder, so only the head trains.
    seed : int, optional
        Seed for the head's random initialization.

    Attributes
    ----------
    newly_initialized : list of str
        Parameters not loaded from the checkpoint (the head, plus any encoder
        weight the checkpoint lacked).
    unused_pretrained : list of str
        Checkpoint weights the model did not use (e.g. the MLM head of
        ``bert-base-cased``: ``cls.predictions.*``).
    """

    @validate_params({"encoder": Instance(Encoder, nn.Module, label="an Encoder (bk.load) or a torch module"),
                      "out_features": Interval(int, 1), "freeze_encoder": Boolean(),
                      "seed": NoneOr(Interval(int, 0), "torch's current random state"),
                      "loading_info": NoneOr(Instance(dict), "none")})
    def __init__(
        self,
        encoder: Encoder | nn.Module,
        out_features: int = 300,
        *,
        freeze_encoder: bool = False,
        seed: int | None = None,
        loading_info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._source: Encoder | None = None  # the Encoder whose encode() computes features
        if isinstance(encoder, Encoder):
            self.tokenizer = encoder.tokenizer
            model = encoder.model
            self._source = encoder
            if loading_info is None:
                loading_info = encoder.loading_info
        elif isinstance(encoder, nn.Module) and hasattr(encoder, "config"):
            self.tokenizer = None
            model = encoder
        else:
            raise InvalidParameterError(
                f"encoder must be an Encoder (bk.load) or a transformers model; "
                f"got {type(encoder).__name__}."
            )
        if isinstance(out_features, bool) or not isinstance(out_features, int) or out_features < 1:
            raise InvalidParameterError(f"out_features must be an int >= 1; got {out_features!r}.")
        self.encoder = model
        hidden = int(model.config.hidden_size)
        generator_state = None
        if seed is not None:
            generator_state = torch.random.get_rng_state()
            torch.manual_seed(seed)
        self.head = nn.Linear(hidden, out_features)
        if generator_state is not None:
            torch.random.set_rng_state(generator_state)
        self.head.to(next(model.parameters()).device)
        if freeze_encoder:
            self.encoder.requires_grad_(False)
        info = loading_info or {}
        self.newly_initialized = sorted(f"encoder.{k}" for k in info.get("missing_keys", ())) + [
            "head.weight",
            "head.bias",
        ]
        self.unused_pretrained = sorted(info.get("unexpected_keys", ()))
        logger.info("Weights of EncoderWithHead not initialized from pretrained model: %s",
                    self.newly_initialized)
        logger.info("Weights from pretrained model not used in EncoderWithHead: %s",
                    self.unused_pretrained)

    @property
    def in_features(self) -> int:
        """Width of the head's input: the encoder's hidden size (384 for MiniLM, 768 for BERT-base)."""
        return self.head.in_features

    @property
    def out_features(self) -> int:
        """Width of the head's output (the number of classes, or 300 in the tutorial's model)."""
        return self.head.out_features

    @classmethod
    @validate_params({"model": NoneOr(PATH, "the configured or bundled model"), "out_features": Interval(int, 1),
                      "freeze_encoder": Boolean(), "seed": NoneOr(Interval(int, 0), "torch's current random state"),
                      "load_kwargs": Unchecked("options of bk.load, which checks them")})
    def from_pretrained(
        cls,
        model: str | os.PathLike | None = None,
        out_features: int = 300,
        *,
        freeze_encoder: bool = False,
        seed: int | None = None,
        **load_kwargs: Any,
    ) -> EncoderWithHead:
        """Load an encoder (as :func:`bertviz_kit.load` does) and add a fresh head.

        ``load_kwargs`` go to :func:`bertviz_kit.load` (device, dtype, download, ...).
        The checkpoint's loading report (``Encoder.loading_info``) is kept in
        :attr:`newly_initialized` and :attr:`unused_pretrained`.
        """
        from ..loading import load

        enc = load(model, **load_kwargs)
        return cls(enc, out_features, freeze_encoder=freeze_encoder, seed=seed)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """Run the encoder (all layers kept) and project every token.

        Parameters
        ----------
        input_ids : LongTensor ``[batch, tokens]``
        attention_mask : LongTensor ``[batch, tokens]``, optional
        token_type_ids : LongTensor ``[batch, tokens]``, optional
        """
        kwargs = {"attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        out = self.encoder(input_ids, output_hidden_states=True, return_dict=True, **kwargs)
        last = out.last_hidden_state
        return self.head(last), last, tuple(out.hidden_states)

    @validate_params({"texts": _TEXTS})
    def tokenize(self, texts: str | list[str]) -> dict[str, torch.Tensor]:
        """Tokenize with the encoder's tokenizer into padded tensors for :meth:`forward`."""
        if self.tokenizer is None:
            raise InvalidParameterError("this EncoderWithHead was built from a bare model; it has no "
                             "tokenizer. Build it from bk.load(...) or from_pretrained().")
        device = next(self.encoder.parameters()).device
        batch = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        return {k: v.to(device) for k, v in batch.items()}

    # -- training the head on a frozen encoder ---------------------------------
    @validate_params({"texts": _TEXTS, "batch_size": Interval(int, 1), "progress": Boolean()})
    def sentence_features(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> torch.Tensor:
        """The frozen encoder's sentence vectors: ``[n_texts, in_features]``.

        Mean of the last layer over each text's tokens, [CLS]/[SEP] and padding
        left out (as :func:`bertviz_kit.sentence_vector`). Runs in
        ``torch.inference_mode`` with the encoder in eval mode.
        """
        texts = _check_texts(texts)
        _check_positive_int("batch_size", batch_size)
        if self._source is None:
            raise InvalidParameterError("this EncoderWithHead was built from a bare model; it has no "
                             "tokenizer. Build it from bk.load(...) or from_pretrained().")
        was_training = self.encoder.training
        self.encoder.eval()
        try:  # the encoder's own batching, windowing (long texts are never cut) and kernels
            es = self._source.encode(texts, batch_size=batch_size, progress=progress, layers=[-1])
        finally:
            self.encoder.train(was_training)
        keep = es.word_index >= 0  # [CLS]/[SEP] left out; an empty text gives a zero vector
        group = torch.where(keep, es.text_index, torch.full_like(es.text_index, -1))
        return pool_tokens(es.hidden, [0], "sum", group, len(es), "mean").cpu()

    @validate_params({"texts": _TEXTS, "labels": _LABELS, "epochs": Interval(int, 1),
                      "lr": Interval(float, 0, closed="neither"), "weight_decay": Interval(float, 0),
                      "batch_size": Interval(int, 1), "seed": Interval(int, 0), "progress": Boolean()})
    def fit_head(
        self,
        texts: Sequence[str],
        labels: Sequence[object],
        *,
        epochs: int = 100,
        lr: float = 0.01,
        weight_decay: float = 0.0,
        batch_size: int = 32,
        seed: int = 0,
        progress: bool = False,
    ) -> list[float]:
        """Train only the head as a sentence classifier; the encoder stays frozen.

        The encoder runs once (:meth:`sentence_features`); the head then learns
        ``logits = head(sentence vector)`` with cross-entropy and Adam on those
        fixed features. As the head is linear, this equals averaging the head's
        per-token outputs. ``out_features`` must equal the number of classes.

        Parameters
        ----------
        texts : sequence of str
        labels : sequence, same length
            Any hashable labels; their sorted unique values become
            :attr:`classes_` (logit ``k`` is ``classes_[k]``).
        epochs : int, default 100
            Passes over the training set.
        lr : float, default 0.01
        weight_decay : float, default 0.0
        batch_size : int, default 32
            Texts per encoder batch and per optimizer step.
        seed : int, default 0
            Seeds the head's re-initialization and the shuffling (a private
            generator; the global RNG state is restored).
        progress : bool, default False
            Progress bars (``tqdm.auto``) for encoding and for the epochs.

        Returns
        -------
        list of float
            Mean training loss of every epoch.
        """
        texts = _check_texts(texts)
        for name, v in (("epochs", epochs), ("batch_size", batch_size)):
            _check_positive_int(name, v)
        for name, v in (("lr", lr), ("weight_decay", weight_decay)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (name == "lr" and v == 0):
                raise InvalidParameterError(f"{name} must be a number {'> 0' if name == 'lr' else '>= 0'}; got {v!r}.")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidParameterError(f"seed must be an int >= 0; got {seed!r}.")
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence) or len(labels) != len(texts):
            got = len(labels) if isinstance(labels, Sequence) else type(labels).__name__
            raise InvalidParameterError(f"labels must be a sequence with one label per text ({len(texts)}); got {got}.")
        classes = sorted(set(labels), key=repr) if not _sortable(labels) else sorted(set(labels))
        if len(classes) < 2:
            raise InvalidParameterError(f"labels must hold at least two classes; got {classes}.")
        if len(classes) != self.out_features:
            raise InvalidParameterError(
                f"out_features ({self.out_features}) must equal the number of classes "
                f"({len(classes)}: {classes}); build the model with out_features={len(classes)}."
            )
        index = {c: k for k, c in enumerate(classes)}
        y = torch.tensor([index[v] for v in labels], dtype=torch.long)
        x = self.sentence_features(texts, batch_size=batch_size, progress=progress)
        device = self.head.weight.device
        x, y = x.to(device), y.to(device)

        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            self.head.reset_parameters()
        finally:
            torch.random.set_rng_state(state)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.head.parameters(), lr=lr, weight_decay=weight_decay)
        loss_fn = nn.CrossEntropyLoss()
        rounds = range(epochs)
        if progress:
            from tqdm.auto import tqdm

            rounds = tqdm(rounds, desc="training head", unit="epoch")
        history = []
        self.head.train()
        for _ in rounds:
            order = torch.randperm(len(texts), generator=gen).to(device)
            total = 0.0
            for s in range(0, len(texts), batch_size):
                idx = order[s:s + batch_size]
                opt.zero_grad()
                loss = loss_fn(self.head(x[idx]), y[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            history.append(total / len(texts))
        self.head.eval()
        self.classes_ = classes
        return history

    @validate_params({"texts": _TEXTS, "batch_size": Interval(int, 1), "progress": Boolean()})
    def transform(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> torch.Tensor:
        """The head's output for each text (its projected sentence vector): ``[n_texts, out_features]``."""
        x = self.sentence_features(texts, batch_size=batch_size, progress=progress)
        with torch.inference_mode():
            return self.head(x.to(self.head.weight.device)).float().cpu()

    @validate_params({"texts": _TEXTS, "batch_size": Interval(int, 1)})
    def predict(self, texts: Sequence[str], *, batch_size: int = 32) -> list[object]:
        """The predicted label of each text (after :meth:`fit_head`)."""
        classes = getattr(self, "classes_", None)
        if classes is None:
            raise ValueError("the head has not been trained for classification; call fit_head(texts, labels) first.")
        logits = self.transform(texts, batch_size=batch_size)
        return [classes[k] for k in logits.argmax(dim=1).tolist()]

    @validate_params({"texts": _TEXTS, "labels": _LABELS, "batch_size": Interval(int, 1)})
    def score(self, texts: Sequence[str], labels: Sequence[object], *, batch_size: int = 32) -> float:
        """Accuracy of :meth:`predict` on labelled texts (e.g. a held-out set)."""
        texts = _check_texts(texts)
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence) or len(labels) != len(texts):
            raise InvalidParameterError(f"labels must be a sequence with one label per text ({len(texts)}).")
        pred = self.predict(texts, batch_size=batch_size)
        return sum(p == t for p, t in zip(pred, labels)) / len(texts)


def _sortable(values: Sequence[object]) -> bool:
    try:
        sorted(set(values))
    except TypeError:
        return False
    return True


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise InvalidParameterError(f"texts must be a list of str; got {type(texts).__name__}.")
    if not texts:
        raise InvalidParameterError("texts must hold at least one text; got an empty list.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidParameterError(f"texts[{i}] must be a str; got {type(t).__name__}.")
    return list(texts)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(f"{name} must be an int >= 1; got {value!r}.")
