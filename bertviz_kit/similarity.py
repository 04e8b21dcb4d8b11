"""Compare vectors: cosine, finding words, similarity of two words at every layer."""

from __future__ import annotations

import torch

from .encoding import Encoding
from .pooling import SUBWORD_MODES, _check_choice, _check_encoding, _pool_groups

__all__ = ["cosine", "find", "layer_similarity", "layer_word_vectors"]


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
    vecs = layer_word_vectors(e, subwords)  # [L, W, D]
    a, b = vecs[:, i], vecs[:, j]
    return torch.nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-8)
