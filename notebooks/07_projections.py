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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/07_projections.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 07 · Projections: many occurrences, many sentences, in 2-D
#
# A cosine table compares a handful of vectors. To see hundreds, project them
# to two dimensions and colour the points by what you know about them (the
# sense of a word, the sentence it came from, the review's polarity):
#
# * `bk.project(vectors, "pca" | "tsne" | "umap", seed=0)`: `[n, dim]` to `[n, 2]`
#   (scikit-learn's PCA and t-SNE; UMAP if `umap-learn` is installed);
# * `bk.plot_projection(vectors, labels, method=...)`: the scatter plot;
# * `bk.plot_trajectory(stack, labels)`: one basis fitted on **all** layers, so
#   each occurrence becomes a path from the embedding layer to the top.
#
# PCA is linear: distances along its axes are real, and the axis labels say how
# much of the variance each one holds. t-SNE keeps neighbourhoods but distorts
# distances and cluster sizes; read it for "who is near whom" only.

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

import bertviz_kit as bk

enc = bk.load(device="cpu")
top, middle = enc.n_layers, enc.n_layers // 2   # 6 and 3 for MiniLM (12 and 6 for BERT-base)

# %% [markdown]
# ## Two senses of "bank"
#
# Twenty short sentences that ship with the package as `bk.BANK_SENSES`, ten
# for each sense (money, river):

# %%
money, river = list(bk.BANK_SENSES["money"]), list(bk.BANK_SENSES["river"])
print(money[:2], river[:2])
es = enc.encode(money + river)
where = bk.find_occurrences(es, "bank")
senses = ["money" if i < len(money) else "river" for i, _ in where]
print(len(where), "occurrences of 'bank':", senses.count("money"), "money,", senses.count("river"), "river")

# %% tags=["remove-cell"]
# the text above, checked: twenty sentences, ten for each sense
assert (len(where), senses.count("money"), senses.count("river")) == (20, 10, 10)

# %% [markdown]
# The same 20 occurrences at the embedding layer, a middle layer and the top
# layer (PCA of each layer separately):

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), layout="constrained")
for ax, layer in zip(axes, [0, middle, top]):
    bk.plot_projection(bk.occurrence_vectors(es, "bank", layers=layer), senses, legend_title="sense",
                       title=f"'bank' at layer {layer}", ax=ax)

# %% tags=["remove-cell"]
# the text below, checked: at layer 0 one point per position of "bank" in its sentence; from the
# middle layer on, the first principal axis splits the two senses (each PCA fitted as in the figure)
import numpy as np

positions = [es[i].word_ids.index(w) for i, w in where]
assert len(bk.occurrence_vectors(es, "bank", layers=0).unique(dim=0)) == len(set(positions))
is_money = np.array(senses) == "money"
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    for layer in (middle, top):
        pc1 = bk.project(bk.occurrence_vectors(es, "bank", layers=layer))[:, 0]
        assert pc1[is_money].min() > pc1[~is_money].max() or pc1[is_money].max() < pc1[~is_money].min(), layer

# %% [markdown]
# At layer 0 the context has not reached the vector yet: the 20 points differ
# only by the word's position in its sentence, so they pile up on a few spots
# (one per position) whatever the sense. By layer 3 the two senses form two
# groups, split along the first principal axis, and they stay apart at the top:
# the context ("loan", "teller" against "river", "muddy") has flowed into the
# vector of "bank".
#
# ## Following each occurrence through the network
#
# `bk.layer_occurrence_vectors` stacks every layer, `[7, 20, 384]`.
# `plot_trajectory` normalizes the vectors (hidden-state norms grow from layer
# to layer), fits one PCA on all 140 points and draws each occurrence as a
# path from its layer-0 position (open circle) to the top layer (diamond);
# `Lk` marks the centre of layer k.

# %%
stack = bk.layer_occurrence_vectors(es, "bank")
print(tuple(stack.shape), "= [layers, occurrences, dim]")
ax = bk.plot_trajectory(stack, senses, legend_title="sense",
                        title=f"'bank' from layer 0 to {top}, one PCA basis for all layers")

# %% tags=["remove-cell"]
# the text above, checked: every layer and occurrence, 140 points for the bundled model
assert tuple(stack.shape) == (enc.n_layers + 1, 20, enc.dim)
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert stack.shape[0] * stack.shape[1] == 140

# %% [markdown]
# All paths start together and travel the same way (the layer centres): much
# of what changes from layer to layer is shared by every token. With
# `center_layers=True` each layer's centre is moved to the origin, which shows
# only how the occurrences spread apart:

# %%
ax = bk.plot_trajectory(stack, senses, center_layers=True, legend_title="sense",
                        title="'bank', each layer centred: how the occurrences spread apart")

# %% [markdown]
# ## Sentence vectors coloured by polarity
#
# 300 movie-review snippets, the first 150 positive and 150 negative of the
# *sentence polarity dataset v1.0 by Bo Pang and Lillian Lee, CC BY 4.0*
# (shipped inside the package: `bk.datasets.sentence_polarity`), their
# sentence vectors (mean of the last layer, [CLS]/[SEP] left out), with PCA
# and with t-SNE:

# %%
snippets, polarity = bk.datasets.sentence_polarity(per_class=150, order="grouped")

# %%
reviews = enc.encode(snippets)

# %%
sent = bk.sentence_vectors(reviews, layers=-1)
print(tuple(sent.shape))
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
bk.plot_projection(sent, polarity, method="pca", legend_title="polarity",
                   title=f"sentence vectors, layer {top}, PCA", ax=axes[0])
ax = bk.plot_projection(sent, polarity, method="tsne", seed=0, legend_title="polarity",
                        title=f"sentence vectors, layer {top}, t-SNE (seed 0)", ax=axes[1])

# %% tags=["remove-cell"]
# the text below, checked: the first two principal axes hold about 8% of the variance, and neither
# PCA's nor t-SNE's neighbourhoods sort the reviews by polarity (5 nearest neighbours in the 2-D
# picture, 5-fold cross-validated: near the 0.5 of a coin toss)
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

two_axes = float(PCA(2).fit(sent.numpy()).explained_variance_ratio_.sum())
neighbours = {m: float(cross_val_score(KNeighborsClassifier(5), bk.project(sent, m, seed=0), polarity, cv=5).mean())
              for m in ("pca", "tsne")}
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert 0.07 < two_axes < 0.09, two_axes
    assert max(neighbours.values()) < 0.65, neighbours

# %% [markdown]
# Polarity is not what the first two principal axes of this model's sentence
# space encode (together they hold only about 8% of the variance; the model
# was trained to match sentences by topic and paraphrase), and t-SNE's
# neighbourhoods mix the two classes as well. (Extra keyword arguments, such
# as `max_iter` for t-SNE, go to the estimator.) Whether a *linear* read-out can still
# find polarity, and in which layer, is what a probe measures:
# [09 · probing](09_probing_and_head.ipynb).
#
# ## One word in many reviews
#
# Every occurrence of "film" and of "movie" at layer 3, coloured by the word
# and by the polarity of the review it comes from:

# %%
import torch

occ = {w: bk.find_occurrences(reviews, w) for w in ["film", "movie"]}
vecs = torch.cat([bk.occurrence_vectors(reviews, w, layers=middle) for w in occ])
word = [w for w, found in occ.items() for _ in found]
review_polarity = [polarity[i] for found in occ.values() for i, _ in found]
print({w: len(found) for w, found in occ.items()})
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
bk.plot_projection(vecs, word, legend_title="word", title=f"'film' and 'movie' at layer {middle}", ax=axes[0])
ax = bk.plot_projection(vecs, review_polarity, legend_title="review", title="the same points by polarity",
                        ax=axes[1])

# %% tags=["remove-cell"]
# the text below, checked: in the 2-D PCA the first axis alone separates "film" from "movie", while
# the reviews' polarity is near chance for the 5 nearest neighbours (5-fold cross-validated)
points = bk.project(vecs)
is_film = np.array(word) == "film"
polarity_neighbours = float(cross_val_score(KNeighborsClassifier(5), points, review_polarity, cv=5).mean())
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert points[is_film, 0].max() < points[~is_film, 0].min() or points[is_film, 0].min() > points[~is_film, 0].max()
    assert polarity_neighbours < 0.65, polarity_neighbours

# %% [markdown]
# The two words stay apart (the word's identity dominates its vector at
# layer 3), while the review's polarity leaves no visible mark on them: the
# vector of "film" says more about the phrase around it than about whether
# the review liked it.

# %% [markdown]
# **Route:** Previous: [06 · How contextual are the vectors? Self-similarity, intra-similarity, anisotropy](06_contextuality.ipynb) · [Start here](00_start_here.ipynb) · Next: [08 · Attention: who looks at whom](08_attention.ipynb)
