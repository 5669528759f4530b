"""Building the `Answer`: citations numbered in order, quotes (cut to whole clauses), the "latest"
and other-language leads, the other outlets that report the same fact, and the refusal text in
the question's language. The answerers choose what to say; this module says it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from ..months import month_name
from ..schema import CITATION_MARKER, Answer, Citation, Hit
from ..search.sentences import clause_bounds, clause_text, widen
from .question import Query
from .ranking import Candidate

MAX_QUOTE_CHARS = 600
QUOTE_CHARS = 200  # a quote around a short answer is cut to the clauses around it beyond this
# A short answer that is most of its sentence adds nothing: the sentence alone is shown.
MAX_SPAN_SHARE = 0.7
SAME_EVENT_DAYS = 3  # two outlets' reports of one event appear within a few days of each other

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


def defuse_markers(text: str) -> str:
    """Article text with "[7]" in it must not read as a citation marker: "[7]" becomes "(7)"."""
    return CITATION_MARKER.sub(r"(\1)", text)


def citation(number: int, hit: Hit, quote: str) -> Citation:
    quote = defuse_markers(quote[:MAX_QUOTE_CHARS])
    return Citation(number, hit.source, hit.title, hit.outlet, hit.date, quote, hit.url)


def human_date(iso: str, language: str) -> str:
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    if language == "es":
        return f"{day.day} de {month_name(day.month, 'es')} de {day.year}"
    return f"{month_name(day.month, 'en')} {day.day}, {day.year}"


def best_quotes(hits: Sequence[Hit], candidates: Sequence[Candidate]) -> list[str]:
    """For each hit, the quote of its best candidate (`candidates` best first, as ranked for the
    question), or its text where it has none."""
    quotes: dict[int, str] = {}
    for candidate in candidates:
        quotes.setdefault(candidate.hit_index, candidate.quote or candidate.sentence)
    return [quotes.get(number, hit.text) for number, hit in enumerate(hits)]


def refusal(query: Query, hits: Sequence[Hit], candidates: Sequence[Candidate] = ()) -> Answer:
    """The refusal, with the best three articles to look at, each quoted where it comes closest."""
    language = query.intent.language
    see_also = [
        citation(number, hit, quote)
        for number, (hit, quote) in enumerate(zip(hits[:3], best_quotes(hits[:3], candidates), strict=True), start=1)
    ]
    return Answer(query.asked, REFUSALS.get(language, REFUSALS["en"]), [], True, language, see_also)


def lead(query: Query, lead_hit: Hit, text: str, sentence_quoted: bool) -> str:
    """The "latest" date or the foreign-language source before the answer, when they apply."""
    language = query.intent.language
    if query.intent.latest:
        return f"{LATEST_LEAD.get(language, LATEST_LEAD['en']).format(date=human_date(lead_hit.date, language))} {text}"
    if lead_hit.language and language != lead_hit.language:
        # No translation without an LLM: say where the quote comes from, in the asker's language.
        template = FOREIGN_LEAD.get(language, FOREIGN_LEAD["en"])
        where = template.format(outlet=lead_hit.outlet or lead_hit.title, date=lead_hit.date)
        return f"{where} {text}" if sentence_quoted else f"{where} «{text}»"
    return text


def reporting(
    answer: Candidate, hits: Sequence[Hit], candidates: Sequence[Candidate], question: str
) -> list[Candidate]:
    """`answer`, then every candidate of another outlet that reports the same fact in the same
    days, in much the same words (same_event passes over the articles already cited)."""
    cited = [answer]
    for other in candidates:
        reported_by = [hits[c.hit_index] for c in cited]
        if same_event(hits[answer.hit_index], hits[other.hit_index], reported_by) and same_fact(
            answer, other, question
        ):
            cited.append(other)
    return cited


class Sources:
    """The numbered citations of one answer: one per (article, quote), however many lines cite it."""

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = hits
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[int, str], int] = {}

    def cite(self, hit_index: int, quote: str) -> int:
        """The citation number of `quote` from `hits[hit_index]`, numbered on first use."""
        if (hit_index, quote) not in self._numbers:
            self._numbers[(hit_index, quote)] = len(self.citations) + 1
            self.citations.append(citation(len(self.citations) + 1, self.hits[hit_index], quote))
        return self._numbers[(hit_index, quote)]


def markers(numbers: Iterable[int]) -> str:
    """The citation markers of one line, "[1][3]", each number once and in first-cited order."""
    return "".join(f"[{n}]" for n in dict.fromkeys(numbers))


def around(sentence: str, start: int, end: int, limit: int = QUOTE_CHARS) -> str:
    """`sentence` cut to at most ~`limit` characters of whole clauses around [start, end)."""
    if len(sentence) <= limit:
        return sentence
    bounds = clause_bounds(sentence)
    first = max(n for n in range(len(bounds) - 1) if bounds[n] <= start)
    last = min(n for n in range(first, len(bounds) - 1) if bounds[n + 1] >= end)
    first, last = widen(sentence, bounds, first, last, limit)
    text = clause_text(sentence, bounds, first, last).rstrip(",;:")
    return ("… " if first > 0 else "") + text + (" …" if last < len(bounds) - 2 else "")
