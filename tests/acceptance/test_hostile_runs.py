"""Runs whose every text field is hostile, pushed into the running relay over HTTP: what each
kind of receiver gets (a Slack-style sink, a webhook sink, real SMTP through apprise, the
console). Run data never becomes a mention, a link, markup or a header; limits hold; a group
too large to show says how many it left out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from relay.clock import FakeClock
from relay.render.escape import web_url
from tests import checks
from tests.acceptance.harness import RunningRelay, relay_cli, running_relay
from tests.checks import assert_slack_safe, html_links, slack_links, validate_payload
from tests.fakes.sinks import recording_sink, smtp_server

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# a NUL never gets this far: ingest answers 400 (tests/acceptance/test_bad_input.py); that the
# channels drop it too is shown in tests/unit/test_formats.py
HOSTILE = checks.HOSTILE.replace("\x00", "")
HUGE = "A" * 1_000_000
PAGE = "https://runs.example.com/r/{run_id}"
VIDEO = "https://v3.fal.media/files/x/final.mp4?sig=a|b<c>&d=1"
VETTED_VIDEO = "https://v3.fal.media/files/x/final.mp4?sig=a%7Cb%3Cc%3E&d=1"
IDS = ("fail_<!channel>|1", "done_<@U123>", "video_<!here>")
PAGES_BY_ID = {i: str(web_url(PAGE.format(run_id=quote(i, safe="")))) for i in IDS}
PAGES = set(PAGES_BY_ID.values())
BURST_PAGES = {PAGE.format(run_id=f"burst_{n}") for n in range(60)}


def rules(slack: str, hook: str, smtp_port: int) -> str:
    notify = "notify: [slack, crm, mail, console]\n    first_seen: always"
    return f"""
sources:
  recoup: {{kind: recoup, run_url: "{PAGE}"}}
channels:
  slack: {{kind: slack, url: "{slack}/services/T0/B0/x"}}
  crm: {{kind: webhook, url: "{hook}/runs"}}
  mail: "mailto://127.0.0.1:{smtp_port}?from=relay@example.com&to=team@example.com&mode=insecure"
  console: {{kind: console}}
rules:
  - name: hostile
    match: {{task: "create-content*"}}
    {notify}
  - name: burst
    match: {{task: burst}}
    {notify}
    group_window: 1m
"""


def run(run_id: str, status: str, task: str = "create-content" + HOSTILE, **extra: Any) -> dict[str, Any]:
    stamp = "2026-11-25T11:59:00Z"
    base = {"id": run_id, "taskIdentifier": task, "status": status, "updatedAt": stamp, "finishedAt": stamp}
    return base | extra


def hostile_runs() -> list[dict[str, Any]]:
    """One 1 MB field per run: aiohttp warns about request bodies over 1 MiB, and tests make
    warnings errors (a warning only, in production)."""
    output = {"captionText": HOSTILE, "template": HOSTILE, "audio": {"songTitle": HOSTILE}}
    return [
        run(IDS[0], "FAILED", error={"message": HOSTILE + HUGE, "name": HOSTILE}),
        run(
            IDS[1],
            "COMPLETED",
            output=output
            | {"captionText": HOSTILE + HUGE, "videoSourceUrl": "Data:video/mp4;base64,AAAA"}
            | {"imageUrl": "DATA:image/png;base64,AAAA"},
        ),
        run(
            IDS[2],
            "COMPLETED",
            output=output
            | {"template": HOSTILE + HUGE, "videoSourceUrl": "javascript:alert(1)"}
            | {"video": {"signedUrl": VIDEO}, "imageUrl": "JavaScript:alert(1)"},
        ),
    ]


async def push(relay: RunningRelay, body: dict[str, Any]) -> None:
    answer = await relay.client.post(f"{relay.url}/hooks/recoup", content=json.dumps(body).encode())
    assert answer.status_code == 202, answer.text


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_hostile_runs_reach_every_receiver_harmless(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three hostile runs and a burst of 60, through every channel (one relay for all four
    checks: it takes a while to push 2 MB and 60 runs)."""
    clock = FakeClock(NOW)
    async with (
        recording_sink() as (slack, slack_url),
        recording_sink() as (hook, hook_url),
        smtp_server() as (mails, smtp_port),
    ):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(slack_url, hook_url, smtp_port))
        async with running_relay(config, database_url, clock, max_body_bytes=8 << 20) as relay:
            for body in hostile_runs():
                await push(relay, body)
            for n in range(60):
                await push(relay, run(f"burst_{n}", "COMPLETED", task="burst"))
            await until(lambda: len(slack.received) == 3 and len(hook.received) == 3 and len(mails) == 3)
            clock.advance(61)  # the burst's group window closes
            await until(lambda: len(slack.received) == 4 and len(hook.received) == 4 and len(mails) == 4)
    check_slack([r.json() for r in slack.received])
    check_webhook([r.json() for r in hook.received])
    check_mail(mails)
    check_console(capsys.readouterr().out)


def check_slack(received: list[dict[str, Any]]) -> None:
    """No mention, no link but the vetted ones, within limits, the code block closed."""
    *single, group = received
    for payload in single:
        assert_slack_safe(payload, PAGES | {VETTED_VIDEO})
    assert set.union(*(slack_links(p) for p in single)) == PAGES | {VETTED_VIDEO}
    failed = next(p for p in single if "```" in json.dumps(p))
    code = next(b["text"]["text"] for b in failed["blocks"] if b["text"]["text"].startswith("```"))
    assert code.endswith("…```") and "&lt;!channel&gt;" in code  # cut, escaped, closed
    assert_slack_safe(group, BURST_PAGES)
    assert len(slack_links(group)) == 50
    assert group["blocks"][-1]["text"]["text"] == "… and 10 more"
    note, *listed, more = group["text"].splitlines()[1:]  # the fallback lists fewer, and counts the rest
    assert note.startswith("+59 more since ") and note.endswith(" UTC (grouped)")  # suppressed counts
    assert len(listed) + int(more.removeprefix("… and ").removesuffix(" more")) == 60


def check_webhook(received: list[dict[str, Any]]) -> None:
    """The data, as documented, with no data: URL and only web links."""
    *single, group = received
    for payload in [*single, group]:
        validate_payload(payload)
    by_id = {p["run"]["id"]: p for p in single}
    assert by_id[IDS[0]]["run"]["error"]["message"] == HOSTILE + HUGE  # the data itself, untouched
    assert by_id[IDS[1]]["run"]["video_url"] is None and by_id[IDS[1]]["run"]["inline_video_bytes"] == 3
    assert by_id[IDS[2]]["run"]["video_url"] == VETTED_VIDEO
    assert by_id[IDS[2]]["message"]["links"] == [{"label": "Video", "url": VETTED_VIDEO}]
    for payload in single:
        assert "data:" not in json.dumps(payload["run"]["output"]).lower()
    assert group["count"] == 60 and len(group["items"]) == 60


def check_mail(received: list[EmailMessage]) -> None:
    """One clean subject, no injected header, every link in both parts."""
    *single, group = received
    for mail in received:
        subject = str(make_header(decode_header(mail["Subject"])))
        assert len(subject) <= 200 and not any(c in subject for c in "\r\n\x00\x1b")
        assert mail["Bcc"] is None and mail.get_all("To") == ["team@example.com"]
        html, text = _part(mail, "text/html"), _part(mail, "text/plain")
        assert "<script" not in html and "javascript:" not in html.replace("javascript:alert", "")
        assert html_links(html) <= PAGES | BURST_PAGES | {VETTED_VIDEO}
        for link in html_links(html):
            assert link.replace("&amp;", "&") in text  # the text part spells out every link
    video = next(m for m in single if VETTED_VIDEO in _part(m, "text/plain"))
    assert html_links(_part(video, "text/html")) == {VETTED_VIDEO, PAGES_BY_ID[IDS[2]]}
    for part in ("text/html", "text/plain"):
        assert "… and 10 more" in _part(group, part)


def check_console(out: str) -> None:
    """No control character, no line that fakes a message."""
    assert not any(c in out for c in "\r\x00\x1b")
    lines = out.splitlines()
    assert sum(line.startswith("[console] ") for line in lines) == 4
    assert all(line.startswith(("[console] ", "  ")) for line in lines)
    assert "  … and 10 more" in lines


def _part(mail: EmailMessage, kind: str) -> str:
    (part,) = [p for p in mail.walk() if p.get_content_type() == kind]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


CHAT_RULES = """
sources:
  recoup: {{kind: recoup}}
channels:
  chat: "{chat}"
  console: {{kind: console}}
rules:
  - name: hostile
    match: {{phase: problem}}
    notify: [chat, console]
    first_seen: always
"""
MENTIONS = "@everyone @here @channel <@U123> <!here> <#C1>"


async def test_chat_services_behind_apprise_get_no_mention_and_the_cli_no_control(
    tmp_path: Path, database_url: str
) -> None:
    """A chat service apprise sends to as text (here its JSON plugin) cannot be escaped for:
    every mention reaches it broken (it reads the same, pings nobody). `relay deliveries`
    shows a title on one line, without the terminal escapes a run put in it."""
    async with recording_sink() as (chat, url):
        config = tmp_path / "rules.yaml"
        config.write_text(CHAT_RULES.format(chat=url.replace("http://", "json://") + "/hook"))
        async with running_relay(config, database_url) as relay:
            task = f"nightly {MENTIONS}\x1b[2J\r\n"
            await push(relay, run("run_1", "FAILED", task=task, error={"message": MENTIONS}))
            await until(lambda: len(chat.received) == 1)
    sent = chat.received[0].json()
    assert sent["title"].startswith("nightly @\u200beveryone")
    for text in (sent["title"], sent["message"]):
        assert "@\u200beveryone" in text and "<\u200b@U123>" in text
        for mention in MENTIONS.split():
            assert mention not in text, (mention, text)
    listing = relay_cli("deliveries", "--database", database_url)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()  # one per delivery: chat and console
    assert len(lines) == 2 and all(line.endswith("[2J failed (recoup)") for line in lines)
    assert "\x1b" not in listing.stdout and "\r" not in listing.stdout
