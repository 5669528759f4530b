"""The change log: every write to the chunk collection, numbered, in a Chroma collection of its
own (`<collection>__changes`), so that each process's BM25 side index applies only the changes
after the position it is at (docs/lexical.md); and the intent journal that lets the next process
log a write whose writer died before logging it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

from ..errors import StoreError

log = logging.getLogger(__name__)

CHANGES_SUFFIX = "__changes"
LOG_KEEP = 20_000  # change records kept; a side index further behind than this is rebuilt
LOG_TRIM_EVERY = 500  # appends between two trims of the log
LOG_ARTICLES_PER_RECORD = 500  # a larger write is logged as several records
LOG_MAX_CLAIMS = 1000  # attempts at the next sequence number before giving up
LOG_HINT_EVERY = 50  # appends between two updates of the head hint in the log's metadata


@dataclass(frozen=True)
class Change:
    """One record of the change log: the chunks of `article_ids` were written ("upsert") or
    deleted ("delete"). Logged after the write, so a reader that sees it finds the write done."""

    seq: int
    op: str  # "upsert" | "delete"
    article_ids: tuple[str, ...]


def changes_collection_name(collection: str) -> str:
    """`<collection>__changes`, shortened to Chroma's 63-character limit with a hash if need be."""
    name = collection + CHANGES_SUFFIX
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(collection.encode("utf-8")).hexdigest()[:8]
    return f"{collection[: 63 - len(CHANGES_SUFFIX) - 9]}-{digest}{CHANGES_SUFFIX}"


class ChangeLog:
    """A monotonically numbered log of writes, in a Chroma collection of its own.

    Record ids are the zero-padded sequence numbers. Chroma has no transactions, but it keeps
    the first record written under an id and ignores a later `add` of the same id (checked for
    the embedded store and `chroma run`): so a writer claims number n by adding record n and
    reading it back, and on finding another writer's record there tries n + 1. Numbers are
    therefore handed out without gaps, in the order the records were written, whatever the
    number of processes, and a reader at position S that sees records S+1..H has seen every
    write logged up to H. Old records are deleted (`LOG_KEEP`); a reader that finds the record
    after its position gone rebuilds instead.
    """

    def __init__(self, client: ClientAPI, name: str) -> None:
        try:
            self.collection: Collection = client.get_or_create_collection(
                name, metadata={"newsbot": "change log"}, embedding_function=None
            )
        except Exception as exc:
            raise StoreError(f"cannot open the change log {name!r}: {exc}") from exc
        # Highest number seen here; every number up to it is taken. Starts from a hint kept in the
        # log's metadata, so a new process does not read the whole log to find the head.
        self._head = int((self.collection.metadata or {}).get("hint", 0))

    def since(self, seq: int) -> list[Change]:
        """The records after `seq`, in order (may start after seq + 1 if the log was trimmed)."""
        try:
            page = self.collection.get(where={"seq": {"$gt": seq}}, include=["metadatas"])  # type: ignore[dict-item,list-item]
        except Exception as exc:
            raise StoreError(f"cannot read the store: {exc}") from exc
        records: list[dict[str, Any]] = [dict(m or {}) for m in page.get("metadatas") or []]
        changes = sorted(
            (Change(int(m["seq"]), str(m["op"]), tuple(json.loads(str(m["articles"])))) for m in records),
            key=lambda c: c.seq,
        )
        if changes:
            self._head = max(self._head, changes[-1].seq)
        return changes

    def head(self) -> int:
        """The highest number in the log (0: nothing logged yet)."""
        self.since(self._head)
        return self._head

    def append(self, op: str, article_ids: Sequence[str]) -> int:
        """Log one record; returns its number."""
        seq = self.head() + 1
        writer = uuid.uuid4().hex
        metadata: dict[str, Any] = {"op": op, "articles": json.dumps(list(article_ids)), "writer": writer}
        try:
            for _ in range(LOG_MAX_CLAIMS):
                record = f"{seq:012d}"
                self.collection.add(ids=[record], embeddings=[[0.0]], metadatas=[{**metadata, "seq": seq}])  # type: ignore[arg-type]
                found = self.collection.get(ids=[record], include=["metadatas"])  # type: ignore[list-item]
                holders = [dict(m or {}).get("writer") for m in found.get("metadatas") or []]
                if not holders:  # not even ours: the write did not land (a full disk says so this way)
                    raise StoreError("cannot write to the store: a change-log record was not kept")
                if holders[0] == writer:
                    break
                seq += 1  # another process took this number first
            else:
                raise StoreError(f"cannot claim a change-log number after {LOG_MAX_CLAIMS} tries")
            if seq % LOG_HINT_EVERY == 0:
                self.collection.modify(metadata={"newsbot": "change log", "hint": seq})
            if seq % LOG_TRIM_EVERY == 0:
                self.collection.delete(where={"seq": {"$lte": seq - LOG_KEEP}})  # type: ignore[dict-item]
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot write to the store: {exc}") from exc
        self._head = max(self._head, seq)
        return seq


# Intent files of writes in flight in this process, whichever ChunkStore object is writing.
_IN_FLIGHT: set[Path] = set()
_IN_FLIGHT_LOCK = threading.Lock()


class IntentJournal:
    """Local files saying "this process is about to write these articles", one per write, deleted
    once the write is logged. A process killed between its write and the log record leaves its
    file behind, and so does a write that failed part-way; it is logged later on the writer's
    behalf (`recover`), so no side index misses what did land.

    Local rather than a record in Chroma: a record written *before* the write would be read by
    other processes before the write lands (they would need a second look later), and it would
    be the first thing an interrupted ingest leaves in the store.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def open(self, op: str, article_ids: Sequence[str]) -> Path:
        path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex}.json"
        intent = {"pid": os.getpid(), "started": _process_start(os.getpid()), "op": op, "articles": list(article_ids)}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(intent), encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot write to the store: {exc}") from exc
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.add(path)
        return path

    def close(self, path: Path, logged: bool) -> None:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(path)
        if logged:
            path.unlink(missing_ok=True)

    def recover(self, changes: ChangeLog, own: bool = False) -> int:
        """Log the writes that dead processes left unlogged, and with `own` this process's
        (only just after a write succeeded: an embedded store that has just failed a write can
        hang on the next one). Returns how many were logged."""
        try:
            paths = sorted(self.directory.glob("*.json"))
        except OSError:
            return 0
        recovered = 0
        for path in paths:
            with _IN_FLIGHT_LOCK:
                if path in _IN_FLIGHT:
                    continue
            try:
                intent = json.loads(path.read_text(encoding="utf-8"))
                pid = int(intent["pid"])
                if pid == os.getpid() and not own:
                    continue
                if pid != os.getpid() and _process_start(pid) == intent.get("started"):
                    continue  # its writer is alive: still writing
                changes.append(str(intent["op"]), [str(a) for a in intent["articles"]])
            except FileNotFoundError:
                continue  # another process recovered it just now
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("unreadable write intent %s (%s): removed", path, exc)
            path.unlink(missing_ok=True)
            recovered += 1
        return recovered


def _process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), or None if there is no such process:
    a pid alone could have been reused by another process since."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "alive"
