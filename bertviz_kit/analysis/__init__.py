"""Analyses over encodings: contextuality, attention, CKA, probing, alignment with UD features, the lens, heads."""
