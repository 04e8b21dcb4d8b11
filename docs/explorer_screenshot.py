"""Regenerate docs/explorer.png: the explorer of notebook 05 in JupyterLab, in headless Chromium.

    python docs/explorer_screenshot.py [--out docs/explorer.png] [--dpi 160] [--scale 2]

Starts JupyterLab on 127.0.0.1 (random port and token, stopped by PID) on a copy of
``notebooks/05_explorer.ipynb`` whose explorer draws its figure at ``--dpi`` (the notebook
itself keeps the default 80 dpi), runs all cells through the Run menu, waits for the
widget's figure and screenshots the widget (controls and figure) on a screen with
``--scale`` device pixels per CSS pixel. The browser is Debian's Chromium driven by
Playwright, as in the browser tests (``make browser-deps`` installs it; never a
downloaded browser). Needs the ``dev`` and ``widgets`` extras.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.browser_servers import CHROMIUM, CHROMIUM_ARGS, jupyterlab_server  # noqa: E402
from tests.browser.test_explorer_browser import (  # noqa: E402
    LAYER,
    RUN_TIMEOUT_MS,
    control,
    lab_run_all,
    label,
    wait_for_new_plots,
)

NOTEBOOK = REPO / "notebooks" / "05_explorer.ipynb"
EXPLORE = "bk.explore(e, enc, "


def notebook_copy(folder: Path, dpi: int) -> Path:
    """Notebook 05 up to the cell that shows the explorer, outputs cleared, the explorer at ``dpi``."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
        if cell.cell_type == "code" and cell.source.strip().splitlines()[-1].strip() == "explorer":
            break
    source = "\n".join(c.source for c in cells)
    if source.count(EXPLORE) != 1:
        raise SystemExit(f"{NOTEBOOK.name} no longer calls {EXPLORE!r} once; update this script")
    for cell in cells:
        cell.source = cell.source.replace(EXPLORE, f"{EXPLORE}dpi={dpi}, ")
    nb.cells = cells
    path = folder / "explorer_screenshot.ipynb"
    nbformat.write(nb, path)
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO / "docs" / "explorer.png"))
    p.add_argument("--dpi", type=int, default=160, help="resolution of the explorer's figure (default 160)")
    p.add_argument("--scale", type=float, default=2.0, help="device pixels per CSS pixel (default 2)")
    p.add_argument("--width", type=int, default=1280, help="browser window width in CSS pixels")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nb = notebook_copy(tmp, args.dpi)
        with jupyterlab_server(nb, tmp) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": args.width, "height": 1000},
                                              device_scale_factor=args.scale)
                page = context.new_page()
                # simple interface: one document, no side bars, so the widget gets the width
                page.goto(f"{server.url}/lab/tree/{nb.name}?token={server.token}&reset")
                page.locator(".jp-NotebookPanel .jp-Notebook").wait_for(timeout=RUN_TIMEOUT_MS)
                server.wait_for_connected_kernel()
                page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=RUN_TIMEOUT_MS)
                page.keyboard.press("Control+b")  # hide the file browser
                lab_run_all(page)
                control(page, LAYER).wait_for(timeout=RUN_TIMEOUT_MS)
                cell = page.locator(".jp-CodeCell", has=label(page, LAYER)).first
                wait_for_new_plots(page, cell, [])
                widget = cell.locator(".jp-OutputArea-output .jupyter-widgets").first
                widget.scroll_into_view_if_needed()
                widget.screenshot(path=args.out)
                page.goto("about:blank")
            finally:
                browser.close()
    from PIL import Image

    with Image.open(args.out) as im:
        print(f"{args.out}: {im.width} x {im.height} pixels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
