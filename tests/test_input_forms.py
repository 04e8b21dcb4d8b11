"""Input forms at the edges: text files, CLI options, model names, settings files.

Each case here was a defect: a file split at Unicode separators into more texts than lines, a
Latin-1 file's decode error naming neither file nor fix, `--save` onto a folder, a bad `--token`
naming no option, Hub names like "..", an interrupted sharded download taken as complete, an
empty folder left after a failed download, and a YAML alias bomb.
"""

from __future__ import annotations

import json
import shutil

import huggingface_hub
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bertviz_kit as bk
from bertviz_kit._validation import InvalidParameterError
from bertviz_kit.cli import main, read_lines

# every character str.splitlines() treats as a line boundary, besides "\n" and "\r"
SEPARATORS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
                        max_size=12) | st.sampled_from(SEPARATORS), min_size=1, max_size=8),
       st.booleans(), st.booleans())
def test_read_lines_splits_at_line_feeds_only(tmp_path_factory, lines, crlf, final_newline):
    path = tmp_path_factory.mktemp("lines") / "texts.txt"
    text = ("\r\n" if crlf else "\n").join(lines) + (("\r\n" if crlf else "\n") if final_newline else "")
    path.write_bytes(text.encode("utf-8"))
    # without a final newline, a last empty line is no line at all ("a\n" and "a\n\n"[:-1] read alike)
    expected = lines[:-1] if (not final_newline and lines[-1] == "") else lines
    assert read_lines(path) == expected


def test_a_file_with_unicode_separators_gives_one_text_a_line(tiny_path, tmp_path, capsys):
    path = tmp_path / "texts.txt"
    path.write_text("one\x0ctwo\nthree\u2028four\nfive\x1csix\nseven\x85eight\nnine\n", encoding="utf-8")
    assert main(["--model", str(tiny_path), "encode", "--file", str(path)]) == 0
    assert len([ln for ln in capsys.readouterr().out.splitlines() if "tokens" in ln]) == 5
    store = tmp_path / "store"
    assert main(["--model", str(tiny_path), "extract", str(path), str(store)]) == 0
    assert len(bk.open_store(store)) == 5


def test_a_latin1_file_is_refused_naming_the_file_and_the_fix(tiny_path, tmp_path, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café\n".encode("latin-1"))
    for argv in (["encode", "--file", str(path)], ["extract", str(path), str(tmp_path / "s")]):
        assert main(["--model", str(tiny_path), *argv]) == 2
        err = capsys.readouterr().err
        assert "latin1.txt" in err and "not UTF-8" in err and "0xe9" in err and "iconv" in err


def test_save_onto_a_folder_is_refused_before_encoding(tiny_path, tmp_path, capsys):
    assert main(["--model", str(tiny_path), "encode", "a text", "--save", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--save" in err and "is a folder" in err and "vectors.pt" in err and "Traceback" not in err


@pytest.mark.parametrize("token", ["99", "nosuchword"])
def test_a_bad_token_names_the_option(tiny_path, tmp_path, capsys, token):
    assert main(["--model", str(tiny_path), "demo", "--token", token, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: --token: ")


@pytest.mark.parametrize("name", ["..", ".", "org/..", "../x", "a\x00b", "org/name/extra", "-x", "x-", "a..b",
                                  "a--b", "", " bert", "bert ", "org/", "/name", "naïve"])
def test_download_refuses_names_that_are_not_hub_names(name, tmp_path):
    with pytest.raises(InvalidParameterError, match="name must be a Hugging Face model name"):
        bk.download(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["bert-base-cased", "google-bert/bert-base-cased", "org_1/m.v2", "a"])
def test_download_accepts_hub_names(name, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # stops right after the name is accepted
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        bk.download(name, tmp_path)


def _sharded_copy(tiny_path, folder, with_all_shards):
    shutil.copytree(tiny_path, folder)
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                            "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    if with_all_shards:
        shutil.copy(folder / "model-00001-of-00002.safetensors", folder / "model-00002-of-00002.safetensors")


def test_an_interrupted_sharded_download_is_not_taken_as_complete(tiny_path, tmp_path, monkeypatch):
    from bertviz_kit.loading import _is_complete

    _sharded_copy(tiny_path, tmp_path / "models" / "m", with_all_shards=False)
    assert not _is_complete(tmp_path / "models" / "m")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # so download() must try to fetch the missing shard
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        bk.download("org/m", tmp_path / "models")
    _sharded_copy(tiny_path, tmp_path / "other" / "m", with_all_shards=True)
    assert _is_complete(tmp_path / "other" / "m")
    assert bk.download("org/m", tmp_path / "other") == str(tmp_path / "other" / "m")  # complete: nothing fetched


def test_a_failed_download_leaves_no_folder_it_made(tmp_path, monkeypatch):
    def fail(**kwargs):
        (tmp_path / "models" / "m" / "config.json").write_text("{}")  # a partial fetch
        raise OSError("connection reset")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: fail(**kw))
    with pytest.raises(OSError, match="could not download 'org/m'"):
        bk.download("org/m", tmp_path / "models")
    assert not (tmp_path / "models" / "m").exists()
    kept = tmp_path / "models" / "kept"  # a folder that was there before is left as it was
    kept.mkdir()
    (kept / "note.txt").write_text("mine")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: (_ for _ in ()).throw(OSError("x")))
    with pytest.raises(OSError):
        bk.download("org/kept", tmp_path / "models")
    assert (kept / "note.txt").read_text() == "mine"


def test_a_yaml_alias_bomb_is_refused_with_a_short_message(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + k)}: &{chr(98 + k)} [{', '.join(['*' + chr(97 + k)] * 9)}]\n" for k in range(6))
    path = tmp_path / "bomb.yml"
    path.write_text(bomb)
    with pytest.raises(InvalidParameterError, match="aliases") as info:
        bk.read_settings(path)
    assert len(str(info.value)) < 400


def test_a_settings_file_that_is_not_utf8_names_itself(tmp_path):
    path = tmp_path / "settings.yml"
    path.write_bytes("model: café\n".encode("latin-1"))
    with pytest.raises(InvalidParameterError, match=r"settings\.yml.*not UTF-8"):
        bk.read_settings(path)


# -- sequences of texts, labels, spans -------------------------------------------------------

class _Series:  # what pandas offers: tolist()
    def __init__(self, values):
        self.values = values

    def tolist(self):
        return list(self.values)


@pytest.mark.parametrize("make", [list, tuple, lambda t: __import__("numpy").array(t), _Series],
                         ids=["list", "tuple", "numpy", "series"])
def test_encode_and_extract_take_the_same_sequences_of_texts(tiny, tmp_path, make):
    import torch

    texts = ["the bank", "", "a river bank"]
    es = tiny.encode(make(texts))
    store = bk.extract(tiny, make(texts), tmp_path / "s", dtype="float32", progress=False)
    assert len(store) == 3 and [store[i].text for i in range(3)] == texts
    assert torch.equal(store[2].hidden_states, es[2].hidden_states)


@pytest.mark.parametrize("bad", [__import__("numpy").array([1, 2]), ["ok", 3], "one text", b"bytes"])
def test_encode_and_extract_refuse_the_same_non_texts(tiny, tmp_path, bad):
    if not isinstance(bad, str):
        with pytest.raises(InvalidParameterError, match="texts"):
            tiny.encode(bad)
    with pytest.raises(InvalidParameterError, match="texts"):
        bk.extract(tiny, bad, tmp_path / "s", progress=False)


def _x(n=8):
    import torch

    return torch.randn(2, n, 4, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("labels", "first", "second"), [
    ([1, "1", 2, "2"] * 2, "labels\\[0\\] is 1 \\(number\\)", "labels\\[1\\] is '1' \\(str\\)"),
    ([True, 1, False, 0] * 2, "labels\\[0\\] is True \\(bool\\)", "labels\\[1\\] is 1 \\(number\\)"),
    (["a", "b", "a", 2] * 2, "labels\\[0\\] is 'a' \\(str\\)", "labels\\[3\\] is 2 \\(number\\)"),
])
def test_probe_labels_of_mixed_types_are_refused(labels, first, second):
    with pytest.raises(InvalidParameterError, match=f"{first} and {second}"):
        bk.probe_layers(_x(), labels, cv=2)
    with pytest.raises(InvalidParameterError, match="mix kinds"):
        bk.scalar_mix_probe(_x(), labels)


@pytest.mark.parametrize("missing", [float("nan"), None, __import__("numpy").float32("nan")])
def test_missing_probe_labels_are_named_by_index(missing):
    import numpy as np

    labels = [0, 1] * 4
    labels[5] = missing
    with pytest.raises(InvalidParameterError, match=r"labels\[5\] is (NaN|None), a missing label"):
        bk.probe_layers(_x(), labels, cv=2)
    arr = np.array([0.0, 1.0] * 4)
    arr[6] = np.nan
    with pytest.raises(InvalidParameterError, match=r"labels\[6\] is NaN"):
        bk.probe_layers(_x(), arr, cv=2)
    with pytest.raises(InvalidParameterError, match=r"groups\[5\] is"):
        bk.probe_layers(_x(), [0, 1] * 4, groups=labels, cv=2)


@pytest.mark.parametrize("labels", [[0, 1] * 4, [0.0, 1.0] * 4, [0, 1.0] * 4, ["a", "b"] * 4,
                                    __import__("numpy").array([0, 1] * 4), __import__("numpy").array(["x", "y"] * 4)])
def test_labels_of_one_kind_still_work(labels):
    assert bk.probe_layers(_x(), labels, cv=2).mean.shape == (2,)


@pytest.mark.parametrize("span", [(4, 100), (0, 18), (17, 18), (-1, 3), (5, 5)])
def test_a_character_span_outside_the_text_is_refused_everywhere(tiny, span):
    e = tiny.encode("the bank was good")  # 17 characters
    corpus = tiny.encode(["a bank", "the river"])
    with pytest.raises(InvalidParameterError, match=r"span must satisfy 0 <= char_start < char_end <= 17"):
        bk.span_vector(e, span)
    with pytest.raises(InvalidParameterError, match=r"span must satisfy 0 <= char_start < char_end <= 17"):
        bk.nearest_contexts(corpus, e, span=span, k=1)


def test_a_span_up_to_the_end_of_the_text_is_accepted(tiny):
    e = tiny.encode("the bank was good")
    corpus = tiny.encode(["a bank", "the river"])
    assert bk.span_vector(e, (13, 17)).shape == (e.dim,)
    assert bk.nearest_contexts(corpus, e, span=(13, 17), k=1)[0].word
