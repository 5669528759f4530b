"""Resident memory of a process that serves questions from an existing store, step by step.

    python scripts/memory_probe.py STORE_DIR     # e.g. a `scripts/bench_dates.py` store

Prints the resident set after the imports, after opening the index (with its embedding model),
after loading the BM25 side index, after the first search (Chroma loads the HNSW index), and
after 40 questions and 20 date-filtered ones, with the peak. Linux only (/proc/self/status).
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


if __name__ == "__main__":
    main(Path(sys.argv[1]))
