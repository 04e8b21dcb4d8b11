"""Fail when a notebook's .py (reviewed source) and .ipynb (stored outputs) drift apart.

Compares the cell types and sources of every notebooks/NN_*.py with its .ipynb
through jupytext; exits 1 naming each notebook that differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext


def cells(path: Path) -> list[tuple[str, str]]:
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def main(folder: str = "notebooks") -> int:
    bad = []
    pys = sorted(Path(folder).glob("[0-9][0-9]_*.py"))
    if not pys:
        print(f"no notebooks found in {folder}/", file=sys.stderr)
        return 1
    for py in pys:
        ipynb = py.with_suffix(".ipynb")
        if not ipynb.exists():
            bad.append(f"{py}: no paired {ipynb.name}")
            continue
        a, b = cells(py), cells(ipynb)
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            bad.append(f"{py} and {ipynb.name} differ (cell {first}; {len(a)} vs {len(b)} cells)")
    for ipynb in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        if not ipynb.with_suffix(".py").exists():
            bad.append(f"{ipynb}: no paired .py source")
    if bad:
        print("notebook pairs out of sync (run `make notebooks-sync`):", file=sys.stderr)
        for line in bad:
            print("  " + line, file=sys.stderr)
        return 1
    print(f"{len(pys)} notebook pairs in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
