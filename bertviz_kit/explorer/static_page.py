"""The explorer's views as one self-contained HTML page that needs no kernel.

The page holds the Vega library (inlined, from ``vl-convert-python``), the
compiled specification (:mod:`bertviz_kit.explorer.static_specs`) and the
precomputed tables (:mod:`bertviz_kit.explorer.static_data`). Its controls are
Vega parameters bound to HTML inputs; changing one selects other rows. Nothing
is fetched: the file works offline, from disk, in an e-mail attachment or in a
saved notebook's output.

Only the Vega runtime is inlined (about 590 kB): the Vega-Lite specification is
compiled to Vega in Python, so the Vega-Lite compiler and vega-embed (another
320 kB) stay out of the file.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import os
from pathlib import Path
from typing import Any

from .._validation import FILE, Interval, InvalidParameterError, NoneOr, check, validate_params
from .static_data import STATIC_PANELS, static_data
from .static_specs import CHART_NAMES, vegalite_spec

__all__ = ["HtmlView", "explorer_page", "html_path", "HTML_SUFFIXES", "MAX_WORDS", "check_page_size"]

#: File name suffixes :meth:`HtmlView.save` accepts.
HTML_SUFFIXES = (".html", ".htm")

_STYLE = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 12px; }
.bk-text { font-size: 14px; margin: 0 0 8px 0; }
.vega-bind { display: inline-block; margin: 0 16px 6px 0; font-size: 13px; }
.vega-bind-name { font-weight: bold; }
.vega-bind select { max-width: 240px; }
"""

# The only hand-written script: make a Vega view of the inlined specification in the page.
_GLUE = """
(function () {
  var el = document.getElementById("bk-view");
  var spec = JSON.parse(document.getElementById("bk-spec").textContent);
  var view = new vega.View(vega.parse(spec), {renderer: "svg", container: el, bind: "#bk-controls",
                                               hover: true});
  el.bkView = view;
  view.runAsync();
})();
"""


def html_path(path: Any, *, folder: bool = True) -> Path:
    """``path`` as a Path, checked: a file name or path ending in ``.html`` or ``.htm``, not a
    folder, in a folder that exists (unless ``folder=False``: the caller creates it)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterError(f"path must be a file name or path; got {type(path).__name__}.")
    target = Path(path)
    if target.suffix.lower() not in HTML_SUFFIXES:
        raise InvalidParameterError(f"path must end in one of {HTML_SUFFIXES}; got {str(path)!r}.")
    if folder and not target.parent.is_dir():
        raise InvalidParameterError(
            f"path {str(path)!r} is in a folder that does not exist ({str(target.parent)!r}); create it first.")
    if target.is_dir():
        raise InvalidParameterError(f"path {str(path)!r} is a folder; give a file name ending in .html.")
    return target


def _vl_convert() -> Any:
    try:
        import vl_convert
    except ImportError:
        raise ImportError(
            "the HTML export needs vl-convert-python (it holds the Vega library inlined into the page): "
            "pip install \"bertviz-kit[widgets]\" (or pip install vl-convert-python)"
        ) from None
    return vl_convert


@functools.lru_cache(maxsize=1)
def _vega_bundle() -> str:
    """The Vega runtime as one script that sets ``window.vega`` (no Vega-Lite compiler, no vega-embed).

    vl-convert resolves the module name from the sources it vendors (nothing is
    downloaded; the name is only a key). Its own ``vega`` snippet name is
    unusable for this: vega has no default export, so it comes out ``null``.
    """
    vlc = _vl_convert()
    source = f"https://cdn.jsdelivr.net/npm/vega@{vlc.get_vega_version()}/+esm"
    return vlc.javascript_bundle(f'import * as runtime from "{source}"; window.vega = runtime;')


def _compile(spec: dict[str, Any]) -> dict[str, Any]:
    vega = _vl_convert().vegalite_to_vega(spec)
    vega.pop("$schema", None)  # an address the page never loads
    return vega


def _script_json(obj: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<`` (so no ``</script>`` from a text), compact."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _datasets(vega: dict[str, Any]) -> dict[str, str]:
    """Name of each chart's (or chart layer's) drawn data set in the compiled Vega ``vega``.

    A mark drawn per group (a line per pair) reads a facet of a data set: its name is the data set's.
    """
    found: dict[str, str] = {}

    def walk(marks: list[dict[str, Any]], facets: dict[str, str]) -> None:
        for m in marks:
            name, source = m.get("name", ""), m.get("from", {})
            facet = source.get("facet")
            if facet:
                facets = {**facets, facet["name"]: facet["data"]}
            data = source.get("data")
            if name.endswith("_marks") and data:
                found[name[: -len("_marks")]] = facets.get(data, data)
            walk(m.get("marks", []), facets)

    walk(vega.get("marks", []), {})
    return found


class HtmlView:
    """The explorer's views in one self-contained HTML page (controls work without a kernel).

    Made by :func:`bertviz_kit.html_view`, :func:`bertviz_kit.to_html` and
    :meth:`bertviz_kit.Explorer.to_html`. Shown inline in a notebook (an
    ``<iframe>`` with the page: JupyterLab, Notebook 7, VS Code, Colab) and kept
    in the saved notebook as static HTML output. Where the output's scripts do
    not run (an untrusted notebook in JupyterLab or Notebook, GitHub's notebook
    preview), the output shows a static picture of the starting view instead,
    with a note on how to get the interactive page (trust the notebook, or open
    the saved file, linked once :meth:`save` has written it).

    Attributes
    ----------
    html : str
        The page.
    data : dict
        The precomputed tables the page selects from (cosines and attention
        weights in thousandths).
    vega_spec : dict
        The compiled Vega specification inside the page.
    picture : bytes or None
        A PNG of the starting view, the notebook output's fallback where
        scripts do not run.
    saved : pathlib.Path or None
        The file :meth:`save` wrote last (the fallback links to it).
    datasets : dict of str to str
        Vega data set drawn by each chart (``"histogram"``, ``"heatmap_cells"``,
        ``"curves_lines"``, ``"attention_cells"``, ...), for ``view.data(name)``
        in the page (the view is ``document.getElementById("bk-view").bkView``).
    """

    def __init__(self, page: str, data: dict[str, Any], vega_spec: dict[str, Any],
                 picture: bytes | None = None) -> None:
        self.html = page
        self.data = data
        self.vega_spec = vega_spec
        self.datasets = _datasets(vega_spec)
        self.picture = picture
        self.saved: Path | None = None

    @property
    def n_bytes(self) -> int:
        """Size of the page in bytes (UTF-8)."""
        return len(self.html.encode("utf-8"))

    @validate_params({"path": FILE})
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (a ``.html`` or ``.htm`` file name); returns the path."""
        target = html_path(path)
        target.write_text(self.html, encoding="utf-8")
        self.saved = target
        return target

    def _repr_html_(self) -> str:
        """The page in an ``<iframe>``, then a fallback that a script hides where scripts run.

        JupyterLab and Notebook sanitize the output of an untrusted notebook (no ``<iframe>``, no
        ``<script>``), and GitHub's preview runs no scripts: there the fallback stays, a note and a
        static picture of the starting view, instead of an empty box.
        """
        height = 480 + (620 if "attention" in self.data else 0)
        frame = (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                 f'style="width: 100%; height: {height}px; border: none;" '
                 f'title="bertviz_kit explorer (static)"></iframe>')
        return f'<div class="bk-html-view">{frame}{self._fallback()}<script>{_HIDE_FALLBACK}</script></div>'

    def _fallback(self) -> str:
        if self.saved is not None:
            where = (f'open the saved page <a href="{html.escape(self.saved.as_posix(), quote=True)}">'
                     f"{html.escape(self.saved.name)}</a> in a browser")
        else:
            where = "save the page (<code>view.save(\"view.html\")</code>) and open the file in a browser"
        note = ("<p><b>bertviz_kit explorer: a static picture of the starting view.</b> "
                "The interactive view needs scripts, which are off here (an untrusted notebook: "
                f"<code>jupyter trust</code> it or run the cell again; a viewer such as GitHub): {where}.</p>")
        picture = ("" if self.picture is None else
                   f'<img src="data:image/png;base64,{base64.b64encode(self.picture).decode("ascii")}" '
                   'alt="the explorer\'s starting view (static picture)" style="max-width: 100%;">')
        return f'<div class="bk-html-view-fallback">{note}{picture}</div>'

    def __repr__(self) -> str:
        charts = tuple(c for c in CHART_NAMES if c in self.datasets or f"{c}_cells" in self.datasets
                       or f"{c}_lines" in self.datasets)
        return f"HtmlView(charts={charts}, n_words={len(self.data['words'])}, n_bytes={self.n_bytes})"


# Where the output's scripts run (a trusted notebook, VS Code, Colab), the iframe works: hide the fallback.
_HIDE_FALLBACK = ("(function (s) { var f = s && s.previousElementSibling; "
                  "if (f) { f.style.display = 'none'; } })(document.currentScript);")


def _picture(x: Any) -> bytes:
    """A PNG of explorer ``x``'s current view, small (72 dpi): the notebook output's fallback."""
    import matplotlib.pyplot as plt

    fig = x.render()
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=72)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _page(text: str, vega: dict[str, Any]) -> str:
    title = html.escape(text if len(text) <= 80 else text[:79] + "…")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<p class=\"bk-text\">{html.escape(text)}</p>\n<div id=\"bk-controls\"></div>\n<div id=\"bk-view\"></div>\n"
        f"<script id=\"bk-spec\" type=\"application/json\">{_script_json(vega)}</script>\n"
        f"<script>{_vega_bundle()}</script>\n<script>{_GLUE}</script>\n</body>\n</html>\n"
    )


MAX_WORDS = 150


def check_page_size(n_words: int, max_words: int | None) -> None:
    """Refuse a text whose page would be large and slow to build (its tables grow with the square of
    the number of words): more than ``max_words`` words (``None``: no limit)."""
    limit = check("max_words", max_words, NoneOr(Interval(int, 1), "no limit"))
    if limit is not None and n_words > limit:
        raise InvalidParameterError(
            f"the HTML view holds every word pair for every layer (and head), so its size grows with the "
            f"square of the number of words: this text has {n_words} words, more than max_words={limit} "
            f"(160 words make a page of about 13 MB with the bundled model, and take about 20 s). Show a "
            f"sentence or a paragraph, or pass max_words={n_words} (or None) to build it anyway.")


def explorer_page(x: Any, *, attention: bool, max_words: int | None = MAX_WORDS) -> HtmlView:
    """The HTML view of explorer ``x``'s encoding, starting at its selection.

    ``x`` (a :class:`bertviz_kit.Explorer`) is left as it is: the tables are
    computed with a copy of it. ``attention`` adds the attention chart (the
    encoding must hold attention weights). A text of more than ``max_words``
    words is refused before any work (see :func:`check_page_size`).
    """
    check_page_size(len(x.e.words), max_words)
    s = x.state
    names = STATIC_PANELS if attention else STATIC_PANELS[:3]
    options = {k: s[k] for k in ("head", "level") if attention and k in s}
    def fresh() -> Any:
        return type(x)(x.e, panels=names, token=s["token"], layer=s["layer"], layers=s["layers"],
                       subwords=s["subwords"], **options)

    copy = fresh()
    start = dict(copy.state)
    data = static_data(copy, attention=attention)
    if start["layers"] not in ("slider", *data["presets"]):
        raise InvalidParameterError(
            f"layers={start['layers']!r} needs layers this encoding did not store (it has layers "
            f"{tuple(x.e.layer_ids)}); pass layers='slider' or one of {tuple(data['presets'])}.")
    vega = _compile(vegalite_spec(data, start))
    # the starting view (a fresh copy: the tables moved this one's selection)
    return HtmlView(_page(x.e.text, vega), data, vega, _picture(fresh()))
