"""Inside a ModernBERT layer: every capture and mixing method against the layer written out by hand.

The tiny random ModernBERT of ``tiny_architectures`` has three layers: global, local
(each token sees the tokens at most ``local_attention // 2`` positions away) and global,
and the bank text is longer than the window. The references here compute each layer
from its weights and the formulas of the architecture (Warner et al. 2024: pre-LayerNorm,
rotary positions on the queries and keys (Su et al. 2021) with ``rotate_half``, a
GeGLU feed-forward block, a final LayerNorm after the last layer), in float64, without
calling bertviz_kit's internals or transformers' ModernBERT functions.
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import BANK_TEXT
from tiny_architectures import tiny_encoder

import bertviz_kit as bk
from bertviz_kit.analysis.internals import embedding_sum, layer_internals
from bertviz_kit.analysis.mixing import MIXING_METHODS, PRE_LN_METHODS, context_mixing
from bertviz_kit.analysis.neurons import query_key_products, top_neurons

ATOL = 1e-5


@pytest.fixture(scope="module")
def modern(tmp_path_factory):
    enc = tiny_encoder("modernbert", tmp_path_factory)
    return enc, enc.encode(BANK_TEXT, attentions=True)


def _w(m: torch.nn.Module) -> torch.Tensor:
    return m.weight.detach().double()


def _ln(m: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(m, torch.nn.Identity):
        return x
    y = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + m.eps) * _w(m)
    return y if m.bias is None else y + m.bias.detach().double()


def _rotate(x: torch.Tensor, theta: float) -> torch.Tensor:
    """RoPE on ``[H, T, d]``: pairs (i, i + d/2) rotated by the angle ``pos * theta^(-2i/d)``."""
    d = x.shape[-1]
    half = d // 2
    inv = theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # [d/2]
    ang = torch.arange(x.shape[1], dtype=torch.float64)[:, None] * inv[None, :]  # [T, d/2]
    cos, sin = ang.cos(), ang.sin()
    a, b = x[..., :half], x[..., half:]
    return torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)


def _window(config, k: int, n: int) -> torch.Tensor:
    """``[T, T]`` bool: where token i may attend to token j in layer ``k`` (1-based)."""
    if config.layer_types[k - 1] != "sliding_attention":
        return torch.ones(n, n, dtype=torch.bool)
    pos = torch.arange(n)
    return (pos[:, None] - pos[None, :]).abs() <= config.local_attention // 2


def _layer_by_hand(enc, k: int, x: torch.Tensor, zero: int | None = None) -> dict[str, torch.Tensor]:
    """Layer ``k`` of ModernBERT on ``x`` ``[T, D]`` (float64), token ``zero``'s value vectors set to 0."""
    config = enc.model.config
    layer = enc.model.layers[k - 1]
    n, dim, h = x.shape[0], x.shape[1], config.num_attention_heads
    hd = dim // h
    out: dict[str, torch.Tensor] = {"pre_norm": _ln(layer.attn_norm, x)}
    qkv = out["pre_norm"] @ _w(layer.attn.Wqkv).T  # no biases in this model
    q, key, v = (qkv[:, i * dim:(i + 1) * dim].reshape(n, h, hd).transpose(0, 1) for i in range(3))
    if zero is not None:
        v = v.clone()
        v[:, zero] = 0
    theta = config.rope_parameters[config.layer_types[k - 1]]["rope_theta"]
    q, key = _rotate(q, theta), _rotate(key, theta)
    scores = (q @ key.transpose(1, 2)) / math.sqrt(hd)
    scores = scores.masked_fill(~_window(config, k, n), float("-inf"))
    probs = torch.softmax(scores, -1)
    context = probs @ v
    attn_output = context.transpose(0, 1).reshape(n, dim) @ _w(layer.attn.Wo).T
    residual = x + attn_output
    normed = _ln(layer.mlp_norm, residual)
    pre, gate = (normed @ _w(layer.mlp.Wi).T).chunk(2, dim=-1)
    act = 0.5 * pre * (1 + torch.erf(pre / math.sqrt(2))) * gate  # exact GELU (hidden_activation "gelu")
    ffn_output = act @ _w(layer.mlp.Wo).T
    stream = residual + ffn_output
    out.update(query=q, key=key, value=v, scores=scores, probs=probs, context=context, attn_output=attn_output,
               attn_residual=residual, attn_norm=normed, ffn_pre=pre, ffn_gate=gate, ffn_act=act,
               ffn_output=ffn_output, ffn_residual=stream,
               output=_ln(enc.model.final_norm, stream) if k == enc.n_layers else stream)
    return out


def test_the_tiny_model_has_a_window_shorter_than_the_text(modern):
    enc, e = modern
    config = enc.model.config
    assert config.layer_types == ["full_attention", "sliding_attention", "full_attention"]
    assert e.n_tokens > 2 * config.local_attention
    assert not _window(config, 2, e.n_tokens).all()


def test_every_field_equals_the_layer_by_hand(modern):
    enc, e = modern
    for k in range(1, enc.n_layers + 1):
        r = layer_internals(e, k, enc)
        ref = _layer_by_hand(enc, k, e.hidden_states[k - 1].double())
        for name, want in ref.items():
            got = getattr(r, name)
            assert got.shape == want.shape, name
            torch.testing.assert_close(got.double(), want, atol=ATOL, rtol=1e-4, msg=name)
        torch.testing.assert_close(r.output, e.hidden_states[k], atol=ATOL, rtol=0)
        torch.testing.assert_close(r.input, e.hidden_states[k - 1], atol=0, rtol=0)


def test_probabilities_from_captured_queries_and_keys_equal_the_models_attentions(modern):
    enc, e = modern
    config = enc.model.config
    for k in range(1, enc.n_layers + 1):
        r = layer_internals(e, k, enc)
        allowed = _window(config, k, e.n_tokens)
        d = r.query.shape[-1]
        assert r.scaling == pytest.approx(1 / math.sqrt(d))
        # the position scores are the window mask: 0 inside, -inf outside
        assert bool((r.position_scores[:, allowed] == 0).all())
        assert bool(torch.isneginf(r.position_scores[:, ~allowed]).all())
        logits = (r.query @ r.key.transpose(1, 2) / math.sqrt(d)).masked_fill(~allowed, float("-inf"))
        torch.testing.assert_close(torch.softmax(logits, -1), e.attentions[k - 1], atol=ATOL, rtol=0)
        torch.testing.assert_close(r.probs, e.attentions[k - 1], atol=0, rtol=0)
        torch.testing.assert_close(torch.softmax(r.scores, -1), r.probs, atol=ATOL, rtol=0)
        assert bool((r.probs[:, ~allowed] == 0).all())
    # the rotation is there: without it the global layer's probabilities differ
    r = layer_internals(e, 1, enc)
    qkv = r.pre_norm @ enc.model.layers[0].attn.Wqkv.weight.detach().T
    q, key = (qkv[:, i * enc.dim:(i + 1) * enc.dim].reshape(e.n_tokens, r.n_heads, -1).transpose(0, 1)
              for i in range(2))
    plain = torch.softmax(q @ key.transpose(1, 2) * r.scaling, -1)
    assert (plain - r.probs).abs().max() > 1e-3


def test_embedding_sum_is_the_normed_token_embedding(modern):
    enc, e = modern
    s = embedding_sum(e, enc)
    emb = enc.model.embeddings
    word = emb.tok_embeddings.weight.detach()[e.input_ids]
    torch.testing.assert_close(s.word, word)
    assert s.position is None and s.token_type is None and not s.projected
    torch.testing.assert_close(s.total, word)
    torch.testing.assert_close(s.normed.double(), _ln(emb.norm, word.double()), atol=ATOL, rtol=0)
    torch.testing.assert_close(s.output, e.hidden_states[0], atol=ATOL, rtol=0)
    assert s.position_ids.tolist() == list(range(e.n_tokens))


def test_query_key_products_and_top_neurons(modern):
    enc, e = modern
    r = layer_internals(e, 2, enc)  # the local layer: the products sum to -inf beyond the window
    for token in (0, 10):
        p = query_key_products(r, 1, token)
        torch.testing.assert_close(p.sum(-1) * r.scaling + r.position_scores[1, token], r.scores[1, token],
                                   atol=ATOL, rtol=0)
    top = top_neurons(e, "bank", k=5, enc=enc)
    t = top.token_index
    for row, k in enumerate(top.layers):
        act = _layer_by_hand(enc, k, e.hidden_states[k - 1].double())["ffn_act"][t]  # GELU(input) * gate
        want = act.sort(descending=True)
        torch.testing.assert_close(top.values[row].double(), want.values[:5], atol=ATOL, rtol=0)
        assert top.neurons[row].tolist() == want.indices[:5].tolist()


def test_attention_and_rollout_honour_the_window(modern):
    enc, e = modern
    att = context_mixing(e, "attention", enc=enc).scores
    torch.testing.assert_close(att, e.attentions.mean(1), atol=ATOL, rtol=0)
    assert bool((att[1][~_window(enc.model.config, 2, e.n_tokens)] == 0).all())
    roll = context_mixing(e, "rollout", enc=enc).scores
    n, prev, ref = e.n_tokens, None, []
    for a in e.attentions.double().mean(1):
        a = 0.5 * a + 0.5 * torch.eye(n, dtype=torch.float64)
        a = a / a.sum(-1, keepdim=True)
        prev = a if prev is None else a @ prev
        ref.append(prev)
    torch.testing.assert_close(roll.double(), torch.stack(ref), atol=ATOL, rtol=0)


def _transformed(enc, e, k: int) -> torch.Tensor:
    """``[H, T, D]``: ``f^h(x_j) = (LN(x_j) W_V^h) W_O^h``, the value map reading the pre-attention norm."""
    layer = enc.model.layers[k - 1]
    h = enc.model.config.num_attention_heads
    hd = enc.dim // h
    x = _ln(layer.attn_norm, e.hidden_states[k - 1].double())
    w_v, w_o = _w(layer.attn.Wqkv)[2 * enc.dim:], _w(layer.attn.Wo)
    return torch.stack([(x @ w_v[c].T) @ w_o[:, c].T for c in (slice(i * hd, (i + 1) * hd) for i in range(h))])


def _reference(enc, e, method: str) -> torch.Tensor:
    """``[L, T, T]``, one pair (i, j) at a time: Kobayashi et al. (2020) norms, or ALTI (Ferrando et al. 2022)
    with T_i(x_j) = sum_h a^h_ij f^h(x_j) + [i = j] x_i (the raw residual; no LayerNorm after the sum)."""
    n = e.n_tokens
    layers = []
    for k in range(1, enc.n_layers + 1):
        att, fx = e.attentions[k - 1].double(), _transformed(enc, e, k)
        x = e.hidden_states[k - 1].double()
        m = torch.zeros(n, n, dtype=torch.float64)
        for i in range(n):
            parts = []
            for j in range(n):
                vec = sum(att[h, i, j] * fx[h, j] for h in range(att.shape[0]))
                m[i, j] = vec.norm()
                parts.append(vec + (x[i] if i == j else 0))
            if method == "alti":
                y = sum(parts)
                c = torch.stack([torch.clamp(y.abs().sum() - (y - p).abs().sum(), min=0) for p in parts])
                m[i] = c / c.sum()
        layers.append(m)
    out = torch.stack(layers)
    if method == "alti":  # R_1 = C_1, R_l = C_l R_{l-1}
        for k in range(1, out.shape[0]):
            out[k] = out[k] @ out[k - 1]
    return out


@pytest.mark.parametrize("method", ["norm", "alti"])
def test_norm_and_alti_match_the_formulas_on_the_normed_values(modern, method):
    enc, e = modern
    got = context_mixing(e, method, enc=enc)
    torch.testing.assert_close(got.scores.double(), _reference(enc, e, method), atol=ATOL, rtol=1e-4)
    assert got.aggregated == (method == "alti")
    if method == "norm":
        assert bool((got.scores[1][~_window(enc.model.config, 2, e.n_tokens)] == 0).all())
    else:
        torch.testing.assert_close(got.scores.sum(-1), torch.ones(enc.n_layers, e.n_tokens), atol=ATOL, rtol=0)


def test_the_residual_parts_sum_to_the_stream_after_the_attention(modern):
    """The pre-LayerNorm decomposition is exact: sum_j T_i(x_j) = x_i + attn_output_i (no biases here)."""
    enc, e = modern
    for k in range(1, enc.n_layers + 1):
        att, fx = e.attentions[k - 1].double(), _transformed(enc, e, k)
        x = e.hidden_states[k - 1].double()
        total = x + torch.einsum("hij,hjd->id", att, fx)
        r = layer_internals(e, k, enc)
        torch.testing.assert_close(total, r.attn_residual.double(), atol=ATOL, rtol=1e-4)


def _loud(enc):
    """A fresh copy whose value rows of Wqkv and whose Wo are 30x larger (the random attention is faint)."""
    loud = bk.load(enc.name, device="cpu")
    with torch.no_grad():
        for layer in loud.model.layers:
            layer.attn.Wqkv.weight[2 * loud.dim:].mul_(30.0)
            layer.attn.Wo.weight.mul_(30.0)
    return loud, loud.encode(BANK_TEXT, attentions=True)


def test_value_zeroing_matches_the_layer_run_by_hand(modern):
    enc, e = _loud(modern[0])
    got = context_mixing(e, "value_zeroing", enc=enc, batch_size=7)  # several batches per layer
    n = e.n_tokens
    for k in range(1, enc.n_layers + 1):
        x = e.hidden_states[k - 1].double()
        y = _layer_by_hand(enc, k, x)["ffn_residual"]  # the layer's output, before the final norm
        ref = torch.zeros(n, n, dtype=torch.float64)
        for j in range(n):
            yj = _layer_by_hand(enc, k, x, zero=j)["ffn_residual"]
            ref[:, j] = 1 - torch.nn.functional.cosine_similarity(y, yj, dim=-1)
        ref = ref / ref.sum(-1, keepdim=True)
        torch.testing.assert_close(got.scores[k - 1].double(), ref, atol=1e-4, rtol=1e-3)
        if k == 2:  # zeroing a token beyond the window leaves a row unchanged
            outside = ~_window(enc.model.config, 2, n)
            assert ref[outside].abs().max() < 1e-12 and got.scores[1][outside].abs().max() < 1e-4
            assert ref[~outside].max() > 1e-2


def test_methods_beyond_the_pre_layernorm_ones_name_them(modern):
    enc, e = modern
    assert set(MIXING_METHODS) - set(PRE_LN_METHODS) == {"norm_res_ln"}
    with pytest.raises(bk.InvalidParameterError, match=r"pre-LayerNorm modernbert.*'norm', 'alti', 'value_zeroing'"):
        context_mixing(e, "norm_res_ln", enc=enc)
