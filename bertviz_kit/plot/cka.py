"""CKA between layers as a heatmap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes

from .._validation import ARRAY, AXES, COLORMAP, TEXT, TITLE, Boolean, Instance, NoneOr, validate_params
from .axes import as_array, new_ax

_IDS = Instance(list, tuple, range, np.ndarray, torch.Tensor, label="a list of layer ids")


@validate_params({"matrix": ARRAY, "layer_ids": NoneOr(_IDS), "other_layer_ids": NoneOr(_IDS, "the same as layer_ids"),
                  "annotate": NoneOr(Boolean(), "automatic"), "cmap": COLORMAP, "label": TEXT, "title": TITLE,
                  "ylabel": TEXT, "xlabel": NoneOr(TEXT, "the same as ylabel"), "ax": AXES})
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
    m = as_array(matrix, "matrix")
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
    ax = new_ax(ax, (size + 1.2, size))
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



