"""Time the BM25 side index under writes: one one-article ingest into an N-chunk store, and how
long a second process (its own side index, same Chroma server) takes to catch up after it.

    python scripts/bench_lexical.py --chunks 20000 --work /tmp/bl20k            # this checkout
    python scripts/bench_lexical.py --chunks 20000 --work /tmp/bl20k --repo /tmp/wt13-base  # another

The store is built once per `--work` folder (synthetic articles from `index.measure.synthetic`, passages with
pre-computed random unit vectors, as `newsbot bench` does above 1k chunks, so a 100k store takes
minutes, not hours) and reused: each run copies it, so the code under test never sees a store
another version has written to. Then a real `chroma run` serves the copy, and:

1. a writer process and a follower process (each with its own local folder, so each keeps its
   own BM25 side index, as two bots on one server do) bring their side index up to date
   (untimed: a first build, or a load);
2. the writer, warmed up as a long-running process is (`warm_up`, embedding model loaded),
   ingests one new one-chunk article: timed, wall clock, BM25 update included (also reported
   alone: `bm25_update_s`), and, for reference, one read of every stored article's metadata
   (`full_store_articles_s`, what every ingest did before);
3. the follower then answers `lexical_index()`: timed, the catch-up; and checks the new article
   is found by BM25.

Each role is a separate Python process run with `--repo` first on its path, so `import index`
is the code under test. Prints one JSON object. (`newsbot bench` reports the same two figures for
each of its sizes, index/measure/bench_serve.py; this script compares two checkouts.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
COLLECTION = "bench"
NEW_WORD = "Zumbalquen"  # in no synthetic article: found by BM25 only once the new article is indexed


def _role_env(repo: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env.update(PYTHONPATH=str(repo), NEWSBOT_COLLECTION=COLLECTION, NEWSBOT_LLM="none", **extra)
    return env


def _run_role(repo: Path, role: str, *args: str, **env: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--role", role, *args],
        env=_role_env(repo, **env), cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{role} failed:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- roles (run in their own process, with the code under test on sys.path) ----------------


def role_build(store: Path, chunks: int) -> dict[str, Any]:
    """An embedded store of about `chunks` chunks, built by the code under test."""
    import math

    from index.measure.bench import SENTENCES_PER_ARTICLE, PrecomputedPassages, chunks_per_article
    from index.measure.synthetic import synthetic_articles
    from index.newsindex import NewsIndex
    from index.search.embeddings import load_encoder
    from index.settings import Settings

    settings = Settings.from_env(env_file=None).with_overrides(store=str(store))
    articles = max(1, math.ceil(chunks / chunks_per_article(settings.chunk_size, SENTENCES_PER_ARTICLE)))
    feed = store.parent / "feed"
    feed.mkdir(parents=True, exist_ok=True)
    with (feed / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for record in synthetic_articles(articles, SENTENCES_PER_ARTICLE, seed=0):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    index = NewsIndex(store, settings=settings, encoder=PrecomputedPassages(load_encoder(settings.embed_model)))
    start = time.perf_counter()
    report = index.ingest([feed])
    return {"chunks": report.chunks, "articles": len(report.added), "seconds": round(time.perf_counter() - start, 1)}


def _open(local: Path) -> Any:
    from index.newsindex import NewsIndex
    from index.settings import Settings

    return NewsIndex(settings=Settings.from_env(env_file=None).with_overrides(store=str(local)))


def role_warm(local: Path) -> dict[str, Any]:
    """Bring this local folder's side index up to date with the server (a build or a load)."""
    start = time.perf_counter()
    lexical = _open(local).lexical_index()
    return {"chunks": len(lexical.chunk_ids), "seconds": round(time.perf_counter() - start, 3)}


def role_writer(local: Path, article: Path) -> dict[str, Any]:
    from index.ingest.pipeline import IngestStep

    index = _open(local)
    # What a long-running process (the bot) has loaded before its first ingest: the side index,
    # LlamaIndex, the language detector (`warm_up`) and the embedding model.
    index.warm_up()
    index.embedding.encode(["calentar el modelo"])
    bm25: list[float] = []

    def timed(step: IngestStep) -> None:
        if step.name == "lexical":
            bm25.append(step.seconds)

    start = time.perf_counter()
    report = index.ingest([article], on_step=timed)
    ingest_s = time.perf_counter() - start
    assert len(report.added) == 1, report
    start = time.perf_counter()
    index.store.articles()
    articles_s = time.perf_counter() - start
    return {"ingest_s": round(ingest_s, 3), "bm25_update_s": round(sum(bm25), 3), "chunks": report.chunks,
            "full_store_articles_s": round(articles_s, 3)}  # fmt: skip


def role_follower(local: Path) -> dict[str, Any]:
    """Waits for a line on stdin (the writer is done), then times the catch-up."""
    index = _open(local)
    before = len(index.lexical_index().chunk_ids)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    lexical = index.lexical_index()
    catch_up_s = time.perf_counter() - start
    scores = lexical.scores(NEW_WORD.lower())
    top = lexical.chunk_ids[int(scores.argmax())] if len(scores) else ""
    found = bool(len(scores)) and float(scores.max()) > 0 and NEW_WORD in index.store.get_chunks([top])[top].text
    return {"catch_up_s": round(catch_up_s, 3), "chunks_before": before, "chunks_after": len(lexical.chunk_ids),
            "new_article_found": found}  # fmt: skip


# -- orchestration -----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--work", type=Path, help="folder for the built store (reused) and runs")
    parser.add_argument("--repo", type=Path, default=HERE, help="checkout whose code is measured (default: this one)")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.role:
        roles: dict[str, Any] = {"build": role_build, "warm": role_warm, "writer": role_writer,
                                 "follower": role_follower}  # fmt: skip
        arguments = [Path(options.args[0]), *(int(a) if a.isdigit() else Path(a) for a in options.args[1:])]
        print(json.dumps(roles[options.role](*arguments)), flush=True)
        return 0

    if options.work is None:
        parser.error("--work is required")
    repo, work = options.repo.resolve(), options.work.resolve()
    built = work / f"store-{options.chunks}"
    result: dict[str, Any] = {"repo": str(repo), "commit": _commit(repo), "machine": _machine()}
    if not (built / "chroma.sqlite3").exists():
        # Built by this script's own checkout: the chunks are the same whichever code measures.
        result["build"] = _run_role(HERE, "build", str(built), str(options.chunks))
    run = work / f"run-{repo.name}"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(built, run / "server")
    article = run / "new" / "2026-05-01_gaceta_zumbalquen.txt"
    article.parent.mkdir(parents=True)
    article.write_text(
        f" date 2026-05-01 Vecinos de {NEW_WORD} estrenan biblioteca | Gaceta\n\n"
        f"La biblioteca pública del barrio {NEW_WORD} abrió sus puertas el viernes con 3,000 libros "
        "donados por los vecinos y una sala de lectura para niños.\n",
        encoding="utf-8",
    )
    # This checkout's helper (the roles import `index` from --repo, which may predate it).
    from index.measure.bench_serve import start_chroma_server

    server, url = start_chroma_server(run / "server", run / "chroma.log")
    try:
        for name in ("writer", "follower"):
            result[f"warm_{name}"] = _run_role(repo, "warm", str(run / name), NEWSBOT_CHROMA_URL=url)
        follower = subprocess.Popen(
            [sys.executable, __file__, "--role", "follower", str(run / "follower")],
            env=_role_env(repo, NEWSBOT_CHROMA_URL=url), cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert follower.stdout is not None and follower.stdout.readline().strip() == "ready"
        result["writer"] = _run_role(repo, "writer", str(run / "writer"), str(article), NEWSBOT_CHROMA_URL=url)
        out, err = follower.communicate("go\n", timeout=1800)
        if follower.returncode != 0:
            raise SystemExit(f"follower failed:\n{err[-4000:]}")
        result["follower"] = json.loads(out.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(json.dumps(result, indent=2))
    return 0


def _commit(repo: Path) -> str:
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")  # fmt: skip
    return f"{os.cpu_count()} cores, {model}"


if __name__ == "__main__":
    sys.exit(main())
