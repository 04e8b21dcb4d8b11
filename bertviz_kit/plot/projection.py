"""Projections of vectors to 2-D and their trajectories over the layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes

from .._validation import InvalidParameterError
from .axes import SMALL_FONT, as_array, new_ax, palette

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
        ax = new_ax(ax, (6.5, 2.2))
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
        ax = new_ax(ax, (6.5, 1.2 + 0.6 * len(cats)))
        lab_arr = np.array([str(v) for v in labs], dtype=object)
        y = np.empty(len(x))
        for k, (cat, color) in enumerate(zip(cats, palette(len(cats)))):
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


def one_column(vectors: torch.Tensor | np.ndarray) -> np.ndarray | None:
    """The values of ``vectors`` when it is ``[n, 1]`` (one number per item: nothing to project), else None."""
    raw = as_array(vectors, "vectors")
    return raw[:, 0] if raw.ndim == 2 and raw.shape[1] == 1 else None


def draw_values(
    x: np.ndarray,
    labels: Sequence[object] | None = None,
    *,
    texts: Sequence[str] | None = None,
    cmap: str = "viridis",
    legend_title: str | None = None,
    title: str | None = None,
    marker_size: float = 30.0,
    ax: Axes | None = None,
) -> Axes:
    """One number per item as a strip of points, one row per category (1-D data, nothing projected)."""
    return _strip(ax, x, _check_labels(labels, len(x)), _check_labels(texts, len(x), "texts"),
                  "value", title if title is not None else f"{len(x)} values (1-D data)",
                  cmap, legend_title, marker_size)


def draw_projection(
    points: np.ndarray,
    model: Any,
    labels: Sequence[object] | None = None,
    *,
    method: str = "pca",
    texts: Sequence[str] | None = None,
    cmap: str = "viridis",
    legend_title: str | None = None,
    title: str | None = None,
    marker_size: float = 30.0,
    ax: Axes | None = None,
) -> Axes:
    """Draw :func:`bertviz_kit.plot_projection` from projected ``points`` ``[n, 2]`` and the fitted
    ``model`` (its explained variance labels PCA axes), as ``bertviz_kit.vectors.projection``'s
    ``project_with_model`` returns them."""
    n = points.shape[0]
    labs = _check_labels(labels, n)
    notes = _check_labels(texts, n, "texts")
    if method == "pca" and model.explained_variance_ratio_[1] < _FLAT:
        # the points lie on a line: a second axis would only show rounding noise
        ratio = model.explained_variance_ratio_[0]
        return _strip(ax, points[:, 0], labs, notes, f"PC1 ({100 * ratio:.1f}% of variance)",
                      title if title is not None else f"PCA of {n} vectors: they lie on a line (1-D)",
                      cmap, legend_title, marker_size)
    ax = new_ax(ax, (6.5, 5))
    if labs is None:
        ax.scatter(points[:, 0], points[:, 1], s=marker_size, alpha=0.8, edgecolors="none")
    elif _is_continuous(labs):
        sc = ax.scatter(points[:, 0], points[:, 1], c=np.asarray(labs, dtype=float), cmap=cmap,
                        s=marker_size, alpha=0.85, edgecolors="none")
        bar = ax.figure.colorbar(sc, ax=ax, shrink=0.8)
        bar.set_label(legend_title or "label")
    else:
        cats = _categories(labs)
        colors = palette(len(cats))
        lab_arr = np.array([str(v) for v in labs], dtype=object)
        for cat, color in zip(cats, colors):
            m = lab_arr == str(cat)
            ax.scatter(points[m, 0], points[m, 1], s=marker_size, color=color, alpha=0.8,
                       edgecolors="none", label=f"{cat} ({int(m.sum())})")
        ax.legend(title=legend_title, fontsize=SMALL_FONT, title_fontsize=SMALL_FONT, loc="best",
                  ncol=1 if len(cats) <= 12 else 2, framealpha=0.8)
    if notes is not None:
        for (px, py), note in zip(points, notes):
            ax.annotate(str(note), (px, py), xytext=(3, 3), textcoords="offset points", fontsize=7)
    _axis_labels(ax, method, model)
    ax.grid(alpha=0.3)
    full = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[method]
    ax.set_title(title if title is not None else f"{full} projection of {n} vectors")
    return ax




def draw_trajectory(
    points: np.ndarray,
    model: Any,
    labels: Sequence[object] | None = None,
    *,
    method: str = "pca",
    center_layers: bool = False,
    layer_ids: Sequence[int] | None = None,
    legend_title: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw :func:`bertviz_kit.plot_trajectory` from projected ``points`` ``[n_layers, n, 2]`` and the
    fitted ``model``, as ``bertviz_kit.vectors.projection``'s ``project_layers_with_model`` returns them."""
    n_layers, n, _ = points.shape
    ids = list(range(n_layers)) if layer_ids is None else list(layer_ids)
    if len(ids) != n_layers:
        raise InvalidParameterError(f"layer_ids must name one layer per row of vectors ({n_layers}); got {len(ids)}.")
    labs = _check_labels(labels, n)
    cats = _categories(labs) if labs is not None else [None]
    colors = palette(len(cats))
    color_of = {str(c): col for c, col in zip(cats, colors)}
    ax = new_ax(ax, (7, 5.5))
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
        ax.legend(title=legend_title, fontsize=SMALL_FONT, title_fontsize=SMALL_FONT, loc="best", framealpha=0.8)
    where = "" if center_layers else "; Lk = layer centre"
    ax.set_title(title if title is not None else
                 f"{n} items across layers {ids[0]}-{ids[-1]} (o = first layer, diamond = last{where})",
                 fontsize=10)
    return ax
