"""Ethayarajh's maximum explainable variance and static embeddings against numpy SVD references
and closed cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import BANK_TEXT

import bertviz_kit as bk

TEXTS = [BANK_TEXT, "the bank was good", "hello world , the robber robs the bank", "",
         "a river bank and a bank of the river", "this is it", "bank", "the money is in the bank vault",
         "fishing on the river was good", "that robber , the bad one , robs a bank"]


@pytest.fixture(scope="module")
def es(tiny):
    return tiny.encode(TEXTS)


@pytest.fixture(scope="module")
def store(tiny, tmp_path_factory):
    return bk.extract(tiny, TEXTS, tmp_path_factory.mktemp("store"), dtype="float32", shard_size=3, progress=False)


def _np_mev(x, center=False):
    """sigma_1^2 / sum sigma_i^2 of each layer's occurrence matrix, with numpy's SVD."""
    out = []
    for m in np.asarray(x, dtype=np.float64):
        if center:
            m = m - m.mean(0)
        s = np.linalg.svd(m, compute_uv=False)
        out.append(s[0] ** 2 / (s**2).sum())
    return np.array(out)


# -- closed cases and tensors ---------------------------------------------------------------

def test_mev_of_identical_vectors_is_one():
    v = torch.randn(16)
    assert torch.allclose(bk.mev(v.repeat(5, 1)), torch.ones(1))
    assert torch.allclose(bk.mev(torch.stack([v.repeat(3, 1), (2 * v).repeat(3, 1)])), torch.ones(2))
    # vectors on one line through the origin, of any lengths: still one direction
    assert torch.allclose(bk.mev(torch.outer(torch.tensor([1.0, 2.0, -3.0, 0.5]), v)), torch.ones(1))


@pytest.mark.parametrize("n", [2, 3, 7, 16])
def test_mev_of_orthogonal_equal_norm_vectors_is_one_over_n(n):
    q, _ = np.linalg.qr(np.random.default_rng(n).normal(size=(32, 32)))
    x = 3.0 * q[:n]  # n orthogonal rows of norm 3
    assert bk.mev(x).item() == pytest.approx(1 / n, abs=1e-6)
    assert bk.mev(torch.tensor(x)).item() == pytest.approx(1 / n, abs=1e-6)


def test_mev_of_random_matrices_equals_numpy_svd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 9, 6)) + rng.normal(size=(4, 1, 6)) * 3
    for center in (False, True):
        assert np.allclose(bk.mev(x, center=center).numpy(), _np_mev(x, center), atol=1e-6)
    # centring drops the common mean: much less is explained by one direction
    assert bool((bk.mev(x, center=True) < bk.mev(x)).all())


def test_mev_tensor_errors():
    with pytest.raises(ValueError, match="word is only used with a corpus"):
        bk.mev(torch.ones(3, 4), "bank")
    with pytest.raises(ValueError, match="at least two occurrences"):
        bk.mev(torch.ones(1, 4))
    with pytest.raises(ValueError, match="only zero vectors in layer row 1"):
        bk.mev(torch.stack([torch.ones(3, 4), torch.zeros(3, 4)]))
    with pytest.raises(ValueError, match="no spread around the mean"):
        bk.mev(torch.ones(3, 4), center=True)
    with pytest.raises(ValueError, match="NaN"):
        bk.mev(torch.tensor([[1.0, float("nan")], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="adjusted=True with tensor data needs baseline="):
        bk.mev(torch.randn(3, 4), adjusted=True)
    with pytest.raises(TypeError, match="data must be an Encodings, a Store"):
        bk.mev("bank")


# -- a corpus -----------------------------------------------------------------------------

@pytest.mark.parametrize("center", [False, True])
def test_mev_of_a_word_equals_numpy_svd_of_its_occurrences(es, store, center):
    occ = bk.layer_occurrence_vectors(es, "bank")
    assert occ.shape[1] == 10
    ref = _np_mev(occ.numpy(), center)
    for corpus in (es, store, list(es)):
        got = bk.mev(corpus, "BANK", center=center)
        assert got.shape == (4,) and got.dtype == torch.float32
        assert np.allclose(got.numpy(), ref, atol=1e-5)
    first = bk.mev(es, "bank", subwords="first")
    assert np.allclose(first.numpy(), _np_mev(bk.layer_occurrence_vectors(es, "bank", "first").numpy()), atol=1e-5)


def test_mev_baseline_is_the_mev_of_one_word_per_text(tiny):
    one_word = ["bank", "river", "the", "money", "robber", "", "good", "vault", "hello", "world", "fishing"]
    single = tiny.encode(one_word)
    vecs = torch.cat([bk.layer_word_vectors(e) for e in single if e.n_words], dim=1)  # every text's only word
    for center in (False, True):
        got = bk.mev_baseline(single, n_samples=1000, center=center)
        assert np.allclose(got.numpy(), _np_mev(vecs.numpy(), center), atol=1e-5)
    # fewer samples: a seeded subset of the texts
    few = [bk.mev_baseline(single, n_samples=4, seed=s) for s in (0, 0, 1)]
    assert torch.equal(few[0], few[1]) and not torch.equal(few[0], few[2])


def test_mev_baseline_draws_the_same_words_from_any_corpus(es, store, monkeypatch):
    a = bk.mev_baseline(es, n_samples=6, seed=3)
    assert torch.allclose(bk.mev_baseline(store, n_samples=6, seed=3), a, atol=1e-5)
    monkeypatch.setattr(bk.Corpus, "_block_tokens", lambda self, max_tokens=None: 4)
    assert torch.allclose(bk.mev_baseline(es, n_samples=6, seed=3), a, atol=1e-5)
    assert torch.allclose(bk.mev_baseline(list(es), n_samples=6, seed=3), a, atol=1e-5)
    # one word of each sampled text: the sample is the MEV of words from distinct texts
    assert bool(((a > 0) & (a <= 1)).all())


def test_adjusted_mev_subtracts_the_baseline(es, store):
    raw = bk.mev(es, "bank")
    base = bk.mev_baseline(es, n_samples=5, seed=2)
    assert torch.allclose(bk.mev(es, "bank", adjusted=True, n_samples=5, seed=2), raw - base, atol=1e-6)
    assert torch.allclose(bk.mev(store, "bank", adjusted=True, baseline=base), raw - base, atol=1e-5)
    occ = bk.layer_occurrence_vectors(es, "bank")
    assert torch.allclose(bk.mev(occ, adjusted=True, baseline=base), raw - base, atol=1e-5)
    centred = bk.mev(es, "bank", center=True, adjusted=True, n_samples=5, seed=2)
    assert torch.allclose(centred, bk.mev(es, "bank", center=True)
                          - bk.mev_baseline(es, n_samples=5, seed=2, center=True), atol=1e-6)


def test_mev_corpus_errors(tiny, es):
    with pytest.raises(ValueError, match="word 'castle' does not occur"):
        bk.mev(es, "castle")
    with pytest.raises(ValueError, match="word 'hello' occurs only once"):
        bk.mev(es, "hello")
    with pytest.raises(ValueError, match="word must name the word"):
        bk.mev(es)
    with pytest.raises(ValueError, match="baseline is only used with adjusted=True"):
        bk.mev(es, "bank", baseline=torch.zeros(4))
    with pytest.raises(ValueError, match=r"baseline must hold one value per layer, shape \(4,\)"):
        bk.mev(es, "bank", adjusted=True, baseline=torch.zeros(3))
    with pytest.raises(ValueError, match="n_samples must be an int >= 2; got 1"):
        bk.mev(es, "bank", adjusted=True, n_samples=1)
    with pytest.raises(ValueError, match="at least two non-empty texts; got 1"):
        bk.mev_baseline(tiny.encode(["bank", ""]))


# -- static embeddings -------------------------------------------------------------------

def _np_static(occ, center=False):
    m = occ - occ.mean(0) if center else occ
    v = np.linalg.svd(m, full_matrices=False)[2][0]
    return v if v @ occ.mean(0) >= 0 else -v


@pytest.mark.parametrize("center", [False, True])
def test_static_embeddings_are_first_principal_components(es, store, center):
    words = ["bank", "the", "river", "robber"]
    for layer in (-1, 0, 2):
        ref = np.stack([_np_static(bk.occurrence_vectors(es, w, layers=layer).double().numpy(), center)
                        for w in words])
        for corpus in (es, store):
            got = bk.static_embeddings(corpus, words, layer=layer, center=center)
            assert got.shape == (4, es.dim) and got.dtype == torch.float32
            assert np.allclose(got.numpy(), ref, atol=1e-5)
    got = bk.static_embeddings(es, ["bank", "BANK", "vault"], layer=1, center=center)
    assert torch.allclose(got.norm(dim=1), torch.ones(3))
    assert torch.equal(got[0], got[1])  # case ignored
    mean = bk.occurrence_vectors(es, "bank", layers=1).mean(0)
    assert float(got[0] @ mean) > 0  # the sign follows the mean occurrence


def test_static_embedding_spans_the_direction_mev_reports(es):
    occ = bk.occurrence_vectors(es, "bank", layers=2).double()
    v = bk.static_embeddings(es, ["bank"], layer=2)[0].double()
    explained = (occ @ v).pow(2).sum() / occ.pow(2).sum()
    assert explained.item() == pytest.approx(bk.mev(es, "bank")[2].item(), abs=1e-5)


def test_static_embedding_of_a_word_seen_once_is_its_vector(es):
    vec = bk.occurrence_vectors(es, "hello", layers=-1)[0]
    got = bk.static_embeddings(es, ["hello"])[0]
    assert torch.allclose(got, vec / vec.norm(), atol=1e-6)


def test_static_embeddings_errors(tiny, es):
    with pytest.raises(ValueError, match="word 'castle' does not occur"):
        bk.static_embeddings(es, ["bank", "castle"])
    with pytest.raises(ValueError, match=r"words must be a non-empty list of str \(e.g. \['bank'\]"):
        bk.static_embeddings(es, "bank")
    with pytest.raises(ValueError, match="words\\[1\\] must be a non-empty string"):
        bk.static_embeddings(es, ["bank", 3])
    with pytest.raises(ValueError, match=r"layer must be an int in \[-4, 3\]"):
        bk.static_embeddings(es, ["bank"], layer=9)
    with pytest.raises(ValueError, match=r"layer must be an int in \[-4, 3\] \(0 = embeddings"):
        bk.static_embeddings(es, ["bank"], layer="sum_last4")
    last = tiny.encode(TEXTS, layers=[0, -1])
    with pytest.raises(ValueError, match=r"needs model layer 1, which this corpus did not store"):
        bk.static_embeddings(last, ["bank"], layer=1)
    assert bk.static_embeddings(last, ["bank"], layer=-1).shape == (1, es.dim)
    with pytest.raises(ValueError, match="no spread around its mean"):
        bk.static_embeddings(es, ["hello"], center=True)


def test_released_baseline_is_truncated_svd_explained_variance_ratio(tiny):
    from sklearn.decomposition import TruncatedSVD

    texts = [f"word{i} the river bank {i} was good" if i % 2 else f"a robber {i} robs it" for i in range(40)]
    es = tiny.encode(texts)
    got = bk.mev_baseline(es, n_samples=40, seed=1, released=True)
    # the same sampled words, pooled as the default baseline pools them
    picked = []
    counts = es.word_counts()
    g = torch.Generator().manual_seed(1)
    texts_idx = torch.nonzero(counts > 0).squeeze(1)
    pick = texts_idx[torch.randperm(texts_idx.numel(), generator=g)[:40]].sort().values
    offset = torch.minimum((torch.rand(pick.numel(), generator=g, dtype=torch.float64) * counts[pick]).long(),
                           counts[pick] - 1)
    for t, w in zip(pick.tolist(), offset.tolist()):
        picked.append(torch.stack([bk.word_vectors(es[t], layers=layer)[w] for layer in es.layer_ids]))
    x = torch.stack(picked, dim=1).double().numpy()  # [L, n, d]
    for layer in range(x.shape[0]):
        svd = TruncatedSVD(n_components=2, algorithm="arpack").fit(x[layer])
        assert got[layer].item() == pytest.approx(svd.explained_variance_ratio_[0], abs=1e-4)
    default = bk.mev_baseline(es, n_samples=40, seed=1)
    assert not torch.allclose(got, default, atol=1e-3)
    with pytest.raises(bk.InvalidParameterError, match="released=True .* center=True"):
        bk.mev_baseline(es, released=True, center=True)
