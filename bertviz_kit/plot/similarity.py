"""Histograms, cosine heatmaps and layer-similarity curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes

from .._validation import (
    ARRAY,
    AXES,
    COLOR,
    COLORMAP,
    MPL_KWARGS,
    TEXT,
    TITLE,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    check,
    validate_params,
)
from ..encoding import IS_ENCODING, Encoding
from ..layers import Layer, stored_row
from ..vectors.addressing import WordArg, describe_token, resolve_token
from .axes import MAX_MATRIX_INCHES, SMALL_FONT, as_array, new_ax, set_labels


@validate_params({"data": (IS_ENCODING, ARRAY), "token": NoneOr(WordArg("data", token=True)), "layer": Layer("data"),
                  "word": NoneOr(WordArg("data")), "occurrence": NoneOr(Interval(int)),
                  "bins": (Interval(int, 1),
                           Instance(list, tuple, np.ndarray, torch.Tensor, label="increasing bin edges")),
                  "color": COLOR, "title": TITLE, "ax": AXES, "kwargs": MPL_KWARGS})
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
        edges = as_array(bins, "bins")
        if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
            raise InvalidParameterError(f"bins must be an int >= 1 or increasing bin edges (at least 2); got {bins!r}.")
        bins = edges
    elif isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidParameterError(f"bins must be an int >= 1 or increasing bin edges (at least 2); got {bins!r}.")
    if isinstance(data, Encoding):
        t = resolve_token(data, token, word, occurrence, default=0)
        row = stored_row(data, layer)
        values = as_array(data.hidden_states[row, t], "data")
        default = f"{describe_token(data, t)}, layer {data.layer_ids[row]}"
    else:
        if token is not None or word is not None or occurrence is not None:
            raise InvalidParameterError(
                "token, word and occurrence pick a vector from an Encoding; data is already a vector "
                f"({type(data).__name__}).")
        values = as_array(data, "data")
        if values.ndim != 1:
            raise InvalidParameterError(f"data must be an Encoding or a 1-D vector; got shape {values.shape}.")
        default = "vector values"
    ax = new_ax(ax, (5, 4))
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
_LABELS = Instance(list, tuple, label="a list of labels")
_LAYER_IDS = Instance(list, tuple, range, np.ndarray, torch.Tensor, label="a list of layer ids")


def _auto_extend(m: np.ndarray, vmin: float | None, vmax: float | None, tol: float = 1e-5) -> str:
    """Which colour-bar ends to point: the sides on which some value is clipped."""
    finite = m[np.isfinite(m)]
    if finite.size == 0:
        return "neither"
    low = vmin is not None and float(finite.min()) < vmin - tol
    high = vmax is not None and float(finite.max()) > vmax + tol
    return {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[(low, high)]


@validate_params({"data": ARRAY, "labels": NoneOr(_LABELS), "ylabels": NoneOr(_LABELS, "the same as labels"),
                  "annotate": NoneOr(Boolean(), "automatic"), "cmap": COLORMAP, "vmin": _LIMIT, "vmax": _LIMIT,
                  "title": TITLE, "colorbar": Boolean(), "colorbar_label": NoneOr(TEXT), "extend": NoneOr(TEXT),
                  "ax": AXES, "kwargs": MPL_KWARGS})
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
    m = as_array(data, "data")
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
    size = min(MAX_MATRIX_INCHES, max(3.5, 0.45 * max(m.shape) + 2))
    ax = new_ax(ax, (size + 1, size))
    im = ax.imshow(m, **{"cmap": cmap, "vmin": vmin, "vmax": vmax, **kwargs})
    set_labels(ax, "x", xl, rotation=45, ha="right", rotation_mode="anchor")
    set_labels(ax, "y", yl)
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


#: The fixed y range of per-layer cosine curves (the explorer's curves use it too).
COSINE_SCALE = (-0.2, 1.0)


def _check_ylim(ylim: object) -> tuple[float, float] | str | None:
    if ylim is None or ylim == "data":
        return ylim
    if (isinstance(ylim, (tuple, list)) and len(ylim) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in ylim)
            and ylim[0] < ylim[1]):
        return float(ylim[0]), float(ylim[1])
    raise InvalidParameterError(f"ylim must be None, 'data' or a pair (low, high) with low < high; got {ylim!r}.")


@validate_params({"curves": Instance(Mapping, label="a non-empty mapping name -> per-layer values"), "title": TITLE,
                  "ylabel": TEXT, "layer_ids": NoneOr(_LAYER_IDS), "legend_loc": TEXT,
                  "ylim": NoneOr(Instance(tuple, list, str, label="a (low, high) pair or 'auto'")), "ax": AXES,
                  "kwargs": MPL_KWARGS})
def plot_layer_similarity(
    curves: Mapping[str, torch.Tensor | np.ndarray],
    *,
    title: str | None = "similarity across layers",
    ylabel: str = "cosine similarity",
    layer_ids: Sequence[int] | None = None,
    legend_loc: str = "best",
    ylim: tuple[float, float] | str | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Curves of one value per layer, e.g. ``bk.layer_similarity`` of word pairs.

    The y axis is a fixed cosine scale, -0.2 to 1 (wider where a value lies outside it),
    so that figures compare and a gap of 0.05 looks as small as it is. To zoom in, pass
    ``ylim=(low, high)`` or ``ylim="data"`` (fit the data); the axis label then says
    "zoomed" and gives the range.

    Parameters
    ----------
    curves : mapping label -> 1-D tensor/array ``[n_layers + 1]``
    layer_ids : sequence of int, optional
        The layer of each point (default ``0, 1, ...``; 0 = embeddings).
    legend_loc : str, default "best"
        Where the legend goes (matplotlib's ``loc``).
    ylim : (float, float) or "data", optional
        The y range; default the fixed cosine scale.
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for every curve
        (``linewidth``, ``marker``, ``linestyle``, ...).
    """
    if not isinstance(curves, Mapping) or not curves:
        raise InvalidParameterError("curves must be a non-empty mapping of label -> values per layer.")
    zoom = _check_ylim(ylim)
    ax = new_ax(ax, (6, 4))
    low, high = COSINE_SCALE
    for label, values in curves.items():
        y = as_array(values, f"curves[{label!r}]")
        if y.ndim != 1:
            raise InvalidParameterError(f"curves[{label!r}] must be 1-D (one value per layer); got {y.shape}.")
        x = np.arange(len(y)) if layer_ids is None else np.asarray(layer_ids)
        if len(x) != len(y):
            raise InvalidParameterError(f"layer_ids has {len(x)} entries but curves[{label!r}] has {len(y)}.")
        ax.plot(x, y, **{"marker": "o", **kwargs, "label": str(label)})
        finite = y[np.isfinite(y)]
        if finite.size:
            low, high = min(low, float(finite.min()) - 0.05), max(high, float(finite.max()) + 0.05)
    ax.set_xlabel("layer (0 = embeddings)")
    if zoom is None:
        ax.set_ylim(low, high)
        ax.set_ylabel(ylabel)
    else:
        if zoom != "data":
            ax.set_ylim(*zoom)
        lo, hi = ax.get_ylim()
        ax.set_ylabel(f"{ylabel} (zoomed: {lo:.2f} to {hi:.2f})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_FONT, loc=legend_loc)
    if title:
        ax.set_title(title)
    return ax



