"""Analyses that read a model's internals: inside a layer, context mixing, masked-word predictions."""
