"""Shared axes helpers for the plot functions: a new or given Axes, tick labels that never overlap,
the array conversion every plot does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties

from .._validation import InvalidParameterError

#: The smallest font size, in points at the saved figure size, of tick labels, legends and panel
#: labels: 9 pt stays readable when a notebook shows a wide figure scaled down.
SMALL_FONT = 9.0


def new_ax(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise InvalidParameterError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
        return ax
    fig, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


# Long texts: a figure grows with its rows and columns up to these sizes (inches), then its tick
# labels are thinned to every k-th so that they never overlap (a 300-token attention map stays a
# figure a notebook can show, not a 100-megapixel image).
MAX_MATRIX_INCHES = 14.0
MAX_BARS_INCHES = 16.0


def set_labels(ax: Axes, axis: str, labels: Sequence[str], **text: Any) -> int:
    """Put ``labels`` on the ``axis`` ticks at 0, 1, ...: all of them where they fit along the
    Axes at the tick font size, else every k-th (the smallest k that fits). Returns k."""
    n = len(labels)
    ax.apply_aspect()  # an image of equal aspect is narrower (or shorter) than its subplot's box
    box = ax.get_window_extent()  # pixels (in a figure or a subfigure)
    length = (box.width if axis == "x" else box.height) * 72 / ax.figure.dpi  # points
    size = FontProperties(size=plt.rcParams[f"{axis}tick.labelsize"]).get_size_in_points()
    room = size * (1.45 if axis == "x" else 1.0)  # x labels are rotated by 45 degrees: sqrt(2) x their height apart
    step = max(1, -(-n // max(1, int(length // room))))
    ticks = list(range(0, n, step))
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter(ticks, [str(labels[i]) for i in ticks], **text)
    if step > 1 and not (ax.get_xlabel() if axis == "x" else ax.get_ylabel()):
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)(f"one label in {step}")
    return step


def note(thinned: str) -> str:
    """``" (one label in k)"`` from :func:`thinned`'s ``"; one label in k"``."""
    return f" ({thinned[2:]})" if thinned else ""


def thinned(ax: Axes, axis: str) -> str:
    """``"; one label in k"`` when :func:`set_labels` thinned the ``axis`` labels, else ``""``."""
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    step = int(round(ticks[1] - ticks[0])) if len(ticks) > 1 else 1
    return f"; one label in {step}" if step > 1 else ""


def as_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be a tensor or array of numbers; got {type(x).__name__}.") from None



def palette(k: int) -> list[Any]:
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(k)]
