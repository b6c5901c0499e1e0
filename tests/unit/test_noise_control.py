"""Digests, grouping, once-per, silences, recovery and stuck runs, driven by a fake clock
through the real pipeline, scheduler and worker over the in-memory store (no sleeps)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.channels.base import Response
from relay.clock import FakeClock
from relay.config import load_ruleset
from relay.delivery.worker import DeliveryWorker, _by_group
from relay.models import Delivery, DeliveryStatus, Via
from relay.pipeline import Pipeline
from relay.scheduler import Scheduler
from relay.silences import new_silence
from relay.store.memory import MemoryStore
from tests.builders import snap
from tests.checks import validate_payload

START = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 23:00 in Berlin


@dataclass
class Recorder:
    """A channel that records what it was asked to send."""

    name: str
    sent: list[Delivery] = field(default_factory=list)

    async def send(self, delivery: Delivery) -> Response:
        self.sent.append(delivery)
        return Response(ok=True, http_status=200)

    async def close(self) -> None:
        return None


RULES = """
sources: {recoup: {kind: recoup}}
channels:
  mail: {kind: webhook, url: "http://127.0.0.1:9/mail"}
  chat: {kind: webhook, url: "http://127.0.0.1:9/chat"}
  pager: {kind: webhook, url: "http://127.0.0.1:9/pager", rate_limit: 2/min}
rules:
  - name: timeouts
    match: {status: TIMED_OUT}
    notify: [pager]
  - name: morning
    match: {phase: terminal}
    notify: [mail]
    digest: {cron: "0 9 * * *", tz: Europe/Berlin}
  - name: failures
    match: {phase: problem}
    notify: [chat]
    group_window: 1m
  - name: per-task
    match: {status: CANCELED}
    notify: [chat]
    once_per: {key: "{{ run.task }}", period: 1h}
  - name: back
    match: {recovered: true}
    notify: [chat]
  - name: stuck
    match: {phase: running}
    notify: [chat]
    stuck_after: 30m
"""


@dataclass
class World:
    clock: FakeClock
    store: MemoryStore
    pipeline: Pipeline
    scheduler: Scheduler
    worker: DeliveryWorker
    mail: Recorder
    chat: Recorder
    pager: Recorder

    async def ingest(self, status: str, run_id: str, task: str = "create-content", **extra: object) -> None:
        s = snap(status, run_id=run_id, task=task, via=Via.WEBHOOK, **extra)  # type: ignore[arg-type]
        now = self.clock.now()
        await self.pipeline.ingest(replace(s, updated_at=now, finished_at=now if s.terminal else None))

    async def deliver(self) -> None:
        """One worker pass over what is due now (the worker's loop, minus its waiting)."""
        claimed = await self.store.claim(self.clock.now(), 100, 60)
        for members in _by_group(claimed):
            await self.worker._deliver(members, self.worker.policy)

    def later(self, **delta: float) -> None:
        self.clock.current += timedelta(**delta)


@pytest.fixture
async def world(tmp_path: Path) -> World:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    ruleset = load_ruleset(path)
    clock, store, wakeup = FakeClock(START), MemoryStore(), asyncio.Event()
    mail, chat, pager = Recorder("mail"), Recorder("chat"), Recorder("pager")
    limits = {n: c.rate_limit for n, c in ruleset.channels.items() if c.rate_limit}
    worker = DeliveryWorker(
        store, {"mail": mail, "chat": chat, "pager": pager}, ruleset.delivery, clock, wakeup, limits
    )
    return World(
        clock,
        store,
        Pipeline(store, ruleset, clock, wakeup),
        Scheduler(store, ruleset, clock, wakeup),
        worker,
        mail,
        chat,
        pager,
    )


async def test_a_digest_is_one_message_per_window_sent_at_the_scheduled_minute(world: World) -> None:
    await world.ingest("COMPLETED", "a", output={"videoSourceUrl": "https://v/a.mp4"})
    world.later(hours=2)
    await world.ingest("FAILED", "b", task="create-video", error="boom")
    await world.scheduler.tick()
    await world.deliver()
    assert world.mail.sent == []  # 01:00 Berlin: the 09:00 window is still open
    world.later(hours=7)  # 07:00 UTC = 08:00 Berlin
    await world.scheduler.tick()
    assert world.mail.sent == [] and (await world.scheduler.tick()).digests_sent == 0
    world.later(hours=1)  # 09:00 Berlin
    assert (await world.scheduler.tick()).digests_sent == 1
    await world.deliver()
    (digest,) = world.mail.sent
    assert digest.message.title == "Digest morning: 1 failed, 1 succeeded"
    assert [row[:3] for row in digest.message.rows] == [
        ("Task", "Status", "Finished"),
        ("create-content", "COMPLETED", "24 Nov 23:00"),
        ("create-video", "FAILED", "25 Nov 01:00"),
    ]
    validate_payload(digest.payload)
    assert digest.payload["type"] == "digest" and digest.payload["counts"] == {"succeeded": 1, "failed": 1}
    assert (await world.scheduler.tick()).digests_sent == 0  # sent once


async def test_a_burst_of_failures_is_one_grouped_message(world: World) -> None:
    for n in range(50):
        await world.ingest("FAILED", f"run_{n}")
    await world.deliver()
    assert world.chat.sent == []  # held until the group window closes
    world.later(minutes=1)
    await world.deliver()
    (grouped,) = world.chat.sent
    assert grouped.message.title == "failures: 50 notifications"
    validate_payload(grouped.payload)
    assert grouped.payload["count"] == 50 and len(grouped.payload["items"]) == 50
    assert {d.status for d in await world.store.deliveries(limit=100)} == {DeliveryStatus.SENT}


async def test_once_per_key_and_period(world: World) -> None:
    await world.ingest("CANCELED", "c1")
    await world.ingest("CANCELED", "c2")
    await world.ingest("CANCELED", "c3", task="other-task")
    world.later(hours=1)
    await world.ingest("CANCELED", "c4")
    await world.deliver()
    assert sorted(d.payload["run"]["id"] for d in world.chat.sent) == ["c1", "c3", "c4"]


async def test_silenced_matches_are_recorded_not_sent(world: World) -> None:
    silence = new_silence({"rule": "per-task"}, world.clock.now(), world.clock.now() + timedelta(hours=1))
    await world.store.add_silence(silence)
    world.pipeline.silences = await world.store.silences(world.clock.now())
    await world.ingest("CANCELED", "c1")
    await world.deliver()
    assert world.chat.sent == []
    (held,) = await world.store.deliveries(DeliveryStatus.SILENCED)
    assert held.last_error == f"silenced by {silence.id}"


async def test_recovery_fires_when_a_failed_task_succeeds_again(world: World) -> None:
    await world.ingest("COMPLETED", "r1", task="nightly")
    await world.ingest("FAILED", "r2", task="nightly")
    await world.ingest("COMPLETED", "r3", task="nightly")
    await world.ingest("COMPLETED", "r4", task="nightly")
    await world.deliver()
    world.later(minutes=1)
    await world.deliver()
    recovered = [d for d in world.chat.sent if d.rule == "back"]
    assert [d.payload["run"]["id"] for d in recovered] == ["r3"]


async def test_a_run_stuck_too_long_is_notified_once(world: World) -> None:
    await world.ingest("EXECUTING", "slow")
    world.later(minutes=29)
    assert (await world.scheduler.tick()).stuck_alerts == 0
    world.later(minutes=2)
    assert (await world.scheduler.tick()).stuck_alerts == 1
    assert (await world.scheduler.tick()).stuck_alerts == 0
    await world.deliver()
    (alert,) = world.chat.sent
    assert alert.message.title == "create-content stuck in EXECUTING for 31m 00s (recoup)"


async def test_over_the_rate_limit_messages_wait_and_go_out_grouped(world: World) -> None:
    for n in range(5):
        await world.ingest("TIMED_OUT", f"t{n}")
    await world.deliver()
    assert [d.payload["run"]["id"] for d in world.pager.sent] == ["t0", "t1"]
    world.later(seconds=59)
    await world.deliver()
    assert len(world.pager.sent) == 2  # still within the minute
    world.later(seconds=1)
    await world.deliver()
    assert len(world.pager.sent) == 3
    grouped = world.pager.sent[2]
    assert grouped.message.title == "timeouts: 3 notifications"
    assert [i["run"]["id"] for i in grouped.payload["items"]] == ["t2", "t3", "t4"]
    assert {d.status for d in await world.store.deliveries(limit=100)} == {DeliveryStatus.SENT}
