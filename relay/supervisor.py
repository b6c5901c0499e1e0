"""`relay serve --workers N`: N relay processes on one port, on one host.

One CPython process uses one core. The supervisor binds the port once and starts N children
(`relay serve --fd`), which all accept on that socket: the kernel spreads connections over
them. Each child is a whole relay with its own replica id ("<replica id>/w<i>"), so the
store's leader leases decide which child polls each source and runs the clock's jobs, and
deliveries are claimed by whichever child is free, exactly as with replicas on several hosts.

A child that dies is started again (same replica id: it takes back its own claims at once),
after a pause that grows while it keeps dying. SIGTERM or SIGINT stop every child (each
finishes or hands back what it was sending) and then the supervisor; SIGHUP is passed on
(each child re-reads rules.yaml).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from relay.settings import Settings

log = logging.getLogger("relay.supervisor")

RESTART_PAUSE = (0.5, 30.0)  # seconds: first pause before restarting a child, and the longest
STOP_GRACE = 30.0  # seconds children have to stop before they are killed
STEADY = 30.0  # a child up this long has its restart pause reset


@dataclass
class Child:
    index: int
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    pause: float = RESTART_PAUSE[0]


class Supervisor:
    def __init__(self, settings: Settings, roles: str, count: int) -> None:
        self.settings, self.roles, self.count = settings, roles, count
        self.children: dict[int, Child] = {}
        self.stopping = False
        self.sock = _bind(settings.host, settings.port)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        signal.signal(signal.SIGHUP, self._pass_on)
        log.info(
            "supervisor_started workers=%d port=%d replica=%s",
            self.count,
            self.settings.port,
            self.settings.owner,
        )
        try:
            for i in range(self.count):
                self.children[i] = self._spawn(i)
            while not self.stopping:
                self._reap()
                time.sleep(0.2)
        finally:
            self._stop_all()
            self.sock.close()
        log.info("supervisor_stopped")
        return 0

    def _spawn(self, index: int, pause: float = RESTART_PAUSE[0]) -> Child:
        fd = self.sock.fileno()
        env = {
            **os.environ,
            "RELAY_REPLICA_ID": f"{self.settings.owner}/w{index}",
            "RELAY_CONFIG": self.settings.config_path,
            "RELAY_DATABASE_URL": self.settings.database_url,
            "RELAY_ROLE": self.roles,
            "RELAY_WORKERS": "1",
        }
        argv = [
            sys.executable,
            "-m",
            "relay.cli",
            "serve",
            "--fd",
            str(fd),
            "--port",
            str(self.settings.port),
        ]
        proc = subprocess.Popen(argv, env=env, pass_fds=(fd,), stdin=subprocess.DEVNULL)
        log.info("worker_started index=%d pid=%d", index, proc.pid)
        return Child(index, proc, pause=pause)

    def _reap(self) -> None:
        """Start again a child that ended, after its pause (doubled while it keeps dying)."""
        for index, child in list(self.children.items()):
            code = child.proc.poll()
            if code is None or self.stopping:
                continue
            up = time.monotonic() - child.started
            pause = RESTART_PAUSE[0] if up > STEADY else min(child.pause * 2, RESTART_PAUSE[1])
            log.error(
                "worker_died index=%d pid=%d code=%d restart_in=%.1fs", index, child.proc.pid, code, pause
            )
            time.sleep(pause)
            if not self.stopping:
                self.children[index] = self._spawn(index, pause)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _pass_on(self, signum: int, frame: FrameType | None) -> None:
        for child in self.children.values():
            if child.proc.poll() is None:
                child.proc.send_signal(signum)

    def _stop_all(self) -> None:
        for child in self.children.values():
            if child.proc.poll() is None:
                child.proc.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for child in self.children.values():
            try:
                child.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker_killed index=%d pid=%d (did not stop in time)", child.index, child.proc.pid)
                child.proc.kill()
                child.proc.wait()


def inherited_socket(fd: int) -> socket.socket:
    """The listening socket a child inherits, as what it is: TCP over IPv4 or IPv6.

    uvicorn's `fd=` wraps it as AF_UNIX (`socket.fromfd(fd, AF_UNIX, ...)`), so the event loop
    never sets TCP_NODELAY on the connections it accepts, and every keep-alive answer then
    waits for the client's delayed ACK (~40 ms here: ~350 requests/s over 16 connections,
    whatever the CPU; found by bench/replicas.py). `socket(fileno=)` asks the kernel for the
    family, type and protocol."""
    return socket.socket(fileno=fd)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
