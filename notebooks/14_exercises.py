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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/14_exercises.ipynb) · [Start here: the route](00_start_here.ipynb)
#
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
# what the bundled model gives for the example word "bat", then a **check**
# cell: `bk.exercises.check_...` recomputes the answer from your own word and
# sentences and says "correct", or gives a hint. To hand out the sheet, give
# students the student version, with the solutions removed (`make student`
# writes it to `out/student/14_exercises.ipynb`). Run the notebook top to
# bottom; the model runs only in the first code cell below.
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
middle = enc.n_layers // 2   # the layer for exercises 1 and 3

# %% tags=["solution"] placeholder="answer1 = None  # (mean cosine of same-meaning pairs, of different-meaning pairs)"
# Solution
vecs = bk.occurrence_vectors(es, WORD, layers=middle)          # [5, dim]
sims = bk.cosine(vecs)
same = torch.tensor([[a == b for b in MEANING] for a in MEANING])
off_diagonal = ~torch.eye(len(MEANING), dtype=torch.bool)
answer1 = (float(sims[same & off_diagonal].mean()), float(sims[~same].mean()))
print(f"layer {middle}: same meaning {answer1[0]:.3f}, different meanings {answer1[1]:.3f}")
ax = bk.plot_similarity_heatmap(sims, labels, vmin=0.8, title=f"'{WORD}' at layer {middle} (zoomed: vmin=0.8)")

# %%
passed = bk.exercises.check_meaning_gap(answer1, es, WORD, MEANING, layer=middle)

# %% [markdown] tags=["solution"]
# On the fixed 0-1 scale all five cells would look alike: every cosine is
# above 0.8 (why? see anisotropy in notebook 06), so the solution zooms in.
# With the bundled model the three animal sentences form a tight block
# (0.92-0.96); the baseball and the cricket bat are no closer to each other
# (0.85) than to the animals, so the same-meaning mean wins by about 0.06,
# all of it from the animal sentences. Try other sport sentences: is it the
# meaning or the sentence topic that the vector tracks?

# %% tags=["remove-cell", "solution"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2" and WORD == "bat":  # the text describes the bundled model's numbers
    animal = sims[:3, :3][~torch.eye(3, dtype=torch.bool)]
    assert float(sims.min()) > 0.8 and 0.915 <= float(animal.min()) and float(animal.max()) <= 0.965
    assert abs(float(sims[3, 4]) - 0.85) < 0.01 and float(sims[3, 4]) <= float(sims[3:, :3].max())
    assert abs((answer1[0] - answer1[1]) - 0.06) < 0.01

# %% [markdown]
# ## Exercise 2 · One attention head
#
# *Task.* In the baseball sentence (sentence 3), where does the word look?
# Draw the full attention map of one head in layer 1 (`bk.plot_attention`),
# then only the word's row (`word=WORD`). Then find, for every layer, the
# token the word attends to most, heads averaged, leaving out the special
# tokens, the word itself **and its two neighbours**: many heads attend to the
# token right before or after, whatever it means, so a neighbour that looks
# meaningful ("cricket bat") proves nothing. Set `answer2` to the list of
# tokens, one per layer. Do some layers look at the word that tells the
# meaning ("swung", "hit", "ball")?

# %% tags=["solution"] placeholder="answer2 = None  # one token per layer"
# Solution
e = es[3]
fig, axes = plt.subplots(1, 2, figsize=(14, 5), layout="constrained")
bk.plot_attention(e, layer=1, head=2, ax=axes[0])
ax = bk.plot_attention(e, layer=1, head=2, word=WORD, ax=axes[1])
own = [t for t, w in enumerate(e.word_ids) if w == bk.find(e, WORD)[0]]   # the word's tokens
row = e.attentions.mean(dim=1)[:, own[0]].clone()     # [layers, tokens], heads averaged
row[:, e.special_mask] = -1                           # leave out [CLS] and [SEP],
row[:, own + [own[0] - 1, own[-1] + 1]] = -1          # the word and its two neighbours
answer2 = [e.tokens[t] for t in row.argmax(dim=-1).tolist()]
for layer, (token, weight) in enumerate(zip(answer2, row.max(dim=-1).values.tolist()), start=1):
    print(f"layer {layer}: {token!r} ({weight:.2f})")

# %%
passed = bk.exercises.check_attention_targets(answer2, es[3], WORD)

# %% [markdown] tags=["solution"]
# With the neighbours left out, "bat" looks at "swung" in layers 1-3, with a
# small weight (at most about 0.13 of its row; the rest goes to specials,
# neighbours and spread over the sentence), and at other words higher up.
# Attention weights show where information *can* come from, not what the
# vector takes from it: exercise 1 and 4's vectors are the better evidence
# for meaning (notebook 08 has the caveats).

# %% tags=["remove-cell", "solution"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2" and WORD == "bat":  # the text describes the bundled model's numbers
    assert answer2[:3] == ["swung"] * 3 and "swung" not in answer2[3:]
    assert float(row[:3].max()) < 0.15

# %% [markdown]
# ## Exercise 3 · A value histogram, and one dimension that stands out
#
# *Task.* Draw the values of the word's vector at layer 0 (the embedding
# layer, before any context) and at the last layer, for one sentence of each
# meaning, with `bk.plot_histogram(e, word=WORD, layer=...)`. Use shared bin
# edges and `alpha=0.5` (extra keyword arguments go to matplotlib) to
# overlay the two meanings. What changes from layer 0 to the top?
#
# Then look for large values that are not about the word: at layer `middle`,
# take **every** token of the five sentences (not only the word; leave out
# `[CLS]` and `[SEP]`), find each token's dimension with the largest
# `|value|`, and count which dimension wins most often. Set `answer3` to that
# dimension. Is it the largest for the word only, or for most tokens?

# %% tags=["solution"] placeholder="answer3 = None  # a dimension index"
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
    print(f"layer {layer}: cosine of the two vectors {float(bk.cosine(a, b)):.2f}")
wins = {}
for layer in (middle, enc.n_layers):
    states = torch.cat([e.hidden_states[layer][~e.special_mask] for e in es])    # [all tokens, dim]
    counts = torch.bincount(states.abs().argmax(dim=-1), minlength=enc.dim)
    wins[layer] = (int(counts.argmax()), int(counts.max()), states.shape[0])
    print(f"layer {layer}: dimension {wins[layer][0]} holds the largest |value| for "
          f"{wins[layer][1]} of {wins[layer][2]} tokens")
answer3 = wins[middle][0]

# %%
passed = bk.exercises.check_outlier_dimensions(answer3, es, layer=middle)

# %% [markdown] tags=["solution"]
# The two histograms look alike at both layers, although the vectors are
# not: at layer 0 they differ only by the position embedding (cosine about
# 0.97), at the top by much more. The *distribution* of a vector's values
# says little about its meaning; its *direction* (the cosine) does.
#
# At the middle layer one dimension (223 with the bundled model) holds the
# largest value for almost half of all tokens, whatever the word: an
# "outlier dimension" of the model (Kovaleva et al. 2021, "BERT Busters";
# Timkey and van Schijndel 2021), not a property of "bat". Such dimensions
# dominate raw cosines and are one reason every cosine is high. At the top
# layer, which this model's fine-tuning for sentence similarity reshaped, no
# dimension wins for more than a fifth of the tokens.

# %% tags=["remove-cell", "solution"]
# the text above, checked
if enc.name == "sentence-transformers/all-MiniLM-L6-v2" and WORD == "bat":  # the text describes the bundled model's numbers
    assert answer3 == 223 and 0.4 < wins[middle][1] / wins[middle][2] < 0.55
    assert wins[enc.n_layers][1] / wins[enc.n_layers][2] < 0.2
    a, b = (es[i].hidden_states[0, token[i]] for i in pair)
    assert abs(float(bk.cosine(a, b)) - 0.97) < 0.01

# %% [markdown]
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

# %% tags=["solution"] placeholder="answer4 = None  # the layer (0 = embeddings) where the gap is widest"
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
answer4 = int(gap.argmax())

# %%
passed = bk.exercises.check_widest_gap(answer4, es, WORD, MEANING)

# %% tags=["remove-cell", "solution"]
# the discussion below says the gap peaks in the middle layers
if enc.name == "sentence-transformers/all-MiniLM-L6-v2" and WORD == "bat":  # the text describes the bundled model's numbers
    assert answer4 in (2, 3, 4) and float(gap[answer4]) > float(gap[0]) + 0.03

# %% [markdown]
# ## To discuss
#
# * Every cosine is high, even between meanings. Why is that not a failure?
#   (Notebook 06: anisotropy, and `adjusted=True`.)
# * The gap peaks in the middle layers for this model. Would you expect the
#   same for BERT-base? Set `BERTVIZ_KIT_MODEL` to a downloaded bert-base-cased
#   (docs/guide/configuration.md, "The tutorial's model and other encoders") and run this notebook again.
# * Attention showed where the word *can* take information from; the vectors
#   showed what arrived. Which one is the better evidence for "the model
#   knows the meaning"?
#
# To keep a figure for slides: `ax.figure.savefig("bat.png", dpi=200)` or
# `.svg` (docs/guide/plotting.md, "Saving figures").

# %% [markdown]
# **Route:** Previous: [13 · Scalar mix: which layers does a task draw on?](13_scalar_mix.ipynb) · [Start here](00_start_here.ipynb) · Next: [15 · How contextual is a word? Maximum explainable variance and static embeddings](15_contextuality_suite.ipynb)
