"""A neuron view: the query-key product per dimension, and the feed-forward neurons that fire most.

``bk.query_key_products(r, head, token)`` splits one head's scores for one query
token into the products of the query and each key, dimension by dimension
(what bertviz's neuron view draws); ``bk.top_neurons(e, "bank", enc=enc)``
lists the feed-forward neurons with the largest activations for one token at
every layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import Instance, Interval, InvalidParameterError, NoneOr, check, validate_params
from ..encoder import Encoder
from ..encoding import IS_ENCODING, Encoding
from ..vectors.addressing import WordArg, describe_token, resolve_token
from .internals import IS_ENCODER, LayerInternals, capture

__all__ = ["query_key_products", "TopNeurons", "top_neurons"]


@validate_params({"r": Instance(LayerInternals, label="a LayerInternals (bk.layer_internals)"),
                  "head": Interval(int), "token": Interval(int)})
def query_key_products(r: LayerInternals, head: int, token: int) -> torch.Tensor:
    """What bertviz's neuron view shows: query x key, dimension by dimension, for one head and one query.

    Parameters
    ----------
    r : LayerInternals
        From :func:`bertviz_kit.layer_internals`.
    head : int
        Head index in ``[0, n_heads)``; negative counts from the end, as for the token.
    token : int
        The query (receiving) token, an index into ``r.tokens``.

    Returns
    -------
    torch.Tensor ``[T, d]``
        Row ``j`` is ``r.query[head, token] * r.key[head, j]`` (elementwise); its sum
        times ``r.scaling`` (plus ``r.position_scores[head, token, j]``: DeBERTa's position
        terms, ModernBERT's sliding-window mask, zero elsewhere) is the score
        ``r.scores[head, token, j]``. ModernBERT's queries and keys are the rotated ones, so
        the products carry the positions.
    """
    check("r", r, Instance(LayerInternals, label="a LayerInternals (from bk.layer_internals)"))
    if isinstance(head, bool) or not isinstance(head, int) or not -r.n_heads <= head < r.n_heads:
        raise InvalidParameterError(
            f"head must be an int in [0, {r.n_heads - 1}] (or [-{r.n_heads}, -1] from the end); got {head!r}.")
    if isinstance(token, bool) or not isinstance(token, int) or not -r.n_tokens <= token < r.n_tokens:
        raise InvalidParameterError(f"token must be an int in [{-r.n_tokens}, {r.n_tokens - 1}]; got {token!r}.")
    return r.query[head, token].unsqueeze(0) * r.key[head]


@dataclass(frozen=True, eq=False, repr=False)
class TopNeurons:
    """The feed-forward neurons that fire most for one token, layer by layer (:func:`top_neurons`).

    Attributes
    ----------
    layers : tuple of int, length ``L``
        Transformer layers (1-based), one per row.
    neurons : torch.Tensor, int64 ``[L, k]``
        Indices of the ``k`` largest activations (after the activation function) at each layer, largest first.
        ModernBERT (GeGLU): the activation of hidden unit ``n`` is ``gelu(input_n) * gate_n``,
        the input of the second dense layer (``LayerInternals.ffn_act``).
    values : torch.Tensor, float32 ``[L, k]``
        Their activation values.
    token_index : int
        The token looked at (for a word, its first piece).
    label : str
        ``word 5 'bank'`` (as in other titles).
    """

    layers: tuple[int, ...]
    neurons: torch.Tensor
    values: torch.Tensor
    token_index: int
    label: str

    def __repr__(self) -> str:
        return (f"TopNeurons({self.label}, layers={list(self.layers)}, neurons={list(self.neurons.shape)}, "
                f"values={list(self.values.shape)})")


@validate_params({
    "word_or_token": NoneOr(WordArg("e", token=True), "the last token"),
    "k": Interval(int, 1),
    "occurrence": NoneOr(Interval(int)),
    "token": NoneOr(Interval(int), "word_or_token"),
    "e": IS_ENCODING, "enc": IS_ENCODER,
})
def top_neurons(e: Encoding, word_or_token: int | str | None = None, k: int = 10, *, enc: Encoder,
                occurrence: int | None = None, token: int | None = None) -> TopNeurons:
    """The ``k`` feed-forward neurons with the largest activation for one token, at every layer.

    Parameters
    ----------
    e : Encoding
    word_or_token : str or int
        A word string (``occurrence=`` picks among repeats) or a word index; or give ``token=``.
    k : int, default 10
        Neurons kept per layer (at most the feed-forward size).
    enc : Encoder
        The encoder that produced ``e`` (one of :data:`SUPPORTED_ARCHITECTURES`; keyword only).
    occurrence : int, optional
    token : int, optional
        A token index into ``e.tokens`` instead of a word.

    Returns
    -------
    TopNeurons
        ``neurons`` and ``values`` ``[n_layers, k]``, largest activation first.
    """
    check("k", k, Instance(int))
    t = resolve_token(e, token=token, word=word_or_token, occurrence=occurrence, name="token")
    layers = list(range(1, enc.n_layers + 1))
    store, _ = capture(enc, e, layers)
    acts = torch.stack([store[i]["act"][t] for i in layers])  # [L, F]
    if isinstance(k, bool) or not 1 <= k <= acts.shape[1]:
        raise InvalidParameterError(f"k must be an int in [1, {acts.shape[1]}] (the feed-forward size); got {k!r}.")
    values, neurons = acts.topk(k, dim=-1)
    return TopNeurons(layers=tuple(layers), neurons=neurons, values=values, token_index=t,
                      label=describe_token(e, t))
