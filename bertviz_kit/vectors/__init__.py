"""From stored hidden states to vectors: pooling, token and word addressing, cosine and find, projection."""
