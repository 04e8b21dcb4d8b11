"""Layer-wise probing: how well does a simple classifier read a label off each layer?

:func:`probe_layers` trains a cross-validated probe (``StandardScaler`` + a
scikit-learn ``LogisticRegression`` or, with ``probe="mlp"``, an
``MLPClassifier`` with one hidden layer; all seeded) on the vectors of every
layer and returns the accuracy per layer. A layer where the probe does well
holds the information in a readable form; compare with
:attr:`ProbeResult.chance`.

Word-level probes (:func:`bertviz_kit.ud_word_features`) split by sentence
(``groups``) and can be checked against a **control task** (Hewitt & Liang
2019, "Designing and Interpreting Probes with Control Tasks"): every word
type gets a fixed random label (:func:`control_labels`), so a probe can only
do well on it by memorising word identities. ``selectivity = accuracy -
control accuracy``: a probe that reaches high accuracy with low selectivity
tells more about its own capacity than about the representation.

:func:`scalar_mix_probe` learns one softmax weight per layer together with a
linear classifier (Tenney, Das & Pavlick 2019, "BERT Rediscovers the Classical
NLP Pipeline"): the weights' centre of gravity says which layers a task draws
on, and cumulative scoring (probes on layers ``0..l``) gives the expected
layer at which the task's information appears.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import (
    Boolean,
    Constraint,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    check,
    rows,
    validate_params,
)
from ..encoding import Corpus, Encoding, as_corpus
from ..vectors.pooling import POOLING_MODES, SPECIALS_MODES, layer_sentence_vectors, refuse_empty_texts
from .alignment import PROBE_DATA, WordFeatures
from .labels import as_labels

__all__ = [
    "PROBES",
    "ProbeResult",
    "probe_layers",
    "control_labels",
    "ScalarMixResult",
    "scalar_mix_probe",
]

#: Probe classifiers of :func:`probe_layers`.
PROBES = ("linear", "mlp")


@dataclass(frozen=True, repr=False)
class ProbeResult:
    """Cross-validated probe accuracy at every layer (and, with a control task, selectivity).

    Attributes
    ----------
    mean : torch.Tensor, shape ``[n_layers]``
        Mean accuracy over the folds, one value per probed layer.
    std : torch.Tensor, shape ``[n_layers]``
        Standard deviation over the folds.
    folds : torch.Tensor, shape ``[n_layers, n_folds]``
        Accuracy of every fold.
    layer_ids : tuple of int
        The layer of each row (0 = embeddings for encodings).
    chance : float
        Accuracy of always predicting the most frequent label.
    control : torch.Tensor or None, shape ``[n_layers]``
        Mean accuracy of the same probe on the control task (same folds),
        when run with ``control=True``; else ``None``.
    control_folds : torch.Tensor or None, shape ``[n_layers, n_folds]``
        Control accuracy of every fold.
    probe : str
        ``"linear"`` or ``"mlp"``.
    """

    mean: torch.Tensor
    std: torch.Tensor
    folds: torch.Tensor
    layer_ids: tuple[int, ...]
    chance: float
    control: torch.Tensor | None = None
    control_folds: torch.Tensor | None = None
    probe: str = "linear"

    @property
    def best_layer(self) -> int:
        """The layer with the highest mean accuracy (the first one on ties)."""
        return self.layer_ids[int(torch.argmax(self.mean))]

    @property
    def selectivity(self) -> torch.Tensor | None:
        """``mean - control`` per layer (Hewitt & Liang 2019); ``None`` without a control task."""
        return None if self.control is None else self.mean - self.control

    @property
    def control_std(self) -> torch.Tensor | None:
        """Standard deviation of the control accuracy over the folds."""
        return None if self.control_folds is None else self.control_folds.std(dim=1, correction=0)

    def __repr__(self) -> str:
        def fmt(t: torch.Tensor) -> str:
            return ", ".join(f"{v:.3f}" for v in t.tolist())

        kind = "" if self.probe == "linear" else f"probe={self.probe!r}, "
        extra = ""
        if self.control is not None:
            extra = f", control=[{fmt(self.control)}], selectivity=[{fmt(self.selectivity)}]"  # type: ignore[arg-type]
        return (f"ProbeResult({kind}layers={self.layer_ids}, mean=[{fmt(self.mean)}]{extra}, "
                f"cv={self.folds.shape[1]}, chance={self.chance:.3f}, best_layer={self.best_layer})")


class _Splitter(Constraint):
    """A scikit-learn cross-validation splitter (``split`` and ``get_n_splits``)."""

    def ok(self, value: Any) -> bool:
        return not isinstance(value, type) and hasattr(value, "split") and hasattr(value, "get_n_splits")

    def describe(self) -> str:
        return "a scikit-learn splitter (e.g. GroupShuffleSplit(n_splits=1, test_size=0.25))"


def _check_cv(cv: object) -> None:
    """An int >= 2 (the message for an int names only that) or a scikit-learn splitter."""
    if _Splitter().ok(cv):
        return
    if isinstance(cv, int) and not isinstance(cv, bool):
        check("cv", cv, Interval(int, 2))
    check("cv", cv, Interval(int, 2), _Splitter())


def _features(
    data: object, pooling: str, specials: str
) -> tuple[np.ndarray, tuple[int, ...]]:
    if isinstance(data, WordFeatures):
        return data.features.numpy(), tuple(data.layer_ids)
    if isinstance(data, Corpus) or (
        isinstance(data, Sequence) and not isinstance(data, (str, Encoding)) and data
        and all(isinstance(e, Encoding) for e in data)
    ):
        corpus = as_corpus(data, "data")
        refuse_empty_texts(corpus, "data", pooling, specials)  # named as the caller passed it
        x = layer_sentence_vectors(corpus, pooling, specials)  # [L, n, D], one pass (streamed on a store)
        return x.cpu().numpy(), tuple(corpus.layer_ids)
    if isinstance(data, Encoding):
        raise InvalidParameterError("data must be an Encodings, a Store, a list of Encoding (one per "
                                    "labelled text) or a tensor [n_layers, n, dim]; got a single Encoding.")
    if isinstance(data, torch.Tensor):
        x = data.detach().float().cpu().numpy()
    elif isinstance(data, np.ndarray):
        x = data.astype(np.float32, copy=False)
    else:
        raise InvalidParameterError(f"data must be an Encodings, a Store, a list of Encoding, WordFeatures or a "
                                    f"tensor/array [n_layers, n, dim]; got {type(data).__name__}.")
    if x.ndim != 3:
        raise InvalidParameterError(f"data must have shape [n_layers, n, dim]; got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise InvalidParameterError("data holds NaN or infinite values.")
    return x, tuple(range(x.shape[0]))


def _probe_inputs(
    data: object, labels: object, groups: object, pooling: str, specials: str
) -> tuple[np.ndarray, tuple[int, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """What every probe starts from: features ``[layers, n, dim]``, their layer ids, the labels
    (with their classes, class index and class counts; at least two classes) and the groups."""
    x, layer_ids = _features(data, pooling, specials)
    n = x.shape[1]
    y = as_labels(labels, n)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise InvalidParameterError(f"labels must hold at least two classes; got only {classes.tolist()}.")
    return x, layer_ids, y, classes, inverse, counts, _groups(groups, data, n)


def _groups(groups: object, data: object, n: int) -> np.ndarray | None:
    if groups is None:
        return data.sentence.numpy() if isinstance(data, WordFeatures) else None
    g = as_labels(groups, n, "groups")
    return g


def _word_types(word_types: object, data: object, n: int) -> np.ndarray | None:
    if word_types is None:
        return np.asarray(data.word_types) if isinstance(data, WordFeatures) else None
    return as_labels(word_types, n, "word_types")


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run small dense fits on one thread (BLAS and torch), restoring the settings after.

    The probes' matrices are small: on a busy 2-core machine OpenBLAS's threads made each
    scikit-learn fit 20-40x slower (threads spinning), and two torch threads made the
    scalar-mix fits 3-5x slower. One thread also makes the results independent of the
    machine's thread count.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            yield
            return
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(threads)


@validate_params({"word_types": rows("word types"), "labels": rows("labels"), "seed": Interval(int, 0)})
def control_labels(
    word_types: Sequence[str], labels: Sequence[object], *, seed: int = 0
) -> list[Any]:
    """The control task of Hewitt & Liang (2019): one fixed random label per word type.

    Every distinct word type draws one label, independently, from the
    empirical distribution of ``labels`` (seeded); every occurrence of the type
    gets that label. A probe can only predict these labels by memorising
    which type has which label, so its accuracy on them measures the probe's
    capacity to memorise rather than what the representation encodes.

    Parameters
    ----------
    word_types : sequence of str, length ``n``
        The type of each word, e.g. :attr:`WordFeatures.word_types` (lower-cased forms).
    labels : sequence, length ``n``
        The real task's labels; their distribution is the one drawn from.
    seed : int, default 0

    Returns
    -------
    list
        ``n`` control labels, each one of the classes of ``labels``. The types'
        labels follow the distribution of ``labels``; the word-level
        distribution matches it in expectation (a frequent type such as
        ``"the"`` weighs with its count).

    Examples
    --------
    >>> import bertviz_kit as bk
    >>> bk.control_labels(["the", "cat", "the", "sat"], ["DET", "NOUN", "DET", "VERB"], seed=0)
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidParameterError(f"seed must be an int >= 0; got {seed!r}.")
    y = as_labels(labels, None)
    if len(y) == 0:
        raise InvalidParameterError("labels must hold at least one label; got none.")
    t = as_labels(word_types, len(y), "word_types")
    classes, counts = np.unique(y, return_counts=True)
    types, inverse = np.unique(t, return_inverse=True)
    rng = np.random.default_rng(seed)
    draw = rng.choice(len(classes), size=len(types), p=counts / counts.sum())
    return classes[draw[inverse]].tolist()


def _folds(
    cv: int | Any, x0: np.ndarray, y: np.ndarray, groups: np.ndarray | None, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs: stratified folds, or folds of whole groups (sentences) when
    ``groups`` is given, or the splits of a scikit-learn splitter."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    if not isinstance(cv, int):
        splits = list(cv.split(x0, y, groups))
        if not splits:
            raise InvalidParameterError("cv made no train/test split.")
    elif groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < cv:
            raise InvalidParameterError(
                f"cv={cv} folds by group need at least {cv} groups (sentences); groups hold {n_groups}.")
        try:  # scikit-learn >= 1.6 shuffles the groups before packing them into folds
            splitter = GroupKFold(n_splits=cv, shuffle=True, random_state=seed)
        except TypeError:  # pragma: no cover - older scikit-learn: folds by size, in order
            splitter = GroupKFold(n_splits=cv)
        splits = list(splitter.split(x0, y, groups))
    else:
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < cv:
            small = classes[counts.argmin()]
            raise InvalidParameterError(
                f"every class needs at least cv={cv} members for StratifiedKFold; class {small.item()!r} "
                f"has {counts.min()}. Use a smaller cv or more data."
            )
        splits = list(StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed).split(x0, y))
    if groups is not None:
        for train, test in splits:
            if np.intersect1d(groups[train], groups[test]).size:
                raise InvalidParameterError("cv put one group (sentence) on both sides of a split; use a group "
                                            "splitter such as GroupKFold or GroupShuffleSplit.")
    return splits


def _make_probe(probe: str, C: float, max_iter: int, hidden_size: int, alpha: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if probe == "linear":
        clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    else:
        clf = MLPClassifier(hidden_layer_sizes=(hidden_size,), alpha=alpha, max_iter=max_iter, random_state=seed)
    return make_pipeline(StandardScaler(), clf)


def _score(make: Any, x: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]],
           quiet: bool) -> list[float]:
    from sklearn.exceptions import ConvergenceWarning

    out = []
    for train, test in splits:
        with warnings.catch_warnings():
            if quiet:  # an MLP's epoch budget (max_iter) is a choice, not a failure
                warnings.simplefilter("ignore", ConvergenceWarning)
            model = make().fit(x[train], y[train])
        out.append(float((model.predict(x[test]) == y[test]).mean()))
    return out


@validate_params({
    "data": PROBE_DATA, "labels": rows("labels"), "cv": (Interval(int, 2, alone=True), _Splitter()),
    "groups": NoneOr(rows("groups"), "no groups"), "word_types": NoneOr(rows("word types"), "no control task"),
    "seed": Interval(int, 0),
    "C": Interval(float, 0, None, closed="neither"),
    "max_iter": Interval(int, 1),
    "pooling": Options(POOLING_MODES),
    "specials": Options(SPECIALS_MODES),
    "progress": Boolean(),
    "probe": Options(PROBES),
    "hidden_size": Interval(int, 1),
    "alpha": Interval(float, 0),
    "control": Boolean(),
})
def probe_layers(
    data: Sequence[Encoding] | torch.Tensor | np.ndarray | WordFeatures,
    labels: Sequence[object],
    *,
    cv: int | Any = 5,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 2000,
    pooling: str = "mean",
    specials: str = "exclude",
    progress: bool = False,
    probe: str = "linear",
    hidden_size: int = 64,
    alpha: float = 1e-4,
    control: bool = False,
    groups: Sequence[object] | None = None,
    word_types: Sequence[str] | None = None,
) -> ProbeResult:
    """Cross-validated probe accuracy at every layer, optionally with a control task.

    Parameters
    ----------
    data : Encodings, Store, list of Encoding, WordFeatures, or tensor/array ``[n_layers, n, dim]``
        Encodings (one per text; their sentence vectors at every stored layer
        are probed, pooled with ``pooling`` and ``specials``), word features
        from :func:`bertviz_kit.ud_word_features` (their sentences are the
        ``groups`` and their lower-cased forms the ``word_types``), or
        ready-made per-layer features, e.g.
        :func:`bertviz_kit.layer_occurrence_vectors`.
    labels : sequence, length ``n``
        One label per text / row (str, int or bool); at least two classes.
    cv : int or scikit-learn splitter, default 5
        An int: that many folds, ``StratifiedKFold`` (shuffled with ``seed``;
        each class needs ``cv`` members) or, with ``groups``, ``GroupKFold``
        (whole groups per fold, shuffled with ``seed``). A splitter object
        (``GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=0)`` for
        one held-out split) is called as ``cv.split(x, labels, groups)``; with
        groups, every split must keep each group on one side.
    seed : int, default 0
        Seeds the folds, the classifier and the control labels.
    C : float, default 1.0
        Inverse L2 regularization strength of the linear probe.
    max_iter : int, default 2000
        Iterations of ``LogisticRegression`` (lbfgs), or epochs of the MLP (Adam).
    pooling : {"mean", "cls", "max"}, default "mean"
    specials : {"exclude", "include"}, default "exclude"
    progress : bool, default False
        Show a progress bar over layers (``tqdm.auto``).
    probe : {"linear", "mlp"}, default "linear"
        ``"linear"``: ``LogisticRegression``. ``"mlp"``: ``MLPClassifier``
        with one hidden layer of ``hidden_size`` ReLU units and L2 penalty
        ``alpha``; its ``ConvergenceWarning`` for using all ``max_iter``
        epochs is silenced (a small budget is a deliberate choice).
    hidden_size : int, default 64
    alpha : float, default 1e-4
    control : bool, default False
        Also train the same probe, on the same folds, on the control task
        (:func:`control_labels` of ``word_types`` and ``labels``, seeded);
        the result then has ``.control`` and ``.selectivity``. Needs
        ``word_types`` and ``groups`` (both come with ``WordFeatures``): a
        word-level split must keep each sentence on one side.
    groups : sequence, length ``n``, optional
        Group of each row (the sentence index of each word): folds never
        split a group. Defaults to ``data.sentence`` for ``WordFeatures``.
    word_types : sequence of str, length ``n``, optional
        Type of each word for the control task. Defaults to
        ``data.word_types`` for ``WordFeatures``.

    Returns
    -------
    ProbeResult
        ``.mean`` and ``.std`` ``[n_layers]``, ``.folds`` ``[n_layers, n_folds]``,
        ``.layer_ids``, ``.chance``, and with ``control=True`` ``.control``,
        ``.control_folds`` and ``.selectivity``.

    Notes
    -----
    Each fit runs on one BLAS thread (threadpoolctl): the matrices are small,
    and OpenBLAS's own threads made fits 20-40 times slower on a busy
    2-core machine (about 0.3 s per fit instead of 7-15 s for 3,000 words).
    """
    _check_cv(cv)
    x, layer_ids, y, classes, _, counts, g = _probe_inputs(data, labels, groups, pooling, specials)
    n = x.shape[1]
    y_control = None
    if control:
        types = _word_types(word_types, data, n)
        if types is None:
            raise InvalidParameterError(
                "control=True needs word_types (the type of each word, e.g. its lower-cased form); pass "
                "word_types=... or WordFeatures from bk.ud_word_features.")
        if g is None:
            raise InvalidParameterError(
                "control=True probes words: pass groups= (the sentence of each word) so that no sentence is "
                "on both sides of a split, or WordFeatures from bk.ud_word_features.")
        y_control = np.asarray(control_labels(types.tolist(), y.tolist(), seed=seed))
    splits = _folds(cv, x[0], y, g, seed)

    def make() -> Any:
        return _make_probe(probe, C, max_iter, hidden_size, alpha, seed)

    layers: Any = range(x.shape[0])
    if progress:
        from tqdm.auto import tqdm

        layers = tqdm(layers, desc="probing", unit="layer")
    scores, control_scores = [], []
    with _one_thread():
        for k in layers:
            scores.append(_score(make, x[k], y, splits, probe == "mlp"))
            if y_control is not None:
                control_scores.append(_score(make, x[k], y_control, splits, probe == "mlp"))
    s = torch.tensor(np.array(scores), dtype=torch.float32)
    c = torch.tensor(np.array(control_scores), dtype=torch.float32) if control else None
    return ProbeResult(
        mean=s.mean(dim=1), std=s.std(dim=1, correction=0), folds=s, layer_ids=layer_ids,
        chance=float(counts.max() / counts.sum()),
        control=None if c is None else c.mean(dim=1), control_folds=c, probe=probe,
    )


# ----------------------------------------------------------------------------- scalar mix


@dataclass(frozen=True, repr=False)
class ScalarMixResult:
    """A scalar-mix probe (Tenney et al. 2019): learned layer weights, their centre of gravity,
    and cumulative scoring.

    Attributes
    ----------
    weights : torch.Tensor, shape ``[n_layers]``
        Softmax layer weights ``s`` (they sum to 1), one per layer in ``layer_ids``.
    gamma : float
        The learned scale of the mix (``gamma * sum_l s_l h_l``).
    layer_ids : tuple of int
        The layer of each weight (0 = embeddings).
    accuracy : float
        Held-out accuracy of the probe on the mix of all layers.
    chance : float
        Held-out accuracy of always predicting the training set's most frequent label.
    cumulative : torch.Tensor or None, shape ``[n_layers]``
        Held-out accuracy of a scalar-mix probe on layers ``layer_ids[0..l]``,
        for each ``l`` (the last entry is :attr:`accuracy`); ``None`` when not computed.
    n_train, n_test : int
        Rows used to train and to score (split by group when groups are given).
    """

    weights: torch.Tensor
    gamma: float
    layer_ids: tuple[int, ...]
    accuracy: float
    chance: float
    cumulative: torch.Tensor | None
    n_train: int
    n_test: int

    @property
    def center_of_gravity(self) -> float:
        """``sum_l layer_l * s_l``: the mean layer under the mixing weights."""
        return float((torch.tensor(self.layer_ids, dtype=torch.float32) * self.weights).sum())

    @property
    def deltas(self) -> torch.Tensor | None:
        """``[n_layers - 1]``: accuracy gained by adding each layer after the first (``Delta(l)``)."""
        return None if self.cumulative is None else self.cumulative[1:] - self.cumulative[:-1]

    @property
    def expected_layer(self) -> float | None:
        """Tenney et al.'s expected layer ``sum_l l * Delta(l) / sum_l Delta(l)`` (``l`` over
        the layers after the first); ``nan`` when the gains sum to zero or less, ``None``
        without cumulative scoring. Gains may be negative (noise); they enter as they are."""
        d = self.deltas
        if d is None:
            return None
        total = float(d.sum())
        if total <= 0:
            return math.nan
        return float((torch.tensor(self.layer_ids[1:], dtype=torch.float32) * d).sum()) / total

    def __repr__(self) -> str:
        w = ", ".join(f"{v:.3f}" for v in self.weights.tolist())
        extra = ""
        if self.cumulative is not None:
            cum = ", ".join(f"{v:.3f}" for v in self.cumulative.tolist())
            extra = f", cumulative=[{cum}], expected_layer={self.expected_layer:.2f}"
        return (f"ScalarMixResult(layers={self.layer_ids}, weights=[{w}], gamma={self.gamma:.3f}, "
                f"center_of_gravity={self.center_of_gravity:.2f}, accuracy={self.accuracy:.3f}{extra}, "
                f"chance={self.chance:.3f}, n_train={self.n_train}, n_test={self.n_test})")


def _fit_mix(
    x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor, n_classes: int,
    *, epochs: int, lr: float, weight_decay: float, batch_size: int | None, seed: int,
) -> tuple[torch.Tensor, float, float]:
    """Train ``softmax(s)``, ``gamma`` and a linear classifier on ``[L, n, D]`` features; return
    ``(weights, gamma, held-out accuracy)``. Deterministic for a seed (CPU)."""
    n_layers, n, dim = x_train.shape
    gen = torch.Generator().manual_seed(seed)
    s = torch.zeros(n_layers, requires_grad=True)
    gamma = torch.ones(1, requires_grad=True)
    bound = 1.0 / math.sqrt(dim)
    w = ((torch.rand(n_classes, dim, generator=gen) * 2 - 1) * bound).requires_grad_()
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.Adam([{"params": [s, gamma]}, {"params": [w], "weight_decay": weight_decay},
                            {"params": [b]}], lr=lr)

    def logits(x: torch.Tensor) -> torch.Tensor:
        # the mix as one matrix-vector product over a [L, rows * dim] view (einsum's backward was 5x slower)
        mixed = (torch.softmax(s, 0) @ x.reshape(x.shape[0], -1)).reshape(x.shape[1], dim)
        return gamma * (mixed @ w.T) + b

    step = n if batch_size is None else batch_size
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen) if step < n else None
            for a in range(0, n, step):
                idx = order[a:a + step] if order is not None else slice(None)
                loss = torch.nn.functional.cross_entropy(logits(x_train[:, idx]), y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    with torch.no_grad():
        acc = float((logits(x_test).argmax(1) == y_test).float().mean())
        return torch.softmax(s, 0).detach().clone(), float(gamma), acc


@validate_params({
    "data": PROBE_DATA, "labels": rows("labels"), "groups": NoneOr(rows("groups"), "no groups"),
    "seed": Interval(int, 0),
    "test_size": Interval(float, 0, 1, closed="neither"),
    "epochs": Interval(int, 1),
    "lr": Interval(float, 0, None, closed="neither"),
    "weight_decay": Interval(float, 0),
    "batch_size": NoneOr(Interval(int, 1), "full batch"),
    "standardize": Boolean(),
    "cumulative": Boolean(),
    "pooling": Options(POOLING_MODES),
    "specials": Options(SPECIALS_MODES),
})
def scalar_mix_probe(
    data: WordFeatures | torch.Tensor | np.ndarray | Sequence[Encoding],
    labels: Sequence[object],
    *,
    groups: Sequence[object] | None = None,
    test_size: float = 0.25,
    seed: int = 0,
    epochs: int = 100,
    lr: float = 0.02,
    weight_decay: float = 0.0,
    batch_size: int | None = None,
    standardize: bool = True,
    cumulative: bool = True,
    pooling: str = "mean",
    specials: str = "exclude",
) -> ScalarMixResult:
    """Learn one weight per layer with a linear probe: ``softmax(s)``, ``gamma`` and the classifier.

    The probe classifies ``gamma * sum_l softmax(s)_l * h_l`` (ELMo's scalar
    mix, as used by Tenney, Das & Pavlick 2019) with a linear layer; ``s``,
    ``gamma`` and the classifier are trained jointly with Adam on the
    cross-entropy (torch, CPU, seeded). Rows are split once into train and
    test, by group (sentence) when groups are known.

    Parameters
    ----------
    data : WordFeatures, tensor/array ``[n_layers, n, dim]``, or encodings
        As for :func:`probe_layers` (``WordFeatures`` bring their sentences as groups).
    labels : sequence, length ``n``
    groups : sequence, length ``n``, optional
        Group of each row (sentence); defaults to ``data.sentence`` for
        ``WordFeatures``. With groups the split is ``GroupShuffleSplit``, else
        ``ShuffleSplit``.
    test_size : float, default 0.25
        Share of the groups (or rows) held out.
    seed : int, default 0
        Seeds the split, the classifier's initial weights and the minibatches.
    epochs : int, default 100
        Passes over the training rows.
    lr : float, default 0.02
        Adam's learning rate.
    weight_decay : float, default 0.0
        L2 penalty on the classifier's weights.
    batch_size : int or None, default None
        Rows per step; ``None``: full batch.
    standardize : bool, default True
        Z-score every layer's features with the training rows' mean and
        standard deviation first, so no layer weighs more for its scale alone.
    cumulative : bool, default True
        Also train a probe on the mix of layers ``0..l`` for each ``l``
        (Tenney et al.'s cumulative scoring): ``.cumulative``, ``.deltas``,
        ``.expected_layer``.
    pooling, specials
        Sentence pooling when ``data`` are encodings.

    Returns
    -------
    ScalarMixResult
        ``.weights`` ``[n_layers]`` (sum 1), ``.gamma``, ``.center_of_gravity``,
        ``.accuracy``, ``.cumulative``, ``.expected_layer``.
    """
    from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

    x_np, layer_ids, _, classes, y_np, _, g = _probe_inputs(data, labels, groups, pooling, specials)
    n = x_np.shape[1]
    if g is not None:
        if len(np.unique(g)) < 2:
            raise InvalidParameterError("groups must hold at least two groups to split into train and test.")
        train, test = next(GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed).split(
            x_np[0], y_np, g))
    else:
        if n < 2:
            raise InvalidParameterError(f"data must hold at least 2 rows to split; got {n}.")
        train, test = next(ShuffleSplit(n_splits=1, test_size=test_size, random_state=seed).split(x_np[0]))
    if len(train) == 0 or len(test) == 0:
        raise InvalidParameterError(f"test_size={test_size} leaves no rows on one side of the split.")
    x = torch.from_numpy(np.ascontiguousarray(x_np, dtype=np.float32))
    y = torch.from_numpy(y_np.astype(np.int64))
    tr, te = torch.from_numpy(train), torch.from_numpy(test)
    x_tr, x_te = x[:, tr], x[:, te]
    if standardize:
        mu = x_tr.mean(dim=1, keepdim=True)
        sd = x_tr.std(dim=1, keepdim=True).clamp_min(1e-6)
        x_tr, x_te = (x_tr - mu) / sd, (x_te - mu) / sd
    y_tr, y_te = y[tr], y[te]
    opts = {"epochs": epochs, "lr": lr, "weight_decay": weight_decay, "batch_size": batch_size, "seed": seed}
    k = len(classes)
    cum = None
    with _one_thread():
        weights, gamma, acc = _fit_mix(x_tr, y_tr, x_te, y_te, k, **opts)
        if cumulative:
            scores = [_fit_mix(x_tr[: m + 1], y_tr, x_te[: m + 1], y_te, k, **opts)[2]
                      for m in range(x.shape[0] - 1)]
            cum = torch.tensor([*scores, acc], dtype=torch.float32)
    majority = int(torch.bincount(y_tr, minlength=k).argmax())
    return ScalarMixResult(
        weights=weights, gamma=gamma, layer_ids=layer_ids, accuracy=acc,
        chance=float((y_te == majority).float().mean()), cumulative=cum,
        n_train=len(train), n_test=len(test),
    )
