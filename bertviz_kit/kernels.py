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
BLAS libraries do). ``bk.load(cpu_linear="auto")`` (the default) times both kernels
once per process (:func:`onednn_speedup`) and uses oneDNN where it is faster.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["CPU_LINEAR", "PackedLinears", "onednn_available", "onednn_speedup"]

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


@functools.lru_cache(maxsize=8)
def onednn_speedup(dim: int, rows: int = 512) -> float:
    """How many times faster oneDNN's packed kernel is than ``F.linear`` here.

    Timed once per process and width on one feed-forward-shaped product
    (``[rows, dim] @ [dim, 4 dim]``, best of 5 each, ~10-100 ms in all), with
    PyTorch's current thread count. ``cpu_linear="auto"`` uses oneDNN only where
    this is clearly above 1.
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
