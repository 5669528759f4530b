"""`newsbot eval`: both systems on one data set, every metric, per question kind."""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..schema import Answer, strip_markers
from .datasets import (
    QUESTION_KINDS,
    EvalQuestion,
    EvalSet,
    question_kinds,
    sample_questions,
    slug,
    split_questions,
    write_jsonl,
)
from .metrics import MAX_RANK, Scored, dangling_citations, hit_at, mrr_at, percentile_ms, refusal_prf
from .systems import BaselineSystem, NewsbotSystem, QuestionResult, System, run_system

if TYPE_CHECKING:
    from ..newsindex import NewsIndex
    from ..settings import Settings


def summarize(system: System, questions: Sequence[EvalQuestion], results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Every metric of one system, as a flat dict (None where a metric is undefined)."""
    pairs = list(zip(questions, results, strict=True))
    answerable = [(q, r) for q, r in pairs if q.answerable]
    ranks = [r.rank for _, r in answerable]
    out: dict[str, Any] = {
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(questions) - len(answerable),
        # None, not NaN, when there is nothing to rank (only unanswerable questions): JSON has no NaN.
        "hit@1": hit_at(ranks, 1) if ranks else None,
        "hit@5": hit_at(ranks, 5) if ranks else None,
        "mrr@10": mrr_at(ranks, MAX_RANK) if ranks else None,
        "hit@k": [hit_at(ranks, k) for k in range(1, MAX_RANK + 1)] if ranks else [],
        "search_p50_ms": percentile_ms([r.search_seconds for r in results], 50),
        "search_p95_ms": percentile_ms([r.search_seconds for r in results], 95),
        "ingest_chunks": system.ingest_chunks,
        "ingest_seconds": round(system.ingest_seconds, 2),
        "ingest_chunks_per_s": system.ingest_chunks / system.ingest_seconds if system.ingest_chunks else None,
    }
    asked: list[tuple[EvalQuestion, Answer]] = [(q, r.answer) for q, r in pairs if r.answer is not None]
    errors = sum(1 for r in results if r.error)
    if not asked and not errors:
        return out  # retrieval only
    answered = [(q, a) for q, a in asked if q.answerable and not a.refused]
    citations = [(q, c) for q, a in answered for c in a.citations]
    holds = [q.answered_by(a.text) for q, a in answered]
    contained = sum(holds)
    missed = [(q, a) for (q, a), held in zip(answered, holds, strict=True) if not held]
    answerable_asked = [a for q, a in asked if q.answerable]
    prf = refusal_prf([a.refused for _, a in asked], [not q.answerable for q, _ in asked])
    out.update(
        {
            "errors": errors,
            "answered": len(answered),
            "answer_containment": contained / len(answered) if answered else None,
            "answer_containment_all": contained / len(answerable) if answerable else None,
            "mean_answer_chars": sum(len(strip_markers(a.text)) for _, a in answered) / len(answered)
            if answered
            else None,
            "citation_precision": (
                sum(1 for q, c in citations if c.source in q.gold_sources) / len(citations) if citations else None
            ),
            "citations_per_answer": len(citations) / len(answered) if answered else None,
            # Where the wrong answers come from: citing no article that holds the fact (the search
            # or the choice among articles) rather than the wrong sentence of the right article.
            "misses_from_other_articles": (
                sum(1 for q, a in missed if not {c.source for c in a.citations} & q.gold_sources) / len(missed)
                if missed
                else None
            ),
            "dangling_citations": sum(dangling_citations(a) for _, a in asked),
            "refusal_rate": sum(1 for _, a in asked if a.refused) / len(asked) if asked else None,
            # answerable questions refused: the refusal users mind most
            "false_refusal_rate": (
                sum(a.refused for a in answerable_asked) / len(answerable_asked) if answerable_asked else None
            ),
            "refusal_precision": prf.precision,
            "refusal_recall": prf.recall,
            "refusal_f1": prf.f1,
            "ask_p50_ms": percentile_ms([r.ask_seconds for r in results if r.answer is not None], 50),
            "ask_p95_ms": percentile_ms([r.ask_seconds for r in results if r.answer is not None], 95),
        }
    )
    return out


# Metrics compared as ours / baseline, in the order the report shows them (higher is better
# for all but length and latency, where a ratio below 1 is the better side).
COMPARED = (
    "hit@1", "hit@5", "mrr@10", "answer_containment", "answer_containment_all", "mean_answer_chars",
    "citation_precision", "dangling_citations", "refusal_precision", "refusal_recall", "refusal_f1",
    "ask_p50_ms", "ask_p95_ms", "search_p50_ms", "search_p95_ms", "ingest_chunks_per_s",
)  # fmt: skip


def ratios(ours: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in COMPARED:
        a, b = ours.get(key), baseline.get(key)
        out[key] = a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
    return out


@dataclass(frozen=True)
class EvalOptions:
    limit: int | None = None
    seed: int = 0
    store: Path | None = None
    retrieval_only: bool = False
    baseline: bool = True
    progress: bool = False
    split: str = "all"  # "all", "fit" or "held-out" (split_questions)


@contextmanager
def _workdir(store: Path | None) -> Iterator[Path]:
    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
        yield store
    else:
        with tempfile.TemporaryDirectory(prefix="newsbot-eval-") as tmp:
            yield Path(tmp)


def dataset_index(
    dataset: EvalSet, settings: Settings, work: Path, answerers: Sequence[Any] | None = None
) -> tuple[NewsIndex, list[Path]]:
    """The index `newsbot eval --store WORK` uses for `dataset` (not yet ingested) and the paths
    to ingest into it. One collection per data set, model and chunking, so one store serves
    every variant, and scripts/calibrate_reader.py shares it."""
    from ..newsindex import NewsIndex

    collection = f"eval-{slug(dataset.name)}-{settings.embed_model}-c{settings.chunk_size}"
    index = NewsIndex(
        work / "newsbot", settings=settings.with_overrides(collection=collection, llm="none"), answerers=answerers
    )
    paths = dataset.paths
    if not paths:
        feed = work / "articles"
        feed.mkdir(parents=True, exist_ok=True)
        paths = [write_jsonl(dataset.articles, feed / f"{slug(dataset.name)}.jsonl")]
    return index, list(paths)


def scored_answers(
    index: NewsIndex, questions: Sequence[EvalQuestion], score: Callable[[Answer], float]
) -> list[Scored]:
    """Ask each question; keep the answer's `score` (-inf when refused: what a refusal threshold
    cannot undo), whether it holds the gold answer, and whether the question is answerable.
    For scripts/calibrate_*.py, which choose thresholds from these."""
    out = []
    for number, question in enumerate(questions, start=1):
        answer = index.ask(question.question)
        value = -math.inf if answer.refused else score(answer)
        out.append(Scored(value, question.answerable and question.answered_by(answer.text), question.answerable))
        if number % 100 == 0:
            print(f"  {number}/{len(questions)} questions", file=sys.stderr, flush=True)
    return out


def evaluate(dataset: EvalSet, settings: Settings, options: EvalOptions) -> dict[str, Any]:
    """Ingest, ask every (sampled) question of both systems, and return the report as a dict."""

    questions = sample_questions(split_questions(dataset.questions, options.split), options.limit, options.seed)
    with _workdir(options.store) as work:
        index, paths = dataset_index(dataset, settings, work)
        ours = NewsbotSystem(index, paths, options.progress)
        retrieval_only = options.retrieval_only or not hasattr(index, "ask")
        systems: list[System] = [ours]
        if options.baseline:
            systems.append(
                BaselineSystem(dataset.articles, settings.embed_model, work / f"baseline-{settings.embed_model}")
            )
        report: dict[str, Any] = {
            "dataset": dataset.name,
            "articles": len(dataset.articles),
            "questions": len(questions),
            "sample": {"limit": options.limit, "seed": options.seed, "split": options.split},
            "settings": {
                "embed_model": settings.embed_model,
                "chunk_size": settings.chunk_size,
                "chunk_overlap": settings.chunk_overlap,
                "dense_weight": settings.dense_weight,
                "answerer": answerer_in_use(index),
            },
            "retrieval_only": retrieval_only,
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            # Latencies and throughput depend on what else runs on the cores; this says how busy they were.
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "systems": {},
            "per_type": {},
        }
        for system in systems:
            results = run_system(system, questions, retrieval_only=retrieval_only, progress=options.progress)
            report["systems"][system.name] = summarize(system, questions, results)
            report["systems"][system.name]["_latencies_ms"] = [
                1000 * (r.search_seconds if retrieval_only else r.ask_seconds) for r in results
            ]
            kinds = sorted({q.kind for q in questions})
            if len(kinds) > 1:
                report["per_type"][system.name] = {
                    kind: summarize(
                        system,
                        [q for q in questions if q.kind == kind],
                        [r for q, r in zip(questions, results, strict=True) if q.kind == kind],
                    )
                    for kind in kinds
                }
            if system is ours and not retrieval_only:
                languages = {a.source: a.language or "es" for a in dataset.articles}
                labels = [question_kinds(q, languages) for q in questions]
                report["per_kind"] = {
                    kind: summarize(
                        system,
                        [q for q, ls in zip(questions, labels, strict=True) if kind in ls],
                        [r for r, ls in zip(results, labels, strict=True) if kind in ls],
                    )
                    for kind in QUESTION_KINDS
                    if any(kind in ls for ls in labels)
                }
    if options.baseline:
        report["ratio"] = ratios(report["systems"]["newsbot"], report["systems"]["baseline"])
    return report


def answerer_in_use(index: NewsIndex) -> str:
    """What answered (ANSWERERS' names): the setting, less what the shipped files cannot do."""
    from ..answer.answerers import RankerAnswerer
    from ..answer.reader_answerer import ReaderAnswerer

    last = index.answerers[-1]
    if isinstance(last, ReaderAnswerer):
        return "reader"
    return "reranked" if isinstance(last, RankerAnswerer) and last.reader is not None else "ranker"
