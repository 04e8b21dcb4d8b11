"""Parameter validation in one place: constraints declared once, one error type.

In the spirit of scikit-learn's ``validate_params``: a public function declares
what each parameter accepts, and :func:`validate_params` checks the call before
the body runs. Every failure raises :class:`InvalidParameterError`, which is
both a :class:`ValueError` and a :class:`TypeError` (so ``except ValueError``
and ``except TypeError`` both catch it) and names the parameter, what is
allowed and what was given::

    layers must be an int in [-7, 6], a list of ints or one of ('last', ...); got 9.

The layer convention (``layer`` / ``layers``) lives in :mod:`bertviz_kit.layers`.
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
    "show_value",
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


def show_value(value: Any) -> str:
    """``repr(value)`` for an error message, shortened when long."""
    text = repr(value)
    return text if len(text) <= 80 else f"{type(value).__name__} {text[:60]}..."


def check(name: str, value: Any, *constraints: Constraint) -> Any:
    """Return ``value`` if any constraint allows it, else raise :class:`InvalidParameterError`."""
    if any(c.ok(value) for c in constraints):
        return value
    allowed = " or ".join(c.describe() for c in constraints)
    raise InvalidParameterError(f"{name} must be {allowed}; got {show_value(value)}.")


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
