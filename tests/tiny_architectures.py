"""Tiny random encoders of every architecture the internals read (no downloads), built once per session.

BERT comes from conftest, RoBERTa and DistilBERT from test_architectures; ELECTRA (with an
embedding projection), XLM-R and ALBERT (a projection and one layer shared by all layers) are
built here, and a DeBERTa-v3-style DeBERTa-v2 (relative positions only, an embedding projection),
a ModernBERT (pre-LayerNorm, rotary, GeGLU, alternating global and sliding-window layers whose
window is shorter than the test texts) and an MPNet that the internals refuse.
"""

from __future__ import annotations

import torch
from conftest import make_tiny_model, tiny_vocab
from test_architectures import _distilbert, _roberta

import bertviz_kit as bk

SUPPORTED = ("bert", "roberta", "xlm-roberta", "electra", "distilbert", "albert", "deberta-v2", "modernbert")
POST_LN = SUPPORTED[:-1]  # the post-LayerNorm architectures


def _bert_tokenizer(folder) -> None:
    from transformers import BertTokenizerFast

    vocab = {t: i for i, t in enumerate(tiny_vocab())}
    BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=64).save_pretrained(folder)


def _electra(folder) -> str:
    from transformers import ElectraConfig, ElectraModel

    _bert_tokenizer(folder)
    torch.manual_seed(3)
    config = ElectraConfig(vocab_size=len(tiny_vocab()), embedding_size=16, hidden_size=32, num_hidden_layers=3,
                           num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)
    ElectraModel(config).eval().save_pretrained(folder, safe_serialization=True)
    return str(folder)


def _albert(folder) -> str:
    from transformers import AlbertConfig, AlbertModel

    _bert_tokenizer(folder)
    torch.manual_seed(4)
    config = AlbertConfig(vocab_size=len(tiny_vocab()), embedding_size=16, hidden_size=32, num_hidden_layers=3,
                          num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                          hidden_act="gelu_new")
    AlbertModel(config).eval().save_pretrained(folder, safe_serialization=True)
    return str(folder)


def _xlm_roberta(folder) -> str:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    _roberta(folder)  # its byte-level BPE tokenizer; the model below replaces the RoBERTa weights
    from transformers import AutoTokenizer

    n_vocab = len(AutoTokenizer.from_pretrained(folder))
    torch.manual_seed(5)
    config = XLMRobertaConfig(vocab_size=n_vocab, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                              intermediate_size=64, max_position_embeddings=66, pad_token_id=1, bos_token_id=0,
                              eos_token_id=2)
    XLMRobertaModel(config).eval().save_pretrained(folder, safe_serialization=True)
    return str(folder)


def _deberta(folder) -> str:
    from transformers import DebertaV2Config, DebertaV2Model

    _bert_tokenizer(folder)
    torch.manual_seed(6)
    config = DebertaV2Config(vocab_size=len(tiny_vocab()), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                             intermediate_size=64, max_position_embeddings=64, relative_attention=True,
                             pos_att_type=["p2c", "c2p"], position_biased_input=False, type_vocab_size=0,
                             position_buckets=16, max_relative_positions=64, norm_rel_ebd="layer_norm",
                             share_att_key=True, embedding_size=16)
    DebertaV2Model(config).eval().save_pretrained(folder, safe_serialization=True)
    return str(folder)


def _modernbert(folder) -> str:
    from transformers import ModernBertConfig, ModernBertModel

    _bert_tokenizer(folder)
    torch.manual_seed(7)
    # layers 1 and 3 global, layer 2 local: each token sees the tokens at most 2 positions away
    config = ModernBertConfig(vocab_size=len(tiny_vocab()), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                              intermediate_size=64, max_position_embeddings=64, pad_token_id=0, bos_token_id=2,
                              eos_token_id=3, cls_token_id=2, sep_token_id=3, local_attention=4,
                              global_attn_every_n_layers=2)
    ModernBertModel(config).eval().save_pretrained(folder, safe_serialization=True)
    return str(folder)


def _mpnet(folder) -> str:
    from transformers import MPNetConfig, MPNetModel

    _bert_tokenizer(folder)
    torch.manual_seed(8)
    config = MPNetConfig(vocab_size=len(tiny_vocab()), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=66)
    MPNetModel(config).eval().save_pretrained(folder, safe_serialization=True)
    return str(folder)


BUILDERS = {
    "bert": make_tiny_model,
    "roberta": _roberta,
    "xlm-roberta": _xlm_roberta,
    "electra": _electra,
    "distilbert": _distilbert,
    "albert": _albert,
    "deberta-v2": _deberta,
    "modernbert": _modernbert,
    "mpnet": _mpnet,
}

_CACHE: dict[str, bk.Encoder] = {}


def tiny_encoder(kind: str, tmp_path_factory) -> bk.Encoder:
    """The tiny encoder of ``kind`` (built and loaded once per test session)."""
    if kind not in _CACHE:
        folder = tmp_path_factory.mktemp(f"tiny-{kind}")
        _CACHE[kind] = bk.load(BUILDERS[kind](folder), device="cpu")
    return _CACHE[kind]
