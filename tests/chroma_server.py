"""A real Chroma server for tests: `chroma run` on loopback, on a free port, over a temporary path.

`ChromaServer` starts the server, waits (bounded) for `/api/v2/heartbeat`, and can stop and
start it again on the same port and path, which is what the fault tests need. The fixture
`chroma_server` gives one server per test module; tests isolate themselves by collection name.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT = 30.0  # seconds; a cold `chroma run` is up in ~4 s on 2 cores
STOP_TIMEOUT = 10.0  # a graceful stop takes ~3 s; after this the server is killed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chroma_executable() -> str:
    """The `chroma` command of this environment (installed with chromadb)."""
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        pytest.skip("the `chroma` command (from chromadb) is not installed")
    return found


@dataclass
class ChromaServer:
    path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.path.with_name(self.path.name + ".log")

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1.0) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> None:
        assert self.process is None, "already running"
        self.path.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [chroma_executable(), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                self.process = None
                raise RuntimeError(f"chroma run exited at start:\n{tail}")
            if self.alive():
                return
            time.sleep(0.1)
        self.stop(graceful=False)
        raise RuntimeError(f"chroma run did not answer its heartbeat within {START_TIMEOUT:.0f} s")

    def stop(self, graceful: bool = True) -> None:
        """SIGTERM and wait (graceful), or SIGKILL at once (a crash)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One loopback `chroma run` for the test module; stopped (killed: the data is temporary) after."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop(graceful=False)
