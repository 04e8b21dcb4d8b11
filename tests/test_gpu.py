"""The GPU paths against the CPU: same model, same texts, same results.

These tests need a CUDA device and are skipped without one (the reason says so). They cover
what only a GPU runs: hidden states gathered on the GPU and copied to reused page-locked host
buffers on a side stream (storage on the host), states kept on the GPU (``device="cuda"``),
attentions, half-precision weights, a store written from a GPU encoder, and the corpus
functions on tensors that live on the GPU.
"""

from __future__ import annotations

import random

import pytest
import torch
from conftest import BANK_TEXT, WORDS

import bertviz_kit as bk

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

ATOL = 1e-4  # fp32 on the GPU vs the CPU: different kernels and summation order


def _texts(n: int = 90, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = [BANK_TEXT, "bank", "hello world"]
    texts += [" ".join(rng.choices(WORDS, k=rng.randint(1, 25))) for _ in range(n)]
    texts.append(" ".join(rng.choices(WORDS, k=160)))  # longer than the 64 positions: windows
    return texts


@pytest.fixture(scope="module")
def pair(tiny_path):
    cpu = bk.load(tiny_path, device="cpu", cpu_linear="torch")
    gpu = bk.load(tiny_path, device="cuda")
    return cpu, gpu


@pytest.fixture(scope="module")
def texts():
    return _texts()


def _same_layout(a: bk.Encodings, b: bk.Encodings) -> None:
    assert torch.equal(a.token_starts.cpu(), b.token_starts.cpu())
    assert torch.equal(a.input_ids.cpu(), b.input_ids.cpu())
    assert torch.equal(a.word_index.cpu(), b.word_index.cpu())
    assert a.layer_ids == b.layer_ids


@pytest.mark.parametrize("layers", [None, [-1], [0, 2], "sum_last4"])
@pytest.mark.parametrize("batch_size", [4, 32])
def test_host_storage_matches_cpu(pair, texts, layers, batch_size):
    """Model on the GPU, states on the host: the double-buffered side-stream copies."""
    cpu, gpu = pair
    texts = [*texts, ""]  # an empty text too: its two special tokens only
    ref = cpu.encode(texts, layers=layers, batch_size=batch_size)
    out = gpu.encode(texts, layers=layers, batch_size=batch_size)
    assert out.hidden.device.type == "cpu"
    _same_layout(ref, out)
    torch.testing.assert_close(out.hidden, ref.hidden, atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize("layers", [None, [-1]])
def test_gpu_storage_matches_cpu(pair, texts, layers):
    cpu, gpu = pair
    ref = cpu.encode(texts, layers=layers, batch_size=8)
    out = gpu.encode(texts, layers=layers, batch_size=8, device="cuda")
    assert out.hidden.device.type == "cuda"
    _same_layout(ref, out)
    torch.testing.assert_close(out.hidden.cpu(), ref.hidden, atol=ATOL, rtol=1e-4)
    # pooling runs where the states are
    sv = bk.sentence_vectors(out)
    assert sv.device.type == "cuda"
    torch.testing.assert_close(sv.cpu(), bk.sentence_vectors(ref), atol=ATOL, rtol=1e-4)


def test_single_text_and_attentions(pair):
    cpu, gpu = pair
    ref = cpu.encode(BANK_TEXT, attentions=True)
    out = gpu.encode(BANK_TEXT, attentions=True)
    torch.testing.assert_close(out.hidden_states, ref.hidden_states, atol=ATOL, rtol=1e-4)
    torch.testing.assert_close(out.attentions.cpu(), ref.attentions, atol=ATOL, rtol=1e-4)
    torch.testing.assert_close(bk.word_attention(out).cpu(), bk.word_attention(ref), atol=ATOL, rtol=1e-4)
    torch.testing.assert_close(bk.attention_rollout(out).cpu(), bk.attention_rollout(ref), atol=ATOL, rtol=1e-4)
    stats_ref, stats = bk.head_statistics(ref), bk.head_statistics(out)
    for name, value in stats_ref.items():
        torch.testing.assert_close(stats[name].cpu(), value, atol=1e-3, rtol=1e-3)


def test_attentions_on_gpu_storage(pair, texts):
    cpu, gpu = pair
    ref = cpu.encode(texts[:20], attentions=True, batch_size=8)
    out = gpu.encode(texts[:20], attentions=True, batch_size=8, device="cuda")
    for a, b in zip(out.attentions, ref.attentions):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), b, atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_weights_close_to_fp32(pair, texts, dtype, tiny_path):
    cpu, _ = pair
    half = bk.load(tiny_path, device="cuda", dtype=dtype)
    ref = bk.sentence_vectors(cpu.encode(texts, batch_size=16))
    out = half.encode(texts, batch_size=16)
    cos = torch.nn.functional.cosine_similarity(bk.sentence_vectors(out).float(), ref)
    assert cos.min() > 0.99
    # fp32 weights, half storage: the cast happens on the GPU before the copy to the host
    stored = pair[1].encode(texts, batch_size=16, dtype=dtype)
    assert stored.hidden.dtype == getattr(torch, dtype)
    cos = torch.nn.functional.cosine_similarity(bk.sentence_vectors(stored).float(), ref)
    assert cos.min() > 0.99


def test_corpus_functions_on_gpu(pair, texts):
    """Block-streamed functions give the CPU's answers on a corpus that lives on the GPU."""
    cpu, gpu = pair
    ref = cpu.encode(texts, batch_size=16)
    out = gpu.encode(texts, batch_size=16, device="cuda")

    def close(a, b, atol=ATOL):
        a = a.cpu() if isinstance(a, torch.Tensor) else torch.as_tensor(a)
        b = b.cpu() if isinstance(b, torch.Tensor) else torch.as_tensor(b)
        torch.testing.assert_close(a.float(), b.float(), atol=atol, rtol=1e-4)

    close(bk.layer_sentence_vectors(out), bk.layer_sentence_vectors(ref))
    close(bk.sentence_vectors(out, layers="sum_last4"), bk.sentence_vectors(ref, layers="sum_last4"))
    assert bk.find_occurrences(out, "bank") == bk.find_occurrences(ref, "bank")
    close(bk.occurrence_vectors(out, "bank"), bk.occurrence_vectors(ref, "bank"))
    close(bk.layer_occurrence_vectors(out, "the"), bk.layer_occurrence_vectors(ref, "the"))
    close(bk.self_similarity(out, "the", n_pairs=None), bk.self_similarity(ref, "the", n_pairs=None), atol=1e-3)
    close(bk.anisotropy(out, n_pairs=None), bk.anisotropy(ref, n_pairs=None), atol=1e-3)
    close(bk.layer_cka(out), bk.layer_cka(ref), atol=1e-3)
    near_ref = bk.nearest_contexts(ref, ref[0], "bank", layer=-1, k=5)
    near = bk.nearest_contexts(out, out[0], "bank", layer=-1, k=5)
    assert [(m.text_index, m.word_index) for m in near] == [(m.text_index, m.word_index) for m in near_ref]
    close(torch.tensor([m.cosine for m in near]), torch.tensor([m.cosine for m in near_ref]))


def test_store_from_gpu_encoder(pair, texts, tmp_path):
    cpu, gpu = pair
    a = bk.extract(cpu, texts, tmp_path / "cpu", layers=[0, -1], dtype="float32", shard_size=32, progress=False)
    b = bk.extract(gpu, texts, tmp_path / "gpu", layers=[0, -1], dtype="float32", shard_size=32, progress=False)
    assert len(a) == len(b) == len(texts)
    assert b.verify() == []
    torch.testing.assert_close(bk.sentence_vectors(b), bk.sentence_vectors(a), atol=ATOL, rtol=1e-4)
    for i in (0, len(texts) - 1):
        torch.testing.assert_close(b[i].hidden_states.float(), a[i].hidden_states.float(), atol=ATOL, rtol=1e-4)


def test_to_device_roundtrip(pair, texts):
    cpu, _ = pair
    ref = cpu.encode(texts[:10])
    there = ref.to("cuda")
    assert there.hidden.device.type == "cuda"
    back = there.to("cpu")
    assert torch.equal(back.hidden, ref.hidden)
    torch.testing.assert_close(bk.word_vectors(there[0]).cpu(), bk.word_vectors(ref[0]))


def test_storage_on_gpu_needs_gpu_model(pair):
    cpu, _ = pair
    with pytest.raises(bk.InvalidParameterError, match="load the model on a GPU"):
        cpu.encode("hello", device="cuda")
