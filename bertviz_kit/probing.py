"""Layer-wise probing: how well does a simple classifier read a label off each layer?

:func:`probe_layers` trains a cross-validated logistic-regression probe
(``StandardScaler`` + ``LogisticRegression`` in a scikit-learn pipeline,
``StratifiedKFold``, all seeded) on the vectors of every layer and returns the
accuracy per layer. A layer where the probe does well holds the information
in a linearly readable form; compare with :attr:`ProbeResult.chance`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .encoding import Corpus, Encoding, as_corpus
from .pooling import POOLING_MODES, SPECIALS_MODES, layer_sentence_vectors
from .validation import Boolean, Interval, InvalidParameterError, Options, validate_params

__all__ = ["ProbeResult", "probe_layers"]


@dataclass(frozen=True, repr=False)
class ProbeResult:
    """Cross-validated probe accuracy at every layer.

    Attributes
    ----------
    mean : torch.Tensor, shape ``[n_layers]``
        Mean accuracy over the folds, one value per probed layer.
    std : torch.Tensor, shape ``[n_layers]``
        Standard deviation over the folds.
    folds : torch.Tensor, shape ``[n_layers, cv]``
        Accuracy of every fold.
    layer_ids : tuple of int
        The layer of each row (0 = embeddings for encodings).
    chance : float
        Accuracy of always predicting the most frequent label.
    """

    mean: torch.Tensor
    std: torch.Tensor
    folds: torch.Tensor
    layer_ids: tuple[int, ...]
    chance: float

    @property
    def best_layer(self) -> int:
        """The layer with the highest mean accuracy (the first one on ties)."""
        return self.layer_ids[int(torch.argmax(self.mean))]

    def __repr__(self) -> str:
        acc = ", ".join(f"{v:.3f}" for v in self.mean.tolist())
        return (f"ProbeResult(layers={self.layer_ids}, mean=[{acc}], cv={self.folds.shape[1]}, "
                f"chance={self.chance:.3f}, best_layer={self.best_layer})")


def _features(
    data: object, pooling: str, specials: str
) -> tuple[np.ndarray, tuple[int, ...]]:
    if isinstance(data, Corpus) or (
        isinstance(data, Sequence) and not isinstance(data, (str, Encoding)) and data
        and all(isinstance(e, Encoding) for e in data)
    ):
        corpus = as_corpus(data, "data")
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
        raise InvalidParameterError(f"data must be an Encodings, a Store, a list of Encoding or a "
                                    f"tensor/array [n_layers, n, dim]; got {type(data).__name__}.")
    if x.ndim != 3:
        raise InvalidParameterError(f"data must have shape [n_layers, n, dim]; got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise InvalidParameterError("data holds NaN or infinite values.")
    return x, tuple(range(x.shape[0]))


@validate_params({
    "cv": Interval(int, 2),
    "seed": Interval(int, 0),
    "C": Interval(float, 0, None, closed="neither"),
    "max_iter": Interval(int, 1),
    "pooling": Options(POOLING_MODES),
    "specials": Options(SPECIALS_MODES),
    "progress": Boolean(),
})
def probe_layers(
    data: Sequence[Encoding] | torch.Tensor | np.ndarray,
    labels: Sequence[object],
    *,
    cv: int = 5,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 2000,
    pooling: str = "mean",
    specials: str = "exclude",
    progress: bool = False,
) -> ProbeResult:
    """Cross-validated logistic-regression probe accuracy at every layer.

    Parameters
    ----------
    data : list of Encoding, or tensor/array ``[n_layers, n, dim]``
        Encodings (one per text; their sentence vectors at every stored layer
        are probed, pooled with ``pooling`` and ``specials``) or ready-made
        per-layer features, e.g. :func:`bertviz_kit.layer_occurrence_vectors`
        to probe one word's occurrences.
    labels : sequence, length ``n``
        One label per text / row (str, int or bool); at least two classes,
        each with at least ``cv`` members.
    cv : int, default 5
        Folds of the ``StratifiedKFold`` (shuffled with ``seed``).
    seed : int, default 0
        Seeds the folds and the classifier.
    C : float, default 1.0
        Inverse L2 regularization strength of ``LogisticRegression``.
    max_iter : int, default 2000
    pooling : {"mean", "cls", "max"}, default "mean"
    specials : {"exclude", "include"}, default "exclude"
    progress : bool, default False
        Show a progress bar over layers (``tqdm.auto``).

    Returns
    -------
    ProbeResult
        ``.mean`` and ``.std`` ``[n_layers]``, ``.folds`` ``[n_layers, cv]``,
        ``.layer_ids``, ``.chance``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray, torch.Tensor)):
        raise InvalidParameterError(f"labels must be a sequence with one label per row; got {type(labels).__name__}.")
    y = np.asarray(labels.tolist() if isinstance(labels, torch.Tensor) else list(labels))
    x, layer_ids = _features(data, pooling, specials)
    if y.ndim != 1 or len(y) != x.shape[1]:
        raise InvalidParameterError(f"labels must hold one label per row: {x.shape[1]}; got {len(y)}.")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise InvalidParameterError(f"labels must hold at least two classes; got only {classes.tolist()}.")
    if counts.min() < cv:
        small = classes[counts.argmin()]
        raise InvalidParameterError(
            f"every class needs at least cv={cv} members for StratifiedKFold; class {small!r} "
            f"has {counts.min()}. Use a smaller cv or more data."
        )
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    layers = range(x.shape[0])
    if progress:
        from tqdm.auto import tqdm

        layers = tqdm(layers, desc="probing", unit="layer")
    scores = []
    for k in layers:
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
        scores.append(cross_val_score(probe, x[k], y, cv=folds, scoring="accuracy"))
    s = torch.tensor(np.array(scores), dtype=torch.float32)
    return ProbeResult(
        mean=s.mean(dim=1), std=s.std(dim=1, correction=0), folds=s, layer_ids=layer_ids,
        chance=float(counts.max() / counts.sum()),
    )
