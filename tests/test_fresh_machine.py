"""A fresh clone on a fresh machine: nothing refers to a folder that only one machine has.

Tests write under pytest's ``tmp_path``; notebooks write under a ``tempfile`` folder and
store no machine path in their outputs; benchmarks take their folders from arguments or
``tempfile``. A fixed absolute path (``/tmp/x``, a home folder, the checkout's own folder)
works on the machine that wrote it and fails, or leaks, everywhere else.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Folders that exist only on some machine: temporary folders, home folders, checkouts.
FIXED_PATH = re.compile(
    r"""(?<![\w.])(/tmp/|/var/tmp/|/private/tmp/|/root/|/home/\w|/work/|/Users/\w|[A-Z]:\\\\Users)"""
)

SCANNED = ["bertviz_kit", "tests", "notebooks", "benchmarks", "docs", ".ci"]
SUFFIXES = {".py", ".ipynb", ".cfg", ".json", ".md", ".yml", ".yaml", ".toml", ".sh", ""}


def _project_files() -> list[Path]:
    files = []
    for top in SCANNED:
        base = ROOT / top
        if not base.exists():
            continue
        for p in sorted(base.rglob("*")):
            if (
                p.is_file()
                and p.suffix in SUFFIXES
                and "__pycache__" not in p.parts
                and "_build" not in p.parts
                and p.resolve() != Path(__file__).resolve()
            ):
                files.append(p)
    files += [ROOT / "Makefile", ROOT / "README.md", ROOT / "pyproject.toml"]
    return files


def test_the_scan_finds_the_project_files():
    names = {p.relative_to(ROOT).as_posix() for p in _project_files()}
    assert "bertviz_kit/__init__.py" in names and "notebooks/01_setup_and_loading.ipynb" in names
    assert ".ci/run" in names and "tests/test_lens.py" in names


@pytest.mark.parametrize("text", ['savefig("/tmp/x/a.png")', "open('/root/data.txt')", "'/work/main/x'"])
def test_the_pattern_catches_fixed_paths(text):
    assert FIXED_PATH.search(text)


@pytest.mark.parametrize("text", ["tmp_path / 'a.png'", "tempfile.mkdtemp()", "models/bert-base-cased", "a/tmp/b"])
def test_the_pattern_leaves_relative_paths_alone(text):
    assert not FIXED_PATH.search(text)


def test_no_fixed_absolute_paths_in_the_project():
    """Package, tests, notebooks (sources and stored outputs), benchmarks, docs and CI."""
    hits = []
    for p in _project_files():
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if FIXED_PATH.search(line):
                hits.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not hits, "fixed absolute paths (use tmp_path / tempfile / a relative path):\n" + "\n".join(hits)


def test_ci_runs_with_a_private_empty_tmpdir_and_home():
    run = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"export .*\bTMPDIR=", run) and re.search(r"export .*\bHOME=", run)
