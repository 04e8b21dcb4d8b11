"""Encoders other than BERT (RoBERTa with byte-level BPE, DistilBERT), and tokenization
that agrees with transformers' own tokenizer call on every model.

The tiny models are built here with random weights; no files are downloaded.
"""

from __future__ import annotations

import pytest
import torch
from conftest import BANK_TEXT, WORDS, tiny_vocab

import bertviz_kit as bk
from bertviz_kit.kernels import onednn_available

TEXTS = [
    BANK_TEXT,
    "",
    "   ",
    "Café naïve – “quoted” words, emoji 🙂 and CJK 銀行 with a zero\u200bwidth space.",
    "hello world " * 40,  # longer than the tiny models' window
    "a robbers' bank",
]


def _roberta(folder) -> str:
    """A tiny RoBERTa with a byte-level BPE tokenizer trained on a few sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = [BANK_TEXT, " ".join(WORDS), "hello world, good and bad."] * 5
    bpe.train_from_iterator(
        corpus,
        trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", sep_token="</s>",
        cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        model_max_length=64,
    )
    tok.save_pretrained(folder)
    torch.manual_seed(1)
    config = RobertaConfig(
        vocab_size=bpe.get_vocab_size(), hidden_size=32, num_hidden_layers=3,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=66,
        pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )
    RobertaModel(config).eval().save_pretrained(folder, safe_serialization=True)
    return str(folder)


def _distilbert(folder) -> str:
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizerFast

    vocab = {t: i for i, t in enumerate(tiny_vocab())}
    DistilBertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=48).save_pretrained(folder)
    torch.manual_seed(2)
    config = DistilBertConfig(vocab_size=len(tiny_vocab()), dim=32, n_layers=3, n_heads=4, hidden_dim=64,
                              max_position_embeddings=48)
    DistilBertModel(config).eval().save_pretrained(folder, safe_serialization=True)
    return str(folder)


@pytest.fixture(scope="module", params=["roberta", "distilbert"])
def other(request, tmp_path_factory) -> bk.Encoder:
    build = {"roberta": _roberta, "distilbert": _distilbert}[request.param]
    return bk.load(build(tmp_path_factory.mktemp(request.param)), device="cpu")


def test_other_architectures_encode_every_layer(other):
    es = other.encode(TEXTS)
    assert other.n_layers == 3 and other.dim == 32
    for text, e in zip(TEXTS, es):
        assert e.hidden_states.shape == (4, e.n_tokens, 32)
        assert torch.isfinite(e.hidden_states).all()
        assert e.words == tuple(text[a:b] for a, b in e.word_spans)
    long = es[4]
    assert long.n_tokens > other.max_length and long.is_windowed  # windowed, not truncated
    e = es[0]
    assert e.words == tuple(BANK_TEXT.replace(",", " ,").replace(".", " .").split())
    vecs = bk.word_vectors(e)
    assert vecs.shape == (e.n_words, 32)
    banks = bk.find(e, "bank")
    assert len(banks) == 3
    assert bk.sentence_vectors(e)[0].shape == (32,)


def test_other_architectures_attentions(other):
    e = other.encode(BANK_TEXT, attentions=True)
    assert e.attentions.shape == (3, 4, e.n_tokens, e.n_tokens)
    torch.testing.assert_close(e.attentions.sum(-1), torch.ones(3, 4, e.n_tokens))


def _reference(tokenizer, text: str) -> dict:
    """transformers' own answer for one text, word ids numbered from 0 as bertviz_kit does."""
    out = tokenizer(text, truncation=False, return_offsets_mapping=True)
    ids = out.word_ids()
    order = {w: k for k, w in enumerate(dict.fromkeys(w for w in ids if w is not None))}
    return {
        "input_ids": out["input_ids"],
        "tokens": tokenizer.convert_ids_to_tokens(out["input_ids"]),
        "offsets": [tuple(o) for o in out["offset_mapping"]],
        "word_ids": [None if w is None else order[w] for w in ids],
    }


def _check_tokenization(enc: bk.Encoder) -> None:
    for e in enc.encode(TEXTS + ["x" * 700, "bank " * 300]):
        ref = _reference(enc.tokenizer, e.text)
        assert e.input_ids.tolist() == ref["input_ids"]
        assert list(e.tokens) == ref["tokens"]
        assert list(e.offsets) == ref["offsets"]
        assert list(e.word_ids) == ref["word_ids"]


@pytest.mark.parametrize("which", ["tiny", "minilm"])
def test_tokenization_matches_transformers(which, request):
    _check_tokenization(request.getfixturevalue(which))


def test_tokenization_matches_transformers_other_architectures(other):
    _check_tokenization(other)


def test_tokenizer_set_to_truncate_still_encodes_whole_text(minilm):
    """The bundled tokenizer.json asks for truncation and padding at 128; encode ignores both."""
    text = "the bank " * 100  # 200 words, over 128 tokens
    minilm.tokenizer.backend_tokenizer.enable_truncation(max_length=16)
    minilm.tokenizer.backend_tokenizer.enable_padding(length=300)
    e = minilm.encode(text)
    assert e.n_tokens == 202 and e.tokens[-1] == "[SEP]" and "[PAD]" not in e.tokens
    assert e.words == tuple(text.split())


@pytest.mark.skipif(not onednn_available(), reason="PyTorch without oneDNN")
def test_other_architectures_with_onednn_kernels(other):
    """Their linear layers (RoBERTa's as BERT's, DistilBERT's q_lin/ffn) on oneDNN give torch's result."""
    fast = bk.load(other.name, device="cpu", cpu_linear="onednn")
    plain = bk.load(other.name, device="cpu", cpu_linear="torch")
    for a, b in zip(fast.encode(TEXTS), plain.encode(TEXTS)):
        torch.testing.assert_close(a.hidden_states, b.hidden_states, rtol=1e-4, atol=1e-4)


def test_modernbert_encodes_as_transformers(tmp_path_factory):
    """ModernBERT (rotary, pre-LayerNorm, a sliding window shorter than the text): bk.load/encode give
    transformers' own hidden states (the last one after the final norm) and eager attentions."""
    from tiny_architectures import tiny_encoder
    from transformers import AutoModel

    enc = tiny_encoder("modernbert", tmp_path_factory)
    ref_model = AutoModel.from_pretrained(enc.name, attn_implementation="eager").eval()
    for text in (BANK_TEXT, "a robbers' bank"):
        e = enc.encode(text, attentions=True)
        ids = e.input_ids.long().unsqueeze(0)
        with torch.no_grad():
            out = ref_model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True,
                            output_attentions=True)
        assert e.hidden_states.shape == (enc.n_layers + 1, e.n_tokens, enc.dim)
        torch.testing.assert_close(e.hidden_states, torch.cat(out.hidden_states).float(), atol=1e-5, rtol=0)
        torch.testing.assert_close(e.hidden_states[-1], out.last_hidden_state[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(e.attentions, torch.cat(out.attentions).float(), atol=1e-5, rtol=0)
