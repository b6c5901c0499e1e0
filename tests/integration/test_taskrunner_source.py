"""The task-runner (RunWisp) source against the fake RunWisp over loopback (and a Unix
socket), with a real SqliteStore and Pipeline (rules.yaml: every terminal transition ->
console). Stream tests run the poller's `run` loop; list tests call `poll_once`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx2
import pytest

from relay.clock import SystemClock
from relay.errors import RateLimited, SourceError
from relay.models import Phase, Via
from relay.sources.registry import kind_of
from relay.sources.taskrunner.client import EVENTS_STREAM, RUNS_STREAM, TaskRunnerClient
from relay.sources.taskrunner.poll import TaskRunnerPoller
from tests.fakes.taskrunner_api import Era, FakeRunWisp
from tests.integration.helpers import SourceEnv, eventually, relay_parts

TOKEN = "runwisp-jwt-for-tests-3f9a"
FAILURE_LOG = [f"step {n}: ok" for n in range(30)] + ["pg_dump: error: connection to server failed"]
SOURCES = """
sources:
  runner:
    kind: taskrunner
    base_url: "{base_url}"
    api_key: "{token}"
    poll_every: {poll_every}
    limit: 50
    tasks: [backup, report]
    stream: {stream}
    external_url: https://runwisp.example.com
"""


@dataclass
class Env(SourceEnv):
    fake: FakeRunWisp
    stops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def poller(self, *, options: dict[str, Any] | None = None, **changes: Any) -> TaskRunnerPoller:
        tuning = {k: changes.pop(k) for k in ("max_pages", "max_rechecks") if k in changes}
        config = replace(self.config, options={**self.config.options, **(options or {})}, **changes)
        return TaskRunnerPoller(
            config,
            TaskRunnerClient.for_source(config, self.http),
            self.store,
            self.pipeline.ingest_many,
            SystemClock(),
            reconnect_min=0.02,
            reconnect_max=0.2,
            **tuning,
        )

    async def running(self, poller: TaskRunnerPoller) -> None:
        """Run the poller in the background until the test ends."""
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))

        async def halt() -> None:
            stop.set()
            await asyncio.wait_for(task, timeout=2.0)

        self.stops.append(halt)


@contextlib.asynccontextmanager
async def environment(
    tmp_path: Path, fake: FakeRunWisp, *, stream: bool, poll_every: str
) -> AsyncIterator[Env]:
    sources = SOURCES.format(
        base_url=fake.base_url, token=TOKEN, stream=str(stream).lower(), poll_every=poll_every
    )
    async with relay_parts(tmp_path, sources) as (http, store, pipeline, ruleset):
        env = Env(http, store, pipeline, ruleset.sources["runner"], fake)
        try:
            yield env
        finally:
            for halt in env.stops:
                await halt()


@pytest.fixture(params=["v0.5", "newest"])
def era(request: pytest.FixtureRequest) -> Era:
    value: Era = request.param
    return value


@pytest.fixture
async def fake(era: Era) -> AsyncIterator[FakeRunWisp]:
    async with FakeRunWisp(token=TOKEN, era=era) as api:
        api.tasks.update({"backup", "report"})
        yield api


@pytest.fixture
async def env(tmp_path: Path, fake: FakeRunWisp) -> AsyncIterator[Env]:
    """Reconciliation only (`poll_once` by hand)."""
    async with environment(tmp_path, fake, stream=False, poll_every="50ms") as e:
        yield e


@pytest.fixture
async def live(tmp_path: Path, fake: FakeRunWisp) -> AsyncIterator[Env]:
    """Stream on; periodic passes rare, so what happens is the stream's doing (and the
    pass each (re)connect wakes)."""
    async with environment(tmp_path, fake, stream=True, poll_every="60s") as e:
        yield e


async def connected(env: Env, poller: TaskRunnerPoller) -> None:
    """The stream is open and the start-up and on-connect passes have been answered."""
    await env.running(poller)
    lists = 2 * max(1, len(poller.options.tasks))
    await eventually(lambda: env.fake.open_streams >= 1 and len(env.fake.of_kind("list")) >= lists)


# -- the stream ------------------------------------------------------------------------------------


async def test_a_failing_run_through_the_stream(live: Env) -> None:
    poller = live.poller(options={"tasks": ["backup"]})
    await connected(live, poller)
    fake = live.fake
    run = fake.put_run(
        task="backup", status="pending", retry_attempt=1, retry_of="01JRUN00000000000000000099"
    )
    fake.set_status(run.id, "running")
    fake.set_log(run.id, FAILURE_LOG)
    fake.set_status(run.id, "ended", end_reason="failed", exit_code=2)

    await eventually(lambda: live.has_transitions(run.id, 3))

    assert await live.transitions(run.id) == [
        (None, "pending"),
        ("pending", "running"),
        ("running", "failed"),
    ]
    assert all(t.via is Via.WEBHOOK for t in await live.transition_list(run.id))
    stored = await live.stored(run.id)
    assert stored.phase is Phase.FAILED
    assert stored.error is not None
    assert stored.error.name == "failed"
    assert stored.error.message.startswith("exit code 2\nlast log lines:\n")
    assert stored.error.message.endswith("pg_dump: error: connection to server failed")
    assert len(stored.error.message.partition("last log lines:\n")[2].encode()) <= 300
    assert stored.metadata["retry_attempt"] == 1
    assert stored.metadata["retry_of_run_id"] == "01JRUN00000000000000000099"
    assert stored.url == f"https://runwisp.example.com/tasks/backup/{run.id}"
    [delivery] = await live.store.deliveries()
    assert (delivery.message.error or "").endswith("pg_dump: error: connection to server failed")
    logs = fake.of_kind("log")
    assert {r.query["from"] for r in logs} == {"-20"}
    if fake.era == "v0.5":
        assert [r.path for r in logs] == [f"/api/tasks/backup/runs/{run.id}/log"]
    else:  # the older per-run path first, then the newer one (and remembered)
        assert [r.path for r in logs] == [f"/api/tasks/backup/runs/{run.id}/log", f"/api/runs/{run.id}/log"]


async def test_the_stream_path_of_each_era(live: Env) -> None:
    poller = live.poller()
    await connected(live, poller)
    paths = [r.path for r in live.fake.of_kind("stream")]
    if live.fake.era == "newest":
        assert paths == [EVENTS_STREAM]
    else:
        assert paths == [EVENTS_STREAM, RUNS_STREAM]  # the newer path first, then remembered
        live.fake.drop_streams()
        await eventually(lambda: len(live.fake.of_kind("stream")) >= 3)
        assert live.fake.of_kind("stream")[2].path == RUNS_STREAM
    for request in live.fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_dropped_stream_catches_up_without_loss_or_duplicate(live: Env) -> None:
    poller = live.poller()
    await connected(live, poller)
    fake = live.fake
    run = fake.put_run(task="report", status="running")
    await eventually(lambda: live.has_transitions(run.id, 1))
    streams_before = len(fake.of_kind("stream"))

    fake.refuse_streams = True  # the runner is busy: reconnects get 503 for a while
    fake.drop_streams()
    fake.set_log(run.id, ["rendering", "Error: disk full"])
    fake.set_status(run.id, "ended", end_reason="crashed", exit_code=-1)  # published to nobody
    await eventually(lambda: len(fake.of_kind("stream")) >= streams_before + 2)
    fake.refuse_streams = False

    await eventually(lambda: live.has_transitions(run.id, 2))
    await eventually(lambda: fake.open_streams >= 1)
    await asyncio.sleep(0.1)  # room for a duplicate to show up, if there were one

    assert await live.transitions(run.id) == [(None, "running"), ("running", "crashed")]
    stored = await live.stored(run.id)
    assert stored.error is not None
    assert "Error: disk full" in stored.error.message
    # the replayed event and the pass the reconnect wakes may race for the log (at most twice);
    # the transition and its delivery stay single
    assert len(fake.of_kind("log")) in (1, 2)
    assert len(await live.store.deliveries()) == 1
    reconnect = fake.of_kind("stream")[-1]
    if fake.era == "newest":  # replayed from the last id seen
        assert reconnect.headers["last-event-id"] == str(fake.events[0].id)
        assert fake.replayed >= 1
    else:  # no ids, no replay: the pass the reconnect wakes found it
        assert "last-event-id" not in reconnect.headers
        assert (await live.transition_list(run.id))[1].via is Via.POLL


async def test_reconciliation_finds_a_run_the_stream_missed(live: Env) -> None:
    poller = live.poller()
    await connected(live, poller)
    run = live.fake.put_run(task="backup", status="ended", end_reason="timeout", exit_code=124, publish=False)
    live.fake.set_log(run.id, ["waiting for lock"])

    report = await poller.poll_once()

    assert report.ingested >= 1
    [t] = await live.transition_list(run.id)
    assert (t.to_status, t.via, t.backfill) == ("timeout", Via.POLL, False)
    stored = await live.stored(run.id)
    assert stored.error is not None
    assert stored.error.message == "exit code 124\nlast log lines:\nwaiting for lock"


async def test_bad_events_are_skipped_and_other_tasks_ignored(
    live: Env, caplog: pytest.LogCaptureFixture
) -> None:
    poller = live.poller(options={"tasks": ["backup"]})
    await connected(live, poller)
    live.fake.emit("run.failed", "{not json")
    live.fake.emit("system", '{"cpu": 3}')
    other = live.fake.put_run(task="elsewhere", status="running")
    mine = live.fake.put_run(task="backup", status="running")

    await eventually(lambda: live.has_transitions(mine.id, 1))

    assert await live.transitions(other.id) == []
    assert "stream_event_failed source=runner event=run.failed reason=event run.failed" in caplog.text
    assert live.fake.open_streams == 1  # the same connection went on


async def test_the_poller_stops_promptly_with_the_stream_open(live: Env) -> None:
    poller = live.poller()
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await eventually(lambda: live.fake.open_streams >= 1)
    stop.set()
    await asyncio.wait_for(task, timeout=1.0)
    await eventually(lambda: live.fake.open_streams == 0)


# -- reconciliation by listing ---------------------------------------------------------------------


async def test_pending_running_ended_by_polling(env: Env) -> None:
    poller = env.poller()
    run = env.fake.put_run(task="backup", status="pending", instance=2)
    await poller.poll_once()
    env.fake.set_status(run.id, "running")
    await poller.poll_once()
    env.fake.set_status(run.id, "ended", end_reason="success")
    report = await poller.poll_once()

    assert await env.transitions(run.id) == [
        (None, "pending"),
        ("pending", "running"),
        ("running", "success"),
    ]
    assert report.fetched_by_id == 0  # a success needs no log
    stored = await env.stored(run.id)
    assert (stored.metadata["instance_index"], stored.metadata["task_label"]) == (2, "backup#2")
    assert env.fake.of_kind("log") == []
    lists = env.fake.of_kind("list")
    assert {r.path for r in lists} == {"/api/tasks/backup/runs", "/api/tasks/report/runs"}
    assert lists[0].query == {
        "limit": "50",
        "offset": "0",
        "sort_field": "created_at",
        "sort_direction": "desc",
    }


async def test_every_task_when_none_are_named(env: Env) -> None:
    env.fake.put_run(task="backup", status="running")
    env.fake.put_run(task="adhoc", status="running")
    report = await env.poller(options={"tasks": []}).poll_once()
    assert report.ingested == 2
    assert [r.path for r in env.fake.of_kind("list")] == ["/api/runs"]


async def test_history_is_recorded_without_fetching_logs(env: Env) -> None:
    old = env.fake.put_run(task="backup", status="ended", end_reason="failed", exit_code=1)
    report = await env.poller().poll_once()
    assert report.fetched_by_id == 0
    [t] = await env.transition_list(old.id)
    assert t.backfill
    stored = await env.stored(old.id)
    assert stored.error is not None
    assert stored.error.message == "exit code 1"


async def test_pages_by_offset_while_everything_is_new(env: Env) -> None:
    poller = env.poller(options={"tasks": ["backup"]})
    await poller.poll_once()  # the relay starts watching
    for _ in range(120):
        env.fake.put_run(task="backup", status="ended", end_reason="success")

    report = await poller.poll_once()
    assert (report.listed, report.ingested) == (120, 120)
    assert [r.query["offset"] for r in env.fake.of_kind("list")[1:]] == ["0", "50", "100"]

    again = await poller.poll_once()  # page one is all known and finished: no more pages
    assert again.listed == 50
    assert env.fake.of_kind("list")[-1].query["offset"] == "0"

    for _ in range(120):
        env.fake.put_run(task="backup", status="running")
    bounded = await env.poller(options={"tasks": ["backup"]}, max_pages=2).poll_once()
    assert (bounded.listed, bounded.ingested) == (100, 100)


async def test_active_runs_out_of_the_list_are_rechecked_by_id(env: Env) -> None:
    poller = env.poller()
    runs = [env.fake.put_run(task="backup", status="running") for _ in range(2)]
    await poller.poll_once()
    for run in runs:
        env.fake.hide_from_list(run.id)
    env.fake.set_log(runs[0].id, ["oom"])
    env.fake.set_status(runs[0].id, "ended", end_reason="failed", exit_code=137)

    report = await poller.poll_once()

    assert report.rechecked == 2
    assert await env.transitions(runs[0].id) == [(None, "running"), ("running", "failed")]
    assert (await env.stored(runs[0].id)).error.message.endswith("oom")  # type: ignore[union-attr]
    run_paths = [r.path for r in env.fake.of_kind("run")]
    if env.fake.era == "v0.5":
        assert sorted(run_paths) == sorted(f"/api/tasks/backup/runs/{r.id}" for r in runs)
        return
    # the older path answered 404 (once per request already in flight, as they go side by
    # side); the newer one is remembered
    older = [p for p in run_paths if p.startswith("/api/tasks/")]
    assert 1 <= len(older) <= len(runs)
    assert sorted(p for p in run_paths if p not in older) == sorted(f"/api/runs/{r.id}" for r in runs)
    await poller.poll_once()
    assert all(r.path.startswith("/api/runs/") for r in env.fake.of_kind("run")[len(run_paths) :])


async def test_a_run_gone_from_the_runner_stays_as_it_was(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    poller = env.poller()
    run = env.fake.put_run(task="backup", status="running")
    await poller.poll_once()
    env.fake.forget(run.id)
    report = await poller.poll_once()
    assert (report.rechecked, report.ingested) == (1, 0)
    assert f"poll_recheck_failed source=runner run={run.id} reason=not found (HTTP 404)" in caplog.text


async def test_a_log_that_cannot_be_read_does_not_hold_the_failure_back(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    poller = env.poller()
    run = env.fake.put_run(task="backup", status="running")
    await poller.poll_once()
    env.fake.set_status(run.id, "ended", end_reason="log_overflow", exit_code=-1)
    env.fake.fail_next(500, detail="log file vanished", when="log")

    await poller.poll_once()

    assert await env.transitions(run.id) == [(None, "running"), ("running", "log_overflow")]
    stored = await env.stored(run.id)
    assert (stored.phase, stored.error.message) == (Phase.FAILED, "exit code -1")  # type: ignore[union-attr]
    assert "Internal Server Error: log file vanished" in caplog.text


async def test_malformed_items_are_skipped(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.fake.add_raw_item({"id": "01JRUNBAD", "task_name": "backup"})
    env.fake.add_raw_item(["not", "a", "run"])
    good = env.fake.put_run(task="backup", status="running")
    report = await env.poller(options={"tasks": ["backup"]}).poll_once()
    assert (report.listed, report.invalid, report.ingested) == (3, 2, 1)
    assert await env.transitions(good.id) == [(None, "running")]
    assert "reason=run '01JRUNBAD': status is missing" in caplog.text


# -- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "media_type", "message"),
    [
        (
            500,
            '{"title": "Internal Server Error", "status": 500, "detail": "database is locked"}',
            "application/problem+json",
            "GET /api/tasks/backup/runs?limit=50&offset=0&sort_field=created_at&sort_direction=desc:"
            " HTTP 500: Internal Server Error: database is locked",
        ),
        (
            422,
            '{"title": "Unprocessable Entity", "detail": "validation failed",'
            ' "errors": [{"location": "query.limit", "message": "expected number <= 1000", "value": 5000}]}',
            "application/problem+json",
            "HTTP 422: Unprocessable Entity: validation failed: query.limit: expected number <= 1000",
        ),
        (502, "<html>bad gateway</html>", "text/html", "HTTP 502: <html>bad gateway</html>"),
        (200, "<html>login</html>", "text/html", "invalid JSON (HTTP 200): <html>login</html>"),
        (200, '{"items": []}', "application/json", 'no runs list in the body (HTTP 200): {"items": []}'),
    ],
)
async def test_errors_are_source_errors_with_the_problem(
    env: Env, status: int, body: str, media_type: str, message: str
) -> None:
    env.fake.respond_next(status, body, media_type=media_type)
    with pytest.raises(SourceError) as caught:
        await env.poller(options={"tasks": ["backup"]}).poll_once()
    assert not isinstance(caught.value, RateLimited)
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


async def test_an_unknown_task_does_not_stop_the_others(env: Env) -> None:
    run = env.fake.put_run(task="backup", status="running")
    with pytest.raises(SourceError, match="HTTP 404: Not Found: task 'nope' not found"):
        await env.poller(options={"tasks": ["nope", "backup"]}).poll_once()
    assert await env.transitions(run.id) == [(None, "running")]


@pytest.mark.parametrize(("retry_after", "expected"), [(7, 7.0), (None, 30.0)])
async def test_429_is_rate_limited(env: Env, retry_after: int | None, expected: float) -> None:
    env.fake.rate_limit_next(retry_after)
    with pytest.raises(RateLimited, match="HTTP 429: Too Many Requests: slow down") as caught:
        await env.poller().poll_once()
    assert caught.value.retry_after == expected


async def test_runs_null_is_an_empty_list(env: Env) -> None:
    report = await env.poller().poll_once()  # no runs: Go marshals the nil slice as null
    assert (report.listed, report.invalid) == (0, 0)


async def test_timeouts_are_source_errors(env: Env) -> None:
    env.fake.delay_next(5)
    client = TaskRunnerClient(env.http, base_url=env.fake.base_url, api_key=TOKEN, timeout=0.1)
    with pytest.raises(SourceError, match="ReadTimeout"):
        await client.list_runs("backup", limit=5)


async def test_the_loop_survives_failures(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    poller = env.poller(poll_every=0.01)
    run = env.fake.put_run(task="backup", status="running")
    env.fake.fail_next(503, title="Service Unavailable", when="list")
    env.fake.fail_next(500, detail="database is locked", when="list")
    await env.running(poller)
    await eventually(lambda: env.has_transitions(run.id, 1))
    assert "poll_failed source=runner reason=GET /api/tasks/backup/runs" in caplog.text
    assert "HTTP 503: Service Unavailable" in caplog.text
    assert "HTTP 500: Internal Server Error: database is locked" in caplog.text


async def test_the_registry_opens_this_poller(env: Env) -> None:
    open_poller = kind_of("taskrunner").open_poller
    assert open_poller is not None
    poller = open_poller(env.config, env.http, env.store, env.pipeline.ingest_many, SystemClock())
    assert isinstance(poller, TaskRunnerPoller)
    assert poller.stream is None
    run = env.fake.put_run(task="report", status="running")
    await poller.poll_once()
    assert await env.transitions(run.id) == [(None, "running")]
    with pytest.raises(ValueError, match="option stream must be true or false"):
        open_poller(
            replace(env.config, options={"stream": "on"}),
            env.http,
            env.store,
            env.pipeline.ingest_many,
            SystemClock(),
        )


# -- auth --------------------------------------------------------------------------------------------


async def test_a_bearer_token_is_sent_and_a_wrong_one_is_reported(env: Env) -> None:
    env.fake.put_run(task="backup", status="running")
    await env.poller().poll_once()
    assert {r.headers["authorization"] for r in env.fake.requests} == {f"Bearer {TOKEN}"}

    wrong = env.poller(api_key="runwisp-wrong-token-1234")
    with pytest.raises(SourceError, match="HTTP 401: Unauthorized: authentication required") as caught:
        await wrong.poll_once()
    assert "runwisp-wrong-token-1234" not in str(caught.value)


async def test_no_authorization_when_auth_is_off(env: Env) -> None:
    env.fake.token = ""
    async with httpx2.AsyncClient(
        headers={"Authorization": "Bearer someone-elses"}, trust_env=False
    ) as shared:
        client = TaskRunnerClient(shared, base_url=env.fake.base_url, api_key="")
        runs, total = await client.list_runs("backup", limit=5)
    assert (runs, total) == ([], 0)
    assert "authorization" not in env.fake.requests[-1].headers


def socket_path(tmp_path: Path) -> tuple[str, tempfile.TemporaryDirectory[str] | None]:
    path = tmp_path / "runwisp.sock"
    if len(str(path)) < 100:
        return str(path), None
    short = tempfile.TemporaryDirectory(dir="/tmp")  # AF_UNIX paths are limited to ~108 bytes
    return f"{short.name}/runwisp.sock", short


async def test_the_unix_socket_needs_no_token(tmp_path: Path) -> None:
    path, cleanup = socket_path(tmp_path)
    unix = FakeRunWisp(token=TOKEN, era="newest")
    try:
        await unix.start_unix(path)
        async with environment(tmp_path, unix, stream=True, poll_every="60s") as env:
            env.fake.tasks.update({"backup", "report"})
            config = replace(env.config, api_key="", options={**env.config.options, "socket": path})
            poller = TaskRunnerPoller(
                config,
                TaskRunnerClient.for_source(config, env.http),
                env.store,
                env.pipeline.ingest_many,
                SystemClock(),
                reconnect_min=0.02,
            )
            await connected(env, poller)
            run = unix.put_run(task="backup", status="running")
            unix.set_log(run.id, ["no space left on device"])
            unix.set_status(run.id, "ended", end_reason="failed", exit_code=1)
            await eventually(lambda: env.has_transitions(run.id, 2))
            stored = await env.stored(run.id)
            assert stored.error is not None
            assert stored.error.message.endswith("no space left on device")
            assert all("authorization" not in r.headers for r in unix.requests)
    finally:
        await unix.stop()
        if cleanup is not None:
            cleanup.cleanup()
