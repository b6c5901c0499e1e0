"""A morning digest by real e-mail (aiosmtpd), across a restart in the middle of its window,
driven by a controllable clock: sent once, at the scheduled minute, with both parts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import Message as EmailMessage
from pathlib import Path

from relay.clock import FakeClock
from tests.acceptance.harness import RunningRelay, running_relay
from tests.fakes.sinks import smtp_server

NIGHT = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 00:30 in Berlin
VIDEO = "https://v3.fal.media/files/night/final.mp4"


def rules(smtp_port: int) -> str:
    return f"""
sources: {{recoup: {{kind: recoup}}}}
channels:
  mail: "mailto://127.0.0.1:{smtp_port}?from=relay@example.com&to=label@example.com&mode=insecure"
rules:
  - name: overnight
    match: {{phase: terminal}}
    notify: [mail]
    digest: {{cron: "0 9 * * *", tz: Europe/Berlin}}
"""


async def push(relay: RunningRelay, run_id: str, status: str, at: datetime, **extra: object) -> None:
    stamp = at.isoformat().replace("+00:00", "Z")
    body = {
        "id": run_id,
        "taskIdentifier": "create-content",
        "status": status,
        "updatedAt": stamp,
        "finishedAt": stamp,
        "durationMs": 95_000,
        **extra,
    }
    answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=body)
    assert answer.status_code == 202, answer.text


async def test_digest_is_sent_once_at_nine_berlin_time_across_a_restart(
    tmp_path: Path, database_url: str
) -> None:
    clock = FakeClock(NIGHT)
    async with smtp_server() as (mails, port):
        config, db = tmp_path / "rules.yaml", database_url  # the same database across the restarts
        config.write_text(rules(port))
        fast = {"scheduler_every": 0.02}
        async with running_relay(config, db, clock, **fast) as relay:
            await push(relay, "r1", "COMPLETED", NIGHT, output={"videoSourceUrl": VIDEO})
            clock.advance(3600)
            await push(relay, "r2", "CRASHED", clock.now(), error={"message": "Out of memory", "name": "OOM"})
            await asyncio.sleep(0.1)  # a few scheduler passes: the window is still open
            assert mails == []
        # the relay is down at 09:00 and comes back at 09:20: it catches up
        clock.current = datetime(2026, 11, 25, 8, 20, tzinfo=UTC)
        async with running_relay(config, db, clock, **fast) as relay:
            await _until(lambda: len(mails) == 1)
        async with running_relay(config, db, clock, **fast) as relay:
            await asyncio.sleep(0.1)  # passes of a third start find the window sent
            sent = (await relay.admin("deliveries"))["deliveries"]
        assert len(mails) == 1 and [d["status"] for d in sent] == ["sent"]
    mail = mails[0]
    assert mail["Subject"] == "Digest overnight: 1 crashed, 1 succeeded"
    parts = {p.get_content_type(): _text(p) for p in mail.walk() if p.get_content_maintype() == "text"}
    assert set(parts) == {"text/plain", "text/html"}
    assert "25 Nov 00:30" in parts["text/plain"] and "OOM: Out of memory" in parts["text/plain"]
    assert f'video <a href="{VIDEO}">{VIDEO}</a>' in parts["text/html"] and "<table" in parts["text/html"]
    assert VIDEO in parts["text/plain"]  # every link of the HTML part, spelled out


def _text(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
