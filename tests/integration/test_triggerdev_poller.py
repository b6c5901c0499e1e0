"""TriggerClient and TriggerPoller against the fake Trigger.dev API over loopback, with a real
SqliteStore and a real Pipeline (rules.yaml: every terminal transition -> console)."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay.clock import Clock, FakeClock, SystemClock
from relay.errors import ConfigError, FetchRefused, RateLimited, SourceError
from relay.models import Phase, Via
from relay.netguard import PUBLIC_ONLY, NetworkPolicy
from relay.sources import triggerdev
from relay.sources.base import Ingest
from relay.sources.concurrency import DETAIL_CONCURRENCY
from relay.sources.http import DEFAULT_RETRY_AFTER
from relay.sources.state import RateBudget
from relay.sources.triggerdev.client import TriggerClient
from relay.sources.triggerdev.options import TriggerOptions
from relay.sources.triggerdev.parse import parse_retrieved
from relay.sources.triggerdev.poll import SWEEP_OVERLAP, TriggerPoller
from relay.sources.triggerdev.webhook import parse_webhook
from tests.contract.prism import prism_mock, seed
from tests.fakes.servers import serve
from tests.fakes.trigger_api import FakeTriggerApi, iso
from tests.integration.helpers import SourceEnv, eventually, relay_parts

KEY = "tr_dev_poller_4f1c9a7e5d"
OUTPUT = {"sent": 3, "digest": "https://mail.example.com/d/42"}
ERROR = {
    "message": "SMTP 550 mailbox unavailable",
    "name": "MailError",
    "stackTrace": "at send (digest.ts:3)",
}
SOURCES = """
sources:
  trigger:
    kind: triggerdev
    base_url: "{base_url}"
    api_key: "{key}"
    poll_every: 50ms
    limit: 10
    sweep_every: 1h
    sweep_window: 2h
    project_ref: proj_test
"""
# the fake's presigned output URLs point at it, on loopback: out of bounds unless allowed
ALLOW_LOOPBACK = 'network: {allow: ["127.0.0.1/32"]}\n'


@dataclass
class Env(SourceEnv):
    fake: FakeTriggerApi
    poller: TriggerPoller

    def client(self, **changes: Any) -> TriggerClient:
        options: dict[str, Any] = {
            "base_url": self.config.base_url,
            "api_key": KEY,
            "budget": RateBudget(),  # never shared between tests, whatever the port
            "network": self.config.network,
            **changes,
        }
        return TriggerClient(options.pop("http", self.http), **options)

    def new_poller(
        self,
        *,
        client: TriggerClient | None = None,
        clock: Clock | None = None,
        ingest: Ingest | None = None,
        options: dict[str, Any] | None = None,
        **changes: Any,
    ) -> TriggerPoller:
        extra = {k: changes.pop(k) for k in ("max_rechecks", "max_pages", "min_wait") if k in changes}
        config = replace(self.config, options={**self.config.options, **(options or {})}, **changes)
        clock = clock or SystemClock()
        return TriggerPoller(
            config,
            client or self.client(clock=clock),
            self.store,
            ingest or self.pipeline.ingest_many,
            clock,
            **extra,
        )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTriggerApi]:
    async with FakeTriggerApi(api_key=KEY) as api:
        yield api


@pytest.fixture
async def env(tmp_path: Path, fake: FakeTriggerApi) -> AsyncIterator[Env]:
    sources = SOURCES.format(base_url=fake.base_url, key=KEY) + ALLOW_LOOPBACK
    async with relay_parts(tmp_path, sources) as (http, store, pipeline, ruleset):
        config = ruleset.sources["trigger"]
        client = TriggerClient(
            http, base_url=config.base_url, api_key=KEY, budget=RateBudget(), network=config.network
        )
        poller = TriggerPoller(config, client, store, pipeline.ingest_many, SystemClock())
        yield Env(http, store, pipeline, config, fake, poller)


def polls(outcome: str) -> float:
    return REGISTRY.get_sample_value("relay_polls_total", {"source": "trigger", "outcome": outcome}) or 0.0


# -- discovery and re-checks ------------------------------------------------------------------


async def test_a_run_is_discovered_then_completed_by_id_with_its_output(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    env.fake.put_run("run_2", status="QUEUED")
    first = await env.poller.poll_once()
    assert (first.listed, first.ingested, first.rechecked, first.requests) == (2, 2, 0, 1)

    env.fake.set_status("run_1", "COMPLETED", output=OUTPUT)
    second = await env.poller.poll_once()

    # the sweep is not due again (sweep_every 1h): one by-id request per run in flight
    assert (second.listed, second.rechecked, second.ingested, second.requests) == (0, 2, 2, 2)
    assert await env.transitions("run_1") == [(None, "EXECUTING"), ("EXECUTING", "COMPLETED")]
    assert await env.transitions("run_2") == [(None, "QUEUED")]
    stored = await env.stored("run_1")
    assert stored.phase is Phase.SUCCEEDED and stored.output == OUTPUT and stored.via is Via.POLL
    assert stored.url == "https://cloud.trigger.dev/projects/v3/proj_test/runs/run_1"
    [delivery] = await env.store.deliveries()
    assert delivery.rule == "finished"


async def test_requests_carry_the_key_the_version_and_a_bounded_window(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    before = datetime.now(UTC)
    await env.poller.poll_once()
    await env.poller.poll_once()

    (listed,) = env.fake.list_requests()
    (by_id,) = env.fake.by_id_requests("run_1")
    for request in (listed, by_id):
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.headers["x-trigger-api-version"] == "2025-07-16"
    assert listed.query["page[size]"] == "10"
    since = datetime.fromisoformat(listed.query["filter[createdAt][from]"])
    assert before - timedelta(hours=2, seconds=5) < since < before - timedelta(hours=2) + timedelta(seconds=5)


async def test_every_status_on_the_way_is_a_transition(env: Env) -> None:
    env.fake.put_run("run_1", status="QUEUED")
    env.fake.put_run("run_2", status="DELAYED")
    await env.poller.poll_once()
    for status in ("DEQUEUED", "WAITING", "EXECUTING", "TIMED_OUT"):
        env.fake.set_status("run_1", status)
        if status == "TIMED_OUT":
            env.fake.set_status("run_2", "EXPIRED")
        await env.poller.poll_once()

    assert await env.transitions("run_1") == [
        (None, "QUEUED"),
        ("QUEUED", "DEQUEUED"),
        ("DEQUEUED", "WAITING"),
        ("WAITING", "EXECUTING"),
        ("EXECUTING", "TIMED_OUT"),
    ]
    assert await env.transitions("run_2") == [(None, "DELAYED"), ("DELAYED", "EXPIRED")]
    assert (await env.stored("run_1")).phase is Phase.TIMED_OUT
    assert (await env.stored("run_2")).phase is Phase.EXPIRED
    assert await env.store.active_runs("trigger") == []


async def test_the_legacy_vocabulary_is_understood_and_a_rename_is_no_transition(env: Env) -> None:
    env.fake.put_run("run_1", status="REATTEMPTING")
    env.fake.put_run("run_2", status="DEQUEUED")
    legacy = env.new_poller(client=env.client(api_version=None))
    await legacy.poll_once()
    assert "x-trigger-api-version" not in env.fake.list_requests()[0].headers
    assert [(await env.stored(r)).status for r in ("run_1", "run_2")] == ["REATTEMPTING", "EXECUTING"]

    report = await env.poller.poll_once()  # by id, with the version header: EXECUTING, DEQUEUED

    assert report.rechecked == 2
    assert await env.transitions("run_1") == [(None, "REATTEMPTING")]
    assert await env.transitions("run_2") == [(None, "EXECUTING")]


async def test_runs_finished_before_watching_are_history_and_new_ones_news(env: Env) -> None:
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    env.fake.put_run("old", status="FAILED", error=ERROR, created_at=hour_ago, finished_at=hour_ago)
    first = await env.poller.poll_once()
    assert (first.fetched_by_id, first.requests) == (0, 1)
    assert (await env.stored("old")).error is None  # recorded from the list alone
    (t,) = [t for t in await env.store.transitions() if t.run_id == "old"]
    assert t.backfill

    env.fake.put_run("quick", status="FAILED", error=ERROR)  # never seen running
    later = env.new_poller(options={"sweep_every": "50ms"})
    report = await later.poll_once()
    assert report.fetched_by_id == 1
    stored = await env.stored("quick")
    assert stored.error is not None and stored.error.message == ERROR["message"]


# -- sweeps ----------------------------------------------------------------------------------


async def test_paging_follows_the_cursor_and_a_long_sweep_resumes_next_cycle(env: Env) -> None:
    for n in range(25):
        env.fake.put_run(f"run_{n:02d}", status="QUEUED")
    poller = env.new_poller(max_pages=2)

    first = await poller.poll_once()
    assert (first.listed, first.requests) == (20, 2)
    second = await poller.poll_once()
    assert (second.listed, second.rechecked) == (5, 20)
    third = await poller.poll_once()
    assert (third.listed, third.rechecked) == (0, 25)  # the sweep is done and not due

    assert len(await env.store.active_runs("trigger")) == 25
    cursors = [r.query.get("page[after]") for r in env.fake.list_requests()]
    assert cursors == [None, "run_15", "run_05"]  # newest first, each page after the last
    # one sweep, one window, although it spanned two cycles
    assert len({r.query["filter[createdAt][from]"] for r in env.fake.list_requests()}) == 1


async def test_a_cursor_that_never_changes_ends_the_sweep(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.fake.stuck_cursor = True
    for n in range(15):
        env.fake.put_run(f"run_{n:02d}", status="QUEUED")

    report = await env.poller.poll_once()

    assert report.requests == 2 and len(env.fake.list_requests()) == 2
    assert report.listed == 20  # runs 14..05, then 13..04 (the page after run_14, again)
    assert len(await env.store.runs("trigger")) == 11  # known ones are not ingested twice
    assert "sweep_cursor_repeated source=trigger cursor='run_14' pages=2 (sweep ended)" in caplog.text
    await env.poller.poll_once()
    assert len(env.fake.list_requests()) == 2


async def test_sweeps_are_rarer_than_rechecks_and_later_ones_incremental(env: Env) -> None:
    clock = FakeClock(datetime.now(UTC))
    env.fake._now = clock.now
    env.fake.put_run("run_1", status="EXECUTING")
    poller = env.new_poller(clock=clock, options={"sweep_every": "60s", "sweep_window": "1h"})
    start = clock.now()

    await poller.poll_once()
    clock.advance(30)
    assert (await poller.poll_once()).listed == 0
    clock.advance(31)
    assert (await poller.poll_once()).listed == 1

    froms = [r.query["filter[createdAt][from]"] for r in env.fake.list_requests()]
    assert froms == [
        iso(start - timedelta(hours=1)),
        iso(start - timedelta(seconds=SWEEP_OVERLAP)),
    ]
    assert len(env.fake.by_id_requests("run_1")) == 2  # every cycle but the first


async def test_a_failed_sweep_starts_over(env: Env) -> None:
    for n in range(15):
        env.fake.put_run(f"run_{n:02d}", status="QUEUED")
    env.fake.respond_next(400, '{"error": "Query Error"}', when="list")
    poller = env.new_poller(max_pages=1)

    with pytest.raises(SourceError, match="HTTP 400"):
        await poller.poll_once()
    assert (await poller.poll_once()).listed == 10
    assert (await poller.poll_once()).listed == 5
    assert [r.query.get("page[after]") for r in env.fake.list_requests()] == [None, None, "run_05"]


# -- detail: output, offloaded output, pushed failures -------------------------------------------


async def test_an_offloaded_output_is_downloaded_without_credentials(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    big = {"rows": ["x" * 100] * 20}
    env.fake.set_status("run_1", "COMPLETED", output={"json": big, "meta": {"values": {}}}, offloaded=True)

    report = await env.poller.poll_once()

    assert report.requests == 1  # the presigned download is no API request
    assert (await env.stored("run_1")).output == big  # the superjson packet unwrapped
    (download,) = env.fake.output_requests()
    assert "authorization" not in download.headers and "x-trigger-api-version" not in download.headers


async def test_an_output_that_cannot_be_fetched_is_logged_not_fatal(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.set_status("run_1", "COMPLETED", output=OUTPUT, offloaded=True)
    env.fake.outputs_expired = True

    await env.poller.poll_once()

    assert await env.transitions("run_1") == [(None, "EXECUTING"), ("EXECUTING", "COMPLETED")]
    assert (await env.stored("run_1")).output is None
    assert "poll_output_failed source=trigger run=run_1 reason=GET output: HTTP 403" in caplog.text


async def test_an_output_url_into_the_relay_s_network_is_refused_and_the_run_still_notifies(
    tmp_path: Path, fake: FakeTriggerApi, caplog: pytest.LogCaptureFixture
) -> None:
    sources = SOURCES.format(base_url=fake.base_url, key=KEY)  # no ALLOW_LOOPBACK
    async with relay_parts(tmp_path, sources) as (http, store, pipeline, ruleset):
        config = ruleset.sources["trigger"]
        client = TriggerClient(http, base_url=config.base_url, api_key=KEY, budget=RateBudget())
        poller = TriggerPoller(config, client, store, pipeline.ingest_many, SystemClock())
        env = Env(http, store, pipeline, config, fake, poller)
        fake.put_run("run_1", status="EXECUTING")
        await env.poller.poll_once()
        fake.set_status("run_1", "COMPLETED", output=OUTPUT, offloaded=True)

        await env.poller.poll_once()

        assert fake.output_requests() == []  # nothing was sent to it
        assert await env.transitions("run_1") == [(None, "EXECUTING"), ("EXECUTING", "COMPLETED")]
        assert (await env.stored("run_1")).output is None
        completed = (await env.transition_list("run_1"))[-1]
        notified = [d for d in await store.deliveries(None, 10) if d.transition_id == completed.id]
        assert [d.channel for d in notified] == ["console"]
    assert (
        "poll_output_failed source=trigger run=run_1 reason=127.0.0.1 is a loopback address;"
        " rules.yaml network.allow can allow it" in caplog.text
    )


def storage(hosts: list[str]) -> Starlette:
    """Presigned storage: /out.json (records the Host it was asked for), /redirect?to=URL
    (without `to`: to itself, for ever)."""

    async def output(request: Request) -> Response:
        hosts.append(request.headers["host"])
        return JSONResponse({"rows": 1})

    async def redirect(request: Request) -> Response:
        return Response(status_code=302, headers={"location": request.query_params.get("to", "/redirect")})

    return Starlette(routes=[Route("/out.json", output), Route("/redirect", redirect)])


async def test_a_redirect_is_followed_only_where_the_first_url_could_go(env: Env) -> None:
    hosts: list[str] = []
    async with serve(storage(hosts)) as base:
        client = env.client()
        assert await client.fetch_output(f"{base}/redirect?to=/out.json") == {"rows": 1}
        for target, why in [
            ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
            ("http://127.0.0.2:1/x", "127.0.0.2 is a loopback address"),  # outside 127.0.0.1/32
            ("file:///etc/passwd", "only http and https URLs are fetched, not file"),
            ("/redirect", "more than 5 redirects"),
        ]:
            with pytest.raises(FetchRefused, match=re.escape(why)):
                await client.fetch_output(f"{base}/redirect?to={quote(target, safe='')}")
    assert hosts == [base.removeprefix("http://")]


async def test_a_name_is_checked_by_its_addresses_and_asked_for_by_its_name(env: Env) -> None:
    hosts: list[str] = []
    async with serve(storage(hosts)) as base:
        by_name = base.replace("127.0.0.1", "localhost") + "/out.json"
        with pytest.raises(FetchRefused, match="localhost resolves to .*, which is a loopback address"):
            await env.client(network=PUBLIC_ONLY).fetch_output(by_name)
        loopback = NetworkPolicy.parse(["127.0.0.0/8", "::1/128"])
        assert await env.client(network=loopback).fetch_output(by_name) == {"rows": 1}
        named = NetworkPolicy.parse(["localhost"])  # not pinned: the operator vouches for it
        assert await env.client(network=named).fetch_output(by_name) == {"rows": 1}
    # sent to the checked address, still named as in the URL (virtual hosts, signatures, TLS)
    assert hosts == [by_name.split("/")[2]] * 2


async def test_a_pushed_failure_is_completed_by_id_without_a_second_notification(env: Env) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    await env.poller.poll_once()
    run = env.fake.set_status("run_1", "FAILED", error=ERROR)
    pushed_alert = {
        "id": "alert_1",
        "created": iso(datetime.now(UTC)),
        "webhookVersion": "v1",
        "type": "alert.run.failed",
        "object": {
            "task": {"id": "send-digest"},
            "run": {
                "id": "run_1",
                "status": "FAILED",
                "createdAt": iso(run.created_at),
                "completedAt": iso(run.finished_at),
                "error": {"type": "STRING_ERROR", "raw": "SMTP 550"},
                "dashboardUrl": "https://tr.example.com/runs/run_1",
            },
        },
    }
    (snapshot,) = parse_webhook(pushed_alert, env.config)
    await env.pipeline.ingest(snapshot)
    assert len(await env.store.deliveries()) == 1

    report = await env.poller.poll_once()
    again = await env.poller.poll_once()

    assert (report.fetched_by_id, report.rechecked, report.requests) == (1, 0, 1)
    assert again.requests == 0  # completed once
    assert await env.transitions("run_1") == [(None, "EXECUTING"), ("EXECUTING", "FAILED")]
    assert len(await env.store.deliveries()) == 1
    stored = await env.stored("run_1")
    assert stored.via is Via.POLL and stored.duration_ms is not None
    assert stored.error is not None and stored.error.name == "MailError"  # the REST error now
    assert stored.url == "https://cloud.trigger.dev/projects/v3/proj_test/runs/run_1"


# -- rate limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"reset_in": 2.5}, 2.5),
        ({"reset_in": None, "retry_after": "7"}, 7.0),
        ({"reset_in": None, "seconds_in_body": 3}, 3.0),
        ({"reset_in": None}, DEFAULT_RETRY_AFTER),
    ],
)
async def test_429_is_rate_limited_until_the_reset(env: Env, fault: dict[str, Any], expected: float) -> None:
    env.fake.rate_limit_next(**fault)
    before = polls("rate_limited")

    with pytest.raises(RateLimited) as caught:
        await env.poller.poll_once()

    assert caught.value.retry_after == pytest.approx(expected, abs=0.3)
    assert polls("rate_limited") == before + 1


async def test_the_servers_own_bucket_answers_429_with_its_reset(env: Env) -> None:
    env.fake.set_budget(0, reset_in=0.5)
    with pytest.raises(RateLimited) as caught:
        await env.poller.poll_once()
    assert 0 < caught.value.retry_after <= 0.5


async def test_a_low_budget_holds_requests_until_the_reset(env: Env) -> None:
    runs = [f"run_{n:02}" for n in range(DETAIL_CONCURRENCY * 2)]
    for run_id in runs:
        env.fake.put_run(run_id, status="EXECUTING")
    await env.poller.poll_once()
    env.fake.set_budget(11, limit=100, reset_in=0.4)  # at least 10 are kept in reserve

    with pytest.raises(RateLimited, match=r"rate budget low \(\d+ of 100 left\)") as caught:
        await env.poller.poll_once()
    # side by side: those already in flight finish (the reserve covers them), none starts after
    first = [r.path[-6:] for r in env.fake.by_id_requests()]
    assert 1 <= len(first) <= DETAIL_CONCURRENCY
    assert 0 < caught.value.retry_after <= 0.4

    await asyncio.sleep(caught.value.retry_after + 0.05)
    report = await env.poller.poll_once()
    assert report.rechecked == len(runs)
    second = [r.path[-6:] for r in env.fake.by_id_requests()][len(first) :]
    # the ones not checked before the pause go first
    assert set(second[: len(runs) - len(first)]) == set(runs) - set(first)


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, f'{{"error": "upstream said no to {KEY}"}}', 'HTTP 500: {"error": "upstream said no to ***"}'),
        (200, "<html>gateway</html>", "invalid JSON (HTTP 200): <html>gateway</html>"),
        (200, '{"pagination": {}}', 'no data list in the body (HTTP 200): {"pagination": {}}'),
        (200, '{"data": {"id": "run_1"}}', "no data list in the body"),
        (404, "", "HTTP 404: (empty)"),
        (401, '{"error": "Invalid or Missing API key"}', "HTTP 401"),
    ],
)
async def test_bad_list_answers_are_source_errors(env: Env, status: int, body: str, message: str) -> None:
    env.fake.respond_next(status, body, when="list")
    before = polls("error")

    with pytest.raises(SourceError) as caught:
        await env.poller.poll_once()

    assert not isinstance(caught.value, RateLimited)
    assert message in str(caught.value) and KEY not in str(caught.value)
    assert str(caught.value).startswith("GET /api/v1/runs?page%5Bsize%5D=10")
    assert polls("error") == before + 1


async def test_a_failed_recheck_is_logged_and_the_others_go_on(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    env.fake.put_run("run_2", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.set_status("run_2", "COMPLETED", output=OUTPUT)
    env.fake.fail_next(1, 502, when="by_id")

    report = await env.poller.poll_once()

    assert report.rechecked == 2
    assert (
        "poll_recheck_failed source=trigger run=run_1 reason=GET /api/v3/runs/run_1: HTTP 502" in caplog.text
    )
    assert await env.transitions("run_2") == [(None, "EXECUTING"), ("EXECUTING", "COMPLETED")]


async def test_every_recheck_failing_fails_the_cycle_but_a_404_does_not(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    env.fake.put_run("run_2", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.fail_next(2, 503, when="by_id")
    with pytest.raises(SourceError, match=r"every by-id re-check failed \(2\); the last: .*HTTP 503"):
        await env.poller.poll_once()

    env.fake.forget("run_1")
    env.fake.forget("run_2")
    report = await env.poller.poll_once()
    assert report.rechecked == 2
    assert "poll_recheck_failed source=trigger run=run_1 reason=not found (HTTP 404)" in caplog.text
    assert len(await env.store.active_runs("trigger")) == 2  # left as they are


@pytest.mark.parametrize("body", ["[]", "<html>", '"run"'])
async def test_a_malformed_run_by_id_is_a_logged_failure(env: Env, body: str) -> None:
    env.fake.put_run("run_1", status="EXECUTING")
    env.fake.put_run("run_2", status="EXECUTING")
    await env.poller.poll_once()
    env.fake.respond_next(200, body, when="by_id")
    report = await env.poller.poll_once()
    assert report.rechecked == 2


async def test_timeouts_and_refused_connections_are_source_errors(env: Env) -> None:
    env.fake.delay_next(5)
    with pytest.raises(SourceError, match="ReadTimeout"):
        await env.client(timeout=0.1).get_run("run_1")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(SourceError, match="ConnectError"):
        await env.client(base_url=f"http://127.0.0.1:{closed}").get_run("run_1")


async def test_a_malformed_item_is_skipped_and_counted(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.fake.put_run("run_good", status="EXECUTING")
    env.fake.add_raw_item({"id": "run_bad", "taskIdentifier": "send-digest"})
    env.fake.add_raw_item("not a run")

    report = await env.poller.poll_once()

    assert (report.listed, report.invalid, report.ingested) == (3, 2, 1)
    assert "poll_item_invalid source=trigger index=0 reason=run 'run_bad': status is missing" in caplog.text


# -- the loop and the kind ---------------------------------------------------------------------------


async def test_run_stops_at_once_during_a_slow_request(env: Env) -> None:
    env.fake.delay_next(30)
    stop = asyncio.Event()
    task = asyncio.create_task(env.poller.run(stop))
    await eventually(lambda: len(env.fake.requests) >= 1)

    stop.set()
    await asyncio.wait_for(task, timeout=1.0)


async def test_run_keeps_polling_through_failures(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    poller = env.new_poller(poll_every=0.01, min_wait=0.01, options={"sweep_every": "50ms"})
    env.fake.put_run("run_1", status="EXECUTING")
    env.fake.fail_next(2, 500, when="list")
    env.fake.rate_limit_next(reset_in=None, seconds_in_body=0.05, when="list")
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await eventually(lambda: env.has_transitions("run_1", 1))
        env.fake.set_status("run_1", "CRASHED", error=ERROR)
        await eventually(lambda: env.has_transitions("run_1", 2))
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=1.0)

    assert (await env.stored("run_1")).error is not None
    assert "poll_failed source=trigger reason=GET /api/v1/runs" in caplog.text
    assert "poll_rate_limited source=trigger retry_after=" in caplog.text


async def test_the_kind_opens_a_poller_and_validates_its_options(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    open_poller = triggerdev.KIND.open_poller
    assert open_poller is not None
    poller = open_poller(env.config, env.http, env.store, env.pipeline.ingest_many, SystemClock())
    assert isinstance(poller, TriggerPoller)
    assert "source_key_suspect" not in caplog.text

    with caplog.at_level(logging.WARNING):
        open_poller(
            replace(env.config, api_key="tr_pat_123456"),
            env.http,
            env.store,
            env.pipeline.ingest_many,
            SystemClock(),
        )
    assert "source_key_suspect source=trigger" in caplog.text
    bad = replace(env.config, options={"sweep_window": "1m", "sweep_every": "5m"})
    with pytest.raises(ConfigError, match="sweep_window .60s. must be longer than sweep_every"):
        open_poller(bad, env.http, env.store, env.pipeline.ingest_many, SystemClock())
    assert TriggerOptions.of(env.config).project_ref == "proj_test"


# -- contract: Trigger.dev's own OpenAPI document, served by an OpenAPI mock server -----------------
#
# Stoplight Prism (`prism mock -d`) answers every request with a random response that is valid
# for the document (tests/contract/specs/trigger-v3-openapi.yaml), and rejects requests the document
# does not allow (page[size] below 10, a missing bearer key). Installed with npm on first use.


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prism_mock(seed("trigger-v3-openapi.yaml"), tmp_path_factory.mktemp("prism")) as url:
        yield url


async def test_hundreds_of_generated_responses_parse(prism: str) -> None:
    async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as http:
        client = TriggerClient(http, base_url=prism, api_key="tr_dev_FAKE", budget=RateBudget())
        phases: set[Phase] = set()
        for n in range(300):
            raw = await client.get_run(f"run_{n}")
            assert raw is not None
            phases.add(parse_retrieved(raw, source="trigger").phase)
        since, cursor, items = datetime.now(UTC) - timedelta(hours=1), None, 0
        for size in [10, 55, 100] * 34:
            page = await client.list_runs(since, size, cursor)
            for item in page.items:
                phases.add(parse_retrieved(item, source="trigger").phase)
                items += 1
            cursor = page.next
    assert client.requests == 402
    assert items > 0
    # the document's statuses are random in the answers, and every one of them is understood
    assert len(phases) >= 7 and Phase.UNKNOWN not in phases


async def test_the_poller_survives_generated_responses(prism: str, tmp_path: Path) -> None:
    sources = SOURCES.format(base_url=prism, key="tr_dev_FAKE")
    async with relay_parts(tmp_path, sources, timeout=10.0) as (http, store, pipeline, ruleset):
        config = replace(ruleset.sources["trigger"], options={"sweep_every": "50ms", "sweep_window": "1h"})
        now = iso(datetime.now(UTC))
        for n in range(5):  # runs in flight: re-checked by id every cycle (Prism answers other runs)
            run = {
                "id": f"run_{n}",
                "status": "EXECUTING",
                "taskIdentifier": "t",
                "createdAt": now,
                "updatedAt": now,
            }
            await pipeline.ingest(parse_retrieved(run, source="trigger"))
        client = TriggerClient(http, base_url=prism, api_key=config.api_key, budget=RateBudget())
        poller = TriggerPoller(
            config, client, store, pipeline.ingest_many, SystemClock(), max_rechecks=20, max_pages=3
        )
        reports = []
        for _ in range(6):
            reports.append(await poller.poll_once())
            await asyncio.sleep(0.051)
    # every cycle sweeps (at least one page) and re-checks the runs in flight, random ones too
    assert all(r.requests >= 6 and r.rechecked >= 5 for r in reports)
    assert sum(r.invalid for r in reports) == 0
    assert sum(r.ingested for r in reports) > 30
