"""Centred kernel alignment (CKA): how alike are two sets of representations of the same examples?

Linear CKA (Kornblith, Norouzi, Lee and Hinton 2019, "Similarity of Neural
Network Representations Revisited") compares two feature matrices ``X [n, d1]``
and ``Y [n, d2]`` whose rows describe the same ``n`` examples (here: words or
tokens), whatever their widths::

    CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)),   K = X X^T,  L = Y Y^T

With linear kernels and centred features ``Xc``, ``Yc`` this is
``||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)``. It is 1 for identical
representations, invariant to orthogonal transforms and isotropic scaling of
either side (not to arbitrary invertible maps), and about 0 for independent ones.

The debiased variant replaces the (biased) HSIC by the unbiased estimator of
Song, Smola, Gretton, Bedo and Borgwardt (2012), as in Kornblith et al.'s code
and in Nguyen, Raghu and Kornblith (2021, "Do Wide and Deep Networks Learn the
Same Things?"). The plain estimator is biased upwards when ``n`` is not much
larger than the widths; the debiased one is not (its values can fall a little
outside [0, 1]).

:func:`layer_cka` compares every pair of stored layers of a corpus, or the
layers of one corpus with those of another encoding of the same texts (say, a
different model), streaming the corpus block by block:

* ``estimator="exact"`` (default) computes the full-batch value, as if every
  word of the corpus were one matrix, from sums that do not grow with the
  corpus: the cross-products ``X^T Y``, ``X^T X``, ``Y^T Y`` and the feature
  sums (and, for the debiased value, the sums of squared row norms and their
  products). Memory is ``O(D^2)`` floats, ``D`` the total width of the stored
  layers, whatever the number of words.
* ``estimator="minibatch"`` is Nguyen et al.'s minibatch CKA: the unbiased
  HSIC is estimated on each minibatch of texts (``batch_texts`` texts, or by
  default each block of the corpus: a store's shard, or a block of an
  in-memory corpus) and the estimates are averaged, weighted by the
  minibatch's number of words, before the ratio is taken. It is what one
  computes when the examples never sit in one matrix; it is a different
  quantity from the full-batch value (the words of a minibatch share fewer
  contexts; the gap grows as minibatches shrink), and it depends on how the
  texts are grouped. Small minibatches are computed from their ``n x n`` Gram
  matrices, large ones from the sums above.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import Boolean, Instance, Interval, InvalidParameterError, NoneOr, Options, validate_params
from ..encoder import check_finite_hidden
from ..encoding import IS_CORPUS, IS_ENCODING, Corpus, Encoding, Encodings, as_corpus
from ..vectors.pooling import SUBWORD_MODES, pool_tokens

__all__ = ["cka", "layer_cka", "CKA_UNITS", "CKA_ESTIMATORS"]

CKA_UNITS = ("word", "token")
CKA_ESTIMATORS = ("exact", "minibatch")


# ---------------------------------------------------------------------------
# Two matrices
# ---------------------------------------------------------------------------

_MATRIX = Instance(torch.Tensor, np.ndarray, list, tuple, label="a tensor or array of numbers [n, dim]")


def _features(x: object, name: str) -> torch.Tensor:
    """``x`` as a float64 matrix ``[n, d]`` (a 1-D input is ``n`` examples of one feature)."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError):
            raise InvalidParameterError(
                f"{name} must be a tensor or array of numbers [n, dim]; got {type(x).__name__}.") from None
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in (
            torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise InvalidParameterError(f"{name} must hold real numbers; got dtype {t.dtype}.")
    if t.ndim == 1:
        t = t.unsqueeze(1)
    if t.ndim != 2:
        raise InvalidParameterError(
            f"{name} must be 2-D [n, dim] (rows are examples) or 1-D [n]; got shape {tuple(t.shape)}.")
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise InvalidParameterError(f"{name} holds NaN or infinite values; CKA needs finite features.")
    return t


def _debias(f: torch.Tensor, s: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, n: int) -> torch.Tensor:
    """``n (n - 3)`` times the unbiased HSIC of two linear kernels, from the centred features'
    ``f = ||Xc^T Yc||^2``, ``s = sum_i |xc_i|^2 |yc_i|^2`` and ``tx = ||Xc||^2``, ``ty = ||Yc||^2``."""
    return f - n / (n - 2) * s + tx * ty / ((n - 1) * (n - 2))


@validate_params({
    "x": _MATRIX,
    "y": _MATRIX,
    "debiased": Boolean(),
})
def cka(x: object, y: object, debiased: bool = False) -> float:
    """Linear CKA between two representations of the same examples.

    Parameters
    ----------
    x : tensor or array, shape ``[n, d1]``
        One row per example (a 1-D ``[n]`` input is one feature).
    y : tensor or array, shape ``[n, d2]``
        The same ``n`` examples, in the same order; ``d2`` may differ from ``d1``.
    debiased : bool, default False
        Use the unbiased HSIC estimator (Song et al. 2012) instead of the
        biased one; needs ``n >= 4``.

    Returns
    -------
    float
        1 for representations equal up to rotation, reflection, isotropic
        scaling and translation; near 0 for unrelated ones.

    Raises
    ------
    ValueError
        For different numbers of rows, fewer than 2 rows (4 when debiased),
        NaN or infinite values, or a side without variance (every row the same).

    Notes
    -----
    Computed in float64 from the centred features, through the ``d x d``
    cross-products when that is cheaper and through the ``n x n`` Gram
    matrices otherwise (many more features than examples).
    """
    xf, yf = _features(x, "x"), _features(y, "y")
    n = xf.shape[0]
    if yf.shape[0] != n:
        raise InvalidParameterError(
            f"x and y must describe the same examples (rows); got {n} rows in x and {yf.shape[0]} in y.")
    need = 4 if debiased else 2
    if n < need:
        raise InvalidParameterError(
            f"{'debiased ' if debiased else ''}CKA needs at least {need} examples (rows); got {n}.")
    xc, yc = _centred_unit(xf, "x"), _centred_unit(yf, "y")
    d1, d2 = xc.shape[1], yc.shape[1]
    if d1 * d2 + d1 * d1 + d2 * d2 <= n * (d1 + d2 + 3):  # feature space is cheaper
        f_xy = (xc.T @ yc).pow(2).sum()
        f_xx = (xc.T @ xc).pow(2).sum()
        f_yy = (yc.T @ yc).pow(2).sum()
    else:  # Gram matrices: ||Xc^T Yc||_F^2 = <Xc Xc^T, Yc Yc^T>
        k, l_ = xc @ xc.T, yc @ yc.T
        f_xy, f_xx, f_yy = (k * l_).sum(), (k * k).sum(), (l_ * l_).sum()
    if debiased:
        rx, ry = xc.pow(2).sum(1), yc.pow(2).sum(1)
        tx, ty = rx.sum(), ry.sum()
        f_xy = _debias(f_xy, rx @ ry, tx, ty, n)
        f_xx = _debias(f_xx, rx @ rx, tx, tx, n)
        f_yy = _debias(f_yy, ry @ ry, ty, ty, n)
    for name, v in (("x", f_xx), ("y", f_yy)):
        _check_norm(float(v), name, debiased)
    return float(f_xy / torch.sqrt(f_xx * f_yy))


def _centred_unit(t: torch.Tensor, name: str) -> torch.Tensor:
    """``t [n, d]`` (finite float64) centred and scaled to unit Frobenius norm; raises for no variance.

    A side is constant when every row equals the first one exactly (a rounded mean would leave
    residues near 1e-17 and a meaningless ratio). Scale goes before centring: dividing by the
    largest ``|value|`` keeps any scale (1e-300 to 1e300) in range for the squares that follow.
    """
    if bool((t == t[0]).all()):
        raise ValueError(f"{name} has no variance (every row is the same): CKA is undefined.")
    t = t / t.abs().max()
    t = t - t.mean(0)
    return t / t.norm()


def _check_norm(v: float, name: str, debiased: bool) -> None:
    tiny = 1e-300
    if debiased and v <= tiny:
        raise ValueError(
            f"the debiased HSIC of {name} with itself is not positive ({v:.3g}): {name} has no variance, "
            f"or too few examples for the unbiased estimator; use more examples or debiased=False.")
    if v <= tiny:
        raise ValueError(f"{name} has no variance (every row is the same): CKA is undefined.")


# ---------------------------------------------------------------------------
# Streaming sums: every layer of X against every layer of Y
# ---------------------------------------------------------------------------

class _Sums:
    """Sums over examples from which the (debiased) HSIC of every pair of layers follows exactly.

    ``P`` has ``lp`` layers of width ``dp`` and ``Q`` ``lq`` layers of width ``dq``; rows
    arrive shifted by a fixed offset per side (near the mean, so that the centring
    corrections stay small in float arithmetic), flattened layer-major ``[n, lp * dp]``.
    ``pairs``: ``"all"`` (every layer of P with every layer of Q), ``"upper"`` (P is Q; layer
    ``i`` with layers ``j >= i``), ``"diag"`` (P is Q; each layer with itself).
    Sums are float64; the per-block products run in the rows' dtype.
    """

    def __init__(self, lp: int, dp: int, lq: int, dq: int, pairs: str, debiased: bool,
                 device: torch.device) -> None:
        self.lp, self.dp, self.lq, self.dq, self.pairs, self.debiased = lp, dp, lq, dq, pairs, debiased
        f64 = {"dtype": torch.float64, "device": device}
        self.n = 0
        self.sp = torch.zeros((lp, dp), **f64)
        self.sq = self.sp if pairs != "all" else torch.zeros((lq, dq), **f64)  # the same tensor when Q is P
        if pairs == "all":
            self.g = torch.zeros((lp * dp, lq * dq), **f64)
        elif pairs == "upper":
            self.rows = [torch.zeros((dp, (lp - i) * dp), **f64) for i in range(lp)]
        else:
            self.g = torch.zeros((lp, dp, dp), **f64)
        if debiased:
            self.ab = torch.zeros((lp, lq), **f64)  # sum_k |p_ki|^2 |q_kj|^2
            self.aq = torch.zeros((lp, lq * dq), **f64)  # sum_k |p_ki|^2 q_kj
            self.sa = torch.zeros(lp, **f64)  # sum_k |p_ki|^2
            # sum_k |q_kj|^2 p_ki and sum_k |q_kj|^2: the same tensors when Q is P
            self.bp = self.aq if pairs != "all" else torch.zeros((lq, lp * dp), **f64)
            self.sb = self.sa if pairs != "all" else torch.zeros(lq, **f64)

    def add(self, p: torch.Tensor, q: torch.Tensor | None = None) -> None:
        """Add rows ``p [n, lp * dp]`` and, for ``"all"``, ``q [n, lq * dq]`` (else Q is P)."""
        n = p.shape[0]
        if n == 0:
            return
        same = self.pairs != "all"
        q = p if same else q
        self.n += n
        self.sp += p.sum(0).double().view(self.lp, self.dp)
        if not same:
            self.sq += q.sum(0).double().view(self.lq, self.dq)
        dp = self.dp
        if self.pairs == "all":
            self.g += (p.T @ q).double()  # type: ignore[union-attr]
        elif self.pairs == "upper":
            for i, row in enumerate(self.rows):
                row += (p[:, i * dp : (i + 1) * dp].T @ p[:, i * dp :]).double()
        else:
            v = p.view(n, self.lp, dp).transpose(0, 1)  # [L, n, d]
            self.g += torch.bmm(v.transpose(1, 2), v).double()
        if self.debiased:
            a = p.view(n, self.lp, dp).pow(2).sum(-1, dtype=torch.float64)  # [n, lp]
            b = a if same else q.view(n, self.lq, self.dq).pow(2).sum(-1, dtype=torch.float64)
            self.ab += a.T @ b
            self.aq += (a.T.to(q.dtype) @ q).double()
            self.sa += a.sum(0)
            if not same:
                self.bp += (b.T.to(p.dtype) @ p).double()
                self.sb += b.sum(0)

    def hsic(self) -> torch.Tensor:
        """``[lp, lq]`` (``[lp]`` for ``"diag"``): ``||Pc_i^T Qc_j||^2`` per pair, or ``n (n - 3)``
        times the unbiased HSIC when debiased. Entries below the diagonal of ``"upper"`` are mirrored."""
        n = self.n
        mp, mq = self.sp / n, self.sq / n
        if self.pairs == "diag":
            out = [self._pair(i, mp[i], mq[i : i + 1], self.g[i].unsqueeze(1), [i]) for i in range(self.lp)]
            return torch.cat(out)
        out = torch.empty((self.lp, self.lq), dtype=torch.float64, device=self.sp.device)
        for i in range(self.lp):
            if self.pairs == "all":
                g = self.g[i * self.dp : (i + 1) * self.dp].view(self.dp, self.lq, self.dq)
                out[i] = self._pair(i, mp[i], mq, g, list(range(self.lq)))
            else:
                g = self.rows[i].view(self.dp, self.lp - i, self.dp)
                out[i, i:] = self._pair(i, mp[i], mq[i:], g, list(range(i, self.lp)))
                out[i + 1 :, i] = out[i, i + 1 :]
        return out

    def _pair(self, i: int, mp: torch.Tensor, mq: torch.Tensor, g: torch.Tensor, cols: list[int]) -> torch.Tensor:
        """Row layer ``i`` (mean ``mp [dp]``) against column layers ``cols`` (means ``mq [k, dq]``,
        uncentred cross sums ``g [dp, k, dq]``): ``[k]``."""
        n = self.n
        c = g - n * mp[:, None, None] * mq[None]  # centred cross-products
        f = c.pow(2).sum((0, 2))
        if not self.debiased:
            return f
        dp, dq = self.dp, self.dq
        cols_t = torch.tensor(cols, device=g.device)
        aq = self.aq[i].view(self.lq, dq)[cols_t]  # [k, dq]
        bp = self.bp.view(self.lq, self.lp, dp)[cols_t, i]  # [k, dp]
        ab, sa, sb = self.ab[i, cols_t], self.sa[i], self.sb[cols_t]
        cp, cq = mp @ mp, mq.pow(2).sum(-1)
        pq = torch.einsum("d,dke,ke->k", mp, g, mq)
        # sum_k |p_k - mp|^2 |q_k - mq|^2, expanded in the uncentred sums
        s = ab - 2 * (aq * mq).sum(-1) - 2 * (bp @ mp) + 4 * pq + cq * sa + cp * sb - 3 * n * cp * cq
        return _debias(f, s, sa - n * cp, sb - n * cq, n)


def _ratio(num: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, debiased: bool,
           names: tuple[str, str], ids: tuple[Sequence[int], Sequence[int]]) -> torch.Tensor:
    for d, name, lids in zip((dx, dy), names, ids):
        for k, v in enumerate(d.tolist()):
            _check_norm(v, f"layer {lids[k]} of {name}", debiased)
    return num / torch.sqrt(dx[:, None] * dy[None, :])


# ---------------------------------------------------------------------------
# A corpus as rows of units (words or tokens) at every stored layer
# ---------------------------------------------------------------------------

@dataclass
class _Chunk:
    """The units of texts ``first:end``: text of each (global index), character span, vectors."""

    first: int
    end: int
    texts: tuple[str, ...]
    text: torch.Tensor  # [n] int64, global text index, non-decreasing
    span: torch.Tensor  # [n, 2] int64
    vecs: torch.Tensor  # [n, L * D] float32

    def split(self, end: int) -> tuple[_Chunk, _Chunk]:
        cut = int(torch.searchsorted(self.text, torch.tensor([end]))[0])
        k = end - self.first
        head = _Chunk(self.first, end, self.texts[:k], self.text[:cut], self.span[:cut], self.vecs[:cut])
        tail = _Chunk(end, self.end, self.texts[k:], self.text[cut:], self.span[cut:], self.vecs[cut:])
        return head, tail


def _word_spans(b: Encodings, n_words: int) -> torch.Tensor:
    """Character span ``[start, end)`` of every word of block ``b``: ``[n_words, 2]``."""
    wg = b.word_group
    real = wg >= 0
    g, off = wg[real], b.offsets[real]
    spans = torch.empty((n_words, 2), dtype=torch.long)
    spans[:, 0] = torch.iinfo(torch.long).max
    spans[:, 1] = torch.iinfo(torch.long).min
    spans[:, 0].scatter_reduce_(0, g, off[:, 0], reduce="amin")
    spans[:, 1].scatter_reduce_(0, g, off[:, 1], reduce="amax")
    return spans


def _chunks(corpus: Corpus, unit: str, subwords: str, spans: bool) -> Iterator[_Chunk]:
    """One :class:`_Chunk` per block of ``corpus``: every word (sub-words pooled) or every
    non-special token, all stored layers concatenated, float32."""
    k = len(corpus.layer_ids)
    for first, b in corpus.blocks():
        check_finite_hidden(b.hidden, b.token_starts, b.layer_ids, first=first)
        if unit == "word":
            n_words = int(b.word_starts[-1])
            vecs = pool_tokens(b.hidden, list(range(k)), "concat", b.word_group, n_words, subwords)
            text = torch.repeat_interleave(torch.arange(len(b)), b.word_counts()) + first
            span = _word_spans(b, n_words) if spans else torch.empty((n_words, 2), dtype=torch.long)
        else:
            keep = b.word_index >= 0
            idx = torch.nonzero(keep).squeeze(1)
            vecs = b.hidden[idx.to(b.hidden.device)].reshape(idx.numel(), k * corpus.dim).float()
            text = b.text_index[keep] + first
            span = b.offsets[keep] if spans else torch.empty((idx.numel(), 2), dtype=torch.long)
        yield _Chunk(first, first + len(b), tuple(b.texts), text, span, vecs)


def _match(a: _Chunk, b: _Chunk) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ``a`` and of ``b`` (same texts) whose units have the same text and character span,
    a unit counting only when its span is unique on both sides: ``(rows of a, rows of b)``."""
    na = a.text.numel()
    keys = torch.cat([torch.cat([a.text[:, None], a.span], 1), torch.cat([b.text[:, None], b.span], 1)])
    if keys.shape[0] == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    _, inv, _ = torch.unique(keys, dim=0, return_inverse=True, return_counts=True)
    m = int(inv.max()) + 1
    ia, ib = inv[:na], inv[na:]
    once = (torch.bincount(ia, minlength=m) == 1) & (torch.bincount(ib, minlength=m) == 1)
    pos_b = torch.full((m,), -1, dtype=torch.long)
    pos_b[ib] = torch.arange(ib.numel())
    rows_a = torch.nonzero(once[ia]).squeeze(1)
    return rows_a, pos_b[ia[rows_a]]


def _aligned(
    x: Iterator[_Chunk], y: Iterator[_Chunk], counts: list[int]
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Zip two corpora's chunks text range by text range; yield ``(first text, text of each aligned
    unit, its rows in x, its rows in y)``.
    ``counts`` collects ``[units of x, units of y, aligned]``. Holds at most one block per side."""
    ca = cb = None
    while True:
        if ca is None or ca.first == ca.end:
            ca = next(x, None)
        if cb is None or cb.first == cb.end:
            cb = next(y, None)
        if ca is None or cb is None:
            return
        end = min(ca.end, cb.end)
        ha, ca = ca.split(end)
        hb, cb = cb.split(end)
        for k, (s, t) in enumerate(zip(ha.texts, hb.texts)):
            if s != t:
                raise InvalidParameterError(
                    f"other must hold the same texts in the same order as corpus; text {ha.first + k} "
                    f"differs: {s[:60]!r} vs {t[:60]!r}.")
        ra, rb = _match(ha, hb)
        counts[0] += ha.text.numel()
        counts[1] += hb.text.numel()
        counts[2] += ra.numel()
        dev = ha.vecs.device
        yield ha.first, ha.text[ra], ha.vecs[ra.to(dev)], hb.vecs[rb.to(hb.vecs.device)].to(dev)


# ---------------------------------------------------------------------------
# Every pair of layers
# ---------------------------------------------------------------------------

def _gram_hsic(x: torch.Tensor, lx: int, dx: int, y: torch.Tensor | None = None, ly: int = 0,
               dy: int = 0) -> list[torch.Tensor]:
    """``n (n - 3)`` times the unbiased HSIC of every pair of layers, from explicit ``n x n`` Gram
    matrices (cheaper than the feature sums for a small minibatch): ``[[lx, lx]]`` for ``x`` with
    itself, or ``[[lx, ly], [lx], [ly]]`` (cross, then each side with itself)."""
    n = x.shape[0]

    def grams(v: torch.Tensor, layers: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        v = v.double().reshape(n, layers, dim).transpose(0, 1)  # [L, n, d]
        v = v - v.mean(1, keepdim=True)  # the estimator ignores centring; it helps the rounding
        k = v @ v.transpose(1, 2)
        k.diagonal(dim1=1, dim2=2).zero_()
        return k.reshape(layers, n * n), k.sum(2)  # flat K~ [L, n^2], row sums [L, n]

    def hsic(ka: torch.Tensor, ra: torch.Tensor, kb: torch.Tensor, rb: torch.Tensor, diag: bool) -> torch.Tensor:
        if diag:
            t, rr, sab = (ka * kb).sum(1), (ra * rb).sum(1), ra.sum(1) * rb.sum(1)
        else:
            t, rr, sab = ka @ kb.T, ra @ rb.T, ra.sum(1)[:, None] * rb.sum(1)[None, :]
        return t + sab / ((n - 1) * (n - 2)) - 2 / (n - 2) * rr

    kx, rx = grams(x, lx, dx)
    if y is None:
        return [hsic(kx, rx, kx, rx, False)]
    ky, ry = grams(y, ly, dy)
    return [hsic(kx, rx, ky, ry, False), hsic(kx, rx, kx, rx, True), hsic(ky, ry, ky, ry, True)]


@dataclass
class _Minibatch:
    """The open minibatch: rows kept while it is small (Gram matrices at the end), else sums."""

    key: object
    xs: list[torch.Tensor]
    ys: list[torch.Tensor]
    n: int = 0
    shift: tuple[torch.Tensor, torch.Tensor | None] | None = None
    sums: list[_Sums] | None = None


class _Accumulator:
    """Full-batch sums (one set), or the unbiased HSIC estimates of successive minibatches
    (summed, each weighted by its size), for CKA of a corpus with itself or with another."""

    def __init__(self, lx: int, dx: int, ly: int | None, dy: int | None, debiased: bool,
                 minibatch: bool, batch_texts: int | None) -> None:
        self.lx, self.dx, self.ly, self.dy = lx, dx, ly, dy
        self.debiased, self.minibatch, self.batch_texts = debiased, minibatch, batch_texts
        self.shift: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self.full: list[_Sums] | None = None
        self.open: _Minibatch | None = None
        self.weighted: list[torch.Tensor] | None = None  # minibatch: sum_b n_b HSIC_b, per part
        self.n = 0  # units seen
        self.batches = 0  # minibatches used
        self.skipped = 0  # units in minibatches of fewer than 4
        # A minibatch up to this many rows keeps its rows and ends with Gram matrices: cheaper than
        # the D x D sums below about L * d / 2 rows, and its float64 Grams stay under 64 MiB.
        widths = lx * dx + (0 if ly is None else ly * dy)  # type: ignore[operator]
        layers = lx + (0 if ly is None else ly)
        self.gram_rows = max(4, min(int(((64 << 20) / (8 * layers)) ** 0.5), widths // 2))

    def _new(self, device: torch.device) -> list[_Sums]:
        d = self.debiased
        if self.ly is None:
            return [_Sums(self.lx, self.dx, self.lx, self.dx, "upper", d, device)]
        return [_Sums(self.lx, self.dx, self.ly, self.dy, "all", d, device),  # type: ignore[arg-type]
                _Sums(self.lx, self.dx, self.lx, self.dx, "diag", d, device),
                _Sums(self.ly, self.dy, self.ly, self.dy, "diag", d, device)]  # type: ignore[arg-type]

    @staticmethod
    def _feed(sums: list[_Sums], shift: tuple[torch.Tensor, torch.Tensor | None], x: torch.Tensor,
              y: torch.Tensor | None) -> None:
        xs = x - shift[0]
        if y is None:
            sums[0].add(xs)
        else:
            ys = y - shift[1]  # type: ignore[operator]
            sums[0].add(xs, ys)
            sums[1].add(xs)
            sums[2].add(ys)

    def add(self, key: object, text: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """Rows ``x`` (and ``y``) of the texts ``text``, from one block (``key`` names it)."""
        if x.shape[0] == 0:
            return
        self.n += x.shape[0]
        if not self.minibatch:
            if self.full is None:
                self.shift = (x.mean(0), None if y is None else y.mean(0))  # near the mean: small corrections
                self.full = self._new(x.device)
            self._feed(self.full, self.shift, x, y)  # type: ignore[arg-type]
        elif self.batch_texts is None:
            self._add(key, x, y)
        else:  # minibatches of batch_texts texts, whatever the block boundaries
            batch = text // self.batch_texts
            cuts = torch.nonzero(batch[1:] != batch[:-1]).squeeze(1) + 1
            bounds = [0, *cuts.tolist(), int(batch.numel())]
            for a, b in zip(bounds[:-1], bounds[1:]):
                self._add(int(batch[a]), x[a:b], None if y is None else y[a:b])

    def _add(self, key: object, x: torch.Tensor, y: torch.Tensor | None) -> None:
        if self.open is None or self.open.key != key:
            self._close()
            self.open = _Minibatch(key, [], [])
        mb = self.open
        mb.n += x.shape[0]
        if mb.sums is not None:
            self._feed(mb.sums, mb.shift, x, y)  # type: ignore[arg-type]
            return
        mb.xs.append(x)
        if y is not None:
            mb.ys.append(y)
        if mb.n > self.gram_rows:  # too big for Gram matrices: switch this minibatch to sums
            bx = torch.cat(mb.xs)
            by = torch.cat(mb.ys) if mb.ys else None
            mb.shift = (bx.mean(0), None if by is None else by.mean(0))
            mb.sums = self._new(bx.device)
            self._feed(mb.sums, mb.shift, bx, by)
            mb.xs, mb.ys = [], []

    def _close(self) -> None:
        """End the open minibatch: add its unbiased HSIC estimates, weighted by its size."""
        mb, self.open = self.open, None
        if mb is None:
            return
        n = mb.n
        if n < 4:
            self.skipped += n
            return
        if mb.sums is not None:
            est = [s.hsic() for s in mb.sums]
        else:
            y = torch.cat(mb.ys) if mb.ys else None
            est = _gram_hsic(torch.cat(mb.xs), self.lx, self.dx, y, self.ly or 0, self.dy or 0)
        est = [e / (n - 3) for e in est]  # n * HSIC_1: hsic() is n (n - 3) HSIC_1
        self.weighted = est if self.weighted is None else [w + e for w, e in zip(self.weighted, est)]
        self.batches += 1

    def result(self, names: tuple[str, str], ids: tuple[Sequence[int], Sequence[int]]) -> torch.Tensor:
        self._close()
        need = 4 if self.debiased else 2
        if self.n < need:
            raise ValueError(f"CKA needs at least {need} {'aligned ' if names[1] == 'other' else ''}units "
                             f"(words or tokens); got {self.n}.")
        if self.minibatch and self.weighted is None:
            raise ValueError(
                f"no minibatch holds the 4 units the unbiased HSIC needs ({self.skipped} units in smaller "
                f"minibatches); use larger minibatches (batch_texts) or estimator='exact'.")
        parts = self.weighted if self.minibatch else [s.hsic() for s in self.full]  # type: ignore[union-attr]
        if self.ly is None:
            m = parts[0]  # type: ignore[index]
            d = torch.diagonal(m).clone()
            return _ratio(m, d, d, self.debiased, names, ids).fill_diagonal_(1.0)
        return _ratio(parts[0], parts[1], parts[2], self.debiased, names, ids)  # type: ignore[index]


def _corpus_arg(data: object, name: str) -> Corpus:
    if isinstance(data, Encoding):
        raise InvalidParameterError(
            f"{name} must be an Encodings (enc.encode(texts)), a Store (bk.open_store) or a list of "
            f"Encoding; got a single Encoding (CKA compares many words: encode several texts).")
    return as_corpus(data, name)


@validate_params({
    "corpus": (IS_CORPUS, IS_ENCODING),
    "other": NoneOr(Instance(Corpus, Encoding, list, tuple, label=IS_CORPUS.label), "corpus with itself"),
    "debiased": Boolean(),
    "unit": Options(CKA_UNITS),
    "subwords": Options(SUBWORD_MODES),
    "estimator": Options(CKA_ESTIMATORS),
    "batch_texts": NoneOr(Interval(int, 1), "one block of the corpus"),
})
def layer_cka(
    corpus: Corpus | Sequence[Encoding],
    other: Corpus | Sequence[Encoding] | None = None,
    debiased: bool = False,
    unit: str = "word",
    subwords: str = "mean",
    *,
    estimator: str = "exact",
    batch_texts: int | None = None,
) -> torch.Tensor:
    """Linear CKA between every pair of stored layers: ``[n_stored_layers, n_stored_layers']``.

    Entry ``[i, j]`` compares layer ``corpus.layer_ids[i]`` with layer
    ``j`` of ``other`` (``other.layer_ids[j]``), or with layer
    ``corpus.layer_ids[j]`` of the same corpus when ``other`` is None (a
    symmetric matrix with ones on the diagonal). Rows of both matrices are
    the same words (or tokens) of the corpus, so CKA asks: do two layers
    arrange the corpus's words alike?

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
        Read block by block (a store shard by shard): memory does not grow
        with the corpus.
    other : Encodings, Store or list of Encoding, optional
        The same texts, in the same order, encoded by another model (or with
        other settings); its layers and width may differ. Words are aligned
        by character span, so models with different tokenizers compare: a
        word counts when both sides have a word with exactly the same span in
        the same text. The others are left out, with a warning that counts
        them; no aligned word at all raises.
    debiased : bool, default False
        Use the unbiased HSIC estimator (Song et al. 2012) in place of the
        biased one. Linear CKA on a few hundred words in 384 dimensions is
        biased upwards; the debiased values are lower and can fall a little
        outside [0, 1].
    unit : {"word", "token"}, default "word"
        Rows are words (sub-word pieces pooled with ``subwords``) or tokens
        (special tokens such as [CLS] and [SEP] left out; with ``other``,
        tokens are aligned by character span like words).
    subwords : {"first", "last", "mean", "sum", "max"}, default "mean"
        How a word's pieces become one vector (``unit="word"``).
    estimator : {"exact", "minibatch"}, default "exact"
        ``"exact"``: the full-batch CKA of all the words, computed in one
        streaming pass from sums of cross-products. Memory is ``O(D^2)`` for a
        total stored width ``D`` and does not depend on the corpus size (for
        MiniLM's 7 layers x 384 about 35 MB; a store extracted with fewer
        layers needs less). ``"minibatch"``: the minibatch CKA of Nguyen,
        Raghu and Kornblith (2021): the unbiased HSIC is estimated on each
        minibatch of texts, the estimates are averaged (weighted by the
        minibatch's number of words), then the ratio is taken; minibatches
        of fewer than 4 words are skipped. It needs ``debiased=True``, differs
        slightly from the full-batch value (more with small minibatches, whose
        words share fewer contexts) and depends on how the texts are grouped.
    batch_texts : int, optional
        Texts per minibatch for ``estimator="minibatch"`` (texts ``0..B-1``,
        ``B..2B-1``, ...). By default each block of the corpus is a minibatch:
        a store's shard (``extract``'s ``shard_size``), or about 64 MiB of
        hidden states of an in-memory corpus; with ``other``, each run of
        texts that one block of each side covers.

    Returns
    -------
    torch.Tensor, float32, shape ``[len(corpus.layer_ids), len(other.layer_ids)]``
        On the device of the corpus's hidden states.

    Raises
    ------
    ValueError
        When the corpora hold different numbers of texts or different texts,
        no word aligns, there are too few words, or a layer has no variance.
    """
    if estimator == "minibatch" and not debiased:
        raise InvalidParameterError(
            "estimator='minibatch' averages unbiased HSIC estimates over blocks (Nguyen et al. 2021) "
            "and needs debiased=True; got debiased=False (use estimator='exact' for the plain CKA).")
    if batch_texts is not None and estimator != "minibatch":
        raise InvalidParameterError(
            f"batch_texts sets the minibatches of estimator='minibatch'; got batch_texts={batch_texts} with "
            f"estimator={estimator!r}.")
    c = _corpus_arg(corpus, "corpus")
    o = None if other is None or other is corpus else _corpus_arg(other, "other")
    if o is not None and len(o) != len(c):
        raise InvalidParameterError(
            f"other must hold the same texts as corpus, in the same order; corpus has {len(c)} texts, "
            f"other has {len(o)}.")
    lx, dx = len(c.layer_ids), c.dim
    minibatch = estimator == "minibatch"
    if o is None:
        acc = _Accumulator(lx, dx, None, None, debiased, minibatch, batch_texts)
        for ch in _chunks(c, unit, subwords, spans=False):
            acc.add(ch.first, ch.text, ch.vecs)
        return acc.result(("corpus", "corpus"), (c.layer_ids, c.layer_ids)).float()
    acc = _Accumulator(lx, dx, len(o.layer_ids), o.dim, debiased, minibatch, batch_texts)
    counts = [0, 0, 0]
    for first, text, xa, ya in _aligned(_chunks(c, unit, subwords, True), _chunks(o, unit, subwords, True),
                                        counts):
        acc.add(first, text, xa, ya)
    if counts[2] == 0:
        raise ValueError(
            f"no {unit} of corpus has a {unit} with the same character span in the same text of other "
            f"({counts[0]} and {counts[1]} {unit}s); check that both hold the same texts.")
    if counts[2] < max(counts[0], counts[1]):
        warnings.warn(
            f"{counts[0] - counts[2]} of {counts[0]} {unit}s of corpus and {counts[1] - counts[2]} of "
            f"{counts[1]} of other have no {unit} with the same character span on the other side "
            f"(the tokenizers split them differently); CKA uses the {counts[2]} aligned {unit}s.",
            UserWarning, stacklevel=2)
    return acc.result(("corpus", "other"), (c.layer_ids, o.layer_ids)).float()
