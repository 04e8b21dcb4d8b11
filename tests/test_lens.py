"""The lens on every layer: the masked-LM path against an explicit per-layer head, the
embedding path on the bundled model, and refusals."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch
from conftest import BANK_TEXT, tiny_vocab

import bertviz_kit as bk
from bertviz_kit import InvalidParameterError


def _make_tiny_mlm(folder) -> str:
    """As conftest.make_tiny_model, but a BertForMaskedLM (encoder + cls.predictions head)."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    vocab = {t: i for i, t in enumerate(tiny_vocab())}
    BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=64).save_pretrained(folder)
    torch.manual_seed(1)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    BertForMaskedLM(config).eval().save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def mlm_path(tmp_path_factory) -> str:
    return _make_tiny_mlm(tmp_path_factory.mktemp("tiny-mlm"))


@pytest.fixture(scope="module")
def mlm_enc(mlm_path) -> bk.Encoder:
    return bk.load(mlm_path, device="cpu")


def _slow_mlm(folder: str, e: bk.Encoding, t: int) -> torch.Tensor:
    """Probabilities ``[layers, vocab]``: transform, decoder and bias applied by hand per layer."""
    from transformers import BertForMaskedLM

    model = BertForMaskedLM.from_pretrained(folder, use_safetensors=True).eval()
    p = model.cls.predictions
    rows = []
    with torch.no_grad():
        for layer in range(e.hidden_states.shape[0]):
            h = e.hidden_states[layer, t].float()
            x = p.transform.LayerNorm(p.transform.transform_act_fn(p.transform.dense(h)))
            decoder = p.decoder  # its own weight: tied to the input embeddings or not, depending on the config
            bias = decoder.bias if decoder.bias is not None else p.bias
            logits = x @ decoder.weight.T + bias
            rows.append(torch.softmax(logits, dim=-1))
    return torch.stack(rows)


@pytest.mark.parametrize("word", ["bank", "river", "robber"])
def test_mlm_path_matches_explicit_head(mlm_path, mlm_enc, word):
    e = mlm_enc.encode(BANK_TEXT)
    r = bk.lens(e, word, k=7, enc=mlm_enc)
    assert r.kind == "mlm"
    t = r.token_index
    assert e.word_ids[t] == bk.find(e, word)[0] and e.word_ids.index(e.word_ids[t]) == t  # first piece
    ref = _slow_mlm(mlm_path, e, t)
    top = ref.topk(7, dim=-1)
    torch.testing.assert_close(r.scores, top.values, atol=1e-5, rtol=1e-4)
    assert torch.equal(r.ids, top.indices)
    true = int(e.input_ids[t])
    ranks = [int((row > row[true]).sum()) + 1 for row in ref]
    assert r.rank.tolist() == ranks
    vocab = tiny_vocab()
    assert r.tokens == tuple(tuple(vocab[i] for i in row) for row in top.indices.tolist())
    assert r.layer_ids == (0, 1, 2, 3) and r.true_token == e.tokens[t]


def test_mlm_last_layer_is_the_models_prediction(mlm_path, mlm_enc):
    from transformers import BertForMaskedLM

    with pytest.warns(UserWarning, match="special token"):
        e = mlm_enc.encode("the [MASK] robber was seen")
    assert e.tokens[2] == "[MASK]"
    r = bk.lens(e, token=2, k=5, enc=mlm_enc, kind="mlm")
    model = BertForMaskedLM.from_pretrained(mlm_path, use_safetensors=True).eval()
    with torch.no_grad():
        logits = model(input_ids=e.input_ids.unsqueeze(0)).logits[0, 2]
    torch.testing.assert_close(r.scores[-1], torch.softmax(logits, -1).topk(5).values, atol=1e-5, rtol=1e-4)


def test_auto_picks_embeddings_without_head(tiny, tiny_bank):
    r = bk.lens(tiny_bank, "bank", k=3, enc=tiny)
    assert r.kind == "embeddings" and r.scores.shape == (4, 3) and r.rank.shape == (4,)
    with pytest.raises(InvalidParameterError, match="masked-LM head"):
        bk.lens(tiny_bank, "bank", enc=tiny, kind="mlm")


def test_embedding_path_matches_brute_force(tiny, tiny_bank):
    r = bk.lens(tiny_bank, "vault", k=4, enc=tiny, kind="embeddings")
    w = tiny.model.get_input_embeddings().weight.detach()
    h = tiny_bank.hidden_states[:, r.token_index]
    cos = torch.nn.functional.cosine_similarity(h.unsqueeze(1), w.unsqueeze(0), dim=-1)
    torch.testing.assert_close(r.scores, cos.topk(4, dim=-1).values, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("word", ["bank", "river", "money"])
def test_bundled_layer0_nearest_is_the_token(minilm, word):
    e = minilm.encode(bk.BANK_TEXT)
    r = bk.lens(e, word, enc=minilm)
    assert r.kind == "embeddings"
    assert r.tokens[0][0] == word and int(r.rank[0]) == 1
    assert r.scores.shape == (7, 10) and bool((r.scores[:, :-1] >= r.scores[:, 1:]).all())


def test_occurrence_and_token_index(tiny, tiny_bank):
    a = bk.lens(tiny_bank, "bank", enc=tiny, occurrence=-1, k=2)
    b = bk.lens(tiny_bank, token=a.token_index, enc=tiny, k=2)
    assert a.token_index == b.token_index and torch.equal(a.ids, b.ids)
    assert a.token_index != bk.lens(tiny_bank, "bank", enc=tiny, k=2).token_index


def test_bad_inputs(tiny, tiny_bank, minilm):
    with pytest.raises(InvalidParameterError, match="does not occur"):
        bk.lens(tiny_bank, "castle", enc=tiny)
    with pytest.raises(InvalidParameterError, match="kind"):
        bk.lens(tiny_bank, "bank", enc=tiny, kind="logit")
    with pytest.raises(InvalidParameterError, match="vocabulary size"):
        bk.lens(tiny_bank, "bank", enc=tiny, k=10**6)
    with pytest.raises(InvalidParameterError, match="k must be"):
        bk.lens(tiny_bank, "bank", enc=tiny, k=0)
    with pytest.raises(InvalidParameterError, match="enc must be"):
        bk.lens(tiny_bank, "bank", enc="bert")
    with pytest.raises(InvalidParameterError, match="token"):
        bk.lens(tiny_bank, enc=tiny)
    with pytest.raises(InvalidParameterError, match="token must be"):
        bk.lens(tiny_bank, token=999, enc=tiny)
    with pytest.raises(InvalidParameterError, match="width"):
        bk.lens(tiny_bank, "bank", enc=minilm)
    with pytest.raises(InvalidParameterError, match="occurrence"):
        bk.lens(tiny_bank, "bank", enc=tiny, occurrence=5)


def test_plot_lens(tiny, tiny_bank, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    r = bk.lens(tiny_bank, "bank", k=4, enc=tiny)
    ax = bk.plot_lens(r)
    assert ax.get_xlabel() and ax.get_ylabel() and len(ax.figure.axes) >= 2
    out = tmp_path / "lens_tiny.png"
    ax.figure.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_embedding_path_follows_a_changed_embedding_matrix(tiny_path, tiny_bank):
    """The unit-length embedding rows are cached per encoder, and made again after an in-place change."""
    enc = bk.load(tiny_path, device="cpu")  # its own copy: the weights are changed below
    before = bk.lens(tiny_bank, "vault", k=3, enc=enc, kind="embeddings")
    assert torch.equal(bk.lens(tiny_bank, "vault", k=3, enc=enc, kind="embeddings").scores, before.scores)
    w = enc.model.get_input_embeddings().weight
    with torch.no_grad():
        w[before.true_id] = tiny_bank.hidden_states[-1, before.token_index]  # the last layer's own state
    # the edit makes enc another model (its fingerprint changed): say the encoding is its own on purpose
    e = dataclasses.replace(tiny_bank, model_fingerprint=enc.fingerprint)
    after = bk.lens(e, "vault", k=3, enc=enc, kind="embeddings")
    assert int(after.rank[-1]) == 1 and float(after.scores[-1, 0]) == pytest.approx(1.0, abs=1e-5)
    assert after.tokens[-1][0] == "vault"
