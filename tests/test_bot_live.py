"""The Discord bot end to end: the real bot object and discord.py's real machinery against
simcord's in-memory Discord, over a real index of the bundled sample articles.

Every test acts as a user (slash command, mention, message in a thread, button click) and
asserts what that user sees.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord

from bot import render, views
from bot.client import NewsBot, bot_intents
from bot.limits import MESSAGE_CHARS, BotLimits, Busy
from bot.replies import failure_text
from bot.storage import Storage
from index import SUPPORTED_SUFFIXES, Answer, Citation, NewsIndex, QuestionError, Settings, StoreError
from index.cli import main as newsbot_main

from .fakes import NO_COOLDOWN, make_bot
from .loopback_site import Site

ROOT = Path(__file__).resolve().parents[1]
LIVE_MENTION = re.compile(r"@everyone|@here|<@!?\d+>|<@&\d+>|<#\d+>")
ERROR_ID = re.compile(r"`([0-9a-f]{8})`")

WEB_PAGE = (
    "<html><head><title>Cortes de agua en Las Lomas</title>"
    '<meta property="article:published_time" content="2026-03-02T10:00:00-06:00"></head>'
    "<body><article><h1>Cortes de agua en Las Lomas</h1>"
    + "<p>El servicio de agua potable se cortará el 12 de marzo en el barrio de Las Lomas por obras.</p>" * 4
    + "</article></body></html>"
).encode()
Q_LEVEL = "¿A qué nivel bajaron las presas de Valle Alto en febrero?"
Q_AID = "¿Cuánto dinero aprobó el gobierno federal para Valle Alto?"
Q_AID_FOLLOW_UP = "¿y en qué se va a gastar?"
Q_METRO = "¿Cuándo abrirá la Línea 3 del metro?"


@pytest.fixture(scope="session")
def warm_index(sample_index: NewsIndex) -> NewsIndex:
    """conftest's shared sample index, warmed up (language models, BM25) once, so no test pays
    for that under simcord's settle timer. Tests may spy on `ask` with monkeypatch, never ingest."""
    sample_index.ask(Q_METRO)
    return sample_index


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "feedback.sqlite3"


@dataclass(frozen=True)
class Setup:
    """How a test wants its bot; pass one with `@pytest.mark.parametrize("setup", [Setup(...)])`."""

    limits: BotLimits = NO_COOLDOWN
    empty_index: bool = False  # a fresh, empty store instead of the shared sample index
    guild_id: int = 0
    allow_private_urls: bool = False  # with empty_index: the index may fetch from 127.0.0.1


@pytest.fixture
def setup() -> Setup:
    return Setup()


@pytest.fixture
def index_for_test(setup: Setup, warm_index: NewsIndex, tmp_path: Path) -> NewsIndex:
    if not setup.empty_index:
        return warm_index
    store = tmp_path / "store"
    settings = Settings(store=str(store), allow_private_urls=setup.allow_private_urls, fetch_delay=0.0)
    return NewsIndex(store, settings=settings)


@pytest.fixture
def simcord_bot(setup: Setup, index_for_test: NewsIndex, db_path: Path) -> NewsBot:
    return make_bot(index_for_test, db_path, setup.limits, guild_id=setup.guild_id)


@dataclass
class World:
    env: simcord.Env
    bot: NewsBot
    guild: Any
    channel: Any
    alice: Any
    bob: Any
    admin: Any


@pytest.fixture
async def world(simcord_env: simcord.Env, setup: Setup) -> World:
    guild = simcord_env.create_guild("Redacción", id=setup.guild_id or None)
    channel = guild.create_text_channel("noticias")
    admins = guild.create_role("Editores", permissions=discord.Permissions(manage_guild=True))
    return World(
        simcord_env,
        simcord_env.bot,  # type: ignore[arg-type]
        guild,
        channel,
        guild.add_member(simcord_env.create_user("alice")),
        guild.add_member(simcord_env.create_user("bob")),
        guild.add_member(simcord_env.create_user("editora"), roles=[admins]),
    )


def components(message: Any) -> list[dict[str, Any]]:
    rows = message.components if isinstance(message.components[0], dict) else [c.to_dict() for c in message.components]
    return [c for row in rows for c in row["components"]]


def custom_id(message: Any, prefix: str) -> str:
    return next(c["custom_id"] for c in components(message) if c.get("custom_id", "").startswith(prefix))


def bot_messages(channel: Any, viewer: Any = None) -> list[discord.Message]:
    return [m for m in channel.history(viewer=viewer) if m.author.bot]


class AskSpy:
    """Wraps the real `idx.ask` to record how the bot called it (the answer is the real one)."""

    def __init__(self, idx: NewsIndex, monkeypatch: pytest.MonkeyPatch, on_call: Callable[[], Any] | None = None):
        self.calls: list[tuple[str, list[str]]] = []
        self.states: list[Any] = []
        real = idx.ask
        self.on_call = on_call

        def ask(question: str, **kwargs: Any) -> Answer:
            self.calls.append((question, list(kwargs.get("history", ()))))
            if self.on_call is not None:
                self.states.append(self.on_call())
            return real(question, **kwargs)

        monkeypatch.setattr(idx, "ask", ask)


# -- asking ----------------------------------------------------------------------------------


async def test_slash_ask_is_acknowledged_first_then_answered_in_a_thread(
    world: World, sample_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    def acknowledged() -> bool:  # what Discord had been told by the time the index starts working
        return any("/callback" in r.path and r.json == {"type": 5} for r in world.env.http_requests)

    spy = AskSpy(sample_index, monkeypatch, on_call=acknowledged)
    result = await world.alice.slash(world.channel, "ask", pregunta=Q_LEVEL)

    assert spy.calls == [(Q_LEVEL, [])] and spy.states == [True]  # "thinking…" shown before the slow part
    assert result.acknowledged and not result.ephemeral
    assert result.response is not None
    assert result.response.content == f"**Pregunta de alice:** {render.safe(Q_LEVEL)}"
    (thread,) = world.channel.threads
    assert thread.id == result.response.id  # the thread hangs off the question message
    assert thread.name == Q_LEVEL
    (answer,) = bot_messages(thread)
    assert "41 %" in answer.content and "[1]" in answer.content
    (embed,) = answer.embeds
    assert embed.title == "Fuentes"
    assert embed.fields[0].name.startswith("[1] Las presas de Valle Alto bajan al 41 %")
    assert "Diario del Valle · 2026-02-03" in embed.fields[0].value
    assert [c.get("emoji", {}).get("name") for c in components(answer)] == ["👍", "👎", "📚"]
    assert not answer.mention_everyone and not answer.mentions


async def test_mentions_only_in_enabled_channels(world: World) -> None:
    me = world.bot.user
    assert me is not None
    await world.alice.send(world.channel, f"{me.mention} {Q_METRO}")
    assert bot_messages(world.channel) == [] and world.channel.threads == []  # channels start off

    enabled = await world.admin.slash(world.channel, "channels", activar=True)
    assert enabled.ephemeral and enabled.response.content == f"Done: I answer mentions in {world.channel.mention}."
    question = await world.alice.send(world.channel, f"{me.mention} {Q_METRO}")
    (thread,) = world.channel.threads
    assert thread.id == question.id  # opened on alice's own message
    (answer,) = bot_messages(thread)
    assert "1 de junio" in answer.content and answer.embeds[0].fields[0].name.startswith("[1] La Línea 3")

    listed = await world.admin.slash(world.channel, "channels")
    assert world.channel.mention in listed.response.content
    await world.admin.slash(world.channel, "channels", activar=False)
    await world.alice.send(world.channel, f"{me.mention} ¿Cuántas estaciones tendrá?")
    assert len(world.channel.threads) == 1  # ignored again
    await world.alice.send(world.channel, "¿Cuándo abrirá la Línea 3?")  # no mention: never answered
    assert len(world.channel.threads) == 1

    empty = await world.admin.slash(world.channel, "channels", activar=True)
    assert empty.ephemeral
    await world.alice.send(world.channel, me.mention)  # a mention with no question gets a hint
    assert bot_messages(world.channel)[-1].content.startswith("What would you like to know?")  # the server's locale


async def test_follow_up_in_the_thread_needs_no_mention_and_keeps_context(
    world: World, sample_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = sample_index.ask(Q_AID_FOLLOW_UP, history=[Q_AID])
    without_context = sample_index.ask(Q_AID_FOLLOW_UP)
    assert without_context.refused and not expected.refused  # the context is what makes it answerable
    spy = AskSpy(sample_index, monkeypatch)

    await world.alice.slash(world.channel, "ask", pregunta=Q_AID)
    (thread,) = world.channel.threads
    await world.alice.send(thread, Q_AID_FOLLOW_UP)

    assert spy.calls == [(Q_AID, []), (Q_AID_FOLLOW_UP, [Q_AID])]
    follow_up = bot_messages(thread)[-1]
    assert follow_up.content == render.safe(expected.text)
    assert follow_up.reference is not None and follow_up.reference.message_id is not None  # replies to the follow-up

    # In a thread the bot did not answer in, plain messages are not for it.
    other = world.channel.threads[0]
    await world.alice.send(world.channel, "hola a todos")
    assert len(bot_messages(other)) == 2


async def test_slash_ask_inside_the_thread_answers_there_with_context(
    world: World, sample_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = AskSpy(sample_index, monkeypatch)
    await world.alice.slash(world.channel, "ask", pregunta=Q_AID)
    (thread,) = world.channel.threads
    result = await world.bob.slash(thread, "ask", pregunta=Q_AID_FOLLOW_UP)
    assert spy.calls[-1] == (Q_AID_FOLLOW_UP, [Q_AID])
    assert result.response is not None and result.response.channel_id == thread.id
    assert result.response.embeds and components(result.response)
    assert len(world.channel.threads) == 1  # no thread inside the thread


# -- buttons ---------------------------------------------------------------------------------


async def test_votes_are_stored_changed_and_survive_a_restart(
    world: World, sample_index: NewsIndex, db_path: Path
) -> None:
    await world.alice.slash(world.channel, "ask", pregunta=Q_LEVEL)
    (thread,) = world.channel.threads
    (answer,) = bot_messages(thread)
    up, down, sources = (custom_id(answer, p) for p in ("nb:vote:up", "nb:vote:down", "nb:src"))

    saved = await world.alice.click(answer, custom_id=up)
    assert saved.ephemeral and saved.response.content == "¡Gracias! Guardé tu 👍."
    changed = await world.alice.click(answer, custom_id=down)
    assert changed.response.content == "Cambié tu voto a 👎."
    await world.bob.click(answer, custom_id=up)
    rows = Storage(db_path).feedback()
    assert [(r["user_id"], r["vote"]) for r in rows] == [(world.alice.id, -1), (world.bob.id, 1)]
    assert rows[0]["question"] == Q_LEVEL and "41 %" in str(rows[0]["answer"])

    await world.env.restart_bot(make_bot(sample_index, db_path))  # a new process, the same database

    again = await world.alice.click(answer, custom_id=up)
    assert again.ephemeral and again.response.content == "Cambié tu voto a 👍."
    assert [(r["user_id"], r["vote"]) for r in Storage(db_path).feedback()] == [(world.bob.id, 1), (world.alice.id, 1)]
    passages = await world.bob.click(answer, custom_id=sources)
    assert passages.ephemeral and "41 %" in (passages.response.embeds[0].description or "")


async def test_sources_button_shows_full_passages_to_the_clicker_only(world: World, sample_index: NewsIndex) -> None:
    await world.alice.slash(world.channel, "ask", pregunta="¿Qué anunció la alcaldesa sobre los tandeos?")
    (thread,) = world.channel.threads
    (answer,) = bot_messages(thread)
    result = await world.bob.click(answer, custom_id=custom_id(answer, "nb:src"))

    assert result.ephemeral and result.response is not None
    shown = [e.description or "" for e in result.response.embeds]
    assert len(shown) == len(answer.embeds[0].fields)
    assert any("Laura Méndez" in text for text in shown)
    preview = answer.embeds[0].fields[0].value
    assert len(shown[0]) >= len(preview.split("\n> ", 1)[-1].rstrip("…"))  # the full passage, not the preview
    assert result.response.id not in [m.id for m in thread.history(viewer=world.alice)]  # alice does not see it
    assert result.response.id in [m.id for m in thread.history(viewer=world.bob)]


# -- listings --------------------------------------------------------------------------------


async def test_sources_lists_newest_first_in_pages(
    world: World, sample_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.commands.SOURCES_PAGE_SIZE", 4)
    newest_first = [info.title for info in sample_index.list_articles(limit=100)]
    assert len(newest_first) == 6

    first = await world.alice.slash(world.channel, "sources")
    assert first.ephemeral and first.response is not None
    page = first.response.embeds[0].description or ""
    assert [line.split("**")[1] for line in page.splitlines()] == [render.fit(t, 200) for t in newest_first[:4]]
    buttons = components(first.response)
    assert [b["disabled"] for b in buttons] == [True, False]  # no previous page yet

    second = await world.alice.click(first.response, custom_id=buttons[1]["custom_id"])
    page = second.response.embeds[0].description or ""
    assert page.startswith("5. ") and len(page.splitlines()) == 2
    assert [b["disabled"] for b in components(second.response)] == [False, True]

    metro = await world.alice.slash(world.channel, "sources", consulta="metro Línea 3")
    lines = (metro.response.embeds[0].description or "").splitlines()
    assert lines and "Línea 3" in lines[0]
    assert not components_or_empty(metro.response)  # one page: no buttons


def components_or_empty(message: Any) -> list[dict[str, Any]]:
    return components(message) if message.components else []


async def test_stats(world: World, sample_index: NewsIndex) -> None:
    await world.alice.slash(world.channel, "ask", pregunta=Q_METRO)
    result = await world.alice.slash(world.channel, "stats")
    assert result.ephemeral
    fields = {f.name: f.value for f in result.response.embeds[0].fields}
    stats = sample_index.stats()
    assert fields["Articles"] == str(stats["articles"]) == "6"  # simcord users have the en-US locale
    assert fields["Last ingest"] == str(stats["last_ingest"])
    assert fields["Answers given"] == "1"


# -- admin -----------------------------------------------------------------------------------


HOSTILE_ARTICLE = """---
title: "Aviso urgente @everyone: corte de agua en el barrio de Las Lomas"
date: 2026-03-10
outlet: "Gaceta <@&{role}>"
url: https://gaceta.example/aviso-corte
---

# Aviso

El servicio de agua potable se cortará el 12 de marzo en el barrio de Las Lomas,
avisó <@{user}> a @everyone y @here en <#{channel}>.

```
Las pipas de agua llegarán a las Lomas por la tarde.
"""


@pytest.mark.parametrize("setup", [Setup(empty_index=True)])
async def test_admin_ingests_attachments_and_hostile_text_never_pings(
    world: World, index_for_test: NewsIndex, tmp_path: Path
) -> None:
    idx = index_for_test
    editors = world.guild.roles["Editores"]
    article = HOSTILE_ARTICLE.format(role=editors.id, user=world.alice.id, channel=world.channel.id)

    result = await world.admin.slash(
        world.channel,
        "ingest",
        archivo=("aviso-lomas.md", article.encode()),
        archivo2=("foto.png", b"\x89PNG not an article"),
    )
    assert result.ephemeral and result.response is not None
    report = result.response.embeds[0]
    assert report.description.startswith("Ingest done: 1 added")
    fields = {f.name: f.value for f in report.fields}
    assert fields["Added"] == "https://gaceta.example/aviso-corte"  # the article's identity: its URL
    assert fields["Skipped"].startswith("foto.png: unsupported type")
    assert [i.title for i in idx.list_articles()] == [
        "Aviso urgente @everyone: corte de agua en el barrio de Las Lomas"
    ]
    assert (tmp_path / "uploads" / str(world.guild.id) / "aviso-lomas.md").is_file()

    again = await world.admin.slash(world.channel, "ingest", archivo=("aviso-lomas.md", article.encode()))
    assert again.response.embeds[0].description.startswith("Ingest done: 0 added, 0 updated, 1 unchanged")

    # Someone asks about it: the answer quotes the article, and nobody is pinged.
    await world.admin.slash(world.channel, "channels", activar=True)
    await world.alice.send(world.channel, f"{world.bot.user.mention} ¿Cuándo cortarán el agua en Las Lomas?")
    (thread,) = world.channel.threads
    (answer,) = bot_messages(thread)
    passages = await world.bob.click(answer, custom_id=custom_id(answer, "nb:src"))
    for message in (answer, passages.response.message):
        everything = message.content + json.dumps([e.to_dict() for e in message.embeds], ensure_ascii=False)
        assert "12 de marzo" in everything
        assert not LIVE_MENTION.search(everything)
        assert "@\u200beveryone" in everything
        assert not message.mention_everyone and not message.mentions and not message.role_mentions
        assert "```" not in everything.replace("\\\\`", "")
    assert "(https://gaceta.example/aviso-corte)" in answer.embeds[0].fields[0].value


MARKDOWN_ARTICLE = """---
title: Nueva planta potabilizadora en Valle Alto
date: 2026-03-15
outlet: Diario del Valle
---

La planta potabilizadora de Valle Alto abrirá en mayo y tratará 300 litros por segundo.
"""
NDJSON_ARTICLES = (
    json.dumps({"title": "Tarifas de agua 2026", "date": "2026-03-16", "outlet": "Gaceta",
                "url": "https://gaceta.example/tarifas", "text": "Las tarifas de agua suben un 4 % en abril."})
    + "\n"
    + json.dumps({"title": "Obras en la avenida Central", "date": "2026-03-17", "outlet": "Gaceta",
                  "url": "https://gaceta.example/obras", "text": "Las obras de la avenida Central durarán dos meses."})
    + "\n"
)  # fmt: skip


@pytest.mark.parametrize("setup", [Setup(empty_index=True)])
async def test_admin_ingest_takes_every_suffix_the_index_reads(world: World, index_for_test: NewsIndex) -> None:
    # /ingest accepts what `newsbot ingest` reads (index.SUPPORTED_SUFFIXES), not a list of its own.
    result = await world.admin.slash(
        world.channel,
        "ingest",
        archivo=("planta.markdown", MARKDOWN_ARTICLE.encode()),
        archivo2=("gaceta.ndjson", NDJSON_ARTICLES.encode()),
        archivo3=("foto.png", b"\x89PNG not an article"),
    )
    report = result.response.embeds[0]
    assert report.description.startswith("Ingest done: 3 added")
    skipped = {f.name: f.value for f in report.fields}["Skipped"]
    assert skipped.startswith("foto.png: unsupported type (only ")
    assert all(suffix in skipped for suffix in SUPPORTED_SUFFIXES)  # the reply lists what is accepted
    titles = {i.title for i in index_for_test.list_articles()}
    assert titles == {
        "Nueva planta potabilizadora en Valle Alto",
        "Tarifas de agua 2026",
        "Obras en la avenida Central",
    }
    ingest = next(c for c in world.bot.synced_commands if c.name == "ingest")
    assert all(suffix in ingest.options[0].description for suffix in SUPPORTED_SUFFIXES)


@pytest.mark.parametrize("setup", [Setup(empty_index=True)])
async def test_admin_ingest_url_refuses_the_hosts_network(
    world: World, index_for_test: NewsIndex, tmp_path: Path
) -> None:
    with Site(tmp_path / "site") as site:
        site.add_page("nota.html", WEB_PAGE)
        for url in (site.url("/feed.xml"), "http://169.254.169.254/latest/meta-data/"):
            result = await world.admin.slash(world.channel, "ingest", url=url)
            fields = {f.name: f.value for f in result.response.embeds[0].fields}
            assert "resolves to a non-public address" in fields["Skipped"]
        assert site.requests == []
    result = await world.admin.slash(world.channel, "ingest", url="file:///etc/passwd")
    assert {f.name: f.value for f in result.response.embeds[0].fields}["Skipped"].endswith("not an http(s) URL")
    nothing = await world.admin.slash(world.channel, "ingest")
    assert nothing.ephemeral and "give a URL" in nothing.response.content
    assert index_for_test.list_articles() == []


@pytest.mark.parametrize("setup", [Setup(empty_index=True, allow_private_urls=True)])
async def test_admin_ingests_a_feed_url(world: World, index_for_test: NewsIndex, tmp_path: Path) -> None:
    with Site(tmp_path / "site") as site:
        path = site.add_page("nota.html", WEB_PAGE)
        result = await world.admin.slash(world.channel, "ingest", url=site.url("/feed.xml"))
    report = result.response.embeds[0]
    assert report.description.startswith("Ingest done: 1 added")
    assert {f.name: f.value for f in report.fields}["Added"] == site.url(path)
    [info] = index_for_test.list_articles()
    assert (info.title, info.date, info.source) == ("Cortes de agua en Las Lomas", "2026-03-02", site.url(path))


async def test_admin_commands_are_hidden_from_and_refused_to_others(world: World, sample_index: NewsIndex) -> None:
    assert "ingest" not in world.bob.available_commands(world.channel)
    assert "channels" not in world.bob.available_commands(world.channel)
    assert {"ask", "sources", "stats", "ingest", "channels"} <= set(world.admin.available_commands(world.channel))

    # A server may override the default in its settings; the run-time check still refuses.
    for name in ("ingest", "channels"):
        command = next(c for c in world.bot.synced_commands if c.name == name)
        world.guild.set_command_permissions(command, {world.bob: True})
    before = len(sample_index.list_articles(limit=100))
    refused = await world.bob.slash(world.channel, "ingest", archivo=("nota.txt", b"Un texto cualquiera."))
    assert refused.ephemeral
    assert "Manage Server" in refused.response.content  # simcord users have the en-US locale
    assert len(sample_index.list_articles(limit=100)) == before
    refused = await world.bob.slash(world.channel, "channels", activar=True)
    assert "Manage Server" in refused.response.content
    await world.bob.send(world.channel, f"{world.bot.user.mention} {Q_METRO}")
    assert world.channel.threads == []
    # Both refusals came from discord.py's run-time permission check (answered by NewsTree.on_error).
    errors = world.env.errors
    assert len(errors) == 2 and all(isinstance(e, discord.app_commands.MissingPermissions) for e in errors)


# -- limits and failures ---------------------------------------------------------------------


@pytest.mark.parametrize("setup", [Setup(limits=BotLimits(cooldown_seconds=30))])
async def test_cooldown_per_user(world: World) -> None:
    await world.alice.slash(world.channel, "ask", pregunta=Q_METRO)
    second = await world.alice.slash(world.channel, "ask", pregunta="¿Cuántas estaciones tendrá la Línea 3?")
    assert second.ephemeral and second.response.content == "Espera 30 s antes de hacer otra pregunta, por favor."
    english = await world.alice.slash(world.channel, "ask", pregunta="When does the new metro line open?")
    assert english.response.content.startswith("Please wait")
    other_user = await world.bob.slash(world.channel, "ask", pregunta=Q_LEVEL)
    assert not other_user.ephemeral

    await world.env.advance_time(30)
    third = await world.alice.slash(world.channel, "ask", pregunta="¿Cuántas estaciones tendrá la Línea 3?")
    assert not third.ephemeral and len(world.channel.threads) == 3


@pytest.mark.parametrize("setup", [Setup(limits=BotLimits(cooldown_seconds=0, max_concurrent_questions=2))])
async def test_busy_when_every_slot_is_taken(world: World) -> None:
    await world.admin.slash(world.channel, "channels", activar=True)
    release = asyncio.Event()
    in_flight = [asyncio.create_task(world.bot.slots.run(release.wait, 60)) for _ in range(2)]  # two long questions
    await asyncio.sleep(0)

    busy = await world.alice.slash(world.channel, "ask", pregunta=Q_METRO)
    assert busy.ephemeral and busy.response.content.startswith("Ahora mismo estoy respondiendo otras preguntas")
    await world.bob.send(world.channel, f"{world.bot.user.mention} What did the federal government approve?")
    assert bot_messages(world.channel)[-1].content.startswith("I'm answering other questions right now")
    assert world.channel.threads == []

    release.set()
    await asyncio.gather(*in_flight)
    answered = await world.alice.slash(world.channel, "ask", pregunta=Q_METRO)
    assert not answered.ephemeral and len(world.channel.threads) == 1


async def test_long_answer_is_split_across_messages(
    world: World, sample_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    sentence = "Las presas de Valle Alto siguen bajando según la Comisión Municipal del Agua [{}]."
    text = "\n\n".join(" ".join(sentence.format(n % 3 + 1) for n in range(12)) for _ in range(5))
    citations = [Citation(n, f"/a{n}.txt", f"Titular {n}", "Diario", "2026-03-02", "Cita.") for n in (1, 2, 3)]
    monkeypatch.setattr(sample_index, "ask", lambda q, **_: Answer(q, text, citations, False, "es"))

    await world.alice.slash(world.channel, "ask", pregunta=Q_LEVEL)
    (thread,) = world.channel.threads
    messages = bot_messages(thread)
    assert len(messages) == 3 and len(text) > 2 * MESSAGE_CHARS
    assert all(len(m.content) <= MESSAGE_CHARS for m in messages)
    assert all(re.search(r"\[\d\]\.$", m.content) for m in messages)  # each ends with a sentence and its marker
    assert "\n\n".join(m.content for m in messages) == text
    assert [bool(m.embeds) for m in messages] == [False, False, True]
    assert [bool(m.components) for m in messages] == [False, False, True]


async def test_backend_failure_is_an_apology_with_an_error_id(
    world: World, sample_index: NewsIndex, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(question: str, **_: Any) -> Answer:
        raise StoreError("cannot read the store: disk I/O error")

    monkeypatch.setattr(sample_index, "ask", broken)
    caplog.set_level(logging.ERROR, logger="bot")
    result = await world.alice.slash(world.channel, "ask", pregunta=Q_LEVEL)
    assert result.response is not None and not result.ephemeral
    assert result.response.content.startswith("Lo siento, algo falló al responder.")
    (error_id,) = ERROR_ID.findall(result.response.content)
    (record,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[0] is StoreError  # the traceback is in the log
    assert "disk I/O" not in result.response.content  # ...not in the channel

    await world.admin.slash(world.channel, "channels", activar=True)
    await world.bob.send(world.channel, f"{world.bot.user.mention} {Q_METRO}")
    (thread,) = world.channel.threads
    assert ERROR_ID.search(bot_messages(thread)[-1].content)


async def test_a_failing_click_is_an_apology_not_silence(
    world: World, sample_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.commands.SOURCES_PAGE_SIZE", 4)
    await world.alice.slash(world.channel, "ask", pregunta=Q_LEVEL)
    (thread,) = world.channel.threads
    (answer,) = bot_messages(thread)
    listing = await world.alice.slash(world.channel, "sources")

    def broken(*_: Any, **__: Any) -> Any:
        raise StoreError("cannot read the store: disk I/O error")

    monkeypatch.setattr(world.bot.storage, "get_answer", broken)
    monkeypatch.setattr(sample_index, "list_articles", broken)
    clicks = [
        await world.alice.click(answer, custom_id=custom_id(answer, "nb:vote:up")),  # the buttons' own handling
        await world.bob.click(answer, custom_id=custom_id(answer, "nb:src")),
        await world.alice.click(listing.response, custom_id=components(listing.response)[1]["custom_id"]),  # on_error
    ]
    for click in clicks:
        assert click.ephemeral and click.response is not None
        assert click.response.content.startswith("Sorry, something went wrong")  # simcord users: en-US
        assert ERROR_ID.search(click.response.content) and "disk I/O" not in click.response.content
    # The pager's error went through discord.py's View.on_error (which simcord records); the
    # answer's buttons caught theirs in their callbacks (discord.py would only have logged them).
    assert [type(error) for error in world.env.errors] == [StoreError]


def test_timeout_and_question_errors_read_politely(caplog: pytest.LogCaptureFixture) -> None:
    # simcord runs the event loop's timers on virtual time, so the timeout itself is exercised
    # with real threads in test_bot_storage.py; here, what the user reads about it.
    caplog.set_level(logging.ERROR, logger="bot")
    text = failure_text(TimeoutError(), "es")
    assert text.startswith("Lo siento, la respuesta tardó demasiado")
    (error_id,) = ERROR_ID.findall(text)
    assert any(error_id in r.getMessage() for r in caplog.records)
    assert failure_text(QuestionError("the question is empty"), "en").startswith("I can't search for that")
    assert failure_text(Busy(), "es").startswith("Ahora mismo estoy respondiendo")


# -- start-up and the command line -----------------------------------------------------------


GUILD_ID = 1456000000000000000


@pytest.mark.parametrize("setup", [Setup(guild_id=GUILD_ID)])
async def test_commands_sync_to_the_configured_guild(world: World) -> None:
    assert {c.guild_id for c in world.bot.synced_commands} == {GUILD_ID}  # instant, guild-only commands
    result = await world.alice.slash(world.channel, "ask", pregunta=Q_METRO)
    assert result.response is not None and len(world.channel.threads) == 1


def test_the_bot_asks_for_the_least_intents() -> None:
    wanted = bot_intents()
    assert wanted.guilds and wanted.guild_messages and wanted.message_content
    assert not wanted.members and not wanted.presences and not wanted.dm_messages
    assert wanted.value == discord.Intents(guilds=True, guild_messages=True, message_content=True).value


def test_dry_run_prints_the_exact_messages(sample_index: NewsIndex, capsys: pytest.CaptureFixture[str]) -> None:
    # conftest's autouse fixture has removed DISCORD_TOKEN and moved to an empty folder (no .env).
    code = newsbot_main(["bot", "--dry-run", Q_LEVEL, "--store", sample_index.settings.store])
    assert code == 0
    messages = json.loads(capsys.readouterr().out)
    expected = views.answer_messages(sample_index.ask(Q_LEVEL), "0" * 12)
    assert [m["content"] for m in messages] == [m.content for m in expected]
    assert messages[-1]["embeds"][0]["fields"] == expected[-1].to_dict()["embeds"][0]["fields"]
    buttons = [c for row in messages[-1]["components"] for c in row["components"]]
    assert [b["custom_id"].rsplit(":", 1)[0] for b in buttons] == ["nb:vote:up", "nb:vote:down", "nb:src"]
    assert all(m["allowed_mentions"] == {"parse": []} for m in messages)


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_missing_or_rejected_token_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSBOT_"))}
    env["NEWSBOT_STORE"] = str(tmp_path / "store")
    missing = run_cli(["-m", "bot"], env, tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "newsbot: error: DISCORD_TOKEN is not set (put it in the environment or in .env)"
    ]
    assert missing.stdout == ""

    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.not-a-real-token-but-shaped-like-one"
    rejected = run_cli(["-m", "index.cli", "bot"], {**env, "DISCORD_TOKEN": token}, tmp_path)
    assert rejected.returncode == 1
    (line,) = rejected.stderr.strip().splitlines()  # rejected by Discord, or Discord unreachable: one line
    assert line.startswith("newsbot: error: ") and "Traceback" not in rejected.stderr
    assert token not in rejected.stderr + rejected.stdout


@pytest.mark.slow
def test_bot_watch_option_keeps_the_index_fresh_and_stops(fresh_index: NewsIndex, articles_copy: Path) -> None:
    from bot.cli import start_watch

    thread, stop = start_watch(fresh_index, [str(articles_copy)], every=0.2)
    try:
        deadline = time.monotonic() + 120
        while fresh_index.stats()["articles"] < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert fresh_index.stats()["articles"] == 6
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
