"""The `newsbot bot` sub-command (registered through the `newsbot.commands` entry point).

    newsbot bot                        run the bot (token from DISCORD_TOKEN, env or .env)
    newsbot bot --watch FEED... [--every 10m]   also keep the index fresh (see `newsbot watch`)
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
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from index import ConfigError, NewsbotError, Settings, parse_duration, watch

if TYPE_CHECKING:
    from index import NewsIndex

WATCH_STOP_SECONDS = 120.0  # how long the bot waits at exit for a watch round's write to end


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("bot", parents=[common], help="run the Discord bot (token from DISCORD_TOKEN)")
    p.add_argument(
        "--dry-run",
        metavar="QUESTION",
        help="print, as JSON, the messages the bot would send for QUESTION (no token, no connection)",
    )
    p.add_argument("--db", help="the bot's SQLite file (default: feedback.sqlite3 in the store folder)")
    p.add_argument(
        "--watch",
        nargs="+",
        metavar="SOURCE",
        help="beside the bot, re-read these feeds, sitemaps, URLs or folders (see `newsbot watch`)",
    )
    p.add_argument("--every", default="10m", help="with --watch: time between rounds (default 10m)")
    p.set_defaults(handler=cmd_bot)


def cmd_bot(args: argparse.Namespace) -> int:
    from index.console import print_json

    from .views import answer_messages

    settings: Settings = args.settings
    if args.dry_run is not None:
        from index import NewsIndex  # here, not at import: `newsbot --help` loads this module

        idx = NewsIndex(args.store, settings=settings)
        answer = idx.ask(args.dry_run)
        from .replies import new_id

        print_json([message.to_dict() for message in answer_messages(answer, new_id(6))])
        return 0
    if not settings.discord_token:
        raise ConfigError("DISCORD_TOKEN is not set (put it in the environment or in .env)")
    if not args.verbose:  # a long-running service: say what it does, even without -v
        logging.getLogger("bot").setLevel(logging.INFO)
    logging.getLogger("discord.client").addFilter(
        lambda record: "voice will NOT be supported" not in record.getMessage()
    )
    every = parse_duration(args.every)  # checked before connecting to anything
    asyncio.run(run_bot(settings, store=args.store, db=args.db, watch_sources=args.watch or (), every=every))
    return 0


def start_watch(idx: NewsIndex, sources: Sequence[str], every: float) -> tuple[threading.Thread, threading.Event]:
    """`newsbot watch` in a thread beside the bot; it shares the bot's index (ingests take the
    index's write lock, so a /ingest and a round never write at once)."""
    stop = threading.Event()
    log = logging.getLogger("bot.watch")

    def run() -> None:
        watch(
            idx, list(sources), every=every, stop=stop,
            on_round=lambda result: log.info("%s", result.line()),
            on_skipped=lambda source, reason: log.warning("skipped %s: %s", source, reason),
        )  # fmt: skip

    thread = threading.Thread(target=run, name="newsbot-watch", daemon=True)
    thread.start()
    return thread, stop


async def run_bot(
    settings: Settings,
    *,
    store: str | None,
    db: str | None,
    watch_sources: Sequence[str] = (),
    every: float = 600.0,
) -> None:
    import discord

    from .client import NewsBot
    from .limits import BotLimits
    from .storage import Storage

    limits = BotLimits.from_env()
    from index import NewsIndex

    idx = NewsIndex(store, settings=settings)
    storage = Storage(Path(db)) if db else Storage.beside(idx.settings.store)
    bot = NewsBot(idx, storage, limits=limits, guild_id=settings.discord_guild_id)
    watcher = start_watch(idx, watch_sources, every) if watch_sources else None
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
        if watcher is not None:
            thread, stop = watcher
            stop.set()  # the round ends at its next URL; what it fetched is written whole
            await asyncio.to_thread(thread.join, WATCH_STOP_SECONDS)
        storage.close()
