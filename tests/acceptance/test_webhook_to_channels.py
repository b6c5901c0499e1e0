"""Timeline tests: a run update pushed to the relay -> messages at Slack-style, e-mail and
webhook receivers, all real servers on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from relay.signing import sign, verify
from tests.acceptance.harness import RunningRelay, running_relay
from tests.checks import validate_payload
from tests.fakes.sinks import RecordingSink, recording_sink, smtp_server

World = tuple[RunningRelay, RecordingSink, RecordingSink, list[EmailMessage]]
SECRET = "whsec_" + base64.b64encode(b"ingest-secret-0123456789").decode()
OUT_SECRET = "whsec_" + base64.b64encode(b"outbound-secret-987654").decode()
VIDEO = "https://v3.fal.media/files/demo/final.mp4"


def rules(slack: str, hook: str, smtp_port: int, schedule: str = "[100ms, 100ms]") -> str:
    return f"""
sources:
  recoup:
    kind: recoup
    webhook_secret: "{SECRET}"
channels:
  slack: {{kind: slack, url: "{slack}/services/T0/B0/x"}}
  crm: {{kind: webhook, url: "{hook}/runs", secret: "{OUT_SECRET}"}}
  mail: "mailto://127.0.0.1:{smtp_port}?from=relay@example.com&to=team@example.com&mode=insecure"
rules:
  - name: video-ready
    match: {{task: create-content, status: COMPLETED}}
    notify: [slack, crm, mail]
  - name: failures
    match: {{phase: problem}}
    notify: [slack, crm, mail]
delivery:
  schedule: {schedule}
  quick_tries: 2
  quick_wait: 10ms
  timeout: 2s
"""


def run(status: str, at: str = "2026-11-25T12:00:00Z", run_id: str = "run_1", **extra: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "taskIdentifier": "create-content",
        "status": status,
        "createdAt": "2026-11-25T11:00:00Z",
        "updatedAt": at,
        **extra,
    }


async def push(
    relay: RunningRelay, body: dict[str, Any] | bytes, secret: str = SECRET, ts: int | None = None
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = ts or int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, "msg_1", ts, raw),
        "content-type": "application/json",
    }
    return await relay.client.post(f"{relay.url}/hooks/recoup", content=raw, headers=headers)


@pytest.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    async with (
        recording_sink() as (slack, slack_url),
        recording_sink() as (hook, hook_url),
        smtp_server() as (mails, smtp_port),
    ):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(slack_url, hook_url, smtp_port))
        async with running_relay(config, database_url) as relay:
            yield relay, slack, hook, mails


async def test_completed_run_brings_the_video_link_everywhere(world: World) -> None:
    relay, slack, hook, mails = world
    assert (await push(relay, run("EXECUTING"))).status_code == 202
    answer = await push(
        relay,
        run(
            "COMPLETED",
            at="2026-11-25T12:02:00Z",
            finishedAt="2026-11-25T12:02:00Z",
            output={"videoSourceUrl": VIDEO, "captionText": "out now", "template": "artist-caption-bedroom"},
        ),
    )
    assert answer.json() == {"accepted": 1, "transitions": 1, "deliveries": 3}

    (s,) = await slack.wait_for(1)
    text = json.dumps(s.json())
    assert VIDEO in text and "out now" in text and "blocks" in s.json()

    (h,) = await hook.wait_for(1)
    verify(OUT_SECRET, h.headers, h.body, now=time.time())  # any Standard Webhooks library agrees
    payload = h.json()
    validate_payload(payload)  # the documented contract, docs/webhook-payload.schema.json
    assert payload["version"] == "1" and payload["run"]["video_url"] == VIDEO
    assert payload["transition"]["from_status"] == "EXECUTING"
    assert payload["transition"]["to_status"] == "COMPLETED"
    crm = [d for d in (await relay.admin("deliveries"))["deliveries"] if d["channel"] == "crm"]
    assert h.headers["webhook-id"] == crm[0]["id"]  # the delivery id: stable across retries

    await _wait(lambda: len(mails) == 1)
    mail = mails[0]
    assert mail["Subject"] == "create-content completed (recoup)" and mail["To"] == "team@example.com"
    assert mail.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): _decoded(p) for p in mail.walk() if p.get_content_maintype() == "text"}
    assert set(parts) == {"text/plain", "text/html"}
    for text in parts.values():  # the same facts in both
        assert VIDEO in text and "out now" in text and "artist-caption-bedroom" in text
    assert f'<a href="{VIDEO}">' in parts["text/html"]


@pytest.mark.parametrize("status", ["FAILED", "CRASHED"])
async def test_failure_brings_the_error(world: World, status: str) -> None:
    relay, slack, hook, mails = world
    await push(
        relay,
        run(
            status,
            error={
                "message": "ffmpeg exited with code 1",
                "name": "RenderError",
                "stackTrace": "at render (render.ts:10)",
            },
        ),
    )
    (s,) = await slack.wait_for(1)
    assert "RenderError: ffmpeg exited with code 1" in s.json()["text"]
    (h,) = await hook.wait_for(1)
    validate_payload(h.json())
    assert h.json()["run"]["error"] == {"message": "ffmpeg exited with code 1", "name": "RenderError"}
    await _wait(lambda: len(mails) == 1)
    assert "ffmpeg exited with code 1" in _text(mails[0])


async def test_same_update_twice_notifies_once_and_out_of_order_not_at_all(world: World) -> None:
    relay, slack, hook, mails = world
    done = run("COMPLETED", at="2026-11-25T12:02:00Z", output={"videoSourceUrl": VIDEO})
    first, second = await push(relay, done), await push(relay, done)
    assert first.json()["transitions"] == 1 and second.json()["transitions"] == 0
    stale = await push(relay, run("EXECUTING", at="2026-11-25T12:01:00Z"))
    assert stale.json()["transitions"] == 0
    await slack.wait_for(1)
    await hook.wait_for(1)
    await _wait(lambda: len(mails) == 1)
    await _settle(relay)
    assert len(slack.received) == 1 and len(hook.received) == 1 and len(mails) == 1
    validate_payload(hook.received[0].json())


@pytest.mark.parametrize(
    ("body", "secret", "ts", "status", "error"),
    [
        (b'{"id": "run_1", "status": ', SECRET, None, 400, "malformed JSON"),
        (
            json.dumps(run("COMPLETED")).encode(),
            "whsec_" + base64.b64encode(b"wrong").decode(),
            None,
            401,
            "signature",
        ),
        (json.dumps(run("COMPLETED")).encode(), SECRET, 1_000_000, 401, "tolerance"),
        (json.dumps({"hello": "world"}).encode(), SECRET, None, 422, "id"),
        (b"x" * (65 * 1024), SECRET, None, 413, "larger than"),
    ],
)
async def test_bad_input_is_rejected_and_changes_nothing(
    world: World,
    body: bytes,
    secret: str,
    ts: int | None,
    status: int,
    error: str,
) -> None:
    relay, slack, *_ = world
    answer = await push(relay, body, secret=secret, ts=ts)
    assert answer.status_code == status and error in answer.json()["error"]
    assert (await relay.admin("runs"))["runs"] == []
    assert (await relay.admin("deliveries"))["deliveries"] == []
    unknown = await relay.client.post(f"{relay.url}/hooks/nope", content=b"{}")
    assert unknown.status_code == 404


async def test_receiver_down_then_up_gets_its_message(world: World) -> None:
    relay, slack, hook, mails = world
    hook.failures = [503, 503, 503]  # round 1 (2 tries) fails, round 2 fails once, then ok
    await push(relay, run("CRASHED", error={"message": "OOM"}))
    (h,) = await hook.wait_for(1)
    validate_payload(h.json())
    assert hook.answered == 4
    deliveries = (await relay.admin("deliveries"))["deliveries"]
    crm = next(d for d in deliveries if d["channel"] == "crm")
    await _wait_status(relay, crm["id"], "sent")
    detail = await relay.admin(f"deliveries/{crm['id']}")
    assert [a["reason"] for a in detail["attempt_log"]] == ["http_503", "http_503", "http_503", "ok"]
    assert [a["n"] for a in detail["attempt_log"]] == [1, 2, 3, 4]
    assert detail["rounds"] == 1  # one durable reschedule between the two rounds
    assert h.headers["webhook-id"] == crm["id"]


async def test_receiver_down_for_good_is_dead_lettered_then_replayed(world: World) -> None:
    relay, slack, hook, mails = world
    hook.always_fail = 503
    await push(relay, run("FAILED", error={"message": "bad input"}))
    crm = await _wait_channel(relay, "crm")
    await _wait_status(relay, crm, "dead")
    dead = (await relay.admin("deliveries?status=dead"))["deliveries"]
    assert [d["id"] for d in dead] == [crm] and "http_503" in dead[0]["last_error"]
    hook.always_fail = None
    replay = await relay.client.post(
        f"{relay.url}/admin/deliveries/{crm}/replay",
        headers={"authorization": "Bearer admin-token-for-tests"},
    )
    assert replay.status_code == 202
    (h,) = await hook.wait_for(1)
    validate_payload(h.json())
    assert h.json()["run"]["error"]["message"] == "bad input"
    await _wait_status(relay, crm, "sent")


async def test_admin_api_needs_the_token(world: World) -> None:
    relay, *_ = world
    assert (await relay.client.get(f"{relay.url}/admin/runs")).status_code == 401
    assert (await relay.client.get(f"{relay.url}/healthz")).json() == {"status": "ok"}
    ready = (await relay.client.get(f"{relay.url}/readyz")).json()
    assert ready["status"] == "ready" and ready["sources"]["recoup"]["polling"] is False
    metrics = (await relay.client.get(f"{relay.url}/metrics")).text
    assert "relay_snapshots_total" in metrics


async def test_preview_through_the_admin_api(world: World) -> None:
    relay, slack, hook, mails = world
    await push(relay, run("EXECUTING"))
    auth = {"authorization": "Bearer admin-token-for-tests"}
    by_id = await relay.client.post(
        f"{relay.url}/admin/preview", json={"rule": "failures", "run_id": "run_1"}, headers=auth
    )
    shown = by_id.json()
    assert by_id.status_code == 200 and shown["matches"] is False  # running: not a failure
    assert set(shown["channels"]) == {"slack", "crm", "mail"}
    assert shown["channels"]["crm"]["payload"]["run"]["status"] == "EXECUTING"
    pushed = await relay.client.post(
        f"{relay.url}/admin/preview",
        headers=auth,
        json={"rule": "video-ready", "run": run("COMPLETED", output={"videoSourceUrl": VIDEO})},
    )
    assert VIDEO in json.dumps(pushed.json()["channels"]["slack"]["payload"])
    unknown = await relay.client.post(
        f"{relay.url}/admin/preview", headers=auth, json={"rule": "video-ready", "run_id": "nope"}
    )
    assert unknown.status_code == 422 and "no run 'nope'" in unknown.json()["error"]
    assert (await relay.admin("deliveries"))["deliveries"] == []  # nothing was enqueued


async def test_a_silence_holds_matches_back_until_it_is_expired(world: World) -> None:
    relay, slack, hook, mails = world
    auth = {"authorization": "Bearer admin-token-for-tests"}
    bad = await relay.client.post(
        f"{relay.url}/admin/silences", headers=auth, json={"matchers": {"colour": "x"}, "duration": "1h"}
    )
    assert bad.status_code == 422 and "unknown matcher 'colour'" in bad.json()["error"]
    created = await relay.client.post(
        f"{relay.url}/admin/silences",
        headers=auth,
        json={
            "matchers": {"rule": "failures", "channel": "crm"},
            "duration": "1h",
            "comment": "crm migration",
        },
    )
    assert created.status_code == 201 and created.json()["active"]
    silence = created.json()["id"]
    await push(relay, run("FAILED", run_id="during", error={"message": "boom"}))
    await slack.wait_for(1)  # other channels of the rule are not muted
    held = (await relay.admin("deliveries?status=silenced"))["deliveries"]
    assert [(d["channel"], d["last_error"]) for d in held] == [("crm", f"silenced by {silence}")]
    listed = (await relay.admin("silences"))["silences"]
    assert [s["id"] for s in listed] == [silence] and listed[0]["comment"] == "crm migration"
    expired = await relay.client.delete(f"{relay.url}/admin/silences/{silence}", headers=auth)
    assert expired.status_code == 200 and (await relay.admin("silences"))["silences"] == []
    await push(relay, run("FAILED", run_id="after", error={"message": "boom"}))
    (h,) = await hook.wait_for(1)
    validate_payload(h.json())
    assert h.json()["run"]["id"] == "after"  # the silenced one was never sent


def _decoded(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _text(mail: Any) -> str:
    if mail.is_multipart():
        return "\n".join(
            part.get_payload(decode=True).decode()
            for part in mail.walk()
            if part.get_content_maintype() == "text"
        )
    return str(mail.get_payload(decode=True).decode())


async def _wait(condition: Any, timeout: float = 10.0) -> None:

    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


async def _wait_channel(relay: RunningRelay, channel: str) -> str:

    for _ in range(500):
        found = [d for d in (await relay.admin("deliveries"))["deliveries"] if d["channel"] == channel]
        if found:
            return str(found[0]["id"])
        await asyncio.sleep(0.01)
    raise AssertionError(f"no delivery for {channel}")


async def _wait_status(relay: RunningRelay, delivery_id: str, status: str) -> None:

    for _ in range(500):
        if (await relay.admin(f"deliveries/{delivery_id}"))["status"] == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"delivery {delivery_id} never became {status}")


async def _settle(relay: RunningRelay) -> None:
    """Until nothing is pending or sending: then counts are final."""

    for _ in range(500):
        states = {d["status"] for d in (await relay.admin("deliveries"))["deliveries"]}
        if states <= {"sent", "dead"}:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("deliveries never settled")
