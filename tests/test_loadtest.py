"""`newsbot loadtest` with tiny numbers: concurrent questions in process and through the real bot
(simcord), an ingest running meanwhile, latency percentiles and the event-loop monitor."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index import ConfigError, NewsIndex
from index.measure.load import LOOP_BLOCK_TARGET_MS, LoadSpec, LoopMonitor, check_loopback

from .conftest import REPO, SAMPLE_ARTICLES
from .fakes import make_settings
from .synthetic import barrio_name, write_articles


class CpuPressure:
    """Linux PSI over a stretch of time: the share (%) of it in which runnable tasks waited for a
    CPU. Measured over the run itself (PSI's cumulative `total`), not over the 10 s before the
    assertion, which may be after the other work that slowed the run has ended. 0 if unknown."""

    def __init__(self) -> None:
        self.started = (time.monotonic(), self._stalled_us())

    @staticmethod
    def _stalled_us() -> float:
        try:
            line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        except (OSError, IndexError):
            return 0.0
        return float(line.split("total=")[1].split()[0])

    def percent(self) -> float:
        wall_s = time.monotonic() - self.started[0]
        return 100 * (self._stalled_us() - self.started[1]) / 1e6 / max(wall_s, 1e-6)


def loop_block_bound(pressure: CpuPressure) -> float:
    """The 100 ms target; three times that on a machine whose CPUs other work kept saturated
    during the run (tasks waiting for a CPU more than half the time), where any thread, the event
    loop's included, waits its turn for a core regardless of this code (see docs/reliability.md)."""
    return LOOP_BLOCK_TARGET_MS if pressure.percent() < 50 else 3 * LOOP_BLOCK_TARGET_MS


async def test_the_monitor_sees_a_blocked_loop() -> None:
    """The measurement can fail: a loop blocked for 250 ms is reported as such."""
    monitor = LoopMonitor()
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.05)
    time.sleep(0.25)  # blocks the event loop, on purpose
    await asyncio.sleep(0.05)
    monitor.stop()
    await task
    assert monitor.samples >= 2 and 240 <= monitor.max_block_ms < 1000


def test_limits_and_loopback_only() -> None:
    for bad in (LoadSpec(questions=0), LoadSpec(concurrency=65), LoadSpec(seconds=0), LoadSpec(seconds=10_000)):
        with pytest.raises(ConfigError):
            bad.validate()
    check_loopback("http://127.0.0.1:8000", "x")
    with pytest.raises(ConfigError, match="only runs against this machine"):
        check_loopback("https://chroma.example.com:8000", "NEWSBOT_CHROMA_URL")


@pytest.mark.slow
def test_loadtest_command_in_process_and_through_the_bot(tmp_path: Path) -> None:
    """A fresh process (cold models: the bot must warm them up before its first question), 16
    questions 4 at once per run, while 8 new articles are ingested; JSON and Markdown out."""
    store = tmp_path / "store"
    new = tmp_path / "new"
    write_articles(new, range(500, 508))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    # Written by another process, as the test reads the store only afterwards: an embedded
    # Chroma store is not shared between live processes (that is what the server is for).
    ingest = [sys.executable, "-m", "index.cli", "ingest", str(SAMPLE_ARTICLES), "--store", str(store)]
    subprocess.run(ingest, env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300)
    # The bot run's driver is the tests' harness: `python -m tests.bot_harness loadtest` runs
    # `newsbot loadtest`'s in-process run, then the bot run, with the same options.
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "tests.bot_harness", "loadtest", "--store", str(store), "--json",
               "--questions", "16", "--concurrency", "4", "--seconds", "60", "--ingest", str(new),
               "--markdown", str(tmp_path / "load.md")]  # fmt: skip
    pressure = CpuPressure()
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    by_mode = {run["mode"]: run for run in report["runs"]}
    assert set(by_mode) == {"inprocess", "bot"}
    for run in by_mode.values():
        assert run["errors"] == [] and run["lost"] == 0, run
        assert run["sent"] == run["answered"] == 16
        assert 0 < run["refused"] < 16  # the Messi question is refused, the others answered
        latency = run["latency_ms"]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
        assert run["throughput_per_s"] > 0 and run["loop_samples"] > 10
        assert run["loop_block_max_ms"] <= loop_block_bound(pressure), (run, f"{pressure.percent():.0f} % CPU pressure")
    # The ingest ran during the first run and really wrote; the second found it done.
    assert by_mode["inprocess"]["ingest"]["summary"].startswith("added 8")
    assert by_mode["bot"]["ingest"]["summary"].startswith("added 0, updated 0, unchanged 8")
    assert report["chunks_after"] == report["chunks_before"] + by_mode["inprocess"]["ingest"]["chunks"] > 0
    # The verdict uses the product's strict 100 ms bound; under CPU pressure the block may pass it
    # within the allowance above, and then the report must say "missed" (and exit non-zero).
    within_target = all(run["loop_block_max_ms"] <= LOOP_BLOCK_TARGET_MS for run in by_mode.values())
    assert report["ok"] == within_target and (result.returncode == 0) == within_target, result.stderr
    table = (tmp_path / "load.md").read_text(encoding="utf-8")
    assert "| inprocess | 16 | 16 " in table and "| bot | 16 | 16 " in table
    assert ("**met**" if within_target else "**missed**") in table
    idx = NewsIndex(store, settings=make_settings(store))
    assert idx.search(f"barrio {barrio_name(503)}", k=1)[0].title.endswith(barrio_name(503))


@pytest.mark.slow
def test_missed_target_exits_non_zero(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env["NEWSBOT_CHROMA_URL"] = "http://10.1.2.3:8000"
    result = subprocess.run(
        [sys.executable, "-m", "index.cli", "loadtest", "--store", str(store), "--questions", "1"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a loopback address" in result.stderr or "cannot open the Chroma store" in result.stderr
    too_many = subprocess.run(
        [sys.executable, "-m", "index.cli", "loadtest", "--store", str(store), "--questions", "100000"],
        env={k: v for k, v in env.items() if k != "NEWSBOT_CHROMA_URL"}, cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert too_many.returncode == 1 and "--questions must be between 1 and 5000" in too_many.stderr
