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
# # 09 · Which layer knows what? Probes, and the custom head trained for a task
#
# "Which layer gives the best representation depends on the task." A **probe**
# makes that measurable: train a simple classifier on each layer's vectors and
# compare its held-out accuracy across layers. `bk.probe_layers` uses a
# scikit-learn pipeline (`StandardScaler` + `LogisticRegression`) scored with
# 5-fold `StratifiedKFold` cross-validation, all seeded.
#
# Then we do what the tutorial promised for "later": freeze the encoder and
# train the custom model's head (`bk.EncoderWithHead`) for the task.
#
# Data: *sentence polarity dataset v1.0 by Bo Pang and Lillian Lee, CC BY 4.0*
# (movie-review snippets labelled positive or negative), shipped inside the
# package as `bk.datasets.sentence_polarity`; here the first 150 of each class.

# %%
import matplotlib.pyplot as plt
import torch

import bertviz_kit as bk

texts, labels = bk.datasets.sentence_polarity(per_class=150, order="grouped")
enc = bk.load(device="cpu")
print(len(texts), "sentences:", labels.count("positive"), "positive,", labels.count("negative"), "negative")

# %%
# NBVAL_IGNORE_OUTPUT
es = enc.encode(texts, progress=True)

# %% [markdown]
# ## Polarity, layer by layer
#
# Sentence vectors of every layer (`bk.layer_sentence_vectors`: mean over the
# words, or the `[CLS]` vector), one probe per layer:

# %%
mean_probe = bk.probe_layers(es, labels, cv=5, seed=0, pooling="mean")
cls_probe = bk.probe_layers(es, labels, cv=5, seed=0, pooling="cls")
print(mean_probe)
print(cls_probe)
print("accuracy +- std over folds, mean pooling:")
print(" ".join(f"L{k}: {m:.3f}+-{s:.3f}" for k, m, s in
               zip(mean_probe.layer_ids, mean_probe.mean.tolist(), mean_probe.std.tolist())))

# %%
ax = bk.plot_probe({"mean of words": mean_probe, "[CLS]": cls_probe},
                   title="polarity probe on 300 sentences (5-fold CV)")

# %% [markdown]
# * Even the embedding layer (0) beats chance (0.50): a bag of word
#   embeddings already knows that "tedious" is bad and "gorgeous" good.
# * The middle-upper layers read best: context has resolved phrases like "not
#   funny" or "too tepid". The top layer is slightly worse: this model's last
#   layer is tuned for sentence similarity, not sentiment.
# * `[CLS]` at layer 0 is the same vector for every sentence (the `[CLS]`
#   embedding plus position 0): exactly chance. From layer 1 on it gathers
#   information from the sentence, but stays behind mean pooling, because
#   this model was never trained to put a summary into `[CLS]`.
# * The folds differ by a few points (the band is ±1 std): with 300
#   sentences, differences of 0.02 between layers are within the noise.
#
# ## A word-level probe: the sense of "bank"
#
# `probe_layers` also takes any `[layers, n, dim]` stack, for example the
# vectors of one word's occurrences. Which layers tell the two senses of "bank"
# apart?

# %%
money, river = list(bk.BANK_SENSES["money"]), list(bk.BANK_SENSES["river"])  # ten sentences each
bank_es = enc.encode(money + river)
stack = bk.layer_occurrence_vectors(bank_es, "bank")
senses = ["money"] * len(money) + ["river"] * len(river)
sense_probe = bk.probe_layers(stack, senses, cv=5, seed=0)
print(tuple(stack.shape), sense_probe)
ax = bk.plot_probe(sense_probe, title="'bank': money or river? (20 occurrences, 5-fold CV)")

# %% [markdown]
# At layer 0 "bank" has the same vector in every sentence except for its
# position embedding, yet the probe is right 17 times in 20: in these
# sentences the money "bank" tends to come early and the river "bank" late,
# and the probe uses whatever cue there is (a reminder to check what a probe
# could be reading). From layer 1 on the vector has taken in the context and
# the senses separate almost perfectly. (Twenty examples are few: this shows
# where sense information appears, not how well a classifier would
# generalize.)
#
# ## Training the custom head on a frozen encoder
#
# The tutorial's `MyModel` is an encoder plus a linear head. Here the head
# maps the frozen encoder's sentence vector (last layer, mean of the words) to
# two logits, positive and negative. `fit_head` runs the encoder once, then
# trains only the head (Adam, cross-entropy, seeded). Training and test
# sentences are disjoint: 400 to train on, 200 held out.

# %%
corpus = bk.datasets.sentence_polarity(order="grouped")
pos = [t for t, y in zip(corpus.texts, corpus.labels) if y == "positive"]
neg = [t for t, y in zip(corpus.texts, corpus.labels) if y == "negative"]
train_texts = pos[1000:1200] + neg[1000:1200]
train_labels = ["positive"] * 200 + ["negative"] * 200
test_texts = pos[2000:2100] + neg[2000:2100]
test_labels = ["positive"] * 100 + ["negative"] * 100
model = bk.EncoderWithHead(enc, out_features=2, freeze_encoder=True, seed=0)
print("trainable parameters:", sum(p.numel() for p in model.parameters() if p.requires_grad),
      "(the head:", model.in_features, "x", model.out_features, "+ bias)")

# %%
# NBVAL_IGNORE_OUTPUT
losses = model.fit_head(train_texts, train_labels, epochs=100, lr=0.01, weight_decay=1e-3,
                        seed=0, progress=True)

# %%
print("classes:", model.classes_)
print(f"training loss: epoch 1 {losses[0]:.3f}, epoch {len(losses)} {losses[-1]:.3f}")
print(f"train accuracy    {model.score(train_texts, train_labels):.3f}")
print(f"held-out accuracy {model.score(test_texts, test_labels):.3f}")

# %% [markdown]
# About three held-out reviews in four are classified correctly by a linear
# head on top of a frozen sentence-similarity encoder, in line with the probe
# of the last layer above (0.69 with 240 training sentences per fold; the head
# had 400). A probe is exactly such a linear read-out. The gap between train
# and held-out accuracy shows the head fits its 400 sentences much better
# than it generalizes; more data, more weight decay, a middle layer (the probe
# peaked at layer 5) or fine-tuning the encoder would help.
#
# ## What the head did to the vectors
#
# Left: the frozen encoder's sentence vectors of the held-out reviews (PCA of
# their 384 dimensions). Right: what the head makes of them. Its output is two
# logits, one per class, and the predicted class is the larger one, so the
# head's verdict is a single number, the **margin** `logit(positive) -
# logit(negative)`: above 0 means "positive". That number is drawn as what it
# is, one dimension: a histogram per true label, the decision threshold at 0.
# (Two logits of a two-class head move in opposite directions, so a 2-D
# scatter or a PCA of them would only draw one line.)

# %%
frozen = model.sentence_features(test_texts)
logits = model.transform(test_texts)
pos, neg = model.classes_.index("positive"), model.classes_.index("negative")
margin = logits[:, pos] - logits[:, neg]
is_pos = torch.tensor([y == "positive" for y in test_labels])
print(tuple(frozen.shape), "->", tuple(logits.shape), "-> margin", tuple(margin.shape))
print(f"margin > 0 for {int((margin[is_pos] > 0).sum())} of {int(is_pos.sum())} positive and "
      f"{int((margin[~is_pos] > 0).sum())} of {int((~is_pos).sum())} negative held-out reviews")
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
bk.plot_projection(frozen, test_labels, legend_title="true label",
                   title="held-out reviews: frozen encoder", ax=axes[0])
bins = torch.linspace(float(margin.min()), float(margin.max()), 31).numpy()
for label, mask, color in (("positive", is_pos, "tab:blue"), ("negative", ~is_pos, "tab:orange")):
    ax = bk.plot_histogram(margin[mask], bins=bins, color=color, alpha=0.6, label=f"true: {label}",
                           ax=axes[1], title="held-out reviews: after the trained head")
ax.axvline(0, color="black", linestyle="--", linewidth=1, label="decision threshold")
ax.set_xlabel("margin: logit(positive) - logit(negative)")
ax.set_ylabel("reviews")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Before the head, polarity is one of hundreds of directions and the two
# classes overlap in the top principal components (together under 10% of the
# variance). The trained head picks out the direction that separates them:
# most positive reviews get a margin above 0 and most negative ones below,
# and the reviews on the wrong side of the dashed line are the held-out
# errors.
