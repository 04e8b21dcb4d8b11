"""Memory of the corpus object: what ``enc.encode`` keeps, and analysis of a store at two sizes.

Each measurement runs in a fresh subprocess and reads the peak resident set size
(``ru_maxrss``) of that process:

* **encode**: peak RSS growth of ``enc.encode(N sentences)`` (all layers, float32, the
  bundled model) over the process's RSS just before the call, against the bytes of the
  hidden states the returned :class:`~bertviz_kit.Encodings` keeps (target: at most 1.15x).
* **store analysis**: ``bk.anisotropy(store)`` (exact, every pair) then
  ``bk.sentence_vectors(store)`` over a store of 10,000 sentences against one of 1,000
  (float16, all layers); peak RSS ratio (target: at most 1.3x: memory is bounded by one
  shard, not by the corpus).

    python benchmarks/corpus_memory.py [--encode-n 5000] [--store-sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from _common import run_snippet

ENCODE = """
import gc, resource, sys
sys.path.insert(0, {here!r})
from _common import load_sentences
import torch, bertviz_kit as bk
n = int(sys.argv[1])
texts = load_sentences(None, n)
enc = bk.load(device="cpu")
enc.encode(texts[:64])  # warm up: kernels packed, allocator primed, tokenizer ready
gc.collect()
def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
before = rss_kib()
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
es = enc.encode(texts)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(es), es.n_tokens, es.nbytes, before, peak_before, peak, rss_kib())
"""

EXTRACT = """
import sys
sys.path.insert(0, {here!r})
from _common import load_sentences
import bertviz_kit as bk
n, out = int(sys.argv[1]), sys.argv[2]
bk.extract(bk.load(device="cpu"), load_sentences(None, n), out, dtype="float16", progress=False)
"""

ANALYSE = """
import resource, sys, time
import bertviz_kit as bk
store = bk.open_store(sys.argv[1])
t = time.perf_counter()
a = bk.anisotropy(store, n_pairs=None)
v = bk.sentence_vectors(store)
dt = time.perf_counter() - t
print(len(store), tuple(v.shape), round(float(a[-1]), 4), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      round(dt, 1))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encode-n", type=int, default=5000, help="sentences for the encode measurement (0: skip it)")
    p.add_argument("--store-sizes", default="1000,10000", help="two store sizes (sentences); '': skip")
    args = p.parse_args()
    t0 = time.perf_counter()
    if args.encode_n:
        encode_growth(args.encode_n)
    store_analysis([int(s) for s in args.store_sizes.split(",")] if args.store_sizes else [])
    print(f"total {time.perf_counter() - t0:.0f} s")


def encode_growth(count: int) -> None:
    n, tokens, nbytes, before, peak_before, peak, after = map(int, run_snippet(ENCODE, str(count))[-7:])
    mib = 1 / 1024
    growth = (max(peak, peak_before) - before) * 1024
    print(f"encode: {n} sentences, {tokens} tokens, all {7} layers kept in float32")
    print(f"  hidden states kept: {nbytes / 2**20:8.1f} MiB")
    print(f"  peak RSS growth:    {growth / 2**20:8.1f} MiB (RSS {before * mib:.0f} -> peak {peak * mib:.0f} MiB)")
    print(f"  ratio: {growth / nbytes:.3f}x the bytes kept (target <= 1.15x)")


def store_analysis(sizes: list[int]) -> None:
    if not sizes:
        return
    mib = 1 / 1024
    peaks = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = os.path.join(tmp, f"store-{size}")
            run_snippet(EXTRACT, str(size), folder)
            count, rows, dim, aniso, rss, seconds = run_snippet(ANALYSE, folder)[-6:]
            peaks.append(int(rss))
            print(f"store analysis: {count:>6s} sentences (anisotropy every pair + sentence_vectors), "
                  f"peak RSS {int(rss) * mib:7.1f} MiB, {seconds} s; top-layer anisotropy {aniso}")
    print(f"  peak RSS ratio {sizes[-1]} vs {sizes[0]} sentences: {peaks[-1] / peaks[0]:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
