"""`question.understand`: everything the search and the answerers need, read from the question once."""

from __future__ import annotations

import datetime as dt

import pytest

from index import NewsIndex, QuestionError
from index.answer.question import LATEST_K, SEARCH_K, understand
from index.ingest.pipeline import IngestStep

from .conftest import SAMPLE_ARTICLES


def test_a_two_part_question_is_understood_with_each_part_its_own(sample_index: NewsIndex) -> None:
    query = understand("¿Cuándo abre la Línea 3 del metro y cuánto costó la obra?", sample_index.lexical_index())
    assert query.intent.language == "es" and query.search_k == SEARCH_K
    assert [part.text for part in query.parts] == ["¿Cuándo abre la Línea 3 del metro?", "¿cuánto costó la obra?"]
    assert [part.intent.kind for part in query.parts] == ["when", "number"]
    assert "3" in query.key_terms and "linea" in query.key_terms
    # Each part scores sentences with its own words only.
    assert set(query.parts[1].weights) < set(query.weights)
    assert [reading for reading, _ in query.each_part()] == [part.text for part in query.parts]


def test_dates_named_are_a_filter_that_can_be_dropped_and_dates_given_are_not(sample_index: NewsIndex) -> None:
    lexical = sample_index.lexical_index()
    named = understand("¿Qué nivel tenían las presas en marzo de 2026?", lexical)
    assert (named.since, named.until, named.dates_named) == ("2026-03-01", "2026-03-31", True)
    assert "marzo" not in named.text and "marzo" in named.asked
    given = understand("¿Qué nivel tenían las presas en marzo de 2026?", lexical, since=dt.date(2026, 3, 10))
    assert (given.since, given.until, given.dates_named) == ("2026-03-10", "2026-03-31", False)
    with pytest.raises(QuestionError, match="invalid date"):
        understand("¿Qué nivel tenían las presas?", lexical, until="31/03/2026")


def test_a_follow_up_searches_with_the_question_before_it_and_latest_compares_more(sample_index: NewsIndex) -> None:
    lexical = sample_index.lexical_index()
    follow_up = understand("¿y cuánto costó?", lexical, history=["¿Cuándo abre la Línea 3 del metro?"])
    assert follow_up.search.startswith("¿Cuándo abre la Línea 3 del metro?") and follow_up.text == "¿y cuánto costó?"
    assert follow_up.reading.startswith("¿y cuánto costó? (") and "Línea" in follow_up.reading
    latest = understand("What is the latest level of the Valle Alto dams?", lexical)
    assert latest.intent.latest and latest.intent.language == "en" and latest.search_k == LATEST_K


def test_ingest_reports_each_stage_as_it_ends(fresh_index: NewsIndex) -> None:
    steps: list[IngestStep] = []
    report = fresh_index.ingest([SAMPLE_ARTICLES], on_step=steps.append)
    names = [step.name for step in steps]
    assert names[0] == "read" and steps[0].count == len(report.added)
    assert "batch" in names and names[-2:] == ["written", "lexical"]
    assert sum(s.count for s in steps if s.name == "batch") == report.chunks == steps[-2].count
    assert all(step.seconds >= 0 for step in steps)
