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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/05_explorer.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 05 · Interactive explorer
#
# Pick a token, a layer, how layers combine and how sub-words pool: the value
# histogram, the word-similarity heatmap and the per-layer curves update
# together. The controls only slice the hidden states stored in the
# `Encoding`; the model runs once, when the text is encoded (or when you type
# a new sentence in the text box and press Enter). Further down, the same
# explorer with two more panels (word attention and the lens) and how to save
# what it shows.
#
# Run all cells, then use the controls below the next cell.

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
# the figure without widgets (for a report):

# %%
# NBVAL_IGNORE_OUTPUT
explorer.set(word="bank", occurrence=1, layer=2, layers="slider")

# %%
print(explorer)

# %% tags=["remove-cell"]
# the text above, checked: word 9 is the second "bank", numbered as bk.find and e.words number it
assert bk.find(e, "bank")[1] == 9 and e.words[9] == "bank"
assert explorer.state["token"] == e.word_ids.index(9) and explorer.state["layer"] == 2

# %%
fig = explorer.render()

# %% tags=["remove-cell"]
# the text above, checked: the heatmap's colour scale is fixed from 0 to 1
assert [im.get_clim() for ax in fig.axes for im in ax.images] == [(0.0, 1.0)]

# %% [markdown]
# ## More panels: word attention and the lens
#
# The figure is made of panels, chosen with `panels=` (up to three a row):
# `"histogram"`, `"heatmap"` and `"curves"` (the default), plus
#
# * `"attention"`: attention between words at the slider's layer (word-level
#   attention as `bk.word_attention`: attention *to* a split word summed over
#   its pieces, *from* it averaged), the selected word's row outlined. It
#   needs attention weights, so encode with `attentions=True`. Two more
#   controls appear: **head** (one head, or the mean of the layer's heads)
#   and **level** (words or word pieces).
# * `"lens"`: `bk.lens` on the selected token, the vocabulary items closest to
#   its hidden state at every layer (cosine to the input embeddings: the
#   bundled model has no masked-LM head), the true token in bold and its rank
#   in the row labels. It needs the encoder.
#
# A change recomputes and redraws only the panels that depend on it: a head
# change touches the attention panel alone, a layer change leaves the lens
# alone.

# %%
e_att = enc.encode(text, attentions=True)
explorer5 = bk.explore(e_att, enc, token="bank", layer=3,
                       panels=("histogram", "heatmap", "curves", "attention", "lens"))

# %%
# NBVAL_IGNORE_OUTPUT
explorer5

# %% [markdown]
# What a panel shows is there for code too (`data(name)`): the attention map
# of the river "bank" at layer 4, averaged over heads, and the lens on it.

# %%
# NBVAL_IGNORE_OUTPUT
explorer5.set(word="bank", occurrence=2, layer=4, head="mean")

# %%
print(explorer5)
att = explorer5.data("attention")
row = att["matrix"][att["query"]]
top = row.argsort(descending=True)[:3].tolist()
print(att["title"], tuple(att["matrix"].shape))
print("the river 'bank' attends most to:", [(att["labels"][j], round(float(row[j]), 2)) for j in top])
lens = explorer5.data("lens")["result"]
print("lens, last layer:", lens.tokens[-1][:4], "rank of 'bank' per layer:", lens.rank.tolist())

# %% tags=["remove-cell"]
# the text above, checked: the river "bank" (occurrence 2), layer 4, the mean of the heads
w5 = e_att.word_ids[explorer5.state["token"]]
assert w5 == bk.find(e_att, "bank")[2] and e_att.words[w5 - 1] == "river"
assert f"layer 4, mean of {e_att.attentions.shape[1]} heads" in att["title"]

# %% [markdown]
# ## Saving the view
#
# `save(path)` writes what the explorer shows, the format taken from the
# suffix: `.png` (150 dpi by default, `dpi=` to change), `.svg` or `.pdf`
# (text and lines stay vectors). In the widget, the **save** button turns
# the view into a download link for the file name in the box next to it
# (its suffix picks the format): the browser saves the file, in JupyterLab
# and in a Voila app alike.

# %%
import tempfile
from pathlib import Path

folder = Path(tempfile.mkdtemp())
for name in ("view.png", "view.svg", "view.pdf"):
    path = explorer5.save(folder / name)
    print(f"{path.name}: starts with {path.read_bytes()[:5]!r} (the {path.suffix[1:].upper()} file signature)")

# %% tags=["remove-cell"]
# the text above, checked: each format's signature; the PNG at 150 dpi by default
from PIL import Image

assert [(folder / n).read_bytes()[:4] for n in ("view.png", "view.svg", "view.pdf")] == [b"\x89PNG", b"<?xm", b"%PDF"]
with Image.open(folder / "view.png") as png:
    assert [round(d) for d in png.info["dpi"]] == [150, 150]

# %%
fig = explorer5.render()

# %% [markdown]
# **Route:** Previous: [04 · Case study: three "bank"s](04_bank_case_study.ipynb) · [Start here](00_start_here.ipynb) · Next: [06 · How contextual are the vectors? Self-similarity, intra-similarity, anisotropy](06_contextuality.ipynb)
