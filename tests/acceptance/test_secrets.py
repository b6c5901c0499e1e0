"""Secrets from the environment never appear in logs, attempt records, API answers or CLI
output, even when a receiver echoes them back in an error: the shared conformance check every
channel kind passes (after Alertmanager's `AssertNotifyLeaksNoSecret`)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.acceptance.harness import RunningRelay, relay_cli_async, relay_log, running_relay
from tests.fakes.servers import serve

TOKEN = "sk_live_very_secret_token_42"
RUN = {"id": "r1", "taskIdentifier": "t", "status": "FAILED", "updatedAt": "2026-11-25T10:00:00Z"}


async def echo_error(request: Request) -> PlainTextResponse:
    # a careless receiver that repeats the URL (token included) in its 400 answer
    return PlainTextResponse(f"bad request to {request.url}", status_code=400)


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    with relay_log(logging.DEBUG) as stream:
        yield stream


async def test_a_secret_never_leaves_the_process(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, logged: io.StringIO
) -> None:
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    app = Starlette(routes=[Route("/{p:path}", echo_error, methods=["POST"])])
    async with serve(app) as url:
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources: {{recoup: {{kind: recoup}}}}
channels: {{crm: {{kind: webhook, url: "{url}/runs?token=${{CRM_TOKEN}}"}}}}
rules: [{{name: r, match: {{phase: terminal}}, notify: [crm]}}]
""")
        async with running_relay(config, database_url) as relay:
            await relay.client.post(f"{relay.url}/hooks/recoup", json=RUN)
            dead = await dead_letters(relay)
            detail = await relay.admin(f"deliveries/{dead[0]['id']}")
            assert "bad request to" in detail["last_error"]  # the receiver's words are kept...
            everything = str(detail) + logged.getvalue()
            assert "HTTP Request: POST" in everything  # the library logged the URL...
            assert TOKEN not in everything  # ...but never the secret
            assert "***" in detail["last_error"]


# -- every channel kind against a receiver that echoes its URL back ----------------------------


@dataclass(frozen=True)
class Kind:
    channel: str  # the channel in rules.yaml; its URL comes from ${HOOK_URL}
    url: str  # {host}: the receiver's host:port
    parts: tuple[str, ...]  # what must never appear, besides the URL itself
    kept: str  # what the relay still shows of the receiver's (or the library's) answer


KINDS = {
    "slack": Kind(
        "{kind: slack, url: '${HOOK_URL}'}",
        "http://{host}/services/T00FAKE00/B00FAKE00/FAKEtoken0FAKEtoken0FAKE",
        ("T00FAKE00", "B00FAKE00", "FAKEtoken0FAKEtoken0FAKE"),
        "no route for /services/***/***/***",
    ),
    "webhook": Kind(
        "{kind: webhook, url: '${HOOK_URL}'}",
        "http://{host}/hooks/runs/Wh7kL2mN9pQ4rS6t?token=tok-zyxwvutsrq",
        ("Wh7kL2mN9pQ4rS6t", "tok-zyxwvutsrq"),
        "no route for /hooks/runs/***",
    ),
    "apprise-json": Kind(
        "'${HOOK_URL}'",
        "json://relay:Pw-4e5f6a7b8c@{host}/inbox/Jn5kL8mP2qR4sT7v",
        ("Pw-4e5f6a7b8c", "Jn5kL8mP2qR4sT7v", base64.b64encode(b"relay:Pw-4e5f6a7b8c").decode()),
        "error=500",
    ),
    "apprise-form": Kind(
        "'${HOOK_URL}'",
        "form://relay:Pw-9d8c7b6a5f@{host}/inbox/Fm3nB5vC7xZ9aS2d",
        ("Pw-9d8c7b6a5f", "Fm3nB5vC7xZ9aS2d", base64.b64encode(b"relay:Pw-9d8c7b6a5f").decode()),
        "error=500",
    ),
}


class EchoingReceiver:
    """Answers 500 four times, each time echoing the request's URL in another spelling (whole,
    its path, its token and query alone, percent-encoded with the Authorization header), then
    400 with all of them."""

    def __init__(self) -> None:
        self.answered = 0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._answer, methods=["POST"])])

    async def _answer(self, request: Request) -> PlainTextResponse:
        url = str(request.url)
        echoes = [
            f"cannot deliver to {url}",
            f"no route for {request.url.path}",
            f"token {request.url.path.rsplit('/', 1)[-1]} revoked (query: {request.url.query})",
            f"see {quote(url, safe='')} auth={request.headers.get('authorization', '-')}",
        ]
        n, self.answered = self.answered, self.answered + 1
        if n < len(echoes):
            return PlainTextResponse(echoes[n], status_code=500)
        return PlainTextResponse(" | ".join(echoes), status_code=400)


@pytest.mark.parametrize("name", KINDS)
async def test_no_channel_kind_leaks_its_url_when_the_receiver_echoes_it(
    name: str, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, logged: io.StringIO
) -> None:
    kind, receiver = KINDS[name], EchoingReceiver()
    async with serve(receiver.app()) as base:
        secret_url = kind.url.format(host=base.removeprefix("http://"))
        monkeypatch.setenv("HOOK_URL", secret_url)
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources: {{recoup: {{kind: recoup}}}}
channels: {{hook: {kind.channel}}}
rules: [{{name: r, match: {{phase: terminal}}, notify: [hook]}}]
delivery: {{schedule: [10ms, 10ms, 10ms, 10ms], quick_tries: 1}}
""")
        async with running_relay(config, database_url) as relay:
            await relay.client.post(f"{relay.url}/hooks/recoup", json=RUN)
            dead = await dead_letters(relay)
            detail = await relay.admin(f"deliveries/{dead[0]['id']}")
            sources = await relay.admin("sources")
        listed = await relay_cli_async("deliveries", "--database", database_url)
    assert listed.returncode == 0, listed.stderr
    cli = listed.stdout + listed.stderr

    assert receiver.answered == 5 and len(detail["attempt_log"]) == 5  # every spelling was echoed
    answers = json.dumps([dead, detail, sources])
    assert kind.kept in answers  # the receiver's (or apprise's) words are kept, masked
    assert f"{dead[0]['id']}  dead" in cli and f"[{dead[0]['last_error']}]" in cli
    everything = answers + logged.getvalue() + cli
    for secret in (secret_url, quote(secret_url, safe=""), *kind.parts):
        assert secret not in everything, secret


async def test_apprise_logs_the_echoed_answer_masked(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, logged: io.StringIO
) -> None:
    receiver = EchoingReceiver()
    async with serve(receiver.app()) as base:
        monkeypatch.setenv("HOOK_URL", f"json://{base.removeprefix('http://')}/inbox/Qz8wX6cV4bN2mL0k")
        config = tmp_path / "rules.yaml"
        config.write_text("""
sources: {recoup: {kind: recoup}}
channels: {hook: "${HOOK_URL}"}
rules: [{name: r, match: {phase: terminal}, notify: [hook]}]
delivery: {schedule: [10ms], quick_tries: 1}
""")
        async with running_relay(config, database_url) as relay:
            await relay.client.post(f"{relay.url}/hooks/recoup", json=RUN)
            await dead_letters(relay)
    written = logged.getvalue()
    assert "Response Details" in written and "cannot deliver to http" in written  # logged...
    assert "/inbox/***" in written and "Qz8wX6cV4bN2mL0k" not in written  # ...masked


async def test_source_credentials_stay_out_of_errors_and_readyz_shows_no_urls(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, logged: io.StringIO
) -> None:
    async def refuse(request: Request) -> PlainTextResponse:
        auth = request.headers.get("authorization", "-")
        return PlainTextResponse(f"no access for {request.url} with {auth}", status_code=500)

    app = Starlette(routes=[Route("/{p:path}", refuse)])
    async with serve(app) as base:
        host = base.removeprefix("http://")
        monkeypatch.setenv("RECOUP_BASE_URL", f"http://reader:Rp-9a8b7c6d5e@{host}/api")
        config = tmp_path / "rules.yaml"
        config.write_text("""
sources:
  recoup: {kind: recoup, base_url: "${RECOUP_BASE_URL}", api_key: rk-not-the-point-1234, poll_every: 50ms}
channels: {console: {kind: console}}
rules: [{name: r, match: {phase: terminal}, notify: [console]}]
""")
        async with running_relay(config, database_url) as relay:
            for _ in range(500):
                sources = (await relay.admin("sources"))["sources"]
                if "no access" in (sources["recoup"]["last_error"] or ""):  # ours, not a stale one
                    break
                await asyncio.sleep(0.01)
            ready = (await relay.client.get(f"{relay.url}/readyz")).json()
    error = sources["recoup"]["last_error"]
    assert "HTTP 500: no access for http://" in error and "***" in error
    basic = base64.b64encode(b"reader:Rp-9a8b7c6d5e").decode()
    everything = json.dumps([sources, ready]) + logged.getvalue()
    assert "Rp-9a8b7c6d5e" not in everything and basic not in everything
    shown = ready["sources"]["recoup"]
    assert ready["status"] == "ready" and shown["polling"] is True and shown["consecutive_failures"] >= 1
    assert set(shown) == {"kind", "enabled", "polling", "consecutive_failures"}  # no error text
    assert host not in json.dumps(ready)


async def dead_letters(relay: RunningRelay) -> list[dict[str, Any]]:
    for _ in range(500):
        dead: list[dict[str, Any]] = (await relay.admin("deliveries?status=dead"))["deliveries"]
        if dead:
            return dead
        await asyncio.sleep(0.01)
    raise AssertionError("the delivery never became a dead letter")
