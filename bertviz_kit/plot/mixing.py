"""Plots of context mixing: draw a precomputed :class:`~bertviz_kit.analysis.mixing.MixingResult`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._validation import (
    AXES,
    COLORMAP,
    MPL_KWARGS,
    TITLE,
    Boolean,
    Instance,
    InvalidParameterError,
    check,
    validate_params,
)
from ..analysis.mixing import MixingResult
from ..layers import Layer
from .axes import SMALL_FONT

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_context_mixing"]

_TITLES = {
    "attention": "attention weights (heads averaged)",
    "rollout": "attention rollout",
    "norm": "attention norms ||sum_h a f(x)||",
    "norm_res_ln": "norms with residual + LayerNorm",
    "alti": "ALTI (aggregated)",
    "value_zeroing": "value zeroing",
}


@validate_params({"result": Instance(MixingResult, label="a MixingResult (bk.context_mixing)"),
                  "layer": Layer(embeddings=False), "cmap": COLORMAP, "colorbar": Boolean(), "title": TITLE,
                  "ax": AXES, "kwargs": MPL_KWARGS})
def plot_context_mixing(
    result: MixingResult,
    layer: int = -1,
    *,
    cmap: str = "Blues",
    colorbar: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """One layer of a context-mixing result as a heatmap (rows receive, columns give).

    Draws ``result.scores[layer - 1]`` as computed by :func:`bertviz_kit.context_mixing`;
    computes nothing.

    Parameters
    ----------
    result : MixingResult
    layer : int, default -1
        Transformer layer, 1 .. ``result.n_layers`` (negative counts from the top).
    cmap : str, default "Blues"
    colorbar : bool, default True
    title : str, optional
        Defaults to the method and the layer.
    ax : Axes, optional
        Drawn into; a new figure when None.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.imshow`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    check("result", result, Instance(MixingResult, label="a MixingResult (from bk.context_mixing)"))
    check("colorbar", colorbar, Boolean())
    n = result.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not (-n <= layer <= n and layer != 0):
        raise InvalidParameterError(f"layer must be an int in [1, {n}] or [-{n}, -1]; got {layer!r}.")
    row = layer - 1 if layer > 0 else n + layer
    if ax is None:
        size = max(4.0, 0.28 * len(result.labels) + 1.5)
        _, ax = plt.subplots(figsize=(size + 1.0, size))
    data = result.scores[row].numpy()
    im = ax.imshow(data, cmap=cmap, vmin=0.0, **kwargs)
    ticks = range(len(result.labels))
    ax.set_xticks(ticks, result.labels, rotation=90, fontsize=SMALL_FONT)
    ax.set_yticks(ticks, result.labels, fontsize=SMALL_FONT)
    ax.set_xlabel("source (gives)")
    ax.set_ylabel("receiving token" if result.level == "token" else "receiving word")
    through = f"layers 1-{row + 1}" if result.aggregated and row else f"layer {row + 1}"
    ax.set_title(title if title is not None else f"{_TITLES[result.method]}, {through}", fontsize=10)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax
