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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/06_contextuality.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 06 · How contextual are the vectors? Self-similarity, intra-similarity, anisotropy
#
# The tutorial showed that the three "bank"s of one sentence get different
# vectors. How much does a word's vector change with its context, in which
# layer, and compared to what? Ethayarajh (2019, "How contextual are
# contextualized word representations?") proposed three measures, each one
# value per layer:
#
# * **self-similarity** of a word: the mean cosine between its vectors in
#   different sentences. 1 would be a static embedding (same vector everywhere);
#   lower means more context-specific.
# * **intra-sentence similarity**: the mean cosine of each word to the mean
#   word vector of its own sentence. High means context pulls the words of a
#   sentence towards a shared meaning.
# * **anisotropy**: the mean cosine between random words from different
#   sentences. If any two words already have cosine 0.3 at a layer, the two
#   measures above must be read against that baseline: the *adjusted* values
#   subtract it.
#
# We measure them on real sentences: the first 150 positive and 150 negative
# movie-review snippets of the *sentence polarity dataset v1.0 by Bo Pang and
# Lillian Lee, CC BY 4.0*, which ships inside the package
# (`bk.datasets.sentence_polarity`; `bk.datasets.citation("sentence_polarity")`
# prints its attribution and reference).

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

texts, labels = bk.datasets.sentence_polarity(per_class=150, order="grouped")
enc = bk.load(device="cpu")
print(len(texts), "sentences, e.g.", repr(texts[3]))

# %% [markdown]
# One forward pass per batch of 32 keeps every layer of every sentence (this is
# the only time the model runs in this notebook; `progress=True` shows a bar).

# %%
es = enc.encode(texts, batch_size=32)

# %% [markdown]
# `es` is one corpus object, an `Encodings`: every sentence's tokens sit in
# one flat tensor `[total tokens, layers, dim]`, and `es[i]` is a view of
# sentence `i` (an ordinary `Encoding`). Every function below reads the whole
# corpus in one vectorised pass.

# %%
print(es)
print(f"{int(es.word_counts().sum())} words, {es.nbytes / 2**20:.1f} MiB of hidden states; es[3] is",
      es[3])
words = ["film", "movie", "good", "funny", "story", "the", "and"]
for w in words:
    print(f"{w:6s} occurs {len(bk.find_occurrences(es, w)):3d} times")


# %% [markdown]
# ## The baseline: anisotropy
#
# `bk.anisotropy` draws 1000 random pairs of words from different sentences
# (seeded) and averages their cosine at every layer. `n_pairs=None` averages
# every such pair exactly; the sample is within about 0.01 of it.

# %%
base = bk.anisotropy(es, n_pairs=1000, seed=0)
exact = bk.anisotropy(es, n_pairs=None)
centred = bk.anisotropy(es, n_pairs=None, center=True)
for name, v in [("sampled", base), ("exact", exact), ("centred", centred)]:
    print(f"{name:8s}", " ".join(f"{x:6.3f}" for x in v.tolist()))

# %% [markdown]
# Two random words have a cosine of about 0.1-0.3 in the middle layers, not 0:
# the vectors share a common direction. Subtracting the mean vector of the
# corpus (`center=True`) removes it and brings the baseline to about 0.

# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert float((base - exact).abs().max()) < 0.01
    assert 0.1 <= float(exact[1:6].min()) and float(exact[1:6].max()) <= 0.31
    assert float(centred.abs().max()) < 0.03

# %% [markdown]
# ## Self-similarity of some words, raw and adjusted

# %%
raw = {w: bk.self_similarity(es, w) for w in words}
adjusted = {w: bk.self_similarity(es, w, adjusted=True, baseline=base) for w in words}
print("self-similarity per layer (0 = embeddings):")
for w in words:
    print(f"{w:6s}", " ".join(f"{x:6.3f}" for x in raw[w].tolist()))

# %% [markdown]
# The four content words "film", "movie", "funny" and "story" follow one
# another closely: they are drawn in grey, under one legend entry, and the
# words that differ from them in colour.

# %%
def plot_words(curves, ax, grey=("film", "movie", "funny", "story"), **options):
    """The `grey` words as grey lines under one legend entry, the other curves in colour."""
    names = [w for w in curves if w in grey]
    # matplotlib leaves labels that start with "_" out of the legend
    bk.plot_layer_similarity({(", ".join(names) if k == 0 else f"_{w}"): curves[w] for k, w in enumerate(names)},
                             ax=ax, color="0.6", linewidth=1.5, marker=".", **options)
    return bk.plot_layer_similarity({w: v for w, v in curves.items() if w not in grey}, ax=ax, **options)


fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
plot_words(raw, axes[0], title="self-similarity", legend_loc="lower left")
ax = plot_words(adjusted, axes[1], title="self-similarity minus anisotropy (adjusted)", ylabel="adjusted cosine",
                legend_loc="lower left")

# %% tags=["remove-cell"]
# the note above the figure, checked: the grey words stay within 0.06 of each other at every layer
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    for curves in (raw, adjusted):
        grey = torch.stack([curves[w] for w in ("film", "movie", "funny", "story")])
        assert float((grey.max(dim=0).values - grey.min(dim=0).values).max()) < 0.06

# %% [markdown]
# * At layer 0 (the embedding layer) a word's occurrences differ only by
#   position, so self-similarity is about 0.85-0.95.
# * It falls from layer 0 to layer 3 for every word here, rises again at
#   layer 5 and is lowest at layer 6: the representations become more
#   context-specific higher up, as Ethayarajh found for BERT, ELMo and GPT-2,
#   though not at every step.
# * Function words are the *most* context-specific: "the" and "and" drop far
#   below content words such as "film" or "movie" (Ethayarajh's finding too:
#   stopwords have some of the most context-specific representations).
# * The adjusted curves subtract the baseline: the drop is real, not only a
#   consequence of all vectors moving together. Layer 6 is special for this
#   model (it was fine-tuned for sentence similarity, and its output is
#   mean-pooled): the baseline falls there, so the adjusted self-similarity
#   of content words rises again.

# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    self_sim = torch.stack([raw[w] for w in words])  # [words, layers]
    assert 0.85 <= float(self_sim[:, 0].min()) and float(self_sim[:, 0].max()) <= 0.96
    assert bool((self_sim[:, 1:4] < self_sim[:, 0:3]).all())          # falls from layer 0 to 3
    assert bool((self_sim[:, 5] > self_sim[:, 4]).all())               # rises again at layer 5
    assert bool((self_sim.argmin(dim=1) == 6).all())                   # lowest at layer 6
    content, function = ["film", "movie", "funny", "story"], ["the", "and"]
    assert max(float(raw[w][6]) for w in function) < min(float(raw[w][6]) for w in content) - 0.3
    assert all(float(adjusted[w][6]) > float(adjusted[w][5]) for w in content)

# %% [markdown]
# ## Intra-sentence similarity

# %%
intra = bk.intra_similarity(es)
curves = {
    "intra-sentence similarity": intra,
    "intra-sentence, adjusted": bk.intra_similarity(es, adjusted=True, baseline=base),
    "anisotropy (baseline)": base,
    "self-similarity of 'the', adjusted": adjusted["the"],
}
for name, v in curves.items():
    print(f"{name:36s}", " ".join(f"{x:6.3f}" for x in v.tolist()))

# %%
ax = bk.plot_layer_similarity(curves, title="contextuality on 300 movie-review sentences",
                              ylabel="mean cosine")

# %% [markdown]
# Words of one sentence grow more alike layer by layer (intra-sentence
# similarity rises from about 0.34 to 0.62), faster than the baseline. So
# context does not only make each word's vector specific to its sentence: it
# makes the words of a sentence share more of their vector. A model trained
# to produce sentence embeddings by mean pooling is expected to do exactly
# that at the top.

# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert bool((intra[1:] > intra[:-1]).all())
    assert abs(float(intra[0]) - 0.34) < 0.01 and abs(float(intra[-1]) - 0.62) < 0.01
    assert float(intra[-1] - intra[0]) > float(base[-1] - base[0])

# %% [markdown]
# ## Mean-centring before the cosine
#
# `center=True` subtracts the corpus mean word vector (per layer) before every
# cosine: a simple fix for anisotropy (as in "all-but-the-top", Mu and
# Viswanath 2018). The ordering of the words stays the same; the values
# spread out: function words and "good" lose the most.

# %%
centred_self = {w: bk.self_similarity(es, w, center=True) for w in ["film", "good", "the"]}
for w, v in centred_self.items():
    print(f"{w:6s} centred", " ".join(f"{x:6.3f}" for x in v.tolist()))
ax = bk.plot_layer_similarity(
         {**{f"{w} (centred)": v for w, v in centred_self.items()},
          "intra-sentence (centred)": bk.intra_similarity(es, center=True)},
         title="mean-centred vectors", ylabel="cosine after centring")

# %% [markdown]
# ## The same on disk: a store
#
# A corpus too large for memory is extracted to disk once (`bk.extract`,
# safetensors shards, here in float16) and opened with `bk.open_store`: the
# same interface, memory-mapped, and every function above streams it shard by
# shard. The values agree with the in-memory corpus up to float16 rounding.

# %%
import tempfile

folder = tempfile.mkdtemp()
store = bk.extract(enc, texts, folder, dtype="float16", shard_size=100, progress=False)
print(store.manifest["n_texts"], "texts in", len(store.manifest["shards"]), "shards;", store[3])
on_disk = bk.anisotropy(store, n_pairs=None)
print("exact anisotropy, in memory:", " ".join(f"{x:6.3f}" for x in exact.tolist()))
print("exact anisotropy, on disk:  ", " ".join(f"{x:6.3f}" for x in on_disk.tolist()))
print("agree within 1e-4:", bool(((on_disk - exact).abs() < 1e-4).all()))

# %% [markdown]
# ## Take-aways
#
# * The same word's vector grows more specific to its context from layer 0
#   to layer 3, turns back a little at layer 5 and is most context-specific
#   at the top layer; function words change the most.
# * Raw cosines are inflated by a common direction (anisotropy): compare them
#   with `bk.anisotropy`, use `adjusted=True`, or centre the vectors.
# * Lower layers keep more of the word's identity; upper layers carry more of
#   the sentence (intra-sentence similarity is highest there). "good" loses
#   its identity faster than "film": whether it is praise depends on its
#   context ("not good", "good intentions").

# %% [markdown]
# **Route:** Previous: [05 · Interactive explorer](05_explorer.ipynb) · [Start here](00_start_here.ipynb) · Next: [07 · Projections: many occurrences, many sentences, in 2-D](07_projections.ipynb)
