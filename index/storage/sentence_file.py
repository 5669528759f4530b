"""The sentence vectors of an on-disk store, in a file of their own beside Chroma's.

Why not in the chunk's Chroma metadata, as a server store keeps them: Chroma's on-disk store
indexes every string metadata value (SQLite index on key and value, whatever the collection's
schema says), and a value over ~1 KB spills into overflow pages in that index. A chunk's
base64 sentence vectors (~2.8 KB) cost ~8 KB of `chroma.sqlite3` that way; here they cost
their raw int8 bytes (~2.1 KB). Measured on 10k chunks of a `newsbot bench` store: 229 MB of
`chroma.sqlite3` with them in metadata, 89 MB without (docs/bench/README.md).

One row per chunk, keyed by the chunk id (`{article_id}-{chunk_no:04d}`, so an article's rows
are one key range). Written before the Chroma write that stores the chunks and deleted after
the one that removes them: a crash in between leaves vectors without chunks (unused, replaced
by the article's next write), never chunks without vectors.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import StoreError
from ..search.sentences import dequantize, quantize

# 16 KB pages hold seven rows of ~2 KB; at SQLite's default 4 KB one row would take a page.
PAGE_SIZE = 16384
QUERY_BATCH = 500  # ids per SELECT, under SQLite's limit on bound parameters


def article_range(article_id: str) -> tuple[str, str]:
    """The [low, high) range of the ids of an article's chunks ("-" sorts just before ".")."""
    return f"{article_id}-", f"{article_id}."


class SentenceVectorFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # one connection, shared by the threads that ask
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # takes effect only on a new file
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (chunk_id TEXT PRIMARY KEY, data BLOB NOT NULL)")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the sentence vectors at {path}: {exc}") from exc

    def replace_articles(self, article_ids: Sequence[str], vectors: Mapping[str, np.ndarray]) -> None:
        """Drop these articles' rows and store `vectors` (chunk id → (n, dim) floats), in one transaction."""
        rows = [(chunk_id, quantize(v).tobytes()) for chunk_id, v in vectors.items() if len(v)]
        self._write(article_ids, rows)

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        self._write(article_ids, [])

    def _write(self, article_ids: Sequence[str], rows: list[tuple[str, bytes]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "DELETE FROM vectors WHERE chunk_id >= ? AND chunk_id < ?", map(article_range, article_ids)
                )
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreError(f"cannot write the sentence vectors at {self.path}: {exc}") from exc

    def get(self, chunk_ids: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        """Unit sentence vectors of these chunks, (n, dim) each; chunks without any are left out."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(chunk_ids), QUERY_BATCH):
                batch = list(chunk_ids[start : start + QUERY_BATCH])
                marks = ",".join("?" * len(batch))
                try:
                    rows = self._db.execute(f"SELECT chunk_id, data FROM vectors WHERE chunk_id IN ({marks})", batch)
                    for chunk_id, data in rows.fetchall():
                        vectors = dequantize(bytes(data), dim)
                        if vectors is not None:
                            found[chunk_id] = vectors
                except sqlite3.Error as exc:
                    raise StoreError(f"cannot read the sentence vectors at {self.path}: {exc}") from exc
        return found

    def close(self) -> None:
        with self._lock:
            self._db.close()
