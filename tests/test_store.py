from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bertviz_kit as bk

TEXTS = [f"the bank {'river ' * (i % 4)}robber number {i}" for i in range(23)] + ["", "hello world"]


def test_roundtrip_equals_direct_encoding(tiny, tmp_path):
    store = bk.extract(tiny, TEXTS, tmp_path / "s", dtype="float32", shard_size=7, progress=False)
    assert len(store) == len(TEXTS) and store.complete
    assert len(store.manifest["shards"]) == 4
    direct = tiny.encode(TEXTS)
    for i in (0, 6, 7, 13, 23, 24, -1):
        r, d = store[i], direct[i]
        assert r.text == d.text and r.tokens == d.tokens and r.words == d.words
        assert r.word_ids == d.word_ids and r.offsets == d.offsets
        assert torch.equal(r.input_ids, d.input_ids)
        assert torch.allclose(r.hidden_states, d.hidden_states, atol=1e-6)
    assert torch.allclose(bk.word_vectors(store[3], "sum_last4"), bk.word_vectors(direct[3], "sum_last4"))


def test_subset_of_layers_in_float16(tiny, tmp_path):
    store = bk.open_store(bk.extract(tiny, TEXTS[:5], tmp_path, layers=[0, -1], progress=False).path)
    assert store.layer_ids == (0, 3)
    r, d = store[2], tiny.encode(TEXTS[2])
    # records are views of the memory-mapped shard, in the store's dtype; pooling computes in float32
    assert r.hidden_states.shape == (2, d.n_tokens, tiny.dim) and r.hidden_states.dtype == torch.float16
    assert bk.token_vectors(r, "last").dtype == torch.float32
    assert torch.allclose(bk.token_vectors(r, "last"), d.hidden_states[3], atol=2e-2)
    with pytest.raises(ValueError, match=r"needs model layers \[1, 2\]"):
        bk.token_vectors(r, "sum_last4")


def test_rerun_resumes_and_refuses_other_texts(tiny, tmp_path):
    target = tmp_path / "s"
    bk.extract(tiny, TEXTS[:10], target, shard_size=4, progress=False)
    with pytest.raises(ValueError, match="holds another extraction"):
        bk.extract(tiny, TEXTS, target, shard_size=4, progress=False)
    again = bk.extract(tiny, TEXTS[:10], target, shard_size=4, progress=False)
    assert len(again) == 10 and len(again.manifest["shards"]) == 3


def test_half_written_shard_is_not_read(tiny, tmp_path, monkeypatch):
    import bertviz_kit.extraction as store_mod

    target = tmp_path / "s"
    real = store_mod.write_atomic
    calls = {"n": 0}

    def crash_on_second_shard(path, data):
        if path.name.startswith("shard-00001"):
            path.with_name(path.name + ".tmp").write_bytes(data[: len(data) // 2])
            raise KeyboardInterrupt("killed")
        calls["n"] += 1
        real(path, data)

    monkeypatch.setattr(store_mod, "write_atomic", crash_on_second_shard)
    with pytest.raises(KeyboardInterrupt):
        bk.extract(tiny, TEXTS, target, shard_size=5, progress=False)
    monkeypatch.setattr(store_mod, "write_atomic", real)
    partial = bk.open_store(target)
    assert len(partial) == 5 and not partial.complete
    full = bk.extract(tiny, TEXTS, target, shard_size=5, progress=False)
    assert len(full) == len(TEXTS)
    assert [full[i].text for i in range(len(full))] == TEXTS


def test_killed_process_resumes_without_loss_or_duplicates(tiny_path, tmp_path):
    target = tmp_path / "s"
    script = textwrap.dedent(f"""
        import time, bertviz_kit as bk
        enc = bk.load({tiny_path!r}, device="cpu")
        real = enc.encode
        def slow(*a, **k):
            time.sleep(0.4)
            return real(*a, **k)
        enc.encode = slow
        bk.extract(enc, {TEXTS!r}, {str(target)!r}, shard_size=3, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "HF_HUB_OFFLINE": "1"})
    manifest = target / "manifest.json"
    deadline = time.time() + 600  # generous: a loaded machine imports torch slowly
    shards = 0
    while time.time() < deadline and proc.poll() is None:
        if manifest.exists():
            shards = len(json.loads(manifest.read_text())["shards"])
            if shards >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert shards >= 2, "the extraction process ended or stalled before writing two shards"
    proc.wait()
    partial = bk.open_store(target)
    assert 0 < len(partial) < len(TEXTS)
    enc = bk.load(tiny_path, device="cpu")
    store = bk.extract(enc, TEXTS, target, shard_size=3, progress=False)
    assert [store[i].text for i in range(len(store))] == TEXTS
    starts = [s["start"] for s in store.manifest["shards"]]
    assert starts == list(range(0, len(TEXTS), 3))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"dtype": "int8"}, ValueError, r"dtype must be one of \('float16', 'bfloat16', 'float32'\)"),
     ({"shard_size": 0}, ValueError, "shard_size must be an int >= 1; got 0"),
     ({"layers": 9}, ValueError, r"layers must be an int in \[-4, 3\]")],
)
def test_bad_arguments(tiny, tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        bk.extract(tiny, ["a"], tmp_path, progress=False, **kwargs)


def test_bad_inputs(tiny, tmp_path):
    with pytest.raises(TypeError, match="texts must be a sequence of str"):
        bk.extract(tiny, "one text", tmp_path)
    with pytest.raises(TypeError, match="encoder must be an Encoder"):
        bk.extract("model", ["a"], tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a store"):
        bk.open_store(tmp_path / "nothing")
    store = bk.extract(tiny, ["a b"], tmp_path / "ok", progress=False)
    with pytest.raises(IndexError, match=r"store index must be an int in \[-1, 0\] or a slice; got 1"):
        store[1]


def test_cli_extract(tiny_path, tmp_path, capsys):
    from bertviz_kit.cli import main

    f = tmp_path / "texts.txt"
    f.write_text("the bank\nhello world\n")
    assert main(["--model", tiny_path, "extract", str(f), str(tmp_path / "s"), "--layers", "0,-1"]) == 0
    assert "records=2/2" in capsys.readouterr().out
    assert bk.open_store(tmp_path / "s").layer_ids == (0, 3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**20) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["format", "version", "shards", "file", "start", "count", "model", "n_layers", "dim",
                         "layer_ids", "dtype", "n_texts", "provenance", "bytes", "sha256"]), inner, max_size=8),
    max_leaves=30))
def test_any_manifest_opens_or_is_a_corrupt_store(tmp_path, manifest):
    root = tmp_path / "hostile"
    root.mkdir(exist_ok=True)
    if isinstance(manifest, dict) and manifest.get("format") is not None:
        manifest["format"] = "bertviz_kit.store"
    (root / "manifest.json").write_text(json.dumps(manifest))
    try:
        bk.open_store(root)
    except bk.CorruptStoreError:
        pass
