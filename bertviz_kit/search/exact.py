"""Nearest contexts by layer (exBERT-style search, no server).

``bk.nearest_contexts(corpus, e, "bank", layer=1, k=10)`` takes one word
occurrence of an :class:`~bertviz_kit.encoding.Encoding` (or a character span
of its text), pools its pieces at one layer, and returns the ``k`` word
occurrences of a corpus (``Encodings``, a ``Store`` or a list of ``Encoding``)
whose vectors at the same layer have the highest cosine with it.

The search is exact: the corpus is read block by block (``corpus.blocks()``),
each block's words are pooled in one vectorised pass, scored by one matrix
product against the query, and merged into a running top-k. Memory is bounded
by one block, so a store larger than memory streams shard by shard and never
has all its word vectors in memory at once. The query occurrence itself is
left out where the corpus holds it (same text, same word).

For many queries against one large corpus, :func:`bertviz_kit.build_context_index`
(``bertviz_kit.search.index``, needs the ``[search]`` extra) pools every word once
into a faiss index and answers each query from it with the same results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

from .._validation import (
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    check,
    validate_params,
)
from ..encoder import check_finite_hidden
from ..encoding import IS_CORPUS, IS_ENCODING, Corpus, Encoding, Encodings, as_corpus, check_same_model
from ..layers import Layer, stored_row
from ..vectors.addressing import WordArg, resolve_word
from ..vectors.pooling import SUBWORD_MODES, check_span, pool_tokens, token_major

__all__ = ["nearest_contexts", "ContextMatch", "ContextMatches"]


@dataclass(frozen=True)
class ContextMatch:
    """One word occurrence found by :func:`nearest_contexts`.

    Attributes
    ----------
    text_index : int
        Index of the text in the corpus.
    word_index : int
        Index of the word in that text's words.
    word : str
        The word as written in the text.
    cosine : float
        Cosine with the query at the searched layer.
    snippet : str
        The sentence around the word, the word marked: ``... the [[bank]] robber ...``.
    span : (int, int)
        Character offsets of the word in ``text``.
    text : str
        The whole text (left out of the repr), for plots that trim it their own way.
    """

    text_index: int
    word_index: int
    word: str
    cosine: float
    snippet: str
    span: tuple[int, int] = (0, 0)
    text: str = field(default="", repr=False)

    def __str__(self) -> str:
        return f"{self.cosine:.2f}  {self.snippet}"


class ContextMatches(list):
    """The matches of one search (a list of :class:`ContextMatch`, best first) and what was asked.

    Indexes, iterates and compares as a plain list; slicing gives a plain list.

    Attributes
    ----------
    query : str
        The query word (or the text of the query span) as written in ``query_text``.
    query_text : str
        The text the query comes from.
    query_span : (int, int) or None
        Character offsets of the query in ``query_text``.
    layer : int
        The model layer searched (0 = embeddings; never negative).
    subwords : str
        How pieces were pooled into words.
    """

    @validate_params({"matches": Instance(Iterable, label="an iterable of ContextMatch"), "query": Instance(str),
                      "query_text": Instance(str),
                      "query_span": NoneOr(Instance(tuple, list, label="a (start, end) pair")),
                      "layer": NoneOr(Interval(int)), "subwords": Options(SUBWORD_MODES)})
    def __init__(self, matches: Iterable[ContextMatch] = (), *, query: str = "", query_text: str = "",
                 query_span: tuple[int, int] | None = None, layer: int | None = None,
                 subwords: str = "mean") -> None:
        super().__init__(matches)
        self.query = query
        self.query_text = query_text
        self.query_span = query_span
        self.layer = layer
        self.subwords = subwords

    def __repr__(self) -> str:
        return (f"ContextMatches(query={self.query!r}, layer={self.layer}, subwords={self.subwords!r}, "
                f"{list.__repr__(self)})")


def _snippet(text: str, start: int, end: int, context: int) -> str:
    left = text[max(0, start - context):start]
    right = text[end:end + context]
    pre = "..." if start - context > 0 else ""
    post = "..." if end + context < len(text) else ""
    return f"{pre}{left}[[{text[start:end]}]]{right}{post}".replace("\n", " ")


def _query_group(e: Encoding, word: object, occurrence: object, span: object) -> tuple[torch.Tensor, set[int]]:
    """Token group (0 = in the query, -1 = out) and the query's word indices."""
    if span is not None:
        if word is not None or occurrence is not None:
            raise InvalidParameterError(f"give word= or span=, not both; got word={word!r} and span={span!r}.")
        a, b = check_span(e, span)  # inside the text: a span past its end is refused, not clipped
        words = {w for w, (s, t) in zip(e.word_ids, e.offsets) if w is not None and s < b and t > a}
        if not words:
            raise InvalidParameterError(
                f"span {span!r} covers no word of the text (length {len(e.text)}): {e.text[:60]!r}.")
    else:
        if word is None:
            raise InvalidParameterError("give a word (a word string, a word index) or span=(start, end).")
        words = {resolve_word(e, word, occurrence, name="word")}
    group = torch.tensor([0 if w in words else -1 for w in e.word_ids], dtype=torch.long)
    return group, words


@dataclass(frozen=True)
class Query:
    vector: torch.Tensor  # float32 [dim], unit length
    words: frozenset[int]  # word indices of e in the query
    text: str  # e.text
    label: str  # the query as written
    span: tuple[int, int]  # its character offsets in text
    layer: int  # model layer id


def resolve_query(e: Encoding, word: object, occurrence: object, span: object, layer: int, subwords: str) -> Query:
    """The query's unit vector at ``layer`` and what it is (checks word, span and layer against ``e``)."""
    check("span", span, NoneOr(Instance(tuple, label="a (start, end) tuple")))
    group, words = _query_group(e, word, occurrence, span)
    e_row = stored_row(e, layer)
    q = pool_tokens(token_major(e), [e_row], "sum", group, 1, subwords)[0]
    if not bool(torch.isfinite(q).all()):
        raise InvalidParameterError(
            f"the query's hidden states hold NaN or infinite values at layer {e.layer_ids[e_row]}; "
            f"no cosine can rank against them.")
    spans = [e.word_spans[w] for w in sorted(words)]
    a, z = spans[0][0], spans[-1][1]
    return Query(torch.nn.functional.normalize(q.float(), dim=-1), frozenset(words), e.text, e.text[a:z],
                  (a, z), e.layer_ids[e_row])


def block_word_vectors(b: Encodings, row: int, subwords: str, first: int = 0) -> torch.Tensor:
    """Unit-length float32 ``[n_words_in_block, dim]``: every word of a block pooled at stored row ``row``
    (raises for NaN or infinite hidden states there, naming text ``first`` + its index in the block)."""
    n_words = int(b.word_starts[-1])
    check_finite_hidden(b.hidden[:, row : row + 1], b.token_starts, [b.layer_ids[row]], first=first)
    vecs = pool_tokens(b.hidden, [row], "sum", b.word_group, n_words, subwords)
    return torch.nn.functional.normalize(vecs.float(), dim=-1)


def _block_scores(b: Encodings, row: int, q: torch.Tensor, subwords: str, first: int = 0) -> torch.Tensor:
    vecs = block_word_vectors(b, row, subwords, first)
    return vecs @ q.to(vecs.device)


def block_spans(b: Encodings) -> torch.Tensor:
    """Int64 ``[n_words_in_block, 2]``: every word's character span in its text, in one vectorised pass."""
    n = int(b.word_starts[-1])
    group = b.word_group.cpu()
    keep = group >= 0
    off = b.offsets.cpu()[keep]
    spans = torch.empty((n, 2), dtype=torch.long)
    spans[:, 0] = torch.iinfo(torch.long).max
    spans[:, 1] = torch.iinfo(torch.long).min
    spans[:, 0].scatter_reduce_(0, group[keep], off[:, 0], reduce="amin")
    spans[:, 1].scatter_reduce_(0, group[keep], off[:, 1], reduce="amax")
    return spans


def context_matches(query: Query, subwords: str, cosines: list[float], text_index: list[int], word_index: list[int],
                    texts: list[str], spans: list[tuple[int, int]], context: int) -> ContextMatches:
    """Matches (already best first) with their snippets."""
    out = [ContextMatch(text_index=ti, word_index=wi, word=t[a:z], cosine=float(c),
                        snippet=_snippet(t, a, z, context), span=(a, z), text=t)
           for c, ti, wi, t, (a, z) in zip(cosines, text_index, word_index, texts, spans)]
    return ContextMatches(out, query=query.label, query_text=query.text, query_span=query.span,
                          layer=query.layer, subwords=subwords)


@validate_params({
    "word": NoneOr(WordArg("e"), "the word given by span="),
    "layer": Layer("corpus"),
    "span": NoneOr(Instance(tuple, list, label="a (char_start, char_end) pair of ints"), "word="),
    "corpus": IS_CORPUS,
    "e": IS_ENCODING,
    "k": Interval(int, 1),
    "occurrence": NoneOr(Interval(int)),
    "subwords": Options(SUBWORD_MODES),
    "context": Interval(int, 0),
})
def nearest_contexts(
    corpus: Corpus,
    e: Encoding,
    word: int | str | tuple[str, int] | None = None,
    layer: int = -1,
    k: int = 10,
    occurrence: int | None = None,
    subwords: str = "mean",
    *,
    span: tuple[int, int] | None = None,
    context: int = 60,
) -> ContextMatches:
    """The ``k`` word occurrences of ``corpus`` closest (cosine, at ``layer``) to one word of ``e``.

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
        Where to search (encoded by the same model as ``e``, with ``layer`` stored).
    e : Encoding
        The text of the query word.
    word : str, int or (str, int)
        A word string (case-insensitive, whole words; ``occurrence=`` picks
        among repeats), a word index, or a ``(word, occurrence)`` pair.
    layer : int, default -1
        Model layer (0 = embeddings, -1 = the last).
    k : int, default 10
        Results wanted; fewer come back when the corpus has fewer other words.
    occurrence : int, optional
        Which occurrence of a word string (0 = first, -1 = last).
    subwords : {"mean", "first", "last", "sum", "max"}
        How the pieces of a split word become one vector (query and corpus alike).
    span : (int, int), optional
        Instead of ``word``: a character span of ``e.text``; the pieces of the
        words it touches are pooled into the query.
    context : int, default 60
        Characters kept on each side of a match in its snippet.

    Returns
    -------
    ContextMatches
        A list of :class:`ContextMatch`, best first: ``text_index``,
        ``word_index``, ``word``, ``cosine``, ``snippet`` (the sentence with the
        match marked ``[[word]]``), ``span`` and ``text``; the list also carries
        ``query``, ``query_text``, ``layer`` (a model layer id) and ``subwords``.
        Draw it with :func:`bertviz_kit.plot_nearest_contexts`.

    Raises
    ------
    InvalidParameterError
        A word not in ``e``, a layer not stored in ``e`` or the corpus, a
        corpus of another width.

    See Also
    --------
    bertviz_kit.build_context_index : pool the corpus once into a faiss index
        for many fast queries (the same results).
    """
    corpus = as_corpus(corpus, "corpus")
    if corpus.dim != e.dim:
        raise InvalidParameterError(
            f"corpus has vectors of width {corpus.dim} and e of width {e.dim}: encode both with the same model.")
    check_same_model(e, corpus, "e", "corpus", "encode the query with the model that encoded the corpus")
    query = resolve_query(e, word, occurrence, span, layer, subwords)
    c_row = stored_row(corpus, layer)

    best = torch.empty(0)
    best_text = torch.empty(0, dtype=torch.long)
    best_word = torch.empty(0, dtype=torch.long)
    best_span = torch.empty((0, 2), dtype=torch.long)
    texts: dict[int, str] = {}  # the texts of the running top-k
    for first, b in corpus.blocks():
        scores = _block_scores(b, c_row, query.vector, subwords, first).float().cpu()
        starts = b.word_starts.cpu()
        n_words = scores.shape[0]
        if n_words == 0:
            continue
        for i, text in enumerate(b.texts):  # leave out the query occurrence itself
            if text == query.text:
                for w in query.words:
                    if int(starts[i]) + w < int(starts[i + 1]):
                        scores[int(starts[i]) + w] = float("-inf")
        top = scores.topk(min(k, n_words))
        keep = torch.isfinite(top.values)
        idx = top.indices[keep]
        text_local = torch.searchsorted(starts, idx, right=True) - 1
        best = torch.cat([best, top.values[keep]])
        best_text = torch.cat([best_text, text_local + first])
        best_word = torch.cat([best_word, idx - starts[text_local]])
        best_span = torch.cat([best_span, block_spans(b)[idx]])
        if best.numel() > k:
            order = best.topk(k).indices
            best, best_text, best_word, best_span = best[order], best_text[order], best_word[order], best_span[order]
        live = set(best_text.tolist())
        texts = {ti: t for ti, t in texts.items() if ti in live}
        texts.update({first + i: b.texts[i] for i in set(text_local.tolist()) if first + i in live})
    order = best.argsort(descending=True, stable=True)
    best_text = best_text[order].tolist()
    return context_matches(query, subwords, best[order].tolist(), best_text, best_word[order].tolist(),
                           [texts[ti] for ti in best_text], [tuple(x) for x in best_span[order].tolist()], context)
