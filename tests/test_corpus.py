"""The corpus object: Encodings (flat, in memory) and Store (memory-mapped shards) behave alike,
and every vectorised multi-text function equals a slow per-text reference."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import BANK_TEXT, WORDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bertviz_kit as bk
from bertviz_kit.encoding import Encodings

TEXTS = [BANK_TEXT, "the bank was good", "", "hello world , the robber robs the bank",
         "a river bank and a bank of the river", "bank", "this is it"]


@pytest.fixture(scope="module")
def es(tiny):
    return tiny.encode(TEXTS)


# -- the container ---------------------------------------------------------------

def test_encode_list_returns_flat_container(tiny, es):
    assert isinstance(es, bk.Encodings) and isinstance(es, bk.Corpus) and len(es) == len(TEXTS)
    assert es.hidden.shape == (es.n_tokens, tiny.n_layers + 1, tiny.dim)
    assert es.hidden_states.shape == (tiny.n_layers + 1, es.n_tokens, tiny.dim)
    assert es.layer_ids == tuple(range(tiny.n_layers + 1)) and es.dtype == torch.float32
    assert int(es.lengths.sum()) == es.n_tokens and es.nbytes == es.hidden.numel() * 4
    assert repr(es).startswith("Encodings(n_texts=7, n_tokens=")


def test_items_are_views_equal_to_single_encodings(tiny, es):
    base = es.hidden.untyped_storage().data_ptr()
    for i, text in enumerate(TEXTS):
        one, item = tiny.encode(text), es[i]
        assert isinstance(item, bk.Encoding) and item.hidden_states.untyped_storage().data_ptr() == base
        assert (item.text, item.tokens, item.word_ids, item.offsets, item.words, item.windows) == (
            one.text, one.tokens, one.word_ids, one.offsets, one.words, one.windows)
        assert torch.equal(item.input_ids, one.input_ids)
        assert torch.allclose(item.hidden_states, one.hidden_states, atol=1e-5)
        assert repr(item) == repr(one)
    assert [e.text for e in es] == TEXTS and es[-1].text == TEXTS[-1]


def test_slices_are_views(es):
    part = es[2:5]
    assert isinstance(part, bk.Encodings) and len(part) == 3 and part.texts == tuple(TEXTS[2:5])
    assert part.hidden.untyped_storage().data_ptr() == es.hidden.untyped_storage().data_ptr()
    for k in range(3):
        assert es[2 + k].words == part[k].words
        assert torch.equal(es[2 + k].hidden_states, part[k].hidden_states)
    with pytest.raises(ValueError, match="contiguous"):
        es[::2]
    with pytest.raises(IndexError, match=r"index must be an int in \[-7, 6\]"):
        es[7]


def test_layers_dtype_and_device_at_encode_time(tiny, es):
    last = tiny.encode(TEXTS, layers=[-1])
    assert last.layer_ids == (tiny.n_layers,) and last.hidden.shape[1] == 1
    assert torch.allclose(last.hidden[:, 0], es.hidden[:, -1], atol=1e-5)
    assert torch.allclose(bk.sentence_vectors(last, specials="include"), bk.sentence_vectors(es, specials="include"),
                          atol=1e-5)
    some = tiny.encode(TEXTS, layers="sum_last4")
    assert some.layer_ids == (0, 1, 2, 3)
    half = tiny.encode(TEXTS, dtype="bfloat16", layers=[0, -1])
    assert half.dtype == torch.bfloat16 and half.layer_ids == (0, 3)
    assert half.nbytes == half.n_tokens * 2 * tiny.dim * 2  # two layers, two bytes a value
    vecs = bk.sentence_vectors(half, specials="include")
    cos = torch.nn.functional.cosine_similarity(vecs, bk.sentence_vectors(es, specials="include"))
    assert bool((cos > 0.999).all()) and vecs.dtype == torch.float32
    assert tiny.encode(TEXTS, dtype="float16").dtype == torch.float16
    with pytest.raises(bk.InvalidParameterError, match=r"dtype must be one of \('float32', 'bfloat16', 'float16'\)"):
        tiny.encode(TEXTS, dtype="int8")
    with pytest.raises(ValueError, match=r"layers must be an int in \[-4, 3\]"):
        tiny.encode(TEXTS, layers=7)
    with pytest.raises(ValueError, match="device must be 'cpu' or the model's device"):
        tiny.encode(TEXTS, device="cuda")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or a torch.device"):
        tiny.encode(TEXTS, device="nowhere")


def test_to_and_from_encodings(es):
    copy = es.to(dtype="float16")
    assert copy.dtype == torch.float16
    assert copy.hidden.untyped_storage().data_ptr() != es.hidden.untyped_storage().data_ptr()
    back = Encodings.from_encodings(list(es))
    assert torch.equal(back.hidden, es.hidden) and back.texts == es.texts
    assert [e.words for e in back] == [e.words for e in es]


def test_corpus_functions_refuse_other_models(tiny, tiny_path, tmp_path):
    from conftest import make_tiny_model

    other = bk.load(make_tiny_model(tmp_path / "wide", hidden=48), device="cpu")
    mixed = [tiny.encode("the bank"), other.encode("the bank")]
    with pytest.raises(ValueError, match="must come from one model"):
        bk.anisotropy(mixed)


# -- vectorised functions against slow per-text references --------------------------

def _slow_words(items, subwords="mean"):
    """The old way: every text's word vectors at every layer, one text at a time."""
    vecs, owner = [], []
    for i, e in enumerate(items):
        if e.n_words:
            vecs.append(bk.layer_word_vectors(e, subwords))
            owner.append(torch.full((e.n_words,), i))
    return torch.cat(vecs, dim=1).float(), torch.cat(owner)


def _unit(x):
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def _slow_cross(u, owner):
    n = u.shape[1]
    out = []
    for layer in range(u.shape[0]):
        sims = [u[layer, a] @ u[layer, b] for a, b in itertools.combinations(range(n), 2) if owner[a] != owner[b]]
        out.append(torch.stack(sims).mean())
    return torch.stack(out)


def _slow_intra(vecs, owner):
    out = []
    for t in owner.unique():
        v = vecs[:, owner == t]
        out.append(torch.nn.functional.cosine_similarity(v, v.mean(dim=1, keepdim=True), dim=-1).mean(dim=1))
    return torch.stack(out).mean(dim=0)


texts_strategy = st.lists(
    st.lists(st.sampled_from(WORDS + ["bank", "bank", "robbers", ",", "."]), min_size=0, max_size=9).map(" ".join),
    min_size=3, max_size=9, unique=True,  # identical texts make centred text means ~0: cosines of noise
).filter(lambda ts: sum(bool(t.strip()) for t in ts) >= 2 and sum("bank" in t.split() for t in ts) >= 2)


@pytest.fixture(scope="module")
def store_of(tiny, tmp_path_factory):
    def make(texts, dtype="float32", shard_size=2):
        path = tmp_path_factory.mktemp("store")
        return bk.extract(tiny, texts, path, dtype=dtype, shard_size=shard_size, progress=False)
    return make


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=texts_strategy, block=st.integers(3, 40), center=st.booleans(),
       subwords=st.sampled_from(["mean", "first", "max"]))
def test_vectorised_functions_match_slow_references(tiny, store_of, monkeypatch, texts, block, center, subwords):
    monkeypatch.setattr(bk.Corpus, "_block_tokens", lambda self, max_tokens=None: block)  # many small blocks
    es = tiny.encode(texts)
    items = [tiny.encode(t) for t in texts]  # independent single-text encodings
    store = store_of(texts)
    vecs, owner = _slow_words(items, subwords)
    mean = vecs.mean(dim=1, keepdim=True) if center else 0
    u = _unit(vecs - mean)
    ref_aniso = _slow_cross(u, owner)
    ref_intra = _slow_intra(vecs - mean, owner)
    occ_ref = [(i, j) for i, e in enumerate(items) for j in bk.find(e, "bank")]
    occ_vecs = torch.stack([bk.layer_word_vectors(items[i], subwords)[:, j] for i, j in occ_ref], dim=1)
    occ_owner = torch.tensor([i for i, _ in occ_ref])
    ref_self = _slow_cross(_unit(occ_vecs - mean), occ_owner) if occ_owner.unique().numel() > 1 else None
    nonempty = [e for e in items if e.n_words]
    for corpus in (es, store, items):
        kw = {"center": center, "subwords": subwords}
        assert torch.allclose(bk.anisotropy(corpus, n_pairs=None, **kw), ref_aniso, atol=1e-4)
        assert torch.allclose(bk.intra_similarity(corpus, **kw), ref_intra, atol=1e-4)
        assert bk.find_occurrences(corpus, "BANK") == occ_ref
        assert torch.allclose(bk.layer_occurrence_vectors(corpus, "bank", subwords), occ_vecs, atol=1e-4)
        if ref_self is not None:
            assert torch.allclose(bk.self_similarity(corpus, "bank", **kw), ref_self, atol=1e-4)
        for layer, pooling, specials in (("sum_last4", "mean", "exclude"), (-1, "max", "exclude"),
                                         ([0, 2], "cls", "include"), ("concat_last4", "mean", "include")):
            if pooling != "cls" and specials == "exclude" and len(nonempty) < len(items):
                with pytest.raises(ValueError, match="no tokens besides special tokens"):
                    bk.sentence_vectors(corpus, layer, pooling, specials)
                continue
            ref = torch.stack([bk.sentence_vectors(e, layer, pooling, specials)[0] for e in items])
            assert torch.allclose(bk.sentence_vectors(corpus, layer, pooling, specials), ref, atol=1e-4)
    # the sampled anisotropy draws the same pairs whatever holds the corpus
    sampled = [bk.anisotropy(c, n_pairs=300, seed=3, center=center, subwords=subwords) for c in (es, store, items)]
    assert torch.allclose(sampled[0], sampled[1], atol=1e-5) and torch.allclose(sampled[0], sampled[2], atol=1e-5)


def test_probe_and_layer_sentence_vectors_take_a_store(tiny, store_of):
    texts = [f"the bank {'good' if i % 2 else 'bad'} {WORDS[i % len(WORDS)]}" for i in range(20)]
    labels = [i % 2 for i in range(20)]
    store = store_of(texts, shard_size=6)
    es = tiny.encode(texts)
    assert torch.allclose(bk.layer_sentence_vectors(store), bk.layer_sentence_vectors(es), atol=1e-5)
    a, b = bk.probe_layers(store, labels, cv=2), bk.probe_layers(es, labels, cv=2)
    assert torch.allclose(a.mean, b.mean) and a.layer_ids == b.layer_ids


# -- stores ------------------------------------------------------------------------

def test_store_items_are_views_of_mapped_shards(tiny, store_of):
    store = store_of(TEXTS, dtype="float16", shard_size=3)
    assert isinstance(store, bk.Corpus) and len(store) == len(TEXTS) and store.dtype == torch.float16
    first = store.shard(0)
    assert isinstance(first, bk.Encodings) and first.dtype == torch.float16 and len(first) == 3
    item = store[1]
    assert item.hidden_states.untyped_storage().data_ptr() == first.hidden.untyped_storage().data_ptr()
    es = tiny.encode(TEXTS)
    assert torch.allclose(item.hidden_states.float(), es[1].hidden_states, atol=1e-2)
    item.hidden_states.zero_()  # a private mapping: the file is not changed
    fresh = bk.open_store(store.path)
    assert torch.allclose(fresh[1].hidden_states.float(), es[1].hidden_states, atol=1e-2)
    seen = [(first, len(b)) for first, b in store.blocks()]
    assert seen == [(0, 3), (3, 3), (6, 1)]


def _contract(corpus, texts, ref):
    """What every Corpus answers alike, checked against the reference encodings ``ref``."""
    assert isinstance(corpus, bk.Corpus)
    assert isinstance(corpus.dtype, torch.dtype) and corpus.dtype == ref.dtype
    assert len(corpus) == len(texts)
    assert (corpus.n_layers, corpus.layer_ids, corpus.dim) == (ref.n_layers, ref.layer_ids, ref.dim)
    assert corpus.model_name == ref.model_name and corpus.model_fingerprint == ref.model_fingerprint != ""
    items = list(corpus)
    assert [e.text for e in items] == texts and all(isinstance(e, bk.Encoding) for e in items)
    for i in (0, len(texts) - 1, -1, -len(texts)):
        got, want = corpus[i], ref[i]
        assert got.text == texts[i] and got.tokens == want.tokens and got.words == want.words
        assert got.hidden_states.dtype == corpus.dtype
        tol = 1e-5 if corpus.dtype == torch.float32 else 1e-2  # batches of other padding
        assert torch.allclose(got.hidden_states.float(), want.hidden_states.float(), atol=tol)
    for i in (len(texts), -len(texts) - 1):
        with pytest.raises(IndexError):
            corpus[i]
    assert torch.equal(corpus.word_counts(), ref.word_counts())
    assert [(first, len(b)) for first, b in corpus.blocks(max_tokens=1)] == [(i, 1) for i in range(len(texts))]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_encodings_and_store_keep_one_contract(tiny, store_of, dtype):
    ref = tiny.encode(TEXTS, dtype=dtype)
    _contract(ref, TEXTS, ref)
    store = store_of(TEXTS, dtype=dtype, shard_size=3)
    _contract(store, TEXTS, ref)
    assert f"dtype={dtype!r}" in repr(store) and store.manifest["dtype"] == dtype


def test_parts_open_as_one_store(tiny, tmp_path):
    chunks = [TEXTS[:3], TEXTS[3:5], TEXTS[5:]]
    for k, chunk in enumerate(chunks):
        bk.extract(tiny, chunk, tmp_path / "corpus" / f"part-{k:05d}", shard_size=2, progress=False)
    whole = bk.open_store(tmp_path / "corpus")
    assert len(whole) == len(TEXTS) and len(whole.parts) == 3 and whole.complete
    assert [e.text for e in whole] == TEXTS and "parts=3" in repr(whole)
    es = tiny.encode(TEXTS[:2] + TEXTS[3:])
    nonempty = bk.open_store([whole.parts[0], whole.parts[1], whole.parts[2]])
    assert torch.allclose(bk.anisotropy(nonempty, n_pairs=None), bk.anisotropy(es, n_pairs=None), atol=1e-4)
    reordered = bk.open_store([whole.parts[2], whole.parts[0]])
    assert [e.text for e in reordered] == TEXTS[5:] + TEXTS[:3]
    bk.extract(tiny, ["x"], tmp_path / "other" / "a", progress=False)
    from conftest import make_tiny_model

    wide = bk.load(make_tiny_model(tmp_path / "wide", hidden=48), device="cpu")
    bk.extract(wide, ["x"], tmp_path / "other" / "b", progress=False)
    with pytest.raises(ValueError, match="store parts must come from one model"):
        bk.open_store(tmp_path / "other")
    with pytest.raises(FileNotFoundError, match="nor part folders"):
        bk.open_store(tmp_path)


# -- validation ----------------------------------------------------------------------

def test_one_error_type_names_parameter_allowed_and_given(es):
    with pytest.raises(bk.InvalidParameterError) as info:
        bk.sentence_vectors(es, pooling="median")
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert str(info.value) == "pooling must be one of ('mean', 'cls', 'max'); got 'median'."
    with pytest.raises(bk.InvalidParameterError, match=r"n_pairs must be an int >= 1 or None \(every pair\); got 0"):
        bk.anisotropy(es, n_pairs=0)
    with pytest.raises(bk.InvalidParameterError, match=r"C must be a number > 0; got -1"):
        bk.probe_layers(es, [0, 1] * 3 + [0], C=-1)
    with pytest.raises(bk.InvalidParameterError, match="center must be True or False; got 1"):
        bk.intra_similarity(es, center=1)


@pytest.mark.parametrize("which", ["tiny", "minilm"])
def test_flat_states_equal_transformers_per_text(which, request):
    """Every text's slice of the flat tensor equals transformers' own forward pass of that text alone."""
    enc = request.getfixturevalue(which)
    texts = [BANK_TEXT, "hello world", "", "the robber was seen fishing on the river"]
    es = enc.encode(texts, batch_size=3)
    with torch.inference_mode():
        for i, text in enumerate(texts):
            inputs = enc.tokenizer(text, return_tensors="pt")
            ref = torch.stack(enc.model(**inputs, output_hidden_states=True).hidden_states)[:, 0]
            a, b = int(es.token_starts[i]), int(es.token_starts[i + 1])
            assert torch.allclose(es.hidden[a:b].transpose(0, 1), ref, atol=1e-4)
            assert es[i].input_ids.tolist() == inputs["input_ids"][0].tolist()


def test_corpus_is_an_abstract_base(es):
    members = {
        "blocks": lambda self, max_tokens=None: es.blocks(max_tokens),
        "word_counts": lambda self: es.word_counts(),
        "__getitem__": lambda self, i: es[i],
        "__len__": lambda self: len(es),
    }
    with pytest.raises(TypeError, match="abstract"):
        bk.Corpus()
    for missing in members:
        partial = type("Partial", (bk.Corpus,), {k: v for k, v in members.items() if k != missing})
        with pytest.raises(TypeError, match=missing):
            partial()
    attrs = {k: getattr(es, k) for k in ("n_layers", "layer_ids", "dim", "dtype", "model_name", "model_fingerprint")}
    whole = type("Whole", (bk.Corpus,), {**members, **attrs})()
    assert len(whole) == len(es) and [e.text for e in whole] == list(es.texts)
    assert whole[-1].text == es.texts[-1] and list(reversed(whole))[0].text == es.texts[-1]
    assert torch.equal(bk.sentence_vectors(whole, pooling="cls"), bk.sentence_vectors(es, pooling="cls"))


def test_store_slices_are_lazy_views_equal_to_encodings_slices(tiny, store_of, monkeypatch):
    import numpy as np

    import bertviz_kit.store as store_mod

    texts = [t for t in TEXTS if t] + ["the river bank", "a bank robber"]
    store, es = store_of(texts, shard_size=3), tiny.encode(texts)

    def refuse(path):
        raise AssertionError(f"shard {path} opened")

    monkeypatch.setattr(store_mod, "_map_shard", refuse)
    bounds = [(1, 7), (-5, None), (np.int64(2), np.int64(6)), (4, 5), (0, 3)]
    views = [store[a:b] for a, b in bounds]  # nothing is read here ...
    nested = views[0][1:-1]
    assert [len(v) for v in views] == [len(es[a:b]) for a, b in bounds] and len(nested) == 4
    assert all(isinstance(v, bk.Corpus) and v.dtype == store.dtype for v in views) and "1:7" in repr(views[0])
    monkeypatch.undo()  # ... and everything from here on does
    for (a, b), view in [*zip(bounds, views), ((2, 6), nested)]:
        ref = es[a:b]
        assert [e.text for e in view] == list(ref.texts) and view[-1].text == ref.texts[-1]
        assert torch.equal(view.word_counts(), ref.word_counts())
        assert torch.allclose(bk.sentence_vectors(view), bk.sentence_vectors(ref), atol=1e-5)
        assert torch.allclose(bk.layer_sentence_vectors(view), bk.layer_sentence_vectors(ref), atol=1e-5)
        if len(ref) > 1:
            assert torch.allclose(bk.anisotropy(view, n_pairs=None), bk.anisotropy(ref, n_pairs=None), atol=1e-5)
    assert [f for f, _ in views[0].blocks(max_tokens=1)] == list(range(6))
    assert len(store[5:2]) == 0 and len(store[100:]) == 0
    with pytest.raises(bk.InvalidParameterError, match="step 1"):
        store[::2]
    with pytest.raises(IndexError):
        views[3][1]
    with pytest.raises(bk.InvalidParameterError, match="stop"):
        bk.StoreView(store, 2, len(store) + 1)


def test_text_tokens_and_the_deprecated_tokens_method(es):
    for i in range(len(es)):
        assert es.text_tokens(i) == es[i].tokens and len(es.text_tokens(i)) == int(es.lengths[i])
    with pytest.warns(FutureWarning, match="text_tokens"):
        assert es.tokens(1) == es.text_tokens(1)
