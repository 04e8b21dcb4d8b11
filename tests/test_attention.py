"""Word-level attention, rollout and head statistics against slow references; their plots and export."""

from __future__ import annotations

import math
import unicodedata

import matplotlib
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bertviz_kit as bk
from bertviz_kit.cli import main

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# the tiny vocabulary has no "robbers", "xylophone" or "qz": they split into pieces
SPLIT_TEXTS = (
    "the robbers fished the river, hello xylophone world.",
    "qz! a bank is good; robbers are bad...",
    "hello",
    "",
)
VOCAB_WORDS = ("the", "bank", "robber", "robbers", "river", "hello", "world", "xylophone", "qz", ",", ".", "!")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def split(tiny):
    return tiny.encode(list(SPLIT_TEXTS), attentions=True)


# ---------------------------------------------------------------------------
# slow references: Python loops over words, layers, heads and queries
# ---------------------------------------------------------------------------


def slow_word_attention(e: bk.Encoding) -> tuple[np.ndarray, list[str]]:
    """Clark et al.: sum over the pieces of the key word, mean over the pieces of the query word."""
    groups, labels = [], []
    for t, w in enumerate(e.word_ids):
        if w is None:
            groups.append([t])
            labels.append(e.tokens[t])
        elif t > 0 and e.word_ids[t - 1] == w:
            groups[-1].append(t)
        else:
            groups.append([t])
            labels.append(e.words[w])
    att = e.attentions.double().numpy()
    n_layers, n_heads = att.shape[:2]
    out = np.zeros((n_layers, n_heads, len(groups), len(groups)))
    for layer in range(n_layers):
        for h in range(n_heads):
            for i, qs in enumerate(groups):
                for j, ks in enumerate(groups):
                    out[layer, h, i, j] = np.mean([sum(att[layer, h, q, k] for k in ks) for q in qs])
    return out, labels


def slow_rollout(att: np.ndarray) -> np.ndarray:
    """Abnar and Zuidema: per layer, heads averaged, 0.5 A + 0.5 I, rows renormalised, multiplied up."""
    n_layers, n_heads, n, _ = att.shape
    out, rollout = [], None
    for layer in range(n_layers):
        a = sum(att[layer, h] for h in range(n_heads)) / n_heads
        a = 0.5 * a + 0.5 * np.eye(n)
        a = np.stack([row / row.sum() for row in a])
        rollout = a if rollout is None else a @ rollout
        out.append(rollout)
    return np.stack(out)


def slow_head_statistics(encodings, queries="all") -> dict[str, np.ndarray]:
    sums: dict[str, np.ndarray] = {}
    counts = dict.fromkeys(bk.HEAD_STATISTICS, 0)
    for e in encodings:
        att = e.attentions.double().numpy()
        n_layers, n_heads, n, _ = att.shape
        for key in bk.HEAD_STATISTICS:
            sums.setdefault(key, np.zeros((n_layers, n_heads)))
        punct = [all(unicodedata.category(c).startswith("P") for c in t) for t in e.tokens]
        for i in range(n):
            if queries == "words" and e.word_ids[i] is None:
                continue
            counts["entropy"] += 1
            counts["previous"] += i > 0
            counts["next"] += i < n - 1
            for layer in range(n_layers):
                for h in range(n_heads):
                    row = att[layer, h, i]
                    s = sums
                    s["entropy"][layer, h] -= sum(p * math.log(p) for p in row if p > 0)
                    s["cls"][layer, h] += row[0] if e.word_ids[0] is None else 0.0
                    s["sep"][layer, h] += sum(row[j] for j in range(1, n) if e.word_ids[j] is None)
                    s["punct"][layer, h] += sum(row[j] for j in range(n) if punct[j])
                    s["self"][layer, h] += row[i]
                    s["previous"][layer, h] += row[i - 1] if i > 0 else 0.0
                    s["next"][layer, h] += row[i + 1] if i < n - 1 else 0.0
                    s["distance"][layer, h] += sum(row[j] * abs(i - j) for j in range(n))
    for key in ("cls", "sep", "punct", "self", "distance"):
        counts[key] = counts["entropy"]
    return {k: sums[k] / counts[k] for k in bk.HEAD_STATISTICS}


# ---------------------------------------------------------------------------
# word-level attention
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(len(SPLIT_TEXTS)))
def test_word_attention_equals_slow_reference_and_rows_sum_to_one(split, i):
    e = split[i]
    w = bk.word_attention(e)
    ref, labels = slow_word_attention(e)
    assert w.dtype == torch.float32
    assert w.shape == ref.shape == (3, 4, len(labels), len(labels))
    assert np.allclose(w.numpy(), ref, atol=1e-6)
    assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-5)
    assert bk.attention_units(e) == tuple(labels)


def test_split_words_become_one_unit(split):
    e = split[0]
    assert "##s" in e.tokens and e.n_tokens > len(bk.attention_units(e))
    units = bk.attention_units(e)
    assert units[0] == "[CLS]" and units[-1] == "[SEP]"
    assert units[1:-1] == e.words
    assert bk.attention_units(e, "exclude") == e.words
    assert bk.attention_units(split[3]) == ("[CLS]", "[SEP]") and bk.attention_units(split[3], "exclude") == ()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(VOCAB_WORDS), min_size=0, max_size=12))
def test_word_attention_property(tiny, words):
    e = tiny.encode(" ".join(words), attentions=True)
    w = bk.word_attention(e)
    ref, labels = slow_word_attention(e)
    assert np.allclose(w.numpy(), ref, atol=1e-6)
    assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-5)
    excl = bk.word_attention(e, specials="exclude")
    keep = [lab not in ("[CLS]", "[SEP]") for lab in labels]
    assert np.allclose(excl.numpy(), ref[:, :, keep][:, :, :, keep], atol=1e-6)


def test_word_attention_is_token_attention_without_split_words(bank):
    e = bank  # MiniLM keeps every word of the bank sentence whole
    assert e.n_tokens == e.n_words + 2
    assert torch.equal(bk.word_attention(e), e.attentions)
    assert bk.attention_units(e) == ("[CLS]", *e.words, "[SEP]")
    words = ~e.special_mask
    assert torch.equal(bk.word_attention(e, specials="exclude"), e.attentions[:, :, words][:, :, :, words])


def test_word_attention_of_half_precision_storage(tiny):
    e = tiny.encode(SPLIT_TEXTS[0], attentions=True, dtype="bfloat16")
    assert e.attentions.dtype == torch.bfloat16
    w = bk.word_attention(e)
    assert w.dtype == torch.float32
    assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-2)


def test_word_attention_does_not_modify_the_encoding(split):
    e = split[0]
    before = e.attentions.clone()
    bk.word_attention(e)
    bk.attention_rollout(e, words=True)
    bk.head_statistics(e)
    assert torch.equal(e.attentions, before)


# ---------------------------------------------------------------------------
# rollout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(len(SPLIT_TEXTS)))
def test_rollout_equals_slow_reference(split, i):
    e = split[i]
    r = bk.attention_rollout(e)
    ref = slow_rollout(e.attentions.double().numpy())
    assert r.shape == (3, e.n_tokens, e.n_tokens) and r.dtype == torch.float32
    assert np.allclose(r.numpy(), ref, atol=1e-6)
    assert torch.allclose(r.sum(-1), torch.ones(r.shape[:-1]), atol=1e-5)
    rw = bk.attention_rollout(e, words=True)
    assert np.allclose(rw.numpy(), slow_rollout(slow_word_attention(e)[0]), atol=1e-6)


def test_rollout_first_layer_and_bundled_model(bank):
    r = bk.attention_rollout(bank)
    a1 = 0.5 * bank.attentions[0].mean(0) + 0.5 * torch.eye(bank.n_tokens)
    assert torch.allclose(r[0], a1 / a1.sum(-1, keepdim=True), atol=1e-6)
    assert np.allclose(r.numpy(), slow_rollout(bank.attentions.double().numpy()), atol=1e-5)
    # without split words, word-level rollout is token-level rollout
    assert torch.allclose(bk.attention_rollout(bank, words=True), r, atol=1e-6)


# ---------------------------------------------------------------------------
# head statistics
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("queries", ["all", "words"])
def test_head_statistics_equal_slow_loop(split, queries):
    items = list(split)[:3]  # leave out the empty text for "words" (no word queries there)
    ref = slow_head_statistics(items, queries)
    for data in (split[:3], items):
        stats = bk.head_statistics(data, queries=queries)
        assert list(stats) == list(bk.HEAD_STATISTICS)
        for key, v in stats.items():
            assert v.shape == (3, 4) and v.dtype == torch.float32, key
            assert np.allclose(v.numpy(), ref[key], atol=1e-5), key


def test_head_statistics_one_text_and_the_empty_one(split, bank):
    one = bk.head_statistics(split[0])
    ref = slow_head_statistics([split[0]])
    assert all(np.allclose(one[k].numpy(), ref[k], atol=1e-5) for k in one)
    # all texts, the empty one ("[CLS] [SEP]") included: queries="all" counts its two tokens
    stats = bk.head_statistics(split)
    ref = slow_head_statistics(list(split))
    assert all(np.allclose(stats[k].numpy(), ref[k], atol=1e-5) for k in stats)
    s = bk.head_statistics(bank)
    assert s["entropy"].shape == (6, 12)
    assert float(s["entropy"].min()) >= 0 and float(s["entropy"].max()) <= math.log(bank.n_tokens) + 1e-5
    for key in ("cls", "sep", "punct", "self", "previous", "next"):
        assert 0 <= float(s[key].min()) and float(s[key].max()) <= 1 + 1e-6, key
    # a head that sends (almost) everything to the previous token: layer 1, head 2 of MiniLM
    assert float(s["previous"][0, 2]) > 0.9


def test_head_statistics_keep_the_thread_setting(split):
    before = torch.get_num_threads()
    bk.head_statistics(split)
    with pytest.raises(bk.InvalidParameterError):
        bk.head_statistics(split[3:], queries="words")
    assert torch.get_num_threads() == before


def test_head_statistics_known_patterns():
    """Hand-made attention maps: each statistic reads the pattern it names."""
    tokens = ("[CLS]", "a", "b", ",", "c", "[SEP]")
    n = len(tokens)
    prev = torch.zeros(n, n)
    prev[0, 0] = 1
    prev[torch.arange(1, n), torch.arange(0, n - 1)] = 1
    to_cls = torch.zeros(n, n)
    to_cls[:, 0] = 1
    uniform = torch.full((n, n), 1 / n)
    att = torch.stack([prev, to_cls, uniform]).unsqueeze(0)  # [1 layer, 3 heads, n, n]
    e = bk.Encoding(text="a b, c", tokens=tokens, input_ids=torch.arange(n),
                    word_ids=(None, 0, 1, 2, 3, None), offsets=((0, 0), (0, 1), (2, 3), (3, 4), (5, 6), (0, 0)),
                    words=("a", "b", ",", "c"), hidden_states=torch.zeros(2, n, 4), attentions=att)
    s = bk.head_statistics(e)
    # head 1: token 1 sends its attention to [CLS], its previous token (1 of n - 1 queries with one)
    assert torch.allclose(s["previous"][0], torch.tensor([1.0, 1 / (n - 1), 1 / n]))
    assert torch.allclose(s["cls"][0], torch.tensor([2 / n, 1.0, 1 / n]))
    assert torch.allclose(s["sep"][0], torch.tensor([0.0, 0.0, 1 / n]))  # nothing comes after [SEP]
    assert torch.allclose(s["punct"][0], torch.tensor([1 / n, 0.0, 1 / n]))
    assert torch.allclose(s["entropy"][0], torch.tensor([0.0, 0.0, math.log(n)]), atol=1e-6)
    assert torch.allclose(s["distance"][0, 1], torch.tensor(sum(range(n)) / n))


# ---------------------------------------------------------------------------
# bad inputs: one error type, naming the fix
# ---------------------------------------------------------------------------


def test_no_attentions_is_a_clear_error(tiny, tmp_path):
    e = tiny.encode("the river bank")
    for fn in (bk.word_attention, bk.attention_rollout, bk.head_statistics):
        with pytest.raises(bk.InvalidParameterError, match=r"enc\.encode\(text, attentions=True\)"):
            fn(e)
    with pytest.raises(bk.InvalidParameterError, match=r"corpus\[1\] has no attention weights"):
        bk.head_statistics([tiny.encode("a", attentions=True), e])
    with pytest.raises(bk.InvalidParameterError, match=r"enc\.encode\(texts, attentions=True\)"):
        bk.head_statistics(tiny.encode(["the bank", "a river"]))
    store = bk.extract(tiny, ["the bank", "a river"], tmp_path / "s", progress=False)
    with pytest.raises(bk.InvalidParameterError, match=r"stores hold no attention weights.*attentions=True"):
        bk.head_statistics(store)
    assert bk.attention_units(e) == ("[CLS]", "the", "river", "bank", "[SEP]")  # labels need no weights


def test_bad_arguments(split, tiny_bank):
    e = split[0]
    with pytest.raises(bk.InvalidParameterError, match=r"specials must be one of \('include', 'exclude'\); got 'all'"):
        bk.word_attention(e, specials="all")
    with pytest.raises(bk.InvalidParameterError, match="specials must be one of"):
        bk.attention_units(e, specials=None)
    with pytest.raises(bk.InvalidParameterError, match="words must be True or False; got 1"):
        bk.attention_rollout(e, words=1)
    with pytest.raises(bk.InvalidParameterError, match=r"queries must be one of \('all', 'words'\)"):
        bk.head_statistics(e, queries="tokens")
    with pytest.raises(bk.InvalidParameterError, match="e must be an Encoding"):
        bk.word_attention(split)
    with pytest.raises(bk.InvalidParameterError, match="must be an Encoding or Encodings"):
        bk.head_statistics("the bank")
    with pytest.raises(bk.InvalidParameterError, match="at least one text"):
        bk.head_statistics([])
    with pytest.raises(bk.InvalidParameterError, match=r"corpus\[1\] must be an Encoding"):
        bk.head_statistics([e, "text"])
    with pytest.raises(bk.InvalidParameterError, match="no query tokens"):
        bk.head_statistics(split[3:], queries="words")
    stats = bk.head_statistics(e)
    with pytest.raises(bk.InvalidParameterError, match=r"statistic must be one of \('entropy', 'cls'.*got 'max'"):
        bk.plot_head_statistics(stats, "max")
    with pytest.raises(TypeError, match="stats must be the mapping"):
        bk.plot_head_statistics(e.attentions)
    with pytest.raises(bk.InvalidParameterError, match="statistics must be one of"):
        bk.plot_head_statistics_grid(stats, ["entropy", "max"])
    with pytest.raises(bk.InvalidParameterError, match=r"level must be one of \('token', 'word'\)"):
        bk.plot_attention(tiny_bank, level="words")
    with pytest.raises(bk.InvalidParameterError, match="level must be one of"):
        bk.plot_attention_grid(tiny_bank, level="piece")
    with pytest.raises(ValueError, match=r"layer must be an int in \[1, 3\]"):
        bk.plot_rollout(e, layer=0)
    with pytest.raises(ValueError, match="query 'vault' does not occur in this text"):
        bk.plot_rollout(e, query="vault")
    with pytest.raises(ValueError, match=r"query must be a word unit index in \[.*\], a word string or None"):
        bk.plot_rollout(e, words=True, query=99)
    with pytest.raises(bk.InvalidParameterError, match="specials must be one of"):
        bk.plot_rollout(e, specials="none")


# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------


def test_plot_attention_word_level(split, tiny_bank):
    e = split[0]
    ax = bk.plot_attention(e, layer=2, head=1, level="word")
    assert np.allclose(ax.images[0].get_array(), bk.word_attention(e)[1, 1].numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == list(bk.attention_units(e))
    assert ax.get_xlabel() == "attended word (key)" and ax.get_ylabel() == "attending word (query)"
    assert ax.get_title() == "word attention, layer 2, head 1"
    assert ax.images[0].colorbar.ax.get_ylabel() == "attention weight"
    ax = bk.plot_attention(e, level="word", specials="exclude")
    assert [t.get_text() for t in ax.get_xticklabels()] == list(e.words)
    # the default is unchanged: tokens
    ax = bk.plot_attention(tiny_bank, layer=2, head=1)
    assert np.allclose(ax.images[0].get_array(), tiny_bank.attentions[1, 1].numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == list(tiny_bank.tokens)
    assert ax.get_xlabel() == "attended token (key)"


def test_plot_attention_grid_word_level(split):
    e = split[0]
    axes = bk.plot_attention_grid(e, level="word", specials="exclude")
    assert axes.shape == (3, 4)
    assert np.allclose(axes[2, 3].images[0].get_array(), bk.word_attention(e, "exclude")[2, 3].numpy())
    assert axes[0, 0].figure._suptitle.get_text().startswith("word attention")


def test_plot_rollout_heatmap_and_bars(split, bank):
    e = split[0]
    ax = bk.plot_rollout(e)
    assert np.allclose(ax.images[0].get_array(), bk.attention_rollout(e)[-1].numpy())
    assert ax.get_xlabel() == "input token" and ax.get_ylabel() == "position after layer 3"
    assert ax.images[0].colorbar.ax.get_ylabel().startswith("rollout weight")
    ax = bk.plot_rollout(e, layer=2, words=True, specials="exclude")
    r = bk.attention_rollout(e, words=True)[1, 1:-1, 1:-1]
    assert np.allclose(ax.images[0].get_array(), r.numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == list(e.words)
    ax = bk.plot_rollout(bank, query="[CLS]")
    heights = [p.get_height() for p in ax.patches]
    assert np.allclose(heights, bk.attention_rollout(bank)[-1, 0].numpy())
    assert "orange" in ax.get_title() and ax.get_xlabel() == "input token"
    ax = bk.plot_rollout(bank, layer=1, query="vault", words=True, specials="exclude")
    assert len(ax.patches) == bank.n_words
    # words are numbered as in e.words (the unit index, 7, counts [CLS] too)
    assert ax.get_title().startswith("rollout of word 6 'vault' (orange) through layer 1")
    ax = bk.plot_rollout(bank, query="Bank", occurrence=-1)
    assert np.allclose([p.get_height() for p in ax.patches], bk.attention_rollout(bank)[-1, 19].numpy())
    assert ax.get_title().startswith("rollout of word 18 'bank' (orange)")


def test_plot_head_statistics(split):
    stats = bk.head_statistics(split)
    ax = bk.plot_head_statistics(stats)
    assert np.allclose(ax.images[0].get_array(), stats["entropy"].numpy())
    assert ax.get_xlabel() == "head" and ax.get_ylabel() == "layer"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3"]
    assert ax.images[0].colorbar.ax.get_ylabel() == "attention entropy (nats)"
    assert len(ax.texts) == 12  # annotated: few heads
    ax = bk.plot_head_statistics(stats, "previous", annotate=False)
    assert ax.images[0].get_clim() == (0.0, 1.0) and not ax.texts
    axes = bk.plot_head_statistics_grid(stats)
    assert axes.shape == (2, 4)
    assert [a.get_title() for a in axes.flat] == list(bk.HEAD_STATISTICS.values())
    axes = bk.plot_head_statistics_grid(stats, ["cls", "sep", "punct"], ncols=2)
    assert axes.shape == (2, 2) and not axes[1, 1].axison


# ---------------------------------------------------------------------------
# export: PNG, SVG and PDF with readable text
# ---------------------------------------------------------------------------


def _figures(split, bank):
    stats = bk.head_statistics(split)
    return {
        "word_attention": bk.plot_attention(split[0], level="word").figure,
        "word_attention_grid": bk.plot_attention_grid(split[0], level="word")[0, 0].figure,
        "rollout": bk.plot_rollout(bank).figure,
        "rollout_bars": bk.plot_rollout(bank, query="[CLS]", words=True).figure,
        "head_statistics": bk.plot_head_statistics(stats).figure,
        "head_statistics_grid": bk.plot_head_statistics_grid(stats)[0, 0].figure,
    }


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_every_new_plot_saves_in_each_format(split, bank, tmp_path, fmt):
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[fmt]
    for name, fig in _figures(split, bank).items():
        path = tmp_path / f"{name}.{fmt}"
        fig.savefig(path)
        data = path.read_bytes()
        assert data.startswith(magic) and len(data) > 2000, name
        if fmt == "svg":
            text = data.decode("utf-8")
            title = next(t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text())
            # matplotlib draws glyphs as paths and keeps each string in a comment (or as <text>
            # with svg.fonttype="none"): the words are in the file either way
            assert title in text, name
            assert "<text" in text or "<use xlink:href=\"#" in text, name


def test_svg_text_stays_text_with_fonttype_none(bank, tmp_path):
    ax = bk.plot_rollout(bank, query="[CLS]")
    with plt.rc_context({"svg.fonttype": "none"}):
        ax.figure.savefig(tmp_path / "r.svg")
    text = (tmp_path / "r.svg").read_text()
    assert "<text" in text and "mississippi" in text


# ---------------------------------------------------------------------------
# the CLI's figure format and resolution
# ---------------------------------------------------------------------------


def test_cli_demo_formats_and_dpi(tmp_path, tiny_path, capsys):
    names = ("histogram", "similarity_heatmap", "layer_similarity")
    text = "the bank robber and the river bank"
    assert main(["--model", tiny_path, "demo", text, "--out", str(tmp_path / "png")]) == 0
    for name in names:  # PNG stays the default
        assert (tmp_path / "png" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    for fmt, magic in (("svg", b"<?xml"), ("pdf", b"%PDF")):
        out = tmp_path / fmt
        assert main(["--model", tiny_path, "demo", text, "--out", str(out), "--format", fmt]) == 0
        for name in names:
            assert (out / f"{name}.{fmt}").read_bytes().startswith(magic)
        assert not list(out.glob("*.png"))
    from PIL import Image

    sizes = {}
    for dpi in (50, 100):
        out = tmp_path / f"dpi{dpi}"
        assert main(["--model", tiny_path, "demo", text, "--out", str(out), "--dpi", str(dpi)]) == 0
        sizes[dpi] = Image.open(out / "histogram.png").size
    assert sizes[100][0] == pytest.approx(2 * sizes[50][0], abs=2)
    capsys.readouterr()
    for bad in (["--format", "jpg"], ["--dpi", "0"], ["--dpi", "high"]):
        with pytest.raises(SystemExit) as exc:
            main(["--model", tiny_path, "demo", text, "--out", str(tmp_path / "bad"), *bad])
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'jpg'" in err and "must be a positive integer" in err


@pytest.mark.parametrize("queries", ["all", "words"])
def test_head_statistics_averaged_per_text_as_clark_et_al(tiny, split, queries):
    items = [*list(split)[:3], tiny.encode(" ".join(["the robbers fished the river"] * 4), attentions=True)]
    assert len({e.n_tokens for e in items}) == 4  # texts of different lengths
    per_text = [slow_head_statistics([e], queries) for e in items]
    stats = bk.head_statistics(items, queries=queries, average="texts")
    pooled = bk.head_statistics(items, queries=queries)
    for key in bk.HEAD_STATISTICS:
        ref = np.mean([p[key] for p in per_text], axis=0)  # each text's mean, then the mean over texts
        assert np.allclose(stats[key].numpy(), ref, atol=1e-5), key
    assert not np.allclose(stats["distance"].numpy(), pooled["distance"].numpy(), atol=1e-3)
    one = bk.head_statistics(items[0], queries=queries, average="texts")
    assert all(torch.allclose(one[k], bk.head_statistics(items[0], queries=queries)[k]) for k in one)


def test_head_statistics_per_text_leaves_out_texts_without_queries(split):
    items = list(split)  # the last one is the empty text: no word queries
    assert items[-1].n_words == 0
    stats = bk.head_statistics(items, queries="words", average="texts")
    ref = bk.head_statistics(items[:-1], queries="words", average="texts")
    assert all(torch.allclose(stats[k], ref[k]) for k in stats)
    with pytest.raises(bk.InvalidParameterError, match="average"):
        bk.head_statistics(items, average="words")
