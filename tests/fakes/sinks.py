"""Receivers for the relay's messages: a recording HTTP sink and a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.servers import serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingSink:
    """Records every accepted POST; `fail_next` queues error statuses to answer first."""

    received: list[Recorded] = field(default_factory=list)
    # cleared: each request is held until it is set again (a receiver slow to answer)
    answering: asyncio.Event = field(default_factory=asyncio.Event)
    failures: list[int] = field(default_factory=list)
    always_fail: int | None = None
    delay: float = 0.0  # seconds before answering: a slow receiver keeps sends in flight
    echo: bool = False  # a refusal quotes the request's URL (and so any token in it), as some do
    arrived: int = 0  # requests received, answered or not yet
    answered: int = 0

    def __post_init__(self) -> None:
        self.answering.set()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        self.arrived += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        await self.answering.wait()
        self.answered += 1
        status = self.always_fail or (self.failures.pop(0) if self.failures else None)
        if status:
            said = f"sink says no to {request.url}" if self.echo else "sink says no"
            return PlainTextResponse(said, status_code=status)
        self.received.append(Recorded(request.url.path, dict(request.headers), body))
        return PlainTextResponse("ok")

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        """Bounded wait until `count` messages arrived (fails the test otherwise)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.received) < count:
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} messages, got {len(self.received)}")
            await asyncio.sleep(0.01)
        return self.received


@asynccontextmanager
async def recording_sink(
    port: int = 0, sink: RecordingSink | None = None
) -> AsyncIterator[tuple[RecordingSink, str]]:
    sink = sink or RecordingSink()
    async with serve(sink.app(), port=port) as url:
        yield sink, url


class _Mailbox:
    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = refuse

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"


@asynccontextmanager
async def smtp_server(refuse: str | None = None) -> AsyncIterator[tuple[list[EmailMessage], int]]:
    """A real SMTP server (aiosmtpd) on loopback; yields (received messages, port). `refuse`:
    its answer to every recipient instead of 250, e.g. "550 mailbox unavailable"."""
    mailbox = _Mailbox(refuse)
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox.messages, port
    finally:
        controller.stop()
