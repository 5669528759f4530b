"""`ReaderAnswerer` (`NEWSBOT_ANSWERER=reader`): the sentence ranker pre-selects the sentences
worth reading, the reader (reader.py) reads each with the question and marks the answer in it.
The answer is that short span, then the sentence that holds it, quoted and cited, with every
other outlet that reports the same fact. A question that asks two things is read as two. It
refuses when no sentence scores above the reader's calibrated threshold (models/reader.json).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..lexical.analysis import analyze
from ..models import FittedModels, load_models
from ..schema import Answer, Hit
from ..search.sentences import split_sentences
from .compose import MAX_SPAN_SHARE, Sources, around, defuse_markers, lead, markers, refusal, same_event, same_fact
from .question import Query, fold
from .ranking import Candidate, reading_list
from .reader import Reading, SentenceReader
from .refusal import rules_refuse

READ_SENTENCES = 8  # sentences the reader reads per question part: its cost is ~linear in this


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
    models: FittedModels = field(default_factory=load_models)
    name: str = "extractive"
    read_sentences: int = READ_SENTENCES

    def _read(self, part: str, part_query: Query, hits: Sequence[Hit]) -> list[_Found]:
        """The listed sentences, best first by the reader's score plus the ranker's prior (its
        score relative to the best listed sentence, times the fitted `ranker_weight`)."""
        listed = reading_list(part_query, hits, self.read_sentences, self.models.ranker)
        if not listed:
            return []
        readings = self.reader.read(part, [(hits[item.hit_index].title, item.sentence) for item in listed])
        top = listed[0].score
        found = [
            _Found(
                item.hit_index,
                item.sentence,
                reading,
                reading.score + self.models.reader.ranker_weight * (item.score - top),
            )
            for item, reading in zip(listed, readings, strict=True)
        ]
        return sorted(found, key=lambda f: -f.score)

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        if not hits:
            return refusal(query, hits)
        threshold = self.models.reader.threshold  # refuse when no sentence scores above it
        answered: list[tuple[_Found, list[_Found]]] = []
        for part, part_query in query.each_part():
            found = self._read(part, part_query, hits)
            if not found or found[0].score < threshold:
                continue
            best = found[0]
            if query.intent.latest:  # the newest article answers, when it does
                best = next((f for f in found if f.hit_index == 0 and f.score >= threshold), best)
            answered.append((best, [f for f in found if f is not best and f.score >= threshold]))
        # The rules the ranker's refusal uses too: words in no article, or another language's
        # article that lacks the question's names and numbers (the reader is fooled by these).
        if not answered or rules_refuse(query, hits, answered[0][0].hit_index):
            return refusal(query, hits)
        return self._compose(query, hits, answered)

    def _compose(self, query: Query, hits: Sequence[Hit], answered: list[tuple[_Found, list[_Found]]]) -> Answer:
        """One line per answering sentence: the short answer(s), the sentence quoted around
        them, and the citations of every outlet that reports the same. Two parts answered by
        one sentence share its line."""
        sources = Sources(hits)

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
            marks = markers(cited)
            shorts = list(dict.fromkeys(p.reading.answer for p in parts if p.reading.answer))
            if not shorts or sum(map(len, shorts)) >= MAX_SPAN_SHARE * len(sentence):
                pieces.append(f"{lead(query, hits[hit_index], defuse_markers(sentence), False)} {marks}")
                continue
            start = min(p.reading.start for p in parts if p.reading.answer)
            end = max(p.reading.end for p in parts if p.reading.answer)
            quote = defuse_markers(around(sentence, start, end))
            text = f"{defuse_markers('; '.join(shorts))} — «{quote}»"
            pieces.append(f"{lead(query, hits[hit_index], text, True)} {marks}")
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
