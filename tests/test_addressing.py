"""One way to address words and tokens: word strings (case-insensitive, whole words) with
occurrence=k, word indices and token indices, the same in every function."""

from __future__ import annotations

import pytest

import bertviz_kit as bk
from bertviz_kit.vectors.addressing import describe_token, resolve_token, resolve_word


def test_occurrence_labels_of_the_bank_sentence(tiny_bank, bank):
    assert bk.occurrence_labels(tiny_bank, "bank") == ["bank vault", "bank robber", "river bank"]
    assert bk.occurrence_labels(bank, "BANK") == ["bank vault", "bank robber", "river bank"]
    # the words keep their case in the text; punctuation is never the context word
    assert bk.occurrence_labels(bank, "mississippi") == ["Mississippi river"]
    assert bk.occurrence_labels(bank, "vault") == ["bank vault"]
    assert bk.occurrence_labels(bank, "Mississippi", ignore_case=False) == ["Mississippi river"]
    with pytest.raises(bk.InvalidParameterError, match="word 'castle' does not occur in this text"):
        bk.occurrence_labels(bank, "castle")
    with pytest.raises(bk.InvalidParameterError, match="word 'mississippi' does not occur"):
        bk.occurrence_labels(bank, "mississippi", ignore_case=False)


def test_labels_match_find(tiny):
    e = tiny.encode("the bat flew. hello bat")
    assert bk.find(e, "bat") == [1, 5]
    assert bk.occurrence_labels(e, "bat") == ["bat flew", "hello bat"]
    assert bk.occurrence_labels(tiny.encode("bat"), "bat") == ["bat"]


def test_word_references(tiny_bank):
    e = tiny_bank
    for ref, occurrence, expected in [(5, None, 5), (-2, None, 18), ("bank", None, 5), ("Bank", 1, 9),
                                      ("bank", -1, 18), (("bank", 2), None, 18), ("VAULT", None, 6)]:
        assert resolve_word(e, ref, occurrence) == expected
    with pytest.raises(bk.InvalidParameterError, match=r"occurrence must be an int in \[-3, 2\]: 'bank' occurs 3 "
                                                       r"times \('bank vault', 'bank robber', 'river bank'\); got 3"):
        resolve_word(e, "bank", 3)
    with pytest.raises(bk.InvalidParameterError, match=r"occurrence must be an int in \[-1, 0\]: 'vault' occurs once"):
        resolve_word(e, "vault", 1)
    with pytest.raises(bk.InvalidParameterError, match="occurrence goes with a word string, not with a word index"):
        resolve_word(e, 5, 1)
    with pytest.raises(bk.InvalidParameterError, match="must be one word as the tokenizer splits words"):
        resolve_word(e, "bank vault")
    with pytest.raises(bk.InvalidParameterError, match=r"word must be a word index in \[-20, 19\], a word string"):
        resolve_word(e, 20)
    with pytest.raises(bk.InvalidParameterError, match="pair must be"):
        resolve_word(e, ("bank", 1, 2))


def test_token_references(tiny_bank):
    e = tiny_bank
    assert resolve_token(e, 6) == 6 and resolve_token(e, -1) == e.n_tokens - 1
    assert resolve_token(e, "bank") == 6 and resolve_token(e, word="bank", occurrence=2) == 19
    assert resolve_token(e, word=9) == 10
    assert resolve_token(e, "[SEP]") == e.n_tokens - 1 and resolve_token(e, "[CLS]") == 0
    assert resolve_token(e, default=0) == 0
    with pytest.raises(bk.InvalidParameterError, match="give token= or word=, not both"):
        resolve_token(e, 1, 1)
    with pytest.raises(bk.InvalidParameterError, match="give a token index, a word index or a word string"):
        resolve_token(e)
    assert describe_token(e, 6) == "word 5 'bank'" and describe_token(e, 0) == "'[CLS]'"


def test_split_words_are_found_whole(tiny):
    e = tiny.encode("the robbers hello")
    assert e.tokens == ("[CLS]", "the", "robber", "##s", "hello", "[SEP]")
    assert resolve_word(e, "ROBBERS") == 1 and resolve_token(e, "robbers") == 2
    assert describe_token(e, 3) == "word 1 'robbers', piece '##s'"
    with pytest.raises(bk.InvalidParameterError, match="'robber' is a piece of a longer word here"):
        resolve_word(e, "robber")


def test_layer_similarity_takes_the_same_references(tiny_bank):
    e = tiny_bank
    ref = bk.layer_similarity(e, 5, 18)
    for i, j in [("bank", ("bank", 2)), (("Bank", 0), -2), (5, ("BANK", -1))]:
        assert bk.layer_similarity(e, i, j).equal(ref)
    with pytest.raises(bk.InvalidParameterError, match="j 'castle' does not occur in this text"):
        bk.layer_similarity(e, "bank", "castle")
    with pytest.raises(bk.InvalidParameterError, match=r"occurrence must be an int in \[-3, 2\]"):
        bk.layer_similarity(e, ("bank", 3), 1)
