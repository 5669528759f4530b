"""The ingest pipeline behind `NewsIndex.ingest`: read the sources, skip what is stored already,
replace what changed, follow moved files, prune what is gone, then chunk and embed the rest in
batches and write each batch whole (an interrupted run leaves the store consistent: a
half-written article is detected by its chunk count or hash and rewritten next time).

`on_step`, when given, is told of each stage as it ends (`IngestStep`): the memory and speed
probes (scripts/memory_probe.py, scripts/bench_lexical.py) read the pipeline through it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from ..malloc import release_free_memory
from ..schema import Article, IngestReport
from ..search.embeddings import Encoder
from ..search.sentences import embedded_sentences
from ..settings import Settings
from ..storage.records import LAYOUT
from ..storage.store import ChunkStore, StoredArticle
from .articles import read_sources
from .fetch import Fetcher, FetchPolicy
from .ledger import Ledger
from .web import WebReader, is_url

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import TextNode

log = logging.getLogger(__name__)

EMBED_BATCH = 32  # chunks per embedding call: big enough to keep both cores busy
# A long ingest brings the BM25 index up to date every this many chunks written, as any reader
# would: the changed articles are read back a few at a time, never the whole store at the end.
# That read-back of every chunk was most of a 100k-chunk build's peak memory (docs/bench/).
LEXICAL_REFRESH_CHUNKS = 2000


@dataclass(frozen=True)
class IngestStep:
    """One stage of an ingest, as it ends: "read" (the sources, `count` articles), "batch" (one
    batch embedded and written, `count` chunks), "lexical" (the BM25 index brought up to date),
    "written" (every batch)."""

    name: str
    count: int
    seconds: float


OnStep = Callable[[IngestStep], None]


class Ingester:
    """Writes articles into `store`, embedding them with `encoder`; `refresh_lexical` brings the
    BM25 side index up to date with what was written."""

    def __init__(
        self,
        settings: Settings,
        store: ChunkStore,
        encoder: Encoder,
        refresh_lexical: Callable[[], object],
    ) -> None:
        self.settings, self.store, self.encoder = settings, store, encoder
        self.refresh_lexical = refresh_lexical
        self._on_step: OnStep | None = None  # the running ingest's (`ingest` holds the write lock)

    @cached_property
    def splitter(self) -> SentenceSplitter:
        # LlamaIndex is imported on first ingest only: answering questions does not need it.
        from llama_index.core.node_parser import SentenceSplitter

        return SentenceSplitter(chunk_size=self.settings.chunk_size, chunk_overlap=self.settings.chunk_overlap)

    @cached_property
    def web(self) -> WebReader:
        policy = FetchPolicy(
            timeout=self.settings.fetch_timeout,
            delay=self.settings.fetch_delay,
            max_bytes=self.settings.fetch_max_bytes,
            allow_private=self.settings.allow_private_urls,
        )
        return WebReader(Fetcher(policy), Ledger.beside(self.settings.store))

    @contextmanager
    def _step(self, name: str, count: Callable[[], int]) -> Iterator[None]:
        started = time.perf_counter()
        yield
        if self._on_step is not None:
            self._on_step(IngestStep(name, count(), time.perf_counter() - started))

    def _refresh(self) -> None:
        with self._step("lexical", lambda: 0):
            self.refresh_lexical()

    def ingest(
        self,
        paths: list[str | Path],
        *,
        prune: bool,
        progress: bool,
        stop: threading.Event | None,
        on_step: OnStep | None = None,
    ) -> IngestReport:
        """See `NewsIndex.ingest` (which runs one at a time)."""
        self._on_step = on_step
        try:
            return self._ingest(paths, prune=prune, progress=progress, stop=stop)
        finally:
            self._on_step = None

    def _ingest(
        self, paths: list[str | Path], *, prune: bool, progress: bool, stop: threading.Event | None
    ) -> IngestReport:
        urls = [str(p) for p in paths if is_url(p)]
        with self._step("read", lambda: len(read.articles)):
            read = read_sources([p for p in paths if not is_url(p)])
        report = IngestReport(skipped=list(read.skipped))
        # Pruning and web sources compare with every stored article; otherwise only the stored
        # articles these could replace or duplicate are read (a full read was 7 s at 20k chunks).
        stored = (
            self.store.articles()
            if prune or urls
            else self.store.articles(
                article_id=[a.article_id for a in read.articles], content_hash=[a.content_hash for a in read.articles]
            )
        )
        web = None
        if urls:
            complete = {a.source for a in stored.values() if a.complete and a.layout == LAYOUT}
            web = self.web.read(urls, complete_sources=complete, stop=stop)
            read.articles.extend(web.articles)
            report.skipped.extend(web.skipped)
            report.unchanged.extend(web.unchanged)
        known_hashes = {a.content_hash: a for a in stored.values() if a.complete}

        pending: list[tuple[Article, bool]] = []  # (article, replaces an existing one)
        moved: list[StoredArticle] = []  # stored twins whose file is gone: the new path replaces them
        batch_hashes: dict[str, str] = {}
        for article in read.articles:
            previous = stored.get(article.article_id)
            if (
                previous
                and previous.complete
                and previous.content_hash == article.content_hash
                and previous.layout == LAYOUT
            ):
                report.unchanged.append(article.source)
                continue
            stored_twin = known_hashes.get(article.content_hash)
            if stored_twin and stored_twin.source != article.source and stored_twin.file_gone:
                moved.append(stored_twin)  # a renamed or moved file: cite where it is now
                stored_twin = None
            twin = batch_hashes.get(article.content_hash) or (stored_twin.source if stored_twin else "")
            if twin and twin != article.source:
                report.skipped.append((article.source, f"same article as {twin}"))
                continue
            batch_hashes[article.content_hash] = article.source
            pending.append((article, previous is not None))

        with self._step("written", lambda: report.chunks):
            self._write_articles(pending, report, progress, stop)
        # Only once their new copies are written (an interrupted run keeps the old ones).
        added = set(report.added)
        copied = {article.content_hash for article, _ in pending if article.source in added}
        replaced = {a.article_id: a for a in moved if a.content_hash in copied}
        if replaced:
            self.store.delete_articles(list(replaced))
            report.removed.extend(a.source for a in replaced.values())
        if web is not None:
            # After the store write, never before (see index.ingest.ledger): what is recorded is stored.
            written = set(report.added) | set(report.updated) | set(report.unchanged)
            self.web.ledger.put_many([seen for source, seen in web.pages.items() if source in written])
            self.web.ledger.put_many(web.listings)

        if prune:
            read_origins = {a.origin for a in read.articles} | {s.split("#", 1)[0] for s, _ in read.skipped}
            current_ids = {a.article_id for a in read.articles}
            gone = [
                a for a in stored.values()
                if a.article_id not in current_ids
                and a.article_id not in replaced
                # web articles are not pruned by a folder's contents
                and (a.file_gone or (not is_url(a.origin) and a.origin in read_origins))
            ]  # fmt: skip
            self.store.delete_articles([a.article_id for a in gone])
            report.removed.extend(a.source for a in gone)

        if pending or report.removed:
            self.store.mark_changed()
            self._refresh()
        return report

    def nodes_for(self, article: Article) -> list[TextNode]:
        """`article`'s chunks as LlamaIndex nodes, with the metadata the store keeps."""
        from llama_index.core.schema import TextNode

        chunks = self.splitter.split_text(article.text) or [article.text]
        metadata = {
            "article_id": article.article_id,
            "source": article.source,
            "origin": article.origin,
            "title": article.title,
            "outlet": article.outlet,
            "date": article.date,
            "date_int": article.date_int,
            "language": article.language,
            "url": article.url,
            "content_hash": article.content_hash,
            "n_chunks": len(chunks),
            "layout": LAYOUT,
        }
        nodes = []
        for number, chunk in enumerate(chunks):
            node = TextNode(
                id_=f"{article.article_id}-{number:04d}",
                text=chunk,
                metadata={**metadata, "chunk_no": number},
                # Only the headline goes into the embedded text with the chunk: it names the
                # event, and keeps dates and ids out of the vector.
                metadata_template="{value}",
                excluded_embed_metadata_keys=[*(k for k in metadata if k != "title"), "chunk_no"],
                excluded_llm_metadata_keys=[*metadata, "chunk_no"],
            )
            nodes.append(node)
        return nodes

    def _write_articles(
        self,
        pending: list[tuple[Article, bool]],
        report: IngestReport,
        progress: bool,
        stop: threading.Event | None = None,
    ) -> None:
        # Chunked group by group, not all up front: 100k chunks' nodes held at once were ~1 GB
        # of the ingest's peak memory. So the bar counts articles.
        bar = tqdm(
            total=len(pending), unit="article", desc="embedding", disable=not progress or not pending, file=sys.stderr
        )
        try:
            group: list[tuple[Article, bool, list[TextNode]]] = []
            size = unindexed = 0
            for article, replaces in pending:
                nodes = self.nodes_for(article)
                group.append((article, replaces, nodes))
                size += len(nodes)
                if size >= EMBED_BATCH:
                    self._embed_and_write(group, report, bar)
                    unindexed += size
                    group, size = [], 0
                    if unindexed >= LEXICAL_REFRESH_CHUNKS:
                        self._refresh()
                        release_free_memory()
                        unindexed = 0
                    if stop is not None and stop.is_set():
                        # Between two writes, never inside one: the rest is read again next time.
                        written = len(report.added) + len(report.updated)
                        log.info("stopped: %d articles left for the next run", len(pending) - written)
                        return
            if group:
                self._embed_and_write(group, report, bar)
        finally:
            bar.close()

    def _embed_and_write(
        self, group: list[tuple[Article, bool, list[TextNode]]], report: IngestReport, bar: tqdm[Any]
    ) -> None:
        nodes = [node for _, _, article_nodes in group for node in article_nodes]
        with self._step("batch", lambda: len(nodes)):
            # One call for the chunks and their sentences: the engine batches them together.
            sentences = [embedded_sentences(str(node.metadata["title"]), node.text) for node in nodes]
            texts = [node.get_content(metadata_mode="embed") for node in nodes]  # type: ignore[arg-type]
            vectors = self.encoder.encode(texts + [s for chunk in sentences for s in chunk])
            sentence_vectors: dict[str, np.ndarray] = {}
            start = len(nodes)
            for node, vector, chunk_sentences in zip(nodes, vectors[: len(nodes)], sentences, strict=True):
                node.embedding = vector.tolist()
                sentence_vectors[node.node_id] = vectors[start : start + len(chunk_sentences)]
                start += len(chunk_sentences)
            self.store.replace_articles(
                {article.article_id: article_nodes for article, _, article_nodes in group}, sentence_vectors
            )
            for article, replaces, article_nodes in group:
                (report.updated if replaces else report.added).append(article.source)
                report.chunks += len(article_nodes)
            bar.update(len(group))
