"""`newsbot watch`: re-read sources every so often and ingest what is new or changed.

A round is one `NewsIndex.ingest` of every source (folders, files, article URLs, feeds,
sitemaps). A source that is down only shows up as `failed` in that round's line; the next round
tries again. Stopping (SIGINT/SIGTERM in the CLI, an event for the bot and tests) ends the
fetching at the next URL, and the articles already fetched are written whole before the loop
returns: the store never holds half an article (and `NewsIndex.ingest` repairs one anyway).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError, NewsbotError

if TYPE_CHECKING:
    from ..newsindex import NewsIndex

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in "90", "30s", "10m", "1h" or "1d"."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"invalid interval {text!r} (examples: 30s, 10m, 1h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


@dataclass(frozen=True)
class Round:
    number: int
    new: int
    updated: int
    unchanged: int
    failed: int
    seconds: float
    error: str = ""  # the whole round failed (the store was unreachable, ...)

    def line(self) -> str:
        if self.error:
            return f"round {self.number}: failed: {self.error}"
        return (
            f"round {self.number}: new {self.new}, updated {self.updated}, unchanged {self.unchanged}, "
            f"failed {self.failed} ({self.seconds:.1f} s)"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "round": self.number,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "seconds": round(self.seconds, 2),
            "error": self.error,
        }


def watch(
    index: NewsIndex,
    sources: Sequence[str],
    *,
    every: float,
    stop: threading.Event,
    max_rounds: int | None = None,
    on_round: Callable[[Round], None] | None = None,
    on_skipped: Callable[[str, str], None] | None = None,
) -> list[Round]:
    """Ingest `sources` every `every` seconds until `stop` is set (or `max_rounds` rounds)."""
    rounds: list[Round] = []
    number = 0
    while not stop.is_set():
        number += 1
        started = time.monotonic()
        try:
            report = index.ingest(list(sources), stop=stop)
        except NewsbotError as exc:  # e.g. a Chroma server that is down: try again next round
            result = Round(number, 0, 0, 0, 0, time.monotonic() - started, error=str(exc))
        else:
            for source, reason in report.skipped:
                if on_skipped is not None:
                    on_skipped(source, reason)
            result = Round(
                number,
                new=len(report.added),
                updated=len(report.updated),
                unchanged=len(report.unchanged),
                failed=len(report.skipped),
                seconds=time.monotonic() - started,
            )
        rounds.append(result)
        log.info("%s", result.line())
        if on_round is not None:
            on_round(result)
        if max_rounds is not None and number >= max_rounds:
            break
        stop.wait(every)
    return rounds
