"""``[MASK]`` predictions at every layer, through the checkpoint's own masked-LM head.

``bk.fill_mask(enc, "the bank [MASK] was seen fishing", k=5)`` encodes the text
once and reads each mask token's hidden state at every layer through the
masked-language-model head with :func:`bertviz_kit.lens` (``kind="mlm"``): at
the last layer this is the model's own fill-mask prediction, at earlier layers
what the head makes of the half-built representation (a "logit lens").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from .._validation import TEXT, Instance, Interval, InvalidParameterError, check, validate_params
from ..encoder import Encoder
from ..encoding import Encoding
from .internals import IS_ENCODER
from .lens import LensResult, lens

__all__ = ["MaskPredictions", "fill_mask"]

_NO_HEAD = (
    "fill_mask needs a checkpoint with a masked-language-model head, and {name!r} has none (a sentence "
    "encoder such as the bundled all-MiniLM-L6-v2 ships the encoder only). Download one once with "
    "`bertviz-kit download bert-base-cased` (or bk.download('bert-base-cased')) and load it with "
    "bk.load('models/bert-base-cased')."
)


@dataclass(frozen=True, eq=False, repr=False)
class MaskPredictions:
    """What the model predicts for each mask token, layer by layer (what :func:`fill_mask` returns).

    Attributes
    ----------
    encoding : Encoding
        The encoded text (mask tokens included).
    positions : tuple of int, length ``n_masks``
        Token index of each mask token in ``encoding.tokens``.
    layers : tuple of LensResult, length ``n_masks``
        Per mask: ``tokens[r]`` (top-k strings), ``ids`` ``[n_layers + 1, k]`` and
        ``scores`` ``[n_layers + 1, k]`` (probabilities) at layer ``layer_ids[r]`` (0 = embeddings).
    """

    encoding: Encoding
    positions: tuple[int, ...]
    layers: tuple[LensResult, ...]

    @property
    def top(self) -> list[list[tuple[str, float]]]:
        """Per mask, the last layer's ``(token, probability)`` pairs, best first: the model's prediction."""
        return [list(zip(r.tokens[-1], r.scores[-1].tolist())) for r in self.layers]

    def __repr__(self) -> str:
        k = self.layers[0].k if self.layers else 0
        return (f"MaskPredictions(n_masks={len(self.positions)}, positions={list(self.positions)}, "
                f"layers={len(self.encoding.layer_ids)}, k={k}, top={[r.tokens[-1][0] for r in self.layers]})")


@validate_params({"enc": IS_ENCODER, "text": TEXT, "k": Interval(int, 1)})
def fill_mask(enc: Encoder, text: str, k: int = 5) -> MaskPredictions:
    """Top-``k`` predictions for every mask token of ``text``, at every layer.

    Parameters
    ----------
    enc : Encoder
        A checkpoint whose folder holds masked-LM head weights (e.g. ``bert-base-cased``).
    text : str
        A text with one or more mask tokens, written as the tokenizer spells it
        (``[MASK]`` for BERT, ``<mask>`` for RoBERTa).
    k : int, default 5
        Predictions kept per layer.

    Returns
    -------
    MaskPredictions
        ``layers[m]`` is the :class:`~bertviz_kit.LensResult` of mask ``m``; ``top`` the last
        layer's predictions.

    Raises
    ------
    InvalidParameterError
        For a text without a mask token, or a checkpoint without a masked-LM head (the message
        says how to download one).
    """
    check("enc", enc, Instance(Encoder, label="an Encoder (from bk.load)"))
    check("text", text, Instance(str, label="a str"))
    check("k", k, Interval(int, 1))
    mask = getattr(enc.tokenizer, "mask_token", None)
    if not mask or mask not in text:
        raise InvalidParameterError(f"text must contain the mask token {mask!r} of this tokenizer; got {text!r}.")
    with warnings.catch_warnings():  # the mask token is meant here: no "special token in the text" warning
        warnings.simplefilter("ignore", UserWarning)
        e = enc.encode(text)
    positions = tuple(i for i, t in enumerate(e.tokens) if t == mask)
    results = []
    for t in positions:
        try:
            results.append(lens(e, token=t, k=k, kind="mlm", enc=enc))
        except InvalidParameterError as err:
            if "kind='mlm'" not in str(err):
                raise
            raise InvalidParameterError(_NO_HEAD.format(name=enc.name)) from None
    return MaskPredictions(encoding=e, positions=positions, layers=tuple(results))

