"""The Vega-Lite specification of the no-kernel HTML view: controls bound to parameters, one chart per panel.

Every chart selects rows of the tables made by :mod:`bertviz_kit.explorer.static_data`
(filter, flatten, index arithmetic); nothing is computed here or in the page.
The controls are Vega-Lite parameters bound to HTML inputs (a drop-down per
setting, a slider for the layer), as in the widget:

- ``token``: the word menu (one entry per word token); ``layer``: the slider;
- ``layers``: ``"slider"`` or a preset, ``subwords``: the pooling of pieces;
- ``head`` (``"mean"`` or a head number as text) and ``level`` for the attention chart.

Chart names (``histogram``, ``heatmap``, ``curves``, ``attention``) are kept in
the compiled Vega specification, so a page script (or a test) finds their data.
"""

from __future__ import annotations

from typing import Any

from ..vectors.pooling import SUBWORD_MODES

__all__ = ["vegalite_spec", "CHART_NAMES"]

#: The charts of the view, in order; each is a Vega-Lite unit (or layer) of that name.
CHART_NAMES = ("histogram", "heatmap", "curves", "attention")

_SIZE = 300
#: The heatmap's layer spec as the page computes it: the slider's layer, or the preset.
_SPEC = "(layers == 'slider' ? '' + layer : layers)"
_WORD = "word_of[token]"


def _index(n: str) -> list[dict[str, Any]]:
    """Flatten the row-major matrix ``datum.v`` into cells ``i``, ``j``, ``value`` (``n`` columns).

    Vega's calculate writes into the rows it is given (the data set's own rows before the
    flatten): the new names must not be names of the data (``k``, ``l``, ``v``, ...).
    """
    return [
        {"calculate": "sequence(0, length(datum.v))", "as": "seq"},
        {"flatten": ["v", "seq"], "as": ["c", "idx"]},
        {"calculate": f"floor(datum.idx / ({n}))", "as": "i"},
        {"calculate": f"datum.idx % ({n})", "as": "j"},
        {"calculate": "datum.c / 1000", "as": "value"},
    ]


def _params(data: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    tokens = data["tokens"]
    params = [
        {"name": "token", "value": state["token"],
         "bind": {"input": "select", "options": [t for t, _ in tokens], "labels": [lab for _, lab in tokens],
                  "name": "word "}},
        {"name": "layer", "value": state["layer"],
         "bind": {"input": "range", "min": data["layer_ids"][0], "max": data["layer_ids"][-1], "step": 1,
                  "name": "layer "}},
        {"name": "layers", "value": state["layers"],
         "bind": {"input": "select", "options": ["slider", *data["presets"]], "name": "layers "}},
        {"name": "subwords", "value": state["subwords"],
         "bind": {"input": "select", "options": list(SUBWORD_MODES), "name": "subwords "}},
        {"name": "words", "value": data["words"]},
        {"name": "word_of", "value": data["word_of"]},
        {"name": "token_names", "value": data["token_names"]},
        {"name": "curve_titles", "value": data["curve_titles"]},
    ]
    if "attention" in data:
        att = data["attention"]
        heads = ["mean", *(str(h) for h in range(att["n_heads"]))]
        params += [
            {"name": "head", "value": str(state["head"]),
             "bind": {"input": "select", "options": heads, "name": "head "}},
            {"name": "level", "value": state["level"],
             "bind": {"input": "select", "options": ["word", "token"], "labels": ["words", "tokens"],
                      "name": "level "}},
            {"name": "att_labels", "value": att["labels"]},
            {"name": "query_of", "value": att["query"]},
        ]
    return params


def _histogram(data: dict[str, Any]) -> dict[str, Any]:
    bins = data["bins"]
    title = "token_names[token] + ', layer ' + layer"
    return {
        "name": "histogram", "width": _SIZE, "height": _SIZE,
        "title": {"text": {"expr": title}},
        "data": {"name": "hist"},
        "transform": [
            {"filter": "datum.t == token && datum.l == layer"},
            {"calculate": "sequence(0, length(datum.c))", "as": "seq"},
            {"flatten": ["c", "seq"], "as": ["count", "b"]},
            {"calculate": f"datum.lo + datum.b * (datum.hi - datum.lo) / {bins}", "as": "x0"},
            {"calculate": f"datum.lo + (datum.b + 1) * (datum.hi - datum.lo) / {bins}", "as": "x1"},
        ],
        "mark": {"type": "rect", "color": "#1f77b4", "stroke": "white", "strokeWidth": 0.3},
        "encoding": {
            "x": {"field": "x0", "type": "quantitative", "title": "value", "scale": {"zero": False, "nice": False}},
            "x2": {"field": "x1"},
            "y": {"field": "count", "type": "quantitative", "title": "count"},
            "tooltip": [{"field": "x0", "format": ".3f", "title": "from"},
                        {"field": "x1", "format": ".3f", "title": "to"}, {"field": "count"}],
        },
    }


def _cells(title: str, scale: dict[str, Any], labels: str, legend: str) -> dict[str, Any]:
    axis = {"labelExpr": labels, "labelFontSize": 8, "title": None}
    return {
        "mark": {"type": "rect"},
        "encoding": {
            "x": {"field": "j", "type": "ordinal", "axis": dict(axis, labelAngle=-45)},
            "y": {"field": "i", "type": "ordinal", "axis": axis},
            "color": {"field": "value", "type": "quantitative", "scale": scale, "title": legend},
            "tooltip": [{"field": "i", "title": "row"}, {"field": "j", "title": "column"},
                        {"field": "value", "format": ".3f"}],
        },
        "title": {"text": {"expr": title}},
    }


def _heatmap(data: dict[str, Any]) -> dict[str, Any]:
    n = len(data["words"])
    # as the widget's title: layers=2 for the slider's layer, layers='sum_last4' for a preset
    title = ("'word cosine, layers=' + (layers == 'slider' ? layer : \"'\" + layers + \"'\")"
             " + \", subwords='\" + subwords + \"'\"")
    cells = _cells(title,
                   {"domain": [0, 1], "clamp": True, "scheme": "viridis"}, "words[datum.value]", "cosine")
    outline = {"mark": {"type": "rect", "fill": None, "stroke": "red", "strokeWidth": 2},
               "transform": [{"filter": f"datum.i == {_WORD} && datum.j == {_WORD}"}],
               "encoding": {"x": {"field": "j", "type": "ordinal"}, "y": {"field": "i", "type": "ordinal"}}}
    return {
        "name": "heatmap", "width": _SIZE, "height": _SIZE,
        "data": {"name": "cos"},
        "transform": [{"filter": f"datum.k == {_SPEC} + '|' + subwords"}, *_index(str(n))],
        "title": cells.pop("title"),
        "layer": [dict(cells, name="heatmap_cells"), dict(outline, name="heatmap_outline")],
    }


def _curves(data: dict[str, Any]) -> dict[str, Any]:
    n = len(data["words"])
    lo, hi = data["ylim"]
    lines = {
        "name": "curves_lines",
        "transform": [
            {"filter": "datum.l != null && datum.k == datum.l + '|' + subwords"}, *_index(str(n)),
            {"filter": f"datum.i == {_WORD}"},
            {"calculate": f"{_SPEC} + '|' + subwords", "as": "pk"},
            {"lookup": "pk", "from": {"data": {"name": "cos"}, "key": "k", "fields": ["p"]}, "as": ["pp"]},
            {"calculate": "datum.pp ? indexof(datum.pp[datum.i], datum.j) : -1", "as": "rank"},
            {"filter": "datum.rank >= 0"},
            {"calculate": "words[datum.i] + ' ~ ' + words[datum.j]", "as": "pair"},
        ],
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "l", "type": "quantitative", "title": "layer (0 = embeddings)",
                  "scale": {"domain": [data["layer_ids"][0] - 0.3, data["layer_ids"][-1] + 0.3], "nice": False},
                  "axis": {"tickMinStep": 1, "format": "d"}},
            "y": {"field": "value", "type": "quantitative", "title": "cosine similarity",
                  "scale": {"domain": [lo, hi], "nice": False}},
            "color": {"field": "pair", "type": "nominal", "sort": {"field": "rank"}, "title": None,
                      "legend": {"orient": "bottom", "direction": "vertical", "labelLimit": 300}},
            "tooltip": [{"field": "pair"}, {"field": "l", "title": "layer"}, {"field": "value", "format": ".3f"}],
        },
    }
    rule = {"name": "curves_layer", "data": {"values": [{}]}, "mark": {"type": "rule", "strokeDash": [4, 3],
                                                                       "color": "grey"},
            "encoding": {"x": {"datum": {"expr": "layer"}, "type": "quantitative"}}}
    title = f"curve_titles[{_WORD}]"
    return {"name": "curves", "width": _SIZE, "height": _SIZE, "data": {"name": "cos"},
            "title": {"text": {"expr": title}}, "layer": [lines, rule]}


def _attention(data: dict[str, Any]) -> dict[str, Any]:
    n = "length(att_labels[level])"
    title = ("layer == 0 ? 'layer 0 (embeddings) has no attention: pick layer 1 or higher' : "
             "(level == 'word' ? 'word ' : '') + 'attention, layer ' + layer + ', ' + "
             f"(head == 'mean' ? 'mean of {data['attention']['n_heads']} heads' : 'head ' + head)")
    query = "(level == 'word' ? query_of[token] : token)"
    cells = _cells(title, {"type": "sqrt", "domain": [0, 1], "clamp": True, "scheme": "blues"},
                   "att_labels[level][datum.value]", "attention")
    cells["encoding"]["x"]["axis"]["title"] = {"expr": "'attended ' + level + ' (key)'"}
    cells["encoding"]["y"]["axis"]["title"] = {"expr": "'attending ' + level + ' (query)'"}
    outline = {"mark": {"type": "rect", "fill": None, "stroke": "red", "strokeWidth": 1.5},
               "transform": [{"filter": f"datum.i == {query}"}],
               "encoding": {"x": {"field": "j", "type": "ordinal"}, "y": {"field": "i", "type": "ordinal"}}}
    return {
        "name": "attention", "width": _SIZE * 1.4, "height": _SIZE * 1.4,
        "data": {"name": "att"},
        "transform": [
            {"filter": "datum.l == layer && datum.h == head && (datum.lv == level || datum.lv == 'both')"},
            *_index(n),
        ],
        "title": cells.pop("title"),
        "layer": [dict(cells, name="attention_cells"), dict(outline, name="attention_outline")],
    }


def vegalite_spec(data: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The Vega-Lite specification over ``data`` (:func:`~bertviz_kit.explorer.static_data.static_data`).

    ``state`` is the selection at start: ``token``, ``layer``, ``layers``,
    ``subwords`` (and ``head``, ``level`` when ``data`` has attention).
    """
    datasets = {"hist": data["hist"], "cos": data["cos"]}
    rows: list[dict[str, Any]] = [{"hconcat": [_histogram(data), _heatmap(data), _curves(data)]}]
    if "attention" in data:
        datasets["att"] = data["attention"]["rows"]
        rows.append(_attention(data))
    return {
        "params": _params(data, state),
        "datasets": datasets,
        "vconcat": rows,
        "resolve": {"scale": {"color": "independent", "x": "independent", "y": "independent"}},
        "config": {"view": {"stroke": None}, "axis": {"grid": False}, "title": {"fontSize": 12}},
    }
