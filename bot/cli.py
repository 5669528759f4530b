"""The `newsbot bot` sub-command (registered through the `newsbot.commands` entry point)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("bot", parents=[common], help="run the Discord bot (token from DISCORD_TOKEN)")
    p.set_defaults(handler=lambda args: 0)
