"""Compare vectors: cosine, finding words, per-layer curves, contextuality metrics.

The contextuality metrics follow Ethayarajh (2019), "How contextual are
contextualized word representations?": :func:`self_similarity` (how alike one
word's vectors are across contexts), :func:`intra_similarity` (how alike the
words of one sentence are) and :func:`anisotropy` (how alike two random words
are: the baseline the other two should be read against). Each returns one
value per stored layer, row 0 being the embedding layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .encoding import Encoding
from .pooling import (
    SUBWORD_MODES,
    LayerSpec,
    _check_choice,
    _check_encoding,
    _check_encodings,
    _pool_groups,
    word_vectors,
)

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


def _as_matrix(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{name} must be a tensor or array of numbers; got {type(x).__name__}.") from None
    if x.ndim == 1:
        x = x.unsqueeze(0)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 1-D [dim] or 2-D [n, dim]; got shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        x = x.float()
    return x


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
        with everything (never NaN).
    """
    x = _as_matrix(a, "a")
    y = x if b is None else _as_matrix(b, "b")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"a and b must have the same width; got {x.shape[1]} and {y.shape[1]}."
        )
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(dtype)
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(eps)
    yn = y / y.norm(dim=1, keepdim=True).clamp_min(eps)
    return xn @ yn.T


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
    _check_encoding(e)
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"word must be a non-empty string; got {word!r}.")
    key = word.strip()
    if ignore_case:
        key = key.casefold()
        return [i for i, w in enumerate(e.words) if w.casefold() == key]
    return [i for i, w in enumerate(e.words) if w == key]


def layer_word_vectors(e: Encoding, subwords: str = "mean") -> torch.Tensor:
    """Word vectors at every stored layer: ``[n_stored_layers, n_words, dim]``."""
    _check_encoding(e)
    _check_choice("subwords", subwords, SUBWORD_MODES)
    hs = e.hidden_states  # [L, T, D]
    n_layers, n_tokens, dim = hs.shape
    flat = hs.permute(1, 0, 2).reshape(n_tokens, n_layers * dim)
    pooled = _pool_groups(flat, e.word_index, e.n_words, subwords)  # [W, L*D]
    return pooled.reshape(e.n_words, n_layers, dim).permute(1, 0, 2)


def _check_word(e: Encoding, i: object, name: str) -> int:
    if isinstance(i, bool) or not isinstance(i, int) or not -e.n_words <= i < e.n_words:
        raise ValueError(
            f"{name} must be a word index in [{-e.n_words}, {e.n_words - 1}] "
            f"(see e.words or bk.find); got {i!r}."
        )
    return i % e.n_words


def layer_similarity(e: Encoding, i: int, j: int, subwords: str = "mean") -> torch.Tensor:
    """Cosine of words ``i`` and ``j`` at every layer: ``[n_stored_layers]``.

    Entry 0 is the embedding layer (no context yet), the last entry the top layer.
    """
    _check_encoding(e)
    i, j = _check_word(e, i, "i"), _check_word(e, j, "j")
    return _layer_cosine(layer_word_vectors(e, subwords), i, j)


def _layer_cosine(vecs: torch.Tensor, i: int, j: int) -> torch.Tensor:
    """Cosine of words ``i`` and ``j`` at every layer of ``vecs`` ``[L, W, D]`` (from :func:`layer_word_vectors`)."""
    return torch.nn.functional.cosine_similarity(vecs[:, i], vecs[:, j], dim=-1, eps=1e-8)


# ---------------------------------------------------------------------------
# Many texts: occurrences of a word, contextuality metrics
# ---------------------------------------------------------------------------


def _check_same_model(es: Sequence[Encoding], name: str = "encodings") -> None:
    first = es[0]
    for i, e in enumerate(es):
        if e.layer_ids != first.layer_ids or e.dim != first.dim:
            raise ValueError(
                f"{name} must come from one model with the same stored layers; {name}[0] has "
                f"layers {first.layer_ids} and dim {first.dim}, {name}[{i}] has {e.layer_ids} "
                f"and dim {e.dim}."
            )


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {value!r}.")


def find_occurrences(
    encodings: Sequence[Encoding], word: str, ignore_case: bool = True
) -> list[tuple[int, int]]:
    """Every occurrence of ``word`` in many texts: ``(text index, word index)`` pairs.

    Parameters
    ----------
    encodings : list of Encoding
    word : str
        A whole word, as for :func:`find`.
    ignore_case : bool, default True

    Returns
    -------
    list of (int, int)
        ``(i, j)``: ``encodings[i].words[j]`` is the word. Empty when it never occurs.
    """
    _check_encodings(encodings, "encodings")
    _check_flag("ignore_case", ignore_case)
    return [(i, j) for i, e in enumerate(encodings) for j in find(e, word, ignore_case)]


def _require_occurrences(encodings: Sequence[Encoding], word: str, ignore_case: bool) -> list[tuple[int, int]]:
    where = find_occurrences(encodings, word, ignore_case)
    if not where:
        raise ValueError(
            f"word {word!r} does not occur in any of the {len(encodings)} encodings"
            f"{' (ignoring case)' if ignore_case else ''}; check the spelling, or bk.find on one encoding."
        )
    return where


def occurrence_vectors(
    encodings: Sequence[Encoding],
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
    encodings : list of Encoding
    word : str
    layers : int, list of int or preset name, default "last"
        See :func:`bertviz_kit.resolve_layers`.
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    combine : {"sum", "mean", "concat"}, optional
    ignore_case : bool, default True

    Raises
    ------
    ValueError
        When the word occurs in none of the encodings.
    """
    _check_choice("subwords", subwords, SUBWORD_MODES)
    where = _require_occurrences(encodings, word, ignore_case)
    rows = []
    for i in sorted({i for i, _ in where}):
        idx = [j for t, j in where if t == i]
        rows.append(word_vectors(encodings[i], layers, subwords, combine)[idx])
    return torch.cat(rows)


def layer_occurrence_vectors(
    encodings: Sequence[Encoding], word: str, subwords: str = "mean", ignore_case: bool = True
) -> torch.Tensor:
    """Every occurrence of ``word`` at every stored layer: ``[n_stored_layers, n_occurrences, dim]``.

    Columns follow :func:`find_occurrences`. Feed it to
    :func:`bertviz_kit.project_layers` or :func:`bertviz_kit.probe_layers`.
    """
    _check_choice("subwords", subwords, SUBWORD_MODES)
    where = _require_occurrences(encodings, word, ignore_case)
    _check_same_model(encodings)
    cols = []
    for i in sorted({i for i, _ in where}):
        idx = [j for t, j in where if t == i]
        cols.append(layer_word_vectors(encodings[i], subwords)[:, idx])
    return torch.cat(cols, dim=1)


def _corpus_words(encodings: Sequence[Encoding], subwords: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All word vectors of all texts, ``[L, N, D]``, and the text of each word ``[N]``."""
    _check_encodings(encodings, "encodings")
    _check_choice("subwords", subwords, SUBWORD_MODES)
    _check_same_model(encodings)
    vecs, owner = [], []
    for i, e in enumerate(encodings):
        if e.n_words:
            vecs.append(layer_word_vectors(e, subwords))
            owner.append(torch.full((e.n_words,), i, dtype=torch.long))
    if not vecs:
        raise ValueError("encodings hold no words at all (only empty texts); nothing to compare.")
    return torch.cat(vecs, dim=1), torch.cat(owner)


def _unit(x: torch.Tensor, mean: torch.Tensor | None, eps: float = 1e-8) -> torch.Tensor:
    """Optionally centre (``x - mean`` per layer), then scale rows to unit length. ``x``: ``[L, N, D]``."""
    if mean is not None:
        x = x - mean.unsqueeze(1)
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def _cross_group_mean_cosine(u: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """Mean cosine over all pairs of unit rows in different groups, per layer: ``[L]``.

    Uses ``sum_{i,j} u_i.u_j = |sum u|^2``, so it is O(N) instead of O(N^2).
    """
    _, inverse = torch.unique(group, return_inverse=True)
    n_groups = int(inverse.max()) + 1
    total = u.sum(dim=1)  # [L, D]
    per_group = u.new_zeros((u.shape[0], n_groups, u.shape[2])).index_add_(1, inverse, u)
    counts = torch.bincount(inverse, minlength=n_groups).to(u.dtype)
    n_pairs = counts.sum() ** 2 - (counts**2).sum()
    if n_pairs <= 0:
        raise ValueError("need vectors from at least two different texts to compare across contexts.")
    within = (per_group**2).sum(dim=(1, 2))
    return ((total**2).sum(dim=-1) - within) / n_pairs


def _baseline(
    baseline: object, adjusted: bool, n_rows: int, compute: object
) -> torch.Tensor | None:
    _check_flag("adjusted", adjusted)
    if baseline is not None:
        if not adjusted:
            raise ValueError("baseline is only used with adjusted=True; got adjusted=False.")
        b = torch.as_tensor(baseline, dtype=torch.float32) if not isinstance(baseline, torch.Tensor) else baseline
        if b.shape != (n_rows,):
            raise ValueError(
                f"baseline must hold one value per stored layer, shape ({n_rows},) (e.g. from "
                f"bk.anisotropy); got shape {tuple(b.shape)}."
            )
        return b.float()
    return compute() if adjusted else None  # type: ignore[operator]


def _check_n_pairs(n_pairs: object) -> None:
    if n_pairs is not None and (isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1):
        raise ValueError(f"n_pairs must be an int >= 1 or None (every pair); got {n_pairs!r}.")


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}.")


def anisotropy(
    encodings: Sequence[Encoding],
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
    encodings : list of Encoding
        At least two non-empty texts, from one model.
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
    _check_n_pairs(n_pairs)
    _check_seed(seed)
    _check_flag("center", center)
    vecs, owner = _corpus_words(encodings, subwords)
    if int(owner.unique().numel()) < 2:
        raise ValueError("anisotropy needs words from at least two different (non-empty) texts; got one.")
    u = _unit(vecs, vecs.mean(dim=1) if center else None)
    if n_pairs is None:
        return _cross_group_mean_cosine(u, owner)
    g = torch.Generator().manual_seed(seed)
    n = owner.numel()
    # texts are contiguous in `owner`: start and size of each word's text
    _, counts = torch.unique_consecutive(owner, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    text_of = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    first = torch.randint(n, (n_pairs,), generator=g)
    t = text_of[first]
    # second word: uniform over the words of the other texts
    r = (torch.rand(n_pairs, generator=g) * (n - counts[t])).long().clamp_max(n - counts[t] - 1)
    second = torch.where(r < starts[t], r, r + counts[t])
    return (u[:, first] * u[:, second]).sum(dim=-1).mean(dim=1)


def self_similarity(
    encodings: Sequence[Encoding],
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
    encodings : list of Encoding
        The texts, from one model; the word must occur in at least two of them.
    word : str
        A whole word, as for :func:`find`.
    adjusted : bool, default False
        Subtract the anisotropy baseline (:func:`anisotropy` of the same
        encodings, with the same ``center``, ``n_pairs``, ``seed``, ``subwords``),
        as Ethayarajh does.
    baseline : tensor ``[n_stored_layers]``, optional
        A precomputed :func:`anisotropy` to subtract (only with ``adjusted=True``).
    center : bool, default False
        Subtract the mean word vector of all the encodings' words (per layer)
        before the cosine.
    n_pairs, seed : see :func:`anisotropy` (used only when ``adjusted`` computes the baseline).
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    ignore_case : bool, default True

    Raises
    ------
    ValueError
        When the word occurs in no encoding (the message names it), or in only one.
    """
    _check_encodings(encodings, "encodings")
    _check_flag("center", center)
    _check_n_pairs(n_pairs)
    _check_seed(seed)
    where = _require_occurrences(encodings, word, ignore_case)
    texts = torch.tensor([i for i, _ in where])
    if int(texts.unique().numel()) < 2:
        raise ValueError(
            f"word {word!r} occurs in only one of the encodings (text {int(texts[0])}); "
            f"self-similarity compares occurrences in at least two different texts."
        )
    occ = layer_occurrence_vectors(encodings, word, subwords, ignore_case)  # [L, n, D]
    mean = _corpus_words(encodings, subwords)[0].mean(dim=1) if center else None
    value = _cross_group_mean_cosine(_unit(occ, mean), texts)
    base = _baseline(baseline, adjusted, value.shape[0], lambda: anisotropy(
        encodings, n_pairs=n_pairs, seed=seed, center=center, subwords=subwords))
    return value if base is None else value - base


def intra_similarity(
    encodings: Sequence[Encoding],
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
    encodings : list of Encoding
    adjusted : bool, default False
        Subtract the anisotropy baseline (see :func:`self_similarity`).
    baseline : tensor ``[n_stored_layers]``, optional
    center : bool, default False
        Subtract the mean word vector of all the encodings' words (per layer)
        first; the text means are then taken from the centred vectors.
    n_pairs, seed : see :func:`anisotropy` (used only when ``adjusted`` computes the baseline).
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    """
    _check_flag("center", center)
    _check_n_pairs(n_pairs)
    _check_seed(seed)
    vecs, owner = _corpus_words(encodings, subwords)
    if center:
        vecs = vecs - vecs.mean(dim=1, keepdim=True)
    _, inverse = torch.unique(owner, return_inverse=True)
    n_texts = int(inverse.max()) + 1
    means = _pool_groups(vecs.permute(1, 0, 2).reshape(vecs.shape[1], -1), inverse, n_texts, "mean")
    means = means.reshape(n_texts, vecs.shape[0], vecs.shape[2]).permute(1, 0, 2)  # [L, S, D]
    cos = torch.nn.functional.cosine_similarity(vecs, means[:, inverse], dim=-1, eps=1e-8)  # [L, N]
    per_text = _pool_groups(cos.T, inverse, n_texts, "mean")  # [S, L]
    value = per_text.mean(dim=0)
    base = _baseline(baseline, adjusted, value.shape[0], lambda: anisotropy(
        encodings, n_pairs=n_pairs, seed=seed, center=center, subwords=subwords))
    return value if base is None else value - base
