"""An evaluation set: its articles and its questions, each with the answers that count."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..schema import Article
from .metrics import contains_answer


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    gold_sources: frozenset[str]  # articles that hold the answer (empty for unanswerable ones)
    answers: tuple[str, ...]  # acceptable answer strings
    answerable: bool
    kind: str = "factual"  # the gold set's `type`; SQuAD questions are "factual" or "unanswerable"
    since: str | None = None
    until: str | None = None
    qid: str = ""
    asked_about: str = ""  # the SQuAD paragraph the question was written for (unanswerable ones too)
    article_number: int = 0  # position of its article in the data set (SQuAD: its `data` entry), for splits
    parts: tuple[tuple[str, ...], ...] = ()  # a two-part question: acceptable answers of each part, all needed
    split: str = ""  # a set that names its own split (the news QA set: "train", "dev", "held-out")
    language: str = ""  # the question's language where the set states it

    def answered_by(self, text: str) -> bool:
        """Does `text` hold the answer (every part's, for a two-part question)?"""
        if self.parts:
            return all(contains_answer(text, part) for part in self.parts)
        return contains_answer(text, self.answers)


@dataclass
class EvalSet:
    name: str
    articles: list[Article]
    questions: list[EvalQuestion]
    paths: list[Path] = field(default_factory=list)  # what to ingest; SQuAD articles are written to JSONL first
