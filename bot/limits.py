"""Every limit the bot lives by, in one place: Discord's hard limits and the bot's own policy.

Discord's limits come from its developer documentation (Message resource, "Embed Limits",
Channel resource, "Interactions": the 3-second acknowledgement and the 15-minute token).
The bot's own limits are a `BotLimits` value, overridable from the environment (or `.env`,
which `Settings.from_env()` loads) through the NEWSBOT_BOT_* variables below.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar

from index import SUPPORTED_SUFFIXES, ConfigError

# -- Discord's hard limits ---------------------------------------------------------------
MESSAGE_CHARS = 2000
EMBED_TITLE_CHARS = 256
EMBED_DESCRIPTION_CHARS = 4096
EMBED_FIELDS = 25
EMBED_FIELD_NAME_CHARS = 256
EMBED_FIELD_VALUE_CHARS = 1024
EMBED_FOOTER_CHARS = 2048
EMBED_TOTAL_CHARS = 6000  # title + description + field names/values + footer + author, over all embeds of a message
EMBEDS_PER_MESSAGE = 10
THREAD_NAME_CHARS = 100
INTERACTION_TOKEN_SECONDS = 15 * 60  # after this, an interaction's messages can no longer be edited

# -- The bot's fixed choices -------------------------------------------------------------
ASK_MAX_CHARS = 1000  # /ask's option length; the index itself refuses questions above 2000 characters
HISTORY_QUESTIONS = 6  # earlier questions of a thread passed as context to a follow-up
THREAD_ARCHIVE_MINUTES: Literal[60, 1440, 4320, 10080] = 1440  # the durations Discord offers
# The files /ingest takes: exactly those the index reads (as `newsbot ingest` does), sorted for the texts.
INGEST_SUFFIXES: tuple[str, ...] = tuple(sorted(SUPPORTED_SUFFIXES))
URL_MAX_CHARS = 2000  # the url option of /ingest
SOURCES_PAGE_SIZE = 8
QUOTE_PREVIEW_CHARS = 300  # per source in the answer's embed; the "Fuentes" button shows the full passage
PAGER_TIMEOUT_SECONDS = 10 * 60  # must stay below INTERACTION_TOKEN_SECONDS to disable the buttons afterwards


@dataclass(frozen=True)
class BotLimits:
    """The bot's own, tunable limits (environment variable in brackets)."""

    cooldown_seconds: float = 8.0  # between two questions of one user [NEWSBOT_BOT_COOLDOWN]
    max_concurrent_questions: int = 3  # answered at once; more get a "busy" reply [NEWSBOT_BOT_MAX_CONCURRENT]
    question_timeout_seconds: float = 90.0  # for one answer, LLM included [NEWSBOT_BOT_TIMEOUT]
    max_upload_bytes: int = 5 * 1024 * 1024  # per attachment given to /ingest [NEWSBOT_BOT_MAX_UPLOAD_BYTES]

    ENV_NAMES: ClassVar[dict[str, str]] = {
        "cooldown_seconds": "NEWSBOT_BOT_COOLDOWN",
        "max_concurrent_questions": "NEWSBOT_BOT_MAX_CONCURRENT",
        "question_timeout_seconds": "NEWSBOT_BOT_TIMEOUT",
        "max_upload_bytes": "NEWSBOT_BOT_MAX_UPLOAD_BYTES",
    }

    def __post_init__(self) -> None:
        if self.cooldown_seconds < 0:
            raise ConfigError("NEWSBOT_BOT_COOLDOWN must be 0 or more seconds")
        if self.max_concurrent_questions < 1:
            raise ConfigError("NEWSBOT_BOT_MAX_CONCURRENT must be at least 1")
        if self.question_timeout_seconds <= 0:
            raise ConfigError("NEWSBOT_BOT_TIMEOUT must be positive")
        if self.max_upload_bytes < 1:
            raise ConfigError("NEWSBOT_BOT_MAX_UPLOAD_BYTES must be positive")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BotLimits:
        env = os.environ if env is None else env
        values: dict[str, float | int] = {}
        for f in fields(cls):
            raw = env.get(cls.ENV_NAMES[f.name], "").strip()
            if not raw:
                continue
            kind = int if f.type in ("int", int) else float
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise ConfigError(f"{cls.ENV_NAMES[f.name]}={raw!r} is not a valid {kind.__name__}") from None
        return cls(**values)  # type: ignore[arg-type]


class Cooldown:
    """At most one question per user every `seconds` (monotonic clock; in memory on purpose:
    a restart forgiving a few seconds of cooldown is harmless)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: dict[int, float] = {}

    def hit(self, user_id: int) -> float:
        """0 when the user may ask now (and starts the user's cooldown), else the seconds left."""
        now = time.monotonic()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return self.seconds - (now - last)
        self._last[user_id] = now
        if len(self._last) > 10_000:  # forget users whose cooldown has long passed
            self._last = {u: t for u, t in self._last.items() if now - t < self.seconds}
        return 0.0


class Busy(Exception):
    """Every question slot is taken."""


T = TypeVar("T")


class QuestionSlots:
    """A global cap on questions being answered, that says "busy" instead of queueing.

    A slot is held until the worker thread really finishes, even when the caller gave up
    waiting (timeout): threads cannot be cancelled, so freeing the slot early would let
    stuck work pile up behind the cap.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0  # slots held, timed-out work still running included
        self._semaphore = asyncio.Semaphore(limit)

    @property
    def busy(self) -> bool:
        return self._semaphore.locked()

    async def run(self, work: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Run `work` (a coroutine factory) in a slot; raise `Busy` at once when none is free,
        `TimeoutError` after `timeout` seconds."""
        if self._semaphore.locked():
            raise Busy()
        await self._semaphore.acquire()  # returns at once: a slot is free and nothing ran in between
        self.in_use += 1
        task = asyncio.ensure_future(work())
        task.add_done_callback(self._finished)
        return await asyncio.wait_for(asyncio.shield(task), timeout)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self.in_use -= 1
        self._semaphore.release()
        if not task.cancelled():
            task.exception()  # retrieved here: after a timeout nobody else will look at it
