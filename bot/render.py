"""Pure rendering: answers, sources, lists and reports -> Discord message payloads.

Nothing here talks to Discord or the index; the live bot and `newsbot bot --dry-run` send
exactly what these functions return (an answer's messages get their buttons from
`bot.views.answer_messages`, which builds on these). Everything that came from an article (or a user) goes
through `safe()` first: mentions neutralised, Markdown escaped, so that a news text with
"@everyone", "<@123>", a ``` fence or a "# heading" can neither ping anyone nor break
the message. Every length is checked against the limits in `bot.limits`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from urllib.parse import quote as url_quote

import discord

from index import CITATION_MARKER, Answer, ArticleInfo, Citation, IngestReport

from .limits import (
    EMBED_DESCRIPTION_CHARS,
    EMBED_FIELD_NAME_CHARS,
    EMBED_FIELD_VALUE_CHARS,
    EMBED_FIELDS,
    EMBED_FOOTER_CHARS,
    EMBED_TITLE_CHARS,
    EMBED_TOTAL_CHARS,
    EMBEDS_PER_MESSAGE,
    MESSAGE_CHARS,
    QUOTE_PREVIEW_CHARS,
    THREAD_NAME_CHARS,
)
from .texts import t, ui_language

NO_MENTIONS = discord.AllowedMentions.none()
ELLIPSIS = "…"
ZWSP = "\u200b"  # zero-width space: breaks mention syntax without changing what people read
EMBED_COLOUR = 0x2B6CB0
MAX_LINK_CHARS = 512  # longer URLs are not worth a share of the 6000-character embed budget
QUOTE_STEPS = (QUOTE_PREVIEW_CHARS, 200, 120, 60, 0)  # preview lengths tried until the embed fits

_EVERYONE = re.compile(r"@(everyone|here)", re.IGNORECASE)
_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")  # user, role and channel mentions, any id length
_SPACES = re.compile(r"\s+")
# Where a long answer may be cut, best first. A cut is the start of a whitespace run.
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n\s*")
_SENTENCE = re.compile(r"(?:(?<=[.!?…»\"])|(?<=[.!?…]\s\[\d\])|(?<=[.!?…]\s\[\d\d\]))\s+")
_WORD = re.compile(r"\s+")
MIN_FILL = 0.5  # a split point earlier than half the limit makes a needlessly short message


# -- text safety ---------------------------------------------------------------------------


def neutralise_mentions(text: str) -> str:
    """@everyone, @here, <@123>, <@!123>, <@&123> and <#123> shown as typed, never as mentions."""
    text = _EVERYONE.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return _MENTION.sub(lambda m: f"<{m.group(1)}{ZWSP}{m.group(2)}>", text)


def safe(text: str) -> str:
    """Text from an article or a user, made inert: no mentions, no Markdown of its own
    (fences, headings, masked links, emphasis are escaped and shown literally)."""
    return discord.utils.escape_markdown(neutralise_mentions(text))


def fold(text: str) -> str:
    """Whitespace (newlines included) folded to single spaces."""
    return _SPACES.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut at a word boundary and ended with "…";
    never inside a citation marker such as [12]."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    room = limit - len(ELLIPSIS)
    cut = text.rfind(" ", 0, room + 1)
    if cut < room * 0.6:  # one very long word (a URL): cut inside it rather than lose most of the text
        cut = room
        for marker in CITATION_MARKER.finditer(text, max(0, room - 4), room + 4):
            if marker.start() < cut < marker.end():
                cut = marker.start()
    return text[:cut].rstrip(" ,;:-–—([") + ELLIPSIS


def fit(raw: str, limit: int, *, one_line: bool = False) -> str:
    """`safe(raw)` shortened so that the escaped result fits `limit` characters."""
    raw = fold(raw) if one_line else raw.strip()
    budget = limit
    while True:
        out = safe(shorten(raw, budget))
        if len(out) <= limit or budget <= 1:
            return out[:limit]
        budget -= len(out) - limit  # escaping added that much; shorten the raw text by as much


def split_message(text: str, limit: int = MESSAGE_CHARS) -> list[str]:
    """Split text into messages of at most `limit` characters, at a paragraph break if one
    is near the end of a message, else a line break, a sentence end, a space; never inside
    or just before a citation marker (it stays with its sentence), never after a backslash."""
    chunks: list[str] = []
    text = text.strip()
    while len(text) > limit:
        cut = _best_cut(text, limit)
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks


def _best_cut(text: str, limit: int) -> int:
    window = text[: limit + 1]  # cutting at index i keeps text[:i], at most `limit` characters
    # A well-filled message first, then any word boundary, then (text made of nothing but
    # markers) even one before a marker: all better than cutting inside a word.
    for shortest, keep_markers in ((limit * MIN_FILL, True), (1, True), (1, False)):
        for pattern in (_PARAGRAPH, _LINE, _SENTENCE, _WORD):
            cuts = [
                m.start()
                for m in pattern.finditer(window)
                if m.start() >= shortest
                and not (keep_markers and CITATION_MARKER.match(text, m.end()))  # "… hoy. [2]" stays together
                and window[m.start() - 1] != "\\"  # an escape stays with what it escapes
            ]
            if cuts:
                return max(cuts)
    cut = limit  # no whitespace at all: cut inside the word, but not inside a marker or an escape
    for marker in CITATION_MARKER.finditer(text, max(0, limit - 4), limit + 4):
        if marker.start() < cut < marker.end():
            cut = marker.start()
    if text[cut - 1] == "\\":
        cut -= 1
    return cut


def link_for(citation: Citation) -> str:
    """A safe http(s) link for a source, or "" (file sources have none)."""
    url = citation.url or (citation.source if citation.source.startswith(("http://", "https://")) else "")
    if not url.startswith(("http://", "https://")) or len(url) > MAX_LINK_CHARS:
        return ""
    return url_quote(url, safe=":/?#[]@!$&'*+,;=%~-._")  # spaces, parentheses, <> percent-encoded


def source_name(source: str) -> str:
    """How a source is shown in reports: the file name (never the bot host's paths) or the URL."""
    if source.startswith(("http://", "https://")):
        return source
    path, _, record = source.partition("#")
    name = PurePath(path).name or path
    return f"{name}#{record}" if record else name


# -- message payloads ----------------------------------------------------------------------


@dataclass
class OutgoingMessage:
    """One message as the bot sends it. `send_kwargs()` feeds discord.py; `to_dict()` is the
    same message as JSON (dry run)."""

    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)
    view: discord.ui.View | None = None

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "content": self.content or None,
            "embeds": self.embeds,
            "allowed_mentions": NO_MENTIONS,
        }
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": [embed.to_dict() for embed in self.embeds],
            "components": self.view.to_components() if self.view is not None else [],
            "allowed_mentions": NO_MENTIONS.to_dict(),
        }


def text_message(content: str) -> OutgoingMessage:
    """A message of the bot's own words (already safe), cut to the message limit."""
    return OutgoingMessage(content=shorten(content, MESSAGE_CHARS))


def answer_sources(answer: Answer) -> list[Citation]:
    """The sources shown with an answer: its citations, or the closest articles of a refusal."""
    return list(answer.citations) if answer.citations else list(answer.see_also)


def answerer_label(answerer: str, language: str) -> str:
    if answerer.startswith("llm:"):
        return t("answerer_llm", language, model=answerer.removeprefix("llm:"))
    return t("answerer_extractive", language)


def _source_value(citation: Citation, quote_chars: int, language: str) -> str:
    facts = " · ".join(part for part in (fit(citation.outlet, 100, one_line=True), citation.date) if part)
    link = link_for(citation)
    lines = [facts + (f" · [{t('open_link', language)}]({link})" if link else "")]
    if quote_chars and citation.quote.strip():
        lines.append("> " + fit(citation.quote, quote_chars, one_line=True))
    value = "\n".join(line for line in lines if line) or "—"
    return value[:EMBED_FIELD_VALUE_CHARS]


def sources_embed(sources: Sequence[Citation], *, title: str, footer: str, language: str) -> discord.Embed:
    """Numbered sources (headline, outlet, date, link, quote preview) within every embed limit:
    quote previews shrink, then trailing sources go, until the whole embed fits."""
    shown = list(sources[:EMBED_FIELDS])
    name_chars = min(EMBED_FIELD_NAME_CHARS, max(40, EMBED_TOTAL_CHARS // (3 * max(1, len(shown)))))
    for quote_chars in QUOTE_STEPS:
        while shown:
            embed = discord.Embed(title=fit(title, EMBED_TITLE_CHARS, one_line=True), colour=EMBED_COLOUR)
            for c in shown:
                name = fit(f"[{c.number}] {c.title}", name_chars, one_line=True)
                embed.add_field(name=name, value=_source_value(c, quote_chars, language), inline=False)
            hidden = len(sources) - len(shown)
            note = f" · {t('more_sources', language, count=hidden)}" if hidden else ""
            embed.set_footer(text=fit(footer, EMBED_FOOTER_CHARS - len(note), one_line=True) + note)
            if len(embed) <= EMBED_TOTAL_CHARS:
                return embed
            if quote_chars:
                break  # try a shorter preview before dropping sources
            shown.pop()
    return discord.Embed(title=fit(title, EMBED_TITLE_CHARS, one_line=True), colour=EMBED_COLOUR)


def passages_messages(answer: Answer) -> list[OutgoingMessage]:
    """The full quoted passage of every source (the "Fuentes" button): one embed per source,
    grouped into as few messages as the per-message limits (10 embeds, 6000 chars) allow."""
    language = ui_language(answer.language)
    embeds = []
    for c in answer_sources(answer):
        title = fit(f"[{c.number}] {c.title}", EMBED_TITLE_CHARS, one_line=True)
        footer = fit(" · ".join(p for p in (c.outlet, c.date) if p), 200, one_line=True)
        room = min(EMBED_DESCRIPTION_CHARS, EMBED_TOTAL_CHARS - len(title) - len(footer))
        embed = discord.Embed(title=title, description=fit(c.quote, room) or "—", url=link_for(c) or None)
        embed.colour = EMBED_COLOUR
        if footer:
            embed.set_footer(text=footer)
        embeds.append(embed)
    if not embeds:
        return [text_message(t("no_passages", language))]
    messages: list[OutgoingMessage] = []
    for embed in embeds:
        current = messages[-1].embeds if messages else None
        if (
            current is None
            or len(current) >= EMBEDS_PER_MESSAGE
            or sum(map(len, current)) + len(embed) > EMBED_TOTAL_CHARS
        ):
            messages.append(OutgoingMessage(embeds=[embed]))
        else:
            current.append(embed)
    return messages


def thread_name(question: str) -> str:
    """A thread title from the question (thread names show no Markdown and ping no one)."""
    return shorten(fold(question), THREAD_NAME_CHARS) or "?"


def question_header(user: str, question: str, language: str) -> str:
    """The message a slash-command question is shown as (the thread opens on it)."""
    header = t("question_header", language, user=fit(user, 80, one_line=True), question="")
    return header + fit(question, MESSAGE_CHARS - len(header))


# -- lists and reports ---------------------------------------------------------------------


def _bounded_lines(lines: Sequence[str], limit: int, language: str) -> str:
    """Lines joined by newlines, the tail replaced by "… and N more" when they do not fit."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        left_after = len(lines) - index - 1
        reserve = len(t("and_more", language, count=left_after)) + 1 if left_after else 0
        if used + len(line) + reserve > limit:
            out.append(t("and_more", language, count=len(lines) - index))
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def articles_embed(infos: Sequence[ArticleInfo], *, query: str | None, offset: int, language: str) -> discord.Embed:
    """One page of /sources: numbered, newest first, headline — outlet, date."""
    title = t("articles_query_title", language, query=fold(query)[:150]) if query else t("articles_title", language)
    lines = []
    for n, info in enumerate(infos, start=offset + 1):
        outlet = fit(info.outlet, 80, one_line=True) or "—"
        lines.append(f"{n}. **{fit(info.title, 200, one_line=True)}** — {outlet}, {info.date}")
    description = _bounded_lines(lines, EMBED_DESCRIPTION_CHARS, language) if lines else t("no_articles", language)
    embed = discord.Embed(
        title=fit(title, EMBED_TITLE_CHARS, one_line=True), description=description, colour=EMBED_COLOUR
    )
    return embed


def stats_embed(stats: dict[str, object], answers: int, up: int, down: int, language: str) -> discord.Embed:
    """/stats: what is indexed, when it was last fed, and how the answers were rated."""
    embed = discord.Embed(title=t("stats_title", language), colour=EMBED_COLOUR)
    embed.add_field(name=t("stats_articles", language), value=str(stats.get("articles", 0)))
    embed.add_field(name=t("stats_chunks", language), value=str(stats.get("chunks", 0)))
    last = stats.get("last_ingest") or t("stats_never", language)
    embed.add_field(name=t("stats_last_ingest", language), value=fit(str(last), 100, one_line=True))
    embed.add_field(name=t("stats_model", language), value=fit(str(stats.get("embed_model", "?")), 100, one_line=True))
    embed.add_field(name=t("stats_answers", language), value=str(answers))
    embed.add_field(name=t("stats_votes", language), value=f"👍 {up} · 👎 {down}")
    return embed


def ingest_report_embed(report: IngestReport, language: str) -> discord.Embed:
    """/ingest's reply: counts, then the files in each group (skipped ones with the reason)."""
    summary = t(
        "ingest_summary",
        language,
        added=len(report.added),
        updated=len(report.updated),
        unchanged=len(report.unchanged),
        skipped=len(report.skipped),
        chunks=report.chunks,
    )
    embed = discord.Embed(description=summary, colour=EMBED_COLOUR)
    groups = (
        ("ingest_added", [safe(source_name(s)) for s in report.added]),
        ("ingest_updated", [safe(source_name(s)) for s in report.updated]),
        ("ingest_unchanged", [safe(source_name(s)) for s in report.unchanged]),
        ("ingest_skipped", [f"{safe(source_name(s))}: {fit(r, 300, one_line=True)}" for s, r in report.skipped]),
    )
    for key, lines in groups:
        if lines:
            embed.add_field(
                name=t(key, language), value=_bounded_lines(lines, EMBED_FIELD_VALUE_CHARS, language), inline=False
            )
    return embed
