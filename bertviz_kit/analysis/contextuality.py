"""Ethayarajh's contextuality suite, completed: maximum explainable variance and static embeddings.

Ethayarajh (2019, "How Contextual are Contextualized Word Representations?
Comparing the Geometry of BERT, ELMo, and GPT-2 Embeddings") measures
contextuality in three ways. Self-similarity, intra-sentence similarity and
the anisotropy baseline live in :mod:`bertviz_kit.vectors.similarity`
(:func:`~bertviz_kit.self_similarity`, :func:`~bertviz_kit.intra_similarity`,
:func:`~bertviz_kit.anisotropy`); this module adds the third measure and what
it yields:

* :func:`mev`, the **maximum explainable variance** of a word at each layer
  (the paper's Definition 3): with ``sigma_1 >= sigma_2 >= ...`` the singular
  values of the word's occurrence matrix (one row per occurrence, *not*
  centred), ``MEV = sigma_1^2 / sum_i sigma_i^2``: the share of the
  occurrences' (uncentred) second moment that their first principal
  component explains, i.e. how well one static vector could stand in for
  all of them. 1 means every occurrence lies on one line through the
  origin; for ``n`` orthogonal occurrences of equal length it is ``1 / n``.
* :func:`mev_baseline`, the anisotropy-style baseline the paper subtracts:
  the MEV of word occurrences drawn at random from different texts (Section
  3.4: "the proportion of variance in uniformly randomly sampled word
  representations that is explained by their first principal component").
* :func:`static_embeddings`, the paper's static embedding of a word at a
  layer (Section 4.4): the first principal component of its occurrences.

The authors' released code (``kawine/contextual``, ``analyze.py``) differs from
the paper in places: it fits a centred PCA per word (scikit-learn's ``PCA``),
and scikit-learn's ``TruncatedSVD`` on 1000 random words (one word from each of
1000 random sentences) for the baseline. ``center=True`` gives the centred
variant; the default follows the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    SequenceOf,
    Unchecked,
    validate_params,
)
from ..encoder import check_finite_hidden
from ..encoding import IS_CORPUS, Corpus, Encoding, Encodings, as_corpus
from ..layers import Layer, stored_row
from ..vectors.pooling import SUBWORD_MODES, pool_tokens
from ..vectors.similarity import layer_occurrence_vectors

__all__ = ["mev", "mev_baseline", "static_embeddings"]


def _explained(x: torch.Tensor, center: bool, name: str = "data") -> torch.Tensor:
    """``sigma_1^2 / sum sigma_i^2`` of every ``[n, d]`` matrix of ``x [L, n, d]``: ``[L]`` (float64)."""
    x = x.to(torch.float64)
    if center:
        x = x - x.mean(dim=1, keepdim=True)
    total = x.pow(2).sum(dim=(1, 2))
    if bool((total <= 0).any()):
        k = int(torch.nonzero(total <= 0)[0])
        raise InvalidParameterError(
            f"{name} has {'no spread around the mean' if center else 'only zero vectors'} in layer row {k} "
            f"(every vector {'the same' if center else 'zero'}): the explained variance is undefined.")
    # sigma_1^2: the largest eigenvalue of the smaller Gram matrix (X X^T or X^T X)
    gram = x @ x.transpose(1, 2) if x.shape[1] <= x.shape[2] else x.transpose(1, 2) @ x
    top = torch.linalg.eigvalsh(gram)[:, -1]
    return top / total


def _stack(data: object) -> torch.Tensor:
    """Occurrence vectors given directly: ``[L, n, d]`` (``[n, d]`` is one layer)."""
    if isinstance(data, torch.Tensor):
        x = data.detach()
    elif isinstance(data, np.ndarray):
        x = torch.from_numpy(data)
    else:
        raise InvalidParameterError(
            f"data must be an Encodings, a Store, a list of Encoding (with word=...) or a tensor/array "
            f"[n_layers, n, dim] of occurrence vectors; got {type(data).__name__}.")
    if x.ndim == 2:
        x = x.unsqueeze(0)
    if x.ndim != 3 or not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64)):
        raise InvalidParameterError(
            f"data must be a float tensor [n_layers, n, dim] or [n, dim]; got shape {tuple(x.shape)} "
            f"and dtype {x.dtype}.")
    if not bool(torch.isfinite(x).all()):
        raise InvalidParameterError("data holds NaN or infinite values.")
    return x


def _is_corpus(data: object) -> bool:
    return isinstance(data, Corpus) or (
        isinstance(data, Sequence) and not isinstance(data, (str, Encoding)) and len(data) > 0
        and all(isinstance(e, Encoding) for e in data))


class _Words(SequenceOf):
    """A non-empty list (the body checks each word); a single str gets a hint to wrap it in a list."""

    def __init__(self) -> None:
        super().__init__(Unchecked("each word is checked in the body"), label="a non-empty list of str", empty=False)

    def message(self, name: str, value: object, arguments: object) -> str | None:
        if isinstance(value, (list, tuple)) and value:
            return None  # an item that is not a str: the standard message
        return f"{name} must be a non-empty list of str (e.g. [{value!r}] for one word); got {value!r}."


_MEV_DATA = Instance(Corpus, list, tuple, torch.Tensor, np.ndarray, label="an Encodings, a Store, a list of Encoding "
                     "(with word=...) or a tensor/array [n_layers, n, dim] of occurrence vectors")
_MEV_RULES = {
    "center": Boolean(),
    "n_samples": Interval(int, 2),
    "seed": Interval(int, 0),
    "subwords": Options(SUBWORD_MODES),
}


@validate_params({**_MEV_RULES, "data": _MEV_DATA, "word": NoneOr(TEXT, "data holds the occurrence vectors"),
                  "adjusted": Boolean(), "baseline": NoneOr(ARRAY, "computed when adjusted=True"),
                  "ignore_case": Boolean()})
def mev(
    data: Corpus | Sequence[Encoding] | torch.Tensor | np.ndarray,
    word: str | None = None,
    *,
    adjusted: bool = False,
    baseline: torch.Tensor | None = None,
    center: bool = False,
    n_samples: int = 1000,
    seed: int = 0,
    subwords: str = "mean",
    ignore_case: bool = True,
) -> torch.Tensor:
    """Maximum explainable variance of a word at every stored layer: ``[n_stored_layers]``.

    The share of the variance of the word's occurrence vectors that their
    first principal component explains (Ethayarajh 2019, Definition 3):
    ``sigma_1^2 / sum_i sigma_i^2`` over the singular values of the
    occurrence matrix, which is not centred (as in the paper). Close to 1:
    one static vector describes the word's occurrences well; small: its
    vectors spread over many directions with the context.

    Parameters
    ----------
    data : Encodings, Store, list of Encoding, or tensor/array ``[n_layers, n, dim]``
        A corpus (then ``word`` names the word; its occurrences come from
        :func:`bertviz_kit.layer_occurrence_vectors`, streamed over a store),
        or occurrence vectors given directly (``[n, dim]`` is one layer).
    word : str, optional
        The word, for a corpus; must occur at least twice.
    adjusted : bool, default False
        Subtract the baseline: the MEV of ``n_samples`` word occurrences
        drawn at random from different texts of the same corpus
        (:func:`mev_baseline` with the same ``center``, ``n_samples``,
        ``seed`` and ``subwords``). In an anisotropic space every set of
        vectors shares a common direction, so even unrelated words have a
        sizeable MEV; the adjusted value says how much more of the word's
        variance one vector explains than it would for random words.
    baseline : tensor ``[n_stored_layers]``, optional
        A precomputed :func:`mev_baseline` to subtract (only with
        ``adjusted=True``; needed for tensor data).
    center : bool, default False
        Subtract the occurrences' mean first (a centred PCA, as in the
        authors' code): MEV then measures how much of the spread *around*
        the mean vector one direction explains.
    n_samples, seed : int
        Random occurrences for the baseline and the seed drawing them.
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    ignore_case : bool, default True

    Returns
    -------
    torch.Tensor, float32, shape ``[n_stored_layers]``

    Raises
    ------
    ValueError
        When the word occurs fewer than two times (the message names it), or
        its vectors are all zero (all equal, with ``center=True``).
    """
    if _is_corpus(data):
        corpus = as_corpus(data, "data")
        if word is None:
            raise InvalidParameterError("word must name the word whose occurrences to measure; got None.")
        x = layer_occurrence_vectors(corpus, word, subwords, ignore_case)
        if x.shape[1] < 2:
            raise InvalidParameterError(
                f"word {word!r} occurs only once in the {len(corpus)} texts; MEV compares at least two "
                f"occurrences.")
    else:
        if word is not None:
            raise InvalidParameterError(
                f"word is only used with a corpus; data is a tensor of occurrence vectors already "
                f"(got word={word!r}).")
        corpus = None
        x = _stack(data)
        if x.shape[1] < 2:
            raise InvalidParameterError(f"data must hold at least two occurrences (rows); got {x.shape[1]}.")
    value = _explained(x, center).float()
    if baseline is not None:
        if not adjusted:
            raise InvalidParameterError("baseline is only used with adjusted=True; got adjusted=False.")
        base = torch.as_tensor(baseline, dtype=torch.float32)
        if base.shape != value.shape:
            raise InvalidParameterError(
                f"baseline must hold one value per layer, shape {tuple(value.shape)} (from bk.mev_baseline); "
                f"got shape {tuple(base.shape)}.")
        return value - base.to(value.device)
    if adjusted:
        if corpus is None:
            raise InvalidParameterError(
                "adjusted=True with tensor data needs baseline= (from bk.mev_baseline on the corpus).")
        return value - mev_baseline(corpus, n_samples=n_samples, seed=seed, center=center,
                                    subwords=subwords).to(value.device)
    return value


def _released_ratio(x: torch.Tensor) -> torch.Tensor:
    """scikit-learn's ``TruncatedSVD(...).explained_variance_ratio_[0]`` of every ``[n, d]`` matrix
    of ``x [L, n, d]``: the variance of the projections on the top right singular vector of the
    *uncentred* matrix, over the total variance of the (centred) columns. ``[L]`` (float64)."""
    x = x.to(torch.float64)
    total = x.var(dim=1, unbiased=False).sum(-1)
    if bool((total <= 0).any()):
        raise InvalidParameterError("the sampled words have no spread around their mean: the ratio is undefined.")
    v = torch.linalg.eigh(x.transpose(1, 2) @ x).eigenvectors[:, :, -1]  # [L, d]: top right singular vector
    proj = (x @ v.unsqueeze(-1)).squeeze(-1)  # [L, n]
    return proj.var(dim=1, unbiased=False) / total


@validate_params({**_MEV_RULES, "corpus": IS_CORPUS, "released": Boolean()})
def mev_baseline(
    corpus: Corpus | Sequence[Encoding],
    *,
    n_samples: int = 1000,
    seed: int = 0,
    center: bool = False,
    subwords: str = "mean",
    released: bool = False,
) -> torch.Tensor:
    """MEV of random word occurrences from different texts, per stored layer: ``[n_stored_layers]``.

    The baseline :func:`mev` subtracts with ``adjusted=True``. As in the
    authors' code, ``n_samples`` texts (all non-empty texts when there are
    fewer) are drawn without replacement and one word is drawn uniformly from
    each, so no two sampled words share a context. The value depends on the
    number of vectors (for ``m`` random directions it is at least ``1 / m``),
    so compare words with baselines of a similar size.

    **What it reproduces.** The default is the paper's definition (Section
    3.4) applied to the sample: ``sigma_1^2 / sum sigma_i^2`` of the
    uncentred vectors, the same quantity :func:`mev` reports for a word, so
    ``mev(..., adjusted=True)`` subtracts like from like; ``center=True`` is
    the centred PCA of the sample. Neither is the number the authors'
    released code (``kawine/contextual``) computes for its baseline: it takes
    scikit-learn's ``TruncatedSVD`` ``explained_variance_ratio_[0]``, which
    mixes the top direction of the *uncentred* vectors with the *centred*
    variance (the variance of the projections on that direction over the
    total variance around the mean). In an anisotropic space that direction
    is mostly the common mean direction, which carries little of the centred
    variance, so the released value is much lower (for the bundled MiniLM
    over 1000 sentence-polarity sentences at the top layer: 0.032, against
    0.054 centred and 0.084 uncentred, the default; at layer 3, 0.010
    against 0.070 and 0.184). ``released=True`` computes it
    (``center`` must then be False), to compare with numbers from that code.

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
        At least two non-empty texts. Read block by block; only the sampled
        words are pooled.
    n_samples : int, default 1000
    seed : int, default 0
        Seeds a private generator (the global RNG is untouched).
    center : bool, default False
        Centre the sampled vectors first (a centred PCA), as :func:`mev`.
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    released : bool, default False
        The released code's ratio instead (see above); not a value of the
        paper's MEV, so not for ``mev(adjusted=True)`` of the default kind.
    """
    if released and center:
        raise InvalidParameterError(
            "released=True computes the released code's TruncatedSVD ratio, which fixes its own centring; "
            "got center=True as well (use one of them).")
    corpus = as_corpus(corpus, "corpus")
    counts = corpus.word_counts()
    texts = torch.nonzero(counts > 0).squeeze(1)
    if texts.numel() < 2:
        raise InvalidParameterError(
            f"mev_baseline needs words from at least two non-empty texts; got {texts.numel()}.")
    g = torch.Generator().manual_seed(seed)
    pick = texts[torch.randperm(texts.numel(), generator=g)[: min(n_samples, texts.numel())]]
    pick = pick.sort().values
    offset = (torch.rand(pick.numel(), generator=g, dtype=torch.float64) * counts[pick]).long()
    offset = torch.minimum(offset, counts[pick] - 1)
    starts = torch.cumsum(counts, 0) - counts
    words = starts[pick] + offset  # words numbered across the corpus, sorted
    k = len(corpus.layer_ids)
    parts, base = [], 0
    for first, b in corpus.blocks():
        check_finite_hidden(b.hidden, b.token_starts, b.layer_ids, first=first)
        n_words = int(b.word_starts[-1])
        lo, hi = torch.searchsorted(words, torch.tensor([base, base + n_words])).tolist()
        if hi > lo:
            lookup = torch.full((n_words + 1,), -1, dtype=torch.long)
            lookup[words[lo:hi] - base] = torch.arange(hi - lo)
            wg = b.word_group
            group = lookup[torch.where(wg >= 0, wg, n_words)]
            pooled = pool_tokens(b.hidden, list(range(k)), "concat", group, hi - lo, subwords)
            parts.append(pooled.reshape(hi - lo, k, corpus.dim).permute(1, 0, 2))
        base += n_words
    x = torch.cat(parts, dim=1)
    return (_released_ratio(x) if released else _explained(x, center, "the sampled words")).float()


@validate_params({"corpus": IS_CORPUS, "words": _Words(), "layer": Layer("corpus"),
                  "center": Boolean(), "subwords": Options(SUBWORD_MODES), "ignore_case": Boolean()})
def static_embeddings(
    corpus: Corpus | Sequence[Encoding],
    words: Sequence[str],
    layer: int = -1,
    *,
    center: bool = False,
    subwords: str = "mean",
    ignore_case: bool = True,
) -> torch.Tensor:
    """One static vector per word from its contextual occurrences: ``[len(words), dim]``.

    Ethayarajh (2019, Section 4.4) takes the first principal component of a
    word's occurrence vectors at a layer as its static embedding: the unit
    vector ``v_1`` (first right singular vector of the uncentred occurrence
    matrix, the direction whose share of the variance :func:`mev` reports).
    Its sign is chosen so that it points the way of the mean occurrence
    (``v_1 . mean > 0``). Rows are unit length; multiply by ``sigma_1 / sqrt(n)``
    for the scale of the occurrences.

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
        Read once, block by block, for all the words together.
    words : sequence of str
        Whole words, as for :func:`bertviz_kit.find`; each must occur.
    layer : int, default -1
        One stored layer (0 = embeddings, negative from the top).
    center : bool, default False
        Take the principal component of the centred occurrences (PCA as in
        the authors' code); the sign rule still uses the uncentred mean.
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    ignore_case : bool, default True

    Returns
    -------
    torch.Tensor, float32, shape ``[len(words), dim]``

    Raises
    ------
    ValueError
        When a word occurs in none of the texts (the message names it).
    """
    corpus = as_corpus(corpus, "corpus")
    keys = _word_keys(words, ignore_case)
    row = stored_row(corpus, layer)
    index = {}
    for i, key in enumerate(keys):
        index.setdefault(key, i)
    vecs, owner = [], []
    for _, b in corpus.blocks():
        hits, who = _block_hits(b, index, ignore_case)
        if hits:
            lookup = torch.full((int(b.word_starts[-1]) + 1,), -1, dtype=torch.long)
            lookup[torch.tensor(hits)] = torch.arange(len(hits))
            wg = b.word_group
            group = lookup[torch.where(wg >= 0, wg, lookup.shape[0] - 1)]
            vecs.append(pool_tokens(b.hidden, [row], "sum", group, len(hits), subwords))
            owner += who
    found = set(owner)
    missing = [words[i] for i, key in enumerate(keys) if index[key] not in found]
    if missing:
        raise InvalidParameterError(
            f"word {missing[0]!r} does not occur in any of the {len(corpus)} texts"
            f"{' (ignoring case)' if ignore_case else ''}; static embeddings need at least one occurrence.")
    x = torch.cat(vecs).to(torch.float64)
    who_t = torch.tensor(owner, device=x.device)
    out = x.new_empty((len(words), x.shape[1]))
    for i, key in enumerate(keys):
        out[i] = _first_component(x[who_t == index[key]], center, words[i], layer)
    return out.float()


def _word_keys(words: object, ignore_case: bool) -> list[str]:
    """The words as lookup keys (stripped, case-folded with ``ignore_case``), checked."""
    if isinstance(words, str) or not isinstance(words, Sequence) or not words:
        raise InvalidParameterError(
            f"words must be a non-empty list of str (e.g. [{words!r}] for one word); got {words!r}.")
    keys = []
    for i, w in enumerate(words):
        if not isinstance(w, str) or not w.strip():
            raise InvalidParameterError(f"words[{i}] must be a non-empty string; got {w!r}.")
        keys.append(w.strip().casefold() if ignore_case else w.strip())
    return keys


def _block_hits(b: Encodings, index: dict[str, int], ignore_case: bool) -> tuple[list[int], list[int]]:
    """Occurrences of the indexed words in block ``b``: their word indices in the block, and which word each is."""
    hits, who = [], []
    for t, text in enumerate(b.texts):
        folded = text.casefold() if ignore_case else text
        if not any(key in folded for key in index):
            continue
        first = int(b.word_starts[t])
        for j, w in enumerate(b.words(t)):
            k = index.get(w.casefold() if ignore_case else w)
            if k is not None:
                hits.append(first + j)
                who.append(k)
    return hits, who


def _first_component(occ: torch.Tensor, center: bool, word: str, layer: object) -> torch.Tensor:
    """Unit first principal direction of one word's occurrences ``occ``, pointing the way of their mean."""
    mean = occ.mean(0)
    m = occ - mean if center else occ
    if not bool((m != 0).any()):
        what = "no spread around its mean (one occurrence, or identical ones)" if center else "only zero vectors"
        raise InvalidParameterError(
            f"word {word!r} has {what} at layer {layer}: its principal component is undefined.")
    v = torch.linalg.svd(m, full_matrices=False).Vh[0]
    if float(v @ mean) < 0:
        v = -v
    return v / v.norm().clamp_min(1e-300)
