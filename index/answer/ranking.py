"""Candidate sentences: every sentence (and pair of adjacent sentences) of the retrieved articles,
scored by a small linear model of what answers look like. It pre-selects what the reader
(reader.py) reads; without the reader it picks the answer itself.

The weights are fitted data (models/ranker.json), written by scripts/train_answerer.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ..lexical.analysis import analyze
from ..schema import Hit
from ..search.sentences import clause_bounds, clause_text, lines_up, split_sentences, widen
from .question import Query, asked_unit, carries, coverage, fold, holds_unit, strip_words

MAX_SPAN_CHARS = 320  # a sentence longer than this is trimmed to the clauses that answer


@dataclass(frozen=True)
class Candidate:
    hit_index: int
    sentence: str  # what the answer shows (a sentence, two, or the answering clauses of one)
    score: float
    stems: frozenset[str]
    quote: str = ""  # the full sentence(s), for the citation
    similarity: float = float("nan")  # question-sentence cosine, when the store has sentence vectors


def trim(sentence: str, weights: dict[str, float], kind: str, limit: int = MAX_SPAN_CHARS) -> str:
    """The run of clauses (at most `limit` characters) around the part that matches the question.

    The clauses with most of the question's words are found first; then the clauses beside
    them fill the limit (sentences.widen): "…el presidente colombiano Juan Manuel Santos…" for
    "¿Qué presidente de Colombia…?".
    """
    if len(sentence) <= limit:
        return sentence
    bounds = clause_bounds(sentence)
    best, best_score = (0, -1), -1.0
    for first in range(len(bounds) - 1):
        for last in range(first, len(bounds) - 1):
            window = clause_text(sentence, bounds, first, last)
            if len(window) > limit:
                break
            score = coverage(set(analyze(window)), weights) + (0.5 if kind and carries(kind, window) else 0.0)
            score -= 0.0005 * len(window)
            if score > best_score:
                best, best_score = (first, last), score
    if best_score < 0:  # one huge clause: cut at a word boundary
        return sentence[:limit].rsplit(" ", 1)[0] + " …"
    first, last = widen(sentence, bounds, *best, limit)
    return clause_text(sentence, bounds, first, last).rstrip(",;: ")


def _spans(sentences: list[str], limit: int) -> Iterator[tuple[str, str, int, bool]]:
    """(answer text, full quote, position, is a pair) from one passage: each sentence, and each
    run of two adjacent sentences that fits in `limit` (a question often paraphrases one
    sentence while the answer sits in the next)."""
    for i, sentence in enumerate(sentences):
        yield sentence, sentence, i, False
        if i + 1 < len(sentences):
            pair = f"{sentence} {sentences[i + 1]}"
            if len(pair) <= limit:
                yield pair, pair, i, True


# What the sentence ranker looks at, each about 0..1. Its weights are fitted data:
# FittedModels.ranker (models/ranker.json, by scripts/train_answerer.py --news on the news QA
# set's training events; docs/eval/answerer.md).
SPAN_FEATURES = (
    "match",  # idf-weighted share of the question's words in the span, headline at half weight
    # (or, across languages, the embedding similarity)
    "matched_share",  # unweighted share of the question's words, headline at half weight
    "bigrams",  # share of the question's word pairs found side by side
    "rarest",  # holds the question's rarest word
    "novel_type",  # holds what is asked for (a date for "cuándo", ...) beyond the question's words
    "missing_type",  # the question asks for a type the span does not hold
    "hit_score",  # the article's retrieval score relative to the best
    "top_hit",  # from the best article
    "length",  # characters / MAX_SPAN_CHARS
    "pair",  # two sentences
    "first",  # starts with the passage's first sentence
    "density",  # matched words / words in the span
    "similarity",  # the embedding model's question-sentence cosine, relative to the other spans
    "unit",  # holds the unit a "how much" question names (money, a percentage): question.asked_unit
    "named_outlet",  # from an article of the outlet the question names ("según El Expediente")
)


def span_weights(fitted: dict[str, float]) -> np.ndarray:
    """Feature name -> weight (a fitted file) as a vector in SPAN_FEATURES order."""
    missing = set(SPAN_FEATURES) - set(fitted)
    if missing:
        raise ValueError(f"ranker weights lack {sorted(missing)}")
    return np.array([fitted[name] for name in SPAN_FEATURES], dtype=np.float32)


@dataclass(frozen=True)
class Span:
    hit_index: int
    text: str
    quote: str
    tokens: tuple[str, ...]
    features: np.ndarray
    similarity: float  # question-sentence cosine (the better of a pair's two); nan when not stored
    sentences: tuple[str, ...] = ()  # the whole sentence(s) it comes from, for the reader


def span_table(query: Query, hits: Sequence[Hit]) -> list[Span]:
    """Every sentence (and adjacent pair) of the hits' passages, with its ranking features.

    The main signals are the share of the question's words a span holds and the embedding
    model's question-sentence cosine, which search computed from the sentence vectors stored
    at ingest (sentences.py). Where the question does not share an article's words (an English
    question over Spanish text) the cosine stands in for the word match too.
    """
    weights, kind = query.weights, query.intent.kind
    question_folded = fold(query.text)
    question_tokens = [t for t in analyze(query.text) if t in weights]
    question_bigrams = set(pairwise(question_tokens))
    rarest = max(weights, key=lambda t: weights[t]) if weights else ""
    # Word overlap cannot score a hit in another language than the question (an English question
    # over a Spanish article): the cosine stands in for it there, hit by hit, so that a cluster
    # told in both languages offers the sentences of both.
    meaning = [query.needs_meaning([hit]) for hit in hits]
    # An article in the other language matches the question's words through the glossary: a
    # translation found counts as one of the question's words (the share capped at 1).
    asked_of = [weights.keys() | query.translated if needs else weights.keys() for needs in meaning]
    raw: list[tuple[int, str, str, int, bool, float, tuple[str, ...]]] = []
    for index, hit in enumerate(hits):
        seen: set[str] = set()
        for number, passage in enumerate(hit.passages or (hit.text,)):
            sentences = split_sentences(passage)
            stored = hit.sentence_similarities[number] if number < len(hit.sentence_similarities) else ()
            if not lines_up(len(stored), sentences):
                stored = ()  # no cosine rather than another sentence's
            for text, quote, position, pair in _spans(sentences, MAX_SPAN_CHARS):
                if text in seen or len(text) < 20:
                    continue
                seen.add(text)
                if len(text) > MAX_SPAN_CHARS:
                    text = trim(text, weights, kind)
                cosine = max(stored[position : position + 1 + pair], default=float("nan"))
                raw.append(
                    (index, text, quote, position, pair, cosine, tuple(sentences[position : position + 1 + pair]))
                )
    if not raw:
        return []
    cosines = np.array([r[5] for r in raw], dtype=np.float32)
    known = ~np.isnan(cosines)
    low, high = (float(cosines[known].min()), float(cosines[known].max())) if known.any() else (0.0, 0.0)
    # Relative to the other spans (cosines of one model sit in a narrow band); 0 when not stored.
    similarity = np.where(known, (cosines - low) / (high - low) if high > low else 1.0, 0.0)
    top = hits[0].score or 1.0
    spans = []
    # News sentences leave out what the headline already says ("La obra costó …" under "La
    # Línea 3 … abrirá"), so the headline's words count, at half weight, as if in each of its
    # sentences (at full weight every sentence of a matching headline would look alike).
    headline_stems = [set(analyze(hit.title)) for hit in hits]
    unit = asked_unit(query.text)
    # Several outlets report one event with their own figures: a question that names one means it.
    named_outlet = [
        len(hit.outlet) > 2 and re.search(rf"\b{re.escape(fold(hit.outlet))}\b", question_folded) is not None
        for hit in hits
    ]
    for row, (index, text, quote, position, pair, cosine, whole) in enumerate(raw):
        tokens = tuple(analyze(text))
        stems = set(tokens)
        with_headline = stems | headline_stems[index]
        novel = bool(kind) and carries(kind, strip_words(text, question_folded))
        matched = [t for t in asked_of[index] if t in stems]
        matched_with_headline = [t for t in asked_of[index] if t in with_headline]
        words_match = (coverage(stems, weights) + coverage(with_headline, weights)) / 2
        features = np.array(
            [
                similarity[row] if meaning[index] else words_match,
                min(1.0, (len(matched) + len(matched_with_headline)) / (2 * len(weights))) if weights else 0.0,
                len(question_bigrams & set(pairwise(tokens))) / len(question_bigrams) if question_bigrams else 0.0,
                float(rarest in stems),
                float(novel),
                float(bool(kind) and not novel),
                hits[index].score / top,
                float(index == 0),
                len(text) / MAX_SPAN_CHARS,
                float(pair),
                float(position == 0),
                len(matched) / len(stems) if stems else 0.0,
                similarity[row],
                float(holds_unit(unit, text)),
                float(named_outlet[index]),
            ],
            dtype=np.float32,
        )
        spans.append(Span(index, text, quote, tokens, features, cosine, whole))
    return spans


def rank_sentences(query: Query, hits: Sequence[Hit], weights: np.ndarray) -> list[Candidate]:
    """The spans of `span_table`, best answer first (their features times the ranker's `weights`)."""
    candidates = [
        Candidate(
            span.hit_index,
            span.text,
            float(span.features @ weights),
            frozenset(span.tokens),
            span.quote,
            span.similarity,
        )
        for span in span_table(query, hits)
    ]
    candidates.sort(key=lambda c: -c.score)
    return candidates


@dataclass(frozen=True)
class Listed:
    """A sentence worth reading: its hit, the sentence, and the ranker's best score of a span of it."""

    hit_index: int
    sentence: str
    score: float


def reading_list(query: Query, hits: Sequence[Hit], limit: int, weights: np.ndarray) -> list[Listed]:
    """The `limit` sentences most worth reading, best first: the sentences of the spans
    `span_table` scores highest (both sentences of a pair)."""
    spans = span_table(query, hits)
    scores = [float(span.features @ weights) for span in spans]
    chosen: dict[tuple[int, str], float] = {}
    for row in np.argsort([-score for score in scores], kind="stable"):
        for sentence in spans[row].sentences:
            chosen.setdefault((spans[row].hit_index, sentence), scores[row])
            if len(chosen) >= limit:
                break
        if len(chosen) >= limit:
            break
    return [Listed(hit, sentence, score) for (hit, sentence), score in chosen.items()]
