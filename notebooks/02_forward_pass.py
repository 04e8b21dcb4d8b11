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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/02_forward_pass.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 02 · One forward pass, every layer kept
#
# The tutorial ran BERT once with `output_hidden_states=True` and got a tuple
# of 13 tensors (embeddings + 12 layers), each `[batch, tokens, features]`.
# `Encoder.encode` does the same run and keeps the result per text in an
# `Encoding`: tokens, ids, word ids, character offsets, words and all hidden
# states as one tensor `[layers + 1, tokens, features]`.

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
print("input ids:", e.input_ids.tolist())

# %% [markdown]
# ## Hidden states
#
# Row 0 is the embedding layer's output (before any attention), rows 1..6 the
# transformer layers. MiniLM has 6 layers, so there are 7 rows (bert-base has 13).

# %%
print("hidden_states:", tuple(e.hidden_states.shape), "= [layers + 1, tokens, features]")
print("attentions:   ", tuple(e.attentions.shape), "= [layers, heads, tokens, tokens]")

# %% [markdown]
# ## The tutorial's own forward call, written out
#
# Under `enc.encode` is the call the tutorial made: the tokenizer's ids into the
# model with `output_hidden_states=True`, in evaluation mode and without
# gradients. It returns a tuple of `layers + 1` tensors, each
# `[batch, tokens, features]`:

# %%
inputs = enc.tokenizer(text, return_tensors="pt")
enc.model.eval()
with torch.inference_mode():
    out = enc.model(**inputs, output_hidden_states=True)
hiddens_all = out.hidden_states
print("hiddens_all: a tuple of", len(hiddens_all), "tensors, each", tuple(hiddens_all[0].shape),
      "= [batch, tokens, features]")

# %% [markdown]
# The tutorial then picked one vector with `hiddens_all[1 + layer_i][batch_i][token_i]`
# for token 5 and `layer_i = 5`. Index 0 of the tuple is the embedding output,
# so `1 + layer_i` skips it: `hiddens_all[6]` is the output of the sixth
# transformer layer (the last one in MiniLM, the sixth of twelve in
# bert-base). The kit numbers its layer axis the same way (0 = embeddings) and
# has no batch axis, so the same vector is `e.hidden_states[1 + layer_i, token_i]`:

# %%
batch_i, token_i, layer_i = 0, 5, 5   # the tutorial's choice
embed_token = hiddens_all[1 + layer_i][batch_i][token_i]
vec = e.hidden_states[1 + layer_i, token_i]
print(f"token {token_i} is {e.tokens[token_i]!r}; vector shape {tuple(vec.shape)}")
print("raw forward call and enc.encode agree within 1e-4:",
      torch.allclose(embed_token, vec, atol=1e-4, rtol=1e-4))

# %% [markdown]
# Token 5 is "the" here (it was "the" in the tutorial too, whose cased
# tokenizer split the sentence the same way up to there). Its values are
# spread around zero with a few large outliers, as the tutorial's histogram
# showed for BERT-base:

# %%
ax = bk.plot_histogram(e, token=token_i, layer=1 + layer_i, bins=80)

# %% [markdown]
# From here on we follow a more interesting token: the first "bank" (token 6).
# `plot_histogram` picks a vector by token index (`token=6`), by word index
# (`word=5`, as `bk.find` counts words) or by the word itself,
# case-insensitive, with `occurrence` choosing among repeats; the title names
# the word by its word index:

# %%
ax = bk.plot_histogram(e, word="bank", occurrence=0, layer=1 + layer_i, bins=80)

# %% [markdown]
# ## The reshape to `[tokens, layers, features]`
#
# The tutorial stacked the tuple (without the embedding output), squeezed the
# batch axis and permuted it into `[tokens, layers, features]`, so that each
# token carries its whole history through the network:

# %%
stacked = torch.stack(hiddens_all[1:], dim=0)
print("stack:  ", tuple(stacked.shape), "= [layers, batch, tokens, features]")
new_embed = torch.squeeze(stacked, dim=1)
print("squeeze:", tuple(new_embed.shape), "= [layers, tokens, features]")
new_embed = new_embed.permute(1, 0, 2)
print("permute:", tuple(new_embed.shape), "= [tokens, layers, features]")

# %% [markdown]
# `e.by_token()` is the same view, with the embedding output kept as layer 0:

# %%
by_token = e.by_token()
print("e.by_token():", tuple(by_token.shape), "= [tokens, layers + 1, features]")
print("by_token[:, 1:] equals the tutorial's reshape within 1e-4:",
      torch.allclose(by_token[:, 1:], new_embed, atol=1e-4, rtol=1e-4))

# %% [markdown]
# ## How much does a token change from layer to layer?
#
# Cosine similarity between the first "bank"'s vectors at consecutive layers.
# The first step (embeddings to layer 1) and the last step (layer 5 to 6)
# change it most; the middle layers change it little. This model's last layer
# was fine-tuned for sentence similarity, which moves every token a long way
# (notebook 06 measures that over a corpus).

# %%
bank = e.by_token()[6]              # the first "bank", every layer
steps = torch.nn.functional.cosine_similarity(bank[:-1], bank[1:], dim=-1)
print("cosine of 'bank' between layers l-1 and l, for l = 1..6:", [round(v, 2) for v in steps.tolist()])

# %% tags=["remove-cell"]
# the text above, checked: the last step changes most, the first step next, the middle ones least
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert int(steps.argmin()) == len(steps) - 1
    assert float(steps[0]) < float(steps[1:-1].min())

# %% [markdown]
# ## Attention weights
#
# With `attentions=True` the encoding also keeps every layer's attention
# weights. Each row sums to one: how much each token (row) attends to every
# other token (column).

# %%
ax = bk.plot_attention(e, layer=1, head=0)

# %%
row_sums = e.attentions[0, 0].sum(-1)
print("attention rows (layer 1, head 0) sum to 1 within 1e-5:", bool(torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-5)))

# %% [markdown]
# ## The tutorial's custom model: the encoder plus a linear head
#
# The tutorial wrapped BERT in `MyModel`: the encoder and an untrained
# `nn.Linear(768, 300)` applied to every token. `bk.EncoderWithHead` is that
# model (with MiniLM the encoder's width is 384, so the head is 384 -> 300);
# notebook 09 trains such a head for a task.

# %%
model = bk.EncoderWithHead(enc, out_features=300, seed=0)
print(model.head)
with torch.inference_mode():
    projected, last_hidden, all_hidden = model(**inputs)
print("projected:", tuple(projected.shape), "| last_hidden:", tuple(last_hidden.shape),
      "| all_hidden:", len(all_hidden), "tensors")

# %% [markdown]
# **Route:** Previous: [01 · Set-up and loading](01_setup_and_loading.ipynb) · [Start here](00_start_here.ipynb) · Next: [03 · Word and sentence vectors](03_word_and_sentence_vectors.ipynb)
