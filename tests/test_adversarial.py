"""Hostile and unlucky inputs: each case found by probing the toolkit, kept as a test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import bertviz_kit as bk


def test_lone_surrogate_gets_a_clear_error(tiny):
    with pytest.raises(bk.InvalidParameterError, match=r"texts\[1\] holds a lone surrogate '\\ud800' at character 2"):
        tiny.encode(["fine", "a \ud800 b"])
    with pytest.raises(bk.InvalidParameterError, match="the text holds a lone surrogate"):
        tiny.encode("\udcff")


@pytest.mark.parametrize("text", ["line\u2028separator\u2029paragraph", "zero\u200bwidth", "tab\tand\r\nnewline",
                                  "\ufeffbom", "e\u0301", "\U0001F3E6 bank \U0001F30A", "a" * 3000])
def test_odd_unicode_keeps_offsets_valid(tiny, text):
    e = tiny.encode(text)
    assert all(0 <= a <= b <= len(text) for a, b in e.offsets)
    assert e.words == tuple(text[a:b] for a, b in e.word_spans)


def test_numpy_and_pandas_style_inputs(tiny):
    arr = np.array(["the bank", "hello world"])
    es = tiny.encode(arr)
    assert isinstance(es, bk.Encodings) and es.texts == ("the bank", "hello world")

    class Series:  # what pandas offers: tolist()
        def __init__(self, values):
            self.values = values

        def tolist(self):
            return list(self.values)

    assert tiny.encode(Series(["the bank"])).texts == ("the bank",)
    res = bk.probe_layers(torch.randn(2, 12, 4, generator=torch.Generator().manual_seed(0)),
                          np.array([0, 1] * 6), cv=2)
    assert res.mean.shape == (2,)


def test_cosine_numeric_extremes():
    big = torch.tensor([[1e30, 1e30], [3e38, -3e38]])
    tiny_v = torch.tensor([[1e-30, 1e-30], [1e-40, 0.0]])
    assert torch.allclose(bk.cosine(big), torch.tensor([[1.0, 0.0], [0.0, 1.0]]), atol=1e-6)
    assert torch.allclose(bk.cosine(tiny_v), torch.tensor([[1.0, 0.7071], [0.7071, 1.0]]), atol=1e-4)
    assert bk.cosine(torch.zeros(3), torch.ones(3)).item() == 0.0  # a zero vector: 0, never NaN
    half = torch.tensor([[60000.0, 60000.0]], dtype=torch.float16)
    assert torch.allclose(bk.cosine(half), torch.ones(1, 1))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(bk.InvalidParameterError, match="a holds NaN or infinite values"):
            bk.cosine(torch.tensor([bad, 1.0]), torch.ones(2))


def test_float16_overflow_is_refused(tiny):
    with torch.no_grad():
        model = tiny.model
        norm = model.embeddings.LayerNorm.weight  # scales the embedding output (stored layer 0)
        saved = norm.clone()
        norm.mul_(1e6)
        try:
            with pytest.raises(bk.InvalidParameterError, match="dtype='float16' cannot hold these hidden states"):
                tiny.encode(["the bank"], dtype="float16")
            assert torch.isfinite(tiny.encode(["the bank"], dtype="bfloat16").hidden).all()
        finally:
            norm.copy_(saved)


@pytest.mark.parametrize("shards", [
    [{"file": "shard-00000.safetensors", "start": 5, "count": 3}],
    [{"file": "shard-00000.safetensors", "start": 0, "count": -1}],
    [{"file": "shard-00000.safetensors", "start": "0", "count": 3}],
    [{"file": "/etc/passwd", "start": 0, "count": 3}],
    [{"file": ".lock", "start": 0, "count": 3}],
])
def test_crafted_manifests_are_refused(tiny, tmp_path, shards):
    store = bk.extract(tiny, ["a b", "c", "d e f"], tmp_path / "s", progress=False)
    m = json.loads((store.path / "manifest.json").read_text())
    m["shards"] = shards
    (store.path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(bk.CorruptStoreError):
        bk.open_store(store.path)


def test_crafted_shard_header_is_refused(tiny, tmp_path):
    import struct

    store = bk.extract(tiny, ["a b", "c"], tmp_path / "s", progress=False)
    file = store.path / store.manifest["shards"][0]["file"]
    data = file.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = data[8 : 8 + n]
    assert b'"dtype":"F16"' in header
    file.write_bytes(data[:8] + header.replace(b'"dtype":"F16"', b'"dtype":"F64"', 1) + data[8 + n :])
    reader = bk.open_store(store.path, verify=False)  # even without the checksum
    with pytest.raises(bk.CorruptStoreError, match="lies outside the file or has an unknown dtype"):
        reader[0]


# -- an adversarial round over the newer features -------------------------------------------
# Each probe is a bad or edge input with what must happen: a clear error (InvalidParameterError
# or ValueError naming the problem, never a raw IndexError / KeyError / TypeError from inside)
# or a finite result.

@pytest.fixture(scope="module")
def one_head(tmp_path_factory):
    from conftest import make_tiny_model

    return bk.load(make_tiny_model(tmp_path_factory.mktemp("one"), n_layers=1, heads=1, hidden=8), device="cpu")


@pytest.fixture(scope="module")
def kit(tiny, one_head):
    bank = tiny.encode("the bank robber robs the bank by the river", attentions=True)
    return {
        "bank": bank,
        "empty": tiny.encode("", attentions=True),
        "zw": tiny.encode("zero\u200bwidth \u200d bank", attentions=True),
        "long": tiny.encode("bank " * 100),
        "corpus": tiny.encode(["the bank", "the bank", "a river bank", "hello world"]),
        "r": bk.layer_internals(bank, 1, tiny),
        "one": one_head.encode("the bank", attentions=True),
    }


ERRORS = {  # probe -> (call, the message's start)
    "internals layer 0": (lambda t, k: bk.layer_internals(k["bank"], 0, t), "layer must be an int in"),
    "internals layer beyond": (lambda t, k: bk.layer_internals(k["bank"], 4, t), "layer must be an int in"),
    "internals bool layer": (lambda t, k: bk.layer_internals(k["bank"], True, t), "layer must be an int in"),
    "internals windowed text": (lambda t, k: bk.layer_internals(k["long"], 1, t), "e has 102 tokens"),
    "mixing windowed text": (lambda t, k: bk.context_mixing(k["long"], "norm", enc=t), "e has 102 tokens"),
    "neurons windowed text": (lambda t, k: bk.top_neurons(k["long"], "bank", enc=t), "e has 102 tokens"),
    "qk head beyond": (lambda t, k: bk.query_key_products(k["r"], 4, 0), "head must be an int in"),
    "qk head below": (lambda t, k: bk.query_key_products(k["r"], -5, 0), "head must be an int in"),
    "qk token beyond": (lambda t, k: bk.query_key_products(k["r"], 0, 10_000), "token must be an int in"),
    "qk token str": (lambda t, k: bk.query_key_products(k["r"], 0, "bank"), "token must be an int"),
    "mixing bad method": (lambda t, k: bk.context_mixing(k["bank"], "nope", enc=t), "method must be one of"),
    "mixing without enc": (lambda t, k: bk.context_mixing(k["bank"], "norm"), "method='norm' needs enc="),
    "mixing batch 0": (lambda t, k: bk.context_mixing(k["bank"], "norm", enc=t, batch_size=0), "batch_size"),
    "mixing agreement of two texts": (lambda t, k: bk.mixing_agreement(
        bk.context_mixing(k["bank"], "norm", enc=t), bk.context_mixing(k["zw"], "norm", enc=t)), "a and b must"),
    "fill_mask without a head": (lambda t, k: bk.fill_mask(t, "the [MASK]"), "fill_mask needs a checkpoint"),
    "fill_mask list": (lambda t, k: bk.fill_mask(t, ["the [MASK]"]), "text must be a str"),
    "neurons k 0": (lambda t, k: bk.top_neurons(k["bank"], "bank", k=0, enc=t), "k must be an int >= 1; got 0"),
    "neurons k beyond": (lambda t, k: bk.top_neurons(k["bank"], "bank", k=10**6, enc=t), "k must be an int in"),
    "neurons absent word": (lambda t, k: bk.top_neurons(k["bank"], "zebra", enc=t), "word 'zebra' does not"),
    "neurons empty text": (lambda t, k: bk.top_neurons(k["empty"], None, enc=t), "give a token index"),
    "neurons word and token": (lambda t, k: bk.top_neurons(k["bank"], "bank", token=0, enc=t), "give token= or"),
    "lens k 0": (lambda t, k: bk.lens(k["bank"], "bank", k=0, enc=t), "k must be an int"),
    "lens bad kind": (lambda t, k: bk.lens(k["bank"], "bank", kind="nope", enc=t), "kind must be one of"),
    "lens empty text": (lambda t, k: bk.lens(k["empty"], None, enc=t), "give a word"),
    "html empty text": (lambda t, k: bk.html_view(k["empty"]), "e has no words to explore"),
    "html head beyond": (lambda t, k: bk.html_view(k["bank"], head=99), "head must be one of"),
    "html layer beyond": (lambda t, k: bk.html_view(k["bank"], layer=99), "layer must be an int in"),
    "html token beyond": (lambda t, k: bk.html_view(k["bank"], token=999), "token must be a token index"),
    "search empty corpus": (lambda t, k: bk.nearest_contexts(t.encode([]), k["bank"], "bank"), "corpus must hold"),
    "search layer beyond": (lambda t, k: bk.nearest_contexts(k["corpus"], k["bank"], "bank", layer=9), "layer must"),
    "search word beyond": (lambda t, k: bk.nearest_contexts(k["corpus"], k["bank"], 999), "word must be a word index"),
    "search span past the end": (lambda t, k: bk.nearest_contexts(k["corpus"], k["bank"], span=(0, 10**4)),
                                 "span must satisfy"),
    "index empty corpus": (lambda t, k: bk.build_context_index(t.encode([])), "corpus must hold"),
    "cka other count": (lambda t, k: bk.layer_cka(k["corpus"], k["corpus"][:3]), "other must hold the same texts"),
    "cka only empty texts": (lambda t, k: bk.layer_cka(t.encode(["", ""])), "CKA needs at least 2 units"),
    "cka complex": (lambda t, k: bk.cka(np.ones((4, 2), complex), np.ones((4, 2))), "x must hold real numbers"),
    "cka 3-D": (lambda t, k: bk.cka(np.ones((2, 2, 2)), np.ones((2, 2))), "x must be 2-D"),
    "mev_baseline one text": (lambda t, k: bk.mev_baseline(t.encode(["a b", ""])), "mev_baseline needs words"),
    "static embeddings none": (lambda t, k: bk.static_embeddings(k["corpus"], []), "words must be a non-empty"),
    "head statistics of two models": (lambda t, k: bk.head_statistics([k["bank"], k["one"]]), "corpus must come from"),
    "encode long with attentions": (lambda t, k: t.encode("bank " * 100, attentions=True), "attentions=True needs"),
    "encode a set": (lambda t, k: t.encode({"a", "b"}), "texts must be a str or a sequence"),
    "encode a generator": (lambda t, k: t.encode(x for x in ["a"]), "texts must be a str or a sequence"),
    "explore an unknown setting": (lambda t, k: bk.explore(k["bank"], t, nope=1), "nope is not a setting"),
    "explore with another model": (lambda t, k: bk.explore(k["one"], t), "encoder must be the model that encoded e"),
    "probe one class": (lambda t, k: bk.probe_layers(torch.randn(2, 12, 4), [0] * 12, cv=2), "labels must hold at"),
    "probe cv beyond a class": (lambda t, k: bk.probe_layers(torch.randn(2, 12, 4), [0] * 11 + [1], cv=5),
                                "every class needs at least cv=5 members for StratifiedKFold; class 1 has 1"),
    "probe empty texts": (lambda t, k: bk.probe_layers([k["empty"], k["empty"]], [0, 1], cv=2),
                          r"data\[0\] \(text ''\) has no tokens besides special tokens"),
}


@pytest.mark.parametrize("probe", list(ERRORS))
def test_adversarial_inputs_get_clear_errors(tiny, kit, probe):
    call, message = ERRORS[probe]
    with pytest.raises(ValueError, match=message):  # InvalidParameterError is a ValueError too
        call(tiny, kit)


RESULTS = {
    "internals of the empty text": lambda t, k: bk.layer_internals(k["empty"], 1, t).query,
    "internals, 1 layer 1 head": lambda t, k: bk.layer_internals(k["one"], 1, t.one).query,
    "qk head -1 is the last head": lambda t, k: bk.query_key_products(k["r"], -1, 0)
    - bk.query_key_products(k["r"], 3, 0),
    "mixing of the empty text": lambda t, k: bk.context_mixing(k["empty"], "norm", enc=t).scores,
    "mixing at word level, zero-width chars": lambda t, k: bk.context_mixing(k["zw"], "alti", enc=t,
                                                                              level="word").scores,
    "mixing, 1 layer 1 head": lambda t, k: bk.context_mixing(k["one"], "value_zeroing", enc=t.one).scores,
    "neurons of [CLS]": lambda t, k: bk.top_neurons(k["bank"], token=0, enc=t).values,
    "search k beyond the corpus": lambda t, k: torch.tensor(
        [m.cosine for m in bk.nearest_contexts(k["corpus"], k["bank"], "bank", k=1000)]),
    "search duplicated texts": lambda t, k: torch.tensor(
        [m.cosine for m in bk.nearest_contexts(k["corpus"], k["corpus"][0], "bank", k=10)]),
    "word attention of the empty text": lambda t, k: bk.word_attention(k["empty"]),
    "head statistics of the empty text": lambda t, k: bk.head_statistics(k["empty"])["entropy"],
    "self-similarity, duplicated texts": lambda t, k: bk.self_similarity(k["corpus"], "bank"),
    "layer cka, duplicated texts": lambda t, k: bk.layer_cka(k["corpus"]),
}


@pytest.mark.parametrize("probe", list(RESULTS))
def test_adversarial_edge_inputs_give_finite_results(tiny, one_head, kit, probe):
    tiny.one = one_head
    out = RESULTS[probe](tiny, kit)
    assert torch.isfinite(out).all()
    if probe.startswith("qk head -1"):
        assert float(out.abs().max()) == 0.0


def test_html_files_into_a_missing_folder_are_refused_before_the_work(tiny, kit, tmp_path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(bk.InvalidParameterError, match="in a folder that does not exist"):
        bk.to_html(kit["bank"], missing / "view.html")
    (tmp_path / "dir.html").mkdir()
    with pytest.raises(bk.InvalidParameterError, match="is a folder"):
        bk.to_html(kit["bank"], tmp_path / "dir.html")
    with pytest.raises(bk.InvalidParameterError, match="in a folder that does not exist"):
        bk.explore(kit["bank"], tiny).save(missing / "view.png")
    assert bk.to_html(kit["bank"], tmp_path / "view.html").stat().st_size > 0
