"""RunWisp's REST API and run stream, over TCP or its Unix socket (docs/platforms.md 4.1).

Bearer token when `api_key` is set (no header at all otherwise); errors carry RunWisp's
problem+json `title` and `detail`, and its stream cap (a 503 with Retry-After) is a rate
limit. Per-run paths differ by version (`/api/tasks/{task}/runs/{id}` in the seed's era,
`/api/runs/{id}` later): the first is tried, then the second on a 404, and the one that
answers is remembered; the stream likewise (`/api/events/stream`, then `/api/runs/stream`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from urllib.parse import quote

import httpx2

from relay.clock import Clock
from relay.config import SourceConfig
from relay.errors import SourceError
from relay.models import JSON
from relay.sources.http import ApiClient, what
from relay.sources.parsing import type_name, whole_number
from relay.sources.taskrunner.options import TaskRunnerOptions

STREAM_READ_TIMEOUT = 90.0  # RunWisp pings every 30 s: three missed pings mean a dead stream
EVENTS_STREAM = "/api/events/stream"  # newer: ids and Last-Event-ID replay
RUNS_STREAM = "/api/runs/stream"  # the seed's era
PER_TASK, PER_RUN = "per-task", "per-run"  # /api/tasks/{task}/runs/{id} | /api/runs/{id}


class TaskRunnerClient(ApiClient):
    """With `socket`, the client owns an HTTP client on that socket, opened on first use and
    closed by `aclose`."""

    busy_means_wait = True

    def __init__(
        self,
        http: httpx2.AsyncClient | None = None,
        *,
        base_url: str,
        api_key: str = "",
        socket: str | None = None,
        timeout: float = 15.0,
        stream_read_timeout: float = STREAM_READ_TIMEOUT,
        clock: Clock | None = None,
    ) -> None:
        shared = http if socket is None else None
        super().__init__(shared, base_url=base_url, api_key=api_key, timeout=timeout, clock=clock)
        self._socket = socket
        self._owned: httpx2.AsyncClient | None = None
        self._stream_timeout = stream_read_timeout
        self._style: str | None = None  # per-run paths that answered: PER_TASK | PER_RUN
        self._stream_path: str | None = None

    @classmethod
    def for_source(
        cls, config: SourceConfig, http: httpx2.AsyncClient, options: TaskRunnerOptions | None = None
    ) -> TaskRunnerClient:
        options = options or TaskRunnerOptions.of(config)
        return cls(http, base_url=config.base_url, api_key=config.api_key, socket=options.socket)

    async def aclose(self) -> None:
        if self._owned is not None:
            owned, self._owned = self._owned, None
            await owned.aclose()

    @property
    def stream_path(self) -> str | None:
        """The stream path that answered last, once one did."""
        return self._stream_path

    # -- endpoints -----------------------------------------------------------------------

    async def list_runs(
        self, task: str | None, *, limit: int, offset: int = 0
    ) -> tuple[list[object], int | None]:
        """(raw items newest first, `total`). `task` None: every task's runs."""
        path = f"/api/tasks/{quote(task, safe='')}/runs" if task else "/api/runs"
        params = {
            "limit": str(limit),
            "offset": str(offset),
            "sort_field": "created_at",
            "sort_direction": "desc",
        }
        response = await self.send(path, params)
        body = self.json(response)
        runs = self.listed(response, body, "runs", null_is_empty=True)
        total = whole_number(body.get("total")) if isinstance(body, dict) else None
        return runs, total

    async def get_run(self, task: str, run_id: str) -> JSON | None:
        """One run; None when neither per-run path knows it (HTTP 404)."""
        response = await self._per_run(task, run_id, "", {})
        if response is None:
            return None
        body = self.json(response)
        if not isinstance(body, dict):
            raise SourceError(f"{what(response)}: the body is {type_name(body)}, not a run")
        return body

    async def log_lines(self, task: str, run_id: str, count: int) -> list[str]:
        """The last `count` lines of a run's log (`from=-count`), as text."""
        response = await self._per_run(task, run_id, "/log", {"from": str(-count), "limit": str(count)})
        if response is None:
            raise SourceError(f"log of run {run_id}: not found (HTTP 404)")
        lines = self.listed(response, self.json(response), "lines", null_is_empty=True)
        texts = [line.get("text") if isinstance(line, dict) else line for line in lines]
        return [t for t in texts if isinstance(t, str)][-count:]

    @contextlib.asynccontextmanager
    async def stream(self, last_event_id: str | None) -> AsyncIterator[AsyncIterable[str]]:
        """The run stream's lines. Tries /api/events/stream, then /api/runs/stream on a 404,
        until one answers; sends Last-Event-ID when given."""
        paths = (self._stream_path,) if self._stream_path else (EVENTS_STREAM, RUNS_STREAM)
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if last_event_id:
            headers["last-event-id"] = last_event_id
        timeout = httpx2.Timeout(self._timeout, read=self._stream_timeout)
        for index, path in enumerate(paths):
            response = await self.send(path, headers=headers, timeout=timeout, stream=True)
            try:
                if response.status_code in (404, 405) and index + 1 < len(paths):
                    continue
                await self._check_stream(response, path)
                self._stream_path = path
                async with contextlib.aclosing(_lines(response, f"GET {path}")) as lines:
                    yield lines
                return
            finally:
                await response.aclose()

    async def _check_stream(self, response: httpx2.Response, path: str) -> None:
        if not 200 <= response.status_code < 300:
            await response.aread()
            self.check(response)
        kind = response.headers.get("content-type", "")
        if not kind.startswith("text/event-stream"):
            await response.aread()
            raise SourceError(
                f"GET {path}: not an event stream ({kind or 'no content type'}): {self.excerpt(response)}"
            )

    # -- plumbing ------------------------------------------------------------------------

    async def _per_run(
        self, task: str, run_id: str, suffix: str, params: dict[str, str]
    ) -> httpx2.Response | None:
        run_q, task_q = quote(run_id, safe=""), quote(task, safe="")
        paths = {PER_TASK: f"/api/tasks/{task_q}/runs/{run_q}", PER_RUN: f"/api/runs/{run_q}"}
        for style in (self._style,) if self._style else (PER_TASK, PER_RUN):
            response = await self.send(paths[style] + suffix, params)
            if response.status_code in (404, 405):
                continue
            self.check(response)
            self._style = style
            return response
        return None

    def client(self) -> httpx2.AsyncClient:
        if self._http is not None:
            return self._http
        if self._owned is None:
            transport = httpx2.AsyncHTTPTransport(uds=self._socket) if self._socket else None
            self._owned = httpx2.AsyncClient(
                transport=transport,
                timeout=self._timeout,
                trust_env=False,
                headers={"user-agent": "run-relay"},
            )
        return self._owned

    def where(self, url: str) -> str:
        return f"{url} (socket {self._socket})" if self._socket else url


async def _lines(response: httpx2.Response, request: str) -> AsyncGenerator[str, None]:
    try:
        async for line in response.aiter_lines():
            yield line
    except httpx2.HTTPError as exc:
        raise SourceError(
            f"{request}: stream dropped: {type(exc).__name__}: {str(exc) or 'no detail'}"
        ) from exc
