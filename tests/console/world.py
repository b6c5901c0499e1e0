"""The console's test world: a relay over loopback (SQLite) whose one channel is a webhook to a
recording sink, failed runs pushed to it as a platform would, and a way to sign in."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from relay.clock import Clock
from relay.models import Delivery, DeliveryStatus
from tests.acceptance.harness import ADMIN_TOKEN, RunningRelay, running_relay
from tests.fakes.sinks import RecordingSink, recording_sink

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
XSS_TASK = "<img src=x onerror=alert(1)>"
XSS_ERROR = "<script>alert('boom')</script> at step 3"
XSS_URL = "javascript:alert(1)"


def rules(sink: str) -> str:
    return f"""
sources:
  recoup: {{kind: recoup}}
channels:
  hook: {{kind: webhook, url: "{sink}/runs"}}
rules:
  - name: failures
    match: {{phase: problem}}
    notify: [hook]
delivery:
  schedule: [50ms]
  quick_tries: 1
  quick_wait: 10ms
  timeout: 2s
"""


@dataclass
class World:
    relay: RunningRelay
    sink: RecordingSink

    @property
    def url(self) -> str:
        return self.relay.url

    async def push(
        self, run_id: str, task: str = "nightly-report", status: str = "FAILED", **extra: Any
    ) -> None:
        """A run update pushed to /hooks/recoup, as Recoup sends it (unsigned: from loopback)."""
        body = {
            "id": run_id,
            "taskIdentifier": task,
            "status": status,
            "createdAt": "2026-11-25T11:00:00Z",
            "updatedAt": "2026-11-25T12:00:00Z",
            "finishedAt": "2026-11-25T12:00:00Z",
            "error": {"message": "quota exceeded", "name": "Error"},
            **extra,
        }
        answer = await self.relay.client.post(f"{self.url}/hooks/recoup", json=body)
        assert answer.status_code == 202, answer.text

    async def deliveries(self, status: DeliveryStatus, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Bounded wait until `count` deliveries have `status`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found := await self.relay.relay.store.deliveries(status)) < count:
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} {status.value} deliveries, got {len(found)}")
            await asyncio.sleep(0.02)
        return found

    async def failed_run(self, run_id: str, **extra: Any) -> Delivery:
        """A failed run whose notification the sink refused until it went dead."""
        before = len(await self.relay.relay.store.deliveries(DeliveryStatus.DEAD))
        await self.push(run_id, **extra)
        found = await self.deliveries(DeliveryStatus.DEAD, before + 1)
        return found[0]


@asynccontextmanager
async def console_world(
    tmp_path: Path, database: str | None = None, clock: Clock | None = None
) -> AsyncIterator[World]:
    """`database`: a database URL (default: a SQLite file in `tmp_path`)."""
    sink = RecordingSink(always_fail=500)  # refuses until a test lets it answer
    async with recording_sink(sink=sink) as (_, sink_url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(sink_url))
        async with running_relay(config, database or tmp_path / "relay.db", clock) as relay:
            yield World(relay, sink)


async def sign_in(client: httpx.AsyncClient, url: str) -> str:
    """Signs `client` in (its cookie jar keeps the session); the CSRF token of its forms."""
    form = await client.get(f"{url}/console/signin")
    answer = await client.post(
        f"{url}/console/signin", data={"csrf": csrf_of(form.text), "token": ADMIN_TOKEN, "next": "/console"}
    )
    assert answer.status_code == 303, answer.text
    return csrf_of((await client.get(f"{url}/console")).text)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)
