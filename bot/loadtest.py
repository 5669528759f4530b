"""`newsbot loadtest`: many questions at once against one index, with an ingest running meanwhile.

Two runs, each bounded in count (`--questions`), concurrency (`--concurrency`) and time
(`--seconds`: no question is started after it):

    in-process  `concurrency` worker threads call `NewsIndex.ask`, awaited from an asyncio
                event loop the way the bot awaits them (`run_in_executor`).
    bot         the real Discord bot (`bot.client.NewsBot`) inside simcord's in-memory
                Discord: `concurrency` users issue /ask at the same moment, in waves, and
                every question must get its answer in its own thread.

Both report throughput and p50/p95/p99 latency, and measure event-loop blocking: a monitor
coroutine sleeps 10 ms in a loop and records how late it wakes up. The targets: no error, no
lost answer, the loop never blocked more than 100 ms. Only the local store or a loopback
Chroma server is used; Discord is simulated, never contacted.

The bot run imports `bot`, discord.py and simcord (a test dependency) inside its function
only: the library itself never imports Discord.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import logging
import math
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from index import ConfigError

if TYPE_CHECKING:
    from index import NewsIndex

# Caps: a load test is a measurement, never a way to hammer something for an hour.
MAX_QUESTIONS = 5000
MAX_CONCURRENCY = 64
MAX_SECONDS = 900.0
MONITOR_INTERVAL = 0.010  # the monitor's sleep; what it oversleeps is time the loop was blocked
LOOP_BLOCK_TARGET_MS = 100.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MODES = ("inprocess", "bot")

# About the bundled sample articles (examples/articles): answerable, refusable, follow-ups aside.
DEFAULT_QUESTIONS = (
    "¿A qué nivel bajaron las presas de Valle Alto en febrero?",
    "¿Cuántas pipas rentará el municipio?",
    "¿Cuándo abrirá la Línea 3 del metro?",
    "¿Desde cuándo habrá tandeos y en cuántas colonias?",
    "¿Cuál es el nivel más reciente de las presas?",
    "How much federal aid did Valle Alto get?",
    "¿Cuánto costó la Línea 3?",
    "¿Cuántos goles marcó Messi en el Mundial de 2022?",
)


@dataclass(frozen=True)
class LoadSpec:
    questions: int = 40
    concurrency: int = 4
    seconds: float = 120.0
    ingest_paths: tuple[str, ...] = ()
    question_texts: tuple[str, ...] = DEFAULT_QUESTIONS

    def validate(self) -> None:
        if not 1 <= self.questions <= MAX_QUESTIONS:
            raise ConfigError(f"--questions must be between 1 and {MAX_QUESTIONS}")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise ConfigError(f"--seconds must be above 0 and at most {MAX_SECONDS:.0f}")
        if not self.question_texts:
            raise ConfigError("no questions to ask")

    def question(self, number: int) -> str:
        return self.question_texts[number % len(self.question_texts)]


def check_loopback(url: str, what: str) -> None:
    """Refuse to load-test anything but this machine."""
    if url and urlparse(url).hostname not in LOOPBACK_HOSTS:
        raise ConfigError(f"the load test only runs against this machine; {what} is not a loopback address")


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of `values`; 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoopMonitor:
    """Sleeps MONITOR_INTERVAL in a loop on the event loop under test; the largest oversleep is
    the longest time the loop could not run anything else."""

    max_block_ms: float = 0.0
    samples: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()  # not time.monotonic: simcord replaces that one
            await asyncio.sleep(MONITOR_INTERVAL)
            late = (time.perf_counter() - started - MONITOR_INTERVAL) * 1000
            self.max_block_ms = max(self.max_block_ms, late)
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()


@dataclass
class IngestRun:
    """The ingest that runs during the questions, in its own thread."""

    paths: tuple[str, ...]
    summary: str = ""
    chunks: int = 0
    seconds: float = 0.0
    error: str = ""
    _thread: threading.Thread | None = None

    def start(self, index: NewsIndex) -> None:
        if not self.paths:
            return

        def work() -> None:
            started = time.perf_counter()
            try:
                report = index.ingest(list(self.paths))
                self.summary, self.chunks = report.summary(), report.chunks
            except Exception as exc:  # reported, and it fails the run
                self.error = f"{type(exc).__name__}: {exc}"
            self.seconds = time.perf_counter() - started

        self._thread = threading.Thread(target=work, name="loadtest-ingest", daemon=True)
        self._thread.start()

    async def wait(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def to_dict(self) -> dict[str, object]:
        return {"paths": list(self.paths), "summary": self.summary, "chunks": self.chunks,
                "seconds": round(self.seconds, 2), "error": self.error}  # fmt: skip


@dataclass
class RunReport:
    mode: str
    concurrency: int
    sent: int = 0
    answered: int = 0  # a real answer or a refusal, delivered
    refused: int = 0  # of the answered: "not in the articles"
    errors: list[str] = field(default_factory=list)
    lost: int = 0  # sent, and neither answered nor reported as an error
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    loop_block_ms: float = 0.0
    loop_samples: int = 0
    time_cap_hit: bool = False
    ingest: IngestRun | None = None

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        ingest_ok = self.ingest is None or not self.ingest.error
        return not self.errors and self.lost == 0 and self.loop_block_ms <= LOOP_BLOCK_TARGET_MS and ingest_ok

    def latency(self) -> dict[str, float]:
        values = self.latencies_ms
        return {
            "p50": round(percentile(values, 50), 1),
            "p95": round(percentile(values, 95), 1),
            "p99": round(percentile(values, 99), 1),
            "max": round(max(values, default=0.0), 1),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "concurrency": self.concurrency,
            "sent": self.sent,
            "answered": self.answered,
            "refused": self.refused,
            "errors": self.errors,
            "lost": self.lost,
            "seconds": round(self.seconds, 2),
            "throughput_per_s": round(self.throughput, 2),
            "latency_ms": self.latency(),
            "loop_block_max_ms": round(self.loop_block_ms, 1),
            "loop_samples": self.loop_samples,
            "time_cap_hit": self.time_cap_hit,
            "ingest": self.ingest.to_dict() if self.ingest else None,
            "ok": self.ok,
        }


@dataclass
class LoadReport:
    spec: LoadSpec
    runs: list[RunReport]
    store: str
    chunks_before: int
    chunks_after: int
    started: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))

    @property
    def ok(self) -> bool:
        return all(run.ok for run in self.runs)

    def to_dict(self) -> dict[str, object]:
        spec = asdict(self.spec)
        spec["question_texts"] = len(self.spec.question_texts)
        return {"started": self.started, "store": self.store, "spec": spec, "chunks_before": self.chunks_before,
                "chunks_after": self.chunks_after, "runs": [r.to_dict() for r in self.runs], "ok": self.ok}  # fmt: skip

    def markdown(self) -> str:
        lines = [
            f"## Load test, {self.started}",
            "",
            f"Store {self.store}: {self.chunks_before} chunks before, {self.chunks_after} after. "
            f"Up to {self.spec.questions} questions per run, {self.spec.concurrency} at once, "
            f"capped at {self.spec.seconds:g} s.",
            "",
            "| run | sent | answered (refused) | errors | lost | q/s | p50 ms | p95 ms | p99 ms "
            "| loop blocked max ms | ingest meanwhile | verdict |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run in self.runs:
            lat = run.latency()
            ingest = "none"
            if run.ingest is not None:
                ingest = run.ingest.error or f"{run.ingest.chunks} chunks in {run.ingest.seconds:.1f} s"
            lines.append(
                f"| {run.mode} | {run.sent} | {run.answered} ({run.refused}) | {len(run.errors)} | {run.lost} "
                f"| {run.throughput:.2f} | {lat['p50']:.0f} | {lat['p95']:.0f} | {lat['p99']:.0f} "
                f"| {run.loop_block_ms:.0f} | {ingest} | {'ok' if run.ok else 'FAILED'} |"
            )
        for run in self.runs:
            for error in run.errors[:5]:
                lines.append(f"\n- {run.mode} error: {error}")
        lines.append(
            f"\nTargets: no error, no lost answer, event loop never blocked more than {LOOP_BLOCK_TARGET_MS:.0f} ms: "
            + ("**met**." if self.ok else "**missed**.")
        )
        return "\n".join(lines)


# -- in process ------------------------------------------------------------------------------


async def run_in_process(index: NewsIndex, spec: LoadSpec) -> RunReport:
    """`concurrency` threads asking at once, awaited from this event loop, while the ingest runs."""
    run = RunReport("inprocess", spec.concurrency, ingest=IngestRun(spec.ingest_paths))
    loop = asyncio.get_running_loop()
    monitor = LoopMonitor()
    monitor_task = asyncio.create_task(monitor.run())
    started = time.perf_counter()
    deadline = started + spec.seconds
    assert run.ingest is not None
    run.ingest.start(index)

    async def asker(numbers: Iterator[int], pool: ThreadPoolExecutor) -> None:
        for number in numbers:
            if time.perf_counter() >= deadline:
                run.time_cap_hit = True
                return
            run.sent += 1
            asked = time.perf_counter()
            try:
                answer = await loop.run_in_executor(pool, index.ask, spec.question(number))
            except Exception as exc:
                run.errors.append(f"question {number}: {type(exc).__name__}: {exc}")
                continue
            run.latencies_ms.append((time.perf_counter() - asked) * 1000)
            if answer.text:
                run.answered += 1
                run.refused += answer.refused

    numbers = iter(range(spec.questions))  # shared by the askers, which all run on this loop
    with ThreadPoolExecutor(max_workers=spec.concurrency, thread_name_prefix="loadtest-ask") as pool:
        await asyncio.gather(*(asker(numbers, pool) for _ in range(spec.concurrency)))
    run.seconds = time.perf_counter() - started
    await run.ingest.wait()
    monitor.stop()
    await monitor_task
    run.loop_block_ms, run.loop_samples = monitor.max_block_ms, monitor.samples
    run.lost = run.sent - run.answered - len(run.errors)
    return run


# -- through the bot (simcord) ---------------------------------------------------------------


async def run_through_bot(index: NewsIndex, spec: LoadSpec, workdir: Path) -> RunReport:
    """The real bot in simcord's in-memory Discord: `concurrency` users send /ask at the same
    moment, wave after wave, while the ingest runs. Every question must end with the bot's
    answer in the thread opened on it."""
    try:
        import simcord
        from simcord import actors as sim_actors
        from simcord import interactions as sim_interactions
        from simcord.enums import AppCommandType, InteractionType
        from simcord.results import InteractionResult

        from .client import NewsBot
        from .limits import BotLimits
        from .storage import Storage
    except ImportError as exc:
        raise ConfigError(f"the bot load test needs the bot and simcord (pip install -e '.[test]'): {exc}") from None

    class TimedBot(NewsBot):
        """The real bot, timing each /ask from the moment it arrives to its last message sent."""

        timings: dict[int, float]

        async def answer_slash(self, interaction: Any, question: str) -> None:
            started = time.perf_counter()
            try:
                await super().answer_slash(interaction, question)
            finally:
                self.timings[interaction.id] = (time.perf_counter() - started) * 1000

    def dispatch_slash(actor: Any, channel: Any, options: dict[str, Any]) -> Any:
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
        return InteractionResult(actor._env, record)

    limits = BotLimits(cooldown_seconds=0, max_concurrent_questions=spec.concurrency)
    storage = Storage(workdir / "loadtest.sqlite3")
    bot = TimedBot(index, storage, limits=limits, upload_dir=workdir / "uploads")
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
            results: list[tuple[int, Any]] = []
            for wave in range(0, spec.questions, spec.concurrency):
                if time.perf_counter() >= started + spec.seconds:
                    run.time_cap_hit = True
                    break
                numbers = range(wave, min(wave + spec.concurrency, spec.questions))
                for user, number in zip(users, numbers, strict=False):
                    results.append((number, dispatch_slash(user, channel, {"pregunta": spec.question(number)})))
                await env.settle()
            run.seconds = time.perf_counter() - started
            await run.ingest.wait()
            monitor.stop()
            await monitor_task
            run.loop_block_ms, run.loop_samples = monitor.max_block_ms, monitor.samples

            threads = {thread.id: thread for thread in channel.threads}
            run.sent = len(results)
            for number, result in results:
                response = result.response
                thread = threads.get(response.id) if response is not None else None
                replies = [m for m in thread.history() if m.author.bot] if thread is not None else []
                if replies and replies[0].content:
                    run.answered += 1
                    run.refused += replies[0].content.startswith(("No encuentro", "I could not find"))
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


# -- the command -----------------------------------------------------------------------------


async def run_load(index: NewsIndex, spec: LoadSpec, modes: Sequence[str]) -> LoadReport:
    spec.validate()
    check_loopback(index.settings.chroma_url, "NEWSBOT_CHROMA_URL")
    if index.settings.llm != "none":
        check_loopback(index.settings.llm_url, "NEWSBOT_LLM_URL")
    chunks_before = index.store.count()
    runs = []
    for mode in modes:
        if mode == "inprocess":
            # A caller with an event loop warms the index up and freezes what it loaded out of
            # the garbage collector's sight first, as the bot does in its setup_hook (the bot run
            # relies on exactly that, so nothing is done for it here).
            await asyncio.to_thread(index.warm_up)
            gc.collect()
            gc.freeze()
            runs.append(await run_in_process(index, spec))
        elif mode == "bot":
            with tempfile.TemporaryDirectory(prefix="newsbot-loadtest-") as workdir:
                runs.append(await run_through_bot(index, spec, Path(workdir)))
        else:
            raise ConfigError(f"unknown load test mode {mode!r} (choose from {', '.join(MODES)})")
    store = index.settings.chroma_url or str(Path(index.settings.store).expanduser())
    return LoadReport(spec, runs, store, chunks_before, index.store.count())


def cmd_loadtest(args: argparse.Namespace) -> int:
    import sys

    from index.cli import open_index, print_json

    texts: tuple[str, ...] = DEFAULT_QUESTIONS
    if args.question_file:
        try:
            lines = Path(args.question_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {args.question_file}: {exc}") from None
        texts = tuple(line.strip() for line in lines if line.strip())
    spec = LoadSpec(args.questions, args.concurrency, args.seconds, tuple(args.ingest or ()), texts)
    spec.validate()
    modes = MODES if args.mode == "both" else (args.mode,)
    report = asyncio.run(run_load(open_index(args), spec, modes))
    if args.markdown:
        Path(args.markdown).write_text(report.markdown() + "\n", encoding="utf-8")
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.markdown())
    if not report.ok:
        print("newsbot: load test targets missed (see the table)", file=sys.stderr)
        return 1
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = commands.add_parser(
        "loadtest", parents=[common], help="concurrent questions, in process and through the bot, while an ingest runs"
    )
    p.add_argument("--questions", type=int, default=40, help=f"questions per run (default 40, at most {MAX_QUESTIONS})")
    p.add_argument("--concurrency", type=int, default=4, help=f"asked at once (default 4, at most {MAX_CONCURRENCY})")
    p.add_argument("--seconds", type=float, default=120.0, help="no new question after this (default 120)")
    p.add_argument("--ingest", nargs="+", metavar="PATH", help="files or folders to ingest while the questions run")
    p.add_argument("--mode", choices=(*MODES, "both"), default="both", help="which runs (default both)")
    p.add_argument("--question-file", help="questions to ask, one per line (default: about examples/articles)")
    p.add_argument("--markdown", metavar="FILE", help="also write the summary table to FILE")
    p.set_defaults(handler=cmd_loadtest)
