"""The reader answerer (answer.ReaderAnswerer) over the real sample index, with a deterministic
fake reader, so what is checked is how answers are built: short answer first, the quoted
sentence, citations, two-part questions, other outlets, "latest" and refusals."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from index import NewsIndex
from index.answer.answerers import RERANK_CANDIDATES, RankerAnswerer
from index.answer.reader import Judgement, Reading
from index.answer.reader_answerer import ReaderAnswerer
from index.models import load_models


class KeywordReader:
    """Answers with the first of `answers` found in a sentence (score 5), else no answer (-5)."""

    def __init__(self, *answers: str) -> None:
        self.answers = answers
        self.questions: list[str] = []

    def read(self, question: str, passages: Sequence[tuple[str, str]]) -> list[Reading]:
        self.questions.append(question)
        out = []
        for _title, sentence in passages:
            found = next((a for a in self.answers if a in sentence), None)
            if found is None:
                out.append(Reading(-5.0, "", 0, 0))
            else:
                start = sentence.index(found)
                out.append(Reading(5.0, found, start, start + len(found)))
        return out


def _asking(index: NewsIndex, reader: KeywordReader) -> NewsIndex:
    answerer = ReaderAnswerer(reader, models=load_models().with_reader(threshold=0.0))
    return NewsIndex(index.settings.store, settings=index.settings, answerers=[answerer])


def _numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_the_short_answer_comes_first_then_the_quoted_sentence_with_its_citation(sample_index: NewsIndex) -> None:
    answer = _asking(sample_index, KeywordReader("9,800 millones de pesos")).ask(
        "¿Cuánto costó la obra de la Línea 3 del metro?"
    )
    assert not answer.refused
    assert answer.text.startswith("9,800 millones de pesos — «")
    assert "La obra costó 9,800 millones de pesos" in answer.text
    assert answer.citations[0].title.startswith("La Línea 3") and answer.citations[0].date == "2026-01-20"
    assert _numbers(answer.text) == {c.number for c in answer.citations}


def test_each_part_of_a_two_part_question_is_answered_and_cited(sample_index: NewsIndex) -> None:
    reader = KeywordReader("1 de junio", "7 pesos")
    answer = _asking(sample_index, reader).ask("¿Cuándo abre la Línea 3 y cuánto costará el boleto?")
    assert reader.questions[:2] == ["¿Cuándo abre la Línea 3?", "¿cuánto costará el boleto?"]
    first, second = answer.text.split("\n")
    assert "1 de junio" in first and "7 pesos" in second
    assert _numbers(first) and _numbers(second)
    assert _numbers(answer.text) == {c.number for c in answer.citations}


def test_other_outlets_reporting_the_same_fact_are_cited_too(sample_index: NewsIndex) -> None:
    answer = _asking(sample_index, KeywordReader("41 %")).ask(
        "¿A qué porcentaje de su capacidad bajaron las presas en febrero?"
    )
    outlets = {c.outlet for c in answer.citations}
    assert {"Diario del Valle", "Noticias Metropolitanas"} <= outlets
    assert answer.text.startswith("41 %")


def test_latest_questions_are_answered_from_the_newest_article_with_its_date(sample_index: NewsIndex) -> None:
    answer = _asking(sample_index, KeywordReader("36 %", "41 %")).ask(
        "¿Cuál es el nivel más reciente de las presas de Valle Alto?"
    )
    assert answer.text.startswith("Lo más reciente (28 de marzo de 2026): 36 %")
    assert answer.citations[0].date == "2026-03-28"


def test_no_sentence_above_the_threshold_is_a_refusal_with_the_closest_sources(sample_index: NewsIndex) -> None:
    answer = _asking(sample_index, KeywordReader("no está en ningún artículo")).ask(
        "¿Cuántas pipas rentará el municipio?"
    )
    assert answer.refused and not answer.citations and answer.see_also
    assert answer.text == "No encuentro esa información en los artículos indexados."


class KeywordRanker:
    """A ranking column that prefers the sentences holding `wanted` (score 10, else 0) and marks
    `wanted` as their short answer (span score `span_score`), and remembers what it was asked and
    with which cosines."""

    def __init__(self, wanted: str, span_score: float = 5.0) -> None:
        self.wanted = wanted
        self.span_score = span_score
        self.calls: list[tuple[str, list[str], list[float]]] = []

    def judge(self, question: str, passages: Sequence[tuple[str, str]], cosines: Sequence[float]) -> list[Judgement]:
        self.calls.append((question, [s for _t, s in passages], list(cosines)))
        out = []
        for _title, sentence in passages:
            if self.wanted in sentence:
                start = sentence.index(self.wanted)
                reading = Reading(self.span_score, self.wanted, start, start + len(self.wanted))
                out.append(Judgement(10.0, reading))
            else:
                out.append(Judgement(0.0, Reading(-5.0, "", 0, 0)))
        return out


def _reranked(
    index: NewsIndex,
    ranker: KeywordRanker,
    weight: float,
    threshold: float | None = None,
    span: float | None = None,
    span_weight: float = 0.0,
) -> NewsIndex:
    """The default answerer with a fake reader; by default neither refusing nor giving short
    answers, and ordering by the ranking column alone (no weight on the short answer's score)."""
    models = load_models().with_reader(
        rerank_weight=weight, rerank_span_weight=span_weight, answer_threshold=threshold, span_threshold=span
    )
    answerers = [RankerAnswerer(models=models, reader=ranker)]
    return NewsIndex(index.settings.store, settings=index.settings, answerers=answerers)


def test_the_reader_reorders_the_rankers_best_sentences(sample_index: NewsIndex) -> None:
    question = "¿Cuánto costó la obra de la Línea 3 del metro?"
    watching = KeywordRanker("nothing of this")
    alone = _reranked(sample_index, watching, 0.0).ask(question)
    # Only the ranker's best few are read, with the question and their stored cosines.
    asked, read, cosines = watching.calls[0]
    assert asked == question and 2 <= len(read) <= RERANK_CANDIDATES
    assert all(0.0 < c <= 1.0 for c in cosines)
    assert read[0] in alone.text  # weight 0: the ranker's order
    wanted = next(s for s in read[1:] if s not in alone.text)
    reordered = _reranked(sample_index, KeywordRanker(wanted), 1.0).ask(question)
    assert wanted in reordered.text and not reordered.refused
    assert _numbers(reordered.text) == {c.number for c in reordered.citations}


def test_a_sentence_with_a_confident_short_answer_moves_ahead(sample_index: NewsIndex) -> None:
    question = "¿Cuánto costó la obra de la Línea 3 del metro?"
    watching = KeywordRanker("nothing of this")
    alone = _reranked(sample_index, watching, 0.0).ask(question)
    wanted = next(s for s in watching.calls[0][1][1:] if s not in alone.text)
    # The ranking column does not count (weight 0): only the span score (+5 against -5) reorders.
    by_span = _reranked(sample_index, KeywordRanker(wanted), 0.0, span_weight=10.0).ask(question)
    assert wanted in by_span.text and wanted not in alone.text


def test_each_part_of_a_two_part_question_is_reordered_with_its_own_words(sample_index: NewsIndex) -> None:
    ranker = KeywordRanker("7 pesos")
    answer = _reranked(sample_index, ranker, 1.0).ask("¿Cuándo abre la Línea 3 y cuánto costará el boleto?")
    # Each part is read on its own; the whole question is not read (its parts choose the quotes).
    assert [call[0] for call in ranker.calls] == [
        "¿Cuándo abre la Línea 3?",
        "¿cuánto costará el boleto?",
    ]
    assert "7 pesos" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "¿Cuánto costó la obra de la Línea 3 del metro?",
        "¿Quién ganó las elecciones municipales de Valle Alto?",
        "¿Cuántos habitantes tiene Valle Alto?",
        "Who won the last mayoral election?",
    ],
)
def test_the_reader_refuses_nothing_the_ranker_answers_and_reads_nothing_it_refuses(
    sample_index: NewsIndex, question: str
) -> None:
    # The refusal model was fitted on the ranker's order: reordering changes the quote, not whether
    # there is one. A ranking column that prefers any sentence holding "de" reorders nearly everything.
    by_ranker = _reranked(sample_index, KeywordRanker("nothing of this"), 0.0).ask(question)
    watching = KeywordRanker(" de ")
    reordered = _reranked(sample_index, watching, 10.0).ask(question)
    assert reordered.refused == by_ranker.refused
    assert bool(watching.calls) == (not by_ranker.refused)


def test_the_readers_own_score_refuses_where_no_sentence_of_the_list_answers(sample_index: NewsIndex) -> None:
    question = "¿Cuánto costó la obra de la Línea 3 del metro?"
    # The reader finds the answer in one of the ranker's best: its score (10) clears the threshold.
    answered = _reranked(sample_index, KeywordRanker("9,800 millones"), 100.0, threshold=5.0).ask(question)
    assert not answered.refused and "9,800 millones" in answered.text
    # The same question, a reader that finds nothing: below the threshold, refused with sources.
    refused = _reranked(sample_index, KeywordRanker("nothing of this"), 100.0, threshold=5.0).ask(question)
    assert refused.refused and not refused.citations and refused.see_also


def test_the_refusal_model_still_refuses_where_the_readers_score_would_answer(sample_index: NewsIndex) -> None:
    # The reader's threshold adds to the refusal model, it does not replace it: a question far
    # from every article is refused even by a reader that scores a sentence above the threshold.
    watching = KeywordRanker(" de ")
    answer = _reranked(sample_index, watching, 1.0, threshold=5.0).ask("Who won the 2022 World Cup final?")
    assert answer.refused and not watching.calls  # refused before any reading
    # A question the articles answer still gets through both gates.
    answered = _reranked(sample_index, KeywordRanker("9,800 millones"), 1.0, threshold=5.0).ask(
        "¿Cuánto costó la obra de la Línea 3 del metro?"
    )
    assert not answered.refused and "9,800 millones" in answered.text


def test_a_two_part_question_keeps_the_part_the_reader_answers(sample_index: NewsIndex) -> None:
    answer = _reranked(sample_index, KeywordRanker("7 pesos"), 100.0, threshold=5.0).ask(
        "¿Cuándo abre la Línea 3 y cuánto costará el boleto?"
    )
    assert not answer.refused and "7 pesos" in answer.text and len(answer.text.split("\n")) == 1


def test_a_confident_short_answer_comes_first_then_the_sentence_quoted(sample_index: NewsIndex) -> None:
    question = "¿Cuánto costó la obra de la Línea 3 del metro?"
    confident = _reranked(sample_index, KeywordRanker("9,800 millones de pesos"), 1.0, span=0.0).ask(question)
    assert confident.text.startswith("9,800 millones de pesos — «")
    assert "La obra costó 9,800 millones de pesos" in confident.text
    assert _numbers(confident.text) == {c.number for c in confident.citations}
    # Below the span threshold the sentence alone is quoted.
    unsure = _reranked(sample_index, KeywordRanker("9,800 millones de pesos", span_score=-1.0), 1.0, span=0.0)
    text = unsure.ask(question).text
    assert "La obra costó 9,800 millones de pesos" in text and "—" not in text
