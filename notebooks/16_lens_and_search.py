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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/16_lens_and_search.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 16 · A lens on every layer, and nearest contexts by layer
#
# Two ways to read what a hidden state "means" without training anything:
#
# * **the lens** (`bk.lens`): rank the whole vocabulary against one token's
#   hidden state at every layer. The bundled all-MiniLM-L6-v2 ships no
#   masked-LM head, so the lens uses the cosine to every row of the input
#   embedding matrix (`kind="embeddings"`); a checkpoint with a masked-LM head
#   (e.g. `bert-base-uncased`) is read through that head (`kind="mlm"`).
# * **nearest contexts** (`bk.nearest_contexts`, as exBERT's search, without a
#   server): the word occurrences of a corpus whose vectors at one layer are
#   closest to a query word.

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

enc = bk.load()
e = enc.encode(bk.BANK_TEXT)
print(bk.occurrence_labels(e, "bank"))

# %% [markdown]
# ## The lens on the river "bank"
#
# Row = layer (0 = embeddings), columns = the 8 nearest vocabulary items,
# colour = cosine; the right panel gives the rank of "bank" itself.

# %%
r = bk.lens(e, "bank", enc=enc, occurrence=-1, k=8)
print(r.kind, "rank of 'bank' per layer:", r.rank.tolist())
for lid, toks, sc in zip(r.layer_ids, r.tokens, r.scores):
    print(lid, ", ".join(f"{t} {s:.2f}" for t, s in zip(toks[:5], sc[:5].tolist())))
ax = bk.plot_lens(r)

# %% [markdown]
# At every layer the nearest items are "bank" itself and its relatives
# (*banks*, *banking*, *bankers*): the list barely changes, only the cosines
# shrink, the nearest one's from 0.96 at layer 0 to 0.40 at the last layer,
# where *banks* overtakes *bank* (0.38). At layer 0 the hidden state is the token's embedding plus
# position and type vectors, so the nearest row is its own; higher layers mix
# in the context, and the state moves away from every row of the table. In
# this sentence-embedding model the river "bank" never comes near a river
# word: the lens reads the embedding table, whose "bank" row mixes both senses.

# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert r.rank.tolist()[:-1] == [1] * (len(r.layer_ids) - 1) and r.rank.tolist()[-1] == 2
    assert tuple(r.tokens[-1][:2]) == ("banks", "bank") and abs(float(r.scores[-1, 1]) - 0.38) < 0.01
    top = r.scores[:, 0].tolist()
    assert all(a > b for a, b in zip(top, top[1:])) and abs(top[0] - 0.96) < 0.01 and abs(top[-1] - 0.40) < 0.01
    assert all(sum(t.startswith(("bank", "##bank")) for t in toks[:4]) >= 3 for toks in r.tokens)
    assert not any(t in ("river", "shore", "stream", "water") for toks in r.tokens for t in toks)

# %% [markdown]
# ## Nearest contexts: layer 1 vs the last layer
#
# The corpus: 300 movie-review sentences plus the 20 `BANK_SENSES` sentences
# (ten money, ten river "bank"s). The query is the river "bank" of the
# tutorial's sentence. `bk.nearest_contexts` is exact: it streams the corpus
# block by block, pools every word at the layer asked for, and keeps a running
# top-k (memory bounded by one block, whatever the corpus size). The result is
# a list of matches that also knows its query and layer.

# %%
texts = list(bk.datasets.sentence_polarity(per_class=150).texts)
texts += list(bk.BANK_SENSES["money"]) + list(bk.BANK_SENSES["river"])
corpus = enc.encode(texts)
river = set(bk.BANK_SENSES["river"])
print(len(texts), "texts,", int(corpus.word_starts[-1]), "words")

hits = {}
for layer in (1, -1):
    hits[layer] = bk.nearest_contexts(corpus, e, "bank", layer=layer, k=8, occurrence=-1, context=30)
    found = hits[layer]
    n_river = sum(texts[h.text_index] in river for h in found if h.word.lower() == "bank")
    print(f"\nlayer {found.layer}: {n_river} river banks among the {len(found)} nearest")
    for h in found:
        print(f"  {h.cosine:.2f}  {h.snippet}")

# %% [markdown]
# `bk.plot_nearest_contexts` draws the same matches as a concordance: the
# query on top, then one row per match, best first, with its cosine as a bar
# (0 to 1) and a number; each sentence is cut around the match (an ellipsis
# marks a cut) and the matched words line up in one column.

# %%
ax = bk.plot_nearest_contexts(hits[1])

# %%
ax = bk.plot_nearest_contexts(hits[-1])

# %% [markdown]
# The bars are nearly equal: the eight matches lie within a few hundredths
# of each other. Every match is a "bank": at both layers the word's identity
# dominates its vector. Among the banks, river senses come first at both layers (6 of the
# 8 nearest here). At layer 1 the money banks that slip in end their
# sentence the way the query does (*... at the bank.*): nearby words and
# positions still shape the vector. At the last layer the money banks that
# remain have different surroundings. On this small sentence-embedding model
# the contrast between the layers is mild; compare a BERT-base checkpoint
# loaded with `bk.load("models/bert-base-uncased")`.

# %% tags=["remove-cell"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    for found in hits.values():
        assert len(found) == 8 and all(h.word.lower() == "bank" for h in found)
        assert found[0].cosine - found[-1].cosine < 0.1
        assert texts[found[0].text_index] in river
        assert sum(texts[h.text_index] in river for h in found) == 6
    money_at_1 = [texts[h.text_index] for h in hits[1] if texts[h.text_index] not in river]
    assert all(t.endswith("at the bank.") for t in money_at_1)
    assert not any(texts[h.text_index].endswith("at the bank.") for h in hits[-1] if texts[h.text_index] not in river)

# %% [markdown]
# ## Many queries: a faiss index
#
# Each call above reads and pools the whole corpus again. When one corpus
# answers many queries, pool it once: `bk.build_context_index` (the optional
# `[search]` extra, faiss) puts every word occurrence at one layer into an
# index, and `index.search` answers each query from it. The default
# `kind="flat"` is exact and returns the same matches; `"hnsw"` and `"ivf"`
# approximate, for large stores.

# %%
index = bk.build_context_index(corpus, layer=1)
print(index)
same = index.search(e, "bank", k=8, occurrence=-1, context=30)
print("same matches as the streaming search:",
      [(m.text_index, m.word_index) for m in same] == [(m.text_index, m.word_index) for m in hits[1]],
      "| largest cosine difference:", round(max(abs(a.cosine - b.cosine) for a, b in zip(same, hits[1])), 6))

# %% [markdown]
# Which one to use:
#
# * **`bk.nearest_contexts`** (exact streaming): no extra memory and nothing
#   to build; each query is one pass over the corpus (a store is read shard
#   by shard). The right choice for a few queries, or a corpus that does not
#   fit in memory.
# * **`bk.build_context_index`**: one pass to build, then each query is a
#   matrix product (`flat`) or a graph walk (`hnsw`) over vectors held in
#   memory (words x width x 4 bytes: 11 MiB for the 7,332 words here). It pays
#   for itself after a few queries; `index.save()` writes it next to a store
#   and `bk.load_context_index` reads it back, checked against the store.
#   `benchmarks/search_speed.py` measures both on your machine.

# %% [markdown]
# **Route:** Previous: [15 · How contextual is a word? Maximum explainable variance and static embeddings](15_contextuality_suite.ipynb) · [Start here](00_start_here.ipynb) · Next: [17 · Inside a layer: the embedding sum and one head by hand](17_inside_a_layer.ipynb)
