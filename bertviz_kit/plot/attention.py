"""Attention maps (one layer and head, or all of them) and attention rollout, drawn from their results.

The drawers take what they draw: ``e.attentions`` (in the Encoding), the word-level attention of
:func:`bertviz_kit.word_attention` and the rollout of :func:`bertviz_kit.attention_rollout`. The
public :func:`bertviz_kit.plot_attention`, :func:`bertviz_kit.plot_attention_grid` and
:func:`bertviz_kit.plot_rollout` (in :mod:`bertviz_kit.analysis.attention`) compute those results
and call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validation import InvalidParameterError, Options, check
from ..encoding import IS_ENCODING, Encoding
from ..layers import resolve_layer
from ..vectors.addressing import attention_units, describe_token, resolve_token, token_units
from ..vectors.pooling import token_mask
from .axes import MAX_BARS_INCHES, SMALL_FONT, new_ax, note, set_labels, thinned
from .similarity import plot_similarity_heatmap

ATTENTION_LEVELS = ("token", "word")


def check_attention(e: Encoding, specials: str, level: str = "token") -> None:
    """``e`` has attentions; ``specials`` and ``level`` are known choices."""
    check("e", e, IS_ENCODING)
    if e.attentions is None:
        raise InvalidParameterError("e has no attentions; encode with encoder.encode(text, attentions=True).")
    if specials not in ("include", "exclude"):
        raise InvalidParameterError(f"specials must be one of ('include', 'exclude'); got {specials!r}.")
    check("level", level, Options(ATTENTION_LEVELS))


def _attention_maps(
    e: Encoding, specials: str, level: str, word_maps: torch.Tensor | None
) -> tuple[torch.Tensor, list[str]]:
    """``[n_layers, n_heads, n, n]`` attention of the kept tokens or words, and their labels."""
    if level == "word":
        maps = _word_maps(e, word_maps)
        if specials == "exclude":  # as bk.word_attention(e, "exclude"): rows and columns dropped
            keep = ~token_units(e)[1]
            maps = maps[..., keep, :][..., keep]
        return maps, list(attention_units(e, specials))
    keep, tokens = _attention_keep(e, specials)
    return e.attentions[:, :, keep][:, :, :, keep], tokens


def _word_maps(e: Encoding, word_maps: torch.Tensor | None) -> torch.Tensor:
    """``word_maps``, checked to be the word-level attention of ``e`` (specials included)."""
    n_units = int(token_units(e)[1].shape[0])
    shape = (*e.attentions.shape[:2], n_units, n_units)
    if not isinstance(word_maps, torch.Tensor) or tuple(word_maps.shape) != shape:
        got = tuple(word_maps.shape) if isinstance(word_maps, torch.Tensor) else type(word_maps).__name__
        raise InvalidParameterError(
            f"word_maps must be bk.word_attention(e), a tensor of shape {shape}, for level='word'; got {got}.")
    return word_maps


def _attention_keep(e: Encoding, specials: str) -> tuple[torch.Tensor, list[str]]:
    keep = token_mask(e, specials)
    return keep, [t for t, k in zip(e.tokens, keep.tolist()) if k]


def _query_bars(
    ax: Axes | None, labels: Sequence[str], values: np.ndarray, keep: np.ndarray, q: int, **kwargs: Any
) -> Axes:
    """One query's row as bars over the kept positions; the query's own bar in orange."""
    kept = [lab for lab, k in zip(labels, keep) if k]
    ax = new_ax(ax, (min(MAX_BARS_INCHES, max(5.0, 0.35 * len(kept) + 1.5)), 3.8))
    colors = ["tab:orange" if i == q else "tab:blue" for i in np.flatnonzero(keep)]
    ax.bar(range(len(kept)), values[keep], **{"color": colors, **kwargs})
    set_labels(ax, "x", kept, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(kept) - 0.4)
    ax.grid(axis="y", alpha=0.3)
    return ax


def _unit_name(e: Encoding, t: int, level: str) -> str:
    """Title text for the query of token ``t``: the token, or its whole word at ``level="word"``."""
    if level == "word" and e.word_ids[t] is not None:
        return f"word {e.word_ids[t]} {e.words[e.word_ids[t]]!r}"
    return describe_token(e, t)


def draw_attention(
    e: Encoding,
    layer: int = -1,
    head: int = 0,
    *,
    word_maps: torch.Tensor | None = None,
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
    """Draw :func:`bertviz_kit.plot_attention` (same parameters) with the word-level attention given.

    ``word_maps`` is ``bk.word_attention(e)`` (specials included), needed for ``level="word"``.
    """
    check_attention(e, specials, level)
    n_layers, n_heads = e.attentions.shape[:2]
    row = resolve_layer(layer, n_layers, embeddings=False) - 1
    if isinstance(head, bool) or not isinstance(head, int) or not -n_heads <= head < n_heads:
        raise InvalidParameterError(f"head must be an int in [0, {n_heads - 1}]; got {head!r}.")
    prefix = "word attention" if level == "word" else "attention"
    if token is not None or word is not None or occurrence is not None:
        t = resolve_token(e, token, word, occurrence)
        if level == "word":
            unit, special, _ = token_units(e)
            q, full, labels = int(unit[t]), _word_maps(e, word_maps)[row, head], list(attention_units(e))
        else:
            q, full, labels, special = t, e.attentions[row, head].float(), list(e.tokens), e.special_mask
        keep = np.ones(len(labels), dtype=bool) if specials == "include" else ~special.numpy()
        ax = _query_bars(ax, labels, full[q].numpy(), keep, q, **kwargs)
        ax.set_xlabel(f"attended {level} (key{thinned(ax, 'x')})")
        ax.set_ylabel("attention weight")
        hidden = "" if keep[q] else ", special tokens hidden"
        ax.set_title(f"{prefix} from {_unit_name(e, t, level)}, layer {row + 1}, head {head % n_heads}{hidden}")
        return ax
    maps, labels = _attention_maps(e, specials, level, word_maps)
    ax = plot_similarity_heatmap(
        maps[row, head], labels, annotate=False, cmap=cmap, vmin=0.0, vmax=None,
        title=f"{prefix}, layer {row + 1}, head {head % n_heads}", colorbar=colorbar,
        colorbar_label="attention weight", ax=ax, **kwargs,
    )
    ax.set_xlabel(f"attended {level} (key{thinned(ax, 'x')})")
    ax.set_ylabel(f"attending {level} (query{thinned(ax, 'y')})")
    return ax


def draw_attention_grid(
    e: Encoding,
    *,
    word_maps: torch.Tensor | None = None,
    specials: str = "include",
    level: str = "token",
    cmap: str = "Blues",
    cell_size: float = 1.3,
    colorbar: bool = True,
    fig: Figure | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Draw :func:`bertviz_kit.plot_attention_grid` (same parameters) with the word-level attention given.

    ``word_maps`` is ``bk.word_attention(e)`` (specials included), needed for ``level="word"``.
    """
    check_attention(e, specials, level)
    if not isinstance(cell_size, (int, float)) or isinstance(cell_size, bool) or cell_size <= 0:
        raise InvalidParameterError(f"cell_size must be a positive number; got {cell_size!r}.")
    n_layers, n_heads = e.attentions.shape[:2]
    if fig is None:
        fig = plt.figure(figsize=(cell_size * n_heads, cell_size * n_layers + 0.6), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(n_layers, n_heads, squeeze=False)
    att, _ = _attention_maps(e, specials, level, word_maps)
    for (r, c), ax in np.ndenumerate(axes):
        ax.imshow(att[r, c].float().numpy(), **{"cmap": cmap, "vmin": 0.0, **kwargs})
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title(f"head {c}", fontsize=SMALL_FONT)
        if c == 0:
            ax.set_ylabel(f"layer {r + 1}", fontsize=SMALL_FONT)
    prefix = "word attention" if level == "word" else "attention"
    if colorbar:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap=kwargs.get("cmap", cmap)), ax=axes,
                           shrink=min(0.9, 3.0 / max(cell_size * n_layers, 1.0)), ticks=[0.0, 1.0])
        bar.ax.set_yticklabels(["0", "max"])
        bar.set_label("attention weight\n(0 to each panel's maximum)", fontsize=SMALL_FONT)
    fig.suptitle(f"{prefix}, all layers x heads ({specials} [CLS]/[SEP])")
    return axes



def _query_index(e: Encoding, query: int | str, occurrence: int | None, words: bool, n: int) -> int:
    """Row of ``query``: an index into the rows (tokens, or units with ``words``), or a string."""
    if isinstance(query, str):
        t = resolve_token(e, query, occurrence=occurrence, name="query")
        return int(token_units(e)[0][t]) if words else t
    what = "word unit" if words else "token"
    if isinstance(query, bool) or not isinstance(query, int) or not -n <= query < n:
        raise InvalidParameterError(
            f"query must be a {what} index in [{-n}, {n - 1}], a word string or None; got {query!r}.")
    if occurrence is not None:
        raise InvalidParameterError(f"occurrence goes with a word string, not with an index; got query={query!r}.")
    return query % n


def draw_rollout(
    e: Encoding,
    rollout: torch.Tensor,
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
    """Draw :func:`bertviz_kit.plot_rollout` (same parameters) from ``rollout``, the result of
    ``bk.attention_rollout(e, words=words)``."""
    check("specials", specials, Options(("include", "exclude")))
    row = resolve_layer(layer, e.attentions.shape[0], embeddings=False) - 1
    rollout = _check_rollout(e, rollout, words)
    what = "word" if words else "token"
    labels = list(attention_units(e)) if words else list(e.tokens)
    special = (token_units(e)[1] if words else e.special_mask).numpy()
    keep = np.ones(len(labels), dtype=bool) if specials == "include" else ~special
    kept = [lab for lab, k in zip(labels, keep) if k]
    r = rollout[row].numpy()
    through = f"layers 1-{row + 1}" if row else "layer 1"
    if query is None:
        if occurrence is not None:
            raise InvalidParameterError("occurrence goes with a word string in query=; query is None.")
        ax = plot_similarity_heatmap(
            r[keep][:, keep], kept, annotate=False, cmap=cmap, vmin=0.0, vmax=None, colorbar=colorbar,
            colorbar_label="rollout weight (each row sums to 1)",
            title=f"attention rollout through {through}", ax=ax, **kwargs,
        )
        ax.set_xlabel(f"input {what}{note(thinned(ax, 'x'))}")
        ax.set_ylabel(f"position after layer {row + 1}{note(thinned(ax, 'y'))}")
        return ax
    q = _query_index(e, query, occurrence, words, len(labels))
    ax = _query_bars(ax, labels, r[q], keep, q, **kwargs)
    ax.set_xlabel(f"input {what}{note(thinned(ax, 'x'))}")
    ax.set_ylabel("rollout weight (the row sums to 1)")
    shown = "orange" if keep[q] else "special tokens hidden"
    first = int(token_units(e)[2][q]) if words else q
    ax.set_title(f"rollout of {_unit_name(e, first, 'word' if words else 'token')} ({shown}) through {through}")
    return ax


def _check_rollout(e: Encoding, rollout: Any, words: bool) -> torch.Tensor:
    """``rollout``, checked to be ``bk.attention_rollout(e, words=words)``'s shape."""
    n = int(token_units(e)[1].shape[0]) if words else e.n_tokens
    shape = (e.attentions.shape[0], n, n)
    if not isinstance(rollout, torch.Tensor) or tuple(rollout.shape) != shape:
        got = tuple(rollout.shape) if isinstance(rollout, torch.Tensor) else type(rollout).__name__
        raise InvalidParameterError(
            f"rollout must be bk.attention_rollout(e, words={words}), a tensor of shape {shape}; got {got}.")
    return rollout
