"""Projections (PCA / t-SNE / UMAP) and their plots."""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

import bertviz_kit as bk  # noqa: E402

TEXTS = ["the bank robber was seen in the bank vault", "fishing on the river bank",
         "the money is in the bank", "a good bank and a bad bank"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(40, 16, generator=g)


def test_pca_matches_sklearn(data):
    got = bk.project(data)
    ref = PCA(n_components=2, random_state=0).fit_transform(data.numpy())
    assert got.shape == (40, 2)
    assert np.allclose(got, ref, atol=1e-4)
    normed = bk.project(data, normalize=True, n_components=3)
    unit = data / data.norm(dim=1, keepdim=True)
    assert np.allclose(normed, PCA(n_components=3).fit_transform(unit.numpy()), atol=1e-4)


def test_tsne_is_seeded(data):
    a = bk.project(data, "tsne", seed=1)
    b = bk.project(data, "tsne", seed=1)
    c = bk.project(data, "tsne", seed=2, perplexity=5.0)
    assert a.shape == (40, 2) and np.array_equal(a, b) and not np.allclose(a, c)
    assert bk.project(data[:5], "tsne").shape == (5, 2)  # small sets get a small default perplexity


def test_project_layers_uses_one_basis(data):
    stack = data.reshape(4, 10, 16)
    pts = bk.project_layers(stack, normalize=False)
    assert pts.shape == (4, 10, 2)
    ref = PCA(n_components=2, random_state=0).fit_transform(data.numpy()).reshape(4, 10, 2)
    assert np.allclose(pts, ref, atol=1e-4)
    centred = bk.project_layers(stack, normalize=False, center_layers=True)
    assert np.allclose(centred.mean(axis=1), 0.0, atol=1e-4)  # each layer's centre at the origin


def test_umap_missing_gives_install_hint(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(ImportError, match="pip install umap-learn"):
        bk.project(data, "umap")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"method": "mds"}, ValueError, r"method must be one of \('pca', 'tsne', 'umap'\); got 'mds'"),
     ({"n_components": 0}, ValueError, "n_components must be an int >= 1; got 0"),
     ({"n_components": 17}, ValueError, r"n_components must be at most min\(n, dim\) = 16"),
     ({"seed": -1}, ValueError, "seed must be an int >= 0; got -1"),
     ({"normalize": 1}, TypeError, "normalize must be True or False"),
     ({"method": "tsne", "perplexity": 40.0}, ValueError, r"perplexity must be a number in \(0, 40\)"),
     ({"perplexity": 5.0}, ValueError, "perplexity is a t-SNE option")],
)
def test_project_bad_arguments(data, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        bk.project(data, **kwargs)


def test_project_bad_inputs(data):
    with pytest.raises(ValueError, match=r"vectors must be 2-D \[n, dim\]; got shape \(16,\)"):
        bk.project(data[0])
    with pytest.raises(ValueError, match="at least 2 rows"):
        bk.project(data[:1])
    with pytest.raises(TypeError, match="vectors must be a tensor or array of numbers"):
        bk.project("abc")
    with pytest.raises(ValueError, match="NaN"):
        bk.project(torch.full((3, 2), float("nan")))
    with pytest.raises(ValueError, match=r"vectors must be 3-D \[n_layers, n, dim\]"):
        bk.project_layers(data)
    with pytest.raises(TypeError, match="center_layers must be True or False"):
        bk.project_layers(data.reshape(4, 10, 16), center_layers="yes")


def test_plot_projection_categories_and_numbers(data):
    labels = ["money"] * 25 + ["river"] * 15
    ax = bk.plot_projection(data, labels, legend_title="sense")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["money (25)", "river (15)"]
    assert ax.get_legend().get_title().get_text() == "sense"
    assert ax.get_xlabel().startswith("PC1 (") and "% of variance" in ax.get_ylabel()
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    assert offsets.shape == (40, 2)
    assert np.allclose(np.sort(offsets[:, 0]), np.sort(bk.project(data)[:, 0]), atol=1e-4)
    ax2 = bk.plot_projection(data, list(range(40)), method="tsne", title="numbers")
    assert len(ax2.figure.axes) == 2  # colour bar for numeric labels
    assert ax2.get_xlabel() == "t-SNE 1" and ax2.get_title() == "numbers"


def test_plot_projection_texts_and_axes(data):
    fig, ax = plt.subplots()
    out = bk.plot_projection(data[:4], texts=["a", "b", "c", "d"], ax=ax)
    assert out is ax and [t.get_text() for t in ax.texts] == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match=r"labels must hold one label per point \(40\); got 2"):
        bk.plot_projection(data, ["a", "b"])
    with pytest.raises(TypeError, match="labels must be a sequence"):
        bk.plot_projection(data, "money")


def test_plot_trajectory_on_tiny_model(tiny):
    es = tiny.encode(TEXTS)
    stack = bk.layer_occurrence_vectors(es, "bank")
    senses = ["money", "money", "river", "money", "other", "other"]
    ax = bk.plot_trajectory(stack, senses, legend_title="sense")
    assert len(ax.lines) == stack.shape[1]  # one path per occurrence
    layer_tags = [t.get_text() for t in ax.texts]
    assert layer_tags == [f"L{k}" for k in range(tiny.n_layers + 1)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["money (3)", "river (1)", "other (2)"]
    centred = bk.plot_trajectory(stack, senses, center_layers=True)
    assert len(centred.texts) == 0 and "layer centre" not in centred.get_title()
    pts = bk.project_layers(stack)
    assert np.allclose(ax.lines[2].get_xydata(), pts[:, 2], atol=1e-4)
    with pytest.raises(ValueError, match=r"layer_ids must name one layer per row of vectors \(4\); got 2"):
        bk.plot_trajectory(stack, layer_ids=[0, 1])


def test_projection_on_bundled_model_separates_senses(minilm):
    money = ["I deposited the cheque at the bank.", "The bank approved my loan.",
             "She works as a teller at the bank.", "The bank charges high fees."]
    river = ["We had a picnic on the river bank.", "The boat drifted to the bank of the stream.",
             "Reeds grow along the muddy bank.", "He fished from the grassy bank."]
    es = minilm.encode(money + river)
    occ = bk.occurrence_vectors(es, "bank", layers=3)
    pts = bk.project(occ)
    first = pts[:, 0]
    # the first principal axis splits the two senses
    assert (first[:4].max() < first[4:].min()) or (first[:4].min() > first[4:].max())
