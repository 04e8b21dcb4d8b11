"""The documentation's sources: the README's size and commands, the API reference's coverage of
``bertviz_kit.__all__``, relative links, no absolute paths, the docs build wired into make test.

The site itself is built by ``make docs`` (Sphinx, warnings as errors); these checks are the
fast part of it that needs no Sphinx.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

import bertviz_kit as bk

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_LIMIT = 12_000


def doc_sources() -> list[Path]:
    """The hand-written documentation: README, CHANGELOG, the pages and the Sphinx configuration."""
    pages = sorted(p for p in DOCS.rglob("*") if p.is_file() and not {"_build", "generated"} & set(p.parts)
                   and p.suffix in (".md", ".py", ".rst", ".html"))
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *pages]


def test_readme_is_short():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text) <= README_LIMIT, f"README.md has {len(text)} characters, at most {README_LIMIT}"


def test_readme_keeps_the_two_commands_and_the_student_install():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    bash = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    assert re.search(r"^make test\b", bash, re.M), "CI calls the README's test command: make test"
    assert re.search(r"^make demo\b", bash, re.M)
    assert re.search(r"^pip install torch==2\.13\.0 .*whl/cpu", bash, re.M)
    assert 'pip install "bertviz-kit[widgets]"' in bash
    assert "docs/explorer.png" in text and (DOCS / "explorer.png").exists()


def api_names() -> list[str]:
    """The names the autosummary tables of docs/api.md list."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    names = []
    for block in re.findall(r"\.\. autosummary::\n(.*?)```", text, re.S):
        names += [line.strip() for line in block.splitlines() if re.match(r"^   [A-Za-z_]\w*\s*$", line)]
    return names


def test_api_reference_lists_every_public_name_once():
    names = api_names()
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    missing = sorted(set(bk.__all__) - set(names))
    extra = sorted(set(names) - set(bk.__all__))
    assert not missing, f"public names missing from docs/api.md: {missing}"
    assert not extra, f"docs/api.md lists names that are not in bertviz_kit.__all__: {extra}"


def test_every_guide_page_is_in_the_guide_toctree():
    toctree = (DOCS / "guide" / "index.md").read_text(encoding="utf-8")
    for page in (DOCS / "guide").glob("*.md"):
        if page.name != "index.md":
            assert re.search(rf"^{page.stem}$", toctree, re.M), page.name


def test_relative_links_resolve():
    check = runpy.run_path(str(ROOT / ".ci" / "check_links.py"))
    assert check["broken_links"](ROOT) == []


def test_link_check_finds_a_broken_link_and_anchor(tmp_path):
    check = runpy.run_path(str(ROOT / ".ci" / "check_links.py"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## Some section\n\ntext\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "# Title\n\n[ok](docs/page.md#some-section) [here](#title) [missing](docs/nope.md)\n"
        "[bad anchor](docs/page.md#other) `[in code](docs/nope.md)` [web](https://example.org/x)\n"
        "```\n[in a block](docs/nope.md)\n```\n",
        encoding="utf-8",
    )
    problems = check["broken_links"](tmp_path)
    assert problems == ["README.md:3: docs/nope.md (no such file)",
                        "README.md:4: docs/page.md#other (no heading with that anchor)"]
    assert check["main"](["--root", str(tmp_path)]) == 1


def test_no_absolute_local_paths_in_the_docs():
    pattern = re.compile(r"(?<![\w.~])/(?:tmp|work|root|home|Users)/")
    for path in doc_sources():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not pattern.search(line), f"{path.relative_to(ROOT)}:{n}: {line.strip()}"


def test_make_test_builds_the_docs_and_install_brings_the_tools():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_line = re.search(r"^test:(.*)$", makefile, re.M).group(1).split()
    assert "docs" in test_line
    docs_recipe = re.search(r"^docs:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "check_links.py" in docs_recipe
    assert re.search(r"sphinx .*-W --keep-going -n", docs_recipe)
    installs = [m.split(",") for m in re.findall(r'pip install -q -e "\.\[([^\]]*)\]"', makefile)]
    assert any("docs" in extras for extras in installs)  # the full install (make demo's is lighter)
    docs_extra = re.search(r"^docs = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M).group(1)
    tools = {re.split(r"[<>=\[ ]", r.strip().strip('"'))[0].lower() for r in docs_extra.split(",")}
    assert {"sphinx", "myst-nb", "numpydoc", "furo"} <= tools
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "docs/_build/" in gitignore and "docs/generated/" in gitignore


def test_sphinx_configuration_renders_notebooks_without_running_them():
    pytest.importorskip("sphinx")
    conf = runpy.run_path(str(DOCS / "conf.py"))
    assert conf["nb_execution_mode"] == "off"
    assert "notebooks/*.ipynb" in conf["include_patterns"]
    assert conf["nitpicky"] is True
    # the tolerated docstring issues are named, one by one, and still refer to public names
    for name in conf["KNOWN_MISSING_DOCSTRINGS"]:
        assert name.split(".")[1] in bk.__all__, name
