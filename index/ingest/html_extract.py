"""An HTML news page → its text, title, outlet and publication date, with trafilatura.

trafilatura does the extraction; what is here are the choices measured on 40 real Spanish-language
news pages (docs/fetch.md, scripts/eval_extraction.py): `ExtractionOptions`, the publication
stamp read in the outlet's own zone, the `<h1>` headline, the standfirst, and the filter that
drops page furniture (related links, follow-us lines, captions) from the extracted body.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ArticleError


@dataclass(frozen=True)
class ExtractionOptions:
    """How an HTML page becomes an article. The defaults were chosen by measurement on 40 real
    Spanish news pages (docs/fetch.md, `python scripts/eval_extraction.py`), which also scores
    every other combination."""

    # trafilatura: favor_precision keeps out the most boilerplate ("Lea también", related
    # links) for the fewest lost body sentences; favor_recall the reverse.
    favor_precision: bool = True
    favor_recall: bool = False
    # htmldate: original_date=True prefers the publication date to the last modification;
    # extensive_search looks past the metadata (URL, text) when a page has none.
    original_date: bool = True
    extensive_search: bool = True
    # A publication timestamp the page writes with its own UTC offset (article:published_time,
    # JSON-LD datePublished, ...) gives the date in the outlet's time zone; htmldate can pick
    # another date on the page (a related article's, one in the URL).
    own_zone_date: bool = True
    # Measured, not shipped: the first publication stamp with an offset or "Z", read as its UTC
    # day (what htmldate does with a zoned time), or <time datetime> stamps included.
    utc_stamp_date: bool = False
    time_element_date: bool = False
    # "Headline | Section", "Headline - Outlet": a <title> often carries the site's name.
    strip_site_from_title: bool = True
    # The page's visible headline (its <h1>) when a metadata title (og:title, twitter:title,
    # JSON-LD headline, <title>) contains it: metadata titles add site or section names, lose
    # typographic quotes, or are cut short; an <h1> no metadata title names is some other heading.
    headline_from_h1: bool = True
    # After extraction, drop blocks that read as page furniture rather than article text
    # (`boilerplate_block`): link-dominated lines that are not sentences ("Lea también: <link>",
    # related headlines), "Le puede interesar"-style cues, follow-us lines, photo captions,
    # lone dates, runs of "label: value" template fields, and headings left with nothing under them.
    filter_boilerplate: bool = True
    # The standfirst (the deck under the headline), which trafilatura often leaves out: the visible
    # element whose text the page's description (meta description, og:description) begins, put
    # before the body when the body does not already hold it.
    standfirst: bool = True
    # trafilatura's prune_xpath with generic boilerplate containers (aside, figcaption, elements
    # whose class or id names sharing, related content, newsletters, comments, breadcrumbs).
    prune_containers: bool = False


DEFAULT_EXTRACTION = ExtractionOptions()

# "2022-05-08T06:00:00-05:00", "2022-05-04T08:27:49.000-0300": a date, a time, an explicit offset
# (not "Z" / "UTC": a UTC time says nothing of the outlet's own day).
_ZONED_STAMP = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*[+-]\d{2}:?\d{2}\s*$")
_PUBLISHED_META = re.compile(
    r"<meta\b[^>]*?(?:property|name|itemprop)\s*=\s*[\"'](?:article:published_time|og:article:published_time|"
    r"datePublished)[\"'][^>]*>",
    re.IGNORECASE,
)
_CONTENT_ATTR = re.compile(r"\bcontent\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_JSONLD_PUBLISHED = re.compile(r"[\"']datePublished[\"']\s*:\s*[\"']([^\"']+)[\"']")
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::)\s+")


_ANY_STAMP = re.compile(r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})\s*$")
_TIME_DATETIME = re.compile(r"<time\b[^>]*\bdatetime\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def published_stamp(html: str, utc: bool = False, time_element: bool = False) -> str:
    """The first zoned publication stamp's day: in the page's own offset, or in UTC (`utc`);
    `time_element` also reads <time datetime> stamps, after the metadata."""
    candidates = [_CONTENT_ATTR.search(tag) for tag in _PUBLISHED_META.findall(html)]
    values = [m.group(1) for m in candidates if m] + _JSONLD_PUBLISHED.findall(html)
    if time_element:
        values += _TIME_DATETIME.findall(html)
    for value in values:
        if not utc:
            stamp = _ZONED_STAMP.match(value)
            if stamp:
                return stamp.group(1)
        elif _ANY_STAMP.match(value):
            try:
                moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                continue
            return moment.astimezone(dt.timezone.utc).date().isoformat()
    return ""


def published_in_own_zone(html: str) -> str:
    """The publication date as the page writes it with its own UTC offset, or ""."""
    return published_stamp(html)


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def strip_site_name(title: str, sitename: str) -> str:
    """The headline without a leading or trailing segment naming the site ("… - La Tercera",
    "Diario HOY | …") or, after a "|", a short section name ("… | Sociedad")."""
    parts = _TITLE_SEPARATORS.split(title)
    separators = _TITLE_SEPARATORS.findall(title)
    site = _squash(sitename)

    def names_site(segment: str) -> bool:
        squashed = _squash(segment)
        return bool(site) and bool(squashed) and (squashed in site or site in squashed)

    while len(parts) > 1 and names_site(parts[-1]):
        parts.pop()
        separators.pop()
    while len(parts) > 1 and names_site(parts[0]):
        parts.pop(0)
        separators.pop(0)
    # A trailing section name: short, after a "|" (a headline rarely holds one).
    if len(parts) > 1 and "|" in separators[-1] and len(parts[-1].split()) <= 3 < len(parts[-2].split()):
        parts.pop()
        separators.pop()
    rebuilt = parts[0]
    for separator, part in zip(separators, parts[1:], strict=True):
        rebuilt += separator + part
    return rebuilt


# Spanish news page furniture: cues that introduce a link to another article or ask the reader to
# follow, subscribe or join. Matched at the start of a line, case-insensitively.
_CUE = re.compile(
    r"^\W*(?:(?:lea|lee|leer|léase|vea|ver|mira|mire)\s+(?:también|además|aquí|más)\b"
    r"|(?:también\s+)?(?:le|te|les)\s+(?:puede|pueden|podría|podrían)\s+interesar"
    r"|(?:también\s+)?(?:puede|podría)\s+interesarte"
    r"|(?:te|le|les)\s+recomendamos\b"
    r"|(?:otras\s+)?(?:noticias|notas|artículos|historias|temas|lecturas)\s+relacionad[oa]s\b"
    r"|más\s+(?:sobre|noticias|información\s+en)\b"
    r"|(?:síguenos|siguenos|síganos|suscríbete|suscribete|suscríbase|únete|hazte\s+(?:miembro|socio)"
    r"|recibe\s+(?:alertas|nuestro|las\s+noticias))\b)",
    re.IGNORECASE,
)
_FOLLOW_VERB = re.compile(
    r"\b(?:s[ií]g(?:ue|a|an)nos|seguirnos|seguir\s+(?:a|en)\b|suscr[ií]b(?:e|ete|ase|irse|irte)\b|[uú]nete)", re.I
)
# An appeal to the reader, anywhere in a short block: "Hazte miembro", "Suscríbete", "Apoya nuestro periodismo".
_APPEAL = re.compile(
    r"\b(?:hazte|h[aá]gase|h[aá]ganse)\s+(?:miembro|socio|suscriptor)|\bsuscr[ií]b(?:ete|ase)\b"
    r"|\bapoy(?:a|e)\s+(?:nuestro|el)\s+periodismo",
    re.IGNORECASE,
)
_NETWORK = re.compile(r"\b(?:facebook|twitter|instagram|telegram|whatsapp|youtube|tiktok|linkedin|newsletter)\b", re.I)
_CAPTION = re.compile(
    r"^\W*(?:foto|fotos|fotografía|imagen|crédito|video)\s*(?::|de\b)|\((?:foto|fotos|fotografía|imagen)\b[^()]*\)\W*$",
    re.IGNORECASE,
)
_WEEKDAY = r"(?:lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo)"
_LONE_DATE = re.compile(
    rf"^\W*(?:{_WEEKDAY},?\s+)?(?:\d{{1,2}}(?:\s+de)?\s+[a-záéíóú]+\.?(?:\s+de|,)?\s+\d{{4}}"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2})(?:[\s,|-]+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?\s?m\.?|h|hrs?)?)?\W*$",
    re.IGNORECASE,
)
_LABEL_FIELD = re.compile(r"^[\w .-]{1,25}:\s*[^.!?:]{0,25}$")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*\s*$")


def _block_text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def boilerplate_block(text: str, link_share: float) -> bool:
    """Whether one extracted block (paragraph, list item, heading) is page furniture, by general
    rules for Spanish news pages (none names a site)."""
    words = len(text.split())
    sentence = bool(_SENTENCE_END.search(text))
    if link_share >= 0.5 and not sentence:
        return True  # a link to another page: related headline, "Lea también: <link>"
    if _CUE.search(text) and words < 30:
        return True
    if _APPEAL.search(text) and words < 80:
        return True
    if _FOLLOW_VERB.search(text) and len(_NETWORK.findall(text)) >= 2 and words < 50:
        return True
    if _CAPTION.search(text) and words < 60:
        return True
    return bool(_LONE_DATE.match(text))


def filter_boilerplate(body: Any) -> None:
    """Remove furniture blocks from trafilatura's XML body (extracted with include_links=True)."""
    blocks = [el for el in body.iter("p", "item", "head", "quote") if el.find(".//p") is None]
    texts = {el: _block_text(el) for el in blocks}
    drop: set[Any] = set()
    for el in blocks:
        text = texts[el]
        if not text:
            continue
        links = sum(len(_block_text(ref)) for ref in el.iter("ref"))
        if boilerplate_block(text, links / len(text)):
            drop.add(el)
    # Runs of three or more "label: value" lines are a template's fields, not prose.
    run: list[Any] = []
    for el in [*blocks, None]:
        if el is not None and el not in drop and (not texts[el] or _LABEL_FIELD.match(texts[el])):
            run.append(el)
            continue
        if sum(bool(texts[x]) for x in run) >= 3:
            drop.update(run)
        run = []
    # A heading with no kept text before the next heading (or the end) introduced what was dropped.
    kept_since_head = True
    for el in reversed(blocks):
        if el in drop or not texts[el]:
            continue
        if el.tag == "head":
            if not kept_since_head:
                drop.add(el)
            kept_since_head = False
        else:
            kept_since_head = True
    for el in drop:
        parent = el.getparent()
        if parent is not None:
            if el.tail and el.tail.strip():
                previous = el.getprevious()
                if previous is not None:
                    previous.tail = (previous.tail or "") + el.tail
                else:
                    parent.text = (parent.text or "") + el.tail
            parent.remove(el)


_LOWER = "translate(concat(@class, ' ', @id), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_CONTAINER_WORDS = ("share", "social", "related", "relacionad", "newsletter", "subscri", "suscri", "comments",
                    "comentarios", "breadcrumb")  # fmt: skip
_PRUNE_CONTAINERS = [
    "//aside",
    "//figcaption",
    "//*[" + " or ".join(f"contains({_LOWER}, '{word}')" for word in _CONTAINER_WORDS) + "]",
]
_JSONLD_HEADLINE = re.compile(r"[\"']headline[\"']\s*:\s*\"((?:[^\"\\]|\\.)*)\"")


def visible_headline(html_text: str, title: str = "") -> tuple[str, bool]:
    """(headline, from_h1): the page's first <h1> that one of its metadata titles contains (after
    dropping punctuation and case); else, when `title` is cut short, the metadata title it begins;
    else `title`."""
    from lxml import html as lxml_html

    try:
        tree = lxml_html.document_fromstring(html_text)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return title, False
    titles = [
        *tree.xpath("//meta[@property='og:title' or @name='og:title' or @name='twitter:title' "
                    "or @property='twitter:title']/@content"),
        *tree.xpath("//head/title/text()"),
    ]  # fmt: skip
    for raw in _JSONLD_HEADLINE.findall(html_text):
        try:
            titles.append(json.loads(f'"{raw}"'))
        except json.JSONDecodeError:
            continue
    squashed = [_squash(str(title)) for title in titles]
    for heading in tree.xpath("//h1"):
        text = " ".join(heading.text_content().split())
        key = _squash(text)
        if len(text.split()) >= 3 and key and any(key in candidate for candidate in squashed):
            return text, True
    key = _squash(title)
    longer = [" ".join(str(t).split()) for t, k in zip(titles, squashed, strict=True) if key and k.startswith(key)]
    return max(longer, key=len, default=title), False


_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*$")


def standfirst(html_text: str, body: str) -> str:
    """The page's visible standfirst when the extracted `body` lacks it, or "": the first element
    of the page's <body> whose text begins with the page's description (a description cut short
    with "…" is matched on what it keeps) and is not much longer than it."""
    from lxml import html as lxml_html

    try:
        tree = lxml_html.document_fromstring(html_text)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return ""
    descriptions = tree.xpath(
        "//meta[@name='description' or @property='og:description' or @name='twitter:description']/@content"
    )
    found = [_ELLIPSIS.sub("", " ".join(str(d).split())) for d in descriptions]
    found = [d for d in found if len(d.split()) >= 8]
    if not found:
        return ""
    key = _squash(found[0])[:150]
    if key in _squash(body):
        return ""
    for element in tree.xpath("//body//*[not(self::script or self::style or self::noscript or self::meta)]"):
        text = " ".join(element.text_content().split())
        squashed = _squash(text)
        if squashed.startswith(key) and len(squashed) <= 2 * len(_squash(found[0])) + 20:
            return text
    return ""


def extract_html(text: str, url: str | None = None, options: ExtractionOptions = DEFAULT_EXTRACTION) -> dict[str, Any]:
    """trafilatura's fields (text, title, sitename, date, url, ...) for an HTML page."""
    import trafilatura

    date_options = {
        "original_date": options.original_date,
        "extensive_search": options.extensive_search,
        "max_date": dt.date.today().isoformat(),
    }
    try:
        doc = trafilatura.bare_extraction(
            text, url=url, with_metadata=True, include_comments=False, date_extraction_params=date_options,
            favor_precision=options.favor_precision, favor_recall=options.favor_recall,
            include_links=options.filter_boilerplate,
            prune_xpath=_PRUNE_CONTAINERS if options.prune_containers else None,
        )  # fmt: skip
    except (RecursionError, ValueError, TypeError) as exc:
        raise ArticleError(f"unreadable HTML ({type(exc).__name__})") from None
    if doc is None:
        raise ArticleError("no article text found in the HTML")
    fields = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    body = fields.get("body")
    if options.filter_boilerplate and body is not None:
        from lxml import etree
        from trafilatura.xml import xmltotxt

        filter_boilerplate(body)
        etree.strip_tags(body, "ref")  # links were needed to judge blocks, not in the text
        fields["text"] = xmltotxt(body, include_formatting=False)
    if not fields.get("text"):
        raise ArticleError("no article text found in the HTML")
    lead = standfirst(text, str(fields["text"])) if options.standfirst else ""
    if lead:
        fields["text"] = f"{lead}\n{fields['text']}"
    if options.own_zone_date or options.utc_stamp_date:
        stamp = published_stamp(text, utc=options.utc_stamp_date, time_element=options.time_element_date)
        fields["date"] = stamp or fields.get("date")
    if not fields.get("date"):
        raise ArticleError("no publication date found in the HTML")
    if options.headline_from_h1:
        fields["title"], from_h1 = visible_headline(text, str(fields.get("title") or ""))
    else:
        from_h1 = False
    if options.strip_site_from_title and fields.get("title") and not from_h1:
        fields["title"] = strip_site_name(str(fields["title"]), str(fields.get("sitename") or ""))
    return fields
