"""The systems `newsbot eval` compares on the same articles and questions.

- `newsbot`: `NewsIndex.search` (ranks) and `NewsIndex.ask` (answers), i.e. the product.
- `baseline`: what the LlamaIndex starter tutorial builds: `VectorStoreIndex` on a Chroma collection
  with the default `SentenceSplitter`, dense top-2 retrieval, the same embedding model. With no LLM
  its query engine cannot write an answer, so its answer is what a user would read: the two
  retrieved chunks, concatenated, each cited.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError, NewsbotError
from ..schema import Answer, Article, Citation
from .datasets import EvalQuestion
from .metrics import MAX_RANK, first_rank

if TYPE_CHECKING:
    from ..newsindex import NewsIndex

BASELINE_TOP_K = 2  # the tutorial's `as_query_engine()` default (similarity_top_k=2)
BASELINE_CANDIDATES = 30  # chunks fetched to rank 10 distinct articles for the retrieval metrics


class System(Protocol):
    name: str
    ingest_chunks: int  # chunks embedded in this run (0 when a store was reused)
    ingest_seconds: float

    def ranked_sources(self, question: EvalQuestion) -> list[str]: ...

    def ask(self, question: EvalQuestion) -> Answer: ...


class NewsbotSystem:
    """The product, through its public API."""

    name = "newsbot"

    def __init__(self, index: NewsIndex, paths: Sequence[Path], progress: bool) -> None:
        self.index = index
        start = time.perf_counter()
        report = index.ingest(paths, progress=progress)
        self.ingest_seconds = time.perf_counter() - start
        self.ingest_chunks = report.chunks
        if report.skipped:
            raise ConfigError(f"{len(report.skipped)} articles could not be ingested, e.g. {report.skipped[0]}")

    def ranked_sources(self, question: EvalQuestion) -> list[str]:
        hits = self.index.search(question.question, k=MAX_RANK, since=question.since, until=question.until)
        return [h.source for h in hits]

    def ask(self, question: EvalQuestion) -> Answer:
        return self.index.ask(question.question, since=question.since, until=question.until)  # type: ignore[attr-defined, no-any-return]


class BaselineSystem:
    """The LlamaIndex starter tutorial on Chroma, with our embedding model and no LLM.

    Documents carry the headline and the body, like our chunks; their metadata is kept out of the
    embedded text (the tutorial would embed file paths there, which carry no news). Date filters
    are ignored: the tutorial has none.
    """

    name = "baseline"

    def __init__(self, articles: Sequence[Article], embed_model: str, directory: Path) -> None:
        import chromadb
        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from ..search.llama_adapters import load_embedding
        from ..storage.store import CHROMA_SETTINGS

        embedding = load_embedding(embed_model)
        keys = ["source", "title", "date"]
        documents = [
            Document(
                text=f"{a.title}\n\n{a.text}",
                metadata={"source": a.source, "title": a.title, "date": a.date},
                excluded_embed_metadata_keys=keys,
                excluded_llm_metadata_keys=keys,
            )
            for a in articles
        ]
        # A reused store is trusted only when it holds exactly these articles, embedded by this model.
        manifest = _fingerprint([embed_model, *(f"{a.source}\x00{a.text}" for a in articles)])
        client = chromadb.PersistentClient(path=str(directory), settings=CHROMA_SETTINGS)
        collection = client.get_or_create_collection("baseline", embedding_function=None)
        self.ingest_chunks, self.ingest_seconds = 0, 0.0
        if (collection.metadata or {}).get("manifest") == manifest and collection.count() > 0:
            store = ChromaVectorStore(chroma_collection=collection)
            self.vector_index = VectorStoreIndex.from_vector_store(store, embed_model=embedding)
        else:
            client.delete_collection("baseline")
            collection = client.create_collection("baseline", embedding_function=None)
            store = ChromaVectorStore(chroma_collection=collection)
            start = time.perf_counter()
            self.vector_index = VectorStoreIndex.from_documents(
                documents, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embedding
            )
            self.ingest_seconds = time.perf_counter() - start
            self.ingest_chunks = collection.count()
            collection.modify(metadata={"manifest": manifest})
        self._ranker = self.vector_index.as_retriever(similarity_top_k=BASELINE_CANDIDATES)
        self._answerer = self.vector_index.as_retriever(similarity_top_k=BASELINE_TOP_K)

    def ranked_sources(self, question: EvalQuestion) -> list[str]:
        sources: list[str] = []
        for node in self._ranker.retrieve(question.question):
            source = str(node.metadata.get("source", ""))
            if source not in sources:
                sources.append(source)
        return sources[:MAX_RANK]

    def ask(self, question: EvalQuestion) -> Answer:
        nodes = self._answerer.retrieve(question.question)
        citations = [
            Citation(
                number=n,
                source=str(node.metadata.get("source", "")),
                title=str(node.metadata.get("title", "")),
                outlet="",
                date=str(node.metadata.get("date", "")),
                quote=node.get_content(),
            )
            for n, node in enumerate(nodes, start=1)
        ]
        text = "\n\n".join(f"{c.quote} [{c.number}]" for c in citations)
        return Answer(question.question, text, citations, refused=False, language="es", answerer="baseline:top2")


def _fingerprint(parts: Iterable[str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x01")
    return digest.hexdigest()[:32]


# -- running -----------------------------------------------------------------------------


@dataclass
class QuestionResult:
    rank: int | None
    search_seconds: float
    answer: Answer | None = None
    ask_seconds: float = 0.0
    error: str = ""


def run_system(
    system: System, questions: Sequence[EvalQuestion], *, retrieval_only: bool, progress: bool
) -> list[QuestionResult]:
    from tqdm import tqdm

    if questions:  # untimed warm-up: first-call costs (BM25 load, model caches) belong to `bench`'s cold start
        system.ranked_sources(questions[0])
        if not retrieval_only:
            with suppress(NewsbotError):
                system.ask(questions[0])
    results = []
    for question in tqdm(questions, desc=system.name, unit="q", disable=not progress, file=sys.stderr):
        start = time.perf_counter()
        ranked = system.ranked_sources(question)
        result = QuestionResult(first_rank(ranked, question.gold_sources), time.perf_counter() - start)
        if not retrieval_only:
            start = time.perf_counter()
            try:
                result.answer = system.ask(question)
            except NewsbotError as exc:  # e.g. a question the product rejects: counted, not fatal
                result.error = str(exc)
            result.ask_seconds = time.perf_counter() - start
        results.append(result)
    return results
