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
# # 02 · One forward pass, every layer kept
#
# The tutorial ran BERT once with `output_hidden_states=True` and got a tuple
# of 13 tensors (embeddings + 12 layers), each `[batch, tokens, features]`.
# `Encoder.encode` does the same run and keeps the result per text in an
# `Encoding`: tokens, ids, word ids, character offsets, words and all hidden
# states as one tensor `[layers + 1, tokens, features]`.

# %%
import torch

import bertviz_kit as bk

enc = bk.load(device="cpu")
text = ("After stealing money from the bank vault, the bank robber was seen "
        "fishing on the Mississippi river bank.")
e = enc.encode(text, attentions=True)
e

# %% [markdown]
# ## Tokens
#
# The uncased WordPiece tokenizer lower-cases the text, splits off punctuation
# and adds `[CLS]` and `[SEP]`. `word_ids` maps each token to its word
# (`None` for the special tokens); `offsets` gives each token's characters.

# %%
for i, (tok, wid, (s, t)) in enumerate(zip(e.tokens, e.word_ids, e.offsets)):
    print(f"{i:2d}  {tok:12s} word={wid!s:4s} chars={s:3d}:{t:<3d} {e.text[s:t]!r}")

# %%
print(e.input_ids.tolist())

# %% [markdown]
# ## Hidden states
#
# Row 0 is the embedding layer's output (before any attention), rows 1..6 the
# transformer layers. MiniLM has 6 layers, so there are 7 rows (bert-base has 13).

# %%
print("hidden_states:", tuple(e.hidden_states.shape), "= [layers + 1, tokens, features]")
print("attentions:   ", tuple(e.attentions.shape), "= [layers, heads, tokens, tokens]")

# %% [markdown]
# The tutorial picked one vector with `hiddens_all[1 + layer_i][batch_i][token_i]`.
# The layer axis is numbered the same way here (0 = embeddings) and there is no
# batch axis, so the same vector is:

# %%
token_i, layer_i = 6, 4   # the first "bank", layer 5
vec = e.hidden_states[1 + layer_i, token_i]
print(e.tokens[token_i], tuple(vec.shape))

# %% [markdown]
# Its values are spread around zero with a few large outliers, as the
# tutorial's histogram showed for BERT-base. `plot_histogram` picks the
# vector by token index (`token=6`), by word index (`word=5`, as `bk.find`
# counts words) or by the word itself, case-insensitive, with `occurrence`
# choosing among repeats; the title names the word by its word index:

# %%
ax = bk.plot_histogram(e, word="bank", occurrence=0, layer=1 + layer_i, bins=80)

# %% [markdown]
# ## The reshape to `[tokens, layers, features]`
#
# The tutorial stacked the tuple, squeezed the batch axis and permuted it into
# `[tokens, layers, features]` so that each token carries its whole history
# through the network. `e.by_token()` is that view:

# %%
by_token = e.by_token()
print(tuple(by_token.shape))
print(torch.equal(by_token[token_i, 1 + layer_i], vec))

# %% [markdown]
# ## How much does a token change from layer to layer?
#
# Cosine similarity between a token's vector at consecutive layers. The first
# step (embeddings to layer 1) changes vectors most; later layers refine them.

# %%
bank = e.by_token()[token_i]              # the first "bank", every layer
steps = torch.nn.functional.cosine_similarity(bank[:-1], bank[1:], dim=-1)
print("layer l-1 -> l cosine for 'bank':", [round(v, 3) for v in steps.tolist()])

# %% [markdown]
# ## Attention weights
#
# With `attentions=True` the encoding also keeps every layer's attention
# weights. Each row sums to one: how much each token (row) attends to every
# other token (column).

# %%
ax = bk.plot_attention(e, layer=1, head=0)

# %%
print(round(float(e.attentions[0, 0].sum(-1).mean()), 4))

# %% [markdown]
# Next: [03 · word and sentence vectors](03_word_and_sentence_vectors.ipynb).
