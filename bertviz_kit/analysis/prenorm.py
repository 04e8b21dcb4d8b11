"""The captures of a pre-LayerNorm layer with fused, rotary attention and a GLU (ModernBERT), in common roles.

:mod:`bertviz_kit.analysis.internals` records each layer's modules by role
(queries, keys, values, probabilities, feed-forward steps). A ModernBERT layer
computes the queries, keys and values with one fused projection, rotates the
queries and keys by their positions (rotary embeddings) inside its attention
module, gates its feed-forward block (GeGLU) and has no LayerNorm after it. The
helpers here bring those captures into the roles the other architectures fill,
with the model's own functions: nothing of the layer is re-implemented.
"""

from __future__ import annotations

import sys
from typing import Any

import torch

__all__ = ["pre_ln_parts", "mask_term"]


def pre_ln_parts(d: dict[str, torch.Tensor], *, n_heads: int, attention: torch.nn.Module, kwargs: dict[str, Any],
                 fused_qkv: bool, rotary: bool, gated: bool, ffn_norm: bool) -> None:
    """Rewrite one layer's captures ``d`` (in place) into the common roles.

    ``fused_qkv``: the fused projection's output (recorded as ``query``, ``[T, 3 D]``)
    is split into queries, keys and values as the attention module splits it.
    ``rotary``: the queries and keys are rotated by the model's own
    ``apply_rotary_pos_emb`` (the function ``attention``'s module defines) with the
    cos/sin that the model's rotary module computed and passed to the layer
    (``kwargs["position_embeddings"]``). ``gated``: the GLU's first dense output is
    split into its input half (``ffn_in``) and its gate (``gate``), and ``act``
    becomes the second dense layer's input, ``act(input) * gate`` (recorded as
    ``neurons``). Without a LayerNorm after the feed-forward block (``ffn_norm``
    false), ``ln2_in`` and ``ln2`` are the layer's output.
    """
    if fused_qkv:
        t = d["query"].shape[0]
        q, key, v = d["query"].reshape(t, 3, n_heads, -1).unbind(1)  # [T, H, d] each
        if rotary:
            rotate = sys.modules[type(attention).__module__].apply_rotary_pos_emb
            cos, sin = kwargs["position_embeddings"]
            q, key = rotate(q.transpose(0, 1).unsqueeze(0), key.transpose(0, 1).unsqueeze(0), cos, sin)
            q, key = (x[0].transpose(0, 1) for x in (q, key))
        d["query"], d["key"], d["value"] = (x.reshape(t, -1) for x in (q, key, v))
    if gated:
        d["ffn_in"], d["gate"] = d["ffn_in"].chunk(2, dim=-1)
        d["act"] = d["neurons"]
    if not ffn_norm:
        d["ln2_in"] = d["ln2"] = d["output"]


def mask_term(mask: torch.Tensor | None, n_heads: int, n_tokens: int, like: torch.Tensor) -> torch.Tensor:
    """The attention mask a model passed to a layer as an additive term ``[H, T, T]``.

    0 where a query may attend, ``-inf`` where it may not (beyond a sliding
    window); zeros without a mask. ``mask`` is boolean (True = attend) or
    additive (the dtype's minimum = blocked), of batch 1.
    """
    h, t = n_heads, n_tokens
    if mask is None:
        return like.new_zeros(h, t, t)
    blocked = ~mask if mask.dtype == torch.bool else mask <= torch.finfo(mask.dtype).min / 2
    term = torch.zeros(blocked.shape, dtype=like.dtype, device=like.device).masked_fill(blocked, float("-inf"))
    return term.reshape(-1, t, t)[-1].expand(h, t, t).clone()
