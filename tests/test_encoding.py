from __future__ import annotations

import pytest
import torch
from conftest import BANK_TEXT

import bertviz_kit as bk


def test_shapes_and_fields(tiny_bank, tiny):
    e = tiny_bank
    n = e.n_tokens
    assert e.hidden_states.shape == (tiny.n_layers + 1, n, tiny.dim)
    assert e.attentions.shape == (tiny.n_layers, 4, n, n)
    assert torch.allclose(e.attentions.sum(-1), torch.ones(tiny.n_layers, 4, n), atol=1e-5)
    assert e.tokens[0] == "[CLS]" and e.tokens[-1] == "[SEP]"
    assert e.input_ids.shape == (n,)
    assert len(e.word_ids) == len(e.offsets) == n
    assert e.word_ids[0] is None and e.word_ids[-1] is None
    assert e.words[:3] == ("After", "stealing", "money")
    for (s, t), w in zip(e.word_spans, e.words):
        assert e.text[s:t] == w
    assert e.windows == ((0, n),) and not e.is_windowed


def test_by_token_is_the_tutorial_reshape(tiny_bank):
    e = tiny_bank
    bt = e.by_token()
    assert bt.shape == (e.n_tokens, e.n_layers + 1, e.dim)
    ref = torch.stack(tuple(e.hidden_states), dim=0).permute(1, 0, 2)
    assert torch.equal(bt, ref)


def test_repr_shows_shapes_not_values(tiny_bank):
    r = repr(tiny_bank)
    assert "hidden_states=[4, 22, 32]" in r and "tensor(" not in r


def test_subwords_share_a_word(tiny):
    e = tiny.encode("Robbers")
    assert e.tokens == ("[CLS]", "robber", "##s", "[SEP]")
    assert e.word_ids == (None, 0, 0, None)
    assert e.words == ("Robbers",)


def test_batch_equals_single(tiny):
    texts = [BANK_TEXT, "hello world", "the river bank", "a"]
    batch = tiny.encode(texts, batch_size=3)
    for t, b in zip(texts, batch):
        s = tiny.encode(t)
        assert s.tokens == b.tokens
        assert torch.allclose(s.hidden_states, b.hidden_states, atol=1e-5)


def test_empty_and_whitespace_text(tiny):
    es = tiny.encode(["", "   ", "hello"])
    assert es[0].tokens == ("[CLS]", "[SEP]") and es[0].n_words == 0
    assert es[1].n_words == 0
    assert es[2].words == ("hello",)


def test_empty_list(tiny):
    empty = tiny.encode([])
    assert isinstance(empty, bk.Encodings) and len(empty) == 0 and list(empty) == []


@pytest.mark.parametrize(
    ("texts", "kwargs", "exc", "match"),
    [
        (123, {}, TypeError, "texts must be a str or a sequence of str"),
        (["ok", 5], {}, TypeError, r"texts\[1\] must be a str"),
        ("ok", {"batch_size": 0}, ValueError, "batch_size must be an int >= 1; got 0"),
    ],
)
def test_bad_input(tiny, texts, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        tiny.encode(texts, **kwargs)


def test_long_text_is_windowed_not_truncated(tiny):
    text = " ".join(["hello world"] * 40)  # 80 words, tiny model takes 64 tokens
    e = tiny.encode(text)
    assert e.n_tokens == 82 and e.n_words == 80
    assert e.is_windowed and len(e.windows) == 2
    assert e.windows[0][0] == 1 and e.windows[-1][1] == 81
    assert torch.isfinite(e.hidden_states).all()


def test_windowed_tokens_come_from_their_best_window(tiny):
    text = " ".join(["hello world"] * 40)
    e = tiny.encode(text)
    (a0, b0), (a1, b1) = e.windows
    # token 5 lies deep in the first window only: its vectors equal a direct
    # encoding of that window's text.
    first = tiny.encode(text[: e.offsets[b0 - 1][1]])
    assert first.n_tokens == b0 - a0 + 2
    assert torch.allclose(e.hidden_states[:, 5], first.hidden_states[:, 5], atol=1e-5)
    # the last content token comes from the last window
    last_text = text[e.offsets[a1][0]:]
    last = tiny.encode(last_text)
    assert torch.allclose(e.hidden_states[:, -2], last.hidden_states[:, -2], atol=1e-5)


def test_attentions_on_long_text_raise(tiny):
    with pytest.raises(ValueError, match="attentions=True needs each text to fit"):
        tiny.encode(" ".join(["hello"] * 100), attentions=True)


def test_inputs_not_mutated_and_encoding_frozen(tiny_bank):
    with pytest.raises(AttributeError):
        tiny_bank.text = "x"


def test_attentions_default_sdpa_switches_back(minilm):
    e = minilm.encode("the bank", attentions=True)
    assert e.attentions.shape[:2] == (6, 12)
    assert minilm.model.config._attn_implementation != "eager"
    assert bk.load is not None
