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

from .addressing import describe_token, describe_word, resolve_token
from .encoding import IS_ENCODING, Encoder, Encoding
from .plotting import plot_histogram, plot_layer_similarity, plot_similarity_heatmap
from .pooling import LAYER_PRESETS, SUBWORD_MODES, word_vectors
from .similarity import _layer_cosine, cosine, layer_word_vectors
from .validation import Interval, InvalidParameterError, Options, check

__all__ = ["Explorer", "explore", "LAYER_CHOICES"]

_BINS = 60

#: Matplotlib settings of the explorer's figure (only while it draws). Unhinted
#: glyphs render about a third faster than FreeType's default hinting, and text
#: is most of what a change redraws.
_RC = {"text.hinting": "no_hinting"}

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
    token : int or str, optional
        Token selected at start: a token index, or a word string
        (case-insensitive, whole words; its first piece). Default: the first
        word's first token.
    word : int or str, optional
        Instead of ``token``: a word index (into ``e.words``) or a word string.
    occurrence : int, optional
        Which occurrence of a word string (0 = the first, default; -1 = the last).
    layer : int, default -1
        Layer of the histogram (and of the heatmap when ``layers="slider"``).
    layers : str, default "sum_last4"
        How the heatmap's word vectors combine layers: ``"slider"`` (the
        slider's layer) or a preset from :data:`bertviz_kit.LAYER_PRESETS`.
    subwords : str, default "mean"
        How sub-word pieces pool into words.
    dpi : int, default 80
        Resolution of the figure the widget shows (raise it for a projector or a
        screenshot; each change then redraws more pixels).

    Notes
    -----
    Display it in a notebook as the last expression of a cell (or with
    ``display(explorer)``). :meth:`render` draws the same figure without
    widgets; :meth:`set` changes the selection from code. Words are numbered
    as in ``e.words`` everywhere (the word menu, titles, heatmap labels,
    curve names): ``word 9 'bank'``; a split word lists one entry per piece.
    The heatmap's colour scale is fixed at 0 to 1 (cosines below 0 are drawn
    in the darkest colour, the pointed end of the colour bar).
    """

    def __init__(
        self,
        e: Encoding,
        encoder: Encoder | None = None,
        *,
        token: int | str | None = None,
        word: int | str | None = None,
        occurrence: int | None = None,
        layer: int = -1,
        layers: str = "sum_last4",
        subwords: str = "mean",
        dpi: int = 80,
    ) -> None:
        check("e", e, IS_ENCODING)
        if encoder is not None and not isinstance(encoder, Encoder):
            raise InvalidParameterError(f"encoder must be an Encoder (bk.load) or None; got {type(encoder).__name__}.")
        self.dpi = check("dpi", dpi, Interval(int, 20, 600))
        self.encoder = encoder
        self.e = e
        self._check_content(e)
        self.state: dict[str, Any] = {}
        if token is None and word is None and occurrence is None:
            token = self._default_token(e)
        self.set(token=token, word=word, occurrence=occurrence, layer=layer,
                 layers=layers, subwords=subwords, redraw=False)
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

    def set(self, *, token: int | str | None = None, word: int | str | None = None,
            occurrence: int | None = None, layer: int | None = None, layers: str | None = None,
            subwords: str | None = None, redraw: bool = True) -> None:
        """Change the selection (and the controls, when shown); ``None`` keeps a value.

        ``token``, ``word`` and ``occurrence`` pick the token as in
        :func:`bertviz_kit.plot_histogram`: ``set(word="bank", occurrence=2)``.
        """
        e = self.e
        if token is not None or word is not None or occurrence is not None:
            t = resolve_token(e, token, word, occurrence)
            if e.word_ids[t] is None:
                raise InvalidParameterError(
                    f"token {t} ({e.tokens[t]}) is a special token; pick a word (or a word's token).")
            self.state["token"] = t
        if layer is not None:
            lo, hi = -(e.n_layers + 1), e.n_layers
            if isinstance(layer, bool) or not isinstance(layer, int) or not lo <= layer <= hi:
                raise InvalidParameterError(f"layer must be an int in [{lo}, {hi}]; got {layer!r}.")
            self.state["layer"] = layer % (e.n_layers + 1)
        if layers is not None:
            check("layers", layers, Options(LAYER_CHOICES))
            self.state["layers"] = layers
        if subwords is not None:
            check("subwords", subwords, Options(SUBWORD_MODES))
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
        per_layer = layer_word_vectors(e, s["subwords"])  # [L, W, D], once for every partner
        curves = {
            f"{word}:{e.words[word]} ~ {j}:{e.words[j]}": _layer_cosine(per_layer, word, j)
            for j in self._partners(word, sim[word])
        }
        return {
            "token": token, "layer": layer, "word": word, "spec": spec, "sim": sim, "curves": curves,
            "hist_title": f"{describe_token(e, token)}, layer {layer}",
            "heat_title": f"word cosine, layers={spec!r}, subwords={s['subwords']!r}",
            "curve_title": f"{describe_word(e, word)} across layers",
        }

    def _curve_ylim(self) -> tuple[float, float]:
        """One y range for the curves of every word pair and sub-word mode of this encoding.

        A fixed scale keeps curves comparable while you move through tokens
        (and lets the fast path draw the panel's frame once).
        """
        if getattr(self, "_ylim_for", None) is not self.e:
            lo = 0.0
            with _one_thread():
                for mode in SUBWORD_MODES:
                    v = torch.nn.functional.normalize(layer_word_vectors(self.e, mode), dim=-1)
                    lo = min(lo, float((v @ v.transpose(1, 2)).min()))
            self._ylim, self._ylim_for = (lo - 0.05, 1.05), self.e
        return self._ylim

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
        # A fixed colour scale keeps colours comparable while you move through layers. The
        # colour bar is drawn once, so its pointed lower end is always there: a cosine below 0
        # is possible with any selection and is drawn in the darkest colour.
        plot_similarity_heatmap(p["sim"], labels, annotate=False, ax=ax_heat, title=p["heat_title"],
                                vmin=0.0, vmax=1.0, extend="min")
        word = p["word"]
        ax_heat.add_patch(plt.Rectangle((word - 0.5, word - 0.5), 1, 1, fill=False, lw=2, color="red"))
        ax_heat.tick_params(labelsize=8 if e.n_words <= 25 else 6 if e.n_words <= 45 else 4)
        layer_ids = list(e.layer_ids)
        if p["curves"]:
            plot_layer_similarity(p["curves"], ax=ax_curve, layer_ids=layer_ids, title=p["curve_title"],
                                  legend_loc="lower right")
        else:  # the same frame, empty
            ax_curve.set(xlabel="layer (0 = embeddings)", ylabel="cosine similarity",
                         title="no other word to compare")
            ax_curve.xaxis.get_major_locator().set_params(integer=True)
            ax_curve.grid(alpha=0.3)
        ax_curve.set_xlim(layer_ids[0] - 0.3, layer_ids[-1] + 0.3)
        ax_curve.set_ylim(*self._curve_ylim())
        ax_curve.axvline(p["layer"], color="grey", ls="--", lw=1, gid="layer", zorder=2.6)
        return fig

    # -- fast path ----------------------------------------------------------
    # A figure drawn once by render() is then updated in stages. Each panel
    # owns a vertical stripe of the canvas and a short list of stages; a stage
    # is redrawn only when its key changes (or an earlier stage of its panel
    # did), starting from a stored copy of the stripe as it was before that
    # stage. Labels, colour bar and frames are drawn once.
    _STAGES = {"hist": 1, "heat": 2, "curve": 2}
    _STAGE_IDS = tuple((panel, i) for panel, n in _STAGES.items() for i in range(n))

    def _stage_keys(self, p: dict[str, Any]) -> dict[tuple[str, int], tuple[Any, ...]]:
        sub = self.state["subwords"]
        return {
            ("hist", 0): (p["token"], p["layer"]),  # bars, axes, title
            ("heat", 0): (p["spec"], sub),  # image, title
            ("heat", 1): (p["word"],),  # outline of the chosen word
            ("curve", 0): (p["word"], sub),  # curves, title
            ("curve", 1): (p["layer"],),  # the slider's layer as a dashed line (the legend goes over it)
        }

    @staticmethod
    def _stage_artists(fig: Figure, stage: tuple[str, int]) -> list[Any]:
        ax_hist, ax_heat, ax_curve = fig.axes[:3]
        if stage == ("hist", 0):
            return [ax_hist]
        if stage == ("heat", 0):
            return [ax_heat.images[0], *ax_heat.spines.values(), ax_heat.title]  # frame over the image
        if stage == ("heat", 1):
            return [ax_heat.patches[0]]
        legend = [ax_curve.get_legend()] if ax_curve.get_legend() is not None else []
        if stage == ("curve", 0):
            return [ln for ln in ax_curve.lines if ln.get_gid() != "layer"] + [ax_curve.title]
        # the legend goes over the dashed line, as in a full draw
        return [ln for ln in ax_curve.lines if ln.get_gid() == "layer"] + legend

    def _update_stage(self, fig: Figure, stage: tuple[str, int], p: dict[str, Any]) -> None:
        """Set one stage's artists to the selection ``p`` (nothing is drawn here)."""
        e = self.e
        ax_hist, ax_heat, ax_curve = fig.axes[:3]
        if stage == ("hist", 0):
            row = e.layer_ids.index(p["layer"])
            counts, edges = np.histogram(e.hidden_states[row, p["token"]].numpy(), bins=_BINS)
            ax_hist.patches[0].set_data(counts, edges)
            pad = (edges[-1] - edges[0]) * 0.05
            ax_hist.set_xlim(edges[0] - pad, edges[-1] + pad)
            ax_hist.set_ylim(0, counts.max() * 1.05)
            ax_hist.title.set_text(p["hist_title"])
        elif stage == ("heat", 0):
            ax_heat.images[0].set_data(p["sim"].numpy())
            ax_heat.title.set_text(p["heat_title"])
        elif stage == ("heat", 1):
            ax_heat.patches[0].set_xy((p["word"] - 0.5, p["word"] - 0.5))
        elif stage == ("curve", 0):
            for line in self._stage_artists(fig, stage)[:-1]:
                line.remove()  # the old curves
            if ax_curve.get_legend() is not None:
                ax_curve.get_legend().remove()
            layer_ids = list(e.layer_ids)
            for i, (label, y) in enumerate(p["curves"].items()):
                ax_curve.plot(layer_ids, y.numpy(), marker="o", label=label, color=f"C{i}")
            if p["curves"]:
                ax_curve.legend(fontsize=8, loc="lower right")
            ax_curve.title.set_text(p["curve_title"] if p["curves"] else "no other word to compare")
        else:
            ax_curve.lines[[ln.get_gid() for ln in ax_curve.lines].index("layer")].set_xdata([p["layer"]] * 2)

    def _stripes(self, fig: Figure) -> dict[str, Any]:
        """Each panel's vertical stripe of the canvas (display coordinates)."""
        from matplotlib.transforms import Bbox

        renderer = fig.canvas.get_renderer()
        ax_hist, ax_heat, ax_curve = fig.axes[:3]
        heat = Bbox.union([ax.get_tightbbox(renderer) for ax in fig.axes[1:2] + fig.axes[3:]])
        left = (ax_hist.get_tightbbox(renderer).x1 + heat.x0) / 2
        right = (heat.x1 + ax_curve.get_tightbbox(renderer).x0) / 2
        h = fig.bbox.height
        return {"hist": Bbox([[0, 0], [left, h]]), "heat": Bbox([[left, 0], [right, h]]),
                "curve": Bbox([[right, 0], [fig.bbox.width, h]])}

    def _draw_fresh(self, dpi: int) -> Figure:
        """Draw the whole figure, fix its layout and store the stripes' backgrounds."""
        # a figure outside pyplot's registry: nothing to close, freed with the explorer
        fig = Figure(figsize=(15, 4.8), dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        fig = self.render(fig)
        fig.canvas.draw()
        fig.set_layout_engine("none")  # keep the layout computed once
        for ax in fig.axes[:3]:
            ax.set_title(ax.get_title(), y=ax.title.get_position()[1])  # and the titles where it put them
            ax.xaxis.set_label_coords(*ax.xaxis.label.get_position(), transform=ax.xaxis.label.get_transform())
            ax.yaxis.set_label_coords(*ax.yaxis.label.get_position(), transform=ax.yaxis.label.get_transform())
        for stage in self._STAGE_IDS:
            for artist in self._stage_artists(fig, stage):
                artist.set_animated(True)
        fig.canvas.draw()
        self._stripe = self._stripes(fig)
        self._snap: dict[tuple[str, int], Any] = {}
        self._drawn: dict[tuple[str, int], tuple[Any, ...]] = {}
        for panel in self._STAGES:
            self._snap[(panel, 0)] = fig.canvas.copy_from_bbox(self._stripe[panel])
        self._fig, self._fig_for = fig, self.e
        return fig

    def _draw_changes(self, fig: Figure) -> None:
        """Redraw, panel by panel, the stages whose inputs changed since the last draw."""
        p = self._panels()
        keys = self._stage_keys(p)
        for panel, n in self._STAGES.items():
            first = next((i for i in range(n) if self._drawn.get((panel, i)) != keys[(panel, i)]), None)
            if first is None:
                continue
            fig.canvas.restore_region(self._snap[(panel, first)])
            for i in range(first, n):
                stage = (panel, i)
                if self._drawn.get(stage) != keys[stage]:
                    self._update_stage(fig, stage, p)
                if i > first:
                    self._snap[stage] = fig.canvas.copy_from_bbox(self._stripe[panel])
                for artist in self._stage_artists(fig, stage):
                    artist.set_animated(True)
                    fig.draw_artist(artist)
                self._drawn[stage] = keys[stage]

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

    def _build(self) -> Any:
        w = _ipywidgets()
        e, s = self.e, self.state
        self.token_w = w.Dropdown(options=self._token_options(), value=s["token"], description="word")
        self.layer_w = w.IntSlider(value=s["layer"], min=0, max=e.n_layers, description="layer",
                                   continuous_update=False)
        self.layers_w = w.Dropdown(options=list(LAYER_CHOICES), value=s["layers"], description="layers")
        self.subwords_w = w.Dropdown(options=list(SUBWORD_MODES), value=s["subwords"], description="subwords")
        # The figure goes to an Image widget as PNG bytes (sent as a binary buffer). Not an
        # Output widget: a notebook executed by nbclient (Voila, nbconvert --execute) answers
        # output captured in an Output widget with comm messages on the shell socket, which can
        # leave the run waiting for the cell's reply until its timeout.
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
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

    def to_png(self, dpi: int | None = None) -> bytes:
        """The current selection's figure as PNG bytes (what the widget shows).

        The first call draws the figure and fixes its layout; later calls for
        the same encoding redraw only what the change touched (see the stages
        below), which is several times faster than drawing anew. ``dpi``
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

    def _redraw(self) -> None:
        self.image.value = self.to_png()

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
        return (f"Explorer(token={s['token']} ({describe_token(self.e, s['token'])}), layer={s['layer']}, "
                f"layers={s['layers']!r}, subwords={s['subwords']!r}, n_tokens={self.e.n_tokens})")


def explore(e: Encoding, encoder: Encoder | None = None, **options: Any) -> Explorer:
    """Build an :class:`Explorer` over ``e``; show it as a cell's last expression."""
    return Explorer(e, encoder, **options)
