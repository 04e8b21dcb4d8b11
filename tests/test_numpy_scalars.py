"""NumPy scalars are accepted wherever Python ints, floats and bools are, and reach the body as Python values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import BANK_TEXT
from hypothesis import given, settings
from hypothesis import strategies as st

import bertviz_kit as bk
from bertviz_kit._validation import Boolean, Instance, Interval, as_index, as_python, validate_params
from bertviz_kit.layers import resolve_layer, resolve_layers

INT_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_TYPES = [np.float16, np.float32, np.float64]
ints = st.sampled_from(INT_TYPES)
floats = st.sampled_from(FLOAT_TYPES)


def np_int(kind, value):
    return kind(value) if np.iinfo(kind).min <= value <= np.iinfo(kind).max else None


@given(kind=ints, value=st.integers(-300, 300))
def test_interval_of_ints_accepts_numpy_ints_as_python_does(kind, value):
    v = np_int(kind, value)
    if v is None:
        return
    for rule in (Interval(int), Interval(int, 0), Interval(int, -5, 5), Interval(float, 1, closed="neither")):
        assert rule.ok(v) == rule.ok(value)


@given(kind=floats, value=st.floats(-1e4, 1e4, allow_nan=False))
def test_interval_of_floats_accepts_numpy_floats(kind, value):
    v = kind(value)
    for rule in (Interval(float), Interval(float, 0), Interval(float, 0, 1, closed="neither")):
        assert rule.ok(v) == rule.ok(float(v))
    assert not Interval(int).ok(v)  # a float is not an int, NumPy or not


@given(kind=floats)
def test_non_finite_numpy_floats_are_refused(kind):
    for bad in (kind("nan"), kind("inf"), kind("-inf")):
        assert not Interval(float).ok(bad)


@given(flag=st.booleans())
def test_numpy_bools_are_bools_not_ints(flag):
    assert Boolean().ok(np.bool_(flag))
    assert not Interval(int).ok(np.bool_(flag)) and not Interval(float).ok(np.bool_(flag))
    assert not Instance(int).ok(np.bool_(flag)) and Instance(bool).ok(np.bool_(flag))
    assert not isinstance(as_index(np.bool_(flag)), int)  # not turned into an index


@validate_params({"i": Interval(int), "x": Interval(float), "flag": Boolean(), "items": Instance(list)})
def _seen(i, x=0.0, flag=False, items=None):
    return i, x, flag, items


@given(kind=ints, fkind=floats, value=st.integers(0, 100), flag=st.booleans())
def test_the_body_sees_python_values(kind, fkind, value, flag):
    i, x, f, items = _seen(kind(value), x=fkind(value), flag=np.bool_(flag), items=[np.int64(1)])
    assert type(i) is int and i == value
    assert type(x) is float and x == float(fkind(value))
    assert type(f) is bool and f is flag
    assert type(items[0]) is np.int64  # only the arguments themselves are converted


@given(kind=ints, value=st.integers(-4, 3))
def test_layer_specs_take_numpy_ints(kind, value):
    v = np_int(kind, value)
    if v is None:
        return
    assert resolve_layer(v, 3) == resolve_layer(value, 3) and type(resolve_layer(v, 3)) is int
    assert resolve_layers(v, 3) == resolve_layers(value, 3)
    assert resolve_layers([v, v], 3) == resolve_layers([value, value], 3)
    assert all(type(i) is int for i in resolve_layers([v], 3)[0])


def test_layer_specs_refuse_numpy_bools_and_floats():
    for bad in (np.bool_(True), np.float64(1.0)):
        with pytest.raises(bk.InvalidParameterError, match="layer must be an int in"):
            resolve_layer(bad, 3)
        with pytest.raises(bk.InvalidParameterError, match="layers must be an int in"):
            resolve_layers([bad], 3)


def test_as_python():
    assert type(as_python(np.float32(0.5))) is float and type(as_python(np.int16(3))) is int
    assert as_python("x") == "x" and type(as_python(np.bool_(True))) is bool


@pytest.fixture(scope="module")
def corpus(tiny):
    return tiny.encode([BANK_TEXT, "the river bank was muddy", "a bank loan"])


@settings(max_examples=20, deadline=None)
@given(kind=ints, layer=st.integers(-4, 3))
def test_public_functions_take_numpy_layers(tiny_bank, corpus, kind, layer):
    v = np_int(kind, layer)
    if v is None:
        return
    assert torch.equal(bk.word_vectors(tiny_bank, layers=v), bk.word_vectors(tiny_bank, layers=layer))
    assert torch.equal(bk.sentence_vectors(tiny_bank, layers=v)[0], bk.sentence_vectors(tiny_bank, layers=layer)[0])
    assert torch.equal(bk.sentence_vectors(corpus, layers=v), bk.sentence_vectors(corpus, layers=layer))
    assert torch.equal(bk.static_embeddings(corpus, ["bank"], layer=v),
                       bk.static_embeddings(corpus, ["bank"], layer=layer))


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from([np.int16, np.int32, np.int64, np.uint8]), i=st.integers(0, 2),
       k=st.integers(1, 3), fkind=floats, flag=st.booleans())
def test_public_functions_take_numpy_indices_counts_and_flags(tiny_bank, corpus, kind, i, k, fkind, flag):
    assert corpus[kind(i)].text == corpus[i].text
    assert corpus.words(kind(i)) == corpus.words(i) and corpus.text_tokens(kind(i)) == corpus.text_tokens(i)
    assert bk.find(tiny_bank, "bank", ignore_case=np.bool_(flag)) == bk.find(tiny_bank, "bank", ignore_case=flag)
    w = bk.find(tiny_bank, "bank")[0]
    assert torch.equal(bk.layer_similarity(tiny_bank, kind(w), kind(w + 1)), bk.layer_similarity(tiny_bank, w, w + 1))
    assert torch.equal(bk.layer_similarity(tiny_bank, ("bank", kind(0)), 1), bk.layer_similarity(tiny_bank, "bank", 1))
    a = torch.randn(3, 4)
    assert torch.equal(bk.cosine(a, eps=fkind(1e-3)), bk.cosine(a, eps=float(fkind(1e-3))))
    got = bk.nearest_contexts(corpus, tiny_bank, "bank", layer=kind(2), k=kind(k))
    want = bk.nearest_contexts(corpus, tiny_bank, "bank", layer=2, k=k)
    assert [(m.text_index, m.word_index) for m in got] == [(m.text_index, m.word_index) for m in want]
    assert got.layer == 2 and type(got.layer) is int


def test_store_indexing_takes_numpy_ints(tiny, tmp_path):
    texts = [BANK_TEXT, "the river bank was muddy", "a bank loan"]
    store = bk.extract(tiny, texts, tmp_path / "s", shard_size=2, progress=False)
    for kind in INT_TYPES:
        assert store[kind(2)].text == texts[2]
        assert store.shard(kind(1)).texts == (texts[2],)
    with pytest.raises(IndexError):
        store[np.bool_(True)]  # a bool is not an index


def test_plots_take_numpy_scalars(tiny_bank):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = bk.plot_histogram(tiny_bank, token=np.int64(2), layer=np.int32(-1), bins=np.int64(10))
    assert ax.get_title() == bk.plot_histogram(tiny_bank, token=2, layer=-1, bins=10).get_title()
    bk.plot_attention(tiny_bank, layer=np.int64(1), head=np.int8(0), colorbar=np.bool_(False))
    plt.close("all")
