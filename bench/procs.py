"""Start and stop the bench's processes: each in its own process group, always stopped.

    with Processes() as procs:
        sink = procs.start("sink", [PY, "-m", "bench.sink", "--port", str(port)], port=port)
        ...
    # every group started here got SIGTERM, then SIGKILL if it lingered

Output goes to a log file per process (a pipe nobody reads would block a chatty process).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
STOP_GRACE = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""  # http://127.0.0.1:PORT when it serves HTTP

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Proc] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
        health: str | None = None,
        timeout: float = 20.0,
        cwd: Path | None = None,
    ) -> Proc:
        log = self.workdir / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(
            argv,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd or ROOT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # its own process group: stop() reaches its children too
        )
        handle.close()
        proc = Proc(name, popen, log)
        self.started.append(proc)
        if port is not None:
            proc.url = f"http://127.0.0.1:{port}"
            _wait_ready(proc, port, health, timeout)
        return proc

    def stop(self, proc: Proc) -> None:
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.popen.wait(5)
        # children (uvicorn workers) may outlive the leader by a moment
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.started)):
            self.stop(proc)


def _wait_ready(proc: Proc, port: int, health: str | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early (code {proc.popen.returncode}):\n{proc.tail()}")
        try:
            if health is None:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            else:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{health}", timeout=1) as r:
                    if r.status == 200:
                        return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{proc.name} not ready on port {port} after {timeout:g}s:\n{proc.tail()}")


def get_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def rss_mb(pid: int) -> float:
    """Resident set size of one process, in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def group_rss_mb(leader: int) -> float:
    """RSS of a process and its direct children (uvicorn --workers spawns them)."""
    total = rss_mb(leader)
    for child in _children(leader):
        with contextlib.suppress(OSError):
            total += rss_mb(child)
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found
