"""Nearest contexts as a keyword-in-context table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes

from .._validation import (
    AXES,
    COLOR,
    MPL_KWARGS,
    TITLE,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    check,
    validate_params,
)
from .axes import new_ax

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


@validate_params({"matches": Instance(list, tuple,
                                      label="a ContextMatches (bk.nearest_contexts) or a list of ContextMatch"),
                  "ax": AXES, "width": Interval(int, 1), "fontsize": Interval(float, 0, closed="neither"),
                  "color": COLOR, "show_query": Boolean(), "title": TITLE, "kwargs": MPL_KWARGS})
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
    _check_matches(matches, width, fontsize, show_query, title)
    rows = sorted(matches, key=lambda m: -m.cosine)
    query_text = getattr(matches, "query_text", "") or ""
    query_span = getattr(matches, "query_span", None)
    has_query = show_query and bool(query_text) and query_span is not None
    pieces = [_match_piece(m, width) for m in rows]
    query_piece = _kwic(query_text, *query_span, width) if has_query else None

    # Glyphs are hinted to whole pixels: at low dpi a line of text runs up to ~10% longer or
    # shorter than its nominal width, so each side of the match gets 10% more room.
    side = 1.1 * width + 1
    longest_match = max(len(p[1]) for p in pieces + ([query_piece] if query_piece else []))
    n_cols = _CTX0 + side + longest_match + side
    char_in = _MONO_EM * fontsize / 72.0
    n = len(rows)
    if ax is None:
        ax = new_ax(None, (n_cols * char_in + 2 * _PAD_IN + 0.9, 0.26 * fontsize / 9.0 * (n + 2) + 1.1))
    else:
        ax = new_ax(ax, (1.0, 1.0))
    table = _Concordance(ax, side, fontsize, color, kwargs)
    if query_piece is not None:
        table.row(-1.0, query_piece, "query", None)
        ax.axhline(-0.5, color="0.6", linewidth=0.8)
    for i, (m, piece) in enumerate(zip(rows, pieces)):
        table.row(float(i), piece, None, m.cosine)
    _finish_axes(ax, n, query_piece is not None)
    ax.set_title(_title(matches) if title is None else title)
    return ax


def _check_matches(matches: Any, width: object, fontsize: object, show_query: object, title: object) -> None:
    from .._validation import Instance
    from ..search.exact import ContextMatch

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


def _match_piece(m: Any, width: int) -> tuple[str, str, str]:
    """(left context, match, right context) of one match."""
    text, (a, z) = (m.text, m.span) if m.text else (m.snippet, (0, 0))
    if not m.text:  # a ContextMatch made by hand: cut its snippet at the [[ ]] marks
        a = m.snippet.find("[[")
        z = m.snippet.find("]]", a)
        text = m.snippet[:a] + m.snippet[a + 2:z] + m.snippet[z + 2:] if 0 <= a < z else m.snippet
        a, z = (a, z - 2) if 0 <= a < z else (0, 0)
    return _kwic(text, a, z, width)


# Columns of a concordance row: a bar of _BAR_CELLS, a space, the cosine in _NUM_CELLS, two
# spaces, then the context (_CTX0 is its first column); _PAD_IN inches before the first column.
_BAR_CELLS, _NUM_CELLS = 10, 6
_CTX0 = _BAR_CELLS + 1 + _NUM_CELLS + 2
_PAD_IN = 0.08


class _Concordance:
    """Draws the rows of a concordance on ``ax`` at fixed character columns from its left edge."""

    def __init__(self, ax: Axes, side: float, fontsize: float, color: str, kwargs: dict[str, Any]) -> None:
        from matplotlib import transforms

        self.ax, self.side, self.fontsize, self.kwargs = ax, side, fontsize, kwargs
        self.transforms = transforms
        self.base = transforms.blended_transform_factory(ax.transAxes, ax.transData)
        self.char_in = _MONO_EM * fontsize / 72.0
        self.style = {"fontfamily": _MONO, "fontsize": fontsize, "va": "center", "ha": "left", "clip_on": True,
                      "parse_math": False}
        self.hl = {**self.style, "fontweight": "bold", "color": color,
                   "bbox": {"boxstyle": "square,pad=0.12", "facecolor": color, "alpha": 0.12, "linewidth": 0}}

    def at(self, col: float, inches: float = 0.0) -> Any:
        offset = self.transforms.ScaledTranslation(_PAD_IN + col * self.char_in + inches, 0.0,
                                                   self.ax.figure.dpi_scale_trans)
        return self.base + offset

    def row(self, y: float, piece: tuple[str, str, str], head: str | None, value: float | None) -> None:
        ax, style, kwargs, fontsize = self.ax, self.style, self.kwargs, self.fontsize
        left, match, right = piece
        if value is not None:
            ax.text(0, y, _bar_text(value, _BAR_CELLS), transform=self.at(0), **{**style, "color": "C0"})
            ax.text(0, y, f"{value:{_NUM_CELLS}.3f}"[-_NUM_CELLS:], transform=self.at(_BAR_CELLS + 1), **style)
        elif head:
            ax.text(0, y, head, transform=self.at(0), **{**style, "fontstyle": "italic"})
        # The match starts at a fixed column; the left context ends there (right-aligned) and the
        # right context starts where the drawn match ends, so the row holds together whatever
        # width the renderer gives each glyph (hinting at low dpi).
        col = _CTX0 + self.side
        gap_left = fontsize * _MONO_EM / 72.0 if left[-1:].isspace() else 0.0
        gap_right = fontsize * _MONO_EM if right[:1].isspace() else 0.0
        if left.strip():
            ax.text(0, y, left.rstrip(), transform=self.at(col, -gap_left), **{**style, "ha": "right", **kwargs})
        word = ax.text(0, y, match, transform=self.at(col), **self.hl)
        if right.strip():
            ax.annotate(right.lstrip(), xy=(1.0, 0.5), xycoords=word, xytext=(gap_right, 0.0),
                        textcoords="offset points", annotation_clip=False, **{**style, **kwargs})


def _finish_axes(ax: Axes, n: int, has_query: bool) -> None:
    """Limits, rank ticks and labels of a concordance of ``n`` rows (and the query's row)."""
    top = -1.6 if has_query else -0.6
    ax.set_ylim(n - 0.4, top)
    ax.set_xlim(0, 1)
    ticks = ([-1.0] if has_query else []) + list(range(n))
    ax.set_yticks(ticks, (["q"] if has_query else []) + [str(i + 1) for i in range(n)])
    ax.tick_params(axis="y", length=0)
    ax.set_ylabel("rank (best first)")
    ax.set_xticks([])
    ax.set_xlabel("cosine with the query  |  context, the match highlighted")
    for spine in ("top", "right", "bottom"):
        ax.spines[spine].set_visible(False)


def _title(matches: Any) -> str:
    query = getattr(matches, "query", "") or ""
    layer = getattr(matches, "layer", None)
    if query and layer is not None:
        sub = getattr(matches, "subwords", None)
        return f"nearest contexts of {query!r} at layer {layer}" + (f" (subwords: {sub})" if sub else "")
    return "nearest contexts"
