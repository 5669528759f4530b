"""Faults, each provoked for real: an ingest killed with SIGKILL, a Chroma server that goes away
and comes back, an LLM endpoint that is down, a read-only store, a full disk, damaged BM25 files.

Ingests that must be killed or starved run in a subprocess (`python -m index.cli ingest`);
this process opens a store only after those are done (an embedded Chroma store is not shared
between live processes: several processes use the server, see test_server_mode.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from index import Answer, NewsIndex, Settings, StoreError
from index.ingest.articles import read_sources

from .chroma_server import ChromaServer, free_port
from .conftest import SAMPLE_ARTICLES
from .fakes import make_bot, make_settings
from .synthetic import barrio_name, write_articles

# Real servers, subprocesses and injected faults: every test here takes seconds.
pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "index.cli"]
INGEST_TIMEOUT = 300  # seconds, for a subprocess ingest on 2 busy cores
LLM_TIMEOUT = 2.0
MARGIN = 5.0  # seconds of slack over the LLM timeout for retrieval and answering


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env.update(extra)
    return env


def expected_chunks(folder: Path, planner: NewsIndex) -> dict[str, str]:
    """{chunk id: text} that one clean ingest of `folder` writes (same splitter, no embedding)."""
    return {
        node.node_id: node.get_content(metadata_mode="none")  # type: ignore[arg-type]
        for article in read_sources([folder]).articles
        for node in planner.ingester.nodes_for(article)
    }


def stored_chunks(index: NewsIndex) -> dict[str, str]:
    page = index.store.collection.get(include=["documents"])
    ids = list(page["ids"])
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    return dict(zip(ids, page["documents"] or [], strict=True))


def queued_records(store: Path) -> int:
    """Records Chroma has durably logged, read from its SQLite file (read-only, another process)."""
    try:
        with sqlite3.connect(f"file:{store / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM embeddings_queue").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet, or locked for a moment


# -- SIGKILL in the middle of an ingest -------------------------------------------------------


def test_ingest_killed_mid_way_then_rerun_ends_as_one_clean_run(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    write_articles(folder, range(24), paragraphs=6)  # 24 articles, 48 chunks: two write groups
    store = tmp_path / "store"
    expected = expected_chunks(folder, NewsIndex(tmp_path / "planner", settings=make_settings(tmp_path / "planner")))
    assert len(expected) >= 40

    ingest = [*CLI, "ingest", str(folder), "--store", str(store)]
    victim = subprocess.Popen(ingest, env=clean_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + INGEST_TIMEOUT
    while queued_records(store) == 0 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    landed = queued_records(store)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    assert 0 < landed < len(expected)

    rerun = subprocess.run([*ingest, "--json"], env=clean_env(), cwd=tmp_path, capture_output=True, text=True,
                           timeout=INGEST_TIMEOUT)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    report = __import__("json").loads(rerun.stdout)
    assert report["skipped"] == [] and len(report["added"]) + len(report["updated"]) < 24  # resumed, not redone
    assert len(report["added"]) + len(report["updated"]) + len(report["unchanged"]) == 24

    index = NewsIndex(store, settings=make_settings(store))
    assert stored_chunks(index) == expected  # same ids, same texts, nothing more: one clean run
    assert all(a.complete for a in index.store.articles().values())
    assert index.stats()["articles"] == 24
    assert index.search(f"barrio {barrio_name(23)}", k=1)[0].title.endswith(barrio_name(23))
    assert len(index.lexical_index().chunk_ids) == len(expected)


# -- the Chroma server goes away, and comes back ------------------------------------------------


async def test_server_stopped_between_questions_then_back_without_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import discord
    import simcord

    server = ChromaServer(tmp_path / "chroma")
    server.start()
    try:
        index = NewsIndex(settings=Settings(store=str(tmp_path / "local"), chroma_url=server.url))
        index.ingest([SAMPLE_ARTICLES])
        question = "¿Cuántas pipas rentará el municipio?"
        assert "150 pipas" in index.ask(question).text

        bot = make_bot(index, tmp_path / "bot.sqlite3")
        env = simcord.Env(bot)
        await env.start()
        try:
            with env.time_context():
                guild = env.create_guild("Redacción")
                channel = guild.create_text_channel("noticias")
                alice = guild.add_member(env.create_user("alice"))

                server.stop(graceful=False)  # a crash, between two questions
                started = time.monotonic()
                with pytest.raises(StoreError, match=r"^cannot (read|search) the store: "):
                    index.ask(question)
                assert time.monotonic() - started < 30

                caplog.set_level(logging.ERROR, logger="bot")
                down = await alice.slash(channel, "ask", pregunta=question)
                assert down.response is not None
                text = down.response.content
                assert text.startswith("Lo siento, algo falló al responder.")
                (error_id,) = re.findall(r"`([0-9a-f]{8})`", text)
                assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)
                assert "127.0.0.1" not in text and "store" not in text  # details in the log only

                server.start()  # same path, same port: the same process carries on
                assert "150 pipas" in index.ask(question).text
                back = await alice.slash(channel, "ask", pregunta=question)
                assert back.response is not None and not back.ephemeral
                thread = next(t for t in channel.threads if t.id == back.response.id)
                (answer,) = [m for m in thread.history() if m.author.bot]
                assert "150 pipas" in answer.content
                assert not [e for e in env.errors if not isinstance(e, discord.DiscordException)]
        finally:
            await env.shutdown()
            bot.storage.close()
    finally:
        server.stop(graceful=False)


def test_questions_while_the_server_dies_fail_cleanly(tmp_path: Path) -> None:
    """Questions in flight when the server is killed: each is an answer or a StoreError, never
    another exception and never a hang."""
    server = ChromaServer(tmp_path / "chroma")
    server.start()
    try:
        index = NewsIndex(settings=Settings(store=str(tmp_path / "local"), chroma_url=server.url))
        index.ingest([SAMPLE_ARTICLES])
        outcomes: list[str] = []

        async def ask_until_three_failures() -> None:
            failures = 0
            while failures < 3:
                started = time.monotonic()
                try:
                    await asyncio.to_thread(index.ask, "¿A qué nivel bajaron las presas de Valle Alto en febrero?")
                    outcomes.append("answer")
                except StoreError:
                    outcomes.append("StoreError")
                    failures += 1
                assert time.monotonic() - started < 30

        async def scenario() -> None:
            asker = asyncio.create_task(ask_until_three_failures())
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.stop, False)
            await asyncio.wait_for(asker, 120)

        asyncio.run(scenario())
        assert outcomes[0] == "answer" and outcomes[-3:] == ["StoreError"] * 3
        assert set(outcomes) == {"answer", "StoreError"}
    finally:
        server.stop(graceful=False)


# -- the LLM endpoint ---------------------------------------------------------------------------


def test_llm_down_falls_back_to_the_extractive_answer_within_the_timeout(sample_index: NewsIndex) -> None:
    """The LLM client's own faults (down, slow, malformed) are in tests/test_llm.py; this is
    the whole `ask` with the endpoint on a closed port."""
    pytest.importorskip("llama_index.llms.openai_like")
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = sample_index.settings.with_overrides(llm="openai", llm_url=url, llm_model="x", llm_timeout=LLM_TIMEOUT)
    index = NewsIndex(settings.store, settings=settings)
    started = time.monotonic()
    answer: Answer = index.ask("¿Cuántas pipas rentará el municipio?")
    assert time.monotonic() - started < LLM_TIMEOUT + MARGIN
    assert answer.answerer == "extractive" and "150 pipas" in answer.text


# -- a read-only store, a full disk -------------------------------------------------------------


def read_only_command(store: Path, args: list[str]) -> list[str]:
    """`args` run with `store` mounted read-only: a bind mount in a private mount namespace,
    because this runs as root, for whom chmod stops nothing."""
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, "sh", str(store), *args]


def test_read_only_store_is_a_clear_error_and_nothing_is_damaged(tmp_path: Path) -> None:
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False).returncode
    ):
        pytest.skip("unshare --mount is unavailable here, and as root chmod cannot make a folder read-only")
    store = tmp_path / "store"
    first = subprocess.run([*CLI, "ingest", str(SAMPLE_ARTICLES), "--store", str(store)], env=clean_env(),
                           cwd=tmp_path, capture_output=True, text=True, timeout=INGEST_TIMEOUT)  # fmt: skip
    assert first.returncode == 0, first.stderr
    new = tmp_path / "new"
    write_articles(new, range(600, 604))
    before = sorted(p.name for p in store.rglob("*"))

    ingest = read_only_command(store, [*CLI, "ingest", str(new), "--store", str(store)])
    refused = subprocess.run(
        ingest, env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=INGEST_TIMEOUT
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    (line,) = refused.stderr.strip().splitlines()[-1:]
    assert line.startswith("newsbot: error: ") and "store" in line
    assert "read-only" in line.lower() or "readonly" in line.lower()

    assert sorted(p.name for p in store.rglob("*")) == before  # nothing written, nothing half-written
    again = subprocess.run([*CLI, "ingest", str(new), "--store", str(store), "--json"], env=clean_env(),
                           cwd=tmp_path, capture_output=True, text=True, timeout=INGEST_TIMEOUT)  # fmt: skip
    assert again.returncode == 0, again.stderr
    index = NewsIndex(store, settings=make_settings(store))
    assert index.stats()["articles"] == 10 and all(a.complete for a in index.store.articles().values())


def test_unwritable_bm25_folder_keeps_serving_from_memory(
    fresh_index: NewsIndex, articles_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Where the BM25 side index cannot be saved (here its folder's parent is a file, which
    stops root too), search still works from memory and the log says why."""
    blocked = Path(fresh_index.settings.store) / "bm25"
    blocked.write_text("not a folder", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="index"):
        fresh_index.ingest([articles_copy])
        hits = fresh_index.search("pipas", k=1)
    assert Path(hits[0].source).name == "2026-02-04_noticias-metropolitanas_presas.txt"
    assert "cannot save the BM25 index" in caplog.text


def test_store_path_that_is_not_a_folder_is_a_store_error(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.write_text("a file where the store should be", encoding="utf-8")
    with pytest.raises(StoreError, match="cannot open the Chroma store at"):
        NewsIndex(store, settings=make_settings(store))


def _limit_file_size(limit: int) -> None:  # runs in the child, before exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), no signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_disk_full_is_a_clear_error_and_a_rerun_completes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = subprocess.run([*CLI, "ingest", str(SAMPLE_ARTICLES), "--store", str(store)], env=clean_env(),
                           cwd=tmp_path, capture_output=True, text=True, timeout=INGEST_TIMEOUT)  # fmt: skip
    assert first.returncode == 0, first.stderr
    new = tmp_path / "new"
    write_articles(new, range(700, 716), paragraphs=6)
    largest = max(p.stat().st_size for p in store.rglob("*") if p.is_file())

    full = subprocess.run(
        [*CLI, "ingest", str(new), "--store", str(store)], env=clean_env(), cwd=tmp_path, capture_output=True,
        text=True, timeout=INGEST_TIMEOUT, preexec_fn=lambda: _limit_file_size(largest + 16 * 1024),
    )  # fmt: skip
    assert full.returncode == 1, (full.returncode, full.stderr[-2000:])
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("newsbot: error: cannot ") and "Traceback" not in full.stderr, full.stderr[-2000:]

    rerun = subprocess.run([*CLI, "ingest", str(new), "--store", str(store)], env=clean_env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=INGEST_TIMEOUT)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    index = NewsIndex(store, settings=make_settings(store))
    planner = NewsIndex(tmp_path / "planner", settings=make_settings(tmp_path / "planner"))
    expected = expected_chunks(new, planner) | expected_chunks(SAMPLE_ARTICLES, planner)
    assert stored_chunks(index) == expected
    assert all(a.complete for a in index.store.articles().values())
    assert Path(index.search("pipas", k=1)[0].source).name == "2026-02-04_noticias-metropolitanas_presas.txt"


# -- damaged BM25 side files --------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated"])
def test_damaged_bm25_arrays_are_rebuilt(
    fresh_index: NewsIndex, articles_copy: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    """tests/test_index.py damages the JSON; here every .npy array of the side index."""
    fresh_index.ingest([articles_copy])
    arrays = list(fresh_index._lexical_dir.glob("*.npy"))
    assert arrays
    for path in arrays:
        data = path.read_bytes()
        path.write_bytes({"garbage": os.urandom(len(data)), "empty": b"", "truncated": data[: len(data) // 2]}[damage])
    reopened = NewsIndex(fresh_index.settings.store, settings=fresh_index.settings)
    with caplog.at_level(logging.WARNING, logger="index"):
        hits = reopened.search("pipas", k=1)
    assert "rebuilt" in caplog.text
    assert Path(hits[0].source).name == "2026-02-04_noticias-metropolitanas_presas.txt"
    assert NewsIndex(fresh_index.settings.store, settings=fresh_index.settings).lexical_index().chunk_ids


# -- a Chroma server's transient answers ---------------------------------------------------------


class _FlakyCollection:
    """The real collection, whose next `failures` reads fail as a Chroma server's do while
    another process's writes are being indexed."""

    def __init__(self, collection: object, message: str, failures: int) -> None:
        self._collection, self._message, self.failures = collection, message, failures

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError(f"Error executing plan: Internal error: {self._message}")

    def get(self, **request: object) -> object:
        self._maybe_fail()
        return self._collection.get(**request)  # type: ignore[attr-defined]

    def query(self, **request: object) -> object:
        self._maybe_fail()
        return self._collection.query(**request)  # type: ignore[attr-defined]


@pytest.mark.parametrize("message", ["Error finding id", "Error creating hnsw segment reader: Nothing found on disk"])
def test_a_transient_server_error_is_waited_out_not_shown(
    fresh_index: NewsIndex, articles_copy: Path, message: str
) -> None:
    fresh_index.ingest([articles_copy])
    store = fresh_index.store
    real = store.collection
    chunk_id = next(iter(store.iter_chunks())).ids[0]
    try:
        store.collection = _FlakyCollection(real, message, failures=2)  # type: ignore[assignment]
        assert list(store.get_chunks([chunk_id])) == [chunk_id]
        assert store.nearest([1.0] + [0.0] * 383, 1)
        # Anything else, or a transient error that lasts, is a clear StoreError.
        store.collection = _FlakyCollection(real, message, failures=10)  # type: ignore[assignment]
        with pytest.raises(StoreError, match="cannot read the store"):
            store.get_chunks([chunk_id])
        store.collection = _FlakyCollection(real, "disk I/O error", failures=1)  # type: ignore[assignment]
        with pytest.raises(StoreError, match="disk I/O error"):
            store.get_chunks([chunk_id])
    finally:
        store.collection = real
