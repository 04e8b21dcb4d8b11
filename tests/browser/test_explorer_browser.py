"""The explorer notebook in a real browser: JupyterLab (Run All, change controls) and Voila."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .browser_servers import jupyterlab_server, voila_server

NOTEBOOK = Path(__file__).with_name("dummy_widgets.ipynb")
LAYER = "Layer"  # description of the layer control
TOKEN = "Token"  # description of the token control
RUN_TIMEOUT_MS = 60_000
REDRAW_TIMEOUT_MS = 60_000


def control(scope, description: str):
    """The widget box whose description label reads ``description``."""
    label = scope.locator("label.widget-label", has_text=description)
    return scope.locator(".widget-inline-hbox", has=label).first


def plot_sources(scope) -> list[str]:
    """``src`` of every rendered image inside the widget outputs of ``scope``."""
    return scope.locator(".jupyter-widgets img").evaluate_all("els => els.map(e => e.src)")


def wait_for_new_plots(page, scope, before: list[str]) -> list[str]:
    """Wait until the set of rendered images differs from ``before`` (and is not empty)."""
    handle = scope.element_handle()
    page.wait_for_function(
        """([el, before]) => {
            const now = Array.from(el.querySelectorAll('.jupyter-widgets img')).map(e => e.src);
            return now.length > 0 && JSON.stringify(now) !== JSON.stringify(before);
        }""",
        arg=[handle, before],
        timeout=REDRAW_TIMEOUT_MS,
    )
    page.wait_for_timeout(500)  # let a redraw that clears and refills its output settle
    return plot_sources(scope)


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


def test_explorer_in_jupyterlab(page_and_log, tmp_path, artifacts):
    page, log = page_and_log
    with jupyterlab_server(NOTEBOOK, tmp_path) as server:
        page.goto(f"{server.url}/lab/tree/{NOTEBOOK.name}?token={server.token}")
        page.locator(".jp-NotebookPanel .jp-Notebook").wait_for(timeout=RUN_TIMEOUT_MS)
        server.wait_for_connected_kernel()
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=RUN_TIMEOUT_MS)
        lab_run_all(page)

        layer = control(page, LAYER)
        token = control(page, TOKEN)
        layer.wait_for(timeout=RUN_TIMEOUT_MS)
        cell = page.locator(".jp-CodeCell", has=page.locator("label.widget-label", has_text=LAYER)).first
        widget = cell.locator(".jp-OutputArea-output .jupyter-widgets").first
        page.wait_for_function(
            "el => el.querySelectorAll('.jupyter-widgets img').length > 0",
            arg=cell.element_handle(),
            timeout=RUN_TIMEOUT_MS,
        )
        widget.scroll_into_view_if_needed()
        before_src = plot_sources(cell)
        before_png = widget.screenshot(path=str(artifacts / "lab_explorer_before.png"))
        page.screenshot(path=str(artifacts / "lab_page_before.png"))

        change_control(layer)
        after_layer_src = wait_for_new_plots(page, cell, before_src)
        after_layer_png = widget.screenshot(path=str(artifacts / "lab_explorer_after_layer.png"))

        change_control(token)
        after_token_src = wait_for_new_plots(page, cell, after_layer_src)
        after_token_png = widget.screenshot(path=str(artifacts / "lab_explorer_after_token.png"))
        page.screenshot(path=str(artifacts / "lab_page_after.png"))

        assert after_layer_src != before_src
        assert after_token_src != after_layer_src
        assert changed_fraction(before_png, after_layer_png) > 0.001
        assert changed_fraction(after_layer_png, after_token_png) > 0.001
        errors = list(log.errors)
        page.goto("about:blank")  # close the page's connections before the server stops
    assert not errors, "browser console errors:\n" + "\n".join(errors)


# Voila's lab template links Font Awesome from a CDN; this machine is offline, so the test serves an
# empty stylesheet in its place. Any other request that leaves 127.0.0.1 fails the test.
CDN_STYLESHEETS = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@*/css/*.css"


def test_explorer_as_voila_app(page_and_log, tmp_path, artifacts):
    page, log = page_and_log
    outside: list[str] = []
    page.route(CDN_STYLESHEETS, lambda route: route.fulfill(status=200, content_type="text/css", body=""))
    page.route(
        lambda url: not url.startswith("http://127.0.0.1:") and not url.startswith("https://cdn.jsdelivr.net/npm/@fortawesome/"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    with voila_server(NOTEBOOK, tmp_path) as server:
        page.goto(f"{server.url}/?token={server.token}", timeout=RUN_TIMEOUT_MS)
        layer = control(page, LAYER)
        token = control(page, TOKEN)
        layer.wait_for(timeout=RUN_TIMEOUT_MS)
        page.wait_for_function(
            "() => document.querySelectorAll('.jupyter-widgets img').length > 0", timeout=RUN_TIMEOUT_MS
        )
        body = page.locator("body")
        # Read-only: the app shows outputs and widgets, not the notebook's code.
        assert page.locator(".jp-InputArea-editor, .jp-CodeMirrorEditor, .cm-editor").count() == 0
        before_src = plot_sources(body)
        before_png = page.screenshot(path=str(artifacts / "voila_before.png"), full_page=True)

        change_control(token)
        after_src = wait_for_new_plots(page, body, before_src)
        change_control(layer)
        after_src2 = wait_for_new_plots(page, body, after_src)
        after_png = page.screenshot(path=str(artifacts / "voila_after.png"), full_page=True)

        assert after_src != before_src and after_src2 != after_src
        assert not outside, f"the app requested resources outside 127.0.0.1: {outside}"
        assert changed_fraction(before_png, after_png) > 0.001
        errors = list(log.errors)
        page.goto("about:blank")  # close the page's connections before the server stops
    assert not errors, "browser console errors:\n" + "\n".join(errors)


@pytest.mark.parametrize("server_factory", [jupyterlab_server, voila_server], ids=["jupyterlab", "voila"])
def test_server_is_stopped_by_pid(server_factory, tmp_path):
    with server_factory(NOTEBOOK, tmp_path) as server:
        pid = server.proc.pid
        assert server.proc.poll() is None
    assert server.proc.poll() is not None, f"server {pid} still running after teardown"
