"""Digests with send_empty: one message per window, none skipped by a late pass, a leader's
handover or a restart; none for a time before the relay first ran."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.clock import FakeClock
from relay.config import RuleSet, load_ruleset
from relay.scheduler import CATCH_UP, Scheduler
from relay.store.memory import MemoryStore

RULES = """
channels: {mail: {kind: console}}
rules:
  - name: pulse
    match: {phase: problem}
    notify: [mail]
    digest: {cron: "*/5 * * * *", send_empty: true}
"""

T = datetime(2026, 12, 3, 10, 0, 30, tzinfo=UTC)


@pytest.fixture
def ruleset(tmp_path: Path) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return load_ruleset(path)


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 12, 3, 10, 0, tzinfo=UTC) + timedelta(minutes=minute, seconds=second)


async def windows_sent(store: MemoryStore) -> list[str]:
    """The window ends of the digests written, as HH:MM, oldest first."""
    keys = sorted(d.idempotency_key for d in await store.deliveries(limit=1000))
    return [datetime.fromisoformat(key.split(":", 3)[3]).strftime("%H:%M") for key in keys]


def scheduler(store: MemoryStore, ruleset: RuleSet, clock: FakeClock) -> Scheduler:
    return Scheduler(store, ruleset, clock, asyncio.Event())


async def test_a_pass_later_than_several_windows_sends_each_of_them(ruleset: RuleSet) -> None:
    store, clock = MemoryStore(), FakeClock(T)
    relay = scheduler(store, ruleset, clock)
    clock.current = at(5, 10)
    assert (await relay.tick()).digests_sent == 1
    clock.current = at(21)  # passes slower than the windows (a busy loop, a long pause)
    assert (await relay.tick()).digests_sent == 3
    assert (await relay.tick()).digests_sent == 0
    assert await windows_sent(store) == ["10:05", "10:10", "10:15", "10:20"]


async def test_a_new_leader_or_a_restart_continues_after_the_last_window_sent(ruleset: RuleSet) -> None:
    store, clock = MemoryStore(), FakeClock(T)
    old = scheduler(store, ruleset, clock)
    clock.current = at(5, 1)
    await old.tick()
    clock.current = at(12)  # the old leader died after 10:05; this one started after 10:10
    new = scheduler(store, ruleset, clock)
    assert (await new.tick()).digests_sent == 1
    assert await windows_sent(store) == ["10:05", "10:10"]


async def test_a_first_start_reports_on_no_window_before_it(ruleset: RuleSet) -> None:
    store, clock = MemoryStore(), FakeClock(at(12))
    relay = scheduler(store, ruleset, clock)
    assert (await relay.tick()).digests_sent == 0  # 10:10 ended before the relay ran
    clock.current = at(15, 1)
    assert (await relay.tick()).digests_sent == 1
    assert await windows_sent(store) == ["10:15"]


async def test_after_a_gap_longer_than_the_catch_up_only_the_latest_window_is_sent(
    ruleset: RuleSet,
) -> None:
    store, clock = MemoryStore(), FakeClock(T)
    relay = scheduler(store, ruleset, clock)
    clock.current = at(5, 1)
    await relay.tick()
    clock.current = at(5 * CATCH_UP + 5, 1)  # CATCH_UP windows ended since 10:05: all are sent
    assert (await relay.tick()).digests_sent == CATCH_UP
    clock.current += timedelta(minutes=5 * (CATCH_UP + 3))  # down longer than that: a flood
    assert (await relay.tick()).digests_sent == 1  # of old empty windows would only be noise
    sent = await windows_sent(store)
    assert len(sent) == CATCH_UP + 2 and sent[-1] == "12:20"
