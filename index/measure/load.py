"""`newsbot loadtest`: many questions at once against one index, with an ingest running meanwhile.

A run is bounded in count (`--questions`), concurrency (`--concurrency`) and time (`--seconds`:
no question is started after it):

    inprocess   `concurrency` worker threads call `NewsIndex.ask`, awaited from an asyncio
                event loop the way the bot awaits them (`run_in_executor`).
    bot         the real Discord bot inside simcord's in-memory Discord: `concurrency` users
                issue /ask at the same moment, in waves, and every question must get its answer
                in its own thread. Its driver belongs with the tests' bot harness
                (`tests/bot_harness.py`, which passes its run to `run_load`); from a checkout:
                `python -m tests.bot_harness loadtest ...` takes the same options.

Both report throughput and p50/p95/p99 latency (metrics.percentile), and measure event-loop
blocking: a monitor coroutine sleeps 10 ms in a loop and records how late it wakes up. The
targets: no error, no lost answer, the loop never blocked more than 100 ms. Only the local store
or a loopback Chroma server is used.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..errors import ConfigError
from .metrics import percentile

if TYPE_CHECKING:
    from ..newsindex import NewsIndex

MAX_QUESTIONS = 5000
MAX_CONCURRENCY = 64
MAX_SECONDS = 900.0
MONITOR_INTERVAL = 0.010  # the monitor's sleep; what it oversleeps is time the loop was blocked
LOOP_BLOCK_TARGET_MS = 100.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

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
            "p50": round(percentile(values, 50) or 0.0, 1),
            "p95": round(percentile(values, 95) or 0.0, 1),
            "p99": round(percentile(values, 99) or 0.0, 1),
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


# -- the command -----------------------------------------------------------------------------

# One kind of run: given the index and the spec, the report of its questions.
Run = Callable[["NewsIndex", LoadSpec], Awaitable[RunReport]]


async def in_process(index: NewsIndex, spec: LoadSpec) -> RunReport:
    """The in-process run, with the index warmed up first as the bot does in its setup_hook:
    a caller with an event loop loads what the first question would, then freezes it out of
    the garbage collector's sight."""
    await asyncio.to_thread(index.warm_up)
    gc.collect()
    gc.freeze()
    return await run_in_process(index, spec)


RUNS: dict[str, Run] = {"inprocess": in_process}  # the bot run is added by tests/bot_harness.py


async def run_load(index: NewsIndex, spec: LoadSpec, runs: Mapping[str, Run]) -> LoadReport:
    """Each of `runs` in turn against `index`, with the spec's ingest running meanwhile."""
    spec.validate()
    check_loopback(index.settings.chroma_url, "NEWSBOT_CHROMA_URL")
    if index.settings.llm != "none":
        check_loopback(index.settings.llm_url, "NEWSBOT_LLM_URL")
    chunks_before = index.store.count()
    reports = [await run(index, spec) for run in runs.values()]
    store = index.settings.chroma_url or str(Path(index.settings.store).expanduser())
    return LoadReport(spec, reports, store, chunks_before, index.store.count())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--questions", type=int, default=40, help=f"questions per run (default 40, at most {MAX_QUESTIONS})")
    p.add_argument("--concurrency", type=int, default=4, help=f"asked at once (default 4, at most {MAX_CONCURRENCY})")
    p.add_argument("--seconds", type=float, default=120.0, help="no new question after this (default 120)")
    p.add_argument("--ingest", nargs="+", metavar="PATH", help="files or folders to ingest while the questions run")
    p.add_argument("--question-file", help="questions to ask, one per line (default: about examples/articles)")
    p.add_argument("--markdown", metavar="FILE", help="also write the summary table to FILE")


def spec_from_args(args: argparse.Namespace) -> LoadSpec:
    texts: tuple[str, ...] = DEFAULT_QUESTIONS
    if args.question_file:
        try:
            lines = Path(args.question_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {args.question_file}: {exc}") from None
        texts = tuple(line.strip() for line in lines if line.strip())
    spec = LoadSpec(args.questions, args.concurrency, args.seconds, tuple(args.ingest or ()), texts)
    spec.validate()
    return spec


def report_load(report: LoadReport, args: argparse.Namespace) -> int:
    """Print (and with --markdown, write) the report; 1 when a target was missed."""
    from ..console import print_json

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


def cmd_loadtest(args: argparse.Namespace) -> int:
    from ..console import open_index

    spec = spec_from_args(args)
    return report_load(asyncio.run(run_load(open_index(args), spec, RUNS)), args)
