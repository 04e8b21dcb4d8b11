from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity

import bertviz_kit as bk


def test_cosine_matches_sklearn():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 7, generator=g), torch.randn(3, 7, generator=g)
    assert np.allclose(bk.cosine(a, b).numpy(), cosine_similarity(a, b), atol=1e-6)
    assert bk.cosine(a).shape == (4, 4)
    assert bk.cosine(a[0], b[0]).shape == (1, 1)


def test_cosine_zero_vectors_are_finite():
    z = torch.zeros(2, 5)
    c = bk.cosine(z, torch.ones(1, 5))
    assert torch.isfinite(c).all() and torch.all(c == 0)


def test_cosine_bad_input():
    with pytest.raises(ValueError, match="a and b must have the same width; got 3 and 4"):
        bk.cosine(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="must be 1-D"):
        bk.cosine(torch.ones(2, 2, 2))
    with pytest.raises(TypeError, match="a must be a tensor"):
        bk.cosine("abc")


def test_find(tiny_bank):
    assert bk.find(tiny_bank, "bank") == [5, 9, 18]
    assert bk.find(tiny_bank, "BANK") == [5, 9, 18]
    assert bk.find(tiny_bank, "Mississippi", ignore_case=False) == [16]
    assert bk.find(tiny_bank, "mississippi", ignore_case=False) == []
    assert bk.find(tiny_bank, "castle") == []
    with pytest.raises(ValueError, match="word must be a non-empty string"):
        bk.find(tiny_bank, " ")


def test_layer_similarity_matches_manual(tiny_bank):
    e = tiny_bank
    c = bk.layer_similarity(e, 5, 9)
    assert c.shape == (e.n_layers + 1,)
    for layer in range(e.n_layers + 1):
        w = bk.word_vectors(e, layer)
        ref = bk.cosine(w[5], w[9])[0, 0]
        assert torch.isclose(c[layer], ref, atol=1e-5)
    with pytest.raises(ValueError, match=r"i must be a word index in \[-20, 19\]"):
        bk.layer_similarity(e, 20, 1)
