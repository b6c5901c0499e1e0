"""The relay as a user runs it: in-process over loopback HTTP, or as a `relay serve` process."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx

from relay.app import create_app
from relay.clock import Clock
from relay.observability import log_handler
from relay.service import Relay
from relay.settings import Settings
from tests.fakes.servers import serve
from tests.fakes.sinks import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "admin-token-for-tests"


@dataclass
class RunningRelay:
    url: str
    relay: Relay
    client: httpx.AsyncClient

    async def admin(self, path: str) -> dict:  # type: ignore[type-arg]
        answer = await self.client.get(
            f"{self.url}/admin/{path}", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


@asynccontextmanager
async def running_relay(
    config: Path, database: Path | str, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[RunningRelay]:
    """`database`: a SQLite file, or a database URL (the `database_url` fixture's)."""
    settings = Settings(
        config_path=str(config),
        database_url=database if isinstance(database, str) else f"sqlite:///{database}",
        admin_token=ADMIN_TOKEN,
        **({"max_body_bytes": 64 * 1024} | overrides),
    )
    app = create_app(settings, clock)
    async with serve(app, lifespan="on") as url, httpx.AsyncClient(timeout=10) as client:
        yield RunningRelay(url, app.state.relay, client)


@dataclass
class Process:
    url: str
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_for_output(self, text: str, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text not in self.output():
            if loop.time() > deadline:
                raise AssertionError(f"{text!r} never appeared in:\n{self.output()}")
            await asyncio.sleep(0.02)


@contextmanager
def relay_log(level: int) -> Iterator[io.StringIO]:
    """What the relay's log handler writes from `level` on, libraries' lines included, as
    `relay serve` sets it up (masking included)."""
    stream = io.StringIO()
    handler, root = log_handler(stream), logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def relay_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One `relay COMMAND ...` run to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "relay.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def start_relay_cli(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """`relay COMMAND ...` started, its output piped, without blocking the loop (which may be
    serving the test's fakes)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay.cli",
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )


async def relay_cli_async(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """As `relay_cli`, without blocking the loop."""
    proc = await start_relay_cli(*args, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())


@contextmanager
def relay_process(
    config: Path, database: Path | str, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[Process]:
    """`relay serve [args]` as a child process; always stopped (SIGTERM, then SIGKILL) on exit.
    `database`: a SQLite file, or a database URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relay.cli",
            "serve",
            "--config",
            str(config),
            "--database",
            database if isinstance(database, str) else f"sqlite:///{database}",
            "--port",
            str(port),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RELAY_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})},
        cwd=ROOT,
    )
    process = Process(f"http://127.0.0.1:{port}", proc)
    reader = threading.Thread(target=_collect, args=(proc, process.lines), daemon=True)
    reader.start()
    try:
        _wait_healthy(process)
        yield process
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        reader.join(5)
        assert proc.stdout is not None
        proc.stdout.close()


def _collect(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))


def _wait_healthy(process: Process, timeout: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise AssertionError(f"relay exited early:\n{process.output()}")
        try:
            if httpx.get(f"{process.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"relay never became healthy:\n{process.output()}")
