"""From stored hidden states to vectors: layers, sub-words, words, spans, sentences.

All functions are pure: they read an :class:`~bertviz_kit.encoding.Encoding`,
never modify it, and return new tensors. Pooling is masked, vectorized tensor
code (no Python loops over tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .._validation import Instance, InvalidParameterError, NoneOr, Options, is_int, validate_params
from ..encoding import IS_CORPUS, IS_ENCODING, Corpus, Encoding, Encodings, as_corpus
from ..layers import COMBINE_MODES, Layers, LayerSpec, layer_rows, renamed_layers

__all__ = [
    "SUBWORD_MODES",
    "POOLING_MODES",
    "SPECIALS_MODES",
    "select_layers",
    "token_vectors",
    "word_vectors",
    "span_vector",
    "sentence_vector",
    "sentence_vectors",
    "layer_sentence_vectors",
]

SUBWORD_MODES = ("first", "last", "mean", "sum", "max")
POOLING_MODES = ("mean", "cls", "max")
SPECIALS_MODES = ("exclude", "include")

# Tokens pooled per step: a float32 copy of this many tokens' chosen layers is the largest
# temporary a pooling call makes (a few MiB), however long the corpus.
_CHUNK_TOKENS = 8192

_ENCODING = IS_ENCODING
_SPAN = Instance(tuple, list, label="a (char_start, char_end) pair of ints")


def _combine_tokens(x: torch.Tensor, rows: list[int], mode: str) -> torch.Tensor:
    """Token-major ``x`` ``[T, k, D]`` (any float dtype) -> float32 ``[T, D']``: the chosen
    rows combined. One row comes back as a view where ``x`` is float32 (callers only read it)."""
    if len(rows) == 1:
        return x[:, rows[0]].float()
    if rows == list(range(rows[0], rows[0] + len(rows))):
        sel = x[:, rows[0] : rows[0] + len(rows)]  # a view, no gather
    else:
        sel = x[:, rows]
    if mode == "sum":
        return sel.sum(dim=1, dtype=torch.float32)
    if mode == "mean":
        return sel.mean(dim=1, dtype=torch.float32)
    return sel.reshape(sel.shape[0], sel.shape[1] * sel.shape[2]).float()


def pool_tokens(
    hidden: torch.Tensor, rows: list[int], mode: str, group: torch.Tensor, n_groups: int, how: str
) -> torch.Tensor:
    """Pool the tokens of ``hidden`` ``[T, k, D]`` into ``n_groups`` by ``group`` ``[T]``
    (-1 = drop): float32 ``[n_groups, D']`` on ``hidden``'s device.

    One vectorised pass in chunks of tokens (``index_add_`` / ``scatter_reduce_``), for
    one text or a whole corpus block alike; ``first``/``last`` gather only the picked rows.
    """
    n = hidden.shape[0]
    group = group.to(hidden.device)
    if how in ("first", "last"):
        pos = torch.arange(n, device=group.device)
        keep = group >= 0
        if how == "first":
            pick = torch.full((n_groups,), n, dtype=torch.long, device=group.device)
            pick.scatter_reduce_(0, group[keep], pos[keep], reduce="amin")
        else:
            pick = torch.full((n_groups,), -1, dtype=torch.long, device=group.device)
            pick.scatter_reduce_(0, group[keep], pos[keep], reduce="amax")
        return _combine_tokens(hidden[pick], rows, mode)
    sink = torch.where(group < 0, n_groups, group)  # dropped tokens go to a spare row, cut at the end
    out: torch.Tensor | None = None
    for s in range(0, max(n, 1), _CHUNK_TOKENS):
        x = _combine_tokens(hidden[s : s + _CHUNK_TOKENS], rows, mode)
        g = sink[s : s + _CHUNK_TOKENS]
        if out is None:
            fill = float("-inf") if how == "max" else 0.0
            out = torch.full((n_groups + 1, x.shape[1]), fill, dtype=torch.float32, device=x.device)
        if how == "max":
            out.scatter_reduce_(0, g.unsqueeze(1).expand(-1, x.shape[1]), x, reduce="amax")
        else:
            out.index_add_(0, g, x)
    assert out is not None
    out = out[:n_groups]
    if how == "mean":
        counts = torch.bincount(sink, minlength=n_groups + 1)[:n_groups].clamp_min(1)
        out = out / counts.unsqueeze(1).to(out.dtype)
    return out


def token_major(e: Encoding) -> torch.Tensor:
    """``e.hidden_states`` as ``[n_tokens, n_stored_layers, dim]`` (a view)."""
    return e.hidden_states.transpose(0, 1)


@validate_params({"e": _ENCODING, "combine": NoneOr(Options(COMBINE_MODES))})
def select_layers(
    e: Encoding, layers: LayerSpec = "last", combine: str | None = None, *, name: str = "layers"
) -> torch.Tensor:
    """Hidden states of the chosen layers, combined: float32 ``[n_tokens, dim']`` (a new tensor).

    ``dim'`` is ``dim`` for sum/mean and ``len(layers) * dim`` for concat.
    """
    rows, mode = layer_rows(e, layers, combine, name)
    x = _combine_tokens(token_major(e), rows, mode)
    if x.untyped_storage().data_ptr() == e.hidden_states.untyped_storage().data_ptr():  # a view of e
        x = x.clone(memory_format=torch.contiguous_format)
    return x


@validate_params({"e": _ENCODING, "layers": Layers("e"), "combine": NoneOr(Options(COMBINE_MODES))})
def token_vectors(
    e: Encoding, layers: LayerSpec = "sum_last4", combine: str | None = None
) -> torch.Tensor:
    """One vector per token: ``[n_tokens, dim']`` (special tokens included).

    Parameters
    ----------
    e : Encoding
    layers : int, list of int or preset name, default "sum_last4"
        See :func:`resolve_layers` (0 = embeddings, -1 = the last layer).
    combine : {"sum", "mean", "concat"}, optional
    """
    return select_layers(e, layers, combine)


@validate_params({"e": _ENCODING, "layers": Layers("e"), "subwords": Options(SUBWORD_MODES),
                  "combine": NoneOr(Options(COMBINE_MODES))})
def word_vectors(
    e: Encoding,
    layers: LayerSpec = "sum_last4",
    subwords: str = "mean",
    combine: str | None = None,
) -> torch.Tensor:
    """One vector per word: ``[n_words, dim']``, rows match ``e.words``.

    Sub-word pieces (``rob ##ber``) are pooled into their word with the fast
    tokenizer's word ids.

    Parameters
    ----------
    e : Encoding
    layers : int, list of int or preset name, default "sum_last4"
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    combine : {"sum", "mean", "concat"}, optional
    """
    rows, mode = layer_rows(e, layers, combine)
    return pool_tokens(token_major(e), rows, mode, e.word_index, e.n_words, subwords)


def check_span(e: Encoding, span: object) -> tuple[int, int]:
    """``span`` as ``(start, end)`` character offsets inside ``e.text``; raises naming the text's length."""
    n = len(e.text)
    if (
        not isinstance(span, (tuple, list))
        or len(span) != 2
        or not all(is_int(v) for v in span)
    ):
        raise InvalidParameterError(f"span must be a (char_start, char_end) pair of ints; got {span!r}.")
    start, end = (int(v) for v in span)
    if not 0 <= start < end <= n:
        raise InvalidParameterError(
            f"span must satisfy 0 <= char_start < char_end <= {n} (the text's length); "
            f"got {tuple(span)!r}."
        )
    return start, end


@validate_params({"e": _ENCODING})
def span_tokens(e: Encoding, span: tuple[int, int]) -> torch.Tensor:
    """Indices of the (non-special) tokens that overlap the character span ``[start, end)``."""
    start, end = check_span(e, span)
    off = torch.tensor(e.offsets, dtype=torch.long).reshape(-1, 2)
    hit = (off[:, 0] < end) & (off[:, 1] > start) & ~e.special_mask
    return torch.nonzero(hit).squeeze(1)


@validate_params({"e": _ENCODING, "span": _SPAN, "layers": Layers("e"), "subwords": Options(SUBWORD_MODES),
                  "combine": NoneOr(Options(COMBINE_MODES))})
def span_vector(
    e: Encoding,
    span: tuple[int, int],
    layers: LayerSpec = "last",
    subwords: str = "mean",
    combine: str | None = None,
) -> torch.Tensor:
    """One vector for any character span of the text: ``[dim']``.

    Every token overlapping ``text[start:end]`` is pooled with ``subwords``.

    Parameters
    ----------
    e : Encoding
    span : (int, int)
        Character offsets ``(start, end)``, end exclusive, as in ``text[start:end]``.
    layers : int, list of int or preset name, default "last"
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    """
    idx = span_tokens(e, span)
    if idx.numel() == 0:
        raise InvalidParameterError(
            f"span {tuple(span)!r} ({e.text[span[0]:span[1]]!r}) covers no token; "
            f"it holds only whitespace or characters the tokenizer drops."
        )
    rows, mode = layer_rows(e, layers, combine)
    group = torch.full((e.n_tokens,), -1, dtype=torch.long)
    group[idx] = 0
    return pool_tokens(token_major(e), rows, mode, group, 1, subwords)[0]


def token_mask(e: Encoding, specials: str) -> torch.Tensor:
    if specials == "include":
        return torch.ones(e.n_tokens, dtype=torch.bool)
    return ~e.special_mask


_OLD_NAMES = {"es": "corpus"}  # old keyword: still accepted, with a FutureWarning
_SENTENCE_RULES = {
    "pooling": Options(POOLING_MODES),
    "specials": Options(SPECIALS_MODES),
    "combine": NoneOr(Options(COMBINE_MODES)),
}


@validate_params({"e": _ENCODING, "layers": Layers("e"), **_SENTENCE_RULES,
                  "layer": NoneOr(Layers("e"), "the old name of layers")})
def sentence_vector(
    e: Encoding,
    layers: LayerSpec = -1,
    pooling: str = "mean",
    specials: str = "exclude",
    combine: str | None = None,
    *,
    layer: LayerSpec | None = None,
) -> torch.Tensor:
    """Deprecated: ``bk.sentence_vectors(e)[0]``, one text's vector ``[dim']``.

    :func:`sentence_vectors` takes one :class:`~bertviz_kit.Encoding` as a corpus of
    one text, so this singular form is no longer needed; it gives the same numbers,
    warns (:class:`FutureWarning`) and will be removed. The parameters are those of
    :func:`sentence_vectors`.
    """
    import warnings

    warnings.warn("bk.sentence_vector(e) is now bk.sentence_vectors(e)[0]: sentence_vectors takes one "
                  "Encoding as a corpus of one text; sentence_vector will be removed.", FutureWarning, stacklevel=3)
    return _one_text(e, renamed_layers(layers, layer, "sentence_vector"), pooling, specials, combine)[0]


def _one_text(e: Encoding, layers: LayerSpec, pooling: str, specials: str, combine: str | None) -> torch.Tensor:
    """Sentence vector of one text: ``[1, dim']`` (no copy into a corpus)."""
    rows, mode = layer_rows(e, layers, combine, "layers")
    return _sentences(token_major(e), torch.tensor([0, e.n_tokens]), e.word_index, rows, mode,
                      pooling, specials, lambda i: (f"text {e.text!r}"))


def _nothing_to_pool(what: str) -> InvalidParameterError:
    """The error for a text with no tokens besides special tokens, pooled without them."""
    return InvalidParameterError(f"{what} has no tokens besides special tokens; use specials='include' or "
                                 f"pooling='cls', or drop empty texts.")


def _sentences(
    hidden: torch.Tensor,
    token_starts: torch.Tensor,
    word_index: torch.Tensor,
    rows: list[int],
    mode: str,
    pooling: str,
    specials: str,
    label: object,
) -> torch.Tensor:
    """Sentence vectors of the texts of one flat block: ``[n_texts, dim']``."""
    n = token_starts.shape[0] - 1
    starts = token_starts - token_starts[0]
    if pooling == "cls":
        return _combine_tokens(hidden[starts[:-1].to(hidden.device)], rows, mode)
    text_index = torch.repeat_interleave(torch.arange(n), starts[1:] - starts[:-1])
    if specials == "exclude":
        real = word_index >= 0
        counts = torch.bincount(text_index[real], minlength=n)
        empty = torch.nonzero(counts == 0)
        if empty.numel():
            raise _nothing_to_pool(label(int(empty[0])))  # type: ignore[operator]
        text_index = torch.where(real, text_index, -1)
    return pool_tokens(hidden, rows, mode, text_index, n, pooling)


@validate_params({"corpus": IS_CORPUS, "layers": Layers("corpus"), **_SENTENCE_RULES,
                  "layer": NoneOr(Layers("corpus"), "the old name of layers")}, renamed=_OLD_NAMES)
def sentence_vectors(
    corpus: Encoding | Corpus | Sequence[Encoding],
    layers: LayerSpec = -1,
    pooling: str = "mean",
    specials: str = "exclude",
    combine: str | None = None,
    *,
    layer: LayerSpec | None = None,
) -> torch.Tensor:
    """One vector per text, pooled from its tokens: ``[n_texts, dim']``.

    Parameters
    ----------
    corpus : Encoding, Encodings, Store or list of Encoding
        The texts: one :class:`~bertviz_kit.Encoding` (a corpus of one text,
        ``enc.encode(text)``: take row 0 for its vector), an
        :class:`~bertviz_kit.Encodings` (``enc.encode(texts)``), a
        :class:`~bertviz_kit.Store` (``bk.open_store``) or a list of
        :class:`~bertviz_kit.Encoding`.
    layers : int, list of int or preset name, default -1 (the last layer)
        The layer spec, as in :func:`word_vectors` (``"sum_last4"``, ``[-4, -3]``, ...).
    pooling : {"mean", "cls", "max"}, default "mean"
        ``cls`` takes the first token's vector (``[CLS]``) whatever ``specials``.
    specials : {"exclude", "include"}, default "exclude"
        Whether [CLS]/[SEP] take part in mean/max pooling. The tutorial
        excludes them (``new_embed[1:-1, -1, :].mean(0)``).
    combine : {"sum", "mean", "concat"}, optional
        How several layers combine (``dim'`` is ``dim``, or ``len(layers) * dim``
        for ``"concat"``); a preset brings its own.

    Returns
    -------
    torch.Tensor, ``[n_texts, dim']``
        Row ``i`` is text ``i``'s vector, float32, on the device of the hidden
        states.

    Raises
    ------
    InvalidParameterError
        For a text with no tokens besides special tokens and ``specials="exclude"``
        (there is nothing to pool), naming the text.

    Notes
    -----
    One vectorised pass per block of texts (a store streams shard by shard).
    Old names, still accepted with a :class:`FutureWarning`: the parameter
    ``es`` (now ``corpus``), ``layer=`` (now ``layers``: ``layer`` is one int
    everywhere else), and the function ``bk.sentence_vector(e)`` (now
    ``bk.sentence_vectors(e)[0]``).

    Examples
    --------
    >>> import bertviz_kit as bk
    >>> enc = bk.load()
    >>> bk.sentence_vectors(enc.encode("The bank robber was seen fishing.")).shape
    torch.Size([1, 384])
    >>> bk.sentence_vectors(enc.encode(["A river bank.", "A bank vault."]), layers="sum_last4").shape
    torch.Size([2, 384])
    """
    layer = renamed_layers(layers, layer, "sentence_vectors")
    if isinstance(corpus, Encoding):
        return _one_text(corpus, layer, pooling, specials, combine)
    layouts = _layouts(corpus)
    if len(layouts) > 1:  # a list mixing stored layers: one pass per layout, rows put back in order
        parts = [(idx, _sentence_pass([corpus[i] for i in idx], layer, pooling, specials, combine, idx))
                 for idx in layouts]
        out = parts[0][1].new_empty((len(corpus), parts[0][1].shape[1]))
        for idx, vecs in parts:
            out[torch.tensor(idx, device=out.device)] = vecs
        return out
    return _sentence_pass(corpus, layer, pooling, specials, combine, None)


def _layouts(corpus: object) -> list[list[int]]:
    """Positions of a plain list of encodings grouped by stored layers (one group for a corpus)."""
    if isinstance(corpus, Corpus) or isinstance(corpus, (Encoding, str)) or not isinstance(corpus, Sequence):
        return [[]]
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(corpus):
        if isinstance(e, Encoding):
            groups.setdefault((e.n_layers, e.layer_ids, e.dim), []).append(i)
    return list(groups.values()) or [[]]


def _sentence_pass(
    corpus: object, layer: LayerSpec, pooling: str, specials: str, combine: str | None, index: list[int] | None
) -> torch.Tensor:
    corpus = as_corpus(corpus, "corpus")
    rows, mode = layer_rows(corpus, layer, combine, "layers")
    out = []
    for first, b in corpus.blocks():
        def label(i: int, first: int = first, b: Encodings = b) -> str:
            k = first + i if index is None else index[first + i]
            return f"corpus[{k}] (text {b.texts[i]!r})"

        out.append(_sentences(b.hidden, b.token_starts, b.word_index, rows, mode, pooling, specials, label))
    return torch.cat(out)


def refuse_empty_texts(corpus: Corpus, name: str, pooling: str, specials: str) -> None:
    """Raise, naming ``name[k]`` and its text, when pooling without special tokens meets a text
    that has none besides them (one :meth:`Corpus.word_counts` pass, before any pooling)."""
    if pooling == "cls" or specials != "exclude":
        return
    empty = torch.nonzero(corpus.word_counts() == 0)
    if empty.numel():
        k = int(empty[0])
        raise _nothing_to_pool(f"{name}[{k}] (text {corpus[k].text!r})")


@validate_params({"corpus": IS_CORPUS, "pooling": Options(POOLING_MODES), "specials": Options(SPECIALS_MODES)},
                 renamed=_OLD_NAMES)
def layer_sentence_vectors(
    corpus: Corpus | Sequence[Encoding],
    pooling: str = "mean",
    specials: str = "exclude",
) -> torch.Tensor:
    """One vector per text at every stored layer: ``[n_stored_layers, n_texts, dim]``.

    Row ``k`` equals ``sentence_vectors(corpus, layers=layer_ids[k], pooling=pooling,
    specials=specials)``, computed in the same single pass over the texts.

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
        From one model with the same stored layers.
    pooling : {"mean", "cls", "max"}, default "mean"
    specials : {"exclude", "include"}, default "exclude"
    """
    corpus = as_corpus(corpus, "corpus")
    layer_ids = list(corpus.layer_ids)
    flat = sentence_vectors(corpus, layer_ids, pooling, specials, combine="concat")  # [n, L*D]
    return flat.reshape(len(corpus), len(layer_ids), -1).permute(1, 0, 2)
