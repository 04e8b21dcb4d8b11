"""[MASK] predictions at every layer: the last layer is the masked-LM model's own prediction."""

from __future__ import annotations

import pytest
import torch
from test_lens import _make_tiny_mlm

import bertviz_kit as bk


@pytest.fixture(scope="module")
def mlm(tmp_path_factory):
    path = _make_tiny_mlm(tmp_path_factory.mktemp("tiny-mlm-fill"))
    return path, bk.load(path, device="cpu")


def test_last_layer_is_the_models_own_prediction(mlm):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    path, enc = mlm
    text = "the bank [MASK] was seen fishing on the [MASK] bank"
    r = bk.fill_mask(enc, text, k=5)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForMaskedLM.from_pretrained(path, use_safetensors=True).eval()
    inputs = tok(text, return_tensors="pt")
    with torch.no_grad():
        probs = torch.softmax(model(**inputs).logits[0], dim=-1)
    where = (inputs["input_ids"][0] == tok.mask_token_id).nonzero().squeeze(1).tolist()
    assert list(r.positions) == where and len(r.layers) == 2
    for m, t in enumerate(where):
        top = probs[t].topk(5)
        assert torch.equal(r.layers[m].ids[-1], top.indices)
        torch.testing.assert_close(r.layers[m].scores[-1], top.values, atol=1e-5, rtol=1e-4)
        assert r.layers[m].ids.shape == (enc.n_layers + 1, 5)
        assert [p for _, p in r.top[m]] == pytest.approx(top.values.tolist(), abs=1e-5)
    assert "n_masks=2" in repr(r)


def test_bundled_model_names_the_download(minilm):
    with pytest.raises(bk.InvalidParameterError, match="bertviz-kit download bert-base-cased"):
        bk.fill_mask(minilm, "the bank [MASK] was seen fishing")


def test_text_without_mask(mlm):
    _, enc = mlm
    with pytest.raises(bk.InvalidParameterError, match=r"text must contain the mask token '\[MASK\]'"):
        bk.fill_mask(enc, "no mask here")
    with pytest.raises(bk.InvalidParameterError, match="k must"):
        bk.fill_mask(enc, "a [MASK]", k=0)
