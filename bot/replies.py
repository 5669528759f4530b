"""Replies that the client, the commands and the buttons all send: the polite line for a
failure, and a message only the interaction's user sees.

Failures never reach the user as tracebacks: `failure_text` turns every exception into one
polite line (with an error id that is logged with the traceback).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord

from index import QuestionError

from .limits import Busy
from .render import OutgoingMessage, text_message
from .texts import t, ui_language

log = logging.getLogger(__name__)


def new_id(n_bytes: int) -> str:
    return secrets.token_hex(n_bytes)


def locale_language(interaction: discord.Interaction[Any]) -> str:
    """The language of replies to an interaction that carries no text of its own."""
    return ui_language(str(interaction.locale))


def failure_text(exc: BaseException, language: str) -> str:
    """One polite line for any failure; real errors are logged with their traceback under an id."""
    if isinstance(exc, Busy):
        return t("busy", language)
    if isinstance(exc, QuestionError):
        return t("bad_question", language)
    error_id = new_id(4)
    if isinstance(exc, TimeoutError):
        log.error("error %s: the answer timed out", error_id)
        return t("timeout", language, error_id=error_id)
    log.error("error %s: %s: %s", error_id, type(exc).__name__, exc, exc_info=exc)
    return t("apology", language, error_id=error_id)


async def reply_privately(interaction: discord.Interaction[Any], message: OutgoingMessage) -> None:
    """Answer an interaction with a message only its user sees, whether or not it was deferred."""
    if interaction.response.is_done():
        await interaction.followup.send(**message.send_kwargs(), ephemeral=True)
    else:
        await interaction.response.send_message(**message.send_kwargs(), ephemeral=True)


async def reply_failure(interaction: discord.Interaction[Any], exc: BaseException) -> None:
    """`failure_text` for `exc`, shown to the interaction's user only."""
    await reply_privately(interaction, text_message(failure_text(exc, locale_language(interaction))))
