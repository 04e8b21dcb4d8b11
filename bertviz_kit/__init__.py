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

from . import datasets
from .addressing import occurrence_labels
from .alignment import AlignmentReport, WordFeatures, ud_word_features
from .attention import (
    HEAD_STATISTICS,
    attention_rollout,
    attention_units,
    head_statistics,
    word_attention,
)
from .cka import CKA_ESTIMATORS, CKA_UNITS, cka, layer_cka
from .config import MODEL_ENV, Settings, read_settings
from .contextuality import mev, mev_baseline, static_embeddings
from .encoding import Corpus, Encoder, Encoding, Encodings
from .examples import BANK_SENSES, BANK_TEXT
from .heads import EncoderWithHead
from .lens import LENS_KINDS, LensResult, lens
from .loading import bundled_model_path, download, load
from .panels import (
    DEFAULT_PANELS,
    PANELS,
    AttentionPanel,
    CurvesPanel,
    HeatmapPanel,
    HistogramPanel,
    LensPanel,
    Panel,
    PanelControl,
    register_panel,
)
from .plotting import (
    plot_attention,
    plot_attention_grid,
    plot_cka,
    plot_cumulative_scoring,
    plot_head_statistics,
    plot_head_statistics_grid,
    plot_histogram,
    plot_layer_similarity,
    plot_lens,
    plot_nearest_contexts,
    plot_probe,
    plot_projection,
    plot_rollout,
    plot_scalar_mix,
    plot_similarity_heatmap,
    plot_trajectory,
)
from .pooling import (
    LAYER_PRESETS,
    POOLING_MODES,
    SPECIALS_MODES,
    SUBWORD_MODES,
    layer_sentence_vectors,
    resolve_layers,
    sentence_vector,
    sentence_vectors,
    span_vector,
    token_vectors,
    word_vectors,
)
from .probing import PROBES, ProbeResult, ScalarMixResult, control_labels, probe_layers, scalar_mix_probe
from .projection import PROJECTION_METHODS, project, project_layers
from .search import ContextMatch, ContextMatches, nearest_contexts
from .search_index import INDEX_KINDS, ContextIndex, build_context_index, load_context_index
from .similarity import (
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
from .store import CorruptStoreError, Store, extract, extract_part, open_store
from .validation import InvalidParameterError
from .widgets import SAVE_FORMATS, Explorer, explore

# isort: split
# -- inside a layer, context mixing, [MASK] predictions (issue #23) --
from .analysis.internals import SUPPORTED_ARCHITECTURES, EmbeddingSum, LayerInternals, embedding_sum, layer_internals
from .analysis.masked import MaskPredictions, fill_mask
from .analysis.mixing import MIXING_METHODS, MixingResult, context_mixing, mixing_agreement
from .analysis.neurons import TopNeurons, query_key_products, top_neurons
from .plot.mixing import plot_context_mixing

__version__ = "0.1.0"

__all__ = [
    "datasets",
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
    "CorruptStoreError",
    "Explorer",
    "explore",
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
    "MixingResult",
    "context_mixing",
    "mixing_agreement",
    "plot_context_mixing",
    "MaskPredictions",
    "fill_mask",
]
