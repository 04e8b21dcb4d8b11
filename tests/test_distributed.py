"""Extraction as a map over shards on Dask (the `[distributed]` extra): no scheduler of our own."""

from __future__ import annotations

import threading

import dask.bag as db
import torch

import bertviz_kit as bk

_local = threading.local()


def _encoder(model: str) -> bk.Encoder:
    """One encoder per worker thread, loaded once (in a process pool: once per process)."""
    if getattr(_local, "model", None) != model:
        _local.model, _local.encoder = model, bk.load(model, device="cpu")
    return _local.encoder


def test_dask_bag_map_over_shards(tiny, tiny_path, tmp_path):
    texts = [f"the bank {'river ' * (i % 3)}robber number {i}" for i in range(22)]
    chunks = [texts[i : i + 5] for i in range(0, len(texts), 5)]
    out = tmp_path / "corpus"

    def extract_part(item: tuple[int, list[str]]) -> str:
        k, chunk = item
        store = bk.extract(_encoder(tiny_path), chunk, out / f"part-{k:05d}", layers="last",
                           shard_size=2, progress=False)
        return str(store.path)

    bag = db.from_sequence(list(enumerate(chunks)), npartitions=3).map(extract_part)
    parts = bag.compute(scheduler="threads", num_workers=2)
    assert parts == [str(out / f"part-{k:05d}") for k in range(len(chunks))]
    records = [e for p in parts for e in bk.open_store(p)]  # the parts, read in order
    assert [e.text for e in records] == texts
    fresh = tiny.encode(texts)
    for i in (0, 4, 5, 13, 21):
        assert torch.allclose(records[i].hidden_states.float(), fresh[i].hidden_states[[-1]], atol=2e-2)
    # Running the same bag again resumes every part: nothing is re-encoded or duplicated.
    manifests = [(out / f"part-{k:05d}" / "manifest.json").read_text() for k in range(len(chunks))]
    assert bag.compute(scheduler="threads", num_workers=2) == parts
    assert [(out / f"part-{k:05d}" / "manifest.json").read_text() for k in range(len(chunks))] == manifests


def test_local_cluster_of_two_worker_processes(tiny, tiny_path, tmp_path):
    """The documented recipe on dask.distributed: two worker processes (not threads), each
    loading the encoder once, parts written side by side and opened as one store."""
    from dask.distributed import Client, LocalCluster

    texts = [f"the bank {'river ' * (i % 3)}robber number {i}" for i in range(18)]
    out = tmp_path / "corpus"
    items = [(str(out / f"part-{k:05d}"), texts[i : i + 4]) for k, i in enumerate(range(0, len(texts), 4))]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        bag = db.from_sequence(items, npartitions=len(items))
        parts = bag.starmap(bk.extract_part, model=tiny_path, layers="last", shard_size=2).compute(
            scheduler=client)
        pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert len(pids) == 2  # two separate worker processes ran the map
    assert parts == [p for p, _ in items]
    store = bk.open_store(out)  # the parent folder: parts in order, one store
    assert len(store) == len(texts) and len(store.parts) == len(items) and store.complete
    assert [e.text for e in store] == texts
    fresh = tiny.encode(texts, layers="last")
    assert torch.allclose(bk.sentence_vectors(store), bk.sentence_vectors(fresh), atol=2e-2)
