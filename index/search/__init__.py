"""Embeddings and hybrid search."""
