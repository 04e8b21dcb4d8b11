"""The explorer notebook in a real browser: JupyterLab (Run All, change controls) and Voila."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from .browser_servers import REPO, jupyterlab_server, voila_server

NOTEBOOK = REPO / "notebooks" / "05_explorer.ipynb"
LAYER = "layer"  # descriptions of the explorer's controls (bertviz_kit/explorer/widget.py)
TOKEN = "word"  # the word menu: one entry per word token, numbered by word
RUN_TIMEOUT_MS = 180_000
REDRAW_TIMEOUT_MS = 60_000


def label(scope, description: str):
    """The description label that reads exactly ``description`` ("layer" is not "layers")."""
    return scope.locator("label.widget-label").filter(has_text=re.compile(rf"^\s*{re.escape(description)}\s*$"))


def control(scope, description: str):
    """The widget box whose description label reads ``description``."""
    return scope.locator(".widget-inline-hbox", has=label(scope, description)).first


def plot_sources(scope) -> list[str]:
    """``src`` of every rendered image inside the widget outputs of ``scope``."""
    return scope.locator(".jupyter-widgets img").evaluate_all("els => els.map(e => e.src)")


def wait_for_new_plots(page, scope, before: list[str]) -> list[str]:
    """Wait until the rendered images differ from ``before``, then until they stop changing; return them."""
    page.wait_for_function(
        """([el, before]) => {
            const now = Array.from(el.querySelectorAll('.jupyter-widgets img')).map(e => e.src);
            return now.length > 0 && JSON.stringify(now) !== JSON.stringify(before);
        }""",
        arg=[scope.element_handle(), before],
        timeout=REDRAW_TIMEOUT_MS,
    )
    # A redraw may clear its output and refill it plot by plot: wait for a second of quiet.
    now, quiet_since = plot_sources(scope), time.monotonic()
    deadline = quiet_since + REDRAW_TIMEOUT_MS / 1000
    while time.monotonic() - quiet_since < 1.0:
        if time.monotonic() > deadline:
            raise AssertionError("the plots kept changing for a minute after one control change")
        page.wait_for_timeout(200)
        latest = plot_sources(scope)
        if latest != now or not latest:
            now, quiet_since = latest, time.monotonic()
    return now


def error_outputs(scope) -> list[str]:
    """Text of every stderr stream or traceback shown in ``scope`` (notebook outputs and widget outputs)."""
    return scope.locator('[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()


def changed_fraction(png_a: bytes, png_b: bytes) -> float:
    """Fraction of pixels that differ between two screenshots (1.0 when the sizes differ)."""
    a = np.asarray(Image.open(io.BytesIO(png_a)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(png_b)).convert("RGB"), dtype=np.int16)
    if a.shape != b.shape:
        return 1.0
    return float((np.abs(a - b).sum(axis=2) > 30).mean())


def change_control(box) -> str:
    """Change a control as a user would: another dropdown entry, a slider step, another toggle button.

    Returns what was done, for the failure message.
    """
    select = box.locator("select")
    if select.count():
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        choice = next(o for o in options if o != current)
        select.select_option(label=choice)
        return f"dropdown {current!r} -> {choice!r}"
    handle = box.locator(".noUi-handle")
    if handle.count():
        handle = handle.first
        value, top = float(handle.get_attribute("aria-valuenow")), float(handle.get_attribute("aria-valuemax"))
        handle.focus()
        handle.press("ArrowLeft" if value >= top else "ArrowRight")
        return f"slider from {value:g} one step {'down' if value >= top else 'up'}"
    buttons = box.locator("button.widget-toggle-button:not(.mod-active)")
    if buttons.count():
        label = buttons.first.inner_text()
        buttons.first.click()
        return f"toggle button {label!r}"
    raise AssertionError(f"no dropdown, slider or toggle buttons in the control: {box.inner_html()[:500]}")


def lab_run_all(page) -> None:
    """Run every cell through the JupyterLab menu and wait until the kernel has run them all."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text="Run All Cells")).filter(
        has_not_text="Restart"
    ).first.click()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))"
        ".some(p => p.textContent.trim() !== '[ ]:')",
        timeout=20_000,
    )  # the kernel has started on the cells
    page.wait_for_function(
        """() => {
            const prompts = Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
                .map(p => p.textContent.trim());
            return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
        }""",
        timeout=RUN_TIMEOUT_MS,
    )


def control_value(box) -> str:
    """What a control shows now: the dropdown entry, the slider value or the active toggle button."""
    select = box.locator("select")
    if select.count():
        return select.evaluate("s => s.options[s.selectedIndex].text")
    handle = box.locator(".noUi-handle")
    if handle.count():
        return handle.first.get_attribute("aria-valuenow")
    return " ".join(box.locator("button.widget-toggle-button.mod-active").all_inner_texts())


def change_and_wait(page, box, scope, before: list[str]) -> list[str]:
    """Change one control, check it shows the new value, wait for the plots to be redrawn; return them."""
    old = control_value(box)
    what = change_control(box)
    new = control_value(box)
    assert new != old, f"the control still shows {old!r} after {what}"
    try:
        return wait_for_new_plots(page, scope, before)
    except PlaywrightTimeout:
        raise AssertionError(f"the plots did not change within {REDRAW_TIMEOUT_MS // 1000} s after {what}") from None


def test_explorer_in_jupyterlab(page_and_log, tmp_path, artifacts):
    page, log = page_and_log
    with jupyterlab_server(NOTEBOOK, tmp_path) as server:
        page.goto(f"{server.url}/lab/tree/{NOTEBOOK.name}?token={server.token}")
        page.locator(".jp-NotebookPanel .jp-Notebook").wait_for(timeout=RUN_TIMEOUT_MS)
        server.wait_for_connected_kernel()
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=RUN_TIMEOUT_MS)
        lab_run_all(page)

        layer, token = control(page, LAYER), control(page, TOKEN)
        layer.wait_for(timeout=RUN_TIMEOUT_MS)
        cell = page.locator(".jp-CodeCell", has=label(page, LAYER)).first
        widget = cell.locator(".jp-OutputArea-output .jupyter-widgets").first
        before_src = wait_for_new_plots(page, cell, [])
        widget.scroll_into_view_if_needed()
        before_png = widget.screenshot(path=str(artifacts / "lab_explorer_before.png"))
        page.screenshot(path=str(artifacts / "lab_page_before.png"))

        after_layer_src = change_and_wait(page, layer, cell, before_src)
        after_layer_png = widget.screenshot(path=str(artifacts / "lab_explorer_after_layer.png"))
        change_and_wait(page, token, cell, after_layer_src)
        after_token_png = widget.screenshot(path=str(artifacts / "lab_explorer_after_token.png"))
        page.screenshot(path=str(artifacts / "lab_page_after.png"))

        assert changed_fraction(before_png, after_layer_png) > 0.001, "the layer change left the picture unchanged"
        assert changed_fraction(after_layer_png, after_token_png) > 0.001, "the token change left the picture unchanged"
        stderr = error_outputs(page.locator(".jp-Notebook"))
        errors = list(log.errors)
        page.goto("about:blank")  # close the page's connections before the server stops
    assert not stderr, "the notebook shows errors or warnings:\n" + "\n".join(stderr)
    assert not errors, "browser console errors:\n" + "\n".join(errors)


# Voila's lab template links Font Awesome from a CDN; this machine is offline, so the test serves an
# empty stylesheet in its place. Any other request that leaves 127.0.0.1 fails the test.
FONT_AWESOME = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@"


def test_widgets_as_voila_app(page_and_log, tmp_path, artifacts):
    page, log = page_and_log
    outside: list[str] = []

    def offline(route):
        if route.request.url.startswith(FONT_AWESOME):
            route.fulfill(status=200, content_type="text/css", body="")
        else:
            outside.append(route.request.url)
            route.abort()

    page.route(lambda url: not url.startswith("http://127.0.0.1:"), offline)
    with voila_server(NOTEBOOK, tmp_path) as server:
        page.goto(f"{server.url}/?token={server.token}", timeout=RUN_TIMEOUT_MS)
        layer, token = control(page, LAYER), control(page, TOKEN)
        layer.wait_for(timeout=RUN_TIMEOUT_MS)
        body = page.locator("body")
        before_src = wait_for_new_plots(page, body, [])
        # Read-only: the app shows outputs and widgets, not the notebook's code.
        assert page.locator(".jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor, .cm-editor").count() == 0
        assert "import bertviz_kit" not in body.inner_text()
        before_png = page.screenshot(path=str(artifacts / "voila_before.png"), full_page=True)

        after_token_src = change_and_wait(page, token, body, before_src)
        change_and_wait(page, layer, body, after_token_src)
        after_png = page.screenshot(path=str(artifacts / "voila_after.png"), full_page=True)

        assert changed_fraction(before_png, after_png) > 0.001, "the app looks the same after two changes"
        stderr = error_outputs(body)
        errors = list(log.errors)
        page.goto("about:blank")  # close the page's connections before the server stops
    assert not outside, f"the app requested resources outside 127.0.0.1: {outside}"
    assert not stderr, "the app shows errors or warnings:\n" + "\n".join(stderr)
    assert not errors, "browser console errors:\n" + "\n".join(errors)


def processes_with_parent_env(pid: int) -> list[int]:
    """PIDs of processes started for server ``pid`` (kernels carry JPY_PARENT_PID in their environment)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"JPY_PARENT_PID={pid}".encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("server_factory", [jupyterlab_server, voila_server], ids=["jupyterlab", "voila"])
def test_server_and_its_kernels_are_stopped(server_factory, tmp_path):
    with server_factory(NOTEBOOK, tmp_path) as server:
        pid = server.proc.pid
        assert server.proc.poll() is None
        if server_factory is jupyterlab_server:
            server.start_kernel()
            assert processes_with_parent_env(pid), "the kernel started through the REST API is not running"
    assert server.proc.poll() is not None, f"server {pid} still running after teardown"
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing left in the server's process group
    deadline = time.monotonic() + 10
    while processes_with_parent_env(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_with_parent_env(pid), "kernels of the stopped server are still running"


def test_save_button_downloads_the_view_in_voila(page_and_log, tmp_path, artifacts):
    """The save button offers the figure as a download in the browser (SVG here): a Voila visitor gets
    the file, and nothing is written on the server."""
    page, log = page_and_log
    page.route(lambda url: not url.startswith("http://127.0.0.1:"),
               lambda route: route.fulfill(status=200, content_type="text/css", body="")
               if route.request.url.startswith(FONT_AWESOME) else route.abort())
    with voila_server(NOTEBOOK, tmp_path) as server:
        page.goto(f"{server.url}/?token={server.token}", timeout=RUN_TIMEOUT_MS)
        control(page, LAYER).wait_for(timeout=RUN_TIMEOUT_MS)
        wait_for_new_plots(page, page.locator("body"), [])
        name = control(page, "file").locator("input").first
        name.fill("view.svg")
        name.press("Enter")
        page.locator("button", has_text=re.compile(r"^\s*save\s*$")).first.click()
        link = page.locator("a[download='view.svg']").first
        link.wait_for(timeout=REDRAW_TIMEOUT_MS)
        page.screenshot(path=str(artifacts / "voila_save_link.png"))
        with page.expect_download(timeout=REDRAW_TIMEOUT_MS) as info:
            link.click()
        download = info.value
        data = Path(download.path()).read_bytes()
        assert download.suggested_filename == "view.svg"
        assert data.startswith(b"<?xml") and b"<svg" in data[:1000]
        written = sorted(p.name for p in tmp_path.rglob("*.svg"))
        errors = list(log.errors)
        page.goto("about:blank")
    assert not written, f"the save button wrote files on the server: {written}"
    assert not errors, "browser console errors:\n" + "\n".join(errors)
