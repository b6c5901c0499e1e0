"""Secrets from the environment never appear in logs, attempt records or API answers,
even when a receiver echoes them back in an error."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from relay.observability import log_handler
from tests.acceptance.harness import running_relay
from tests.fakes.servers import serve

TOKEN = "sk_live_very_secret_token_42"


async def echo_error(request: Request) -> PlainTextResponse:
    # a careless receiver that repeats the URL (token included) in its 400 answer
    return PlainTextResponse(f"bad request to {request.url}", status_code=400)


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What the relay's log handler writes, at DEBUG, libraries included."""
    stream = io.StringIO()
    handler, root = log_handler(stream), logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_a_secret_never_leaves_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logged: io.StringIO
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
        async with running_relay(config, tmp_path / "relay.db") as relay:
            await relay.client.post(
                f"{relay.url}/hooks/recoup",
                json={
                    "id": "r1",
                    "taskIdentifier": "t",
                    "status": "FAILED",
                    "updatedAt": "2026-11-25T10:00:00Z",
                },
            )
            for _ in range(300):
                dead = (await relay.admin("deliveries?status=dead"))["deliveries"]
                if dead:
                    break
                await __import__("asyncio").sleep(0.01)
            assert dead, "a 400 is permanent: the delivery is dead at once"
            detail = await relay.admin(f"deliveries/{dead[0]['id']}")
            assert "bad request to" in detail["last_error"]  # the receiver's words are kept...
            everything = str(detail) + logged.getvalue()
            assert "HTTP Request: POST" in everything  # the library logged the URL...
            assert TOKEN not in everything  # ...but never the secret
            assert "***" in detail["last_error"]
