"""Timeline tests: a Trigger.dev project pushes run-failed alerts to the relay, which also polls
the (fake) Trigger.dev API; Slack-style messages arrive at a recording receiver. Real servers
on loopback, the relay in-process over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from relay.models import Phase, Via
from relay.signing import sign
from tests.acceptance.harness import RunningRelay, running_relay
from tests.fakes.sinks import RecordingSink, recording_sink
from tests.fakes.trigger_api import FakeTriggerApi, iso

KEY = "tr_prod_accept_0123456789"
SECRET = "trigger-alert-secret-accept"
DASHBOARD = "https://cloud.trigger.dev/projects/v3/proj_accept/runs/{run_id}"


@dataclass
class World:
    trigger: FakeTriggerApi
    relay: RunningRelay
    slack: RecordingSink


@pytest.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    async with FakeTriggerApi(api_key=KEY) as trigger, recording_sink() as (slack, slack_url):
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources:
  trigger:
    kind: triggerdev
    base_url: "{trigger.base_url}"
    api_key: "{KEY}"
    webhook_secret: "{SECRET}"
    poll_every: 50ms
    sweep_every: 1h
    sweep_window: 2h
    project_ref: proj_accept
channels:
  slack: {{kind: slack, url: "{slack_url}/services/T/B/X"}}
rules:
  - {{name: failures, match: {{phase: problem}}, notify: [slack]}}
delivery: {{schedule: [100ms], quick_tries: 2, quick_wait: 10ms, timeout: 2s}}
""")
        async with running_relay(config, database_url) as relay:
            world = World(trigger, relay, slack)
            await _until(lambda: len(trigger.list_requests()) >= 1)  # the first sweep is done
            yield world


def alert(run_id: str, *, alert_id: str | None = None, finished: datetime | None = None) -> dict[str, Any]:
    finished = finished or datetime.now(UTC)
    return {
        "id": alert_id or f"alert_{uuid.uuid4().hex[:12]}",
        "created": iso(datetime.now(UTC)),
        "webhookVersion": "v1",
        "type": "alert.run.failed",
        "object": {
            "task": {"id": "send-digest", "filePath": "src/trigger/digest.ts", "version": "20261125.4"},
            "run": {
                "id": run_id,
                "number": 7,
                "status": "FAILED",
                "createdAt": iso(finished),
                "startedAt": iso(finished),
                "completedAt": iso(finished),
                "isTest": False,
                "tags": [],
                "error": {
                    "type": "BUILT_IN_ERROR",
                    "name": "MailError",
                    "message": "SMTP 550 mailbox unavailable",
                },
                "isOutOfMemoryError": False,
                "dashboardUrl": DASHBOARD.format(run_id=run_id),
            },
            "environment": {"id": "env_1", "type": "PRODUCTION", "slug": "prod"},
            "organization": {"id": "org_1", "slug": "acme", "name": "Acme"},
            "project": {"id": "prj_1", "ref": "proj_accept", "slug": "digest", "name": "Digest"},
        },
    }


async def push_alert(
    relay: RunningRelay, body: dict[str, Any] | bytes, *, secret: str = SECRET, signed: bytes | None = None
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = hmac.new(secret.encode(), signed if signed is not None else raw, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-trigger-signature-hmacsha256": signature}
    return await relay.client.post(f"{relay.url}/hooks/trigger", content=raw, headers=headers)


async def test_a_signed_alert_reaches_slack_and_the_poll_completes_it_without_a_second_message(
    world: World,
) -> None:
    # the run failed after the only sweep: the poller has never seen it
    run = world.trigger.put_run("run_1", status="FAILED", error={"message": "SMTP 550", "name": "MailError"})
    pushed = time.monotonic()
    answer = await push_alert(world.relay, alert("run_1", finished=run.finished_at))
    assert answer.status_code == 202 and answer.json() == {"accepted": 1, "transitions": 1, "deliveries": 1}

    (message,) = await world.slack.wait_for(1)
    assert time.monotonic() - pushed < 1.0  # well under a second, polling or not
    text = json.dumps(message.json())
    assert "send-digest failed" in text and "MailError: SMTP 550 mailbox unavailable" in text
    assert DASHBOARD.format(run_id="run_1") in text

    # the poller fetches the run by id and completes the record: same phase, no transition
    await _until(lambda: len(world.trigger.by_id_requests("run_1")) >= 1)
    store = world.relay.relay.store
    await _until_async(lambda: _via_poll(world, "run_1"))
    stored = (await store.known_runs("trigger", ["run_1"]))["run_1"].snapshot
    assert stored.phase is Phase.FAILED and stored.duration_ms is not None
    transitions = [t for t in await store.transitions() if t.run_id == "run_1"]
    assert [(t.to_status, t.via) for t in transitions] == [("FAILED", Via.WEBHOOK)]

    await asyncio.sleep(0.3)  # several more cycles: time for a second message to show up if any
    assert len(world.slack.received) == 1
    assert len(world.trigger.by_id_requests("run_1")) == 1  # completed once


async def test_a_failure_seen_by_poll_first_is_not_announced_again_by_its_alert(world: World) -> None:
    # a run in flight, pushed in the relay's shape: from then on re-checked by id
    run = world.trigger.put_run("run_2", status="EXECUTING")
    assert (await push_run(world.relay, run_object("run_2", "EXECUTING"))).status_code == 202
    await _until(lambda: len(world.trigger.by_id_requests("run_2")) >= 1)
    world.trigger.set_status("run_2", "FAILED", error={"message": "SMTP 550", "name": "MailError"})
    await world.slack.wait_for(1)

    answer = await push_alert(world.relay, alert("run_2", finished=run.finished_at))

    assert answer.status_code == 202 and answer.json()["transitions"] == 0
    await asyncio.sleep(0.2)
    assert len(world.slack.received) == 1


async def test_a_replayed_alert_is_accepted_and_ignored(world: World) -> None:
    body = alert("run_3", alert_id="alert_replayed_once")
    first = await push_alert(world.relay, body)
    second = await push_alert(world.relay, body)

    assert first.status_code == second.status_code == 202
    assert first.json()["accepted"] == 1
    assert second.json() == {"accepted": 0, "transitions": 0, "deliveries": 0}
    await world.slack.wait_for(1)
    await asyncio.sleep(0.1)
    assert len(world.slack.received) == 1


def _tampered(body: bytes) -> bytes:
    return body.replace(b'"FAILED"', b'"COMPLETED"')


@pytest.mark.parametrize(
    ("secret", "change", "error"),
    [
        ("the-wrong-secret", None, "x-trigger-signature-hmacsha256 does not match the body"),
        (SECRET, _tampered, "x-trigger-signature-hmacsha256 does not match the body"),
    ],
)
async def test_a_wrong_secret_or_a_tampered_body_is_401_and_stores_nothing(
    world: World, secret: str, change: Callable[[bytes], bytes] | None, error: str
) -> None:
    original = json.dumps(alert("run_4")).encode()
    sent = change(original) if change else original
    assert sent != original or change is None

    answer = await push_alert(world.relay, sent, secret=secret, signed=original)

    assert answer.status_code == 401 and error in answer.json()["error"]
    assert (await world.relay.admin("runs"))["runs"] == []
    assert (await world.relay.admin("deliveries"))["deliveries"] == []
    # and the same alert correctly signed afterwards is news: the rejected one was not remembered
    assert (await push_alert(world.relay, original)).json()["accepted"] == 1


async def test_unsigned_and_trigger_signed_run_objects_are_rejected_standard_webhooks_accepted(
    world: World,
) -> None:
    raw = json.dumps(run_object("run_5", "CRASHED", error={"message": "worker crashed"})).encode()
    hooks = f"{world.relay.url}/hooks/trigger"
    unsigned = await world.relay.client.post(hooks, content=raw)
    assert unsigned.status_code == 401 and "missing webhook-id" in unsigned.json()["error"]
    trigger_signed = await push_alert(world.relay, raw)
    assert trigger_signed.status_code == 401 and "alert payloads only" in trigger_signed.json()["error"]
    assert (await world.relay.admin("runs"))["runs"] == []

    accepted = await push_run(world.relay, raw)

    assert accepted.status_code == 202 and accepted.json()["transitions"] == 1
    (message,) = await world.slack.wait_for(1)
    assert DASHBOARD.format(run_id="run_5") in json.dumps(message.json())


def run_object(run_id: str, status: str, **extra: Any) -> dict[str, Any]:
    now = iso(datetime.now(UTC))
    return {
        "id": run_id,
        "status": status,
        "taskIdentifier": "send-digest",
        "createdAt": now,
        "updatedAt": now,
        **extra,
    }


async def push_run(relay: RunningRelay, body: dict[str, Any] | bytes) -> httpx.Response:
    """The relay's own shape, with a Standard Webhooks signature."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = int(time.time())
    headers = {
        "webhook-id": f"msg_{ts}",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(SECRET, f"msg_{ts}", ts, raw),
    }
    return await relay.client.post(f"{relay.url}/hooks/trigger", content=raw, headers=headers)


async def _via_poll(world: World, run_id: str) -> bool:
    found = await world.relay.relay.store.known_runs("trigger", [run_id])
    return run_id in found and found[run_id].snapshot.via is Via.POLL


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def _until_async(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.01)
