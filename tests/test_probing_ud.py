"""Word-level probing on Universal Dependencies: alignment by character offsets, control
tasks (Hewitt & Liang 2019), splits by sentence, scalar mix (Tenney et al. 2019), plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import bertviz_kit as bk  # noqa: E402
from bertviz_kit.analysis.probing import _folds  # noqa: E402
from bertviz_kit.datasets import UDSentence  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def ud(text: str, words: list[str], spans: list[tuple[int, int] | None], upos: list[str] | None = None,
       deprels: list[str] | None = None) -> UDSentence:
    n = len(words)
    return UDSentence(sent_id="t", text=text, words=tuple(words), upos=tuple(upos or ["X"] * n),
                      heads=tuple([0] * n), deprels=tuple(deprels or ["dep"] * n), spans=tuple(spans))


def reference(corpus, sentences, subwords="mean"):
    """Slow reference: per sentence, per word, the tokens whose offsets overlap its span."""
    cols, kept, missing = [], [], []
    for i, s in enumerate(sentences):
        e = corpus[i]
        for j, span in enumerate(s.spans):
            toks = [] if span is None else [
                k for k, (w, (a, b)) in enumerate(zip(e.word_ids, e.offsets))
                if w is not None and b > a and a < span[1] and b > span[0]]
            if not toks:
                missing.append((i, j, s.words[j]))
                continue
            h = e.hidden_states[:, toks].float()
            cols.append(h.mean(1) if subwords == "mean" else h[:, 0])
            kept.append((i, j))
    return torch.stack(cols, 1), kept, missing


@pytest.fixture(scope="module")
def dev():
    return bk.datasets.ud_english_ewt("dev")


@pytest.fixture(scope="module")
def some(dev):
    """40 dev sentences, with multiword tokens ("didn't" -> "did" "n't") among them."""
    multi = [s for s in dev if s.multiword][:15]
    plain = [s for s in dev[:60] if not s.multiword][:25]
    return multi + plain


# ----------------------------------------------------------------------------- alignment


@pytest.mark.parametrize("subwords", ["mean", "first"])
def test_alignment_matches_slow_reference(tiny, some, subwords):
    es = tiny.encode([s.text for s in some])
    f = bk.ud_word_features(es, some, subwords=subwords)
    ref, kept, missing = reference(es, some, subwords)
    assert f.features.shape == ref.shape == (tiny.n_layers + 1, len(kept), tiny.dim)
    torch.testing.assert_close(f.features, ref, atol=1e-5, rtol=1e-5)
    assert [tuple(p) for p in zip(f.sentence.tolist(), f.position.tolist())] == kept
    assert f.alignment.unaligned == tuple(missing)
    assert f.alignment.n_words == sum(s.n_words for s in some) == f.alignment.n_aligned + len(missing)
    flat = [(i, j) for i, s in enumerate(some) for j in range(s.n_words)]
    pick = [flat.index(k) for k in kept]
    assert f.upos == tuple([u for s in some for u in s.upos][k] for k in pick)
    assert f.deprel == tuple([d for s in some for d in s.deprels][k] for k in pick)
    assert f.words == tuple([w for s in some for w in s.words][k] for k in pick)


def test_alignment_from_encoder_and_store_match(tiny, some, tmp_path):
    es = tiny.encode([s.text for s in some])
    a = bk.ud_word_features(es, some)
    b = bk.ud_word_features(tiny, some)
    torch.testing.assert_close(a.features, b.features)
    store = bk.extract(tiny, [s.text for s in some], tmp_path / "st", dtype="float32", shard_size=7,
                       progress=False)
    c = bk.ud_word_features(store, some)  # six shards: the alignment runs block by block
    torch.testing.assert_close(a.features, c.features, atol=1e-6, rtol=1e-6)
    assert a.upos == c.upos and torch.equal(a.sentence, c.sentence)
    d = bk.ud_word_features(tiny, some, layers=[0, -1])
    assert d.layer_ids == (0, tiny.n_layers)
    torch.testing.assert_close(d.features, a.features[[0, -1]])
    e = bk.ud_word_features(es, some, layers=-1)
    torch.testing.assert_close(e.features, a.features[-1:])


def test_multiword_token_shares_a_token(minilm):
    s = ud("They didn't go.", ["They", "did", "n't", "go", "."],
           [(0, 4), (5, 8), (8, 11), (12, 14), (14, 15)], ["PRON", "AUX", "PART", "VERB", "PUNCT"])
    e = minilm.encode(s.text)
    assert e.tokens[2:5] == ("didn", "'", "t")  # the tokenizer's words cut across UD's
    f = bk.ud_word_features([e], [s])
    assert f.words == ("They", "did", "n't", "go", ".")
    assert f.n_pieces.tolist() == [1, 1, 3, 1, 1]  # "didn" feeds "did" and "n't"; "n't" also gets "'" and "t"
    h = e.hidden_states
    torch.testing.assert_close(f.features[:, 1], h[:, 2])
    torch.testing.assert_close(f.features[:, 2], h[:, 2:5].mean(1))
    assert f.alignment.shared == ((0, 1, "did"), (0, 2, "n't"))
    assert f.alignment.unaligned == ()


def test_tricky_cases(tiny):
    cases = [
        # punctuation: every mark is a word on both sides
        ud("hello, world!", ["hello", ",", "world", "!"], [(0, 5), (5, 6), (7, 12), (12, 13)]),
        # one UD word, several tokenizer words ("e", "-", "mail") and pieces
        ud("an e-mail", ["an", "e-mail"], [(0, 2), (3, 9)]),
        # one token ("robber" is in the tiny vocabulary) spanning two UD words
        ud("robber", ["rob", "ber"], [(0, 3), (3, 6)]),
        # a word without a span and a word of characters the tokenizer drops
        ud("good \u200b bad", ["good", "\u200b", "bad", "lost"], [(0, 4), (5, 6), (7, 10), None]),
    ]
    es = tiny.encode([s.text for s in cases])
    f = bk.ud_word_features(es, cases)
    ref, kept, missing = reference(es, cases)
    torch.testing.assert_close(f.features, ref, atol=1e-5, rtol=1e-5)
    assert f.words == ("hello", ",", "world", "!", "an", "e-mail", "rob", "ber", "good", "bad")
    assert es[1].words == ("an", "e", "-", "mail")
    assert f.n_pieces[5] == len(es[1].tokens) - 2 - 1  # every token of "e-mail" (all but [CLS], "an", [SEP])
    assert f.n_pieces[[1, 3]].tolist() == [1, 1]  # "," and "!" are one token each
    torch.testing.assert_close(f.features[:, 6], f.features[:, 7])  # both halves read the one token
    assert f.alignment.shared == ((2, 0, "rob"), (2, 1, "ber"))
    assert f.alignment.unaligned == ((3, 1, "\u200b"), (3, 3, "lost")) == tuple(missing)
    assert f.sentence.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 3, 3]
    assert f.position.tolist() == [0, 1, 2, 3, 0, 1, 0, 1, 0, 2]
    text = repr(f.alignment)
    assert "n_unaligned=2" in text and "'lost'@3:3" in text and "n_shared=2" in text
    assert repr(f).startswith(f"WordFeatures(features=[{tiny.n_layers + 1}, 10, {tiny.dim}]")


def test_word_features_helpers(tiny, some):
    f = bk.ud_word_features(tiny, some[:5])
    assert f.word_types == tuple(w.lower() for w in f.words)
    assert all(":" not in d for d in f.deprel_universal)
    assert len(f.deprel_universal) == len(f)
    sub = f.subset([3, 1])
    assert sub.words == (f.words[3], f.words[1])
    torch.testing.assert_close(sub.features, f.features[:, [3, 1]])
    mask = f.sentence == 2
    assert f.subset(mask).sentence.unique().tolist() == [2]
    with pytest.raises(bk.InvalidParameterError, match="bool mask of length"):
        f.subset(torch.ones(3, dtype=torch.bool))
    with pytest.raises(bk.InvalidParameterError, match="positions in"):
        f.subset([len(f)])


def test_alignment_bad_inputs(tiny, some):
    es = tiny.encode([s.text for s in some[:3]])
    with pytest.raises(bk.InvalidParameterError, match="holds 3 texts"):
        bk.ud_word_features(es, some[:4])
    with pytest.raises(bk.InvalidParameterError, match=r"text 1 is .*sentences\[1\]\.text is"):
        bk.ud_word_features(es, [some[0], some[2], some[1]])
    with pytest.raises(bk.InvalidParameterError, match="sentences must be a list of UDSentence"):
        bk.ud_word_features(es, some[0])
    with pytest.raises(bk.InvalidParameterError, match=r"sentences\[0\] must be a UDSentence"):
        bk.ud_word_features(es, ["a text"])
    with pytest.raises(bk.InvalidParameterError, match="at least one UDSentence"):
        bk.ud_word_features(es, [])
    with pytest.raises(bk.InvalidParameterError, match="data must be an Encoder"):
        bk.ud_word_features("bert", some[:3])
    with pytest.raises(bk.InvalidParameterError, match="subwords must be one of"):
        bk.ud_word_features(es, some[:3], subwords="median")
    last = tiny.encode([s.text for s in some[:3]], layers=[-1])
    with pytest.raises(bk.InvalidParameterError, match="did not store"):
        bk.ud_word_features(last, some[:3], layers=[0])
    with pytest.raises(bk.InvalidParameterError, match="layers must be an int in"):
        bk.ud_word_features(es, some[:3], layers=99)
    bad = ud("a b", ["a", "b"], [(0, 1)])
    with pytest.raises(bk.InvalidParameterError, match="one form, UPOS tag, relation and span per word"):
        bk.ud_word_features(tiny, [bad])


def test_whole_dev_split_aligns(dev):
    """No encoder needed to see that every dev word has characters a token can cover:
    the spans cut the forms out of the texts."""
    for s in dev:
        for w, sp in zip(s.words, s.spans):
            assert sp is not None and s.text[sp[0]:sp[1]] == w


# ----------------------------------------------------------------------------- control task


def test_control_labels_one_label_per_type_and_the_label_distribution():
    rng = np.random.default_rng(1)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    names = np.array(["NOUN", "VERB", "DET", "X"])
    n_types = 6000
    types = [f"w{i}" for i in rng.integers(0, n_types, 30000)]
    labels = names[rng.choice(4, size=len(types), p=p)].tolist()
    ctrl = bk.control_labels(types, labels, seed=0)
    assert len(ctrl) == len(types) and set(ctrl) <= set(labels)
    per_type: dict[str, set] = {}
    for t, c in zip(types, ctrl):
        per_type.setdefault(t, set()).add(c)
    assert all(len(v) == 1 for v in per_type.values())  # one label per type
    first = {t: next(iter(v)) for t, v in per_type.items()}
    share = np.array([sum(v == k for v in first.values()) for k in names]) / len(first)
    observed = np.array([labels.count(k) for k in names]) / len(labels)
    np.testing.assert_allclose(share, observed, atol=0.02)  # types draw from the label distribution
    assert bk.control_labels(types, labels, seed=0) == ctrl
    assert bk.control_labels(types, labels, seed=1) != ctrl
    # a class that never occurs is never drawn; a single class gives that class
    assert set(bk.control_labels(["a", "b", "c"], ["x", "x", "x"])) == {"x"}


def test_control_labels_bad_inputs():
    with pytest.raises(bk.InvalidParameterError, match=r"word_types must hold one label per row: 2; got 1"):
        bk.control_labels(["a"], ["x", "y"])
    with pytest.raises(bk.InvalidParameterError, match="seed must be an int >= 0"):
        bk.control_labels(["a"], ["x"], seed=-1)
    with pytest.raises(bk.InvalidParameterError, match="labels must be a sequence"):
        bk.control_labels(["a"], "x")
    with pytest.raises(bk.InvalidParameterError, match="at least one label"):
        bk.control_labels([], [])


def type_data(n_sent=120, words=10, n_types=40, dim=48, seed=0):
    """Words whose features at layer 1 identify their type; layer 0 is noise."""
    g = np.random.default_rng(seed)
    types = [f"t{v}" for v in g.integers(0, n_types, n_sent * words)]
    emb = {f"t{v}": g.normal(size=dim) * 3 for v in range(n_types)}
    x = g.normal(size=(2, len(types), dim)).astype(np.float32)
    x[1] += np.array([emb[t] for t in types], dtype=np.float32)
    groups = np.repeat(np.arange(n_sent), words)
    return x, types, groups


def test_selectivity_is_zero_when_the_labels_are_a_control_task():
    x, types, groups = type_data()
    base = ["A"] * 600 + ["B"] * 400 + ["C"] * 200
    labels = bk.control_labels(types, base, seed=7)  # already a function of the word type
    r = bk.probe_layers(x, labels, word_types=types, groups=groups, control=True, cv=3, seed=0)
    assert r.control is not None and r.control.shape == (2,) and r.control_folds.shape == (2, 3)
    assert r.mean[1] > 0.9 and r.control[1] > 0.9  # layer 1 lets the probe memorise types
    assert torch.all(r.selectivity.abs() < 0.1), r
    torch.testing.assert_close(r.selectivity, r.mean - r.control)
    assert "selectivity=[" in repr(r) and "control=[" in repr(r)


def test_selectivity_separates_a_readable_label_from_memorised_types():
    x, types, groups = type_data()
    g = np.random.default_rng(3)
    y = g.integers(0, 2, len(types))
    x[0, :, 0] += (y * 2 - 1) * 4.0  # layer 0 reads the label (not a function of the type), not the type
    r = bk.probe_layers(x, y.tolist(), word_types=types, groups=groups, control=True, cv=3, seed=0,
                        probe="mlp", max_iter=200, hidden_size=32)
    assert r.probe == "mlp" and "probe='mlp'" in repr(r)
    assert r.mean[0] > 0.95 and r.control[0] < 0.7 and r.selectivity[0] > 0.3
    # layer 1 identifies the types but not the label: the probe memorises the control task
    assert r.mean[1] < 0.7 and r.control[1] > 0.9 and r.selectivity[1] < 0


def test_word_features_bring_groups_and_types(tiny, some):
    f = bk.ud_word_features(tiny, some)
    r = bk.probe_layers(f, f.upos, control=True, cv=3, seed=0, max_iter=200)
    assert r.layer_ids == f.layer_ids and r.control is not None
    again = bk.probe_layers(f, f.upos, control=True, cv=3, seed=0, max_iter=200,
                            groups=f.sentence.tolist(), word_types=list(f.word_types))
    assert torch.equal(r.folds, again.folds) and torch.equal(r.control_folds, again.control_folds)


@pytest.mark.filterwarnings("ignore:The groups parameter is ignored")
def test_split_by_sentence_never_shares_a_sentence():
    from sklearn.model_selection import GroupShuffleSplit, KFold

    g = np.repeat(np.arange(50), np.random.default_rng(0).integers(1, 9, 50))
    y = np.arange(len(g)) % 3
    x0 = np.zeros((len(g), 2))
    for cv in (2, 5, GroupShuffleSplit(n_splits=3, test_size=0.3, random_state=0)):
        splits = _folds(cv, x0, y, g, seed=4)
        for train, test in splits:
            assert not set(g[train]) & set(g[test])
            assert len(train) + len(test) == len(g) or not isinstance(cv, int)
        if isinstance(cv, int):  # k folds cover every row once
            assert sorted(np.concatenate([t for _, t in splits]).tolist()) == list(range(len(g)))
    with pytest.raises(bk.InvalidParameterError, match="one group .* on both sides"):
        _folds(KFold(3), x0, y, g, seed=0)
    with pytest.raises(bk.InvalidParameterError, match="need at least 60 groups"):
        _folds(60, x0, y, g, seed=0)


def test_probe_with_a_splitter_and_no_groups():
    from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

    x, types, groups = type_data(n_sent=40)
    y = [t[-1] in "01234" for t in types]
    r = bk.probe_layers(x, y, cv=ShuffleSplit(n_splits=2, test_size=0.25, random_state=0))
    assert r.folds.shape == (2, 2)
    one = bk.probe_layers(x, y, groups=groups, cv=GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=0))
    assert one.folds.shape == (2, 1) and float(one.std.max()) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"control": True, "word_types": ["a"] * 40}, "control=True probes words: pass groups="),
     ({"control": True, "word_types": None, "groups": list(range(40))}, "control=True needs word_types"),
     ({"probe": "svm"}, r"probe must be one of \('linear', 'mlp'\); got 'svm'"),
     ({"hidden_size": 0}, "hidden_size must be an int >= 1; got 0"),
     ({"alpha": -1.0}, "alpha must be a number >= 0"),
     ({"control": "yes"}, "control must be True or False"),
     ({"cv": "kfold"}, "cv must be an int >= 2 or a scikit-learn splitter"),
     ({"cv": 1}, "cv must be an int >= 2; got 1"),
     ({"groups": [0, 1]}, r"groups must hold one label per row: 40; got 2"),
     ({"word_types": ["a"], "groups": list(range(40)), "control": True}, "word_types must hold one label per row")],
)
def test_probe_bad_arguments(kwargs, match):
    x = np.random.default_rng(0).normal(size=(2, 40, 3))
    with pytest.raises(bk.InvalidParameterError, match=match):
        bk.probe_layers(x, [0, 1] * 20, **kwargs)


# ----------------------------------------------------------------------------- scalar mix


def one_layer_data(n=600, layers=5, dim=16, informative=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(layers, n, dim, generator=g)
    x[informative, :, :3] += 2.5 * torch.nn.functional.one_hot(y, 3).float()
    return x, y.tolist(), (torch.arange(n) // 6).tolist()


def test_scalar_mix_concentrates_on_the_informative_layer():
    x, y, groups = one_layer_data()
    r = bk.scalar_mix_probe(x, y, groups=groups, seed=0)
    assert r.weights.shape == (5,)
    assert float(r.weights.sum()) == pytest.approx(1.0, abs=1e-6)
    assert int(r.weights.argmax()) == 3 and r.weights[3] > 0.6
    assert abs(r.center_of_gravity - 3) < 0.6
    assert r.accuracy > 0.8 and r.chance < 0.5 and r.gamma > 0
    assert r.cumulative.shape == (5,) and r.cumulative[-1] == pytest.approx(r.accuracy)
    assert int(r.deltas.argmax()) == 2  # the gain comes with layer 3 (deltas start at layer 1)
    assert abs(r.expected_layer - 3) < 0.5
    assert r.n_train + r.n_test == 600 and r.n_test == pytest.approx(150, abs=6)
    assert "center_of_gravity=" in repr(r) and "expected_layer=" in repr(r)
    again = bk.scalar_mix_probe(x, y, groups=groups, seed=0)
    assert torch.equal(r.weights, again.weights) and r.accuracy == again.accuracy
    low = bk.scalar_mix_probe(*one_layer_data(informative=1)[:2], seed=0, cumulative=False, batch_size=64)
    assert int(low.weights.argmax()) == 1 and low.center_of_gravity < r.center_of_gravity
    assert low.cumulative is None and low.expected_layer is None and low.deltas is None


def test_scalar_mix_on_word_features(tiny, some):
    f = bk.ud_word_features(tiny, some)
    r = bk.scalar_mix_probe(f, f.upos, seed=0, epochs=20)
    assert r.layer_ids == f.layer_ids and float(r.weights.sum()) == pytest.approx(1.0, abs=1e-6)
    assert 0 <= r.center_of_gravity <= tiny.n_layers
    assert r.n_train + r.n_test == len(f)


def test_expected_layer_is_nan_without_gains():
    r = bk.ScalarMixResult(weights=torch.full((3,), 1 / 3), gamma=1.0, layer_ids=(0, 1, 2), accuracy=0.5,
                           chance=0.5, cumulative=torch.tensor([0.6, 0.55, 0.5]), n_train=10, n_test=5)
    assert np.isnan(r.expected_layer) and r.center_of_gravity == pytest.approx(1.0)
    r2 = bk.ScalarMixResult(weights=torch.full((3,), 1 / 3), gamma=1.0, layer_ids=(0, 1, 2), accuracy=0.9,
                            chance=0.5, cumulative=torch.tensor([0.5, 0.6, 0.9]), n_train=10, n_test=5)
    assert r2.expected_layer == pytest.approx((1 * 0.1 + 2 * 0.3) / 0.4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"test_size": 1.0}, r"test_size must be a number in \(0, 1\); got 1.0"),
     ({"epochs": 0}, "epochs must be an int >= 1; got 0"),
     ({"lr": 0}, "lr must be a number > 0"),
     ({"batch_size": 0}, "batch_size must be an int >= 1 or None"),
     ({"standardize": 1}, "standardize must be True or False"),
     ({"groups": [0] * 40}, "at least two groups"),
     ({"groups": [0, 1]}, r"groups must hold one label per row: 40; got 2")],
)
def test_scalar_mix_bad_arguments(kwargs, match):
    x = torch.randn(3, 40, 4)
    with pytest.raises(bk.InvalidParameterError, match=match):
        bk.scalar_mix_probe(x, [0, 1] * 20, **kwargs)


def test_scalar_mix_bad_data():
    with pytest.raises(bk.InvalidParameterError, match="at least two classes"):
        bk.scalar_mix_probe(torch.randn(3, 40, 4), [1] * 40)
    with pytest.raises(bk.InvalidParameterError, match=r"data must have shape \[n_layers, n, dim\]"):
        bk.scalar_mix_probe(torch.randn(40, 4), [0, 1] * 20)
    with pytest.raises(bk.InvalidParameterError, match="labels must hold one label per row: 40; got 3"):
        bk.scalar_mix_probe(torch.randn(2, 40, 4), [0, 1, 0])


# ----------------------------------------------------------------------------- plots


def test_plot_probe_with_control():
    x, types, groups = type_data(n_sent=60)
    y = [t[-1] in "01234" for t in types]
    lin = bk.probe_layers(x, y, word_types=types, groups=groups, control=True, cv=2)
    plain = bk.probe_layers(x, y, groups=groups, cv=2)
    ax = bk.plot_probe({"linear": lin, "no control": plain})
    assert len(ax.lines) == 5  # accuracy, control, selectivity; one accuracy curve; one chance line
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("linear (best: layer") and labels[1] == "linear: control task"
    assert labels[2].startswith("linear: selectivity (best: layer")
    assert np.allclose(ax.lines[1].get_ydata(), lin.control.numpy())
    assert np.allclose(ax.lines[2].get_ydata(), lin.selectivity.numpy())
    assert ax.get_ylabel() == "accuracy / selectivity"
    ax2 = bk.plot_probe(lin, control=False, selectivity=False)
    assert len(ax2.lines) == 2
    ax3 = bk.plot_probe(lin, linewidth=3, marker="x")  # keyword arguments reach every curve
    assert [line.get_linewidth() for line in ax3.lines[:3]] == [3, 3, 3]
    assert ax3.lines[0].get_marker() == "x" and ax3.lines[1].get_linestyle() == "--"
    with pytest.raises(bk.InvalidParameterError, match="selectivity must be True or False"):
        bk.plot_probe(lin, selectivity="yes")


def test_plot_scalar_mix_and_cumulative_scoring():
    x, y, groups = one_layer_data()
    hi = bk.scalar_mix_probe(x, y, groups=groups, seed=0, epochs=60)
    lo = bk.scalar_mix_probe(*one_layer_data(informative=1)[:2], seed=0, epochs=60)
    fig, (a, b) = plt.subplots(1, 2)
    ax = bk.plot_scalar_mix({"high": hi, "low": lo}, ax=a)
    assert ax is a and len(ax.patches) == 10
    heights = [p.get_height() for p in ax.patches]
    assert np.allclose(heights[:5], hi.weights.numpy()) and np.allclose(heights[5:], lo.weights.numpy())
    xs = sorted(line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "-")
    assert np.allclose(xs, sorted([hi.center_of_gravity, lo.center_of_gravity]))
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("high: centre of gravity") for t in texts)
    assert any(t.startswith("low: expected layer") for t in texts)
    assert ax.get_xlabel() == "layer (0 = embeddings)" and "weight" in ax.get_ylabel()
    ax2 = bk.plot_cumulative_scoring({"high": hi, "low": lo}, ax=b)
    assert np.allclose(ax2.lines[0].get_ydata(), hi.cumulative.numpy())
    assert bk.plot_scalar_mix(hi, expected_layer=False).get_legend() is not None
    no_cum = bk.scalar_mix_probe(x, y, seed=0, epochs=5, cumulative=False)
    bk.plot_scalar_mix(no_cum)
    with pytest.raises(bk.InvalidParameterError, match="has no cumulative scores"):
        bk.plot_cumulative_scoring({"x": no_cum})
    with pytest.raises(bk.InvalidParameterError, match="results must be a ScalarMixResult"):
        bk.plot_scalar_mix([hi])
