"""Interactive explorer over one precomputed :class:`~bertviz_kit.encoding.Encoding`.

The controls only slice the stored tensors and redraw; the model never runs
inside a callback. (With an ``encoder`` given, a text box re-encodes a new
sentence when you press Enter; that is the only model call.)

ipywidgets is optional: ``pip install "bertviz-kit[widgets]"``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .encoding import Encoder, Encoding
from .plotting import plot_histogram, plot_layer_similarity, plot_similarity_heatmap
from .pooling import LAYER_PRESETS, SUBWORD_MODES, _check_choice, _check_encoding, word_vectors
from .similarity import cosine, layer_similarity

__all__ = ["Explorer", "explore", "LAYER_CHOICES"]

_BINS = 60

#: Layer choices of the heatmap: the slider's layer, or a preset combination.
LAYER_CHOICES = ("slider",) + tuple(LAYER_PRESETS)


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


class Explorer:
    """Token / layer / pooling explorer: a histogram, a heatmap and per-layer curves.

    Parameters
    ----------
    e : Encoding
        The encoding to explore (from ``Encoder.encode``).
    encoder : Encoder, optional
        When given, a text box lets you encode a new sentence.
    token : int, optional
        Token selected at start (default: the first word's first token).
    layer : int, default -1
        Layer of the histogram (and of the heatmap when ``layers="slider"``).
    layers : str, default "sum_last4"
        How the heatmap's word vectors combine layers: ``"slider"`` (the
        slider's layer) or a preset from :data:`bertviz_kit.LAYER_PRESETS`.
    subwords : str, default "mean"
        How sub-word pieces pool into words.

    Notes
    -----
    Display it in a notebook as the last expression of a cell (or with
    ``display(explorer)``). :meth:`render` draws the same figure without
    widgets; :meth:`set` changes the selection from code.
    """

    def __init__(
        self,
        e: Encoding,
        encoder: Encoder | None = None,
        *,
        token: int | None = None,
        layer: int = -1,
        layers: str = "sum_last4",
        subwords: str = "mean",
    ) -> None:
        _check_encoding(e)
        if encoder is not None and not isinstance(encoder, Encoder):
            raise TypeError(f"encoder must be an Encoder (bk.load) or None; got {type(encoder).__name__}.")
        self.encoder = encoder
        self.e = e
        self._check_content(e)
        self.state: dict[str, Any] = {}
        self.set(token=self._default_token(e) if token is None else token, layer=layer,
                 layers=layers, subwords=subwords, redraw=False)
        self._ui: Any = None
        self._fig: Figure | None = None
        self._fig_for: Encoding | None = None

    # -- state --------------------------------------------------------------
    @staticmethod
    def _check_content(e: Encoding) -> None:
        if e.n_words == 0:
            raise ValueError(f"e has no words to explore (text {e.text!r}); encode a non-empty text.")

    @staticmethod
    def _default_token(e: Encoding) -> int:
        return next(i for i, w in enumerate(e.word_ids) if w is not None)

    def set(self, *, token: int | None = None, layer: int | None = None, layers: str | None = None,
            subwords: str | None = None, redraw: bool = True) -> None:
        """Change the selection (and the controls, when shown); ``None`` keeps a value."""
        e = self.e
        if token is not None:
            if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < e.n_tokens:
                raise ValueError(f"token must be an int in [0, {e.n_tokens - 1}]; got {token!r}.")
            if e.word_ids[token] is None:
                raise ValueError(f"token {token} ({e.tokens[token]}) is a special token; pick a word's token.")
            self.state["token"] = token
        if layer is not None:
            lo, hi = -(e.n_layers + 1), e.n_layers
            if isinstance(layer, bool) or not isinstance(layer, int) or not lo <= layer <= hi:
                raise ValueError(f"layer must be an int in [{lo}, {hi}]; got {layer!r}.")
            self.state["layer"] = layer % (e.n_layers + 1)
        if layers is not None:
            _check_choice("layers", layers, LAYER_CHOICES)
            self.state["layers"] = layers
        if subwords is not None:
            _check_choice("subwords", subwords, SUBWORD_MODES)
            self.state["subwords"] = subwords
        if self._ui_ready():
            self._sync_controls()
        if redraw and self._ui_ready():
            self._redraw()

    # -- drawing ------------------------------------------------------------
    def _partners(self, word: int, sim_row: Any, k: int = 3) -> list[int]:
        """Other occurrences of the same word first, then the most similar words."""
        e = self.e
        key = e.words[word].casefold()
        same = [i for i, w in enumerate(e.words) if i != word and w.casefold() == key]
        order = sim_row.argsort(descending=True).tolist()
        near = [i for i in order if i != word and i not in same and e.words[i].isalnum()]
        return (same + near)[: max(k, len(same))]

    def _panels(self) -> dict[str, Any]:
        """The numbers the three panels show for the current selection."""
        with _one_thread():
            return self._compute_panels()

    def _compute_panels(self) -> dict[str, Any]:
        e, s = self.e, self.state
        token, layer = s["token"], s["layer"]
        word = e.word_ids[token]
        spec = layer if s["layers"] == "slider" else s["layers"]
        sim = cosine(word_vectors(e, layers=spec, subwords=s["subwords"]))
        curves = {
            f"{word}:{e.words[word]} ~ {j}:{e.words[j]}": layer_similarity(e, word, j, s["subwords"])
            for j in self._partners(word, sim[word])
        }
        return {
            "token": token, "layer": layer, "word": word, "spec": spec, "sim": sim, "curves": curves,
            "hist_title": f"token {token} {e.tokens[token]!r}, layer {layer}",
            "heat_title": f"word cosine, layers={spec!r}, subwords={s['subwords']!r}",
            "curve_title": f"word {word} {e.words[word]!r} across layers",
        }

    def render(self, fig: Figure | None = None) -> Figure:
        """Draw the three panels for the current selection and return the figure."""
        e, p = self.e, self._panels()
        if fig is None:
            fig = plt.figure(figsize=(15, 4.8), layout="constrained")
        else:
            fig.clear()
        ax_hist, ax_heat, ax_curve = fig.subplots(1, 3, width_ratios=[1, 1.25, 1.1])
        plot_histogram(e, token=p["token"], layer=p["layer"], bins=_BINS, ax=ax_hist, title=p["hist_title"])
        labels = [f"{i}:{w}" for i, w in enumerate(e.words)]
        # a fixed colour scale keeps colours comparable while you move through layers
        plot_similarity_heatmap(p["sim"], labels, annotate=False, ax=ax_heat, title=p["heat_title"],
                                vmin=0.0, vmax=1.0)
        word = p["word"]
        ax_heat.add_patch(plt.Rectangle((word - 0.5, word - 0.5), 1, 1, fill=False, lw=2, color="red"))
        ax_heat.tick_params(labelsize=8 if e.n_words <= 25 else 6 if e.n_words <= 45 else 4)
        self._draw_curves(ax_curve, p)
        return fig

    def _draw_curves(self, ax: Any, p: dict[str, Any]) -> None:
        if p["curves"]:
            plot_layer_similarity(p["curves"], ax=ax, layer_ids=list(self.e.layer_ids), title=p["curve_title"],
                                  legend_loc="lower right")
            ax.axvline(p["layer"], color="grey", ls="--", lw=1)
        else:
            ax.set_axis_off()
            ax.set_title("no other word to compare")

    def _refresh(self, fig: Figure) -> None:
        """Update a figure drawn by :meth:`render` for this encoding in place (fast path)."""
        e, p = self.e, self._panels()
        ax_hist, ax_heat, ax_curve = fig.axes[:3]
        row = e.layer_ids.index(p["layer"])
        values = e.hidden_states[row, p["token"]].numpy()
        counts, edges = np.histogram(values, bins=_BINS)
        for rect, c, a, b in zip(ax_hist.patches, counts, edges[:-1], edges[1:]):
            rect.set_x(a)
            rect.set_width(b - a)
            rect.set_height(c)
        pad = (edges[-1] - edges[0]) * 0.05
        ax_hist.set_xlim(edges[0] - pad, edges[-1] + pad)
        ax_hist.set_ylim(0, counts.max() * 1.05)
        ax_hist.set_title(p["hist_title"])
        ax_heat.images[0].set_data(p["sim"].numpy())
        ax_heat.patches[0].set_xy((p["word"] - 0.5, p["word"] - 0.5))
        ax_heat.set_title(p["heat_title"])
        ax_curve.clear()
        ax_curve.set_axis_on()
        self._draw_curves(ax_curve, p)

    # -- widgets ------------------------------------------------------------
    def _ui_ready(self) -> bool:
        return getattr(self, "_ui", None) is not None

    def _token_options(self) -> list[tuple[str, int]]:
        e = self.e
        return [(f"{i}: {t}", i) for i, t in enumerate(e.tokens) if e.word_ids[i] is not None]

    def _build(self) -> Any:
        w = _ipywidgets()
        e, s = self.e, self.state
        self.token_w = w.Dropdown(options=self._token_options(), value=s["token"], description="token")
        self.layer_w = w.IntSlider(value=s["layer"], min=0, max=e.n_layers, description="layer",
                                   continuous_update=False)
        self.layers_w = w.Dropdown(options=list(LAYER_CHOICES), value=s["layers"], description="layers")
        self.subwords_w = w.Dropdown(options=list(SUBWORD_MODES), value=s["subwords"], description="subwords")
        self.out = w.Output()
        self.status = w.HTML()
        rows = [w.HBox([self.token_w, self.layer_w]), w.HBox([self.layers_w, self.subwords_w])]
        if self.encoder is not None:
            self.text_w = w.Text(value=e.text, description="text", continuous_update=False,
                                 layout=w.Layout(width="90%"),
                                 placeholder="type a sentence and press Enter")
            self.text_w.observe(self._on_text, names="value")
            rows.insert(0, self.text_w)
        for ctl, key in ((self.token_w, "token"), (self.layer_w, "layer"),
                         (self.layers_w, "layers"), (self.subwords_w, "subwords")):
            ctl.observe(lambda change, key=key: self._on_control(key, change["new"]), names="value")
        self._ui = w.VBox(rows + [self.status, self.out])
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
        e = self.encoder.encode(text)
        if e.n_words == 0:
            self.status.value = "<b>that text has no words</b>"
            return
        self.e = e
        self.state["token"] = self._default_token(e)
        self.status.value = ""
        self._sync_controls()
        self._redraw()

    def to_png(self, dpi: int = 80) -> bytes:
        """The current selection's figure as PNG bytes (what the widget shows).

        The first call draws the figure and fixes its layout; later calls for
        the same encoding update the drawn artists in place, which is several
        times faster than drawing anew.
        """
        fig = self._fig
        if fig is None or self._fig_for is not self.e or fig.dpi != dpi:
            # a figure outside pyplot's registry: nothing to close, freed with the explorer
            fig = Figure(figsize=(15, 4.8), dpi=dpi, layout="constrained")
            FigureCanvasAgg(fig)
            fig = self.render(fig)
            fig.canvas.draw()
            fig.set_layout_engine("none")  # keep the layout computed once
            # Everything that a change can touch is drawn on top of a stored
            # background: the heatmap's labels and colour bar are drawn once.
            ax_hist, ax_heat, ax_curve = fig.axes[:3]
            self._dynamic = [ax_hist, ax_curve, ax_heat.images[0], ax_heat.patches[0], ax_heat.title]
            for artist in self._dynamic:
                artist.set_animated(True)
            fig.canvas.draw()
            self._background = fig.canvas.copy_from_bbox(fig.bbox)
            self._fig, self._fig_for = fig, self.e
        else:
            self._refresh(fig)
        fig.canvas.restore_region(self._background)
        for artist in self._dynamic:
            fig.draw_artist(artist)
        from PIL import Image

        buf = io.BytesIO()
        Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba()).save(
            buf, format="png", compress_level=1)
        return buf.getvalue()

    def _redraw(self) -> None:
        from IPython.display import Image, display

        png = self.to_png()
        with self.out:
            self.out.clear_output(wait=True)
            display(Image(png))

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
        return (f"Explorer(token={s['token']} {self.e.tokens[s['token']]!r}, layer={s['layer']}, "
                f"layers={s['layers']!r}, subwords={s['subwords']!r}, n_tokens={self.e.n_tokens})")


def explore(e: Encoding, encoder: Encoder | None = None, **options: Any) -> Explorer:
    """Build an :class:`Explorer` over ``e``; show it as a cell's last expression."""
    return Explorer(e, encoder, **options)
