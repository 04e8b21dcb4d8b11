"""Layer-wise probes, per-layer sentence vectors, and training the head on a frozen encoder."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import bertviz_kit as bk  # noqa: E402

GOOD = ["this is good", "good world", "that is good", "it is good", "good and good", "a good robber",
        "the good river", "hello good world", "good money", "good is good"]
BAD = ["this is bad", "bad world", "that is bad", "it is bad", "bad and bad", "a bad robber",
       "the bad river", "hello bad world", "bad money", "bad is bad"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def labelled(tiny):
    return tiny.encode(GOOD + BAD), ["good"] * 10 + ["bad"] * 10


def test_layer_sentence_vectors_match_sentence_vectors(labelled):
    es, _ = labelled
    stack = bk.layer_sentence_vectors(es)
    assert stack.shape == (es[0].n_layers + 1, len(es), es[0].dim)
    for layer in range(es[0].n_layers + 1):
        assert torch.allclose(stack[layer], bk.sentence_vectors(es, layers=layer), atol=1e-6)
    cls = bk.layer_sentence_vectors(es, pooling="cls")
    assert torch.allclose(cls[2], bk.sentence_vectors(es, layers=2, pooling="cls"))


def test_probe_finds_the_informative_layer():
    g = torch.Generator().manual_seed(0)
    n = 80
    y = np.array([0, 1] * (n // 2))
    x = torch.randn(3, n, 10, generator=g)
    x[1, :, 0] += torch.tensor(y * 4.0 - 2.0)  # layer 1 carries the label, layers 0 and 2 are noise
    r = bk.probe_layers(x, y.tolist(), cv=4, seed=0)
    assert r.mean.shape == (3,) and r.std.shape == (3,) and r.folds.shape == (3, 4)
    assert r.layer_ids == (0, 1, 2)
    assert r.mean[1] > 0.9 and r.mean[0] < 0.75 and r.mean[2] < 0.75
    assert r.best_layer == 1 and r.chance == 0.5
    assert torch.allclose(r.mean, r.folds.mean(dim=1))
    again = bk.probe_layers(x.numpy(), y, cv=4, seed=0)
    assert torch.equal(again.folds, r.folds)
    assert "best_layer=1" in repr(r)


def test_probe_on_encodings(labelled):
    es, labels = labelled
    r = bk.probe_layers(es, labels, cv=5)
    assert r.layer_ids == tuple(range(es[0].n_layers + 1))
    # the sentences differ by one word ("good"/"bad"): the embedding layer already separates them
    assert r.mean[0] >= 0.9


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"cv": 1}, ValueError, "cv must be an int >= 2; got 1"),
     ({"seed": -2}, ValueError, "seed must be an int >= 0; got -2"),
     ({"C": 0}, ValueError, "C must be a number > 0; got 0"),
     ({"max_iter": 0}, ValueError, "max_iter must be an int >= 1"),
     ({"pooling": "sum"}, ValueError, "pooling must be one of"),
     ({"progress": "yes"}, TypeError, "progress must be True or False"),
     ({"cv": 11}, ValueError, "every class needs at least cv=11 members")],
)
def test_probe_bad_arguments(labelled, kwargs, exc, match):
    es, labels = labelled
    with pytest.raises(exc, match=match):
        bk.probe_layers(es, labels, **kwargs)


def test_probe_bad_data(labelled):
    es, labels = labelled
    with pytest.raises(ValueError, match=r"labels must hold one label per row: 20; got 3"):
        bk.probe_layers(es, labels[:3])
    with pytest.raises(ValueError, match="at least two classes"):
        bk.probe_layers(es, ["good"] * 20)
    with pytest.raises(TypeError, match="got a single Encoding"):
        bk.probe_layers(es[0], labels)
    with pytest.raises(ValueError, match=r"data must have shape \[n_layers, n, dim\]"):
        bk.probe_layers(torch.zeros(20, 4), labels)
    with pytest.raises(TypeError, match="labels must be a sequence"):
        bk.probe_layers(es, "good")


def test_plot_probe(labelled):
    es, labels = labelled
    r = bk.probe_layers(es, labels, cv=2)
    ax = bk.plot_probe({"mean": r, "cls": bk.probe_layers(es, labels, cv=2, pooling="cls")})
    assert len(ax.lines) == 3  # two curves and the chance line
    assert ax.get_legend().get_texts()[0].get_text().startswith("mean (best: layer")
    assert np.allclose(ax.lines[0].get_ydata(), r.mean.numpy())
    assert any(t.get_text() == "chance 0.50" for t in ax.texts)
    with pytest.raises(TypeError, match="results must be a ProbeResult"):
        bk.plot_probe([r])


def test_fit_head_learns_frozen_features(tiny):
    m = bk.EncoderWithHead(tiny, out_features=2, freeze_encoder=True, seed=0)
    before = [p.clone() for p in m.encoder.parameters()]
    labels = ["good"] * 10 + ["bad"] * 10
    history = m.fit_head(GOOD + BAD, labels, epochs=60, lr=0.05, batch_size=8, seed=0)
    assert len(history) == 60 and history[-1] < history[0] * 0.5
    assert m.classes_ == ["bad", "good"]
    assert m.score(GOOD + BAD, labels) == 1.0
    assert m.predict(["good good"]) == ["good"]
    assert all(torch.equal(a, b) for a, b in zip(before, m.encoder.parameters()))
    out = m.transform(GOOD[:3])
    assert out.shape == (3, 2)
    feats = m.sentence_features(GOOD[:3])
    assert torch.allclose(feats, bk.sentence_vectors(tiny.encode(GOOD[:3]), layers=-1), atol=1e-5)
    assert torch.allclose(out, m.head(feats).detach(), atol=1e-5)


def test_fit_head_is_seeded(tiny):
    runs = []
    for _ in range(2):
        m = bk.EncoderWithHead(tiny, out_features=2, seed=5)
        runs.append((m.fit_head(GOOD + BAD, [1] * 10 + [0] * 10, epochs=5, seed=7), m.head.weight.detach()))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])


def test_fit_head_errors(tiny):
    m = bk.EncoderWithHead(tiny, out_features=3, seed=0)
    with pytest.raises(ValueError, match=r"out_features \(3\) must equal the number of classes \(2"):
        m.fit_head(GOOD, ["a", "b"] * 5)
    with pytest.raises(ValueError, match="call fit_head"):
        m.predict(GOOD)
    with pytest.raises(ValueError, match=r"labels must be a sequence with one label per text \(10\); got 2"):
        m.fit_head(GOOD, ["a", "b"])
    with pytest.raises(TypeError, match="texts must be a list of str; got str"):
        m.fit_head("good", ["a"])
    with pytest.raises(ValueError, match="epochs must be an int >= 1; got 0"):
        m.fit_head(GOOD, ["a", "b", "c"] * 3 + ["a"], epochs=0)
    with pytest.raises(ValueError, match="lr must be a number > 0"):
        m.fit_head(GOOD, ["a", "b", "c"] * 3 + ["a"], lr=0)
    # a text longer than the model is windowed as Encoder.encode does, never cut or refused
    long = ["good " * 100, "bad"]
    expected = bk.sentence_vectors(tiny.encode(long))
    torch.testing.assert_close(m.sentence_features(long), expected)
