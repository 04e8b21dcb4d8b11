"""The data model of one forward pass: :class:`Encoding`, :class:`Encodings` and the :class:`Corpus` contract.

An :class:`Encoding` holds one text's tokens, ids, word ids, character
offsets, words, all hidden states and, when asked, attention weights;
:class:`Encodings` holds many texts in one flat store. Both are made by
:class:`bertviz_kit.Encoder` (``encoder.py``); everything after that
(pooling, similarity, plots, widgets) works on the stored tensors and never
runs the model again.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from ._validation import Instance, Interval, InvalidParameterError, NoneOr, as_index, validate_params

__all__ = ["Encoding", "Encodings", "Corpus", "as_corpus"]

#: Storage dtype names and their torch dtypes: the one table that settings, encoders,
#: stores and loading read (float32 first, the default of :class:`bertviz_kit.Settings`).
TORCH_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16,
                                        "float16": torch.float16}


def dtype_name(dtype: torch.dtype) -> str:
    """The short name of a torch dtype (``torch.float16`` -> ``"float16"``)."""
    return str(dtype).replace("torch.", "")

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
    model_fingerprint : str
        :attr:`bertviz_kit.Encoder.fingerprint` of that model (weights, tokenizer,
        config); empty when unknown. Functions that combine two encodings or corpora
        refuse two different fingerprints.
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
    model_fingerprint: str = ""

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


class Corpus(Sequence[Encoding], abc.ABC):
    """What every multi-text function reads: many texts from one model, read block by block.

    Implemented by :class:`Encodings` (in memory, on any device) and by
    :class:`bertviz_kit.Store` (safetensors shards on disk, memory-mapped). Both
    are sequences whose items are :class:`Encoding` views (no copies), and both
    hand out their texts as flat, token-major :class:`Encodings` blocks through
    :meth:`blocks`, so functions such as :func:`bertviz_kit.sentence_vectors` run
    one vectorised pass per block and use memory bounded by one block.

    An abstract base class: a subclass defines :meth:`blocks`, :meth:`word_counts`,
    ``__getitem__`` and ``__len__`` (instantiating one that lacks any of them raises
    ``TypeError``), and the attributes below; it inherits the rest of the sequence
    behaviour (iteration, ``in``, ``index``, ``count``, ``reversed``).

    Attributes
    ----------
    n_layers : int
        Transformer layers of the model.
    layer_ids : tuple of int
        Model layer of each stored layer (0 = embeddings).
    dim : int
        Width of one hidden state.
    dtype : torch.dtype
        Storage dtype of the hidden states.
    model_name : str
        Name or path of the model.
    model_fingerprint : str
        :attr:`bertviz_kit.Encoder.fingerprint` of the model (empty when unknown).
    """

    n_layers: int
    layer_ids: tuple[int, ...]
    dim: int
    dtype: torch.dtype
    model_name: str
    model_fingerprint: str = ""

    @abc.abstractmethod
    def blocks(self, max_tokens: int | None = None) -> Iterator[tuple[int, Encodings]]:  # pragma: no cover
        """Yield ``(index of the block's first text, block)`` in text order.

        Parameters
        ----------
        max_tokens : int or None, default None
            Most tokens per block (a single longer text is a block of its own); ``None``
            for about 64 MiB of float32 per block.

        Yields
        ------
        tuple of (int, Encodings)
            The index of the block's first text in this corpus, and the block.
        """

    @abc.abstractmethod
    def word_counts(self) -> torch.Tensor:  # pragma: no cover
        """Words per text, read without touching hidden states.

        Returns
        -------
        torch.Tensor
            Int64 tensor ``[n_texts]``.
        """

    @abc.abstractmethod
    def __getitem__(self, i: int) -> Encoding:  # type: ignore[override]  # pragma: no cover
        """Text ``i`` as an :class:`Encoding` (negative ``i`` counts from the end)."""

    @abc.abstractmethod
    def __len__(self) -> int:  # pragma: no cover
        """Number of texts."""

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
    model_fingerprint : str
        :attr:`bertviz_kit.Encoder.fingerprint` of the model (empty when unknown).
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
        model_fingerprint: str = "",
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
        self.model_fingerprint = model_fingerprint
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
        """Width of one hidden state."""
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
        """The torch dtype of the hidden states (the storage dtype chosen at encode time)."""
        return self.hidden.dtype

    @property
    def device(self) -> torch.device:
        """The device holding the hidden states."""
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

    @validate_params({})
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

    @validate_params({"i": Interval(int)})
    def text_tokens(self, i: int) -> tuple[str, ...]:
        """Token strings of text ``i`` (``es[i].tokens`` without building the :class:`Encoding`).

        Parameters
        ----------
        i : int
            Index of the text.

        Returns
        -------
        tuple of str
            Its tokens, special tokens included.
        """
        if self._tokens is not None:
            return tuple(self._tokens[i])
        a, b = int(self.token_starts[i]), int(self.token_starts[i + 1])
        table = self._token_table
        return tuple(table[t] for t in self.input_ids[a:b].tolist())

    @validate_params({"i": Interval(int)})
    def tokens(self, i: int) -> tuple[str, ...]:
        """Deprecated name of :meth:`text_tokens` (``Encoding.tokens`` is an attribute, not a method).

        Parameters
        ----------
        i : int
            Index of the text.

        Returns
        -------
        tuple of str
            ``self.text_tokens(i)``, with a ``FutureWarning``.
        """
        warnings.warn("Encodings.tokens(i) is renamed Encodings.text_tokens(i); tokens(i) will be removed.",
                      FutureWarning, stacklevel=2)
        return self.text_tokens(i)

    @validate_params({"i": Interval(int)})
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
        i = as_index(i)
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
            tokens=self.text_tokens(i),
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
            model_fingerprint=self.model_fingerprint,
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
            model_fingerprint=self.model_fingerprint,
            tokens=None if self._tokens is None else self._tokens[a:b],
            token_table=self._token_table,
            attentions=None if self.attentions is None else self.attentions[a:b],
            windows={k - a: w for k, w in self._windows.items() if a <= k < b},
        )

    @validate_params({"max_tokens": NoneOr(Interval(int, 1), "about 64 MiB of float32 per block")})
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

    @validate_params({"i": Interval(int)})
    def windows(self, i: int) -> tuple[tuple[int, int], ...]:
        """Forward windows of text ``i`` (see :attr:`Encoding.windows`)."""
        return self._windows.get(i, ((0, int(self.lengths[i])),))

    # -- conversions -----------------------------------------------------------
    @validate_params({"device": NoneOr(Instance(str, torch.device, label="a device name or torch.device"), "keep"),
                      "dtype": NoneOr(Instance(torch.dtype, str, label="a torch.dtype or its name"), "keep")})
    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | str | None = None) -> Encodings:
        """A copy with hidden states (and attentions) on ``device`` and/or in ``dtype``."""
        if isinstance(dtype, str):
            if dtype not in TORCH_DTYPES:
                raise InvalidParameterError(
                    f"dtype must be one of {tuple(TORCH_DTYPES)} or a torch.dtype; got {dtype!r}.")
            dtype = TORCH_DTYPES[dtype]
        hidden = self.hidden.to(device=device, dtype=dtype, copy=True)
        att = None if self.attentions is None else [a.to(device=device, dtype=dtype) for a in self.attentions]
        return Encodings(
            texts=self.texts, hidden=hidden, token_starts=self.token_starts.clone(),
            input_ids=self.input_ids.clone(), word_index=self.word_index.clone(), offsets=self.offsets.clone(),
            layer_ids=self.layer_ids, n_layers=self.n_layers, model_name=self.model_name,
            model_fingerprint=self.model_fingerprint,
            tokens=self._tokens, token_table=self._token_table, attentions=att, windows=self._windows,
        )

    @classmethod
    @validate_params({"corpus": Instance(Sequence, label="a list of Encoding"),
                      "name": Instance(str, label="a string")},
                     renamed={"es": "corpus"})
    def from_encodings(cls, corpus: Sequence[Encoding], name: str = "corpus") -> Encodings:
        """Concatenate single-text encodings (one model, same stored layers) into one container (a copy)."""
        if isinstance(corpus, Encodings):
            return corpus
        items = list(corpus)
        if not items:
            raise InvalidParameterError(f"{name} must hold at least one Encoding; got an empty list.")
        first = items[0]
        for i, e in enumerate(items):
            if not isinstance(e, Encoding):
                raise InvalidParameterError(
                    f"{name}[{i}] must be an Encoding (from Encoder.encode); got {type(e).__name__}.")
            check_same_model(first, e, f"{name}[0]", f"{name}[{i}]", f"{name} must come from one model")
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
            model_fingerprint=next((e.model_fingerprint for e in items if e.model_fingerprint), ""),
            tokens=[e.tokens for e in items],
            attentions=None if any(a is None for a in atts) else atts,
            windows={i: e.windows for i, e in enumerate(items) if e.is_windowed},
        )

    def __repr__(self) -> str:
        return (
            f"Encodings(n_texts={len(self)}, n_tokens={self.n_tokens}, "
            f"hidden_states={list(self.hidden_states.shape)}, layer_ids={list(self.layer_ids)}, "
            f"dtype={dtype_name(self.dtype)}, device={str(self.device)!r})"
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
    :class:`Encoding` concatenated (a copy), a single :class:`Encoding` as a corpus of one text."""
    if isinstance(data, Corpus):
        if len(data) == 0:
            raise InvalidParameterError(f"{name} must hold at least one text; got an empty {type(data).__name__}.")
        return data
    if isinstance(data, Encoding):
        return Encodings.from_encodings([data], name)
    if isinstance(data, str) or not isinstance(data, Sequence):
        raise InvalidParameterError(
            f"{name} must be an Encodings (enc.encode(texts)), a Store (bk.open_store), a list of "
            f"Encoding or one Encoding; got {type(data).__name__}."
        )
    return Encodings.from_encodings(data, name)


def model_identity(x: object) -> tuple[str, str]:
    """``(model name, fingerprint)`` of an encoder, encoding, corpus or index (``""`` when unknown)."""
    name = getattr(x, "model_name", None)
    if name is None:
        name = getattr(x, "name", "")
    fp = getattr(x, "model_fingerprint", None)
    if fp is None:
        fp = getattr(x, "fingerprint", "")
    return str(name or ""), str(fp or "")


def describe_model(name: str, fp: str) -> str:
    """A model as an error message names it: its name and short fingerprint."""
    return f"{name!r} (fingerprint {fp[:12] if fp else 'unknown'})"


def check_same_model(a: object, b: object, a_label: str, b_label: str, fix: str = "") -> None:
    """Refuse ``a`` and ``b`` (encoders, encodings, corpora, indexes) made by two different models.

    Two known fingerprints must be equal; an unknown one (an encoding built by hand, a store
    or index written before fingerprints) is accepted. Comparing models on purpose goes through
    the functions documented as cross-model (:func:`bertviz_kit.layer_cka` with ``other``).
    """
    (na, fa), (nb, fb) = model_identity(a), model_identity(b)
    if fa and fb and fa != fb:
        raise InvalidParameterError(
            f"{a_label} comes from model {describe_model(na, fa)} and {b_label} from model "
            f"{describe_model(nb, fb)}: {fix or 'use data made by one model'}."
        )


IS_ENCODING = Instance(Encoding, label="an Encoding (from Encoder.encode)")
#: what a multi-text parameter accepts (the body's :func:`as_corpus` checks the items)
IS_CORPUS = Instance(Corpus, Encoding, list, tuple, label="an Encodings (enc.encode(texts)), a Store "
                     "(bk.open_store), a list of Encoding or one Encoding")


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

