from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import bertviz_kit as bk  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_histogram_of_one_token_at_one_layer(tiny_bank):
    ax = bk.plot_histogram(tiny_bank, token=6, layer=2, bins=20)
    heights = ax.patches[0].get_data().values
    assert len(heights) == 20 and heights.sum() == tiny_bank.dim
    counts, _ = np.histogram(tiny_bank.hidden_states[2, 6].numpy(), bins=20)
    assert np.array_equal(heights, counts)
    assert "'bank'" in ax.get_title() and "layer 2" in ax.get_title()
    assert ax.get_xlabel() == "value"


def test_histogram_on_given_axes_and_vector(tiny_bank):
    fig, ax = plt.subplots()
    out = bk.plot_histogram(torch.arange(10.0), ax=ax, bins=5)
    assert out is ax and len(fig.axes) == 1
    # titles number words as e.words does (bk.find): the first "bank" is word 5 (token 6)
    assert bk.plot_histogram(tiny_bank, token="bank").get_title() == "word 5 'bank', layer 3"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"token": 99}, r"token must be a token index in \[-22, 21\] or a word string; got 99"),
     ({"token": "castle"}, "token 'castle' does not occur in this text; its words are: 'After', "),
     ({"word": "bank", "occurrence": 3}, r"occurrence must be an int in \[-3, 2\]: 'bank' occurs 3 times "
                                          r"\('bank vault', 'bank robber', 'river bank'\); got 3"),
     ({"token": 6, "word": 5}, "give token= or word=, not both"),
     ({"layer": 7}, r"layer must be an int in \[-4, 3\] \(0 = embeddings, negatives count from the top\); got 7"),
     ({"bins": 0}, "bins must be an int >= 1 or increasing bin edges"),
     ({"bins": [1.0, 0.5]}, "bins must be an int >= 1 or increasing bin edges")],
)
def test_histogram_bad_arguments(tiny_bank, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bk.plot_histogram(tiny_bank, **kwargs)


def test_heatmap_labels_values_and_colorbar():
    m = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
    ax = bk.plot_similarity_heatmap(m, ["a", "b"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert sorted(t.get_text() for t in ax.texts) == ["0.50", "0.50", "1.00", "1.00"]
    assert len(ax.figure.axes) == 2  # the colour bar
    assert np.allclose(ax.images[0].get_array(), m.numpy())
    with pytest.raises(ValueError, match="labels must match the matrix"):
        bk.plot_similarity_heatmap(m, ["a"])
    with pytest.raises(ValueError, match="must be a 2-D matrix"):
        bk.plot_similarity_heatmap(torch.ones(3))


def test_layer_similarity_curves(tiny_bank):
    c = bk.layer_similarity(tiny_bank, 5, 9)
    ax = bk.plot_layer_similarity({"bank~bank": c, "other": c * 0.5})
    assert len(ax.lines) == 2
    assert np.allclose(ax.lines[0].get_ydata(), c.numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["bank~bank", "other"]
    with pytest.raises(TypeError, match="curves must be a non-empty mapping"):
        bk.plot_layer_similarity([c])


def test_attention_one_head_and_specials(tiny_bank):
    e = tiny_bank
    ax = bk.plot_attention(e, layer=2, head=1)
    assert np.allclose(ax.images[0].get_array(), e.attentions[1, 1].numpy())
    ax = bk.plot_attention(e, layer=-1, head=0, specials="exclude")
    shown = ax.images[0].get_array()
    assert shown.shape == (e.n_tokens - 2, e.n_tokens - 2)
    assert "[CLS]" not in [t.get_text() for t in ax.get_xticklabels()]
    with pytest.raises(ValueError, match=r"layer must be an int in \[1, 3\]"):
        bk.plot_attention(e, layer=0)
    with pytest.raises(ValueError, match=r"head must be an int in \[0, 3\]; got 4"):
        bk.plot_attention(e, head=4)


def test_attention_needs_attentions(tiny):
    e = tiny.encode("the bank")
    with pytest.raises(ValueError, match="attentions=True"):
        bk.plot_attention(e)


def test_attention_grid(tiny_bank):
    axes = bk.plot_attention_grid(tiny_bank, specials="exclude")
    assert axes.shape == (3, 4)
    assert np.allclose(axes[2, 3].images[0].get_array(), tiny_bank.attentions[2, 3, 1:-1, 1:-1].numpy())
    assert axes[0, 0].get_ylabel() == "layer 1" and axes[0, 3].get_title() == "head 3"


def test_figures_export_to_png_and_svg(tiny_bank, tmp_path):
    ax = bk.plot_attention(tiny_bank)
    for ext in ("png", "svg"):
        ax.figure.savefig(tmp_path / f"a.{ext}")
        assert (tmp_path / f"a.{ext}").stat().st_size > 1000


def test_bad_ax():
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        bk.plot_histogram(torch.ones(3), ax="left")


# ---------------------------------------------------------------------------
# One way to pick a token or a word; figures a lecturer can project
# ---------------------------------------------------------------------------


def test_histogram_picks_words_the_same_way_as_find(tiny_bank):
    e = tiny_bank
    values = {}
    for kwargs in ({"token": 19}, {"word": 18}, {"word": "bank", "occurrence": 2}, {"token": "BANK", "occurrence": -1},
                   {"word": "Bank", "occurrence": 2}):
        ax = bk.plot_histogram(e, layer=1, bins=10, **kwargs)
        values[str(kwargs)] = ax.patches[0].get_data().values
        assert ax.get_title() == "word 18 'bank', layer 1"
    assert all(np.array_equal(v, next(iter(values.values()))) for v in values.values())
    assert bk.plot_histogram(e, token="[SEP]").get_title() == "'[SEP]', layer 3"
    assert bk.plot_histogram(e).get_title() == "'[CLS]', layer 3"  # token 0 by default, as before


def test_histogram_of_a_split_word_shows_its_first_piece(tiny):
    e = tiny.encode("the robbers fled")
    assert e.words == ("the", "robbers", "fled")
    ax = bk.plot_histogram(e, word="Robbers", layer=0, bins=8)
    t = e.word_ids.index(1)
    assert np.array_equal(ax.patches[0].get_data().values, np.histogram(e.hidden_states[0, t].numpy(), bins=8)[0])
    assert ax.get_title() == f"word 1 'robbers', piece {e.tokens[t]!r}, layer 0"
    with pytest.raises(bk.InvalidParameterError, match="'##s' is a piece of a longer word here"):
        bk.plot_histogram(e, word="##s")


def test_histogram_kwargs_go_to_matplotlib_and_vectors_take_no_word():
    ax = bk.plot_histogram(torch.arange(10.0), bins=5, alpha=0.4, label="x", color="tab:red")
    patch = ax.patches[0]
    assert patch.get_alpha() == 0.4 and patch.get_label() == "x"
    with pytest.raises(bk.InvalidParameterError, match="data is already a vector"):
        bk.plot_histogram(torch.arange(10.0), word="bank")
    # shared bin edges, to compare two histograms on one Axes
    ax = bk.plot_histogram(torch.arange(10.0), bins=np.array([0.0, 5.0, 10.0]))
    assert list(ax.patches[0].get_data().values) == [5, 5]


def test_heatmap_fixed_scale_labelled_colorbar_and_clipping_marks():
    m = torch.tensor([[1.0, 0.89], [0.89, 1.0]])
    ax = bk.plot_similarity_heatmap(m, ["a", "b"])
    bar = ax.images[0].colorbar
    assert ax.images[0].get_clim() == (0.0, 1.0)  # fixed: 0.89 is near the top, not the darkest colour
    assert bar.ax.get_ylabel() == "cosine similarity" and bar.extend == "neither"
    ax = bk.plot_similarity_heatmap(m, ["a", "b"], vmin=0.95)  # zoomed in: 0.89 is clipped
    assert ax.images[0].get_clim() == (0.95, 1.0) and ax.images[0].colorbar.extend == "min"
    ax = bk.plot_similarity_heatmap(m - 1.0, ["a", "b"], vmin=-0.1, vmax=-0.05)
    assert ax.images[0].colorbar.extend == "both"
    ax = bk.plot_similarity_heatmap(m * 2, vmin=None, vmax=None, colorbar_label="dot product")
    assert ax.images[0].get_clim() == pytest.approx((1.78, 2.0)) and ax.images[0].colorbar.extend == "neither"
    assert ax.images[0].colorbar.ax.get_ylabel() == "dot product"
    ax = bk.plot_similarity_heatmap(m, interpolation="nearest", alpha=0.5)  # passed to imshow
    assert ax.images[0].get_interpolation() == "nearest" and ax.images[0].get_alpha() == 0.5
    with pytest.raises(bk.InvalidParameterError, match="vmin must be smaller than vmax"):
        bk.plot_similarity_heatmap(m, vmin=1.0, vmax=0.5)
    with pytest.raises(bk.InvalidParameterError, match="extend must be one of"):
        bk.plot_similarity_heatmap(m, extend="lower")


def test_curves_and_probe_pass_kwargs_to_plot(tiny_bank):
    c = bk.layer_similarity(tiny_bank, "bank", ("bank", 2))
    ax = bk.plot_layer_similarity({"a": c}, linewidth=3, marker="s")
    assert ax.lines[0].get_linewidth() == 3 and ax.lines[0].get_marker() == "s"


def test_attention_of_one_query_as_bars(tiny_bank):
    e = tiny_bank
    ax = bk.plot_attention(e, layer=2, head=1, word="bank", occurrence=2)
    assert np.allclose([p.get_height() for p in ax.patches], e.attentions[1, 1, 19].numpy())
    assert ax.get_title() == "attention from word 18 'bank', layer 2, head 1"
    assert ax.get_ylabel() == "attention weight" and ax.get_xlabel() == "attended token (key)"
    assert ax.patches[19].get_facecolor() != ax.patches[18].get_facecolor()  # the query's own bar stands out
    ax = bk.plot_attention(e, layer=2, head=1, token=19, specials="exclude", color="tab:green")
    assert len(ax.patches) == e.n_tokens - 2
    ax = bk.plot_attention(e, layer=1, head=0, word=18, level="word")
    units = bk.attention_units(e)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(units)
    assert np.allclose([p.get_height() for p in ax.patches], bk.word_attention(e)[0, 0, 19].numpy())


def test_attention_heatmap_keeps_its_own_scale_and_labels_the_colorbar(tiny_bank):
    ax = bk.plot_attention(tiny_bank, layer=1, head=0, interpolation="nearest")
    top = float(tiny_bank.attentions[0, 0].max())
    assert ax.images[0].get_clim() == pytest.approx((0.0, top))
    assert ax.images[0].colorbar.ax.get_ylabel() == "attention weight"
    assert ax.images[0].get_interpolation() == "nearest"


def test_attention_grid_has_a_labelled_colorbar(tiny_bank):
    axes = bk.plot_attention_grid(tiny_bank)
    fig = axes[0, 0].figure
    assert len(fig.axes) == axes.size + 1
    assert "each panel's maximum" in fig.axes[-1].get_ylabel()
    assert [t.get_text() for t in fig.axes[-1].get_yticklabels()] == ["0", "max"]


def test_one_dimensional_data_is_drawn_in_one_dimension():
    g = torch.Generator().manual_seed(0)
    margin = torch.randn(20, generator=g)
    labels = ["pos"] * 10 + ["neg"] * 10
    ax = bk.plot_projection(margin[:, None], labels, legend_title="label")
    assert ax.get_xlabel() == "value" and [t.get_text() for t in ax.get_yticklabels()] == ["pos", "neg"]
    xs = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections])
    assert np.allclose(np.sort(xs), np.sort(margin.numpy()))
    # two logits that move in opposite directions lie on a line: PCA's second axis is empty
    logits = torch.stack([margin, 0.3 - margin], dim=1)
    ax = bk.plot_projection(logits, labels)
    assert ax.get_xlabel() == "PC1 (100.0% of variance)" and "1-D" in ax.get_title()
    assert ax.get_ylabel() == ""
    # real 2-D data stays 2-D
    ax = bk.plot_projection(torch.randn(20, 5, generator=g), labels)
    assert ax.get_ylabel().startswith("PC2")


# ---------------------------------------------------------------------------
# Long texts: bounded figures, thinned labels that never overlap
# ---------------------------------------------------------------------------


def _label_boxes_overlap(ax, axis):
    fig = ax.figure
    fig.canvas.draw()
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    boxes = [t.get_window_extent() for t in labels if t.get_text()]
    if axis == "x":  # rotated by 45 degrees: neighbours overlap when their anchors are closer than a line
        return any(b.x1 - a.x1 < 0.8 * t.get_fontsize() * fig.dpi / 72
                   for a, b, t in zip(boxes, boxes[1:], labels))
    return any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))


def test_long_matrix_figure_is_bounded_and_labels_thinned():
    n = 300
    labels = [f"w{i}" for i in range(n)]
    ax = bk.plot_similarity_heatmap(torch.rand(n, n), labels)
    w, h = ax.figure.get_size_inches()
    assert w <= 16 and h <= 15  # not 0.45 inch per row: a 300-row figure would be 137 inches
    shown = [t.get_text() for t in ax.get_yticklabels()]
    ticks = [int(v) for v in ax.get_yticks()]
    assert 1 < len(shown) < n and shown == [labels[i] for i in ticks]
    step = ticks[1] - ticks[0]
    assert step > 1 and ticks == list(range(0, n, step))
    assert ax.get_ylabel() == f"one label in {step}"
    assert not _label_boxes_overlap(ax, "y") and not _label_boxes_overlap(ax, "x")


def test_short_matrix_keeps_every_label(tiny_bank):
    ax = bk.plot_attention(tiny_bank)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(tiny_bank.tokens)
    assert ax.get_xlabel() == "attended token (key)" and ax.get_ylabel() == "attending token (query)"


def test_long_text_attention_and_rollout_stay_readable(tmp_path):
    from conftest import make_tiny_model

    long = bk.load(make_tiny_model(tmp_path / "long", max_positions=256), device="cpu")
    e = long.encode(" ".join(["the bank robber was seen fishing on the river bank"] * 14), attentions=True)
    assert len(e.tokens) > 140
    for ax in (bk.plot_attention(e, level="token"), bk.plot_rollout(e)):
        assert max(ax.figure.get_size_inches()) <= 16
        assert not _label_boxes_overlap(ax, "y")
    ax = bk.plot_attention(e, level="token")
    step = int(ax.get_xticks()[1] - ax.get_xticks()[0])
    assert step > 1 and ax.get_xlabel() == f"attended token (key; one label in {step})"
    bars = bk.plot_attention(e, token=5)
    assert bars.figure.get_size_inches()[0] <= 16 and not _label_boxes_overlap(bars, "x")
