"""CPU seconds spent by processes during a measurement, read from /proc (Linux only; no
dependency): the relay's process groups, the PostgreSQL backends serving them, and the machine.

    meter = Meter(relay_groups=[relay.pid])
    ... the workload ...
    used = meter.read()  # Used(relay=..., postgres=..., machine=..., wall=...)

A relay started through `Processes` is its own process group (the supervisor and its
children), so the group id finds every process of it. PostgreSQL backends are matched by the
client port in their process title ("postgres: 15/main: postgres test 127.0.0.1(45934) idle")
against the relay processes' own TCP connections to the server's port; the server's own
processes (WAL writer, checkpointer, background writer, autovacuum) are counted too, as they
work for whoever writes (on a shared machine they also work for others: see `machine`).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")
CLIENT = re.compile(r"\((\d+)\)")  # the client's port in a backend's process title
SERVER_PROCESS = ("checkpointer", "background writer", "walwriter", "autovacuum", "logger", "stats")


@dataclass(frozen=True)
class Used:
    relay: float  # CPU seconds of the relay processes
    postgres: float  # CPU seconds of the backends serving them and of the server's own processes
    machine: float  # CPU seconds of every process on the machine (from /proc/stat)
    wall: float  # seconds the measurement lasted

    @property
    def busy_cores(self) -> float:
        return self.machine / self.wall if self.wall else 0.0


def _stat(pid: int) -> tuple[int, float] | None:
    """(process group, CPU seconds) of one process, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / TICK


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def group_cpu(groups: set[int]) -> dict[int, float]:
    """CPU seconds of every live process in these process groups, by pid."""
    found: dict[int, float] = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None and stat[0] in groups:
            found[pid] = stat[1]
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in (PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def client_ports(pids: list[int], server_port: int) -> set[int]:
    """Local ports of these processes' TCP connections to `server_port` on this host."""
    inodes = set().union(*(_socket_inodes(p) for p in pids)) if pids else set()
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                cols = line.split()
                local, remote, inode = cols[1], cols[2], cols[9]
                if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == server_port:
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def postgres_cpu(ports: set[int]) -> dict[int, float]:
    """CPU seconds of the backends whose client port is in `ports`, and of the server's own
    processes, by pid."""
    found: dict[int, float] = {}
    for pid in _pids():
        try:
            title = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if not title.startswith("postgres:"):
            continue
        client = CLIENT.search(title)
        ours = client is not None and int(client.group(1)) in ports
        if ours or (client is None and any(s in title for s in SERVER_PROCESS)):
            stat = _stat(pid)
            if stat is not None:
                found[pid] = stat[1]
    return found


def machine_cpu() -> float:
    """CPU seconds spent by the whole machine (every core, everything but idle and iowait)."""
    cols = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = cols[3] + (cols[4] if len(cols) > 4 else 0)
    return (sum(cols[:8]) - idle) / TICK


class Meter:
    """CPU from now until `read()`: the relay groups' processes, their PostgreSQL backends (when
    `postgres_port` is given), the machine. A process that started in between counts from 0."""

    def __init__(self, relay_groups: list[int], postgres_port: int | None = None) -> None:
        self.groups, self.pg_port = set(relay_groups), postgres_port
        self.start_relay = group_cpu(self.groups)
        self.ports = self._ports(self.start_relay)
        self.start_pg = postgres_cpu(self.ports) if postgres_port else {}
        self.start_machine, self.started = machine_cpu(), time.monotonic()

    def _ports(self, relay: dict[int, float]) -> set[int]:
        return client_ports(list(relay), self.pg_port) if self.pg_port else set()

    def read(self) -> Used:
        relay = group_cpu(self.groups)
        pg: dict[int, float] = {}
        if self.pg_port:  # connections opened meanwhile (a pool grows on demand) count too
            pg = postgres_cpu(self.ports | self._ports(relay))
        return Used(
            relay=_delta(self.start_relay, relay),
            postgres=_delta(self.start_pg, pg),
            machine=machine_cpu() - self.start_machine,
            wall=time.monotonic() - self.started,
        )


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
