"""The public face, ``bk.*``, is checked against a committed list so nothing disappears by accident.

When a name is added on purpose, add it to ``tests/public_api.txt`` (one name per line, sorted).
"""

from pathlib import Path

import bertviz_kit as bk

API = Path(__file__).with_name("public_api.txt")


def test_all_matches_the_committed_list():
    expected = API.read_text().split()
    assert expected == sorted(expected), "keep public_api.txt sorted"
    assert sorted(bk.__all__) == expected


def test_all_has_no_duplicates():
    assert len(bk.__all__) == len(set(bk.__all__))


def test_every_public_name_resolves():
    missing = [name for name in bk.__all__ if not hasattr(bk, name)]
    assert not missing


def test_plot_cka_is_public():
    assert "plot_cka" in bk.__all__ and callable(bk.plot_cka)
