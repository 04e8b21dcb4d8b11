"""Corpus-scale extraction: stream hidden states to disk in shards, read them back at random.

``extract`` encodes texts shard by shard and writes each shard as one
``.safetensors`` file (tokens, ids, word ids, offsets and the chosen layers),
then records it in ``manifest.json``. Memory stays bounded by one shard, not
the corpus. Writes are atomic (temporary file + ``os.replace``) and a shard
counts only once the manifest names it, so a killed run never leaves a
half-written shard that is read as complete; running ``extract`` again with
the same arguments resumes after the last complete shard.

``open_store`` gives random access: ``len(store)``, ``store[i]`` (an
:class:`~bertviz_kit.encoding.Encoding` with the stored layers), iteration.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from .encoding import Encoder, Encoding
from .pooling import resolve_layers

__all__ = ["extract", "open_store", "Store", "STORE_DTYPES"]

FORMAT = "bertviz_kit.store"
VERSION = 1
MANIFEST = "manifest.json"
STORE_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def _fingerprint(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _layer_ids(layers: Any, n_layers: int) -> list[int]:
    if layers is None or layers == "all":
        return list(range(n_layers + 1))
    idx, _ = resolve_layers(layers, n_layers)
    return sorted(set(idx))


def _shard_tensors(es: list[Encoding], layer_ids: list[int], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    rows = list(layer_ids)
    # Written straight into one tensor of the store's dtype: no float32 copy of the shard.
    hidden = torch.empty((sum(e.n_tokens for e in es), len(rows), es[0].dim), dtype=dtype)  # [tokens, k, dim]
    at = 0
    for e in es:
        hidden[at : at + e.n_tokens].copy_(e.hidden_states[rows].transpose(0, 1))
        at += e.n_tokens
    return {
        "hidden": hidden,
        "input_ids": torch.cat([e.input_ids for e in es]).to(torch.int32),
        "word_ids": torch.cat([e.word_index for e in es]).to(torch.int32),
        "offsets": torch.tensor([o for e in es for o in e.offsets], dtype=torch.int32).reshape(-1, 2),
        "lengths": torch.tensor([e.n_tokens for e in es], dtype=torch.int64),
    }


def extract(
    encoder: Encoder,
    texts: Sequence[str],
    path: str | os.PathLike,
    *,
    layers: Any = None,
    dtype: str = "float16",
    batch_size: int = 32,
    shard_size: int = 256,
    progress: bool = True,
) -> Store:
    """Encode ``texts`` and write tokens and the chosen layers to ``path`` in shards.

    Parameters
    ----------
    encoder : Encoder
    texts : sequence of str
    path : folder
        Created if missing. Rerunning with the same texts and options resumes
        after the last complete shard; a folder holding another extraction is
        refused.
    layers : None, "all", int, list of int or preset name
        Model layers to keep (default all). A preset keeps the layers it
        names (``"sum_last4"`` keeps the last four, uncombined).
    dtype : {"float16", "bfloat16", "float32"}, default "float16"
        Precision on disk (records are read back as float32).
    batch_size : int
        Texts per forward batch.
    shard_size : int
        Texts per shard file; memory use is bounded by one shard.
    progress : bool
        Show a progress bar (tqdm.auto).

    Returns
    -------
    Store
    """
    from safetensors.torch import save

    if not isinstance(encoder, Encoder):
        raise TypeError(f"encoder must be an Encoder (bk.load); got {type(encoder).__name__}.")
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a sequence of str; got {type(texts).__name__}.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be a str; got {type(t).__name__}.")
    if dtype not in STORE_DTYPES:
        raise ValueError(f"dtype must be one of {tuple(STORE_DTYPES)}; got {dtype!r}.")
    for name, value in (("batch_size", batch_size), ("shard_size", shard_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
    layer_ids = _layer_ids(layers, encoder.n_layers)
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ValueError(f"path {str(root)!r} is a file; give a folder for the store.")
    root.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT, "version": VERSION, "model": encoder.name, "n_layers": encoder.n_layers,
        "dim": encoder.dim, "layer_ids": layer_ids, "dtype": dtype, "n_texts": len(texts),
        "shard_size": shard_size, "fingerprint": _fingerprint(texts),
    }
    manifest_path = root / MANIFEST
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        old = {k: manifest.get(k) for k in header}
        if old != header:
            changed = sorted(k for k in header if old[k] != header[k])
            raise ValueError(
                f"path {str(root)!r} holds another extraction (differs in {', '.join(changed)}); "
                f"use a new folder, or delete this one to start over."
            )
    else:
        manifest = {**header, "shards": []}
        _write_atomic(manifest_path, json.dumps(manifest, indent=1).encode())
    done = sum(s["count"] for s in manifest["shards"])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), initial=done, desc="extracting", unit="text")
    try:
        while done < len(texts):
            chunk = list(texts[done : done + shard_size])
            es = encoder.encode(chunk, batch_size=batch_size)
            tensors = _shard_tensors(es, layer_ids, STORE_DTYPES[dtype])
            meta = {
                "texts": json.dumps(chunk, ensure_ascii=False),
                "tokens": json.dumps([list(e.tokens) for e in es], ensure_ascii=False),
                "windows": json.dumps([list(map(list, e.windows)) for e in es]),
            }
            name = f"shard-{len(manifest['shards']):05d}.safetensors"
            _write_atomic(root / name, save(tensors, metadata=meta))
            manifest["shards"].append({"file": name, "start": done, "count": len(chunk)})
            _write_atomic(manifest_path, json.dumps(manifest, indent=1).encode())
            done += len(chunk)
            del es, tensors, meta  # this shard's memory is free before the next one is encoded
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return Store(root)


class Store:
    """Random access to an extraction written by :func:`extract`.

    ``len(store)`` counts the complete records; ``store[i]`` returns an
    :class:`~bertviz_kit.encoding.Encoding` whose ``hidden_states`` hold the
    stored layers (``layer_ids``), as float32; pooling functions work on it
    as on a fresh encoding (asking for a layer that was not stored raises).

    Attributes
    ----------
    path : Path
    manifest : dict
        Model, layers, dtype, number of texts and the list of shards.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{str(self.path)!r} is not a store: it has no {MANIFEST}.")
        self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{str(manifest_path)!r} is not a bertviz_kit store manifest.")
        self._starts = [s["start"] for s in self.manifest["shards"]]
        self._cache: tuple[int, dict[str, Any]] | None = None

    def __len__(self) -> int:
        return sum(s["count"] for s in self.manifest["shards"])

    @property
    def complete(self) -> bool:
        """True when every text given to :func:`extract` is stored."""
        return len(self) == self.manifest["n_texts"]

    @property
    def layer_ids(self) -> tuple[int, ...]:
        return tuple(self.manifest["layer_ids"])

    def __repr__(self) -> str:
        m = self.manifest
        return (f"Store(path={str(self.path)!r}, records={len(self)}/{m['n_texts']}, model={m['model']!r}, "
                f"layer_ids={m['layer_ids']}, dtype={m['dtype']!r}, shards={len(m['shards'])})")

    def _shard(self, k: int) -> dict[str, Any]:
        if self._cache is not None and self._cache[0] == k:
            return self._cache[1]
        from safetensors import safe_open

        shard = self.manifest["shards"][k]
        with safe_open(str(self.path / shard["file"]), framework="pt") as f:
            meta = f.metadata()
            small = {key: f.get_tensor(key) for key in ("input_ids", "word_ids", "offsets", "lengths")}
        lengths = small["lengths"]
        data = {
            **small,
            "file": str(self.path / shard["file"]),
            "ends": torch.cumsum(lengths, 0),
            "texts": json.loads(meta["texts"]),
            "tokens": json.loads(meta["tokens"]),
            "windows": json.loads(meta["windows"]),
        }
        self._cache = (k, data)
        return data

    def __getitem__(self, i: int) -> Encoding:
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
            raise IndexError(f"store index must be an int in [{-n}, {n - 1}]; got {i!r}.")
        i %= n
        import bisect

        from safetensors import safe_open

        k = bisect.bisect_right(self._starts, i) - 1
        j = i - self._starts[k]
        d = self._shard(k)
        end = int(d["ends"][j])
        start = end - int(d["lengths"][j])
        with safe_open(d["file"], framework="pt") as f:
            hidden = f.get_slice("hidden")[start:end]  # [tokens, k, dim], read from disk
        word_ids = tuple(None if w < 0 else int(w) for w in d["word_ids"][start:end].tolist())
        offsets = tuple((int(a), int(b)) for a, b in d["offsets"][start:end].tolist())
        text = d["texts"][j]
        from .encoding import _word_spans

        spans = _word_spans(word_ids, offsets)
        return Encoding(
            text=text,
            tokens=tuple(d["tokens"][j]),
            input_ids=d["input_ids"][start:end].long(),
            word_ids=word_ids,
            offsets=offsets,
            words=tuple(text[a:b] for a, b in spans),
            hidden_states=hidden.float().permute(1, 0, 2).contiguous(),
            n_layers=self.manifest["n_layers"],
            layer_ids=self.layer_ids,
            windows=tuple(tuple(w) for w in d["windows"][j]),
            model_name=self.manifest["model"],
            word_spans=spans,
        )

    def __iter__(self) -> Iterator[Encoding]:
        for i in range(len(self)):
            yield self[i]


def open_store(path: str | os.PathLike) -> Store:
    """Open a store written by :func:`extract` for random access."""
    return Store(path)
