"""`relay serve` replicas as real processes on one database, killed and restarted at will."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

from tests.fakes.sinks import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "chaos-admin-token"
START_TIMEOUT = 30.0  # seconds for a replica to answer /healthz (two cores, three replicas)


@dataclass
class Replica:
    """One `relay serve` process: the same replica id and port across restarts."""

    id: str
    config: Path
    database_url: str
    lease_ttl: float
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    closed: bool = False  # stopped for good: a restart still pending must not start it again

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.closed:
            return
        env = {
            **os.environ,
            "RELAY_CONFIG": str(self.config),
            "RELAY_DATABASE_URL": self.database_url,
            "RELAY_PORT": str(self.port),
            "RELAY_REPLICA_ID": self.id,
            "RELAY_LEASE_TTL": f"{self.lease_ttl}s",
            "RELAY_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "relay.cli", "serve"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=ROOT,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as a lost machine."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end in time; always leaves no process behind."""
        self.closed = True
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    async def healthy(self, client: httpx.AsyncClient, timeout: float = START_TIMEOUT) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not self.alive and not self.closed:
                raise RuntimeError(f"replica {self.id} exited early:\n{self.tail()}")
            try:
                if (await client.get(f"{self.url}/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"replica {self.id} never became healthy:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


async def poll_leader(replicas: list[Replica], client: httpx.AsyncClient, source: str) -> str | None:
    """The replica that holds `source`'s poll lease, as any live replica's /admin/sources says."""
    for replica in replicas:
        if not replica.alive:
            continue
        try:
            answer = await client.get(
                f"{replica.url}/admin/sources",
                headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=2,
            )
        except httpx.HTTPError:
            continue
        if answer.status_code == 200:
            leader: str | None = answer.json()["sources"][source].get("leader")
            return leader
    return None
