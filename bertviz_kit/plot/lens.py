"""The logit / tuned lens: top-k vocabulary items by layer."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .._validation import AXES, COLORMAP, MPL_KWARGS, TITLE, ClassNamed, InvalidParameterError, validate_params


@validate_params({"result": ClassNamed("bertviz_kit.analysis.lens.LensResult", label="a LensResult (bk.lens)"),
                  "ax": AXES, "cmap": COLORMAP, "title": TITLE, "kwargs": MPL_KWARGS})
def plot_lens(result: Any, ax: Axes | None = None, *, cmap: str = "viridis", title: str | None = None,
              **kwargs: Any) -> Axes:
    """Top-k vocabulary items by layer (text in cells, colour = score) and the true token's rank.

    Parameters
    ----------
    result : LensResult
        From :func:`bertviz_kit.lens`.
    ax : Axes, optional
        Axes for the table. With ``ax=None`` a figure with two panels is made:
        the table, and the rank of the true token per layer (log scale) on its
        right. With a given ``ax`` the rank is written in the layer labels.
    cmap : str
    title : str, optional
        Defaults to ``lens on word 5 'bank' (embeddings)``.
    **kwargs
        Passed to ``imshow``.

    Returns
    -------
    Axes
        The table's axes.
    """
    from ..analysis.lens import LensResult

    if not isinstance(result, LensResult):
        raise InvalidParameterError(f"result must be a LensResult (from bk.lens); got {type(result).__name__}.")
    scores = result.scores.float().numpy()
    n_layers, k = scores.shape
    rank_ax = None
    if ax is None:
        fig, (ax, rank_ax) = plt.subplots(
            1, 2, figsize=(1.0 * k + 3.5, 0.45 * n_layers + 1.8), gridspec_kw={"width_ratios": [k, 2.2]},
            layout="constrained")
    vmax = float(scores.max()) if scores.size else 1.0
    im = ax.imshow(scores, cmap=cmap, vmin=0.0, vmax=vmax if vmax > 0 else 1.0, aspect="auto", **kwargs)
    for (r, c), v in np.ndenumerate(scores):
        token = result.tokens[r][c]
        token = token if len(token) <= 11 else token[:10] + "…"
        bold = result.ids[r, c].item() == result.true_id
        ax.text(c, r, token, ha="center", va="center", fontsize=8, fontweight="bold" if bold else "normal",
                color="black" if v > 0.6 * vmax else "white")
    ax.set_xticks(range(k), [str(i + 1) for i in range(k)])
    ranks = result.rank.tolist()
    if rank_ax is None:
        ax.set_yticks(range(n_layers), [f"{lid} (rank {rk})" for lid, rk in zip(result.layer_ids, ranks)])
        ax.set_ylabel("layer (rank of the true token)")
    else:
        ax.set_yticks(range(n_layers), [str(lid) for lid in result.layer_ids])
        ax.set_ylabel("layer (0 = embeddings)")
    ax.set_xlabel("top-k position (bold: the true token)")
    bar = ax.figure.colorbar(im, ax=ax, shrink=0.8)
    bar.set_label("probability" if result.kind == "mlm" else "cosine")
    ax.set_title(title or f"lens on {result.label} ({result.kind})")
    if rank_ax is not None:
        y = np.arange(n_layers)
        rank_ax.plot(ranks, y, marker="o")
        for yy, rk in zip(y, ranks):
            rank_ax.annotate(str(rk), (rk, yy), textcoords="offset points", xytext=(6, 0), va="center", fontsize=8)
        rank_ax.set_xscale("log")
        rank_ax.set_xlim(0.7, max(10.0, max(ranks) * 4))
        rank_ax.set_ylim(n_layers - 0.5, -0.5)
        rank_ax.set_yticks(y, [str(lid) for lid in result.layer_ids])
        rank_ax.set_xlabel(f"rank of {result.true_token!r} (1 = top)")
        rank_ax.set_ylabel("layer")
        rank_ax.grid(True, axis="x", alpha=0.3)
    return ax



