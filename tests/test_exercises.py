"""Answer checks of the exercises notebook: each recomputes the answer from the student's data."""

from __future__ import annotations

import pytest
import torch

import bertviz_kit as bk
from bertviz_kit._validation import InvalidParameterError

SENTENCES = [
    "A bat flew out of the cave at dusk.",
    "The bat hung upside down from the branch.",
    "He swung the bat and hit the ball over the fence.",
    "She bought a new cricket bat for the match.",
]
MEANING = ["animal", "animal", "sport", "sport"]


@pytest.fixture(scope="module")
def bats(tiny):
    return tiny.encode(SENTENCES, attentions=True)


def _slow_pairs(es, layer):
    """Same / different meaning means from one vector per sentence, pair by pair."""
    vecs = []
    for e in es:
        w = bk.find(e, "bat")[0]
        toks = [t for t, wid in enumerate(e.word_ids) if wid == w]
        vecs.append(e.hidden_states[layer, toks].mean(0))
    same, diff = [], []
    for i in range(len(vecs)):
        for j in range(len(vecs)):
            if i != j:
                c = float(torch.nn.functional.cosine_similarity(vecs[i], vecs[j], dim=0))
                (same if MEANING[i] == MEANING[j] else diff).append(c)
    return sum(same) / len(same), sum(diff) / len(diff)


@pytest.mark.parametrize("layer", [0, 1, -1])
def test_meaning_gap_matches_a_pair_by_pair_computation(bats, layer):
    got = bk.exercises.meaning_gap(bats, "bat", MEANING, layer)
    assert got == pytest.approx(_slow_pairs(bats, layer), abs=1e-5)


def test_checks_say_correct_or_give_a_hint(bats, capsys):
    right = _slow_pairs(bats, 2)
    assert bk.exercises.check_meaning_gap(right, bats, "bat", MEANING, layer=2) is True
    assert "exercise 1: correct" in capsys.readouterr().out
    wrong = (right[0] + 0.05, right[1])  # e.g. the diagonal (cosine 1) averaged in
    assert bk.exercises.check_meaning_gap(wrong, bats, "bat", MEANING, layer=2) is False
    assert "not yet. Hint:" in capsys.readouterr().out


def test_attention_targets_leave_out_specials_the_word_and_its_neighbours(bats):
    e = bats[2]
    targets = bk.exercises.attention_targets(e, "bat")
    assert len(targets) == e.attentions.shape[0]
    w = bk.find(e, "bat")[0]
    own = [t for t, wid in enumerate(e.word_ids) if wid == w]
    banned = {0, len(e.tokens) - 1, *own, own[0] - 1, own[-1] + 1}  # [CLS], [SEP], the word, its neighbours
    for layer in range(e.attentions.shape[0]):  # by hand: heads averaged, the largest allowed weight
        row = e.attentions[layer, :, own[0]].mean(0)
        best = max((k for k in range(len(e.tokens)) if k not in banned), key=lambda k: float(row[k]))
        assert targets[layer] == e.tokens[best]
    with_neighbours = bk.exercises.attention_targets(e, "bat", neighbours="include")
    assert len(with_neighbours) == len(targets)
    assert bk.exercises.check_attention_targets(targets, e, "bat") is True
    assert bk.exercises.check_attention_targets(["the"] * len(targets), e, "bat") is (targets == ["the"] * len(targets))


def test_outlier_dimension_counts_every_non_special_token(bats):
    dim, wins, total = bk.exercises.outlier_dimensions(bats, -1)
    states = torch.cat([e.hidden_states[-1][1:-1] for e in bats])  # [CLS] first, [SEP] last
    assert total == states.shape[0]
    counts = torch.bincount(states.abs().argmax(-1), minlength=states.shape[1])
    assert (dim, wins) == (int(counts.argmax()), int(counts.max()))
    assert bk.exercises.check_outlier_dimensions(dim, bats, -1) is True
    assert bk.exercises.check_outlier_dimensions(dim + 1, bats, -1) is False


def test_widest_gap_is_the_argmax_of_the_gap_curve(bats):
    gaps = [(_slow_pairs(bats, k)[0] - _slow_pairs(bats, k)[1]) for k in range(len(bats.layer_ids))]
    assert bk.exercises.widest_gap(bats, "bat", MEANING) == max(range(len(gaps)), key=gaps.__getitem__)
    assert bk.exercises.check_widest_gap(bk.exercises.widest_gap(bats, "bat", MEANING), bats, "bat", MEANING)


def test_bad_input_is_named(bats, tiny):
    with pytest.raises(InvalidParameterError, match="one label per sentence"):
        bk.exercises.meaning_gap(bats, "bat", MEANING[:3], 1)
    with pytest.raises(InvalidParameterError, match="at least two different meanings"):
        bk.exercises.meaning_gap(bats, "bat", ["x"] * 4, 1)
    with pytest.raises(InvalidParameterError, match="exactly once"):
        bk.exercises.meaning_gap(bats, "the", MEANING, 1)
    with pytest.raises(InvalidParameterError, match="layer must be an int"):
        bk.exercises.meaning_gap(bats, "bat", MEANING, 99)
    with pytest.raises(InvalidParameterError, match="attentions=True"):
        bk.exercises.attention_targets(tiny.encode(SENTENCES[0]), "bat")
    with pytest.raises(InvalidParameterError, match="pair of numbers"):
        bk.exercises.check_meaning_gap(0.5, bats, "bat", MEANING, 1)
    with pytest.raises(InvalidParameterError, match="an int"):
        bk.exercises.check_widest_gap("3", bats, "bat", MEANING)


def test_no_answer_yet_is_said_not_raised(bats, capsys):
    e = bats[2]
    assert not bk.exercises.check_meaning_gap(None, bats, "bat", MEANING, layer=1)
    assert not bk.exercises.check_attention_targets(None, e, "bat")
    assert not bk.exercises.check_outlier_dimensions(None, bats, layer=1)
    assert not bk.exercises.check_widest_gap(None, bats, "bat", MEANING)
    out = capsys.readouterr().out
    assert [f"exercise {k}: no answer yet: set answer{k}" in out for k in range(1, 5)] == [True] * 4
