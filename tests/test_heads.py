from __future__ import annotations

import pytest
import torch

import bertviz_kit as bk


def test_forward_shapes(tiny_path):
    m = bk.EncoderWithHead.from_pretrained(tiny_path, out_features=10, seed=0)
    batch = m.tokenize(["the bank vault", "a river bank on the mississippi"])
    projected, last, all_hidden = m(**batch)
    b, t = batch["input_ids"].shape
    assert projected.shape == (b, t, 10)
    assert last.shape == (b, t, 32)
    assert len(all_hidden) == 4 and all_hidden[-1].shape == (b, t, 32)
    assert torch.allclose(all_hidden[-1], last)
    assert torch.allclose(projected, m.head(last))
    assert m.newly_initialized == ["head.weight", "head.bias"]
    assert m.unused_pretrained == []


def test_reports_unused_pretrained_weights(tmp_path, tiny_path):
    """A checkpoint with an MLM head (like bert-base-cased) reports it as unused."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder = tmp_path / "mlm"
    config = BertConfig.from_pretrained(tiny_path)
    BertForMaskedLM(config).save_pretrained(folder)
    BertTokenizerFast.from_pretrained(tiny_path).save_pretrained(folder)
    m = bk.EncoderWithHead.from_pretrained(folder, out_features=4)
    assert any(k.startswith("cls.predictions") for k in m.unused_pretrained)


def test_freeze_encoder_and_train_head(tiny_path):
    m = bk.EncoderWithHead.from_pretrained(tiny_path, out_features=2, freeze_encoder=True, seed=1)
    assert all(not p.requires_grad for p in m.encoder.parameters())
    assert all(p.requires_grad for p in m.head.parameters())
    batch = m.tokenize(["the bank"])
    out, _, _ = m(**batch)
    out.sum().backward()
    assert m.head.weight.grad is not None


def test_seed_makes_head_reproducible(tiny):
    a = bk.EncoderWithHead(tiny, 5, seed=3)
    b = bk.EncoderWithHead(tiny, 5, seed=3)
    assert torch.equal(a.head.weight, b.head.weight)


def test_bad_arguments(tiny):
    with pytest.raises(ValueError, match="out_features must be an int >= 1; got 0"):
        bk.EncoderWithHead(tiny, 0)
    with pytest.raises(TypeError, match="encoder must be an Encoder"):
        bk.EncoderWithHead("bert", 3)
