"""Shared fixtures: a tiny random BERT built here (no downloads) and the bundled model."""

from __future__ import annotations

import os
import string

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The tests know which model they load: a default model chosen by the shell (BERTVIZ_KIT_MODEL)
# would change what bk.load() returns. Tests that need the variable set it themselves.
os.environ.pop("BERTVIZ_KIT_MODEL", None)

import bertviz_kit as bk  # noqa: E402

BANK_TEXT = (
    "After stealing money from the bank vault, the bank robber was seen "
    "fishing on the Mississippi river bank."
)

WORDS = (
    "after stealing money from the bank vault the robber was seen fishing on "
    "mississippi river a an and of to in is it this that hello world good bad"
).split()


def tiny_vocab() -> list[str]:
    """Specials, whole words, and single characters (as starts and as ##pieces)."""
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += chars + ["##" + c for c in string.ascii_lowercase + string.digits]
    vocab += [w for w in WORDS if w not in vocab]
    vocab += ["rob", "##ber", "##s", "##ing"]
    return vocab


def make_tiny_model(folder, *, n_layers: int = 3, hidden: int = 32, heads: int = 4,
                    max_positions: int = 64, seed: int = 0) -> str:
    """Write a randomly initialized BERT + fast tokenizer to ``folder``; return its path."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    vocab = {t: i for i, t in enumerate(tiny_vocab())}
    tok = BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=max_positions)
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tiny_vocab()), hidden_size=hidden, num_hidden_layers=n_layers,
        num_attention_heads=heads, intermediate_size=2 * hidden,
        max_position_embeddings=max_positions,
    )
    model = BertModel(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> str:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny(tiny_path) -> bk.Encoder:
    return bk.load(tiny_path, device="cpu")


@pytest.fixture(scope="session")
def tiny_bank(tiny) -> bk.Encoding:
    return tiny.encode(BANK_TEXT, attentions=True)


@pytest.fixture(scope="session")
def minilm() -> bk.Encoder:
    return bk.load(device="cpu")


@pytest.fixture(scope="session")
def bank(minilm) -> bk.Encoding:
    return minilm.encode(BANK_TEXT, attentions=True)


def staged_pixels_off(x) -> int:
    """Pixels where an explorer's canvas after staged redraws differs from a full draw of the same
    figure (0: no stale pixels). ``x`` has been drawn with ``to_png`` at least once."""
    import matplotlib.pyplot as plt
    import numpy as np

    from bertviz_kit.explorer import widget

    fig = x._fig
    staged = np.asarray(fig.canvas.buffer_rgba()).astype(int)
    for artist in fig.findobj():
        artist.set_animated(False)
    with plt.rc_context(widget._RC):
        fig.canvas.draw()
    full = np.asarray(fig.canvas.buffer_rgba()).astype(int)
    diff = np.abs(staged - full).max(axis=-1)
    return int((diff > 40).sum())
