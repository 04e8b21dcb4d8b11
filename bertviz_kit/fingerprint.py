"""What names a model: digests of its weights, its tokenizer and its config, and the short
fingerprint made of the three (:attr:`bertviz_kit.Encoder.fingerprint`).

Every encoding, store and context index carries the fingerprint of the model that made it
(``model_fingerprint``), and functions that combine two of them compare it
(``check_same_model`` in :mod:`bertviz_kit.encoding`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import torch

__all__ = ["model_fingerprint", "weights_digest", "tokenizer_digest", "config_digest"]


def model_fingerprint(model: Any, tokenizer: Any) -> str:
    """16 hex digits: SHA-256 of the weights, tokenizer and config digests."""
    parts = (weights_digest(model), tokenizer_digest(tokenizer), config_digest(model.config))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


#: Config keys that say how transformers runs the model, not what the model is.
_RUNTIME_CONFIG_KEYS = frozenset({
    "transformers_version", "torch_dtype", "dtype", "output_hidden_states", "output_attentions",
    "return_dict", "use_cache", "architectures", "name_or_path",
})
_SAMPLE = 4096  # elements hashed per tensor


def weights_digest(model: Any) -> str:
    """SHA-256 over every parameter and buffer's name, shape, dtype and a strided sample of its
    bytes (up to 4096 evenly spaced elements), cached on the model while no tensor changes."""
    state = model.state_dict(keep_vars=True)
    key = tuple((name, t.data_ptr(), t._version) for name, t in state.items())
    cached = getattr(model, "_bertviz_kit_weights_digest", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    h = hashlib.sha256()
    with torch.no_grad():
        for name in sorted(state):
            t = state[name].detach()
            h.update(f"{name}|{str(t.dtype)}|{tuple(t.shape)}|".encode())
            flat = t.reshape(-1)
            if flat.numel() > _SAMPLE:
                step = flat.numel() // _SAMPLE
                flat = flat[::step][:_SAMPLE]
            if flat.numel():
                h.update(flat.cpu().contiguous().view(torch.uint8).numpy().tobytes())
    digest = h.hexdigest()
    with contextlib.suppress(AttributeError, TypeError):  # a model that takes no attributes: not cached
        model._bertviz_kit_weights_digest = (key, digest)
    return digest


def tokenizer_digest(tokenizer: Any) -> str:
    """SHA-256 of the fast tokenizer's definition (vocabulary, normalizer, pre-tokenizer,
    post-processor, added tokens), without its truncation and padding state; cached on the
    tokenizer while its vocabulary size stays the same."""
    size = len(tokenizer)
    cached = getattr(tokenizer, "_bertviz_kit_digest", None)
    if cached is not None and cached[0] == size:
        return cached[1]
    text = tokenizer.backend_tokenizer.to_str()
    # tokenizers writes its keys in a fixed order: version, truncation, padding, added_tokens, normalizer,
    # pre_tokenizer, post_processor, decoder, model. Hashing from added_tokens on skips the runtime state
    # without parsing the vocabulary (parsing and writing it again took 0.1-1 s).
    at = text.find('"added_tokens":')
    if at < 0 or '"model":' not in text[at:]:
        spec = json.loads(text)
        spec.pop("truncation", None)
        spec.pop("padding", None)
        text, at = json.dumps(spec), 0
    digest = hashlib.sha256(text[at:].encode()).hexdigest()
    with contextlib.suppress(AttributeError, TypeError):
        tokenizer._bertviz_kit_digest = (size, digest)
    return digest


def config_digest(config: Any) -> str:
    """SHA-256 of the model config without transformers' runtime keys (``_``-prefixed ones,
    the versions, dtype and output switches)."""
    d = {k: v for k, v in config.to_dict().items() if not k.startswith("_") and k not in _RUNTIME_CONFIG_KEYS}
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()


