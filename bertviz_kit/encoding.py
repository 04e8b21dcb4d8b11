"""One forward pass, every layer kept: :class:`Encoding` and :class:`Encoder`.

An :class:`Encoder` wraps a transformers model and its fast tokenizer. Its
:meth:`Encoder.encode` runs the model once per batch (texts grouped by token
length so little time goes to padding) and returns an :class:`Encoding` per
text: tokens, ids, word ids, character offsets, words, all hidden states and,
when asked, attention weights. Everything after that (pooling, similarity,
plots, widgets) works on the stored tensors and never runs the model again.

Texts longer than the model's limit are not truncated: they are encoded in
overlapping windows and each token takes its vectors from the window in which
it has the most context on both sides (see :attr:`Encoding.windows`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .kernels import PackedLinears, choose_cpu_linear, onednn_available
from .validation import Boolean, Instance, Interval, InvalidParameterError, Options, check, stored_layer_ids

if TYPE_CHECKING:  # pragma: no cover
    from .config import Settings

__all__ = ["Encoding", "Encodings", "Corpus", "Encoder", "as_corpus"]

logger = logging.getLogger(__name__)

STORAGE_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True, eq=False, repr=False)
class Encoding:
    """Everything one forward pass tells about one text.

    Attributes
    ----------
    text : str
        The input text, unchanged.
    tokens : tuple of str, length ``n_tokens``
        Token strings, special tokens (``[CLS]``, ``[SEP]``) included.
    input_ids : torch.Tensor, shape ``[n_tokens]``, int64
        Vocabulary ids of ``tokens``.
    word_ids : tuple of (int or None), length ``n_tokens``
        Index into :attr:`words` of the word each token belongs to; ``None``
        for special tokens.
    offsets : tuple of (int, int), length ``n_tokens``
        Character span ``[start, end)`` of each token in :attr:`text`;
        ``(0, 0)`` for special tokens.
    words : tuple of str, length ``n_words``
        The words as the tokenizer's pre-tokenizer split them (punctuation is
        a word of its own), cut from :attr:`text`.
    hidden_states : torch.Tensor, shape ``[n_stored_layers, n_tokens, dim]``
        Hidden states; row ``k`` is model layer ``layer_ids[k]``. Normally all
        ``n_layers + 1`` layers are stored and row 0 is the embedding output.
    attentions : torch.Tensor or None, shape ``[n_layers, n_heads, n_tokens, n_tokens]``
        Attention weights (rows sum to 1), or ``None`` when not requested.
    n_layers : int
        Number of transformer layers of the model (6 for MiniLM-L6, 12 for
        BERT-base).
    layer_ids : tuple of int
        Model layer of each row of :attr:`hidden_states` (0 = embeddings).
    windows : tuple of (int, int)
        Token ranges ``[start, end)`` (indices into :attr:`tokens`) of each
        forward window. One window ``(0, n_tokens)`` for a text that fits the
        model; for a long text, several overlapping ranges of its content
        tokens (each window was run with the text's special tokens, such as
        ``[CLS]`` and ``[SEP]``, around it).
    model_name : str
        Name or path of the model that produced the encoding.
    """

    text: str
    tokens: tuple[str, ...]
    input_ids: torch.Tensor
    word_ids: tuple[int | None, ...]
    offsets: tuple[tuple[int, int], ...]
    words: tuple[str, ...]
    hidden_states: torch.Tensor
    attentions: torch.Tensor | None = None
    n_layers: int = -1
    layer_ids: tuple[int, ...] = ()
    windows: tuple[tuple[int, int], ...] = ()
    model_name: str = ""
    word_spans: tuple[tuple[int, int], ...] = field(default=())

    def __post_init__(self) -> None:
        n_rows = self.hidden_states.shape[0]
        if self.n_layers < 0:
            object.__setattr__(self, "n_layers", n_rows - 1)
        if not self.layer_ids:
            object.__setattr__(self, "layer_ids", tuple(range(n_rows)))
        if len(self.layer_ids) != n_rows:
            raise ValueError(
                f"layer_ids must name one layer per row of hidden_states ({n_rows}); "
                f"got {len(self.layer_ids)}."
            )
        n = len(self.tokens)
        if self.hidden_states.ndim != 3 or self.hidden_states.shape[1] != n:
            raise ValueError(
                f"hidden_states must have shape [layers, {n}, dim]; "
                f"got {tuple(self.hidden_states.shape)}."
            )
        if not self.windows:
            object.__setattr__(self, "windows", ((0, n),))
        if not self.word_spans:
            object.__setattr__(self, "word_spans", _word_spans(self.word_ids, self.offsets))

    # -- sizes -------------------------------------------------------------
    @property
    def n_tokens(self) -> int:
        """Number of tokens, special tokens included."""
        return len(self.tokens)

    @property
    def n_words(self) -> int:
        """Number of words (special tokens are not words)."""
        return len(self.words)

    @property
    def dim(self) -> int:
        """Width of one hidden state (384 for MiniLM, 768 for BERT-base)."""
        return int(self.hidden_states.shape[-1])

    @property
    def special_mask(self) -> torch.Tensor:
        """Bool tensor ``[n_tokens]``: true for special tokens ([CLS], [SEP], ...)."""
        return torch.tensor([w is None for w in self.word_ids], dtype=torch.bool)

    @property
    def word_index(self) -> torch.Tensor:
        """Int64 tensor ``[n_tokens]``: the word of each token, ``-1`` for specials."""
        return torch.tensor([-1 if w is None else w for w in self.word_ids], dtype=torch.long)

    @property
    def is_windowed(self) -> bool:
        """True when the text was longer than the model and encoded in windows."""
        return len(self.windows) > 1

    def by_token(self) -> torch.Tensor:
        """Hidden states as ``[n_tokens, n_stored_layers, dim]`` (the tutorial's reshape).

        A view of :attr:`hidden_states` with the first two axes swapped; it
        shares memory with the encoding, so do not modify it in place.
        """
        return self.hidden_states.permute(1, 0, 2)

    def __repr__(self) -> str:
        att = "None" if self.attentions is None else str(list(self.attentions.shape))
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return (
            f"Encoding(text={text!r}, n_tokens={self.n_tokens}, n_words={self.n_words}, "
            f"hidden_states={list(self.hidden_states.shape)}, attentions={att}, "
            f"windows={len(self.windows)})"
        )


class Corpus(Sequence[Encoding]):
    """What every multi-text function reads: many texts from one model, read block by block.

    Implemented by :class:`Encodings` (in memory, on any device) and by
    :class:`bertviz_kit.Store` (safetensors shards on disk, memory-mapped). Both
    are sequences whose items are :class:`Encoding` views (no copies), and both
    hand out their texts as flat, token-major :class:`Encodings` blocks through
    :meth:`blocks`, so functions such as :func:`bertviz_kit.sentence_vectors` run
    one vectorised pass per block and use memory bounded by one block.
    """

    n_layers: int
    layer_ids: tuple[int, ...]
    dim: int
    model_name: str

    def blocks(self, max_tokens: int | None = None) -> Iterator[tuple[int, Encodings]]:  # pragma: no cover
        """Yield ``(index of the block's first text, block)`` in text order."""
        raise NotImplementedError

    def word_counts(self) -> torch.Tensor:  # pragma: no cover
        """Int64 tensor ``[n_texts]``: words per text (read without touching hidden states)."""
        raise NotImplementedError

    def _block_tokens(self, max_tokens: int | None) -> int:
        """Tokens per block so that a float32 copy of a block's layers stays near 64 MiB."""
        if max_tokens is not None:
            return max(1, int(max_tokens))
        per_token = max(1, len(self.layer_ids) * self.dim * 4)
        return max(256, (64 << 20) // per_token)


class Encodings(Corpus):
    """Many texts' encodings in one flat, token-major batch: a ragged container.

    Returned by :meth:`Encoder.encode` for a list of texts. All texts' tokens
    sit one after another (text order) in :attr:`hidden`; per-text boundaries
    are in :attr:`token_starts`. ``es[i]`` is an :class:`Encoding` whose
    tensors are views of this container (no copy); ``es[a:b]`` is an
    :class:`Encodings` view of a range of texts.

    Attributes
    ----------
    texts : tuple of str, length ``n_texts``
    hidden : torch.Tensor, shape ``[n_tokens_total, n_stored_layers, dim]``
        Hidden states of every token, token-major, in the storage dtype and on
        the device chosen at encode time. :attr:`hidden_states` is the same
        data as ``[n_stored_layers, n_tokens_total, dim]`` (a view).
    token_starts : torch.Tensor, int64, shape ``[n_texts + 1]``
        Text ``i`` owns tokens ``token_starts[i]:token_starts[i + 1]``.
    input_ids : torch.Tensor, int64, shape ``[n_tokens_total]``
    word_index : torch.Tensor, int64, shape ``[n_tokens_total]``
        Index of each token's word within its own text, ``-1`` for special tokens.
    offsets : torch.Tensor, int64, shape ``[n_tokens_total, 2]``
        Character span of each token in its own text (``(0, 0)`` for specials).
    layer_ids : tuple of int
        Model layer of each stored layer (0 = embeddings).
    n_layers : int
        Transformer layers of the model.
    model_name : str
    attentions : list of torch.Tensor or None
        Per text ``[n_layers, n_heads, n_tokens, n_tokens]`` when requested.
    """

    def __init__(
        self,
        *,
        texts: Sequence[str],
        hidden: torch.Tensor,
        token_starts: torch.Tensor,
        input_ids: torch.Tensor,
        word_index: torch.Tensor,
        offsets: torch.Tensor,
        layer_ids: Sequence[int],
        n_layers: int,
        model_name: str = "",
        tokens: Sequence[Sequence[str]] | None = None,
        token_table: Sequence[str] | None = None,
        attentions: Sequence[torch.Tensor] | None = None,
        windows: dict[int, tuple[tuple[int, int], ...]] | None = None,
    ) -> None:
        n = len(texts)
        if hidden.ndim != 3 or hidden.shape[1] != len(layer_ids):
            raise ValueError(
                f"hidden must have shape [tokens, {len(layer_ids)} layers, dim]; got {tuple(hidden.shape)}."
            )
        if token_starts.shape != (n + 1,) or int(token_starts[-1]) - int(token_starts[0]) != hidden.shape[0]:
            raise ValueError(
                f"token_starts must hold {n + 1} boundaries spanning the {hidden.shape[0]} tokens of hidden."
            )
        if tokens is None and token_table is None:
            raise ValueError("Encodings needs tokens (one list per text) or a token_table (id -> token).")
        n_tok = hidden.shape[0]
        for name, t in (("input_ids", input_ids), ("word_index", word_index), ("offsets", offsets)):
            if t.shape[0] != n_tok:
                raise ValueError(f"{name} must hold one entry per token ({n_tok}); got {t.shape[0]}.")
        if tokens is not None and len(tokens) != n:
            raise ValueError(f"tokens must hold one list per text ({n}); got {len(tokens)}.")
        self.texts = tuple(texts)
        self.hidden = hidden
        self.token_starts = token_starts
        self.input_ids = input_ids
        self.word_index = word_index
        self.offsets = offsets
        self.layer_ids = tuple(int(v) for v in layer_ids)
        self.n_layers = int(n_layers)
        self.model_name = model_name
        self.attentions = None if attentions is None else list(attentions)
        self._tokens = None if tokens is None else list(tokens)
        self._token_table = token_table
        self._windows = dict(windows or {})
        self._words: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- sizes ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.texts)

    @property
    def dim(self) -> int:
        return int(self.hidden.shape[-1])

    @property
    def n_tokens(self) -> int:
        """Tokens of all texts together."""
        return int(self.hidden.shape[0])

    @property
    def lengths(self) -> torch.Tensor:
        """Int64 tensor ``[n_texts]``: tokens per text, special tokens included."""
        return self.token_starts[1:] - self.token_starts[:-1]

    @property
    def hidden_states(self) -> torch.Tensor:
        """``[n_stored_layers, n_tokens_total, dim]``: :attr:`hidden` with the first axes swapped (a view)."""
        return self.hidden.transpose(0, 1)

    @property
    def dtype(self) -> torch.dtype:
        return self.hidden.dtype

    @property
    def device(self) -> torch.device:
        return self.hidden.device

    @property
    def nbytes(self) -> int:
        """Bytes held by the hidden states."""
        return self.hidden.numel() * self.hidden.element_size()

    @property
    def text_index(self) -> torch.Tensor:
        """Int64 tensor ``[n_tokens_total]``: the text (0-based, within this container) of each token."""
        return torch.repeat_interleave(torch.arange(len(self)), self.lengths)

    @property
    def special_mask(self) -> torch.Tensor:
        """Bool tensor ``[n_tokens_total]``: true for special tokens."""
        return self.word_index < 0

    def _word_table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(word_starts [n_texts + 1], word_spans [n_words_total, 2])``, computed once."""
        if self._words is None:
            self._words = _word_table(self.word_index, self.offsets, self.text_index, len(self))
        return self._words

    @property
    def word_starts(self) -> torch.Tensor:
        """Int64 tensor ``[n_texts + 1]``: text ``i`` owns words ``word_starts[i]:word_starts[i + 1]``."""
        return self._word_table()[0]

    def word_counts(self) -> torch.Tensor:
        """Int64 tensor ``[n_texts]``: words per text."""
        ws = self.word_starts
        return ws[1:] - ws[:-1]

    @property
    def word_group(self) -> torch.Tensor:
        """Int64 tensor ``[n_tokens_total]``: each token's word numbered across all texts, -1 for specials."""
        first = self.word_starts[:-1]
        return torch.where(self.word_index >= 0, first[self.text_index] + self.word_index,
                           torch.full_like(self.word_index, -1))

    def tokens(self, i: int) -> tuple[str, ...]:
        """Token strings of text ``i``."""
        if self._tokens is not None:
            return tuple(self._tokens[i])
        a, b = int(self.token_starts[i]), int(self.token_starts[i + 1])
        table = self._token_table
        return tuple(table[t] for t in self.input_ids[a:b].tolist())

    def words(self, i: int) -> tuple[str, ...]:
        """Words of text ``i`` (cut from its text by character span)."""
        ws, spans = self._word_table()
        text = self.texts[i]
        return tuple(text[s:e] for s, e in spans[int(ws[i]) : int(ws[i + 1])].tolist())

    # -- sequence of views -----------------------------------------------------
    def __getitem__(self, i: int | slice) -> Encoding | Encodings:  # type: ignore[override]
        n = len(self)
        if isinstance(i, slice):
            a, b, step = i.indices(n)
            if step != 1:
                raise InvalidParameterError(f"Encodings slices must be contiguous (step 1); got step {step}.")
            return self._range(a, max(a, b))
        if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
            raise IndexError(f"index must be an int in [{-n}, {n - 1}] or a slice; got {i!r}.")
        i %= n
        a, b = int(self.token_starts[i]), int(self.token_starts[i + 1])
        a0 = int(self.token_starts[0])
        s, e = a - a0, b - a0
        ws, spans = self._word_table()
        word_spans = tuple(map(tuple, spans[int(ws[i]) : int(ws[i + 1])].tolist()))
        text = self.texts[i]
        wi = self.word_index[s:e].tolist()
        return Encoding(
            text=text,
            tokens=self.tokens(i),
            input_ids=self.input_ids[s:e],
            word_ids=tuple(None if w < 0 else w for w in wi),
            offsets=tuple(map(tuple, self.offsets[s:e].tolist())),
            words=tuple(text[p:q] for p, q in word_spans),
            hidden_states=self.hidden[s:e].transpose(0, 1),
            attentions=None if self.attentions is None else self.attentions[i],
            n_layers=self.n_layers,
            layer_ids=self.layer_ids,
            windows=self._windows.get(i, ((0, e - s),)),
            model_name=self.model_name,
            word_spans=word_spans,
        )

    def __iter__(self) -> Iterator[Encoding]:
        for i in range(len(self)):
            yield self[i]  # type: ignore[misc]

    def _range(self, a: int, b: int) -> Encodings:
        """Texts ``a:b`` as a view (tensors shared with this container)."""
        ts = self.token_starts
        base = int(ts[0])
        s, e = int(ts[a]) - base, int(ts[b]) - base
        return Encodings(
            texts=self.texts[a:b],
            hidden=self.hidden[s:e],
            token_starts=ts[a : b + 1] - int(ts[a]),
            input_ids=self.input_ids[s:e],
            word_index=self.word_index[s:e],
            offsets=self.offsets[s:e],
            layer_ids=self.layer_ids,
            n_layers=self.n_layers,
            model_name=self.model_name,
            tokens=None if self._tokens is None else self._tokens[a:b],
            token_table=self._token_table,
            attentions=None if self.attentions is None else self.attentions[a:b],
            windows={k - a: w for k, w in self._windows.items() if a <= k < b},
        )

    def blocks(self, max_tokens: int | None = None) -> Iterator[tuple[int, Encodings]]:
        """Yield ``(first text index, view)`` over consecutive texts, each view at most
        ``max_tokens`` tokens (a single longer text is a block of its own). Views share memory."""
        limit = self._block_tokens(max_tokens)
        n = len(self)
        if n == 0:
            return
        starts = self.token_starts - self.token_starts[0]
        if int(starts[-1]) <= limit:
            yield 0, self
            return
        a = 0
        while a < n:
            b = int(torch.searchsorted(starts, int(starts[a]) + limit, right=True)) - 1
            b = min(max(b, a + 1), n)
            yield a, self._range(a, b)
            a = b

    def windows(self, i: int) -> tuple[tuple[int, int], ...]:
        """Forward windows of text ``i`` (see :attr:`Encoding.windows`)."""
        return self._windows.get(i, ((0, int(self.lengths[i])),))

    # -- conversions -----------------------------------------------------------
    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | str | None = None) -> Encodings:
        """A copy with hidden states (and attentions) on ``device`` and/or in ``dtype``."""
        if isinstance(dtype, str):
            from .config import DTYPES

            if dtype not in DTYPES:
                raise InvalidParameterError(f"dtype must be one of {DTYPES} or a torch.dtype; got {dtype!r}.")
            dtype = getattr(torch, dtype)
        hidden = self.hidden.to(device=device, dtype=dtype, copy=True)
        att = None if self.attentions is None else [a.to(device=device, dtype=dtype) for a in self.attentions]
        return Encodings(
            texts=self.texts, hidden=hidden, token_starts=self.token_starts.clone(),
            input_ids=self.input_ids.clone(), word_index=self.word_index.clone(), offsets=self.offsets.clone(),
            layer_ids=self.layer_ids, n_layers=self.n_layers, model_name=self.model_name,
            tokens=self._tokens, token_table=self._token_table, attentions=att, windows=self._windows,
        )

    @classmethod
    def from_encodings(cls, es: Sequence[Encoding], name: str = "es") -> Encodings:
        """Concatenate single-text encodings (one model, same stored layers) into one container (a copy)."""
        if isinstance(es, Encodings):
            return es
        items = list(es)
        if not items:
            raise InvalidParameterError(f"{name} must hold at least one Encoding; got an empty list.")
        first = items[0]
        for i, e in enumerate(items):
            if not isinstance(e, Encoding):
                raise InvalidParameterError(
                    f"{name}[{i}] must be an Encoding (from Encoder.encode); got {type(e).__name__}.")
            if (e.layer_ids != first.layer_ids or e.dim != first.dim or e.n_layers != first.n_layers
                    or e.model_name != first.model_name):
                raise InvalidParameterError(
                    f"{name} must come from one model with the same stored layers; {name}[0] has "
                    f"model {first.model_name!r}, layers {first.layer_ids} and dim {first.dim}, {name}[{i}] "
                    f"has model {e.model_name!r}, layers {e.layer_ids} and dim {e.dim}."
                )
        dtype = first.hidden_states.dtype
        hidden = torch.cat([e.hidden_states.transpose(0, 1).to(dtype) for e in items])
        lengths = torch.tensor([e.n_tokens for e in items], dtype=torch.long)
        atts = [e.attentions for e in items]
        return cls(
            texts=[e.text for e in items],
            hidden=hidden,
            token_starts=torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]),
            input_ids=torch.cat([e.input_ids.long().cpu() for e in items]),
            word_index=torch.cat([e.word_index for e in items]),
            offsets=torch.tensor([o for e in items for o in e.offsets], dtype=torch.long).reshape(-1, 2),
            layer_ids=first.layer_ids,
            n_layers=first.n_layers,
            model_name=first.model_name,
            tokens=[e.tokens for e in items],
            attentions=None if any(a is None for a in atts) else atts,
            windows={i: e.windows for i, e in enumerate(items) if e.is_windowed},
        )

    def __repr__(self) -> str:
        return (
            f"Encodings(n_texts={len(self)}, n_tokens={self.n_tokens}, "
            f"hidden_states={list(self.hidden_states.shape)}, layer_ids={list(self.layer_ids)}, "
            f"dtype={str(self.dtype).replace('torch.', '')}, device={str(self.device)!r})"
        )


def _word_table(
    word_index: torch.Tensor, offsets: torch.Tensor, text_index: torch.Tensor, n_texts: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-text word boundaries and every word's character span, vectorised over all tokens."""
    counts = torch.zeros(n_texts, dtype=torch.long)
    real = word_index >= 0
    if bool(real.any()):
        counts.scatter_reduce_(0, text_index[real], word_index[real] + 1, reduce="amax")
    word_starts = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    total = int(word_starts[-1])
    group = word_starts[:-1][text_index[real]] + word_index[real]
    off = offsets[real]
    spans = torch.empty((total, 2), dtype=torch.long)
    spans[:, 0] = torch.iinfo(torch.long).max
    spans[:, 1] = torch.iinfo(torch.long).min
    spans[:, 0].scatter_reduce_(0, group, off[:, 0], reduce="amin")
    spans[:, 1].scatter_reduce_(0, group, off[:, 1], reduce="amax")
    return word_starts, spans


def as_corpus(data: object, name: str = "es") -> Corpus:
    """``data`` as a :class:`Corpus`: :class:`Encodings` and stores as they are, a list of
    :class:`Encoding` concatenated (a copy). A single :class:`Encoding` is refused."""
    if isinstance(data, Corpus):
        if len(data) == 0:
            raise InvalidParameterError(f"{name} must hold at least one text; got an empty {type(data).__name__}.")
        return data
    if isinstance(data, (Encoding, str)) or not isinstance(data, Sequence):
        raise InvalidParameterError(
            f"{name} must be an Encodings (enc.encode(texts)), a Store (bk.open_store) or a list of "
            f"Encoding; got {type(data).__name__}."
        )
    return Encodings.from_encodings(data, name)


IS_ENCODING = Instance(Encoding, label="an Encoding (from Encoder.encode)")


def _word_spans(
    word_ids: Sequence[int | None], offsets: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    spans: dict[int, list[int]] = {}
    for w, (s, e) in zip(word_ids, offsets):
        if w is None:
            continue
        if w in spans:
            spans[w][0] = min(spans[w][0], s)
            spans[w][1] = max(spans[w][1], e)
        else:
            spans[w] = [s, e]
    return tuple((spans[w][0], spans[w][1]) for w in sorted(spans))


def _renumber(word_ids: Sequence[int | None]) -> tuple[int | None, ...]:
    """Map the tokenizer's word ids onto 0..n_words-1 in order of appearance."""
    mapping: dict[int, int] = {}
    out: list[int | None] = []
    for w in word_ids:
        if w is None:
            out.append(None)
        else:
            out.append(mapping.setdefault(w, len(mapping)))
    return tuple(out)


def _plan_windows(n_content: int, width: int, stride: int) -> list[tuple[int, int]]:
    """Content-token ranges of the windows that cover ``n_content`` tokens."""
    if n_content <= width:
        return [(0, n_content)]
    overlap = min(stride, width // 2)
    step = width - overlap
    starts = list(range(0, n_content - width, step))
    starts.append(n_content - width)  # the last window ends with the text
    return [(s, s + width) for s in starts]


def _window_spans(
    p: int, n: int, ranges: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """Token ranges (indices into the whole text's tokens) each window covered."""
    if len(ranges) == 1:
        return ((0, n),)
    return tuple((p + a, p + b) for a, b in ranges)


def _best_window(
    n_content: int, ranges: Sequence[tuple[int, int]]
) -> torch.Tensor:
    """For each content token, the window in which it has the most context."""
    pos = torch.arange(n_content)
    starts = torch.tensor([a for a, _ in ranges]).unsqueeze(1)
    ends = torch.tensor([b for _, b in ranges]).unsqueeze(1)
    context = torch.minimum(pos - starts, ends - 1 - pos).float()
    context[(pos < starts) | (pos >= ends)] = float("-inf")
    return context.argmax(dim=0)


class Encoder:
    """A loaded encoder and its fast tokenizer. Create it with :func:`bertviz_kit.load`.

    Attributes
    ----------
    model : transformers.PreTrainedModel
        The encoder, in eval mode.
    tokenizer : transformers.PreTrainedTokenizerFast
    settings : Settings
    name : str
        The model's name or path.
    device : torch.device
    n_layers : int
        Transformer layers (hidden states per text: ``n_layers + 1``).
    dim : int
        Hidden size.
    max_length : int
        Tokens per forward window, special tokens included.
    loading_info : dict
        transformers' loading report: ``missing_keys`` (newly initialized) and
        ``unexpected_keys`` (checkpoint weights the model did not use).
    cpu_linear : str or None
        Kernels the float32 linear layers run on the CPU during :meth:`encode`:
        ``"onednn"`` (packed oneDNN kernels, see :mod:`bertviz_kit.kernels`) or
        ``"torch"``; ``None`` on a GPU or for other dtypes. ``"auto"`` decides from
        the CPU and the libraries, not by timing (``bertviz_kit.kernels.choose_cpu_linear``).
    cpu_linear_reason : str
        Why those kernels run, e.g. "MKL runs its AVX-512 code on this CPU (...)".
    """

    def __init__(self, model: Any, tokenizer: Any, settings: Settings, name: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.name = name
        config = model.config
        self.n_layers = int(getattr(config, "num_hidden_layers", 0) or config.n_layers)
        self.dim = int(getattr(config, "hidden_size", 0) or config.dim)
        self.max_length = settings.max_length or _model_limit(model, tokenizer)
        positions = _position_limit(model)
        if positions is not None and self.max_length > positions:
            raise InvalidParameterError(
                f"max_length={self.max_length} is more than the {positions} positions model "
                f"{name!r} has; use max_length <= {positions} (longer texts are windowed)."
            )
        self.loading_info: dict[str, list[str]] = {}
        self.cpu_linear, self.cpu_linear_reason = self._pick_cpu_linear(getattr(settings, "cpu_linear", "auto"))
        self._packed = PackedLinears(model) if self.cpu_linear == "onednn" else None
        self._uses_token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", [])
        # encode() switches the model's attention implementation and CPU kernels for the time of a
        # call: one call at a time per encoder, so threads sharing it never see each other's state.
        self._lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)  # locks do not copy or pickle; a copy gets its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    @property
    def device(self) -> torch.device:
        """Where the model's weights are (follows ``model.to(...)``)."""
        return next(self.model.parameters()).device

    def _pick_cpu_linear(self, choice: str) -> tuple[str | None, str]:
        """``("onednn" | "torch", why)`` for float32 models on the CPU, ``(None, why)`` elsewhere."""
        param = next(self.model.parameters())
        if self.device.type != "cpu" or param.dtype != torch.float32:
            return None, "the float32 CPU kernels are not used (another device or dtype)"
        if choice == "torch":
            return "torch", "asked for (cpu_linear='torch')"
        if not onednn_available():
            if choice == "onednn":
                raise InvalidParameterError(
                    "cpu_linear='onednn' was asked for, but this PyTorch build has no oneDNN "
                    "packed linear kernels (torch.backends.mkldnn); use cpu_linear='auto' or 'torch'."
                )
            return "torch", "this PyTorch build has no oneDNN packed linear kernels"
        if choice == "onednn":
            return "onednn", "asked for (cpu_linear='onednn')"
        return choose_cpu_linear()

    def __repr__(self) -> str:
        return (
            f"Encoder(name={self.name!r}, n_layers={self.n_layers}, dim={self.dim}, "
            f"device={str(self.device)!r}, dtype={self.settings.dtype!r}, "
            f"max_length={self.max_length})"
        )

    # ------------------------------------------------------------------
    def encode(
        self,
        texts: str | Sequence[str],
        *,
        batch_size: int = 32,
        attentions: bool = False,
        progress: bool = False,
        layers: Any = None,
        dtype: str = "float32",
        device: str | torch.device | None = None,
    ) -> Encoding | Encodings:
        """Run the model once per batch and keep the chosen layers (default: all).

        Parameters
        ----------
        texts : str or sequence of str
            One text, or many. Empty strings give an encoding with only the
            special tokens and no words.
        batch_size : int, default 32
            Forward windows per batch. Texts are grouped by token length, so
            each batch pads little.
        attentions : bool, default False
            Also return attention weights ``[n_layers, n_heads, n_tokens, n_tokens]``.
            Only for texts that fit in one window.
        progress : bool, default False
            Show a progress bar over batches (``tqdm.auto``).
        layers : None, "all", int, list of int or preset name, default None
            Model layers to keep (0 = embeddings, -1 = the last layer); ``None``
            keeps all ``n_layers + 1``. A preset keeps the layers it names
            (``"sum_last4"`` keeps the last four, uncombined). ``layers=[-1]``
            skips collecting the other layers altogether.
        dtype : {"float32", "bfloat16", "float16"}, default "float32"
            Storage dtype of the kept hidden states (half types halve memory;
            pooling functions still compute in float32).
        device : str or torch.device, optional
            Where the hidden states are kept: ``"cpu"`` (default) or the model's
            GPU (``"cuda"``), where pooling then runs too.

        Returns
        -------
        Encoding or Encodings
            An :class:`Encoding` for a single string; an :class:`Encodings`
            (a sequence of :class:`Encoding` views over one flat tensor) for a
            sequence of strings.
        """
        single = isinstance(texts, str)
        if not single and hasattr(texts, "tolist") and not isinstance(texts, torch.Tensor):
            texts = texts.tolist()  # a numpy array or pandas Series of str
        items = [texts] if single else texts
        if not single and (not isinstance(texts, Sequence) or isinstance(texts, (bytes, bytearray))):
            hint = "; decode it first" if isinstance(texts, (bytes, bytearray)) else ""
            raise InvalidParameterError(
                f"texts must be a str or a sequence of str; got {type(texts).__name__}{hint}."
            )
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise InvalidParameterError(f"texts[{i}] must be a str; got {type(t).__name__}.")
            try:
                t.encode("utf-8")
            except UnicodeEncodeError as err:
                where = "the text" if single else f"texts[{i}]"
                raise InvalidParameterError(
                    f"{where} holds a lone surrogate {t[err.start]!r} at character {err.start}, which is not "
                    f"valid Unicode text (it often comes from decoding bytes with errors='surrogateescape'); "
                    f"decode the bytes with the right encoding, or drop it with "
                    f"text.encode('utf-8', 'replace').decode()."
                ) from None
        check("batch_size", batch_size, Interval(int, 1))
        check("attentions", attentions, Boolean())
        check("progress", progress, Boolean())
        check("dtype", dtype, Options(STORAGE_DTYPES))
        layer_ids = stored_layer_ids(layers, self.n_layers)
        where = _storage_device(device)
        if where.type == "cuda" and self.device.type != "cuda":
            raise InvalidParameterError(
                f"device must be 'cpu' or the model's device ({self.device}); got {str(device)!r}: "
                f"load the model on a GPU (bk.load(device='cuda')) to keep hidden states there."
            )
        if not items:
            return self._empty(layer_ids, getattr(torch, dtype), where)
        self._warn_literal_specials(items)
        result = self._encode(list(items), batch_size, attentions, progress, layer_ids, getattr(torch, dtype), where)
        return result[0] if single else result

    def _empty(self, layer_ids: list[int], dtype: torch.dtype, device: torch.device) -> Encodings:
        return Encodings(
            texts=[], hidden=torch.empty((0, len(layer_ids), self.dim), dtype=dtype, device=device),
            token_starts=torch.zeros(1, dtype=torch.long), input_ids=torch.zeros(0, dtype=torch.long),
            word_index=torch.zeros(0, dtype=torch.long), offsets=torch.zeros((0, 2), dtype=torch.long),
            layer_ids=layer_ids, n_layers=self.n_layers, model_name=self.name, token_table=[],
        )

    def _warn_literal_specials(self, texts: Sequence[str]) -> None:
        """Warn when texts spell out the model's special tokens (the tutorial's "[CLS] " + text + " [SEP]")."""
        specials = [t for t in self.tokenizer.all_special_tokens if t]
        found = sorted({t for text in texts for t in specials if t in text})
        if not found:
            return
        where = [i for i, text in enumerate(texts) if any(t in text for t in found)]
        cls = getattr(self.tokenizer, "cls_token", None) or "[CLS]"
        sep = getattr(self.tokenizer, "sep_token", None) or "[SEP]"
        lead = "the text" if len(texts) == 1 else f"texts {where[:5]}{' ...' if len(where) > 5 else ''}"
        what = "is a special token" if len(found) == 1 else "are special tokens"
        warnings.warn(
            f"{lead}: {', '.join(map(repr, found))} {what} of this model, read as such (not as "
            f"text) and counted as words. encode() adds {cls} and {sep} itself; pass the plain "
            f"sentence (no need for the tutorial's \"{cls} \" + text + \" {sep}\").",
            UserWarning,
            stacklevel=3,
        )

    # ------------------------------------------------------------------
    def _encode(
        self,
        texts: list[str],
        batch_size: int,
        attentions: bool,
        progress: bool,
        layer_ids: list[int],
        dtype: torch.dtype,
        device: torch.device,
    ) -> Encodings:
        from tokenizers import Encoding as _RustEncoding

        rust = _tokenize(self.tokenizer, texts)
        n = len(texts)
        lengths = torch.tensor([len(te) for te in rust], dtype=torch.long)
        merged = _RustEncoding.merge(rust, growing_offsets=False)  # one call per field, not per text
        ids = torch.tensor(merged.ids, dtype=torch.long)
        special = torch.tensor(merged.special_tokens_mask, dtype=torch.bool)
        offsets = torch.tensor(merged.offsets, dtype=torch.long).reshape(-1, 2)
        raw_words = torch.tensor([-1 if w is None else w for w in merged.word_ids], dtype=torch.long)
        starts = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        text_index = torch.repeat_interleave(torch.arange(n), lengths)
        word_index = _renumber_flat(raw_words, text_index, starts, rust)
        plan = _Plan(self, ids, special, starts, lengths, text_index, attentions)
        hidden, att = self._forward(plan, batch_size, attentions, progress, layer_ids, dtype, device)
        if dtype == torch.float16 and not bool(torch.isfinite(hidden).all()):
            raise InvalidParameterError(
                "dtype='float16' cannot hold these hidden states: some exceed its range (65504) and became "
                "infinite; use dtype='bfloat16' (the same memory, float32's range) or 'float32'."
            )
        return Encodings(
            texts=texts,
            hidden=hidden,
            token_starts=starts,
            input_ids=ids,
            word_index=word_index,
            offsets=offsets,
            layer_ids=layer_ids,
            n_layers=self.n_layers,
            model_name=self.name,
            token_table=self.token_table,
            attentions=att,
            windows=plan.windows,
        )

    @property
    def token_table(self) -> list[str]:
        """Token string of every vocabulary id (what the fast tokenizer's encodings show)."""
        backend = self.tokenizer.backend_tokenizer
        size = backend.get_vocab_size(with_added_tokens=True)
        table = getattr(self, "_token_table", None)
        if table is None or size != getattr(self, "_token_table_size", -1):
            vocab = backend.get_vocab(with_added_tokens=True)
            table = [""] * (max(vocab.values(), default=-1) + 1)
            for token, i in vocab.items():
                table[i] = token
            self._token_table, self._token_table_size = table, size
        return table

    def _forward(
        self,
        plan: _Plan,
        batch_size: int,
        attentions: bool,
        progress: bool,
        layer_ids: list[int],
        dtype: torch.dtype,
        device: torch.device,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Run every batch once; write the kept layers of every token straight into one flat
        ``[tokens, layers, dim]`` tensor on ``device`` (no per-text copies)."""
        batches = plan.batches(batch_size)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="encoding", unit="batch")
        pad = self.tokenizer.pad_token_id
        pad = 0 if pad is None else pad
        compute = self.device
        on_gpu = compute.type == "cuda"
        to_host = on_gpu and device.type != compute.type
        hidden = torch.empty((plan.n_tokens, len(layer_ids), self.dim), dtype=dtype, device=device)
        att_out: list[torch.Tensor | None] | None = [None] * plan.n_texts if attentions else None
        last_only = layer_ids == [self.n_layers]
        sink = _HostSink(hidden) if to_host else None
        model = self.model
        with self._lock:  # one call at a time per encoder (see __init__)
            restore = None
            if attentions and getattr(model.config, "_attn_implementation", "eager") != "eager":
                restore = model.config._attn_implementation
                model.set_attn_implementation("eager")
            try:
                with torch.inference_mode(), self._packed or contextlib.nullcontext():
                    for b in batches:
                        ids = plan.ids[b.src.clamp_min(0)]
                        ids[b.src < 0] = pad
                        mask = (b.src >= 0).long()
                        if on_gpu:  # page-locked host memory lets the copy overlap with work
                            ids, mask = ids.pin_memory(), mask.pin_memory()
                        inputs = {
                            "input_ids": ids.to(compute, non_blocking=on_gpu),
                            "attention_mask": mask.to(compute, non_blocking=on_gpu),
                        }
                        if self._uses_token_types:
                            inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
                        out = model(
                            **inputs, output_hidden_states=not last_only, output_attentions=attentions,
                            return_dict=True,
                        )
                        if last_only:
                            layers = [out.last_hidden_state]
                        else:
                            if not out.hidden_states:
                                raise ValueError(
                                    f"model {self.name!r} returned no hidden states; bertviz_kit needs an "
                                    f"encoder that supports output_hidden_states=True."
                                )
                            layers = [out.hidden_states[k] for k in layer_ids]
                        keep = b.keep.to(compute, non_blocking=on_gpu)
                        if sink is not None:  # GPU -> host: one compact [tokens, layers, dim] copy per batch
                            rows = torch.stack(layers, dim=2).flatten(0, 1).index_select(0, keep).to(dtype)
                            sink.put(rows, b.dest)
                        elif on_gpu:  # kept on the GPU: gather and scatter there, layer by layer
                            dest = b.dest.to(device, non_blocking=True)
                            for j, x in enumerate(layers):
                                rows = x.flatten(0, 1).index_select(0, keep)
                                hidden[:, j].index_copy_(0, dest, rows.to(dtype))
                        else:  # on the CPU: slice copies straight from the model's outputs (several
                            # times faster than index_select + index_copy_ here, and no temporaries)
                            flat = [x.flatten(0, 1) for x in layers]
                            for _, n, s, d in b.runs:
                                dst = hidden[d : d + n]
                                for j, x in enumerate(flat):
                                    dst[:, j].copy_(x[s : s + n])
                        if attentions:
                            if not out.attentions:
                                raise ValueError(
                                    f"model {self.name!r} returned no attention weights; load it "
                                    f"with bk.load(..., attentions=True)."
                                )
                            att = torch.stack(out.attentions).to(device=device, dtype=dtype)  # [L, B, H, T, T]
                            for r, (t, k) in enumerate(zip(b.texts, b.lengths.tolist())):
                                att_out[t] = att[:, r, :, :k, :k].clone()  # type: ignore[index]
                    if sink is not None:
                        sink.flush()
            finally:
                if restore is not None:
                    model.set_attn_implementation(restore)
        return hidden, att_out  # type: ignore[return-value]


class _HostSink:
    """GPU -> host copies of each batch's rows into reused page-locked buffers on a side
    stream; the host-side scatter of batch ``k`` runs while the GPU computes batch ``k + 1``.

    The scatter is one ``index_copy_`` per batch, which PyTorch spreads over the host's cores
    (the first write to fresh memory faults pages in, about 1 GB/s per core): on a 16-core
    GPU host it took 13-19% off the time of keeping every layer on the host, compared with
    one slice copy per text (which is what the CPU path uses: faster on a 2-core machine).
    """

    def __init__(self, hidden: torch.Tensor) -> None:
        self.hidden = hidden
        self.stream = torch.cuda.Stream()
        self.buffers: list[torch.Tensor | None] = [None, None]
        self.slot = 0
        self.pending: tuple[Any, torch.Tensor, torch.Tensor] | None = None

    def put(self, rows: torch.Tensor, dest: torch.Tensor) -> None:
        buf = self.buffers[self.slot]
        if buf is None or buf.numel() < rows.numel():
            buf = torch.empty(max(rows.numel(), 1 << 20), dtype=rows.dtype, pin_memory=True)
            self.buffers[self.slot] = buf
        view = buf[: rows.numel()].view(rows.shape)
        self.stream.wait_stream(torch.cuda.current_stream(rows.device))
        with torch.cuda.stream(self.stream):
            view.copy_(rows, non_blocking=True)
            rows.record_stream(self.stream)
            event = torch.cuda.Event()
            event.record(self.stream)
        self.flush()
        self.pending = (event, view, dest)
        self.slot ^= 1

    def flush(self) -> None:
        if self.pending is not None:
            event, view, dest = self.pending
            event.synchronize()
            self.hidden.index_copy_(0, dest, view)  # row k of the batch goes to token dest[k]
            self.pending = None


@dataclass
class _Batch:
    src: torch.Tensor  # [B, W] flat token index feeding each input position, -1 = padding
    keep: torch.Tensor  # [n] positions in the flattened [B * W] output that are stored
    dest: torch.Tensor  # [n] flat token index each kept output goes to
    texts: list[int]  # text of each row (for attentions)
    lengths: torch.Tensor  # [B] real tokens per row
    # (offset into keep, length, source start in [B * W], destination start): stretches where both
    # the kept outputs and their destinations are consecutive (a whole text is one), copied as slices
    runs: list[tuple[int, int, int, int]]


def _runs(keep: torch.Tensor, dest: torch.Tensor) -> list[tuple[int, int, int, int]]:
    n = keep.shape[0]
    if n == 0:
        return []
    brk = torch.ones(n, dtype=torch.bool)
    brk[1:] = (keep[1:] != keep[:-1] + 1) | (dest[1:] != dest[:-1] + 1)
    first = torch.nonzero(brk).squeeze(1)
    length = torch.diff(first, append=torch.tensor([n]))
    return list(zip(first.tolist(), length.tolist(), keep[first].tolist(), dest[first].tolist()))


class _Plan:
    """Forward windows of every text, sorted by length, and where each output token goes."""

    def __init__(
        self,
        encoder: Encoder,
        ids: torch.Tensor,
        special: torch.Tensor,
        starts: torch.Tensor,
        lengths: torch.Tensor,
        text_index: torch.Tensor,
        attentions: bool,
    ) -> None:
        self.ids = ids
        self.starts = starts
        self.n_tokens = int(ids.shape[0])
        self.n_texts = int(lengths.shape[0])
        self.windows: dict[int, tuple[tuple[int, int], ...]] = {}
        limit = encoder.max_length
        long = torch.nonzero(lengths > limit).squeeze(1).tolist()
        # one row per forward window: (length, text, src index tensor or None for a whole text)
        self.rows_len = lengths.clone()
        self.rows_text = torch.arange(self.n_texts)
        self.extra: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # row -> src, keep, dest
        if not long:
            return
        if attentions:
            i = long[0]
            raise InvalidParameterError(
                f"attentions=True needs each text to fit in one window of max_length={limit} tokens; "
                f"texts[{i}] has {int(lengths[i])} tokens. Encode it without attentions, or split the text."
            )
        row_len, row_text = [], []
        whole = torch.ones(self.n_texts, dtype=torch.bool)
        whole[long] = False
        for i in long:
            a0, n = int(starts[i]), int(lengths[i])
            sp = special[a0 : a0 + n]
            content = torch.nonzero(~sp).squeeze(1)
            p, q = int(content[0]), int(content[-1]) + 1
            width = limit - p - (n - q)
            if width < 1:
                raise InvalidParameterError(
                    f"max_length={limit} leaves no room for text between the {p + n - q} special "
                    f"tokens; use a larger max_length."
                )
            ranges = _plan_windows(q - p, width, encoder.settings.stride)
            self.windows[i] = _window_spans(p, n, ranges)
            best = _best_window(q - p, ranges)
            for w, (a, b) in enumerate(ranges):
                local = torch.cat([torch.arange(p), torch.arange(p + a, p + b), torch.arange(q, n)])
                out = torch.zeros(local.shape[0], dtype=torch.bool)
                if w == 0:
                    out[:p] = True
                if w == len(ranges) - 1:
                    out[p + (b - a) :] = True
                out[p : p + (b - a)] = best[a:b] == w
                self.extra[len(row_len)] = (local + a0, torch.nonzero(out).squeeze(1), local[out] + a0)
                row_len.append(local.shape[0])
                row_text.append(i)
        base = int(whole.sum())
        self.extra = {base + k: v for k, v in self.extra.items()}
        self.rows_len = torch.cat([lengths[whole], torch.tensor(row_len, dtype=torch.long)])
        self.rows_text = torch.cat([torch.arange(self.n_texts)[whole], torch.tensor(row_text, dtype=torch.long)])

    def batches(self, batch_size: int) -> list[_Batch]:
        order = torch.argsort(self.rows_len, descending=True, stable=True)
        out = []
        for s in range(0, order.shape[0], batch_size):
            rows = order[s : s + batch_size]
            lens = self.rows_len[rows]
            width = int(lens.max())
            pos = torch.arange(width)
            texts = self.rows_text[rows]
            extra = [int(r) in self.extra for r in rows] if self.extra else []
            if not any(extra):
                first = self.starts[texts]
                valid = pos < lens.unsqueeze(1)
                src = torch.where(valid, first.unsqueeze(1) + pos, torch.full((1,), -1))
                keep = torch.nonzero(valid.flatten()).squeeze(1)
                dest = src.flatten()[keep]
            else:
                src = torch.full((rows.shape[0], width), -1, dtype=torch.long)
                keeps, dests = [], []
                for r, row in enumerate(rows.tolist()):
                    if row in self.extra:
                        s_idx, k_idx, d_idx = self.extra[row]
                    else:
                        t = int(self.rows_text[row])
                        a0 = int(self.starts[t])
                        s_idx = torch.arange(a0, a0 + int(self.rows_len[row]))
                        k_idx, d_idx = torch.arange(s_idx.shape[0]), s_idx
                    src[r, : s_idx.shape[0]] = s_idx
                    keeps.append(k_idx + r * width)
                    dests.append(d_idx)
                keep, dest = torch.cat(keeps), torch.cat(dests)
            out.append(_Batch(src=src, keep=keep, dest=dest, texts=texts.tolist(), lengths=lens,
                              runs=_runs(keep, dest)))
        return out


def _renumber_flat(
    raw: torch.Tensor, text_index: torch.Tensor, starts: torch.Tensor, rust: Sequence[Any]
) -> torch.Tensor:
    """Map the tokenizer's word ids onto 0..n_words-1 per text, in order of appearance, vectorised.

    Word ids that do not rise monotonically within a text (no tokenizer we know does that)
    fall back to the per-text mapping of :func:`_renumber`.
    """
    out = torch.full_like(raw, -1)
    real = torch.nonzero(raw >= 0).squeeze(1)
    if real.numel() == 0:
        return out
    t, w = text_index[real], raw[real]
    key = t * (int(w.max()) + 1) + w
    new_word = torch.ones_like(key, dtype=torch.bool)
    new_word[1:] = key[1:] != key[:-1]
    number = new_word.cumsum(0) - 1  # words numbered across all texts, in order of appearance
    first = torch.full((int(starts.shape[0]) - 1,), number.shape[0], dtype=torch.long)
    first.scatter_reduce_(0, t, number, reduce="amin")
    out[real] = number - first[t]
    backwards = torch.nonzero((key[1:] < key[:-1]) & (t[1:] == t[:-1])).squeeze(1)
    for i in sorted(set(t[backwards + 1].tolist())):  # pragma: no cover - no known tokenizer
        a, b = int(starts[i]), int(starts[i + 1])
        out[a:b] = torch.tensor([-1 if v is None else v for v in _renumber(rust[i].word_ids)])
    return out


def _tokenize(tokenizer: Any, texts: list[str]) -> list[Any]:
    """The fast tokenizer's own encodings of ``texts``, special tokens added, nothing cut.

    What ``tokenizer(texts, truncation=False)`` computes, read straight from the Rust
    encodings (ids, tokens, offsets, word ids, special-token mask) instead of through
    transformers' per-text conversion to Python lists, which costs as much as the
    tokenization itself. Truncation and padding are switched off on the backend as
    transformers does for ``truncation=False, padding=False``.
    """
    backend = tokenizer.backend_tokenizer
    if backend.truncation is not None:
        backend.no_truncation()
    if backend.padding is not None:
        backend.no_padding()
    split = bool(getattr(tokenizer, "split_special_tokens", False))
    if backend.encode_special_tokens != split:
        backend.encode_special_tokens = split
    return backend.encode_batch(texts, add_special_tokens=True)


def _storage_device(device: object) -> torch.device:
    if device is None:
        return torch.device("cpu")
    try:
        return torch.device(device)  # type: ignore[arg-type]
    except (TypeError, RuntimeError):
        raise InvalidParameterError(f"device must be 'cpu', 'cuda' or a torch.device; got {device!r}.") from None


def _model_limit(model: Any, tokenizer: Any) -> int:
    """Tokens the model takes in one pass (special tokens included)."""
    limits = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 100_000:
        limits.append(tok_max)
    pos = _position_limit(model)
    if pos is not None:
        limits.append(pos)
    return min(limits) if limits else 512


def _position_limit(model: Any) -> int | None:
    """Positions the model's embeddings have room for, or ``None`` when unknown."""
    pos = getattr(model.config, "max_position_embeddings", None)
    if not isinstance(pos, int) or pos <= 0:
        return None
    # RoBERTa-style models reserve padding_idx + 1 positions.
    if getattr(model.config, "model_type", "") in {"roberta", "xlm-roberta", "camembert"}:
        pos -= (getattr(model.config, "pad_token_id", 1) or 1) + 1
    return pos
