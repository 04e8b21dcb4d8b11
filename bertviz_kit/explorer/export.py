"""``bk.html_view`` and ``bk.to_html``: the explorer's views as a page that needs no kernel.

See :mod:`bertviz_kit.explorer.static_page` for what the page holds.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._validation import (
    FILE,
    TEXT,
    Boolean,
    Interval,
    InvalidParameterError,
    NoneOr,
    Unchecked,
    check,
    validate_params,
)
from ..encoding import IS_ENCODING, Encoding
from ..layers import Layer
from ..vectors.addressing import WordArg
from .static_page import MAX_WORDS, HtmlView, check_page_size, explorer_page, html_path
from .widget import Explorer

__all__ = ["html_view", "to_html"]


@validate_params({"e": IS_ENCODING, "attention": NoneOr(Boolean(), "when e holds attention weights"),
                  "token": NoneOr(WordArg("e", token=True)), "word": NoneOr(WordArg("e")),
                  "occurrence": NoneOr(Interval(int)), "layer": Layer("e"), "layers": TEXT, "subwords": TEXT,
                  "head": (Interval(int), TEXT), "level": TEXT,
                  "max_words": NoneOr(Interval(int, 1), "no limit")})
def html_view(
    e: Encoding,
    *,
    attention: bool | None = None,
    token: int | str | None = None,
    word: int | str | None = None,
    occurrence: int | None = None,
    layer: int = -1,
    layers: str = "sum_last4",
    subwords: str = "mean",
    head: int | str = "mean",
    level: str = "word",
    max_words: int | None = MAX_WORDS,
) -> HtmlView:
    """The explorer's views of ``e`` as one self-contained HTML page (controls work without a kernel).

    The page shows the value histogram, the word cosine heatmap, the per-layer
    curves and (with attention weights) the attention map, with the
    explorer's controls: word, layer, layers, subwords, head and level. Every
    value is computed here for every control value, so the page only selects;
    the Vega library is inlined and nothing is fetched (it works offline, from
    disk, and in a saved notebook). Display the result in a notebook, or
    :meth:`~bertviz_kit.HtmlView.save` it.

    Parameters
    ----------
    e : Encoding
        The encoding to show.
    attention : bool, optional
        Add the attention chart. Default: when ``e`` holds attention weights
        (``enc.encode(text, attentions=True)``).
    token, word, occurrence, layer, layers, subwords
        The selection at start, as in :class:`bertviz_kit.Explorer`.
    head : int or "mean", default "mean"
        Attention head at start.
    level : {"word", "token"}, default "word"
        Attention between words or between tokens, at start.
    max_words : int or None, default 150
        Refuse a longer text before any work: the page holds every word pair
        for every layer (and head), so it grows with the square of the number
        of words (160 words: about 13 MB with the bundled model). ``None``
        builds it whatever its size.

    Returns
    -------
    HtmlView
        ``.html`` (the page), ``.save(path)``, ``.n_bytes``; shown inline in a notebook.

    Notes
    -----
    Sizes: cosines and attention weights are stored as integers in thousandths
    (3 decimals), the histogram as 60 bin counts per token and layer (its range
    to 5 significant digits). The page is about 0.87 MB for the tutorial
    sentence with the bundled model (with attention), of which 0.59 MB is the
    Vega library; about 1.3 MB for a 27-token sentence with a bert-base shaped
    model (13 layers x 768, 12 heads): ``benchmarks/html_size.py``.
    """
    check("e", e, IS_ENCODING)
    check_page_size(len(e.words), max_words)
    check("attention", attention, NoneOr(Boolean(), "when e holds attention weights"))
    if attention is None:
        attention = e.attentions is not None
    if attention and e.attentions is None:
        raise InvalidParameterError(
            "attention=True needs attention weights: encode with enc.encode(text, attentions=True); "
            "got an encoding without them.")
    panels = ("histogram", "heatmap", "curves", "attention") if attention else ("histogram", "heatmap", "curves")
    extra = {"head": head, "level": level} if attention else {}
    x = Explorer(e, panels=panels, token=token, word=word, occurrence=occurrence, layer=layer, layers=layers,
                 subwords=subwords, **extra)
    return explorer_page(x, attention=attention, max_words=max_words)


@validate_params({"e": IS_ENCODING, "path": FILE, "options": Unchecked("the options of html_view, which checks them")})
def to_html(e: Encoding, path: str | os.PathLike[str], **options: object) -> Path:
    """Write the explorer's views of ``e`` to ``path`` as one self-contained HTML file; returns the path.

    ``options`` are :func:`html_view`'s (``attention``, ``token``, ``layer``,
    ``layers``, ``subwords``, ``head``, ``level``, ``max_words``, ...). The file needs no
    kernel and no network: open it in any browser.
    """
    html_path(path)  # a bad path fails before the work
    return html_view(e, **options).save(path)  # type: ignore[arg-type]
