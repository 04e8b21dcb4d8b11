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
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .kernels import PackedLinears, onednn_available, onednn_speedup

if TYPE_CHECKING:  # pragma: no cover
    from .config import Settings

__all__ = ["Encoding", "Encoder"]

logger = logging.getLogger(__name__)

# cpu_linear="auto" switches to oneDNN's kernels only for a clear gain (timings are noisy).
_ONEDNN_MIN_SPEEDUP = 1.1


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


@dataclass
class _Piece:
    """One forward window of one text."""

    text_index: int
    window_index: int
    ids: list[int]
    start: int  # content-token range [start, end) covered by this window
    end: int


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
        ``"torch"``; ``None`` on a GPU or for other dtypes.
    """

    def __init__(self, model: Any, tokenizer: Any, settings: Settings, name: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.name = name
        self.device = next(model.parameters()).device
        config = model.config
        self.n_layers = int(getattr(config, "num_hidden_layers", 0) or config.n_layers)
        self.dim = int(getattr(config, "hidden_size", 0) or config.dim)
        self.max_length = settings.max_length or _model_limit(model, tokenizer)
        positions = _position_limit(model)
        if positions is not None and self.max_length > positions:
            raise ValueError(
                f"max_length={self.max_length} is more than the {positions} positions model "
                f"{name!r} has; use max_length <= {positions} (longer texts are windowed)."
            )
        self.loading_info: dict[str, list[str]] = {}
        self.cpu_linear = self._pick_cpu_linear(getattr(settings, "cpu_linear", "auto"))
        self._packed = PackedLinears(model) if self.cpu_linear == "onednn" else None
        self._uses_token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", [])

    def _pick_cpu_linear(self, choice: str) -> str | None:
        """``"onednn"`` or ``"torch"`` for float32 models on the CPU, ``None`` elsewhere."""
        param = next(self.model.parameters())
        if self.device.type != "cpu" or param.dtype != torch.float32:
            return None
        if choice == "torch":
            return "torch"
        if not onednn_available():
            if choice == "onednn":
                raise ValueError(
                    "cpu_linear='onednn' was asked for, but this PyTorch build has no oneDNN "
                    "packed linear kernels (torch.backends.mkldnn); use cpu_linear='auto' or 'torch'."
                )
            return "torch"
        if choice == "onednn" or onednn_speedup(self.dim) >= _ONEDNN_MIN_SPEEDUP:
            return "onednn"
        return "torch"

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
    ) -> Encoding | list[Encoding]:
        """Run the model once per batch and keep every layer.

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

        Returns
        -------
        Encoding or list of Encoding
            An :class:`Encoding` for a single string, a list for a sequence.
        """
        single = isinstance(texts, str)
        items = [texts] if single else texts
        if not single and (not isinstance(texts, Sequence) or isinstance(texts, (bytes, bytearray))):
            hint = "; decode it first" if isinstance(texts, (bytes, bytearray)) else ""
            raise TypeError(
                f"texts must be a str or a sequence of str; got {type(texts).__name__}{hint}."
            )
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be a str; got {type(t).__name__}.")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}.")
        if not isinstance(attentions, bool):
            raise TypeError(f"attentions must be True or False; got {attentions!r}.")
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False; got {progress!r}.")
        if not items:
            return []
        self._warn_literal_specials(items)
        result = self._encode(list(items), batch_size, attentions, progress)
        return result[0] if single else result

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
        self, texts: list[str], batch_size: int, attentions: bool, progress: bool
    ) -> list[Encoding]:
        batch = _tokenize(self.tokenizer, texts)
        pieces: list[_Piece] = []
        layouts = []
        for i, te in enumerate(batch):
            ids = te.ids
            special = te.special_tokens_mask
            n = len(ids)
            content = [k for k, s in enumerate(special) if not s]
            if content:
                p, q = content[0], content[-1] + 1
            else:  # empty text: only special tokens
                p, q = n, n
            prefix, suffix = ids[:p], ids[q:]
            width = self.max_length - len(prefix) - len(suffix)
            if width < 1:
                raise ValueError(
                    f"max_length={self.max_length} leaves no room for text between the "
                    f"{len(prefix) + len(suffix)} special tokens; use a larger max_length."
                )
            ranges = _plan_windows(q - p, width, self.settings.stride) if q > p else [(0, 0)]
            if attentions and len(ranges) > 1:
                raise ValueError(
                    f"attentions=True needs each text to fit in one window of "
                    f"max_length={self.max_length} tokens; texts[{i}] has {n} tokens. "
                    f"Encode it without attentions, or split the text."
                )
            for w, (a, b) in enumerate(ranges):
                pieces.append(_Piece(i, w, prefix + ids[p + a : p + b] + suffix, a, b))
            layouts.append((p, q, ranges))

        states = self._forward(pieces, batch_size, attentions, progress)

        out = []
        for i, (text, te) in enumerate(zip(texts, batch)):
            p, q, ranges = layouts[i]
            ids = te.ids
            hs, att = self._assemble(i, p, q, len(ids), ranges, states)
            offsets = tuple(te.offsets)
            word_ids = _renumber(te.word_ids)
            spans = _word_spans(word_ids, offsets)
            out.append(
                Encoding(
                    text=text,
                    tokens=tuple(te.tokens),
                    input_ids=torch.tensor(ids, dtype=torch.long),
                    word_ids=word_ids,
                    offsets=offsets,
                    words=tuple(text[s:e] for s, e in spans),
                    hidden_states=hs,
                    attentions=att,
                    n_layers=self.n_layers,
                    windows=_window_spans(p, len(ids), ranges),
                    model_name=self.name,
                    word_spans=spans,
                )
            )
        return out

    def _assemble(
        self,
        i: int,
        p: int,
        q: int,
        n: int,
        ranges: list[tuple[int, int]],
        states: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor | None]],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if len(ranges) == 1:
            return states[(i, 0)]
        first, _ = states[(i, 0)]
        last, _ = states[(i, len(ranges) - 1)]
        hs = first.new_empty((first.shape[0], n, first.shape[2]))
        hs[:, :p] = first[:, :p]
        n_suffix = n - q
        if n_suffix:
            hs[:, q:] = last[:, last.shape[1] - n_suffix :]
        best = _best_window(q - p, ranges)
        for w, (a, _b) in enumerate(ranges):
            pos = torch.nonzero(best == w).squeeze(1)
            if pos.numel():
                win, _ = states[(i, w)]
                hs[:, p + pos] = win[:, p + pos - a]
        return hs, None

    def _forward(
        self,
        pieces: list[_Piece],
        batch_size: int,
        attentions: bool,
        progress: bool,
    ) -> dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor | None]]:
        order = sorted(range(len(pieces)), key=lambda k: len(pieces[k].ids), reverse=True)
        batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="encoding", unit="batch")
        pad = self.tokenizer.pad_token_id
        pad = 0 if pad is None else pad
        device = self.device
        on_gpu = device.type == "cuda"
        states: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor | None]] = {}
        model = self.model
        restore = None
        if attentions and getattr(model.config, "_attn_implementation", "eager") != "eager":
            restore = model.config._attn_implementation
            model.set_attn_implementation("eager")
        try:
            with torch.inference_mode(), self._packed or contextlib.nullcontext():
                for members in batches:
                    lengths = [len(pieces[k].ids) for k in members]
                    width = max(lengths)
                    rows = [pieces[k].ids + [pad] * (width - n) for k, n in zip(members, lengths)]
                    ids = torch.tensor(rows, dtype=torch.long)
                    mask = (torch.arange(width) < torch.tensor(lengths).unsqueeze(1)).long()
                    if on_gpu:  # page-locked host memory lets the copy overlap with work
                        ids, mask = ids.pin_memory(), mask.pin_memory()
                    inputs = {
                        "input_ids": ids.to(device, non_blocking=on_gpu),
                        "attention_mask": mask.to(device, non_blocking=on_gpu),
                    }
                    if self._uses_token_types:
                        inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
                    out = model(
                        **inputs, output_hidden_states=True, output_attentions=attentions,
                        return_dict=True,
                    )
                    hidden = out.hidden_states
                    if not hidden:
                        raise ValueError(
                            f"model {self.name!r} returned no hidden states; bertviz_kit needs an "
                            f"encoder that supports output_hidden_states=True."
                        )
                    # One stack, one dtype cast and one device copy per batch (not per text).
                    layers = _to_host(torch.stack(hidden))  # [L + 1, B, T, D] float32 on CPU
                    att_all = None
                    if attentions:
                        if not out.attentions:
                            raise ValueError(
                                f"model {self.name!r} returned no attention weights; load it "
                                f"with bk.load(..., attentions=True)."
                            )
                        att_all = _to_host(torch.stack(out.attentions))  # [L, B, H, T, T]
                    for r, k in enumerate(members):
                        n = lengths[r]
                        hs = layers[:, r, :n].clone()
                        att = None if att_all is None else att_all[:, r, :, :n, :n].clone()
                        states[(pieces[k].text_index, pieces[k].window_index)] = (hs, att)
        finally:
            if restore is not None:
                model.set_attn_implementation(restore)
        return states


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


def _to_host(x: torch.Tensor) -> torch.Tensor:
    """``x`` as float32 on the CPU; from a GPU, one copy through page-locked memory."""
    if x.device.type == "cpu":
        return x.float()
    x = x.float()
    host = torch.empty(x.shape, dtype=torch.float32, pin_memory=x.device.type == "cuda")
    host.copy_(x, non_blocking=True)
    if x.device.type == "cuda":
        torch.cuda.current_stream(x.device).synchronize()
    return host


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
