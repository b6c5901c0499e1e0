"""/readyz tells a load balancer the truth about the store: a relay whose database cannot take
a write answers 503 with the reason (within its own timeout, not the balancer's), and 200
again once the condition clears."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import httpx2 as httpx

from tests.acceptance.harness import relay_process, running_relay
from tests.fakes.sqlite_lock import write_locked

RULES = "channels: {ops: {kind: console}}\nrules: [{name: all, match: {phase: terminal}, notify: [ops]}]\n"


async def test_readyz_is_503_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    config, database = tmp_path / "rules.yaml", tmp_path / "relay.db"
    config.write_text(RULES)
    async with running_relay(config, database) as relay:
        ready = await relay.client.get(f"{relay.url}/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"

        async with write_locked(database):
            locked = await relay.client.get(f"{relay.url}/readyz")
            assert locked.status_code == 503
            assert locked.json() == {
                "status": "unavailable",
                "reason": "store: no write within 2s (its lock held elsewhere, or the disk stalls)",
            }
        await _until_ready(relay.client, relay.url)


async def test_readyz_is_503_while_the_disk_refuses_writes(tmp_path: Path) -> None:
    """The relay process's file size limit (RLIMIT_FSIZE, set from outside with prlimit) drops to
    zero: the kernel refuses every write to its files, as a full disk would."""
    config = tmp_path / "rules.yaml"
    config.write_text(RULES)
    with relay_process(config, tmp_path / "relay.db") as relay:
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(f"{relay.url}/readyz")).status_code == 200
            unlimited = resource.prlimit(relay.proc.pid, resource.RLIMIT_FSIZE)
            resource.prlimit(relay.proc.pid, resource.RLIMIT_FSIZE, (0, unlimited[1]))
            try:
                full = await client.get(f"{relay.url}/readyz")
                assert full.status_code == 503
                assert full.json()["reason"] == "store: OperationalError: disk I/O error"
            finally:
                resource.prlimit(relay.proc.pid, resource.RLIMIT_FSIZE, unlimited)
            await _until_ready(client, relay.url)
        assert relay.proc.poll() is None


async def _until_ready(client: httpx.AsyncClient, url: str) -> None:
    async with asyncio.timeout(15):
        while (await client.get(f"{url}/readyz")).status_code != 200:
            await asyncio.sleep(0.05)
