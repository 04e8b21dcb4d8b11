"""Parameter validation in one place: constraints declared once, one error type.

In the spirit of scikit-learn's ``validate_params``: a public function declares
what each parameter accepts, and :func:`validate_params` checks the call before
the body runs. Every failure raises :class:`InvalidParameterError`, which is
both a :class:`ValueError` and a :class:`TypeError` (so ``except ValueError``
and ``except TypeError`` both catch it) and names the parameter, what is
allowed and what was given::

    layers must be an int in [-7, 6], a list of ints or one of ('last', ...); got 9.

Every public function declares a constraint for every parameter; the
declaration is kept on the function as ``fn._bk_parameter_constraints`` (as
scikit-learn keeps ``_skl_parameter_constraints``). :class:`Unchecked` marks a
parameter that truly accepts anything (it says why). NumPy scalars are accepted
wherever the matching Python type is (``np.int64`` for an int, ``np.float32``
for a float, ``np.bool_`` for a bool) and reach the function body as Python
values.

The layer convention (``layer`` / ``layers``) lives in :mod:`bertviz_kit.layers`.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "InvalidParameterError",
    "Interval",
    "Options",
    "Boolean",
    "Instance",
    "NoneOr",
    "Unchecked",
    "SequenceOf",
    "check",
    "as_index",
    "as_python",
    "is_int",
    "is_real",
    "refuse",
    "rows",
    "Texts",
    "ARRAY",
    "PATH",
    "FILE",
    "TEXT",
    "ClassNamed",
    "AXES",
    "FIGURE",
    "COLORMAP",
    "COLOR",
    "TITLE",
    "MPL_KWARGS",
    "validate_params",
    "show_value",
]


class InvalidParameterError(ValueError, TypeError):
    """A bad argument: names the parameter, the allowed values and what was given."""


def is_int(value: Any) -> bool:
    """True for a Python or NumPy integer; bools (Python or NumPy) are not ints here."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """True for a Python or NumPy int or float; bools are not numbers here."""
    return is_int(value) or isinstance(value, (float, np.floating))


def as_python(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (``np.int64(3)`` -> ``3``); anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def as_index(value: Any) -> Any:
    """A Python or NumPy integer as a Python ``int``; anything else (bools included) unchanged."""
    return int(value) if is_int(value) else value


class Constraint:
    """One rule a value may satisfy; :meth:`describe` says what it allows."""

    def ok(self, value: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def message(self, name: str, value: Any, arguments: Mapping[str, Any]) -> str | None:
        """A message of the constraint's own for a refused value (``None``: the standard one).

        ``arguments`` are the call's bound arguments, for a message that depends on
        another argument (such as the layer range of the model of the encoding passed).
        """
        return None


class Interval(Constraint):
    """A real number (``type=float``) or an int (``type=int``) in a range; bools are refused.

    ``alone=True``: a value of the right type that is out of range gets a message naming only
    this range, not the other constraints the parameter allows.
    """

    def __init__(self, type: type, low: float | None = None, high: float | None = None, *,
                 closed: str = "both", alone: bool = False) -> None:
        self.type, self.low, self.high, self.closed, self.alone = type, low, high, closed, alone

    def message(self, name: str, value: Any, arguments: Mapping[str, Any]) -> str | None:
        if self.alone and (is_int(value) if self.type is int else is_real(value)):
            return f"{name} must be {self.describe()}; got {show_value(value)}."
        return None

    def ok(self, value: Any) -> bool:
        if self.type is int:
            if not is_int(value):
                return False
        elif not is_real(value) or not math.isfinite(value):
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
    """``True`` or ``False`` (a NumPy ``bool_`` too)."""

    def ok(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def describe(self) -> str:
        return "True or False"


class Instance(Constraint):
    """An instance of one of ``types`` (described by ``label``)."""

    def __init__(self, *types: type, label: str | None = None) -> None:
        self.types, self.label = types, label
        extra = (np.integer,) if int in types else ()
        extra += (np.floating, np.integer) if float in types else ()
        extra += (np.bool_,) if bool in types else ()
        self._accept = types + extra

    def ok(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) and bool not in self.types:
            return False
        return isinstance(value, self._accept)

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

    def message(self, name: str, value: Any, arguments: Mapping[str, Any]) -> str | None:
        return self.inner.message(name, value, arguments)


class Unchecked(Constraint):
    """Anything: the parameter truly accepts any value; ``reason`` says why (kept with the declaration)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def ok(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return f"anything ({self.reason})"


class SequenceOf(Constraint):
    """A list or tuple (``seq_types``) whose items all satisfy ``inner``; a string is not a sequence here."""

    def __init__(self, inner: Constraint, *, label: str | None = None, seq_types: tuple[type, ...] = (list, tuple),
                 empty: bool = True) -> None:
        self.inner, self.label, self.seq_types, self.empty = inner, label, seq_types, empty

    def ok(self, value: Any) -> bool:
        if not isinstance(value, self.seq_types) or isinstance(value, str) or (not self.empty and len(value) == 0):
            return False
        return all(self.inner.ok(v) for v in value)

    def describe(self) -> str:
        return self.label or f"a {'non-empty ' if not self.empty else ''}list of {self.inner.describe()}"


class ClassNamed(Constraint):
    """An instance of a class named by its full dotted name, or of a subclass (no import needed)."""

    def __init__(self, *names: str, label: str) -> None:
        self.names, self.label = frozenset(names), label

    def ok(self, value: Any) -> bool:
        return any(f"{c.__module__}.{c.__qualname__}" in self.names for c in type(value).__mro__)

    def describe(self) -> str:
        return self.label


#: a torch tensor or a NumPy array (shape and values are checked in the body)
ARRAY = Instance(torch.Tensor, np.ndarray, label="a tensor or array")
def rows(what: str) -> Instance:
    """A sequence with one item per row (labels, groups): a list, tuple, array or tensor of ``what``."""
    return Instance(list, tuple, np.ndarray, torch.Tensor, label=f"a sequence of {what}, one per row")


class Texts(Constraint):
    """One text or many: a str, a sequence of str, a NumPy array or a pandas Series (``tolist()``).

    The items are checked in the body (its message names the first one that is not a str).
    ``single=False``: many texts only (a str alone is refused).
    """

    def __init__(self, single: bool = True) -> None:
        self.single = single

    def ok(self, value: Any) -> bool:
        if isinstance(value, str):
            return self.single
        if isinstance(value, (bytes, bytearray, torch.Tensor)):
            return False
        return isinstance(value, Sequence) or hasattr(value, "tolist")

    def describe(self) -> str:
        return "a str or a sequence of str" if self.single else "a sequence of str (a list, a NumPy array, ...)"

    def message(self, name: str, value: Any, arguments: Mapping[str, Any]) -> str | None:
        if isinstance(value, (bytes, bytearray)):
            return f"{name} must be {self.describe()}; got {type(value).__name__}; decode it first."
        return None


#: a file or folder path
PATH = Instance(str, os.PathLike, label="a path (str or os.PathLike)")
#: a file to write (a name or a path)
FILE = Instance(str, os.PathLike, label="a file name or path")
#: a string
TEXT = Instance(str, label="a string")


#: ``ax=``: an Axes to draw on, or None for a new figure
AXES = NoneOr(ClassNamed("matplotlib.axes._axes.Axes", label="a matplotlib Axes"), "a new figure")
#: ``fig=``: a Figure to draw on, or None for a new one
FIGURE = NoneOr(ClassNamed("matplotlib.figure.Figure", label="a matplotlib Figure"), "a new figure")
#: ``cmap=``: a colormap name or a Colormap
COLORMAP = (TEXT, ClassNamed("matplotlib.colors.Colormap", label="a matplotlib Colormap"))
#: ``color=``: a colour name or an RGB(A) tuple
COLOR = (TEXT, Instance(tuple, list, label="an RGB(A) tuple"))
#: ``title=``: a string, or None for no title
TITLE = NoneOr(TEXT, "no title")
#: ``**kwargs`` of a plot function
MPL_KWARGS = Unchecked("passed on to matplotlib, which checks them")


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


def refuse(name: str, value: Any, constraints: Sequence[Constraint], arguments: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidParameterError` for ``value``, with a constraint's own message if it has one."""
    for c in constraints:
        text = c.message(name, value, arguments)
        if text:
            raise InvalidParameterError(text)
    check(name, value, *constraints)


class _Binder:
    """Maps a call's arguments to parameter names, cheaply: ``inspect.Signature.bind`` only when needed.

    A call with no more positional arguments than named positional parameters and keywords that
    name parameters (or go to ``**kwargs``) is mapped with a ``zip``; anything else (a missing or
    doubled argument, ``*args``) goes through ``Signature.bind``, which also raises the usual
    ``TypeError``.
    """

    def __init__(self, sig: inspect.Signature, checked: set[str]) -> None:
        kinds = inspect.Parameter
        params = list(sig.parameters.values())
        self.sig = sig
        positional = (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
        self.positional = tuple(p.name for p in params if p.kind in positional)
        self.index = {name: i for i, name in enumerate(self.positional)}
        self.keywords = frozenset(p.name for p in params if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY))
        var_kw = [p.name for p in params if p.kind is kinds.VAR_KEYWORD]
        self.extra_keywords = bool(var_kw) and var_kw[0] not in checked
        self.fast = not any(p.kind is kinds.VAR_POSITIONAL for p in params)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        n = len(args)
        if self.fast and n <= len(self.positional) and (not kwargs or all(
                (k in self.keywords or self.extra_keywords) and self.index.get(k, n) >= n for k in kwargs)):
            arguments = dict(zip(self.positional, args))
            arguments.update(kwargs)
            return arguments
        return dict(self.sig.bind(*args, **kwargs).arguments)

    def replace(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                values: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``args`` and ``kwargs`` with the arguments named in ``values`` replaced."""
        new_args, new_kwargs = list(args), dict(kwargs)
        for name, value in values.items():
            i = self.index.get(name)
            if i is not None and i < len(new_args):
                new_args[i] = value
            else:
                new_kwargs[name] = value
        return tuple(new_args), new_kwargs


def _old_keywords(function: str, renamed: Mapping[str, str], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with old keyword names replaced by the new ones, each with a :class:`FutureWarning`."""
    out = dict(kwargs)
    for old, new in renamed.items():
        if old not in out:
            continue
        if new in out:
            raise TypeError(f"{function}() got both {new}= and its old name {old}=; pass only {new}=.")
        warnings.warn(f"{function}({old}=...) is now {function}({new}=...); the old keyword will be removed.",
                      FutureWarning, stacklevel=3)
        out[new] = out.pop(old)
    return out


def validate_params(constraints: dict[str, Sequence[Constraint] | Constraint],
                    renamed: Mapping[str, str] | None = None) -> Callable:
    """Decorator: check every call's arguments against ``constraints`` before the body runs.

    ``constraints`` maps each parameter (``self`` excepted) to a constraint or a
    sequence of constraints, any of which may allow the value; :class:`Unchecked`
    marks a parameter that accepts anything. The declaration is kept on the
    returned function as ``_bk_parameter_constraints``. What depends on the data
    (such as a layer range that depends on the model) is still checked in the body.
    A NumPy scalar that passes reaches the body as the Python value it holds.

    ``renamed`` maps old keyword names to the parameters that replaced them: a call
    with an old keyword still works and warns (:class:`FutureWarning`); it is kept
    on the function as ``_bk_renamed_parameters``.
    """
    renamed = dict(renamed or {})

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        if not set(renamed.values()) <= set(sig.parameters) or set(renamed) & set(sig.parameters):
            raise RuntimeError(f"{fn.__qualname__}: bad renamed parameters {renamed}")  # pragma: no cover
        rules = {k: (v,) if isinstance(v, Constraint) else tuple(v) for k, v in constraints.items()}
        unknown = set(rules) - set(sig.parameters)
        if unknown:  # pragma: no cover - a programming error caught at import
            raise RuntimeError(f"{fn.__qualname__}: constraints for unknown parameters {sorted(unknown)}")
        # the checks a call runs: Unchecked parameters cost nothing
        active = tuple((k, cs) for k, cs in rules.items() if not any(isinstance(c, Unchecked) for c in cs))
        binder = _Binder(sig, {k for k, _ in active})

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if renamed and not renamed.keys().isdisjoint(kwargs):
                kwargs = _old_keywords(fn.__name__, renamed, kwargs)
            arguments = binder.bind(args, kwargs)
            converted = None
            for name, cs in active:
                if name not in arguments:
                    continue
                value = arguments[name]
                for c in cs:
                    if c.ok(value):
                        break
                else:
                    refuse(name, value, cs, arguments)
                if isinstance(value, np.generic):
                    converted = converted or {}
                    converted[name] = value.item()
            if converted:
                args, kwargs = binder.replace(args, kwargs, converted)
            return fn(*args, **kwargs)

        wrapper.__signature__ = sig  # type: ignore[attr-defined]
        wrapper._bk_parameter_constraints = rules  # type: ignore[attr-defined]
        wrapper._bk_renamed_parameters = renamed  # type: ignore[attr-defined]
        return wrapper

    return decorate
