"""The project's own news QA set (training/newsqa/): loading, checking, splitting.

The set is written to training/newsqa/SPEC.md in batches: `batches/<name>/articles/*.txt`
(the ingester's seed format) and `batches/<name>/questions.json`. Each answerable question has
one part per fact (`multi` has two), each with the article, the gold spans and the answering
sentence as the product's sentence splitter cuts the article. The loader here is what
`newsbot eval` and `scripts/train_reader.py` read; newsqa_check.py is what
`scripts/check_training_set.py` runs (and CI with `--strict`).

The held-out part is drawn by event (every article of an event, follow-ups included, falls on
the same side), so that no held-out question is about a story the reader was trained on.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArticleError, ConfigError
from ..ingest.articles import read_file
from ..schema import Article
from ..search.sentences import split_sentences
from .evalset import EvalQuestion, EvalSet

KINDS = ("single", "multi", "latest", "unanswerable")
LANGUAGES = ("es", "en")
# The split is drawn by event (crc32 of its id, mod 10): 0 is the held-out test part, 5 the dev
# part (thresholds and weights are chosen there), the rest is for training.
SPLIT_BUCKETS = 10
HELD_OUT_BUCKET, DEV_BUCKET = 0, 5


@dataclass(frozen=True)
class Part:
    article: str
    answers: tuple[str, ...]
    sentence: str
    question: str = ""  # a multi question's own question for this part


@dataclass(frozen=True)
class Outdated:
    article: str
    answer: str


@dataclass(frozen=True)
class Review:
    by: str
    verdict: str  # "unanswerable", or what the reviewer found ("answered: <span>")


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    language: str
    question: str
    parts: tuple[Part, ...] = ()
    series: tuple[str, ...] = ()
    outdated: tuple[Outdated, ...] = ()
    about: tuple[str, ...] = ()
    review: Review | None = None

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"

    def asked_for(self, part: Part) -> str:
        """What to ask for one part alone: a two-part question's own question for it."""
        return part.question if self.kind == "multi" and part.question else self.question

    @property
    def articles(self) -> tuple[str, ...]:
        """The articles it was written on: its parts', or for an unanswerable one, `about`."""
        return tuple(dict.fromkeys(p.article for p in self.parts)) or self.about


@dataclass
class NewsArticle:
    id: str
    event: str
    language: str
    country: str
    kind: str
    article: Article  # as the product's ingester reads the file
    sentences: list[str]  # as the product's sentence splitter cuts the body

    @property
    def lede(self) -> str:
        return self.sentences[0] if self.sentences else ""


@dataclass
class Batch:
    name: str
    writer: str
    folder: Path
    articles: dict[str, NewsArticle]
    questions: list[Question]
    errors: list[str] = field(default_factory=list)  # what could not be loaded


# -- loading -----------------------------------------------------------------------------------


def read_article(path: Path) -> Article:
    """One article file as the product's ingester reads it (ArticleError when it can't)."""
    result = read_file(path)
    if result.skipped or len(result.articles) != 1:
        reason = result.skipped[0][1] if result.skipped else f"{len(result.articles)} articles in one file"
        raise ArticleError(f"{path}: {reason}")
    return result.articles[0]


def print_sentences(path: Path) -> None:
    article = read_article(path)
    print(f"# {article.title} | {article.outlet} | {article.date} | {article.language}")
    for number, sentence in enumerate(split_sentences(article.text)):
        print(number, sentence)


def batch_folders(path: Path) -> list[Path]:
    """The batch folders under the set's folder (or the one batch `path` is)."""
    if (path / "questions.json").is_file():
        return [path]
    root = path / "batches" if (path / "batches").is_dir() else path
    return sorted(p for p in root.iterdir() if (p / "questions.json").is_file()) if root.is_dir() else []


def _parts(raw: list[dict]) -> tuple[Part, ...]:
    return tuple(
        Part(
            article=str(p.get("article", "")),
            answers=tuple(str(a) for a in p.get("answers", [])),
            sentence=str(p.get("sentence", "")),
            question=str(p.get("question", "")),
        )
        for p in raw
    )


def _question(raw: dict) -> Question:
    review = raw.get("review")
    return Question(
        id=str(raw.get("id", "")),
        kind=str(raw.get("kind", "")),
        language=str(raw.get("language", "")),
        question=str(raw.get("question", "")).strip(),
        parts=_parts(raw.get("parts") or []),
        series=tuple(str(s) for s in raw.get("series") or []),
        outdated=tuple(Outdated(str(o.get("article", "")), str(o.get("answer", ""))) for o in raw.get("outdated") or ()),  # noqa: E501
        about=tuple(str(a) for a in raw.get("about") or []),
        review=Review(str(review.get("by", "")), str(review.get("verdict", ""))) if isinstance(review, dict) else None,
    )


def load_batch(folder: Path) -> Batch:
    errors: list[str] = []
    try:
        data = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return Batch(folder.name, "", folder, {}, [], [f"{folder.name}: questions.json unreadable: {exc}"])
    meta = data.get("articles") or {}
    articles: dict[str, NewsArticle] = {}
    for path in sorted((folder / "articles").glob("*.txt")):
        info = meta.get(path.stem)
        if info is None:
            errors.append(f"{path.stem}: no entry in questions.json's articles")
            continue
        try:
            article = read_article(path)
        except ArticleError as exc:
            errors.append(f"{path.stem}: {exc}")
            continue
        articles[path.stem] = NewsArticle(
            id=path.stem,
            event=str(info.get("event", "")),
            language=str(info.get("language", "")),
            country=str(info.get("country", "")),
            kind=str(info.get("kind", "")),
            article=article,
            sentences=split_sentences(article.text),
        )
    errors += [f"{name}: listed in questions.json but no articles/{name}.txt" for name in meta if name not in articles
               and not (folder / "articles" / f"{name}.txt").exists()]  # fmt: skip
    questions = [_question(q) for q in data.get("questions") or []]
    name, writer = str(data.get("batch") or folder.name), str(data.get("writer", ""))
    return Batch(name, writer, folder, articles, questions, errors)


def load_batches(path: Path) -> list[Batch]:
    return [load_batch(folder) for folder in batch_folders(path)]


def split_of(event: str) -> str:
    """"held-out" (about a tenth of the events), "dev" (another tenth) or "train"."""
    bucket = zlib.crc32(event.encode("utf-8")) % SPLIT_BUCKETS
    return "held-out" if bucket == HELD_OUT_BUCKET else "dev" if bucket == DEV_BUCKET else "train"


def question_split(batch: Batch, question: Question) -> str:
    """The split of the event its (first) article belongs to."""
    article = batch.articles.get(question.articles[0]) if question.articles else None
    return split_of(article.event) if article else "train"


# -- as an evaluation set ----------------------------------------------------------------------

EVAL_KINDS = {"single": "factual", "multi": "two_part", "latest": "latest", "unanswerable": "unanswerable"}


def load_newsqa(path: Path) -> EvalSet:
    """The set (or one batch) for `newsbot eval`: every batch's articles folder is ingested;
    each question keeps its split (`--split held-out|dev|fit`)."""
    batches = load_batches(path)
    if not batches:
        raise ConfigError(f"{path}: no batch folders with a questions.json")
    articles: list[Article] = []
    questions: list[EvalQuestion] = []
    for batch in batches:
        articles += [a.article for a in batch.articles.values()]
        for q in batch.questions:
            if any(a not in batch.articles for a in q.articles):
                continue  # the checker reports it
            gold = frozenset(batch.articles[p.article].article.source for p in q.parts)
            parts = tuple(p.answers for p in q.parts) if q.kind == "multi" else ()
            questions.append(
                EvalQuestion(
                    question=q.question,
                    gold_sources=gold,
                    answers=tuple(a for p in q.parts for a in p.answers),
                    answerable=q.answerable,
                    kind=EVAL_KINDS.get(q.kind, q.kind),
                    qid=q.id,
                    parts=parts,
                    split=question_split(batch, q),
                    language=q.language,
                )
            )
    name = "newsqa" if len(batches) > 1 else f"newsqa-{batches[0].name}"
    return EvalSet(name, articles, questions, paths=[b.folder / "articles" for b in batches])
