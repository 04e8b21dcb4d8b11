"""Figures that do not mislead: cosine curves on a fixed scale unless a zoom is asked for and
said, accuracy bands inside [0, 1], explorer labels that do not run together."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

import bertviz_kit as bk
from bertviz_kit._validation import InvalidParameterError

matplotlib.use("Agg")


def test_layer_curves_use_the_fixed_cosine_scale_by_default():
    ax = bk.plot_layer_similarity({"a": [0.90, 0.92, 0.95], "b": [0.91, 0.93, 0.94]})
    assert ax.get_ylim() == pytest.approx((-0.2, 1.0))
    assert "zoomed" not in ax.get_ylabel()


def test_the_fixed_scale_widens_to_show_every_value():
    ax = bk.plot_layer_similarity({"a": [-0.6, 0.2, 1.0]})
    low, high = ax.get_ylim()
    assert low <= -0.6 - 0.04 and high >= 1.0


@pytest.mark.parametrize("ylim", ["data", (0.85, 0.97)])
def test_a_zoom_is_said_on_the_axis(ylim):
    ax = bk.plot_layer_similarity({"a": [0.90, 0.92, 0.95]}, ylim=ylim)
    low, high = ax.get_ylim()
    assert high - low < 0.2
    assert ax.get_ylabel() == f"cosine similarity (zoomed: {low:.2f} to {high:.2f})"


@pytest.mark.parametrize("ylim", ["auto", (1, 0), (0, float("nan")), (0,), True])
def test_a_bad_ylim_is_named(ylim):
    with pytest.raises(InvalidParameterError, match="ylim must be"):
        bk.plot_layer_similarity({"a": [0.9, 0.95]}, ylim=ylim)


def test_probe_band_stays_within_accuracy_range():
    result = bk.ProbeResult(mean=torch.tensor([0.6, 0.97, 0.99]), std=torch.tensor([0.05, 0.06, 0.04]),
                            folds=torch.zeros(3, 5), layer_ids=(0, 1, 2), chance=0.5)
    ax = bk.plot_probe(result)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.max() <= 1.0 + 1e-9 and band.min() >= 0.0
    assert "0.99)" in ax.get_legend().get_texts()[0].get_text()  # two decimals, as the noise supports


def test_the_explorer_curves_label_differs_from_the_colour_bar_beside_it(tiny):
    x = bk.Explorer(tiny.encode(bk.BANK_TEXT))
    fig = x.render()
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "cosine similarity" in labels  # the heatmap's colour bar
    assert labels.count("cosine similarity") == 1
    assert any(lab.startswith("cosine with") for lab in labels)
    assert np.isfinite(fig.get_size_inches()).all()


def _small_texts(fig) -> list[tuple[str, float]]:
    """Tick labels, legend texts and panel labels drawn below 9 pt at the figure's saved size."""
    fig.canvas.draw()
    texts = []
    for ax in fig.axes:
        texts += ax.get_xticklabels() + ax.get_yticklabels() + [ax.xaxis.label, ax.yaxis.label, ax.title]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts() + [ax.get_legend().get_title()]
    return [(t.get_text(), t.get_fontsize()) for t in texts if t.get_text() and t.get_fontsize() < 9]


def test_tick_labels_legends_and_panel_labels_are_at_least_9_pt(tiny):
    import matplotlib.pyplot as plt

    e = tiny.encode(bk.BANK_TEXT, attentions=True)
    result = bk.ProbeResult(mean=torch.tensor([0.6, 0.9]), std=torch.tensor([0.05, 0.04]),
                            folds=torch.zeros(2, 5), layer_ids=(0, 1), chance=0.5)
    figures = [
        bk.plot_layer_similarity({"a": [0.9, 0.8, 0.85], "b": [0.5, 0.6, 0.4]}).figure,
        bk.plot_probe(result).figure,
        bk.plot_projection(torch.randn(12, 8, generator=torch.Generator().manual_seed(0)), ["x", "y"] * 6,
                           legend_title="label").figure,
        bk.plot_attention(e, layer=1, head=0).figure,
        bk.plot_attention_grid(e)[0, 0].figure,
        bk.plot_context_mixing(bk.context_mixing(e, "attention"), layer=1).figure,
    ]
    try:
        assert [_small_texts(fig) for fig in figures] == [[]] * len(figures)
    finally:
        for fig in figures:
            plt.close(fig)
