"""A fake Trigger.dev management API: a real HTTP server on 127.0.0.1 speaking the documented
shapes (docs/platforms.md 2.1-2.5, tests/contract/specs/trigger-v3-openapi.yaml).

    async with FakeTriggerApi(api_key="tr_dev_test") as fake:
        fake.put_run("run_1", status="EXECUTING")
        ...  # point a client at fake.base_url (the API root)
        fake.set_status("run_1", "COMPLETED", output={"sent": 3})

Runs are kept in the database's status names (PENDING, COMPLETED_WITH_ERRORS, ...; the API
names QUEUED, FAILED, COMPLETED, WAITING, FROZEN, REATTEMPTING are accepted as aliases) and
shown in the vocabulary the request selects: `x-trigger-api-version: 2025-07-16` the new one,
no header the legacy one (apiStatusFromRunStatusV1/V2).

- GET /api/v1/runs: newest first (createdAt, then id); `filter[createdAt][from|to|period]`
  (without any, the last 7 days), `filter[status]` (either vocabulary),
  `filter[taskIdentifier]`; `page[size]` 1..100 (default 25) and the `page[after]` run-id
  cursor; `{data, pagination: {next?, previous?}}`; no output, error or payload.
- GET /api/v3/runs/{runId}: the run with payload, output (or `outputPresignedUrl` when it
  is offloaded), error (SerializedError), attempts: []; 404 {"error": "Run not found"}.
- GET /packets/{runId}/output.json: the offloaded output, as a presigned URL is: no
  Authorization accepted (S3 answers 400 to a second auth mechanism), 403 once expired.
- Auth: `Authorization: Bearer <api_key>`, else 401 {"error": "Invalid or Missing API key"}.
- Rate limit: every API answer carries x-ratelimit-limit / -remaining / -reset (Unix ms);
  when the budget is spent, 429 application/problem+json with secondsUntilReset until the
  window resets (`set_budget`).

Requests and faults as in tests.fakes.platform (kinds: list, by_id, output; a fault for "any"
leaves output downloads alone). `stuck_cursor` makes every list page name the same `next`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.platform import UNSET, FakePlatform, RecordedRequest, Run

When = Literal["any", "list", "by_id", "output"]
NEW_VERSION = "2025-07-16"

# database status -> (legacy name, new name), apps/webapp/app/api/versions.ts and the
# presenters' apiStatusFromRunStatusV1 / V2
VOCABULARIES: dict[str, tuple[str, str]] = {
    "DELAYED": ("DELAYED", "DELAYED"),
    "PENDING_VERSION": ("PENDING_VERSION", "PENDING_VERSION"),
    "WAITING_FOR_DEPLOY": ("WAITING_FOR_DEPLOY", "PENDING_VERSION"),
    "PENDING": ("QUEUED", "QUEUED"),
    "DEQUEUED": ("EXECUTING", "DEQUEUED"),
    "EXECUTING": ("EXECUTING", "EXECUTING"),
    "RETRYING_AFTER_FAILURE": ("REATTEMPTING", "EXECUTING"),
    "PAUSED": ("FROZEN", "WAITING"),
    "WAITING_TO_RESUME": ("FROZEN", "WAITING"),
    "COMPLETED_SUCCESSFULLY": ("COMPLETED", "COMPLETED"),
    "CANCELED": ("CANCELED", "CANCELED"),
    "COMPLETED_WITH_ERRORS": ("FAILED", "FAILED"),
    "INTERRUPTED": ("INTERRUPTED", "FAILED"),
    "CRASHED": ("CRASHED", "CRASHED"),
    "SYSTEM_FAILURE": ("SYSTEM_FAILURE", "SYSTEM_FAILURE"),
    "EXPIRED": ("EXPIRED", "EXPIRED"),
    "TIMED_OUT": ("TIMED_OUT", "TIMED_OUT"),
}
ALIASES = {
    "QUEUED": "PENDING",
    "COMPLETED": "COMPLETED_SUCCESSFULLY",
    "FAILED": "COMPLETED_WITH_ERRORS",
    "WAITING": "WAITING_TO_RESUME",
    "FROZEN": "PAUSED",
    "REATTEMPTING": "RETRYING_AFTER_FAILURE",
}
NOT_STARTED = frozenset({"DELAYED", "PENDING_VERSION", "WAITING_FOR_DEPLOY", "PENDING", "EXPIRED"})
FINAL = frozenset(
    {
        "COMPLETED_SUCCESSFULLY",
        "CANCELED",
        "COMPLETED_WITH_ERRORS",
        "INTERRUPTED",
        "CRASHED",
        "SYSTEM_FAILURE",
        "EXPIRED",
        "TIMED_OUT",
    }
)


def iso(value: datetime | None) -> str | None:
    """The way Trigger.dev serializes dates: milliseconds and a Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def database_status(status: str) -> str:
    status = ALIASES.get(status, status)
    if status not in VOCABULARIES:
        raise ValueError(f"unknown Trigger.dev status {status!r}")
    return status


@dataclass
class TriggerRun(Run):
    """Its status is stored in the database's name (VOCABULARIES)."""

    offloaded: bool = False  # the output is only behind outputPresignedUrl

    def api_status(self, new: bool) -> str:
        return VOCABULARIES[self.status][1 if new else 0]

    def list_item(self, new: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "status": self.api_status(new),
            "taskIdentifier": self.task,
            "version": "20261125.1",
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "isTest": self.is_test,
            "env": {"id": "env_prod", "name": "prod"},
            "tags": list(self.tags),
            "costInCents": 0.5,
            "baseCostInCents": 0.25,
            "durationMs": self.duration_ms(),
            "depth": 0,
            **self._helpers(),
        }
        for key, value in (("startedAt", self.started_at), ("finishedAt", self.finished_at)):
            if value is not None:  # undefined fields are left out, as the presenter does
                item[key] = iso(value)
        return item

    def retrieved(self, new: bool, output_url: str) -> dict[str, Any]:
        item = self.list_item(new)
        del item["env"]
        item.update(
            payload={"to": "someone@example.com"},
            metadata=dict(self.metadata),
            attemptCount=1,
            relatedRuns={},
            triggerFunction="trigger",
            attempts=[],
        )
        if self.output is not None and self.offloaded:
            item["outputPresignedUrl"] = output_url
        elif self.output is not None:
            item["output"] = self.output
        if self.error is not None:
            item["error"] = self.error
        return item

    def _helpers(self) -> dict[str, bool]:
        """The boolean helpers, with the server's quirk: isCompleted and isFailed leave out
        EXPIRED and TIMED_OUT (apiBooleanHelpersFromRunStatus)."""
        quirk = self.status in ("EXPIRED", "TIMED_OUT")
        done = self.status in FINAL and not quirk
        return {
            "isQueued": self.status in NOT_STARTED - {"EXPIRED"},
            "isExecuting": self.status in ("DEQUEUED", "EXECUTING", "RETRYING_AFTER_FAILURE"),
            "isWaiting": self.status in ("PAUSED", "WAITING_TO_RESUME"),
            "isCompleted": done,
            "isSuccess": self.status == "COMPLETED_SUCCESSFULLY",
            "isFailed": done and self.status not in ("COMPLETED_SUCCESSFULLY", "CANCELED"),
            "isCancelled": self.status == "CANCELED",
        }


@dataclass
class _Budget:
    limit: int = 1500
    remaining: int = 1500
    window: float = 60.0  # seconds until a spent budget is whole again
    reset_at: float = 0.0  # Unix seconds

    def take(self, now: float) -> bool:
        if now >= self.reset_at:
            self.remaining, self.reset_at = self.limit, now + self.window
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(int(self.reset_at * 1000)),
        }


class FakeTriggerApi(FakePlatform[When, TriggerRun]):
    name = "Trigger.dev API"
    any_skips = frozenset({"output"})

    def __init__(
        self,
        api_key: str = "tr_dev_fake_0123456789",
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        routes = [
            Route("/api/v1/runs", self._list, methods=["GET"]),
            Route("/api/v3/runs/{run_id}", self._retrieve, methods=["GET"]),
            Route("/packets/{run_id}/output.json", self._output, methods=["GET"]),
        ]
        super().__init__(routes, now=now)
        self.api_key = api_key
        self.stuck_cursor = False
        self.outputs_expired = False
        self.budget = _Budget()
        self._ids = itertools.count(1)

    # -- driving runs ------------------------------------------------------------------------

    def put_run(
        self,
        run_id: str | None = None,
        *,
        task: str = "send-digest",
        status: str = "EXECUTING",
        created_at: datetime | None = None,
        finished_at: datetime | None = None,
        output: dict[str, Any] | None = None,
        offloaded: bool = False,
        error: dict[str, Any] | None = None,
        tags: list[str] | tuple[str, ...] = (),
        metadata: dict[str, Any] | None = None,
    ) -> TriggerRun:
        """Add (or replace) a run; ids default to run_0001, run_0002, ... (creation order)."""
        now = self._tick()
        status = database_status(status)
        created = created_at or now
        finished = (finished_at or max(created, now)) if status in FINAL else None
        # the engine writes usage and cost a few ms after a run's final status
        updated = finished + timedelta(milliseconds=5) if finished else max(created, now)
        run = TriggerRun(
            id=run_id or f"run_{next(self._ids):04d}",
            task=task,
            status=status,
            created_at=created,
            updated_at=updated,
            started_at=None if status in NOT_STARTED else created,
            finished_at=finished,
            tags=list(tags),
            metadata=dict(metadata or {}),
            output=output,
            offloaded=offloaded,
            error=error,
        )
        return self.keep(run)

    def set_status(
        self,
        run_id: str,
        status: str,
        *,
        output: dict[str, Any] | None = UNSET,
        offloaded: bool | None = None,
        error: dict[str, Any] | None = UNSET,
    ) -> TriggerRun:
        """Move a run on; bumps updatedAt. A run that ends gets finishedAt, and an updatedAt a
        few ms later (the engine writes usage and cost after the status)."""
        run = self.runs[run_id]
        status = database_status(status)
        now, ending = self._tick(), status in FINAL and run.finished_at is None
        run.move(status, now, started=status not in NOT_STARTED, finished=status in FINAL)
        if ending:
            run.updated_at = now + timedelta(milliseconds=5)
        if output is not UNSET:
            run.output = output
        if offloaded is not None:
            run.offloaded = offloaded
        if error is not UNSET:
            run.error = error
        return run

    def set_budget(self, remaining: int, *, limit: int = 1500, reset_in: float = 60.0) -> None:
        """The rate-limit bucket now: `remaining` requests until it resets in `reset_in` s."""
        self.budget = _Budget(limit, remaining, reset_in, time.time() + reset_in)

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 500, *, body: str | None = None, when: When = "any"
    ) -> None:
        text = body if body is not None else json.dumps({"error": "Internal Server Error"})
        for _ in range(n):
            self.respond_next(status, text, when=when)

    def rate_limit_next(
        self,
        reset_in: float | None = 1.0,
        *,
        retry_after: str | None = None,
        seconds_in_body: float | None = None,
        when: When = "any",
    ) -> None:
        """A 429: with x-ratelimit-reset `reset_in` s ahead (None: no such header)."""
        headers = {"x-ratelimit-limit": "1500", "x-ratelimit-remaining": "0"}
        if reset_in is not None:
            headers["x-ratelimit-reset"] = str(int((time.time() + reset_in) * 1000))
        if retry_after is not None:
            headers["retry-after"] = retry_after
        problem: dict[str, Any] = {"title": "Rate Limit Exceeded", "status": 429}
        if seconds_in_body is not None:
            problem["secondsUntilReset"] = seconds_in_body
        self.respond_next(429, json.dumps(problem), when=when, headers=headers)

    # -- reading what happened ---------------------------------------------------------------

    def list_requests(self) -> list[RecordedRequest]:
        return self.of_kind("list")

    def by_id_requests(self, run_id: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.of_kind("by_id") if run_id is None or r.path == f"/api/v3/runs/{run_id}"]

    def output_requests(self) -> list[RecordedRequest]:
        return self.of_kind("output")

    # -- endpoints ---------------------------------------------------------------------------

    async def _list(self, request: Request) -> Response:
        early = await self._guard(request, "list")
        if early is not None:
            return early
        params = request.query_params
        try:
            size = int(params.get("page[size]", "25"))
        except ValueError:
            size = 0
        if not 1 <= size <= 100:
            return self._api(400, {"error": "Query Error", "details": ["page[size]: between 1 and 100"]})
        try:
            runs = self._filtered(request)
        except ValueError as exc:
            return self._api(400, {"error": "Query Error", "details": [str(exc)]})
        after = params.get("page[after]")
        start = 0
        if after:
            ids = [r.id for r in runs]
            start = ids.index(after) + 1 if after in ids else len(ids)
        new = request.headers.get("x-trigger-api-version") == NEW_VERSION
        items: list[object] = [r.list_item(new) for r in runs[start : start + size]]
        if start == 0:
            items = [*self.raw_items, *items]
        pagination: dict[str, str] = {}
        if start + size < len(runs):
            pagination["next"] = runs[start + size - 1].id
        if self.stuck_cursor and runs:
            pagination["next"] = runs[0].id
        if after:
            pagination["previous"] = runs[start].id if start < len(runs) else after
        return self._api(200, {"data": items, "pagination": pagination})

    def _filtered(self, request: Request) -> list[TriggerRun]:
        params = request.query_params
        since, until = params.get("filter[createdAt][from]"), params.get("filter[createdAt][to]")
        period = params.get("filter[createdAt][period]")
        lower = _instant(since) if since else None
        upper = _instant(until) if until else None
        if period:
            lower = self._now() - _period(period)
        if lower is None and upper is None:
            lower = self._now() - timedelta(days=7)  # DEFAULT_PERIOD
        statuses = {s for s in params.get("filter[status]", "").split(",") if s}
        tasks = {t for t in params.get("filter[taskIdentifier]", "").split(",") if t}
        runs = [
            r
            for r in self.runs.values()
            if not r.hidden
            and (lower is None or r.created_at >= lower)
            and (upper is None or r.created_at <= upper)
            and (not statuses or statuses & set(VOCABULARIES[r.status]))
            and (not tasks or r.task in tasks)
        ]
        return sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)

    async def _retrieve(self, request: Request) -> Response:
        early = await self._guard(request, "by_id")
        if early is not None:
            return early
        run = self.runs.get(request.path_params["run_id"])
        if run is None:
            return self._api(404, {"error": "Run not found"})
        new = request.headers.get("x-trigger-api-version") == NEW_VERSION
        url = f"{self.base_url}/packets/{run.id}/output.json?X-Amz-Expires=300&X-Amz-Signature=f00d"
        return self._api(200, run.retrieved(new, url))

    async def _output(self, request: Request) -> Response:
        faulted = await self._begin(request, "output")
        if faulted is not None:
            return faulted
        if "authorization" in request.headers:
            return Response(b"<Error><Code>InvalidArgument</Code></Error>", 400, media_type="application/xml")
        run = self.runs.get(request.path_params["run_id"])
        if self.outputs_expired or run is None or run.output is None:
            return Response(b"<Error><Code>AccessDenied</Code></Error>", 403, media_type="application/xml")
        return Response(json.dumps(run.output).encode(), 200, media_type="application/json")

    async def _guard(self, request: Request, kind: When) -> Response | None:
        """Record, apply a queued fault, authenticate, spend the rate budget."""
        faulted = await self._begin(request, kind)
        if faulted is not None:
            return faulted
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": "Invalid or Missing API key"}, 401)
        if not self.budget.take(time.time()):
            wait = max(0, round(self.budget.reset_at - time.time()))
            problem = {
                "title": "Rate Limit Exceeded",
                "status": 429,
                "detail": f"Rate limit exceeded 0/{self.budget.limit} requests remaining.",
                "secondsUntilReset": wait,
            }
            return self._api(429, problem, "application/problem+json")
        return None

    def _api(self, status: int, body: object, media_type: str = "application/json") -> Response:
        return Response(json.dumps(body).encode(), status, self.budget.headers(), media_type)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _period(text: str) -> timedelta:
    units = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"not a period: {text!r}")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])
