"""Date filters without Chroma's `where` on the HNSW walk (retrieval.HybridSearch._in_range): a
narrow range is compared exactly from the side index's int8 vectors, a wide one by filtering
unfiltered neighbours (or exactly after all when too few of them are in range), and only a
lexical index without vectors falls back to `where`. Each path must find what `where` finds."""

from __future__ import annotations

import numpy as np
import pytest

from index import NewsIndex
from index.search import retrieval
from index.search.retrieval import CANDIDATES, DateRange

from .fakes import HashingEncoder, make_settings
from .synthetic import write_articles

QUESTIONS = ("alumbrado público luminarias", "obras tránsito calles laterales", "comerciantes mercados peatones")


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    """120 one-chunk articles, one every third day of 2025 (hashing encoder: instant)."""
    root = tmp_path_factory.mktemp("dated")
    write_articles(root / "articles", range(0, 360, 3), paragraphs=1)
    index = NewsIndex(root / "store", settings=make_settings(root / "store"), encoder=HashingEncoder())
    assert not index.ingest([root / "articles"]).skipped
    return index


def candidates(index: NewsIndex, question: str, dates: DateRange) -> dict[str, float]:
    search = index.hybrid
    lexical = index.lexical_index()
    vector = index.embedding.encode([question], is_query=True)[0]
    found = search._dense_candidates(vector, dates, dates.mask(lexical.date_ints), lexical)
    return {cid: match.similarity for cid, match in found.items()}


def with_where(index: NewsIndex, question: str, dates: DateRange) -> dict[str, float]:
    vector = index.embedding.encode([question], is_query=True)[0]
    return {m.chunk_id: m.similarity for m in index.store.query(vector.tolist(), CANDIDATES, dates.where())}


def where_clauses(index: NewsIndex, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The `where` of every nearest-neighbour query the store is asked from now on."""
    calls: list[object] = []
    real_query = index.store.query

    def spy(embedding: list[float], n: int, where: dict[str, object] | None) -> list[object]:
        calls.append(where)
        return real_query(embedding, n, where)  # type: ignore[return-value]

    monkeypatch.setattr(index.store, "query", spy)
    return calls


def same(found: dict[str, float], truth: dict[str, float], in_range: set[str]) -> None:
    """The same similarities (generated articles tie, so ids may differ among equals), all in range."""
    assert sorted(found.values()) == pytest.approx(sorted(truth.values()), abs=1e-4)
    assert set(found) <= in_range


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize(
    ("since", "until"),
    [(20250301, 20250331), (20250101, 20250630), (20250601, 0), (0, 20250115), (20260101, 0)],
)
def test_every_path_finds_what_where_finds(
    dated_index: NewsIndex, monkeypatch: pytest.MonkeyPatch, question: str, since: int, until: int
) -> None:
    dates = DateRange(since, until)
    truth = with_where(dated_index, question, dates)
    lexical = dated_index.lexical_index()
    keep = dates.mask(lexical.date_ints)
    assert keep is not None
    in_range = {cid for cid, kept in zip(lexical.chunk_ids, keep, strict=True) if kept}
    # Exact comparison (the range is small enough); neighbours filtered; too few neighbours
    # fetched to find enough in range, so exact after all; too many needed, so exact at once.
    for exact, oversample, most in ((10_000, 1.5, 2_000), (0, 1.5, 10_000), (0, 0.01, 10_000), (0, 1.5, 0)):
        monkeypatch.setattr(dated_index.hybrid, "exact_date_chunks", exact)
        monkeypatch.setattr(retrieval, "OVERSAMPLE", oversample)
        monkeypatch.setattr(retrieval, "MAX_NEIGHBOURS", most)
        same(candidates(dated_index, question, dates), truth, in_range)


def test_a_lexical_index_without_vectors_lets_chroma_filter(
    dated_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    dates = DateRange(20250301, 20250331)
    lexical = dated_index.lexical_index()
    monkeypatch.setattr(type(lexical), "dense_similarities", lambda self, vector, rows: None)
    calls = where_clauses(dated_index, monkeypatch)
    found = candidates(dated_index, QUESTIONS[0], dates)
    assert calls == [dates.where()]
    monkeypatch.undo()
    assert found.keys() == with_where(dated_index, QUESTIONS[0], dates).keys()


def test_filtered_search_keeps_to_the_range(dated_index: NewsIndex) -> None:
    hits = dated_index.search("alumbrado barrio", k=10, since="2025-03-01", until="2025-03-31")
    assert hits and all("2025-03-01" <= h.date <= "2025-03-31" for h in hits)
    assert dated_index.search("alumbrado barrio", k=10, since="2027-01-01") == []


def test_the_wide_range_path_asks_for_no_filter(dated_index: NewsIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide range never sends Chroma a `where`: the neighbours are fetched unfiltered."""
    monkeypatch.setattr(dated_index.hybrid, "exact_date_chunks", 0)
    calls = where_clauses(dated_index, monkeypatch)
    found = candidates(dated_index, QUESTIONS[0], DateRange(20250101, 20250930))
    assert len(found) == CANDIDATES and calls == []
    assert np.all(np.isfinite(list(found.values())))
