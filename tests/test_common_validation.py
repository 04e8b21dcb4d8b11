"""The API contract: every public callable declares a constraint for every parameter, and a wrong
argument is refused with :class:`bk.InvalidParameterError` naming the parameter, before the body runs.

The walk covers every callable in ``bk.__all__``: functions, and each class's ``__init__`` and
public methods. The checks run in the decorator, so each call gets cheap placeholders for the other
arguments and an unbound ``self`` (``None``): nothing but the check can run.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from collections.abc import Callable, Iterator, Mapping

import matplotlib
import numpy as np
import pytest
import torch
from conftest import BANK_TEXT

import bertviz_kit as bk
from bertviz_kit._validation import (
    Boolean,
    ClassNamed,
    Constraint,
    Instance,
    Interval,
    NoneOr,
    Options,
    SequenceOf,
    Texts,
    Unchecked,
    validate_params,
)
from bertviz_kit.layers import Layer, Layers
from bertviz_kit.vectors.addressing import WordArg

matplotlib.use("Agg")

# Result records: frozen dataclasses that functions return (users read them, they do not build them).
RECORDS = {
    "AlignmentReport", "WordFeatures", "ProbeResult", "ScalarMixResult", "LensResult", "LayerInternals",
    "EmbeddingSum", "TopNeurons", "MixingResult", "MaskPredictions", "ContextMatch", "Encoding",
}
# Each exemption with its reason. Keep this short.
EXEMPT: dict[str, str] = {
    **{f"{name}.__init__": "a result record returned by a function, not built by users" for name in RECORDS},
    "Encoding.by_token": "no parameters",
    "Encodings.__init__": "built by Encoder.encode, Store and Encodings.from_encodings, which check their input",
    "Encoder.__init__": "built by bk.load, which checks every option",
    "HtmlView.__init__": "built by bk.html_view, which checks every option",
    "ContextIndex.__init__": "built by bk.build_context_index / bk.load_context_index",
    "EncoderWithHead.forward": "torch.nn.Module.forward on model inputs, called through __call__ in training loops",
    "PanelControl.__init__": "a frozen dataclass a panel returns from controls(); the Explorer reads it",
    "Settings.__init__": "a dataclass whose __post_init__ checks every field with the same messages",
}
# the plug-in hooks a panel implements; the Explorer calls them with its own view and axes
PANEL_HOOKS = {"controls", "check", "key", "compute", "draw", "stage_keys", "artists", "update"}


def public_callables() -> Iterator[tuple[str, Callable]]:
    for name in bk.__all__:
        obj = getattr(bk, name)
        if inspect.ismodule(obj) or not callable(obj) or isinstance(obj, type) and issubclass(obj, Exception):
            continue
        if not isinstance(obj, type):
            yield name, obj
            continue
        if name == "Corpus":  # the abstract contract: its implementations (Encodings, Store) are walked
            continue
        for attr, fn in vars(obj).items():
            if isinstance(fn, (classmethod, staticmethod)):
                fn = fn.__func__
            if not inspect.isfunction(fn) or (attr.startswith("_") and attr != "__init__"):
                continue
            if issubclass(obj, bk.Panel) and attr in PANEL_HOOKS:
                continue
            yield f"{name}.{attr}", fn


CALLABLES = dict(public_callables())


def test_the_walk_finds_the_public_api():
    expected = {"cosine", "plot_histogram", "Encoder.encode", "Store.__init__", "Explorer.set", "html_view"}
    assert expected <= set(CALLABLES)
    assert len(CALLABLES) > 90
    assert set(EXEMPT) <= set(CALLABLES), sorted(set(EXEMPT) - set(CALLABLES))


@pytest.mark.parametrize("qualname", sorted(set(CALLABLES) - set(EXEMPT)))
def test_every_parameter_has_a_declared_constraint(qualname):
    fn = CALLABLES[qualname]
    params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    rules = getattr(fn, "_bk_parameter_constraints", None)
    assert rules is not None, f"{qualname} declares no constraints (@validate_params)"
    missing = [p for p in params if p not in rules]
    assert not missing, f"{qualname}: no constraint for {missing}"
    for p, cs in rules.items():
        assert cs and all(isinstance(c, Constraint) for c in cs), (qualname, p)
        for c in cs:
            if isinstance(c, Unchecked):
                assert len(c.reason) > 10, f"{qualname}({p}): Unchecked needs a reason"


# Where a parameter takes a corpus and something else too (vectors, features, an encoder), it is `data`.
CORPUS_OR_OTHER = {"mev": "data", "probe_layers": "data", "scalar_mix_probe": "data", "ud_word_features": "data"}


def _takes_a_corpus(cs: tuple[Constraint, ...]) -> bool:
    return any(isinstance(c, Instance) and bk.Corpus in c.types for c in cs)


@pytest.mark.parametrize("qualname", sorted(q for q, f in CALLABLES.items() if hasattr(f, "_bk_parameter_constraints")))
def test_the_multi_text_parameter_is_corpus(qualname):
    """One name for the texts: `corpus` (one Encoding is a corpus of one); `other` for a second corpus;
    `data` only where vectors or features may come instead. Old names are kept as warned aliases."""
    fn = CALLABLES[qualname]
    names = [p for p, cs in fn._bk_parameter_constraints.items() if _takes_a_corpus(cs)]
    allowed = {"corpus", "other", CORPUS_OR_OTHER.get(qualname)}
    assert set(names) <= allowed, f"{qualname} takes a corpus as {names}"
    assert not {"es", "encodings"} & set(inspect.signature(fn).parameters), qualname
    for old, new in fn._bk_renamed_parameters.items():
        assert new in inspect.signature(fn).parameters and old not in inspect.signature(fn).parameters


class Wrong:
    """A value no declared type allows."""

    def __repr__(self) -> str:
        return "<wrong>"


@pytest.fixture(scope="module")
def samples(tiny, tiny_bank, tmp_path_factory):
    texts = [BANK_TEXT, "the river bank was muddy"]
    es = tiny.encode(texts)
    store = bk.extract(tiny, texts, tmp_path_factory.mktemp("store"), progress=False)
    return {bk.Encoding: tiny_bank, bk.Corpus: es, bk.Encodings: es, bk.Encoder: tiny, bk.Store: store}


def interval_value(c: Interval) -> object:
    if c.low is not None:
        return c.low if c.closed in ("both", "left") else c.low + 1
    if c.high is not None:
        return c.high if c.closed in ("both", "right") else c.high - 1
    return 1


PLAIN = {str: "x", os.PathLike: "x", int: 1, float: 1.0, torch.Tensor: torch.zeros(2, 3), np.ndarray: np.zeros((2, 3)),
         list: [], tuple: (), dict: {}, Mapping: {}, Callable: print}


def instance_value(c: Instance, samples: Mapping[type, object]) -> object:
    for t in c.types:  # a sample of exactly the type asked for first (a Store, not any Corpus)
        if t in samples:
            return samples[t]
    for t in c.types:
        for k, v in samples.items():
            if issubclass(t, k) or issubclass(k, t):
                return v
    for t in c.types:
        if t in PLAIN:
            return PLAIN[t]
    for t in c.types:
        if inspect.isclass(t) and t.__module__.startswith("bertviz_kit"):  # a record: a bare instance will do
            return object.__new__(t)
    raise AssertionError(f"no placeholder for {c.describe()}")


def class_named_value(c: ClassNamed) -> object:
    module, _, qualname = sorted(c.names)[0].rpartition(".")
    return object.__new__(getattr(importlib.import_module(module), qualname))


SIMPLE = {
    Unchecked: lambda c: None, NoneOr: lambda c: None, Options: lambda c: c.options[0], Boolean: lambda c: True,
    Interval: interval_value, Layer: lambda c: -1, Layers: lambda c: "last", WordArg: lambda c: 0,
    ClassNamed: class_named_value, Texts: lambda c: ["x"],
}


def valid(c: Constraint, samples: Mapping[type, object]) -> object:
    """A cheap value ``c`` allows."""
    if type(c) in SIMPLE:
        return SIMPLE[type(c)](c)
    if isinstance(c, SequenceOf):
        return [valid(c.inner, samples)]
    if isinstance(c, Instance):
        return instance_value(c, samples)
    raise AssertionError(f"no placeholder for {c.describe()}")


def wrong_values(cs: tuple[Constraint, ...]) -> list[object]:
    """A value of a wrong type, and a wrong value where a value rule exists."""
    out: list[object] = [Wrong()]
    for c in (x.inner if isinstance(x, NoneOr) else x for x in cs):
        if isinstance(c, Options):
            out.append("no-such-option")
        elif isinstance(c, Interval) and c.low is not None:
            out.append(c.low - 1)
        elif isinstance(c, Interval) and c.high is not None:
            out.append(c.high + 1)
        elif isinstance(c, Boolean):
            out.append("yes")
    return [v for v in out if not any(c.ok(v) for c in cs)]


def declared_cases() -> Iterator[tuple[str, str]]:
    for qualname, fn in sorted(CALLABLES.items()):
        rules = getattr(fn, "_bk_parameter_constraints", {})
        for p, cs in rules.items():
            if not any(isinstance(c, Unchecked) for c in cs):
                yield qualname, p


@pytest.mark.parametrize(("qualname", "param"), list(declared_cases()))
def test_a_wrong_argument_is_refused_by_name(samples, qualname, param):
    fn = CALLABLES[qualname]
    rules = fn._bk_parameter_constraints
    sig = inspect.signature(fn)
    base: dict[str, object] = {}
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            base[p.name] = None
        elif p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        elif p.default is p.empty:
            base[p.name] = valid(rules[p.name][0], samples)
    bads = wrong_values(rules[param])
    assert bads
    for bad in bads:
        args = {**base, param: bad}
        positional = [args.pop(k) for k in ("self", "cls") if k in args]
        with pytest.raises(bk.InvalidParameterError) as err:
            fn(*positional, **args)
        assert re.search(rf"(^|\W){re.escape(param)}(\W|$)", str(err.value)), (qualname, param, str(err.value))


def test_calls_that_do_not_fit_the_signature_fail_as_before():
    @validate_params({"a": Interval(int), "b": Interval(int), "kw": Unchecked("anything, for this test")})
    def f(a, b=0, **kw):
        return a, b, kw

    assert f(np.int64(1), b=np.int8(2), c=3) == (1, 2, {"c": 3})
    assert type(f(1, np.int16(5))[1]) is int
    for bad_call in (lambda: f(), lambda: f(1, 2, 3), lambda: f(1, a=2)):
        with pytest.raises(TypeError) as err:
            bad_call()
        assert not isinstance(err.value, bk.InvalidParameterError)
    with pytest.raises(bk.InvalidParameterError, match="^b must be an int; got 'x'"):
        f(1, b="x")


def test_the_check_runs_before_the_body(tiny, tmp_path):
    target = tmp_path / "store"
    with pytest.raises(bk.InvalidParameterError, match="dtype must be one of"):
        bk.extract(tiny, ["the bank"], target, dtype="float8")
    assert not target.exists()  # nothing was written
