"""Labels for the probes: one per row, of one kind, none missing.

``np.unique`` (which the probes use to find the classes) compares everything as one type: a list
holding ``1`` and ``"1"`` becomes strings and the two merge into one class, ``True`` and ``1``
merge as numbers, and a NaN label becomes a class of its own. :func:`as_labels` refuses them,
naming the index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .._validation import InvalidParameterError

__all__ = ["as_labels"]


def as_labels(labels: object, n: int | None, name: str = "labels") -> np.ndarray:
    """``labels`` as a 1-D array, one per row (``n`` rows, or any length for ``None``)."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray, torch.Tensor)):
        raise InvalidParameterError(f"{name} must be a sequence with one label per row; got {type(labels).__name__}.")
    if isinstance(labels, np.ndarray) and labels.dtype != object:
        values = labels if labels.ndim == 1 and labels.dtype.kind in "fc" else None  # only floats hold NaN
    else:
        values = labels.tolist() if isinstance(labels, torch.Tensor) else list(labels)
    if values is not None:
        _check_label_kinds(values, name)
    y = np.asarray(labels if isinstance(labels, np.ndarray) else values)
    if y.ndim != 1 or (n is not None and len(y) != n):
        raise InvalidParameterError(f"{name} must hold one label per row: {n}; got {len(y)}.")
    return y


def _label_kind(v: object) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "number"
    return "str" if isinstance(v, (str, np.str_)) else type(v).__name__


def _check_label_kinds(values: Sequence[object], name: str) -> None:
    """Refuse a missing label (None, NaN) and labels of mixed kinds: ``np.unique`` would turn
    ``1`` and ``"1"`` into one class (and True into 1)."""
    first: tuple[int, object, str] | None = None
    for i, v in enumerate(values):
        if v is None or (isinstance(v, (float, np.floating)) and v != v):
            raise InvalidParameterError(
                f"{name}[{i}] is {'None' if v is None else 'NaN'}, a missing label; drop that row (and its "
                f"features) or give it a label.")
        kind = _label_kind(v)
        if first is None:
            first = (i, v, kind)
        elif kind != first[2]:
            raise InvalidParameterError(
                f"{name} mix kinds of values: {name}[{first[0]}] is {first[1]!r} ({first[2]}) and {name}[{i}] is "
                f"{v!r} ({kind}); as one array they would be converted to one type, which merges values such "
                f"as 1 and '1' (or True and 1) into one class. Give every label the same type.")
