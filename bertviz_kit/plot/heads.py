"""Head statistics (Clark et al. 2019): one layers x heads heatmap per statistic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validation import (
    AXES,
    COLORMAP,
    FIGURE,
    MPL_KWARGS,
    TEXT,
    TITLE,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    SequenceOf,
    check,
    validate_params,
)
from ..analysis.attention import HEAD_STATISTICS
from .axes import SMALL_FONT, as_array, new_ax

_STATS = Instance(Mapping, label="the mapping statistic -> [n_layers, n_heads] tensor from bk.head_statistics")
_LIMIT = NoneOr(Interval(float), "the statistic's own")

_SHARE_STATISTICS = ("cls", "sep", "punct", "self", "previous", "next")


def _check_stats(stats: Any, statistic: str) -> np.ndarray:
    if not isinstance(stats, Mapping) or not stats:
        raise InvalidParameterError(
            "stats must be the mapping statistic -> [n_layers, n_heads] tensor from bk.head_statistics; "
            f"got {type(stats).__name__}."
        )
    check("statistic", statistic, Options(tuple(stats)))
    m = as_array(stats[statistic], f"stats[{statistic!r}]")
    if m.ndim != 2:
        raise InvalidParameterError(f"stats[{statistic!r}] must be 2-D [n_layers, n_heads]; got shape {m.shape}.")
    return m


@validate_params({"stats": _STATS, "statistic": TEXT, "annotate": NoneOr(Boolean(), "automatic"),
                  "cmap": NoneOr(COLORMAP[0], "the statistic's own"), "vmin": _LIMIT, "vmax": _LIMIT, "title": TITLE,
                  "colorbar": Boolean(), "ax": AXES, "kwargs": MPL_KWARGS})
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
    ax = new_ax(ax, (max(4.0, 0.55 * n_heads + 1.8), max(3.0, 0.5 * n_layers + 1.2)))
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


@validate_params({"stats": _STATS, "statistics": NoneOr(SequenceOf(TEXT), "every statistic in stats"),
                  "ncols": Interval(int, 1), "panel_size": Instance(tuple, list, label="a (width, height) pair"),
                  "fig": FIGURE, "kwargs": MPL_KWARGS})
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
        ax.images[-1].colorbar.ax.yaxis.label.set_fontsize(SMALL_FONT)
    for ax in axes.flat[len(names):]:
        ax.set_axis_off()
    fig.suptitle("head statistics (rows: layers, columns: heads)")
    return axes


