"""What the no-kernel HTML view shows, computed in Python for every control value.

The page (:mod:`bertviz_kit.explorer.static_page`) only selects rows of these
tables when a control changes; nothing is computed in the browser but
indexing. Every value comes from the explorer's own panels
(:meth:`bertviz_kit.Explorer.data`), so the page shows what the widget shows.

Storage (all JSON, kept small):

- cosines and attention weights as integers in thousandths (3 decimals:
  ``873`` is 0.873);
- the histogram as 60 counts per (token, layer) with the bin range ``lo``, ``hi``
  (float32 values rounded to 5 significant digits);
- a cosine matrix ``[W, W]`` row-major in one list per (layer spec, sub-word mode), with each
  word's partners in the curves panel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._validation import InvalidParameterError
from ..layers import LAYER_PRESETS
from ..vectors.addressing import describe_token
from ..vectors.pooling import SUBWORD_MODES

__all__ = ["STATIC_PANELS", "available_presets", "static_data", "thousandths"]

#: Panels the HTML view can show (the lens needs the encoder, so it stays in the widget).
STATIC_PANELS = ("histogram", "heatmap", "curves", "attention")


def thousandths(values: torch.Tensor | np.ndarray) -> list[int]:
    """``values`` (any shape, read row-major) as integers in thousandths: 0.8734 -> 873."""
    a = values.float().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, dtype=np.float32)
    return np.rint(a.reshape(-1) * 1000.0).astype(np.int64).tolist()


def _g5(v: float) -> float:
    return float(f"{float(v):.5g}")


def _word_tokens(x: Any) -> list[int]:
    return [t for t, w in enumerate(x.e.word_ids) if w is not None]


def available_presets(x: Any) -> list[str]:
    """The layer presets the encoding can feed (one stored with some layers only lacks some)."""
    out = []
    for preset in LAYER_PRESETS:
        x.set(layers=preset, redraw=False)
        try:
            x.data("heatmap")
        except InvalidParameterError:
            continue
        out.append(preset)
    return out


def _specs(x: Any, presets: list[str]) -> list[tuple[str, int | None]]:
    """Heatmap layer specs: every single layer (the slider's), then the presets: ``(key, layer or None)``."""
    return [(str(layer), layer) for layer in x.e.layer_ids] + [(p, None) for p in presets]


def _set_spec(x: Any, key: str, layer: int | None, subwords: str) -> None:
    if layer is None:
        x.set(layers=key, subwords=subwords, redraw=False)
    else:
        x.set(layers="slider", layer=layer, subwords=subwords, redraw=False)


def _histograms(x: Any, bins: int) -> list[dict[str, Any]]:
    rows = []
    for t in _word_tokens(x):
        for layer in x.e.layer_ids:
            x.set(token=t, layer=layer, redraw=False)
            counts, edges = np.histogram(x.data("histogram")["values"], bins=bins)
            rows.append({"t": t, "l": layer, "lo": _g5(edges[0]), "hi": _g5(edges[-1]), "c": counts.tolist()})
    return rows


def _curve_titles(x: Any) -> list[str]:
    """The curves' title for each word ("word 5 'bank' across layers", or "no other word to compare")."""
    titles = {}
    for t in _word_tokens(x):
        w = x.e.word_ids[t]
        if w not in titles:
            x.set(token=t, redraw=False)
            titles[w] = x.data("curves")["title"]
    return [titles[w] for w in range(x.e.n_words)]


def _partner(label: str) -> int:
    """The partner's word index in a curve label ``"5:bank ~ 9:bank"`` (words hold no ``" ~ "``)."""
    return int(label.rpartition(" ~ ")[2].partition(":")[0])


def _cosines(x: Any, presets: list[str]) -> list[dict[str, Any]]:
    """One row per (layer spec, sub-word mode): key ``k`` ("3|mean", "sum_last4|max"), the single layer ``l``
    (None for a preset), the cosine matrix ``v`` and each word's partners in the curves panel ``p``."""
    first: dict[int, int] = {}
    for t in _word_tokens(x):
        first.setdefault(x.e.word_ids[t], t)
    rows = []
    for key, layer in _specs(x, presets):
        for mode in SUBWORD_MODES:
            _set_spec(x, key, layer, mode)
            partners = []
            for t in first.values():
                x.set(token=t, redraw=False)
                partners.append([_partner(c) for c in x.data("curves")["curves"]])
            rows.append({"k": f"{key}|{mode}", "l": layer, "v": thousandths(x.data("heatmap")["sim"]),
                         "p": partners})
    return rows


def _attention_rows(x: Any, level: str, n_heads: int) -> tuple[list[dict[str, Any]], list[str]]:
    rows, labels = [], []
    for layer in x.e.layer_ids[1:]:
        for head in ["mean", *range(n_heads)]:
            x.set(layer=layer, head=head, level=level, redraw=False)
            d = x.data("attention")
            rows.append({"l": layer, "h": str(head), "lv": level, "v": thousandths(d["matrix"])})
            labels = [str(u) for u in d["labels"]]
    return rows, labels


def _attention(x: Any) -> dict[str, Any]:
    """Attention maps per (level, layer, head); when the word level equals the token level
    (no word is split: only the labels differ) the maps are stored once, with level ``"both"``."""
    n_heads = int(x.e.attentions.shape[1])
    words, word_labels = _attention_rows(x, "word", n_heads)
    tokens, token_labels = _attention_rows(x, "token", n_heads)
    same = len(words) == len(tokens) and all(a["v"] == b["v"] for a, b in zip(words, tokens))
    rows = [dict(r, lv="both") for r in tokens] if same else words + tokens
    query = []
    for t in range(x.e.n_tokens):
        if x.e.word_ids[t] is None:
            query.append(-1)
            continue
        x.set(token=t, level="word", redraw=False)
        query.append(int(x.data("attention")["query"]))
    return {"rows": rows, "labels": {"word": word_labels, "token": token_labels}, "query": query,
            "n_heads": n_heads}


def static_data(x: Any, *, attention: bool) -> dict[str, Any]:
    """Every table the HTML view selects from, computed with explorer ``x`` (its selection changes).

    ``x`` is a :class:`bertviz_kit.Explorer` showing the histogram, heatmap and
    curves panels (and the attention panel when ``attention``); pass a copy made
    for the purpose, not one on screen.
    """
    e = x.e
    bins = next(p.bins for p in x.panels if p.name == "histogram")
    presets = available_presets(x)
    data: dict[str, Any] = {
        "presets": presets,
        "words": [f"{i}:{w}" for i, w in enumerate(e.words)],
        "word_of": [-1 if w is None else w for w in e.word_ids],
        "tokens": [[t, label] for t, label in _token_labels(e)],
        "token_names": [describe_token(e, t) for t in range(e.n_tokens)],
        "curve_titles": _curve_titles(x),
        "layer_ids": list(e.layer_ids),
        "bins": bins,
        "hist": _histograms(x, bins),
        "cos": _cosines(x, presets),
        "ylim": [_g5(v) for v in x.data("curves")["ylim"]],
    }
    if attention:
        data["attention"] = _attention(x)
    return data


def _token_labels(e: Any) -> list[tuple[int, str]]:
    """The word menu: ``9: bank``; a split word's pieces as ``3: unbelievably (un)``, as in the widget."""
    out = []
    for t, w in enumerate(e.word_ids):
        if w is None:
            continue
        piece = f" ({e.tokens[t]})" if e.word_ids.count(w) > 1 else ""
        out.append((t, f"{w}: {e.words[w]}{piece}"))
    return out
