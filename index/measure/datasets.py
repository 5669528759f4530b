"""Gold data for `newsbot eval`: SQuAD-format files, the project's own gold set, and (a folder)
the project's news QA set (newsqa.py).

- SQuAD-format files (XQuAD, SQuAD-es v2, covid19-qa-es). Every paragraph becomes one article whose
  source is a stable synthetic id (`squad://<title>/<paragraph>`), or with `documents`, every
  DOCUMENT_PARAGRAPHS consecutive paragraphs of one title; a news entry with its own url, date and
  outlet keeps them. `is_impossible` questions are the unanswerable ones (refusal is right).
- The project's gold set for news (`examples/goldset.json`, format in docs/eval/README.md).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import ConfigError
from ..schema import Article
from .evalset import EvalQuestion, EvalSet
from .newsqa import load_newsqa

SYNTHETIC_DATE = "2024-01-01"  # SQuAD paragraphs have no date; one fixed date keeps runs reproducible
GOLDSET_TYPES = ("factual", "latest", "unanswerable", "date_filter", "two_part")


def slug(text: str) -> str:
    """A file- and collection-safe name for a data set."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "dataset"


DOCUMENT_PARAGRAPHS = 6  # --documents: consecutive paragraphs of one title per article (as scripts/train_reader.py)
HELD_OUT_EVERY = 5  # --split: every fifth article is held out; thresholds and weights are chosen on the rest


def load_squad(path: Path, documents: bool = False) -> EvalSet:
    """One article per paragraph (or, with `documents`, per DOCUMENT_PARAGRAPHS consecutive
    paragraphs of one title, so that answers are picked inside long documents as in news);
    every question points at its article. An entry's own `date`, `source` (outlet) and `url`
    are used when it has them (news sets such as covid19-qa-es)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    articles: list[Article] = []
    questions: list[EvalQuestion] = []
    for entry_number, entry in enumerate(data["data"]):
        title = str(entry["title"])
        paragraphs = entry["paragraphs"]
        size = DOCUMENT_PARAGRAPHS if documents else 1
        for first in range(0, len(paragraphs), size):
            source = f"squad://{title}/{first}" if size == 1 else f"squad://{title}/{first}-{first + size - 1}"
            if entry.get("url") and len(paragraphs) == 1:
                source = str(entry["url"])  # a news article: ingest reads a record's url as its source
            group = paragraphs[first : first + size]
            articles.append(
                Article(
                    source=source,
                    origin=str(path),
                    title=title.replace("_", " ").strip(),
                    outlet=str(entry.get("source") or path.stem),
                    date=str(entry.get("date") or SYNTHETIC_DATE),
                    text="\n\n".join(p["context"].lstrip("\ufeff").strip() for p in group),
                    language="es",
                    url=str(entry.get("url") or source),
                )
            )
            for offset, paragraph in enumerate(group):
                for qa in paragraph["qas"]:
                    impossible = bool(qa.get("is_impossible", False))
                    answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                    questions.append(
                        EvalQuestion(
                            question=qa["question"].strip(),
                            gold_sources=frozenset() if impossible else frozenset({source}),
                            answers=() if impossible else answers,
                            answerable=not impossible,
                            kind="unanswerable" if impossible else "factual",
                            qid=str(qa.get("id", "")),
                            asked_about=f"squad://{title}/{first + offset}",
                            article_number=entry_number,
                        )
                    )
    name = path.name.removesuffix(".json") + ("-documents" if documents else "")
    return EvalSet(name, articles, questions)


QUESTION_KINDS = ("who", "when", "number", "where", "other", "two-part", "cross-lingual", "latest")


def question_kinds(question: EvalQuestion, article_languages: dict[str, str]) -> list[str]:
    """What the question asks for (who / when / number / where / other), and whether it asks two
    things, is in another language than its article, or asks for the latest news."""
    from ..answer.parts import question_parts
    from ..answer.question import read_intent
    from ..language import detect_language

    intent = read_intent(question.question)
    kinds = [intent.kind or "other"]
    if len(question_parts(question.question)) > 1:
        kinds.append("two-part")
    article_language = next(
        (article_languages[s] for s in sorted(question.gold_sources) if s in article_languages), "es"
    )
    if (question.language or detect_language(question.question)) != article_language:
        kinds.append("cross-lingual")
    if intent.latest:
        kinds.append("latest")
    return kinds


def split_questions(questions: Sequence[EvalQuestion], split: str) -> list[EvalQuestion]:
    """`held-out`: the questions of every HELD_OUT_EVERY-th article; `fit`: the others; `all`.
    A set whose questions name their split (the news QA set) also has `dev`; its `fit` is all
    but `held-out`."""
    if split == "all":
        return list(questions)
    if any(q.split for q in questions):  # "fit" is everything not held out
        return [q for q in questions if q.split == split or (split == "fit" and q.split != "held-out")]
    held = [q.article_number % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 for q in questions]
    return [q for q, h in zip(questions, held, strict=True) if h == (split == "held-out")]


def held_out(train: EvalSet, test: EvalSet) -> list[EvalQuestion]:
    """`train`'s questions, less those asked about a paragraph that `test` also asks about.

    XQuAD and SQuAD-es v2 dev both come from SQuAD's dev set: 35 of XQuAD's 48 articles are in
    SQuAD-es, and 527 of XQuAD's questions are there too (same ids, another translation). A model
    fitted on those questions would be measured on its own training data.
    """
    test_ids = {q.qid for q in test.questions if q.qid}
    shared = {q.asked_about for q in train.questions if q.qid in test_ids}
    return [q for q in train.questions if q.asked_about not in shared]


def load_goldset(path: Path) -> EvalSet:
    """The project's gold-set format (docs/eval/README.md): articles folder + questions."""
    from ..ingest.articles import read_sources

    data = json.loads(path.read_text(encoding="utf-8"))
    folder = (path.parent / data["articles"]).resolve()
    read = read_sources([folder])
    if read.skipped:
        raise ConfigError(f"{path}: unreadable articles in {folder}: {read.skipped}")
    by_name = {Path(a.source).name: a.source for a in read.articles}
    questions = []
    for number, item in enumerate(data["questions"], start=1):
        kind = item.get("type", "factual")
        if kind not in GOLDSET_TYPES:
            raise ConfigError(f"{path}: question {number} has type {kind!r}; expected one of {GOLDSET_TYPES}")
        missing = [name for name in item.get("expected_sources", []) if name not in by_name]
        if missing:
            raise ConfigError(f"{path}: question {number} expects unknown sources {missing}")
        # A two-part question lists, per part, the answers acceptable for it: both parts are needed.
        parts = tuple(tuple(part) for part in item["answers"]) if kind == "two_part" else ()
        questions.append(
            EvalQuestion(
                question=item["question"],
                gold_sources=frozenset(by_name[n] for n in item.get("expected_sources", [])),
                answers=tuple(a for part in parts for a in part) if parts else tuple(item.get("answers", [])),
                parts=parts,
                answerable=kind != "unanswerable",
                kind=kind,
                since=item.get("since"),
                until=item.get("until"),
                qid=str(number),
            )
        )
    return EvalSet(str(data.get("name") or path.stem), read.articles, questions, paths=[folder])


def load_dataset(path: Path, documents: bool = False) -> EvalSet:
    if path.is_dir():
        return load_newsqa(path)
    if not path.is_file():
        raise ConfigError(f"no such data set: {path}")
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if isinstance(head, dict) and "data" in head:
        return load_squad(path, documents)
    if isinstance(head, dict) and "questions" in head and "articles" in head:
        return load_goldset(path)
    raise ConfigError(f"{path}: neither SQuAD format ('data') nor a newsbot gold set ('articles' + 'questions')")


def write_jsonl(articles: Iterable[Article], target: Path) -> Path:
    """The articles as JSON Lines records, the way `NewsIndex.ingest` reads them."""
    with target.open("w", encoding="utf-8") as handle:
        for a in articles:
            record = {"title": a.title, "date": a.date, "outlet": a.outlet, "url": a.url or a.source, "text": a.text}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return target


def sample_questions(questions: Sequence[EvalQuestion], limit: int | None, seed: int) -> list[EvalQuestion]:
    """`limit` questions drawn with `seed`, kept in file order (all of them without a limit)."""
    if limit is None or limit >= len(questions):
        return list(questions)
    chosen = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in chosen]
