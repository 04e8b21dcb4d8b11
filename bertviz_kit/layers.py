"""The one layer convention: what ``layer`` and ``layers`` mean everywhere.

**0 is the embedding output**, ``1..n`` the transformer layers, and negative
numbers count from the top (``-1`` is the last layer). A ``layer`` parameter is
one such int (:func:`resolve_layer`, :func:`stored_row`; attention has no
embeddings layer, so there it is ``1..n`` or ``-n..-1``); a ``layers`` parameter
is a spec: one int, a list of ints or a preset name from :data:`LAYER_PRESETS`
(:func:`resolve_layers`, :func:`layer_rows`). Every public function resolves its
layers here, so a bad value gets the same message everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._validation import (
    TEXT,
    Constraint,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    as_index,
    check,
    is_int,
    show_value,
    validate_params,
)
from .encoding import Corpus

if TYPE_CHECKING:  # pragma: no cover
    from .encoding import Encoding

__all__ = [
    "LAYER_PRESETS",
    "COMBINE_MODES",
    "LayerSpec",
    "resolve_layer",
    "resolve_layers",
    "stored_row",
    "stored_layer_ids",
    "layer_rows",
    "renamed_layers",
    "Layer",
    "Layers",
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
COMBINE_MODES = ("sum", "mean", "concat")


def resolve_layers(
    layers: Any, n_layers: int, combine: str | None = None, *, name: str = "layers"
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
    name : str
        The parameter's name in error messages.

    Returns
    -------
    (list of int, str)
    """
    lo, hi = -(n_layers + 1), n_layers
    allowed = f"an int in [{lo}, {hi}], a list of ints or one of {tuple(LAYER_PRESETS)}"

    def one(v: object) -> int:
        if not is_int(v) or not lo <= v <= hi:
            raise InvalidParameterError(f"{name} must be {allowed}; got {show_value(layers)}.")
        return int(v) % (n_layers + 1)

    if isinstance(layers, str):
        if layers not in LAYER_PRESETS:
            raise InvalidParameterError(f"{name} must be {allowed}; got {layers!r}.")
        spec, default = LAYER_PRESETS[layers]
        if spec == "all":
            idx = list(range(1, n_layers + 1))
        else:
            if len(spec) > n_layers + 1:  # type: ignore[arg-type]
                raise InvalidParameterError(f"{name}={layers!r} needs more layers than the model has.")
            idx = [v % (n_layers + 1) for v in spec]  # type: ignore[union-attr]
    elif isinstance(layers, (list, tuple)):
        if not layers:
            raise InvalidParameterError(f"{name} must be {allowed}; got an empty list.")
        idx = [one(v) for v in layers]
        default = "sum"
    else:
        idx = [one(layers)]
        default = "sum"
    mode = default if combine is None else combine
    check("combine", mode, Options(COMBINE_MODES))
    return idx, mode


def stored_layer_ids(layers: Any, n_layers: int, *, name: str = "layers") -> list[int]:
    """Model layers to keep for a spec (``None`` or ``"all"``: every layer, 0 = embeddings), sorted."""
    if layers is None or (isinstance(layers, str) and layers == "all"):
        return list(range(n_layers + 1))
    idx, _ = resolve_layers(layers, n_layers, name=name)
    return sorted(set(idx))


def stored_rows(layer_ids: tuple[int, ...], n_layers: int, idx: list[int], layers: LayerSpec) -> list[int]:
    """Rows of the stored layers (``layer_ids``) that hold the model layers ``idx``."""
    if layer_ids == tuple(range(n_layers + 1)):
        return idx
    where = {lid: r for r, lid in enumerate(layer_ids)}
    missing = [i for i in idx if i not in where]
    if missing:
        raise InvalidParameterError(
            f"layers={layers!r} needs model layers {missing}, which this encoding did not "
            f"store; it has layers {layer_ids}."
        )
    return [where[i] for i in idx]


def renamed_layers(layers: LayerSpec, layer: LayerSpec | None, function: str) -> LayerSpec:
    """``layers``, or the spec given under its old name ``layer`` (a :class:`FutureWarning`).

    A layer *spec* (an int, a list or a preset) is ``layers`` everywhere; ``layer`` is one int.
    Functions that took a spec as ``layer`` keep accepting the old keyword for now.
    """
    if layer is None:
        return layers
    import warnings

    warnings.warn(f"{function}(layer=...) is now {function}(layers=...): a layer spec is `layers` "
                  f"everywhere (`layer` is one int); the old keyword will be removed.", FutureWarning, stacklevel=3)
    return layer


def layer_rows(
    data: Encoding | Corpus, layers: LayerSpec, combine: str | None, name: str = "layers"
) -> tuple[list[int], str]:
    """Rows of ``data``'s stored layers for a layer spec, and the combine mode."""
    idx, mode = resolve_layers(layers, data.n_layers, combine, name=name)
    return stored_rows(data.layer_ids, data.n_layers, idx, layers), mode


def resolve_layer(layer: Any, n_layers: int, *, name: str = "layer", embeddings: bool = True) -> int:
    """One layer as its model layer index (0 = embeddings, 1..n_layers).

    ``layer`` is an int in ``[-(n_layers + 1), n_layers]`` (negative counts from the top: -1 is the
    last layer). With ``embeddings=False`` (attention: the embeddings have none) it is an int in
    ``[1, n_layers]`` or ``[-n_layers, -1]``.
    """
    if embeddings:
        lo, hi = -(n_layers + 1), n_layers
        allowed = f"an int in [{lo}, {hi}] (0 = embeddings, negatives count from the top)"
        ok = lo <= layer <= hi if is_int(layer) else False
    else:
        allowed = f"an int in [1, {n_layers}] or [-{n_layers}, -1] (transformer layers, negatives count from the top)"
        ok = (-n_layers <= layer <= n_layers and layer != 0) if is_int(layer) else False
    if not ok:
        raise InvalidParameterError(f"{name} must be {allowed}; got {show_value(layer)}.")
    return as_index(layer) % (n_layers + 1)


def stored_row(data: Encoding | Corpus, layer: Any, *, name: str = "layer") -> int:
    """Row of ``data``'s stored layers (``data.layer_ids``) that holds the one layer ``layer``."""
    lid = resolve_layer(layer, data.n_layers, name=name)
    layer_ids = tuple(data.layer_ids)
    if lid not in layer_ids:
        kind = "corpus" if isinstance(data, Corpus) else "encoding"
        raise InvalidParameterError(
            f"{name}={layer!r} needs model layer {lid}, which this {kind} did not store; it has layers {layer_ids}.")
    return layer_ids.index(lid)


def _n_layers_of(arguments: Any, data: str | None) -> int | None:
    """``n_layers`` of the argument ``data`` names (``"self.e"``: an attribute of one), or ``None``."""
    if data is None:
        return None
    head, *rest = data.split(".")
    obj = arguments.get(head)
    for attr in rest:
        obj = getattr(obj, attr, None)
    n = obj if is_int(obj) else getattr(obj, "n_layers", None)
    return n if is_int(n) and n >= 0 else None


class Layer(Constraint):
    """One layer: an int (its range depends on the model, so the body checks it).

    ``data`` names the argument that carries the model's ``n_layers`` (``"e"``, or
    ``"self.e"`` for an attribute of one) so that a refused value gets the same message
    as :func:`resolve_layer`; ``embeddings=False`` for attention layers (no layer 0).
    """

    def __init__(self, data: str | None = None, *, embeddings: bool = True) -> None:
        self.data, self.embeddings = data, embeddings

    def ok(self, value: Any) -> bool:
        return is_int(value)

    def describe(self) -> str:
        return "an int (0 = embeddings, negatives count from the top)" if self.embeddings else \
            "an int (transformer layers, negatives count from the top)"

    def message(self, name: str, value: Any, arguments: Any) -> str | None:
        n = _n_layers_of(arguments, self.data)
        if n is None:
            return None
        try:
            resolve_layer(value, n, name=name, embeddings=self.embeddings)
        except InvalidParameterError as err:
            return str(err)
        return None  # pragma: no cover - ok() refused what resolve_layer allows


class Layers(Constraint):
    """A layer spec: an int, a list of ints or a preset name (:data:`LAYER_PRESETS`).

    The range depends on the model, so the body checks it; ``data`` as for :class:`Layer`.
    ``allow_none`` (with ``"all"``) for the parameters where ``None`` means every layer.
    """

    def __init__(self, data: str | None = None, *, allow_none: bool = False) -> None:
        self.data, self.allow_none = data, allow_none

    def ok(self, value: Any) -> bool:
        if value is None or (isinstance(value, str) and value == "all"):
            return self.allow_none
        if isinstance(value, str):
            return value in LAYER_PRESETS
        if isinstance(value, (list, tuple)):
            return len(value) > 0 and all(is_int(v) for v in value)
        return is_int(value)

    def describe(self) -> str:
        extra = ", None or 'all' (every layer)" if self.allow_none else ""
        return f"an int, a list of ints or one of {tuple(LAYER_PRESETS)}{extra}"

    def message(self, name: str, value: Any, arguments: Any) -> str | None:
        n = _n_layers_of(arguments, self.data)
        if n is None:
            return None
        try:
            _resolve_layers(value, n, name=arguments.get("name", name) if self.data == "n_layers" else name)
        except InvalidParameterError as err:
            return str(err)
        return None


_resolve_layers = resolve_layers
resolve_layers = validate_params({
    "layers": Layers("n_layers"),
    "n_layers": Interval(int, 0),
    "combine": NoneOr(Options(COMBINE_MODES), "the preset's own"),
    "name": TEXT,
})(_resolve_layers)
