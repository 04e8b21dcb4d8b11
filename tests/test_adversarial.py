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
