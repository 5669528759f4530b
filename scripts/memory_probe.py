"""Resident memory of a process that serves questions from an existing store, or that builds
one, step by step.

    python scripts/memory_probe.py STORE_DIR                   # e.g. a `newsbot bench --store` store
    python scripts/memory_probe.py --build 20000 WORK_DIR      # build a bench store of ~20k chunks
    MALLOC_ARENA_MAX=8 python scripts/memory_probe.py --build 20000 WORK_DIR   # glibc's default arenas

Serving: the resident set after the imports, after opening the index (with its embedding model),
after loading the BM25 side index, after the first search (Chroma loads the HNSW index), and
after 40 questions and 20 date-filtered ones, with the peak. Building: `newsbot bench`'s
synthetic corpus with pre-computed passage vectors, the resident set and peak after reading the
articles, every 200 writes, after the writes and after the BM25 index is brought up to date.
Linux only (/proc/self/status).
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def rss_mb() -> int:
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmRSS:")[1].split()[0]) / 1024)


def peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux: kB


def main(store: Path) -> None:
    print(f"python: {rss_mb()} MB")
    from index.measure.synthetic import synthetic_questions
    from index.newsindex import NewsIndex
    from index.settings import Settings

    print(f"imports: {rss_mb()} MB")
    settings = Settings.from_env(env_file=None).with_overrides(llm="none", collection="bench")
    index = NewsIndex(store, settings=settings)
    print(f"index open, embedding model loaded: {rss_mb()} MB")
    chunks = len(index.lexical_index().chunk_ids)
    print(f"BM25 side index loaded ({chunks} chunks): {rss_mb()} MB")
    index.search("presas agua", k=5)
    print(f"first search (HNSW loaded): {rss_mb()} MB")
    for question in synthetic_questions(40):
        index.ask(question)
    print(f"after 40 questions: {rss_mb()} MB (peak {peak_mb()} MB)")
    for question in synthetic_questions(20):
        index.ask(question, since="2024-01-01", until="2024-12-31")
    print(f"after 20 questions with a date range: {rss_mb()} MB (peak {peak_mb()} MB)")


def build(chunks: int, work: Path) -> None:
    import json
    import math

    from index import newsindex
    from index.ingest.pipeline import IngestStep
    from index.measure.bench import SENTENCES_PER_ARTICLE, PrecomputedPassages, chunks_per_article
    from index.measure.synthetic import synthetic_articles
    from index.search.embeddings import load_encoder
    from index.settings import Settings

    def say(step: str) -> None:
        print(f"{step}: {rss_mb()} MB (peak {peak_mb()} MB)", flush=True)

    settings = Settings.from_env(env_file=None).with_overrides(llm="none", collection="bench")
    feed = work / "articles"
    feed.mkdir(parents=True, exist_ok=True)
    articles = max(1, math.ceil(chunks / chunks_per_article(settings.chunk_size, SENTENCES_PER_ARTICLE)))
    with (feed / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for record in synthetic_articles(articles, SENTENCES_PER_ARTICLE, seed=0):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    encoder = PrecomputedPassages(load_encoder(settings.embed_model))
    index = newsindex.NewsIndex(work / "store", settings=settings, encoder=encoder)
    say("index open")
    writes = 0

    def step(done: IngestStep) -> None:
        nonlocal writes
        if done.name == "batch":
            writes += 1
            if writes % 200 == 0:
                say(f"{writes} writes")
        else:
            said = {"read": f"read {done.count} articles", "written": "all written", "lexical": "BM25 index up to date"}
            say(said[done.name])

    report = index.ingest([feed], on_step=step)
    say(f"done: {report.chunks} chunks")


if __name__ == "__main__":
    if sys.argv[1] == "--build":
        build(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main(Path(sys.argv[1]))
