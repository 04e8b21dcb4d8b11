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
# # 11 · Which layers are alike? CKA, and how much of a word one static vector keeps
#
# Two questions about the whole stack of layers:
#
# 1. **How similar are two layers' representations?** Comparing vectors of
#    two layers one by one (cosine) makes no sense: each layer has its own
#    coordinates. **Centred kernel alignment** (CKA; Kornblith, Norouzi, Lee
#    and Hinton 2019, "Similarity of Neural Network Representations
#    Revisited") compares how two layers *arrange the same examples*: put the
#    corpus's words as rows of a matrix `X` (one layer) and `Y` (another),
#    centre the columns, and measure
#    `CKA = ||Xᵀ Y||² / (||Xᵀ X|| · ||Yᵀ Y||)`: 1 when the layers are equal up
#    to a rotation and a scale, near 0 when unrelated. It is a ratio of HSIC
#    values (a kernel measure of dependence); the **debiased** variant uses
#    the unbiased HSIC estimator of Song et al. (2012), as Kornblith et al.'s
#    code does, and **minibatch CKA** (Nguyen, Raghu and Kornblith 2021, "Do
#    Wide and Deep Networks Learn the Same Things?") averages that estimator
#    over minibatches.
# 2. **How much of a word's contextual vectors could one static vector
#    replace?** Ethayarajh (2019, "How Contextual are Contextualized Word
#    Representations?") answers with the **maximum explainable variance**
#    (MEV): the share of the variance of a word's occurrence vectors that
#    their first principal component explains. That component is the word's
#    **static embedding**. (Notebook 06 has the other two measures of the
#    paper, self-similarity and intra-sentence similarity.)
#
# Data: the first 150 positive and 150 negative snippets of the *sentence
# polarity dataset v1.0 by Bo Pang and Lillian Lee, CC BY 4.0*, shipped in the
# package (`bk.datasets.sentence_polarity`).

# %%
import matplotlib.pyplot as plt
import numpy as np

import bertviz_kit as bk

texts, _ = bk.datasets.sentence_polarity(per_class=150, order="grouped")
enc = bk.load(device="cpu")
print(len(texts), "sentences, e.g.", repr(texts[3]))

# %%
# NBVAL_IGNORE_OUTPUT
es = enc.encode(texts, batch_size=32, progress=True)

# %%
n_words = int(es.word_counts().sum())
print(len(es), "texts,", n_words, "words,", es.n_tokens, "tokens;", len(es.layer_ids),
      "stored layers of", es.dim, "dims (0 = embeddings)")


# %% [markdown]
# ## CKA of two matrices: what it ignores, and why the debiased version exists
#
# `bk.cka(x, y)` takes two `[n, d]` matrices whose rows are the same
# examples. A rotation or a change of scale of either side leaves it at 1; a
# stretch along one axis does not. With few examples and many dimensions the
# plain estimator is biased upwards: two matrices of pure noise look alike.
# The debiased estimator removes that bias.

# %%
rng = np.random.default_rng(0)
x = rng.normal(size=(300, 20))
q, _ = np.linalg.qr(rng.normal(size=(20, 20)))  # a random rotation
stretch = np.diag([1.0] * 19 + [20.0])           # one axis stretched 20x
print("CKA(X, X Q)         =", round(bk.cka(x, x @ q), 4))
print("CKA(X, 5 X + 3)     =", round(bk.cka(x, 5 * x + 3), 4))
print("CKA(X, X stretched) =", round(bk.cka(x, x @ stretch), 3))
noise_a, noise_b = rng.normal(size=(50, 384)), rng.normal(size=(50, 384))
print("two noise matrices, 50 rows x 384 dims: plain", round(bk.cka(noise_a, noise_b), 3),
      "| debiased", round(bk.cka(noise_a, noise_b, debiased=True), 3))

# %% [markdown]
# ## Every layer against every layer
#
# `bk.layer_cka(es)` puts every word of the 300 sentences (sub-word pieces
# mean-pooled) as one row and returns CKA for every pair of stored layers.
# It reads the corpus block by block and keeps only sums of cross-products
# (`Xᵀ Y`, `Xᵀ X`, feature sums): the exact full-batch value, with memory
# that does not grow with the corpus (a store of any size works the same).

# %%
linear = bk.layer_cka(es)
debiased = bk.layer_cka(es, debiased=True)
print("linear CKA (rows and columns: layers 0-6)")
for row in linear.tolist():
    print(" ".join(f"{v:.2f}" for v in row))
print("largest |linear - debiased|:", round(float((linear - debiased).abs().max()), 3))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
bk.plot_cka(linear, es.layer_ids, title="linear CKA", ax=axes[0])
ax = bk.plot_cka(debiased, es.layer_ids, label="debiased CKA", title="debiased CKA", ax=axes[1])

# %%
neighbours = [round(float(linear[k, k + 1]), 2) for k in range(len(es.layer_ids) - 1)]
print("CKA of neighbouring layers (0-1, 1-2, ..., 5-6):", neighbours)
print("embeddings vs last layer:", round(float(linear[0, -1]), 2),
      "| layer 5 vs layer 6:", round(float(linear[5, 6]), 2))

# %% [markdown]
# * Neighbouring layers are alike: CKA 0.92-0.94 from each of layers 0-3 to
#   the next, 0.88 from layer 4 to 5. Each layer adds to the residual
#   stream, it does not replace it. Similarity falls off with the distance
#   along the stack: from layer 0 it is 0.93, 0.87, 0.80, 0.72, 0.60 to
#   layers 1-5.
# * The last layer stands apart: 0.63 to its own neighbour and 0.43 to the
#   embeddings. This model's top layer was trained for sentence similarity
#   with mean pooling, and it rearranges the words more than any other layer.
# * Linear and debiased CKA agree to within 0.01 here: with about 7,200
#   words against 384 dimensions the bias is small. It matters for small
#   samples (the noise example above) or wide layers.
#
# ## Minibatch CKA
#
# When the examples never fit in one matrix, Nguyen et al. (2021) average
# the unbiased HSIC over minibatches and take the ratio at the end.
# `estimator="minibatch"` does that (by default each block of the corpus, e.g.
# a store's shard, is a minibatch; `batch_texts` sets a fixed number of
# texts). The exact path above needs no minibatches, so this is mostly for
# comparison: minibatch CKA is a different quantity. Words of one minibatch
# share fewer contexts than the whole corpus, and small minibatches give
# lower values.

# %%
for batch in (10, 50):
    mb = bk.layer_cka(es, debiased=True, estimator="minibatch", batch_texts=batch)
    print(f"minibatches of {batch:3d} texts: CKA(0, 6) = {float(mb[0, 6]):.3f}, CKA(5, 6) = {float(mb[5, 6]):.3f}, "
          f"largest |minibatch - full batch| = {float((mb - debiased).abs().max()):.3f}")

# %% [markdown]
# Minibatches of 50 texts (about 1,200 words) differ from the full-batch
# debiased value by at most 0.01, minibatches of 10 texts (about 240 words)
# by up to 0.06, always downwards here. (One minibatch of all 300 texts is
# the full-batch value.) Compare minibatch values only with minibatch values
# of the same batch size.
#
# The rows can also be tokens instead of words (`unit="token"`, special tokens
# left out), and `bk.layer_cka(es, other)` compares this corpus's layers with
# the layers of the same texts encoded by another model: words are aligned by
# their character spans, so models with different tokenizers compare too.

# %%
tokens = bk.layer_cka(es, unit="token")
print("largest |words - tokens|:", round(float((tokens - linear).abs().max()), 3))

# %% [markdown]
# ## Maximum explainable variance
#
# For a word with `n` occurrences, stack its vectors at a layer into an
# `[n, 384]` matrix with singular values `σ₁ ≥ σ₂ ≥ ...`. Ethayarajh's
# Definition 3 is `MEV = σ₁² / Σ σᵢ²` on this matrix *as it is* (not
# centred): the share of its (uncentred) variance that one direction, the
# first principal component, explains. MEV = 1 means all occurrences lie on
# one line through the origin: one static vector would do.
#
# As with the cosines of notebook 06, anisotropy inflates it: vectors of any
# words share a common direction, so even unrelated words have a sizeable
# MEV. The baseline (`bk.mev_baseline`) is the MEV of random words, one from
# each of the 300 sentences; `adjusted=True` subtracts it.

# %%
words = ["film", "movie", "good", "the", "and"]
for w in words:
    print(f"{w:6s} occurs {len(bk.find_occurrences(es, w)):3d} times")
baseline = bk.mev_baseline(es, n_samples=1000, seed=0)
mev = {w: bk.mev(es, w) for w in words}
adjusted = {w: bk.mev(es, w, adjusted=True, baseline=baseline) for w in words}
print("MEV per layer (0 = embeddings):")
for w in words:
    print(f"{w:6s}", " ".join(f"{v:5.2f}" for v in mev[w].tolist()))
print(f"{'random':6s}", " ".join(f"{v:5.2f}" for v in baseline.tolist()), "(baseline, 300 words)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
bk.plot_layer_similarity({**mev, "random words (baseline)": baseline}, title="maximum explainable variance",
                         ylabel="MEV", ax=axes[0])
ax = bk.plot_layer_similarity(adjusted, title="MEV minus the random-word baseline", ylabel="adjusted MEV",
                              ax=axes[1])

# %% [markdown]
# * Content words keep a large MEV at every layer: one direction explains
#   88-95% of the variance of "film" and "movie" (0.66-0.87 above the
#   baseline). These words mean much the same wherever they occur in movie
#   reviews.
# * Function words lose it: the MEV of "the" and "and" falls from 0.86-0.88
#   at the embeddings to 0.62-0.63 at layer 3, comes back to 0.77-0.79 at
#   layer 5 (where the common direction, and the baseline, peak) and drops
#   to 0.31-0.37 at the top layer, where a static vector explains only about
#   a third of their variance. Their vectors are the most context-specific,
#   as Ethayarajh found for BERT, ELMo and GPT-2. "good" lies in between
#   (0.94 down to 0.62).
# * The baseline rises from 0.08 (layer 0) to 0.25 (layer 5): the common
#   direction grows in the middle layers, and drops again in the last layer
#   (as anisotropy did in notebook 06).
# * With `center=True` the occurrences are centred first (a centred PCA, as
#   in the authors' released code): only the spread around the word's mean
#   vector counts, and the values fall to about 0.1-0.3.

# %%
centred = {w: bk.mev(es, w, center=True) for w in ["film", "the"]}
for w, v in centred.items():
    print(f"{w:6s} centred MEV", " ".join(f"{x:5.2f}" for x in v.tolist()))

# %% [markdown]
# ## Static embeddings
#
# The first principal component of a word's occurrences at a layer is its
# static embedding in Ethayarajh's sense (a unit vector, its sign chosen to
# point like the mean occurrence). `bk.static_embeddings` reads the corpus once
# for all the words. Cosines between static embeddings of layer 3:

# %%
vocab = ["film", "movie", "story", "good", "bad", "funny", "the", "a", "and", "of", "is", "it"]
static = bk.static_embeddings(es, vocab, layer=3)
print(static.shape)
sims = bk.cosine(static)
print("film ~ movie", round(float(sims[0, 1]), 2), "| good ~ bad", round(float(sims[3, 4]), 2),
      "| film ~ good", round(float(sims[0, 3]), 2), "| the ~ a", round(float(sims[6, 7]), 2))

# %%
ax = bk.plot_similarity_heatmap(sims, vocab, title="static embeddings (layer 3): cosine", vmin=0, vmax=1)

# %% [markdown]
# * "film" and "movie" get nearly the same static vector (cosine 0.90):
#   distilled from their contexts, they are synonyms.
# * Antonyms sit close too ("good" ~ "bad": 0.64), as in word2vec or GloVe:
#   they occur in the same contexts.
# * Function words form their own group ("the", "a", "and", "of", "is",
#   "it": 0.31-0.69 to each other), away from the content words (0.04-0.29).
#
# ## Take-aways
#
# * `bk.layer_cka` compares every pair of layers on a corpus of any size
#   (exact full-batch value from streaming sums); `debiased=True` removes
#   the small-sample bias, `estimator="minibatch"` gives Nguyen et al.'s
#   minibatch CKA, and `other=` compares two models on the same texts.
# * In this model the representation drifts gradually through layers 0-5
#   (neighbours at about 0.93) and changes most in the last layer.
# * `bk.mev` shows how much a static vector could keep: most of a content
#   word, about a third of a function word at the top layer;
#   `bk.static_embeddings` returns that vector.
