"""Writing a store: ``extract`` encodes texts shard by shard into a folder, ``extract_part`` does one
part of a distributed extraction.

Memory stays bounded by one shard, not the corpus. Writes are atomic (temporary file +
``os.replace``) and a shard counts only once the manifest names it, so a killed run never
leaves a half-written shard that is read as complete; running ``extract`` again with the same
arguments resumes after the last complete shard. One process writes to a folder at a time (a
file lock). The format and the reading side are in :mod:`bertviz_kit.store`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._validation import (
    PATH,
    Boolean,
    Instance,
    Interval,
    InvalidParameterError,
    NoneOr,
    Options,
    Texts,
    Unchecked,
    validate_params,
)
from .encoder import Encoder, as_text_list
from .layers import Layers, stored_layer_ids
from .store import (
    FORMAT,
    MANIFEST,
    STORE_DTYPES,
    VERSION,
    CorruptStoreError,
    Store,
    fingerprint,
    holds_parts,
    manifest_key,
    provenance_of,
    read_manifest,
    rebuild_manifest,
    shard_problem,
    shard_tensors,
    short_repr,
    tensors_digest,
    write_atomic,
)

__all__ = ["extract", "extract_part"]


@contextlib.contextmanager
def _writer_lock(root: Path, wait: bool) -> Iterator[None]:
    """One writer per store folder (``filelock``); the holder is named when a second one is refused."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(root / ".lock"))
    owner = root / ".lock.owner"
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        try:
            who = json.loads(owner.read_text(encoding="utf-8"))
            holder = f"process {who['pid']} on {who['host']} since {who['since']}"
        except (OSError, ValueError, KeyError):
            holder = "another process"
        raise RuntimeError(
            f"{holder} is writing to the store {str(root)!r}; wait for it to finish, or pass "
            f"wait=True to wait for the lock."
        ) from None
    try:
        owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "since": time.strftime("%Y-%m-%d %H:%M:%S")}), encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()


@validate_params({
    "texts": Texts(single=False),
    "path": PATH,
    "layers": Layers("encoder", allow_none=True),
    "encoder": Instance(Encoder, label="an Encoder (bk.load)"),
    "dtype": Options(tuple(STORE_DTYPES)),
    "batch_size": Interval(int, 1),
    "shard_size": Interval(int, 1),
    "progress": Boolean(),
    "wait": Boolean(),
})
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
    wait: bool = False,
) -> Store:
    """Encode ``texts`` and write tokens and the chosen layers to ``path`` in shards.

    Parameters
    ----------
    encoder : Encoder
    texts : sequence of str
        A list or tuple of str, or a NumPy array or pandas Series of str (as for ``encode``).
    path : folder
        Created if missing. Rerunning with the same encoder, texts and options
        resumes after the last complete shard, first re-encoding any shard that
        is missing, truncated or fails its SHA-256 check (with a warning naming
        them); an unreadable manifest is rebuilt from the shards that are still
        valid. A folder holding another extraction (other texts, layers, dtype,
        model weights, tokenizer, max_length, stride, kernels or library
        versions) is refused with the differing keys named.
    layers : None, "all", int, list of int or preset name
        Model layers to keep (default all). A preset keeps the layers it
        names (``"sum_last4"`` keeps the last four, uncombined).
    dtype : {"float16", "bfloat16", "float32"}, default "float16"
        Precision on disk (records are views in this dtype; pooling computes in float32).
        float16 holds values up to 65504; a layer beyond it is refused with an
        error naming the layer and its largest ``|value|`` (choose "bfloat16",
        the same size with float32's range), never stored as inf.
    batch_size : int
        Texts per forward batch.
    shard_size : int
        Texts per shard file; memory use is bounded by one shard.
    progress : bool
        Show a progress bar (tqdm.auto).
    wait : bool, default False
        One process writes to a store folder at a time (a file lock). With
        ``wait=False`` a second writer fails at once with an error naming the
        process that holds the lock; ``wait=True`` waits for it.

    Returns
    -------
    Store
    """
    texts = as_text_list(texts)  # a NumPy array or pandas Series of str, as encode takes them
    _check_texts(texts)
    layer_ids = stored_layer_ids(layers, encoder.n_layers)
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise InvalidParameterError(f"path {str(root)!r} is a file; give a folder for the store.")
    if not (root / MANIFEST).exists() and (parts := holds_parts(root)):
        raise InvalidParameterError(
            f"path {str(root)!r} holds the parts of a distributed extraction ({len(parts)}: "
            f"{parts[0].name}, ...); open them with bk.open_store, add a part with bk.extract_part on a new "
            f"sub-folder, or extract into a new folder."
        )
    root.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT, "version": VERSION, "model": encoder.name, "n_layers": encoder.n_layers,
        "dim": encoder.dim, "layer_ids": layer_ids, "dtype": dtype, "n_texts": len(texts),
        "shard_size": shard_size, "fingerprint": fingerprint(texts),
    }
    provenance = provenance_of(encoder)
    key = manifest_key(header, provenance)
    with _writer_lock(root, wait):
        manifest = _open_manifest(root, header, provenance, key, texts)

        def write_shard(k: int, start: int, chunk: list[str]) -> dict[str, Any]:
            return _write_shard(encoder, root, key, k, start, chunk, batch_size, layer_ids, dtype)

        _repair_shards(root, manifest, texts, write_shard)
        _write_remaining(root, manifest, texts, write_shard, shard_size, progress)
    return Store(root)


def _check_texts(texts: object) -> None:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise InvalidParameterError(f"texts must be a sequence of str; got {type(texts).__name__}.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidParameterError(f"texts[{i}] must be a str; got {type(t).__name__}.")
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as err:  # here, so the message gives its index among all texts
            raise InvalidParameterError(
                f"texts[{i}] holds a lone surrogate {t[err.start]!r} at character {err.start}, which is not "
                f"valid Unicode text; decode the bytes with the right encoding, or drop it with "
                f"text.encode('utf-8', 'replace').decode()."
            ) from None


def _open_manifest(
    root: Path, header: dict[str, Any], provenance: dict[str, Any], key: str, texts: Sequence[str]
) -> dict[str, Any]:
    """The store's manifest: read (rebuilt from the valid shards when unreadable) and checked to
    describe the same extraction, or a new one written for an empty folder."""
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        manifest = {**header, "provenance": provenance, "shards": []}
        write_atomic(manifest_path, json.dumps(manifest, indent=1).encode())
        return manifest
    try:
        manifest = read_manifest(root)
    except CorruptStoreError as err:
        manifest = rebuild_manifest(root, {**header, "provenance": provenance}, key, texts)
        warnings.warn(f"{err.args[0].split(';')[0]}; rebuilt it from {len(manifest['shards'])} valid "
                      f"shard(s), the rest is encoded again.", UserWarning, stacklevel=4)
        write_atomic(manifest_path, json.dumps(manifest, indent=1).encode())
    _check_same_extraction(root, manifest, header, provenance)
    return manifest


def _check_same_extraction(root: Path, manifest: dict[str, Any], header: dict[str, Any],
                           provenance: dict[str, Any]) -> None:
    """Refuse to resume a store written by another model, with other texts or other options.

    A manifest written before a provenance key existed is not judged on that key (for one
    without ``model_fingerprint``, a warning says its model could not be checked)."""
    old_version = manifest.get("version", 1)
    if old_version != header["version"]:
        raise InvalidParameterError(
            f"path {str(root)!r} holds a store of format version {old_version!r}, written by an older bertviz_kit; "
            f"it still opens with bk.open_store, but only a version {header['version']} store can be resumed: "
            f"extract into a new folder."
        )
    old_prov = manifest.get("provenance", {})
    changed = [(k, manifest.get(k), header[k]) for k in sorted(header) if manifest.get(k) != header[k]]
    keys = [k for k in provenance if k in old_prov] if old_prov else list(provenance)
    changed += [(f"provenance.{k}", old_prov.get(k), provenance[k]) for k in sorted(keys)
                if old_prov.get(k) != provenance[k]]
    if changed:
        what = ", ".join(f"{k} (stored {short_repr(a)}, now {short_repr(b)})" for k, a, b in changed)
        raise InvalidParameterError(
            f"path {str(root)!r} holds another extraction (differs in {what}). To resume it, pass the "
            f"encoder, texts and options it was made with; to keep both, extract into a new folder."
        )
    if old_prov and "model_fingerprint" not in old_prov:
        warnings.warn(f"store {str(root)!r} was written before model fingerprints: resuming it cannot check that "
                      f"the encoder is the one that made it.", UserWarning, stacklevel=5)


def _write_shard(
    encoder: Encoder, root: Path, key: str, k: int, start: int, chunk: list[str], batch_size: int,
    layer_ids: list[int], dtype: str,
) -> dict[str, Any]:
    """Encode ``chunk`` and write it as shard ``k``; its manifest record."""
    from safetensors.torch import save

    # The shard's layers are encoded straight into one [tokens, layers, dim] tensor of the
    # store's dtype: that tensor is what gets written (no per-text copies).
    es = encoder.encode(chunk, batch_size=batch_size, layers=layer_ids, dtype=dtype)
    meta = {
        "texts": json.dumps(chunk, ensure_ascii=False),
        "tokens": json.dumps([list(es.text_tokens(i)) for i in range(len(es))], ensure_ascii=False),
        "windows": json.dumps([list(map(list, es.windows(i))) for i in range(len(es))]),
        "manifest_key": key,
        "start": str(start), "count": str(len(chunk)),
    }
    tensors = shard_tensors(es)
    meta["tensors_sha256"] = tensors_digest(tensors)
    data = save(tensors, metadata=meta)
    name = f"shard-{k:05d}.safetensors"
    write_atomic(root / name, data)
    return {"file": name, "start": start, "count": len(chunk), "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "kernels": encoder.cpu_linear or "device"}


def _repair_shards(root: Path, manifest: dict[str, Any], texts: Sequence[str], write_shard: Callable) -> None:
    """Re-encode every listed shard that is missing, truncated or fails its SHA-256 check."""
    bad = [(k, why) for k, rec in enumerate(manifest["shards"])
           if (why := shard_problem(root, rec, full=True)) is not None]
    if not bad:
        return
    warnings.warn(
        f"store {str(root)!r}: re-encoding {len(bad)} damaged shard(s): "
        + "; ".join(f"{manifest['shards'][k]['file']} {why}" for k, why in bad),
        UserWarning, stacklevel=4,
    )
    for k, _ in bad:
        rec = manifest["shards"][k]
        chunk = list(texts[rec["start"] : rec["start"] + rec["count"]])
        manifest["shards"][k] = write_shard(k, rec["start"], chunk)
        write_atomic(root / MANIFEST, json.dumps(manifest, indent=1).encode())


def _write_remaining(root: Path, manifest: dict[str, Any], texts: Sequence[str], write_shard: Callable,
                     shard_size: int, progress: bool) -> None:
    """Encode and write the texts after the last complete shard, one shard at a time."""
    done = sum(s["count"] for s in manifest["shards"])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), initial=done, desc="extracting", unit="text")
    try:
        while done < len(texts):
            chunk = list(texts[done : done + shard_size])
            manifest["shards"].append(write_shard(len(manifest["shards"]), done, chunk))
            write_atomic(root / MANIFEST, json.dumps(manifest, indent=1).encode())
            done += len(chunk)  # this shard's memory is free before the next one is encoded
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()


@functools.lru_cache(maxsize=2)
def _process_encoder(model: str | None, options: tuple[tuple[str, Any], ...]) -> Encoder:
    from .loading import load

    return load(model, **dict(options))


@validate_params({"path": PATH, "texts": Texts(single=False),
                  "model": NoneOr(PATH, "the model named by the store's settings"),
                  "load_options": NoneOr(Instance(dict), "no options"),
                  "extract_options": Unchecked("keyword arguments of bk.extract, which checks them")})
def extract_part(
    path: str | os.PathLike,
    texts: Sequence[str],
    *,
    model: str | None = None,
    load_options: dict[str, Any] | None = None,
    **extract_options: Any,
) -> str:
    """One part of a distributed extraction: ``extract`` ``texts`` into the folder ``path``.

    Meant to be mapped over chunks of a corpus by any engine (a Dask bag or
    ``client.map``, Ray, ``multiprocessing``): everything it needs travels as plain
    arguments, and the encoder (``bk.load(model, **load_options)``) is loaded once
    per worker process and reused for every part that process runs. Each part
    resumes on its own when mapped again. Open the parent folder of the parts
    with :func:`open_store` to read them as one store.

    Parameters
    ----------
    path : folder of this part (e.g. ``corpus/part-00003``)
    texts : sequence of str
    model : str, optional
        Name or folder of the model (default: the bundled model).
    load_options : dict, optional
        Keyword arguments for :func:`bertviz_kit.load` (``device``, ``dtype``, ...).
    **extract_options
        Keyword arguments for :func:`extract` (``layers``, ``dtype``, ``shard_size``, ...).

    Returns
    -------
    str
        ``path``, as a string (cheap to send back to the client).
    """
    options = tuple(sorted((load_options or {}).items()))
    encoder = _process_encoder(None if model is None else str(model), options)
    return str(extract(encoder, texts, path, **{"progress": False, **extract_options}).path)
