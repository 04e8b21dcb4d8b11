"""Attention maps (one layer and head, or all of them), rollout and head statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validation import InvalidParameterError, Options, check
from ..analysis.attention import HEAD_STATISTICS, attention_rollout, attention_units, token_units, word_attention
from ..encoding import IS_ENCODING, Encoding
from ..vectors.addressing import describe_token, resolve_token
from ..vectors.pooling import token_mask
from .axes import MAX_BARS_INCHES, as_array, new_ax, note, set_labels, thinned
from .similarity import plot_similarity_heatmap

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
            unit, special, _ = token_units(e)
            q, full, labels = int(unit[t]), word_attention(e)[row, head], list(attention_units(e))
        else:
            q, full, labels, special = t, e.attentions[row, head].float(), list(e.tokens), e.special_mask
        keep = np.ones(len(labels), dtype=bool) if specials == "include" else ~special.numpy()
        ax = _query_bars(ax, labels, full[q].numpy(), keep, q, **kwargs)
        ax.set_xlabel(f"attended {level} (key{thinned(ax, 'x')})")
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
    ax.set_xlabel(f"attended {level} (key{thinned(ax, 'x')})")
    ax.set_ylabel(f"attending {level} (query{thinned(ax, 'y')})")
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
        return int(token_units(e)[0][t]) if words else t
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


