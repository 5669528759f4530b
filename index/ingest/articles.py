"""Reading articles from files: the seed text format, Markdown, HTML and JSON / JSON Lines.

Every reader returns `Article`s or raises `ArticleError` with a reason a person can act on.
`read_sources` walks files and folders, and turns every failure into a (source, reason)
pair so that one broken file never stops the rest of a batch.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ArticleError
from ..language import detect_language
from ..lexical.analysis import STOPWORDS_SPANISH
from ..months import MONTH_NUMBERS
from ..schema import Article
from .html_extract import extract_html

TEXT_SUFFIXES = {".txt"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES

# A single article larger than this is almost surely not an article (a dump, a log, a book).
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ARTICLE_CHARS = 500_000
# JSON Lines files hold many articles, so they are read line by line with no file limit.
MAX_JSONL_LINE_BYTES = 2 * 1024 * 1024

# ` date 2026-01-16 Headline | Outlet` (the leading space is part of the format).
SEED_HEADER = re.compile(r"^\s*date\s+(?P<date>\S+)\s+(?P<headline>.+?)\s*$")
# A dateline naming the outlet: "Ciudad de México, 15 de enero (SinEmbargo).-",
# "WASHINGTON, Jan 15 (Reuters) -".
DATELINE_OUTLET = re.compile(r"^[^\n()]{3,80}?\d{1,4}[^\n()]{0,30}\((?P<outlet>[^()\n]{2,50})\)\s*\.?\s*[-–—]")

# Two sentences run together where a paragraph break was lost upstream ("…del momento.En
# Uruguay…", "…a las 23.59.Un comité…"): a sentence end right before a capitalised word. Scraped
# text is often like this, and a sentence splitter (rightly) wants a space after the period.
_GLUED_SENTENCES = re.compile(
    r"(?<=[a-záéíóúüñA-ZÁÉÍÓÚÜÑ0-9\"”»')][.!?])(?=[¿¡\"“«]?[A-ZÁÉÍÓÚÑ][a-záéíóúüñ])"  # "momento.En", "EE.UU.Los"
    r"|(?<=[a-záéíóúüñ0-9\"”»')][.!?])(?=[A-ZÁÉÍÓÚÑ]{2})"  # "actual.SARS", not "EE.UU"
)
# A subheading run into the paragraph after it, with no period: "…ante el coronavirusHasta el
# jueves…", "…del compromisoLos trabajadores…", "…son casi 65.000El estudio…". A capitalised
# function word glued to a lowercase word or a figure is such a joint ("WhatsApp", "AstraZeneca",
# "24Ore" are not: their second part is no function word); it becomes a line break.
_JOINED_HEADING = re.compile(r"(?:(?<=[a-záéíóúüñ]{3}[a-záéíóúüñ)\"”»])|(?<=\d))(?=([A-ZÁÉÍÓÚÑ][a-záéíóúüñ]+)\b)")
# A subheading run into a paragraph that opens with a quotation: "Libros a domicilio“Hay que…".
# Spanish never glues an opening quote to the word before it, so this joint needs no word list.
_HEADING_BEFORE_QUOTE = re.compile(r"(?<=[a-záéíóúüñ]{4})(?=[“«][¿¡]?[A-ZÁÉÍÓÚÑ])")

_SPANISH_DATE = re.compile(r"^(\d{1,2})\s+de\s+([a-záéíóú]+)\s+(?:de|del)\s+(\d{4})$", re.IGNORECASE)


@dataclass
class ReadResult:
    articles: list[Article] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


def parse_date(value: Any) -> str:
    """Normalise a date to ISO YYYY-MM-DD, or raise ArticleError."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip():
        raise ArticleError("no date")
    text = value.strip()
    spanish = _SPANISH_DATE.match(text)
    if spanish:
        day, month_name, year = spanish.groups()
        month = MONTH_NUMBERS.get(month_name.lower())
        if month is None:
            raise ArticleError(f"unreadable date {value!r}")
        text = f"{year}-{month:02d}-{int(day):02d}"
    try:
        if len(text) > 10 and text[10] in "T ":
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise ArticleError(f"invalid date {value!r} (expected YYYY-MM-DD)") from None


def decode_text(data: bytes) -> str:
    """Strict UTF-8 (a BOM is allowed); binary and mis-encoded files are refused, not guessed."""
    if not data.strip():
        raise ArticleError("empty file")
    if b"\x00" in data[:8192]:
        raise ArticleError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from None


def _clean_body(text: str, title: str = "") -> str:
    """Line ends, blank runs and sentences run together mended; a body that opens with its
    headline (`title`, whitespace already normalised) run into the first sentence ("Brasil supera
    … pandemia Brasil registró …") gets the headline as a paragraph of its own, so that no
    sentence carries the headline's words."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    body = _GLUED_SENTENCES.sub(" ", re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip())
    body = _JOINED_HEADING.sub(lambda m: "\n" if m.group(1).lower() in STOPWORDS_SPANISH else "", body)
    body = _HEADING_BEFORE_QUOTE.sub("\n", body)
    if title and body.startswith(title) and body[len(title) : len(title) + 1] in (" ", "\t"):
        body = f"{title}\n\n{body[len(title) :].lstrip()}"
    return body


def _make_article(*, source: str, origin: str, title: str, outlet: str, date: Any, text: str, url: str = "") -> Article:
    title = " ".join(title.split())
    body = _clean_body(text, title)
    if not body:
        raise ArticleError("no article text")
    if len(body) > MAX_ARTICLE_CHARS:
        raise ArticleError(f"article text too long ({len(body):,} characters; limit {MAX_ARTICLE_CHARS:,})")
    if not title:
        title = body.split("\n", 1)[0][:120]
    if not outlet:
        found = DATELINE_OUTLET.match(body)
        outlet = found.group("outlet").strip() if found else ""
    return Article(
        source=source,
        origin=origin,
        title=title[:500],
        outlet=" ".join(outlet.split())[:200],
        date=parse_date(date),
        text=body,
        language=detect_language(f"{title}\n{body}"),
        url=url.strip(),
    )


def parse_seed_text(text: str, source: str, origin: str) -> Article:
    """The seed format: ` date YYYY-MM-DD Headline[| Outlet]`, a blank line, the body."""
    first_line, _, body = text.lstrip("\ufeff").partition("\n")
    header = SEED_HEADER.match(first_line)
    if not header:
        raise ArticleError("no date: the first line must be ' date YYYY-MM-DD Headline'")
    headline, _, outlet = header.group("headline").partition("|")
    if not body.strip():
        raise ArticleError("truncated: a header but no article text")
    return _make_article(
        source=source, origin=origin, title=headline, outlet=outlet.strip(),
        date=header.group("date"), text=body,
    )  # fmt: skip


def parse_markdown(text: str, source: str, origin: str) -> Article:
    """Markdown with YAML front matter (title, date, outlet, url)."""
    import frontmatter

    try:
        post = frontmatter.loads(text)
    except Exception as exc:  # YAML errors come in many types
        raise ArticleError(f"unreadable front matter: {str(exc).splitlines()[0]}") from None
    meta = post.metadata
    body = post.content
    title = str(meta.get("title") or "")
    if not title:
        heading = re.match(r"^\s*#\s+(.+)$", body, re.MULTILINE)
        if heading:
            title = heading.group(1)
            body = body.replace(heading.group(0), "", 1)
    if meta.get("date") is None:
        raise ArticleError("no date in the front matter")
    return _make_article(
        source=str(meta.get("url") or source), origin=origin, title=title,
        outlet=str(meta.get("outlet") or meta.get("source") or meta.get("publisher") or ""),
        date=meta.get("date"), text=body, url=str(meta.get("url") or ""),
    )  # fmt: skip


def parse_html(text: str, source: str, origin: str) -> Article:
    """The main text and metadata of an HTML file, extracted by trafilatura."""
    fields = extract_html(text)
    url = str(fields.get("url") or "")
    return _make_article(
        source=url or source, origin=origin, title=str(fields.get("title") or ""),
        outlet=str(fields.get("sitename") or ""), date=fields["date"], text=str(fields["text"]), url=url,
    )  # fmt: skip


def parse_web_page(text: str, url: str) -> Article:
    """An HTML page fetched from `url`: the URL it was fetched from is its source (a stable key
    for updates), whatever canonical link the page declares."""
    fields = extract_html(text, url=url)
    return _make_article(
        source=url, origin=url, title=str(fields.get("title") or ""),
        outlet=str(fields.get("sitename") or ""), date=fields["date"], text=str(fields["text"]), url=url,
    )  # fmt: skip


def parse_record(record: Any, source: str, origin: str) -> Article:
    """A JSON record with title, date, outlet, url and text."""
    if not isinstance(record, dict):
        raise ArticleError("a JSON record must be an object with title, date and text")
    text = record.get("text") or record.get("body") or record.get("content") or ""
    if not isinstance(text, str):
        raise ArticleError("the record's 'text' is not a string")
    url = str(record.get("url") or "")
    return _make_article(
        source=url or source, origin=origin, title=str(record.get("title") or ""),
        outlet=str(record.get("outlet") or record.get("publisher") or ""),
        date=record.get("date"), text=text, url=url,
    )  # fmt: skip


def _read_json_file(text: str, path: str, result: ReadResult) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArticleError(f"invalid or truncated JSON (line {exc.lineno}, column {exc.colno})") from None
    records = data if isinstance(data, list) else [data]
    for number, record in enumerate(records, start=1):
        source = f"{path}#{number}" if isinstance(data, list) else path
        try:
            result.articles.append(parse_record(record, source, path))
        except ArticleError as exc:
            result.skipped.append((source, str(exc)))


def _read_jsonl_file(file_path: Path, path: str, result: ReadResult) -> None:
    with file_path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            source = f"{path}#{number}"
            if not raw.strip():
                continue
            try:
                if len(raw) > MAX_JSONL_LINE_BYTES:
                    raise ArticleError(f"line longer than {MAX_JSONL_LINE_BYTES // 1024 // 1024} MB")
                try:
                    record = json.loads(decode_text(raw))
                except json.JSONDecodeError:
                    raise ArticleError("invalid or truncated JSON on this line") from None
                result.articles.append(parse_record(record, source, path))
            except ArticleError as exc:
                result.skipped.append((source, str(exc)))


def read_file(file_path: Path) -> ReadResult:
    """Every article in one file; what cannot be read is in `skipped`, never raised."""
    path = str(file_path.resolve())
    result = ReadResult()
    suffix = file_path.suffix.lower()
    try:
        if suffix not in SUPPORTED_SUFFIXES:
            raise ArticleError(f"unsupported file type {suffix or '(none)'}")
        if suffix in JSONL_SUFFIXES:
            _read_jsonl_file(file_path, path, result)
            return result
        size = file_path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ArticleError(f"file too large ({size / 1e6:.0f} MB; limit {MAX_FILE_BYTES // 1024 // 1024} MB)")
        text = decode_text(file_path.read_bytes())
        if suffix in JSON_SUFFIXES:
            _read_json_file(text, path, result)
        elif suffix in MARKDOWN_SUFFIXES:
            result.articles.append(parse_markdown(text, path, path))
        elif suffix in HTML_SUFFIXES:
            result.articles.append(parse_html(text, path, path))
        else:
            result.articles.append(parse_seed_text(text, path, path))
    except ArticleError as exc:
        result.skipped.append((path, str(exc)))
    except OSError as exc:
        result.skipped.append((path, f"cannot read: {exc.strerror or exc}"))
    return result


def iter_files(paths: Iterable[str | Path], skipped: list[tuple[str, str]]) -> Iterator[Path]:
    """Files named, and supported files inside folders named (recursively, sorted, no hidden)."""
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.is_file():
            yield path
        else:
            skipped.append((str(raw), "no such file or folder"))


def read_sources(paths: Iterable[str | Path]) -> ReadResult:
    """All articles under `paths`, each source once; unreadable ones are reported in `skipped`."""
    result = ReadResult()
    seen: set[str] = set()
    for file_path in iter_files(paths, result.skipped):
        one = read_file(file_path)
        result.skipped.extend(one.skipped)
        for article in one.articles:
            if article.source not in seen:
                seen.add(article.source)
                result.articles.append(article)
    return result
