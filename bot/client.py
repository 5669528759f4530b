"""The Discord client: a thin shell that decides whether to answer, hands the question to the
index, and sends what `bot.views.answer_messages` made of the answer.

    decide   on_message / the slash commands: is this for us, is the user within limits?
    process  NewsBot.answer_question: the index's `ask` in a worker thread, in a slot, under a timeout
    send     deliver: the payloads from `views.answer_messages`, in the question's thread

The slash commands (`bot.commands`) and the buttons (`bot.views`) handle their own
interactions; they reach this bot through `bot.context.bot_of`, never by importing this module.
Failures never reach the user as tracebacks: `replies.failure_text` turns every exception into
one polite line (with an error id that is logged with the traceback).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import discord
from discord import app_commands

from index import Answer, NewsbotError, NewsIndex

from . import commands
from .limits import HISTORY_QUESTIONS, THREAD_ARCHIVE_MINUTES, BotLimits, Cooldown, QuestionSlots
from .render import NO_MENTIONS, OutgoingMessage, question_header, text_message, thread_name
from .replies import failure_text, locale_language, new_id, reply_privately
from .storage import AnswerRecord, Storage
from .texts import guess_language, t, ui_language
from .views import PERSISTENT_ITEMS, answer_messages

log = logging.getLogger(__name__)


def bot_intents() -> discord.Intents:
    """The least the bot needs. No members, no presences (privileged and not needed)."""
    intents = discord.Intents.none()
    intents.guilds = True  # channels and threads in the cache
    intents.guild_messages = True  # to see mentions and follow-ups in threads
    # Privileged (enable it in the Developer Portal): without it message.content is empty
    # except when the bot is mentioned, so follow-up questions in a thread, asked without
    # a mention, could not be read.
    intents.message_content = True
    return intents


@dataclass(frozen=True)
class Asked:
    """A question and where it came from."""

    text: str
    user_id: int
    user_name: str
    guild_id: int | None
    language: str  # for replies sent before the answer (busy, cooldown, failures)


class NewsTree(app_commands.CommandTree["NewsBot"]):
    """The bot's slash commands; every failure of one is answered with a readable line."""

    async def on_error(self, interaction: discord.Interaction[NewsBot], error: app_commands.AppCommandError, /) -> None:
        language = locale_language(interaction)
        if isinstance(error, app_commands.MissingPermissions):
            text = t("not_admin", language)
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = t("guild_only", language)
        else:
            text = failure_text(getattr(error, "original", error), language)
        await reply_privately(interaction, text_message(text))


class NewsBot(discord.Client):
    def __init__(
        self,
        index: NewsIndex,
        storage: Storage,
        *,
        limits: BotLimits | None = None,
        guild_id: int = 0,
        upload_dir: Path | None = None,
    ) -> None:
        super().__init__(intents=bot_intents(), allowed_mentions=NO_MENTIONS)
        self.index = index
        self.storage = storage
        self.limits = limits or BotLimits()
        self.guild_id = guild_id
        self.upload_dir = upload_dir or Path(index.settings.store).expanduser() / "uploads"
        self.tree = NewsTree(self)
        self.cooldown = Cooldown(self.limits.cooldown_seconds)
        self.slots = QuestionSlots(self.limits.max_concurrent_questions)
        self.synced_commands: list[app_commands.AppCommand] = []

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*PERSISTENT_ITEMS)  # buttons of answers sent before a restart
        # Load the index's models now: loaded under the first question, they held the GIL and
        # froze this event loop for ~1 s (measured by `newsbot loadtest`).
        try:
            await asyncio.to_thread(self.index.warm_up)
        except NewsbotError as exc:
            log.warning("could not warm up the index (%s); the first question will be slower", exc)
        # What is loaded now stays for good: out of the garbage collector's sight, or every full
        # collection walks it all and stops this loop for 100-150 ms (measured the same way).
        gc.collect()
        gc.freeze()
        commands.setup(self)
        if self.guild_id:  # a guild's commands appear at once; global ones can take a while
            guild = discord.Object(self.guild_id)
            self.tree.copy_global_to(guild=guild)
            self.synced_commands = await self.tree.sync(guild=guild)
        else:
            self.synced_commands = await self.tree.sync()
        where = f"to guild {self.guild_id}" if self.guild_id else "globally"
        log.info("synced %d slash commands %s", len(self.synced_commands), where)

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("connected as %s (id %s) in %d servers", self.user, self.user.id, len(self.guilds))

    # -- decide ------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None or self.user is None:
            return
        me = self.user.id
        mentioned = any(user.id == me for user in message.mentions)
        channel = message.channel
        if isinstance(channel, discord.Thread):
            conversation = await asyncio.to_thread(self.storage.is_conversation, channel.id)
            if not conversation:
                if not (mentioned and channel.parent_id and await self.mentions_enabled(channel.parent_id)):
                    return
            elif not mentioned and message.mentions:
                return  # talking to someone else in the thread
        elif not (mentioned and await self.mentions_enabled(channel.id)):
            return
        question = re.sub(rf"<@!?{me}>", " ", message.content).strip()
        if not question:
            if mentioned:
                language = ui_language(message.guild.preferred_locale.value)
                await message.reply(
                    **text_message(t("empty_mention", language, mention=self.user.mention)).send_kwargs()
                )
            return
        asked = Asked(
            question, message.author.id, message.author.display_name, message.guild.id, guess_language(question)
        )
        await self.answer_message(message, asked)

    async def mentions_enabled(self, channel_id: int) -> bool:
        return await asyncio.to_thread(self.storage.channel_enabled, channel_id)

    def refusal(self, asked: Asked) -> str | None:
        """The polite "not now" for a question over the limits, or None to go ahead."""
        if self.slots.busy:
            return t("busy", asked.language)
        wait = self.cooldown.hit(asked.user_id)
        if wait:
            return t("cooldown", asked.language, seconds=math.ceil(wait))
        return None

    # -- process -----------------------------------------------------------------------

    async def answer_question(self, asked: Asked, thread_id: int | None) -> Answer:
        """The index's answer, with the thread's earlier questions as context."""
        history = (
            await asyncio.to_thread(self.storage.thread_questions, thread_id, HISTORY_QUESTIONS) if thread_id else []
        )
        started = time.perf_counter()
        answer: Answer = await self.slots.run(
            lambda: asyncio.to_thread(self.index.ask, asked.text, history=history),
            self.limits.question_timeout_seconds,
        )
        log.info(
            "answered in %.1f s (%d sources, history %d)",
            time.perf_counter() - started,
            len(answer.citations),
            len(history),
        )
        return answer

    async def remember(self, asked: Asked, answer: Answer, channel_id: int | None, thread_id: int | None) -> str:
        """Store the answer (for its buttons and for follow-ups) and return its id."""
        answer_id = new_id(6)
        record = AnswerRecord(answer_id, answer, asked.user_id, asked.guild_id, channel_id, thread_id, time.time())
        await asyncio.to_thread(self.storage.save_answer, record)
        return answer_id

    async def open_thread(self, message: discord.Message, question: str) -> discord.Thread | None:
        """A thread on the question's message, or None where Discord will not allow one."""
        try:
            return await message.create_thread(name=thread_name(question), auto_archive_duration=THREAD_ARCHIVE_MINUTES)
        except (discord.Forbidden, discord.HTTPException, ValueError) as exc:
            log.warning("cannot open a thread in channel %s (%s); answering in the channel", message.channel.id, exc)
            return None

    # -- send --------------------------------------------------------------------------

    async def answer_slash(self, interaction: discord.Interaction[NewsBot], question: str) -> None:
        """/ask: acknowledged at once ("thinking"), answered in a thread on the question."""
        user = interaction.user
        guild_id = interaction.guild_id
        asked = Asked(question, user.id, user.display_name, guild_id, guess_language(question, str(interaction.locale)))
        refusal = self.refusal(asked)
        if refusal:
            await interaction.response.send_message(refusal, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(thinking=True)
        channel = interaction.channel
        in_thread = isinstance(channel, discord.Thread)
        try:
            answer = await self.answer_question(asked, channel.id if in_thread and channel else None)
        except Exception as exc:
            await interaction.edit_original_response(
                content=failure_text(exc, asked.language), allowed_mentions=NO_MENTIONS
            )
            return
        if in_thread and channel is not None:
            answer_id = await self.remember(asked, answer, channel.id, channel.id)
            first, *rest = answer_messages(answer, answer_id)
            await interaction.edit_original_response(**first.send_kwargs())
            for message in rest:
                await interaction.followup.send(**message.send_kwargs())
            return
        language = ui_language(answer.language)
        await interaction.edit_original_response(
            content=question_header(asked.user_name, question, language), allowed_mentions=NO_MENTIONS
        )
        thread = await self.open_thread(await interaction.original_response(), question)
        answer_id = await self.remember(
            asked, answer, thread.id if thread else interaction.channel_id, thread.id if thread else None
        )
        for message in answer_messages(answer, answer_id):
            if thread is not None:
                await thread.send(**message.send_kwargs())
            else:
                await interaction.followup.send(**message.send_kwargs())

    async def answer_message(self, message: discord.Message, asked: Asked) -> None:
        """A mention or a thread follow-up: answered in the thread (opened on the question)."""
        refusal = self.refusal(asked)
        if refusal:
            await message.reply(**text_message(refusal).send_kwargs())
            return
        thread: discord.Thread | None
        if isinstance(message.channel, discord.Thread):
            thread = message.channel
        else:
            thread = await self.open_thread(message, asked.text)
        where: discord.abc.Messageable = thread or message.channel
        with contextlib.suppress(discord.HTTPException):
            await where.typing()  # the acknowledgement: "newsbot is typing…" while the answer is found
        try:
            answer = await self.answer_question(asked, thread.id if thread else None)
        except Exception as exc:
            await self.send_all(where, [text_message(failure_text(exc, asked.language))], reply_to=message)
            return
        answer_id = await self.remember(
            asked, answer, thread.id if thread else message.channel.id, thread.id if thread else None
        )
        await self.send_all(where, answer_messages(answer, answer_id), reply_to=message)

    async def send_all(
        self, where: discord.abc.Messageable, messages: list[OutgoingMessage], *, reply_to: discord.Message
    ) -> None:
        """Send in order; the first one replies to the question when both are in the same channel."""
        for number, message in enumerate(messages):
            if number == 0 and reply_to.channel.id == getattr(where, "id", None):
                await reply_to.reply(**message.send_kwargs())
            else:
                await where.send(**message.send_kwargs())
