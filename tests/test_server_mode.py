"""The index on a Chroma *server* (`chroma run` on loopback): the essentials of test_index.py and
test_answer.py over `chromadb.HttpClient`, and several OS processes writing and asking at once.

Every test uses its own collection on the module's server, so they do not see each other.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from index import NewsIndex, Settings, StoreError
from index.storage.records import SENTENCE_VECTORS_KEY

from .chroma_server import ChromaServer
from .conftest import SAMPLE_ARTICLES
from .synthetic import barrio_name, write_articles

# A real `chroma run` server and several processes: every test here takes seconds.
pytestmark = pytest.mark.slow

WORKER_TIMEOUT = 240  # seconds; two processes embedding at once on 2 busy cores


def server_settings(server: ChromaServer, local: Path, collection: str | None = None) -> Settings:
    """Settings for the server: `store` is only where this machine caches the BM25 side index."""
    return Settings(store=str(local), chroma_url=server.url, collection=collection or f"t-{uuid.uuid4().hex[:12]}")


def assert_store_consistent(index: NewsIndex) -> dict[str, int]:
    """No duplicate chunk, every article complete; returns {article_id: n_chunks}."""
    ids = list(index.store.collection.get(include=[])["ids"])
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    articles = index.store.articles()
    assert all(a.complete for a in articles.values()), [a for a in articles.values() if not a.complete]
    assert len(ids) == sum(a.n_chunks for a in articles.values())
    return {a.article_id: a.n_chunks for a in articles.values()}


@pytest.fixture(scope="module")
def server_index(chroma_server: ChromaServer, tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    """The sample articles, ingested once into a collection on the server. Read-only."""
    settings = server_settings(chroma_server, tmp_path_factory.mktemp("server-local"), "samples")
    index = NewsIndex(settings=settings)
    report = index.ingest([SAMPLE_ARTICLES])
    assert len(report.added) == 6 and not report.skipped
    return index


def test_server_mode_uses_the_http_client(server_index: NewsIndex, chroma_server: ChromaServer) -> None:
    from chromadb.api.client import Client

    assert type(server_index.store.client).__name__ != "PersistentClient"
    assert isinstance(server_index.store.client, Client)
    assert server_index.store.client.get_settings().chroma_server_http_port == chroma_server.port
    stats = server_index.stats()
    assert stats["articles"] == 6 and stats["store"] == chroma_server.url
    # Nothing Chroma-side is written locally: only the BM25 cache, keyed by the server URL.
    local = Path(server_index.settings.store)
    assert not (local / "chroma.sqlite3").exists()
    assert server_index._lexical_dir.parent == local / "bm25-remote"
    # Sentence vectors stay in Chroma, where every process of the server reads them.
    assert server_index.store.sentence_file is None and not (local / "sentences").exists()
    page = server_index.store.collection.get(include=["metadatas"])
    assert all(m[SENTENCE_VECTORS_KEY] for m in page["metadatas"])
    [hit] = server_index.search("¿Cuántas pipas rentará el municipio?", k=1)
    assert hit.sentence_similarities and all(hit.sentence_similarities)
    assert server_index.lexical_index().version == server_index.store.version() != "empty"
    assert_store_consistent(server_index)


def test_reingest_is_incremental_on_the_server(
    chroma_server: ChromaServer,
    tmp_path: Path,
    articles_copy: Path,
) -> None:
    index = NewsIndex(settings=server_settings(chroma_server, tmp_path / "local"))
    first = index.ingest([articles_copy])
    ids = sorted(index.store.collection.get(include=[])["ids"])
    again = index.ingest([articles_copy])
    assert (len(again.unchanged), again.added, again.chunks) == (6, [], 0)
    changed = articles_copy / "2026-03-02_diario-del-valle_presas-marzo.txt"
    changed.write_text(changed.read_text(encoding="utf-8").replace("35 %", "34 %"), encoding="utf-8")
    update = index.ingest([articles_copy])
    assert len(first.added) == 6 and [Path(s).name for s in update.updated] == [changed.name]
    assert sorted(index.store.collection.get(include=[])["ids"]) == ids
    assert "34 %" in index.search("nivel de las presas en marzo", k=1, since="2026-03-01", until="2026-03-05")[0].text
    assert_store_consistent(index)


def test_search_and_dates_on_the_server(server_index: NewsIndex) -> None:
    cases = {
        "¿Cuántas pipas rentará el municipio?": "2026-02-04_noticias-metropolitanas_presas.txt",
        "How many stations will the new metro line have?": "2026-01-20_el-observador_linea-3.txt",
    }
    for query, expected in cases.items():
        assert Path(server_index.search(query, k=3)[0].source).name == expected
    march = server_index.search("nivel de las presas", k=6, since="2026-03-01")
    assert {h.date for h in march} == {"2026-03-02", "2026-03-28"}


def test_ask_on_the_server(server_index: NewsIndex) -> None:
    answer = server_index.ask("¿Cuántas pipas rentará el municipio?")
    assert not answer.refused and "150 pipas" in answer.text
    assert set(map(int, re.findall(r"\[(\d+)\]", answer.text))) == {c.number for c in answer.citations}
    latest = server_index.ask("¿Cuál es el nivel más reciente de las presas?")
    assert "36 %" in latest.text and latest.citations[0].date == "2026-03-28"
    refused = server_index.ask("¿Cuántos goles marcó Messi en el Mundial de 2022?")
    assert refused.refused and refused.citations == []


def test_unreachable_server_is_a_store_error(tmp_path: Path) -> None:
    from .chroma_server import free_port

    settings = Settings(store=str(tmp_path), chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match=r"cannot open the Chroma store at http://127\.0\.0\.1"):
        NewsIndex(settings=settings)
    with pytest.raises(StoreError, match=r"must look like http://host:port"):
        NewsIndex(settings=Settings(store=str(tmp_path), chroma_url="127.0.0.1:8000"))


# -- several processes on one server ---------------------------------------------------------

# Each worker ingests its folder while a second thread keeps asking; it prints one JSON line.
WORKER = """
import json, sys, threading, time
from index import NewsIndex

idx = NewsIndex()
done = threading.Event()
asked, errors = [], []
def keep_asking():
    questions = ["¿A qué nivel bajaron las presas de Valle Alto en febrero?", "¿Qué barrio tendrá alumbrado nuevo?"]
    while not done.is_set() or len(asked) < 4:
        try:
            answer = idx.ask(questions[len(asked) % 2])
            asked.append(answer.refused)
        except Exception as exc:
            errors.append(repr(exc))
            time.sleep(0.2)
        if len(errors) > 20:
            return
asker = threading.Thread(target=keep_asking)
asker.start()
try:
    report = idx.ingest(sys.argv[1:]).to_dict()
finally:
    done.set()
    asker.join()
print(json.dumps({"report": report, "asked": len(asked), "errors": errors}))
"""


def link_folder(folder: Path, files: list[Path]) -> Path:
    """A folder of symlinks: two such folders overlap on the files they share (same real paths)."""
    folder.mkdir(parents=True)
    for file in files:
        (folder / file.name).symlink_to(file)
    return folder


def test_two_processes_ingest_overlapping_folders_and_ask_at_once(
    chroma_server: ChromaServer,
    tmp_path: Path,
) -> None:
    samples = sorted(SAMPLE_ARTICLES.glob("*.txt"))
    generated = write_articles(tmp_path / "generated", range(100, 112))
    folder_a = link_folder(tmp_path / "a", samples[:4] + generated[:8])
    folder_b = link_folder(tmp_path / "b", samples[2:] + generated[4:])  # shares 2 samples + 4 generated
    settings = server_settings(chroma_server, tmp_path / "local-reader")

    # The third process (this one) builds its BM25 side index before the others write anything.
    reader = NewsIndex(settings=settings)
    assert reader.search("alumbrado", k=3) == [] and reader.lexical_index().chunk_ids == []

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env.update(
        NEWSBOT_CHROMA_URL=settings.chroma_url,
        NEWSBOT_COLLECTION=settings.collection,
        NEWSBOT_STORE=str(tmp_path / "local-workers"),  # shared by both workers: their BM25 saves race too
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(folder)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in (folder_a, folder_b)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=WORKER_TIMEOUT)
        assert worker.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    for result in results:
        assert result["errors"] == [] and result["asked"] >= 4
        assert result["report"]["skipped"] == []
    # Every article of the union is stored exactly once and whole: no lost, no duplicated chunk.
    chunks_per_article = assert_store_consistent(reader)
    union = {str(p.resolve()) for p in samples + generated}
    assert {a.source for a in reader.store.articles().values()} == union
    assert len(chunks_per_article) == len(union) == 18
    written = {s for r in results for s in r["report"]["added"] + r["report"]["updated"] + r["report"]["unchanged"]}
    assert written == union

    # The third process's BM25 follows the writes it did not make.
    lexical = reader.lexical_index()
    assert sorted(lexical.chunk_ids) == sorted(reader.store.collection.get(include=[])["ids"])
    for n, path in zip(range(100, 112), generated, strict=True):
        (hit,) = reader.search(f"alumbrado del barrio {barrio_name(n)}", k=1)
        assert hit.source == str(path.resolve())
    assert reader.ask("¿A qué nivel bajaron las presas de Valle Alto en febrero?").citations
