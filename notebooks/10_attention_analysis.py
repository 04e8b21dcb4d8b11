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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/10_attention_analysis.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 10 · Attention analysis: words, rollout, and what each head does
#
# Notebook 08 drew raw attention maps. Here we ask them questions, with three
# tools from the attention-analysis literature, all computed from the same
# single forward pass (`attentions=True`, `[layers, heads, tokens, tokens]`):
#
# * **word-level attention** (Clark et al. 2019, "What Does BERT Look At?"):
#   who attends to whom when a word is split into pieces;
# * **attention rollout** (Abnar and Zuidema 2020, "Quantifying Attention Flow
#   in Transformers"): how much of each input token reaches a position after
#   several layers;
# * **head statistics** (Clark et al. 2019): for every head, how broad its
#   attention is and how much it gives to `[CLS]`, `[SEP]`, punctuation, the
#   token itself and its neighbours, averaged over 100 sentences.

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

enc = bk.load(device="cpu")
e = enc.encode(bk.BANK_TEXT, attentions=True)
print("attentions:", tuple(e.attentions.shape), "= [layers, heads, tokens, tokens]")
print("tokens:", " ".join(e.tokens))

# %% [markdown]
# ## 1. Word-level attention
#
# `bk.word_attention(e)` converts token attention to attention between words:
# the attention a query gives a split word is the **sum** over the word's
# pieces (how much of the query's attention lands on that word), the attention
# a split word gives is the **mean** over its pieces' rows. Every row still
# sums to 1. `[CLS]` and `[SEP]` stay rows and columns of their own, so the
# attention parked on them stays visible; `bk.attention_units(e)` gives the
# labels.
#
# This model's vocabulary keeps every word of the bank sentence whole, so
# there word attention *is* token attention:

# %%
w = bk.word_attention(e)
print("word attention:", tuple(w.shape), "= [layers, heads, units, units]")
print("units:", " ".join(bk.attention_units(e)))
print("equal to token attention:", torch.equal(w, e.attentions))

# %% tags=["remove-cell"]
# the text above, checked: every word of the bank sentence is one token
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert torch.equal(w, e.attentions)

# %% [markdown]
# A sentence with rarer words shows the difference. Layer 1, head 2 is a
# previous-token head (notebook 08): every piece attends to the piece before
# it. Seen as words, most of *embezzler*'s attention stays inside the word
# (three of its four pieces look at a piece of the same word), and
# *unbelievably* mostly looks at itself: the "previous token" of a piece is
# usually part of the same word.

# %%
rare = enc.encode("The embezzler laundered cryptocurrency through an unbelievably shady bank.",
                  attentions=True)
print("tokens:", " ".join(rare.tokens))
print("units: ", " | ".join(bk.attention_units(rare)))
wr = bk.word_attention(rare)
print("shape:", tuple(rare.attentions.shape), "->", tuple(wr.shape),
      "| largest row-sum error:", round(float((wr.sum(-1) - 1).abs().max()), 6))
fig, axes = plt.subplots(1, 2, figsize=(15, 6.5), layout="constrained")
bk.plot_attention(rare, layer=1, head=2, ax=axes[0])
ax = bk.plot_attention(rare, layer=1, head=2, level="word", ax=axes[1])

# %%
units = bk.attention_units(rare)
row = wr[0, 2, units.index("embezzler")]
print("layer 1, head 2, from 'embezzler':",
      ", ".join(f"{u} {v:.2f}" for u, v in zip(units, row.tolist()) if v >= 0.01))

# %% tags=["remove-cell"]
# the text above, checked: rows sum to 1; in layer 1, head 2 three of the four pieces of
# "embezzler" look most at a piece of the same word and most of its word attention stays inside;
# "unbelievably" mostly looks at itself
assert float((wr.sum(-1) - 1).abs().max()) < 1e-5
pieces = [t for t, i in enumerate(rare.word_ids) if i == rare.words.index("embezzler")]
inside = sum(int(rare.attentions[0, 2, t].argmax()) in pieces for t in pieces)
unbelievably = units.index("unbelievably")
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert (len(pieces), inside) == (4, 3)
    assert float(row[units.index("embezzler")]) > 0.5 and float(wr[0, 2, unbelievably, unbelievably]) > 0.5

# %% [markdown]
# `level="word"` works in `bk.plot_attention_grid` too (every layer and head).
#
# ## 2. Attention rollout
#
# One attention map shows a single layer's mixing. To follow information
# through the stack, rollout averages each layer's heads, adds the residual
# connection as `0.5 * A + 0.5 * I`, renormalises the rows and multiplies the
# layers: `R_l = A'_l @ R_(l-1)`. Row `i` of `R_l` says from which input
# tokens position `i` draws after layer `l` (each row sums to 1).
# `bk.attention_rollout(e)` returns all layers, `[layers, tokens, tokens]`;
# `words=True` rolls out word-level attention instead.

# %%
r = bk.attention_rollout(e)
print("rollout:", tuple(r.shape), "= [layers, tokens, tokens]")
words = ~e.special_mask
shares = {                                       # what word positions draw from, averaged over them
    "the [CLS] input": r[:, words][:, :, 0].mean(-1),
    "the [SEP] input": r[:, words][:, :, -1].mean(-1),
    "their own token": r[:, words][:, :, words].diagonal(dim1=-2, dim2=-1).mean(-1),
}
for name, v in shares.items():
    print(f"from {name}:", " ".join(f"L{k + 1} {x:.2f}" for k, x in enumerate(v.tolist())))
ax = bk.plot_rollout(e)

# %% tags=["remove-cell"]
# the text below, checked (2 decimals, with a margin for other CPUs' rounding): the shares after
# six layers, the own token's share falling layer by layer, the [CLS] share growing
def near(x, stated, tol=0.006):
    return abs(float(x) - stated) < tol


cls_in, sep_in, own = shares.values()
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert near(cls_in[-1], 0.57) and near(sep_in[-1], 0.08) and near(own[0], 0.53) and near(own[-1], 0.03)
    assert bool((own.diff() < 0).all()) and bool((cls_in.diff() > 0).all())

# %% [markdown]
# After six layers the word positions draw on average 0.57 of their rollout
# from the `[CLS]` input and 0.08 from `[SEP]`, while their own
# token's share falls from 0.53 after layer 1 to 0.03: the `[CLS]` sink of the
# middle layers (section 3) compounds through the products. That is a known
# weakness of rollout on a model with an attention sink: it follows where
# attention *points*, and the sink soaks up the mass. Hiding the specials
# shows how the rest spreads; for the river "bank" (the third "bank":
# `query="bank", occurrence=2`), after the last layer:

# %%
ax = bk.plot_rollout(e, query="bank", occurrence=2, specials="exclude")
river_bank = e.word_ids.index(bk.find(e, "bank")[2])        # its token
row = r[-1, river_bank].clone()
row[e.special_mask] = 0
top = row.topk(4).indices.tolist()
print("river bank draws most from:", ", ".join(f"{e.tokens[t]} (word {e.word_ids[t]}) {row[t]:.3f}" for t in top))

# %% tags=["remove-cell"]
# the text below, checked: no word above 0.04, the final period first
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert float(row.max()) < 0.04 and e.tokens[top[0]] == "." and top[0] == e.n_tokens - 2

# %% [markdown]
# What is left is spread thinly (no word above 0.04) and led by the final
# period: rollout of this model says little about which *words* shape the
# river "bank". Compare notebook 04, where the vectors themselves separate
# the senses.

# %% [markdown]
# ## 3. Head statistics over 100 sentences
#
# `bk.head_statistics(es)` measures every layer and head, averaged over all
# query tokens of all texts (each token weighs the same): entropy of the
# attention distribution (nats), attention to `[CLS]`, to `[SEP]`, to
# punctuation, to the token itself, to the previous and to the next token, and
# the mean attention distance `|i - j|`. It takes one `Encoding`, an
# `Encodings` or a list of them, encoded with `attentions=True` (a store holds
# no attention weights).
#
# The texts: the first 50 positive and 50 negative snippets of the *sentence
# polarity dataset v1.0 by Bo Pang and Lillian Lee, CC BY 4.0*, shipped in the
# package (`bk.datasets.sentence_polarity`, as in notebook 06).

# %%
texts, _ = bk.datasets.sentence_polarity(per_class=50, order="grouped")
es = enc.encode(texts, attentions=True)
stats = bk.head_statistics(es)
print(len(es), "texts,", es.n_tokens, "tokens")
print("statistics:", ", ".join(f"{k} {tuple(v.shape)}" for k, v in stats.items()))

# %% [markdown]
# Per layer, averaged over its 12 heads (the heatmaps below show every head):

# %%
print("layer      " + " ".join(f"{k:>8s}" for k in stats))
for layer in range(enc.n_layers):
    print(f"{layer + 1:5d}      " + " ".join(f"{float(v[layer].mean()):8.3f}" for v in stats.values()))

# %%
axes = bk.plot_head_statistics_grid(stats)

# %% [markdown]
# Heads that give more than half of their attention to one neighbour, and the
# broadest and the most focused head:

# %%
for key in ("previous", "next", "self"):
    found = (stats[key] > 0.5).nonzero().tolist()
    print(f"{key:8s}:", ", ".join(f"layer {lay + 1} head {h} ({stats[key][lay, h]:.2f})" for lay, h in found)
          or "none")
for key in ("cls", "sep", "punct"):
    lay, h = divmod(int(stats[key].argmax()), stats[key].shape[1])
    print(f"most to {key}: layer {lay + 1} head {h} ({stats[key][lay, h]:.2f})")
ent = stats["entropy"]
for name, flat in (("broadest", ent.argmax()), ("most focused", ent.argmin())):
    lay, h = divmod(int(flat), ent.shape[1])
    print(f"{name}: layer {lay + 1} head {h}, entropy {ent[lay, h]:.2f} nats")
mean_len = es.n_tokens / len(es)
print(f"uniform attention over a mean-length text ({mean_len:.1f} tokens): {torch.tensor(mean_len).log():.2f} nats")

# %%
fig, axes = plt.subplots(1, 2, figsize=(15, 4.2), layout="constrained")
bk.plot_head_statistics(stats, "entropy", ax=axes[0])
ax = bk.plot_head_statistics(stats, "cls", ax=axes[1])

# %% tags=["remove-cell"]
# the text below, checked (values as stated to 2 decimals, entropies and distances to 1 or 2)
by_layer = {k: v.mean(dim=1) for k, v in stats.items()}      # averaged over each layer's heads
neighbour = torch.maximum(stats["previous"], stats["next"])
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    # the [CLS] sink in the middle layers; [SEP] small
    assert near(by_layer["cls"][1:5].min(), 0.42) and near(by_layer["cls"][1:5].max(), 0.49)
    assert near(stats["cls"][2, 9], 0.76) and near(stats["cls"].max(), 0.76) and near(by_layer["cls"][0], 0.13)
    assert float(by_layer["sep"].max()) < 0.05 and near(stats["sep"].max(), 0.10)
    # positional heads: layer 1 head 2 (previous), layer 2 head 8 (next), no other over one half
    assert near(stats["previous"][0, 2], 1.00) and near(stats["next"][1, 8], 0.68)
    assert int((neighbour > 0.5).sum()) == 2
    # broad heads, and the broadest layers
    assert int(stats["entropy"].argmax()) == 0 * 12 + 7 and near(stats["entropy"][0, 7], 3.14)
    assert near(torch.tensor(mean_len).log(), 3.29)
    assert near(by_layer["entropy"][0], 2.62) and near(by_layer["entropy"][-1], 2.40)
    assert near(by_layer["entropy"][1:5].min(), 1.54) and near(by_layer["entropy"][1:5].max(), 2.00)
    assert float(by_layer["entropy"][1:5].max()) < float(by_layer["entropy"][[0, -1]].min())
    # punctuation, and layer 4 head 11
    assert near(by_layer["punct"].min(), 0.07) and near(by_layer["punct"].max(), 0.11)
    assert int(stats["punct"].argmax()) == 3 * 12 + 11 and near(stats["punct"][3, 11], 0.39)
    assert near(stats["sep"][3, 11], 0.10) and float(stats["cls"][3, 11]) < 0.05
    # attention to the token itself; the attention distance grows layer by layer
    assert near(stats["self"].max(), 0.21)
    assert bool((by_layer["distance"].diff() > 0).all())
    assert near(by_layer["distance"][0], 8.8, 0.06) and near(by_layer["distance"][-1], 11.6, 0.06)

# %% [markdown]
# ### Compared with BERT-base (Clark et al. 2019)
#
# Clark et al. measured BERT-base (12 layers x 12 heads) on 1000 Wikipedia
# segments. What carries over to this 6-layer MiniLM, and what does not:
#
# * **An attention sink, but a different one.** In BERT-base early heads
#   attend to `[CLS]`, heads in layers 6-10 put over half of their attention
#   on `[SEP]`, and deep heads attend to periods and commas. MiniLM parks its
#   attention on `[CLS]`, and in the *middle* layers: 0.42-0.49 of all
#   attention in layers 2-5 (0.76 for layer 3, head 9), but only 0.13 in
#   layer 1. `[SEP]` gets at most 0.05 per layer (0.10 for the most
#   `[SEP]`-bound head). The sink moved; the behaviour (a no-op target for
#   heads with nothing specific to do) is the same.
# * **Positional heads in early layers: the same.** Clark et al. found heads
#   that attend to the previous or the next token, mostly in early layers.
#   Here layer 1, head 2 sends all of its attention to the previous token
#   (1.00) and layer 2, head 8 two thirds to the next one (0.68); no other
#   head gives either neighbour half of its attention.
# * **Broad heads.** As in BERT-base, some heads attend almost uniformly: the
#   broadest here (layer 1, head 7, 3.14 nats) is close to uniform attention
#   over a mean-length text (3.29 nats). By layer, layers 1 and 6 are the
#   broadest (mean entropy 2.62 and 2.40 nats, against 1.54-2.00 in layers
#   2-5, where the `[CLS]` sink narrows attention).
# * **Punctuation: weaker.** BERT-base's deep heads turn to periods and
#   commas; here punctuation gets 0.07-0.11 per layer, with one clear
#   exception in the middle of the network: layer 4, head 11 gives 0.39 to
#   punctuation and 0.10 to `[SEP]` (the end of the sentence, much like
#   BERT-base's `[SEP]`-and-period heads) and almost nothing to `[CLS]`.
# * **Attention to the token itself** stays low everywhere (at most 0.21), as
#   in BERT-base. The mean attention distance grows from 8.8 tokens in
#   layer 1 to 11.6 in layer 6, largely because `[CLS]`, at position 0, is
#   far from most tokens.
#
# This checkpoint was trained differently from BERT-base: MiniLM learns by
# imitating a larger model's self-attention, and all-MiniLM-L6-v2 keeps six
# of its layers and was fine-tuned on sentence pairs for sentence
# embeddings (mean pooling), either of which may move the sink. With six
# layers, "early", "middle" and "deep" are also coarser than in BERT-base. These are averages over 100 short movie
# reviews, not over Wikipedia, and attention weights show where information
# *can* flow, not what it is used for (Jain and Wallace 2019): read them as
# hypotheses to test with the vectors (notebooks 04, 06, 09).
#
# To keep a figure: `ax.figure.savefig("rollout.svg")` (or `.png` with
# `dpi=200`, or `.pdf`); see docs/guide/attention.md and docs/guide/plotting.md, "Saving figures".

# %% [markdown]
# **Route:** Previous: [09 · Which layer knows what? Probes, and the custom head trained for a task](09_probing_and_head.ipynb) · [Start here](00_start_here.ipynb) · Next: [11 · Which layers are alike? Centred kernel alignment (CKA)](11_cka.ipynb)
