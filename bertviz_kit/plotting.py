"""Plots: ``plot_*(data, ..., ax=None) -> Axes``.

Each function draws on ``ax`` when given, otherwise on a new figure; returns
the Axes; never calls ``plt.show()`` and never changes global style. Save with
``ax.figure.savefig("name.png")`` (or ``.svg``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .encoding import Encoding
from .pooling import _check_encoding

__all__ = [
    "plot_histogram",
    "plot_similarity_heatmap",
    "plot_layer_similarity",
    "plot_attention",
    "plot_attention_grid",
]


def _new_ax(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
        return ax
    fig, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def _numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tensor or array of numbers; got {type(x).__name__}.") from None


def _token_index(e: Encoding, token: int | str) -> int:
    if isinstance(token, str):
        if token not in e.tokens:
            raise ValueError(f"token {token!r} is not among this encoding's tokens {e.tokens}.")
        return e.tokens.index(token)
    if isinstance(token, bool) or not isinstance(token, int) or not -e.n_tokens <= token < e.n_tokens:
        raise ValueError(
            f"token must be a token string or an index in [{-e.n_tokens}, {e.n_tokens - 1}]; "
            f"got {token!r}."
        )
    return token % e.n_tokens


def _layer_row(e: Encoding, layer: int) -> int:
    lo, hi = -(e.n_layers + 1), e.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not lo <= layer <= hi:
        raise ValueError(f"layer must be an int in [{lo}, {hi}]; got {layer!r}.")
    lid = layer % (e.n_layers + 1)
    if lid not in e.layer_ids:
        raise ValueError(f"layer {layer} was not stored; this encoding has layers {e.layer_ids}.")
    return e.layer_ids.index(lid)


def plot_histogram(
    data: Encoding | torch.Tensor | np.ndarray,
    token: int | str = 0,
    layer: int = -1,
    *,
    bins: int = 100,
    color: str = "tab:blue",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of the values of one token's vector at one layer (the tutorial's plot).

    Parameters
    ----------
    data : Encoding or 1-D tensor/array
        An encoding (then ``token`` and ``layer`` pick the vector) or a vector.
    token : int or str
        Token index (into ``e.tokens``) or token string (its first occurrence).
    layer : int
        Model layer, 0 = embeddings, negative counts from the top.
    bins : int, default 100
    ax : Axes, optional
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be an int >= 1; got {bins!r}.")
    if isinstance(data, Encoding):
        t = _token_index(data, token)
        row = _layer_row(data, layer)
        values = _numpy(data.hidden_states[row, t], "data")
        default = f"{data.tokens[t]!r} (token {t}), layer {data.layer_ids[row]}"
    else:
        values = _numpy(data, "data")
        if values.ndim != 1:
            raise ValueError(f"data must be an Encoding or a 1-D vector; got shape {values.shape}.")
        default = "vector values"
    ax = _new_ax(ax, (5, 4))
    ax.hist(values, bins=bins, color=color)
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    ax.set_title(title if title is not None else default)
    return ax


def plot_similarity_heatmap(
    data: torch.Tensor | np.ndarray,
    labels: Sequence[str] | None = None,
    *,
    ylabels: Sequence[str] | None = None,
    annotate: bool | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = "cosine similarity",
    colorbar: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of a similarity matrix, rows and columns labelled.

    Parameters
    ----------
    data : tensor/array ``[n, m]``
        For example ``bk.cosine(vectors)``.
    labels : sequence of str, length ``m`` (and ``n`` when ``ylabels`` is None)
    ylabels : sequence of str, length ``n``, optional
    annotate : bool, optional
        Write each value in its cell; default when the matrix is at most 12 x 12.
    """
    m = _numpy(data, "data")
    if m.ndim != 2:
        raise ValueError(f"data must be a 2-D matrix; got shape {m.shape}.")
    xl = list(labels) if labels is not None else [str(i) for i in range(m.shape[1])]
    yl = list(ylabels) if ylabels is not None else (
        xl if labels is not None and m.shape[0] == m.shape[1] else [str(i) for i in range(m.shape[0])]
    )
    if len(xl) != m.shape[1] or len(yl) != m.shape[0]:
        raise ValueError(
            f"labels must match the matrix: {m.shape[1]} columns and {m.shape[0]} rows; "
            f"got {len(xl)} and {len(yl)}."
        )
    if annotate is None:
        annotate = max(m.shape) <= 12
    size = max(3.5, 0.45 * max(m.shape) + 2)
    ax = _new_ax(ax, (size + 1, size))
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(xl)), xl, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(yl)), yl)
    if annotate:
        lo, hi = im.get_clim()
        mid = (lo + hi) / 2
        for (r, c), v in np.ndenumerate(m):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if v > mid else "white")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8)
    if title:
        ax.set_title(title)
    return ax


def plot_layer_similarity(
    curves: Mapping[str, torch.Tensor | np.ndarray],
    *,
    title: str | None = "similarity across layers",
    ylabel: str = "cosine similarity",
    layer_ids: Sequence[int] | None = None,
    legend_loc: str = "best",
    ax: Axes | None = None,
) -> Axes:
    """Curves of one value per layer, e.g. ``bk.layer_similarity`` of word pairs.

    Parameters
    ----------
    curves : mapping label -> 1-D tensor/array ``[n_layers + 1]``
    layer_ids : sequence of int, optional
        The layer of each point (default ``0, 1, ...``; 0 = embeddings).
    legend_loc : str, default "best"
        Where the legend goes (matplotlib's ``loc``).
    """
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty mapping of label -> values per layer.")
    ax = _new_ax(ax, (6, 4))
    for label, values in curves.items():
        y = _numpy(values, f"curves[{label!r}]")
        if y.ndim != 1:
            raise ValueError(f"curves[{label!r}] must be 1-D (one value per layer); got {y.shape}.")
        x = np.arange(len(y)) if layer_ids is None else np.asarray(layer_ids)
        if len(x) != len(y):
            raise ValueError(f"layer_ids has {len(x)} entries but curves[{label!r}] has {len(y)}.")
        ax.plot(x, y, marker="o", label=str(label))
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc=legend_loc)
    if title:
        ax.set_title(title)
    return ax


def _check_attention(e: Encoding, specials: str) -> None:
    _check_encoding(e)
    if e.attentions is None:
        raise ValueError("e has no attentions; encode with encoder.encode(text, attentions=True).")
    if specials not in ("include", "exclude"):
        raise ValueError(f"specials must be one of ('include', 'exclude'); got {specials!r}.")


def _attention_keep(e: Encoding, specials: str) -> tuple[torch.Tensor, list[str]]:
    keep = torch.ones(e.n_tokens, dtype=torch.bool) if specials == "include" else ~e.special_mask
    return keep, [t for t, k in zip(e.tokens, keep.tolist()) if k]


def plot_attention(
    e: Encoding,
    layer: int = -1,
    head: int = 0,
    *,
    specials: str = "include",
    cmap: str = "Blues",
    colorbar: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Attention weights of one layer and head as a tokens x tokens heatmap.

    Rows are the attending (query) tokens, columns the attended (key) tokens.
    Needs ``encode(..., attentions=True)``. For every layer and head at once
    see :func:`plot_attention_grid`.

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
    """
    _check_attention(e, specials)
    n_layers, n_heads = e.attentions.shape[:2]
    if isinstance(layer, bool) or not isinstance(layer, int) or not (
        -n_layers <= layer <= n_layers and layer != 0
    ):
        raise ValueError(f"layer must be an int in [1, {n_layers}] or [-{n_layers}, -1]; got {layer!r}.")
    if isinstance(head, bool) or not isinstance(head, int) or not -n_heads <= head < n_heads:
        raise ValueError(f"head must be an int in [0, {n_heads - 1}]; got {head!r}.")
    row = layer - 1 if layer > 0 else n_layers + layer
    keep, tokens = _attention_keep(e, specials)
    att = e.attentions[row, head][keep][:, keep]
    ax = plot_similarity_heatmap(
        att, tokens, annotate=False, cmap=cmap, vmin=0.0,
        title=f"attention, layer {row + 1}, head {head % n_heads}", colorbar=colorbar, ax=ax,
    )
    ax.set_xlabel("attended token (key)")
    ax.set_ylabel("attending token (query)")
    return ax


def plot_attention_grid(
    e: Encoding,
    *,
    specials: str = "include",
    cmap: str = "Blues",
    cell_size: float = 1.3,
    fig: Figure | None = None,
) -> np.ndarray:
    """Every layer x head attention map in one grid: rows are layers, columns heads.

    Small multiples for spotting patterns (heads that attend to [SEP], to the
    next or previous token, or broadly). Each panel has its own colour scale
    from 0 to its maximum; token labels are left out (use
    :func:`plot_attention` to read one map).

    Parameters
    ----------
    e : Encoding
        Encoded with ``attentions=True``.
    specials : {"include", "exclude"}
    cell_size : float
        Inches per panel.
    fig : Figure, optional
        Drawn on (cleared first) instead of a new figure.

    Returns
    -------
    numpy.ndarray of Axes, shape ``[n_layers, n_heads]``
    """
    _check_attention(e, specials)
    if not isinstance(cell_size, (int, float)) or isinstance(cell_size, bool) or cell_size <= 0:
        raise ValueError(f"cell_size must be a positive number; got {cell_size!r}.")
    n_layers, n_heads = e.attentions.shape[:2]
    if fig is None:
        fig = plt.figure(figsize=(cell_size * n_heads, cell_size * n_layers + 0.6), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(n_layers, n_heads, squeeze=False)
    keep, _ = _attention_keep(e, specials)
    att = e.attentions[:, :, keep][:, :, :, keep]
    for (r, c), ax in np.ndenumerate(axes):
        ax.imshow(att[r, c].numpy(), cmap=cmap, vmin=0.0)
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title(f"head {c}", fontsize=8)
        if c == 0:
            ax.set_ylabel(f"layer {r + 1}", fontsize=8)
    fig.suptitle(f"attention, all layers x heads ({specials} [CLS]/[SEP])")
    return axes
