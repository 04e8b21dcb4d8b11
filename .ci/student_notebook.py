"""Build the student version of the exercises notebook: solutions out, answer placeholders in.

Usage: python .ci/student_notebook.py [SOURCE.ipynb] [OUT.ipynb]
(default: notebooks/14_exercises.ipynb -> out/student/14_exercises.ipynb)

Every cell tagged "solution" is removed. A solution code cell with a "placeholder" in its
metadata becomes a code cell holding that placeholder (e.g. ``answer1 = None  # ...``), so
the check cell after it runs and says "no answer yet" until the student fills it in.
Outputs are cleared: the student version holds no answers, in code or in stored output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            placeholder = cell.metadata.get("placeholder")
            if cell.cell_type == "code" and placeholder:
                cells.append(nbformat.v4.new_code_cell("# Your code here\n" + placeholder))
            continue
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    out = nbformat.from_dict(dict(nb))
    out.cells = cells
    out.metadata.pop("widgets", None)
    return out


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else ROOT / "notebooks" / "14_exercises.ipynb"
    target = Path(argv[1]) if len(argv) > 1 else ROOT / "out" / "student" / source.name
    nb = student_version(nbformat.read(source, as_version=4))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, target)
    n = sum("solution" in c.metadata.get("tags", []) for c in nbformat.read(source, as_version=4).cells)
    print(f"{target}: {len(nb.cells)} cells ({n} solution cells removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
