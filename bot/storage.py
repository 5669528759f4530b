"""The bot's durable state in one SQLite file next to the store (`<store>/feedback.sqlite3`):
the answers it gave (so buttons and follow-ups work after a restart), the votes on them,
and the channels where it answers mentions.

Calls are short and synchronous; the bot runs them with `asyncio.to_thread`. One
connection, shared across threads under a lock (sqlite3 objects are not thread-safe).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from index import Answer, Citation, StoreError

FILE_NAME = "feedback.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 10  # wait this long for another writer (a second bot process) before failing

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id   TEXT PRIMARY KEY,
    created_at  REAL NOT NULL,
    guild_id    INTEGER,
    channel_id  INTEGER,            -- where the answer was posted (the thread, when there is one)
    thread_id   INTEGER,            -- the conversation thread, for follow-up context
    user_id     INTEGER NOT NULL,   -- who asked
    question    TEXT NOT NULL,
    answer_text TEXT NOT NULL,
    answer_json TEXT NOT NULL       -- Answer.to_dict(), for the "Fuentes" button
);
CREATE INDEX IF NOT EXISTS answers_by_thread ON answers (thread_id, created_at);

CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES answers (answer_id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL,
    vote      INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    voted_at  REAL NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);

CREATE TABLE IF NOT EXISTS channels (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    enabled    INTEGER NOT NULL,
    changed_by INTEGER NOT NULL,
    changed_at REAL NOT NULL
);

-- One row per vote with what was asked and answered: the table to export for evaluation.
CREATE VIEW IF NOT EXISTS feedback AS
    SELECT v.answer_id, a.question, a.answer_text AS answer, v.user_id, v.voted_at, v.vote
    FROM votes v JOIN answers a USING (answer_id);
"""


class VoteResult(Enum):
    NEW = "new"
    CHANGED = "changed"
    SAME = "same"
    UNKNOWN_ANSWER = "unknown"


@dataclass(frozen=True)
class AnswerRecord:
    answer_id: str
    answer: Answer
    user_id: int
    guild_id: int | None
    channel_id: int | None
    thread_id: int | None
    created_at: float


def answer_from_dict(data: dict[str, object]) -> Answer:
    """Rebuild an `Answer` from `Answer.to_dict()`."""

    def citations(key: str) -> list[Citation]:
        return [Citation(**c) for c in data.get(key) or []]  # type: ignore[arg-type, attr-defined]

    return Answer(
        question=str(data["question"]),
        text=str(data["text"]),
        citations=citations("citations"),
        refused=bool(data.get("refused", False)),
        language=str(data.get("language") or "es"),
        see_also=citations("see_also"),
        answerer=str(data.get("answerer") or "extractive"),
    )


class Storage:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the bot database {self.path}: {exc}") from exc

    @classmethod
    def beside(cls, store: str | Path) -> Storage:
        return cls(Path(store).expanduser() / FILE_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        with self._lock:
            try:
                with self._db:  # one transaction, committed or rolled back
                    return self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write the bot database: {exc}") from exc

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the bot database: {exc}") from exc

    # -- answers -----------------------------------------------------------------------

    def save_answer(self, record: AnswerRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.answer_id,
                record.created_at,
                record.guild_id,
                record.channel_id,
                record.thread_id,
                record.user_id,
                record.answer.question,
                record.answer.text,
                json.dumps(record.answer.to_dict(), ensure_ascii=False),
            ),
        )

    def get_answer(self, answer_id: str) -> Answer | None:
        rows = self._read("SELECT answer_json FROM answers WHERE answer_id = ?", (answer_id,))
        return answer_from_dict(json.loads(str(rows[0][0]))) if rows else None

    def thread_questions(self, thread_id: int, limit: int) -> list[str]:
        """The last `limit` questions answered in a thread, oldest first."""
        rows = self._read(
            "SELECT question FROM answers WHERE thread_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (thread_id, limit),
        )
        return [str(row[0]) for row in reversed(rows)]

    def is_conversation(self, thread_id: int) -> bool:
        """True when the bot has answered in this thread (so it follows up without a mention)."""
        return bool(self._read("SELECT 1 FROM answers WHERE thread_id = ? LIMIT 1", (thread_id,)))

    def answer_count(self) -> int:
        return int(self._read("SELECT count(*) FROM answers")[0][0])  # type: ignore[call-overload]

    # -- votes -------------------------------------------------------------------------

    def record_vote(self, answer_id: str, user_id: int, vote: int, *, now: float | None = None) -> VoteResult:
        """Store a user's 👍 (1) or 👎 (-1) on an answer, replacing the user's earlier vote."""
        if vote not in (-1, 1):
            raise ValueError("vote must be 1 or -1")
        with self._lock:
            try:
                with self._db:
                    if not self._db.execute("SELECT 1 FROM answers WHERE answer_id = ?", (answer_id,)).fetchone():
                        return VoteResult.UNKNOWN_ANSWER
                    row = self._db.execute(
                        "SELECT vote FROM votes WHERE answer_id = ? AND user_id = ?", (answer_id, user_id)
                    ).fetchone()
                    self._db.execute(
                        "INSERT OR REPLACE INTO votes VALUES (?, ?, ?, ?)",
                        (answer_id, user_id, vote, time.time() if now is None else now),
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write the bot database: {exc}") from exc
        if row is None:
            return VoteResult.NEW
        return VoteResult.SAME if row[0] == vote else VoteResult.CHANGED

    def vote_totals(self, answer_id: str | None = None) -> tuple[int, int]:
        """(👍, 👎) for one answer, or over all answers."""
        where, params = ("WHERE answer_id = ?", (answer_id,)) if answer_id else ("", ())
        row = self._read(f"SELECT coalesce(sum(vote = 1), 0), coalesce(sum(vote = -1), 0) FROM votes {where}", params)[
            0
        ]
        return int(row[0]), int(row[1])  # type: ignore[call-overload]

    def feedback(self) -> list[dict[str, object]]:
        """Every vote with its question and answer, oldest first."""
        rows = self._read("SELECT answer_id, question, answer, user_id, voted_at, vote FROM feedback ORDER BY voted_at")
        keys = ("answer_id", "question", "answer", "user_id", "voted_at", "vote")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- channels ----------------------------------------------------------------------

    def set_channel(self, guild_id: int, channel_id: int, enabled: bool, changed_by: int) -> None:
        self._write(
            "INSERT OR REPLACE INTO channels VALUES (?, ?, ?, ?, ?)",
            (channel_id, guild_id, int(enabled), changed_by, time.time()),
        )

    def channel_enabled(self, channel_id: int) -> bool:
        """Whether mentions are answered in a channel; channels are off until an admin enables them."""
        rows = self._read("SELECT enabled FROM channels WHERE channel_id = ?", (channel_id,))
        return bool(rows and rows[0][0])

    def enabled_channels(self, guild_id: int) -> list[int]:
        rows = self._read(
            "SELECT channel_id FROM channels WHERE guild_id = ? AND enabled = 1 ORDER BY channel_id", (guild_id,)
        )
        return [int(row[0]) for row in rows]  # type: ignore[call-overload]
