"""Building the `Answer`: citations numbered in order, quotes, dates, the other outlets that report
the same fact, and the refusal text in the question's language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from ..months import month_name
from ..schema import CITATION_MARKER, Answer, Citation, Hit
from .question import Query
from .ranking import Candidate, rank_sentences

MAX_QUOTE_CHARS = 600
SAME_EVENT_DAYS = 3  # two outlets' reports of one event appear within a few days of each other
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


def best_quote(query: Query, hit: Hit) -> str:
    """The sentence of `hit` that is closest to the question, for a citation's quote."""
    ranked = rank_sentences(query, [hit])
    return ranked[0].quote if ranked else hit.text


def refusal(query: Query, hits: Sequence[Hit]) -> Answer:
    language = query.intent.language
    see_also = [citation(n, hit, best_quote(query, hit)) for n, hit in enumerate(hits[:3], start=1)]
    return Answer(query.asked, REFUSALS.get(language, REFUSALS["en"]), [], True, language, see_also)


def newest_first(hits: Sequence[Hit]) -> list[Hit]:
    """For a "latest" question: the newest of the articles about the question leads (those
    scoring at least LATEST_RELEVANCE of the best), the others keep their order."""
    if not hits:
        return []
    relevant = [h for h in hits if h.score >= LATEST_RELEVANCE * hits[0].score]
    newest = max(relevant, key=lambda h: h.date)
    return [newest] + [h for h in hits if h is not newest]
