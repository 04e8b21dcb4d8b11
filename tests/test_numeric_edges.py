"""Numbers at the edges: float16 overflow named by layer and size, NaN hidden states refused where
they are made and where a corpus statistic or a search would hide them."""

from __future__ import annotations

import warnings

import pytest
import torch
from conftest import BANK_TEXT

import bertviz_kit as bk

TEXTS = ["the bank was good", "a river bank", "the robber robs the bank", "hello world", "fishing on the river"]


def _scaled_embeddings(tiny, factor):
    norm = tiny.model.embeddings.LayerNorm.weight  # scales the embedding output (stored layer 0)
    saved = norm.detach().clone()
    with torch.no_grad():
        norm.mul_(factor)
    return norm, saved


def test_float16_overflow_names_the_layer_and_the_largest_value(tiny, tmp_path):
    ref = tiny.encode(["the bank"], layers=[0]).hidden.abs().max().item()
    norm, saved = _scaled_embeddings(tiny, 1e6)
    try:
        with pytest.raises(bk.InvalidParameterError, match=r"layer 0 reaches \|value\| ([0-9.e+]+)") as info:
            tiny.encode(["the bank"], dtype="float16")
        got = float(info.value.args[0].split("|value| ")[1].split(" ")[0])
        assert got == pytest.approx(ref * 1e6, rel=1e-3)  # the value before the cast, not inf
        assert "65504" in str(info.value)
        with pytest.raises(bk.InvalidParameterError, match="layer 0 reaches"):
            bk.extract(tiny, ["a b", "the bank"], tmp_path / "s", progress=False)  # extract's default float16
        assert torch.isfinite(tiny.encode(["the bank"], dtype="bfloat16").hidden).all()
        assert torch.isfinite(tiny.encode(["the bank"], dtype="float32").hidden).all()
    finally:
        with torch.no_grad():
            norm.copy_(saved)


def test_float16_just_below_its_range_is_kept(tiny):
    ref = tiny.encode(["the bank"], layers=[0]).hidden.abs().max().item()
    norm, saved = _scaled_embeddings(tiny, 60000.0 / ref)
    try:
        h = tiny.encode(["the bank"], layers=[0], dtype="float16").hidden
        assert torch.isfinite(h).all() and h.abs().max().item() > 30000
    finally:
        with torch.no_grad():
            norm.copy_(saved)


def test_nan_from_the_model_is_refused_at_encode(tiny):
    w = tiny.model.encoder.layer[1].output.dense.weight
    saved = w.detach().clone()
    with torch.no_grad():
        w[0, 0] = float("nan")
    try:
        with pytest.raises(ValueError, match=r"NaN or infinite values at layer 2 \(first in text 0\)"):
            tiny.encode(["the bank", "hello"])
    finally:
        with torch.no_grad():
            w.copy_(saved)


@pytest.fixture
def poisoned(tiny):
    es = tiny.encode(TEXTS)
    es.hidden[int(es.token_starts[3]) + 1, :, 5] = float("nan")  # text 3, a word, every layer
    return es


@pytest.mark.parametrize("call", [
    lambda es, q: bk.anisotropy(es, n_pairs=None),
    lambda es, q: bk.anisotropy(es, n_pairs=50),
    lambda es, q: bk.intra_similarity(es),
    lambda es, q: bk.layer_cka(es),
    lambda es, q: bk.layer_cka(es, unit="token"),
    lambda es, q: bk.mev_baseline(es, n_samples=5),
    lambda es, q: bk.nearest_contexts(es, q, "bank", k=20),
], ids=["anisotropy", "anisotropy-sampled", "intra", "cka", "cka-tokens", "mev_baseline", "search"])
def test_nan_hidden_states_in_a_corpus_are_named(tiny, poisoned, call):
    q = tiny.encode(BANK_TEXT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"NaN or infinite values at layer \d+ \(first in text 3\)"):
            call(poisoned, q)


@pytest.mark.parametrize("call", [
    lambda es, q: bk.nearest_contexts(es, q, "bank", k=5),
    lambda es, q: bk.build_context_index(es, layer=-1),
], ids=["search", "index"])
def test_nan_in_a_later_block_names_the_corpus_text(tiny, monkeypatch, call):
    es = tiny.encode(TEXTS * 40)
    bad = 150
    es.hidden[int(es.token_starts[bad]) + 1, -1, 0] = float("inf")
    # blocks of 64 tokens (a corpus this small is one block otherwise): the text sits in a later block
    monkeypatch.setattr(bk.Encodings, "_block_tokens", lambda self, max_tokens: max_tokens or 64)
    firsts = [first for first, _ in es.blocks()]
    assert len(firsts) > 5 and 0 < max(f for f in firsts if f <= bad) < bad
    with pytest.raises(ValueError, match=rf"layer 3 \(first in text {bad}\)"):
        call(es, tiny.encode(BANK_TEXT))


def test_search_finds_k_matches_or_raises_never_k_minus_one(tiny, poisoned):
    clean = tiny.encode(TEXTS)
    q = tiny.encode(BANK_TEXT)
    assert len(bk.nearest_contexts(clean, q, "bank", k=10)) == 10
    assert q.tokens[6] == "bank"
    q.hidden_states[:, 6] = float("nan")  # the first "bank" of the query text
    with pytest.raises(bk.InvalidParameterError, match="query's hidden states hold NaN"):
        bk.nearest_contexts(clean, q, "bank", k=10)


def test_pooling_passes_nan_to_the_same_row(poisoned):
    v = bk.sentence_vectors(poisoned)
    assert torch.isnan(v[3]).any() and torch.isfinite(v[[0, 1, 2, 4]]).all()


def test_finite_values_whose_sum_overflows_pass_and_one_bad_value_is_found():
    """The check sums first (cheap) and scans only when the sum is not finite: finite values
    that overflow the sum pass, a single NaN or infinity anywhere is found and named."""
    from bertviz_kit.encoder import check_finite_hidden

    starts = torch.tensor([0, 3, 6])
    big = torch.full((6, 3, 4), 3e38)  # every value finite, their float32 sum is not
    check_finite_hidden(big, starts, [0, 1, 2])
    for bad in (float("nan"), float("inf"), -float("inf")):
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            h = torch.randn(6, 3, 4).to(dtype)
            h[4, 2, 1] = bad
            with pytest.raises(ValueError, match=r"at layer 7 \(first in text 1\)"):
                check_finite_hidden(h, starts, [0, 5, 7])
    h = torch.randn(6, 3, 4)
    h[0, 0, 0], h[1, 0, 0] = float("inf"), -float("inf")  # the sum would be NaN: still found
    with pytest.raises(ValueError, match=r"at layer 0 \(first in text 0\)"):
        check_finite_hidden(h, starts, [0, 5, 7])


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_stacked_and_layer_by_layer_copies_store_the_same_values(tiny, monkeypatch, dtype):
    import bertviz_kit.encoder as encoder

    texts = TEXTS + [" ".join(["bank"] * 150), ""]  # a text over the window: several runs
    stacked = tiny.encode(texts, dtype=dtype, batch_size=3)
    monkeypatch.setattr(encoder, "STACK_BYTES", 0)
    by_layer = tiny.encode(texts, dtype=dtype, batch_size=3)
    assert stacked.hidden.dtype == by_layer.hidden.dtype
    assert torch.equal(stacked.hidden, by_layer.hidden)
    assert torch.equal(stacked.token_starts, by_layer.token_starts)
