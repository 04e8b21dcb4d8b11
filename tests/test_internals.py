"""Inside a layer: the tensors captured from the model's own modules agree with the model's outputs.

On a tiny random model of every supported architecture: the probabilities recomputed from the
captured queries and keys (softmax(Q K^T / sqrt(d))) equal the attentions of an eager forward
pass (output_attentions), each step follows from the one before, the layer output equals
``hidden_states[layer]``, and the embedding sum equals ``hidden_states[0]``.
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import BANK_TEXT
from tiny_architectures import POST_LN, SUPPORTED, tiny_encoder

import bertviz_kit as bk
from bertviz_kit.analysis.internals import embedding_sum, layer_internals
from bertviz_kit.analysis.neurons import query_key_products, top_neurons

ATOL = 1e-5


@pytest.fixture(scope="module", params=SUPPORTED)
def arch(request, tmp_path_factory):
    enc = tiny_encoder(request.param, tmp_path_factory)
    return enc, enc.encode(BANK_TEXT, attentions=True)


@pytest.fixture(scope="module", params=POST_LN)  # ModernBERT's pre-LayerNorm steps: test_modernbert.py
def post_ln(request, tmp_path_factory):
    enc = tiny_encoder(request.param, tmp_path_factory)
    return enc, enc.encode(BANK_TEXT, attentions=True)


def _ln(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.layer_norm(x, x.shape[-1:], module.weight.detach(), module.bias.detach(), module.eps)


def test_probabilities_from_captured_queries_and_keys_equal_the_models_attentions(arch):
    enc, e = arch
    for layer in range(1, enc.n_layers + 1):
        r = layer_internals(e, layer, enc)
        h, t, d = r.query.shape
        assert (h, t) == (e.attentions.shape[1], e.n_tokens) and h * d == enc.dim
        if r.architecture == "deberta-v2":  # content-to-content, plus the two relative-position terms
            logits = r.query @ r.key.transpose(1, 2) / math.sqrt(3 * d) + r.position_scores
            assert r.position_scores.abs().max() > 0
        elif r.architecture == "modernbert":  # rotated queries and keys; a sliding-window mask in local layers
            logits = r.query @ r.key.transpose(1, 2) / math.sqrt(d) + r.position_scores
            assert bool((r.position_scores <= 0).all())
        else:
            logits = r.query @ r.key.transpose(1, 2) / math.sqrt(d)
            assert r.scaling == pytest.approx(1 / math.sqrt(d)) and not r.position_scores.any()
        probs = torch.softmax(logits, dim=-1)
        torch.testing.assert_close(probs, e.attentions[layer - 1], atol=ATOL, rtol=0)
        torch.testing.assert_close(r.probs, e.attentions[layer - 1], atol=ATOL, rtol=0)
        torch.testing.assert_close(torch.softmax(r.scores, -1), r.probs, atol=ATOL, rtol=0)
        torch.testing.assert_close(r.input, e.hidden_states[layer - 1], atol=ATOL, rtol=0)
        torch.testing.assert_close(r.output, e.hidden_states[layer], atol=ATOL, rtol=0)


def test_each_step_follows_from_the_one_before(post_ln):
    enc, e = post_ln
    r = layer_internals(e, -1, enc)
    assert r.layer == enc.n_layers
    torch.testing.assert_close(r.context, r.probs @ r.value, atol=ATOL, rtol=0)
    torch.testing.assert_close(r.attn_residual, r.input + r.attn_output, atol=ATOL, rtol=0)
    torch.testing.assert_close(r.ffn_residual, r.attn_norm + r.ffn_output, atol=ATOL, rtol=0)
    # the LayerNorms: zero mean and unit variance before their affine maps, recomputed with torch's
    lns = [m for m in enc.model.modules() if isinstance(m, torch.nn.LayerNorm) and m.weight.shape[0] == enc.dim]
    for x, y in ((r.attn_residual, r.attn_norm), (r.ffn_residual, r.output)):
        assert any(torch.allclose(_ln(m, x), y, atol=ATOL) for m in lns)
    assert r.ffn_pre.shape == r.ffn_act.shape == (e.n_tokens, r.ffn_pre.shape[1])
    gelu = torch.nn.functional.gelu(r.ffn_pre, approximate="tanh" if r.architecture == "albert" else "none")
    torch.testing.assert_close(r.ffn_act, gelu, atol=ATOL, rtol=0)
    text = repr(r)
    assert "query=[4, " in text and "tensor" not in text


def test_embedding_sum_equals_the_first_hidden_state(arch):
    enc, e = arch
    s = embedding_sum(e, enc)
    torch.testing.assert_close(s.output, e.hidden_states[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(s.total, s.word + sum(x for x in (s.position, s.token_type) if x is not None))
    emb = enc.model.get_input_embeddings().weight.detach()
    torch.testing.assert_close(s.word, emb[e.input_ids])
    assert s.projected == (enc.model.config.model_type in ("electra", "albert", "deberta-v2"))
    assert (s.token_type is None) == (enc.model.config.model_type in ("distilbert", "deberta-v2", "modernbert"))
    assert (s.position is None) == (enc.model.config.model_type in ("deberta-v2", "modernbert"))
    if enc.model.config.model_type in ("roberta", "xlm-roberta"):
        assert s.position_ids[0] == enc.model.config.pad_token_id + 1  # positions start after padding
    else:
        assert s.position_ids.tolist() == list(range(e.n_tokens))
    assert "word=[" in repr(s)


def test_query_key_products_sum_to_the_scores(arch):
    enc, e = arch
    r = layer_internals(e, 1, enc)
    p = query_key_products(r, 2, 5)
    assert p.shape == (e.n_tokens, r.query.shape[-1])
    torch.testing.assert_close(p.sum(-1) * r.scaling + r.position_scores[2, 5], r.scores[2, 5], atol=ATOL, rtol=0)


def test_top_neurons_are_the_largest_activations(arch):
    enc, e = arch
    top = top_neurons(e, "bank", k=4, enc=enc)
    t = top.token_index
    assert e.tokens[t].lstrip("\u0120") == "bank" or e.words[e.word_ids[t]] == "bank"
    for row, layer in enumerate(top.layers):
        act = layer_internals(e, layer, enc).ffn_act[t]
        torch.testing.assert_close(top.values[row], act.sort(descending=True).values[:4])
        torch.testing.assert_close(act[top.neurons[row]], top.values[row])
    assert top.neurons.shape == (enc.n_layers, 4)


def test_bundled_model_inside_layer(minilm, bank):
    for layer in (1, 6):
        r = layer_internals(bank, layer, minilm)
        torch.testing.assert_close(r.probs, bank.attentions[layer - 1], atol=ATOL, rtol=0)
        torch.testing.assert_close(r.output, bank.hidden_states[layer], atol=1e-4, rtol=0)
    torch.testing.assert_close(embedding_sum(bank, minilm).output, bank.hidden_states[0], atol=ATOL, rtol=0)


def test_unsupported_architecture_names_the_supported_ones(tmp_path_factory):
    enc = tiny_encoder("mpnet", tmp_path_factory)
    e = enc.encode("the bank")
    with pytest.raises(bk.InvalidParameterError, match="bert.*distilbert.*albert.*deberta-v2.*modernbert"):
        layer_internals(e, 1, enc)
    with pytest.raises(ValueError, match="architectures"):
        embedding_sum(e, enc)


def test_bad_arguments_name_the_parameter(tiny, tiny_bank, minilm):
    with pytest.raises(bk.InvalidParameterError, match=r"layer must be an int in \[1, 3\]"):
        layer_internals(tiny_bank, 0, tiny)
    with pytest.raises(bk.InvalidParameterError, match="layer must"):
        layer_internals(tiny_bank, 4, tiny)
    with pytest.raises(bk.InvalidParameterError, match="enc must be an Encoder"):
        layer_internals(tiny_bank, 1, "bert")
    with pytest.raises(bk.InvalidParameterError, match="pass the encoder that encoded e"):
        layer_internals(tiny_bank, 1, minilm)
    with pytest.raises(bk.InvalidParameterError, match="split the text"):
        layer_internals(tiny.encode("hello world " * 40), 1, tiny)
    r = layer_internals(tiny_bank, 1, tiny)
    with pytest.raises(bk.InvalidParameterError, match="head must"):
        query_key_products(r, 4, 0)
    with pytest.raises(bk.InvalidParameterError, match="k must"):
        top_neurons(tiny_bank, "bank", k=10_000, enc=tiny)


def test_attention_implementation_and_mode_are_restored(tiny, tiny_bank):
    model = tiny.model
    before = model.config._attn_implementation
    layer_internals(tiny_bank, 1, tiny)
    assert model.config._attn_implementation == before and not model.training


def test_threads_sharing_one_encoder_get_their_own_layers(tiny):
    """Hooks are set and removed under the encoder's lock: a concurrent encode or capture sees none of them."""
    from concurrent.futures import ThreadPoolExecutor

    def n_hooks() -> int:
        return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in tiny.model.modules())

    before = n_hooks()
    texts = [BANK_TEXT, "the river bank", "money in the bank", "hello world"]
    es = [tiny.encode(t) for t in texts]
    ref = [layer_internals(e, 2, tiny).output for e in es]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda e: layer_internals(e, 2, tiny).output, es * 3))
        plain = list(pool.map(lambda t: tiny.encode(t).hidden_states[2], texts * 3))
    for i, out in enumerate(got):
        torch.testing.assert_close(out, ref[i % 4], atol=1e-6, rtol=0)
    for i, h in enumerate(plain):
        torch.testing.assert_close(h, es[i % 4].hidden_states[2], atol=1e-5, rtol=0)
    assert n_hooks() == before
