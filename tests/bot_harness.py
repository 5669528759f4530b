"""The bot driven in simcord's in-memory Discord, many commands in flight at once.

`run_through_bot` is the bot run of the load test
(index/measure/load.py): the real bot, `concurrency` users sending /ask at the same moment, wave
after wave, while an ingest runs. It uses simcord's private steps to have many commands in
flight at once, which is why it lives with the tests and not in `bot/`.

From a checkout, the load test with both runs (in process, then through the bot):

    python -m tests.bot_harness loadtest --store DIR [newsbot loadtest's options]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import simcord
from simcord import actors as sim_actors
from simcord import interactions as sim_interactions
from simcord.enums import AppCommandType, InteractionType
from simcord.results import InteractionResult

from bot.client import NewsBot
from bot.limits import BotLimits
from bot.storage import Storage
from index import Answer, NewsIndex
from index.measure.load import (
    RUNS,
    IngestRun,
    LoadSpec,
    LoopMonitor,
    RunReport,
    add_arguments,
    report_load,
    run_load,
    spec_from_args,
)

# The /ask being answered in this task (asyncio.to_thread copies it into the worker thread).
_interaction_id: contextvars.ContextVar[int] = contextvars.ContextVar("interaction_id", default=0)


class RecordingIndex:
    """`index` as the bot sees it, recording each answer under the /ask it answers, so that
    refusals are read from `Answer.refused`, not from the text the bot rendered."""

    def __init__(self, index: NewsIndex) -> None:
        self._index = index
        self.answers: dict[int, Answer] = {}

    def ask(self, question: str, **options: Any) -> Answer:
        answer = self._index.ask(question, **options)
        self.answers[_interaction_id.get()] = answer
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)


class TimedBot(NewsBot):
    """The real bot, timing each /ask from the moment it arrives to its last message sent."""

    timings: dict[int, float]

    async def answer_slash(self, interaction: Any, question: str) -> None:
        started = time.perf_counter()
        _interaction_id.set(interaction.id)
        try:
            await super().answer_slash(interaction, question)
        finally:
            self.timings[interaction.id] = (time.perf_counter() - started) * 1000


def dispatch_slash(actor: Any, channel: Any, options: dict[str, Any]) -> tuple[int, InteractionResult]:
    """`actor.slash(channel, "ask", ...)` without waiting for the bot to settle, so that many
    users' commands are in flight at once (simcord runs one *settling* operation at a time).
    The same steps as simcord's `_slash` (3.2); the outcome is read back through its public API."""
    root = sim_actors._resolve_visible_command(actor, channel.id, "ask", AppCommandType.CHAT_INPUT)
    leaf, nesting = sim_interactions.walk_to_subcommand(root, [])
    leaf_options, resolved = sim_interactions.build_options(actor, "ask", leaf, options, channel_id=channel.id)
    data: dict[str, Any] = {
        "id": root["id"],
        "name": root["name"],
        "type": root.get("type", AppCommandType.CHAT_INPUT),
        "options": sim_interactions.nest_options(root, nesting, leaf_options),
    }
    if resolved:
        data["resolved"] = resolved
    backend = actor._env.backend
    record, payload = sim_interactions.base_payload(
        backend, type=InteractionType.APPLICATION_COMMAND, channel_id=channel.id,
        guild_id=actor.guild.id, user_id=actor.id, data=data,
    )  # fmt: skip
    actor._env._notify_dispatch_observers(record)
    backend.emit("INTERACTION_CREATE", payload)
    return int(record.id), InteractionResult(actor._env, record)


async def run_through_bot(index: NewsIndex, spec: LoadSpec) -> RunReport:
    """The real bot in simcord's in-memory Discord: `concurrency` users send /ask at the same
    moment, wave after wave, while the ingest runs. Every question must end with the bot's
    answer in the thread opened on it."""
    with tempfile.TemporaryDirectory(prefix="newsbot-loadtest-") as tmp:
        return await _run_through_bot(index, spec, Path(tmp))


async def _run_through_bot(index: NewsIndex, spec: LoadSpec, workdir: Path) -> RunReport:
    limits = BotLimits(cooldown_seconds=0, max_concurrent_questions=spec.concurrency)
    storage = Storage(workdir / "loadtest.sqlite3")
    recording = RecordingIndex(index)
    bot = TimedBot(recording, storage, limits=limits, upload_dir=workdir / "uploads")  # type: ignore[arg-type]
    bot.timings = {}
    env = simcord.Env(bot, settle_timeout=spec.seconds + limits.question_timeout_seconds)
    run = RunReport("bot", spec.concurrency, ingest=IngestRun(spec.ingest_paths))
    assert run.ingest is not None
    # discord.py warns about voice support and simcord's intents at start; not this test's business.
    discord_log = logging.getLogger("discord")
    discord_level = discord_log.level
    discord_log.setLevel(logging.ERROR)
    await env.start()
    try:
        with env.time_context():
            guild = env.create_guild("Carga")
            channel = guild.create_text_channel("preguntas")
            users = [guild.add_member(env.create_user(f"lector{n}")) for n in range(spec.concurrency)]
            monitor = LoopMonitor()
            monitor_task = asyncio.create_task(monitor.run())
            started = time.perf_counter()
            run.ingest.start(index)
            results: list[tuple[int, int, InteractionResult]] = []
            for wave in range(0, spec.questions, spec.concurrency):
                if time.perf_counter() >= started + spec.seconds:
                    run.time_cap_hit = True
                    break
                numbers = range(wave, min(wave + spec.concurrency, spec.questions))
                for user, number in zip(users, numbers, strict=False):
                    results.append((number, *dispatch_slash(user, channel, {"pregunta": spec.question(number)})))
                await env.settle()
            run.seconds = time.perf_counter() - started
            await run.ingest.wait()
            monitor.stop()
            await monitor_task
            run.loop_block_ms, run.loop_samples = monitor.max_block_ms, monitor.samples

            threads = {thread.id: thread for thread in channel.threads}
            run.sent = len(results)
            for number, interaction_id, result in results:
                response = result.response
                thread = threads.get(response.id) if response is not None else None
                replies = [m for m in thread.history() if m.author.bot] if thread is not None else []
                answer = recording.answers.get(interaction_id)
                if replies and replies[0].content and answer is not None:
                    run.answered += 1
                    run.refused += answer.refused
                elif response is not None and response.content:
                    run.errors.append(f"question {number}: the bot replied {response.content[:200]!r}")
            run.errors.extend(f"unhandled in the bot: {error!r}" for error in env.errors)
            run.latencies_ms = list(bot.timings.values())
            run.lost = run.sent - run.answered - sum(e.startswith("question ") for e in run.errors)
    finally:
        await env.shutdown()
        storage.close()
        discord_log.setLevel(discord_level)
    return run


def main(argv: list[str] | None = None) -> int:
    from index import Settings
    from index.console import open_index

    parser = argparse.ArgumentParser(prog="python -m tests.bot_harness", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("loadtest",))
    parser.add_argument("--store", help="index location (default: NEWSBOT_STORE)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.settings = Settings.from_env()
    spec = spec_from_args(args)
    report = asyncio.run(run_load(open_index(args), spec, {**RUNS, "bot": run_through_bot}))
    return report_load(report, args)


if __name__ == "__main__":
    sys.exit(main())
