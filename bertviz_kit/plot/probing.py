"""Probe curves: accuracy by layer, scalar-mix weights and cumulative scoring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from .._validation import (
    AXES,
    MPL_KWARGS,
    TITLE,
    Boolean,
    ClassNamed,
    Instance,
    InvalidParameterError,
    check,
    validate_params,
)
from .axes import SMALL_FONT, new_ax, palette

_PROBE = ClassNamed("bertviz_kit.analysis.probing.ProbeResult", label="a ProbeResult (bk.probe_layers)")
_MIX = ClassNamed("bertviz_kit.analysis.probing.ScalarMixResult", label="a ScalarMixResult (bk.scalar_mix_probe)")


@validate_params({"results": (_PROBE, Instance(Mapping, label="a mapping name -> ProbeResult")), "title": TITLE,
                  "chance": Boolean(), "control": Boolean(), "selectivity": Boolean(), "ax": AXES,
                  "kwargs": MPL_KWARGS})
def plot_probe(
    results: Any,
    *,
    title: str | None = "probe accuracy per layer",
    chance: bool = True,
    control: bool = True,
    selectivity: bool = True,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Probe accuracy per layer with a ±1 std band (over folds) and the chance level; with a
    control task, also the control accuracy and the selectivity.

    Parameters
    ----------
    results : ProbeResult or mapping label -> ProbeResult
        From :func:`bertviz_kit.probe_layers`; a mapping draws one colour each.
    chance : bool, default True
        Dashed gray line at the majority-class accuracy.
    control : bool, default True
        For results with a control task (``probe_layers(..., control=True)``):
        the control accuracy, dashed, in the result's colour.
    selectivity : bool, default True
        For results with a control task: ``accuracy - control``, dotted, in
        the result's colour (same y axis).
    ax : Axes, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for every curve (the
        control and selectivity curves keep their own line style and colour).
    """
    from ..analysis.probing import ProbeResult

    if isinstance(results, ProbeResult):
        results = {"probe": results}
    if not isinstance(results, Mapping) or not results or not all(
        isinstance(r, ProbeResult) for r in results.values()
    ):
        raise InvalidParameterError("results must be a ProbeResult or a non-empty mapping label -> ProbeResult "
                        f"(from bk.probe_layers); got {type(results).__name__}.")
    check("control", control, Boolean())
    check("selectivity", selectivity, Boolean())
    ax = new_ax(ax, (6, 4))
    chances = set()
    any_control = False
    for label, r in results.items():
        x = np.asarray(r.layer_ids)
        m, s = r.mean.numpy(), r.std.numpy()
        (line,) = ax.plot(x, m, **{"marker": "o", **kwargs,
                                   "label": f"{label} (best: layer {r.best_layer}, {m.max():.2f})"})
        # +-1 std over folds, clipped to the range an accuracy can take
        ax.fill_between(x, np.clip(m - s, 0, 1), np.clip(m + s, 0, 1), color=line.get_color(), alpha=0.2)
        chances.add(round(r.chance, 4))
        if r.control is not None:
            any_control = True
            colour = line.get_color()
            if control:
                ax.plot(x, r.control.numpy(), **{"marker": "s", "markersize": 4, **kwargs, "linestyle": "--",
                                                 "color": colour, "label": f"{label}: control task"})
            if selectivity:
                sel = r.selectivity.numpy()  # type: ignore[union-attr]
                best = int(np.argmax(sel))
                ax.plot(x, sel, **{"marker": "^", "markersize": 5, **kwargs, "linestyle": ":", "color": colour,
                                   "label": f"{label}: selectivity (best: layer {r.layer_ids[best]}, {sel[best]:.2f})"})
    if chance:
        for c in sorted(chances):
            ax.axhline(c, color="gray", linestyle="--", linewidth=1)
            ax.annotate(f"chance {c:.2f}", (ax.get_xlim()[0], c), xytext=(4, 3), textcoords="offset points",
                        fontsize=8, color="gray")
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("accuracy / selectivity" if any_control else "cross-validated accuracy")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_FONT, loc="best" if any_control else "lower right")
    if title:
        ax.set_title(title)
    return ax



def _mix_results(results: Any, need_cumulative: bool = False) -> dict[str, Any]:
    from ..analysis.probing import ScalarMixResult

    if isinstance(results, ScalarMixResult):
        results = {"probe": results}
    if not isinstance(results, Mapping) or not results or not all(
        isinstance(r, ScalarMixResult) for r in results.values()
    ):
        raise InvalidParameterError(
            "results must be a ScalarMixResult or a non-empty mapping task -> ScalarMixResult (from "
            f"bk.scalar_mix_probe); got {type(results).__name__}.")
    if need_cumulative:
        for label, r in results.items():
            if r.cumulative is None:
                raise InvalidParameterError(
                    f"results[{label!r}] has no cumulative scores; run bk.scalar_mix_probe(..., cumulative=True).")
    return dict(results)


def _expected(r: Any) -> float | None:
    e = r.expected_layer
    return None if e is None or not np.isfinite(e) else float(e)


@validate_params({"results": (_MIX, Instance(Mapping, label="a mapping name -> ScalarMixResult")), "title": TITLE,
                  "expected_layer": Boolean(), "ax": AXES})
def plot_scalar_mix(
    results: Any,
    *,
    title: str | None = "scalar mix weights per layer",
    expected_layer: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Bars of the learned layer weights per task, with each task's centre of gravity
    (solid vertical line, drawn over the bars) and expected layer from cumulative
    scoring (dashed).

    Parameters
    ----------
    results : ScalarMixResult or mapping task -> ScalarMixResult
        From :func:`bertviz_kit.scalar_mix_probe`; one colour per task.
    expected_layer : bool, default True
        Also mark Tenney et al.'s expected layer (results with cumulative scores).
    ax : Axes, optional
    """
    results = _mix_results(results)
    check("expected_layer", expected_layer, Boolean())
    from matplotlib import patheffects

    ax = new_ax(ax, (7, 4))
    k = len(results)
    width = 0.8 / k
    colours = palette(k)
    top = max(float(r.weights.max()) for r in results.values())
    for j, (label, r) in enumerate(results.items()):  # bars first, so that no bar hides a marker line
        x = np.asarray(r.layer_ids, dtype=float)
        ax.bar(x + (j - (k - 1) / 2) * width, r.weights.numpy(), width=width, color=colours[j], alpha=0.85,
               label=f"{label}: weights")
    halo = [patheffects.withStroke(linewidth=4, foreground="white")]
    for j, (label, r) in enumerate(results.items()):
        cog = r.center_of_gravity
        ax.axvline(cog, color=colours[j], linewidth=2, zorder=4, path_effects=halo,
                   label=f"{label}: centre of gravity {cog:.2f}")
        e = _expected(r)
        if expected_layer and e is not None:
            ax.axvline(e, color=colours[j], linewidth=1.5, linestyle="--", zorder=4, path_effects=halo,
                       label=f"{label}: expected layer {e:.2f}")
    first = next(iter(results.values()))
    ax.axhline(1 / len(first.weights), color="gray", linestyle=":", linewidth=1)
    ax.annotate("uniform", (ax.get_xlim()[0], 1 / len(first.weights)), xytext=(4, 3),
                textcoords="offset points", fontsize=8, color="gray")
    entries = len(ax.get_legend_handles_labels()[1])
    ax.set_ylim(0, top * (1.25 + 0.11 * entries))  # head room for the legend above the bars
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("mixing weight softmax(s)")
    ax.set_xticks(np.asarray(first.layer_ids))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=SMALL_FONT, loc="upper right")
    if title:
        ax.set_title(title)
    return ax


@validate_params({"results": (_MIX, Instance(Mapping, label="a mapping name -> ScalarMixResult")), "title": TITLE,
                  "ax": AXES})
def plot_cumulative_scoring(
    results: Any,
    *,
    title: str | None = "cumulative scoring: probe on layers 0..l",
    ax: Axes | None = None,
) -> Axes:
    """Held-out accuracy of scalar-mix probes on layers ``0..l`` for every ``l``, per task,
    with each task's expected layer marked (Tenney et al. 2019).

    Parameters
    ----------
    results : ScalarMixResult or mapping task -> ScalarMixResult
        From :func:`bertviz_kit.scalar_mix_probe` with ``cumulative=True``.
    ax : Axes, optional
    """
    results = _mix_results(results, need_cumulative=True)
    ax = new_ax(ax, (6, 4))
    colours = palette(len(results))
    for j, (label, r) in enumerate(results.items()):
        x = np.asarray(r.layer_ids)
        e = _expected(r)
        tail = "" if e is None else f", expected layer {e:.2f}"
        ax.plot(x, r.cumulative.numpy(), marker="o", color=colours[j], label=f"{label}{tail}")
        if e is not None:
            ax.axvline(e, color=colours[j], linestyle="--", linewidth=1)
    ax.set_xlabel("highest layer in the mix l (0 = embeddings)")
    ax.set_ylabel("held-out accuracy, layers 0..l")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_FONT, loc="lower right")
    if title:
        ax.set_title(title)
    return ax



