"""The example texts shipped with the package."""

from __future__ import annotations

import bertviz_kit as bk


def test_bank_text_is_the_tutorials_sentence(tiny):
    e = tiny.encode(bk.BANK_TEXT)
    assert e.text.startswith("After stealing money from the bank vault")
    assert len(bk.find(e, "bank")) == 3


def test_bank_senses_have_one_bank_per_sentence(tiny):
    assert set(bk.BANK_SENSES) == {"money", "river"}
    texts = [t for sense in ("money", "river") for t in bk.BANK_SENSES[sense]]
    assert len(texts) == 20 == len(set(texts))
    where = bk.find_occurrences(tiny.encode(texts), "bank")
    assert [i for i, _ in where] == list(range(20))
