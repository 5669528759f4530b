"""Date filters on a `newsbot bench` store: Chroma's `where` on the HNSW walk against the
candidates filtered by date in the side index (index/search/retrieval.py;
`HybridSearch.chroma_date_filter` sends them to Chroma instead), in
one run.

    python scripts/bench_dates.py CHUNKS WORKDIR
    python scripts/bench_dates.py CHUNKS WORKDIR --limits 10000,50000   # no `where`: compare limits

Builds (once; reused when WORKDIR/store holds chunks) a store of ~CHUNKS chunks of the bench's
synthetic corpus with pre-computed passage vectors (queries use the real model), then times
`search` and `ask` (40 synthetic questions after 3 warm-ups) with no dates, a year, a month and an
open-ended range, each both ways. With `--limits`, the filtered way only, once per value of
`HybridSearch.exact_date_chunks` (how many in-range chunks are compared exactly before the
neighbours are filtered instead). Results: docs/bench/README.md ("Date filters").
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.measure.bench import SENTENCES_PER_ARTICLE, PrecomputedPassages, chunks_per_article
from index.measure.metrics import latency_summary_ms
from index.measure.synthetic import synthetic_articles, synthetic_questions
from index.newsindex import NewsIndex
from index.search import retrieval
from index.search.embeddings import load_encoder
from index.settings import Settings

WARMUP = 3
RANGES: dict[str, dict[str, str]] = {
    "no dates": {},
    "a year (2024)": {"since": "2024-01-01", "until": "2024-12-31"},
    "a month (2024-03)": {"since": "2024-03-01", "until": "2024-03-31"},
    "since 2025-06": {"since": "2025-06-01"},
}
# "where": every date range goes to Chroma's filter, as for a lexical index without vectors.
MODES = ("where", "filtered")


def build(index: NewsIndex, settings: Settings, target: int, work: Path) -> None:
    articles = max(1, math.ceil(target / chunks_per_article(settings.chunk_size, SENTENCES_PER_ARTICLE)))
    feed = work / "articles"
    feed.mkdir(parents=True, exist_ok=True)
    with (feed / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for record in synthetic_articles(articles, SENTENCES_PER_ARTICLE, seed=0):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    started = time.perf_counter()
    index.ingest([feed])
    print(f"built {index.store.count()} chunks in {time.perf_counter() - started:.0f} s", flush=True)


def timed(call: Callable[[str], Any], questions: list[str]) -> str:
    for question in questions[:WARMUP]:
        call(question)
    seconds = []
    for question in questions[WARMUP:]:
        started = time.perf_counter()
        call(question)
        seconds.append(time.perf_counter() - started)
    summary = latency_summary_ms(seconds)
    return f"p50 {summary['p50']:.0f} / p95 {summary['p95']:.0f} ms"


def main(target: int, work: Path, limits: list[int]) -> None:
    settings = Settings.from_env(env_file=None).with_overrides(llm="none", collection="bench")
    encoder = PrecomputedPassages(load_encoder(settings.embed_model))
    index = NewsIndex(work / "store", settings=settings, encoder=encoder)
    if index.store.count() == 0:
        build(index, settings, target, work)
    questions = synthetic_questions(40 + WARMUP)
    modes = [f"filtered, exact up to {limit:,}" for limit in limits] if limits else list(MODES)
    for label, dates in RANGES.items():
        for mode, limit in zip(modes, limits or [retrieval.EXACT_DATE_CHUNKS] * len(modes), strict=True):
            if not dates and mode == "where":
                continue
            index.hybrid.exact_date_chunks = limit
            index.hybrid.chroma_date_filter = mode == "where"
            search = timed(lambda q, d=dates: index.search(q, k=5, **d), questions)  # type: ignore[misc]
            ask = timed(lambda q, d=dates: index.ask(q, **d), questions)  # type: ignore[misc]
            print(f"{index.store.count()} chunks | {label} | {mode} | search {search} | ask {ask}", flush=True)


if __name__ == "__main__":
    limits = [int(v) for v in sys.argv[4].split(",")] if sys.argv[3:4] == ["--limits"] else []
    main(int(sys.argv[1]), Path(sys.argv[2]), limits)
