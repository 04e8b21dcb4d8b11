"""Project vectors to 2-D (or k-D) for plots: PCA, t-SNE (scikit-learn) or UMAP.

:func:`project` maps ``[n, dim]`` vectors (occurrences of a word, sentence
vectors) to ``[n, k]``. :func:`project_layers` fits **one** basis on the
vectors of every layer together, so the same word can be followed from layer
to layer in one picture. Both are seeded: the same call gives the same points.
UMAP (``pip install umap-learn``) is imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._validation import (
    AXES,
    COLORMAP,
    TEXT,
    TITLE,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    SequenceOf,
    Unchecked,
    validate_params,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PROJECTION_METHODS", "project", "project_layers", "plot_projection", "plot_trajectory"]

PROJECTION_METHODS = ("pca", "tsne", "umap")
_PROJECT_RULES = {
    "vectors": Instance(torch.Tensor, np.ndarray, list, tuple, label="a tensor or array of numbers"),
    "method": Options(PROJECTION_METHODS),
    "seed": Interval(int, 0),
    "perplexity": NoneOr(Interval(float, 0, closed="neither"), "chosen from the number of points"),
    "options": Unchecked("passed on to the projection method (scikit-learn or umap), which checks them"),
}
_LABELS = NoneOr(Instance(list, tuple, np.ndarray, torch.Tensor, label="a sequence of labels"), "no colours")


def _as_array(x: object, name: str, ndim: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        arr = x.detach().float().cpu().numpy()
    else:
        try:
            arr = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"{name} must be a tensor or array of numbers; got {type(x).__name__}.") from None
    if arr.ndim != ndim:
        shape = "[n, dim]" if ndim == 2 else "[n_layers, n, dim]"
        raise InvalidParameterError(f"{name} must be {ndim}-D {shape}; got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise InvalidParameterError(f"{name} holds NaN or infinite values.")
    return arr.astype(np.float32, copy=False)


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidParameterError(f"{name} must be an int >= {low}; got {value!r}.")
    return value


def _fit(
    x: np.ndarray,
    method: str,
    n_components: int,
    seed: int,
    perplexity: float | None,
    options: dict[str, Any],
) -> tuple[np.ndarray, Any]:
    """Fit ``method`` on ``x`` ``[n, dim]``; return ``([n, k] points, fitted estimator)``."""
    n, dim = x.shape
    if method == "pca":
        from sklearn.decomposition import PCA

        if n_components > min(n, dim):
            raise InvalidParameterError(
                f"n_components must be at most min(n, dim) = {min(n, dim)} for PCA; got {n_components}."
            )
        if perplexity is not None:
            raise InvalidParameterError("perplexity is a t-SNE option; got it with method='pca'.")
        model = PCA(n_components=n_components, random_state=seed, **options)
        return model.fit_transform(x), model
    if method == "tsne":
        from sklearn.manifold import TSNE

        if n < 3:
            raise InvalidParameterError(f"t-SNE needs at least 3 vectors; got {n}.")
        if perplexity is None:
            perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
        if not isinstance(perplexity, (int, float)) or isinstance(perplexity, bool) or not 0 < perplexity < n:
            raise InvalidParameterError(f"perplexity must be a number in (0, {n}) (below the number of vectors); "
                             f"got {perplexity!r}.")
        options = {"init": "pca", "learning_rate": "auto", **options}
        model = TSNE(n_components=n_components, perplexity=perplexity, random_state=seed, **options)
        return model.fit_transform(x), model
    try:
        import umap  # noqa: PLC0415
    except ImportError:
        raise ImportError(
            "method='umap' needs the umap-learn package: pip install umap-learn "
            "(or use method='pca' or 'tsne')."
        ) from None
    if perplexity is not None:
        raise InvalidParameterError("perplexity is a t-SNE option; got it with method='umap'.")
    options = {"n_neighbors": min(15, max(2, n - 1)), **options}
    model = umap.UMAP(n_components=n_components, random_state=seed, **options)
    return model.fit_transform(x), model


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8, None)


def _check_common(method: object, n_components: object, seed: object, normalize: object) -> None:
    if not isinstance(method, str) or method not in PROJECTION_METHODS:
        raise InvalidParameterError(f"method must be one of {PROJECTION_METHODS}; got {method!r}.")
    _check_int("n_components", n_components, 1)
    _check_int("seed", seed, 0)
    if not isinstance(normalize, bool):
        raise InvalidParameterError(f"normalize must be True or False; got {normalize!r}.")


@validate_params({**_PROJECT_RULES, "n_components": Interval(int, 1), "normalize": Boolean()})
def project(
    vectors: torch.Tensor | np.ndarray,
    method: str = "pca",
    n_components: int = 2,
    *,
    seed: int = 0,
    normalize: bool = False,
    perplexity: float | None = None,
    **options: Any,
) -> np.ndarray:
    """Map vectors to ``n_components`` dimensions: ``[n, dim]`` -> ``[n, n_components]``.

    Parameters
    ----------
    vectors : tensor or array, shape ``[n, dim]``
        For example :func:`bertviz_kit.occurrence_vectors` or
        :func:`bertviz_kit.sentence_vectors`.
    method : {"pca", "tsne", "umap"}, default "pca"
        PCA is linear and fast (distances along its axes are real); t-SNE and
        UMAP keep neighbourhoods but distort distances. UMAP needs
        ``pip install umap-learn``.
    n_components : int, default 2
    seed : int, default 0
        ``random_state`` of the estimator: the same call gives the same points.
    normalize : bool, default False
        Scale every vector to unit length first (the geometry of cosine
        similarity).
    perplexity : float, optional
        t-SNE only; default ``min(30, (n - 1) / 3)`` so small sets work.
    **options
        Passed to the scikit-learn / UMAP estimator.

    Returns
    -------
    numpy.ndarray, shape ``[n, n_components]``
    """
    return project_with_model(vectors, method, n_components, seed, normalize, perplexity, options)[0]


def project_with_model(
    vectors: object, method: str, n_components: int, seed: int, normalize: bool,
    perplexity: float | None, options: dict[str, Any],
) -> tuple[np.ndarray, Any]:
    """:func:`project`, also returning the fitted estimator (for axis labels)."""
    _check_common(method, n_components, seed, normalize)
    x = _as_array(vectors, "vectors", 2)
    if x.shape[0] < 2:
        raise InvalidParameterError(f"vectors must hold at least 2 rows to project; got {x.shape[0]}.")
    if normalize:
        x = _normalize(x)
    return _fit(x, method, n_components, seed, perplexity, options)


@validate_params({**_PROJECT_RULES, "n_components": Interval(int, 1), "normalize": Boolean(),
                  "center_layers": Boolean()})
def project_layers(
    vectors: torch.Tensor | np.ndarray,
    method: str = "pca",
    n_components: int = 2,
    *,
    seed: int = 0,
    normalize: bool = True,
    center_layers: bool = False,
    perplexity: float | None = None,
    **options: Any,
) -> np.ndarray:
    """Project the same items at every layer with one shared basis: ``[L, n, dim]`` -> ``[L, n, k]``.

    All ``L * n`` vectors are fitted together, so positions are comparable
    across layers and an item can be followed as a path through the network
    (see :func:`bertviz_kit.plot_trajectory`).

    Parameters
    ----------
    vectors : tensor or array, shape ``[n_layers, n, dim]``
        For example :func:`bertviz_kit.layer_occurrence_vectors` (one word's
        occurrences at every layer) or :func:`bertviz_kit.layer_sentence_vectors`.
    method : {"pca", "tsne", "umap"}, default "pca"
    n_components : int, default 2
    seed : int, default 0
    normalize : bool, default True
        Scale vectors to unit length first. Hidden-state norms grow a lot from
        layer to layer; without this the first axis mostly shows the norm.
    center_layers : bool, default False
        Subtract each layer's mean (over the ``n`` items) first: the picture
        then shows how items spread apart, not how the layer as a whole moves.
    perplexity : float, optional
        t-SNE only.
    **options
        Passed to the estimator.

    Returns
    -------
    numpy.ndarray, shape ``[n_layers, n, n_components]``
    """
    points, _ = project_layers_with_model(
        vectors, method, n_components, seed, normalize, center_layers, perplexity, options
    )
    return points


def project_layers_with_model(
    vectors: object, method: str, n_components: int, seed: int, normalize: bool,
    center_layers: bool, perplexity: float | None, options: dict[str, Any],
) -> tuple[np.ndarray, Any]:
    _check_common(method, n_components, seed, normalize)
    if not isinstance(center_layers, bool):
        raise InvalidParameterError(f"center_layers must be True or False; got {center_layers!r}.")
    x = _as_array(vectors, "vectors", 3)
    n_layers, n, dim = x.shape
    if n_layers * n < 2:
        raise InvalidParameterError(f"vectors must hold at least 2 vectors in all; got shape {x.shape}.")
    if normalize:
        x = _normalize(x)
    if center_layers:
        x = x - x.mean(axis=1, keepdims=True)
    points, model = _fit(x.reshape(n_layers * n, dim), method, n_components, seed, perplexity, options)
    return points.reshape(n_layers, n, n_components), model


# ---------------------------------------------------------------------------
# Plots of projections: projected here, drawn by bertviz_kit.plot.projection
# ---------------------------------------------------------------------------


@validate_params({**_PROJECT_RULES, "labels": _LABELS, "normalize": Boolean(), "texts": NoneOr(SequenceOf(TEXT)),
                  "cmap": COLORMAP, "legend_title": TITLE, "title": TITLE,
                  "marker_size": Interval(float, 0, closed="neither"), "ax": AXES})
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
    from ..plot.projection import draw_projection, draw_values, one_column

    x = one_column(vectors)
    if x is not None:  # one number per item: nothing to project
        return draw_values(x, labels, texts=texts, cmap=cmap, legend_title=legend_title, title=title,
                           marker_size=marker_size, ax=ax)
    points, model = project_with_model(vectors, method, 2, seed, normalize, perplexity, options)
    return draw_projection(points, model, labels, method=method, texts=texts, cmap=cmap,
                           legend_title=legend_title, title=title, marker_size=marker_size, ax=ax)


@validate_params({**_PROJECT_RULES, "labels": _LABELS, "normalize": Boolean(), "center_layers": Boolean(),
                  "layer_ids": NoneOr(Instance(list, tuple, range, np.ndarray, torch.Tensor,
                                               label="a list of layer ids")),
                  "legend_title": TITLE, "title": TITLE, "ax": AXES})
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
    from ..plot.projection import draw_trajectory

    points, model = project_layers_with_model(vectors, method, 2, seed, normalize, center_layers, perplexity,
                                              options)
    return draw_trajectory(points, model, labels, method=method, center_layers=center_layers,
                           layer_ids=layer_ids, legend_title=legend_title, title=title, ax=ax)
