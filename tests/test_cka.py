"""CKA: bk.cka against explicit Gram-matrix HSIC formulas and its invariances; bk.layer_cka's
streaming sums against full-batch values (many small blocks, stores, another model, aligned spans)."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from conftest import BANK_TEXT, make_tiny_model  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import bertviz_kit as bk  # noqa: E402
from bertviz_kit.encoding import Encodings  # noqa: E402

TEXTS = [BANK_TEXT, "the bank was good", "hello world , the robber robs the bank", "",
         "a river bank and a bank of the river", "this is it", "bank", "the money is in the bank vault",
         "fishing on the river was good", "that robber , the bad one , robs a bank"]


# -- slow references: explicit n x n Gram matrices ------------------------------------

def _gram(x):
    x = np.asarray(x, dtype=np.float64)
    return x @ x.T


def _hsic_biased(k, l_):
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ l_ @ h) / (n - 1) ** 2


def _hsic_unbiased(k, l_):
    """Song et al. (2012), eq. (5): the unbiased HSIC estimator."""
    n = k.shape[0]
    k, l_ = k.copy(), l_.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l_, 0)
    one = np.ones(n)
    return (np.trace(k @ l_) + (one @ k @ one) * (one @ l_ @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ k @ l_ @ one) / (n * (n - 3))


def _ref_cka(x, y, debiased=False):
    hsic = _hsic_unbiased if debiased else _hsic_biased
    k, l_ = _gram(x), _gram(y)
    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


def _random(seed, n, d, offset=0.0):
    return np.random.default_rng(seed).normal(size=(n, d)) + offset


def _related(seed, n, d1, d2, noise):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d1)) * rng.uniform(0.2, 3, size=d1)
    y = x @ rng.normal(size=(d1, d2)) + noise * rng.normal(size=(n, d2))
    return x, y


# -- two matrices ------------------------------------------------------------------------

@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize(("n", "d1", "d2"), [(40, 5, 7), (12, 30, 50), (6, 3, 2)])
def test_cka_equals_gram_matrix_reference(debiased, n, d1, d2):
    for seed, noise in [(0, 0.3), (1, 2.0), (2, 10.0)]:
        x, y = _related(seed, n, d1, d2, noise)
        x = x + 50.0  # a large offset: centring is part of the definition
        got = bk.cka(x, y, debiased=debiased)
        assert isinstance(got, float)
        assert got == pytest.approx(_ref_cka(x, y, debiased), abs=1e-7)
        assert bk.cka(torch.tensor(x, dtype=torch.float32), torch.tensor(y), debiased) == pytest.approx(got, abs=1e-5)


def test_cka_of_one_feature_is_squared_correlation():
    x, y = _related(3, 50, 1, 1, 1.0)
    r = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
    assert bk.cka(x[:, 0], y[:, 0]) == pytest.approx(r**2, abs=1e-12)


def test_debiased_is_lower_for_few_examples_of_independent_features():
    x, y = _random(0, 30, 200), _random(1, 30, 200)
    biased, debiased = bk.cka(x, y), bk.cka(x, y, debiased=True)
    assert biased > 0.5  # plain CKA of independent noise: inflated when n << d
    assert abs(debiased) < 0.1


arrays = st.builds(lambda seed, n, d: _random(seed, n, d, offset=seed % 7 - 3),
                   st.integers(0, 10_000), st.integers(5, 30), st.integers(1, 12))


@settings(max_examples=60, deadline=None)
@given(x=arrays, seed=st.integers(0, 10_000), debiased=st.booleans())
def test_cka_with_itself_and_rotations_is_one(x, seed, debiased):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(x.shape[1], x.shape[1])))
    assert bk.cka(x, x, debiased) == pytest.approx(1.0, abs=1e-9)
    assert bk.cka(x, x @ q, debiased) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(x=arrays, seed=st.integers(0, 10_000), a=st.floats(1e-150, 1e150), b=st.floats(1e-3, 1e3),
       sign=st.sampled_from([-1.0, 1.0]), shift=st.floats(-100, 100), debiased=st.booleans())
def test_cka_is_invariant_to_isotropic_scaling_and_translation(x, seed, a, b, sign, shift, debiased):
    b = sign * b
    y = x[:, ::-1] ** 2 + np.random.default_rng(seed).normal(size=x.shape)
    base = bk.cka(x, y, debiased)
    assert bk.cka(a * x, y, debiased) == pytest.approx(base, abs=1e-8)
    assert bk.cka(x + shift, b * y, debiased) == pytest.approx(base, abs=1e-8)
    assert bk.cka(y, x, debiased) == pytest.approx(base, abs=1e-10)  # symmetric


def test_cka_is_not_invariant_to_any_invertible_map():
    x = _random(0, 200, 6)
    stretch = np.diag([1, 1, 1, 1, 1, 30.0])
    assert bk.cka(x, x @ stretch) < 0.5


def test_cka_errors():
    x = _random(0, 10, 3)
    with pytest.raises(bk.InvalidParameterError, match="same examples .* got 10 rows in x and 9 in y"):
        bk.cka(x, x[:9])
    with pytest.raises(ValueError, match="debiased CKA needs at least 4 examples"):
        bk.cka(x[:3], x[:3], debiased=True)
    with pytest.raises(ValueError, match="CKA needs at least 2 examples"):
        bk.cka(x[:1], x[:1])
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="x holds NaN or infinite values"):
        bk.cka(bad, x)
    with pytest.raises(ValueError, match="y holds NaN"):
        bk.cka(x, torch.tensor(bad).masked_fill(torch.tensor(np.isnan(bad)), float("inf")))
    with pytest.raises(ValueError, match="x has no variance"):
        bk.cka(np.ones((10, 3)), x)
    with pytest.raises(ValueError, match=r"must be 2-D \[n, dim\].*got shape \(2, 5, 1\)"):
        bk.cka(np.zeros((2, 5, 1)), x)
    with pytest.raises(TypeError, match="x must be a tensor or array of numbers"):
        bk.cka("abc", x)
    with pytest.raises(bk.InvalidParameterError, match="debiased must be True or False"):
        bk.cka(x, x, debiased="yes")


# -- every pair of layers: streaming sums against full-batch values ----------------------

@pytest.fixture(scope="module")
def es(tiny):
    return tiny.encode(TEXTS)


def _with_hidden(es, hidden):
    """The same texts with other hidden states (layers made to differ, and offset)."""
    return Encodings(texts=es.texts, hidden=hidden, token_starts=es.token_starts, input_ids=es.input_ids,
                     word_index=es.word_index, offsets=es.offsets, layer_ids=es.layer_ids,
                     n_layers=es.n_layers, tokens=[es.text_tokens(i) for i in range(len(es))])


@pytest.fixture(scope="module")
def varied(es):
    """Layers that differ a lot (the tiny random model's layers are nearly alike), with a big offset."""
    g = torch.Generator().manual_seed(0)
    h = es.hidden.clone()
    for k in range(1, h.shape[1]):
        mix = torch.randn(h.shape[2], h.shape[2], generator=g) / h.shape[2] ** 0.5
        h[:, k] = h[:, k - 1] @ mix + k * torch.randn(h[:, k].shape, generator=g) + 30.0
    return _with_hidden(es, h)


def _words(corpus):
    """Every word's vectors at every layer, one text at a time: [L, n_words, D]."""
    return torch.cat([bk.layer_word_vectors(e) for e in corpus if e.n_words], dim=1)


def _tokens(corpus):
    return torch.cat([e.hidden_states[:, ~e.special_mask] for e in corpus], dim=1).float()


def _pairwise(a, b, debiased):
    return torch.tensor([[bk.cka(a[i], b[j], debiased) for j in range(b.shape[0])] for i in range(a.shape[0])])


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("block", [None, 3, 11, 40])
def test_layer_cka_streams_to_the_full_batch_value(varied, monkeypatch, debiased, block):
    ref = _pairwise(_words(varied), _words(varied), debiased)
    assert 0.05 < float(ref.min()) < 0.9  # the layers really differ
    if block is not None:
        monkeypatch.setattr(bk.Corpus, "_block_tokens", lambda self, max_tokens=None: block)
        assert len(list(varied.blocks())) >= 3
    got = bk.layer_cka(varied, debiased=debiased)
    assert got.shape == (4, 4) and got.dtype == torch.float32
    assert torch.allclose(got, ref.float(), atol=1e-5)
    assert torch.equal(got, got.T) and torch.equal(torch.diagonal(got), torch.ones(4))
    tokens = bk.layer_cka(varied, debiased=debiased, unit="token")
    assert torch.allclose(tokens, _pairwise(_tokens(varied), _tokens(varied), debiased).float(), atol=1e-5)


@pytest.mark.parametrize("subwords", ["first", "max"])
def test_layer_cka_pools_subwords_as_asked(varied, subwords):
    vecs = torch.cat([bk.layer_word_vectors(e, subwords) for e in varied if e.n_words], dim=1)
    assert torch.allclose(bk.layer_cka(varied, subwords=subwords), _pairwise(vecs, vecs, False).float(), atol=1e-5)


def test_layer_cka_of_a_store_and_a_list(tiny, es, tmp_path, monkeypatch):
    ref = bk.layer_cka(es, debiased=True)
    store = bk.extract(tiny, TEXTS, tmp_path / "store", dtype="float32", shard_size=2, progress=False)
    assert torch.allclose(bk.layer_cka(store, debiased=True), ref, atol=1e-5)
    assert torch.allclose(bk.layer_cka(list(es), debiased=True), ref, atol=1e-5)
    monkeypatch.setattr(bk.Corpus, "_block_tokens", lambda self, max_tokens=None: 5)
    assert torch.allclose(bk.layer_cka(store, debiased=True), ref, atol=1e-5)
    half = bk.extract(tiny, TEXTS, tmp_path / "half", dtype="float16", shard_size=3, progress=False)
    assert torch.allclose(bk.layer_cka(half), bk.layer_cka(es), atol=1e-3)


def _minibatch_reference(vecs, owner, batch_texts):
    """Nguyen et al.'s minibatch CKA with explicit Gram matrices: per minibatch of texts, the unbiased
    HSIC of every pair of layers; averaged over minibatches (weighted by words), then the ratio."""
    layers = vecs.shape[0]
    total = np.zeros((layers, layers))
    for batch in np.unique(owner // batch_texts):
        rows = owner // batch_texts == batch
        if rows.sum() < 4:
            continue
        grams = [_gram(vecs[k, rows]) for k in range(layers)]
        total += rows.sum() * np.array([[_hsic_unbiased(a, b) for b in grams] for a in grams])
    d = np.sqrt(np.diag(total))
    return torch.tensor(total / d[:, None] / d[None, :])


def test_minibatch_cka_averages_unbiased_hsic_over_minibatches(tiny, varied, monkeypatch, tmp_path):
    vecs = _words(varied).double().numpy()
    owner = np.repeat(np.arange(len(varied)), varied.word_counts().numpy())
    for batch_texts in (2, 3, 7):
        ref = _minibatch_reference(vecs, owner, batch_texts)
        got = bk.layer_cka(varied, debiased=True, estimator="minibatch", batch_texts=batch_texts)
        assert torch.allclose(got, ref.float(), atol=1e-5)
        with monkeypatch.context() as m:  # minibatches cut across blocks
            m.setattr(bk.Corpus, "_block_tokens", lambda self, max_tokens=None: 7)
            again = bk.layer_cka(varied, debiased=True, estimator="minibatch", batch_texts=batch_texts)
        assert torch.allclose(again, got, atol=1e-5)
    # by default a block is a minibatch: a store's shard
    store = bk.extract(tiny, TEXTS, tmp_path / "s", dtype="float32", shard_size=3, progress=False)
    by_shard = bk.layer_cka(store, debiased=True, estimator="minibatch")
    assert torch.allclose(by_shard, bk.layer_cka(store, debiased=True, estimator="minibatch", batch_texts=3),
                          atol=1e-5)
    one_block = bk.layer_cka(varied, debiased=True, estimator="minibatch")
    assert torch.allclose(one_block, bk.layer_cka(varied, debiased=True), atol=1e-5)
    assert not torch.allclose(got, one_block, atol=1e-3)  # minibatch CKA is not the full-batch value


def test_minibatch_paths_agree():
    """A small minibatch ends with Gram matrices, a large one with feature sums: same estimates."""
    from bertviz_kit.analysis.cka import _gram_hsic, _Sums

    x, y = _related(0, 30, 3 * 5, 2 * 7, 1.0)
    x, y = torch.tensor(x + 20.0, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    upper = _Sums(3, 5, 3, 5, "upper", True, torch.device("cpu"))
    upper.add(x - x.mean(0))
    assert torch.allclose(_gram_hsic(x, 3, 5)[0], upper.hsic(), atol=1e-8)
    sums = [_Sums(3, 5, 2, 7, "all", True, torch.device("cpu")), _Sums(3, 5, 3, 5, "diag", True, torch.device("cpu")),
            _Sums(2, 7, 2, 7, "diag", True, torch.device("cpu"))]
    sums[0].add(x[:11], y[:11])
    sums[0].add(x[11:], y[11:])
    sums[1].add(x)
    sums[2].add(y)
    for got, ref in zip(_gram_hsic(x, 3, 5, y, 2, 7), sums):
        assert torch.allclose(got, ref.hsic(), atol=1e-8)
    ref = _hsic_unbiased(_gram(x[:, 5:10]), _gram(y[:, 7:])) * 30 * 27
    assert float(_gram_hsic(x, 3, 5, y, 2, 7)[0][1, 1]) == pytest.approx(ref, rel=1e-9)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    return bk.load(make_tiny_model(tmp_path_factory.mktemp("wide"), hidden=48, n_layers=2, seed=1), device="cpu")


@pytest.mark.parametrize("debiased", [False, True])
def test_cross_model_cka(es, wide, monkeypatch, debiased):
    other = wide.encode(TEXTS)
    ref = _pairwise(_words(es), _words(other), debiased)
    got = bk.layer_cka(es, other, debiased=debiased)
    assert got.shape == (4, 3)
    assert torch.allclose(got, ref.float(), atol=1e-5)
    assert 0.1 < float(got.min()) and float(got.max()) < 0.99
    assert torch.allclose(bk.layer_cka(other, es, debiased=debiased), got.T, atol=1e-5)
    monkeypatch.setattr(bk.Corpus, "_block_tokens", lambda self, max_tokens=None: 9)  # blocks do not line up
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every word aligns: no warning
        assert torch.allclose(bk.layer_cka(es, other, debiased=debiased), got, atol=1e-5)
    tokens = bk.layer_cka(es, other, debiased=debiased, unit="token")
    assert torch.allclose(tokens, _pairwise(_tokens(es), _tokens(other), debiased).float(), atol=1e-5)
    assert torch.allclose(bk.layer_cka(es, es, debiased=debiased), bk.layer_cka(es, debiased=debiased))


@pytest.fixture(scope="module")
def whitespace(tiny_path):
    """The tiny model with a tokenizer that splits words on whitespace only ("vault," is one word)."""
    from tokenizers import pre_tokenizers

    enc = bk.load(tiny_path, device="cpu")
    enc.tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return enc


def test_words_align_by_character_span(es, whitespace, monkeypatch):
    other = whitespace.encode(TEXTS)
    assert other[0].words[6] == "vault," and es[0].words[6:8] == ("vault", ",")
    # the reference: words whose (text, start, end) is the same on both sides
    a_vecs, b_vecs = [], []
    for e, o in zip(es, other):
        spans = {s: j for j, s in enumerate(o.word_spans)}
        keep = [(i, spans[s]) for i, s in enumerate(e.word_spans) if s in spans]
        if keep:
            a_vecs.append(bk.layer_word_vectors(e)[:, [i for i, _ in keep]])
            b_vecs.append(bk.layer_word_vectors(o)[:, [j for _, j in keep]])
    a, b = torch.cat(a_vecs, 1), torch.cat(b_vecs, 1)
    n_es, n_other = int(es.word_counts().sum()), int(other.word_counts().sum())
    with pytest.warns(UserWarning, match=rf"{n_es - a.shape[1]} of {n_es} words of corpus and "
                                         rf"{n_other - a.shape[1]} of {n_other} of other .* {a.shape[1]} aligned"):
        got = bk.layer_cka(es, other)
    assert torch.allclose(got, _pairwise(a, b, False).float(), atol=1e-5)
    monkeypatch.setattr(bk.Corpus, "_block_tokens", lambda self, max_tokens=None: 6)
    with pytest.warns(UserWarning, match="aligned"):
        assert torch.allclose(bk.layer_cka(es, other), got, atol=1e-5)


def test_nothing_aligned_raises(tiny, whitespace):
    texts = ["bank, vault, robber,", "river. bank. money."]
    with pytest.raises(ValueError, match="no word of corpus has a word with the same character span"):
        bk.layer_cka(tiny.encode(texts), whitespace.encode(texts))


def test_layer_cka_errors(tiny, es, wide):
    with pytest.raises(ValueError, match="corpus has 10 texts, other has 2"):
        bk.layer_cka(es, wide.encode(TEXTS[:2]))
    swapped = wide.encode(TEXTS[:3] + [TEXTS[4], TEXTS[3]] + TEXTS[5:])
    with pytest.raises(ValueError, match="same texts in the same order as corpus; text 3 differs"):
        bk.layer_cka(es, swapped)
    with pytest.raises(ValueError, match="estimator='minibatch' .* needs debiased=True"):
        bk.layer_cka(es, estimator="minibatch")
    with pytest.raises(ValueError, match="batch_texts sets the minibatches of estimator='minibatch'"):
        bk.layer_cka(es, debiased=True, batch_texts=4)
    with pytest.raises(ValueError, match=r"batch_texts must be an int >= 1 or None \(one block of the corpus\)"):
        bk.layer_cka(es, debiased=True, estimator="minibatch", batch_texts=0)
    with pytest.raises(ValueError, match=r"unit must be one of \('word', 'token'\); got 'sentence'"):
        bk.layer_cka(es, unit="sentence")
    with pytest.raises(TypeError, match="got a single Encoding"):
        bk.layer_cka(es[0])
    with pytest.raises(ValueError, match="needs at least 4 units"):
        bk.layer_cka(tiny.encode(["bank", "the"]), debiased=True)
    with pytest.raises(ValueError, match="no minibatch holds the 4 units"):
        bk.layer_cka(tiny.encode(["bank", "the", "a river"]), debiased=True, estimator="minibatch", batch_texts=1)
    flat = _with_hidden(es, es.hidden.clone())
    flat.hidden[:, 2] = 1.0
    with pytest.raises(ValueError, match="layer 2 of corpus has no variance"):
        bk.layer_cka(flat)


# -- the plot ---------------------------------------------------------------------------

def test_plot_cka_fixed_scale_labels_and_colour_bar(varied):
    m = bk.layer_cka(varied)
    ax = bk.plot_cka(m, varied.layer_ids, label="debiased CKA")
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "2", "3"]
    assert ax.get_ylabel() == "layer (0 = embeddings)" == ax.get_xlabel()
    assert len(ax.texts) == 16 and ax.texts[0].get_text() == "1.00"
    bar = ax.figure.axes[1]
    assert bar.get_ylabel() == "debiased CKA"
    assert ax.get_title() == "CKA between layers"
    fig, axes = plt.subplots(1, 2)
    out = bk.plot_cka(m[:, 1:], [0, 1, 2, 3], [4, 5, 6], xlabel="other model layer", title=None,
                      annotate=False, ax=axes[1])
    assert out is axes[1] and out.get_xlabel() == "other model layer" and not out.texts
    assert [t.get_text() for t in out.get_xticklabels()] == ["4", "5", "6"]
    with pytest.raises(ValueError, match="must name the 4 rows and 3 columns"):
        bk.plot_cka(m[:, 1:], [0, 1, 2])
    with pytest.raises(ValueError, match="non-empty 2-D"):
        bk.plot_cka(torch.ones(3))
    plt.close("all")


@settings(max_examples=80, deadline=None)
@given(x=arrays, seed=st.integers(0, 10_000), ex=st.integers(-300, 300), ey=st.integers(-300, 300),
       debiased=st.booleans())
def test_cka_ignores_scale_from_1e_minus_300_to_1e300(x, seed, ex, ey, debiased):
    y = x[:, ::-1] ** 2 + np.random.default_rng(seed).normal(size=x.shape)
    base = bk.cka(x, y, debiased)
    got = bk.cka(x * 10.0**ex, y * 10.0**ey, debiased)
    assert np.isfinite(got)
    assert got == pytest.approx(base, abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(value=st.floats(-1e300, 1e300, allow_nan=False), n=st.integers(2, 12), d=st.integers(1, 5),
       debiased=st.booleans(), side=st.sampled_from(["x", "y"]))
def test_constant_float64_features_have_no_variance(value, n, d, debiased, side):
    const = np.full((max(n, 4), d), value)
    other = _random(n, max(n, 4), 3)
    args = (const, other) if side == "x" else (other, const)
    with pytest.raises(ValueError, match=f"{side} has no variance"):
        bk.cka(*args, debiased=debiased)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_cka_refuses_nan_and_inf_anywhere(bad):
    x = _random(0, 8, 3)
    x[5, 2] = bad
    with pytest.raises(bk.InvalidParameterError, match="x holds NaN or infinite values"):
        bk.cka(x, _random(1, 8, 2))
