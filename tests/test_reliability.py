"""Bad and unusual input: a correct result or a clear error, never an obscure crash."""

from __future__ import annotations

import pytest
import torch
from conftest import BANK_TEXT, WORDS, tiny_vocab
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bertviz_kit as bk

ATOL = 1e-5
_fixture_ok = [HealthCheck.function_scoped_fixture]


def _check_alignment(e: bk.Encoding) -> None:
    """Tokens, offsets, word ids and words all describe the same text."""
    n = len(e.text)
    assert len(e.tokens) == len(e.offsets) == len(e.word_ids) == e.input_ids.shape[0]
    assert e.hidden_states.shape[1] == e.n_tokens
    assert torch.isfinite(e.hidden_states).all()
    seen = []
    last_start = 0
    for (s, t), w in zip(e.offsets, e.word_ids):
        if w is None:
            continue
        assert 0 <= s <= t <= n
        assert s >= last_start  # tokens move forwards through the text
        last_start = s
        if not seen or seen[-1] != w:
            seen.append(w)
    assert seen == sorted(set(seen)) == list(range(e.n_words))
    assert len(e.word_spans) == e.n_words
    for (s, t), word in zip(e.word_spans, e.words):
        assert 0 <= s < t <= n
        assert e.text[s:t] == word
        assert word.strip() == word or not word.strip()  # no padding whitespace


# -- empty, whitespace, mixed batches -----------------------------------------
@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n", "\u200b\u200b", "\u00a0"])
def test_empty_like_texts(tiny, text):
    e = tiny.encode(text)
    assert e.tokens == ("[CLS]", "[SEP]") and e.n_words == 0 and e.words == ()
    assert e.windows == ((0, 2),)
    assert bk.word_vectors(e).shape == (0, tiny.dim)
    assert bk.find(e, "bank") == []
    with pytest.raises(ValueError, match="has no tokens besides special tokens; use specials='include'"):
        bk.sentence_vectors(e)[0]
    assert torch.isfinite(bk.sentence_vectors(e, pooling="cls")[0]).all()
    if text:
        with pytest.raises(ValueError, match="covers no token"):
            bk.span_vector(e, (0, len(text)))


def test_mixed_batch_with_empty_strings_keeps_order(tiny):
    texts = ["", "the river bank", " ", BANK_TEXT, "", "a"]
    es = tiny.encode(texts, batch_size=2)
    assert [e.text for e in es] == texts
    for t, e in zip(texts, es):
        single = tiny.encode(t)
        assert e.tokens == single.tokens
        assert torch.allclose(e.hidden_states, single.hidden_states, atol=ATOL)
    with pytest.raises(ValueError, match=r"corpus\[0\] \(text ''\) has no tokens"):
        bk.sentence_vectors(es)
    assert bk.sentence_vectors(es, specials="include").shape == (6, tiny.dim)


# -- unicode --------------------------------------------------------------------
UNICODE_TEXTS = [
    "café naïve résumé",
    "cafe\u0301 (combining accent)",
    "東京の銀行 bank 銀行",
    "hi 😀 there 👍🏽 ok",
    "ban\u200bk river\u200d bank",
    "\u201cquoted\u201d and \u2018single\u2019 \u2014 dash",
    "\ufeffbank at the start",
    "İstanbul ǅ ﬁne ß",
    "tab\tnew\nline\r\nend",
    "a [SEP] b [CLS] c",
]


@pytest.mark.parametrize("text", UNICODE_TEXTS)
def test_unicode_keeps_words_and_offsets_aligned(tiny, minilm, text):
    for enc in (tiny, minilm):
        if "[SEP]" in text:  # spelled-out special tokens are encoded, with a warning
            with pytest.warns(UserWarning, match="special tokens"):
                e = enc.encode(text)
        else:
            e = enc.encode(text)
        _check_alignment(e)


def test_unicode_words_are_cut_from_the_text(minilm):
    e = minilm.encode("café 東京 😀 “bank”")
    assert e.words == ("café", "東", "京", "😀", "“", "bank", "”")
    i = bk.find(e, "CAFÉ")
    assert i == [0]
    k = e.text.index("😀")
    assert e.tokens[4] == "[UNK]" and e.offsets[4] == (k, k + 1)
    assert torch.allclose(bk.span_vector(e, (k, k + 1), "last"), bk.word_vectors(e, "last")[3],
                          atol=ATOL)


@settings(max_examples=40, deadline=None, suppress_health_check=_fixture_ok)
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_any_text_stays_aligned(tiny, text):
    _check_alignment(tiny.encode(text))


def test_spelled_out_special_tokens_warn_and_name_the_fix(tiny):
    with pytest.warns(UserWarning, match=r"'\[CLS\]', '\[SEP\]' are special tokens .*pass the plain sentence"):
        e = tiny.encode("[CLS] the bank [SEP]")
    assert e.tokens.count("[CLS]") == 2  # read as special tokens, as the warning says
    with pytest.warns(UserWarning, match=r"texts \[1\]: '\[MASK\]' is a special token"):
        tiny.encode(["the bank", "the [MASK] bank"])


def test_plain_text_does_not_warn(tiny, recwarn):
    tiny.encode(["the bank", "CLS and SEP [ ] are plain words"])
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("kwargs, match", [
    ({"progress": "yes"}, "progress must be True or False; got 'yes'"),
    ({"attentions": 1}, "attentions must be True or False; got 1"),
])
def test_encode_flags_must_be_bools(tiny, kwargs, match):
    with pytest.raises(TypeError, match=match):
        tiny.encode("the bank", **kwargs)


# -- words and spans that are not there ---------------------------------------
def test_word_that_does_not_occur(tiny_bank):
    assert bk.find(tiny_bank, "castle") == []
    assert bk.find_occurrences([tiny_bank], "castle") == []
    with pytest.raises(ValueError, match="word 'castle' does not occur in any of the 1 texts of the corpus"):
        bk.occurrence_vectors([tiny_bank], "castle")
    for bad in ["", "   "]:
        with pytest.raises(ValueError, match="word must be a non-empty string"):
            bk.find(tiny_bank, bad)


@pytest.mark.parametrize("span", [(-1, 3), (3, 3), (5, 2), (0, 10_000), (200, 205)])
def test_span_outside_the_text(tiny_bank, span):
    with pytest.raises(ValueError, match=rf"span must satisfy .* got \({span[0]}, {span[1]}\)"):
        bk.span_vector(tiny_bank, span)


@pytest.mark.parametrize(("i", "j"), [(0, 99), (-99, 0)])
def test_word_index_out_of_range(tiny_bank, i, j):
    with pytest.raises(ValueError, match=r"must be a word index"):
        bk.layer_similarity(tiny_bank, i, j)


# -- layers and choices --------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda e: bk.word_vectors(e, layers=4), r"layers must be an int in \[-4, 3\].*got 4"),
        (lambda e: bk.word_vectors(e, layers="last_4"), r"got 'last_4'"),
        (lambda e: bk.sentence_vectors(e, layers=-5)[0], r"layers must be .*got -5"),
        (lambda e: bk.sentence_vectors(e, layers="sum_last_4")[0], r"layers must be .*got 'sum_last_4'"),
        (lambda e: bk.span_vector(e, (0, 5), layers=[0, 10]), r"got \[0, 10\]"),
        (lambda e: bk.token_vectors(e, [1, 2], combine="avg"), r"combine must be one of .*got 'avg'"),
        (lambda e: bk.span_vector(e, (0, 5), subwords="median"), r"subwords must be one of .*got 'median'"),
        (lambda e: bk.sentence_vectors(e, pooling="sum")[0], r"pooling must be one of .*got 'sum'"),
        (lambda e: bk.sentence_vectors(e, specials=True)[0], r"specials must be one of .*got True"),
    ],
)
def test_bad_layers_and_choices_name_the_parameter(tiny_bank, call, match):
    with pytest.raises(ValueError, match=match):
        call(tiny_bank)


def test_not_an_encoding(tiny):
    with pytest.raises(TypeError, match="e must be an Encoding"):
        bk.word_vectors("the bank")
    with pytest.raises(TypeError, match=r"texts must be a str or a sequence of str; got bytes; decode it"):
        tiny.encode(b"the bank")


# -- models that do not fit ----------------------------------------------------
def test_model_path_that_is_a_file(tmp_path):
    f = tmp_path / "config.json"
    f.write_text("{}")
    with pytest.raises(ValueError, match=r"config\.json' is a file; give the folder"):
        bk.load(f)


def test_model_folder_without_a_model(tmp_path):
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    with pytest.raises(OSError, match=r"model folder .*empty-folder. has no config.json \(it holds nothing\)"):
        bk.load(folder)


def test_slow_tokenizer_is_refused(tiny_path, tmp_path, monkeypatch):
    from transformers import AutoTokenizer, BertTokenizerLegacy

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(tiny_vocab()) + "\n")
    slow = BertTokenizerLegacy(vocab_file=str(vocab))
    assert not slow.is_fast
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", lambda *a, **k: slow)
    with pytest.raises(ValueError, match=r"has no fast tokenizer \(tokenizer\.json\).*PreTrainedTokenizerFast"):
        bk.load(tiny_path, device="cpu")


def test_model_without_hidden_states(tiny_path, monkeypatch):
    from transformers.modeling_outputs import BaseModelOutput

    enc = bk.load(tiny_path, device="cpu")

    def forward(input_ids=None, **kwargs):
        h = torch.zeros(*input_ids.shape, enc.dim)
        return BaseModelOutput(last_hidden_state=h, hidden_states=None)

    monkeypatch.setattr(enc.model, "forward", forward)
    with pytest.raises(ValueError, match=r"returned no hidden states.*output_hidden_states=True"):
        enc.encode("the bank")


# -- numbers ----------------------------------------------------------------------
def test_cosine_of_zero_rows_is_finite():
    a = torch.zeros(3, 4)
    b = torch.randn(2, 4)
    assert torch.equal(bk.cosine(a, b), torch.zeros(3, 2))
    m = bk.cosine(torch.cat([a, b]))
    assert torch.isfinite(m).all() and m.shape == (5, 5)
    assert torch.equal(bk.cosine(torch.zeros(4), torch.zeros(4)), torch.zeros(1, 1))


# -- properties on real encodings ---------------------------------------------
_texts = st.lists(st.sampled_from(WORDS + ["robbers", "banks", "fishing", ",", "."]),
                  min_size=0, max_size=12).map(" ".join)


@settings(max_examples=20, deadline=None)
@given(text=_texts, layers=st.sampled_from(["last", "sum_last4", 0, [1, 2]]),
       mode=st.sampled_from(["first", "last", "mean", "sum", "max"]))
def test_one_piece_words_equal_their_token(tiny, text, layers, mode):
    e = tiny.encode(text)
    words = bk.word_vectors(e, layers, subwords=mode)
    tokens = bk.token_vectors(e, layers)
    counts = torch.bincount(e.word_index[e.word_index >= 0], minlength=e.n_words)
    for t, w in enumerate(e.word_ids):
        if w is not None and counts[w] == 1:
            assert torch.equal(words[w], tokens[t])


@settings(max_examples=20, deadline=None)
@given(text=_texts.filter(bool), layer=st.sampled_from([-1, 0, "mean_last4"]),
       specials=st.sampled_from(["exclude", "include"]))
def test_mean_pooling_equals_a_slow_reference(tiny, text, layer, specials):
    e = tiny.encode(text)
    x = bk.token_vectors(e, layer)
    rows = [x[t] for t in range(e.n_tokens) if specials == "include" or e.word_ids[t] is not None]
    ref = sum(rows) / len(rows)
    assert torch.allclose(bk.sentence_vectors(e, layer, "mean", specials)[0], ref, atol=ATOL)


@settings(max_examples=10, deadline=None)
@given(texts=st.lists(_texts, min_size=1, max_size=6), batch_size=st.integers(1, 7),
       seed=st.integers(0, 1000))
def test_results_do_not_depend_on_batching(tiny, texts, batch_size, seed):
    alone = [tiny.encode(t) for t in texts]
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed)).tolist()
    others = ["the mississippi river"] * (seed % 3)  # other texts in the same batches
    shuffled = tiny.encode([texts[k] for k in order] + others, batch_size=batch_size)
    for pos, k in enumerate(order):
        assert shuffled[pos].tokens == alone[k].tokens
        assert torch.allclose(shuffled[pos].hidden_states, alone[k].hidden_states, atol=ATOL)
