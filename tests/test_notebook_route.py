"""A class starts from a link: every notebook opens in Colab, installs what it needs, leads on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_every_notebook_has_its_colab_link_install_cell_and_route_links():
    run = subprocess.run([sys.executable, str(ROOT / ".ci" / "notebook_route.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_route_links_point_at_existing_notebooks():
    names = {p.with_suffix(".ipynb").name for p in NOTEBOOKS}
    for py in NOTEBOOKS:
        for target in re.findall(r"\]\(([0-9][0-9]_[\w-]+\.ipynb)\)", py.read_text()):
            assert target in names, f"{py.name} links to {target}, which does not exist"


def test_the_colab_link_names_the_notebook_itself():
    for py in NOTEBOOKS:
        link = re.search(r"\(https://colab\.research\.google\.com/github/[^)]+/blob/main/notebooks/([^)]+)\)",
                         py.read_text())
        assert link and link.group(1) == py.with_suffix(".ipynb").name, py.name


def test_start_here_lists_every_notebook():
    start = (ROOT / "notebooks" / "00_start_here.py").read_text()
    for py in NOTEBOOKS[1:]:
        assert f"]({py.with_suffix('.ipynb').name})" in start, f"00_start_here does not list {py.name}"


def test_no_heading_is_buried_in_a_code_cell():
    """A markdown heading written as a comment inside a code cell (a lost cell marker) would be
    hidden with an assertion cell in the docs and dropped with a solution in the student version."""
    import jupytext

    for py in NOTEBOOKS:
        for cell in jupytext.read(py).cells:
            if cell.cell_type == "code":
                buried = [ln for ln in cell.source.splitlines() if re.match(r"# #+ ", ln)]
                assert not buried, f"{py.name}: {buried[0]!r} sits in a code cell"


def test_the_narrative_guard_names_the_bundled_model():
    """Hidden assertion cells check the text's numbers when the bundled model runs (the numbers the
    text describes) and stand aside for another model; the guard must match the bundled model's name."""
    import bertviz_kit as bk

    guards = {ln.strip() for py in NOTEBOOKS for ln in py.read_text().splitlines() if ln.startswith("if enc.name ==")}
    assert guards
    name = bk.load(bk.bundled_model_path()).name
    assert all(f'enc.name == "{name}"' in g for g in guards), (name, guards)
