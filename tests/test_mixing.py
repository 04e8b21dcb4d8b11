"""Context mixing: every method against an independent computation written here from its paper.

The references read the model's weights and its own outputs (hidden states and attentions of
``enc.encode(..., attentions=True)``) and loop over heads and token pairs as the formulas are
written; none of them calls bertviz_kit's mixing helpers.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from conftest import BANK_TEXT
from tiny_architectures import POST_LN, tiny_encoder

import bertviz_kit as bk
from bertviz_kit.analysis.mixing import MIXING_METHODS, context_mixing, mixing_agreement

ATOL = 1e-5

# (value map, output projection, first LayerNorm) of layer ``k`` (1-based) in each architecture
PATHS = {
    "bert": ("encoder.layer.{k}.attention.self.value", "encoder.layer.{k}.attention.output.dense",
             "encoder.layer.{k}.attention.output.LayerNorm"),
    "distilbert": ("transformer.layer.{k}.attention.v_lin", "transformer.layer.{k}.attention.out_lin",
                   "transformer.layer.{k}.sa_layer_norm"),
    "deberta-v2": ("encoder.layer.{k}.attention.self.value_proj", "encoder.layer.{k}.attention.output.dense",
                   "encoder.layer.{k}.attention.output.LayerNorm"),
    "albert": ("encoder.albert_layer_groups.0.albert_layers.0.attention.value",
               "encoder.albert_layer_groups.0.albert_layers.0.attention.dense",
               "encoder.albert_layer_groups.0.albert_layers.0.attention.LayerNorm"),
}


def _modules(enc, k):
    kind = enc.model.config.model_type
    paths = PATHS.get(kind, PATHS["bert"])
    return [enc.model.get_submodule(p.format(k=k - 1)) for p in paths]


@pytest.fixture(scope="module", params=POST_LN)  # ModernBERT (pre-LayerNorm): test_modernbert.py
def arch(request, tmp_path_factory):
    enc = tiny_encoder(request.param, tmp_path_factory)
    return enc, enc.encode(BANK_TEXT, attentions=True)


def _transformed(enc, e, k):
    """Per head ``f^h(x_j) = (x_j W_V^h + b_V^h) W_O^h``: ``[H, T, D]``, looping over heads."""
    value, dense, _ = _modules(enc, k)
    x = e.hidden_states[k - 1]
    n_heads = e.attentions.shape[1]
    d = enc.dim // n_heads
    v = x @ value.weight.detach().T + value.bias.detach()
    out = []
    for h in range(n_heads):
        cols = slice(h * d, (h + 1) * d)
        out.append(v[:, cols] @ dense.weight.detach()[:, cols].T)
    return torch.stack(out)


def _reference(enc, e, method):
    """``[L, T, T]`` from the papers' formulas, one pair (i, j) at a time."""
    n = e.n_tokens
    layers = []
    for k in range(1, enc.n_layers + 1):
        att = e.attentions[k - 1]
        fx = _transformed(enc, e, k)
        _, dense, ln = _modules(enc, k)
        x = e.hidden_states[k - 1]
        pre = x + sum(att[h] @ fx[h] for h in range(att.shape[0])) + dense.bias.detach()  # the LayerNorm's input
        m = torch.zeros(n, n)
        for i in range(n):
            s = torch.sqrt(pre[i].var(unbiased=False) + ln.eps)
            parts = []
            for j in range(n):
                vec = sum(att[h, i, j] * fx[h, j] for h in range(att.shape[0]))
                if method == "norm":
                    m[i, j] = vec.norm()
                    continue
                z = vec + (x[i] if i == j else 0)
                g = (z - z.mean()) / s * ln.weight.detach()
                parts.append(g)
                m[i, j] = g.norm()
            if method == "alti":
                y = sum(parts)
                c = torch.stack([torch.clamp(y.abs().sum() - (y - p).abs().sum(), min=0) for p in parts])
                m[i] = c / c.sum()
        layers.append(m)
    out = torch.stack(layers)
    if method == "alti":  # rollout-style aggregation: R_1 = C_1, R_l = C_l R_{l-1}
        for k in range(1, out.shape[0]):
            out[k] = out[k] @ out[k - 1]
    return out


@pytest.mark.parametrize("method", ["norm", "norm_res_ln", "alti"])
def test_norm_based_methods_match_the_papers_formulas(arch, method):
    enc, e = arch
    got = context_mixing(e, method, enc=enc)
    ref = _reference(enc, e, method)
    torch.testing.assert_close(got.scores, ref, atol=ATOL * 10, rtol=1e-4)
    assert got.labels == e.tokens and got.aggregated == (method == "alti")
    if method == "alti":
        torch.testing.assert_close(got.scores.sum(-1), torch.ones(enc.n_layers, e.n_tokens))


def test_norm_res_ln_parts_sum_to_the_layernorm_output_minus_its_constant(tiny, tiny_bank):
    """The decomposition is exact: sum_j g_i(.) + g_i(b_O) + beta = LayerNorm output (Kobayashi et al. 2021)."""
    e, k = tiny_bank, 2
    value, dense, ln = _modules(tiny, k)
    att, x = e.attentions[k - 1], e.hidden_states[k - 1]
    fx = _transformed(tiny, e, k)
    pre = x + sum(att[h] @ fx[h] for h in range(att.shape[0])) + dense.bias.detach()
    s = torch.sqrt(pre.var(-1, unbiased=False, keepdim=True) + ln.eps)
    b = dense.bias.detach()
    g_b = (b - b.mean()) / s * ln.weight.detach()
    out = torch.nn.functional.layer_norm(pre, pre.shape[-1:], ln.weight.detach(), ln.bias.detach(), ln.eps)
    parts_sum = out - g_b - ln.bias.detach()
    by_hand = (pre - b - (pre - b).mean(-1, keepdim=True)) / s * ln.weight.detach()
    torch.testing.assert_close(parts_sum, by_hand, atol=ATOL, rtol=0)


def test_attention_and_rollout_match_the_models_weights(arch):
    enc, e = arch
    att = context_mixing(e, "attention", enc=enc)
    torch.testing.assert_close(att.scores, e.attentions.mean(1), atol=ATOL, rtol=0)
    roll = context_mixing(e, "rollout", enc=enc)
    torch.testing.assert_close(roll.scores, bk.attention_rollout(e), atol=ATOL, rtol=0)
    # Abnar and Zuidema (2020) written out: A' = 0.5 mean_h A + 0.5 I, rows renormalised, R_l = A'_l R_{l-1}
    n = e.n_tokens
    ref, prev = [], None
    for layer_att in e.attentions:
        a = 0.5 * layer_att.mean(0) + 0.5 * torch.eye(n)
        a = a / a.sum(-1, keepdim=True)
        prev = a if prev is None else a @ prev
        ref.append(prev)
    torch.testing.assert_close(roll.scores, torch.stack(ref), atol=ATOL, rtol=0)
    # without enc, from the encoding's own attentions
    torch.testing.assert_close(context_mixing(e, "rollout").scores, roll.scores, atol=ATOL, rtol=0)


def _bert_layer_by_hand(layer, x, zero=None):
    """One BERT layer from its weights (Devlin et al. 2019), token ``zero``'s value vectors set to 0."""
    sa, so = layer.attention.self, layer.attention.output
    n_heads, d = sa.num_attention_heads, sa.attention_head_size

    def lin(m, v):
        return v @ m.weight.detach().T + m.bias.detach()

    def ln(m, v):
        return (v - v.mean(-1, keepdim=True)) / torch.sqrt(v.var(-1, unbiased=False, keepdim=True) + m.eps) \
            * m.weight.detach() + m.bias.detach()

    q, k, v = lin(sa.query, x), lin(sa.key, x), lin(sa.value, x)
    if zero is not None:
        v = v.clone()
        v[zero] = 0
    heads = []
    for h in range(n_heads):
        c = slice(h * d, (h + 1) * d)
        p = torch.softmax(q[:, c] @ k[:, c].T / math.sqrt(d), dim=-1)
        heads.append(p @ v[:, c])
    a = ln(so.LayerNorm, lin(so.dense, torch.cat(heads, -1)) + x)
    f = lin(layer.output.dense, torch.nn.functional.gelu(lin(layer.intermediate.dense, a)))
    return ln(layer.output.LayerNorm, f + a)


def _loud(enc):
    """A fresh copy of ``enc`` whose value maps and output projections are 30x larger.

    With the tiny models' random weights (std 0.02) the attention adds almost nothing to the
    residual stream, and zeroing one value vector moves the output by float32 noise only.
    """
    from bertviz_kit.analysis.internals import layer_module, layout_of

    loud = bk.load(enc.name, device="cpu")
    layout = layout_of(loud.model)
    with torch.no_grad():
        for k in range(1, loud.n_layers + 1):
            mod = layer_module(loud.model, layout, k)
            for path in (layout.value, layout.out_proj):
                mod.get_submodule(path).weight.mul_(30.0 if k == 1 or layout.family != "albert" else 1.0)
    return loud, loud.encode(BANK_TEXT, attentions=True)


def test_value_zeroing_matches_the_layer_run_by_hand(tiny):
    tiny, e = _loud(tiny)
    n = e.n_tokens
    got = context_mixing(e, "value_zeroing", enc=tiny, batch_size=5)  # several batches per layer
    for k in range(1, tiny.n_layers + 1):
        layer = copy.deepcopy(tiny.model.encoder.layer[k - 1]).double()  # float64: 1 - cos near 1 needs it
        x = e.hidden_states[k - 1].double()
        y = _bert_layer_by_hand(layer, x)
        torch.testing.assert_close(y.float(), e.hidden_states[k], atol=1e-4, rtol=0)
        ref = torch.zeros(n, n, dtype=torch.float64)
        for j in range(n):
            yj = _bert_layer_by_hand(layer, x, zero=j)
            for i in range(n):
                ref[i, j] = 1 - torch.dot(y[i], yj[i]) / (y[i].norm() * yj[i].norm())
        ref = ref / ref.sum(-1, keepdim=True)
        torch.testing.assert_close(got.scores[k - 1], ref.float(), atol=1e-4, rtol=1e-3)


def test_value_zeroing_other_architectures_one_token_at_a_time(arch):
    """Unbatched: the model's own layer module, one zeroed token per run, against the batched result."""
    from bertviz_kit.analysis.internals import layer_module, layout_of

    enc, e = _loud(arch[0])
    got = context_mixing(e, "value_zeroing", enc=enc, batch_size=3)
    layout = layout_of(enc.model)
    k = enc.n_layers
    layer = copy.deepcopy(layer_module(enc.model, layout, k)).double()  # float64: 1 - cos near 1 needs it
    x = e.hidden_states[k - 1].double()
    args, kwargs = (), {}
    if enc.model.config.model_type == "deberta-v2":  # its layers take the mask and relative positions
        encoder = enc.model.encoder
        with torch.no_grad():
            args = (encoder.get_attention_mask(torch.ones(1, e.n_tokens, dtype=torch.long)),)
            kwargs = {"relative_pos": encoder.get_rel_pos(x.unsqueeze(0)),
                      "rel_embeddings": encoder.get_rel_embedding().double()}

    def run(h):
        out = layer(h.unsqueeze(0), *args, **kwargs)
        return (out[0] if isinstance(out, tuple) else out)[0]

    with torch.no_grad():
        y = run(x)
    cols = []
    for j in range(e.n_tokens):
        def zero(mod, args, out, j=j):
            out = out.clone()
            out[:, j] = 0
            return out
        handle = layer.get_submodule(layout.value).register_forward_hook(zero)
        with torch.no_grad():
            yj = run(x)
        handle.remove()
        cols.append(1 - torch.nn.functional.cosine_similarity(y, yj, dim=-1))
    ref = torch.stack(cols, dim=1)
    torch.testing.assert_close(got.scores[-1], (ref / ref.sum(-1, keepdim=True)).float(), atol=1e-4, rtol=1e-3)


def test_word_level_uses_the_word_attention_rule(tiny, tiny_bank):
    e = tiny_bank
    att = context_mixing(e, "attention", enc=tiny, level="word")
    torch.testing.assert_close(att.scores, bk.word_attention(e).mean(1), atol=ATOL, rtol=0)
    assert att.labels == bk.attention_units(e)
    tok = context_mixing(e, "norm", enc=tiny).scores
    word = context_mixing(e, "norm", enc=tiny, level="word")
    units = bk.attention_units(e)
    # by hand: unit of each token, then sum over source pieces and mean over receiving pieces
    unit, prev = [], None
    for t, w in enumerate(e.word_ids):
        new = w is None or w != prev or t == 0
        unit.append((unit[-1] + 1 if unit else 0) if new else unit[-1])
        prev = w
    n = len(units)
    ref = torch.zeros(tok.shape[0], n, n)
    for a in range(n):
        rows = [t for t in range(e.n_tokens) if unit[t] == a]
        for b in range(n):
            cols = [t for t in range(e.n_tokens) if unit[t] == b]
            ref[:, a, b] = tok[:, rows][:, :, cols].sum(-1).mean(-1)
    torch.testing.assert_close(word.scores, ref, atol=ATOL, rtol=1e-5)
    ex = context_mixing(e, "norm", enc=tiny, level="word", specials="exclude")
    assert ex.labels == bk.attention_units(e, "exclude") and ex.scores.shape[1] == e.n_words


def test_bundled_model_rows_and_agreement(minilm, bank):
    res = {m: context_mixing(bank, m, enc=minilm) for m in MIXING_METHODS}
    for m in ("attention", "rollout", "alti", "value_zeroing"):
        torch.testing.assert_close(res[m].scores.sum(-1), torch.ones(6, bank.n_tokens), atol=1e-4, rtol=0)
    same = mixing_agreement(res["norm"], res["norm"])
    torch.testing.assert_close(same, torch.ones(6, dtype=torch.float64))
    rho = mixing_agreement(res["attention"], res["norm"])
    assert rho.shape == (6,) and bool(((rho > -1) & (rho < 1)).all())
    assert "scores=[6, 22, 22]" in repr(res["alti"])


def test_bad_arguments(tiny, tiny_bank, minilm):
    with pytest.raises(bk.InvalidParameterError, match="method must be one of"):
        context_mixing(tiny_bank, "gradients", enc=tiny)
    with pytest.raises(bk.InvalidParameterError, match="needs enc="):
        context_mixing(tiny_bank, "alti")
    plain = tiny.encode(BANK_TEXT)
    with pytest.raises(bk.InvalidParameterError, match="attentions=True"):
        context_mixing(plain, "attention")
    with pytest.raises(bk.InvalidParameterError, match="batch_size"):
        context_mixing(tiny_bank, "value_zeroing", enc=tiny, batch_size=0)
    with pytest.raises(bk.InvalidParameterError, match="pass the encoder"):
        context_mixing(tiny_bank, "norm", enc=minilm)
    a = context_mixing(tiny_bank, "attention")
    b = context_mixing(tiny_bank, "attention", level="word")
    with pytest.raises(bk.InvalidParameterError, match="one text at one level"):
        mixing_agreement(a, b)


def test_plot_draws_the_result_and_computes_nothing(tiny_bank, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bertviz_kit.analysis import mixing

    m = context_mixing(tiny_bank, "attention", level="word")
    monkeypatch.setattr(mixing, "context_mixing", None)  # a plot that computed would fail here
    ax = bk.plot_context_mixing(m, layer=2)
    img = ax.get_images()[0].get_array()
    assert img.shape == m.scores[1].shape and float(abs(img - m.scores[1].numpy()).max()) == 0
    assert [t.get_text() for t in ax.get_xticklabels()] == list(m.labels)
    assert "layer 2" in ax.get_title()
    fig, ax2 = plt.subplots()
    assert bk.plot_context_mixing(m, -1, ax=ax2, colorbar=False, title="x") is ax2
    with pytest.raises(bk.InvalidParameterError, match="layer must"):
        bk.plot_context_mixing(m, layer=0)
    plt.close("all")
