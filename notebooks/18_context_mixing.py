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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/18_context_mixing.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 18 · Context mixing, measured beyond attention weights
#
# How much does a token's representation after a layer draw on each other
# token? Attention weights are the usual answer, but a weight multiplies a
# vector, and the layer adds a residual connection and LayerNorms around the
# attention. `bk.context_mixing(e, method, enc=enc)` measures the mixing six
# ways, each as a `[layers, n, n]` matrix whose **row** `i` is the receiving
# token and **column** `j` the source (the papers' convention):
#
# | method | what it measures | paper |
# |---|---|---|
# | `attention` | attention weights, heads averaged | |
# | `rollout` | weights with the residual as `0.5 A + 0.5 I`, multiplied through the layers | Abnar & Zuidema 2020 |
# | `norm` | `\|\| sum_h a_ij f_h(x_j) \|\|`: the weighted, transformed value vectors | Kobayashi et al. 2020 |
# | `norm_res_ln` | the same with the residual and the LayerNorm decomposed in | Kobayashi et al. 2021 |
# | `alti` | closeness (L1) of each source's part to the token's output, aggregated | Ferrando et al. 2022 |
# | `value_zeroing` | how much token `i`'s output changes when `j`'s value vectors are zeroed | Mohebbi et al. 2023 |
#
# `rollout` and `alti` are **aggregated** (row `i` of layer `l` mixes the
# *input* tokens through layers 1..l); the other four describe one layer at a
# time. Everything here is at the word level (`level="word"`: sum over a
# source word's pieces, mean over a receiving word's, as `bk.word_attention`),
# with `[CLS]` and `[SEP]` kept as units of their own.

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
import matplotlib.pyplot as plt
import torch

import bertviz_kit as bk

enc = bk.load()
e = enc.encode(bk.BANK_TEXT)
mix = {m: bk.context_mixing(e, m, enc=enc, level="word") for m in bk.MIXING_METHODS}
for m, r in mix.items():
    print(f"{m:14}", r)

# %% [markdown]
# ## The bank sentence, last layer, side by side
#
# Rows receive, columns give. The two aggregated methods (top right, bottom
# middle) look at the input words, the others at layer 6's own input.

# %%
fig, axes = plt.subplots(2, 3, figsize=(18, 12))
for ax, r in zip(axes.flat, mix.values()):
    bk.plot_context_mixing(r, layer=-1, ax=ax, colorbar=False)
fig.tight_layout()

# %% [markdown]
# Under the weights, much of each row lands on `[CLS]` (the bright column on
# the left), and rollout, built from the weights, piles the mixing of every
# word onto `[CLS]` by the last layer. Under `norm` and value zeroing, which
# leave the residual out of the picture (value zeroing keeps it in the layer
# but zeroes only the values), `[CLS]` fades and a few content words supply
# most of the mixing. With the residual counted (`norm_res_ln`, ALTI), each
# word's own vector dominates: the diagonal.

# %% [markdown]
# ## The [CLS]/[SEP] sink: weights vs norms
#
# For each layer: the share of the words' mixing (rows of words) that comes
# from `[CLS]` and `[SEP]` (columns of specials), by method.

# %%
special = torch.tensor([lab in ("[CLS]", "[SEP]") for lab in mix["attention"].labels])
sink = {}
for m, r in mix.items():
    sink[m] = (r.scores[:, :, special].sum(-1) / r.scores.sum(-1))[:, ~special].mean(-1)
    print(f"{m:14}", [round(v, 2) for v in sink[m].tolist()])

# %% [markdown]
# At layers 2 to 5, words give more than half of their attention weight to
# `[CLS]`/`[SEP]`; measured with the vectors (`norm`) or by zeroing them
# (`value_zeroing`) those two tokens supply less than an eighth of the
# mixing. The sink is a place to park weight, not a source of information
# (Kobayashi et al. 2020 found the same for BERT-base).

# %%
assert bool((sink["attention"][1:5] > 0.5).all()) and sink["rollout"][-1] > 0.5
diagonal = {m: torch.diagonal(mix[m].scores[-1]).mean() / mix[m].scores[-1].sum(-1).mean()
            for m in ("norm_res_ln", "alti", "norm", "value_zeroing")}
assert min(diagonal["norm_res_ln"], diagonal["alti"]) > 2 * max(diagonal["norm"], diagonal["value_zeroing"])
assert bool((sink["norm"][1:5] < 0.125).all()) and bool((sink["value_zeroing"][1:5] < 0.125).all())

# %% [markdown]
# ## Agreement per layer on UD sentences
#
# Eight sentences of 12 to 25 words from the Universal Dependencies English
# Web Treebank (dev split). For each sentence, layer and receiving word, the
# Spearman correlation between two methods' rows (how they *rank* the
# sources), averaged over the words: `bk.mixing_agreement(a, b)`. Value
# zeroing is the reference for the per-layer methods; rollout and ALTI are
# compared with each other (both aggregate across layers).

# %%
ud = bk.datasets.ud_english_ewt("dev")
texts = [s.text for s in ud if 12 <= len(s.words) <= 25][:8]
for t in texts:
    print("-", t)
pairs = [("attention", "value_zeroing"), ("norm", "value_zeroing"), ("norm_res_ln", "value_zeroing"),
         ("rollout", "alti")]
rho = {p: [] for p in pairs}
sinks = {m: [] for m in ("attention", "norm", "value_zeroing")}
for t in texts:
    et = enc.encode(t)
    res = {m: bk.context_mixing(et, m, enc=enc, level="word") for m in bk.MIXING_METHODS}
    for a, b in pairs:
        rho[(a, b)].append(bk.mixing_agreement(res[a], res[b]))
    sp = torch.tensor([lab in ("[CLS]", "[SEP]") for lab in res["attention"].labels])
    for m in sinks:
        s = res[m].scores
        sinks[m].append((s[:, :, sp].sum(-1) / s.sum(-1))[:, ~sp].mean(-1))
mean_rho = {p: torch.stack(v).mean(0) for p, v in rho.items()}
for (a, b), v in mean_rho.items():
    print(f"{a + ' ~ ' + b:28}", [round(x, 2) for x in v.tolist()])

# %%
fig, ax = plt.subplots(figsize=(7, 4))
layers = range(1, enc.n_layers + 1)
for (a, b), v in mean_rho.items():
    ax.plot(layers, v.numpy(), marker="o", label=f"{a} ~ {b}")
ax.set_xlabel("layer")
ax.set_ylabel("Spearman (mean over words, 8 sentences)")
ax.set_ylim(0, 1.05)
ax.legend(fontsize=8)
ax.set_title("agreement of context-mixing methods", fontsize=10)
fig.tight_layout()

# %% [markdown]
# On this model the norm-based measures and value zeroing rank the sources
# almost alike at every layer (Spearman about 0.9 or more): zeroing token `j`'s value
# vectors removes exactly the vector whose norm `norm` measures, and the rest
# of the layer changes the picture little. The attention weights agree less
# (below 0.9 at every layer, lowest at the last), and the two aggregated
# methods drift apart with depth: rollout's fixed `0.5 I` for the residual is
# a poor stand-in for the residual that ALTI measures.

# %%
assert bool((mean_rho[("norm", "value_zeroing")] > 0.9).all())
assert bool((mean_rho[("norm_res_ln", "value_zeroing")] > 0.88).all())
assert bool((mean_rho[("attention", "value_zeroing")] < 0.9).all())
assert int(mean_rho[("attention", "value_zeroing")].argmin()) == enc.n_layers - 1
assert mean_rho[("rollout", "alti")][-1] < mean_rho[("rollout", "alti")][0]

# %% [markdown]
# The sink on these sentences, averaged over them:

# %%
mean_sink = {m: torch.stack(v).mean(0) for m, v in sinks.items()}
for m, v in mean_sink.items():
    print(f"share from [CLS]/[SEP] under {m:14}", [round(x, 2) for x in v.tolist()])
assert bool((mean_sink["attention"][1:5] > 2 * mean_sink["norm"][1:5]).all())

# %% [markdown]
# The same picture as on the bank sentence: at the middle layers the weights
# put several times more on `[CLS]`/`[SEP]` than the norms find there.
#
# **Cost.** Value zeroing runs every layer once more per source token (here
# batched: one pass of each layer over `n` zeroed copies), so it costs about
# ten times the other methods, which need one hooked forward pass;
# `benchmarks/mixing_speed.py` times them all. With bert-base
# (`bk.load("models/bert-base-cased")`, 12 layers) every cell runs unchanged.

# %% [markdown]
# **Route:** Previous: [17 · Inside a layer: the embedding sum and one head by hand](17_inside_a_layer.ipynb) · [Start here](00_start_here.ipynb)
