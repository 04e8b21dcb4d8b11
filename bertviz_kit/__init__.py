"""bertviz_kit: look inside BERT-like encoders.

Run the model once, keep every layer, then slice, reshape, pool, compare and
plot without running it again::

    import bertviz_kit as bk
    enc = bk.load()                       # bundled all-MiniLM-L6-v2, offline
    e = enc.encode("After stealing money from the bank vault, ...")
    vecs = bk.word_vectors(e, layers="sum_last4")
    banks = bk.find(e, "bank")
    bk.cosine(vecs[banks])
"""

from __future__ import annotations

from . import datasets, exercises
from ._validation import InvalidParameterError
from ._version import __version__ as __version__
from .analysis.alignment import AlignmentReport, WordFeatures, ud_word_features
from .analysis.attention import (
    HEAD_STATISTICS,
    attention_rollout,
    head_statistics,
    plot_attention,
    plot_attention_grid,
    plot_rollout,
    word_attention,
)
from .analysis.cka import CKA_ESTIMATORS, CKA_UNITS, cka, layer_cka
from .analysis.contextuality import mev, mev_baseline, static_embeddings
from .analysis.heads import EncoderWithHead
from .analysis.internals import SUPPORTED_ARCHITECTURES, EmbeddingSum, LayerInternals, embedding_sum, layer_internals
from .analysis.lens import LENS_KINDS, LensResult, lens
from .analysis.masked import MaskPredictions, fill_mask
from .analysis.mixing import MIXING_METHODS, PRE_LN_METHODS, MixingResult, context_mixing, mixing_agreement
from .analysis.neurons import TopNeurons, query_key_products, top_neurons
from .analysis.probing import PROBES, ProbeResult, ScalarMixResult, control_labels, probe_layers, scalar_mix_probe
from .config import MODEL_ENV, Settings, read_settings
from .encoder import Encoder
from .encoding import Corpus, Encoding, Encodings
from .examples import BANK_SENSES, BANK_TEXT
from .explorer.export import html_view, to_html
from .explorer.panels import AttentionPanel, CurvesPanel, HeatmapPanel, HistogramPanel, LensPanel
from .explorer.protocol import DEFAULT_PANELS, PANELS, Panel, PanelControl, register_panel
from .explorer.static_page import HtmlView
from .explorer.widget import SAVE_FORMATS, Explorer, explore
from .extraction import extract, extract_part
from .layers import LAYER_PRESETS, resolve_layers
from .loading import bundled_model_path, download, load
from .plot.cka import plot_cka
from .plot.heads import plot_head_statistics, plot_head_statistics_grid
from .plot.lens import plot_lens
from .plot.mixing import plot_context_mixing
from .plot.probing import plot_cumulative_scoring, plot_probe, plot_scalar_mix
from .plot.search import plot_nearest_contexts
from .plot.similarity import plot_histogram, plot_layer_similarity, plot_similarity_heatmap
from .search.exact import ContextMatch, ContextMatches, nearest_contexts
from .search.index import INDEX_KINDS, ContextIndex, build_context_index, load_context_index
from .store import CorruptStoreError, Store, StoreView, open_store
from .vectors.addressing import attention_units, occurrence_labels
from .vectors.pooling import (
    POOLING_MODES,
    SPECIALS_MODES,
    SUBWORD_MODES,
    layer_sentence_vectors,
    sentence_vector,
    sentence_vectors,
    span_vector,
    token_vectors,
    word_vectors,
)
from .vectors.projection import PROJECTION_METHODS, plot_projection, plot_trajectory, project, project_layers
from .vectors.similarity import (
    anisotropy,
    cosine,
    find,
    find_occurrences,
    intra_similarity,
    layer_occurrence_vectors,
    layer_similarity,
    layer_word_vectors,
    occurrence_vectors,
    self_similarity,
)

__all__ = [
    "datasets",
    "exercises",
    "Settings",
    "read_settings",
    "Encoder",
    "Encoding",
    "Encodings",
    "Corpus",
    "InvalidParameterError",
    "EncoderWithHead",
    "BANK_TEXT",
    "BANK_SENSES",
    "load",
    "bundled_model_path",
    "LAYER_PRESETS",
    "POOLING_MODES",
    "SPECIALS_MODES",
    "SUBWORD_MODES",
    "resolve_layers",
    "token_vectors",
    "word_vectors",
    "span_vector",
    "sentence_vector",
    "sentence_vectors",
    "cosine",
    "find",
    "layer_similarity",
    "layer_word_vectors",
    "plot_histogram",
    "plot_similarity_heatmap",
    "plot_layer_similarity",
    "plot_attention",
    "plot_attention_grid",
    "layer_sentence_vectors",
    "find_occurrences",
    "occurrence_vectors",
    "layer_occurrence_vectors",
    "self_similarity",
    "intra_similarity",
    "anisotropy",
    "PROJECTION_METHODS",
    "project",
    "project_layers",
    "plot_projection",
    "plot_trajectory",
    "ProbeResult",
    "probe_layers",
    "plot_probe",
    "extract",
    "extract_part",
    "open_store",
    "Store",
    "StoreView",
    "CorruptStoreError",
    "Explorer",
    "explore",
    "HtmlView",
    "html_view",
    "to_html",
    "HEAD_STATISTICS",
    "word_attention",
    "attention_units",
    "attention_rollout",
    "head_statistics",
    "plot_rollout",
    "plot_head_statistics",
    "plot_head_statistics_grid",
    "cka",
    "layer_cka",
    "CKA_UNITS",
    "CKA_ESTIMATORS",
    "plot_cka",
    "mev",
    "mev_baseline",
    "static_embeddings",
    "occurrence_labels",
    "download",
    "MODEL_ENV",
    "AlignmentReport",
    "WordFeatures",
    "ud_word_features",
    "PROBES",
    "control_labels",
    "ScalarMixResult",
    "scalar_mix_probe",
    "plot_scalar_mix",
    "plot_cumulative_scoring",
    "lens",
    "LensResult",
    "LENS_KINDS",
    "plot_lens",
    "nearest_contexts",
    "ContextMatch",
    "Panel",
    "PanelControl",
    "PANELS",
    "DEFAULT_PANELS",
    "register_panel",
    "HistogramPanel",
    "HeatmapPanel",
    "CurvesPanel",
    "AttentionPanel",
    "LensPanel",
    "SAVE_FORMATS",
    "ContextMatches",
    "plot_nearest_contexts",
    "ContextIndex",
    "build_context_index",
    "load_context_index",
    "INDEX_KINDS",
    # -- inside a layer, context mixing, [MASK] predictions (issue #23) --
    "SUPPORTED_ARCHITECTURES",
    "LayerInternals",
    "EmbeddingSum",
    "TopNeurons",
    "layer_internals",
    "embedding_sum",
    "query_key_products",
    "top_neurons",
    "MIXING_METHODS",
    "PRE_LN_METHODS",
    "MixingResult",
    "context_mixing",
    "mixing_agreement",
    "plot_context_mixing",
    "MaskPredictions",
    "fill_mask",
]
