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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/08_attention.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 08 · Attention: who looks at whom
#
# Each of the model's 6 layers has 12 attention heads; each head gives every
# token a probability distribution over all tokens (rows sum to 1). Encoding
# with `attentions=True` keeps them all, `[layers, heads, tokens, tokens]`.
# The plots here are plain matplotlib: they render offline, in the notebook
# and in a saved PNG, with no JavaScript.

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
text = ("After stealing money from the bank vault, the bank robber was seen "
        "fishing on the Mississippi river bank.")
e = enc.encode(text, attentions=True)
print("attentions:", tuple(e.attentions.shape), "= [layers, heads, tokens, tokens]")
print("tokens:", " ".join(e.tokens))

# %% [markdown]
# ## One head
#
# `bk.plot_attention(e, layer, head)`: rows are the attending tokens (queries),
# columns the tokens they attend to (keys). Layers count from 1 here (layer 0,
# the embedding layer, has no attention). Head 2 of layer 1 is a
# "previous token" head: almost every token's strongest weight is on the
# token just before it. The colour scale of an attention map runs from 0 to
# its largest weight (the colour bar says what the colours mean).

# %%
att = e.attentions[0, 2]                                   # layer 1, head 2: [tokens, tokens]
offset = att.argmax(dim=-1) - torch.arange(e.n_tokens)     # where each row's maximum lies
print("strongest weight on the previous token for", int((offset == -1).sum()), "of", e.n_tokens, "tokens")
ax = bk.plot_attention(e, layer=1, head=2)

# %% tags=["remove-cell"]
# the text above, checked: a previous-token head, for almost every token
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert int((offset == -1).sum()) >= e.n_tokens - 2

# %% [markdown]
# ## With and without [CLS] / [SEP]
#
# Many heads park most of their attention on a special token when they have
# nothing specific to do. In BERT-base that is mostly `[SEP]` in the middle
# layers (Clark et al. 2019); in this model it is `[CLS]`: the dark first
# column on the left, while the last column (`[SEP]`) stays pale. The sink
# washes out the colour scale of the word columns. `specials="exclude"` hides
# those rows and columns (the weights are not renormalized: what remains is
# the attention the words give each other).

# %%
fig, axes = plt.subplots(1, 2, figsize=(15, 6.5), layout="constrained")
bk.plot_attention(e, layer=4, head=0, specials="include", ax=axes[0])
ax = bk.plot_attention(e, layer=4, head=0, specials="exclude", ax=axes[1])

# %% tags=["remove-cell"]
# the text above, checked: layer 4, head 0 parks its attention on [CLS] (the dark first column),
# not on [SEP] (the last column stays pale)
column = e.attentions[3, 0].mean(dim=0)    # mean weight each key receives
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert float(column[0]) > 0.5 > 0.1 > float(column[-1])

# %% [markdown]
# How much of each layer's attention goes to the special tokens, averaged over
# heads and over the attending word tokens:

# %%
words = ~e.special_mask                      # attending tokens: words only
to_specials = e.attentions[:, :, words][..., e.special_mask].sum(-1)   # [layers, heads, words]
to_cls = e.attentions[:, :, words][..., 0]                             # [CLS], the first token
share = {"to [CLS] + [SEP]": to_specials.mean(dim=(1, 2)), "to [CLS] alone": to_cls.mean(dim=(1, 2))}
for name, v in share.items():
    print(f"{name:17s}", " ".join(f"{x:.3f}" for x in v.tolist()))
ax = bk.plot_layer_similarity(share, layer_ids=range(1, e.n_layers + 1), ylabel="share of attention",
                              title="attention given to special tokens, per layer")
ax.xaxis.label.set_text("transformer layer")
ylim = ax.set_ylim(0, 1)   # a share runs from 0 to 1

# %% tags=["remove-cell"]
# the text below, checked: in layers 2-5 more than half of the words' attention goes to [CLS]; the
# first and the last layer give the specials less than half; in layers 2-5 most heads (more than
# half of them) give [CLS] more than half of their attention
per_head = to_cls.mean(dim=-1)                # [layers, heads]
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert bool((share["to [CLS] alone"][1:5] > 0.5).all())
    assert float(share["to [CLS] + [SEP]"][0]) < 0.5 and float(share["to [CLS] + [SEP]"][-1]) < 0.5
    assert int((per_head[1:5] > 0.5).sum()) > per_head[1:5].numel() / 2

# %% [markdown]
# In layers 2-5 more than half of the words' attention goes to `[CLS]`; the
# first and the last layer spread theirs over the words.
#
# ## Every layer and head at once
#
# `bk.plot_attention_grid(e)` draws all 6 x 12 maps as small multiples (token
# labels left out; each panel scaled to its own maximum). Look for the
# patterns described in the attention-analysis literature (Clark et al. 2019,
# "What does BERT look at?"): heads that attend to the previous or the next
# token (a dark off-diagonal), to a special token (a dark first column for
# `[CLS]`, as in most of this model's heads in layers 2-5; in BERT-base a dark
# last column for `[SEP]`), or broadly over the sentence.

# %%
axes = bk.plot_attention_grid(e, specials="include", cell_size=1.1)
print("grid:", axes.shape)

# %% [markdown]
# The same grid without the special tokens shows the word-to-word structure
# that the `[CLS]` column hides:

# %%
axes = bk.plot_attention_grid(e, specials="exclude", cell_size=1.1)

# %% [markdown]
# ## Where does "bank" look?
#
# One query at a time: `token=` or `word=` (a word string with `occurrence=`,
# as everywhere) draws only that token's row, as bars. The river "bank" in
# layer 1, head 2, the previous-token head:

# %%
ax = bk.plot_attention(e, layer=1, head=2, word="bank", occurrence=2)

# %% [markdown]
# For each of the three "bank"s, the token it attends to most in every layer
# (heads averaged, special tokens left out):

# %%
mean_heads = e.attentions.mean(dim=1)                            # [layers, tokens, tokens]
for w, label in zip(bk.find(e, "bank"), bk.occurrence_labels(e, "bank")):
    t = e.word_ids.index(w)                                      # the token of word w
    row = mean_heads[:, t].clone()
    row[:, e.special_mask] = 0                                   # ignore [CLS]/[SEP]
    row[:, t] = 0                                                # and the token itself
    best = row.argmax(dim=-1).tolist()
    print(f"word {w:2d} ({label:11s}) ->", ", ".join(f"L{k + 1}: {e.tokens[b]}" for k, b in enumerate(best)))

# %% [markdown]
# Attention weights show where information *can* flow, not what a layer does
# with it (Jain and Wallace 2019, "Attention is not explanation"): read these
# maps as hints, and test hypotheses with the vectors themselves (notebooks
# 04, 06, 09).

# %% [markdown]
# **Route:** Previous: [07 · Projections: many occurrences, many sentences, in 2-D](07_projections.ipynb) · [Start here](00_start_here.ipynb) · Next: [09 · Which layer knows what? Probes, and the custom head trained for a task](09_probing_and_head.ipynb)
