"""Retention and the backlog gauges on PostgreSQL (the other backends' come with their own
contract tests; these hold the PostgreSQL store to the docstrings of base.py meanwhile)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from relay.ids import new_id
from relay.models import Attempt, Backlog, DeliveryStatus, Retention, RunState
from relay.store import Decision, Outcome, Store, open_store
from relay.store.base import Context
from relay.transitions import diff
from tests.builders import T0, snap
from tests.integration.pg import pg_schema
from tests.integration.test_store_contract import delivery

DAY = timedelta(days=1)
LATER = T0 + 100 * DAY  # past every default retention


@pytest.fixture
async def pg() -> AsyncIterator[Store]:
    async with pg_schema() as url:
        store = await open_store(url)
        yield store
        await store.close()


async def finished_run(store: Store, run_id: str, keys: tuple[str, ...], channel: str = "c") -> None:
    s = snap("COMPLETED", run_id=run_id)

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=T0, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        return Decision(s, t, [replace(delivery(t.id, k), channel=channel) for k in keys])

    await store.record(s, decide, T0)


async def test_prune_lets_old_sent_and_dead_go_and_keeps_what_is_still_needed(pg: Store) -> None:
    await finished_run(pg, "done", ("sent", "dead"))
    await finished_run(pg, "waiting", ("pending",))
    await pg.record(
        snap("EXECUTING", run_id="running"), lambda p, c: Decision(snap("EXECUTING", run_id="running")), T0
    )
    await pg.claim(T0, 10, lease=30)
    tried = Attempt("d-sent", 1, T0, 5.0, True)
    await pg.complete("d-sent", [tried], Outcome(DeliveryStatus.SENT))
    await pg.complete(
        "d-dead", [replace(tried, delivery_id="d-dead", ok=False)], Outcome(DeliveryStatus.DEAD)
    )
    await pg.release(["d-pending"])
    await pg.first_sight("trigger", "alert-1", T0)

    dry = await pg.prune(Retention(), LATER, dry_run=True)
    assert await pg.delivery("d-sent") is not None  # a dry run deletes nothing
    done = await pg.prune(Retention(), LATER)
    assert dry == done
    assert done["deliveries"] == 2 and done["attempts"] == 2 and done["seen"] == 1
    assert done["transitions"] == 1  # done's; waiting's is referred to by a kept delivery
    assert done["runs"] == 2  # done and waiting finished; running did not
    assert [d.id for d in await pg.deliveries()] == ["d-pending"]
    assert {r.snapshot.run_id for r in await pg.runs()} == {"running"}
    assert len(await pg.transitions()) == 1
    assert await pg.first_sight("trigger", "alert-1", LATER)  # forgotten: seen as new again
    assert await pg.prune(Retention(), LATER) == dict.fromkeys(done, 0)


async def test_prune_keeps_what_is_younger_than_its_retention(pg: Store) -> None:
    await finished_run(pg, "done", ("sent",))
    await pg.claim(T0, 10, lease=30)
    await pg.complete("d-sent", [], Outcome(DeliveryStatus.SENT))
    assert set((await pg.prune(Retention(), T0 + DAY)).values()) == {0}
    assert await pg.delivery("d-sent") is not None


async def test_backlog_counts_each_channel(pg: Store) -> None:
    await finished_run(pg, "a", ("a1", "a2", "a3"), channel="slack")
    await finished_run(pg, "b", ("b1",), channel="mail")
    await pg.claim(T0, 1, lease=30)  # the oldest of slack's, by next_attempt_at then any
    sending = await pg.deliveries(DeliveryStatus.SENDING)
    await pg.complete(sending[0].id, [], Outcome(DeliveryStatus.DEAD))
    await pg.claim(T0, 1, lease=30)
    backlog = {b.channel: b for b in await pg.backlog()}
    totals = {c: b.pending + b.sending + b.dead for c, b in backlog.items()}
    assert totals == {"slack": 3, "mail": 1}
    assert sum(b.dead for b in backlog.values()) == 1 and sum(b.sending for b in backlog.values()) == 1
    assert all(b.oldest_pending in (T0, None) for b in backlog.values())
    assert all(isinstance(b, Backlog) for b in backlog.values())
