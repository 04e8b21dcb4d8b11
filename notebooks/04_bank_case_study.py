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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/04_bank_case_study.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 04 · Case study: three "bank"s
#
# > After stealing money from the **bank vault**, the **bank robber** was seen
# > fishing on the Mississippi **river bank**.
#
# The same word, two senses. A static word embedding gives all three the same
# vector; a contextual encoder should put the two money "bank"s closer to each
# other than to the river "bank". Does it, how strongly, and where in the
# network does the difference appear?
#
# `bk.load()` loads the default model: the bundled MiniLM, or the model the
# environment variable `BERTVIZ_KIT_MODEL` names (for example the tutorial's
# bert-base-cased, see docs/guide/configuration.md, "The tutorial's model and other encoders"). The stored
# outputs are MiniLM's.

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
import bertviz_kit as bk

enc = bk.load(device="cpu")
print(f"{enc.name}: {enc.n_layers} layers, {enc.dim} dimensions")
text = ("After stealing money from the bank vault, the bank robber was seen "
        "fishing on the Mississippi river bank.")
e = enc.encode(text)
banks = bk.find(e, "bank")                     # word indices, case-insensitive, whole words
labels = bk.occurrence_labels(e, "bank")       # each occurrence with a neighbouring word
print("word indices:", banks, "| tokens:", [e.word_ids.index(i) for i in banks], "|", labels)

# %% [markdown]
# ## Cosine similarity with the tutorial's word vectors
#
# Word vectors from the sum of the last four layers, as in the tutorial:

# %%
vecs = bk.word_vectors(e, layers="sum_last4")[banks]
sims = bk.cosine(vecs)
for i in range(3):
    print(f"{labels[i]:12s}", "  ".join(f"{v:.4f}" for v in sims[i].tolist()))

# %% [markdown]
# The heatmap's colour scale is fixed from 0 to 1 (the same in every cosine
# heatmap of these notebooks), so 0.89 looks almost as bright as 0.94: it *is*
# almost as high. To look at the small differences, zoom in with `vmin`; the
# pointed end of the colour bar then says that lower values are clipped.

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
bk.plot_similarity_heatmap(sims, labels, title="sum of last 4 layers, scale 0 to 1", ax=axes[0])
ax = bk.plot_similarity_heatmap(sims, labels, vmin=0.9, title="the same, zoomed in (vmin=0.9)", ax=axes[1])

# %% [markdown]
# The two money senses are the closest pair (about 0.94); each is about 0.89
# from the river bank. The ordering is right, but every value is high: vectors
# of one model share a common direction (anisotropy), so cosines are compressed
# towards 1. Differences between pairs carry the information, not the absolute
# values. (The tutorial, with bert-base-cased, saw 0.895 for the two money
# "bank"s against 0.767 and 0.733 for the river "bank": the same ordering,
# a wider gap.)
#
# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert abs(float(sims[0, 1]) - 0.94) < 0.005 and all(abs(float(sims[i, 2]) - 0.89) < 0.005 for i in (0, 1))
    assert float(sims[0, 1]) > float(sims[:2, 2].max())

# %% [markdown]
# ## Where in the network does context separate the senses?
#
# `layer_similarity` gives the cosine of two words at every layer, from the
# embedding layer (0) to the top.

# %%
pairs = [(0, 1), (0, 2), (1, 2)]
curves = {f"{labels[a]} ~ {labels[b]}": bk.layer_similarity(e, banks[a], banks[b]) for a, b in pairs}
for name, c in curves.items():
    print(f"{name:26s}", " ".join(f"{v:.3f}" for v in c.tolist()))

# %%
ax = bk.plot_layer_similarity(curves, title="'bank' pairs across layers")

# %% [markdown]
# At layer 0 the three vectors differ only by position embeddings, so all
# pairs are similar. Context is mixed in from layer 1 on: the river bank moves
# away from the money banks, and the gap is widest in layers 2-3. The top
# layers pull every token of the sentence towards a shared sentence meaning
# (the model was trained for sentence similarity), so all cosines rise again.
#
# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    same, cross = curves[f"{labels[0]} ~ {labels[1]}"], [curves[f"{labels[a]} ~ {labels[b]}"] for a, b in pairs[1:]]
    gap = same - (cross[0] + cross[1]) / 2
    assert float(min(c.min() for c in curves.values())) < 0.85 < float(min(c[0] for c in curves.values()))
    assert int(gap.argmax()) in (2, 3) and float(gap[0]) < float(gap[1])
    assert all(float(c[-1]) > float(c[3]) for c in curves.values())   # all rise again at the top

# %% [markdown]
# ## Which layer choice separates the senses best?
#
# The gap between the same-sense pair and the mean of the two cross-sense
# pairs, for every layer preset and single layer:

# %%
choices = ["last", "second_last", "sum_last4", "concat_last4", "mean_all", *range(1, enc.n_layers)]
gaps = {}
for layers in choices:
    s = bk.cosine(bk.word_vectors(e, layers=layers)[banks])
    gaps[str(layers)] = float(s[0, 1] - (s[0, 2] + s[1, 2]) / 2)
for k, v in sorted(gaps.items(), key=lambda kv: -kv[1]):
    print(f"{k:13s} gap {v:.3f}")

# %% [markdown]
# Middle layers (2-3) separate the senses most for this model; the last layer
# least. The tutorial's sum of the last four layers sits in between.
#
# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    order = sorted(gaps, key=gaps.get, reverse=True)
    assert set(order[:2]) == {"2", "3"} and order[-1] == "last"
    assert gaps["last"] < gaps["sum_last4"] < gaps["2"]

# %% [markdown]
# ## All words at once
#
# The same comparison for every word pair at a middle layer (layer 3 of
# MiniLM's 6): the three "bank"s, and the words they sit next to. Labels are
# `word index:word`, the numbering `bk.find` uses.

# %%
middle = enc.n_layers // 2
words = bk.word_vectors(e, layers=middle)
ax = bk.plot_similarity_heatmap(bk.cosine(words), [f"{i}:{w}" for i, w in enumerate(e.words)],
                                title=f"word cosine at layer {middle}")

# %% [markdown]
# ## What the numbers mean
#
# * Word similarity from a contextual encoder depends on the sentence: "bank"
#   has no single vector.
# * The sense distinction is real but small in absolute cosine terms; compare
#   pairs with each other, or correct for anisotropy (notebook 06).
# * Where to read vectors from depends on the task: middle layers hold the
#   most word-sense information here, top layers the most sentence-level meaning.

# %% [markdown]
# **Route:** Previous: [03 · Word and sentence vectors](03_word_and_sentence_vectors.ipynb) · [Start here](00_start_here.ipynb) · Next: [05 · Interactive explorer](05_explorer.ipynb)
