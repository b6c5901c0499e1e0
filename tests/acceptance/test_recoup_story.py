"""The user story of issue 2, as a timeline: a Recoup user sets an API key and a Slack
webhook, runs the relay, and hears about their runs on Slack and by e-mail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message as EmailMessage
from pathlib import Path

import pytest

from tests.acceptance.harness import RunningRelay, running_relay
from tests.fakes.recoup_api import FakeRecoupApi
from tests.fakes.sinks import RecordingSink, recording_sink, smtp_server

KEY = "placeholder-recoup-key-story_0123456789"
VIDEO = "https://v3.fal.media/files/story/final.mp4"


@dataclass
class Story:
    recoup: FakeRecoupApi
    relay: RunningRelay
    slack: RecordingSink
    mails: list[EmailMessage]


@pytest.fixture
async def story(tmp_path: Path, database_url: str) -> AsyncIterator[Story]:
    async with (
        FakeRecoupApi(api_key=KEY) as recoup,
        recording_sink() as (slack, slack_url),
        smtp_server() as (mails, smtp_port),
    ):
        recoup.put_run("run_old", status="COMPLETED", output={"videoSourceUrl": VIDEO})  # history
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources:
  recoup: {{kind: recoup, base_url: "{recoup.base_url}", api_key: "{KEY}", poll_every: 100ms}}
channels:
  slack: {{kind: slack, url: "{slack_url}/services/T/B/X"}}
  email: "mailto://127.0.0.1:{smtp_port}?from=relay@example.com&to=label@example.com&mode=insecure"
rules:
  - {{name: video-ready, match: {{task: create-content, status: COMPLETED}}, notify: [slack, email]}}
  - {{name: failures, match: {{phase: problem}}, notify: [slack, email]}}
""")
        async with running_relay(config, database_url) as relay:
            yield Story(recoup, relay, slack, mails)


async def test_completed_and_failed_runs_reach_slack_and_email(story: Story) -> None:
    await _until(lambda: len(story.recoup.list_requests()) >= 2)  # history seen, not notified
    story.recoup.put_run("run_new", status="EXECUTING")
    story.recoup.put_run("run_bad", task="create-video", status="EXECUTING")
    await _until(lambda: len(story.recoup.list_requests()) >= 4)
    story.recoup.set_status("run_new", "COMPLETED", output={"videoSourceUrl": VIDEO, "captionText": "hi"})
    story.recoup.set_status("run_bad", "CRASHED", error={"message": "Out of memory", "name": "OOMError"})

    messages = await story.slack.wait_for(2)
    texts = sorted(json.dumps(m.json()) for m in messages)
    assert any(VIDEO in t and "create-content completed" in t for t in texts)
    assert any("OOMError: Out of memory" in t and "create-video crashed" in t for t in texts)
    await _until(lambda: len(story.mails) == 2)
    subjects = sorted(str(m["Subject"]) for m in story.mails)
    assert subjects == ["create-content completed (recoup)", "create-video crashed (recoup)"]
    # the week of history the first poll found was recorded, not announced
    assert all("run_old" not in t for t in texts)
    runs = {r["id"]: r["status"] for r in (await story.relay.admin("runs"))["runs"]}
    assert runs == {"run_old": "COMPLETED", "run_new": "COMPLETED", "run_bad": "CRASHED"}
    # nothing more after more polls: each transition was notified exactly once
    polls = len(story.recoup.list_requests())
    await _until(lambda: len(story.recoup.list_requests()) >= polls + 3)
    assert len(story.slack.received) == 2 and len(story.mails) == 2


async def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_source_health_in_admin_api_and_metrics(story: Story) -> None:
    await _until(lambda: len(story.recoup.list_requests()) >= 1)
    # the first cycle ends after its ingest (health is this relay's own, nothing carried over
    # from another test's relay)
    async with asyncio.timeout(10):
        while not (await story.relay.admin("sources"))["sources"]["recoup"]["last_success_at"]:
            await asyncio.sleep(0.05)
    healthy = (await story.relay.admin("sources"))["sources"]["recoup"]
    assert healthy["polling"] and healthy["last_success_at"] and healthy["consecutive_failures"] == 0
    assert healthy["lag_seconds"] is not None and healthy["lag_seconds"] < 5

    story.recoup.fail_next(100, status=503)
    await _until_failures(story, 2)
    failing = (await story.relay.admin("sources"))["sources"]["recoup"]
    assert "503" in failing["last_error"] and KEY not in failing["last_error"]
    metrics = (await story.relay.client.get(f"{story.relay.url}/metrics")).text
    assert 'relay_source_consecutive_failures{source="recoup"}' in metrics
    assert 'relay_polls_total{outcome="error",source="recoup"}' in metrics


async def _until_failures(story: Story, count: int) -> None:
    async with asyncio.timeout(10):
        while (await story.relay.admin("sources"))["sources"]["recoup"]["consecutive_failures"] < count:
            await asyncio.sleep(0.05)
