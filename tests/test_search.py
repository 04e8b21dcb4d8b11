"""Nearest contexts: the streaming exact search equals brute-force cosine over all word occurrences."""

from __future__ import annotations

import pytest
import torch
from conftest import BANK_TEXT

import bertviz_kit as bk
from bertviz_kit.validation import InvalidParameterError

TEXTS = [
    BANK_TEXT,
    "the robber was seen at the bank",
    "hello world",
    "a good river and a bad river",
    "fishing on the bank of the mississippi",
    "stealing is bad",
    "the vault of the bank",
]


def _brute(items, e, word_idx, layer, subwords):
    """Every (text, word, cosine) with a slow per-word loop, the query itself left out."""
    def vec(enc, w):
        h = enc.hidden_states[layer][[t for t, x in enumerate(enc.word_ids) if x == w]].float()
        return {"mean": h.mean(0), "first": h[0], "last": h[-1], "sum": h.sum(0), "max": h.max(0).values}[subwords]

    q = vec(e, word_idx)
    rows = []
    for i, it in enumerate(items):
        for w in range(it.n_words):
            if it.text == e.text and w == word_idx:
                continue
            rows.append((i, w, float(torch.nn.functional.cosine_similarity(vec(it, w), q, dim=0))))
    return sorted(rows, key=lambda r: -r[2])


def _same(results, ref, k):
    assert len(results) == min(k, len(ref))
    got = [r.cosine for r in results]
    want = [r[2] for r in ref[: len(results)]]
    assert got == pytest.approx(want, abs=2e-4)
    for r in results:  # each match is a real occurrence with its brute-force cosine
        match = [x for x in ref if x[0] == r.text_index and x[1] == r.word_index]
        assert match and match[0][2] == pytest.approx(r.cosine, abs=2e-4)
    assert len({(r.text_index, r.word_index) for r in results}) == len(results)


@pytest.fixture(scope="module")
def store(tiny, tmp_path_factory):
    return bk.extract(tiny, TEXTS, tmp_path_factory.mktemp("store"), shard_size=2, progress=False)


@pytest.mark.parametrize("subwords", ["mean", "first", "max"])
@pytest.mark.parametrize("layer", [0, 1, -1])
@pytest.mark.parametrize("block", [None, 5])
def test_matches_brute_force(tiny, store, monkeypatch, subwords, layer, block):
    if block is not None:
        monkeypatch.setattr(bk.Corpus, "_block_tokens", lambda self, max_tokens=None: block)  # many small blocks
    items = [tiny.encode(t) for t in TEXTS]
    e = items[0]
    w = bk.find(e, "bank")[-1]
    ref = _brute(items, e, w, layer, subwords)
    for corpus in (tiny.encode(TEXTS), store, items):
        for k in (1, 4, 10):
            res = bk.nearest_contexts(corpus, e, "bank", layer=layer, k=k, occurrence=-1, subwords=subwords)
            _same(res, ref, k)
            assert all((r.text_index, r.word_index) != (0, w) for r in res)


def test_k_larger_than_candidates(tiny):
    texts = ["hello world", "good bad"]
    es = tiny.encode(texts)
    res = bk.nearest_contexts(es, es[0], "hello", k=50)
    assert len(res) == 3  # four words, the query left out
    assert [r.cosine for r in res] == sorted((r.cosine for r in res), reverse=True)


def test_query_outside_corpus_and_snippet(tiny):
    es = tiny.encode(TEXTS[1:])
    e = tiny.encode(BANK_TEXT)
    res = bk.nearest_contexts(es, e, "bank", k=100, layer=0)
    assert len(res) == sum(x.n_words for x in es)  # nothing left out: the query text is not in the corpus
    top = res[0]
    assert top.word == es.words(top.text_index)[top.word_index]
    assert f"[[{top.word}]]" in top.snippet and "[[" not in str(res[-1]).split("]]")[1]
    snip = bk.nearest_contexts(es, e, "bank", k=1, layer=0, context=3)[0].snippet
    assert snip.count("[[") == 1 and len(snip) <= 3 + 2 + len("bank") + 2 + 3 + 6


def test_span_query_equals_word_query(tiny):
    es = tiny.encode(TEXTS)
    e = es[0]
    a = BANK_TEXT.index("vault")
    by_span = bk.nearest_contexts(es, e, span=(a, a + 5), k=5)
    by_word = bk.nearest_contexts(es, e, "vault", k=5)
    assert by_span == by_word


def test_errors(tiny, minilm):
    es = tiny.encode(TEXTS)
    e = es[0]
    with pytest.raises(InvalidParameterError, match="does not occur"):
        bk.nearest_contexts(es, e, "castle")
    with pytest.raises(InvalidParameterError, match="layer"):
        bk.nearest_contexts(es, e, "bank", layer=9)
    with pytest.raises(InvalidParameterError, match="k must be"):
        bk.nearest_contexts(es, e, "bank", k=0)
    with pytest.raises(InvalidParameterError, match="corpus must be"):
        bk.nearest_contexts("texts", e, "bank")
    with pytest.raises(InvalidParameterError, match="width"):
        bk.nearest_contexts(es, minilm.encode("the bank"), "bank")
    with pytest.raises(InvalidParameterError, match="span"):
        bk.nearest_contexts(es, e, span=(500, 600))
    with pytest.raises(InvalidParameterError, match="not both"):
        bk.nearest_contexts(es, e, "bank", span=(0, 3))
    part = tiny.encode(TEXTS, layers=[0, 3])
    with pytest.raises(InvalidParameterError, match="did not\\s+store"):
        bk.nearest_contexts(part, e, "bank", layer=1)
