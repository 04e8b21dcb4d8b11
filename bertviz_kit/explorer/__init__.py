"""The interactive explorer: the panel protocol, the panels and the explorer widget."""
