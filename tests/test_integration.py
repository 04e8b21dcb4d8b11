"""The bundled all-MiniLM-L6-v2 on the tutorial's case study."""

from __future__ import annotations

import torch

import bertviz_kit as bk


def test_money_banks_closer_than_river_bank(bank):
    idx = bk.find(bank, "bank")
    assert idx == [5, 9, 18]
    vecs = bk.word_vectors(bank, "sum_last4")[idx]
    sim = bk.cosine(vecs)
    vault_robber, vault_river, robber_river = sim[0, 1], sim[0, 2], sim[1, 2]
    assert vault_robber > vault_river and vault_robber > robber_river
    assert abs(float(vault_robber) - 0.9406) < 2e-3


def test_context_separates_senses_in_middle_layers(bank):
    v, r, river = bk.find(bank, "bank")
    same = bk.layer_similarity(bank, v, r)
    diff = bk.layer_similarity(bank, v, river)
    gap = same - diff
    # identical input embeddings at layer 0 (only position differs); the gap opens in context
    assert gap[2:4].max() > gap[0] + 0.05


def test_sentence_vectors_rank_paraphrase_first(minilm):
    es = minilm.encode([
        "A man is playing a guitar.",
        "Someone plays an instrument.",
        "The stock market fell sharply today.",
    ])
    s = bk.cosine(bk.sentence_vectors(es))
    assert s[0, 1] > s[0, 2]


def test_bfloat16_agrees_with_float32(bank):
    enc16 = bk.load(dtype="bfloat16", device="cpu")
    e16 = enc16.encode(bank.text)
    a = bk.word_vectors(bank, "sum_last4")
    b = bk.word_vectors(e16, "sum_last4")
    assert torch.nn.functional.cosine_similarity(a, b).min() > 0.99
