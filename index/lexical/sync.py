"""One process's BM25 side index, kept current with the store's change log (docs/lexical.md).

The index is saved beside the store with the change-log position it is at. Before each use the
changes logged after that position are applied, re-reading the current chunks of the articles
they name; the index is rebuilt from every chunk only when there is no usable saved index, the
store was recreated (another log), or the log no longer reaches back to the position.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..storage.records import ChunkPage
from ..storage.store import ChunkStore
from .bm25 import SegmentIndex, SideIndex
from .segments import ChunkText

log = logging.getLogger(__name__)


# What the side index reads of a chunk: BM25 indexes its headline and text, and keeps its date
# and an int8 copy of its embedding (for date-ranged dense search).
READ = ("documents", "metadatas", "embeddings")


def chunk_texts(pages: Iterable[ChunkPage]) -> Iterator[ChunkText]:
    """The side index's view of each chunk, one page of chunks read at a time (a rebuild holds
    the store's postings and int8 vectors, not its text)."""
    for page in pages:
        for i, (cid, doc, meta) in enumerate(zip(page.ids, page.documents, page.metadatas, strict=True)):
            vector = page.embeddings[i] if page.embeddings is not None else None
            yield ChunkText(cid, str(meta.get("article_id", "")), f"{meta.get('title', '')}\n{doc}",
                            int(meta.get("date_int", 0)), vector)  # fmt: skip


class LexicalSync:
    """The side index at `directory` for `store`, brought up to date on every `current()`."""

    def __init__(self, store: ChunkStore, directory: Path) -> None:
        self.store = store
        self.directory = directory
        self._side = SideIndex(directory)
        self._current: SegmentIndex | None = None
        self._lock = threading.Lock()

    def current(self) -> SegmentIndex:
        with self._lock:
            return self._sync()

    def _sync(self) -> SegmentIndex:
        # Writes of processes that died before logging them are logged first (changelog.IntentJournal).
        self.store.intents.recover(self.store.changes)
        current = self._current if self._current is not None else self._side.load()
        if current is None or current.log_id != self.store.log_id:
            return self._rebuild()
        changes = self.store.changes.since(current.seq)
        if not changes:
            self._current = current
            return current
        if changes[0].seq != current.seq + 1:
            log.info("the change log no longer reaches back to the BM25 index (%d); rebuilding it", current.seq)
            return self._rebuild()
        # The chunks of every article the changes name, as they are now (none: deleted). Read
        # now rather than taken from the log, so the order concurrent writes were logged in does
        # not matter: the index ends as the store is.
        touched = sorted({a for change in changes for a in change.article_ids})
        updated = current.apply(changes[-1].seq, touched, list(chunk_texts(self.store.chunks_of(touched, READ))))
        self._save(updated)
        self._current = updated
        return updated

    def _rebuild(self) -> SegmentIndex:
        """Build the BM25 index from every chunk in the store and save it."""
        # The head is read before the chunks: a write racing with the read is logged after it,
        # and applied on the next sync.
        head = self.store.changes.head()
        rebuilt = SegmentIndex.build(head, chunk_texts(self.store.iter_chunks(READ)), self.store.log_id)
        self._save(rebuilt)
        self._current = rebuilt
        return rebuilt

    def _save(self, lexical: SegmentIndex) -> None:
        try:
            self._side.save(lexical)
        except OSError as exc:  # read-only or full disk: keep serving from memory
            log.warning("cannot save the BM25 index to %s: %s", self.directory, exc)
