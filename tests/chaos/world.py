"""What the replicas talk to, all in the driver's process and on one monotonic clock: a fake
Recoup API that logs each poll request (user-agent, arrival, answer) and a webhook sink that
logs each delivery (its `webhook-id`, arrival, payload)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.chaos.checks import PollRequest, Received
from tests.fakes.sinks import RecordingSink

PUSHED, POLLED = "pushed", "polled"  # the two sources of rules.yaml
DONE, DIGEST = "done", "digest"  # its two rules
API_KEY = "placeholder-recoup-key-chaos_0123456789"
DIGEST_CRON = "* * * * * */5"  # croniter's sixth field is seconds: a window every 5 s


class RequestLog:
    """ASGI middleware: every HTTP request's user-agent, arrival and end of its answer."""

    def __init__(self, app: ASGIApp, log: list[PollRequest]) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        agent = dict(scope["headers"]).get(b"user-agent", b"").decode()
        start = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.log.append(PollRequest(agent, start, time.monotonic()))


@dataclass
class ChaosSink(RecordingSink):
    """A RecordingSink that also keeps when each accepted delivery arrived, by its id."""

    log: list[Received] = field(default_factory=list)

    async def _handle(self, request: Request) -> Response:
        before = len(self.received)
        response = await super()._handle(request)
        if len(self.received) > before:  # appended just now: nothing ran in between
            got = self.received[-1]
            self.log.append(Received(got.headers.get("webhook-id", ""), time.monotonic(), got.json()))
        return response


def write_rules(path: Path, platform_url: str, sink_url: str, poll_every: str = "100ms") -> Path:
    path.write_text(f"""
sources:
  {PUSHED}: {{kind: recoup}}
  {POLLED}:
    {{kind: recoup, base_url: "{platform_url}", api_key: "{API_KEY}", poll_every: {poll_every}, limit: 100}}
channels:
  sink: {{kind: webhook, url: "{sink_url}/deliveries"}}
rules:
  - {{name: {DONE}, match: {{phase: terminal}}, notify: [sink]}}
  - name: {DIGEST}
    match: {{phase: problem}}
    notify: [sink]
    digest: {{cron: "{DIGEST_CRON}", send_empty: true}}
delivery:
  schedule: [200ms, 500ms, 1s, 2s, 5s, 10s, 20s]
  quick_tries: 2
  quick_wait: 10ms
  timeout: 2s
""")
    return path
