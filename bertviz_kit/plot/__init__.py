"""Plots: ``plot_*(data, ..., ax=None, **kwargs) -> Axes``.

Each function draws on ``ax`` when given, otherwise on a new figure; returns
the Axes; never calls ``plt.show()`` and never changes global style. Extra
keyword arguments go to the matplotlib call that draws the data (as in
seaborn: ``imshow`` for heatmaps, ``plot`` for curves, ``stairs`` for
histograms, ``bar`` for bars); each docstring names it. Cosine heatmaps use a
fixed colour scale (0 to 1) unless told otherwise, and every colour bar is
labelled. Save with ``ax.figure.savefig("name.png", dpi=200)`` (or ``.svg``).

Plots draw results; they compute none. Where a public plot function takes raw
data and needs an analysis result first (``bk.plot_attention(e, level="word")``,
``bk.plot_attention_grid``, ``bk.plot_rollout``, ``bk.plot_projection``,
``bk.plot_trajectory``), it is a thin convenience beside that analysis
(:mod:`bertviz_kit.analysis.attention`, :mod:`bertviz_kit.vectors.projection`):
it computes the result with the public function, then calls the drawer here
(``draw_attention``, ``draw_rollout``, ``draw_projection``, ...), which takes
the result as an argument.
"""
