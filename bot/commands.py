"""The slash commands, added to a bot's command tree by `setup(bot)` (called from
`NewsBot.setup_hook`). Each callback is short: check, defer when work follows, call the bot
or the index (in a worker thread), send what `bot.render` built. The callbacks reach the
bot through `bot_of(interaction)`, so this module never imports the client.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any, TypeVar

import discord
from discord import app_commands

from index import IngestReport

from .context import BotContext, bot_of
from .limits import ASK_MAX_CHARS, INGEST_SUFFIXES, SOURCES_PAGE_SIZE, URL_MAX_CHARS
from .render import NO_MENTIONS, articles_embed, ingest_report_embed, stats_embed, text_message
from .replies import locale_language, reply_privately
from .texts import guess_language, t
from .views import SourcesPager

MB = 1024 * 1024
SUFFIX_LIST = ", ".join(INGEST_SUFFIXES)  # for the texts that say which files /ingest takes

Callback = TypeVar("Callback", bound=Callable[..., Any])


def admin_command(callback: Callback) -> Callback:
    """Marks a command as for server admins (Manage Server), in a server only.

    It carries `default_permissions(manage_guild=True)` (Discord hides the command from
    others) AND `checks.has_permissions(manage_guild=True)`, because a server can override
    the default in its Integrations settings: the run-time check is the one that cannot be
    bypassed. A refusal is answered by `NewsTree.on_error` (the "not_admin" text)."""
    callback = app_commands.checks.has_permissions(manage_guild=True)(callback)
    callback = app_commands.default_permissions(manage_guild=True)(callback)
    return app_commands.guild_only()(callback)


# -- everyone ------------------------------------------------------------------------------


@app_commands.guild_only()
@app_commands.describe(pregunta="Lo que quieres saber de las noticias indexadas")
async def ask(interaction: discord.Interaction[Any], pregunta: app_commands.Range[str, 1, ASK_MAX_CHARS]) -> None:
    await bot_of(interaction).answer_slash(interaction, pregunta)


@app_commands.guild_only()
@app_commands.describe(consulta="Solo los artículos que tratan de esto (opcional)")
async def sources(interaction: discord.Interaction[Any], consulta: str | None = None) -> None:
    bot = bot_of(interaction)
    language = guess_language(consulta or "", str(interaction.locale))
    await interaction.response.defer(ephemeral=True, thinking=True)  # a search can take a moment

    async def page(offset: int) -> tuple[discord.Embed, bool]:
        # One article more than a page tells whether there is a next page.
        infos = await asyncio.to_thread(bot.index.list_articles, consulta, limit=SOURCES_PAGE_SIZE + 1, offset=offset)
        embed = articles_embed(infos[:SOURCES_PAGE_SIZE], query=consulta, offset=offset, language=language)
        return embed, len(infos) > SOURCES_PAGE_SIZE

    embed, has_more = await page(0)
    if not has_more:
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    pager = SourcesPager(page, page_size=SOURCES_PAGE_SIZE, has_more=has_more, language=language)
    pager.origin = interaction
    await interaction.followup.send(embed=embed, view=pager, ephemeral=True, allowed_mentions=NO_MENTIONS)


@app_commands.guild_only()
async def stats(interaction: discord.Interaction[Any]) -> None:
    bot = bot_of(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    numbers = await asyncio.to_thread(bot.index.stats)
    answers = await asyncio.to_thread(bot.storage.answer_count)
    up, down = await asyncio.to_thread(bot.storage.vote_totals)
    embed = stats_embed(numbers, answers, up, down, locale_language(interaction))
    await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


# -- admins --------------------------------------------------------------------------------


def upload_name(filename: str) -> str:
    """A safe file name for an upload: no directories, no odd characters, not hidden."""
    name = re.sub(r"[^\w.-]+", "_", PurePath(filename).name).lstrip("._")
    return name[:120] or "upload.txt"


def stage_uploads(files: list[tuple[str, bytes]], upload_dir: Path) -> list[Path]:
    """Write the downloads to a temporary folder, then move them into `upload_dir` (on the same
    disk, so each move is atomic): the index only ever reads complete files, and an article's
    source path stays the same when a corrected version is uploaded again (so it is updated)."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    with tempfile.TemporaryDirectory(dir=upload_dir, prefix=".incoming-") as incoming:
        for name, data in files:
            (Path(incoming) / name).write_bytes(data)
        for name, _ in files:
            target = upload_dir / name
            shutil.move(str(Path(incoming) / name), target)
            staged.append(target)
    return staged


@admin_command
@app_commands.describe(
    archivo=f"Artículo(s): {SUFFIX_LIST}",
    url="Un artículo, un feed RSS/Atom o un sitemap (https://…)",
    archivo2="Otro archivo (opcional)",
    archivo3="Otro archivo (opcional)",
    archivo4="Otro archivo (opcional)",
    archivo5="Otro archivo (opcional)",
)
async def ingest(
    interaction: discord.Interaction[Any],
    archivo: discord.Attachment | None = None,
    url: app_commands.Range[str, 1, URL_MAX_CHARS] | None = None,
    archivo2: discord.Attachment | None = None,
    archivo3: discord.Attachment | None = None,
    archivo4: discord.Attachment | None = None,
    archivo5: discord.Attachment | None = None,
) -> None:
    bot = bot_of(interaction)
    language = locale_language(interaction)
    attachments = [a for a in (archivo, archivo2, archivo3, archivo4, archivo5) if a is not None]
    if not attachments and not url:
        await reply_privately(interaction, text_message(t("ingest_none", language, suffixes=SUFFIX_LIST)))
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    limit = bot.limits.max_upload_bytes
    rejected: list[tuple[str, str]] = []
    files: dict[str, bytes] = {}
    for attachment in attachments:
        name = upload_name(attachment.filename)
        if PurePath(name).suffix.lower() not in INGEST_SUFFIXES:  # the test the index's file reader makes
            rejected.append((attachment.filename, t("ingest_bad_type", language, suffixes=SUFFIX_LIST)))
            continue
        if attachment.size > limit:  # checked before downloading anything
            size = f"{attachment.size / MB:.1f}"
            rejected.append((attachment.filename, t("ingest_too_large", language, size=size, limit=f"{limit / MB:g}")))
            continue
        try:
            data = await attachment.read()
        except discord.HTTPException:
            rejected.append((attachment.filename, t("ingest_download_failed", language)))
            continue
        if len(data) > limit:  # the declared size lied
            size = f"{len(data) / MB:.1f}"
            rejected.append((attachment.filename, t("ingest_too_large", language, size=size, limit=f"{limit / MB:g}")))
            continue
        files[name] = data  # the same name twice: the later upload wins, as it would on disk
    sources: list[str | Path] = []
    if url:
        # Only http(s) URLs reach the index, never a path on this host; the index refuses
        # private addresses itself (NEWSBOT_ALLOW_PRIVATE_URLS), on every redirect.
        if url.strip().lower().startswith(("http://", "https://")):
            sources.append(url.strip())
        else:
            rejected.append((url, t("ingest_bad_url", language)))
    if files:
        upload_dir = bot.upload_dir / str(interaction.guild_id or 0)
        sources.extend(await asyncio.to_thread(stage_uploads, list(files.items()), upload_dir))
    report = IngestReport()
    if sources:
        report = await asyncio.to_thread(bot.index.ingest, sources)
    report.skipped[:0] = rejected
    embed = ingest_report_embed(report, language)
    await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


@admin_command
@app_commands.describe(
    activar="True: respondo a menciones en el canal; False: ya no. Sin valor: lista de canales activos",
    canal="El canal (por defecto, este)",
)
async def channels(
    interaction: discord.Interaction[Any], activar: bool | None = None, canal: discord.TextChannel | None = None
) -> None:
    bot = bot_of(interaction)
    language = locale_language(interaction)
    guild_id = interaction.guild_id or 0
    if activar is None:
        enabled = await asyncio.to_thread(bot.storage.enabled_channels, guild_id)
        text = (
            t("channels_list", language, channels=", ".join(f"<#{c}>" for c in enabled))
            if enabled
            else t("channels_none", language)
        )
        await reply_privately(interaction, text_message(text))
        return
    target: Any = canal or interaction.channel
    if isinstance(target, discord.Thread):  # mentions in a thread follow its channel's setting
        target = target.parent
    if not isinstance(target, discord.TextChannel):
        await reply_privately(interaction, text_message(t("channel_not_text", language)))
        return
    await asyncio.to_thread(bot.storage.set_channel, guild_id, target.id, activar, interaction.user.id)
    key = "channel_enabled" if activar else "channel_disabled"
    await reply_privately(interaction, text_message(t(key, language, channel=target.mention)))


COMMANDS = (
    ("ask", "Haz una pregunta sobre las noticias; te respondo con fuentes citadas", ask),
    ("sources", "Lista los artículos indexados, de los más recientes a los más antiguos", sources),
    ("stats", "Cuántos artículos hay indexados y cuándo fue la última ingesta", stats),
    ("ingest", "(admin) Añade artículos desde archivos adjuntos o una URL (artículo, feed o sitemap)", ingest),
    ("channels", "(admin) Activa o desactiva las respuestas a menciones en un canal", channels),
)


def setup(bot: BotContext) -> None:
    """Add the commands to `bot`'s tree: fresh command objects, so a restarted bot gets its own."""
    for name, description, callback in COMMANDS:
        bot.tree.add_command(app_commands.Command(name=name, description=description, callback=callback))
