"""Security: admin commands for Manage Server members only (at the command-permission level and
at run time), secrets never in logs, errors or `--json` output, and the least intents."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import discord
import pytest
import simcord

from bot.client import bot_intents
from index import NewsIndex, Settings

from .conftest import REPO, SAMPLE_ARTICLES
from .fakes import make_bot

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.SENTINEL.discord-token-must-never-show"
API_KEY = "sk-SENTINEL-api-key-must-never-show-0123456789"
SECRETS = (TOKEN, API_KEY, "SENTINEL")


# -- who may ingest and change channels --------------------------------------------------------


async def test_admin_commands_need_manage_server_at_both_levels(sample_index: NewsIndex, tmp_path: Path) -> None:
    bot = make_bot(sample_index, tmp_path / "bot.sqlite3")
    env = simcord.Env(bot)
    await env.start()
    try:
        with env.time_context():
            guild = env.create_guild("Redacción")
            channel = guild.create_text_channel("noticias")
            editors = guild.create_role("Editores", permissions=discord.Permissions(manage_guild=True))
            can_moderate = discord.Permissions(manage_messages=True, kick_members=True)  # but not manage the server
            moderators = guild.create_role("Moderación", permissions=can_moderate)
            admin = guild.add_member(env.create_user("editora"), roles=[editors])
            mod = guild.add_member(env.create_user("moderador"), roles=[moderators])

            synced = {c.name: c for c in bot.synced_commands}
            manage_guild = discord.Permissions(manage_guild=True).value
            for name in ("ingest", "channels"):  # level 1: Discord hides them from everyone else
                assert synced[name].default_member_permissions is not None
                assert synced[name].default_member_permissions.value == manage_guild
                assert name not in mod.available_commands(channel)
                assert name in admin.available_commands(channel)
            for name in ("ask", "sources", "stats"):
                assert synced[name].default_member_permissions is None

            # Level 2: a server overrides the default for the moderator; the run-time check refuses.
            for name in ("ingest", "channels"):
                guild.set_command_permissions(synced[name], {mod: True})
            before = sample_index.stats()["chunks"]
            upload = b" date 2026-04-01 Nota falsa | X\n\nTexto que no debe entrar.\n"
            for result in (
                await mod.slash(channel, "ingest", archivo=("falsa.txt", upload)),
                await mod.slash(channel, "channels", activar=True),
            ):
                assert result.ephemeral and "Manage Server" in result.response.content
            assert sample_index.stats()["chunks"] == before
            assert not (tmp_path / "uploads").exists()  # refused before anything was downloaded
            assert bot.storage.enabled_channels(guild.id) == []
            assert all(isinstance(e, discord.app_commands.MissingPermissions) for e in env.errors)
            assert len(env.errors) == 2
            env._errors_acknowledged = len(env.errors)  # expected, answered by NewsTree.on_error

            allowed = await admin.slash(channel, "channels", activar=True)
            assert allowed.ephemeral and bot.storage.enabled_channels(guild.id) == [channel.id]
    finally:
        await env.shutdown()
        bot.storage.close()


# -- secrets -------------------------------------------------------------------------------------


def test_secrets_stay_out_of_debug_logs_and_errors(
    sample_index: NewsIndex, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    settings = sample_index.settings.with_overrides(
        llm="openai", llm_url="http://127.0.0.1:9/v1", llm_model="x", llm_api_key=API_KEY, llm_timeout=2.0,
        discord_token=TOKEN,
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    index = NewsIndex(settings.store, settings=settings)
    answer = index.ask("¿Cuántas pipas rentará el municipio?")  # the LLM is down: logged, then extractive
    logging.getLogger("test").debug("settings: %r", settings)
    everything = caplog.text + repr(settings) + json.dumps(answer.to_dict()) + str(index.stats())
    assert "LLM answer failed" in caplog.text  # the failure is logged...
    for secret in SECRETS:
        assert secret not in everything  # ...without the key


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env.update(DISCORD_TOKEN=TOKEN, NEWSBOT_LLM_API_KEY=API_KEY, NEWSBOT_STORE=str(cwd / "store"))
    return subprocess.run([sys.executable, "-m", "index.cli", "-v", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.mark.slow
def test_no_cli_command_prints_a_secret(tmp_path: Path) -> None:
    """Every sub-command, with --json where it has one, verbose, in success and in failure."""
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nNEWSBOT_LLM_API_KEY={API_KEY}\n", encoding="utf-8")
    runs = {
        "ingest": run_cli(["ingest", str(SAMPLE_ARTICLES), "--json"], tmp_path),
        "search": run_cli(["search", "presas", "--json"], tmp_path),
        "ask": run_cli(["ask", "¿Cuántas pipas rentará el municipio?", "--json"], tmp_path),
        "stats": run_cli(["stats", "--json"], tmp_path),
        "sources": run_cli(["sources", "--json"], tmp_path),
        "loadtest": run_cli(["loadtest", "--json", "--questions", "2", "--concurrency", "2"], tmp_path),
        "bot --dry-run": run_cli(["bot", "--dry-run", "¿Cuántas pipas rentará el municipio?", "--json"], tmp_path),
        "eval (fails)": run_cli(["eval", str(tmp_path / "missing.json"), "--json"], tmp_path),
        "bench (fails)": run_cli(["bench", "--json", "--sizes", "x"], tmp_path),
        "ask (fails)": run_cli(["ask", "🙂", "--json"], tmp_path),
        "config error": run_cli(["stats", "--json", "--store", str(tmp_path / "store" / "chroma.sqlite3")], tmp_path),
    }
    for name, result in runs.items():
        for secret in SECRETS:
            assert secret not in result.stdout + result.stderr, name
    assert all(runs[name].returncode == 0 for name in ("ingest", "search", "ask", "stats", "sources", "loadtest"))
    assert json.loads(runs["stats"].stdout)["articles"] == 6
    assert all(runs[name].returncode != 0 for name in ("eval (fails)", "bench (fails)", "ask (fails)"))


# -- intents ----------------------------------------------------------------------------------------


def test_least_intents_and_the_readme_names_them() -> None:
    intents = bot_intents()
    assert intents == discord.Intents(guilds=True, guild_messages=True, message_content=True)
    privileged = {"members", "presences", "message_content"}
    assert {name for name, on in intents if on and name in privileged} == {"message_content"}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "Message Content" in readme
    assert "no members, no presences" in readme and "guilds and guild messages" in readme
    settings = Settings(discord_token=TOKEN, llm_api_key=API_KEY)
    assert TOKEN not in repr(settings) and API_KEY not in str(settings)
