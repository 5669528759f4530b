"""The bot's pure rendering: splitting, neutralising, embeds within Discord's limits."""

from __future__ import annotations

import json
import re

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render
from bot.limits import (
    EMBED_DESCRIPTION_CHARS,
    EMBED_FIELD_NAME_CHARS,
    EMBED_FIELD_VALUE_CHARS,
    EMBED_FIELDS,
    EMBED_TITLE_CHARS,
    EMBED_TOTAL_CHARS,
    EMBEDS_PER_MESSAGE,
    MESSAGE_CHARS,
)
from bot.render import neutralise_mentions, passages_messages, safe, shorten, split_message
from bot.texts import guess_language
from bot.views import answer_messages
from index import Answer, Citation, IngestReport

# What Discord would turn into a ping or a channel link.
LIVE_MENTION = re.compile(r"@everyone|@here|<@!?\d+>|<@&\d+>|<#\d+>")
MARKER = re.compile(r"\[\d+\]")
ANSWER_ID = "0123456789ab"


def citation(number: int, **changes: object) -> Citation:
    fields: dict[str, object] = {
        "number": number,
        "source": f"/srv/news/article-{number}.txt",
        "title": f"Titular número {number}",
        "outlet": "Diario del Valle",
        "date": "2026-02-03",
        "quote": f"Las presas están al {40 + number} % de su capacidad.",
        "url": "",
    }
    fields.update(changes)
    return Citation(**fields)  # type: ignore[arg-type]


def make_answer(text: str, citations: list[Citation], **changes: object) -> Answer:
    fields: dict[str, object] = {
        "question": "¿Cómo están las presas?",
        "text": text,
        "citations": citations,
        "refused": False,
        "language": "es",
    }
    fields.update(changes)
    return Answer(**fields)  # type: ignore[arg-type]


def check_embed_limits(embed: discord.Embed) -> None:
    assert len(embed) <= EMBED_TOTAL_CHARS
    assert len(embed.title or "") <= EMBED_TITLE_CHARS
    assert len(embed.description or "") <= EMBED_DESCRIPTION_CHARS
    assert len(embed.fields) <= EMBED_FIELDS
    for f in embed.fields:
        assert 0 < len(f.name or "") <= EMBED_FIELD_NAME_CHARS
        assert 0 < len(f.value or "") <= EMBED_FIELD_VALUE_CHARS


def long_answer_text(sentences: int) -> str:
    """Sentences ending in citation markers, in paragraphs of five."""
    parts = []
    for n in range(sentences):
        parts.append(
            f"El nivel de las presas de Valle Alto era del {n % 60} % según el informe número {n} [{n % 12 + 1}]."
        )
        if n % 5 == 4:
            parts.append("\n\n")
        else:
            parts.append(" ")
    return "".join(parts).strip()


# -- neutralising and escaping ---------------------------------------------------------------


def test_every_kind_of_mention_is_neutralised() -> None:
    text = "Aviso @everyone y @here: <@123> <@!45678901234567890> <@&987654321098765432> en <#555>, @EVERYONE"
    out = neutralise_mentions(text)
    assert not LIVE_MENTION.search(out)
    assert not re.search(r"@everyone|@here", out, re.IGNORECASE)
    assert out.replace(render.ZWSP, "") == text  # readers see the same characters


def test_markdown_from_articles_is_shown_not_interpreted() -> None:
    text = "# Titular falso\n```\ncódigo sin cerrar\n[pulsa aquí](https://malo.example) y **negrita** @here"
    out = safe(text)
    assert "\\# Titular falso" in out
    assert "```" not in out.replace("\\`", "")
    assert "\\[pulsa aquí](https://malo.example)" in out
    assert "\\*\\*negrita\\*\\*" in out
    assert not LIVE_MENTION.search(out)


# -- shortening and splitting ------------------------------------------------------------------


def test_shorten_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "Las presas de Valle Alto bajan al 41 por ciento de su capacidad total"
    out = shorten(text, 30)
    assert len(out) <= 30
    assert out.endswith("…")
    assert text.startswith(out[:-1])
    assert out[:-1].split()[-1] in text.split()  # a whole word before the ellipsis
    assert shorten(text, len(text)) == text


def test_shorten_never_cuts_a_citation_marker() -> None:
    text = "x" * 40 + "[12]" + "y" * 40  # no spaces: a forced cut
    for limit in range(38, 50):
        out = shorten(text, limit)
        assert len(out) <= limit
        assert "[1…" not in out and "[…" not in out and "[12…" not in out


def test_split_prefers_paragraphs_and_keeps_markers_whole() -> None:
    text = long_answer_text(120)
    assert len(text) > 3 * MESSAGE_CHARS
    chunks = split_message(text)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert len(chunk) <= MESSAGE_CHARS
        assert not MARKER.match(chunk)  # a marker never starts a message: it stays with its sentence
        assert chunk.endswith("].")  # cut after a sentence and its marker
    assert MARKER.findall(" ".join(chunks)) == MARKER.findall(text)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())
    # Paragraph breaks are preferred when one falls in the second half of a message.
    assert all(text.count(chunk) == 1 for chunk in chunks)
    assert sum(text.find(chunk + "\n\n") >= 0 for chunk in chunks[:-1]) == len(chunks) - 1


words = st.sampled_from(
    ["presas", "41 %", "Valle", "Alto", "[1]", "[12]", "lluvia.", "año", "—", "@everyone", "x" * 30]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=200), st.integers(min_value=40, max_value=400))
def test_split_property(tokens: list[str], limit: int) -> None:
    text = " ".join(tokens)
    chunks = split_message(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert " ".join(chunks).split() == text.split()  # nothing lost, nothing cut inside a word
    assert MARKER.findall(" ".join(chunks)) == MARKER.findall(text)


def test_split_text_of_markers_only_still_cuts_between_them() -> None:
    text = " ".join(["[1]", "[12]"] * 40)
    chunks = split_message(text, 50)
    assert all(len(c) <= 50 for c in chunks)
    assert " ".join(chunks).split() == text.split()


# -- answers -----------------------------------------------------------------------------------


def test_answer_payload_numbers_sources_and_carries_buttons() -> None:
    citations = [
        citation(1, url="https://diario.example/presas (1)"),
        citation(2, title="Sin enlace", source="/srv/news/b.txt"),
    ]
    messages = answer_messages(make_answer("Bajaron al 41 % [1] y luego al 35 % [2].", citations), ANSWER_ID)
    assert len(messages) == 1
    message = messages[0]
    assert message.content == "Bajaron al 41 % [1] y luego al 35 % [2]."
    (embed,) = message.embeds
    check_embed_limits(embed)
    assert embed.title == "Fuentes"
    assert [f.name for f in embed.fields] == ["[1] Titular número 1", "[2] Sin enlace"]
    assert "Diario del Valle · 2026-02-03" in (embed.fields[0].value or "")
    assert "(https://diario.example/presas%20%281%29)" in (embed.fields[0].value or "")  # a link that cannot break out
    assert "http" not in (embed.fields[1].value or "")  # a file source has no link, and its path is not shown
    assert "/srv" not in json.dumps(embed.to_dict())
    assert ANSWER_ID in (embed.footer.text or "")
    components = message.to_dict()["components"]
    ids = [c["custom_id"] for row in components for c in row["components"]]
    assert ids == [f"nb:vote:up:{ANSWER_ID}", f"nb:vote:down:{ANSWER_ID}", f"nb:src:{ANSWER_ID}"]
    assert message.send_kwargs()["allowed_mentions"].to_dict() == {"parse": []}  # no one, not even a replied-to user


def test_long_answer_is_split_and_only_the_last_message_has_sources_and_buttons() -> None:
    text = long_answer_text(90)
    messages = answer_messages(make_answer(text, [citation(n) for n in range(1, 13)]), ANSWER_ID)
    assert len(messages) >= 3
    assert all(len(m.content) <= MESSAGE_CHARS for m in messages)
    assert all(not m.embeds and m.view is None for m in messages[:-1])
    assert messages[-1].embeds and messages[-1].view is not None
    assert " ".join(" ".join(m.content for m in messages).split()) == " ".join(text.split())


def test_huge_sources_still_fit_every_embed_limit() -> None:
    citations = [
        citation(
            n,
            title="Titular larguísimo " * 40,
            outlet="Medio " * 60,
            quote="Una cita muy larga sobre el agua. " * 200,
            url="https://medio.example/" + "a" * 400,
        )
        for n in range(1, 41)
    ]
    (message,) = answer_messages(make_answer("Respuesta [1].", citations), ANSWER_ID)
    (embed,) = message.embeds
    check_embed_limits(embed)
    shown = len(embed.fields)
    assert 1 <= shown <= EMBED_FIELDS
    assert f"{40 - shown} fuentes más" in (embed.footer.text or "")
    for passage_message in passages_messages(make_answer("x", citations)):
        assert len(passage_message.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in passage_message.embeds) <= EMBED_TOTAL_CHARS
        for e in passage_message.embeds:
            check_embed_limits(e)


def test_quote_preview_is_shortened_but_passages_are_full() -> None:
    quote = "La Comisión Municipal del Agua informó que las tres presas están al 41 % de su capacidad. " * 6
    answer = make_answer("Están al 41 % [1].", [citation(1, quote=quote.strip())])
    (message,) = answer_messages(answer, ANSWER_ID)
    preview = message.embeds[0].fields[0].value or ""
    assert preview.endswith("…") and len(preview) < len(quote)
    (passages,) = passages_messages(answer)
    assert passages.embeds[0].description == safe(quote.strip())


def test_hostile_article_text_reaches_no_field_unneutralised() -> None:
    evil = "@everyone <@123456789012345678> <@&42> <#7> ```"
    answer = make_answer(f"Aviso: {evil} [1]", [citation(1, title=evil, outlet=evil, quote=evil)])
    payload = json.dumps([m.to_dict() for m in answer_messages(answer, ANSWER_ID)], ensure_ascii=False)
    payload += json.dumps([m.to_dict() for m in passages_messages(answer)], ensure_ascii=False)
    assert not LIVE_MENTION.search(payload)
    assert "```" not in payload.replace("\\\\`", "")


def test_refusal_offers_the_closest_articles() -> None:
    answer = make_answer(
        "No encuentro esa información en los artículos indexados.",
        [],
        refused=True,
        see_also=[citation(1), citation(2)],
    )
    (message,) = answer_messages(answer, ANSWER_ID)
    assert message.embeds[0].title == "Artículos más cercanos"
    bare = answer_messages(make_answer("No encuentro nada.", [], refused=True), ANSWER_ID)[0]
    assert bare.embeds == []
    ids = [c["custom_id"] for row in bare.to_dict()["components"] for c in row["components"]]
    assert ids == [f"nb:vote:up:{ANSWER_ID}", f"nb:vote:down:{ANSWER_ID}"]  # nothing to show under "Fuentes"


def test_english_answer_gets_english_labels() -> None:
    (message,) = answer_messages(make_answer("Aid approved [1].", [citation(1)], language="en"), ANSWER_ID)
    assert message.embeds[0].title == "Sources"
    labels = [c.get("label") for row in message.to_dict()["components"] for c in row["components"]]
    assert "Sources" in labels


def test_dry_run_shape_is_plain_json() -> None:
    messages = answer_messages(make_answer("Texto [1].", [citation(1)]), ANSWER_ID)
    data = json.loads(json.dumps([m.to_dict() for m in messages]))
    assert set(data[0]) == {"content", "embeds", "components", "allowed_mentions"}
    assert data[0]["allowed_mentions"]["parse"] == []


# -- reports and languages -----------------------------------------------------------------------


def test_ingest_report_names_files_not_server_paths() -> None:
    report = IngestReport(
        added=["/var/lib/newsbot/uploads/1/nota.txt"],
        skipped=[("foto.png", "tipo no admitido"), ("/var/lib/newsbot/uploads/1/datos.json#3", "falta la fecha")],
    )
    embed = render.ingest_report_embed(report, "es")
    check_embed_limits(embed)
    text = json.dumps(embed.to_dict(), ensure_ascii=False)
    assert "nota.txt" in text and "foto.png: tipo no admitido" in text and "datos.json#3: falta la fecha" in text
    assert "/var/lib" not in text


def test_ingest_report_with_many_files_stays_within_limits() -> None:
    report = IngestReport(added=[f"/u/articulo-{n:04d}-con-un-nombre-largo.txt" for n in range(500)])
    embed = render.ingest_report_embed(report, "es")
    check_embed_limits(embed)
    assert "más" in (embed.fields[0].value or "")


def test_guess_language() -> None:
    assert guess_language("¿Cuándo abre la Línea 3?") == "es"
    assert guess_language("When will the new line open?") == "en"
    assert guess_language("presas", "en-US") == "en"  # no telling words: the user's locale decides
    assert guess_language("presas") == "es"
