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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/03_word_and_sentence_vectors.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 03 · Word and sentence vectors
#
# Which layers, and which pooling, make the best vector? The tutorial's answer
# was "it depends on the task". This notebook puts every choice side by side
# so you can see what each one does. All of them slice the same stored
# hidden states: the model ran once.

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
import torch

import bertviz_kit as bk

enc = bk.load(device="cpu")
text = ("After stealing money from the bank vault, the bank robber was seen "
        "fishing on the Mississippi river bank.")
e = enc.encode(text)

# %% [markdown]
# ## Layers: one, several, or a preset
#
# `layers` takes an int (negative counts from the top, 0 is the embedding
# layer), a list of ints (summed by default), or a preset. `concat_last4`
# makes vectors four times as wide.

# %%
for layers in ["last", "second_last", "sum_last4", "concat_last4", "mean_last4", "sum_all", "mean_all",
               0, -1, [2, 3]]:
    v = bk.token_vectors(e, layers=layers)
    print(f"{layers!s:14s} -> {tuple(v.shape)}")

# %% tags=["remove-cell"]
# the text above, checked: concat_last4 is four times as wide
assert bk.token_vectors(e, layers="concat_last4").shape[-1] == 4 * bk.token_vectors(e, layers="last").shape[-1]

# %% [markdown]
# The tutorial's option 2 (sum of the last four layers) written as a loop over
# tokens equals the preset:

# %%
loop = torch.stack([token[-4:].sum(dim=0) for token in e.by_token()])
print("the loop equals bk.token_vectors(e, 'sum_last4') within 1e-5:", torch.allclose(loop, bk.token_vectors(e, "sum_last4"), atol=1e-5))

# %% tags=["remove-cell"]
assert torch.allclose(loop, bk.token_vectors(e, "sum_last4"), atol=1e-5)

# %% [markdown]
# A bad choice gets a message that names the parameter, what is allowed and
# what was given:

# %%
try:
    bk.token_vectors(e, layers="sum_lats4")
except ValueError as err:
    print(err)

# %% [markdown]
# ## Sub-words into words
#
# WordPiece splits rare words into pieces (`##` marks a continuation). Word
# vectors pool the pieces of each word with `subwords` = `first`, `last`,
# `mean`, `sum` or `max`.

# %%
w = enc.encode("Tokenizers split unbelievably long words into wordpieces.")
print("tokens:", w.tokens)
print("words: ", w.words)

# %%
split = [i for i in range(w.n_words) if w.word_ids.count(i) > 1]
print("words made of several pieces:", [w.words[i] for i in split])
modes = ["first", "last", "mean", "sum", "max"]
vectors = {m: bk.word_vectors(w, layers="sum_last4", subwords=m) for m in modes}
for m in modes:
    print(f"{m:6s} {tuple(vectors[m].shape)}")

# %% [markdown]
# How similar are the pooling choices for a split word? `mean` and `sum`
# point the same way (cosine 1: they differ only in length); `first` and
# `last` can differ a lot. Every function finds a split word by the word
# itself (case-insensitive): `bk.find(w, "unbelievably")`,
# `bk.plot_histogram(w, word="Unbelievably")`.
#
# Cosine heatmaps use one colour scale, 0 to 1, unless told otherwise; here
# it is zoomed in to 0.5-1 (`vmin=0.5`), and the pointed end of the colour
# bar marks that lower values, if any, are drawn in the darkest colour.

# %%
i = bk.find(w, "unbelievably")[0]
table = bk.cosine(torch.stack([vectors[m][i] for m in modes]))
ax = bk.plot_similarity_heatmap(table, modes, title=f"sub-word pooling of {w.words[i]!r}", vmin=0.5)

# %%
print(f"cosine between the poolings of {w.words[i]!r} (rows and columns: {', '.join(modes)}):")
print(table.numpy().round(3))

# %% tags=["remove-cell"]
# the text above, checked: mean and sum point the same way, first and last differ a lot,
# and the zoomed colour scale starts at 0.5
assert abs(float(table[2, 3]) - 1) < 1e-5
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert float(table[0, 1]) < 0.6 and float(table.min()) > 0.4

# %% [markdown]
# ## Any span of characters
#
# `span_vector` pools every token that overlaps a character span: a phrase, a
# word, or part of one.

# %%
start = text.index("bank vault")
phrase = bk.span_vector(e, (start, start + len("bank vault")), layers="last")
start2 = text.index("river bank")
phrase2 = bk.span_vector(e, (start2, start2 + len("river bank")), layers="last")
print("span vector:", tuple(phrase.shape), "| cosine('bank vault', 'river bank') =", round(float(bk.cosine(phrase, phrase2)), 3))

# %% [markdown]
# ## Sentence vectors
#
# The tutorial averaged the last layer over all tokens except `[CLS]` and
# `[SEP]`: that is the default here (`layer=-1, pooling="mean",
# specials="exclude"`).

# %%
ref = e.by_token()[1:-1, -1, :].mean(dim=0)
print("bk.sentence_vectors(e)[0] equals the hand-made mean within 1e-5:", torch.allclose(bk.sentence_vectors(e)[0], ref, atol=1e-5))

# %% tags=["remove-cell"]
assert torch.allclose(bk.sentence_vectors(e)[0], ref, atol=1e-5)

# %% [markdown]
# Every pooling choice, compared on four sentences: two paraphrases about a
# bank robbery, one about a river, one unrelated. all-MiniLM-L6-v2 was trained
# for mean pooling, and it shows: `mean` separates the paraphrases from the rest
# best; `cls` and especially `max` crowd all sentences together.

# %%
sentences = [
    "The robbers emptied the bank vault.",
    "Thieves stole the money from the bank.",
    "We sat on the grassy bank of the river.",
    "The recipe needs two cups of flour.",
]
es = enc.encode(sentences)
labels = ["robbery 1", "robbery 2", "river", "recipe"]

# %%
import matplotlib.pyplot as plt

choices = [("mean", "exclude"), ("mean", "include"), ("max", "exclude"), ("cls", "include")]
fig, axes = plt.subplots(1, 4, figsize=(16, 4), layout="constrained")
for ax, (pooling, specials) in zip(axes, choices):
    sims = bk.cosine(bk.sentence_vectors(es, pooling=pooling, specials=specials))
    # one scale for the four panels, wide enough for the small negative cosines (one colour bar)
    bk.plot_similarity_heatmap(sims, labels, ax=ax, vmin=-0.2, colorbar=ax is axes[-1],
                               title=f"pooling={pooling}, specials={specials}")

# %%
for pooling, specials in choices:
    sims = bk.cosine(bk.sentence_vectors(es, pooling=pooling, specials=specials))
    print(f"{pooling:4s} {specials:7s} paraphrases {sims[0, 1]:.3f} | robbery~river {sims[0, 2]:.3f} "
          f"| robbery~recipe {sims[0, 3]:.3f}")

# %% tags=["remove-cell"]
# the text above, checked: mean pooling separates the paraphrases from the rest best (the gap between
# the paraphrases and the closest other pair); cls and especially max crowd all sentences together
# (their least similar pair is still similar, max's more so); the common colour scale (from -0.2)
# holds every cosine
pooled = {c: bk.cosine(bk.sentence_vectors(es, pooling=c[0], specials=c[1])) for c in choices}
gap = {c: float(t[0, 1] - t[:2, 2:].max()) for c, t in pooled.items()}
assert all(float(t.min()) >= -0.2 for t in pooled.values())
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert min(gap[("mean", "exclude")], gap[("mean", "include")]) > 2 * max(gap[("cls", "include")], gap[("max", "exclude")])
    assert float(pooled[("max", "exclude")].min()) > float(pooled[("cls", "include")].min()) > 0.3

# %% [markdown]
# **Route:** Previous: [02 · One forward pass, every layer kept](02_forward_pass.ipynb) · [Start here](00_start_here.ipynb) · Next: [04 · Case study: three "bank"s](04_bank_case_study.ipynb)
