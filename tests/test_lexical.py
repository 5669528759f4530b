"""The incremental BM25 side index (index/lexical/bm25.py) against full rebuilds and against bm25s,
the library it replaced: same scores, same idf, same int8 chunk vectors (for date-ranged dense
search), whatever sequence of changes led there. No store here; tests/test_lexical_sync.py
covers the change log in Chroma."""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import bm25s
import numpy as np
import pytest

from index.lexical import bm25 as lexical
from index.lexical import segments
from index.lexical.analysis import analyze
from index.lexical.bm25 import SegmentIndex, SideIndex
from index.lexical.segments import ChunkText

SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "articles"
WORDS = sorted({w for p in SAMPLES.glob("*.txt") for w in re.findall(r"\w+", p.read_text(encoding="utf-8"))})
QUERIES = [
    "presas agua nivel", "¿Cuántas pipas rentará el municipio?", "línea 3 del metro estaciones", "colonias tandeos",
    "presas presas agua", "palabra inexistente zzzz", "el de la", "alcaldesa anunció", "millones de pesos",
]  # fmt: skip


DIM = 32
QUERY_VECTOR = np.full(DIM, DIM**-0.5, dtype=np.float32)


def random_article(rng: random.Random, article_id: str) -> list[ChunkText]:
    chunks = []
    for number in range(rng.randint(1, 4)):
        size = rng.choice([0, 3, 20, 60, 120])  # some chunks are all stopwords or empty
        text = " ".join(rng.choice(WORDS) for _ in range(size))
        date = 20250100 + 100 * rng.randrange(12) + rng.randint(1, 28)
        vector = np.asarray([rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
        chunks.append(ChunkText(f"{article_id}-{number:04d}", article_id, text, date, vector / np.linalg.norm(vector)))
    return chunks


def dense(index: SegmentIndex) -> dict[str, float]:
    """Each live chunk's cosine to a fixed unit vector (QUERY_VECTOR here; of the store's model's
    size for tests/test_lexical_sync.py), from the index's int8 vectors."""
    dim = next((s.vectors.shape[1] for s in index.segments if s.vectors.size), DIM)
    query = QUERY_VECTOR if dim == DIM else np.full(dim, dim**-0.5, dtype=np.float32)
    found = index.dense_similarities(query, np.arange(len(index.chunk_ids)))
    assert found is not None
    return dict(zip(index.chunk_ids, found.tolist(), strict=True))


def assert_same(a: SegmentIndex, b: SegmentIndex) -> None:
    """Same live chunks, dates and, for every query, the same score per chunk and idf."""
    assert sorted(a.chunk_ids) == sorted(b.chunk_ids)
    assert dict(zip(a.chunk_ids, a.date_ints.tolist(), strict=True)) == dict(
        zip(b.chunk_ids, b.date_ints.tolist(), strict=True)
    )
    assert a.unseen_idf() == pytest.approx(b.unseen_idf())
    for query in QUERIES:
        scores_a = dict(zip(a.chunk_ids, a.scores(query).tolist(), strict=True))
        scores_b = dict(zip(b.chunk_ids, b.scores(query).tolist(), strict=True))
        for cid, score in scores_b.items():
            assert scores_a[cid] == pytest.approx(score, rel=1e-5, abs=1e-5), (query, cid)
        tokens = analyze(query)
        assert a.idf(tokens) == pytest.approx(b.idf(tokens), rel=1e-6)
    assert a.newest_date() == b.newest_date()
    assert dense(a) == pytest.approx(dense(b), abs=1e-6)


def test_scores_equal_bm25s() -> None:
    """The index computes what `bm25s.BM25().index(...)` + `get_scores` computed before."""
    rng = random.Random(1)
    chunks = [c for n in range(60) for c in random_article(rng, f"a{n}")]
    ours = SegmentIndex.build(1, iter(chunks))  # read once, one chunk at a time, as a rebuild streams them
    theirs = bm25s.BM25()
    theirs.index([analyze(c.text) for c in chunks], show_progress=False)
    assert ours.chunk_ids == [c.chunk_id for c in chunks]
    for query in QUERIES:
        tokens = analyze(query)
        expected = theirs.get_scores(tokens) if tokens else np.zeros(len(chunks))
        np.testing.assert_allclose(ours.scores(query), expected, rtol=1e-5, atol=1e-5)
        for token, weight in ours.idf(tokens).items():
            column = theirs.vocab_dict[token]
            df = int(theirs.scores["indptr"][column + 1] - theirs.scores["indptr"][column])
            assert weight == pytest.approx(float(np.log(1 + (len(chunks) - df + 0.5) / (df + 0.5))))


@pytest.mark.parametrize("seed", range(6))
def test_random_changes_score_as_a_full_rebuild(seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random adds, replaces and deletes, applied one article at a time (with merges made
    frequent), give the index a full rebuild of the final store gives; saved and reloaded too."""
    monkeypatch.setattr(lexical, "MAX_DELTAS", 3)
    monkeypatch.setattr(lexical, "MERGE_MIN_ROWS", 8)
    if seed % 2:  # merges copy postings a few columns at a time, as they do a million at a time
        monkeypatch.setattr(segments, "MERGE_BLOCK", 5)
    rng = random.Random(seed)
    store: dict[str, list[ChunkText]] = {f"a{n}": random_article(rng, f"a{n}") for n in range(rng.randint(0, 30))}
    index = SegmentIndex.build(0, [c for chunks in store.values() for c in chunks])
    side = SideIndex(tmp_path / "bm25")
    next_id = len(store)
    for seq in range(1, 80):
        action = rng.random()
        if action < 0.4 or not store:
            article_id, next_id = f"a{next_id}", next_id + 1
            store[article_id] = random_article(rng, article_id)
        elif action < 0.75:
            article_id = rng.choice(sorted(store))
            store[article_id] = random_article(rng, article_id)  # replaced: maybe fewer chunks
        else:
            article_id = rng.choice(sorted(store))
            del store[article_id]
        index = index.apply(seq, [article_id], store.get(article_id, []))
        if seq % 9 == 0:
            side.save(index)
            reloaded = SideIndex(tmp_path / "bm25").load()
            assert reloaded is not None and reloaded.seq == seq
            assert_same(reloaded, index)
            index = reloaded if seq % 2 else index
        if seq % 13 == 0:
            assert_same(index, SegmentIndex.build(seq, [c for chunks in store.values() for c in chunks]))
    rebuilt = SegmentIndex.build(79, [c for chunks in store.values() for c in chunks])
    assert_same(index, rebuilt)
    # The int8 cosines are the float ones to within 0.01 (RESCORED in retrieval.py relies on it).
    truth = {
        c.chunk_id: float(c.vector @ QUERY_VECTOR) for chunks in store.values() for c in chunks if c.vector is not None
    }
    assert dense(index) == pytest.approx(truth, abs=0.01)
    assert len(index.segments) <= lexical.MAX_DELTAS + 1


def test_one_article_change_costs_the_article(monkeypatch: pytest.MonkeyPatch) -> None:
    """Applying a change analyses only the changed article's chunks."""
    rng = random.Random(7)
    base = SegmentIndex.build(0, [c for n in range(200) for c in random_article(rng, f"a{n}")])
    analysed: list[str] = []
    real = segments.analyze
    monkeypatch.setattr(segments, "analyze", lambda text: analysed.append(text) or real(text))
    new = random_article(rng, "a5")
    changed = base.apply(1, ["a5"], new)
    assert len(analysed) == len(new)
    assert changed.segments[0] is base.segments[0]  # the base is shared, not copied
    assert "a5-0000" in changed.position


def test_empty_and_emptied_index() -> None:
    empty = SegmentIndex.build(0, [])
    assert empty.chunk_ids == [] and empty.scores("presas").shape == (0,) and empty.newest_date() is None
    one = empty.apply(1, ["x"], [ChunkText("x-0000", "x", "Las presas bajaron", 20260101)])
    assert one.scores("presas")[0] > 0 and one.idf(["pres"]) and one.newest_date() is not None
    gone = one.apply(2, ["x"], [])
    assert gone.chunk_ids == [] and gone.scores("presas").shape == (0,) and gone.idf(["pres"]) == {}


def test_chunks_without_vectors_get_none_for_dense_search() -> None:
    """A segment built from text alone (no embeddings read) cannot rank by vector: None tells
    retrieval to let the store filter instead of ranking zeros."""
    plain = SegmentIndex.build(0, [ChunkText("x-0000", "x", "Las presas bajaron", 20260101)])
    assert plain.dense_similarities(QUERY_VECTOR, np.arange(1)) is None
    rng = random.Random(3)
    mixed = plain.apply(1, ["y"], random_article(rng, "y"))
    assert mixed.dense_similarities(QUERY_VECTOR, np.asarray([mixed.position["y-0000"]])) is not None
    assert mixed.dense_similarities(QUERY_VECTOR, np.arange(len(mixed.chunk_ids))) is None


def test_superseded_segment_files_go_once_past_the_grace(tmp_path: Path) -> None:
    """A save deletes the files of segments no manifest names, but only once they are older than
    GC_AGE_SECONDS (another process sharing the folder may have just written them); the files the
    manifest names always stay, and the index still loads."""
    rng = random.Random(3)
    side = SideIndex(tmp_path)
    index = SegmentIndex.build(0, [c for n in range(20) for c in random_article(rng, f"a{n}")])
    side.save(index)
    old_names = {s.name for s in index.segments}
    merged = SegmentIndex(1, (segments.Segment.merge(list(zip(index.segments, index.live, strict=True))),),
                          (np.ones(len(index.chunk_ids), dtype=bool),))  # fmt: skip
    side.save(merged)  # the old base is unreferenced but young: kept
    assert {p.name.split(".")[0] for p in tmp_path.iterdir()} >= old_names
    aged = time.time() - lexical.GC_AGE_SECONDS - 1
    for path in tmp_path.iterdir():
        os.utime(path, (aged, aged))
    side.save(merged.apply(2, ["a0"], []))
    left = {p.name.split(".")[0] for p in tmp_path.iterdir()}
    assert not left & old_names
    assert merged.segments[0].name in left
    reloaded = SideIndex(tmp_path).load()
    assert reloaded is not None and reloaded.seq == 2
