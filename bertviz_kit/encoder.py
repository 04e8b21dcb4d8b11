"""One forward pass, every layer kept: the :class:`Encoder`, its batching, windows and device pipeline.

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
import math
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ._validation import (
    TEXT,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    Texts,
    check,
    validate_params,
)
from .batching import Batch, Plan
from .encoding import TORCH_DTYPES, Encoding, Encodings
from .fingerprint import model_fingerprint
from .kernels import PackedLinears, choose_cpu_linear, onednn_available
from .layers import Layers, stored_layer_ids

if TYPE_CHECKING:  # pragma: no cover
    from .config import Settings

__all__ = ["Encoder"]

logger = logging.getLogger(__name__)

STORAGE_DTYPES = tuple(TORCH_DTYPES)


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
    fingerprint : str
        16 hex digits naming the model that makes the numbers (weights, tokenizer, config;
        details below); every :class:`~bertviz_kit.Encoding`, :class:`~bertviz_kit.Encodings`,
        store and context index it makes carries it as ``model_fingerprint``.
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
    @property
    def fingerprint(self) -> str:
        """16 hex digits that name this model: weights, tokenizer and config (cheap, cached).

        The same in every process that loads the same model the same way (device and
        the runtime state of the tokenizer play no part; encoding does not change it).
        It hashes:

        * every parameter and buffer's name, shape and dtype, and the bytes of up to
          4096 evenly strided elements of each (another checkpoint, a fine-tuned copy,
          another dtype or a re-initialized layer change it; an edit of a few single
          weights between the sampled ones can go unseen);
        * the tokenizer's vocabulary, normalizer, pre-tokenizer, post-processor and
          added tokens (not its truncation or padding, which encoding sets);
        * the model config (without transformers' own runtime keys).

        The weights part takes about 30 ms for MiniLM or a BERT-base-sized model (hashing
        every byte took 0.26 s and 0.84 s), the tokenizer part about 50 ms (its vocabulary);
        both are cached until a tensor changes (torch's in-place version counters) or the
        vocabulary's size does.
        """
        return model_fingerprint(self.model, self.tokenizer)

    def __repr__(self) -> str:
        return (
            f"Encoder(name={self.name!r}, n_layers={self.n_layers}, dim={self.dim}, "
            f"device={str(self.device)!r}, dtype={self.settings.dtype!r}, "
            f"max_length={self.max_length})"
        )

    # ------------------------------------------------------------------
    @validate_params({
        "texts": Texts(),
        "batch_size": Interval(int, 1),
        "attentions": Boolean(),
        "progress": Boolean(),
        "layers": Layers("self", allow_none=True),
        "dtype": TEXT,
        "device": NoneOr(Instance(str, torch.device, label="a device name or torch.device"), "the model's device"),
    })
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
            pooling functions still compute in float32). float16 holds values up
            to 65504: a layer beyond that raises an error naming the layer and
            its largest ``|value|`` (use bfloat16, float32's range in the same
            memory). Hidden states with NaN or infinite values (a model that
            overflows) raise an error naming the layer and the text.
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
        texts = as_text_list(texts)
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
            return self._empty(layer_ids, TORCH_DTYPES[dtype], where)
        self._warn_literal_specials(items)
        result = self._encode(list(items), batch_size, attentions, progress, layer_ids, TORCH_DTYPES[dtype], where)
        return result[0] if single else result

    def _empty(self, layer_ids: list[int], dtype: torch.dtype, device: torch.device) -> Encodings:
        return Encodings(
            texts=[], hidden=torch.empty((0, len(layer_ids), self.dim), dtype=dtype, device=device),
            token_starts=torch.zeros(1, dtype=torch.long), input_ids=torch.zeros(0, dtype=torch.long),
            word_index=torch.zeros(0, dtype=torch.long), offsets=torch.zeros((0, 2), dtype=torch.long),
            layer_ids=layer_ids, n_layers=self.n_layers, model_name=self.name, token_table=[],
            model_fingerprint=self.fingerprint,
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
        plan = Plan(self.max_length, self.settings.stride, ids, special, starts, lengths, text_index, attentions)
        hidden, att, peak = self._forward(plan, batch_size, attentions, progress, layer_ids, dtype, device)
        check_finite_hidden(hidden, starts, layer_ids, peak)
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
            model_fingerprint=self.fingerprint,
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
        plan: Plan,
        batch_size: int,
        attentions: bool,
        progress: bool,
        layer_ids: list[int],
        dtype: torch.dtype,
        device: torch.device,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None, torch.Tensor | None]:
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
        hidden = torch.empty((plan.n_tokens, len(layer_ids), self.dim), dtype=dtype, device=device)
        att_out: list[torch.Tensor | None] | None = [None] * plan.n_texts if attentions else None
        last_only = layer_ids == [self.n_layers]
        sink = _HostSink(hidden) if on_gpu and device.type != compute.type else None
        # float16 overflows above 65504: keep each layer's largest |value| (before the cast) to say so
        peak = torch.zeros(len(layer_ids), device=compute) if dtype == torch.float16 else None
        # one call at a time per encoder (see __init__)
        with self._lock, _eager_attention(self.model, attentions):
            with torch.inference_mode(), self._packed or contextlib.nullcontext():
                for b in batches:
                    out = self.model(
                        **self._batch_inputs(plan, b, pad, compute), output_hidden_states=not last_only,
                        output_attentions=attentions, return_dict=True,
                    )
                    layers = self._batch_layers(out, layer_ids, last_only)
                    if peak is not None:
                        peak = torch.maximum(peak, torch.stack([x.detach().abs().amax().float() for x in layers]))
                    keep = b.keep.to(compute, non_blocking=on_gpu)
                    if sink is not None:
                        _copy_to_host(sink, layers, keep, b.dest, dtype)
                    elif on_gpu:
                        _copy_on_gpu(hidden, layers, keep, b.dest, dtype)
                    else:
                        _copy_on_cpu(hidden, layers, b.runs)
                    if attentions:
                        self._keep_attentions(out, b, att_out, device, dtype)  # type: ignore[arg-type]
                if sink is not None:
                    sink.flush()
        return hidden, att_out, peak  # type: ignore[return-value]

    def _batch_inputs(self, plan: Plan, b: Batch, pad: int, compute: torch.device) -> dict[str, torch.Tensor]:
        """The model's inputs for batch ``b``, on the ``compute`` device."""
        on_gpu = compute.type == "cuda"
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
        return inputs

    def _batch_layers(self, out: Any, layer_ids: list[int], last_only: bool) -> list[torch.Tensor]:
        """The kept layers of one batch's model output, each ``[batch, length, dim]``."""
        if last_only:
            return [out.last_hidden_state]
        if not out.hidden_states:
            raise ValueError(
                f"model {self.name!r} returned no hidden states; bertviz_kit needs an "
                f"encoder that supports output_hidden_states=True."
            )
        return [out.hidden_states[k] for k in layer_ids]

    def _keep_attentions(
        self, out: Any, b: Batch, att_out: list[torch.Tensor | None], device: torch.device, dtype: torch.dtype
    ) -> None:
        """Each text's ``[L, H, T, T]`` attention weights of batch ``b``, into ``att_out``."""
        if not out.attentions:
            raise ValueError(
                f"model {self.name!r} returned no attention weights; load it "
                f"with bk.load(..., attentions=True)."
            )
        att = torch.stack(out.attentions).to(device=device, dtype=dtype)  # [L, B, H, T, T]
        for r, (t, k) in enumerate(zip(b.texts, b.lengths.tolist())):
            att_out[t] = att[:, r, :, :k, :k].clone()


def as_text_list(texts: Any) -> Any:
    """A NumPy array or pandas Series of str as a list (what :meth:`Encoder.encode` and
    :func:`bertviz_kit.extract` both accept); anything else is returned unchanged."""
    if not isinstance(texts, (str, torch.Tensor)) and hasattr(texts, "tolist"):
        return texts.tolist()
    return texts


def check_finite_hidden(hidden: torch.Tensor, token_starts: torch.Tensor, layer_ids: list[int],
                        peak: torch.Tensor | None = None, first: int = 0) -> None:
    """Raise when hidden states ``[tokens, layers, dim]`` hold NaN or infinite values, naming the
    layer, the first text concerned (``first`` + its index in ``token_starts``) and, for float16
    storage, the largest ``|value|`` (``peak``, per layer, taken before the cast) against
    float16's range.

    Hidden states are checked where they are made (:meth:`Encoder.encode`, hence ``extract``)
    and where a statistic over a corpus or a search would hide a NaN row in its result
    (``anisotropy``, ``intra_similarity``, ``mev_baseline``, ``layer_cka``, ``nearest_contexts``);
    the pooling functions of single texts pass a NaN on to the same row of their result.
    """
    # One reduction first: a NaN or an infinity anywhere makes the sum NaN or infinite, so a finite
    # sum proves every value finite (0.69 -> 0.02 s on 2,000 sentences x 7 layers of MiniLM); a sum
    # that overflows with finite values only sends the check on to the exact scan below.
    if hidden.numel() == 0 or bool(torch.isfinite(hidden.sum(dtype=torch.float32))):
        return
    starts = token_starts - token_starts[0]
    for j, layer in enumerate(layer_ids):
        finite = torch.isfinite(hidden[:, j]).all(-1)
        if bool(finite.all()):
            continue
        row = int((~finite).nonzero()[0, 0])
        text = first + int(torch.searchsorted(starts.cpu(), torch.tensor(row), right=True)) - 1
        top = None if peak is None else float(peak[j])
        if top is not None and math.isfinite(top) and hidden.dtype == torch.float16:
            raise InvalidParameterError(
                f"dtype='float16' cannot hold these hidden states: layer {layer} reaches |value| {top:.4g} "
                f"(first in text {text}), beyond float16's range (65504), and would be stored as inf; use "
                f"dtype='bfloat16' (the same memory, float32's range) or 'float32'."
            )
        raise ValueError(
            f"the hidden states hold NaN or infinite values at layer {layer} (first in text {text}); no "
            f"statistic can use them: check the model's weights and its dtype (a float16 model can "
            f"overflow; load it in float32), or the corpus they came from."
        )


@contextlib.contextmanager
def _eager_attention(model: Any, attentions: bool) -> Iterator[None]:
    """Attention weights need the eager implementation: switch to it for the call, then back."""
    restore = None
    if attentions and getattr(model.config, "_attn_implementation", "eager") != "eager":
        restore = model.config._attn_implementation
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if restore is not None:
            model.set_attn_implementation(restore)


# The three copy paths from a batch's model output into the flat [tokens, layers, dim] store.

def _copy_to_host(sink: _HostSink, layers: list[torch.Tensor], keep: torch.Tensor, dest: torch.Tensor,
                  dtype: torch.dtype) -> None:
    """GPU -> host: one compact ``[tokens, layers, dim]`` copy per batch, scattered by the sink."""
    rows = torch.stack(layers, dim=2).flatten(0, 1).index_select(0, keep).to(dtype)
    sink.put(rows, dest)


def _copy_on_gpu(hidden: torch.Tensor, layers: list[torch.Tensor], keep: torch.Tensor, dest: torch.Tensor,
                 dtype: torch.dtype) -> None:
    """Kept on the GPU: gather and scatter there, layer by layer."""
    dest = dest.to(hidden.device, non_blocking=True)
    for j, x in enumerate(layers):
        rows = x.flatten(0, 1).index_select(0, keep)
        hidden[:, j].index_copy_(0, dest, rows.to(dtype))


STACK_BYTES = 64 << 20  # the largest batch of kept layers stacked before the copy (see _copy_on_cpu)


def _copy_on_cpu(hidden: torch.Tensor, layers: list[torch.Tensor], runs: list[tuple[int, int, int, int]]) -> None:
    """On the CPU: slice copies straight from the model's outputs (several times faster than
    ``index_select`` + ``index_copy_`` here). Where the batch's kept layers take at most
    :data:`STACK_BYTES`, they are first stacked token-major, so each text's rows go over in one
    copy instead of one per layer (MiniLM, 7 layers, 2,000 sentences: copy time 0.49 -> 0.32 s);
    larger batches copy layer by layer, with no temporary."""
    first = layers[0]
    if len(layers) > 1 and first.numel() * len(layers) * first.element_size() <= STACK_BYTES:
        stacked = torch.stack(layers, 2).flatten(0, 1)  # [batch * length, layers, dim]
        for _, n, s, d in runs:
            hidden[d : d + n].copy_(stacked[s : s + n])
        return
    flat = [x.flatten(0, 1) for x in layers]
    for _, n, s, d in runs:
        dst = hidden[d : d + n]
        for j, x in enumerate(flat):
            dst[:, j].copy_(x[s : s + n])


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
