"""The explorer's built-in panels, one class each, registered by name.

The protocol they follow (:class:`~bertviz_kit.Panel`, :func:`~bertviz_kit.register_panel`)
is in :mod:`bertviz_kit.explorer.protocol`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.patches import Rectangle

from .._validation import Interval, InvalidParameterError, Options, check, validate_params
from ..analysis.attention import word_attention
from ..analysis.lens import LENS_KINDS, LensResult, lens
from ..plot.axes import SMALL_FONT, note, set_labels, thinned
from ..plot.lens import plot_lens
from ..plot.similarity import plot_histogram, plot_layer_similarity, plot_similarity_heatmap
from ..vectors.addressing import attention_units, describe_token, describe_word, token_units
from ..vectors.pooling import SUBWORD_MODES, word_vectors
from ..vectors.similarity import cosine, layer_cosine, layer_word_vectors
from .protocol import ExplorerView, Panel, PanelControl, register_panel

if TYPE_CHECKING:
    from ..encoding import Encoding

__all__ = [
    "HistogramPanel",
    "HeatmapPanel",
    "CurvesPanel",
    "AttentionPanel",
    "LensPanel",
]


# ---------------------------------------------------------------------------
# Shared results (x.memo): computed once per encoding, whichever panel asks first
# ---------------------------------------------------------------------------


def _spec(x: ExplorerView) -> int | str:
    """The heatmap's layer spec: the slider's layer, or a preset."""
    s = x.state
    return s["layer"] if s["layers"] == "slider" else s["layers"]


def word_ticks(ax: Axes, labels: list[str], size: float = SMALL_FONT) -> None:
    """Word labels on both axes of a words x words panel at ``size`` points: every label where
    they fit, else every k-th (the type never shrinks below ``size`` to squeeze them all in)."""
    with plt.rc_context({"xtick.labelsize": size, "ytick.labelsize": size}):
        set_labels(ax, "x", labels, rotation=45, ha="right", rotation_mode="anchor")
        set_labels(ax, "y", labels)
    ax.tick_params(labelsize=size)


def _word_cosine(x: ExplorerView, spec: int | str, subwords: str) -> torch.Tensor:
    """Cosine of every pair of words ``[W, W]`` (the heatmap, and the curves' partners)."""
    return x.memo(("word_cosine", spec, subwords),
                  lambda: cosine(word_vectors(x.e, layers=spec, subwords=subwords)))


def _layer_words(x: ExplorerView, subwords: str) -> torch.Tensor:
    """Word vectors at every stored layer ``[L, W, D]``."""
    return x.memo(("layer_word_vectors", subwords), lambda: layer_word_vectors(x.e, subwords))


# ---------------------------------------------------------------------------
# The built-in panels
# ---------------------------------------------------------------------------


@register_panel
class HistogramPanel(Panel):
    """Values of the selected token's vector at the slider's layer (the tutorial's histogram)."""

    name = "histogram"
    depends = ("token", "layer")
    width = 1.0
    stages = ("bars",)
    bins = 60

    def compute(self, x: ExplorerView) -> dict[str, Any]:
        e, t, layer = x.e, x.state["token"], x.state["layer"]
        values = e.hidden_states[e.layer_ids.index(layer), t].float().numpy()
        return {"values": values, "title": f"{describe_token(e, t)}, layer {layer}"}

    def draw(self, ax: Axes, data: dict[str, Any]) -> None:
        plot_histogram(data["values"], bins=self.bins, ax=ax, title=data["title"])

    def update(self, ax: Axes, data: dict[str, Any], stage: str) -> None:
        counts, edges = np.histogram(data["values"], bins=self.bins)
        ax.patches[0].set_data(counts, edges)
        pad = (edges[-1] - edges[0]) * 0.05
        ax.set_xlim(edges[0] - pad, edges[-1] + pad)
        ax.set_ylim(0, counts.max() * 1.05)
        ax.title.set_text(data["title"])


@register_panel
class HeatmapPanel(Panel):
    """Cosine of every pair of words (layers and sub-words pooled as chosen), the selected word outlined.

    The colour scale is fixed at 0 to 1 (cosines below 0 in the darkest colour, the
    pointed end of the colour bar), so colours stay comparable while you move.
    """

    name = "heatmap"
    depends = ("token", "layer", "layers", "subwords")
    width = 1.25
    stages = ("image", "outline")

    def key(self, x: ExplorerView) -> Hashable:
        return (_spec(x), x.state["subwords"], x.state["token"])  # the slider's layer only when it is used

    def compute(self, x: ExplorerView) -> dict[str, Any]:
        e, sub, spec = x.e, x.state["subwords"], _spec(x)
        return {
            "sim": _word_cosine(x, spec, sub), "word": e.word_ids[x.state["token"]], "spec": spec, "subwords": sub,
            "labels": [f"{i}:{w}" for i, w in enumerate(e.words)],
            "title": f"word cosine, layers={spec!r}, subwords={sub!r}",
        }

    def draw(self, ax: Axes, data: dict[str, Any]) -> None:
        plot_similarity_heatmap(data["sim"], data["labels"], annotate=False, ax=ax, title=data["title"],
                                vmin=0.0, vmax=1.0, extend="min")
        word = data["word"]
        # over the frame (the first and last word's outline touches it), as the staged redraw draws it
        ax.add_patch(Rectangle((word - 0.5, word - 0.5), 1, 1, fill=False, lw=2, color="red", zorder=2.6))
        ax.set_xlabel(""), ax.set_ylabel("")  # said again by the labels below where they are thinned
        word_ticks(ax, data["labels"])

    def stage_keys(self, data: dict[str, Any], key: Hashable) -> tuple[Hashable, ...]:
        return (data["spec"], data["subwords"]), data["word"]

    def artists(self, ax: Axes, stage: str) -> list[Artist]:
        if stage == "image":
            return [ax.images[0], *ax.spines.values(), ax.title]  # the frame goes over the image
        return [ax.patches[0]]

    def update(self, ax: Axes, data: dict[str, Any], stage: str) -> None:
        if stage == "image":
            ax.images[0].set_data(data["sim"].numpy())
            ax.title.set_text(data["title"])
        else:
            ax.patches[0].set_xy((data["word"] - 0.5, data["word"] - 0.5))


#: The curves panel's y label: not "cosine similarity", which the heatmap's colour bar beside it says.
CURVES_YLABEL = "cosine with the chosen word"


@register_panel
class CurvesPanel(Panel):
    """Cosine of the selected word to its other occurrences and nearest words, layer by layer.

    Partners: the other occurrences of the same word, then the most similar
    words in the heatmap's cosine. One y range for every pair and sub-word
    mode of the encoding keeps curves comparable; a dashed line marks the
    slider's layer.
    """

    name = "curves"
    depends = ("token", "layer", "layers", "subwords")
    width = 1.1
    stages = ("curves", "layer")
    partners = 3

    def _partners(self, e: Encoding, word: int, sim_row: torch.Tensor) -> list[int]:
        """Other occurrences of the same word first, then the most similar words."""
        key = e.words[word].casefold()
        same = [i for i, w in enumerate(e.words) if i != word and w.casefold() == key]
        order = sim_row.argsort(descending=True).tolist()
        near = [i for i in order if i != word and i not in same and e.words[i].isalnum()]
        return (same + near)[: max(self.partners, len(same))]

    @staticmethod
    def _ylim(x: ExplorerView) -> tuple[float, float]:
        lo = 0.0
        for mode in SUBWORD_MODES:
            v = torch.nn.functional.normalize(_layer_words(x, mode), dim=-1)
            lo = min(lo, float((v @ v.transpose(1, 2)).min()))
        return lo - 0.05, 1.05

    def compute(self, x: ExplorerView) -> dict[str, Any]:
        e, s = x.e, x.state
        word, sub = e.word_ids[s["token"]], s["subwords"]
        sim = _word_cosine(x, _spec(x), sub)
        per_layer = _layer_words(x, sub)
        curves = {
            f"{word}:{e.words[word]} ~ {j}:{e.words[j]}": layer_cosine(per_layer, word, j)
            for j in self._partners(e, word, sim[word])
        }
        return {
            "curves": curves, "word": word, "subwords": sub, "layer": s["layer"], "layer_ids": list(e.layer_ids),
            "ylim": x.memo(("curve_ylim",), lambda: self._ylim(x)),
            "title": f"{describe_word(e, word)} across layers" if curves else "no other word to compare",
        }

    def draw(self, ax: Axes, data: dict[str, Any]) -> None:
        layer_ids = data["layer_ids"]
        if data["curves"]:
            plot_layer_similarity(data["curves"], ax=ax, layer_ids=layer_ids, title=data["title"],
                                  legend_loc="lower right", ylabel=CURVES_YLABEL)
        else:  # the same frame, empty
            ax.set(xlabel="layer (0 = embeddings)", ylabel=CURVES_YLABEL, title=data["title"])
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
        ax.set_xlim(layer_ids[0] - 0.3, layer_ids[-1] + 0.3)
        ax.set_ylim(*data["ylim"])
        ax.axvline(data["layer"], color="grey", ls="--", lw=1, gid="layer", zorder=2.6)

    def stage_keys(self, data: dict[str, Any], key: Hashable) -> tuple[Hashable, ...]:
        return (data["subwords"], tuple(data["curves"])), data["layer"]  # the labels name word and partners

    def artists(self, ax: Axes, stage: str) -> list[Artist]:
        if stage == "curves":
            return [ln for ln in ax.lines if ln.get_gid() != "layer"] + [ax.title]
        legend = [ax.get_legend()] if ax.get_legend() is not None else []
        # the legend goes over the dashed line, as in a full draw
        return [ln for ln in ax.lines if ln.get_gid() == "layer"] + legend

    def update(self, ax: Axes, data: dict[str, Any], stage: str) -> None:
        if stage == "curves":
            for line in [ln for ln in ax.lines if ln.get_gid() != "layer"]:
                line.remove()  # the old curves
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            for i, (label, y) in enumerate(data["curves"].items()):
                ax.plot(data["layer_ids"], y.numpy(), marker="o", label=label, color=f"C{i}")
            if data["curves"]:
                ax.legend(fontsize=8, loc="lower right")
            ax.title.set_text(data["title"])
        else:
            line = next(ln for ln in ax.lines if ln.get_gid() == "layer")
            line.set_xdata([data["layer"]] * 2)


#: ``level`` choices of the attention panel.
ATTENTION_PANEL_LEVELS = (("words", "word"), ("tokens", "token"))


@register_panel
class AttentionPanel(Panel):
    """Attention of the slider's layer between words (or tokens), the selected word's row outlined.

    Word level as :func:`bertviz_kit.word_attention` (attention *to* a split
    word summed over its pieces, *from* it averaged; ``[CLS]``/``[SEP]`` kept
    as units of their own); ``head`` picks one head or the mean of the layer's
    heads. Layer 0 (the embeddings) has no attention. The colour scale is fixed
    at 0 to 1 on a square-root scale, so weak attention stays visible. Needs
    an encoding made with ``enc.encode(text, attentions=True)``.
    """

    name = "attention"
    depends = ("token", "layer", "head", "level")
    width = 1.25
    stages = ("frame", "map", "outline")
    cmap = "Blues"

    def controls(self, e: Encoding) -> dict[str, PanelControl]:
        n_heads = int(e.attentions.shape[1]) if e.attentions is not None else 0
        return {
            "head": PanelControl("head", "mean", (("mean", "mean"),) + tuple((str(h), h) for h in range(n_heads))),
            "level": PanelControl("level", "word", ATTENTION_PANEL_LEVELS),
        }

    def check(self, x: ExplorerView) -> None:
        if x.e.attentions is None:
            raise InvalidParameterError(
                "the 'attention' panel needs attention weights: encode with enc.encode(text, attentions=True), "
                "or leave 'attention' out of panels.")

    def compute(self, x: ExplorerView) -> dict[str, Any]:
        e, s = x.e, x.state
        level, layer, head, t = s["level"], s["layer"], s["head"], s["token"]
        if level == "word":
            labels = x.memo(("attention_units",), lambda: list(attention_units(e)))
            query = int(x.memo(("attention_unit_of_token",), lambda: token_units(e)[0])[t])
        else:
            labels, query = list(e.tokens), t
        n = len(labels)
        if layer == 0:
            matrix = torch.full((n, n), float("nan"))
            title = "layer 0 (embeddings) has no attention: pick layer 1 or higher"
        else:
            maps = x.memo(("attention_maps", level),
                          lambda: word_attention(e) if level == "word" else e.attentions.float())
            matrix = maps[layer - 1].mean(0) if head == "mean" else maps[layer - 1, head]
            which = f"mean of {maps.shape[1]} heads" if head == "mean" else f"head {head}"
            title = f"{'word ' if level == 'word' else ''}attention, layer {layer}, {which}"
        return {"matrix": matrix, "labels": labels, "query": query, "level": level, "layer": layer, "head": head,
                "title": title}

    def draw(self, ax: Axes, data: dict[str, Any]) -> None:
        plot_similarity_heatmap(
            data["matrix"], data["labels"], annotate=False, cmap=self.cmap, ax=ax, title=data["title"],
            norm=PowerNorm(0.5, vmin=0.0, vmax=1.0), colorbar_label="attention weight (square-root scale)")
        n = len(data["labels"])
        # over the frame (zorder above the spines' 2.5), as the staged redraw draws it
        ax.add_patch(Rectangle((-0.5, data["query"] - 0.5), n, 1, fill=False, lw=2, color="red", zorder=2.6))
        self._frame(ax, data)

    def _frame(self, ax: Axes, data: dict[str, Any]) -> None:
        labels, level = data["labels"], data["level"]
        n = len(labels)
        word_ticks(ax, labels)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_xlabel(f"attended {level} (key){note(thinned(ax, 'x'))}")
        ax.set_ylabel(f"attending {level} (query){note(thinned(ax, 'y'))}")

    def stage_keys(self, data: dict[str, Any], key: Hashable) -> tuple[Hashable, ...]:
        return data["level"], (data["level"], data["layer"], data["head"]), (data["level"], data["query"])

    def artists(self, ax: Axes, stage: str) -> list[Artist]:
        if stage == "frame":
            return [ax]  # ticks, tick labels and axis labels
        if stage == "map":
            return [ax.images[0], *ax.spines.values(), ax.title]
        return [ax.patches[0]]

    def update(self, ax: Axes, data: dict[str, Any], stage: str) -> None:
        n = len(data["labels"])
        if stage == "frame":
            self._frame(ax, data)
            ax.images[0].set_extent((-0.5, n - 0.5, n - 0.5, -0.5))
        elif stage == "map":
            ax.images[0].set_data(data["matrix"].numpy())
            ax.title.set_text(data["title"])
        else:
            ax.patches[0].set_xy((-0.5, data["query"] - 0.5))
            ax.patches[0].set_width(n)


#: A digit-wide space: pads labels so that their width does not depend on their digits.
_FIGURE_SPACE = "\u2007"


@register_panel
class LensPanel(Panel):
    """The vocabulary items nearest to the selected token's hidden state at every layer (:func:`bertviz_kit.lens`).

    A table: one row per layer, the top ``k`` items best first (colour = score,
    the true token in bold), the true token's rank in the row label. Needs the
    encoder (``bk.explore(e, enc, panels=(..., "lens"))``): the vocabulary and
    the embedding matrix live with it. The colour scale is fixed at 0 to 1.

    Parameters
    ----------
    k : int, default 6
        Items per layer.
    kind : {"embeddings", "mlm", "auto"}, default "embeddings"
        As in :func:`bertviz_kit.lens`: cosine to the input embeddings (any
        encoder; the bundled all-MiniLM-L6-v2 has no masked-LM head), or the
        checkpoint's masked-LM head.
    """

    name = "lens"
    depends = ("token",)
    width = 1.6
    stages = ("table",)

    @validate_params({"k": Interval(int, 1, 20), "kind": Options(LENS_KINDS)})
    def __init__(self, k: int = 6, kind: str = "embeddings") -> None:
        self.k = check("k", k, Interval(int, 1, 20))
        self.kind = check("kind", kind, Options(LENS_KINDS))

    def __repr__(self) -> str:
        return f"LensPanel(k={self.k}, kind={self.kind!r})"

    def check(self, x: ExplorerView) -> None:
        if x.encoder is None:
            raise InvalidParameterError(
                "the 'lens' panel needs the encoder (its vocabulary and embedding matrix): "
                "bk.explore(e, enc, panels=(..., 'lens')), or leave 'lens' out of panels.")

    def key(self, x: ExplorerView) -> Hashable:
        return (x.state["token"], self.k, self.kind)

    def compute(self, x: ExplorerView) -> dict[str, Any]:
        t = x.state["token"]
        result: LensResult = x.memo(("lens", t, self.k, self.kind),
                                    lambda: lens(x.e, token=t, k=self.k, kind=self.kind, enc=x.encoder))
        n_vocab = int(x.encoder.model.get_input_embeddings().weight.shape[0])
        width = len(f"{max(result.layer_ids)} (rank {n_vocab})")
        labels = [f"{lid} (rank {rk})".rjust(width, _FIGURE_SPACE)
                  for lid, rk in zip(result.layer_ids, result.rank.tolist())]
        return {"result": result, "labels": labels, "title": f"lens on {result.label} ({result.kind})"}

    def draw(self, ax: Axes, data: dict[str, Any]) -> None:
        plot_lens(data["result"], ax=ax, title=data["title"])
        ax.images[0].set_clim(0.0, 1.0)  # fixed: the colour bar is drawn once
        self.update(ax, data, "table")

    def artists(self, ax: Axes, stage: str) -> list[Artist]:
        # what a token changes, in the order of a full draw (zorder); the x axis is drawn once
        return [ax.images[0], ax.yaxis, *ax.spines.values(), *ax.texts, ax.title]

    def update(self, ax: Axes, data: dict[str, Any], stage: str) -> None:
        r = data["result"]
        scores = r.scores.float().numpy()
        ax.images[0].set_data(scores)
        for text, (rc, v) in zip(ax.texts, np.ndenumerate(scores)):
            token = r.tokens[rc[0]][rc[1]]
            text.set_text(token if len(token) <= 11 else token[:10] + "…")
            text.set_fontweight("bold" if int(r.ids[rc]) == r.true_id else "normal")
            text.set_color("black" if v > 0.6 else "white")
        ax.set_yticks(range(len(data["labels"])), data["labels"])
        ax.set_ylabel(f"layer (rank of {r.true_token!r})")
        ax.title.set_text(data["title"])
