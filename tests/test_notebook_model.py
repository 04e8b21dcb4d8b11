"""A notebook runs end to end on another model when BERTVIZ_KIT_MODEL points at a BERT-style
folder (the tests' tiny random BERT: 3 layers, 32 dimensions). Outputs differ from the stored
MiniLM ones and are not compared; the run must finish without an error and use that model."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("name", ["04_bank_case_study.ipynb"])
def test_notebook_runs_on_the_model_the_variable_names(name, tiny_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("BERTVIZ_KIT_MODEL", str(Path(tiny_path).resolve()))
    monkeypatch.setenv("BERTVIZ_KIT_CPU_LINEAR", "torch")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nb.cells.append(nbformat.v4.new_code_cell("print('model under test:', enc.n_layers, enc.dim)"))
    # the kernel runs in the notebook's folder, as in JupyterLab, and inherits this environment
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert nb.cells[-1].outputs[0]["text"] == "model under test: 3 32\n"
    loads = next(c for c in nb.cells if c.cell_type == "code" and "bk.load(" in c.source)  # after the install cell
    first = "".join(o.get("text", "") for o in loads.outputs)
    assert "3 layers, 32 dimensions" in first
