"""Peak memory of the exact nearest-context search on a store: 1,000 vs 10,000 sentences (bounded).

``bk.nearest_contexts`` streams a store shard by shard with a running top-k, so
its memory should not grow with the corpus. For each size this script writes a
store of the first N sentences of the polarity corpus (Pang & Lee, CC BY 4.0,
``bk.datasets.sentence_polarity``; the bundled MiniLM, layers 1 and 6 kept in
float16), then, in a fresh subprocess that never loads the model, opens the
store, takes the query "film" from one of its sentences and searches the whole
store at both layers. It prints the process's peak RSS, the peak's growth over
the RSS just before the searches, and the ratios between the sizes (target:
peak ratio at most 1.3x).

    python benchmarks/search_memory.py [--sizes 1000,10000] [--layers 1,-1] [--k 10]
    python benchmarks/search_memory.py --smoke       # 50 and 200 sentences, seconds
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from _common import load_sentences, run_snippet

EXTRACT = """
import sys, time
sys.path.insert(0, {here!r})
from _common import load_sentences
import bertviz_kit as bk
n, out, layers = int(sys.argv[1]), sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
t = time.perf_counter()
store = bk.extract(bk.load(device="cpu"), load_sentences(None, n), out, layers=layers, dtype="float16",
                   progress=False)
print(len(store), round(time.perf_counter() - t, 1))
"""

SEARCH = """
import gc, resource, sys, time
import bertviz_kit as bk
path, qi, word, k = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
layers = [int(x) for x in sys.argv[5].split(",")]
def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
store = bk.open_store(path)
e = store[qi]   # the query: a record of the store itself (the model is never loaded here)
n_words = int(store.word_counts().sum())
gc.collect()
before = rss_kib()
t = time.perf_counter()
for layer in layers:
    hits = bk.nearest_contexts(store, e, word, layer=layer, k=k)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(store), n_words, len(hits), before, peak, round(dt, 2))
"""


def _query(n: int, word: str) -> int:
    """Index of the first of the first ``n`` sentences holding ``word`` as a word."""
    for i, t in enumerate(load_sentences(None, n)):
        if word in t.lower().split():
            return i
    raise SystemExit(f"error: no sentence among the first {n} holds {word!r}; pick another --word.")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000", help="comma-separated store sizes (sentences), smallest first")
    p.add_argument("--layers", default="1,-1", help="layers stored and searched (0 = embeddings, -1 = last)")
    p.add_argument("--word", default="film", help="query word (its first occurrence in the corpus)")
    p.add_argument("--k", type=int, default=10, help="matches per search")
    p.add_argument("--smoke", action="store_true", help="50 and 200 sentences, the last layer: runs in seconds")
    args = p.parse_args()
    if args.smoke:
        args.sizes, args.layers = "50,200", "-1"
    sizes = [int(s) for s in args.sizes.split(",")]
    qi = _query(sizes[0], args.word)
    t0 = time.perf_counter()
    mib = 1 / 1024
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = os.path.join(tmp, f"store-{size}")
            count, seconds = run_snippet(EXTRACT, str(size), folder, args.layers)[-2:]
            n, n_words, n_hits, before, peak, dt = run_snippet(SEARCH, folder, str(qi), args.word, str(args.k),
                                                        args.layers)[-6:]
            disk = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 2**20
            growth = (int(peak) - int(before)) * mib
            rows.append((int(peak) * mib, growth))
            print(f"{int(n):6d} sentences, {int(n_words):7d} words, store {disk:6.1f} MiB (extracted in {seconds} s): "
                  f"search at layers {args.layers} {float(dt):.2f} s, peak RSS {int(peak) * mib:6.1f} MiB, "
                  f"growth over the RSS before the search {growth:6.1f} MiB")
    (p0, g0), (p1, g1) = rows[0], rows[-1]
    print(f"peak RSS ratio {sizes[-1]} vs {sizes[0]} sentences: {p1 / p0:.2f}x (target <= 1.3x); "
          f"growth {g0:.1f} -> {g1:.1f} MiB ({g1 / max(g0, 1e-9):.2f}x) for {sizes[-1] / sizes[0]:.0f}x the sentences")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
