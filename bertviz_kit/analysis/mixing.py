"""Context mixing: how much each token's representation draws on every other token, layer by layer.

Attention weights say how a head distributes its probability mass, not how
much of each token ends up in the output. :func:`context_mixing` measures the
mixing with six methods, all returned as ``[n_layers, n, n]`` matrices whose
**row** ``i`` is the receiving token (the one being updated) and **column**
``j`` the source token, as in the papers:

``"attention"``
    The attention weights, heads averaged.
``"rollout"``
    Attention rollout (Abnar and Zuidema 2020), as :func:`bertviz_kit.attention_rollout`:
    ``0.5 * A + 0.5 * I`` per layer (heads averaged), rows renormalised, layers
    multiplied. Row ``i`` of layer ``l`` mixes the *input* tokens.
``"norm"``
    Kobayashi et al. (2020), "Attention is Not Only a Weight": the norm of what
    token ``j`` adds to token ``i`` through the attention, heads summed,
    ``|| sum_h alpha^h_ij f^h(x_j) ||`` with ``f^h(x) = (x W^h_V + b^h_V) W^h_O``
    (value map and output projection of head ``h``; the output bias is no one's).
``"norm_res_ln"``
    Kobayashi et al. (2021), "Incorporating Residual and Normalization Layers
    into Analysis of Masked Language Models": the same vectors with the residual
    added to the token's own term and the LayerNorm decomposed over the sum,
    ``|| g_i(sum_h alpha^h_ij f^h(x_j) + [i = j] x_i) ||`` with
    ``g_i(z) = (z - mean(z)) / s_i * gamma`` and ``s_i`` the standard deviation
    (eps included) of token ``i``'s whole LayerNorm input.
``"alti"``
    Ferrando, Gallego and Costa-jussà (2022), "Measuring the Mixing of Contextual
    Information in the Transformer": with ``T_i(x_j)`` the vectors of
    ``"norm_res_ln"`` (before the norm) and ``y_i = sum_j T_i(x_j)``, the
    contribution ``c_ij = max(0, ||y_i||_1 - ||y_i - T_i(x_j)||_1)``, rows
    normalised to sum to 1, then aggregated across layers as in rollout
    (``R_1 = C_1``, ``R_l = C_l @ R_{l-1}``): row ``i`` of layer ``l`` mixes the input tokens.
``"value_zeroing"``
    Mohebbi et al. (2023), "Quantifying Context Mixing in Transformers": the
    layer is run again with token ``j``'s value vectors zeroed in every head
    (everything else as in the model: residual, LayerNorms, feed-forward), and
    ``C_ij = 1 - cos(y_i, y_i^{not j})`` compares token ``i``'s output with the
    original; rows normalised to sum to 1. One batched pass of the layer per
    layer: the ``n`` zeroed copies are stacked in one batch.

On ModernBERT (pre-LayerNorm layers: ``h = x + attn(norm(x))``, no LayerNorm
after the residual sum), ``"norm"`` takes the value vectors of the normed input
and the output projection ``Wo`` (the value map ``f^h`` then includes the
per-token norm before the attention); ``"alti"`` is its pre-LayerNorm form,
``T_i(x_j) = sum_h alpha^h_ij f^h(x_j)
+ [i = j] x_i`` with the raw residual ``x_i`` and no LayerNorm to decompose,
then the same contributions, row normalisation and aggregation (the pre-LayerNorm
form of Ferrando et al. 2023, "Explaining How Transformers Use Context to Build
Predictions");
``"value_zeroing"`` zeroes the value part of the fused ``Wqkv`` projection's
output and compares the layer module's output (the residual stream before the
model's final norm); ``"attention"`` and ``"rollout"`` read the probabilities
(zero beyond the sliding window of its local layers). ``"norm_res_ln"``
decomposes the LayerNorm *after* the residual sum of a post-LayerNorm layer, which
a pre-LayerNorm layer does not have, and raises
:class:`~bertviz_kit.InvalidParameterError` there (:data:`PRE_LN_METHODS` lists
what runs on a pre-LayerNorm model).

``level="word"`` applies the rule of :func:`bertviz_kit.word_attention` to
every layer's matrix (sum over a source word's pieces, mean over a receiving
word's pieces; special tokens stay units of their own), before the
aggregation of ``"rollout"`` and ``"alti"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from .._validation import Instance, Interval, InvalidParameterError, NoneOr, Options, check, validate_params
from ..encoder import Encoder
from ..encoding import IS_ENCODING, Encoding
from ..vectors.addressing import attention_units
from .attention import word_attention
from .internals import capture, check_pair, eager_eval, layer_module, layout_of, model_lock, n_heads_of, small_work

__all__ = ["MIXING_METHODS", "PRE_LN_METHODS", "MixingResult", "context_mixing", "mixing_agreement"]

#: The methods of :func:`context_mixing`, in the order of the module docstring.
MIXING_METHODS = ("attention", "rollout", "norm", "norm_res_ln", "alti", "value_zeroing")
#: The methods defined on a pre-LayerNorm model (ModernBERT): the others decompose a LayerNorm after the residual.
PRE_LN_METHODS = ("attention", "rollout", "norm", "alti", "value_zeroing")
_AGGREGATED = ("rollout", "alti")


@dataclass(frozen=True, eq=False, repr=False)
class MixingResult:
    """Context mixing of one text by one method (what :func:`context_mixing` returns).

    Attributes
    ----------
    method : str
        One of :data:`MIXING_METHODS`.
    scores : torch.Tensor, float32 ``[n_layers, n, n]``
        ``scores[l, i, j]``: how much the representation of unit ``i`` (row: the receiving token
        or word) after transformer layer ``l + 1`` draws on unit ``j`` (column: the source).
        For ``"rollout"`` and ``"alti"`` the sources are the *input* tokens (aggregated across
        layers ``1 .. l + 1``); for the others, the layer's own input.
    labels : tuple of str, length ``n``
        Row and column labels: ``e.tokens``, or :func:`bertviz_kit.attention_units` for words.
    level : str
        ``"token"`` or ``"word"``.
    specials : str
        ``"include"`` or ``"exclude"`` (special tokens' rows and columns dropped, not renormalised).
    aggregated : bool
        True where the layers were multiplied through (``"rollout"``, ``"alti"``).
    """

    method: str
    scores: torch.Tensor
    labels: tuple[str, ...]
    level: str
    specials: str
    aggregated: bool

    @property
    def n_layers(self) -> int:
        """Transformer layers scored (the first axis of ``scores``)."""
        return int(self.scores.shape[0])

    def __repr__(self) -> str:
        return (f"MixingResult(method={self.method!r}, level={self.level!r}, scores={list(self.scores.shape)}, "
                f"aggregated={self.aggregated})")


def _rollout(mats: torch.Tensor) -> torch.Tensor:
    """``[L, n, n]`` -> ``R_1 = M_1, R_l = M_l @ R_{l-1}``."""
    out = torch.empty_like(mats)
    out[0] = mats[0]
    for k in range(1, mats.shape[0]):
        out[k] = mats[k] @ out[k - 1]
    return out


def _row_normalise(x: torch.Tensor) -> torch.Tensor:
    total = x.sum(-1, keepdim=True)
    return x / torch.where(total > 0, total, torch.ones_like(total))


def _mixed_vectors(d: dict[str, torch.Tensor], w_out: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``[T, T, D]``: ``sum_h alpha^h_ij f^h(x_j)`` for every receiving ``i`` and source ``j``."""
    t, width = d["value"].shape
    v = d["value"].reshape(t, n_heads, width // n_heads)  # [T, H, d]: x_j W_V + b_V, per head
    w = w_out.reshape(w_out.shape[0], n_heads, width // n_heads)  # [D, H, d]
    fx = torch.einsum("thd,ohd->hto", v, w)  # [H, T, D]: f^h(x_j)
    return torch.einsum("hij,hjo->ijo", d["attention"], fx)


def _with_residual(mixed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``[T, T, D]``: ``mixed_ij + [i = j] x_i`` (the residual joins the token's own term)."""
    z = mixed.clone()
    idx = torch.arange(z.shape[0])
    z[idx, idx] += x
    return z


def _ln_parts(d: dict[str, torch.Tensor], mixed: torch.Tensor, ln: Any) -> torch.Tensor:
    """``[T, T, D]``: ``g_i(mixed_ij + [i = j] x_i)``, the LayerNorm decomposed over the sum's parts."""
    z = _with_residual(mixed, d["input"])
    pre = d["ln1_in"]  # the whole LayerNorm input (biases included) gives each token's scale
    s = torch.sqrt(pre.var(-1, unbiased=False) + ln.eps)  # [T]
    gamma = ln.weight.detach().float().cpu()
    return (z - z.mean(-1, keepdim=True)) / s.view(-1, 1, 1) * gamma


def _alti(parts: torch.Tensor) -> torch.Tensor:
    y = parts.sum(1)  # [T, D]
    dist = (y.unsqueeze(1) - parts).abs().sum(-1)  # [T, T]: ||y_i - T_i(x_j)||_1
    c = (y.abs().sum(-1, keepdim=True) - dist).clamp_min(0)
    return _row_normalise(c)


def _norm_based(method: str, store: dict[int, dict[str, torch.Tensor]], enc: Encoder) -> torch.Tensor:
    model = enc.model
    layout = layout_of(model)
    h = n_heads_of(model)
    out = []
    for k in sorted(store):
        mod = layer_module(model, layout, k)
        w_out = mod.get_submodule(layout.out_proj).weight.detach().float().cpu()
        mixed = _mixed_vectors(store[k], w_out, h)
        if method == "norm":
            out.append(mixed.norm(dim=-1))
            continue
        if layout.pre_ln is not None:  # ALTI of a pre-LayerNorm layer: no LayerNorm after the residual sum
            out.append(_alti(_with_residual(mixed, store[k]["input"])))
            continue
        parts = _ln_parts(store[k], mixed, mod.get_submodule(layout.ln1))
        out.append(parts.norm(dim=-1) if method == "norm_res_ln" else _alti(parts))
    return torch.stack(out)


def _value_zeroing(store: dict[int, dict[str, torch.Tensor]], enc: Encoder, batch_size: int) -> torch.Tensor:
    """``[L, T, T]``: one batched pass of each layer with one token's values zeroed per copy."""
    model = enc.model
    layout = layout_of(model)
    dev = enc.device
    dtype = next(model.parameters()).dtype
    out = []
    for k in sorted(store):
        x, y = store[k]["input"], store[k]["ln2"]
        args, kwargs = store[k]["call"]  # the layer's other arguments (mask, DeBERTa's relative positions)
        n = x.shape[0]
        mod = layer_module(model, layout, k)
        keep = torch.ones(n, n, 1, dtype=dtype, device=dev)
        rows: list[torch.Tensor] = []
        for a in range(0, n, batch_size):
            zeroed = torch.arange(a, min(n, a + batch_size))
            mask = keep[zeroed].clone()
            mask[torch.arange(len(zeroed)), zeroed] = 0  # copy b zeroes the value vectors of token zeroed[b]
            with model_lock(enc):  # the hook lives on the shared model: no other call of it runs meanwhile
                hook = _zero_values(mod, layout, mask)
                try:
                    with eager_eval(model), torch.inference_mode():
                        batch = x.to(device=dev, dtype=dtype).expand(len(zeroed), n, -1).contiguous()
                        res = mod(batch, *_batched(args, len(zeroed)), **kwargs)
                finally:
                    hook.remove()
            rows.append((res[0] if isinstance(res, tuple) else res).float().cpu())
        changed = torch.cat(rows)  # [T zeroed j, T receiving i, D]
        # 1 - cos(a, b) as ||a/|a| - b/|b|||^2 / 2: the same number without the cancellation of 1 - cos near 1
        unit = torch.nn.functional.normalize
        dist = 0.5 * (unit(changed, dim=-1) - unit(y, dim=-1).unsqueeze(0)).square().sum(-1)  # [j, i]
        out.append(_row_normalise(dist.T))
    return torch.stack(out)


def _zero_values(mod: torch.nn.Module, layout: Any, mask: torch.Tensor) -> Any:
    """A hook on layer ``mod`` that multiplies its value vectors by ``mask`` ``[B, T, 1]``; its handle.

    A fused query-key-value projection (ModernBERT) has the values in the last third of its output."""
    if not layout.fused_qkv:
        return mod.get_submodule(layout.value).register_forward_hook(lambda m, i, o: o * mask)

    def hook(m: Any, i: Any, o: torch.Tensor) -> torch.Tensor:
        q, k, v = o.chunk(3, dim=-1)
        return torch.cat((q, k, v * mask), dim=-1)
    return mod.get_submodule(layout.query).register_forward_hook(hook)


def _batched(args: tuple[Any, ...], size: int) -> tuple[Any, ...]:
    """The layer's positional arguments after the hidden states for a batch of ``size``: the attention
    mask (the first, when it is a tensor of batch 1) repeated, the rest as the model passed them."""
    if args and isinstance(args[0], torch.Tensor) and args[0].ndim >= 2 and args[0].shape[0] == 1:
        return (args[0].expand(size, *args[0].shape[1:]), *args[1:])
    return args


def _attention_rollout_input(e: Encoding, enc: Encoder | None, method: str) -> torch.Tensor:
    """Heads-averaged attention ``[L, T, T]`` from ``e.attentions`` or, without them, from ``enc``."""
    if e.attentions is not None and enc is None:
        return e.attentions.float().mean(1)
    if enc is None:
        raise InvalidParameterError(
            f"method={method!r} needs attention weights: encode with enc.encode(text, attentions=True) or pass "
            "enc= (the encoder that produced e).")
    store, _ = capture(enc, e, list(range(1, enc.n_layers + 1)))
    return torch.stack([store[k]["attention"].mean(0) for k in sorted(store)])


def _unit_special(e: Encoding) -> torch.Tensor:
    """Special flag of each unit of :func:`bertviz_kit.attention_units` ``(e, "include")``."""
    flags, prev = [], object()
    for w in e.word_ids:
        if w is None or w != prev:
            flags.append(w is None)
        prev = w if w is not None else object()
    return torch.tensor(flags, dtype=torch.bool)


def _per_layer(e: Encoding, method: str, enc: Encoder | None, batch_size: int) -> torch.Tensor:
    if method in ("attention", "rollout"):
        return _attention_rollout_input(e, enc, method)
    if enc is None:
        raise InvalidParameterError(f"method={method!r} needs enc= (the encoder that produced e).")
    layout = layout_of(enc.model)
    if layout.pre_ln is not None and method not in PRE_LN_METHODS:
        raise InvalidParameterError(
            f"method={method!r} decomposes the LayerNorm after the attention's residual sum of a post-LayerNorm "
            f"layer; enc holds a pre-LayerNorm {layout.family} model, on which the methods are {PRE_LN_METHODS}.")
    store, _ = capture(enc, e, list(range(1, enc.n_layers + 1)))
    if method == "value_zeroing":
        return _value_zeroing(store, enc, batch_size)
    return _norm_based(method, store, enc)


@validate_params({
    "batch_size": Interval(int, 1),
    "e": IS_ENCODING,
    "method": Options(MIXING_METHODS),
    "enc": NoneOr(Instance(Encoder, label="an Encoder (from bk.load)")),
    "level": Options(("token", "word")),
    "specials": Options(("include", "exclude")),
})
def context_mixing(e: Encoding, method: str = "norm", *, enc: Encoder | None = None, level: str = "token",
                   specials: str = "include", batch_size: int = 64) -> MixingResult:
    """How much each token draws on every other token at each layer, by one of six methods.

    Parameters
    ----------
    e : Encoding
        One text that fits in one window, from ``enc.encode(text)``.
    method : {"attention", "rollout", "norm", "norm_res_ln", "alti", "value_zeroing"}, default "norm"
        See the module docstring (formulas and papers). A pre-LayerNorm model (ModernBERT) takes the
        methods of :data:`PRE_LN_METHODS` (all but ``"norm_res_ln"``).
    enc : Encoder, optional
        The encoder that produced ``e`` (one of ``bk.SUPPORTED_ARCHITECTURES``). Required except
        for ``"attention"`` and ``"rollout"`` on an encoding made with ``attentions=True``.
    level : {"token", "word"}, default "token"
        ``"word"``: the :func:`bertviz_kit.word_attention` rule (sum over a source word's pieces,
        mean over a receiving word's pieces), applied per layer before any aggregation.
    specials : {"include", "exclude"}, default "include"
        ``"exclude"`` drops the rows and columns of ``[CLS]``/``[SEP]`` after the computation
        (rows are not renormalised).
    batch_size : int, default 64
        Zeroed copies per batch for ``"value_zeroing"``.

    Returns
    -------
    MixingResult
        ``scores`` ``[n_layers, n, n]``, row = receiving unit, column = source unit; index 0 is
        transformer layer 1.

    Examples
    --------
    >>> m = bk.context_mixing(e, "value_zeroing", enc=enc, level="word")   # doctest: +SKIP
    >>> bk.plot_context_mixing(m, layer=-1)                                 # doctest: +SKIP
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameterError(f"batch_size must be an int >= 1; got {batch_size!r}.")
    if enc is not None:
        check_pair(e, enc)
    with small_work(e, enc):
        return _mixing(e, method, enc, level, specials, batch_size)


def _mixing(e: Encoding, method: str, enc: Encoder | None, level: str, specials: str,
            batch_size: int) -> MixingResult:
    mats = _per_layer(e, method, enc, batch_size)
    if method == "rollout":
        mats = _row_normalise(0.5 * mats + 0.5 * torch.eye(mats.shape[-1]))
    special = e.special_mask
    labels: tuple[str, ...] = tuple(e.tokens)
    if level == "word":
        mats = word_attention(replace(e, attentions=mats.unsqueeze(1)), "include").squeeze(1)
        special, labels = _unit_special(e), attention_units(e, "include")
    if method in _AGGREGATED:
        mats = _rollout(mats)
    if specials == "exclude":
        keep = ~special
        mats = mats[:, keep][:, :, keep]
        labels = tuple(lab for lab, s in zip(labels, special.tolist()) if not s)
    return MixingResult(method=method, scores=mats.contiguous(), labels=labels, level=level, specials=specials,
                        aggregated=method in _AGGREGATED)


@validate_params({"a": Instance(MixingResult, label="a MixingResult (bk.context_mixing)"),
                  "b": Instance(MixingResult, label="a MixingResult (bk.context_mixing)")})
def mixing_agreement(a: MixingResult, b: MixingResult) -> torch.Tensor:
    """Spearman rank correlation of two mixing results, per layer: ``[n_layers]``.

    For every layer, the Spearman correlation between row ``i`` of ``a`` and row
    ``i`` of ``b`` (how the two methods rank the sources of receiving unit ``i``),
    averaged over the rows (as in Mohebbi et al. 2023). Ties get average ranks.

    Parameters
    ----------
    a, b : MixingResult
        Of one text, at one level, with the same ``specials``.

    Returns
    -------
    torch.Tensor, float64 ``[n_layers]``

    Notes
    -----
    A row of two units correlates +1 or -1 (or is undefined, when one row is
    constant, and left out of the mean), so for a text of two units (``[CLS]``
    and ``[SEP]`` of an empty text) the mean says little: compare texts of a
    few words at least.
    """
    from scipy.stats import spearmanr

    for name, r in (("a", a), ("b", b)):
        check(name, r, Instance(MixingResult, label="a MixingResult (from bk.context_mixing)"))
    if a.scores.shape != b.scores.shape or a.labels != b.labels:
        raise InvalidParameterError(
            f"a and b must describe one text at one level: a has scores {list(a.scores.shape)} ({a.level}), "
            f"b has {list(b.scores.shape)} ({b.level}).")
    out = torch.empty(a.n_layers, dtype=torch.float64)
    for k in range(a.n_layers):
        rhos = [spearmanr(x, y).statistic for x, y in zip(a.scores[k].double().numpy(), b.scores[k].double().numpy())]
        out[k] = float(torch.tensor(rhos, dtype=torch.float64).nanmean())
    return out
