"""Provenance travels with the data: the model fingerprint, and every place where two things meet."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch
from conftest import make_tiny_model

import bertviz_kit as bk
from bertviz_kit import InvalidParameterError

TEXTS = [f"the bank {'river ' * (i % 4)}robber number {i}" for i in range(12)]
LONG = "the robber was seen fishing on the bank of the river " * 20  # windowed: sets truncation


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """A second tiny model of the same width and vocabulary, other weights (another seed)."""
    return bk.load(make_tiny_model(tmp_path_factory.mktemp("twin"), seed=7), device="cpu")


def _mismatch(a, b):
    """The error names both models: name and short fingerprint."""
    return rf"(?s){re.escape(repr(a.name))} \(fingerprint {a.fingerprint[:12]}\).*" \
           rf"{re.escape(repr(b.name))} \(fingerprint {b.fingerprint[:12]}\)"


def test_fingerprint_is_short_stable_and_unchanged_by_encoding(tiny, tiny_path, twin):
    fp = tiny.fingerprint
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    tiny.encode([LONG, "hello"], batch_size=1)
    tiny.tokenizer("a text", truncation=True, max_length=5, padding="max_length")  # runtime state changes
    assert tiny.fingerprint == fp
    code = f"import bertviz_kit as bk; print(bk.load({tiny_path!r}, device='cpu').fingerprint)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == fp  # another process, the same model
    assert twin.fingerprint != fp and twin.dim == tiny.dim
    fresh = bk.load(tiny_path, device="cpu")  # the runtime state set before the first fingerprint
    fresh.tokenizer.backend_tokenizer.enable_truncation(7)
    fresh.tokenizer.backend_tokenizer.enable_padding(length=9)
    assert fresh.fingerprint == fp


def test_fingerprint_sees_tokenizer_and_config(tiny_path, tmp_path):
    base = bk.load(tiny_path, device="cpu").fingerprint
    enc = bk.load(tiny_path, device="cpu")
    enc.tokenizer.add_tokens(["zebra"])
    assert enc.fingerprint != base
    enc = bk.load(tiny_path, device="cpu")
    enc.model.config.layer_norm_eps = 1e-3
    assert enc.fingerprint != base


def test_every_container_carries_the_fingerprint(tiny, tmp_path):
    es = tiny.encode(TEXTS[:4])
    assert es.model_fingerprint == tiny.fingerprint
    assert es[0].model_fingerprint == es[1:3].model_fingerprint == es.to(dtype="float16").model_fingerprint \
        == tiny.encode("one").model_fingerprint == tiny.fingerprint
    assert bk.Encodings.from_encodings([es[0], es[2]]).model_fingerprint == tiny.fingerprint
    store = bk.extract(tiny, TEXTS, tmp_path / "s", shard_size=5, progress=False)
    assert store.model_fingerprint == store[7].model_fingerprint == tiny.fingerprint
    assert all(b.model_fingerprint == tiny.fingerprint for _, b in store.blocks())


def test_resume_in_the_same_process_after_encoding(tiny_path, tmp_path):
    enc = bk.load(tiny_path, device="cpu")
    first = bk.extract(enc, TEXTS, tmp_path / "s", shard_size=3, progress=False)
    (first.path / first.manifest["shards"][-1]["file"]).unlink()  # an interrupted run, say
    enc.encode([LONG], batch_size=1)  # used to change the tokenizer hash: "another extraction"
    with pytest.warns(UserWarning, match="re-encoding 1 damaged shard"):
        store = bk.extract(enc, TEXTS, tmp_path / "s", shard_size=3, progress=False)
    assert [e.text for e in store] == TEXTS and store.verify() == []


def test_refusal_says_how_to_resume_not_to_delete(tiny, twin, tmp_path):
    bk.extract(tiny, TEXTS[:6], tmp_path / "s", shard_size=3, progress=False)
    with pytest.raises(InvalidParameterError) as err:
        bk.extract(twin, TEXTS[:6], tmp_path / "s", shard_size=3, progress=False)
    msg = str(err.value)
    assert "delete" not in msg and "pass the encoder, texts and options it was made with" in msg
    assert f"provenance.model_fingerprint (stored {tiny.fingerprint!r}, now {twin.fingerprint!r})" in msg


def test_exact_search_refuses_a_query_from_another_model(tiny, twin):
    corpus = tiny.encode(TEXTS)
    with pytest.raises(InvalidParameterError, match=_mismatch(twin, tiny)):
        bk.nearest_contexts(corpus, twin.encode("the bank"), "bank")
    assert len(bk.nearest_contexts(corpus, tiny.encode("the bank"), "bank", k=3)) == 3


def test_context_index_refuses_another_model(tiny, twin, tmp_path):
    pytest.importorskip("faiss")
    corpus = tiny.encode(TEXTS)
    index = bk.build_context_index(corpus, layer=-1)
    assert index.model_fingerprint == tiny.fingerprint and index.meta["model_fingerprint"] == tiny.fingerprint
    with pytest.raises(InvalidParameterError, match=_mismatch(twin, tiny)):
        index.search(twin.encode("the bank"), "bank")
    path = index.save(tmp_path / "ix")
    with pytest.raises(InvalidParameterError, match=_mismatch(twin, tiny)):
        bk.load_context_index(path, twin.encode(TEXTS))
    loaded = bk.load_context_index(path)  # on its own: still knows its model
    with pytest.raises(InvalidParameterError, match=_mismatch(twin, tiny)):
        loaded.search(twin.encode("the bank"), "bank")
    assert len(loaded.search(tiny.encode("the bank"), "bank", k=2)) == 2


def test_lens_refuses_another_encoder(tiny, twin, tmp_path):
    e = tiny.encode("the bank robber")
    with pytest.raises(InvalidParameterError, match=_mismatch(tiny, twin)):
        bk.lens(e, "bank", enc=twin, kind="embeddings")
    small = bk.load(make_tiny_model(tmp_path / "small", seed=0, max_positions=32), device="cpu")
    with pytest.raises(InvalidParameterError, match="pass the encoder that encoded e"):
        bk.lens(e, "bank", enc=small, kind="embeddings")  # same weights seed, other config: no raw crash
    assert bk.lens(e, "bank", enc=tiny, kind="embeddings").rank.shape == (len(e.layer_ids),)


@pytest.mark.parametrize("change", ["weights", "max_length", "stride", "dtype"])
def test_store_parts_of_other_extractions_do_not_open_as_one(tiny, tiny_path, twin, tmp_path, change):
    root = tmp_path / "corpus"
    bk.extract(tiny, TEXTS[:6], root / "part-00000", shard_size=3, progress=False)
    other, options = {
        "weights": (twin, {}),
        "max_length": (bk.load(tiny_path, device="cpu", max_length=32), {}),
        "stride": (bk.load(tiny_path, device="cpu", stride=8), {}),
        "dtype": (tiny, {"dtype": "float32"}),
    }[change]
    bk.extract(other, TEXTS[6:], root / "part-00001", shard_size=3, progress=False, **options)
    key = {"weights": "model_fingerprint"}.get(change, change)
    with pytest.raises(InvalidParameterError, match=rf"store parts must come from one model.*{key}="):
        bk.open_store(root)


def test_store_without_fingerprint_still_opens(tiny, tmp_path):
    store = bk.extract(tiny, TEXTS, tmp_path / "s", shard_size=5, progress=False)
    m = json.loads((store.path / "manifest.json").read_text())
    m["provenance"] = {k: v for k, v in m["provenance"].items() if k != "model_fingerprint"}
    (store.path / "manifest.json").write_text(json.dumps(m))
    old = bk.open_store(store.path)
    assert old.model_fingerprint == "" and old[0].model_fingerprint == ""
    assert len(bk.nearest_contexts(old, tiny.encode("the bank"), "bank", k=2)) == 2  # unknown: accepted
    with pytest.warns(UserWarning, match="written before model fingerprints"):
        bk.extract(tiny, TEXTS, store.path, shard_size=5, progress=False)


def test_saved_index_refused_after_a_part_is_re_extracted(tiny, tmp_path):
    pytest.importorskip("faiss")
    root = tmp_path / "corpus"
    bk.extract(tiny, TEXTS[:6], root / "part-00000", shard_size=3, progress=False)
    bk.extract(tiny, TEXTS[6:], root / "part-00001", shard_size=3, progress=False)
    path = bk.build_context_index(bk.open_store(root), layer=-1).save(tmp_path / "ix")
    assert bk.load_context_index(path, bk.open_store(root)).n_texts == len(TEXTS)
    import shutil

    shutil.rmtree(root / "part-00001")
    other = [t.replace("bank", "vault") for t in TEXTS[6:]]  # same count, same word counts, other texts
    bk.extract(tiny, other, root / "part-00001", shard_size=3, progress=False)
    with pytest.raises(InvalidParameterError, match="was not built on this corpus"):
        bk.load_context_index(path, bk.open_store(root))


def test_cross_model_cka_stays_possible(tiny, twin):
    a, b = tiny.encode(TEXTS), twin.encode(TEXTS)
    m = bk.layer_cka(a, b)  # documented as cross-model: no fingerprint check
    assert m.shape == (len(a.layer_ids), len(b.layer_ids)) and bool(torch.isfinite(m).all())


def test_inside_a_layer_refuses_another_encoder(tiny, twin):
    """layer_internals, context_mixing, query_key_products and top_neurons read the encoder's
    weights for the encoding's tokens: another model of the same shape is refused."""
    e = tiny.encode("the bank robber")
    calls = [lambda enc: bk.layer_internals(e, 1, enc),
             lambda enc: bk.context_mixing(e, method="norm", enc=enc),
             lambda enc: bk.top_neurons(e, "bank", enc=enc)]
    for call in calls:
        with pytest.raises(InvalidParameterError, match=_mismatch(tiny, twin)):
            call(twin)
        assert call(tiny) is not None
