"""Execute each notebooks/NN_*.py and write its paired .ipynb with fresh outputs.

Usage: python .ci/sync_notebooks.py [notebooks/05_explorer.py ...]
Widget state (random ids, large) is stripped from the stored notebook.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient


def sync(py: Path, timeout: int = 300) -> None:
    nb = jupytext.read(py)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(py.parent)}}).execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.validate(nb)
    jupytext.write(nb, py.with_suffix(".ipynb"))
    jupytext.write(nb, py, fmt="py:percent")
    print(f"{py}: {len(nb.cells)} cells, {time.perf_counter() - start:.1f} s")


def main(args: list[str]) -> int:
    paths = [Path(a) for a in args] or sorted(Path("notebooks").glob("[0-9][0-9]_*.py"))
    for py in paths:
        sync(py)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
