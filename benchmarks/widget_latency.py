"""Explorer update latency: time per control change, p50 / p95.

Each change runs the real widget callback (through the ipywidgets control, as a
click in the browser does) (slice stored tensors, redraw the panels the change
touches, encode the PNG the browser receives). The peer, measured in the same
run, is what a naive widget would do: run the model again on every change.

Two views: the default one (histogram, heatmap, curves), and all five panels
(with word attention and the lens, whose head and level controls are changed
too).

    python benchmarks/widget_latency.py [--changes 60] [--views default,five]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import bertviz_kit as bk  # noqa: E402

TEXT = ("After stealing money from the bank vault, the bank robber was seen "
        "fishing on the Mississippi river bank.")

VIEWS = {
    "default": bk.DEFAULT_PANELS,
    "five": ("histogram", "heatmap", "curves", "attention", "lens"),
}


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def measure(enc: bk.Encoder, view: str, n_changes: int) -> None:
    panels = VIEWS[view]
    attentions = "attention" in panels
    e = enc.encode(TEXT, attentions=attentions)
    x = bk.explore(e, enc, token=6, layer=3, panels=panels)
    x.widget  # noqa: B018  (build the controls once)
    tokens = [o[1] for o in x.token_w.options]
    controls = [
        (x.layer_w, list(range(enc.n_layers + 1))),
        (x.token_w, tokens),
        (x.layers_w, ["slider", "sum_last4", "last", "concat_last4"]),
        (x.subwords_w, ["mean", "max", "first"]),
    ]
    if attentions:
        controls += [(x.option_w["head"], ["mean", 0, 3, 7]), (x.option_w["level"], ["word", "token"])]
    times, cpu, peer = [], [], []
    by_control: dict[str, list[float]] = {}
    sink = io.StringIO()
    for k in range(n_changes):
        ctl, values = controls[k % len(controls)]
        value = values[(k // len(controls) + 1) % len(values)]
        if ctl.value == value:
            value = values[(values.index(value) + 1) % len(values)]
        with contextlib.redirect_stdout(sink):
            t, c = time.perf_counter(), time.process_time()
            ctl.value = value
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            by_control.setdefault(ctl.description, []).append(times[-1])
            # peer: re-run the model, then draw the same figure
            t = time.perf_counter()
            bk.explore(enc.encode(TEXT, attentions=attentions), enc, panels=panels, **x.state).to_png()
            peer.append(time.perf_counter() - t)
    p50, p95 = percentile(times, 50) * 1e3, percentile(times, 95) * 1e3
    q50 = percentile(peer, 50) * 1e3
    print(f"[{view}: {', '.join(panels)}]")
    print(f"explorer update: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(times)} changes "
          f"(target < 100 ms{'; < 50 ms for the default view' if view == 'default' else ''})")
    print(f"explorer update CPU time: p50 {percentile(cpu, 50) * 1e3:.1f} ms, "
          f"p95 {percentile(cpu, 95) * 1e3:.1f} ms (wall time grows when other processes share the cores)")
    print(f"peer (re-encode + redraw per change): p50 {q50:.1f} ms")
    print(f"ratio peer/explorer (p50): {q50 / p50:.2f}x")
    print(f"mean {statistics.mean(times) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms")
    for name, values in by_control.items():
        print(f"  {name:9s} p50 {percentile(values, 50) * 1e3:6.1f} ms, p95 {percentile(values, 95) * 1e3:6.1f} ms "
              f"({len(values)} changes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--views", default="default,five", help=f"comma-separated, from {tuple(VIEWS)}")
    args = parser.parse_args()
    views = [v for v in args.views.split(",") if v]
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        parser.error(f"--views takes names from {tuple(VIEWS)}; got {unknown}")

    enc = bk.load(device="cpu")
    for view in views:
        measure(enc, view, args.changes)


if __name__ == "__main__":
    main()
