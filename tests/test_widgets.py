from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import staged_pixels_off  # noqa: E402

import bertviz_kit as bk  # noqa: E402


@pytest.fixture
def no_model(tiny, monkeypatch):
    """Any model call fails: the explorer must only slice stored tensors."""
    def boom(*args, **kwargs):
        raise AssertionError("the model ran inside a widget callback")
    monkeypatch.setattr(tiny.model, "forward", boom)
    return tiny


def _pixels(explorer):
    fig = explorer.render()
    fig.canvas.draw()
    data = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return data


def test_controls_update_plots_without_running_the_model(tiny_bank, no_model):
    x = bk.explore(tiny_bank, no_model, token=6, layer=1)
    ui = x.widget
    assert {c.description for c in (x.token_w, x.layer_w, x.layers_w, x.subwords_w)} == {
        "word", "layer", "layers", "subwords"}
    assert ui is x.widget
    before = _pixels(x)
    x.layer_w.value = 3
    assert x.state["layer"] == 3
    after_layer = _pixels(x)
    assert not np.array_equal(before, after_layer)
    x.token_w.value = 10
    assert x.state["token"] == 10
    assert not np.array_equal(after_layer, _pixels(x))
    x.layers_w.value = "slider"
    x.subwords_w.value = "max"
    assert x.state == {"token": 10, "layer": 3, "layers": "slider", "subwords": "max"}


def test_the_widget_shows_the_figure_as_png_bytes_in_an_image_widget(tiny_bank):
    """The figure is an Image widget's value, updated on each change, and nothing in the
    explorer is an Output widget (output captured in one makes nbclient, and so Voila, send
    comm messages on the shell socket, which can stall the run until its timeout)."""
    import ipywidgets

    x = bk.explore(tiny_bank, token=6, layer=1)

    def walk(w):
        yield w
        for child in getattr(w, "children", ()):
            yield from walk(child)

    parts = list(walk(x.widget))
    assert not any(isinstance(w, ipywidgets.Output) for w in parts)
    assert x.image in parts and x.image.format == "png"
    first = x.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    x.layer_w.value = 2
    assert x.image.value[:8] == b"\x89PNG\r\n\x1a\n" and x.image.value != first


def test_render_panels(tiny_bank):
    x = bk.Explorer(tiny_bank, token=6, layer=2)
    fig = x.render()
    hist, heat, curves, _cbar = fig.axes
    assert "layer 2" in hist.get_title()
    assert heat.images[0].get_array().shape == (tiny_bank.n_words, tiny_bank.n_words)
    # the other two "bank"s are the first partners of the selected one
    labels = [t.get_text() for t in curves.get_legend().get_texts()]
    assert labels[:2] == ["5:bank ~ 9:bank", "5:bank ~ 18:bank"]
    plt.close(fig)


def test_set_from_code_updates_controls(tiny_bank):
    x = bk.explore(tiny_bank)
    x.widget  # noqa: B018
    x.set(token=10, layer=-1, layers="concat_last4")
    assert x.token_w.value == 10 and x.layer_w.value == 3 and x.layers_w.value == "concat_last4"
    assert "token=10 (word 9 'bank')" in repr(x)


def test_text_box_encodes_a_new_sentence(tiny_bank, tiny):
    x = bk.explore(tiny_bank, tiny)
    x.widget  # noqa: B018
    x.text_w.value = "the river bank"
    assert x.e.text == "the river bank"
    assert [label for label, _ in x.token_w.options] == ["0: the", "1: river", "2: bank"]  # numbered by word
    x.text_w.value = "   "
    assert "non-empty" in x.status.value and x.e.text == "the river bank"


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"token": 0}, ValueError, "is a special token"),
     ({"token": 99}, ValueError, r"token must be a token index in \[-22, 21\] or a word string"),
     ({"token": "castle"}, ValueError, "token 'castle' does not occur in this text"),
     ({"word": "bank", "occurrence": 5}, ValueError, r"occurrence must be an int in \[-3, 2\]: 'bank' occurs 3"),
     ({"layer": 9}, ValueError, r"layer must be an int in \[-4, 3\]"),
     ({"layers": "top"}, ValueError, r"layers must be one of \('slider', 'last'"),
     ({"subwords": "avg"}, ValueError, "subwords must be one of")],
)
def test_bad_selection(tiny_bank, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        bk.Explorer(tiny_bank, **kwargs)


def test_empty_text_and_bad_encoder(tiny):
    with pytest.raises(ValueError, match="no words to explore"):
        bk.explore(tiny.encode(""))
    with pytest.raises(TypeError, match="encoder must be an Encoder"):
        bk.explore(tiny.encode("the bank"), "model")


def test_missing_ipywidgets_gives_install_hint(tiny_bank, monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError("no ipywidgets")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"pip install \"bertviz-kit\[widgets\]\""):
        bk.explore(tiny_bank).widget  # noqa: B018


def test_fast_update_path_shows_the_same_numbers_as_a_fresh_render(tiny_bank):
    x = bk.Explorer(tiny_bank, token=6, layer=1, layers="slider")
    first = x.to_png()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    x.set(token=10, layer=3, subwords="max")
    updated = x.to_png()
    assert updated != first
    ax_hist, ax_heat, ax_curve = x._fig.axes[:3]
    counts, _ = np.histogram(tiny_bank.hidden_states[3, 10].numpy(), bins=60)
    assert np.array_equal(ax_hist.patches[0].get_data().values, counts)
    sim = bk.cosine(bk.word_vectors(tiny_bank, 3, subwords="max")).numpy()
    assert np.allclose(ax_heat.images[0].get_array(), sim)
    assert ax_heat.patches[0].get_xy() == (8.5, 8.5)  # word 9 ("bank") outlined
    fresh = x.render()
    assert [t.get_text() for t in ax_curve.get_legend().get_texts()] == [
        t.get_text() for t in fresh.axes[2].get_legend().get_texts()]
    plt.close(fresh)


@pytest.mark.parametrize("changes", [
    [dict(layer=3)],
    [dict(token=10)],
    [dict(layers="slider")],
    [dict(subwords="max")],
    [dict(layer=3), dict(token=10), dict(layers="slider"), dict(subwords="first"), dict(token=2, layer=0),
     dict(layers="concat_last4"), dict(layer=2)],
])
def test_staged_redraw_equals_a_full_draw_of_the_same_figure(tiny_bank, changes):
    """Redrawing only what changed leaves no stale pixels: the canvas equals a full draw."""
    x = bk.Explorer(tiny_bank, token=6, layer=1)
    x.to_png()
    for change in changes:
        x.set(**change, redraw=False)
        x.to_png()
    off = staged_pixels_off(x)
    assert off == 0, f"{off} pixels differ"
    fig = x._fig
    # and the figure shows what a fresh render of the same selection shows
    fresh = x.render()

    def lines(ax):  # curves by label, then the dashed layer line
        return sorted(ax.lines, key=lambda ln: (ln.get_gid() == "layer", ln.get_label()))

    for old, new in zip(fig.axes[:3], fresh.axes[:3]):
        assert old.get_title() == new.get_title()
        assert [ln.get_label() for ln in lines(old) if ln.get_gid() != "layer"] == [
            ln.get_label() for ln in lines(new) if ln.get_gid() != "layer"]
        for a, b in zip(lines(old), lines(new), strict=True):
            assert np.allclose(a.get_xydata(), b.get_xydata(), equal_nan=True)
    assert np.array_equal(fig.axes[0].patches[0].get_data().values, fresh.axes[0].patches[0].get_data().values)
    assert np.allclose(fig.axes[1].images[0].get_array(), fresh.axes[1].images[0].get_array())
    assert fig.axes[1].patches[0].get_xy() == fresh.axes[1].patches[0].get_xy()
    plt.close(fresh)


def test_a_word_without_partners_shows_an_empty_frame_without_warnings(tiny, recwarn):
    e = tiny.encode("bank ,")  # "bank" has no other alphanumeric word to compare with; "," has "bank"
    x = bk.Explorer(e, token=1)
    x.to_png()
    assert x._fig.axes[2].get_title() == "no other word to compare"
    assert x._fig.axes[0].get_title() == "word 0 'bank', layer 3"
    x.set(token=2, redraw=False)
    x.to_png()
    assert x._fig.axes[2].get_title() == "word 1 ',' across layers"
    assert [ln.get_label() for ln in x._fig.axes[2].lines if ln.get_gid() != "layer"] == ["1:, ~ 0:bank"]
    x.set(token=1, redraw=False)
    x.to_png()
    assert x._fig.axes[2].get_legend() is None
    assert [ln.get_gid() for ln in x._fig.axes[2].lines] == ["layer"]
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_explorer_picks_words_like_the_plots_and_numbers_them_one_way(tiny_bank, tiny):
    e = tiny_bank
    for kwargs in ({"token": "bank", "occurrence": 1}, {"token": "BANK", "occurrence": 1}, {"word": 9},
                   {"word": "bank", "occurrence": 1}, {"token": 10}):
        assert bk.Explorer(e, **kwargs).state["token"] == 10
    x = bk.explore(e, token="bank")
    assert x.state["token"] == 6
    assert x.data("histogram")["title"].startswith("word 5 'bank', layer")
    assert x.data("curves")["title"] == "word 5 'bank' across layers"
    x.set(word="bank", occurrence=-1, redraw=False)
    assert x.state["token"] == 19
    with pytest.raises(ValueError, match="is a special token"):
        x.set(token="[CLS]")
    # a split word: one menu entry per piece, all numbered by the word
    s = bk.explore(tiny.encode("the robbers hello"), word="robbers")
    assert s.e.tokens == ("[CLS]", "the", "robber", "##s", "hello", "[SEP]")
    s.widget  # noqa: B018
    assert [label for label, _ in s.token_w.options] == [
        "0: the", "1: robbers (robber)", "1: robbers (##s)", "2: hello"]
    assert s.data("histogram")["title"] == "word 1 'robbers', piece 'robber', layer 3"


def test_explorer_heatmap_fixed_scale_labelled_and_dpi(tiny_bank):
    x = bk.Explorer(tiny_bank, token=6, dpi=40)
    fig = x.render()
    heat = fig.axes[1]
    assert heat.images[0].get_clim() == (0.0, 1.0)
    bar = heat.images[0].colorbar
    assert bar.ax.get_ylabel() == "cosine similarity" and bar.extend == "min"
    plt.close(fig)
    small = x.to_png()
    assert x._fig.dpi == 40
    assert len(x.to_png(dpi=80)) > len(small)
    with pytest.raises(ValueError, match="dpi must be an int in"):
        bk.Explorer(tiny_bank, dpi=0)
