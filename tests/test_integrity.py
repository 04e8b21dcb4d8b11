"""A store you can hand on and trust: checksums, repair, provenance, one writer at a time,
an encoder safe to share between threads, corpora of one model only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import torch
from conftest import BANK_TEXT, make_tiny_model

import bertviz_kit as bk

TEXTS = [f"the bank {'river ' * (i % 4)}robber number {i}" for i in range(20)]


@pytest.fixture()
def store(tiny, tmp_path):
    return bk.extract(tiny, TEXTS, tmp_path / "s", shard_size=6, progress=False)


def _shard(store, k):
    return store.path / store.manifest["shards"][k]["file"]


def test_manifest_records_checksums_and_provenance(tiny, store):
    m = json.loads((store.path / "manifest.json").read_text())
    assert m["version"] == 3 and all(len(s["sha256"]) == 64 and s["bytes"] > 0 for s in m["shards"])
    p = store.provenance
    assert set(p) == {"model_fingerprint", "weights_digest", "tokenizer_digest", "config_digest", "max_length",
                      "stride", "model_dtype", "cpu_linear", "versions"}
    assert p["max_length"] == tiny.max_length and p["versions"]["torch"] == torch.__version__
    assert p["model_fingerprint"] == tiny.fingerprint == store.model_fingerprint
    assert f"model_fingerprint={tiny.fingerprint!r}" in repr(store)
    assert p["cpu_linear"] == tiny.settings.cpu_linear  # the setting; each shard names the kernels it ran on
    assert {s["kernels"] for s in m["shards"]} == {tiny.cpu_linear}
    assert store.verify() == []


@pytest.mark.parametrize("damage", ["delete", "truncate", "empty", "flip"])
def test_damaged_shard_is_detected_and_repaired(tiny, store, damage):
    target = _shard(store, 1)
    data = target.read_bytes()
    if damage == "delete":
        target.unlink()
    elif damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        target.write_bytes(b"")
    else:  # same size, a few bytes of the hidden states changed: only the checksum sees it
        middle = len(data) - 200
        target.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 8]) + data[middle + 8 :])
    if damage == "flip":
        reopened = bk.open_store(store.path)  # sizes fine: opens, but reading the shard fails loudly
        assert reopened[0].text == TEXTS[0]
        with pytest.raises(bk.CorruptStoreError, match=r"shard-00001.*checksum mismatch.*rerun bk.extract"):
            reopened[7]
        assert any("checksum mismatch" in p for p in reopened.verify())
        unchecked = bk.open_store(store.path, verify=False)
        assert unchecked[7].text == TEXTS[7]  # the caller chose not to check
    else:
        with pytest.raises(bk.CorruptStoreError, match=r"damaged shards \(shard-00001.safetensors (missing|trunc)"):
            bk.open_store(store.path)
    with pytest.warns(UserWarning, match=r"re-encoding 1 damaged shard\(s\): shard-00001.safetensors"):
        repaired = bk.extract(tiny, TEXTS, store.path, shard_size=6, progress=False)
    assert repaired.verify() == [] and [e.text for e in repaired] == TEXTS
    fresh = tiny.encode(TEXTS)
    assert torch.allclose(bk.sentence_vectors(repaired), bk.sentence_vectors(fresh), atol=1e-2)


@pytest.mark.parametrize("content", [b"", b"{\"format\": \"bertviz_kit.store\", \"shards\": [", b"\xff\xfe",
                                     b"[1, 2]", b'{"shards": [{"file": "../../etc/passwd", "start": 0, "count": 1}]}'])
def test_corrupt_manifest_is_rebuilt_from_valid_shards(tiny, store, content):
    (store.path / "manifest.json").write_bytes(content)
    with pytest.raises(bk.CorruptStoreError, match="is unreadable .*run bk.extract with the same encoder, texts"):
        bk.open_store(store.path)
    before = _shard(store, 0).stat().st_mtime_ns
    with pytest.warns(UserWarning, match=r"rebuilt it from 4 valid shard\(s\)"):
        rebuilt = bk.extract(tiny, TEXTS, store.path, shard_size=6, progress=False)
    assert _shard(rebuilt, 0).stat().st_mtime_ns == before  # valid shards kept, not re-encoded
    assert [e.text for e in rebuilt] == TEXTS and rebuilt.verify() == []


def test_rebuild_never_takes_another_extractions_shards(tiny, store):
    (store.path / "manifest.json").write_text("")
    other = TEXTS[:6] + ["something else entirely"] + TEXTS[7:]
    with pytest.raises(ValueError, match="holds the shards of another extraction"):
        bk.extract(tiny, other, store.path, shard_size=6, progress=False)
    _shard(store, 2).write_bytes(b"garbage")  # a damaged shard in the middle: kept up to it, the rest redone
    with pytest.warns(UserWarning, match=r"rebuilt it from 2 valid shard\(s\)"):
        rebuilt = bk.extract(tiny, TEXTS, store.path, shard_size=6, progress=False)
    assert [e.text for e in rebuilt] == TEXTS and rebuilt.verify() == []


def test_resume_with_another_encoder_setting_is_refused(tiny_path, tmp_path):
    enc = bk.load(tiny_path, device="cpu")
    bk.extract(enc, TEXTS[:6], tmp_path / "s", shard_size=6, progress=False)
    for other, key in [(bk.load(tiny_path, device="cpu", max_length=32), "provenance.max_length"),
                       (bk.load(tiny_path, device="cpu", stride=8), "provenance.stride"),
                       (bk.load(tiny_path, device="cpu", cpu_linear="torch"), "provenance.cpu_linear"),
                       (bk.load(make_tiny_model(tmp_path / "m2", seed=1), device="cpu"), "model")]:
        with pytest.raises(ValueError, match=rf"holds another extraction \(differs in .*{key}"):
            bk.extract(other, TEXTS[:6], tmp_path / "s", shard_size=6, progress=False)
    # the same path re-saved with other weights: same name, different fingerprint
    folder = make_tiny_model(tmp_path / "m3", seed=0)
    bk.extract(bk.load(folder, device="cpu"), TEXTS[:6], tmp_path / "t", shard_size=6, progress=False)
    make_tiny_model(tmp_path / "m3", seed=5)
    with pytest.raises(ValueError, match=r"differs in .*provenance.model_fingerprint \(stored '[0-9a-f]{16}', now"):
        bk.extract(bk.load(folder, device="cpu"), TEXTS[:6], tmp_path / "t", shard_size=6, progress=False)


def test_weights_changed_in_place_change_the_fingerprint(tiny_path, tmp_path):
    enc = bk.load(tiny_path, device="cpu")
    a = enc.fingerprint
    assert enc.fingerprint == a  # cached
    with torch.no_grad():
        next(enc.model.parameters())[0, 0] += 1.0  # element 0 is always among the sampled ones
    assert enc.fingerprint != a


def test_second_writer_is_refused_with_the_holder_named(tiny_path, tmp_path):
    target = tmp_path / "s"
    script = textwrap.dedent(f"""
        import time, bertviz_kit as bk
        enc = bk.load({tiny_path!r}, device="cpu")
        real = enc.encode
        def slow(*a, **k):
            time.sleep(1.5)
            return real(*a, **k)
        enc.encode = slow
        bk.extract(enc, {TEXTS!r}, {str(target)!r}, shard_size=2, progress=False)
    """)
    enc = bk.load(tiny_path, device="cpu")  # loaded first: the other writer is still busy when we try
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        owner = target / ".lock.owner"
        deadline = time.time() + 300
        while not owner.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert owner.exists(), "the first writer never took the lock"
        with pytest.raises(RuntimeError, match=rf"process {proc.pid} on .* is writing to the store"):
            bk.extract(enc, TEXTS, target, shard_size=2, progress=False)
        store = bk.extract(enc, TEXTS, target, shard_size=2, progress=False, wait=True)  # waits its turn
        assert [e.text for e in store] == TEXTS and store.verify() == []
    finally:
        proc.kill()
        proc.wait()
    assert not list(target.glob("*.tmp"))


def test_threads_sharing_one_encoder_get_exact_results(tiny_path):
    enc = bk.load(tiny_path, device="cpu")
    texts = [BANK_TEXT, "the river bank", "hello world , the robber"]
    ref = enc.encode(texts)
    ref_att = enc.encode(texts, attentions=True)
    errors, done = [], []

    def work(k):
        try:
            for r in range(6):
                with_att = (k + r) % 2 == 0
                es = enc.encode(texts, attentions=with_att)
                # eager attention (needed for weights) and SDPA differ in the last bits: compare like with like
                assert torch.equal(es.hidden, (ref_att if with_att else ref).hidden)
                if with_att:
                    assert all(torch.equal(a, b) for a, b in zip(es.attentions, ref_att.attentions))
                else:
                    assert es.attentions is None
            done.append(k)
        except Exception as err:  # noqa: BLE001 - collected and reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(done) == [0, 1, 2, 3]
    assert enc.model.config._attn_implementation != "eager" or enc.settings.attentions  # switched back


def test_encoder_copies_with_a_lock_of_its_own(tiny):
    import copy

    twin = copy.deepcopy(tiny)
    assert twin._lock is not tiny._lock and "_lock" not in tiny.__getstate__()
    assert torch.equal(twin.encode("the bank").hidden_states, tiny.encode("the bank").hidden_states)


def test_two_models_of_one_width_are_not_mixed(tiny, tmp_path):
    other = bk.load(make_tiny_model(tmp_path / "same-width", seed=3), device="cpu")
    mixed = [tiny.encode("the bank robber"), other.encode("the river bank")]
    for fn in (bk.anisotropy, bk.intra_similarity, bk.sentence_vectors):
        with pytest.raises(ValueError, match="must come from one model"):
            fn(mixed)
    with pytest.raises(ValueError, match="must come from one model"):
        bk.probe_layers(mixed * 3, [0, 1] * 3, cv=2)


def test_cli_verify(store, capsys):
    from bertviz_kit.cli import main

    assert main(["verify", str(store.path)]) == 0
    assert "ok: 20 records in 4 shards, every checksum matches" in capsys.readouterr().out
    data = _shard(store, 3).read_bytes()
    _shard(store, 3).write_bytes(data[:-8] + b"\0" * 8)
    assert main(["verify", str(store.path)]) == 1
    assert "shard-00003.safetensors: checksum mismatch" in capsys.readouterr().out
    _shard(store, 3).unlink()
    assert main(["verify", str(store.path)]) == 1
    assert "missing" in capsys.readouterr().out


# --- stores that verify themselves ---------------------------------------------------------


def test_each_shard_describes_itself(tiny, store):
    from safetensors import safe_open

    from bertviz_kit.store import tensors_digest

    for rec in store.manifest["shards"]:
        with safe_open(str(store.path / rec["file"]), framework="pt") as f:
            meta = f.metadata()
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        assert (int(meta["start"]), int(meta["count"])) == (rec["start"], rec["count"])
        assert meta["tensors_sha256"] == tensors_digest(tensors) and len(meta["manifest_key"]) == 64


def test_rebuilt_manifest_never_certifies_a_damaged_shard(tiny, store):
    target = _shard(store, 1)
    data = target.read_bytes()
    middle = len(data) - 200  # hidden states changed, header and size intact
    target.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 8]) + data[middle + 8:])
    (store.path / "manifest.json").write_text("{")  # both damaged: the manifest is rebuilt from the shards
    with pytest.warns(UserWarning, match=r"rebuilt it from 1 valid shard\(s\)"):
        rebuilt = bk.extract(tiny, TEXTS, store.path, shard_size=6, progress=False)
    assert rebuilt.verify() == [] and [e.text for e in rebuilt] == TEXTS
    assert torch.allclose(rebuilt.shard(1).hidden.float(), tiny.encode(TEXTS[6:12]).hidden, atol=1e-2)


def _deep(n):
    return "[" * n + "]" * n


@pytest.mark.parametrize("content", [
    _deep(100_000),
    '{"format": "bertviz_kit.store", "shards": ' + _deep(100_000) + "}",
    None,  # a newer format version
    "header",  # the header's keys of the wrong type
])
def test_hostile_manifest_is_a_corrupt_store_and_rebuilds(tiny, store, content):
    m = json.loads((store.path / "manifest.json").read_text())
    if content is None:
        content = json.dumps({**m, "version": 99})
    elif content == "header":
        content = json.dumps({**m, "n_layers": "three", "layer_ids": {"a": 1}})
    (store.path / "manifest.json").write_text(content)
    with pytest.raises(bk.CorruptStoreError, match="is unreadable"):
        bk.open_store(store.path)
    with pytest.warns(UserWarning, match=r"rebuilt it from 4 valid shard\(s\)"):
        rebuilt = bk.extract(tiny, TEXTS, store.path, shard_size=6, progress=False)
    assert [e.text for e in rebuilt] == TEXTS


def _set_header(path, header: bytes | None) -> None:
    """Replace a shard's safetensors header, keeping the file's size (padded with spaces);
    ``None``: a header nested too deeply for a JSON parser."""
    import struct

    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    if header is None:
        header = b'{"hidden": ' + _deep((n - 20) // 2).encode() + b"}"
    assert len(header) <= n
    path.write_bytes(data[:8] + header.ljust(n) + data[8 + n:])


@pytest.mark.parametrize("header", [
    b'{"hidden": {"dtype": "F16", "shape": [999999, 3], "data_offsets": [0, 16]}}',  # shape vs bytes
    b'[1, 2, 3]',
    b'{"hidden": {"dtype": "F16", "shape": "x", "data_offsets": [0, 16]}}',
    b'{"__metadata__": {"texts": 5}}',
    None,
])
def test_damaged_shard_header_without_verify_is_a_corrupt_store(store, header):
    _set_header(_shard(store, 1), header)
    unchecked = bk.open_store(store.path, verify=False)  # same size: opens; the checksum is not read
    assert unchecked[0].text == TEXTS[0]
    with pytest.raises(bk.CorruptStoreError, match="shard-00001"):
        unchecked[7]
    with pytest.raises(bk.CorruptStoreError):
        unchecked.word_counts()


def test_store_opened_before_a_repair_reads_the_repaired_shard(tiny, store):
    target = _shard(store, 1)
    target.write_bytes(target.read_bytes()[:-10] + b"\0" * 10)  # same size, other bytes
    opened = bk.open_store(store.path)  # opened while damaged
    with pytest.warns(UserWarning, match="re-encoding 1 damaged"):
        bk.extract(tiny, TEXTS, store.path, shard_size=6, progress=False)  # another writer repairs it
    assert opened[7].text == TEXTS[7] and opened.verify() == []


def test_parts_sort_by_number(tiny, tmp_path):
    root = tmp_path / "corpus"
    chunks = [TEXTS[i:i + 2] for i in range(0, 22, 2)][:11]
    for k, chunk in enumerate(chunks):
        bk.extract(tiny, chunk, root / f"part-{k}", shard_size=2, progress=False)
    store = bk.open_store(root)
    assert [p.name for p in store.parts][-3:] == ["part-8", "part-9", "part-10"]
    assert [e.text for e in store] == [t for c in chunks for t in c]


def test_extract_into_a_folder_of_parts_is_refused(tiny, tmp_path):
    root = tmp_path / "corpus"
    bk.extract(tiny, TEXTS[:4], root / "part-00000", shard_size=2, progress=False)
    with pytest.raises(bk.InvalidParameterError, match="holds the parts of a distributed extraction"):
        bk.extract(tiny, TEXTS, root, shard_size=2, progress=False)
    assert len(bk.open_store(root)) == 4


def test_bad_text_is_named_by_its_index_among_all_texts(tiny, tmp_path):
    texts = list(TEXTS)
    texts[13] = "bad \udcff text"
    with pytest.raises(bk.InvalidParameterError, match=r"texts\[13\] holds a lone surrogate"):
        bk.extract(tiny, texts, tmp_path / "s", shard_size=6, progress=False)


def _as_format_2(store):
    """Rewrite ``store`` as bertviz_kit wrote it before format 3: the word tensor called ``word_ids``."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    m = json.loads((store.path / "manifest.json").read_text())
    for s in m["shards"]:
        file = store.path / s["file"]
        with safe_open(file, "pt") as f:
            tensors = {("word_ids" if k == "word_index" else k): f.get_tensor(k) for k in f.keys()}
            meta = dict(f.metadata())
        meta.pop("tensors_sha256")  # shards of format 2 had a checksum over the tensors' names too
        save_file(tensors, file, metadata=meta)
        s.pop("sha256"), s.pop("bytes")
    m["version"] = 2
    (store.path / "manifest.json").write_text(json.dumps(m))


def test_format_2_store_opens_with_the_same_words_and_is_not_resumed(tiny, store):
    want = [(e.word_ids, e.words) for e in store]
    vectors = bk.sentence_vectors(store)
    _as_format_2(store)
    old = bk.open_store(store.path)
    assert [(e.word_ids, e.words) for e in old] == want
    assert torch.equal(bk.sentence_vectors(old), vectors)
    assert torch.equal(old.word_counts(), store.word_counts())
    with pytest.raises(bk.InvalidParameterError, match="format version 2.*open_store.*new folder"):
        bk.extract(tiny, TEXTS, store.path, shard_size=6, progress=False)
