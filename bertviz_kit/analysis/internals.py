"""Inside one layer: every intermediate tensor of one text, read from the model's own modules.

``bk.layer_internals(e, layer, enc)`` runs the encoder once on the tokens of
``e`` with forward hooks on the model's **own** modules (nothing is
re-implemented) and keeps, for one transformer layer, each step of the
computation: the layer's input, each head's queries, keys and values, the
attention scores and probabilities, each head's context vectors, the attention
output after its projection, the residual sum and its LayerNorm, the
feed-forward pre-activation, activation and output, and the final LayerNorm
(the layer's output, ``e.hidden_states[layer]``).

``bk.embedding_sum(e, enc)`` does the same for the embedding layer: the word,
position and token-type embeddings as the model looks them up, their sum and
its LayerNorm recomputed by hand (dropout is off in eval mode), which equal
``e.hidden_states[0]``.

Supported architectures (:data:`SUPPORTED_ARCHITECTURES`): BERT and the models
with its module layout (RoBERTa, XLM-R, CamemBERT, ELECTRA), DistilBERT, ALBERT
(whose layers share weights), DeBERTa-v2/v3 (whose scores add relative-position
terms, read through the attention module's own function) and ModernBERT
(pre-LayerNorm layers with one fused query-key-value projection, rotary positions
applied to the queries and keys with the model's own rotary function and cos/sin,
a GeGLU feed-forward block, and local layers whose sliding-window mask enters the
scores). Others raise :class:`~bertviz_kit.InvalidParameterError` naming these.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from .._validation import Instance, InvalidParameterError, check, validate_params
from ..encoder import Encoder
from ..encoding import IS_ENCODING, Encoding, check_same_model
from ..layers import Layer
from .attention import threads_for
from .prenorm import mask_term, pre_ln_parts

__all__ = [
    "SUPPORTED_ARCHITECTURES",
    "LayerInternals",
    "EmbeddingSum",
    "layer_internals",
    "embedding_sum",
]

IS_ENCODER = Instance(Encoder, label="an Encoder (from bk.load)")


@dataclass(frozen=True)
class Layout:
    """Where each step of a layer lives in one architecture (dotted module paths).

    ``layers`` is the module list of the transformer layers; the other layer
    paths are relative to one layer. ``attention`` is the module whose output
    ``[1]`` holds the attention probabilities (eager attention). A pre-LayerNorm
    layout (ModernBERT) names its norm before the attention in ``pre_ln``, has
    ``ln1`` = the norm before the feed-forward block and no ``ln2``; ``fused_qkv``:
    ``query`` is one projection whose output holds the queries, keys and values
    (``key`` and ``value`` are None); ``gated``: ``ffn_in`` outputs the input and
    the gate halves of a GLU.
    """

    family: str
    layers: str
    query: str
    key: str | None
    value: str | None
    attention: str
    out_proj: str
    ln1: str
    ffn_in: str
    act: str
    ffn_out: str
    ln2: str | None
    word: str = "embeddings.word_embeddings"
    position: str | None = "embeddings.position_embeddings"
    token_type: str | None = "embeddings.token_type_embeddings"
    emb_ln: str = "embeddings.LayerNorm"
    project: str | None = None
    relative: bool = False  # DeBERTa: disentangled relative-position terms in the scores
    project_before_ln: bool = False  # DeBERTa projects the embedding sum before its LayerNorm
    pre_ln: str | None = None  # ModernBERT: the LayerNorm before the attention (pre-LN layers)
    final_ln: str | None = None  # ModernBERT: the LayerNorm after the last layer (model path)
    fused_qkv: bool = False
    rotary: bool = False
    gated: bool = False


_BERT = Layout(
    "bert", "encoder.layer", "attention.self.query", "attention.self.key", "attention.self.value",
    "attention.self", "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
    "intermediate.intermediate_act_fn", "output.dense", "output.LayerNorm",
)
_DISTILBERT = Layout(
    "distilbert", "transformer.layer", "attention.q_lin", "attention.k_lin", "attention.v_lin", "attention",
    "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.activation", "ffn.lin2", "output_layer_norm",
    token_type=None,
)
_ALBERT = Layout(
    "albert", "encoder.albert_layer_groups", "attention.query", "attention.key", "attention.value", "attention",
    "attention.dense", "attention.LayerNorm", "ffn", "activation", "ffn_output", "full_layer_layer_norm",
    project="encoder.embedding_hidden_mapping_in",
)

_DEBERTA = replace(
    _BERT, family="deberta-v2", query="attention.self.query_proj", key="attention.self.key_proj",
    value="attention.self.value_proj", project="embeddings.embed_proj", relative=True, project_before_ln=True,
)

_MODERNBERT = Layout(
    "modernbert", "layers", "attn.Wqkv", None, None, "attn", "attn.Wo", "mlp_norm", "mlp.Wi", "mlp.act", "mlp.Wo",
    None, word="embeddings.tok_embeddings", position=None, token_type=None, emb_ln="embeddings.norm",
    pre_ln="attn_norm", final_ln="final_norm", fused_qkv=True, rotary=True, gated=True,
)

#: model_type -> module layout, for every architecture this module reads.
LAYOUTS: dict[str, Layout] = {
    "bert": _BERT,
    "roberta": replace(_BERT, family="roberta"),
    "xlm-roberta": replace(_BERT, family="xlm-roberta"),
    "camembert": replace(_BERT, family="camembert"),
    "electra": replace(_BERT, family="electra", project="embeddings_project"),
    "distilbert": _DISTILBERT,
    "albert": _ALBERT,
    "deberta-v2": _DEBERTA,
    "modernbert": _MODERNBERT,
}

#: The ``config.model_type`` values :func:`layer_internals` and the context-mixing methods support.
SUPPORTED_ARCHITECTURES = tuple(LAYOUTS)


def layout_of(model: Any) -> Layout:
    """The :class:`Layout` of ``model``; a clear error naming the supported architectures otherwise."""
    kind = str(getattr(model.config, "model_type", "") or "")
    if kind not in LAYOUTS:
        raise InvalidParameterError(
            f"enc must hold one of the architectures {SUPPORTED_ARCHITECTURES} (an encoder whose modules "
            f"bertviz_kit knows); got model_type {kind!r}. Load e.g. bert-base-cased or the bundled "
            "all-MiniLM-L6-v2 (bk.load())."
        )
    if kind == "deberta-v2" and int(getattr(model.config, "conv_kernel_size", 0) or 0) > 0:
        raise InvalidParameterError(
            "enc holds a DeBERTa-v2 with a convolution after its first layer (conv_kernel_size > 0); only "
            "DeBERTa-v2/v3 models without it are supported."
        )
    if kind == "albert" and int(getattr(model.config, "inner_group_num", 1)) != 1:
        raise InvalidParameterError(
            f"enc holds an ALBERT with inner_group_num={model.config.inner_group_num}; only inner_group_num=1 "
            "(every released ALBERT) is supported."
        )
    return LAYOUTS[kind]


def n_heads_of(model: Any) -> int:
    config = model.config
    return int(getattr(config, "num_attention_heads", 0) or config.n_heads)


def layer_module(model: Any, layout: Layout, layer: int) -> torch.nn.Module:
    """The module that computes transformer layer ``layer`` (1-based); shared by several layers in ALBERT."""
    if layout.family == "albert":
        config = model.config
        group = int((layer - 1) / (config.num_hidden_layers / config.num_hidden_groups))
        return model.get_submodule(layout.layers)[group].albert_layers[0]
    return model.get_submodule(layout.layers)[layer - 1]


def _optional(model: Any, path: str | None) -> torch.nn.Module | None:
    if path is None:
        return None
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


# roles recorded from a module's output, and from its input (forward pre-hook)
_OUT_ROLES = ("query", "key", "value", "attention", "out_proj", "ln1", "ffn_in", "act", "ffn_out", "ln2", "pre_ln")
_IN_ROLES = {"out_proj": "context", "ln1": "ln1_in", "ln2": "ln2_in", "ffn_out": "neurons"}


class _Recorder:
    """Forward hooks on the model's own modules; what each wanted layer computed, by role.

    Layer calls are counted in the order they run (ALBERT runs one module for
    several layers), so the ``k``-th call of any layer module is layer ``k``.
    """

    def __init__(self, model: Any, layout: Layout, layers: list[int], embeddings: bool) -> None:
        self.store: dict[int, dict[str, torch.Tensor]] = {k: {} for k in layers}
        self.emb: dict[str, torch.Tensor] = {}
        self.calls: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}  # each layer's other arguments
        self.relative: dict[int, dict[str, Any]] = {}  # DeBERTa: what its attention got for the position terms
        self.current: int | None = None
        self.count = 0
        self.handles: list[Any] = []
        n_layers = int(getattr(model.config, "num_hidden_layers", 0) or model.config.n_layers)
        seen: set[int] = set()
        for k in range(1, n_layers + 1):
            mod = layer_module(model, layout, k)
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            self.handles.append(mod.register_forward_pre_hook(self._enter, with_kwargs=True))
            self.handles.append(mod.register_forward_hook(self._leave))
            if layout.relative:
                att = mod.get_submodule(layout.attention)
                self.handles.append(att.register_forward_pre_hook(self._relative, with_kwargs=True))
            for role in _OUT_ROLES:
                if getattr(layout, role) is None:
                    continue
                sub = mod.get_submodule(getattr(layout, role))
                self.handles.append(sub.register_forward_hook(self._out(role)))
                if role in _IN_ROLES:
                    self.handles.append(sub.register_forward_pre_hook(self._in(_IN_ROLES[role])))
        if layout.final_ln is not None and n_layers in self.store:  # the last layer's output, normed
            self.handles.append(model.get_submodule(layout.final_ln).register_forward_hook(self._final(n_layers)))
        if embeddings:
            self._embedding_hooks(model, layout)

    def _final(self, k: int) -> Any:
        def hook(mod: Any, args: Any, out: Any) -> None:
            self.store[k]["final"] = out[0].detach()
        return hook

    def _embedding_hooks(self, model: Any, layout: Layout) -> None:
        def keep(name: str, inputs: bool = False) -> Any:
            def hook(mod: Any, args: Any, out: Any) -> None:
                self.emb[name] = out[0].detach()
                if inputs:
                    self.emb[name + "_ids"] = args[0][0].detach()
            return hook

        for name, path in (("word", layout.word), ("position", layout.position), ("token_type", layout.token_type),
                           ("ln", layout.emb_ln), ("project", layout.project)):
            mod = _optional(model, path)
            if mod is not None:
                self.handles.append(mod.register_forward_hook(keep(name, inputs=name != "ln")))

    def _enter(self, mod: Any, args: Any, kwargs: Any) -> None:
        self.count += 1
        self.current = self.count if self.count in self.store else None
        if self.current is not None:
            self.store[self.current]["input"] = args[0][0].detach()
            self.calls[self.current] = (tuple(args[1:]), dict(kwargs))

    def _relative(self, mod: Any, args: Any, kwargs: Any) -> None:
        if self.current is not None:
            self.relative[self.current] = {k: kwargs.get(k) for k in ("relative_pos", "rel_embeddings")}

    def _leave(self, mod: Any, args: Any, out: Any) -> None:
        if self.current is not None:
            self.store[self.current]["output"] = (out[0] if isinstance(out, tuple) else out)[0].detach()
        self.current = None

    def _out(self, role: str) -> Any:
        def hook(mod: Any, args: Any, out: Any) -> None:
            if self.current is None:
                return
            if role == "attention":
                out = out[1] if isinstance(out, tuple) and len(out) > 1 else None
                if out is None:
                    raise RuntimeError("the attention module returned no probabilities (not eager attention)")
            # the first call in the layer: DeBERTa's shared key maps run again on the position embeddings
            self.store[self.current].setdefault(role, out[0].detach())
        return hook

    def _in(self, role: str) -> Any:
        def hook(mod: Any, args: Any) -> None:
            if self.current is not None:
                self.store[self.current].setdefault(role, args[0][0].detach())
        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


@contextlib.contextmanager
def eager_eval(model: Any) -> Iterator[None]:
    """Eager attention (the implementation that returns probabilities) and eval mode, restored after."""
    impl = getattr(model.config, "_attn_implementation", "eager")
    training = model.training
    if impl != "eager":
        model.set_attn_implementation("eager")
    model.eval()
    try:
        yield
    finally:
        if impl != "eager":
            model.set_attn_implementation(impl)
        model.train(training)


# Texts whose hidden states hold at most this many numbers run on one CPU thread: their tensor
# ops are too small to gain from threads, and a parallel region waits a whole scheduler slice for
# its workers when other processes keep the cores busy (measured 20x slower on a shared 2-core host).
_ONE_THREAD_MAX = 128 * 1024


def model_lock(enc: Encoder) -> Any:
    """The encoder's lock (one call at a time uses its model), or a no-op for an encoder without one."""
    return getattr(enc, "_lock", None) or contextlib.nullcontext()


def small_work(e: Encoding, enc: Encoder | None = None) -> contextlib.AbstractContextManager[None]:
    """One intra-op thread for one short text on the CPU, the current setting otherwise."""
    device = e.hidden_states.device if enc is None else enc.device
    return threads_for(e.n_tokens * e.dim, device, limit=_ONE_THREAD_MAX)


def model_inputs(enc: Encoder, e: Encoding) -> dict[str, torch.Tensor]:
    """The model inputs of ``e``'s tokens as a batch of one (no padding, token types 0)."""
    ids = e.input_ids.long().unsqueeze(0).to(enc.device)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if "token_type_ids" in getattr(enc.tokenizer, "model_input_names", []):
        inputs["token_type_ids"] = torch.zeros_like(ids)
    return inputs


def check_pair(e: Encoding, enc: Encoder) -> Layout:
    """``e`` must come from ``enc``'s model and fit in one window; returns the model's layout."""
    check("e", e, IS_ENCODING)
    check("enc", enc, IS_ENCODER)
    layout = layout_of(enc.model)
    if e.dim != enc.dim or e.n_layers != enc.n_layers:
        raise InvalidParameterError(
            f"e was encoded by a model with {e.n_layers} layers of width {e.dim}, enc has {enc.n_layers} of width "
            f"{enc.dim}: pass the encoder that encoded e (e.model_name={e.model_name!r}, enc.name={enc.name!r})."
        )
    check_same_model(e, enc, "e", "enc", "pass the encoder that encoded e")
    if e.is_windowed:
        raise InvalidParameterError(
            f"e has {e.n_tokens} tokens, more than one window of the model ({enc.max_length}); the internals are "
            "read for a text that fits in one window: split the text."
        )
    return layout


def capture(enc: Encoder, e: Encoding, layers: list[int], *, embeddings: bool = False
            ) -> tuple[dict[int, dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """One forward pass of ``e``'s tokens with hooks: ``({layer: {role: tensor}}, embedding parts)``.

    Tensors are float32, batch axis dropped: ``input``, ``ln1_in``, ``ln1``, ``ln2_in``, ``ln2``,
    ``output`` (the layer module's output), ``out_proj``, ``context``, ``query``, ``key``, ``value``
    ``[T, D]``; ``ffn_in``, ``act``, ``neurons`` (the second dense layer's input) ``[T, F]``,
    ``ffn_out`` ``[T, D]``; ``attention`` and ``position_scores`` ``[H, T, T]``; ``scaling`` (0-d).
    Pre-LayerNorm layouts (ModernBERT) also have ``pre_ln`` ``[T, D]``, ``gate`` ``[T, F]`` and, for
    the last layer, ``final`` ``[T, D]``; their ``query`` and ``key`` are rotated, ``act`` is
    ``act(input) * gate`` and ``ln2_in``/``ln2`` are the layer's output (see
    :func:`bertviz_kit.analysis.prenorm.pre_ln_parts`).
    ``call`` holds the layer's other arguments as the model passed them (on the model's device).
    """
    layout = check_pair(e, enc)
    model = enc.model
    with model_lock(enc):  # the hooks live on the shared model: no other call of it runs meanwhile
        rec = _Recorder(model, layout, layers, embeddings)
        try:
            with eager_eval(model), small_work(e, enc), torch.inference_mode():
                model(**model_inputs(enc, e), output_attentions=True, return_dict=True)
                for k, d in rec.store.items():
                    pre_ln_parts(d, n_heads=n_heads_of(model), kwargs=rec.calls[k][1], fused_qkv=layout.fused_qkv,
                                 attention=layer_module(model, layout, k).get_submodule(layout.attention),
                                 rotary=layout.rotary, gated=layout.gated, ffn_norm=layout.ln2 is not None)
                    d["position_scores"], d["scaling"] = _score_terms(model, layout, k, d, rec.relative.get(k),
                                                                      rec.calls[k][1])
        finally:
            rec.remove()
    store: dict[int, dict[str, Any]] = {
        k: {r: v.float().cpu() for r, v in d.items()} for k, d in rec.store.items()}
    for k, d in store.items():
        d["call"] = rec.calls[k]
    return store, {r: v.float().cpu() if v.is_floating_point() else v.cpu() for r, v in rec.emb.items()}


def _score_terms(model: Any, layout: Layout, k: int, d: dict[str, torch.Tensor], relative: dict[str, Any] | None,
                 kwargs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer ``k``'s position terms of the scores ``[H, T, T]`` and the scale (0-d).

    DeBERTa's disentangled terms come from the attention module's own
    ``disentangled_attention_bias``, given the captured queries and keys;
    ModernBERT's are the sliding-window mask of its local layers (the mask the
    model passed to the layer); zeros for the others.
    """
    h = n_heads_of(model)
    q, key = _heads(d["query"], h), _heads(d["key"], h)
    t = q.shape[1]
    if layout.rotary:
        return mask_term(kwargs.get("attention_mask"), h, t, q), torch.tensor(float(q.shape[-1]) ** -0.5)
    if not layout.relative:
        return q.new_zeros(h, t, t), torch.tensor(float(q.shape[-1]) ** -0.5)
    att = layer_module(model, layout, k).get_submodule(layout.attention)
    factor = 1 + ("c2p" in att.pos_att_type) + ("p2c" in att.pos_att_type)
    scaling = torch.tensor(float(q.shape[-1] * factor) ** -0.5)
    if not att.relative_attention or relative is None:
        return q.new_zeros(h, t, t), scaling
    rel = att.pos_dropout(relative["rel_embeddings"])
    bias = att.disentangled_attention_bias(q, key, relative["relative_pos"], rel, factor)
    return bias.reshape(h, t, t), scaling


def _layer_index(layer: object, n_layers: int) -> int:
    if isinstance(layer, bool) or not isinstance(layer, int) or not (-n_layers <= layer <= n_layers and layer != 0):
        raise InvalidParameterError(
            f"layer must be an int in [1, {n_layers}] (a transformer layer; -1 = the last) or in "
            f"[-{n_layers}, -1]; got {layer!r}. Layer 0, the embeddings, is bk.embedding_sum."
        )
    return layer % (n_layers + 1) if layer > 0 else n_layers + 1 + layer


@dataclass(frozen=True, eq=False, repr=False)
class LayerInternals:
    """Every step of one transformer layer for one text (what :func:`layer_internals` returns).

    ``T`` = tokens, ``D`` = hidden size, ``H`` = heads, ``d`` = ``D / H`` (head size),
    ``F`` = feed-forward size. All tensors are float32 on the CPU.

    The fields follow a post-LayerNorm layer (BERT and the others): attention, residual,
    LayerNorm, feed-forward, residual, LayerNorm. ModernBERT's layers are pre-LayerNorm
    (``x + attn(norm1(x))``, then ``h + mlp(norm2(h))``, no norm after); where its meaning
    differs, a field says so under "ModernBERT".

    Attributes
    ----------
    layer : int
        The transformer layer (1-based; its output is ``e.hidden_states[layer]``).
    tokens : tuple of str, length ``T``
    input : torch.Tensor ``[T, D]``
        The layer's input (``e.hidden_states[layer - 1]``).
    query, key, value : torch.Tensor ``[H, T, d]``
        Each head's queries, keys and values (the linear maps' outputs, biases included).
        ModernBERT: split from the fused ``Wqkv`` projection of ``pre_norm``; ``query`` and
        ``key`` after the rotary position embedding (the model's own ``apply_rotary_pos_emb``
        with the cos/sin its rotary module passed to the layer), as the scores use them.
    scores : torch.Tensor ``[H, T, T]``
        Attention logits ``query @ key.T * scaling + position_scores`` (one text, no padding:
        no padding mask term). Row = the query (receiving) token, column = the key.
    position_scores : torch.Tensor ``[H, T, T]``
        The position terms of the scores: DeBERTa's content-to-position and
        position-to-content terms (computed by the model's own attention module from the
        captured queries and keys); ModernBERT's sliding-window mask in its local layers
        (0 within the window, ``-inf`` beyond it, so ``probs`` is 0 there; zeros in its
        global layers: its positions are in the rotated queries and keys); zeros for the
        other architectures.
    probs : torch.Tensor ``[H, T, T]``
        The model's own attention probabilities, ``softmax(scores)`` along the last axis.
    context : torch.Tensor ``[H, T, d]``
        Each head's output ``probs @ value``.
    attn_output : torch.Tensor ``[T, D]``
        The heads concatenated and projected (output dense layer, bias included).
    attn_residual : torch.Tensor ``[T, D]``
        ``input + attn_output``: the first LayerNorm's input (ModernBERT: the residual
        stream after the attention, the input of ``mlp_norm``).
    attn_norm : torch.Tensor ``[T, D]``
        After the first LayerNorm (the feed-forward block's input; ModernBERT:
        ``mlp_norm(attn_residual)``).
    ffn_pre : torch.Tensor ``[T, F]``
        Feed-forward pre-activation (first dense layer). ModernBERT (GeGLU): the input half
        of ``Wi``'s output, the one the activation is applied to.
    ffn_act : torch.Tensor ``[T, F]``
        After the activation (GELU for BERT): the feed-forward "neurons", the second dense
        layer's input. ModernBERT: ``act(ffn_pre) * ffn_gate``, the input of ``Wo``.
    ffn_output : torch.Tensor ``[T, D]``
        Second dense layer's output.
    ffn_residual : torch.Tensor ``[T, D]``
        ``attn_norm + ffn_output``: the final LayerNorm's input. ModernBERT:
        ``attn_residual + ffn_output``, the layer module's output (the residual stream).
    output : torch.Tensor ``[T, D]``
        After the final LayerNorm: the layer's output, ``e.hidden_states[layer]``.
        ModernBERT: ``ffn_residual``, except in the last layer, where it is the model's
        ``final_norm(ffn_residual)`` (as ``e.hidden_states[-1]``).
    scaling : float
        The scale of the scores, ``1 / sqrt(d)`` (DeBERTa: ``1 / sqrt(d * (1 + n_position_terms))``).
    architecture : str
        ``config.model_type`` of the model.
    pre_norm : torch.Tensor ``[T, D]`` or None
        ModernBERT: ``attn_norm(input)``, the attention's input (its first layer's norm is
        the identity); None for the post-LayerNorm architectures.
    ffn_gate : torch.Tensor ``[T, F]`` or None
        ModernBERT: the gate half of ``Wi``'s output; None without a gated feed-forward block.
    """

    layer: int
    tokens: tuple[str, ...]
    input: torch.Tensor
    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    scores: torch.Tensor
    position_scores: torch.Tensor
    probs: torch.Tensor
    context: torch.Tensor
    attn_output: torch.Tensor
    attn_residual: torch.Tensor
    attn_norm: torch.Tensor
    ffn_pre: torch.Tensor
    ffn_act: torch.Tensor
    ffn_output: torch.Tensor
    ffn_residual: torch.Tensor
    output: torch.Tensor
    scaling: float
    architecture: str
    pre_norm: torch.Tensor | None = None
    ffn_gate: torch.Tensor | None = None

    @property
    def n_heads(self) -> int:
        """Attention heads of the layer (the first axis of ``query``, ``scores``, ``probs``)."""
        return int(self.query.shape[0])

    @property
    def n_tokens(self) -> int:
        """Tokens of the text, special tokens included."""
        return len(self.tokens)

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{name}={list(getattr(self, name).shape)}"
            for name in ("input", "query", "key", "value", "scores", "probs", "context", "attn_output",
                         "attn_norm", "ffn_pre", "ffn_act", "ffn_output", "output")
        )
        return f"LayerInternals(layer={self.layer}, architecture={self.architecture!r}, {shapes})"


def _heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``[T, H * d]`` -> ``[H, T, d]``."""
    t, width = x.shape
    return x.reshape(t, n_heads, width // n_heads).transpose(0, 1).contiguous()


@validate_params({
    "layer": Layer("e", embeddings=False),
    "e": IS_ENCODING, "enc": IS_ENCODER,
})
def layer_internals(e: Encoding, layer: int, enc: Encoder) -> LayerInternals:
    """Every intermediate tensor of one transformer layer for the text of ``e``.

    Runs the model once on ``e``'s tokens (eager attention, eval mode, no
    gradients) with forward hooks on the model's own modules and keeps what
    layer ``layer`` computes, step by step (see :class:`LayerInternals`).

    Parameters
    ----------
    e : Encoding
        From ``enc.encode(text)``; a text that fits in one window.
    layer : int
        Transformer layer, 1 .. ``n_layers`` (negative counts from the top: -1 is the last).
    enc : Encoder
        The encoder that produced ``e``: one of :data:`SUPPORTED_ARCHITECTURES`.

    Returns
    -------
    LayerInternals
        Shapes in its docstring; ``output`` equals ``e.hidden_states[layer]``.

    Raises
    ------
    InvalidParameterError
        For a layer out of range, an unsupported architecture, an encoding from
        another model, or a windowed (too long) text.

    Examples
    --------
    >>> r = bk.layer_internals(e, 1, enc)          # doctest: +SKIP
    >>> torch.softmax(r.scores, -1) - r.probs      # doctest: +SKIP
    """
    check_pair(e, enc)
    k = _layer_index(layer, enc.n_layers)
    store, _ = capture(enc, e, [k])
    d = store[k]
    h = n_heads_of(enc.model)
    q, key, v = (_heads(d[r], h) for r in ("query", "key", "value"))
    scaling = float(d["scaling"])
    return LayerInternals(
        layer=k, tokens=tuple(e.tokens), input=d["input"], query=q, key=key, value=v,
        scores=q @ key.transpose(1, 2) * scaling + d["position_scores"], position_scores=d["position_scores"],
        probs=d["attention"], context=_heads(d["context"], h),
        attn_output=d["out_proj"], attn_residual=d["ln1_in"], attn_norm=d["ln1"], ffn_pre=d["ffn_in"],
        ffn_act=d["act"], ffn_output=d["ffn_out"], ffn_residual=d["ln2_in"], output=d.get("final", d["ln2"]),
        scaling=scaling, architecture=str(enc.model.config.model_type), pre_norm=d.get("pre_ln"),
        ffn_gate=d.get("gate"),
    )


@dataclass(frozen=True, eq=False, repr=False)
class EmbeddingSum:
    """The embedding layer taken apart (what :func:`embedding_sum` returns).

    ``T`` = tokens, ``E`` = embedding size (the hidden size ``D`` except in
    ALBERT and small ELECTRAs, which project ``E`` to ``D``). Float32, CPU.

    Attributes
    ----------
    tokens : tuple of str, length ``T``
    input_ids : torch.Tensor, int64 ``[T]``
    position_ids : torch.Tensor, int64 ``[T]``
        The positions the model looked up (RoBERTa-style models start after the padding index;
        ``0 .. T - 1`` where there is no absolute position embedding).
    word : torch.Tensor ``[T, E]``
        The word (token) embeddings, as the model's own module returned them.
    position : torch.Tensor ``[T, E]`` or None
        The absolute position embeddings; ``None`` for DeBERTa-v2/v3, whose positions enter
        each layer's attention as relative terms instead, and for ModernBERT, whose positions
        rotate each layer's queries and keys.
    token_type : torch.Tensor ``[T, E]`` or None
        The token-type (segment) embedding of type 0; ``None`` for models without one
        (DistilBERT, ModernBERT).
    total : torch.Tensor ``[T, E]``
        ``word + position + token_type``, computed here.
    normed : torch.Tensor ``[T, E]``
        ``total`` through the embedding LayerNorm (weight, bias (if any) and eps of the model's module),
        computed here; dropout is off in eval mode. (DeBERTa projects ``total`` to ``D`` first.)
    output : torch.Tensor ``[T, D]``
        What layer 1 receives, ``e.hidden_states[0]``: ``normed``, or ``normed`` through the
        model's embedding projection where it has one (:attr:`projected`; ALBERT, ELECTRA).
    projected : bool
    """

    tokens: tuple[str, ...]
    input_ids: torch.Tensor
    position_ids: torch.Tensor
    word: torch.Tensor
    position: torch.Tensor | None
    token_type: torch.Tensor | None
    total: torch.Tensor
    normed: torch.Tensor
    output: torch.Tensor
    projected: bool

    def __repr__(self) -> str:
        tt = "None" if self.token_type is None else str(list(self.token_type.shape))
        pos = "None" if self.position is None else str(list(self.position.shape))
        return (f"EmbeddingSum(word={list(self.word.shape)}, position={pos}, token_type={tt}, "
                f"total={list(self.total.shape)}, normed={list(self.normed.shape)}, output={list(self.output.shape)}, "
                f"projected={self.projected})")


@validate_params({"e": IS_ENCODING, "enc": IS_ENCODER})
def embedding_sum(e: Encoding, enc: Encoder) -> EmbeddingSum:
    """The embedding layer by hand: word + position + token-type embeddings, then LayerNorm.

    (ModernBERT: the token embedding alone, then its LayerNorm.)

    The three lookups are read from the model's own embedding modules during
    one forward pass (hooks); their sum, the LayerNorm (with the module's
    weight, bias and eps) and, for ALBERT and ELECTRA, the projection to the
    hidden size are computed here, so ``output`` can be checked against
    ``e.hidden_states[0]``.

    Parameters
    ----------
    e : Encoding
        From ``enc.encode(text)``.
    enc : Encoder
        The encoder that produced ``e`` (one of :data:`SUPPORTED_ARCHITECTURES`).

    Returns
    -------
    EmbeddingSum
        Shapes in its docstring.
    """
    layout = check_pair(e, enc)
    _, emb = capture(enc, e, [], embeddings=True)
    model = enc.model
    word, position, token_type = emb["word"], emb.get("position"), emb.get("token_type")
    total = word + sum(x for x in (position, token_type) if x is not None)
    ln = model.get_submodule(layout.emb_ln)
    proj = _optional(model, layout.project)

    def project(x: torch.Tensor) -> torch.Tensor:
        if proj is None:
            return x
        bias = None if proj.bias is None else proj.bias.detach().float().cpu()
        return torch.nn.functional.linear(x, proj.weight.detach().float().cpu(), bias)

    with torch.inference_mode():
        pre = project(total) if layout.project_before_ln else total
        bias = None if ln.bias is None else ln.bias.detach().float().cpu()
        normed = torch.nn.functional.layer_norm(pre, pre.shape[-1:], ln.weight.detach().float().cpu(), bias, ln.eps)
        output = normed if layout.project_before_ln else project(normed)
    positions = emb["position_ids"].long() if position is not None else torch.arange(e.n_tokens)
    return EmbeddingSum(
        tokens=tuple(e.tokens), input_ids=e.input_ids.long().cpu(), position_ids=positions,
        word=word, position=position, token_type=token_type, total=total, normed=normed, output=output,
        projected=proj is not None,
    )

