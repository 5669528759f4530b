"""The reader's training data (scripts/train_reader.py, scripts/reader_groups.py): the parts that
need no JAX. The training itself runs only with the [train] extra, outside the test suite."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from .scripts import load_script


def _paragraph(context: str, qas: list[dict]) -> dict:
    return {"context": context, "qas": qas}


def _qa(qid: str, question: str, answer: str | None, context: str) -> dict:
    if answer is None:
        return {"id": qid, "question": question, "answers": [], "is_impossible": True}
    return {"id": qid, "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}


@pytest.fixture
def squad() -> dict:
    contexts = [f"El párrafo {n} habla de Lima. La cifra {n} es {n * 100} pesos." for n in range(8)]
    paragraphs = [
        _paragraph(c, [_qa(f"q{n}", f"¿Cuál es la cifra {n}?", f"{n * 100} pesos", c)]) for n, c in enumerate(contexts)
    ]
    paragraphs[1]["qas"].append(_qa("gone", "¿Y la otra?", None, contexts[1]))
    return {"data": [{"title": "Un_título", "paragraphs": paragraphs}]}


def test_the_product_groups_are_built_on_the_readers_own_documents(squad: dict) -> None:
    """reader_groups.py ingests the same documents train_reader.py trains on (same order, same
    paragraphs, the test set's left out), so its held-out documents stay held out."""
    train_reader, reader_groups = load_script("train_reader"), load_script("reader_groups")
    excluded = {"q2"}
    documents = train_reader.documents(squad, excluded)
    dataset, asked = reader_groups.news_documents(squad, excluded)
    assert len(dataset.articles) == len(documents) == 2  # 7 paragraphs kept, 6 to a document
    for article, document in zip(dataset.articles, documents, strict=True):
        assert article.title == document.title == "Un título"
        assert " ".join(document.sentences) == " ".join(article.text.split())
    assert "La cifra 2 es 200 pesos." not in dataset.articles[0].text
    # Answerable questions only, each with its document's number.
    assert [(d, q) for d, q, _ in asked] == [(0, f"¿Cuál es la cifra {n}?") for n in (0, 1, 3, 4, 5, 6)] + [
        (1, "¿Cuál es la cifra 7?")
    ]


def test_product_groups_keep_what_teaches_the_order_with_the_rankers_score_as_prior(tmp_path: Path) -> None:
    train_reader = load_script("train_reader")

    def candidate(sentence: str, holds: bool, score: float, cosine: float) -> dict:
        return {"title": "T", "sentence": sentence, "holds": holds, "score": score, "cosine": cosine}

    records = [
        {  # the ranker's first does not hold the answer, the second does: kept
            "document": 3,
            "reading": "¿Cuánto costó?",
            "answers": ["300 pesos"],
            "candidates": [
                candidate("Se inauguró ayer.", False, 12.0, 0.9),
                candidate("Costó 300 pesos.", True, 10.0, float("nan")),
            ],
        },
        {"document": 4, "reading": "¿Todo?", "answers": ["a"], "candidates": [candidate("a", True, 1.0, 0.5)] * 2},
        {"document": 5, "reading": "¿Nada?", "answers": ["b"], "candidates": [candidate("c", False, 1.0, 0.5)] * 2},
    ]
    path = tmp_path / "groups.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    (group,) = train_reader.product_groups(path, rerank_weight=4.0)
    assert (group.document, group.question, group.answers) == (3, "¿Cuánto costó?", (0.0, 1.0))
    assert group.priors == (3.0, 2.5)  # the ranker's score over the rerank weight
    assert group.cosines == (0.9, 0.9)  # an unknown cosine counts as the group's mean, as Reader.rank fills it
    assert group.spans == (None, (6, 15)) and "Costó 300 pesos."[6:15] == "300 pesos"
    assert not any(math.isnan(c) for c in group.cosines)


def test_a_ranking_stage_keeps_the_note_of_the_stages_it_started_from() -> None:
    """The shipped file's note says how every stage was made: a later ranking stage moves the
    one it started from into `earlier_ranking_stages` instead of overwriting it."""
    train_reader = load_script("train_reader")
    first = {"shape": {"first_trained_layer": 8}, "command": "python scripts/train_reader.py --epochs 1.2"}
    second = train_reader.ranking_note(first, {"command": "second"})
    assert second == {"command": first["command"], "ranking_stage": {"command": "second"}}
    third = train_reader.ranking_note({**second, "shape": {}}, {"command": "third"})
    assert third["earlier_ranking_stages"] == [{"command": "second"}] and third["ranking_stage"] == {"command": "third"}
    fourth = train_reader.ranking_note(third, {"command": "fourth"})
    assert [s["command"] for s in fourth["earlier_ranking_stages"]] == ["second", "third"]
    assert fourth["command"] == first["command"] and "shape" not in fourth


def test_lists_where_the_ranker_put_a_wrong_sentence_first_are_shown_more_often() -> None:
    """--hard-copies weighs the product lists where the column must overrule the ranker; a
    document group (no ranker, zero priors) and a list the ranker already got right count once."""
    train_reader = load_script("train_reader")

    def group(answers: tuple[float, ...], priors: tuple[float, ...]):  # type: ignore[no-untyped-def]
        n = len(answers)
        return train_reader.RankGroup(0, "¿Q?", ("T",) * n, ("s",) * n, answers, (0.5,) * n, priors, (None,) * n)

    groups = [
        group((0.0, 1.0), (3.0, 2.5)),  # the ranker's first does not hold the answer
        group((1.0, 0.0), (3.0, 2.5)),  # the ranker's first does
        group((0.0, 1.0), (0.0, 0.0)),  # a document's sentences: no ranker involved
    ]
    assert train_reader.sampling_pool(groups, hard_copies=3) == [0, 0, 0, 1, 2]
    assert train_reader.sampling_pool(groups, hard_copies=1) == [0, 1, 2]


def test_an_answer_cut_out_of_its_sentence_is_a_sentence_that_does_not_answer() -> None:
    train_reader = load_script("train_reader")
    sentence = "El informe se hizo con base en la consulta a 629 empresas del país."
    at = sentence.index("629")
    assert train_reader.without_answer(sentence, (at, at + 3)) == (
        "El informe se hizo con base en la consulta a empresas del país."
    )
    # Where the answer is most of the sentence, or appears in it again, there is nothing to cut.
    assert train_reader.without_answer("Costó 9,800 millones.", (6, 20)) is None
    assert train_reader.without_answer("Son 629, sí, 629 empresas en total hoy.", (4, 7)) is None

    def group(size: int) -> object:
        answers = (0.0, 1.0, *[0.0] * (size - 2))
        spans = (None, (sentence.index("629"), sentence.index("629") + 3), *[None] * (size - 2))
        sentences = ("Lede.", sentence, *[f"Otra {n}." for n in range(size - 2)])
        cosines = tuple(0.8 + n / 100 for n in range(size))
        priors = tuple(float(n) for n in range(size))
        titles = ("T",) * size
        return train_reader.RankGroup(0, "¿Cuántas empresas?", titles, sentences, answers, cosines, priors, spans)

    short = train_reader.with_answerless(group(3))
    assert short.sentences[-1] == "El informe se hizo con base en la consulta a empresas del país."
    assert short.answers == (0.0, 1.0, 0.0, 0.0) and short.spans[-1] is None
    # It keeps the cosine and the prior of its sentence: only reading it tells them apart.
    assert (short.cosines[-1], short.priors[-1]) == (short.cosines[1], short.priors[1])
    full = train_reader.with_answerless(group(train_reader.RANK_GROUP))
    assert len(full.sentences) == train_reader.RANK_GROUP  # the last sentence that does not answer made room
    assert full.sentences[:-1] == group(train_reader.RANK_GROUP).sentences[:-1]  # type: ignore[attr-defined]


def test_the_news_set_becomes_documents_whose_questions_point_at_their_sentence(tmp_path: Path) -> None:
    from .test_newsqa import FACT, UPDATE, _batch, _single

    train_reader = load_script("train_reader")
    two_part = {
        "id": "q2", "kind": "multi", "language": "en", "question": "How much will it cost and what is the budget now?",
        "parts": [
            {"question": "How much will it cost?", "article": "prueba-001", "answers": ["48 millones de pesos"],
             "sentence": FACT},
            {"question": "What is the budget now?", "article": "prueba-002", "answers": ["55 millones de pesos"],
             "sentence": UPDATE},
        ],
    }  # fmt: skip
    unanswerable = {"id": "q3", "kind": "unanswerable", "language": "es", "question": "¿Qué edad tiene Marta Solís?",
                    "about": ["prueba-001"], "parts": []}  # fmt: skip
    root = _batch(tmp_path, [_single("q1", ["48 millones de pesos"]), two_part, unanswerable])
    first, second = train_reader.news_documents(root)
    assert (first.key, second.key) == ("prueba-001", "prueba-002") and first.title == "Aprueban obras del mercado"
    fact = first.sentences.index(FACT)
    at = FACT.index("48 millones de pesos")
    assert first.questions == [
        ("q1-0", "¿Cuánto va a costar la obra del mercado?", fact, (at, at + len("48 millones de pesos"))),
        ("q2-0", "How much will it cost?", fact, (at, at + len("48 millones de pesos"))),  # each part on its own
        ("q3", "¿Qué edad tiene Marta Solís?", None, None),
    ]
    assert second.questions[0][1] == "What is the budget now?"


def test_news_lists_offer_the_none_of_these_choice_and_keep_unanswerable_questions(tmp_path: Path) -> None:
    train_reader = load_script("train_reader")

    def candidate(sentence: str, holds: bool) -> dict:
        return {"title": "T", "sentence": sentence, "holds": holds, "score": 8.0, "cosine": 0.8}

    records = [
        {"article": "a-001", "reading": "¿Cuánto?", "answers": ["48"], "answerable": True,
         "candidates": [candidate("Costó 48.", True), candidate("Otra.", False)]},
        {"article": "a-001", "reading": "¿Qué edad?", "answers": [], "answerable": False,
         "candidates": [candidate("Costó 48.", False), candidate("Otra.", False)]},
        {"article": "a-009", "reading": "¿De otro?", "answers": ["x"], "answerable": True,  # not a document here
         "candidates": [candidate("x.", True), candidate("y.", False)]},
        {"document": 3, "reading": "¿SQuAD?", "answers": ["x"],
         "candidates": [candidate("x.", True), candidate("y.", False)]},
    ]  # fmt: skip
    path = tmp_path / "groups.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    answerable, unanswerable, squad_list = train_reader.product_groups(path, 4.0, {"a-001": 7})
    assert answerable.document == unanswerable.document == 7 and squad_list.document == 3
    assert answerable.null_slot and unanswerable.null_slot and not squad_list.null_slot
    assert unanswerable.answers == (0.0, 0.0) and answerable.answers == (1.0, 0.0)
    assert answerable.priors == (2.0, 2.0)  # the ranker's score over the rerank weight
