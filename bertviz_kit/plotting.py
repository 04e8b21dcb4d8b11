"""Plots: ``plot_*(data, ..., ax=None, **kwargs) -> Axes``.

Each function draws on ``ax`` when given, otherwise on a new figure; returns
the Axes; never calls ``plt.show()`` and never changes global style. Extra
keyword arguments go to the matplotlib call that draws the data (as in
seaborn: ``imshow`` for heatmaps, ``plot`` for curves, ``stairs`` for
histograms, ``bar`` for bars); each docstring names it. Cosine heatmaps use a
fixed colour scale (0 to 1) unless told otherwise, and every colour bar is
labelled. Save with ``ax.figure.savefig("name.png", dpi=200)`` (or ``.svg``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from .addressing import describe_token, resolve_token
from .attention import HEAD_STATISTICS, _units, attention_rollout, attention_units, word_attention
from .encoding import IS_ENCODING, Encoding
from .pooling import _token_mask
from .validation import Boolean, Interval, InvalidParameterError, NoneOr, Options, check

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
            raise InvalidParameterError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
        return ax
    fig, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


# Long texts: a figure grows with its rows and columns up to these sizes (inches), then its tick
# labels are thinned to every k-th so that they never overlap (a 300-token attention map stays a
# figure a notebook can show, not a 100-megapixel image).
_MAX_MATRIX_INCHES = 14.0
_MAX_BARS_INCHES = 16.0


def _set_labels(ax: Axes, axis: str, labels: Sequence[str], **text: Any) -> int:
    """Put ``labels`` on the ``axis`` ticks at 0, 1, ...: all of them where they fit along the
    Axes at the tick font size, else every k-th (the smallest k that fits). Returns k."""
    n = len(labels)
    box = ax.get_window_extent()  # pixels (in a figure or a subfigure)
    length = (box.width if axis == "x" else box.height) * 72 / ax.figure.dpi  # points
    size = FontProperties(size=plt.rcParams[f"{axis}tick.labelsize"]).get_size_in_points()
    room = size * (1.25 if axis == "x" else 1.0)  # x labels are rotated by 45 degrees
    step = max(1, -(-n // max(1, int(length // room))))
    ticks = list(range(0, n, step))
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter(ticks, [str(labels[i]) for i in ticks], **text)
    if step > 1 and not (ax.get_xlabel() if axis == "x" else ax.get_ylabel()):
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)(f"one label in {step}")
    return step


def _note(thinned: str) -> str:
    """``" (one label in k)"`` from :func:`_thinned`'s ``"; one label in k"``."""
    return f" ({thinned[2:]})" if thinned else ""


def _thinned(ax: Axes, axis: str) -> str:
    """``"; one label in k"`` when :func:`_set_labels` thinned the ``axis`` labels, else ``""``."""
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    step = int(round(ticks[1] - ticks[0])) if len(ticks) > 1 else 1
    return f"; one label in {step}" if step > 1 else ""


def _numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be a tensor or array of numbers; got {type(x).__name__}.") from None


def _layer_row(e: Encoding, layer: int) -> int:
    lo, hi = -(e.n_layers + 1), e.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not lo <= layer <= hi:
        raise InvalidParameterError(f"layer must be an int in [{lo}, {hi}]; got {layer!r}.")
    lid = layer % (e.n_layers + 1)
    if lid not in e.layer_ids:
        raise InvalidParameterError(f"layer {layer} was not stored; this encoding has layers {e.layer_ids}.")
    return e.layer_ids.index(lid)


def plot_histogram(
    data: Encoding | torch.Tensor | np.ndarray,
    token: int | str | None = None,
    layer: int = -1,
    *,
    word: int | str | None = None,
    occurrence: int | None = None,
    bins: int | Sequence[float] = 100,
    color: str = "tab:blue",
    title: str | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Histogram of the values of one token's vector at one layer (the tutorial's plot).

    Parameters
    ----------
    data : Encoding or 1-D tensor/array
        An encoding (then ``token`` or ``word``, and ``layer``, pick the vector) or a vector.
    token : int or str, optional
        A token index (into ``e.tokens``), or a string: a word (case-insensitive,
        whole words; ``"unbelievably"`` finds the split word) or a special
        token's text (``"[CLS]"``). Default: token 0 (``[CLS]``).
    layer : int
        Model layer, 0 = embeddings, negative counts from the top.
    word : int or str, optional
        Instead of ``token``: a word index (into ``e.words``, as ``bk.find``
        returns) or a word string. A split word shows its first piece.
    occurrence : int, optional
        Which occurrence of a word string (0 = the first, the default; -1 = the last).
    bins : int or sequence of float, default 100
        Number of bins, or the bin edges (increasing; share them to compare
        several histograms drawn on one Axes).
    color : str, default "tab:blue"
    title : str, optional
        Default: the token and layer, words numbered as in ``e.words``
        (``word 5 'bank', layer 6``).
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.stairs` (``alpha``, ``label``, ...).
    """
    if isinstance(bins, (Sequence, np.ndarray, torch.Tensor)) and not isinstance(bins, str):
        edges = _numpy(bins, "bins")
        if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
            raise InvalidParameterError(f"bins must be an int >= 1 or increasing bin edges (at least 2); got {bins!r}.")
        bins = edges
    elif isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidParameterError(f"bins must be an int >= 1 or increasing bin edges (at least 2); got {bins!r}.")
    if isinstance(data, Encoding):
        t = resolve_token(data, token, word, occurrence, default=0)
        row = _layer_row(data, layer)
        values = _numpy(data.hidden_states[row, t], "data")
        default = f"{describe_token(data, t)}, layer {data.layer_ids[row]}"
    else:
        if token is not None or word is not None or occurrence is not None:
            raise InvalidParameterError(
                "token, word and occurrence pick a vector from an Encoding; data is already a vector "
                f"({type(data).__name__}).")
        values = _numpy(data, "data")
        if values.ndim != 1:
            raise InvalidParameterError(f"data must be an Encoding or a 1-D vector; got shape {values.shape}.")
        default = "vector values"
    ax = _new_ax(ax, (5, 4))
    # one filled step patch, not one rectangle per bin: same picture, drawn much faster
    counts, edges = np.histogram(values, bins=bins)
    ax.stairs(counts, edges, **{"fill": True, "color": color, **kwargs})
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title if title is not None else default)
    return ax


#: Colour-bar ends: pointed where values fall outside the colour range.
EXTENDS = ("neither", "min", "max", "both")

_LIMIT = NoneOr(Interval(float), "the data's own minimum or maximum")


def _auto_extend(m: np.ndarray, vmin: float | None, vmax: float | None, tol: float = 1e-5) -> str:
    """Which colour-bar ends to point: the sides on which some value is clipped."""
    finite = m[np.isfinite(m)]
    if finite.size == 0:
        return "neither"
    low = vmin is not None and float(finite.min()) < vmin - tol
    high = vmax is not None and float(finite.max()) > vmax + tol
    return {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[(low, high)]


def plot_similarity_heatmap(
    data: torch.Tensor | np.ndarray,
    labels: Sequence[str] | None = None,
    *,
    ylabels: Sequence[str] | None = None,
    annotate: bool | None = None,
    cmap: str = "viridis",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    title: str | None = "cosine similarity",
    colorbar: bool = True,
    colorbar_label: str | None = "cosine similarity",
    extend: str | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Heatmap of a similarity matrix, rows and columns labelled, on a fixed colour scale.

    Parameters
    ----------
    data : tensor/array ``[n, m]``
        For example ``bk.cosine(vectors)``.
    labels : sequence of str, length ``m`` (and ``n`` when ``ylabels`` is None)
    ylabels : sequence of str, length ``n``, optional
    annotate : bool, optional
        Write each value in its cell; default when the matrix is at most 12 x 12.
    cmap : str, default "viridis"
    vmin, vmax : float or None, default 0 and 1
        The colour scale. It is fixed by default, so a colour means the same
        value in every figure: a cosine of 0.89 is drawn near the top of the
        scale, not in the darkest colour because it happens to be the smallest
        value. Narrow it to zoom in (``vmin=0.8``) or widen it (``vmin=-1``
        for the full range of a cosine); values outside the range are drawn in
        the end colours and the colour bar gets a pointed end on that side.
        ``None`` takes the data's own minimum or maximum.
    title : str or None, default "cosine similarity"
    colorbar : bool, default True
    colorbar_label : str or None, default "cosine similarity"
        The colour bar's label (say what the numbers are when they are not cosines).
    extend : {"neither", "min", "max", "both"}, optional
        Pointed colour-bar ends. Default: on each side where some value lies
        outside ``[vmin, vmax]`` (is clipped).
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.imshow` (``interpolation``,
        ``alpha``, ``norm``, ...; with ``norm``, ``vmin`` and ``vmax`` are not used).
    """
    m = _numpy(data, "data")
    if m.ndim != 2:
        raise InvalidParameterError(f"data must be a 2-D matrix; got shape {m.shape}.")
    check("vmin", vmin, _LIMIT)
    check("vmax", vmax, _LIMIT)
    check("extend", extend, NoneOr(Options(EXTENDS), "pointed where values are clipped"))
    if "norm" in kwargs:
        vmin = vmax = None
    if vmin is not None and vmax is not None and not vmin < vmax:
        raise InvalidParameterError(f"vmin must be smaller than vmax; got vmin={vmin!r}, vmax={vmax!r}.")
    xl = list(labels) if labels is not None else [str(i) for i in range(m.shape[1])]
    yl = list(ylabels) if ylabels is not None else (
        xl if labels is not None and m.shape[0] == m.shape[1] else [str(i) for i in range(m.shape[0])]
    )
    if len(xl) != m.shape[1] or len(yl) != m.shape[0]:
        raise InvalidParameterError(
            f"labels must match the matrix: {m.shape[1]} columns and {m.shape[0]} rows; "
            f"got {len(xl)} and {len(yl)}."
        )
    if annotate is None:
        annotate = max(m.shape) <= 12
    size = min(_MAX_MATRIX_INCHES, max(3.5, 0.45 * max(m.shape) + 2))
    ax = _new_ax(ax, (size + 1, size))
    im = ax.imshow(m, **{"cmap": cmap, "vmin": vmin, "vmax": vmax, **kwargs})
    _set_labels(ax, "x", xl, rotation=45, ha="right", rotation_mode="anchor")
    _set_labels(ax, "y", yl)
    if annotate:
        lo, hi = im.get_clim()
        mid = (lo + hi) / 2
        for (r, c), v in np.ndenumerate(m):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if v > mid else "white")
    if colorbar:
        lo, hi = im.get_clim()
        bar = ax.figure.colorbar(im, ax=ax, shrink=0.8, extend=extend if extend is not None else
                                 _auto_extend(m, lo, hi))
        if colorbar_label:
            bar.set_label(colorbar_label)
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
    **kwargs: Any,
) -> Axes:
    """Curves of one value per layer, e.g. ``bk.layer_similarity`` of word pairs.

    Parameters
    ----------
    curves : mapping label -> 1-D tensor/array ``[n_layers + 1]``
    layer_ids : sequence of int, optional
        The layer of each point (default ``0, 1, ...``; 0 = embeddings).
    legend_loc : str, default "best"
        Where the legend goes (matplotlib's ``loc``).
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for every curve
        (``linewidth``, ``marker``, ``linestyle``, ...).
    """
    if not isinstance(curves, Mapping) or not curves:
        raise InvalidParameterError("curves must be a non-empty mapping of label -> values per layer.")
    ax = _new_ax(ax, (6, 4))
    for label, values in curves.items():
        y = _numpy(values, f"curves[{label!r}]")
        if y.ndim != 1:
            raise InvalidParameterError(f"curves[{label!r}] must be 1-D (one value per layer); got {y.shape}.")
        x = np.arange(len(y)) if layer_ids is None else np.asarray(layer_ids)
        if len(x) != len(y):
            raise InvalidParameterError(f"layer_ids has {len(x)} entries but curves[{label!r}] has {len(y)}.")
        ax.plot(x, y, **{"marker": "o", **kwargs, "label": str(label)})
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc=legend_loc)
    if title:
        ax.set_title(title)
    return ax


ATTENTION_LEVELS = ("token", "word")


def _check_attention(e: Encoding, specials: str, level: str = "token") -> None:
    check("e", e, IS_ENCODING)
    if e.attentions is None:
        raise InvalidParameterError("e has no attentions; encode with encoder.encode(text, attentions=True).")
    if specials not in ("include", "exclude"):
        raise InvalidParameterError(f"specials must be one of ('include', 'exclude'); got {specials!r}.")
    check("level", level, Options(ATTENTION_LEVELS))


def _attention_maps(e: Encoding, specials: str, level: str) -> tuple[torch.Tensor, list[str]]:
    """``[n_layers, n_heads, n, n]`` attention of the kept tokens or words, and their labels."""
    if level == "word":
        return word_attention(e, specials), list(attention_units(e, specials))
    keep, tokens = _attention_keep(e, specials)
    return e.attentions[:, :, keep][:, :, :, keep], tokens


def _attention_keep(e: Encoding, specials: str) -> tuple[torch.Tensor, list[str]]:
    keep = _token_mask(e, specials)
    return keep, [t for t, k in zip(e.tokens, keep.tolist()) if k]


def _query_bars(
    ax: Axes | None, labels: Sequence[str], values: np.ndarray, keep: np.ndarray, q: int, **kwargs: Any
) -> Axes:
    """One query's row as bars over the kept positions; the query's own bar in orange."""
    kept = [lab for lab, k in zip(labels, keep) if k]
    ax = _new_ax(ax, (min(_MAX_BARS_INCHES, max(5.0, 0.35 * len(kept) + 1.5)), 3.8))
    colors = ["tab:orange" if i == q else "tab:blue" for i in np.flatnonzero(keep)]
    ax.bar(range(len(kept)), values[keep], **{"color": colors, **kwargs})
    _set_labels(ax, "x", kept, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(kept) - 0.4)
    ax.grid(axis="y", alpha=0.3)
    return ax


def _unit_name(e: Encoding, t: int, level: str) -> str:
    """Title text for the query of token ``t``: the token, or its whole word at ``level="word"``."""
    if level == "word" and e.word_ids[t] is not None:
        return f"word {e.word_ids[t]} {e.words[e.word_ids[t]]!r}"
    return describe_token(e, t)


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
    _check_attention(e, specials, level)
    n_layers, n_heads = e.attentions.shape[:2]
    if isinstance(layer, bool) or not isinstance(layer, int) or not (
        -n_layers <= layer <= n_layers and layer != 0
    ):
        raise InvalidParameterError(f"layer must be an int in [1, {n_layers}] or [-{n_layers}, -1]; got {layer!r}.")
    if isinstance(head, bool) or not isinstance(head, int) or not -n_heads <= head < n_heads:
        raise InvalidParameterError(f"head must be an int in [0, {n_heads - 1}]; got {head!r}.")
    row = layer - 1 if layer > 0 else n_layers + layer
    prefix = "word attention" if level == "word" else "attention"
    if token is not None or word is not None or occurrence is not None:
        t = resolve_token(e, token, word, occurrence)
        if level == "word":
            unit, special, _ = _units(e)
            q, full, labels = int(unit[t]), word_attention(e)[row, head], list(attention_units(e))
        else:
            q, full, labels, special = t, e.attentions[row, head].float(), list(e.tokens), e.special_mask
        keep = np.ones(len(labels), dtype=bool) if specials == "include" else ~special.numpy()
        ax = _query_bars(ax, labels, full[q].numpy(), keep, q, **kwargs)
        ax.set_xlabel(f"attended {level} (key{_thinned(ax, 'x')})")
        ax.set_ylabel("attention weight")
        hidden = "" if keep[q] else ", special tokens hidden"
        ax.set_title(f"{prefix} from {_unit_name(e, t, level)}, layer {row + 1}, head {head % n_heads}{hidden}")
        return ax
    maps, labels = _attention_maps(e, specials, level)
    ax = plot_similarity_heatmap(
        maps[row, head], labels, annotate=False, cmap=cmap, vmin=0.0, vmax=None,
        title=f"{prefix}, layer {row + 1}, head {head % n_heads}", colorbar=colorbar,
        colorbar_label="attention weight", ax=ax, **kwargs,
    )
    ax.set_xlabel(f"attended {level} (key{_thinned(ax, 'x')})")
    ax.set_ylabel(f"attending {level} (query{_thinned(ax, 'y')})")
    return ax


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
    _check_attention(e, specials, level)
    if not isinstance(cell_size, (int, float)) or isinstance(cell_size, bool) or cell_size <= 0:
        raise InvalidParameterError(f"cell_size must be a positive number; got {cell_size!r}.")
    n_layers, n_heads = e.attentions.shape[:2]
    if fig is None:
        fig = plt.figure(figsize=(cell_size * n_heads, cell_size * n_layers + 0.6), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(n_layers, n_heads, squeeze=False)
    att, _ = _attention_maps(e, specials, level)
    for (r, c), ax in np.ndenumerate(axes):
        ax.imshow(att[r, c].float().numpy(), **{"cmap": cmap, "vmin": 0.0, **kwargs})
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title(f"head {c}", fontsize=8)
        if c == 0:
            ax.set_ylabel(f"layer {r + 1}", fontsize=8)
    prefix = "word attention" if level == "word" else "attention"
    if colorbar:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap=kwargs.get("cmap", cmap)), ax=axes,
                           shrink=min(0.9, 3.0 / max(cell_size * n_layers, 1.0)), ticks=[0.0, 1.0])
        bar.ax.set_yticklabels(["0", "max"])
        bar.set_label("attention weight\n(0 to each panel's maximum)", fontsize=8)
    fig.suptitle(f"{prefix}, all layers x heads ({specials} [CLS]/[SEP])")
    return axes


# ---------------------------------------------------------------------------
# Projections, layer trajectories and probe curves
# ---------------------------------------------------------------------------

__all__ += ["plot_projection", "plot_trajectory", "plot_probe"]

_METHOD_NAMES = {"pca": "PC", "tsne": "t-SNE ", "umap": "UMAP "}


def _check_labels(labels: Sequence[object] | None, n: int, name: str = "labels") -> list[object] | None:
    if labels is None:
        return None
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray, torch.Tensor)):
        raise InvalidParameterError(f"{name} must be a sequence with one label per point; got {type(labels).__name__}.")
    out = labels.tolist() if isinstance(labels, (np.ndarray, torch.Tensor)) else list(labels)
    if len(out) != n:
        raise InvalidParameterError(f"{name} must hold one label per point ({n}); got {len(out)}.")
    return out


def _is_continuous(labels: list[object]) -> bool:
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in labels)
    return numeric and len(set(labels)) > 10


def _categories(labels: list[object]) -> list[object]:
    """Unique labels in order of first appearance."""
    return list(dict.fromkeys(labels))


def _palette(k: int) -> list[Any]:
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(k)]


def _axis_labels(ax: Axes, method: str, model: Any) -> None:
    if method == "pca":
        ratio = model.explained_variance_ratio_
        ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f}% of variance)")
        ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f}% of variance)")
    else:
        ax.set_xlabel(f"{_METHOD_NAMES[method]}1")
        ax.set_ylabel(f"{_METHOD_NAMES[method]}2")


#: A second principal axis holding less than this share of the variance is not drawn.
_FLAT = 1e-3


def _strip(
    ax: Axes | None, x: np.ndarray, labs: list[object] | None, notes: list[object] | None, xlabel: str,
    title: str, cmap: str, legend_title: str | None, marker_size: float,
) -> Axes:
    """1-D data as 1-D: values along x, one row per category (jittered within the row)."""
    jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(x))
    if labs is None or _is_continuous(labs):
        ax = _new_ax(ax, (6.5, 2.2))
        y = jitter
        if labs is None:
            ax.scatter(x, y, s=marker_size, alpha=0.8, edgecolors="none")
        else:
            sc = ax.scatter(x, y, c=np.asarray(labs, dtype=float), cmap=cmap, s=marker_size, alpha=0.85,
                            edgecolors="none")
            ax.figure.colorbar(sc, ax=ax, shrink=0.8).set_label(legend_title or "label")
        ax.set_yticks([])
        ax.set_ylim(-0.5, 0.5)
    else:
        cats = _categories(labs)
        ax = _new_ax(ax, (6.5, 1.2 + 0.6 * len(cats)))
        lab_arr = np.array([str(v) for v in labs], dtype=object)
        y = np.empty(len(x))
        for k, (cat, color) in enumerate(zip(cats, _palette(len(cats)))):
            m = lab_arr == str(cat)
            y[m] = k + jitter[m]
            ax.scatter(x[m], y[m], s=marker_size, color=color, alpha=0.8, edgecolors="none",
                       label=f"{cat} ({int(m.sum())})")
        ax.set_yticks(range(len(cats)), [str(c) for c in cats])
        ax.set_ylim(-0.5, len(cats) - 0.5)
        if legend_title:
            ax.set_ylabel(legend_title)
    if notes is not None:
        for px, py, note in zip(x, y, notes):
            ax.annotate(str(note), (px, py), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    return ax


def plot_projection(
    vectors: torch.Tensor | np.ndarray,
    labels: Sequence[object] | None = None,
    *,
    method: str = "pca",
    seed: int = 0,
    normalize: bool = False,
    texts: Sequence[str] | None = None,
    perplexity: float | None = None,
    cmap: str = "viridis",
    legend_title: str | None = None,
    title: str | None = None,
    marker_size: float = 30.0,
    ax: Axes | None = None,
    **options: Any,
) -> Axes:
    """Scatter of vectors projected to 2-D (PCA, t-SNE or UMAP), coloured by a label.

    1-D data is drawn as 1-D: vectors of width 1, and vectors whose second
    principal axis holds under 0.1% of the variance (they lie on a line, as
    two logits of a two-class head do), become a strip of points along one
    axis, one row per category.

    Parameters
    ----------
    vectors : tensor/array ``[n, dim]``
        Occurrences of a word (:func:`bertviz_kit.occurrence_vectors`) or
        sentence vectors (:func:`bertviz_kit.sentence_vectors`) at one layer.
    labels : sequence of length ``n``, optional
        Colour of each point: categories (sense, sentence, polarity; a legend)
        or more than 10 distinct numbers (a colour bar).
    method : {"pca", "tsne", "umap"}, default "pca"
        See :func:`bertviz_kit.project`.
    seed : int, default 0
    normalize : bool, default False
        Unit-length vectors first (cosine geometry).
    texts : sequence of str, length ``n``, optional
        A short text written beside each point (keep ``n`` small).
    perplexity : float, optional
        t-SNE only.
    cmap : str, default "viridis"
        Colour map for numeric labels.
    legend_title, title : str, optional
    marker_size : float, default 30
    ax : Axes, optional
    **options
        Passed to the projection estimator (unlike the other plot functions,
        whose extra keyword arguments go to matplotlib: ``max_iter`` for
        t-SNE, ``n_neighbors`` for UMAP).
    """
    from .projection import _project

    raw = _numpy(vectors, "vectors")
    if raw.ndim == 2 and raw.shape[1] == 1:  # one number per item: nothing to project
        x = raw[:, 0]
        return _strip(ax, x, _check_labels(labels, len(x)), _check_labels(texts, len(x), "texts"),
                      "value", title if title is not None else f"{len(x)} values (1-D data)",
                      cmap, legend_title, marker_size)
    points, model = _project(vectors, method, 2, seed, normalize, perplexity, options)
    n = points.shape[0]
    labs = _check_labels(labels, n)
    notes = _check_labels(texts, n, "texts")
    if method == "pca" and model.explained_variance_ratio_[1] < _FLAT:
        # the points lie on a line: a second axis would only show rounding noise
        ratio = model.explained_variance_ratio_[0]
        return _strip(ax, points[:, 0], labs, notes, f"PC1 ({100 * ratio:.1f}% of variance)",
                      title if title is not None else f"PCA of {n} vectors: they lie on a line (1-D)",
                      cmap, legend_title, marker_size)
    ax = _new_ax(ax, (6.5, 5))
    if labs is None:
        ax.scatter(points[:, 0], points[:, 1], s=marker_size, alpha=0.8, edgecolors="none")
    elif _is_continuous(labs):
        sc = ax.scatter(points[:, 0], points[:, 1], c=np.asarray(labs, dtype=float), cmap=cmap,
                        s=marker_size, alpha=0.85, edgecolors="none")
        bar = ax.figure.colorbar(sc, ax=ax, shrink=0.8)
        bar.set_label(legend_title or "label")
    else:
        cats = _categories(labs)
        colors = _palette(len(cats))
        lab_arr = np.array([str(v) for v in labs], dtype=object)
        for cat, color in zip(cats, colors):
            m = lab_arr == str(cat)
            ax.scatter(points[m, 0], points[m, 1], s=marker_size, color=color, alpha=0.8,
                       edgecolors="none", label=f"{cat} ({int(m.sum())})")
        ax.legend(title=legend_title, fontsize=8, title_fontsize=8, loc="best",
                  ncol=1 if len(cats) <= 12 else 2, framealpha=0.8)
    if notes is not None:
        for (px, py), note in zip(points, notes):
            ax.annotate(str(note), (px, py), xytext=(3, 3), textcoords="offset points", fontsize=7)
    _axis_labels(ax, method, model)
    ax.grid(alpha=0.3)
    full = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[method]
    ax.set_title(title if title is not None else f"{full} projection of {n} vectors")
    return ax


def plot_trajectory(
    vectors: torch.Tensor | np.ndarray,
    labels: Sequence[object] | None = None,
    *,
    method: str = "pca",
    seed: int = 0,
    normalize: bool = True,
    center_layers: bool = False,
    layer_ids: Sequence[int] | None = None,
    perplexity: float | None = None,
    legend_title: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    **options: Any,
) -> Axes:
    """Follow items through the network: one shared 2-D basis for every layer, a path per item.

    Each item (an occurrence of a word, a sentence) is a line from its
    embedding-layer position (small circle) to its top-layer position (large
    marker); every layer's centre is labelled ``Lk`` (not with
    ``center_layers=True``, where all centres are the origin).

    Parameters
    ----------
    vectors : tensor/array ``[n_layers, n, dim]``
        For example :func:`bertviz_kit.layer_occurrence_vectors`.
    labels : sequence of length ``n``, optional
        Category of each item (colour and legend).
    method : {"pca", "tsne", "umap"}, default "pca"
    seed : int, default 0
    normalize : bool, default True
        Unit-length vectors first (norms grow from layer to layer).
    center_layers : bool, default False
        Subtract each layer's mean first: shows how items spread apart
        rather than how the layer moves as a whole.
    layer_ids : sequence of int, optional
        The layer of each row (default ``0, 1, ...``).
    perplexity : float, optional
        t-SNE only.
    legend_title, title : str, optional
    ax : Axes, optional
    **options
        Passed to the projection estimator.
    """
    from .projection import _project_layers

    points, model = _project_layers(vectors, method, 2, seed, normalize, center_layers, perplexity, options)
    n_layers, n, _ = points.shape
    ids = list(range(n_layers)) if layer_ids is None else list(layer_ids)
    if len(ids) != n_layers:
        raise InvalidParameterError(f"layer_ids must name one layer per row of vectors ({n_layers}); got {len(ids)}.")
    labs = _check_labels(labels, n)
    cats = _categories(labs) if labs is not None else [None]
    colors = _palette(len(cats))
    color_of = {str(c): col for c, col in zip(cats, colors)}
    ax = _new_ax(ax, (7, 5.5))
    seen: set[str] = set()
    for i in range(n):
        key = str(labs[i]) if labs is not None else "None"
        color = color_of[key]
        label = None
        if labs is not None and key not in seen:
            seen.add(key)
            label = f"{labs[i]} ({sum(str(v) == key for v in labs)})"
        path = points[:, i]
        ax.plot(path[:, 0], path[:, 1], "-", color=color, alpha=0.45, linewidth=1, label=label)
        ax.scatter(path[1:-1, 0], path[1:-1, 1], s=8, color=color, alpha=0.6)
        ax.scatter(path[0, 0], path[0, 1], s=22, facecolors="white", edgecolors=color, linewidths=1)
        ax.scatter(path[-1, 0], path[-1, 1], s=45, color=color, marker="D", edgecolors="black", linewidths=0.4)
    # with centred layers every centre is the origin: no labels to draw
    centres = points.mean(axis=1) if not center_layers else np.empty((0, 2))
    for k, (cx, cy) in enumerate(centres):
        ax.annotate(f"L{ids[k]}", (cx, cy), ha="center", va="center", fontsize=8, fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "lightyellow", "alpha": 0.85,
                          "edgecolor": "gray"})
    _axis_labels(ax, method, model)
    ax.grid(alpha=0.3)
    if labs is not None:
        ax.legend(title=legend_title, fontsize=8, title_fontsize=8, loc="best", framealpha=0.8)
    where = "" if center_layers else "; Lk = layer centre"
    ax.set_title(title if title is not None else
                 f"{n} items across layers {ids[0]}-{ids[-1]} (o = first layer, diamond = last{where})",
                 fontsize=10)
    return ax


def plot_probe(
    results: Any,
    *,
    title: str | None = "probe accuracy per layer",
    chance: bool = True,
    control: bool = True,
    selectivity: bool = True,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Probe accuracy per layer with a ±1 std band (over folds) and the chance level; with a
    control task, also the control accuracy and the selectivity.

    Parameters
    ----------
    results : ProbeResult or mapping label -> ProbeResult
        From :func:`bertviz_kit.probe_layers`; a mapping draws one colour each.
    chance : bool, default True
        Dashed gray line at the majority-class accuracy.
    control : bool, default True
        For results with a control task (``probe_layers(..., control=True)``):
        the control accuracy, dashed, in the result's colour.
    selectivity : bool, default True
        For results with a control task: ``accuracy - control``, dotted, in
        the result's colour (same y axis).
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for every curve (the
        control and selectivity curves keep their own line style and colour).
    """
    from .probing import ProbeResult

    if isinstance(results, ProbeResult):
        results = {"probe": results}
    if not isinstance(results, Mapping) or not results or not all(
        isinstance(r, ProbeResult) for r in results.values()
    ):
        raise InvalidParameterError("results must be a ProbeResult or a non-empty mapping label -> ProbeResult "
                        f"(from bk.probe_layers); got {type(results).__name__}.")
    check("control", control, Boolean())
    check("selectivity", selectivity, Boolean())
    ax = _new_ax(ax, (6, 4))
    chances = set()
    any_control = False
    for label, r in results.items():
        x = np.asarray(r.layer_ids)
        m, s = r.mean.numpy(), r.std.numpy()
        (line,) = ax.plot(x, m, **{"marker": "o", **kwargs,
                                   "label": f"{label} (best: layer {r.best_layer}, {m.max():.3f})"})
        ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=0.2)
        chances.add(round(r.chance, 4))
        if r.control is not None:
            any_control = True
            colour = line.get_color()
            if control:
                ax.plot(x, r.control.numpy(), **{"marker": "s", "markersize": 4, **kwargs, "linestyle": "--",
                                                 "color": colour, "label": f"{label}: control task"})
            if selectivity:
                sel = r.selectivity.numpy()  # type: ignore[union-attr]
                best = int(np.argmax(sel))
                ax.plot(x, sel, **{"marker": "^", "markersize": 5, **kwargs, "linestyle": ":", "color": colour,
                                   "label": f"{label}: selectivity (best: layer {r.layer_ids[best]}, {sel[best]:.2f})"})
    if chance:
        for c in sorted(chances):
            ax.axhline(c, color="gray", linestyle="--", linewidth=1)
            ax.annotate(f"chance {c:.2f}", (ax.get_xlim()[0], c), xytext=(4, 3), textcoords="offset points",
                        fontsize=8, color="gray")
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("accuracy / selectivity" if any_control else "cross-validated accuracy")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best" if any_control else "lower right")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------
# Attention analysis: rollout and head statistics (see bertviz_kit.attention)
# ---------------------------------------------------------------------------

__all__ += ["plot_rollout", "plot_head_statistics", "plot_head_statistics_grid"]

# statistics that are shares of attention: drawn on one fixed 0..1 scale
_SHARE_STATISTICS = ("cls", "sep", "punct", "self", "previous", "next")


def _attention_layer(e: Encoding, layer: int) -> int:
    """Row of a transformer layer (1..n_layers, negatives from the top) in the attention axis."""
    n_layers = e.attentions.shape[0]
    if isinstance(layer, bool) or not isinstance(layer, int) or not (
        -n_layers <= layer <= n_layers and layer != 0
    ):
        raise InvalidParameterError(f"layer must be an int in [1, {n_layers}] or [-{n_layers}, -1]; got {layer!r}.")
    return layer - 1 if layer > 0 else n_layers + layer


def _query_index(e: Encoding, query: int | str, occurrence: int | None, words: bool, n: int) -> int:
    """Row of ``query``: an index into the rows (tokens, or units with ``words``), or a string."""
    if isinstance(query, str):
        t = resolve_token(e, query, occurrence=occurrence, name="query")
        return int(_units(e)[0][t]) if words else t
    what = "word unit" if words else "token"
    if isinstance(query, bool) or not isinstance(query, int) or not -n <= query < n:
        raise InvalidParameterError(
            f"query must be a {what} index in [{-n}, {n - 1}], a word string or None; got {query!r}.")
    if occurrence is not None:
        raise InvalidParameterError(f"occurrence goes with a word string, not with an index; got query={query!r}.")
    return query % n


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
    check("specials", specials, Options(("include", "exclude")))
    rollout = attention_rollout(e, words=words)
    row = _attention_layer(e, layer)
    what = "word" if words else "token"
    labels = list(attention_units(e)) if words else list(e.tokens)
    special = (_units(e)[1] if words else e.special_mask).numpy()
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
        ax.set_xlabel(f"input {what}{_note(_thinned(ax, 'x'))}")
        ax.set_ylabel(f"position after layer {row + 1}{_note(_thinned(ax, 'y'))}")
        return ax
    q = _query_index(e, query, occurrence, words, len(labels))
    ax = _query_bars(ax, labels, r[q], keep, q, **kwargs)
    ax.set_xlabel(f"input {what}{_note(_thinned(ax, 'x'))}")
    ax.set_ylabel("rollout weight (the row sums to 1)")
    shown = "orange" if keep[q] else "special tokens hidden"
    first = int(_units(e)[2][q]) if words else q
    ax.set_title(f"rollout of {_unit_name(e, first, 'word' if words else 'token')} ({shown}) through {through}")
    return ax


def _check_stats(stats: Any, statistic: str) -> np.ndarray:
    if not isinstance(stats, Mapping) or not stats:
        raise InvalidParameterError(
            "stats must be the mapping statistic -> [n_layers, n_heads] tensor from bk.head_statistics; "
            f"got {type(stats).__name__}."
        )
    check("statistic", statistic, Options(tuple(stats)))
    m = _numpy(stats[statistic], f"stats[{statistic!r}]")
    if m.ndim != 2:
        raise InvalidParameterError(f"stats[{statistic!r}] must be 2-D [n_layers, n_heads]; got shape {m.shape}.")
    return m


def plot_head_statistics(
    stats: Mapping[str, torch.Tensor],
    statistic: str = "entropy",
    *,
    annotate: bool | None = None,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    colorbar: bool = True,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """One head statistic as a layers x heads heatmap, with a labelled colour bar.

    Parameters
    ----------
    stats : mapping str -> tensor ``[n_layers, n_heads]``
        From :func:`bertviz_kit.head_statistics`.
    statistic : str, default "entropy"
        A key of ``stats`` (see :data:`bertviz_kit.HEAD_STATISTICS`).
    annotate : bool, optional
        Write each value in its cell; default when there are at most 160 heads.
    cmap : str, optional
        Default "viridis" (entropy, distance) or "Blues" (shares of attention).
    vmin, vmax : float, optional
        Colour range; shares of attention default to 0..1 so that panels compare.
    title : str, optional
    colorbar : bool, default True
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.imshow`.
    """
    m = _check_stats(stats, statistic)
    share = statistic in _SHARE_STATISTICS
    if share:
        vmin = 0.0 if vmin is None else vmin
        vmax = 1.0 if vmax is None else vmax
    cmap = cmap if cmap is not None else ("Blues" if share else "viridis")
    n_layers, n_heads = m.shape
    if annotate is None:
        annotate = m.size <= 160
    ax = _new_ax(ax, (max(4.0, 0.55 * n_heads + 1.8), max(3.0, 0.5 * n_layers + 1.2)))
    im = ax.imshow(m, **{"cmap": cmap, "vmin": vmin, "vmax": vmax, "aspect": "auto", **kwargs})
    ax.set_xticks(range(n_heads), [str(h) for h in range(n_heads)])
    ax.set_yticks(range(n_layers), [str(layer + 1) for layer in range(n_layers)])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    label = HEAD_STATISTICS.get(statistic, statistic)
    if annotate:
        lo, hi = im.get_clim()
        mid = (lo + hi) / 2
        light = share  # "Blues" is light at the bottom, "viridis" dark
        for (r, c), v in np.ndenumerate(m):
            dark_cell = (v > mid) if light else (v < mid)
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if dark_cell else "black")
    if colorbar:
        bar = ax.figure.colorbar(im, ax=ax, shrink=0.9)
        bar.set_label(label)
    ax.set_title(title if title is not None else label)
    return ax


def plot_head_statistics_grid(
    stats: Mapping[str, torch.Tensor],
    statistics: Sequence[str] | None = None,
    *,
    ncols: int = 4,
    panel_size: tuple[float, float] = (3.6, 2.4),
    fig: Figure | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Several head statistics side by side, one layers x heads panel each.

    Parameters
    ----------
    stats : mapping str -> tensor ``[n_layers, n_heads]``
        From :func:`bertviz_kit.head_statistics`.
    statistics : sequence of str, optional
        Which keys, in order (default: all of ``stats``).
    ncols : int, default 4
    panel_size : (float, float)
        Inches per panel.
    fig : Figure, optional
        Drawn on (cleared first) instead of a new figure.
    **kwargs
        Passed to :func:`plot_head_statistics` for every panel (and from there to ``imshow``).

    Returns
    -------
    numpy.ndarray of Axes, shape ``[rows, ncols]`` (unused panels switched off)
    """
    if not isinstance(stats, Mapping) or not stats:
        raise InvalidParameterError(
            "stats must be the mapping statistic -> [n_layers, n_heads] tensor from bk.head_statistics; "
            f"got {type(stats).__name__}."
        )
    names = list(stats) if statistics is None else list(statistics)
    if isinstance(statistics, str) or not names:
        raise InvalidParameterError(
            f"statistics must be a non-empty list of keys of stats {tuple(stats)}; got {statistics!r}.")
    for name in names:
        check("statistics", name, Options(tuple(stats)))
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise InvalidParameterError(f"ncols must be an int >= 1; got {ncols!r}.")
    ncols = min(ncols, len(names))
    nrows = -(-len(names) // ncols)
    if fig is None:
        fig = plt.figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows + 0.5), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        plot_head_statistics(stats, name, **{"annotate": False, **kwargs, "ax": ax})
        ax.title.set_fontsize(9)
        ax.images[-1].colorbar.ax.yaxis.label.set_fontsize(8)
    for ax in axes.flat[len(names):]:
        ax.set_axis_off()
    fig.suptitle("head statistics (rows: layers, columns: heads)")
    return axes
def plot_cka(
    matrix: torch.Tensor | np.ndarray,
    layer_ids: Sequence[int] | None = None,
    other_layer_ids: Sequence[int] | None = None,
    *,
    annotate: bool | None = None,
    cmap: str = "magma",
    label: str = "linear CKA",
    title: str | None = "CKA between layers",
    ylabel: str = "layer (0 = embeddings)",
    xlabel: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of a layer-by-layer CKA matrix on a fixed 0-1 colour scale.

    Parameters
    ----------
    matrix : tensor/array ``[n_layers, n_layers']``
        From :func:`bertviz_kit.layer_cka`: rows are the corpus's layers
        (y axis, layer 0 at the top), columns the other corpus's layers
        (x axis), or the same layers again.
    layer_ids, other_layer_ids : sequence of int, optional
        The model layer of each row / column (default ``0, 1, ...``; 0 =
        embeddings). ``other_layer_ids`` defaults to ``layer_ids`` for a
        square matrix.
    annotate : bool, optional
        Write each value (two decimals) in its cell; default when the matrix
        is at most 13 x 13.
    label : str, default "linear CKA"
        The colour bar's label (e.g. "debiased CKA"). Colours span 0 to 1
        whatever the values, so figures compare; debiased values slightly
        outside [0, 1] take the end colours.
    ylabel, xlabel : str
        Axis labels; ``xlabel`` defaults to ``ylabel`` (name the models when
        comparing two).
    ax : Axes, optional
    """
    m = _numpy(matrix, "matrix")
    if m.ndim != 2 or 0 in m.shape:
        raise ValueError(f"matrix must be a non-empty 2-D [layers, layers'] matrix; got shape {m.shape}.")
    rows = list(range(m.shape[0])) if layer_ids is None else list(layer_ids)
    if other_layer_ids is None:
        cols = rows if m.shape[0] == m.shape[1] and layer_ids is not None else list(range(m.shape[1]))
    else:
        cols = list(other_layer_ids)
    if len(rows) != m.shape[0] or len(cols) != m.shape[1]:
        raise ValueError(
            f"layer_ids and other_layer_ids must name the {m.shape[0]} rows and {m.shape[1]} columns of "
            f"matrix; got {len(rows)} and {len(cols)}.")
    if annotate is None:
        annotate = max(m.shape) <= 13
    size = max(3.5, 0.5 * max(m.shape) + 1.5)
    ax = _new_ax(ax, (size + 1.2, size))
    im = ax.imshow(m, cmap=cmap, vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(cols)), [str(c) for c in cols])
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.set_ylabel(ylabel)
    ax.set_xlabel(ylabel if xlabel is None else xlabel)
    if annotate:
        for (r, c), v in np.ndenumerate(m):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if v > 0.55 else "white")
    bar = ax.figure.colorbar(im, ax=ax, shrink=0.8)
    bar.set_label(label)
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------
# Scalar mix and cumulative scoring (see bertviz_kit.probing.scalar_mix_probe)
# ---------------------------------------------------------------------------

__all__ += ["plot_scalar_mix", "plot_cumulative_scoring"]


def _mix_results(results: Any, need_cumulative: bool = False) -> dict[str, Any]:
    from .probing import ScalarMixResult

    if isinstance(results, ScalarMixResult):
        results = {"probe": results}
    if not isinstance(results, Mapping) or not results or not all(
        isinstance(r, ScalarMixResult) for r in results.values()
    ):
        raise InvalidParameterError(
            "results must be a ScalarMixResult or a non-empty mapping task -> ScalarMixResult (from "
            f"bk.scalar_mix_probe); got {type(results).__name__}.")
    if need_cumulative:
        for label, r in results.items():
            if r.cumulative is None:
                raise InvalidParameterError(
                    f"results[{label!r}] has no cumulative scores; run bk.scalar_mix_probe(..., cumulative=True).")
    return dict(results)


def _expected(r: Any) -> float | None:
    e = r.expected_layer
    return None if e is None or not np.isfinite(e) else float(e)


def plot_scalar_mix(
    results: Any,
    *,
    title: str | None = "scalar mix weights per layer",
    expected_layer: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Bars of the learned layer weights per task, with each task's centre of gravity
    (solid vertical line, drawn over the bars) and expected layer from cumulative
    scoring (dashed).

    Parameters
    ----------
    results : ScalarMixResult or mapping task -> ScalarMixResult
        From :func:`bertviz_kit.scalar_mix_probe`; one colour per task.
    expected_layer : bool, default True
        Also mark Tenney et al.'s expected layer (results with cumulative scores).
    ax : Axes, optional
    """
    results = _mix_results(results)
    check("expected_layer", expected_layer, Boolean())
    from matplotlib import patheffects

    ax = _new_ax(ax, (7, 4))
    k = len(results)
    width = 0.8 / k
    colours = _palette(k)
    top = max(float(r.weights.max()) for r in results.values())
    for j, (label, r) in enumerate(results.items()):  # bars first, so that no bar hides a marker line
        x = np.asarray(r.layer_ids, dtype=float)
        ax.bar(x + (j - (k - 1) / 2) * width, r.weights.numpy(), width=width, color=colours[j], alpha=0.85,
               label=f"{label}: weights")
    halo = [patheffects.withStroke(linewidth=4, foreground="white")]
    for j, (label, r) in enumerate(results.items()):
        cog = r.center_of_gravity
        ax.axvline(cog, color=colours[j], linewidth=2, zorder=4, path_effects=halo,
                   label=f"{label}: centre of gravity {cog:.2f}")
        e = _expected(r)
        if expected_layer and e is not None:
            ax.axvline(e, color=colours[j], linewidth=1.5, linestyle="--", zorder=4, path_effects=halo,
                       label=f"{label}: expected layer {e:.2f}")
    first = next(iter(results.values()))
    ax.axhline(1 / len(first.weights), color="gray", linestyle=":", linewidth=1)
    ax.annotate("uniform", (ax.get_xlim()[0], 1 / len(first.weights)), xytext=(4, 3),
                textcoords="offset points", fontsize=8, color="gray")
    entries = len(ax.get_legend_handles_labels()[1])
    ax.set_ylim(0, top * (1.25 + 0.11 * entries))  # head room for the legend above the bars
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("mixing weight softmax(s)")
    ax.set_xticks(np.asarray(first.layer_ids))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper right")
    if title:
        ax.set_title(title)
    return ax


def plot_cumulative_scoring(
    results: Any,
    *,
    title: str | None = "cumulative scoring: probe on layers 0..l",
    ax: Axes | None = None,
) -> Axes:
    """Held-out accuracy of scalar-mix probes on layers ``0..l`` for every ``l``, per task,
    with each task's expected layer marked (Tenney et al. 2019).

    Parameters
    ----------
    results : ScalarMixResult or mapping task -> ScalarMixResult
        From :func:`bertviz_kit.scalar_mix_probe` with ``cumulative=True``.
    ax : Axes, optional
    """
    results = _mix_results(results, need_cumulative=True)
    ax = _new_ax(ax, (6, 4))
    colours = _palette(len(results))
    for j, (label, r) in enumerate(results.items()):
        x = np.asarray(r.layer_ids)
        e = _expected(r)
        tail = "" if e is None else f", expected layer {e:.2f}"
        ax.plot(x, r.cumulative.numpy(), marker="o", color=colours[j], label=f"{label}{tail}")
        if e is not None:
            ax.axvline(e, color=colours[j], linestyle="--", linewidth=1)
    ax.set_xlabel("highest layer in the mix l (0 = embeddings)")
    ax.set_ylabel("held-out accuracy, layers 0..l")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------
# The lens on every layer, nearest contexts
# ---------------------------------------------------------------------------

__all__ += ["plot_lens"]


def plot_lens(result: Any, ax: Axes | None = None, *, cmap: str = "viridis", title: str | None = None,
              **kwargs: Any) -> Axes:
    """Top-k vocabulary items by layer (text in cells, colour = score) and the true token's rank.

    Parameters
    ----------
    result : LensResult
        From :func:`bertviz_kit.lens`.
    ax : Axes, optional
        Axes for the table. With ``ax=None`` a figure with two panels is made:
        the table, and the rank of the true token per layer (log scale) on its
        right. With a given ``ax`` the rank is written in the layer labels.
    cmap : str
    title : str, optional
        Defaults to ``lens on word 5 'bank' (embeddings)``.
    **kwargs
        Passed to ``imshow``.

    Returns
    -------
    Axes
        The table's axes.
    """
    from .lens import LensResult

    if not isinstance(result, LensResult):
        raise InvalidParameterError(f"result must be a LensResult (from bk.lens); got {type(result).__name__}.")
    scores = result.scores.float().numpy()
    n_layers, k = scores.shape
    rank_ax = None
    if ax is None:
        fig, (ax, rank_ax) = plt.subplots(
            1, 2, figsize=(1.0 * k + 3.5, 0.45 * n_layers + 1.8), gridspec_kw={"width_ratios": [k, 2.2]},
            layout="constrained")
    vmax = float(scores.max()) if scores.size else 1.0
    im = ax.imshow(scores, cmap=cmap, vmin=0.0, vmax=vmax if vmax > 0 else 1.0, aspect="auto", **kwargs)
    for (r, c), v in np.ndenumerate(scores):
        token = result.tokens[r][c]
        token = token if len(token) <= 11 else token[:10] + "…"
        bold = result.ids[r, c].item() == result.true_id
        ax.text(c, r, token, ha="center", va="center", fontsize=8, fontweight="bold" if bold else "normal",
                color="black" if v > 0.6 * vmax else "white")
    ax.set_xticks(range(k), [str(i + 1) for i in range(k)])
    ranks = result.rank.tolist()
    if rank_ax is None:
        ax.set_yticks(range(n_layers), [f"{lid} (rank {rk})" for lid, rk in zip(result.layer_ids, ranks)])
        ax.set_ylabel("layer (rank of the true token)")
    else:
        ax.set_yticks(range(n_layers), [str(lid) for lid in result.layer_ids])
        ax.set_ylabel("layer (0 = embeddings)")
    ax.set_xlabel("top-k position (bold: the true token)")
    bar = ax.figure.colorbar(im, ax=ax, shrink=0.8)
    bar.set_label("probability" if result.kind == "mlm" else "cosine")
    ax.set_title(title or f"lens on {result.label} ({result.kind})")
    if rank_ax is not None:
        y = np.arange(n_layers)
        rank_ax.plot(ranks, y, marker="o")
        for yy, rk in zip(y, ranks):
            rank_ax.annotate(str(rk), (rk, yy), textcoords="offset points", xytext=(6, 0), va="center", fontsize=8)
        rank_ax.set_xscale("log")
        rank_ax.set_xlim(0.7, max(10.0, max(ranks) * 4))
        rank_ax.set_ylim(n_layers - 0.5, -0.5)
        rank_ax.set_yticks(y, [str(lid) for lid in result.layer_ids])
        rank_ax.set_xlabel(f"rank of {result.true_token!r} (1 = top)")
        rank_ax.set_ylabel("layer")
        rank_ax.grid(True, axis="x", alpha=0.3)
    return ax


# ---------------------------------------------------------------------------
# Nearest contexts (bk.nearest_contexts, ContextIndex.search)
# ---------------------------------------------------------------------------

__all__ += ["plot_nearest_contexts"]

_MONO = "DejaVu Sans Mono"  # shipped with matplotlib; every glyph advances 0.602 em
_MONO_EM = 0.602
_EIGHTHS = " ▏▎▍▌▋▊▉"


def _bar_text(value: float, cells: int) -> str:
    """A horizontal bar of ``value`` in [0, 1] drawn with block characters, ``cells`` wide."""
    eighths = int(round(min(max(value, 0.0), 1.0) * cells * 8))
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(cells)


def _kwic(text: str, start: int, end: int, width: int, max_match: int = 30) -> tuple[str, str, str]:
    """(left context, match, right context) of ``text[start:end]``, each side cut to ``width``
    characters with an ellipsis; line breaks and tabs become spaces."""
    flat = "".join(" " if c in "\n\r\t\f\v" else c for c in text)
    left, match, right = flat[max(0, start - width):start], flat[start:end], flat[end:end + width]
    if start > width:
        left = "…" + left[1:]
    if end + width < len(flat):
        right = right[:-1] + "…"
    if len(match) > max_match:
        match = match[:max_match - 1] + "…"
    return left, match, right


def plot_nearest_contexts(
    matches: Any,
    ax: Axes | None = None,
    *,
    width: int = 48,
    fontsize: float = 9.0,
    color: str = "C3",
    show_query: bool = True,
    title: str | None = None,
    **kwargs: Any,
) -> Axes:
    """The matches of a nearest-context search as a concordance: one row per match, best first.

    Each row shows the cosine (a bar and the number), then the sentence cut to
    ``width`` characters on each side of the matched word (an ellipsis marks a
    cut), the word highlighted (bold, coloured, on a tint) and aligned in one
    column, as in a keyword-in-context concordance. The query occurrence comes
    first in a row of its own when ``matches`` knows it.

    Parameters
    ----------
    matches : ContextMatches or list of ContextMatch
        From :func:`bertviz_kit.nearest_contexts` or ``ContextIndex.search``, any
        layer. Rows are sorted by cosine, highest first.
    ax : Axes, optional
        Axes to draw on; a figure sized to the text is made when None. Text is
        drawn in a monospaced font at fixed offsets from the axes' left edge,
        so it keeps its layout on any axes; what does not fit is clipped (give
        a smaller ``width`` for a narrow axes, about ``0.6 * fontsize / 72``
        inches per character).
    width : int, default 48
        Characters of context kept on each side of the match.
    fontsize : float, default 9
    color : str, default "C3"
        Colour of the highlighted word.
    show_query : bool, default True
        Draw the query occurrence above the matches (when known).
    title : str, optional
        Defaults to ``nearest contexts of 'bank' at layer 1 (subwords: mean)``
        when ``matches`` carries its query, else ``nearest contexts``.
    **kwargs
        Passed to ``ax.text`` for the context texts (e.g. ``color``).

    Returns
    -------
    Axes
    """
    from matplotlib import transforms

    from .search import ContextMatch
    from .validation import Instance

    check("width", width, Interval(int, 1))
    check("fontsize", fontsize, Interval(float, 0.0, closed="neither"))
    check("show_query", show_query, Boolean())
    check("title", title, NoneOr(Instance(str)))
    if isinstance(matches, (str, bytes)) or not isinstance(matches, Sequence) or not all(
            isinstance(m, ContextMatch) for m in matches):
        raise InvalidParameterError(
            f"matches must be the list of ContextMatch from bk.nearest_contexts; got {type(matches).__name__}.")
    if not matches:
        raise InvalidParameterError("matches is empty: nothing to draw.")
    rows = sorted(matches, key=lambda m: -m.cosine)
    query = getattr(matches, "query", "") or ""
    query_text = getattr(matches, "query_text", "") or ""
    query_span = getattr(matches, "query_span", None)
    layer = getattr(matches, "layer", None)
    has_query = show_query and bool(query_text) and query_span is not None

    pieces = []
    for m in rows:
        text, (a, z) = (m.text, m.span) if m.text else (m.snippet, (0, 0))
        if not m.text:  # a ContextMatch made by hand: cut its snippet at the [[ ]] marks
            a = m.snippet.find("[[")
            z = m.snippet.find("]]", a)
            text = m.snippet[:a] + m.snippet[a + 2:z] + m.snippet[z + 2:] if 0 <= a < z else m.snippet
            a, z = (a, z - 2) if 0 <= a < z else (0, 0)
        pieces.append(_kwic(text, a, z, width))
    query_piece = _kwic(query_text, *query_span, width) if has_query else None

    bar_cells, num_cells = 10, 6
    ctx0 = bar_cells + 1 + num_cells + 2  # first context column
    # Glyphs are hinted to whole pixels: at low dpi a line of text runs up to ~10% longer or
    # shorter than its nominal width, so each side of the match gets 10% more room.
    side = 1.1 * width + 1
    longest_match = max(len(p[1]) for p in pieces + ([query_piece] if query_piece else []))
    n_cols = ctx0 + side + longest_match + side
    char_in = _MONO_EM * fontsize / 72.0
    pad_in = 0.08
    n = len(rows)
    if ax is None:
        ax = _new_ax(None, (n_cols * char_in + 2 * pad_in + 0.9, 0.26 * fontsize / 9.0 * (n + 2) + 1.1))
    else:
        ax = _new_ax(ax, (1.0, 1.0))
    fig = ax.figure
    base = transforms.blended_transform_factory(ax.transAxes, ax.transData)

    def at(col: float, inches: float = 0.0) -> transforms.Transform:
        return base + transforms.ScaledTranslation(pad_in + col * char_in + inches, 0.0, fig.dpi_scale_trans)

    style = {"fontfamily": _MONO, "fontsize": fontsize, "va": "center", "ha": "left", "clip_on": True,
             "parse_math": False}
    hl = {**style, "fontweight": "bold", "color": color,
          "bbox": {"boxstyle": "square,pad=0.12", "facecolor": color, "alpha": 0.12, "linewidth": 0}}

    def draw_row(y: float, piece: tuple[str, str, str], head: str | None, value: float | None) -> None:
        left, match, right = piece
        if value is not None:
            ax.text(0, y, _bar_text(value, bar_cells), transform=at(0), **{**style, "color": "C0"})
            ax.text(0, y, f"{value:{num_cells}.3f}"[-num_cells:], transform=at(bar_cells + 1), **style)
        elif head:
            ax.text(0, y, head, transform=at(0), **{**style, "fontstyle": "italic"})
        # The match starts at a fixed column; the left context ends there (right-aligned) and the
        # right context starts where the drawn match ends, so the row holds together whatever
        # width the renderer gives each glyph (hinting at low dpi).
        col = ctx0 + side
        gap_left = fontsize * _MONO_EM / 72.0 if left[-1:].isspace() else 0.0
        gap_right = fontsize * _MONO_EM if right[:1].isspace() else 0.0
        if left.strip():
            ax.text(0, y, left.rstrip(), transform=at(col, -gap_left), **{**style, "ha": "right", **kwargs})
        word = ax.text(0, y, match, transform=at(col), **hl)
        if right.strip():
            ax.annotate(right.lstrip(), xy=(1.0, 0.5), xycoords=word, xytext=(gap_right, 0.0),
                        textcoords="offset points", annotation_clip=False, **{**style, **kwargs})

    if query_piece is not None:
        draw_row(-1.0, query_piece, "query", None)
        ax.axhline(-0.5, color="0.6", linewidth=0.8)
    for i, (m, piece) in enumerate(zip(rows, pieces)):
        draw_row(float(i), piece, None, m.cosine)
    top = -1.6 if query_piece is not None else -0.6
    ax.set_ylim(n - 0.4, top)
    ax.set_xlim(0, 1)
    ticks = ([-1.0] if query_piece is not None else []) + list(range(n))
    ax.set_yticks(ticks, (["q"] if query_piece is not None else []) + [str(i + 1) for i in range(n)])
    ax.tick_params(axis="y", length=0)
    ax.set_ylabel("rank (best first)")
    ax.set_xticks([])
    ax.set_xlabel("cosine with the query  |  context, the match highlighted")
    for spine in ("top", "right", "bottom"):
        ax.spines[spine].set_visible(False)
    if title is None:
        if query and layer is not None:
            sub = getattr(matches, "subwords", None)
            title = f"nearest contexts of {query!r} at layer {layer}" + (f" (subwords: {sub})" if sub else "")
        else:
            title = "nearest contexts"
    ax.set_title(title)
    return ax
