"""The buttons, and what a click on each does (in the button's own callback), and the
messages that carry an answer with its buttons (`answer_messages`).

The buttons under an answer are `DynamicItem`s: their custom_id carries the answer id
("nb:vote:up:<id>", "nb:src:<id>"), and `NewsBot.setup_hook` registers the classes with
`add_dynamic_items`, so a click on an answer sent before a restart still reaches the bot
(the answers and votes are in SQLite). That is discord.py's persistent-view mechanism for
per-message ids; `add_view` only matches custom_ids known in advance.

A failed click gets `failure_text`'s polite line, never silence: discord.py hands a `View`'s
errors to `View.on_error`, but only logs a `DynamicItem`'s, so those catch their own.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from index import Answer

from .context import bot_of
from .limits import PAGER_TIMEOUT_SECONDS
from .render import (
    OutgoingMessage,
    answer_sources,
    answerer_label,
    passages_messages,
    safe,
    sources_embed,
    split_message,
    text_message,
)
from .replies import locale_language, reply_failure, reply_privately
from .storage import VoteResult
from .texts import t, ui_language

log = logging.getLogger(__name__)

ANSWER_ID = r"[0-9a-f]{12}"
VOTE_EMOJI = {"up": "👍", "down": "👎"}
VOTE_VALUE = {"up": 1, "down": -1}

VOTE_REPLY = {
    VoteResult.NEW: "vote_saved",
    VoteResult.CHANGED: "vote_changed",
    VoteResult.SAME: "vote_same",
    VoteResult.UNKNOWN_ANSWER: "answer_gone",
}

PageBuilder = Callable[[int], Awaitable[tuple[discord.Embed, bool]]]  # offset -> (page, has a next page)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"nb:vote:(?P<vote>up|down):(?P<answer_id>{ANSWER_ID})",
):
    """👍 / 👎 under an answer; one vote per user and answer, changeable."""

    def __init__(self, vote: str, answer_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary, emoji=VOTE_EMOJI[vote], custom_id=f"nb:vote:{vote}:{answer_id}"
            )
        )
        self.vote = vote
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(match["vote"], match["answer_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.record_vote(interaction)
        except Exception as exc:  # see the module docstring: nobody else would tell the user
            await reply_failure(interaction, exc)

    async def record_vote(self, interaction: discord.Interaction[Any]) -> None:
        storage = bot_of(interaction).storage
        answer = await asyncio.to_thread(storage.get_answer, self.answer_id)
        language = ui_language(answer.language if answer else str(interaction.locale))
        value = VOTE_VALUE[self.vote]
        result = await asyncio.to_thread(storage.record_vote, self.answer_id, interaction.user.id, value)
        await reply_privately(interaction, text_message(t(VOTE_REPLY[result], language, emoji=VOTE_EMOJI[self.vote])))


class SourcesButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"nb:src:(?P<answer_id>{ANSWER_ID})"):
    """ "Fuentes": the full quoted passages, shown to the clicker only."""

    def __init__(self, answer_id: str, label: str = "Fuentes") -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.primary, label=label, emoji="📚", custom_id=f"nb:src:{answer_id}"
            )
        )
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SourcesButton:
        return cls(match["answer_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.show_passages(interaction)
        except Exception as exc:  # see the module docstring: nobody else would tell the user
            await reply_failure(interaction, exc)

    async def show_passages(self, interaction: discord.Interaction[Any]) -> None:
        answer = await asyncio.to_thread(bot_of(interaction).storage.get_answer, self.answer_id)
        if answer is None:
            await reply_privately(interaction, text_message(t("answer_gone", locale_language(interaction))))
            return
        for message in passages_messages(answer):
            await reply_privately(interaction, message)


PERSISTENT_ITEMS = (VoteButton, SourcesButton)


def answer_view(answer_id: str, language: str, *, with_sources: bool) -> discord.ui.View:
    """The buttons under an answer. timeout=None: they work as long as the answer is stored."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton("up", answer_id))
    view.add_item(VoteButton("down", answer_id))
    if with_sources:
        view.add_item(SourcesButton(answer_id, t("button_sources", language)))
    return view


def answer_messages(answer: Answer, answer_id: str) -> list[OutgoingMessage]:
    """The messages that carry an answer: its text split to the message limit, then, on the
    last message, the numbered sources as an embed and the feedback / "Fuentes" buttons.
    (Here rather than in `bot.render`, which stays free of the buttons that import it.)"""
    language = ui_language(answer.language)
    text = safe(answer.text.strip()) or t("empty_answer", language)
    messages = [OutgoingMessage(content=chunk) for chunk in split_message(text)]
    sources = answer_sources(answer)
    last = messages[-1]
    if sources:
        title = t("see_also_title" if answer.refused or not answer.citations else "sources_title", language)
        footer = f"{answerer_label(answer.answerer, language)} · {t('answer_id', language, answer_id=answer_id)}"
        last.embeds = [sources_embed(sources, title=title, footer=footer, language=language)]
    last.view = answer_view(answer_id, language, with_sources=bool(sources))
    return messages


class SourcesPager(discord.ui.View):
    """◀ / ▶ through /sources. Not persistent: a listing is cheap to ask for again, and the
    buttons are disabled before the interaction token (15 min) expires."""

    def __init__(self, build_page: PageBuilder, *, page_size: int, has_more: bool, language: str) -> None:
        super().__init__(timeout=PAGER_TIMEOUT_SECONDS)
        self.build_page = build_page
        self.page_size = page_size
        self.offset = 0
        self.origin: discord.Interaction | None = None  # the /sources interaction, to disable the buttons later
        self.previous_page.label = t("previous", language)
        self.next_page.label = t("next", language)
        self._update(has_more)

    def _update(self, has_more: bool) -> None:
        self.previous_page.disabled = self.offset == 0
        self.next_page.disabled = not has_more

    async def _go(self, interaction: discord.Interaction, offset: int) -> None:
        embed, has_more = await self.build_page(max(0, offset))
        self.offset = max(0, offset)
        self._update(has_more)
        await interaction.response.edit_message(embed=embed, view=self)

    @discord.ui.button(emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous_page(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await self._go(interaction, self.offset - self.page_size)

    @discord.ui.button(emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await self._go(interaction, self.offset + self.page_size)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, item: Any, /) -> None:
        await reply_failure(interaction, error)

    async def on_timeout(self) -> None:
        self.previous_page.disabled = self.next_page.disabled = True
        if self.origin is not None:
            try:
                await self.origin.edit_original_response(view=self)
            except discord.HTTPException as exc:  # deleted meanwhile: nothing left to disable
                log.debug("cannot disable the /sources buttons: %s", exc)
