"""A fake RunWisp: a real HTTP server (loopback TCP, or a Unix socket) speaking its shapes.

    async with FakeRunWisp(token="jwt-for-tests") as fake:
        run = fake.put_run(task="backup", status="running")
        fake.set_status(run.id, "ended", end_reason="failed", exit_code=2)
        ...  # point a client at fake.base_url ("http://127.0.0.1:PORT")

Two eras (docs/platforms.md 1.1-1.2):
- "v0.5" (the seed page): runs carry `replica_index`; per-run routes are
  /api/tasks/{task}/runs/{id}[/log]; the stream is /api/runs/stream, events without ids.
- "newest": `instance_index`; per-run routes /api/runs/{id}[/log]; the stream is
  /api/events/stream, every run event has a monotonic id and a reconnect with Last-Event-ID
  replays the events after it.
A route of the other era answers chi's plain-text 404, as an unregistered path would.

Lists: GET /api/runs and /api/tasks/{task}/runs (404 problem for an unknown task) with
limit (1..1000), offset, sort_field=created_at, sort_direction; `{"runs": [...] | null,
"total"}`. Errors are `application/problem+json` (Huma's ErrorModel). Auth: with a token,
`Authorization: Bearer <token>` or a 401 problem; requests over the Unix socket need none.

Requests and faults as in tests.fakes.platform (kinds: list, run, log, stream). The stream:
every mutation publishes its run event unless `publish=False` (the stream "missed" it);
`drop_streams()` ends every open stream; `refuse_streams` makes new stream connections
answer 503 with Retry-After; `restart()` starts the event ids over, with no history, as a
restarted RunWisp does. A reconnect's replay comes first, right after a ping, then live events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.fakes.platform import UNSET, FakePlatform, Run
from tests.fakes.servers import _Server, _until_started

Era = Literal["v0.5", "newest"]
When = Literal["any", "list", "run", "log", "stream"]
PROBLEM = "application/problem+json"


def iso(value: datetime | None) -> str | None:
    """Go's RFC 3339 with nanoseconds, as RunWisp's JSON carries times."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}123Z"


def problem(
    status: int, title: str, detail: str = "", errors: list[dict[str, Any]] | None = None
) -> Response:
    body: dict[str, Any] = {
        "$schema": "http://localhost:9477/schemas/ErrorModel.json",
        "title": title,
        "status": status,
        "type": "about:blank",
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return Response(json.dumps(body), status, media_type=PROBLEM)


@dataclass
class RunWispRun(Run):
    """Its status is pending, running or ended; how it ended is `end_reason`."""

    end_reason: str | None = None
    exit_code: int = 0
    triggered_by: str = "cron"
    instance: int = 0
    retry_attempt: int = 0
    retry_of: str | None = None

    def to_json(self, index_field: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "$schema": "http://localhost:9477/schemas/Run.json",
            "id": self.id,
            "task_name": self.task,
            "status": self.status,
            "exit_code": self.exit_code,
            "triggered_by": self.triggered_by,
            "created_at": iso(self.created_at),
            "retry_attempt": self.retry_attempt,
            index_field: self.instance,
        }
        optional = {
            "end_reason": self.end_reason,
            "start_at": iso(self.started_at),
            "end_at": iso(self.finished_at),
            "retry_of_run_id": self.retry_of,
        }
        item.update({k: v for k, v in optional.items() if v is not None})  # Go's omitempty
        return item


@dataclass(frozen=True)
class _Event:
    id: int
    event: str
    data: str

    def encode(self, *, with_id: bool) -> str:
        head = f"id: {self.id}\n" if with_id else ""
        return f"{head}event: {self.event}\ndata: {self.data}\n\n"


class FakeRunWisp(FakePlatform[When, RunWispRun]):
    name = "RunWisp"

    def __init__(self, *, token: str = "", era: Era = "v0.5", index_field: str | None = None) -> None:
        routes = [
            Route("/api/runs", self._list_all, methods=["GET"]),
            Route("/api/runs/stream", self._stream, methods=["GET"]),
            Route("/api/events/stream", self._stream, methods=["GET"]),
            Route("/api/runs/{run_id}", self._run_flat, methods=["GET"]),
            Route("/api/runs/{run_id}/log", self._log_flat, methods=["GET"]),
            Route("/api/tasks/{task}/runs", self._list_task, methods=["GET"]),
            Route("/api/tasks/{task}/runs/{run_id}", self._run_per_task, methods=["GET"]),
            Route("/api/tasks/{task}/runs/{run_id}/log", self._log_per_task, methods=["GET"]),
        ]
        super().__init__(routes)
        self.token, self.era = token, era
        self.index_field = index_field or ("replica_index" if era == "v0.5" else "instance_index")
        self.logs: dict[str, list[str]] = {}
        self.tasks: set[str] = set()
        self.events: list[_Event] = []
        self.replayed = 0  # events sent again because of a Last-Event-ID
        self.refuse_streams = False
        self._subscribers: set[asyncio.Queue[_Event | None]] = set()
        self._ids = itertools.count(1)
        self._event_ids = itertools.count(1)
        self._socket: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start_unix(self, path: str) -> str:
        """Serve on a Unix socket instead (no auth needed there, as RunWisp's socket)."""
        self._closing.clear()
        self._socket = await self._stack.enter_async_context(serve_unix(self.app, path))
        self._url = "http://runwisp"
        return self._socket

    async def stop(self) -> None:
        self.drop_streams()  # an open stream would hold uvicorn's graceful shutdown
        await super().stop()
        self._socket = None

    # -- driving runs ------------------------------------------------------------------------

    def new_id(self) -> str:
        return f"01JRUN{next(self._ids):020d}"  # 26 characters, like RunWisp's ULIDs

    def put_run(
        self,
        run_id: str | None = None,
        *,
        task: str = "backup",
        status: str = "pending",
        end_reason: str | None = None,
        exit_code: int = 0,
        instance: int = 0,
        retry_attempt: int = 0,
        retry_of: str | None = None,
        triggered_by: str = "cron",
        created_at: datetime | None = None,
        publish: bool = True,
        error: str | None = None,
    ) -> RunWispRun:
        now = self._tick()
        created = created_at or now
        run = RunWispRun(
            id=run_id or self.new_id(),
            task=task,
            status=status,
            created_at=created,
            updated_at=max(created, now),
            end_reason=end_reason,
            exit_code=exit_code,
            triggered_by=triggered_by,
            instance=instance,
            retry_attempt=retry_attempt,
            retry_of=retry_of,
        )
        if status != "pending":
            run.started_at = created
        if status == "ended":
            run.finished_at = run.updated_at
        self.keep(run)
        self.tasks.add(task)
        if publish:
            self.publish(run, error=error)
        return run

    def set_status(
        self,
        run_id: str,
        status: str,
        *,
        end_reason: str | None = UNSET,
        exit_code: int | None = None,
        publish: bool = True,
        error: str | None = None,
    ) -> RunWispRun:
        run = self.runs[run_id]
        run.move(status, self._tick(), started=status != "pending", finished=status == "ended")
        if end_reason is not UNSET:
            run.end_reason = end_reason
        if exit_code is not None:
            run.exit_code = exit_code
        if publish:
            self.publish(run, error=error)
        return run

    def set_log(self, run_id: str, lines: list[str]) -> None:
        self.logs[run_id] = list(lines)

    # -- the stream ----------------------------------------------------------------------------

    def publish(self, run: RunWispRun, *, kind: str | None = None, error: str | None = None) -> None:
        """The event RunWisp's bus would send for the run as it is now."""
        if kind is None:
            if run.status == "pending":
                kind = "run.created"
            elif run.status == "running":
                kind = "run.started"
            else:
                kind = "run.completed" if run.end_reason == "success" else "run.failed"
        data: dict[str, Any] = {"run": run.to_json(self.index_field)}
        if error:
            data["error"] = error
        self.emit(kind, json.dumps(data))

    def emit(self, event: str, data: str) -> None:
        """Any event at all (e.g. a malformed one), kept for replay like the others."""
        item = _Event(next(self._event_ids), event, data)
        self.events.append(item)
        for queue in self._subscribers:
            queue.put_nowait(item)

    def restart(self) -> None:
        """RunWisp restarted: its event ids are an in-memory counter, so they start over at 1
        and nothing from before the restart can be replayed; open streams end."""
        self.drop_streams()
        self.events.clear()
        self._event_ids = itertools.count(1)

    def drop_streams(self) -> None:
        """Every open stream ends now (the client sees the connection close)."""
        for queue in self._subscribers:
            queue.put_nowait(None)

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    # -- faults ----------------------------------------------------------------------------------

    def fail_next(
        self, status: int = 500, *, title: str = "Internal Server Error", detail: str = "", when: When = "any"
    ) -> None:
        body = {
            "title": title,
            "status": status,
            "type": "about:blank",
            **({"detail": detail} if detail else {}),
        }
        self.respond_next(status, json.dumps(body), when=when, media_type=PROBLEM)

    def rate_limit_next(self, retry_after: float | str | None = 1, *, when: When = "any") -> None:
        headers = {} if retry_after is None else {"retry-after": str(retry_after)}
        body = json.dumps({"title": "Too Many Requests", "status": 429, "detail": "slow down"})
        self.respond_next(429, body, when=when, headers=headers, media_type=PROBLEM)

    # -- endpoints -----------------------------------------------------------------------------

    async def _list_all(self, request: Request) -> Response:
        return await self._guarded(request, "list", lambda: self._list(request, None))

    async def _list_task(self, request: Request) -> Response:
        task = request.path_params["task"]
        return await self._guarded(request, "list", lambda: self._list(request, task))

    async def _run_flat(self, request: Request) -> Response:
        return await self._guarded(request, "run", lambda: self._one(request, "newest"))

    async def _run_per_task(self, request: Request) -> Response:
        return await self._guarded(request, "run", lambda: self._one(request, "v0.5"))

    async def _log_flat(self, request: Request) -> Response:
        return await self._guarded(request, "log", lambda: self._log(request, "newest"))

    async def _log_per_task(self, request: Request) -> Response:
        return await self._guarded(request, "log", lambda: self._log(request, "v0.5"))

    async def _stream(self, request: Request) -> Response:
        return await self._guarded(request, "stream", lambda: self._open_stream(request))

    async def _guarded(self, request: Request, kind: When, answer: Callable[[], Response]) -> Response:
        return await self._begin(request, kind) or self._check_auth(request) or answer()

    def _check_auth(self, request: Request) -> Response | None:
        if not self.token or self._socket is not None:
            return None
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return problem(401, "Unauthorized", "authentication required")
        return None

    def _list(self, request: Request, task: str | None) -> Response:
        if task is not None and task not in self.tasks:
            return problem(404, "Not Found", f"task {task!r} not found")
        query = request.query_params
        try:
            limit, offset = int(query.get("limit", "50")), int(query.get("offset", "0"))
        except ValueError:
            return problem(422, "Unprocessable Entity", "validation failed")
        if not 1 <= limit <= 1000 or offset < 0:
            location = "query.limit" if not 1 <= limit <= 1000 else "query.offset"
            errors = [{"location": location, "message": "expected number in range", "value": limit}]
            return problem(422, "Unprocessable Entity", "validation failed", errors)
        runs = [r for r in self.runs.values() if not r.hidden and (task is None or r.task == task)]
        runs.sort(key=lambda r: (r.created_at, r.seq), reverse=query.get("sort_direction") != "asc")
        items = [*self.raw_items, *(r.to_json(self.index_field) for r in runs)]
        page = items[offset : offset + limit]
        return JSONResponse({"runs": page or None, "total": len(items)})  # Go: a nil slice is null

    def _one(self, request: Request, era: Era) -> Response:
        if era != self.era:
            return PlainTextResponse("404 page not found", 404)
        run = self._find(request)
        if run is None:
            return problem(404, "Not Found", "run not found")
        return JSONResponse(run.to_json(self.index_field))

    def _log(self, request: Request, era: Era) -> Response:
        if era != self.era:
            return PlainTextResponse("404 page not found", 404)
        run = self._find(request)
        if run is None:
            return problem(404, "Not Found", "run not found")
        lines = self.logs.get(run.id, [])
        try:
            start, limit = (
                int(request.query_params.get("from", "-1000")),
                int(request.query_params.get("limit", "1000")),
            )
        except ValueError:
            return problem(422, "Unprocessable Entity", "validation failed")
        first = max(0, len(lines) + start) if start < 0 else start
        page = [
            {"n": n, "ts": iso(run.created_at), "stream": "stdout", "text": text}
            for n, text in enumerate(lines)
        ][first : first + limit]
        return JSONResponse(
            {
                "lines": page,
                "firstAvailable": 0,
                "totalLines": len(lines),
                "truncated": False,
                "finalized": run.status == "ended",
            }
        )

    def _find(self, request: Request) -> RunWispRun | None:
        run = self.runs.get(request.path_params["run_id"])
        task = request.path_params.get("task")
        if run is None or (task is not None and run.task != task):
            return None
        return run

    def _open_stream(self, request: Request) -> Response:
        newest = request.url.path == "/api/events/stream"
        if newest != (self.era == "newest"):
            return PlainTextResponse("404 page not found", 404)
        if self.refuse_streams:
            return Response(
                json.dumps({"title": "Service Unavailable", "status": 503, "detail": "too many streams"}),
                503,
                {"retry-after": "0"},
                PROBLEM,
            )
        queue: asyncio.Queue[_Event | None] = asyncio.Queue()
        self._subscribers.add(queue)
        replay: list[_Event] = []
        last = request.headers.get("last-event-id", "")
        if newest and last.isdigit():
            replay = [e for e in self.events if e.id > int(last)]
            self.replayed += len(replay)

        async def body() -> AsyncIterator[str]:
            try:
                yield "event: ping\ndata: {}\n\n"  # no id: outside the event sequence
                for item in replay:
                    yield item.encode(with_id=True)
                while (item_or_end := await queue.get()) is not None:
                    yield item_or_end.encode(with_id=newest)
            finally:
                self._subscribers.discard(queue)

        return StreamingResponse(
            body(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )


@contextlib.asynccontextmanager
async def serve_unix(app: ASGIApp, path: str) -> AsyncIterator[str]:
    """`serve`, on a Unix socket at `path` (tests only)."""
    config = uvicorn.Config(
        app,
        uds=path,
        loop="asyncio",
        lifespan="off",
        log_level="warning",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await _until_started(server, task)
        yield path
    finally:
        server.should_exit = True
        await task
