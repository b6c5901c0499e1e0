"""A run's error quoting an API key, a JWT and a URL with its password: Slack, a signed webhook
and the log get the run with those masked, and say so; a rule with `redact: false` passes the
run through as the platform sent it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.acceptance.harness import RunningRelay, relay_log, running_relay
from tests.fakes.sinks import RecordingSink, recording_sink

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "webhook-payload.schema.json").read_text())
API_KEY = "sk-fake-0000placeholder00"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.fake-signature-not-real"
PASSWORD = "pw-Hunter2"
SECRETS = (API_KEY, JWT, PASSWORD)
World = tuple[RunningRelay, RecordingSink, RecordingSink]


def rules(slack: str, hook: str) -> str:
    return f"""
sources: {{recoup: {{kind: recoup}}}}
channels:
  slack: {{kind: slack, url: "{slack}/services/T0/B0/x"}}
  crm: {{kind: webhook, url: "{hook}/crm"}}
  raw: {{kind: webhook, url: "{hook}/raw"}}
rules:
  - name: failures
    match: {{phase: problem}}
    notify: [slack, crm]
  - name: raw-failures
    match: {{phase: problem}}
    notify: [raw]
    redact: false
"""


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    with relay_log(logging.INFO) as stream:
        yield stream


@pytest.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    async with recording_sink() as (slack, slack_url), recording_sink() as (hook, hook_url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(slack_url, hook_url))
        async with running_relay(config, database_url) as relay:
            yield relay, slack, hook


def failed_run() -> dict[str, object]:
    return {
        "id": "run_1",
        "taskIdentifier": f"sync-{API_KEY}",  # a task named after its key: logged too
        "status": "FAILED",
        "updatedAt": "2026-11-25T12:00:00Z",
        "error": {
            "name": "HTTPError",
            "message": f"401 from https://sync:{PASSWORD}@api.example.com/x with key {API_KEY}",
            "stackTrace": f"at call (Authorization: Bearer {JWT})",
        },
        "output": {"session": JWT},
    }


async def test_secrets_in_a_run_never_reach_a_channel_unless_a_rule_says_so(
    world: World, logged: io.StringIO
) -> None:
    relay, slack, hook = world
    answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=failed_run())
    assert answer.status_code == 202 and answer.json()["deliveries"] == 3

    (to_slack,) = await slack.wait_for(1)
    text = to_slack.body.decode()
    assert "https://***@api.example.com/x" in text and "sk-***" in text
    assert "Some values were redacted (secrets)." in text

    received = {r.path: r for r in await hook.wait_for(2)}
    crm, raw = received["/crm"].json(), received["/raw"].json()
    jsonschema.validate(crm, SCHEMA)
    jsonschema.validate(raw, SCHEMA)
    assert crm["redacted"] is True and raw["redacted"] is False
    assert crm["run"]["output"] == {"session": "eyJ***"}
    assert crm["run"]["error"]["message"] == "401 from https://***@api.example.com/x with key sk-***"
    assert "Some values were redacted (secrets)." in crm["message"]["body"]

    masked = to_slack.body.decode() + received["/crm"].body.decode() + logged.getvalue()
    assert "transition_observed source=recoup run=run_1 task=sync-sk-***" in logged.getvalue()
    for secret in SECRETS:
        assert secret not in masked
    assert raw["run"]["output"] == {"session": JWT}  # redact: false: as the platform sent it
    assert raw["run"]["error"]["message"] == failed_run()["error"]["message"]  # type: ignore[index]
    assert "redacted" not in raw["message"]["body"]


async def test_a_preview_shows_what_would_be_sent_masked(world: World) -> None:
    relay, *_ = world
    answer = await relay.client.post(
        f"{relay.url}/admin/preview",
        json={"rule": "failures", "run": failed_run()},
        headers={"authorization": "Bearer admin-token-for-tests"},
    )
    shown = json.dumps(answer.json())
    assert answer.status_code == 200 and "sk-***" in shown
    assert not any(secret in shown for secret in SECRETS)
