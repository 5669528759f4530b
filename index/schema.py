"""The small records that flow between ingest, search, answering and the front-ends."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field

# A citation marker in an answer: "[2]", or "[1, 2]" where an answer groups them. Every reader of
# markers (composing, LLM reply checks, evaluation, Discord rendering) uses this one pattern.
CITATION_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def marker_numbers(text: str) -> list[int]:
    """The source numbers cited in `text`, in order: "a [1] b [2, 3]" → [1, 2, 3]."""
    return [int(n) for group in CITATION_MARKER.findall(text) for n in group.split(",")]


def strip_markers(text: str) -> str:
    """`text` as read without its markers, whitespace folded."""
    return " ".join(CITATION_MARKER.sub(" ", text).split())


@dataclass(frozen=True)
class Article:
    """One news article, as read from a file or a JSON record."""

    source: str  # absolute path, "path#N" for the N-th record of a JSON file, or the record's URL
    origin: str  # the file it was read from (used by --prune)
    title: str
    outlet: str
    date: str  # ISO YYYY-MM-DD
    text: str
    language: str
    url: str = ""

    @property
    def article_id(self) -> str:
        return hashlib.sha1(self.source.encode("utf-8")).hexdigest()[:16]

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for part in (self.title, self.outlet, self.date, self.url, self.text):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        return digest.hexdigest()[:32]

    @property
    def date_int(self) -> int:
        """YYYYMMDD as an integer, so Chroma can filter date ranges."""
        return int(self.date.replace("-", ""))


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    chunks: int = 0  # chunks embedded and written in this run

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}, skipped {len(self.skipped)}; {self.chunks} chunks written"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
            "chunks": self.chunks,
        }


@dataclass(frozen=True)
class Hit:
    """One article found by search. Chunks of the same article are merged into one hit."""

    source: str
    title: str
    outlet: str
    date: str
    text: str  # the best-matching chunk
    score: float  # fused score in [0, 1]; higher is better
    article_id: str = ""
    url: str = ""
    language: str = ""
    passages: tuple[str, ...] = ()  # every matching chunk of the article, best first
    similarity: float = 0.0  # raw cosine of the best chunk (the fused score is relative)
    # per passage, the cosine of each of its sentences with the query (empty when not stored)
    sentence_similarities: tuple[tuple[float, ...], ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "title": self.title,
            "outlet": self.outlet,
            "date": self.date,
            "url": self.url,
            "language": self.language,
            "score": round(self.score, 4),
            "text": self.text,
        }


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: `[number]` in `Answer.text` points here."""

    number: int
    source: str
    title: str
    outlet: str
    date: str
    quote: str  # the passage the answer rests on
    url: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "source": self.source,
            "title": self.title,
            "outlet": self.outlet,
            "date": self.date,
            "url": self.url,
            "quote": self.quote,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # the answer with [n] markers; every n is a citation's number
    citations: list[Citation]
    refused: bool  # True when the articles do not hold the answer
    language: str  # the question's language, ISO 639-1 ("es", "en", ...)
    see_also: list[Citation] = field(default_factory=list)  # closest sources, offered with a refusal
    answerer: str = "extractive"  # or "llm:<provider>"
    # The reader's answerability score of the answer it chose (see reader.py; a two-part
    # question's best part's, which the refusal threshold is compared with); nan for others.
    score: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        return {
            "question": self.question,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "refused": self.refused,
            "language": self.language,
            "see_also": [c.to_dict() for c in self.see_also],
            "answerer": self.answerer,
        }


@dataclass(frozen=True)
class ArticleInfo:
    source: str
    title: str
    outlet: str
    date: str
    chunks: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
