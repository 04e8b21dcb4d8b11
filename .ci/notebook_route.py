"""Every notebook opens from a link and leads to the next: Colab link, install cell, route links.

Usage: python .ci/notebook_route.py [--check]

Writes (or, with --check, only checks) in each notebooks/NN_*.py:
- no empty code cells;
- a first line in the first markdown cell: the notebook's "Open in Colab" link (the repository
  address comes from pyproject.toml's [project.urls] Repository) and a link to 00_start_here;
- a first code cell that installs the package where it is missing (Colab, a fresh environment)
  and does nothing where it is installed;
- a last markdown cell with "Previous / Next" links in the numbered order.
Then run `make notebooks-sync` for the paired .ipynb files (`.ci/check_notebook_pairs.py`
checks that each pair agrees).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
COLAB_MARK = "[Open in Colab]"
NAV_MARK = "**Route:**"
INSTALL_MARK = "# Colab or a fresh environment: install the package"


def repository() -> str:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return meta["project"]["urls"]["Repository"].rstrip("/")


def colab_url(name: str) -> str:
    repo = repository().removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{name}"


def install_cell() -> str:
    return (
        f"{INSTALL_MARK} (CPU torch first, a few hundred MB\n"
        "# instead of several GB); where it is installed, this cell does nothing.\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("bertviz_kit") is None:\n'
        '    if importlib.util.find_spec("torch") is None:\n'
        '        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "torch",\n'
        '                        "--index-url", "https://download.pytorch.org/whl/cpu"], check=True)\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                    "bertviz-kit[widgets] @ git+{repository()}"], check=True)'
    )


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def title(py: Path) -> str:
    for line in py.read_text().splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    raise SystemExit(f"{py}: no '# # NN · Title' heading")


def header_line(py: Path) -> str:
    name = py.with_suffix(".ipynb").name
    start = "" if py.stem.startswith("00_") else " · [Start here: the route](00_start_here.ipynb)"
    return f"{COLAB_MARK}({colab_url(name)}){start}"


def nav_cell(paths: list[Path], i: int) -> str:
    parts = [NAV_MARK]
    if i > 0:
        parts.append(f"Previous: [{title(paths[i - 1])}]({paths[i - 1].with_suffix('.ipynb').name})")
    if not paths[i].stem.startswith("00_"):
        parts.append("[Start here](00_start_here.ipynb)")
    if i + 1 < len(paths):
        parts.append(f"Next: [{title(paths[i + 1])}]({paths[i + 1].with_suffix('.ipynb').name})")
    return " · ".join(parts[:1]) + " " + " · ".join(parts[1:])


def _strip_old_next(source: str) -> str:
    """Drop a trailing 'Next: ...' paragraph the notebook had before the route links."""
    paragraphs = re.split(r"\n\s*\n", source.rstrip())
    if paragraphs and paragraphs[-1].lstrip().startswith("Next:"):
        paragraphs = paragraphs[:-1]
    return "\n\n".join(paragraphs)


def expected(py: Path, paths: list[Path]):
    nb = jupytext.read(py)
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.source.strip()]  # no empty cells
    cells = nb.cells
    first_md = next(c for c in cells if c.cell_type == "markdown")
    lines = [ln for ln in first_md.source.splitlines() if COLAB_MARK not in ln]
    while lines and not lines[0].strip():
        lines.pop(0)
    first_md.source = header_line(py) + "\n\n" + "\n".join(lines)
    cells[:] = [c for c in cells if not (c.cell_type == "code" and c.source.startswith(INSTALL_MARK))]
    after = cells.index(first_md) + 1
    first_code = next((i for i in range(after, len(cells)) if cells[i].cell_type == "code"), None)
    if first_code is not None:
        cells.insert(first_code, jupytext.reads("# %%\n" + install_cell() + "\n", fmt="py:percent").cells[0])
    if cells[-1].cell_type == "markdown" and cells[-1].source.startswith(NAV_MARK):
        cells.pop()
    if cells[-1].cell_type == "markdown":
        kept = _strip_old_next(cells[-1].source)
        if kept.strip():
            cells[-1].source = kept
        else:
            cells.pop()
    cells.append(jupytext.reads("# %% [markdown]\n# " + nav_cell(paths, paths.index(py)) + "\n",
                                fmt="py:percent").cells[0])
    return nb


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = notebooks()
    bad = []
    for py in paths:
        nb = expected(py, paths)
        text = jupytext.writes(nb, fmt="py:percent")
        if check:
            if text != py.read_text():
                bad.append(f"{py.relative_to(ROOT)}: route links or install cell missing or stale")
        elif text != py.read_text():
            py.write_text(text)
            print(f"updated {py.relative_to(ROOT)}")
    if bad:
        print("\n".join(bad) + "\nrun: python .ci/notebook_route.py, then make notebooks-sync", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
