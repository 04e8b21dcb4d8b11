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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/00_start_here.ipynb)
#
# # 00 · Start here: a 90-minute class on what is inside BERT
#
# These notebooks reproduce and extend the classic tutorial "How to use BERT
# in PyTorch": run the encoder once, keep every layer, then look at the
# vectors, compare them, and see where a word's meaning appears. Every
# notebook runs on the small model that ships with the package
# (all-MiniLM-L6-v2: a BERT with 6 layers and 384 dimensions) on a laptop CPU,
# with no download at run time.
#
# **Before the class** (students): open this notebook in Colab from the link
# above and run the cell below, or install locally:
#
# ```bash
# pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu   # CPU torch first
# pip install "bertviz-kit[widgets]"
# ```
#
# If the cell below prints the model, you are ready.

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
print(enc)

# %% [markdown]
# ## The route: 90 minutes
#
# | time | notebook | what it teaches | needs |
# |---|---|---|---|
# | 0-15 | [02 · one forward pass](02_forward_pass.ipynb) | tokens, the 7 (or 13) hidden states, the tutorial's `[tokens, layers, features]` reshape, a value histogram | nothing |
# | 15-35 | [04 · three "bank"s](04_bank_case_study.ipynb) | word vectors from the last four layers, cosine similarity, in which layers the two senses separate | 02 |
# | 35-50 | [08 · attention](08_attention.ipynb) | attention maps per layer and head, what they can and cannot show | 02 |
# | 50-90 | [14 · exercises](14_exercises.ipynb) | students pick their own ambiguous word and repeat the analysis, with answer checks | 02, 04 |
#
# With more time: [03 · word and sentence vectors](03_word_and_sentence_vectors.ipynb)
# between 02 and 04, and [05 · the explorer](05_explorer.ipynb) (token, layer and
# pooling picked with widgets) after 04.
#
# ## All notebooks
#
# **Introduction** (in order, each builds on the one before):
# [01 · set-up and loading](01_setup_and_loading.ipynb),
# [02 · forward pass](02_forward_pass.ipynb),
# [03 · word and sentence vectors](03_word_and_sentence_vectors.ipynb),
# [04 · the bank case study](04_bank_case_study.ipynb),
# [05 · the explorer](05_explorer.ipynb),
# [06 · contextuality](06_contextuality.ipynb),
# [07 · projections](07_projections.ipynb),
# [08 · attention](08_attention.ipynb),
# [09 · probes and a trained head](09_probing_and_head.ipynb),
# [10 · attention analysis](10_attention_analysis.ipynb),
# [14 · exercises](14_exercises.ipynb),
# [16 · lens and nearest contexts](16_lens_and_search.ipynb),
# [17 · inside a layer: the embedding sum, one head by hand, the feed-forward block](17_inside_a_layer.ipynb).
#
# **Research** (methods from the literature, with their caveats; read after
# 06 and 09):
# [11 · CKA between layers](11_cka.ipynb),
# [12 · word-level probes with control tasks](12_ud_probing_control_tasks.ipynb),
# [13 · scalar mix](13_scalar_mix.ipynb),
# [15 · maximum explainable variance and static embeddings](15_contextuality_suite.ipynb),
# [18 · context mixing beyond attention weights](18_context_mixing.ipynb).
#
# Every notebook opens in Colab from the link in its first cell, installs
# what it needs there, and ends with links to the previous and next one.

# %% [markdown]
# **Route:** Next: [01 · Set-up and loading](01_setup_and_loading.ipynb)
