"""Plot functions: each draws a precomputed result on an Axes and computes no analysis result."""
