"""Every ```python block of README.md and of the docs pages runs.

The blocks of one page run in order in one namespace, in a fresh folder under ``tmp_path``
(the working directory while they run), with matplotlib's Agg backend. A block that cannot run
here is marked by an HTML comment on the line right before it, ``<!-- no-test: why -->``; the
reasons are listed by ``test_skipped_blocks_are_few``, which keeps their number small.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import bertviz_kit as bk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(```+|~~~+)\s*(\S*)")
NO_TEST = re.compile(r"^<!--\s*no-test:\s*(.+?)\s*-->\s*$")
# blocks skipped on purpose, across the README and the docs (keep it a minimum)
MAX_SKIPPED = 3


def python_blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """(first line, code, reason it is not run or None) of each ```python block of a page."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2)
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        if lang == "python":
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            skip = NO_TEST.match(lines[k]) if k >= 0 else None
            blocks.append((i + 1, "\n".join(lines[i + 1:j]) + "\n", skip.group(1) if skip else None))
        i = j + 1
    return blocks


def pages() -> list[Path]:
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if not {"_build", "generated"} & set(p.parts))
    return [ROOT / "README.md", *docs]


PAGES = [p for p in pages() if python_blocks(p)]


# one encoder per set of load arguments for all pages: the bundled model loads once
_LOADED: dict[str, object] = {}


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_code_blocks_run(page, tmp_path, monkeypatch):
    real = _LOADED.setdefault("load", bk.load)

    def load(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if key not in _LOADED:
            _LOADED[key] = real(*args, **kwargs)
        return _LOADED[key]

    monkeypatch.setattr(bk, "load", load)
    monkeypatch.delenv("BERTVIZ_KIT_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    panels = dict(bk.PANELS)  # a page may register a panel of its own: put the registry back after
    try:
        for line, code, skip in python_blocks(page):
            if skip:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
            except Exception as err:
                raise AssertionError(f"the block at {page.relative_to(ROOT)}:{line} failed: {err!r}") from err
    finally:
        plt.close("all")
        bk.PANELS.clear()
        bk.PANELS.update(panels)
    for f in tmp_path.rglob("*"):  # whatever the blocks wrote stayed in tmp_path
        assert tmp_path in f.parents
    assert os.getcwd() == str(tmp_path)


def test_skipped_blocks_are_few():
    skipped = [f"{p.relative_to(ROOT)}:{line}: {why}" for p in pages() for line, _, why in python_blocks(p) if why]
    print(f"{len(skipped)} python blocks not run:", *skipped, sep="\n  ")
    assert len(skipped) <= MAX_SKIPPED, skipped


def test_the_readme_and_the_tutorial_have_blocks_that_run():
    for page in (ROOT / "README.md", ROOT / "docs" / "tutorial.md"):
        blocks = python_blocks(page)
        assert blocks and not any(why for _, _, why in blocks), page
