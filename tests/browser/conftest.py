"""Fixtures for the real-browser tests: headless Chromium pages that record console errors."""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .browser_servers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS


def pytest_configure(config):
    """Turn SIGTERM (a CI timeout) into SystemExit so every server fixture's ``finally`` still runs."""

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install it with `make browser-deps` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class PageLog:
    """Console errors and uncaught page errors seen by a page."""

    errors: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@pytest.fixture
def page_and_log(browser, request, artifacts):
    """A fresh browser context and page that record console errors and page errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    log = PageLog()

    def on_console(msg):
        log.messages.append(f"{msg.type}: {msg.text}")
        if msg.type == "error":
            log.errors.append(f"console error: {msg.text} ({msg.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: log.errors.append(f"page error: {exc}"))
    try:
        yield page, log
    finally:
        # The last thing the page showed, kept for diagnosing a failure.
        with contextlib.suppress(Exception):
            page.screenshot(path=str(artifacts / f"{request.node.name}-last.png"))
        (artifacts / f"{request.node.name}-console.log").write_text("\n".join(log.messages))
        context.close()
