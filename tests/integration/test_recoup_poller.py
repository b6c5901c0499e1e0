"""RecoupClient and RecoupPoller against the fake Recoup API over loopback, with a real
SqliteStore and a real Pipeline (rules.yaml: every terminal transition -> console)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client import REGISTRY

from relay.clock import SystemClock
from relay.errors import RateLimited, SourceError
from relay.models import Phase, Snapshot
from relay.sources.base import Ingest
from relay.sources.concurrency import DETAIL_CONCURRENCY
from relay.sources.recoup.client import RecoupClient
from relay.sources.recoup.poll import RecoupPoller
from tests.fakes.recoup_api import FakeRecoupApi
from tests.integration.helpers import SourceEnv, eventually, relay_parts

KEY = "placeholder-recoup-key-test_4f1c9a7e5d"
VIDEO = "https://v3.fal.media/files/demo/final.mp4"
OUTPUT = {
    "videoSourceUrl": VIDEO,
    "imageUrl": "https://v3.fal.media/files/demo/base.png",
    "captionText": "bedroom tapes",
    "template": "artist-caption-bedroom",
}
SOURCES = """
sources:
  recoup:
    kind: recoup
    base_url: "{base_url}"
    api_key: "{key}"
    poll_every: 50ms
    limit: 50
    run_url: "https://chat.recoupable.com/runs/{{run_id}}"
"""


@dataclass
class Env(SourceEnv):
    fake: FakeRecoupApi
    poller: RecoupPoller

    def client(self, **changes: Any) -> RecoupClient:
        options: dict[str, Any] = {"base_url": self.config.base_url, "api_key": KEY, **changes}
        return RecoupClient(options.pop("http", self.http), **options)

    def new_poller(
        self,
        *,
        ingest: Ingest | None = None,
        max_rechecks: int = 50,
        **changes: Any,
    ) -> RecoupPoller:
        config = replace(self.config, **changes)
        return RecoupPoller(
            config,
            RecoupClient.for_source(config, self.http),
            self.store,
            ingest or self.pipeline.ingest_many,
            SystemClock(),
            max_rechecks=max_rechecks,
        )


@pytest.fixture
async def fake() -> AsyncIterator[FakeRecoupApi]:
    async with FakeRecoupApi(api_key=KEY) as api:
        yield api


@pytest.fixture
async def env(tmp_path: Path, fake: FakeRecoupApi) -> AsyncIterator[Env]:
    sources = SOURCES.format(base_url=fake.base_url, key=KEY)
    async with relay_parts(tmp_path, sources) as (http, store, pipeline, ruleset):
        config = ruleset.sources["recoup"]
        poller = RecoupPoller(
            config, RecoupClient.for_source(config, http), store, pipeline.ingest_many, SystemClock()
        )
        yield Env(http, store, pipeline, config, fake, poller)


def polls(outcome: str) -> float:
    return REGISTRY.get_sample_value("relay_polls_total", {"source": "recoup", "outcome": outcome}) or 0.0


# -- transitions -----------------------------------------------------------------------------


async def test_completion_is_one_transition_with_the_output(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING", tags=["account:acc-1"])
    first = await env.poller.poll_once()
    assert (first.listed, first.ingested, first.fetched_by_id) == (1, 1, 0)

    env.fake.set_status("run_1", "COMPLETED", output=OUTPUT)
    second = await env.poller.poll_once()

    assert (second.listed, second.fetched_by_id, second.ingested) == (1, 1, 1)
    assert await env.transitions("run_1") == [(None, "EXECUTING"), ("EXECUTING", "COMPLETED")]
    assert len(env.fake.by_id_requests("run_1")) == 1
    stored = await env.stored("run_1")
    assert stored.phase is Phase.SUCCEEDED
    assert stored.output is not None
    assert stored.output["videoSourceUrl"] == VIDEO
    assert stored.url == "https://chat.recoupable.com/runs/run_1"
    [delivery] = await env.store.deliveries()
    assert (delivery.rule, delivery.channel) == ("finished", "console")
    assert delivery.payload["run"]["video_url"] == VIDEO


@pytest.mark.parametrize(("listed", "by_id"), [("FAILED", "FAILED"), ("INTERRUPTED", "FAILED")])
async def test_failure_stores_the_error(env: Env, listed: str, by_id: str) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.set_status(
        "run_1", listed, error={"message": "ffmpeg exited with 1", "name": "Error", "stackTrace": "at render"}
    )
    await env.poller.poll_once()

    # the list's legacy INTERRUPTED and the by-id FAILED are one phase: one transition
    assert await env.transitions("run_1") == [(None, "EXECUTING"), ("EXECUTING", by_id)]
    stored = await env.stored("run_1")
    assert stored.phase is Phase.FAILED
    assert stored.error is not None
    assert (stored.error.message, stored.error.name) == ("ffmpeg exited with 1", "Error")


async def test_polling_again_without_change_is_quiet(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    env.fake.put_run("run_2", status="COMPLETED")
    await env.poller.poll_once()
    before, asked = await env.store.transitions(), len(env.fake.by_id_requests())

    again = await env.poller.poll_once()

    assert await env.store.transitions() == before
    assert len(before) == 2
    # run_2 is stored terminal: skipped, and never fetched again
    assert (again.fetched_by_id, again.rechecked, again.ingested) == (0, 0, 1)
    assert len(env.fake.by_id_requests()) == asked


async def test_runs_finished_before_the_first_poll_are_not_fetched(env: Env) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    env.fake.put_run(
        "old",
        status="COMPLETED",
        output=OUTPUT,
        created_at=an_hour_ago - timedelta(minutes=5),
        finished_at=an_hour_ago,
    )
    first = await env.poller.poll_once()
    assert first.fetched_by_id == 0
    assert await env.transitions("old") == [(None, "COMPLETED")]
    assert (await env.stored("old")).output is None  # history: recorded from the list alone

    env.fake.put_run("quick", status="COMPLETED", output=OUTPUT)  # never seen running
    second = await env.poller.poll_once()
    assert second.fetched_by_id == 1
    assert (await env.stored("quick")).output == OUTPUT


async def test_a_run_that_ran_while_the_relay_was_down_is_news_after_a_restart(env: Env) -> None:
    await env.poller.poll_once()  # the relay starts watching
    env.fake.put_run("during_downtime", status="COMPLETED", output=OUTPUT)
    restarted = env.new_poller()  # a new process: nothing in memory, the same store
    report = await restarted.poll_once()
    assert report.fetched_by_id == 1
    assert (await env.stored("during_downtime")).output == OUTPUT
    (t,) = [t for t in await env.store.transitions() if t.run_id == "during_downtime"]
    assert not t.backfill  # so `first_seen: recent` rules announce it, with the video


# -- re-checks by id -----------------------------------------------------------------------------


async def test_a_run_that_leaves_the_list_is_rechecked_by_id(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.hide_from_list("run_1")
    env.fake.set_status("run_1", "COMPLETED", output=OUTPUT)

    report = await env.poller.poll_once()

    assert (report.listed, report.rechecked, report.ingested) == (0, 1, 1)
    assert await env.transitions("run_1") == [(None, "EXECUTING"), ("EXECUTING", "COMPLETED")]
    assert (await env.stored("run_1")).output == OUTPUT


async def test_a_rename_between_vocabularies_is_no_transition(env: Env) -> None:
    env.fake.put_run("run_1", status="FROZEN")  # by id, the same state is WAITING
    await env.poller.poll_once()
    env.fake.hide_from_list("run_1")

    report = await env.poller.poll_once()

    assert report.rechecked == 1
    assert await env.transitions("run_1") == [(None, "FROZEN")]


async def test_a_run_not_found_by_id_is_left_as_it_is(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.forget("run_1")

    report = await env.poller.poll_once()

    assert (report.rechecked, report.ingested) == (1, 0)
    assert [s.snapshot.run_id for s in await env.store.active_runs("recoup")] == ["run_1"]
    assert "poll_recheck_failed source=recoup run=run_1 reason=not found (HTTP 404)" in caplog.text


async def test_rechecks_are_bounded_per_cycle_and_rotate(env: Env) -> None:
    poller = env.new_poller(max_rechecks=2)
    for run_id in ("run_a", "run_b", "run_c"):
        env.fake.put_run(run_id, status="EXECUTING")
    await poller.poll_once()
    for run_id in ("run_a", "run_b", "run_c"):
        env.fake.hide_from_list(run_id)

    first = await poller.poll_once()
    second = await poller.poll_once()

    asked = [r.query["runId"] for r in env.fake.by_id_requests()]
    assert (first.rechecked, second.rechecked) == (2, 2)
    assert set(asked[:2]) == {"run_a", "run_b"}  # oldest update first (asked side by side)
    assert asked[2] == "run_c"  # then the one left out, before re-checking the others again


# -- by-id fetches overlap ------------------------------------------------------------------------


async def test_a_cycles_detail_fetches_overlap_up_to_the_bound(env: Env) -> None:
    runs = [f"run_{n}" for n in range(DETAIL_CONCURRENCY + 4)]
    for run_id in runs:
        env.fake.put_run(run_id, status="EXECUTING")
    await env.poller.poll_once()
    for run_id in runs:
        env.fake.set_status(run_id, "COMPLETED", output=OUTPUT)
        env.fake.delay_next(0.5, when="by_id")  # each answer waits: overlapping ones wait together
    env.fake.peak_in_flight = 0

    report = await env.poller.poll_once()

    assert report.fetched_by_id == len(runs)
    assert env.fake.peak_in_flight == DETAIL_CONCURRENCY  # side by side, and never more
    assert {d.payload["run"]["id"] for d in await env.store.deliveries()} == set(runs)


async def test_a_cycles_rechecks_overlap_up_to_the_bound(env: Env) -> None:
    runs = [f"run_{n}" for n in range(DETAIL_CONCURRENCY + 4)]
    for run_id in runs:
        env.fake.put_run(run_id, status="EXECUTING")
    await env.poller.poll_once()
    for run_id in runs:
        env.fake.hide_from_list(run_id)
        env.fake.set_status(run_id, "COMPLETED", output=OUTPUT)
        env.fake.delay_next(0.5, when="by_id")
    env.fake.peak_in_flight = 0

    report = await env.poller.poll_once()

    assert (report.rechecked, report.ingested) == (len(runs), len(runs))
    assert env.fake.peak_in_flight == DETAIL_CONCURRENCY
    assert {d.payload["run"]["id"] for d in await env.store.deliveries()} == set(runs)


async def test_a_rate_limited_recheck_stops_the_rest_and_they_keep_their_turn(env: Env) -> None:
    runs = [f"run_{n}" for n in range(DETAIL_CONCURRENCY * 2)]
    for run_id in runs:
        env.fake.put_run(run_id, status="EXECUTING")
    await env.poller.poll_once()
    for run_id in runs:
        env.fake.hide_from_list(run_id)
        env.fake.set_status(run_id, "COMPLETED", output=OUTPUT)
    env.fake.rate_limit_next(retry_after=3, when="by_id")

    with pytest.raises(RateLimited):
        await env.poller.poll_once()
    asked = len(env.fake.by_id_requests())
    assert asked <= DETAIL_CONCURRENCY  # none started after the 429

    await env.poller.poll_once()
    assert {d.payload["run"]["id"] for d in await env.store.deliveries()} == set(runs)  # nothing lost


# -- by-id failures -------------------------------------------------------------------------------


async def test_a_failed_fetch_by_id_still_records_the_transition(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.set_status("run_1", "COMPLETED", output=OUTPUT)
    env.fake.fail_next(1, 502, when="by_id")

    report = await env.poller.poll_once()

    assert report.fetched_by_id == 0
    assert await env.transitions("run_1") == [(None, "EXECUTING"), ("EXECUTING", "COMPLETED")]
    assert (await env.stored("run_1")).output is None
    assert (
        "poll_fetch_failed source=recoup run=run_1 reason=GET /api/tasks/runs?runId=run_1:"
        " HTTP 502" in caplog.text
    )


async def test_a_rate_limited_fetch_by_id_is_tried_again_next_cycle(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.set_status("run_1", "COMPLETED", output=OUTPUT)
    env.fake.rate_limit_next(retry_after=3, when="by_id")

    with pytest.raises(RateLimited):
        await env.poller.poll_once()
    assert (await env.stored("run_1")).status == "EXECUTING"  # nothing lost: still to do

    report = await env.poller.poll_once()
    assert report.fetched_by_id == 1
    assert (await env.stored("run_1")).output == OUTPUT


# -- the HTTP client ----------------------------------------------------------------------------


async def test_only_x_api_key_is_sent(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.hide_from_list("run_1")
    await env.poller.poll_once()
    # a shared client with a default Authorization must not turn every call into a 401
    async with httpx2.AsyncClient(
        headers={"Authorization": "Bearer other"}, auth=("user", "pass"), trust_env=False
    ) as shared:
        client = env.client(http=shared)
        await client.list_runs(5)  # a 401 would raise
        assert await client.get_run("run_1") is not None

    assert len(env.fake.requests) == 5
    for request in env.fake.requests:
        assert request.headers["x-api-key"] == KEY
        assert "authorization" not in request.headers


async def test_limit_and_account_id_are_sent(env: Env) -> None:
    for n in range(3):
        env.fake.put_run(f"mine_{n}", tags=["account:acc-1"])
    env.fake.put_run("theirs", tags=["account:acc-2"])

    report = await env.new_poller(options={"account_id": "acc-1"}, limit=2).poll_once()

    assert report.listed == 2
    assert env.fake.list_requests()[-1].query == {"limit": "2", "account_id": "acc-1"}
    stored = [s.snapshot.run_id for s in await env.store.runs()]
    assert stored == ["mine_2", "mine_1"]  # newest first


async def test_get_run_answers_none_for_404(env: Env) -> None:
    assert await env.client().get_run("run_missing") is None


@pytest.mark.parametrize(("retry_after", "expected"), [(7, 7.0), (None, 30.0), ("soon", 30.0)])
async def test_429_is_rate_limited_with_retry_after(
    env: Env, retry_after: int | str | None, expected: float
) -> None:
    env.fake.rate_limit_next(retry_after=retry_after)
    before = polls("rate_limited")

    with pytest.raises(RateLimited) as caught:
        await env.poller.poll_once()

    assert caught.value.retry_after == expected
    assert polls("rate_limited") == before + 1


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            500,
            f'{{"error": "upstream said no to key {KEY}"}}',
            'GET /api/tasks/runs?limit=50: HTTP 500: {"error": "upstream said no to key ***"}',
        ),
        (200, "<html>gateway</html>", "invalid JSON (HTTP 200): <html>gateway</html>"),
        (200, '{"status": "success"}', 'no runs list in the body (HTTP 200): {"status": "success"}'),
        (200, '{"runs": {"id": "run_1"}}', "no runs list in the body"),
        (404, "", "HTTP 404: (empty)"),
    ],
)
async def test_bad_answers_are_source_errors(env: Env, status: int, body: str, message: str) -> None:
    env.fake.respond_next(status, body)
    before = polls("error")

    with pytest.raises(SourceError) as caught:
        await env.poller.poll_once()

    assert not isinstance(caught.value, RateLimited)
    assert message in str(caught.value)
    assert KEY not in str(caught.value)
    assert polls("error") == before + 1


async def test_a_wrong_key_is_a_source_error_that_does_not_show_the_key(env: Env) -> None:
    with pytest.raises(SourceError, match="HTTP 401: .*Invalid API key") as caught:
        await env.client(api_key="placeholder-recoup-key-wrong_123456").list_runs(5)
    assert "placeholder-recoup-key-wrong_123456" not in str(caught.value)


async def test_timeouts_and_refused_connections_are_source_errors(env: Env) -> None:
    env.fake.delay_next(5)
    with pytest.raises(SourceError, match="ReadTimeout"):
        await env.client(timeout=0.1).list_runs(5)

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(SourceError, match="ConnectError"):
        await env.client(base_url=f"http://127.0.0.1:{closed}/api").list_runs(5)


async def test_a_malformed_item_is_skipped_and_counted(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.fake.put_run("run_good", status="EXECUTING")
    env.fake.add_raw_item({"id": "run_bad", "taskIdentifier": "create-content"})
    env.fake.add_raw_item("not a run")

    report = await env.poller.poll_once()

    assert (report.listed, report.invalid, report.ingested) == (3, 2, 1)
    assert await env.transitions("run_good") == [(None, "EXECUTING")]
    assert "poll_item_invalid source=recoup index=0 reason=run 'run_bad': status is missing" in caplog.text
    assert "poll_item_invalid source=recoup index=1 reason=run must be a JSON object" in caplog.text


# -- the loop --------------------------------------------------------------------------------------


async def test_run_stops_at_once_while_waiting(env: Env) -> None:
    poller = env.new_poller(poll_every=60.0)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await eventually(lambda: len(env.fake.requests) >= 1)
    await asyncio.sleep(0.05)  # well inside the 60 s wait

    stop.set()
    await asyncio.wait_for(task, timeout=1.0)


async def test_run_stops_at_once_during_a_slow_request(env: Env) -> None:
    env.fake.delay_next(30)
    stop = asyncio.Event()
    task = asyncio.create_task(env.poller.run(stop))
    await eventually(lambda: len(env.fake.requests) >= 1)

    stop.set()
    await asyncio.wait_for(task, timeout=1.0)


async def test_run_keeps_polling_through_failures(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    async def flaky_ingest(snapshots: Sequence[Snapshot]) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in ingest")
        return await env.pipeline.ingest_many(snapshots)

    poller = env.new_poller(poll_every=0.01, ingest=flaky_ingest)
    env.fake.put_run("run_1", status="EXECUTING")
    env.fake.fail_next(2, 500, when="list")
    env.fake.rate_limit_next(retry_after=0.01, when="list")
    errors_before = polls("error")
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await eventually(lambda: env.has_transitions("run_1", 1))
        env.fake.set_status("run_1", "COMPLETED", output=OUTPUT)
        await eventually(lambda: env.has_transitions("run_1", 2))
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=1.0)

    assert (await env.stored("run_1")).output == OUTPUT
    assert polls("error") - errors_before == 3  # two 500s and the ingest bug
    assert "poll_failed source=recoup reason=GET /api/tasks/runs?limit=50: HTTP 500" in caplog.text
    assert "poll_rate_limited source=recoup retry_after=0.01s" in caplog.text
    [bug] = [r for r in caplog.records if "unexpected RuntimeError" in r.getMessage()]
    assert bug.exc_info is not None  # with its traceback


async def test_a_page_goes_in_as_one_batch_oldest_first(env: Env) -> None:
    """A list shows only the newest runs: the oldest are about to leave it, so they are written
    first; and a task's last outcome comes out as its newest run's."""
    for n in range(5):
        env.fake.put_run(f"run_{n}", status="COMPLETED")  # each one later than the one before
    batches: list[list[str]] = []

    async def recording(snapshots: Sequence[Snapshot]) -> object:
        batches.append([s.run_id for s in snapshots])
        return await env.pipeline.ingest_many(snapshots)

    report = await env.new_poller(ingest=recording).poll_once()
    assert report.ingested == 5
    # the page is one batch: one transaction (Pipeline.ingest_many)
    assert batches == [[f"run_{n}" for n in range(5)]]


async def test_one_bad_snapshot_does_not_hold_back_the_rest_of_its_page(env: Env) -> None:
    for n in range(4):
        env.fake.put_run(f"run_{n}", status="COMPLETED")

    async def refusing(snapshots: Sequence[Snapshot]) -> object:
        if any(s.run_id == "run_2" for s in snapshots):
            raise ValueError("cannot take run_2")
        return await env.pipeline.ingest_many(snapshots)

    with pytest.raises(ValueError, match="cannot take run_2"):
        await env.new_poller(ingest=refusing).poll_once()
    assert sorted(r.snapshot.run_id for r in await env.store.runs()) == ["run_0", "run_1", "run_3"]
