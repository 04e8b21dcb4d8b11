"""Corpus-scale stores on disk: the format, and reading them back at random.

A store is a folder of shards, each one ``.safetensors`` file (tokens, ids, word
ids, offsets and the chosen layers), listed in ``manifest.json`` with its size
and SHA-256; :func:`bertviz_kit.extract` writes it (:mod:`bertviz_kit.extraction`).

``open_store`` opens it as a :class:`~bertviz_kit.encoding.Corpus`, the
interface of :class:`~bertviz_kit.encoding.Encodings`: ``len(store)``,
``store[i]`` (an :class:`~bertviz_kit.encoding.Encoding` view of a
memory-mapped shard), iteration, and every multi-text function streams it
shard by shard.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import mmap
import os
import struct
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from ._validation import PATH, Boolean, Interval, InvalidParameterError, NoneOr, SequenceOf, as_index, validate_params
from .encoder import Encoder
from .encoding import Corpus, Encoding, Encodings

__all__ = ["open_store", "Store", "STORE_DTYPES", "CorruptStoreError"]

FORMAT = "bertviz_kit.store"
VERSION = 2  # 2: shard sizes and SHA-256 checksums, provenance (version 1 stores still open)
MANIFEST = "manifest.json"
STORE_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def fingerprint(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")  # unique per writer
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class CorruptStoreError(ValueError):
    """A store's manifest or shards are damaged: missing, truncated, or not matching their checksum."""


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def shard_problem(root: Path, record: dict[str, Any], full: bool) -> str | None:
    """Why the shard ``record`` names is unusable (``None`` when it is fine). Cheap checks
    (present, size) always; the SHA-256 of the whole file when ``full``."""
    file = root / record["file"]
    if not file.is_file():
        return "missing"
    size = file.stat().st_size
    if "bytes" in record and size != record["bytes"]:
        return f"truncated or grown ({size} bytes, {record['bytes']} recorded)"
    if full and "sha256" in record and _file_sha256(file) != record["sha256"]:
        return "checksum mismatch (its bytes changed after it was written)"
    return None


def _weights_fingerprint(encoder: Encoder) -> str:
    """SHA-256 over the model's parameters and buffers (names and bytes), cached while no
    tensor changes (torch's in-place version counters)."""
    state = encoder.model.state_dict(keep_vars=True)
    key = tuple((name, t.data_ptr(), t._version) for name, t in state.items())
    cached = getattr(encoder, "_weights_fingerprint", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    h = hashlib.sha256()
    with torch.no_grad():
        for name in sorted(state):
            t = state[name].detach().cpu().contiguous()
            h.update(name.encode())
            h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
            h.update(t.view(torch.uint8).numpy() if t.numel() else b"")
    digest = h.hexdigest()
    encoder._weights_fingerprint = (key, digest)  # type: ignore[attr-defined]
    return digest


def provenance_of(encoder: Encoder) -> dict[str, Any]:
    """Everything about the encoder that changes the stored numbers, and the library versions."""
    import safetensors
    import tokenizers
    import transformers

    from ._version import __version__

    tok = hashlib.sha256(encoder.tokenizer.backend_tokenizer.to_str().encode()).hexdigest()
    return {
        "weights_sha256": _weights_fingerprint(encoder),
        "tokenizer_sha256": tok,
        "max_length": encoder.max_length,
        "stride": encoder.settings.stride,
        "model_dtype": str(next(encoder.model.parameters()).dtype).replace("torch.", ""),
        # the setting, not its timing-based choice under "auto" (each shard records the kernels it ran on)
        "cpu_linear": getattr(encoder.settings, "cpu_linear", "auto"),
        "versions": {
            "bertviz_kit": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__,
        },
    }


def manifest_key(header: dict[str, Any], provenance: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([header, provenance], sort_keys=True).encode()).hexdigest()



def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest, or :class:`CorruptStoreError` saying how to rebuild it."""
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
            raise ValueError("it is not a JSON object with a list of shards")
        for s in manifest["shards"]:
            if not isinstance(s, dict) or not {"file", "start", "count"} <= set(s):
                raise ValueError("a shard entry lacks file, start or count")
            if "/" in str(s["file"]) or "\\" in str(s["file"]) or str(s["file"]).startswith("."):
                raise ValueError(f"shard file name {s['file']!r} points outside the store")
        at = 0
        for s in manifest["shards"]:
            if not all(isinstance(s[k], int) and not isinstance(s[k], bool) for k in ("start", "count")) \
                    or s["start"] != at or s["count"] < 1:
                raise ValueError(f"shard {s['file']!r} has start {s['start']!r} and count {s['count']!r}; "
                                 f"shards must follow each other from text 0")
            at += s["count"]
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CorruptStoreError(
            f"{str(path)!r} is unreadable ({err}); run bk.extract with the same encoder, texts and "
            f"options on {str(root)!r} to rebuild it from the shards that are still valid."
        ) from None
    return manifest


def rebuild_manifest(root: Path, base: dict[str, Any], key: str, texts: Sequence[str]) -> dict[str, Any]:
    """A manifest from the shard files that belong to this extraction, in order, up to the
    first one that is missing or does not match (later texts are encoded again)."""
    shards = []
    start = 0
    for k in itertools.count():
        file = root / f"shard-{k:05d}.safetensors"
        if not file.is_file() or start >= len(texts):
            break
        meta: dict[str, str] = {}
        try:
            tensors, meta = _map_shard(file)
            count = int(tensors["lengths"].shape[0])
            same = meta.get("manifest_key") == key
            ok = same and json.loads(meta["texts"]) == list(texts[start:start + count])
        except (CorruptStoreError, KeyError, ValueError):
            same = ok = False
        if k == 0 and not same and "manifest_key" in meta:  # a readable shard of someone else's extraction
            raise InvalidParameterError(
                f"path {str(root)!r} holds the shards of another extraction (other texts, layers, dtype or "
                f"encoder) and its manifest is unreadable; use a new folder, or delete this one to start over."
            )
        if not ok:
            break
        shards.append({"file": file.name, "start": start, "count": count, "bytes": file.stat().st_size,
                       "sha256": _file_sha256(file)})
        start += count
    return {**base, "shards": shards}


def shard_tensors(es: Encodings) -> dict[str, torch.Tensor]:
    return {
        "hidden": es.hidden,  # [tokens, k, dim] in the store's dtype
        "input_ids": es.input_ids.to(torch.int32),
        "word_ids": es.word_index.to(torch.int32),
        "offsets": es.offsets.to(torch.int32),
        "lengths": es.lengths.to(torch.int64),
    }



_SAFETENSORS_DTYPES = {
    "F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
    "I32": torch.int32, "I64": torch.int64, "U8": torch.uint8,
}


def _map_shard(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Memory-map a safetensors file: its tensors as views of the mapping (nothing is read
    until used; the pages belong to the file) and its metadata."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            if not 0 < n <= size - 8:
                raise ValueError(f"header length {n} does not fit a file of {size} bytes")
            header = json.loads(f.read(n))
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)  # private: writes never reach the file
        base = 8 + n
        for name, info in header.items():
            if name != "__metadata__" and not (info["dtype"] in _SAFETENSORS_DTYPES
                                               and 0 <= info["data_offsets"][0] <= info["data_offsets"][1]
                                               <= size - base):
                raise ValueError(f"tensor {name!r} lies outside the file or has an unknown dtype")
    except (OSError, struct.error, ValueError, KeyError, TypeError, IndexError) as err:
        raise CorruptStoreError(f"shard {str(path)!r} is damaged ({err}); rerun bk.extract with the same "
                                f"encoder, texts and options on its folder to re-encode it.") from None
    data = torch.frombuffer(mapped, dtype=torch.uint8)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        raw = data[base + a : base + b]
        if (base + a) % dtype.itemsize:  # unaligned (not written by extract): read a copy
            raw = raw.clone()
        tensors[name] = raw.view(dtype).reshape(info["shape"])
    return tensors, header.get("__metadata__", {})


def _part_roots(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The store folders ``path`` names: one store, a parent of part folders, or a list."""
    if isinstance(path, (list, tuple)):
        if not path:
            raise InvalidParameterError("path must name at least one store folder; got an empty list.")
        roots = [Path(p) for p in path]
    else:
        root = Path(path)
        if (root / MANIFEST).is_file():
            return [root]
        roots = sorted(p for p in root.iterdir() if (p / MANIFEST).is_file()) if root.is_dir() else []
        if not roots:
            raise FileNotFoundError(
                f"{str(root)!r} is not a store: it has no {MANIFEST}, nor part folders that have one."
            )
    for r in roots:
        if not (r / MANIFEST).is_file():
            raise FileNotFoundError(f"{str(r)!r} is not a store: it has no {MANIFEST}.")
    return roots


_OPEN_RULES = {"path": (PATH, SequenceOf(PATH, label="a list of paths (the parts of one store)", empty=False)),
               "verify": Boolean()}


class Store(Corpus):
    """An extraction written by :func:`extract`, read lazily from memory-mapped shards.

    The same interface as :class:`~bertviz_kit.Encodings`: ``len(store)`` counts
    the complete records, ``store[i]`` is an :class:`~bertviz_kit.Encoding`
    whose ``hidden_states`` are a view of the mapped shard (stored layers
    ``layer_ids``, in the store's dtype; pooling functions compute in
    float32), and every multi-text function (:func:`bertviz_kit.sentence_vectors`,
    :func:`bertviz_kit.anisotropy`, ...) accepts a store and streams it shard
    by shard, with memory bounded by one shard.

    Parts of a distributed extraction (``corpus/part-00000``, ``corpus/part-00001``,
    ...) open as one store: give the parent folder, or a list of folders.

    Attributes
    ----------
    path : Path
        The folder given (the parent folder for several parts).
    parts : list of Path
        Store folders, in order.
    manifest : dict
        The manifest of a single-part store; for several parts, the first part's
        settings with every part's shards (``"file"`` relative to ``path``).
    """

    @validate_params(_OPEN_RULES)
    def __init__(self, path: str | os.PathLike | Sequence[str | os.PathLike], *, verify: bool = True) -> None:
        self.parts = _part_roots(path)
        self.path = Path(path) if not isinstance(path, (list, tuple)) else self.parts[0].parent
        self.verify_on_read = verify
        manifests = []
        for root in self.parts:
            m = read_manifest(root)
            if m.get("format") != FORMAT:
                raise CorruptStoreError(f"{str(root / MANIFEST)!r} is not a bertviz_kit store manifest.")
            damaged = [f"{r['file']} {why}" for r in m["shards"]
                       if (why := shard_problem(root, r, full=False)) is not None]
            if damaged:
                raise CorruptStoreError(
                    f"store {str(root)!r} has damaged shards ({'; '.join(damaged)}); rerun bk.extract with "
                    f"the same encoder, texts and options on it to re-encode exactly those shards."
                )
            manifests.append(m)
        first = manifests[0]
        for root, m in zip(self.parts, manifests):
            for key in ("model", "n_layers", "dim", "layer_ids"):
                if m[key] != first[key]:
                    raise ValueError(
                        f"store parts must come from one model with the same stored layers; "
                        f"{str(root)!r} has {key}={m[key]!r}, {str(self.parts[0])!r} has {first[key]!r}."
                    )
        self._manifests = manifests
        self._shards: list[tuple[Path, dict[str, Any]]] = []
        starts = []
        at = 0
        for root, m in zip(self.parts, manifests):
            for s in m["shards"]:
                self._shards.append((root / s["file"], s))
                starts.append(at)
                at += s["count"]
        self._starts = starts
        self._len = at
        if len(self.parts) == 1:
            self.manifest = first
        else:
            shards = [{"file": str(f.relative_to(self.path)) if f.is_relative_to(self.path) else str(f),
                       "start": st, "count": s["count"]} for (f, s), st in zip(self._shards, starts)]
            self.manifest = {**first, "n_texts": sum(m["n_texts"] for m in manifests), "shards": shards}
        self.n_layers = int(first["n_layers"])
        self.layer_ids = tuple(first["layer_ids"])
        self.dim = int(first["dim"])
        self.model_name = first["model"]
        self._cache: tuple[int, Encodings] | None = None
        self._verified: set[int] = set()

    def __len__(self) -> int:
        return self._len

    @property
    def complete(self) -> bool:
        """True when every text given to :func:`extract` (in every part) is stored."""
        return all(sum(s["count"] for s in m["shards"]) == m["n_texts"] for m in self._manifests)

    @property
    def dtype(self) -> str:
        return self._manifests[0]["dtype"]

    @property
    def provenance(self) -> dict[str, Any]:
        """What made the numbers: weights and tokenizer SHA-256, max_length, stride, model dtype,
        CPU kernels, library versions (empty for stores written before version 2)."""
        return self._manifests[0].get("provenance", {})

    def __repr__(self) -> str:
        m = self.manifest
        parts = f", parts={len(self.parts)}" if len(self.parts) > 1 else ""
        p = self.provenance
        prov = (f", weights={p['weights_sha256'][:12]}, max_length={p['max_length']}, stride={p['stride']}, "
                f"model_dtype={p['model_dtype']!r}, torch={p['versions']['torch']!r}") if p else ""
        return (f"Store(path={str(self.path)!r}, records={len(self)}/{m['n_texts']}, model={m['model']!r}, "
                f"layer_ids={m['layer_ids']}, dtype={m['dtype']!r}, shards={len(self._shards)}{parts}{prov})")

    @validate_params({})
    def verify(self) -> list[str]:
        """Check every shard in full (size and SHA-256): the list of problems, empty when all is well.

        Reading a shard already checks it once per store object (unless opened with
        ``verify=False``); this reads them all now, e.g. before handing a store on.
        """
        problems = []
        for k, (file, record) in enumerate(self._shards):
            why = shard_problem(file.parent, record, full=True)
            if why is None:
                self._verified.add(k)
            else:
                problems.append(f"{file}: {why}")
        return problems

    @validate_params({"k": Interval(int)})
    def shard(self, k: int) -> Encodings:
        """Shard ``k`` as an :class:`~bertviz_kit.Encodings` over the memory-mapped file."""
        if self._cache is not None and self._cache[0] == k:
            return self._cache[1]
        file, record = self._shards[k]
        if self.verify_on_read and k not in self._verified:
            why = shard_problem(file.parent, record, full=True)  # once per shard and store object
            if why is not None:
                raise CorruptStoreError(
                    f"shard {str(file)!r} is damaged ({why}); rerun bk.extract with the same encoder, "
                    f"texts and options on its folder to re-encode it."
                )
            self._verified.add(k)
        tensors, meta = _map_shard(file)
        try:
            block = self._block(tensors, meta, record)
        except (KeyError, ValueError, TypeError, RuntimeError) as err:
            raise CorruptStoreError(f"shard {str(file)!r} does not hold a valid extraction ({err}); rerun "
                                    f"bk.extract with the same encoder, texts and options on its folder.") from None
        self._cache = (k, block)  # one shard kept for random access; iteration replaces it
        return block

    def _block(self, tensors: dict[str, torch.Tensor], meta: dict[str, str], record: dict[str, Any]) -> Encodings:
        lengths = tensors["lengths"].long()
        if lengths.shape[0] != record["count"] or bool((lengths < 0).any()):
            raise ValueError(f"it holds {lengths.shape[0]} texts, the manifest says {record['count']}")
        windows = {i: tuple(map(tuple, w)) for i, w in enumerate(json.loads(meta["windows"])) if len(w) > 1}
        return Encodings(
            texts=json.loads(meta["texts"]),
            hidden=tensors["hidden"],
            token_starts=torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]),
            input_ids=tensors["input_ids"].long(),
            word_index=tensors["word_ids"].long(),
            offsets=tensors["offsets"].long(),
            layer_ids=self.layer_ids,
            n_layers=self.n_layers,
            model_name=self.model_name,
            tokens=json.loads(meta["tokens"]),
            windows=windows,
        )

    def __getitem__(self, i: int) -> Encoding:  # type: ignore[override]
        n = len(self)
        i = as_index(i)
        if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
            raise IndexError(f"store index must be an int in [{-n}, {n - 1}]; got {i!r}.")
        i %= n
        k = bisect.bisect_right(self._starts, i) - 1
        return self.shard(k)[i - self._starts[k]]  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Encoding]:
        for k in range(len(self._shards)):
            yield from self.shard(k)

    @validate_params({"max_tokens": NoneOr(Interval(int, 1), "about 64 MiB of float32 per block")})
    def blocks(self, max_tokens: int | None = None) -> Iterator[tuple[int, Encodings]]:
        """Yield ``(first text index, block)`` shard by shard (a shard split further when it
        holds more than ``max_tokens`` tokens); one shard is mapped at a time."""
        self._cache = None
        for k, start in enumerate(self._starts):
            for first, block in self.shard(k).blocks(max_tokens):
                yield start + first, block
            self._cache = None  # drop the mapping before the next shard

    @validate_params({})
    def word_counts(self) -> torch.Tensor:
        """Words per text, read from the shards' small tensors (hidden states are not touched)."""
        from safetensors import safe_open

        out = []
        for file, _ in self._shards:
            with safe_open(str(file), framework="pt") as f:
                wid, lengths = f.get_tensor("word_ids").long(), f.get_tensor("lengths").long()
            text = torch.repeat_interleave(torch.arange(lengths.numel()), lengths)
            counts = torch.zeros(lengths.numel(), dtype=torch.long)
            real = wid >= 0
            out.append(counts.scatter_reduce_(0, text[real], wid[real] + 1, reduce="amax"))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


@validate_params(_OPEN_RULES)
def open_store(path: str | os.PathLike | Sequence[str | os.PathLike], *, verify: bool = True) -> Store:
    """Open a store written by :func:`extract`: one folder, the parent folder of several parts
    (opened in name order as one store), or a list of part folders (in the order given).

    Opening checks that every shard is there with its recorded size (cheap); reading a shard
    checks its SHA-256 once per store object, so a record never comes back silently wrong
    (:class:`CorruptStoreError` names the shard and the fix). ``verify=False`` skips the
    checksum (the size check stays) for speed on a store you trust.
    """
    return Store(path, verify=verify)
