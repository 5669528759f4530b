"""The news QA training set's checker and loader (index/measure/newsqa.py), on a small batch
written here, and the committed set itself (every rule CI enforces)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.measure.datasets import load_dataset, split_questions
from index.measure.newsqa import load_batches, split_of
from index.measure.newsqa_check import check_set

from .conftest import REPO
from .scripts import load_script

LEDE = "El ayuntamiento de Valle Alto aprobó ayer un plan de obras para el mercado central."
FACT = "La obra costará 48 millones de pesos y durará once meses, según el proyecto del arquitecto Tomás Beltrán."
BODY = f"""VALLE ALTO, 3 de febrero (Diario de Prueba).- {LEDE}

{FACT}

"Es una inversión que esperábamos desde hace años", dijo la regidora Marta Solís.
"""
FOLLOW_UP = """VALLE ALTO, 20 de marzo (Diario de Prueba).- Las obras del mercado de Valle Alto avanzan con retraso.

El presupuesto subió a 55 millones de pesos por el alza del acero, informó el ayuntamiento.
"""
UPDATE = "El presupuesto subió a 55 millones de pesos por el alza del acero, informó el ayuntamiento."


def _batch(root: Path, questions: list[dict], writer: str = "writer-a") -> Path:
    folder = root / "batches" / "prueba"
    (folder / "articles").mkdir(parents=True)
    (folder / "articles" / "prueba-001.txt").write_text(
        f" date 2026-02-03 Aprueban obras del mercado | Diario de Prueba\n\n{BODY}", encoding="utf-8"
    )
    (folder / "articles" / "prueba-002.txt").write_text(
        f" date 2026-03-20 El mercado, con retraso | Diario de Prueba\n\n{FOLLOW_UP}", encoding="utf-8"
    )
    meta = {"event": "prueba-e01", "outlet": "Diario de Prueba", "language": "es", "country": "MX", "kind": "local"}
    data = {
        "batch": "prueba",
        "writer": writer,
        "articles": {"prueba-001": {**meta, "date": "2026-02-03"}, "prueba-002": {**meta, "date": "2026-03-20"}},
        "questions": questions,
    }
    (folder / "questions.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return root


def _single(qid: str, answers: list[str], sentence: str = FACT, article: str = "prueba-001") -> dict:
    return {
        "id": qid,
        "kind": "single",
        "language": "es",
        "question": "¿Cuánto va a costar la obra del mercado?",
        "parts": [{"article": article, "answers": answers, "sentence": sentence}],
    }


def _errors(root: Path, strict: bool = False) -> list[str]:
    return check_set(load_batches(root), strict=strict).errors


def _without_length_errors(errors: list[str]) -> list[str]:
    # The small articles here are shorter than the spec's 15 sentences: that rule is tested alone.
    return [e for e in errors if "sentences (the spec" not in e]


def test_a_correct_batch_passes_but_for_its_short_articles(tmp_path: Path) -> None:
    latest = {
        "id": "prueba-q0002",
        "kind": "latest",
        "language": "en",
        "question": "What is the latest budget for the market works?",
        "series": ["prueba-001", "prueba-002"],
        "parts": [{"article": "prueba-002", "answers": ["55 millones de pesos"], "sentence": UPDATE}],
        "outdated": [{"article": "prueba-001", "answer": "48 millones de pesos"}],
    }
    unanswerable = {
        "id": "prueba-q0003",
        "kind": "unanswerable",
        "language": "es",
        "question": "¿Qué edad tiene la regidora Marta Solís?",
        "about": ["prueba-001"],
        "parts": [],
        "review": {"by": "reviewer-b", "verdict": "unanswerable"},
    }
    root = _batch(tmp_path, [_single("prueba-q0001", ["48 millones de pesos"]), latest, unanswerable])
    errors = _errors(root, strict=True)
    assert _without_length_errors(errors) == []
    assert any("prueba-001: 3 sentences" in e for e in errors)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (_single("q1", ["48 millones de dólares"]), "does not occur verbatim"),
        (_single("q1", ["aprobó ayer"], sentence=FACT), "is not inside its sentence"),
        (_single("q1", ["48 millones"], sentence=FACT.replace("48", "cuarenta y ocho")), "is not one of"),
        (_single("q1", ["48 millones"], article="prueba-009"), "is not in the batch"),
        ({"id": "q1", "kind": "unanswerable", "language": "es", "question": "¿Quién?", "parts": []}, "needs `about`"),
        ({"id": "q1", "kind": "guess", "language": "es", "question": "¿Quién?", "parts": []}, "kind 'guess'"),
        (
            {**_single("q1", ["48 millones de pesos"]), "kind": "latest", "series": ["prueba-001", "prueba-002"]},
            "not from the newest article",
        ),
    ],
)
def test_each_broken_rule_is_an_error(tmp_path: Path, question: dict, expected: str) -> None:
    errors = _without_length_errors(_errors(_batch(tmp_path, [question])))
    assert any(expected in e for e in errors), errors


def test_an_unanswerable_question_needs_an_independent_second_reading_in_strict_mode(tmp_path: Path) -> None:
    question = {"id": "q1", "kind": "unanswerable", "language": "es", "question": "¿Qué edad tiene Marta Solís?",
                "about": ["prueba-001"], "parts": []}  # fmt: skip
    root = _batch(tmp_path / "a", [question])
    assert _without_length_errors(_errors(root)) == []
    assert any("no second reading" in e for e in _errors(root, strict=True))
    own = _batch(tmp_path / "b", [{**question, "review": {"by": "writer-a", "verdict": "unanswerable"}}])
    assert any("its own writer" in e for e in _errors(own, strict=True))
    found = _batch(tmp_path / "c", [{**question, "review": {"by": "reviewer-b", "verdict": "answered: 48"}}])
    assert any("found an answer" in e for e in _errors(found, strict=True))


def test_the_same_question_twice_is_an_error(tmp_path: Path) -> None:
    root = _batch(tmp_path, [_single("q1", ["48 millones de pesos"]), _single("q2", ["48 millones de pesos"])])
    assert any("the same question as q1" in e for e in _errors(root))


def test_the_set_loads_for_newsbot_eval_with_its_split_by_event(tmp_path: Path) -> None:
    root = _batch(tmp_path, [_single("prueba-q0001", ["48 millones de pesos"])])
    dataset = load_dataset(root)
    assert len(dataset.articles) == 2 and len(dataset.questions) == 1
    (question,) = dataset.questions
    assert question.answered_by("costará 48 millones de pesos") and question.split == split_of("prueba-e01")
    assert {Path(s).name for s in question.gold_sources} == {"prueba-001.txt"}
    everything = split_questions(dataset.questions, "fit") + split_questions(dataset.questions, "held-out")
    assert everything == dataset.questions


def test_the_split_is_by_event_and_stable() -> None:
    splits = [split_of(f"batch-e{n:02d}") for n in range(200)]
    assert splits == [split_of(f"batch-e{n:02d}") for n in range(200)]
    assert 0.05 < splits.count("held-out") / 200 < 0.2 and 0.05 < splits.count("dev") / 200 < 0.2


@pytest.mark.skipif(not (REPO / "training" / "newsqa" / "batches").is_dir(), reason="no committed set")
def test_the_committed_set_passes_its_checker() -> None:
    report = check_set(load_batches(REPO / "training" / "newsqa"), strict=True)
    assert report.errors == []
    assert report.stats["articles"] >= 400 and report.stats["questions"] >= 5000  # type: ignore[operator]


def test_recut_moves_answering_sentences_to_where_the_splitter_now_cuts(tmp_path: Path) -> None:
    # As a splitter that did not end a sentence at a lone figure ("…de 2024 es 7. La obra…")
    # or that cut at "Arq." would have recorded them: joined to a neighbour, or cut in two.
    recut = load_script("recut_training_sentences")
    joined = f"{LEDE} {FACT}"
    cut = "La obra costará 48 millones de pesos y durará once meses, según el proyecto del"
    second = {**_single("prueba-q0002", ["48 millones de pesos"], cut), "question": "¿Cuál es el costo de la obra?"}
    root = _batch(tmp_path, [_single("prueba-q0001", ["48 millones de pesos"], joined), second])
    assert len(_without_length_errors(_errors(root))) == 2
    assert recut.recut(root / "batches" / "prueba") == (2, 0)
    assert _without_length_errors(_errors(root)) == []
    questions = json.loads((root / "batches" / "prueba" / "questions.json").read_text(encoding="utf-8"))["questions"]
    assert [q["parts"][0]["sentence"] for q in questions] == [FACT, FACT]
