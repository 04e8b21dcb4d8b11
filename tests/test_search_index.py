"""The faiss context index: the exact (flat) index returns what the streaming search returns."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import BANK_TEXT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bertviz_kit as bk
from bertviz_kit import InvalidParameterError

TEXTS = [
    BANK_TEXT,
    "the robber was seen at the bank",
    "hello world",
    "a good river and a bad river",
    "fishing on the bank of the mississippi",
    "stealing is bad",
    BANK_TEXT,  # a second copy: its query occurrence is left out too
    "the vault of the bank",
    "",
]


def _same(got, want, every=None):
    """Same cosines in the same order (to 1e-5) and the same occurrences; where cosines tie (copies of a
    text) at the cut, either may come back, so each is checked against ``every`` (all cosines)."""
    assert len(got) == len(want)
    assert [m.cosine for m in got] == pytest.approx([m.cosine for m in want], abs=1e-5)
    cut = want[-1].cosine + 1e-5 if want else 0.0
    assert ({(m.text_index, m.word_index) for m in got if m.cosine > cut}
            == {(m.text_index, m.word_index) for m in want if m.cosine > cut})
    by_id = {(m.text_index, m.word_index): m for m in (every if every is not None else want)}
    for g in got:
        w = by_id[(g.text_index, g.word_index)]
        assert g.cosine == pytest.approx(w.cosine, abs=1e-5)
        assert (g.word, g.snippet, g.span, g.text) == (w.word, w.snippet, w.span, w.text)
    assert len({(m.text_index, m.word_index) for m in got}) == len(got)
    assert (got.query, got.layer, got.subwords, got.query_span) == (want.query, want.layer, want.subwords,
                                                                    want.query_span)


@pytest.fixture(scope="module")
def store(tiny, tmp_path_factory):
    return bk.extract(tiny, TEXTS, tmp_path_factory.mktemp("store"), shard_size=2, progress=False)


@pytest.fixture(scope="module")
def faiss():
    return pytest.importorskip("faiss")


@pytest.mark.parametrize("subwords", ["mean", "first", "max"])
@pytest.mark.parametrize("layer", [0, 1, -1])
def test_flat_index_equals_streaming_search(tiny, store, faiss, layer, subwords):
    es = tiny.encode(TEXTS)
    e = es[0]
    for corpus in (es, store):
        index = bk.build_context_index(corpus, layer=layer, subwords=subwords)
        assert len(index) == int(corpus.word_counts().sum()) and index.kind == "flat"
        assert index.layer == layer % (tiny.n_layers + 1)
        for k in (1, 4, 10, 100):
            for word, occ in (("bank", -1), ("bank", 0), ("hello", None)):
                q = e if word != "hello" else es[2]
                every = bk.nearest_contexts(corpus, q, word, layer=layer, k=1000, occurrence=occ,
                                            subwords=subwords)
                want = bk.nearest_contexts(corpus, q, word, layer=layer, k=k, occurrence=occ, subwords=subwords)
                got = index.search(q, word, k=k, occurrence=occ)
                _same(got, want, every)
        a = BANK_TEXT.index("bank vault")
        _same(index.search(e, span=(a, a + 10), k=5),
              bk.nearest_contexts(corpus, e, span=(a, a + 10), layer=layer, k=5, subwords=subwords),
              bk.nearest_contexts(corpus, e, span=(a, a + 10), layer=layer, k=1000, subwords=subwords))


def test_query_outside_corpus_and_duplicates_left_out(tiny, faiss):
    es = tiny.encode(TEXTS)
    index = bk.build_context_index(es, layer=2)
    res = index.search(es[0], "bank", k=1000, occurrence=-1)
    w = bk.find(es[0], "bank")[-1]
    assert len(res) == len(index) - 2  # the query occurrence in both copies of the text
    assert (0, w) not in {(m.text_index, m.word_index) for m in res}
    assert (6, w) not in {(m.text_index, m.word_index) for m in res}
    other = tiny.encode("my bank is closed")
    assert len(index.search(other, "bank", k=1000)) == len(index)  # nothing left out


def test_approximate_kinds(tiny, store, faiss):
    es = tiny.encode(TEXTS * 8)
    e = es[0]
    want = bk.nearest_contexts(es, e, "bank", layer=1, k=10, occurrence=-1)
    every = bk.nearest_contexts(es, e, "bank", layer=1, k=10_000, occurrence=-1)
    ivf = bk.build_context_index(es, layer=1, kind="ivf", nlist=4, nprobe=4, train_size=200)
    assert ivf.nprobe == 4 and "nlist=4" in repr(ivf)
    _same(ivf.search(e, "bank", k=10, occurrence=-1), want, every)  # every list visited: exact
    ivf.nprobe = 1
    assert len(ivf.search(e, "bank", k=10, occurrence=-1)) <= 10
    hnsw = bk.build_context_index(es, layer=1, kind="hnsw", m=8, ef_search=200)
    got = hnsw.search(e, "bank", k=10, occurrence=-1)
    assert [m.cosine for m in got] == pytest.approx([m.cosine for m in want], abs=1e-5)  # 8 copies: many ties
    assert [m.cosine for m in got] == sorted((m.cosine for m in got), reverse=True)


def test_save_next_to_store_and_load(tiny, store, faiss):
    index = bk.build_context_index(store, layer=1, subwords="first")
    assert index.build_seconds > 0
    path = index.save()
    assert path == store.path / "context_index_layer1_first_flat" and (path / "index.faiss").is_file()
    again = bk.open_store(store.path)  # the store still opens with the index inside its folder
    assert len(again) == len(store)
    loaded = bk.load_context_index(path, again)
    assert repr(loaded) == repr(index) and loaded.build_seconds == 0
    e = tiny.encode(BANK_TEXT)
    _same(loaded.search(e, "bank", k=7, occurrence=-1), index.search(e, "bank", k=7, occurrence=-1))
    alone = bk.load_context_index(path)  # no corpus: the texts travel with the index
    assert alone.corpus is None and alone.texts == list(TEXTS)
    _same(alone.search(e, "bank", k=7, occurrence=-1), index.search(e, "bank", k=7, occurrence=-1))
    (path / "texts.json").write_text('["another text"]', encoding="utf-8")
    with pytest.raises(bk.CorruptStoreError, match="files of the index.*texts.json is damaged, or comes from another"):
        bk.load_context_index(path)


def test_load_refuses_another_corpus(tiny, store, faiss, tmp_path):
    es = tiny.encode(TEXTS)
    path = bk.build_context_index(es, layer=1).save(tmp_path / "idx")
    loaded = bk.load_context_index(path, tiny.encode(TEXTS))
    assert loaded.n_words == int(es.word_counts().sum())
    changed = list(TEXTS)
    changed[2] = "hello there"  # same word counts, other text
    with pytest.raises(InvalidParameterError, match="texts_sha256"):
        bk.load_context_index(path, tiny.encode(changed))
    with pytest.raises(InvalidParameterError, match="n_texts"):
        bk.load_context_index(path, tiny.encode(TEXTS[:-1]))
    with pytest.raises(InvalidParameterError, match="layer 1 is not stored"):
        bk.load_context_index(path, tiny.encode(TEXTS, layers=[0, 3]))
    with pytest.raises(FileNotFoundError, match="not a context index"):
        bk.load_context_index(tmp_path, es)
    with pytest.raises(InvalidParameterError, match="in-memory"):
        bk.build_context_index(es, layer=1).save()
    spath = bk.build_context_index(store, layer=1).save(tmp_path / "sidx")
    with pytest.raises(InvalidParameterError, match="store"):
        other = bk.extract(tiny, changed, tmp_path / "other", shard_size=2, progress=False)
        bk.load_context_index(spath, other)


def test_errors(tiny, faiss):
    es = tiny.encode(TEXTS)
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        bk.build_context_index(es, kind="lsh")
    with pytest.raises(InvalidParameterError, match="nlist and nprobe go with kind='ivf'"):
        bk.build_context_index(es, nlist=4)
    with pytest.raises(InvalidParameterError, match="did not\\s+store"):
        bk.build_context_index(tiny.encode(TEXTS, layers=[0, 3]), layer=1)
    with pytest.raises(InvalidParameterError, match="nlist must be at most"):
        bk.build_context_index(es, kind="ivf", nlist=10_000)
    index = bk.build_context_index(es, layer=1)
    with pytest.raises(InvalidParameterError, match="k must be"):
        index.search(es[0], "bank", k=0)
    with pytest.raises(InvalidParameterError, match="does not occur"):
        index.search(es[0], "castle")
    with pytest.raises(InvalidParameterError, match="no words"):
        bk.build_context_index(tiny.encode(["", ""]))


def test_without_faiss(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    es = tiny.encode(TEXTS[:3])
    with pytest.raises(ImportError, match=r"bertviz-kit\[search\]"):
        bk.build_context_index(es)
    with pytest.raises(ImportError, match="faiss-cpu"):
        bk.load_context_index("anywhere", es)
    assert bk.nearest_contexts(es, es[0], "bank", k=2)  # the exact search needs nothing more


def test_import_does_not_need_faiss():
    code = ("import sys; sys.modules['faiss'] = None; import bertviz_kit as bk; "
            "assert 'faiss' not in {m for m, v in sys.modules.items() if v is not None}; print(bk.INDEX_KINDS)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "flat" in out.stdout and np is not None


def _saved(tiny, tmp_path, layer=1, name="idx"):
    return bk.build_context_index(tiny.encode(TEXTS), layer=layer).save(tmp_path / name)


@pytest.mark.parametrize("damage", ["missing", "truncated faiss", "garbage tables", "meta", "deep meta",
                                    "version", "no checksums"])
def test_damaged_index_folder_is_a_corrupt_store(tiny, faiss, tmp_path, damage):
    path = _saved(tiny, tmp_path)
    meta = json.loads((path / "context_index.json").read_text())
    if damage == "missing":
        (path / "words.npz").unlink()
    elif damage == "truncated faiss":
        data = (path / "index.faiss").read_bytes()
        (path / "index.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "garbage tables":
        (path / "words.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    elif damage == "meta":
        (path / "context_index.json").write_text('{"format": "bertviz_kit.context_index", "version": 2')
    elif damage == "deep meta":
        (path / "context_index.json").write_text("[" * 100_000 + "]" * 100_000)
    elif damage == "version":
        (path / "context_index.json").write_text(json.dumps({**meta, "version": 7}))
    else:
        (path / "context_index.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "files"}))
    with pytest.raises(bk.CorruptStoreError, match="index"):
        bk.load_context_index(path)


def test_damaged_files_of_an_old_index_without_checksums_are_still_caught(tiny, faiss, tmp_path):
    path = _saved(tiny, tmp_path)
    meta = json.loads((path / "context_index.json").read_text())
    old = {**{k: v for k, v in meta.items() if k not in ("files", "model_fingerprint")}, "version": 1}
    (path / "context_index.json").write_text(json.dumps(old))
    assert bk.load_context_index(path, tiny.encode(TEXTS)).model_fingerprint == ""  # an old index loads
    data = (path / "index.faiss").read_bytes()
    (path / "index.faiss").write_bytes(data[:100])
    with pytest.raises(bk.CorruptStoreError, match="damaged"):
        bk.load_context_index(path)


def test_files_of_two_saves_are_refused(tiny, faiss, tmp_path):
    import shutil

    one = _saved(tiny, tmp_path, layer=1, name="one")
    two = _saved(tiny, tmp_path, layer=2, name="two")  # same texts and word counts, other layer's vectors
    for name in ("index.faiss", "words.npz", "texts.json"):
        mixed = tmp_path / f"mixed-{name}"
        shutil.copytree(one, mixed)
        shutil.copy(two / name, mixed / name)
        if (one / name).read_bytes() == (two / name).read_bytes():  # texts.json: the mix is harmless
            assert name != "index.faiss" and bk.load_context_index(mixed).layer == 1
            continue
        with pytest.raises(bk.CorruptStoreError, match=f"{name} is damaged, or comes from another save"):
            bk.load_context_index(mixed)
    assert not list(one.glob("*.tmp"))  # written atomically: no temporary file left


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=st.recursive(st.none() | st.booleans() | st.integers(-2, 10) | st.text(max_size=6),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                             st.sampled_from(["format", "version", "kind", "layer", "subwords", "dim", "n_texts",
                                              "n_words", "texts_sha256", "files", "store", "model"]),
                             inner, max_size=8), max_leaves=20))
def test_any_index_metadata_loads_or_is_a_corrupt_store(tiny, faiss, tmp_path, meta):
    path = tmp_path / "idx"
    if not path.exists():
        _saved(tiny, tmp_path)
    if isinstance(meta, dict) and "format" in meta:
        meta["format"] = "bertviz_kit.context_index"
    (path / "context_index.json").write_text(json.dumps(meta))
    try:
        bk.load_context_index(path)
    except bk.CorruptStoreError:
        pass
