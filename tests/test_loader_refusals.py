"""The loader refuses what it cannot use correctly, and says what is missing."""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import make_tiny_model

import bertviz_kit as bk


def _copy(src, dst, keep):
    dst.mkdir()
    for f in src.iterdir():
        if keep(f.name):
            shutil.copy(f, dst / f.name)
    return dst


@pytest.fixture()
def folder(tiny_path, tmp_path):
    from pathlib import Path

    return Path(tiny_path)


def test_empty_folder_says_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match=r"has no config.json.*save_pretrained") as info:
        bk.load(tmp_path / "empty")
    assert "sentencepiece" not in str(info.value) and "use_safetensors" not in str(info.value)


def test_model_without_tokenizer_files_is_refused(folder, tmp_path):
    bare = _copy(folder, tmp_path / "bare", lambda n: n in ("config.json", "model.safetensors"))
    with pytest.raises(OSError, match=r"has no tokenizer files .*tokenizer.save_pretrained.*tokenizer="):
        bk.load(bare)
    enc = bk.load(bare, tokenizer=folder)  # a tokenizer from elsewhere
    assert enc.encode("the bank").tokens == ("[CLS]", "the", "bank", "[SEP]")


def test_folder_without_weights_names_them_without_lowering_safety(folder, tmp_path):
    none = _copy(folder, tmp_path / "noweights", lambda n: not n.endswith((".safetensors", ".bin")))
    with pytest.raises(OSError, match=r"has no weights \(model.safetensors; it holds config.json") as info:
        bk.load(none)
    assert "use_safetensors=False" not in str(info.value)
    pickled = _copy(folder, tmp_path / "pickled", lambda n: not n.endswith(".safetensors"))
    torch.save({}, pickled / "pytorch_model.bin")
    with pytest.raises(OSError, match="use_safetensors=False"):  # only where pickled weights are there
        bk.load(pickled)


def test_truncated_weights_are_named(folder, tmp_path):
    cut = _copy(folder, tmp_path / "cut", lambda n: True)
    data = (cut / "model.safetensors").read_bytes()
    (cut / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=r"model.safetensors.*(damaged|truncated)"):
        bk.load(cut)


def test_vocabulary_larger_than_embeddings_is_refused_at_load(folder, tmp_path):
    small = make_tiny_model(tmp_path / "small")
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(small)
    config.vocab_size = 20  # fewer rows than the tokenizer has ids
    torch.manual_seed(0)
    BertModel(config).save_pretrained(small)
    with pytest.raises(ValueError, match=r"tokenizer has \d+ tokens but the model's embedding table has 20 rows"):
        bk.load(small)
