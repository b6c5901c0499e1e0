"""What every fake platform API shares: a real HTTP server on 127.0.0.1 (tests.fakes.servers)
started and stopped with the fake, its runs, a log of every request, and a queue of faults.

    @dataclass
    class ThingRun(Run):  # only the platform's own fields and its JSON shape
        def to_json(self) -> dict[str, Any]: ...

    class FakeThing(FakePlatform[Literal["any", "list", "by_id"], ThingRun]):
        name = "Thing"
        ...  # super().__init__([Route(...), ...]); endpoints start with `await self._begin(...)`

Runs share one model (`Run`): each fake's `put_run` fills in what its platform would and
hands the run to `keep`, which a test may also call with a run it built itself.

Every request is recorded (`requests`, `of_kind`) before anything else happens. Faults
(`respond_next`, `delay_next`, and each fake's own `fail_next`, `rate_limit_next`) apply to
one request each, optionally only to one kind of request, in the order queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, Self, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from tests.fakes.servers import serve

UNSET: Any = object()


@dataclass
class Run:
    """The run every platform has, built the same way for each; a fake's subclass adds only
    the platform's own fields and its serialisation to the platform's JSON shape."""

    id: str
    task: str
    status: str  # in the vocabulary the fake stores
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    is_test: bool = False
    hidden: bool = False  # out of the lists (still found by id)
    seq: int = 0  # creation order: breaks ties between runs created at the same instant

    def move(self, status: str, now: datetime, *, started: bool, finished: bool) -> None:
        """The new status at `now`; startedAt and finishedAt are set the first time they apply."""
        self.status, self.updated_at = status, now
        if started and self.started_at is None:
            self.started_at = now
        if finished and self.finished_at is None:
            self.finished_at = now

    def duration_ms(self) -> int:
        if self.started_at is None:
            return 0
        end = self.finished_at or self.updated_at
        return int((end - self.started_at).total_seconds() * 1000)


W = TypeVar("W", bound=str)  # the fake's kinds of request, "any" among them
R = TypeVar("R", bound=Run)  # the fake's runs


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    kind: str


@dataclass
class Fault:
    when: str
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    delay: float = 0.0  # answer late, then as normal (unless it responds)
    respond: bool = True


class FakePlatform(Generic[W, R]):
    name = "platform"
    any_skips: frozenset[str] = frozenset()  # kinds of request a fault for "any" leaves alone

    def __init__(self, routes: Sequence[BaseRoute], *, now: Callable[[], datetime] | None = None) -> None:
        self.runs: dict[str, R] = {}
        self.raw_items: list[object] = []  # listed first, as they are (e.g. malformed items)
        self.requests: list[RecordedRequest] = []
        self.app = Starlette(routes=routes)
        self._faults: list[Fault] = []
        self._now = now or (lambda: datetime.now(UTC))
        self._last = datetime.min.replace(tzinfo=UTC)
        self._url: str | None = None
        self._stack = contextlib.AsyncExitStack()
        self._closing = asyncio.Event()
        self._seq = itertools.count(1)
        self.in_flight = 0
        self.peak_in_flight = 0  # most requests being answered at once: shows a client's overlap

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._url is None:
            raise RuntimeError(f"the fake {self.name} is not started")
        return self._url

    async def start(self) -> str:
        self._closing.clear()
        self._url = await self._stack.enter_async_context(serve(self._counted))
        return self.base_url

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def stop(self) -> None:
        self._closing.set()  # cut short any delayed answer so shutdown is quick
        await self._stack.aclose()
        self._url = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # -- runs ------------------------------------------------------------------------------

    def keep(self, run: R) -> R:
        """Add (or replace) a run built by hand or by the fake's `put_run`, in creation order."""
        run.seq = next(self._seq)
        self.runs[run.id] = run
        return run

    def forget(self, run_id: str) -> None:
        """Gone everywhere: lists omit it and by-id answers 404."""
        del self.runs[run_id]

    def hide_from_list(self, run_id: str) -> None:
        """The run drops out of every list (newer runs paged it away, or it aged out)."""
        self.runs[run_id].hidden = True

    def add_raw_item(self, item: object) -> None:
        """An item listed exactly as given (first), e.g. a run object missing its status."""
        self.raw_items.append(item)

    # -- faults and what happened ----------------------------------------------------------

    def respond_next(
        self,
        status: int,
        body: str | bytes,
        *,
        when: W | Literal["any"] = "any",
        headers: dict[str, str] | None = None,
        media_type: str = "application/json",
    ) -> None:
        """Any answer at all, e.g. `respond_next(200, "<html>")` for a body that is not JSON."""
        raw = body.encode() if isinstance(body, str) else body
        self._faults.append(Fault(when, status, raw, dict(headers or {}), media_type))

    def delay_next(self, seconds: float, *, when: W | Literal["any"] = "any") -> None:
        """Answer the next request late (then normally): for client timeouts."""
        self._faults.append(Fault(when, delay=seconds, respond=False))

    def of_kind(self, kind: W) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == kind]

    async def _begin(self, request: Request, kind: W) -> Response | None:
        """Record the request and play the next fault for its kind: its answer, or None to go on."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(
            RecordedRequest(request.method, request.url.path, dict(request.query_params), headers, kind)
        )
        fault = self._take_fault(kind)
        if fault is None:
            return None
        if fault.delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
        return Response(fault.body, fault.status, fault.headers, fault.media_type) if fault.respond else None

    def _take_fault(self, kind: str) -> Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.when == kind or (fault.when == "any" and kind not in self.any_skips):
                return self._faults.pop(index)
        return None

    def _tick(self) -> datetime:
        """Now, but strictly later than the last change: every change bumps updated times."""
        self._last = max(self._now(), self._last + timedelta(milliseconds=1))
        return self._last
