"""The no-kernel HTML view in headless Chromium, network blocked: every control changes what is drawn,
and what is drawn is what the explorer computes in Python for that selection.

The page is opened from disk (``file://``); every other request is aborted and recorded.
Values are read back from the page's Vega view (``view.signal``, ``view.data`` of each chart's
drawn data set) after changing the HTML controls as a user would.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import bertviz_kit as bk

TOL = 5e-4 + 1e-6  # the page stores thousandths

#: A split word ("robbers" -> robber ##s) with the tiny test model: word and token attention differ.
SPLIT_TEXT = "the robbers took money from the bank on the river bank"


def steps(e: bk.Encoding) -> list[tuple[str, str, str]]:
    """Control changes, in order (each keeps the earlier ones): ``(name, kind, value)``."""
    banks = [t for t, w in enumerate(e.word_ids) if w is not None and e.words[w].lower() == "bank"]
    pieces = [t for t, w in enumerate(e.word_ids) if w is not None and e.word_ids.count(w) > 1]
    return [
        ("token", "select", str(banks[1])),  # the second 'bank'
        ("layer", "range", "2"),
        ("layers", "select", "slider"),  # the heatmap follows the slider's layer
        ("subwords", "select", "max"),
        ("layer", "range", "0"),  # the embeddings: no attention drawn
        ("layers", "select", "mean_all"),
        ("layer", "range", str(e.n_layers - 1)),
        ("head", "select", "3"),
        ("level", "select", "token"),
        ("token", "select", str((pieces or banks)[-1])),  # a split word's last piece, or the last 'bank'
        ("subwords", "select", "first"),
        ("level", "select", "word"),
    ]


@pytest.fixture(scope="module", params=["minilm-bank", "tiny-split"])
def view_and_encoding(request):
    if request.param == "minilm-bank":
        e = bk.load(device="cpu").encode(bk.BANK_TEXT, attentions=True)
    else:
        e = request.getfixturevalue("tiny").encode(SPLIT_TEXT, attentions=True)
    return bk.html_view(e), e


@pytest.fixture
def page_offline(browser, tmp_path, view_and_encoding, artifacts, request):
    view, _ = view_and_encoding
    path = view.save(tmp_path / "bank.html")
    context = browser.new_context(viewport={"width": 1400, "height": 1300}, device_scale_factor=1)
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_function("() => { const el = document.getElementById('bk-view');"
                           " return el.bkView && el.querySelector('svg'); }", timeout=30_000)
    try:
        yield page, blocked, errors
    finally:
        page.screenshot(path=str(artifacts / f"{request.node.name}-last.png"), full_page=True)
        context.close()


READ = """async (names) => {
  const v = document.getElementById('bk-view').bkView;
  await v.runAsync();
  const pick = (name, fields) => v.data(name).map(d => fields.map(f => d[f]));
  const out = {signals: {}};
  for (const s of ['token', 'layer', 'layers', 'subwords', 'head', 'level']) out.signals[s] = v.signal(s);
  out.hist = pick(names.histogram, ['b', 'count', 'x0', 'x1']);
  out.heat = pick(names.heatmap_cells, ['i', 'j', 'value']);
  out.outline = pick(names.heatmap_outline, ['i', 'j']);
  out.curves = pick(names.curves_lines, ['pair', 'l', 'value', 'rank']);
  out.att = pick(names.attention_cells, ['i', 'j', 'value']);
  out.query = pick(names.attention_outline, ['i']);
  out.texts = Array.from(document.querySelectorAll('#bk-view svg text')).map(t => t.textContent);
  return out;
}"""


def change(page, name: str, kind: str, value: str) -> None:
    """Change a bound control as a user would: pick a menu entry, or move the slider."""
    if kind == "select":
        page.locator(f"#bk-controls select[name='{name}']").select_option(value)
    else:
        page.locator(f"#bk-controls input[type='range'][name='{name}']").evaluate(
            "(el, value) => { el.value = value; el.dispatchEvent(new Event('input', {bubbles: true})); }", value)


def _matrix(cells: list, n: int) -> np.ndarray:
    m = np.full((n, n), np.nan)
    for i, j, value in cells:
        m[i, j] = value
    return m


def check_histogram(drawn: dict, x: bk.Explorer) -> None:
    counts, edges = np.histogram(x.data("histogram")["values"], bins=60)
    hist = sorted(drawn["hist"])
    assert [c for _, c, _, _ in hist] == counts.tolist()
    np.testing.assert_allclose([x0 for *_, x0, _ in hist], edges[:-1], atol=1e-4)  # 5 significant digits


def check_heatmap(drawn: dict, x: bk.Explorer, e: bk.Encoding) -> None:
    sim = x.data("heatmap")["sim"].numpy()
    np.testing.assert_allclose(_matrix(drawn["heat"], len(e.words)), sim, atol=TOL)
    word = e.word_ids[x.state["token"]]
    assert drawn["outline"] == [[word, word]]


def check_curves(drawn: dict, x: bk.Explorer) -> None:
    curves = x.data("curves")["curves"]
    page: dict[str, list] = {}
    for pair, layer, value, _rank in sorted(drawn["curves"], key=lambda r: (r[3], r[1])):
        page.setdefault(pair, []).append((layer, value))
    assert list(page) == list(curves)  # the same partners, in the same order
    for pair, curve in curves.items():
        assert [layer for layer, _ in page[pair]] == list(x.e.layer_ids)
        np.testing.assert_allclose([v for _, v in page[pair]], curve.numpy(), atol=TOL)


def check_attention(drawn: dict, x: bk.Explorer) -> None:
    d = x.data("attention")
    if x.state["layer"] == 0:
        assert drawn["att"] == [] and drawn["query"] == []
        return
    n = len(d["labels"])
    np.testing.assert_allclose(_matrix(drawn["att"], n), d["matrix"].numpy(), atol=TOL)
    assert {i for (i,) in drawn["query"]} == {d["query"]}


def test_every_control_redraws_what_python_computes_with_no_network(page_offline, view_and_encoding):
    page, blocked, errors = page_offline
    view, e = view_and_encoding
    x = bk.Explorer(e, panels=("histogram", "heatmap", "curves", "attention"))
    previous = None
    for name, kind, value in [(None, None, None), *steps(e)]:
        if name is not None:
            change(page, name, kind, value)
            x.set(**{name: int(value) if name in ("token", "layer", "head") else value}, redraw=False)
        drawn = page.evaluate(READ, view.datasets)
        s = drawn["signals"]
        assert (s["token"], s["layer"], s["layers"], s["subwords"], s["level"]) == tuple(
            x.state[k] for k in ("token", "layer", "layers", "subwords", "level")), (name, value)
        assert s["head"] == str(x.state["head"])
        check_histogram(drawn, x)
        check_heatmap(drawn, x, e)
        check_curves(drawn, x)
        check_attention(drawn, x)
        for panel in ("histogram", "heatmap", "curves", "attention"):  # the widget's titles
            assert x.data(panel)["title"] in drawn["texts"], (panel, x.data(panel)["title"])
        if x.state["layer"] > 0:  # the attention axes name the level's units
            units = x.data("attention")["labels"]
            assert f"attending {x.state['level']} (query)" in drawn["texts"]
            assert all(str(u) in drawn["texts"] for u in units)
        if name is not None:
            assert drawn != previous, f"changing {name} to {value} changed nothing on the page"
        previous = drawn
    assert blocked == []  # nothing left the page
    assert errors == []


def test_controls_are_the_explorers(page_offline, view_and_encoding):
    page, _, _ = page_offline
    _, e = view_and_encoding
    words = page.locator("#bk-controls select[name='token'] option").all_inner_texts()
    assert words == [f"{w}: {e.words[w]}" + (f" ({e.tokens[t]})" if e.word_ids.count(w) > 1 else "")
                     for t, w in enumerate(e.word_ids) if w is not None]
    layers = page.locator("#bk-controls select[name='layers'] option").all_inner_texts()
    assert layers == list(bk.explorer.widget.LAYER_CHOICES)
    slider = page.locator("#bk-controls input[type='range'][name='layer']")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0", str(e.n_layers))
    assert len(page.locator("#bk-view svg").all()) == 1


def test_notebook_output_works_inside_its_iframe(browser, tmp_path, view_and_encoding):
    """What a notebook stores and shows (``_repr_html_``: an iframe carrying the page) runs offline too."""
    view, e = view_and_encoding
    host = tmp_path / "output.html"
    host.write_text(f"<!DOCTYPE html>\n<html><body><p>cell output</p>{view._repr_html_()}</body></html>",
                    encoding="utf-8")
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    blocked: list[str] = []
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://")
                  else (blocked.append(r.request.url), r.abort()))
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(host.as_uri())
        page.wait_for_function("() => document.querySelector('iframe').contentDocument"
                               " .getElementById('bk-view').bkView !== undefined", timeout=30_000)
        frame = page.frames[1]
        last = max(t for t, w in enumerate(e.word_ids) if w is not None)
        frame.locator("#bk-controls select[name='token']").select_option(str(last))
        token = frame.evaluate("async () => { const v = document.getElementById('bk-view').bkView;"
                               " await v.runAsync(); return v.signal('token'); }")
        assert token == last
        assert frame.locator("#bk-view svg").count() == 1
        assert blocked == [] and errors == []
    finally:
        context.close()


LAB_TIMEOUT_MS = 180_000
CELL = ("import bertviz_kit as bk\n"
        "e = bk.load(device='cpu').encode(bk.BANK_TEXT, attentions=True)\n"
        "bk.html_view(e)")


def _lab_view(page):
    """The Vega view's frame inside the first iframe of a notebook output, once drawn."""
    iframe = page.locator(".jp-OutputArea-output iframe").first
    iframe.wait_for(timeout=LAB_TIMEOUT_MS)
    frame = iframe.element_handle().content_frame()
    frame.wait_for_function("() => { const el = document.getElementById('bk-view');"
                            " return el && el.bkView && el.querySelector('svg'); }", timeout=60_000)
    return frame


def _pick_last_word(frame) -> int:
    select = frame.locator("#bk-controls select[name='token']")
    last = select.locator("option").last.get_attribute("value")
    select.select_option(last)
    return frame.evaluate("async () => { const v = document.getElementById('bk-view').bkView;"
                          " await v.runAsync(); return v.signal('token'); }"), int(last)


def test_view_in_jupyterlab_and_in_the_saved_notebook(page_and_log, tmp_path):
    """Run the cell in JupyterLab: the view shows and its controls work; save, reopen without running:
    the stored output still works (the notebook is trusted: its outputs were made here)."""
    import nbformat

    from .browser_servers import jupyterlab_server
    from .test_explorer_browser import lab_run_all

    notebook = tmp_path / "html_view.ipynb"
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)], metadata=kernel), notebook)
    page, log = page_and_log
    with jupyterlab_server(notebook, tmp_path) as server:
        page.goto(f"{server.url}/lab/tree/{notebook.name}?token={server.token}")
        page.locator(".jp-NotebookPanel .jp-Notebook").wait_for(timeout=LAB_TIMEOUT_MS)
        server.wait_for_connected_kernel()
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=LAB_TIMEOUT_MS)
        lab_run_all(page)
        shown, picked = _pick_last_word(_lab_view(page))
        assert shown == picked
        page.locator(".jp-CodeCell .jp-InputPrompt").first.click()  # command mode, outside the output
        page.keyboard.press("Control+s")
        saved, deadline = server.root / notebook.name, time.monotonic() + 30
        while not any("text/html" in o.get("data", {}) for o in nbformat.read(saved, as_version=4).cells[0].outputs):
            assert time.monotonic() < deadline, "the notebook was not saved with the view's output"
            time.sleep(0.5)
        page.reload()  # the stored output, not run again
        page.locator(".jp-NotebookPanel .jp-Notebook").wait_for(timeout=LAB_TIMEOUT_MS)
        shown, picked = _pick_last_word(_lab_view(page))
        assert shown == picked
        assert page.locator(".jp-OutputArea-output .bk-html-view-fallback").is_hidden()  # its script ran
        page.goto("about:blank")  # close the page's connections before the server stops
    assert not [e for e in log.errors if "bk-view" in e or "vega" in e.lower()]


def test_untrusted_notebook_shows_the_picture_and_the_note(page_and_log, tmp_path):
    """A notebook with a stored view that was not made here (no signature: untrusted), opened without
    running it: JupyterLab sanitizes the output (no iframe, no script), and the fallback shows, the note
    and the picture of the starting view, instead of an empty box."""
    import nbformat

    from .browser_servers import jupyterlab_server

    view = bk.html_view(bk.load(device="cpu").encode(bk.BANK_TEXT, attentions=True))
    output = nbformat.v4.new_output("display_data", data={"text/html": view._repr_html_(), "text/plain": repr(view)})
    notebook = tmp_path / "untrusted.ipynb"
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL, outputs=[output])],
                                            metadata=kernel), notebook)
    page, log = page_and_log
    with jupyterlab_server(notebook, tmp_path) as server:
        page.goto(f"{server.url}/lab/tree/{notebook.name}?token={server.token}")
        fallback = page.locator(".jp-OutputArea-output .bk-html-view-fallback")
        fallback.wait_for(state="visible", timeout=LAB_TIMEOUT_MS)
        assert page.locator(".jp-OutputArea-output iframe").count() == 0
        assert "jupyter trust" in fallback.inner_text()
        picture = fallback.locator("img")
        picture.wait_for(state="visible", timeout=30_000)
        size = picture.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert size[0] and size[1:] == [int(v) for v in _png_size(view.picture)]
        page.goto("about:blank")


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
