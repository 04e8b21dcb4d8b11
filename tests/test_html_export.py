"""The no-kernel HTML view (bk.html_view, bk.to_html, Explorer.to_html, demo --html) without a browser.

What the page draws for a control value is checked in a real browser in
tests/browser/test_html_export.py; here: the file is self-contained, small enough,
and its tables hold what the explorer's panels compute.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

import bertviz_kit as bk
from bertviz_kit.cli import main as cli_main

#: 27 tokens with the tiny test vocabulary, [CLS] and [SEP] included.
TEXT_27 = ("after stealing money from the bank vault the robber was seen fishing on the mississippi river bank "
           "and the bank of the river is good")
#: A split word ("robbers" -> robber ##s) so that word and token attention differ.
SPLIT_TEXT = "the robbers took money from the bank on the river bank"


@pytest.fixture(scope="module")
def bank_view(bank) -> bk.HtmlView:
    return bk.html_view(bank)


@pytest.fixture(scope="module")
def split(tiny) -> bk.Encoding:
    return tiny.encode(SPLIT_TEXT, attentions=True)


@pytest.fixture(scope="module")
def split_view(split) -> bk.HtmlView:
    return bk.html_view(split, word="bank", occurrence=1, layer=2, layers="slider", subwords="max")


def _cells(v: list[int]) -> np.ndarray:
    return np.asarray(v, dtype=np.float64) / 1000.0


def _row(rows: list[dict], **match) -> dict:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, len(found))
    return found[0]


def test_page_is_self_contained(bank_view):
    page = bank_view.html
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "@import" not in page
    assert page.count("<script") == 3  # the data, the Vega library, the glue
    assert "window.vega=" in page.replace(" ", "")
    assert "$schema" not in page


def test_bank_page_with_attention_is_under_1_mb(bank_view):
    assert "attention" in bank_view.data
    assert bank_view.n_bytes <= 1_000_000, bank_view.n_bytes
    assert bank_view.n_bytes == len(bank_view.html.encode())


def test_bert_base_shape_is_under_5_mb(tiny):
    """A 27-token encoding with a bert-base shape (13 x 27 x 768, 12 heads), synthetic values."""
    e = tiny.encode(TEXT_27)
    assert e.n_tokens == 27
    g = torch.Generator().manual_seed(0)
    big = dataclasses.replace(
        e, hidden_states=torch.randn(13, 27, 768, generator=g),
        attentions=torch.randn(12, 12, 27, 27, generator=g).softmax(-1), n_layers=12, layer_ids=tuple(range(13)))
    view = bk.html_view(big)
    assert view.data["attention"]["n_heads"] == 12
    assert view.n_bytes <= 5_000_000, view.n_bytes


def test_histogram_counts_are_the_explorers(split, split_view):
    x = bk.Explorer(split)
    bins = split_view.data["bins"]
    for token, layer in [(1, 0), (3, 2), (split.n_tokens - 2, split.n_layers)]:
        x.set(token=token, layer=layer, redraw=False)
        counts, edges = np.histogram(x.data("histogram")["values"], bins=bins)
        row = _row(split_view.data["hist"], t=token, l=layer)
        assert row["c"] == counts.tolist()
        assert row["lo"] == pytest.approx(edges[0], rel=1e-4) and row["hi"] == pytest.approx(edges[-1], rel=1e-4)


def test_cosines_and_partners_are_the_explorers(split, split_view):
    x = bk.Explorer(split)
    for layers, layer, subwords, key in [("sum_last4", 1, "mean", "sum_last4|mean"),
                                         ("slider", 2, "max", "2|max"), ("embeddings", 0, "first", "embeddings|first")]:
        x.set(word="bank", occurrence=1, layers=layers, layer=layer, subwords=subwords, redraw=False)
        row = _row(split_view.data["cos"], k=key)
        n = len(split.words)
        np.testing.assert_allclose(_cells(row["v"]).reshape(n, n), x.data("heatmap")["sim"].numpy(), atol=5e-4)
        word = split.word_ids[x.state["token"]]
        labels = [f"{word}:{split.words[word]} ~ {j}:{split.words[j]}" for j in row["p"][word]]
        assert labels == list(x.data("curves")["curves"])


def test_curve_values_are_the_single_layer_cosines(split, split_view):
    """The page draws the curves from the single-layer cosine rows: they equal the panel's curves."""
    x = bk.Explorer(split, word="bank", subwords="sum")
    word = split.word_ids[x.state["token"]]
    n = len(split.words)
    for label, curve in x.data("curves")["curves"].items():
        j = int(label.rpartition(" ~ ")[2].partition(":")[0])
        page = [_cells(_row(split_view.data["cos"], k=f"{lid}|sum")["v"])[word * n + j] for lid in split.layer_ids]
        np.testing.assert_allclose(page, curve.numpy(), atol=5e-4)


def test_attention_is_the_explorers_at_word_and_token_level(split, split_view):
    att = split_view.data["attention"]
    assert {r["lv"] for r in att["rows"]} == {"word", "token"}  # a split word: the levels differ
    x = bk.Explorer(split, panels=("attention",))
    for layer, head, level in [(1, "mean", "word"), (2, 3, "token"), (split.n_layers, 0, "word")]:
        x.set(layer=layer, head=head, level=level, redraw=False)
        d = x.data("attention")
        row = _row(att["rows"], l=layer, h=str(head), lv=level)
        n = len(d["labels"])
        np.testing.assert_allclose(_cells(row["v"]).reshape(n, n), d["matrix"].numpy(), atol=5e-4)
        assert att["labels"][level] == [str(u) for u in d["labels"]]
    assert att["query"][split.word_ids.index(1)] == 2  # word 1 ("robbers") is attention unit 2 after [CLS]


def test_unsplit_text_stores_attention_once(bank_view):
    assert {r["lv"] for r in bank_view.data["attention"]["rows"]} == {"both"}


def _signal(view: bk.HtmlView, name: str):
    return next(s["value"] for s in view.vega_spec["signals"] if s["name"] == name)


def test_page_starts_at_the_selection(split_view, split):
    assert _signal(split_view, "token") == [t for t, w in enumerate(split.word_ids) if w is not None
                                            and split.words[w] == "bank"][1]
    assert (_signal(split_view, "layer"), _signal(split_view, "layers"), _signal(split_view, "subwords")) == \
        (2, "slider", "max")


def test_explorer_to_html_starts_where_the_explorer_is_and_keeps_it(tiny_bank, tmp_path):
    x = bk.explore(tiny_bank, panels=("histogram", "attention"), word="bank", occurrence=-1, layer=1, head=2)
    before = dict(x.state)
    path = x.to_html(tmp_path / "x.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert x.state == before
    page = path.read_text(encoding="utf-8")
    assert '"name":"head","value":"2"' in page and '"name":"layer","value":1' in page


def test_without_attention_panel_there_is_no_attention_chart(tiny_bank, tmp_path):
    x = bk.explore(tiny_bank)
    x.to_html(tmp_path / "x.htm")
    assert '"attention_cells' not in (tmp_path / "x.htm").read_text(encoding="utf-8")


def test_text_cannot_close_the_script(tiny):
    e = tiny.encode("the bank </script><script>alert(1)</script> river")
    page = bk.html_view(e).html
    assert page.count("</script>") == 3
    assert "<script>alert" not in page


def test_notebook_display_is_a_static_iframe(split_view):
    out = split_view._repr_html_()
    assert out.startswith("<div class=\"bk-html-view\"><iframe srcdoc=\"&lt;!DOCTYPE html&gt;")
    frame, rest = out.split("</iframe>", 1)
    assert "<script" not in frame  # the page inside the attribute, escaped
    assert rest.count("<script") == 1 and "previousElementSibling" in rest  # hides the fallback where it runs
    assert "HtmlView(charts=('histogram', 'heatmap', 'curves', 'attention')" in repr(split_view)


def _what_a_sanitizer_leaves(out: str) -> str:
    """The output without iframes and scripts, as an untrusted notebook's sanitizer or GitHub shows it."""
    out = re.sub(r"<iframe .*?</iframe>", "", out, flags=re.S)
    return re.sub(r"<script>.*?</script>", "", out, flags=re.S)


def test_without_scripts_the_output_shows_a_picture_and_a_note(split_view, tmp_path):
    import base64
    import copy

    left = _what_a_sanitizer_leaves(split_view._repr_html_())
    assert "bk-html-view-fallback" in left and "jupyter trust" in left and "view.save(" in left
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', left).group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == split_view.picture
    view = copy.copy(split_view)
    path = view.save(tmp_path / "bank view.html")
    assert view.saved == path
    left = _what_a_sanitizer_leaves(view._repr_html_())
    assert f'<a href="{path.as_posix()}">bank view.html</a>' in left and "view.save(" not in left


def test_the_picture_is_the_starting_view(tiny_bank, tmp_path):
    import io

    from PIL import Image

    view = bk.html_view(tiny_bank, attention=False, word="bank", layer=1)
    with Image.open(io.BytesIO(view.picture)) as picture:
        assert picture.format == "PNG" and picture.info["dpi"][0] == pytest.approx(72, abs=0.5)
        pixels = np.asarray(picture.convert("RGB"))
    assert pixels.std() > 10  # something drawn, not a blank image
    x = bk.Explorer(tiny_bank, word="bank", layer=1)
    with Image.open(x.save(tmp_path / "start.png", dpi=72)) as same:
        assert np.array_equal(np.asarray(same.convert("RGB")), pixels)


def test_to_html_writes_the_file(tiny_bank, tmp_path):
    path = bk.to_html(tiny_bank, tmp_path / "bank.html", attention=False, token=1)
    assert path == tmp_path / "bank.html" and path.stat().st_size > 100_000


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"path": "bank.png"}, "path"),
    ({"path": 3}, "path"),
    ({"path": "b.html", "attention": "yes"}, "attention"),
    ({"path": "b.html", "layers": "top"}, "layers"),
    ({"path": "b.html", "subwords": "median"}, "subwords"),
    ({"path": "b.html", "head": 99}, "head"),
    ({"path": "b.html", "layer": 9}, "layer"),
])
def test_bad_arguments_name_the_parameter(tiny_bank, tmp_path, kwargs, name):
    kwargs = dict(kwargs)
    path = kwargs.pop("path")
    with pytest.raises(bk.InvalidParameterError, match=rf"^{name}\b"):
        bk.to_html(tiny_bank, tmp_path / path if isinstance(path, str) else path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_attention_needs_attention_weights(tiny):
    with pytest.raises(bk.InvalidParameterError, match=r"^attention=True needs attention weights"):
        bk.html_view(tiny.encode("the bank"), attention=True)


def test_not_an_encoding_is_refused():
    with pytest.raises(bk.InvalidParameterError, match=r"^e\b"):
        bk.html_view("the bank")


def test_explorer_to_html_refuses_another_suffix(tiny_bank, tmp_path):
    with pytest.raises(bk.InvalidParameterError, match=r"^path must end in one of"):
        bk.explore(tiny_bank).to_html(tmp_path / "x.png")


def test_demo_writes_the_page(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_main(["demo", "--out", str(out), "--html", str(out / "pages" / "bank.html")]) == 0
    page = (out / "pages" / "bank.html").read_text(encoding="utf-8")
    assert '"attention_cells' in page and len(page.encode()) <= 1_000_000
    assert "page: " in capsys.readouterr().out


def test_an_encoding_with_some_layers_offers_the_presets_it_can_feed(tiny):
    e = tiny.encode("the bank of the river", layers=[0, 3])  # the tiny model has 3 layers
    with pytest.raises(bk.InvalidParameterError, match=r"^layers='sum_last4' needs layers .* pass layers='slider'"):
        bk.html_view(e)
    view = bk.html_view(e, layers="last")
    assert view.data["presets"] == [p for p in bk.LAYER_PRESETS if p in ("last", "embeddings")]
    assert {r["k"].split("|")[0] for r in view.data["cos"]} == {"0", "3", "last", "embeddings"}


def test_demo_refuses_a_page_name_without_html_before_the_work(tmp_path, capsys):
    assert cli_main(["demo", "--out", str(tmp_path / "out"), "--html", str(tmp_path / "bank.png")]) == 2
    assert "error: path must end in one of ('.html', '.htm')" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_long_text_is_refused_before_any_work_naming_the_way_out(tiny, monkeypatch):
    """The page grows with the square of the number of words: a long text is refused up front."""
    from bertviz_kit.explorer import static_page

    e = tiny.encode(" ".join(["bank"] * 40))
    def fail(*args, **kwargs):  # no table is computed for a refused text
        raise AssertionError("static_data ran")
    monkeypatch.setattr(static_page, "static_data", fail)
    with pytest.raises(bk.InvalidParameterError, match=r"40 words, more than max_words=30.*max_words=40"):
        bk.html_view(e, max_words=30)
    with pytest.raises(bk.InvalidParameterError, match="max_words"):
        bk.Explorer(e).to_html("x.html", max_words=30)
    with pytest.raises(bk.InvalidParameterError, match="max_words must be an int >= 1 or None"):
        bk.html_view(e, max_words=0)
    monkeypatch.undo()
    assert bk.html_view(e, max_words=None).n_bytes > 0
    assert bk.html_view(e, max_words=40).n_bytes > 0
