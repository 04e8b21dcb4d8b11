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
    assert bk.plot_histogram(tiny_bank, token="bank").get_title().startswith("'bank' (token 6)")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"token": 99}, r"token must be a token string or an index in \[-22, 21\]; got 99"),
     ({"token": "castle"}, "token 'castle' is not among"),
     ({"layer": 7}, r"layer must be an int in \[-4, 3\]; got 7"),
     ({"bins": 0}, "bins must be an int >= 1; got 0")],
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
