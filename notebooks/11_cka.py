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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/11_cka.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 11 · Which layers are alike? Centred kernel alignment (CKA)
#
# **How similar are two layers' representations?** Comparing vectors of
# two layers one by one (cosine) makes no sense: each layer has its own
# coordinates. **Centred kernel alignment** (CKA; Kornblith, Norouzi, Lee
# and Hinton 2019, "Similarity of Neural Network Representations
# Revisited") compares how two layers *arrange the same examples*: put the
# corpus's words as rows of a matrix `X` (one layer) and `Y` (another),
# centre the columns, and measure
# `CKA = ||Xᵀ Y||² / (||Xᵀ X|| · ||Yᵀ Y||)`: 1 when the layers are equal up
# to a rotation and a scale, near 0 when unrelated. It is a ratio of HSIC
# values (a kernel measure of dependence); the **debiased** variant uses
# the unbiased HSIC estimator of Song et al. (2012), as Kornblith et al.'s
# code does, and **minibatch CKA** (Nguyen, Raghu and Kornblith 2021, "Do
# Wide and Deep Networks Learn the Same Things?") averages that estimator
# over minibatches.
#
# Data: the first 150 positive and 150 negative snippets of the *sentence
# polarity dataset v1.0 by Bo Pang and Lillian Lee, CC BY 4.0*, shipped in the
# package (`bk.datasets.sentence_polarity`).

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
import numpy as np

import bertviz_kit as bk

texts, _ = bk.datasets.sentence_polarity(per_class=150, order="grouped")
enc = bk.load(device="cpu")
print(len(texts), "sentences, e.g.", repr(texts[3]))

# %%
es = enc.encode(texts, batch_size=32)

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

# %% tags=["remove-cell"]
# the text above, checked (two-decimal values with a tolerance: they are rounded in the text)
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    near = lambda value, stated: abs(float(value) - stated) < 0.006  # noqa: E731
    assert all(0.915 < float(linear[k, k + 1]) < 0.945 for k in range(4)) and near(linear[4, 5], 0.88)
    assert all(near(linear[0, k], v) for k, v in zip(range(1, 6), (0.93, 0.87, 0.80, 0.72, 0.60)))
    assert near(linear[5, 6], 0.63) and near(linear[0, 6], 0.43)
    assert float(linear[5, 6]) < min(float(linear[k, k + 1]) for k in range(5))
    assert float((linear - debiased).abs().max()) < 0.01

# %% [markdown]
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
minibatch = {}
for batch in (10, 50):
    minibatch[batch] = mb = bk.layer_cka(es, debiased=True, estimator="minibatch", batch_texts=batch)
    print(f"minibatches of {batch:3d} texts: CKA(0, 6) = {float(mb[0, 6]):.3f}, CKA(5, 6) = {float(mb[5, 6]):.3f}, "
          f"largest |minibatch - full batch| = {float((mb - debiased).abs().max()):.3f}")

# %% [markdown]
# Minibatches of 50 texts (about 1,200 words) differ from the full-batch
# debiased value by at most 0.02, minibatches of 10 texts (about 240 words)
# by up to 0.06, mostly downwards: no value rises by more than 0.01. (One minibatch of all 300 texts is
# the full-batch value.) Compare minibatch values only with minibatch values
# of the same batch size.

# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    gap = {b: float((mb - debiased).abs().max()) for b, mb in minibatch.items()}
    assert gap[50] < 0.02 and 0.04 < gap[10] < 0.08
    assert all(float((mb - debiased).max()) < 0.01 < -float((mb - debiased).min()) for mb in minibatch.values())

# %% [markdown]
# The rows can also be tokens instead of words (`unit="token"`, special tokens
# left out), and `bk.layer_cka(es, other)` compares this corpus's layers with
# the layers of the same texts encoded by another model: words are aligned by
# their character spans, so models with different tokenizers compare too.

# %%
tokens = bk.layer_cka(es, unit="token")
print("largest |words - tokens|:", round(float((tokens - linear).abs().max()), 3))

# %% [markdown]
# ## Take-aways
#
# * `bk.layer_cka` compares every pair of layers on a corpus of any size
#   (exact full-batch value from streaming sums); `debiased=True` removes
#   the small-sample bias, `estimator="minibatch"` gives Nguyen et al.'s
#   minibatch CKA, and `other=` compares two models on the same texts.
# * In this model the representation drifts gradually through layers 0-5
#   (neighbours at about 0.93) and changes most in the last layer.

# %% [markdown]
# **Route:** Previous: [10 · Attention analysis: words, rollout, and what each head does](10_attention_analysis.ipynb) · [Start here](00_start_here.ipynb) · Next: [12 · Word-level probes on Universal Dependencies, checked with control tasks](12_ud_probing_control_tasks.ipynb)
