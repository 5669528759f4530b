"""The Chroma store and what is kept beside it."""
