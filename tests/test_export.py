"""Every public ``plot_*`` figure saves as PNG, SVG and PDF, its text kept in the file.

The list of builders below must name every ``plot_*`` function in ``bk.__all__``: a new plot
function without a way to build it here fails :func:`test_every_plot_function_is_covered`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from conftest import BANK_TEXT  # noqa: E402

import bertviz_kit as bk  # noqa: E402

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def inputs(tiny):
    bank = tiny.encode(BANK_TEXT, attentions=True)
    corpus = tiny.encode([BANK_TEXT, "the river bank", "money in the bank", "hello world"], attentions=True)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(tiny.n_layers + 1, 80, 8, generator=gen)
    y = ["a" if v > 0 else "b" for v in (x[2, :, 0] + 0.3 * torch.randn(80, generator=gen)).tolist()]
    return {
        "bank": bank,
        "corpus": corpus,
        "stack": x,
        "labels": y,
        "probe": bk.probe_layers(x, y, cv=2, seed=0),
        "mix": bk.scalar_mix_probe(x, y, seed=0, epochs=20),
        "stats": bk.head_statistics(corpus),
        "lens": bk.lens(bank, "bank", k=4, kind="embeddings", enc=tiny),
        "near": bk.nearest_contexts(corpus, corpus[0], "bank", layer=-1, k=3),
        "cka": bk.layer_cka(corpus),
    }


BUILDERS = {
    "plot_histogram": lambda d: bk.plot_histogram(d["bank"], "bank"),
    "plot_similarity_heatmap": lambda d: bk.plot_similarity_heatmap(
        bk.cosine(bk.word_vectors(d["bank"])), d["bank"].words
    ),
    "plot_layer_similarity": lambda d: bk.plot_layer_similarity({"bank ~ bank": torch.linspace(0.2, 0.9, 4)}),
    "plot_attention": lambda d: bk.plot_attention(d["bank"], level="word"),
    "plot_attention_grid": lambda d: bk.plot_attention_grid(d["bank"])[0, 0],
    "plot_projection": lambda d: bk.plot_projection(d["stack"][-1], d["labels"]),
    "plot_trajectory": lambda d: bk.plot_trajectory(d["stack"][:, :3], ["p", "q", "r"]),
    "plot_probe": lambda d: bk.plot_probe(d["probe"]),
    "plot_rollout": lambda d: bk.plot_rollout(d["bank"]),
    "plot_head_statistics": lambda d: bk.plot_head_statistics(d["stats"]),
    "plot_head_statistics_grid": lambda d: bk.plot_head_statistics_grid(d["stats"])[0, 0],
    "plot_cka": lambda d: bk.plot_cka(d["cka"]),
    "plot_scalar_mix": lambda d: bk.plot_scalar_mix(d["mix"]),
    "plot_cumulative_scoring": lambda d: bk.plot_cumulative_scoring(d["mix"]),
    "plot_lens": lambda d: bk.plot_lens(d["lens"]),
    "plot_nearest_contexts": lambda d: bk.plot_nearest_contexts(d["near"]),
    "plot_context_mixing": lambda d: bk.plot_context_mixing(bk.context_mixing(d["bank"], "rollout")),
}


def test_every_plot_function_is_covered():
    public = {n for n in bk.__all__ if n.startswith("plot_")}
    assert public == set(BUILDERS), f"missing: {public - set(BUILDERS)}; stale: {set(BUILDERS) - public}"


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_plot_saves_as_png_svg_pdf(name, inputs, tmp_path):
    ax = BUILDERS[name](inputs)
    fig = ax.figure
    words = _texts(fig)
    assert words, f"{name} draws no text"
    for fmt, magic in MAGIC.items():
        path = tmp_path / f"{name}.{fmt}"
        fig.savefig(path)
        data = path.read_bytes()
        assert data.startswith(magic) and len(data) > 1500, (name, fmt)
    # text stays text in an SVG written with svg.fonttype="none" (editable in a vector editor)
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(tmp_path / f"{name}-text.svg")
    svg = (tmp_path / f"{name}-text.svg").read_text(encoding="utf-8")
    label = max(words, key=len)
    from xml.sax.saxutils import escape

    assert escape(label) in svg or escape(label).replace("'", "&#x27;") in svg, (name, label)
    # a PNG at another resolution scales with it
    from PIL import Image

    sizes = []
    for dpi in (50, 100):
        fig.savefig(tmp_path / f"{name}-{dpi}.png", dpi=dpi)
        sizes.append(Image.open(tmp_path / f"{name}-{dpi}.png").size[0])
    assert np.isclose(sizes[1], 2 * sizes[0], atol=2), (name, sizes)
