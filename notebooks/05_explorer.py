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
# # 05 · Interactive explorer
#
# Pick a token, a layer, how layers combine and how sub-words pool: the value
# histogram, the word-similarity heatmap and the per-layer curves update
# together. The controls only slice the hidden states stored in the
# `Encoding`; the model runs once, when the text is encoded (or when you type
# a new sentence in the text box and press Enter).
#
# Run all cells, then use the controls below the next cell.

# %%
import bertviz_kit as bk

enc = bk.load(device="cpu")
text = ("After stealing money from the bank vault, the bank robber was seen "
        "fishing on the Mississippi river bank.")
e = enc.encode(text)
explorer = bk.explore(e, enc, token="bank", layer=3)   # the first "bank"; dpi=120 for a projector

# %%
# NBVAL_IGNORE_OUTPUT
explorer

# %% [markdown]
# * **word**: the word (for a split word, one of its pieces) whose values the
#   histogram shows, outlined in the heatmap and compared across layers on
#   the right. Words are numbered as `bk.find` and `e.words` number them, in
#   the menu, the titles and the heatmap labels alike (`9: bank` is word 9).
# * **layer**: the layer of the histogram (0 = embeddings); the dashed line in
#   the right panel.
# * **layers**: how the heatmap's word vectors combine layers (`slider` uses
#   the slider's layer).
# * **subwords**: how word pieces pool into words.
#
# * The heatmap's colour scale is fixed from 0 to 1 while you move through
#   layers; cosines below 0 would be drawn in the darkest colour (the pointed
#   end of the colour bar).
#
# The same selection can be set from code (a word and its occurrence, a word
# index or a token index, as everywhere in the package), and `render()` draws
# the figure without widgets (for a report, or to save it with
# `fig.savefig("explorer.png", dpi=200)`):

# %%
# NBVAL_IGNORE_OUTPUT
explorer.set(word="bank", occurrence=1, layer=2, layers="slider")

# %%
print(explorer)

# %%
fig = explorer.render()
