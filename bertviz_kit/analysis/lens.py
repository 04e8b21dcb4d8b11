"""A lens on every layer: which vocabulary items one token's hidden state is closest to.

``bk.lens(e, "bank", enc=enc)`` reads the hidden state of one token at every
stored layer of an :class:`~bertviz_kit.encoding.Encoding` and ranks the whole
vocabulary against it, in one of two ways:

* ``kind="mlm"``: through the checkpoint's own masked-language-model head
  (``AutoModelForMaskedLM`` of the same folder, loaded offline from safetensors
  only, never running the folder's code): the head (for BERT ``cls.predictions``:
  dense + activation + LayerNorm, then the decoder tied to the input
  embeddings) is applied to each layer's hidden state, followed by a softmax.
  At the last layer this is exactly the model's masked-LM prediction; at a
  ``[MASK]`` token it is the model's guess for the hidden word.
* ``kind="embeddings"``: cosine of the hidden state to every row of the
  model's *input* embedding matrix. Works for any encoder, the bundled
  all-MiniLM-L6-v2 (which ships no masked-LM head) included.

``kind="auto"`` (default) takes ``"mlm"`` when the folder holds masked-LM head
weights, otherwise ``"embeddings"``.

The encoder is passed as ``enc=``: the encoding holds hidden states only, the
vocabulary, the embedding matrix and the head live with the encoder that made
it. A word is read through :mod:`bertviz_kit.vectors.addressing` (a word string with
``occurrence=``, or ``word=`` / ``token=`` indices); for a word split into
several pieces the lens looks at its **first piece** (the rank of the "true
token" is then the rank of that piece).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch

from .._validation import Instance, Interval, InvalidParameterError, NoneOr, Options, check, validate_params
from ..encoder import Encoder
from ..encoding import IS_ENCODING, Encoding, check_same_model
from ..vectors.addressing import WordArg, describe_token, resolve_token

__all__ = ["lens", "LensResult", "LENS_KINDS"]

LENS_KINDS = ("auto", "embeddings", "mlm")

#: The masked-LM model loaded for each encoder (loaded once, dropped with the encoder).
_MLM_CACHE: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

#: Each encoder's unit-length input embedding rows, with the version of the weight they
#: were made from (normalising a 30k x 384 matrix costs more than the lens itself).
_UNIT_EMB_CACHE: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class LensResult:
    """What :func:`lens` found for one token.

    Attributes
    ----------
    layer_ids : tuple of int
        Model layer of each row (0 = embeddings).
    tokens : tuple of tuple of str
        ``tokens[r]``: the top-k vocabulary items at layer ``layer_ids[r]``, best first.
    ids : torch.Tensor, int64 ``[n_layers, k]``
        Their vocabulary ids.
    scores : torch.Tensor, float32 ``[n_layers, k]``
        Their scores: probabilities (``kind="mlm"``) or cosines (``kind="embeddings"``).
    rank : torch.Tensor, int64 ``[n_layers]``
        Rank of the true token (the token looked at) per layer; 1 = the top item.
    true_token : str
        The token looked at (for a split word, its first piece).
    true_id : int
    token_index : int
        Its position in ``e.tokens``.
    label : str
        ``word 5 'bank'`` (as in other titles).
    kind : str
        ``"mlm"`` or ``"embeddings"`` (what ``"auto"`` chose).
    """

    layer_ids: tuple[int, ...]
    tokens: tuple[tuple[str, ...], ...]
    ids: torch.Tensor
    scores: torch.Tensor
    rank: torch.Tensor
    true_token: str
    true_id: int
    token_index: int
    label: str
    kind: str

    @property
    def k(self) -> int:
        """Predictions kept per layer: the second dimension of :attr:`ids`."""
        return int(self.ids.shape[1])

    def __repr__(self) -> str:
        return (f"LensResult({self.label}, kind={self.kind!r}, layers={list(self.layer_ids)}, k={self.k}, "
                f"rank={self.rank.tolist()})")


def _folder(enc: Encoder) -> str:
    return str(getattr(enc.model, "name_or_path", "") or getattr(enc.model.config, "_name_or_path", ""))


def _load_mlm(enc: Encoder) -> tuple[Any, bool]:
    """``(masked-LM model, head weights present)`` for ``enc``'s folder; ``(None, False)`` where
    the architecture has no masked-LM class. Offline, safetensors only, no remote code."""
    if enc in _MLM_CACHE:
        return _MLM_CACHE[enc]
    from transformers import AutoModelForMaskedLM

    from ..loading import quiet_transformers

    folder = _folder(enc)
    quiet_transformers()
    try:
        mlm, info = AutoModelForMaskedLM.from_pretrained(
            folder, output_loading_info=True, use_safetensors=True, trust_remote_code=False,
            local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError, KeyError):
        found: tuple[Any, bool] = (None, False)
    else:
        prefix = getattr(mlm, "base_model_prefix", "") + "."
        head_missing = [k for k in info.get("missing_keys", []) if not k.startswith(prefix)]
        mlm.eval()
        found = (mlm, not head_missing and _head(mlm) is not None)
    _MLM_CACHE[enc] = found
    return found


def _head(mlm: Any) -> Any:
    """The module that maps hidden states ``[..., D]`` to vocabulary logits."""
    if hasattr(mlm, "cls"):  # BERT: cls.predictions (transform + decoder)
        return mlm.cls
    if hasattr(mlm, "lm_head"):  # RoBERTa and relatives
        return mlm.lm_head
    if hasattr(mlm, "vocab_projector"):  # DistilBERT
        def distil(h: torch.Tensor) -> torch.Tensor:
            x = mlm.activation(mlm.vocab_transform(h))
            return mlm.vocab_projector(mlm.vocab_layer_norm(x))
        return distil
    return None


def _token_strings(enc: Encoder, ids: list[int]) -> list[str]:
    """The vocabulary items of ``ids`` (``<id>`` where the tokenizer has no string for one)."""
    table = enc.tokenizer.convert_ids_to_tokens(ids)
    return [t if t is not None else f"<{i}>" for i, t in zip(ids, table)]


def _unit_embeddings(enc: Encoder, emb: torch.Tensor) -> torch.Tensor:
    """``emb`` (the input embedding matrix) in float32 with unit-length rows, cached per encoder.

    Made again when the weight changes (another tensor, or an in-place update: its version).
    """
    stamp = (emb.data_ptr(), emb._version, tuple(emb.shape), emb.dtype, emb.device)
    hit = _UNIT_EMB_CACHE.get(enc)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    unit = torch.nn.functional.normalize(emb.float(), dim=-1)
    _UNIT_EMB_CACHE[enc] = (stamp, unit)
    return unit


@validate_params({
    "word_or_token": NoneOr(WordArg("e", token=True), "the last token"),
    "token": NoneOr(Interval(int), "word_or_token"),
    "e": IS_ENCODING,
    "k": Interval(int, 1),
    "kind": Options(LENS_KINDS),
    "enc": Instance(Encoder, label="an Encoder (from bk.load)"),
    "occurrence": NoneOr(Interval(int)),
})
def lens(
    e: Encoding,
    word_or_token: int | str | tuple[str, int] | None = None,
    k: int = 10,
    kind: str = "auto",
    *,
    enc: Encoder,
    occurrence: int | None = None,
    token: int | None = None,
) -> LensResult:
    """The vocabulary items closest to one token's hidden state, layer by layer.

    Parameters
    ----------
    e : Encoding
        From ``enc.encode(text)`` (every stored layer is read).
    word_or_token : str, int or (str, int)
        A word string (case-insensitive, whole words; ``occurrence=`` picks
        among repeats), a word index, or a ``(word, occurrence)`` pair. For a
        token index give ``token=`` instead. A word split into several pieces
        is looked at through its first piece.
    k : int, default 10
        Items kept per layer (at most the vocabulary size).
    kind : {"auto", "embeddings", "mlm"}
        ``"mlm"``: the checkpoint's masked-LM head, softmax probabilities;
        ``"embeddings"``: cosine to every input embedding; ``"auto"``: mlm
        when the model folder has masked-LM head weights, else embeddings.
    enc : Encoder
        The encoder that produced ``e`` (keyword only).
    occurrence : int, optional
        Which occurrence of a word string (0 = first, -1 = last).
    token : int, optional
        A token index into ``e.tokens`` instead of ``word_or_token``.

    Returns
    -------
    LensResult
        ``layer_ids``, ``tokens`` (top-k strings per layer), ``ids``,
        ``scores``, ``rank`` (1-based rank of the true token per layer).

    Raises
    ------
    InvalidParameterError
        For a word that does not occur, an index out of range, ``k`` larger
        than the vocabulary, ``kind="mlm"`` on a folder without a masked-LM
        head, or an encoding whose width does not match the encoder.

    Examples
    --------
    >>> r = bk.lens(e, "bank", enc=enc, kind="embeddings")   # doctest: +SKIP
    >>> r.tokens[0][:3], r.rank.tolist()                     # doctest: +SKIP
    """
    if word_or_token is None and token is None:
        raise InvalidParameterError("give a word (a word string or word index) or token= (a token index).")
    check("token", token, NoneOr(Interval(int)))
    t = resolve_token(e, token=token, word=word_or_token, occurrence=occurrence, name="token")
    dim = int(enc.dim)
    if e.dim != dim:
        raise InvalidParameterError(
            f"e has hidden states of width {e.dim} but enc's model has width {dim}: pass the encoder that "
            f"encoded e (e.model_name={e.model_name!r}, enc.name={enc.name!r}).")
    check_same_model(e, enc, "e", "enc", "pass the encoder that encoded e")
    emb = enc.model.get_input_embeddings().weight.detach()
    n_vocab = int(emb.shape[0])
    if k > n_vocab:
        raise InvalidParameterError(f"k must be an int in [1, {n_vocab}] (the vocabulary size); got {k}.")
    chosen = kind
    mlm = None
    if kind in ("auto", "mlm"):
        mlm, has_head = _load_mlm(enc)
        if has_head:
            chosen = "mlm"
        elif kind == "mlm":
            raise InvalidParameterError(
                f"kind='mlm' needs masked-LM head weights in the model folder {_folder(enc)!r}, and it has none "
                f"(a sentence encoder such as all-MiniLM-L6-v2 ships the encoder only); use kind='embeddings'.")
        else:
            chosen = "embeddings"
    h = e.hidden_states[:, t].float()  # [L, D]
    true_id = int(e.input_ids[t])
    with torch.no_grad():
        if chosen == "mlm":
            assert mlm is not None
            head = _head(mlm)
            dev = next(mlm.parameters()).device
            all_scores = torch.softmax(head(h.to(dev)).float(), dim=-1).cpu()
        else:
            w = _unit_embeddings(enc, emb).to(h.device)
            all_scores = torch.nn.functional.normalize(h, dim=-1) @ w.T
            all_scores = all_scores.cpu()
    scores, ids = all_scores.topk(k, dim=-1)
    true_score = all_scores[:, true_id : true_id + 1]
    rank = (all_scores > true_score).sum(dim=-1) + 1
    flat = _token_strings(enc, ids.flatten().tolist())
    tokens = tuple(tuple(flat[r * k:(r + 1) * k]) for r in range(ids.shape[0]))
    return LensResult(
        layer_ids=tuple(e.layer_ids), tokens=tokens, ids=ids, scores=scores, rank=rank,
        true_token=e.tokens[t], true_id=true_id, token_index=t, label=describe_token(e, t), kind=chosen)
