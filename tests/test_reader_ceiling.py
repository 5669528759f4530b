"""scripts/reader_ceiling.py: the figures it prints, and its records matching the product's answers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from index.measure.metrics import separation_auc

from .scripts import load_script


@pytest.fixture(scope="module")
def ceiling() -> ModuleType:
    return load_script("reader_ceiling")


def test_separation_auc_counts_pairs_in_order_and_ties_as_half() -> None:
    assert separation_auc([3.0, 2.0], [1.0, 2.0]) == pytest.approx(3.5 / 4)
    assert separation_auc([1.0], [2.0]) == 0.0
    assert separation_auc([-math.inf], [-math.inf]) == 0.5  # two questions with no candidates
    assert math.isnan(separation_auc([], [1.0]))


def test_the_reorder_and_ceiling_figures(ceiling: ModuleType) -> None:
    asked = ceiling.Asked
    # The gold sentence is the ranker's second; the column lifts it first from weight 1 on.
    lifted = asked("q1", True, ["a", "b", "c"], [False, True, False], [5.0, 4.0, 1.0], [0.0, 2.0, 0.0])
    # The gold sentence is the ranker's third: inside k=4, out of reach at k=2 or by the column.
    buried = asked("q2", True, ["a", "b", "c"], [False, False, True], [5.0, 4.0, 3.0], [0.0, 0.0, 0.0])
    empty = asked("q3", True)
    unanswerable = asked("q4", False, ["a"], [False], [0.5], [-3.0])
    rows = [lifted, buried, empty, unanswerable]
    assert ceiling.ceiling(rows, 1) == 0.0
    assert ceiling.ceiling(rows, 2) == pytest.approx(1 / 3)
    assert ceiling.ceiling(rows, 4) == pytest.approx(2 / 3)
    assert ceiling.reordered_first(lifted, 8, 0.0) == 0 and ceiling.reordered_first(lifted, 8, 1.0) == 1
    assert ceiling.reordered_first(lifted, 1, 10.0) == 0  # only the ranker's first is reordered
    assert ceiling.reordered_first(empty, 8, 1.0) is None
    assert ceiling.reorder(rows, 8, 0.0) == 0.0 and ceiling.reorder(rows, 8, 1.0) == pytest.approx(1 / 3)


def test_refusal_figures_read_each_score_against_answerability(ceiling: ModuleType) -> None:
    asked = ceiling.Asked
    rows = [asked(f"a{n}", True, ["x"], [True], [10.0 + n], [1.0], [2.0], [0.9]) for n in range(3)] + [
        asked(f"u{n}", False, ["x"], [False], [1.0 + n], [1.0], [2.0], [0.2]) for n in range(2)
    ]
    by_ranker = ceiling.refusal_figures(rows, ceiling.REFUSAL_SCORES["the ranker's best score"], 1.0)
    assert by_ranker["auc"] == 1.0
    assert by_ranker["f1_within"] == 1.0 and by_ranker["false_refusals_within"] == 0.0
    flat = ceiling.refusal_figures(rows, ceiling.REFUSAL_SCORES["the span head's best"], 1.0)
    assert flat["auc"] == 0.5


ARTICLES = [
    (
        "Nueva planta potabilizadora en Valle Alto",
        "2026-02-03",
        "Diario del Valle",
        "La nueva planta potabilizadora de Valle Alto abrió ayer tras 18 meses de obras. "
        "La intendenta Rosa Méndez cortó la cinta frente a unos 300 vecinos. "
        "La obra costó 42 millones de pesos, financiados por un préstamo del banco regional. "
        "La planta abastecerá a 60.000 hogares del departamento. "
        "Los técnicos prevén que el agua llegue sin cortes durante todo el verano. "
        "El sindicato de OSE pidió más personal para operarla.",
        [
            ("c1", "¿Cuánto costó la planta potabilizadora?", "42 millones de pesos"),
            ("c2", "¿Quién cortó la cinta de la planta?", "Rosa Méndez"),
            ("c3", "¿A cuántos hogares abastecerá la planta?", "60.000 hogares"),
            ("c4", "¿Cuántos empleados contrató el banco regional en 2025?", None),
        ],
    ),
    (
        "Paro de transporte en la capital",
        "2026-02-05",
        "La Voz",
        "Los choferes de ómnibus pararon durante seis horas este jueves. "
        "El sindicato reclama un aumento salarial del 8 %. "
        "La empresa ofreció un 5 % y mantiene abierta la negociación. "
        "Miles de pasajeros esperaron en las paradas del centro.",
        [("p1", "¿Qué aumento reclama el sindicato de choferes?", "8 %")],
    ),
]


def _news_file(path: Path) -> Path:
    data = []
    for title, date, outlet, text, questions in ARTICLES:
        qas = [
            {"id": qid, "question": q, "is_impossible": a is None,
             "answers": [] if a is None else [{"text": a, "answer_start": text.index(a)}]}
            for qid, q, a in questions
        ]  # fmt: skip
        data.append({"title": title, "date": date, "source": outlet, "paragraphs": [{"context": text, "qas": qas}]})
    path.write_text(json.dumps({"version": "v2.0", "data": data}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_the_records_are_what_the_product_reads(ceiling: ModuleType, tmp_path: Path) -> None:
    """Through the real index and reader: each question's records hold the ranker's best
    sentences with all four scores, and the first after the reordering at the product's k is
    the sentence the product quotes (one-part questions it answers)."""
    from index.answer.answerers import RERANK_CANDIDATES
    from index.answer.reader import load_reader

    reader = load_reader()
    assert reader is not None
    weight = 4.0
    rows = ceiling.record(_news_file(tmp_path / "news.json"), "all", tmp_path / "store", False, reader, weight)
    assert [r.question for r in rows][:2] == [q for _, q, _ in ARTICLES[0][4][:2]]
    for row in rows:
        n = len(row.sentences)
        assert 0 < n <= ceiling.MAX_CANDIDATES
        assert len(row.holds) == len(row.ranker) == len(row.column) == len(row.span) == len(row.cosine) == n
        assert all(math.isfinite(v) for v in row.ranker + row.column + row.span)
        assert row.ranker == sorted(row.ranker, reverse=True)
        if row.answerable and not row.product_refused:
            first = ceiling.reordered_first(row, RERANK_CANDIDATES, weight)
            assert row.product_holds == row.holds[first], row.question
    cost = next(r for r in rows if "costó" in r.question)
    assert any(cost.holds) and not any(next(r for r in rows if not r.answerable).holds)
    lines = ceiling.report(rows, weight)
    assert lines[0] == f"5 questions, 4 answerable; rerank weight {weight:g}"
    assert any("AUC" in line for line in lines)


def test_quoting_the_second_sentence_when_unsure(ceiling: ModuleType) -> None:
    asked = ceiling.Asked
    # Reordered at weight 1: "b" (6) first, "a" (5) second, 1 apart; the gold is "a".
    close = asked("q1", True, ["a", "bb", "c"], [True, False, False], [5.0, 4.0, 1.0], [0.0, 2.0, 0.0])
    # The gold first, far ahead: quoting a second adds characters, not answers.
    sure = asked("q2", True, ["dddd", "e"], [True, False], [9.0, 1.0], [0.0, 0.0])
    rows = [close, sure, asked("q3", True), asked("q4", False, ["x"], [False], [1.0], [0.0])]
    assert ceiling.two_quoted(rows, 1.0, 0.0) == pytest.approx((1 / 3, (2 + 4) / 3))  # never: the product
    assert ceiling.two_quoted(rows, 1.0, 1.5) == pytest.approx((2 / 3, (2 + 1 + 4) / 3))
    assert ceiling.two_quoted(rows, 1.0, math.inf) == pytest.approx((2 / 3, (2 + 1 + 4 + 1) / 3))
