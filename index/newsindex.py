"""`NewsIndex`: the one entry point the CLI, the bot and the evaluation all use."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from .answer.answerers import LATEST_K, SEARCH_K, Answerer, answer_in_order, default_answerers
from .answer.compose import newest_first
from .answer.question import (
    Query,
    clean_query,
    follow_up_query,
    read_intent,
    to_date_int,
    usable_question,
    without_date_phrase,
)
from .answer.reader import load_reader
from .errors import QuestionError, StoreError
from .ingest.articles import read_sources
from .ingest.fetch import Fetcher, FetchPolicy
from .ingest.ledger import Ledger
from .ingest.web import WebReader, is_url
from .language import detect_language
from .lexical.bm25 import LexicalIndex
from .lexical.sync import LexicalSync
from .malloc import limit_arenas, release_free_memory
from .schema import Answer, Article, ArticleInfo, Hit, IngestReport
from .search.embeddings import Encoder, load_encoder
from .search.retrieval import DateRange, HybridSearch, merge_by_article
from .search.sentences import embedded_sentences
from .settings import Settings
from .storage.records import LAYOUT
from .storage.store import ChunkStore, StoredArticle

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import TextNode

    from .search.llama_adapters import NewsRetriever

log = logging.getLogger(__name__)

EMBED_BATCH = 32  # chunks per embedding call: big enough to keep both cores busy
# A long ingest brings the BM25 index up to date every this many chunks written, as any reader
# would: the changed articles are read back a few at a time, never the whole store at the end.
# That read-back of every chunk was most of a 100k-chunk build's peak memory (docs/bench/).
LEXICAL_REFRESH_CHUNKS = 2000
LIST_MATCH_SHARE = 0.6  # list_articles(query): articles scoring at least this share of the best


class NewsIndex:
    """A folder of news articles, chunked into Chroma, searchable and (see `ask`) answerable.

    >>> idx = NewsIndex("path/to/store")
    >>> idx.ingest(["articles/"]).summary()
    >>> idx.search("pregunta", k=5)
    """

    def __init__(
        self,
        store: str | Path | None = None,
        *,
        settings: Settings | None = None,
        encoder: Encoder | None = None,
        answerers: Sequence[Answerer] | None = None,
    ) -> None:
        """The models are passed in or loaded from `settings`: `encoder` embeds passages and
        questions (default: `settings.embed_model`, embeddings.ENCODERS); `answerers` are tried
        in order by `ask` (answer.py; default: the configured LLM, if any, then the built-in
        answerer of `settings.answerer`)."""
        limit_arenas()  # before the model's and Chroma's threads start (malloc.py)
        base = settings or Settings.from_env()
        self.settings = base.with_overrides(store=str(store) if store is not None else None)
        self.settings.validate()
        self.embedding = encoder if encoder is not None else load_encoder(self.settings.embed_model)
        self.store = ChunkStore(self.settings, self.embedding.key)
        self._write_lock = threading.Lock()
        self._answerers = list(answerers) if answerers is not None else None

    @cached_property
    def splitter(self) -> SentenceSplitter:
        # LlamaIndex is imported on first ingest only: answering questions does not need it.
        from llama_index.core.node_parser import SentenceSplitter

        return SentenceSplitter(chunk_size=self.settings.chunk_size, chunk_overlap=self.settings.chunk_overlap)

    # -- ingest --------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        prune: bool = False,
        progress: bool = False,
        stop: threading.Event | None = None,
    ) -> IngestReport:
        """Add new articles, replace changed ones, skip unchanged ones; report what could not be read.

        `paths` are files, folders, and http(s) URLs of articles, RSS/Atom feeds or sitemaps
        (fetched politely, see `index.fetch`). Setting `stop` ends the fetching early; what was
        fetched by then is still written whole.

        Safe to interrupt: a half-written article is detected (chunk count or hash) and
        rewritten on the next run.
        """
        with self._write_lock:
            return self._ingest(list(paths), prune=prune, progress=progress, stop=stop)

    @cached_property
    def _web(self) -> WebReader:
        policy = FetchPolicy(
            timeout=self.settings.fetch_timeout,
            delay=self.settings.fetch_delay,
            max_bytes=self.settings.fetch_max_bytes,
            allow_private=self.settings.allow_private_urls,
        )
        return WebReader(Fetcher(policy), Ledger.beside(self.settings.store))

    def _ingest(
        self, paths: list[str | Path], *, prune: bool, progress: bool, stop: threading.Event | None
    ) -> IngestReport:
        urls = [str(p) for p in paths if is_url(p)]
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
            web = self._web.read(urls, complete_sources=complete, stop=stop)
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

        self._write_articles(pending, report, progress, stop)
        # Only once their new copies are written (an interrupted run keeps the old ones).
        added = set(report.added)
        copied = {article.content_hash for article, _ in pending if article.source in added}
        replaced = {a.article_id: a for a in moved if a.content_hash in copied}
        if replaced:
            self.store.delete_articles(list(replaced))
            report.removed.extend(a.source for a in replaced.values())
        if web is not None:
            # After the store write, never before (see index.ledger): what is recorded is stored.
            written = set(report.added) | set(report.updated) | set(report.unchanged)
            self._web.ledger.put_many([seen for source, seen in web.pages.items() if source in written])
            self._web.ledger.put_many(web.listings)

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
            self._refresh_lexical()
        return report

    def _nodes_for(self, article: Article) -> list[TextNode]:
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
                nodes = self._nodes_for(article)
                group.append((article, replaces, nodes))
                size += len(nodes)
                if size >= EMBED_BATCH:
                    self._embed_and_write(group, report, bar)
                    unindexed += size
                    group, size = [], 0
                    if unindexed >= LEXICAL_REFRESH_CHUNKS:
                        self._refresh_lexical()
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
        # One call for the chunks and their sentences: the engine batches them together.
        sentences = [embedded_sentences(str(node.metadata["title"]), node.text) for node in nodes]
        texts = [node.get_content(metadata_mode="embed") for node in nodes]  # type: ignore[arg-type]
        vectors = self.embedding.encode(texts + [s for chunk in sentences for s in chunk])
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

    # -- BM25 side index -----------------------------------------------------------------

    @property
    def _lexical_dir(self) -> Path:
        if self.settings.chroma_url:
            key = re.sub(r"[^A-Za-z0-9]+", "_", f"{self.settings.chroma_url}_{self.settings.collection}")
            return Path(self.settings.store).expanduser() / "bm25-remote" / key
        return Path(self.settings.store).expanduser() / "bm25" / self.settings.collection

    @cached_property
    def _lexical_sync(self) -> LexicalSync:
        return LexicalSync(self.store, self._lexical_dir)

    def _refresh_lexical(self) -> LexicalIndex:
        """Bring the BM25 index up to the store's change log (after a write here, or anywhere)."""
        return self._lexical_sync.current()

    def lexical_index(self) -> LexicalIndex:
        """The BM25 index, current with the store: the changes logged since its position are
        applied (costing the changed articles, not the store); it is rebuilt from every chunk
        only when there is no usable saved index or the log no longer reaches back to it."""
        return self._lexical_sync.current()

    def warm_up(self) -> None:
        """Load now what the first question or ingest would otherwise load: the BM25 side index,
        the language models, LlamaIndex and the reader. lingua loads its models holding the GIL
        (~1 s on 2 cores), which froze the caller's event loop (the bot's) under its first
        question (`newsbot loadtest`); so did building the reader's ONNX session."""
        self.lexical_index()
        detect_language("When will the new metro line open?")
        _ = self.splitter, self.answerers

    # -- search --------------------------------------------------------------------------

    @cached_property
    def _hybrid(self) -> HybridSearch:
        return HybridSearch(self.store, self.embedding, self.lexical_index, self.settings.dense_weight)

    def retriever(
        self, k: int = 5, since: str | dt.date | None = None, until: str | dt.date | None = None
    ) -> NewsRetriever:
        """The hybrid search as a LlamaIndex `BaseRetriever` (for LlamaIndex query engines)."""
        from .search.llama_adapters import NewsRetriever

        return NewsRetriever(self._hybrid, top_k=k, dates=DateRange(to_date_int(since), to_date_int(until)))

    def search(
        self, query: str, k: int = 5, *, since: str | dt.date | None = None, until: str | dt.date | None = None
    ) -> list[Hit]:
        """The k articles that best match `query`, one hit per article, best first; for a
        question about the latest news ("¿cuál es el nivel más reciente…?") the newest of the
        articles about it comes first."""
        text = clean_query(query)
        hits = self._search(text, k, since, until)
        return newest_first(hits) if read_intent(text).latest else hits

    def _search(
        self,
        text: str,
        k: int,
        since: str | dt.date | None,
        until: str | dt.date | None,
        lexical: LexicalIndex | None = None,
    ) -> list[Hit]:
        if k < 1:
            raise QuestionError("k must be at least 1")
        dates = DateRange(to_date_int(since), to_date_int(until))
        return merge_by_article(self._hybrid.retrieve_chunks(text, dates, lexical), k)

    # -- inventory -----------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        try:
            articles = len(self.store.collection.get(where={"chunk_no": 0}, include=[])["ids"])
        except Exception as exc:
            raise StoreError(f"cannot read the store: {exc}") from exc
        return {
            "articles": articles,
            "chunks": self.store.count(),
            "last_ingest": self.store.last_ingest() or None,
            "embed_model": self.embedding.key,
            "store": self.settings.chroma_url or str(Path(self.settings.store).expanduser()),
        }

    def list_articles(self, query: str | None = None, limit: int = 10, offset: int = 0) -> list[ArticleInfo]:
        """Indexed articles, newest first; with a query, only those matching it."""
        stored = self.store.articles()
        infos = [ArticleInfo(a.source, a.title, a.outlet, a.date, a.chunks_found) for a in stored.values()]
        if query:
            # "Matching" = close to the best match; the fused score of the tail is only relative.
            hits = self.search(query, k=50)
            wanted = {h.article_id for h in hits if h.score >= LIST_MATCH_SHARE * hits[0].score} if hits else set()
            infos = [i for i, a in zip(infos, stored.values(), strict=True) if a.article_id in wanted]
        infos.sort(key=lambda i: (i.date, i.title), reverse=True)
        return infos[offset : offset + limit]

    def remove(self, sources: Sequence[str]) -> int:
        """Remove articles by source; returns how many were removed."""
        wanted = set(sources)
        gone = [a.article_id for a in self.store.articles(source=sorted(wanted)).values() if a.source in wanted]
        if gone:
            with self._write_lock:
                self.store.delete_articles(gone)
                self.store.mark_changed()
                self._refresh_lexical()
        return len(gone)

    # -- answers -------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        history: Sequence[str] = (),
    ) -> Answer:
        """Answer `question` from the articles, with numbered citations, or refuse.

        `history` holds the earlier questions of the same conversation, oldest first, so a
        follow-up such as "¿y cuándo será?" is understood. Dates named in the question
        ("en enero de 2026") narrow the search unless `since`/`until` are given.
        """
        text = clean_query(question)
        lexical = self.lexical_index()
        intent = read_intent(text, newest=lexical.newest_date())
        # A date range named in the question is a filter, not part of the topic.
        topic = without_date_phrase(text) if intent.since or intent.until else text
        query = clean_query(follow_up_query(topic, [h for h in map(usable_question, history) if h]))
        if not intent.kind and query != topic:
            intent = replace(intent, kind=read_intent(query).kind)
        dates_given = since is not None or until is not None
        k = LATEST_K if intent.latest else SEARCH_K
        # `lexical` was checked against the store just above: the search need not check again.
        hits = self._search(query, k, since or intent.since, until or intent.until, lexical)
        if not hits and not dates_given and (intent.since or intent.until):
            hits = self._search(query, k, None, None, lexical)  # the date named was not a publication date
        scoring = Query.build(
            text, topic, intent, lexical, context=query if query != topic else "", embed_model=self.embedding.fitted_as
        )
        return answer_in_order(self.answerers, scoring, hits)

    @property
    def answerers(self) -> list[Answerer]:
        if self._answerers is None:  # loaded on first use: search-only processes never load the reader
            self._answerers = default_answerers(self.settings, load_reader)
        return self._answerers
