"""Our parts behind LlamaIndex's interfaces: the encoder as a `BaseEmbedding`, the hybrid
search as a `BaseRetriever`. Imported only by code that wants LlamaIndex objects, because
importing llama_index.core is slow (see embeddings.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import PrivateAttr

from .embeddings import Encoder, load_encoder
from .retrieval import DateRange, HybridSearch


class EncoderEmbedding(BaseEmbedding):
    """An `Encoder` as a LlamaIndex embedding model."""

    _encoder: Any = PrivateAttr()

    @classmethod
    def for_encoder(cls, encoder: Encoder) -> EncoderEmbedding:
        embedding = cls(model_name=encoder.key, embed_batch_size=32)
        embedding._encoder = encoder
        return embedding

    @property
    def dim(self) -> int:
        return int(self._encoder.dim)

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        return self._encoder.encode(texts, is_query)  # type: ignore[no-any-return]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.encode([query], is_query=True)[0].tolist()  # type: ignore[no-any-return]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.encode([text])[0].tolist()  # type: ignore[no-any-return]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.encode(texts).tolist()  # type: ignore[no-any-return]


class NewsRetriever(BaseRetriever):
    """The hybrid dense + BM25 search as a LlamaIndex retriever (e.g. for a RetrieverQueryEngine)."""

    def __init__(self, search: HybridSearch, top_k: int = 5, dates: DateRange | None = None) -> None:
        super().__init__()
        self._search = search
        self._top_k = top_k
        self._dates = dates or DateRange()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        chunks = self._search.retrieve_chunks(query_bundle.query_str, self._dates)
        return [
            NodeWithScore(node=TextNode(id_=c.chunk_id, text=c.text, metadata=c.metadata), score=c.score)
            for c in chunks[: self._top_k]
        ]


def load_embedding(name: str) -> EncoderEmbedding:
    """The embedding model `name` as a LlamaIndex `BaseEmbedding` (for VectorStoreIndex, query engines)."""
    return EncoderEmbedding.for_encoder(load_encoder(name))
