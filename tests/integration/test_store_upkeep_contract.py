"""Store contract, part three: running for years. `prune` keeps the store bounded without
ever losing what is still owed (a pending or sending delivery, an unfinished run, a transition
a kept delivery refers to); `backlog` is what the gauges show. Through the Store API only, so
every backend runs it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from relay.digests import DigestItem
from relay.ids import new_id
from relay.models import Attempt, Delivery, DeliveryStatus, Message, Phase, Retention, RunState
from relay.store import Decision, Outcome, Store
from relay.store.base import Context
from relay.store.retention import TABLES
from relay.store.sqlite import SqliteStore
from relay.transitions import diff
from tests.builders import T0, snap

DAY = timedelta(days=1)
KEEP = Retention()  # the defaults: sent 30 days, dead 90, transitions 90, runs 90, seen 7


def delivery(key: str, transition: str | None, channel: str = "c", at: datetime = T0) -> Delivery:
    return Delivery(
        f"d-{key}",
        transition,
        "r",
        channel,
        key,
        Message("t", "b"),
        {},
        DeliveryStatus.PENDING,
        0,
        at,
        at,
    )


async def record(
    store: Store, status: str, run_id: str, keys: tuple[str, ...] = (), at: datetime = T0, channel: str = "c"
) -> str | None:
    """A snapshot of `run_id` recorded at `at`, causing deliveries `keys`; its transition's id."""
    s = snap(status, run_id=run_id, at=(at - T0).total_seconds())

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=at, watching_since=context.watching_since, ids=new_id)
        if t is None:
            return Decision()
        return Decision(s, t, [delivery(k, t.id, channel, at) for k in keys])

    decision = await store.record(s, decide, at)
    return decision.transition.id if decision.transition else None


async def finish(store: Store, key: str, status: DeliveryStatus, at: datetime = T0) -> None:
    """Claim `key`'s delivery and end it with one attempt."""
    claimed = await store.claim(at, 100, lease=30)
    assert f"d-{key}" in [d.id for d in claimed]
    attempt = Attempt(f"d-{key}", 1, at, 5.0, status == DeliveryStatus.SENT, 200, None, None)
    for d in claimed:
        if d.id != f"d-{key}":
            await store.release([d.id])
    await store.complete(f"d-{key}", [attempt], Outcome(status, error=None))


def nothing(**counts: int) -> dict[str, int]:
    return dict.fromkeys(TABLES, 0) | counts


async def test_an_empty_store_prunes_nothing_and_names_every_table(store: Store) -> None:
    assert await store.prune(KEEP, T0) == nothing()
    assert await store.prune(KEEP, T0, dry_run=True) == nothing()


async def test_sent_deliveries_and_their_attempts_go_after_retention_sent(store: Store) -> None:
    await record(store, "COMPLETED", "old", ("k-old",))
    await finish(store, "k-old", DeliveryStatus.SENT)
    await record(store, "COMPLETED", "new", ("k-new",), at=T0 + 20 * DAY)
    await finish(store, "k-new", DeliveryStatus.SENT, at=T0 + 20 * DAY)
    now = T0 + 31 * DAY

    expected = nothing(deliveries=1, attempts=1)
    assert await store.prune(KEEP, now, dry_run=True) == expected
    assert await store.delivery("d-k-old") is not None  # a dry run deletes nothing
    assert await store.prune(KEEP, now) == expected
    assert await store.delivery("d-k-old") is None
    assert await store.attempts("d-k-old") == []
    assert await store.delivery("d-k-new") is not None
    assert len(await store.attempts("d-k-new")) == 1
    assert await store.prune(KEEP, now) == nothing()  # nothing left to go


async def test_pending_and_sending_deliveries_never_go_nor_what_they_refer_to(store: Store) -> None:
    t_pending = await record(store, "COMPLETED", "r1", ("pending",))
    t_sending = await record(store, "COMPLETED", "r2", ("sending",))
    await store.claim(T0, 1, lease=30)  # one of the two is sending, its lease long run out
    years = T0 + 3650 * DAY

    counts = await store.prune(KEEP, years)
    assert counts["deliveries"] == 0 and counts["transitions"] == 0
    assert {d.id for d in await store.deliveries()} == {"d-pending", "d-sending"}
    assert {t.id for t in await store.transitions()} == {t_pending, t_sending}


async def test_dead_letters_are_kept_longer_than_sent_ones(store: Store) -> None:
    await record(store, "FAILED", "r1", ("dead",))
    await finish(store, "dead", DeliveryStatus.DEAD)

    assert (await store.prune(KEEP, T0 + 31 * DAY))["deliveries"] == 0
    assert await store.replay("d-dead", T0 + 31 * DAY)  # still replayable
    await finish(store, "dead", DeliveryStatus.DEAD, at=T0 + 31 * DAY)
    assert (await store.prune(KEEP, T0 + 91 * DAY))["deliveries"] == 1
    assert await store.delivery("d-dead") is None


async def test_a_transition_stays_while_a_kept_delivery_refers_to_it(store: Store) -> None:
    short = Retention(transitions=DAY.total_seconds())
    t = await record(store, "FAILED", "r1", ("dead",))
    lone = await record(store, "COMPLETED", "r2")  # a transition no rule notified
    await finish(store, "dead", DeliveryStatus.DEAD)

    counts = await store.prune(short, T0 + 31 * DAY)
    assert counts["transitions"] == 1 and counts["deliveries"] == 0
    assert [x.id for x in await store.transitions()] == [t]
    assert lone is not None

    # once the delivery may go, a dry run already counts its transition with it
    later = T0 + 91 * DAY
    assert await store.prune(short, later, dry_run=True) == nothing(
        deliveries=1, attempts=1, transitions=1, runs=2
    )
    assert (await store.prune(short, later))["transitions"] == 1
    assert await store.transitions() == []


async def test_finished_runs_go_unfinished_ones_stay(store: Store) -> None:
    await record(store, "COMPLETED", "done")
    await record(store, "EXECUTING", "running")
    await record(store, "COMPLETED", "recent", at=T0 + 80 * DAY)
    now = T0 + 91 * DAY

    assert (await store.prune(KEEP, now, dry_run=True))["runs"] == 1
    assert len(await store.runs()) == 3
    assert (await store.prune(KEEP, now))["runs"] == 1
    known = await store.known_runs("recoup", ["done", "running", "recent"])
    assert known.keys() == {"running", "recent"}
    assert [r.snapshot.run_id for r in await store.active_runs("recoup")] == ["running"]


async def test_a_run_that_finished_late_is_aged_from_when_it_finished(store: Store) -> None:
    await record(store, "EXECUTING", "slow")
    await record(store, "COMPLETED", "slow", at=T0 + 85 * DAY)
    assert (await store.prune(KEEP, T0 + 91 * DAY))["runs"] == 0
    assert (await store.prune(KEEP, T0 + 176 * DAY))["runs"] == 1


def digest_item(run_id: str, end: datetime) -> DigestItem:
    return DigestItem(
        "daily", "mail", end, "recoup", run_id, "t", "COMPLETED", Phase.SUCCEEDED, T0, 1, "", None
    )


async def test_sent_digest_items_go_unsent_ones_stay(store: Store) -> None:
    sent_end, open_end = T0 + timedelta(hours=1), T0 + 20 * DAY

    def decide(items: list[DigestItem]) -> Decision:
        return Decision(digest_items=items)

    s1, s2 = snap("COMPLETED", run_id="a"), snap("COMPLETED", run_id="b")
    await store.record(s1, lambda p, c: decide([digest_item("a", sent_end)]), T0)
    await store.record(s2, lambda p, c: decide([digest_item("b", open_end)]), T0)
    await store.take_digest("daily", "mail", sent_end, lambda items: delivery("digest", None, "mail"))
    now = T0 + 10 * DAY  # past `seen` (7 days) for the sent window

    assert (await store.prune(KEEP, now, dry_run=True))["digest_items"] == 1
    assert (await store.prune(KEEP, now))["digest_items"] == 1
    assert await store.due_digests(T0 + 30 * DAY) == [("daily", "mail", open_end)]


async def test_replay_memory_is_forgotten_after_retention_seen(store: Store) -> None:
    assert await store.first_sight("trigger", "alert-1", T0)
    await store.first_sight("trigger", "alert-2", T0 + 6 * DAY)
    now = T0 + 8 * DAY

    assert (await store.prune(KEEP, now, dry_run=True))["seen"] == 1
    assert not await store.first_sight("trigger", "alert-1", now)  # still remembered
    assert (await store.prune(KEEP, now))["seen"] == 1
    assert await store.first_sight("trigger", "alert-1", now)  # forgotten: news again
    assert not await store.first_sight("trigger", "alert-2", now)


async def test_rate_sends_older_than_an_hour_go(store: Store) -> None:
    # a channel that went quiet: nothing admitted since cleans its old sends up
    assert await store.admit("slack", T0, 10, 60.0) is None
    assert await store.admit("mail", T0 + timedelta(minutes=59), 10, 60.0) is None
    now = T0 + timedelta(minutes=61)

    assert (await store.prune(KEEP, now, dry_run=True))["rate_sends"] == 1
    assert (await store.prune(KEEP, now))["rate_sends"] == 1
    assert (await store.prune(KEEP, now))["rate_sends"] == 0


async def test_backlog_counts_each_channel_and_its_oldest_pending(store: Store) -> None:
    assert await store.backlog() == []
    await record(store, "FAILED", "r1", ("s1",), channel="slack")
    await record(store, "FAILED", "r2", ("s2",), channel="slack", at=T0 + timedelta(minutes=5))
    await record(store, "FAILED", "r3", ("m1",), channel="mail", at=T0 + timedelta(minutes=1))
    await record(store, "FAILED", "r4", ("m2",), channel="mail", at=T0 + timedelta(minutes=2))
    await record(store, "FAILED", "r5", ("w1",), channel="hook", at=T0 + timedelta(minutes=3))
    await finish(store, "m1", DeliveryStatus.DEAD, at=T0 + timedelta(minutes=6))
    await finish(store, "w1", DeliveryStatus.SENT, at=T0 + timedelta(minutes=6))
    claimed = await store.claim(T0 + timedelta(minutes=6), 1, lease=60)
    assert [d.id for d in claimed] == ["d-s1"]

    backlog = {b.channel: b for b in await store.backlog()}
    assert backlog.keys() == {"slack", "mail"}  # nothing owed to `hook`
    slack, mail = backlog["slack"], backlog["mail"]
    assert (slack.pending, slack.sending, slack.dead) == (1, 1, 0)
    assert slack.oldest_pending == T0 + timedelta(minutes=5)
    assert (mail.pending, mail.sending, mail.dead) == (1, 0, 1)
    assert mail.oldest_pending == T0 + timedelta(minutes=2)


async def test_sqlite_prunes_in_batches_oldest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More rows than one batch: every batch commits on its own, and all of them go."""
    import relay.store.sqlite.upkeep as upkeep

    monkeypatch.setattr(upkeep, "BATCH", 3)
    store = await SqliteStore.open(str(tmp_path / "b.db"))
    try:
        for n in range(8):
            await record(store, "COMPLETED", f"r{n}", (f"k{n}",), at=T0 + n * timedelta(minutes=1))
            await finish(store, f"k{n}", DeliveryStatus.SENT, at=T0 + n * timedelta(minutes=1))
        commits = store.commits
        counts = await store.prune(KEEP, T0 + 91 * DAY)
        assert counts == nothing(deliveries=8, attempts=8, transitions=8, runs=8)
        assert store.commits - commits >= 4  # 8 deliveries in batches of 3: not one transaction
        assert await store.deliveries() == [] and await store.runs() == []
    finally:
        await store.close()
