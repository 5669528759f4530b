"""What has been fetched from the web: per URL, its validators (ETag / Last-Modified), the hash
of what was extracted from it, and for a feed or sitemap the article links it listed.

It lives in the store folder (`<store>/fetched.sqlite3`), so a restarted `watch` asks each
server "anything new since?" instead of downloading everything again. It is only a cache for
the HTTP side: the article chunks in Chroma stay the truth. A row is written after its article
is stored, and a 304 is trusted only when the article is still complete in the store, so a
process killed between the two writes refetches, never loses an article.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = "fetched.sqlite3"


@dataclass(frozen=True)
class Seen:
    url: str
    kind: str  # "article", "feed" or "sitemap"
    etag: str = ""
    last_modified: str = ""
    content_hash: str = ""  # the article's content hash (articles only)
    source: str = ""  # the article's source in the store (articles only)
    links: tuple[str, ...] = field(default=())  # feeds and sitemaps: the links they listed


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS fetched ("
                " url TEXT PRIMARY KEY, kind TEXT NOT NULL, etag TEXT NOT NULL DEFAULT '',"
                " last_modified TEXT NOT NULL DEFAULT '', content_hash TEXT NOT NULL DEFAULT '',"
                " source TEXT NOT NULL DEFAULT '', links TEXT NOT NULL DEFAULT '[]', checked_at TEXT NOT NULL)"
            )

    @classmethod
    def beside(cls, store: str | Path) -> Ledger:
        return cls(Path(store).expanduser() / FILE_NAME)

    def get(self, url: str) -> Seen | None:
        with self._lock:
            row = self._db.execute(
                "SELECT url, kind, etag, last_modified, content_hash, source, links FROM fetched WHERE url = ?", (url,)
            ).fetchone()
        if row is None:
            return None
        return Seen(row[0], row[1], row[2], row[3], row[4], row[5], tuple(json.loads(row[6])))

    def put_many(self, entries: list[Seen]) -> None:
        """Record entries in one transaction (all or none)."""
        if not entries:
            return
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO fetched"
                " (url, kind, etag, last_modified, content_hash, source, links, checked_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (e.url, e.kind, e.etag, e.last_modified, e.content_hash, e.source, json.dumps(list(e.links)), now)
                    for e in entries
                ],
            )

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM fetched").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
