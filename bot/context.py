"""What the slash commands and the buttons need from the bot, as a type: `BotContext`.

`bot.client.NewsBot` imports the commands (to register them) and the buttons (to send and
re-register them), so they cannot import the client back without a cycle. They reach the
running bot through `bot_of(interaction)` instead, typed by this Protocol, which `NewsBot`
satisfies structurally (mypy checks it where `commands.setup(self)` is called).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, cast

import discord
from discord import app_commands

from index import NewsIndex

from .limits import BotLimits
from .storage import Storage


class BotContext(Protocol):
    """The part of `NewsBot` that commands and buttons use. Read-only properties, so that the
    bot's own (narrower) attribute types still match."""

    @property
    def index(self) -> NewsIndex: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def limits(self) -> BotLimits: ...

    @property
    def upload_dir(self) -> Path: ...

    @property
    def tree(self) -> app_commands.CommandTree[Any]: ...

    async def answer_slash(self, interaction: discord.Interaction[Any], question: str, /) -> None: ...


def bot_of(interaction: discord.Interaction[Any]) -> BotContext:
    """The bot an interaction arrived at (discord.py types `interaction.client` as a plain Client)."""
    return cast(BotContext, interaction.client)
