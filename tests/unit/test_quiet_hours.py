"""Quiet hours: the window math (midnight, DST), and held -> released as one grouped message,
urgent matches through, driven by a fake clock through the real pipeline and worker over the
in-memory store (no sleeps). Suppressed counts: the next message says what was held back."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from relay.clock import FakeClock
from relay.config import load_ruleset
from relay.delivery.worker import DeliveryWorker, _by_group
from relay.errors import ConfigErrors
from relay.models import Via
from relay.pipeline import Pipeline
from relay.quiet import QuietHours, parse_clock_time
from relay.silences import new_silence
from relay.store.memory import MemoryStore
from tests.builders import snap
from tests.checks import validate_payload
from tests.unit.test_noise_control import Recorder

BERLIN_NIGHT = QuietHours(time(22, 0), time(7, 0), "Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "release"),
    [
        (utc(2026, 11, 24, 20, 59), None),  # 21:59 Berlin: not yet
        (utc(2026, 11, 24, 21, 0), utc(2026, 11, 25, 6, 0)),  # 22:00: quiet until 07:00 next day
        (utc(2026, 11, 24, 23, 30), utc(2026, 11, 25, 6, 0)),  # past midnight UTC
        (utc(2026, 11, 25, 5, 59), utc(2026, 11, 25, 6, 0)),  # 06:59: one minute left
        (utc(2026, 11, 25, 6, 0), None),  # 07:00: over
        # DST: the night clocks go forward (29 Mar 2026) is an hour shorter, still ends 07:00 local
        (utc(2026, 3, 28, 21, 0), utc(2026, 3, 29, 5, 0)),
        # ... and the night they go back (25 Oct 2026) an hour longer
        (utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 6, 0)),
    ],
)
def test_a_window_across_midnight_ends_at_its_local_wall_time(
    now: datetime, release: datetime | None
) -> None:
    assert BERLIN_NIGHT.release(now) == release


def test_a_window_within_one_day_and_an_end_that_dst_skips() -> None:
    lunch = QuietHours(time(12, 0), time(13, 30))
    assert lunch.release(utc(2026, 1, 5, 11, 59)) is None
    assert lunch.release(utc(2026, 1, 5, 12, 0)) == utc(2026, 1, 5, 13, 30)
    assert lunch.release(utc(2026, 1, 5, 13, 30)) is None
    # 02:30 does not exist in Berlin on 29 Mar 2026: the quiet ends when the clocks jump
    gap = QuietHours(time(1, 0), time(2, 30), "Europe/Berlin")
    assert gap.release(utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 1, 0)


def test_bad_times_are_refused_with_what_is_expected() -> None:
    assert parse_clock_time("07:00") == time(7, 0)
    for bad in ("7", "24:00", "12:60", "noon", "12:5"):
        with pytest.raises(ValueError, match="expected a time"):
            parse_clock_time(bad)


RULES = """
sources: {recoup: {kind: recoup}}
channels:
  chat: {kind: webhook, url: "http://127.0.0.1:9/chat"}
  ops:
    kind: webhook
    url: "http://127.0.0.1:9/ops"
    quiet_hours: {from: "22:00", to: "07:00", tz: Europe/Berlin}
rules:
  - name: failures
    match: {status: FAILED}
    notify: [chat]
    quiet_hours: {from: "22:00", to: "07:00", tz: Europe/Berlin}
    urgent: {task: billing}
  - name: crashes
    match: {status: CRASHED}
    notify: [ops]
  - name: per-task
    match: {status: CANCELED}
    notify: [chat]
    once_per: {key: "{{ run.task }}", period: 1h}
"""

NIGHT = utc(2026, 11, 24, 22, 0)  # 23:00 in Berlin


class World:
    def __init__(self, path: Path) -> None:
        ruleset = load_ruleset(path)
        self.clock, self.store = FakeClock(NIGHT), MemoryStore()
        self.chat, self.ops = Recorder("chat"), Recorder("ops")
        wakeup = asyncio.Event()
        channels = {"chat": self.chat, "ops": self.ops}
        self.worker = DeliveryWorker(self.store, channels, ruleset.delivery, self.clock, wakeup)  # type: ignore[arg-type]
        self.pipeline = Pipeline(self.store, ruleset, self.clock, wakeup)

    async def ingest(self, status: str, run_id: str, task: str = "create-content") -> None:
        s, now = snap(status, run_id=run_id, task=task, via=Via.WEBHOOK), self.clock.now()
        await self.pipeline.ingest(replace(s, updated_at=now, finished_at=now))

    async def deliver(self) -> None:
        for members in _by_group(await self.store.claim(self.clock.now(), 100, 60)):
            await self.worker._deliver(members, self.worker.policy)


@pytest.fixture
def world(tmp_path: Path) -> World:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return World(path)


async def test_matches_in_quiet_hours_are_held_and_released_as_one_message(world: World) -> None:
    await world.ingest("FAILED", "a")
    world.clock.advance(3 * 3600)
    await world.ingest("FAILED", "b")
    await world.ingest("CRASHED", "c")  # the channel's quiet hours hold the other rule too
    await world.deliver()
    assert world.chat.sent == [] and world.ops.sent == []
    counts = {(c.rule, c.reason, c.count, c.held) for c in await world.store.suppressed_counts()}
    assert counts == {("failures", "quiet_hours", 2, True), ("crashes", "quiet_hours", 1, True)}
    world.clock.current = utc(2026, 11, 25, 5, 59)  # 06:59 Berlin
    await world.deliver()
    assert world.chat.sent == []
    world.clock.current = utc(2026, 11, 25, 6, 0)  # 07:00 Berlin
    await world.deliver()
    (grouped,) = world.chat.sent
    assert grouped.message.title == "failures: 2 notifications"
    assert grouped.message.body.endswith("+1 more since 22:00 UTC (quiet hours)")
    validate_payload(grouped.payload)
    assert grouped.payload["suppressed"] == [
        {"reason": "quiet_hours", "count": 1, "since": NIGHT.isoformat()}
    ]
    assert len(world.ops.sent) == 1
    assert await world.store.suppressed_counts() == []


async def test_an_urgent_match_goes_out_during_quiet_hours(world: World) -> None:
    await world.ingest("FAILED", "a", task="billing")
    await world.ingest("FAILED", "b", task="create-content")
    await world.deliver()
    (urgent,) = world.chat.sent
    assert urgent.payload["run"]["task"] == "billing"


async def test_the_next_message_counts_once_per_and_silenced_ones(world: World) -> None:
    world.clock.current = utc(2026, 11, 25, 9, 0)  # daytime: no quiet hours
    await world.ingest("CANCELED", "c1")
    await world.ingest("CANCELED", "c2")  # once per hour: not sent, counted
    silence = new_silence({"task": "nightly-*"}, world.clock.now(), world.clock.now() + timedelta(hours=1))
    await world.store.add_silence(silence)
    world.pipeline.silences = await world.store.silences(world.clock.now())
    await world.ingest("CANCELED", "c3", task="nightly-sync")  # silenced: not sent, counted
    await world.deliver()
    assert len(world.chat.sent) == 1
    world.clock.advance(3600)
    await world.ingest("CANCELED", "c4")
    await world.deliver()
    told = world.chat.sent[-1]
    assert told.message.body.splitlines()[-2:] == [
        "+1 more since 09:00 UTC (once per)",
        "+1 more since 09:00 UTC (silenced)",
    ]
    validate_payload(told.payload)
    assert await world.store.suppressed_counts() == []


def test_quiet_hours_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.replace("tz: Europe/Berlin}\n    urgent", "tz: Europe/Berlim}\n    urgent"))
    with pytest.raises(ConfigErrors) as refused:
        load_ruleset(path)
    assert f"{path}:13: rule 'failures' quiet_hours: unknown time zone 'Europe/Berlim'" in str(refused.value)
