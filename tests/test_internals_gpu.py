"""Inside a layer and context mixing with the model on a GPU: the same numbers as on the CPU.

Skipped without a CUDA device (the reason says so).
"""

from __future__ import annotations

import pytest
import torch
from conftest import BANK_TEXT

import bertviz_kit as bk

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

ATOL = 1e-4  # fp32 on the GPU vs the CPU: different kernels and summation order


@pytest.fixture(scope="module")
def pair(tiny_path):
    cpu = bk.load(tiny_path, device="cpu", cpu_linear="torch")
    gpu = bk.load(tiny_path, device="cuda")
    return (cpu, cpu.encode(BANK_TEXT, attentions=True)), (gpu, gpu.encode(BANK_TEXT, attentions=True))


def test_layer_internals_and_embedding_sum_on_gpu(pair):
    (cpu, ec), (gpu, eg) = pair
    for layer in range(1, cpu.n_layers + 1):
        a, b = bk.layer_internals(ec, layer, cpu), bk.layer_internals(eg, layer, gpu)
        for name in ("query", "key", "value", "scores", "probs", "context", "attn_norm", "ffn_act", "output"):
            torch.testing.assert_close(getattr(b, name), getattr(a, name), atol=ATOL, rtol=1e-4)
        assert b.output.device.type == "cpu"
        torch.testing.assert_close(b.probs, eg.attentions[layer - 1].cpu(), atol=ATOL, rtol=0)
    torch.testing.assert_close(bk.embedding_sum(eg, gpu).output, bk.embedding_sum(ec, cpu).output, atol=ATOL, rtol=0)


@pytest.mark.parametrize("method", bk.MIXING_METHODS)
def test_context_mixing_on_gpu(pair, method):
    (cpu, ec), (gpu, eg) = pair
    a = bk.context_mixing(ec, method, enc=cpu, level="word")
    b = bk.context_mixing(eg, method, enc=gpu, level="word")
    assert b.scores.device.type == "cpu"
    torch.testing.assert_close(b.scores, a.scores, atol=1e-3 if method == "value_zeroing" else ATOL, rtol=1e-3)


def test_half_precision_model_on_gpu(tiny_path):
    enc = bk.load(tiny_path, device="cuda", dtype="bfloat16")
    e = enc.encode(BANK_TEXT)
    m = bk.context_mixing(e, "value_zeroing", enc=enc)
    assert torch.isfinite(m.scores).all()
    torch.testing.assert_close(m.scores.sum(-1), torch.ones(enc.n_layers, e.n_tokens), atol=1e-3, rtol=0)
    r = bk.layer_internals(e, -1, enc)
    assert r.output.dtype == torch.float32
    torch.testing.assert_close(r.output, e.hidden_states[-1].float(), atol=0.05, rtol=0.05)
