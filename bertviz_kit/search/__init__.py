"""Nearest contexts: the exact search (search.exact) and the approximate context index (search.index)."""
