"""Quiet hours and suppressed counts, end to end: run updates pushed over loopback HTTP, a
controllable clock, messages at a recording Slack-style receiver (SQLite and PostgreSQL).

- 23:00 Berlin: two failures are held; a billing failure (urgent) goes out at once;
- 07:00 Berlin: the two go out as one message that says "+1 more since 22:00 UTC (quiet hours)";
- a channel over its rate limit: its next message says "+N more since ... (rate limit)".
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from relay.clock import FakeClock
from tests.acceptance.harness import RunningRelay, running_relay
from tests.fakes.sinks import Recorded, recording_sink

NIGHT = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 23:00 in Berlin
MORNING = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def rules(sink: str) -> str:
    return f"""
sources: {{recoup: {{kind: recoup}}}}
channels:
  night-desk: {{kind: slack, url: "{sink}/services/T0/B0/night"}}
  pager: {{kind: slack, url: "{sink}/services/T0/B0/pager", rate_limit: 1/min}}
rules:
  - name: failures
    match: {{status: FAILED}}
    notify: [night-desk]
    quiet_hours: {{from: "22:00", to: "07:00", tz: Europe/Berlin}}
    urgent: {{task: billing}}
  - name: crashes
    match: {{status: CRASHED}}
    notify: [pager]
"""


async def push(relay: RunningRelay, run_id: str, status: str, at: datetime, task: str = "render") -> None:
    stamp = at.isoformat().replace("+00:00", "Z")
    body = {"id": run_id, "taskIdentifier": task, "status": status, "updatedAt": stamp, "finishedAt": stamp}
    answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=body)
    assert answer.status_code == 202, answer.text


def text(message: Recorded) -> str:
    """Everything a person reads in a Slack message."""
    return json.dumps(message.json(), ensure_ascii=False)


async def test_failures_in_quiet_hours_are_held_and_go_out_as_one_message_at_seven(
    tmp_path: Path, database_url: str
) -> None:
    clock = FakeClock(NIGHT)
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url))
        async with running_relay(config, database_url, clock) as relay:
            await push(relay, "r1", "FAILED", NIGHT)
            clock.advance(2 * 3600)
            await push(relay, "r2", "FAILED", clock.now())
            await push(relay, "r3", "FAILED", clock.now(), task="billing")  # urgent: through now
            (urgent,) = await sink.wait_for(1)
            assert "billing" in text(urgent)
            held = (await relay.admin("suppressed"))["suppressed"]
            assert [(c["rule"], c["reason"], c["count"], c["held"]) for c in held] == [
                ("failures", "quiet_hours", 2, True)
            ]
            clock.current = MORNING - timedelta(minutes=1)
            await asyncio.sleep(0.2)  # a few worker passes: still quiet
            assert len(sink.received) == 1
            clock.current = MORNING
            _, released = await sink.wait_for(2)
        said = text(released)
        assert "failures: 2 notifications" in said
        assert "+1 more since 22:00 UTC (quiet hours)" in said
        assert said.count("• render failed (recoup)") == 2  # both held failures, in one message


async def test_a_channel_over_its_rate_limit_says_how_many_it_folded(
    tmp_path: Path, database_url: str
) -> None:
    clock = FakeClock(NOON)
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url))
        async with running_relay(config, database_url, clock) as relay:
            await push(relay, "c1", "CRASHED", NOON)
            await sink.wait_for(1)
            for n in (2, 3, 4):  # over the limit of 1/min: deferred to the next free slot
                await push(relay, f"c{n}", "CRASHED", NOON)
            await _until(lambda: _held(relay), relay)
            clock.advance(61)
            _, folded = await sink.wait_for(2)
            await asyncio.sleep(0.1)
            assert len(sink.received) == 2
        said = text(folded)
        assert "crashes: 3 notifications" in said
        assert "+2 more since 12:00 UTC (rate limit)" in said


async def _held(relay: RunningRelay) -> bool:
    counts: list[dict[str, Any]] = (await relay.admin("suppressed"))["suppressed"]
    return any(c["reason"] == "rate_limit" and c["count"] == 3 for c in counts)


async def _until(condition: Any, relay: RunningRelay, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)
