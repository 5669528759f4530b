"""The Chroma side: one collection of chunks, in the layout of LlamaIndex's ChromaVectorStore.

Each chunk's metadata carries its article's fields (headline, outlet, date, source, ...),
the article's content hash and its chunk count. That makes the collection the single source
of truth: an article is complete exactly when all `n_chunks` of its chunks are present with
the same hash, so an interrupted ingest is detected and repaired on the next run.

The collection metadata holds the embedding model (a store is never queried with another
model) and the chunk size. Every write is also recorded in a change log, a small second
collection (`ChangeLog`): the BM25 side index of each process records the log position it is
at and applies only the changes after it, which keeps several processes sharing one Chroma
server consistent without any of them re-reading every chunk.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

from ..errors import StoreError
from ..ingest.web import is_url
from ..search.sentences import pack, unpack
from ..settings import Settings
from .changelog import LOG_ARTICLES_PER_RECORD, ChangeLog, IntentJournal, changes_collection_name
from .records import LAYOUT, SENTENCE_VECTORS_KEY, ChunkPage, record_metadata
from .sentence_file import SentenceVectorFile

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode

log = logging.getLogger(__name__)

# One settings object for every client: Chroma refuses a second client on the same path
# with different settings in one process.
CHROMA_SETTINGS = ChromaSettings(anonymized_telemetry=False)
READ_BATCH = 5000
# Chroma on disk writes its HNSW index every `sync_threshold` records and keeps the rest in its
# write-ahead log, which every new process replays before its first query: ~1.5 ms a record on
# the bench's 2-core EPYC, so up to 1.4 s of each cold `newsbot ask` at Chroma's default 1000.
# At 100 the replay is ≤ 0.15 s; the extra index writes cost ~25 % of a bulk ingest's Chroma
# time with precomputed vectors, nothing next to embedding (docs/bench/README.md).
HNSW_SYNC_THRESHOLD = 100
# Search width: at Chroma's default 100 the 80 nearest chunks (CANDIDATES, doubled) missed some of
# the true 80 for 321 of 400 news questions, and which ones changed between processes (a cold start's
# replayed graph is built by several threads); at 800 all 80, every time, a few ms more (docs/scaling.md).
HNSW_EF_SEARCH = 800
HNSW_TUNING = {"sync_threshold": HNSW_SYNC_THRESHOLD, "ef_search": HNSW_EF_SEARCH}
TRANSIENT_RETRY_SECONDS = (0.1, 0.3, 1.0)
# What Chroma can answer for a moment, worth a short, bounded wait rather than an error: a server
# while another process's writes are indexed; the on-disk SQLite when two of Chroma's own
# connections meet (a configuration change right after a second client opened the store, under load).
TRANSIENT_ERRORS = ("Nothing found on disk", "Error finding id", "database is locked")


def _patiently(call: Callable[[], Any], failure: str) -> Any:
    """`call()` (a Chroma read or a small write), with a short, bounded wait on its transient
    errors; any other error, or one that lasts, is a StoreError."""
    for attempt in range(len(TRANSIENT_RETRY_SECONDS) + 1):
        try:
            return call()
        except Exception as exc:
            if attempt < len(TRANSIENT_RETRY_SECONDS) and any(m in str(exc) for m in TRANSIENT_ERRORS):
                time.sleep(TRANSIENT_RETRY_SECONDS[attempt])
                continue
            raise StoreError(f"{failure}: {exc}") from exc
    raise AssertionError("unreachable: the last attempt returns or raises")


def open_client(settings: Settings) -> ClientAPI:
    """An HTTP client when NEWSBOT_CHROMA_URL is set, else an on-disk client at the store path."""
    try:
        if settings.chroma_url:
            from urllib.parse import urlparse

            url = urlparse(settings.chroma_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise StoreError(f"NEWSBOT_CHROMA_URL must look like http://host:port, not {settings.chroma_url!r}")
            # A settings object of its own: HttpClient writes its host, port and HTTP API into
            # the object it is given, which then refused a second server (another port) and
            # turned later on-disk clients sharing CHROMA_SETTINGS into HTTP clients.
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        path = Path(settings.store).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=CHROMA_SETTINGS)
    except StoreError:
        raise
    except Exception as exc:
        where = settings.chroma_url or settings.store
        raise StoreError(f"cannot open the Chroma store at {where}: {exc}") from exc


def _local_dir(settings: Settings, kind: str) -> Path:
    """A folder of this machine's files about the store: beside an on-disk store, or, for a
    server, under the local store folder keyed by the server's URL and the collection."""
    if settings.chroma_url:
        key = re.sub(r"[^A-Za-z0-9]+", "_", f"{settings.chroma_url}_{settings.collection}")
        return Path(settings.store).expanduser() / f"{kind}-remote" / key
    return Path(settings.store).expanduser() / kind / settings.collection


@dataclass(frozen=True)
class StoredArticle:
    article_id: str
    source: str
    origin: str
    content_hash: str
    n_chunks: int
    chunks_found: int
    title: str
    outlet: str
    date: str
    layout: int = LAYOUT

    @property
    def complete(self) -> bool:
        return self.chunks_found == self.n_chunks

    @property
    def file_gone(self) -> bool:
        """Read from a local file that is no longer there (a web page never is)."""
        return bool(self.origin) and not is_url(self.origin) and not Path(self.origin).exists()


@dataclass(frozen=True)
class DenseMatch:
    chunk_id: str
    similarity: float  # cosine similarity
    text: str
    metadata: dict[str, Any]
    vector: Any = None  # the stored embedding, when asked for


class _LoggedWrite:
    """`with _LoggedWrite(store, op, ids): write`: an intent file before the write, the change-log
    records after it. After a failed write nothing more is written to the store (part of the
    write may have landed: the intent stays, and is logged later, see `IntentJournal`)."""

    def __init__(self, store: ChunkStore, op: str, article_ids: list[str]) -> None:
        self.store = store
        self.op = op
        self.article_ids = article_ids
        self.intent: Path | None = None

    def __enter__(self) -> None:
        self.intent = self.store.intents.open(self.op, self.article_ids)

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        assert self.intent is not None
        if error is not None:
            self.store.intents.close(self.intent, logged=False)
            return
        logged = False
        try:
            for start in range(0, len(self.article_ids), LOG_ARTICLES_PER_RECORD):
                self.store.changes.append(self.op, self.article_ids[start : start + LOG_ARTICLES_PER_RECORD])
            logged = True
        finally:
            self.store.intents.close(self.intent, logged)
        self.store.intents.recover(self.store.changes, own=True)  # earlier failed writes of this process


class ChunkStore:
    def __init__(self, settings: Settings, embed_key: str) -> None:
        self.settings = settings
        self.client = open_client(settings)
        try:
            self.collection: Collection = self.client.get_or_create_collection(
                settings.collection,
                configuration={"hnsw": {"space": "cosine", **HNSW_TUNING}},  # type: ignore[arg-type]
                metadata={"embed_model": embed_key, "chunk_size": settings.chunk_size, "version": "empty"},
                embedding_function=None,
            )
        except Exception as exc:
            raise StoreError(f"cannot open the collection {settings.collection!r}: {exc}") from exc
        self._tune_hnsw()
        self.changes = ChangeLog(self.client, changes_collection_name(settings.collection))
        # Both collections' ids, fixed when each was created: a side index made for another
        # incarnation of either (a store deleted and made again) is rebuilt, whatever its seq.
        self.log_id = f"{self.collection.id}/{self.changes.collection.id}"
        self.intents = IntentJournal(_local_dir(settings, "intents"))
        # Every process of a server store reads the vectors another wrote: they stay in Chroma.
        self.sentence_file = (
            None if settings.chroma_url else SentenceVectorFile(_local_dir(settings, "sentences") / "vectors.sqlite3")
        )
        stored_model = (self.collection.metadata or {}).get("embed_model")
        if stored_model and stored_model != embed_key:
            raise StoreError(
                f"this store was built with the {stored_model} embedding model, not {embed_key}: "
                f"set NEWSBOT_EMBED_MODEL={stored_model} or use another store"
            )

    def _tune_hnsw(self) -> None:
        """A store made before HNSW_TUNING (or by another tool) gets it: both are mutable settings."""
        hnsw = (self.collection.configuration or {}).get("hnsw") or {}
        changed = {key: value for key, value in HNSW_TUNING.items() if hnsw.get(key) != value}
        if not changed:
            return
        try:
            _patiently(lambda: self.collection.modify(configuration={"hnsw": changed}), "cannot tune its HNSW index")  # type: ignore[arg-type]
        except StoreError as exc:  # a read-only store still answers, more slowly to start or less exactly
            log.info("%s", exc)

    # -- bookkeeping ---------------------------------------------------------------------

    def _metadata(self) -> dict[str, Any]:
        try:
            fresh = self.client.get_collection(self.settings.collection, embedding_function=None)
        except Exception as exc:
            raise StoreError(f"cannot read the store: {exc}") from exc
        return dict(fresh.metadata or {})

    def version(self) -> str:
        """The change log's head, as text: equal to a BM25 side index's `version` when current."""
        return str(self.changes.head())

    def last_ingest(self) -> str:
        return str(self._metadata().get("last_ingest", ""))

    def mark_changed(self) -> None:
        """Record the time of a write (and a new `version` token, which side indexes before the
        change log read: they rebuild when it moves)."""
        metadata = {k: v for k, v in self._metadata().items() if not k.startswith("hnsw:")}
        metadata["version"] = uuid.uuid4().hex
        metadata["last_ingest"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        try:
            self.collection.modify(metadata=metadata)
        except Exception as exc:
            raise StoreError(f"cannot update the store: {exc}") from exc

    def count(self) -> int:
        try:
            return int(self.collection.count())
        except Exception as exc:
            raise StoreError(f"cannot read the store: {exc}") from exc

    def iter_chunks(self, include: Sequence[str] = ("documents", "metadatas")) -> Iterator[ChunkPage]:
        """Every chunk, a page at a time (`include` may add "embeddings")."""
        offset = 0
        while True:
            page = self._get(limit=READ_BATCH, offset=offset, include=list(include))
            if not page["ids"]:
                return
            yield ChunkPage.of(page)
            offset += len(page["ids"])
            if len(page["ids"]) < READ_BATCH:
                return

    def articles(self, **only: Sequence[str]) -> dict[str, StoredArticle]:
        """Every article in the store, with how many of its chunks are present; or only those
        whose chunk metadata matches one of the values given for a field (`article_id=[...]`,
        `content_hash=[...]`, `source=[...]`), which costs those articles' chunks instead of
        the store's (chunk metadata carries sentence vectors: 7 s a scan at 20k chunks)."""
        if only:
            pages: Iterable[list[dict[str, Any]]] = [list(self._metadata_where(only).values())]
        else:
            pages = (page.metadatas for page in self.iter_chunks(include=("metadatas",)))
        found: dict[str, int] = {}
        first: dict[str, dict[str, Any]] = {}
        for metadatas in pages:
            for meta in metadatas:
                article_id = str(meta.get("article_id", ""))
                found[article_id] = found.get(article_id, 0) + 1
                first.setdefault(article_id, meta)
        return {
            article_id: StoredArticle(
                article_id=article_id,
                source=str(meta.get("source", "")),
                origin=str(meta.get("origin", "")),
                content_hash=str(meta.get("content_hash", "")),
                n_chunks=int(meta.get("n_chunks", 0)),
                chunks_found=found[article_id],
                title=str(meta.get("title", "")),
                outlet=str(meta.get("outlet", "")),
                date=str(meta.get("date", "")),
                layout=int(meta.get("layout", 1)),
            )
            for article_id, meta in first.items()
        }

    def _metadata_where(self, only: dict[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
        """{chunk id: metadata} of the chunks matching any of the values, in batched queries."""
        out: dict[str, dict[str, Any]] = {}
        for key, values in only.items():
            wanted = sorted(set(values))
            for start in range(0, len(wanted), LOG_ARTICLES_PER_RECORD):
                batch = wanted[start : start + LOG_ARTICLES_PER_RECORD]
                page = self._get(where={key: {"$in": batch}}, include=["metadatas"])
                for cid, meta in zip(page["ids"], page.get("metadatas") or [], strict=True):
                    out[cid] = dict(meta or {})
        return out

    # -- writes --------------------------------------------------------------------------

    def replace_articles(
        self, nodes_by_article: dict[str, list[TextNode]], sentence_vectors: dict[str, np.ndarray] | None = None
    ) -> None:
        """Delete these articles' old chunks, then upsert the new ones, in one write each.

        `sentence_vectors` (node id → its sentences' embeddings) go to the store's sentence
        file, written first (see sentence_file.py), or, on a server, into the chunk's metadata
        beside LlamaIndex's serialised node, not inside it.

        The records are laid out as LlamaIndex's ChromaVectorStore lays them out (so LlamaIndex
        can read the collection), but written with `upsert`: with stable ids, two processes
        writing the same article at once end with one copy, never two. Killed between the two
        steps, the articles are simply missing and the next run adds them; killed during the
        upsert, Chroma's write-ahead log keeps the batch all or nothing. One call for a group
        of articles, not one per article: a Chroma write costs tens of milliseconds.

        Logged in the change log after the write (`_LoggedWrite`), for the side indexes.
        """
        nodes = [node for group in nodes_by_article.values() for node in group]
        if not nodes:
            return
        vectors = sentence_vectors or {}
        if self.sentence_file is not None:
            self.sentence_file.replace_articles(list(nodes_by_article), vectors)
            vectors = {}
        metadatas = [record_metadata(node) for node in nodes]
        for node, metadata in zip(nodes, metadatas, strict=True):
            if node.node_id in vectors:
                metadata[SENTENCE_VECTORS_KEY] = pack(vectors[node.node_id])
        with _LoggedWrite(self, "upsert", list(nodes_by_article)):
            self._replace(nodes_by_article, nodes, metadatas)

    def _replace(
        self, nodes_by_article: dict[str, list[TextNode]], nodes: list[TextNode], metadatas: list[dict[str, Any]]
    ) -> None:
        from llama_index.core.schema import MetadataMode

        try:
            self.collection.delete(where={"article_id": {"$in": list(nodes_by_article)}})  # type: ignore[dict-item]
            self.collection.upsert(
                ids=[node.node_id for node in nodes],
                embeddings=[node.get_embedding() for node in nodes],  # type: ignore[arg-type]
                metadatas=metadatas,  # type: ignore[arg-type]
                documents=[node.get_content(metadata_mode=MetadataMode.NONE) for node in nodes],
            )
        except Exception as exc:
            raise StoreError(f"cannot write to the store: {exc}") from exc

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        if not article_ids:
            return
        with _LoggedWrite(self, "delete", list(article_ids)):
            try:
                self.collection.delete(where={"article_id": {"$in": list(article_ids)}})  # type: ignore[dict-item]
            except Exception as exc:
                raise StoreError(f"cannot write to the store: {exc}") from exc
        if self.sentence_file is not None:
            self.sentence_file.delete_articles(article_ids)

    def chunks_of(
        self, article_ids: Sequence[str], include: Sequence[str] = ("documents", "metadatas")
    ) -> Iterator[ChunkPage]:
        """The chunks of these articles as they are now, a page at a time."""
        wanted = sorted(set(article_ids))
        for start in range(0, len(wanted), LOG_ARTICLES_PER_RECORD):
            batch = wanted[start : start + LOG_ARTICLES_PER_RECORD]
            page = self._get(where={"article_id": {"$in": batch}}, include=list(include))
            yield ChunkPage.of(page)

    # -- reads for search ----------------------------------------------------------------

    def _search(self, embedding: Sequence[float], n: int, where: dict[str, Any] | None, include: list[str]) -> Any:
        """One nearest-neighbour query (Chroma returns fewer than `n` when fewer match)."""
        return _patiently(
            lambda: self.collection.query(
                query_embeddings=[list(embedding)],  # type: ignore[arg-type]
                n_results=n,
                where=where,
                include=include,  # type: ignore[arg-type]
            ),
            "cannot search the store",
        )

    def _get(self, **request: Any) -> Any:
        """One `collection.get`."""
        return _patiently(lambda: self.collection.get(**request), "cannot read the store")

    def query(self, embedding: Sequence[float], n: int, where: dict[str, Any] | None) -> list[DenseMatch]:
        result = self._search(embedding, n, where, ["documents", "metadatas", "distances"])
        ids = result["ids"][0]
        distances = (result["distances"] or [[]])[0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        return [
            DenseMatch(chunk_id=cid, similarity=1.0 - float(dist), text=str(doc or ""), metadata=dict(meta or {}))
            for cid, dist, doc, meta in zip(ids, distances, documents, metadatas, strict=True)
        ]

    def nearest(self, embedding: Sequence[float], n: int) -> list[tuple[str, float]]:
        """The `n` nearest chunks' ids and cosines, nothing else fetched (no text, no metadata:
        a chunk's metadata holds its sentence vectors, too heavy to fetch for hundreds)."""
        result = self._search(embedding, n, None, ["distances"])
        distances = (result["distances"] or [[]])[0]
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], distances, strict=True)]

    def sentence_vectors(self, chunks: dict[str, dict[str, Any]], dim: int) -> dict[str, np.ndarray]:
        """Unit sentence vectors of these chunks (id → metadata as read), (n, dim) each: from the
        sentence file, else from the metadata (a server store, or chunks written before the
        file existed); chunks without any are left out."""
        found = self.sentence_file.get(list(chunks), dim) if self.sentence_file is not None else {}
        for chunk_id, metadata in chunks.items():
            packed = str(metadata.get(SENTENCE_VECTORS_KEY, ""))
            if chunk_id not in found and (vectors := unpack(packed, dim)) is not None:
                found[chunk_id] = vectors
        return found

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embeddings of these chunks (missing ids are left out)."""
        if not chunk_ids:
            return {}
        page = self._get(ids=list(chunk_ids), include=["embeddings"])
        embeddings = page.get("embeddings")
        if embeddings is None:
            return {}
        return {cid: np.asarray(vector, dtype=np.float32) for cid, vector in zip(page["ids"], embeddings, strict=True)}

    def get_chunks(self, chunk_ids: Sequence[str], with_embeddings: bool = False) -> dict[str, DenseMatch]:
        """Chunks by id (`similarity` is left at 0: there is no query here)."""
        if not chunk_ids:
            return {}
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        page = self._get(ids=list(chunk_ids), include=include)
        embeddings = page.get("embeddings")
        out = {}
        for i, cid in enumerate(page["ids"]):
            meta = dict((page["metadatas"] or [])[i] or {})
            vector = embeddings[i] if embeddings is not None else None
            out[cid] = DenseMatch(cid, 0.0, str((page["documents"] or [])[i] or ""), meta, vector)
        return out
