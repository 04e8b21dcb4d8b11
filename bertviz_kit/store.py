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
import re
import struct
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from ._validation import (
    PATH,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    SequenceOf,
    as_index,
    validate_params,
)
from .encoder import Encoder
from .encoding import TORCH_DTYPES, Corpus, Encoding, Encodings, describe_model, dtype_name
from .fingerprint import config_digest, tokenizer_digest, weights_digest

__all__ = ["open_store", "Store", "StoreView", "STORE_DTYPES", "CorruptStoreError"]

FORMAT = "bertviz_kit.store"
VERSION = 3  # 2: shard sizes and SHA-256 checksums, provenance; 3: the word tensor is `word_index`,
# as on Encoding and Encodings (it was `word_ids`). Versions 1 and 2 still open.
READ_VERSIONS = (1, 2, VERSION)
MANIFEST = "manifest.json"
#: the dtypes a store may hold (:data:`bertviz_kit.encoding.TORCH_DTYPES`), float16 (extract's default) first
STORE_DTYPES = dict(reversed(TORCH_DTYPES.items()))


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


def provenance_of(encoder: Encoder) -> dict[str, Any]:
    """Everything about the encoder that changes the stored numbers, and the library versions."""
    import safetensors
    import tokenizers
    import transformers

    from ._version import __version__

    return {
        "model_fingerprint": encoder.fingerprint,  # weights (sampled), tokenizer and config
        "weights_digest": weights_digest(encoder.model),
        "tokenizer_digest": tokenizer_digest(encoder.tokenizer),
        "config_digest": config_digest(encoder.model.config),
        "max_length": encoder.max_length,
        "stride": encoder.settings.stride,
        "model_dtype": dtype_name(next(encoder.model.parameters()).dtype),
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
        _check_header(manifest)
        for s in manifest["shards"]:
            if not isinstance(s, dict) or not {"file", "start", "count"} <= set(s):
                raise ValueError("a shard entry lacks file, start or count")
            if not isinstance(s["file"], str) or "/" in s["file"] or "\\" in s["file"] or s["file"].startswith("."):
                raise ValueError(f"shard file name {s['file']!r} points outside the store")
        at = 0
        for s in manifest["shards"]:
            if not all(isinstance(s[k], int) and not isinstance(s[k], bool) for k in ("start", "count")) \
                    or s["start"] != at or s["count"] < 1:
                raise ValueError(f"shard {s['file']!r} has start {s['start']!r} and count {s['count']!r}; "
                                 f"shards must follow each other from text 0")
            at += s["count"]
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        why = "nested too deeply" if isinstance(err, RecursionError) else err
        raise CorruptStoreError(
            f"{str(path)!r} is unreadable ({why}); run bk.extract with the same encoder, texts and "
            f"options on {str(root)!r} to rebuild it from the shards that are still valid."
        ) from None
    return manifest


_HEADER_TYPES = {"model": str, "n_layers": int, "dim": int, "n_texts": int, "layer_ids": list}


def _check_header(manifest: dict[str, Any]) -> None:
    """Raise ValueError unless the manifest is this format, a known version, with a usable header."""
    if manifest.get("format") != FORMAT:
        raise ValueError(f"it is not a bertviz_kit store manifest (format {short_repr(manifest.get('format'))})")
    version = manifest.get("version", 1)
    if version not in READ_VERSIONS or isinstance(version, bool):
        raise ValueError(f"format version {short_repr(version)} is not one this bertviz_kit reads "
                         f"({', '.join(map(str, READ_VERSIONS))})")
    for key, kind in _HEADER_TYPES.items():
        v = manifest.get(key)
        if not isinstance(v, kind) or isinstance(v, bool):
            raise ValueError(f"{key} is {short_repr(v)}, not a {kind.__name__}")
    if manifest.get("dtype") not in STORE_DTYPES:
        raise ValueError(f"dtype is {short_repr(manifest.get('dtype'))}, not one of {list(STORE_DTYPES)}")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in manifest["layer_ids"]):
        raise ValueError("layer_ids must be a list of ints")
    if not isinstance(manifest.get("provenance", {}), dict):
        raise ValueError("provenance is not a JSON object")


def short_repr(v: object) -> str:
    """``repr(v)``, cut to 40 characters."""
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over a shard's tensors (names, dtypes, shapes, bytes, in name order): written into
    the shard's own metadata, so a shard can be checked without its manifest."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{str(t.dtype)}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def shard_meta_problem(tensors: dict[str, torch.Tensor], meta: dict[str, str], start: int) -> str | None:
    """Why a shard's own description disagrees with it (``None`` when it agrees, or when the shard
    predates self-description): its recorded first text and count, and its tensors' checksum."""
    if "tensors_sha256" not in meta:
        return None
    count = int(tensors["lengths"].shape[0])
    if meta.get("start") != str(start) or meta.get("count") != str(count):
        return f"it says it holds texts {meta.get('start')}+{meta.get('count')}, expected {start}+{count}"
    if tensors_digest(tensors) != meta["tensors_sha256"]:
        return "its tensors do not match their checksum"
    return None


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
            ok = same and json.loads(meta["texts"]) == list(texts[start:start + count]) \
                and shard_meta_problem(tensors, meta, start) is None
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


def word_index_of(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    """A shard's word tensor as int64: ``word_index`` (format 3), ``word_ids`` in shards written before."""
    return (tensors["word_index"] if "word_index" in tensors else tensors["word_ids"]).long()


def shard_tensors(es: Encodings) -> dict[str, torch.Tensor]:
    return {
        "hidden": es.hidden,  # [tokens, k, dim] in the store's dtype
        "input_ids": es.input_ids.to(torch.int32),
        "word_index": es.word_index.to(torch.int32),
        "offsets": es.offsets.to(torch.int32),
        "lengths": es.lengths.to(torch.int64),
    }



_SAFETENSORS_DTYPES = {
    "F16": TORCH_DTYPES["float16"], "BF16": TORCH_DTYPES["bfloat16"], "F32": TORCH_DTYPES["float32"],
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
            tensors[name] = raw.view(dtype).reshape([int(d) for d in info["shape"]])
        meta = header.get("__metadata__", {})
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ValueError("its metadata is not a table of strings")
    except (OSError, struct.error, ValueError, KeyError, TypeError, IndexError, RuntimeError, AttributeError,
            RecursionError) as err:
        raise CorruptStoreError(f"shard {str(path)!r} is damaged ({type(err).__name__}: {err}); rerun bk.extract "
                                f"with the same encoder, texts and options on its folder to re-encode it.") from None
    return tensors, meta


def part_order(path: Path) -> tuple[Any, ...]:
    """Sort key for part folders: numbers by value (``part-10`` after ``part-9``), the rest by name."""
    return tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in re.split(r"(\d+)", path.name))


def holds_parts(root: Path) -> list[Path]:
    """The store folders inside ``root`` (parts of a distributed extraction), in part order."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if (p / MANIFEST).is_file()), key=part_order)


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
        roots = holds_parts(root)
        if not roots:
            raise FileNotFoundError(
                f"{str(root)!r} is not a store: it has no {MANIFEST}, nor part folders that have one."
            )
    for r in roots:
        if not (r / MANIFEST).is_file():
            raise FileNotFoundError(f"{str(r)!r} is not a store: it has no {MANIFEST}.")
    return roots


#: Manifest keys that must agree for parts to open as one store; provenance keys too when both parts record them.
_PART_KEYS = ("model", "n_layers", "dim", "layer_ids", "dtype")
_PART_PROVENANCE = ("model_fingerprint", "max_length", "stride")


def check_parts_match(first_root: Path, first: dict[str, Any], root: Path, m: dict[str, Any]) -> None:
    """Refuse a part made by another model, with other stored layers, dtype, max_length or stride."""
    pa, pb = first.get("provenance", {}), m.get("provenance", {})
    wrong = [f"{k}={m.get(k)!r} vs {first.get(k)!r}" for k in _PART_KEYS if m.get(k) != first.get(k)]
    wrong += [f"{k}={pb[k]!r} vs {pa[k]!r}" for k in _PART_PROVENANCE if k in pa and k in pb and pa[k] != pb[k]]
    if wrong:
        raise InvalidParameterError(
            f"store parts must come from one model ({describe_model(first['model'], pa.get('model_fingerprint', ''))}"
            f" in {str(first_root)!r}) with the same stored layers, dtype, max_length and stride; "
            f"{str(root)!r} has {'; '.join(wrong)}. Extract every part with the same encoder and options."
        )


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
    by shard, with memory bounded by one shard. ``store[a:b]`` is a :class:`StoreView`
    of those texts, which reads nothing until used.

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
            damaged = [f"{r['file']} {why}" for r in m["shards"]
                       if (why := shard_problem(root, r, full=False)) is not None]
            if damaged:
                raise CorruptStoreError(
                    f"store {str(root)!r} has damaged shards ({'; '.join(damaged)}); rerun bk.extract with "
                    f"the same encoder, texts and options on it to re-encode exactly those shards."
                )
            manifests.append(m)
        first = manifests[0]
        for root, m in zip(self.parts[1:], manifests[1:]):
            check_parts_match(self.parts[0], first, root, m)
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
                       "start": st, "count": s["count"], "sha256": s.get("sha256")}
                      for (f, s), st in zip(self._shards, starts)]
            self.manifest = {**first, "n_texts": sum(m["n_texts"] for m in manifests), "shards": shards}
        self.n_layers = int(first["n_layers"])
        self.layer_ids = tuple(first["layer_ids"])
        self.dim = int(first["dim"])
        self.model_name = first["model"]
        self.model_fingerprint = str(first.get("provenance", {}).get("model_fingerprint", ""))
        self._cache: tuple[int, Encodings] | None = None
        self._verified: set[int] = set()

    def __len__(self) -> int:
        return self._len

    @property
    def complete(self) -> bool:
        """True when every text given to :func:`extract` (in every part) is stored."""
        return all(sum(s["count"] for s in m["shards"]) == m["n_texts"] for m in self._manifests)

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype of the stored hidden states, as :attr:`Encodings.dtype
        <bertviz_kit.Encodings.dtype>` (the manifest keeps its name, ``"float16"``)."""
        return TORCH_DTYPES[self._manifests[0]["dtype"]]

    @property
    def provenance(self) -> dict[str, Any]:
        """What made the numbers: weights and tokenizer SHA-256, max_length, stride, model dtype,
        CPU kernels, library versions (empty for stores written before version 2)."""
        return self._manifests[0].get("provenance", {})

    def __repr__(self) -> str:
        m = self.manifest
        parts = f", parts={len(self.parts)}" if len(self.parts) > 1 else ""
        p = self.provenance
        model = p.get("model_fingerprint") or p.get("weights_sha256", "")[:12]
        prov = (f", model_fingerprint={model!r}, max_length={p['max_length']}, stride={p['stride']}, "
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
        for k, (file, _) in enumerate(self._shards):
            why = self._problem(k)
            if why is None:
                self._verified.add(k)
            else:
                problems.append(f"{file}: {why}")
        return problems

    def _problem(self, k: int) -> str | None:
        """Why shard ``k`` is unusable, judged on the file as it is now: when it fails the record
        this store was opened with, the manifest is read again, and a record another process
        wrote since (a repaired shard, the same texts) replaces the old one if the file passes it."""
        file, record = self._shards[k]
        why = shard_problem(file.parent, record, full=True)
        if why is None:
            return None
        try:
            fresh = read_manifest(file.parent)
        except CorruptStoreError:
            return why
        now = next((r for r in fresh["shards"] if r["file"] == record["file"]), None)
        if now is None or now == record or (now["start"], now["count"]) != (record["start"], record["count"]):
            return why
        again = shard_problem(file.parent, now, full=True)
        if again is None:
            self._shards[k] = (file, now)
            self._cache = None
        return again

    @validate_params({"k": Interval(int)})
    def shard(self, k: int) -> Encodings:
        """Shard ``k`` as an :class:`~bertviz_kit.Encodings` over the memory-mapped file."""
        if self._cache is not None and self._cache[0] == k:
            return self._cache[1]
        if self.verify_on_read and k not in self._verified:
            why = self._problem(k)  # once per shard and store object
            if why is not None:
                raise CorruptStoreError(
                    f"shard {str(self._shards[k][0])!r} is damaged ({why}); rerun bk.extract with the same encoder, "
                    f"texts and options on its folder to re-encode it."
                )
            self._verified.add(k)
        file, record = self._shards[k]
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
            word_index=word_index_of(tensors),
            offsets=tensors["offsets"].long(),
            layer_ids=self.layer_ids,
            n_layers=self.n_layers,
            model_name=self.model_name,
            model_fingerprint=self.model_fingerprint,
            tokens=json.loads(meta["tokens"]),
            windows=windows,
        )

    def __getitem__(self, i: int | slice) -> Encoding | StoreView:  # type: ignore[override]
        """Text ``i`` as an :class:`~bertviz_kit.Encoding` view of its mapped shard, or for a
        slice ``a:b`` (step 1) a :class:`StoreView` of those texts that reads nothing until used."""
        n = len(self)
        if isinstance(i, slice):
            a, b, step = i.indices(n)
            if step != 1:
                raise InvalidParameterError(f"Store slices must be contiguous (step 1); got step {step}.")
            return StoreView(self, a, max(a, b))
        i = as_index(i)
        if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
            raise IndexError(f"store index must be an int in [{-n}, {n - 1}] or a slice; got {i!r}.")
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
        out = [self._shard_word_counts(k) for k in range(len(self._shards))]
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)

    def _shard_word_counts(self, k: int) -> torch.Tensor:
        """Words per text of shard ``k``, from its word ids and lengths (mapped: only their pages are read)."""
        file = self._shards[k][0]
        tensors, _ = _map_shard(file)
        try:
            wid, lengths = word_index_of(tensors), tensors["lengths"].long()
            text = torch.repeat_interleave(torch.arange(lengths.numel()), lengths)
            counts = torch.zeros(lengths.numel(), dtype=torch.long)
            real = wid >= 0
            return counts.scatter_reduce_(0, text[real], wid[real] + 1, reduce="amax")
        except (KeyError, RuntimeError, ValueError, IndexError) as err:
            raise CorruptStoreError(f"shard {str(file)!r} does not hold a valid extraction ({err}); rerun "
                                    f"bk.extract with the same encoder, texts and options on its folder.") from None

    def _shard_ranges(self, start: int, stop: int) -> Iterator[tuple[int, int, int]]:
        """``(shard k, first, end)`` for the shards holding texts ``start:stop``: texts
        ``first:end`` of shard ``k`` (its own numbering), in order. Reads nothing."""
        for k, s0 in enumerate(self._starts):
            count = self._shards[k][1]["count"]
            a, b = max(start, s0), min(stop, s0 + count)
            if a < b:
                yield k, a - s0, b - s0


class StoreView(Corpus):
    """Texts ``start:stop`` of a :class:`Store`: what ``store[a:b]`` returns.

    A lazy :class:`~bertviz_kit.Corpus`: making it reads no shard, and using it
    (:meth:`blocks`, :meth:`word_counts`, indexing, iteration) maps only the shards
    that hold its texts, as the store does; nothing is copied. Slicing a view gives
    a view of the same store.

    Attributes
    ----------
    store : Store
        The store the texts belong to.
    start, stop : int
        The texts ``store[start:stop]``, numbered in the store.
    """

    @validate_params({"store": Instance(Store, label="a Store (bk.open_store)"),
                      "start": Interval(int, 0), "stop": Interval(int, 0)})
    def __init__(self, store: Store, start: int, stop: int) -> None:
        if not start <= stop <= len(store):
            raise InvalidParameterError(
                f"start and stop must satisfy 0 <= start <= stop <= {len(store)} (the store's texts); "
                f"got start={start!r}, stop={stop!r}.")
        self.store, self.start, self.stop = store, int(start), int(stop)
        self.n_layers, self.layer_ids, self.dim = store.n_layers, store.layer_ids, store.dim
        self.model_name, self.model_fingerprint = store.model_name, store.model_fingerprint

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype of the stored hidden states (:attr:`Store.dtype`)."""
        return self.store.dtype

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, i: int | slice) -> Encoding | StoreView:  # type: ignore[override]
        """Text ``i`` of the view as an :class:`~bertviz_kit.Encoding`, or a slice as a view."""
        n = len(self)
        if isinstance(i, slice):
            a, b, step = i.indices(n)
            if step != 1:
                raise InvalidParameterError(f"Store slices must be contiguous (step 1); got step {step}.")
            return StoreView(self.store, self.start + a, self.start + max(a, b))
        i = as_index(i)
        if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
            raise IndexError(f"store index must be an int in [{-n}, {n - 1}] or a slice; got {i!r}.")
        return self.store[self.start + i % n]  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Encoding]:
        for k, a, b in self.store._shard_ranges(self.start, self.stop):
            yield from self.store.shard(k)[a:b]  # type: ignore[misc]

    @validate_params({"max_tokens": NoneOr(Interval(int, 1), "about 64 MiB of float32 per block")})
    def blocks(self, max_tokens: int | None = None) -> Iterator[tuple[int, Encodings]]:
        """Yield ``(first text index in the view, block)`` shard by shard, as :meth:`Store.blocks`."""
        at = 0
        for k, a, b in self.store._shard_ranges(self.start, self.stop):
            for first, block in self.store.shard(k)[a:b].blocks(max_tokens):  # type: ignore[union-attr]
                yield at + first, block
            at += b - a
            self.store._cache = None  # drop the mapping before the next shard

    @validate_params({})
    def word_counts(self) -> torch.Tensor:
        """Words per text of the view, read from the small tensors of the shards that hold them."""
        out = [self.store._shard_word_counts(k)[a:b] for k, a, b in self.store._shard_ranges(self.start, self.stop)]
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)

    def __repr__(self) -> str:
        return f"StoreView(store={str(self.store.path)!r}, texts={self.start}:{self.stop}, dtype={self.dtype})"


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
