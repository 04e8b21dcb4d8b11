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
# # 14 · Exercises: one word, two meanings
#
# Four exercises for a class on "what do BERT's layers do?", about 45 minutes,
# after notebooks 02 and 04. You pick a word with two meanings and five
# sentences that use it; everything else is computed from them:
#
# 1. **Same word, different vectors**: a cosine heatmap of the word's five
#    vectors. Do the two meanings form two groups?
# 2. **One attention head**: where does the word look?
# 3. **A value histogram** of the word's vector at the first and the last layer.
# 4. **A layer curve**: in which layers do the two meanings separate?
#
# Each exercise has a task, then a **solution** cell whose stored output is
# what the bundled model gives for the example word "bat". To hand out the
# sheet, clear the solution cells (or ask students to write their own code in
# a new cell above them). Run the notebook top to bottom; the model runs only
# in the first code cell below.
#
# Everything here uses one way of pointing at a word: a word string
# (case-insensitive, whole words, also when the tokenizer splits the word
# into pieces) with `occurrence=k` for repeats, or a word index as
# `bk.find` returns it.

# %% [markdown]
# ## Your word and your sentences
#
# Change `WORD`, `SENTENCES` and `MEANING` to a word of your choice. Each
# sentence must contain the word once; `MEANING` says which meaning it has.
# Good candidates: *bank*, *bat*, *bark*, *crane*, *match*, *pitch*, *spring*,
# *mouse*, *star*.

# %%
import matplotlib.pyplot as plt
import torch

import bertviz_kit as bk

WORD = "bat"
SENTENCES = [
    "A bat flew out of the cave at dusk.",
    "The bat hung upside down from the branch.",
    "The vampire bat feeds on the blood of cattle.",
    "He swung the bat and hit the ball over the fence.",
    "She bought a new cricket bat for the match.",
]
MEANING = ["animal", "animal", "animal", "sport", "sport"]

enc = bk.load(device="cpu")
es = enc.encode(SENTENCES, attentions=True)   # the only model run: every layer and head kept
print(f"{enc.name}: {enc.n_layers} layers, {enc.dim} dimensions")
for i, e in enumerate(es):
    print(i, MEANING[i], "|", " ".join(e.tokens))

# %% [markdown]
# Check that the word occurs once in every sentence (`bk.find` gives its word
# index, `bk.occurrence_labels` a short label with a neighbouring word):

# %%
for i, e in enumerate(es):
    print(i, "word index", bk.find(e, WORD), "|", bk.occurrence_labels(e, WORD))
labels = [f"{i} {MEANING[i]}: {bk.occurrence_labels(e, WORD)[0]}" for i, e in enumerate(es)]

# %% [markdown]
# ## Exercise 1 · Same word, different vectors
#
# *Task.* Take the word's vector in each sentence at a middle layer
# (`bk.occurrence_vectors(es, WORD, layers=...)`), compare all pairs with
# `bk.cosine` and draw `bk.plot_similarity_heatmap` with the labels above.
# Then compare the mean cosine of pairs with the same meaning to the mean of
# pairs with different meanings. Is the same-meaning mean higher? By how much?
#
# *Hint.* The heatmap's colour scale is fixed (0 to 1); pass `vmin=` to zoom in.

# %%
# Solution
middle = enc.n_layers // 2
vecs = bk.occurrence_vectors(es, WORD, layers=middle)          # [5, dim]
sims = bk.cosine(vecs)
same = torch.tensor([[a == b for b in MEANING] for a in MEANING])
off_diagonal = ~torch.eye(len(MEANING), dtype=torch.bool)
print(f"layer {middle}: same meaning {sims[same & off_diagonal].mean():.3f}, "
      f"different meanings {sims[~same].mean():.3f}")
ax = bk.plot_similarity_heatmap(sims, labels, vmin=0.8, title=f"'{WORD}' at layer {middle} (zoomed: vmin=0.8)")

# %% [markdown]
# On the fixed 0-1 scale all five cells would look alike: every cosine is
# above 0.8 (why? see anisotropy in notebook 06), so the solution zooms in.
# With the bundled model the three animal sentences form a tight block
# (0.92-0.96); the baseball and the cricket bat are no closer to each other
# (0.85) than to the animals, so the same-meaning mean wins by about 0.06,
# all of it from the animal sentences. Try other sport sentences: is it the
# meaning or the sentence topic that the vector tracks?
#
# ## Exercise 2 · One attention head
#
# *Task.* In the sentence about the cricket bat, where does the word look?
# Draw the full attention map of one head in layer 1 (`bk.plot_attention`),
# then only the word's row (`word=WORD`). Then find, for every layer, the
# token the word attends to most, heads averaged and special tokens left out.
# Which layers look at the meaningful neighbour ("cricket", "swung")?

# %%
# Solution
e = es[4]
fig, axes = plt.subplots(1, 2, figsize=(14, 5), layout="constrained")
bk.plot_attention(e, layer=1, head=2, ax=axes[0])
ax = bk.plot_attention(e, layer=1, head=2, word=WORD, ax=axes[1])

# %%
# Solution (continued)
t = e.word_ids.index(bk.find(e, WORD)[0])            # the word's first token
row = e.attentions.mean(dim=1)[:, t].clone()         # [layers, tokens], heads averaged
row[:, e.special_mask] = 0                           # leave out [CLS] and [SEP]
row[:, t] = 0                                        # and the word itself
for layer, best in enumerate(row.argmax(dim=-1).tolist(), start=1):
    print(f"layer {layer}: {e.tokens[best]!r} ({row[layer - 1, best]:.2f})")

# %% [markdown]
# ## Exercise 3 · A value histogram
#
# *Task.* Draw the values of the word's vector at layer 0 (the embedding
# layer, before any context) and at the last layer, for one sentence of each
# meaning, with `bk.plot_histogram(e, word=WORD, layer=...)`. Use shared bin
# edges and `alpha=0.5` (extra keyword arguments go to matplotlib) to
# overlay the two meanings. What changes from layer 0 to the top? Which
# dimensions have the largest values, and are they the same for both
# sentences?

# %%
# Solution
pair = {0: "tab:green", 4: "tab:purple"}                       # one sentence of each meaning
token = {i: es[i].word_ids.index(bk.find(es[i], WORD)[0]) for i in pair}
fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
for ax, layer in zip(axes, [0, enc.n_layers]):
    values = torch.stack([es[i].hidden_states[layer, token[i]] for i in pair])
    bins = torch.linspace(float(values.min()), float(values.max()), 61).numpy()   # shared edges
    for i, color in pair.items():
        bk.plot_histogram(es[i], word=WORD, layer=layer, bins=bins, color=color, alpha=0.5,
                          label=labels[i], ax=ax, title=f"'{WORD}' at layer {layer}")
    ax.legend(fontsize=8)
plt.show()
for layer in (0, enc.n_layers):
    a, b = (es[i].hidden_states[layer, token[i]] for i in pair)
    print(f"layer {layer}: cosine of the two vectors {float(bk.cosine(a, b)):.3f}")
for i in pair:
    top = es[i].hidden_states[-1, token[i]]
    print(f"{labels[i]:32s} largest |values| at the top in dimensions", top.abs().topk(3).indices.tolist())

# %% [markdown]
# The two histograms look alike at both layers, although the vectors are
# not: at layer 0 they differ only by the position embedding (cosine about
# 0.97), at the top by much more. The *distribution* of a vector's values
# says little about its meaning; its *direction* (the cosine) does. A few
# large values recur across sentences (dimension 232 here, in both): such
# "outlier dimensions" belong to the model more than to the word.
#
# ## Exercise 4 · A layer curve
#
# *Task.* At every layer, compute the mean cosine of same-meaning pairs and
# of different-meaning pairs (`bk.layer_occurrence_vectors(es, WORD)` gives
# the word's vectors at all layers, `[layers + 1, 5, dim]`) and draw both
# curves with `bk.plot_layer_similarity`. In which layer is the gap widest?
#
# *Bonus.* One sentence can hold both meanings: "The bat flew past the
# baseball bat." Draw `bk.layer_similarity(e, (WORD, 0), (WORD, 1))`, the
# cosine of the two occurrences at every layer.

# %%
# Solution
stack = torch.nn.functional.normalize(bk.layer_occurrence_vectors(es, WORD), dim=-1)
per_layer = stack @ stack.transpose(1, 2)                         # [layers + 1, 5, 5] cosines
curves = {"same meaning": per_layer[:, same & off_diagonal].mean(dim=1),
          "different meanings": per_layer[:, ~same].mean(dim=1)}
gap = curves["same meaning"] - curves["different meanings"]
print("gap per layer:", " ".join(f"{g:.3f}" for g in gap.tolist()), "| widest at layer", int(gap.argmax()))
both = enc.encode(f"The {WORD} flew past the baseball {WORD}.")
curves["one sentence, both meanings"] = bk.layer_similarity(both, (WORD, 0), (WORD, 1))
ax = bk.plot_layer_similarity(curves, title=f"'{WORD}': cosine of its vectors across layers")

# %% [markdown]
# ## To discuss
#
# * Every cosine is high, even between meanings. Why is that not a failure?
#   (Notebook 06: anisotropy, and `adjusted=True`.)
# * The gap peaks in the middle layers for this model. Would you expect the
#   same for BERT-base? Set `BERTVIZ_KIT_MODEL` to a downloaded bert-base-cased
#   (README, "Using the tutorial's model") and run this notebook again.
# * Attention showed where the word *can* take information from; the vectors
#   showed what arrived. Which one is the better evidence for "the model
#   knows the meaning"?
#
# To keep a figure for slides: `ax.figure.savefig("bat.png", dpi=200)` or
# `.svg` (README, "Saving figures").
