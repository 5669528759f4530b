"""`newsbot bench`, once a size's store is built: what users then do with it.

`serve` runs in a fresh process per size (`python -m index.measure.bench_serve serve CONFIG-JSON`),
so its peak memory is that of a process that answers, not of the one that built the store:

- `search` and `ask` p50 / p95 / p99 without dates, then `ask` with a year (`since` and
  `until`), with `since` alone, for a question that names a month ("… en marzo de 2024"), and
  for "latest" questions;
- the peak RSS after those;
- one new one-chunk article ingested into the store by that warm process (as the bot's watch
  does): wall time, BM25 update included.

`catch_up` then serves the same store with a real `chroma run` on loopback (where the `chroma`
command is installed) and runs two more processes, each with its own local folder and so its
own BM25 side index, as two bots on one server: a writer ingests one more article, and the
follower's next `lexical_index()`, the catch-up, is timed. Both first bring their side index up
to date, untimed (a build from every chunk, which a long-running process does once).
"""

from __future__ import annotations

import json
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from .metrics import latency_summary_ms
from .synthetic import CITIES, TOPICS, synthetic_questions

WARMUP_QUERIES = 3
COLLECTION = "bench"
# Date filters as users set them; the articles' dates spread over 2015-2026 (synthetic.py).
DATED_ASKS: dict[str, dict[str, str]] = {
    "a year (since + until)": {"since": "2024-01-01", "until": "2024-12-31"},
    "since alone": {"since": "2025-06-01"},
}
MONTH_SUFFIX = " en marzo de 2024"  # the question itself names the month (question.py reads it)
LATEST_TEMPLATES = (
    "¿Cuál es el nivel más reciente de las presas de {city}?",
    "¿Qué es lo último sobre {topic} en {city}?",
    "What is the latest on {topic} in {city}?",
)


def _new_article(folder: Path, word: str, date: str) -> Path:
    """One one-chunk article with a word no synthetic article has (BM25 finds it only once indexed)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{date}_gaceta_{word.lower()}.txt"
    path.write_text(
        f" date {date} Vecinos de {word} estrenan biblioteca | Gaceta\n\n"  # the .txt format (articles.py)
        f"La biblioteca pública del barrio {word} abrió sus puertas el viernes con 3,000 libros "
        "donados por los vecinos y una sala de lectura para niños.\n",
        encoding="utf-8",
    )
    return path


def _bm25_finds(index: Any, word: str) -> bool:
    lexical = index.lexical_index()
    scores = lexical.scores(word.lower())
    if not len(scores) or float(scores.max()) <= 0:
        return False
    top = lexical.chunk_ids[int(scores.argmax())]
    return word in index.store.get_chunks([top])[top].text


def _latencies(call: Any, questions: list[str], **options: Any) -> dict[str, float]:
    for question in questions[:WARMUP_QUERIES]:
        call(question, **options)
    times = []
    for question in questions[WARMUP_QUERIES:]:
        start = time.perf_counter()
        call(question, **options)
        times.append(time.perf_counter() - start)
    return latency_summary_ms(times)


def _open(store: Path, **overrides: Any) -> Any:
    from ..newsindex import NewsIndex
    from ..settings import Settings

    settings = Settings.from_env(env_file=None).with_overrides(llm="none", collection=COLLECTION, **overrides)
    return NewsIndex(store, settings=settings)


def serve(config: dict[str, Any]) -> dict[str, Any]:
    """Time a store's questions and one new article in a fresh process (see the module's doc)."""
    store, queries = Path(config["store"]), int(config["queries"])
    index = _open(store)
    index.warm_up()
    questions = synthetic_questions(queries + WARMUP_QUERIES)
    latest = [
        LATEST_TEMPLATES[i % len(LATEST_TEMPLATES)].format(city=CITIES[i % len(CITIES)], topic=TOPICS[i % len(TOPICS)])
        for i in range(queries + WARMUP_QUERIES)
    ]
    # A refused question skips the reader (answer.py), so the latencies mean little without the
    # share answered; noted while timed, warm-up questions first.
    answered: list[bool] = []
    result: dict[str, Any] = {
        "search_ms": _latencies(lambda q: index.search(q, k=5), questions),
        "ask_ms": _latencies(lambda q: answered.append(not index.ask(q).refused), questions),
        "ask_dated_ms": {label: _latencies(index.ask, questions, **dates) for label, dates in DATED_ASKS.items()},
    }
    result["ask_dated_ms"]["a month named in the question"] = _latencies(
        index.ask, [q.rstrip("?") + MONTH_SUFFIX + "?" for q in questions]
    )
    result["ask_latest_ms"] = _latencies(index.ask, latest)
    result["ask_answered_share"] = round(sum(answered[WARMUP_QUERIES:]) / queries, 3)
    result["serve_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    article = _new_article(store.parent / "new", "Zumbalquen", "2026-05-01")
    index.embedding.encode(["calentar el modelo"])  # loaded, as in a process that has ingested before
    start = time.perf_counter()
    report = index.ingest([article])
    result["one_article_ingest_s"] = round(time.perf_counter() - start, 3)
    result["one_article_chunks"] = report.chunks
    result["one_article_found"] = _bm25_finds(index, "Zumbalquen")
    return result


# -- server mode: a writer and a follower on one `chroma run` ---------------------------------


def role(name: str, local: Path, url: str, article: str = "") -> dict[str, Any]:
    index = _open(local, chroma_url=url)
    if name == "warm":  # bring this folder's side index up to date (untimed in the report)
        start = time.perf_counter()
        chunks = len(index.lexical_index().chunk_ids)
        return {"chunks": chunks, "seconds": round(time.perf_counter() - start, 2)}
    if name == "writer":
        index.warm_up()
        index.embedding.encode(["calentar el modelo"])
        start = time.perf_counter()
        report = index.ingest([Path(article)])
        return {"ingest_s": round(time.perf_counter() - start, 3), "chunks": report.chunks}
    # The follower: ready with a current side index, it waits for the writer, then catches up.
    before = len(index.lexical_index().chunk_ids)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    after = len(index.lexical_index().chunk_ids)
    catch_up_s = time.perf_counter() - start
    return {"catch_up_s": round(catch_up_s, 3), "chunks_before": before, "chunks_after": after,
            "new_article_found": _bm25_finds(index, "Quelvarra")}  # fmt: skip


def _role_command(name: str, local: Path, url: str, article: str = "") -> list[str]:
    spec = json.dumps({"name": name, "local": str(local), "url": url, "article": article})
    return [sys.executable, "-m", "index.measure.bench_serve", "role", spec]


def _last_json(stdout: str) -> dict[str, Any]:
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_chroma_server(store: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real `chroma run` serving `store` on a free loopback port, once it answers: (process, URL)."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = _free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [chroma, "run", "--path", str(store), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2).read()
            return server, url
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"`chroma run` did not come up (see {log})")


def catch_up(store: Path, work: Path) -> dict[str, Any]:
    """One-article ingest by a writer and a follower's catch-up, on a real Chroma server."""
    if not (shutil.which("chroma") or Path(sys.executable).with_name("chroma").exists()):
        return {"skipped": "the `chroma` command is not installed"}
    work.mkdir(parents=True, exist_ok=True)
    article = _new_article(work / "new", "Quelvarra", "2026-05-02")
    server, url = start_chroma_server(store, work / "chroma.log")
    try:
        result: dict[str, Any] = {}
        for name in ("writer", "follower"):
            done = subprocess.run(_role_command("warm", work / name, url), capture_output=True, text=True, check=True)
            result[f"warm_{name}"] = _last_json(done.stdout)
        follower = subprocess.Popen(
            _role_command("follower", work / "follower", url),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert follower.stdout is not None and follower.stdout.readline().strip() == "ready"
        writer = subprocess.run(
            _role_command("writer", work / "writer", url, str(article)), capture_output=True, text=True, check=True
        )
        result["writer"] = _last_json(writer.stdout)
        out, err = follower.communicate("go\n", timeout=3600)
        if follower.returncode != 0:
            raise RuntimeError(f"the follower failed:\n{err[-2000:]}")
        result["follower"] = _last_json(out)
        return result
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":  # a worker: `serve CONFIG-JSON` or `role SPEC-JSON`, result as one JSON line
    kind, spec = sys.argv[1], json.loads(sys.argv[2])
    if kind == "serve":
        print(json.dumps(serve(spec)))
    else:
        print(json.dumps(role(spec["name"], Path(spec["local"]), spec["url"], spec["article"])))
