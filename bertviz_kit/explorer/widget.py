"""Interactive explorer over one precomputed :class:`~bertviz_kit.encoding.Encoding`.

The controls only slice the stored tensors and redraw; the model never runs
inside a callback. (With an ``encoder`` given, a text box re-encodes a new
sentence when you press Enter; that is the only model call.)

The figure is made of panels (:mod:`bertviz_kit.explorer.panels`): the value histogram,
the word cosine heatmap and the per-layer curves by default; word attention
and the lens on request (``panels=("histogram", "heatmap", "curves",
"attention", "lens")``), and any :class:`~bertviz_kit.Panel` you
write. Adding a panel is one class: see :class:`bertviz_kit.Panel`.

ipywidgets is optional: ``pip install "bertviz-kit[widgets]"``.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.transforms import Bbox

from .._validation import (
    FIGURE,
    FILE,
    TEXT,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    Unchecked,
    check,
    validate_params,
)
from ..encoder import Encoder
from ..encoding import IS_ENCODING, Encoding
from ..layers import LAYER_PRESETS, Layer, resolve_layer
from ..vectors.addressing import WordArg, describe_token, resolve_token
from ..vectors.pooling import SUBWORD_MODES
from . import panels as builtin_panels  # noqa: F401  (registers the built-in panels)
from .protocol import DEFAULT_PANELS, Panel, PanelControl, check_dependencies, merge_controls, resolve_panels

__all__ = ["Explorer", "explore", "LAYER_CHOICES", "SAVE_FORMATS"]

#: Matplotlib settings of the explorer's figure (only while it draws). Unhinted
#: glyphs render about a third faster than FreeType's default hinting, and text
#: is most of what a change redraws.
_ENCODER = Instance(Encoder, label="an Encoder (bk.load)")
_PANEL_OPTIONS = Unchecked("settings of the panels shown: each is checked against its PanelControl")
_RC = {"text.hinting": "no_hinting"}

#: Layer choices of the heatmap: the slider's layer, or a preset combination.
LAYER_CHOICES = ("slider",) + tuple(LAYER_PRESETS)

#: File formats of :meth:`Explorer.save`, taken from the file name's suffix.
SAVE_FORMATS = ("png", "svg", "pdf")

_MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}

#: The explorer's own settings; panels add theirs (:meth:`bertviz_kit.Panel.controls`).
_SETTINGS = ("token", "layer", "layers", "subwords")

#: Figure size: width, and height per row of panels (inches); panels per row at most.
_WIDTH, _ROW_HEIGHT, _PER_ROW = 15.0, 4.8, 3

#: Results shared between panels (x.memo) kept per encoding.
_MEMO_SIZE = 256


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run small tensor ops on one thread.

    The explorer's tensors are tiny; a parallel region costs more than it
    saves and, when another process keeps the cores busy, waits a whole
    scheduler slice (tens of milliseconds) for its worker threads.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError:
        raise ImportError(
            "the explorer needs ipywidgets: pip install \"bertviz-kit[widgets]\" "
            "(or pip install ipywidgets)"
        ) from None
    return ipywidgets


def _rows(n: int) -> list[int]:
    """Panels per row: at most three, the rows as even as possible (5 -> 3 + 2, 4 -> 2 + 2)."""
    n_rows = math.ceil(n / _PER_ROW)
    base, extra = divmod(n, n_rows)
    return [base + (r < extra) for r in range(n_rows)]


class Explorer:
    """Token / layer / pooling explorer: a figure of panels that follow one selection.

    Parameters
    ----------
    e : Encoding
        The encoding to explore (from ``Encoder.encode``; with
        ``attentions=True`` for the attention panel).
    encoder : Encoder, optional
        When given, a text box lets you encode a new sentence (the lens panel
        needs it too).
    panels : sequence of str or Panel, default ("histogram", "heatmap", "curves")
        What the figure shows, in this order, up to three panels a row:
        names from :data:`bertviz_kit.PANELS` (``"histogram"``,
        ``"heatmap"``, ``"curves"``, ``"attention"``, ``"lens"``) or
        :class:`~bertviz_kit.Panel` instances (``bk.LensPanel(k=8)``, or your
        own: see :class:`bertviz_kit.Panel`).
    token : int or str, optional
        Token selected at start: a token index, or a word string
        (case-insensitive, whole words; its first piece). Default: the first
        word's first token.
    word : int or str, optional
        Instead of ``token``: a word index (into ``e.words``) or a word string.
    occurrence : int, optional
        Which occurrence of a word string (0 = the first, default; -1 = the last).
    layer : int, default -1
        Layer of the histogram, the attention panel and the curves' dashed line
        (and of the heatmap when ``layers="slider"``).
    layers : str, default "sum_last4"
        How the heatmap's word vectors combine layers: ``"slider"`` (the
        slider's layer) or a preset from :data:`bertviz_kit.LAYER_PRESETS`.
    subwords : str, default "mean"
        How sub-word pieces pool into words.
    dpi : int, default 80
        Resolution of the figure the widget shows (raise it for a projector or a
        screenshot; each change then redraws more pixels).
    **options
        Settings the shown panels add, e.g. ``head=3`` (an int or ``"mean"``)
        and ``level="token"`` (``"word"`` or ``"token"``) for the attention panel.

    Notes
    -----
    Display it in a notebook as the last expression of a cell (or with
    ``display(explorer)``). :meth:`render` draws the same figure without
    widgets, :meth:`save` writes it to a file (PNG, SVG or PDF), :meth:`set`
    changes the selection from code and :meth:`data` returns what a panel
    shows. Words are numbered as in ``e.words`` everywhere (the word menu,
    titles, heatmap labels, curve names): ``word 9 'bank'``; a split word
    lists one entry per piece. After a change only the panels whose inputs
    changed are computed and drawn again.
    """

    @validate_params({"e": IS_ENCODING, "encoder": NoneOr(_ENCODER, "no model: the lens panel is not available"),
                      "panels": Instance(list, tuple, str, label="a list of panel names or Panel objects"),
                      "token": NoneOr(WordArg("e", token=True)), "word": NoneOr(WordArg("e")),
                      "occurrence": NoneOr(Interval(int)), "layer": Layer("e"), "layers": TEXT,
                      "subwords": Options(SUBWORD_MODES), "dpi": Interval(int, 20, 600), "options": _PANEL_OPTIONS})
    def __init__(
        self,
        e: Encoding,
        encoder: Encoder | None = None,
        *,
        panels: Sequence[str | Panel] = DEFAULT_PANELS,
        token: int | str | None = None,
        word: int | str | None = None,
        occurrence: int | None = None,
        layer: int = -1,
        layers: str = "sum_last4",
        subwords: str = "mean",
        dpi: int = 80,
        **options: Any,
    ) -> None:
        check("e", e, IS_ENCODING)
        if encoder is not None and not isinstance(encoder, Encoder):
            raise InvalidParameterError(f"encoder must be an Encoder (bk.load) or None; got {type(encoder).__name__}.")
        if encoder is not None and (e.dim, e.n_layers) != (encoder.dim, encoder.n_layers):
            raise InvalidParameterError(
                f"encoder must be the model that encoded e: e has {e.n_layers} layers of width {e.dim} "
                f"(e.model_name={e.model_name!r}), encoder has {encoder.n_layers} of width {encoder.dim} "
                f"({encoder.name!r}); a new sentence typed in would come from another model.")
        self.dpi = check("dpi", dpi, Interval(int, 20, 600))
        self.encoder = encoder
        self.e = e
        self._check_content(e)
        self.panels: tuple[Panel, ...] = resolve_panels(panels)
        self._controls: dict[str, PanelControl] = merge_controls(self.panels, e, _SETTINGS)
        check_dependencies(self.panels, _SETTINGS + tuple(self._controls))
        for p in self.panels:
            p.check(self)
        self.state: dict[str, Any] = {k: c.default for k, c in self._controls.items()}
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()
        self._data: dict[str, tuple[Hashable, Any]] = {}
        self._cache_for: Encoding | None = e
        if token is None and word is None and occurrence is None:
            token = self._default_token(e)
        self.set(token=token, word=word, occurrence=occurrence, layer=layer,
                 layers=layers, subwords=subwords, redraw=False, **options)
        self._ui: Any = None
        self._fig: Figure | None = None
        self._fig_for: Encoding | None = None

    # -- state --------------------------------------------------------------
    @staticmethod
    def _check_content(e: Encoding) -> None:
        if e.n_words == 0:
            raise InvalidParameterError(f"e has no words to explore (text {e.text!r}); encode a non-empty text.")

    @staticmethod
    def _default_token(e: Encoding) -> int:
        return next(i for i, w in enumerate(e.word_ids) if w is not None)

    @validate_params({"token": NoneOr(WordArg("self.e", token=True)), "word": NoneOr(WordArg("self.e")),
                      "occurrence": NoneOr(Interval(int)), "layer": NoneOr(Layer("self.e"), "keep"),
                      "layers": NoneOr(TEXT, "keep"),
                      "subwords": NoneOr(Options(SUBWORD_MODES), "keep"), "redraw": Boolean(),
                      "options": _PANEL_OPTIONS})
    def set(self, *, token: int | str | None = None, word: int | str | None = None,
            occurrence: int | None = None, layer: int | None = None, layers: str | None = None,
            subwords: str | None = None, redraw: bool = True, **options: Any) -> None:
        """Change the selection (and the controls, when shown); ``None`` keeps a value.

        ``token``, ``word`` and ``occurrence`` pick the token as in
        :func:`bertviz_kit.plot_histogram`: ``set(word="bank", occurrence=2)``.
        ``options`` are the shown panels' settings (``head=3`` for the
        attention panel).
        """
        self._check_options(options)
        if token is not None or word is not None or occurrence is not None:
            self._set_token(token, word, occurrence)
        if layer is not None:
            self._set_layer(layer)
        if layers is not None:
            check("layers", layers, Options(LAYER_CHOICES))
            self.state["layers"] = layers
        if subwords is not None:
            check("subwords", subwords, Options(SUBWORD_MODES))
            self.state["subwords"] = subwords
        for key, value in options.items():
            if value is not None:
                self.state[key] = self._controls[key].check(key, value)
        if self._ui_ready():
            self._sync_controls()
        if redraw and self._ui_ready():
            self._redraw()

    def _check_options(self, options: dict[str, Any]) -> None:
        """Each of ``options`` is a shown panel's setting, with one of its values (or None)."""
        for key, value in options.items():
            if key not in self._controls:
                raise InvalidParameterError(
                    f"{key} is not a setting of this explorer; its panels' settings are "
                    f"{tuple(self._controls)} (and token, word, occurrence, layer, layers, subwords).")
            if value is not None:
                self._controls[key].check(key, value)

    def _set_token(self, token: int | str | None, word: int | str | None, occurrence: int | None) -> None:
        e = self.e
        t = resolve_token(e, token, word, occurrence)
        if e.word_ids[t] is None:
            raise InvalidParameterError(
                f"token {t} ({e.tokens[t]}) is a special token; pick a word (or a word's token).")
        self.state["token"] = t

    def _set_layer(self, layer: int) -> None:
        self.state["layer"] = resolve_layer(layer, self.e.n_layers)

    # -- panel data ---------------------------------------------------------
    def _fresh_caches(self) -> None:
        """Forget results of another encoding (the text box replaced ``e``)."""
        if self._cache_for is not self.e:
            self._memo.clear()
            self._data.clear()
            self._cache_for = self.e

    @validate_params({"key": Unchecked("any hashable key a panel chooses"),
                      "fn": Instance(Callable, label="a function")})
    def memo(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        """``fn()``, computed once per encoding for ``key``: results panels share.

        For panels (:meth:`bertviz_kit.Panel.compute`): the heatmap and the
        curves share the word cosines this way. The most recent results are
        kept; all are dropped when the text box encodes a new sentence.
        """
        self._fresh_caches()
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        value = fn()
        self._memo[key] = value
        if len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)
        return value

    def _panel(self, name: str) -> Panel:
        for p in self.panels:
            if p.name == name:
                return p
        raise InvalidParameterError(f"name must be one of {tuple(p.name for p in self.panels)}; got {name!r}.")

    def _compute(self, p: Panel) -> tuple[Hashable, Any]:
        """``(key, data)`` of panel ``p`` for the current selection; computed only when its key changed."""
        self._fresh_caches()
        key = p.key(self)
        cached = self._data.get(p.name)
        if cached is not None and cached[0] == key:
            return cached
        self._data[p.name] = (key, p.compute(self))  # callers run it on one thread (_one_thread)
        return self._data[p.name]

    @validate_params({"name": TEXT})
    def data(self, name: str) -> Any:
        """What panel ``name`` shows for the current selection (its :meth:`~bertviz_kit.Panel.compute`).

        For example ``x.data("lens")["result"]`` is the :class:`~bertviz_kit.LensResult`
        on the selected token, ``x.data("attention")["matrix"]`` the attention map.
        """
        with _one_thread():
            return self._compute(self._panel(name))[1]

    # -- drawing ------------------------------------------------------------
    def _figsize(self) -> tuple[float, float]:
        return _WIDTH, _ROW_HEIGHT * len(_rows(len(self.panels)))

    def _layout(self, fig: Figure) -> list[tuple[Panel, Axes, Figure | SubFigure]]:
        """One empty Axes per panel, up to three a row; ``(panel, ax, its row's figure)``."""
        rows = _rows(len(self.panels))
        parents = [fig] if len(rows) == 1 else list(fig.subfigures(len(rows), 1))
        if fig.get_layout_engine() is not None:
            # room between panels, so that one panel's colour-bar label and the next one's axis
            # label do not read as one (more for rows of fewer, wider panels)
            fig.get_layout_engine().set(wspace=0.08 if len(rows) > 1 else 0.04)
        out, i = [], 0
        for parent, n in zip(parents, rows):
            row = self.panels[i:i + n]
            axes = parent.subplots(1, n, width_ratios=[p.width for p in row], squeeze=False)[0]
            out.extend((p, ax, parent) for p, ax in zip(row, axes))
            i += n
        return out

    def _draw_panels(self, fig: Figure) -> list[tuple[Panel, list[Axes], Figure | SubFigure]]:
        """Draw every panel on ``fig`` (cleared); ``(panel, [its Axes, then any it added], row figure)``."""
        fig.clear()
        slots = self._layout(fig)
        with _one_thread():
            data = [self._compute(p)[1] for p, _, _ in slots]
        drawn = []
        for (p, ax, parent), d in zip(slots, data):
            before = set(parent.axes)
            p.draw(ax, d)
            drawn.append((p, [ax] + [a for a in parent.axes if a not in before], parent))
        return drawn

    @validate_params({"fig": FIGURE})
    def render(self, fig: Figure | None = None) -> Figure:
        """Draw the panels for the current selection and return the figure.

        A new pyplot figure unless ``fig`` is given (it is cleared first).
        """
        if fig is None:
            fig = plt.figure(figsize=self._figsize(), layout="constrained")
        self._draw_panels(fig)
        return fig

    @staticmethod
    def _format(name: str, given: object) -> str:
        """The file format of file name ``name`` (its suffix), checked."""
        fmt = Path(name).suffix.lower().lstrip(".")
        if fmt not in SAVE_FORMATS:
            allowed = tuple(f".{f}" for f in SAVE_FORMATS)
            raise InvalidParameterError(
                f"path must end in one of {allowed} (the format is taken from the suffix); got {given!r}.")
        return fmt

    def _file_bytes(self, fmt: str, dpi: int) -> bytes:
        """The current view as a ``fmt`` file, drawn afresh (the widget's figure is left alone)."""
        fig = Figure(figsize=self._figsize(), layout="constrained")  # outside pyplot: nothing to close
        self.render(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi)
        return buf.getvalue()

    @validate_params({"path": FILE, "dpi": NoneOr(Interval(int, 20, 1200), "the explorer's dpi")})
    def save(self, path: str | os.PathLike[str], *, dpi: int | None = 150) -> Path:
        """Write the current view to ``path``; the format is the file name's suffix.

        Parameters
        ----------
        path : str or path-like
            Ends in ``.png``, ``.svg`` or ``.pdf`` (:data:`SAVE_FORMATS`; any
            case). SVG and PDF keep text and lines as vectors (the heatmaps'
            images are raster, at ``dpi``).
        dpi : int, default 150
            Resolution of the PNG (and of the images inside SVG or PDF);
            ``None``: the explorer's ``dpi``.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidParameterError(f"path must be a file name or path; got {type(path).__name__}.")
        target = Path(path)
        fmt = self._format(target.name, str(path))
        if not target.parent.is_dir():
            raise InvalidParameterError(
                f"path {str(path)!r} is in a folder that does not exist ({str(target.parent)!r}); create it first.")
        dpi = check("dpi", dpi, NoneOr(Interval(int, 20, 1200), "the explorer's dpi"))
        target.write_bytes(self._file_bytes(fmt, self.dpi if dpi is None else dpi))
        return target

    @validate_params({"path": FILE, "max_words": NoneOr(Interval(int, 1), "no limit")})
    def to_html(self, path: str | os.PathLike[str], *, max_words: int | None = 150) -> Path:
        """Write the views as one self-contained HTML page whose controls work without a kernel.

        The page starts at the current selection and shows the histogram, the
        heatmap, the curves and, when this explorer shows it, the attention map
        (see :func:`bertviz_kit.html_view`; the lens stays in the widget).
        ``path`` ends in ``.html`` or ``.htm``. Returns the path written. A
        text of more than ``max_words`` words is refused before any work (the
        page grows with the square of the number of words; ``None``: no limit).
        """
        from .static_page import explorer_page, html_path

        target = html_path(path)
        attention = any(p.name == "attention" for p in self.panels)
        return explorer_page(self, attention=attention, max_words=max_words).save(target)

    # -- fast path ----------------------------------------------------------
    # A figure drawn once is then updated panel by panel. Each panel owns a
    # region of the canvas (its share of its row) and a list of stages
    # (Panel.stages); a stage is redrawn only when its key changes (or an
    # earlier stage of its panel did), starting from a stored copy of the
    # region as it was before that stage. What no stage lists (labels, colour
    # bars, frames) is drawn once.
    def _regions(self, fig: Figure) -> dict[str, Bbox]:
        """Each panel's region of the canvas (display coordinates): its row, split between neighbours."""
        renderer = fig.canvas.get_renderer()
        regions = {}
        rows: dict[int, list[tuple[Panel, list[Axes], Any]]] = {}
        for slot in self._slots:
            rows.setdefault(id(slot[2]), []).append(slot)
        for row in rows.values():
            box = row[0][2].bbox
            tight = [Bbox.union([a.get_tightbbox(renderer) for a in axes]) for _, axes, _ in row]
            cuts = [box.x0] + [(a.x1 + b.x0) / 2 for a, b in zip(tight, tight[1:])] + [box.x1]
            for i, (p, _, _) in enumerate(row):
                regions[p.name] = Bbox([[cuts[i], box.y0], [cuts[i + 1], box.y1]])
        return regions

    def _draw_fresh(self, dpi: int) -> Figure:
        """Draw the whole figure, fix its layout and store the panels' backgrounds."""
        # a figure outside pyplot's registry: nothing to close, freed with the explorer
        fig = Figure(figsize=self._figsize(), dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        self._slots = self._draw_panels(fig)
        fig.canvas.draw()
        fig.set_layout_engine("none")  # keep the layout computed once
        for _, axes, _ in self._slots:
            ax = axes[0]
            ax.set_title(ax.get_title(), y=ax.title.get_position()[1])  # and the titles where it put them
            ax.xaxis.set_label_coords(*ax.xaxis.label.get_position(), transform=ax.xaxis.label.get_transform())
            ax.yaxis.set_label_coords(*ax.yaxis.label.get_position(), transform=ax.yaxis.label.get_transform())
        for p, axes, _ in self._slots:
            for stage in p.stages:
                for artist in p.artists(axes[0], stage):
                    artist.set_animated(True)
        fig.canvas.draw()
        self._region = self._regions(fig)
        self._snap: dict[tuple[str, int], Any] = {}
        self._drawn: dict[tuple[str, int], Hashable] = {}
        for p in self.panels:
            self._snap[(p.name, 0)] = fig.canvas.copy_from_bbox(self._region[p.name])
        self._fig, self._fig_for = fig, self.e
        return fig

    def _draw_changes(self, fig: Figure) -> None:
        """Redraw, panel by panel, the stages whose inputs changed since the last draw."""
        with _one_thread():
            computed = [self._compute(p) for p, _, _ in self._slots]
        for (p, axes, _), (key, data) in zip(self._slots, computed):
            keys = p.stage_keys(data, key)
            name, n, ax = p.name, len(p.stages), axes[0]
            first = next((i for i in range(n) if self._drawn.get((name, i)) != keys[i]), None)
            if first is None:
                continue
            fig.canvas.restore_region(self._snap[(name, first)])
            for i in range(first, n):
                if self._drawn.get((name, i)) != keys[i]:
                    p.update(ax, data, p.stages[i])
                if i > first:
                    self._snap[(name, i)] = fig.canvas.copy_from_bbox(self._region[name])
                for artist in p.artists(ax, p.stages[i]):
                    artist.set_animated(True)
                    fig.draw_artist(artist)
                self._drawn[(name, i)] = keys[i]

    @validate_params({"dpi": NoneOr(Interval(int, 1), "the explorer's dpi")})
    def to_png(self, dpi: int | None = None) -> bytes:
        """The current selection's figure as PNG bytes (what the widget shows).

        The first call draws the figure and fixes its layout; later calls for
        the same encoding redraw only what the change touched (see the stages
        above), which is several times faster than drawing anew. ``dpi``
        defaults to the explorer's ``dpi``.
        """
        dpi = self.dpi if dpi is None else dpi
        fig = self._fig
        with plt.rc_context(_RC):
            if fig is None or self._fig_for is not self.e or fig.dpi != dpi:
                fig = self._draw_fresh(dpi)
            self._draw_changes(fig)
        from PIL import Image

        buf = io.BytesIO()
        rgba = Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba())
        rgba.convert("RGB").save(buf, format="png", compress_level=1)  # opaque figure: no alpha to send
        return buf.getvalue()

    # -- widgets ------------------------------------------------------------
    def _ui_ready(self) -> bool:
        return getattr(self, "_ui", None) is not None

    def _token_options(self) -> list[tuple[str, int]]:
        """One entry per word token, numbered by word: ``9: bank``; a split word's pieces as
        ``3: unbelievably (un)``, ``3: unbelievably (##bel)``, ..."""
        e = self.e
        options = []
        for i, w in enumerate(e.word_ids):
            if w is None:
                continue
            piece = f" ({e.tokens[i]})" if e.word_ids.count(w) > 1 else ""
            options.append((f"{w}: {e.words[w]}{piece}", i))
        return options

    def _uses(self, key: str) -> bool:
        return any(key in p.depends for p in self.panels)

    def _build(self) -> Any:
        w = _ipywidgets()
        e, s = self.e, self.state
        self.token_w = w.Dropdown(options=self._token_options(), value=s["token"], description="word")
        self.layer_w = w.IntSlider(value=s["layer"], min=0, max=e.n_layers, description="layer",
                                   continuous_update=False)
        self.layers_w = w.Dropdown(options=list(LAYER_CHOICES), value=s["layers"], description="layers")
        self.subwords_w = w.Dropdown(options=list(SUBWORD_MODES), value=s["subwords"], description="subwords")
        self.option_w = {key: w.Dropdown(options=list(c.choices), value=s[key], description=c.description)
                         for key, c in self._controls.items()}
        # The figure goes to an Image widget as PNG bytes (sent as a binary buffer). Not an
        # Output widget: a notebook executed by nbclient (Voila, nbconvert --execute) answers
        # output captured in an Output widget with comm messages on the shell socket, which can
        # leave the run waiting for the cell's reply until its timeout.
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
        self.status = w.HTML()
        # Saving from the widget is a download in the browser (a link to the file's bytes), not a
        # file written where the kernel runs: a Voila visitor has no access to the server's folders.
        self.file_w = w.Text(value="explorer.png", description="file", continuous_update=False,
                             layout=w.Layout(width="300px"))
        self.save_w = w.Button(description="save", tooltip="make a download link for the figure "
                                                           "(.png, .svg or .pdf, from the file name)")
        self.save_w.on_click(lambda _: self._on_save())
        self.download_w = w.HTML()
        controls = [(self.token_w, "token"), (self.layer_w, "layer"), (self.layers_w, "layers"),
                    (self.subwords_w, "subwords"), *((ctl, key) for key, ctl in self.option_w.items())]
        shown = [ctl for ctl, key in controls if self._uses(key) or key in self._controls]
        rows = [w.HBox(shown[i:i + 2]) for i in range(0, len(shown), 2)]
        if self.encoder is not None:
            self.text_w = w.Text(value=e.text, description="text", continuous_update=False,
                                 layout=w.Layout(width="90%"),
                                 placeholder="type a sentence and press Enter")
            self.text_w.observe(self._on_text, names="value")
            rows.insert(0, self.text_w)
        for ctl, key in controls:
            ctl.observe(lambda change, key=key: self._on_control(key, change["new"]), names="value")
        rows.append(w.HBox([self.file_w, self.save_w, self.download_w]))
        self._ui = w.VBox(rows + [self.status, self.image])
        self._redraw()
        return self._ui

    def _sync_controls(self) -> None:
        s = self.state
        self._syncing = True
        try:
            self.token_w.options = self._token_options()
            self.token_w.value = s["token"]
            self.layer_w.max = self.e.n_layers
            self.layer_w.value = s["layer"]
            self.layers_w.value = s["layers"]
            self.subwords_w.value = s["subwords"]
            for key, ctl in self.option_w.items():
                ctl.options = list(self._controls[key].choices)
                ctl.value = s[key]
        finally:
            self._syncing = False

    def _on_control(self, key: str, value: Any) -> None:
        if getattr(self, "_syncing", False) or value is None or self.state.get(key) == value:
            return
        self.state[key] = value
        self._redraw()

    def _on_text(self, change: dict[str, Any]) -> None:
        text = change["new"]
        if not text.strip():
            self.status.value = "<b>type a non-empty sentence</b>"
            return
        if self.encoder is None:  # the text box exists only with an encoder
            return
        e = self.encoder.encode(text, attentions=self.e.attentions is not None)
        if e.n_words == 0:
            self.status.value = "<b>that text has no words</b>"
            return
        self.e = e
        self._controls = merge_controls(self.panels, e, _SETTINGS)
        for key, c in self._controls.items():
            if self.state[key] not in c.values:
                self.state[key] = c.default
        self.state["token"] = self._default_token(e)
        self.status.value = ""
        self._sync_controls()
        self._redraw()

    def _on_save(self) -> None:
        """The save button: a download link for the current view, in the format of the file name box."""
        name = self.file_w.value.strip()
        try:
            if not name or Path(name).name != name:
                raise InvalidParameterError(f"type a file name without folders, such as explorer.svg; got {name!r}.")
            fmt = self._format(name, name)
        except InvalidParameterError as exc:  # shown next to the controls: a callback has nowhere else to say it
            self.download_w.value = ""
            self.status.value = f"<b>{html.escape(str(exc))}</b>"
            return
        data = self._file_bytes(fmt, 150)
        self.status.value = ""
        href = f"data:{_MIME[fmt]};base64,{base64.b64encode(data).decode()}"
        size = max(1, round(len(data) / 1024))
        self.download_w.value = (f'<a download="{html.escape(name)}" href="{href}" style="text-decoration: underline">'
                                 f"download {html.escape(name)} ({size} kB)</a>")

    def _redraw(self) -> None:
        self.image.value = self.to_png()
        if getattr(self, "download_w", None) is not None and self.download_w.value:
            self.download_w.value = ""  # the link showed the previous view

    @property
    def widget(self) -> Any:
        """The ipywidgets box (built on first use)."""
        if self._ui is None:
            self._build()
        return self._ui

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        s = self.state
        options = "".join(f", {k}={s[k]!r}" for k in self._controls)
        names = tuple(p.name for p in self.panels)
        shown = "" if names == DEFAULT_PANELS else f", panels={names}"
        return (f"Explorer(token={s['token']} ({describe_token(self.e, s['token'])}), layer={s['layer']}, "
                f"layers={s['layers']!r}, subwords={s['subwords']!r}{options}{shown}, n_tokens={self.e.n_tokens})")


@validate_params({"e": IS_ENCODING, "encoder": NoneOr(_ENCODER, "no model: the lens panel is not available"),
                  "options": Unchecked("the options of Explorer, which checks them")})
def explore(e: Encoding, encoder: Encoder | None = None, **options: Any) -> Explorer:
    """Build an :class:`Explorer` over ``e``; show it as a cell's last expression.

    ``options`` are :class:`Explorer`'s: ``panels=("histogram", "heatmap",
    "curves", "attention", "lens")``, ``token="bank"``, ``layer=3``, ...
    """
    return Explorer(e, encoder, **options)
