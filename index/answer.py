"""Answering: the extractive answerer (default, no LLM) and the dispatch to an LLM when configured.

The extractive answerer never writes a word of its own about the facts: it picks the sentence
of the retrieved articles that best answers the question, trims it to the part that answers,
cites it, and cites every other outlet that says the same thing in the same sentence. It
refuses when the chosen text does not carry what the question asks for (a date for "¿cuándo?",
a number for "¿cuántos?", a name for "¿quién?") or misses the question's key names and years.
The weights and thresholds below were set from `newsbot eval` runs (docs/eval/).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .articles import DATELINE_OUTLET
from .errors import LLMError
from .language import detect_language
from .lexical import LexicalIndex, analyze
from .schema import Answer, Citation, Hit
from .settings import Settings

log = logging.getLogger(__name__)

CONTEXT_WEIGHT = 0.3  # weight of words that come only from earlier questions of a conversation
MAX_ANSWER_CHARS = 240  # a sentence longer than this is trimmed to the clauses that answer
MAX_QUOTE_CHARS = 600
SEARCH_K = 6
LATEST_K = 12

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
_LATEST = re.compile(
    r"\b([uú]ltim[oa]s?|m[aá]s recientes?|actual(es|mente)?|hoy|ahora|latest|most recent|current(ly)?|now|newest)\b",
    re.IGNORECASE,
)
_QUESTION_WORDS = frozenset(
    "que quien quienes cual cuales cuando donde como cuanto cuanta cuantos cuantas what who whom which when where how why"
    .split()
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
_NUMBER_WORDS = (
    "uno|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|veinte|treinta|cien|ciento|cientos|mil|"
    "mill[oó]n|millones|docena|mitad|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|"
    "thousand|million|billion|half|dozen"
)
_NUMBER_TOKEN = re.compile(rf"(\d|\b({_NUMBER_WORDS})\b)", re.IGNORECASE)
# Two or more capitalised words in a row, or one after a lower-case word: a name.
_NAME_TOKEN = re.compile(r"(?<![.!?¿¡]\s)(?<!^)\b[A-ZÁÉÍÓÚÑ][\wáéíóúñü]+(?:\s+(?:de\s+la\s+|de\s+|del\s+)?[A-ZÁÉÍÓÚÑ][\wáéíóúñü]+)*")

_ABBREVIATIONS = re.compile(r"\b(Sr|Sra|Dr|Dra|Lic|Ing|Mtro|Gral|St|Mr|Mrs|Ms|Jr|etc|núm|No|art|aprox|EE\.UU|D\.C|a\.C|d\.C)\.$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”»')]*\s+(?=[¿¡\"“«(\[A-ZÁÉÍÓÚÑ0-9])")


@dataclass(frozen=True)
class Intent:
    """What the question asks for, read from its words."""

    kind: str  # "when" | "number" | "who" | "where" | ""
    latest: bool
    language: str
    since: str | None = None
    until: str | None = None


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def _month_range(year: int, month: int) -> tuple[str, str]:
    first = dt.date(year, month, 1)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first.isoformat(), (following - dt.timedelta(days=1)).isoformat()


_DATE_PHRASE = re.compile(
    rf"\b(?:(?:el\s+)?\d{{1,2}}\s+de\s+({_MONTHS})\s+de\s+\d{{4}}|(?:en|in|de|during|durante)\s+({_MONTHS})"
    rf"(?:\s+de(?:l)?|,)?\s+\d{{4}})\b",
    re.IGNORECASE,
)


def without_date_phrase(question: str) -> str:
    """The question minus the date range it names, which is a filter and not a topic."""
    return " ".join(_DATE_PHRASE.sub(" ", question).split())


def explicit_dates(question: str) -> tuple[str | None, str | None]:
    """A publication-date range named in the question: "en enero de 2026", "in January 2026", "el 15 de enero de 2026"."""
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
    return None, None


def read_intent(question: str) -> Intent:
    kind = ""
    for name, pattern in (("when", _WHEN), ("number", _NUMBER), ("who", _WHO), ("where", _WHERE)):
        if pattern.search(question):
            kind = name
            break
    since, until = explicit_dates(question)
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
        if before and before[-1] not in ".!?¿¡:\"“«" and fold(match.group(0)) not in _QUESTION_WORDS:
            terms.append(match.group(0))
    return [fold(t) for t in terms]


# -- sentences ------------------------------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage; a dateline ("Valle Alto, 3 de febrero (Agencia).-") is dropped."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=[A-ZÁÉÍÓÚÑ¿¡\"“«-])", text):
        paragraph = DATELINE_OUTLET.sub("", paragraph.strip(), count=1)
        pending = ""
        for piece in _SENTENCE_END.split(paragraph.strip()):
            pending = f"{pending} {piece}".strip() if pending else piece.strip()
            if not _ABBREVIATIONS.search(pending):
                sentences.append(pending)
                pending = ""
        if pending:
            sentences.append(pending)
    return [" ".join(s.split()) for s in sentences if len(s.strip()) > 1]


@dataclass(frozen=True)
class Candidate:
    hit_index: int
    sentence: str
    score: float
    stems: frozenset[str]


def term_weights(text: str, idf: dict[str, float], factor: float = 1.0) -> dict[str, float]:
    """Idf weight of each term of `text`. Terms no article contains are left out: nothing can
    match them, and the refusal checks (key names, answer type) cover them."""
    return {t: factor * idf[t] for t in set(analyze(_LATEST.sub(" ", text))) if t in idf}


@dataclass(frozen=True)
class Query:
    """The question as the answerer scores sentences against it."""

    asked: str  # the question as asked
    text: str  # what it asks about now (a date range it names is a filter, not a topic)
    intent: Intent
    weights: dict[str, float]  # per analysed term; words of earlier questions weigh less

    @classmethod
    def build(cls, asked: str, topic: str, intent: Intent, lexical: LexicalIndex, context: str = "") -> Query:
        idf = lexical.idf(analyze(f"{topic} {context}"))
        weights = {**term_weights(context, idf, CONTEXT_WEIGHT), **term_weights(topic, idf)}
        return cls(asked, topic, intent, weights)


def _coverage(stems: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in stems) / total if total else 0.0


def trim(sentence: str, weights: dict[str, float], kind: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """The shortest run of clauses (at most `limit` characters) that keeps the answering part."""
    if len(sentence) <= limit:
        return sentence
    clauses = [c for c in re.split(r"(?<=[,;:])\s+|\s+(?=\(|—|–)", sentence) if c]
    best, best_score = sentence[:limit], -1.0
    for start in range(len(clauses)):
        window = ""
        for end in range(start, len(clauses)):
            window = f"{window} {clauses[end]}".strip()
            if len(window) > limit:
                break
            stems = set(analyze(window))
            score = _coverage(stems, weights) + (0.5 if kind and carries(kind, window) else 0.0) - 0.0005 * len(window)
            if score > best_score:
                best, best_score = window, score
    if best_score < 0:  # one huge clause: cut at a word boundary
        best = sentence[:limit].rsplit(" ", 1)[0] + " …"
    return best.rstrip(",;: ")


def rank_sentences(query: Query, hits: Sequence[Hit]) -> list[Candidate]:
    """Every sentence of the hits' passages, scored for how well it answers `query`."""
    weights, kind = query.weights, query.intent.kind
    question_folded = fold(query.text)
    candidates = []
    top = hits[0].score if hits else 1.0
    for index, hit in enumerate(hits):
        seen: set[str] = set()
        for passage in hit.passages or (hit.text,):
            for sentence in split_sentences(passage):
                if sentence in seen or len(sentence) < 20:
                    continue
                seen.add(sentence)
                stems = set(analyze(sentence))
                coverage = _coverage(stems, weights)
                score = coverage + 0.25 * (hit.score / top if top else 0.0)
                if kind:
                    # The answer is something the question does not already say.
                    novel = carries(kind, _strip_words(sentence, question_folded))
                    score += 0.35 if novel else -0.2
                candidates.append(Candidate(index, sentence, score, frozenset(stems)))
    candidates.sort(key=lambda c: -c.score)
    return candidates


def _strip_words(sentence: str, question_folded: str) -> str:
    """The sentence without the words the question already contains."""
    asked = set(re.findall(r"\w+", question_folded))
    return " ".join(w for w in re.findall(r"\S+", sentence) if fold(re.sub(r"\W", "", w)) not in asked)


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


def _citation(number: int, hit: Hit, quote: str) -> Citation:
    return Citation(number, hit.source, hit.title, hit.outlet, hit.date, quote[:MAX_QUOTE_CHARS], hit.url)


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
    return ranked[0].sentence if ranked else hit.text


def refusal(query: Query, hits: Sequence[Hit]) -> Answer:
    language = query.intent.language
    see_also = [_citation(n, hit, best_quote(query, hit)) for n, hit in enumerate(hits[:3], start=1)]
    return Answer(query.asked, REFUSALS.get(language, REFUSALS["en"]), [], True, language, see_also)


@dataclass(frozen=True)
class RefusalPolicy:
    """When the best sentence is not an answer. Set from SQuAD-es v2 unanswerables (docs/eval/)."""

    min_coverage: float = 0.34  # share of the question's (idf-weighted) terms in the sentence
    min_similarity: float = 0.80  # cosine of the best chunk; below it the articles are off-topic

    def refuses(self, best: Candidate, query: Query, hit: Hit) -> bool:
        intent = query.intent
        coverage = _coverage(set(best.stems), query.weights)
        if hit.similarity < self.min_similarity and coverage < 2 * self.min_coverage:
            return True
        if coverage < self.min_coverage and intent.language == hit.language:
            return True
        if intent.kind and not carries(intent.kind, _strip_words(best.sentence, fold(query.text))):
            return True
        article_text = fold(f"{hit.title} {' '.join(hit.passages or (hit.text,))}")
        if intent.language == hit.language:
            missing = [t for t in key_terms(query.text) if t not in article_text]
            if missing:
                return True
        return False


def extractive_answer(query: Query, hits: Sequence[Hit], policy: RefusalPolicy = RefusalPolicy()) -> Answer:
    """The answer built from the articles' own sentences, or a refusal."""
    intent, language = query.intent, query.intent.language
    if not hits:
        return refusal(query, hits)
    if intent.latest:
        # Among the articles that are about the question, the newest one speaks.
        relevant = [h for h in hits if h.score >= 0.6 * hits[0].score]
        newest = max(relevant, key=lambda h: h.date)
        hits = [newest] + [h for h in hits if h is not newest]
    candidates = rank_sentences(query, hits)
    if not candidates:
        return refusal(query, hits)
    best = candidates[0]
    if intent.latest:
        best = next((c for c in candidates if c.hit_index == 0), best)
    lead_hit = hits[best.hit_index]
    if policy.refuses(best, query, lead_hit):
        return refusal(query, hits)

    # Cite every other outlet that reports the same fact in the same words.
    cited = [best]
    for other in candidates[1:]:
        if other.hit_index not in {c.hit_index for c in cited} and same_fact(best, other, query.text):
            cited.append(other)
    sentence = trim(best.sentence, query.weights, intent.kind)
    citations = [_citation(n, hits[c.hit_index], c.sentence) for n, c in enumerate(cited, start=1)]
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
