"""Bundled corpora: counts, labels, layouts, argument checks, spans, and package data in a wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

import bertviz_kit as bk
from bertviz_kit import datasets

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- sentence polarity


def test_polarity_counts_and_labels():
    data = bk.datasets.sentence_polarity()
    assert len(data.texts) == len(data.labels) == 10_662
    assert data.labels.count("positive") == data.labels.count("negative") == 5_331
    assert set(data.labels) == {"positive", "negative"}
    assert all(isinstance(t, str) and t and t == t.strip() for t in data.texts)
    assert repr(data) == "LabelledTexts(n=10662, labels={'positive': 5331, 'negative': 5331})"


def test_polarity_unpacks_and_is_immutable():
    texts, labels = bk.datasets.sentence_polarity(6)
    assert len(texts) == len(labels) == 6
    data = bk.datasets.sentence_polarity(6)
    with pytest.raises(AttributeError):
        data.texts = []


def test_polarity_interleaved_matches_the_files():
    root = files("bertviz_kit") / "data" / "sentence_polarity"
    pos = (root / "rt-polarity.pos").read_text(encoding="utf-8").splitlines()
    neg = (root / "rt-polarity.neg").read_text(encoding="utf-8").splitlines()
    expected = [t.strip() for pair in zip(pos, neg) for t in pair if t.strip()]
    texts, labels = bk.datasets.sentence_polarity(order="interleaved")
    assert texts == expected
    assert labels[:4] == ["positive", "negative", "positive", "negative"]
    assert texts[0] == pos[0].strip() and texts[1] == neg[0].strip()
    assert bk.datasets.sentence_polarity(7).texts == expected[:7]


def test_polarity_grouped_and_per_class():
    root = files("bertviz_kit") / "data" / "sentence_polarity"
    pos = (root / "rt-polarity.pos").read_text(encoding="utf-8").splitlines()[:150]
    neg = (root / "rt-polarity.neg").read_text(encoding="utf-8").splitlines()[:150]
    texts, labels = bk.datasets.sentence_polarity(per_class=150, order="grouped")
    assert texts == [t.strip() for t in pos + neg]
    assert labels == ["positive"] * 150 + ["negative"] * 150
    grouped = bk.datasets.sentence_polarity(order="grouped")
    assert grouped.labels[5330:5332] == ["positive", "negative"]
    assert set(bk.datasets.sentence_polarity(10, order="grouped").labels) == {"positive"}
    texts, labels = bk.datasets.sentence_polarity(per_class=3)
    assert labels == ["positive", "negative"] * 3
    assert texts[::2] == [t.strip() for t in pos[:3]] and texts[1::2] == [t.strip() for t in neg[:3]]
    assert len(bk.datasets.sentence_polarity(per_class=5331).texts) == 10_662


def test_polarity_accepts_numpy_ints_and_returns_fresh_lists():
    a = bk.datasets.sentence_polarity(np.int64(4))
    assert len(a.texts) == 4
    a.texts.append("mine")
    assert len(bk.datasets.sentence_polarity(4).texts) == 4


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n": 0}, ValueError, r"n must be None or an int in \[1, 10662\]; got 0"),
        ({"n": 10_663}, ValueError, r"n must be None or an int in \[1, 10662\]; got 10663"),
        ({"n": 2.0}, TypeError, r"n must be None or an int .*; got 2.0 \(float\)"),
        ({"n": True}, TypeError, r"n must be None or an int .*; got True \(bool\)"),
        ({"n": "10"}, TypeError, r"n must be None or an int .*; got '10' \(str\)"),
        ({"per_class": 0}, ValueError, r"per_class must be None or an int in \[1, 5331\]; got 0"),
        ({"per_class": 5332}, ValueError, r"per_class must be None or an int in \[1, 5331\]; got 5332"),
        ({"n": 10, "per_class": 5}, ValueError, r"give n or per_class, not both; got n=10 and per_class=5"),
        ({"order": "sorted"}, ValueError, r"order must be one of \('interleaved', 'grouped'\); got 'sorted'"),
        ({"order": None}, ValueError, r"order must be one of .*; got None"),
    ],
)
def test_polarity_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        bk.datasets.sentence_polarity(**kwargs)


# ----------------------------------------------------------------------------- UD English EWT


@pytest.mark.parametrize(("split", "n_sentences", "n_words"), [("dev", 2_001, 25_147), ("test", 2_077, 25_094)])
def test_ud_counts(split, n_sentences, n_words):
    sents = bk.datasets.ud_english_ewt(split)
    assert len(sents) == n_sentences
    assert sum(s.n_words for s in sents) == n_words
    assert len({s.sent_id for s in sents}) == n_sentences


def test_ud_first_sentence():
    s = bk.datasets.ud_english_ewt()[0]
    assert s.text == "From the AP comes this story :"
    assert s.words == ("From", "the", "AP", "comes", "this", "story", ":")
    assert s.upos == ("ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT")
    assert s.heads == (3, 3, 4, 0, 6, 4, 4)
    assert s.deprels == ("case", "det", "obl", "root", "det", "nsubj", "punct")
    assert s.spans == ((0, 4), (5, 8), (9, 11), (12, 17), (18, 22), (23, 28), (29, 30))
    assert s.multiword == ()
    assert "n_words=7" in repr(s) and "'From the AP comes this story :'" in repr(s)


@pytest.mark.parametrize("split", ["dev", "test"])
def test_ud_records_are_consistent(split):
    for s in bk.datasets.ud_english_ewt(split):
        n = s.n_words
        assert n == len(s.upos) == len(s.heads) == len(s.deprels) == len(s.spans) > 0
        assert s.heads.count(0) >= 1 and all(0 <= h <= n for h in s.heads)
        assert all(d == "root" for h, d in zip(s.heads, s.deprels) if h == 0)
        ends = [span[1] for span in s.spans if span is not None]
        assert ends == sorted(ends)
        for word, span in zip(s.words, s.spans):
            assert span is not None, (s.sent_id, word)
            assert s.text[span[0]:span[1]] == word


def test_ud_multiword_tokens_keep_the_syntactic_words():
    sents = bk.datasets.ud_english_ewt("dev")
    with_mwt = [s for s in sents if s.multiword]
    assert sum(len(s.multiword) for s in sents) == 359
    s = next(s for s in with_mwt if any(form == "didn't" for _, _, form in s.multiword))
    start, stop, form = next(m for m in s.multiword if m[2] == "didn't")
    assert s.words[start:stop] == ("did", "n't")
    first, last = s.spans[start], s.spans[stop - 1]
    assert s.text[first[0]:last[1]] == "didn't"
    for s in with_mwt:
        for start, stop, form in s.multiword:
            assert 0 <= start < stop <= s.n_words
            assert s.text[s.spans[start][0]:s.spans[stop - 1][1]] == form


def test_ud_empty_nodes_are_left_out():
    # en_ewt-ud-dev.conllu has 4 empty nodes (ids such as 8.1); none becomes a word
    sents = bk.datasets.ud_english_ewt("dev")
    assert all("." not in str(h) for s in sents for h in s.heads)
    raw = (files("bertviz_kit") / "data" / "ud_english_ewt" / "en_ewt-ud-dev.conllu").read_text(encoding="utf-8")
    rows = [line.split("\t")[0] for line in raw.splitlines() if line and not line.startswith("#")]
    assert sum(r.isdigit() for r in rows) == sum(s.n_words for s in sents)
    assert sum("." in r for r in rows) == 4


def test_ud_returns_a_new_list_of_frozen_records():
    a = bk.datasets.ud_english_ewt()
    a.clear()
    assert len(bk.datasets.ud_english_ewt()) == 2_001
    with pytest.raises(AttributeError):
        bk.datasets.ud_english_ewt()[0].text = "x"


@pytest.mark.parametrize("split", ["train", "DEV", None, 0])
def test_ud_bad_split(split):
    with pytest.raises(ValueError, match=r"split must be one of \('dev', 'test'\); got "):
        bk.datasets.ud_english_ewt(split)


# ----------------------------------------------------------------------------- attribution, package data


@pytest.mark.parametrize("name", datasets.NAMES)
def test_citation_names_licence_and_the_notice_beside_the_data(name):
    text = bk.datasets.citation(name)
    licence = {"CC-BY-4.0": "CC BY 4.0", "CC-BY-SA-4.0": "CC BY-SA 4.0"}[datasets.LICENSES[name]]
    assert licence in text
    folder = files("bertviz_kit") / "data" / name
    notices = [p.name for p in folder.iterdir() if p.name.startswith(("README", "LICENSE"))]
    assert notices and all(n in text for n in notices)


def test_citation_bad_name():
    with pytest.raises(ValueError, match=r"name must be one of \('sentence_polarity', 'ud_english_ewt'\); got 'imdb'"):
        bk.datasets.citation("imdb")


def test_polarity_notice_keeps_the_attribution():
    readme = (files("bertviz_kit") / "data" / "sentence_polarity" / "README.txt").read_text(encoding="utf-8")
    assert "Bo Pang" in readme and "Lillian Lee" in readme and "CC BY 4.0" in readme
    licence = (files("bertviz_kit") / "data" / "ud_english_ewt" / "LICENSE.txt").read_text(encoding="utf-8")
    assert licence.startswith("Attribution-ShareAlike 4.0 International")


def test_exposed_on_the_package():
    assert "datasets" in bk.__all__ and bk.datasets is datasets


def test_package_data_ships_in_the_wheel_and_is_read_from_there(tmp_path):
    """Build a wheel from a copy of the project, import it from an unpacked install, read every corpus."""
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "bertviz_kit", src / "bertviz_kit", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    (wheel,) = wheels.glob("bertviz_kit-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for name in ("sentence_polarity/rt-polarity.pos", "sentence_polarity/rt-polarity.neg",
                 "sentence_polarity/README.txt", "ud_english_ewt/en_ewt-ud-dev.conllu",
                 "ud_english_ewt/en_ewt-ud-test.conllu", "ud_english_ewt/LICENSE.txt", "ud_english_ewt/README.md"):
        assert f"bertviz_kit/data/{name}" in names
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    code = (
        "import bertviz_kit as bk; from importlib.resources import files; "
        "print(files('bertviz_kit')); print(len(bk.datasets.sentence_polarity().texts)); "
        "print(len(bk.datasets.ud_english_ewt('dev')), len(bk.datasets.ud_english_ewt('test')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "PATH": ""})
    location, n_polarity, n_ud = out.stdout.splitlines()
    assert Path(location).resolve() == (site / "bertviz_kit").resolve()
    assert n_polarity == "10662" and n_ud == "2001 2077"
