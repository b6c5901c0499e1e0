"""A fake Recoup API: a real HTTP server on 127.0.0.1 speaking the documented shapes.

    async with FakeRecoupApi(api_key="placeholder-recoup-key-test") as fake:
        fake.put_run("run_1", status="EXECUTING", tags=["account:acc-1"])
        ...  # point a client at fake.base_url (".../api")
        fake.set_status("run_1", "COMPLETED", output={"videoSourceUrl": "https://..."})

GET /api/tasks/runs behaves as Recoup's handler does (docs/platforms.md 3.2-3.4):
- list (no runId): legacy status names, no output/error/payload, newest first by createdAt,
  at most `limit` (1..100, default 20), `account_id` keeps runs tagged `account:<id>`. Only
  runs that have started are listed: the task tags itself when it starts, so a run that was
  queued, delayed or canceled before starting never appears.
- by id (?runId=): one run with output and error, in the new vocabulary (REATTEMPTING ->
  EXECUTING, FROZEN -> WAITING, INTERRUPTED -> FAILED, WAITING_FOR_DEPLOY -> PENDING_VERSION);
  404 {"status": "error", "error": "Task run not found"}.
- auth: exactly one of x-api-key or Authorization (Bearer) carrying the key, else 401, as
  Recoup's validateAuthContext does (both at once is a 401 even with the right key).

Requests and faults as in tests.fakes.platform (kinds: list, by_id, tasks; a fault for "any"
leaves GET /api/tasks alone).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.platform import UNSET, FakePlatform, RecordedRequest, Run
from tests.fakes.trigger_api import iso  # Recoup's runs are Trigger.dev runs, dated the same way

When = Literal["any", "list", "by_id", "tasks"]

TO_NEW_VOCABULARY = {
    "REATTEMPTING": "EXECUTING",
    "FROZEN": "WAITING",
    "INTERRUPTED": "FAILED",
    "WAITING_FOR_DEPLOY": "PENDING_VERSION",
}
NOT_STARTED = frozenset({"QUEUED", "DELAYED", "PENDING_VERSION", "WAITING_FOR_DEPLOY"})
TERMINAL = frozenset(
    {"COMPLETED", "FAILED", "INTERRUPTED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"}
)


@dataclass
class RecoupRun(Run):
    """Its status is stored in the legacy vocabulary, as the list shows it."""

    def to_json(self, *, by_id: bool) -> dict[str, Any]:
        item = self._common()
        if not by_id:
            return item
        item["status"] = TO_NEW_VOCABULARY.get(self.status, self.status)
        item.update(payload={"accountId": "acc"}, attemptCount=1, schedule=None, relatedRuns={})
        if self.output is not None:
            item["output"] = self.output
        if self.error is not None:
            item["error"] = self.error
        return item

    def _common(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "taskIdentifier": self.task,
            "status": self.status,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "idempotencyKey": None,
            "version": "20260101.1",
            "isTest": self.is_test,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at),
            "delayedUntil": None,
            "ttl": None,
            "expiredAt": None,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "costInCents": 1.5,
            "baseCostInCents": 0.5,
            "durationMs": self.duration_ms(),
            "depth": 0,
            "batchId": None,
            "env": {"id": "env_1", "name": "production", "user": None},
            **self._helpers(),
        }

    def _helpers(self) -> dict[str, bool]:
        """The SDK's boolean helpers, present on list items too."""
        done = self.status in TERMINAL
        return {
            "isQueued": self.status in NOT_STARTED,
            "isExecuting": self.started_at is not None and not done,
            "isCompleted": done,
            "isSuccess": self.status == "COMPLETED",
            "isFailed": done and self.status not in ("COMPLETED", "CANCELED"),
            "isCancelled": self.status == "CANCELED",
        }


class FakeRecoupApi(FakePlatform[When, RecoupRun]):
    name = "Recoup API"
    any_skips = frozenset({"tasks"})

    def __init__(
        self,
        api_key: str = "placeholder-recoup-key-test_0123456789",
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        routes = [
            Route("/api/tasks/runs", self._endpoint, methods=["GET"]),
            Route("/api/tasks", self._tasks_endpoint, methods=["GET"]),
        ]
        super().__init__(routes, now=now)
        self.api_key = api_key
        self.tasks: dict[str, dict[str, Any]] = {}  # GET /api/tasks, by task id

    @property
    def base_url(self) -> str:
        """What a source's `base_url` is set to: the API root, e.g. http://127.0.0.1:PORT/api."""
        return f"{super().base_url}/api"

    # -- driving runs ------------------------------------------------------------------------

    def put_run(
        self,
        run_id: str,
        *,
        task: str = "create-content",
        status: str = "EXECUTING",
        tags: list[str] | tuple[str, ...] = (),
        metadata: dict[str, Any] | None = None,
        output: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        finished_at: datetime | None = None,
        is_test: bool = False,
    ) -> RecoupRun:
        """Add (or replace) a run. Timestamps follow from the status unless given."""
        now = self._tick()
        created = created_at or now
        started = None if status in NOT_STARTED else created
        finished = (finished_at or now) if status in TERMINAL else None
        run = RecoupRun(
            id=run_id,
            task=task,
            status=status,
            created_at=created,
            updated_at=finished or max(created, now),
            started_at=started,
            finished_at=finished,
            tags=list(tags),
            metadata=dict(metadata or {}),
            output=output,
            error=error,
            is_test=is_test,
        )
        return self.keep(run)

    def set_status(
        self,
        run_id: str,
        status: str,
        *,
        output: dict[str, Any] | None = UNSET,
        error: dict[str, Any] | None = UNSET,
        metadata: dict[str, Any] | None = None,
    ) -> RecoupRun:
        """Move a run on; bumps updatedAt (and sets startedAt/finishedAt when they apply)."""
        run = self.runs[run_id]
        run.move(status, self._tick(), started=status not in NOT_STARTED, finished=status in TERMINAL)
        if output is not UNSET:
            run.output = output
        if error is not UNSET:
            run.error = error
        if metadata is not None:
            run.metadata = dict(metadata)
        return run

    # -- faults ----------------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 500, *, body: str | None = None, when: When = "any"
    ) -> None:
        text = body if body is not None else json.dumps({"status": "error", "error": "Internal"})
        for _ in range(n):
            self.respond_next(status, text, when=when)

    def rate_limit_next(self, retry_after: float | str | None = 1, *, when: When = "any") -> None:
        headers = {} if retry_after is None else {"retry-after": str(retry_after)}
        self.respond_next(
            429, json.dumps({"status": "error", "error": "Too many requests"}), when=when, headers=headers
        )

    # -- reading what happened ---------------------------------------------------------------

    def list_requests(self) -> list[RecordedRequest]:
        return self.of_kind("list")

    def by_id_requests(self, run_id: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.of_kind("by_id") if run_id is None or r.query["runId"] == run_id]

    # -- the endpoints -------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        kind: When = "by_id" if "runId" in request.query_params else "list"
        early = await self._begin(request, kind) or self._check_auth(request)
        if early is not None:
            return early
        if kind == "by_id":
            return self._get_one(request.query_params["runId"])
        return self._list(request)

    def put_task(
        self,
        task_id: str,
        *,
        title: str,
        schedule: str,
        enabled: bool | None = True,
        timezone: str | None = None,
        run_ids: tuple[str, ...] = (),
        owner_email: str | None = None,
    ) -> None:
        """A scheduled task as GET /api/tasks lists it; its recent_runs are the last 5 of run_ids."""
        self.tasks[task_id] = {
            "id": task_id,
            "title": title,
            "prompt": "make a video",
            "schedule": schedule,
            "account_id": "acc-1",
            "artist_account_id": "artist-1",
            "enabled": enabled,
            "trigger_schedule_id": f"sched_{task_id}",
            "timezone": timezone,
            "owner_email": owner_email,
            "model": None,
            "run_ids": run_ids,
        }

    async def _tasks_endpoint(self, request: Request) -> Response:
        denied = await self._begin(request, "tasks") or self._check_auth(request)
        if denied is not None:
            return denied
        tasks = []
        for task in self.tasks.values():
            runs = sorted(
                (self.runs[i] for i in task["run_ids"] if i in self.runs),
                key=lambda r: r.created_at,
                reverse=True,
            )[:5]
            shown = {k: v for k, v in task.items() if k != "run_ids"}
            tasks.append(shown | {"recent_runs": [r.to_json(by_id=False) for r in runs], "upcoming": []})
        return Response(json.dumps({"status": "success", "tasks": tasks}), 200, media_type="application/json")

    def _check_auth(self, request: Request) -> Response | None:
        key, bearer = request.headers.get("x-api-key"), request.headers.get("authorization")
        if key is not None and bearer is not None:
            return _error(401, "Exactly one of x-api-key or Authorization must be provided")
        if key is None and bearer is None:
            return _error(401, "Missing API key")
        credential = key if key is not None else (bearer or "").removeprefix("Bearer ")
        if credential != self.api_key:
            return _error(401, "Invalid API key")
        return None

    def _get_one(self, run_id: str) -> Response:
        run = self.runs.get(run_id)
        if run is None:
            return _error(404, "Task run not found")
        return JSONResponse({"status": "success", "runs": [run.to_json(by_id=True)]})

    def _list(self, request: Request) -> Response:
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _error(400, "limit must be an integer between 1 and 100")
        account = request.query_params.get("account_id")
        runs = [
            r
            for r in self.runs.values()
            if not r.hidden
            and r.started_at is not None
            and (account is None or f"account:{account}" in r.tags)
        ]
        # only the shown runs are serialised: a bench window holds 10,000
        newest = heapq.nlargest(limit, runs, key=lambda r: (r.created_at, r.seq))
        items = [*self.raw_items, *(r.to_json(by_id=False) for r in newest)][:limit]
        return JSONResponse({"status": "success", "runs": items})


def _error(status: int, message: str) -> Response:
    return JSONResponse({"status": "error", "error": message}, status_code=status)
