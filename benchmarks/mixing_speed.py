"""Context mixing on one sentence, every layer: how long each method takes on the bundled model.

Times ``bk.context_mixing`` (one hooked forward pass plus the method's arithmetic) for every
method on the bank sentence (22 tokens, all-MiniLM-L6-v2, 6 layers) and prints the median of
``--repeat`` runs after one warm-up run, ``bk.layer_internals`` and ``bk.embedding_sum`` too.
Value zeroing runs each layer once more per zeroed token (batched: ``n_tokens`` copies of the
layer per layer); its cost is printed as a multiple of the hooked forward pass. The target is
under a second for every method except value zeroing.

    python benchmarks/mixing_speed.py [--repeat 5] [--threads 0] [--text "..."]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _common import BANK_TEXT


def _median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="timed runs per method (median printed)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: leave torch's default)")
    p.add_argument("--text", default=BANK_TEXT, help="the sentence")
    args = p.parse_args(argv)
    import torch

    import bertviz_kit as bk

    if args.threads:
        torch.set_num_threads(args.threads)
    enc = bk.load()
    e = enc.encode(args.text)
    print(f"model {enc.name.split('/')[-1]}: {enc.n_layers} layers, dim {enc.dim}; {e.n_tokens} tokens; "
          f"torch threads {torch.get_num_threads()}; median of {args.repeat} runs")
    times = {}
    times["layer_internals (one layer)"] = _median_time(lambda: bk.layer_internals(e, -1, enc), args.repeat)
    times["embedding_sum"] = _median_time(lambda: bk.embedding_sum(e, enc), args.repeat)
    for method in bk.MIXING_METHODS:
        for level in ("token", "word"):
            key = f"context_mixing {method} ({level})"
            times[key] = _median_time(lambda m=method, lv=level: bk.context_mixing(e, m, enc=enc, level=lv),
                                      args.repeat)
    plain = _median_time(lambda: enc.encode(args.text), args.repeat)
    for key, t in times.items():
        print(f"{key:<40} {1000 * t:8.1f} ms")
    print(f"{'enc.encode (plain forward, reference)':<40} {1000 * plain:8.1f} ms")
    vz = times["context_mixing value_zeroing (token)"]
    hooked = times["context_mixing attention (token)"]  # one hooked forward pass and a mean
    print(f"value zeroing: {e.n_tokens} zeroed copies x {enc.n_layers} layers = {e.n_tokens * enc.n_layers} "
          f"layer passes (batched per layer), {vz / hooked:.1f}x the hooked forward pass of the other methods")
    five = sum(t for k, t in times.items() if k.startswith("context_mixing") and "(token)" in k and "zeroing" not in k)
    print(f"the five methods but value zeroing, token level, one after another: {1000 * five:.1f} ms")
    slow = [k for k, t in times.items() if t >= 1.0 and "value_zeroing" not in k]
    print("all methods but value zeroing under 1 s:", not slow)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
