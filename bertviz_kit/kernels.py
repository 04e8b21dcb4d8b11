"""Faster float32 linear layers on the CPU: oneDNN kernels with weights packed once.

PyTorch runs a float32 ``nn.Linear`` on the CPU through its BLAS (MKL on x86).
oneDNN, which PyTorch also ships (``torch.backends.mkldnn``) and uses for its own
compiled CPU graphs, has float32 matrix kernels that reach the CPU's full vector
width with weights reordered once into its blocked layout. On some CPUs the two
differ a lot: on an AMD Zen 5 machine (AVX-512) MKL's float32 GEMM ran at ~210
GFLOP/s and oneDNN's at ~470, so a whole BERT forward pass ran ~2x faster.

:class:`PackedLinears` switches a model's ``nn.Linear`` modules to oneDNN only
while it is entered (``with``), only for float32 CPU inputs with no gradient to
record; everything else takes the module's own ``forward``. The model itself is
not changed: no parameters, buffers or state-dict keys are added, and packed
weights are re-packed whenever a weight tensor is replaced or modified in place.
The results are float32 results (they differ from BLAS's in the last bits, as two
BLAS libraries do).

``bk.load(cpu_linear="auto")`` (the default) decides from what the CPU and the
libraries are, never from a timing race, so the same machine and settings always run
the same kernels (:func:`choose_cpu_linear`): oneDNN where the CPU has AVX-512 and
MKL does not run its AVX-512 code on it (MKL keeps its AVX-512 code for Intel CPUs;
on AMD Zen 4/5 it runs AVX2 code at half the width), PyTorch's own kernels everywhere
else (Intel CPUs, CPUs without AVX-512, where both libraries run the same vector
width, non-x86 machines, builds without MKL or oneDNN).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "CPU_LINEAR",
    "PackedLinears",
    "choose_cpu_linear",
    "cpu_flags",
    "mkl_code_path",
    "onednn_available",
    "onednn_speedup",
]

CPU_LINEAR = ("auto", "onednn", "torch")


@functools.lru_cache(maxsize=1)
def onednn_available() -> bool:
    """Whether this PyTorch build runs oneDNN's packed float32 linear kernels here.

    True when the ops exist and a small probe gives ``F.linear``'s result.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(5, 3, 24, generator=gen)
        w = torch.randn(16, 24, generator=gen)
        b = torch.randn(16, generator=gen)
        with torch.inference_mode():
            y = _linear(x, torch.ops.mkldnn._reorder_linear_weight(w), b)
        return bool(torch.allclose(y, F.linear(x, w, b), rtol=1e-4, atol=1e-5))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (empty where there is no such file)."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.lru_cache(maxsize=1)
def mkl_code_path() -> str | None:
    """The processor line MKL prints for itself here (which code it dispatches), or None.

    MKL chooses its code path at run time from the CPU: on an Intel CPU with AVX-512 it
    says so ("... Intel(R) Advanced Vector Extensions 512 (Intel(R) AVX-512) ...");
    on other CPUs it names a narrower path. The line comes from MKL's verbose mode for
    one small product, read from the process's standard output. None where PyTorch is
    built without MKL or the line cannot be read.
    """
    if not torch.backends.mkl.is_available():
        return None
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        return None
    try:
        with tempfile.TemporaryFile() as f:
            os.dup2(f.fileno(), 1)
            try:
                with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
                    a = torch.ones(8, 8)
                    a @ a
            finally:
                os.dup2(saved, 1)
            f.seek(0)
            text = f.read().decode("utf-8", errors="replace")
    except (OSError, RuntimeError):
        return None
    finally:
        os.close(saved)
    line = next((ln for ln in text.splitlines() if ln.startswith("MKL_VERBOSE") and "processors" in ln), None)
    if line is None:
        return None
    found = re.search(r"architecture (.*?processors)", line)
    return found.group(1) if found else line.removeprefix("MKL_VERBOSE ").strip()


def _mkl_runs_avx512(code_path: str | None) -> bool:
    return code_path is not None and bool(re.search(r"AVX-?512|Advanced Vector Extensions 512", code_path))


@functools.lru_cache(maxsize=1)
def choose_cpu_linear() -> tuple[str, str]:
    """The float32 CPU kernels ``cpu_linear="auto"`` runs here, and why.

    Decided from the CPU's flags, PyTorch's build and MKL's own dispatch, never by
    timing, so it is the same in every process on the same machine.

    Returns
    -------
    (str, str)
        ``("onednn" | "torch", reason)``.
    """
    if not onednn_available():
        return "torch", "this PyTorch build has no oneDNN packed linear kernels"
    flags = cpu_flags()
    if "avx512f" not in flags:
        return "torch", "no AVX-512 on this CPU: MKL and oneDNN run the same vector width"
    code_path = mkl_code_path()
    if code_path is None:
        if torch.backends.mkl.is_available():
            return "torch", "MKL's code path could not be read; PyTorch's own kernels are the safe default"
        return "torch", "this PyTorch build has no MKL (its own BLAS is used as is)"
    if _mkl_runs_avx512(code_path):
        return "torch", f"MKL runs its AVX-512 code on this CPU ({code_path})"
    return "onednn", f"this CPU has AVX-512 but MKL runs narrower code on it ({code_path})"


@functools.lru_cache(maxsize=8)
def onednn_speedup(dim: int, rows: int = 512) -> float:
    """How many times faster oneDNN's packed kernel is than ``F.linear`` here.

    Timed once per process and width on one feed-forward-shaped product
    (``[rows, dim] @ [dim, 4 dim]``, best of 5 each, ~10-100 ms in all), with
    PyTorch's current thread count. A diagnostic for benchmarks: ``cpu_linear="auto"``
    does not time anything (see :func:`choose_cpu_linear`).
    """
    import time

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, dim, generator=gen)
    w = torch.randn(4 * dim, dim, generator=gen)
    b = torch.randn(4 * dim, generator=gen)
    with torch.inference_mode():
        packed = torch.ops.mkldnn._reorder_linear_weight(w)
        paths = (lambda: F.linear(x, w, b), lambda: _linear(x, packed, b))
        best = []
        for fn in paths:
            fn()
            times = []
            for _ in range(5):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            best.append(min(times))
    return best[0] / best[1]


def _linear(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


class PackedLinears:
    """While entered, the model's float32 CPU ``nn.Linear`` layers run oneDNN kernels.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose ``nn.Linear`` modules (exactly that class; subclasses such
        as quantized or adapter layers are left alone) are switched.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self._packed: dict[torch.nn.Module, tuple[tuple[int, int], torch.Tensor]] = {}
        self._active: list[torch.nn.Module] = []

    def __getstate__(self) -> dict[str, Any]:
        # Packed weights are opaque oneDNN tensors (no storage to copy or pickle);
        # a copy packs its own on first use.
        return {"model": self.model, "_packed": {}, "_active": []}

    def __enter__(self) -> PackedLinears:
        for m in self.model.modules():
            if type(m) is torch.nn.Linear and "forward" not in vars(m):
                m.forward = functools.partial(self._forward, m)
                self._active.append(m)
        return self

    def __exit__(self, *exc: Any) -> None:
        for m in self._active:
            vars(m).pop("forward", None)
        self._active.clear()

    def _forward(self, m: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
        w = m.weight
        if (
            x.dtype != torch.float32 or w.dtype != torch.float32
            or x.device.type != "cpu" or w.device.type != "cpu"
            or torch.is_grad_enabled() and (w.requires_grad or x.requires_grad)
        ):
            return F.linear(x, w, m.bias)
        return _linear(x, self._pack(m), m.bias)

    def _pack(self, m: torch.nn.Linear) -> torch.Tensor:
        w = m.weight
        try:
            key = (w.data_ptr(), w._version)
        except RuntimeError:  # an inference tensor has no version counter (and cannot change)
            key = (w.data_ptr(), -1)
        hit = self._packed.get(m)
        if hit is None or hit[0] != key:
            hit = (key, torch.ops.mkldnn._reorder_linear_weight(w.detach()))
            self._packed[m] = hit
        return hit[1]
