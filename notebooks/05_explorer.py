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
explorer = bk.explore(e, enc, token=6, layer=3)

# %%
# NBVAL_IGNORE_OUTPUT
explorer

# %% [markdown]
# * **token**: the token whose values the histogram shows, and whose word is
#   outlined in the heatmap and compared across layers on the right.
# * **layer**: the layer of the histogram (0 = embeddings); the dashed line in
#   the right panel.
# * **layers**: how the heatmap's word vectors combine layers (`slider` uses
#   the slider's layer).
# * **subwords**: how word pieces pool into words.
#
# The same selection can be set from code, and `render()` draws the figure
# without widgets (for a report, or to save it):

# %%
# NBVAL_IGNORE_OUTPUT
explorer.set(token=10, layer=2, layers="slider")

# %%
print(explorer)

# %%
explorer.render()
