"""Compare vectors: cosine, finding words, per-layer curves, contextuality metrics.

The contextuality metrics follow Ethayarajh (2019), "How contextual are
contextualized word representations?": :func:`self_similarity` (how alike one
word's vectors are across contexts), :func:`intra_similarity` (how alike the
words of one sentence are) and :func:`anisotropy` (how alike two random words
are: the baseline the other two should be read against). Each returns one
value per stored layer, row 0 being the embedding layer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from .._validation import (
    ARRAY,
    TEXT,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    validate_params,
)
from ..encoder import check_finite_hidden
from ..encoding import IS_CORPUS, IS_ENCODING, Corpus, Encoding, Encodings, as_corpus
from ..layers import COMBINE_MODES, Layers, LayerSpec, layer_rows
from .addressing import WordArg, resolve_word
from .pooling import SUBWORD_MODES, pool_tokens, token_major

__all__ = [
    "cosine",
    "find",
    "find_occurrences",
    "occurrence_vectors",
    "layer_occurrence_vectors",
    "layer_similarity",
    "layer_word_vectors",
    "self_similarity",
    "intra_similarity",
    "anisotropy",
]


_NUMBERS = Instance(torch.Tensor, np.ndarray, list, tuple, label="a tensor or array of numbers")


def _as_matrix(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError):
            raise InvalidParameterError(
                f"{name} must be a tensor or array of numbers; got {type(x).__name__}.") from None
    if x.ndim == 1:
        x = x.unsqueeze(0)
    if x.ndim != 2:
        raise InvalidParameterError(f"{name} must be 1-D [dim] or 2-D [n, dim]; got shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        x = x.float()
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    if not bool(torch.isfinite(x).all()):
        raise InvalidParameterError(f"{name} holds NaN or infinite values; cosine is undefined for them.")
    return x


def _unit_rows(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Rows scaled to unit length without overflow or underflow: each row is first divided by
    its largest absolute value (so 1e30 or 1e-30 vectors keep their direction); zero rows stay 0."""
    scale = x.abs().amax(dim=1, keepdim=True)
    x = x / torch.where(scale > 0, scale, torch.ones_like(scale))
    return x / x.norm(dim=1, keepdim=True).clamp_min(eps)


@validate_params({"a": _NUMBERS, "b": NoneOr(_NUMBERS, "a with itself"), "eps": Interval(float, 0, closed="neither")})
def cosine(a: object, b: object | None = None, eps: float = 1e-8) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b``: ``[n, m]``.

    Parameters
    ----------
    a : tensor, shape ``[n, dim]`` or ``[dim]``
    b : tensor, shape ``[m, dim]`` or ``[dim]``, optional
        Defaults to ``a`` (all pairs within ``a``). 1-D inputs are promoted to
        one row.
    eps : float
        Norms are clamped to at least ``eps``, so a zero vector has cosine 0
        with everything (never NaN). Rows are rescaled before their norm is
        taken, so very large or very small vectors (1e30, 1e-30) keep their
        exact cosine; half-precision inputs are computed in float32.

    Raises
    ------
    InvalidParameterError
        For NaN or infinite values, or widths that differ.
    """
    x = _as_matrix(a, "a")
    y = x if b is None else _as_matrix(b, "b")
    if x.shape[1] != y.shape[1]:
        raise InvalidParameterError(
            f"a and b must have the same width; got {x.shape[1]} and {y.shape[1]}."
        )
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(dtype)
    xn = _unit_rows(x, eps)
    yn = xn if b is None else _unit_rows(y, eps)
    return xn @ yn.T


@validate_params({"e": IS_ENCODING, "word": TEXT, "ignore_case": Boolean()})
def find(e: Encoding, word: str, ignore_case: bool = True) -> list[int]:
    """Indices into ``e.words`` of every occurrence of ``word``.

    Parameters
    ----------
    e : Encoding
    word : str
        A whole word as the tokenizer splits words (``"bank"``, not ``"bank vault"``).
    ignore_case : bool, default True

    Returns
    -------
    list of int
        Empty when the word does not occur.
    """
    key = _check_word_arg(word)
    if ignore_case:
        key = key.casefold()
        return [i for i, w in enumerate(e.words) if w.casefold() == key]
    return [i for i, w in enumerate(e.words) if w == key]


@validate_params({"e": IS_ENCODING, "subwords": Options(SUBWORD_MODES)})
def layer_word_vectors(e: Encoding, subwords: str = "mean") -> torch.Tensor:
    """Word vectors at every stored layer: ``[n_stored_layers, n_words, dim]``."""
    k = len(e.layer_ids)
    pooled = pool_tokens(token_major(e), list(range(k)), "concat", e.word_index, e.n_words, subwords)
    return pooled.reshape(e.n_words, k, e.dim).permute(1, 0, 2)


WordRef = int | str | tuple[str, int]


@validate_params({"e": IS_ENCODING, "i": WordArg("e"), "j": WordArg("e"), "subwords": Options(SUBWORD_MODES)})
def layer_similarity(e: Encoding, i: WordRef, j: WordRef, subwords: str = "mean") -> torch.Tensor:
    """Cosine of words ``i`` and ``j`` at every layer: ``[n_stored_layers]``.

    Entry 0 is the embedding layer (no context yet), the last entry the top layer.

    Parameters
    ----------
    e : Encoding
    i, j : int, str or (str, int)
        Each a word index (into ``e.words``, as :func:`find` returns), a word
        string (case-insensitive, whole words: its first occurrence) or a
        ``(word, occurrence)`` pair: ``layer_similarity(e, ("bank", 0), ("bank", 2))``.
        See the word and token addressing rules of :func:`bertviz_kit.find` and :func:`bertviz_kit.occurrence_labels`.
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
        How a split word's pieces pool into one vector.
    """
    i, j = resolve_word(e, i, name="i"), resolve_word(e, j, name="j")
    return layer_cosine(layer_word_vectors(e, subwords), i, j)


def layer_cosine(vecs: torch.Tensor, i: int, j: int) -> torch.Tensor:
    """Cosine of words ``i`` and ``j`` at every layer of ``vecs`` ``[L, W, D]`` (from :func:`layer_word_vectors`)."""
    return torch.nn.functional.cosine_similarity(vecs[:, i], vecs[:, j], dim=-1, eps=1e-8)


# ---------------------------------------------------------------------------
# Many texts: occurrences of a word, contextuality metrics.
# Every function reads a corpus (Encodings, Store or list of Encoding) block by block:
# one vectorised pooling pass per block, memory bounded by a block, never a copy of
# every word vector of the corpus.
# ---------------------------------------------------------------------------

_CORPUS = "corpus"
_OLD_NAMES = {"encodings": "corpus"}  # old keyword: still accepted, with a FutureWarning


def _check_word_arg(word: object) -> str:
    if not isinstance(word, str) or not word.strip():
        raise InvalidParameterError(f"word must be a non-empty string; got {word!r}.")
    return word.strip()


def _block_find(b: Encodings, key: str, ignore_case: bool) -> list[tuple[int, int]]:
    """``(text, word)`` of every occurrence of ``key`` in block ``b`` (only texts that
    contain the string are split into words)."""
    hits = []
    if ignore_case:
        key = key.casefold()
        for i, text in enumerate(b.texts):
            if key in text.casefold():
                hits += [(i, j) for j, w in enumerate(b.words(i)) if w.casefold() == key]
    else:
        for i, text in enumerate(b.texts):
            if key in text:
                hits += [(i, j) for j, w in enumerate(b.words(i)) if w == key]
    return hits


def _word_lookup(b: Encodings, words: torch.Tensor, n: int) -> torch.Tensor:
    """Token -> group for block ``b``: tokens of block word ``words[k]`` get ``k``, others -1."""
    lookup = torch.full((int(b.word_starts[-1]) + 1,), -1, dtype=torch.long)
    lookup[words] = torch.arange(n)
    wg = b.word_group
    return lookup[torch.where(wg >= 0, wg, lookup.shape[0] - 1)]


@validate_params({"corpus": IS_CORPUS, "word": TEXT, "ignore_case": Boolean()}, renamed=_OLD_NAMES)
def find_occurrences(
    corpus: Corpus | Sequence[Encoding], word: str, ignore_case: bool = True
) -> list[tuple[int, int]]:
    """Every occurrence of ``word`` in many texts: ``(text index, word index)`` pairs.

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
    word : str
        A whole word, as for :func:`find`.
    ignore_case : bool, default True

    Returns
    -------
    list of (int, int)
        ``(i, j)``: ``corpus[i].words[j]`` is the word. Empty when it never occurs.
    """
    corpus = as_corpus(corpus, _CORPUS)
    key = _check_word_arg(word)
    return [(first + i, j) for first, b in corpus.blocks() for i, j in _block_find(b, key, ignore_case)]


def _occurrences(
    corpus: Corpus, word: str, ignore_case: bool, rows: list[int], mode: str, subwords: str
) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Vectors ``[n_occurrences, dim']`` of every occurrence and where they are; raises when none."""
    key = _check_word_arg(word)
    vecs, where = [], []
    for first, b in corpus.blocks():
        hits = _block_find(b, key, ignore_case)
        if not hits:
            continue
        words = torch.tensor([int(b.word_starts[i]) + j for i, j in hits], dtype=torch.long)
        group = _word_lookup(b, words, len(hits))
        vecs.append(pool_tokens(b.hidden, rows, mode, group, len(hits), subwords))
        where += [(first + i, j) for i, j in hits]
    if not where:
        raise InvalidParameterError(
            f"word {word!r} does not occur in any of the {len(corpus)} texts of the corpus"
            f"{' (ignoring case)' if ignore_case else ''}; check the spelling, or bk.find on one encoding."
        )
    return torch.cat(vecs), where


_OCC_RULES = {"corpus": IS_CORPUS, "word": TEXT, "subwords": Options(SUBWORD_MODES), "ignore_case": Boolean()}


@validate_params({**_OCC_RULES, "layers": Layers("corpus"), "combine": NoneOr(Options(COMBINE_MODES))},
                 renamed=_OLD_NAMES)
def occurrence_vectors(
    corpus: Corpus | Sequence[Encoding],
    word: str,
    layers: LayerSpec = "last",
    subwords: str = "mean",
    combine: str | None = None,
    ignore_case: bool = True,
) -> torch.Tensor:
    """The vector of every occurrence of ``word`` in many texts: ``[n_occurrences, dim']``.

    Rows follow :func:`find_occurrences` (text by text, left to right).

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
    word : str
    layers : int, list of int or preset name, default "last"
        See :func:`bertviz_kit.resolve_layers` (0 = embeddings).
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    combine : {"sum", "mean", "concat"}, optional
    ignore_case : bool, default True

    Raises
    ------
    ValueError
        When the word occurs in none of the texts.
    """
    corpus = as_corpus(corpus, _CORPUS)
    rows, mode = layer_rows(corpus, layers, combine)
    return _occurrences(corpus, word, ignore_case, rows, mode, subwords)[0]


def _layer_occurrences(
    corpus: Corpus, word: str, subwords: str, ignore_case: bool
) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    k = len(corpus.layer_ids)
    flat, where = _occurrences(corpus, word, ignore_case, list(range(k)), "concat", subwords)
    return flat.reshape(len(where), k, corpus.dim).permute(1, 0, 2), where


@validate_params(_OCC_RULES, renamed=_OLD_NAMES)
def layer_occurrence_vectors(
    corpus: Corpus | Sequence[Encoding], word: str, subwords: str = "mean", ignore_case: bool = True
) -> torch.Tensor:
    """Every occurrence of ``word`` at every stored layer: ``[n_stored_layers, n_occurrences, dim]``.

    Columns follow :func:`find_occurrences`. Feed it to
    :func:`bertviz_kit.project_layers` or :func:`bertviz_kit.probe_layers`.
    """
    return _layer_occurrences(as_corpus(corpus, _CORPUS), word, subwords, ignore_case)[0]


def _word_blocks(corpus: Corpus, subwords: str) -> Iterator[tuple[int, Encodings, torch.Tensor]]:
    """Per block: ``(first text, block, word vectors [L, n_words_in_block, D])``."""
    k = len(corpus.layer_ids)
    for first, b in corpus.blocks():
        check_finite_hidden(b.hidden, b.token_starts, b.layer_ids, first=first)
        n_words = int(b.word_starts[-1])
        pooled = pool_tokens(b.hidden, list(range(k)), "concat", b.word_group, n_words, subwords)
        yield first, b, pooled.reshape(n_words, k, corpus.dim).permute(1, 0, 2)


def _word_mean(corpus: Corpus, subwords: str) -> torch.Tensor:
    """Mean word vector of the whole corpus, per layer: ``[L, D]`` (one streaming pass)."""
    total, count = None, 0
    for _, _, v in _word_blocks(corpus, subwords):
        s = v.sum(dim=1)
        total = s if total is None else total + s
        count += v.shape[1]
    if not count:
        raise InvalidParameterError("corpus holds no words at all (only empty texts); nothing to compare.")
    return total / count  # type: ignore[operator]


def _unit(x: torch.Tensor, mean: torch.Tensor | None, eps: float = 1e-8) -> torch.Tensor:
    """Optionally centre (``x - mean`` per layer), then scale rows to unit length. ``x``: ``[L, N, D]``."""
    if mean is not None:
        x = x - mean.to(x.device).unsqueeze(1)
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def _cross_group_mean_cosine(u: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """Mean cosine over all pairs of unit rows in different groups, per layer: ``[L]``.

    Uses ``sum_{i,j} u_i.u_j = |sum u|^2``, so it is O(N) instead of O(N^2).
    """
    total, within, counts = _group_sums(u, group)
    return _cross_pairs(total, within, counts)


def _group_sums(u: torch.Tensor, group: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(sum of u [L, D], sum over groups of |group sum|^2 [L], group sizes)``."""
    _, inverse = torch.unique(group, return_inverse=True)
    n_groups = int(inverse.max()) + 1
    inverse = inverse.to(u.device)
    per_group = u.new_zeros((u.shape[0], n_groups, u.shape[2])).index_add_(1, inverse, u)
    counts = torch.bincount(inverse, minlength=n_groups).to(u.dtype)
    return u.sum(dim=1), (per_group**2).sum(dim=(1, 2)), counts


def _cross_pairs(total: torch.Tensor, within: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    n_pairs = counts.sum() ** 2 - (counts**2).sum()
    if n_pairs <= 0:
        raise InvalidParameterError("need vectors from at least two different texts to compare across contexts.")
    return ((total**2).sum(dim=-1) - within) / n_pairs


def _baseline(
    baseline: object, adjusted: bool, n_rows: int, compute: object
) -> torch.Tensor | None:
    if baseline is not None:
        if not adjusted:
            raise InvalidParameterError("baseline is only used with adjusted=True; got adjusted=False.")
        b = torch.as_tensor(baseline, dtype=torch.float32) if not isinstance(baseline, torch.Tensor) else baseline
        if b.shape != (n_rows,):
            raise InvalidParameterError(
                f"baseline must hold one value per stored layer, shape ({n_rows},) (e.g. from "
                f"bk.anisotropy); got shape {tuple(b.shape)}."
            )
        return b.float()
    return compute() if adjusted else None  # type: ignore[operator]


_PAIRS = NoneOr(Interval(int, 1), "every pair")
_BASELINE = NoneOr(ARRAY, "no adjustment baseline given: computed when adjusted=True")
_CONTEXT_RULES = {
    "corpus": IS_CORPUS,
    "n_pairs": _PAIRS,
    "seed": Interval(int, 0),
    "center": Boolean(),
    "subwords": Options(SUBWORD_MODES),
}


@validate_params(_CONTEXT_RULES, renamed=_OLD_NAMES)
def anisotropy(
    corpus: Corpus | Sequence[Encoding],
    *,
    n_pairs: int | None = 1000,
    seed: int = 0,
    center: bool = False,
    subwords: str = "mean",
) -> torch.Tensor:
    """Mean cosine between random words from different texts, per layer: ``[n_stored_layers]``.

    The baseline for :func:`self_similarity` and :func:`intra_similarity`: if
    any two words already have a cosine of 0.6 at a layer (vectors share a
    common direction: the space is anisotropic), a self-similarity of 0.7
    says little about context. Following Ethayarajh (2019), pairs of word
    occurrences are drawn uniformly, the two words coming from different texts.

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
        At least two non-empty texts, from one model. A store is read shard by
        shard (memory bounded by one shard).
    n_pairs : int or None, default 1000
        Random pairs to average. ``None`` averages every pair of words from
        different texts exactly (no sampling; the value the sample estimates).
    seed : int, default 0
        Seeds the sampling (a private generator; global RNG state is untouched).
    center : bool, default False
        Subtract the mean word vector of the whole collection (per layer)
        before the cosine. Centring removes the common direction, so the
        baseline drops to about 0.
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"

    Returns
    -------
    torch.Tensor, shape ``[n_stored_layers]``
    """
    corpus = as_corpus(corpus, _CORPUS)
    counts_all = corpus.word_counts()
    has_words = counts_all > 0
    if not bool(has_words.any()):
        raise InvalidParameterError("corpus holds no words at all (only empty texts); nothing to compare.")
    if int(has_words.sum()) < 2:
        raise InvalidParameterError(
            "anisotropy needs words from at least two different (non-empty) texts; got one.")
    mean = _word_mean(corpus, subwords) if center else None
    if n_pairs is None:
        total, within = None, None
        for _, b, v in _word_blocks(corpus, subwords):
            if v.shape[1] == 0:
                continue
            owner = torch.repeat_interleave(torch.arange(len(b)), b.word_counts())
            t, w, _ = _group_sums(_unit(v, mean), owner)
            total = t if total is None else total + t
            within = w if within is None else within + w
        counts = counts_all[has_words].to(total.dtype)  # type: ignore[union-attr]
        return _cross_pairs(total, within, counts.to(total.device))  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(seed)
    counts = counts_all[has_words]
    n = int(counts.sum())
    starts = torch.cumsum(counts, 0) - counts
    text_of = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    first = torch.randint(n, (n_pairs,), generator=g)
    t = text_of[first]
    # second word: uniform over the words of the other texts
    r = (torch.rand(n_pairs, generator=g) * (n - counts[t])).long().clamp_max(n - counts[t] - 1)
    second = torch.where(r < starts[t], r, r + counts[t])
    u = _sampled_words(corpus, torch.cat([first, second]), mean, subwords)
    return (u[:, :n_pairs] * u[:, n_pairs:]).sum(dim=-1).mean(dim=1)


def _sampled_words(corpus: Corpus, picks: torch.Tensor, mean: torch.Tensor | None, subwords: str) -> torch.Tensor:
    """Unit word vectors ``[L, len(picks), D]`` of words numbered across the corpus, read block by
    block (only the picked words are pooled)."""
    needed, inverse = torch.unique(picks, return_inverse=True)
    k = len(corpus.layer_ids)
    parts = []
    word_base = 0
    for first, b in corpus.blocks():
        n_words = int(b.word_starts[-1])
        lo, hi = torch.searchsorted(needed, torch.tensor([word_base, word_base + n_words]))
        if hi > lo:
            local = needed[lo:hi] - word_base
            group = _word_lookup(b, local, local.numel())
            pooled = pool_tokens(b.hidden, list(range(k)), "concat", group, local.numel(), subwords)
            if not bool(torch.isfinite(pooled).all()):  # only the picked words are read; the block names its text
                check_finite_hidden(b.hidden, b.token_starts, b.layer_ids, first=first)
            parts.append(pooled.reshape(local.numel(), k, corpus.dim).permute(1, 0, 2))
        word_base += n_words
    u = _unit(torch.cat(parts, dim=1), mean)
    return u[:, inverse.to(u.device)]


@validate_params({**_CONTEXT_RULES, "word": TEXT, "adjusted": Boolean(), "baseline": _BASELINE,
                  "ignore_case": Boolean()}, renamed=_OLD_NAMES)
def self_similarity(
    corpus: Corpus | Sequence[Encoding],
    word: str,
    *,
    adjusted: bool = False,
    baseline: torch.Tensor | None = None,
    center: bool = False,
    n_pairs: int | None = 1000,
    seed: int = 0,
    subwords: str = "mean",
    ignore_case: bool = True,
) -> torch.Tensor:
    """Mean cosine between a word's occurrences in different texts, per layer: ``[n_stored_layers]``.

    1 means the word has the same vector in every context (a static
    embedding); lower values mean its vector depends on the context. Every
    pair of occurrences from two different texts counts once (pairs within one
    text are left out: they share their context).

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
        The texts, from one model; the word must occur in at least two of them.
    word : str
        A whole word, as for :func:`find`.
    adjusted : bool, default False
        Subtract the anisotropy baseline (:func:`anisotropy` of the same
        corpus, with the same ``center``, ``n_pairs``, ``seed``, ``subwords``),
        as Ethayarajh does.
    baseline : tensor ``[n_stored_layers]``, optional
        A precomputed :func:`anisotropy` to subtract (only with ``adjusted=True``).
    center : bool, default False
        Subtract the mean word vector of all the corpus's words (per layer)
        before the cosine.
    n_pairs, seed : see :func:`anisotropy` (used only when ``adjusted`` computes the baseline).
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    ignore_case : bool, default True

    Raises
    ------
    ValueError
        When the word occurs in no encoding (the message names it), or in only one.
    """
    corpus = as_corpus(corpus, _CORPUS)
    occ, where = _layer_occurrences(corpus, word, subwords, ignore_case)  # [L, n, D]
    texts = torch.tensor([i for i, _ in where])
    if int(texts.unique().numel()) < 2:
        raise InvalidParameterError(
            f"word {word!r} occurs in only one text of the corpus (text {int(texts[0])}); "
            f"self-similarity compares occurrences in at least two different texts."
        )
    mean = _word_mean(corpus, subwords) if center else None
    value = _cross_group_mean_cosine(_unit(occ, mean), texts)
    base = _baseline(baseline, adjusted, value.shape[0], lambda: anisotropy(
        corpus, n_pairs=n_pairs, seed=seed, center=center, subwords=subwords))
    return value if base is None else value - base.to(value.device)


@validate_params({**_CONTEXT_RULES, "adjusted": Boolean(), "baseline": _BASELINE}, renamed=_OLD_NAMES)
def intra_similarity(
    corpus: Corpus | Sequence[Encoding],
    *,
    adjusted: bool = False,
    baseline: torch.Tensor | None = None,
    center: bool = False,
    n_pairs: int | None = 1000,
    seed: int = 0,
    subwords: str = "mean",
) -> torch.Tensor:
    """Mean cosine of each word to its own text's mean word vector, per layer: ``[n_stored_layers]``.

    Averaged first over the words of a text, then over texts (texts without
    words are skipped). High values mean the words of a sentence share much
    of their vectors: context pulls them together.

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
    adjusted : bool, default False
        Subtract the anisotropy baseline (see :func:`self_similarity`).
    baseline : tensor ``[n_stored_layers]``, optional
    center : bool, default False
        Subtract the mean word vector of all the corpus's words (per layer)
        first; the text means are then taken from the centred vectors.
    n_pairs, seed : see :func:`anisotropy` (used only when ``adjusted`` computes the baseline).
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    """
    corpus = as_corpus(corpus, _CORPUS)
    mean = _word_mean(corpus, subwords) if center else None
    per_text = []
    for _, b, vecs in _word_blocks(corpus, subwords):
        counts = b.word_counts()
        counts = counts[counts > 0]
        if counts.numel() == 0:
            continue
        if mean is not None:
            vecs = vecs - mean.to(vecs.device).unsqueeze(1)
        owner = torch.repeat_interleave(torch.arange(counts.numel()), counts).to(vecs.device)
        sums = vecs.new_zeros((vecs.shape[0], counts.numel(), vecs.shape[2])).index_add_(1, owner, vecs)
        means = sums / counts.to(vecs.device, vecs.dtype).view(1, -1, 1)  # [L, S, D]
        cos = torch.nn.functional.cosine_similarity(vecs, means[:, owner], dim=-1, eps=1e-8)  # [L, N]
        text_cos = cos.new_zeros((cos.shape[0], counts.numel())).index_add_(1, owner, cos)
        per_text.append(text_cos / counts.to(cos.device, cos.dtype))  # [L, S]
    if not per_text:
        raise InvalidParameterError("corpus holds no words at all (only empty texts); nothing to compare.")
    value = torch.cat(per_text, dim=1).mean(dim=1)
    base = _baseline(baseline, adjusted, value.shape[0], lambda: anisotropy(
        corpus, n_pairs=n_pairs, seed=seed, center=center, subwords=subwords))
    return value if base is None else value - base.to(value.device)
