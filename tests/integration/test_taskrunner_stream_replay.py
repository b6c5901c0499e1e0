"""A RunWisp stream reconnect (newest era: event ids, Last-Event-ID replay): the replay is
read before any reconciliation, and a pass runs only when the replay cannot cover the gap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from relay.models import Via
from tests.fakes.taskrunner_api import FakeRunWisp
from tests.integration.helpers import eventually
from tests.integration.test_taskrunner_source import TOKEN, Env, connected, environment

RUNS = 10


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Env]:
    async with FakeRunWisp(token=TOKEN, era="newest") as fake:
        fake.tasks.update({"backup", "report"})
        async with environment(tmp_path, fake, stream=True, poll_every="60s") as env:
            yield env


async def test_a_reconnect_replays_every_missed_transition(live: Env) -> None:
    """10 runs go pending -> running -> failed while the stream is cut: all 30 transitions."""
    fake = live.fake
    await connected(live, live.poller())
    runs = [fake.put_run(task="backup", status="pending") for _ in range(RUNS)]
    for run in runs:
        await eventually(partial(live.has_transitions, run.id, 1))
    lists_before = len(fake.of_kind("list"))

    fake.drop_streams()  # reconnects are answered at once: the events below are replayed
    fake.refuse_streams = True
    for run in runs:
        fake.set_status(run.id, "running")
    for run in runs:
        fake.set_status(run.id, "ended", end_reason="failed", exit_code=1)
    fake.refuse_streams = False

    await eventually(lambda: fake.replayed >= 2 * RUNS)
    for run in runs:
        await eventually(partial(live.has_transitions, run.id, 3))
    for run in runs:
        assert await live.transitions(run.id) == [
            (None, "pending"),
            ("pending", "running"),
            ("running", "failed"),
        ]
    # the replay covered the gap: no pass was needed
    assert len(fake.of_kind("list")) == lists_before


async def test_a_gap_the_replay_cannot_cover_is_reconciled(live: Env) -> None:
    """RunWisp restarted (its ids start over, its history is gone): the relay notices the
    lower ids, reconciles by listing, and follows the new ids from then on."""
    fake = live.fake
    await connected(live, live.poller())
    before = fake.put_run(task="backup", status="running")
    others = [fake.put_run(task="backup", status="pending") for _ in range(3)]
    for run in (before, *others):
        await eventually(partial(live.has_transitions, run.id, 1))
    old_id = fake.events[-1].id  # 4: higher than any id after the restart below
    streams = len(fake.of_kind("stream"))

    fake.refuse_streams = True
    fake.restart()
    fake.set_status(before.id, "ended", end_reason="timeout", exit_code=124)  # id 1, no one hears it
    fake.refuse_streams = False
    await eventually(lambda: len(fake.of_kind("stream")) > streams and fake.open_streams >= 1)
    assert fake.of_kind("stream")[-1].headers["last-event-id"] == str(old_id)

    later = fake.put_run(task="backup", status="running")  # id 2: lower than the relay's last
    await eventually(lambda: live.has_transitions(later.id, 1))
    await eventually(lambda: live.has_transitions(before.id, 2))
    [_, ended] = await live.transition_list(before.id)
    assert (ended.to_status, ended.via) == ("timeout", Via.POLL)

    streams = len(fake.of_kind("stream"))
    fake.drop_streams()
    await eventually(lambda: len(fake.of_kind("stream")) > streams and fake.open_streams >= 1)
    assert fake.of_kind("stream")[-1].headers["last-event-id"] == str(fake.events[-1].id)
