"""A rule's template that breaks at run time never costs the notification: the platform gets
its 202, the receiver gets the default message, and the operator sees why (admin API,
metric, one log line per rule)."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.acceptance.harness import RunningRelay, running_relay
from tests.fakes.sinks import RecordingSink, recording_sink

BROKEN = "{{ run.task + 1 }}"  # TypeError when rendered: not one of Jinja's own errors
Relay = tuple[RunningRelay, RecordingSink]


def rules(slack: str, body: str) -> str:
    return f"""
sources: {{recoup: {{kind: recoup}}}}
channels:
  slack: {{kind: slack, url: "{slack}/services/T0/B0/x"}}
rules:
  - name: broken-template
    match: {{phase: problem}}
    notify: [slack]
    template:
      title: "{{{{ run.task }}}} broke"
      body: "{body}"
"""


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler, logger = logging.StreamHandler(stream), logging.getLogger("relay")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.fixture
async def relay_with(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Relay]:
    async with recording_sink() as (slack, url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url, getattr(request, "param", BROKEN)))
        async with running_relay(config, database_url) as relay:
            yield relay, slack


def failed(run_id: str) -> dict[str, object]:
    return {
        "id": run_id,
        "taskIdentifier": "render",
        "status": "FAILED",
        "updatedAt": "2026-11-25T12:00:00Z",
        "error": {"message": "ffmpeg exited with code 1", "name": "RenderError"},
    }


async def template_errors(relay: RunningRelay) -> float:
    text = (await relay.client.get(f"{relay.url}/metrics")).text
    found = re.search(r'^relay_template_errors_total\{rule="broken-template"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_a_template_that_raises_sends_the_default_message(
    relay_with: Relay, logged: io.StringIO
) -> None:
    relay, slack = relay_with
    before = await template_errors(relay)

    answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=failed("run_1"))
    assert answer.status_code == 202 and answer.json()["deliveries"] == 1

    (received,) = await slack.wait_for(1)
    text = received.json()["text"]
    assert "render failed (recoup)" in text  # the default title, not "render broke"
    assert "RenderError: ffmpeg exited with code 1" in text
    (delivery,) = (await relay.admin("deliveries"))["deliveries"]
    detail = await relay.admin(f"deliveries/{delivery['id']}")
    assert detail["template_error"].startswith("TypeError: can only concatenate str")
    assert await template_errors(relay) == before + 1

    await relay.client.post(f"{relay.url}/hooks/recoup", json=failed("run_2"))
    await slack.wait_for(2)
    assert await template_errors(relay) == before + 2
    assert logged.getvalue().count("template_failed rule=broken-template") == 1  # once per rule


@pytest.mark.parametrize("relay_with", ["{{ 1 / 0 }}", "{{ run.__class__() }}"], indirect=True)
async def test_any_failure_of_a_template_falls_back(relay_with: Relay) -> None:
    relay, slack = relay_with
    answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=failed("run_1"))
    assert answer.status_code == 202
    (received,) = await slack.wait_for(1)
    assert "RenderError: ffmpeg exited with code 1" in received.json()["text"]
    for _ in range(100):  # the admin view is written with the delivery: no wait needed, bounded anyway
        (delivery,) = (await relay.admin("deliveries"))["deliveries"]
        if delivery["status"] == "sent":
            break
        await asyncio.sleep(0.01)
    detail = await relay.admin(f"deliveries/{delivery['id']}")
    assert detail["template_error"].split(":")[0] in {"ZeroDivisionError", "SecurityError"}
