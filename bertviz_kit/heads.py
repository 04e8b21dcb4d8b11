"""The tutorial's custom model: a pretrained encoder plus a linear projection head."""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
from torch import nn

from .encoding import Encoder

__all__ = ["EncoderWithHead"]

logger = logging.getLogger(__name__)


class EncoderWithHead(nn.Module):
    """Encoder + linear head, as the tutorial's ``MyModel`` (BERT 768 -> 300).

    ``forward`` returns ``(projected, last_hidden, all_hidden)``:

    - ``projected``: ``[batch, tokens, out_features]``, the head applied to every token;
    - ``last_hidden``: ``[batch, tokens, dim]``, the encoder's last layer;
    - ``all_hidden``: tuple of ``n_layers + 1`` tensors ``[batch, tokens, dim]``.

    Create it with :meth:`from_pretrained` (which reports, as the tutorial's
    log did, which weights are new and which pretrained weights went unused)
    or from an already loaded :class:`~bertviz_kit.encoding.Encoder`.

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
        if isinstance(encoder, Encoder):
            self.tokenizer = encoder.tokenizer
            model = encoder.model
            if loading_info is None:
                loading_info = encoder.loading_info
        elif isinstance(encoder, nn.Module) and hasattr(encoder, "config"):
            self.tokenizer = None
            model = encoder
        else:
            raise TypeError(
                f"encoder must be an Encoder (bk.load) or a transformers model; "
                f"got {type(encoder).__name__}."
            )
        if isinstance(out_features, bool) or not isinstance(out_features, int) or out_features < 1:
            raise ValueError(f"out_features must be an int >= 1; got {out_features!r}.")
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
        return self.head.in_features

    @property
    def out_features(self) -> int:
        return self.head.out_features

    @classmethod
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
        from .loading import load

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

    def tokenize(self, texts: str | list[str]) -> dict[str, torch.Tensor]:
        """Tokenize with the encoder's tokenizer into padded tensors for :meth:`forward`."""
        if self.tokenizer is None:
            raise ValueError("this EncoderWithHead was built from a bare model; it has no "
                             "tokenizer. Build it from bk.load(...) or from_pretrained().")
        device = next(self.encoder.parameters()).device
        batch = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        return {k: v.to(device) for k, v in batch.items()}
