"""The `newsbot bot` sub-command (registered through the `newsbot.commands` entry point).

    newsbot bot                        run the bot (token from DISCORD_TOKEN, env or .env)
    newsbot bot --dry-run "pregunta"   print the messages the bot would send, as JSON; no token, no network
    python -m bot ...                  the same

Errors (no token, a token Discord rejects, a missing intent) are one line on stderr and a
non-zero exit, through `index.cli.main`'s handling of `NewsbotError`. The token is never
printed or logged.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from index import ConfigError, NewsbotError, NewsIndex, Settings


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("bot", parents=[common], help="run the Discord bot (token from DISCORD_TOKEN)")
    p.add_argument(
        "--dry-run",
        metavar="QUESTION",
        help="print, as JSON, the messages the bot would send for QUESTION (no token, no connection)",
    )
    p.add_argument("--db", help="the bot's SQLite file (default: feedback.sqlite3 in the store folder)")
    p.set_defaults(handler=cmd_bot)

    # The load test drives the bot too, so it lives here rather than in `index`.
    from . import loadtest

    loadtest.register(commands, common)


def cmd_bot(args: argparse.Namespace) -> int:
    from index.cli import print_json

    from .render import answer_messages

    settings: Settings = args.settings
    if args.dry_run is not None:
        idx = NewsIndex(args.store, settings=settings)
        answer = idx.ask(args.dry_run)
        from .client import new_id

        print_json([message.to_dict() for message in answer_messages(answer, new_id(6))])
        return 0
    if not settings.discord_token:
        raise ConfigError("DISCORD_TOKEN is not set (put it in the environment or in .env)")
    if not args.verbose:  # a long-running service: say what it does, even without -v
        logging.getLogger("bot").setLevel(logging.INFO)
    logging.getLogger("discord.client").addFilter(
        lambda record: "voice will NOT be supported" not in record.getMessage()
    )
    asyncio.run(run_bot(settings, store=args.store, db=args.db))
    return 0


async def run_bot(settings: Settings, *, store: str | None, db: str | None) -> None:
    import discord

    from .client import NewsBot
    from .limits import BotLimits
    from .storage import Storage

    limits = BotLimits.from_env()
    idx = NewsIndex(store, settings=settings)
    storage = Storage(Path(db)) if db else Storage.beside(idx.settings.store)
    bot = NewsBot(idx, storage, limits=limits, guild_id=settings.discord_guild_id)
    try:
        async with bot:
            await bot.start(settings.discord_token)
    except discord.LoginFailure:
        raise ConfigError(
            "Discord rejected the token in DISCORD_TOKEN (reset it in the Developer Portal, Bot tab)"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError(
            "Discord refused the Message Content intent: enable it in the Developer Portal "
            "(Bot tab, Privileged Gateway Intents)"
        ) from None
    except (discord.GatewayNotFound, discord.ConnectionClosed, OSError) as exc:
        raise NewsbotError(f"cannot connect to Discord: {type(exc).__name__}") from None
    finally:
        storage.close()
