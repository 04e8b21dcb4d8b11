"""Helpers shared by the benchmark scripts (corpus loading, FLOP counts, matmul ceiling)."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
#: ``--data`` default: the sentence polarity corpus shipped in the package (bk.datasets).
DEFAULT_DATA = "bundled"
BANK_TEXT = (
    "After stealing money from the bank vault, the bank robber was seen "
    "fishing on the Mississippi river bank."
)


def load_sentences(folder: str | os.PathLike | None, n: int) -> list[str]:
    """The first ``n`` sentences of the polarity corpus, positive and negative interleaved.

    ``folder`` None or ``"bundled"`` reads the copy shipped in the package
    (``bk.datasets.sentence_polarity(n)``); any other value is a folder holding
    ``rt-polarity.pos`` and ``rt-polarity.neg`` (one snippet a line, UTF-8).
    """
    if folder is None or str(folder) == DEFAULT_DATA:
        import bertviz_kit as bk

        limit = 2 * 5331
        if not 1 <= n <= limit:
            raise SystemExit(f"error: --n must be in [1, {limit}] (the bundled polarity corpus); got {n}.")
        return bk.datasets.sentence_polarity(n).texts
    folder = Path(folder)
    files = [folder / "rt-polarity.pos", folder / "rt-polarity.neg"]
    for f in files:
        if not f.is_file():
            raise SystemExit(f"error: {f} not found; pass --data with a folder holding rt-polarity.pos "
                             f"and rt-polarity.neg, or leave it out for the bundled corpus.")
    pos, neg = (f.read_text(encoding="utf-8", errors="replace").splitlines() for f in files)
    texts = [t.strip() for pair in zip(pos, neg) for t in pair if t.strip()]
    if n > len(texts):
        raise SystemExit(f"error: --n {n} is more than the {len(texts)} sentences in {folder}.")
    return texts[:n]


def flops_per_text(config, n_tokens: int) -> float:
    """Forward FLOPs of a BERT-like encoder on one sequence of ``n_tokens`` tokens.

    Per layer and token: Q, K, V and output projections (``4 d^2`` multiply-adds), the
    feed-forward block (``2 d f``), and attention scores plus weighted sum (``2 n d``).
    One multiply-add is 2 FLOPs. Embeddings, layer norms and activations are not counted.
    """
    d = config.hidden_size
    f = config.intermediate_size
    per_token = 4 * d * d + 2 * d * f + 2 * n_tokens * d
    return 2.0 * per_token * n_tokens * config.num_hidden_layers


def matmul_rates(device: str = "cpu", size: int = 2048, seconds: float = 1.0) -> dict[str, float]:
    """fp32 matrix-multiply throughput (GFLOP/s) of ``[size, size] @ [size, size]`` per path.

    Each fp32 GEMM PyTorch offers here, best of 3 timings: ``torch.mm`` (the BLAS: MKL on
    x86) and, on a CPU, oneDNN's kernel with the weight packed once. The machine's ceiling
    is the best of them: MKL runs AVX2 code on some AVX-512 CPUs (AMD), where oneDNN is ~2x
    faster.
    """
    import torch

    from bertviz_kit.kernels import _linear, onednn_available

    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    paths = {"torch.mm": lambda: torch.mm(a, b)}
    if device == "cpu" and onednn_available():
        packed = torch.ops.mkldnn._reorder_linear_weight(b.t().contiguous())
        paths["oneDNN"] = lambda: _linear(a, packed, None)
    rates = {}
    with torch.inference_mode():
        for name, fn in paths.items():
            fn()
            sync()
            t = time.perf_counter()
            fn()
            sync()
            reps = max(2, int(seconds / 3 / max(time.perf_counter() - t, 1e-6)))
            best = 0.0
            for _ in range(3):
                t = time.perf_counter()
                for _ in range(reps):
                    fn()
                sync()
                best = max(best, 2.0 * size**3 * reps / (time.perf_counter() - t) / 1e9)
            rates[name] = best
    return rates


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def median(xs) -> float:
    return statistics.median(xs)


def run_snippet(code: str, *args: str) -> list[str]:
    """Run ``code`` (``{here}`` = this folder) in a fresh Python process: its peak RSS is its own.

    Returns what it printed, split on whitespace; a failure ends the benchmark with its stderr."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code.format(here=str(HERE)), *args], capture_output=True,
                         text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return out.stdout.split()
