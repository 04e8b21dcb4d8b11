"""A faiss index of every word occurrence of a corpus at one layer, for many fast nearest-context queries.

:func:`bertviz_kit.nearest_contexts` is exact and needs no extra memory, but it
reads and pools the whole corpus for every query. When one corpus answers many
queries, pool it once::

    index = bk.build_context_index(store, layer=1)        # one pass over the corpus
    path = index.save()                                   # next to the store
    index = bk.load_context_index(path, store)            # later: checked against the store
    hits = index.search(e, "bank", k=10, occurrence=-1)   # same ContextMatches as nearest_contexts

Every word occurrence becomes one unit-length float32 vector (its pieces pooled
as ``subwords`` says, the corpus read block by block), added to a faiss index
with inner-product metric, so a search ranks by cosine. ``kind="flat"`` is
exact (``IndexFlatIP``) and returns what :func:`~bertviz_kit.nearest_contexts`
returns; ``"ivf"`` (``IndexIVFFlat``, trained on a sample) and ``"hnsw"``
(``IndexHNSWFlat``) are approximate and faster on large stores. The index
holds ``n_words x dim x 4`` bytes of vectors in memory (plus the graph for
HNSW), the corpus's texts and each word's character span, so a search reads
nothing from the corpus: a saved index answers queries on its own.

faiss is optional: ``pip install "bertviz-kit[search]"`` (faiss-cpu). Importing
bertviz_kit does not need it.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .._validation import PATH, Instance, Interval, InvalidParameterError, NoneOr, Options, check, validate_params
from ..encoding import IS_CORPUS, IS_ENCODING, Corpus, Encoding, as_corpus, check_same_model
from ..layers import Layer, stored_row
from ..store import CorruptStoreError, write_atomic
from ..vectors.addressing import WordArg
from ..vectors.pooling import SUBWORD_MODES
from .exact import ContextMatches, block_spans, block_word_vectors, context_matches, resolve_query

__all__ = ["ContextIndex", "build_context_index", "load_context_index", "INDEX_KINDS"]

#: What ``kind=`` accepts: exact inner product, inverted lists, a navigable small-world graph.
INDEX_KINDS = ("flat", "ivf", "hnsw")
_FORMAT = "bertviz_kit.context_index"
_VERSION = 2  # 2: each file's SHA-256 in the metadata, the model fingerprint (version 1 still loads)
_META = "context_index.json"
_FAISS_FILE = "index.faiss"
_TABLES = "words.npz"
_TEXTS = "texts.json"


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "the context index needs faiss, an optional dependency: pip install \"bertviz-kit[search]\" "
            "(or pip install faiss-cpu). bk.nearest_contexts searches exactly without it."
        ) from None
    return faiss


def _text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "little", signed=True)


def _texts_digest(texts: Any) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _store_identity(corpus: Corpus) -> str | None:
    """Digest of a store's shard list (files, counts and their SHA-256 where recorded); None in memory."""
    manifest = getattr(corpus, "manifest", None)
    if not isinstance(manifest, dict) or "shards" not in manifest:
        return None
    shards = [(str(s.get("file")), s.get("count"), s.get("sha256")) for s in manifest["shards"]]
    return hashlib.sha256(json.dumps([manifest.get("fingerprint"), shards]).encode()).hexdigest()


def _word_vectors(b: Any, row: int, subwords: str, first: int) -> np.ndarray:
    """A block's unit word vectors for faiss (a NaN names its text ``first`` + its index in the block)."""
    return np.ascontiguousarray(block_word_vectors(b, row, subwords, first).cpu().numpy(), dtype=np.float32)


class ContextIndex:
    """Every word occurrence of a corpus at one layer, in a faiss index (see :func:`build_context_index`).

    Attributes
    ----------
    corpus : Encodings, Store or None
        The corpus the vectors come from (None for an index loaded on its own).
    texts : list of str
        The corpus's texts (snippets are cut from them).
    layer : int
        Model layer of the vectors (0 = embeddings; never negative).
    subwords : str
        How the pieces of a split word were pooled.
    kind : {"flat", "ivf", "hnsw"}
        ``flat`` is exact; the others approximate.
    n_words, n_texts, dim : int
        Vectors in the index, texts in the corpus, vector width.
    nprobe : int or None
        Inverted lists visited per query (``ivf`` only; more = slower, closer to exact).
    ef_search : int or None
        Candidate list size per query (``hnsw`` only; more = slower, closer to exact).
    build_seconds : float
        Wall time of the build (0 for a loaded index).
    model_name, model_fingerprint : str
        The model that encoded the corpus (the fingerprint is empty for an index saved
        before fingerprints); ``search`` refuses a query from another model.
    """

    def __init__(self, corpus: Corpus | None, index: Any, meta: dict[str, Any], texts: list[str],
                 word_starts: np.ndarray, spans: np.ndarray, text_hashes: np.ndarray,
                 build_seconds: float = 0.0) -> None:
        self.corpus = corpus
        self.texts = texts
        self.index = index
        self.meta = meta
        self.layer = int(meta["layer"])
        self.subwords = str(meta["subwords"])
        self.kind = str(meta["kind"])
        self.dim = int(meta["dim"])
        self.n_texts = int(meta["n_texts"])
        self.n_words = int(meta["n_words"])
        self.nprobe = meta.get("nprobe")
        self.ef_search = meta.get("ef_search")
        self.build_seconds = build_seconds
        self.model_name = str(meta.get("model") or "")
        self.model_fingerprint = str(meta.get("model_fingerprint") or "")
        self._word_starts = word_starts
        self._spans = spans
        self._text_hashes = text_hashes

    def __len__(self) -> int:
        return self.n_words

    def __repr__(self) -> str:
        extra = {"ivf": f", nlist={self.meta.get('nlist')}, nprobe={self.nprobe}",
                 "hnsw": f", m={self.meta.get('m')}, ef_search={self.ef_search}"}.get(self.kind, "")
        return (f"ContextIndex(kind={self.kind!r}, layer={self.layer}, subwords={self.subwords!r}, "
                f"n_words={self.n_words}, n_texts={self.n_texts}, dim={self.dim}{extra})")

    def _excluded(self, text: str, words: frozenset[int]) -> list[int]:
        """Vector ids of the query occurrence in every corpus text equal to the query's text."""
        out = []
        for ti in np.flatnonzero(self._text_hashes == _text_hash(text)).tolist():
            if self.texts[ti] != text:  # a hash collision
                continue
            a, z = int(self._word_starts[ti]), int(self._word_starts[ti + 1])
            out += [a + w for w in words if a + w < z]
        return out

    @validate_params({
        "word": NoneOr(WordArg("e"), "the word given by span="),
        "span": NoneOr(Instance(tuple, list, label="a (char_start, char_end) pair of ints"), "word="),
        "e": IS_ENCODING,
        "k": Interval(int, 1),
        "occurrence": NoneOr(Interval(int)),
        "context": Interval(int, 0),
    })
    def search(
        self,
        e: Encoding,
        word: int | str | tuple[str, int] | None = None,
        k: int = 10,
        occurrence: int | None = None,
        *,
        span: tuple[int, int] | None = None,
        context: int = 60,
    ) -> ContextMatches:
        """The ``k`` word occurrences nearest (cosine at the index's layer) to one word of ``e``.

        The arguments and the result are those of :func:`bertviz_kit.nearest_contexts`
        (the layer and ``subwords`` are the index's). With ``kind="flat"`` the
        matches are the same; ``ivf`` and ``hnsw`` may miss some.
        """
        if e.dim != self.dim:
            raise InvalidParameterError(
                f"the index has vectors of width {self.dim} and e of width {e.dim}: encode e with the model "
                f"that encoded the corpus.")
        check_same_model(e, self, "e", "the index", "encode the query with the model that encoded the corpus")
        query = resolve_query(e, word, occurrence, span, self.layer, self.subwords)
        excluded = self._excluded(query.text, query.words)
        want = min(k + len(excluded), self.n_words)
        if self.kind == "ivf":
            self.index.nprobe = int(self.nprobe)
        elif self.kind == "hnsw":
            self.index.hnsw.efSearch = max(int(self.ef_search), want)
        q = np.ascontiguousarray(query.vector.cpu().numpy()[None], dtype=np.float32)
        scores, ids = (a[0] for a in self.index.search(q, want))
        drop = set(excluded)
        keep = [(float(s), int(i)) for s, i in zip(scores, ids) if i >= 0 and int(i) not in drop][:k]
        cos = [s for s, _ in keep]
        vid = np.array([i for _, i in keep], dtype=np.int64)
        texts = np.searchsorted(self._word_starts, vid, side="right") - 1
        words = vid - self._word_starts[texts]
        return context_matches(query, self.subwords, cos, texts.tolist(), words.tolist(),
                               [self.texts[t] for t in texts], [tuple(x) for x in self._spans[vid].tolist()], context)

    @validate_params({"path": NoneOr(PATH, "the folder it was loaded from")})
    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the index to a folder (made if missing) and return it.

        ``path=None`` saves next to a store: ``<store>/context_index_layer<L>_<subwords>_<kind>``.
        Files: ``index.faiss`` (faiss's own format), ``words.npz`` (where each text's
        words start, each word's character span, a hash of each text), ``texts.json``
        and ``context_index.json`` (layer, subwords, kind, what identifies the corpus and
        its model, and the SHA-256 of the other three files). Each file is written whole
        (a temporary file moved into place) and the metadata last, so
        :func:`~bertviz_kit.load_context_index` refuses a damaged folder or files of two saves.
        """
        faiss = _faiss()
        if path is None:
            base = getattr(self.corpus, "path", None)
            if base is None:
                raise InvalidParameterError(
                    "path=None saves next to a store, but this index was built on an in-memory corpus; "
                    "give a folder.")
            path = Path(base) / f"context_index_layer{self.layer}_{self.subwords}_{self.kind}"
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise InvalidParameterError(f"path {str(root)!r} is a file; give a folder for the index.")
        root.mkdir(parents=True, exist_ok=True)
        tables = io.BytesIO()
        np.savez(tables, word_starts=self._word_starts, spans=self._spans, text_hashes=self._text_hashes)
        files = {
            _FAISS_FILE: faiss.serialize_index(self.index).tobytes(),
            _TABLES: tables.getvalue(),
            _TEXTS: json.dumps(self.texts, ensure_ascii=False).encode("utf-8"),
        }
        for name, data in files.items():
            write_atomic(root / name, data)
        meta = {**self.meta, "version": _VERSION, "nprobe": self.nprobe, "ef_search": self.ef_search,
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
        write_atomic(root / _META, (json.dumps(meta, indent=1) + "\n").encode("utf-8"))
        return root


def _check_kind_options(kind: str, nlist: int | None, nprobe: int | None, n_words: int) -> tuple[int, int]:
    if kind != "ivf":
        if nlist is not None or nprobe is not None:
            raise InvalidParameterError(f"nlist and nprobe go with kind='ivf'; got kind={kind!r}.")
        return 0, 0
    nlist = nlist if nlist is not None else max(1, min(int(4 * math.sqrt(n_words)), n_words // 39))
    if nlist > n_words:
        raise InvalidParameterError(f"nlist must be at most the number of words ({n_words}); got {nlist}.")
    nprobe = min(nprobe if nprobe is not None else max(1, nlist // 8), nlist)
    return nlist, nprobe


@validate_params({
    "layer": Layer("corpus"),
    "corpus": IS_CORPUS,
    "subwords": Options(SUBWORD_MODES),
    "kind": Options(INDEX_KINDS),
    "nlist": NoneOr(Interval(int, 1)),
    "nprobe": NoneOr(Interval(int, 1)),
    "m": Interval(int, 4),
    "ef_search": Interval(int, 1),
    "train_size": NoneOr(Interval(int, 1)),
})
def build_context_index(
    corpus: Corpus,
    layer: int = -1,
    subwords: str = "mean",
    *,
    kind: str = "flat",
    nlist: int | None = None,
    nprobe: int | None = None,
    m: int = 32,
    ef_search: int = 64,
    train_size: int | None = None,
) -> ContextIndex:
    """Pool every word occurrence of ``corpus`` at ``layer`` into a faiss index (needs ``[search]``).

    Parameters
    ----------
    corpus : Encodings, Store or list of Encoding
        Read block by block (a store shard by shard); the index keeps a reference to it.
    layer : int, default -1
        Model layer (0 = embeddings, -1 = the last); must be stored in the corpus.
    subwords : {"mean", "first", "last", "sum", "max"}
        How the pieces of a split word become one vector (queries use the same).
    kind : {"flat", "ivf", "hnsw"}, default "flat"
        ``flat``: exact, the same matches as :func:`~bertviz_kit.nearest_contexts`.
        ``ivf``: ``nlist`` clusters trained on a sample of ``train_size`` vectors spread
        over the corpus; a query visits ``nprobe`` clusters. ``hnsw``: a graph
        with ``m`` links per vector, ``ef_search`` candidates per query. Both approximate.
    nlist : int, optional
        ``ivf`` clusters; default ``4 * sqrt(n_words)`` (at most ``n_words / 39``).
    nprobe : int, optional
        ``ivf`` clusters visited per query; default ``nlist / 8``. Settable later as
        ``index.nprobe``.
    m : int, default 32
        ``hnsw`` links per vector.
    ef_search : int, default 64
        ``hnsw`` candidates per query (raised to ``k`` when smaller); ``index.ef_search``.
    train_size : int, optional
        ``ivf`` training sample, spread evenly over the corpus; default ``64 * nlist``.

    Returns
    -------
    ContextIndex
        ``index.search(e, word, k)`` answers queries; ``index.save()`` writes it.

    Raises
    ------
    ImportError
        faiss is not installed (``pip install "bertviz-kit[search]"``).
    InvalidParameterError
        A layer not stored in the corpus, options of another kind.
    """
    faiss = _faiss()
    corpus = as_corpus(corpus, "corpus")
    row = stored_row(corpus, layer)
    lid = int(corpus.layer_ids[row])
    counts = corpus.word_counts().numpy().astype(np.int64)
    word_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_words = int(word_starts[-1])
    if n_words == 0:
        raise InvalidParameterError("corpus has no words to index.")
    nlist, nprobe = _check_kind_options(kind, nlist, nprobe, n_words)
    t0 = time.perf_counter()
    dim = corpus.dim
    # Pool every block first (one pass over the corpus), then hand the vectors to faiss: ivf
    # trains on a sample of them without a second pass. Blocks go to faiss one by one and are
    # freed, so memory peaks near one copy of the vectors.
    hashes = np.zeros(len(corpus), dtype=np.int64)
    spans = np.zeros((n_words, 2), dtype=np.int64)
    texts: list[str] = []
    pooled: list[np.ndarray] = []
    added = 0
    for first, b in corpus.blocks():
        texts += b.texts
        hashes[first:first + len(b)] = [_text_hash(t) for t in b.texts]
        v = _word_vectors(b, row, subwords, first)
        if v.shape[0]:
            pooled.append(v)
            spans[added:added + v.shape[0]] = block_spans(b).numpy()
        added += v.shape[0]
    if added != n_words:  # pragma: no cover - the corpus changed under us
        raise RuntimeError(f"the corpus gave {added} word vectors but counts {n_words} words.")
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        size = min(n_words, train_size if train_size is not None else 64 * nlist)
        stride = max(1, n_words // size)  # a sample spread evenly over the corpus
        sample, at = [], 0
        for v in pooled:
            sample.append(v[(-at) % stride::stride])
            at += v.shape[0]
        index.train(np.ascontiguousarray(np.concatenate(sample)[:size]))
        del sample
    while pooled:
        index.add(pooled.pop(0))
    meta = {
        "format": _FORMAT, "version": _VERSION, "kind": kind, "layer": lid, "subwords": subwords,
        "dim": dim, "n_texts": len(corpus), "n_words": n_words, "model": corpus.model_name,
        "model_fingerprint": corpus.model_fingerprint,
        "texts_sha256": _texts_digest(texts), "store": _store_identity(corpus),
        "word_counts_sha256": hashlib.sha256(counts.tobytes()).hexdigest(),
        "nlist": nlist or None, "nprobe": nprobe or None, "m": m if kind == "hnsw" else None,
        "ef_search": ef_search if kind == "hnsw" else None, "faiss": getattr(faiss, "__version__", "?"),
    }
    return ContextIndex(corpus, index, meta, texts, word_starts, spans, hashes, time.perf_counter() - t0)


@validate_params({"path": PATH,
                  "corpus": NoneOr(IS_CORPUS,
                                   "the corpus recorded in the index")})
def load_context_index(path: str | os.PathLike, corpus: Corpus | None = None) -> ContextIndex:
    """Read an index written by :meth:`ContextIndex.save`.

    Parameters
    ----------
    path : str or Path
        The index folder.
    corpus : Encodings, Store or list of Encoding, optional
        The corpus it was built on, checked against the index: model, width,
        layer, text count, words per text, and the texts themselves (a store by
        its manifest's text fingerprint and shard checksums, without reading the
        shards). Without it the index answers queries on its own (its texts
        travel with it); encode queries with the model it names
        (``index.meta["model"]``).

    Raises
    ------
    ImportError
        faiss is not installed.
    FileNotFoundError
        No index at ``path``.
    CorruptStoreError
        The metadata is unreadable or of an unknown version, a file is missing or does not
        match the checksum the metadata records (damaged, or from another save).
    InvalidParameterError
        The corpus is not the one the index was built on (another model, other texts, a
        store part re-extracted since).
    """
    faiss = _faiss()
    check("path", path, Instance(str, os.PathLike, label="a folder path"))
    root = Path(path)
    meta = _read_meta(root)
    if corpus is not None:
        corpus = as_corpus(corpus, "corpus")
        _check_corpus(root, meta, corpus)
    data = _read_files(root, meta)
    try:
        tables = np.load(io.BytesIO(data[_TABLES]))
        texts = json.loads(data[_TEXTS].decode("utf-8"))
        index = faiss.deserialize_index(np.frombuffer(data[_FAISS_FILE], dtype=np.uint8))
        word_starts, spans, hashes = tables["word_starts"], tables["spans"], tables["text_hashes"]
        ok = (isinstance(texts, list) and _texts_digest(texts) == meta["texts_sha256"]
              and index.ntotal == meta["n_words"] and index.d == meta["dim"]
              and spans.shape == (meta["n_words"], 2) and word_starts.shape == (len(texts) + 1,)
              and hashes.shape == (len(texts),))
    except Exception as err:  # noqa: BLE001 - numpy, json and faiss raise many kinds on damaged bytes
        raise CorruptStoreError(f"the files of the index at {str(root)!r} are damaged ({type(err).__name__}: "
                                f"{err}); rebuild it with bk.build_context_index.") from None
    if not ok:
        raise CorruptStoreError(f"the files of the index at {str(root)!r} disagree with its {_META}: "
                                f"rebuild it with bk.build_context_index.")
    return ContextIndex(corpus, index, meta, texts, word_starts, spans, hashes)


_META_TYPES = {"kind": str, "layer": int, "subwords": str, "dim": int, "n_texts": int, "n_words": int,
               "texts_sha256": str}


def _read_meta(root: Path) -> dict[str, Any]:
    """The index's metadata, or CorruptStoreError saying what is wrong with it."""
    if not (root / _META).is_file():
        raise FileNotFoundError(f"{str(root)!r} is not a context index: it has no {_META}.")
    try:
        meta = json.loads((root / _META).read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ValueError("it is not the metadata of a bertviz_kit context index")
        if meta.get("version") not in (1, _VERSION):
            raise ValueError(f"format version {meta.get('version')!r} is not one this bertviz_kit reads")
        for key, kind in _META_TYPES.items():
            if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
                raise ValueError(f"{key} is {meta.get(key)!r}, not a {kind.__name__}")
        if meta["version"] >= 2 and not (isinstance(meta.get("files"), dict)
                                         and set(meta["files"]) == {_FAISS_FILE, _TABLES, _TEXTS}):
            raise ValueError("it does not list the checksums of the index's files")
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        why = "nested too deeply" if isinstance(err, RecursionError) else err
        raise CorruptStoreError(f"{str(root / _META)!r} is unreadable ({why}); rebuild the index with "
                                f"bk.build_context_index.") from None
    return meta


def _read_files(root: Path, meta: dict[str, Any]) -> dict[str, bytes]:
    """The index's three files, each checked against the SHA-256 its metadata records (version 2)."""
    data = {}
    for name in (_FAISS_FILE, _TABLES, _TEXTS):
        try:
            data[name] = (root / name).read_bytes()
        except OSError as err:
            raise CorruptStoreError(f"the index at {str(root)!r} lacks {name} ({err.strerror}); rebuild it with "
                                    f"bk.build_context_index.") from None
        want = meta.get("files", {}).get(name)
        if want is not None and hashlib.sha256(data[name]).hexdigest() != want:
            raise CorruptStoreError(
                f"the files of the index at {str(root)!r} do not match its {_META} ({name} is damaged, or "
                f"comes from another save); save the index again, or rebuild it with bk.build_context_index.")
    return data


def _check_corpus(root: Path, meta: dict[str, Any], corpus: Corpus) -> None:
    """Refuse a corpus the index was not built on (model, width, texts, words, layer)."""
    made_by = SimpleNamespace(model_name=meta.get("model"), model_fingerprint=meta.get("model_fingerprint"))
    check_same_model(corpus, made_by, "corpus", f"the index at {str(root)!r}",
                     "rebuild the index with bk.build_context_index")
    counts = corpus.word_counts().numpy().astype(np.int64)
    found = {
        "model": corpus.model_name, "dim": corpus.dim, "n_texts": len(corpus),
        "word_counts_sha256": hashlib.sha256(counts.tobytes()).hexdigest(),
    }
    identity = _store_identity(corpus)
    if meta.get("store") is not None and identity is not None:
        found["store"] = identity  # the manifest's text fingerprint and shard checksums: nothing to read
    else:
        found["texts_sha256"] = _texts_digest(t for _, b in corpus.blocks() for t in b.texts)
    wrong = [f"{k} {meta.get(k)!r} (index) vs {v!r} (corpus)" for k, v in found.items() if meta.get(k) != v]
    if meta["layer"] not in corpus.layer_ids:
        wrong.append(f"layer {meta['layer']} is not stored in the corpus (layers {list(corpus.layer_ids)})")
    if wrong:
        raise InvalidParameterError(
            f"the index at {str(root)!r} was not built on this corpus: {'; '.join(wrong)}. Rebuild it with "
            f"bk.build_context_index.")

