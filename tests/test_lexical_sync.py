"""The BM25 side index follows the store through the change log (index/storage/store.py `ChangeLog`):
changes applied article by article, equal to a full rebuild at every step, other processes
catching up without re-reading every chunk, a trimmed log, a writer that died between its write
and its confirmation, and a process SIGKILLed while it applies and saves a delta.

Real Chroma throughout (on disk, or `chroma run` for several processes)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import NewsIndex, StoreError
from index.ingest import pipeline as pipeline_module
from index.lexical import bm25 as lexical_module
from index.lexical.bm25 import SegmentIndex
from index.lexical.sync import READ, chunk_texts
from index.search.retrieval import DateRange
from index.storage import changelog as changelog_module

from .chroma_server import ChromaServer
from .conftest import SAMPLE_ARTICLES
from .fakes import make_settings
from .synthetic import article_text, barrio_name, write_articles
from .test_lexical import assert_same
from .test_server_mode import server_settings

VICTIM_TIMEOUT = 240  # seconds: a subprocess importing the index and loading the model on 2 busy cores


_BUILD_SEGMENT = lexical_module.Segment.build  # bound now: tests count calls of the class's own


def full_rebuild(index: NewsIndex) -> SegmentIndex:
    """What a rebuild from every chunk in the store gives (not saved anywhere)."""
    chunks = list(chunk_texts(index.store.iter_chunks(READ)))
    if not chunks:
        return SegmentIndex(index.store.changes.head())
    segment = _BUILD_SEGMENT(chunks)
    return SegmentIndex(index.store.changes.head(), (segment,), (np.ones(segment.size, dtype=bool),))


class AnalysedChunks:
    """Counts the chunks the side index analyses (the cost that used to be the whole store)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = lexical_module.Segment.build.__func__  # type: ignore[attr-defined]

        def build(cls: type[lexical_module.Segment], chunks: Any) -> lexical_module.Segment:
            segment = real(cls, chunks)  # chunks may be read once only (a rebuild streams them)
            self.count += segment.size
            return segment  # type: ignore[no-any-return]

        monkeypatch.setattr(lexical_module.Segment, "build", classmethod(build))

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def chunks_of(index: NewsIndex, source: Path) -> int:
    return sum(a.n_chunks for a in index.store.articles().values() if a.source == str(source.resolve()))


@pytest.mark.slow
def test_add_replace_remove_equal_a_full_rebuild_and_cost_the_article(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lexical_module, "MERGE_MIN_ROWS", 4)  # merges happen within this short run
    monkeypatch.setattr(lexical_module, "MAX_DELTAS", 2)
    folder = tmp_path / "articles"
    files = write_articles(folder, range(6))
    index = NewsIndex(tmp_path / "store", settings=make_settings(tmp_path / "store"))
    analysed = AnalysedChunks(monkeypatch)
    index.ingest([folder])
    assert analysed.take() == index.store.count()  # the first build reads everything, once
    assert_same(index.lexical_index(), full_rebuild(index))

    for n in range(6, 9):  # one new article at a time
        (new,) = write_articles(folder, [n])
        index.ingest([folder])
        assert analysed.take() == chunks_of(index, new)  # only the new article's chunks
    files[1].write_text(article_text(1, paragraphs=9), encoding="utf-8")  # replaced, with more chunks
    index.ingest([folder])
    assert analysed.take() == chunks_of(index, files[1]) >= 2
    assert_same(index.lexical_index(), full_rebuild(index))
    files[2].write_text(article_text(2, paragraphs=1), encoding="utf-8")  # replaced, with fewer
    index.ingest([folder])
    assert analysed.take() == chunks_of(index, files[2]) == 1
    assert_same(index.lexical_index(), full_rebuild(index))

    files[3].unlink()
    index.ingest([folder], prune=True)
    assert analysed.take() == 0  # a deletion analyses nothing
    index.remove([str(files[4].resolve())])
    assert analysed.take() == 0
    files[4].unlink()  # or the next ingest of the folder adds it again
    (new,) = write_articles(folder, [9])
    index.ingest([folder])
    assert analysed.take() == chunks_of(index, new)  # only the new article's chunks
    lexical = index.lexical_index()
    assert_same(lexical, full_rebuild(index))
    assert lexical.version == index.store.version()
    hit = index.search(f"alumbrado del barrio {barrio_name(9)}", k=1)[0]
    assert hit.source == str(new.resolve())

    # Another index object on the same store loads what was saved, and it is the same.
    reopened = NewsIndex(index.settings.store, settings=index.settings)
    assert_same(reopened.lexical_index(), lexical)
    assert analysed.take() == 0


@pytest.mark.slow
def test_a_long_ingest_indexes_as_it_writes_and_never_reads_the_store_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every LEXICAL_REFRESH_CHUNKS chunks written, the side index catches up on what was just
    written: each chunk is analysed once, only the first (empty-store) build reads every chunk,
    and that is the few chunks written so far, not the store at the end."""
    monkeypatch.setattr(pipeline_module, "EMBED_BATCH", 2)
    monkeypatch.setattr(pipeline_module, "LEXICAL_REFRESH_CHUNKS", 6)
    write_articles(tmp_path / "articles", range(12), paragraphs=9)
    index = NewsIndex(tmp_path / "store", settings=make_settings(tmp_path / "store"))
    analysed = AnalysedChunks(monkeypatch)
    full_reads: list[int] = []
    real_iter = index.store.iter_chunks

    def every_chunk(*args: Any, **kwargs: Any) -> Any:
        full_reads.append(index.store.count())
        return real_iter(*args, **kwargs)

    monkeypatch.setattr(index.store, "iter_chunks", every_chunk)
    refreshes: list[int] = []
    real_current = index._lexical_sync.current
    monkeypatch.setattr(index._lexical_sync, "current", lambda: refreshes.append(1) or real_current())
    report = index.ingest([tmp_path / "articles"])
    total = index.store.count()
    assert len(report.added) == 12 and total >= 24
    assert len(refreshes) >= 3  # during the ingest, and once at its end
    assert len(full_reads) == 1 and full_reads[0] < total // 2
    assert analysed.take() == total  # each chunk analysed once
    monkeypatch.undo()
    assert_same(index.lexical_index(), full_rebuild(index))


@pytest.mark.slow
def test_another_process_catches_up_from_the_log(
    chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two index objects with their own side-index folders on one server, as two processes:
    the reader applies the writer's changes without re-reading every chunk."""
    settings = server_settings(chroma_server, tmp_path / "writer")
    writer = NewsIndex(settings=settings)
    writer.ingest([SAMPLE_ARTICLES])
    reader = NewsIndex(settings=settings.with_overrides(store=str(tmp_path / "reader")))
    assert_same(reader.lexical_index(), full_rebuild(writer))

    folder = tmp_path / "new"
    write_articles(folder, range(40, 42))
    writer.ingest([folder])
    writer.remove([str(p) for p in sorted(SAMPLE_ARTICLES.glob("*.txt"))[:1]])

    def every_chunk(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reader re-read every chunk")

    monkeypatch.setattr(reader.store, "iter_chunks", every_chunk)
    analysed = AnalysedChunks(monkeypatch)
    caught_up = reader.lexical_index()
    assert analysed.take() == sum(chunks_of(writer, p) for p in folder.glob("*.txt"))
    assert caught_up.version == writer.store.version() == writer.lexical_index().version
    monkeypatch.undo()
    assert_same(caught_up, full_rebuild(writer))
    assert reader.search(f"barrio {barrio_name(41)}", k=1)[0].title.endswith(barrio_name(41))


@pytest.mark.slow
def test_a_reader_behind_a_trimmed_log_rebuilds(
    chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(changelog_module, "LOG_KEEP", 2)
    monkeypatch.setattr(changelog_module, "LOG_TRIM_EVERY", 2)
    settings = server_settings(chroma_server, tmp_path / "writer")
    writer = NewsIndex(settings=settings)
    reader = NewsIndex(settings=settings.with_overrides(store=str(tmp_path / "reader")))
    folder = tmp_path / "new"
    write_articles(folder, range(50, 51))
    writer.ingest([folder])
    assert len(reader.lexical_index().chunk_ids) == writer.store.count()
    for n in range(51, 54):
        write_articles(folder, [n])
        writer.ingest([folder])
    with caplog.at_level("INFO", logger="index"):
        lexical = reader.lexical_index()
    assert "no longer reaches back" in caplog.text
    assert_same(lexical, full_rebuild(writer))


@pytest.mark.slow
def test_a_write_whose_logging_failed_is_logged_with_the_next_write(
    chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write lands but its change-log record does not (the server went away in between):
    the intent file left behind is logged after the writer's next successful write, and every
    side index then has both."""
    settings = server_settings(chroma_server, tmp_path / "writer")
    writer = NewsIndex(settings=settings)
    reader = NewsIndex(settings=settings.with_overrides(store=str(tmp_path / "reader")))
    reader.lexical_index()

    def log_lost(op: str, article_ids: Any) -> int:
        raise StoreError("cannot write to the store: the server went away here")

    monkeypatch.setattr(writer.store.changes, "append", log_lost)
    folder = tmp_path / "new"
    write_articles(folder, [60])
    with pytest.raises(StoreError):
        writer.ingest([folder])
    monkeypatch.undo()
    assert writer.store.count() > 0  # the write landed, unlogged
    assert reader.lexical_index().chunk_ids == []  # built before the write, and nothing logged since
    assert list(writer.store.intents.directory.glob("*.json"))

    write_articles(folder, [61])
    writer.ingest([folder])
    assert not list(writer.store.intents.directory.glob("*.json"))
    assert_same(writer.lexical_index(), full_rebuild(writer))
    assert_same(reader.lexical_index(), full_rebuild(writer))
    assert len(reader.lexical_index().chunk_ids) == writer.store.count()


# -- SIGKILL ---------------------------------------------------------------------------------

WRITER_VICTIM = textwrap.dedent(
    """
    import os, signal, sys
    from index import NewsIndex, Settings
    from index.storage import changelog

    url, collection, local, folder = sys.argv[1:5]
    index = NewsIndex(settings=Settings(store=local, chroma_url=url, collection=collection))

    def append(self, op, article_ids):  # the write has landed; killed before it is logged
        os.kill(os.getpid(), signal.SIGKILL)

    changelog.ChangeLog.append = append
    index.ingest([folder])
    """
)


@pytest.mark.slow
def test_writer_killed_between_its_write_and_the_log(chroma_server: ChromaServer, tmp_path: Path) -> None:
    """SIGKILL after the chunks are written, before the change-log record: the next process on
    that machine logs the write from the intent file, and every side index then has it."""
    settings = server_settings(chroma_server, tmp_path / "writer")
    reader = NewsIndex(settings=settings.with_overrides(store=str(tmp_path / "reader")))
    reader.lexical_index()
    folder = tmp_path / "articles"
    write_articles(folder, range(80, 82))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    victim = subprocess.run(
        [sys.executable, "-c", WRITER_VICTIM, settings.chroma_url, settings.collection, settings.store, str(folder)],
        env=env, capture_output=True, text=True, timeout=VICTIM_TIMEOUT, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert victim.returncode == -signal.SIGKILL, victim.stderr[-3000:]
    assert reader.store.count() > 0 and reader.lexical_index().chunk_ids == []

    restarted = NewsIndex(settings=settings)
    assert_same(restarted.lexical_index(), full_rebuild(restarted))
    assert_same(reader.lexical_index(), full_rebuild(restarted))
    assert reader.search(f"barrio {barrio_name(81)}", k=1)[0].title.endswith(barrio_name(81))


VICTIM = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from index import NewsIndex, Settings
    from index.lexical import bm25 as lexical
    from index.lexical import segments

    url, collection, local, kill_at = sys.argv[1:5]
    index = NewsIndex(settings=Settings(store=local, chroma_url=url, collection=collection))
    index.lexical_index()
    print("ready", flush=True)
    sys.stdin.readline()

    calls = 0
    real_write = segments.write_atomically

    def write(path, pieces):
        # Called for the segment's json, its array, its vectors, then the manifest: each under a
        # temporary name, then renamed. The kill lands inside a write or before a rename.
        global calls
        calls += 1
        data = b"".join(bytes(piece) for piece in pieces)
        tmp = path.with_name(".tmp-killed-" + path.name)
        if kill_at == "write" and calls == 2:
            tmp.write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        if kill_at == f"replace{calls}":
            tmp.write_bytes(data)
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(path, [data])

    def collect(self, keep):
        if kill_at == "gc":  # the new manifest is in place; old files not yet deleted
            os.kill(os.getpid(), signal.SIGKILL)

    segments.write_atomically = write  # a segment's files
    lexical.write_atomically = write  # the manifest
    lexical.SideIndex._collect_garbage = collect
    index.lexical_index()
    print("survived", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["write", "replace1", "replace2", "replace3", "replace4", "gc"])
def test_killed_while_applying_a_delta_then_restart_answers_as_a_clean_run(
    chroma_server: ChromaServer, tmp_path: Path, kill_at: str
) -> None:
    """The victim process has a saved side index; the writer adds and replaces articles; the
    victim, catching up, is SIGKILLed while writing its segment files (`write`: half a file;
    `replaceN`: before the N-th rename: segment json, array, vectors, manifest) or after the new
    manifest is in place (`gc`). Restarted, its side index equals a full rebuild and it answers
    as the writer does."""
    settings = server_settings(chroma_server, tmp_path / "writer")
    writer = NewsIndex(settings=settings)
    folder = tmp_path / "articles"
    files = write_articles(folder, range(70, 73))
    writer.ingest([folder])
    local = tmp_path / "victim"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, settings.chroma_url, settings.collection, str(local), kill_at],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert victim.stdout is not None and victim.stdout.readline().strip() == "ready", victim.stderr
    write_articles(folder, [73])
    files[0].write_text(article_text(70, paragraphs=7), encoding="utf-8")
    writer.ingest([folder])
    out, err = victim.communicate("go\n", timeout=VICTIM_TIMEOUT)
    assert victim.returncode == -signal.SIGKILL, (out, err[-3000:])

    restarted = NewsIndex(settings=settings.with_overrides(store=str(local)))
    lexical = restarted.lexical_index()
    assert_same(lexical, full_rebuild(writer))
    for n in range(70, 74):
        question = f"¿Cuántas luminarias tendrá el barrio {barrio_name(n)}?"
        assert [h.chunk_id for h in restarted.hybrid.retrieve_chunks(question, DateRange(0, 0))][:3] == [
            h.chunk_id for h in writer.hybrid.retrieve_chunks(question, DateRange(0, 0))
        ][:3]
        assert restarted.ask(question).text == writer.ask(question).text
    # The manifest names only whole files; leftovers of the kill are collected later, never read.
    manifest = json.loads((restarted._lexical_dir / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["segments"]:
        assert (restarted._lexical_dir / f"{entry['name']}.npy").exists()
    shutil.rmtree(local)
