"""Contextuality metrics (Ethayarajh 2019): self-similarity, intra-sentence similarity, anisotropy."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

import bertviz_kit as bk

TEXTS = [
    "the bank robber was seen in the bank vault",
    "fishing on the river bank",
    "the money is in the bank",
    "hello world",
    "a good river and a bad river",
]


@pytest.fixture(scope="module")
def tiny_es(tiny):
    return tiny.encode(TEXTS)


def _all_words(es):
    vecs = [bk.layer_word_vectors(e) for e in es if e.n_words]
    owner = [i for i, e in enumerate(es) for _ in range(e.n_words)]
    return torch.cat(vecs, dim=1), owner


def _brute_pairs(vecs, owner, mean=None):
    """Mean cosine over all pairs from different texts, per layer, with explicit loops."""
    if mean is not None:
        vecs = vecs - mean.unsqueeze(1)
    out = []
    for layer in range(vecs.shape[0]):
        sims = [F.cosine_similarity(vecs[layer, a], vecs[layer, b], dim=0)
                for a, b in itertools.combinations(range(vecs.shape[1]), 2) if owner[a] != owner[b]]
        out.append(torch.stack(sims).mean())
    return torch.stack(out)


def test_find_occurrences_and_vectors(tiny_es):
    where = bk.find_occurrences(tiny_es, "bank")
    assert where == [(0, 1), (0, 7), (1, 4), (2, 5)]
    occ = bk.occurrence_vectors(tiny_es, "bank", layers=2)
    assert occ.shape == (4, tiny_es[0].dim)
    for row, (i, j) in enumerate(where):
        assert torch.allclose(occ[row], bk.word_vectors(tiny_es[i], layers=2)[j])
    stack = bk.layer_occurrence_vectors(tiny_es, "BANK")
    assert stack.shape == (tiny_es[0].n_layers + 1, 4, tiny_es[0].dim)
    assert torch.allclose(stack[2], occ, atol=1e-6)


def test_self_similarity_matches_brute_force(tiny_es):
    where = bk.find_occurrences(tiny_es, "bank")
    stack = bk.layer_occurrence_vectors(tiny_es, "bank")
    ref = _brute_pairs(stack, [i for i, _ in where])
    got = bk.self_similarity(tiny_es, "bank")
    assert got.shape == (tiny_es[0].n_layers + 1,)
    assert torch.allclose(got, ref, atol=1e-5)


def test_self_similarity_centered_matches_brute_force(tiny_es):
    vecs, _ = _all_words(tiny_es)
    where = bk.find_occurrences(tiny_es, "bank")
    stack = bk.layer_occurrence_vectors(tiny_es, "bank")
    ref = _brute_pairs(stack, [i for i, _ in where], mean=vecs.mean(dim=1))
    got = bk.self_similarity(tiny_es, "bank", center=True)
    assert torch.allclose(got, ref, atol=1e-5)
    assert not torch.allclose(got, bk.self_similarity(tiny_es, "bank"), atol=1e-3)


def test_same_context_gives_self_similarity_one(tiny):
    es = tiny.encode(["the bank vault", "the bank vault", "the bank vault"])
    assert torch.allclose(bk.self_similarity(es, "bank"), torch.ones(tiny.n_layers + 1), atol=1e-5)
    # a word in different contexts is not identical beyond the embedding layer
    es2 = tiny.encode(["the bank vault", "fishing on the river bank now", "bank"])
    assert bk.self_similarity(es2, "bank")[1:].max() < 0.999


def test_adjusted_subtracts_anisotropy(tiny_es):
    raw = bk.self_similarity(tiny_es, "bank")
    base = bk.anisotropy(tiny_es, n_pairs=500, seed=3)
    adj = bk.self_similarity(tiny_es, "bank", adjusted=True, n_pairs=500, seed=3)
    assert torch.allclose(adj, raw - base, atol=1e-6)
    given = bk.self_similarity(tiny_es, "bank", adjusted=True, baseline=torch.full_like(raw, 0.25))
    assert torch.allclose(given, raw - 0.25, atol=1e-6)
    intra = bk.intra_similarity(tiny_es)
    assert torch.allclose(bk.intra_similarity(tiny_es, adjusted=True, n_pairs=None),
                          intra - bk.anisotropy(tiny_es, n_pairs=None), atol=1e-6)


def test_intra_similarity_matches_brute_force(tiny_es):
    per_text = []
    for e in tiny_es:
        v = bk.layer_word_vectors(e)  # [L, W, D]
        mean = v.mean(dim=1, keepdim=True)
        per_text.append(F.cosine_similarity(v, mean.expand_as(v), dim=-1).mean(dim=1))
    ref = torch.stack(per_text).mean(dim=0)
    assert torch.allclose(bk.intra_similarity(tiny_es), ref, atol=1e-5)


def test_intra_similarity_centered_and_empty_texts(tiny, tiny_es):
    vecs, _ = _all_words(tiny_es)
    mu = vecs.mean(dim=1, keepdim=True)
    per_text = []
    for e in tiny_es:
        v = bk.layer_word_vectors(e) - mu
        per_text.append(F.cosine_similarity(v, v.mean(dim=1, keepdim=True).expand_as(v), dim=-1).mean(dim=1))
    ref = torch.stack(per_text).mean(dim=0)
    with_empty = list(tiny_es) + [tiny.encode("")]
    assert torch.allclose(bk.intra_similarity(with_empty, center=True), ref, atol=1e-5)
    one_word = tiny.encode(["bank", "river"])
    assert torch.allclose(bk.intra_similarity(one_word), torch.ones(tiny.n_layers + 1), atol=1e-5)


def test_anisotropy_exact_sampled_and_seeded(tiny_es):
    vecs, owner = _all_words(tiny_es)
    exact = bk.anisotropy(tiny_es, n_pairs=None)
    assert torch.allclose(exact, _brute_pairs(vecs, owner), atol=1e-5)
    a = bk.anisotropy(tiny_es, n_pairs=20_000, seed=1)
    assert torch.allclose(a, exact, atol=0.02)
    assert torch.equal(bk.anisotropy(tiny_es, n_pairs=50, seed=1), bk.anisotropy(tiny_es, n_pairs=50, seed=1))
    assert not torch.equal(bk.anisotropy(tiny_es, n_pairs=50, seed=1), bk.anisotropy(tiny_es, n_pairs=50, seed=2))
    centered = bk.anisotropy(tiny_es, n_pairs=None, center=True)
    assert torch.allclose(centered, _brute_pairs(vecs, owner, mean=vecs.mean(dim=1)), atol=1e-5)


def test_anisotropy_never_pairs_words_of_one_text(tiny):
    # two texts, each one word repeated: any within-text pair would have cosine 1
    es = tiny.encode(["bank bank bank bank", "river"])
    exact = bk.anisotropy(es, n_pairs=None)
    sampled = bk.anisotropy(es, n_pairs=200, seed=0)
    assert torch.allclose(sampled, exact, atol=0.05)
    assert exact[0] < 0.9


def test_errors(tiny, tiny_es):
    with pytest.raises(ValueError, match="word 'castle' does not occur in any of the 5 texts of the corpus"):
        bk.self_similarity(tiny_es, "castle")
    with pytest.raises(ValueError, match="word 'castle' does not occur"):
        bk.occurrence_vectors(tiny_es, "castle")
    with pytest.raises(ValueError, match="'money' occurs in only one text of the corpus"):
        bk.self_similarity(tiny_es, "money")
    with pytest.raises(TypeError, match=r"corpus must be an Encodings .*, a Store .*, a list of Encoding or one "
                                        r"Encoding; got 'a text'"):
        bk.intra_similarity("a text")
    # one Encoding is a corpus of one text
    assert torch.equal(bk.intra_similarity(tiny_es[0]), bk.intra_similarity([tiny_es[0]]))
    with pytest.raises(ValueError, match="corpus must hold at least one Encoding"):
        bk.anisotropy([])
    with pytest.raises(TypeError, match=r"corpus\[1\] must be an Encoding"):
        bk.anisotropy([tiny_es[0], "text"])
    with pytest.raises(ValueError, match="n_pairs must be an int >= 1 or None"):
        bk.anisotropy(tiny_es, n_pairs=0)
    with pytest.raises(ValueError, match="seed must be an int >= 0; got -1"):
        bk.anisotropy(tiny_es, seed=-1)
    with pytest.raises(TypeError, match="center must be True or False; got 'yes'"):
        bk.intra_similarity(tiny_es, center="yes")
    with pytest.raises(ValueError, match="baseline is only used with adjusted=True"):
        bk.self_similarity(tiny_es, "bank", baseline=torch.zeros(4))
    with pytest.raises(ValueError, match=r"baseline must hold one value per stored layer, shape \(4,\)"):
        bk.intra_similarity(tiny_es, adjusted=True, baseline=torch.zeros(3))
    with pytest.raises(ValueError, match="subwords must be one of"):
        bk.intra_similarity(tiny_es, subwords="avg")
    with pytest.raises(ValueError, match="at least two different"):
        bk.anisotropy(tiny.encode(["the bank vault"]))
    with pytest.raises(ValueError, match="no words at all"):
        bk.intra_similarity(tiny.encode(["", ""]))


def test_contextuality_on_bundled_model(minilm):
    """Ethayarajh's finding holds for MiniLM: upper layers are more context-specific."""
    es = minilm.encode([
        "After stealing money from the bank vault, the robber ran.",
        "We sat on the grassy bank of the river.",
        "The bank raised its interest rates again.",
        "Fishing from the muddy bank was pleasant.",
    ])
    self_sim = bk.self_similarity(es, "bank")
    assert self_sim[0] > 0.9
    assert self_sim[0] > self_sim[-1] + 0.05
    intra = bk.intra_similarity(es)
    assert intra[-1] > intra[0]
    assert torch.all(bk.anisotropy(es, n_pairs=None, center=True).abs() < 0.2)


@pytest.mark.parametrize("fn, extra", [
    (bk.anisotropy, {"n_pairs": 50}), (bk.intra_similarity, {}), (bk.self_similarity, {"word": "bank"}),
    (bk.find_occurrences, {"word": "bank"}), (bk.occurrence_vectors, {"word": "bank"}),
    (bk.layer_occurrence_vectors, {"word": "bank"}),
])
def test_the_old_keyword_encodings_still_works_and_warns(tiny_es, fn, extra):
    new = fn(corpus=tiny_es, **extra)
    with pytest.warns(FutureWarning, match=rf"{fn.__name__}\(encodings=\.\.\.\) is now {fn.__name__}\(corpus="):
        old = fn(encodings=tiny_es, **extra)
    if isinstance(new, torch.Tensor):
        assert torch.equal(old, new)
    else:
        assert old == new
