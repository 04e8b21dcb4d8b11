# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/17_inside_a_layer.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 17 · Inside a layer: the embedding sum and one head by hand
#
# A transformer layer is a handful of matrix products. This notebook opens
# one layer of the bundled all-MiniLM-L6-v2 (a BERT: 6 layers, width 384, 12
# heads of 32 dimensions) and redoes each step by hand from the tensors the
# model computed, checking every step against the model's own numbers:
#
# 1. the **embedding sum**: word + position + token-type embeddings, then LayerNorm;
# 2. **one head by hand**: queries, keys, scores, softmax, values;
# 3. what the **value vectors** add to the attention weights;
# 4. the **attention output**, the **residual** connection and **LayerNorm**;
# 5. the **feed-forward** block and its neurons.
#
# `bk.layer_internals(e, layer, enc)` runs the model once on the text with
# hooks on its own modules (nothing is re-implemented) and keeps every
# intermediate tensor of one layer; `bk.embedding_sum(e, enc)` does the same
# for the embeddings.

# %%
# Colab or a fresh environment: install the package (CPU torch first, a few hundred MB
# instead of several GB); where it is installed, this cell does nothing.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("bertviz_kit") is None:
    if importlib.util.find_spec("torch") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "torch",
                        "--index-url", "https://download.pytorch.org/whl/cpu"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "bertviz-kit[widgets] @ git+https://github.com/bertviz-kit/bertviz-kit"], check=True)

# %%
import math

import matplotlib.pyplot as plt
import torch

import bertviz_kit as bk

enc = bk.load()
e = enc.encode(bk.BANK_TEXT, attentions=True)
print("layers:", enc.n_layers, "| width:", enc.dim, "| heads:", enc.model.config.num_attention_heads)
print(e.tokens)
banks = [i for i, t in enumerate(e.tokens) if t == "bank"]
print("token positions of 'bank':", banks)

# %% [markdown]
# ## 1 · The embedding sum
#
# Layer 0 (`e.hidden_states[0]`) is not a lookup alone: each token's vector is
# its **word** embedding plus a **position** embedding (one learned vector per
# position) plus a **token-type** embedding (sentence A or B; always A here),
# and the sum goes through a LayerNorm. `bk.embedding_sum` reads the three
# lookups from the model and redoes the sum and the LayerNorm by hand.

# %%
s = bk.embedding_sum(e, enc)
print(s)
same_word = all(torch.equal(s.word[banks[0]], s.word[i]) for i in banks)
print("the three 'bank' tokens share one word embedding:", same_word)
print("positions looked up:", s.position_ids.tolist())
river = banks[-1]
print("norms at the river 'bank': word", round(s.word[river].norm().item(), 2),
      "| position", round(s.position[river].norm().item(), 2),
      "| token type", round(s.token_type[river].norm().item(), 2))
d = (s.output - e.hidden_states[0]).abs().max().item()
print("word + position + type, then LayerNorm, equals hidden_states[0] (max |diff| < 1e-5):", d < 1e-5)
cos0 = bk.cosine(s.output[banks])
print("cosine of the three banks at layer 0:", [round(cos0[i, j].item(), 2) for i, j in ((0, 1), (0, 2), (1, 2))])

# %% [markdown]
# The word vector is the largest part, so the three "bank"s start out almost
# the same vector: only their positions differ, and their layer-0 cosines
# stay above 0.9. Everything that tells the money bank from the river bank
# comes later, from attention.

# %%
assert same_word and d < 1e-5
assert s.word[river].norm() > s.position[river].norm() and s.word[river].norm() > s.token_type[river].norm()
assert bool((cos0 > 0.9).all())

# %% [markdown]
# ## 2 · One head by hand
#
# Layer 1, head 2. Each token's input vector `x` is mapped to a **query**
# `q = x W_Q + b_Q`, a **key** `k = x W_K + b_K` and a **value**
# `v = x W_V + b_V` (32 numbers each per head). The score of query token `i`
# for key token `j` is the dot product `q_i · k_j / sqrt(32)`; a softmax over
# `j` turns each row of scores into probabilities.

# %%
r = bk.layer_internals(e, 1, enc)
print(r)
h = 2
q, k = r.query[h], r.key[h]
scores = q @ k.T / math.sqrt(q.shape[-1])
probs = torch.softmax(scores, dim=-1)
d = (probs - e.attentions[0, h]).abs().max().item()
print("softmax(q k^T / sqrt(32)) equals the model's attention (max |diff| < 1e-5):", d < 1e-5)
best = int(probs[river].argmax())
print("the river 'bank' attends most to:", repr(e.tokens[best]), "with weight", round(probs[river, best].item(), 2))
previous = probs.argmax(-1)[1:] == torch.arange(len(e.tokens) - 1)
print("head 2 puts its largest weight on the previous token, for every token after [CLS]:", bool(previous.all()))

# %% [markdown]
# Head 2 of layer 1 is a **previous-token head**: every token looks at the
# token just before it, and the river "bank" puts nearly all of its weight on
# "river". The weights come from 32 products `q_i[d] · k_j[d]`; this is what
# bertviz's *neuron view* draws. `bk.query_key_products` gives them for one
# query (rows: keys; columns: the 32 dimensions); their sum times the scale
# is the score.

# %%
qk = bk.query_key_products(r, h, river)
d = (qk.sum(-1) * r.scaling - r.scores[h, river]).abs().max().item()
print("sum over dimensions x 1/sqrt(32) = the scores (max |diff| < 1e-5):", d < 1e-5)
fig, ax = plt.subplots(figsize=(8, 5))
lim = qk.abs().max().item()
ax.set_yticks(range(len(e.tokens)), e.tokens, fontsize=8)
ax.set_xlabel("dimension of head 2")
ax.set_title("q(river 'bank') x k(j), per dimension: layer 1, head 2", fontsize=10)
im = ax.imshow(qk.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")

# %%
assert d < 1e-5 and bool(previous.all())
assert e.tokens[best] == "river" and probs[river, best] > 0.9

# %% [markdown]
# ## 3 · Softmax, and why the scale
#
# Without the division by `sqrt(32)` the scores are larger and the softmax
# sharper: the mean entropy of the rows (in nats, over heads and tokens of
# layer 1) drops well below half. The scale keeps the attention of a fresh
# model from collapsing onto one token.

# %%
raw = r.query @ r.key.transpose(1, 2)
entropy = {}
for name, logits in (("scaled", raw * r.scaling), ("unscaled", raw)):
    p = torch.softmax(logits, dim=-1)
    entropy[name] = -(torch.special.xlogy(p, p).sum(-1)).mean().item()
print("mean row entropy (nats), scaled:", round(entropy["scaled"], 2), "| unscaled:", round(entropy["unscaled"], 2))
assert entropy["unscaled"] < entropy["scaled"] / 2

# %% [markdown]
# ## 4 · What the values add: weights are not the whole story
#
# A head's output for token `i` is `sum_j p_ij v_j`: the weight `p_ij` scales
# a *vector*. When a token's value vector is short, a large weight on it adds
# little. Many heads park most of their weight on `[CLS]` and `[SEP]` (an
# "attention sink"); here `[CLS]`'s value vectors are far shorter than the
# words' at layers 2-5.

# %%
d = (r.context - r.probs @ r.value).abs().max().item()
print("context = probs @ values (max |diff| < 1e-5):", d < 1e-5)
words = ~e.special_mask
short = []
for layer in range(1, enc.n_layers + 1):
    ri = bk.layer_internals(e, layer, enc)
    norms = ri.value.norm(dim=-1).mean(0)  # [tokens], averaged over heads
    short.append(norms[0].item() / norms[words].mean().item())
    print(f"layer {layer}: value norm [CLS] {norms[0].item():.2f}, [SEP] {norms[-1].item():.2f}, "
          f"words (mean) {norms[words].mean().item():.2f}")

# %% [markdown]
# `bk.context_mixing` measures the mixing with the vectors included
# (Kobayashi et al. 2020: `||sum_h p_ij f_h(x_j)||`, the value vector after
# the output projection; notebook 18 compares more methods). The share of
# each word's mixing that comes from `[CLS]` and `[SEP]`, per layer:

# %%
att = bk.context_mixing(e, "attention", enc=enc)
nrm = bk.context_mixing(e, "norm", enc=enc)
sp = e.special_mask
share = {}
for name, m in (("weights", att), ("norms", nrm)):
    share[name] = (m.scores[:, :, sp].sum(-1) / m.scores.sum(-1))[:, words].mean(-1)
    print(f"share from [CLS]/[SEP] under {name:7}:", [round(v, 2) for v in share[name].tolist()])

# %% [markdown]
# At layers 2-5 the words give more than half of their attention weight to
# `[CLS]` and `[SEP]`, yet under the norms these two tokens contribute less
# than 15% of the mixing: the weight lands on near-empty vectors. Reading
# attention maps as "what the model uses" overstates the sinks.

# %%
assert d < 1e-5
assert all(short[i] < 0.2 for i in range(1, 5))
assert bool((share["weights"][1:5] > 0.5).all()) and bool((share["norms"][1:5] < 0.15).all())

# %% [markdown]
# ## 5 · Attention output, residual and LayerNorm
#
# The 12 heads' outputs are concatenated (12 x 32 = 384) and projected by
# one more linear map `W_O`. The result is **added** to the layer's input
# (the residual connection) and the sum goes through a LayerNorm: subtract
# each token's mean, divide by its standard deviation, then scale and shift
# by two learned vectors. Both steps by hand, with the model's weights:

# %%
block = enc.model.encoder.layer[0]
dense, ln = block.attention.output.dense, block.attention.output.LayerNorm
with torch.no_grad():
    heads = r.context.transpose(0, 1).reshape(len(e.tokens), -1)  # [tokens, 12 * 32]
    attn_out = heads @ dense.weight.T + dense.bias
    x = r.input + attn_out
    by_hand = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + ln.eps)
    by_hand = by_hand * ln.weight + ln.bias
print("heads concatenated and projected = attn_output (max |diff| < 1e-5):",
      (attn_out - r.attn_output).abs().max().item() < 1e-5)
print("LayerNorm(input + attn_output) by hand = attn_norm (max |diff| < 1e-5):",
      (by_hand - r.attn_norm).abs().max().item() < 1e-5)
ratio = (r.attn_output.norm(dim=-1) / r.input.norm(dim=-1)).mean().item()
print("||attention output|| / ||input||, mean over tokens:", round(ratio, 2))

# %% [markdown]
# The attention output is less than half as long as the input it is added
# to: the residual stream carries each token's own vector forward, and
# attention nudges it. (This is why the "norm" method of notebook 18 adds the
# residual too.)

# %%
assert (by_hand - r.attn_norm).abs().max().item() < 1e-5
assert ratio < 0.5

# %% [markdown]
# ## 6 · The feed-forward block and its neurons
#
# Each token then goes, on its own, through two linear maps with a GELU in
# between: 384 -> 1536 "neurons" -> 384, followed by a second residual
# connection and LayerNorm, whose output is the layer's output
# `e.hidden_states[1]`. GELU lets through positive pre-activations and
# squashes negative ones towards 0, so only some neurons fire for a token.

# %%
gelu = torch.nn.functional.gelu(r.ffn_pre)
print("GELU(pre-activation) = the activations (max |diff| < 1e-5):", (gelu - r.ffn_act).abs().max().item() < 1e-5)
firing = (r.ffn_act[river] > 0).float().mean().item()
print("share of the 1536 neurons with a positive activation at the river 'bank':", round(firing, 2))
print("final LayerNorm input = attn_norm + ffn_output:",
      (r.ffn_residual - r.attn_norm - r.ffn_output).abs().max().item() < 1e-5)
print("layer output = hidden_states[1] (max |diff| < 1e-5):",
      (r.output - e.hidden_states[1]).abs().max().item() < 1e-5)
top = bk.top_neurons(e, "bank", k=5, occurrence=-1, enc=enc)
print(top)
for layer, n, v in zip(top.layers, top.neurons[:, 0].tolist(), top.values[:, 0].tolist()):
    print(f"layer {layer}: strongest neuron {n} at {v:.2f}")

# %% [markdown]
# About a quarter of the neurons fire for the river "bank" at layer 1.
# Neuron numbers count within a layer: the same number at two layers names
# two different neurons. Which inputs make one neuron fire is a question for
# a corpus (encode many sentences and keep the activations of one neuron).

# %%
assert 0.15 < firing < 0.35
assert (r.output - e.hidden_states[1]).abs().max().item() < 1e-5

# %% [markdown]
# ## What changes with bert-base
#
# `bert-base-cased` (download it once with `bertviz-kit download
# bert-base-cased`, then `enc = bk.load("models/bert-base-cased")`) has the
# same layer with larger numbers: 12 layers, width 768, 12 heads of 64
# dimensions (scale 1/8), 3072 feed-forward neurons, and a cased vocabulary.
# Every cell above runs unchanged on it. It also ships its **masked-language-
# model head**, which MiniLM (a sentence encoder) lacks, so
# `bk.fill_mask(enc, "the bank [MASK] was seen fishing", k=5)` shows the top
# guesses for the hidden word at every layer. On MiniLM it explains the fix:

# %%
try:
    bk.fill_mask(enc, "the bank [MASK] was seen fishing", k=5)
except bk.InvalidParameterError as err:
    print("no masked-LM head; the error names the download:", "bertviz-kit download bert-base-cased" in str(err))

# %% [markdown]
# **Route:** Previous: [16 · A lens on every layer, and nearest contexts by layer](16_lens_and_search.ipynb) · [Start here](00_start_here.ipynb) · Next: [18 · Context mixing, measured beyond attention weights](18_context_mixing.ipynb)
