"""The explorer's panels: the protocol, choosing panels, word attention and lens panels,
recomputing only what a change touches, custom panels, saving the view."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from conftest import staged_pixels_off  # noqa: E402

import bertviz_kit as bk  # noqa: E402
from bertviz_kit import InvalidParameterError  # noqa: E402

ALL = ("histogram", "heatmap", "curves", "attention", "lens")


class NormPanel(bk.Panel):
    """A user's panel: the norm of the selected token's vector at every layer (the default redraw path)."""

    name = "norm"
    depends = ("token",)

    def compute(self, x):
        t = x.state["token"]
        return list(x.e.layer_ids), x.e.hidden_states[:, t].float().norm(dim=-1), t

    def draw(self, ax, data):
        layer_ids, norms, t = data
        ax.plot(layer_ids, norms.numpy(), marker="o")
        ax.set(xlabel="layer (0 = embeddings)", ylabel="vector norm", title=f"norm of token {t}")


def _count_computes(x):
    """Wrap every panel's compute; return the per-panel call counts (a dict, updated in place)."""
    counts = dict.fromkeys((p.name for p in x.panels), 0)
    for p in x.panels:
        def counted(explorer, _orig=p.compute, _name=p.name):
            counts[_name] += 1
            return _orig(explorer)
        p.compute = counted
    return counts


def _count_updates(x):
    counts = dict.fromkeys((p.name for p in x.panels), 0)
    for p in x.panels:
        def counted(ax, data, stage, _orig=p.update, _name=p.name):
            counts[_name] += 1
            return _orig(ax, data, stage)
        p.update = counted
    return counts


# -- the protocol and choosing panels ---------------------------------------------------------


def test_default_panels_are_the_three_of_before(tiny_bank):
    x = bk.Explorer(tiny_bank, token=6)
    assert tuple(p.name for p in x.panels) == bk.DEFAULT_PANELS == ("histogram", "heatmap", "curves")
    assert [type(p) for p in x.panels] == [bk.HistogramPanel, bk.HeatmapPanel, bk.CurvesPanel]
    fig = x.render()
    assert len(fig.axes) == 4 and tuple(fig.get_size_inches()) == (15.0, 4.8)  # three panels and a colour bar
    plt.close(fig)
    assert "panels=" not in repr(x) and "head=" not in repr(x)
    assert set(bk.PANELS) >= set(ALL)


def test_every_built_in_panel_is_one_registered_class():
    for name, cls in bk.PANELS.items():
        assert issubclass(cls, bk.Panel) and cls.name == name
        assert cls.compute is not bk.Panel.compute and cls.draw is not bk.Panel.draw
        assert len(cls.stages) >= 1


@pytest.mark.parametrize(("panels", "match"), [
    (("histogram", "attn"), r"panels must hold names from \('histogram', 'heatmap', 'curves', 'attention', 'lens'"),
    ("lens", r"one panel: panels=\('lens',\)"),
    ((), "at least one"),
    (("heatmap", "heatmap"), "'heatmap' appears twice"),
    (("histogram", 3), "Panel subclasses or Panel instances; got 3"),
])
def test_bad_panels(tiny_bank, tiny, panels, match):
    with pytest.raises(InvalidParameterError, match=match):
        bk.explore(tiny_bank, tiny, panels=panels)


def test_panels_that_cannot_work_say_what_to_do(tiny, tiny_bank):
    no_attention = tiny.encode(bk.BANK_TEXT)
    with pytest.raises(InvalidParameterError, match=r"needs attention weights: encode with "
                                                    r"enc.encode\(text, attentions=True\)"):
        bk.explore(no_attention, tiny, panels=("attention",))
    with pytest.raises(InvalidParameterError, match=r"'lens' panel needs the encoder.*bk.explore\(e, enc"):
        bk.explore(tiny_bank, panels=("histogram", "lens"))
    with pytest.raises(InvalidParameterError, match="k must be an int in"):
        bk.LensPanel(k=0)
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        bk.LensPanel(kind="logits")


def test_panel_settings_are_validated_and_only_where_a_panel_declares_them(tiny_bank, tiny):
    with pytest.raises(InvalidParameterError, match=r"head is not a setting of this explorer"):
        bk.explore(tiny_bank, head=2)
    x = bk.explore(tiny_bank, tiny, panels=ALL, head=2, level="token")
    assert x.state["head"] == 2 and x.state["level"] == "token"
    assert "head=2, level='token', panels=(" in repr(x)
    with pytest.raises(InvalidParameterError, match=r"head must be one of \('mean', 0, 1, 2, 3\); got 4"):
        x.set(head=4)
    with pytest.raises(InvalidParameterError, match=r"head must be one of .*got True"):
        x.set(head=True)
    with pytest.raises(InvalidParameterError, match=r"level must be one of \('word', 'token'\)"):
        x.set(level="piece")
    x.set(head="mean", redraw=False)
    assert x.state["head"] == "mean"


def test_a_panel_that_depends_on_an_unknown_setting_is_refused(tiny_bank):
    class Bad(NormPanel):
        name = "bad"
        depends = ("token", "colour")

    with pytest.raises(InvalidParameterError, match=r"panel 'bad' depends on \['colour'\]"):
        bk.explore(tiny_bank, panels=(Bad(),))


# -- word attention -------------------------------------------------------------------------


def test_attention_panel_shows_word_attention_of_the_slider_layer(tiny_bank, tiny):
    e = tiny_bank
    x = bk.explore(e, tiny, panels=("attention",), token=10, layer=2)  # token 10: word 9, "bank"
    d = x.data("attention")
    wa = bk.word_attention(e)
    torch.testing.assert_close(d["matrix"], wa[1].mean(0))
    assert d["labels"] == list(bk.attention_units(e))
    assert d["labels"][d["query"]] == "bank" and d["query"] == 10  # [CLS] is unit 0
    assert d["title"] == "word attention, layer 2, mean of 4 heads"
    x.set(head=3, redraw=False)
    torch.testing.assert_close(x.data("attention")["matrix"], wa[1, 3])
    # the figure shows it, the query's row outlined
    x.to_png()
    ax = x._fig.axes[0]
    assert np.allclose(ax.images[0].get_array(), wa[1, 3].numpy())
    assert ax.patches[0].get_xy() == (-0.5, 9.5) and ax.patches[0].get_width() == len(d["labels"])
    assert [t.get_text() for t in ax.get_yticklabels()] == d["labels"]
    assert ax.images[0].colorbar.ax.get_ylabel() == "attention weight (square-root scale)"
    # token level: the stored token attention
    x.set(level="token", layer=3, head="mean", redraw=False)
    d = x.data("attention")
    torch.testing.assert_close(d["matrix"], e.attentions[2].float().mean(0))
    assert d["labels"] == list(e.tokens) and d["query"] == 10 and d["title"] == "attention, layer 3, mean of 4 heads"


def test_attention_panel_at_the_embedding_layer_says_there_is_none(tiny_bank, tiny):
    x = bk.explore(tiny_bank, tiny, panels=("attention",), layer=0)
    d = x.data("attention")
    assert torch.isnan(d["matrix"]).all() and "layer 0 (embeddings) has no attention" in d["title"]
    x.to_png()
    assert x._fig.axes[0].get_title().startswith("layer 0 (embeddings) has no attention")


def test_word_attention_panel_on_a_split_word(tiny):
    e = tiny.encode("the robbers hello", attentions=True)
    assert e.tokens == ("[CLS]", "the", "robber", "##s", "hello", "[SEP]")
    x = bk.explore(e, tiny, panels=("attention",), token=3, layer=1)  # "##s": word 1, unit 2
    d = x.data("attention")
    assert d["labels"] == ["[CLS]", "the", "robbers", "hello", "[SEP]"] and d["query"] == 2
    torch.testing.assert_close(d["matrix"], bk.word_attention(e)[0].mean(0))


# -- lens --------------------------------------------------------------------------------------


def test_lens_panel_shows_bk_lens_on_the_selected_token(tiny_bank, tiny):
    x = bk.explore(tiny_bank, tiny, panels=("lens",), token=10)
    ref = bk.lens(tiny_bank, token=10, k=6, kind="embeddings", enc=tiny)
    d = x.data("lens")
    r = d["result"]
    assert r.tokens == ref.tokens and torch.equal(r.ids, ref.ids) and torch.equal(r.rank, ref.rank)
    torch.testing.assert_close(r.scores, ref.scores)
    assert d["title"] == f"lens on {ref.label} (embeddings)"
    x.to_png()
    ax = x._fig.axes[0]
    cells = [t.get_text() for t in ax.texts]
    assert cells == [tok if len(tok) <= 11 else tok[:10] + "…" for row in ref.tokens for tok in row]
    labels = [t.get_text().lstrip("\u2007") for t in ax.get_yticklabels()]
    assert labels == [f"{lid} (rank {rk})" for lid, rk in zip(ref.layer_ids, ref.rank.tolist())]
    assert ax.get_ylabel() == "layer (rank of 'bank')"
    # another token: the table follows
    x.set(token=2, redraw=False)
    x.to_png()
    ref = bk.lens(tiny_bank, token=2, k=6, kind="embeddings", enc=tiny)
    assert [t.get_text() for t in x._fig.axes[0].texts] == [t for row in ref.tokens for t in row]
    bold = [t.get_fontweight() == "bold" for t in x._fig.axes[0].texts]
    assert bold == [int(i) == ref.true_id for i in ref.ids.flatten()]


def test_lens_panel_options(tiny_bank, tiny):
    x = bk.explore(tiny_bank, tiny, panels=(bk.LensPanel(k=3),), token=6)
    assert x.data("lens")["result"].k == 3 and "LensPanel(k=3, kind='embeddings')" == repr(x.panels[0])


# -- recompute and redraw only what a change touches --------------------------------------------


def test_a_change_recomputes_only_the_panels_that_depend_on_it(tiny_bank, tiny):
    x = bk.explore(tiny_bank, tiny, panels=ALL, token=6, layer=1)
    computes = _count_computes(x)
    x.to_png()
    assert computes == dict.fromkeys(ALL, 1)
    updates = _count_updates(x)

    def change(**kw):
        for d in (computes, updates):
            d.update(dict.fromkeys(d, 0))
        x.set(**kw, redraw=False)
        x.to_png()
        return {k for k, v in computes.items() if v}, {k for k, v in updates.items() if v}

    # the layer: not the heatmap (it follows its preset, sum_last4), not the lens
    assert change(layer=2) == ({"histogram", "curves", "attention"}, {"histogram", "curves", "attention"})
    # a head: the attention panel alone
    assert change(head=1) == ({"attention"}, {"attention"})
    # the sub-word pooling: the heatmap and the curves
    assert change(subwords="max") == ({"heatmap", "curves"}, {"heatmap", "curves"})
    # the token: every panel shows it
    assert change(token=10) == (set(ALL), set(ALL))
    # the heatmap follows the slider: now a layer change recomputes it too
    assert change(layers="slider") == ({"heatmap", "curves"}, {"heatmap"})
    assert change(layer=3)[0] == {"histogram", "heatmap", "curves", "attention"}
    # nothing changed: nothing computed, nothing drawn
    assert change() == (set(), set())
    assert computes["lens"] == 0


def test_lens_results_are_kept_per_token(tiny_bank, tiny, monkeypatch):
    import bertviz_kit.explorer.panels as panels

    calls = []
    real = panels.lens
    monkeypatch.setattr(panels, "lens", lambda *a, **k: calls.append(k["token"]) or real(*a, **k))
    x = bk.explore(tiny_bank, tiny, panels=("lens",), token=6)
    x.to_png()
    for t in (10, 6, 10, 2):
        x.set(token=t, redraw=False)
        x.to_png()
    assert calls == [6, 10, 2]


@pytest.mark.parametrize("changes", [
    [dict(layer=3), dict(head=2), dict(level="token"), dict(token=10), dict(layer=0), dict(level="word"),
     dict(layer=1, head="mean"), dict(subwords="max", layers="slider"), dict(token=2),
     dict(token=1), dict(token=20)],  # the first and the last word: outlines on the frame
])
def test_staged_redraw_of_five_panels_equals_a_full_draw(tiny_bank, tiny, changes):
    x = bk.explore(tiny_bank, tiny, panels=ALL, token=6, layer=1)
    x.to_png()
    for change in changes:
        x.set(**change, redraw=False)
        x.to_png()
    assert staged_pixels_off(x) == 0
    fresh = x.render()
    for old, new in zip(x._fig.axes, fresh.axes):
        assert old.get_title() == new.get_title()
        for a, b in zip(old.images, new.images):
            assert np.allclose(a.get_array().filled(np.nan), b.get_array().filled(np.nan), equal_nan=True)
        assert [t.get_text() for t in old.texts] == [t.get_text() for t in new.texts]
        assert [t.get_text() for t in old.get_yticklabels()] == [t.get_text() for t in new.get_yticklabels()]
    plt.close(fresh)


def test_five_panels_in_two_rows_do_not_overlap(tiny_bank, tiny):
    x = bk.explore(tiny_bank, tiny, panels=ALL, token=6)
    x.to_png()
    fig = x._fig
    assert tuple(fig.get_size_inches()) == (15.0, 9.6)
    renderer = fig.canvas.get_renderer()
    boxes = {}
    for p, axes, _ in x._slots:
        from matplotlib.transforms import Bbox

        boxes[p.name] = Bbox.union([a.get_tightbbox(renderer) for a in axes])
        region = x._region[p.name]
        assert region.x0 - 1 <= boxes[p.name].x0 and boxes[p.name].x1 <= region.x1 + 1, p.name
        assert region.y0 - 1 <= boxes[p.name].y0 and boxes[p.name].y1 <= region.y1 + 1, p.name
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not boxes[a].overlaps(boxes[b]), f"{a} and {b} overlap"
    top = {n: x._region[n].y0 for n in names}
    assert top["histogram"] == top["heatmap"] == top["curves"] > top["attention"] == top["lens"]


# -- a user's panel --------------------------------------------------------------------------


def test_a_custom_panel_is_one_class(tiny_bank):
    x = bk.explore(tiny_bank, panels=("histogram", NormPanel()), token=6, layer=1)
    computes = _count_computes(x)
    first = x.to_png()
    ax = x._fig.axes[1]
    assert ax.get_title() == "norm of token 6"
    x.set(layer=2, redraw=False)
    x.to_png()
    assert computes == {"histogram": 2, "norm": 1}  # the layer is not the norm panel's business
    x.set(token=10, redraw=False)
    assert x.to_png() != first
    assert computes == {"histogram": 3, "norm": 2}
    ax = x._fig.axes[1]
    assert ax.get_title() == "norm of token 10"
    assert np.allclose(ax.lines[0].get_ydata(), tiny_bank.hidden_states[:, 10].norm(dim=-1).numpy())
    # its axis labels stay where the layout put them, inside the panel's region
    renderer = x._fig.canvas.get_renderer()
    region = x._region["norm"]
    for label in (ax.xaxis.label, ax.yaxis.label):
        box = label.get_window_extent(renderer)
        assert label.get_text() and region.x0 <= box.x0 and box.x1 <= region.x1 and 0 < box.y0 and box.y1 <= region.y1
    assert staged_pixels_off(x) == 0
    fresh = x.render()
    assert fresh.axes[1].get_title() == "norm of token 10"
    plt.close(fresh)


def test_register_a_custom_panel_by_name(tiny_bank):
    registry = dict(bk.PANELS)  # put back as it was below
    try:
        assert bk.register_panel(NormPanel) is NormPanel
        x = bk.explore(tiny_bank, panels=("norm", "heatmap"))
        assert isinstance(x.panels[0], NormPanel)
        x.to_png()
        with pytest.raises(InvalidParameterError, match="subclass of bk.Panel"):
            bk.register_panel(dict)
    finally:
        bk.PANELS.clear()
        bk.PANELS.update(registry)
    assert "norm" not in bk.PANELS


# -- the widget ----------------------------------------------------------------------------


def test_widget_offers_head_and_level_only_with_the_attention_panel(tiny_bank, tiny):
    plain = bk.explore(tiny_bank, tiny)
    plain.widget  # noqa: B018
    assert plain.option_w == {}
    x = bk.explore(tiny_bank, tiny, panels=ALL, token=6, layer=1)
    x.widget  # noqa: B018
    assert [c.description for c in x.option_w.values()] == ["head", "level"]
    assert x.option_w["head"].options[:2] == (("mean", "mean"), ("0", 0))
    before = x.image.value
    x.option_w["head"].value = 2
    assert x.state["head"] == 2 and x.image.value != before
    x.set(level="token")
    assert x.option_w["level"].value == "token"


def test_text_box_keeps_attentions_for_the_attention_panel(tiny_bank, tiny):
    x = bk.explore(tiny_bank, tiny, panels=("heatmap", "attention", "lens"))
    x.widget  # noqa: B018
    x.text_w.value = "the river bank"
    assert x.e.attentions is not None
    assert x.data("attention")["labels"] == ["[CLS]", "the", "river", "bank", "[SEP]"]
    assert x.data("lens")["result"].label == "word 0 'the'"


def test_panels_without_words_controls_hide_them(tiny_bank):
    x = bk.explore(tiny_bank, panels=(NormPanel(),))
    ui = x.widget

    def walk(w):
        yield w
        for child in getattr(w, "children", ()):
            yield from walk(child)

    shown = list(walk(ui))
    assert x.token_w in shown and x.layer_w not in shown and x.layers_w not in shown


# -- saving the view ---------------------------------------------------------------------------

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_save_writes_the_format_of_the_suffix(tiny_bank, tiny, tmp_path, fmt):
    x = bk.explore(tiny_bank, tiny, panels=ALL, token=6)
    figures = plt.get_fignums()
    path = x.save(tmp_path / f"view.{fmt}")
    assert plt.get_fignums() == figures  # nothing left open in pyplot
    assert path == tmp_path / f"view.{fmt}"
    data = path.read_bytes()
    assert data.startswith(MAGIC[fmt])
    if fmt == "svg":
        assert b"<svg" in data[:1000]
    if fmt == "png":
        from PIL import Image

        with Image.open(path) as im:
            assert im.size == (15 * 150, int(9.6 * 150))  # two rows at 150 dpi


def test_save_checks_its_arguments(tiny_bank, tmp_path):
    x = bk.explore(tiny_bank, token=6)
    with pytest.raises(InvalidParameterError, match=r"path must end in one of \('.png', '.svg', '.pdf'\).*view.jpg'"):
        x.save(tmp_path / "view.jpg")
    with pytest.raises(InvalidParameterError, match=r"path must end in one of"):
        x.save(tmp_path / "view")
    with pytest.raises(InvalidParameterError, match="path must be a file name or path"):
        x.save(3)
    with pytest.raises(InvalidParameterError, match="dpi must be an int in"):
        x.save(tmp_path / "v.png", dpi=0)
    small = x.save(tmp_path / "V.PNG", dpi=None)  # the suffix in any case; dpi None: the explorer's
    from PIL import Image

    with Image.open(small) as im:
        assert im.size == (15 * 80, int(4.8 * 80))


def test_save_button_offers_the_view_as_a_download(tiny_bank, tmp_path, monkeypatch):
    """The button makes a download link (the browser saves the file); nothing is written where the kernel runs."""
    import base64
    import re

    monkeypatch.chdir(tmp_path)
    x = bk.explore(tiny_bank, token=6)
    x.widget  # noqa: B018
    for name, mime in (("view.svg", "image/svg+xml"), ("view.PDF", "application/pdf"), ("explorer.png", "image/png")):
        x.file_w.value = name
        x.save_w.click()
        link = re.fullmatch(rf'<a download="{re.escape(name)}" href="data:{re.escape(mime)};base64,([A-Za-z0-9+/=]+)" '
                            rf'style="text-decoration: underline">download {re.escape(name)} \(\d+ kB\)</a>',
                            x.download_w.value)
        assert link, x.download_w.value[:200]
        data = base64.b64decode(link.group(1))
        assert data.startswith(MAGIC[name.rsplit(".", 1)[1].lower()])
    assert list(tmp_path.iterdir()) == []
    x.set(layer=2)  # a new view: the old link goes
    assert x.download_w.value == ""
    x.file_w.value = "view.gif"
    x.save_w.click()
    assert "path must end in one of" in x.status.value and x.download_w.value == ""
    x.file_w.value = "../elsewhere.png"
    x.save_w.click()
    assert "without folders" in x.status.value and x.download_w.value == ""
    x.file_w.value = 'a"b.png'
    x.save_w.click()
    assert 'download="a&quot;b.png"' in x.download_w.value and x.status.value == ""


@pytest.mark.parametrize("n_words", [12, 45])
def test_word_by_word_panels_keep_readable_labels(tiny, n_words):
    """The cosine and attention panels label words at the house's smallest font or larger, thinning
    them to every k-th (and saying so) where they do not fit, never overlapping."""
    from test_plotting import _label_boxes_overlap

    from bertviz_kit.plot.axes import SMALL_FONT

    words = ("the bank robber was seen fishing on the river bank " * 5).split()[:n_words]
    e = tiny.encode(" ".join(words), attentions=True)
    x = bk.explore(e, tiny, panels=("heatmap", "attention"))
    x.to_png()  # draws the figure
    for ax in x._fig.axes[:2]:  # the two panels (their colour bars follow)
        for axis in ("x", "y"):
            shown = [t for t in (ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()) if t.get_text()]
            assert shown and min(t.get_fontsize() for t in shown) >= SMALL_FONT
            assert not _label_boxes_overlap(ax, axis)
            label = ax.get_xlabel() if axis == "x" else ax.get_ylabel()
            if n_words == 12:
                assert len(shown) >= n_words and "one label in" not in label
            else:
                assert len(shown) < n_words and "one label in" in label
