"""Long texts: overlapping windows, the window each token is taken from, the edges."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import WORDS
from hypothesis import given, settings
from hypothesis import strategies as st

import bertviz_kit as bk
from bertviz_kit.batching import _best_window, _plan_windows
from bertviz_kit.config import Settings
from bertviz_kit.encoder import Encoder

ATOL = 1e-5


def _encoder(tiny: bk.Encoder, max_length: int, stride: int) -> Encoder:
    """The tiny model's weights with another window size (no reload)."""
    return Encoder(tiny.model, tiny.tokenizer, Settings(max_length=max_length, stride=stride),
                   tiny.name)


def _direct(tiny: bk.Encoder, ids: list[int]) -> torch.Tensor:
    """Hidden states ``[layers, n, dim]`` of one plain forward pass over ``ids``."""
    with torch.inference_mode():
        out = tiny.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    return torch.stack([h[0] for h in out.hidden_states])


def _context(pos: int, a: int, b: int, n: int) -> float:
    """Tokens of context a window [a, b) cuts off least; the text's own edges cut nothing."""
    left = math.inf if a == 0 else pos - a
    right = math.inf if b == n else b - 1 - pos
    return min(left, right)


# -- the plan ---------------------------------------------------------------
@settings(max_examples=120, deadline=None)
@given(n=st.integers(0, 400), width=st.integers(1, 80), stride=st.integers(0, 200))
def test_plan_covers_every_token_within_the_width(n, width, stride):
    ranges = _plan_windows(n, width, stride)
    if n <= width:
        assert ranges == [(0, n)]
        return
    overlap = min(stride, width // 2)
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    for a, b in ranges:
        assert b - a == width  # every window is full: no short last window
    for (a0, b0), (a1, b1) in zip(ranges, ranges[1:]):
        assert a0 < a1 and b0 < b1
        assert b0 - a1 >= overlap  # neighbours share at least the overlap, no gap
    assert len(ranges) == 1 + math.ceil((n - width) / (width - overlap))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 2000), width=st.integers(2, 520), stride=st.integers(0, 300))
def test_no_forward_window_is_redundant(n, width, stride):
    """Every window is the one some token takes its vectors from, and no plan of full windows
    sharing the overlap has fewer: a last window that overlaps its neighbour by almost all of
    it is still the best window of the tokens after the middle of that overlap."""
    ranges = _plan_windows(n, width, stride)
    best = set(_best_window(n, ranges).tolist())
    assert best == set(range(len(ranges)))
    overlap = min(stride, width // 2)
    fewest = 1 if n <= width else 1 + math.ceil((n - width) / (width - overlap))
    assert len(ranges) == fewest


@settings(max_examples=120, deadline=None)
@given(n=st.integers(1, 400), width=st.integers(1, 80), stride=st.integers(0, 200))
def test_best_window_holds_the_token_with_the_most_context(n, width, stride):
    ranges = _plan_windows(n, width, stride)
    best = _best_window(n, ranges).tolist()
    overlap = min(stride, width // 2)
    for pos, w in enumerate(best):
        a, b = ranges[w]
        assert a <= pos < b
        ctx = _context(pos, a, b, n)
        # no other window cuts the token's context less ...
        others = [_context(pos, a2, b2, n) for a2, b2 in ranges if a2 <= pos < b2]
        assert ctx == max(others)
        # ... and the overlap guarantees about half of it on the short side
        assert ctx >= (overlap - 1) // 2


# -- the model's limit and one past it ----------------------------------------
def test_text_exactly_at_the_limit_is_one_window(tiny):
    text = " ".join(["hello"] * (tiny.max_length - 2))
    e = tiny.encode(text)
    assert e.n_tokens == tiny.max_length and not e.is_windowed
    assert e.windows == ((0, e.n_tokens),)
    ref = _direct(tiny, e.input_ids.tolist())
    assert torch.allclose(e.hidden_states, ref, atol=ATOL)


def test_one_token_past_the_limit_is_two_windows(tiny):
    text = " ".join(["hello"] * (tiny.max_length - 1))
    e = tiny.encode(text)
    n = e.n_tokens
    assert n == tiny.max_length + 1 and e.is_windowed
    assert e.windows == ((1, n - 2), (2, n - 1))
    ids = e.input_ids.tolist()
    first = _direct(tiny, ids[: n - 2] + ids[-1:])
    last = _direct(tiny, ids[:1] + ids[2:])
    # [CLS] and the first word come from the first window, [SEP] and the last from the last
    assert torch.allclose(e.hidden_states[:, :2], first[:, :2], atol=ATOL)
    assert torch.allclose(e.hidden_states[:, -2:], last[:, -2:], atol=ATOL)
    assert e.n_words == tiny.max_length - 1


def test_long_text_keeps_every_token_and_word(tiny):
    words = [WORDS[k % len(WORDS)] for k in range(300)]
    text = " ".join(words)
    e = tiny.encode(text)
    whole = tiny.tokenizer(text)["input_ids"]
    assert e.input_ids.tolist() == whole  # nothing truncated
    assert e.words == tuple(words)
    assert e.windows[0][0] == 1 and e.windows[-1][1] == e.n_tokens - 1
    assert all(b - a == tiny.max_length - 2 for a, b in e.windows)
    assert torch.isfinite(e.hidden_states).all()


def test_stride_is_the_overlap_capped_at_half_a_window(tiny):
    text = " ".join(["hello world"] * 60)  # 120 content tokens
    for stride, step in [(0, 30), (4, 26), (15, 15), (16, 15), (100, 15)]:
        e = _encoder(tiny, 32, stride).encode(text)
        starts = [a for a, _ in e.windows]
        assert starts[1] - starts[0] == step, stride
        assert e.windows[-1][1] == e.n_tokens - 1


def test_max_length_beyond_the_model_is_refused(tiny_path):
    with pytest.raises(ValueError, match=r"max_length=100 is more than the 64 positions.*max_length <= 64"):
        bk.load(tiny_path, device="cpu", max_length=100)
    assert bk.load(tiny_path, device="cpu", max_length=64).max_length == 64


def test_max_length_below_eight_is_refused(tiny):
    with pytest.raises(ValueError, match="max_length must be an int >= 8 or None; got 7"):
        Settings(max_length=7)
    assert _encoder(tiny, 8, 2).encode("hello world the bank").n_words == 4


# -- properties against direct forward passes ---------------------------------
_texts = st.lists(st.sampled_from(WORDS + ["robbers", "banks", "x", "!", "7"]), min_size=0,
                  max_size=60).map(" ".join)


@settings(max_examples=15, deadline=None)
@given(text=_texts, max_length=st.integers(8, 24), stride=st.integers(0, 12))
def test_windowed_tokens_equal_a_direct_pass_over_their_window(tiny, text, max_length, stride):
    enc = _encoder(tiny, max_length, stride)
    e = enc.encode(text)
    ids = e.input_ids.tolist()
    n = len(ids)
    assert ids == tiny.tokenizer(text)["input_ids"]
    if not e.is_windowed:
        assert n <= max_length
        assert torch.allclose(e.hidden_states, _direct(tiny, ids), atol=ATOL)
        return
    cls, sep = ids[:1], ids[-1:]
    direct = [_direct(tiny, cls + ids[a:b] + sep) for a, b in e.windows]
    n_content = n - 2
    for pos in range(1, n - 1):
        c = pos - 1
        ctx = {w: _context(c, a - 1, b - 1, n_content)
               for w, (a, b) in enumerate(e.windows) if a <= pos < b}
        best = max(ctx.values())
        hits = [w for w, v in ctx.items()
                if v == best and torch.allclose(e.hidden_states[:, pos],
                                                direct[w][:, 1 + pos - e.windows[w][0]],
                                                atol=ATOL)]
        assert hits, f"token {pos} matches no best window"
    assert torch.allclose(e.hidden_states[:, 0], direct[0][:, 0], atol=ATOL)
    assert torch.allclose(e.hidden_states[:, -1], direct[-1][:, -1], atol=ATOL)


@settings(max_examples=8, deadline=None)
@given(text=_texts)
def test_window_settings_do_not_matter_for_a_text_that_fits(tiny, text):
    e = tiny.encode(text)
    for max_length, stride in [(e.n_tokens, 0), (max(e.n_tokens, 8) + 3, 5)]:
        if max_length > tiny.max_length:
            continue
        other = _encoder(tiny, max(max_length, 8), stride).encode(text)
        assert not other.is_windowed
        assert other.tokens == e.tokens and other.windows == e.windows
        assert torch.allclose(other.hidden_states, e.hidden_states, atol=ATOL)
