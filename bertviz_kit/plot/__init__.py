"""Plots: ``plot_*(data, ..., ax=None, **kwargs) -> Axes``.

Each function draws on ``ax`` when given, otherwise on a new figure; returns
the Axes; never calls ``plt.show()`` and never changes global style. Extra
keyword arguments go to the matplotlib call that draws the data (as in
seaborn: ``imshow`` for heatmaps, ``plot`` for curves, ``stairs`` for
histograms, ``bar`` for bars); each docstring names it. Cosine heatmaps use a
fixed colour scale (0 to 1) unless told otherwise, and every colour bar is
labelled. Save with ``ax.figure.savefig("name.png", dpi=200)`` (or ``.svg``).
"""
