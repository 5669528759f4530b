"""The BM25 side index: text analysis, segments, and keeping it current with the store."""
