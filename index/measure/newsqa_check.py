"""Checking the news QA set (newsqa.py) against training/newsqa/SPEC.md, and its statistics:
what `scripts/check_training_set.py` prints and CI runs with `--strict`."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..lexical.analysis import analyze
from ..search.sentences import split_sentences
from .newsqa import KINDS, LANGUAGES, Batch, NewsArticle, Part, Question, split_of

SENTENCES_PER_ARTICLE = (15, 40)  # the spec's body length; outside it is a warning
SENTENCES_HARD_LIMITS = (10, 50)  # outside these it is an error
NEAR_DUPLICATE_QUESTION = 0.85  # Jaccard of analysed words between two questions of one batch
NEAR_DUPLICATE_ARTICLE = 0.5  # Jaccard of word 5-shingles between two articles


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)  # unanswerable questions with the closest sentence of the set
    stats: dict[str, object] = field(default_factory=dict)


def content_words(text: str) -> set[str]:
    """Stemmed words less stopwords (the project's Spanish analyser)."""
    return set(analyze(text))


def word_overlap(question: str, sentence: str) -> float:
    """Share of the question's content words found in the sentence."""
    words = content_words(question)
    return len(words & content_words(sentence)) / len(words) if words else 0.0


def _check_article(article: NewsArticle, report: Report) -> None:
    n = len(article.sentences)
    wanted = f"(the spec asks for {SENTENCES_PER_ARTICLE[0]}–{SENTENCES_PER_ARTICLE[1]})"
    if article.language not in LANGUAGES:
        report.errors.append(f"{article.id}: language {article.language!r}, expected one of {LANGUAGES}")
    if not article.event:
        report.errors.append(f"{article.id}: no event id")
    if not article.article.outlet:
        report.errors.append(f"{article.id}: no outlet (end the headline line with ' | Outlet')")
    if not SENTENCES_HARD_LIMITS[0] <= n <= SENTENCES_HARD_LIMITS[1]:
        report.errors.append(f"{article.id}: {n} sentences {wanted}")
    elif not SENTENCES_PER_ARTICLE[0] <= n <= SENTENCES_PER_ARTICLE[1]:
        report.warnings.append(f"{article.id}: {n} sentences {wanted}")
    if article.article.language != article.language:
        report.warnings.append(f"{article.id}: marked {article.language!r} but reads as {article.article.language!r}")


def _check_part(q: Question, part: Part, articles: dict[str, NewsArticle], report: Report) -> None:
    where = f"{q.id}"
    article = articles.get(part.article)
    if article is None:
        report.errors.append(f"{where}: part's article {part.article!r} is not in the batch")
        return
    if not part.answers:
        report.errors.append(f"{where}: a part with no answers")
    if part.sentence not in article.sentences:
        report.errors.append(
            f"{where}: sentence is not one of {part.article}'s sentences as the splitter cuts them "
            f"(run --sentences on it): {part.sentence[:90]!r}"
        )
    for answer in part.answers:
        if not answer.strip():
            report.errors.append(f"{where}: an empty answer")
        elif answer not in article.article.text:
            report.errors.append(f"{where}: answer {answer!r} does not occur verbatim in {part.article}")
        elif answer not in part.sentence:
            report.errors.append(f"{where}: answer {answer!r} is not inside its sentence")
        elif len(answer) > 0.8 * len(part.sentence) and len(part.sentence) > 60:
            report.warnings.append(f"{where}: answer is most of its sentence; give the fact itself")
    if q.kind == "multi" and not part.question:
        report.errors.append(f"{where}: a multi question's part needs its own `question`")


def _check_question(q: Question, articles: dict[str, NewsArticle], report: Report) -> None:
    if q.kind not in KINDS:
        report.errors.append(f"{q.id}: kind {q.kind!r}, expected one of {KINDS}")
        return
    if q.language not in LANGUAGES:
        report.errors.append(f"{q.id}: language {q.language!r}, expected one of {LANGUAGES}")
    if not q.question:
        report.errors.append(f"{q.id}: no question text")
    expected = {"single": (1, 1), "latest": (1, 1), "multi": (2, 3), "unanswerable": (0, 0)}[q.kind]
    if not expected[0] <= len(q.parts) <= expected[1]:
        report.errors.append(f"{q.id}: a {q.kind} question has {len(q.parts)} parts")
    for part in q.parts:
        _check_part(q, part, articles, report)
    if q.kind == "unanswerable" and (not q.about or not all(a in articles for a in q.about)):
        report.errors.append(f"{q.id}: an unanswerable question needs `about`, articles of the batch")
    if q.kind == "latest":
        _check_latest(q, articles, report)


def _check_latest(q: Question, articles: dict[str, NewsArticle], report: Report) -> None:
    series = [articles[a] for a in q.series if a in articles]
    if len(series) < 2 or len(series) != len(q.series):
        report.errors.append(f"{q.id}: a latest question lists the articles of its series (≥ 2 of the batch)")
        return
    if len({a.event for a in series}) != 1:
        report.errors.append(f"{q.id}: the series' articles belong to different events")
    newest = max(a.article.date for a in series)
    if q.parts and articles.get(q.parts[0].article) is not None and articles[q.parts[0].article].article.date != newest:
        report.errors.append(f"{q.id}: the gold is not from the newest article of the series ({newest})")
    for old in q.outdated:
        if old.article not in articles or old.answer not in articles[old.article].article.text:
            report.errors.append(f"{q.id}: outdated answer {old.answer!r} does not occur in {old.article}")


def _closest_sentence(question: str, index: list[tuple[str, str, set[str]]]) -> tuple[float, str, str]:
    words = content_words(question)
    best = (0.0, "", "")
    for article_id, sentence, sentence_words in index:
        score = len(words & sentence_words) / len(words) if words else 0.0
        if score > best[0]:
            best = (score, article_id, sentence)
    return best


def _shingles(text: str, size: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i : i + size]) for i in range(max(0, len(words) - size + 1))}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _near_duplicates(batches: list[Batch], report: Report) -> None:
    for batch in batches:
        seen: list[tuple[str, set[str], str]] = []
        for q in batch.questions:
            words = content_words(q.question)
            for other_id, other_words, other_text in seen:
                if q.question == other_text:
                    report.errors.append(f"{q.id}: the same question as {other_id}")
                elif words and _jaccard(words, other_words) >= NEAR_DUPLICATE_QUESTION and q.articles:
                    report.warnings.append(f"{q.id}: near-duplicate of {other_id}")
            seen.append((q.id, words, q.question))
    shingles = [(a.id, _shingles(a.article.text)) for b in batches for a in b.articles.values()]
    for i, (first, first_shingles) in enumerate(shingles):
        for second, second_shingles in shingles[i + 1 :]:
            if _jaccard(first_shingles, second_shingles) >= NEAR_DUPLICATE_ARTICLE:
                report.warnings.append(f"{second}: near-duplicate article of {first}")


def check_set(batches: list[Batch], strict: bool = False) -> Report:
    """Every rule of SPEC.md that a script can check. `strict` (CI): every unanswerable
    question must carry a second reader's review that found it unanswerable."""
    report = Report()
    all_ids: Counter[str] = Counter()
    index: list[tuple[str, str, set[str]]] = []
    for batch in batches:
        report.errors += batch.errors
        for article in batch.articles.values():
            _check_article(article, report)
            index += [(article.id, s, content_words(s)) for s in article.sentences]
        for q in batch.questions:
            all_ids[q.id] += 1
            _check_question(q, batch.articles, report)
    report.errors += [f"{qid}: id used {count} times" for qid, count in all_ids.items() if count > 1]
    for batch in batches:
        for q in batch.questions:
            if q.kind != "unanswerable":
                continue
            score, article_id, sentence = _closest_sentence(q.question, index)
            review = f"reviewed by {q.review.by}: {q.review.verdict}" if q.review else "not reviewed yet"
            report.probes.append(f"{q.id} [{review}] {q.question}\n    closest ({score:.2f}, {article_id}): {sentence}")
            if q.review and q.review.verdict != "unanswerable":
                report.errors.append(f"{q.id}: the second reading found an answer ({q.review.verdict}): convert it")
            elif q.review and q.review.by == batch.writer:
                report.errors.append(f"{q.id}: reviewed by its own writer")
            elif strict and not q.review:
                report.errors.append(f"{q.id}: unanswerable question with no second reading")
    _near_duplicates(batches, report)
    report.stats = statistics(batches)
    return report


# -- statistics --------------------------------------------------------------------------------


def _share(count: int, total: int) -> str:
    return f"{count} ({count / total:.0%})" if total else "0"


def statistics(batches: list[Batch]) -> dict[str, object]:
    articles = [a for b in batches for a in b.articles.values()]
    questions = [(b, q) for b in batches for q in b.questions]
    events: dict[str, set[str]] = defaultdict(set)
    for a in articles:
        events[a.event].add(a.article.outlet)
    event_articles = Counter(a.event for a in articles)
    answerable_parts = [(b, q, p) for b, q in questions for p in q.parts if p.article in b.articles]
    outside_lede = sum(1 for b, _, p in answerable_parts if p.sentence != b.articles[p.article].lede)
    cross = sum(
        1 for b, q in questions if any(b.articles[a].language != q.language for a in q.articles if a in b.articles)
    )
    overlap: dict[str, list[float]] = defaultdict(list)
    for b, q, p in answerable_parts:
        article_language = b.articles[p.article].language
        key = f"{q.language} question, {article_language} article"
        overlap[key].append(word_overlap(p.question or q.question, p.sentence))
    sentences = [len(a.sentences) for a in articles]
    held = [a for a in articles if split_of(a.event) == "held-out"]
    dev = [a for a in articles if split_of(a.event) == "dev"]
    unanswerable = [q for _, q in questions if q.kind == "unanswerable"]

    def by(field: str, values: tuple[str, ...]) -> dict[str, str]:
        return {v: _share(sum(1 for _, q in questions if getattr(q, field) == v), len(questions)) for v in values}

    return {
        "batches": len(batches),
        "articles": len(articles),
        "articles by language": dict(Counter(a.language for a in articles)),
        "articles by country": dict(Counter(a.country for a in articles).most_common()),
        "articles by kind": dict(Counter(a.kind for a in articles).most_common()),
        "sentences per article (min / mean / max)": (
            f"{min(sentences)} / {sum(sentences) / len(sentences):.1f} / {max(sentences)}" if sentences else "-"
        ),
        "events": len(events),
        "events told by 2+ outlets": _share(sum(1 for o in events.values() if len(o) >= 2), len(events)),
        "events with follow-ups (3+ articles)": sum(1 for n in event_articles.values() if n >= 3),
        "questions": len(questions),
        "questions by kind": by("kind", KINDS),
        "questions by language": by("language", LANGUAGES),
        "cross-lingual questions (question and article in other languages)": _share(cross, len(questions)),
        "answer parts outside the lede": _share(outside_lede, len(answerable_parts)),
        "question-sentence word overlap (mean)": {k: f"{sum(v) / len(v):.2f} over {len(v)}" for k, v in overlap.items()},  # noqa: E501
        "held-out part (by event)": f"{len({a.event for a in held})} events, {len(held)} articles",
        "dev part (by event)": f"{len({a.event for a in dev})} events, {len(dev)} articles",
        "unanswerable questions reviewed": _share(sum(1 for q in unanswerable if q.review), len(unanswerable)),
    }


def squad_overlap(path: Path) -> float:
    """The same word overlap over a SQuAD-format file's answerable questions (the first sentence,
    as the product's splitter cuts the paragraph, that holds the answer), to compare the set's
    questions with SQuAD-es'."""
    data = json.loads(path.read_text(encoding="utf-8"))
    values = []
    for entry in data["data"]:
        for paragraph in entry["paragraphs"]:
            sentences = split_sentences(paragraph["context"])
            for qa in paragraph["qas"]:
                answer = " ".join(qa["answers"][0]["text"].split()) if qa.get("answers") else ""
                sentence = next((s for s in sentences if answer and answer in s), None)
                if not qa.get("is_impossible") and sentence:
                    values.append(word_overlap(qa["question"], sentence))
    return sum(values) / len(values) if values else 0.0


def render_report(report: Report, verbose: bool = True) -> str:
    lines = [f"ERROR {e}" for e in report.errors]
    if verbose:
        lines += [f"warning {w}" for w in report.warnings]
        lines += ["", "Unanswerable questions, each with the set's sentence sharing most of its words:", *report.probes]
    lines += ["", "Statistics:"]
    for key, value in report.stats.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        lines.append(f"  {key}: {value}")
    lines.append(f"\n{len(report.errors)} errors, {len(report.warnings)} warnings")
    return "\n".join(lines)

