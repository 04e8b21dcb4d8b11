"""Parameter validation in one place: constraints declared once, one error type.

In the spirit of scikit-learn's ``validate_params``: a public function declares
what each parameter accepts, and :func:`validate_params` checks the call before
the body runs. Every failure raises :class:`InvalidParameterError`, which is
both a :class:`ValueError` and a :class:`TypeError` (so ``except ValueError``
and ``except TypeError`` both catch it) and names the parameter, what is
allowed and what was given::

    layers must be an int in [-7, 6], a list of ints or one of ('last', ...); got 9.

Layer numbering is the same everywhere: **0 is the embedding output**, ``1..n``
the transformer layers, and negative numbers count from the top (``-1`` is the
last layer). ``layer`` / ``layers`` parameters all go through
:func:`resolve_layers`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "InvalidParameterError",
    "Interval",
    "Options",
    "Boolean",
    "Instance",
    "NoneOr",
    "check",
    "validate_params",
    "LAYER_PRESETS",
    "COMBINE_MODES",
    "resolve_layers",
    "stored_layer_ids",
]


class InvalidParameterError(ValueError, TypeError):
    """A bad argument: names the parameter, the allowed values and what was given."""


class Constraint:
    """One rule a value may satisfy; :meth:`describe` says what it allows."""

    def ok(self, value: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class Interval(Constraint):
    """A real number (``type=float``) or an int (``type=int``) in a range; bools are refused."""

    def __init__(self, type: type, low: float | None = None, high: float | None = None, *,
                 closed: str = "both") -> None:
        self.type, self.low, self.high, self.closed = type, low, high, closed

    def ok(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.type is int:
            if not isinstance(value, int):
                return False
        elif not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        lo_closed = self.closed in ("both", "left")
        hi_closed = self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not lo_closed)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not hi_closed)))

    def describe(self) -> str:
        kind = "an int" if self.type is int else "a number"
        if self.low is not None and self.high is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{kind} in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{kind} {'>=' if self.closed in ('both', 'left') else '>'} {self.low}"
        if self.high is not None:
            return f"{kind} {'<=' if self.closed in ('both', 'right') else '<'} {self.high}"
        return kind


class Options(Constraint):
    """One of a fixed set of strings."""

    def __init__(self, options: Sequence[str]) -> None:
        self.options = tuple(options)

    def ok(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def describe(self) -> str:
        return f"one of {self.options}"


class Boolean(Constraint):
    def ok(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "True or False"


class Instance(Constraint):
    """An instance of one of ``types`` (described by ``label``)."""

    def __init__(self, *types: type, label: str | None = None) -> None:
        self.types, self.label = types, label

    def ok(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (isinstance(value, bool) and bool not in self.types)

    def describe(self) -> str:
        return self.label or " or ".join(f"a {t.__name__}" for t in self.types)


class NoneOr(Constraint):
    """``None`` or whatever ``inner`` allows."""

    def __init__(self, inner: Constraint, meaning: str = "") -> None:
        self.inner, self.meaning = inner, meaning

    def ok(self, value: Any) -> bool:
        return value is None or self.inner.ok(value)

    def describe(self) -> str:
        return f"{self.inner.describe()} or None{f' ({self.meaning})' if self.meaning else ''}"


def _given(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{type(value).__name__} {text[:60]}..."


def check(name: str, value: Any, *constraints: Constraint) -> Any:
    """Return ``value`` if any constraint allows it, else raise :class:`InvalidParameterError`."""
    if any(c.ok(value) for c in constraints):
        return value
    allowed = " or ".join(c.describe() for c in constraints)
    raise InvalidParameterError(f"{name} must be {allowed}; got {_given(value)}.")


def validate_params(constraints: dict[str, Sequence[Constraint] | Constraint]) -> Callable:
    """Decorator: check the named parameters of every call against ``constraints``.

    Parameters not named are not checked here (the function checks what depends on
    its data, such as a layer range that depends on the model).
    """

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        rules = {k: (v,) if isinstance(v, Constraint) else tuple(v) for k, v in constraints.items()}
        unknown = set(rules) - set(sig.parameters)
        if unknown:  # pragma: no cover - a programming error caught at import
            raise RuntimeError(f"{fn.__qualname__}: constraints for unknown parameters {sorted(unknown)}")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            for name, cs in rules.items():
                if name in bound.arguments:
                    check(name, bound.arguments[name], *cs)
            return fn(*args, **kwargs)

        wrapper.__signature__ = sig  # type: ignore[attr-defined]
        return wrapper

    return decorate


# ---------------------------------------------------------------------------
# Layer specs: one meaning of ``layer`` / ``layers`` everywhere (0 = embeddings)
# ---------------------------------------------------------------------------

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
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise InvalidParameterError(f"{name} must be {allowed}; got {_given(layers)}.")
        return v % (n_layers + 1)

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
