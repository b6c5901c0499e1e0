"""Missed scheduled runs and switched-off tasks, found by the Recoup poller over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.clock import SystemClock
from relay.sources.recoup.client import RecoupClient
from relay.sources.recoup.poll import RecoupPoller
from relay.store.sqlite import SqliteStore
from tests.fakes.recoup_api import FakeRecoupApi
from tests.integration.helpers import relay_parts

KEY = "placeholder-recoup-key-sched_0123456789"
RULES = """
channels: {console: {kind: console}}
rules:
  - {name: missed, match: {status: MISSED}, notify: [console]}
  - {name: switched-off, match: {status: DISABLED, from_status: ENABLED}, notify: [console]}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[FakeRecoupApi, SqliteStore, RecoupPoller]]:
    async with FakeRecoupApi(api_key=KEY) as fake:
        sources = f"""
sources:
  recoup: {{kind: recoup, base_url: "{fake.base_url}", api_key: "{KEY}", schedules: true,
            schedule_grace: 1m}}
"""
        async with relay_parts(tmp_path, sources, RULES) as (http, store, pipeline, ruleset):
            # the relay has been watching for ten minutes
            await store.watching_since("recoup", datetime.now(UTC) - timedelta(minutes=10))
            config = ruleset.sources["recoup"]
            poller = RecoupPoller(
                config, RecoupClient.for_source(config, http), store, pipeline.ingest_many, SystemClock()
            )
            yield fake, store, poller


async def test_missed_slots_notify_once_and_a_switch_off_is_a_transition(
    setup: tuple[FakeRecoupApi, SqliteStore, RecoupPoller],
) -> None:
    fake, store, poller = setup
    fake.put_task("t-every-minute", title="Minute clip", schedule="* * * * *", owner_email="ops@label.com")
    fake.put_task("t-yearly", title="Yearly recap", schedule="0 0 1 1 *")
    await poller.poll_once()
    missed = [t for t in await store.transitions(1000) if t.to_status == "MISSED"]
    assert 8 <= len(missed) <= 10  # one per minute between watching-since and now - grace
    assert all(t.run_id.startswith("missed:t-every-minute:") for t in missed)
    deliveries = await store.deliveries(limit=1000)
    assert {d.rule for d in deliveries} == {"missed"} and len(deliveries) == len(missed)
    assert "Minute clip missed its scheduled run" in deliveries[0].message.title

    await poller.poll_once()  # seen again: the same runs, nothing new
    assert len(await store.deliveries(limit=1000)) == len(missed)

    fake.put_task("t-yearly", title="Yearly recap", schedule="0 0 1 1 *", enabled=False)
    await poller.poll_once()
    off = [d for d in await store.deliveries(limit=1000) if d.rule == "switched-off"]
    assert len(off) == 1 and "Yearly recap" in off[0].message.title
    assert [r.path for r in fake.requests].count("/api/tasks") == 3
