from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import bertviz_kit as bk
from bertviz_kit.encoding import Encoding
from bertviz_kit.vectors.pooling import pool_tokens


def test_presets_shapes(tiny_bank):
    e, d, n = tiny_bank, tiny_bank.dim, tiny_bank.n_tokens
    hs = e.hidden_states
    assert torch.allclose(bk.token_vectors(e, "last"), hs[-1])
    assert torch.allclose(bk.token_vectors(e, "second_last"), hs[-2])
    assert torch.allclose(bk.token_vectors(e, "sum_last4"), hs[-4:].sum(0))
    assert torch.allclose(bk.token_vectors(e, "mean_last4"), hs[-4:].mean(0))
    assert bk.token_vectors(e, "concat_last4").shape == (n, 4 * d)
    assert torch.allclose(bk.token_vectors(e, "concat_last4")[:, :d], hs[-4])
    assert torch.allclose(bk.token_vectors(e, "sum_all"), hs[1:].sum(0))
    assert torch.allclose(bk.token_vectors(e, "mean_all"), hs[1:].mean(0))
    assert torch.allclose(bk.token_vectors(e, 0), hs[0])
    assert torch.allclose(bk.token_vectors(e, -1), hs[3])
    assert torch.allclose(bk.token_vectors(e, [1, 2]), hs[1] + hs[2])
    assert torch.allclose(bk.token_vectors(e, [1, 2], combine="mean"), (hs[1] + hs[2]) / 2)


def test_tutorial_word_vectors_match_loop(tiny_bank):
    """The tutorial built sum-of-last-4 token vectors in a loop over tokens."""
    new_embed = tiny_bank.by_token()
    loop = torch.stack([torch.sum(t[-4:], dim=0) for t in new_embed])
    assert torch.allclose(bk.token_vectors(tiny_bank, "sum_last4"), loop, atol=1e-6)


@pytest.mark.parametrize(
    ("layers", "match"),
    [
        (9, r"layers must be an int in \[-4, 3\], a list of ints or one of \('last', .*got 9\."),
        (-5, r"got -5"),
        ("sum_lats4", r"got 'sum_lats4'"),
        ([1, 7], r"got \[1, 7\]"),
        ([], "empty list"),
        (1.5, "got 1.5"),
        (True, "got True"),
    ],
)
def test_bad_layers(tiny_bank, layers, match):
    with pytest.raises(ValueError, match=match):
        bk.token_vectors(tiny_bank, layers)


def test_bad_choices(tiny_bank):
    allowed = r"\('first', 'last', 'mean', 'sum', 'max'\)"
    with pytest.raises(ValueError, match=rf"subwords must be one of {allowed}; got 'avg'"):
        bk.word_vectors(tiny_bank, subwords="avg")
    with pytest.raises(ValueError, match=r"pooling must be one of \('mean', 'cls', 'max'\); got 'min'"):
        bk.sentence_vectors(tiny_bank, pooling="min")
    with pytest.raises(ValueError, match=r"specials must be one of \('exclude', 'include'\); got 'no'"):
        bk.sentence_vectors(tiny_bank, specials="no")
    with pytest.raises(ValueError, match=r"combine must be one of"):
        bk.token_vectors(tiny_bank, "last", combine="prod")
    with pytest.raises(TypeError, match="e must be an Encoding"):
        bk.word_vectors("text")


def test_word_vectors_pool_subwords(tiny):
    e = tiny.encode("the robbers bank")
    assert e.tokens == ("[CLS]", "the", "robber", "##s", "bank", "[SEP]")
    x = bk.token_vectors(e, "last")
    for mode, ref in {
        "first": x[2], "last": x[3], "mean": (x[2] + x[3]) / 2, "sum": x[2] + x[3],
        "max": torch.maximum(x[2], x[3]),
    }.items():
        w = bk.word_vectors(e, "last", subwords=mode)
        assert w.shape == (3, e.dim)
        assert torch.allclose(w[1], ref, atol=1e-6), mode
        assert torch.allclose(w[0], x[1]) and torch.allclose(w[2], x[4])


def test_functions_do_not_mutate(tiny_bank):
    before = tiny_bank.hidden_states.clone()
    for layers in ("last", "sum_last4", "concat_last4", [0], -1):
        v = bk.token_vectors(tiny_bank, layers)
        v.add_(1.0)
        bk.word_vectors(tiny_bank, layers).mul_(0)
    bk.sentence_vectors(tiny_bank)[0].zero_()
    assert torch.equal(before, tiny_bank.hidden_states)


def test_sentence_vector_is_tutorial_formula(tiny_bank):
    e = tiny_bank
    ref = e.by_token()[1:-1, -1, :].mean(dim=0)
    assert torch.allclose(bk.sentence_vectors(e)[0], ref, atol=1e-6)
    assert torch.allclose(bk.sentence_vectors(e, specials="include")[0], e.hidden_states[-1].mean(0), atol=1e-6)
    assert torch.allclose(bk.sentence_vectors(e, pooling="cls")[0], e.hidden_states[-1, 0])
    assert torch.allclose(bk.sentence_vectors(e, pooling="max")[0], e.hidden_states[-1, 1:-1].max(0).values)
    ref4 = e.hidden_states[-4:, 1:-1].sum(0).mean(0)
    assert torch.allclose(bk.sentence_vectors(e, layers="sum_last4")[0], ref4, atol=1e-5)


def test_sentence_vectors_batch(tiny):
    es = tiny.encode(["hello world", "the river bank", "a"])
    vs = bk.sentence_vectors(es, pooling="max")
    assert vs.shape == (3, tiny.dim)
    for v, e in zip(vs, es):
        assert torch.allclose(v, bk.sentence_vectors(e, pooling="max")[0])


def test_sentence_vector_of_empty_text(tiny):
    e = tiny.encode("")
    with pytest.raises(ValueError, match="has no tokens besides special tokens"):
        bk.sentence_vectors(e)[0]
    assert bk.sentence_vectors(e, specials="include")[0].shape == (tiny.dim,)
    with pytest.raises(ValueError, match="at least one Encoding"):
        bk.sentence_vectors([])


def test_span_vector(tiny_bank):
    e = tiny_bank
    start = e.text.index("bank robber")
    v = bk.span_vector(e, (start, start + len("bank robber")), layers="last")
    x = bk.token_vectors(e, "last")
    assert torch.allclose(v, (x[10] + x[11]) / 2, atol=1e-6)
    # a span cutting into a word takes the token it overlaps
    v2 = bk.span_vector(e, (start + 1, start + 3), layers="last", subwords="first")
    assert torch.allclose(v2, x[10])
    with pytest.raises(ValueError, match=r"span must satisfy 0 <= char_start < char_end <= 105"):
        bk.span_vector(e, (100, 200))
    with pytest.raises(ValueError, match="covers no token"):
        i = e.text.index(" ")
        bk.span_vector(e, (i, i + 1))
    with pytest.raises(TypeError, match="span must be a"):
        bk.span_vector(e, "bank")


def _slow_pool(x, group, n, mode):
    out = []
    for g in range(n):
        rows = [x[t] for t in range(len(group)) if group[t] == g]
        m = torch.stack(rows)
        out.append({"mean": m.mean(0), "sum": m.sum(0), "max": m.max(0).values,
                    "first": m[0], "last": m[-1]}[mode])
    return torch.stack(out)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=8),
    n_special=st.integers(0, 2),
    mode=st.sampled_from(["mean", "sum", "max", "first", "last"]),
    seed=st.integers(0, 2**16),
)
def test_pool_groups_matches_slow_reference(sizes, n_special, mode, seed):
    g = torch.Generator().manual_seed(seed)
    group = torch.cat([torch.full((s,), i) for i, s in enumerate(sizes)])
    group = torch.cat([torch.full((n_special,), -1), group, torch.full((n_special,), -1)])
    x = torch.randn(len(group), 5, generator=g)
    fast = pool_tokens(x.unsqueeze(1), [0], "sum", group, len(sizes), mode)
    keep = group >= 0
    slow = _slow_pool(x[keep], group[keep], len(sizes), mode)
    assert torch.allclose(fast, slow, atol=1e-5)


def _fake_encoding(sizes, seed):
    """An Encoding with known word pieces and random hidden states."""
    g = torch.Generator().manual_seed(seed)
    word_ids = [None] + [i for i, s in enumerate(sizes) for _ in range(s)] + [None]
    tokens, offsets, pos = ["[CLS]"], [(0, 0)], 0
    for i, s in enumerate(sizes):
        for k in range(s):
            tokens.append(("w" if k == 0 else "##p") + str(i))
            offsets.append((pos, pos + 1))
            pos += 1
        pos += 1
    tokens.append("[SEP]")
    offsets.append((0, 0))
    text = " ".join("x" * s for s in sizes)
    hs = torch.randn(3, len(tokens), 6, generator=g)
    return Encoding(text=text, tokens=tuple(tokens), input_ids=torch.arange(len(tokens)),
                    word_ids=tuple(word_ids), offsets=tuple(offsets),
                    words=tuple("x" * s for s in sizes), hidden_states=hs)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=6), seed=st.integers(0, 999),
       mode=st.sampled_from(["mean", "sum", "max", "first", "last"]))
def test_word_vectors_properties(sizes, seed, mode):
    e = _fake_encoding(sizes, seed)
    w = bk.word_vectors(e, "last", subwords=mode)
    assert w.shape == (len(sizes), 6)
    x = e.hidden_states[-1]
    t = 1
    for i, s in enumerate(sizes):
        pieces = x[t:t + s]
        if s == 1:  # one-piece words equal their token vector, whatever the mode
            assert torch.allclose(w[i], pieces[0])
        ref = {"mean": pieces.mean(0), "sum": pieces.sum(0), "max": pieces.max(0).values,
               "first": pieces[0], "last": pieces[-1]}[mode]
        assert torch.allclose(w[i], ref, atol=1e-5)
        t += s


def test_subset_of_layers_stored(tiny_bank):
    e = tiny_bank
    sub = Encoding(text=e.text, tokens=e.tokens, input_ids=e.input_ids, word_ids=e.word_ids,
                   offsets=e.offsets, words=e.words, hidden_states=e.hidden_states[[0, 3]],
                   n_layers=3, layer_ids=(0, 3))
    assert torch.allclose(bk.token_vectors(sub, "last"), e.hidden_states[3])
    assert torch.allclose(bk.token_vectors(sub, 0), e.hidden_states[0])
    with pytest.raises(ValueError, match=r"needs model layers \[1, 2\]"):
        bk.token_vectors(sub, "sum_last4")


@settings(max_examples=40, deadline=None)
@given(
    masks=st.lists(st.lists(st.booleans(), min_size=1, max_size=7), min_size=1, max_size=5),
    layer=st.sampled_from([-1, 0, "sum_last4", "mean_last4", "concat_last4", [1, 3]]),
    pooling=st.sampled_from(["mean", "max", "cls"]),
    specials=st.sampled_from(["exclude", "include"]),
    seed=st.integers(0, 999),
)
def test_sentence_vectors_match_slow_reference(masks, layer, pooling, specials, seed):
    """Special tokens anywhere (not only first and last), every layer spec and pooling; a
    batch mixing encodings that store all layers with one that stores a subset."""
    g = torch.Generator().manual_seed(seed)
    es = []
    for m in masks:  # m[k]: token k is special
        word_ids, w = [], 0
        for is_special in m:
            word_ids.append(None if is_special else w)
            w += not is_special
        n = len(m)
        es.append(Encoding(
            text="x" * max(w, 1), tokens=tuple("t" for _ in m), input_ids=torch.arange(n),
            word_ids=tuple(word_ids), offsets=tuple((0, 0) if s else (k, k + 1) for k, s in enumerate(m)),
            words=tuple("x" for _ in range(w)), hidden_states=torch.randn(4, n, 3, generator=g)))
    last = es[-1]
    es[-1] = Encoding(text=last.text, tokens=last.tokens, input_ids=last.input_ids,
                      word_ids=last.word_ids, offsets=last.offsets, words=last.words,
                      hidden_states=last.hidden_states[[1, 0, 2, 3]][1:], n_layers=3, layer_ids=(0, 2, 3))
    full = last.hidden_states
    before = [e.hidden_states.clone() for e in es]

    def slow(e, hs):
        x = bk.token_vectors(e if hs is None else Encoding(
            text=e.text, tokens=e.tokens, input_ids=e.input_ids, word_ids=e.word_ids,
            offsets=e.offsets, words=e.words, hidden_states=hs), layer)
        if pooling == "cls":
            return x[0]
        keep = [k for k, w in enumerate(e.word_ids) if specials == "include" or w is not None]
        rows = torch.stack([x[k] for k in keep])
        return rows.mean(0) if pooling == "mean" else rows.max(0).values

    needs_missing = layer in ("sum_last4", "mean_last4", "concat_last4", [1, 3])
    no_content = pooling != "cls" and specials == "exclude" and any(all(m) for m in masks)
    if needs_missing or no_content:
        with pytest.raises(ValueError, match="needs model layers|no tokens besides special tokens"):
            bk.sentence_vectors(es, layer, pooling, specials)
        return
    fast = bk.sentence_vectors(es, layer, pooling, specials)
    ref = torch.stack([slow(e, full if e is es[-1] else None) for e in es])
    assert torch.allclose(fast, ref, atol=1e-5)
    assert all(torch.equal(e.hidden_states, b) for e, b in zip(es, before))
    fast.add_(1.0)  # the result owns its memory
    assert all(torch.equal(e.hidden_states, b) for e, b in zip(es, before))


def test_sentence_vectors_take_a_layer_spec_as_layers_and_the_old_keyword_warns(tiny):
    """A layer spec is `layers` everywhere; `layer=` (the old name here) still works, with a FutureWarning."""
    e = tiny.encode("the river bank")
    es = tiny.encode(["the river bank", "a bank robber"])
    for fn, data in ((bk.sentence_vectors, e), (bk.sentence_vectors, es)):
        new = fn(data, layers="sum_last4")
        with pytest.warns(FutureWarning, match=r"\(layer=\.\.\.\) is now .*\(layers=\.\.\.\)"):
            old = fn(data, layer="sum_last4")
        assert torch.equal(new, old)
        assert not torch.equal(new, fn(data))  # the spec is used, not ignored
        with pytest.raises(bk.InvalidParameterError, match="layer must be"):
            fn(data, layer=3.5)


def test_one_encoding_is_a_corpus_of_one_and_the_singular_name_warns(tiny):
    """sentence_vectors(e) is [1, dim] and equals the row of that text in a batch; the old
    sentence_vector(e) gives row 0 with a FutureWarning; the old parameter name es= warns too."""
    texts = ["the river bank", "a bank robber"]
    es = tiny.encode(texts)
    for i, text in enumerate(texts):
        e = tiny.encode(text)
        one = bk.sentence_vectors(e, layers="sum_last4", pooling="max")
        assert one.shape == (1, tiny.dim)
        assert torch.allclose(one[0], bk.sentence_vectors(es, layers="sum_last4", pooling="max")[i], atol=1e-5)
        with pytest.warns(FutureWarning, match=r"sentence_vector\(e\) is now bk.sentence_vectors\(e\)\[0\]") as rec:
            old = bk.sentence_vector(e, layers="sum_last4", pooling="max")
        assert rec[0].filename == __file__  # the warning points at the caller
        assert torch.equal(old, one[0])
    with pytest.warns(FutureWarning, match=r"sentence_vectors\(es=\.\.\.\) is now sentence_vectors\(corpus=\.\.\.\)"):
        assert torch.equal(bk.sentence_vectors(es=es), bk.sentence_vectors(corpus=es))
    with pytest.raises(TypeError, match="both corpus= and its old name es="):
        bk.sentence_vectors(es=es, corpus=es)
    with pytest.raises(bk.InvalidParameterError, match=r"text '' has no tokens besides special tokens"):
        bk.sentence_vectors(tiny.encode(""))
