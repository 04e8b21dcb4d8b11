"""Check that every relative link in README.md, CHANGELOG.md and docs/ resolves.

    python .ci/check_links.py [--root DIR]

A link or image ``[text](target)`` outside code is checked when its target is relative (not
``http:``, ``https:``, ``mailto:``): the file must exist inside the project, and an anchor
(``page.md#section``, ``#section``) must name a heading of that Markdown page or notebook, slugged
as GitHub and MyST do (lower case, punctuation dropped, spaces to hyphens). Exit status 1 and one
line per broken link otherwise. ``make docs`` runs it before Sphinx.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SKIP_DIRS = {"_build", "generated"}


def pages(root: Path) -> list[Path]:
    """The Markdown pages whose links are checked."""
    found = [root / name for name in ("README.md", "CHANGELOG.md") if (root / name).exists()]
    docs = root / "docs"
    if docs.is_dir():
        found += sorted(p for p in docs.rglob("*.md") if not SKIP_DIRS & set(p.relative_to(docs).parts))
    return found


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, inline code removed."""
    out, fenced = [], False
    for n, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((n, INLINE_CODE.sub("", line)))
    return out


def slug(heading: str) -> str:
    """The anchor GitHub and MyST give a heading."""
    text = re.sub(r"`|\*\*|__", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown page or a notebook's Markdown cells."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    found: set[str] = set()
    for _, line in prose_lines(text):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            name, k = base, 0
            while name in found:  # a repeated heading gets -1, -2, ... as on GitHub
                k += 1
                name = f"{base}-{k}"
            found.add(name)
    return found


def broken_links(root: Path) -> list[str]:
    """One line per link that does not resolve: 'file:line: target (why)'."""
    root = root.resolve()
    problems = []
    for page in pages(root):
        for n, line in prose_lines(page.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # http:, https:, mailto: ...
                path_part, _, anchor = target.partition("#")
                dest = (page.parent / path_part).resolve() if path_part else page
                where = f"{page.relative_to(root)}:{n}: {target}"
                if root not in dest.parents and dest != root:
                    problems.append(f"{where} (outside the project)")
                elif not dest.exists():
                    problems.append(f"{where} (no such file)")
                elif anchor and dest.suffix in (".md", ".ipynb") and anchor not in anchors(dest):
                    problems.append(f"{where} (no heading with that anchor)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    problems = broken_links(args.root)
    for p in problems:
        print(p)
    n = len(pages(args.root))
    print(f"check_links: {n} pages, {len(problems)} broken links", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
