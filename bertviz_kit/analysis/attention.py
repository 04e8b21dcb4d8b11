"""Attention that answers questions: word-level attention, rollout, head statistics.

All three read the attention weights kept by one forward pass
(:attr:`Encoding.attentions`, ``[n_layers, n_heads, n_tokens, n_tokens]``, rows
sum to 1), present when a text was encoded with
``enc.encode(text, attentions=True)``. Nothing here runs the model.

* :func:`word_attention` turns token attention into attention between words
  as in Clark et al. (2019, "What Does BERT Look At?"): attention *to* a split
  word is the **sum** over its pieces, attention *from* a split word the
  **mean** over its pieces, so every row still sums to 1.
  :func:`attention_units` gives the label of each row and column.
* :func:`attention_rollout` follows Abnar and Zuidema (2020, "Quantifying
  Attention Flow in Transformers"): heads averaged, the residual connection
  modelled as ``0.5 * A + 0.5 * I``, rows renormalised, and the layers
  multiplied through.
* :func:`head_statistics` measures every head over one text or a corpus:
  entropy, attention to ``[CLS]``, ``[SEP]``, punctuation, the token itself,
  the previous and next token, and mean attention distance (Clark et al. 2019).

Layer ``l`` of every result here is the model's transformer layer ``l + 1``
(attention starts at layer 1; layer 0, the embeddings, has none).
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch

from .._validation import (
    AXES,
    COLORMAP,
    FIGURE,
    MPL_KWARGS,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    check,
    validate_params,
)
from ..encoding import IS_ENCODING, Corpus, Encoding, Encodings
from ..layers import Layer
from ..vectors.addressing import ATTENTION_SPECIALS, WordArg, token_units

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "HEAD_STATISTICS",
    "word_attention",
    "attention_rollout",
    "head_statistics",
    "plot_attention",
    "plot_attention_grid",
    "plot_rollout",
]

#: The statistics :func:`head_statistics` returns, in this order, with what each one means.
HEAD_STATISTICS: dict[str, str] = {
    "entropy": "attention entropy (nats)",
    "cls": "attention to [CLS]",
    "sep": "attention to [SEP]",
    "punct": "attention to punctuation",
    "self": "attention to the token itself",
    "previous": "attention to the previous token",
    "next": "attention to the next token",
    "distance": "mean attention distance (tokens)",
}

_NO_ATTENTIONS = (
    "{name} has no attention weights; encode with enc.encode(text, attentions=True) "
    "(or enc.encode(texts, attentions=True) for many texts)."
)


def _attentions(e: Encoding, name: str = "e") -> torch.Tensor:
    """``e.attentions`` in float32 (storage may be half precision); a clear error when absent."""
    check(name, e, IS_ENCODING)
    if e.attentions is None:
        raise InvalidParameterError(_NO_ATTENTIONS.format(name=name))
    return e.attentions.float()


def _word_attention(att: torch.Tensor, e: Encoding) -> tuple[torch.Tensor, torch.Tensor]:
    """Token attention ``[..., T, T]`` -> unit attention ``[..., U, U]`` (all units) and the special flags."""
    unit, unit_special, _ = token_units(e)
    n = int(unit_special.shape[0])
    unit = unit.to(att.device)
    # attention to a unit: the sum over its pieces (keys) ...
    to_units = att.new_zeros(*att.shape[:-1], n).index_add_(-1, unit, att)
    # ... attention from a unit: the mean over its pieces (queries)
    out = att.new_zeros(*att.shape[:-2], n, n).index_add_(-2, unit, to_units)
    pieces = torch.bincount(unit, minlength=n).to(att.dtype)
    return out / pieces.unsqueeze(-1), unit_special.to(att.device)


@validate_params({"e": IS_ENCODING, "specials": Options(ATTENTION_SPECIALS)})
def word_attention(e: Encoding, specials: str = "include") -> torch.Tensor:
    """Attention between words instead of word pieces: ``[n_layers, n_heads, n_units, n_units]``.

    Following Clark et al. (2019): the attention a query gives a split word is
    the **sum** of what it gives the word's pieces (how much of the query's
    attention lands on that word), and the attention a split word gives is
    the **mean** over its pieces' rows. Every row still sums to 1. A text
    without split words gives back its token attention unchanged.

    Special tokens (``[CLS]``, ``[SEP]``) are units of their own, kept at their
    place in the text, so the attention parked on them (the "sinks" many heads
    use when they have nothing specific to do) stays visible rather than
    being folded into a neighbouring word or renormalised away. The labels of
    the rows and columns are :func:`attention_units` ``(e, specials)``.

    Parameters
    ----------
    e : Encoding
        Encoded with ``attentions=True``.
    specials : {"include", "exclude"}, default "include"
        ``"include"``: specials are rows and columns (rows sum to 1).
        ``"exclude"``: their rows and columns are dropped *without*
        renormalising, as in :func:`bertviz_kit.plot_attention`, so a row sums
        to the share of attention the word gives to words.

    Returns
    -------
    torch.Tensor, float32, ``[n_layers, n_heads, n_units, n_units]``
        Row ``i`` (query) and column ``j`` (key) are unit ``i`` and ``j`` of
        :func:`attention_units`; index 0 of the first axis is transformer
        layer 1.
    """
    out, unit_special = _word_attention(_attentions(e), e)
    if specials == "exclude":
        keep = ~unit_special
        out = out[..., keep, :][..., keep]
    return out


def _rollout(att: torch.Tensor) -> torch.Tensor:
    """``att [L, H, n, n]`` -> rollout after each layer ``[L, n, n]``."""
    a = att.mean(dim=1)
    a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    a = a / a.sum(dim=-1, keepdim=True)
    out = torch.empty_like(a)
    out[0] = a[0]
    for layer in range(1, a.shape[0]):  # one matrix product per layer
        out[layer] = a[layer] @ out[layer - 1]
    return out


@validate_params({"e": IS_ENCODING, "words": Boolean()})
def attention_rollout(e: Encoding, words: bool = False) -> torch.Tensor:
    """Attention rollout (Abnar and Zuidema 2020): how much each input feeds each position.

    Per layer the heads are averaged, the residual connection is modelled by
    ``A' = 0.5 * A + 0.5 * I``, rows are renormalised to sum to 1, and the
    layers are multiplied: ``R_1 = A'_1``, ``R_l = A'_l @ R_{l-1}``. Row ``i``
    of ``R_l`` says how the representation of position ``i`` after layer ``l``
    mixes the input tokens (columns); every row sums to 1.

    Parameters
    ----------
    e : Encoding
        Encoded with ``attentions=True``.
    words : bool, default False
        Roll out the word-level attention of :func:`word_attention` (special
        tokens as units of their own) instead of token attention; label the
        rows and columns with :func:`attention_units` ``(e)``, else with
        ``e.tokens``.

    Returns
    -------
    torch.Tensor, float32, ``[n_layers, n, n]``
        Entry ``l`` is the rollout through layers ``1 .. l + 1``; the last one
        (``[-1]``) is the full rollout. ``n`` is ``e.n_tokens`` or the number
        of units.
    """
    att = _attentions(e)
    if words:
        att, _ = _word_attention(att, e)
    return _rollout(att)


# ---------------------------------------------------------------------------
# Head statistics (Clark et al. 2019, section 3)
# ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _is_punct(token: str) -> bool:
    """A token made only of punctuation characters (a ``##`` continuation prefix ignored)."""
    core = token[2:] if token.startswith("##") and len(token) > 2 else token
    core = core.lstrip("\u0120\u2581")  # the word-start marks of byte-level BPE and SentencePiece
    return bool(core) and all(unicodedata.category(c).startswith("P") for c in core)


def _texts(corpus: object) -> tuple[list[tuple[torch.Tensor, torch.Tensor, Sequence[str]]], str]:
    """Each text's ``(attentions, word_index, tokens)`` from an Encoding, Encodings or list of Encoding."""
    if isinstance(corpus, Encoding):
        return [(_attentions(corpus, "corpus"), corpus.word_index, corpus.tokens)], "corpus"
    if isinstance(corpus, Encodings):
        if len(corpus) == 0:
            raise InvalidParameterError("corpus must hold at least one text; got an empty Encodings.")
        if corpus.attentions is None:
            raise InvalidParameterError(
                "corpus has no attention weights; encode the texts with enc.encode(texts, attentions=True)."
            )
        starts = (corpus.token_starts - corpus.token_starts[0]).tolist()
        return [
            (corpus.attentions[i].float(), corpus.word_index[starts[i]:starts[i + 1]], corpus.text_tokens(i))
            for i in range(len(corpus))
        ], "corpus"
    if isinstance(corpus, Corpus):  # a Store: hidden states only
        raise InvalidParameterError(
            f"corpus is a {type(corpus).__name__}, and stores hold no attention weights; encode the texts "
            "with enc.encode(texts, attentions=True) and pass that Encodings (or a list of Encoding)."
        )
    if isinstance(corpus, (str, bytes)) or not isinstance(corpus, Sequence):
        raise InvalidParameterError(
            "corpus must be an Encoding or Encodings with attentions (enc.encode(..., attentions=True)) "
            f"or a list of Encoding; got {type(corpus).__name__}."
        )
    if not corpus:
        raise InvalidParameterError("corpus must hold at least one text; got an empty list.")
    out = []
    for i, e in enumerate(corpus):
        if not isinstance(e, Encoding):
            raise InvalidParameterError(
                f"corpus[{i}] must be an Encoding (from enc.encode(text, attentions=True)); got {type(e).__name__}."
            )
        out.append((_attentions(e, f"corpus[{i}]"), e.word_index, e.tokens))
    return out, "corpus"


# Texts whose attention maps hold at most this many weights are measured on one CPU thread:
# their tensor ops are too small to gain from threads, and a parallel region waits a whole
# scheduler slice for its workers when other processes keep the cores busy (25x slower).
_ONE_THREAD_MAX = 1 << 22


@contextlib.contextmanager
def threads_for(largest: int, device: torch.device, limit: int = _ONE_THREAD_MAX) -> Iterator[None]:
    """One intra-op thread for CPU work on at most ``limit`` numbers, the current setting otherwise."""
    n = torch.get_num_threads()
    small = device.type == "cpu" and largest <= limit and n > 1
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(n)


# the statistics that are linear in the attention weights: sum_ij A[i, j] * W[i, j]
_LINEAR = ("cls", "sep", "punct", "self", "previous", "next", "distance")


def _text_sums(att: torch.Tensor, word_index: torch.Tensor, tokens: Sequence[str], queries: str
               ) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Sums over one text's counted query tokens of every statistic ``[L, H]``, and how many queries each counts.

    Every statistic but the entropy is a weighted sum of the attention weights,
    ``sum_ij A[l, h, i, j] * W[i, j]`` with ``W`` zero on the rows of queries
    that do not count: all seven come from one matrix product with the
    stacked ``W`` (``[7, T, T]``).
    """
    n_layers, n_heads, n, _ = att.shape
    device, dtype = att.device, att.dtype
    special = (word_index < 0).to(device)
    qm = (torch.ones(n, dtype=torch.bool, device=device) if queries == "all" else ~special).to(dtype)
    punct = torch.tensor([_is_punct(t) for t in tokens], dtype=torch.bool, device=device)
    cls = torch.zeros(n, dtype=torch.bool, device=device)
    cls[0] = special[0]
    keys = torch.stack([cls, special & ~cls, punct]).to(dtype)  # [3, T]: to [CLS], to [SEP], to punctuation
    pos = torch.arange(n, device=device)
    offset = pos.unsqueeze(0) - pos.unsqueeze(1)  # [T, T]: key j - query i
    relations = torch.stack([offset == 0, offset == -1, offset == 1]).to(dtype)  # self, previous, next
    weights = torch.cat([keys.unsqueeze(1).expand(3, n, n), relations, offset.abs().to(dtype).unsqueeze(0)])
    weights = weights * qm.view(1, n, 1)  # only the counted queries' rows
    flat = att.reshape(n_layers * n_heads, n * n)
    linear = (flat @ weights.reshape(len(_LINEAR), n * n).T).T.reshape(len(_LINEAR), n_layers, n_heads)
    sums = {"entropy": -(torch.special.xlogy(att, att).sum(-1) @ qm)}
    sums.update(zip(_LINEAR, linear))
    n_q = int(qm.sum())
    counts = dict.fromkeys(HEAD_STATISTICS, n_q)
    counts["previous"], counts["next"] = int(qm[1:].sum()), int(qm[:-1].sum())
    return sums, counts


@validate_params({"corpus": Instance(Encoding, Corpus, list, tuple, label="an Encoding or Encodings with attentions "
                                   "(enc.encode(..., attentions=True)) or a list of Encoding"),
                  "queries": Options(("all", "words")), "average": Options(("tokens", "texts"))},
                 renamed={"data": "corpus"})
def head_statistics(corpus: object, queries: str = "all", *, average: str = "tokens") -> dict[str, torch.Tensor]:
    """How every head attends (Clark et al. 2019): one ``[n_layers, n_heads]`` tensor per statistic.

    For every layer and head, averaged over query tokens (rows of the attention
    maps):

    ``"entropy"``
        Entropy of the query's attention distribution, in nats (0: all on one
        token; ``log n`` for uniform attention over ``n`` tokens).
    ``"cls"``, ``"sep"``
        Attention given to ``[CLS]`` (the first token, when it is a special
        token) and to ``[SEP]`` (every other special token).
    ``"punct"``
        Attention given to tokens made only of punctuation (``.``, ``,``, ...).
    ``"self"``, ``"previous"``, ``"next"``
        Attention given to the query token itself, the token just before it and
        the token just after it. ``"previous"`` is averaged over the queries
        that have a previous token (all but the first), ``"next"`` over those
        that have a next one (all but the last).
    ``"distance"``
        Mean ``|i - j|`` (in tokens) between query ``i`` and key ``j``,
        weighted by the attention.

    **Averaging.** By default (``average="tokens"``) every statistic is
    pooled over all counted query tokens of all texts: each query token
    weighs the same, so longer texts weigh more. Clark et al. (2019) average
    over each text's tokens first and then over texts (each text weighs the
    same): ``average="texts"``. The two agree for one text, or for texts of
    one length; over texts of mixed lengths they differ (statistics that
    depend on length, such as ``"entropy"`` and ``"distance"``, most). Keys
    are always all tokens, special tokens included.

    Parameters
    ----------
    corpus : Encoding, Encodings or list of Encoding
        Encoded with ``attentions=True``: ``enc.encode(text, attentions=True)``
        or ``enc.encode(texts, attentions=True)``. A :class:`~bertviz_kit.Store`
        holds no attention weights and is refused.
    queries : {"all", "words"}, default "all"
        Which query tokens count: every token, or only the words' tokens
        (leaving out the rows of ``[CLS]`` and ``[SEP]`` themselves).
    average : {"tokens", "texts"}, default "tokens"
        ``"tokens"``: one mean over the query tokens of all texts.
        ``"texts"``: the mean of each text's mean, as Clark et al. (2019);
        a text without counted queries for a statistic (no word, or one
        token for ``"previous"``/``"next"``) is left out of that statistic's
        mean.

    Returns
    -------
    dict str -> torch.Tensor, float32 ``[n_layers, n_heads]``
        Keys in the order of :data:`HEAD_STATISTICS`; row 0 is transformer
        layer 1.
    """
    texts, name = _texts(corpus)
    shape = texts[0][0].shape[:2]
    totals: dict[str, torch.Tensor] = {}
    counts = dict.fromkeys(HEAD_STATISTICS, 0)
    for i, (att, _, _) in enumerate(texts):
        if att.shape[:2] != shape:
            raise InvalidParameterError(
                f"{name} must come from one model; text 0 has attentions for {tuple(shape)} layers x heads, "
                f"text {i} for {tuple(att.shape[:2])}."
            )
    with threads_for(max(t[0].numel() for t in texts), texts[0][0].device):
        for att, word_index, tokens in texts:  # one vectorised pass per text (each has its own T x T maps)
            sums, n = _text_sums(att, word_index, tokens, queries)
            for key, v in sums.items():
                if average == "texts":  # this text's mean counts once
                    v, n[key] = (v / n[key] if n[key] else v * 0), int(n[key] > 0)
                totals[key] = totals[key] + v if key in totals else v
                counts[key] += n[key]
    if counts["entropy"] == 0:
        raise InvalidParameterError(
            f"{name} has no query tokens to average over (queries={queries!r}: its texts have no words); "
            "pass texts with words, or queries='all'."
        )
    # "previous" / "next" of texts of one token have nothing to average: NaN
    return {key: (totals[key] / counts[key] if counts[key] else totals[key] * float("nan")).cpu()
            for key in HEAD_STATISTICS}


# ---------------------------------------------------------------------------
# Plots of these results: computed here, drawn by bertviz_kit.plot.attention
# ---------------------------------------------------------------------------


@validate_params({"e": IS_ENCODING, "layer": Layer("e", embeddings=False), "head": Interval(int),
                  "token": NoneOr(WordArg("e", token=True)), "word": NoneOr(WordArg("e")),
                  "occurrence": NoneOr(Interval(int)), "specials": Options(ATTENTION_SPECIALS),
                  "level": Options(("token", "word")), "cmap": COLORMAP, "colorbar": Boolean(), "ax": AXES,
                  "kwargs": MPL_KWARGS})
def plot_attention(
    e: Encoding,
    layer: int = -1,
    head: int = 0,
    *,
    token: int | str | None = None,
    word: int | str | None = None,
    occurrence: int | None = None,
    specials: str = "include",
    level: str = "token",
    cmap: str = "Blues",
    colorbar: bool = True,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Attention weights of one layer and head as a tokens x tokens (or words x words) heatmap.

    Rows are the attending (query) tokens, columns the attended (key) tokens.
    Needs ``encode(..., attentions=True)``. For every layer and head at once
    see :func:`plot_attention_grid`. With ``token`` or ``word``, only that
    query's row is drawn, as bars: where that token (word) looks.

    Parameters
    ----------
    e : Encoding
    layer : int
        Transformer layer, 1..n_layers (negative counts from the top).
    head : int
        Attention head, 0..n_heads-1 (negative counts from the end).
    specials : {"include", "exclude"}
        Show or hide the [CLS]/[SEP] rows and columns. (Weights are not
        renormalized: hiding them shows how much attention is left for words.)
    level : {"token", "word"}, default "token"
        ``"word"``: attention between whole words, from
        :func:`bertviz_kit.word_attention` (attention to a split word summed
        over its pieces, attention from it averaged over them; rows labelled
        by :func:`bertviz_kit.attention_units`).
    token : int or str, optional
        Draw only this query: a token index, a word string (case-insensitive,
        whole words) or a special token's text (``"[CLS]"``).
    word : int or str, optional
        Instead of ``token``: a word index (into ``e.words``) or a word string.
    occurrence : int, optional
        Which occurrence of a word string (0 = the first, default; -1 = the last).
    cmap : str, default "Blues"
        Heatmap colours; the colour scale runs from 0 to the map's largest weight.
    colorbar : bool, default True
        Heatmap only; labelled "attention weight".
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.imshow` (heatmap) or
        :meth:`matplotlib.axes.Axes.bar` (one query).
    """
    from ..plot.attention import check_attention, draw_attention

    check_attention(e, specials, level)
    word_maps = word_attention(e) if level == "word" else None
    return draw_attention(e, layer, head, word_maps=word_maps, token=token, word=word, occurrence=occurrence,
                          specials=specials, level=level, cmap=cmap, colorbar=colorbar, ax=ax, **kwargs)


@validate_params({"e": IS_ENCODING, "specials": Options(ATTENTION_SPECIALS), "level": Options(("token", "word")),
                  "cmap": COLORMAP, "cell_size": Interval(float, 0, closed="neither"), "colorbar": Boolean(),
                  "fig": FIGURE, "kwargs": MPL_KWARGS})
def plot_attention_grid(
    e: Encoding,
    *,
    specials: str = "include",
    level: str = "token",
    cmap: str = "Blues",
    cell_size: float = 1.3,
    colorbar: bool = True,
    fig: Figure | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Every layer x head attention map in one grid: rows are layers, columns heads.

    Small multiples for spotting patterns (heads that attend to [CLS] or
    [SEP], to the next or previous token, or broadly). Each panel has its own
    colour scale from 0 to its maximum (the colour bar says so); token labels
    are left out (use :func:`plot_attention` to read one map).

    Parameters
    ----------
    e : Encoding
        Encoded with ``attentions=True``.
    specials : {"include", "exclude"}
    level : {"token", "word"}, default "token"
        ``"word"``: word-level attention (see :func:`plot_attention`).
    cell_size : float
        Inches per panel.
    colorbar : bool, default True
        One colour bar for the grid, from 0 to each panel's own maximum.
    fig : Figure, optional
        Drawn on (cleared first) instead of a new figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.imshow` for every panel.

    Returns
    -------
    numpy.ndarray of Axes, shape ``[n_layers, n_heads]``
    """
    from ..plot.attention import check_attention, draw_attention_grid

    check_attention(e, specials, level)
    word_maps = word_attention(e) if level == "word" else None
    return draw_attention_grid(e, word_maps=word_maps, specials=specials, level=level, cmap=cmap,
                               cell_size=cell_size, colorbar=colorbar, fig=fig, **kwargs)


@validate_params({"e": IS_ENCODING, "layer": Layer("e", embeddings=False), "words": Boolean(),
                  "query": NoneOr(WordArg("e", token=True)), "occurrence": NoneOr(Interval(int)),
                  "specials": Options(ATTENTION_SPECIALS), "cmap": COLORMAP, "colorbar": Boolean(), "ax": AXES,
                  "kwargs": MPL_KWARGS})
def plot_rollout(
    e: Encoding,
    layer: int = -1,
    *,
    words: bool = False,
    query: int | str | None = None,
    occurrence: int | None = None,
    specials: str = "include",
    cmap: str = "Blues",
    colorbar: bool = True,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Attention rollout (Abnar and Zuidema 2020) after one layer: a heatmap, or one query's bars.

    See :func:`bertviz_kit.attention_rollout`. Row ``i`` of the heatmap is
    position ``i`` after ``layer``; the columns are the input tokens (or
    words) it mixes, each row summing to 1.

    Parameters
    ----------
    e : Encoding
        Encoded with ``attentions=True``.
    layer : int, default -1
        The rollout through transformer layers ``1 .. layer`` (1..n_layers,
        negative counts from the top; -1 is the full rollout).
    words : bool, default False
        Roll out word-level attention (:func:`bertviz_kit.word_attention`).
    query : int or str, optional
        Draw only this position's row as bars: a row index (a token, or with
        ``words=True`` a unit of :func:`bertviz_kit.attention_units`), or a
        string: a word (case-insensitive, whole words) or a special token's
        text (``"[CLS]"``). ``None`` draws the whole matrix.
    occurrence : int, optional
        Which occurrence of a word string (0 = the first, default; -1 = the last).
    specials : {"include", "exclude"}, default "include"
        Hide the [CLS]/[SEP] rows and columns from the picture (the rollout
        itself always includes them; nothing is renormalised).
    cmap : str, default "Blues"
    colorbar : bool, default True
        Heatmap only.
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.imshow` (heatmap) or
        :meth:`matplotlib.axes.Axes.bar` (one query).
    """
    from ..plot.attention import draw_rollout

    check("specials", specials, Options(("include", "exclude")))
    rollout = attention_rollout(e, words=words)
    return draw_rollout(e, rollout, layer, words=words, query=query, occurrence=occurrence, specials=specials,
                        cmap=cmap, colorbar=colorbar, ax=ax, **kwargs)
