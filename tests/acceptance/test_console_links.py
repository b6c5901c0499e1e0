"""Timeline: a failing run arrives -> its Slack message and webhook payload carry a signed link
to the run's page in the console -> an operator follows it, signs in, and lands on that page.
A link changed by hand is refused. Without RELAY_PUBLIC_URL no message says a word of it."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx2 as httpx
import pytest

from tests.acceptance.harness import ADMIN_TOKEN, RunningRelay, running_relay
from tests.checks import validate_payload
from tests.fakes.sinks import RecordingSink, recording_sink

PUBLIC = "https://relay.example.com/ops"  # behind a reverse proxy, under a path
RUN_ID = "run/ü 1?x=<b>#frag"  # a platform's id: slash, query, fragment, markup, non-ASCII
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
NEXT = re.compile(r'name="next" value="([^"]*)"')

World = tuple[RunningRelay, RecordingSink, RecordingSink]


def rules(slack: str, hook: str) -> str:
    return f"""
sources:
  recoup: {{kind: recoup}}
channels:
  slack: {{kind: slack, url: "{slack}/services/T0/B0/x"}}
  crm: {{kind: webhook, url: "{hook}/runs"}}
rules:
  - name: failures
    match: {{phase: problem}}
    notify: [slack, crm]
delivery:
  schedule: [100ms]
  quick_tries: 1
  quick_wait: 10ms
  timeout: 2s
"""


@pytest.fixture
async def world(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    overrides: dict[str, Any] = getattr(request, "param", {"public_url": PUBLIC})
    async with recording_sink() as (slack, slack_url), recording_sink() as (hook, hook_url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(slack_url, hook_url))
        async with running_relay(config, database_url, **overrides) as relay:
            yield relay, slack, hook


async def fail(relay: RunningRelay, run_id: str = RUN_ID) -> None:
    body = {
        "id": run_id,
        "taskIdentifier": "nightly-report",
        "status": "FAILED",
        "createdAt": "2026-11-25T11:00:00Z",
        "updatedAt": "2026-11-25T12:00:00Z",
        "error": {"message": "quota exceeded", "name": "Error"},
    }
    answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=body)
    assert answer.status_code == 202, answer.text


def local(relay: RunningRelay, link: str) -> str:
    """The link as the reverse proxy in front of the relay would pass it on."""
    assert link.startswith(PUBLIC + "/console/runs/")
    return relay.url + link.removeprefix(PUBLIC)


async def test_a_failing_run_links_its_console_page_through_sign_in(world: World) -> None:
    relay, slack, hook = world
    await fail(relay)

    (s,) = await slack.wait_for(1)
    footer = s.json()["blocks"][-1]["elements"][0]["text"]
    found = re.fullmatch(r"<([^|]+)\|Replay or silence in the relay console>", footer)
    assert found, footer
    link = found.group(1).replace("&amp;", "&")
    (h,) = await hook.wait_for(1)
    validate_payload(h.json())
    assert h.json()["message"]["console_url"] == link
    path = urlsplit(link).path
    assert path.count("/") == len(["", "ops", "console", "runs", "recoup", ""]) - 1  # the id is one segment
    assert "#" not in link and "<" not in link and " " not in link

    async with httpx.AsyncClient(timeout=10) as browser:  # an operator not signed in yet
        first = await browser.get(local(relay, link))
        assert first.status_code == 303
        signin = await browser.get(relay.url + first.headers["location"])
        (csrf,) = CSRF.findall(signin.text)
        (target,) = NEXT.findall(signin.text)
        answer = await browser.post(
            f"{relay.url}/console/signin",
            data={"csrf": csrf, "token": ADMIN_TOKEN, "next": html.unescape(target)},
        )
        assert answer.status_code == 303
        back = answer.headers["location"]
        wanted = urlsplit(local(relay, link))
        assert (unquote(urlsplit(back).path), urlsplit(back).query) == (unquote(wanted.path), wanted.query)
        page = await browser.get(relay.url + back)
        assert page.status_code == 200
        assert "nightly-report" in page.text and "quota exceeded" in page.text
        assert "Replay" in page.text or "replay" in page.text

        for tampered in (_changed_sig(link), link.replace("run%2F", "run%2G"), _other_run(link)):
            refused = await browser.get(local(relay, tampered))
            assert refused.status_code in (403, 404), tampered
            assert "quota exceeded" not in refused.text


def _changed_sig(link: str) -> str:
    last = link[-1]
    return link[:-1] + ("0" if last != "0" else "1")


def _other_run(link: str) -> str:
    """The same signature on another run's address."""
    base, sig = link.split("?")
    return base + "2?" + sig


@pytest.mark.parametrize("world", [{}], indirect=True)
async def test_without_a_public_url_messages_carry_no_console_link(world: World) -> None:
    relay, slack, hook = world
    await fail(relay, "run_1")
    (s,) = await slack.wait_for(1)
    (h,) = await hook.wait_for(1)
    assert "console" not in s.body.decode() and "console" not in h.body.decode()
    assert set(h.json()["message"]) == {"title", "body", "link", "error", "links"}
    assert "context" not in [b["type"] for b in s.json()["blocks"]]  # no footer of links at all
