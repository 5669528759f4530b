"""What a chunk's Chroma record holds, beside its text and vector, and a page of records as read.

The metadata is LlamaIndex's ChromaVectorStore layout (so LlamaIndex can read the collection):
the node's fields flat, which newsbot reads and filters on, plus LlamaIndex's serialised node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode

# A chunk's sentence embeddings (sentences.pack) in its metadata: a server store's place for
# them, and an on-disk store's before they moved to its own file (sentence_file.py).
SENTENCE_VECTORS_KEY = "sentence_vectors"
# The node fields a LlamaIndex reader of the collection gets in `_node_content` (see record_metadata).
READER_FIELDS = ("title", "outlet", "date", "url")
# What a chunk record holds; an article stored in an older layout is re-embedded on the next
# ingest. 2: chunks carry their sentences' vectors.
LAYOUT = 2


def record_metadata(node: TextNode) -> dict[str, Any]:
    """A chunk's Chroma metadata: its fields flat (what newsbot reads and filters on) and
    LlamaIndex's `_node_content`, cut to what a LlamaIndex reader shows (headline, outlet, date,
    link). The whole node is ~1.1 KB, past the ~1 KB at which the on-disk store's SQLite index
    on metadata values spills into an overflow page: 50 MB more per 10k chunks (measured)."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    shown = {key: node.metadata[key] for key in READER_FIELDS if key in node.metadata}
    reader_node = TextNode(
        id_=node.node_id,
        metadata=shown,
        metadata_template=node.metadata_template,
        excluded_embed_metadata_keys=[k for k in node.excluded_embed_metadata_keys if k in shown],
        excluded_llm_metadata_keys=[k for k in node.excluded_llm_metadata_keys if k in shown],
    )
    metadata["_node_content"] = reader_node.model_dump_json(exclude_defaults=True)
    return metadata


@dataclass(frozen=True)
class ChunkPage:
    """Chunks as read from the collection: ids, texts, metadata, and their embeddings (an (n,
    dim) array) when they were asked for."""

    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, Any]]
    embeddings: np.ndarray | None = None

    @classmethod
    def of(cls, page: Any) -> ChunkPage:
        ids = list(page["ids"])
        documents = [str(d or "") for d in (page.get("documents") or [""] * len(ids))]
        metadatas = [dict(m or {}) for m in (page.get("metadatas") or [{}] * len(ids))]
        embeddings = page.get("embeddings")
        vectors = None if embeddings is None or not len(ids) else np.asarray(embeddings, dtype=np.float32)
        return cls(ids, documents, metadatas, vectors)
