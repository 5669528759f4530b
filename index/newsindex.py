"""`NewsIndex`: the one entry point the CLI, the bot and the evaluation all use."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .answer.answerers import Answerer, answer_in_order, default_answerers
from .answer.question import Query, clean_query, read_intent, to_date_int, understand
from .answer.reader import load_reader
from .errors import QuestionError, StoreError
from .ingest.pipeline import Ingester, OnStep
from .language import detect_language
from .lexical.bm25 import LexicalIndex
from .lexical.sync import LexicalSync
from .malloc import limit_arenas
from .schema import Answer, ArticleInfo, Hit, IngestReport
from .search.embeddings import Encoder, load_encoder
from .search.retrieval import DateRange, HybridSearch, merge_by_article, newest_first
from .settings import Settings
from .storage.store import ChunkStore

if TYPE_CHECKING:
    from .search.llama_adapters import NewsRetriever

log = logging.getLogger(__name__)

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
    def ingester(self) -> Ingester:
        """The ingest pipeline (index/ingest/pipeline.py) writing into this index's store."""
        return Ingester(self.settings, self.store, self.embedding, self._refresh_lexical)

    # -- ingest --------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        prune: bool = False,
        progress: bool = False,
        stop: threading.Event | None = None,
        on_step: OnStep | None = None,
    ) -> IngestReport:
        """Add new articles, replace changed ones, skip unchanged ones; report what could not be read.

        `paths` are files, folders, and http(s) URLs of articles, RSS/Atom feeds or sitemaps
        (fetched politely, see `index.ingest.fetch`). Setting `stop` ends the fetching early;
        what was fetched by then is still written whole. `on_step` is told of each stage as it
        ends (`IngestStep`: reading, each batch written, each BM25 update).

        Safe to interrupt: a half-written article is detected (chunk count or hash) and
        rewritten on the next run.
        """
        with self._write_lock:
            return self.ingester.ingest(list(paths), prune=prune, progress=progress, stop=stop, on_step=on_step)

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
        _ = self.ingester.splitter, self.answerers

    # -- search --------------------------------------------------------------------------

    @cached_property
    def hybrid(self) -> HybridSearch:
        """The hybrid search (dense + BM25) over this index; its options are public (retrieval.py)."""
        return HybridSearch(self.store, self.embedding, self.lexical_index, self.settings.dense_weight)

    def retriever(
        self, k: int = 5, since: str | dt.date | None = None, until: str | dt.date | None = None
    ) -> NewsRetriever:
        """The hybrid search as a LlamaIndex `BaseRetriever` (for LlamaIndex query engines)."""
        from .search.llama_adapters import NewsRetriever

        return NewsRetriever(self.hybrid, top_k=k, dates=DateRange(to_date_int(since), to_date_int(until)))

    def search(
        self, query: str, k: int = 5, *, since: str | dt.date | None = None, until: str | dt.date | None = None
    ) -> list[Hit]:
        """The k articles that best match `query`, one hit per article, best first; for a
        question about the latest news ("¿cuál es el nivel más reciente…?") the newest of the
        articles about it comes first."""
        text = clean_query(query)
        intent = read_intent(text)
        return self._search(text, k, to_date_int(since), to_date_int(until), intent.latest, intent.language)

    def _search(
        self,
        text: str,
        k: int,
        since: int,
        until: int,
        latest: bool,
        language: str,
        lexical: LexicalIndex | None = None,
    ) -> list[Hit]:
        if k < 1:
            raise QuestionError("k must be at least 1")
        hits = merge_by_article(self.hybrid.retrieve_chunks(text, DateRange(since, until), lexical, language), k)
        return newest_first(hits) if latest else hits

    def _retrieve(self, query: Query, lexical: LexicalIndex) -> list[Hit]:
        """The articles `query` searches for; where the dates it names match none, without them
        (a date named need not be a publication date)."""
        since, until = to_date_int(query.since), to_date_int(query.until)
        latest, language = query.intent.latest, query.intent.language
        hits = self._search(query.search, query.search_k, since, until, latest, language, lexical)
        if not hits and query.dates_named:
            hits = self._search(query.search, query.search_k, 0, 0, latest, language, lexical)
        return hits

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
        lexical = self.lexical_index()  # current with the store: the search need not check again
        model = self.embedding.fitted_as
        query = understand(question, lexical, history=history, since=since, until=until, embed_model=model)
        return answer_in_order(self.answerers, query, self._retrieve(query, lexical))

    @property
    def answerers(self) -> list[Answerer]:
        if self._answerers is None:  # loaded on first use: search-only processes never load the reader
            self._answerers = default_answerers(self.settings, load_reader)
        return self._answerers
