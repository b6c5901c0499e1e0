"""Standard Webhooks both ways, checked by the reference library (PyPI `standardwebhooks`): a
secret written with or without `whsec_`, with or without base64 padding, is one key, and
while secrets rotate any of them signs or verifies."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.acceptance.harness import RunningRelay, running_relay
from tests.fakes.sinks import RecordingSink, recording_sink


def forms(raw: bytes) -> dict[str, str]:
    """The four ways to write one secret."""
    padded = base64.b64encode(raw).decode()
    assert padded.endswith("=")  # else the unpadded forms would test nothing
    return {
        "prefixed": "whsec_" + padded,
        "prefixed-unpadded": "whsec_" + padded.rstrip("="),
        "bare": padded,
        "bare-unpadded": padded.rstrip("="),
    }


CURRENT_KEY, PREVIOUS_KEY = b"current-key:\x00\x01\xfe\xff-31-bytes-long!", b"previous-key, binary \x80\x81"
CURRENT, PREVIOUS = forms(CURRENT_KEY), forms(PREVIOUS_KEY)
WRONG = "whsec_" + base64.b64encode(b"a key nobody configured").decode()
# per channel: the keys it signs with, and how its rules.yaml writes them (rotating: two keys)
CHANNELS = {
    **{name: [(CURRENT_KEY, secret)] for name, secret in CURRENT.items()},
    "rotating": [(CURRENT_KEY, CURRENT["bare-unpadded"]), (PREVIOUS_KEY, PREVIOUS["prefixed"])],
}


def rules(hook: str) -> str:
    sources = "".join(  # one source per form of the current secret, the previous one beside it
        f"  {name}:\n    kind: recoup\n    webhook_secret:\n      - '{secret}'\n      - '{PREVIOUS[name]}'\n"
        for name, secret in CURRENT.items()
    )
    channels = "".join(
        f"  {name}: {{kind: webhook, url: '{hook}/{name}', secret: {json.dumps([s for _, s in keys])}}}\n"
        for name, keys in CHANNELS.items()
    )
    return f"""
sources:
{sources}
channels:
{channels}
rules:
  - name: everything-done
    match: {{phase: succeeded}}
    notify: {json.dumps(list(CHANNELS))}
delivery: {{schedule: [100ms], quick_tries: 1, timeout: 2s}}
"""


def run(run_id: str) -> bytes:
    return json.dumps(
        {
            "id": run_id,
            "taskIdentifier": "create-content",
            "status": "COMPLETED",
            "createdAt": "2026-11-25T11:00:00Z",
            "updatedAt": "2026-11-25T12:00:00Z",
            "finishedAt": "2026-11-25T12:00:00Z",
        }
    ).encode()


def signed_by_reference(secret: str, body: bytes) -> dict[str, str]:
    msg_id, now = f"msg_{abs(hash(body))}", datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
        "content-type": "application/json",
    }


@pytest.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[RunningRelay, RecordingSink]]:
    async with recording_sink() as (hook, hook_url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(hook_url))
        async with running_relay(config, database_url) as relay:
            yield relay, hook


async def post(relay: RunningRelay, source: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await relay.client.post(f"{relay.url}/hooks/{source}", content=body, headers=headers)


async def test_outbound_signatures_verify_with_the_reference_for_every_configured_secret(
    world: tuple[RunningRelay, RecordingSink],
) -> None:
    relay, hook = world
    body = run("run_out")
    assert (await post(relay, "bare", body, signed_by_reference(CURRENT["bare"], body))).status_code == 202
    received = {r.path.strip("/"): r for r in await hook.wait_for(len(CHANNELS))}
    assert set(received) == set(CHANNELS)
    for channel, keys in CHANNELS.items():
        message = received[channel]
        assert message.headers["webhook-signature"].count("v1,") == len(keys)
        for key, _ in keys:  # a receiver holding any rotation secret, written in any form
            for form in forms(key).values():
                payload = Webhook(form).verify(message.body, message.headers)
                assert payload["run"]["id"] == "run_out"
        with pytest.raises(WebhookVerificationError):
            Webhook(WRONG).verify(message.body, message.headers)


async def test_inbound_signed_by_the_reference_with_any_form_or_rotation_secret_is_accepted(
    world: tuple[RunningRelay, RecordingSink],
) -> None:
    relay, _ = world
    signers = {
        **{f"current {k}": v for k, v in CURRENT.items()},
        **{f"previous {k}": v for k, v in PREVIOUS.items()},
    }
    for source in CURRENT:  # each source holds its secrets in one form; any form signs
        for label, secret in signers.items():
            body = run(f"run_{source}_{label.replace(' ', '_')}")
            answer = await post(relay, source, body, signed_by_reference(secret, body))
            assert answer.status_code == 202, (source, label, answer.text)
            assert answer.json()["accepted"] == 1
    stored = {r["id"] for r in (await relay.admin("runs?limit=500"))["runs"]}
    assert len(stored) == len(CURRENT) * len(signers)


async def test_inbound_signed_with_a_secret_not_configured_is_refused_and_nothing_stored(
    world: tuple[RunningRelay, RecordingSink],
) -> None:
    relay, hook = world
    for source in CURRENT:
        body = run(f"run_wrong_{source}")
        answer = await post(relay, source, body, signed_by_reference(WRONG, body))
        assert answer.status_code == 401 and "no signature matches" in answer.json()["error"]
    assert (await relay.admin("runs"))["runs"] == []
    assert (await relay.admin("deliveries"))["deliveries"] == []
    assert hook.answered == 0
