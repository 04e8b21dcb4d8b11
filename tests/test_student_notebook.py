"""The exercises' student version: built from the solution notebook, no answer left in it, runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "14_exercises.ipynb"


def _builder():
    spec = importlib.util.spec_from_file_location("student_notebook", ROOT / ".ci" / "student_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "14_exercises.ipynb"
    assert _builder().main([str(SOURCE), str(out)]) == 0
    return out


def test_every_exercise_has_a_solution_a_placeholder_and_a_check():
    nb = nbformat.read(SOURCE, as_version=4)
    solutions = [c for c in nb.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    placeholders = [c.metadata.get("placeholder", "") for c in solutions if c.metadata.get("placeholder")]
    assert [p.split(" =")[0] for p in placeholders] == ["answer1", "answer2", "answer3", "answer4"]
    checks = [c.source for c in nb.cells if c.cell_type == "code" and "bk.exercises.check_" in c.source]
    assert len(checks) == 4 and all(f"answer{k}" in checks[k - 1] for k in range(1, 5))


def test_the_student_version_holds_no_solution(student):
    nb = nbformat.read(student, as_version=4)
    assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    text = json.dumps([c.source for c in nb.cells])
    assert "# Solution" not in text and "answer1 = (" not in text
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert sum(c.source.startswith("# Your code here") for c in nb.cells) == 4
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert [h.split(" ·")[0] for h in headings if "Exercise" in h] == [f"## Exercise {k}" for k in range(1, 5)]


def test_the_student_version_runs_and_every_check_waits_for_an_answer(student):
    from nbclient import NotebookClient

    nb = nbformat.read(student, as_version=4)
    where = {"metadata": {"path": str(student.parent)}}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources=where).execute()
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for k in range(1, 5):
        assert f"exercise {k}: no answer yet" in out
