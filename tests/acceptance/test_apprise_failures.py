"""A send that apprise reports as failed keeps its reason: the SMTP server's refusal or the
receiver's answer is on the attempt and the dead letter (apprise sends from its own worker
threads), with secrets masked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.harness import RunningRelay, running_relay
from tests.fakes.sinks import recording_sink, smtp_server

RECIPIENT = "ops-k7q2xw9@example.com"  # from the environment: a secret like any other there


def rules(channel: str) -> str:
    return f"""
sources:
  recoup: {{kind: recoup}}
channels:
  out: "{channel}"
rules:
  - name: failures
    match: {{phase: problem}}
    notify: [out]
delivery: {{schedule: [50ms], quick_tries: 1, timeout: 5s}}
"""


async def dead_delivery(relay: RunningRelay) -> dict[str, Any]:
    run = {
        "id": "run_1",
        "taskIdentifier": "create-content",
        "status": "FAILED",
        "createdAt": "2026-11-25T11:00:00Z",
        "updatedAt": "2026-11-25T12:00:00Z",
        "error": {"message": "boom"},
    }
    assert (await relay.client.post(f"{relay.url}/hooks/recoup", json=run)).status_code == 202
    for _ in range(500):
        dead = (await relay.admin("deliveries?status=dead"))["deliveries"]
        if dead:
            return await relay.admin(f"deliveries/{dead[0]['id']}")
        await asyncio.sleep(0.02)
    raise AssertionError("the delivery never became dead")


async def test_an_email_the_smtp_server_refuses_is_dead_with_the_refusal(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAIL_TO", RECIPIENT)
    async with smtp_server(refuse="550 mailbox unavailable") as (mails, port):
        config = tmp_path / "rules.yaml"
        config.write_text(
            rules(f"mailto://127.0.0.1:{port}?from=relay@example.com&to=${{MAIL_TO}}&mode=insecure")
        )
        async with running_relay(config, database_url) as relay:
            detail = await dead_delivery(relay)
    assert mails == []
    attempts = detail["attempt_log"]
    assert [a["reason"] for a in attempts] == ["apprise_failed", "apprise_failed"]
    for text in (*(a["excerpt"] for a in attempts), detail["last_error"]):
        assert "550" in text and "mailbox unavailable" in text, text
        assert RECIPIENT not in text and "***" in text, text


async def test_a_receiver_that_answers_500_to_apprise_is_dead_with_its_answer(
    tmp_path: Path, database_url: str
) -> None:
    async with recording_sink() as (sink, url):
        sink.always_fail = 500
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url.replace("http://", "json://") + "/hook/tok3n-in-path"))
        async with running_relay(config, database_url) as relay:
            detail = await dead_delivery(relay)
    assert sink.answered == 2
    for text in (detail["attempt_log"][-1]["excerpt"], detail["last_error"]):
        assert "500" in text and "sink says no" in text, text
