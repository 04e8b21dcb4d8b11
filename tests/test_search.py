"""Nearest contexts: the streaming exact search equals brute-force cosine over all word occurrences."""

from __future__ import annotations

import pytest
import torch
from conftest import BANK_TEXT

import bertviz_kit as bk
from bertviz_kit import InvalidParameterError

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


def test_result_carries_query_and_layer(tiny):
    es = tiny.encode(TEXTS)
    res = bk.nearest_contexts(es, es[0], "bank", layer=-1, k=3, occurrence=-1)
    assert isinstance(res, bk.ContextMatches) and isinstance(res, list)
    assert res.query == "bank" and res.layer == tiny.n_layers and res.subwords == "mean"
    a, z = res.query_span
    assert res.query_text == BANK_TEXT and BANK_TEXT[a:z] == "bank" and a == BANK_TEXT.rindex("bank")
    assert res == list(res) and type(res[:2]) is list and res[0] is list(res)[0]
    m = res[0]
    assert m.text == TEXTS[m.text_index] and m.text[m.span[0]:m.span[1]] == m.word
    assert "text=" not in repr(m) and "ContextMatches(query='bank'" in repr(res)
    a = BANK_TEXT.index("bank vault")
    by_span = bk.nearest_contexts(es, es[0], span=(a, a + 10), layer=0, k=2)
    assert by_span.query == "bank vault" and by_span.layer == 0 and by_span.query_span == (a, a + 10)


# ---------------------------------------------------------------------------
# plot_nearest_contexts
# ---------------------------------------------------------------------------

LONG = ("this sentence runs on for a long while before it reaches the bank and then it keeps going "
        "well past any sensible width for one row of a figure")


def _texts(ax):
    return [t for t in ax.texts]


@pytest.fixture()
def _agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_plot_nearest_contexts(tiny, _agg):
    es = tiny.encode(TEXTS + [LONG])
    res = bk.nearest_contexts(es, es[0], "bank", layer=1, k=6, occurrence=-1)
    ax = bk.plot_nearest_contexts(res, width=20)
    assert ax.get_title() == "nearest contexts of 'bank' at layer 1 (subwords: mean)"
    assert ax.get_xlabel() and ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["q"] + [str(i) for i in range(1, 7)]
    texts = _texts(ax)
    bold = [t for t in texts if t.get_fontweight() == "bold"]
    assert len(bold) == 7 and {t.get_text().lower() for t in bold[1:]} == {m.word.lower() for m in res}
    numbers = [float(t.get_text()) for t in texts if t.get_text().strip().replace(".", "", 1).isdigit()]
    assert numbers == pytest.approx([round(m.cosine, 3) for m in res], abs=1e-3)
    assert all(len(t.get_text()) <= 20 for t in texts if t.get_fontweight() != "bold" and "█" not in t.get_text())
    assert all(t.get_clip_on() for t in texts)
    ax.figure.canvas.draw()  # lays out without errors


def test_plot_nearest_contexts_trims_long_sentences(_agg):
    a = LONG.index("bank")
    m = bk.ContextMatch(0, 12, "bank", 0.3, "", span=(a, a + 4), text=LONG)
    ax = bk.plot_nearest_contexts([m], width=15)
    left, match, right = (t.get_text() for t in ax.texts[-3:])
    assert (left, match, right) == ("…t reaches the", "bank", "and then it k…")  # spaces become gaps
    m = bk.ContextMatch(0, 0, "cost", 0.2, "", span=(3, 7), text="it cost $5 or $\\frac at the bank\ntoday")
    ax = bk.plot_nearest_contexts([m])
    assert ax.texts[-1].get_text() == "$5 or $\\frac at the bank today" and not ax.texts[-1].get_parse_math()
    ax.figure.canvas.draw()  # no mathtext error on dollar signs


def test_plot_nearest_contexts_sorts_any_list_and_uses_given_ax(tiny, _agg):
    import matplotlib.pyplot as plt

    es = tiny.encode(TEXTS)
    res = bk.nearest_contexts(es, es[0], "bank", layer=0, k=4)
    shuffled = [res[2], res[0], res[3], res[1]]
    fig, given = plt.subplots(figsize=(9, 3))
    ax = bk.plot_nearest_contexts(shuffled, ax=given, title="mine")
    assert ax is given and len(plt.get_fignums()) == 1 and ax.get_title() == "mine"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3", "4"]  # a plain list: no query row
    bold = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert bold == [m.word for m in res]  # best first, whatever the order given
    hand = [bk.ContextMatch(0, 1, "bank", 0.5, "...from the [[bank]] vault...")]
    ax = bk.plot_nearest_contexts(hand)
    assert [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"] == ["bank"]
    assert ax.get_title() == "nearest contexts"
    ax = bk.plot_nearest_contexts(res, show_query=False)
    assert "q" not in [t.get_text() for t in ax.get_yticklabels()]


def test_plot_nearest_contexts_errors(tiny, _agg):
    es = tiny.encode(TEXTS)
    res = bk.nearest_contexts(es, es[0], "bank", k=2)
    with pytest.raises(InvalidParameterError, match="matches must be"):
        bk.plot_nearest_contexts("bank")
    with pytest.raises(InvalidParameterError, match="empty"):
        bk.plot_nearest_contexts([])
    with pytest.raises(InvalidParameterError, match="width must be"):
        bk.plot_nearest_contexts(res, width=0)
    with pytest.raises(InvalidParameterError, match="ax must be"):
        bk.plot_nearest_contexts(res, ax="left")


@pytest.mark.parametrize("dpi", [72, 100, 200])
def test_plot_nearest_contexts_rows_do_not_overlap(tiny, _agg, dpi):
    es = tiny.encode(TEXTS + [LONG])
    res = bk.nearest_contexts(es, es[0], "bank", layer=1, k=8, occurrence=-1)
    ax = bk.plot_nearest_contexts(res)
    fig = ax.figure
    fig.set_dpi(dpi)
    r = fig.canvas.get_renderer()
    fig.canvas.draw()
    rows = {}
    for t in ax.texts:
        box = t.get_window_extent(r)
        rows.setdefault(round(box.y0 + box.height / 2), []).append((box.x0, box.x1, t.get_text()))
    for cells in rows.values():  # left to right, no two pieces of one row overlap
        cells.sort()
        for (_, a1, ta), (b0, _, tb) in zip(cells, cells[1:]):
            assert a1 <= b0 + 0.5, (ta, tb, a1, b0)
    axes_box = ax.get_window_extent(r)
    bold = [t.get_window_extent(r) for t in ax.texts if t.get_fontweight() == "bold"]
    assert max(b.x0 for b in bold) - min(b.x0 for b in bold) < 1.0  # matches in one column
    assert all(axes_box.x0 <= b.x0 and b.x1 <= axes_box.x1 for b in bold)
