"""Peak memory of streaming extraction: 500 vs 5,000 sentences (must not grow with the corpus).

Each size runs in a fresh subprocess (ru_maxrss of that process), on sentences
from the sentence polarity corpus (Pang & Lee, CC BY 4.0; the copy shipped in
the package, ``bk.datasets.sentence_polarity``), all layers kept in float16.
Prints both peaks and their ratio (target: at most 1.3x).

    python benchmarks/extract_memory.py [--sizes 500,5000] [--data FOLDER]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

CHILD = """
import resource, sys, time
from pathlib import Path
import bertviz_kit as bk
data, n, out, cpu_linear = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if data == "bundled":
    texts = bk.datasets.sentence_polarity(order="grouped").texts   # positive, then negative
else:
    texts = []
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        texts += Path(data).joinpath(name).read_text(encoding="utf-8", errors="replace").splitlines()
texts = texts[::2][:n] if n <= len(texts) // 2 else texts[:n]   # every other snippet
enc = bk.load(device="cpu", cpu_linear=cpu_linear)
t = time.perf_counter()
store = bk.extract(enc, texts, out, progress=False)
dt = time.perf_counter() - t
print(len(store), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, round(dt, 1))
"""


def run(data: str, n: int, cpu_linear: str = "auto") -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", CHILD, data, str(n), os.path.join(tmp, "store"), cpu_linear],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    count, rss_kb, seconds = out.stdout.split()[-3:]
    return int(count), int(rss_kb) / 1024, float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="bundled",
                        help="'bundled' (default: the corpus shipped in the package) or a folder holding "
                             "rt-polarity.pos and rt-polarity.neg")
    parser.add_argument("--sizes", default="500,5000", help="comma-separated corpus sizes, smallest first")
    parser.add_argument("--cpu-linear", default="auto", choices=("auto", "onednn", "torch"),
                        help="float32 linear kernels on the CPU (see bk.load)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    t = time.perf_counter()
    peaks = []
    for n in sizes:
        count, rss, seconds = run(args.data, n, args.cpu_linear)
        peaks.append(rss)
        print(f"{count:6d} sentences: peak RSS {rss:7.1f} MiB, extraction {seconds:.1f} s")
    print(f"peak RSS ratio {sizes[-1]} vs {sizes[0]} sentences: {peaks[-1] / peaks[0]:.2f}x (target <= 1.3x)")
    print(f"total {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
