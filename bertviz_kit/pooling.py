"""From stored hidden states to vectors: layers, sub-words, words, spans, sentences.

All functions are pure: they read an :class:`~bertviz_kit.encoding.Encoding`,
never modify it, and return new tensors. Pooling is masked, vectorized tensor
code (no Python loops over tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .encoding import Encoding

__all__ = [
    "LAYER_PRESETS",
    "SUBWORD_MODES",
    "POOLING_MODES",
    "SPECIALS_MODES",
    "COMBINE_MODES",
    "resolve_layers",
    "select_layers",
    "token_vectors",
    "word_vectors",
    "span_vector",
    "sentence_vector",
    "sentence_vectors",
    "layer_sentence_vectors",
]

LayerSpec = int | Sequence[int] | str

# preset -> (layers as offsets from the top or "all", how they combine)
LAYER_PRESETS: dict[str, tuple[object, str]] = {
    "last": ([-1], "sum"),
    "second_last": ([-2], "sum"),
    "sum_last4": ([-4, -3, -2, -1], "sum"),
    "concat_last4": ([-4, -3, -2, -1], "concat"),
    "mean_last4": ([-4, -3, -2, -1], "mean"),
    "sum_all": ("all", "sum"),
    "mean_all": ("all", "mean"),
    "embeddings": ([0], "sum"),
}
SUBWORD_MODES = ("first", "last", "mean", "sum", "max")
POOLING_MODES = ("mean", "cls", "max")
SPECIALS_MODES = ("exclude", "include")
COMBINE_MODES = ("sum", "mean", "concat")


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")


def _check_encoding(e: object, name: str = "e") -> None:
    if not isinstance(e, Encoding):
        raise TypeError(f"{name} must be an Encoding (from Encoder.encode); got {type(e).__name__}.")


def _check_encodings(es: object, name: str = "es") -> None:
    """A non-empty list of Encoding (a single Encoding is refused: wrap it in a list)."""
    if isinstance(es, (Encoding, str)) or not isinstance(es, Sequence):
        raise TypeError(f"{name} must be a list of Encoding; got {type(es).__name__}.")
    if len(es) == 0:
        raise ValueError(f"{name} must hold at least one Encoding; got an empty list.")
    for i, e in enumerate(es):
        _check_encoding(e, f"{name}[{i}]")


def resolve_layers(
    layers: LayerSpec, n_layers: int, combine: str | None = None, *, name: str = "layers"
) -> tuple[list[int], str]:
    """Turn a layer spec into model layer indices (0 = embeddings) and a combine mode.

    Parameters
    ----------
    layers : int, list of int or str
        An int in ``[-(n_layers + 1), n_layers]`` (negative counts from the
        top: -1 is the last layer), a list of such ints, or a preset name from
        :data:`LAYER_PRESETS`.
    n_layers : int
        Transformer layers of the model.
    combine : {"sum", "mean", "concat"}, optional
        How several layers become one vector; defaults to the preset's own, or
        ``"sum"`` for a list.

    Returns
    -------
    (list of int, str)
    """
    lo, hi = -(n_layers + 1), n_layers
    allowed = f"an int in [{lo}, {hi}], a list of ints or one of {tuple(LAYER_PRESETS)}"

    def one(v: object) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"{name} must be {allowed}; got {layers!r}.")
        return v % (n_layers + 1)

    if isinstance(layers, str):
        if layers not in LAYER_PRESETS:
            raise ValueError(f"{name} must be {allowed}; got {layers!r}.")
        spec, default = LAYER_PRESETS[layers]
        if spec == "all":
            idx = list(range(1, n_layers + 1))
        else:
            idx = [v % (n_layers + 1) for v in spec]  # type: ignore[union-attr]
            if len(spec) > n_layers + 1:  # type: ignore[arg-type]
                raise ValueError(f"{name}={layers!r} needs more layers than the model has.")
    elif isinstance(layers, (list, tuple)):
        if not layers:
            raise ValueError(f"{name} must be {allowed}; got an empty list.")
        idx = [one(v) for v in layers]
        default = "sum"
    else:
        idx = [one(layers)]
        default = "sum"
    mode = default if combine is None else combine
    _check_choice("combine", mode, COMBINE_MODES)
    return idx, mode


def _rows(e: Encoding, idx: list[int], layers: LayerSpec) -> list[int]:
    """Rows of ``e.hidden_states`` holding the model layers ``idx``."""
    if e.layer_ids == tuple(range(e.n_layers + 1)):
        return idx
    where = {lid: r for r, lid in enumerate(e.layer_ids)}
    missing = [i for i in idx if i not in where]
    if missing:
        raise ValueError(
            f"layers={layers!r} needs model layers {missing}, which this encoding did not "
            f"store; it has layers {e.layer_ids}."
        )
    return [where[i] for i in idx]


def select_layers(
    e: Encoding, layers: LayerSpec = "last", combine: str | None = None, *, name: str = "layers"
) -> torch.Tensor:
    """Hidden states of the chosen layers, combined: ``[n_tokens, dim']``.

    ``dim'`` is ``dim`` for sum/mean and ``len(layers) * dim`` for concat.
    """
    _check_encoding(e)
    idx, mode = resolve_layers(layers, e.n_layers, combine, name=name)
    return _combine_rows(e.hidden_states, _rows(e, idx, layers), mode)


def _combine_rows(hs: torch.Tensor, rows: list[int], mode: str, *, view: bool = False) -> torch.Tensor:
    """Rows ``rows`` of ``hs`` ``[k, T, D]`` combined into ``[T, D']``, always a new tensor
    unless ``view`` allows a view of ``hs`` for one layer (callers that only read it)."""
    if view and len(rows) == 1:
        return hs[rows[0]]
    hs = hs[rows]  # [k, T, D] (a copy: advanced indexing)
    if mode == "sum":
        return hs.sum(dim=0)
    if mode == "mean":
        return hs.mean(dim=0)
    return hs.permute(1, 0, 2).reshape(hs.shape[1], -1)


def token_vectors(
    e: Encoding, layers: LayerSpec = "sum_last4", combine: str | None = None
) -> torch.Tensor:
    """One vector per token: ``[n_tokens, dim']`` (special tokens included).

    Parameters
    ----------
    e : Encoding
    layers : int, list of int or preset name, default "sum_last4"
        See :func:`resolve_layers`.
    combine : {"sum", "mean", "concat"}, optional
    """
    return select_layers(e, layers, combine)


def _pool_groups(
    x: torch.Tensor, group: torch.Tensor, n_groups: int, mode: str
) -> torch.Tensor:
    """Pool rows of ``x`` ``[T, D]`` into ``n_groups`` by ``group`` ``[T]`` (-1 = drop).

    Vectorized with ``index_add``/``scatter_reduce``; returns ``[n_groups, D]``.
    """
    keep = group >= 0
    x, group = x[keep], group[keep]
    dim = x.shape[-1]
    if mode in ("sum", "mean"):
        out = x.new_zeros((n_groups, dim)).index_add_(0, group, x)
        if mode == "mean":
            counts = torch.bincount(group, minlength=n_groups).clamp_min(1).to(x.dtype)
            out = out / counts.unsqueeze(1)
        return out
    if mode == "max":
        out = x.new_full((n_groups, dim), float("-inf"))
        return out.scatter_reduce_(0, group.unsqueeze(1).expand(-1, dim), x, reduce="amax")
    pos = torch.arange(group.shape[0], device=group.device)
    if mode == "first":
        pick = torch.full((n_groups,), group.shape[0], dtype=torch.long)
        pick = pick.scatter_reduce_(0, group, pos, reduce="amin")
    else:  # last
        pick = torch.full((n_groups,), -1, dtype=torch.long)
        pick = pick.scatter_reduce_(0, group, pos, reduce="amax")
    return x[pick]


def word_vectors(
    e: Encoding,
    layers: LayerSpec = "sum_last4",
    subwords: str = "mean",
    combine: str | None = None,
) -> torch.Tensor:
    """One vector per word: ``[n_words, dim']``, rows match ``e.words``.

    Sub-word pieces (``rob ##ber``) are pooled into their word with the fast
    tokenizer's word ids.

    Parameters
    ----------
    e : Encoding
    layers : int, list of int or preset name, default "sum_last4"
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    combine : {"sum", "mean", "concat"}, optional
    """
    _check_choice("subwords", subwords, SUBWORD_MODES)
    x = select_layers(e, layers, combine)
    return _pool_groups(x, e.word_index, e.n_words, subwords)


def _check_span(e: Encoding, span: object) -> tuple[int, int]:
    n = len(e.text)
    if (
        not isinstance(span, (tuple, list))
        or len(span) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in span)
    ):
        raise TypeError(f"span must be a (char_start, char_end) pair of ints; got {span!r}.")
    start, end = span
    if not 0 <= start < end <= n:
        raise ValueError(
            f"span must satisfy 0 <= char_start < char_end <= {n} (the text's length); "
            f"got {tuple(span)!r}."
        )
    return start, end


def span_tokens(e: Encoding, span: tuple[int, int]) -> torch.Tensor:
    """Indices of the (non-special) tokens that overlap the character span ``[start, end)``."""
    start, end = _check_span(e, span)
    off = torch.tensor(e.offsets, dtype=torch.long).reshape(-1, 2)
    hit = (off[:, 0] < end) & (off[:, 1] > start) & ~e.special_mask
    return torch.nonzero(hit).squeeze(1)


def span_vector(
    e: Encoding,
    span: tuple[int, int],
    layers: LayerSpec = "last",
    subwords: str = "mean",
    combine: str | None = None,
) -> torch.Tensor:
    """One vector for any character span of the text: ``[dim']``.

    Every token overlapping ``text[start:end]`` is pooled with ``subwords``.

    Parameters
    ----------
    e : Encoding
    span : (int, int)
        Character offsets ``(start, end)``, end exclusive, as in ``text[start:end]``.
    layers : int, list of int or preset name, default "last"
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
    """
    _check_choice("subwords", subwords, SUBWORD_MODES)
    idx = span_tokens(e, span)
    if idx.numel() == 0:
        raise ValueError(
            f"span {tuple(span)!r} ({e.text[span[0]:span[1]]!r}) covers no token; "
            f"it holds only whitespace or characters the tokenizer drops."
        )
    x = select_layers(e, layers, combine)[idx]
    return _pool_groups(x, torch.zeros(idx.shape[0], dtype=torch.long), 1, subwords)[0]


def _token_mask(e: Encoding, specials: str) -> torch.Tensor:
    if specials == "include":
        return torch.ones(e.n_tokens, dtype=torch.bool)
    return ~e.special_mask


def sentence_vector(
    e: Encoding,
    layer: LayerSpec = -1,
    pooling: str = "mean",
    specials: str = "exclude",
    combine: str | None = None,
) -> torch.Tensor:
    """One vector for the whole text: ``[dim']``.

    Parameters
    ----------
    e : Encoding
    layer : int, list of int or preset name, default -1 (the last layer)
    pooling : {"mean", "cls", "max"}, default "mean"
        ``cls`` takes the first token's vector (``[CLS]``) whatever ``specials``.
    specials : {"exclude", "include"}, default "exclude"
        Whether [CLS]/[SEP] take part in mean/max pooling. The tutorial
        excludes them (``new_embed[1:-1, -1, :].mean(0)``).

    Raises
    ------
    ValueError
        For an empty text with ``specials="exclude"``: there is nothing to pool.
    """
    _check_encoding(e)
    return sentence_vectors([e], layer, pooling, specials, combine)[0]


def sentence_vectors(
    es: Sequence[Encoding],
    layer: LayerSpec = -1,
    pooling: str = "mean",
    specials: str = "exclude",
    combine: str | None = None,
) -> torch.Tensor:
    """One vector per text: ``[n_texts, dim']``. See :func:`sentence_vector`."""
    _check_choice("pooling", pooling, POOLING_MODES)
    _check_choice("specials", specials, SPECIALS_MODES)
    _check_encodings(es, "es")
    resolved: dict[tuple, tuple[list[int], str]] = {}  # layers resolved once per model layout
    out = []
    for i, e in enumerate(es):
        key = (e.n_layers, e.layer_ids)
        if key not in resolved:
            idx, mode = resolve_layers(layer, e.n_layers, combine, name="layer")
            resolved[key] = (_rows(e, idx, layer), mode)
        x = _combine_rows(e.hidden_states, *resolved[key], view=True)  # [T, D'], read only
        if pooling == "cls":
            out.append(x[0])  # torch.stack below copies it
            continue
        if specials == "exclude":
            keep = [k for k, w in enumerate(e.word_ids) if w is not None]
            if not keep:
                raise ValueError(
                    f"es[{i}] (text {e.text!r}) has no tokens besides special tokens; "
                    f"use specials='include' or pooling='cls', or drop empty texts."
                )
            if len(keep) < x.shape[0]:
                x = x[keep[0] : keep[-1] + 1] if keep[-1] - keep[0] + 1 == len(keep) else x[keep]
        out.append(x.mean(dim=0) if pooling == "mean" else x.amax(dim=0))
    return torch.stack(out)


def layer_sentence_vectors(
    es: Sequence[Encoding],
    pooling: str = "mean",
    specials: str = "exclude",
) -> torch.Tensor:
    """One vector per text at every stored layer: ``[n_stored_layers, n_texts, dim]``.

    Row ``k`` equals ``sentence_vectors(es, layer=layer_ids[k], pooling=pooling,
    specials=specials)``, computed in one pass over the texts. All encodings
    must store the same layers (as :meth:`Encoder.encode` does).

    Parameters
    ----------
    es : list of Encoding
    pooling : {"mean", "cls", "max"}, default "mean"
    specials : {"exclude", "include"}, default "exclude"
    """
    _check_encodings(es, "es")
    layer_ids = es[0].layer_ids
    for i, e in enumerate(es):
        if e.layer_ids != layer_ids or e.dim != es[0].dim:
            raise ValueError(
                f"es must come from one model with the same stored layers; es[0] has layers "
                f"{layer_ids} and dim {es[0].dim}, es[{i}] has {e.layer_ids} and dim {e.dim}."
            )
    flat = sentence_vectors(es, list(layer_ids), pooling, specials, combine="concat")  # [n, L*D]
    return flat.reshape(len(es), len(layer_ids), -1).permute(1, 0, 2)
